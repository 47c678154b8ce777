# SPDX-License-Identifier: MIT
# N short TCP exchanges with known byte counts, for tests/e2e/53_skipped_close.sh.
#   exchange_tcp.py PORT N
# A server on 127.0.0.1:PORT reads 7 bytes, answers 11, and closes after the client does; the
# client makes N connections one after another (send 7, read 11, close). Prints "pid P", then
# "done N" once every connection and the listener are closed.
import os
import socket
import sys
import threading

port, n = int(sys.argv[1]), int(sys.argv[2])
print("pid", os.getpid(), flush=True)
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.bind(("127.0.0.1", port))
srv.listen(64)


def recv_exactly(s, size):
    data = b""
    while len(data) < size:
        chunk = s.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def serve():
    for _ in range(n):
        conn, _ = srv.accept()
        recv_exactly(conn, 7)
        conn.sendall(b"0123456789a")
        recv_exactly(conn, 1)  # EOF: the client closes first
        conn.close()


t = threading.Thread(target=serve)
t.start()
for _ in range(n):
    c = socket.create_connection(("127.0.0.1", port))
    c.sendall(b"request")
    recv_exactly(c, 11)
    c.close()
t.join()
srv.close()
print("done", n, flush=True)
