/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What a UDP flow carried, and whether it was refused (included from connrec.bpf.c at the
 * start of its UDP part; the counters live in the flow's udp_flow, connrec_maps.h).
 *
 *   cgroup_skb/ingress             (dns.bpf.h) each datagram delivered to a local socket
 *   cgroup_skb/egress              each datagram a local socket sends
 *   raw_tp/inet_sk_error_report    an error reported to a socket: ECONNREFUSED on a
 *                                  connected UDP socket is an ICMP port unreachable
 *
 * The flow is the socket (cookie) and the peer, as the cgroup/sendmsg, recvmsg and connect
 * hooks key it: the socket's first flow sits in its udp_socks entry, the others in
 * udp_flows. Counted are UDP payload bytes (what the application sent or could read) and
 * datagrams. A packet that is not UDP leaves after the IP version and protocol checks, with
 * no map access.
 *
 * The first datagrams of an inbound flow reach the socket before the application's
 * recvmsg() starts the flow, so there is no flow yet to count them in: they wait in
 * udp_early (keyed like the flow) until the flow starts and takes them. An entry nobody
 * claims (the application never asks for the sender's address, so no flow is ever started)
 * is pushed out by newer ones: the map is an LRU of fixed size, and those bytes belong to no
 * stored flow. Every program returns 1 ("allow"); none changes a packet.
 */
#ifndef CONNREC_UDP_TRAFFIC_BPF_H
#define CONNREC_UDP_TRAFFIC_BPF_H

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD

struct udp_early_count {
	__u64 bytes;
	__u64 pkts;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct udp_key);
	__type(value, struct udp_early_count); /* received before the flow began */
} udp_early SEC(".maps");

/* The flow of (socket, peer) in key: the socket's first one, or one in udp_flows; or NULL. */
static __always_inline struct udp_flow *udp_flow_of(const struct udp_key *key)
{
	struct udp_sock_state *us = bpf_map_lookup_elem(&udp_socks, &key->cookie);

	if (!us)
		return NULL;
	if (us->first.id && us->rport == key->rport && same_addr(us->raddr, key->raddr))
		return &us->first;
	return bpf_map_lookup_elem(&udp_flows, key);
}

/* A flow that just began takes what arrived for it before. */
static __always_inline void udp_take_early(const struct udp_key *key)
{
	struct udp_early_count *early = bpf_map_lookup_elem(&udp_early, key);
	struct udp_flow *f;

	if (!early)
		return;
	f = udp_flow_of(key);
	if (f) {
		__sync_fetch_and_add(&f->bytes_in, early->bytes);
		__sync_fetch_and_add(&f->pkts_in, (__u32)early->pkts);
	}
	bpf_map_delete_elem(&udp_early, key);
}

/*
 * Count one UDP datagram of skb (network header at skb->data, UDP header at l4off) for the
 * flow of its socket and peer: the source for a received one, the destination for a sent one.
 * peer points at the peer's address in the packet (4 bytes when v4, else 16).
 */
static __always_inline void udp_count(struct __sk_buff *skb, __u32 l4off, const __u8 *peer,
				      bool v4, __u16 peer_port, bool ingress)
{
	struct udp_early_count one = { .pkts = 1 }, *early;
	struct bpf_sock *sk = skb->sk;
	struct udp_key key = {};
	struct udp_flow *f;
	__u64 bytes;

	if (!sk || skb->len < l4off + 8)
		return;
	bytes = skb->len - l4off - 8;
	key.cookie = bpf_get_socket_cookie(skb);
	if (v4 && sk->family == AF_INET6) { /* as the hooks key it: v4-mapped */
		key.raddr[10] = 0xff;
		key.raddr[11] = 0xff;
		__builtin_memcpy(key.raddr + 12, peer, 4);
	} else if (v4) {
		__builtin_memcpy(key.raddr, peer, 4);
	} else {
		__builtin_memcpy(key.raddr, peer, 16);
	}
	key.rport = bpf_ntohs(peer_port);
	f = udp_flow_of(&key);
	if (f) {
		if (ingress) {
			__sync_fetch_and_add(&f->bytes_in, bytes);
			__sync_fetch_and_add(&f->pkts_in, 1);
		} else {
			__sync_fetch_and_add(&f->bytes_out, bytes);
			__sync_fetch_and_add(&f->pkts_out, 1);
		}
		return;
	}
	/* A datagram sent always finds its flow: sendmsg or connect started it before. */
	if (!ingress)
		return;
	early = bpf_map_lookup_elem(&udp_early, &key);
	if (!early) {
		one.bytes = bytes;
		if (!bpf_map_update_elem(&udp_early, &key, &one, BPF_NOEXIST))
			return;
		early = bpf_map_lookup_elem(&udp_early, &key); /* another CPU made it meanwhile */
		if (!early)
			return;
	}
	__sync_fetch_and_add(&early->bytes, bytes);
	__sync_fetch_and_add(&early->pkts, 1);
}

/*
 * The UDP part of a cgroup_skb program: find the headers, count the datagram. Returns the
 * protocol (0 when the packet could not be read), so the ingress program can go on to DNS.
 */
static __always_inline __u8 udp_skb(struct __sk_buff *skb, bool ingress, __u32 *l4off_out)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	const __u8 *saddr, *daddr;
	struct udphdr *uh;
	__u32 l4off;
	__u8 proto;
	bool v4;

	/*
	 * skb->data is the network header here. The headers a socket receives or sends with
	 * sit in the linear part (the IP and UDP/TCP code put them there), so direct reads reach
	 * them; a packet where they are not is left alone like any other.
	 */
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = data;

		if ((void *)(ip + 1) > end)
			return 0;
		v4 = true;
		proto = ip->protocol;
		l4off = (ip->ihl & 0xf) * 4;
		saddr = (const __u8 *)&ip->saddr;
		daddr = (const __u8 *)&ip->daddr;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = data;

		/* Extension headers are not followed: UDP datagrams carry none in practice. */
		if ((void *)(ip6 + 1) > end)
			return 0;
		v4 = false;
		proto = ip6->nexthdr;
		l4off = sizeof(*ip6);
		saddr = (const __u8 *)&ip6->saddr;
		daddr = (const __u8 *)&ip6->daddr;
	} else {
		return 0;
	}
	*l4off_out = l4off;
	if (proto != IPPROTO_UDP)
		return proto;
	uh = data + l4off;
	if ((void *)(uh + 1) > end)
		return 0;
	if (ingress)
		udp_count(skb, l4off, saddr, v4, uh->source, true);
	else
		udp_count(skb, l4off, daddr, v4, uh->dest, false);
	return proto;
}

SEC("cgroup_skb/egress")
int on_skb_egress(struct __sk_buff *skb)
{
	__u32 l4off;

	udp_skb(skb, false, &l4off);
	return 1;
}

/*
 * A connected UDP socket is told of an ICMP port unreachable as ECONNREFUSED (an unconnected
 * one is not, unless it asked with IP_RECVERR, and then it has no single peer): mark its flow.
 */
SEC("raw_tp/inet_sk_error_report")
int BPF_PROG(on_sk_error, struct sock *sk)
{
	struct udp_key key = {};
	struct cr_event t = {};
	struct udp_flow *f;

	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_UDP ||
	    BPF_CORE_READ(sk, sk_err) != ECONNREFUSED)
		return 0;
	sock_tuple(sk, &t, NULL);
	key.cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	__builtin_memcpy(key.raddr, t.raddr, 16);
	key.rport = t.rport;
	f = udp_flow_of(&key);
	if (f)
		f->refused = 1;
	return 0;
}

#endif /* CONNREC_UDP_TRAFFIC_BPF_H */
