#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Resident NIC memory from user space: arenas made on /dev/nicmem, mapped,
written once and sent from with MSG_NICMEM (tests/vm/tests/41-resident.sh).

    resident.py send ADDR PORT... --object N --repeat R [--mode resident|mixed]
        one object in an arena, sent R times on each connection (one per
        PORT, round robin); "mixed" sends each time [heap header | object |
        heap trailer] in one sendmsg, then the header again with plain
        send() and with MSG_NICMEM from the heap.
    resident.py twice ADDR PORT --object N --go FILE
        sends the object, then again once FILE exists (the host changed the
        object's bytes in NIC memory meanwhile).
    resident.py free ADDR PORT --bytes N --ifname IF
        sends N resident bytes to a receiver that does not read yet, unmaps
        and closes the arena at once, then takes and overwrites all the
        memory arenas may hold (held chunks must not be handed out again;
        no arena past half the device), then waits for the receiver.
    resident.py revoke ADDR PORT --bytes N --go FILE
        queues N resident bytes, prints "queued", and once FILE exists
        (the offer was withdrawn) sends again, reads the connection's fate
        and, last, writes to the mapping: SIGBUS ends it (exit 135 in sh).
    resident.py owner ADDR PORT --ifname IF
        what another process can do with an arena: nothing.
    resident.py remap ADDR PORT
        sends, on one socket, from one address while what is mapped there
        changes: an arena, anonymous memory, another arena, that arena
        without read permission and with it again, and from a child
        process (which has nothing there); each send carries what is
        mapped there at the time, or fails as a copy from it would.
    resident.py quota ADDR PORT --ifname IF --pct P --bytes N
        an arena of the user's whole quota (P percent): a second arena and
        the user's copy-path sends get no NIC memory.

Output lines: "send bytes=N sha256=H" as nicmem-stream prints them,
"nicmem bytes=N fallback=N resident=N ..." (TCP_NICMEM_INFO), and
"check NAME ok|FAIL detail" for each property; exit 1 on a FAIL.
"""
import argparse
import ctypes
import errno
import fcntl
import hashlib
import mmap
import os
import socket
import struct
import sys
import termios
import time

MSG_NICMEM = 0x8000000
TCP_NICMEM_INFO = 47
# _IOWR(0xE4, 0x01, struct nicmem_arena_create): 24 bytes
NICMEM_IOC_ARENA_CREATE = (3 << 30) | (24 << 16) | (0xE4 << 8) | 0x01
REASONS = ["no_provider", "loopback", "no_offload", "zerocopy", "quota", "nomem", "other", "sw_path"]
libc = ctypes.CDLL(None, use_errno=True)
libc.send.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
libc.send.restype = ctypes.c_ssize_t
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
libc.mmap.restype = ctypes.c_void_p
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
MAP_FIXED_NOREPLACE = 0x100000
failed = False


def check(name, ok, detail=""):
    global failed
    print(f"check {name} {'ok' if ok else 'FAIL'} {detail}".rstrip(), flush=True)
    failed |= not ok


def arena_ioctl(ifindex, size):
    """(arena fd or -errno, chunk size)"""
    req = bytearray(struct.pack("=IIQII", ifindex, 0, size, 0, 0))
    dev = os.open("/dev/nicmem", os.O_RDWR | os.O_CLOEXEC)
    try:
        fd = fcntl.ioctl(dev, NICMEM_IOC_ARENA_CREATE, req)
    except OSError as e:
        fd = -e.errno
    finally:
        os.close(dev)
    return fd, struct.unpack("=IIQII", req)[3]


class Arena:
    def __init__(self, ifindex, size):
        fd, self.chunk = arena_ioctl(ifindex, size)
        if fd < 0:
            raise OSError(-fd, f"NICMEM_IOC_ARENA_CREATE: {os.strerror(-fd)}")
        self.fd, self.size = fd, size
        self.map = mmap.mmap(fd, size, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ | mmap.PROT_WRITE)
        self.view = memoryview(self.map)

    def addr(self):
        c = ctypes.c_char.from_buffer(self.map)
        a = ctypes.addressof(c)
        del c
        return a

    def close(self):
        self.view.release()
        self.map.close()
        os.close(self.fd)


def ifindex_of(addr):
    """The interface the route to addr leaves by."""
    out = os.popen(f"ip -o route get {addr}").read().split()
    return socket.if_nametoindex(out[out.index("dev") + 1])


def pattern(seed, n):
    return hashlib.shake_256(str(seed).encode()).digest(n)


def info(s):
    v = struct.unpack("11Q", s.getsockopt(socket.IPPROTO_TCP, TCP_NICMEM_INFO, 88).ljust(88, b"\0"))
    return {"bytes": v[0], "fallback": v[1], "resident": v[10],
            **{n: b for n, b in zip(REASONS, v[2:10]) if b}}


def print_info(s):
    i = info(s)
    extra = " ".join(f"{k}={v}" for k, v in i.items() if k not in ("bytes", "fallback", "resident"))
    print(f"nicmem bytes={i['bytes']} fallback={i['fallback']} resident={i['resident']} {extra}".rstrip(), flush=True)
    return i


def connect(addr, port, sndbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if sndbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
    s.connect((addr, port))
    return s


def sendall(s, parts, flags):
    """sendmsg() of the buffers until all went, as send() loops do."""
    parts = [memoryview(p) for p in parts]
    while parts:
        n = s.sendmsg(parts, [], flags)
        while n:
            if n >= len(parts[0]):
                n -= len(parts[0])
                parts.pop(0)
            else:
                parts[0] = parts[0][n:]
                n = 0
        while parts and not len(parts[0]):
            parts.pop(0)


def unacked(s):
    """SIOCOUTQ: bytes not yet acknowledged by the peer."""
    return struct.unpack("i", fcntl.ioctl(s.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0]


def finish(s):
    """Half-close and wait for the peer's close: every byte was acknowledged."""
    s.shutdown(socket.SHUT_WR)
    while s.recv(4096):
        pass


def cmd_send(a):
    ports = [int(p) for p in a.ports]
    arena = Arena(ifindex_of(a.addr), a.arena)
    obj = pattern(a.seed, a.object)
    arena.view[:a.object] = obj
    resident = arena.view[:a.object]
    head, tail = b"VALUE object 0 %d\r\n" % a.object, b"\r\nEND\r\n"
    socks = [connect(a.addr, p) for p in ports]
    hashes = [hashlib.sha256() for _ in ports]
    expect = {"resident": 0, "bytes": 0}
    for _ in range(a.repeat):
        for s, h in zip(socks, hashes):
            if a.mode == "resident":
                sendall(s, [resident], MSG_NICMEM)
                h.update(obj)
                expect["resident"] += a.object
            else:
                sendall(s, [head, resident, tail], MSG_NICMEM)
                sendall(s, [head], 0)
                sendall(s, [head], MSG_NICMEM)
                h.update(head + obj + tail + head + head)
                expect["resident"] += a.object
                expect["bytes"] += 2 * len(head) + len(tail)
    total = {"resident": 0, "bytes": 0, "fallback": 0}
    for s, p, h in zip(socks, ports, hashes):
        finish(s)
        print(f"port {p} send bytes={a.repeat * (a.object if a.mode == 'resident' else a.object + 3 * len(head) + len(tail))} "
              f"sha256={h.hexdigest()}", flush=True)
        i = print_info(s)
        for k in total:
            total[k] += i[k]
        s.close()
    check("resident-bytes", total["resident"] == expect["resident"], f"{total['resident']} of {expect['resident']}")
    check("copied-bytes", total["bytes"] == expect["bytes"], f"{total['bytes']} of {expect['bytes']}")
    check("no-fallback", total["fallback"] == 0, f"{total['fallback']}")
    resident.release()
    arena.close()


def cmd_twice(a):
    arena = Arena(ifindex_of(a.addr), a.arena)
    obj = pattern(a.seed, a.object)
    arena.view[:a.object] = obj
    s = connect(a.addr, int(a.ports[0]))
    sendall(s, [arena.view[:a.object]], MSG_NICMEM)
    # Until it is acknowledged, so that the change cannot reach this copy.
    while unacked(s):
        time.sleep(0.01)
    print("sent once", flush=True)
    while not os.path.exists(a.go):
        time.sleep(0.05)
    sendall(s, [arena.view[:a.object]], MSG_NICMEM)
    finish(s)
    print_info(s)
    s.close()
    arena.close()


def cmd_free(a):
    ifindex = ifindex_of(a.addr)
    arena = Arena(ifindex, a.bytes)
    data = pattern(a.seed, a.bytes)
    arena.view[:] = data
    s = connect(a.addr, int(a.ports[0]), sndbuf=8 << 20)
    sendall(s, [arena.view], MSG_NICMEM)
    # The receiver reads nothing yet: most of it is in flight. Free it.
    arena.close()
    print("arena closed with its data in flight", flush=True)
    held = int(os.popen(f"{a.state} {a.ifname} in-use").read())
    # Take all the memory arenas may have and overwrite it: had a chunk
    # still held by the skbs gone back to the device, the receiver would
    # get these bytes.
    _, chunk = arena_ioctl(ifindex, 0)
    total = int(os.popen(f"{a.state} {a.ifname} chunks").read())
    cap = total // 2
    big = Arena(ifindex, cap * chunk)
    big.view[:] = b"\xaa" * (cap * chunk)
    in_use = int(os.popen(f"{a.state} {a.ifname} in-use").read())
    check("held-chunks-kept", held > 0 and in_use >= cap + held, f"{held} chunks in flight, then {in_use} in use with an arena of {cap}")
    fd, _ = arena_ioctl(ifindex, chunk)
    check("arena-share-cap", fd == -errno.ENOSPC,
          f"an arena past half the device: {'fd' if fd >= 0 else errno.errorcode[-fd]}")
    if fd >= 0:
        os.close(fd)
    big.close()
    finish(s)
    print(f"send bytes={a.bytes} sha256={hashlib.sha256(data).hexdigest()}", flush=True)
    i = print_info(s)
    check("resident-bytes", i["resident"] == a.bytes and i["bytes"] == 0, f"resident={i['resident']} copied={i['bytes']}")
    s.close()


def cmd_quota(a):
    """The provider's per-user quota covers arenas: with half the device in
    an arena, a second arena and this user's copy-path sends get none."""
    ifindex = ifindex_of(a.addr)
    _, chunk = arena_ioctl(ifindex, 0)
    total = int(os.popen(f"{a.state} {a.ifname} chunks").read())
    arena = Arena(ifindex, total * a.pct // 100 * chunk)
    fd, _ = arena_ioctl(ifindex, chunk)
    check("second-arena-over-quota", fd == -errno.EDQUOT, f"{'fd' if fd >= 0 else errno.errorcode[-fd]}")
    if fd >= 0:
        os.close(fd)
    data = pattern(a.seed, a.bytes)
    s = connect(a.addr, int(a.ports[0]))
    sendall(s, [data], MSG_NICMEM)
    finish(s)
    print(f"send bytes={a.bytes} sha256={hashlib.sha256(data).hexdigest()}", flush=True)
    i = print_info(s)
    check("copy-path-over-quota", i.get("quota", 0) == a.bytes and i["bytes"] == 0, str(i))
    s.close()
    arena.close()


def cmd_revoke(a):
    arena = Arena(ifindex_of(a.addr), a.bytes)
    arena.view[:] = pattern(a.seed, a.bytes)
    addr = arena.addr()
    s = connect(a.addr, int(a.ports[0]), sndbuf=8 << 20)
    sendall(s, [arena.view], MSG_NICMEM)
    print("queued", flush=True)
    while not os.path.exists(a.go):
        time.sleep(0.05)
    # The next send from the arena: ENXIO (on a new connection, as the
    # old one may be aborted already).
    s2 = connect(a.addr, int(a.ports[1]))
    r = libc.send(s2.fileno(), addr, 4096, MSG_NICMEM)
    e = ctypes.get_errno()
    check("send-after-revoke", r < 0 and e == errno.ENXIO, f"returned {r} errno {errno.errorcode.get(e, e)}")
    s2.close()
    # The connection whose data was in NIC memory: aborted.
    try:
        s.settimeout(60)
        while s.recv(4096):
            pass
        check("in-flight-aborted", False, "the connection ended normally")
    except OSError as ex:
        check("in-flight-aborted", ex.errno in (errno.ECONNABORTED, errno.ECONNRESET, errno.ENXIO),
              f"errno {errno.errorcode.get(ex.errno, ex.errno)}")
    print_info(s)
    s.close()
    # Last, a write to the mapping: SIGBUS kills this process (the shell
    # checks how it ended), since the device has the memory back.
    print("writing to the revoked mapping", flush=True)
    ctypes.memmove(addr, b"x", 1)
    check("write-after-revoke", False, "the write went through")


def cmd_owner(a):
    ifindex = socket.if_nametoindex(a.ifname)
    arena = Arena(ifindex, a.arena)
    arena.view[:4096] = pattern(a.seed, 4096)
    addr = arena.addr()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        res = []
        # The child has the arena's fd but not its mapping, and may not map it.
        try:
            mmap.mmap(arena.fd, a.arena, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ | mmap.PROT_WRITE)
            res.append("mmap=ok")
        except OSError as e:
            res.append(f"mmap={errno.errorcode.get(e.errno)}")
        # Nor send from the parent's address: nothing is mapped there.
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.connect((a.addr, int(a.ports[0])))
        n = libc.send(s.fileno(), addr, 4096, MSG_NICMEM)
        res.append(f"send={'ok' if n >= 0 else errno.errorcode.get(ctypes.get_errno())}")
        s.close()
        os.write(w, " ".join(res).encode())
        os._exit(0)
    os.close(w)
    out = os.read(r, 256).decode()
    os.waitpid(pid, 0)
    check("child-mmap", "mmap=EPERM" in out, out)
    check("child-send", "send=EFAULT" in out, out)
    # The kernel's remote access to another process's memory refuses it.
    try:
        with open(f"/proc/{os.getpid()}/mem", "rb", buffering=0) as m:
            m.seek(addr)
            m.read(16)
        check("proc-mem", False, "read through /proc/pid/mem succeeded")
    except OSError as e:
        check("proc-mem", e.errno in (errno.EIO, errno.EFAULT), f"errno {errno.errorcode.get(e.errno)}")
    # A private mapping is refused: the arena is shared with the NIC.
    try:
        mmap.mmap(arena.fd, a.arena, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ)
        check("private-map", False, "MAP_PRIVATE accepted")
    except OSError as e:
        check("private-map", e.errno == errno.EINVAL, f"errno {errno.errorcode.get(e.errno)}")
    arena.close()


def cmd_remap(a):
    ifindex = ifindex_of(a.addr)
    n, size = 4096, a.arena
    s = connect(a.addr, int(a.ports[0]))
    h = hashlib.sha256()
    sent = {"resident": 0, "bytes": 0}

    def send_at(addr, what, kind, seed):
        if seed is not None:
            ctypes.memmove(addr, pattern(seed, n), n)
        r = libc.send(s.fileno(), addr, n, MSG_NICMEM)
        e = ctypes.get_errno()
        if kind == "efault":
            check(f"send-{what}", r < 0 and e == errno.EFAULT, f"returned {r} errno {errno.errorcode.get(e, e)}")
            return
        check(f"send-{what}", r == n, f"returned {r}" + (f" errno {errno.errorcode.get(e, e)}" if r < 0 else ""))
        if r == n:
            h.update(pattern(seed, n))
            sent[kind] += n

    def map_at(addr, prot, flags, fd):
        m = libc.mmap(addr, size, prot, flags | MAP_FIXED_NOREPLACE, fd, 0)
        if m != addr:
            raise OSError(ctypes.get_errno(), f"mmap at {addr:#x} gave {m}")

    first = Arena(ifindex, size)
    addr = first.addr()
    send_at(addr, "arena", "resident", "remap-1")
    while unacked(s):
        time.sleep(0.01)
    first.close()
    # Anonymous memory where the arena was: copied.
    map_at(addr, mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1)
    send_at(addr, "anonymous", "bytes", "remap-2")
    libc.munmap(addr, size)
    # Another arena at the same address: by reference again.
    fd, _ = arena_ioctl(ifindex, size)
    if fd < 0:
        raise OSError(-fd, "NICMEM_IOC_ARENA_CREATE")
    map_at(addr, mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_SHARED, fd)
    send_at(addr, "second-arena", "resident", "remap-3")
    # Not readable: the send fails as a copy from it would.
    libc.mprotect(addr, size, 0)  # PROT_NONE
    send_at(addr, "unreadable", "efault", None)
    libc.mprotect(addr, size, mmap.PROT_READ | mmap.PROT_WRITE)
    send_at(addr, "readable-again", "resident", "remap-4")
    # A child on the same socket: the arena is not mapped in its process.
    pid = os.fork()
    if pid == 0:
        r = libc.send(s.fileno(), addr, n, MSG_NICMEM)
        os._exit(0 if r < 0 and ctypes.get_errno() == errno.EFAULT else 1)
    child_ok = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    check("send-child", child_ok,
          "EFAULT" if child_ok else "the child's send from the parent's arena address did not fail with EFAULT")
    send_at(addr, "after-child", "resident", "remap-5")
    finish(s)
    print(f"send bytes={sent['resident'] + sent['bytes']} sha256={h.hexdigest()}", flush=True)
    i = print_info(s)
    check("resident-bytes", i["resident"] == sent["resident"] and i["bytes"] == sent["bytes"],
          f"resident={i['resident']} copied={i['bytes']}, expected {sent['resident']} and {sent['bytes']}")
    s.close()
    libc.munmap(addr, size)
    os.close(fd)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("cmd", choices=["send", "twice", "free", "revoke", "owner", "quota", "remap"])
    p.add_argument("addr", nargs="?")
    p.add_argument("ports", nargs="*")
    p.add_argument("--object", type=int, default=4096)
    p.add_argument("--repeat", type=int, default=1000)
    p.add_argument("--mode", default="resident", choices=["resident", "mixed"])
    p.add_argument("--arena", type=int, default=64 << 10)
    p.add_argument("--bytes", type=int, default=1 << 20)
    p.add_argument("--seed", type=int, default=41)
    p.add_argument("--go")
    p.add_argument("--ifname")
    p.add_argument("--state", default="nicmem-state")
    p.add_argument("--pct", type=int, default=50)
    a = p.parse_args()
    {"send": cmd_send, "twice": cmd_twice, "free": cmd_free, "revoke": cmd_revoke, "owner": cmd_owner,
     "quota": cmd_quota, "remap": cmd_remap}[a.cmd](a)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
