#!/bin/sh
# SPDX-License-Identifier: MIT
# An intruder removes the store under a running recorder: `rm DIR/seg-*.db*` (issue 18). Before,
# the recorder went on writing into the unlinked active segment and everything was gone at the
# next stop. Now it must notice within its watch period, save the rows the removed active
# segment held (read through its own open file) back under that segment's name, go on in a new
# segment, and store a tamper gap that covers the removal. Connections made before the removal
# (committed into the active segment) and after the healing are all in the store, with their
# exact counts, ports and pids; the sealed segments the intruder deleted cannot come back, and
# `verify` says so and reports the tamper gap; `status` counts it. Then the same for the data
# dir itself: `mv DIR DIR.old` while recording.
set -eu
. "$(dirname "$0")/lib.sh"
cr_init
cr_tool tool connburst

ms() { echo $((($1) / 1000000)); }

# burst N: N connections by connburst; sets B_PORT and B_PID.
burst() {
	"$tool" -n "$1" >"$CR_TMP/burst.out" 2>&1 || cr_fatal "connburst failed: $(cat "$CR_TMP/burst.out")"
	set -- $(tail -n 1 "$CR_TMP/burst.out")
	[ "$1" = made ] || cr_fatal "connburst said: $*"
	B_PORT=$8
	B_PID=${10}
}

# qcount DIR PORT PID: client lifetimes of a burst, as `connrec query` finds them in DIR (live
# segment, saved segment, sealed ones alike).
qcount() {
	"$CONNREC_BIN" query -d "$1" --since 1h --proto tcp --direction out --rport "$2" \
		--pid "$3" --count 2>/dev/null || echo 0
}

# expect_query WHAT DIR PORT PID N: poll until query counts N (a seal may be renaming files).
expect_query() {
	_dl=$(($(date +%s) + CR_TIMEOUT))
	while _n=$(qcount "$2" "$3" "$4") && [ "$_n" != "$5" ] && [ "$(date +%s)" -lt "$_dl" ]; do
		sleep 0.1
	done
	cr_eq "$1" "$5" "$_n"
}

raw_count() { ls "$CR_DATA"/seg-*.db 2>/dev/null | wc -l; }
zst_count() { ls "$CR_DATA"/seg-*.db.zst 2>/dev/null | wc -l; }

# A first run with small segments leaves sealed ones for the intruder to delete as well; the
# second, with default sizes, rotates no more while the test runs.
cr_start --rotate-size 128K
burst 6000
dl=$(($(date +%s) + CR_TIMEOUT))
until [ "$(zst_count)" -ge 2 ] && [ "$(raw_count)" -eq 1 ]; do
	[ "$(date +%s)" -lt "$dl" ] || cr_fatal "no two sealed segments within ${CR_TIMEOUT}s: $(ls "$CR_DATA")"
	sleep 0.1
done
cr_stop
cr_start
sealed_before=$(zst_count)
cr_log "before the attack: $(ls "$CR_DATA" | tr '\n' ' ')"

# Connections that only the active segment holds when the intruder strikes.
burst 20
port_a=$B_PORT pid_a=$B_PID
cr_expect_rows "connections before the removal, committed" 20 \
	"SELECT count(*) FROM flows WHERE rport = $port_a AND direction = 'out' AND pid = $pid_a" || true
active=$(basename "$(ls "$CR_DATA"/seg-*.db)")
cr_log "active segment: $active"

t_rm0=$(date +%s%N)
rm "$CR_DATA"/seg-*.db*
t_rm1=$(date +%s%N)
cr_wait_file "$CR_TMP/recorder.err" "tamper: active segment $active removed"
t_healed=$(date +%s%N)
grep 'tamper:' "$CR_TMP/recorder.err" | sed 's/^/    recorder: /'
cr_eq "log: rows saved, new segment" 1 \
	"$(grep -c "tamper: active segment $active removed; rows saved back into $active; now writing seg-" \
		"$CR_TMP/recorder.err")"

# Connections after the healing; and those from before, saved from the removed file.
burst 20
port_b=$B_PORT pid_b=$B_PID
expect_query "connections after the healing" "$CR_DATA" "$port_b" "$pid_b" 20
expect_query "connections before the removal, saved" "$CR_DATA" "$port_a" "$pid_a" 20

