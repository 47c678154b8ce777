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
/* V_ANSWERS: a DNS answer's records (a), a JSON array in json, one line of text elsewhere. */
enum val_type { V_NULL, V_INT, V_UINT, V_STR, V_BOOL, V_DEC, V_ANSWERS };

struct val {
	const char *name;
	enum val_type t;
	int64_t i;
	uint64_t u;
	const char *s;
	const struct sr_dns *a;
};

#define MAX_VALS 48

struct row {
	struct val v[MAX_VALS];
	int n;
	char laddr[ADDR_STRLEN], raddr[ADDR_STRLEN];
};

static void put(struct row *r, const char *name, enum val_type t, int64_t i, uint64_t u,
		const char *s)
{
	if (r->n < MAX_VALS)
		r->v[r->n++] = (struct val){ name, t, i, u, s, NULL };
}

/* The records of a DNS answer as one line: "CNAME b.example 300s, A 192.0.2.1 60s". */
static void answers_text(const struct sr_dns *d, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < d->n_rrs && o + 4 < len; i++) {
		const struct sr_dns_rr *rr = &d->rrs[i];
		char type[16], data[SR_DNS_NAME_MAX * 4 + 8];
		int k;

		if (rr->addr_len)
			addr_format(rr->addr, rr->addr_len, data);
		else
			cr_escape(rr->target ? rr->target : "?", data, sizeof(data));
		k = snprintf(buf + o, len - o, "%s%s %s %" PRIu32 "s", i ? ", " : "",
			     out_dns_type(rr->type, type), data, rr->ttl);
		if (k < 0 || (size_t)k >= len - o) {
			/* Cut: say so rather than end in the middle of a record. */
			snprintf(buf + (len > 4 ? len - 4 : 0), len > 4 ? 4 : len, "...");
			return;
		}
		o += (size_t)k;
	}
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

/* A flow's process as far as the store knows it (who.h); everything NULL when unknown. */
static void flow_who(const struct out_ctx *o, const struct flow *f, struct who_info *wi)
{
	if (o->who)
		who_of_flow(o->who, f, wi);
	else
		memset(wi, 0, sizeof(*wi));
}

/* A name from the store, or NULL (printed as null / empty) when it is empty or unknown. */
static const char *known(const char *s)
{
	return s && *s ? s : NULL;
}

/* The who values of a flow or a life, shared by flows and --procs. */
static void who_vals(struct row *r, uint64_t pstart, const struct who_life *l,
		     const struct who_image *m, const struct who_cgroup *g)
{
	const char *exe = m ? known(m->exe) : NULL, *args = m ? m->args : NULL;
	const char *container = g ? known(g->container) : NULL, *unit = g ? known(g->unit) : NULL;

	put(r, "pstart_ns", pstart ? V_UINT : V_NULL, 0, pstart, NULL);
	put(r, "exe", exe ? V_STR : V_NULL, 0, 0, exe);
	put(r, "args", args ? V_STR : V_NULL, 0, 0, args);
	put(r, "ppid", l && l->first >= 0 ? V_INT : V_NULL, l ? l->ppid : 0, 0, NULL);
	put(r, "pcomm", l && l->first >= 0 ? V_STR : V_NULL, 0, 0, l ? l->pcomm : NULL);
	put(r, "container", container ? V_STR : V_NULL, 0, 0, container);
	put(r, "unit", unit ? V_STR : V_NULL, 0, 0, unit);
}

