#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The mlx5 MEMIC backend: its KUnit suites (firmware command encoding,
# capability parsing, MEMIC placement and address arithmetic) pass at load;
# it starts, attaches to no non-mlx5 device (the guest has virtio-net only)
# and leaves the emulated provider alone; mlx5=0 turns it off; a bad chunk
# size keeps it off with a clear message. The ConnectX hardware check
# refuses a non-mlx5 port with a clear message.
source "$(dirname "$0")/../lib/env.sh"

dmesg -C
load_module || fail "insmod failed"
for suite in nicmem_mlx5_ifc nicmem_mlx5_memic; do
	dmesg | grep -qE "^\[[ 0-9.]+\] ok [0-9]+ $suite\$" || fail "KUnit suite $suite did not pass: $(dmesg | grep -A3 "$suite" | head -20)"
	n=$(dmesg | sed -n "/# Subtest: $suite\$/,/ok [0-9]* $suite\$/p" | grep -cE '^\[[ 0-9.]+\]     ok [0-9]+ ')
	log "KUnit $suite: $n cases passed"
	((n >= 2)) || fail "KUnit suite $suite ran only $n cases"
done
if dmesg | grep -q 'not ok'; then
	fail "a KUnit test failed: $(dmesg | grep 'not ok')"
fi
dmesg | grep -q 'mlx5: following mlx5 network devices' || fail "mlx5 backend did not start: $(dmesg | tail -3)"
# Only the emulated provider exists: the virtio-net devices are not mlx5.
rows=$(($(wc -l </proc/net/nicmem) - 1))
((rows == 1)) || fail "expected one provider, found $rows: $(cat /proc/net/nicmem)"
grep -q "^$TX_IF " /proc/net/nicmem || fail "emulated provider missing"
# Link events on a non-mlx5 device do not disturb anything.
ip link set "$TX_IF" down
ip link set "$TX_IF" up
ip addr replace "$TX_ADDR6/64" dev "$TX_IF" nodad # dropped by the link going down
sleep 1
rows=$(($(wc -l </proc/net/nicmem) - 1))
((rows == 1)) || fail "link down/up changed the providers: $(cat /proc/net/nicmem)"
rmmod "$MODNAME" || fail "rmmod failed"

dmesg -C
load_module mlx5=0 || fail "insmod mlx5=0 failed"
dmesg | grep -q 'mlx5: following' && fail "mlx5 backend started with mlx5=0"
grep -q "^$TX_IF " /proc/net/nicmem || fail "emulated provider missing with mlx5=0"
rmmod "$MODNAME" || fail "rmmod failed"

dmesg -C
load_module chunk_size=1000 || fail "insmod chunk_size=1000 failed"
dmesg | grep -q 'mlx5: chunk_size=1000 is not a power of two' || fail "no clear error for a bad chunk size: $(dmesg | tail -3)"
dmesg | grep -q 'mlx5: following' && fail "mlx5 backend started with a bad chunk size"
rmmod "$MODNAME" || fail "rmmod failed"

# scripts/nicmem-hwcheck on a host whose port to the peer is not mlx5.
wait_ping "$RX_ADDR" || true # without a route, the check below names it
out=$(cd /tmp && "$NICMEM_REPO/scripts/nicmem-hwcheck" --no-bench "$RX_ADDR" 2>&1) && fail "hwcheck passed on virtio-net: $out"
grep -q "$TX_IF is not a ConnectX (mlx5_core) port (driver: virtio_net)" <<<"$out" || fail "hwcheck gave no clear reason: $out"
log "hwcheck: $(tail -n1 <<<"$out")"
log "mlx5 backend: KUnit green, starts and stops cleanly, attaches to no virtio-net device"
