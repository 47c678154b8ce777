#!/bin/sh
# SPDX-License-Identifier: MIT
# Tamper evidence against an intruder with root, after the fact (issue 10), with the real
# recorder: `connrec keygen` makes a sealing key, the recorder checkpoints the active segment
# every second and seals every rotated segment, each record MAC'd with the key of its epoch,
# stored in the active segment and sent as an anchor line to a syslog stand-in. verify with
# the verification key and with the syslog lines passes on the untouched store and proves it
# up to its last checkpoint; then each attack is made on a copy, and verify must fail and name
# the segment: editing the active segment (after a clean stop, and after kill -9), deleting
# the newest segments, rewriting a sealed segment and re-hashing the chain after it.
set -eu
. "$(dirname "$0")/lib.sh"
cr_init
cr_require_cmd zstd sha256sum
cr_tool storm storm
cr_syslog_sink

"$CONNREC_BIN" keygen -d "$CR_DATA" >"$CR_TMP/vk" 2>"$CR_TMP/keygen.err" || cr_fatal "keygen failed"
VK=$(cat "$CR_TMP/vk")
cr_eq "verification key printed on stdout, one line" 1 "$(wc -l <"$CR_TMP/vk")"
cr_eq "sealing key file mode" 600 "$(stat -c %a "$CR_DATA/connrec.key")"
"$CONNREC_BIN" keygen -d "$CR_DATA" >/dev/null 2>"$CR_TMP/keygen2.err" && st=0 || st=$?
cr_eq "keygen refuses to replace a key" 1 "$st"
cr_eq "  in one line" 1 "$(wc -l <"$CR_TMP/keygen2.err")"

cr_start --syslog-socket "$CR_SYSLOG_SOCK" --checkpoint-every 1s --rotate-size 256K
"$storm" -n 20000 -r 8000 >"$CR_TMP/storm.out"
dl=$(($(date +%s) + CR_TIMEOUT))
while [ "$(grep -c 'kind=seal ' "$CR_SYSLOG_LOG")" -lt 2 ] && [ "$(date +%s)" -lt "$dl" ]; do
	sleep 0.1
done
cr_ge "seal lines sent while recording" 2 "$(grep -c 'kind=seal ' "$CR_SYSLOG_LOG")"
# A checkpoint of the active segment that covers rows. The storm may still be rotating, so a
# segment can be sealed before its first checkpoint: ask again for whichever segment is active.
dl=$(($(date +%s) + CR_TIMEOUT))
while :; do
	act=$(ls "$CR_DATA"/seg-*.db | tail -n 1)
	n=$(basename "$act" .db | sed 's/seg-0*//')
	grep -q "kind=checkpoint seg=$n " "$CR_SYSLOG_LOG" && break
	[ "$(date +%s)" -lt "$dl" ] || cr_fatal "no checkpoint line of the active segment $n within ${CR_TIMEOUT}s"
	sleep 0.1
done
"$CONNREC_BIN" status -d "$CR_DATA" >"$CR_TMP/status.out" || true
cr_true "status says the key's epoch" grep -q '^sealing:     key at epoch [1-9]' "$CR_TMP/status.out"
cr_stop

grep 'connrec-anchor' "$CR_SYSLOG_LOG" >"$CR_TMP/heads" || true
id=$(cat "$CR_DATA/connrec.id")
sent=$(grep -c "store=$id kind=\(checkpoint\|seal\) " "$CR_TMP/heads")
cr_ge "checkpoint and seal lines sent" 4 "$sent"
# Each line sent is also in the store, byte for byte (the active segment holds the newest).
act=$(ls "$CR_DATA"/seg-*.db | tail -n 1)
n=$(basename "$act" .db | sed 's/seg-0*//')
grep -o "connrec-anchor v=1 store=$id kind=checkpoint seg=$n .*" "$CR_TMP/heads" | sort >"$CR_TMP/sent.act"
sqlite3 -readonly "$act" "SELECT line FROM anchor WHERE line LIKE '% kind=checkpoint seg=$n %'" |
	sort >"$CR_TMP/stored.act"
