#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# TCP MTU probing builds probe skbs out of the queued ones
# (tcp_clone_payload()): with NIC memory frags, the probe must stay
# unreadable and never merge frags of different chunks. A 48 MiB stream
# with probing forced arrives intact, probes were sent, and an AF_PACKET
# socket reading every packet on the device meanwhile does not make the
# kernel read NIC memory.
source "$(dirname "$0")/../lib/env.sh"
source "$(dirname "$0")/../lib/xstream.sh"
load_module || fail "insmod failed"
old=$(sysctl -n net.ipv4.tcp_mtu_probing net.ipv4.tcp_base_mss | tr '\n' ' ')
trap 'sysctl -qw net.ipv4.tcp_mtu_probing=${old%% *} net.ipv4.tcp_base_mss=${old#* }' EXIT
sysctl -qw net.ipv4.tcp_mtu_probing=2 net.ipv4.tcp_base_mss=536

probes0=$(($(tcpext TCPMTUPSuccess) + $(tcpext TCPMTUPFail)))
STREAM_TIMEOUT=240 stream 7210 $((48 << 20)) --flags nicmem --seed 21
probes=$(($(tcpext TCPMTUPSuccess) + $(tcpext TCPMTUPFail) - probes0))
log "MTU probes: $probes; NIC memory bytes: $(sent_nicmem 7210)"
((probes > 0)) || fail "no MTU probe was sent"
(($(sent_nicmem 7210) > 0)) || fail "nothing sent from NIC memory"

# The same with a packet socket reading everything the device sends.
python3 - "$TX_IF" >/tmp/tap.7211 2>&1 <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((sys.argv[1], 0))
s.settimeout(1)
n = b = 0
end = time.time() + 60
while time.time() < end:
    try:
        d = s.recv(65536)
    except socket.timeout:
        continue
    except OSError as e:  # an unreadable payload may be refused: fine
        print("recv error", e.errno, flush=True)
        continue
    n += 1
    b += len(d)
    if n % 1000 == 0:
        print("packets", n, "bytes", b, flush=True)
PY
tap=$!
sleep 1
probes0=$(($(tcpext TCPMTUPSuccess) + $(tcpext TCPMTUPFail)))
STREAM_TIMEOUT=240 stream 7211 $((48 << 20)) --flags nicmem --seed 22
probes=$(($(tcpext TCPMTUPSuccess) + $(tcpext TCPMTUPFail) - probes0))
kill "$tap"
wait "$tap" 2>/dev/null
log "with a packet socket: $probes MTU probes; tap: $(tail -1 /tmp/tap.7211)"
((probes > 0)) || fail "no MTU probe was sent"
no_kernel_problem
wait_in_use_zero "$TX_IF"
