// SPDX-License-Identifier: MIT
#include "output.h"

#include <inttypes.h>
#include <string.h>

#include "escape.h"
#include "schema_values.h"
#include "timespec.h"

/*
 * One row as typed values, so json and csv print the very same names and values from one
 * list and cannot drift apart.
 */
enum val_type { V_NULL, V_INT, V_UINT, V_STR, V_BOOL, V_DEC };

struct val {
	const char *name;
	enum val_type t;
	int64_t i;
	uint64_t u;
	const char *s;
};

#define MAX_VALS 32

struct row {
	struct val v[MAX_VALS];
	int n;
	char laddr[ADDR_STRLEN], raddr[ADDR_STRLEN];
};

static void put(struct row *r, const char *name, enum val_type t, int64_t i, uint64_t u,
		const char *s)
{
	if (r->n < MAX_VALS)
		r->v[r->n++] = (struct val){ name, t, i, u, s };
}

static const char *host_name(const struct out_ctx *o, uint32_t host)
{
	return host < o->n_hosts ? o->hosts[host] : "";
}

static const char *end_status(const struct flow *f)
{
	return f->end == FLOW_END_CLOSED ? "closed" : f->end == FLOW_END_OPEN ? "open" : "unknown";
}

/* Bytes are only meaningful once the end is seen, and only where the kernel counts them. */
static bool bytes_known(const struct flow *f)
{
	return f->end == FLOW_END_CLOSED && f->has_bytes;
}

static void flow_row(const struct out_ctx *o, const struct flow *f, struct row *r)
{
	bool closed = f->end == FLOW_END_CLOSED;
	const char *reason = flow_reason(f);

	r->n = 0;
	addr_format(f->laddr, f->laddr_len, r->laddr);
	addr_format(f->raddr, f->raddr_len, r->raddr);
	put(r, "start_ns", V_INT, f->start_ns, 0, NULL);
	put(r, "end_ns", closed ? V_INT : V_NULL, f->end_ns, 0, NULL);
	put(r, "duration_s", closed ? V_DEC : V_NULL, f->end_ns - f->start_ns, 0, NULL);
	put(r, "proto", V_STR, 0, 0, flow_proto(f->proto));
	put(r, "family", V_INT, f->family, 0, NULL);
	put(r, "direction", V_STR, 0, 0, flow_direction(f->dir));
	put(r, "laddr", V_STR, 0, 0, r->laddr);
	put(r, "lport", V_INT, f->lport, 0, NULL);
	put(r, "raddr", V_STR, 0, 0, r->raddr);
	put(r, "rport", V_INT, f->rport, 0, NULL);
	put(r, "pid", V_INT, f->pid, 0, NULL);
	put(r, "comm", V_STR, 0, 0, f->comm);
	put(r, "uid", V_INT, f->uid, 0, NULL);
	put(r, "netns", V_INT, f->netns, 0, NULL);
	put(r, "cgroup", V_UINT, 0, f->cgroup, NULL);
	put(r, "bytes_out", bytes_known(f) ? V_UINT : V_NULL, 0, f->bytes_out, NULL);
	put(r, "bytes_in", bytes_known(f) ? V_UINT : V_NULL, 0, f->bytes_in, NULL);
	put(r, "state", V_STR, 0, 0, flow_state(f));
	put(r, "preexisting", V_BOOL, (f->flags & CR_FLAG_PREEXISTING) != 0, 0, NULL);
	put(r, "host", V_STR, 0, 0, host_name(o, f->host));
	put(r, "conn_id", V_INT, f->id, 0, NULL);
	put(r, "end_status", V_STR, 0, 0, end_status(f));
	put(r, "reason", reason ? V_STR : V_NULL, 0, 0, reason);
}

static void gap_row(const struct out_ctx *o, const struct out_gap *g, struct row *r)
{
	r->n = 0;
	put(r, "kind", V_STR, 0, 0, sr_gap_kind_name(g->kind));
	put(r, "start_ns", V_INT, g->start_ns, 0, NULL);
	put(r, "end_ns", V_INT, g->end_ns, 0, NULL);
	put(r, "count", V_UINT, 0, g->count, NULL);
	put(r, "host", V_STR, 0, 0, host_name(o, g->host));
	put(r, "reason", V_STR, 0, 0, g->reason);
}

