#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# 256 MiB sent with MSG_NICMEM arrive with the same SHA-256, at least 95% of
# them from NIC memory (socket counter and TcpExt MIB), across the wire.
source "$(dirname "$0")/../lib/env.sh"
PORT=7012 BYTES=$((256 << 20))
load_module || fail "insmod failed"
mib0=$(tcpext TCPNicmemTxBytes) wire0=$(rx_bytes)
STREAM_TIMEOUT=280 stream $PORT $BYTES --flags nicmem
cat /tmp/send.$PORT
nic=$(sent_nicmem $PORT) mib=$(($(tcpext TCPNicmemTxBytes) - mib0)) wire=$(($(rx_bytes) - wire0))
pct=$((nic * 100 / BYTES))
log "from NIC memory: $nic of $BYTES bytes ($pct%), TcpExt TCPNicmemTxBytes +$mib, wire $wire bytes"
((nic * 100 >= BYTES * 95)) || fail "only $pct% came from NIC memory"
(($(sent_fallback $PORT) == BYTES - nic)) || fail "fallback bytes + NIC memory bytes != bytes sent: $(grep nicmem /tmp/send.$PORT)"
((mib == nic)) || fail "MIB counter ($mib) disagrees with the socket counter ($nic)"
((wire >= BYTES)) || fail "the receiver NIC saw only $wire bytes"
wait_in_use_zero "$TX_IF"
