#!/bin/sh
# SPDX-License-Identifier: MIT
# An intruder blinds the recorder: `bpftool link detach` of every cgroup hook it holds (issue 18),
# then, more quietly, another program swapped into one of its links (BPF_LINK_UPDATE, by
# tests/tools/linkswap). The recorder must notice within its watch period, attach each hook
# again through a new link, and store one tamper gap per hook whose window covers the attack
# and lasts at most about a second; `status` counts them, `verify` and `query` report them, and
# UDP traffic made after the healing (every flow of it goes through a cgroup hook) is recorded
# with its exact pid and ports. Each tamper event is also an anchor line on the recorder's syslog
# socket at once (a syslog stand-in here), with the gap's times and reason, so that a store
# whose tamper gaps are cut away later still shows them off the host (verify --heads).
#
# Only the links of this test's own recorder are touched: they are found through the kernel's
# fdinfo of the recorder's file descriptors, never by listing every link on the host.
set -eu
. "$(dirname "$0")/lib.sh"
cr_init
cr_require_cmd bpftool
cr_tool swap linkswap

# cgroup_links PID: "link_id attach_type cgroup_id" for each cgroup link the process holds.
cgroup_links() {
	for _f in /proc/"$1"/fdinfo/*; do
		awk '/^link_type:/ { t = $2 } /^link_id:/ { id = $2 } /^attach_type:/ { a = $2 }
			/^cgroup_id:/ { cg = $2 } END { if (t == "cgroup") print id, a, cg }' \
			"$_f" 2>/dev/null
	done | sort -n
}

# section_of LINK_ID: the recorder's hook name for a cgroup link (cgroup/sendmsg4, ...).
section_of() {
	bpftool -j link show id "$1" | sed -n 's/.*"attach_type":"\([a-z0-9_]*\)".*/\1/p' | sed \
		-e 's/^cgroup_udp\([46]\)_\(sendmsg\|recvmsg\)$/cgroup\/\2\1/' \
		-e 's/^cgroup_inet\([46]\)_connect$/cgroup\/connect\1/' \
		-e 's/^cgroup_inet_sock_release$/cgroup\/sock_release/' \
		-e 's/^cgroup_inet_ingress$/cgroup_skb\/ingress/' \
		-e 's/^cgroup_inet_egress$/cgroup_skb\/egress/'
}

ms() { echo $((($1) / 1000000)); }

cr_syslog_sink
cr_start --syslog-socket "$CR_SYSLOG_SOCK"
rec=$CR_REC_PID
cgroup_links "$rec" >"$CR_TMP/links.before"
n=$(wc -l <"$CR_TMP/links.before")
cr_log "recorder $rec holds $n cgroup links:"
sed 's/^/    /' "$CR_TMP/links.before"
cr_ge "cgroup links held by the recorder" 1 "$n"
cr_eq "cgroup links attached (cgroup id not 0)" "$n" "$(awk '$3 != 0' "$CR_TMP/links.before" | wc -l)"

# The attack: detach each of them, noting the hook it serves and the times just before and just
# after the detach (it happens somewhere in between: bpftool takes a few ms to start).
: >"$CR_TMP/detached"
while read -r id _a _cg; do
	sec=$(section_of "$id")
	t0=$(date +%s%N)
	bpftool link detach id "$id" || cr_fatal "bpftool link detach id $id failed"
	echo "$id $sec $t0 $(date +%s%N)" >>"$CR_TMP/detached"
done <"$CR_TMP/links.before"
sed 's/^/    detached: /' "$CR_TMP/detached"

# The recorder says so in its log, once per hook, after re-attaching it.
dl=$(($(date +%s) + CR_TIMEOUT))
while [ "$(grep -c 'tamper: hook cgroup[_a-z]*/.*detached; re-attached' "$CR_TMP/recorder.err")" -lt "$n" ]; do
	[ "$(date +%s)" -lt "$dl" ] || break
	sleep 0.05
done
t_healed=$(date +%s%N)
cr_eq "log lines 'tamper: hook ... detached; re-attached'" "$n" \
	"$(grep -c 'tamper: hook cgroup[_a-z]*/.*detached; re-attached' "$CR_TMP/recorder.err")"

