#!/bin/sh
# SPDX-License-Identifier: MIT
# UDP and address-family edge cases, with ground truth from tests/e2e/py/udp_mapped.py:
# v4-mapped TCP on a dual-stack listener, an unconnected UDP server with several peers whose
# release ends every flow, a v4-mapped UDP datagram, and a UDP flow ended by idle expiry while
# its socket stays open.
set -eu
. "$(dirname "$0")/lib.sh"
cr_init
cr_start --udp-idle 1s

"$PY" -u "$(dirname "$0")/py/udp_mapped.py" "$CR_TMP/done" >"$CR_TMP/py.out" 2>&1 &
pypid=$!
cr_track "$pypid"
cr_wait_file "$CR_TMP/py.out" '^ready'
val() { sed -n "s/^$1 //p" "$CR_TMP/py.out" | head -n 1; }
cr_eq "python pid" "$pypid" "$(val pid)"
comm=$(cr_comm "$pypid")
tport=$(val tcp_port)
uport=$(val udp_port)
mapped_lo=00000000000000000000FFFF7F000001

# TCP on the dual-stack listener: both clients' server-side rows are family 6, mapped.
cr_expect_rows "mapped tcp rows" 4 \
	"SELECT count(*) FROM flows WHERE proto = 'tcp' AND pid = $pypid AND end_ns IS NOT NULL
	 AND (rport = $tport OR lport = $tport) AND direction != 'listen'" || true
cr_eq "v6 client to ::ffff:127.0.0.1 (family|laddr|raddr|reason)" "6|$mapped_lo|$mapped_lo|1" \
	"$(cr_sql "SELECT family, hex(laddr), hex(raddr), reason FROM flows WHERE proto = 'tcp'
		AND direction = 'out' AND lport = $(val tcp_client_lport_6) AND rport = $tport")"
cr_eq "v4 client to 127.0.0.1 (family|laddr|raddr|reason)" "4|$CR_V4_LO|$CR_V4_LO|1" \
	"$(cr_sql "SELECT family, hex(laddr), hex(raddr), reason FROM flows WHERE proto = 'tcp'
		AND direction = 'out' AND lport = $(val tcp_client_lport_4) AND rport = $tport")"
cr_eq "server rows: dual-stack socket, mapped peers (family|raddr|bytes_in|comm)" \
	"6|$mapped_lo|4|$comm
6|$mapped_lo|4|$comm" \
	"$(cr_sql "SELECT family, hex(raddr), bytes_in, comm FROM flows WHERE proto = 'tcp'
		AND direction = 'in' AND lport = $tport ORDER BY start_ns")"

# The UDP server: one socket, three peers, three 'in' flows all ended by its release.
cports=$(sed -n 's/^udp_client_port //p' "$CR_TMP/py.out" | sort -n | tr '\n' ' ')
cr_expect_rows "udp server flows ended" 3 \
	"SELECT count(*) FROM flows WHERE proto = 'udp' AND direction = 'in' AND lport = $uport
	 AND end_ns IS NOT NULL" || true
cr_eq "udp server flows (rports, all released, pid)" "${cports}7 $pypid" \
	"$(cr_sql "SELECT rport FROM flows WHERE proto = 'udp' AND direction = 'in'
		AND lport = $uport ORDER BY rport" | tr '\n' ' ')$(cr_sql "SELECT DISTINCT reason || ' ' || pid
		FROM flows WHERE proto = 'udp' AND direction = 'in' AND lport = $uport")"
cr_eq "udp client flows (one per client, released)" 3 \
	"$(cr_sql_sum "SELECT count(*) FROM flows WHERE proto = 'udp' AND direction = 'out'
		AND rport = $uport AND reason = 7 AND pid = $pypid")"

cr_eq "connected udp client (laddr|lport|raddr|reason)" \
	"$CR_V4_LO|$(val udp_connected_port)|$CR_V4_LO|7" \
	"$(cr_sql "SELECT hex(laddr), lport, hex(raddr), reason FROM flows WHERE proto = 'udp'
		AND direction = 'out' AND rport = $uport AND lport = $(val udp_connected_port)")"

# v4-mapped datagram from an AF_INET6 socket.
cr_eq "mapped udp (family|raddr|rport|reason)" "6|$mapped_lo|9|7" \
	"$(cr_sql "SELECT family, hex(raddr), rport, reason FROM flows WHERE proto = 'udp'
		AND lport = $(val mapped_udp_lport) AND pid = $pypid")"

# Idle expiry: ended with reason 9 while the socket is still open (python waits for us).
w="proto = 'udp' AND lport = $(val idle_lport) AND pid = $pypid"
cr_expect_rows "idle flow ended by expiry" 1 "SELECT count(*) FROM flows WHERE $w AND reason = 9" || true
cr_true "the idle socket is still open" grep -qv '^done' "$CR_TMP/py.out"
touch "$CR_TMP/done"
wait "$pypid" && st=0 || st=$?
cr_untrack "$pypid"
cr_eq "python exit status" 0 "$st"
cr_eq "idle flow: one row, not ended twice" "1|9" \
	"$(cr_sql "SELECT count(*), max(reason) FROM flows WHERE $w")"

cr_stop
cr_finish
