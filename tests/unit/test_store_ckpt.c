// SPDX-License-Identifier: MIT
/*
 * Checkpoints, seal records and the sealing key (issue 10), through the store API, and what
 * verify makes of a store after each attack an intruder with root could try afterwards:
 * editing the active segment, cutting the newest segments, rewriting a sealed segment and
 * re-hashing the chain after it, forging or removing records.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "anchor.h"
#include "check.h"
#include "ckpt.h"
#include "log.h"
#include "sealkey.h"
#include "sealrec.h"
#include "store.h"
#include "store_internal.h"
#include "store_verify.h"

static char base[200];
static char vk[SEALKEY_VERIFY_LEN + 1];

static struct store_conn mk_conn(uint64_t id, bool ended)
{
	struct store_conn c;

	memset(&c, 0, sizeof(c));
	c.id = id;
	c.start_ns = seg_now_ns();
	c.proto = 6;
	c.family = 4;
	c.dir = CR_DIR_OUT;
	c.lport = (uint16_t)(30000 + id % 20000);
	c.rport = 443;
	c.pid = (uint32_t)(100 + id % 7);
	c.netns = 4026531840U;
	c.cgroup = 1;
	snprintf(c.comm, sizeof(c.comm), "p%u", c.pid);
	c.laddr[0] = 10;
	c.raddr[0] = 192;
	c.raddr[3] = (uint8_t)id;
	if (ended) {
		c.has_end = true;
		c.end_ns = c.start_ns + 100;
		c.reason = CR_END_LOCAL_FIN;
	}
	return c;
}

static void sh(const char *cmd)
{
	if (system(cmd) != 0)
		fprintf(stderr, "command failed: %s\n", cmd);
}

/* verify's findings as lines: "FAIL seg: what", "proof seg: word ck=K after=N", ... */
static void lines(void *ctx, const struct verify_item *it)
{
	FILE *f = ctx;

	switch (it->kind) {
	case VERIFY_PROBLEM:
		fprintf(f, "FAIL %s: %s\n", it->segment, it->message);
		break;
	case VERIFY_NOTE:
		fprintf(f, "note: %s %s\n", it->segment, it->message);
		break;
	case VERIFY_RECORDS:
		fprintf(f, "records: %zu checkpoints %zu seals %zu only-heads %zu mac-ok %zu unsealed\n",
			it->checkpoints, it->seals, it->only_heads, it->mac_ok, it->unsealed);
		break;
	case VERIFY_PROOF:
		fprintf(f, "proof %s: %s ck=%" PRId64 " after=%" PRIu64 "\n", it->segment, it->proof,
			it->proof_ck, it->rows_after);
		break;
	case VERIFY_SUMMARY:
		fprintf(f, "summary: %d problems, history %s\n", it->problems,
			it->proof ? it->proof : "-");
		break;
	default:
		break;
	}
}

/* verify with the options given; its findings in *text (caller frees). */
static int verify(const char *dir, const char *key, const char *heads, char **text)
{
	struct verify_opts o = { .verify_key = key, .heads_file = heads };
	size_t len = 0;
	FILE *f = open_memstream(text, &len);
	char err[256];
	int rc = store_verify(dir, NULL, 0, &o, lines, f, err, sizeof(err));

	fclose(f);
	return rc;
}

static bool has(const char *text, const char *what)
{
	return text && strstr(text, what);
}

/* Receives datagrams on PATH until none comes for a moment; appends them to FILE. */
static void drain(int fd, const char *file)
{
	char buf[2048];
	FILE *f = fopen(file, "a");
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT)) > 0) {
		buf[n] = '\0';
		fprintf(f, "%s\n", buf);
	}
	fclose(f);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/*
 * A store sealed with a key: long flows that end in later intervals (late rows), several
 * checkpoints in the active segment, five rotations (seals), a clean stop. The anchor lines
 * go to heads.log.
 */
