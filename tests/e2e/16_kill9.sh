#!/bin/sh
# SPDX-License-Identifier: MIT
# kill -9 of the recorder in the middle of a connection storm. Afterwards no BPF program or
# link that it held may still be loaded (its links are not pinned, so death detaches them),
# the store must pass PRAGMA integrity_check and keep every row it had committed, and a new
# recorder on the same directory must start, record, and store the time it was down as a
# gap of kind 2.
#
# The recorder's programs and links are found through the kernel's own fdinfo for its file
# descriptors (prog_id / link_id), so other recorders running at the same time do not matter.
set -eu
. "$(dirname "$0")/lib.sh"
cr_init
cr_require_cmd bpftool nc
cr_tool tool connburst

# owned_ids prog|link PID: the ids of the BPF programs or links the process holds open.
owned_ids() {
	for _f in /proc/"$2"/fdinfo/*; do
		sed -n "s/^$1_id:[[:space:]]*\([0-9][0-9]*\)$/\1/p" "$_f" 2>/dev/null
	done | sort -un | tr '\n' ' '
}

# still_loaded prog|link IDS...: print the ids that bpftool still shows.
still_loaded() {
	_kind=$1
	shift
	for _id in "$@"; do
		if bpftool "$_kind" show id "$_id" >/dev/null 2>&1; then printf '%s ' "$_id"; fi
	done
}

t0=$(date +%s%N)
cr_start
rec1=$CR_REC_PID
progs=$(owned_ids prog "$rec1")
links=$(owned_ids link "$rec1")
cr_log "recorder $rec1 holds programs: $progs; links: $links"
cr_true "the recorder holds BPF programs" [ -n "$progs" ]
cr_true "the recorder holds BPF links" [ -n "$links" ]
bpftool prog show | grep -E "^($(echo $progs | tr ' ' '|')):" | sed 's/^/    /' || true

# A storm that runs until it is killed; wait until the store shows it being recorded.
"$tool" -n 0 >"$CR_TMP/storm.out" 2>&1 &
spid=$!
cr_track "$spid"
cr_wait_file "$CR_TMP/storm.out" '^listening '
port=$(awk '/^listening/ { print $2 }' "$CR_TMP/storm.out")
q="SELECT count(*) FROM flows WHERE proto = 'tcp' AND direction = 'out' AND rport = $port"
cr_expect_rows "storm being recorded" 200 "$q" || true

before=$(cr_sql_sum "$q")
kill -KILL "$rec1"
wait "$rec1" && st=0 || st=$?
CR_REC_PID=""
cr_eq "recorder exit status after kill -9 (128 + 9)" 137 "$st"
t_kill=$(date +%s%N)

# Releasing a dead process's BPF objects is deferred work in the kernel: poll for it.
dl=$(($(date +%s) + CR_TIMEOUT))
while left="$(still_loaded prog $progs)$(still_loaded link $links)" && [ -n "$left" ] &&
	[ "$(date +%s)" -lt "$dl" ]; do
	sleep 0.1
done
cr_eq "programs of the killed recorder still loaded" "" "$(still_loaded prog $progs)"
cr_eq "links of the killed recorder still present" "" "$(still_loaded link $links)"
listed=$(bpftool prog show | sed -n 's/^\([0-9][0-9]*\):.*/\1/p' | tr '\n' ' ')
stale=""
for id in $progs; do
	case " $listed " in *" $id "*) stale="$stale $id" ;; esac
done
cr_eq "'bpftool prog show' lists none of its programs" "" "$stale"

kill -TERM "$spid"
wait "$spid" || true
cr_untrack "$spid"

for seg in $(cr_segments); do
	cr_eq "integrity_check of $(basename "$seg")" ok \
		"$(sqlite3 -batch -cmd '.timeout 5000' "$seg" 'PRAGMA integrity_check')"
done
after=$(cr_sql_sum "$q")
cr_true "rows committed before the kill survive ($after >= $before)" [ "$after" -ge "$before" ]

cr_start
rec2=$CR_REC_PID
cr_expect_rows "a 'down' gap (kind 2) after the restart" 1 \
	"SELECT count(*) FROM gap WHERE kind = 2" || true
now=$(date +%s%N)
cr_eq "down gaps within [first start, restart] with start <= end" 1 \
	"$(cr_sql_sum "SELECT count(*) FROM gap WHERE kind = 2 AND start_ns >= $t0
		AND start_ns <= $t_kill AND end_ns >= start_ns AND end_ns <= $now")"
cr_eq "start records (run kind 1) of both recorders" 2 \
	"$(cr_sql_sum "SELECT count(*) FROM run WHERE kind = 1 AND pid IN ($rec1, $rec2)")"
cr_eq "clean-stop records (run kind 2) of the killed recorder" 0 \
	"$(cr_sql_sum "SELECT count(*) FROM run WHERE kind = 2 AND pid = $rec1")"

# The restarted recorder records.
rport=$(cr_free_port)
nc -z 127.0.0.1 "$rport" >/dev/null 2>&1 &
npid=$!
wait "$npid" || true
cr_expect_rows "a refused connect after the restart" 1 \
	"SELECT count(*) FROM flows WHERE pid = $npid AND rport = $rport AND reason = 5" || true

progs2=$(owned_ids prog "$rec2")
links2=$(owned_ids link "$rec2")
cr_stop
cr_eq "clean-stop record (run kind 2) of the restarted recorder" 1 \
	"$(cr_sql_sum "SELECT count(*) FROM run WHERE kind = 2 AND pid = $rec2")"
dl=$(($(date +%s) + CR_TIMEOUT))
while left="$(still_loaded prog $progs2)$(still_loaded link $links2)" && [ -n "$left" ] &&
	[ "$(date +%s)" -lt "$dl" ]; do
	sleep 0.1
done
cr_eq "programs or links left after a clean stop" "" \
	"$(still_loaded prog $progs2)$(still_loaded link $links2)"
for seg in $(cr_segments); do
	cr_eq "integrity_check of $(basename "$seg") after the clean stop" ok \
		"$(sqlite3 -batch -cmd '.timeout 5000' "$seg" 'PRAGMA integrity_check')"
done
cr_finish
