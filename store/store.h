/* SPDX-License-Identifier: MIT */
/*
 * The store: the only module that speaks SQL to a connrec data directory.
 *
 * Writer side (the recorder): rows are queued in memory with store_add_*() and written in one
 * transaction by store_flush(). A failed flush (disk full, ...) keeps the queue, so nothing is
 * lost while the caller retries later. Rotation, sealing and retention hang off store_flush();
 * the caller never sees segments. Call store_flush() every 100-200 ms even when nothing was
 * added: it also picks up finished seals, rotates by age and applies retention.
 *
 * Data dir layout (see docs/store.md): connrec.lock, seg-NNNNNNNN.db (the highest-numbered
 * plain .db is the active segment; lower ones wait to be sealed), seg-NNNNNNNN.db.zst (sealed),
 * plus helper files that are never segments: connrec.status, connrec.id, connrec.sealed
 * (manifest), connrec.reserve, *.tmp, and SQLite's -wal/-shm/-journal companions.
 */
#ifndef CONNREC_STORE_H
#define CONNREC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "schema_values.h"

#define STORE_SCHEMA_VERSION 4
#define STORE_DEFAULT_DIR "/var/lib/connrec"
#define STORE_LOCK_NAME "connrec.lock"

/* Defaults for a production server (documented in docs/store.md). */
#define STORE_DEFAULT_ROTATE_SIZE (64ULL << 20)		 /* 64 MiB active segment */
#define STORE_DEFAULT_ROTATE_AGE_NS (3600LL * 1000000000)	 /* or 1 hour */
#define STORE_DEFAULT_RETAIN_SIZE (4ULL << 30)		 /* 4 GiB of sealed segments */
#define STORE_DEFAULT_RETAIN_AGE_NS (30LL * 86400 * 1000000000) /* or 30 days */
#define STORE_DEFAULT_MAX_QUEUED (1U << 20)		 /* rows held while the disk is full */
#define STORE_DEFAULT_CHECKPOINT_NS (15LL * 60 * 1000000000) /* a checkpoint at least this often */

/* One endpoint lifetime start, as the recorder hands it to the store. */
struct store_conn {
	uint64_t id;
	int64_t start_ns; /* wall clock */
	uint8_t proto;	  /* 6 or 17 */
	uint8_t family;	  /* 4 or 6 */
	uint8_t dir;	  /* enum cr_direction */
	uint8_t flags;	  /* CR_FLAG_* */
	uint8_t laddr[16];
	uint8_t raddr[16];
	uint16_t lport, rport;
	uint32_t pid, uid, netns;
	uint64_t cgroup;
	/*
	 * The owner's start, ns since boot (cr_event.pstart_ns): with pid, its process life
	 * (struct store_life). 0, or a start-up dump's that names no life: the pid's running one.
	 */
	uint64_t pstart_ns;
	char comm[16]; /* NUL-terminated */
	/* Set has_end when the end is already known (short-lived flow: one row). */
	bool has_end;
	int64_t end_ns;
	uint64_t bytes_out, bytes_in;
	bool has_bytes; /* false: bytes unknown (UDP), stored as NULL */
	uint8_t reason; /* enum cr_end_reason */
};

struct store_end {
	uint64_t id;
	int64_t end_ns;
	uint64_t bytes_out, bytes_in;
	bool has_bytes; /* false: bytes unknown (UDP), stored as NULL */
	uint8_t reason;
};

/*
 * One image of a process life (schema/002): what a fork, an exec or the start-up seed showed.
 * (pid, pstart_ns) is the key; wall-clock times.
 */
struct store_life {
	uint32_t pid, ppid, uid;
	uint64_t pstart_ns, ppstart_ns, cgroup;
	int64_t start_ns; /* the process started */
	int64_t image_ns; /* this image began (the exec; start_ns for a fork or a seed) */
	uint16_t flags;	  /* CR_LIFE_* */
	char comm[16], pcomm[16]; /* NUL-terminated */
	/* NUL-terminated; copied. A fork passes NULL for both: the parent's image is copied. */
	const char *exe;
	const char *args;
};

/* What a cgroup id names, for the cgroup table. */
struct store_cgroup {
	char path[512];	    /* below the cgroup v2 root; "" when unknown */
	char container[80]; /* "" when none */
	char unit[256];	    /* "" when none */
};

/* Fills OUT for cgroup ID; called once per cgroup and segment that references it. */
typedef void (*store_cgroup_fn)(void *ctx, uint64_t id, struct store_cgroup *out);
struct anchor;

/* One A, AAAA or CNAME record of a DNS answer. */
struct store_dns_rr {
	uint16_t type; /* CR_DNS_TYPE_* */
	uint32_t ttl;
	uint8_t addr[16];   /* A: first 4 bytes; AAAA: 16 */
	const char *name;   /* owner name */
	const char *target; /* CNAME only; NULL otherwise */
};

/*
 * A DNS response a local socket received, with the socket's owner. store_add_dns() copies
 * everything it points to.
 */
struct store_dns {
	uint64_t id; /* from the conn id counter: unique across the store */
	int64_t ts_ns;
	uint32_t pid, uid, netns; /* the owner; all 0 with CR_DNS_FLAG_NO_OWNER */
	uint64_t cgroup;
	uint64_t pstart_ns; /* the owner's start, as store_conn.pstart_ns */
	char comm[16];
	uint8_t proto, family, flags; /* flags: CR_DNS_FLAG_* */
	uint8_t laddr[16], raddr[16];
	uint16_t lport, rport;
	uint16_t txid, qtype, rcode;
	const char *qname;
	const struct store_dns_rr *rrs;
	size_t n_rrs;
};

