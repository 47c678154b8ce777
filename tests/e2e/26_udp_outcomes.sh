#!/bin/sh
# SPDX-License-Identifier: MIT
# UDP flows carry their bytes both ways and a true outcome (issue 13): answered is SF, a
# datagram nobody answered is S0, a connected socket told of an ICMP port unreachable is REJ
# (reason refused). Ground truth from tests/e2e/py/udp_outcomes.py, which prints what each of
# its socket calls sent and received; every flow is checked exactly, in the store and through
# query (json state, --state REJ). Covers datagrams that reach a server before its flow
# begins, a server socket with two peers (ended by the recorder's map walk), IPv6 and an
# unconnected client; and dig, a real resolver client, asking a closed port (REJ, its query
# size out).
set -eu
. "$(dirname "$0")/lib.sh"
cr_require_cmd dig
cr_init
cr_start

"$PY" -u "$(dirname "$0")/py/udp_outcomes.py" >"$CR_TMP/py.out" 2>&1 &
pypid=$!
cr_track "$pypid"
cr_wait_file "$CR_TMP/py.out" '^done'
wait "$pypid" && st=0 || st=$?
cr_untrack "$pypid"
cr_eq "udp_outcomes.py exit status" 0 "$st"
val() { sed -n "s/^$1 //p" "$CR_TMP/py.out" | head -n 1; }
cr_eq "python pid" "$pypid" "$(val pid)"
cr_eq "the closed port refused the connected client" ECONNREFUSED "$(val refused)"

# direction|lport|rport|bytes_out|bytes_in|reason, one line per flow, from the script's counts.
srv=$(val srv) quiet=$(val quiet) srv6=$(val srv6) cli6=$(val cli6) cli=$(val cli)
cli2=$(val cli2) mute=$(val mute) ref=$(val ref) closed=$(val closed)
expect=$(printf '%s\n' \
	"out|$cli|$srv|$(val 'sent cli')|$(val 'recv cli')|7|SF" \
	"in|$srv|$cli|$(val 'sent srv')|$(val 'recv srv')|7|SF" \
	"out|$cli2|$srv|$(val 'sent cli2')|$(val 'recv cli2')|7|SF" \
	"in|$srv|$cli2|$(val 'sent srv2')|$(val 'recv srv2')|7|SF" \
	"out|$mute|$quiet|$(val 'sent mute')|0|7|S0" \
	"in|$quiet|$mute|0|$(val 'recv quiet')|7|S0" \
	"out|$ref|$closed|$(val 'sent ref')|0|5|REJ" \
	"out|$cli6|$srv6|$(val 'sent cli6')|$(val 'recv cli6')|7|SF" \
	"in|$srv6|$cli6|$(val 'sent srv6')|$(val 'recv srv6')|7|SF" | sort)
cr_log "expected (direction|lport|rport|bytes_out|bytes_in|reason|state):"
echo "$expect" | sed 's/^/    /'

cr_expect_rows "nine udp flows of the script, ended" 9 \
	"SELECT count(*) FROM flows WHERE proto = 'udp' AND pid = $pypid AND reason IS NOT NULL" ||
	true
cr_eq "stored flows (direction|lport|rport|bytes_out|bytes_in|reason)" \
	"$(echo "$expect" | cut -d'|' -f1-6 | sort)" \
	"$(cr_sql "SELECT direction, lport, rport, bytes_out, bytes_in, reason FROM flows
		WHERE proto = 'udp' AND pid = $pypid" | sort)"

q() { "$CONNREC_BIN" query -d "$CR_DATA" "$@"; }
q -o json --proto udp --pid "$pypid" >"$CR_TMP/q.json"
cr_eq "query json (direction|lport|rport|bytes_out|bytes_in|reason|state)" "$expect" \
	"$("$PY" -c 'import json, sys
reasons = {"released": 7, "refused": 5}
for l in open(sys.argv[1]):
    r = json.loads(l)
    print("|".join(str(x) for x in (r["direction"], r["lport"], r["rport"], r["bytes_out"],
          r["bytes_in"], reasons.get(r["reason"], r["reason"]), r["state"])))' "$CR_TMP/q.json" |
		sort)"
cr_eq "query --state REJ: the refused client only" "$ref" \
	"$(q -o csv --proto udp --pid "$pypid" --state REJ | sed 1d | cut -d, -f8)"

# dig asking a port nothing listens on (the issue's example: such a query was stored as SF):
# its one query out, of the size dig reports, nothing back, refused (dig's socket is connected).
dig @127.0.0.1 -p "$closed" +tries=1 +time=1 +qr closed.test A >"$CR_TMP/dig.out" 2>&1 &
digpid=$!
cr_track "$digpid"
wait "$digpid" || true
cr_untrack "$digpid"
cr_eq "dig was refused" 1 "$(grep -c 'connection refused' "$CR_TMP/dig.out")"
qsize=$(sed -n 's/^;; QUERY SIZE: \([0-9]*\)$/\1/p' "$CR_TMP/dig.out")
cr_gt "dig's query size" 0 "$qsize"
cr_expect_rows "dig's udp flow, ended" 1 \
	"SELECT count(*) FROM flows WHERE proto = 'udp' AND pid = $digpid AND reason IS NOT NULL" ||
	true
q -o json --proto udp --pid "$digpid" >"$CR_TMP/dig.json"
cr_eq "dig to a closed port (direction|rport|bytes_out|bytes_in|state)" \
	"out|$closed|$qsize|0|REJ" \
	"$("$PY" -c 'import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    print("|".join(str(r[k]) for k in ("direction", "rport", "bytes_out", "bytes_in", "state")))' \
		"$CR_TMP/dig.json")"

cr_stop
cr_finish
