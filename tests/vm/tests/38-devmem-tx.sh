#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Devmem TX (upstream's uAPI) next to the series' virtio_net change. The
# series lets virtio_net transmit net_iov frags (netmem_tx), so `netdev
# bind-tx` now gets past its "no netmem TX" check on virtio_net; it must
# still refuse cleanly, because a dma-buf needs a DMA device to be mapped
# for and virtio_net without VIRTIO_F_ACCESS_PLATFORM has none: the
# upstream ncdevmem client, binding a udmabuf on TX_IF, gets EOPNOTSUPP
# with the extack "Device doesn't support DMA", no warning, and the NIC
# still sends from NIC memory afterwards.
#
# So devmem TX cannot run on this emulated NIC, and upstream's
# drivers/net/hw/devmem.py skips here anyway: its require_devmem() probes
# RX devmem (header split, flow steering, queue restart), which
# virtio_net lacks, before every case, TX included.
source "$(dirname "$0")/../lib/env.sh"
source "$(dirname "$0")/../lib/xstream.sh"
NCDEVMEM=/nicmem/work/guest/selftests/ncdevmem
[[ -x $NCDEVMEM ]] || fail "ncdevmem not built (scripts/nicmem guest)"
[[ -c /dev/udmabuf ]] || fail "no /dev/udmabuf (CONFIG_UDMABUF)"
dmesg -C
load_module || fail "insmod failed"

echo hello | timeout 60 "$NCDEVMEM" -f "$TX_IF" -s "$RX_ADDR" -p 7380 -t 0 -q 1 >/tmp/ncdevmem.out 2>&1
rc=$?
log "ncdevmem bind-tx on $TX_IF: exit $rc: $(grep -E 'YNL failed|Failed to bind' /tmp/ncdevmem.out | tr '\n' ' ')"
((rc != 0 && rc != 124)) || fail "ncdevmem: exit $rc (expected a refused binding): $(tail -n 5 /tmp/ncdevmem.out)"
grep -q "Device doesn't support DMA" /tmp/ncdevmem.out ||
	fail "bind-tx not refused for want of a DMA device: $(tail -n 5 /tmp/ncdevmem.out)"
grep -q 'netdev_bind_tx: Operation not supported' /tmp/ncdevmem.out ||
	fail "bind-tx did not fail with EOPNOTSUPP: $(tail -n 5 /tmp/ncdevmem.out)"
no_kernel_problem

# The NIC memory path is untouched by the refused binding.
stream 7381 $((1 << 20)) --flags nicmem --seed 38
(($(sent_nicmem 7381) > 0)) || fail "after the refused binding: nothing sent from NIC memory"
no_kernel_problem
