#!/bin/sh
# SPDX-License-Identifier: MIT
# `make bench`: what recording costs, measured side by side in one invocation.
#
# Every figure comes from runs of bench/storm (a connection-storm generator that prints exact
# counts) alternated with and without a recorder, so background load and the kernel's
# TIME_WAIT population affect both sides alike. Writes its section of bench/RESULTS.md
# (between the "bench/run.sh" markers; other sections are kept) and prints the same table.
#
# Knobs (environment): BENCH_SECS (length of a storm run, default 3), BENCH_ROUNDS (off/on
# rounds for each storm, default 5), BENCH_STEADY_SECS (default 10), BENCH_RESULTS (output file),
# BENCH_KEEP=1 (keep the work dir), BENCH_TCPLIFE=0 (leave tcplife out). Needs root. Takes
# about 8 minutes with the defaults; BENCH_SECS=2 BENCH_STEADY_SECS=5 BENCH_TCPLIFE=0 fits a
# 5-minute hold of the shared lock.
set -eu
cd "$(dirname "$0")/.."
TOP=$PWD
CONNREC=${CONNREC_BIN:-$TOP/connrec}
# Which source the recorder was built from, for RESULTS.md (the tree's HEAD unless told).
[ -n "${CONNREC_BIN:-}" ] || CONNREC_COMMIT=${CONNREC_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || true)}
STORM=${STORM_BIN:-$TOP/${OUTPUT:-.output}/tools/storm}
TPCOUNT=${TPCOUNT_BIN:-$TOP/${OUTPUT:-.output}/tools/tpcount}
SECS=${BENCH_SECS:-3}
ROUNDS=${BENCH_ROUNDS:-5}
STEADY_SECS=${BENCH_STEADY_SECS:-10}
RESULTS=${BENCH_RESULTS:-$TOP/bench/RESULTS.md}
NPROC=$(nproc)
HZ=$(getconf CLK_TCK)
DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
W=$(mktemp -d /tmp/connrec-bench.XXXXXX)
LOAD0=$(cut -d ' ' -f 1-3 /proc/loadavg)
STATS0=$(sysctl -n kernel.bpf_stats_enabled 2>/dev/null || echo '?')
REC_PID=""
TL_PID=""
CTR_PID=""
STATS_OLD=""

say() { printf 'bench: %s\n' "$*" >&2; }
die() {
	say "error: $*"
	exit 1
}

