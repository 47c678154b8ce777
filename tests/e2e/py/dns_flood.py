# SPDX-License-Identifier: MIT
# A burst of DNS answers to one socket, for tests/e2e/25_dns_losses.sh.
#   dns_flood.py N MALFORMED LONG
# In the namespace it runs in: a "server" socket on 127.0.0.1:53 and a client socket connected
# to it. The client sends one query; the server answers with LONG answers of 5000 bytes (more
# than a DNS ring record carries), MALFORMED datagrams that are not DNS, then N valid answers
# (flood.test A 127.0.0.9) in bursts. The client reads everything. Prints "pid P" first and
# "done" at the end.
import os
import socket
import struct
import sys
import threading
import time

n, malformed, long_ = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
print("pid", os.getpid(), flush=True)


def name(s):
    return b"".join(bytes([len(p)]) + p.encode() for p in s.split(".")) + b"\0"


def answer(txid, extra=b""):
    head = struct.pack("!HHHHHH", txid, 0x8180, 1, 1, 0, 0)
    q = name("flood.test") + struct.pack("!HH", 1, 1)
    rr = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + bytes([127, 0, 0, 9])
    return head + q + rr + extra


srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
srv.bind(("127.0.0.1", 53))
cli = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
cli.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
cli.connect(("127.0.0.1", 53))
cli.send(answer(1)[:12] + name("flood.test") + struct.pack("!HH", 1, 1))
_, peer = srv.recvfrom(512)
got = 0
want = n + malformed + long_


def reader():
    global got
    while got < want:
        cli.recv(65536)
        got += 1


t = threading.Thread(target=reader)
t.start()
for i in range(long_):
    # An OPT-less answer padded past 4096 bytes: valid DNS, too long for a record.
    srv.sendto(answer(100 + i, b"\0" * 5000), peer)
    time.sleep(0.06)  # one at a time: the test's small ring holds one such record
for i in range(malformed):
    srv.sendto(b"\x12\x34\x81\x80 not dns at all" + bytes([i]), peer)
    time.sleep(0.02)
time.sleep(0.3)
sent = 0
while sent < n:
    for _ in range(min(50, n - sent)):
        srv.sendto(answer(1000 + sent), peer)
        sent += 1
    time.sleep(0.001)
t.join()
print("done", flush=True)
