#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# rmmod with 64 MSG_NICMEM flows in flight: it returns within a bound, no
# oops, no leak (kmemleak is read at the end of the suite), every stream
# arrives intact (receivers catch up, the rest falls back).
source "$(dirname "$0")/../lib/env.sh"
load_module || fail "insmod failed"
pids=()
for i in $(seq 0 63); do
	port=$((7400 + i))
	rx "$BIN/nicmem-stream" recv "0.0.0.0:$port" --rcvbuf 65536 --delay-ms 3000 >"/tmp/recv.$port" 2>&1 &
	pids+=($!)
done
for i in $(seq 0 63); do wait_listen $((7400 + i)); done
for i in $(seq 0 63); do
	port=$((7400 + i))
	"$BIN/nicmem-stream" send "$RX_ADDR:$port" --bytes $((1 << 20)) --flags nicmem --seed $i >"/tmp/send.$port" 2>&1 &
	pids+=($!)
done
sleep 1.5
in_use=$(nicmem_field "$TX_IF" in_use)
((in_use > 0)) || fail "nothing in flight"
t0=$(date +%s)
timeout 60 rmmod "$MODNAME" || fail "rmmod did not return within 60 s"
log "rmmod with 64 flows ($in_use chunks) in flight: $(($(date +%s) - t0))s"
for p in "${pids[@]}"; do wait "$p" || fail "a flow failed"; done
for i in $(seq 0 63); do check_stream $((7400 + i)) $((1 << 20)) 2>/dev/null || fail "flow $i corrupted"; done
[[ -z $(tail -n +2 /proc/net/nicmem) ]] || fail "provider still listed: $(cat /proc/net/nicmem)"
