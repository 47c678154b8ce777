#!/bin/sh
# SPDX-License-Identifier: MIT
# What the cgroup_skb hooks (DNS capture, UDP bytes) cost a bulk transfer: iperf3 over
# loopback, alternated without and with a recorder in the same run, as ratios (on / mean of
# the off runs before and after). During the "on" runs the kernel's BPF statistics give the
# hooks' own time per run (run_time_ns / run_cnt of on_skb_ingress and on_skb_egress
# together). Nothing else the recorder attaches runs per packet of a bulk TCP or UDP stream.
#
#   sh bench/skb_bench.sh            # needs root and iperf3; writes its section of RESULTS.md
#
# Knobs: SKB_SECS (one iperf3 run, whole seconds, default 5), SKB_ROUNDS (default 5),
# SKB_STAT_SECS (the statistics run, default 1), BENCH_RESULTS.
set -eu
cd "$(dirname "$0")/.."
TOP=$PWD
CONNREC=${CONNREC_BIN:-$TOP/connrec}
SECS=${SKB_SECS:-5}
ROUNDS=${SKB_ROUNDS:-5}
STAT_SECS=${SKB_STAT_SECS:-1}
RESULTS=${BENCH_RESULTS:-$TOP/bench/RESULTS.md}
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo '?')
DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
W=$(mktemp -d /tmp/connrec-skbbench.XXXXXX)
REC_PID="" SRV_PID=""
STATS_OLD=$(sysctl -n kernel.bpf_stats_enabled 2>/dev/null || echo 0)
LOAD0=$(cut -d ' ' -f 1-3 /proc/loadavg)

say() { printf 'skb_bench: %s\n' "$*" >&2; }
die() {
	say "error: $*"
	exit 1
}
cleanup() {
	rc=$?
	set +e
	[ -n "$REC_PID" ] && kill -INT "$REC_PID" 2>/dev/null && wait "$REC_PID"
	[ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null && wait "$SRV_PID"
	sysctl -q -w kernel.bpf_stats_enabled="$STATS_OLD"
	[ "$rc" -eq 0 ] && rm -rf "$W" || say "work dir kept: $W"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

case $SECS in
'' | *[!0-9]*) die "SKB_SECS must be whole seconds" ;;
esac
# iperf3 with -t below a second can spin forever: never hand it one.
[ "$SECS" -ge 1 ] || die "SKB_SECS must be at least 1"
[ "$(id -u)" -eq 0 ] || die "needs root (BPF)"
[ -x "$CONNREC" ] || die "no $CONNREC (run make)"
command -v iperf3 >/dev/null 2>&1 || die "needs iperf3 (run make deps)"
command -v bpftool >/dev/null 2>&1 || die "needs bpftool (run make deps)"

PORT=$("${PY:-python3}" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# --forceflush: to a file, iperf3 holds "Server listening" in its buffer until it exits.
iperf3 -s -B 127.0.0.1 -p "$PORT" --forceflush >"$W/server.log" 2>&1 &
SRV_PID=$!
# Ready when it listens (a probe client would count as a test and could run forever).
n=0
until grep -q 'Server listening' "$W/server.log" 2>/dev/null; do
	n=$((n + 1))
	[ "$n" -lt 100 ] || die "iperf3 server did not start: $(cat "$W/server.log")"
	sleep 0.1
done

# run NAME SECS IPERF-ARGS...: one transfer; prints the bits/s received and the CPU the two
# iperf3 processes used (percent of one core, iperf3's own host_total + remote_total).
run() {
	name=$1 t=$2
	shift 2
	# A bound on every run: a stuck transfer must not hold the shared lock.
	timeout $((t + 30)) iperf3 -c 127.0.0.1 -p "$PORT" -t "$t" -J "$@" >"$W/$name.json" 2>&1 ||
		die "iperf3 $*: $(tail -n 3 "$W/$name.json")"
	"${PY:-python3}" -c 'import json, sys
e = json.load(open(sys.argv[1]))["end"]
s = e.get("sum_received") or e["sum"]
bps = s["bits_per_second"] * (1 - s.get("lost_percent", 0) / 100)  # UDP: what arrived
c = e["cpu_utilization_percent"]
print(int(bps), round(c["host_total"] + c["remote_total"], 2))' "$W/$name.json"
}

rec_start() {
	"$CONNREC" record -d "$W/store" </dev/null >"$W/rec.out" 2>"$W/rec.err" &
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

# hook_stats: "runs ns" of the recorder's on_skb_ingress and on_skb_egress together, from
# the BPF statistics.
hook_stats() {
	ids=""
	for f in /proc/"$REC_PID"/fdinfo/*; do
		p=$(sed -n 's/^prog_id:[[:space:]]*\([0-9][0-9]*\)$/\1/p' "$f" 2>/dev/null || true)
		[ -n "$p" ] || continue # an fd closed meanwhile (set -e would end the script here)
		bpftool prog show id "$p" 2>/dev/null | grep -q 'name on_skb_\(ingress\|egress\)' &&
			ids="$ids $p"
	done
	[ -n "$ids" ] || die "no cgroup_skb program held by the recorder"
	for id in $ids; do
		bpftool prog show id "$id" |
			sed -n 's/.* run_time_ns \([0-9]*\) run_cnt \([0-9]*\).*/\2 \1/p'
	done | awk '{ r += $1; t += $2 } END { print r + 0, t + 0 }'
}

MODES="tcp tcp-mss udp"
args_of() {
	case $1 in
	tcp) echo "" ;;
	tcp-mss) echo "-M 1400" ;;          # small segments: more packets for the same bytes
	udp) echo "-u -b 0 -l 1400" ;;      # one skb per datagram: the most packets per byte
	esac
}

