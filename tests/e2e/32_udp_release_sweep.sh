#!/bin/sh
# SPDX-License-Identifier: MIT
# A released UDP socket's flows in udp_flows are taken out by the keys the recorder learned
# from their OPENs and from each idle sweep's walk of the map (recorder/udp_peers.h). Two
# unconnected servers with --udp-idle 1s (tests/e2e/py/udp_release_sweep.py): srvs keeps two
# peers busy across an idle sweep (the sweep rebuilds the index while they live), gets a third
# peer after it, and is closed: all three of its flows must end at the release, none as idle.
# srvt's two first peers go silent and end as idle in that sweep (their keys stay in the index,
# stale); its third peer comes after, and the release must end it and nothing twice. Every
# client is connected, so each has one flow ended at its release.
set -eu
. "$(dirname "$0")/lib.sh"
cr_init
cr_start --udp-idle 1s

"$PY" -u "$(dirname "$0")/py/udp_release_sweep.py" "$CR_TMP/go" >"$CR_TMP/py.out" 2>&1 &
pypid=$!
cr_track "$pypid"
cr_wait_file "$CR_TMP/py.out" '^started'
val() { cr_py_val "$1"; }
# srvt's first two flows ended as idle: the sweep (every 5 s) has run and rebuilt the index.
cr_expect_rows "srvt's first peers ended as idle (a sweep ran)" 2 \
	"SELECT count(*) FROM flows WHERE proto = 'udp' AND pid = $pypid AND lport = $(val srvt)
		AND reason = 9"  # 9: idle (schema_values.h CR_END_IDLE)
touch "$CR_TMP/go"
cr_wait_file "$CR_TMP/py.out" '^done' 60
wait "$pypid" && st=0 || st=$?
cr_untrack "$pypid"
cr_eq "python exit status" 0 "$st"
cr_eq "python pid" "$pypid" "$(val pid)"
# direction|lport|rport|bytes_out|bytes_in|reason|state, one line per flow.
want=$(for p in "p1 srvs released" "p2 srvs released" "p3 srvs released" \
	"q1 srvt idle" "q2 srvt idle" "q3 srvt released"; do
	set -- $p
	echo "out|$(val "$1")|$(val "$2")|$(val "sent $1 $2")|$(val "recv $1 $2")|released|SF"
	echo "in|$(val "$2")|$(val "$1")|$(val "sent $2 $1")|$(val "recv $2 $1")|$3|SF"
done | sort)
cr_udp_flows_eq "twelve udp flows, ended once each" 12 "$pypid" "$want"
cr_eq "ends stored twice" 0 "$(cr_sql_sum "SELECT count(*) FROM conn_end e JOIN conn c USING (id)
	WHERE c.dur_ns IS NOT NULL")"
cr_stop
cr_finish
