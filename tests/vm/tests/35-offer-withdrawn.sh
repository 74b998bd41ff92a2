#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The NIC driver withdraws its offer of NIC memory with data in flight and
# makes it again, as mlx5e does around a reset (devlink reload, health
# recovery): unbinding the emulated NIC's PCI driver destroys its offer,
# which revokes the memory (the connection whose data sat in it aborts with
# ECONNABORTED), unbinds the provider
# and takes the memory back, in that order, within a bound, and the
# network device stays. Binding again makes a new offer, the provider
# binds to it, and a new stream is intact and sent from NIC memory.
source "$(dirname "$0")/../lib/env.sh"
source "$(dirname "$0")/../lib/xstream.sh"

ivshmem=$(ivshmem_device) || fail "no ivshmem-plain device"
drv=/sys/bus/pci/drivers/nicmem_ivshmem

dmesg -C
load_module || fail "insmod failed"
[[ -e $drv/$ivshmem ]] || fail "ivshmem $ivshmem not bound to nicmem_ivshmem"
lost0=$(tcpext TCPNicmemLost)
held_stream 7350 $((8 << 20)) 60000
rpid=$HRPID spid=$HSPID
in_use=$(wait_in_use "$TX_IF" 8)
((in_use > 0)) || fail "nothing in flight"

log "withdrawing the offer (unbind $ivshmem) with $in_use chunks in flight"
t0=$(date +%s)
timeout 30 sh -c "echo $ivshmem >$drv/unbind" || fail "unbind of the NIC driver did not return within 30 s"
log "offer withdrawn in $(($(date +%s) - t0))s"
dmesg | grep -q 'NIC memory offer withdrawn, revoking its NIC memory' || fail "no revocation when the offer was withdrawn: $(dmesg | grep -i nicmem | tail -5)"
held=$(dmesg | sed -n 's/.*NIC memory revoked; \([0-9]*\) chunks held.*/\1/p' | tail -1)
((${held:-0} > 0)) || fail "no chunk held at revocation: $(dmesg | grep revoked)"
ls /sys/bus/auxiliary/devices/ | grep -q '^mlx5_nicmem\.nicmem\.' && fail "offer still there after unbind"
has_provider "$TX_IF" && fail "provider still registered after the offer was withdrawn: $(debug_providers)"
ip link show "$TX_IF" >/dev/null || fail "$TX_IF went away with the offer"

# The connection whose data was in NIC memory is aborted, not stalled.
wait_pid_for "$spid" 60 || fail "sender still blocked 60 s after the offer was withdrawn"
wait "$spid" && fail "sender succeeded although its data was revoked"
grep -q 'Software caused connection abort' /tmp/send.7350 || fail "sender did not fail with ECONNABORTED: $(cat /tmp/send.7350)"
peer_reset 7350
lost=$(($(tcpext TCPNicmemLost) - lost0))
((lost > 0)) || fail "TcpExt TCPNicmemLost did not count the lost connection"
kill "$rpid" 2>/dev/null
wait "$rpid" 2>/dev/null
no_kernel_problem

# The NIC driver offers again; the provider binds; a stream is intact.
dmesg -C
echo "$ivshmem" >"$drv/bind" || fail "bind failed"
has_provider "$TX_IF" || fail "no provider after the offer was made again: $(dmesg | grep -i nicmem | tail -5)"
dmesg | grep -q 'KiB of device memory, 256 chunks of 65536 bytes' || fail "provider did not bind to the new offer: $(dmesg | tail -5)"
sent0=$(nicmem_field "$TX_IF" tx-bytes)
xstream 7351 $((4 << 20)) "" -- --flags nicmem --seed 351
sent=$(($(nicmem_field "$TX_IF" tx-bytes) - sent0))
((sent >= 4 << 20)) || fail "the new stream sent only $sent bytes from NIC memory"
wait_in_use_zero "$TX_IF"
no_kernel_problem
log "offer withdrawn with $held chunks held (connection aborted, $lost lost), made again, $sent bytes from NIC memory after"
