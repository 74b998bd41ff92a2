#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The seed's usage, unchanged: a Python client does s.sendall(data, 0x8000000)
# against an echo server in the receiver namespace, and the bytes come from
# NIC memory.
source "$(dirname "$0")/../lib/env.sh"
PORT=7010
load_module || fail "insmod failed"
before=$(nicmem_field "$TX_IF" tx-bytes)
rx python3 "$NICMEM_REPO/examples/python/echo_server.py" $PORT >/tmp/echo_server.log 2>&1 &
wait_listen $PORT
msg="hello from NIC memory $RANDOM"
out=$(python3 "$NICMEM_REPO/examples/python/echo_client.py" "$RX_ADDR" $PORT "$msg") || fail "echo client failed: $out"
echo "$out"
grep -qx "echoed: $msg" <<<"$out" || fail "wrong echo"
n=$(sed -n 's/.*nicmem_bytes=\([0-9]*\).*/\1/p' <<<"$out")
[[ $n -eq ${#msg} ]] || fail "socket counter says $n bytes from NIC memory, sent ${#msg}"
after=$(nicmem_field "$TX_IF" tx-bytes)
((after - before == ${#msg})) || fail "nicmem-get tx-bytes grew by $((after - before)), expected ${#msg}"
