#!/bin/sh
# SPDX-License-Identifier: MIT
# The physical line of the TCP storms, measured in one run: how much of a storm's CPU goes to
# observing TCP at all, how much to the packet hooks at the cgroup root that connrec needs for
# DNS and UDP bytes (issue 13), and how much is connrec's own work above both.
#
# Modes, alternated with storm-off runs (off M1 off M2 off ...; the order of the modes turns
# each round so none always runs first):
#   ctr   bench/tpcount: a per-CPU counter on raw_tp/inet_sock_set_state, nothing else
#   skb   tpcount --skb: the counter plus two cgroup_skb programs (ingress, egress) at the
#         cgroup v2 root that return "allow" at once: the dispatch floor of connrec's packet hooks
#   trk   tpcount --skb --track hash: the least a recorder that stores each endpoint whole can
#         do (a tracking entry per endpoint in a preallocated hash map as connrec's, one ring
#         record at its close), with the empty skb pair
#   trka  the same with the entries in an open-addressing array (no lock, no allocation)
#   rec   connrec record -d DIR with default options (a fresh DIR each time)
#   vs    a second connrec, LINE_VS=PATH (an A/B of two builds) and/or LINE_VS_ARGS="OPTIONS"
#         (an A/B of options, e.g. "--max-flows 65536"); left out when both are unset
# Each mode's figure is the CPU-cost ratio: the storm's CPU per connection with nothing
# attached (the mean of the off-runs just before and after) / the same with the mode on, plus
# the recorder's own CPU (schedstat of its threads, from ready until it went quiet). 1.00 is
# free; the issue's goal for connrec is 0.92.
#
#   sh bench/line.sh        # root; under the shared lock: flock /tmp/connrec-e2e.lock sh bench/line.sh
#
# Knobs: LINE_SECS (one storm run, default 2), LINE_ROUNDS (default 5), LINE_STORMS (default
# "full rst"), LINE_MODES (default "ctr skb trk rec"), LINE_VS, LINE_VS_ARGS, LINE_STATS (1:
# after the rounds, one more run per mode with kernel.bpf_stats_enabled=1, restored after, for
# the BPF time per connection; 0: none), BENCH_RESULTS (where its section goes; LINE_RESULTS=0
# only prints).
set -eu
cd "$(dirname "$0")/.."
TOP=$PWD
CONNREC=${CONNREC_BIN:-$TOP/connrec}
STORM=${STORM_BIN:-$TOP/${OUTPUT:-.output}/tools/storm}
TPCOUNT=${TPCOUNT_BIN:-$TOP/${OUTPUT:-.output}/tools/tpcount}
SECS=${LINE_SECS:-2}
ROUNDS=${LINE_ROUNDS:-5}
STORMS=${LINE_STORMS:-full rst}
RESULTS=${BENCH_RESULTS:-$TOP/bench/RESULTS.md}
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo '?')
DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
LOAD0=$(cut -d ' ' -f 1-3 /proc/loadavg)
W=""
PID=""
STATS=${LINE_STATS:-1}
STATS_ON=0
STATS_OLD=$(sysctl -n kernel.bpf_stats_enabled 2>/dev/null || echo 0)
MODES=${LINE_MODES:-ctr skb trk rec}
VS_ARGS=${LINE_VS_ARGS:-}
[ -n "${LINE_VS:-}$VS_ARGS" ] && MODES="$MODES vs"
VS=${LINE_VS:-$CONNREC}

say() { printf 'line: %s\n' "$*" >&2; }
die() {
	say "error: $*"
	exit 1
}
cleanup() {
	rc=$?
	set +e
	[ -n "$PID" ] && kill -INT "$PID" 2>/dev/null && wait "$PID"
	[ "$STATS_ON" = 1 ] && sysctl -q -w kernel.bpf_stats_enabled="$STATS_OLD"
	if [ "$rc" -eq 0 ] || [ -z "$W" ]; then
		[ -z "$W" ] || rm -rf "$W"
	else
		say "work dir kept: $W"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[ "$(id -u)" -eq 0 ] || die "needs root (BPF)"
for m in $MODES; do
	case $m in ctr | skb | trk | trka | rec | vs) ;; *) die "unknown mode $m (ctr skb trk trka rec)" ;; esac
