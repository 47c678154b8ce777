#!/bin/sh
# SPDX-License-Identifier: MIT
# Failed active opens. A connect to a closed loopback port (v4 and v6) is answered with a RST
# and must be stored as refused (reason 5). A connect whose SYNs vanish must be stored as a
# timeout (reason 6), both when the client gives up first (nc -w closes the socket while it is
# still in SYN_SENT) and when the kernel gives up (ETIMEDOUT after tcp_syn_retries).
#
# The SYNs vanish inside a namespace of the test's own: a veth end with an address and a
# permanent neighbour entry for the target, whose peer end is down, so every packet is dropped
# by the veth driver and nothing answers (no netfilter needed, no traffic leaves the namespace).
set -eu
. "$(dirname "$0")/lib.sh"
cr_init
cr_require_cmd nc

cr_netns ns drop
ip -n "$ns" link add crv$$ type veth peer name crw$$
ip -n "$ns" addr add 10.99.1.1/24 dev crv$$
ip -n "$ns" link set crv$$ up
ip -n "$ns" neigh add 10.99.1.2 lladdr 02:00:00:00:00:02 dev crv$$ nud permanent
# The kernel's own give-up comes after 1 + 2 s with one SYN retry (per-namespace setting).
ip netns exec "$ns" sysctl -q -w net.ipv4.tcp_syn_retries=1
inode=$(cr_netns_inode "$ns")
host_netns=$(stat -L -c %i /proc/self/ns/net)

cr_start

# run_nc VAR NC-ARGS...: run nc in the background, store its pid in VAR, expect it to fail.
run_nc() {
	_var=$1
	shift
	"$@" >"$CR_TMP/nc.out" 2>&1 &
	_pid=$!
	eval "$_var=\$_pid"
	wait "$_pid" && _st=0 || _st=$?
	cr_ne "exit status of $*" 0 "$_st"
}

port4=$(cr_free_port 127.0.0.1)
port6=$(cr_free_port ::1)
run_nc p4 nc -z 127.0.0.1 "$port4"
run_nc p6 nc -z ::1 "$port6"
run_nc pc ip netns exec "$ns" nc -z -w 2 10.99.1.2 80
run_nc pk ip netns exec "$ns" nc -z 10.99.1.2 81
cr_log "refused: nc $p4 -> 127.0.0.1:$port4, nc $p6 -> [::1]:$port6;" \
	"timeout: nc $pc (client gives up) -> :80, nc $pk (kernel gives up) -> :81"

# check NAME WHERE EXPECTED(family|laddr|raddr|comm|uid|netns|flags|reason)
check() {
	w="proto = 'tcp' AND direction = 'out' AND $2"
	cr_expect_rows "$1: row, ended" 1 "SELECT count(*) FROM flows WHERE $w AND end_ns IS NOT NULL" || true
	cr_eq "$1: rows" 1 "$(cr_sql_sum "SELECT count(*) FROM flows WHERE $w")"
	cr_eq "$1: (family|laddr|raddr|comm|uid|netns|flags|reason)" "$3" \
		"$(cr_sql "SELECT family, hex(laddr), hex(raddr), comm, uid, netns, flags, reason
			FROM flows WHERE $w")"
	cr_gt "$1: local port" 0 "$(cr_sql "SELECT lport FROM flows WHERE $w")"
	cr_eq "$1: no bytes either way" "0|0" \
		"$(cr_sql "SELECT coalesce(bytes_out, 0), coalesce(bytes_in, 0) FROM flows WHERE $w")"
	cr_eq "$1: no server side (in) row" 0 \
		"$(cr_sql_sum "SELECT count(*) FROM flows WHERE direction = 'in' AND $4")"
}

check "refused v4" "pid = $p4 AND rport = $port4" "4|$CR_V4_LO|$CR_V4_LO|nc|0|$host_netns|0|5" \
	"lport = $port4"
check "refused v6" "pid = $p6 AND rport = $port6" "6|$CR_V6_LO|$CR_V6_LO|nc|0|$host_netns|0|5" \
	"lport = $port6"
check "timeout, client gave up" "pid = $pc AND rport = 80" \
	"4|$(cr_hex4 10.99.1.1)|$(cr_hex4 10.99.1.2)|nc|0|$inode|0|6" "netns = $inode"
check "timeout, kernel gave up" "pid = $pk AND rport = 81" \
	"4|$(cr_hex4 10.99.1.1)|$(cr_hex4 10.99.1.2)|nc|0|$inode|0|6" "netns = $inode"

if [ "$CR_FAILS" -gt 0 ]; then
	cr_dump_flows "pid IN ($p4, $p6, $pc, $pk) OR netns = $inode"
fi
cr_stop
cr_finish
