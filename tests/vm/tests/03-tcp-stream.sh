#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A plain TCP stream crosses the emulated wire intact: hashed on both ends.
source "$(dirname "$0")/../lib/env.sh"
PORT=7003 BYTES=$((64 << 20))

before=$(rx_bytes)
stream $PORT $BYTES --flags plain
cat /tmp/send.$PORT /tmp/recv.$PORT
after=$(rx_bytes)
((after - before >= BYTES)) || fail "$RX_IF received only $((after - before)) bytes: the stream did not cross the wire"
log "$RX_IF received $((after - before)) bytes"