static void event_row(const struct out_ctx *o, const struct out_event *e, struct row *r)
{
	const struct flow *f = &e->flow;
	bool fl = e->has_flow, close = fl && !strcmp(e->kind, "close");

	r->n = 0;
	addr_format(f->laddr, f->laddr_len, r->laddr);
	addr_format(f->raddr, f->raddr_len, r->raddr);
	put(r, "ts_ns", V_INT, e->ts_ns, 0, NULL);
	put(r, "event", V_STR, 0, 0, e->kind);
	put(r, "host", V_STR, 0, 0, host_name(o, e->host));
	put(r, "conn_id", e->conn_id >= 0 ? V_INT : V_NULL, e->conn_id, 0, NULL);
	put(r, "proto", fl ? V_STR : V_NULL, 0, 0, flow_proto(f->proto));
	put(r, "direction", fl ? V_STR : V_NULL, 0, 0, flow_direction(f->dir));
	put(r, "laddr", fl ? V_STR : V_NULL, 0, 0, r->laddr);
	put(r, "lport", fl ? V_INT : V_NULL, f->lport, 0, NULL);
	put(r, "raddr", fl ? V_STR : V_NULL, 0, 0, r->raddr);
	put(r, "rport", fl ? V_INT : V_NULL, f->rport, 0, NULL);
	put(r, "pid", fl ? V_INT : V_NULL, f->pid, 0, NULL);
	put(r, "comm", fl ? V_STR : V_NULL, 0, 0, f->comm);
	put(r, "flags", fl ? V_INT : V_NULL, f->flags, 0, NULL);
	put(r, "reason", close ? V_STR : V_NULL, 0, 0, close ? flow_reason(f) : NULL);
	put(r, "bytes_out", close && f->has_bytes ? V_UINT : V_NULL, 0, f->bytes_out, NULL);
	put(r, "bytes_in", close && f->has_bytes ? V_UINT : V_NULL, 0, f->bytes_in, NULL);
	put(r, "end_ns", e->conn_id < 0 && e->end_ns ? V_INT : V_NULL, e->end_ns, 0, NULL);
	put(r, "count", e->conn_id < 0 && e->end_ns ? V_UINT : V_NULL, 0, e->count, NULL);
	put(r, "detail", e->detail[0] ? V_STR : V_NULL, 0, 0, e->detail);
}

/* ---- Text escaping ---- */

/* JSON strings: bytes that are not printable ASCII become \u00XX, so any comm stays valid. */
static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static void dec_ns(char *buf, size_t len, int64_t ns, int digits)
{
	int64_t div = 1;
	bool neg = ns < 0;
	uint64_t a = neg ? -(uint64_t)ns : (uint64_t)ns;

	for (int i = digits; i < 9; i++)
		div *= 10;
	snprintf(buf, len, "%s%" PRIu64 ".%0*" PRIu64, neg ? "-" : "", a / UINT64_C(1000000000),
		 digits, (a % UINT64_C(1000000000)) / (uint64_t)div);
}

static void val_text(const struct val *v, char *buf, size_t len)
{
	switch (v->t) {
	case V_NULL:
		buf[0] = '\0';
		break;
	case V_INT:
		snprintf(buf, len, "%" PRId64, v->i);
		break;
	case V_UINT:
		snprintf(buf, len, "%" PRIu64, v->u);
		break;
	case V_BOOL:
		snprintf(buf, len, "%s", v->i ? "true" : "false");
		break;
	case V_DEC:
		dec_ns(buf, len, v->i, 9);
		break;
	case V_STR:
		cr_escape(v->s, buf, len);
		break;
	}
}

/* ---- json ---- */

static void json_line(FILE *f, const struct row *r)
{
	char buf[64];

	fputc('{', f);
	for (int i = 0; i < r->n; i++) {
		const struct val *v = &r->v[i];

		fprintf(f, "%s\"%s\":", i ? "," : "", v->name);
		if (v->t == V_STR)
			json_str(f, v->s);
		else if (v->t == V_NULL)
			fputs("null", f);
		else {
			val_text(v, buf, sizeof(buf));
			fputs(buf, f);
		}
	}
	fputs("}\n", f);
}

static void json_flows(const struct out_ctx *o, const struct flow *v, size_t n)
{
	struct row r;

	for (size_t i = 0; i < n; i++) {
		flow_row(o, &v[i], &r);
		json_line(o->f, &r);
	}
}

static void json_gaps(const struct out_ctx *o, const struct out_gap *v, size_t n)
{
	struct row r;

	for (size_t i = 0; i < n; i++) {
		gap_row(o, &v[i], &r);
		json_line(o->f, &r);
	}
}

