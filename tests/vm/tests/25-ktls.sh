#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kTLS (software crypto) with MSG_NICMEM: records are built and encrypted in
# host memory, so the send succeeds, falls back and is counted as sw_path;
# the receiver's kTLS decrypts exactly the bytes sent.
source "$(dirname "$0")/../lib/env.sh"
source "$(dirname "$0")/../lib/xstream.sh"
load_module || fail "insmod failed"
sw0=$(tcpext TCPNicmemFbSwPath)
xstream 7250 $((4 << 20)) "--ktls" -- --ktls --seed 61
(($(sent_nicmem 7250) == 0)) || fail "kTLS sent from NIC memory"
sw=$(($(tcpext TCPNicmemFbSwPath) - sw0))
log "kTLS: TcpExt TCPNicmemFbSwPath +$sw; socket: $(grep nicmem /tmp/send.7250)"
((sw >= 4 << 20)) || fail "kTLS fallback not counted as sw_path (+$sw)"
wait_in_use_zero "$TX_IF"
