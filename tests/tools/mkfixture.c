// SPDX-License-Identifier: MIT
/*
 * mkfixture: builds connrec stores with known content, straight from the embedded schema, for
 * the query's golden tests and benchmarks (no recorder, no root).
 *
 *   mkfixture golden DIR       the golden store: host h1 in three segments (sealed .db.zst,
 *                              sealed .db, active WAL segment left as a crashed writer leaves
 *                              it: -wal and -shm beside it), flows of every state; plus
 *                              DIR/h2/seg-00000001.db.zst from a second host
 *   mkfixture big DIR FLOWS SEGMENTS END_S SPAN_S
 *                              FLOWS flows spread evenly over SPAN_S seconds ending at END_S
 *                              (epoch seconds), in SEGMENTS segments: all sealed and zstd-
 *                              compressed except the last; every 10th flow is DNS (udp 53);
 *                              20 process lives and their cgroups in each segment.
 *                              With MKFIXTURE_DNS=N in the environment, every Nth flow is
 *                              preceded by a DNS answer (1 ms before) holding its address, so
 *                              about 1/N of the flows get a name (for timing rname)
 *   mkfixture newer FILE       a segment claiming schema version 99
 *
 * Times in the golden store count from T0 = 2026-11-21T03:00:00Z.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>
#include <zstd.h>

#include "conn_zones.h"
#include "connrec_event.h"
#include "schema.h"
#include "segment.h"

#define S  1000000000LL
#define T0 (1795230000LL * S)

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "mkfixture: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static void exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		die("%s: %s", sql, msg ? msg : "?");
}

/* sqlite3_vmprintf's %Q is not printf's, so no format attribute here. */
static void execf(sqlite3 *db, const char *fmt, ...)
{
	va_list ap;
	char *sql;

	va_start(ap, fmt);
	sql = sqlite3_vmprintf(fmt, ap);
	va_end(ap);
	exec(db, sql);
	sqlite3_free(sql);
}

/* A new segment with the schema and its meta; WAL for an active one, DELETE when sealed. */
static sqlite3 *seg_create(const char *path, const char *host, int64_t id, int64_t created,
			   bool wal)
{
	sqlite3 *db;

	unlink(path);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		die("open %s", path);
	exec(db, wal ? "PRAGMA journal_mode=WAL" : "PRAGMA journal_mode=DELETE");
	for (unsigned i = 0; i < schema_sql_count; i++)
		exec(db, schema_sql[i]);
	execf(db,
	      "INSERT INTO meta(key, value) VALUES ('schema_version', '%u'), ('segment_id', "
	      "'%lld'),"
	      " ('host', %Q), ('boot_id', 'b00t-1d'), ('kernel', '6.18.0'),"
	      " ('recorder_version', '0.1.0'), ('clock_offset_ns', '0'), ('created_ns', '%lld'),"
	      " ('prev_sha256', '')",
	      schema_sql_count, (long long)id, host, (long long)created);
	return db;
}

static void seal(sqlite3 *db, int64_t first, int64_t last)
{
	char zones[CONN_ZONES_TEXT_MAX];
	struct conn_zones z;

	exec(db, "BEGIN");
	for (unsigned i = 0; i < seal_sql_count; i++)
		exec(db, seal_sql[i]);
	/* The end zones, as sealing computes them for a segment the writer did not see whole. */
	if (conn_zones_of_db(db, NULL, &z) != SQLITE_OK || conn_zones_format(&z, zones, sizeof(zones)))
		die("end zones: %s", sqlite3_errmsg(db));
	if (z.n)
		execf(db, "INSERT INTO meta(key, value) VALUES (%Q, %Q)", CONN_ZONES_META, zones);
	execf(db,
	      "INSERT INTO meta(key, value) VALUES ('first_ns', '%lld'), ('last_ns', '%lld'),"
	      " ('sealed', '1')",
	      (long long)first, (long long)last);
	exec(db, "COMMIT");
}

/*
 * Sealed segments are compressed as the recorder does it (seekable, store/segment_zstd.c).
 * The SHA-256 of the .zst goes into sha256 (65 bytes) when it is not NULL.
 */
