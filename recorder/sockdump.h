/* SPDX-License-Identifier: MIT */
/*
 * sockdump: the connections that already exist when recording starts. eBPF reports events,
 * not state, so without this a recorder started mid-connection would have holes. It asks
 * sock_diag in every network namespace and finds each socket's owner through /proc/PID/fd.
 */
#ifndef CONNREC_SOCKDUMP_H
#define CONNREC_SOCKDUMP_H

#include <stdint.h>

struct sockdump_entry {
	uint8_t proto;	   /* 6 or 17 */
	uint8_t family;	   /* 4 or 6 */
	uint8_t direction; /* enum cr_direction, inferred: a local port that is listened on = in */
	uint8_t tcp_state;
	uint8_t laddr[16];
	uint8_t raddr[16];
	uint16_t lport, rport;
	uint32_t netns;
	uint32_t uid;
	uint32_t pid; /* 0 when no process holds it (e.g. orphaned in FIN_WAIT2) */
	uint64_t cookie;
	uint64_t cgroup;
	/*
	 * The owner's start in ns since boot, from /proc/PID/stat (clock ticks, so a multiple of
	 * 1/CLK_TCK s: compare it with BPF's exact pstart_ns at that granularity); 0 unknown.
	 */
	uint64_t pstart_ns;
	char comm[16];
};

typedef void (*sockdump_fn)(void *ctx, const struct sockdump_entry *e);

/*
 * Call fn for every TCP socket (except TIME_WAIT and request sockets) and every connected UDP
 * socket in every network namespace reachable through /proc/PID/ns/net and /run/netns.
 * Returns the number of sockets reported or -errno; a namespace that cannot be entered is
 * skipped with a warning.
 */
int sockdump_all(sockdump_fn fn, void *ctx);

#endif /* CONNREC_SOCKDUMP_H */