cr_ge "checkpoints of the active segment sent" 1 "$(wc -l <"$CR_TMP/sent.act")"
cr_true "the same lines are in the active segment" cmp -s "$CR_TMP/sent.act" "$CR_TMP/stored.act"
cr_true "every record carries a MAC" sh -c "! grep 'kind=\(checkpoint\|seal\) ' '$CR_TMP/heads' | grep -vq ' mac=[0-9a-f]\{64\}\$'"

# verify_case NAME EXPECTED_STATUS GREP [VERIFY ARGS...]: verify the copy in $CR_TMP/NAME
verify_case() {
	_n=$1 _want=$2 _pat=$3
	shift 3
	"$CONNREC_BIN" verify -d "$CR_TMP/$_n" "$@" >"$CR_TMP/$_n.out" 2>&1 && _st=0 || _st=$?
	cr_eq "verify $_n $*: exit status" "$_want" "$_st"
	if grep -q -- "$_pat" "$CR_TMP/$_n.out"; then
		cr_pass "verify $_n names it: $(grep -m1 -- "$_pat" "$CR_TMP/$_n.out")"
	else
		cr_failed "verify $_n $* output" "a line matching '$_pat'" "$(grep 'FAIL\|history' "$CR_TMP/$_n.out" | head -4)"
	fi
}
copy() { rm -rf "$CR_TMP/$1"; cp -a "$CR_DATA" "$CR_TMP/$1"; }
# edit_conn DB: one conn row changed, the schema left as it was. The oldest row no checkpoint
# lists as late (so one a checkpoint covers); the active segment may hold only a few conn rows
# among the process lives, so not a fixed offset.
edit_conn() {
	_t=$(sqlite3 "$1" "SELECT sql FROM sqlite_schema WHERE name = 'conn_no_update'")
	_c=$(sqlite3 "$1" "DROP TRIGGER conn_no_update;
		UPDATE conn SET rport = rport + 1 WHERE rowid = (SELECT min(rowid) FROM conn
			WHERE rowid NOT IN (SELECT rid FROM ckpt_late WHERE tbl = 'conn'));
		SELECT changes();
		$_t;")
	cr_eq "conn rows edited in $(basename "$1")" 1 "$_c"
}

copy untouched
verify_case untouched 0 '^history proven up to' --verify-key "$VK"
verify_case untouched 0 ' 0 rows after it are not' --verify-key "$VK"
verify_case untouched 0 '^history confirmed up to' --heads "$CR_TMP/heads"
verify_case untouched 0 '^verify: OK' # without a key, as before
echo "$VK" >"$CR_TMP/vk.file"
verify_case untouched 0 '^history proven up to' --verify-key "@$CR_TMP/vk.file"

# A record claiming a far epoch: keys are derived by hashing forward one epoch at a time, so an
# unbounded epoch would keep verify hashing for years. It must fail, and finish (timeout's
# status 124 is not the 1 expected).
copy farepoch
fa=$(ls "$CR_TMP"/farepoch/seg-*.db | tail -n 1)
fl=$(sqlite3 "$fa" "SELECT line FROM anchor WHERE kind = 'checkpoint' ORDER BY id DESC LIMIT 1" |
	sed 's/ epoch=[0-9]* / epoch=9000000000000000000 /')
sqlite3 "$fa" "INSERT INTO anchor (ts_ns, kind, line) VALUES (1, 'checkpoint', '$fl')"
timeout 120 "$CONNREC_BIN" verify -d "$CR_TMP/farepoch" --verify-key "$VK" >"$CR_TMP/farepoch.out" 2>&1 && st=0 || st=$?
cr_eq "verify of a record with epoch 9e18 ends, and fails" 1 "$st"

copy edited
edit_conn "$(ls "$CR_TMP"/edited/seg-*.db | tail -n 1)"
verify_case edited 1 "^FAIL $(basename "$act"): rows differ from its checkpoint" --verify-key "$VK"
verify_case edited 1 "^FAIL $(basename "$act"): rows differ from its checkpoint" --heads "$CR_TMP/heads"

copy cut
last=$(ls "$CR_TMP"/cut/seg-*.db.zst | tail -n 1)
cutact=$(ls "$CR_TMP"/cut/seg-*.db | tail -n 1)
rm "$cutact" "$last"
verify_case cut 1 "^FAIL $(basename "$last"): missing, but its" --heads "$CR_TMP/heads"
# The key file's last record names the deleted active segment.
verify_case cut 1 "^FAIL $(basename "$cutact" .db).db.zst: missing, but its .*(key file)" --verify-key "$VK"

# Segment 1 rewritten and the chain after it re-hashed, up to the active segment.
copy rewritten
(
	cd "$CR_TMP/rewritten"
	zstd -q -d --rm seg-00000001.db.zst
	edit_conn seg-00000001.db
	zstd -q -3 --rm seg-00000001.db
	prev=$(sha256sum seg-00000001.db.zst | cut -c1-64)
	active=$(ls seg-*.db | tail -n 1)
	for f in $(ls seg-*.db.zst seg-*.db | sort | sed -n '/seg-00000002/,$p'); do
		case $f in *.zst) zstd -q -d --rm "$f" && f=${f%.zst} ;; esac
		sqlite3 "$f" "UPDATE meta SET value = '$prev' WHERE key = 'prev_sha256'"
		if [ "$f" != "$active" ]; then
			zstd -q -3 --rm "$f"
			prev=$(sha256sum "$f.zst" | cut -c1-64)
		fi
	done
)
"$CONNREC_BIN" verify -d "$CR_TMP/rewritten" >"$CR_TMP/rewritten.plain" 2>&1 || true
cr_true "the re-hashed chain itself holds" sh -c "! grep -q 'differs from the one recorded' '$CR_TMP/rewritten.plain'"
verify_case rewritten 1 '^FAIL seg-00000001.db.zst: SHA-256 differs from its seal' --verify-key "$VK"
verify_case rewritten 1 '^FAIL seg-00000001.db.zst: SHA-256 differs from its seal' --heads "$CR_TMP/heads"