static void compress_hash(const char *path, char *sha256)
{
	struct seg_info info;
	char out[4096];
	int err;

	snprintf(out, sizeof(out), "%s.zst", path);
	err = seg_compress(path, out, &info);
	if (err)
		die("compress %s: %s", path, strerror(-err));
	if (sha256)
		memcpy(sha256, info.sha256, sizeof(info.sha256));
	unlink(path);
}

static void compress(const char *path)
{
	compress_hash(path, NULL);
}

static void proc(sqlite3 *db, int id, int pid, const char *comm, int uid, long long netns,
		 long long cg)
{
	execf(db, "INSERT INTO proc(id, pid, comm, uid, netns, cgroup) VALUES (%d, %d, %Q, %d, %lld,"
	      " %lld)", id, pid, comm, uid, netns, cg);
}

/* A proc row that names its process life (schema 2). */
static void proc_life(sqlite3 *db, int id, int pid, long long pstart, const char *comm, int uid,
		      long long netns, long long cg)
{
	execf(db, "INSERT INTO proc(id, pid, comm, uid, netns, cgroup, pstart_ns) VALUES (%d, %d,"
	      " %Q, %d, %lld, %lld, %lld)", id, pid, comm, uid, netns, cg, pstart);
}

/* One image of a process life; exit_ns 0 = no end folded in. */
static void life(sqlite3 *db, int pid, long long pstart, int64_t start, int64_t image, int ppid,
		 const char *pcomm, int uid, long long cg, const char *comm, const char *exe,
		 const char *args, int flags, int64_t exit_ns, int exit_code)
{
	if (exit_ns)
		execf(db,
		      "INSERT INTO life(pid, pstart_ns, start_ns, image_ns, ppid, ppstart_ns, pcomm,"
		      " uid, cgroup, comm, exe, args, flags, exit_ns, exit_code) VALUES (%d, %lld,"
		      " %lld, %lld, %d, 1, %Q, %d, %lld, %Q, %Q, %Q, %d, %lld, %d)",
		      pid, pstart, (long long)start, (long long)image, ppid, pcomm, uid, cg, comm,
		      exe, args, flags, (long long)exit_ns, exit_code);
	else
		execf(db,
		      "INSERT INTO life(pid, pstart_ns, start_ns, image_ns, ppid, ppstart_ns, pcomm,"
		      " uid, cgroup, comm, exe, args, flags) VALUES (%d, %lld, %lld, %lld, %d, 1,"
		      " %Q, %d, %lld, %Q, %Q, %Q, %d)",
		      pid, pstart, (long long)start, (long long)image, ppid, pcomm, uid, cg, comm,
		      exe, args, flags);
}

static void cgroup(sqlite3 *db, long long id, const char *path, const char *container,
		   const char *unit)
{
	execf(db, "INSERT INTO cgroup VALUES (%lld, %Q, %Q, %Q)", id, path, container, unit);
}

/*
 * One conn row. Addresses are given as hex blobs; dur < 0 means no end folded in.
 */
static void conn(sqlite3 *db, int64_t id, int64_t start, int proto, int fam, int dir,
		 const char *lhex, int lport, const char *rhex, int rport, int procid, int flags,
		 int64_t dur, long long bout, long long bin, int reason)
{
	if (dur < 0)
		execf(db,
		      "INSERT INTO conn VALUES (%lld, %lld, %d, %d, %d, X'%s', %d, X'%s', %d, %d, "
		      "%d,"
		      " NULL, NULL, NULL, NULL)",
		      (long long)id, (long long)start, proto, fam, dir, lhex, lport, rhex, rport,
		      procid, flags);
	else if (bout < 0)
		execf(db,
		      "INSERT INTO conn VALUES (%lld, %lld, %d, %d, %d, X'%s', %d, X'%s', %d, %d, "
		      "%d,"
		      " %lld, NULL, NULL, %d)",
		      (long long)id, (long long)start, proto, fam, dir, lhex, lport, rhex, rport,
		      procid, flags, (long long)dur, reason);
	else
		execf(db,
		      "INSERT INTO conn VALUES (%lld, %lld, %d, %d, %d, X'%s', %d, X'%s', %d, %d, "
		      "%d,"
		      " %lld, %lld, %lld, %d)",
		      (long long)id, (long long)start, proto, fam, dir, lhex, lport, rhex, rport,
		      procid, flags, (long long)dur, bout, bin, reason);
}

