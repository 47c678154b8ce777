# SPDX-License-Identifier: MIT
"""A connected UDP client that connect()s again to a second peer and stays busy with it for
longer than the recorder's --udp-idle, then falls silent with its socket open; the ground
truth on stdout. For tests/e2e/31_udp_reconnect.sh.

  cli    a v4 client: connected to srva, 8 exchanges (datagram i of 100 + i bytes, answered
         with 10 + i), then connected to srvb, 40 exchanges one every GAP seconds (argument 1),
         400 + i bytes answered with 40 + i
  cli6   the same over v6 with srv6a and srv6b (200 + i / 20 + i, then 600 + i / 60 + i)
  late   a v4 client connected to srva at the start that stays quiet until the others are done
         (longer than --udp-idle), then exchanges 16 times (800 + i, answered 80 + i)
The servers are unconnected. Then all stay silent for SILENT seconds (argument 2) with every
socket open, and close. Prints "pid N", "NAME PORT" per socket, "sent/recv NAME PEER BYTES"
per socket and peer, "silent" when the silence begins, "done" once every socket is closed.
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
    socks = {
        "srva": udp(socket.AF_INET, "127.0.0.1"),
        "srvb": udp(socket.AF_INET, "127.0.0.1"),
        "cli": udp(socket.AF_INET, "127.0.0.1"),
        "srv6a": udp(socket.AF_INET6, "::1"),
        "srv6b": udp(socket.AF_INET6, "::1"),
        "cli6": udp(socket.AF_INET6, "::1"),
        "late": udp(socket.AF_INET, "127.0.0.1"),
    }
    for name, s in socks.items():
        print(name, s.getsockname()[1], flush=True)
    tally = Tally()

    add = tally.add

    def exchange(cname, sname, out, back):
        c, server = socks[cname], socks[sname]
        add("sent %s %s" % (cname, sname), c.send(b"c" * out))
        data, peer = server.recvfrom(4096)
        add("recv %s %s" % (sname, cname), len(data))
        add("sent %s %s" % (sname, cname), server.sendto(b"s" * back, peer))
        add("recv %s %s" % (cname, sname), len(c.recv(4096)))

    socks["cli"].connect(socks["srva"].getsockname())
    socks["cli6"].connect(socks["srv6a"].getsockname()[:2])
    socks["late"].connect(socks["srva"].getsockname())
    for i in range(8):
        exchange("cli", "srva", 100 + i, 10 + i)
        exchange("cli6", "srv6a", 200 + i, 20 + i)
    # The second peer: no cgroup hook runs for this socket's send() and recv() from now on.
    socks["cli"].connect(socks["srvb"].getsockname())
    socks["cli6"].connect(socks["srv6b"].getsockname()[:2])
    for i in range(40):
        exchange("cli", "srvb", 400 + i, 40 + i)
        exchange("cli6", "srv6b", 600 + i, 60 + i)
        time.sleep(gap)
    for i in range(16):
        exchange("late", "srva", 800 + i, 80 + i)
    tally.print()
    print("silent", flush=True)
    time.sleep(silent)
    done(socks.values())
    return 0


if __name__ == "__main__":
    sys.exit(main())
