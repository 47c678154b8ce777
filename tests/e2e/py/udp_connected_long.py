# SPDX-License-Identifier: MIT
"""Connected UDP clients that talk for longer than the recorder's --udp-idle, then fall silent
for longer than it with their sockets open, the ground truth on stdout. For
tests/e2e/29_udp_connected_long.sh.

  cli    a connected v4 client: 40 exchanges with an unconnected server (srv), one every
         GAP seconds (argument 1), datagram i of 100 + i bytes, answered with 10 + i
  cli6   a connected v6 client, 24 exchanges with srv6 (200 + i bytes, answered 20 + i)
  mapped a connected dual-stack v6 socket talking to srv at a v4-mapped address, 16
         exchanges (300 + i, answered 30 + i)
Then all stay silent for SILENT seconds (argument 2) with every socket open, and close.
Prints "pid N", "NAME PORT" per socket, "sent/recv NAME BYTES" per socket, "silent" when
the silence begins, "done" once every socket is closed.
"""
import os
import socket
import sys
import time

from udp_truth import Tally, bound, done


def udp(family, addr):
    return bound(family, addr)


def main():
    gap, silent = float(sys.argv[1]), float(sys.argv[2])
    print("pid", os.getpid(), flush=True)
    srv, cli = udp(socket.AF_INET, "127.0.0.1"), udp(socket.AF_INET, "127.0.0.1")
    srv6, cli6 = udp(socket.AF_INET6, "::1"), udp(socket.AF_INET6, "::1")
    mapped = udp(socket.AF_INET6, "::")
    cli.connect(srv.getsockname())
    cli6.connect(srv6.getsockname()[:2])
    mapped.connect(("::ffff:127.0.0.1", srv.getsockname()[1]))
    socks = {"srv": srv, "cli": cli, "srv6": srv6, "cli6": cli6, "mapped": mapped}
    for name, s in socks.items():
        print(name, s.getsockname()[1], flush=True)
    tally = Tally()

    add = tally.add

    def exchange(c, name, server, sname, out, back):
        add("sent " + name, c.send(b"c" * out))
        data, peer = server.recvfrom(4096)
        add("recv " + sname + " " + name, len(data))
        add("sent " + sname + " " + name, server.sendto(b"s" * back, peer))
        add("recv " + name, len(c.recv(4096)))

    for i in range(40):
        exchange(cli, "cli", srv, "srv", 100 + i, 10 + i)
        if i < 24:
            exchange(cli6, "cli6", srv6, "srv6", 200 + i, 20 + i)
        if i < 16:
            exchange(mapped, "mapped", srv, "srv", 300 + i, 30 + i)
        time.sleep(gap)
    tally.print()
    print("silent", flush=True)
    time.sleep(silent)
    done(socks.values())
    return 0


if __name__ == "__main__":
    sys.exit(main())
