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
# Knobs: SKB_SECS (one iperf3 run, whole seconds, default 5), SKB_ROUNDS (default 5), BENCH_RESULTS.
set -eu
cd "$(dirname "$0")/.."
TOP=$PWD
CONNREC=${CONNREC_BIN:-$TOP/connrec}
SECS=${SKB_SECS:-5}
ROUNDS=${SKB_ROUNDS:-5}
RESULTS=${BENCH_RESULTS:-$TOP/bench/RESULTS.md}
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo '?')
DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
W=$(mktemp -d /tmp/connrec-skbbench.XXXXXX)
REC_PID="" SRV_PID=""
STATS_OLD=$(sysctl -n kernel.bpf_stats_enabled 2>/dev/null || echo 0)

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

# run NAME IPERF-ARGS...: one transfer; prints bits/s received.
run() {
	name=$1
	shift
	# A bound on every run: a stuck transfer must not hold the shared lock.
	timeout $((SECS + 30)) iperf3 -c 127.0.0.1 -p "$PORT" -t "$SECS" -J "$@" >"$W/$name.json" 2>&1 ||
		die "iperf3 $*: $(tail -n 3 "$W/$name.json")"
	"${PY:-python3}" -c 'import json, sys
e = json.load(open(sys.argv[1]))["end"]
print(int((e.get("sum_received") or e["sum"])["bits_per_second"]))' "$W/$name.json"
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
		p=$(sed -n 's/^prog_id:[[:space:]]*\([0-9][0-9]*\)$/\1/p' "$f" 2>/dev/null)
		[ -n "$p" ] || continue
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
for r in $(seq 1 "$ROUNDS"); do
	for m in $MODES; do
		# shellcheck disable=SC2046
		off=$(run "off-$m-$r" $(args_of "$m"))
		rec_start
		sysctl -q -w kernel.bpf_stats_enabled=1
		s0=$(hook_stats)
		# shellcheck disable=SC2046
		on=$(run "on-$m-$r" $(args_of "$m"))
		s1=$(hook_stats)
		sysctl -q -w kernel.bpf_stats_enabled="$STATS_OLD"
		rec_stop
		# shellcheck disable=SC2046
		offb=$(run "offb-$m-$r" $(args_of "$m"))
		echo "$m $r $off $on $offb $s0 $s1" >>"$W/ratios"
		say "$m round $r: off $off on $on off $offb bit/s"
	done
done

# Per mode: the ratios' median, min and max; the hook's ns per packet and packets per second.
summary=$(awk '{
	ratio = $4 / (($3 + $5) / 2)
	runs = $8 - $6; ns = $9 - $7
	m = $1; n[m]++; r[m, n[m]] = ratio; off[m] += ($3 + $5) / 2; on[m] += $4
	pk[m] += runs; t[m] += ns
}
END {
	split("tcp tcp-mss udp", order, " ")
	for (i = 1; i <= 3; i++) {
		m = order[i]
		if (!n[m]) continue
		# insertion sort of the ratios for the median
		for (a = 2; a <= n[m]; a++) for (b = a; b > 1 && r[m, b] < r[m, b - 1]; b--) {
			x = r[m, b]; r[m, b] = r[m, b - 1]; r[m, b - 1] = x }
		med = n[m] % 2 ? r[m, (n[m] + 1) / 2] : (r[m, n[m] / 2] + r[m, n[m] / 2 + 1]) / 2
		printf "| %s | %.2f Gbit/s | %.2f Gbit/s | %.3f (%.3f-%.3f) | %.0f | %.1f |\n", m,
			off[m] / n[m] / 1e9, on[m] / n[m] / 1e9, med, r[m, 1], r[m, n[m]],
			pk[m] / n[m] / '"$SECS"', pk[m] ? t[m] / pk[m] : 0
	}
}' "$W/ratios")

section=$(cat <<EOF
<!-- skb_bench.sh begin -->
## Cost of the DNS hook on other packets (\`sh bench/skb_bench.sh\`)

iperf3 over loopback, ${SECS} s per run, ${ROUNDS} rounds alternating off / on / off, $(nproc)
cores, $DATE, commit $COMMIT. Ratio = on / mean(off before, off after), median (min-max).
Hook ns/run: run_time_ns / run_cnt of \`on_skb_ingress\` and \`on_skb_egress\` together
(kernel BPF statistics) during the on runs; hook runs/s counts every skb sent or delivered by a
socket (data and ACKs, each once out and once in).

| iperf3 | off | on | ratio | hook runs/s | hook ns/run |
|---|---|---|---|---|---|
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
