# SPDX-License-Identifier: MIT
# Shared helpers for the end-to-end tests. Source it from a test (POSIX sh, `set -eu`):
#
#   . "$(dirname "$0")/lib.sh"
#   cr_init                     # root check, temp dir, cleanup trap
#   cr_start                    # recorder on $CR_DATA, returns once it printed "ready"
#   ... drive traffic, then poll the store with cr_wait_count, compare with cr_eq ...
#   cr_stop                     # SIGINT, expects exit 0
#   cr_finish                   # prints the summary, exits 1 if any check failed
#
# Every wait polls with a bounded deadline (CR_TIMEOUT seconds, default 30): nothing here
# sleeps a fixed time hoping that something has happened. A test exits 77 (skip) with a reason
# on its last line when it cannot run here (not root, a tool missing).
#
# Cleanup runs on every exit: background processes that were registered with cr_track are
# killed, network namespaces made with cr_netns are deleted, mounts made with cr_mount are
# unmounted, and the temp dir is removed (kept when CR_KEEP=1 or a check failed, for a look).

CONNREC_BIN=${CONNREC_BIN:-./connrec}
CONNREC_OUTPUT=${CONNREC_OUTPUT:-.output}
CR_TIMEOUT=${CR_TIMEOUT:-30}
CR_READY_TIMEOUT=${CR_READY_TIMEOUT:-60}
CR_NAME=$(basename "$0" .sh)
CR_FAILS=0
CR_CHECKS=0
CR_PIDS=""
CR_NETNS=""
CR_MOUNTS=""
CR_ETC_NETNS=""
CR_REC_PID=""
CR_TMP=""
# Prefix for the commands that cr_http_server and cr_curl run: set it to "ip netns exec NS" to
# run them in a namespace (`ip netns exec` execs, so $! stays the program's own pid).
CR_NSEXEC=""
# Debian's own python first: pyenv shims add a wrapper and a second of start-up.
if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; else PY=python3; fi

cr_log() { printf '%s: %s\n' "$CR_NAME" "$*"; }

# cr_skip REASON: the test cannot run here; the reason is the last line run.sh shows.
cr_skip() {
	printf 'skip: %s\n' "$*"
	exit 77
}

# cr_fatal MESSAGE: a failure after which nothing else can be checked.
cr_fatal() {
	printf 'FAIL: %s\n' "$*"
	CR_FAILS=$((CR_FAILS + 1))
	exit 1
}

cr_require_root() {
	[ "$(id -u)" -eq 0 ] || cr_skip "needs root (BPF, namespaces, mounts)"
}

# cr_require_cmd CMD...: skip when a needed program is missing (tools/install-deps.sh has them).
cr_require_cmd() {
	for _c in "$@"; do
		command -v "$_c" >/dev/null 2>&1 || cr_skip "needs '$_c' (run tools/install-deps.sh)"
	done
}

# --- checks ----------------------------------------------------------------------------------
# Each check prints one line. A failed check does not stop the test, so one run shows every
# mismatch; cr_finish turns any failure into a non-zero exit.

cr_pass() {
	CR_CHECKS=$((CR_CHECKS + 1))
	printf 'ok   %s\n' "$1"
}

cr_failed() { # what, expected, got
	CR_CHECKS=$((CR_CHECKS + 1))
	CR_FAILS=$((CR_FAILS + 1))
	printf 'FAIL %s\n       expected: %s\n       got:      %s\n' "$1" "$2" "$3"
}

# cr_eq WHAT EXPECTED GOT
cr_eq() {
	if [ "$2" = "$3" ]; then cr_pass "$1 = '$3'"; else cr_failed "$1" "'$2'" "'$3'"; fi
}

# cr_ne WHAT UNEXPECTED GOT
cr_ne() {
	if [ "$2" != "$3" ]; then cr_pass "$1 = '$3' (not '$2')"; else cr_failed "$1" "anything but '$2'" "'$3'"; fi
}

cr_is_int() {
	case "$1" in '' | *[!0-9-]* | -) return 1 ;; *) return 0 ;; esac
}