static void make_store(const char *dir, const char *heads)
{
	char sock[256], path[400];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct store_opts o = { .version = "test", .rotate_size = 160 << 10,
				.retain_size = UINT64_MAX, .retain_age_ns = -1,
				.checkpoint_every_ns = 20 * 1000000LL };
	struct anchor_opts ao = { .socket_path = sock, .facility = ANCHOR_DEFAULT_FACILITY };
	struct store *s = NULL;
	uint64_t id = 1;
	int rfd;

	snprintf(sock, sizeof(sock), "%.150s/log.sock", base);
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	rfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CHECK_THAT(rfd >= 0 && bind(rfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	{
		int big = 4 << 20;

		setsockopt(rfd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	}
	CHECK_THAT(anchor_open(&o.anchor, &ao) == 0);
	snprintf(path, sizeof(path), "%s/%s", dir, SEALKEY_NAME);
	sh("true");
	mkdir(dir, 0700);
	CHECK_THAT(sealkey_create(path, false, vk) == 0);
	o.dir = dir;
	CHECK_THAT(store_open(&s, &o) == 0);
	if (!s)
		return;
	/*
	 * Rotations first (small segments fill fast), then checkpoints of the active one. Every
	 * tenth id is kept back and written only then, as the recorder writes a long flow's OPEN
	 * after shorter flows that began later; and the flows left open end newest first. Both
	 * make rows whose id is below the last cut's mark: late rows.
	 */
	uint64_t open_ids[60], held[200];
	size_t n_open = 0, n_held = 0;

	uint32_t calm_seq = 0;

	for (int round = 0, calm = 0; round < 200 && calm < 12; round++) {
		struct store_conn c;

		if (store_get_stats(s)->active_seq >= 5) {
			/* All of the calm rounds in one segment: start again after a rotation. */
			calm = calm_seq == store_get_stats(s)->active_seq ? calm + 1 : 1;
			calm_seq = store_get_stats(s)->active_seq;
			sleep_ms(25);
			for (int i = 0; i < 3 && n_held; i++) {
				c = mk_conn(held[--n_held], false);
				store_add_conn(s, &c);
			}
			for (int i = 0; i < 3 && n_open; i++) {
				struct store_end end = { .id = open_ids[--n_open],
							 .end_ns = seg_now_ns(),
							 .reason = CR_END_PEER_FIN };

				store_add_end(s, &end);
			}
		}
		for (int i = 0; i < (calm ? 3 : 60); i++, id++) {
			if (!calm && id % 10 == 0 && n_held < 200) {
				held[n_held++] = id;
				continue;
			}
			/* A few stay open (the open set is carried into every new segment). */
			bool stays = i % 10 == 0 && n_open < 60;

			c = mk_conn(id, !stays);
			if (stays)
				open_ids[n_open++] = id;
			store_add_conn(s, &c);
		}
		CHECK_THAT(store_flush(s) == 0);
		drain(rfd, heads);
	}
	CHECK_THAT(store_get_stats(s)->active_seq >= 5);
	/* Surely one late row of each table: a cut, then an old id and an old flow's end. */
	sleep_ms(25);
	CHECK_THAT(store_flush(s) == 0);
	if (n_held && n_open) {
		struct store_conn c = mk_conn(held[--n_held], true);
		struct store_end end = { .id = open_ids[0], .end_ns = seg_now_ns(),
					 .reason = CR_END_PEER_FIN };

		store_add_conn(s, &c);
		store_add_end(s, &end);
		CHECK_THAT(store_flush(s) == 0);
	}
	/* Every seal made before the stop, so that the last record is the last checkpoint. */
	for (int i = 0; i < 500 && store_get_stats(s)->segments_sealed + 1 <
					  store_get_stats(s)->active_seq;
	     i++) {
		sleep_ms(10);
		store_flush(s);
	}
	CHECK_THAT(store_close(s) == 0);
	drain(rfd, heads);
	anchor_close(o.anchor);
	close(rfd);
	unlink(sock);
}

static int64_t q1(const char *db_path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int64_t v = -1;

	if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void active_path(const char *dir, char *buf, size_t len)
{
	struct seg_entry *v = NULL;
	size_t n = 0;

	buf[0] = '\0';
	if (seg_list(dir, &v, &n) == 0 && n)
		seg_path(buf, len, dir, v[n - 1].seq, SEG_RAW);
	free(v);
}

static void test_untouched(const char *dir, const char *heads)
{
	char *text = NULL, act[400];
	int rc;

	active_path(dir, act, sizeof(act));
	CHECK(q1(act, "SELECT count(*) FROM anchor WHERE kind = 'checkpoint'") >= 2,
	      "checkpoints in the active segment");
	CHECK(q1(act, "SELECT count(*) FROM anchor WHERE kind = 'seal'") >= 1, "a seal record");
	CHECK(q1(act, "SELECT count(*) FROM ckpt_late") > 0, "late rows listed");

	rc = verify(dir, NULL, NULL, &text);
	CHECK(rc == 0 && has(text, "history consistent"), "plain %d:\n%s", rc, text);
	free(text);
	rc = verify(dir, vk, NULL, &text);
	CHECK(rc == 0 && has(text, "history proven") && !has(text, " 0 mac-ok") &&
		      has(text, " 0 unsealed") && has(text, "db.zst: proven ck=0") &&
		      !has(text, ": none "),
	      "with the key:\n%s", text);
	CHECK(has(text, ".db: proven ck=") && has(text, " after=0\n"),
	      "a clean stop leaves nothing unproven:\n%s", text);
	free(text);
	rc = verify(dir, NULL, heads, &text);
	CHECK(rc == 0 && has(text, "history confirmed"), "with heads:\n%s", text);
	free(text);
	rc = verify(dir, vk, heads, &text);
	CHECK(rc == 0, "with both:\n%s", text);
	free(text);
}

static void copy(const char *src, const char *name, char *dst, size_t len)
{
	char cmd[700];

	snprintf(dst, len, "%s/%s", base, name);
	snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s'", src, dst);
	sh(cmd);
}

/* An edit of one row of the active segment, the schema left as it was. */
static void edit_row(const char *db, const char *table, const char *set)
{
	char cmd[1200];

	snprintf(cmd, sizeof(cmd),
		 "t=$(sqlite3 '%s' \"SELECT sql FROM sqlite_schema WHERE name = '%s_no_update'\") && "
		 "sqlite3 '%s' \"DROP TRIGGER %s_no_update; UPDATE %s SET %s WHERE rowid = "
		 "(SELECT rowid FROM %s ORDER BY rowid LIMIT 1 OFFSET 5); $t;\"",
		 db, table, db, table, table, set, table);
	sh(cmd);
}

static void test_edit_active(const char *src, const char *heads)
{
	char d[300], act[400], *text = NULL;
	int rc;

	copy(src, "edit", d, sizeof(d));
	active_path(d, act, sizeof(act));
	edit_row(act, "conn", "rport = 4444");
	rc = verify(d, NULL, NULL, &text);
	CHECK(rc == 1 && has(text, ".db: rows differ from its checkpoint"), "no key:\n%s", text);
	free(text);
	rc = verify(d, vk, NULL, &text);
	CHECK(rc == 1 && has(text, ".db: rows differ from its checkpoint"), "key:\n%s", text);
	free(text);
	rc = verify(d, NULL, heads, &text);
	CHECK(rc == 1 && has(text, "rows differ"), "heads:\n%s", text);
	free(text);
}

/* The newest sealed segment and the active one deleted. */
static void test_cut_tail(const char *src, const char *heads)
{
	char d[300], cmd[800], *text = NULL;
	int rc;

	copy(src, "cut", d, sizeof(d));
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && rm $(ls seg-*.db | tail -n 1) && rm $(ls seg-*.db.zst | tail -n 1)", d);
	sh(cmd);
	/* The key file still holds the last record sealed, which names a segment now gone. */
	rc = verify(d, NULL, NULL, &text);
	CHECK(rc == 1 && has(text, ": missing, but its") && has(text, "(key file)"),
	      "key file:\n%s", text);
	free(text);
	rc = verify(d, NULL, heads, &text);
	CHECK(rc == 1 && has(text, ": missing, but its"), "heads:\n%s", text);
	free(text);
	/* Without the key file and without heads nothing tells: the documented limit. */
	snprintf(cmd, sizeof(cmd), "rm '%s/connrec.key'", d);
	sh(cmd);
	rc = verify(d, vk, NULL, &text);
	CHECK(rc == 0, "key alone, no key file:\n%s", text);
	free(text);
}

/*
 * Segment 2 rewritten: decompressed, a row edited, recompressed, and the chain after it
 * re-hashed (prev_sha256 of 3 and so on up to the active one), as a careful intruder would.
 */
static void rewrite_chain(const char *d)
{
	char cmd[2400];

	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && zstd -q -d --rm seg-00000002.db.zst && "
		 "t=$(sqlite3 seg-00000002.db \"SELECT sql FROM sqlite_schema WHERE name = "
		 "'conn_no_update'\") && sqlite3 seg-00000002.db \"DROP TRIGGER conn_no_update; "
		 "UPDATE conn SET rport = 4444 WHERE rowid = (SELECT min(rowid) + 3 FROM conn); "
		 "$t;\" && zstd -q -3 --rm seg-00000002.db && "
		 "prev=$(sha256sum seg-00000002.db.zst | cut -c1-64) && "
		 "for f in $(ls seg-*.db.zst seg-*.db | sort | sed -n '/seg-00000003/,$p'); do "
		 "  case $f in *.zst) zstd -q -d --rm $f; f=${f%%.zst};; esac; "
		 "  sqlite3 $f \"UPDATE meta SET value = '$prev' WHERE key = 'prev_sha256'\"; "
		 "  case $f in $(ls seg-*.db | tail -n 1)) ;; *) zstd -q -3 --rm $f; "
		 "    prev=$(sha256sum $f.zst | cut -c1-64);; esac; "
		 "done",
		 d);
	sh(cmd);
}

static void test_rewrite(const char *src, const char *heads)
{
	char d[300], *text = NULL;
	int rc;

	copy(src, "rewrite", d, sizeof(d));
	rewrite_chain(d);
	/* The hash chain alone is satisfied: that is what the attack was for. */
	rc = verify(d, NULL, NULL, &text);
	CHECK(!has(text, "SHA-256 differs from the one recorded"), "chain re-hashed:\n%s", text);
	CHECK(rc == 1 && has(text, "seg-00000002.db.zst: SHA-256 differs from its seal"),
	      "the seal record in the store:\n%s", text);
	free(text);
	rc = verify(d, vk, NULL, &text);
	CHECK(rc == 1 && has(text, "seg-00000002.db.zst: SHA-256 differs from its seal") &&
		      has(text, "history proven"),
	      "key:\n%s", text);
	free(text);
	rc = verify(d, NULL, heads, &text);
	CHECK(rc == 1 && has(text, "seg-00000002.db.zst: SHA-256 differs"), "heads:\n%s", text);
	free(text);
}

/* The intruder also replaces the seal records after segment 2 with ones of his own. */
static void test_forge(const char *src)
{
	char d[300], act[400], cmd[1600], *text = NULL;
	int rc;

	copy(src, "forge", d, sizeof(d));
	rewrite_chain(d);
	active_path(d, act, sizeof(act));
	/* Without the key he can only drop the MAC (or keep a wrong one): remove the records
	 * that no longer match, everywhere after segment 2 (here: the active segment's). */
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && for f in $(ls seg-*.db.zst seg-*.db | sort | sed -n '/seg-00000003/,$p');"
		 " do case $f in *.zst) zstd -q -d --rm $f; f=${f%%.zst}; z=1;; *) z=;; esac; "
		 "t=$(sqlite3 $f \"SELECT sql FROM sqlite_schema WHERE name = 'anchor_no_delete'\");"
		 " sqlite3 $f \"DROP TRIGGER anchor_no_delete; DELETE FROM anchor WHERE kind = "
		 "'seal' AND line LIKE '%% seg=2 %%'; $t;\"; [ -n \"$z\" ] && zstd -q -3 --rm $f;"
		 " done; true",
		 d);
	sh(cmd);
	rc = verify(d, vk, NULL, &text);
	CHECK(rc == 1 && has(text, "are missing (made between"), "records removed:\n%s", text);
	free(text);
	(void)act;
}

/*
 * The newest sealed segment decompressed and left as a plain .db, its hash removed from the
 * active segment and its seal record too: to the chain it looks like an interrupted sealing.
 */
static void test_unpack_last(const char *src, const char *heads)
{
	char d[300], cmd[1600], *text = NULL;
	int rc;

	copy(src, "unpack", d, sizeof(d));
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && last=$(ls seg-*.db.zst | tail -n 1) && n=$(echo $last | tr -dc 0-9 |"
		 " sed 's/^0*//') && zstd -q -d --rm $last && act=$(ls seg-*.db | tail -n 1) && "
		 "t=$(sqlite3 $act \"SELECT sql FROM sqlite_schema WHERE name = 'anchor_no_delete'\")"
		 " && sqlite3 $act \"DELETE FROM meta WHERE key = 'prev_sha256'; DROP TRIGGER "
		 "anchor_no_delete; DELETE FROM anchor WHERE line LIKE '%% kind=seal seg='||$n||' %%';"
		 " $t;\"",
		 d);
	sh(cmd);
	rc = verify(d, NULL, NULL, &text);
	CHECK(rc == 0 && has(text, "marked sealed but not compressed yet"), "no key:\n%s", text);
	free(text);
	rc = verify(d, vk, NULL, &text);
	CHECK(rc == 1 && has(text, "are missing (made between"), "key:\n%s", text);
	free(text);
	rc = verify(d, NULL, heads, &text);
	CHECK(rc == 1 && has(text, "but present as a plain .db"), "heads:\n%s", text);
	free(text);
}

/* Records: the MAC covers every field; a bad verification key is refused. */
static void test_records(void)
{
	struct sealrec r = { .kind = SEALREC_CHECKPOINT, .seg = 3, .ck = 2, .t_ns = 5, .rows = 7 },
		       p;
	char line[SEALKEY_LINE_MAX], path[300], vk2[SEALKEY_VERIFY_LEN + 1], id[17];
	uint8_t k0[32], key[32];
	struct sealkey *k = NULL;
	char err[300];

	memset(r.store_id, 'a', ANCHOR_STORE_ID_LEN);
	r.marks.n = 1;
	snprintf(r.marks.t[0].name, sizeof(r.marks.t[0].name), "conn");
	r.marks.t[0].w = 9;
	snprintf(path, sizeof(path), "%s/k.key", base);
	CHECK_THAT(sealkey_create(path, false, vk2) == 0);
	CHECK_THAT(sealkey_create(path, false, vk2) == -EEXIST);
	CHECK_THAT(sealkey_open(path, &k, err, sizeof(err)) == 0);
	if (!k)
		return;
	r.keyed = true;
	memcpy(r.key_id, sealkey_id(k), sizeof(r.key_id));
	r.epoch = sealkey_epoch(k);
	CHECK_THAT(sealrec_format(&r, line, sizeof(line)) > 0);
	CHECK_THAT(sealkey_seal(k, line, sizeof(line)) == 0);
	CHECK_THAT(sealkey_epoch(k) == 1 && !strcmp(sealkey_pending(k), line));
	CHECK(sealrec_parse(line, &p) == 0 && p.keyed && p.ck == 2 && p.rows == 7, "%s", line);
	CHECK_THAT(sealkey_parse_verify(vk2, k0, id) == 0);
	memcpy(key, k0, 32);
	CHECK_THAT(sealrec_mac_ok(&p, line, key));
	/* Epoch 0's key is gone from the file: only epoch 1's is there. */
	sealkey_close(k);
	k = NULL;
	CHECK_THAT(sealkey_open(path, &k, err, sizeof(err)) == 0 && sealkey_epoch(k) == 1);
	sealkey_close(k);
	/* A field changed, the MAC kept: wrong. */
	char *rows = strstr(line, " rows=7 ");

	rows[6] = '8';
	CHECK_THAT(sealrec_parse(line, &p) == 0 && !sealrec_mac_ok(&p, line, key));
	/* A verification key with a wrong digit: its key id catches it. */
	vk2[SEALKEY_VERIFY_LEN - 1] = vk2[SEALKEY_VERIFY_LEN - 1] == '0' ? '1' : '0';
	CHECK_THAT(sealkey_parse_verify(vk2, k0, id) == -EBADMSG);
	CHECK_THAT(sealkey_parse_verify("nonsense", k0, id) == -EINVAL);
	/* Malformed lines are refused, not half read. */
	CHECK_THAT(sealrec_parse("connrec-anchor v=1 store=x kind=seal", &p) == -EINVAL);
	CHECK_THAT(sealrec_parse("connrec-anchor v=1 kind=start seg=1", &p) == -ENOENT);
	/* Mode 0644: refused, the key may be known. */
	chmod(path, 0644);
	CHECK_THAT(sealkey_open(path, &k, err, sizeof(err)) == -EPERM && !k);
}

/*
 * A clean stop right after a rotation: the connection still open in segment 1 is carried into
 * segment 2 by the sealing thread, with its own id, below that of a newer connection already
 * in segment 2. The last checkpoint must be cut after the carry, or it would seem to cover a
 * row its hash did not include, and verify would fail an untouched store.
 */
static void test_carry_then_stop(void)
{
	char dir[300], db2[400], *text = NULL;
	struct store_opts o = { .version = "test" };
	struct store *s = NULL;
	struct store_conn c;

	snprintf(dir, sizeof(dir), "%s/carry", base);
	seg_path(db2, sizeof(db2), dir, 2, SEG_RAW);
	o.dir = dir;
	CHECK_THAT(store_open(&s, &o) == 0);
	if (!s)
		return;
	c = mk_conn(10, false); /* stays open */
	CHECK_THAT(store_add_conn(s, &c) == 0);
	CHECK_THAT(store_flush(s) == 0);
	s->rotate_size = 1; /* the next flush rotates: segment 2 begins */
	c = mk_conn(11, true);
	CHECK_THAT(store_add_conn(s, &c) == 0);
	CHECK_THAT(store_flush(s) == 0);
	s->rotate_size = STORE_DEFAULT_ROTATE_SIZE;
	CHECK_THAT(store_get_stats(s)->active_seq == 2);
	c = mk_conn(20, true); /* newer, in segment 2 */
	CHECK_THAT(store_add_conn(s, &c) == 0);
	CHECK_THAT(store_close(s) == 0);
	CHECK_THAT(q1(db2, "SELECT count(*) FROM conn WHERE id = 10") == 1);
	CHECK_THAT(verify(dir, NULL, NULL, &text) == 0);
	CHECK(!has(text, "FAIL"), "verify: %s", text ? text : "");
	free(text);
}

int main(void)
{
	char dir[300], heads[300], cmd[400];

	cr_log_set_level(getenv("V") ? CR_LOG_DEBUG : CR_LOG_ERROR);
	snprintf(base, sizeof(base), "/tmp/connrec-test-ckpt.XXXXXX");
	if (!mkdtemp(base)) {
		perror("mkdtemp");
		return 1;
	}
	test_records();
	snprintf(dir, sizeof(dir), "%s/store", base);
	snprintf(heads, sizeof(heads), "%s/heads.log", base);
	make_store(dir, heads);
	test_untouched(dir, heads);
	test_edit_active(dir, heads);
	test_cut_tail(dir, heads);
	test_rewrite(dir, heads);
	test_forge(dir);
	test_unpack_last(dir, heads);
	test_carry_then_stop();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	if (!check_failed && system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", base);
	else if (check_failed)
		fprintf(stderr, "kept %s\n", base);
	return check_done();
}
