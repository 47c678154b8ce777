# SPDX-License-Identifier: MIT
"""UDP traffic whose every flow goes through a cgroup hook, with its ground truth on stdout.

One process: a v4 and a v6 server socket, an unconnected v4 and v6 client (sendmsg/recvmsg
hooks) and a connected v4 client (connect4 hook). Each client sends one datagram, each server
answers it, and every socket is closed (sock_release ends the flows). Prints "pid N", then
"NAME PORT" per socket, then "done" once every socket is closed.
"""
import os
import socket
import sys


def udp(family, addr):
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.bind((addr, 0))
    s.settimeout(10)
    return s


def main():
    print("pid", os.getpid(), flush=True)
    srv4, srv6 = udp(socket.AF_INET, "127.0.0.1"), udp(socket.AF_INET6, "::1")
    cli4, cli6 = udp(socket.AF_INET, "127.0.0.1"), udp(socket.AF_INET6, "::1")
    conn4 = udp(socket.AF_INET, "127.0.0.1")
    conn4.connect(srv4.getsockname())
    socks = {"srv4": srv4, "srv6": srv6, "cli4": cli4, "cli6": cli6, "conn4": conn4}
    for name, s in socks.items():
        print(name, s.getsockname()[1], flush=True)

    cli4.sendto(b"ping4", srv4.getsockname())
    cli6.sendto(b"ping6", srv6.getsockname())
    conn4.send(b"pingc")
    for srv, n in ((srv4, 2), (srv6, 1)):
        for _ in range(n):
            data, peer = srv.recvfrom(64)
            srv.sendto(b"pong", peer)
    for cli in (cli4, cli6):
        cli.recvfrom(64)
    conn4.recv(64)
    for s in socks.values():
        s.close()
    print("done", flush=True)


if __name__ == "__main__":
    sys.exit(main())
