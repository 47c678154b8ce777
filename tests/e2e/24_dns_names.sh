#!/bin/sh
# SPDX-License-Identifier: MIT
# DNS answers and the names of flows. dnsmasq serves in namespace S; namespace A reaches it
# over one veth pair, namespace B over another. A's C library asks a local stub on
# 127.0.0.53 (a second dnsmasq, forwarding to S, as systemd-resolved's stub does). In A, a
# python process resolves a name with the C library (a CNAME chain of two links ending in an
# A record) and connects to the answer; dig asks S directly for a name that does not exist
# (NXDOMAIN) and, over TCP, for a plain A record. In B, dig resolves a name of its own, and a
# python process connects to the address A resolved without resolving anything.
#
# The store must hold one dns row per answer with the receiving process (pid, comm) and its
# netns (the stub's answer from S, and python's from the stub, apart), the question, the
# rcode, and the records with their TTLs in order; none of B's rows
# may carry A's netns or the other way round. Then the query: A's connection is named after
# its lookup (rname, and --name by the name or a CNAME of its chain), B's connection to the
# same address is not (another namespace), the NXDOMAIN names no flow, and --dns lists the
# answers with their pids and namespaces.
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
ip -n "$nsa" addr add 127.0.0.53/8 dev lo
cr_netns_resolver "$nsa" 127.0.0.53
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
ip netns exec "$nsa" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
	--port 53 --listen-address=127.0.0.53 --bind-interfaces --server=$srv \
	--pid-file="$CR_TMP/stub.pid" >"$CR_TMP/stub.log" 2>&1 &
stub=$!
cr_track $stub
cr_wait_port udp 53 "$nsa"

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
cr_log "A: stub $stub, python $pid_a, dig $dig_nx (NXDOMAIN), dig $dig_tcp (TCP); B: dig $dig_b, python $pid_b"

# --- the dns rows ----------------------------------------------------------------------------
rows="SELECT d.qname || '|' || d.qtype || '|' || d.rcode || '|' || p.pid || '|' || p.comm ||
	'|' || p.netns || '|' || d.proto || '|' || hex(d.raddr) || '|' || d.rport || '|' ||
	d.flags FROM dns d JOIN proc p ON p.id = d.proc"
cr_expect_rows "five answers stored" 5 "SELECT count(*) FROM dns" || true
cr_eq "answers in the store" 5 "$(cr_sql_sum "SELECT count(*) FROM dns")"
cr_eq "the stub's lookup upstream (qname|qtype|rcode|pid|comm|netns|proto|server|rport|flags)" \
	"www.shop.test|1|0|$stub|dnsmasq|$inode_a|17|$(cr_hex4 $srv)|53|0" \
	"$(cr_sql "$rows WHERE d.qname = 'www.shop.test' AND p.pid = $stub")"
cr_eq "A's C-library lookup, answered by the stub" \
	"www.shop.test|1|0|$pid_a|python3|$inode_a|17|$(cr_hex4 127.0.0.53)|53|0" \
	"$(cr_sql "$rows WHERE d.qname = 'www.shop.test' AND p.pid = $pid_a")"
cr_eq "its records, in order (type|name|ttl|addr|target)" \
	"5|www.shop.test|300||edge.shop.test 5|edge.shop.test|300||target.cdn.test 1|target.cdn.test|300|$(cr_hex4 $target)|" \
	"$(cr_sql "SELECT a.type || '|' || a.name || '|' || a.ttl || '|' || hex(a.addr) || '|' ||
		coalesce(a.target, '') FROM dns_answer a JOIN dns d ON d.id = a.dns
		JOIN proc p ON p.id = d.proc WHERE d.qname = 'www.shop.test' AND p.pid = $stub
		ORDER BY a.rowid" | tr '\n' ' ' | sed 's/ $//')"
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

# --- the query ---------------------------------------------------------------------------------
# jfields FILE KEY...: each JSON line of FILE as its KEYs' values joined by '|', lines by ' '.
jfields() {
	"$PY" -c 'import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(" ".join("|".join("null" if r[k] is None else str(r[k]) for k in sys.argv[2:]) for r in rows))' "$@"
}
q() { "$CONNREC_BIN" query -d "$CR_DATA" "$@"; }

# The last connection may still be on its way to the store.
cr_expect_rows "both connections to the answer stored" 2 "SELECT count(*) FROM flows
	WHERE proto = 'tcp' AND rport = $port AND pid IN ($pid_a, $pid_b)" || true
q -o json --proto tcp --rport "$port" --direction out >"$CR_TMP/q_flows.json"
cr_eq "connections to the answer (pid|netns|raddr|rname)" \
	"$pid_a|$inode_a|$target|www.shop.test $pid_b|$inode_b|$target|null" \
	"$(jfields "$CR_TMP/q_flows.json" pid netns raddr rname)"
