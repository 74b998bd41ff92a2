#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""A hashed TCP stream with the socket options the Rust nicmem-stream lacks.

    tcpx.py recv PORT [--md5 KEY] [--ao KEY] [--ktls] [--delay S] [--rcvbuf N]
                      [--out FILE] [--peer ADDR]
    tcpx.py send ADDR PORT --bytes N [--flags nicmem|plain] [--seed S]
                      [--chunk C] [--sndbuf N] [--md5 KEY] [--ao KEY] [--ktls]
                      [--pmtudisc dont] [--md5-after-ms MS] [--peer ADDR]

Output lines are those of nicmem-stream (tests/vm/lib/env.sh parses them):
"listening ...", "recv bytes=N sha256=H", "send bytes=N sha256=H",
"nicmem bytes=N fallback=N reason=N ...". A failing send prints
"send error errno=E (NAME) after=N" and exits 3.
"""
import argparse
import errno
import hashlib
import socket
import struct
import sys
import time

MSG_NICMEM = 0x8000000
TCP_MD5SIG = 14
TCP_ULP = 31
TCP_AO_ADD_KEY = 38
TCP_NICMEM_INFO = 47
SOL_TLS = 282
TLS_TX, TLS_RX = 1, 2
REASONS = ["no_provider", "loopback", "no_offload", "zerocopy", "quota", "nomem", "other", "sw_path"]


def sockaddr_storage(addr):
    """struct __kernel_sockaddr_storage (128 bytes) for an IPv4 address."""
    return struct.pack("=HH4s", socket.AF_INET, 0, socket.inet_aton(addr)).ljust(128, b"\0")


def set_md5(s, peer, key):
    # struct tcp_md5sig: addr, flags, prefixlen, keylen, ifindex, key[80]
    k = key.encode()
    opt = sockaddr_storage(peer) + struct.pack("=BBHi", 0, 0, len(k), 0) + k.ljust(80, b"\0")
    s.setsockopt(socket.IPPROTO_TCP, TCP_MD5SIG, opt)


def set_ao(s, peer, key):
    # struct tcp_ao_add: addr, alg_name[64], ifindex, set_current:1 set_rnext:1,
    # reserved2, prefix, sndid, rcvid, maclen, keyflags, keylen, key[80]
    k = key.encode()
    opt = (sockaddr_storage(peer) + b"hmac(sha1)".ljust(64, b"\0")
           + struct.pack("=iIHBBBBBB", 0, 0b11, 0, 32, 100, 100, 12, 0, len(k)) + k.ljust(80, b"\0"))
    opt = opt.ljust((len(opt) + 7) // 8 * 8, b"\0")
    s.setsockopt(socket.IPPROTO_TCP, TCP_AO_ADD_KEY, opt)


def set_ktls(s, direction):
    # TLS 1.2 AES-GCM-128 with fixed keys: both ends agree without a handshake.
    s.setsockopt(socket.IPPROTO_TCP, TCP_ULP, b"tls")
    info = struct.pack("=HH", 0x0303, 51) + b"\x01" * 8 + b"\x02" * 16 + b"\x03" * 4 + b"\0" * 8
    s.setsockopt(SOL_TLS, direction, info)


def pattern(seed, n):
    """n bytes of a repeating 1 MiB block derived from seed."""
    block = hashlib.shake_256(str(seed).encode()).digest(1 << 20)
    reps = n // len(block) + 1
    return memoryview(block * reps)[:n]


def nicmem_info(s):
    try:
        v = struct.unpack("10Q", s.getsockopt(socket.IPPROTO_TCP, TCP_NICMEM_INFO, 80))
    except OSError as e:
        return f"nicmem unavailable ({e})"
    reasons = " ".join(f"{n}={b}" for n, b in zip(REASONS, v[2:]) if b)
    return f"nicmem bytes={v[0]} fallback={v[1]} {reasons}".rstrip()


def options(s, a):
    if a.md5:
        set_md5(s, a.peer, a.md5)
    if a.ao:
        set_ao(s, a.peer, a.ao)


def recv(a):
    l = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if a.rcvbuf:
        l.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, a.rcvbuf)
    options(l, a)
    l.bind(("0.0.0.0", a.port))
    l.listen(1)
    print(f"listening 0.0.0.0:{a.port}", flush=True)
    c, _ = l.accept()
    if a.ktls:
        set_ktls(c, TLS_RX)
    time.sleep(a.delay)
    h, total = hashlib.sha256(), 0
    out = open(a.out, "wb") if a.out else None
    while True:
        try:
            d = c.recv(1 << 20)
        except ConnectionResetError:
            print(f"recv reset after={total}", flush=True)
            break
        if not d:
            break
        h.update(d)
        total += len(d)
        if out:
            out.write(d)
    print(f"recv bytes={total} sha256={h.hexdigest()}", flush=True)


def send(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if a.sndbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, a.sndbuf)
    if a.pmtudisc == "dont":
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MTU_DISCOVER, socket.IP_PMTUDISC_DONT)
    options(s, a)
    s.connect((a.addr, a.port))
    if a.ktls:
        set_ktls(s, TLS_TX)
    data = pattern(a.seed, a.bytes)
    flags = MSG_NICMEM if a.flags == "nicmem" else 0
    sent, t0, md5_done = 0, time.time(), False
    try:
        while sent < a.bytes:
            if a.md5_after_ms and not md5_done and (time.time() - t0) * 1000 >= a.md5_after_ms:
                set_md5(s, a.peer, "late-key")
                md5_done = True
            sent += s.send(data[sent:sent + a.chunk], flags)
        s.shutdown(socket.SHUT_WR)
        # Wait for the peer's close, so that every byte was acknowledged.
        while s.recv(4096):
            pass
    except OSError as e:
        print(f"send error errno={e.errno} ({errno.errorcode.get(e.errno, '?')}) after={sent}", flush=True)
        print(nicmem_info(s), flush=True)
        sys.exit(3)
    print(f"send bytes={sent} sha256={hashlib.sha256(data).hexdigest()} seconds={time.time() - t0:.3f}", flush=True)
    print(nicmem_info(s), flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("cmd", choices=["send", "recv"])
    p.add_argument("rest", nargs="+")
    p.add_argument("--bytes", type=int, default=1 << 20)
    p.add_argument("--flags", default="nicmem")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--chunk", type=int, default=1 << 16)
    p.add_argument("--sndbuf", type=int)
    p.add_argument("--rcvbuf", type=int)
    p.add_argument("--delay", type=float, default=0)
    p.add_argument("--md5")
    p.add_argument("--ao")
    p.add_argument("--ktls", action="store_true")
    p.add_argument("--pmtudisc")
    p.add_argument("--md5-after-ms", type=int, default=0)
    p.add_argument("--peer", help="the peer the keys are for (default: 10.77.0.1 for recv, ADDR for send)")
    p.add_argument("--out")
    a = p.parse_args()
    if a.cmd == "recv":
        a.port = int(a.rest[0])
        a.peer = a.peer or "10.77.0.1"
        recv(a)
    else:
        a.addr, a.port = a.rest[0], int(a.rest[1])
        a.peer = a.peer or a.addr
        send(a)


if __name__ == "__main__":
    main()
