/* SPDX-License-Identifier: MIT */
/*
 * The evidence reader: opens segment files of a connrec store safely and reads their rows.
 *
 * Used by `connrec query` and `connrec verify`. Segment files are evidence, possibly copied
 * off a compromised host, so every open:
 *   - never writes beside the file: no -wal, -shm or -journal may appear next to it, and no
 *     file is ever opened read-write. A plain .db without a -wal opens with immutable=1; a hot
 *     -journal beside it is ignored with a warning, never rolled back (a crafted one deletes
 *     the "super-journal" it names). One with a -wal is copied with it into a private 0700
 *     temp dir and opened there, unless it is the active segment of a data dir whose lock a
 *     running recorder holds (SR_OPEN_LIVE, from sr_list_dir(), with -wal and -shm present):
 *     that one opens read-only in place so no committed row is missed. A seekable .db.zst
 *     is read in place through a read-only VFS that decompresses the frames SQLite reads; an
 *     older one is decompressed into a private 0700 temp dir. All private copies of the
 *     process count against one cap on their total size, and each is removed by sr_close();
 *   - sets SQLITE_DBCONFIG_DEFENSIVE, trusted_schema=OFF, triggers and views off,
 *     cell_size_check=ON, mmap_size=0, query_only=ON and tight sqlite3_limit()s;
 *   - checks the header magic, runs PRAGMA quick_check (unless SR_OPEN_NO_CHECK), refuses
 *     foreign databases and newer schema versions, and compares sqlite_schema with the
 *     schema embedded in this binary (schema/NNN_*.sql, plus any of schema/seal.sql).
 *
 * Errors are 0 or -errno, with a one-line human message in the caller's buffer:
 *   -ENOENT/-EACCES/...  the file could not be read
 *   -EBADMSG             not SQLite, damaged, or failed quick_check
 *   -EMEDIUMTYPE         an SQLite database that is not a connrec segment
 *   -EPROTONOSUPPORT     a connrec segment of a newer (or unknown) schema version
 *   -EPROTO              a connrec segment whose schema differs from the expected one
 *   -EFBIG               the private copy would take all copies over the cap
 */
#ifndef CONNREC_STORE_READ_H
#define CONNREC_STORE_READ_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "conn_zones.h"
#include "match_set.h"

/* "no such time" for optional meta times and open window ends. */
#define SR_NO_TIME  INT64_MIN
#define SR_TIME_MAX INT64_MAX

/* sr_open() flags. */
#define SR_OPEN_LIVE	 0x1 /* the active segment of a live data dir (see above) */
#define SR_OPEN_NO_CHECK 0x2 /* skip PRAGMA quick_check (the schema check still runs) */
#define SR_OPEN_NO_COPY	 0x4 /* -EXDEV rather than make a private copy (a cheap look only) */
/*
 * The caller checked that the file is byte for byte what the recorder sealed (its SHA-256 is
 * the one the store's records hold): the counts sealing stored in meta may answer for rows.
 */
#define SR_OPEN_VOUCHED 0x8
/*
 * Run PRAGMA quick_check in a thread of its own, on a second connection, while the caller
 * goes on (only for a file read in place; any other is checked before sr_open() returns).
 * Nothing read from the segment may be trusted, or shown, before sr_check_wait() says 0.
 */
#define SR_OPEN_CHECK_AHEAD 0x10

/* The cap on private copies when none is given: at most this, and at most half the free
 * space of the temp dir's file system (when the first copy is made). */
#define SR_DEFAULT_MAX_UNPACKED (16ULL << 30)

struct sr_open_opts {
	unsigned flags;
	/* Cap on all private copies that exist at once (decompressed .zst, .db with -wal);
	 * 0 = the default above. */
	uint64_t max_unpacked;
	const char *tmpdir; /* where the private temp dir goes; NULL = $TMPDIR or /tmp */
};

/* Segment metadata (the meta table). Missing keys: "" or SR_NO_TIME / -1. */
struct sr_meta {
	int schema_version; /* PRAGMA user_version */
	int64_t segment_id;
	char host[256];
	char boot_id[64];
	char kernel[128];
	char recorder_version[64];
	char prev_sha256[72];
	int64_t clock_offset_ns;
	int64_t created_ns, first_ns, last_ns;
	int64_t conn_whole; /* sealing's count of whole-lifetime conn rows, -1 when none */
	/* Sealing's end zones of those rows (conn_zones.h); n = 0 when none or unreadable. */
	struct conn_zones zones;
	bool zones_bad; /* there is a conn_end_zones, but not in the form the writer writes */
	bool sealed;
};

struct sr_segment;

