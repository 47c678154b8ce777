# SPDX-License-Identifier: MIT
# Resolves a name with the C library (getaddrinfo, IPv4 only, so one A query through the
# resolv.conf of the namespace it runs in; with "6", IPv6 only: one AAAA query), then makes one
# TCP connection to the first address and closes it. For tests/e2e/24_dns_names.sh and
# 27_dns_ipv6.sh.
#   resolve_connect.py NAME PORT [6]
# Prints "pid P", then "addr A" and "lport L" once connected; exits 0, or 1 when the name
# does not resolve (after printing "noaddr").
import os
import socket
import sys

say = lambda k, v: (sys.stdout.write(f"{k} {v}\n"), sys.stdout.flush())
say("pid", os.getpid())
name, port = sys.argv[1], int(sys.argv[2])
family = socket.AF_INET6 if sys.argv[3:] == ["6"] else socket.AF_INET
try:
    infos = socket.getaddrinfo(name, port, family, socket.SOCK_STREAM)
except socket.gaierror as e:
    say("noaddr", e.errno)
    sys.exit(1)
addr = infos[0][4][0]
s = socket.create_connection((addr, port), timeout=10)
say("addr", addr)
say("lport", s.getsockname()[1])
s.close()
