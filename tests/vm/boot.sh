#!/bin/sh
# SPDX-License-Identifier: MIT
# Boots Debian 12's own kernel (see kernel.sh) under qemu with this machine's root file system
# as the guest's root: read-only through 9p, with a tmpfs overlay on top so that whatever
# the guest writes stays in its memory. Runs COMMAND as root in DIR inside the guest and exits
# with COMMAND's exit code, or 125 when the guest never got as far as running it.
#
#   boot.sh DIR COMMAND...
#   CONNREC_VM_ACCEL    qemu accelerator (default tcg: nested KVM is not dependable here)
#   CONNREC_VM_TIMEOUT  seconds before the guest is stopped (default 2400)
#   CONNREC_VM_MEM      guest memory (default 4G)
#   CONNREC_VM_SHARE    a directory the guest may write to, at the same path: to carry logs
#                       and stores out of it (everything else it writes is lost at power-off)
set -eu
[ $# -ge 2 ] || { echo "usage: boot.sh DIR COMMAND..." >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
dir=$(cd "$1" && pwd)
shift
for c in qemu-system-x86_64 busybox cpio; do
	command -v "$c" >/dev/null || { echo "boot.sh: $c is missing (tools/install-deps.sh)" >&2; exit 125; }
done
kdir=$(sh "$here/kernel.sh") || exit 125
kver=$(ls "$kdir/lib/modules" | head -n 1)
work=$(mktemp -d /tmp/connrec-vm.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM
root=$work/initrd
mkdir -p "$root/bin" "$root/mods" "$root/proc" "$root/sys" "$root/dev"

# busybox, and its libraries if this one is not the static build
bb=$(command -v busybox)
cp "$bb" "$root/bin/busybox"
ldd "$bb" 2>/dev/null | grep -o '/[^ ]*' | while read -r lib; do cp --parents "$lib" "$root"; done

# the modules between the kernel and a 9p root, each after those it needs
for m in virtio_pci 9pnet_virtio 9p overlay; do
	modprobe -d "$kdir" -S "$kver" --show-depends "$m" ||
		{ echo "boot.sh: module $m not found in $kdir" >&2; exit 125; }
done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }' >"$work/mods"
while read -r f; do
	m=$(basename "$f" | sed 's/\.ko.*//')
	case $f in
	*.xz) xz -dc "$f" >"$root/mods/$m.ko" ;;
	*.zst) zstd -qdc "$f" >"$root/mods/$m.ko" ;;
	*) cp "$f" "$root/mods/$m.ko" ;;
	esac
	echo "$m" >>"$root/mods/order"
done <"$work/mods"
cp "$here/initrd-init.sh" "$root/init"
chmod 755 "$root/init"
echo "$here/guest-init.sh" >"$root/guest-init"
(cd "$root" && find . | cpio -o -H newc 2>/dev/null) | gzip -1 >"$work/initrd.gz"

share_opt=""
share_arg=""
if [ -n "${CONNREC_VM_SHARE:-}" ]; then
	share=$(cd "$CONNREC_VM_SHARE" && pwd)
	share_opt="-virtfs local,path=$share,mount_tag=share,security_model=none"
	share_arg="guestshare=$(printf '%s' "$share" | base64 -w0)"
fi
cmd=$(printf '%s' "$*" | base64 -w0)
gdir=$(printf '%s' "$dir" | base64 -w0)
gkdir=$(printf '%s' "$kdir" | base64 -w0)
timeout "${CONNREC_VM_TIMEOUT:-2400}" qemu-system-x86_64 -accel "${CONNREC_VM_ACCEL:-tcg}" \
	-cpu max -smp 2 -m "${CONNREC_VM_MEM:-4G}" -nographic -no-reboot -nic none \
	-kernel "$kdir/boot/vmlinuz-$kver" -initrd "$work/initrd.gz" \
	-append "console=ttyS0 panic=-1 quiet guestcmd=$cmd guestdir=$gdir guestkdir=$gkdir $share_arg" \
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap $share_opt \
	</dev/null 2>&1 | sed -u 's/\r$//' | tee "$work/console" | grep --line-buffered -v -e '^\[ *[0-9]*\.[0-9]*\]' -e '^GUEST-RC: '
rc=$(sed -n 's/^GUEST-RC: \([0-9]*\)$/\1/p' "$work/console" | tail -n 1)
exit "${rc:-125}"
