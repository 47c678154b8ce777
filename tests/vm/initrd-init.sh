#!/bin/busybox sh
# SPDX-License-Identifier: MIT
# The initramfs's init (see boot.sh): load the virtio and 9p modules, mount the host's root
# read-only through 9p under a tmpfs overlay, and hand over to guest-init.sh on it.
bb=/bin/busybox
$bb mount -t proc proc /proc
$bb mount -t sysfs sys /sys
$bb mount -t devtmpfs dev /dev
for m in $($bb cat /mods/order); do
	$bb insmod /mods/"$m".ko || echo "initrd: insmod $m failed"
done
$bb mkdir -p /lower /upper /root
$bb mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose hostroot /lower &&
	$bb mount -t tmpfs -o size=75% tmpfs /upper &&
	$bb mkdir -p /upper/u /upper/w &&
	$bb mount -t overlay -o lowerdir=/lower,upperdir=/upper/u,workdir=/upper/w overlay /root ||
	{ echo "initrd: cannot mount the host's root"; echo o >/proc/sysrq-trigger; }
$bb mount --move /dev /root/dev
$bb mount --move /proc /root/proc
$bb mount --move /sys /root/sys
# /run starts empty (no stale netns names); /tmp is left as the overlay shows it, since the
# tree under test may live there (a CI clone in /tmp), and writes to it stay in memory anyway
$bb mount -t tmpfs tmpfs /root/run
exec $bb switch_root /root /bin/sh "$($bb cat /guest-init)"
