#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds the libFuzzer targets (clang -fsanitize=fuzzer,address,undefined) and runs each for
# a share of SECONDS (default 30): the query's parsers, ClickHouse answers as query --from
# decodes them (RowBinary), opening store files seeded with real segments from mkfixture,
# parsing anchor lines (seal records, keys), and the recorder's DNS parser and TCP reassembly.
# Exits non-zero on any crash, leak or sanitizer report; the reproducer is kept in the printed
# directory. `make fuzz` runs it longer.
#   sh tests/fuzz/run.sh [SECONDS]
set -u
cd "$(dirname "$0")/../.." || exit 1
secs=${1:-30}
CLANG=${CLANG:-clang}
OUT=${CONNREC_OUTPUT:-$PWD/.output}
command -v "$CLANG" >/dev/null || { echo "skip: no clang"; exit 77; }
work=$(mktemp -d /tmp/connrec-fuzzrun.XXXXXX)
keep=0
# The targets make their scratch files inside $work: another run's cleanup cannot remove them.
cleanup() { [ $keep -eq 1 ] || rm -rf "$work"; }
trap cleanup EXIT
{ sh tools/embed.sh schema_sql schema/[0-9]*.sql && sh tools/embed.sh seal_sql schema/seal.sql; } \
	>"$work/schema_sql.c" || exit 1
flags="-g -O1 -std=gnu11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -Ilib -Istore -Iread -Ischema -Ibpf"
# shellcheck disable=SC2086
$CLANG $flags tests/fuzz/fuzz_parsers.c lib/timespec.c lib/addr.c store/conn_zones.c -lsqlite3 \
	-o "$work/fuzz_parsers" ||
	exit 1
# shellcheck disable=SC2086
$CLANG $flags tests/fuzz/fuzz_open.c read/store_read*.c lib/fileio.c lib/addr.c lib/log.c lib/match_set.c \
	lib/escape.c lib/progress.c lib/timespec.c store/segment.c store/conn_zones.c "$work/schema_sql.c" \
	-lsqlite3 -lzstd -lcrypto -o "$work/fuzz_open" || exit 1
# shellcheck disable=SC2086
$CLANG $flags tests/fuzz/fuzz_seekable.c read/store_read*.c lib/fileio.c lib/addr.c lib/log.c \
	lib/match_set.c lib/escape.c lib/progress.c lib/timespec.c store/segment.c store/conn_zones.c \
	"$work/schema_sql.c" -lsqlite3 -lzstd -lcrypto -o "$work/fuzz_seekable" || exit 1
# shellcheck disable=SC2086
$CLANG $flags -Ifleet tests/fuzz/fuzz_rowbinary.c fleet/ch_rows.c fleet/ch_buf.c \
	-o "$work/fuzz_rowbinary" || exit 1

# shellcheck disable=SC2086
$CLANG $flags tests/fuzz/fuzz_anchor.c store/sealrec.c store/ckpt.c store/sealkey.c store/anchor.c \
	store/segment.c lib/fileio.c lib/log.c lib/escape.c lib/progress.c lib/timespec.c -lsqlite3 -lcrypto \
	-o "$work/fuzz_anchor" ||
	exit 1

# shellcheck disable=SC2086
$CLANG $flags -Irecorder tests/fuzz/fuzz_dns.c recorder/dns_parse.c recorder/dns_tcp.c \
	-lldns -o "$work/fuzz_dns" || exit 1

mkdir -p "$work/c_parsers" "$work/c_open" "$work/c_anchor" "$work/c_rowbinary" "$work/c_seekable" \
	"$work/c_dns"
# A conn row as a server sends it: key (host "h", segment 1, attempt 2, segment_ns 3), then
# id, start_ns, NULL end, end_folded, reason, NULL bytes twice, proto family dir flags,
# laddr (4 bytes) lport raddr (4) rport pid comm ("c") uid netns cgroup pstart_ns.
printf '\001h\001\0\0\0\0\0\0\0\002\0\0\0\0\0\0\0\003\0\0\0\0\0\0\0\007\0\0\0\0\0\0\0\010\0\0\0\0\0\0\0\001\0\0\001\001\006\004\0\0\004\177\0\0\001\065\0\004\177\0\0\001\120\0\001\0\0\0\001c\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0' \
	>"$work/c_rowbinary/conn"
