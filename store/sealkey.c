// SPDX-License-Identifier: MIT
/*
 * The sealing key file and the key chain (sealkey.h): creation, the two-slot update that
 * erases each epoch's key after its one use, and the verifier's derivation.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "fileio.h"
#include "sealkey.h"
#include "segment.h"

#define SLOT_SIZE 2048
#define SLOTS 2
#define SUM_LEN 16 /* hex digits */
#define MAGIC "connrec-sealkey v=1 "

struct sealkey {
	int fd;
	int slot; /* the slot holding the current epoch */
	char id[SEALKEY_ID_LEN + 1];
	uint64_t epoch;
	uint8_t key[SEALKEY_LEN];
	char pending[SEALKEY_LINE_MAX];
};

/* ---- the chain ---- */

void sealkey_advance(uint8_t key[SEALKEY_LEN], uint64_t from_epoch, uint64_t to_epoch)
{
	for (uint64_t e = from_epoch; e < to_epoch; e++) {
		uint8_t next[SEALKEY_LEN];
		unsigned len = 0;

		EVP_Digest(key, SEALKEY_LEN, next, &len, EVP_sha256(), NULL);
		memcpy(key, next, SEALKEY_LEN);
		OPENSSL_cleanse(next, sizeof(next));
	}
}

void sealkey_mac(const uint8_t key[SEALKEY_LEN], const char *text, size_t len,
		 uint8_t mac[SEALKEY_LEN])
{
	unsigned mlen = 0;

	HMAC(EVP_sha256(), key, SEALKEY_LEN, (const unsigned char *)text, len, mac, &mlen);
}

void sealkey_id_of(const uint8_t k0[SEALKEY_LEN], char id[SEALKEY_ID_LEN + 1])
{
	static const char label[] = "connrec-seal-key-id";
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	EVP_DigestUpdate(c, label, sizeof(label) - 1);
	EVP_DigestUpdate(c, k0, SEALKEY_LEN);
	EVP_DigestFinal_ex(c, md, &len);
	EVP_MD_CTX_free(c);
	seg_hex(md, SEALKEY_ID_LEN / 2, id);
}

int sealkey_parse_verify(const char *s, uint8_t k0[SEALKEY_LEN], char id[SEALKEY_ID_LEN + 1])
{
	char want[SEALKEY_ID_LEN + 1];
	size_t n;

	s += strspn(s, " \t\r\n");
	n = strcspn(s, " \t\r\n");
	if (n != SEALKEY_VERIFY_LEN || s[SEALKEY_ID_LEN] != '-' || s[n + strspn(s + n, " \t\r\n")])
		return -EINVAL;
	if (seg_unhex(s + SEALKEY_ID_LEN + 1, k0, SEALKEY_LEN))
		return -EINVAL;
	memcpy(id, s, SEALKEY_ID_LEN);
	id[SEALKEY_ID_LEN] = '\0';
	sealkey_id_of(k0, want);
	if (strcmp(id, want)) {
		OPENSSL_cleanse(k0, SEALKEY_LEN);
		return -EBADMSG;
	}
	return 0;
}

int sealkey_verify_arg(const char *arg, char out[SEALKEY_VERIFY_LEN + 64])
{
	uint8_t k0[SEALKEY_LEN];
	char id[SEALKEY_ID_LEN + 1];
	int err;

	if (arg[0] == '@') {
		FILE *f = fopen(arg + 1, "re");
		bool got = f && fgets(out, SEALKEY_VERIFY_LEN + 64, f);

		if (f)
			fclose(f);
		if (!got)
			return -ENOENT;
	} else {
		snprintf(out, SEALKEY_VERIFY_LEN + 64, "%s", arg);
	}
	err = sealkey_parse_verify(out, k0, id);
	OPENSSL_cleanse(k0, sizeof(k0));
	return err;
}

/* ---- the file ---- */

static void checksum(const char *text, size_t len, char sum[SUM_LEN + 1])
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mlen = 0;

	EVP_Digest(text, len, md, &mlen, EVP_sha256(), NULL);
	seg_hex(md, SUM_LEN / 2, sum);
}

/* The text of a slot for (ID, EPOCH, KEY, PENDING), NUL-padded to SLOT_SIZE. */
static int slot_text(char buf[SLOT_SIZE], const char *id, uint64_t epoch,
		     const uint8_t key[SEALKEY_LEN], const char *pending)
{
	char hex[2 * SEALKEY_LEN + 1], sum[SUM_LEN + 1];
	int n, m;

	memset(buf, 0, SLOT_SIZE);
	seg_hex(key, SEALKEY_LEN, hex);
	n = snprintf(buf, SLOT_SIZE, MAGIC "id=%s epoch=%" PRIu64 " key=%s\npending=%s\n", id,
		     epoch, hex, pending);
	OPENSSL_cleanse(hex, sizeof(hex));
	if (n < 0 || n >= SLOT_SIZE - SUM_LEN - 8)
		return -ENOSPC;
	checksum(buf, (size_t)n, sum);
	m = snprintf(buf + n, (size_t)(SLOT_SIZE - n), "sum=%s\n", sum);
	return m < 0 ? -ENOSPC : 0;
}

