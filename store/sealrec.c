// SPDX-License-Identifier: MIT
/*
 * Seal records as text (sealrec.h). The parser reads lines from untrusted places (a syslog
 * file, a copied segment): every field is checked for form and range, and anything else makes
 * the line malformed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "sealrec.h"
#include "segment.h"

#define PREFIX ANCHOR_MARK " v=1 "

int sealrec_format(const struct sealrec *r, char *buf, size_t len)
{
	char marks[256], hash[2 * CKPT_HASH_LEN + 1];
	int n;

	if (r->kind == SEALREC_CHECKPOINT) {
		if (ckpt_marks_format(&r->marks, marks, sizeof(marks)) < 0)
			return -ENOSPC;
		seg_hex(r->hash, CKPT_HASH_LEN, hash);
		n = anchor_format(buf, len, r->store_id, "checkpoint",
				  "seg=%" PRIu32 " ck=%" PRId64 " t=%" PRId64 " rows=%" PRIu64
				  " w=%s %s=%s",
				  r->seg, r->ck, r->t_ns, r->rows, marks, !r->chained ? "hash" : r->narrow ? "chain2" : "chain",
				  hash);
	} else {
		seg_hex(r->sha256, sizeof(r->sha256), hash);
		n = anchor_format(buf, len, r->store_id, "seal",
				  "seg=%" PRIu32 " t=%" PRId64 " bytes=%" PRIu64 " sha256=%s"
				  " first=%" PRId64 " last=%" PRId64,
				  r->seg, r->t_ns, r->bytes, hash, r->first_ns, r->last_ns);
	}
	if (n < 0)
		return n;
	if (r->keyed) {
		int m = snprintf(buf + n, len - (size_t)n, " key=%s epoch=%" PRIu64, r->key_id,
				 r->epoch);

		if (m < 0 || (size_t)m >= len - (size_t)n)
			return -ENOSPC;
		n += m;
	}
	return n;
}

/* ---- parsing ---- */

static int parse_u64(const char *v, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long x;

	if (*v < '0' || *v > '9' || (v[0] == '0' && v[1]))
		return -EINVAL;
	errno = 0;
	x = strtoull(v, &end, 10);
	if (errno || *end || x > max)
		return -EINVAL;
	*out = x;
	return 0;
}

static int parse_i64(const char *v, int64_t *out)
{
	uint64_t x;
	int neg = v[0] == '-';

	if (parse_u64(v + neg, (uint64_t)INT64_MAX, &x))
		return -EINVAL;
	*out = neg ? -(int64_t)x : (int64_t)x;
	return 0;
}

static int parse_hex(const char *v, uint8_t *out, size_t n)
{
	return strlen(v) == 2 * n ? seg_unhex(v, out, n) : -EINVAL;
}

enum field {
	F_STORE, F_KIND, F_SEG, F_CK, F_T, F_ROWS, F_W, F_HASH, F_BYTES, F_SHA256, F_FIRST,
	F_LAST, F_KEY, F_EPOCH, F_MAC, F_CHAIN, F_CHAIN2, F_COUNT,
};

static const char *const field_names[F_COUNT] = {
	"store", "kind", "seg", "ck", "t", "rows", "w", "hash", "bytes", "sha256", "first",
	"last", "key", "epoch", "mac", "chain", "chain2",
};

