#!/bin/sh
# SPDX-License-Identifier: MIT
# Hostile and damaged evidence: random bytes, truncated, bit-flipped, foreign SQLite, a newer
# schema, an altered schema, a zstd bomb, garbage .zst. Each must give a clear one-line error
# (or a partial result with a warning), exit 1, never a crash (signal) or a hang. A store with
# one damaged segment still answers from the others.
set -u
cd "$(dirname "$0")/../.." || exit 1
BIN=${CONNREC_BIN:-$PWD/connrec}
OUT=${CONNREC_OUTPUT:-$PWD/.output}
MK=$OUT/tools/mkfixture
[ -x "$MK" ] || { echo "mkfixture not built ($MK): run make tools"; exit 1; }
tmp=$(mktemp -d /tmp/connrec-hostile.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# The reader's private copies go to a temp dir of this test's own, so the check that none is
# left behind sees only this test's (other tests may run queries at the same time).
mkdir "$tmp/tmpdir"
export TMPDIR="$tmp/tmpdir"
"$MK" golden "$tmp/store" || exit 1
S=$tmp/store
H=$tmp/h
mkdir "$H"
pass=0 fail=0
ok() { pass=$((pass + 1)); }
no() { fail=$((fail + 1)); echo "FAIL $*"; }

# Plain uncompressed copies to damage.
zstd -q -d "$S/seg-00000001.db.zst" -o "$H/good.db"
cp "$S/seg-00000002.db" "$H/good2.db"
head -c 65536 /dev/urandom >"$H/random.db"
: >"$H/empty.db"
head -c 10000 "$H/good.db" >"$H/truncated.db"
head -c 100 "$H/good.db" >"$H/header-only.db"
sqlite3 "$H/foreign.db" "CREATE TABLE moz_places(id INTEGER PRIMARY KEY, url TEXT); INSERT INTO moz_places VALUES (1, 'x');"
sqlite3 "$H/foreign-conn.db" "CREATE TABLE conn(a); CREATE TABLE meta(k, v);"
"$MK" newer "$H/newer.db"
cp "$H/good.db" "$H/altered.db"
sqlite3 "$H/altered.db" "CREATE TRIGGER evil AFTER INSERT ON gap BEGIN SELECT 1; END;"
cp "$H/good.db" "$H/extra-view.db"
sqlite3 "$H/extra-view.db" "CREATE VIEW x AS SELECT * FROM conn;"
head -c 4096 /dev/urandom >"$H/random.db.zst"
printf '\050\265\057\375garbage' >"$H/badframe.db.zst"
sz=$(stat -c %s "$S/seg-00000001.db.zst")
head -c $((sz / 2)) "$S/seg-00000001.db.zst" >"$H/truncated.db.zst"
# A bomb: 200 MiB of zeros compresses to a few KiB; the cap below is 16 MiB.
head -c 209715200 /dev/zero | zstd -q -19 -o "$H/bomb.db.zst"
# Bit flips at many offsets through the b-tree pages.
i=0
size=$(stat -c %s "$H/good.db")
for off in 100 500 1100 4200 5000 8300 12000 16500 20000 24600 30000 36000 40000 44000; do
	[ "$off" -lt "$size" ] || continue
	cp "$H/good.db" "$H/flip$i.db"
	b=$(od -An -tu1 -j "$off" -N1 "$H/flip$i.db" | tr -d ' ')
	printf "$(printf '\\%03o' $(( (b ^ 0x55) & 255 )))" |
		dd of="$H/flip$i.db" bs=1 seek="$off" conv=notrunc status=none
	i=$((i + 1))
done

check() { # FILE EXPECT(regex on stderr) [exit status, default 1]
	f=$1
	want=$2
	code=${3:-1}
	timeout 20 "$BIN" query -f "$f" --max-unpacked 16M -o json >"$tmp/o" 2>"$tmp/e"
	rc=$?
	if [ $rc -ge 124 ]; then
		no "$f: exit $rc (crash or hang)"
		cat "$tmp/e"
	elif [ $rc -ne "$code" ]; then
		no "$f: exit $rc, want $code"
		cat "$tmp/e"
	elif ! grep -Eq "$want" "$tmp/e"; then
		no "$f: stderr does not match /$want/:"
		cat "$tmp/e"
	else
		ok
	fi
}

check "$H/random.db" "random.db: not an SQLite database"
check "$H/empty.db" "empty.db: not an SQLite database"
check "$H/header-only.db" "header-only.db: .*(damaged|malformed|schema|SQLite)"
check "$H/truncated.db" "truncated.db: .*(damaged|malformed|schema)"
check "$H/foreign.db" "foreign.db: not a connrec segment: a foreign SQLite database \(tables: moz_places\)"
check "$H/foreign-conn.db" "foreign-conn.db: .*(not a connrec segment|unknown schema version 0)"
check "$H/newer.db" "newer.db: schema version 99 is newer"
check "$H/altered.db" "altered.db: schema differs .*trigger 'evil'"
check "$H/extra-view.db" "extra-view.db: schema differs .*view 'x'"
check "$H/random.db.zst" "random.db.zst: not a zstd"
check "$H/badframe.db.zst" "badframe.db.zst: not a valid zstd file"
check "$H/truncated.db.zst" "truncated.db.zst: truncated zstd"
check "$H/bomb.db.zst" "bomb.db.zst: decompresses to more than 16777216 bytes"
check "$H/missing.db" "missing.db: No such file"
check "$H" "not a regular file"
# Bit flips: either a clean answer (the flip hit unused bytes) or a one-line error; never a crash.
j=0
while [ $j -lt $i ]; do
	timeout 20 "$BIN" query -f "$H/flip$j.db" -o json >"$tmp/o" 2>"$tmp/e"
	rc=$?
	if [ $rc -ge 124 ] || { [ $rc -ne 0 ] && [ $rc -ne 1 ]; }; then
		no "flip$j.db: exit $rc"
		cat "$tmp/e"
	elif [ $rc -eq 1 ] && ! grep -q "flip$j.db" "$tmp/e"; then
		no "flip$j.db: failed without naming the file"
		cat "$tmp/e"
	else
		ok
	fi
	j=$((j + 1))
done
# Nothing may be left behind in the temp dir by any of the above.
left=$(find "$TMPDIR" -mindepth 1 -maxdepth 1 | wc -l)
[ "$left" -eq 0 ] && ok || no "$left private temp dirs left behind"

# Partial result: a data dir with one damaged sealed segment still answers from the others,
# warns naming it, and exits 1.
P=$tmp/partial
mkdir "$P"
cp "$S/seg-00000002.db" "$P/"
head -c 2000 "$S/seg-00000001.db.zst" >"$P/seg-00000001.db.zst"
"$BIN" query -d "$P" --now 2026-11-21T04:00:00Z -o csv >"$tmp/o" 2>"$tmp/e"
rc=$?
if [ $rc -eq 1 ] && grep -q "seg-00000001.db.zst" "$tmp/e" && grep -q ',wget,' "$tmp/o"; then
	ok
else
	no "partial store: exit $rc"
	cat "$tmp/e"
fi
# A good file next to a bad one on the command line: rows from the good one, exit 1.
"$BIN" query -f "$H/random.db" -f "$H/good2.db" -o csv >"$tmp/o" 2>"$tmp/e"
rc=$?
[ $rc -eq 1 ] && grep -q ',wget,' "$tmp/o" && ok || no "good+bad files: exit $rc"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
