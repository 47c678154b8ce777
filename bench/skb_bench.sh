#!/bin/sh
# SPDX-License-Identifier: MIT
# What the cgroup_skb hooks (DNS capture, UDP bytes) cost a bulk transfer over loopback, as
# the CPU time the sending thread spends per send call (bench/skb_cost: a fixed amount sent
# from one pinned CPU to a receiver pinned to the other; over loopback the receive path,
# ingress hook included, runs in the sender's softirq). Throughput of a CPU-bound transfer is
# the inverse of that time, so ratio = time without programs / time with them, per round.
# Unlike throughput, a thread's own CPU time per datagram barely moves when others load the
# machine. Modes, alternated in a rotating order within every round:
#   off    no program attached
#   null   bench/skb_null: a cgroup_skb ingress and egress program that return 1 at once,
#          attached at the cgroup root through bpf_links: the kernel's dispatch alone, the
#          floor of any implementation that hooks there
#   rec    a connrec recorder
# SKB_MODES may add null-legacy (the same, attached by BPF_PROG_ATTACH with
# BPF_F_ALLOW_MULTI), null-in and null-out (one of the two programs), null-tp (null plus a
# syscall tracepoint program that returns at once, as connrec has), and recb (a second
# recorder, CONNREC_B: another build to compare in the same run).
#
#   sh bench/skb_bench.sh        # root; make connrec tools first; writes its RESULTS.md section
#
# Knobs: SKB_ROUNDS (default 13), SKB_LOADS (MODE:SIZE:COUNT for skb_cost, space-separated),
# SKB_MODES (default "off null null-tp rec"), SKB_LOCK (a lock file that flock(1) takes for one
# round at a time, so that a long run shares the machine in short holds; do not also run the
# script under that lock), BENCH_RESULTS (where to write; "-" only prints), SKB_SAMPLES (a
# file to keep the raw samples in: round mode load ns_median ns_mean received clean).
set -eu
cd "$(dirname "$0")/.."
TOP=$PWD
OUT=${OUTPUT:-.output}
CONNREC=${CONNREC_BIN:-$TOP/connrec}
CONNREC_B=${CONNREC_B:-}
COST=$TOP/$OUT/tools/skb_cost
NULL=$TOP/$OUT/tools/skb_null
ROUNDS=${SKB_ROUNDS:-13}
LOADS=${SKB_LOADS:-udp:1400:80000 udp-noaddr:1400:80000 udp:8192:70000 udp:32768:60000 \
gso:32200:60000 tcp:65536:10000}
MODES=${SKB_MODES:-off null null-tp rec}
LOCK=${SKB_LOCK:-}
RESULTS=${BENCH_RESULTS:-$TOP/bench/RESULTS.md}
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo '?')
DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
# `skb_bench.sh --round R DIR` runs one round into DIR/samples: how SKB_LOCK holds the lock
# through flock(1) for exactly one round.
ONE_ROUND=""
if [ "${1:-}" = --round ] && [ $# -eq 3 ]; then
	ONE_ROUND=$2 W=$3
else
	W=$(mktemp -d /tmp/connrec-skbbench.XXXXXX)
fi
HOLDER_PID=""
LOAD0=$(cut -d ' ' -f 1-3 /proc/loadavg)

say() { printf 'skb_bench: %s\n' "$*" >&2; }
die() {
	say "error: $*"
	exit 1
}
holder_stop() {
	[ -n "$HOLDER_PID" ] || return 0
	kill -INT "$HOLDER_PID" 2>/dev/null || say "warning: $1 had exited: $(cat "$W/holder.err")"
	wait "$HOLDER_PID" || say "warning: $1 exit status $?"
	HOLDER_PID=""
}
cleanup() {
	rc=$?
	[ "$rc" -eq 0 ] || say "exit status $rc"
	set +e
	holder_stop "program holder"
	if [ -z "$ONE_ROUND" ]; then
		if [ "$rc" -eq 0 ]; then rm -rf "$W"; else say "work dir kept: $W"; fi
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'say "got SIGINT"; exit 130' INT
trap 'say "got SIGTERM"; exit 143' TERM

case $ROUNDS in '' | *[!0-9]* | 0) die "SKB_ROUNDS must be a whole number, at least 1" ;; esac
[ "$(id -u)" -eq 0 ] || die "needs root (BPF)"
[ "$(nproc)" -ge 2 ] || die "needs 2 CPUs (sender and receiver each pinned to one)"
for f in "$CONNREC" "$COST" "$NULL"; do
	[ -x "$f" ] || die "no $f (run make connrec tools)"
done
case " $MODES " in *" recb "*) [ -x "$CONNREC_B" ] || die "mode recb needs CONNREC_B" ;; esac
command -v bpftool >/dev/null 2>&1 || die "needs bpftool (run make deps)"
ROOT=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
[ -n "$ROOT" ] || die "no cgroup v2 mount"
# Programs that run for our sockets: those attached at our cgroup and its ancestors.
MYCG=$ROOT$(sed -n 's/^0:://p' /proc/self/cgroup)

