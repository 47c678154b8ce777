# SPDX-License-Identifier: MIT
"""What the UDP ground-truth scripts share: a bound socket, and the byte counts each script
keeps of what it sent and received, printed as "key count" lines, and "done" once its
sockets are closed (the e2e
test compares them with the recorder's flows: cr_udp_flows_eq in tests/e2e/lib.sh)."""
import socket


def bound(family=socket.AF_INET, addr="127.0.0.1", timeout=10):
    """A UDP socket bound to a port of the kernel's choosing on ADDR."""
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.bind((addr, 0))
    s.settimeout(timeout)
    return s


class Tally:
    """Bytes per key, as the script itself saw them sent and received."""

    def __init__(self):
        self.count = {}

    def add(self, key, n):
        self.count[key] = self.count.get(key, 0) + n

    def print(self):
        """Every count, as a "key count" line."""
        for key in sorted(self.count):
            print(key, self.count[key], flush=True)


def done(socks):
    """Closes SOCKS (the releases the recorder must see) and says so."""
    for s in socks:
        s.close()
    print("done", flush=True)
