# SPDX-License-Identifier: MIT
# An HTTP proxy in front of a server that freezes at a chosen request, for tests/e2e/80_fleet.sh:
#   freeze_proxy.py UPSTREAM_PORT PATTERN N STATEFILE
# Listens on 127.0.0.1 (any port) and prints "port P". Each connection carries one request
# (read whole: head and Content-Length body) that is forwarded to 127.0.0.1:UPSTREAM_PORT on a
# fresh connection, and the answer relayed back before closing. The N-th request whose request
# line contains PATTERN is never forwarded nor answered: the proxy writes "frozen" to
# STATEFILE and holds the connection open, like a server that hangs. Later requests still pass.
import socket
import sys
import threading
import time

up_port, pattern, n_freeze, state = int(sys.argv[1]), sys.argv[2].encode(), int(sys.argv[3]), sys.argv[4]
lock = threading.Lock()
seen = 0
held = []

srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(64)
print("port", srv.getsockname()[1], flush=True)


def read_request(c):
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = c.recv(65536)
        if not d:
            return None, None
        buf += d
    head, body = buf.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    length = 0
    out = [lines[0]]
    for line in lines[1:]:
        k = line.split(b":", 1)[0].strip().lower()
        if k == b"content-length":
            length = int(line.split(b":", 1)[1])
        if k in (b"connection", b"expect"):
            continue
        out.append(line)
    if any(l.lower().startswith(b"expect:") for l in lines[1:]):
        c.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
    while len(body) < length:
        d = c.recv(min(1 << 20, length - len(body)))
        if not d:
            return None, None
        body += d
    out.append(b"Connection: close")
    return b"\r\n".join(out) + b"\r\n\r\n", body


def handle(c):
    global seen
    head, body = read_request(c)
    if head is None:
        c.close()
        return
    first = head.split(b"\r\n", 1)[0]
    with lock:
        if pattern in first:
            seen += 1
            if seen == n_freeze:
                held.append(c)
                with open(state, "w") as f:
                    f.write("frozen\n")
                return
    u = socket.create_connection(("127.0.0.1", up_port))
    u.sendall(head + body)
    while True:
        d = u.recv(65536)
        if not d:
            break
        c.sendall(d)
    u.close()
    c.close()


while True:
    c, _ = srv.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