struct store_opts {
	const char *dir;
	uint64_t rotate_size;	 /* bytes; 0 = default */
	int64_t rotate_age_ns;	 /* 0 = default */
	uint64_t retain_size;	 /* bytes of sealed segments; 0 = default, UINT64_MAX = no limit */
	int64_t retain_age_ns;	 /* 0 = default, < 0 = no limit */
	const char *version;	 /* recorder version string for meta/run rows */
	/*
	 * Rows held in memory while flushes fail (disk full). Beyond it the oldest rows are
	 * dropped and counted in a "lost" gap. 0 = default.
	 */
	uint64_t max_queued;
	/* Names cgroups for the cgroup table; NULL leaves every path empty. */
	store_cgroup_fn cgroup_name;
	void *cgroup_ctx;
	/*
	 * Record into a DIR owned by another user or writable by group or others. Refused
	 * otherwise (-EPERM, with the reason logged): whoever can write there can plant symlinks
	 * under the store's names and delete or rewrite segments.
	 */
	bool allow_unsafe_dir;
	/* Where start, stop, checkpoint and seal lines go (anchor.h); NULL: nowhere. */
	struct anchor *anchor;
	/* A checkpoint of the active segment at least this often; 0 = default (15 min). */
	int64_t checkpoint_every_ns;
	/*
	 * The sealing key file (connrec keygen). NULL: DIR/connrec.key when it exists, else the
	 * records are made without a MAC. Given explicitly, it must exist.
	 */
	const char *key_file;
};

/* Counters the store keeps; status and the recorder read them, nobody recomputes them. */
struct store_stats {
	uint64_t conns_written, ends_written, gaps_written, dns_written;
	uint64_t flush_failures; /* flushes that failed and were kept for retry */
	uint64_t queued;	 /* rows waiting in memory */
	uint64_t segments_sealed;
	uint64_t rows_dropped;	 /* dropped from a full queue (disk full), also in a lost gap */
	uint64_t lost_events;	 /* sum of the counts of every lost gap added or made this run */
	uint64_t rows_rejected;	 /* rows SQLite refused (e.g. a duplicate conn id); logged */
	uint64_t segments_deleted; /* by retention */
	uint64_t lives_written;	   /* life rows (process images) written */
	uint64_t lives_known;	   /* process lives held in memory */
	uint64_t tamper_events;	   /* tamper gaps recorded this run (store_add_tamper) */
	uint64_t carried_rows;	 /* open connections copied into a new segment (store_carry.c) */
	uint64_t carry_ns;	 /* how long the last such copy took */
	uint32_t active_seq;	 /* number of the active segment */
	uint64_t records_made;	 /* checkpoint and seal records */
	int64_t seal_epoch;	 /* the sealing key's next epoch; -1 when there is no key */
};

struct store;

/*
 * Create DIR if needed, take the exclusive lock (-EBUSY if another recorder holds it), open
 * or create the active segment, record a "start" run row and, if the previous run ended
 * uncleanly, a "down" gap from its last write to now. Returns 0 or -errno.
 */
int store_open(struct store **out, const struct store_opts *opts);

/* Queue rows. They cannot fail except for memory (-ENOMEM). */
int store_add_conn(struct store *s, const struct store_conn *c);
int store_add_end(struct store *s, const struct store_end *e);
int store_add_gap(struct store *s, enum cr_gap_kind kind, int64_t start_ns, int64_t end_ns,
		  uint64_t count, const char *reason);
int store_add_dns(struct store *s, const struct store_dns *d);

/*
 * Process lives. A life that began (fork, or found by the start-up seed) or exec'd is written
 * at the next flush, with its exit folded in when that came first; later segments get it again
 * when something in them refers to it. Cannot fail except for memory (-ENOMEM).
 */
int store_life_begin(struct store *s, const struct store_life *l);
int store_life_exec(struct store *s, const struct store_life *l);
int store_life_exit(struct store *s, uint32_t pid, uint64_t pstart_ns, int64_t exit_ns,
		    uint32_t exit_code);

/*
 * Forgets the running lives that ALIVE says are gone: their exit was lost (a full ring), so
 * nothing would ever end them. Their end is not stored (it is not known). Returns how many.
 */
typedef bool (*store_alive_fn)(void *ctx, uint32_t pid, int64_t start_ns);
size_t store_lives_sweep(struct store *s, store_alive_fn alive, void *ctx);

/*
 * Someone else blinded the recorder from START_NS (the last check that found everything in
 * place) to END_NS (when it was healed): WHAT says which hook or file and what was done. Queues
 * a gap of kind tamper, counts it for status, and logs it. (docs/blinding.md)
 */
int store_add_tamper(struct store *s, int64_t start_ns, int64_t end_ns, const char *what);

/*
 * Checks, with a few stat calls, that the data dir and the active segment's files are still the
 * ones the store made; call it about once a second. When they were removed or replaced it
 * saves the old segment's rows from the open file, moves recording into a new segment and
 * records a tamper gap. Returns 0 when all was in place, 1 when it healed something, -errno
 * when it could not (said once; the next call tries again).
 */
int store_check_files(struct store *s);

/*
 * Write every queued row in one transaction. On failure (e.g. -ENOSPC) the rows stay queued
 * and the next call retries them. May rotate the active segment afterwards.
 */
int store_flush(struct store *s);

/* The first connection id this run may use (one past the largest id in the store). */
uint64_t store_next_conn_id(const struct store *s);

const struct store_stats *store_get_stats(const struct store *s);

/* Flush, write the "stop" run row, release the lock. Safe on NULL. */
int store_close(struct store *s);

#endif /* CONNREC_STORE_H */
