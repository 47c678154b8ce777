#!/bin/sh
# SPDX-License-Identifier: MIT
# The pager and the progress line, on a real terminal (script(1) gives the command a pty):
# the output goes through $PAGER only when stdout is a terminal and PAGER is set (or --pager),
# never with --no-pager or into a pipe, and the paged text is the same as the piped text. The
# progress line shows on stderr only when it is a terminal, is erased before anything else is
# printed, and never reaches stdout; a quick command shows none at all.
set -u
cd "$(dirname "$0")/../.." || exit 1
BIN=${CONNREC_BIN:-$PWD/connrec}
OUT=${CONNREC_OUTPUT:-$PWD/.output}
MK=$OUT/tools/mkfixture
[ -x "$MK" ] || { echo "mkfixture not built ($MK): run make tools"; exit 1; }
command -v script >/dev/null || { echo "script(1) is needed"; exit 77; }
tmp=$(mktemp -d /tmp/connrec-pager.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
"$MK" golden "$tmp/store" || exit 1
S=$tmp/store
Q="$BIN query -d $S --now 2026-11-21T04:00:00Z"
export TZ=UTC
pass=0 fail=0
ok() { pass=$((pass + 1)); }
no() { fail=$((fail + 1)); echo "FAIL $*"; }
# on_tty COMMAND: run it with a terminal as stdin, stdout and stderr; what the terminal shows
# goes to $tmp/tty.
on_tty() { script -qec "$1" /dev/null >"$tmp/tty" 2>&1 </dev/null; }

$Q >"$tmp/piped" 2>/dev/null
grep -q '^START ' "$tmp/piped" && ok || no "the table, piped"

on_tty "PAGER='cat > $tmp/paged' $Q"
cmp -s "$tmp/paged" "$tmp/piped" && ok || no "PAGER set, stdout a terminal: the paged text differs from the piped one"
grep -q '^START ' "$tmp/tty" && no "PAGER set: the table reached the terminal as well" || ok

rm -f "$tmp/paged"
on_tty "PAGER='cat > $tmp/paged' $Q --count"
[ "$(cat "$tmp/paged" 2>/dev/null)" = "$($Q --count 2>/dev/null)" ] && ok || no "--count through the pager"

rm -f "$tmp/paged"
on_tty "unset PAGER; $Q"
[ ! -e "$tmp/paged" ] && grep -q 'START ' "$tmp/tty" && ok || no "PAGER unset: no pager, the table on the terminal"

on_tty "PAGER='cat > $tmp/paged' $Q --no-pager"
[ ! -e "$tmp/paged" ] && grep -q 'START ' "$tmp/tty" && ok || no "--no-pager: no pager"

on_tty "PAGER='cat > $tmp/paged' $Q | cat > $tmp/pipe-from-tty"
[ ! -e "$tmp/paged" ] && cmp -s "$tmp/pipe-from-tty" "$tmp/piped" && ok ||
	no "stdout a pipe: no pager, even with PAGER set"

on_tty "PAGER='cat > $tmp/paged' $Q --pager -o json"
$Q -o json >"$tmp/json" 2>/dev/null
cmp -s "$tmp/paged" "$tmp/json" && ok || no "--pager with PAGER set: json through it"

# Progress: forced to show at once (CONNREC_PROGRESS_DELAY_MS=0), stdout to a file.
on_tty "CONNREC_PROGRESS_DELAY_MS=0 $Q -o csv > $tmp/csv"
grep -q 'connrec: opening segment 1 of up to 3' "$tmp/tty" && ok || no "no progress line on a terminal: $(cat -v "$tmp/tty")"
# shellcheck disable=SC2059
grep -q "$(printf '\r\033\\[K')" "$tmp/tty" && ok || no "the progress line is not erased"
$Q -o csv >"$tmp/csv.piped" 2>/dev/null
cmp -s "$tmp/csv" "$tmp/csv.piped" && ok || no "progress reached stdout"
on_tty "CONNREC_PROGRESS_DELAY_MS=0 $Q -o csv > $tmp/csv 2> $tmp/err"
grep -q 'opening segment' "$tmp/err" "$tmp/tty" && no "progress shown although stderr is a file" || ok
on_tty "CONNREC_PROGRESS_DELAY_MS=0 $BIN verify -d $S > $tmp/verify"
grep -q 'connrec: checking segment 1 of 3' "$tmp/tty" && ok || no "verify: no progress line"
grep -q 'checking' "$tmp/verify" && no "verify: progress on stdout" || ok
# A quick command, at the default delay of a second: nothing.
on_tty "unset CONNREC_PROGRESS_DELAY_MS; $Q -o csv > $tmp/csv"
grep -q 'opening segment' "$tmp/tty" && no "progress for a quick query" || ok

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
