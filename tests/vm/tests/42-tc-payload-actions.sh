#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# tc actions on the egress of the NIC memory device that need the payload
# with the CPU (act_csum recomputing the TCP checksum of a packet that is
# not GSO) cannot read NIC memory, and drop those packets:
# - a plain stream through the same action is intact;
# - a MSG_NICMEM stream must not retry in vain until tcp_retries2 gives up
#   (about 15 minutes): within a bound it ends, intact or aborted with
#   ECONNABORTED, its peer is reset, and its chunks come back.
# An nft payload statement that writes into the payload cannot write NIC
# memory either, but it lets the packet go on: a MSG_NICMEM stream through
# it is intact (sent as written) and not aborted, while the same statement
# changes the bytes of a plain stream (so it did run).
source "$(dirname "$0")/../lib/env.sh"
source "$(dirname "$0")/../lib/xstream.sh"
dmesg -C
load_module || fail "insmod failed"
cleanup() {
	tc qdisc del dev "$TX_IF" clsact 2>/dev/null
	nft delete table inet nm42 2>/dev/null
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

lost0=$(tcpext TCPNicmemLost)
xstream_start 7281 "" -- --bytes $((256 << 10)) --chunk 1000 --seed 82
wait_pid_for "$XSPID" 120 || fail "nicmem: sender stalled for 120 s behind act_csum: $(cat /tmp/send.7281)"
if wait "$XSPID"; then
	wait_pid_for "$XRPID" 30 || fail "nicmem: receiver still running"
	wait "$XRPID" || fail "nicmem: receiver failed: $(cat /tmp/recv.7281)"
	check_stream 7281 $((256 << 10))
	log "nicmem: intact through act_csum"
else
	grep -q 'errno=103 (ECONNABORTED)' /tmp/send.7281 ||
		fail "nicmem: not aborted with ECONNABORTED: $(cat /tmp/send.7281)"
	peer_reset 7281
	kill "$XRPID" 2>/dev/null
	wait "$XRPID" 2>/dev/null
	(($(tcpext TCPNicmemLost) > lost0)) || fail "nicmem: aborted, but TCPNicmemLost did not grow"
	log "nicmem: $(head -1 /tmp/send.7281); TCPNicmemLost +$(($(tcpext TCPNicmemLost) - lost0))"
fi
tc qdisc del dev "$TX_IF" clsact

nft -f - <<NFT || fail "nft"
table inet nm42 {
	chain out {
		type filter hook output priority 0;
		tcp dport 7282-7283 @ih,0,32 set 0x41414141 counter name edits
	}
	counter edits {}
}
NFT
lost0=$(tcpext TCPNicmemLost)
xstream 7282 $((1 << 20)) "" -- --chunk 1000 --seed 83
(($(tcpext TCPNicmemLost) == lost0)) || fail "nft edit: a NIC memory connection was aborted"
edits=$(nft list counter inet nm42 edits | sed -n 's/.*packets \([0-9]*\).*/\1/p')
log "nft edit: NIC memory stream intact, not aborted; the statement ran on $edits packets"
xstream_start 7283 "" -- --flags plain --bytes $((1 << 20)) --chunk 1000 --seed 84
wait_pid_for "$XSPID" 120 || fail "nft edit: plain sender stalled"
wait "$XSPID" || fail "nft edit: plain sender failed: $(cat /tmp/send.7283)"
wait_pid_for "$XRPID" 30 || fail "nft edit: plain receiver still running"
wait "$XRPID" || fail "nft edit: plain receiver failed"
[[ $(stream_sum send /tmp/send.7283) != "$(stream_sum recv /tmp/recv.7283)" ]] ||
	fail "nft edit: the plain stream arrived unchanged: the statement did not run"
log "nft edit: the plain stream's bytes were changed by the statement, as written"

wait_in_use_zero "$TX_IF"
no_kernel_problem
