#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# NIC memory smaller than the send buffers of many sockets: sends fall back
# to host memory, the fallbacks are counted (nomem, and quota with a small
# per-user quota), every stream arrives intact, and the memory is all
# back afterwards.
source "$(dirname "$0")/../lib/env.sh"
BYTES=$((8 << 20))

# 1. Memory exhaustion: 6 sockets with 8 MiB send buffers, receivers late,
#    16 MiB of NIC memory, no per-user quota to speak of.
load_module user_quota_pct=100 || fail "insmod failed"
nomem0=$(nicmem_field "$TX_IF" alloc-fail-nomem)
pids=()
for i in 1 2 3 4 5 6; do
	RECV_ARGS="--rcvbuf 65536 --delay-ms 3000" stream $((7140 + i)) $BYTES --flags nicmem --seed $i --sndbuf 8388608 &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a stream was corrupted or failed"; done
nomem=$(($(nicmem_field "$TX_IF" alloc-fail-nomem) - nomem0))
fb=0 nb=0
for i in 1 2 3 4 5 6; do
	fb=$((fb + $(sent_reason $((7140 + i)) nomem)))
	nb=$((nb + $(sent_nicmem $((7140 + i)))))
done
log "exhaustion: $nomem refused allocations, $fb bytes fell back (nomem), $nb bytes from NIC memory"
((nomem > 0 && fb > 0)) || fail "NIC memory never ran out"
((nb > 0)) || fail "no bytes from NIC memory at all"
wait_in_use_zero "$TX_IF"
unload_module

# 2. Quota: one user may hold 5% of the memory.
load_module user_quota_pct=5 || fail "insmod failed"
RECV_ARGS="--rcvbuf 65536 --delay-ms 2000" stream 7150 $BYTES --flags nicmem --seed 9 --sndbuf 8388608
q=$(sent_reason 7150 quota)
log "quota: $q bytes fell back, $(nicmem_field "$TX_IF" alloc-fail-quota) refused allocations"
((q > 0)) || fail "quota never reached"
((q + $(sent_nicmem 7150) == BYTES)) || fail "NIC memory + fallback bytes != bytes sent"
wait_in_use_zero "$TX_IF"
