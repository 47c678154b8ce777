// SPDX-License-Identifier: MIT
/*
 * Young flows: the ones BPF started tracking whose OPEN is not stored yet (TCP connections,
 * UDP sockets' first flows).
 *
 * BPF stores nothing when such a flow begins; its CLOSE carries the whole flow. A flow that
 * goes on must still be stored while open, so the recorder asks BPF for the OPEN of every
 * flow still open a second after it began (report_opens). It learns of new
 * connections from the young journal (connrec_maps.h), a per-CPU ring it reads from mmaped
 * memory at every poll, and remembers them in a FIFO with the time it saw them. The CLOSE
 * records it passes on mark ids as closed in a bitmap, so the connections that ended within
 * the second (nearly all of them, in a storm) are dropped without asking the kernel. The
 * work is proportional to the connections made, not to the ones open: with a million open
 * connections the recorder does nothing for them at all.
 *
 * The journal also names the ends BPF kept in the tracking map because the ring was full
 * (struct tcp_kept_end): those go to a list of their own, and after every drain of the ring
 * the recorder has BPF send them (capture_send_kept).
 *
 * If the recorder falls so far behind that a CPU's journal laps, the entries lost are made
 * up for once with a walk of the whole tracking map (capture_maps.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "capture_internal.h"
#include "log.h"

/*
 * Closed ids, by 64-id word, direct-mapped: a word remembers which word of ids it holds, so a
 * colliding id (4M ids apart) reads as "not known closed" and only costs a kernel lookup.
 */
#define CLOSED_WORDS_LOG2 16
#define CLOSED_WORDS (1u << CLOSED_WORDS_LOG2)

struct young_ent {
	uint64_t key, id;
	int64_t seen_ns; /* CLOCK_BOOTTIME when read from the journal (or last asked about) */
	uint8_t proto;
	bool retry; /* asked before and not ready: the bitmap may no longer know its id */
};

struct young {
	const struct young_slot *slots;
	const struct young_head *heads;
	size_t slots_len, heads_len;
	int ncpu;
	uint32_t per_cpu; /* slots per CPU, a power of two */
	uint64_t *next;	  /* per CPU: the sequence number to read next */

	struct young_ent *q; /* FIFO, a ring of cap entries (power of two) */
	size_t head, n, cap;

	uint64_t closed_bits[CLOSED_WORDS];
	uint64_t closed_tag[CLOSED_WORDS]; /* id >> 6 of the word held, + 1 (0: empty) */

	uint64_t *kept; /* ids of kept ends not sent yet (a stack: their order does not matter) */
	size_t nkept, cap_kept;

	uint64_t lapped; /* journal entries overwritten before they were read */
	bool need_sweep;
};

static int64_t boot_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int young_open(struct capture *c)
{
	struct young *y = calloc(1, sizeof(*y));
	int fd_s = bpf_map__fd(c->skel->maps.young), fd_h = bpf_map__fd(c->skel->maps.young_heads);
	void *p;

	if (!y)
		return -ENOMEM;
	c->young = y;
	y->ncpu = (int)bpf_map__max_entries(c->skel->maps.young_heads);
	y->per_cpu = c->skel->rodata->young_slots;
	y->slots_len = (size_t)bpf_map__max_entries(c->skel->maps.young) * sizeof(*y->slots);
	y->heads_len = (size_t)y->ncpu * sizeof(*y->heads);
	y->next = calloc((size_t)y->ncpu, sizeof(*y->next));
	y->cap = 4096;
	y->q = malloc(y->cap * sizeof(*y->q));
	if (!y->next || !y->q)
		return -ENOMEM;
	p = mmap(NULL, y->slots_len, PROT_READ, MAP_SHARED, fd_s, 0);
	if (p == MAP_FAILED)
		return -errno;
	y->slots = p;
	p = mmap(NULL, y->heads_len, PROT_READ, MAP_SHARED, fd_h, 0);
	if (p == MAP_FAILED)
		return -errno;
	y->heads = p;
	return 0;
}

void young_close(struct capture *c)
{
	struct young *y = c->young;

	if (!y)
		return;
	if (y->slots)
		munmap((void *)y->slots, y->slots_len);
	if (y->heads)
		munmap((void *)y->heads, y->heads_len);
	free(y->next);
	free(y->q);
	free(y->kept);
	free(y);
	c->young = NULL;
}

void young_closed(struct capture *c, uint64_t id)
{
	struct young *y = c->young;
	uint32_t w = (uint32_t)(id >> 6) & (CLOSED_WORDS - 1);

	if (y->closed_tag[w] != (id >> 6) + 1) {
		y->closed_tag[w] = (id >> 6) + 1;
		y->closed_bits[w] = 0;
	}
	y->closed_bits[w] |= 1ull << (id & 63);
}