for s in 'Nov 25 18:00:46 h connrec[1]: connrec-anchor v=1 store=c99c97ade8f6800fbe67f7f4013e113e kind=checkpoint seg=6 ck=2 t=1795632089366629215 rows=19 w=proc:7,conn:148,conn_end:0,gap:0,run:2,retention:0 hash=5634d28b1641400b36566bc48de0000000000000000000000000000000000000 key=9d3de1cc48b0c85d epoch=4 mac=0101010101010101010101010101010101010101010101010101010101010101' \
	'connrec-anchor v=1 store=c99c97ade8f6800fbe67f7f4013e113e kind=checkpoint seg=6 ck=3 t=1795632089366629215 rows=21 w=proc:7,conn:150,conn_end:0,gap:0,run:2,retention:0 chain2=5634d28b1641400b36566bc48de0000000000000000000000000000000000000' \
	'connrec-anchor v=1 store=c99c97ade8f6800fbe67f7f4013e113e kind=seal seg=5 t=1795632089365351602 bytes=3793 sha256=f86b693b2538d33b0cea80ba34965704e968cc766e265f049a265f38cf7a6ae8 first=1 last=2' \
	'9d3de1cc48b0c85d-beabc7fa292f3dd6f750b498824ef3bed0b6fc9f1a86ceff06b9be8e43bc50ec' \
	'proc:7,conn:148,conn_end:0'; do
	printf '%s' "$s" >"$work/c_anchor/$(printf '%s' "$s" | cksum | cut -d' ' -f1)"
done
for s in 90s 10m 1h30m 1.5s 2026-11-21T03:14:00Z '2026-11-21 03:14' '2026-11-21T04:14:00+01:00' \
	@1795230840.5 10.0.0.0/8,::1 '[::1]' 53,80,8000-8100 64K 1.5GiB now -2d; do
	printf '%s' "$s" >"$work/c_parsers/$(printf '%s' "$s" | cksum | cut -d' ' -f1)"
done
if [ -x "$OUT/tools/mkfixture" ]; then
	"$OUT/tools/mkfixture" golden "$work/store" >/dev/null 2>&1
	cp "$work/store/seg-00000002.db" "$work/c_open/seg2.db"
	cp "$work/store/seg-00000001.db.zst" "$work/c_open/seg1.zst"
	cp "$work/store/h2/seg-00000001.db.zst" "$work/c_open/h2.zst"
	# A sealed segment of two seekable frames, so mutations reach the seek table and frames.
	"$OUT/tools/mkfixture" big "$work/big" 5000 2 1795230000 7200 >/dev/null 2>&1 &&
		cp "$work/big/seg-00000001.db.zst" "$work/c_open/seekable2.zst" &&
		cp "$work/big/seg-00000001.db.zst" "$work/c_seekable/seekable2.zst"
	# Segments with sidecars (see fuzz_open.c for the format): the active segment with its
	# -wal and -shm, and a sealed one with a hot journal that names a super-journal.
	cp "$work/store/seg-00000002.db" "$work/hot.db"
	python3 tests/tools/hotjournal.py "$work/hot.db" victim &&
		python3 - "$work" <<'PY'
import struct, sys
w = sys.argv[1]
def pack(mask, *paths):
    parts = [open(p, "rb").read() for p in paths]
    out = b"CRSC" + bytes([mask])
    for i, b in enumerate(parts):
        out += (b"" if i == len(parts) - 1 else struct.pack("<I", len(b))) + b
    return out
s = w + "/store/seg-00000003.db"
open(w + "/c_open/active_wal_shm", "wb").write(pack(3, s, s + "-wal", s + "-shm"))
open(w + "/c_open/active_wal", "wb").write(pack(1, s, s + "-wal"))
h = w + "/hot.db"
open(w + "/c_open/hot_journal", "wb").write(pack(4, h, h + "-journal"))
PY
fi

# DNS seeds: answers built by ldns (ldns-* tools are not needed: printf the wire bytes).
# www.example.test A: a CNAME to cdn.example.test and its A record; and an NXDOMAIN.
printf '\022\064\201\200\000\001\000\002\000\000\000\000\003www\007example\004test\000\000\001\000\001\300\014\000\005\000\001\000\000\000\074\000\006\003cdn\300\020\300\056\000\001\000\001\000\000\001\054\000\004\012\143\000\011' \
	>"$work/c_dns/cname"
printf '\000\007\201\203\000\001\000\000\000\000\000\000\002nx\004test\000\000\034\000\001' \
	>"$work/c_dns/nxdomain"

status=0
share=$((secs / 6))
[ $share -ge 1 ] || share=1
for t in parsers open seekable anchor dns rowbinary; do
	case $t in open | seekable) max=131072 ;; dns | rowbinary) max=4096 ;; *) max=1200 ;; esac
	(cd "$work" && ./fuzz_$t -max_total_time=$share -timeout=10 -rss_limit_mb=2048 \
		-max_len=$max "c_$t" >"fuzz_$t.log" 2>&1)
	rc=$?
	runs=$(grep -Eo 'Done [0-9]+ runs' "$work/fuzz_$t.log" | tail -n 1)
	if [ $rc -ne 0 ]; then
		echo "fuzz_$t: FAILED (exit $rc); log and reproducer in $work"
		tail -n 30 "$work/fuzz_$t.log"
		status=1
		keep=1
	else
		echo "fuzz_$t: ok (${runs:-no summary})"
	fi
done
exit $status
