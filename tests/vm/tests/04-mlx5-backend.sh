#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# timeout: 600
# The provider of NIC driver offers (the mlx5 MEMIC path): its KUnit suite
# (how much memory to take, page rounding, falling back to smaller sizes,
# the device's errors) passes at load; the emulated NIC offers its BAR as
# mlx5_nicmem.nicmem.<n>, the same kind of auxiliary device as mlx5e's
# mlx5_core.nicmem.<n>, and the provider binds to it (there is no mlx5
# here); no offer is left after rmmod; mlx5=0 leaves the emulated offer alone; a bad
# chunk size is refused with a clear message. The ConnectX hardware check
# refuses a non-mlx5 port with a clear message.
source "$(dirname "$0")/../lib/env.sh"

dmesg -C
load_module || fail "insmod failed"
suite=nicmem_plan
dmesg | grep -qE "^\[[ 0-9.]+\] ok [0-9]+ $suite\$" || fail "KUnit suite $suite did not pass: $(dmesg | grep -A3 "$suite" | head -20)"
n=$(dmesg | sed -n "/# Subtest: $suite\$/,/ok [0-9]* $suite\$/p" | grep -cE '^\[[ 0-9.]+\]     ok [0-9]+ ')
log "KUnit $suite: $n cases passed"
((n == 5)) || fail "KUnit suite $suite ran $n cases, expected 5"
if dmesg | grep -q 'not ok'; then
	fail "a KUnit test failed: $(dmesg | grep 'not ok')"
fi
[[ -d /sys/bus/auxiliary/drivers/mlx5_nicmem.mlx5_nicmem ]] || fail "auxiliary driver mlx5_nicmem.mlx5_nicmem not registered: $(ls /sys/bus/auxiliary/drivers/ 2>&1)"
# The emulated offer, bound to the provider; no mlx5 offer on this VM.
bound=$(find /sys/bus/auxiliary/drivers/mlx5_nicmem.mlx5_nicmem -maxdepth 1 -type l -name 'mlx5_nicmem.nicmem.*' -printf '%f\n')
[[ $(wc -w <<<"$bound") -eq 1 ]] || fail "expected the provider bound to one emulated offer, found: '$bound'"
log "provider bound to $bound"
ls /sys/bus/auxiliary/devices/ | grep -q 'mlx5_core\.nicmem' && fail "an mlx5 offer on a VM without mlx5"
dmesg | grep -q "ifindex $(cat "/sys/class/net/$TX_IF/ifindex"): 16384 KiB of device memory, 256 chunks of 65536 bytes" || fail "provider did not report its memory: $(dmesg | grep -i nicmem | tail -5)"
# Only the emulated provider exists.
rows=$(debug_providers | wc -l)
((rows == 1)) || fail "expected one provider, found $rows: $(debug_providers)"
has_provider "$TX_IF" || fail "emulated provider missing"
rmmod "$MODNAME" || fail "rmmod failed"
ls /sys/bus/auxiliary/devices/ | grep -q 'nicmem' && fail "offer left behind after rmmod: $(ls /sys/bus/auxiliary/devices/)"

dmesg -C
load_module mlx5=0 || fail "insmod mlx5=0 failed"
has_provider "$TX_IF" || fail "emulated provider missing with mlx5=0"
rmmod "$MODNAME" || fail "rmmod failed"

dmesg -C
load_module chunk_size=1000 || fail "insmod chunk_size=1000 failed"
dmesg | grep -q 'chunk_size=1000 must be a power of two from 256 to 65536' || fail "no clear error for a bad chunk size: $(dmesg | tail -3)"
rows=$(debug_providers | wc -l)
((rows == 0)) || fail "a provider registered with a bad chunk size: $(debug_providers)"
rmmod "$MODNAME" || fail "rmmod failed"

# scripts/nicmem-hwcheck on a host whose port to the peer is not mlx5.
wait_ping "$RX_ADDR" || true # without a route, the check below names it
out=$(cd /tmp && "$NICMEM_REPO/scripts/nicmem-hwcheck" --no-bench "$RX_ADDR" 2>&1) && fail "hwcheck passed on virtio-net: $out"
grep -q "$TX_IF is not a ConnectX (mlx5_core) port (driver: virtio_net)" <<<"$out" || fail "hwcheck gave no clear reason: $out"
log "hwcheck: $(tail -n1 <<<"$out")"
# Its self-test: its own copy of the stream pattern must equal
# nicmem-stream's (an owner compares a ConnectX's bytes on the wire with it),
# and its pcap parser must judge made-up and real captures right.
out=$(cd /tmp && "$NICMEM_REPO/scripts/nicmem-hwcheck" --self-test --stream "$BIN/nicmem-stream" 2>&1) || fail "hwcheck --self-test failed: $(grep -E 'FAIL|NOT RUN' <<<"$out" | head -n 5)"
grep -q "NOT RUN" <<<"$out" && fail "hwcheck --self-test skipped a part: $(grep 'NOT RUN' <<<"$out")"
grep -q "pattern seed 99 offset 1234560 = nicmem-stream's: ok" <<<"$out" || fail "hwcheck did not compare its pattern with nicmem-stream's: $out"
log "hwcheck self-test: $(tail -n1 <<<"$out")"
log "offer provider: KUnit green, bound to the emulated offer, gone after rmmod"
