#!/bin/sh
# SPDX-License-Identifier: MIT
# Closes the state tracepoint never delivered. The kernel skips on_tcp_state when it would
# run nested in itself on one CPU (a softirq interrupting it), which a full storm provokes
# only now and then. The recorder's hidden --skip-close-port makes the program ignore every
# CLOSE transition of one port, so the second path (tcp_destroy_sock) has to record all of
# them: every connection must still be stored once, ended, with the owner and the exact
# payload bytes, and reason 8 (unknown: who closed first is not known at that point); the
# recorder must say at its stop how many closes it took that way.
#
# python makes 200 exchanges of 7 bytes out and 11 back in a network namespace of its own.
set -eu
. "$(dirname "$0")/lib.sh"
cr_init

n=200
cr_netns ns skip
inode=$(cr_netns_inode "$ns")
port=$(cr_free_port)
cr_start --skip-close-port "$port"

ip netns exec "$ns" "$PY" "$(dirname "$0")/py/exchange_tcp.py" "$port" "$n" \
	>"$CR_TMP/py.out" 2>&1 || cr_fatal "exchange_tcp.py failed: $(cat "$CR_TMP/py.out")"
cr_eq "exchanges made" "done $n" "$(grep '^done' "$CR_TMP/py.out")"
pypid=$(sed -n 's/^pid //p' "$CR_TMP/py.out")

out="proto = 'tcp' AND netns = $inode AND direction = 'out' AND rport = $port"
in="proto = 'tcp' AND netns = $inode AND direction = 'in' AND lport = $port"
cr_expect_rows "client rows, ended" "$n" "SELECT count(*) FROM flows WHERE $out AND end_ns IS NOT NULL" || true
cr_expect_rows "server rows, ended" "$n" "SELECT count(*) FROM flows WHERE $in AND end_ns IS NOT NULL" || true
cr_stop

cr_eq "client rows (pid|comm|bytes_out|bytes_in|reason|flags)" "$n|$pypid|python3|7|11|8|0" \
	"$(cr_sql "SELECT count(*), pid, comm, bytes_out, bytes_in, reason, flags FROM flows
		WHERE $out GROUP BY 2, 3, 4, 5, 6, 7")"
cr_eq "server rows (pid|comm|bytes_out|bytes_in|reason|flags)" "$n|$pypid|python3|11|7|8|0" \
	"$(cr_sql "SELECT count(*), pid, comm, bytes_out, bytes_in, reason, flags FROM flows
		WHERE $in GROUP BY 2, 3, 4, 5, 6, 7")"
cr_eq "rows of the port in all (2 per exchange + the listener)" $((2 * n + 1)) \
	"$(cr_sql_sum "SELECT count(*) FROM flows WHERE netns = $inode AND proto = 'tcp' AND
		(rport = $port OR lport = $port)")"
late=$(sed -n 's/.* \([0-9][0-9]*\) closes among them were taken from the socket.s destruction.*/\1/p' \
	"$CR_TMP/recorder.err")
cr_eq "closes taken from the socket's destruction (all endpoints + the listener)" \
	$((2 * n + 1)) "${late:-0}"
cr_eq "losses stored" 0 "$(cr_sql_sum "SELECT count(*) FROM gap WHERE kind = 1")"

cr_finish
