#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# rmmod with 64 MSG_NICMEM flows in flight whose receivers are not reading
# yet: it returns within a bound (it revokes what is still held after its
# 10 s wait), no oops, no leak (kmemleak is read at the end of the suite);
# every flow either arrives intact or is aborted with ECONNABORTED and its
# receiver reset, never corrupted, and every chunk comes back.
# The 64 flows run in one sender and one receiver process (--flows): 128
# process starts cost minutes on the debug guest, and the receivers' delay
# then ran out before the unload.
source "$(dirname "$0")/../lib/env.sh"
FLOWS=64 BASE=7400 BYTES=$((1 << 20))
flow_sums() { # flow_sums <send|recv> <file>: "port bytes sha256" of each whole stream of a --flows run
	awk -v kind="$1" '$3 == kind { sub(/bytes=/, "", $4); sub(/sha256=/, "", $5); print $2 + 0, $4, $5 }' "$2"
}
ended() { # ended <file>: when the first and the last of a --flows run's flows ended
	awk '/ ended after / { t = $(NF - 1); if (n++ == 0 || t < lo) lo = t; if (t > hi) hi = t }
		END { printf "ended after %s to %s s", lo, hi }' "$1"
}
load_module || fail "insmod failed"
t0=$(date +%s)
rx "$BIN/nicmem-stream" recv "0.0.0.0:$BASE" --flows $FLOWS --rcvbuf 65536 --delay-ms 25000 >/tmp/recv.all 2>&1 &
rpid=$!
wait_listen $((BASE + FLOWS - 1))
"$BIN/nicmem-stream" send "$RX_ADDR:$BASE" --flows $FLOWS --bytes $BYTES --flags nicmem --seed 3200 >/tmp/send.all 2>&1 &
spid=$!
in_use=$(wait_in_use "$TX_IF" 32)
((in_use > 0)) || fail "nothing in flight"
conns=$(ss -Htn state established "( dport >= :$BASE and dport < :$((BASE + FLOWS)) )" | wc -l)
log "$FLOWS receivers and $conns connections up after $(($(date +%s) - t0))s, $in_use chunks in use"
t1=$(date +%s)
timeout 60 rmmod "$MODNAME" || fail "rmmod did not return within 60 s"
log "rmmod with $FLOWS flows ($in_use chunks) in flight: $(($(date +%s) - t1))s"
wait $spid || true # aborted flows make it fail; each flow is judged below
log "senders done $(($(date +%s) - t0))s after the start: flows $(ended /tmp/send.all)"
# One pass over each side's output (process starts are slow on the debug
# guest): port -> "bytes sha256" of what was sent, or "aborted".
declare -A sent got
while read -r port what; do
	sent[$port]=$what
done < <(
	flow_sums send /tmp/send.all
	awk '/Software caused connection abort/ { print $2 + 0, "aborted" }' /tmp/send.all
)
aborted_ports=()
intact=0 aborted=0
for i in $(seq 0 $((FLOWS - 1))); do
	port=$((BASE + i))
	case ${sent[$port]:-} in
	"") fail "flow $i: neither sent nor aborted: $(grep "^port $port:" /tmp/send.all | tr '\n' ' ')" ;;
	aborted)
		aborted_ports+=("$port")
		aborted=$((aborted + 1))
		;;
	*) intact=$((intact + 1)) ;;
	esac
done
# The receivers must not be left on dead connections. (That the abort
# itself sends the RST is shown by 22 and 26, whose receivers are idle;
# here a receiver that starts reading could also draw one.)
((aborted == 0)) || peer_reset "${aborted_ports[@]}"
# Every receiver has its data or its reset now; it ends after its delay.
for _ in $(seq 1 600); do
	kill -0 $rpid 2>/dev/null || break
	sleep 0.1
done
kill -0 $rpid 2>/dev/null && fail "receivers still running 60 s after the last sender: $(tail -n 3 /tmp/recv.all)"
wait $rpid || true
log "receivers done $(($(date +%s) - t0))s after the start: flows $(ended /tmp/recv.all)"
while read -r port what; do
	got[$port]=$what
done < <(flow_sums recv /tmp/recv.all)
for i in $(seq 0 $((FLOWS - 1))); do
	port=$((BASE + i))
	if [[ ${sent[$port]} == aborted ]]; then
		# Its unsent data was lost, so the receiver cannot have seen the
		# sender's FIN: a whole stream there would be a lie.
		[[ -z ${got[$port]:-} ]] || fail "flow $i: aborted at the sender, but its receiver got a whole stream: ${got[$port]}"
		continue
	fi
	[[ ${sent[$port]} == "${got[$port]:-}" ]] || fail "flow $i corrupted: sent '${sent[$port]}', received '${got[$port]:-nothing}'"
	[[ ${sent[$port]%% *} == "$BYTES" ]] || fail "flow $i: sent ${sent[$port]%% *} bytes, expected $BYTES"
done
log "$FLOWS flows: $intact intact, $aborted aborted (ECONNABORTED), $(($(date +%s) - t0))s in all"
[[ -z $(debug_providers) ]] || fail "provider still listed: $(debug_providers)"