int sr_open(const char *path, const struct sr_open_opts *opts, struct sr_segment **out,
	    char *errbuf, size_t errlen);
/*
 * The result of a check started by SR_OPEN_CHECK_AHEAD, once it is done: 0 (or none was
 * started), or -EBADMSG with the message sr_open() would have given. Waits for it.
 */
int sr_check_wait(struct sr_segment *seg, char *errbuf, size_t errlen);
/* Whether a check started by SR_OPEN_CHECK_AHEAD has not been waited for yet. */
bool sr_check_pending(const struct sr_segment *seg);
/* Closes the database and removes its private copy, if it has one. Safe on NULL. */
void sr_close(struct sr_segment *seg);
/* Whether the segment is read from a private copy (it takes temp space until sr_close()). */
bool sr_has_copy(const struct sr_segment *seg);

/*
 * A segment's meta without keeping it open, cheaply: a .zst is not decompressed whole (only
 * its first pages, in memory, when they hold the schema and meta; otherwise through a private
 * copy that is removed at once), and PRAGMA quick_check is skipped. For planning which
 * segments to read; sr_open() then checks the ones that are read.
 */
int sr_read_meta(const char *path, const struct sr_open_opts *opts, struct sr_meta *out,
		 char *errbuf, size_t errlen);

/*
 * Removes every private copy (decompressed evidence), from a signal handler:
 * async-signal-safe. The handler should then re-raise the signal with its default action.
 */
void sr_cleanup_on_signal(void);
/* Installs such a handler for SIGINT, SIGTERM, SIGHUP and SIGPIPE (commands call it). */
void sr_cleanup_on_fatal_signals(void);

const struct sr_meta *sr_meta(const struct sr_segment *seg);
/* The hardened read-only handle, for callers with their own checks (verify). */
sqlite3 *sr_db(struct sr_segment *seg);
/* SQLite's last message for this segment, for errors from the iterators below. */
const char *sr_errmsg(struct sr_segment *seg);

/* ---- Data dirs ---- */

struct sr_entry {
	char *path;
	uint64_t seq; /* NNNNNNNN of seg-NNNNNNNN */
	bool zst;     /* .db.zst */
	bool active;  /* the highest-numbered plain .db */
	bool live;    /* active, and a recorder holds the dir's lock: open with SR_OPEN_LIVE */
};

/*
 * The segments of a data dir in sequence order. Other files (*.tmp, the lock, the manifest)
 * are ignored; when seg-N.db and seg-N.db.zst both exist (sealing in progress), the .zst wins.
 * A dir whose lock no recorder holds (a copy, or a store whose recorder is gone) is evidence:
 * none of its entries is live.
 */
int sr_list_dir(const char *dir, struct sr_entry **out, size_t *n, char *errbuf, size_t errlen);
void sr_free_list(struct sr_entry *list, size_t n);

/* ---- Rows ---- */

/* One conn row with its end, if this segment has one (folded in, or in conn_end). */
struct sr_conn {
	int64_t id;
	int64_t start_ns;
	int64_t end_ns;		      /* valid when has_end */
	uint64_t bytes_out, bytes_in; /* valid when has_bytes */
	uint64_t cgroup;
	uint64_t pstart_ns; /* with pid, the key of the owner's process life; 0 when unknown */
	uint32_t pid, uid, netns;
	uint16_t lport, rport;
	uint8_t proto, family, dir, flags, reason;
	uint8_t laddr_len, raddr_len; /* 4 or 16; anything else means a damaged row */
	bool has_end, has_bytes;
	bool end_folded; /* the end is in the conn row itself, not in a conn_end row */
	uint8_t laddr[16], raddr[16];
	char comm[17];
};

/*
 * What a caller wants; the reader turns it into SQL so indexes do the work. It is a
 * prefilter: it returns every row that could match once rows are merged across segments
 * (carried copies are always returned in the window), so callers re-check in C.
 * Unset lists (n == 0) and the defaults below match everything.
 */
struct sr_conn_filter {
	int64_t since, until; /* overlap window; SR_NO_TIME / SR_TIME_MAX for open ends */
	const struct addr_port_range *ports, *lports, *rports;
	size_t n_ports, n_lports, n_rports;
	const struct addr_cidr *addrs;
	size_t n_addrs;
	int proto; /* 0 = any */
	int dir;   /* -1 = any */
	const uint32_t *pids, *uids, *netns;
	size_t n_pids, n_uids, n_netns;
	const uint64_t *cgroups;
	size_t n_cgroups;
	const char *comm; /* an fnmatch() pattern (an exact name is one too); NULL = any */
	/*
	 * The lists above as sets (sr_match_sets_build()), built once by a caller that reads
	 * many segments; NULL: each call builds its own from the lists.
	 */
	const struct match_sets *sets;
	/* Only sr_count_folded() uses these (-1 = unset): exact there, where the end is known. */
	int64_t min_dur, max_dur, short_lived;
	bool skip_folded; /* sr_conns(): leave out what sr_count_folded() counts */
};

