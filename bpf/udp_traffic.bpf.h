/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What a UDP flow carried, and whether it was refused (included from connrec.bpf.c at the
 * start of its UDP part; the counters live in the flow's udp_flow, connrec_maps.h).
 *
 *   cgroup_skb/ingress             (dns.bpf.h) each datagram delivered to a local socket
 *   cgroup_skb/egress              each datagram a local socket sends
 *   raw_tp/inet_sk_error_report    an error reported to a socket: ECONNREFUSED is an
 *                                  ICMP port unreachable (udp_error_peer for the peer of
 *                                  an unconnected socket)
 *
 * The flow is the socket (cookie) and the peer, as the cgroup/sendmsg, recvmsg and connect
 * hooks key it: the socket's first flow sits in its udp_socks entry, the others in
 * udp_flows. Counted are UDP payload bytes (what the application sent or could read) and
 * datagrams. A packet that is not UDP leaves after the IP version and protocol checks, with
 * no map access.
 *
 * A connected socket's first flow (a client's: DNS lookups, QUIC, NTP, iperf3) ends at the
 * socket's release, never as idle: its send() and recv() run no cgroup hook that would tell
 * it was still in use. Once it has carried UDP_COUNT_ON_SOCK_AFTER datagrams, its counting
 * moves to the socket's own storage (udp_sk_counts), which the programs reach from the packet
 * with no hash lookup, and the release adds what the socket counted to the flow. (Below that,
 * a short exchange such as one lookup costs no storage.) Where the kernel does not let these
 * programs reach socket storage, every datagram takes the udp_socks lookup. A socket that
 * connect()s again, to another peer, has that flow in udp_flows (marked connected): its
 * datagrams are counted there, after the udp_socks and udp_flows lookups, and it too ends at
 * the release, never as idle.
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

/*
 * What a connected socket counted for its first flow since the flow's datagrams were moved
 * here; the release adds it to the flow's counters in udp_socks (udp_add_sock_counts).
 */
struct udp_sock_count {
	__u64 id; /* the first flow counted here; 0 until the storage is filled */
	__u64 bytes_out;
	__u64 bytes_in;
	__u32 pkts_out;
	__u32 pkts_in;
	__u32 peer[4]; /* as the packets spell it: an IPv4 address in peer[0] */
	__u16 rport;   /* network byte order, as in the packets */
	__u8 v4;
	__u8 pad[5];
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct udp_sock_count);
} udp_sk_counts SEC(".maps");

/*
 * Set by the recorder when the kernel lets cgroup_skb and cgroup/sock_release programs reach
 * socket storage. While false the verifier drops every branch that would.
 */
const volatile bool udp_counts_on_sock = false;

#define UDP_STATE_CONNECTED 1 /* TCP_ESTABLISHED: what a UDP socket's connect() sets */
#define UDP_COUNT_ON_SOCK_AFTER 8 /* datagrams, both ways: more than a lookup's exchange */

/* Is the datagram's peer (addr, port as in the packet) the one the socket's storage counts? */
static __always_inline bool udp_sock_count_peer(const struct udp_sock_count *c,
						const __u8 *addr, bool v4, __u16 port)
{
	const __u32 *a = (const __u32 *)addr;

	if (c->rport != port || c->v4 != v4)
		return false;
	if (v4)
		return c->peer[0] == a[0];
	return c->peer[0] == a[0] && c->peer[1] == a[1] && c->peer[2] == a[2] &&
	       c->peer[3] == a[3];
}

/* Adds one datagram of the given payload to counters c (udp_sock_count or udp_flow). */
#define UDP_COUNT_ONE(c, ingress, bytes)                        \
	do {                                                    \
		if (ingress) {                                  \
			__sync_fetch_and_add(&(c)->bytes_in, bytes); \
			__sync_fetch_and_add(&(c)->pkts_in, 1);      \
		} else {                                        \
			__sync_fetch_and_add(&(c)->bytes_out, bytes); \
			__sync_fetch_and_add(&(c)->pkts_out, 1);      \
		}                                               \
	} while (0)

/*
 * A datagram of the socket's first flow, us->first, and the socket is connected to that peer
 * (full is the socket): the flow ends at the release, and once it has carried a few datagrams
 * the socket counts its next ones.
 */
static __always_inline void udp_first_connected(struct udp_sock_state *us, struct bpf_sock *full,
						const __u8 *addr, bool v4, __u16 port)
{
	const __u32 *a = (const __u32 *)addr;
	struct udp_sock_count *c;

	if (!us->connected)
		us->connected = 1;
	if (!udp_counts_on_sock || us->first.pkts_out + us->first.pkts_in < UDP_COUNT_ON_SOCK_AFTER)
		return;
	c = bpf_sk_storage_get(&udp_sk_counts, full, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!c || c->id)
		return; /* no memory, or done already */
	c->rport = port;
	c->v4 = v4;
	c->peer[0] = a[0];
	if (!v4) {
		c->peer[1] = a[1];
		c->peer[2] = a[2];
		c->peer[3] = a[3];
	}
	c->id = us->first.id; /* last: the fast path counts here once it is set */
}

