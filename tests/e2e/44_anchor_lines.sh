#!/bin/sh
# SPDX-License-Identifier: MIT
# Anchor lines reach syslog (issue 10): a recorder started with --syslog-socket sends a start
# line and, at a clean stop, a stop line, both naming the store by its id and the active
# segment, framed as syslog(3) frames them; 'none' sends nothing, and bad values are usage
# errors.
set -eu
. "$(dirname "$0")/lib.sh"
cr_init
cr_syslog_sink

cr_start --syslog-socket "$CR_SYSLOG_SOCK" --syslog-facility local1
id=$(cat "$CR_DATA/connrec.id")
cr_eq "store id in the active segment's meta" "$id" \
	"$(sqlite3 -readonly "$CR_DATA/seg-00000001.db" "SELECT value FROM meta WHERE key = 'store_id'")"
cr_wait_file "$CR_SYSLOG_LOG" "kind=start"
line=$(grep -m1 "kind=start" "$CR_SYSLOG_LOG")
# local1 (17) * 8 + notice (5) = 141
case "$line" in
"<141>"*" connrec[$CR_REC_PID]: connrec-anchor v=1 store=$id kind=start seg=1 pid=$CR_REC_PID")
	cr_pass "start line: $line" ;;
*) cr_failed "start line" "<141>... connrec[$CR_REC_PID]: connrec-anchor v=1 store=$id kind=start seg=1 pid=$CR_REC_PID" "$line" ;;
esac
cr_stop
cr_wait_file "$CR_SYSLOG_LOG" "kind=stop"
cr_eq "stop line" "connrec-anchor v=1 store=$id kind=stop seg=1 pid=" \
	"$(grep -m1 -o 'connrec-anchor .*kind=stop seg=1 pid=' "$CR_SYSLOG_LOG")"

# The same store keeps its id across restarts; 'none' sends nothing.
lines=$(wc -l <"$CR_SYSLOG_LOG")
cr_start --syslog-socket none
cr_stop
cr_eq "lines sent with --syslog-socket none" "$lines" "$(wc -l <"$CR_SYSLOG_LOG")"
cr_eq "store id kept" "$id" "$(cat "$CR_DATA/connrec.id")"

for bad in "--syslog-facility nope" "--syslog-socket $(printf '%0200d' 0)"; do
	# shellcheck disable=SC2086
	"$CONNREC_BIN" record -d "$CR_TMP/x" $bad >/dev/null 2>"$CR_TMP/bad.err" && st=0 || st=$?
	cr_eq "record $bad: exit status" 2 "$st"
	cr_eq "record $bad: one line" 1 "$(wc -l <"$CR_TMP/bad.err")"
done
cr_finish
