#!/bin/sh
# SPDX-License-Identifier: MIT
# The fresh-machine case: tracefs is not mounted (neither at /sys/kernel/tracing nor through
# debugfs at /sys/kernel/debug/tracing). The recorder must still start and record an accept.
#
# The test runs in a private mount namespace of its own and unmounts tracefs and debugfs only
# there, so the host's mounts (and other recorders running at the same time) are untouched and
# nothing needs restoring afterwards: the namespace goes away with the test.
set -eu
if [ "${CR_PRIVATE_MOUNTS:-}" != 1 ]; then
	[ "$(id -u)" -eq 0 ] || { echo "skip: needs root"; exit 77; }
	command -v unshare >/dev/null || { echo "skip: needs unshare (util-linux)"; exit 77; }
	CR_PRIVATE_MOUNTS=1 exec unshare --mount --propagation private sh "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
cr_init
cr_require_cmd curl findmnt

# Deepest first, so a tracefs under debugfs goes before debugfs itself.
for m in $(findmnt -rn -t tracefs,debugfs -o TARGET | sort -r); do
	umount "$m" || cr_fatal "cannot unmount $m in the test's private mount namespace"
done
cr_eq "tracefs/debugfs mounts before the recorder starts" "" \
	"$(findmnt -rn -t tracefs,debugfs -o TARGET)"
cr_true "no tracepoint ids readable" [ ! -e /sys/kernel/tracing/events/sock ]

mkdir "$CR_TMP/www"
echo hello >"$CR_TMP/www/hello"
cr_start
cr_http_server 127.0.0.1 "$CR_TMP/www"
cr_curl "http://127.0.0.1:$CR_HTTP_PORT/hello"
cr_eq "curl exit status" 0 "$CR_CURL_STATUS"

w="proto = 'tcp' AND direction = 'in' AND lport = $CR_HTTP_PORT AND rport = $CR_CURL_LPORT"
cr_expect_rows "the accepted connection" 1 "SELECT count(*) FROM flows WHERE $w" || true
cr_eq "accepted connection (pid|comm)" "$CR_HTTP_PID|$(cr_comm "$CR_HTTP_PID")" \
	"$(cr_sql "SELECT pid, comm FROM flows WHERE $w")"
cr_expect_rows "curl's connection" 1 "SELECT count(*) FROM flows WHERE direction = 'out'
	AND pid = $CR_CURL_PID AND rport = $CR_HTTP_PORT AND lport = $CR_CURL_LPORT" || true
cr_log "mounts after the recorder started: $(findmnt -rn -t tracefs,debugfs -o TARGET | tr '\n' ' ')"

[ "$CR_FAILS" -eq 0 ] || cr_dump_flows "lport = $CR_HTTP_PORT OR rport = $CR_HTTP_PORT"
cr_stop
cr_finish
