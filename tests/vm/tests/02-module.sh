#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The provider module loads, binds the ivshmem device, registers the NIC
# memory of TX_IF, passes its KUnit tests, and unloads cleanly; without
# emu_ifindex it refuses the device with a clear message.
source "$(dirname "$0")/../lib/env.sh"

dmesg -C
load_module || fail "insmod failed"
module_loaded || fail "module not loaded"
ls /sys/bus/pci/drivers/nicmem_ivshmem/ | grep -q '^0000:' || fail "ivshmem device not bound to nicmem_ivshmem"
line=$("$BIN/nicmem-state" "$TX_IF") || fail "no NIC memory registered for $TX_IF: $(debug_providers)"
log "nicmem-get: $line"
[[ $(nicmem_field "$TX_IF" chunks) -eq 256 ]] || fail "expected 256 chunks of 64 KiB (16 MiB BAR)"
[[ $(nicmem_field "$TX_IF" in-use) -eq 0 ]] || fail "fresh provider has chunks in use"

# KUnit: the allocator suite ran at load and passed every case.
dmesg | grep -E 'nicmem_allocator|# [a-z_]+\.speed' | grep -v speed | sed 's/^/  /'
dmesg | grep -qE '^\[[ 0-9.]+\] ok [0-9]+ nicmem_allocator$' || fail "KUnit suite nicmem_allocator did not pass"
if dmesg | grep -q 'not ok'; then
	fail "a KUnit test failed: $(dmesg | grep 'not ok')"
fi
cases=$(dmesg | grep -cE '^\[[ 0-9.]+\]     ok [0-9]+ ')
((cases >= 6)) || fail "only $cases KUnit cases passed"

rmmod "$MODNAME" || fail "rmmod failed"
has_provider "$TX_IF" && fail "provider still registered after rmmod"
[[ -z $(debug_providers) ]] || fail "provider still listed in debugfs after rmmod: $(debug_providers)"
dmesg | grep -q 'NIC memory provider unregistered' || fail "no unregister message"

# Without the pairing parameter: a clear error, no provider, clean unload.
dmesg -C
insmod "$MODULE" || fail "insmod without parameters failed"
dmesg | grep -q 'emu_ifindex not set' || fail "no clear error without emu_ifindex: $(dmesg | tail -3)"
has_provider "$TX_IF" && fail "provider registered without emu_ifindex"
rmmod "$MODNAME" || fail "rmmod failed"

# A chunk size the core does not take: refused with a clear message.
dmesg -C
load_module chunk_size=1000 || fail "insmod failed"
dmesg | grep -q 'chunk_size=1000 must be a power of two' || fail "bad chunk_size accepted: $(dmesg | tail -3)"
has_provider "$TX_IF" && fail "provider registered with a bad chunk size"
rmmod "$MODNAME" || fail "rmmod failed"

# Small chunks (the MEMIC granularity) work too.
load_module chunk_size=4096 || fail "insmod chunk_size=4096 failed"
[[ $(nicmem_field "$TX_IF" chunks) -eq 4096 ]] || fail "expected 4096 chunks of 4 KiB"
rmmod "$MODNAME" || fail "rmmod failed"

# Pairing with a device that cannot transmit NIC memory (loopback): refused.
dmesg -C
insmod "$MODULE" emu_ifindex=1 || fail "insmod failed"
dmesg | grep -q 'does not transmit net_iov frags' || fail "loopback accepted as NIC memory device: $(dmesg | tail -3)"
rmmod "$MODNAME" || fail "rmmod failed"
log "module loads, registers, passes KUnit and unloads cleanly"
