#!/bin/sh
# SPDX-License-Identifier: MIT
# `record` refuses what it cannot do, clearly: usage errors (unknown option, missing argument,
# garbage numbers, stray arguments) exit 2, and an unusable data dir (under a regular file, a
# regular file itself, on a read-only file system), running without root, or a directory
# another recorder already holds exit 1 (non-zero for the last). Each prints exactly one line
# on stderr. The recorder that holds the directory keeps running and recording.
set -eu
. "$(dirname "$0")/lib.sh"
cr_init
cr_require_cmd setpriv nc

# expect WHAT STATUS ARGS...: run `connrec record ARGS` (bounded, in case it starts recording
# instead of refusing) and check its exit status and that stderr is exactly one line.
expect() {
	_what=$1 _want=$2
	shift 2
	timeout -s KILL 30 "$CONNREC_BIN" record "$@" </dev/null >"$CR_TMP/out" 2>"$CR_TMP/err" &&
		_st=0 || _st=$?
	cr_eq "$_what: exit status" "$_want" "$_st"
	_lines=$(wc -l <"$CR_TMP/err")
	_text=$(cat "$CR_TMP/err")
	if [ "$_lines" -eq 1 ] && [ -n "$_text" ]; then
		cr_pass "$_what: one line on stderr: $_text"
	else
		cr_failed "$_what: stderr" "exactly one line" "$_lines lines: $_text"
	fi
}

expect "unknown long option" 2 -d "$CR_DATA" --no-such-option
expect "unknown short option" 2 -d "$CR_DATA" -Q
expect "-d without its argument" 2 -d
expect "--data-dir without its argument" 2 --data-dir
expect "a stray argument" 2 -d "$CR_DATA" stray
# Every option that takes a value other than a path, as `record --help` lists them
# ("--name METAVAR" or "--name=METAVAR"), must reject garbage numbers.
"$CONNREC_BIN" record --help >"$CR_TMP/help" 2>&1 || true
opts=$(grep -o -- '--[a-z][a-z-]*[= ][A-Z][A-Z]*' "$CR_TMP/help" | grep -v -e 'DIR$' -e 'PATH$' \
	-e 'FILE$' | sed 's/[= ].*//' | sort -u | tr '\n' ' ')
cr_log "options taking numbers: $opts"
for opt in $opts; do
	expect "$opt with a garbage number" 2 -d "$CR_DATA" "$opt" 12abc
	expect "$opt with a negative number" 2 -d "$CR_DATA" "$opt" -5
	expect "$opt with an overflowing number" 2 -d "$CR_DATA" "$opt" 99999999999999999999999
	expect "$opt with an empty value" 2 -d "$CR_DATA" "$opt" ''
done
cr_true "no usage error created the data dir" [ ! -e "$CR_DATA" ]

: >"$CR_TMP/file"
expect "data dir under a regular file" 1 -d "$CR_TMP/file/data"
expect "data dir is a regular file" 1 -d "$CR_TMP/file"
mkdir "$CR_TMP/ro"
cr_mount -t tmpfs -o ro,size=1m tmpfs "$CR_TMP/ro"
expect "data dir on a read-only file system" 1 -d "$CR_TMP/ro"
expect "data dir to create on a read-only file system" 1 -d "$CR_TMP/ro/data"

# Not root: a copy of the binary that nobody may run, in a directory nobody may enter.
mkdir -m 0755 "$CR_TMP/bin"
cp "$CONNREC_BIN" "$CR_TMP/bin/connrec"
chmod 0755 "$CR_TMP" "$CR_TMP/bin/connrec"
setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all \
	"$CR_TMP/bin/connrec" record -d "$CR_TMP/nobody" </dev/null >"$CR_TMP/out" 2>"$CR_TMP/err" &&
	st=0 || st=$?
cr_eq "not root: exit status" 1 "$st"
cr_eq "not root: lines on stderr" 1 "$(wc -l <"$CR_TMP/err")"
cr_log "not root says: $(cat "$CR_TMP/err")"

# A second recorder on a directory the first one holds.
cr_start
expect "a second recorder on the same data dir" 1 -d "$CR_DATA"
cr_true "the first recorder still runs" cr_alive "$CR_REC_PID"
port=$(cr_free_port)
nc -z 127.0.0.1 "$port" >/dev/null 2>&1 &
npid=$!
wait "$npid" || true
cr_expect_rows "the first recorder still records" 1 \
	"SELECT count(*) FROM flows WHERE pid = $npid AND rport = $port AND reason = 5" || true
cr_stop
cr_finish
