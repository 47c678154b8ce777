#!/bin/sh
# SPDX-License-Identifier: MIT
# What process events cost the recorder: an exec storm (bench/execstorm: fork + exec of
# /bin/true, EXEC_JOBS children at a time, at a fixed rate) under a recorder, alternated with equal idle
# stretches under the same recorder, so the recorder's idle CPU (its timers, the other
# engineers' processes it also records) is measured in the same run and subtracted.
#
# Per round: recorder CPU (all its threads, from schedstat, ns) during the storm minus during
# an idle stretch as long, divided by the execs made; and completeness: execs stored (life rows
# with the storm as parent and exe /bin/true) plus execs counted lost in the round (gap rows),
# which must equal the exact count execstorm printed (more would be duplicates).
#
# Then the other side: do process events cost a connection storm anything? bench/storm (TCP,
# EXEC_STORM_FLOWS connections from 16 source addresses, as `make bench`'s full storm) runs
# under a fresh recorder with process events and one without (--no-proc-events), alternated
# (the order flips each round), EXEC_ROUNDS times each. Each round gives two paired ratios,
# with / without: the storm's rate, and the CPU cost per connection (the storm's own CPU plus
# the recorder's, without over with); their medians and ranges are reported.
#
# Writes its section of bench/RESULTS.md (between the "bench/exec.sh" markers) and prints it.
# Knobs (environment): EXEC_RATE (default 2000), EXEC_JOBS (children at a time, default 2:
# one at a time does not reach 2000/s on a 2-core VM), EXEC_SECS (default 5), EXEC_ROUNDS
# (default 5), EXEC_STORM_FLOWS (default 200000; 0 skips the second part), REC_ARGS (extra
# recorder flags), BENCH_RESULTS, BENCH_KEEP=1. Needs root.
set -eu
cd "$(dirname "$0")/.."
TOP=$PWD
CONNREC=${CONNREC_BIN:-$TOP/connrec}
STORM=${EXECSTORM_BIN:-$TOP/${OUTPUT:-.output}/tools/execstorm}
CONNSTORM=${STORM_BIN:-$TOP/${OUTPUT:-.output}/tools/storm}
FLOWS=${EXEC_STORM_FLOWS:-200000}
RATE=${EXEC_RATE:-2000}
JOBS=${EXEC_JOBS:-2}
SECS=${EXEC_SECS:-5}
ROUNDS=${EXEC_ROUNDS:-5}
RESULTS=${BENCH_RESULTS:-$TOP/bench/RESULTS.md}
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo '?')
W=$(mktemp -d /tmp/connrec-execbench.XXXXXX)
LOAD0=$(cut -d ' ' -f 1-3 /proc/loadavg)
REC_PID=""

