#!/bin/sh
# SPDX-License-Identifier: MIT
# `make deb` builds a Debian package (once, into a temp dir) that installs and works: unpacked
# into a scratch root (dpkg -x), its connrec prints the version of the tree, every man page
# renders without warnings and is found by man, the bash completion loads, the systemd unit
# passes `systemd-analyze verify` against that root (so ExecStart and the man pages it names
# exist there) with the hardening the recorder expects, its dependencies are real shared
# libraries, every library it links has its -dev package in Build-Depends, lintian finds no
# error and no warning, and dpkg installs it into a scratch root (its maintainer scripts run
# there, the unit is enabled but not started), removes it and purges it, leaving nothing.
set -u
cd "$(dirname "$0")/../.." || exit 1
for c in dpkg-buildpackage dh systemd-analyze git man lintian; do
	command -v $c >/dev/null || { echo "$c is needed (tools/install-deps.sh installs it)"; exit 77; }
done
git rev-parse --git-dir >/dev/null 2>&1 || { echo "make deb packs the files git tracks: not a git checkout"; exit 77; }
tmp=$(mktemp -d /tmp/connrec-deb.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
no() { fail=$((fail + 1)); echo "FAIL $*"; }
version=$(cat VERSION)

if ! make deb DEB_DIR="$tmp/deb" >"$tmp/build.log" 2>&1; then
	tail -n 30 "$tmp/build.log"
	echo "FAIL make deb"
	exit 1
fi
deb=$(ls "$tmp"/deb/connrec_"$version"_*.deb 2>/dev/null | head -n 1)
[ -f "$deb" ] && ok || { echo "FAIL no connrec_${version}_*.deb in $tmp/deb"; exit 1; }

# The control file.
dpkg-deb -f "$deb" Package Version Depends >"$tmp/control"
cat "$tmp/control"
grep -qx "Package: connrec" "$tmp/control" && ok || no "package name"
grep -qx "Version: $version" "$tmp/control" && ok || no "package version is not VERSION ($version)"
for lib in libbpf1 libsqlite3-0 libzstd1 libssl3 libldns3 libc6; do
	grep -q "^Depends:.*\b$lib\b" "$tmp/control" && ok || no "Depends lacks $lib"
done

# Every library the Makefile links has its -dev package in Build-Depends (libc6-dev comes with
# build-essential), so a package build on a clean machine finds it.
builddeps=$(sed -n '/^Build-Depends:/,/^[A-Z]/p' debian/control)
for l in $(make -pn connrec 2>/dev/null | sed -n 's/^LDLIBS = //p'); do
	l=${l#-l}
	f=$(cc -print-file-name="lib$l.so")
	case $f in /*) ;; *) f=$(cc -print-file-name="lib$l.a") ;; esac
	dev=$(dpkg -S "$(realpath -s "$f")" 2>/dev/null | head -n 1 | cut -d: -f1)
	[ -n "$dev" ] || { no "-l$l: no package owns $f"; continue; }
	[ "$dev" = libc6-dev ] && continue
	printf '%s\n' "$builddeps" | grep -qE "(^|[ ,])$dev([ ,(]|\$)" && ok ||
		no "debian/control Build-Depends lacks $dev (for -l$l)"
done

# Debian's own checks of the package (policy, copyright file, maintainer scripts, man pages).
changes=$(ls "$tmp"/deb/connrec_"$version"_*.changes 2>/dev/null | head -n 1)
lintian --fail-on error,warning "$changes" >"$tmp/lintian" 2>&1 && ok ||
	no "lintian: $(grep -E '^[EW]:' "$tmp/lintian" | head -5)"

# Unpacked into a scratch root.
R=$tmp/root
dpkg -x "$deb" "$R" || { echo "FAIL dpkg -x"; exit 1; }
[ "$("$R/usr/sbin/connrec" --version)" = "connrec $version" ] && ok ||
	no "connrec --version: $("$R/usr/sbin/connrec" --version 2>&1)"
"$R/usr/sbin/connrec" query --help >/dev/null && ok || no "connrec query --help from the package"
n=0
for m in "$R"/usr/share/man/man*/*.gz; do
	n=$((n + 1))
	LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$m" >/dev/null 2>"$tmp/warn"
	[ $? -eq 0 ] && [ ! -s "$tmp/warn" ] && ok || no "$m: $(head -3 "$tmp/warn")"
done
[ "$n" -eq "$(ls man/*.scd | wc -l)" ] && ok || no "$n man pages in the package, $(ls man/*.scd | wc -l) in man/"
for page in connrec connrec-record connrec-query connrec-verify connrec-status; do
	MANPATH=$R/usr/share/man man -w "$page" >/dev/null 2>&1 && ok || no "man cannot find $page"
done
MANPATH=$R/usr/share/man man -P cat connrec-query 2>/dev/null | grep -q -- '--short-lived' && ok ||
	no "man connrec-query does not show its options"
bash -c ". '$R/usr/share/bash-completion/completions/connrec' && complete -p connrec" >/dev/null &&
	ok || no "the bash completion does not load"

# The systemd unit: verified against the scratch root, with the system's targets it needs.
U=$R/lib/systemd/system/connrec.service
[ -f "$U" ] && ok || no "no unit at /lib/systemd/system/connrec.service"
for d in /lib/systemd/system/*.target; do
	[ -e "$R/lib/systemd/system/$(basename "$d")" ] || cp "$d" "$R/lib/systemd/system/"
done
MANPATH=$R/usr/share/man systemd-analyze verify --root="$R" /lib/systemd/system/connrec.service \
	>"$tmp/verify" 2>&1
st=$?
# It exits 0 after "ignoring" a bad value, so any message is a failure too.
[ $st -eq 0 ] && [ ! -s "$tmp/verify" ] && ok || no "systemd-analyze verify (exit $st): $(cat "$tmp/verify")"
for line in 'Type=notify' 'ExecStart=/usr/sbin/connrec record -d /var/lib/connrec' \
	'StateDirectory=connrec' 'ProtectSystem=strict' 'ProtectHome=yes' 'NoNewPrivileges=yes'; do
	grep -qx "$line" "$U" && ok || no "the unit lacks '$line'"
done
grep -q '^CapabilityBoundingSet=CAP_' "$U" && ok || no "the unit has no CapabilityBoundingSet"
dpkg-deb -e "$deb" "$tmp/ctl"
grep -q "deb-systemd-helper enable 'connrec.service'" "$tmp/ctl/postinst" && ok ||
	no "installing does not enable the unit"

# dpkg -i, remove and purge in a scratch root of its own (an empty dpkg database; the libraries
# it depends on are the host's, hence --force-depends). The maintainer scripts run outside a
# chroot with DPKG_ROOT set, so deb-systemd-helper enables the unit inside the root; the
# root's policy-rc.d refuses every start, so a host that runs systemd starts no recorder.
I=$tmp/inst
mkdir -p "$I/var/lib/dpkg/info" "$I/var/lib/dpkg/updates" "$I/usr/sbin"
: >"$I/var/lib/dpkg/status"
printf '#!/bin/sh\nexit 101\n' >"$I/usr/sbin/policy-rc.d"
chmod 0755 "$I/usr/sbin/policy-rc.d"
host_link=/etc/systemd/system/multi-user.target.wants/connrec.service
[ -e "$host_link" ] && host_had=1 || host_had=0
idpkg() { dpkg --root="$I" --force-depends --force-script-chrootless --log=/dev/null "$@"; }
idpkg -i "$deb" >"$tmp/dpkg.log" 2>&1 && ok || no "dpkg -i: $(tail -3 "$tmp/dpkg.log")"
dpkg --root="$I" -s connrec 2>/dev/null | grep -qx 'Status: install ok installed' && ok ||
	no "dpkg does not list connrec as installed"
[ "$("$I/usr/sbin/connrec" --version)" = "connrec $version" ] && ok || no "installed connrec --version"
[ "$(readlink "$I$host_link")" = /lib/systemd/system/connrec.service ] && ok ||
	no "installing did not enable the unit in the root: $(ls -l "$I$host_link" 2>&1)"
[ -e "$host_link" ] && [ $host_had -eq 0 ] && no "installing into the root enabled the unit on the host" || ok
idpkg -r connrec >"$tmp/dpkg.log" 2>&1 && ok || no "dpkg -r: $(tail -3 "$tmp/dpkg.log")"
[ ! -e "$I/usr/sbin/connrec" ] && [ ! -e "$I/lib/systemd/system/connrec.service" ] && ok ||
	no "dpkg -r left the binary or the unit"
idpkg -P connrec >"$tmp/dpkg.log" 2>&1 && ok || no "dpkg -P: $(tail -3 "$tmp/dpkg.log")"
left=$(cd "$I" && find . -path ./var/lib/dpkg -prune -o ! -type d ! -path ./usr/sbin/policy-rc.d -print)
[ -z "$left" ] && ok || no "purging left: $left"
dpkg --root="$I" -s connrec >/dev/null 2>&1 && no "dpkg still lists connrec after the purge" || ok

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
