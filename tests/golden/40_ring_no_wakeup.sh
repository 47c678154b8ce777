#!/bin/sh
# SPDX-License-Identifier: MIT
# The connection programs never wake the ring's consumer (docs/capture.md, section 1). A
# wakeup is an irq_work: an interrupt raised while the program still runs, on whose exit the
# kernel may run pending softirqs nested inside the program, and every TCP state change in
# them is then skipped (a program is never run nested in itself). Whether a submit wakes is
# fixed when the object is compiled, so the object is checked, not a run: in the disassembly
# of the BPF object, every call of bpf_ringbuf_submit, _output or _discard must pass the
# constant BPF_RB_NO_WAKEUP (1) in r2, set by the instruction just before the call.
#
# Allowed to wake: the process-event programs (proc.bpf.h: exec, fork and exit tracepoints)
# and the DNS capture (dns.bpf.h), which wake their own consumers when their rings fill.
set -u
cd "$(dirname "$0")/../.." || exit 1
OUT=${CONNREC_OUTPUT:-$PWD/.output}
obj=$OUT/connrec.bpf.o
command -v llvm-objdump >/dev/null || { echo "llvm-objdump is needed (package llvm)"; exit 77; }
[ -s "$obj" ] || { echo "no BPF object at $obj: run make"; exit 77; }

# One line per ring call: "function flags-instruction", e.g. "on_tcp_state r2 = 1". Helper
# ids: 130 output, 132 submit, 133 discard (printed in decimal or hex by llvm versions).
calls=$(llvm-objdump -d --no-show-raw-insn "$obj" | awk '
	/^[0-9a-f]+ <[^L][^>]*>:$/ { fn = $2; gsub(/[<>:]/, "", fn) }
	/call (130|132|133|0x82|0x84|0x85)$/ { sub(/^[ \t]*[0-9]+:[ \t]*/, "", prev); print fn, prev }
	{ prev = $0 }')
pass=0 fail=0
n=$(echo "$calls" | grep -c .)
if [ "$n" -ge 10 ]; then
	pass=$((pass + 1))
else
	fail=$((fail + 1))
	echo "FAIL only $n ring calls found in $obj (the disassembly changed?)"
fi
for fn in on_tcp_state on_tcp_destroy report_one on_sock_release; do
	if echo "$calls" | grep -q "^$fn "; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL $fn: no ring call of its own found (moved to a subprogram? extend the check)"
	fi
done
waking=$(echo "$calls" | grep -v -E '^(on_proc_[a-z]+|dns_capture) ' | grep -v -E ' r2 = 1$')
if [ -z "$waking" ]; then
	pass=$((pass + 1))
else
	fail=$((fail + 1))
	echo "FAIL ring calls whose flags are not the constant BPF_RB_NO_WAKEUP:"
	echo "$waking" | sed 's/^/    /'
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
