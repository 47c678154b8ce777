#!/bin/sh
# SPDX-License-Identifier: MIT
# The man pages (man/*.scd, built by make into $OUTPUT/man): each renders without a warning
# from man(1), has a NAME line lexgrog reads, and documents every option its command's --help
# lists; every command has a page or a section in connrec(8); and the bash completion script
# is the one `connrec completion bash` prints.
set -u
cd "$(dirname "$0")/../.." || exit 1
BIN=${CONNREC_BIN:-$PWD/connrec}
OUT=${CONNREC_OUTPUT:-$PWD/.output}
command -v man >/dev/null && command -v lexgrog >/dev/null || { echo "man-db is needed"; exit 77; }
pass=0 fail=0
ok() { pass=$((pass + 1)); }
no() { fail=$((fail + 1)); echo "FAIL $*"; }
tmp=$(mktemp -d /tmp/connrec-man.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

pages=$(ls man/*.scd | sed 's|man/||; s|\.scd$||')
[ -n "$pages" ] && ok || no "no man pages in man/"
for p in $pages; do
	f=$OUT/man/$p
	if [ ! -s "$f" ]; then
		no "$p: not built ($f): run make"
		continue
	fi
	# -Tutf8 output into the void; any warning (a bad macro, a line too long) goes to stderr.
	LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$f" >"$tmp/$p.txt" 2>"$tmp/$p.warn"
	[ $? -eq 0 ] && [ ! -s "$tmp/$p.warn" ] && ok || no "$p: man --warnings: $(head -3 "$tmp/$p.warn")"
	name=${p%.*}
	lexgrog "$f" | grep -q "\"$name - " && ok || no "$p: lexgrog finds no NAME line: $(lexgrog "$f")"
done

# Every command in `connrec --help` has its page (connrec-CMD.N) or, like `completion`, a
# section in connrec(8); every option its --help lists is in that page.
cmds=$("$BIN" --help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }')
for c in $cmds; do
	src=$(ls man/connrec-"$c".[18].scd 2>/dev/null)
	if [ -z "$src" ]; then
		grep -q "^\*$c" man/connrec.8.scd && ok || no "command $c has no man page and no section in connrec(8)"
		src=man/connrec.8.scd
	else
		grep -q "^\*$c\*" man/connrec.8.scd && ok || no "connrec(8) does not list the command $c"
	fi
	for o in $("$BIN" "$c" --help | grep -o -- '^ *\(-[a-zA-Z], \)\?--[a-z][a-z-]*' | sed 's/.*--/--/'); do
		grep -q -- "\*$o\*" "$src" && ok || no "$src does not document $c $o"
	done
done

# connrec-query(1) names every field the json and csv rows have, and every --state value.
MK=$OUT/tools/mkfixture
if [ -x "$MK" ]; then
	"$MK" golden "$tmp/store" >/dev/null 2>&1
	for f in $("$BIN" query -d "$tmp/store" -o csv --limit 1 2>/dev/null | head -n 1 | tr ',' ' '); do
		grep -q -- "\*$f\*" man/connrec-query.1.scd && ok || no "connrec-query(1) does not name the field $f"
	done
else
	no "mkfixture not built ($MK): run make tools"
fi
# connrec-status(8) and connrec-verify(1) name every key of their JSON lines.
if [ -s "$tmp/store/seg-00000002.db" ]; then
	for k in $("$BIN" status -d "$tmp/store" -o json | tr ',{' '\n\n' | sed -n 's/^"\([a-z_]*\)":.*/\1/p'); do
		grep -q -- "\*$k\*" man/connrec-status.8.scd && ok || no "connrec-status(8) does not name the JSON key $k"
	done
	for k in $("$BIN" verify -d "$tmp/store" -o json | tr ',{' '\n\n' | sed -n 's/^"\([a-z_0-9]*\)":.*/\1/p' | sort -u); do
		grep -q -- "\*$k\*" man/connrec-verify.1.scd && ok || no "connrec-verify(1) does not name the JSON key $k"
	done
fi
states=$("$BIN" query --help | sed -n 's/^ *--state S\[,...\] *\([A-Z0-9 ]*\) (.*/\1/p')
[ -n "$states" ] && ok || no "no state list in query --help"
for st in $states; do
	grep '^\*' man/connrec-query.1.scd | grep -q "\*$st\*" && ok || no "connrec-query(1) does not explain the state $st"
done

# The completion script make builds is what the binary prints now.
if [ -s "$OUT/connrec.bash-completion" ]; then
	"$BIN" completion bash | cmp -s - "$OUT/connrec.bash-completion" && ok ||
		no "$OUT/connrec.bash-completion differs from 'connrec completion bash'"
else
	no "$OUT/connrec.bash-completion not built: run make"
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