# skb_programs: how many cgroup_skb programs run for this script's sockets now (ours and
# anyone else's: a sample taken while another recorder ran is left out).
skb_programs() {
	bpftool cgroup show "$MYCG" effective 2>/dev/null |
		grep -c 'cgroup_inet_\(ingress\|egress\)' || true
}

# holder_start MODE: attach what the mode measures, wait until it is in place.
holder_start() {
	case $1 in
	off) return 0 ;;
	null) "$NULL" >"$W/holder.out" 2>"$W/holder.err" & ;;
	null-legacy) "$NULL" --legacy >"$W/holder.out" 2>"$W/holder.err" & ;;
	null-in) "$NULL" --ingress-only >"$W/holder.out" 2>"$W/holder.err" & ;;
	null-out) "$NULL" --egress-only >"$W/holder.out" 2>"$W/holder.err" & ;;
	null-tp) "$NULL" --syscall-tp >"$W/holder.out" 2>"$W/holder.err" & ;;
	rec) "$CONNREC" record -d "$W/store" </dev/null >"$W/holder.out" 2>"$W/holder.err" & ;;
	recb) "$CONNREC_B" record -d "$W/store" </dev/null >"$W/holder.out" 2>"$W/holder.err" & ;;
	*) die "unknown mode $1 (off, null, null-legacy, null-in, null-out, null-tp, rec, recb)" ;;
	esac
	HOLDER_PID=$!
	n=0
	until grep -qw 'attached\|ready' "$W/holder.out" "$W/holder.err" 2>/dev/null; do
		kill -0 "$HOLDER_PID" 2>/dev/null || die "$1 exited: $(cat "$W/holder.err")"
		n=$((n + 1))
		[ "$n" -lt 1200 ] || die "$1 not ready within 60 s"
		sleep 0.05
	done
	sleep 0.5 # a recorder's start-up dump settles
}

expected_programs() {
	case $1 in
	off) echo 0 ;;
	null-in | null-out) echo 1 ;;
	*) echo 2 ;;
	esac
}

