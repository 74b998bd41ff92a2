#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The Rust echo client sends with MSG_NICMEM to the Rust echo server.
source "$(dirname "$0")/../lib/env.sh"
PORT=7011
load_module || fail "insmod failed"
rx "$BIN/nicmem-echo-server" "0.0.0.0:$PORT" >/tmp/rust_echo_server.log 2>&1 &
wait_listen $PORT
msg="rust says hello from NIC memory"
out=$("$BIN/nicmem-echo-client" "$RX_ADDR:$PORT" "$msg") || fail "echo client failed: $out"
echo "$out"
grep -qx "echoed: $msg" <<<"$out" || fail "wrong echo"
grep -q "nicmem_bytes=${#msg} fallback_bytes=0" <<<"$out" || fail "not sent from NIC memory"
