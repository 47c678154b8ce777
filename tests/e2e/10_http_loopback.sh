#!/bin/sh
# SPDX-License-Identifier: MIT
# curl against `python3 -m http.server`, over 127.0.0.1, over ::1, and from a v4 client to a
# dual-stack server on :: (the server's side is then a v4-mapped IPv6 socket). For each, the
# store must hold exactly one client row and one server row for the connection, and the
# server's listener row, each with the pid, process name, addresses, ports, netns, bytes and
# close reason that the test knows from curl, python and the kernel.
#
# Everything runs on the loopback of a network namespace of the test's own, so the kernel's
# per-namespace TCP counters are exact: when it sent no RST there, every close must be a
# normal one (reason 1 or 2).
set -eu
. "$(dirname "$0")/lib.sh"
cr_init
cr_require_cmd curl cmp

# A body that is not a multiple of anything, so byte counts cannot match by accident.
mkdir "$CR_TMP/www"
head -c 123457 /dev/urandom >"$CR_TMP/www/blob"
size=123457
cr_netns ns http
CR_NSEXEC="ip netns exec $ns"
ns_inode=$(cr_netns_inode "$ns")

cr_start

# check_case NAME BIND_ADDR URL_HOST CLIENT_FAMILY CLIENT_HEX SERVER_FAMILY SERVER_HEX LISTEN_HEX
check_case() {
	name=$1 bind=$2 host=$3 cfam=$4 chex=$5 sfam=$6 shex=$7 lhex=$8
	cr_log "--- $name: server on $bind, curl to $host"
	cr_http_server "$bind" "$CR_TMP/www"
	spid=$CR_HTTP_PID port=$CR_HTTP_PORT
	scomm=$(cr_comm "$spid")
	rst0=$(cr_tcp_counter "$ns" OutRsts)
	cr_curl "http://$host:$port/blob"
	cr_eq "$name: curl exit status" 0 "$CR_CURL_STATUS"
	cr_true "$name: body downloaded intact" cmp -s "$CR_TMP/www/blob" "$CR_CURL_BODY"
	cpid=$CR_CURL_PID clport=$CR_CURL_LPORT
	cr_log "server pid $spid ($scomm) port $port; curl pid $cpid local port $clport," \
		"sent $CR_CURL_SENT, received $CR_CURL_RECV"

	cw="netns = $ns_inode AND proto = 'tcp' AND direction = 'out' AND pid = $cpid AND rport = $port"
	sw="netns = $ns_inode AND proto = 'tcp' AND direction = 'in' AND lport = $port AND rport = $clport"
	lw="netns = $ns_inode AND proto = 'tcp' AND direction = 'listen' AND lport = $port"

	cr_expect_rows "$name: client row, ended" 1 "SELECT count(*) FROM flows WHERE $cw AND reason IS NOT NULL" || true
	cr_expect_rows "$name: server row, ended" 1 "SELECT count(*) FROM flows WHERE $sw AND reason IS NOT NULL" || true
	cr_expect_rows "$name: listener row" 1 "SELECT count(*) FROM flows WHERE $lw" || true

	cr_eq "$name: client rows" 1 "$(cr_sql_sum "SELECT count(*) FROM flows WHERE $cw")"
	cr_eq "$name: client fields (family|laddr|lport|raddr|comm|uid|netns|flags)" \
		"$cfam|$chex|$clport|$chex|curl|0|$ns_inode|0" \
		"$(cr_sql "SELECT family, hex(laddr), lport, hex(raddr), comm, uid, netns, flags
			FROM flows WHERE $cw")"
	cr_eq "$name: client bytes_out = curl's request size" "$CR_CURL_SENT" \
		"$(cr_sql "SELECT bytes_out FROM flows WHERE $cw")"
	cr_eq "$name: client bytes_in = curl's header + body size" "$CR_CURL_RECV" \
		"$(cr_sql "SELECT bytes_in FROM flows WHERE $cw")"
	rsts=$(($(cr_tcp_counter "$ns" OutRsts) - rst0))
	ok_reasons="1 2"
	if [ "$rsts" -ne 0 ]; then
		cr_log "the kernel sent $rsts RST(s) in the namespace: resets are possible reasons"
		ok_reasons="1 2 3 4"
	fi
	creason=$(cr_sql "SELECT reason FROM flows WHERE $cw")
	cr_in "$name: client close reason ($rsts RSTs sent)" "$ok_reasons" "$creason"
	cr_eq "$name: client end_ns >= start_ns" 1 \
		"$(cr_sql "SELECT end_ns >= start_ns FROM flows WHERE $cw")"

	cr_eq "$name: server rows" 1 "$(cr_sql_sum "SELECT count(*) FROM flows WHERE $sw")"
	cr_eq "$name: server fields (family|laddr|raddr|pid|comm|uid|netns|flags)" \
		"$sfam|$shex|$shex|$spid|$scomm|0|$ns_inode|0" \
		"$(cr_sql "SELECT family, hex(laddr), hex(raddr), pid, comm, uid, netns, flags
			FROM flows WHERE $sw")"
	sbytes=$(cr_sql "SELECT bytes_out || ' ' || bytes_in FROM flows WHERE $sw")
	cr_eq "$name: server bytes_out bytes_in = client bytes_in bytes_out" \
		"$CR_CURL_RECV $CR_CURL_SENT" "$sbytes"
	cr_gt "$name: server bytes_out > file size" "$size" "${sbytes%% *}"
	sreason=$(cr_sql "SELECT reason FROM flows WHERE $sw")
	cr_in "$name: server close reason ($rsts RSTs sent)" "$ok_reasons" "$sreason"
	# Somebody sent the first FIN: both sides cannot have seen the peer close first.
	cr_ne "$name: client and server close reasons" "2 2" "$creason $sreason"

	cr_eq "$name: listener rows" 1 "$(cr_sql_sum "SELECT count(*) FROM flows WHERE $lw")"
	cr_eq "$name: listener fields (family|laddr|raddr|rport|pid|comm|netns|flags)" \
		"$sfam|$lhex|$(echo "$lhex" | tr 0-9A-F 0)|0|$spid|$scomm|$ns_inode|0" \
		"$(cr_sql "SELECT family, hex(laddr), hex(raddr), rport, pid, comm, netns, flags
			FROM flows WHERE $lw")"
	cr_eq "$name: listener still open while the server runs" NULL \
		"$(cr_sql "SELECT reason FROM flows WHERE $lw")"

	# Stopping the server closes its listener: that end must be recorded too.
	kill -TERM "$spid"
	wait "$spid" || true
	cr_untrack "$spid"
	cr_expect_rows "$name: listener end after the server exits" 1 \
		"SELECT count(*) FROM flows WHERE $lw AND end_ns IS NOT NULL" || true
	cr_eq "$name: listener end reason (7 released)" 7 \
		"$(cr_sql "SELECT reason FROM flows WHERE $lw")"

	if [ "$CR_FAILS" -gt 0 ]; then
		cr_dump_flows "netns = $ns_inode AND (lport = $port OR rport = $port)"
	fi
}

check_case ipv4 127.0.0.1 127.0.0.1 4 "$CR_V4_LO" 4 "$CR_V4_LO" "$CR_V4_LO"
check_case ipv6 ::1 '[::1]' 6 "$CR_V6_LO" 6 "$CR_V6_LO" "$CR_V6_LO"
check_case v4-mapped :: 127.0.0.1 4 "$CR_V4_LO" 6 00000000000000000000FFFF7F000001 \
	00000000000000000000000000000000

cr_stop
cr_finish