/* At the release of a socket whose first flow is still going: what the socket counted. */
static __always_inline void udp_add_sock_counts(struct bpf_sock *ctx, struct udp_sock_state *us)
{
	struct udp_sock_count *c;

	if (!udp_counts_on_sock || !us->connected)
		return;
	c = bpf_sk_storage_get(&udp_sk_counts, ctx, 0, 0);
	if (!c || c->id != us->first.id)
		return;
	us->first.bytes_out += c->bytes_out;
	us->first.bytes_in += c->bytes_in;
	us->first.pkts_out += c->pkts_out;
	us->first.pkts_in += c->pkts_in;
}

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
	struct bpf_sock *sk = skb->sk, *full = NULL;
	struct udp_sock_state *us;
	struct udp_key key = {};
	struct udp_flow *f;
	__u64 bytes;

	if (!sk || skb->len < l4off + 8)
		return;
	bytes = skb->len - l4off - 8;
	/* The fast path: a connected socket's first flow, counted on the socket. */
	if (sk->state == UDP_STATE_CONNECTED) {
		full = bpf_sk_fullsock(sk);
		if (full && udp_counts_on_sock) {
			struct udp_sock_count *c = bpf_sk_storage_get(&udp_sk_counts, full, 0, 0);

			if (c && c->id && udp_sock_count_peer(c, peer, v4, peer_port)) {
				UDP_COUNT_ONE(c, ingress, bytes);
				return;
			}
		}
	}
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
	us = bpf_map_lookup_elem(&udp_socks, &key.cookie);
	f = NULL;
	if (us && us->first.id && us->rport == key.rport && same_addr(us->raddr, key.raddr)) {
		f = &us->first;
		if (full)
			udp_first_connected(us, full, peer, v4, peer_port);
	} else if (us) {
		f = bpf_map_lookup_elem(&udp_flows, &key);
	}
	if (f) {
		UDP_COUNT_ONE(f, ingress, bytes);
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

#define SO_EE_ORIGIN_ICMP 2
#define SO_EE_ORIGIN_ICMP6 3

/*
 * The peer an ICMP error was about, for an unconnected socket that asked to hear of errors
 * (IP_RECVERR, IPV6_RECVERR): the kernel queues the error, with the offending datagram's
 * destination, on the socket just before it reports it. Fills key's peer in the flow key's
 * form (v4-mapped on an IPv6 socket); false when the newest queued error is not a port
 * unreachable.
 */
static __always_inline bool udp_error_peer(struct sock *sk, struct udp_key *key)
{
	struct sock_exterr_skb *serr;
	struct sk_buff *skb;
	unsigned char *at;
	__u8 origin;

	if (!BPF_CORE_READ(sk, sk_error_queue.qlen))
		return false;
	skb = BPF_CORE_READ(sk, sk_error_queue.prev); /* the newest */
	serr = (struct sock_exterr_skb *)&skb->cb;
	origin = BPF_CORE_READ(serr, ee.ee_origin);
	if (BPF_CORE_READ(serr, ee.ee_errno) != ECONNREFUSED ||
	    (origin != SO_EE_ORIGIN_ICMP && origin != SO_EE_ORIGIN_ICMP6))
		return false;
	at = BPF_CORE_READ(skb, head) + BPF_CORE_READ(skb, network_header) +
	     BPF_CORE_READ(serr, addr_offset);
	key->rport = bpf_ntohs(BPF_CORE_READ(serr, port));
	if (origin == SO_EE_ORIGIN_ICMP6)
		return !bpf_probe_read_kernel(key->raddr, 16, at);
	if (BPF_CORE_READ(sk, __sk_common.skc_family) == AF_INET6) {
		key->raddr[10] = 0xff;
		key->raddr[11] = 0xff;
		return !bpf_probe_read_kernel(key->raddr + 12, 4, at);
	}
	return !bpf_probe_read_kernel(key->raddr, 4, at);
}

/*
 * A socket told of an ICMP port unreachable (ECONNREFUSED) marks the flow to the peer it was
 * about: a connected socket's peer, or for an unconnected one that asked for errors, the
 * destination the error names. (An unconnected socket that did not ask is not told: its
 * flow stays S0, as nothing came back to it.)
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
	if (t.rport) {
		__builtin_memcpy(key.raddr, t.raddr, 16);
		key.rport = t.rport;
	} else if (!udp_error_peer(sk, &key)) {
		return 0;
	}
	f = udp_flow_of(&key);
	if (f)
		f->refused = 1;
	return 0;
}

#endif /* CONNREC_UDP_TRAFFIC_BPF_H */
