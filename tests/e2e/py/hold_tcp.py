# SPDX-License-Identifier: MIT
# One side of a TCP connection that stays open, for tests/e2e/19_long_open.sh.
#   hold_tcp.py server           listen on 127.0.0.1 (any port); print "port N"; for every
#                                connection print "accepted RPORT", then read until EOF and close.
#   hold_tcp.py client PORT FILE connect; send 5 bytes; print "lport L"; close once FILE exists.
# Both print "pid P" first. Every line is flushed at once: the test reads them as they come.
import os
import socket
import sys
import threading
import time

say = lambda k, v: (sys.stdout.write(f"{k} {v}\n"), sys.stdout.flush())
say("pid", os.getpid())

if sys.argv[1] == "server":
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    say("port", srv.getsockname()[1])

    def drain(conn):
        while conn.recv(4096):
            pass
        conn.close()

    while True:
        conn, peer = srv.accept()
        say("accepted", peer[1])
        threading.Thread(target=drain, args=(conn,), daemon=True).start()
else:
    port, marker = int(sys.argv[2]), sys.argv[3]
    c = socket.create_connection(("127.0.0.1", port))
    c.sendall(b"hello")
    say("lport", c.getsockname()[1])
    while not os.path.exists(marker):
        time.sleep(0.02)
    c.close()
    say("closed", 1)
