/* SPDX-License-Identifier: MIT */
/*
 * Forward-secure sealing keys (docs/store.md, "Sealing key").
 *
 * `connrec keygen` draws a random 32-byte k0 and writes the sealing key file with epoch 0;
 * the verification key it prints once is k0 with its key id. Epoch i's key is
 *
 *     k[i+1] = SHA-256(k[i])
 *
 * and a record sealed in epoch i carries HMAC-SHA256(k[i], its text). The recorder uses each
 * epoch's key for exactly one record, then replaces it in the file by the next one (written
 * to the other of the file's two slots, fsync, the old slot overwritten with zeros, fsync) and
 * forgets it, so whoever takes the host at epoch j holds k[j] and can derive k[j+1]..., but
 * not any earlier key. The verifier derives k[i] from k0 by i hashes.
 *
 * The scheme is symmetric: k0 derives every epoch's key, so the verification key can also
 * forge seals and must stay off the host.
 *
 * The file (0600, two 2048-byte slots): each slot, when in use, holds the text
 *     connrec-sealkey v=1 id=KEYID epoch=E key=HEX\npending=LINE\nsum=HEX16\n
 * padded with NULs, where LINE is the last record sealed (with epoch E-1; "" at epoch 0), kept
 * until the store holds it, and sum the first 8 bytes of SHA-256 of the text before "sum=".
 */
#ifndef CONNREC_SEALKEY_H
#define CONNREC_SEALKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SEALKEY_NAME "connrec.key"
#define SEALKEY_LEN 32
#define SEALKEY_ID_LEN 16     /* hex digits */
/* KEYID-K0: 16 + 1 + 64 characters. */
#define SEALKEY_VERIFY_LEN (SEALKEY_ID_LEN + 1 + 2 * SEALKEY_LEN)
#define SEALKEY_LINE_MAX 1024 /* longest record kept as pending */

struct sealkey;

/*
 * Creates the sealing key file PATH (refusing to replace one unless FORCE) and writes the
 * verification key into VK (SEALKEY_VERIFY_LEN + 1 bytes). 0, -EEXIST, or -errno.
 */
int sealkey_create(const char *path, bool force, char *vk);

/*
 * Opens PATH for sealing: a regular file owned by the caller, not accessible to group or
 * others, with a valid slot. -ENOENT when there is none; otherwise a one-line reason in ERR.
 */
int sealkey_open(const char *path, struct sealkey **out, char *err, size_t errlen);
void sealkey_close(struct sealkey *k);

const char *sealkey_id(const struct sealkey *k);
uint64_t sealkey_epoch(const struct sealkey *k);
/* The last record sealed, not yet known to be stored ("" when none). */
const char *sealkey_pending(const struct sealkey *k);

/*
 * Appends " mac=HEX" to TEXT (which must end with this key's "key=ID epoch=E") with the
 * current epoch's key, then moves the file to the next epoch with LINE as the pending record
 * and erases the current key. Returns 0; -ENOSPC when TEXT has no room; another -errno when
 * the file could not be moved on (the key is then dropped: no further sealing this run).
 */
int sealkey_seal(struct sealkey *k, char *text, size_t len);

/* ---- the verifier's side ---- */

/* Parses "KEYID-K0" (surrounding blanks ignored). -EINVAL, or -EBADMSG when KEYID and K0 differ. */
int sealkey_parse_verify(const char *s, uint8_t k0[SEALKEY_LEN], char id[SEALKEY_ID_LEN + 1]);
/*
 * A verification key as a command line gives it: KEYID-K0, or @FILE whose first line holds it
 * (which keeps it out of the process list), copied into OUT for sealkey_parse_verify(). 0;
 * -ENOENT when FILE cannot be read; -EINVAL or -EBADMSG as sealkey_parse_verify().
 */
int sealkey_verify_arg(const char *arg, char out[SEALKEY_VERIFY_LEN + 64]);
/* The key id of k0. */
void sealkey_id_of(const uint8_t k0[SEALKEY_LEN], char id[SEALKEY_ID_LEN + 1]);
/*
 * The highest epoch a verifier derives a key for. Keys are found by hashing forward from k0,
 * one SHA-256 per epoch, so an epoch read from a hostile file must be bounded or verify would
 * hash for years. 2^26 is a record every second for two years, or every 15 minutes (the
 * default checkpoint interval) for nineteen centuries; about 10 s of hashing at worst.
 */
#define SEALKEY_MAX_EPOCH (1ull << 26)
/* k[i] = SHA-256(k[i-1]), FROM_EPOCH -> TO_EPOCH in place (to >= from). */
void sealkey_advance(uint8_t key[SEALKEY_LEN], uint64_t from_epoch, uint64_t to_epoch);
/* HMAC-SHA256(key, text[0..len)). */
void sealkey_mac(const uint8_t key[SEALKEY_LEN], const char *text, size_t len,
		 uint8_t mac[SEALKEY_LEN]);
/* The epoch and pending line of a key file, for verify's cut-tail check; never the key. */
int sealkey_peek(const char *path, uint64_t *epoch, char *id, char *pending, size_t plen);

#endif /* CONNREC_SEALKEY_H */
