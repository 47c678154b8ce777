#!/bin/sh
# SPDX-License-Identifier: MIT
# Prints the directory that holds Debian 12's own kernel (boot/vmlinuz-* and lib/modules/*),
# downloading and unpacking its package into a cache the first time. Nothing is installed:
# /boot, the boot loader and the running system stay as they are.
#
#   CONNREC_VM_CACHE  where the unpacked kernel is kept (default /var/cache/connrec-tests)
#   CONNREC_VM_KPKG   the kernel package (default: what linux-image-amd64 depends on)
set -eu
cache=${CONNREC_VM_CACHE:-/var/cache/connrec-tests}
kernel_pkg() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1
}
pkg=${CONNREC_VM_KPKG:-$(kernel_pkg)}
if [ -z "$pkg" ]; then
	apt-get update -q >/dev/null 2>&1 || true
	pkg=$(kernel_pkg)
fi
[ -n "$pkg" ] || { echo "kernel.sh: no Debian kernel package found (apt-get update?)" >&2; exit 1; }
dir=$cache/$pkg
if [ ! -f "$dir/.unpacked" ]; then
	mkdir -p "$cache"
	tmp=$(mktemp -d "$cache/.get.XXXXXX")
	(cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >/dev/null) ||
		{ rm -rf "$tmp"; echo "kernel.sh: cannot download $pkg" >&2; exit 1; }
	rm -rf "$dir"
	dpkg-deb -x "$tmp"/*.deb "$dir"
	# modules.dep is made by the package's postinst, which does not run here
	depmod -b "$dir" "$(ls "$dir/lib/modules" | head -n 1)"
	rm -rf "$tmp"
	touch "$dir/.unpacked"
fi
echo "$dir"
