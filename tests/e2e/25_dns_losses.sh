#!/bin/sh
# SPDX-License-Identifier: MIT
# DNS answers that cannot be stored are counted, exactly, and never cost a flow. With a DNS
# ring of two pages (room for one record of the largest size), a process in its own namespace receives answers longer than a ring record,
# datagrams from port 53 that are not DNS, and then a flood of valid answers that overflows the
# ring. Every valid answer must be stored or counted lost in a gap row, and the others counted
# in their own gap rows; the kernel's UDP counters of the namespace say how many arrived. The
# flow ring has no loss.
set -eu
. "$(dirname "$0")/lib.sh"
cr_init

n=3000 malformed=7 long=5
cr_netns ns dnsflood
inode=$(cr_netns_inode "$ns")
in0=$(ip netns exec "$ns" awk '/^Udp:/ { if (!h) { for (i = 1; i <= NF; i++) f[$i] = i; h = 1 }
	else print $f["InDatagrams"] }' /proc/net/snmp)

cr_start --dns-ring-size 8192

ip netns exec "$ns" "$PY" -u "$(dirname "$0")/py/dns_flood.py" $n $malformed $long \
	>"$CR_TMP/flood.out" 2>&1 && st=0 || st=$?
cr_eq "the flood's exit status" 0 "$st"
pid=$(sed -n 's/^pid //p' "$CR_TMP/flood.out")
in1=$(ip netns exec "$ns" awk '/^Udp:/ { if (!h) { for (i = 1; i <= NF; i++) f[$i] = i; h = 1 }
	else print $f["InDatagrams"] }' /proc/net/snmp)
# The query, and every answer: all reached their sockets (nothing dropped before them).
cr_eq "datagrams delivered in the namespace" $((n + malformed + long + 1)) $((in1 - in0))
cr_stop

stored=$(cr_sql_sum "SELECT count(*) FROM dns d JOIN proc p ON p.id = d.proc
	WHERE d.qname = 'flood.test' AND p.pid = $pid AND p.netns = $inode AND d.flags & 2 = 0")
lost=$(cr_sql_sum "SELECT coalesce(sum(count), 0) FROM gap
	WHERE reason = 'DNS ring buffer full: answers lost'")
cr_log "stored $stored, lost in the ring $lost"
cr_gt "answers lost in a two-page ring" 0 "$lost"
cr_gt "answers stored" 0 "$stored"
cr_eq "every valid answer stored or counted lost" "$n" $((stored + lost))
cr_eq "answers too long for a record, counted" "$long" \
	"$(cr_sql_sum "SELECT coalesce(sum(count), 0) FROM gap WHERE reason LIKE 'DNS answers longer%'")"
cr_eq "datagrams that are not DNS, counted" "$malformed" \
	"$(cr_sql_sum "SELECT coalesce(sum(count), 0) FROM gap WHERE reason LIKE 'malformed DNS%'")"
cr_eq "flows lost (the flow ring is not the DNS ring)" 0 \
	"$(cr_sql_sum "SELECT count(*) FROM gap WHERE reason LIKE 'ring buffer full%'")"
cr_eq "the flood's own UDP flow is stored (pid|netns|rport)" "$pid|$inode|53" \
	"$(cr_sql "SELECT pid, netns, rport FROM flows WHERE pid = $pid AND direction = 'out'")"
cr_finish