cleanup() {
	rc=$?
	set +e
	for p in $REC_PID $TL_PID $CTR_PID; do
		kill -INT "$p" 2>/dev/null || continue
		wait_gone "$p" 10 || kill -KILL "$p" 2>/dev/null
		wait "$p"
	done
	[ -n "$STATS_OLD" ] && sysctl -q -w kernel.bpf_stats_enabled="$STATS_OLD"
	if [ "${BENCH_KEEP:-0}" = 1 ] || [ "$rc" -ne 0 ]; then
		say "work dir kept: $W"
	else
		rm -rf "$W"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[ "$(id -u)" -eq 0 ] || die "needs root (BPF)"
[ -x "$CONNREC" ] || die "no $CONNREC (run make)"
[ -x "$STORM" ] || die "no $STORM (run make tools)"
[ -x "$TPCOUNT" ] || die "no $TPCOUNT (run make tools)"
for c in sqlite3 zstd bpftool awk; do
	command -v "$c" >/dev/null 2>&1 || die "needs $c (run make deps)"
done
if ! command -v tcplife >/dev/null 2>&1 && [ ! -x /usr/sbin/tcplife ]; then
	say "installing libbpf-tools for tcplife"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		libbpf-tools >"$W/apt.log" 2>&1 ||
		{ apt-get update -q >>"$W/apt.log" 2>&1 &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
				--no-install-recommends libbpf-tools >>"$W/apt.log" 2>&1; } ||
		say "could not install libbpf-tools; tcplife rows will be n/a"
fi
TCPLIFE=$(command -v tcplife 2>/dev/null || echo /usr/sbin/tcplife)

# --- small helpers ---------------------------------------------------------------------------

# jget FILE KEY: a value from the last JSON line of FILE (flat objects only).
jget() {
	tail -n 1 "$1" | tr ',{}' '\n\n\n' | sed -n "s/^\"$2\":\"\{0,1\}\([^\"]*\)\"\{0,1\}\$/\1/p"
}

# calc EXPR: floating-point arithmetic.
calc() { awk "BEGIN { printf \"%.6g\n\", $1 }"; }
fmt() { awk -v v="$1" -v d="${2:-2}" 'BEGIN { printf "%.*f\n", d, v }'; }

# ticks PID: user + system CPU of a process so far, in clock ticks (all its threads).
ticks() {
	sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# wait_gone PID SECONDS: poll until PID is gone (or a zombie); 1 at the deadline.
wait_gone() {
	n=0
	while kill -0 "$1" 2>/dev/null; do
		case "$(cat "/proc/$1/stat" 2>/dev/null)" in *") Z "*) return 0 ;; esac
		n=$((n + 1))
		[ "$n" -lt $(($2 * 20)) ] || return 1
		sleep 0.05
	done
}

# rec_start DIR [ARGS...]: start the recorder, return once it printed its "ready" line.
rec_start() {
	dir=$1
	shift
	# shellcheck disable=SC2086
	"$CONNREC" record -d "$dir" "$@" ${REC_ARGS:-} </dev/null >"$dir.out" 2>"$dir.err" &
	REC_PID=$!
	n=0
	until grep -qw ready "$dir.err" 2>/dev/null; do
		if ! kill -0 "$REC_PID" 2>/dev/null; then
			wait "$REC_PID" || true
			REC_PID=""
			cat "$dir.err" >&2
			die "the recorder exited before it was ready"
		fi
		n=$((n + 1))
		[ "$n" -lt 1200 ] || die "the recorder was not ready within 60 s"
		sleep 0.05
	done
}

# prog_ids PID: ids of the BPF programs a process holds (from its descriptors' fdinfo; bpftool
# here cannot list owning pids).
prog_ids() {
	for f in /proc/"$1"/fdinfo/*; do
		sed -n 's/^prog_id:[[:space:]]*\([0-9][0-9]*\)$/\1/p' "$f" 2>/dev/null
	done | sort -un
}

# second_chances ERRFILE: "skipped late" from the recorder's stop line: TCP state changes the
# kernel skipped (on_tcp_state was already running on that CPU) and the closes among them
# taken from tcp_destroy_sock instead. Not losses; "0 0" when it printed none.
second_chances() {
	sed -n 's/.*skipped \([0-9]*\) TCP state changes.*; \([0-9]*\) closes among them.*/\1 \2/p' \
		"$1" | tail -n 1 | grep . || echo "0 0"
}

# rec_stop: SIGINT, wait for a clean exit.
# children_cpu FILE: user + system seconds of the shell's waited-for children, from `times`.
children_cpu() {
	awk 'NR == 2 { for (i = 1; i <= NF; i++) { split($i, a, "m"); s += a[1] * 60 + a[2] } }
		END { printf "%.3f\n", s }' "$1"
}

# Sets STOP_CPU: the recorder's CPU over its whole life (start-up and clean stop included), from
# the shell's children times before the stop and after the recorder was reaped (every other
# child was reaped before; the shell may reap it while polling, so its own wait cannot tell).
rec_stop() {
	times >"$W/times.before"
	kill -INT "$REC_PID"
	if ! wait_gone "$REC_PID" 60; then
		kill -KILL "$REC_PID"
		wait "$REC_PID" || true
		REC_PID=""
		die "the recorder did not exit within 60 s of SIGINT (killed; its store is in $W)"
	fi
	st=0
	wait "$REC_PID" || st=$?
	REC_PID=""
	times >"$W/times.after"
	STOP_CPU=$(calc "$(children_cpu "$W/times.after") - $(children_cpu "$W/times.before")")
	[ "$st" -eq 0 ] || say "warning: the recorder exited with status $st"
}

# store_sum DIR SQL: SQL (one number) summed over every segment of DIR; sealed .zst segments
# are decompressed to a scratch file first.
store_sum() {
	total=0
	for f in "$1"/seg-*.db "$1"/seg-*.db.zst; do
		[ -f "$f" ] || continue
		case "$f" in
		*.zst)
			zstd -q -d -f -o "$W/unz.db" "$f" || continue
			db=$W/unz.db
			;;
		*) db=$f ;;
		esac
		v=$(sqlite3 -readonly -batch -noheader -cmd '.timeout 5000' "$db" "$2" 2>/dev/null) ||
			v=0
		total=$((total + ${v:-0}))
	done
	echo "$total"
}

# Flows of one storm in the store: TCP out to PORT plus in on PORT; UDP out to PORT. Rows
# carried over into a newer segment (flags & 2) are the same flow again, so not counted.
flows_sql() { # proto port
	if [ "$1" = tcp ]; then
		echo "SELECT count(*) FROM conn WHERE proto = 6 AND flags & 2 = 0 AND
			((dir = 0 AND rport = $2) OR (dir = 1 AND lport = $2))"
	else
		echo "SELECT count(*) FROM conn WHERE proto = 17 AND flags & 2 = 0 AND
			dir = 0 AND rport = $2"
	fi
}
# Flows lost: a flow's only ring record dropped, or its row dropped while the store was not
# writable. (A flow whose end alone was lost, or that a full map left without owner, is
# stored, so it is not counted here: that would count it twice.)
LOST_SQL="SELECT coalesce(sum(count), 0) FROM gap WHERE kind = 1 AND
	(reason LIKE '%: flows lost%' OR reason LIKE 'store not writable%')"
# Ends lost: rows stored as open whose close record was dropped.
LOST_END_SQL="SELECT coalesce(sum(count), 0) FROM gap WHERE kind = 1 AND
	reason LIKE 'ring buffer full: ends%'"

# settle DIR PROTO PORT EXPECTED: poll until recorded + lost reaches EXPECTED; give up after
# 60 s, or after 3 s without progress. Prints "recorded lost".
settle() {
	last=-1
	still=0
	n=0
	while :; do
		rec=$(store_sum "$1" "$(flows_sql "$2" "$3")")
		lost=$(store_sum "$1" "$LOST_SQL")
		[ $((rec + lost)) -lt "$4" ] || break
		if [ $((rec + lost)) -eq "$last" ]; then still=$((still + 1)); else still=0; fi
		last=$((rec + lost))
		n=$((n + 1))
		[ "$still" -lt 15 ] && [ "$n" -lt 300 ] || break
		sleep 0.2
	done
	echo "$rec $lost"
}

