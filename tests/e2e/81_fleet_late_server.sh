#!/bin/sh
# SPDX-License-Identifier: MIT
# Fleet (issue 15): `record --ship-to` while the ClickHouse server is down. The recorder goes on
# recording and sealing; each ship it starts fails with one line naming the server, and the
# recorder says it will try again. Nothing is lost: once the server is up (and has the tables),
# the ships after the next seals send every segment sealed while it was down, each exactly
# once (one marker) and with all its rows (as many as the local sealed file holds).
set -eu
. "$(dirname "$0")/lib.sh"
cr_init
cr_require_cmd clickhouse-server curl zstd
TDIR=$(cd "$(dirname "$0")" && pwd)
. "$TDIR/../tools/clickhouse.sh"

ch_port=$(cr_free_port)
URL=http://127.0.0.1:$ch_port/
printf 'shipper:s3cret\n' >"$CR_TMP/auth"
chmod 600 "$CR_TMP/auth"

# Refused connects on loopback every 50 ms: rows in every segment, so each second seals one.
"$PY" -c '
import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
while True:
    c = socket.socket(); c.connect_ex(("127.0.0.1", port)); c.close(); time.sleep(0.05)
' &
cr_track $!

cr_start --rotate-age 1s --ship-to "$URL" --ship-auth "$CR_TMP/auth"
host=$(hostname)

# Down: wait until three segments are sealed and a ship failed on the refused server.
dl=$(($(date +%s) + 60))
until [ "$(ls "$CR_DATA"/seg-*.db.zst 2>/dev/null | wc -l)" -ge 3 ] &&
	grep -q "trying again" "$CR_TMP/recorder.err"; do
	[ "$(date +%s)" -lt "$dl" ] || cr_fatal "no 3 sealed segments and a failed ship within 60s"
	sleep 0.2
done
down=$(cd "$CR_DATA" && ls seg-*.db.zst)
cr_log "sealed while the server was down: $(echo $down)"
cr_ge "ship errors naming the refused server" 1 \
	"$(grep -c "^connrec: error: $URL: connection refused" "$CR_TMP/recorder.err" || true)"
cr_ge "the recorder says it tries again" 1 \
	"$(grep -c "connrec ship did not ship everything; trying again" "$CR_TMP/recorder.err" || true)"
cr_eq "the recorder runs on while the server is down" yes \
	"$(cr_alive "$CR_REC_PID" && echo yes || echo no)"

# Up: the server, then its tables.
ch_spawn "$CR_TMP/ch" "$ch_port"
cr_track "$CH_PID"
ch_wait_up || cr_fatal "clickhouse-server did not answer on port $ch_port"
"$CONNREC_BIN" ship --schema --to "$URL" --auth "$CR_TMP/auth" 2>"$CR_TMP/schema.err" ||
	cr_fatal "ship --schema failed: $(cat "$CR_TMP/schema.err")"

# Every segment sealed while it was down arrives, shipped by the recorder's later ships.
held() { ch_q "SELECT name FROM connrec.segments WHERE host = '$host' ORDER BY name"; }
all_held() {
	for _s in $down; do held | grep -qx "$_s" || return 1; done
}
dl=$(($(date +%s) + 90))
until all_held; do
	[ "$(date +%s)" -lt "$dl" ] || break
	sleep 0.5
done
cr_stop
for s in $down; do
	id=$(echo "$s" | sed 's/^seg-0*\([0-9][0-9]*\)\.db\.zst$/\1/')
	zstd -q -d -c "$CR_DATA/$s" >"$CR_TMP/plain.db"
	want=$(sqlite3 -readonly "$CR_TMP/plain.db" "SELECT count(*) FROM conn")
	cr_eq "$s: markers on the server (exactly once)" 1 \
		"$(ch_q "SELECT count() FROM connrec.segments WHERE host = '$host' AND segment_id = $id")"
	cr_eq "$s: conn rows of its shipped attempt" "$want" \
		"$(ch_q "SELECT count() FROM connrec.conn WHERE host = '$host' AND segment_id = $id AND
			attempt = (SELECT attempt FROM connrec.segments WHERE host = '$host' AND
			segment_id = $id)")"
	cr_eq "$s: conn rows its marker counts" "$want" \
		"$(ch_q "SELECT conn_rows FROM connrec.segments WHERE host = '$host' AND segment_id = $id")"
done
cr_finish