/* Parses one slot; 0 when it is a whole, valid slot. */
static int slot_parse(const char *raw, struct sealkey *k)
{
	char buf[SLOT_SIZE + 1], sum[SUM_LEN + 1], *key, *pend, *s, *end;
	unsigned long long epoch;

	memcpy(buf, raw, SLOT_SIZE);
	buf[SLOT_SIZE] = '\0';
	if (strncmp(buf, MAGIC "id=", strlen(MAGIC "id=")))
		return -EBADMSG;
	s = strstr(buf, "\nsum=");
	if (!s || strlen(s + 5) != SUM_LEN + 1 || s[5 + SUM_LEN] != '\n')
		return -EBADMSG;
	checksum(buf, (size_t)(s + 1 - buf), sum);
	if (strncmp(s + 5, sum, SUM_LEN))
		return -EBADMSG;
	s[1] = '\0';
	s = buf + strlen(MAGIC "id=");
	if (strlen(s) < SEALKEY_ID_LEN || s[SEALKEY_ID_LEN] != ' ' ||
	    strncmp(s + SEALKEY_ID_LEN + 1, "epoch=", 6))
		return -EBADMSG;
	memcpy(k->id, s, SEALKEY_ID_LEN);
	k->id[SEALKEY_ID_LEN] = '\0';
	s += SEALKEY_ID_LEN + 7;
	errno = 0;
	epoch = strtoull(s, &end, 10);
	if (errno || end == s || strncmp(end, " key=", 5))
		return -EBADMSG;
	key = end + 5;
	pend = key + 2 * SEALKEY_LEN;
	if (strlen(key) < 2 * SEALKEY_LEN || strncmp(pend, "\npending=", 9) ||
	    seg_unhex(key, k->key, SEALKEY_LEN))
		return -EBADMSG;
	pend += 9;
	pend[strcspn(pend, "\n")] = '\0';
	snprintf(k->pending, sizeof(k->pending), "%s", pend);
	k->epoch = epoch;
	OPENSSL_cleanse(buf, sizeof(buf));
	return 0;
}

/* Writes SLOT's text (or zeros when TEXT is NULL) and makes it durable. */
static int slot_write(int fd, int slot, const char *text)
{
	static const char zeros[SLOT_SIZE];
	const char *p = text ? text : zeros;
	ssize_t n = pwrite(fd, p, SLOT_SIZE, (off_t)slot * SLOT_SIZE);

	if (n != SLOT_SIZE)
		return n < 0 ? -errno : -EIO;
	return fdatasync(fd) ? -errno : 0;
}

