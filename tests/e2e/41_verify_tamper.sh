#!/bin/sh
# SPDX-License-Identifier: MIT
# `connrec verify` (issue 4): passes on an untouched store; fails (exit 1) and names the
# segment when a middle segment is removed, when one byte of a sealed segment changes, when
# two segments swap names and when a sealed one is decompressed and edited (issue 10); passes
# again after retention deleted the oldest segments (the deletions are recorded with name and
# hash). Bad usage exits 2.
set -eu
. "$(dirname "$0")/lib.sh"
cr_init
cr_tool storm storm

cr_start --rotate-size 512K
"$storm" -n 30000 -r 10000 >"$CR_TMP/storm.out"
dl=$(($(date +%s) + CR_TIMEOUT))
while [ "$(ls "$CR_DATA"/seg-*.db.zst 2>/dev/null | wc -l)" -lt 4 ] && [ "$(date +%s)" -lt "$dl" ]; do
	sleep 0.1
done
cr_stop
cr_ge "sealed segments" 4 "$(ls "$CR_DATA"/seg-*.db.zst | wc -l)"

# verify_case NAME EXPECTED_STATUS [GREP]: verify a copy prepared in $CR_TMP/NAME
verify_case() {
	"$CONNREC_BIN" verify -d "$CR_TMP/$1" >"$CR_TMP/$1.out" 2>&1 && st=0 || st=$?
	cr_eq "verify exit status ($1)" "$2" "$st"
	if [ -n "${3:-}" ]; then
		if grep -q "$3" "$CR_TMP/$1.out"; then
			cr_pass "verify ($1) names it: $(grep -m1 "$3" "$CR_TMP/$1.out")"
		else
			cr_failed "verify ($1) output" "a line matching '$3'" "$(grep FAIL "$CR_TMP/$1.out" | head -3)"
		fi
	fi
}
copy() { cp -a "$CR_DATA" "$CR_TMP/$1"; }

copy untouched
verify_case untouched 0

copy missing
rm "$CR_TMP/missing/seg-00000002.db.zst"
verify_case missing 1 '^FAIL seg-00000002.db.zst: missing'

copy flipped
size=$(stat -c %s "$CR_TMP/flipped/seg-00000003.db.zst")
off=$((size / 2))
orig=$(dd if="$CR_TMP/flipped/seg-00000003.db.zst" bs=1 skip=$off count=1 status=none | od -An -tu1 | tr -d ' ')
new=$(((orig + 1) % 256))
printf "$(printf '\\%03o' "$new")" |
	dd of="$CR_TMP/flipped/seg-00000003.db.zst" bs=1 seek=$off conv=notrunc status=none
verify_case flipped 1 '^FAIL seg-00000003.db.zst'

copy swapped
(cd "$CR_TMP/swapped" && mv seg-00000002.db.zst x.tmp && mv seg-00000003.db.zst seg-00000002.db.zst &&
	mv x.tmp seg-00000003.db.zst)
verify_case swapped 1 '^FAIL seg-00000002.db.zst'

# Decompressed, edited and left as a plain .db (issue 10): verify used to skip the hash check
# because the predecessor of seg-3 was not a .zst, though seg-3 records the hash.
copy unpacked
cr_edit_conn() { # DB: change one conn row as an attacker would, the schema left as it was
	_trig=$(sqlite3 "$1" "SELECT sql FROM sqlite_schema WHERE name = 'conn_no_update'")
	sqlite3 "$1" "DROP TRIGGER conn_no_update;
		UPDATE conn SET rport = 4444 WHERE rowid = (SELECT min(rowid) FROM conn); $_trig;"
}
(cd "$CR_TMP/unpacked" && zstd -q -d seg-00000002.db.zst && rm seg-00000002.db.zst &&
	cr_edit_conn seg-00000002.db)
verify_case unpacked 1 '^FAIL seg-00000002.db: plain .db, but seg-00000003.db.zst records'

# Retention: keep only about the newest two sealed segments' worth of bytes.
copy retained
keep=$(ls -l "$CR_TMP"/retained/seg-*.db.zst | tail -n 2 | awk '{ s += $5 } END { print s }')
before=$(ls "$CR_TMP"/retained/seg-*.db.zst | wc -l)
CR_DATA=$CR_TMP/retained cr_start --retain-size "$keep"
CR_DATA=$CR_TMP/retained cr_stop
after=$(ls "$CR_TMP"/retained/seg-*.db.zst | wc -l)
cr_true "retention deleted the oldest sealed segments ($before -> $after)" [ "$after" -lt "$before" ]
cr_true "the oldest ones went first" [ ! -e "$CR_TMP/retained/seg-00000001.db.zst" ]
act=$(ls "$CR_TMP"/retained/seg-*.db | tail -n 1)
cr_eq "retention rows recorded in the active segment" "$((before - after))" \
	"$(sqlite3 -readonly -batch -noheader "$act" 'SELECT count(*) FROM retention WHERE length(sha256) = 64')"
verify_case retained 0 'deleted by retention'

# ... and removing one more by hand is not retention.
cp -a "$CR_TMP/retained" "$CR_TMP/retained3"
oldest=$(ls "$CR_TMP"/retained3/seg-*.db.zst | head -n 1)
rm "$oldest"
verify_case retained3 1 "^FAIL $(basename "$oldest"): missing before"

"$CONNREC_BIN" verify --no-such-flag >/dev/null 2>"$CR_TMP/usage.err" && st=0 || st=$?
cr_eq "verify with a bad flag" 2 "$st"
cr_eq "one-line usage error" 1 "$(wc -l <"$CR_TMP/usage.err")"
"$CONNREC_BIN" status --no-such-flag >/dev/null 2>&1 && st=0 || st=$?
cr_eq "status with a bad flag" 2 "$st"
"$CONNREC_BIN" verify --help >/dev/null && st=0 || st=$?
cr_eq "verify --help" 0 "$st"
cr_finish
