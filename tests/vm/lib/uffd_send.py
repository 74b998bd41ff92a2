#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""uffd_send.py ADDR PORT RELEASE_FILE: send(MSG_NICMEM) from a buffer whose
pages are missing under a userfaultfd nobody serves, so the kernel's copy of
the payload blocks on the fault, until RELEASE_FILE appears; then the
userfaultfd is closed (the fault resolves to zero pages) and the send goes
on. Prints "stuck" once the send is blocked, then "sent N" or "error E"."""
import ctypes
import mmap
import os
import socket
import struct
import sys
import threading
import time

SYS_userfaultfd = 323
UFFDIO_API = 0xC018AA3F
UFFDIO_REGISTER = 0xC020AA00
UFFDIO_REGISTER_MODE_MISSING = 1
MSG_NICMEM = 0x8000000

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
libc.ioctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p]


def ioctl(fd, req, buf):
    if libc.ioctl(fd, req, buf) < 0:
        raise OSError(ctypes.get_errno(), "ioctl")


def main():
    addr, port, release = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    size = 16 * mmap.PAGESIZE
    s = socket.create_connection((addr, port))
    uffd = libc.syscall(SYS_userfaultfd, os.O_CLOEXEC)
    if uffd < 0:
        raise OSError(ctypes.get_errno(), "userfaultfd")
    api = ctypes.create_string_buffer(struct.pack("QQQ", 0xAA, 0, 0))
    ioctl(uffd, UFFDIO_API, api)
    m = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    base = ctypes.addressof(ctypes.c_char.from_buffer(m))
    reg = ctypes.create_string_buffer(struct.pack("QQQQ", base, size, UFFDIO_REGISTER_MODE_MISSING, 0))
    ioctl(uffd, UFFDIO_REGISTER, reg)

    def releaser():
        while not os.path.exists(release):
            time.sleep(0.1)
        os.close(uffd)

    threading.Thread(target=releaser, daemon=True).start()
    threading.Timer(1.0, lambda: print("stuck", flush=True)).start()
    try:
        n = s.send(memoryview(m), MSG_NICMEM)
        print(f"sent {n}", flush=True)
    except OSError as e:
        print(f"error {e.errno}", flush=True)


main()