# storm OUT ARGS...: run the generator, its JSON lines to OUT.
storm() {
	out=$1
	shift
	"$STORM" "$@" >"$out" || die "storm $* failed: $(cat "$out")"
	[ "$(jget "$out" failed)" = 0 ] || say "warning: storm $*: $(jget "$out" failed) failed ($(jget "$out" error))"
}

rate_of() { calc "$(jget "$1" made) / $(jget "$1" elapsed_s)"; }

# cost_of STORM-FILE [EXTRA-CPU-S]: CPU seconds per flow made (the storm's own user + sys,
# which includes the BPF programs and softirq work done in its context, plus EXTRA, e.g. the
# recorder's CPU).
cost_of() { calc "($(jget "$1" cpu_s) + ${2:-0}) / $(jget "$1" made)"; }
rec_cpu() { awk -v n="$1" '$1 == n { print $7 }' "$W/rec.tsv"; }
tl_cpu() { awk -v n="$1" '$1 == n { print $5 }' "$W/tl.tsv"; }

# ratios NAME OFF-A ON OFF-B ON-EXTRA-CPU: append the wall-clock throughput ratio to
# NAME.txt and the CPU-cost ratio to NAME.cpu.txt. The CPU-cost ratio (off cost / on cost,
# the on cost including the recorder's own CPU) is what the throughput ratio would be on
# an otherwise idle, CPU-bound machine; other load on the host barely moves it.
ratios() {
	base=$(calc "($(rate_of "$W/$2.storm") + $(rate_of "$W/$4.storm")) / 2")
	calc "$(rate_of "$W/$3.storm") / $base" >>"$W/$1.txt"
	# How far apart the two off-runs are: the host's own noise over this comparison.
	calc "($(rate_of "$W/$2.storm") - $(rate_of "$W/$4.storm")) / $base" |
		awk -v n="$1" '{ printf "%s %.4f\n", n, $1 < 0 ? -$1 : $1 }' >>"$W/noise.txt"
	base=$(calc "($(cost_of "$W/$2.storm") + $(cost_of "$W/$4.storm")) / 2")
	calc "$base / $(cost_of "$W/$3.storm" "$5")" >>"$W/$1.cpu.txt"
}

# tcplife needs tracefs for its tracepoint; mount it in a private mount namespace so the
# host (and the tests that check a fresh machine without tracefs) are left as they were.
tcplife_start() {
	unshare -m --propagation private sh -c \
		'mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing
		exec "$0"' "$TCPLIFE" >"$1" 2>"$1.err" &
	TL_PID=$!
	n=0
	# Attached once it holds a perf event or BPF link descriptor for the tracepoint.
	until ls -l "/proc/$TL_PID/fd" 2>/dev/null | grep -q -e 'perf_event' -e 'bpf_link'; do
		kill -0 "$TL_PID" 2>/dev/null || {
			TL_PID=""
			say "tcplife failed: $(cat "$1.err")"
			return 1
		}
		n=$((n + 1))
		[ "$n" -lt 600 ] || die "tcplife did not attach within 30 s"
		sleep 0.05
	done
}

tcplife_stop() {
	kill -INT "$TL_PID"
	wait_gone "$TL_PID" 30 || kill -KILL "$TL_PID"
	wait "$TL_PID" || true
	TL_PID=""
}

