#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# While a MSG_NICMEM stream is in flight (receiver not reading yet), its
# payload is in the NIC memory backing file on the host: the bytes went to
# device memory, not RAM. A plain send of another stream is not there.
source "$(dirname "$0")/../lib/env.sh"
BYTES=$((2 << 20))
load_module || fail "insmod failed"

# Bytes near the end of each stream: queued, not yet received.
off=$((BYTES - 4096))
pat_nic=$("$BIN/nicmem-stream" pattern - --seed 1313 --offset $off --len 64)
pat_plain=$("$BIN/nicmem-stream" pattern - --seed 2626 --offset $off --len 64)
[[ $(host_has_pattern "$pat_nic") == absent ]] || fail "pattern present before sending"

RECV_ARGS="--rcvbuf 65536 --delay-ms 6000" stream 7013 $BYTES --flags nicmem --seed 1313 --sndbuf 8388608 &
spid=$!
RECV_ARGS="--rcvbuf 65536 --delay-ms 6000" stream 7014 $BYTES --flags plain --seed 2626 --sndbuf 8388608 &
ppid=$!
# The receivers read nothing for 6 s after they accept: wait (bounded)
# until the end of the MSG_NICMEM stream is written, then look while its
# chunks are still held. A fixed sleep raced with a slow start of the
# senders under TCG.
in_use=0 nic=absent
for _ in $(seq 1 40); do
	in_use=$(nicmem_field "$TX_IF" in-use)
	nic=$(host_has_pattern "$pat_nic")
	[[ $nic == found ]] && ((in_use > 0)) && break
	sleep 0.1
done
plain=$(host_has_pattern "$pat_plain")
log "in flight: $in_use chunks in use; MSG_NICMEM pattern: $nic; plain pattern: $plain"
wait $spid || fail "MSG_NICMEM stream corrupted"
wait $ppid || fail "plain stream corrupted"
[[ $nic == found ]] || fail "MSG_NICMEM payload not in the device memory while in flight ($nic)"
[[ $plain == absent ]] || fail "plain payload found in device memory ($plain)"
((in_use > 0)) || fail "no NIC memory in use while the stream was in flight"
wait_in_use_zero "$TX_IF"
