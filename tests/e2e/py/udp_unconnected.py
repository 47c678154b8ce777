# SPDX-License-Identifier: MIT
"""Unconnected UDP sockets sending to closed ports, the ground truth on stdout.

One process, loopback only, for tests/e2e/28_udp_unconnected.sh:
  plain     sends 21 bytes to a closed v4 port; not connected and not asking for errors, it
            is never told of the ICMP port unreachable (a receive finds nothing)
  recverr   the same with IP_RECVERR, 22 bytes: its receive fails with ECONNREFUSED
  recverr6  an IPv6 socket with IPV6_RECVERR, 23 bytes to a closed v6 port: ECONNREFUSED
  mapped    an IPv6 socket with IP_RECVERR, 24 bytes to the closed v4 port as a v4-mapped
            address: ECONNREFUSED
  two       with IP_RECVERR, 5 bytes to a server that answers 3, then 6 bytes to the closed
            v4 port: only the second peer refused it
Prints "pid N", "NAME PORT" per socket, "told NAME ERRNO-NAME-or-nothing" per sender, then
"done" once every socket is closed (their release ends the flows).
"""
import errno
import os
import socket
import sys
import time

from udp_truth import bound, done

IPV6_RECVERR = getattr(socket, "IPV6_RECVERR", 25)
IP_RECVERR = getattr(socket, "IP_RECVERR", 11)


def udp(family, addr):
    return bound(family, addr, 5)


def closed_port(family, addr):
    s = udp(family, addr)
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: the kernel answers with port unreachable
    return port


def told(s):
    """What the socket was told of its datagram: ECONNREFUSED, or nothing within 0.5 s."""
    s.settimeout(0.5)
    try:
        s.recvfrom(2048)
        return "answered"
    except socket.timeout:
        return "nothing"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


def main():
    print("pid", os.getpid(), flush=True)
    c4, c6 = closed_port(socket.AF_INET, "127.0.0.1"), closed_port(socket.AF_INET6, "::1")
    srv = udp(socket.AF_INET, "127.0.0.1")
    plain, recverr, two = (udp(socket.AF_INET, "127.0.0.1") for _ in range(3))
    recverr6, mapped = udp(socket.AF_INET6, "::1"), udp(socket.AF_INET6, "::")
    recverr.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
    two.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
    recverr6.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVERR, 1)
    mapped.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
    socks = {"srv": srv, "plain": plain, "recverr": recverr, "recverr6": recverr6,
             "mapped": mapped, "two": two}
    for name, s in socks.items():
        print(name, s.getsockname()[1], flush=True)
    print("closed4", c4, flush=True)
    print("closed6", c6, flush=True)
    sent = {}
    sent["plain"] = plain.sendto(b"p" * 21, ("127.0.0.1", c4))
    print("told plain", told(plain), flush=True)
    sent["recverr"] = recverr.sendto(b"r" * 22, ("127.0.0.1", c4))
    print("told recverr", told(recverr), flush=True)
    sent["recverr6"] = recverr6.sendto(b"6" * 23, ("::1", c6))
    print("told recverr6", told(recverr6), flush=True)
    sent["mapped"] = mapped.sendto(b"m" * 24, ("::ffff:127.0.0.1", c4))
    print("told mapped", told(mapped), flush=True)
    sent["two"] = two.sendto(b"t" * 5, srv.getsockname())
    data, peer = srv.recvfrom(2048)
    sent["srv"] = srv.sendto(b"a" * 3, peer)
    print("recv srv", len(data), flush=True)
    print("recv two", len(two.recvfrom(2048)[0]), flush=True)
    sent["two closed"] = two.sendto(b"u" * 6, ("127.0.0.1", c4))
    print("told two", told(two), flush=True)
    for key in sorted(sent):
        print("sent", key, sent[key], flush=True)
    time.sleep(0.1)
    done(socks.values())
    return 0


if __name__ == "__main__":
    sys.exit(main())