static bool known_closed(const struct young *y, uint64_t id)
{
	uint32_t w = (uint32_t)(id >> 6) & (CLOSED_WORDS - 1);

	return y->closed_tag[w] == (id >> 6) + 1 && (y->closed_bits[w] >> (id & 63) & 1);
}

static int push(struct young *y, const struct young_ent *e)
{
	if (y->n == y->cap) {
		struct young_ent *nq = malloc(2 * y->cap * sizeof(*nq));

		if (!nq)
			return -ENOMEM;
		/* Unroll the ring into the new array, oldest first. */
		for (size_t i = 0; i < y->n; i++)
			nq[i] = y->q[(y->head + i) & (y->cap - 1)];
		free(y->q);
		y->q = nq;
		y->head = 0;
		y->cap *= 2;
	}
	y->q[(y->head + y->n) & (y->cap - 1)] = *e;
	y->n++;
	return 0;
}

void young_kept(struct capture *c, uint64_t id)
{
	struct young *y = c->young;

	if (y->nkept == y->cap_kept) {
		size_t cap = y->cap_kept ? 2 * y->cap_kept : 1024;
		uint64_t *n = realloc(y->kept, cap * sizeof(*n));

		if (!n) {
			y->need_sweep = true; /* the sweep finds it in the map later */
			return;
		}
		y->kept = n;
		y->cap_kept = cap;
	}
	y->kept[y->nkept++] = id;
}

/* Moves what each CPU appended to the journal since the last call into the FIFO. */
void young_read(struct capture *c)
{
	struct young *y = c->young;
	int64_t now = boot_ns();

	for (int cpu = 0; cpu < y->ncpu; cpu++) {
		uint64_t end = __atomic_load_n(&y->heads[cpu].next, __ATOMIC_ACQUIRE);
		const struct young_slot *ring = y->slots + (size_t)cpu * y->per_cpu;

		if (end - y->next[cpu] > y->per_cpu) {
			y->lapped += end - y->per_cpu - y->next[cpu];
			y->next[cpu] = end - y->per_cpu;
			y->need_sweep = true;
		}
		while (y->next[cpu] != end) {
			const struct young_slot *s = &ring[y->next[cpu] & (y->per_cpu - 1)];
			uint64_t seq = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
			struct young_ent e = { .seen_ns = now };

			if (seq < y->next[cpu] + 1)
				break; /* reserved but not written yet: next time */
			e.key = s->key;
			e.id = s->id;
			e.proto = (uint8_t)s->proto;
			/* Overwritten by a later lap meanwhile: the sweep makes up for it. */
			if (seq != y->next[cpu] + 1 ||
			    __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE) != seq) {
				y->lapped++;
				y->need_sweep = true;
			} else if (e.proto == CR_YOUNG_KEPT_END) {
				young_kept(c, e.id);
			} else if (push(y, &e)) {
				y->need_sweep = true; /* out of memory: the sweep finds it later */
			}
			y->next[cpu]++;
		}
	}
}

/* Runs report_opens over reqs[0..n); results are in reqs. False if it cannot run here. */
static bool run_batch(struct capture *c, const struct report_req *reqs, uint32_t n)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	int err;

	memcpy(c->skel->bss->report_batch, reqs, n * sizeof(*reqs));
	c->skel->bss->report_n = n;
	err = bpf_prog_test_run_opts(bpf_program__fd(c->skel->progs.report_opens), &opts);
	if (err) {
		if (!c->report_failed)
			cr_warn("cannot ask the kernel for open connections (%s): long connections "
				"will only be stored when they close",
				strerror(-err));
		c->report_failed = true;
		return false;
	}
	return true;
}

/* OPENs a batch may put into the ring before the recorder takes them out. */
#define DRAIN_EVERY 4096

int report_batch(struct capture *c, struct report_req *reqs, uint32_t n, int *sent)
{
	int before = *sent;

	if (!n || c->report_failed)
		return 0;
	if (!run_batch(c, reqs, n))
		return -EOPNOTSUPP;
	memcpy(reqs, c->skel->bss->report_batch, n * sizeof(*reqs));
	for (uint32_t i = 0; i < n; i++)
		*sent += reqs[i].result == REPORT_SENT;
	/*
	 * Thousands of OPENs at once (a burst of connections that all stay open) would fill the
	 * ring and come back as REPORT_RING_FULL: take them out as they come.
	 */
	if (*sent / DRAIN_EVERY != before / DRAIN_EVERY)
		ring_buffer__consume(c->rb);
	return 0;
}

void young_later(struct capture *c, uint64_t key, uint64_t id, uint8_t proto)
{
	struct young *y = c->young;
	struct young_ent e = { .key = key, .id = id, .seen_ns = boot_ns(), .proto = proto };

	if (push(y, &e))
		y->need_sweep = true;
}

