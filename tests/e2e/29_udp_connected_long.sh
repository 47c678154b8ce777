#!/bin/sh
# SPDX-License-Identifier: MIT
# A connected UDP socket's flow lasts until the socket's release (issue 13): its send() and
# recv() run no cgroup hook, so only the packet programs see it in use; after a few datagrams
# they count it on the socket itself (socket storage), and the release adds it all up. With
# --udp-idle 1s, clients (v4, v6, and a dual-stack socket connected to a v4-mapped address)
# exchange datagrams for 6 s with unconnected servers and then stay silent for 7 s with their
# sockets open: each client's flow must be one flow, ended at the release (reason released),
# with every byte both ways; each server's flow, refreshed by its recvfrom/sendto hooks, ends
# as idle during the silence, with every byte too. Ground truth from
# tests/e2e/py/udp_connected_long.py.
set -eu
. "$(dirname "$0")/lib.sh"
cr_init
cr_start --udp-idle 1s

cr_run_py udp_connected_long.py 0.15 7
pypid=$CR_PY_PID
val() { cr_py_val "$1"; }
cr_eq "python pid" "$pypid" "$(val pid)"
srv=$(val srv) cli=$(val cli) srv6=$(val srv6) cli6=$(val cli6) mapped=$(val mapped)
# direction|lport|rport|bytes_out|bytes_in|reason|state, one line per flow.
want=$(printf '%s\n' \
	"out|$cli|$srv|$(val 'sent cli')|$(val 'recv cli')|released|SF" \
	"out|$cli6|$srv6|$(val 'sent cli6')|$(val 'recv cli6')|released|SF" \
	"out|$mapped|$srv|$(val 'sent mapped')|$(val 'recv mapped')|released|SF" \
	"in|$srv|$cli|$(val 'sent srv cli')|$(val 'recv srv cli')|idle|SF" \
	"in|$srv6|$cli6|$(val 'sent srv6 cli6')|$(val 'recv srv6 cli6')|idle|SF" \
	"in|$srv|$mapped|$(val 'sent srv mapped')|$(val 'recv srv mapped')|idle|SF" | sort)
cr_udp_flows_eq "six udp flows, ended" 6 "$pypid" "$want"
cr_stop
cr_finish