: >"$W/ratios"
# One recorder start per round (a start dumps every socket and process: seconds): each mode
# off, then each mode on, then each mode off again. The BPF statistics cost a clock read or
# two per program run, so they are on only for a separate short run per mode (STAT_SECS).
for r in $(seq 1 "$ROUNDS"); do
	for m in $MODES; do
		# shellcheck disable=SC2046
		run "off-$m-$r" "$SECS" $(args_of "$m") >"$W/off-$m"
	done
	rec_start
	for m in $MODES; do
		# shellcheck disable=SC2046
		run "on-$m-$r" "$SECS" $(args_of "$m") >"$W/on-$m"
		sysctl -q -w kernel.bpf_stats_enabled=1
		s0=$(hook_stats)
		# shellcheck disable=SC2046
		run "stat-$m-$r" "$STAT_SECS" $(args_of "$m") >/dev/null
		s1=$(hook_stats)
		sysctl -q -w kernel.bpf_stats_enabled="$STATS_OLD"
		echo "$s0 $s1" >"$W/stat-$m"
	done
	rec_stop
	for m in $MODES; do
		# shellcheck disable=SC2046
		offb=$(run "offb-$m-$r" "$SECS" $(args_of "$m"))
		echo "$m $r $(cat "$W/off-$m") $(cat "$W/on-$m") $offb $(cat "$W/stat-$m")" >>"$W/ratios"
		say "$m round $r: off $(cat "$W/off-$m") on $(cat "$W/on-$m") off $offb (bit/s, cpu%)"
	done
done

# Per mode: the ratios' median, min and max (throughput, and bits per CPU-second of iperf3);
# the hooks' runs per second and ns per run from the statistics runs.
# ratios: mode round off offcpu on oncpu offb offbcpu runs0 ns0 runs1 ns1
summary=$(awk -v st="$STAT_SECS" '
function sort_med(a, k,   i, j, x) {
	for (i = 2; i <= k; i++) for (j = i; j > 1 && a[j] < a[j - 1]; j--) {
		x = a[j]; a[j] = a[j - 1]; a[j - 1] = x }
	return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
}
{
	m = $1; k = ++n[m]
	tr[m, k] = $5 / (($3 + $7) / 2)
	ce[m, k] = ($5 / $6) / (($3 / $4 + $7 / $8) / 2)
	off[m] += ($3 + $7) / 2; on[m] += $5
	pk[m] += $11 - $9; t[m] += $12 - $10
}
END {
	split("tcp tcp-mss udp", order, " ")
	for (i = 1; i <= 3; i++) {
		m = order[i]
		if (!n[m]) continue
		for (k = 1; k <= n[m]; k++) { a[k] = tr[m, k]; b[k] = ce[m, k] }
		mt = sort_med(a, n[m]); mc = sort_med(b, n[m])
		printf "| %s | %.2f Gbit/s | %.2f Gbit/s | %.3f (%.3f-%.3f) | %.3f (%.3f-%.3f) | %.0f | %.1f |\n",
			m, off[m] / n[m] / 1e9, on[m] / n[m] / 1e9, mt, a[1], a[n[m]], mc, b[1], b[n[m]],
			pk[m] / n[m] / st, pk[m] ? t[m] / pk[m] : 0
	}
}' "$W/ratios")

section=$(cat <<EOF
<!-- skb_bench.sh begin -->
## Cost of the DNS hook on other packets (\`sh bench/skb_bench.sh\`)

iperf3 over loopback, ${SECS} s per run, ${ROUNDS} rounds (each: every mode off, every mode
on, every mode off again; one recorder start per round), $(nproc) cores, $DATE, commit
$COMMIT, load average before the run: $LOAD0. Ratio = on / mean(off before, off after),
median (min-max). CPU-normalised ratio: the same with bits per CPU-second of the two iperf3
processes (their own user + system time, which on loopback includes most of the softirq
work), less sensitive to what else the machine runs. Hook runs/s and ns/run: run_cnt and
run_time_ns of \`on_skb_ingress\` and \`on_skb_egress\` together (kernel BPF statistics,
which add their own clock reads) during a separate ${STAT_SECS} s run per mode with the recorder
on; every skb a socket sends or receives (data and ACKs) runs one of them once.

| iperf3 | off | on | ratio | CPU-normalised ratio | hook runs/s | hook ns/run |
|---|---|---|---|---|---|---|
$summary
<!-- skb_bench.sh end -->
EOF
)
printf '%s\n' "$section"
if [ -f "$RESULTS" ] && grep -q '<!-- skb_bench.sh begin -->' "$RESULTS"; then
	awk -v s="$section" '/<!-- skb_bench.sh begin -->/ { print s; skip = 1 }
		/<!-- skb_bench.sh end -->/ { skip = 0; next } !skip' "$RESULTS" >"$W/results.md"
	cp "$W/results.md" "$RESULTS"
else
	printf '\n%s\n' "$section" >>"$RESULTS"
fi