# cr_ge WHAT MIN GOT: integer GOT >= MIN
cr_ge() {
	if cr_is_int "$3" && [ "$3" -ge "$2" ]; then
		cr_pass "$1 = $3 (>= $2)"
	else
		cr_failed "$1" ">= $2" "'$3'"
	fi
}

# cr_gt WHAT MIN GOT: integer GOT > MIN
cr_gt() {
	if cr_is_int "$3" && [ "$3" -gt "$2" ]; then
		cr_pass "$1 = $3 (> $2)"
	else
		cr_failed "$1" "> $2" "'$3'"
	fi
}

# cr_in WHAT "A B C" GOT: GOT is one of the words
cr_in() {
	for _w in $2; do
		if [ "$_w" = "$3" ]; then
			cr_pass "$1 = '$3' (one of: $2)"
			return 0
		fi
	done
	cr_failed "$1" "one of: $2" "'$3'"
}

# cr_true WHAT COMMAND...: the command succeeds
cr_true() {
	_what=$1
	shift
	if "$@"; then cr_pass "$_what"; else cr_failed "$_what" "success of: $*" "exit $?"; fi
}

# cr_finish: summary line, exit status.
cr_finish() {
	if [ "$CR_FAILS" -eq 0 ]; then
		cr_log "all $CR_CHECKS checks passed"
		exit 0
	fi
	cr_log "$CR_FAILS of $CR_CHECKS checks failed"
	exit 1
}

# --- set-up and cleanup ----------------------------------------------------------------------

# cr_track PID...: kill these processes (and wait for them) at exit.
cr_track() { CR_PIDS="$CR_PIDS $*"; }

# cr_untrack PID: the test has reaped it itself.
cr_untrack() {
	_keep=""
	for _p in $CR_PIDS; do [ "$_p" = "$1" ] || _keep="$_keep $_p"; done
	CR_PIDS=$_keep
}

cr_alive() { kill -0 "$1" 2>/dev/null; }

# cr_wait_gone PID [SECONDS]: poll until a process (not necessarily our child) has exited.
cr_wait_gone() {
	_dl=$(($(date +%s) + ${2:-$CR_TIMEOUT}))
	while cr_alive "$1"; do
		# A zombie child counts as gone: its socket and BPF fds are already released.
		case "$(cat "/proc/$1/stat" 2>/dev/null)" in *") Z "*) return 0 ;; esac
		[ "$(date +%s)" -lt "$_dl" ] || return 1
		sleep 0.05
	done
}

cr_cleanup() {
	_rc=$?
	set +e
	if [ -n "$CR_REC_PID" ] && cr_alive "$CR_REC_PID"; then
		kill -CONT "$CR_REC_PID" 2>/dev/null # frozen by cr_freeze, it would not stop
		kill -INT "$CR_REC_PID" 2>/dev/null
		cr_wait_gone "$CR_REC_PID" 10 || kill -KILL "$CR_REC_PID" 2>/dev/null
		wait "$CR_REC_PID" 2>/dev/null
	fi
	for _p in $CR_PIDS; do
		kill -TERM "$_p" 2>/dev/null
	done
	for _p in $CR_PIDS; do
		cr_wait_gone "$_p" 5 || kill -KILL "$_p" 2>/dev/null
		wait "$_p" 2>/dev/null
	done
	for _m in $CR_MOUNTS; do
		umount "$_m" 2>/dev/null || umount -l "$_m" 2>/dev/null
	done
	for _d in $CR_ETC_NETNS; do
		rm -rf "$_d"
	done
	for _n in $CR_NETNS; do
		# Processes still inside a namespace keep it alive; kill them before deleting it.
		for _p in $(ip netns pids "$_n" 2>/dev/null); do kill -KILL "$_p" 2>/dev/null; done
		ip netns del "$_n" 2>/dev/null
	done
	if [ -n "$CR_TMP" ] && [ -d "$CR_TMP" ]; then
		_keepdir=0
		[ "${CR_KEEP:-0}" = 1 ] && _keepdir=1
		[ "$_rc" -ne 0 ] && [ "$_rc" -ne 77 ] && _keepdir=1
		if [ "$_keepdir" = 1 ]; then
			echo "kept $CR_TMP (recorder stderr: $CR_TMP/recorder.err)"
		else
			rm -rf "$CR_TMP"
		fi
	fi
	exit "$_rc"
}

