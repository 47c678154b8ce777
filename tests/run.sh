#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs every test: unit binaries, golden output tests, a short fuzz run, then the end-to-end
# tests (root). Each test is a program that exits 0 (pass), 77 (skip) or anything else (fail).
# Ends with one line "N passed, M failed, K skipped" and exits non-zero on any failure.
#
#   sh tests/run.sh            # everything
#   sh tests/run.sh e2e/10_    # only tests whose path contains the pattern
set -u
cd "$(dirname "$0")/.." || exit 1
pattern=${1:-}
OUT=${OUTPUT:-.output}
export CONNREC_BIN="${CONNREC_BIN:-$PWD/connrec}"
export CONNREC_OUTPUT="$PWD/$OUT"
# Under ASan, freed memory sits in a 256 MB quarantine by default, which a long-running
# recorder's RSS would show as growth; a small quarantine keeps the RSS test meaningful.
export ASAN_OPTIONS="${ASAN_OPTIONS:-quarantine_size_mb=8}"
logdir=$(mktemp -d /tmp/connrec-tests.XXXXXX)
pass=0 fail=0 skip=0 failed=""

run_one() { # name, command...
	name=$1
	shift
	case "$name" in *"$pattern"*) ;; *) return ;; esac
	log="$logdir/$(echo "$name" | tr '/' '_').log"
	start=$(date +%s)
	"$@" >"$log" 2>&1
	rc=$?
	secs=$(($(date +%s) - start))
	if [ $rc -eq 0 ]; then
		pass=$((pass + 1))
		echo "PASS $name (${secs}s)"
	elif [ $rc -eq 77 ]; then
		skip=$((skip + 1))
		echo "SKIP $name: $(tail -n 1 "$log")"
	else
		fail=$((fail + 1))
		failed="$failed $name"
		echo "FAIL $name (exit $rc, ${secs}s); last lines of $log:"
		tail -n 25 "$log" | sed 's/^/    | /'
	fi
}

for t in "$OUT"/tests/*; do
	[ -x "$t" ] || continue
	case "$t" in *.d | *.o) continue ;; esac
	run_one "unit/$(basename "$t")" "$t"
done
# The unit tests again against the optimised build that ships, when that is not what ran:
# at -O2 the compiler may drop a store into freed memory that ASan would have flagged
# (the open set's dangling link), while the plain build still crashes on it.
if [ "$OUT" != .output ]; then
	for t in .output/tests/*; do
		[ -x "$t" ] || continue
		case "$t" in *.d | *.o) continue ;; esac
		run_one "unit-O2/$(basename "$t")" "$t"
	done
fi
for t in tests/golden/*.sh tests/fuzz/*.sh tests/e2e/[0-9]*.sh; do
	[ -f "$t" ] || continue
	case "$t" in tests/fuzz/run.sh) t_args=30 ;; *) t_args= ;; esac
	# shellcheck disable=SC2086
	run_one "${t#tests/}" sh "$t" $t_args
done

echo
[ -n "$failed" ] && echo "failed:$failed"
echo "logs: $logdir"
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
