#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# libnicmem_preload.so makes unmodified netperf send from NIC memory:
# TCP_STREAM with NICMEM=on moves TcpExt TCPNicmemTxBytes by (nearly) all
# the bytes sent; NICMEM=off and NICMEM_MIN_SIZE above the send size move it
# not at all. write() on a TCP socket (bash's /dev/tcp, cat) goes through
# send(MSG_NICMEM); write() on a file passes through untouched.
source "$(dirname "$0")/../lib/env.sh"
PRELOAD=$BIN/libnicmem_preload.so
[[ -f $PRELOAD ]] || fail "no $PRELOAD"
load_module || fail "insmod failed"
rx netserver -p 12866 >/dev/null 2>&1
wait_listen 12866

# A test of a fixed size (netperf -l -<bytes>), not of a fixed time: what it
# asserts must not depend on how fast the machine runs (a loaded TCG host
# moved 4 Mbit/s in the 1 s test this once was).
NP_BYTES=$((8 << 20))
np() { # np <env...>: TCP_STREAM of NP_BYTES in 16 KiB sends; prints "bytes sent,throughput"
	env "$@" netperf -P 0 -H "$RX_ADDR" -p 12866 -t TCP_STREAM -l -$NP_BYTES -- -m 16384 -o LOCAL_BYTES_SENT,THROUGHPUT
}

m0=$(tcpext TCPNicmemTxBytes)
out=$(np LD_PRELOAD="$PRELOAD" NICMEM=on) || fail "netperf with the preload failed"
m1=$(tcpext TCPNicmemTxBytes)
log "NICMEM=on: bytes sent,Mbit/s: $out; TCPNicmemTxBytes +$((m1 - m0))"
sent=${out%%,*}
((sent >= NP_BYTES)) || fail "netperf sent $sent bytes, asked for $NP_BYTES"
((m1 - m0 >= sent * 9 / 10)) || fail "netperf did not send from NIC memory: +$((m1 - m0)) of $sent bytes"

np LD_PRELOAD="$PRELOAD" NICMEM=off >/dev/null || fail "netperf NICMEM=off failed"
np LD_PRELOAD="$PRELOAD" NICMEM_MIN_SIZE=65536 >/dev/null || fail "netperf NICMEM_MIN_SIZE failed"
m2=$(tcpext TCPNicmemTxBytes)
((m2 - m1 < 100000)) || fail "NICMEM=off / NICMEM_MIN_SIZE still sent $((m2 - m1)) bytes from NIC memory"

# write() on a TCP socket (bash's /dev/tcp) goes through send(MSG_NICMEM);
# write() on a file is passed through untouched.
rx "$BIN/nicmem-stream" recv 0.0.0.0:7190 >/tmp/recv.7190 &
wait_listen 7190
head -c 4194304 /dev/zero | tr '\0' 'n' >/tmp/payload
m3=$(tcpext TCPNicmemTxBytes)
LD_PRELOAD="$PRELOAD" bash -c "exec 3<>/dev/tcp/$RX_ADDR/7190; cat /tmp/payload >&3; exec 3>&-" || fail "write() through the preload failed"
wait
m4=$(tcpext TCPNicmemTxBytes)
grep -q "recv bytes=4194304 sha256=$(sha256sum </tmp/payload | cut -d' ' -f1)" /tmp/recv.7190 || fail "write() stream corrupted: $(cat /tmp/recv.7190)"
((m4 - m3 >= 4194304 * 9 / 10)) || fail "write() did not go through NIC memory (+$((m4 - m3)))"
LD_PRELOAD="$PRELOAD" cp /tmp/payload /tmp/payload2 && cmp -s /tmp/payload /tmp/payload2 || fail "file write corrupted by the preload"
pkill netserver
exit 0
