#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The guest runs our kernel, with both NICs and the emulated NIC memory device.
source "$(dirname "$0")/../lib/env.sh"

uname -r
[[ $(uname -r) == 7.3* ]] || fail "kernel $(uname -r) is not Linux 7.3"
grep -q 'nicmem.mode=test' /proc/cmdline || fail "not booted by scripts/nicmem"
[[ -n $TX_IF && -n $RX_IF ]] || fail "NICs not set up"
# The data path has to meet concurrency: both vCPUs must be online.
(($(nproc) >= 2)) || fail "only $(nproc) CPU online (QEMU runs -smp 2)"
log "$(nproc) CPUs online"
log "TX_IF=$TX_IF RX_IF=$RX_IF"
# Checksum offload is what lets the NIC send bytes the CPU never reads.
ethtool -k "$TX_IF" | grep -q '^tx-checksumming: on' || fail "$TX_IF has no TX checksum offload (tap without vnet_hdr?)"
dev=$(grep -l '^0x1af4$' /sys/bus/pci/devices/*/vendor | while read -r v; do
	d=$(dirname "$v")
	[[ $(cat "$d/device") == 0x1110 ]] && echo "$d"
done)
[[ -n $dev ]] || fail "no ivshmem-plain device (1af4:1110)"
log "ivshmem at $dev"