# kill -9 after a checkpoint; a row it covers edited: still caught, up to that checkpoint.
cr_start --syslog-socket "$CR_SYSLOG_SOCK" --checkpoint-every 1s --rotate-size 256K
"$storm" -n 3000 -r 3000 >"$CR_TMP/storm2.out"
before=$(grep -c 'kind=checkpoint ' "$CR_SYSLOG_LOG")
dl=$(($(date +%s) + CR_TIMEOUT))
while [ "$(grep -c 'kind=checkpoint ' "$CR_SYSLOG_LOG")" -le "$before" ] && [ "$(date +%s)" -lt "$dl" ]; do
	sleep 0.1
done
kill -KILL "$CR_REC_PID"
cr_wait_gone "$CR_REC_PID"
wait "$CR_REC_PID" 2>/dev/null || true
CR_REC_PID=""
copy killed
verify_case killed 0 '^history proven up to' --verify-key "$VK"
edit_conn "$(ls "$CR_TMP"/killed/seg-*.db | tail -n 1)"
verify_case killed 1 'rows differ from its checkpoint' --verify-key "$VK"

# Bad keys are usage errors, one line each.
"$CONNREC_BIN" verify -d "$CR_DATA" --verify-key nonsense >/dev/null 2>"$CR_TMP/bad.err" && st=0 || st=$?
cr_eq "verify --verify-key nonsense" 2 "$st"
cr_eq "  one line" 1 "$(wc -l <"$CR_TMP/bad.err")"
bad=$(echo "$VK" | sed 's/.$/x/')
"$CONNREC_BIN" verify -d "$CR_DATA" --verify-key "$bad" >/dev/null 2>&1 && st=0 || st=$?
cr_eq "verify with a damaged key" 2 "$st"
"$CONNREC_BIN" verify -d "$CR_DATA" --heads "$CR_TMP/no-such-file" >/dev/null 2>"$CR_TMP/bad.err" && st=0 || st=$?
cr_eq "verify --heads with no file" 1 "$st"
cr_eq "  one line" 1 "$(wc -l <"$CR_TMP/bad.err")"
cr_finish
