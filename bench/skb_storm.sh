#!/bin/sh
# SPDX-License-Identifier: MIT
# Whether the cgroup_skb hooks (DNS capture, UDP bytes) move the storm ratios: the TCP and UDP
# storms of bench/run.sh under two recorders in the same run, a baseline build (A, say main
# without the hooks) and this tree's (B), alternated with runs without any recorder.
# Per round: every mode off, every mode under A, every mode under B (the order of A and B
# swaps each round), every mode off again. Ratios as in bench/run.sh: throughput on / mean of
# the two off runs, and the CPU-cost ratio (storm CPU per flow off / on, the on side including
# the recorder's own CPU), which other load on the host barely moves.
#
#   CONNREC_A=/path/to/main/connrec sh bench/skb_storm.sh     # needs root; prints a table
#
# Knobs: STORM_SECS (one storm, default 2), STORM_ROUNDS (default 6), CONNREC_B (default
# ./connrec), STORM_BIN.
set -eu
cd "$(dirname "$0")/.."
TOP=$PWD
A=${CONNREC_A:?set CONNREC_A to the baseline recorder}
B=${CONNREC_B:-$TOP/connrec}
STORM=${STORM_BIN:-$TOP/${OUTPUT:-.output}/tools/storm}
SECS=${STORM_SECS:-2}
ROUNDS=${STORM_ROUNDS:-6}
W=$(mktemp -d /tmp/connrec-skbstorm.XXXXXX)
REC_PID=""

say() { printf 'skb_storm: %s\n' "$*" >&2; }
die() {
	say "error: $*"
	exit 1
}
cleanup() {
	rc=$?
	set +e
	[ -n "$REC_PID" ] && kill -INT "$REC_PID" 2>/dev/null && wait "$REC_PID"
	if [ "$rc" -eq 0 ]; then rm -rf "$W"; else say "work dir kept: $W"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[ "$(id -u)" -eq 0 ] || die "needs root (BPF)"
for x in "$A" "$B" "$STORM"; do [ -x "$x" ] || die "no $x"; done

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

rec_start() { # BINARY
	"$1" record -d "$W/store" </dev/null >"$W/rec.out" 2>"$W/rec.err" &
	REC_PID=$!
	n=0
	until grep -qw ready "$W/rec.err" 2>/dev/null; do
		kill -0 "$REC_PID" 2>/dev/null || die "recorder exited: $(cat "$W/rec.err")"
		n=$((n + 1))
		[ "$n" -lt 1200 ] || die "recorder not ready within 60 s"
		sleep 0.05
	done
}

rec_stop() {
	kill -INT "$REC_PID"
	wait "$REC_PID" || say "warning: recorder exit status $?"
	REC_PID=""
	rm -rf "$W/store"
}

# one MODE: a storm; prints "flows/s cpu_s-per-flow" (the storm's own CPU, plus the
# recorder's during the storm when one runs).
one() {
	t0=0
	[ -z "$REC_PID" ] || t0=$(ticks "$REC_PID")
	timeout $((SECS + 60)) "$STORM" -m "$1" -d "$SECS" >"$W/storm.json" ||
		die "storm -m $1 failed: $(cat "$W/storm.json")"
	rec=0
	[ -z "$REC_PID" ] || rec=$(($(ticks "$REC_PID") - t0))
	"${PY:-python3}" - "$W/storm.json" "$rec" "$(getconf CLK_TCK)" <<'PY'
import json, sys
d = [json.loads(l) for l in open(sys.argv[1]) if '"done"' in l][-1]
made = d["made"]
print(made / d["elapsed_s"], (d["cpu_s"] + int(sys.argv[2]) / int(sys.argv[3])) / made)
PY
}

MODES="tcp udp"
: >"$W/rows"
for r in $(seq 1 "$ROUNDS"); do
	if [ $((r % 2)) -eq 1 ]; then order="A B"; else order="B A"; fi
	for m in $MODES; do one "$m" >"$W/off-$m"; done
	for side in $order; do
		if [ "$side" = A ]; then rec_start "$A"; else rec_start "$B"; fi
		for m in $MODES; do one "$m" >"$W/$side-$m"; done
		rec_stop
	done
	for m in $MODES; do
		offb=$(one "$m")
		echo "$m $r $(cat "$W/off-$m") $(cat "$W/A-$m") $(cat "$W/B-$m") $offb" >>"$W/rows"
		say "$m round $r (off, A, B, off: flows/s cpu-s/flow): $(tail -n 1 "$W/rows" | cut -d' ' -f3-)"
	done
done

# rows: mode round offrate offcpu Arate Acpu Brate Bcpu offbrate offbcpu
awk '
function med(a, k,   i, j, x) {
	for (i = 2; i <= k; i++) for (j = i; j > 1 && a[j] < a[j - 1]; j--) {
		x = a[j]; a[j] = a[j - 1]; a[j - 1] = x }
	return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
}
{
	m = $1; k = ++n[m]; base = ($3 + $9) / 2; cbase = ($4 + $10) / 2
	ta[m, k] = $5 / base; tb[m, k] = $7 / base; ca[m, k] = cbase / $6; cb[m, k] = cbase / $8
	ba[m, k] = $7 / $5
}
END {
	print "| storm | A on/off | B on/off | B/A flows/s | A CPU-cost ratio | B CPU-cost ratio |"
	print "|---|---|---|---|---|---|"
	split("tcp udp", order, " ")
	for (i = 1; i <= 2; i++) {
		m = order[i]
		if (!n[m]) continue
		for (k = 1; k <= n[m]; k++) { a[k] = ta[m, k]; b[k] = tb[m, k]; c[k] = ca[m, k]; d[k] = cb[m, k]; e[k] = ba[m, k] }
		printf "| %s | %.3f (%.3f-%.3f) |", m, med(a, n[m]), a[1], a[n[m]]
		printf " %.3f (%.3f-%.3f) |", med(b, n[m]), b[1], b[n[m]]
		printf " %.3f (%.3f-%.3f) |", med(e, n[m]), e[1], e[n[m]]
		printf " %.3f (%.3f-%.3f) |", med(c, n[m]), c[1], c[n[m]]
		printf " %.3f (%.3f-%.3f) |\n", med(d, n[m]), d[1], d[n[m]]
	}
}' "$W/rows"
