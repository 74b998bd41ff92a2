#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# timeout: 480
# The quota is per user, not per socket: an unprivileged user with many
# sockets holds at most its share of NIC memory (the rest of its sends fall
# back, counted as quota), and another user still gets NIC memory
# meanwhile. Every stream arrives intact.
source "$(dirname "$0")/../lib/env.sh"
source "$(dirname "$0")/../lib/xstream.sh"
load_module user_quota_pct=25 || fail "insmod failed"
chunks=$(nicmem_field "$TX_IF" chunks)
quota=$((chunks / 4))
as_user() { setpriv --reuid="$1" --regid="$1" --clear-groups -- "${@:2}"; }

pids=()
for i in $(seq 1 8); do
	port=$((7280 + i))
	rx "$BIN/nicmem-stream" recv "0.0.0.0:$port" --rcvbuf 65536 --delay-ms 4000 >"/tmp/recv.$port" 2>&1 &
	pids+=($!)
done
for i in $(seq 1 8); do wait_listen $((7280 + i)); done
spids=()
for i in $(seq 1 8); do
	port=$((7280 + i))
	as_user 1000 "$BIN/nicmem-stream" send "$RX_ADDR:$port" --bytes $((8 << 20)) --flags nicmem --seed $i \
		--sndbuf 8388608 >"/tmp/send.$port" 2>&1 &
	spids+=($!)
done
# Wait until user 1000 holds NIC memory (its receivers do not read yet).
held=$(wait_in_use "$TX_IF" $((quota / 2)))
# Another user, while user 1000 holds its share.
stream 7290 $((2 << 20)) --flags nicmem --seed 99 &
other=$!
for p in "${spids[@]}" "${pids[@]}"; do wait "$p" || fail "a stream of user 1000 failed"; done
wait "$other" || fail "the other user's stream failed"
q=0
for i in $(seq 1 8); do
	check_stream $((7280 + i)) $((8 << 20))
	q=$((q + $(sent_reason $((7280 + i)) quota)))
done
peak=$(nicmem_field "$TX_IF" peak)
log "user 1000 with 8 sockets: $held chunks held (quota $quota of $chunks), $q bytes fell back (quota); peak $peak; other user: $(grep nicmem /tmp/send.7290)"
((held <= quota)) || fail "user 1000 holds $held chunks, more than its quota of $quota"
((q > 0)) || fail "no quota fallback for user 1000"
(($(sent_nicmem 7290) > 0)) || fail "the other user got no NIC memory"
wait_in_use_zero "$TX_IF"
