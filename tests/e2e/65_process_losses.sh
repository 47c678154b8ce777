#!/bin/sh
# SPDX-License-Identifier: MIT
# Process events are never lost silently. The recorder runs with the smallest process-event
# ring (--proc-ring-size 4096) and is frozen with SIGSTOP while an exec storm (bench/execstorm:
# fork + exec of /bin/true, counted exactly) runs, so the ring overflows. After SIGCONT every
# exec of the storm must be stored (a life row with the storm as parent) or counted lost (gap
# rows "process ring buffer full: execs lost"):
#
#   stored <= made <= stored + lost
#
# Lost execs are counted for the whole host (other processes exec too), hence the second
# "<=" rather than "=". Then recording must resume: a slower storm without a freeze is stored
# in full (or, should the tiny ring drop again, still accounted for).
set -eu
. "$(dirname "$0")/lib.sh"
cr_init
cr_tool execstorm execstorm

lost_sql="SELECT coalesce(sum(count), 0) FROM gap WHERE kind = 1 AND
	reason = 'process ring buffer full: execs lost'"
stored_sql() { echo "SELECT count(*) FROM life WHERE ppid = $1 AND exe = '/bin/true' AND flags & 4"; }

cr_start --proc-ring-size 4096

# --- frozen: the ring overflows ----------------------------------------------------------------
cr_freeze
"$execstorm" -r 1000 -s 1 >"$CR_TMP/storm1.json" || cr_fatal "execstorm failed: $(cat "$CR_TMP/storm1.json")"
kill -CONT "$CR_REC_PID"
made=$(cr_jget "$CR_TMP/storm1.json" made)
spid=$(cr_jget "$CR_TMP/storm1.json" pid)
cr_log "frozen storm: $made execs by pid $spid"

# The gap rows come with the next commits; wait until made is accounted for.
cr_wait_count "$made" "SELECT ($(stored_sql "$spid")) + ($lost_sql)" >/dev/null || true
stored=$(cr_sql_sum "$(stored_sql "$spid")")
lost=$(cr_sql_sum "$lost_sql")
cr_log "stored $stored, counted lost $lost"
cr_true "execs were lost (the ring did overflow)" [ "$lost" -gt 0 ]
cr_true "stored ($stored) <= made ($made)" [ "$stored" -le "$made" ]
cr_true "made ($made) <= stored + lost ($((stored + lost)))" [ "$made" -le $((stored + lost)) ]

# --- recording goes on -----------------------------------------------------------------------
"$execstorm" -r 100 -s 1 >"$CR_TMP/storm2.json" || cr_fatal "execstorm failed: $(cat "$CR_TMP/storm2.json")"
made2=$(cr_jget "$CR_TMP/storm2.json" made)
spid2=$(cr_jget "$CR_TMP/storm2.json" pid)
lost_before=$lost
cr_wait_count "$made2" "SELECT ($(stored_sql "$spid2")) + ($lost_sql) - $lost_before" >/dev/null ||
	true
stored2=$(cr_sql_sum "$(stored_sql "$spid2")")
lost2=$(($(cr_sql_sum "$lost_sql") - lost_before))
cr_log "slow storm: made $made2, stored $stored2, lost since $lost2"
cr_true "slow storm accounted for: $made2 <= $stored2 + $lost2" [ "$made2" -le $((stored2 + lost2)) ]
if [ "$lost2" -eq 0 ]; then
	cr_eq "slow storm, nothing lost: every exec stored" "$made2" "$stored2"
fi

cr_stop
cr_finish
