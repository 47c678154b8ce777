#!/bin/sh
# SPDX-License-Identifier: MIT
# Rotation and sealing under a storm (issue 4): with --rotate-size 2M the store ends up with
# at least 3 sealed .db.zst segments, every flow the generator made is found across the
# segments (each exactly once as an original row), a connection held open across rotations
# has its start in one segment, carried copies in the next ones and its end in a later one,
# and `connrec verify` passes on the untouched store. Then `connrec status` reads it.
set -eu
. "$(dirname "$0")/lib.sh"
cr_init
cr_require_cmd zstd
cr_tool storm storm

# every segment as a plain .db copy under $CR_TMP/plain (sealed ones decompressed)
plain_copy() {
	rm -rf "$CR_TMP/plain"
	mkdir -p "$CR_TMP/plain"
	for f in "$CR_DATA"/seg-*.db.zst; do
		[ -f "$f" ] && zstd -q -d -o "$CR_TMP/plain/$(basename "$f" .zst)" "$f"
	done
	for f in "$CR_DATA"/seg-*.db; do
		[ -f "$f" ] && [ ! -f "$CR_TMP/plain/$(basename "$f")" ] && cp "$f" "$CR_TMP/plain/"
	done
	return 0
}
# psql QUERY: summed one-number result over every plain segment
psql_sum() {
	for f in "$CR_TMP"/plain/seg-*.db; do
		sqlite3 -readonly -batch -noheader "$f" "$1"
	done | awk '{ s += $1 } END { printf "%d\n", s }'
}

cr_start --rotate-size 2M

# A connection held open while the storm makes the store rotate.
"$storm" -m hold -n 1 -d 600 >"$CR_TMP/hold.out" 2>&1 &
hpid=$!
cr_track "$hpid"
cr_wait_file "$CR_TMP/hold.out" '"event":"holding"' || cr_fatal "storm hold did not start"
hport=$(sed -n 's/.*"event":"holding","port":\([0-9]*\).*/\1/p' "$CR_TMP/hold.out")
cr_log "holding one connection to port $hport"

"$storm" -n 100000 -r 10000 >"$CR_TMP/storm.out"
cat "$CR_TMP/storm.out"
port=$(sed -n 's/.*"event":"done".*"port":\([0-9]*\),.*/\1/p' "$CR_TMP/storm.out")
made=$(sed -n 's/.*"made":\([0-9]*\).*/\1/p' "$CR_TMP/storm.out")
accepted=$(sed -n 's/.*"accepted":\([0-9]*\).*/\1/p' "$CR_TMP/storm.out")

# Rotation happened while the held connection was open; now close it.
dl=$(($(date +%s) + CR_TIMEOUT))
while [ "$(ls "$CR_DATA"/seg-*.db.zst 2>/dev/null | wc -l)" -lt 3 ] && [ "$(date +%s)" -lt "$dl" ]; do
	sleep 0.1
done
kill -INT "$hpid"
wait "$hpid" || true
cr_untrack "$hpid"
# wait for the held flow's end to be committed in the active segment
dl=$(($(date +%s) + CR_TIMEOUT))
while :; do
	act=$(ls "$CR_DATA"/seg-*.db | tail -n 1)
	n=$(sqlite3 -readonly -batch -noheader -cmd '.timeout 5000' "$act" \
		"SELECT count(*) FROM conn_end e JOIN conn c ON c.id = e.id WHERE c.rport = $hport" 2>/dev/null || echo 0)
	[ "$n" -ge 1 ] && break
	[ "$(date +%s)" -ge "$dl" ] && break
	sleep 0.1
done
cr_stop

nzst=$(ls "$CR_DATA"/seg-*.db.zst | wc -l)
cr_ge "sealed .db.zst segments" 3 "$nzst"
cr_eq "temp or raw leftovers besides the active segment" "1" "$(ls "$CR_DATA"/seg-*.db | wc -l)"

plain_copy
orig="(flags & 2) = 0"
n_out=$(psql_sum "SELECT count(*) FROM conn WHERE $orig AND proto = 6 AND dir = 0 AND rport = $port")
n_in=$(psql_sum "SELECT count(*) FROM conn WHERE $orig AND proto = 6 AND dir = 1 AND lport = $port")
lost=$(psql_sum "SELECT coalesce(sum(count), 0) FROM gap WHERE kind = 1")
cr_log "made $made accepted $accepted; recorded $n_out out, $n_in in; lost $lost"
missing=$((made - n_out + accepted - n_in))
if [ "$missing" -eq 0 ]; then
	cr_pass "every flow the storm made is in the store ($made out, $accepted in)"
else
	cr_true "shortfall ($missing) <= stored losses ($lost)" [ "$missing" -le "$lost" ]
fi
# The same through `connrec query` over the dir (it reads the .db.zst segments itself and merges
# carried copies): the storm's flows plus its listener.
qn=$("$CONNREC_BIN" query -d "$CR_DATA" --port "$port" --proto tcp --count 2>"$CR_TMP/query.err" || echo "error: $(cat "$CR_TMP/query.err")")
cr_eq "connrec query --count over all segments" "$((n_out + n_in + 1))" "$qn"
hq=$("$CONNREC_BIN" query -d "$CR_DATA" --port "$hport" --proto tcp --format csv 2>&1 |
	awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
		$col["direction"] == "out" { print $col["end_status"] }')
cr_eq "the held connection, merged by query across segments, is closed" "closed" "$hq"
dups=$(for f in "$CR_TMP"/plain/seg-*.db; do
	sqlite3 -readonly -batch -noheader "$f" "SELECT id FROM conn WHERE $orig"
done | sort | uniq -d | wc -l)
cr_eq "conn ids stored twice as original rows" 0 "$dups"

# The held connection: original row in one segment, its end in a later one, carried between.
hold_q="SELECT c.id FROM conn c WHERE c.proto = 6 AND c.dir = 0 AND c.rport = $hport"
first=""
last_end=""
carried=0
for f in "$CR_TMP"/plain/seg-*.db; do
	seq=$(basename "$f" .db | sed 's/seg-0*//')
	o=$(sqlite3 -readonly -batch -noheader "$f" "$hold_q AND (c.flags & 2) = 0")
	c=$(sqlite3 -readonly -batch -noheader "$f" "$hold_q AND (c.flags & 2) = 2")
	e=$(sqlite3 -readonly -batch -noheader "$f" \
		"SELECT count(*) FROM conn_end e WHERE e.id IN ($hold_q)")
	[ -n "$o" ] && first=$seq
	[ -n "$c" ] && carried=$((carried + 1))
	[ "$e" -ge 1 ] && last_end=$seq
done
cr_log "held connection: opened in segment $first, ended in segment $last_end, carried into $carried"
cr_true "held connection opened in one segment and ended in a later one" \
	[ -n "$first" ] && [ -n "$last_end" ] && [ "$last_end" -gt "$first" ]
cr_ge "segments holding a carried copy of it" 1 "$carried"

"$CONNREC_BIN" verify -d "$CR_DATA" >"$CR_TMP/verify.out" 2>&1 && st=0 || st=$?
cr_eq "verify on the untouched store" 0 "$st"
[ "$st" -eq 0 ] || cat "$CR_TMP/verify.out"

"$CONNREC_BIN" status -d "$CR_DATA" >"$CR_TMP/status.out" 2>&1 && st=0 || st=$?
cat "$CR_TMP/status.out"
cr_eq "status exit without a recorder" 1 "$st"
cr_true "status shows the segment count" grep -q "^segments: *$((nzst + 1)) ($nzst sealed" "$CR_TMP/status.out"
cr_finish
