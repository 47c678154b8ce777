/* SPDX-License-Identifier: MIT */
/*
 * The numbers the schema stores, named once. Each enum below is the set of values of one
 * column (see docs/schema.md); the SQL files in this directory use the same numbers.
 *
 * The BPF programs produce the conn values as they are (bpf/connrec_event.h includes this
 * header), the store writes them and the query reads them: no layer translates, so no layer
 * may renumber. Plain C, no types: it is included from BPF code too.
 */
#ifndef CONNREC_SCHEMA_VALUES_H
#define CONNREC_SCHEMA_VALUES_H

/* conn.proto: IANA protocol numbers. */
#define CR_PROTO_TCP 6
#define CR_PROTO_UDP 17

/* conn.family: the socket's family (a v4-mapped peer on an AF_INET6 socket stays 6). */
#define CR_FAMILY_V4 4
#define CR_FAMILY_V6 6

/* conn.dir: which way the endpoint faces. */
enum cr_direction {
	CR_DIR_OUT = 0,	   /* we originated it (connect, or first datagram sent) */
	CR_DIR_IN = 1,	   /* the peer originated it (accept, or first datagram received) */
	CR_DIR_LISTEN = 2, /* a listening socket */
};

/*
 * conn.reason and conn_end.reason: how an endpoint ended, as the host saw it. The query derives
 * Zeek's conn_state from this and the direction.
 */
enum cr_end_reason {
	CR_END_NONE = 0,	 /* no end seen */
	CR_END_LOCAL_FIN = 1,	 /* normal close, we sent FIN first (passed FIN_WAIT1) */
	CR_END_PEER_FIN = 2,	 /* normal close, the peer sent FIN first (passed CLOSE_WAIT) */
	CR_END_LOCAL_RST = 3,	 /* we aborted the connection (RST sent) */
	CR_END_PEER_RST = 4,	 /* the peer reset the connection (RST received) */
	CR_END_REFUSED = 5,	 /* active open answered with RST */
	CR_END_TIMEOUT = 6,	 /* active open never answered, or abandoned before an answer */
	CR_END_RELEASED = 7,	 /* UDP socket released, or listener closed */
	CR_END_UNKNOWN = 8,	 /* closed, reason not determinable (e.g. a retransmit timeout) */
	CR_END_IDLE = 9,	 /* UDP flow idle longer than the expiry time; socket still open */
};

/* conn.flags bits. */
#define CR_FLAG_PREEXISTING 0x1 /* found by the start-up socket dump, start not seen */
#define CR_FLAG_CARRIED 0x2	/* copied into a new segment because it was still open */
#define CR_FLAG_NO_PID 0x4	/* no process context was available (e.g. never accepted) */

/* life.flags bits (schema 2). */
#define CR_LIFE_SEEDED 0x1   /* found at start: it existed before recording, exe and args as
				/proc showed them then */
#define CR_LIFE_CARRIED 0x2  /* copied into this segment; first written in an earlier one */
#define CR_LIFE_EXEC 0x4     /* this image began with an exec (else with the fork: the
				parent's exe and args) */
#define CR_LIFE_ARGS_CUT 0x8 /* the command line was longer than what was kept */
#define CR_LIFE_EXE_CUT 0x10 /* the path was longer than what was kept */

/* gap.kind */
enum cr_gap_kind {
	CR_GAP_LOST = 1, /* events dropped; count is known */
	CR_GAP_DOWN = 2, /* recorder not running; count unknown (0) */
	/*
	 * someone else blinded the recorder for a while (a hook detached, its active segment
	 * removed, ...) and it healed; count unknown (0), reason says what (docs/blinding.md)
	 */
	CR_GAP_TAMPER = 3,
};

/* run.kind: the recorder's own lifecycle. */
enum cr_run_kind {
	CR_RUN_START = 1,
	CR_RUN_STOP = 2,
	CR_RUN_SEGMENT = 3, /* a segment was opened */
};

/* The schema version that brought the dns tables (schema/004_dns.sql). */
#define CR_SCHEMA_DNS 4

/* dns_answer.type: the IANA RR type numbers of the records kept. */
#define CR_DNS_TYPE_A 1
#define CR_DNS_TYPE_CNAME 5
#define CR_DNS_TYPE_AAAA 28

/* dns.flags bits. */
#define CR_DNS_FLAG_CARRIED 0x2	/* copied into a new segment because it was still valid */
#define CR_DNS_FLAG_NO_OWNER 0x4 /* the receiving socket's owner was not known */
#define CR_DNS_FLAG_TC 0x8	/* the server set TC: the full answer needs TCP */

/*
 * How long after its TTL an answer still names a flow (docs/query.md, "rname"), and so how
 * long the store carries it into new segments.
 */
#define CR_DNS_GRACE_S 300
/* Longer TTLs count as this long (a week), for naming and carrying alike. */
#define CR_DNS_MAX_TTL_S (7 * 86400)

/* Stringify a value for SQL text: "proto = " CR_SQL(CR_PROTO_TCP). */
#define CR_SQL_(x) #x
#define CR_SQL(x) CR_SQL_(x)

/*
 * A conn row "c" that holds a whole lifetime on its own: not a carried copy, its end folded
 * in. schema/seal.sql's conn_unfolded has exactly its negation as WHERE, so that SQLite's
 * planner sees that a query's NOT (...) implies it; change both together.
 */
#define CR_SQL_WHOLE_ROW "(c.flags & " CR_SQL(CR_FLAG_CARRIED) ") = 0 AND c.reason IS NOT NULL"

#endif /* CONNREC_SCHEMA_VALUES_H */