done
for b in "$CONNREC" "$STORM" "$TPCOUNT" "$VS"; do
	[ -x "$b" ] || die "no $b (run make connrec tools)"
done

W=$(mktemp -d /tmp/connrec-line.XXXXXX)

jget() { tail -n 1 "$1" | tr ',{}' '\n\n\n' | sed -n "s/^\"$2\":\"\{0,1\}\([^\"]*\)\"\{0,1\}\$/\1/p"; }
calc() { awk "BEGIN { printf \"%.6g\n\", $1 }"; }

# cpu_ns PID: CPU time of every thread of PID so far (schedstat), in ns.
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f\n", s }'; }

# wait_line FILE WORD: until a started process ($PID) wrote WORD to FILE (30 s at most).
wait_line() {
	n=0
	until grep -qw "$2" "$1" 2>/dev/null; do
		kill -0 "$PID" 2>/dev/null || die "$(cat "$1")"
		n=$((n + 1))
		[ "$n" -lt 600 ] || die "not ready within 30 s: $1"
		sleep 0.05
	done
}

# quiet PID: wait until PID used under 2 ms of CPU in 200 ms (its backlog is done), 10 s at most.
quiet() {
	a=$(cpu_ns "$1")
	for _ in $(seq 50); do
		sleep 0.2
		b=$(cpu_ns "$1")
		[ $((b - a)) -lt 2000000 ] && break
		a=$b
	done
}

stop() {
	kill -INT "$PID"
	wait "$PID" || say "warning: $1 exited with status $?"
	PID=""
}

