#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A sender stuck in a page fault of its user buffer (userfaultfd that
# nobody serves, as FUSE or NFS can) while its NIC goes away: revocation
# runs under RTNL and must not wait for that sender, so `ip link` keeps
# answering within a second; once the fault resolves, the send finishes
# (from host memory or with an error), and nothing leaks or oopses.
source "$(dirname "$0")/../lib/env.sh"
source "$(dirname "$0")/../lib/xstream.sh"
dmesg -C
load_module || fail "insmod failed"
rm -f /tmp/uffd.release
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
nic_remove &
rmpid=$!
sleep 0.5
slow=0
for i in $(seq 1 6); do
	t0=$(date +%s%N)
	timeout 5 ip link show >/dev/null || fail "ip link failed or hung (RTNL held?)"
	ms=$((($(date +%s%N) - t0) / 1000000))
	((ms > slow)) && slow=$ms
	sleep 0.5
done
log "ip link answered in at most $slow ms while the sender was stuck"
((slow < 1000)) || fail "ip link took $slow ms"
wait_pid_for "$rmpid" 30 || fail "NIC removal did not finish within 30 s"
touch /tmp/uffd.release
wait_pid_for "$spid" 60 || fail "sender still stuck after its fault was resolved"
log "sender: $(tr '\n' ' ' </tmp/send.7295)"
kill "$rpid" 2>/dev/null
wait "$rpid" 2>/dev/null
wait_in_use_zero -
timeout 30 rmmod "$MODNAME" || fail "rmmod did not return"
no_kernel_problem
nic_back
