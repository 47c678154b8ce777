#!/bin/sh
# SPDX-License-Identifier: MIT
# Unconnected UDP sockets that send to closed ports (issue 13). The kernel answers each with an
# ICMP port unreachable, but tells an unconnected socket only if it asked (IP_RECVERR,
# IPV6_RECVERR). So a socket that did not ask is S0: nothing came back to it, and it never
# learnt otherwise. One that asked got ECONNREFUSED: its flow to that peer is REJ (reason
# refused), over IPv4, IPv6 and v4-mapped, and on a socket with two peers only the refused
# peer's flow is, while its answered one stays SF. Ground truth from
# tests/e2e/py/udp_unconnected.py (what each socket call sent, received or was told).
set -eu
. "$(dirname "$0")/lib.sh"
cr_init
cr_start

"$PY" -u "$(dirname "$0")/py/udp_unconnected.py" >"$CR_TMP/py.out" 2>&1 &
pypid=$!
cr_track "$pypid"
cr_wait_file "$CR_TMP/py.out" '^done'
wait "$pypid" && st=0 || st=$?
cr_untrack "$pypid"
cr_eq "udp_unconnected.py exit status" 0 "$st"
val() { sed -n "s/^$1 //p" "$CR_TMP/py.out" | head -n 1; }
cr_eq "python pid" "$pypid" "$(val pid)"
cr_eq "what each sender was told (plain recverr recverr6 mapped two)" \
	"nothing ECONNREFUSED ECONNREFUSED ECONNREFUSED ECONNREFUSED" \
	"$(val 'told plain') $(val 'told recverr') $(val 'told recverr6') $(val 'told mapped') $(val 'told two')"

srv=$(val srv) plain=$(val plain) recverr=$(val recverr) recverr6=$(val recverr6)
mapped=$(val mapped) two=$(val two) c4=$(val closed4) c6=$(val closed6)
# direction|lport|rport|bytes_out|bytes_in|reason|state, one line per flow.
want=$(printf '%s\n' \
	"out|$plain|$c4|$(val 'sent plain')|0|released|S0" \
	"out|$recverr|$c4|$(val 'sent recverr')|0|refused|REJ" \
	"out|$recverr6|$c6|$(val 'sent recverr6')|0|refused|REJ" \
	"out|$mapped|$c4|$(val 'sent mapped')|0|refused|REJ" \
	"out|$two|$srv|$(val 'sent two')|$(val 'recv two')|released|SF" \
	"out|$two|$c4|$(val 'sent two closed')|0|refused|REJ" \
	"in|$srv|$two|$(val 'sent srv')|$(val 'recv srv')|released|SF" | sort)
cr_expect_rows "seven udp flows, ended" 7 "SELECT count(*) FROM flows WHERE proto = 'udp' AND
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