static void conn_end(sqlite3 *db, int64_t id, int64_t end, long long bout, long long bin,
		     int reason)
{
	if (bout < 0)
		execf(db, "INSERT INTO conn_end VALUES (%lld, %lld, NULL, NULL, %d)", (long long)id,
		      (long long)end, reason);
	else
		execf(db, "INSERT INTO conn_end VALUES (%lld, %lld, %lld, %lld, %d)", (long long)id,
		      (long long)end, bout, bin, reason);
}

static void gap(sqlite3 *db, int kind, int64_t start, int64_t end, long long count, const char *why)
{
	execf(db,
	      "INSERT INTO gap(kind, start_ns, end_ns, count, reason) VALUES (%d, %lld, %lld,"
	      " %lld, %Q)",
	      kind, (long long)start, (long long)end, count, why);
}

/*
 * Process lives for the big store: the first 20 of its processes with an image each (the
 * first 5 ended in a life_exit row), and the names of their 20 cgroups.
 */
static void big_lives(sqlite3 *db, int64_t t0)
{
	for (int i = 1; i <= 20; i++) {
		execf(db,
		      "INSERT INTO life(pid, pstart_ns, start_ns, image_ns, ppid, ppstart_ns, pcomm,"
		      " uid, cgroup, comm, exe, args, flags) VALUES (%d, %lld, %lld, %lld, 1, 1,"
		      " 'init', 1000, %d, 'proc%d', '/usr/bin/proc%d', 'proc%d --n %d', 0)",
		      1000 + i, (long long)(t0 + i), (long long)t0, (long long)t0, 7000 + i % 20, i,
		      i, i, i);
		execf(db, "INSERT INTO cgroup VALUES (%d, '/system.slice/svc%d.service', '',"
		      " 'svc%d.service')", 7000 + i % 20, i % 20, i % 20);
	}
	for (int i = 1; i <= 5; i++)
		execf(db, "INSERT INTO life_exit(pid, pstart_ns, exit_ns, exit_code) VALUES (%d, %lld,"
		      " %lld, 0)", 1000 + i, (long long)(t0 + i), (long long)(t0 + 1000));
}

static void run(sqlite3 *db, int64_t ts, int kind, int pid)
{
	execf(db, "INSERT INTO run(ts_ns, kind, pid, version) VALUES (%lld, %d, %d, '0.1.0')",
	      (long long)ts, kind, pid);
}

/* One DNS answer received by procid from the resolver at 10.0.0.53 (hex), over UDP. */
static void dns(sqlite3 *db, int64_t id, int64_t ts, int procid, const char *qname, int qtype,
		int rcode, int flags)
{
	execf(db,
	      "INSERT INTO dns VALUES (%lld, %lld, %d, 17, 4, X'0a000001', 53000, X'0a000035', 53,"
	      " %d, 4242, %Q, %d, %d)",
	      (long long)id, (long long)ts, procid, flags, qname, qtype, rcode);
}

/* One record of answer dns: an address (hex) or a CNAME target. */
static void dns_rr(sqlite3 *db, int64_t dns, int type, const char *name, int ttl,
		   const char *addr, const char *target)
{
	if (addr)
		execf(db, "INSERT INTO dns_answer VALUES (%lld, %d, %Q, %d, X'%s', NULL)",
		      (long long)dns, type, name, ttl, addr);
	else
		execf(db, "INSERT INTO dns_answer VALUES (%lld, %d, %Q, %d, NULL, %Q)",
		      (long long)dns, type, name, ttl, target);
}

/* Addresses. */
#define H1   "0a000001"
#define V6A  "20010db8000000000000000000000001"
#define V6B  "20010db8000000000000000000000002"
#define M1   "00000000000000000000ffff0a000001"
#define M30  "00000000000000000000ffff0a00001e"
#define ANY4 "00000000"

static void procs(sqlite3 *db)
{
	proc_life(db, 1, 200, 1000, "curl", 1000, 4026531840LL, 7001);
	proc_life(db, 2, 300, 300, "sshd", 0, 4026531840LL, 7002);
	proc(db, 3, 400, "dig", 1000, 4026531840LL, 7001);
	proc_life(db, 4, 500, 500, "python3", 1000, 4026532100LL, 7003);
	proc(db, 5, 600, "psql", 1000, 4026531840LL, 7001);
	proc(db, 6, 0, "", 0, 4026531840LL, 0);
	proc(db, 7, 700, "wget", 1000, 4026531840LL, 7001);
	proc(db, 8, 800, "dnsmasq", 101, 4026531840LL, 7004);
	proc_life(db, 9, 900, 900, "isc-net-0000", 1000, 4026531840LL, 7001);
	proc_life(db, 10, 1000, 1000, "evil,\"tab\there", 0, 4026531840LL, 7001);
}