# New links, attached; the detached ones are no longer held.
cgroup_links "$rec" >"$CR_TMP/links.after"
sed 's/^/    now: /' "$CR_TMP/links.after"
cr_eq "cgroup links attached again" "$n" "$(awk '$3 != 0' "$CR_TMP/links.after" | wc -l)"
cr_eq "detached links still held" "" \
	"$(awk 'NR == FNR { old[$1] = 1; next } ($1 in old) { print $1 }' "$CR_TMP/links.before" \
		"$CR_TMP/links.after")"

# udp_probe WHEN: UDP traffic in which every flow passes a cgroup hook; all six flows, exact.
udp_probe() {
	"$PY" -u "$(dirname "$0")/py/udp_probe.py" >"$CR_TMP/udp.out" 2>&1 &
	upid=$!
	cr_track "$upid"
	cr_wait_file "$CR_TMP/udp.out" '^done'
	wait "$upid" || cr_fatal "udp_probe.py failed: $(cat "$CR_TMP/udp.out")"
	cr_untrack "$upid"
	port() { sed -n "s/^$1 //p" "$CR_TMP/udp.out"; }
	cr_eq "udp_probe pid" "$upid" "$(port pid)"
	s4=$(port srv4) s6=$(port srv6) c4=$(port cli4) c6=$(port cli6) k4=$(port conn4)
	q="SELECT count(*) FROM flows WHERE proto = 'udp' AND pid = $upid AND reason = 7"
	cr_expect_rows "udp flows $1, ended by release" 6 "$q" || true
	cr_eq "udp flows $1 (direction|family|lport|rport|reason)" \
		"$(printf '%s\n' "in|4|$s4|$c4|7" "in|4|$s4|$k4|7" "in|6|$s6|$c6|7" \
			"out|4|$c4|$s4|7" "out|4|$k4|$s4|7" "out|6|$c6|$s6|7" | sort)" \
		"$(cr_sql "SELECT direction, family, lport, rport, reason FROM flows
			WHERE proto = 'udp' AND pid = $upid" | sort)"
}
udp_probe "after the links were detached and healed"

# covers START END T0 T1: the gap [START, END] can hold an instant of [T0, T1], and is at most
# about a second long.
covers() {
	test "$1" -le "$4" -a "$2" -ge "$3" -a $(($2 - $1)) -le 1500000000
}

