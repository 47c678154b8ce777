/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * DNS capture: the answers each socket receives, for names on flows (included from
 * connrec.bpf.c; the record is bpf/dns_event.h).
 *
 *   cgroup_skb/ingress   every packet delivered to a local socket, in any network namespace
 *
 * It sees every packet the host receives, so a packet that is not a DNS answer must leave
 * after a few loads: IP version, protocol, source port, and out, with no helper call and no
 * map write. (A UDP datagram is counted for its flow first: udp_traffic.bpf.h.) A DNS answer (UDP or TCP from port 53) is copied, header and up to
 * CR_DNS_SNAPLEN payload bytes, into the dns_events ring together with the receiving
 * socket's cookie. Nothing else is known here: the packet often arrives in softirq, where
 * the current task is whoever was interrupted. Userspace gives the answer its owner from
 * what the flow events told it about that socket.
 *
 * The program returns 1: it never drops or changes a packet.
 */
#ifndef CONNREC_DNS_BPF_H
#define CONNREC_DNS_BPF_H

#include "dns_event.h"

#define DNS_PORT 53

/* Userspace sizes it before load; separate from `events` so a DNS flood costs no flow. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} dns_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CR_DNS_DROP_MAX);
	__type(key, __u32);
	__type(value, __u64);
} dns_drops SEC(".maps");

/* Wake the consumer only when this much is waiting; it polls on its own timer anyway. */
const volatile __u64 dns_wakeup_bytes = 1 << 20;

static __always_inline void dns_count_drop(__u32 reason)
{
	__u64 *n = bpf_map_lookup_elem(&dns_drops, &reason);

	if (n)
		*n += 1;
}

/*
 * One record of header + cap bytes, with the first len (1..cap) payload bytes at off. The
 * ring only takes constant sizes, so the caller picks the smallest of a few caps that holds
 * the payload: a short answer does not occupy a 4 KiB slot.
 */
_Static_assert((CR_DNS_SNAPLEN & (CR_DNS_SNAPLEN - 1)) == 0, "dns_put masks with SNAPLEN - 1");

static __always_inline int dns_put(struct __sk_buff *skb, const struct cr_dns_event *h,
				   __u32 off, __u32 len, const __u32 cap)
{
	struct cr_dns_event *e;
	__u64 avail;

	if (len == 0 || len > cap)
		return -1;
	e = bpf_ringbuf_reserve(&dns_events, sizeof(*h) + cap, 0);
	if (!e) {
		dns_count_drop(CR_DNS_DROP_RING);
		return 0;
	}
	/*
	 * len is already 1..cap, but the 6.1 verifier does not learn "at least 1" from the
	 * len == 0 test, and refuses a copy size that may be 0. This form states both bounds in
	 * a way it follows; the barrier keeps the compiler from folding it back to len.
	 */
	barrier_var(len);
	len = ((len - 1) & (CR_DNS_SNAPLEN - 1)) + 1;
	if (len > cap) {
		bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
		return 0;
	}
	__builtin_memcpy(e, h, sizeof(*h));
	e->len = len;
	if (bpf_skb_load_bytes(skb, off, e + 1, len)) {
		bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
		return 0;
	}
	avail = bpf_ringbuf_query(&dns_events, BPF_RB_AVAIL_DATA);
	bpf_ringbuf_submit(e, avail >= dns_wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
	return 0;
}

/*
 * The slow path, for packets from port 53 only: the addresses, the payload's place and, for
 * TCP, its sequence number, then the copy. Kept out of line so the common path stays short.
 */
static __noinline int dns_capture(struct __sk_buff *skb, __u32 l4off, __u32 is_tcp)
{
	struct cr_dns_event h = {};
	__u32 off, len;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)))
			return 0;
		h.family = 4;
		__builtin_memcpy(h.raddr, &ip.saddr, 4);
		__builtin_memcpy(h.laddr, &ip.daddr, 4);
	} else {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, 0, &ip6, sizeof(ip6)))
			return 0;
		h.family = 6;
		__builtin_memcpy(h.raddr, &ip6.saddr, 16);
		__builtin_memcpy(h.laddr, &ip6.daddr, 16);
	}
	if (is_tcp) {
		struct tcphdr th;

		if (bpf_skb_load_bytes(skb, l4off, &th, sizeof(th)))
			return 0;
		h.proto = IPPROTO_TCP;
		h.lport = bpf_ntohs(th.dest);
		h.rport = bpf_ntohs(th.source);
		h.tcp_seq = bpf_ntohl(th.seq);
		off = l4off + th.doff * 4;
	} else {
		struct udphdr uh;

		if (bpf_skb_load_bytes(skb, l4off, &uh, sizeof(uh)))
			return 0;
		h.proto = IPPROTO_UDP;
		h.lport = bpf_ntohs(uh.dest);
		h.rport = bpf_ntohs(uh.source);
		off = l4off + sizeof(uh);
	}
	if (skb->len <= off)
		return 0; /* a bare TCP ACK, FIN or SYN: no DNS bytes */
	len = skb->len - off;
	h.wire_len = len;
	h.ts_boot_ns = bpf_ktime_get_boot_ns();
	h.cookie = bpf_get_socket_cookie(skb);
	if (len > CR_DNS_SNAPLEN)
		len = CR_DNS_SNAPLEN; /* userspace sees wire_len > len and counts it */
	if (len <= 256)
		return dns_put(skb, &h, off, len, 256);
	if (len <= 1024)
		return dns_put(skb, &h, off, len, 1024);
	return dns_put(skb, &h, off, len, CR_DNS_SNAPLEN);
}

SEC("cgroup_skb/ingress")
int on_skb_ingress(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct udphdr *l4; /* the ports sit at the same place in a TCP header */
	__u32 l4off;
	__u8 proto;

	/* A UDP datagram is counted for its flow first (udp_traffic.bpf.h). */
	proto = udp_skb(skb, true, &l4off);
	if (proto != IPPROTO_UDP && proto != IPPROTO_TCP)
		return 1;
	l4 = data + l4off;
	if ((void *)(l4 + 1) > end || l4->source != bpf_htons(DNS_PORT))
		return 1;
	dns_capture(skb, l4off, proto == IPPROTO_TCP);
	return 1;
}

#endif /* CONNREC_DNS_BPF_H */
