#!/bin/sh
# SPDX-License-Identifier: MIT
# kill -9 during sealing (issue 4): while a storm makes the store rotate every 1M, the recorder
# is killed as soon as a segment is waiting to be sealed (a raw seg-N.db below the active one,
# or a .db.zst.tmp). A restarted recorder finishes or repairs the seal: verify passes, no raw
# or temp file is left once it stopped, and every connection committed before the kill is
# still in the store. Repeated a few times to hit different steps of sealing.
set -eu
. "$(dirname "$0")/lib.sh"
cr_init
cr_require_cmd zstd
cr_tool storm storm

# ids DIR OUT: the original conn ids of every segment in DIR (sealed ones decompressed)
ids() {
	_p=$CR_TMP/ids.$$
	rm -rf "$_p"
	mkdir -p "$_p"
	cp -a "$1"/. "$_p/"
	for _f in "$_p"/seg-*.db.zst; do
		[ -f "$_f" ] || continue
		_r=${_f%.zst}
		if [ -f "$_r" ]; then rm "$_f"; else zstd -q -d --rm -o "$_r" "$_f"; fi
	done
	for _f in "$_p"/seg-*.db; do
		sqlite3 -batch -noheader "$_f" "SELECT id FROM conn WHERE (flags & 2) = 0"
	done | sort -u >"$2"
	rm -rf "$_p"
}

round=0
while [ $round -lt 3 ]; do
	round=$((round + 1))
	cr_start --rotate-size 1M
	"$storm" -r 6000 -d 60 >"$CR_TMP/storm.out" 2>&1 &
	spid=$!
	cr_track "$spid"
	# A segment waiting to be sealed (or being compressed): kill the recorder right then.
	dl=$(($(date +%s) + CR_TIMEOUT))
	hit=""
	while [ "$(date +%s)" -lt "$dl" ]; do
		if ls "$CR_DATA"/seg-*.db.zst.tmp >/dev/null 2>&1 ||
			[ "$(ls "$CR_DATA"/seg-*.db 2>/dev/null | wc -l)" -ge 2 ]; then
			hit=1
			break
		fi
	done
	kill -KILL "$CR_REC_PID"
	wait "$CR_REC_PID" || true
	CR_REC_PID=""
	kill -INT "$spid"
	wait "$spid" || true
	cr_untrack "$spid"
	cr_true "round $round: killed while a segment was being sealed" [ -n "$hit" ]
	cr_log "round $round: files at the kill: $(cd "$CR_DATA" && ls | tr '\n' ' ')"
	ids "$CR_DATA" "$CR_TMP/before.$round"

	cr_start
	cr_stop
	cr_eq "round $round: raw or temp segments left after the restart" 1 \
		"$(ls "$CR_DATA"/seg-*.db "$CR_DATA"/seg-*.tmp 2>/dev/null | wc -l)"
	"$CONNREC_BIN" verify -d "$CR_DATA" >"$CR_TMP/verify.$round" 2>&1 && st=0 || st=$?
	cr_eq "round $round: verify after the restart" 0 "$st"
	[ "$st" -eq 0 ] || grep FAIL "$CR_TMP/verify.$round"
	cr_true "round $round: the restart recorded a down gap" grep -q "gap down" "$CR_TMP/verify.$round"
	ids "$CR_DATA" "$CR_TMP/after.$round"
	lost=$(comm -23 "$CR_TMP/before.$round" "$CR_TMP/after.$round" | wc -l)
	cr_log "round $round: $(wc -l <"$CR_TMP/before.$round") connections committed before the kill"
	cr_eq "round $round: committed connections missing after the restart" 0 "$lost"
done
cr_finish
