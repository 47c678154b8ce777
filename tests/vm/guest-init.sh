#!/bin/sh
# SPDX-License-Identifier: MIT
# PID 1 of the test guest (see boot.sh), on an overlay of the host's root whose writes stay in
# the guest's memory. Mounts what a Debian host would have, runs the command boot.sh passed
# on the kernel command line, prints its exit code and powers off.
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mkdir -p /dev/pts /dev/shm /sys/fs/cgroup
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t cgroup2 none /sys/fs/cgroup
mount -t bpf bpf /sys/fs/bpf
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
ip link set lo up
# the guest kernel's own modules (veth, for the tests' namespaces), from the unpacked package
kdir=$(sed -n 's/.*guestkdir=\([^ ]*\).*/\1/p' /proc/cmdline | base64 -d)
mkdir -p /lib/modules
ln -sfn "$kdir/lib/modules/$(uname -r)" "/lib/modules/$(uname -r)"
share=$(sed -n 's/.*guestshare=\([^ ]*\).*/\1/p' /proc/cmdline | base64 -d)
[ -z "$share" ] || mount -t 9p -o trans=virtio,version=9p2000.L share "$share"
# the kernel's default for PID 1 is 4096 open files; the hosts these tests run on allow 20,000
ulimit -n 20000
echo "GUEST-KERNEL: $(uname -r)"
cmd=$(sed -n 's/.*guestcmd=\([^ ]*\).*/\1/p' /proc/cmdline | base64 -d)
cd "$(sed -n 's/.*guestdir=\([^ ]*\).*/\1/p' /proc/cmdline | base64 -d)" && sh -c "$cmd"
echo "GUEST-RC: $?"
echo o >/proc/sysrq-trigger
sleep 60
