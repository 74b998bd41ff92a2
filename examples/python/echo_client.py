#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Echo client that sends with MSG_NICMEM.

    python3 echo_client.py HOST [PORT] [MESSAGE]

The one line that matters is s.sendall(data, MSG_NICMEM): the kernel copies
the payload into memory on the NIC, which transmits it from there.
"""
import socket
import struct
import sys

MSG_NICMEM = 0x8000000
TCP_NICMEM_INFO = 47
REASONS = ["no_provider", "loopback", "no_offload", "zerocopy", "quota", "nomem", "other", "sw_path"]


def nicmem_info(s):
    """The socket's counters: (bytes from NIC memory, fallback bytes, {reason: bytes})."""
    raw = s.getsockopt(socket.IPPROTO_TCP, TCP_NICMEM_INFO, 80)
    vals = struct.unpack("10Q", raw)
    return vals[0], vals[1], {r: b for r, b in zip(REASONS, vals[2:]) if b}


def main():
    host = sys.argv[1] if len(sys.argv) > 1 else "10.77.0.2"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 7777
    data = (sys.argv[3] if len(sys.argv) > 3 else "hello from NIC memory").encode()
    with socket.create_connection((host, port)) as s:
        s.sendall(data, MSG_NICMEM)
        echo = b""
        while len(echo) < len(data):
            chunk = s.recv(65536)
            if not chunk:
                break
            echo += chunk
        print("echoed:", echo.decode(errors="replace"))
        if echo != data:
            sys.exit("echo differs from what was sent")
        nbytes, fbytes, reasons = nicmem_info(s)
        print(f"socket counters: nicmem_bytes={nbytes} fallback_bytes={fbytes} {reasons or ''}")


if __name__ == "__main__":
    main()
