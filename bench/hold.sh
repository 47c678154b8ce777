#!/bin/sh
# SPDX-License-Identifier: MIT
# `make bench`, second part: a million TCP endpoints held open at once (issue 17).
#
# HOLD_PAIRS pairs of bench/storm processes (a server and a client of HOLD_PER connections
# each: open files are capped per process) hold HOLD_PAIRS * HOLD_PER loopback connections,
# two endpoints each, under one recorder. Measured:
#   - the time from the first connect until every endpoint is stored as open;
#   - the recorder's CPU and RSS while they sit idle (HOLD_IDLE_SECS), and the kernel memory
#     of its maps and journal;
#   - a rotation with all of them open: the copy of the open connections into the next
#     segment (time, bytes per carried connection, raw and sealed);
#   - once the processes close them: how many ends are stored, counted lost, or neither, and
#     when that settled (at most 240 s).
# Writes its section of bench/RESULTS.md (between the "bench/hold.sh" markers).
#
# Knobs (environment): HOLD_PAIRS (default 26), HOLD_PER (19250: 1,001,000 endpoints), HOLD_IDLE_SECS (30),
# HOLD_ROTATE_SECS (segment age that forces the rotation, default 120), BENCH_RESULTS,
# BENCH_KEEP=1. Needs root and about 6 GB of free memory for the sockets. 6 to 9 minutes.
set -eu
cd "$(dirname "$0")/.."
TOP=$PWD
CONNREC=${CONNREC_BIN:-$TOP/connrec}
[ -n "${CONNREC_BIN:-}" ] || CONNREC_COMMIT=${CONNREC_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || true)}
STORM=${STORM_BIN:-$TOP/${OUTPUT:-.output}/tools/storm}
PAIRS=${HOLD_PAIRS:-26}
PER=${HOLD_PER:-19250}
IDLE=${HOLD_IDLE_SECS:-30}
ROT=${HOLD_ROTATE_SECS:-120}
RESULTS=${BENCH_RESULTS:-$TOP/bench/RESULTS.md}
HZ=$(getconf CLK_TCK)
PAGE=$(getconf PAGESIZE)
DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
W=$(mktemp -d /tmp/connrec-hold.XXXXXX)
D=$W/data
TOTAL=$((PAIRS * PER))
ENDPOINTS=$((2 * TOTAL))
REC_PID=""
PIDS=""