# cr_init: root check, a private temp dir ($CR_TMP) with a data dir ($CR_DATA), cleanup trap.
cr_init() {
	cr_require_root
	cr_require_cmd sqlite3 ip ss "$PY"
	[ -x "$CONNREC_BIN" ] || cr_skip "no recorder binary at $CONNREC_BIN (run make)"
	case "$CONNREC_BIN" in /*) ;; *) CONNREC_BIN=$PWD/$CONNREC_BIN ;; esac
	CR_TMP=$(mktemp -d "/tmp/connrec-e2e-$CR_NAME.XXXXXX")
	CR_DATA=$CR_TMP/data
	trap cr_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# --- the recorder ----------------------------------------------------------------------------

# cr_start_bg [ARGS...]: start `record -d $CR_DATA ARGS` in the background, stderr to
# $CR_TMP/recorder.err (appended, so restarts keep the whole story). Sets CR_REC_PID.
cr_start_bg() {
	: >>"$CR_TMP/recorder.err"
	CR_ERR_MARK=$(wc -l <"$CR_TMP/recorder.err")
	# Run from the temp dir with core dumps on, so a crash leaves its core there for a look.
	(
		cd "$CR_TMP" && ulimit -c unlimited 2>/dev/null
		exec "$CONNREC_BIN" record -d "$CR_DATA" "$@" </dev/null >>"$CR_TMP/recorder.out" \
			2>>"$CR_TMP/recorder.err"
	) &
	CR_REC_PID=$!
}

# cr_wait_ready: poll the recorder's stderr for its "ready" line: the word, so that "already"
# does not count, and only in lines written since the last cr_start_bg. Fails, with the
# recorder's stderr, if it exits first or the deadline passes.
cr_wait_ready() {
	_dl=$(($(date +%s) + CR_READY_TIMEOUT))
	while :; do
		if tail -n "+$((CR_ERR_MARK + 1))" "$CR_TMP/recorder.err" | grep -qw ready; then
			return 0
		fi
		if ! cr_alive "$CR_REC_PID"; then
			wait "$CR_REC_PID" && _st=0 || _st=$?
			CR_REC_PID=""
			sed 's/^/    recorder: /' "$CR_TMP/recorder.err"
			cr_fatal "recorder exited (status $_st) before printing 'ready'"
		fi
		if [ "$(date +%s)" -ge "$_dl" ]; then
			sed 's/^/    recorder: /' "$CR_TMP/recorder.err"
			cr_fatal "recorder printed no 'ready' line within ${CR_READY_TIMEOUT}s"
		fi
		sleep 0.05
	done
}

# cr_start [ARGS...]: start the recorder and wait until it is ready.
cr_start() {
	cr_start_bg "$@"
	cr_wait_ready
	cr_log "recorder pid $CR_REC_PID ready on $CR_DATA"
}

# cr_freeze: SIGSTOP the recorder and wait until every thread is stopped (state T), so that it
# reads nothing more until `kill -CONT "$CR_REC_PID"` (cr_cleanup resumes it too).
cr_freeze() {
	kill -STOP "$CR_REC_PID"
	_dl=$(($(date +%s) + CR_TIMEOUT))
	until [ "$(sed 's/.*) \(.\).*/\1/' "/proc/$CR_REC_PID/stat")" = T ]; do
		[ "$(date +%s)" -lt "$_dl" ] || cr_fatal "the recorder did not stop on SIGSTOP"
		sleep 0.01
	done
}

# cr_stop: SIGINT, then the recorder must exit 0 within the deadline.
cr_stop() {
	[ -n "$CR_REC_PID" ] || cr_fatal "cr_stop: no recorder running"
	kill -INT "$CR_REC_PID"
	if ! cr_wait_gone "$CR_REC_PID" "$CR_TIMEOUT"; then
		cr_failed "recorder exits after SIGINT" "exit within ${CR_TIMEOUT}s" "still running"
		kill -KILL "$CR_REC_PID"
	fi
	wait "$CR_REC_PID" && _st=0 || _st=$?
	CR_REC_PID=""
	cr_eq "recorder exit status after SIGINT" 0 "$_st"
	if [ "$_st" -ne 0 ]; then
		[ "$_st" -le 128 ] || cr_log "the recorder died of signal $((_st - 128))" \
			"$(ls "$CR_TMP"/core* 2>/dev/null | head -n 1)"
		sed 's/^/    recorder: /' "$CR_TMP/recorder.err" | tail -n 20
	fi
}

