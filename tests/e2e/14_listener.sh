#!/bin/sh
# SPDX-License-Identifier: MIT
# A listening socket opened and closed while the recorder runs (IPv4 and IPv6): one listen row
# each, with the owner's pid and name, the bound address and port, and an end (reason 7) that
# is recorded while the process still lives, so the end comes from close() and not from exit.
# Then a connection that sits unaccepted in a listener's queue when the listener closes: the
# server side of it has no process, so it may carry no pid.
#
# It runs in a network namespace of its own, so every row on its ports is its own.
set -eu
. "$(dirname "$0")/lib.sh"
cr_init
cr_netns ns listen

cat >"$CR_TMP/listen.py" <<'EOF'
import signal, socket, sys
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
ls = socket.socket(fam)
ls.bind((sys.argv[1], 0))
ls.listen(5)
print("listening", ls.getsockname()[1], flush=True)
signal.sigwait([signal.SIGUSR1])
ls.close()
print("closed", flush=True)
signal.sigwait([signal.SIGUSR1])
EOF
ns_inode=$(cr_netns_inode "$ns")

cr_start

# check NAME ADDR FAMILY HEX
check() {
	out=$CR_TMP/listen.$1.out
	ip netns exec "$ns" "$PY" -u "$CR_TMP/listen.py" "$2" >"$out" 2>&1 &
	pid=$!
	cr_track "$pid"
	cr_wait_file "$out" '^listening '
	port=$(awk '/^listening/ { print $2 }' "$out")
	comm=$(cr_comm "$pid")
	cr_log "$1: pid $pid ($comm) listens on $2 port $port"
	w="netns = $ns_inode AND proto = 'tcp' AND direction = 'listen' AND lport = $port"

	cr_expect_rows "$1: listener row" 1 "SELECT count(*) FROM flows WHERE $w" || true
	cr_eq "$1: listener open (family|laddr|rport|pid|comm|uid|netns|flags|reason)" \
		"$3|$4|0|$pid|$comm|0|$ns_inode|0|NULL" \
		"$(cr_sql "SELECT family, hex(laddr), rport, pid, comm, uid, netns, flags, reason
			FROM flows WHERE $w")"

	kill -USR1 "$pid"
	cr_wait_file "$out" '^closed'
	cr_expect_rows "$1: listener end, the process still running" 1 \
		"SELECT count(*) FROM flows WHERE $w AND end_ns IS NOT NULL" || true
	cr_true "$1: the process was alive when its end was seen" cr_alive "$pid"
	cr_eq "$1: rows for the port (one listener, nothing else)" 1 \
		"$(cr_sql_sum "SELECT count(*) FROM flows WHERE netns = $ns_inode AND (lport = $port OR rport = $port)")"
	cr_eq "$1: listener end (reason 7 released, end >= start)" "7|1" \
		"$(cr_sql "SELECT reason, end_ns >= start_ns FROM flows WHERE $w")"
	kill -USR1 "$pid"
	wait "$pid" || true
	cr_untrack "$pid"
	[ "$CR_FAILS" -eq 0 ] || cr_dump_flows "netns = $ns_inode AND lport = $port"
}

check ipv4 127.0.0.1 4 "$CR_V4_LO"
check ipv6 ::1 6 "$CR_V6_LO"

# A connection the listener's owner never accepts: closing the listener resets it. The
# kernel finishes the handshake and sends the reset in softirq context, where no process is
# current, so the server side may be recorded only without a pid (pid 0, flag 4), never with
# whatever process happened to be running.
cat >"$CR_TMP/client.py" <<'EOF2'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
print("connected", s.getsockname()[1], flush=True)
try:
    d = s.recv(10)
    print("eof" if not d else "data", flush=True)
except ConnectionResetError:
    print("reset", flush=True)
EOF2
out=$CR_TMP/listen.unaccepted.out
ip netns exec "$ns" "$PY" -u "$CR_TMP/listen.py" 127.0.0.1 >"$out" 2>&1 &
lpid=$!
cr_track "$lpid"
cr_wait_file "$out" '^listening '
port=$(awk '/^listening/ { print $2 }' "$out")
ip netns exec "$ns" "$PY" -u "$CR_TMP/client.py" "$port" >"$CR_TMP/client.out" 2>&1 &
cpid=$!
cr_track "$cpid"
cr_wait_file "$CR_TMP/client.out" '^connected '
cport=$(awk '/^connected/ { print $2 }' "$CR_TMP/client.out")
ccomm=$(cr_comm "$cpid")
cr_log "unaccepted: listener pid $lpid port $port, client pid $cpid from $cport"
kill -USR1 "$lpid"
wait "$cpid" || true
cr_untrack "$cpid"
cr_eq "unaccepted: what the client saw when the listener closed" reset \
	"$(tail -n 1 "$CR_TMP/client.out")"
cw="netns = $ns_inode AND proto = 'tcp' AND direction = 'out' AND pid = $cpid AND rport = $port"
sw="netns = $ns_inode AND proto = 'tcp' AND direction = 'in' AND lport = $port AND rport = $cport"
cr_expect_rows "unaccepted: client row, ended" 1 \
	"SELECT count(*) FROM flows WHERE $cw AND end_ns IS NOT NULL" || true
cr_eq "unaccepted: client row (lport|comm|reason 4 peer RST)" "$cport|$ccomm|4" \
	"$(cr_sql "SELECT lport, comm, reason FROM flows WHERE $cw")"
cr_expect_rows "unaccepted: listener end" 1 "SELECT count(*) FROM flows WHERE netns = $ns_inode AND direction = 'listen'
	AND lport = $port AND pid = $lpid AND reason = 7" || true
n_sw=$(cr_sql_sum "SELECT count(*) FROM flows WHERE $sw")
cr_true "unaccepted: at most one server-side row ($n_sw)" [ "$n_sw" -le 1 ]
cr_eq "unaccepted: server-side rows with a pid or without flag 4 (no pid)" 0 \
	"$(cr_sql_sum "SELECT count(*) FROM flows WHERE $sw AND (pid != 0 OR flags & 4 = 0)")"
[ "$CR_FAILS" -eq 0 ] || cr_dump_flows "netns = $ns_inode"
kill -USR1 "$lpid"
wait "$lpid" || true
cr_untrack "$lpid"

cr_stop
cr_finish
