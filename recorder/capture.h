/* SPDX-License-Identifier: MIT */
/*
 * capture: owns the BPF side. It checks the kernel, loads and attaches the programs through
 * process-owned bpf_links (never pinned, so the kernel detaches everything when the recorder
 * dies), and hands each ring-buffer record to a callback.
 */
#ifndef CONNREC_CAPTURE_H
#define CONNREC_CAPTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "connrec_event.h"
#include "dns_event.h"

struct capture_opts {
	uint32_t ring_size;	/* bytes, power of two; 0 = default */
	uint32_t max_flows;	/* TCP endpoints tracked at once; 0 = capture_default_max_flows() */
	uint64_t first_conn_id; /* ids below this are already used in the store */
	/*
	 * Fault injection for tests (hidden flag --skip-close-port): the state program ignores
	 * CLOSE transitions of connections with this local or remote port, as if the kernel had
	 * skipped them, so the second path (tcp_destroy_sock) must record those closes. 0 = off.
	 */
	uint16_t skip_close_port;
	/*
	 * Fault injection for tests (hidden flag --lose-close-port): the destruction program
	 * ignores that port too, so neither hook sees those closes; only the audit of
	 * reported connections (capture_audit_opens) can end them. 0 = off.
	 */
	uint16_t lose_close_port;
	uint32_t proc_ring_size; /* bytes of the process-event ring, power of two; 0 = default */
	/*
	 * Slots per CPU of the young journal, a power of two (hidden flag --young-slots, so that
	 * a test can make it lap with a few hundred connections); 0 = sized from the CPU count.
	 */
	uint32_t young_slots;
#define CAPTURE_MAX_YOUNG_SLOTS 32768u /* CR_YOUNG_SLOTS in bpf/connrec_maps.h */
	/* Leave the process-event programs out (hidden flag --no-proc-events, for benchmarks). */
	bool no_proc_events;
	uint32_t dns_ring_size; /* bytes, power of two; 0 = default (hidden flag --dns-ring-size) */
};

#define CAPTURE_DEFAULT_RING_SIZE (16u << 20)
/*
 * The default number of TCP endpoints tracked at once: one per 16 KiB of RAM (an open TCP
 * socket alone takes the kernel about 4 KiB), between 64Ki and 16Mi. Each costs about 137
 * bytes of preallocated kernel memory, plus 84 for the UDP maps sized from it (bench/RESULTS.md).
 */
#define CAPTURE_KB_PER_FLOW 16u
#define CAPTURE_MIN_FLOWS 65536u
#define CAPTURE_MAX_FLOWS (1u << 24)
uint32_t capture_default_max_flows(void);

typedef void (*capture_event_fn)(void *ctx, const struct cr_event *e);

struct capture;

/*
 * Check root, BTF and tracefs (mounting tracefs when it is missing), then load and attach
 * every program. On failure logs one line naming what is missing and returns -errno.
 */
int capture_open(struct capture **out, const struct capture_opts *opts, capture_event_fn fn,
		 void *ctx);

/* Wait up to timeout_ms for events and deliver them all. Returns the number or -errno. */
int capture_poll(struct capture *c, int timeout_ms);

/* Deliver whatever is queued without waiting. */
int capture_drain(struct capture *c);

/* Cumulative losses counted in BPF, summed over CPUs. */
int capture_drops(struct capture *c, uint64_t out[CR_DROP_MAX]);

/* A fresh connection id from the same counter the BPF programs use. */
uint64_t capture_alloc_conn_id(struct capture *c);

/* Start tracking a UDP flow found by the start-up dump, so its release ends it. */
int capture_track_udp(struct capture *c, uint64_t cookie, const uint8_t raddr[16], uint16_t rport,
		      uint64_t conn_id);

/* What capture_end_udp_*() knows of each UDP flow it removes. */
struct capture_udp_end {
	uint64_t conn_id;
	uint64_t last_boot_ns; /* its last datagram */
	uint64_t bytes_out, bytes_in; /* UDP payload bytes */
	bool refused;		      /* an ICMP port unreachable reached its socket */
};

/* Called for each UDP flow that capture_end_udp_*() removes. */
typedef void (*capture_udp_end_fn)(void *ctx, const struct capture_udp_end *end);

/* End every flow of a released multi-peer socket. Returns the number ended. */
int capture_end_udp_socket(struct capture *c, uint64_t cookie, capture_udp_end_fn fn, void *ctx);

/* End UDP flows idle since before cutoff_boot_ns. Returns the number ended. */
int capture_end_udp_idle(struct capture *c, uint64_t cutoff_boot_ns, capture_udp_end_fn fn,
			 void *ctx);

/*
 * Put the OPEN of every TCP connection that the recorder learnt of before
 * started_before_boot_ns and is still open into the ring (BPF sends none for connections
 * that close quickly: their CLOSE carries the whole flow). The work is proportional to the
 * connections made since the last call, not to the connections open (capture_young.c).
 * Returns how many were sent, or -errno.
 */
int capture_report_opens(struct capture *c, uint64_t started_before_boot_ns);

/*
 * At the stop: sends every end BPF kept in the tracking map because the ring was full
 * (struct tcp_kept_end) and drains the ring after them; any it cannot send are counted lost
 * (capture_drops). Returns how many were sent, or -errno. While recording, capture_poll()
 * does this as it goes.
 */
int capture_flush_kept(struct capture *c);

/*
 * The audit of the connections stored as open: walks the whole tracking map (about 0.3 s of
 * CPU per million tracked connections) and sends the CLOSE of each whose socket closed or was
 * freed while no program saw it (a skipped state change whose destruction was missed too).
 * Returns 0 or -errno; the CLOSEs sent are counted as late closes.
 */
int capture_audit_opens(struct capture *c);

/*
 * DNS answers come on a ring of their own (bpf/dns_event.h): one record, and the payload it
 * carries (e->len bytes).
 */
typedef void (*capture_dns_fn)(void *ctx, const struct cr_dns_event *e, const uint8_t *payload);

/* Deliver DNS records to fn from now on, from the same capture_poll() and capture_drain(). */
int capture_dns_start(struct capture *c, capture_dns_fn fn, void *ctx);

/* Cumulative DNS losses counted in BPF, summed over CPUs. */
int capture_dns_drops(struct capture *c, uint64_t out[CR_DNS_DROP_MAX]);

/* Number of programs attached (for the ready line). */
int capture_attached(const struct capture *c);

/* One attached program, for the watchdog (recorder/watch.c). The fds stay capture's. */
struct capture_hook {
	int link_fd;
	int prog_fd;
	const char *name;    /* the program, e.g. on_sendmsg4 */
	const char *section; /* where it attaches, e.g. cgroup/sendmsg4 */
};

/* Hook I, 0 <= I < capture_attached(); -ERANGE otherwise. */
int capture_hook(const struct capture *c, int i, struct capture_hook *out);

/*
 * Attach hook I again through a new link and drop the old one (someone detached it, or swapped
 * its program). On failure the old link stays and -errno is returned.
 */
int capture_reattach(struct capture *c, int i);

/* Detach and free. Safe on NULL. */
void capture_close(struct capture *c);

#endif /* CONNREC_CAPTURE_H */