# --- the store -------------------------------------------------------------------------------

# cr_segments [DIR]: the store's segment files, oldest first.
cr_segments() {
	ls "${1:-$CR_DATA}"/seg-*.db 2>/dev/null | sort
}

# cr_sql QUERY: run QUERY on every segment of $CR_DATA, rows as a|b|c lines (NULL prints as
# "NULL"). The live segment is read while the recorder writes it, so wait on its locks.
cr_sql() {
	_segs=$(cr_segments)
	[ -n "$_segs" ] || {
		echo "cr_sql: no segment (seg-*.db) in $CR_DATA" >&2
		return 1
	}
	for _s in $_segs; do
		sqlite3 -readonly -batch -noheader -separator '|' -nullvalue NULL \
			-cmd '.timeout 5000' "$_s" "$1" || return 1
	done
}

# cr_sql_sum QUERY: QUERY returns one number per segment; prints their sum.
cr_sql_sum() {
	cr_sql "$1" | awk '{ s += $1 } END { printf "%d\n", s }'
}

# cr_wait_count MIN QUERY [SECONDS]: poll until the summed COUNT from QUERY is >= MIN.
# Prints the last count. Returns 1 (after printing what it got) at the deadline.
cr_wait_count() {
	_min=$1
	_dl=$(($(date +%s) + ${3:-$CR_TIMEOUT}))
	while :; do
		_got=$(cr_sql_sum "$2" 2>/dev/null) || _got=0
		if [ "$_got" -ge "$_min" ]; then
			echo "$_got"
			return 0
		fi
		if [ "$(date +%s)" -ge "$_dl" ]; then
			echo "$_got"
			return 1
		fi
		sleep 0.1
	done
}

# cr_expect_rows WHAT MIN QUERY: cr_wait_count as a check (the store has the rows in time).
cr_expect_rows() {
	_t0=$(date +%s%N)
	if _n=$(cr_wait_count "$2" "$3"); then
		cr_pass "$1: $_n row(s) after $((($(date +%s%N) - _t0) / 1000000)) ms"
	else
		cr_failed "$1 (within ${CR_TIMEOUT}s; query: $3)" ">= $2 row(s)" "$_n row(s)"
		return 1
	fi
}

# cr_dump_flows WHERE: print matching flows, to make a failed check easy to read.
cr_dump_flows() {
	echo "    flows where $1:"
	cr_sql "SELECT conn_id, proto, family, direction, hex(laddr), lport, hex(raddr), rport,
		pid, comm, uid, netns, bytes_out, bytes_in, reason, flags,
		end_ns IS NOT NULL FROM flows WHERE $1 ORDER BY start_ns" | sed 's/^/      /' || true
}

# Hex forms of addresses as stored (network order).
CR_V4_LO=7F000001
CR_V6_LO=00000000000000000000000000000001
cr_hex4() { # dotted quad -> 8 hex digits
	echo "$1" | awk -F. '{ printf "%02X%02X%02X%02X\n", $1, $2, $3, $4 }'
}

# --- processes, ports, namespaces ------------------------------------------------------------

# cr_comm PID: the process name as the kernel knows it (the thread-group leader's comm).
cr_comm() { cat "/proc/$1/comm"; }

# cr_jget FILE KEY: the value of KEY in the last JSON line of FILE (bench/storm's output).
cr_jget() {
	tail -n 1 "$1" | tr ',{}' '\n\n\n' | sed -n "s/^\"$2\":\"\{0,1\}\([^\"]*\)\"\{0,1\}\$/\1/p"
}

