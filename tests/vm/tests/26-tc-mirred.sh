#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# tc mirred on the egress of the NIC memory device:
# - mirror to a device without NIC memory (dummy): the copies cannot be
#   read there and are dropped; the stream itself is intact and from NIC
#   memory;
# - redirect to it: the NIC memory data can never reach a device that can
#   read it: the connection aborts (ECONNABORTED) instead of retrying
#   forever, its peer gets an RST, and its chunks come back.
source "$(dirname "$0")/../lib/env.sh"
source "$(dirname "$0")/../lib/xstream.sh"
dmesg -C
load_module || fail "insmod failed"
ip link add nm-dummy type dummy || fail "no dummy device"
ip link set nm-dummy up
cleanup() {
	tc qdisc del dev "$TX_IF" clsact 2>/dev/null
	ip link del nm-dummy 2>/dev/null
}
trap cleanup EXIT
tc qdisc add dev "$TX_IF" clsact || fail "clsact"
tc filter add dev "$TX_IF" egress protocol ip matchall action mirred egress mirror dev nm-dummy || fail "mirror"
stream 7260 $((8 << 20)) --flags nicmem --seed 71
(($(sent_nicmem 7260) > 0)) || fail "mirror: nothing from NIC memory"
log "mirror: dummy tx_dropped=$(cat /sys/class/net/nm-dummy/statistics/tx_dropped) tx_packets=$(cat /sys/class/net/nm-dummy/statistics/tx_packets)"
tc filter del dev "$TX_IF" egress

# Redirect the data of one connection, not its handshake: packets shorter
# than 256 bytes (IPv4 total length) pass first.
tc filter add dev "$TX_IF" egress prio 1 protocol ip u32 match ip dport 7261 0xffff match u16 0 0xff00 at 2 action pass ||
	fail "pass filter"
tc filter add dev "$TX_IF" egress prio 2 protocol ip u32 match ip dport 7261 0xffff action mirred egress redirect dev nm-dummy ||
	fail "redirect"
lost0=$(tcpext TCPNicmemLost)
xstream_start 7261 "" -- --bytes $((2 << 20)) --seed 72
wait_pid_for "$XSPID" 120 || fail "redirect: sender stalled: $(cat /tmp/send.7261)"
wait "$XSPID" && fail "redirect: the stream completed although its data was redirected away"
# The RST (shorter than 256 bytes) passes the filter: the receiver, which
# never got a byte, learns that the connection is gone.
xstream_aborted 7261 redirect
log "redirect: $(head -1 /tmp/send.7261); TCPNicmemLost +$(($(tcpext TCPNicmemLost) - lost0))"
wait_in_use_zero "$TX_IF"
no_kernel_problem
