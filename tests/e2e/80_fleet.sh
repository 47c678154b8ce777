#!/bin/sh
# SPDX-License-Identifier: MIT
# Fleet (issue 15): connrec ship into a ClickHouse server this test starts itself (its own
# config and data dir on a free port), and connrec query --from against it.
#
# Two stores, recorded under two host names (each recorder in its own UTS namespace) with
# traffic in two network namespaces, rotating every second:
#   fleet-a  recorded with --ship-to (a password in the URL), so the recorder ships after each
#            seal (the server's default user may only read);
#   fleet-b  recorded with a kill -9 and a restart in the middle (a down gap, unknown ends),
#            then shipped by hand through every failure: server down (refused), wrong
#            password, a server that hangs (timeout), ship killed -9 while sending rows and
#            while marking a segment, a segment that fails verify (named, not shipped; shipped
#            once repaired), and a hang that a retry gets past.
# Then: the server holds exactly the rows of the local sealed segments (rows of the killed
# attempts are there but invisible), shipping again sends nothing, fleet-a's flows match what
# its traffic made, and query --from answers lifetimes, --at, --short-lived, --gaps, --events,
# --count and filters exactly as the local query of the same segment files, row for row.
set -eu
. "$(dirname "$0")/lib.sh"
cr_init
cr_require_cmd clickhouse-server curl unshare zstd
BIN=$CONNREC_BIN
TDIR=$(cd "$(dirname "$0")" && pwd)

# --- a ClickHouse server of our own ----------------------------------------------------------

. "$TDIR/../tools/clickhouse.sh"
ch_port=$(cr_free_port)
ch_spawn "$CR_TMP/ch" "$ch_port"
cr_track "$CH_PID"
ch_wait_up && st=0 || st=$?
[ "$st" = 0 ] || cr_fatal "clickhouse-server did not answer on port $ch_port"
URL=$CH_URL
cr_log "clickhouse-server $(curl -sS "$URL" --data-binary 'SELECT version()') on port $ch_port"

printf 'shipper:s3cret\n' >"$CR_TMP/auth"
printf 'shipper:wrong\n' >"$CR_TMP/auth.bad"
chmod 600 "$CR_TMP/auth" "$CR_TMP/auth.bad"

"$BIN" ship --schema --to "$URL" --auth "$CR_TMP/auth" 2>"$CR_TMP/schema.err" && st=0 || st=$?
cr_eq "ship --schema --to creates the tables" 0 "$st"
cr_eq "tables on the server" "anchor cgroup conn conn_end gap life life_exit run segments" \
	"$(ch_q "SELECT name FROM system.tables WHERE database = 'connrec' ORDER BY name" | tr '\n' ' ' | sed 's/ $//')"

# --- two stores ------------------------------------------------------------------------------

# record_as HOST: the next recorder runs under host name HOST, in a UTS namespace of its own.
record_as() {
	cat >"$CR_TMP/rec-$1" <<EOF
#!/bin/sh
exec unshare --uts sh -c 'hostname "\$0" && exec "\$@"' "$1" "$BIN" "\$@"
EOF
	chmod +x "$CR_TMP/rec-$1"
	CONNREC_BIN=$CR_TMP/rec-$1
}

# traffic NS OUT SECONDS: fleet_traffic.py in the namespace, in the background; waits for its port.
traffic() {
	ip netns exec "$1" "$PY" "$TDIR/py/fleet_traffic.py" "$3" >"$2" 2>&1 &
	cr_track $!
	cr_wait_file "$2" '^port '
}

# seal_all NS: poke the recorder (a refused connect in NS) until the segment active now is
# sealed, so every flow so far lies in sealed segments.
seal_all() {
	_act=$(ls "$CR_DATA"/seg-*.db | tail -n 1)
	_zst="$_act.zst"
	_dl=$(($(date +%s) + CR_TIMEOUT))
	until [ -f "$_zst" ]; do
		[ "$(date +%s)" -lt "$_dl" ] || cr_fatal "$_act was not sealed within ${CR_TIMEOUT}s"
		ip netns exec "$1" "$PY" -c 'import socket; socket.socket().connect_ex(("127.0.0.1", 9))'
		sleep 0.2
	done
}