# cr_wait_file FILE PATTERN [SECONDS]: poll until FILE has a line matching PATTERN.
cr_wait_file() {
	_dl=$(($(date +%s) + ${3:-$CR_TIMEOUT}))
	until grep -q -e "$2" "$1" 2>/dev/null; do
		[ "$(date +%s)" -lt "$_dl" ] || cr_fatal "no line matching '$2' in $1 within ${3:-$CR_TIMEOUT}s"
		sleep 0.05
	done
}

# cr_wait_port tcp|udp PORT [NETNS]: poll until something listens on (tcp) or is bound to
# (udp) PORT, optionally inside a network namespace.
cr_wait_port() {
	_dl=$(($(date +%s) + CR_TIMEOUT))
	case "$1" in tcp) _f=-Hltn ;; udp) _f=-Huan ;; *) cr_fatal "cr_wait_port: $1?" ;; esac
	while :; do
		if [ -n "${3:-}" ]; then
			_out=$(ip netns exec "$3" ss $_f "sport = :$2" 2>/dev/null) || _out=""
		else
			_out=$(ss $_f "sport = :$2" 2>/dev/null) || _out=""
		fi
		[ -z "$_out" ] || return 0
		[ "$(date +%s)" -lt "$_dl" ] || cr_fatal "nothing on $1 port $2${3:+ in netns $3} within ${CR_TIMEOUT}s"
		sleep 0.05
	done
}

# cr_free_port [ADDR]: a TCP port the kernel just handed out on ADDR (default 127.0.0.1).
# Prefer letting the server bind port 0 and reading its port back where possible.
cr_free_port() {
	"$PY" -c 'import socket,sys
a = sys.argv[1]
s = socket.socket(socket.AF_INET6 if ":" in a else socket.AF_INET)
s.bind((a, 0)); print(s.getsockname()[1])' "${1:-127.0.0.1}"
}

# cr_netns VAR NAME: create a network namespace cr-NAME-<pid> (unique per run) with its
# loopback up, and store its name in VAR. It is deleted at exit. (It sets a variable rather
# than printing the name because $(...) would lose the cleanup registration.)
cr_netns() {
	_ns="cr-$2-$$"
	ip netns add "$_ns" || cr_fatal "ip netns add $_ns failed"
	CR_NETNS="$CR_NETNS $_ns"
	ip -n "$_ns" link set lo up
	eval "$1=\$_ns"
}

# cr_netns_resolver NAME ADDR: the C library's resolver in namespace NAME asks ADDR, through
# /etc/netns/NAME/resolv.conf (which `ip netns exec` mounts over /etc/resolv.conf). Removed at
# exit with the namespace.
cr_netns_resolver() {
	mkdir -p "/etc/netns/$1" || cr_fatal "cannot create /etc/netns/$1"
	CR_ETC_NETNS="$CR_ETC_NETNS /etc/netns/$1"
	printf 'nameserver %s\noptions timeout:5 attempts:1\n' "$2" >"/etc/netns/$1/resolv.conf"
}

# cr_netns_inode NAME: the namespace's inode, as the recorder must report it.
cr_netns_inode() { stat -L -c %i "/run/netns/$1"; }

# cr_tcp_counter NS FIELD: a field of the namespace's "Tcp:" SNMP counters (e.g. OutRsts).
# A test that runs its TCP traffic alone in a namespace gets exact ground truth from them.
cr_tcp_counter() {
	ip netns exec "$1" awk -v want="$2" '/^Tcp:/ {
		if (!h) { for (i = 1; i <= NF; i++) f[$i] = i; h = 1 } else print $f[want] }' /proc/net/snmp
}

# cr_veth NS1 ADDR1/LEN NS2 ADDR2/LEN [N]: a veth pair joining two namespaces, both ends up.
# The device names are short and unique per run (and per N, for a test with several pairs).
cr_veth() {
	_a="cra$$${5:-}"
	_b="crb$$${5:-}"
	ip link add "$_a" type veth peer name "$_b" || cr_fatal "ip link add veth failed"
	ip link set "$_a" netns "$1"
	ip link set "$_b" netns "$3"
	ip -n "$1" addr add "$2" dev "$_a"
	ip -n "$3" addr add "$4" dev "$_b"
	ip -n "$1" link set "$_a" up
	ip -n "$3" link set "$_b" up
}

