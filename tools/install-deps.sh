#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs everything connrec needs to build, run and test on Debian 12. Needs root.
set -eu
export DEBIAN_FRONTEND=noninteractive
pkgs="make gcc clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev libsqlite3-dev libzstd-dev
libssl-dev libldns-dev pkg-config sqlite3 zstd iproute2 procps curl python3 dnsutils dnsmasq-base
netcat-openbsd socat libclang-rt-14-dev util-linux scdoc man-db dpkg-dev debhelper systemd
lintian iperf3 libcurl4-openssl-dev clickhouse-server clickhouse-client qemu-system-x86 busybox-static cpio"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	apt-get update -q
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing
fi
