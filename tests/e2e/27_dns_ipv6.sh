#!/bin/sh
# SPDX-License-Identifier: MIT
# DNS over IPv6, end to end (issue 13). dnsmasq serves an AAAA record on an IPv6 address in
# namespace S; namespace A reaches it over a veth pair with IPv6 addresses only in use. In A,
# a python process resolves the name with the C library (AF_INET6: one AAAA query over UDP to
# the IPv6 resolver) and connects to the answer over TCP; dig asks the same question.
#
# The store must hold both answers with their owners (pid, comm), A's netns, the IPv6 server
# address and the AAAA record (address, TTL); the TCP connection to the answer is named after
# the lookup (rname, --name) and --dns lists the answers. dig's UDP lookup over IPv6 (a
# connected socket, counted on the socket) carries exactly the bytes dig reports each way and
# is SF.
set -eu
. "$(dirname "$0")/lib.sh"
cr_init
cr_require_cmd dig dnsmasq

cli6=fd00:99:27::1 srv6=fd00:99:27::2 target6=fd00:99:28::9
cr_netns nsa dns6a
cr_netns nss dns6s
cr_veth "$nsa" 10.99.27.1/24 "$nss" 10.99.27.2/24
# nodad: usable at once (duplicate address detection would hold them for a second or two).
ip -n "$nsa" addr add "$cli6/64" dev "cra$$" nodad
ip -n "$nss" addr add "$srv6/64" dev "crb$$" nodad
# The answer: an address of S off the link (IPv6 neighbour discovery answers only for the
# link's own addresses), routed through S.
ip -n "$nss" addr add "$target6/128" dev lo
ip -n "$nsa" route add "$target6/128" via "$srv6"
cr_netns_resolver "$nsa" "$srv6"
inode_a=$(cr_netns_inode "$nsa")
hex16() { "$PY" -c 'import ipaddress, sys; print(ipaddress.IPv6Address(sys.argv[1]).packed.hex().upper())' "$1"; }
cr_log "netns A $nsa ($inode_a), S $nss"

cr_start

ip netns exec "$nss" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
	--port 53 --listen-address=$srv6 --bind-interfaces --local-ttl=300 \
	--host-record=v6.names.test,$target6 --pid-file="$CR_TMP/dnsmasq.pid" \
	>"$CR_TMP/dnsmasq.log" 2>&1 &
cr_track $!
cr_wait_port udp 53 "$nss"
ip netns exec "$nss" "$PY" -u "$(dirname "$0")/py/accept_close.py" "::" >"$CR_TMP/srv.out" 2>&1 &
cr_track $!
cr_wait_file "$CR_TMP/srv.out" '^port '
port=$(sed -n 's/^port //p' "$CR_TMP/srv.out")

ip netns exec "$nsa" "$PY" -u "$(dirname "$0")/py/resolve_connect.py" v6.names.test "$port" 6 \
	>"$CR_TMP/rc.out" 2>&1 && st=0 || st=$?
cr_eq "A's resolve-and-connect exit status" 0 "$st"
pid_a=$(sed -n 's/^pid //p' "$CR_TMP/rc.out")
cr_eq "A connected to the AAAA answer" "$target6" "$(sed -n 's/^addr //p' "$CR_TMP/rc.out")"
ip netns exec "$nsa" dig @$srv6 v6.names.test AAAA +qr +tries=1 +time=5 >"$CR_TMP/dig.out" 2>&1 &
digpid=$!
cr_track "$digpid"
wait "$digpid" || true
cr_untrack "$digpid"
cr_eq "dig's answer" 1 "$(grep -c "^v6.names.test\..*AAAA[[:space:]]*$target6\$" "$CR_TMP/dig.out")"
qsize=$(sed -n 's/^;; QUERY SIZE: \([0-9]*\)$/\1/p' "$CR_TMP/dig.out")
rsize=$(sed -n 's/^;; MSG SIZE  rcvd: \([0-9]*\)$/\1/p' "$CR_TMP/dig.out")
cr_gt "dig's query size" 0 "$qsize"
cr_gt "dig's answer size" 0 "$rsize"
cr_log "python $pid_a, dig $digpid (query $qsize bytes, answer $rsize)"