# One round: every mode, in an order that rotates from round to round, every load under
# each. samples: round mode load ns_per_send(median batch) ns_per_send(mean) received clean
round() {
	r=$1
	# shellcheck disable=SC2086
	set -- $MODES
	k=$(((r - 1) % $#))
	while [ "$k" -gt 0 ]; do
		m=$1
		shift
		set -- "$@" "$m"
		k=$((k - 1))
	done
	for m in "$@"; do
		holder_start "$m"
		for l in $LOADS; do
			# shellcheck disable=SC2046
			set -- $(echo "$l" | tr ':' ' ')
			before=$(skb_programs)
			line=$(timeout 90 "$COST" "$1" "$2" "$3" 0 1) || die "skb_cost $l failed"
			after=$(skb_programs)
			want=$(expected_programs "$m")
			clean=1
			[ "$before" = "$want" ] && [ "$after" = "$want" ] || clean=0
			# skb_cost: mode size count sender_mean sender_p50 sender_p10 receiver_mean
			# receiver_p50 received; TCP's hooks run on both CPUs (the receiver's ACKs)
			echo "$line" | awk -v r="$r" -v m="$m" -v l="$l" -v c="$clean" '{
				med = $5; mean = $4; if ($1 == "tcp") { med += $8; mean += $7 }
				print r, m, l, med, mean, $9, c }' >>"$W/samples"
			[ "$clean" = 1 ] ||
				say "round $r $m $l: $before/$after cgroup_skb programs, want $want: left out"
		done
		holder_stop "$m"
		rm -rf "$W/store"
	done
}

if [ -n "$ONE_ROUND" ]; then
	round "$ONE_ROUND"
	exit 0
fi
: >"$W/samples"
for r in $(seq 1 "$ROUNDS"); do
	if [ -n "$LOCK" ]; then
		flock "$LOCK" sh "$0" --round "$r" "$W" || die "round $r failed"
	else
		round "$r"
	fi
	say "round $r/$ROUNDS done (load $(cut -d ' ' -f 1-3 /proc/loadavg))"
done
LOAD1=$(cut -d ' ' -f 1-3 /proc/loadavg)

# Per load and mode: the median ns per send call, and per round the ratio
# off / mode (what the mode leaves of a CPU-bound transfer's throughput): median (min-max).
summary=$(awk -v modes="$MODES" -v loads="$LOADS" '
function med(a, k,   i, j, x) {
	for (i = 2; i <= k; i++) for (j = i; j > 1 && a[j] < a[j - 1]; j--) {
		x = a[j]; a[j] = a[j - 1]; a[j - 1] = x }
	return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
}
$7 == 1 { ns[$1, $2, $3] = $4; mean[$1, $2, $3] = $5; got[$1, $2, $3] = $6; if ($1 > R) R = $1 }
END {
	nm = split(modes, M, " "); nl = split(loads, L, " ")
	for (i = 1; i <= nl; i++) {
		l = L[i]; split(l, part, ":")
		what = part[1] == "tcp" ? "ns per write, both CPUs" : "ns per send"
		for (j = 1; j <= nm; j++) {
			m = M[j]; k = 0; q = 0; g = 0
			for (r = 1; r <= R; r++) if ((r, m, l) in ns) { a[++q] = ns[r, m, l]; g += got[r, m, l] }
			if (!q) continue
			mns = med(a, q)
			for (r = 1; r <= R; r++)
				if ((r, m, l) in ns && (r, "off", l) in ns) {
					b[++k] = ns[r, "off", l] / ns[r, m, l]
					c[k] = mean[r, "off", l] / mean[r, m, l]
				}
			if (m == "off" || !k) rt = rm = "-"
			else {
				x = med(b, k); rt = sprintf("**%.3f** (%.3f-%.3f)", x, b[1], b[k])
				x = med(c, k); rm = sprintf("%.3f (%.3f-%.3f)", x, c[1], c[k])
			}
			printf "| %s | %s | %.0f %s | %s | %s | %d | %.2f |\n", l, m, mns, what, rt, rm, q, g / q
		}
	}
}' "$W/samples")

section=$(cat <<EOF
<!-- skb_bench.sh begin -->
## Cost of the DNS hook on other packets (\`sh bench/skb_bench.sh\`)

\`SKB_ROUNDS=$ROUNDS SKB_MODES="$MODES" sh bench/skb_bench.sh\`, $(nproc) cores, $DATE,
commit $COMMIT, load average before $LOAD0, after $LOAD1.

bench/skb_cost sends a fixed amount over loopback from a thread pinned to CPU 0 to one pinned
to CPU 1 and reads the sender's task-clock (its CPU time, including the softirq receive path
that loopback runs on the sender's core; for TCP the receiver's time is added, as its ACKs run
the hooks on its CPU). Load = skb_cost MODE:SIZE:COUNT. Cost: the median over the run's
batches (250 sends; TCP 25) of the time per send call, median over the rounds. Ratio = off /
mode in the same round (what the mode leaves of a CPU-bound transfer's throughput), median
(min-max) over the rounds; the whole-run ratio uses each run's mean instead of its median
batch. Modes alternate in a rotating order. off: no program; null: two cgroup_skb programs
that return 1 at once (bench/skb_null, at the cgroup root: the kernel's dispatch alone);
null-tp: the same plus a syscalls/sys_exit_connect tracepoint program that returns at once
(connrec has three such: every syscall then takes the tracing path); rec: connrec record.
n: rounds kept (a sample is left out when a cgroup_skb program of someone else ran for the
bench's sockets); got: share of the bytes the receiver took (UDP drops after the hooks ran).

| load | mode | cost | ratio off/mode | whole-run ratio | n | got |
|---|---|---|---|---|---|---|
$summary
<!-- skb_bench.sh end -->
EOF
)
printf '%s\n' "$section"
[ -z "${SKB_SAMPLES:-}" ] || cp "$W/samples" "$SKB_SAMPLES"
[ "$RESULTS" = - ] && exit 0
if [ -f "$RESULTS" ] && grep -q '<!-- skb_bench.sh begin -->' "$RESULTS"; then
	awk -v s="$section" '/<!-- skb_bench.sh begin -->/ { print s; skip = 1 }
		/<!-- skb_bench.sh end -->/ { skip = 0; next } !skip' "$RESULTS" >"$W/results.md"
	cp "$W/results.md" "$RESULTS"
else
	printf '\n%s\n' "$section" >>"$RESULTS"
fi
