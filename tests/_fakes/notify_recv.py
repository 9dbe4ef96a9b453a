#!/usr/bin/env python3
"""A service manager's end of sd_notify, for tests: binds an AF_UNIX
SOCK_DGRAM socket to argv[1] (a path, or @name for an abstract address),
prints "BOUND" once bound, then one JSON string per datagram as it arrives,
until a datagram "__END__" or argv[2] seconds (default 30) without one.
Optional argv[3]: seconds to wait before reading (fills the queue)."""
import json
import os
import socket
import sys
import time

address = sys.argv[1]
timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 30.0
delay = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
if address.startswith("@"):
    s.bind("\0" + address[1:])
else:
    try:
        os.unlink(address)
    except FileNotFoundError:
        pass
    s.bind(address)
s.settimeout(timeout)
print("BOUND", flush=True)
if delay:
    time.sleep(delay)
try:
    while True:
        data = s.recv(65536)
        if data == b"__END__":
            break
        print(json.dumps(data.decode("utf-8", "replace")), flush=True)
except socket.timeout:
    pass
if not address.startswith("@"):
    os.unlink(address)
