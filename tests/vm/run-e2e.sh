#!/bin/sh
# SPDX-License-Identifier: MIT
# Inside the guest (see boot.sh): checks that it runs the expected kernel series, then runs
# the e2e tests matching each pattern. Every one must pass: a skip fails here too, since the
# point is to have run it on this kernel.
#
#   run-e2e.sh KERNEL_PREFIX PATTERN...
set -u
want=$1
shift
case "$(uname -r)" in "$want"*) ;; *) echo "guest: kernel $(uname -r), expected $want*"; exit 3 ;; esac
rc=0
for t in "$@"; do
	sh tests/run.sh "$t" >/tmp/vm-run.log 2>&1
	grep -E '^(PASS|FAIL|SKIP|    [|])' /tmp/vm-run.log
	tail -n 1 /tmp/vm-run.log | grep -Eq '^[1-9][0-9]* passed, 0 failed, 0 skipped$' || {
		echo "guest: $t did not pass"
		rc=1
	}
done
exit $rc
