#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Echo server: python3 echo_server.py [port] -- echoes every connection."""
import socket
import sys
import threading


def serve(conn):
    with conn:
        while True:
            data = conn.recv(65536)
            if not data:
                return
            conn.sendall(data)


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7777
    srv = socket.create_server(("::", port), family=socket.AF_INET6, dualstack_ipv6=True)
    print(f"echo server on port {port}", flush=True)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
