#!/bin/sh
# SPDX-License-Identifier: MIT
# The recorder's own files (issue 10). A root recorder must never write through a symlink
# planted under one of its names (connrec.lock, connrec.status.tmp, connrec.reserve, a
# segment's -wal): the link's target stays byte for byte the same. A data dir owned by another
# user, or writable by group or others, is refused with one line and exit 1 unless
# --allow-unsafe-dir. Every file the recorder makes is 0600, whatever the umask and the dir's
# mode: segments, -wal, -shm, sealed .zst, the manifest, the status file, the lock.
set -eu
. "$(dirname "$0")/lib.sh"
cr_init
cr_tool storm storm

victim=$CR_TMP/victim
printf 'precious\n' >"$victim"
chmod 0644 "$victim"
before=$(stat -c '%s %Y %a' "$victim")$(sha256sum <"$victim")
victim_same() { # WHAT
	cr_eq "$1: the link's target is unchanged" "$before" \
		"$(stat -c '%s %Y %a' "$victim")$(sha256sum <"$victim")"
}
# try_record DIR [ARGS...]: a recorder that must refuse to start: its exit status and stderr.
try_record() {
	_d=$1
	shift
	timeout 60 "$CONNREC_BIN" record -d "$_d" "$@" >"$CR_TMP/try.out" 2>"$CR_TMP/try.err" &&
		try_st=0 || try_st=$?
}

# --- symlinks planted under the recorder's names ---
mkdir -m 700 "$CR_DATA"
ln -s "$victim" "$CR_DATA/connrec.lock"
try_record "$CR_DATA"
cr_eq "a symlink as connrec.lock: exit status" 1 "$try_st"
cr_eq "a symlink as connrec.lock: one line on stderr" 1 "$(wc -l <"$CR_TMP/try.err")"
cr_true "the line names the lock and the link" grep -q "connrec.lock: a symbolic link" "$CR_TMP/try.err"
victim_same "connrec.lock"

rm "$CR_DATA/connrec.lock"

ln -s "$victim" "$CR_DATA/connrec.status.tmp"
ln -s "$victim" "$CR_DATA/connrec.reserve"
cr_start
cr_wait_file "$CR_DATA/connrec.status" "state=running"
"$storm" -n 50 >/dev/null
cr_stop
victim_same "connrec.status.tmp and connrec.reserve"
cr_true "connrec.status was written" grep -q "state=stopped" "$CR_DATA/connrec.status"

# The segment that run left is reopened by the next one: a symlink as its -wal stops that.
cr_true "the first run left its segment" test -f "$CR_DATA/seg-00000001.db"
rm -f "$CR_DATA/seg-00000001.db-wal" "$CR_DATA/seg-00000001.db-shm"
ln -s "$victim" "$CR_DATA/seg-00000001.db-wal"
try_record "$CR_DATA"
cr_eq "a symlink as the active segment's -wal: exit status" 1 "$try_st"
cr_true "the line names the -wal" grep -q "seg-00000001.db-wal: a symbolic link" "$CR_TMP/try.err"
victim_same "seg-00000001.db-wal"

# --- unsafe data dirs ---
for mode in 0777 0770 0702; do
	d=$CR_TMP/unsafe-$mode
	mkdir "$d"
	chmod "$mode" "$d"
	try_record "$d"
	cr_eq "data dir mode $mode: exit status" 1 "$try_st"
	cr_eq "data dir mode $mode: one line" 1 "$(wc -l <"$CR_TMP/try.err")"
	cr_true "data dir mode $mode: says why" grep -q "writable by group or others (mode $mode).*--allow-unsafe-dir" "$CR_TMP/try.err"
	cr_eq "data dir mode $mode: nothing created in it" 0 "$(find "$d" -mindepth 1 | wc -l)"
done
d=$CR_TMP/other-owner
mkdir -m 700 "$d"
chown 65534 "$d"
try_record "$d"
cr_eq "data dir owned by uid 65534: exit status" 1 "$try_st"
cr_true "data dir owned by uid 65534: says why" grep -q "owned by uid 65534" "$CR_TMP/try.err"

# --- 0600 whatever the umask and the dir's mode (with --allow-unsafe-dir) ---
for um in 000 277; do
	CR_DATA=$CR_TMP/perm-$um
	mkdir "$CR_DATA"
	chmod 0777 "$CR_DATA"
	umask "$um"
	cr_start --allow-unsafe-dir --rotate-age 1s
	umask 022
	"$storm" -n 100 >/dev/null
	# Wait for a sealed segment, so the manifest and a .zst exist too.
	i=0
	while ! ls "$CR_DATA"/seg-*.db.zst >/dev/null 2>&1 && [ $i -lt 600 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	cr_true "umask $um: a segment was sealed" ls "$CR_DATA"/seg-00000001.db.zst
	ls -l "$CR_DATA" | sed 's/^/    /'
	cr_eq "umask $um, running: files that are not 0600" "" \
		"$(find "$CR_DATA" -type f ! -perm 0600 -printf '%f %m\n' | tr '\n' ' ')"
	cr_stop
	cr_eq "umask $um, stopped: files that are not 0600" "" \
		"$(find "$CR_DATA" -type f ! -perm 0600 -printf '%f %m\n' | tr '\n' ' ')"
done
cr_finish
