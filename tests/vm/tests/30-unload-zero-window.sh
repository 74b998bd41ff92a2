#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Unloading the provider while a peer keeps a zero window (it never reads):
# its chunks never come back by themselves, so rmmod revokes them after a
# bounded wait, says so, and returns; the stuck connection aborts with
# ECONNABORTED at its next window probe, and every chunk comes back.
source "$(dirname "$0")/../lib/env.sh"
source "$(dirname "$0")/../lib/xstream.sh"
dmesg -C
load_module || fail "insmod failed"
lost0=$(tcpext TCPNicmemLost)
held_stream 7300 $((16 << 20)) 600000
rpid=$HRPID spid=$HSPID
in_use=$(wait_in_use "$TX_IF" 8)
((in_use > 0)) || fail "nothing in flight"
t0=$(date +%s)
timeout 60 rmmod "$MODNAME" || fail "rmmod did not return within 60 s with a zero-window peer"
dt=$(($(date +%s) - t0))
log "rmmod with $in_use chunks held by a zero-window peer returned after ${dt}s"
((dt <= 30)) || fail "rmmod took ${dt}s"
dmesg | grep -q 'revoking them' || fail "no message about revoking held chunks: $(dmesg | grep nicmem | tail -3)"
wait_pid_for "$spid" 150 || fail "sender not aborted 150 s after the revocation"
wait "$spid" && fail "sender succeeded although its data was revoked"
grep -q 'Software caused connection abort' /tmp/send.7300 || fail "sender did not fail with ECONNABORTED: $(cat /tmp/send.7300)"
peer_reset 7300
log "sender: $(tail -1 /tmp/send.7300); TCPNicmemLost +$(($(tcpext TCPNicmemLost) - lost0))"
kill "$rpid" 2>/dev/null
wait "$rpid" 2>/dev/null
for i in $(seq 1 100); do
	[[ -n $(debug_providers) ]] || break
	sleep 0.1
done
[[ -z $(debug_providers) ]] || fail "provider still listed: $(debug_providers)"
no_kernel_problem
