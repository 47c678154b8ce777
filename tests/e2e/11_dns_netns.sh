#!/bin/sh
# SPDX-License-Identifier: MIT
# dig in one network namespace asks dnsmasq in another (joined by a veth pair) over UDP.
# The store must hold dig's flow (out, pid and name 'dig' even though dig's sending thread is
# isc-net-0000, its own netns inode, a real source port) and dnsmasq's flow for the same
# 4-tuple (in, dnsmasq's pid and uid, the server netns inode), each ended when its socket is
# released.
set -eu
. "$(dirname "$0")/lib.sh"
cr_init
cr_require_cmd dig dnsmasq

# Addresses exist only inside the two namespaces this test makes.
cli=10.99.0.1 srv=10.99.0.2 answer=10.99.0.9
cr_netns nsc dnsc
cr_netns nss dnss
cr_veth "$nsc" "$cli/24" "$nss" "$srv/24"
inode_c=$(cr_netns_inode "$nsc")
inode_s=$(cr_netns_inode "$nss")
cr_log "client netns $nsc ($inode_c), server netns $nss ($inode_s)"

cr_start

# `ip netns exec` execs the command, so $! is dnsmasq's (and later dig's) own pid.
ip netns exec "$nss" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
	--address=/example.test/$answer --port 53 --listen-address=$srv --bind-interfaces \
	--user=nobody --group=nogroup --pid-file="$CR_TMP/dnsmasq.pid" \
	>"$CR_TMP/dnsmasq.log" 2>&1 &
dpid=$!
cr_track "$dpid"
cr_wait_port udp 53 "$nss"
# dnsmasq binds port 53 as root, then becomes nobody: wait for that, it is the uid it serves as.
nobody=$(id -u nobody)
dl=$(($(date +%s) + CR_TIMEOUT))
while duid=$(awk '/^Uid:/ { print $2 }' "/proc/$dpid/status") && [ "$duid" != "$nobody" ]; do
	[ "$(date +%s)" -lt "$dl" ] || cr_fatal "dnsmasq still runs as uid $duid, not $nobody"
	sleep 0.05
done
dcomm=$(cr_comm "$dpid")
cr_eq "dnsmasq's pid file names the pid the test started" "$dpid" "$(cat "$CR_TMP/dnsmasq.pid")"

ip netns exec "$nsc" dig @$srv example.test A +short +tries=1 +time=5 >"$CR_TMP/dig.out" 2>&1 &
digpid=$!
wait "$digpid" && st=0 || st=$?
cr_eq "dig exit status" 0 "$st"
cr_eq "dig's answer" "$answer" "$(cat "$CR_TMP/dig.out")"
cr_log "dnsmasq pid $dpid ($dcomm, uid $duid), dig pid $digpid"

dw="proto = 'udp' AND direction = 'out' AND pid = $digpid AND rport = 53"
cr_expect_rows "dig's flow, ended (dig has exited)" 1 \
	"SELECT count(*) FROM flows WHERE $dw AND end_ns IS NOT NULL" || true
cr_eq "dig's flows" 1 "$(cr_sql_sum "SELECT count(*) FROM flows WHERE $dw")"
cr_eq "dig's flow (family|laddr|raddr|comm|uid|netns|flags|reason)" \
	"4|$(cr_hex4 $cli)|$(cr_hex4 $srv)|dig|0|$inode_c|0|7" \
	"$(cr_sql "SELECT family, hex(laddr), hex(raddr), comm, uid, netns, flags, reason
		FROM flows WHERE $dw")"
dport=$(cr_sql "SELECT lport FROM flows WHERE $dw")
cr_gt "dig's source port" 0 "${dport:-0}"
cr_eq "UDP flows to port 53 in the client netns (only dig's)" 1 \
	"$(cr_sql_sum "SELECT count(*) FROM flows WHERE proto = 'udp' AND netns = $inode_c AND rport = 53")"

sw="proto = 'udp' AND direction = 'in' AND netns = $inode_s AND lport = 53 AND rport = ${dport:-0}"
cr_expect_rows "dnsmasq's flow for dig's query" 1 "SELECT count(*) FROM flows WHERE $sw" || true
cr_eq "dnsmasq's flows for dig's port" 1 "$(cr_sql_sum "SELECT count(*) FROM flows WHERE $sw")"
cr_eq "dnsmasq's flow (family|laddr|raddr|pid|comm|uid|flags)" \
	"4|$(cr_hex4 $srv)|$(cr_hex4 $cli)|$dpid|$dcomm|$duid|0" \
	"$(cr_sql "SELECT family, hex(laddr), hex(raddr), pid, comm, uid, flags FROM flows WHERE $sw")"
cr_eq "dnsmasq's flow still open while dnsmasq runs" NULL \
	"$(cr_sql "SELECT reason FROM flows WHERE $sw")"

# dnsmasq's socket is released when it exits: that ends its flow.
kill -TERM "$dpid"
wait "$dpid" || true
cr_untrack "$dpid"
cr_expect_rows "dnsmasq's flow ended after dnsmasq exits" 1 \
	"SELECT count(*) FROM flows WHERE $sw AND end_ns IS NOT NULL" || true
cr_eq "dnsmasq's flow end reason (7 released)" 7 "$(cr_sql "SELECT reason FROM flows WHERE $sw")"

[ "$CR_FAILS" -eq 0 ] || cr_dump_flows "netns IN ($inode_c, $inode_s)"
cr_stop
cr_finish
