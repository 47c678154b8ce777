#!/bin/sh
# SPDX-License-Identifier: MIT
# Connections that stay open. BPF sends nothing when a connection opens (the CLOSE of a short
# one carries the whole flow); the recorder asks for the OPEN of connections older than a
# second. So a held connection must show in the store while it is open, with the pid of the
# process that connected (out) and of the one that accepted (in), and keep exactly one row
# per endpoint when it closes, its end and bytes joined to it. A connection younger than a
# second when the recorder stops must still be stored, as open.
#
# Server and clients are separate python processes in a network namespace of the test's own.
set -eu
. "$(dirname "$0")/lib.sh"
cr_init

cr_netns ns long
ns_inode=$(cr_netns_inode "$ns")
hold="$(dirname "$0")/py/hold_tcp.py"

# value FILE KEY: the value of the first "KEY value" line of FILE, waiting for it.
value() {
	cr_wait_file "$1" "^$2 " >/dev/null
	sed -n "s/^$2 //p" "$1" | head -n 1
}

cr_start

ip netns exec "$ns" "$PY" "$hold" server >"$CR_TMP/server.out" 2>&1 &
cr_track $!
spid=$(value "$CR_TMP/server.out" pid)
port=$(value "$CR_TMP/server.out" port)

# client NAME: start one, waiting until it is connected. Sets cpid and lport.
client() {
	ip netns exec "$ns" "$PY" "$hold" client "$port" "$CR_TMP/close.$1" >"$CR_TMP/$1.out" 2>&1 &
	cr_track $!
	cpid=$(value "$CR_TMP/$1.out" pid)
	lport=$(value "$CR_TMP/$1.out" lport)
	cr_wait_file "$CR_TMP/server.out" "^accepted $lport\$" >/dev/null
	cr_log "client $1: pid $cpid, local port $lport; server pid $spid, port $port"
}

where() { # DIR PORT-OF-CLIENT
	if [ "$1" = out ]; then
		echo "netns = $ns_inode AND proto = 'tcp' AND direction = 'out' AND lport = $2 AND rport = $port"
	else
		echo "netns = $ns_inode AND proto = 'tcp' AND direction = 'in' AND lport = $port AND rport = $2"
	fi
}

# 1. Held open: stored while open, with both owners.
client a
a_pid=$cpid a_port=$lport
cr_expect_rows "held connection, client row while open" 1 \
	"SELECT count(*) FROM flows WHERE $(where out "$a_port") AND end_ns IS NULL" || true
cr_expect_rows "held connection, server row while open" 1 \
	"SELECT count(*) FROM flows WHERE $(where in "$a_port") AND end_ns IS NULL" || true
cr_eq "client row while open (pid|comm|uid|flags)" "$a_pid|python3|0|0" \
	"$(cr_sql "SELECT pid, comm, uid, flags FROM flows WHERE $(where out "$a_port")")"
cr_eq "server row while open (pid|comm|uid|flags)" "$spid|python3|0|0" \
	"$(cr_sql "SELECT pid, comm, uid, flags FROM flows WHERE $(where in "$a_port")")"

# 2. It closes: the end joins the same row, bytes exact (5 sent by the client).
touch "$CR_TMP/close.a"
cr_wait_file "$CR_TMP/a.out" '^closed ' >/dev/null
cr_expect_rows "client row ended" 1 \
	"SELECT count(*) FROM flows WHERE $(where out "$a_port") AND end_ns IS NOT NULL" || true
cr_expect_rows "server row ended" 1 \
	"SELECT count(*) FROM flows WHERE $(where in "$a_port") AND end_ns IS NOT NULL" || true
cr_eq "client rows for the connection" 1 \
	"$(cr_sql_sum "SELECT count(*) FROM conn c WHERE c.id IN
		(SELECT conn_id FROM flows WHERE $(where out "$a_port"))")"
cr_eq "client end (pid|bytes_out|bytes_in|reason: 1 = closed by us first)" "$a_pid|5|0|1" \
	"$(cr_sql "SELECT pid, bytes_out, bytes_in, reason FROM flows WHERE $(where out "$a_port")")"
cr_eq "server end (pid|bytes_out|bytes_in|reason: 2 = closed by the peer first)" "$spid|0|5|2" \
	"$(cr_sql "SELECT pid, bytes_out, bytes_in, reason FROM flows WHERE $(where in "$a_port")")"
cr_eq "rows of the held connection in all (out + in)" 2 \
	"$(cr_sql_sum "SELECT count(*) FROM flows WHERE ($(where out "$a_port")) OR ($(where in "$a_port"))")"

# 3. Young and open when the recorder stops: stored as open all the same.
client b
b_pid=$cpid b_port=$lport
cr_stop
cr_eq "young connection at the stop, client row (pid|open)" "$b_pid|NULL" \
	"$(cr_sql "SELECT pid, end_ns FROM flows WHERE $(where out "$b_port")")"
cr_eq "young connection at the stop, server row (pid|open)" "$spid|NULL" \
	"$(cr_sql "SELECT pid, end_ns FROM flows WHERE $(where in "$b_port")")"
touch "$CR_TMP/close.b"

cr_finish
