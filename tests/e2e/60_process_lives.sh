#!/bin/sh
# SPDX-License-Identifier: MIT
# Process lives: every process that runs while the recorder records, and every one that ran
# before it started, is stored with its executable, command line, parent and cgroup, and two
# processes that had the same pid stay apart; each flow names its process life, and `connrec
# query` shows exe, args, ppid, pcomm, container and unit and filters on them. Ground truth
# comes from the test itself: the paths it runs, the pids the shell hands out, the cgroups it
# makes.
#
#   - a process that existed before the recorder started: seeded, exe and args from /proc
#   - curl copied to an odd path (a space in it) and deleted after it ran: exe is that path
#   - a python that renames itself (prctl PR_SET_NAME): exe is still the python it exec'd
#   - a shell that runs curl: curl's parent is the shell, and the shell's exit status is kept
#   - two processes given the same pid (clone3 with set_tid): two lives, apart
#   - processes moved into system.slice/docker-<64 hex>.scope and system.slice/NAME.service
#     (made under the cgroup v2 root and removed again): container id and unit
set -eu
. "$(dirname "$0")/lib.sh"
cr_init
cr_require_cmd curl
cr_tool samepid samepid

CURL=$(command -v curl)
SH=$(command -v sh)

# --- cgroups of our own, under the real cgroup v2 root --------------------------------------
cgroot=$(awk '{ for (i = 1; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") print $5; break } }' \
	/proc/self/mountinfo | head -n 1)
[ -n "$cgroot" ] && [ -d "$cgroot" ] || cr_skip "no cgroup v2 mount"
made_slice=""
hex=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
docker_cg="$cgroot/system.slice/docker-$hex.scope"
unit_name="crtest-$$.service"
unit_cg="$cgroot/system.slice/$unit_name"
cg_cleanup() {
	for _d in "$docker_cg" "$unit_cg"; do
		[ -d "$_d" ] || continue
		# Anything still inside goes back to the root first, so the directory can go.
		for _p in $(cat "$_d/cgroup.procs" 2>/dev/null); do
			echo "$_p" >"$cgroot/cgroup.procs" 2>/dev/null || true
		done
		rmdir "$_d" 2>/dev/null || true
	done
	[ -z "$made_slice" ] || rmdir "$cgroot/system.slice" 2>/dev/null || true
}
trap '_st=$?; cg_cleanup; (exit $_st); cr_cleanup' EXIT
if [ ! -d "$cgroot/system.slice" ]; then
	mkdir "$cgroot/system.slice" || cr_skip "cannot create cgroups under $cgroot"
	made_slice=1
fi
mkdir "$docker_cg" "$unit_cg"

# --- before the recorder ---------------------------------------------------------------------
sleep 1000 &
seeded_pid=$!
cr_track "$seeded_pid"

cr_start

mkdir "$CR_TMP/www"
echo hello >"$CR_TMP/www/index.html"
cr_http_server 127.0.0.1 "$CR_TMP/www"
url="http://127.0.0.1:$CR_HTTP_PORT/"

# --- curl at an odd path, deleted afterwards ---------------------------------------------------
mkdir "$CR_TMP/odd dir"
odd="$CR_TMP/odd dir/not curl"
cp "$CURL" "$odd"
"$odd" -s -o /dev/null "$url" &
odd_pid=$!
wait "$odd_pid"
rm -f "$odd"

# --- a python that renames itself --------------------------------------------------------------
"$PY" -c '
import ctypes, socket, sys
ctypes.CDLL(None).prctl(15, b"innocent", 0, 0, 0)
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET / HTTP/1.0\r\n\r\n")
while s.recv(4096):
    pass
' "$CR_HTTP_PORT" &
ren_pid=$!
wait "$ren_pid"

# --- a shell that runs curl, then exits 3 ------------------------------------------------------
sh -c "'$CURL' -s -o /dev/null '$url'; exit 3" &
sh_pid=$!
wait "$sh_pid" || true