void sr_conn_filter_init(struct sr_conn_filter *f);
/* The sets of f's lists (lib/match_set.h), for f->sets and for matching in C. */
int sr_match_sets_build(const struct sr_conn_filter *f, struct match_sets *out);

/*
 * How sr_filter_sql() writes a filter in one SQL dialect: the expressions that name what a
 * condition tests (on the rows that sr_conns() returns), and how values are written.
 */
struct sr_sql_dialect {
	const char *folded;	/* true for a row complete on its own (not carried, end in it) */
	const char *carried;	/* non-zero for a carried copy */
	const char *start;	/* start_ns */
	const char *folded_end; /* the end of a folded row */
	const char *end;	/* the end the segment knows, NULL when none */
	const char *dur;	/* the duration of a folded row */
	const char *lport, *rport, *laddr, *raddr, *proto, *dir;
	const char *pid, *uid, *netns, *cgroup, *comm;
	/* Appends a value to s: a parameter to bind, or an escaped literal. */
	void (*put_int)(void *ctx, sqlite3_str *s, int64_t v);
	void (*put_blob)(void *ctx, sqlite3_str *s, const uint8_t *v, int len);
	/*
	 * A list's condition as one test of its set (" AND ..."), or nothing when the dialect
	 * leaves a list too long to write to C: true. false: the caller writes the list out.
	 */
	bool (*put_port_set)(void *ctx, sqlite3_str *s, size_t n_ranges, const struct port_set *set,
			     const char *col, const char *col2);
	bool (*put_addr_set)(void *ctx, sqlite3_str *s, const struct addr_set *set,
			     const char *col, const char *col2);
	bool (*put_num_set)(void *ctx, sqlite3_str *s, const struct num_set *set, const char *col);
	/* Appends " AND " and col matched against the fnmatch() pattern, or nothing (C judges). */
	void (*put_glob)(void *ctx, sqlite3_str *s, const char *col, const char *pattern);
};

/*
 * Appends the conditions of f to s as " AND ..." terms in dialect d (ctx goes to d's value
 * writers), its lists tested against the sets m (sr_match_sets_build()). FOLDED: only the rows
 * complete on their own, where the window and duration bounds are exact; otherwise every row
 * the merge may need (a superset).
 */
void sr_filter_sql(sqlite3_str *s, const struct sr_conn_filter *f, const struct match_sets *m,
		   bool folded, const struct sr_sql_dialect *d, void *ctx);

/* Calls cb for each row, in no particular order; a non-zero return from cb stops and is
 * returned. Errors while reading (a damaged page) return -EBADMSG; see sr_errmsg(). */
int sr_conns(struct sr_segment *seg, const struct sr_conn_filter *f,
	     int (*cb)(const struct sr_conn *row, void *ctx), void *ctx);

/*
 * Counts the rows complete on their own (not carried, end folded into the row), which need
 * no merge: the fast path of `query --count`. Exact for the window, durations, ports, proto,
 * direction, address and process conditions (SQL tests the same sets and calls the same
 * fnmatch() as the C filter). Pair it with sr_conns(skip_folded) for the rest.
 */
int sr_count_folded(struct sr_segment *seg, const struct sr_conn_filter *f, uint64_t *count);
/*
 * Whether sr_count_folded() and sr_conns(skip_folded) together cost less for seg than one
 * sr_conns() of every row. Not when the segment has no conn_unfolded (the active one, or one
 * sealed before it) and f asks for a port or a process: the count and the search for the
 * other rows would be two scans of conn, where one scan hands C only the few rows that match
 * (bench/RESULTS.md, issue 16 step 5). Without such a needle most rows may match, and
 * handing each to C costs more than a second scan.
 */
bool sr_count_pays(struct sr_segment *seg, const struct sr_conn_filter *f);

struct sr_end {
	int64_t id, end_ns;
	uint64_t bytes_out, bytes_in;
	bool has_bytes;
	uint8_t reason;
};

/* The conn_end row of one connection: 1 found (*out set), 0 none, or -EBADMSG. */
int sr_end_by_id(struct sr_segment *seg, int64_t id, struct sr_end *out);

/* conn_end rows with since <= end_ns <= until, ordered by end_ns. */
int sr_ends(struct sr_segment *seg, int64_t since, int64_t until,
	    int (*cb)(const struct sr_end *row, void *ctx), void *ctx);