int sealkey_create(const char *path, bool force, char *vk)
{
	char tmp[PATH_MAX], dir[PATH_MAX], text[SLOT_SIZE], id[SEALKEY_ID_LEN + 1];
	char hex[2 * SEALKEY_LEN + 1];
	uint8_t k0[SEALKEY_LEN];
	int fd = -1, err = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	if (getrandom(k0, sizeof(k0), 0) != (ssize_t)sizeof(k0))
		return -EIO;
	sealkey_id_of(k0, id);
	err = slot_text(text, id, 0, k0, "");
	if (err)
		goto cleanup;
	unlink(tmp);
	fd = cr_open_private(tmp, O_WRONLY | O_EXCL); /* 0600 whatever the umask */
	if (fd < 0) {
		err = fd;
		goto cleanup;
	}
	err = cr_write_all(fd, text, SLOT_SIZE);
	if (!err) {
		memset(text, 0, sizeof(text));
		err = cr_write_all(fd, text, SLOT_SIZE);
	}
	if (!err && fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	fd = -1;
	/* link() refuses to replace an existing key; rename() replaces it when asked to. */
	if (!err && (force ? rename(tmp, path) : link(tmp, path)))
		err = -errno;
	unlink(tmp);
	if (!err) {
		snprintf(dir, sizeof(dir), "%s", path);
		err = seg_fsync_dir(dirname(dir));
	}
	if (!err) {
		seg_hex(k0, SEALKEY_LEN, hex);
		snprintf(vk, SEALKEY_VERIFY_LEN + 1, "%s-%s", id, hex);
		OPENSSL_cleanse(hex, sizeof(hex));
	}
cleanup:
	if (fd >= 0)
		close(fd);
	OPENSSL_cleanse(k0, sizeof(k0));
	OPENSSL_cleanse(text, sizeof(text));
	return err;
}

/* Both slots, the better one chosen: the valid one with the higher epoch. */
static int read_slots(int fd, struct sealkey *k)
{
	char raw[SLOTS * SLOT_SIZE];
	struct sealkey s[SLOTS];
	int best = -1;
	ssize_t n = pread(fd, raw, sizeof(raw), 0);

	if (n != (ssize_t)sizeof(raw))
		return n < 0 ? -errno : -EBADMSG;
	for (int i = 0; i < SLOTS; i++) {
		if (slot_parse(raw + i * SLOT_SIZE, &s[i]))
			continue;
		if (best < 0 || s[i].epoch > s[best].epoch)
			best = i;
	}
	OPENSSL_cleanse(raw, sizeof(raw));
	if (best < 0)
		return -EBADMSG;
	memcpy(k->id, s[best].id, sizeof(k->id));
	memcpy(k->key, s[best].key, sizeof(k->key));
	memcpy(k->pending, s[best].pending, sizeof(k->pending));
	k->epoch = s[best].epoch;
	k->slot = best;
	OPENSSL_cleanse(s, sizeof(s));
	return 0;
}

int sealkey_open(const char *path, struct sealkey **out, char *err, size_t errlen)
{
	struct sealkey *k = NULL;
	struct stat st;
	int rc;

	*out = NULL;
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (k->fd < 0) {
		rc = -errno;
		if (rc != -ENOENT)
			snprintf(err, errlen, "cannot open %s: %s", path, strerror(-rc));
		goto fail;
	}
	if (fstat(k->fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s is not a regular file", path);
		rc = -EINVAL;
		goto fail;
	}
	if (st.st_uid != geteuid() || (st.st_mode & 077)) {
		snprintf(err, errlen, "%s must be owned by uid %u and not accessible to others "
				      "(it is uid %u, mode %03o): its key may be known; make a new "
				      "one with connrec keygen --force",
			 path, (unsigned)geteuid(), (unsigned)st.st_uid,
			 (unsigned)(st.st_mode & 0777));
		rc = -EPERM;
		goto fail;
	}
	rc = read_slots(k->fd, k);
	if (rc) {
		snprintf(err, errlen, "%s is damaged (no valid key slot)", path);
		goto fail;
	}
	/* A move to the next epoch that stopped before erasing the old slot: finish it. */
	rc = slot_write(k->fd, 1 - k->slot, NULL);
	if (rc) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(-rc));
		goto fail;
	}
	*out = k;
	return 0;
fail:
	sealkey_close(k);
	return rc;
}

void sealkey_close(struct sealkey *k)
{
	if (!k)
		return;
	if (k->fd >= 0)
		close(k->fd);
	OPENSSL_cleanse(k, sizeof(*k));
	free(k);
}

const char *sealkey_id(const struct sealkey *k)
{
	return k->id;
}

uint64_t sealkey_epoch(const struct sealkey *k)
{
	return k->epoch;
}

const char *sealkey_pending(const struct sealkey *k)
{
	return k->pending;
}

int sealkey_seal(struct sealkey *k, char *text, size_t len)
{
	uint8_t mac[SEALKEY_LEN], next[SEALKEY_LEN];
	char hex[2 * SEALKEY_LEN + 1], slot[SLOT_SIZE];
	size_t used = strlen(text);
	int err;

	if (k->fd < 0)
		return -EBADF;
	if (used + 5 + 2 * SEALKEY_LEN + 1 > len || used + 5 + 2 * SEALKEY_LEN >= SEALKEY_LINE_MAX)
		return -ENOSPC;
	sealkey_mac(k->key, text, used, mac);
	seg_hex(mac, SEALKEY_LEN, hex);
	snprintf(text + used, len - used, " mac=%s", hex);

	memcpy(next, k->key, SEALKEY_LEN);
	sealkey_advance(next, k->epoch, k->epoch + 1);
	err = slot_text(slot, k->id, k->epoch + 1, next, text);
	if (!err)
		err = slot_write(k->fd, 1 - k->slot, slot);
	if (!err)
		err = slot_write(k->fd, k->slot, NULL);
	OPENSSL_cleanse(slot, sizeof(slot));
	if (err) {
		/* The file may still hold this epoch's key: never use it for a second record. */
		close(k->fd);
		k->fd = -1;
		OPENSSL_cleanse(next, sizeof(next));
		OPENSSL_cleanse(k->key, sizeof(k->key));
		return err;
	}
	memcpy(k->key, next, SEALKEY_LEN);
	OPENSSL_cleanse(next, sizeof(next));
	k->slot = 1 - k->slot;
	k->epoch++;
	snprintf(k->pending, sizeof(k->pending), "%s", text);
	return 0;
}

int sealkey_peek(const char *path, uint64_t *epoch, char *id, char *pending, size_t plen)
{
	struct sealkey k = { .fd = -1 };
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), err;

	if (fd < 0)
		return -errno;
	err = read_slots(fd, &k);
	close(fd);
	if (!err) {
		*epoch = k.epoch;
		memcpy(id, k.id, SEALKEY_ID_LEN + 1);
		snprintf(pending, plen, "%s", k.pending);
	}
	OPENSSL_cleanse(&k, sizeof(k));
	return err;
}
