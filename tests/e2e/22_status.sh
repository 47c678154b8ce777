#!/bin/sh
# SPDX-License-Identifier: MIT
# `connrec status`, text and --format json, against what the test knows: while a recorder runs,
# it is running with the recorder's own pid and one active segment; after a clean stop, not
# running (exit 1), state "stopped", and its counters equal the rows in the store. The two
# formats report the same facts.
set -eu
. "$(dirname "$0")/lib.sh"
cr_init

# jq_ FILE KEY: the value of KEY in the JSON object of FILE (null prints as None).
jq_() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

cr_start
port=$(cr_free_port)
"$PY" -c 'import socket,sys
for _ in range(5):
    s = socket.socket(); s.settimeout(1)
    try: s.connect(("127.0.0.1", int(sys.argv[1])))
    except OSError: pass
    s.close()' "$port"
cr_expect_rows "the refused connects are stored" 5 \
	"SELECT count(*) FROM conn WHERE rport = $port AND reason = $((5))"

"$CONNREC_BIN" status -d "$CR_DATA" --format json >"$CR_TMP/run.json" && st=0 || st=$?
cr_eq "status exit while recording" 0 "$st"
cr_eq "json lines" 1 "$(wc -l <"$CR_TMP/run.json")"
cr_eq "running" True "$(jq_ "$CR_TMP/run.json" running)"
cr_eq "pid" "$CR_REC_PID" "$(jq_ "$CR_TMP/run.json" pid)"
cr_eq "state" running "$(jq_ "$CR_TMP/run.json" state)"
cr_eq "segments" 1 "$(jq_ "$CR_TMP/run.json" segments)"
cr_eq "active segments" 1 "$(jq_ "$CR_TMP/run.json" segments_active)"
cr_eq "data_dir" "$CR_DATA" "$(jq_ "$CR_TMP/run.json" data_dir)"
"$CONNREC_BIN" status -d "$CR_DATA" >"$CR_TMP/run.txt" && st=0 || st=$?
cr_eq "text status exit while recording" 0 "$st"
cr_true "text names the same pid" grep -q "^recorder: *running, pid $CR_REC_PID, up " "$CR_TMP/run.txt"

cr_stop
"$CONNREC_BIN" status -d "$CR_DATA" -o json >"$CR_TMP/stop.json" && st=0 || st=$?
cat "$CR_TMP/stop.json"
cr_eq "status exit after the stop" 1 "$st"
cr_eq "running after the stop" False "$(jq_ "$CR_TMP/stop.json" running)"
cr_eq "no pid after the stop" None "$(jq_ "$CR_TMP/stop.json" pid)"
cr_eq "state after a clean stop" stopped "$(jq_ "$CR_TMP/stop.json" state)"
cr_eq "conns counter = conn rows" "$(cr_sql_sum 'SELECT count(*) FROM conn')" \
	"$(jq_ "$CR_TMP/stop.json" conns)"
cr_eq "ends counter = conn_end rows" "$(cr_sql_sum 'SELECT count(*) FROM conn_end')" \
	"$(jq_ "$CR_TMP/stop.json" ends)"
cr_eq "events = conns + ends" \
	"$(($(jq_ "$CR_TMP/stop.json" conns) + $(jq_ "$CR_TMP/stop.json" ends)))" \
	"$(jq_ "$CR_TMP/stop.json" events)"
cr_eq "no lost events" 0 "$(jq_ "$CR_TMP/stop.json" lost_events)"
"$CONNREC_BIN" status -d "$CR_DATA" >"$CR_TMP/stop.txt" || true
cr_true "text: same events" grep -q "^events: *$(jq_ "$CR_TMP/stop.json" events) written" \
	"$CR_TMP/stop.txt"
cr_true "text: same segments" grep -q "^segments: *$(jq_ "$CR_TMP/stop.json" segments) (" \
	"$CR_TMP/stop.txt"

# Not a store: exit 1, one line, nothing on stdout.
"$CONNREC_BIN" status -d "$CR_TMP/nothing-here" -o json >"$CR_TMP/no.out" 2>"$CR_TMP/no.err" &&
	st=0 || st=$?
cr_eq "status of a missing dir" 1 "$st"
cr_eq "one line on stderr" 1 "$(wc -l <"$CR_TMP/no.err")"
cr_eq "nothing on stdout" 0 "$(wc -c <"$CR_TMP/no.out")"
cr_finish
