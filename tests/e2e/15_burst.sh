#!/bin/sh
# SPDX-License-Identifier: MIT
# A burst of short-lived TCP connections (default 10,000; CR_BURST_N to change) made by
# tests/tools/connburst, which counts exactly how many it made and accepted. The store must
# hold that many client (out) rows and server (in) rows, all ended and all owned by connburst's
# pid. Any shortfall must be covered by the losses the recorder stored (gap kind 1): nothing
# may go missing silently. Other traffic on the host can only add to the loss count, so the
# check is shortfall <= losses.
#
# The burst runs in a network namespace of its own, so the kernel's per-namespace TCP counters
# are exact ground truth for it: every connection must end the normal way (reason 1 or 2)
# unless the kernel really sent resets there (TcpOutRsts), or the recorder took the close from
# the socket's destruction because the kernel skipped the state change (reason 8, unknown:
# the recorder says how many at its stop).
set -eu
. "$(dirname "$0")/lib.sh"
cr_init
n=${CR_BURST_N:-10000}
cr_tool tool connburst

cr_netns ns burst
inode=$(cr_netns_inode "$ns")
snmp_rsts() { # TcpOutRsts in the namespace
	ip netns exec "$ns" awk '/^Tcp:/ { if (!h) { for (i = 1; i <= NF; i++) f[$i] = i; h = 1 }
		else print $f["OutRsts"] }' /proc/net/snmp
}

cr_start

ip netns exec "$ns" "$tool" -n "$n" >"$CR_TMP/burst.out" 2>&1 &
bpid=$!
cr_track "$bpid"
wait "$bpid" && st=0 || st=$?
cr_untrack "$bpid"
cat "$CR_TMP/burst.out"
cr_eq "connburst exit status" 0 "$st"
# made M failed F accepted A port P pid PID usec T
set -- $(grep '^made ' "$CR_TMP/burst.out")
made=$2 accepted=$6 port=$8 usec=${12}
cr_eq "connburst pid" "$bpid" "${10}"
cr_eq "connections made" "$n" "$made"
cr_eq "connections accepted" "$n" "$accepted"
cr_log "$made connections in $usec us ($((made * 1000000 / (usec > 0 ? usec : 1))) per second)"

rsts=$(snmp_rsts)
cr_log "resets the kernel sent in the namespace during the burst: $rsts"
out="proto = 'tcp' AND netns = $inode AND direction = 'out' AND rport = $port"
in="proto = 'tcp' AND netns = $inode AND direction = 'in' AND lport = $port"
lost_q="SELECT coalesce(sum(count), 0) FROM gap WHERE kind = 1"

# Wait until every row is there and ended, or the deadline, whichever is first; with losses the
# counts stop short and the deadline decides.
cr_wait_count "$made" "SELECT count(*) FROM flows WHERE $out AND end_ns IS NOT NULL" >/dev/null || true
cr_wait_count "$made" "SELECT count(*) FROM flows WHERE $in AND end_ns IS NOT NULL" >/dev/null || true

n_out=$(cr_sql_sum "SELECT count(*) FROM flows WHERE $out")
n_in=$(cr_sql_sum "SELECT count(*) FROM flows WHERE $in")
n_out_end=$(cr_sql_sum "SELECT count(*) FROM flows WHERE $out AND end_ns IS NOT NULL")
n_in_end=$(cr_sql_sum "SELECT count(*) FROM flows WHERE $in AND end_ns IS NOT NULL")
lost=$(cr_sql_sum "$lost_q")
cr_log "recorded: $n_out out ($n_out_end ended), $n_in in ($n_in_end ended); losses stored: $lost"

# Never more rows than connections (no duplicates), and every row owned by connburst.
cr_true "out rows <= made ($n_out <= $made)" [ "$n_out" -le "$made" ]
cr_true "in rows <= accepted ($n_in <= $accepted)" [ "$n_in" -le "$accepted" ]
cr_eq "out rows not owned by connburst (pid, comm)" 0 \
	"$(cr_sql_sum "SELECT count(*) FROM flows WHERE $out AND (pid != $bpid OR comm != 'connburst')")"
cr_eq "in rows not owned by connburst (pid, comm)" 0 \
	"$(cr_sql_sum "SELECT count(*) FROM flows WHERE $in AND (pid != $bpid OR comm != 'connburst')")"
cr_stop
late=$(sed -n 's/.* \([0-9][0-9]*\) closes among them were taken from the socket.s destruction.*/\1/p' \
	"$CR_TMP/recorder.err")
late=${late:-0}
unknown=$(cr_sql_sum "SELECT count(*) FROM flows WHERE ($out OR $in) AND reason = 8")
cr_log "closes taken from the socket's destruction: $late; rows with reason unknown: $unknown"
cr_true "rows with reason unknown ($unknown) <= closes taken at destruction ($late)" \
	[ "$unknown" -le "$late" ]
abnormal=$(cr_sql_sum "SELECT count(*) FROM flows WHERE ($out OR $in) AND reason NOT IN (1, 2, 8)")
if [ "$rsts" -eq 0 ]; then
	cr_eq "rows ended otherwise than by a normal close (1, 2), with no RST sent" 0 "$abnormal"
else
	cr_true "rows ended otherwise than normally ($abnormal) <= RSTs sent ($rsts)" \
		[ "$abnormal" -le "$rsts" ]
fi
[ "$abnormal" -eq 0 ] || cr_sql "SELECT direction, reason, count(*) FROM flows WHERE ($out OR $in)
	GROUP BY 1, 2" | sed 's/^/    direction|reason|count: /'

# Rows missing, plus ends missing from the rows that are there: each needs its own lost event.
missing=$((made - n_out + accepted - n_in + n_out - n_out_end + n_in - n_in_end))
if [ "$missing" -eq 0 ]; then
	cr_pass "every connection recorded: $made out and $accepted in rows, all ended, losses $lost"
else
	# Each missing row or end needs at least one lost event behind it.
	cr_true "shortfall ($missing rows or ends) <= stored losses ($lost)" [ "$missing" -le "$lost" ]
fi

cr_finish
