#!/bin/sh
# SPDX-License-Identifier: MIT
# Readiness for systemd: with $NOTIFY_SOCKET set, the recorder sends READY=1 to that datagram
# socket once it is ready (a Type=notify unit depends on it), and still prints its "ready"
# line. The socket here is a plain unix datagram socket that a small python reader owns.
set -eu
. "$(dirname "$0")/lib.sh"
cr_init

cat >"$CR_TMP/notify.py" <<'EOF'
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("bound", flush=True)
while True:
    msg = s.recv(4096).decode(errors="replace")
    for line in msg.splitlines():
        print("msg " + line, flush=True)
EOF
"$PY" -u "$CR_TMP/notify.py" "$CR_TMP/notify.sock" >"$CR_TMP/notify.out" 2>&1 &
npid=$!
cr_track "$npid"
cr_wait_file "$CR_TMP/notify.out" '^bound'

NOTIFY_SOCKET=$CR_TMP/notify.sock
export NOTIFY_SOCKET
cr_start
unset NOTIFY_SOCKET
cr_wait_file "$CR_TMP/notify.out" '^msg READY=1$'
cr_pass "READY=1 arrived on \$NOTIFY_SOCKET"
mainpid=$(sed -n 's/^msg MAINPID=//p' "$CR_TMP/notify.out" | head -n 1)
if [ -n "$mainpid" ]; then
	cr_eq "MAINPID in the notification" "$CR_REC_PID" "$mainpid"
fi
sed 's/^/    /' "$CR_TMP/notify.out"
cr_stop
cr_finish
