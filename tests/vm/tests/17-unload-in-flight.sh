#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Unloading the module with data in flight: rmmod waits until the NIC memory
# comes back (the receiver catches up), no oops, the stream is intact, and
# the provider is gone.
source "$(dirname "$0")/../lib/env.sh"
load_module || fail "insmod failed"
RECV_ARGS="--rcvbuf 65536 --delay-ms 4000" stream 7170 $((4 << 20)) --flags nicmem --sndbuf 8388608 &
spid=$!
in_use=$(wait_in_use "$TX_IF" 8)
((in_use > 0)) || fail "nothing in flight"
t0=$(date +%s)
rmmod "$MODNAME" || fail "rmmod failed"
log "rmmod with $in_use chunks in flight returned after $(($(date +%s) - t0))s"
wait $spid || fail "stream corrupted across rmmod"
has_provider "$TX_IF" && fail "provider still registered"
# The socket fell back to host memory once the provider was gone.
log "$(grep nicmem /tmp/send.7170)"
