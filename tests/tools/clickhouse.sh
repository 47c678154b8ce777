# SPDX-License-Identifier: MIT
# A ClickHouse server of a test's or benchmark's own, for fleet/ (source this file, POSIX sh):
#
#   ch_spawn DIR PORT    writes a config into DIR (data, logs and users there too), starts
#                        clickhouse-server listening on 127.0.0.1:PORT (HTTP only) in the
#                        background; sets CH_PID and CH_URL. Register CH_PID for cleanup
#                        before waiting, so a test killed during the wait still stops it.
#   ch_wait_up           waits until it answers; returns 1 (after printing its log) if it
#                        does not come up within 30s or died.
#   ch_start DIR PORT    both, for callers whose cleanup trap reads CH_PID.
#   ch_q SQL             runs one statement, prints the answer (TabSeparated)
#
# Users: "default" without a password, read-only (so a writer without credentials fails), and
# "shipper" with the password "s3cret", which ch_q uses. The caller
# stops the server (kill $CH_PID) and removes DIR. Nothing is installed or started elsewhere.

ch_spawn() {
	_chd=$1
	mkdir -p "$_chd"
	cat >"$_chd/config.xml" <<EOF_CH
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$_chd/server.log</log><errorlog>$_chd/err.log</errorlog></logger>
  <http_port>$2</http_port>
  <listen_host>127.0.0.1</listen_host>
  <path>$_chd/data/</path>
  <tmp_path>$_chd/tmp/</tmp_path>
  <user_files_path>$_chd/user_files/</user_files_path>
  <format_schema_path>$_chd/format_schemas/</format_schema_path>
  <users_config>$_chd/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
  <timezone>UTC</timezone>
</yandex>
EOF_CH
	cat >"$_chd/users.xml" <<'EOF_CH'
<?xml version="1.0"?>
<yandex>
  <profiles><default/><reader><readonly>2</readonly></reader></profiles>
  <users>
    <default><password></password><networks><ip>127.0.0.1</ip></networks>
      <profile>reader</profile><quota>default</quota></default>
    <shipper><password>s3cret</password><networks><ip>127.0.0.1</ip></networks>
      <profile>default</profile><quota>default</quota></shipper>
  </users>
  <quotas><default/></quotas>
</yandex>
EOF_CH
	# No watchdog parent (newer servers fork one): CH_PID must be the server itself.
	CLICKHOUSE_WATCHDOG_ENABLE=0 clickhouse-server --config-file="$_chd/config.xml" \
		>"$_chd/stdout" 2>&1 &
	CH_PID=$!
	CH_URL=http://127.0.0.1:$2/
	CH_DIR_=$_chd
}

ch_wait_up() {
	_chd=$CH_DIR_
	_chdl=$(($(date +%s) + 30))
	until curl -sf "${CH_URL}ping" >/dev/null 2>&1; do
		if [ "$(date +%s)" -ge "$_chdl" ] || ! kill -0 "$CH_PID" 2>/dev/null; then
			tail -n 20 "$_chd/stdout" "$_chd/err.log" 2>/dev/null
			return 1
		fi
		sleep 0.1
	done
}

ch_start() { ch_spawn "$1" "$2" && ch_wait_up; }

ch_q() { curl -sS -u shipper:s3cret "$CH_URL" --data-binary "$1"; }
