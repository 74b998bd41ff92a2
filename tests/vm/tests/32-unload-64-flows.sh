#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# rmmod with 64 MSG_NICMEM flows in flight whose receivers are not reading
# yet: it returns within a bound (it revokes what is still held after its
# 10 s wait), no oops, no leak (kmemleak is read at the end of the suite);
# every flow either arrives intact or is aborted with ECONNABORTED, never
# corrupted, and every chunk comes back.
source "$(dirname "$0")/../lib/env.sh"
load_module || fail "insmod failed"
pids=()
for i in $(seq 0 63); do
	port=$((7400 + i))
	rx "$BIN/nicmem-stream" recv "0.0.0.0:$port" --rcvbuf 65536 --delay-ms 25000 >"/tmp/recv.$port" 2>&1 &
	pids+=($!)
done
for i in $(seq 1 300); do
	(($(rx ss -Hltn 'sport >= :7400 and sport <= :7463' | wc -l) == 64)) && break
	sleep 0.1
done
(($(rx ss -Hltn 'sport >= :7400 and sport <= :7463' | wc -l) == 64)) || fail "64 receivers not listening"
spids=()
for i in $(seq 0 63); do
	port=$((7400 + i))
	"$BIN/nicmem-stream" send "$RX_ADDR:$port" --bytes $((1 << 20)) --flags nicmem --seed $i >"/tmp/send.$port" 2>&1 &
	spids+=($!)
done
in_use=$(wait_in_use "$TX_IF" 32)
((in_use > 0)) || fail "nothing in flight"
t0=$(date +%s)
timeout 60 rmmod "$MODNAME" || fail "rmmod did not return within 60 s"
log "rmmod with 64 flows ($in_use chunks) in flight: $(($(date +%s) - t0))s"
intact=0 aborted=0
for i in $(seq 0 63); do
	port=$((7400 + i))
	if wait "${spids[$i]}"; then
		wait "${pids[$i]}" || fail "flow $i: receiver failed"
		check_stream "$port" $((1 << 20)) 2>/dev/null || fail "flow $i corrupted"
		intact=$((intact + 1))
	else
		grep -q 'Software caused connection abort' "/tmp/send.$port" || fail "flow $i: $(cat "/tmp/send.$port")"
		peer_reset "$port"
		aborted=$((aborted + 1))
	fi
done
pkill -f 'nicmem-stream recv' 2>/dev/null
log "64 flows: $intact intact, $aborted aborted (ECONNABORTED)"
[[ -z $(debug_providers) ]] || fail "provider still listed: $(debug_providers)"
