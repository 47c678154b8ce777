#!/bin/sh
# SPDX-License-Identifier: MIT
# Sustained storm: the recorder's memory stays bounded.
#
# Several back-to-back TCP storms (bench/storm, full speed) run against one recorder. After
# each one, once its rows are committed (or the storm's losses are counted), the recorder's
# VmRSS is sampled. The first storm is the warm-up (caches, queues and the ring reach their
# working size); every later sample must stay within 1.5 times the warm-up sample. That is a
# ratio, so it holds on fast and slow machines alike. CR_RSS_PHASES and CR_RSS_CONNS change
# the number of storms and their size.
set -eu
. "$(dirname "$0")/lib.sh"
cr_init
cr_tool storm storm
phases=${CR_RSS_PHASES:-6}
conns=${CR_RSS_CONNS:-40000}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

cr_start
rss0=$(rss_kb "$CR_REC_PID")
cr_log "VmRSS after ready: $rss0 kB"
lost_q="SELECT coalesce(sum(count), 0) FROM gap WHERE kind = 1"
samples=""
warm=""
i=1
while [ "$i" -le "$phases" ]; do
	"$storm" -n "$conns" >"$CR_TMP/storm$i.out" 2>&1 || cr_fatal "storm $i failed: $(cat "$CR_TMP/storm$i.out")"
	port=$(cr_jget "$CR_TMP/storm$i.out" port)
	made=$(cr_jget "$CR_TMP/storm$i.out" made)
	cr_eq "storm $i connections made" "$conns" "$made"
	# Wait until the recorder has stored this storm: both endpoints of every connection
	# ended, or the shortfall counted as lost, or no progress for 3 s (events lost without
	# being counted show up as a shortfall in the log; other tests check completeness).
	lost_before=$(cr_sql_sum "$lost_q")
	last=-1
	still=0
	while :; do
		n=$(cr_sql_sum "SELECT count(*) FROM flows WHERE proto = 'tcp' AND end_ns IS NOT NULL
			AND ((direction = 'out' AND rport = $port) OR (direction = 'in' AND lport = $port))")
		lost=$(cr_sql_sum "$lost_q")
		[ $((n + lost - lost_before)) -lt $((2 * made)) ] || break
		if [ "$n" -eq "$last" ]; then still=$((still + 1)); else still=0; fi
		last=$n
		[ "$still" -lt 30 ] || break
		sleep 0.1
	done
	[ $((n + lost - lost_before)) -ge $((2 * made)) ] ||
		cr_log "storm $i: $((2 * made - n - lost + lost_before)) flows neither ended nor counted lost"
	rss=$(rss_kb "$CR_REC_PID")
	cr_log "after storm $i ($made connections, $n flows stored): VmRSS $rss kB"
	samples="$samples $rss"
	[ -n "$warm" ] || warm=$rss
	i=$((i + 1))
done

limit=$((warm * 3 / 2))
max=0
for s in $samples; do [ "$s" -le "$max" ] || max=$s; done
cr_log "VmRSS samples (kB):$samples; warm-up $warm, limit $limit"
cr_true "every VmRSS sample after warm-up ($max kB max) <= 1.5 x warm-up ($limit kB)" \
	[ "$max" -le "$limit" ]
last=${samples##* }
cr_true "last VmRSS sample ($last kB) <= 1.5 x warm-up ($limit kB)" [ "$last" -le "$limit" ]

cr_stop
cr_finish
