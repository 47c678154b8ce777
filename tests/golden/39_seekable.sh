#!/bin/sh
# SPDX-License-Identifier: MIT
# Sealed segments in the seekable layout (docs/store.md, "Sealed segment layout"), read in
# place through the evidence reader's VFS: the same answers as plain sqlite3 on `zstd -d`
# copies and as an older single-frame copy of the same segment, no private copy, nothing
# written beside the evidence, and every damaged seek table or frame an error that names the
# segment and says what is wrong (never a crash or a hang).
set -u
cd "$(dirname "$0")/../.." || exit 1
BIN=${CONNREC_BIN:-$PWD/connrec}
OUT=${CONNREC_OUTPUT:-$PWD/.output}
MK=$OUT/tools/mkfixture
[ -x "$MK" ] || { echo "mkfixture not built ($MK): run make tools"; exit 1; }
for t in python3 sqlite3 zstd; do
	command -v $t >/dev/null || { echo "skip: no $t"; exit 77; }
done
tmp=$(mktemp -d /tmp/connrec-seekable.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
no() { fail=$((fail + 1)); echo "FAIL $*"; }
run() { # command...: stdout, stderr to $tmp/o, $tmp/e; a crash or hang is a failure
	timeout 60 "$@" >"$tmp/o" 2>"$tmp/e"
	rc=$?
	[ $rc -lt 124 ] || { no "$*: exit $rc (hang or crash)"; cat "$tmp/e"; }
}
snapshot() { (cd "$1" && find . -type f | sort | xargs sha256sum) >"$2"; }

# Three segments of 10,000 flows: two sealed (several frames each), the last one active.
"$MK" big "$tmp/store" 30000 3 1795230000 7200 >/dev/null 2>&1 || { echo "mkfixture failed"; exit 1; }
S=$tmp/store
Z=$S/seg-00000001.db.zst
frames=$(python3 -c 'import sys,struct; print(struct.unpack("<I", open(sys.argv[1],"rb").read()[-9:-5])[0])' "$Z")
[ "$frames" -ge 3 ] && ok || no "the fixture's segment has $frames frames, the test wants several"

# ---- 1. Same answers as sqlite3 on zstd -d copies, read in place, nothing written ----
mkdir "$tmp/plain"
for f in "$S"/*.db.zst; do zstd -q -d "$f" -o "$tmp/plain/$(basename "$f" .zst)"; done
cp "$S"/seg-00000003.db "$tmp/plain/"
want=$(for f in "$tmp"/plain/*.db; do
	sqlite3 "file:$f?immutable=1" "SELECT count(*) FROM conn WHERE (flags & 2) = 0"
done | awk '{s += $1} END {print s}')
snapshot "$S" "$tmp/before"
# --max-unpacked 1: any private copy of a sealed segment would fail the query.
run "$BIN" query -d "$S" --now @1795230000 --count --max-unpacked 1 -v
snapshot "$S" "$tmp/after"
[ $rc -eq 0 ] && [ "$(cat "$tmp/o")" = "$want" ] && ok ||
	{ no "count $(cat "$tmp/o") (exit $rc), sqlite3 says $want"; cat "$tmp/e"; }
# (A sealed segment may be opened twice: once for the seal records its successor holds.)
[ "$(grep 'seekable, pages served from its frames' "$tmp/e" | sort -u | wc -l)" -eq 2 ] && ok ||
	{ no "the sealed segments were not read in place"; cat "$tmp/e"; }
cmp -s "$tmp/before" "$tmp/after" && ok || no "reading changed the store"
run "$BIN" query -d "$S" --now @1795230000 --port 53 -o csv
cp "$tmp/o" "$tmp/dns.csv"
run "$BIN" query -d "$tmp/plain" --now @1795230000 --port 53 -o csv
cmp -s "$tmp/o" "$tmp/dns.csv" && [ -s "$tmp/o" ] && ok ||
	no "rows from the .zst store differ from the decompressed copy"

# Windows that start early, midway and late in a sealed segment: the same counts as sqlite3.
for ago in 600 1500 3000 4500 7000; do
	since=$((1795230000 - ago))
	for port in "" 53; do
		cond=""
		[ -n "$port" ] && cond="AND (c.lport = $port OR c.rport = $port)"
		w=$(for f in "$tmp"/plain/*.db; do
			sqlite3 "file:$f?immutable=1" "SELECT count(*) FROM conn c LEFT JOIN conn_end e ON e.id = c.id
				WHERE (c.flags & 2) = 0 AND c.start_ns <= 1795230000000000000 $cond
				AND COALESCE(c.start_ns + c.dur_ns, e.end_ns, 1795230000000000000) >= ${since}000000000"
		done | awk '{s += $1} END {print s}')
		run "$BIN" query -d "$S" --now @1795230000 --since @$since ${port:+--port $port} --count
		[ $rc -eq 0 ] && [ "$(cat "$tmp/o")" = "$w" ] && ok ||
			{ no "--since @$since ${port:+--port $port}: count $(cat "$tmp/o") (exit $rc), sqlite3 says $w"; cat "$tmp/e"; }
	done
done

# The same windows as rows: from the .zst store (vouched by the chain, so read from where the
# end zones allow) and from the decompressed copy (not vouched: read whole).
for ago in 600 3000 3700 7000; do
	run "$BIN" query -d "$S" --now @1795230000 --since @$((1795230000 - ago)) --port 53 -o csv
	cp "$tmp/o" "$tmp/zoned.csv"
	run "$BIN" query -d "$tmp/plain" --now @1795230000 --since @$((1795230000 - ago)) --port 53 -o csv
	[ -s "$tmp/o" ] && cmp -s "$tmp/o" "$tmp/zoned.csv" && ok ||
		no "--since @$((1795230000 - ago)): rows read with the end zones differ from the copy's"
done
[ -n "$(sqlite3 "file:$tmp/plain/seg-00000001.db?immutable=1" "SELECT value FROM meta WHERE key = 'conn_end_zones'")" ] &&
	ok || no "sealing stored no conn_end_zones"

# A --count of the active segment is read while its check runs, in one pass where a port is
# asked for: every filter C applies (durations, which the SQL of that pass leaves to C) gives
# the count the rows give.
for args in "--port 53 --max-duration 2s" "--port 53 --min-duration 3s" "--since @1795229000 --port 53 --max-duration 1s" "--proto udp --max-duration 2s"; do
	run "$BIN" query -d "$S" --now @1795230000 $args -o csv
	rows=$(($(wc -l <"$tmp/o") - 1))
	run "$BIN" query -d "$S" --now @1795230000 $args --count
	[ $rc -eq 0 ] && [ "$(cat "$tmp/o")" = "$rows" ] && [ "$rows" -gt 0 ] && ok ||
		{ no "$args --count: $(cat "$tmp/o") (exit $rc), but $rows rows"; cat "$tmp/e"; }
done

# --limit keeps only the first N rows of the order as they come (a heap, not every row):
# the same rows as the head of the whole sorted list, oldest and newest first.
for order in oldest newest; do
	run "$BIN" query -d "$S" --now @1795230000 --port 53 --order $order -o csv
	head -n 8 "$tmp/o" >"$tmp/head.csv"
	[ "$(wc -l <"$tmp/o")" -gt 1000 ] || no "--order $order: too few rows to test --limit"
	run "$BIN" query -d "$S" --now @1795230000 --port 53 --order $order --limit 7 -o csv
	cmp -s "$tmp/o" "$tmp/head.csv" && ok || { no "--order $order --limit 7 is not the head of the list"; diff "$tmp/o" "$tmp/head.csv" | head -5; }
done

# With --limit, oldest first, a sealed segment whose rows all begin after the last row kept
# (meta first_ns) is not scanned; one that holds a flow which began earlier (a young flow
# stored whole after a rotation) is. Segment 2 given such a flow (and the span that says so):
# it is among the first rows.
mkdir "$tmp/early"
cp "$S/seg-00000001.db.zst" "$S/seg-00000003.db" "$tmp/early/"
cp "$tmp/plain/seg-00000002.db" "$tmp/early/"
t1=$(sqlite3 "file:$tmp/plain/seg-00000001.db?immutable=1" "SELECT min(start_ns) + 1 FROM conn")
sqlite3 "$tmp/early/seg-00000002.db" "INSERT INTO conn VALUES (999999, $t1, 17, 4, 0, X'0a000001', 40000,
	X'0a000035', 53, 1, 0, 1000, NULL, NULL, 1); UPDATE meta SET value = '$t1' WHERE key = 'first_ns'"
run "$BIN" query -d "$tmp/early" --now @1795230000 --port 53 -o csv
head -n 6 "$tmp/o" >"$tmp/head.csv"
grep -q ',40000,' "$tmp/head.csv" || no "the early flow is not among the first rows"
run "$BIN" query -d "$tmp/early" --now @1795230000 --port 53 --limit 5 -o csv -v
cmp -s "$tmp/o" "$tmp/head.csv" && ok || { no "--limit 5 lost the flow segment 2 began early"; diff "$tmp/o" "$tmp/head.csv" | head -5; }
run "$BIN" query -d "$S" --now @1795230000 --port 53 --limit 5 -o csv -v
grep -q "seg-00000002.db.zst: its rows all begin after the first 5 kept; not read" "$tmp/e" && ok ||
	{ no "--limit 5 scanned a segment whose rows all begin later"; cat "$tmp/e"; }
# The same early flow in a copy the chain does not vouch for, whose first_ns still says its
# rows begin later (a lie verify names): --limit takes no file at its word, the rows are the same.
mkdir "$tmp/latefirst"
cp "$S/seg-00000001.db.zst" "$S/seg-00000003.db" "$tmp/latefirst/"
cp "$tmp/plain/seg-00000002.db" "$tmp/latefirst/"
sqlite3 "$tmp/latefirst/seg-00000002.db" "INSERT INTO conn VALUES (999999, $t1, 17, 4, 0, X'0a000001',
	40000, X'0a000035', 53, 1, 0, 1000, NULL, NULL, 1)"
run "$BIN" query -d "$tmp/latefirst" --now @1795230000 --port 53 --limit 5 -o csv
cmp -s "$tmp/o" "$tmp/head.csv" && ok ||
	{ no "--limit 5 hid the early flow of an unvouched segment whose first_ns lies"; diff "$tmp/o" "$tmp/head.csv" | head -5; }
# Two rows of one host with the same conn id and start (a copy that repeats an id with another
# port; the store never writes one): --limit cuts between them as the whole list does, oldest
# and newest first, and the whole list has one order, the one in which they were read.
mkdir "$tmp/dup"
cp "$tmp/plain/seg-00000001.db" "$tmp/plain/seg-00000002.db" "$S/seg-00000003.db" "$tmp/dup/"
did=$(sqlite3 "$tmp/dup/seg-00000002.db" "SELECT id FROM conn WHERE rport = 53 ORDER BY start_ns LIMIT 1")
sqlite3 "$tmp/dup/seg-00000003.db" "ATTACH '$tmp/dup/seg-00000002.db' AS o; INSERT INTO main.conn
	SELECT id, start_ns, proto, family, dir, laddr, 11111, raddr, rport, proc, flags, dur_ns,
	bytes_out, bytes_in, reason FROM o.conn WHERE id = $did"
for order in oldest newest; do
	run "$BIN" query -d "$tmp/dup" --now @1795230000 --port 53 --order $order -o csv
	cp "$tmp/o" "$tmp/dup.csv"
	k=$(grep -n ",$did," "$tmp/dup.csv" | head -n 1 | cut -d: -f1)
	[ "$(grep -c ",$did," "$tmp/dup.csv")" = 2 ] && [ "$(sed -n "$((k + 1))p" "$tmp/dup.csv" | grep -c ",$did,")" = 1 ] ||
		no "--order $order: the two rows with id $did are not side by side"
	# Oldest first, segment 2's row (read first) comes first; newest first, the list reversed.
	copy_first=0; [ $order = newest ] && copy_first=1
	[ "$(sed -n "${k}p" "$tmp/dup.csv" | grep -c ',11111,')" = $copy_first ] ||
		no "--order $order: the rows with id $did are not in the order they were read"
	run "$BIN" query -d "$tmp/dup" --now @1795230000 --port 53 --order $order --limit $((k - 1)) -o csv
	head -n "$k" "$tmp/dup.csv" | cmp -s "$tmp/o" - && ok ||
		{ no "--order $order --limit $((k - 1)) cut between two rows of one id otherwise"; head -n "$k" "$tmp/dup.csv" | diff "$tmp/o" - | cut -c1-120; }
done
# The early store with segment 2 sealed and vouched for (its hash in segment 3), its span
# telling the truth: the early flow is still among the first rows.
zstd -q -3 --check --rm "$tmp/early/seg-00000002.db" -o "$tmp/early/seg-00000002.db.zst"
sqlite3 "$tmp/early/seg-00000003.db" "UPDATE meta SET value = '$(sha256sum <"$tmp/early/seg-00000002.db.zst" | cut -c1-64)'
	WHERE key = 'prev_sha256'"
run "$BIN" query -d "$tmp/early" --now @1795230000 --port 53 --limit 5 -o csv -v
cmp -s "$tmp/o" "$tmp/head.csv" && grep -q "seg-00000002.db.zst: the store's records vouch for it" "$tmp/e" && ok ||
	{ no "--limit 5 lost the flow vouched segment 2 began early"; diff "$tmp/o" "$tmp/head.csv" | head -5; cat "$tmp/e"; }

# Windows that end early, midway and late in a sealed segment (a window end beyond a sealed
# segment's span is left out of its SQL, one inside it is not): the same counts as sqlite3.
for ago in 600 3000 4500 7000 9000; do
	until=$((1795230000 - ago))
	w=$(for f in "$tmp"/plain/*.db; do
		sqlite3 "file:$f?immutable=1" "SELECT count(*) FROM conn WHERE (flags & 2) = 0 AND start_ns <= ${until}000000000"
	done | awk '{s += $1} END {print s}')
	run "$BIN" query -d "$S" --now @1795230000 --until @$until --count
	[ $rc -eq 0 ] && [ "$(cat "$tmp/o")" = "$w" ] && ok ||
		{ no "--until @$until: count $(cat "$tmp/o") (exit $rc), sqlite3 says $w"; cat "$tmp/e"; }
done

# Sealing stores each segment's count of whole lifetimes (meta conn_whole), and a count over
# whole segments the hash chain vouches for is answered from it; the first check above proved
# it equal to sqlite3's. A copy whose conn_whole lies is not vouched for (its SHA-256 is not the
# recorded one): query counts its rows, and verify names the lie.
one=$(sqlite3 "file:$tmp/plain/seg-00000001.db?immutable=1" "SELECT count(*) FROM conn WHERE (flags & 2) = 0")
[ "$(sqlite3 "file:$tmp/plain/seg-00000001.db?immutable=1" "SELECT value FROM meta WHERE key = 'conn_whole'")" = "$one" ] &&
	ok || no "sealing stored no conn_whole of $one"
mkdir "$tmp/lie"
cp "$tmp/plain/seg-00000001.db" "$tmp/lie/"
sqlite3 "$tmp/lie/seg-00000001.db" "UPDATE meta SET value = value + 7 WHERE key = 'conn_whole'"
run "$BIN" query -d "$tmp/lie" --count
[ $rc -eq 0 ] && [ "$(cat "$tmp/o")" = "$one" ] && ok ||
	{ no "a copy with a wrong conn_whole counted $(cat "$tmp/o") (exit $rc), sqlite3 says $one"; cat "$tmp/e"; }
run "$BIN" verify -f "$tmp/lie/seg-00000001.db"
[ $rc -eq 1 ] && grep -q "^FAIL seg-00000001.db: its metadata says it holds $((one + 7)) whole lifetimes, but it holds $one" "$tmp/o" &&
	ok || { no "verify of a wrong conn_whole: exit $rc"; cat "$tmp/o" "$tmp/e"; }

# ---- 2. An older single-frame segment still reads, through a private copy ----
mkdir "$tmp/old"
zstd -q -d "$Z" -o "$tmp/old/seg-00000001.db"
zstd -q -3 --check "$tmp/old/seg-00000001.db" -o "$tmp/old/seg-00000001.db.zst"
rm "$tmp/old/seg-00000001.db"
run "$BIN" query -f "$tmp/old/seg-00000001.db.zst" -o csv -v
cp "$tmp/o" "$tmp/old.csv"
grep -q 'pages served from its frames' "$tmp/e" && no "a single-frame segment taken for seekable" || ok
run "$BIN" query -f "$Z" -o csv
[ -s "$tmp/o" ] && cmp -s "$tmp/o" "$tmp/old.csv" && ok ||
	no "a single-frame copy of the segment gives other rows"

# ---- 3. Check once: the hash chain vouches for a sealed segment, or it is checked ----
# mkfixture records each sealed segment's SHA-256 in the next one, as the recorder does.
run "$BIN" query -d "$S" --now @1795230000 --count
grep -q "2 segment(s) taken on trust of the hash chain .*: seg-00000001.db.zst .. seg-00000002.db.zst$" "$tmp/e" &&
	grep -q "1 segment(s) checked with quick_check: seg-00000003.db$" "$tmp/e" && ok ||
	{ no "chain-vouched segments not reported as such"; cat "$tmp/e"; }
# Another compression of the same .db: same rows, other bytes, so the chain does not vouch.
cp -a "$S" "$tmp/rezip"
cp "$tmp/old/seg-00000001.db.zst" "$tmp/rezip/seg-00000001.db.zst"
run "$BIN" query -d "$tmp/rezip" --now @1795230000 --count
[ "$(cat "$tmp/o")" = "$want" ] && grep -q "1 segment(s) taken on trust .*: seg-00000002.db.zst$" "$tmp/e" &&
	grep -q "2 segment(s) checked with quick_check: seg-00000001.db.zst, seg-00000003.db$" "$tmp/e" && ok ||
	{ no "a segment whose hash the chain does not record was not checked"; cat "$tmp/o" "$tmp/e"; }
# Alone, a segment has no successor to vouch for it; --no-check reports neither.
run "$BIN" query -f "$Z" --count
grep -q "1 segment(s) checked with quick_check: seg-00000001.db.zst$" "$tmp/e" && ! grep -q trust "$tmp/e" &&
	ok || { no "a segment without its successor was not checked"; cat "$tmp/e"; }
run "$BIN" query -d "$S" --now @1795230000 --count --no-check
grep -q "quick_check\|trust" "$tmp/e" && { no "--no-check still reports checks"; cat "$tmp/e"; } || ok

# The active segment is checked in a thread while the query reads (and counts it ahead): one
# that only quick_check finds damaged (a page no b-tree uses) gives no rows and no count, and
# is named; the others still answer.
cp -a "$S" "$tmp/dmg"
python3 - "$tmp/dmg/seg-00000003.db" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], 'rb').read())
size = struct.unpack('>H', b[16:18])[0] or 65536
b[28:32] = struct.pack('>I', struct.unpack('>I', b[28:32])[0] + 1)
open(sys.argv[1], 'wb').write(b + bytes(size if size > 1 else 65536))
PY
others=$(for f in "$tmp"/plain/seg-0000000[12].db; do
	sqlite3 "file:$f?immutable=1" "SELECT count(*) FROM conn WHERE (flags & 2) = 0 AND (lport = 53 OR rport = 53)"
done | awk '{s += $1} END {print s}')
for args in "--port 53 --count" "--since @1795229000 --port 53 --count" "--port 53 -o csv"; do
	run "$BIN" query -d "$tmp/dmg" --now @1795230000 $args
	dn=$(cat "$tmp/o")
	[ "$args" = "--port 53 -o csv" ] && dn=$(($(wc -l <"$tmp/o") - 1))
	[ "$args" = "--since @1795229000 --port 53 --count" ] && dwant=0 || dwant=$others
	[ $rc -eq 1 ] && [ "$dn" = "$dwant" ] && grep -q "seg-00000003.db: damaged (quick_check: .*never used.*); skipped" "$tmp/e" && ok ||
		{ no "a damaged active segment, $args: $dn (exit $rc), dwant $dwant"; cat "$tmp/e"; }
done

# Seal records (docs/store.md, "Checkpoints and seals") of segment 2, put in segment 3's
# anchor table: one that disagrees with the file outvotes the chain, and with --verify-key only
# a record whose MAC is right for that key vouches. seal_rec prints a record as the recorder
# makes it; with a key (k0 hex) it is sealed in epoch 3.
seal_rec() { # file sha256-to-claim [k0hex]
	python3 - "$@" <<'PY'
import hashlib, hmac, os, sys
f, sha = sys.argv[1], sys.argv[2]
line = ("connrec-anchor v=1 store=c99c97ade8f6800fbe67f7f4013e113e kind=seal seg=2 "
        "t=1795237200000000000 bytes=%d sha256=%s first=1795237200000000000 "
        "last=1795244400000000000" % (os.path.getsize(f), sha))
if len(sys.argv) > 3:
    k0 = bytes.fromhex(sys.argv[3])
    kid = hashlib.sha256(b"connrec-seal-key-id" + k0).hexdigest()[:16]
    k = k0
    for _ in range(3):
        k = hashlib.sha256(k).digest()
    line += " key=%s epoch=3" % kid
    line += " mac=" + hmac.new(k, line.encode(), hashlib.sha256).hexdigest()
print(line)
PY
}
vkey() { # k0hex: the verification key as keygen prints it
	python3 -c 'import hashlib,sys; k=bytes.fromhex(sys.argv[1]); print(hashlib.sha256(b"connrec-seal-key-id"+k).hexdigest()[:16]+"-"+sys.argv[1])' "$1"
}
K0=$(printf '%064x' 7) K1=$(printf '%064x' 8)
with_seal() { # name record: a copy of the store whose segment 3 holds the record
	rm -rf "$tmp/$1"
	cp -a "$S" "$tmp/$1"
	sqlite3 "$tmp/$1/seg-00000003.db" "INSERT INTO anchor(ts_ns, kind, line) VALUES (1, 'seal', '$2')" ||
		no "$1: cannot add the record"
}
Z2=$S/seg-00000002.db.zst
H2=$(sha256sum "$Z2" | cut -d' ' -f1)
with_seal rec_ok "$(seal_rec "$Z2" "$H2")"
run "$BIN" query -d "$tmp/rec_ok" --now @1795230000 --count
grep -q "2 segment(s) taken on trust .*: seg-00000001.db.zst .. seg-00000002.db.zst$" "$tmp/e" && ok ||
	{ no "a matching seal record: not trusted"; cat "$tmp/e"; }
with_seal rec_other "$(seal_rec "$Z2" "$(printf '%064x' 1)")"
run "$BIN" query -d "$tmp/rec_other" --now @1795230000 --count
[ "$(cat "$tmp/o")" = "$want" ] && grep -q "seg-00000002.db.zst: its size or SHA-256 differs from the seal record in" "$tmp/e" &&
	grep -q "1 segment(s) taken on trust .*: seg-00000001.db.zst$" "$tmp/e" &&
	grep -q "2 segment(s) checked with quick_check: seg-00000002.db.zst .. seg-00000003.db$" "$tmp/e" && ok ||
	{ no "a seal record naming another hash did not make the segment checked"; cat "$tmp/e"; }
# With a key: an unkeyed record proves nothing; a keyed one proves its own segment only.
run "$BIN" query -d "$tmp/rec_ok" --now @1795230000 --count --verify-key "$(vkey "$K0")"
grep -q "3 segment(s) checked with quick_check: seg-00000001.db.zst .. seg-00000003.db$" "$tmp/e" &&
	! grep -q trust "$tmp/e" && ok || { no "--verify-key trusted an unkeyed record"; cat "$tmp/e"; }
with_seal rec_keyed "$(seal_rec "$Z2" "$H2" "$K0")"
run "$BIN" query -d "$tmp/rec_keyed" --now @1795230000 --count --verify-key "$(vkey "$K0")"
[ "$(cat "$tmp/o")" = "$want" ] &&
	grep -q "1 segment(s) taken on trust of their seal records, authenticated .*: seg-00000002.db.zst$" "$tmp/e" &&
	grep -q "2 segment(s) checked with quick_check: seg-00000001.db.zst, seg-00000003.db$" "$tmp/e" && ok ||
	{ no "a keyed seal record with the right MAC did not vouch"; cat "$tmp/e"; }
run "$BIN" query -d "$tmp/rec_keyed" --now @1795230000 --count --verify-key "$(vkey "$K1")"
! grep -q trust "$tmp/e" && ok || { no "a record keyed with another key vouched"; cat "$tmp/e"; }
bad=$(seal_rec "$Z2" "$H2" "$K0" | sed 's/mac=0/mac=1/; t; s/mac=./mac=0/')
with_seal rec_badmac "$bad"
run "$BIN" query -d "$tmp/rec_badmac" --now @1795230000 --count --verify-key "$(vkey "$K0")"
! grep -q trust "$tmp/e" && ok || { no "a record with a wrong MAC vouched"; cat "$tmp/e"; }

# ---- 4. Damaged seek tables and frames: an error naming the segment, never a crash ----
# Each case edits a copy of the segment with python (struct layout: store/seekable.h) and
# gives the words the error must contain.
damage() { # name, expected words, python statements on bytearray d (n = frame count)
	mkdir -p "$tmp/bad/$1"
	f=$tmp/bad/$1/seg-00000001.db.zst
	cp "$Z" "$f"
	python3 - "$f" <<PY || { no "$1: python failed"; return; }
import struct, sys
d = bytearray(open(sys.argv[1], "rb").read())
n = struct.unpack("<I", d[-9:-5])[0]
t = len(d) - (8 + 8 * n + 9)      # where the seek table's skippable frame starts
def entry(i): return t + 8 + 8 * i
def put(off, v): d[off:off + 4] = struct.pack("<I", v)
def get(off): return struct.unpack("<I", d[off:off + 4])[0]
$3
open(sys.argv[1], "wb").write(d)
PY
	snapshot "$tmp/bad/$1" "$tmp/before"
	run "$BIN" query -f "$f" -o csv
	snapshot "$tmp/bad/$1" "$tmp/after"
	cmp -s "$tmp/before" "$tmp/after" || no "$1: reading changed the evidence dir"
	if [ $rc -ne 1 ] || ! grep -q "seg-00000001.db.zst: .*$2" "$tmp/e"; then
		no "$1: exit $rc, wanted 1 and an error naming the segment with '$2'"
		cat "$tmp/e"
	else
		ok
	fi
}
damage frame_count_huge "damaged seek table: 4294967295 frames" 'put(len(d) - 9, 0xFFFFFFFF)'
damage frame_count_plus_one "damaged seek table" 'put(len(d) - 9, n + 1)'
damage frame_count_zero "damaged seek table" 'put(len(d) - 9, 0)'
damage descriptor "unknown descriptor" 'd[-5] = 0x41'
damage skippable_magic "bad skippable frame header" 'put(t, 0x184D2A50)'
damage skippable_size "bad skippable frame header" 'put(t + 4, get(t + 4) + 8)'
damage csize_minus_one "frames cover" 'put(entry(1), get(entry(1)) - 1)'
damage csize_zero "frame 0 claims 0 compressed" 'put(entry(0), 0)'
damage csize_past_end "past the table" 'put(entry(0), get(entry(0)) + 100000)'
damage dsize_zero "frame 1 claims .* 0 decompressed" 'put(entry(1) + 4, 0)'
damage dsize_huge "decompressed bytes" 'put(entry(0) + 4, 1 << 24)'
damage dsize_short "damaged frame 0 .*disagrees" 'put(entry(0) + 4, get(entry(0) + 4) - 4096)'
damage sizes_swapped "damaged frame 0 .*disagrees" \
	'a, b = get(entry(0)), get(entry(1)); put(entry(0), b); put(entry(1), a)'
damage frame_byte "damaged frame 0 " 'd[40] ^= 0x55'
damage frame_magic "damaged frame 0 .*not a zstd frame" 'd[0] ^= 1'
# The last frame holds pages the query reads only when it scans: the error names that frame.
damage last_frame_byte "damaged frame $((frames - 1)) " \
	'o = t - get(entry(n - 1)) + 30; d[o] ^= 0x55'

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
