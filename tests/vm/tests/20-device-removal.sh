#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The NIC goes away (PCI hot-unplug of the virtio-net device) while a
# MSG_NICMEM stream holds its NIC memory: the core revokes the memory (the
# skbs holding it are never transmitted again), TCP aborts the connection
# whose data is lost (ECONNABORTED, TcpExt TCPNicmemLost), the chunks come
# back, nothing oopses, and the module unloads at once. Then the device is
# brought back for whatever runs next.
source "$(dirname "$0")/../lib/env.sh"

dmesg -C
load_module || fail "insmod failed"
lost0=$(tcpext TCPNicmemLost)
held_stream 7200 $((8 << 20)) 60000
rpid=$HRPID spid=$HSPID
in_use=$(wait_in_use "$TX_IF" 8)
((in_use > 0)) || fail "nothing in flight"

pcidev=$(readlink -f "/sys/class/net/$TX_IF/device")
pcidev=${pcidev%/virtio*}
log "removing $TX_IF (PCI ${pcidev##*/}) with $in_use chunks of NIC memory in flight"
echo 1 >"$pcidev/remove" || fail "cannot remove $pcidev"
sleep 1
dmesg | grep -q 'revoking its NIC memory' || fail "no revocation on removal: $(dmesg | tail -5)"
dmesg | grep -q 'NIC memory revoked' || fail "revocation did not complete: $(dmesg | tail -5)"
# At revocation, skbs still held chunks: those are dropped, never sent.
# (Rarely the connection is aborted a moment before: a window probe that
# fires while the device goes down finds its route on the blackhole device
# and gives up at once. The sender's ECONNABORTED below holds either way.)
held=$(dmesg | sed -n 's/.*NIC memory revoked; \([0-9]*\) chunks held.*/\1/p' | tail -1)
log "at revocation: ${held:-?} chunks held by the socket"
[[ -n $held ]] || fail "no revocation message: $(dmesg | grep -i nicmem | tail -3)"
((held > 0)) || log "the connection had been aborted before the revocation (its route went down first)"

# The sender learns that its data is gone: the connection is aborted at
# the next retransmission or window probe, not after the retries run out.
t0=$(date +%s)
for i in $(seq 1 600); do
	kill -0 "$spid" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$spid" 2>/dev/null && fail "sender still blocked 60 s after its NIC went away"
log "connection aborted $(($(date +%s) - t0))s after the removal"
wait "$spid" && fail "sender succeeded although its NIC lost the data"
grep -q 'Software caused connection abort' /tmp/send.7200 || fail "sender did not fail with ECONNABORTED: $(cat /tmp/send.7200)"
log "sender: $(tail -1 /tmp/send.7200)"
lost=$(($(tcpext TCPNicmemLost) - lost0))
((lost == 1)) || fail "TCPNicmemLost went up by $lost, expected 1"
wait_in_use_zero -
{ kill -9 "$rpid" && wait "$rpid"; } 2>/dev/null
t0=$(date +%s)
rmmod "$MODNAME" || fail "rmmod failed"
log "rmmod returned after $(($(date +%s) - t0))s"
debug_providers | grep -q '^- ' && fail "revoked provider still listed after rmmod"
if dmesg | grep -qE 'BUG|WARNING|Oops|refcount_t'; then
	fail "kernel problem: $(dmesg | grep -E 'BUG|WARNING|Oops|refcount_t' | head -3)"
fi

# Bring the NIC back (new interface name possible) for later tests.
echo 1 >/sys/bus/pci/rescan
for i in $(seq 1 50); do
	tx=$(iface_by_mac "$TX_MAC") && break
	sleep 0.1
done
[[ -n ${tx:-} ]] || fail "NIC did not come back after rescan"
ip addr add "$TX_ADDR/24" dev "$tx"
ip addr add "$TX_ADDR6/64" dev "$tx" nodad
ip link set "$tx" up
sed -i "s/^TX_IF=[^ ]*/TX_IF=$tx/" /tmp/nicmem-ifaces
wait_ping "$RX_ADDR" || fail "no ping after the NIC came back"
log "NIC removal with NIC memory in flight: revoked, reclaimed, unloaded; NIC back as $tx"
