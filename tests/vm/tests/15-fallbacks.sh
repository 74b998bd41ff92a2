#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Documented behaviour where NIC memory cannot be used: the send succeeds
# from host memory and the reason is counted (TCP), or the flag is ignored
# (UDP, AF_UNIX).
source "$(dirname "$0")/../lib/env.sh"

# A device with no provider (module not loaded): falls back, reason no_provider.
stream 7151 $((1 << 20)) --flags nicmem
[[ $(sent_nicmem 7151) -eq 0 && $(sent_reason 7151 no_provider) -eq $((1 << 20)) ]] ||
	fail "no provider: $(grep nicmem /tmp/send.7151)"

load_module || fail "insmod failed"
# Loopback: falls back, reason loopback.
"$BIN/nicmem-stream" recv 127.0.0.1:7152 >/tmp/recv.7152 &
sleep 0.5
"$BIN/nicmem-stream" send 127.0.0.1:7152 --bytes 1M --flags nicmem >/tmp/send.7152 || fail "loopback send failed"
wait
check_stream 7152 $((1 << 20))
[[ $(sent_reason 7152 loopback) -eq $((1 << 20)) ]] || fail "loopback: $(grep nicmem /tmp/send.7152)"

# MSG_NICMEM | MSG_ZEROCOPY: zerocopy wins, reason zerocopy, data intact.
python3 - "$RX_ADDR" <<'PY' || fail "MSG_ZEROCOPY|MSG_NICMEM"
import hashlib, socket, struct, subprocess, sys, time
MSG_NICMEM, MSG_ZEROCOPY = 0x8000000, 0x4000000
srv = subprocess.Popen(["ip", "netns", "exec", "rx", "/nicmem/work/guest/target/release/nicmem-stream", "recv", "0.0.0.0:7153"], stdout=subprocess.PIPE, text=True)
srv.stdout.readline()
data = bytes(range(256)) * 4096
s = socket.create_connection((sys.argv[1], 7153))
s.setsockopt(socket.SOL_SOCKET, 60, 1)  # SO_ZEROCOPY
s.sendall(data, MSG_NICMEM | MSG_ZEROCOPY)
info = struct.unpack("10Q", s.getsockopt(socket.IPPROTO_TCP, 47, 80))
s.close()
out = srv.stdout.read()
print(out.strip(), "counters", info)
assert f"sha256={hashlib.sha256(data).hexdigest()}" in out, "data corrupted"
assert info[0] == 0 and info[2 + 3] == len(data), "not counted as zerocopy fallback"
PY

# UDP and AF_UNIX ignore the flag: the datagram / bytes arrive intact.
python3 - "$RX_ADDR" <<'PY' || fail "UDP/AF_UNIX with MSG_NICMEM"
import socket, subprocess, sys
MSG_NICMEM = 0x8000000
rx = subprocess.Popen(["ip", "netns", "exec", "rx", "python3", "-c",
    "import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(('0.0.0.0',7154));print('ready',flush=True);print(s.recv(2000).hex(),flush=True)"],
    stdout=subprocess.PIPE, text=True)
assert rx.stdout.readline().strip() == "ready"
payload = b"udp with MSG_NICMEM " * 50
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
assert u.sendto(payload, MSG_NICMEM, (sys.argv[1], 7154)) == len(payload)
got = bytes.fromhex(rx.stdout.readline().strip())
assert got == payload, "UDP datagram differs"
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
data = b"unix stream with MSG_NICMEM" * 1000
a.sendall(data, MSG_NICMEM)
a.close()
got = b""
while chunk := b.recv(65536):
    got += chunk
assert got == data, "AF_UNIX data differs"
print("UDP and AF_UNIX: flag ignored, data intact")
PY
wait_in_use_zero "$TX_IF"
