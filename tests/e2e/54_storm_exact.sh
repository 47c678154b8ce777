#!/bin/sh
# SPDX-License-Identifier: MIT
# Full-speed storms, every flow accounted for exactly. bench/storm makes TCP connections as
# fast as two client and two server threads can (normal closes from 16 source addresses,
# then reset closes), in a network namespace of the test's own, which saturates the cores:
# the load under which the kernel skips state changes and a peer's reset can close a socket
# before accept() returns it. For each storm the store must hold at most one row per
# endpoint (no duplicates: made out rows, accepted in rows), every row ended, and rows plus
# the flows counted lost must reach made + accepted. Losses are counted for the whole host,
# so other traffic can only add to them; on a quiet host the sum is exact.
set -eu
. "$(dirname "$0")/lib.sh"
cr_init
cr_tool storm storm
n=${CR_STORM_N:-100000}

cr_netns ns storm
inode=$(cr_netns_inode "$ns")
cr_start
lost_q="SELECT coalesce(sum(count), 0) FROM gap WHERE kind = 1 AND reason LIKE '%: flows lost%'"

# run NAME STORM-ARGS...
run() {
	name=$1
	shift
	lost0=$(cr_sql_sum "$lost_q")
	ip netns exec "$ns" "$storm" -n "$n" "$@" >"$CR_TMP/$name.out" 2>&1 ||
		cr_fatal "storm $name failed: $(cat "$CR_TMP/$name.out")"
	made=$(cr_jget "$CR_TMP/$name.out" made)
	accepted=$(cr_jget "$CR_TMP/$name.out" accepted)
	port=$(cr_jget "$CR_TMP/$name.out" port)
	cr_eq "$name: connections made" "$n" "$made"
	out="proto = 'tcp' AND netns = $inode AND direction = 'out' AND rport = $port"
	in="proto = 'tcp' AND netns = $inode AND direction = 'in' AND lport = $port"
	want=$((made + accepted))
	# Every row ended, or the shortfall counted lost; closes can take seconds under load.
	dl=$(($(date +%s) + CR_TIMEOUT))
	while :; do
		ended=$(cr_sql_sum "SELECT count(*) FROM flows WHERE ($out OR $in) AND end_ns IS NOT NULL")
		lost=$(($(cr_sql_sum "$lost_q") - lost0))
		[ $((ended + lost)) -lt "$want" ] && [ "$(date +%s)" -lt "$dl" ] || break
		sleep 0.2
	done
	n_out=$(cr_sql_sum "SELECT count(*) FROM flows WHERE $out")
	n_in=$(cr_sql_sum "SELECT count(*) FROM flows WHERE $in")
	cr_log "$name: made $made, accepted $accepted; rows $n_out out, $n_in in, $ended ended;" \
		"flows counted lost $lost"
	cr_true "$name: out rows ($n_out) <= made ($made): no duplicates" [ "$n_out" -le "$made" ]
	cr_true "$name: in rows ($n_in) <= accepted ($accepted): no duplicates" \
		[ "$n_in" -le "$accepted" ]
	cr_eq "$name: rows without an end" 0 $((n_out + n_in - ended))
	cr_true "$name: rows + counted lost ($((n_out + n_in)) + $lost) >= made + accepted ($want)" \
		[ $((n_out + n_in + lost)) -ge "$want" ]
}

run normal --spread 16
run reset --rst
cr_stop
cr_finish