static void json_events(const struct out_ctx *o, const struct out_event *v, size_t n)
{
	struct row r;

	for (size_t i = 0; i < n; i++) {
		event_row(o, &v[i], &r);
		json_line(o->f, &r);
	}
}

/* ---- csv (RFC 4180: quote when needed, double the quotes) ---- */

static void csv_line(FILE *f, const struct row *r, bool header)
{
	char buf[512];

	for (int i = 0; i < r->n; i++) {
		const char *s = header ? r->v[i].name : buf;

		if (!header)
			val_text(&r->v[i], buf, sizeof(buf));
		if (i)
			fputc(',', f);
		if (strpbrk(s, ",\"")) {
			fputc('"', f);
			for (; *s; s++) {
				if (*s == '"')
					fputc('"', f);
				fputc(*s, f);
			}
			fputc('"', f);
		} else {
			fputs(s, f);
		}
	}
	fputc('\n', f);
}

static void csv_flows(const struct out_ctx *o, const struct flow *v, size_t n)
{
	struct flow dummy = { 0 };
	struct row r;

	flow_row(o, &dummy, &r);
	csv_line(o->f, &r, true);
	for (size_t i = 0; i < n; i++) {
		flow_row(o, &v[i], &r);
		csv_line(o->f, &r, false);
	}
}

static void csv_gaps(const struct out_ctx *o, const struct out_gap *v, size_t n)
{
	struct out_gap dummy = { 0 };
	struct row r;

	gap_row(o, &dummy, &r);
	csv_line(o->f, &r, true);
	for (size_t i = 0; i < n; i++) {
		gap_row(o, &v[i], &r);
		csv_line(o->f, &r, false);
	}
}

static void csv_events(const struct out_ctx *o, const struct out_event *v, size_t n)
{
	struct out_event dummy = { .kind = "" };
	struct row r;

	event_row(o, &dummy, &r);
	csv_line(o->f, &r, true);
	for (size_t i = 0; i < n; i++) {
		event_row(o, &v[i], &r);
		csv_line(o->f, &r, false);
	}
}

/* ---- table (for people: local time, short durations, aligned columns) ---- */

#define TCOLS 14
#define TCELL 96

static const char *const flow_heads[TCOLS] = {
	"START", "DURATION", "PROTO", "DIR", "LOCAL", "REMOTE", "STATE",
	"PID",	 "COMM",     "UID",   "OUT", "IN",    "NETNS",	"HOST",
};

static void endpoint(char *buf, size_t len, const char *addr, uint16_t port, bool v6)
{
	if (v6)
		snprintf(buf, len, "[%s]:%u", addr, port);
	else
		snprintf(buf, len, "%s:%u", addr, port);
}

static void table_cells(const struct out_ctx *o, const struct flow *f, char c[TCOLS][TCELL])
{
	char a[ADDR_STRLEN];

	ts_format_time(f->start_ns, TS_FMT_MILLI, c[0], TCELL);
	if (f->end == FLOW_END_CLOSED)
		ts_format_duration(f->end_ns - f->start_ns, c[1], TCELL);
	else
		snprintf(c[1], TCELL, "%s", f->end == FLOW_END_OPEN ? "open" : "unknown");
	snprintf(c[2], TCELL, "%s", flow_proto(f->proto));
	snprintf(c[3], TCELL, "%s", flow_direction(f->dir));
	addr_format(f->laddr, f->laddr_len, a);
	endpoint(c[4], TCELL, a, f->lport, f->laddr_len == 16);
	addr_format(f->raddr, f->raddr_len, a);
	endpoint(c[5], TCELL, a, f->rport, f->raddr_len == 16);
	snprintf(c[6], TCELL, "%s", flow_state(f));
	snprintf(c[7], TCELL, "%" PRIu32, f->pid);
	cr_escape(f->comm, c[8], TCELL);
	snprintf(c[9], TCELL, "%" PRIu32, f->uid);
	if (bytes_known(f)) {
		snprintf(c[10], TCELL, "%" PRIu64, f->bytes_out);
		snprintf(c[11], TCELL, "%" PRIu64, f->bytes_in);
	} else {
		snprintf(c[10], TCELL, "-");
		snprintf(c[11], TCELL, "-");
	}
	snprintf(c[12], TCELL, "%" PRIu32, f->netns);
	cr_escape(host_name(o, f->host), c[13], TCELL);
}