#define CID "4f1e9a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7"

/*
 * Who: process lives for the procs above, the same in every segment of h1 (a recorder writes
 * them into each segment that names them; the reader merges them). Lives are keyed by (pid,
 * pstart_ns); proc rows 11 and 1 are two lives of pid 200.
 */
static void lives(sqlite3 *db)
{
	proc_life(db, 11, 200, 2000, "curl", 1000, 4026531840LL, 7001);
	/* curl, started by a shell */
	life(db, 200, 1000, T0 + 9 * S, T0 + 9 * S, 150, "bash", 1000, 7001, "curl",
	     "/usr/bin/curl", "curl -s https://93.184.216.34/", CR_LIFE_EXEC, 0, 0);
	/* pid 200 again, later: another binary */
	life(db, 200, 2000, T0 + 1980 * S, T0 + 1980 * S, 150, "bash", 1000, 7001, "curl",
	     "/opt/x/curl", "curl -k 'https://10.0.0.23:8443/a b'", CR_LIFE_EXEC, T0 + 1999 * S,
	     256);
	/* sshd: running before recording began */
	life(db, 300, 300, T0 - 3600 * S, T0 - 3600 * S, 1, "systemd", 0, 7002, "sshd",
	     "/usr/sbin/sshd", "'sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups'",
	     CR_LIFE_SEEDED, 0, 0);
	/* a python in a docker container */
	life(db, 500, 500, T0 + 4 * S, T0 + 4 * S, 480, "containerd-shim", 1000, 7003, "python3",
	     "/usr/local/bin/python3", "python3 -m http.server 8080", CR_LIFE_EXEC, 0, 0);
	/* dig's resolver thread names the process; a shell forked it, then it exec'd dig */
	life(db, 900, 900, T0 + 59 * S, T0 + 59 * S, 150, "bash", 1000, 7001, "bash", "/bin/bash",
	     "bash ./lookup.sh", 0, 0, 0);
	life(db, 900, 900, T0 + 59 * S, T0 + 59 * S + S / 2, 150, "bash", 1000, 7001, "dig",
	     "/usr/bin/dig", "dig @10.0.0.53 example.com", CR_LIFE_EXEC, 0, 0);
	/* hostile strings: a tab, a newline, quotes, a comma, an escape sequence */
	life(db, 1000, 1000, T0, T0, 1, "x\ty", 0, 7001, "evil",
	     "/tmp/e\tv,\"il\"", "evil '\x1b[31mred' 'a\nb'", CR_LIFE_EXEC, 0, 0);
	cgroup(db, 7001, "/user.slice/user-1000.slice/session-2.scope", "", "session-2.scope");
	cgroup(db, 7002, "/system.slice/ssh.service", "", "ssh.service");
	cgroup(db, 7003, "/system.slice/docker-" CID ".scope", CID, "docker-" CID ".scope");
}

