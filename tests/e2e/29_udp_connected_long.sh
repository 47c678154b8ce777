#!/bin/sh
# SPDX-License-Identifier: MIT
# A connected UDP socket's flow lasts until the socket's release (issue 13): its send() and
# recv() run no cgroup hook, so only the packet programs see it in use; after a few datagrams
# they count it on the socket itself (socket storage), and the release adds it all up. With
# --udp-idle 1s, clients (v4, v6, and a dual-stack socket connected to a v4-mapped address)
# exchange datagrams for 6 s with unconnected servers and then stay silent for 7 s with their
# sockets open: each client's flow must be one flow, ended at the release (reason released),
# with every byte both ways; each server's flow, refreshed by its recvfrom/sendto hooks, ends
# as idle during the silence, with every byte too. Ground truth from
# tests/e2e/py/udp_connected_long.py.
set -eu
. "$(dirname "$0")/lib.sh"
cr_init
cr_start --udp-idle 1s

"$PY" -u "$(dirname "$0")/py/udp_connected_long.py" 0.15 7 >"$CR_TMP/py.out" 2>&1 &
pypid=$!
cr_track "$pypid"
cr_wait_file "$CR_TMP/py.out" "^done" 60
wait "$pypid" && st=0 || st=$?
cr_untrack "$pypid"
cr_eq "udp_connected_long.py exit status" 0 "$st"
val() { sed -n "s/^$1 //p" "$CR_TMP/py.out" | head -n 1; }
cr_eq "python pid" "$pypid" "$(val pid)"
srv=$(val srv) cli=$(val cli) srv6=$(val srv6) cli6=$(val cli6) mapped=$(val mapped)
# direction|lport|rport|bytes_out|bytes_in|reason|state, one line per flow.
want=$(printf '%s\n' \
	"out|$cli|$srv|$(val 'sent cli')|$(val 'recv cli')|released|SF" \
	"out|$cli6|$srv6|$(val 'sent cli6')|$(val 'recv cli6')|released|SF" \
	"out|$mapped|$srv|$(val 'sent mapped')|$(val 'recv mapped')|released|SF" \
	"in|$srv|$cli|$(val 'sent srv cli')|$(val 'recv srv cli')|idle|SF" \
	"in|$srv6|$cli6|$(val 'sent srv6 cli6')|$(val 'recv srv6 cli6')|idle|SF" \
	"in|$srv|$mapped|$(val 'sent srv mapped')|$(val 'recv srv mapped')|idle|SF" | sort)
cr_expect_rows "six udp flows, ended" 6 "SELECT count(*) FROM flows WHERE proto = 'udp' AND
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