struct sr_gap {
	int64_t id, start_ns, end_ns;
	uint64_t count;
	int kind; /* enum cr_gap_kind: 1 lost, 2 down, 3 tamper */
	char reason[128];
};

/* "lost", "down", "tamper", or "?" for a kind this connrec does not know. */
const char *sr_gap_kind_name(int kind);

/* Gap rows overlapping [since, until], ordered by start_ns. */
int sr_gaps(struct sr_segment *seg, int64_t since, int64_t until,
	    int (*cb)(const struct sr_gap *row, void *ctx), void *ctx);

/* ---- Process lives (schema version 2; a version-1 segment has none) ---- */

#define SR_EXE_MAX 1024	 /* longer stored paths are cut (the recorder keeps 255 bytes) */
#define SR_ARGS_MAX 1280 /* longer stored command lines are cut (the recorder keeps ~1 KB) */

/* One life row: an image of a process life (see docs/schema.md). */
struct sr_life {
	int64_t id, start_ns, image_ns, exit_ns; /* exit_ns valid when has_exit */
	uint64_t pstart_ns, ppstart_ns, cgroup;
	int64_t exit_code;
	uint32_t pid, ppid, uid, flags;
	bool has_exit;
	char comm[17], pcomm[17];
	char exe[SR_EXE_MAX], args[SR_ARGS_MAX];
};

/* Every life row, in no particular order. */
int sr_lives(struct sr_segment *seg, int (*cb)(const struct sr_life *row, void *ctx), void *ctx);

struct sr_life_exit {
	int64_t id, exit_ns, exit_code;
	uint64_t pstart_ns;
	uint32_t pid;
};

/* Every life_exit row. */
int sr_life_exits(struct sr_segment *seg, int (*cb)(const struct sr_life_exit *row, void *ctx),
		  void *ctx);

struct sr_cgroup {
	uint64_t id;
	char path[512], container[80], unit[256];
};

/* Every cgroup row. */
int sr_cgroups(struct sr_segment *seg, int (*cb)(const struct sr_cgroup *row, void *ctx),
	       void *ctx);

/* ---- Checkpoint and seal records (schema version 3; none before) ---- */

#define SR_ANCHOR_LINE_MAX 1024 /* a longer line is cut (the recorder writes at most 900 bytes) */

/* One row of the anchor table: an anchor line as it was sent (docs/store.md). */
struct sr_anchor {
	int64_t id, ts_ns;
	char kind[16]; /* "checkpoint" or "seal" */
	char line[SR_ANCHOR_LINE_MAX];
};

/* Every anchor row, ordered by id. */
int sr_anchors(struct sr_segment *seg, int (*cb)(const struct sr_anchor *row, void *ctx),
	       void *ctx);

struct sr_run {
	int64_t id, ts_ns;
	int kind; /* 1 start, 2 stop, 3 segment opened */
	uint32_t pid;
	char version[64];
};

/* All run rows, ordered by ts_ns. */
int sr_runs(struct sr_segment *seg, int (*cb)(const struct sr_run *row, void *ctx), void *ctx);

/* ---- DNS answers (schema version 3; an older segment has none) ---- */

#define SR_DNS_MAX_RRS 128   /* records per answer handed out; a file may hold more */
#define SR_DNS_NAME_MAX 1025 /* a name's text and its NUL; a longer stored one is cut */

struct sr_dns_rr {
	uint16_t type; /* 1 A, 5 CNAME, 28 AAAA */
	uint32_t ttl;
	uint8_t addr_len; /* 4 (A) or 16 (AAAA); 0 otherwise, or for a damaged address */
	uint8_t addr[16];
	const char *name;
	const char *target; /* CNAME: the canonical name; NULL otherwise */
};

struct sr_dns {
	int64_t id, ts_ns;
	uint64_t cgroup;
	uint32_t pid, uid, netns;
	uint16_t lport, rport, txid, qtype, rcode;
	uint8_t proto, family, flags;
	uint8_t laddr_len, raddr_len; /* 4 or 16; anything else means a damaged row */
	uint8_t laddr[16], raddr[16];
	char comm[17];
	const char *qname;
	const struct sr_dns_rr *rrs;
	size_t n_rrs;
	size_t n_rrs_dropped; /* records beyond SR_DNS_MAX_RRS */
};

/*
 * DNS answers with since <= ts_ns <= until, by id, each with its records in stored order.
 * The strings and records are valid during the callback only.
 */
int sr_dns(struct sr_segment *seg, int64_t since, int64_t until,
	   int (*cb)(const struct sr_dns *row, void *ctx), void *ctx);

#endif /* CONNREC_STORE_READ_H */
