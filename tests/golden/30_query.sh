#!/bin/sh
# SPDX-License-Identifier: MIT
# Golden tests for `connrec query`: builds the fixture store with mkfixture, runs every output
# format and the main filters, and diffs against tests/golden/query/*.out. TZ and "now" are
# pinned, so the expected files are exact. UPDATE=1 rewrites them (review the diff!).
set -u
cd "$(dirname "$0")/../.." || exit 1
BIN=${CONNREC_BIN:-$PWD/connrec}
OUT=${CONNREC_OUTPUT:-$PWD/.output}
MK=$OUT/tools/mkfixture
EXP=tests/golden/query
[ -x "$MK" ] || { echo "mkfixture not built ($MK): run make tools"; exit 1; }
export TZ=Europe/Berlin
NOW=2026-11-21T04:00:00Z
tmp=$(mktemp -d /tmp/connrec-golden.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
"$MK" golden "$tmp/store" || exit 1
S=$tmp/store
pass=0 fail=0

# case NAME ARGS...: stdout and the exit status go into NAME.out
case_() {
	name=$1
	shift
	"$BIN" query --now "$NOW" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
	echo "exit $?" >>"$tmp/$name.out"
	if [ "${UPDATE:-0}" = 1 ]; then
		cp "$tmp/$name.out" "$EXP/$name.out"
	fi
	if diff -u "$EXP/$name.out" "$tmp/$name.out" >"$tmp/$name.diff" 2>&1; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL $name: connrec query $*"
		head -n 40 "$tmp/$name.diff"
		cat "$tmp/$name.err"
	fi
}

case_ all_table -d "$S"
case_ all_json -d "$S" --format json
case_ all_csv -d "$S" --format csv
case_ all_zeek -d "$S" --format zeek
case_ hosts_table -f "$S/seg-00000001.db.zst" -f "$S/seg-00000002.db" -f "$S/seg-00000003.db" \
	-f "$S/h2/seg-00000001.db.zst"
case_ hosts_json -f "$S/h2/seg-00000001.db.zst" -f "$S/seg-00000001.db.zst" -o json
case_ gaps_json -d "$S" --gaps -o json
case_ gaps_table -d "$S" --gaps
case_ gaps_csv -d "$S" --gaps -o csv --since 2026-11-21T03:10:00Z
case_ events_json -d "$S" --events -o json --since '2026-11-21 04:15' --until '2026-11-21 04:35'
case_ events_table -d "$S" --events --port 22
case_ since_rel -d "$S" -o json --since 40m
case_ since_until -d "$S" -o csv --since 2026-11-21T03:00:30Z --until 2026-11-21T03:01:05Z
case_ at_local -d "$S" -o json --at '2026-11-21 04:10'
case_ at_utc -d "$S" -o json --at 2026-11-21T03:31:00Z
case_ short_lived -d "$S" -o json --short-lived
case_ short_lived_100ms -d "$S" -o csv --short-lived=100ms --since 2026-11-21T03:00:00Z
case_ port53 -d "$S" -o json --port 53
case_ lport_rport -d "$S" -o csv --lport 22 --rport 50000-51000
case_ addr_v4_mapped -d "$S" -o json --addr 10.0.0.30/32
case_ addr_v6 -d "$S" -o json --addr 2001:db8::/32,93.184.216.0/24
case_ states -d "$S" -o csv --state UNK,OTH
case_ state_rst -d "$S" -o csv --state RSTO,RSTR,REJ,S0
case_ state_listen -d "$S" -o csv --state LISTEN
case_ min_dur -d "$S" -o json --min-duration 10m
case_ max_dur -d "$S" -o csv --max-duration 100ms
case_ comm_glob -d "$S" -o json --comm 'isc-*'
case_ comm_exact -d "$S" -o csv --comm sshd --direction in
case_ pid_uid -d "$S" -o csv --pid 200,600 --uid 1000 --proto tcp
case_ netns_cgroup -d "$S" -o csv --netns 4026532100 --cgroup 7003,7004
case_ direction_listen -d "$S" -o csv --direction listen
case_ newest_limit -d "$S" -o csv --newest --limit 3
case_ oldest_limit -d "$S" -o csv --order oldest --limit 2
case_ count -d "$S" --count
case_ count_udp -d "$S" --count --proto udp
# Who: process lives (pid 200 had two of them), their images, cgroup names.
case_ who_pid_reuse -d "$S" -o json --pid 200
case_ who_exe -d "$S" -o csv --exe '/usr/bin/curl'
case_ who_exe_glob -d "$S" -o csv --exe '*/python*'
case_ who_args -d "$S" -o csv --args '8443/a b'
case_ who_ppid -d "$S" -o csv --ppid 150
case_ who_container -d "$S" -o json --container 4f1e9a2b3c4d
case_ who_unit -d "$S" -o csv --unit 'ssh.*'
case_ who_image -d "$S" -o json --comm 'isc-*'
case_ who_zeek -d "$S" -o zeek --pid 200,1000
case_ who_count -d "$S" --count --exe '*curl'
case_ procs_table -d "$S" --procs
case_ procs_json -d "$S" --procs -o json
case_ procs_csv -d "$S" --procs -o csv --since 2026-11-21T03:30:00Z
case_ procs_port -d "$S" --procs --port 22 -o csv
case_ procs_exe -d "$S" --procs --exe '/opt/*' -o json
# Names: --name matches the flow's name or a CNAME of its chain, case-insensitively.
case_ name_cname -d "$S" -o json --name '*.example-cdn.net'
case_ name_exact -d "$S" --name 'EXAMPLE.com'
case_ name_count -d "$S" --count --name '*example*'
# The DNS answers themselves; a carried copy is listed once, or alone when only it was read.
case_ dns_table -d "$S" --dns
case_ dns_json -d "$S" --dns -o json
case_ dns_csv -d "$S" --dns -o csv
case_ dns_zeek -d "$S" --dns -o zeek
case_ dns_filters -d "$S" --dns -o json --pid 200 --name '*.EXAMPLE-cdn.net'
case_ dns_addr -d "$S" --dns --addr 93.184.216.34 --newest
case_ dns_carried -f "$S/seg-00000003.db" --dns -o csv

# --count takes an SQL-only path for rows complete on their own: it must agree with the rows.
for args in "" "--since 2026-11-21T03:20:00Z" "--short-lived" "--min-duration 1s" \
	"--max-duration 1s --port 80,443" "--comm curl" "--at 2026-11-21T03:10:00Z" \
	"--since 2026-11-21T03:01:00Z --until 2026-11-21T03:15:00Z --proto tcp" "--exe /usr/bin/curl" \
	"--unit session-2.scope --port 443" "--name *.com" "--name api.* --proto tcp"; do
	# shellcheck disable=SC2086
	n=$("$BIN" query -d "$S" --now "$NOW" --count $args 2>/dev/null)
	# shellcheck disable=SC2086
	m=$("$BIN" query -d "$S" --now "$NOW" -o json $args 2>/dev/null | wc -l)
	if [ "$n" = "$m" ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL --count $args: $n, but $m rows"
	fi
done

# Usage errors: exit 2 and one line on stderr naming the flag.
bad() { # FLAG ARGS...
	flag=$1
	shift
	"$BIN" query -d "$S" "$@" >"$tmp/bad.out" 2>"$tmp/bad.err"
	rc=$?
	if [ $rc -eq 2 ] && [ "$(wc -l <"$tmp/bad.err")" -eq 1 ] && grep -q -- "$flag" "$tmp/bad.err" &&
		[ ! -s "$tmp/bad.out" ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL bad $*: exit $rc, stderr:"
		cat "$tmp/bad.err"
	fi
}
bad --since --since yesterday
bad --since --since 2026-13-01
bad --until --until 5x
bad --at --at ''
bad --port --port 65536
bad --port --port 80,
bad --lport --lport http
bad --rport --rport 10-5
bad --addr --addr 10.0.0.1/8
bad --addr --addr example.com
bad --proto --proto icmp
bad --pid --pid -1
bad --uid --uid 1,x
bad --netns --netns 99999999999
bad --cgroup --cgroup ''
bad --direction --direction up
bad --state --state SF,XX
bad --state --state SF,
bad --min-duration --min-duration 1y
bad --max-duration --max-duration -1s
bad --short-lived --short-lived=fast
bad --limit --limit 0
bad --limit --limit ten
bad --format --format xml
bad --order --order random
bad --max-unpacked --max-unpacked 12Q
bad --bogus --bogus
bad --at --at 10m --since 1h
bad --until --since 2026-11-21T04:00:00Z --until 2026-11-21T03:00:00Z
bad --gaps --gaps --format zeek
bad --procs --procs --format zeek
bad --procs --procs --count
bad --exe --exe ''
bad --ppid --ppid 1,2
bad --ppid --ppid x
bad --container --container ab
bad --container --container 'ABC;DROP'
bad --unit --unit ''
bad --exe --events --exe x
bad --name --name ''
bad --state --dns --state SF
bad --short-lived --dns --short-lived
bad --dns --dns --count
bad --dns --dns --procs
bad --procs --procs --dns
bad --exe --dns --exe x

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
