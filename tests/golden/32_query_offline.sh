#!/bin/sh
# SPDX-License-Identifier: MIT
# Offline evidence: the store copied into a read-only (0444) directory, files 0444, gives the
# same answer as the original, its sha256 sums are unchanged afterwards, and no file appears
# beside it (no -wal, -shm, -journal). The active segment comes with its -wal and -shm, as
# after copying off a host whose recorder was killed: its WAL rows must still be seen.
set -u
cd "$(dirname "$0")/../.." || exit 1
BIN=${CONNREC_BIN:-$PWD/connrec}
OUT=${CONNREC_OUTPUT:-$PWD/.output}
MK=$OUT/tools/mkfixture
[ -x "$MK" ] || { echo "mkfixture not built ($MK): run make tools"; exit 1; }
tmp=$(mktemp -d /tmp/connrec-offline.XXXXXX)
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
"$MK" golden "$tmp/store" || exit 1
export TZ=UTC
NOW=2026-11-21T04:00:00Z
pass=0 fail=0
ok() { pass=$((pass + 1)); }
no() { fail=$((fail + 1)); echo "FAIL $*"; }

E=$tmp/evidence
mkdir "$E"
cp "$tmp"/store/seg-* "$E/"
chmod 0444 "$E"/* "$E"
(cd "$E" && sha256sum seg-*) >"$tmp/sums.before"
ls -la "$E" | awk '{print $1, $5, $NF}' >"$tmp/ls.before"

"$BIN" query -d "$tmp/store" --now $NOW -o json >"$tmp/orig.json" 2>"$tmp/orig.err"
[ $? -eq 0 ] && ok || no "query of the original store"
"$BIN" query -d "$E" --now $NOW -o json >"$tmp/copy.json" 2>"$tmp/copy.err"
[ $? -eq 0 ] && ok || { no "query of the read-only copy"; cat "$tmp/copy.err"; }
cmp -s "$tmp/orig.json" "$tmp/copy.json" && ok || { no "read-only copy answers differently"; diff "$tmp/orig.json" "$tmp/copy.json" | head; }
# The WAL-only rows (conn 16 and 17) are there.
grep -q '"conn_id":17,' "$tmp/copy.json" && ok || no "rows only in the -wal are missing"
for f in "$E"/seg-*.db "$E"/seg-*.zst; do
	"$BIN" query -f "$f" --now $NOW -o csv >/dev/null 2>"$tmp/f.err" && ok || { no "-f $f"; cat "$tmp/f.err"; }
done
"$BIN" query -d "$E" --now $NOW --gaps -o json >/dev/null && ok || no "--gaps on the copy"
"$BIN" query -d "$E" --now $NOW --events -o json >/dev/null && ok || no "--events on the copy"

(cd "$E" && sha256sum seg-*) >"$tmp/sums.after"
ls -la "$E" | awk '{print $1, $5, $NF}' >"$tmp/ls.after"
cmp -s "$tmp/sums.before" "$tmp/sums.after" && ok || { no "sha256 changed"; diff "$tmp/sums.before" "$tmp/sums.after"; }
cmp -s "$tmp/ls.before" "$tmp/ls.after" && ok || { no "files changed or appeared"; diff "$tmp/ls.before" "$tmp/ls.after"; }

# A writable copy of a sealed .db (no -wal): still nothing appears beside it.
W=$tmp/writable
mkdir "$W"
cp "$tmp/store/seg-00000002.db" "$W/"
"$BIN" query -f "$W/seg-00000002.db" --now $NOW >/dev/null 2>&1
[ "$(ls "$W")" = "seg-00000002.db" ] && ok || { no "files appeared beside a sealed .db:"; ls "$W"; }

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
