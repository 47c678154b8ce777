# SPDX-License-Identifier: MIT
# Traffic for tests/e2e/80_fleet.sh, run inside one network namespace for SECONDS:
#   fleet_traffic.py SECONDS
# A TCP server on 127.0.0.1 (any port); one connection to it held open the whole time (so it
# spans the recorder's rotations: carried copies, its end in a later segment); short TCP
# exchanges (7 bytes out, 11 back) every 50 ms; a connect to a closed port every 200 ms
# (refused); a UDP datagram to a closed port every 100 ms from one socket. Prints
# "pid P" and "port P" first, "done SHORT" at the end.
import os
import socket
import sys
import threading
import time

say = lambda k, v: (sys.stdout.write(f"{k} {v}\n"), sys.stdout.flush())
say("pid", os.getpid())
secs = float(sys.argv[1])

srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.bind(("127.0.0.1", 0))
srv.listen(64)
port = srv.getsockname()[1]
closed = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
closed.bind(("127.0.0.1", 0))  # bound, never listening: connects to it are refused
closed_port = closed.getsockname()[1]
say("port", port)


def serve():
    while True:
        c, _ = srv.accept()
        threading.Thread(target=exchange, args=(c,), daemon=True).start()


def exchange(c):
    data = b""
    while len(data) < 7:
        d = c.recv(7 - len(data))
        if not d:
            break
        data += d
    if len(data) == 7:
        c.sendall(b"y" * 11)
    while c.recv(4096):
        pass
    c.close()


threading.Thread(target=serve, daemon=True).start()
held = socket.create_connection(("127.0.0.1", port))
held.sendall(b"h" * 7)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end = time.monotonic() + secs
short = 0
tick = 0
while time.monotonic() < end:
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"x" * 7)
    got = b""
    while len(got) < 11:
        d = s.recv(11 - len(got))
        if not d:
            break
        got += d
    s.close()
    short += 1
    if tick % 2 == 0:
        udp.sendto(b"u", ("127.0.0.1", closed_port))
    if tick % 4 == 0:
        r = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            r.connect(("127.0.0.1", closed_port))
        except OSError:
            pass
        r.close()
    tick += 1
    time.sleep(0.05)
held.close()
udp.close()
time.sleep(0.2)
say("done", short)