sealed() { ls "$1"/seg-*.db.zst; }

# Store A: shipped by the recorder itself after each seal.
cr_netns nsa a
record_as fleet-a
CR_DATA=$CR_TMP/a
# The password in the URL: the recorder hides it from ps and hands it to ship through a pipe.
cr_start --rotate-age 1s --ship-to "http://shipper:s3cret@127.0.0.1:$ch_port/"
cr_eq "record --ship-to: the password is not on the recorder's command line" 0 \
	"$(tr '\0' ' ' </proc/$CR_REC_PID/cmdline | grep -c s3cret || true)"
traffic "$nsa" "$CR_TMP/traffic-a" 4
cr_wait_file "$CR_TMP/traffic-a" '^done ' 60
dl=$(($(date +%s) + CR_TIMEOUT))
while [ "$(ch_q "SELECT count() FROM connrec.segments WHERE host = 'fleet-a'")" = 0 ]; do
	[ "$(date +%s)" -lt "$dl" ] || break
	sleep 0.2
done
cr_gt "segments of fleet-a the recorder shipped while it ran" 0 \
	"$(ch_q "SELECT count() FROM connrec.segments WHERE host = 'fleet-a'")"
seal_all "$nsa"
cr_stop
pid_a=$(sed -n 's/^pid //p' "$CR_TMP/traffic-a")
port_a=$(sed -n 's/^port //p' "$CR_TMP/traffic-a")
short_a=$(sed -n 's/^done //p' "$CR_TMP/traffic-a")
"$BIN" ship --to "$URL" --auth "$CR_TMP/auth" -d "$CR_TMP/a" 2>"$CR_TMP/ship-a.err" && st=0 || st=$?
cr_eq "ship of fleet-a after the recorder stopped" 0 "$st"

# Store B: recorded with a kill -9 and a restart in the middle, its records sealed with a key.
cr_netns nsb b
CR_DATA=$CR_TMP/b
mkdir -m 700 "$CR_DATA" "$CR_TMP/other"
"$BIN" keygen -d "$CR_DATA" >"$CR_TMP/b.vkey" 2>"$CR_TMP/keygen.err" ||
	cr_fatal "keygen: $(cat "$CR_TMP/keygen.err")"
"$BIN" keygen -d "$CR_TMP/other" >"$CR_TMP/other.vkey" 2>/dev/null || cr_fatal "keygen (other)"
record_as fleet-b
cr_start --rotate-age 1s
traffic "$nsb" "$CR_TMP/traffic-b" 5
# Once a segment is sealed (so the store has history on both sides of the kill):
dl=$(($(date +%s) + CR_TIMEOUT))
until ls "$CR_DATA"/seg-*.db.zst >/dev/null 2>&1; do
	[ "$(date +%s)" -lt "$dl" ] || cr_fatal "fleet-b sealed nothing within ${CR_TIMEOUT}s"
	sleep 0.1
done
kill -KILL "$CR_REC_PID"
wait "$CR_REC_PID" 2>/dev/null || true
CR_REC_PID=""
cr_start --rotate-age 1s
cr_wait_file "$CR_TMP/traffic-b" '^done ' 60
seal_all "$nsb"
cr_stop
CONNREC_BIN=$BIN
nb=$(sealed "$CR_TMP/b" | wc -l)
cr_ge "sealed segments of fleet-b" 4 "$nb"

seg_count() { ch_q "SELECT count() FROM connrec.segments WHERE host = '$1'"; }
raw_rows() { ch_q "SELECT count() FROM connrec.conn WHERE host = '$1'"; }

# --- fleet-b through every failure -----------------------------------------------------------

ship_b() { "$BIN" ship -d "$CR_TMP/b" "$@"; }