say() { printf 'exec-bench: %s\n' "$*" >&2; }
die() {
	say "error: $*"
	exit 1
}
cleanup() {
	rc=$?
	set +e
	if [ -n "$REC_PID" ]; then
		kill -INT "$REC_PID" 2>/dev/null
		wait "$REC_PID"
	fi
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
command -v sqlite3 >/dev/null 2>&1 || die "needs sqlite3 (run make deps)"

jget() { tail -n 1 "$1" | tr ',{}' '\n\n\n' | sed -n "s/^\"$2\":\"\{0,1\}\([^\"]*\)\"\{0,1\}\$/\1/p"; }
calc() { awk "BEGIN { printf \"%.6g\n\", $1 }"; }
fmt() { awk -v v="$1" -v d="${2:-2}" 'BEGIN { printf "%.*f\n", d, v }'; }
median() {
	sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a";
		else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
range() { sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (NR) printf "%s–%s\n", lo, hi }'; }

# cpu_ns PID: CPU time of every thread of PID so far, in ns (schedstat's first field).
cpu_ns() {
	cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%d\n", s }'
}

# sql SQL [DIR]: one number, summed over the (unsealed) segments of a store ($W/data).
sql() {
	total=0
	for f in "${2:-$W/data}"/seg-*.db; do
		[ -f "$f" ] || continue
		v=$(sqlite3 -readonly -batch -noheader -cmd '.timeout 5000' "$f" "$1" 2>/dev/null) || v=0
		total=$((total + ${v:-0}))
	done
	echo "$total"
}

# rec_start DIR [ARGS...]: a recorder on DIR, returns once it is ready.
rec_start() {
	_dir=$1
	shift
	# shellcheck disable=SC2086
	"$CONNREC" record -d "$_dir" --rotate-size 1G ${REC_ARGS:-} "$@" </dev/null \
		>"$_dir.out" 2>"$_dir.err" &
	REC_PID=$!
	n=0
	until grep -qw ready "$_dir.err" 2>/dev/null; do
		kill -0 "$REC_PID" 2>/dev/null || die "the recorder exited: $(cat "$_dir.err")"
		n=$((n + 1))
		[ "$n" -lt 1200 ] || die "the recorder was not ready within 60 s"
		sleep 0.05
	done
}

rec_stop() {
	kill -INT "$REC_PID"
	wait "$REC_PID" || say "warning: the recorder exited non-zero"
	REC_PID=""
}

# conns_of DIR PORT: the storm's endpoints stored in DIR (its connections out, and in).
conns_of() {
	sql "SELECT count(*) FROM conn WHERE (dir = 0 AND rport = $2) OR (dir = 1 AND lport = $2)" "$1"
}

# Execs counted lost (any exec on the host: the count has no parent).
LOST_SQL="SELECT coalesce(sum(count), 0) FROM gap WHERE reason = 'process ring buffer full: execs lost'"

# Flows counted lost (as bench/run.sh counts them).
FLOWS_LOST_SQL="SELECT coalesce(sum(count), 0) FROM gap WHERE kind = 1 AND
	(reason LIKE '%: flows lost%' OR reason LIKE 'store not writable%')"

rec_start "$W/data"
lost0=0

: >"$W/rounds.tsv"
for r in $(seq "$ROUNDS"); do
	# Idle stretch, as long as the storm, for the recorder's own background CPU.
	c0=$(cpu_ns "$REC_PID")
	t0=$(date +%s%N)
	sleep "$SECS"
	c1=$(cpu_ns "$REC_PID")
	t1=$(date +%s%N)
	idle_rate=$(calc "($c1 - $c0) / ($t1 - $t0)")

	c0=$(cpu_ns "$REC_PID")
	t0=$(date +%s%N)
	"$STORM" -r "$RATE" -s "$SECS" -j "$JOBS" >"$W/storm.$r" ||
		die "execstorm failed: $(cat "$W/storm.$r")"
	made=$(jget "$W/storm.$r" made)
	spid=$(jget "$W/storm.$r" pid)
	# Until every exec of this round is stored or counted lost (or 20 s pass), then 1 s more
	# so that a duplicate row would show.
	want="SELECT count(*) FROM life WHERE ppid = $spid AND exe = '/bin/true' AND flags & 4"
	k=0
	while :; do
		stored=$(sql "$want")
		lost=$(($(sql "$LOST_SQL") - lost0))
		[ $((stored + lost)) -lt "$made" ] || break
		k=$((k + 1))
		[ "$k" -lt 100 ] || break
		sleep 0.2
	done
	c1=$(cpu_ns "$REC_PID")
	t1=$(date +%s%N)
	sleep 1
	stored=$(sql "$want")
	lost1=$(sql "$LOST_SQL")
	lost=$((lost1 - lost0))
	lost0=$lost1
	net=$(calc "($c1 - $c0) - $idle_rate * ($t1 - $t0)")
	us=$(calc "$net / $made / 1000")
	exact=no
	[ $((stored + lost)) -ne "$made" ] || exact=yes
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$made" "$(jget "$W/storm.$r" rate)" \
		"$stored" "$lost" "$us" "$exact" \
		"$(calc "$(jget "$W/storm.$r" cpu_s) * 1e6 / $made")" >>"$W/rounds.tsv"
	say "round $r: made $made ($(jget "$W/storm.$r" rate)/s), stored $stored, lost (any exec," \
		"this round) $lost, exact $exact, recorder $us us/exec (idle" \
		"$(calc "$idle_rate * 1e6") us/s subtracted)"
done

rec_stop

# --- the connection storm, with and without process events -----------------------------------
: >"$W/ab.tsv"
if [ "$FLOWS" -gt 0 ]; then
	[ -x "$CONNSTORM" ] || die "no $CONNSTORM (run make tools)"
	# Brings the TIME_WAIT population to its steady state before the first measured run.
	"$CONNSTORM" -n "$FLOWS" --spread 16 >"$W/warmup.storm" || die "storm failed"
	for r in $(seq "$ROUNDS"); do
		# Alternate which goes first, so a drift in the machine's speed hits both alike.
		if [ $((r % 2)) -eq 1 ]; then order="with without"; else order="without with"; fi
		for m in $order; do
			dir=$W/ab-$m-$r
			if [ "$m" = with ]; then rec_start "$dir"; else rec_start "$dir" --no-proc-events; fi
			c0=$(cpu_ns "$REC_PID")
			"$CONNSTORM" -n "$FLOWS" --spread 16 >"$dir.storm" ||
				die "storm failed: $(cat "$dir.storm")"
			port=$(jget "$dir.storm" port)
			# Until both ends of every connection are stored or counted lost (or 20 s pass).
			k=0
			while [ $(($(conns_of "$dir" "$port") + $(sql "$FLOWS_LOST_SQL" "$dir"))) -lt \
				$((2 * $(jget "$dir.storm" made))) ]; do
				k=$((k + 1))
				[ "$k" -lt 100 ] || break
				sleep 0.2
			done
			c1=$(cpu_ns "$REC_PID")
			rec_stop
			# The store's bytes per stored endpoint: the active segment (.db and -wal, after
			# a clean stop), lives and cgroups included.
			ends=$(conns_of "$dir" "$port")
			bytes=$(cat "$dir"/seg-*.db* | wc -c)
			# Recorder CPU per flow (a connection is two: out and in) and the CPU cost per
			# connection: the storm's own (BPF included) plus the recorder's.
			made=$(jget "$dir.storm" made)
			printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$m" "$r" "$(jget "$dir.storm" flows_per_s)" \
				"$(calc "($c1 - $c0) / (2 * $made)")" "$(calc "$bytes / ($ends > 0 ? $ends : 1)")" \
				"$(calc "($(jget "$dir.storm" cpu_s) * 1e9 + $c1 - $c0) / $made")" >>"$W/ab.tsv"
			say "storm $m process events, round $r: $(jget "$dir.storm" flows_per_s) conn/s," \
				"recorder $(calc "($c1 - $c0) / (2 * $made)") ns/flow"
			rm -rf "$dir"
		done
	done
fi
ab_med() { awk -v m="$1" -v c="$2" '$1 == m { print $c }' "$W/ab.tsv" | median; }
ab_rng() { awk -v m="$1" -v c="$2" '$1 == m { print $c }' "$W/ab.tsv" | range; }
# pair_ratios COL INVERT: per round, with / without of column COL (without / with if INVERT=1).
pair_ratios() {
	awk -v c="$1" -v inv="$2" '$1 == "with" { w[$2] = $c } $1 == "without" { o[$2] = $c }
		END { for (r in w) if (r in o && w[r] > 0 && o[r] > 0)
			printf "%.3f\n", inv ? o[r] / w[r] : w[r] / o[r] }' "$W/ab.tsv"
}

us_med=$(cut -f 6 "$W/rounds.tsv" | median)
us_rng=$(cut -f 6 "$W/rounds.tsv" | range)
rate_med=$(cut -f 3 "$W/rounds.tsv" | median)
made_all=$(awk '{ s += $2 } END { print s }' "$W/rounds.tsv")
stored_all=$(awk '{ s += $4 } END { print s }' "$W/rounds.tsv")
lost_all=$(awk '{ s += $5 } END { print s }' "$W/rounds.tsv")
exact_all=$(awk '$7 != "yes" { bad = bad " " $1 } END { print bad == "" ? "yes, every round" : "NO, rounds" bad }' "$W/rounds.tsv")

{
	echo "<!-- bench/exec.sh: begin (generated by \`sh bench/exec.sh\`; edits here are overwritten) -->"
	echo "## Exec storm: what process events cost the recorder"
	echo
	echo "\`sh bench/exec.sh\` ($(date -u '+%Y-%m-%d %H:%M UTC'), commit $COMMIT, $(nproc) cores," \
		"load before: $LOAD0): $ROUNDS rounds of ${SECS}s of fork+exec of /bin/true at" \
		"$RATE/s ($JOBS at a time, \`execstorm -r $RATE -s $SECS -j $JOBS\`), each after an idle" \
		"stretch as long under the same recorder (\`connrec record --rotate-size 1G\`)."
	echo
	echo "| | median | range |"
	echo "|---|---|---|"
	echo "| execs/s made | $rate_med | $(cut -f 3 "$W/rounds.tsv" | range) |"
	echo "| recorder CPU per exec (storm minus idle), µs | $us_med | $us_rng |"
	echo "| the exec storm's own CPU per exec (fork, exec, exit; BPF in its context included), µs |" \
		"$(cut -f 8 "$W/rounds.tsv" | median) | $(cut -f 8 "$W/rounds.tsv" | range) |"
	echo
	echo "Completeness: $made_all execs made, $stored_all stored with the storm as parent," \
		"$lost_all counted lost (gap rows; counts any exec on the host); stored + lost = made" \
		"exactly: $exact_all."
	if [ -s "$W/ab.tsv" ]; then
		echo
		echo "A TCP connection storm ($FLOWS connections, \`storm -n $FLOWS --spread 16\`) under" \
			"a recorder with process events and one without (\`--no-proc-events\`), alternated" \
			"(order flipped each round), $ROUNDS rounds each. The last column is the median of the" \
			"$ROUNDS paired ratios of one round each (their range in brackets); 1.000 is no cost."
		echo
		echo "| | with | without | with / without, paired by round |"
		echo "|---|---|---|---|"
		echo "| storm connections/s (median; range) | $(ab_med with 3) ($(ab_rng with 3)) |" \
			"$(ab_med without 3) ($(ab_rng without 3)) |" \
			"$(pair_ratios 3 0 | median) ($(pair_ratios 3 0 | range)) |"
		echo "| CPU cost per connection (storm + recorder), ns; ratio without / with |" \
			"$(ab_med with 6) ($(ab_rng with 6)) | $(ab_med without 6) ($(ab_rng without 6)) |" \
			"$(pair_ratios 6 1 | median) ($(pair_ratios 6 1 | range)) |"
		echo "| recorder CPU per flow, ns (median; range) | $(ab_med with 4) ($(ab_rng with 4)) |" \
			"$(ab_med without 4) ($(ab_rng without 4)) |" \
			"$(pair_ratios 4 0 | median) ($(pair_ratios 4 0 | range)) |"
		echo "| store bytes per endpoint, active .db + -wal (median; range) |" \
			"$(ab_med with 5) ($(ab_rng with 5)) | $(ab_med without 5) ($(ab_rng without 5)) |" \
			"$(pair_ratios 5 0 | median) ($(pair_ratios 5 0 | range)) |"
	fi
	echo "<!-- bench/exec.sh: end -->"
} >"$W/section.md"

if [ -f "$RESULTS" ] && grep -q '^<!-- bench/exec.sh: begin' "$RESULTS"; then
	awk -v f="$W/section.md" '
		/^<!-- bench\/exec.sh: begin/ { while ((getline l < f) > 0) print l; skip = 1; next }
		/^<!-- bench\/exec.sh: end/ { skip = 0; next }
		!skip' "$RESULTS" >"$W/results.new"
else
	{ [ -f "$RESULTS" ] && cat "$RESULTS" && echo; cat "$W/section.md"; } >"$W/results.new"
fi
cp "$W/results.new" "$RESULTS"
cat "$W/section.md"
say "wrote $RESULTS"