static void table_print(FILE *f, char c[TCOLS][TCELL], const size_t *w, int ncols)
{
	for (int k = 0; k < ncols; k++) {
		if (k == ncols - 1)
			fprintf(f, "%s\n", c[k]);
		else
			fprintf(f, "%-*s  ", (int)w[k], c[k]);
	}
}

static void table_flows(const struct out_ctx *o, const struct flow *v, size_t n)
{
	/* The host column only helps when rows come from several hosts. */
	int ncols = o->n_hosts > 1 ? TCOLS : TCOLS - 1;
	size_t w[TCOLS];
	char c[TCOLS][TCELL];

	for (int k = 0; k < TCOLS; k++) {
		w[k] = strlen(flow_heads[k]);
		snprintf(c[k], TCELL, "%s", flow_heads[k]);
	}
	for (size_t i = 0; i < n; i++) {
		table_cells(o, &v[i], c);
		for (int k = 0; k < TCOLS; k++)
			w[k] = strlen(c[k]) > w[k] ? strlen(c[k]) : w[k];
	}
	for (int k = 0; k < TCOLS; k++)
		snprintf(c[k], TCELL, "%s", flow_heads[k]);
	table_print(o->f, c, w, ncols);
	for (size_t i = 0; i < n; i++) {
		table_cells(o, &v[i], c);
		table_print(o->f, c, w, ncols);
	}
}

static void table_gaps(const struct out_ctx *o, const struct out_gap *v, size_t n)
{
	static const char *const heads[] = { "KIND",  "START", "END",	"LENGTH",
					     "COUNT", "HOST",  "REASON" };
	char c[TCOLS][TCELL];
	size_t w[TCOLS] = { 0 };

	for (int k = 0; k < 7; k++)
		w[k] = strlen(heads[k]);
	for (int pass = 0; pass < 2; pass++) {
		for (int k = 0; k < 7; k++)
			snprintf(c[k], TCELL, "%s", heads[k]);
		if (pass)
			table_print(o->f, c, w, 7);
		for (size_t i = 0; i <= n; i++) {
			if (i < n) {
				const struct out_gap *g = &v[i];

				snprintf(c[0], TCELL, "%s", sr_gap_kind_name(g->kind));
				ts_format_time(g->start_ns, TS_FMT_MILLI, c[1], TCELL);
				ts_format_time(g->end_ns, TS_FMT_MILLI, c[2], TCELL);
				ts_format_duration(g->end_ns - g->start_ns, c[3], TCELL);
				snprintf(c[4], TCELL, "%" PRIu64, g->count);
				cr_escape(host_name(o, g->host), c[5], TCELL);
				cr_escape(g->reason, c[6], TCELL);
			}
			for (int k = 0; k < 7; k++)
				w[k] = strlen(c[k]) > w[k] ? strlen(c[k]) : w[k];
			if (pass && i < n)
				table_print(o->f, c, w, 7);
		}
	}
}

static void table_events(const struct out_ctx *o, const struct out_event *v, size_t n)
{
	static const char *const heads[] = { "TIME",   "EVENT", "CONN", "PROTO", "LOCAL",
					     "REMOTE", "PID",	"COMM", "DETAIL" };
	char c[TCOLS][TCELL], a[ADDR_STRLEN];
	size_t w[TCOLS] = { 0 };

	for (int k = 0; k < 9; k++)
		w[k] = strlen(heads[k]);
	for (int pass = 0; pass < 2; pass++) {
		for (int k = 0; k < 9; k++)
			snprintf(c[k], TCELL, "%s", heads[k]);
		if (pass)
			table_print(o->f, c, w, 9);
		for (size_t i = 0; i <= n; i++) {
			if (i < n) {
				const struct out_event *e = &v[i];
				const struct flow *f = &e->flow;

				for (int k = 0; k < 9; k++)
					snprintf(c[k], TCELL, "-");
				ts_format_time(e->ts_ns, TS_FMT_MILLI, c[0], TCELL);
				snprintf(c[1], TCELL, "%s", e->kind);
				if (e->conn_id >= 0)
					snprintf(c[2], TCELL, "%" PRId64, e->conn_id);
				if (e->has_flow) {
					snprintf(c[3], TCELL, "%s", flow_proto(f->proto));
					addr_format(f->laddr, f->laddr_len, a);
					endpoint(c[4], TCELL, a, f->lport, f->laddr_len == 16);
					addr_format(f->raddr, f->raddr_len, a);
					endpoint(c[5], TCELL, a, f->rport, f->raddr_len == 16);
					snprintf(c[6], TCELL, "%" PRIu32, f->pid);
					cr_escape(f->comm, c[7], TCELL);
					if (!strcmp(e->kind, "close"))
						snprintf(c[8], TCELL, "%s", flow_reason(f));
				}
				if (e->detail[0])
					cr_escape(e->detail, c[8], TCELL);
			}
			for (int k = 0; k < 9; k++)
				w[k] = strlen(c[k]) > w[k] ? strlen(c[k]) : w[k];
			if (pass && i < n)
				table_print(o->f, c, w, 9);
		}
	}
}