# prog_stats PID: "name run_cnt run_time_ns" of each BPF program PID holds (from its
# descriptors' fdinfo; the counts move only while kernel.bpf_stats_enabled is 1).
prog_stats() {
	for f in /proc/"$1"/fdinfo/*; do
		sed -n 's/^prog_id:[[:space:]]*\([0-9][0-9]*\)$/\1/p' "$f" 2>/dev/null
	done | sort -un | while read -r id; do
		bpftool prog show id "$id" 2>/dev/null | head -n 1 | awk '{
			for (i = 1; i < NF; i++) {
				if ($i == "name") n = $(i + 1)
				if ($i == "run_time_ns") t = $(i + 1)
				if ($i == "run_cnt") c = $(i + 1)
			}
			print n, c + 0, t + 0 }'
	done
}

# run MODE NAME STORM-ARGS...: one storm under MODE; appends to runs: name, mode, CPU ns per
# connection (the storm's, plus the attached process's), connections, seconds, that process's ns.
run() {
	mode=$1 name=$2
	shift 2
	extra=0
	case $mode in
	ctr | skb | trk | trka)
		case $mode in
		ctr) args="" ;;
		skb) args=--skb ;;
		trk) args="--skb --track hash" ;;
		trka) args="--skb --track array" ;;
		esac
		# shellcheck disable=SC2086
		"$TPCOUNT" $args >"$W/$name.out" 2>&1 &
		PID=$!
		wait_line "$W/$name.out" attached
		;;
	rec | vs)
		bin=$CONNREC args=""
		[ "$mode" = vs ] && bin=$VS args=$VS_ARGS
		# shellcheck disable=SC2086
		"$bin" record -d "$W/$name" $args </dev/null >"$W/$name.out" 2>&1 &
		PID=$!
		wait_line "$W/$name.out" ready
		;;
	esac
	[ -n "$PID" ] && c0=$(cpu_ns "$PID")
	[ -n "$PID" ] && [ "$STATS_ON" = 1 ] && prog_stats "$PID" >"$W/$name.ps0"
	"$STORM" "$@" >"$W/$name.storm" || die "storm $* failed: $(cat "$W/$name.storm")"
	[ -n "$PID" ] && [ "$STATS_ON" = 1 ] && prog_stats "$PID" >"$W/$name.ps1"
	if [ -n "$PID" ]; then
		case $mode in rec | vs | trk | trka) quiet "$PID" ;; esac
		extra=$(($(cpu_ns "$PID") - c0))
		stop "$mode"
		rm -rf "${W:?}/$name"
	fi
	made=$(jget "$W/$name.storm" made)
	cost=$(calc "($(jget "$W/$name.storm" cpu_s) * 1e9 + $extra) / $made")
	echo "$name $mode $cost $made $(jget "$W/$name.storm" elapsed_s) $extra" >>"$W/runs"
	if [ -f "$W/$name.ps1" ]; then
		# BPF ns per connection, all programs and the four costliest: "runs x ns per run".
		awk -v m="$made" -v s="${name%%-*}" -v mode="$mode" '
			NR == FNR { c0[$1] = $2; t0[$1] = $3; next }
			{ c = $2 - c0[$1]; t = $3 - t0[$1]; if (!c) next
			  tot += t; line[$1] = sprintf("`%s` %.1f × %.0f", $1, c / m, t / c); ns[$1] = t }
			END { printf "%s %s %.0f ", s, mode, tot / m
			  for (k = 0; k < 4; k++) { best = ""; for (p in ns) if (best == "" || ns[p] > ns[best]) best = p
			    if (best == "") break; printf "%s%s", k ? "; " : "", line[best]; delete ns[best] }
			  print "" }' "$W/$name.ps0" "$W/$name.ps1" >>"$W/stats"
	fi
	say "$name ($mode): $made connections, $(printf '%.0f' "$cost") ns CPU each"
}

: >"$W/runs"
: >"$W/ratios"
for s in $STORMS; do
	case $s in
	full) sargs="-d $SECS --spread 16" ;;
	rst) sargs="-d $SECS --rst" ;;
	*) die "unknown storm $s (full, rst)" ;;
	esac
	# shellcheck disable=SC2086
	run off "$s-warm" $sargs # fills the TIME_WAIT table to its steady state
	r=1
	while [ "$r" -le "$ROUNDS" ]; do
		# Turn the order: round r starts with the ((r-1) mod n)-th mode.
		order=$(echo "$MODES" | awk -v r="$r" '{ for (i = 0; i < NF; i++) printf "%s ", $((i + r - 1) % NF + 1) }')
		i=0
		# shellcheck disable=SC2086
		run off "$s-off$r-$i" $sargs
		for m in $order; do
			# shellcheck disable=SC2086
			run "$m" "$s-$m$r" $sargs
			i=$((i + 1))
			# shellcheck disable=SC2086
			run off "$s-off$r-$i" $sargs
			a=$(awk -v n="$s-off$r-$((i - 1))" '$1 == n { print $3 }' "$W/runs")
			b=$(awk -v n="$s-off$r-$i" '$1 == n { print $3 }' "$W/runs")
			on=$(awk -v n="$s-$m$r" '$1 == n { print $3 }' "$W/runs")
			echo "$s $m $(calc "($a + $b) / 2 / $on") $(calc "($a - $b) / (($a + $b) / 2)")" >>"$W/ratios"
		done
		r=$((r + 1))
	done
	# One more run per mode with the kernel's BPF statistics on: where the BPF time goes.
	if [ "$STATS" = 1 ]; then
		sysctl -q -w kernel.bpf_stats_enabled=1
		STATS_ON=1
		for m in $MODES; do
			# shellcheck disable=SC2086
			run "$m" "$s-stats-$m" $sargs
		done
		STATS_ON=0
		sysctl -q -w kernel.bpf_stats_enabled="$STATS_OLD"
	fi
done
LOAD1=$(cut -d ' ' -f 1-3 /proc/loadavg)

# summary STORM MODE: "median (min-max; runs ...)" of the CPU-cost ratios.
summary() {
	awk -v s="$1" -v m="$2" '$1 == s && $2 == m { print $3 }' "$W/ratios" | sort -g |
		awk '{ v[NR] = $1 } END { if (!NR) { print "n/a"; exit }
			med = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%.3f (%.3f-%.3f)", med, v[1], v[NR] }'
}
# off_ns STORM: median CPU ns per connection of the off-runs.
off_ns() { awk -v s="$1-off" 'index($1, s) == 1 { print $3 }' "$W/runs" | sort -g |
	awk '{ v[NR] = $1 } END { printf "%.0f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# own_ns STORM MODE: median CPU ns per connection of the recorder process itself.
own_ns() { awk -v s="$1" -v m="$2" '$2 == m && index($1, s "-") == 1 && $1 !~ /-stats-/ { print $6 / $4 }' "$W/runs" | sort -g |
	awk '{ v[NR] = $1 } END { printf "%.0f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# noisy: off-run pairs more than 10% apart, of all.
noisy=$(awk '{ d = $4 < 0 ? -$4 : $4; if (d > 0.10) n++ } END { printf "%d of %d", n, NR }' "$W/ratios")

{
	echo "<!-- bench/line.sh: begin (generated by \`sh bench/line.sh\`; edits here are overwritten) -->"
	echo "## The physical line of the TCP storms (\`sh bench/line.sh\`)"
	echo
	echo "Measured $DATE on $(uname -r), nproc $(nproc), commit $COMMIT; load average $LOAD0"
	echo "before, $LOAD1 after. CPU-cost ratio = storm CPU per connection with nothing attached"
	echo "(mean of the off-runs around the run) / with the mode on (plus the recorder's own CPU);"
	echo "median of $ROUNDS alternated rounds (smallest-largest), $SECS-s storms. Off-run pairs more"
	echo "than 10% apart: $noisy$(awk '{ d = $4 < 0 ? -$4 : $4; if (d > 0.10) n++ } END { if (n) printf " (too noisy to conclude from a few %%)" }' "$W/ratios")."
	echo
	printf '| mode |'
	for s in $STORMS; do printf ' %s |' "$s"; done
	echo
	printf '|---|'
	for s in $STORMS; do printf -- '---|'; done
	echo
	printf '| off: storm CPU ns per connection (median) |'
	for s in $STORMS; do printf ' %s |' "$(off_ns "$s")"; done
	echo
	for m in $MODES; do
		case $m in
		ctr) label="counter on \`raw_tp/inet_sock_set_state\` (\`tpcount\`)" ;;
		skb) label="counter + empty cgroup_skb ingress/egress at the root (\`tpcount --skb\`)" ;;
		trk) label="counter replaced by the least tracking (hash map), + the empty skb pair (\`tpcount --skb --track hash\`)" ;;
		trka) label="the same, entries in an open-addressing array (\`tpcount --skb --track array\`)" ;;
		rec) label="connrec ($("$CONNREC" --version 2>/dev/null | head -n 1))" ;;
		vs) label="connrec, \`$VS${VS_ARGS:+ record $VS_ARGS}\`" ;;
		esac
		printf '| %s |' "$label"
		for s in $STORMS; do printf ' %s |' "$(summary "$s" "$m")"; done
		echo
		case $m in
		rec | vs)
			printf '| of which the recorder process: ns CPU per connection (median) |'
			for s in $STORMS; do printf ' %s |' "$(own_ns "$s" "$m")"; done
			echo
			;;
		esac
	done
	if [ -s "$W/stats" ]; then
		echo
		echo "BPF time per connection, one more run per mode with \`kernel.bpf_stats_enabled=1\`"
		echo "(run_time_ns of the mode's programs / connections made; the statistics add some 50-60 ns"
		echo "to every program run, so an empty program reads about that much):"
		echo
		echo "| storm | mode | BPF ns per connection | costliest programs: runs per connection × ns per run |"
		echo "|---|---|---|---|"
		awk '{ s = $1; m = $2; t = $3; $1 = $2 = $3 = ""; sub(/^ */, ""); printf "| %s | %s | %s | %s |\n", s, m, t, $0 }' "$W/stats"
	fi
	echo
	echo "Storms: full = \`storm -d $SECS --spread 16\` (normal close), rst = \`storm -d $SECS --rst\`."
	echo "<!-- bench/line.sh: end -->"
} >"$W/section.md"
cat "$W/section.md"
[ "${LINE_RESULTS:-1}" = 0 ] && exit 0
if grep -q '^<!-- bench/line.sh: begin' "$RESULTS"; then
	awk -v f="$W/section.md" '
		/^<!-- bench\/line.sh: begin/ { while ((getline l < f) > 0) print l; skip = 1; next }
		/^<!-- bench\/line.sh: end/ { skip = 0; next }
		!skip' "$RESULTS" >"$W/results.new"
else
	{ cat "$RESULTS"; echo; cat "$W/section.md"; } >"$W/results.new"
fi
cp "$W/results.new" "$RESULTS"
say "wrote $RESULTS"