# --- one pid, two processes --------------------------------------------------------------------
same=""
for _try in 1 2 3 4 5; do
	if out=$("$samepid" "$CR_HTTP_PORT" "$CURL" -s -o /dev/null "$url"); then
		same=$(echo "$out" | awk '{ print $2 }')
		break
	fi
	[ $? -eq 2 ] || cr_fatal "samepid failed: $out"
done
[ -n "$same" ] || cr_fatal "samepid could not get the same pid twice"

# --- containers and units ----------------------------------------------------------------------
sh -c "echo \$\$ >'$docker_cg/cgroup.procs' && exec '$CURL' -s -o /dev/null '$url'" &
docker_pid=$!
wait "$docker_pid"
sh -c "echo \$\$ >'$unit_cg/cgroup.procs' && exec '$CURL' -s -o /dev/null '$url'" &
unit_pid=$!
wait "$unit_pid"

cr_log "seeded $seeded_pid, odd $odd_pid, renamed $ren_pid, shell $sh_pid, same pid $same," \
	"docker $docker_pid, unit $unit_pid"

# --- the store ---------------------------------------------------------------------------------
# A fork image is written as a row of its own when a flush comes between the fork and the exec
# (a slow or busy host; store/store_lives.c): where a check is about what a process became,
# it takes each life's last image.
LAST="image_ns = (SELECT max(image_ns) FROM lives x WHERE x.pid = lives.pid
	AND x.pstart_ns = lives.pstart_ns)"
cr_expect_rows "the last process's life" 1 \
	"SELECT count(*) FROM lives WHERE pid = $unit_pid AND exit_ns IS NOT NULL" || true

cr_eq "seeded (exe|args|seeded flag)" "$(readlink -f "$(command -v sleep)")|sleep 1000|1" \
	"$(cr_sql "SELECT exe, args, flags & 1 FROM lives WHERE pid = $seeded_pid AND $LAST")"

cr_eq "odd path (exe|args|exec flag|exit)" "$odd|'$odd' -s -o /dev/null $url|4|0" \
	"$(cr_sql "SELECT exe, args, flags & 4, exit_code FROM lives WHERE pid = $odd_pid AND $LAST")"

cr_eq "renamed python (exe|comm at exec)" "$PY|$(basename "$PY")" \
	"$(cr_sql "SELECT exe, comm FROM lives WHERE pid = $ren_pid AND $LAST")"

cr_eq "shell's child (exe|pcomm|rows)" "$CURL|sh|1" \
	"$(cr_sql "SELECT exe, pcomm, count(*) FROM lives WHERE ppid = $sh_pid AND $LAST")"
cr_eq "shell (exe|exit status 3)" "$SH|768" \
	"$(cr_sql "SELECT exe, exit_code FROM lives WHERE pid = $sh_pid AND $LAST")"
cr_eq "shell (exec images)" 1 \
	"$(cr_sql "SELECT count(*) FROM lives WHERE pid = $sh_pid AND flags & 4")"

cr_eq "one pid, two lives" 2 \
	"$(cr_sql "SELECT count(DISTINCT pstart_ns) FROM lives WHERE pid = $same")"
cr_eq "one pid, two lives (exe, oldest first)" "$samepid|0,$CURL|4" \
	"$(cr_sql "SELECT group_concat(exe || '|' || (flags & 4), ',') FROM
		(SELECT * FROM lives WHERE pid = $same AND $LAST ORDER BY pstart_ns)")"
cr_eq "one pid, two lives (each ended once)" "2|2" \
	"$(cr_sql "SELECT count(DISTINCT pstart_ns), count(DISTINCT pstart_ns || '/' || exit_ns)
		FROM lives WHERE pid = $same AND exit_ns IS NOT NULL")"

# The shell's image is in the root cgroup, the exec'd curl in the one the shell moved into.
cr_eq "docker scope: curl (rows|container|unit)" "1|$hex|docker-$hex.scope" \
	"$(cr_sql "SELECT count(*), container, unit FROM lives WHERE pid = $docker_pid AND exe = '$CURL'")"
