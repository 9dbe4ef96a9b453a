#!/usr/bin/env python3
"""Stand-ins for the README's health example: a "database" that opens its
TCP port after a while, and an HTTP API with a /health endpoint.

    python3 server.py db PORT [DELAY]   listen on 127.0.0.1:PORT after DELAY seconds
    python3 server.py api PORT DBPORT   serve HTTP on 127.0.0.1:PORT; /health is 200
                                        while the db port accepts connections, else 503
"""

import http.server
import socket
import socketserver
import sys
import time


def db(port: int, delay: float) -> None:
    print(f"db: warming up for {delay}s", flush=True)
    time.sleep(delay)
    with socket.create_server(("127.0.0.1", port)) as server:
        print(f"db: accepting connections on {port}", flush=True)
        while True:
            conn, _ = server.accept()
            conn.close()


def api(port: int, db_port: int) -> None:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/health":
                self.send_error(404)
                return
            try:
                socket.create_connection(("127.0.0.1", db_port), timeout=0.5).close()
                status, body = 200, b"ok\n"
            except OSError:
                status, body = 503, b"database unreachable\n"
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:  # keep probes out of the log
            pass

    socketserver.TCPServer.allow_reuse_address = True
    with socketserver.TCPServer(("127.0.0.1", port), Handler) as server:
        print(f"api: listening on :{port}", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    role, port = sys.argv[1], int(sys.argv[2])
    if role == "db":
        db(port, float(sys.argv[3]) if len(sys.argv) > 3 else 1.5)
    else:
        api(port, int(sys.argv[3]))
