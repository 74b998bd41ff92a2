#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# MSG_NICMEM over IPv6.
source "$(dirname "$0")/../lib/env.sh"
load_module || fail "insmod failed"
LISTEN="[::]" DST="[$RX_ADDR6]" stream 7160 $((32 << 20)) --flags nicmem
cat /tmp/send.7160
(($(sent_nicmem 7160) >= (32 << 20) * 95 / 100)) || fail "IPv6 stream not from NIC memory"
(($(sent_fallback 7160) == 0)) || fail "IPv6 stream fell back: $(grep nicmem /tmp/send.7160)"
wait_in_use_zero "$TX_IF"
