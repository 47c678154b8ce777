#!/bin/sh
# SPDX-License-Identifier: MIT
# DNS answers and the names of flows. dnsmasq serves in namespace S; namespace A reaches it
# over one veth pair, namespace B over another. In A, a python process resolves a name with
# the C library (a CNAME chain of two links ending in an A record) and connects to the answer;
# dig asks for a name that does not exist (NXDOMAIN) and, over TCP, for a plain A record. In B,
# dig resolves a name of its own, and a python process connects to the address A resolved
# without resolving anything.
#
# The store must hold one dns row per answer with the receiving process (pid, comm) and its
# netns, the question, the rcode, and the records with their TTLs in order; none of B's rows
# may carry A's netns or the other way round.
set -eu
. "$(dirname "$0")/lib.sh"
cr_init
cr_require_cmd dig dnsmasq

cli=10.99.4.1 srv=10.99.4.2 cli_b=10.99.5.1 srv_b=10.99.5.2
target=10.99.4.9 plain=10.99.4.8 other=10.99.4.7
cr_netns nsa dnsa
cr_netns nsb dnsb
cr_netns nss dnss
cr_veth "$nsa" "$cli/24" "$nss" "$srv/24" a
cr_veth "$nsb" "$cli_b/24" "$nss" "$srv_b/24" b
# The answers are addresses of S (any interface), reachable from A and from B.
for a in $target $plain $other; do ip -n "$nss" addr add "$a/32" dev lo; done
ip -n "$nsb" route add "$target/32" via "$srv_b"
cr_netns_resolver "$nsa" "$srv"
cr_netns_resolver "$nsb" "$srv_b"
inode_a=$(cr_netns_inode "$nsa")
inode_b=$(cr_netns_inode "$nsb")
cr_log "netns A $nsa ($inode_a), B $nsb ($inode_b)"

cr_start

ip netns exec "$nss" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
	--port 53 --listen-address=$srv --listen-address=$srv_b --bind-interfaces \
	--local-ttl=300 --host-record=target.cdn.test,$target \
	--cname=edge.shop.test,target.cdn.test --cname=www.shop.test,edge.shop.test \
	--address=/plain.test/$plain --address=/other.test/$other --address=/nx.test/ \
	--pid-file="$CR_TMP/dnsmasq.pid" >"$CR_TMP/dnsmasq.log" 2>&1 &
cr_track $!
cr_wait_port udp 53 "$nss"
cr_wait_port tcp 53 "$nss"

ip netns exec "$nss" "$PY" -u "$(dirname "$0")/py/accept_close.py" 0.0.0.0 >"$CR_TMP/srv.out" 2>&1 &
cr_track $!
cr_wait_file "$CR_TMP/srv.out" '^port '
port=$(sed -n 's/^port //p' "$CR_TMP/srv.out")

# A: resolve through the C library, connect to the answer.
ip netns exec "$nsa" "$PY" -u "$(dirname "$0")/py/resolve_connect.py" www.shop.test "$port" \
	>"$CR_TMP/rc_a.out" 2>&1 && st=0 || st=$?
cr_eq "A's resolve-and-connect exit status" 0 "$st"
pid_a=$(sed -n 's/^pid //p' "$CR_TMP/rc_a.out")
cr_eq "A connected to the answer" "$target" "$(sed -n 's/^addr //p' "$CR_TMP/rc_a.out")"
# A: NXDOMAIN, and a plain A record over TCP.
ip netns exec "$nsa" dig @$srv nothing.nx.test A +tries=1 +time=5 >"$CR_TMP/dig_nx.out" 2>&1 &
dig_nx=$!
wait $dig_nx || true
cr_eq "dig's NXDOMAIN" 1 "$(grep -c 'status: NXDOMAIN' "$CR_TMP/dig_nx.out")"
ip netns exec "$nsa" dig @$srv www.plain.test A +tcp +short +tries=1 +time=5 \
	>"$CR_TMP/dig_tcp.out" 2>&1 &
