# SPDX-License-Identifier: MIT
# A hostile "ClickHouse server" for tests/golden/38_fleet_hostile.sh: answers every HTTP request
# the same bad way, chosen by MODE:
#   escape   500, an exception text full of terminal escapes and control bytes, 200 KB long
#   garbage  200, 64 KB of random bytes (a RowBinary answer that makes no sense)
#   huge     200, Content-Length 1 GB, bytes sent until the client hangs up
#   ones     200, 24 MB of 0x01 bytes: endless well-formed rows of one-byte strings
#   short    200, Content-Length 100000, 10 bytes sent, then the connection closed
#   nonsense a status line that is not HTTP, then the connection closed
#   silent   reads the request, never answers (closes after 60 s)
#   redirect 302 to another server (a client must not follow it)
# Usage: hostile_ch.py MODE; listens on 127.0.0.1 (any port), prints "port P", one thread per
# connection, logs each request line to stderr.
import os
import socket
import sys
import threading
import time

mode = sys.argv[1]
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(64)
print("port", srv.getsockname()[1], flush=True)

EVIL = b"Code: 60, e.displayText() = DB::Exception: \x1b[2J\x1b[31mEVIL\x1b]0;pwned\x07\r\n\x00\x9b"


def read_request(c):
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = c.recv(65536)
        if not d:
            return None
        buf += d
    head, body = buf.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(body) < length:
        d = c.recv(65536)
        if not d:
            break
        body += d
    return head.split(b"\r\n")[0]


def answer(c):
    if mode == "escape":
        body = EVIL + b"A" * 200000 + EVIL
        c.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: %d\r\n"
                  b"X-ClickHouse-Exception-Code: 60\r\nConnection: close\r\n\r\n" % len(body) + body)
    elif mode == "garbage":
        body = os.urandom(65536)
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
                  + body)
    elif mode == "huge":
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\nConnection: close\r\n\r\n")
        chunk = b"\x01" * 65536
        for _ in range(16384):
            c.sendall(chunk)
    elif mode == "ones":
        body = b"\x01" * (24 << 20)
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
                  + body)
    elif mode == "short":
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n"
                  b"\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a")
    elif mode == "nonsense":
        c.sendall(b"\x1b[31mHELLO\x00 THIS IS NOT HTTP\r\n\r\n")
    elif mode == "silent":
        time.sleep(60)
    elif mode == "redirect":
        c.sendall(b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/\r\nContent-Length: 0\r\n"
                  b"Connection: close\r\n\r\n")


def serve(c):
    try:
        line = read_request(c)
        if line is not None:
            print(line.decode("latin-1")[:200], file=sys.stderr, flush=True)
            answer(c)
    except OSError:
        pass
    finally:
        c.close()


while True:
    conn, _ = srv.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
