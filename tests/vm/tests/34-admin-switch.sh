#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The administrator's switch, /sys/class/net/<dev>/nicmem: off, MSG_NICMEM
# sends take host memory (counted as no_provider) while the provider stays
# registered; on again, they use NIC memory. Only root may write it; a
# device without a provider refuses with ENODEV.
source "$(dirname "$0")/../lib/env.sh"
sw=/sys/class/net/$TX_IF/nicmem
[[ -f $sw ]] || fail "no $sw"
[[ $(cat "$sw") == 0 ]] || fail "switch reads $(cat "$sw") without a provider"
echo 1 >"$sw" 2>/tmp/sw.err && fail "enabling a device without a provider succeeded"
grep -q 'No such device' /tmp/sw.err || fail "expected ENODEV: $(cat /tmp/sw.err)"
load_module || fail "insmod failed"
[[ $(cat "$sw") == 1 ]] || fail "switch reads $(cat "$sw") with a provider"
setpriv --reuid=1000 --regid=1000 --clear-groups -- sh -c "echo 0 >$sw" 2>/dev/null && fail "an unprivileged user turned NIC memory off"
echo 0 >"$sw" || fail "cannot turn NIC memory off"
stream 7340 $((1 << 20)) --flags nicmem --seed 340
(($(sent_nicmem 7340) == 0)) || fail "NIC memory used while turned off"
(($(sent_reason 7340 no_provider) == 1 << 20)) || fail "not counted as no_provider: $(grep nicmem /tmp/send.7340)"
has_provider "$TX_IF" || fail "provider gone while turned off"
[[ $(nicmem_field "$TX_IF" enabled) == 0 ]] || fail "nicmem-get does not report the device as disabled: $("$BIN/nicmem-state" "$TX_IF")"
echo 1 >"$sw" || fail "cannot turn NIC memory on"
stream 7341 $((1 << 20)) --flags nicmem --seed 341
(($(sent_nicmem 7341) > 0)) || fail "NIC memory not used after turning it on"
log "switch: off -> $(grep nicmem /tmp/send.7340); on -> $(grep nicmem /tmp/send.7341)"
wait_in_use_zero "$TX_IF"
