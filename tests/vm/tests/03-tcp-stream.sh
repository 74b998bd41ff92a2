#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A plain TCP stream crosses the emulated wire intact: hashed on both ends.
source "$(dirname "$0")/../lib/env.sh"
PORT=7003 BYTES=$((64 << 20))

before=$(rx_bytes)
rx "$BIN/nicmem-stream" recv "0.0.0.0:$PORT" >/tmp/recv.out 2>&1 &
wait_listen $PORT
"$BIN/nicmem-stream" send "$RX_ADDR:$PORT" --bytes $BYTES --flags plain >/tmp/send.out || fail "sender failed: $(cat /tmp/send.out)"
wait
cat /tmp/send.out /tmp/recv.out
s=$(sed -n 's/^send bytes=\([0-9]*\) sha256=\([0-9a-f]*\).*/\1 \2/p' /tmp/send.out)
r=$(sed -n 's/^recv bytes=\([0-9]*\) sha256=\([0-9a-f]*\).*/\1 \2/p' /tmp/recv.out)
[[ -n $s && $s == "$r" ]] || fail "sent '$s' but received '$r'"
[[ ${s%% *} -eq $BYTES ]] || fail "sent ${s%% *} bytes, expected $BYTES"
after=$(rx_bytes)
((after - before >= BYTES)) || fail "$RX_IF received only $((after - before)) bytes: the stream did not cross the wire"
log "$RX_IF received $((after - before)) bytes"