q -o json --name www.shop.test >"$CR_TMP/q_name.json"
cr_eq "--name www.shop.test (pid|rport|rname)" "$pid_a|$port|www.shop.test" \
	"$(jfields "$CR_TMP/q_name.json" pid rport rname)"
q -o json --name '*.CDN.test' >"$CR_TMP/q_cname.json"
cr_eq "--name on a CNAME of the chain (pid|rname)" "$pid_a|www.shop.test" \
	"$(jfields "$CR_TMP/q_cname.json" pid rname)"
cr_eq "flows named after the NXDOMAIN" 0 "$(q --count --name 'nothing.nx.test')"
cr_eq "flows named in B (it resolved only www.other.test and never connected to it)" 0 \
	"$(q --count --netns "$inode_b" --name '*')"
cr_eq "A's lookup flow to the resolver is not named" null \
	"$(q -o json --pid "$pid_a" --proto udp | jfields /dev/stdin rname)"
q -o table --pid "$pid_a" --proto tcp >"$CR_TMP/q_table.txt"
# The START value is two words (date and time), so the value sits one field after its head.
cr_eq "the table's NAME column" www.shop.test \
	"$(awk 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "NAME") c = i + 1 } NR == 2 { print $c }' \
		"$CR_TMP/q_table.txt")"
q -o zeek --pid "$pid_a" --proto tcp >"$CR_TMP/q_zeek.tsv"
cr_eq "zeek's rname column" www.shop.test \
	"$(awk -F '\t' '/^#fields/ { for (i = 2; i <= NF; i++) if ($i == "rname") c = i - 1 }
		!/^#/ { print $c }' "$CR_TMP/q_zeek.tsv")"

q --dns -o json >"$CR_TMP/q_dns.json"
cr_eq "--dns (qname|qtype|rcode|pid|comm|netns|proto)" \
	"www.shop.test|A|NOERROR|$stub|dnsmasq|$inode_a|udp www.shop.test|A|NOERROR|$pid_a|python3|$inode_a|udp nothing.nx.test|A|NXDOMAIN|$dig_nx|dig|$inode_a|udp www.plain.test|A|NOERROR|$dig_tcp|dig|$inode_a|tcp www.other.test|A|NOERROR|$dig_b|dig|$inode_b|udp" \
	"$(jfields "$CR_TMP/q_dns.json" qname qtype rcode pid comm netns proto)"
cr_eq "--dns --pid: the stub's answer and its chain" \
	"[{'type': 'CNAME', 'name': 'www.shop.test', 'ttl': 300, 'target': 'edge.shop.test'}, {'type': 'CNAME', 'name': 'edge.shop.test', 'ttl': 300, 'target': 'target.cdn.test'}, {'type': 'A', 'name': 'target.cdn.test', 'ttl': 300, 'addr': '$target'}]" \
	"$(q --dns -o json --pid "$stub" | jfields /dev/stdin answers)"
cr_eq "--dns --netns B" "www.other.test|$dig_b" \
	"$(q --dns -o json --netns "$inode_b" | jfields /dev/stdin qname pid)"
cr_eq "--dns --addr: who resolved something to the answer (pid)" "$stub $pid_a" \
	"$(q --dns -o json --addr "$target" | jfields /dev/stdin pid)"
cr_stop
cr_eq "the recorder's DNS summary" 1 \
	"$(grep -c 'DNS: 5 answers stored (0 without a known owner); not stored: 0 malformed' \
		"$CR_TMP/recorder.err")"
# The answers are evidence like the flows: the stopped store's checkpoints cover them.
"$CONNREC_BIN" verify -d "$CR_DATA" >"$CR_TMP/verify.out" 2>&1 && st=0 || st=$?
cr_eq "verify of the store with its DNS answers (exit status)" 0 "$st"
[ "$st" -eq 0 ] || sed 's/^/    /' "$CR_TMP/verify.out"
# ... so an answer added afterwards among them (a forged copy of the first one, with an id
# below the checkpoint's mark) fails verify.
seg=$(ls "$CR_DATA"/seg-*.db | tail -n 1)
cr_eq "forged answer added" 1 "$(sqlite3 "$seg" "INSERT INTO dns SELECT id - 1, ts_ns, proc,
	proto, family, laddr, lport, raddr, rport, flags, txid, 'www.forged.test', qtype, rcode
	FROM dns WHERE id = (SELECT min(id) FROM dns) AND id > 1; SELECT changes()")"
"$CONNREC_BIN" verify -d "$CR_DATA" >"$CR_TMP/verify2.out" 2>&1 && st=0 || st=$?
sed 's/^/    verify: /' "$CR_TMP/verify2.out"
cr_eq "verify after a forged answer was added (exit status)" 1 "$st"
cr_finish
