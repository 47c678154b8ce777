#!/bin/sh
# SPDX-License-Identifier: MIT
# Unconnected UDP sockets that send to closed ports (issue 13). The kernel answers each with an
# ICMP port unreachable, but tells an unconnected socket only if it asked (IP_RECVERR,
# IPV6_RECVERR). So a socket that did not ask is S0: nothing came back to it, and it never
# learnt otherwise. One that asked got ECONNREFUSED: its flow to that peer is REJ (reason
# refused), over IPv4, IPv6 and v4-mapped, and on a socket with two peers only the refused
# peer's flow is, while its answered one stays SF. Ground truth from
# tests/e2e/py/udp_unconnected.py (what each socket call sent, received or was told).
set -eu
. "$(dirname "$0")/lib.sh"
cr_init
cr_start

cr_run_py udp_unconnected.py
pypid=$CR_PY_PID
val() { cr_py_val "$1"; }
cr_eq "python pid" "$pypid" "$(val pid)"
cr_eq "what each sender was told (plain recverr recverr6 mapped two)" \
	"nothing ECONNREFUSED ECONNREFUSED ECONNREFUSED ECONNREFUSED" \
	"$(val 'told plain') $(val 'told recverr') $(val 'told recverr6') $(val 'told mapped') $(val 'told two')"

srv=$(val srv) plain=$(val plain) recverr=$(val recverr) recverr6=$(val recverr6)
mapped=$(val mapped) two=$(val two) c4=$(val closed4) c6=$(val closed6)
# direction|lport|rport|bytes_out|bytes_in|reason|state, one line per flow.
want=$(printf '%s\n' \
	"out|$plain|$c4|$(val 'sent plain')|0|released|S0" \
	"out|$recverr|$c4|$(val 'sent recverr')|0|refused|REJ" \
	"out|$recverr6|$c6|$(val 'sent recverr6')|0|refused|REJ" \
	"out|$mapped|$c4|$(val 'sent mapped')|0|refused|REJ" \
	"out|$two|$srv|$(val 'sent two')|$(val 'recv two')|released|SF" \
	"out|$two|$c4|$(val 'sent two closed')|0|refused|REJ" \
	"in|$srv|$two|$(val 'sent srv')|$(val 'recv srv')|released|SF" | sort)
cr_udp_flows_eq "seven udp flows, ended" 7 "$pypid" "$want"
cr_stop
cr_finish
