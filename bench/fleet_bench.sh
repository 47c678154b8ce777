#!/bin/sh
# SPDX-License-Identifier: MIT
# Fleet: how fast `connrec ship` sends a large store into ClickHouse, and how fast
# `connrec query --from` answers query_bench.sh's question beside the local query.
#   sh bench/fleet_bench.sh [FLOWS] [DIR]      (default 10500000 flows in /var/tmp/connrec-fbench)
#
# The store (built once by mkfixture, hash-chained so verify passes): FLOWS flows in 25 hourly
# segments, of which the 24 sealed ones hold the last day (>= 10M rows when FLOWS >= 10.42M); the
# active one, an hour ahead of "now", is removed, so ship sends all the local query reads. A
# ClickHouse server of the benchmark's own (tests/tools/clickhouse.sh) on a free port.
#
# Each round: an empty database, then
#   ship      connrec ship of the whole store (verify, decompress, read, RowBinary, INSERT)
#   baseline  curl posting the same conn rows as RowBinary (taken back from the server once;
#             streamed from the file with -T, --data-binary @FILE would load a GB into memory)
#             into a copy of the table: what the server alone takes for those bytes
# and after the last round, best of 3, alternated: Q1 --since 1h --port 53 (--count, and rows
# as JSON) with --from, and on the local store. The answers must be equal (checked).
set -eu
cd "$(dirname "$0")/.."
FLOWS=${1:-10500000}
DIR=${2:-/var/tmp/connrec-fbench}
ROUNDS=${FLEET_ROUNDS:-3}
BIN=${CONNREC_BIN:-$PWD/connrec}
MK=${CONNREC_OUTPUT:-$PWD/.output}/tools/mkfixture
. tests/tools/clickhouse.sh
command -v clickhouse-server >/dev/null || { echo "needs clickhouse-server (tools/install-deps.sh)"; exit 1; }

mkdir -p "$DIR"
if [ ! -f "$DIR/store.flows" ] || [ "$(cat "$DIR/store.flows")" != "$FLOWS" ]; then
	rm -rf "$DIR/store"
	now=$(date +%s)
	echo "$now" >"$DIR/store.now"
	"$MK" big "$DIR/store" "$FLOWS" 25 "$((now + 3600))" $((25 * 3600)) 2>/dev/null
	# The active segment lies in the future; without it, the store is what ship sends.
	rm -f "$DIR/store"/seg-*.db "$DIR/store"/seg-*.db-*
	echo "$FLOWS" >"$DIR/store.flows"
fi
NOW="@$(cat "$DIR/store.now")"