/* ---- zeek conn.log ---- */

static void zeek_flows(const struct out_ctx *o, const struct flow *v, size_t n)
{
	FILE *f = o->f;

	fputs("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n"
	      "#path\tconn\n",
	      f);
	fputs("#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tduration"
	      "\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tproc.pid\tproc.comm"
	      "\tproc.uid\tproc.netns\tproc.cgroup\tdirection\thost\tend_status\n",
	      f);
	fputs("#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tinterval\tcount\tcount\tstring"
	      "\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tstring\tstring\tstring\n",
	      f);
	for (size_t i = 0; i < n; i++) {
		const struct flow *x = &v[i];
		/* Zeek's originator: the remote end for accepted flows, us otherwise. */
		bool remote_orig = x->dir == CR_DIR_IN;
		char la[ADDR_STRLEN], ra[ADDR_STRLEN], ts[32], dur[32], comm[80], host[300];
		char uid[16], ob[24] = "-", rb[24] = "-";
		uint64_t h = 0xcbf29ce484222325ULL;
		const char *hn = host_name(o, x->host);
		static const char b62[] =
			"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

		/* A stable uid: FNV-1a of (host, conn id), so the same flow gets the same uid. */
		for (const char *p = hn; *p; p++)
			h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
		for (int k = 0; k < 8; k++)
			h = (h ^ (((uint64_t)x->id >> (8 * k)) & 0xff)) * 0x100000001b3ULL;
		uid[0] = 'C';
		for (int k = 1; k < 12; k++, h /= 62)
			uid[k] = b62[h % 62];
		uid[12] = '\0';
		addr_format(x->laddr, x->laddr_len, la);
		addr_format(x->raddr, x->raddr_len, ra);
		dec_ns(ts, sizeof(ts), x->start_ns, 6);
		if (x->end == FLOW_END_CLOSED)
			dec_ns(dur, sizeof(dur), x->end_ns - x->start_ns, 6);
		else
			snprintf(dur, sizeof(dur), "-");
		if (bytes_known(x)) {
			snprintf(ob, sizeof(ob), "%" PRIu64,
				 remote_orig ? x->bytes_in : x->bytes_out);
			snprintf(rb, sizeof(rb), "%" PRIu64,
				 remote_orig ? x->bytes_out : x->bytes_in);
		}
		cr_escape(x->comm, comm, sizeof(comm));
		cr_escape(hn, host, sizeof(host));
		fprintf(f,
			"%s\t%s\t%s\t%u\t%s\t%u\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%" PRIu32
			"\t%s\t%" PRIu32 "\t%" PRIu32 "\t%" PRIu64 "\t%s\t%s\t%s\n",
			ts, uid, remote_orig ? ra : la, remote_orig ? x->rport : x->lport,
			remote_orig ? la : ra, remote_orig ? x->lport : x->rport,
			flow_proto(x->proto), dur, ob, rb, flow_state(x), remote_orig ? "F" : "T",
			remote_orig ? "T" : "F", x->pid, comm[0] ? comm : "(empty)", x->uid,
			x->netns, x->cgroup, flow_direction(x->dir), host[0] ? host : "(empty)",
			end_status(x));
	}
}

static const struct printer printers[] = {
	{ "table", table_flows, table_gaps, table_events },
	{ "json", json_flows, json_gaps, json_events },
	{ "csv", csv_flows, csv_gaps, csv_events },
	{ "zeek", zeek_flows, NULL, NULL },
};

const struct printer *out_find(const char *name)
{
	for (size_t i = 0; i < sizeof(printers) / sizeof(printers[0]); i++) {
		if (!strcmp(printers[i].name, name))
			return &printers[i];
	}
	return NULL;
}
