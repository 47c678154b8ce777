#!/bin/sh
# SPDX-License-Identifier: MIT
# systemd readiness: with $NOTIFY_SOCKET set, the recorder sends READY=1 once it is ready
# (after its "ready" line), and STOPPING=1 when asked to stop.
set -eu
. "$(dirname "$0")/lib.sh"
cr_init

sock=$CR_TMP/notify.sock
"$PY" -u -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("bound", flush=True)
s.settimeout(60)
for _ in range(2):
    print(s.recv(4096).decode(), flush=True)' "$sock" >"$CR_TMP/notify.out" 2>&1 &
lpid=$!
cr_track "$lpid"
cr_wait_file "$CR_TMP/notify.out" '^bound'

NOTIFY_SOCKET=$sock cr_start
cr_wait_file "$CR_TMP/notify.out" '^READY=1'
cr_pass "READY=1 received after the ready line"
cr_stop
cr_wait_file "$CR_TMP/notify.out" '^STOPPING=1'
cr_pass "STOPPING=1 received on SIGINT"
cr_finish