# The tamper gap covers the removal and lasts at most about a second.
row=$(cr_sql "SELECT start_ns, end_ns, count FROM gap WHERE kind = 3
	AND reason LIKE 'active segment $active removed; rows saved back into $active; now writing seg-%'")
cr_eq "tamper gaps for the removal" 1 "$(echo "$row" | grep -c .)"
start=$(echo "$row" | cut -d'|' -f1)
end=$(echo "$row" | cut -d'|' -f2)
if cr_is_int "$start" && cr_is_int "$end"; then
	# The removal happened somewhere in [t_rm0, t_rm1] (rm takes a few ms to start).
	cr_true "the gap ($(ms "$end - $start") ms) covers the removal" \
		test "$start" -le "$t_rm1" -a "$end" -ge "$t_rm0" -a "$end" -le "$t_healed"
	cr_true "blind window $(ms "$end - $start") ms <= 1500 ms" test $((end - start)) -le 1500000000
fi
ntamper=$(cr_sql_sum "SELECT count(*) FROM gap WHERE kind = 3")
cr_ge "tamper gaps (a sealing the intruder cut short may add one)" 1 "$ntamper"

"$CONNREC_BIN" status -d "$CR_DATA" >"$CR_TMP/status.out" || true
cr_eq "status: tamper events" "$ntamper" \
	"$(sed -n 's/^tamper: *\([0-9][0-9]*\) events.*/\1/p' "$CR_TMP/status.out")"

# verify: the deleted sealed segments are missing (that is a failure), the tamper gap is listed.
st=0
"$CONNREC_BIN" verify -d "$CR_DATA" >"$CR_TMP/verify.out" 2>&1 || st=$?
sed 's/^/    verify: /' "$CR_TMP/verify.out" | grep -v '  gap lost' || true
cr_eq "verify exit status (sealed segments were deleted)" 1 "$st"
cr_eq "verify: the oldest deleted segments are reported missing" 1 \
	"$(grep -c '^FAIL seg-[0-9]*\.db\.zst: missing before .* not recorded as deleted by retention' \
		"$CR_TMP/verify.out")"
cr_eq "verify: the tamper gap" 1 "$(grep -c "^  gap tamper .*active segment $active removed" "$CR_TMP/verify.out")"
cr_eq "verify: tamper summary" 1 "$(grep -c "^verify: $ntamper tamper gap" "$CR_TMP/verify.out")"
cr_true "the saved segment is back in the chain (not reported missing)" \
	test "$(grep -c "FAIL ${active}" "$CR_TMP/verify.out")" -eq 0
cr_log "sealed segments before the attack: $sealed_before"

# The data dir itself moved away: made again, locked, recording goes on there.
mv "$CR_DATA" "$CR_DATA.old"
t_mv=$(date +%s%N)
dl=$(($(date +%s) + CR_TIMEOUT))
until grep -q 'tamper: data dir removed or renamed; rows saved back' "$CR_TMP/recorder.err"; do
	[ "$(date +%s)" -lt "$dl" ] || cr_fatal "no tamper line for the moved data dir"
	sleep 0.05
done
burst 20
port_c=$B_PORT pid_c=$B_PID
expect_query "connections after the data dir was moved" "$CR_DATA" "$port_c" "$pid_c" 20
cr_eq "tamper gap for the moved data dir" 1 \
	"$(cr_sql_sum "SELECT count(*) FROM gap WHERE kind = 3 AND start_ns <= $t_mv
		AND reason LIKE 'data dir removed or renamed; rows saved back into seg-%'")"
cr_true "status finds the recorder on the new data dir" "$CONNREC_BIN" status -d "$CR_DATA"

cr_stop
# After the stop nothing written since the attacks is missing: the connections after the first
# healing were in the active segment when the dir moved, so they were saved into the new dir;
# the older ones stayed in the sealed segment the intruder moved away with the dir.
cr_eq "after the stop: connections after the data dir moved" 20 "$(qcount "$CR_DATA" "$port_c" "$pid_c")"
cr_eq "after the stop: connections after the first healing" 20 "$(qcount "$CR_DATA" "$port_b" "$pid_b")"
cr_eq "after the stop: connections before the removal (moved away with the dir)" 20 \
	"$(qcount "$CR_DATA.old" "$port_a" "$pid_a")"
cr_finish
