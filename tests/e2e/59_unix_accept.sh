#!/bin/sh
# SPDX-License-Identifier: MIT
# accept() on a Unix stream socket is no TCP connection: the accept hook must not track the
# socket it returns (it did: each one became a "tcp in" row with no addresses and no end).
# Ground truth: one process accepts 5 Unix connections, then makes and accepts one TCP
# connection over loopback. Its rows are exactly the TCP listener, the out and the in end.
# The Unix sockets are accepted first, so by the time the TCP connection's in-row is stored
# (the recorder asks about connections in the order they began) any row for them would be too.
set -eu
. "$(dirname "$0")/lib.sh"
cr_init

cat >"$CR_TMP/unix_accept.py" <<'PYEOF'
import os, signal, socket, sys
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
path = sys.argv[1]
us = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
us.bind(path)
us.listen(8)
keep = []
for _ in range(5):
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(path)
    a, _ = us.accept()
    keep += [c, a]
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.bind(("127.0.0.1", 0))
ls.listen(1)
c = socket.create_connection(ls.getsockname())
a, _ = ls.accept()
print("ready", ls.getsockname()[1], c.getsockname()[1], flush=True)
signal.sigwait([signal.SIGUSR1])
for s in keep + [c, a, ls, us]:
    s.close()
print("closed", flush=True)
signal.sigwait([signal.SIGUSR1])
PYEOF

cr_start
out=$CR_TMP/unix_accept.out
"$PY" -u "$CR_TMP/unix_accept.py" "$CR_TMP/u.sock" >"$out" 2>&1 &
pid=$!
cr_track "$pid"
cr_wait_file "$out" '^ready '
port=$(awk '/^ready/ { print $2 }' "$out")
cport=$(awk '/^ready/ { print $3 }' "$out")
cr_log "pid $pid accepted 5 unix connections, then tcp 127.0.0.1:$cport -> :$port"

cr_expect_rows "the tcp connection's in-row" 1 \
	"SELECT count(*) FROM flows WHERE proto = 'tcp' AND direction = 'in' AND lport = $port
	 AND rport = $cport AND pid = $pid" || true
kill -USR1 "$pid"
cr_wait_file "$out" '^closed'
cr_expect_rows "both tcp ends and the listener's ended" 3 \
	"SELECT count(*) FROM flows WHERE proto = 'tcp' AND end_ns IS NOT NULL
	 AND (lport = $port OR rport = $port)" || true
cr_stop
cr_eq "tcp rows of the process (listen|out|in), nothing for the unix sockets" \
	"in|1
listen|1
out|1" \
	"$(cr_sql "SELECT direction, count(*) FROM flows WHERE proto = 'tcp' AND pid = $pid
		GROUP BY direction ORDER BY direction")"
kill -USR1 "$pid"
wait "$pid" || true
cr_untrack "$pid"
cr_finish
