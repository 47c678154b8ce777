# SPDX-License-Identifier: MIT
# A TCP server that accepts connections and closes each at once, for tests/e2e/24_dns_names.sh
# and 27_dns_ipv6.sh.
#   accept_close.py ADDR
# Listens on ADDR (IPv4 or IPv6), a port of the kernel's choosing; prints "port N", then serves
# until killed.
import socket
import sys

family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
srv = socket.socket(family, socket.SOCK_STREAM)
srv.bind((sys.argv[1], 0))
srv.listen(16)
sys.stdout.write(f"port {srv.getsockname()[1]}\n")
sys.stdout.flush()
while True:
    c, _ = srv.accept()
    c.close()