# cr_mount ARGS... TARGET: mount, and unmount TARGET at exit.
cr_mount() {
	mount "$@" || cr_fatal "mount $* failed"
	for _t in "$@"; do :; done
	CR_MOUNTS="$_t $CR_MOUNTS"
}

# cr_tool VAR NAME: store in VAR the path of the helper tests/tools/NAME.c or bench/NAME.c,
# built by `make tools` into $CONNREC_OUTPUT/tools. When that has not been built, compile it
# into the temp dir (the helpers need only libc), so the test does not depend on the rest of
# the tree building.
cr_tool() {
	_path=$CONNREC_OUTPUT/tools/$2
	if [ ! -x "$_path" ]; then
		_top=$(dirname "$0")/../..
		_src=""
		for _c in "$_top/tests/tools/$2.c" "$_top/bench/$2.c"; do
			[ -f "$_c" ] && _src=$_c && break
		done
		[ -n "$_src" ] || cr_skip "no $_path and no source for it"
		command -v cc >/dev/null 2>&1 || cr_skip "no $_path (run make tools)"
		_path=$CR_TMP/$2
		cc -O2 -std=gnu11 -Wall -Wextra -o "$_path" "$_src" -lpthread ||
			cr_fatal "cannot compile $_src"
	fi
	eval "$1=\$_path"
}

# --- clients and servers used by several tests -----------------------------------------------

# cr_hold PROCS PER SPREAD: PROCS servers (`storm --server-only -m hold`), each on a port of
# the kernel's choosing, and one client per server holding PER connections to it, spread over
# SPREAD processes; returns once every client holds them all. Sets CR_HOLD_PORTS,
# CR_HOLD_SPIDS and CR_HOLD_CPIDS (space-separated) and CR_HOLD_T0 (ns, first connect).
cr_hold() {
	CR_HOLD_PORTS="" CR_HOLD_SPIDS="" CR_HOLD_CPIDS=""
	_i=1
	while [ "$_i" -le "$1" ]; do
		"$storm" --server-only -m hold -n "$2" -t 2 -d 600 >"$CR_TMP/srv$_i.out" 2>&1 &
		cr_track $!
		CR_HOLD_SPIDS="$CR_HOLD_SPIDS $!"
		cr_wait_file "$CR_TMP/srv$_i.out" '"event":"listening"'
		CR_HOLD_PORTS="$CR_HOLD_PORTS $(cr_jget "$CR_TMP/srv$_i.out" port)"
		_i=$((_i + 1))
	done
	CR_HOLD_T0=$(date +%s%N)
	_i=1
	for _p in $CR_HOLD_PORTS; do
		"$storm" --client-only -m hold -p "$_p" -n "$2" -t "$3" --spread "$3" -d 600 \
			>"$CR_TMP/cli$_i.out" 2>&1 &
		cr_track $!
		CR_HOLD_CPIDS="$CR_HOLD_CPIDS $!"
		_i=$((_i + 1))
	done
	_i=1
	for _p in $CR_HOLD_PORTS; do
		cr_wait_file "$CR_TMP/cli$_i.out" '"event":"holding"'
		cr_eq "connections held by client $_i (port $_p)" "$2" \
			"$(sed -n 's/.*"event":"holding".*"made":\([0-9]*\).*/\1/p' "$CR_TMP/cli$_i.out")"
		_i=$((_i + 1))
	done
}

# cr_http_server ADDR DIR: `python3 -m http.server` on ADDR, a port of the kernel's choosing,
# serving DIR. Sets CR_HTTP_PID and CR_HTTP_PORT once it listens.
cr_http_server() {
	_log=$CR_TMP/http-server.$(date +%s%N).log
	$CR_NSEXEC "$PY" -u -m http.server 0 --bind "$1" --directory "$2" >"$_log" 2>&1 &
	CR_HTTP_PID=$!
	cr_track "$CR_HTTP_PID"
	cr_wait_file "$_log" 'Serving HTTP on'
	CR_HTTP_PORT=$(sed -n 's/^Serving HTTP on .* port \([0-9][0-9]*\) .*/\1/p' "$_log" | head -n 1)
	cr_is_int "$CR_HTTP_PORT" || cr_fatal "cannot read the port from $_log: $(cat "$_log")"
}