static int parse_field(struct sealrec *r, enum field f, const char *v)
{
	uint64_t u;

	switch (f) {
	case F_STORE:
		if (strlen(v) != ANCHOR_STORE_ID_LEN || strspn(v, "0123456789abcdef") != strlen(v))
			return -EINVAL;
		memcpy(r->store_id, v, ANCHOR_STORE_ID_LEN + 1);
		return 0;
	case F_KIND:
		if (!strcmp(v, "checkpoint"))
			r->kind = SEALREC_CHECKPOINT;
		else if (!strcmp(v, "seal"))
			r->kind = SEALREC_SEAL;
		else
			return -ENOENT;
		return 0;
	case F_SEG:
		if (parse_u64(v, UINT32_MAX, &u) || !u)
			return -EINVAL;
		r->seg = (uint32_t)u;
		return 0;
	case F_CK:
		if (parse_u64(v, INT64_MAX, &u) || !u)
			return -EINVAL;
		r->ck = (int64_t)u;
		return 0;
	case F_T:
		return parse_i64(v, &r->t_ns);
	case F_ROWS:
		return parse_u64(v, INT64_MAX, &r->rows);
	case F_W:
		return ckpt_marks_parse(v, &r->marks);
	case F_HASH:
		return parse_hex(v, r->hash, sizeof(r->hash));
	case F_CHAIN:
	case F_CHAIN2:
		r->chained = true;
		r->narrow = f == F_CHAIN2;
		return parse_hex(v, r->hash, sizeof(r->hash));
	case F_BYTES:
		return parse_u64(v, INT64_MAX, &r->bytes);
	case F_SHA256:
		return parse_hex(v, r->sha256, sizeof(r->sha256));
	case F_FIRST:
		return parse_i64(v, &r->first_ns);
	case F_LAST:
		return parse_i64(v, &r->last_ns);
	case F_KEY:
		if (strlen(v) != SEALKEY_ID_LEN || strspn(v, "0123456789abcdef") != strlen(v))
			return -EINVAL;
		memcpy(r->key_id, v, SEALKEY_ID_LEN + 1);
		return 0;
	case F_EPOCH:
		return parse_u64(v, INT64_MAX, &r->epoch);
	case F_MAC:
		return parse_hex(v, r->mac, sizeof(r->mac));
	default:
		return -EINVAL;
	}
}

int sealrec_parse(const char *line, struct sealrec *r)
{
	char buf[SEALKEY_LINE_MAX + 1], *p, *tok, *save = NULL;
	const char *start = strstr(line, PREFIX);
	unsigned seen = 0;
	size_t len;

	memset(r, 0, sizeof(*r));
	if (!start)
		return -ENOENT;
	len = strcspn(start, "\r\n");
	while (len && start[len - 1] == ' ')
		len--;
	if (len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, start, len);
	buf[len] = '\0';
	p = buf + strlen(PREFIX);
	for (tok = strtok_r(p, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');
		int f, err;

		if (!eq)
			return -EINVAL;
		*eq = '\0';
		for (f = 0; f < F_COUNT && strcmp(tok, field_names[f]); f++)
			;
		if (f == F_COUNT)
			return -EINVAL;
		if (seen & (1u << f))
			return -EINVAL;
		if (f == F_MAC)
			r->mac_off = (size_t)(tok - buf) - 1; /* the space before "mac=" */
		seen |= 1u << f;
		err = parse_field(r, (enum field)f, eq + 1);
		if (err)
			return err;
	}
	unsigned need = 1u << F_STORE | 1u << F_KIND | 1u << F_SEG | 1u << F_T;

	if (!(seen & (1u << F_KIND)))
		return -EINVAL;
	if (r->kind == SEALREC_CHECKPOINT) {
		need |= 1u << F_CK | 1u << F_ROWS | 1u << F_W;
		/* One hash, of either kind. */
		if (__builtin_popcount(seen & (1u << F_HASH | 1u << F_CHAIN | 1u << F_CHAIN2)) != 1)
			return -EINVAL;
	} else {
		need |= 1u << F_BYTES | 1u << F_SHA256 | 1u << F_FIRST | 1u << F_LAST;
	}
	if ((seen & need) != need)
		return -EINVAL;
	unsigned auth = 1u << F_KEY | 1u << F_EPOCH | 1u << F_MAC;

	if (seen & auth) {
		/* Keyed: all three, and the MAC last, so that it covers every other field. */
		if ((seen & auth) != auth || strncmp(start + r->mac_off, " mac=", 5) ||
		    r->mac_off + 5 + 2 * SEALKEY_LEN != len)
			return -EINVAL;
		r->keyed = true;
	}
	return 0;
}

bool sealrec_mac_ok(const struct sealrec *r, const char *line, const uint8_t key[32])
{
	const char *start = strstr(line, PREFIX);
	uint8_t mac[SEALKEY_LEN];
	bool ok;

	if (!r->keyed || !start)
		return false;
	sealkey_mac(key, start, r->mac_off, mac);
	ok = CRYPTO_memcmp(mac, r->mac, sizeof(mac)) == 0;
	return ok;
}
