# SPDX-License-Identifier: MIT
"""UDP flows with known outcomes and byte counts, the ground truth on stdout.

One process, loopback only:
  answered   a connected v4 client sends 3 datagrams (100, 200, 300 bytes) before the
             unconnected server reads any (so they reach the socket before its flow begins),
             and the server answers each (10, 20, 30 bytes); a second client sends it 33 bytes
             and gets 3 (a server socket with two peers: the recorder ends those flows)
  unanswered a connected v4 client sends 77 bytes to a server that reads them and never answers
  refused    a connected v4 client sends 10 bytes to a closed port; its recv() fails with
             ECONNREFUSED (the ICMP port unreachable)
  v6         an unconnected v6 client sends 50 bytes, the server answers 5
Prints "pid N", then "NAME PORT" per socket, then "sent/recv NAME BYTES" as the socket calls
returned them, then "done" once every socket is closed (their release ends the flows).
"""
import errno
import os
import socket
import sys

from udp_truth import Tally, bound, done


def udp(family, addr):
    return bound(family, addr)


def main():
    print("pid", os.getpid(), flush=True)
    srv, quiet = udp(socket.AF_INET, "127.0.0.1"), udp(socket.AF_INET, "127.0.0.1")
    srv6, cli6 = udp(socket.AF_INET6, "::1"), udp(socket.AF_INET6, "::1")
    cli, cli2, mute, ref = (udp(socket.AF_INET, "127.0.0.1") for _ in range(4))
    closed = udp(socket.AF_INET, "127.0.0.1")
    closed_port = closed.getsockname()[1]
    closed.close()  # nothing listens there now: the kernel answers with port unreachable
    cli.connect(srv.getsockname())
    cli2.connect(srv.getsockname())
    mute.connect(quiet.getsockname())
    ref.connect(("127.0.0.1", closed_port))
    socks = {"srv": srv, "quiet": quiet, "srv6": srv6, "cli6": cli6, "cli": cli, "cli2": cli2,
             "mute": mute, "ref": ref}
    for name, s in socks.items():
        print(name, s.getsockname()[1], flush=True)
    print("closed", closed_port, flush=True)
    tally = Tally()

    add = tally.add

    # answered: all three queued at the server before it reads the first
    for size in (100, 200, 300):
        add("sent cli", cli.send(b"q" * size))
    for size in (10, 20, 30):
        data, peer = srv.recvfrom(2048)
        add("recv srv", len(data))
        add("sent srv", srv.sendto(b"a" * size, peer))
    for _ in range(3):
        add("recv cli", len(cli.recv(2048)))
    add("sent cli2", cli2.send(b"w" * 33))
    data, peer = srv.recvfrom(2048)
    add("recv srv2", len(data))
    add("sent srv2", srv.sendto(b"z" * 3, peer))
    add("recv cli2", len(cli2.recv(2048)))
    # unanswered
    add("sent mute", mute.send(b"m" * 77))
    data, _ = quiet.recvfrom(2048)
    add("recv quiet", len(data))
    # refused
    add("sent ref", ref.send(b"r" * 10))
    try:
        ref.recv(2048)
        print("error: the closed port answered", flush=True)
        return 1
    except OSError as e:
        if e.errno != errno.ECONNREFUSED:
            raise
        print("refused ECONNREFUSED", flush=True)
    # v6, unconnected
    add("sent cli6", cli6.sendto(b"6" * 50, srv6.getsockname()))
    data, peer = srv6.recvfrom(2048)
    add("recv srv6", len(data))
    add("sent srv6", srv6.sendto(b"b" * 5, peer))
    add("recv cli6", len(cli6.recvfrom(2048)[0]))
    tally.print()
    done(socks.values())
    return 0


if __name__ == "__main__":
    sys.exit(main())