# cr_curl URL [CURL-ARGS...]: fetch URL with curl in the background so its pid is known, and
# wait for it. Sets CR_CURL_PID, CR_CURL_STATUS (exit status), CR_CURL_LPORT (its local port)
# and, from curl's own accounting, CR_CURL_SENT (request bytes) and CR_CURL_RECV (header and
# body bytes received).
cr_curl() {
	_url=$1
	shift
	_out=$CR_TMP/curl.$(date +%s%N)
	$CR_NSEXEC curl -g -sS -o "$_out.body" \
		-w '%{local_port} %{size_request} %{size_header} %{size_download} %{http_code}\n' \
		"$@" "$_url" >"$_out.w" 2>"$_out.err" &
	CR_CURL_PID=$!
	wait "$CR_CURL_PID" && CR_CURL_STATUS=0 || CR_CURL_STATUS=$?
	CR_CURL_BODY=$_out.body
	read -r CR_CURL_LPORT CR_CURL_SENT _h _d CR_CURL_CODE <"$_out.w" || true
	CR_CURL_RECV=$((${_h:-0} + ${_d:-0}))
}

# --- syslog --------------------------------------------------------------------------------

# cr_syslog_sink: a syslog stand-in (tests/e2e/py/syslog_sink.py) on a socket of its own,
# tracked for cleanup. Sets CR_SYSLOG_SOCK (pass it as --syslog-socket) and CR_SYSLOG_LOG
# (the lines it received).
cr_syslog_sink() {
	CR_SYSLOG_SOCK=$CR_TMP/syslog.sock
	CR_SYSLOG_LOG=$CR_TMP/syslog.log
	: >"$CR_SYSLOG_LOG"
	"$PY" "$(dirname "$0")/py/syslog_sink.py" "$CR_SYSLOG_SOCK" "$CR_SYSLOG_LOG" \
		>"$CR_TMP/syslog.out" 2>&1 &
	cr_track $!
	cr_wait_file "$CR_TMP/syslog.out" '^ready'
}

# cr_run_py SCRIPT [ARGS...]: runs tests/e2e/py/SCRIPT with ARGS, its output in $CR_TMP/py.out,
# until it prints "done" and exits; checks its exit status. Sets CR_PY_PID. Read its
# "KEY value" lines with cr_py_val KEY.
cr_run_py() {
	_script=$1
	shift
	"$PY" -u "$(dirname "$0")/py/$_script" "$@" >"$CR_TMP/py.out" 2>&1 &
	CR_PY_PID=$!
	cr_track "$CR_PY_PID"
	cr_wait_file "$CR_TMP/py.out" '^done' 60
	wait "$CR_PY_PID" && _st=0 || _st=$?
	cr_untrack "$CR_PY_PID"
	cr_eq "$_script exit status" 0 "$_st"
}
cr_py_val() { sed -n "s/^$1 //p" "$CR_TMP/py.out" | head -n 1; }

# cr_udp_flows_eq LABEL N PID WANT: waits until PID has N ended UDP flows, then checks that
# they are exactly WANT (sorted lines of direction|lport|rport|bytes_out|bytes_in|reason|state),
# as `connrec query -o json` gives them; prints the query's rows when a check failed.
cr_udp_flows_eq() {
	cr_expect_rows "$1" "$2" "SELECT count(*) FROM flows WHERE proto = 'udp' AND
		pid = $3 AND reason IS NOT NULL" || true
	"$CONNREC_BIN" query -d "$CR_DATA" -o json --proto udp --pid "$3" >"$CR_TMP/q.json"
	cr_eq "the flows (direction|lport|rport|bytes_out|bytes_in|reason|state)" "$4" \
		"$("$PY" -c 'import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    print("|".join(str(r[k]) for k in
        ("direction", "lport", "rport", "bytes_out", "bytes_in", "reason", "state")))' \
			"$CR_TMP/q.json" | sort)"
	[ "$CR_FAILS" -eq 0 ] || sed 's/^/    /' "$CR_TMP/q.json"
}