static void flow_row(const struct out_ctx *o, const struct flow *f, struct row *r)
{
	bool closed = f->end == FLOW_END_CLOSED;
	const char *reason = flow_reason(f);
	struct who_info wi;

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
	flow_who(o, f, &wi);
	who_vals(r, f->pstart_ns, wi.life, wi.image, wi.cgroup);
	put(r, "bytes_out", bytes_known(f) ? V_UINT : V_NULL, 0, f->bytes_out, NULL);
	put(r, "bytes_in", bytes_known(f) ? V_UINT : V_NULL, 0, f->bytes_in, NULL);
	put(r, "state", V_STR, 0, 0, flow_state(f));
	put(r, "preexisting", V_BOOL, (f->flags & CR_FLAG_PREEXISTING) != 0, 0, NULL);
	put(r, "host", V_STR, 0, 0, host_name(o, f->host));
	put(r, "conn_id", V_INT, f->id, 0, NULL);
	put(r, "end_status", V_STR, 0, 0, end_status(f));
	put(r, "reason", reason ? V_STR : V_NULL, 0, 0, reason);
	put(r, "rname", f->name ? V_STR : V_NULL, 0, 0, f->name ? f->name->rname : NULL);
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

/* ---- DNS answers ---- */

const char *out_dns_type(uint16_t type, char buf[16])
{
	static const struct {
		uint16_t v;
		const char *name;
	} types[] = {
		{ 1, "A" },	 { 2, "NS" },	   { 5, "CNAME" },  { 6, "SOA" },     { 12, "PTR" },
		{ 15, "MX" },	 { 16, "TXT" },	   { 28, "AAAA" },  { 33, "SRV" },    { 35, "NAPTR" },
		{ 43, "DS" },	 { 46, "RRSIG" },  { 47, "NSEC" },  { 48, "DNSKEY" }, { 64, "SVCB" },
		{ 65, "HTTPS" }, { 255, "ANY" },   { 257, "CAA" },
	};

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (types[i].v == type)
			return types[i].name;
	snprintf(buf, 16, "TYPE%u", type);
	return buf;
}

const char *out_dns_rcode(uint16_t rcode, char buf[16])
{
	static const char *const names[] = { "NOERROR", "FORMERR",  "SERVFAIL", "NXDOMAIN",
					     "NOTIMP",	"REFUSED",  "YXDOMAIN", "YXRRSET",
					     "NXRRSET", "NOTAUTH",  "NOTZONE" };

	if (rcode < sizeof(names) / sizeof(names[0]))
		return names[rcode];
	snprintf(buf, 16, "RCODE%u", rcode);
	return buf;
}

struct dns_text {
	char laddr[ADDR_STRLEN], raddr[ADDR_STRLEN], qtype[16], rcode[16];
};

static void dns_row(const struct out_ctx *o, const struct out_dns *x, struct row *r,
		    struct dns_text *t)
{
	const struct sr_dns *d = &x->d;

	r->n = 0;
	addr_format(d->laddr, d->laddr_len, t->laddr);
	addr_format(d->raddr, d->raddr_len, t->raddr);
	put(r, "ts_ns", V_INT, d->ts_ns, 0, NULL);
	put(r, "pid", V_INT, d->pid, 0, NULL);
	put(r, "comm", V_STR, 0, 0, d->comm);
	put(r, "uid", V_INT, d->uid, 0, NULL);
	put(r, "netns", V_INT, d->netns, 0, NULL);
	put(r, "cgroup", V_UINT, 0, d->cgroup, NULL);
	put(r, "proto", V_STR, 0, 0, flow_proto(d->proto));
	put(r, "laddr", V_STR, 0, 0, t->laddr);
	put(r, "lport", V_INT, d->lport, 0, NULL);
	put(r, "raddr", V_STR, 0, 0, t->raddr);
	put(r, "rport", V_INT, d->rport, 0, NULL);
	put(r, "txid", V_INT, d->txid, 0, NULL);
	put(r, "qname", V_STR, 0, 0, d->qname);
	put(r, "qtype", V_STR, 0, 0, out_dns_type(d->qtype, t->qtype));
	put(r, "rcode", V_STR, 0, 0, out_dns_rcode(d->rcode, t->rcode));
	put(r, "truncated", V_BOOL, (d->flags & CR_DNS_FLAG_TC) != 0, 0, NULL);
	put(r, "owner_known", V_BOOL, !(d->flags & CR_DNS_FLAG_NO_OWNER), 0, NULL);
	if (r->n < MAX_VALS)
		r->v[r->n++] = (struct val){ .name = "answers", .t = V_ANSWERS, .a = d };
	put(r, "host", V_STR, 0, 0, host_name(o, x->host));
	put(r, "dns_id", V_INT, d->id, 0, NULL);
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
	case V_ANSWERS:
		answers_text(v->a, buf, len);
		break;
	}
}

/* ---- json ---- */

/* [{"type":"CNAME","name":...,"ttl":N,"target":...}, {"type":"A",...,"addr":"..."}] */
static void json_answers(FILE *f, const struct sr_dns *d)
{
	fputc('[', f);
	for (size_t i = 0; i < d->n_rrs; i++) {
		const struct sr_dns_rr *rr = &d->rrs[i];
		char type[16], addr[ADDR_STRLEN];

		fputs(i ? ",{\"type\":" : "{\"type\":", f);
		json_str(f, out_dns_type(rr->type, type));
		fputs(",\"name\":", f);
		json_str(f, rr->name);
		fprintf(f, ",\"ttl\":%" PRIu32, rr->ttl);
		if (rr->addr_len) {
			addr_format(rr->addr, rr->addr_len, addr);
			fputs(",\"addr\":", f);
			json_str(f, addr);
		}
		if (rr->target) {
			fputs(",\"target\":", f);
			json_str(f, rr->target);
		}
		fputc('}', f);
	}
	fputc(']', f);
}

