#!/bin/sh
# SPDX-License-Identifier: MIT
# Long filter lists: a responder's IOC list of 100,000 addresses (or ports) against a store.
#   sh bench/filter_bench.sh [FLOWS] [DIR]   (default 2000000 flows in /var/tmp/connrec-fbench)
# Builds (once) a store of FLOWS flows in 4 segments (3 sealed .zst, one active) and a
# decompressed copy, then lists: 100,000 random IPv4 addresses and blocks with 1,000 of the
# store's remote addresses among them, and 100,000 ports. Times, best of 3 on the decompressed
# copy with --no-check (the filter, not the evidence handling): a scan without a filter, one
# address, the 1,000 real addresses, the 100,000-entry list, and the ports; and checks that
# the 100,000-entry answer is the one a plain filter of the unfiltered output gives.
set -eu
cd "$(dirname "$0")/.."
FLOWS=${1:-2000000}
DIR=${2:-/var/tmp/connrec-fbench}
BIN=${CONNREC_BIN:-$PWD/connrec}
MK=${CONNREC_OUTPUT:-$PWD/.output}/tools/mkfixture
mkdir -p "$DIR"
if [ ! -f "$DIR/store.flows" ] || [ "$(cat "$DIR/store.flows")" != "$FLOWS" ]; then
	rm -rf "$DIR/store" "$DIR/plain"
	date +%s >"$DIR/store.end"
	"$MK" big "$DIR/store" "$FLOWS" 4 "$(cat "$DIR/store.end")" 14400 >/dev/null 2>&1
	mkdir "$DIR/plain"
	for f in "$DIR"/store/*.db.zst; do zstd -q -d "$f" -o "$DIR/plain/$(basename "$f" .zst)"; done
	cp "$DIR"/store/*.db "$DIR/plain/"
	echo "$FLOWS" >"$DIR/store.flows"
fi
NOW="@$(cat "$DIR/store.end")"
Q="query -d $DIR/plain --now $NOW --no-check"
# 1,000 real remote addresses, then 99,000 random ones (and every 100th a /24 block).
sqlite3 "file:$DIR/plain/seg-00000002.db?immutable=1" \
	"SELECT DISTINCT raddr FROM conn WHERE length(raddr) = 4 LIMIT 1000" -cmd ".mode quote" |
	sed "s/^X'\(..\)\(..\)\(..\)\(..\)'$/\1 \2 \3 \4/" |
	while read -r a b c d; do printf '%d.%d.%d.%d\n' "0x$a" "0x$b" "0x$c" "0x$d"; done >"$DIR/real.txt"
awk -v seed=7 'BEGIN { srand(seed); print "# 100,000 indicators"
	for (i = 0; i < 99000; i++) {
		a = int(rand() * 223) + 1; b = int(rand() * 256); c = int(rand() * 256); d = int(rand() * 256)
		if (i % 100 == 0) printf "%d.%d.%d.0/24   # block %d\n", a, b, c, i
		else printf "%d.%d.%d.%d\n", a, b, c, d
	} }' >"$DIR/ioc.txt"
cat "$DIR/real.txt" >>"$DIR/ioc.txt"
awk 'BEGIN { srand(11); for (i = 0; i < 100000; i++) print int(rand() * 65536) }' >"$DIR/ports.txt"
echo "lists: $(grep -vc '^#' "$DIR/ioc.txt") address entries ($(wc -l <"$DIR/real.txt") from the store), $(wc -l <"$DIR/ports.txt") ports"

best() { # the best wall time of 3 runs of "$@" (output discarded), in seconds
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

# Correctness: the 100,000-entry filter against awk over the unfiltered output (either end,
# exact addresses and /24 blocks).
# shellcheck disable=SC2086
"$BIN" $Q -o csv 2>/dev/null | tail -n +2 >"$DIR/all.csv"
awk -F, 'NR == FNR { if ($1 ~ /^#/) next; sub(/ .*/, "", $1)
		if ($1 ~ /\/24$/) { sub(/\.0\/24$/, "", $1); blk[$1] = 1 } else ip[$1] = 1; next }
	function hit(a,  p) { if (a in ip) return 1; p = a; sub(/\.[0-9]+$/, "", p); return p in blk }
	hit($7) || hit($9)' "$DIR/ioc.txt" "$DIR/all.csv" | sort >"$DIR/want.csv"
# shellcheck disable=SC2086
"$BIN" $Q --addr "@$DIR/ioc.txt" -o csv 2>/dev/null | tail -n +2 | sort >"$DIR/got.csv"
if cmp -s "$DIR/want.csv" "$DIR/got.csv"; then
	echo "answer: $(wc -l <"$DIR/got.csv") of $(wc -l <"$DIR/all.csv") lifetimes match the 100,000 entries, as awk finds"
else
	echo "MISMATCH: connrec $(wc -l <"$DIR/got.csv") rows, awk $(wc -l <"$DIR/want.csv")"
	exit 1
fi
one=$(head -n 1 "$DIR/real.txt")
# shellcheck disable=SC2086
t0=$(best "$BIN" $Q --count)
# shellcheck disable=SC2086
t1=$(best "$BIN" $Q --addr "$one" --count)
# shellcheck disable=SC2086
t2=$(best "$BIN" $Q --addr "@$DIR/real.txt" --count)
# shellcheck disable=SC2086
t3=$(best "$BIN" $Q --addr "@$DIR/ioc.txt" --count)
# shellcheck disable=SC2086
t4=$(best "$BIN" $Q --addr "@$DIR/ioc.txt" -o csv)
# shellcheck disable=SC2086
t5=$(best "$BIN" $Q --port "@$DIR/ports.txt" --count)
cat <<EOT
| filter ($FLOWS flows, decompressed, --no-check) | time |
|---|---|
| none (--count) | ${t0} s |
| --addr one address (--count) | ${t1} s |
| --addr @FILE, 1,000 addresses (--count) | ${t2} s |
| --addr @FILE, 100,000 entries (--count) | ${t3} s |
| --addr @FILE, 100,000 entries (-o csv) | ${t4} s |
| --port @FILE, 100,000 ports (--count) | ${t5} s |
EOT
