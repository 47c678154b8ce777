#!/bin/sh
# SPDX-License-Identifier: MIT
# A listening socket opened and closed while the recorder runs (IPv4 and IPv6): one listen row
# each, with the owner's pid and name, the bound address and port, and an end (reason 7) that
# is recorded while the process still lives, so the end comes from close() and not from exit.
set -eu
. "$(dirname "$0")/lib.sh"
cr_init

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
host_netns=$(stat -L -c %i /proc/self/ns/net)

cr_start

# check NAME ADDR FAMILY HEX
check() {
	out=$CR_TMP/listen.$1.out
	"$PY" -u "$CR_TMP/listen.py" "$2" >"$out" 2>&1 &
	pid=$!
	cr_track "$pid"
	cr_wait_file "$out" '^listening '
	port=$(awk '/^listening/ { print $2 }' "$out")
	comm=$(cr_comm "$pid")
	cr_log "$1: pid $pid ($comm) listens on $2 port $port"
	w="proto = 'tcp' AND direction = 'listen' AND lport = $port"

	cr_expect_rows "$1: listener row" 1 "SELECT count(*) FROM flows WHERE $w" || true
	cr_eq "$1: listener open (family|laddr|rport|pid|comm|uid|netns|flags|reason)" \
		"$3|$4|0|$pid|$comm|0|$host_netns|0|NULL" \
		"$(cr_sql "SELECT family, hex(laddr), rport, pid, comm, uid, netns, flags, reason
			FROM flows WHERE $w")"

	kill -USR1 "$pid"
	cr_wait_file "$out" '^closed'
	cr_expect_rows "$1: listener end, the process still running" 1 \
		"SELECT count(*) FROM flows WHERE $w AND end_ns IS NOT NULL" || true
	cr_true "$1: the process was alive when its end was seen" cr_alive "$pid"
	cr_eq "$1: rows for the port (one listener, nothing else)" 1 \
		"$(cr_sql_sum "SELECT count(*) FROM flows WHERE lport = $port OR rport = $port")"
	cr_eq "$1: listener end (reason 7 released, end >= start)" "7|1" \
		"$(cr_sql "SELECT reason, end_ns >= start_ns FROM flows WHERE $w")"
	kill -USR1 "$pid"
	wait "$pid" || true
	cr_untrack "$pid"
	[ "$CR_FAILS" -eq 0 ] || cr_dump_flows "lport = $port"
}

check ipv4 127.0.0.1 4 "$CR_V4_LO"
check ipv6 ::1 6 "$CR_V6_LO"

cr_stop
cr_finish
