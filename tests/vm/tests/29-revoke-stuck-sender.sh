#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A sender stuck in a page fault of its user buffer (userfaultfd that
# nobody serves, as FUSE or NFS can) while its NIC goes away: revocation
# runs under RTNL and must not wait for that sender: the removal completes
# and `ip link` keeps answering within a second (over what it takes on this
# machine anyway); once the fault resolves, the send finishes (from host
# memory or with an error), and nothing leaks or oopses.
source "$(dirname "$0")/../lib/env.sh"
source "$(dirname "$0")/../lib/xstream.sh"
dmesg -C
load_module || fail "insmod failed"
rm -f /tmp/uffd.release
# ip_link_ms: how long `ip link show` takes (it waits for RTNL).
ip_link_ms() {
	local t0
	t0=$(date +%s%N)
	timeout -k 1 5 ip link show >/dev/null || fail "ip link failed or hung (RTNL held?)"
	echo $((($(date +%s%N) - t0) / 1000000))
}
# What it takes on this (debug, emulated) machine without a stuck sender.
base=0
for i in 1 2 3; do
	ms=$(ip_link_ms)
	((ms > base)) && base=$ms
done
rx "$BIN/nicmem-stream" recv "0.0.0.0:7295" >/tmp/recv.7295 2>&1 &
rpid=$!
wait_listen 7295
python3 "$NICMEM_REPO/tests/vm/lib/uffd_send.py" "$RX_ADDR" 7295 /tmp/uffd.release >/tmp/send.7295 2>&1 &
spid=$!
for i in $(seq 1 50); do
	grep -q stuck /tmp/send.7295 && break
	sleep 0.1
done
grep -q stuck /tmp/send.7295 || fail "sender did not block: $(cat /tmp/send.7295)"
removed=
# Whatever happens, release the fault and bring the NIC back for the
# tests that follow.
restore() {
	touch /tmp/uffd.release
	[[ -n $removed ]] && nic_back
}
trap restore EXIT
nic_remove &
rmpid=$!
removed=1
# The removal revokes the NIC memory under RTNL while the sender is still
# stuck: it must not wait for that sender.
wait_pid_for "$rmpid" 60 || fail "NIC removal still running after 60 s with a sender stuck in a fault (RTNL held?)"
kill -0 "$spid" 2>/dev/null || fail "sender no longer stuck: $(cat /tmp/send.7295)"
slow=0
for i in $(seq 1 6); do
	ms=$(ip_link_ms)
	((ms > slow)) && slow=$ms
	sleep 0.5
done
log "NIC removed while the sender was stuck; then ip link answered in at most $slow ms (without a stuck sender: $base ms)"
((slow < base + 1000)) || fail "ip link took $slow ms, more than a second over its $base ms"
touch /tmp/uffd.release
wait_pid_for "$spid" 60 || fail "sender still stuck after its fault was resolved"
log "sender: $(tr '\n' ' ' </tmp/send.7295)"
kill "$rpid" 2>/dev/null
wait "$rpid" 2>/dev/null
wait_in_use_zero -
timeout 30 rmmod "$MODNAME" || fail "rmmod did not return"
no_kernel_problem
