#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The series' selftest as netdev CI runs it
# (tools/testing/selftests/drivers/net/hw/nicmem.py, lib/py, NetDrvEpEnv with
# the peer in RX_NS): without a provider every case skips, saying why (lib/py
# exits 0 then: netdev CI reads the KTAP lines); with the provider loaded
# every case passes, none skips.
source "$(dirname "$0")/../lib/env.sh"
SELFTEST=/nicmem/work/linux/tools/testing/selftests/drivers/net/hw/nicmem.py
[[ -f $SELFTEST ]] || fail "selftest not in the kernel tree: $SELFTEST"
CASES=5
drv_net() { # the driver test environment of tools/testing/selftests/drivers/net/README.rst
	NETIF=$TX_IF LOCAL_V4=$TX_ADDR REMOTE_V4=$RX_ADDR LOCAL_V6=$TX_ADDR6 REMOTE_V6=$RX_ADDR6 \
		REMOTE_TYPE=netns REMOTE_ARGS=$RX_NS timeout 600 python3 "$SELFTEST" 2>&1
}

out=$(drv_net)
rc=$?
echo "$out" | sed 's/^/  /'
((rc == 0)) || fail "without a provider: exit $rc"
[[ $(grep -cE '^ok [0-9]+ .* # SKIP' <<<"$out") -eq $CASES ]] || fail "without a provider: expected $CASES skipped cases"
grep -q "^# Totals: pass:0 fail:0 .*skip:$CASES" <<<"$out" || fail "without a provider: no totals line with $CASES skipped"
grep -q 'no NIC memory provider on' <<<"$out" || fail "without a provider: the skip does not say why"

load_module || fail "insmod failed"
out=$(drv_net)
rc=$?
echo "$out" | sed 's/^/  /'
((rc == 0)) || fail "selftest failed (exit $rc)"
grep -q '# SKIP' <<<"$out" && fail "selftest skipped cases with a provider and a peer present"
[[ $(grep -cE '^ok [0-9]+ ' <<<"$out") -eq $CASES ]] || fail "expected $CASES passing cases"
grep -q "^# Totals: pass:$CASES fail:0" <<<"$out" || fail "no clean totals line"
exit 0
