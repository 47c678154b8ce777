# SPDX-License-Identifier: MIT
"""Two unconnected UDP servers with several peers each, released after the recorder's idle
sweep has run; the ground truth on stdout. For tests/e2e/32_udp_release_sweep.sh.

  srvs   talks to p1 and p2 (connected clients), one exchange each every 0.2 s, until the
         file GO (argument 1) exists; then to p3 once, and is closed
  srvt   talks to q1 and q2 once at the start, then is silent until GO exists; then to q3
         once, and is closed
Exchange i of client c: the client sends 100 + i bytes, the server answers with 10 + i. Every
socket is closed at the end. Prints "pid N", "NAME PORT" per socket, "sent/recv NAME PEER
BYTES" per socket and peer, and "done" once every socket is closed.
"""
import os
import socket
import sys
import time

from udp_truth import Tally, bound, done


def udp():
    return bound(socket.AF_INET, "127.0.0.1")


def main():
    go = sys.argv[1]
    print("pid", os.getpid(), flush=True)
    names = ["srvs", "srvt", "p1", "p2", "p3", "q1", "q2", "q3"]
    socks = {name: udp() for name in names}
    for name in names:
        print(name, socks[name].getsockname()[1], flush=True)
    for c in ("p1", "p2", "p3"):
        socks[c].connect(socks["srvs"].getsockname())
    for c in ("q1", "q2", "q3"):
        socks[c].connect(socks["srvt"].getsockname())
    tally = Tally()
    rounds = {}

    add = tally.add

    def exchange(cname, sname):
        i = rounds.get(cname, 0)
        rounds[cname] = i + 1
        c, server = socks[cname], socks[sname]
        add("sent %s %s" % (cname, sname), c.send(b"c" * (100 + i)))
        data, peer = server.recvfrom(4096)
        add("recv %s %s" % (sname, cname), len(data))
        add("sent %s %s" % (sname, cname), server.sendto(b"s" * (10 + i), peer))
        add("recv %s %s" % (cname, sname), len(c.recv(4096)))

    exchange("q1", "srvt")
    exchange("q2", "srvt")
    print("started", flush=True)
    deadline = time.time() + 60
    while not os.path.exists(go) and time.time() < deadline:
        exchange("p1", "srvs")
        exchange("p2", "srvs")
        time.sleep(0.2)
    exchange("p3", "srvs")
    exchange("q3", "srvt")
    tally.print()
    done(socks.values())
    return 0


if __name__ == "__main__":
    sys.exit(main())
