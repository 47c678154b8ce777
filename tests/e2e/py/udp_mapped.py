# SPDX-License-Identifier: MIT
# Traffic with known ground truth for tests/e2e/20_udp_mapped.sh. Prints "key value" lines.
#  - v4-mapped TCP: an AF_INET6 dual-stack listener; one AF_INET6 client to ::ffff:127.0.0.1
#    and one AF_INET client to 127.0.0.1.
#  - an unconnected UDP server answering three unconnected clients, then closing (one socket,
#    several peers: its release must end every flow).
#  - a v4-mapped UDP datagram from an AF_INET6 socket.
#  - an idle UDP client that sends once and stays open until the test says "done".
import os
import socket
import sys
import time

ctl = sys.argv[1]
out = sys.stdout
say = lambda k, v: (out.write(f"{k} {v}\n"), out.flush())
say("pid", os.getpid())

srv = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
srv.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
srv.bind(("::", 0))
srv.listen()
tport = srv.getsockname()[1]
say("tcp_port", tport)
for fam, addr in ((socket.AF_INET6, "::ffff:127.0.0.1"), (socket.AF_INET, "127.0.0.1")):
    c = socket.socket(fam, socket.SOCK_STREAM)
    c.connect((addr, tport))
    a, _ = srv.accept()
    c.sendall(b"ping")
    assert a.recv(4) == b"ping"
    say("tcp_client_lport_%d" % (6 if fam == socket.AF_INET6 else 4), c.getsockname()[1])
    c.close()
    a.recv(1)
    a.close()
srv.close()

u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("127.0.0.1", 0))
uport = u.getsockname()[1]
say("udp_port", uport)
clients = []
for i in range(3):
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if i == 0:  # one connected client: its flow starts at connect(), once the port is bound
        c.connect(("127.0.0.1", uport))
        c.send(b"q%d" % i)
        say("udp_connected_port", c.getsockname()[1])
    else:
        c.sendto(b"q%d" % i, ("127.0.0.1", uport))
    data, peer = u.recvfrom(16)
    u.sendto(b"a" + data, peer)
    assert c.recv(16) == b"a" + data
    say("udp_client_port", c.getsockname()[1])
    clients.append(c)
for c in clients:
    c.close()
u.close()
say("udp_server_closed", 1)

m = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
m.sendto(b"x", ("::ffff:127.0.0.1", 9))
say("mapped_udp_lport", m.getsockname()[1])
m.close()

idle = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
idle.sendto(b"x", ("127.0.0.1", 9))
say("idle_lport", idle.getsockname()[1])
say("ready", 1)
deadline = time.time() + 60
while not os.path.exists(ctl) and time.time() < deadline:
    time.sleep(0.05)
idle.close()
say("done", 1)
