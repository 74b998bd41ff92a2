#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Two CPUs send MSG_NICMEM streams while the NIC goes away: no oops, no
# stall; each sender either completes with the right bytes (its data was
# out before) or aborts with an error; every chunk comes back.
source "$(dirname "$0")/../lib/env.sh"
source "$(dirname "$0")/../lib/xstream.sh"
(($(nproc) >= 2)) || fail "needs 2 CPUs, the guest has $(nproc)"
dmesg -C
load_module || fail "insmod failed"
for c in 0 1; do
	port=$((7310 + c))
	rx "$BIN/nicmem-stream" recv "0.0.0.0:$port" --rcvbuf 262144 --delay-ms 500 >"/tmp/recv.$port" 2>&1 &
done
wait_listen 7310
wait_listen 7311
pids=()
for c in 0 1; do
	port=$((7310 + c))
	taskset -c "$c" "$BIN/nicmem-stream" send "$RX_ADDR:$port" --bytes $((64 << 20)) --flags nicmem --seed $c \
		--chunk 4096 >"/tmp/send.$port" 2>&1 &
	pids+=($!)
done
sleep 2
trap nic_back EXIT
nic_remove
for p in "${pids[@]}"; do
	wait_pid_for "$p" 150 || fail "a sender stalled after the NIC went away"
done
for c in 0 1; do
	port=$((7310 + c))
	if wait "${pids[$c]}"; then
		check_stream "$port" $((64 << 20))
	else
		log "sender on CPU $c: $(tail -1 "/tmp/send.$port")"
	fi
done
pkill -f 'nicmem-stream recv' 2>/dev/null
wait_in_use_zero -
timeout 30 rmmod "$MODNAME" || fail "rmmod did not return"
no_kernel_problem
