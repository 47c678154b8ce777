#!/bin/sh
# SPDX-License-Identifier: MIT
# A connected UDP socket that connect()s again, to a second peer (issue 13): its datagrams to
# and from that peer run no cgroup hook either, and that flow is not the socket's first, so
# only the packet programs see it in use. With --udp-idle 1s, a v4 and a v6 client each talk
# to server A, re-connect to server B and exchange with it for 6 s (the recorder looks for idle
# flows every 5 s); a third v4 client connects to A at the start and stays quiet until then
# (no hook refreshes its flow either), and exchanges after. Then all stay silent for 7 s with
# their sockets open. Each client must have exactly one flow per server, ended at the release
# (reason released), with every byte both ways; each server's flow (refreshed by its
# recvfrom/sendto hooks) ends as idle during the silence. Ground truth from
# tests/e2e/py/udp_reconnect.py. (Packet counts are not stored, so bytes are what is checked.)
set -eu
. "$(dirname "$0")/lib.sh"
cr_init
cr_start --udp-idle 1s

"$PY" -u "$(dirname "$0")/py/udp_reconnect.py" 0.15 7 >"$CR_TMP/py.out" 2>&1 &
pypid=$!
cr_track "$pypid"
cr_wait_file "$CR_TMP/py.out" "^done" 60
wait "$pypid" && st=0 || st=$?
cr_untrack "$pypid"
cr_eq "udp_reconnect.py exit status" 0 "$st"
val() { sed -n "s/^$1 //p" "$CR_TMP/py.out" | head -n 1; }
cr_eq "python pid" "$pypid" "$(val pid)"
# direction|lport|rport|bytes_out|bytes_in|reason|state, one line per flow.
want=$(for p in "cli srva" "cli srvb" "cli6 srv6a" "cli6 srv6b" "late srva"; do
	set -- $p
	echo "out|$(val "$1")|$(val "$2")|$(val "sent $1 $2")|$(val "recv $1 $2")|released|SF"
	echo "in|$(val "$2")|$(val "$1")|$(val "sent $2 $1")|$(val "recv $2 $1")|idle|SF"
done | sort)
cr_expect_rows "ten udp flows, ended" 10 "SELECT count(*) FROM flows WHERE proto = 'udp' AND
	pid = $pypid AND reason IS NOT NULL" || true
"$CONNREC_BIN" query -d "$CR_DATA" -o json --proto udp --pid "$pypid" >"$CR_TMP/q.json"
cr_eq "the flows (direction|lport|rport|bytes_out|bytes_in|reason|state)" "$want" \
	"$("$PY" -c 'import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    print("|".join(str(r[k]) for k in
        ("direction", "lport", "rport", "bytes_out", "bytes_in", "reason", "state")))' \
		"$CR_TMP/q.json" | sort)"
[ "$CR_FAILS" -eq 0 ] || sed 's/^/    /' "$CR_TMP/q.json"
cr_stop
cr_finish
