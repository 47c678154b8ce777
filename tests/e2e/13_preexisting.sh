#!/bin/sh
# SPDX-License-Identifier: MIT
# A connection that is already open when the recorder starts, and closes while it records.
# Its two ends (and the server's listener) come from the start-up socket dump, so they must be
# flagged pre-existing (flags & 1) and owned by the right processes (found through /proc). When
# the connection then closes, the close must be tied to those rows, with the byte counts of
# the whole connection: 1000 bytes server -> client, 500 + 700 bytes client -> server, of which
# the 700 are sent after the recorder is ready. The client closes first.
#
# It runs in a network namespace of its own: the start-up dump must cover every namespace, and
# the kernel's per-namespace counters show that no RST was sent (so the closes are FINs).
set -eu
. "$(dirname "$0")/lib.sh"
cr_init
cr_netns ns pre

cat >"$CR_TMP/server.py" <<'EOF'
import socket, sys
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(1)
print("listening", ls.getsockname()[1], flush=True)
c, _ = ls.accept()
c.sendall(b"s" * 1000)
n = 0
while True:
    d = c.recv(65536)
    if not d:
        break
    n += len(d)
c.close()
print("received", n, flush=True)
# The listener is closed last, while the process is still alive.
ls.close()
print("closed", flush=True)
EOF
cat >"$CR_TMP/client.py" <<'EOF'
import signal, socket, sys
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
got = 0
while got < 1000:
    got += len(s.recv(1000 - got))
s.sendall(b"c" * 500)
print("connected", s.getsockname()[1], flush=True)
signal.sigwait([signal.SIGUSR1])  # the test says "go" once the recorder is ready
s.sendall(b"C" * 700)
s.shutdown(socket.SHUT_WR)
while s.recv(65536):
    pass
s.close()
print("done", flush=True)
EOF

ip netns exec "$ns" "$PY" -u "$CR_TMP/server.py" >"$CR_TMP/server.out" 2>&1 &
spid=$!
cr_track "$spid"
cr_wait_file "$CR_TMP/server.out" '^listening '
port=$(awk '/^listening/ { print $2 }' "$CR_TMP/server.out")
ip netns exec "$ns" "$PY" -u "$CR_TMP/client.py" "$port" >"$CR_TMP/client.out" 2>&1 &
cpid=$!
cr_track "$cpid"
cr_wait_file "$CR_TMP/client.out" '^connected '
cport=$(awk '/^connected/ { print $2 }' "$CR_TMP/client.out")
scomm=$(cr_comm "$spid")
ccomm=$(cr_comm "$cpid")
ns_inode=$(cr_netns_inode "$ns")
cr_log "before the recorder: server pid $spid ($scomm) on $port, client pid $cpid ($ccomm) from $cport"

cr_start

cw="netns = $ns_inode AND proto = 'tcp' AND lport = $cport AND rport = $port"
sw="netns = $ns_inode AND proto = 'tcp' AND lport = $port AND rport = $cport"
lw="netns = $ns_inode AND proto = 'tcp' AND direction = 'listen' AND lport = $port"
# "ready" comes after the start-up dump is stored, so its rows must be there already.
cr_eq "pre-existing rows in the store at 'ready' (client, server, listener)" "1 1 1" \
	"$(cr_sql_sum "SELECT count(*) FROM flows WHERE $cw") $(cr_sql_sum "SELECT count(*) FROM flows WHERE $sw") $(cr_sql_sum "SELECT count(*) FROM flows WHERE $lw")"

kill -USR1 "$cpid"
wait "$cpid" && st=0 || st=$?
cr_untrack "$cpid"
cr_eq "client exit status" 0 "$st"
wait "$spid" && st=0 || st=$?
cr_untrack "$spid"
cr_eq "server exit status" 0 "$st"
cr_eq "server received" "received 1200" "$(grep '^received' "$CR_TMP/server.out")"
cr_eq "RSTs the kernel sent in the namespace" 0 "$(cr_tcp_counter "$ns" OutRsts)"

cr_expect_rows "client end" 1 "SELECT count(*) FROM flows WHERE $cw AND end_ns IS NOT NULL" || true
cr_expect_rows "server end" 1 "SELECT count(*) FROM flows WHERE $sw AND end_ns IS NOT NULL" || true
cr_expect_rows "listener end" 1 "SELECT count(*) FROM flows WHERE $lw AND end_ns IS NOT NULL" || true

cr_eq "client rows" 1 "$(cr_sql_sum "SELECT count(*) FROM flows WHERE $cw")"
cr_eq "client (direction|family|pid|comm|uid|netns|preexisting)" \
	"out|4|$cpid|$ccomm|0|$ns_inode|1" \
	"$(cr_sql "SELECT direction, family, pid, comm, uid, netns, flags & 1 FROM flows WHERE $cw")"
cr_eq "client close (bytes_out|bytes_in|reason 1 local FIN)" "1200|1000|1" \
	"$(cr_sql "SELECT bytes_out, bytes_in, reason FROM flows WHERE $cw")"

cr_eq "server rows" 1 "$(cr_sql_sum "SELECT count(*) FROM flows WHERE $sw")"
cr_eq "server (direction|family|pid|comm|uid|netns|preexisting)" \
	"in|4|$spid|$scomm|0|$ns_inode|1" \
	"$(cr_sql "SELECT direction, family, pid, comm, uid, netns, flags & 1 FROM flows WHERE $sw")"
cr_eq "server close (bytes_out|bytes_in|reason 2 peer FIN)" "1000|1200|2" \
	"$(cr_sql "SELECT bytes_out, bytes_in, reason FROM flows WHERE $sw")"

cr_eq "listener rows" 1 "$(cr_sql_sum "SELECT count(*) FROM flows WHERE $lw")"
cr_eq "listener (family|laddr|pid|comm|preexisting|reason 7 released)" \
	"4|$CR_V4_LO|$spid|$scomm|1|7" \
	"$(cr_sql "SELECT family, hex(laddr), pid, comm, flags & 1, reason FROM flows WHERE $lw")"

[ "$CR_FAILS" -eq 0 ] || cr_dump_flows "netns = $ns_inode"
cr_stop
cr_finish
