#!/bin/sh
# SPDX-License-Identifier: MIT
# Fleet (issue 15): a hostile or broken "ClickHouse server" (tests/tools/hostile_ch.py) must
# be harmless to `connrec ship` and `connrec query --from`: for every kind of bad answer, exit
# status 1, exactly one line on stderr that names the server and says what was wrong, no
# terminal control byte from the server on the terminal, bounded memory (run_capped.py kills
# a command over 1 GB: a 1 GB answer or 24 MB of rows of one-byte strings must not be
# buffered or blown up), bounded time, and the store untouched (same files, same bytes).
set -u
cd "$(dirname "$0")/../.." || exit 1
BIN=${CONNREC_BIN:-$PWD/connrec}
OUT=${CONNREC_OUTPUT:-$PWD/.output}
MK=$OUT/tools/mkfixture
[ -x "$MK" ] || { echo "mkfixture not built ($MK): run make tools"; exit 1; }
tmp=$(mktemp -d /tmp/connrec-fleet-hostile.XXXXXX)
srv=""
cleanup() {
	[ -n "$srv" ] && kill "$srv" 2>/dev/null && wait "$srv" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
pass=0 fail=0
ok() { pass=$((pass + 1)); }
no() { fail=$((fail + 1)); echo "FAIL $*"; }

# Two sealed segments (hash-chained, they pass verify) and the active one.
"$MK" big "$tmp/store" 3000 3 "$(($(date +%s) - 60))" 3000 2>/dev/null || exit 1
before=$(cd "$tmp/store" && ls -a && sha256sum -- *)

# start MODE: a hostile server in the background; its port in $port.
start() {
	rm -f "$tmp/port"
	python3 tests/tools/hostile_ch.py "$1" >"$tmp/port" 2>"$tmp/server.log" &
	srv=$!
	i=0
	until grep -q '^port ' "$tmp/port" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "hostile_ch.py $1 did not start"; exit 1; }
		sleep 0.1
	done
	port=$(sed -n 's/^port //p' "$tmp/port")
}
stop() { kill "$srv" 2>/dev/null; wait "$srv" 2>/dev/null; srv=""; }

# check WHAT EXPECT(regex) COMMAND...: exit 1 within the caps, one line naming the server and
# matching EXPECT, no raw control byte.
check() {
	what=$1
	want=$2
	shift 2
	python3 tests/tools/run_capped.py 1024 60 "$@" >"$tmp/out" 2>"$tmp/err.all"
	rc=$?
	grep -v '^peak_rss_mb \|^run_capped: ' "$tmp/err.all" >"$tmp/err"
	peak=$(sed -n 's/^peak_rss_mb //p' "$tmp/err.all")
	[ "$rc" = 1 ] && ok || no "$what: exit status $rc, want 1 (124 time cap, 125 memory cap; peak ${peak} MB): $(head -c 300 "$tmp/err.all")"
	[ "$(wc -l <"$tmp/err")" = 1 ] && ok || no "$what: stderr is not one line: $(head -c 600 "$tmp/err" | cat -v)"
	grep -q "^connrec: error: http://127.0.0.1:$port/: " "$tmp/err" && ok ||
		no "$what: the error does not name the server: $(head -c 300 "$tmp/err" | cat -v)"
	grep -Eq -- "$want" "$tmp/err" && ok || no "$what: want /$want/, got: $(head -c 300 "$tmp/err" | cat -v)"
	# ESC, BEL, CR, NUL and the C1 CSI byte (0x9b) from the server stay escaped.
	[ "$(LC_ALL=C tr -d '\033\007\015\000\233' <"$tmp/err" | wc -c)" = "$(wc -c <"$tmp/err")" ] &&
		ok || no "$what: a control byte reached stderr: $(cat -v "$tmp/err")"
	[ ! -s "$tmp/out" ] && ok || no "$what: printed rows: $(head -c 200 "$tmp/out" | cat -v)"
}

ship() { check "ship, $mode" "$1" "$BIN" ship -d "$tmp/store" --to "http://u:pw@127.0.0.1:$port/" \
	--tries 2 --timeout 1s --no-progress; }
query() { check "query --from, $mode" "$1" "$BIN" query --from "http://127.0.0.1:$port/" \
	--timeout 1s --since 1h; }

mode=escape; start $mode
ship 'server error \(HTTP 500\): \\x1b\[2J\\x1b\[31mEVIL\\x1b\]0;pwned\\x07\\x0d$'
query 'server error \(HTTP 500\): \\x1b\[2J'
stop
mode=garbage; start $mode
ship 'malformed answer listing columns$'
query 'malformed answer \(segment list'
stop
mode=ones; start $mode
ship 'malformed answer listing columns \(more than 4096\)$'
query 'malformed answer \(segment list out of order\)$'
stop
mode=huge; start $mode
ship 'answer larger than 67108864 bytes'
query 'answer larger than 67108864 bytes'
stop
mode=short; start $mode
ship 'transfer closed with 99990 bytes remaining to read \(after 2 attempts\)$'
query 'transfer closed with 99990 bytes remaining to read \(after 5 attempts\)$'
stop
mode=nonsense; start $mode
ship 'HTTP/0.9 .*\(after 2 attempts\)$'
query 'HTTP/0.9 .*\(after 5 attempts\)$'
stop
mode=redirect; start $mode
ship 'server error \(HTTP 302\)'
query 'server error \(HTTP 302\)'
stop
mode=silent; start $mode
ship 'no answer within 1s \(after 2 attempts\)$'
stop

after=$(cd "$tmp/store" && ls -a && sha256sum -- *)
[ "$before" = "$after" ] && ok || no "the store changed: before: $before after: $after"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
