#!/bin/sh
# SPDX-License-Identifier: MIT
# A busy load balancer (issue 17): 102,000 loopback TCP connections held open at once, by 6
# client and 6 server processes of 17,000 connections each (open files are capped at 20,000
# per process). Checks:
#   1. the recorder survives, and every endpoint is stored as open (state S1) with the pid of
#      the process holding it, reported by the recorder's young-connection scan;
#   2. after the processes close them all, every endpoint has exactly one row, and an end;
#   3. nothing was counted lost, the store verifies, and the recorder stops cleanly.
# `make bench` runs the same at a million endpoints (bench/hold.sh).
set -eu
. "$(dirname "$0")/lib.sh"
cr_init
cr_tool storm storm
procs=${CR_HOLD_PROCS:-6}
per=${CR_HOLD_PER:-17000}
total=$((procs * per))
CR_TIMEOUT=${CR_HOLD_TIMEOUT:-120}

# The tracking capacity follows RAM (one endpoint per 16 KiB); a machine too small for this
# test gets the flag, the way an operator would use it.
need=$((2 * total + 4096))
default=$(awk '/^MemTotal:/ { print int($2 / 16) }' /proc/meminfo)
[ "$default" -ge 65536 ] || default=65536
set --
[ "$default" -ge "$need" ] || set -- --max-flows "$need"
cr_start "$@"

# Servers first, each on a port of the kernel's choosing; then one client per server.
cr_hold "$procs" "$per" 4
ports=$CR_HOLD_PORTS spids=$CR_HOLD_SPIDS cpids=$CR_HOLD_CPIDS t0=$CR_HOLD_T0
cr_log "holding $total connections after $((($(date +%s%N) - t0) / 1000000)) ms"

# The endpoints of these connections: out to a server port, or in on one (not carried copies).
portlist=$(echo $ports | tr ' ' ',')
ours="c.proto = 6 AND c.flags & 2 = 0 AND
	((c.dir = 0 AND c.rport IN ($portlist)) OR (c.dir = 1 AND c.lport IN ($portlist)))"
ended="(c.reason IS NOT NULL OR EXISTS (SELECT 1 FROM conn_end e WHERE e.id = c.id))"
count() { cr_sql_sum "SELECT count(*) FROM conn c JOIN proc p ON p.id = c.proc WHERE $ours AND $1"; }

# 1. Every endpoint stored as open, with its owner.
cr_expect_rows "endpoints stored as open" $((2 * total)) \
	"SELECT count(*) FROM conn c WHERE $ours AND NOT $ended" || true
cr_log "all endpoints stored as open after $((($(date +%s%N) - t0) / 1000000)) ms" \
	"from the first connect"
cr_eq "client endpoints stored as open" "$total" "$(count "c.dir = 0 AND NOT $ended")"
cr_eq "server endpoints stored as open" "$total" "$(count "c.dir = 1 AND NOT $ended")"
cr_true "the recorder is alive while holding" cr_alive "$CR_REC_PID"
i=1
for pid in $cpids; do
	cr_eq "open endpoints owned by client $i (pid $pid)" "$per" "$(count "p.pid = $pid")"
	i=$((i + 1))
done
i=1
for pid in $spids; do
	cr_eq "open endpoints owned by server $i (pid $pid)" "$per" "$(count "p.pid = $pid")"
	i=$((i + 1))
done

# 2. Release: every process closes what it holds; every endpoint ends, once, normally.
for pid in $cpids $spids; do kill -TERM "$pid"; done
for pid in $cpids $spids; do
	cr_wait_gone "$pid" "$CR_TIMEOUT" || cr_fatal "storm $pid did not exit"
done
cr_expect_rows "endpoints ended after the release" $((2 * total)) \
	"SELECT count(*) FROM conn c WHERE $ours AND $ended" || true
cr_eq "rows of these endpoints (none twice)" $((2 * total)) "$(count 1)"
cr_eq "distinct endpoints among them" $((2 * total)) \
	"$(cr_sql_sum "SELECT count(*) FROM (SELECT DISTINCT c.dir, c.laddr, c.lport, c.raddr, c.rport
		FROM conn c WHERE $ours)")"
# (A mass close may end some with resets: more orphans than the kernel keeps, TIME_WAIT full.)
cr_eq "endpoints with an end reason" $((2 * total)) \
	"$(count "COALESCE(c.reason, (SELECT e.reason FROM conn_end e WHERE e.id = c.id)) > 0")"

# 3. No loss, a consistent store, a clean stop.
cr_eq "flows counted lost" 0 "$(cr_sql_sum "SELECT coalesce(sum(count), 0) FROM gap WHERE kind = 1")"
cr_true "the recorder is alive after the release" cr_alive "$CR_REC_PID"
cr_stop
cr_true "connrec verify accepts the store" "$CONNREC_BIN" verify -d "$CR_DATA"
cr_finish
