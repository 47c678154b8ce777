#!/bin/sh
# SPDX-License-Identifier: MIT
# connrec query against a live recording: one long-lived TCP connection and 20 short ones to
# a local server. --short-lived returns exactly the 20, --at an instant inside the long one
# (before any short one began) returns it alone, --min-duration returns it alone. Every query
# is narrowed to this test's own client pids, so traffic of other tests cannot disturb it.
set -eu
. "$(dirname "$0")/lib.sh"
cr_init

cat >"$CR_TMP/server.py" <<'PYEOF'
import socket, sys, threading
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(64)
print(srv.getsockname()[1], flush=True)
def serve(c):
    while c.recv(4096):
        pass
    c.close()
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PYEOF
cat >"$CR_TMP/long.py" <<'PYEOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"hello")
print(time.time_ns(), flush=True)
sys.stdin.readline()
s.close()
print(time.time_ns(), flush=True)
PYEOF
cat >"$CR_TMP/short.py" <<'PYEOF'
import socket, sys
for _ in range(20):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.sendall(b"x")
    s.close()
PYEOF

since=$(date +%s)
cr_start

"$PY" "$CR_TMP/server.py" >"$CR_TMP/server.out" 2>&1 &
cr_track $!
cr_wait_file "$CR_TMP/server.out" '^[0-9]'
port=$(head -n 1 "$CR_TMP/server.out")

# The long client waits on a fifo for the word to close.
mkfifo "$CR_TMP/fifo"
"$PY" "$CR_TMP/long.py" "$port" <"$CR_TMP/fifo" >"$CR_TMP/long.out" 2>&1 &
lpid=$!
cr_track "$lpid"
exec 4>"$CR_TMP/fifo"
cr_wait_file "$CR_TMP/long.out" '^[0-9]'
t_open=$(head -n 1 "$CR_TMP/long.out")

"$PY" "$CR_TMP/short.py" "$port" &
spid=$!
wait "$spid" && st=0 || st=$?
cr_eq "the 20 short connections succeeded" 0 "$st"
cr_log "server port $port, long client pid $lpid, short client pid $spid"

qb() { "$CONNREC_BIN" query -d "$CR_DATA" --pid "$lpid,$spid" --direction out "$@"; }
q() { qb --since "@$since" "$@"; }

# Poll (bounded) until the recorder has stored the 20 short flows with their ends.
dl=$(($(date +%s) + CR_TIMEOUT))
while n=$(q --pid "$spid" --state SF,RSTO,RSTR --count 2>/dev/null) && [ "${n:-0}" -lt 20 ]; do
	[ "$(date +%s)" -lt "$dl" ] || break
	sleep 0.05
done
cr_eq "short flows stored, ended" 20 "$n"

# Close the long one and wait until its end is stored too.
echo close >&4
exec 4>&-
wait "$lpid" || true
cr_untrack "$lpid"
dl=$(($(date +%s) + CR_TIMEOUT))
while n=$(q --pid "$lpid" --state SF,RSTO,RSTR --count 2>/dev/null) && [ "${n:-0}" -lt 1 ]; do
	[ "$(date +%s)" -lt "$dl" ] || break
	sleep 0.05
done
cr_eq "long flow stored, ended" 1 "$n"

q -o csv >"$CR_TMP/all.csv" 2>"$CR_TMP/q.err" || true
cr_eq "client flows in total (20 short + 1 long)" 21 "$(($(wc -l <"$CR_TMP/all.csv") - 1))"

# The long one's duration, and the longest short one, as the store has them.
long_ns=$(q --pid "$lpid" -o json | sed -n 's/.*"start_ns":\([0-9]*\),"end_ns":\([0-9]*\),.*/\2 \1/p' |
	awk '{ print $1 - $2 }')
short_max=$(q --pid "$spid" -o json | sed -n 's/.*"start_ns":\([0-9]*\),"end_ns":\([0-9]*\),.*/\2 \1/p' |
	awk 'BEGIN { m = 0 } { if ($1 - $2 > m) m = $1 - $2 } END { print m }')
cr_log "long flow lived ${long_ns} ns; the longest short one ${short_max} ns"
# It was open across all 20, and until their ends were stored, so it outlived each of them.
cr_true "the long flow outlived every short one" [ "${long_ns:-0}" -gt "${short_max:-0}" ]
mid=$(( (long_ns + short_max) / 2 ))

q --short-lived="${mid}ns" -o csv >"$CR_TMP/short.csv"
cr_eq "--short-lived: exactly the 20 short flows" 20 "$(($(wc -l <"$CR_TMP/short.csv") - 1))"
cr_eq "--short-lived: all from the short client" 20 "$(grep -c ",$spid," "$CR_TMP/short.csv" || true)"
if [ "$long_ns" -gt 1000000000 ]; then
	cr_eq "--short-lived (default 1s): the 20" 20 "$(q --short-lived --count)"
fi

# An instant just after the long one connected, before the short client started.
at="@$(echo "$t_open" | cut -c1-10).$(echo "$t_open" | cut -c11-19)"
qb --at "$at" -o csv >"$CR_TMP/at.csv"
cr_eq "--at inside the long one: one flow" 1 "$(($(wc -l <"$CR_TMP/at.csv") - 1))"
cr_eq "--at: it is the long one" 1 "$(grep -c ",$lpid," "$CR_TMP/at.csv" || true)"

q --min-duration "${mid}ns" -o csv >"$CR_TMP/min.csv"
cr_eq "--min-duration: one flow" 1 "$(($(wc -l <"$CR_TMP/min.csv") - 1))"
cr_eq "--min-duration: it is the long one" 1 "$(grep -c ",$lpid," "$CR_TMP/min.csv" || true)"

# The server's side: 21 accepted flows on the port.
cr_eq "accepted flows on the server port" 21 \
	"$("$CONNREC_BIN" query -d "$CR_DATA" --since "@$since" --lport "$port" --direction in --count)"

[ "$CR_FAILS" -eq 0 ] || cat "$CR_TMP/all.csv" "$CR_TMP/q.err"
# A window reaching back before the store began must say so ("not recorded" is not "nothing").
"$CONNREC_BIN" query -d "$CR_DATA" --since 1d --port "$port" >/dev/null 2>"$CR_TMP/q.err" || true
cr_true "a window older than the store is flagged" \
	grep -q "window starts before the oldest segment" "$CR_TMP/q.err"
created=$(cr_sql "SELECT value FROM meta WHERE key = 'created_ns'" | head -n 1)
"$CONNREC_BIN" query -d "$CR_DATA" --since "@$((created / 1000000000 + 1))" --port "$port" \
	>/dev/null 2>"$CR_TMP/q2.err" || true
cr_true "a window inside the store is not flagged" \
	sh -c "! grep -q 'window starts before' '$CR_TMP/q2.err'"

cr_stop
cr_finish
