#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Devmem TX, upstream's own uAPI, through the series' virtio_net change:
# the series lets virtio_net transmit net_iov frags (netmem_tx), which
# makes it a device that `netdev bind-tx` accepts, so devmem's net_iovs
# (a dma-buf's pages) take the same path as NIC memory. The upstream
# ncdevmem client binds a udmabuf for TX on TX_IF and sends lines from it
# with MSG_ZEROCOPY + SCM_DEVMEM_DMABUF; the receiver must get exactly
# those bytes (hash), with no kernel warning, and the binding must go away
# with the socket.
#
# The upstream wrapper (drivers/net/hw/devmem.py) cannot run here: its
# require_devmem() probes RX devmem (header split, flow steering, queue
# restart) before every case, TX included, and virtio_net has none of
# those, so all its cases skip.
source "$(dirname "$0")/../lib/env.sh"
source "$(dirname "$0")/../lib/xstream.sh"
NCDEVMEM=/nicmem/work/guest/selftests/ncdevmem
[[ -x $NCDEVMEM ]] || fail "ncdevmem not built (scripts/nicmem guest)"
[[ -c /dev/udmabuf ]] || fail "no /dev/udmabuf (CONFIG_UDMABUF)"
dmesg -C

# 256 lines of 4000 bytes (+ newline): each line is copied into the
# udmabuf and sent from it, and ncdevmem waits for its completion.
python3 -c '
import random, string
r = random.Random(38)
for _ in range(256):
    print("".join(r.choice(string.ascii_letters) for _ in range(4000)))
' >/tmp/devmem.in
want=$(sha256sum </tmp/devmem.in | cut -d' ' -f1)
bytes=$(stat -c %s /tmp/devmem.in)

for chunk in 0 3000; do
	port=$((7380 + chunk / 1000))
	rx python3 "$NICMEM_REPO/tests/vm/lib/tcpx.py" recv "$port" >"/tmp/recv.$port" 2>&1 &
	rpid=$!
	wait_listen "$port"
	args=(-f "$TX_IF" -s "$RX_ADDR" -p "$port" -t 0 -q 1)
	((chunk)) && args+=(-z "$chunk")
	timeout 120 "$NCDEVMEM" "${args[@]}" </tmp/devmem.in >"/tmp/ncdevmem.$port" 2>&1
	rc=$?
	wait_pid_for "$rpid" 30 || fail "chunk $chunk: receiver still running: $(tail -n 3 "/tmp/ncdevmem.$port")"
	wait "$rpid"
	((rc == 0)) || fail "chunk $chunk: ncdevmem exit $rc: $(grep -v sendmsg_ret "/tmp/ncdevmem.$port" | tail -n 5)"
	grep -q 'tx ok' "/tmp/ncdevmem.$port" || fail "chunk $chunk: ncdevmem did not report tx ok"
	got=$(tail -n 1 "/tmp/recv.$port")
	[[ $got == "recv bytes=$bytes sha256=$want" ]] ||
		fail "chunk $chunk: receiver got '$got', sent $bytes bytes sha256 $want"
	log "devmem TX (chunk ${chunk:-none}): $bytes bytes from a udmabuf, sha256 equal; $(grep -c sendmsg_ret "/tmp/ncdevmem.$port") sendmsg"
done
no_kernel_problem