cr_eq "docker scope: curl (cgroup path)" "/system.slice/docker-$hex.scope" \
	"$(cr_sql "SELECT cgroup_path FROM lives WHERE pid = $docker_pid AND exe = '$CURL'")"
cr_eq "docker scope: the shell before it moved (container|unit)" "|" \
	"$(cr_sql "SELECT container, unit FROM lives WHERE pid = $docker_pid AND exe = '$SH'")"
cr_eq "service: curl (rows|container|unit)" "1||$unit_name" \
	"$(cr_sql "SELECT count(*), container, unit FROM lives WHERE pid = $unit_pid AND exe = '$CURL'")"

cr_eq "process events lost" 0 \
	"$(cr_sql_sum "SELECT count(*) FROM gap WHERE reason LIKE 'process%'")"

# --- each flow names its process (connrec query) -------------------------------------------------
# qj FIELDS ARGS...: query the live store as JSON; one line per row, FIELDS joined by '|'.
qj() {
	_fields=$1
	shift
	"$CONNREC_BIN" query -d "$CR_DATA" -o json --rport "$CR_HTTP_PORT" "$@" | "$PY" -c '
import json, sys
keys = sys.argv[1].split(",")
for line in sys.stdin:
    row = json.loads(line)
    print("|".join("" if row[k] is None else str(row[k]) for k in keys))' "$_fields" | sort
}
cr_expect_rows "the last flow" 1 \
	"SELECT count(*) FROM flows WHERE pid = $unit_pid AND end_ns IS NOT NULL" || true

cr_eq "odd path's flow (exe, deleted since|ppid)" "$odd|$$" "$(qj exe,ppid --pid "$odd_pid")"
cr_eq "renamed python's flow (comm|exe)" "innocent|$PY" "$(qj comm,exe --pid "$ren_pid")"
cr_eq "--ppid the shell: curl's flow (exe|pcomm|args)" "$CURL|sh|$CURL -s -o /dev/null $url" \
	"$(qj exe,pcomm,args --ppid "$sh_pid")"
cr_eq "--args (a substring glob)" "$odd_pid" "$(qj pid --args 'not curl*/dev/null')"
cr_eq "--exe on the deleted path" "$odd_pid" "$(qj pid --exe "*/odd dir/*")"
# Two lives of one pid: one flow each, each with its own executable and start time.
same_rows=$(qj exe,pstart_ns --pid "$same")
# Both sides sorted: where the checkout lies decides whether samepid's path sorts before curl's.
cr_eq "one pid, two flows: executables" "$(printf '%s\n%s\n' "$CURL" "$samepid" | sort)" \
	"$(echo "$same_rows" | cut -d '|' -f 1 | sort)"
cr_eq "one pid, two flows: two start times" 2 "$(echo "$same_rows" | cut -d '|' -f 2 | sort -u | wc -l)"
cr_eq "--container (a prefix)" "$docker_pid|$hex|docker-$hex.scope" \
	"$(qj pid,container,unit --container "$(echo "$hex" | cut -c1-12)")"
cr_eq "--unit" "$unit_pid|$unit_name" "$(qj pid,unit --unit "$unit_name")"
cr_eq "--unit (glob)" "$unit_pid" "$(qj pid --unit 'crtest-*.service')"
# --procs: the two lives of the reused pid, one flow each.
cr_eq "--procs for the reused pid (exe|flows)" "$(printf '%s|1\n%s|1\n' "$CURL" "$samepid" | sort)" \
	"$("$CONNREC_BIN" query -d "$CR_DATA" -o json --procs --pid "$same" | "$PY" -c '
import json, sys
for line in sys.stdin:
    row = json.loads(line)
    print("%s|%s" % (row["exe"], row["flows"]))' | sort)"

cr_stop
cr_finish