static void golden(const char *dir)
{
	char p[4096];
	sqlite3 *db;
	pid_t child;
	int st;

	if (mkdir(dir, 0755) && errno != EEXIST)
		die("mkdir %s", dir);

	/* Segment 1: sealed and compressed. */
	snprintf(p, sizeof(p), "%s/seg-00000001.db", dir);
	db = seg_create(p, "h1", 1, T0, false);
	exec(db, "BEGIN");
	procs(db);
	lives(db);
	run(db, T0, 1, 100);
	run(db, T0, 3, 100);
	conn(db, 8, T0, 6, 4, CR_DIR_IN, H1, 22, "0a000008", 51000, 2, CR_FLAG_PREEXISTING, -1, 0,
	     0, 0);
	conn(db, 7, T0 + 5 * S, 6, 4, CR_DIR_LISTEN, ANY4, 8080, ANY4, 0, 4, 0, -1, 0, 0, 0);
	conn(db, 1, T0 + 10 * S, 6, 4, CR_DIR_OUT, H1, 40001, "5db8d822", 443, 1, 0, 1500000000,
	     500, 4000, CR_END_LOCAL_FIN);
	conn(db, 2, T0 + 20 * S, 6, 4, CR_DIR_OUT, H1, 40002, "0a000009", 81, 1, 0, 1000000, 0, 0,
	     CR_END_REFUSED);
	conn(db, 3, T0 + 30 * S, 6, 4, CR_DIR_OUT, H1, 40003, "0a00000a", 22, 1, 0, 3 * S, 0, 0,
	     CR_END_TIMEOUT);
	conn(db, 4, T0 + 40 * S, 6, 4, CR_DIR_IN, H1, 22, "0a000007", 50000, 2, 0, -1, 0, 0, 0);
	conn(db, 5, T0 + 50 * S, 6, 6, CR_DIR_OUT, V6A, 40005, V6B, 443, 1, 0, -1, 0, 0, 0);
	conn(db, 6, T0 + 60 * S, 17, 4, CR_DIR_OUT, H1, 53000, "0a000035", 53, 9, 0, 20000000, -1,
	     -1, CR_END_RELEASED);
	conn(db, 9, T0 + 70 * S, 6, 4, CR_DIR_OUT, H1, 40009, "0a000014", 5432, 5, 0, -1, 0, 0, 0);
	conn(db, 10, T0 + 80 * S, 6, 6, CR_DIR_OUT, M1, 40010, M30, 80, 1, 0, 200000000, 100, 900,
	     CR_END_LOCAL_FIN);
	gap(db, 1, T0 + 90 * S, T0 + 91 * S, 7, "ring buffer full");
	/* curl's lookup names flow 1 through a CNAME; the IPv6 socket's flow 10 by its A. */
	dns(db, 100, T0 + 9 * S, 1, "www.example.com", 1, 0, 0);
	dns_rr(db, 100, 5, "www.example.com", 300, NULL, "edge.example-cdn.net");
	dns_rr(db, 100, 1, "edge.example-cdn.net", 60, "5db8d822", NULL);
	dns(db, 102, T0 + 59 * S, 9, "nx.example", 1, 3, 0);
	/* In another namespace: must not name psql's flow 9 to the same address. */
	dns(db, 104, T0 + 65 * S, 4, "other-ns.example", 1, 0, 0);
	dns_rr(db, 104, 1, "other-ns.example", 600, "0a000014", NULL);
	dns(db, 103, T0 + 79 * S, 1, "mapped.example", 1, 0, 0);
	dns_rr(db, 103, 1, "mapped.example", 30, "0a00001e", NULL);
	/* A hostile file's name: escape codes, a comma, quotes and a tab. */
	dns(db, 105, T0 + 85 * S, 10, "evil\x1b[31m,\"x\"\t.example", 28, 2, 4);
	conn_end(db, 4, T0 + 100 * S, 1200, 3400, CR_END_PEER_RST);
	conn_end(db, 5, T0 + 52 * S, 10, 0, CR_END_LOCAL_RST);
	exec(db, "COMMIT");
	seal(db, T0, T0 + 600 * S);
	sqlite3_close(db);
	compress(p);

	/* Segment 2: sealed, not yet compressed (sealing stops between the two). */
	snprintf(p, sizeof(p), "%s/seg-00000002.db", dir);
	db = seg_create(p, "h1", 2, T0 + 600 * S, false);
	exec(db, "BEGIN");
	procs(db);
	lives(db);
	run(db, T0 + 600 * S, 3, 100);
	conn(db, 8, T0, 6, 4, CR_DIR_IN, H1, 22, "0a000008", 51000, 2,
	     CR_FLAG_PREEXISTING | CR_FLAG_CARRIED, -1, 0, 0, 0);
	conn(db, 7, T0 + 5 * S, 6, 4, CR_DIR_LISTEN, ANY4, 8080, ANY4, 0, 4, CR_FLAG_CARRIED, -1, 0,
	     0, 0);
	conn(db, 9, T0 + 70 * S, 6, 4, CR_DIR_OUT, H1, 40009, "0a000014", 5432, 5, CR_FLAG_CARRIED,
	     -1, 0, 0, 0);
	dns(db, 101, T0 + 699 * S, 7, "example.com", 1, 0, 0);
	dns_rr(db, 101, 1, "example.com", 3600, "5db8d822", NULL);
	conn(db, 11, T0 + 700 * S, 6, 4, CR_DIR_OUT, H1, 40011, "5db8d822", 80, 7, 0, 300000000, 50,
	     600, CR_END_PEER_FIN);
	conn(db, 12, T0 + 800 * S, 6, 4, CR_DIR_OUT, H1, 40012, "0a000015", 6379, 10, 0, -1, 0, 0,
	     0);
	conn_end(db, 9, T0 + 1000 * S, 70000, 123456, CR_END_PEER_FIN);
	run(db, T0 + 1200 * S, 2, 100);
	gap(db, 2, T0 + 1200 * S, T0 + 1500 * S, 0, "recorder not running");
	run(db, T0 + 1500 * S, 1, 101);
	conn(db, 13, T0 + 1500 * S, 6, 4, CR_DIR_IN, H1, 22, "0a000008", 51000, 2,
	     CR_FLAG_PREEXISTING, -1, 0, 0, 0);
	exec(db, "COMMIT");
	seal(db, T0, T0 + 1800 * S);
	sqlite3_close(db);

	/*
	 * Segment 3: the active one, as a killed recorder leaves it. Its last rows are only in
	 * the -wal: a reader that ignored the WAL (immutable=1) would miss flows 16 and 17.
	 */
	snprintf(p, sizeof(p), "%s/seg-00000003.db", dir);
	db = seg_create(p, "h1", 3, T0 + 1800 * S, true);
	exec(db, "BEGIN");
	procs(db);
	lives(db);
	run(db, T0 + 1800 * S, 3, 101);
	conn(db, 13, T0 + 1500 * S, 6, 4, CR_DIR_IN, H1, 22, "0a000008", 51000, 2,
	     CR_FLAG_PREEXISTING | CR_FLAG_CARRIED, -1, 0, 0, 0);
	/* Still valid when this segment began: carried, same id. */
	dns(db, 101, T0 + 699 * S, 7, "example.com", 1, 0, CR_DNS_FLAG_CARRIED);
	dns_rr(db, 101, 1, "example.com", 3600, "5db8d822", NULL);
	/* TTL 0: names a flow within the grace period. */
	dns(db, 106, T0 + 1890 * S, 1, "api.example.org", 28, 0, 0);
	dns_rr(db, 106, 28, "api.example.org", 0, V6B, NULL);
	dns(db, 107, T0 + 1890 * S, 1, "api.example.org", 1, 0, 0);
	dns_rr(db, 107, 1, "api.example.org", 0, "0a000016", NULL);
	conn(db, 14, T0 + 1900 * S, 6, 4, CR_DIR_OUT, H1, 40014, "0a000016", 443, 1, 0, 50000000,
	     300, 5000, CR_END_PEER_FIN);
	conn(db, 15, T0 + 1950 * S, 17, 4, CR_DIR_IN, H1, 53, "0a00003c", 40000, 8, 0, -1, 0, 0, 0);
	/* Reset by the peer before anyone accepted it: no owning process (pid 0). */
	conn(db, 18, T0 + 1960 * S, 6, 4, CR_DIR_IN, H1, 8080, "0a000018", 52000, 6, CR_FLAG_NO_PID,
	     100000000, 0, 0, CR_END_PEER_RST);
	exec(db, "COMMIT");
	sqlite3_close(db);
	child = fork();
	if (child == 0) {
		if (sqlite3_open(p, &db) != SQLITE_OK)
			_exit(1);
		exec(db, "PRAGMA wal_autocheckpoint=0");
		exec(db, "BEGIN");
		conn(db, 16, T0 + 1850 * S, 6, 6, CR_DIR_OUT, V6A, 40016, V6B, 22, 2, 0, -1, 0, 0,
		     0);
		conn(db, 17, T0 + 1990 * S, 6, 4, CR_DIR_OUT, H1, 40017, "0a000017", 8443, 11, 0,
		     400000000, 10, 20, CR_END_PEER_RST);
		exec(db, "COMMIT");
		/* No close: the rows stay in the WAL, as after kill -9. */
		_exit(0);
	}
	if (child < 0 || waitpid(child, &st, 0) != child || !WIFEXITED(st) || WEXITSTATUS(st))
		die("writer child failed");

	/* A second host whose conn ids collide with h1's: rows must not merge across hosts. */
	snprintf(p, sizeof(p), "%s/h2", dir);
	if (mkdir(p, 0755) && errno != EEXIST)
		die("mkdir %s", p);
	snprintf(p, sizeof(p), "%s/h2/seg-00000001.db", dir);
	db = seg_create(p, "h2", 1, T0 + 100 * S, false);
	exec(db, "BEGIN");
	procs(db);
	run(db, T0 + 100 * S, 1, 50);
	conn(db, 1, T0 + 105 * S, 6, 4, CR_DIR_OUT, "c0a80002", 40100, "0a000001", 22, 1, 0, 2 * S,
	     10, 20, CR_END_LOCAL_FIN);
	conn(db, 9, T0 + 110 * S, 17, 4, CR_DIR_OUT, "c0a80002", 40101, "08080808", 53, 3, 0,
	     10000000, -1, -1, CR_END_RELEASED);
	run(db, T0 + 200 * S, 2, 50);
	exec(db, "COMMIT");
	seal(db, T0 + 100 * S, T0 + 200 * S);
	sqlite3_close(db);
	compress(p);
}