CH_DIR=$DIR/ch
rm -rf "$CH_DIR"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cleanup() {
	[ -n "${CH_PID:-}" ] && kill "$CH_PID" 2>/dev/null && wait "$CH_PID" 2>/dev/null
	rm -rf "$CH_DIR" "$DIR/conn.rowbinary" "$DIR/secs.err"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
ch_start "$CH_DIR" "$port"
URL=$CH_URL
printf 'shipper:s3cret\n' >"$CH_DIR/auth"
chmod 600 "$CH_DIR/auth"

secs() { # runs "$@" (output discarded), prints its wall time in seconds; a failure ends the run
	_s=$(date +%s.%N)
	"$@" >/dev/null 2>"$DIR/secs.err" || { echo "failed: $*" >&2; tail -n 5 "$DIR/secs.err" >&2; exit 1; }
	_e=$(date +%s.%N)
	printf '%.3f\n' "$(echo "$_e - $_s" | bc)"
}
min() { printf '%s\n' "$@" | sort -g | head -n 1; }
median() { printf '%s\n' "$@" | sort -g | sed -n "$((($# + 1) / 2))p"; }

cols=$("$BIN" ship --schema | sed -n '/CREATE TABLE IF NOT EXISTS connrec.conn$/,/^)/p' |
	sed -n 's/^    \([a-z_]*\) .*/\1/p' | paste -sd, -)
ship_t="" base_t=""
for r in $(seq "$ROUNDS"); do
	ch_q "DROP DATABASE IF EXISTS connrec"
	"$BIN" ship --schema --to "$URL" --auth "$CH_DIR/auth" 2>/dev/null
	t=$(secs "$BIN" ship --to "$URL" --auth "$CH_DIR/auth" -d "$DIR/store" --no-progress)
	ship_t="$ship_t $t"
	echo "round $r: ship $t s" >&2
	if [ "$r" = 1 ]; then
		# Every row shipped, as the markers count them (all tables but the markers).
		rows=$(ch_q "SELECT sum(conn_rows + end_rows + gap_rows + run_rows + life_rows
			+ life_exit_rows + cgroup_rows + anchor_rows) FROM connrec.segments")
		conn_rows=$(ch_q "SELECT count() FROM connrec.conn")
		curl -sS -u shipper:s3cret "$URL" --data-binary "SELECT $cols FROM connrec.conn FORMAT RowBinary" \
			>"$DIR/conn.rowbinary"
		mb=$(echo "scale=1; $(stat -c %s "$DIR/conn.rowbinary") / 1000000" | bc)
	fi
	ch_q "CREATE TABLE connrec.conn_copy AS connrec.conn"
	t=$(secs curl -sS -u shipper:s3cret "${URL}?query=INSERT%20INTO%20connrec.conn_copy%20($cols)%20FORMAT%20RowBinary" \
		-X POST -T "$DIR/conn.rowbinary")
	base_t="$base_t $t"
	echo "round $r: baseline $t s ($conn_rows conn rows, $rows rows in all, $mb MB)" >&2
	[ "$(ch_q "SELECT count() FROM connrec.conn_copy")" = "$conn_rows" ] || { echo "baseline lost rows"; exit 1; }
	ch_q "DROP TABLE connrec.conn_copy"
done
# shellcheck disable=SC2086
ship_m=$(median $ship_t)
# shellcheck disable=SC2086
base_m=$(median $base_t)

rq() { "$BIN" query --from "$URL" --now "$NOW" --since 1h --port 53 "$@"; }
lq() { "$BIN" query -d "$DIR/store" --now "$NOW" --since 1h --port 53 "$@"; }
[ "$(rq --count)" = "$(lq --count)" ] || { echo "--from and local answers differ"; exit 1; }
rq -o json >"$DIR/q.remote"
lq -o json >"$DIR/q.local"
cmp -s "$DIR/q.remote" "$DIR/q.local" || { echo "--from and local rows differ"; exit 1; }
answer=$(lq --count)
rm -f "$DIR/q.remote" "$DIR/q.local"
rc="" lc="" rj="" lj=""
for i in 1 2 3; do
	rc="$rc $(secs rq --count)"
	lc="$lc $(secs lq --count)"
	rj="$rj $(secs rq -o json)"
	lj="$lj $(secs lq -o json)"
	echo "Q1 round $i: --from count$rc; local count$lc; --from json$rj; local json$lj" >&2
done

r() { echo "scale=2; $1 / $2" | bc; }
# shellcheck disable=SC2086
cat <<EOT
store: $FLOWS flows, $(ls "$DIR/store" | wc -l) segments ($(du -sh "$DIR/store" | cut -f1)); shipped: $rows rows ($conn_rows conn), ClickHouse $(ch_q 'SELECT version()'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)

| what | time (rounds: median, all) | rows/s | ratio |
|---|---|---|---|
| connrec ship, whole store | $ship_m s ($(echo $ship_t)) | $(echo "$rows / $ship_m" | bc) | $(r "$ship_m" "$base_m") x baseline |
| baseline: curl INSERT of the conn rows as RowBinary ($mb MB) | $base_m s ($(echo $base_t)) | $(echo "$conn_rows / $base_m" | bc) | 1 |

| Q1 --since 1h --port 53 ($answer lifetimes) | query --from (best of 3) | local store (best of 3) | ratio --from/local |
|---|---|---|---|
| --count | $(min $rc) s | $(min $lc) s | $(r "$(min $rc)" "$(min $lc)") |
| rows as JSON | $(min $rj) s | $(min $lj) s | $(r "$(min $rj)" "$(min $lj)") |
EOT
