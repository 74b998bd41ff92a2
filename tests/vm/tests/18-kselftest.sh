#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The series' own selftest (tools/testing/selftests/net/nicmem.py), with the
# provider loaded and the peer in RX_NS: every case must pass, none skip.
source "$(dirname "$0")/../lib/env.sh"
SELFTEST=/nicmem/work/linux/tools/testing/selftests/net/nicmem.py
[[ -f $SELFTEST ]] || fail "selftest not in the kernel tree: $SELFTEST"
load_module || fail "insmod failed"
out=$(NICMEM_PEER_NS=$RX_NS NICMEM_PEER_ADDR=$RX_ADDR python3 "$SELFTEST" 2>&1)
rc=$?
echo "$out"
((rc == 0)) || fail "selftest failed (exit $rc)"
grep -q '# SKIP' <<<"$out" && fail "selftest skipped cases with a provider and a peer present"
[[ $(grep -c '^ok ' <<<"$out") -eq 5 ]] || fail "expected 5 passing cases"
exit 0
