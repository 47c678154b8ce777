#!/bin/sh
# SPDX-License-Identifier: MIT
# The systemd unit's CapabilityBoundingSet is enough for everything the recorder does: run with
# exactly that set (read from examples/connrec.service, the unit make install and the package
# ship) and no new privileges, it starts, finds the owner of a connection that a process of
# another user opened in another network namespace before it started (sock_diag there, that
# process's /proc/PID/fd), and records a new one by that user with its pid. Then the same with
# CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH dropped: the owner of the pre-existing connection
# cannot be found, which shows the check can fail and why those two are in the set.
set -eu
. "$(dirname "$0")/lib.sh"
cr_init
cr_require_cmd setpriv
cr_netns ns caps

unit=$(dirname "$0")/../../examples/connrec.service
set_=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit")
[ -n "$set_" ] || cr_fatal "no CapabilityBoundingSet in $unit"
cr_log "the unit's set: $set_"

# capped_bin DROP...: a wrapper that runs the recorder with the unit's set minus DROP.
capped_bin() {
	_caps=""
	for _c in $set_; do
		_keep=1
		for _d in "$@"; do [ "$_c" = "$_d" ] && _keep=0; done
		[ $_keep -eq 1 ] && _caps="$_caps,+$(echo "$_c" | sed 's/^CAP_//' | tr 'A-Z' 'a-z')"
	done
	cat >"$CR_TMP/capped" <<WRAP
#!/bin/sh
exec setpriv --bounding-set=-all$_caps --inh-caps=-all --no-new-privs "$REAL_BIN" "\$@"
WRAP
	chmod 0755 "$CR_TMP/capped"
	CONNREC_BIN=$CR_TMP/capped
	# What a process started that way has: the recorder must have exactly this, no more.
	WANT_CAPS=$(setpriv --bounding-set=-all$_caps --inh-caps=-all --no-new-privs \
		sed -n 's/^CapBnd:[[:space:]]*//p' /proc/self/status)
}
REAL_BIN=$CONNREC_BIN

# A server and a client of user nobody, connected before the recorder starts.
chmod 0755 "$CR_TMP"
cat >"$CR_TMP/hold.py" <<'PY'
import signal, socket, sys
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(1)
c = socket.create_connection(ls.getsockname())
s, _ = ls.accept()
print("connected", c.getsockname()[1], ls.getsockname()[1], flush=True)
signal.pause()
PY
chmod 0644 "$CR_TMP/hold.py"

# run_case NAME EXPECT_OWNER DROP...
run_case() {
	_name=$1 _want=$2
	shift 2
	capped_bin "$@"
	ip netns exec "$ns" setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$PY" -u "$CR_TMP/hold.py" >"$CR_TMP/hold.$_name" 2>&1 &
	_hp=$!
	cr_track "$_hp"
	cr_wait_file "$CR_TMP/hold.$_name" '^connected '
	_cport=$(awk '/^connected/ { print $2 }' "$CR_TMP/hold.$_name")
	rm -rf "$CR_DATA"
	cr_start
	cr_eq "$_name: the recorder's bounding set" "$WANT_CAPS" \
		"$(sed -n 's/^CapBnd:[[:space:]]*//p' "/proc/$CR_REC_PID/status")"
	cr_eq "$_name: its effective set is that, no more" "$WANT_CAPS" \
		"$(sed -n 's/^CapEff:[[:space:]]*//p' "/proc/$CR_REC_PID/status")"
	if [ "$_want" = owner ]; then
		cr_expect_rows "$_name: the pre-existing connection of nobody, with its pid" 1 \
			"SELECT count(*) FROM conn c JOIN proc p ON p.id = c.proc WHERE c.lport = $_cport AND (c.flags & 1) = 1 AND p.pid = $_hp AND p.uid = $(id -u nobody)" || true
	else
		cr_expect_rows "$_name: the pre-existing connection is recorded" 1 \
			"SELECT count(*) FROM conn WHERE lport = $_cport AND (flags & 1) = 1" || true
		cr_eq "$_name: but without its owner" 0 \
			"$(cr_sql_sum "SELECT count(*) FROM conn c JOIN proc p ON p.id = c.proc WHERE c.lport = $_cport AND p.pid = $_hp")"
	fi
	# A new connection by nobody, in the namespace, while recording.
	_port=$(cr_free_port)
	ip netns exec "$ns" setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$PY" -c 'import socket,sys
s = socket.socket()
try: s.connect(("127.0.0.1", int(sys.argv[1])))
except OSError: pass' "$_port" &
	_np=$!
	wait "$_np" || true
	cr_expect_rows "$_name: a new connect by nobody, with its pid" 1 \
		"SELECT count(*) FROM conn c JOIN proc p ON p.id = c.proc WHERE c.rport = $_port AND p.pid = $_np" || true
	cr_stop
	kill "$_hp" 2>/dev/null || true
	wait "$_hp" 2>/dev/null || true
	cr_untrack "$_hp"
}

run_case unit-set owner
run_case without-proc-access no-owner CAP_SYS_PTRACE CAP_DAC_READ_SEARCH
cr_finish
