#!/bin/sh
# SPDX-License-Identifier: MIT
# Query latency on a large generated store, against the same questions asked of plain sqlite3.
#   sh bench/query_bench.sh [FLOWS] [DIR]     (default 10000000 flows in /var/tmp/connrec-qbench)
# Builds (once) a store of FLOWS flows over the last 24 h in 24 hourly segments (23 sealed and
# zstd-compressed, the last one active), and a decompressed copy for sqlite3. Times, best of 3:
#   Q1  --since 1h --port 53       (who did DNS in the last hour)
#   Q2  full-window count           (every lifetime in the store)
#   Q3  --port RARE, all time        (a selective question over the whole store)
# for connrec on the real store (.db.zst: includes decompression, or reading the frames in
# place, and PRAGMA quick_check where it runs), with --no-check, and on the decompressed copy;
# and for sqlite3 on the decompressed copy. Peak RSS (KB, GNU time) of one connrec run each.
set -eu
cd "$(dirname "$0")/.."
FLOWS=${1:-10000000}
DIR=${2:-/var/tmp/connrec-qbench}
BIN=${CONNREC_BIN:-$PWD/connrec}
MK=${CONNREC_OUTPUT:-$PWD/.output}/tools/mkfixture
mkdir -p "$DIR"
if [ ! -f "$DIR/store.flows" ] || [ "$(cat "$DIR/store.flows")" != "$FLOWS" ]; then
	rm -rf "$DIR/store" "$DIR/plain"
	date +%s >"$DIR/store.end"
	"$MK" big "$DIR/store" "$FLOWS" 24 "$(cat "$DIR/store.end")" 86400
	mkdir "$DIR/plain"
	for f in "$DIR"/store/*.db.zst; do zstd -q -d "$f" -o "$DIR/plain/$(basename "$f" .zst)"; done
	cp "$DIR"/store/*.db "$DIR/plain/"
	echo "$FLOWS" >"$DIR/store.flows"
fi
# "Now" is pinned to the store's end, so the windows and counts are the same on every run.
END=$(cat "$DIR/store.end")
NOW="@$END"
SINCE_NS=$(( (END - 3600) * 1000000000 ))
END_NS=$(( END * 1000000000 ))

best() { # prints the best wall time of 3 runs of "$@" (output discarded) in seconds
	b=""
	for _ in 1 2 3; do
		s=$(date +%s.%N)
		"$@" >/dev/null 2>&1
		e=$(date +%s.%N)
		t=$(echo "$e - $s" | bc)
		if [ -z "$b" ] || [ "$(echo "$t < $b" | bc)" = 1 ]; then b=$t; fi
	done
	printf '%.3f' "$b"
}

sq_q1() {
	for f in "$DIR"/plain/*.db; do
		sqlite3 "file:$f?immutable=1" "SELECT count(*) FROM conn c LEFT JOIN conn_end e ON e.id = c.id
			WHERE (c.lport = 53 OR c.rport = 53) AND c.start_ns <= $END_NS
			AND COALESCE(c.start_ns + c.dur_ns, e.end_ns, $END_NS) >= $SINCE_NS
			AND (c.flags & 2) = 0"
	done | awk '{s += $1} END {print s}'
}
sq_q1_last2() {
	for f in $(ls "$DIR"/plain/*.db | tail -n 2); do
		sqlite3 "file:$f?immutable=1" "SELECT count(*) FROM conn c LEFT JOIN conn_end e ON e.id = c.id
			WHERE (c.lport = 53 OR c.rport = 53) AND c.start_ns <= $END_NS
			AND COALESCE(c.start_ns + c.dur_ns, e.end_ns, $END_NS) >= $SINCE_NS
			AND (c.flags & 2) = 0"
	done | awk '{s += $1} END {print s}'
}
# A local port mkfixture gives about one flow in 28,000.
RARE=40000
sq_q3() {
	for f in "$DIR"/plain/*.db; do
		sqlite3 "file:$f?immutable=1" "SELECT count(*) FROM conn
			WHERE (lport = $RARE OR rport = $RARE) AND (flags & 2) = 0"
	done | awk '{s += $1} END {print s}'
}
rss() { # peak RSS in KB of one run of "$@"
	/usr/bin/time -f 'RSS %M' "$@" 2>&1 >/dev/null | sed -n 's/^RSS //p' | tail -n 1
}
sq_q2() {
	for f in "$DIR"/plain/*.db; do
		sqlite3 "file:$f?immutable=1" "SELECT count(*) FROM conn WHERE (flags & 2) = 0"
	done | awk '{s += $1} END {print s}'
}

echo "store: $FLOWS flows, $(ls "$DIR/store" | wc -l) segments, $(du -sh "$DIR/store" | cut -f1) (.zst), $(du -sh "$DIR/plain" | cut -f1) decompressed"
echo "answers: Q1 connrec=$("$BIN" query -d "$DIR/store" --now "$NOW" --since 1h --port 53 --count 2>/dev/null) sqlite3=$(sq_q1)  Q2 connrec=$("$BIN" query -d "$DIR/store" --now "$NOW" --count 2>/dev/null) sqlite3=$(sq_q2)  Q3 connrec=$("$BIN" query -d "$DIR/store" --now "$NOW" --port $RARE --count 2>/dev/null) sqlite3=$(sq_q3)"
c1=$(best "$BIN" query -d "$DIR/store" --now "$NOW" --since 1h --port 53 --count)
c1n=$(best "$BIN" query -d "$DIR/store" --now "$NOW" --since 1h --port 53 --count --no-check)
c1j=$(best "$BIN" query -d "$DIR/store" --now "$NOW" --since 1h --port 53 -o json)
c1p=$(best "$BIN" query -d "$DIR/plain" --now "$NOW" --since 1h --port 53 --count)
s1=$(best sq_q1)
s1l=$(best sq_q1_last2)
c2=$(best "$BIN" query -d "$DIR/store" --now "$NOW" --count)
c2n=$(best "$BIN" query -d "$DIR/store" --now "$NOW" --count --no-check)
c2p=$(best "$BIN" query -d "$DIR/plain" --now "$NOW" --count)
c2pn=$(best "$BIN" query -d "$DIR/plain" --now "$NOW" --count --no-check)
s2=$(best sq_q2)
c3=$(best "$BIN" query -d "$DIR/store" --now "$NOW" --port $RARE --count)
s3=$(best sq_q3)
m1=$(rss "$BIN" query -d "$DIR/store" --now "$NOW" --since 1h --port 53 --count)
m2=$(rss "$BIN" query -d "$DIR/store" --now "$NOW" --count)
m3=$(rss "$BIN" query -d "$DIR/store" --now "$NOW" --port $RARE --count)
r() { echo "scale=2; $1 / $2" | bc; }
cat <<EOT
| question | connrec (.zst store) | connrec --no-check | connrec (decompressed copy) | sqlite3 (decompressed copy) | ratio connrec/sqlite3 |
|---|---|---|---|---|---|
| Q1 --since 1h --port 53 (count) | ${c1} s | ${c1n} s | ${c1p} s | ${s1} s all files, ${s1l} s last 2 files | $(r "$c1" "$s1") (vs all files), $(r "$c1" "$s1l") (vs last 2) |
| Q1 as JSON rows | ${c1j} s | | | | |
| Q2 full-window count | ${c2} s | ${c2n} s | ${c2p} s (${c2pn} s --no-check) | ${s2} s | $(r "$c2" "$s2") (.zst, checked), $(r "$c2pn" "$s2") (same files, no check) |
| Q3 --port $RARE, all time (count) | ${c3} s | | | ${s3} s | $(r "$c3" "$s3") |

peak RSS of connrec on the .zst store: Q1 ${m1} KB, Q2 ${m2} KB, Q3 ${m3} KB
EOT
