#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""N loopback connections from one process to its own listener, which accepts none of them
for DELAY seconds (they wait in the accept queue, owned by nobody yet), then accepts all. All
are held until GO_FILE exists, then closed. Prints JSON lines: "listening" (port),
"connected" (made), "holding" (accepted), "done".

usage: late_accept.py N DELAY GO_FILE
"""
import json
import os
import socket
import sys
import time

n, delay, go = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]


def say(**kw):
    print(json.dumps(kw, separators=(",", ":")), flush=True)


srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(n + 16)
say(event="listening", port=srv.getsockname()[1])
clients = [socket.create_connection(srv.getsockname()) for _ in range(n)]
say(event="connected", made=len(clients))
time.sleep(delay)
accepted = [srv.accept()[0] for _ in range(n)]
say(event="holding", accepted=len(accepted))
while not os.path.exists(go):
    time.sleep(0.05)
for s in clients + accepted:
    s.close()
say(event="done")
time.sleep(0.5)
