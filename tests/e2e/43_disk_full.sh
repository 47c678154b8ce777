#!/bin/sh
# SPDX-License-Identifier: MIT
# A full disk (issue 4): the data dir is a small tmpfs, partly taken by a filler file. A storm
# fills the rest. The recorder must not crash; it keeps rows queued and logs the failure. When
# the filler is deleted it resumes on its own: the store records a gap (kind 1) for the time it
# could not write, flows made after that are stored, and verify passes.
set -eu
. "$(dirname "$0")/lib.sh"
cr_init
cr_tool storm storm

mkdir -p "$CR_DATA"
mount -t tmpfs -o size=10M,mode=0700 connrec-e2e "$CR_DATA" || cr_skip "cannot mount a tmpfs"
CR_MOUNTS="$CR_MOUNTS $CR_DATA"
dd if=/dev/zero of="$CR_DATA/filler.tmp" bs=1M count=7 status=none

cr_start
"$storm" -r 5000 -d 120 >"$CR_TMP/storm.out" 2>&1 &
spid=$!
cr_track "$spid"
cr_wait_file "$CR_TMP/recorder.err" "flush failed" 60 || cr_fatal "the disk never filled up"
cr_pass "flushes fail: $(grep -m1 'flush failed' "$CR_TMP/recorder.err")"
kill -INT "$spid"
wait "$spid" || true
cr_untrack "$spid"
cr_true "recorder still running on a full disk" cr_alive "$CR_REC_PID"

rm "$CR_DATA/filler.tmp"
cr_wait_file "$CR_TMP/recorder.err" "writable again" || cr_failed "recording resumes" "a 'writable again' line" "none"
cr_true "recorder still running after space returned" cr_alive "$CR_REC_PID"

# Flows made after the disk had room again are stored.
"$storm" -n 200 >"$CR_TMP/storm2.out"
port=$(sed -n 's/.*"event":"done".*"port":\([0-9]*\),.*/\1/p' "$CR_TMP/storm2.out")
cr_expect_rows "flows after the disk had room again" 200 \
	"SELECT count(*) FROM conn WHERE proto = 6 AND dir = 0 AND rport = $port"
cr_stop

gaps=$(cr_sql "SELECT count(*) FROM gap WHERE kind = 1 AND reason LIKE 'store not writable%'")
cr_ge "gap rows for the time the store could not write" 1 "$(echo "$gaps" | awk '{ s += $1 } END { print s }')"
cr_sql "SELECT kind, start_ns, end_ns, count, reason FROM gap" | sed 's/^/    gap: /'
"$CONNREC_BIN" verify -d "$CR_DATA" >"$CR_TMP/verify.out" 2>&1 && st=0 || st=$?
cr_eq "verify after the disk-full episode" 0 "$st"
[ "$st" -eq 0 ] || cat "$CR_TMP/verify.out"
cr_finish