# One tamper gap per hook, covering the moment it was detached, at most about a second long.
cr_eq "tamper gaps (kind 3)" "$n" "$(cr_sql_sum "SELECT count(*) FROM gap WHERE kind = 3")"
while read -r id sec t0 t1; do
	row=$(cr_sql "SELECT start_ns, end_ns, count FROM gap WHERE kind = 3
		AND reason LIKE 'hook $sec (%) detached; re-attached'")
	cr_eq "one tamper gap names $sec" 1 "$(echo "$row" | grep -c .)"
	start=$(echo "$row" | cut -d'|' -f1)
	end=$(echo "$row" | cut -d'|' -f2)
	cr_is_int "$start" && cr_is_int "$end" || continue
	cr_true "$sec: the gap ($(ms "$end - $start") ms) covers its detach, at most 1500 ms" \
		covers "$start" "$end" "$t0" "$t1"
	cr_true "$sec: healed before the log said so" test "$end" -le "$t_healed"
	cr_eq "$sec: gap count" 0 "$(echo "$row" | cut -d'|' -f3)"
done <"$CR_TMP/detached"

# The quiet attack: the sendmsg4 link stays attached, with a do-nothing program in it.
sw=""
for id in $(awk '{ print $1 }' "$CR_TMP/links.after"); do
	if [ "$(section_of "$id")" = cgroup/sendmsg4 ]; then sw=$id; fi
done
[ -n "$sw" ] || cr_fatal "the recorder holds no cgroup/sendmsg4 link"
t0=$(date +%s%N)
out=$("$swap" "$sw") || cr_fatal "linkswap $sw failed"
t1=$(date +%s%N)
set -- $out
[ "${1:-}" = swapped ] || cr_fatal "linkswap said: $out"
foreign=$4
cr_log "link $sw now runs prog $foreign"
cr_wait_file "$CR_TMP/recorder.err" \
	"tamper: hook cgroup/sendmsg4 (.*) program swapped for prog id $foreign; re-attached"
swapped="FROM gap WHERE kind = 3
	AND reason LIKE 'hook cgroup/sendmsg4 (%) program swapped for prog id $foreign; re-attached'"
cr_expect_rows "one tamper gap for the swapped program" 1 "SELECT count(*) $swapped" || true
row=$(cr_sql "SELECT start_ns, end_ns $swapped")
start=$(echo "$row" | cut -d'|' -f1)
end=$(echo "$row" | cut -d'|' -f2)
cr_true "the gap ($(ms "${end:-0} - ${start:-0}") ms) covers the swap, at most 1500 ms" \
	covers "${start:-0}" "${end:-0}" "$t0" "$t1"
# Its link is dropped, and with it the intruder's program (released by deferred kernel work).
dl=$(($(date +%s) + CR_TIMEOUT))
while bpftool prog show id "$foreign" >/dev/null 2>&1 && [ "$(date +%s)" -lt "$dl" ]; do
	sleep 0.1
done
cr_false() { if "$@"; then cr_failed "$*" "failure" "success"; else cr_pass "not: $*"; fi; }
cr_false bpftool prog show id "$foreign"
udp_probe "after the program swap was healed"
n=$((n + 1))

# status, query and verify all say it.
"$CONNREC_BIN" status -d "$CR_DATA" >"$CR_TMP/status.out" || true
cr_eq "status: tamper events" "$n" \
	"$(sed -n 's/^tamper: *\([0-9][0-9]*\) events.*/\1/p' "$CR_TMP/status.out")"
cr_eq "status --format json: tamper_events" 1 \
	"$("$CONNREC_BIN" status -d "$CR_DATA" --format json | grep -c "\"tamper_events\":$n,")"
"$CONNREC_BIN" query -d "$CR_DATA" --since 10m --gaps --format csv >"$CR_TMP/gaps.csv"
cr_eq "query --gaps: tamper rows" "$n" "$(grep -c '^tamper,' "$CR_TMP/gaps.csv")"
"$CONNREC_BIN" query -d "$CR_DATA" --since 10m --proto udp >/dev/null 2>"$CR_TMP/query.err"
cr_eq "query warns of the tamper gaps" 1 \
	"$(grep -c "overlaps $n tamper gap" "$CR_TMP/query.err")"
st=0
"$CONNREC_BIN" verify -d "$CR_DATA" >"$CR_TMP/verify.out" 2>&1 || st=$?
cr_eq "verify exit status (the store itself is consistent)" 0 "$st"
cr_eq "verify: tamper gap lines" "$n" "$(grep -c '^  gap tamper .*; re-attached$' "$CR_TMP/verify.out")"
cr_eq "verify: summary" 1 "$(grep -c "^verify: $n tamper gaps" "$CR_TMP/verify.out")"
cr_eq "verify --format json: tamper_gaps in the summary" 1 \
	"$("$CONNREC_BIN" verify -d "$CR_DATA" --format json | grep '"type":"summary"' |
		grep -c "\"tamper_gaps\":$n")"

# Off the host: one anchor line per tamper gap, sent as a warning (auth = 4: <4*8+4>), naming
# this store, the segment, and the gap's exact start, end and reason.
id=$(cat "$CR_DATA/connrec.id")
dl=$(($(date +%s) + CR_TIMEOUT))
while [ "$(grep -c ' kind=tamper ' "$CR_SYSLOG_LOG")" -lt "$n" ] && [ "$(date +%s)" -lt "$dl" ]; do
	sleep 0.05
done
cr_eq "tamper anchor lines" "$n" "$(grep -c "connrec-anchor v=1 store=$id kind=tamper " "$CR_SYSLOG_LOG")"
cr_eq "tamper anchor lines with severity warning" "$n" \
	"$(grep -c "^<36>.* connrec\[$rec\]: connrec-anchor v=1 store=$id kind=tamper seg=1 " "$CR_SYSLOG_LOG")"