# A server that is down: refused, tried twice, one line, exit 1.
dead=$(cr_free_port)
ship_b --to "http://127.0.0.1:$dead/" --tries 2 2>"$CR_TMP/down.err" && st=0 || st=$?
cr_eq "ship to a server that is down: exit status" 1 "$st"
cr_eq "ship to a server that is down: says so" 1 \
	"$(grep -c "connection refused .*(after 2 attempts)" "$CR_TMP/down.err" || true)"

# A server that refuses the password.
ship_b --to "$URL" --auth "$CR_TMP/auth.bad" 2>"$CR_TMP/auth.err" && st=0 || st=$?
cr_eq "ship with a wrong password: exit status" 1 "$st"
cr_eq "ship with a wrong password: says so" 1 "$(grep -c "authentication refused" "$CR_TMP/auth.err" || true)"
cr_eq "nothing of fleet-b marked yet" 0 "$(seg_count fleet-b)"

# Records sealed with another key than the one given: none of them can be proven, nothing goes.
ship_b --to "$URL" --auth "$CR_TMP/auth" --verify-key "@$CR_TMP/other.vkey" \
	2>"$CR_TMP/vkey.err" && st=0 || st=$?
cr_eq "ship --verify-key with another store's key: exit status" 1 "$st"
cr_eq "ship --verify-key with another store's key: each segment named, not shipped" "$nb" \
	"$(grep -c "fails verify (records: .* sealed with a key other than" "$CR_TMP/vkey.err" || true)"
cr_eq "nothing of fleet-b marked after the wrong key" 0 "$(seg_count fleet-b)"

# proxy NAME PATTERN N: a proxy that hangs at the N-th request matching PATTERN; its port goes
# to $proxy_port (not printed: $(...) would lose the cleanup registration).
proxy() {
	"$PY" "$TDIR/py/freeze_proxy.py" "$ch_port" "$2" "$3" "$CR_TMP/$1.frozen" >"$CR_TMP/$1.out" 2>&1 &
	cr_track $!
	cr_wait_file "$CR_TMP/$1.out" '^port '
	proxy_port=$(sed -n 's/^port //p' "$CR_TMP/$1.out")
}

# A server that hangs on the first rows: the stall timeout ends it, nothing is marked.
proxy slow 'connrec.conn%20' 1
ship_b --to "http://127.0.0.1:$proxy_port/" --auth "$CR_TMP/auth" --timeout 1s --tries 1 \
	2>"$CR_TMP/slow.err" && st=0 || st=$?
cr_eq "ship to a server that hangs: exit status" 1 "$st"
cr_eq "ship to a server that hangs: says so" 1 "$(grep -c "no answer within 1s" "$CR_TMP/slow.err" || true)"
cr_eq "nothing of fleet-b marked after the hang" 0 "$(seg_count fleet-b)"

# kill_ship NAME PATTERN N: ship through a proxy that hangs at the N-th PATTERN request, with a
# password in the URL, then kill -9 the ship there.
kill_ship() {
	proxy "$1" "$2" "$3"
	"$BIN" ship -d "$CR_TMP/b" --to "http://shipper:s3cret@127.0.0.1:$proxy_port/" --chunk 4096 \
		2>"$CR_TMP/$1.err" &
	_sp=$!
	cr_track "$_sp"
	cr_wait_file "$CR_TMP/$1.frozen" frozen
	cr_eq "$1: the password is not on ship's command line" 0 \
		"$(tr '\0' ' ' </proc/$_sp/cmdline | grep -c s3cret || true)"
	kill -KILL "$_sp"
	wait "$_sp" 2>/dev/null || true
	cr_untrack "$_sp"
}

# Killed while sending rows (its second INSERT of conn rows hangs): nothing of it may count.
kill_ship midrows 'connrec.conn%20' 2
marked1=$(seg_count fleet-b)
cr_gt "rows of the killed ship on the server" 0 "$(raw_rows fleet-b)"
cr_eq "query --from sees no unmarked rows" "$marked1" \
	"$(ch_q "SELECT count() FROM (SELECT DISTINCT host, segment_id FROM connrec.conn WHERE
	   host = 'fleet-b' AND (host, segment_id, attempt) IN
	   (SELECT host, segment_id, min(attempt) FROM connrec.segments GROUP BY host, segment_id))")"

# Killed while marking its second segment (every row of it is in, its marker hangs).
kill_ship marker 'connrec.segments%20' 2
cr_eq "segments marked by the ship killed at its second marker" "$((marked1 + 1))" "$(seg_count fleet-b)"

# A segment that fails verify: named, not shipped; the others are.
bad=$(sealed "$CR_TMP/b" | tail -n 2 | head -n 1)
cp "$bad" "$CR_TMP/bad.orig"
size=$(stat -c %s "$bad")
printf 'X' | dd of="$bad" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
ship_b --to "$URL" --auth "$CR_TMP/auth" 2>"$CR_TMP/verify.err" && st=0 || st=$?
cr_eq "ship with a damaged segment: exit status" 1 "$st"
cr_eq "the damaged segment is named" 1 \
	"$(grep -c "$(basename "$bad"): fails verify" "$CR_TMP/verify.err" || true)"
cr_eq "every other segment of fleet-b is shipped" "$((nb - 1))" "$(seg_count fleet-b)"

# Repaired, through a server that hangs once: the retry after the timeout ships it.
cp "$CR_TMP/bad.orig" "$bad"
proxy retry 'connrec.conn%20' 1
ship_b --to "http://127.0.0.1:$proxy_port/" --auth "$CR_TMP/auth" --timeout 1s --tries 2 \
	--verify-key "@$CR_TMP/b.vkey" 2>"$CR_TMP/retry.err" && st=0 || st=$?
cr_eq "ship that gets past a hang by retrying: exit status" 0 "$st"
cr_eq "every segment of fleet-b is shipped (its records' MACs checked with its key)" "$nb" \
	"$(seg_count fleet-b)"

# Nothing new: shipping again sends nothing.
before=$(ch_q "SELECT count() FROM connrec.conn")
for s in a b; do
	"$BIN" ship --to "$URL" --auth "$CR_TMP/auth" -d "$CR_TMP/$s" 2>"$CR_TMP/again-$s.err" && st=0 || st=$?
	cr_eq "ship $s again: exit status" 0 "$st"
	cr_eq "ship $s again: nothing shipped" 1 "$(grep -c ": 0 segments shipped" "$CR_TMP/again-$s.err" || true)"
	cr_eq "ship $s again: stderr not a terminal: the summary alone, one line" 1 \
		"$(wc -l <"$CR_TMP/again-$s.err")"
done
cr_eq "rows on the server after shipping again" "$before" "$(ch_q "SELECT count() FROM connrec.conn")"

# --- the server holds exactly the local rows -------------------------------------------------

# local_rows DIR TABLE: rows of TABLE in the sealed segments of DIR.
local_rows() {
	_n=0
	for _f in $(sealed "$1"); do
		zstd -q -d -c "$_f" >"$CR_TMP/plain.db"
		_n=$((_n + $(sqlite3 -readonly "$CR_TMP/plain.db" "SELECT count(*) FROM $2")))
	done
	echo "$_n"
}
visible="(host, segment_id, attempt) IN (SELECT host, segment_id, min(attempt) FROM connrec.segments GROUP BY host, segment_id)"
for s in a b; do
	for t in conn conn_end gap run life life_exit cgroup anchor; do
		cr_eq "fleet-$s: $t rows on the server = in the sealed segments" "$(local_rows "$CR_TMP/$s" $t)" \
			"$(ch_q "SELECT count() FROM connrec.$t WHERE host = 'fleet-$s' AND $visible")"
	done
	cr_eq "fleet-$s: one marker per sealed segment" "$(sealed "$CR_TMP/$s" | wc -l)" "$(seg_count fleet-$s)"
done
# The process lives: fleet_traffic.py's own, with its executable and command line, as stored.
local_life() {
	for _f in $(sealed "$CR_TMP/a"); do
		zstd -q -d -c "$_f" >"$CR_TMP/plain.db"
		sqlite3 -readonly -separator ' ' "$CR_TMP/plain.db" \
			"SELECT pstart_ns, exe, args FROM life WHERE pid = $pid_a"
	done | sort -u
}
want=$(local_life)
cr_gt "fleet-a: life rows of the traffic process (pid $pid_a) in the sealed segments" 0 \
	"$(printf '%s' "$want" | grep -c fleet_traffic.py || true)"
cr_eq "fleet-a: the traffic process's lives on the server, exe and args" "$want" \
	"$(ch_q "SELECT DISTINCT pstart_ns, exe, args FROM connrec.life WHERE host = 'fleet-a' AND
		pid = $pid_a AND $visible FORMAT TabSeparated" | tr '\t' ' ' | sort -u)"
local_pstart() {
	for _f in $(sealed "$CR_TMP/a"); do
		zstd -q -d -c "$_f" >"$CR_TMP/plain.db"
		sqlite3 -readonly "$CR_TMP/plain.db" \
			"SELECT p.pstart_ns FROM conn c JOIN proc p ON p.id = c.proc WHERE p.pid = $pid_a"
	done | sort -u
}
cr_eq "fleet-a: the traffic process's flows carry their life's key (pstart_ns) to the server" \
	"$(local_pstart)" \
	"$(ch_q "SELECT DISTINCT pstart_ns FROM connrec.conn WHERE host = 'fleet-a' AND pid = $pid_a
		AND $visible" | sort -u)"
cr_gt "fleet-b: seal records with a MAC on the server" 0 \
	"$(ch_q "SELECT count() FROM connrec.anchor WHERE host = 'fleet-b' AND kind = 'seal' AND
		position(line, ' mac=') > 0 AND $visible")"
cr_gt "fleet-a: cgroup names on the server" 0 \
	"$(ch_q "SELECT count() FROM connrec.cgroup WHERE host = 'fleet-a' AND $visible")"
cr_gt "rows of killed attempts stay on the server, unseen" \
	"$(ch_q "SELECT count() FROM connrec.conn WHERE host = 'fleet-b' AND $visible")" "$(raw_rows fleet-b)"

# --- query --from answers as the local query does --------------------------------------------

now=$(date +%s)
FILES=$(for f in $(sealed "$CR_TMP/a") $(sealed "$CR_TMP/b"); do printf -- '-f %s ' "$f"; done)
remote() { "$BIN" query --from "$URL" --now "@$now" "$@"; }
# shellcheck disable=SC2086
local_q() { "$BIN" query $FILES --now "@$now" "$@"; }

out_a=$(remote --pid "$pid_a" --rport "$port_a" --direction out --count)
cr_eq "fleet-a: its traffic's outgoing flows (short ones + the held one)" "$((short_a + 1))" "$out_a"
cr_eq "fleet-a: every one of them on host fleet-a" "$((short_a + 1))" \
	"$(remote --pid "$pid_a" --rport "$port_a" --direction out --format csv | grep -c ',fleet-a,')"
remote --port "$port_a" --limit 1 >"$CR_TMP/table.out"
cr_eq "the table has a HOST column" 1 "$(head -n 1 "$CR_TMP/table.out" | grep -c HOST)"

first=$(local_q --format csv --limit 1 | sed -n '2p' | cut -d, -f1)
mid=$((first / 1000000000 + 3))
compare() { # WHAT ARGS...
	_what=$1
	shift
	local_q "$@" --format "$cmp_fmt" >"$CR_TMP/cmp.local" 2>"$CR_TMP/cmp.local.err" && _l=0 || _l=$?
	remote "$@" --format "$cmp_fmt" >"$CR_TMP/cmp.remote" 2>"$CR_TMP/cmp.remote.err" && _r=0 || _r=$?
	if [ "$cmp_no_rname" = 1 ]; then # the last field, or json's "rname" (see below)
		for _f in "$CR_TMP/cmp.local" "$CR_TMP/cmp.remote"; do
			sed -E 's/,"rname":("[^"]*"|null)//; /^[{]/!s/[,	][^,	]*$//' "$_f" >"$_f.cut"
			mv "$_f.cut" "$_f"
		done
	fi
	if [ "$_l" = "$_r" ] && cmp -s "$CR_TMP/cmp.local" "$CR_TMP/cmp.remote"; then
		cr_pass "query --from $_what: the same $(wc -l <"$CR_TMP/cmp.local") row(s) as local"
	else
		cr_failed "query --from $_what = local" "exit $_l, $(wc -l <"$CR_TMP/cmp.local") rows" \
			"exit $_r, $(wc -l <"$CR_TMP/cmp.remote") rows"
		diff "$CR_TMP/cmp.local" "$CR_TMP/cmp.remote" | head -n 10
		cat "$CR_TMP/cmp.remote.err" | head -n 5
	fi
}
cmp_fmt=json
cmp_no_rname=0
compare "lifetimes"
compare "--at" --at "@$mid"
compare "--since/--until" --since "@$((mid - 1))" --until "@$((mid + 1))"
compare "--short-lived" --short-lived
compare "--gaps" --gaps
compare "--events" --events
compare "--events in a window" --events --since "@$((mid - 1))" --until "@$mid"
compare "--port" --port "$port_a"
compare "--state" --state UNK,OTH,REJ,S1
compare "--comm" --comm 'pyth*'
compare "--proto udp" --proto udp
compare "--addr --direction" --addr 127.0.0.0/8 --direction in
compare "--min-duration --newest --limit" --min-duration 2s --newest --limit 5
compare "--count" --count
# Who: the process columns above, and the filters on them, from the lives shipped.
exe_a=$(local_q --pid "$pid_a" --format json --limit 1 | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["exe"])')
ppid_a=$(local_q --pid "$pid_a" --format json --limit 1 | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["ppid"])')
cr_gt "fleet-a: the traffic process's flows name its executable locally" 0 "$(printf '%s' "$exe_a" | grep -c python || true)"
compare "--exe" --exe "$exe_a"
compare "--exe glob" --exe '*pyth*'
compare "--args" --args fleet_traffic
compare "--ppid" --ppid "$ppid_a"
compare "--unit" --unit '*'
compare "--container" --container 0
compare "--procs" --procs
compare "--procs --exe" --procs --exe '*pyth*'
cmp_fmt=zeek
compare "--format zeek (who columns)"
cmp_fmt=json
# The golden store (tests/tools/mkfixture): a reused pid, a container, units, a parent, hostile
# strings in exe and args. Its sealed segment, shipped into a database of its own, answers the
# who filters and columns as the file does.
"$CONNREC_OUTPUT/tools/mkfixture" golden "$CR_TMP/fx" >/dev/null 2>&1 || cr_fatal "mkfixture golden"
"$BIN" ship --schema --to "$URL" --auth "$CR_TMP/auth" --database fx 2>/dev/null ||
	cr_fatal "ship --schema --database fx"
# On a terminal (script(1) gives it one): the progress line, erased, then the summary.
script -qec "'$BIN' ship --to '$URL' --auth '$CR_TMP/auth' --database fx -d '$CR_TMP/fx'" \
	/dev/null >"$CR_TMP/fx.tty" 2>&1 </dev/null && st=0 || st=$?
cr_eq "the golden store's sealed segment ships" 0 "$st"
cr_eq "ship on a terminal: a progress line (segment, rows, MB/s)" 1 \
	"$(grep -c 'shipping: segment 1/1, .* rows, .* MB/s' "$CR_TMP/fx.tty" || true)"
cr_eq "ship on a terminal: the progress line erased before the summary" 1 \
	"$(grep -c "$(printf '\r\033\\[K')connrec ship: done: 1 segment shipped" "$CR_TMP/fx.tty" || true)"
FILES="-f $CR_TMP/fx/seg-00000001.db.zst"
now_run=$now
now=1795244400 # 2026-11-21T04:00:00Z, as the golden tests
# Known gap: DNS answers (schema 4) are not shipped yet, so --from names no flow (rname); the
# golden store names two. That column is left out of these comparisons, and only of these.
cmp_no_rname=1
remote() { "$BIN" query --from "$URL" --database fx --now "@$now" "$@"; }
cr_eq "query --from names no flow yet (rname: DNS not shipped)" 0 \
	"$(remote --format json | grep -c '"rname":"' || true)"
compare "golden: lifetimes with who columns"
compare "golden: --pid 200 (two lives of one pid)" --pid 200
compare "golden: --exe" --exe /usr/bin/curl
compare "golden: --exe glob" --exe '*/python*'
compare "golden: --args" --args 'https://93'
compare "golden: --ppid" --ppid 150
compare "golden: --container" --container 4f1e9a2b3c4d
compare "golden: --unit" --unit 'ssh.*'
compare "golden: --unit of flows without a life" --unit session-2.scope
compare "golden: --procs" --procs
cmp_fmt=zeek
compare "golden: zeek, hostile strings escaped alike" --pid 200,1000
cmp_fmt=csv
compare "golden: csv" --pid 1000
cmp_fmt=json
cr_gt "golden: --unit session-2.scope finds flows" 0 "$(local_q --unit session-2.scope --count)"
cr_gt "golden: --container finds flows" 0 "$(local_q --container 4f1e9a2b3c4d --count)"
FILES=$(for f in $(sealed "$CR_TMP/a") $(sealed "$CR_TMP/b"); do printf -- '-f %s ' "$f"; done)
now=$now_run
cmp_no_rname=0
"$BIN" query --from "$URL" --dns 2>"$CR_TMP/dns.err" && st=0 || st=$?
cr_eq "query --from --dns: refused as usage (DNS not shipped yet)" 2 "$st"
cr_eq "query --from --dns: says why" 1 "$(grep -c 'DNS answers are not shipped yet' "$CR_TMP/dns.err" || true)"

# --- examples/connrec-ship.service and .timer ---------------------------------------------------

mkdir "$CR_TMP/units"
sed "s#/usr/local/sbin/connrec#$BIN#" "$TDIR/../../examples/connrec-ship.service" \
	>"$CR_TMP/units/connrec-ship.service"
cp "$TDIR/../../examples/connrec-ship.timer" "$CR_TMP/units/"
if command -v systemd-analyze >/dev/null; then
	(cd "$CR_TMP/units" && systemd-analyze verify ./connrec-ship.service ./connrec-ship.timer) \
		>"$CR_TMP/units.out" 2>&1 && st=0 || st=$?
	cr_eq "systemd-analyze verify of the example units: exit status" 0 "$st"
	cr_eq "systemd-analyze verify of the example units: no complaint" "" "$(cat "$CR_TMP/units.out")"
else
	cr_log "no systemd-analyze: the example units' syntax is not checked"
fi
# The service's command as it stands, but for the URL, the auth file and the data dir.
cmd=$(sed -n '/^ExecStart=/,/[^\\]$/p' "$CR_TMP/units/connrec-ship.service" |
	sed 's/^ExecStart=//; s/\\$//' | tr -d '\n\t')
cmd=$(printf '%s' "$cmd" | sed -e "s#http://clickhouse.example:8123#$URL#" \
	-e "s#/etc/connrec/ship.auth#$CR_TMP/auth#" -e "s#/var/lib/connrec#$CR_TMP/a#")
sh -c "$cmd" 2>"$CR_TMP/unit-run.err" && st=0 || st=$?
cr_eq "the example service's command runs (nothing new for fleet-a): exit status" 0 "$st"
cr_eq "the example service's command: one summary line" 1 \
	"$(grep -c '^connrec ship: done: 0 segments shipped' "$CR_TMP/unit-run.err" || true)"

# Whether the kill -9 leaves unknown ends depends on what the restarted recorder finds again
# (it carries open connections and dumps the existing ones): logged, not a fleet property.
cr_log "unknown ends (UNK) after fleet-b's kill -9: $(local_q --state UNK --count)"
cr_gt "recording gaps from fleet-b's kill -9" 0 "$(local_q --gaps --format csv | grep -c fleet-b)"

cr_finish
