#!/bin/sh
# SPDX-License-Identifier: MIT
# Golden tests for `connrec verify` and `connrec status` (no recorder) on the fixture store, in
# text and --format json, plus a tampered copy; diffs against tests/golden/verify/*.out. Every
# json line must parse on its own. UPDATE=1 rewrites the expected files (review the diff!).
set -u
cd "$(dirname "$0")/../.." || exit 1
BIN=${CONNREC_BIN:-$PWD/connrec}
OUT=${CONNREC_OUTPUT:-$PWD/.output}
MK=$OUT/tools/mkfixture
EXP=tests/golden/verify
[ -x "$MK" ] || { echo "mkfixture not built ($MK): run make tools"; exit 1; }
PY=$(command -v python3) || { echo "python3 is needed"; exit 77; }
export TZ=Europe/Berlin
tmp=$(mktemp -d /tmp/connrec-golden-verify.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
"$MK" golden "$tmp/store" || exit 1
S=$tmp/store
pass=0 fail=0

# case NAME CMD ARGS...: stdout (the temp dir shown as STORE, disk use left out) and the exit
# status go into NAME.out
case_() {
	name=$1
	shift
	"$BIN" "$@" 2>"$tmp/$name.err" | sed -e "s|$S|STORE|g" -e '/^disk use:/d' \
		-e 's/"disk_bytes":[0-9]*/"disk_bytes":0/' >"$tmp/$name.out"
	"$BIN" "$@" >/dev/null 2>&1
	echo "exit $?" >>"$tmp/$name.out"
	[ "${UPDATE:-0}" = 1 ] && cp "$tmp/$name.out" "$EXP/$name.out"
	if diff -u "$EXP/$name.out" "$tmp/$name.out" >"$tmp/$name.diff" 2>&1; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL $name: connrec $*"
		head -n 40 "$tmp/$name.diff"
		cat "$tmp/$name.err"
	fi
	case "$name" in
	*json*)
		if "$PY" -c 'import json, sys
for line in open(sys.argv[1]):
    if not line.startswith("exit "):
        json.loads(line)' "$tmp/$name.out"; then
			pass=$((pass + 1))
		else
			fail=$((fail + 1))
			echo "FAIL $name: not JSON lines"
		fi
		;;
	esac
}

case_ verify_text verify -d "$S"
case_ verify_json verify -d "$S" --format json
case_ verify_files_json verify -o json -f "$S/seg-00000002.db" "$S/seg-00000003.db"
case_ status_text status -d "$S"
case_ status_json status -d "$S" --format json

# A sealed segment with one byte changed (its first: the fixture's zstd frames carry no
# checksum and segment 2 no hash of it, so a changed byte elsewhere may go unseen): verify
# names it.
cp -a "$S" "$tmp/tampered"
S=$tmp/tampered
printf 'X' | dd of="$S/seg-00000001.db.zst" bs=1 seek=0 conv=notrunc status=none
case_ tampered_text verify -d "$S"
case_ tampered_json verify -d "$S" -o json

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