cr_sql "SELECT 'start=' || start_ns || ' end=' || end_ns || ' msg=' || reason FROM gap
	WHERE kind = 3" | sort >"$CR_TMP/tamper.gaps"
sed -n 's/.* kind=tamper seg=1 //p' "$CR_SYSLOG_LOG" | sort >"$CR_TMP/tamper.lines"
cr_eq "tamper anchor lines = the tamper gaps (start, end, reason)" "$(cat "$CR_TMP/tamper.gaps")" \
	"$(cat "$CR_TMP/tamper.lines")"

cr_stop
cr_wait_file "$CR_SYSLOG_LOG" "kind=stop"

# verify --heads on the untouched store: every tamper line has its gap.
st=0
"$CONNREC_BIN" verify -d "$CR_DATA" --heads "$CR_SYSLOG_LOG" >"$CR_TMP/heads.out" 2>&1 || st=$?
cr_eq "verify --heads exit status" 0 "$st"
cr_eq "verify --heads: off-host tamper lines whose gap is in the store" "$n" \
	"$(grep -c "^  note: off-host connrec-anchor v=1 store=$id kind=tamper seg=1 .*(its tamper gap is in the store)$" "$CR_TMP/heads.out")"

# The intruder then cuts the tamper gaps out of the store (in a copy here). verify alone shows
# no tamper gap; verify --heads, with the forwarded lines, fails and names each one, since the
# recorder that sent them stopped cleanly (it flushed every gap before its stop line).
cp -a "$CR_DATA" "$CR_TMP/cut"
cut=$CR_TMP/cut/seg-00000001.db
trig=$(sqlite3 "$cut" "SELECT sql FROM sqlite_schema WHERE name = 'gap_no_delete'")
sqlite3 "$cut" "DROP TRIGGER gap_no_delete; DELETE FROM gap WHERE kind = 3; $trig;" ||
	cr_fatal "cannot cut the tamper gaps"
cr_eq "cut store: tamper gaps left" 0 "$(sqlite3 "$cut" "SELECT count(*) FROM gap WHERE kind = 3")"
"$CONNREC_BIN" verify -d "$CR_TMP/cut" >"$CR_TMP/cut.out" 2>&1 || true
cr_eq "cut store: verify without heads shows no tamper gap" 0 \
	"$(grep -c 'tamper' "$CR_TMP/cut.out")"
st=0
"$CONNREC_BIN" verify -d "$CR_TMP/cut" --heads "$CR_SYSLOG_LOG" >"$CR_TMP/cut-heads.out" 2>&1 || st=$?
cr_eq "cut store: verify --heads exit status" 1 "$st"
cr_eq "cut store: verify --heads fails on every off-host tamper line" "$n" \
	"$(grep -c "^FAIL seg-00000001.db: holds no tamper gap for the off-host line \"connrec-anchor v=1 store=$id kind=tamper seg=1 .*stopped cleanly: the gap row was removed$" "$CR_TMP/cut-heads.out")"
cr_eq "cut store: verify --heads --format json counts them" 1 \
	"$("$CONNREC_BIN" verify -d "$CR_TMP/cut" --heads "$CR_SYSLOG_LOG" --format json |
		grep '"type":"records"' | grep -c "\"heads_tamper\":$n,")"
# Heads that end before any stop line (the recorder may have died before its next flush): the
# missing gaps are notes, not failures.
sed '/ kind=stop /,$d' "$CR_SYSLOG_LOG" >"$CR_TMP/heads.nostop"
"$CONNREC_BIN" verify -d "$CR_TMP/cut" --heads "$CR_TMP/heads.nostop" >"$CR_TMP/cut-nostop.out" 2>&1 || true
cr_eq "cut store, heads without a stop line: no failure for the tamper lines" 0 \
	"$(grep -c "holds no tamper gap" "$CR_TMP/cut-nostop.out")"
cr_eq "cut store, heads without a stop line: a note for each" "$n" \
	"$(grep -c "^  note: off-host connrec-anchor .* kind=tamper .*(its tamper gap is not in the segments checked" "$CR_TMP/cut-nostop.out")"
cr_finish
