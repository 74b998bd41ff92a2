#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# timeout: 480
# tc actions on the egress of the NIC memory device that need the payload
# with the CPU (act_csum recomputing the TCP checksum of a packet that is
# not GSO) cannot read NIC memory, and drop those packets:
# - a plain stream through the same action is intact;
# - a MSG_NICMEM stream must not retry in vain until tcp_retries2 gives up
#   (about 15 minutes): within a bound it ends, intact or aborted with
#   ECONNABORTED, its peer is reset, and its chunks come back.
# tc mirred redirecting the data to the ingress of a device (here a dummy,
# where it is not for this host and is dropped) takes NIC memory into a
# receive path, where nothing may read it: the same bound and abort.
# An nft payload statement that writes into the payload cannot write NIC
# memory either, but it lets the packet go on: a MSG_NICMEM stream through
# it is intact (sent as written) and not aborted, while the same statement
# changes the bytes of a plain stream (so it did run). Nor is it aborted
# when the packets the statement let go are then lost on the way (netem
# loss), as any packet may be: TCP retransmits them, on timeouts too.
source "$(dirname "$0")/../lib/env.sh"
source "$(dirname "$0")/../lib/xstream.sh"
dmesg -C
load_module || fail "insmod failed"
cleanup() {
	tc qdisc del dev "$TX_IF" clsact 2>/dev/null
	tc qdisc del dev "$TX_IF" root 2>/dev/null
	nft delete table inet nm42 2>/dev/null
	ip link del nm42 2>/dev/null
}
trap cleanup EXIT
tc qdisc add dev "$TX_IF" clsact || fail "clsact"
for port in 7280 7281; do
	tc filter add dev "$TX_IF" egress prio 1 protocol ip u32 match ip dport "$port" 0xffff action csum iph and tcp ||
		fail "csum action"
done

# 1000-byte sends: the first leaves alone, as a packet that is not GSO,
# which act_csum checksums in software.
xstream 7280 $((256 << 10)) "" -- --flags plain --chunk 1000 --seed 81
log "plain: intact through act_csum"

# ends_or_aborts <port> <what>: a MSG_NICMEM stream of 256 KiB in 1000-byte
# sends ends within 120 s, intact, or aborted with ECONNABORTED, counted,
# and its peer reset.
ends_or_aborts() {
	local port=$1 what=$2 lost0
	lost0=$(tcpext TCPNicmemLost)
	xstream_start "$port" "" -- --bytes $((256 << 10)) --chunk 1000 --seed "$port"
	wait_pid_for "$XSPID" 120 || fail "$what: sender stalled for 120 s: $(cat "/tmp/send.$port")"
	if wait "$XSPID"; then
		wait_pid_for "$XRPID" 30 || fail "$what: receiver still running"
		wait "$XRPID" || fail "$what: receiver failed: $(cat "/tmp/recv.$port")"
		check_stream "$port" $((256 << 10))
		log "$what: intact"
		return
	fi
	xstream_aborted "$port" "$what"
	(($(tcpext TCPNicmemLost) > lost0)) || fail "$what: aborted, but TCPNicmemLost did not grow"
	log "$what: $(head -1 "/tmp/send.$port"); TCPNicmemLost +$(($(tcpext TCPNicmemLost) - lost0))"
}
ends_or_aborts 7281 "act_csum, MSG_NICMEM"
tc filter del dev "$TX_IF" egress

# Redirect the data of one connection, not its handshake: packets shorter
# than 256 bytes (IPv4 total length) pass first.
ip link add nm42 type dummy || fail "no dummy device"
ip link set nm42 up
tc filter add dev "$TX_IF" egress prio 1 protocol ip u32 match ip dport 7284 0xffff match u16 0 0xff00 at 2 action pass ||
	fail "pass filter"
tc filter add dev "$TX_IF" egress prio 2 protocol ip u32 match ip dport 7284 0xffff action mirred ingress redirect dev nm42 ||
	fail "ingress redirect"
ends_or_aborts 7284 "mirred ingress redirect, MSG_NICMEM"
tc qdisc del dev "$TX_IF" clsact

nft -f - <<NFT || fail "nft"
table inet nm42 {
	chain out {
		type filter hook output priority 0;
		tcp dport { 7282, 7283, 7285 } @ih,0,32 set 0x41414141 counter name edits
	}
	counter edits {}
}
NFT
lost0=$(tcpext TCPNicmemLost)
xstream 7282 $((1 << 20)) "" -- --chunk 1000 --seed 83
(($(tcpext TCPNicmemLost) == lost0)) || fail "nft edit: a NIC memory connection was aborted"
(($(sent_nicmem 7282) > 0)) || fail "nft edit: nothing was sent from NIC memory"
edits=$(nft list counter inet nm42 edits | sed -n 's/.*packets \([0-9]*\).*/\1/p')
log "nft edit: NIC memory stream intact, not aborted; packets edited: $edits (none of NIC memory: the statement cannot write it)"
xstream_start 7283 "" -- --flags plain --bytes $((1 << 20)) --chunk 1000 --seed 84
xstream_end 7283
[[ $(stream_sum send /tmp/send.7283) != "$(stream_sum recv /tmp/recv.7283)" ]] ||
	fail "nft edit: the plain stream arrived unchanged: the statement did not run"
log "nft edit: the plain stream's bytes were changed by the statement, as written"

# The same statement, and a quarter of the packets lost after it, so that
# retransmit timeouts fire (where TCP looks for refused NIC memory).
tc qdisc add dev "$TX_IF" root netem loss 25% || fail "netem"
lost0=$(tcpext TCPNicmemLost) rto0=$(tcpext TCPTimeouts)
xstream 7285 $((256 << 10)) "" -- --chunk 1000 --seed 85
(($(tcpext TCPNicmemLost) == lost0)) || fail "nft edit and loss: a NIC memory connection was aborted"
(($(sent_nicmem 7285) > 0)) || fail "nft edit and loss: nothing was sent from NIC memory"
rto=$(($(tcpext TCPTimeouts) - rto0))
((rto > 0)) || fail "nft edit and loss: no retransmit timeout fired (the case was not exercised)"
log "nft edit and loss: NIC memory stream intact, not aborted; retransmit timeouts: $rto"
tc qdisc del dev "$TX_IF" root

wait_in_use_zero "$TX_IF"
no_kernel_problem
