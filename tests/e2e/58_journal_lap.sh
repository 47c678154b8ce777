#!/bin/sh
# SPDX-License-Identifier: MIT
# The young journal laps: connections the recorder could not ask about in time are still
# stored as open. BPF notes each connection it starts tracking in a per-CPU journal that the
# recorder reads; when the recorder falls behind and a CPU's journal laps, a walk of the whole
# tracking map stands in for the lost entries. That walk must keep what it cannot report yet:
# a connection not accepted yet (no owner; asked again later) and one younger than a second.
#
# The hidden --young-slots 16 makes the journal lap with a few hundred connections. One
# process connects N connections to its own listener, accepts none of them for 3 s, then
# accepts all and holds them. Every endpoint must be stored as open, with that process as
# owner, and after the close every endpoint must have one row and an end, nothing lost.
set -eu
. "$(dirname "$0")/lib.sh"
cr_init

n=${CR_LAP_CONNS:-400}
cr_start --young-slots 16

"$PY" "$(dirname "$0")/py/late_accept.py" "$n" 3 "$CR_TMP/go" >"$CR_TMP/lap.out" 2>&1 &
spid=$!
cr_track $spid
cr_wait_file "$CR_TMP/lap.out" '"event":"holding"'
port=$(head -n 1 "$CR_TMP/lap.out" | sed 's/.*"port":\([0-9]*\).*/\1/')
grep -q "\"accepted\":$n" "$CR_TMP/lap.out" || cr_fatal "the script did not accept all $n: $(cat "$CR_TMP/lap.out")"

ours="c.proto = 6 AND c.flags & 2 = 0 AND
	((c.dir = 0 AND c.rport = $port) OR (c.dir = 1 AND c.lport = $port))"
ended="(c.reason IS NOT NULL OR EXISTS (SELECT 1 FROM conn_end e WHERE e.id = c.id))"
cr_expect_rows "endpoints stored as open" $((2 * n)) \
	"SELECT count(*) FROM conn c WHERE $ours AND NOT $ended" || true
cr_eq "open endpoints owned by the script (pid $spid)" $((2 * n)) \
	"$(cr_sql_sum "SELECT count(*) FROM conn c JOIN proc p ON p.id = c.proc
		WHERE $ours AND NOT $ended AND p.pid = $spid")"
cr_true "the recorder said its journal lapped" \
	grep -q "fell behind the kernel's list of new connections" "$CR_TMP/recorder.err"

: >"$CR_TMP/go"
cr_wait_file "$CR_TMP/lap.out" '"event":"done"'
cr_expect_rows "endpoints ended" $((2 * n)) \
	"SELECT count(*) FROM conn c WHERE $ours AND $ended" || true
cr_eq "rows of these endpoints (none twice)" $((2 * n)) \
	"$(cr_sql_sum "SELECT count(*) FROM conn c WHERE $ours")"
cr_eq "flows counted lost" 0 "$(cr_sql_sum "SELECT coalesce(sum(count), 0) FROM gap WHERE kind = 1")"
cr_stop
cr_true "connrec verify accepts the store" "$CONNREC_BIN" verify -d "$CR_DATA"
cr_finish
