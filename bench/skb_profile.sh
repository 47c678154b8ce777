#!/bin/sh
# SPDX-License-Identifier: MIT
# Where a UDP bulk transfer's CPU goes in the cgroup_skb hooks: one iperf3 -u run over
# loopback (1400-byte datagrams, no rate limit) with a recorder on, sampled system-wide by
# perf (cpu-clock; no BPF statistics, which would add their own clock reads). Prints, per
# iperf3 process, the share of its samples in the skb programs, their helpers and maps, and
# the kernel's cgroup_skb dispatch around them. Over loopback both programs run on the
# sender's core, the transfer's bottleneck, so 1 - the sender's share approximates the
# throughput ratio. Samples are shares of the process's own time: other load on the
# machine moves them far less than it moves throughput.
#
#   sh bench/skb_profile.sh [CONNREC]    # needs root, iperf3, perf; CONNREC default ./connrec
#
# Knobs: SKB_SECS (default 4). Compare builds by running it for each, alternated.
set -eu
cd "$(dirname "$0")/.."
CONNREC=${1:-$PWD/connrec}
SECS=${SKB_SECS:-4}
W=$(mktemp -d /tmp/connrec-skbprof.XXXXXX)
REC_PID="" SRV_PID=""
cleanup() {
	[ -n "$REC_PID" ] && kill -INT "$REC_PID" 2>/dev/null && wait "$REC_PID"
	[ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null && wait "$SRV_PID"
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
case $SECS in '' | *[!0-9]* | 0) echo "skb_profile: SKB_SECS must be whole seconds, at least 1" >&2; exit 2 ;; esac
for c in iperf3 perf; do
	command -v "$c" >/dev/null 2>&1 || { echo "skb_profile: needs $c" >&2; exit 1; }
done

PORT=$("${PY:-python3}" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
iperf3 -s -B 127.0.0.1 -p "$PORT" --forceflush >"$W/server.log" 2>&1 &
SRV_PID=$!
"$CONNREC" record -d "$W/store" </dev/null >"$W/rec.out" 2>"$W/rec.err" &
REC_PID=$!
n=0
until grep -q 'Server listening' "$W/server.log" 2>/dev/null && grep -qw ready "$W/rec.err" 2>/dev/null; do
	kill -0 "$REC_PID" 2>/dev/null || { echo "skb_profile: recorder exited: $(cat "$W/rec.err")" >&2; exit 1; }
	n=$((n + 1))
	[ "$n" -lt 1200 ] || { echo "skb_profile: not ready within 60 s" >&2; exit 1; }
	sleep 0.05
done
perf record -q -a -e cpu-clock -F 4000 -o "$W/perf.data" -- \
	timeout $((SECS + 30)) iperf3 -c 127.0.0.1 -p "$PORT" -t "$SECS" -u -b 0 -l 1400 >/dev/null 2>&1
perf report -i "$W/perf.data" --comm iperf3 --no-children --sort pid,sym -g none --stdio 2>/dev/null |
	awk '/%/ { p = $1; sub("%", "", p); t[$2] += p
		if ($0 ~ /bpf_prog_[0-9a-f]+_on_skb|__cgroup_bpf_run_filter_skb|__bpf_prog_run_save_cb|bpf_sk_storage|bpf_local_storage|htab|lookup_nulls_elem|bpf_sk_fullsock|get_socket_cookie|sock_gen_cookie|jhash/) h[$2] += p }
	END { for (k in t) printf "%s: %.2f%% of its samples in the skb hooks\n", k, t[k] ? 100 * h[k] / t[k] : 0 }'
