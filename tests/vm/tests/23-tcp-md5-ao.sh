#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# TCP-MD5 and TCP-AO sign every segment's payload, which the CPU cannot
# read from NIC memory: such sockets fall back (counted sw_path) and their
# streams arrive intact. A key set on a connection that already has NIC
# memory data queued does not make the kernel hash it: the connection
# aborts (ECONNABORTED) or completes, and nothing oopses.
source "$(dirname "$0")/../lib/env.sh"
source "$(dirname "$0")/../lib/xstream.sh"
dmesg -C
load_module || fail "insmod failed"

xstream 7230 $((4 << 20)) "--md5 nicmem-md5-key" -- --md5 nicmem-md5-key --seed 41
(($(sent_nicmem 7230) == 0)) || fail "MD5 socket sent from NIC memory"
(($(sent_reason 7230 sw_path) == 4 << 20)) || fail "MD5: not counted as sw_path: $(grep nicmem /tmp/send.7230)"

xstream 7231 $((4 << 20)) "--ao nicmem-ao-key" -- --ao nicmem-ao-key --seed 42
(($(sent_nicmem 7231) == 0)) || fail "AO socket sent from NIC memory"
(($(sent_reason 7231 sw_path) == 4 << 20)) || fail "AO: not counted as sw_path: $(grep nicmem /tmp/send.7231)"

# A key added once NIC memory data is queued (the receiver waits).
xstream_start 7232 "--rcvbuf 65536 --delay 4" -- --bytes $((8 << 20)) --seed 43 --sndbuf 4194304 --md5-after-ms 1500
wait_pid_for "$XSPID" 120 || fail "late MD5 key: sender stalled: $(cat /tmp/send.7232)"
wait "$XSPID"
rc=$?
kill "$XRPID" 2>/dev/null
wait "$XRPID" 2>/dev/null
log "late MD5 key: sender exit $rc: $(head -1 /tmp/send.7232)"
((rc == 0)) || grep -qE 'errno=(103|104|110)' /tmp/send.7232 || fail "late MD5 key: unexpected result: $(cat /tmp/send.7232)"
wait_in_use_zero "$TX_IF"
no_kernel_problem
