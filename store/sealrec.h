/* SPDX-License-Identifier: MIT */
/*
 * Seal records: the anchor lines of kinds checkpoint and seal (docs/store.md, "Checkpoints and
 * seals"), their text and its parser. The same text goes to syslog and into the active
 * segment's anchor table, and `verify` reads it from both:
 *
 *   connrec-anchor v=1 store=ID kind=checkpoint seg=N ck=K t=NS rows=R w=TBL:W,... chain=HEX
 *   connrec-anchor v=1 store=ID kind=seal seg=N t=NS bytes=B sha256=HEX first=NS last=NS
 *
 * each followed, when the store has a sealing key, by " key=KEYID epoch=E mac=HEX", the MAC
 * being HMAC-SHA256 of epoch E's key over everything before " mac=". A checkpoint of an
 * earlier recorder has "hash=HEX" where this one writes "chain=HEX" (the two hashes of ckpt.h).
 */
#ifndef CONNREC_SEALREC_H
#define CONNREC_SEALREC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "anchor.h"
#include "ckpt.h"
#include "sealkey.h"

enum sealrec_kind {
	SEALREC_CHECKPOINT = 1, /* rows of a segment up to a cut */
	SEALREC_SEAL = 2,	/* a sealed segment's file */
};

struct sealrec {
	enum sealrec_kind kind;
	char store_id[ANCHOR_STORE_ID_LEN + 1];
	uint32_t seg;
	int64_t t_ns; /* when the record was made */
	/* checkpoint */
	int64_t ck;
	uint64_t rows; /* rows in intervals 1..ck */
	struct ckpt_marks marks;
	uint8_t hash[CKPT_HASH_LEN];
	bool chained; /* hash is the chained one ("chain="), not the first version ("hash=") */
	bool narrow;  /* chained, with integers serialised narrow ("chain2=", ckpt.h) */
	/* seal */
	uint64_t bytes;
	uint8_t sha256[32];
	int64_t first_ns, last_ns;
	/* authentication, when keyed */
	bool keyed;
	char key_id[SEALKEY_ID_LEN + 1];
	uint64_t epoch;
	uint8_t mac[SEALKEY_LEN];
	size_t mac_off; /* the MAC covers the line's first mac_off bytes (parsed lines) */
};

/*
 * The line without its MAC: with " key=ID epoch=E" at the end when r->keyed (sealkey_seal()
 * appends the MAC). Returns the length or -ENOSPC.
 */
int sealrec_format(const struct sealrec *r, char *buf, size_t len);

/*
 * Finds "connrec-anchor v=1 " in LINE (anything before it, such as a syslog header, is
 * skipped) and parses a checkpoint or seal line. 0; -ENOENT when LINE is no anchor line or
 * another kind; -EINVAL when it is malformed.
 */
int sealrec_parse(const char *line, struct sealrec *r);

/* Whether R's MAC is right for verification key K0 (R keyed with K0's key id). */
bool sealrec_mac_ok(const struct sealrec *r, const char *line, const uint8_t k0_at_epoch[32]);

#endif /* CONNREC_SEALREC_H */