median() { # numbers on stdin
	sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a";
		else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
range() { sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (NR) printf "%s–%s\n", lo, hi }'; }

# --- one recorded run --------------------------------------------------------------------------
# rec_run NAME STORM-ARGS...: the storm under a fresh recorder on $W/NAME. Appends a line to
# $W/rec.tsv: name made rate recorded lost expected cpu_s elapsed_s flows_in_store db_bytes
# no_end (rows of the storm whose end never arrived and was not counted lost: TCP only; UDP
# ends come at release) skipped_state_changes late_closes cpu_with_stop_s (from ready until the
# recorder exited: its clean stop included, with its last checkpoint: the rows since the one before, hashed).
rec_run() {
	name=$1
	shift
	dir=$W/$name
	rec_start "$dir"
	t0=$(ticks "$REC_PID")
	storm "$W/$name.storm" "$@"
	proto=$(jget "$W/$name.storm" mode)
	port=$(jget "$W/$name.storm" port)
	made=$(jget "$W/$name.storm" made)
	if [ "$proto" = tcp ]; then
		expected=$((made + $(jget "$W/$name.storm" accepted)))
	else
		expected=$(jget "$W/$name.storm" sent)
	fi
	set -- $(settle "$dir" "$proto" "$port" "$expected")
	t1=$(ticks "$REC_PID")
	rec_stop
	t2=$(calc "$STOP_CPU * $HZ")
	chances=$(second_chances "$dir.err")
	recorded=$(store_sum "$dir" "$(flows_sql "$proto" "$port")")
	lost=$(store_sum "$dir" "$LOST_SQL")
	# Which gaps the loss was (full ring, full map, closes no hook saw...): one line each.
	if [ "$lost" != 0 ]; then
		for f in "$dir"/seg-*.db; do
			sqlite3 -readonly -batch -noheader -cmd '.timeout 5000' "$f" \
				"SELECT sum(count) || ' ' || reason FROM gap WHERE kind = 1 GROUP BY reason" \
				2>/dev/null
		done | sed "s/^/$name: /" >>"$W/gaps.txt"
	fi
	all=$(store_sum "$dir" "SELECT count(*) FROM conn WHERE flags & 2 = 0")
	noend=$(store_sum "$dir" "$(flows_sql "$proto" "$port") AND dur_ns IS NULL AND
		id NOT IN (SELECT id FROM conn_end)")
	noend=$((noend - $(store_sum "$dir" "$LOST_END_SQL")))
	bytes=0
	for f in "$dir"/seg-*.db "$dir"/seg-*.db-wal; do
		[ -f "$f" ] && bytes=$((bytes + $(stat -c %s "$f")))
	done
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$made" \
		"$(rate_of "$W/$name.storm")" "$recorded" "$lost" "$expected" \
		"$(calc "($t1 - $t0) / $HZ")" "$(jget "$W/$name.storm" elapsed_s)" "$all" "$bytes" \
		"$noend" $chances "$(calc "($t2 - $t0) / $HZ")" >>"$W/rec.tsv"
	say "$name: made $made, expected flows $expected, recorded $recorded, lost $lost," \
		"recorder cpu $(calc "($t1 - $t0) / $HZ") s"
}

# ctr_run NAME STORM-ARGS...: the storm under the bare tracepoint counter (bench/tpcount.c),
# with tpcount's options from CTR_ARGS (--skb: plus two empty cgroup_skb programs at the root).
ctr_run() {
	name=$1
	shift
	# shellcheck disable=SC2086
	"$TPCOUNT" ${CTR_ARGS:-} >"$W/$name.ctr" 2>&1 &
	CTR_PID=$!
	n=0
	until grep -q attached "$W/$name.ctr" 2>/dev/null; do
		kill -0 "$CTR_PID" 2>/dev/null || die "tpcount failed: $(cat "$W/$name.ctr")"
		n=$((n + 1))
		[ "$n" -lt 600 ] || die "tpcount did not attach within 30 s"
		sleep 0.05
	done
	storm "$W/$name.storm" "$@"
	kill -INT "$CTR_PID"
	wait "$CTR_PID" || true
	CTR_PID=""
	say "$name: $(jget "$W/$name.storm" made) made under the counter ($(sed -n 's/^runs //p' "$W/$name.ctr") runs)"
}

off_run() { # NAME STORM-ARGS...
	name=$1
	shift
	storm "$W/$name.storm" "$@"
	say "$name: $(jget "$W/$name.storm" made) in $(jget "$W/$name.storm" elapsed_s) s"
}

tl_run() { # NAME STORM-ARGS...
	name=$1
	shift
	tcplife_start "$W/$name.tcplife" || return 1
	t0=$(ticks "$TL_PID")
	storm "$W/$name.storm" "$@"
	t1=$(ticks "$TL_PID")
	tcplife_stop
	port=$(jget "$W/$name.storm" port)
	lines=$(awk -v p="$port" '$4 == p || $6 == p' "$W/$name.tcplife" | wc -l)
	printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$(jget "$W/$name.storm" made)" \
		"$(rate_of "$W/$name.storm")" "$lines" "$(calc "($t1 - $t0) / $HZ")" >>"$W/tl.tsv"
	say "$name: $(jget "$W/$name.storm" made) made, tcplife printed $lines lines for port $port"
}

: >"$W/rec.tsv"
: >"$W/tl.tsv"
: >"$W/noise.txt"
: >"$W/gaps.txt"
for f in ratio tlratio ctrratio ctrskbratio rstratio udpratio; do
	: >"$W/$f.txt"
	: >"$W/$f.cpu.txt"
done
say "work dir $W; nproc $NPROC; storm runs of $SECS s, $ROUNDS rounds"

# --- 1. full-storm throughput, alternating off / connrec / off / tcplife ------------------------
# Clients use 16 loopback source addresses, so the kernel's search for a free ephemeral port
# among TIME_WAIT sockets stays short and the storm is limited by connection work itself.
STORM_FULL="-d $SECS --spread 16"
off_run warmup $STORM_FULL # fills the TIME_WAIT table to its steady state
have_tl=${BENCH_TCPLIFE:-1}
[ -x "$TCPLIFE" ] || have_tl=0
r=1
while [ "$r" -le "$ROUNDS" ]; do
	off_run "off$r" $STORM_FULL
	rec_run "on$r" $STORM_FULL
	off_run "offb$r" $STORM_FULL
	ratios ratio "off$r" "on$r" "offb$r" "$(rec_cpu "on$r")"
	if [ "$have_tl" = 1 ] && tl_run "tl$r" $STORM_FULL; then
		off_run "offc$r" $STORM_FULL
		ratios tlratio "offb$r" "tl$r" "offc$r" "$(tl_cpu "tl$r")"
	else
		have_tl=0
	fi
	# The physical line: a program that only counts the tracepoint's runs.
	ctr_run "ctr$r" $STORM_FULL
	off_run "offd$r" $STORM_FULL
	ratios ctrratio "offb$r" "ctr$r" "offd$r" 0
	# The line with the packet hooks connrec attaches at the cgroup root for every packet
	# (DNS, UDP bytes): the counter plus two cgroup_skb programs that return at once.
	CTR_ARGS=--skb
	ctr_run "ctrskb$r" $STORM_FULL
	CTR_ARGS=""
	off_run "offe$r" $STORM_FULL
	ratios ctrskbratio "offd$r" "ctrskb$r" "offe$r" 0
	r=$((r + 1))
done

# The same storm with RST closes: no TIME_WAIT, so several times the connection rate. Then
# UDP DNS-like exchanges.
r=1
while [ "$r" -le "$ROUNDS" ]; do
	off_run "rstoff$r" -d "$SECS" --rst
	rec_run "rston$r" -d "$SECS" --rst
	off_run "rstoffb$r" -d "$SECS" --rst
	ratios rstratio "rstoff$r" "rston$r" "rstoffb$r" "$(rec_cpu "rston$r")"
	off_run "udpoff$r" -m udp -d "$SECS"
	rec_run "udpon$r" -m udp -d "$SECS"
	off_run "udpoffb$r" -m udp -d "$SECS"
	ratios udpratio "udpoff$r" "udpon$r" "udpoffb$r" "$(rec_cpu "udpon$r")"
	r=$((r + 1))
done

# --- 4. steady rates: the recorder's share of one core ------------------------------------------
# A loopback TCP connection is two flows (out and in), so R connections/s = 2R flows/s.
for fr in 1000 10000 50000; do
	cr=$((fr / 2))
	extra=""
	[ "$fr" -gt 20000 ] && extra="--rst"
	# shellcheck disable=SC2086
	rec_run "steady$fr" -r "$cr" -d "$STEADY_SECS" $extra
done

# --- profile: BPF run time per program invocation, user-space hot spots ------------------------
STATS_OLD=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -q -w kernel.bpf_stats_enabled=1
dir=$W/profile
rec_start "$dir"
have_perf=0
if command -v perf >/dev/null 2>&1; then
	perf record -q -F 999 -g -p "$REC_PID" -o "$W/perf.data" >"$W/perf.log" 2>&1 &
	PERF_PID=$!
	have_perf=1
fi
storm "$W/profile.storm" $STORM_FULL
settle "$dir" tcp "$(jget "$W/profile.storm" port)" \
	$(($(jget "$W/profile.storm" made) * 2)) >/dev/null
prog_ids "$REC_PID" | while read -r id; do
	bpftool -j prog show id "$id" 2>/dev/null && echo
done >"$W/progs.json"
if [ "$have_perf" = 1 ]; then
	kill -INT "$PERF_PID" 2>/dev/null || true
	wait "$PERF_PID" || true
fi
python3 - "$W/progs.json" >"$W/bpfprof.md" <<'EOF'
import json, sys
rows = []
for line in open(sys.argv[1]):
    if not line.strip():
        continue
    p = json.loads(line)
    cnt, ns = p.get("run_cnt", 0), p.get("run_time_ns", 0)
    rows.append((p.get("name", "?"), p.get("type", "?"), p.get("bytes_xlated", 0) // 8, cnt,
                 ns / cnt if cnt else 0.0, p.get("recursion_misses", 0)))
if not rows:
    print("| (no programs of the recorder found) | | | | | |")
for name, typ, insns, cnt, per, miss in sorted(rows, key=lambda r: -r[3] * r[4]):
    print(f"| `{name}` | {typ} | {insns} | {cnt} | {per:.0f} | {miss} |")
EOF
sysctl -q -w kernel.bpf_stats_enabled="$STATS_OLD"
STATS_OLD=""
rec_stop
perf_top=""
if [ "$have_perf" = 1 ] && [ -s "$W/perf.data" ]; then
	perf report -i "$W/perf.data" --stdio --no-children -g none --sort dso,symbol \
		2>/dev/null | grep -E '^ +[0-9.]+%' | head -n 12 |
		sed -e 's/^ *//' -e 's/[ -]*$//' >"$W/perf.txt" || true
	[ -s "$W/perf.txt" ] && perf_top=1
fi

# --- 5. bytes per flow: the largest recorded run, and segments the store sealed itself ------
big=$(sort -t "$(printf '\t')" -k9,9n "$W/rec.tsv" | tail -n 1 | cut -f 1)
big_flows=$(awk -v n="$big" '$1 == n { print $9 }' "$W/rec.tsv")
big_bytes=$(awk -v n="$big" '$1 == n { print $10 }' "$W/rec.tsv")
zst_bytes=0
for f in "$W/$big"/seg-*.db; do
	[ -f "$f" ] && zst_bytes=$((zst_bytes + $(zstd -19 -T0 -q -c "$f" | wc -c)))
done
# A run with a small --rotate-size so the store seals (seal indexes + zstd) several segments.
REC_ARGS="--rotate-size 8M"
rec_run sealed -r 25000 -d "$STEADY_SECS" --rst
REC_ARGS=""
sealed_bytes=0
sealed_flows=0
for f in "$W/sealed"/seg-*.db.zst; do
	[ -f "$f" ] || continue
	sealed_bytes=$((sealed_bytes + $(stat -c %s "$f")))
	zstd -q -d -f -o "$W/unz.db" "$f"
	sealed_flows=$((sealed_flows + $(sqlite3 -readonly "$W/unz.db" \
		"SELECT count(*) FROM conn WHERE flags & 2 = 0")))
done
rm -f "$W/unz.db"
[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$W"/on[0-9]* "$W"/rston[0-9]* "$W"/udpon[0-9]* "$W"/steady[0-9]*

# --- results ---------------------------------------------------------------------------------
col() { awk -v n="$1" -v c="$2" '$1 ~ "^" n { print $c }' "$W/rec.tsv"; }
completeness=$(awk '/^on|^rston|^udpon|^steady/ { r = ($4 + $5) / $6;
	if (!seen || r < lo) lo = r; if (!seen || r > hi) hi = r; seen = 1 }
	END { if (lo == hi) printf "%.6f", lo; else printf "%.6f–%.6f", lo, hi }' "$W/rec.tsv")
exact=$(awk '/^on|^rston|^udpon|^steady/ && $4 + $5 != $6 { bad = bad " " $1 }
	END { print bad == "" ? "yes" : "no:" bad }' "$W/rec.tsv")
recorded_ratio=$(awk '/^on|^rston|^udpon|^steady/ { r = $4 / $6; if (!seen || r < lo) lo = r; seen = 1 }
	END { printf "%.5f", lo }' "$W/rec.tsv")
# cpu_per_flow name-prefix [cpu-column] [flows-column] -> µs per flow, summed over the runs;
# the flows are the storm's recorded ones (column 4) unless told (9: every flow in the store).
cpu_per_flow() {
	awk -v n="$1" -v k="${2:-7}" -v d="${3:-4}" '$1 ~ "^" n "[0-9]*$" { c += $k; f += $d } END { if (f) printf "%.2f", c * 1e6 / f; else print "n/a" }' "$W/rec.tsv"
}
share() { # name -> recorder CPU / wall time of the storm, in % of one core
	awk -v n="$1" '$1 == n { printf "%.1f%%", 100 * $7 / $8 }' "$W/rec.tsv"
}
tl_cpu=$(awk '{ c += $5; l += $4 } END { if (l) printf "%.2f", c * 1e6 / l; else print "n/a" }' "$W/tl.tsv")
tl_complete=$(awk '{ r = $4 / (2 * $2); if (!seen || r < lo) lo = r; seen = 1 } END { if (seen) printf "%.4f", lo; else print "n/a" }' "$W/tl.tsv")
sum_ratio() { # file -> "median, spread S (runs: ...)", the spread being max - min
	if [ -s "$1" ]; then
		echo "$(fmt "$(median <"$1")"), spread $(sort -g "$1" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.2f", hi - lo }') (runs: $(tr '\n' ' ' <"$1" | awk '{ for (i = 1; i <= NF; i++) printf "%s%.2f", (i > 1 ? ", " : ""), $i }'))"
	else
		echo "n/a"
	fi
}
noend_all=$(awk '/^on|^rston|^steady/ { n += $11 } END { print n + 0 }' "$W/rec.tsv")
skipped_all=$(awk '{ n += $12 } END { print n + 0 }' "$W/rec.tsv")
late_all=$(awk '{ n += $13 } END { print n + 0 }' "$W/rec.tsv")
tcp_rows=$(awk '/^on|^rston|^steady/ { n += $4 } END { print n + 0 }' "$W/rec.tsv")
per() { # A B -> A / B with two decimals, or n/a
	if [ "${2:-0}" -gt 0 ]; then fmt "$(calc "$1 / $2")"; else echo n/a; fi
}
on_rate=$(awk '/^on[0-9]/ { s += $3; n++ } END { printf "%.0f", s / n }' "$W/rec.tsv")
rst_rate=$(awk '/^rston[0-9]/ { s += $3; n++ } END { printf "%.0f", s / n }' "$W/rec.tsv")
# The host's noise: how far apart the two off-runs around each on-run were. Above 10% the
# host was too busy to conclude anything from a few percent of difference.
noise_max=$(awk '{ if ($2 > m) m = $2 } END { printf "%.0f", 100 * m }' "$W/noise.txt")
noise_med=$(awk '{ print $2 }' "$W/noise.txt" | median)
noise_bad=$(awk '$2 > 0.10 { n++ } END { print n + 0 }' "$W/noise.txt")
noise_all=$(wc -l <"$W/noise.txt")
if [ "$noise_bad" -gt 0 ]; then
	noise_verdict="TOO NOISY TO CONCLUDE: $noise_bad of $noise_all off-run pairs differed by more than 10%"
else
	noise_verdict="quiet enough: no off-run pair differed by more than 10%"
fi
bpf_total=$(awk -F'|' 'NF > 6 { gsub(/ /, "", $5); gsub(/ /, "", $6); n += $5; t += $5 * $6 }
	END { if (n) printf "%.0f", t / n; else print "n/a" }' "$W/bpfprof.md")

{
	echo "<!-- bench/run.sh: begin (generated by \`make bench\`; edits here are overwritten) -->"
	echo "## Recorder overhead (\`make bench\`)"
	echo
	echo "Measured $DATE on $(uname -r), nproc $NPROC, $(awk '/model name/ { sub(/.*: /, ""); print; exit }' /proc/cpuinfo),"
	echo "with $("$CONNREC" --version 2>/dev/null | head -n 1)${CONNREC_COMMIT:+ (commit $CONNREC_COMMIT)}."
	echo "Load average before the run: $LOAD0; kernel.bpf_stats_enabled was $STATS0 (1 adds time"
	echo "accounting to every BPF run). Each storm run lasts $SECS s;"
	echo "recorder-off and recorder-on runs alternate ($ROUNDS rounds), and each ratio divides an on-run"
	echo "by the mean of the off-runs just before and after it. Wall-clock ratios move with other"
	echo "load on the host; the CPU-cost rows (CPU seconds per connection: the storm's own, which"
	echo "includes the BPF programs run in its context, plus the recorder's) barely do."
	echo "\`storm\` is \`.output/tools/storm\`,"
	echo "\`connrec record -d DIR\` runs with default options on a fresh DIR for every on-run. A"
	echo "TCP connection over loopback is two flows (the out and the in endpoint); \`storm -r R\`"
	echo "makes R connections/s, i.e. 2R flows/s. Each ratio is the median over $ROUNDS rounds,"
	echo "with its spread (largest minus smallest run) and every run listed. **Host noise: $noise_verdict** (the off-runs around each on-run"
	echo "differed by $(fmt "$(calc "100 * $noise_med")" 1)% in the median, $noise_max% at most)."
	echo
	echo "| # | figure | result | goal | command | nproc | date |"
	echo "|---|---|---|---|---|---|---|"
	echo "| 1 | workload throughput, connrec on / off (TCP, normal close; $on_rate conn/s with connrec) | $(sum_ratio "$W/ratio.txt") | ≥ 0.92 | \`storm -d $SECS --spread 16\` alone, then under \`connrec record\` | $NPROC | $DATE |"
	echo "| 1 | same, as CPU cost per connection: off / (on + recorder CPU) | $(sum_ratio "$W/ratio.cpu.txt") | ≥ 0.92 | as above, \`cpu_s\` of storm and /proc/PID/stat of the recorder | $NPROC | $DATE |"
	echo "| 1 | workload throughput, tcplife on / off (same storm) | $(sum_ratio "$W/tlratio.txt") | (tcplife ≈ 0.45) | \`storm -d $SECS --spread 16\` alone, then under \`tcplife > file\` | $NPROC | $DATE |"
	echo "| 1 | same for tcplife, as CPU cost per connection | $(sum_ratio "$W/tlratio.cpu.txt") | (tcplife ≈ 0.45) | as above | $NPROC | $DATE |"
	echo "| 1 | workload throughput, bare tracepoint counter on / off (the physical line: \`raw_tp/inet_sock_set_state\` counting per CPU, nothing else) | $(sum_ratio "$W/ctrratio.txt") | — | \`storm -d $SECS --spread 16\` alone, then under \`tpcount\` (bench/tpcount.c) | $NPROC | $DATE |"
	echo "| 1 | same for the counter, as CPU cost per connection | $(sum_ratio "$W/ctrratio.cpu.txt") | — | as above | $NPROC | $DATE |"
	echo "| 1 | workload throughput, counter + two empty \`cgroup_skb\` programs (ingress, egress) at the cgroup root on / off (the line with the packet hooks connrec has there; bench/line.sh) | $(sum_ratio "$W/ctrskbratio.txt") | — | \`storm -d $SECS --spread 16\` alone, then under \`tpcount --skb\` | $NPROC | $DATE |"
	echo "| 1 | same, as CPU cost per connection | $(sum_ratio "$W/ctrskbratio.cpu.txt") | — | as above | $NPROC | $DATE |"
	echo "| 1 | workload throughput, connrec on / off (TCP, RST close, no TIME_WAIT; $rst_rate conn/s with connrec) | $(sum_ratio "$W/rstratio.txt") | ≥ 0.92 | \`storm -d $SECS --rst\` | $NPROC | $DATE |"
	echo "| 1 | same, as CPU cost per connection | $(sum_ratio "$W/rstratio.cpu.txt") | ≥ 0.92 | as above | $NPROC | $DATE |"
	echo "| 1 | workload throughput, connrec on / off (UDP DNS-like exchanges) | $(sum_ratio "$W/udpratio.txt") | ≥ 0.85 | \`storm -m udp -d $SECS\` | $NPROC | $DATE |"
	echo "| 1 | same, as CPU cost per exchange | $(sum_ratio "$W/udpratio.cpu.txt") | ≥ 0.85 | as above | $NPROC | $DATE |"
	echo "| 2 | completeness (recorded + counted lost) / made, every on-run | $completeness (exact: $exact) | = 1 exactly | the on-runs of rows 1 and 4 | $NPROC | $DATE |"
	echo "| 2 | recorded / made, worst on-run | $recorded_ratio | ≥ 0.9999 | the on-runs of rows 1 and 4 | $NPROC | $DATE |"
	echo "| 2 | TCP rows whose end never arrived and was not counted lost, all TCP on-runs | $noend_all of $tcp_rows | 0 | the TCP on-runs | $NPROC | $DATE |"
	echo "| 2 | TCP state changes the kernel skipped (program already running on that CPU); closes among them taken from \`tcp_destroy_sock\`, all on-runs | $skipped_all; $late_all | — (not losses) | the recorder's stop line | $NPROC | $DATE |"
	echo "| 2 | tcplife: lines printed / flows made, worst run | $tl_complete | — | \`tcplife > file\` | $NPROC | $DATE |"
	echo "| 3 | recorder CPU (user + sys) per recorded flow, TCP full storm | $(cpu_per_flow on) µs | ≤ 0.7 µs | \`storm -d $SECS --spread 16\` under \`connrec record\` | $NPROC | $DATE |"
	echo "| 3 | recorder CPU per recorded flow, TCP RST storm | $(cpu_per_flow rston) µs | ≤ 0.7 µs | \`storm -d $SECS --rst\` | $NPROC | $DATE |"
	echo "| 3 | recorder CPU per recorded flow, UDP | $(cpu_per_flow udpon) µs | ≤ 1 µs | \`storm -m udp -d $SECS\` | $NPROC | $DATE |"
	echo "| 3 | same, per flow stored (the clients' and the server's: the storm's server has one flow per client port, about 28,000 a run however long it is) | $(cpu_per_flow udpon 7 9) µs | — | as above | $NPROC | $DATE |"
	echo "| 3 | same, TCP full storm, up to the recorder's exit (the clean stop and its last checkpoint included) | $(cpu_per_flow on 14) µs | — | as above, the shell's \`times\` for the reaped recorder | $NPROC | $DATE |"
	echo "| 3 | same, UDP, up to the recorder's exit | $(cpu_per_flow udpon 14) µs | — | as above | $NPROC | $DATE |"
	echo "| 3 | tcplife CPU (user + sys) per printed line | $tl_cpu µs | (tcplife ≈ 12 µs) | \`tcplife > file\` | $NPROC | $DATE |"
	echo "| 4 | recorder share of one core at 1k flows/s | $(share steady1000) | — | \`storm -r 500 -d $STEADY_SECS\` | $NPROC | $DATE |"
	echo "| 4 | recorder share of one core at 10k flows/s | $(share steady10000) | — | \`storm -r 5000 -d $STEADY_SECS\` | $NPROC | $DATE |"
	echo "| 4 | recorder share of one core at 50k flows/s | $(share steady50000) | — | \`storm -r 25000 -d $STEADY_SECS --rst\` | $NPROC | $DATE |"
	echo "| 5 | bytes per flow, active segment (.db + -wal after a clean stop) | $(per "$big_bytes" "$big_flows") B ($big_flows flows, $big_bytes B) | ≤ 64 B | run \`$big\` | $NPROC | $DATE |"
	echo "| 5 | bytes per flow, compressed (\`zstd -19\` of that .db) | $(per "$zst_bytes" "$big_flows") B ($zst_bytes B) | ≤ 16 B | run \`$big\` | $NPROC | $DATE |"
	echo "| 5 | bytes per flow, sealed by the store (its .db.zst as sealed) | $(per "$sealed_bytes" "$sealed_flows") B ($sealed_flows flows, $sealed_bytes B) | ≤ 16 B | \`connrec record --rotate-size 8M\`, \`storm -r 25000 -d $STEADY_SECS --rst\` | $NPROC | $DATE |"
	echo "| P | BPF run time per invocation, weighted over the recorder's programs | $bpf_total ns | — | \`kernel.bpf_stats_enabled=1\`, \`bpftool prog show\` during \`storm -d $SECS --spread 16\` | $NPROC | $DATE |"
	echo
	echo "Per-run detail (recorded and lost are flows of the storm's port in the store; cpu is the"
	echo "recorder's user + sys time from /proc/PID/stat between ready and the last row committed):"
	echo
	echo "| run | made | conn/s | flows expected | recorded | lost flows (gap rows) | rows without end, not counted | state changes skipped / closes from destroy | recorder cpu s (to exit) | storm s |"
	echo "|---|---|---|---|---|---|---|---|---|---|"
	awk -F'\t' '{ printf "| %s | %s | %.0f | %s | %s | %s | %s | %s / %s | %s (%s) | %s |\n", $1, $2, $3, $6, $4, $5, $11, $12, $13, $7, $14, $8 }' "$W/rec.tsv"
	if [ -s "$W/gaps.txt" ]; then
		echo
		echo "Gap rows of the runs that lost flows (run: count, reason):"
		echo
		sed 's/^/- /' "$W/gaps.txt"
	fi
	if [ -s "$W/tl.tsv" ]; then
		echo
		echo "| tcplife run | made | conn/s | lines for the port | tcplife cpu s |"
		echo "|---|---|---|---|---|"
		awk -F'\t' '{ printf "| %s | %s | %.0f | %s | %s |\n", $1, $2, $3, $4, $5 }' "$W/tl.tsv"
	fi
	echo
	echo "BPF programs of the recorder during \`storm -d $SECS --spread 16\` (\`bpftool prog show\`, run_time_ns / run_cnt):"
	echo
	echo "| program | type | insns (xlated) | run_cnt | ns per run | recursion_misses |"
	echo "|---|---|---|---|---|---|"
	cat "$W/bpfprof.md"
	if [ -n "$perf_top" ]; then
		echo
		echo "Recorder process hot spots (\`perf record -F 999 -g -p PID\`, self time, top 12):"
		echo
		echo '```'
		cat "$W/perf.txt"
		echo '```'
	fi
	echo "<!-- bench/run.sh: end -->"
} >"$W/section.md"

# Replace our section of RESULTS.md, keep everything else (e.g. the query-latency section).
if [ -f "$RESULTS" ] && grep -q '^<!-- bench/run.sh: begin' "$RESULTS"; then
	awk -v f="$W/section.md" '
		/^<!-- bench\/run.sh: begin/ { while ((getline l < f) > 0) print l; skip = 1; next }
		/^<!-- bench\/run.sh: end/ { skip = 0; next }
		!skip' "$RESULTS" >"$W/results.new"
elif [ -f "$RESULTS" ]; then
	{ cat "$RESULTS"; echo; cat "$W/section.md"; } >"$W/results.new"
else
	{ echo "# connrec benchmark results"; echo; cat "$W/section.md"; } >"$W/results.new"
fi
cp "$W/results.new" "$RESULTS"
cat "$W/section.md"
say "wrote $RESULTS"