/* xorshift: reproducible pseudo-random numbers without libc's state. */
static uint64_t rnd_state = 88172645463325252ULL;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static void big(const char *dir, long long flows, int segs, long long end_s, long long span_s)
{
	int64_t t_end = end_s * S, t_start = t_end - span_s * S;
	long long per = flows / segs, id = 1;
	const char *dns_env = getenv("MKFIXTURE_DNS");
	long long dns_every = dns_env ? atoll(dns_env) : 0;
	char p[4096], prev_sha256[65] = "";

	if (mkdir(dir, 0755) && errno != EEXIST)
		die("mkdir %s", dir);
	for (int k = 0; k < segs; k++) {
		int64_t c0 = t_start + (t_end - t_start) / segs * k;
		int64_t c1 = t_start + (t_end - t_start) / segs * (k + 1);
		long long n = k == segs - 1 ? flows - per * (segs - 1) : per;
		bool active = k == segs - 1;
		sqlite3_stmt *st;
		sqlite3 *db;

		snprintf(p, sizeof(p), "%s/seg-%08d.db", dir, k + 1);
		db = seg_create(p, "bench", k + 1, c0, active);
		exec(db, "PRAGMA synchronous=OFF");
		exec(db, "BEGIN");
		/* The hash chain, as the recorder writes it: this segment records the last one's. */
		execf(db, "UPDATE meta SET value = %Q WHERE key = 'prev_sha256'", prev_sha256);
		for (int i = 1; i <= 1000; i++) {
			char comm[16];

			snprintf(comm, sizeof(comm), "proc%d", i);
			proc(db, i, 1000 + i, i % 10 == 0 ? "dnsmasq" : comm, 1000, 4026531840LL,
			     7000 + i % 20);
		}
		run(db, c0, k == 0 ? 1 : 3, 100);
		big_lives(db, c0);
		if (sqlite3_prepare_v2(db,
				       "INSERT INTO conn VALUES (?1, ?2, ?3, 4, ?4, ?5, ?6, ?7, ?8,"
				       " ?9, 0, ?10, ?11, ?12, ?13)",
				       -1, &st, NULL) != SQLITE_OK)
			die("prepare: %s", sqlite3_errmsg(db));
		sqlite3_stmt *dq = NULL, *da = NULL;

		if (dns_every > 0 &&
		    (sqlite3_prepare_v2(db,
					"INSERT INTO dns VALUES (?1, ?2, ?3, 17, 4, X'0a000001', 40000,"
					" X'0a000035', 53, 0, 1, ?4, 1, 0)",
					-1, &dq, NULL) != SQLITE_OK ||
		     sqlite3_prepare_v2(db, "INSERT INTO dns_answer VALUES (?1, 1, ?2, 300, ?3, NULL)",
					-1, &da, NULL) != SQLITE_OK))
			die("prepare: %s", sqlite3_errmsg(db));
		for (long long i = 0; i < n; i++, id++) {
			int64_t start = c0 + (int64_t)((c1 - c0) * (double)i / (double)n);
			bool dns = id % 10 == 0;
			uint32_t l = 0x0a000001, r = (uint32_t)rnd();
			uint8_t la[4] = { l >> 24, l >> 16 & 255, l >> 8 & 255, l & 255 };
			uint8_t ra[4] = { r >> 24, r >> 16 & 255, r >> 8 & 255, r & 255 };
			static const int ports[] = { 443, 80, 22, 5432, 8080, 6379, 3306, 25 };

			sqlite3_bind_int64(st, 1, id);
			sqlite3_bind_int64(st, 2, start);
			sqlite3_bind_int(st, 3, dns ? 17 : 6);
			sqlite3_bind_int(st, 4, dns ? CR_DIR_OUT : (int)(rnd() % 4 == 0));
			sqlite3_bind_blob(st, 5, la, 4, SQLITE_TRANSIENT);
			sqlite3_bind_int(st, 6, 32768 + (int)(rnd() % 28000));
			sqlite3_bind_blob(st, 7, ra, 4, SQLITE_TRANSIENT);
			if (dq && id % dns_every == 0) {
				char name[48];

				/* Its own id space: conn ids are below flows, answers above. */
				snprintf(name, sizeof(name), "h%lld.example.com", id);
				sqlite3_bind_int64(dq, 1, flows + id);
				sqlite3_bind_int64(dq, 2, start - 1000000);
				sqlite3_bind_int(dq, 3, 1 + (int)(id % 1000));
				sqlite3_bind_text(dq, 4, name, -1, SQLITE_TRANSIENT);
				sqlite3_bind_int64(da, 1, flows + id);
				sqlite3_bind_text(da, 2, name, -1, SQLITE_TRANSIENT);
				sqlite3_bind_blob(da, 3, ra, 4, SQLITE_TRANSIENT);
				if (sqlite3_step(dq) != SQLITE_DONE || sqlite3_step(da) != SQLITE_DONE)
					die("insert dns: %s", sqlite3_errmsg(db));
				sqlite3_reset(dq);
				sqlite3_reset(da);
			}
			sqlite3_bind_int(st, 8, dns ? 53 : ports[rnd() % 8]);
			sqlite3_bind_int(st, 9, 1 + (int)(rnd() % 1000));
			/* A folded row is written after its end, so the end lies inside the
			 * segment that holds it (what makes skipping older segments sound). */
			int64_t dur = (int64_t)(rnd() % (5 * S));

			if (start + dur > c1)
				dur = c1 - start;
			sqlite3_bind_int64(st, 10, dur);
			if (dns) {
				sqlite3_bind_null(st, 11);
				sqlite3_bind_null(st, 12);
				sqlite3_bind_int(st, 13, CR_END_RELEASED);
			} else {
				sqlite3_bind_int64(st, 11, (int64_t)(rnd() % 100000));
				sqlite3_bind_int64(st, 12, (int64_t)(rnd() % 1000000));
				sqlite3_bind_int(st, 13, CR_END_LOCAL_FIN + (int)(rnd() % 2));
			}
			if (sqlite3_step(st) != SQLITE_DONE)
				die("insert: %s", sqlite3_errmsg(db));
			sqlite3_reset(st);
		}
		sqlite3_finalize(st);
		sqlite3_finalize(dq);
		sqlite3_finalize(da);
		exec(db, "COMMIT");
		if (!active) {
			exec(db, "PRAGMA journal_mode=DELETE");
			seal(db, c0, c1);
		}
		sqlite3_close(db);
		if (!active)
			compress_hash(p, prev_sha256);
		fprintf(stderr, "mkfixture: segment %d: %lld flows\n", k + 1, n);
	}
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "golden")) {
		golden(argv[2]);
	} else if (argc == 7 && !strcmp(argv[1], "big")) {
		big(argv[2], atoll(argv[3]), atoi(argv[4]), atoll(argv[5]), atoll(argv[6]));
	} else if (argc == 3 && !strcmp(argv[1], "newer")) {
		sqlite3 *db = seg_create(argv[2], "h1", 1, T0, false);

		exec(db, "PRAGMA user_version = 99");
		exec(db, "UPDATE meta SET value = '99' WHERE key = 'schema_version'");
		sqlite3_close(db);
	} else {
		fprintf(stderr,
			"usage: mkfixture golden DIR | big DIR FLOWS SEGMENTS END_S SPAN_S |"
			" newer FILE\n");
		return 2;
	}
	return 0;
}
