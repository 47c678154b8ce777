#!/bin/sh
# SPDX-License-Identifier: MIT
# A full disk (issues 4 and 10): the data dir is a small tmpfs, partly taken by a filler file. A
# storm fills the rest. The recorder must not crash; it keeps rows queued and logs the failure,
# and connrec.status says so for as long as it lasts (it is rewritten in place, so a full disk
# cannot stop it). When the filler is deleted it resumes on its own: the store records a gap
# (kind 1) for the time it could not write, flows made after that are stored. Then the disk
# fills again and the recorder is stopped while it is full: the events its final flush could
# not store become a lost gap, with their count, at the next start; verify passes.
set -eu
. "$(dirname "$0")/lib.sh"
cr_init
cr_tool storm storm

mkdir -p "$CR_DATA"
mount -t tmpfs -o size=10M,mode=0700 connrec-e2e "$CR_DATA" || cr_skip "cannot mount a tmpfs"
CR_MOUNTS="$CR_MOUNTS $CR_DATA"
dd if=/dev/zero of="$CR_DATA/filler.tmp" bs=1M count=7 status=none

# status_key KEY: the value of KEY in connrec.status
status_key() { sed -n "s/^$1=//p" "$CR_DATA/connrec.status"; }
# wait_lines PATTERN N: until the recorder's stderr has more than N lines matching PATTERN
wait_lines() {
	_dl=$(($(date +%s) + 60))
	while [ "$(grep -c -e "$1" "$CR_TMP/recorder.err")" -le "$2" ]; do
		[ "$(date +%s)" -lt "$_dl" ] || cr_fatal "no new '$1' line within 60s"
		sleep 0.05
	done
}

cr_start
"$storm" -r 5000 -d 120 >"$CR_TMP/storm.out" 2>&1 &
spid=$!
cr_track "$spid"
cr_wait_file "$CR_TMP/recorder.err" "flush failed" 60 || cr_fatal "the disk never filled up"
cr_pass "flushes fail: $(grep -m1 'flush failed' "$CR_TMP/recorder.err")"
# The status file says so, and keeps being rewritten while the disk is full.
t0=$(date +%s%N)
_dl=$(($(date +%s) + 30))
while [ "$(status_key updated_ns)" -le "$t0" ] && [ "$(date +%s)" -lt "$_dl" ]; do sleep 0.1; done
cr_gt "connrec.status rewritten while the disk is full" "$t0" "$(status_key updated_ns)"
cr_eq "connrec.status: last_error" "No space left on device" "$(status_key last_error)"
cr_gt "connrec.status: failing_since_ns" 0 "$(status_key failing_since_ns)"
cr_true "connrec status says the store is not writable" \
	sh -c "'$CONNREC_BIN' status -d '$CR_DATA' | grep -q 'NOT WRITABLE since'"
kill -INT "$spid"
wait "$spid" || true
cr_untrack "$spid"
cr_true "recorder still running on a full disk" cr_alive "$CR_REC_PID"

rm "$CR_DATA/filler.tmp"
cr_wait_file "$CR_TMP/recorder.err" "writable again" || cr_failed "recording resumes" "a 'writable again' line" "none"
cr_true "recorder still running after space returned" cr_alive "$CR_REC_PID"
_dl=$(($(date +%s) + 30))
while [ "$(status_key failing_since_ns)" != 0 ] && [ "$(date +%s)" -lt "$_dl" ]; do sleep 0.1; done
cr_eq "connrec.status: failing_since_ns once writable again" 0 "$(status_key failing_since_ns)"

# Flows made after the disk had room again are stored.
"$storm" -n 200 >"$CR_TMP/storm2.out"
port=$(sed -n 's/.*"event":"done".*"port":\([0-9]*\),.*/\1/p' "$CR_TMP/storm2.out")
cr_expect_rows "flows after the disk had room again" 200 \
	"SELECT count(*) FROM conn WHERE proto = 6 AND dir = 0 AND rport = $port"

# Full again, and stopped while full: what the last flush could not store must not vanish.
fails=$(grep -c "flush failed" "$CR_TMP/recorder.err")
free=$(df -k --output=avail "$CR_DATA" | tail -n 1)
dd if=/dev/zero of="$CR_DATA/filler.tmp" bs=1K count="$free" status=none 2>/dev/null || true
"$storm" -r 5000 -d 120 >"$CR_TMP/storm3.out" 2>&1 &
spid=$!
cr_track "$spid"
wait_lines "flush failed" "$fails"
"$storm" -n 300 >"$CR_TMP/storm4.out" 2>&1
kill -INT "$spid"
wait "$spid" || true
cr_untrack "$spid"
kill -INT "$CR_REC_PID"
cr_wait_gone "$CR_REC_PID" "$CR_TIMEOUT" || cr_fatal "the recorder did not stop on a full disk"
wait "$CR_REC_PID" && st=0 || st=$?
CR_REC_PID=""
cr_eq "exit status of a stop that could not store everything" 1 "$st"
unstored=$(sed -n 's/.*final flush failed.*; \([0-9]*\) events not stored.*/\1/p' "$CR_TMP/recorder.err")
cr_gt "events the final flush could not store (stderr)" 0 "${unstored:-0}"
cr_eq "connrec.status: state after that stop" failed "$(status_key state)"
cr_eq "connrec.status: unstored_events" "$unstored" "$(status_key unstored_events)"

rm "$CR_DATA/filler.tmp"
cr_start
cr_stop
gaps=$(cr_sql "SELECT count(*) FROM gap WHERE kind = 1 AND reason LIKE 'store not writable%'")
cr_ge "gap rows for the time the store could not write" 1 "$(echo "$gaps" | awk '{ s += $1 } END { print s }')"
cr_eq "the unstored events, as a lost gap with their count" "$unstored" \
	"$(cr_sql_sum "SELECT coalesce(sum(count), 0) FROM gap WHERE kind = 1 AND reason LIKE 'store not writable at the stop%'")"
cr_sql "SELECT kind, start_ns, end_ns, count, reason FROM gap" | sed 's/^/    gap: /'
"$CONNREC_BIN" query -d "$CR_DATA" --gaps -o csv >"$CR_TMP/gaps.csv" 2>&1
cr_true "query --gaps shows it" grep -q "^lost,.*,$unstored,.*store not writable at the stop" "$CR_TMP/gaps.csv"
"$CONNREC_BIN" verify -d "$CR_DATA" >"$CR_TMP/verify.out" 2>&1 && st=0 || st=$?
cr_eq "verify after the disk-full episodes" 0 "$st"
[ "$st" -eq 0 ] || cat "$CR_TMP/verify.out"
cr_true "verify lists the lost gap" grep -q "gap lost .*count=$unstored .*store not writable at the stop" "$CR_TMP/verify.out"
cr_finish