dig_tcp=$!
wait $dig_tcp || true
cr_eq "dig +tcp's answer" "$plain" "$(cat "$CR_TMP/dig_tcp.out")"
# B: a lookup of its own, then a connection to what A resolved, without a lookup.
ip netns exec "$nsb" dig @$srv_b www.other.test A +short +tries=1 +time=5 >"$CR_TMP/dig_b.out" \
	2>&1 &
dig_b=$!
wait $dig_b || true
cr_eq "B's dig answer" "$other" "$(cat "$CR_TMP/dig_b.out")"
ip netns exec "$nsb" "$PY" -c 'import os, socket, sys
print("pid", os.getpid(), flush=True)
socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10).close()' "$target" "$port" \
	>"$CR_TMP/conn_b.out" 2>&1 && st=0 || st=$?
cr_eq "B's connection exit status" 0 "$st"
pid_b=$(sed -n 's/^pid //p' "$CR_TMP/conn_b.out")
cr_log "A: python $pid_a, dig $dig_nx (NXDOMAIN), dig $dig_tcp (TCP); B: dig $dig_b, python $pid_b"

# --- the dns rows ----------------------------------------------------------------------------
rows="SELECT d.qname || '|' || d.qtype || '|' || d.rcode || '|' || p.pid || '|' || p.comm ||
	'|' || p.netns || '|' || d.proto || '|' || hex(d.raddr) || '|' || d.rport || '|' ||
	d.flags FROM dns d JOIN proc p ON p.id = d.proc"
cr_expect_rows "four answers stored" 4 "SELECT count(*) FROM dns" || true
cr_eq "answers in the store" 4 "$(cr_sql_sum "SELECT count(*) FROM dns")"
cr_eq "A's C-library lookup (qname|qtype|rcode|pid|comm|netns|proto|server|rport|flags)" \
	"www.shop.test|1|0|$pid_a|python3|$inode_a|17|$(cr_hex4 $srv)|53|0" \
	"$(cr_sql "$rows WHERE d.qname = 'www.shop.test'")"
cr_eq "its records, in order (type|name|ttl|addr|target)" \
	"5|www.shop.test|300||edge.shop.test 5|edge.shop.test|300||target.cdn.test 1|target.cdn.test|300|$(cr_hex4 $target)|" \
	"$(cr_sql "SELECT a.type || '|' || a.name || '|' || a.ttl || '|' || hex(a.addr) || '|' ||
		coalesce(a.target, '') FROM dns_answer a JOIN dns d ON d.id = a.dns
		WHERE d.qname = 'www.shop.test' ORDER BY a.rowid" | tr '\n' ' ' | sed 's/ $//')"
cr_eq "A's NXDOMAIN: the answer row, with rcode 3 and no records" \
	"nothing.nx.test|1|3|$dig_nx|dig|$inode_a|17|$(cr_hex4 $srv)|53|0" \
	"$(cr_sql "$rows WHERE d.qname = 'nothing.nx.test'")"
cr_eq "records of the NXDOMAIN answer" 0 \
	"$(cr_sql_sum "SELECT count(*) FROM dns_answer a JOIN dns d ON d.id = a.dns
		WHERE d.qname = 'nothing.nx.test'")"
cr_eq "A's lookup over TCP, owned through its connection" \
	"www.plain.test|1|0|$dig_tcp|dig|$inode_a|6|$(cr_hex4 $srv)|53|0" \
	"$(cr_sql "$rows WHERE d.qname = 'www.plain.test'")"
cr_eq "B's lookup, in B's netns" \
	"www.other.test|1|0|$dig_b|dig|$inode_b|17|$(cr_hex4 $srv_b)|53|0" \
	"$(cr_sql "$rows WHERE d.qname = 'www.other.test'")"
cr_eq "answers without an owner" 0 "$(cr_sql_sum "SELECT count(*) FROM dns WHERE flags & 4")"

[ "$CR_FAILS" -eq 0 ] || cr_sql "$rows" | sed 's/^/    dns: /'
cr_stop
cr_eq "the recorder's DNS summary" 1 \
	"$(grep -c 'DNS: 4 answers stored (0 without a known owner); not stored: 0 malformed' \
		"$CR_TMP/recorder.err")"
cr_finish