void young_requeue(struct capture *c, const struct report_req *reqs, uint32_t n)
{
	struct young *y = c->young;
	int64_t now = boot_ns();

	for (uint32_t i = 0; i < n; i++) {
		struct young_ent e = { .key = reqs[i].key, .id = reqs[i].id, .seen_ns = now,
				       .proto = (uint8_t)reqs[i].proto, .retry = true };

		if ((reqs[i].result == REPORT_NOT_READY || reqs[i].result == REPORT_RING_FULL) &&
		    push(y, &e))
			y->need_sweep = true;
	}
}

/* Asks about one batch taken from the FIFO; the ones not ready go back, with now as seen. */
static int report_fifo_batch(struct capture *c, struct report_req *reqs, uint32_t n, int *sent)
{
	int err = report_batch(c, reqs, n, sent);

	if (!err)
		young_requeue(c, reqs, n);
	return err;
}

int capture_report_opens(struct capture *c, uint64_t started_before)
{
	struct young *y = c->young;
	struct report_req reqs[CR_REPORT_BATCH];
	size_t todo;
	uint32_t n = 0;
	int sent = 0, err = 0;

	young_read(c);
	/* Entries re-queued by this call go to the back: look at each one once. */
	todo = y->n;
	while (todo && !c->report_failed) {
		/* A copy: re-queueing may move the FIFO. */
		struct young_ent e = y->q[y->head];

		if ((uint64_t)e.seen_ns >= started_before)
			break;
		y->head = (y->head + 1) & (y->cap - 1);
		y->n--;
		todo--;
		if (!e.retry && known_closed(y, e.id))
			continue;
		reqs[n++] = (struct report_req){ .key = e.key, .id = e.id, .proto = e.proto };
		if (n == CR_REPORT_BATCH) {
			err = report_fifo_batch(c, reqs, n, &sent);
			n = 0;
			if (err)
				break;
		}
	}
	if (!err && n)
		err = report_fifo_batch(c, reqs, n, &sent);
	if (!err && y->need_sweep) {
		cr_warn("the recorder fell behind the kernel's list of new connections (%llu missed):"
			" looking through all tracked connections once",
			(unsigned long long)y->lapped);
		y->need_sweep = false;
		err = capture_sweep_opens(c, started_before, &sent);
	}
	return err ? err : sent;
}

/*
 * Kept ends sent per call: enough to keep up with any close rate the ingest can follow, few
 * enough that the recorder's timers (commits) still run between calls.
 */
#define KEPT_PER_CALL 8192

int capture_send_kept(struct capture *c)
{
	struct young *y = c->young;
	struct report_req reqs[CR_REPORT_BATCH];
	int sent = 0;

	while (y->nkept && sent < KEPT_PER_CALL && !c->report_failed) {
		uint32_t n = y->nkept < CR_REPORT_BATCH ? (uint32_t)y->nkept : CR_REPORT_BATCH;
		int before = sent, err;

		for (uint32_t i = 0; i < n; i++)
			reqs[i] = (struct report_req){ .key = y->kept[y->nkept - 1 - i],
						       .id = y->kept[y->nkept - 1 - i],
						       .proto = CR_YOUNG_KEPT_END };
		y->nkept -= n;
		err = report_batch(c, reqs, n, &sent);
		for (uint32_t i = 0; i < n; i++)
			if (err || reqs[i].result == REPORT_RING_FULL)
				young_kept(c, reqs[i].id);
		if (err)
			return err;
		/* Take them out of the ring (the ingest stores them) to make room for more. */
		ring_buffer__consume(c->rb);
		if (sent == before)
			break; /* the ring filled up again meanwhile: next poll */
	}
	return sent;
}

int capture_flush_kept(struct capture *c)
{
	struct young *y = c->young;
	int n = 0, sent = 0, idle = 0;
	size_t waiting;

	young_read(c);
	waiting = y->nkept;
	/* A round that sent nothing met a ring refilled meanwhile: drain, try again, a few times. */
	while (y->nkept && idle < 3) {
		n = capture_send_kept(c);
		if (n < 0)
			break;
		sent += n;
		idle = n ? 0 : idle + 1;
		ring_buffer__consume(c->rb);
	}
	/* What could not be sent is lost with the recorder's maps: count it, as BPF would have. */
	if (waiting)
		cr_info("%zu connection ends still waited in the tracking map at the stop: %d sent,"
			" %zu counted lost", waiting, sent, y->nkept);
	c->kept_unsent += y->nkept;
	y->nkept = 0;
	return n < 0 ? n : sent;
}

uint64_t capture_young_pending(const struct capture *c)
{
	return c->young ? c->young->n : 0;
}
