#!/usr/bin/env python3
"""A child's end of sd_notify, for tests: prints its pid, then sends argv[1]
datagrams "SEQ=<i>" (with a STATUS= of varied length, up to about 3900
bytes) and then "READY=1\\nSTATUS=up" to $NOTIFY_SOCKET, from an unbound
socket as libsystemd does. With argv[2] == "big" it sends one 5000-byte
datagram first."""
import os
import socket
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
mode = sys.argv[2] if len(sys.argv) > 2 else ""
address = os.environ["NOTIFY_SOCKET"]
if address.startswith("@"):
    address = "\0" + address[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * 1024 * 1024)
print(os.getpid(), flush=True)
if mode == "big":
    s.sendto(b"STATUS=" + b"x" * 5000, address)
for i in range(n):
    s.sendto(f"SEQ={i}\nSTATUS={'y' * ((i * 397) % 3900)}".encode(), address)
s.sendto(b"READY=1\nSTATUS=up", address)