say() { printf 'hold: %s\n' "$*" >&2; }
die() {
	say "error: $*"
	exit 1
}
cleanup() {
	rc=$?
	set +e
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
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

now_ms() { echo $(($(date +%s%N) / 1000000)); }
ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
calc() { awk "BEGIN { printf \"%.6g\n\", $1 }"; }
fmt() { awk -v v="$1" -v d="${2:-2}" 'BEGIN { printf "%.*f\n", d, v }'; }
jget() { tail -n 1 "$1" | tr ',{}' '\n\n\n' | sed -n "s/^\"$2\":\"\{0,1\}\([^\"]*\)\"\{0,1\}\$/\1/p"; }
# The active segment (the newest plain .db).
active() { ls "$D"/seg-*.db 2>/dev/null | sort | tail -n 1; }
sql() { sqlite3 -readonly -batch -noheader -cmd '.timeout 10000' "$1" "$2" 2>/dev/null || echo 0; }
# memlock_kb PID: kernel memory of the BPF maps a process holds (fdinfo memlock), in KiB.
memlock_kb() {
	for f in /proc/"$1"/fdinfo/*; do
		grep -q '^map_type:' "$f" 2>/dev/null || continue
		sed -n 's/^memlock:[[:space:]]*\([0-9]*\)$/\1/p' "$f"
	done | awk '{ s += $1 } END { printf "%d\n", s / 1024 }'
}
# status_get KEY: a counter from the recorder's status file (rewritten every second), or 0.
status_get() {
	v=$(sed -n "s/^$1=\([0-9]*\)\$/\1/p" "$D/connrec.status" 2>/dev/null)
	echo "${v:-0}"
}
# wait_ends N SECS: polls ends stored + ends counted lost since the release until they reach N,
# stop moving for 15 s (what is left was seen by no hook) or SECS pass.
wait_ends() {
	last=-1 still=0 dl=$(($(date +%s) + $2))
	while :; do
		got=$(($(status_get ends) - ends0 + $(status_get lost_events) - lost0))
		[ "$got" -lt "$1" ] || return 0
		if [ "$got" -eq "$last" ]; then
			still=$((still + 1))
			[ "$still" -lt 75 ] || return 0
		else
			still=0 last=$got
		fi
		[ "$(date +%s)" -lt "$dl" ] || return 0
		sleep 0.2
	done
}
# wait_sql DB SQL N SECS: poll until SQL on DB gives >= N; prints the ms it took, or fails.
wait_sql() {
	t=$(now_ms)
	dl=$(($(date +%s) + $4))
	until [ "$(sql "$1" "$2")" -ge "$3" ]; do
		[ "$(date +%s)" -lt "$dl" ] || return 1
		sleep 0.2
	done
	echo $(($(now_ms) - t))
}

say "$PAIRS pairs x $PER connections = $ENDPOINTS endpoints; work dir $W"
mkdir -p "$D"
# -v for the store's "carried N open connections" line; the rest of it is not looked at.
"$CONNREC" record -v -d "$D" --rotate-age "${ROT}s" </dev/null >"$W/rec.out" 2>"$W/rec.err" &
REC_PID=$!
n=0
until grep -qw ready "$W/rec.err" 2>/dev/null; do
	kill -0 "$REC_PID" 2>/dev/null || die "the recorder exited: $(tail -n 3 "$W/rec.err")"
	n=$((n + 1))
	[ "$n" -lt 1200 ] || die "the recorder was not ready within 60 s"
	sleep 0.05
done
REC_T0=$(date +%s)
rss0=$(rss_kb "$REC_PID")
mem_kb=$(memlock_kb "$REC_PID")
cap=$(sed -n 's/.*tracking up to \([0-9]*\) TCP endpoints.*/\1/p' "$W/rec.err" | head -n 1)
[ "${cap:-0}" -ge $((ENDPOINTS + 2 * PAIRS)) ] || die "the recorder tracks ${cap:-?} TCP endpoints, fewer than $ENDPOINTS (more RAM, or fewer HOLD_PAIRS)"

# Servers, then clients, all at once.
ports=""
i=1
while [ "$i" -le "$PAIRS" ]; do
	"$STORM" --server-only -m hold -n "$PER" -t 1 -d 900 --timeout 900 >"$W/srv$i.out" 2>&1 &
	PIDS="$PIDS $!"
	i=$((i + 1))
done
i=1
while [ "$i" -le "$PAIRS" ]; do
	n=0
	until grep -q '"event":"listening"' "$W/srv$i.out" 2>/dev/null; do
		n=$((n + 1))
		[ "$n" -lt 600 ] || die "server $i did not listen"
		sleep 0.05
	done
	ports="$ports $(jget "$W/srv$i.out" port)"
	i=$((i + 1))
done
t_start=$(now_ms)
i=1
for p in $ports; do
	"$STORM" --client-only -m hold -p "$p" -n "$PER" -t 2 --spread 8 -d 900 --timeout 900 \
		>"$W/cli$i.out" 2>&1 &
	PIDS="$PIDS $!"
	i=$((i + 1))
done
i=1
for p in $ports; do
	n=0
	until grep -q '"event":"holding"' "$W/cli$i.out" 2>/dev/null; do
		grep -q '"event":"done"' "$W/cli$i.out" 2>/dev/null && die "client $i: $(tail -n 1 "$W/cli$i.out")"
		n=$((n + 1))
		[ "$n" -lt 6000 ] || die "client $i did not hold its connections within 300 s"
		sleep 0.05
	done
	made=$(sed -n 's/.*"event":"holding".*"made":\([0-9]*\).*/\1/p' "$W/cli$i.out")
	[ "$made" -eq "$PER" ] || die "client $i made $made of $PER connections"
	i=$((i + 1))
done
t_held=$(($(now_ms) - t_start))
say "all $TOTAL connections held after $t_held ms"

# Every endpoint stored as open (rows of this run: not carried copies).
portlist=$(echo $ports | tr ' ' ',')
OPEN_SQL="SELECT count(*) FROM conn WHERE proto = 6 AND flags & 2 = 0 AND reason IS NULL AND
	((dir = 0 AND rport IN ($portlist)) OR (dir = 1 AND lport IN ($portlist)))"
[ "$(ls "$D"/seg-*.db | wc -l)" -eq 1 ] || die "the store rotated before the OPENs were counted"
wait_sql "$(active)" "$OPEN_SQL" "$ENDPOINTS" 300 >/dev/null || die "only $(sql "$(active)" "$OPEN_SQL") of $ENDPOINTS endpoints stored as open"
t_open=$(($(now_ms) - t_start))
lost=$(sql "$(active)" "SELECT coalesce(sum(count), 0) FROM gap WHERE kind = 1")
say "all $ENDPOINTS endpoints stored as open after $t_open ms; lost: $lost"

# Idle: what the recorder costs while nothing happens.
sleep 2
c0=$(ticks "$REC_PID")
t0=$(now_ms)
sleep "$IDLE"
c1=$(ticks "$REC_PID")
t1=$(now_ms)
idle_pct=$(calc "100 * ($c1 - $c0) / $HZ / (($t1 - $t0) / 1000)")
rss1=$(rss_kb "$REC_PID")
mem1_kb=$(memlock_kb "$REC_PID")
say "idle: recorder $(fmt "$idle_pct") % of a core, RSS $rss1 KiB (at start $rss0)"

# Rotation with everything open: the segment rotates at its age; the next flush must have
# new rows, so make a few.
until [ $(($(date +%s) - REC_T0)) -ge $((ROT + 1)) ]; do sleep 1; done
"$STORM" -n 200 -t 1 >/dev/null 2>&1
n=0
until grep -q 'carried [0-9]* open connections' "$W/rec.err"; do
	n=$((n + 1))
	[ "$n" -lt 1200 ] || die "no carry within 120 s of the rotation"
	sleep 0.1
done
carry_line=$(grep -m 1 'carried [0-9]* open connections' "$W/rec.err")
carried=$(echo "$carry_line" | sed -n 's/.*carried \([0-9]*\) open.*/\1/p')
carry_bytes=$(echo "$carry_line" | sed -n 's/.* (\([0-9]*\) bytes, .*/\1/p')
carry_s=$(echo "$carry_line" | sed -n 's/.* bytes, \([0-9.]*\) s).*/\1/p')
say "carried $carried open connections in $carry_s s ($carry_bytes bytes)"
# Then the next segment, which holds little besides the copies, rotates and is sealed.
until [ $(($(date +%s) - REC_T0)) -ge $((2 * ROT + 2)) ]; do sleep 1; done
"$STORM" -n 200 -t 1 >/dev/null 2>&1
n=0
until [ -f "$D/seg-00000002.db.zst" ]; do
	n=$((n + 1))
	[ "$n" -lt 1200 ] || die "segment 2 was not sealed within 120 s"
	sleep 0.1
done
sealed2=$(stat -c %s "$D/seg-00000002.db.zst")
rows2=$(zstd -q -d -c "$D/seg-00000002.db.zst" >"$W/seg2.db" && sql "$W/seg2.db" "SELECT count(*) FROM conn")
say "segment 2: $rows2 rows, $sealed2 bytes sealed"

# Release: every process closes what it holds. Ends are counted from the recorder's status
# (a rotation may move them out of the active segment), stored or counted lost.
sleep 1
ends0=$(status_get ends)
lost0=$(status_get lost_events)
for p in $PIDS; do kill -TERM "$p"; done
t_rel=$(now_ms)
for p in $PIDS; do wait "$p" || true; done
PIDS=""
wait_ends "$ENDPOINTS" 240
t_end=$(($(now_ms) - t_rel))
ends=$(($(status_get ends) - ends0))
lost_end=$(($(status_get lost_events) - lost0))
lost=$((lost + lost_end))
unseen=$((ENDPOINTS - ends - lost_end))
say "$ends ends stored, $lost_end counted lost, $unseen neither, $t_end ms after the release"
kill -INT "$REC_PID"
wait "$REC_PID" || say "warning: the recorder exited with status $?"
REC_PID=""
# Said at the stop: the ends that found the ring full and waited in the tracking map.
kept=$(sed -n 's/.* \([0-9][0-9]*\) connection ends found the ring buffer full.*/\1/p' "$W/rec.err" | tail -n 1)

per_conn_kernel=$(calc "$mem1_kb * 1024 / $ENDPOINTS")
per_conn_rec=$(calc "($rss1 - $rss0) * 1024 / $ENDPOINTS")
{
	echo "<!-- bench/hold.sh: begin (generated by \`make bench\`; edits here are overwritten) -->"
	echo "## A million endpoints held open (\`bench/hold.sh\`)"
	echo
	echo "Measured $DATE on $(uname -r), nproc $(nproc), with connrec ${CONNREC_COMMIT:-?}."
	echo "$PAIRS pairs of \`storm --server-only -m hold -n $PER\` and \`storm --client-only -m hold"
	echo "-n $PER --spread 8\`: $TOTAL loopback connections, $ENDPOINTS endpoints, under"
	echo "\`connrec record --rotate-age ${ROT}s\` (default tracking capacity: $cap endpoints)."
	echo
	echo "| figure | result |"
	echo "|---|---|"
	echo "| all connections held (from the first connect) | $t_held ms |"
	echo "| every endpoint stored as open (from the first connect) | $t_open ms |"
	echo "| recorder CPU while they sit idle ($IDLE s) | $(fmt "$idle_pct") % of one core |"
	echo "| recorder RSS: ready / holding | $((rss0 / 1024)) / $((rss1 / 1024)) MiB |"
	echo "| recorder memory per open endpoint (RSS growth) | $(fmt "$per_conn_rec" 1) B |"
	echo "| kernel memory of the recorder's maps (preallocated for $cap endpoints) | $((mem1_kb / 1024)) MiB ($(fmt "$(calc "$mem1_kb * 1024 / $cap")" 0) B per tracking slot, $(fmt "$per_conn_kernel" 0) B per endpoint held) |"
	echo "| rotation with all open: copies made by the sealing thread | $carried rows in $carry_s s |"
	echo "| bytes per carried connection, active segment | $(fmt "$(calc "$carry_bytes / $carried")" 1) B |"
	echo "| bytes per carried connection, sealed (segment 2: $rows2 rows, nearly all copies) | $(fmt "$(calc "$sealed2 / $rows2")" 1) B |"
	echo "| ends after the release (stored / counted lost / neither) | $ends / $lost_end / $unseen, settled after $t_end ms |"
	echo "| ends that found the ring full and waited in the tracking map | ${kept:-0} |"
	echo "| flows counted lost, in all | $lost |"
	echo "<!-- bench/hold.sh: end -->"
} >"$W/section.md"
if [ -f "$RESULTS" ] && grep -q '^<!-- bench/hold.sh: begin' "$RESULTS"; then
	awk -v f="$W/section.md" '
		/^<!-- bench\/hold.sh: begin/ { while ((getline l < f) > 0) print l; skip = 1; next }
		/^<!-- bench\/hold.sh: end/ { skip = 0; next }
		!skip' "$RESULTS" >"$W/results.new"
else
	{ cat "$RESULTS"; echo; cat "$W/section.md"; } >"$W/results.new"
fi
cp "$W/results.new" "$RESULTS"
cat "$W/section.md"
say "wrote $RESULTS"
