#!/bin/sh
# SPDX-License-Identifier: MIT
# A connected UDP socket that connect()s again, to a second peer (issue 13): its datagrams to
# and from that peer run no cgroup hook either, and that flow is not the socket's first, so
# only the packet programs see it in use. With --udp-idle 1s, a v4 and a v6 client each talk
# to server A, re-connect to server B and exchange with it for 6 s (the recorder looks for idle
# flows every 5 s); a third v4 client connects to A at the start and stays quiet until then
# (no hook refreshes its flow either), and exchanges after. Then all stay silent for 7 s with
# their sockets open. Each client must have exactly one flow per server, ended at the release
# (reason released), with every byte both ways; each server's flow (refreshed by its
# recvfrom/sendto hooks) ends as idle during the silence. Ground truth from
# tests/e2e/py/udp_reconnect.py. (Packet counts are not stored, so bytes are what is checked.)
set -eu
. "$(dirname "$0")/lib.sh"
cr_init
cr_start --udp-idle 1s

cr_run_py udp_reconnect.py 0.15 7
pypid=$CR_PY_PID
val() { cr_py_val "$1"; }
cr_eq "python pid" "$pypid" "$(val pid)"
# direction|lport|rport|bytes_out|bytes_in|reason|state, one line per flow.
want=$(for p in "cli srva" "cli srvb" "cli6 srv6a" "cli6 srv6b" "late srva"; do
	set -- $p
	echo "out|$(val "$1")|$(val "$2")|$(val "sent $1 $2")|$(val "recv $1 $2")|released|SF"
	echo "in|$(val "$2")|$(val "$1")|$(val "sent $2 $1")|$(val "recv $2 $1")|idle|SF"
done | sort)
cr_udp_flows_eq "ten udp flows, ended" 10 "$pypid" "$want"
cr_stop
cr_finish
