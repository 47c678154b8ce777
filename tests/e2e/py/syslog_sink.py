# SPDX-License-Identifier: MIT
# A stand-in for a syslog daemon: binds a unix datagram socket and appends every datagram it
# receives to a file, one line each (as a syslog daemon writes its log).
#   syslog_sink.py SOCKET_PATH OUT_FILE
# Prints "ready" once the socket exists; runs until killed.
import socket
import sys

path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
print("ready", flush=True)
with open(out, "ab", buffering=0) as f:
    while True:
        data = s.recv(65536)
        f.write(data.rstrip(b"\n") + b"\n")
