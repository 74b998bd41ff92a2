#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Device offloads change under MSG_NICMEM sockets (ethtool -K):
# - tso/gso off: the stack segments in software, sharing the NIC memory
#   frags (SG and checksum offload stay on): intact, still from NIC memory;
# - tx (checksum) off before a connection: falls back, counted no_offload;
# - tx off in the middle of a stream: new sends fall back at once; what is
#   already queued in NIC memory cannot be checksummed by the CPU, so the
#   connection either completes or aborts with ECONNABORTED (after the
#   sender's close: the data is lost), never stalls, never sends wrong
#   bytes, and the chunks come back; an aborted connection's peer is told
#   (RST), even one that has read all it got;
# - no WARNING from skb_segment()/skb_checksum() in any case.
source "$(dirname "$0")/../lib/env.sh"
source "$(dirname "$0")/../lib/xstream.sh"
dmesg -C
load_module || fail "insmod failed"
restore() { ethtool -K "$TX_IF" tx on sg on tso on gso on >/dev/null 2>&1; }
trap restore EXIT

ethtool -K "$TX_IF" tso off gso off || fail "ethtool -K tso off gso off"
stream 7220 $((16 << 20)) --flags nicmem --seed 31
(($(sent_nicmem 7220) > 0)) || fail "tso/gso off: nothing from NIC memory: $(grep nicmem /tmp/send.7220)"
no_kernel_problem
restore

ethtool -K "$TX_IF" tx off || fail "ethtool -K tx off"
stream 7221 $((4 << 20)) --flags nicmem --seed 32
(($(sent_nicmem 7221) == 0)) || fail "tx off: bytes from NIC memory without checksum offload"
(($(sent_reason 7221 no_offload) == 4 << 20)) || fail "tx off: not counted as no_offload: $(grep nicmem /tmp/send.7221)"
restore

# tx off mid-stream; the small receive buffer keeps NIC memory data queued,
# and the receiver reads at once, so it is idle by the time the sender gives
# up and only an RST can tell it.
nb0=$(tcpext TCPNicmemTxBytes)
xstream_start 7222 "--rcvbuf 65536" -- --bytes $((16 << 20)) --flags nicmem --seed 33 --sndbuf 4194304
for i in $(seq 1 50); do
	(($(nicmem_field "$TX_IF" in-use) > 0)) && break
	sleep 0.1
done
(($(nicmem_field "$TX_IF" in-use) > 0)) || fail "nothing in NIC memory before tx off"
ethtool -K "$TX_IF" tx off || fail "ethtool -K tx off"
wait_pid_for "$XSPID" 90 || fail "tx off mid-stream: sender stalled: $(cat /tmp/send.7222)"
if wait "$XSPID"; then
	# The sender queued everything and closed; NIC memory data still queued
	# then is lost with the connection, which must reset the receiver
	# rather than leave it waiting for bytes that never come.
	wait_pid_for "$XRPID" 60 ||
		fail "tx off mid-stream: the sender closed, but its receiver still waits 60 s later (lost data, no RST): $(cat /tmp/recv.7222)"
	if grep -q 'recv reset' /tmp/recv.7222; then
		log "tx off mid-stream: the sender had closed; queued data lost, receiver reset: $(head -1 /tmp/recv.7222)"
	else
		wait "$XRPID"
		check_stream 7222 $((16 << 20))
		log "tx off mid-stream: completed intact"
	fi
else
	grep -q 'errno=103 (ECONNABORTED)' /tmp/send.7222 || fail "tx off mid-stream: unexpected error: $(cat /tmp/send.7222)"
	peer_reset 7222
	wait_pid_for "$XRPID" 10 || fail "tx off mid-stream: receiver still running after its connection was reset"
	grep -q 'recv reset' /tmp/recv.7222 || fail "tx off mid-stream: the receiver saw no reset: $(cat /tmp/recv.7222)"
	log "tx off mid-stream: aborted: $(head -1 /tmp/send.7222); receiver: $(tail -1 /tmp/recv.7222)"
fi
restore
wait_in_use_zero "$TX_IF"
# A new connection after tx came back uses NIC memory again.
stream 7223 $((1 << 20)) --flags nicmem --seed 34
(($(sent_nicmem 7223) > 0)) || fail "offloads back on: no NIC memory"
t0=$(date +%s)
timeout 30 rmmod "$MODNAME" || fail "rmmod did not return within 30 s"
log "rmmod after the toggles: $(($(date +%s) - t0)) s; TCPNicmemTxBytes +$(($(tcpext TCPNicmemTxBytes) - nb0))"
no_kernel_problem
