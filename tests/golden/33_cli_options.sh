#!/bin/sh
# SPDX-License-Identifier: MIT
# The shared option parser (src/opts.c), through every command: one error style (exit 2, one
# line "connrec CMD: ... "), the spellings it accepts (--name=V, -nV, aliases, "--"), the
# files given as "-f a b" like "-f a -f b", and the bash completion offering every option
# each command's --help lists, and the values of --format and --state.
set -u
cd "$(dirname "$0")/../.." || exit 1
BIN=${CONNREC_BIN:-$PWD/connrec}
OUT=${CONNREC_OUTPUT:-$PWD/.output}
MK=$OUT/tools/mkfixture
[ -x "$MK" ] || { echo "mkfixture not built ($MK): run make tools"; exit 1; }
command -v bash >/dev/null || { echo "bash is needed for the completion checks"; exit 77; }
tmp=$(mktemp -d /tmp/connrec-cli.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
"$MK" golden "$tmp/store" || exit 1
S=$tmp/store
NOW=2026-11-21T04:00:00Z
pass=0 fail=0
ok() { pass=$((pass + 1)); }
no() { fail=$((fail + 1)); echo "FAIL $*"; }

# usage_error WANT(exact stderr line) ARGS...: exit 2, nothing on stdout, exactly that line.
usage_error() {
	want=$1
	shift
	"$BIN" "$@" >"$tmp/o" 2>"$tmp/e" </dev/null
	rc=$?
	if [ $rc -eq 2 ] && [ ! -s "$tmp/o" ] && [ "$(wc -l <"$tmp/e")" -eq 1 ] &&
		[ "$(cat "$tmp/e")" = "$want" ]; then
		ok
	else
		no "connrec $*: exit $rc, stderr '$(cat "$tmp/e")', want '$want'"
	fi
}

# The commands, from `connrec --help`.
cmds=$("$BIN" --help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }')
[ "$(echo "$cmds" | wc -w)" -ge 5 ] && ok || no "connrec --help lists commands: $cmds"

for c in $cmds; do
	usage_error "connrec $c: unknown option '--no-such-option' (try --help)" $c --no-such-option
	usage_error "connrec $c: unknown option '-Q' (try --help)" $c -Q
	usage_error "connrec $c: option '--help' takes no value (try --help)" $c --help=x
	"$BIN" $c --help >"$tmp/help.$c" 2>&1 && ok || no "connrec $c --help: exit $?"
	grep -q "^Usage: connrec $c " "$tmp/help.$c" && ok || no "connrec $c --help: no usage line"
	"$BIN" $c -h | cmp -s - "$tmp/help.$c" && ok || no "connrec $c -h differs from --help"
done
usage_error "connrec: unknown command 'nope' (try 'connrec --help')" nope

# Errors of each kind, in the one style.
usage_error "connrec query: option '--since' needs a value (try --help)" query --since
usage_error "connrec query: option '-d' needs a value (try --help)" query -d
usage_error "connrec record: option '--data-dir' needs a value (try --help)" record --data-dir
usage_error "connrec query: option '--newest' takes no value (try --help)" query --newest=yes
usage_error "connrec query: invalid --port '65536': expected ports like 53,80,8000-8100" \
	query -d "$S" --port 65536
usage_error "connrec record: invalid --rotate-size '12abc': expected a size like 64M" \
	record -d "$tmp/nodir" --rotate-size 12abc
usage_error "connrec status: unexpected argument 'stray' (try --help)" status -d "$S" stray
usage_error "connrec verify: unexpected argument 'stray' (try --help)" verify stray
usage_error "connrec query: unexpected argument 'stray' (try --help)" query -d "$S" stray
usage_error "connrec verify: -d and -f exclude each other (try --help)" verify -d "$S" -f x
usage_error "connrec query: -d and -f exclude each other (try --help)" query -d "$S" -f x
# "--" ends the options: what follows is an operand, even if it looks like an option.
usage_error "connrec query: unexpected argument '--count' (try --help)" query -d "$S" -- --count
# Abbreviations are not accepted: a new option must never change what an old command means.
usage_error "connrec query: unknown option '--sinc' (try --help)" query -d "$S" --sinc 1h
[ ! -e "$tmp/nodir" ] && ok || no "a usage error created the data dir"

# same WHAT ARGS_A -- ARGS_B: both spellings print the same and exit the same.
same() {
	what=$1
	shift
	a="" b="" in_b=0
	for x in "$@"; do
		if [ "$x" = "--" ] && [ $in_b -eq 0 ]; then
			in_b=1
		elif [ $in_b -eq 0 ]; then
			a="$a $x"
		else
			b="$b $x"
		fi
	done
	# shellcheck disable=SC2086
	"$BIN" $a >"$tmp/a" 2>&1
	ra=$?
	# shellcheck disable=SC2086
	"$BIN" $b >"$tmp/b" 2>&1
	rb=$?
	if [ $ra -eq $rb ] && cmp -s "$tmp/a" "$tmp/b" && [ -s "$tmp/a" ]; then
		ok
	else
		no "$what: '$a' (exit $ra) and '$b' (exit $rb) differ"
		diff "$tmp/a" "$tmp/b" | head -5
	fi
}
Q="query --now $NOW"
same "--dir is --data-dir" $Q --dir "$S" -o csv -- $Q --data-dir "$S" -o csv
same "-dDIR" $Q -d"$S" -o csv -- $Q --data-dir="$S" -o csv
same "-ojson, -o json, --format=json" $Q -d "$S" -ojson -- $Q -d "$S" --format=json
same "clustered flags" $Q -d "$S" -vo json -- $Q -d "$S" -v -o json
same "options after operands" query -f "$S/seg-00000002.db" "$S/seg-00000003.db" --now $NOW -o csv \
	-- query --now $NOW -o csv -f "$S/seg-00000002.db" -f "$S/seg-00000003.db"
same "verify -f a b is -f a -f b" verify -f "$S/seg-00000001.db.zst" "$S/seg-00000002.db" \
	-- verify -f "$S/seg-00000001.db.zst" -f "$S/seg-00000002.db"
same "verify --dir" verify --dir "$S" -- verify -d "$S"
same "status --dir" status --dir "$S" -- status --data-dir "$S"
same "--short-lived=1s is --short-lived" $Q -d "$S" -o csv --short-lived=1s -- \
	$Q -d "$S" -o csv --short-lived
"$BIN" verify -f "$S/seg-00000001.db.zst" "$S/seg-00000002.db" >"$tmp/v" 2>&1
[ "$(grep -c '^seg-0000000[12]' "$tmp/v")" -eq 2 ] && ok || no "verify -f a b checks both files"

# Bash completion: every option a command's --help lists is offered, and the value lists.
"$BIN" completion bash >"$tmp/completion.bash" && ok || no "connrec completion bash: exit $?"
complete_words() { # WORDS...: what the completion offers for the last word
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _connrec
		printf "%s\n" "${COMPREPLY[@]}"' _ "$tmp/completion.bash" connrec "$@" | sort
}
for c in $cmds; do
	offered=$(complete_words "$c" -- | tr '\n' ' ')
	# Option rows only: a wrapped help line may start with an option name, e.g. "(also
	# --dir)" when a long label widens the help column.
	for o in $(grep -o -- '^ \{2,6\}\(-[a-zA-Z], \)\?--[a-z][a-z-]*' "$tmp/help.$c" | sed 's/.*--/--/'); do
		case " $offered " in
		*" $o "*) ok ;;
		*) no "completion of 'connrec $c --' lacks $o (offers: $offered)" ;;
		esac
	done
done
[ "$(complete_words "" | tr '\n' ' ')" = "$(printf '%s\n' $cmds --help --version | sort |
	tr '\n' ' ')" ] && ok || no "command completion: $(complete_words "" | tr '\n' ' ')"
[ "$(complete_words query --format "" | tr '\n' ' ')" = "csv json table zeek " ] && ok ||
	no "query --format completes to: $(complete_words query --format "")"
[ "$(complete_words query -o = j | tr '\n' ' ')" = "json " ] && ok ||
	no "query -o=j completes to: $(complete_words query -o = j)"
[ "$(complete_words query --state SF,RS | tr '\n' ' ')" = "SF,RSTO SF,RSTR " ] && ok ||
	no "query --state SF,RS completes to: $(complete_words query --state SF,RS)"
[ -z "$(complete_words query --since "")" ] && ok || no "query --since offers words"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