static void json_line(FILE *f, const struct row *r)
{
	char buf[64];

	fputc('{', f);
	for (int i = 0; i < r->n; i++) {
		const struct val *v = &r->v[i];

		fprintf(f, "%s\"%s\":", i ? "," : "", v->name);
		if (v->t == V_STR)
			json_str(f, v->s);
		else if (v->t == V_ANSWERS)
			json_answers(f, v->a);
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

static void json_dns(const struct out_ctx *o, const struct out_dns *v, size_t n)
{
	struct dns_text t;
	struct row r;

	for (size_t i = 0; i < n; i++) {
		dns_row(o, &v[i], &r, &t);
		json_line(o->f, &r);
	}
}

/* ---- csv (RFC 4180: quote when needed, double the quotes) ---- */

static void csv_line(FILE *f, const struct row *r, bool header)
{
	char buf[8192];

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

/* ---- --procs ---- */

static void proc_row(const struct out_ctx *o, const struct out_proc *p, struct row *r)
{
	const struct who_life *l = p->life;
	const struct who_image *m = p->image;

	r->n = 0;
	put(r, "host", V_STR, 0, 0, host_name(o, p->host));
	put(r, "pid", V_INT, l ? l->pid : 0, 0, NULL);
	put(r, "start_ns", l && l->first >= 0 ? V_INT : V_NULL, l ? l->start_ns : 0, 0, NULL);
	put(r, "exit_ns", l && l->has_exit ? V_INT : V_NULL, l ? l->exit_ns : 0, 0, NULL);
	put(r, "exit_code", l && l->has_exit ? V_INT : V_NULL, l ? l->exit_code : 0, 0, NULL);
	put(r, "uid", m ? V_INT : V_NULL, m ? m->uid : 0, 0, NULL);
	put(r, "comm", m ? V_STR : V_NULL, 0, 0, m ? m->comm : NULL);
	who_vals(r, l ? l->pstart_ns : 0, l, m, p->cgroup);
	put(r, "cgroup", m ? V_UINT : V_NULL, 0, m ? m->cgroup : 0, NULL);
	put(r, "seeded", V_BOOL, m && (m->flags & CR_LIFE_SEEDED), 0, NULL);
	put(r, "flows", V_UINT, 0, l ? l->flows : 0, NULL);
}

static void json_procs(const struct out_ctx *o, const struct out_proc *v, size_t n)
{
	struct row r;

	for (size_t i = 0; i < n; i++) {
		proc_row(o, &v[i], &r);
		json_line(o->f, &r);
	}
}

static void csv_procs(const struct out_ctx *o, const struct out_proc *v, size_t n)
{
	struct out_proc dummy = { 0 };
	struct row r;

	proc_row(o, &dummy, &r);
	csv_line(o->f, &r, true);
	for (size_t i = 0; i < n; i++) {
		proc_row(o, &v[i], &r);
		csv_line(o->f, &r, false);
	}
}

static void csv_dns(const struct out_ctx *o, const struct out_dns *v, size_t n)
{
	struct out_dns dummy = { .d = { .qname = "" } };
	struct dns_text t;
	struct row r;

	dns_row(o, &dummy, &r, &t);
	csv_line(o->f, &r, true);
	for (size_t i = 0; i < n; i++) {
		dns_row(o, &v[i], &r, &t);
		csv_line(o->f, &r, false);
	}
}

/*
 * ---- table: for people, like ss ----
 *
 * Each column shows one field of the same row json and csv print (two for an address and its
 * port), so the formats cannot drift apart: only the rendering differs. Unknown values (null,
 * or no owning process) are "-"; numbers are right-aligned; times are local.
 */

enum cell {
	CELL_TEXT,     /* as stored, escaped; empty is "-" */
	CELL_NUM,      /* a number as it is */
	CELL_ID,       /* a number where 0 means none (a pid) */
	CELL_TIME,     /* ns since the epoch, local time with milliseconds */
	CELL_DURATION, /* ns; when null, the text of the field "other" (open, unknown) */
	CELL_SPAN,     /* the duration from this time to the time in "other" */
	CELL_SIZE,     /* bytes, 1024-based ("68K") */
	CELL_ENDPOINT, /* an address and the port in "other": "10.0.0.1:22", "[::1]:*" */
	CELL_SHORT_ID, /* text cut to 12 characters: a container's 64-hex id, as docker prints it */
};

struct column {
	const char *head;
	const char *field; /* the row field it shows */
	enum cell how;
	const char *other; /* a second field, as the cell kind says */
	bool owner;	   /* a fact about the owning process: "-" when there is none (pid 0) */
	bool hosts;	   /* shown only when rows come from several hosts */
	bool sparse;	   /* shown only when some row has a value (container, unit) */
};

static const struct column flow_columns[] = {
	{ .head = "START", .field = "start_ns", .how = CELL_TIME },
	{ .head = "DURATION", .field = "duration_s", .how = CELL_DURATION, .other = "end_status" },
	{ .head = "PROTO", .field = "proto", .how = CELL_TEXT },
	{ .head = "DIR", .field = "direction", .how = CELL_TEXT },
	{ .head = "LOCAL", .field = "laddr", .how = CELL_ENDPOINT, .other = "lport" },
	{ .head = "REMOTE", .field = "raddr", .how = CELL_ENDPOINT, .other = "rport" },
	{ .head = "NAME", .field = "rname", .how = CELL_TEXT },
	{ .head = "STATE", .field = "state", .how = CELL_TEXT },
	{ .head = "PID", .field = "pid", .how = CELL_ID, .owner = true },
	{ .head = "COMM", .field = "comm", .how = CELL_TEXT, .owner = true },
	{ .head = "EXE", .field = "exe", .how = CELL_TEXT, .owner = true },
	{ .head = "UID", .field = "uid", .how = CELL_NUM, .owner = true },
	{ .head = "OUT", .field = "bytes_out", .how = CELL_SIZE },
	{ .head = "IN", .field = "bytes_in", .how = CELL_SIZE },
	{ .head = "NETNS", .field = "netns", .how = CELL_NUM },
	{ .head = "CONTAINER", .field = "container", .how = CELL_SHORT_ID, .sparse = true },
	{ .head = "UNIT", .field = "unit", .how = CELL_TEXT, .sparse = true },
	{ .head = "HOST", .field = "host", .how = CELL_TEXT, .hosts = true },
};

static const struct column proc_columns[] = {
	{ .head = "START", .field = "start_ns", .how = CELL_TIME },
	{ .head = "EXIT", .field = "exit_ns", .how = CELL_TIME },
	{ .head = "PID", .field = "pid", .how = CELL_ID },
	{ .head = "PPID", .field = "ppid", .how = CELL_NUM },
	{ .head = "PCOMM", .field = "pcomm", .how = CELL_TEXT },
	{ .head = "UID", .field = "uid", .how = CELL_NUM },
	{ .head = "EXE", .field = "exe", .how = CELL_TEXT },
	{ .head = "ARGS", .field = "args", .how = CELL_TEXT },
	{ .head = "FLOWS", .field = "flows", .how = CELL_NUM },
	{ .head = "CONTAINER", .field = "container", .how = CELL_SHORT_ID, .sparse = true },
	{ .head = "UNIT", .field = "unit", .how = CELL_TEXT, .sparse = true },
	{ .head = "HOST", .field = "host", .how = CELL_TEXT, .hosts = true },
};

static const struct column gap_columns[] = {
	{ .head = "KIND", .field = "kind", .how = CELL_TEXT },
	{ .head = "START", .field = "start_ns", .how = CELL_TIME },
	{ .head = "END", .field = "end_ns", .how = CELL_TIME },
	{ .head = "LENGTH", .field = "start_ns", .how = CELL_SPAN, .other = "end_ns" },
	{ .head = "COUNT", .field = "count", .how = CELL_NUM },
	{ .head = "HOST", .field = "host", .how = CELL_TEXT, .hosts = true },
	{ .head = "REASON", .field = "reason", .how = CELL_TEXT },
};

static const struct column event_columns[] = {
	{ .head = "TIME", .field = "ts_ns", .how = CELL_TIME },
	{ .head = "EVENT", .field = "event", .how = CELL_TEXT },
	{ .head = "CONN", .field = "conn_id", .how = CELL_NUM },
	{ .head = "PROTO", .field = "proto", .how = CELL_TEXT },
	{ .head = "LOCAL", .field = "laddr", .how = CELL_ENDPOINT, .other = "lport" },
	{ .head = "REMOTE", .field = "raddr", .how = CELL_ENDPOINT, .other = "rport" },
	{ .head = "PID", .field = "pid", .how = CELL_ID, .owner = true },
	{ .head = "COMM", .field = "comm", .how = CELL_TEXT, .owner = true },
	{ .head = "HOST", .field = "host", .how = CELL_TEXT, .hosts = true },
	/* A run's version or a gap's reason; for a close, its end reason. */
	{ .head = "DETAIL", .field = "detail", .how = CELL_TEXT, .other = "reason" },
};

#define MAX_COLS 20
#define TCELL 96

/* Docker's short form: a 64-hex id is recognisable by its first 12 digits. */
#define SHORT_ID 12

/* Where each column's fields are in the rows (the same for every row of one kind). */
struct layout {
	const struct column *cols;
	size_t n;
	int field[MAX_COLS], other[MAX_COLS];
	int pid; /* -1 when the rows have no pid */
	bool hosts;
	bool some[MAX_COLS]; /* some row has a value in column k (for sparse columns) */
};

static int field_index(const struct row *r, const char *name)
{
	for (int i = 0; name && i < r->n; i++)
		if (!strcmp(r->v[i].name, name))
			return i;
	return -1;
}

static void layout_init(struct layout *l, const struct column *cols, size_t n,
			const struct row *sample, bool hosts)
{
	l->cols = cols;
	l->n = n < MAX_COLS ? n : MAX_COLS;
	l->hosts = hosts;
	l->pid = field_index(sample, "pid");
	for (size_t k = 0; k < l->n; k++) {
		l->some[k] = false;
		l->field[k] = field_index(sample, cols[k].field);
		l->other[k] = field_index(sample, cols[k].other);
	}
}

/* Numbers line up on the right; durations stay left, beside words like "open". */
static bool right_aligned(enum cell how)
{
	return how == CELL_NUM || how == CELL_ID || how == CELL_SIZE;
}

static const struct val *val_at(const struct row *r, int i)
{
	static const struct val null_val = { "", V_NULL, 0, 0, NULL, NULL };

	return i >= 0 && i < r->n ? &r->v[i] : &null_val;
}

/* One cell of one row, as people read it. */
static void cell_text(const struct layout *l, size_t k, const struct row *r, char *buf,
		      size_t len)
{
	const struct column *c = &l->cols[k];
	const struct val *v = val_at(r, l->field[k]), *o = val_at(r, l->other[k]);
	char a[TCELL];

	if (c->owner && l->pid >= 0 && val_at(r, l->pid)->i == 0) {
		snprintf(buf, len, "-");
		return;
	}
	if (v->t == V_NULL && c->how == CELL_DURATION) {
		val_text(o, buf, len);
		return;
	}
	if (v->t == V_NULL && c->how == CELL_TEXT && o->t != V_NULL) {
		val_text(o, buf, len);
		return;
	}
	if (v->t == V_NULL) {
		snprintf(buf, len, "-");
		return;
	}
	switch (c->how) {
	case CELL_TEXT:
	case CELL_NUM:
		val_text(v, buf, len);
		if (!buf[0])
			snprintf(buf, len, "-");
		break;
	case CELL_ID:
		if (v->i == 0)
			snprintf(buf, len, "-");
		else
			val_text(v, buf, len);
		break;
	case CELL_TIME:
		ts_format_time(v->i, TS_FMT_MILLI, buf, len);
		break;
	case CELL_DURATION:
		ts_format_duration(v->i, buf, len);
		break;
	case CELL_SPAN:
		ts_format_duration(o->i - v->i, buf, len);
		break;
	case CELL_SIZE:
		ts_format_size(v->t == V_UINT ? v->u : (uint64_t)v->i, buf, len);
		break;
	case CELL_ENDPOINT:
		val_text(v, a, sizeof(a));
		/* A listener's remote end, like ss: port "*". */
		if (o->t == V_NULL || o->i == 0)
			snprintf(buf, len, strchr(a, ':') ? "[%s]:*" : "%s:*", a);
		else
			snprintf(buf, len, strchr(a, ':') ? "[%s]:%" PRId64 : "%s:%" PRId64, a,
				 o->i);
		break;
	case CELL_SHORT_ID:
		if (v->t == V_STR) {
			snprintf(a, sizeof(a), "%.*s", SHORT_ID, v->s);
			cr_escape(a, buf, len);
		} else {
			val_text(v, buf, len);
		}
		if (!buf[0])
			snprintf(buf, len, "-");
		break;
	}
}

static bool col_shown(const struct layout *l, size_t k)
{
	if (l->cols[k].sparse && !l->some[k])
		return false;
	return !l->cols[k].hosts || l->hosts;
}

static void print_cells(FILE *f, const struct layout *l, char c[][TCELL], const size_t *w)
{
	size_t last = 0;

	for (size_t k = 0; k < l->n; k++)
		if (col_shown(l, k))
			last = k;
	for (size_t k = 0; k < l->n; k++) {
		if (!col_shown(l, k))
			continue;
		if (k == last && !right_aligned(l->cols[k].how))
			fprintf(f, "%s\n", c[k]);
		else
			fprintf(f, right_aligned(l->cols[k].how) ? "%*s%s" : "%-*s%s", (int)w[k],
				c[k], k == last ? "\n" : "  ");
	}
}

/* Fills r with item i of the items a table prints. */
typedef void (*row_fn)(const struct out_ctx *o, const void *items, size_t i, struct row *r);

/* A table: the widths from a first pass over the rows, then the rows. */
static void table(const struct out_ctx *o, const struct column *cols, size_t ncols,
		  const void *items, size_t n, row_fn fill, const struct row *sample)
{
	struct layout l;
	size_t w[MAX_COLS];
	char c[MAX_COLS][TCELL];
	struct row r;

	layout_init(&l, cols, ncols, sample, o->n_hosts > 1 || o->show_host);
	for (size_t k = 0; k < l.n; k++) {
		snprintf(c[k], TCELL, "%s", cols[k].head);
		w[k] = strlen(c[k]);
	}
	for (size_t i = 0; i < n; i++) {
		fill(o, items, i, &r);
		for (size_t k = 0; k < l.n; k++) {
			cell_text(&l, k, &r, c[k], TCELL);
			w[k] = strlen(c[k]) > w[k] ? strlen(c[k]) : w[k];
			l.some[k] |= strcmp(c[k], "-") != 0;
		}
	}
	for (size_t k = 0; k < l.n; k++)
		snprintf(c[k], TCELL, "%s", cols[k].head);
	print_cells(o->f, &l, c, w);
	for (size_t i = 0; i < n; i++) {
		fill(o, items, i, &r);
		for (size_t k = 0; k < l.n; k++)
			cell_text(&l, k, &r, c[k], TCELL);
		print_cells(o->f, &l, c, w);
	}
}

static void fill_flow(const struct out_ctx *o, const void *items, size_t i, struct row *r)
{
	flow_row(o, (const struct flow *)items + i, r);
}

static void fill_gap(const struct out_ctx *o, const void *items, size_t i, struct row *r)
{
	gap_row(o, (const struct out_gap *)items + i, r);
}

static void fill_event(const struct out_ctx *o, const void *items, size_t i, struct row *r)
{
	event_row(o, (const struct out_event *)items + i, r);
}

static void fill_proc(const struct out_ctx *o, const void *items, size_t i, struct row *r)
{
	proc_row(o, (const struct out_proc *)items + i, r);
}

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static void table_flows(const struct out_ctx *o, const struct flow *v, size_t n)
{
	struct flow dummy = { 0 };
	struct row sample;

	flow_row(o, &dummy, &sample);
	table(o, flow_columns, N_OF(flow_columns), v, n, fill_flow, &sample);
}

static void table_gaps(const struct out_ctx *o, const struct out_gap *v, size_t n)
{
	struct out_gap dummy = { 0 };
	struct row sample;

	gap_row(o, &dummy, &sample);
	table(o, gap_columns, N_OF(gap_columns), v, n, fill_gap, &sample);
}

static void table_events(const struct out_ctx *o, const struct out_event *v, size_t n)
{
	struct out_event dummy = { .kind = "" };
	struct row sample;

	event_row(o, &dummy, &sample);
	table(o, event_columns, N_OF(event_columns), v, n, fill_event, &sample);
}

static void table_procs(const struct out_ctx *o, const struct out_proc *v, size_t n)
{
	struct out_proc dummy = { 0 };
	struct row sample;

	proc_row(o, &dummy, &sample);
	table(o, proc_columns, N_OF(proc_columns), v, n, fill_proc, &sample);
}

/* TIME PID COMM NETNS PROTO SERVER QNAME QTYPE RCODE [HOST] ANSWERS: the records last. */
static void table_dns(const struct out_ctx *o, const struct out_dns *v, size_t n)
{
	static const char *const heads[] = { "TIME",  "PID",   "COMM",	"NETNS", "PROTO",   "SERVER",
					     "QNAME", "QTYPE", "RCODE", "HOST",	 "ANSWERS" };
	enum { NCOLS = 11, HOSTCOL = 9 };
	char c[NCOLS][TCELL], a[ADDR_STRLEN], answers[4096];
	size_t w[NCOLS] = { 0 };
	bool hosts = o->n_hosts > 1;

	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i <= n; i++) {
			const struct sr_dns *d = i ? &v[i - 1].d : NULL;

			for (int k = 0; k < NCOLS; k++)
				snprintf(c[k], TCELL, "%s", heads[k]);
			if (d) {
				ts_format_time(d->ts_ns, TS_FMT_MILLI, c[0], TCELL);
				snprintf(c[1], TCELL, "%" PRIu32, d->pid);
				cr_escape(d->comm, c[2], TCELL);
				snprintf(c[3], TCELL, "%" PRIu32, d->netns);
				snprintf(c[4], TCELL, "%s", flow_proto(d->proto));
				addr_format(d->raddr, d->raddr_len, a);
				snprintf(c[5], TCELL, d->raddr_len == 16 ? "[%s]:%u" : "%s:%u", a,
					 d->rport);
				cr_escape(d->qname, c[6], TCELL);
				snprintf(c[7], TCELL, "%s", out_dns_type(d->qtype, a));
				snprintf(c[8], TCELL, "%s", out_dns_rcode(d->rcode, a));
				cr_escape(host_name(o, v[i - 1].host), c[HOSTCOL], TCELL);
				answers_text(d, answers, sizeof(answers));
			}
			for (int k = 0; k < NCOLS - 1; k++)
				w[k] = strlen(c[k]) > w[k] ? strlen(c[k]) : w[k];
			if (!pass)
				continue;
			for (int k = 0; k < NCOLS - 1; k++)
				if (k != HOSTCOL || hosts)
					fprintf(o->f, "%-*s  ", (int)w[k], c[k]);
			fprintf(o->f, "%s\n", d ? (answers[0] ? answers : "-") : heads[NCOLS - 1]);
		}
	}
}

/* ---- zeek conn.log ---- */

/* One zeek field: "-" when unset, "(empty)" when empty, else escaped (no tab can get in). */
static void zeek_str(FILE *f, const char *s, bool last)
{
	char buf[2048];

	if (!s)
		snprintf(buf, sizeof(buf), "-");
	else if (!*s)
		snprintf(buf, sizeof(buf), "(empty)");
	else
		cr_escape(s, buf, sizeof(buf));
	fprintf(f, "%s%s", buf, last ? "" : "\t");
}

/* proc.pstart_ns .. proc.unit of one flow. */
static void zeek_who(const struct out_ctx *o, const struct flow *x)
{
	struct who_info wi;
	const struct who_life *l;
	const struct who_image *m;
	const struct who_cgroup *g;
	char num[24];

	flow_who(o, x, &wi);
	l = wi.life;
	m = wi.image;
	g = wi.cgroup;
	snprintf(num, sizeof(num), "%" PRIu64, x->pstart_ns);
	zeek_str(o->f, x->pstart_ns ? num : NULL, false);
	zeek_str(o->f, m ? known(m->exe) : NULL, false);
	zeek_str(o->f, m ? m->args : NULL, false);
	snprintf(num, sizeof(num), "%" PRIu32, l ? l->ppid : 0);
	zeek_str(o->f, l && l->first >= 0 ? num : NULL, false);
	zeek_str(o->f, l && l->first >= 0 ? l->pcomm : NULL, false);
	zeek_str(o->f, g ? known(g->container) : NULL, false);
	zeek_str(o->f, g ? known(g->unit) : NULL, true);
}

#define ZEEK_NAME_MAX 1100

/*
 * A string field: escaped for the terminal, "-" when unset, "(empty)" when empty, and the set
 * separator escaped (Zeek writes \x2c for a comma inside a set element).
 */
static void zeek_text(const char *s, char *out, size_t len)
{
	char tmp[ZEEK_NAME_MAX];
	size_t o = 0;

	if (!s) {
		snprintf(out, len, "-");
		return;
	}
	cr_escape(s, tmp, sizeof(tmp));
	for (const char *p = tmp; *p && o + 5 < len; p++) {
		if (*p == ',') {
			memcpy(out + o, "\\x2c", 4);
			o += 4;
		} else {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
	if (!o)
		snprintf(out, len, "(empty)");
}

static void zeek_flows(const struct out_ctx *o, const struct flow *v, size_t n)
{
	FILE *f = o->f;

	fputs("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n"
	      "#path\tconn\n",
	      f);
	fputs("#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tduration"
	      "\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tproc.pid\tproc.comm"
	      "\tproc.uid\tproc.netns\tproc.cgroup\tproc.pstart_ns\tproc.exe\tproc.args\tproc.ppid"
	      "\tproc.pcomm\tproc.container\tproc.unit\tdirection\thost\tend_status\trname\n",
	      f);
	fputs("#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tinterval\tcount\tcount\tstring"
	      "\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tstring\tstring\tcount"
	      "\tstring\tstring\tstring\tstring\tstring\tstring\tstring\n",
	      f);
	for (size_t i = 0; i < n; i++) {
		const struct flow *x = &v[i];
		/* Zeek's originator: the remote end for accepted flows, us otherwise. */
		bool remote_orig = x->dir == CR_DIR_IN;
		char la[ADDR_STRLEN], ra[ADDR_STRLEN], ts[32], dur[32], comm[80], host[300];
		char rname[ZEEK_NAME_MAX];
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
		zeek_text(x->name ? x->name->rname : NULL, rname, sizeof(rname));
		fprintf(f,
			"%s\t%s\t%s\t%u\t%s\t%u\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%" PRIu32
			"\t%s\t%" PRIu32 "\t%" PRIu32 "\t%" PRIu64 "\t",
			ts, uid, remote_orig ? ra : la, remote_orig ? x->rport : x->lport,
			remote_orig ? la : ra, remote_orig ? x->lport : x->rport,
			flow_proto(x->proto), dur, ob, rb, flow_state(x), remote_orig ? "F" : "T",
			remote_orig ? "T" : "F", x->pid, comm[0] ? comm : "(empty)", x->uid,
			x->netns, x->cgroup);
		zeek_who(o, x);
		fprintf(f, "\t%s\t%s\t%s\t%s\n", flow_direction(x->dir), host[0] ? host : "(empty)",
			end_status(x), rname);
	}
}

/* ---- zeek dns.log ---- */

/* A dns.log with the fields that connrec has, plus the process columns conn.log has. */
static void zeek_dns(const struct out_ctx *o, const struct out_dns *v, size_t n)
{
	FILE *f = o->f;

	fputs("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n"
	      "#path\tdns\n",
	      f);
	fputs("#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id"
	      "\tquery\tqtype\tqtype_name\trcode\trcode_name\tTC\tanswers\tTTLs\tproc.pid"
	      "\tproc.comm\tproc.uid\tproc.netns\tproc.cgroup\thost\n",
	      f);
	fputs("#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tcount\tstring\tcount\tstring"
	      "\tcount\tstring\tbool\tvector[string]\tvector[interval]\tcount\tstring\tcount"
	      "\tcount\tcount\tstring\n",
	      f);
	for (size_t i = 0; i < n; i++) {
		const struct sr_dns *d = &v[i].d;
		char la[ADDR_STRLEN], ra[ADDR_STRLEN], ts[32], qname[ZEEK_NAME_MAX], comm[80];
		char host[300], t1[16], t2[16], ttl[32];

		addr_format(d->laddr, d->laddr_len, la);
		addr_format(d->raddr, d->raddr_len, ra);
		dec_ns(ts, sizeof(ts), d->ts_ns, 6);
		zeek_text(d->qname, qname, sizeof(qname));
		zeek_text(d->comm, comm, sizeof(comm));
		zeek_text(host_name(o, v[i].host), host, sizeof(host));
		fprintf(f, "%s\t-\t%s\t%u\t%s\t%u\t%s\t%u\t%s\t%u\t%s\t%u\t%s\t%s\t", ts, la,
			d->lport, ra, d->rport, flow_proto(d->proto), d->txid, qname, d->qtype,
			out_dns_type(d->qtype, t1), d->rcode, out_dns_rcode(d->rcode, t2),
			d->flags & CR_DNS_FLAG_TC ? "T" : "F");
		for (size_t k = 0; k < d->n_rrs; k++) {
			const struct sr_dns_rr *rr = &d->rrs[k];
			char data[ZEEK_NAME_MAX];

			if (rr->addr_len)
				addr_format(rr->addr, rr->addr_len, data);
			else
				zeek_text(rr->target, data, sizeof(data));
			fprintf(f, "%s%s", k ? "," : "", data);
		}
		fputs(d->n_rrs ? "\t" : "-\t", f);
		for (size_t k = 0; k < d->n_rrs; k++) {
			dec_ns(ttl, sizeof(ttl), (int64_t)d->rrs[k].ttl * 1000000000LL, 6);
			fprintf(f, "%s%s", k ? "," : "", ttl);
		}
		fprintf(f, "%s\t%" PRIu32 "\t%s\t%" PRIu32 "\t%" PRIu32 "\t%" PRIu64 "\t%s\n",
			d->n_rrs ? "" : "-", d->pid, comm, d->uid, d->netns, d->cgroup, host);
	}
}

static const struct printer printers[] = {
	{ "table", table_flows, table_gaps, table_events, table_procs, table_dns },
	{ "json", json_flows, json_gaps, json_events, json_procs, json_dns },
	{ "csv", csv_flows, csv_gaps, csv_events, csv_procs, csv_dns },
	{ "zeek", zeek_flows, NULL, NULL, NULL, zeek_dns },
};

const struct printer *out_find(const char *name)
{
	for (size_t i = 0; i < sizeof(printers) / sizeof(printers[0]); i++) {
		if (!strcmp(printers[i].name, name))
			return &printers[i];
	}
	return NULL;
}