# --- the dns rows ----------------------------------------------------------------------------
rows="SELECT d.qname || '|' || d.qtype || '|' || d.rcode || '|' || p.pid || '|' || p.comm ||
	'|' || p.netns || '|' || d.proto || '|' || d.family || '|' || hex(d.raddr) || '|' ||
	d.rport FROM dns d JOIN proc p ON p.id = d.proc"
cr_expect_rows "two answers stored" 2 "SELECT count(*) FROM dns" || true
cr_eq "the answers (qname|qtype|rcode|pid|comm|netns|proto|family|server|rport)" \
	"v6.names.test|28|0|$pid_a|python3|$inode_a|17|6|$(hex16 $srv6)|53 v6.names.test|28|0|$digpid|dig|$inode_a|17|6|$(hex16 $srv6)|53" \
	"$(cr_sql "$rows ORDER BY d.id" | tr '\n' ' ' | sed 's/ $//')"
cr_eq "the AAAA record of each (type|name|ttl|addr)" \
	"28|v6.names.test|300|$(hex16 $target6) 28|v6.names.test|300|$(hex16 $target6)" \
	"$(cr_sql "SELECT a.type || '|' || a.name || '|' || a.ttl || '|' || hex(a.addr)
		FROM dns_answer a ORDER BY a.dns, a.rowid" | tr '\n' ' ' | sed 's/ $//')"

# --- the query ---------------------------------------------------------------------------------
jfields() {
	"$PY" -c 'import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(" ".join("|".join("null" if r[k] is None else str(r[k]) for k in sys.argv[2:]) for r in rows))' "$@"
}
q() { "$CONNREC_BIN" query -d "$CR_DATA" "$@"; }

cr_expect_rows "the connection to the answer stored" 1 "SELECT count(*) FROM flows
	WHERE proto = 'tcp' AND rport = $port AND pid = $pid_a" || true
q -o json --proto tcp --rport "$port" --direction out >"$CR_TMP/q_flows.json"
cr_eq "the connection to the answer (pid|netns|raddr|rname)" \
	"$pid_a|$inode_a|$target6|v6.names.test" \
	"$(jfields "$CR_TMP/q_flows.json" pid netns raddr rname)"
cr_eq "--name v6.names.test (pid|rport|rname)" "$pid_a|$port|v6.names.test" \
	"$(q -o json --name v6.names.test | jfields /dev/stdin pid rport rname)"
q --dns -o json >"$CR_TMP/q_dns.json"
cr_eq "--dns (qname|qtype|rcode|pid|comm|netns|proto)" \
	"v6.names.test|AAAA|NOERROR|$pid_a|python3|$inode_a|udp v6.names.test|AAAA|NOERROR|$digpid|dig|$inode_a|udp" \
	"$(jfields "$CR_TMP/q_dns.json" qname qtype rcode pid comm netns proto)"
cr_eq "--dns --addr: who resolved something to the answer (pid)" "$pid_a $digpid" \
	"$(q --dns -o json --addr "$target6" | jfields /dev/stdin pid)"

# dig's lookup itself: one UDP flow over IPv6, its bytes as dig counted them.
cr_expect_rows "dig's udp flow, ended" 1 \
	"SELECT count(*) FROM flows WHERE proto = 'udp' AND pid = $digpid AND reason IS NOT NULL" ||
	true
cr_eq "dig's lookup (direction|raddr|rport|bytes_out|bytes_in|state)" \
	"out|$srv6|53|$qsize|$rsize|SF" \
	"$(q -o json --proto udp --pid "$digpid" | jfields /dev/stdin direction raddr rport bytes_out bytes_in state)"
cr_eq "python's lookup (direction|raddr|rport|state)" "out|$srv6|53|SF" \
	"$(q -o json --proto udp --pid "$pid_a" | jfields /dev/stdin direction raddr rport state)"
cr_stop
cr_finish
