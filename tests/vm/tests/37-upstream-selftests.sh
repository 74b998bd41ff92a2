#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Upstream selftests of the paths the series changes, on the patched kernel:
# tools/testing/selftests/net/tls (every cipher; its splice and sendfile
# cases go through MSG_SPLICE_PAGES, whose value the series moved) and
# msg_zerocopy over TCP (IPv4, IPv6). Every case must pass; the counts are
# printed.
# timeout: 1500
source "$(dirname "$0")/../lib/env.sh"
ST=/nicmem/work/guest/selftests
[[ -x $ST/tls && -x $ST/msg_zerocopy ]] || fail "upstream selftests not built in $ST (scripts/nicmem guest)"

out=$(cd "$ST" && timeout 1200 ./tls 2>&1)
rc=$?
totals=$(grep -m1 '^# Totals:' <<<"$out")
log "tls: exit $rc; $totals"
grep -E '^not ok' <<<"$out" | head -n 20 >&2
((rc == 0)) || fail "tls selftest failed (exit $rc)"
pass=$(sed -n 's/^# Totals: pass:\([0-9]*\).*/\1/p' <<<"$totals")
fails=$(sed -n 's/^# Totals: .* fail:\([0-9]*\).*/\1/p' <<<"$totals")
((${pass:-0} > 0 && ${fails:-1} == 0)) || fail "tls: $totals"
n=$(grep -cE '^ok [0-9]+ .*(splice|sendfile)' <<<"$out")
((n > 0)) || fail "tls: no splice or sendfile case passed"
for c in 12_aes_gcm 13_aes_gcm 12_chacha 13_chacha 13_sm4_gcm 13_sm4_ccm 12_aes_ccm 13_aes_ccm 12_aria_gcm 12_aria_gcm_256; do
	grep -qE "^ok [0-9]+ tls\.$c\." <<<"$out" || fail "tls: no passing case for cipher variant $c"
done
log "tls: $n splice/sendfile cases passed; every cipher variant ran"

for ipv in 4 6; do
	out=$(cd "$ST" && timeout 120 ./msg_zerocopy.sh "$ipv" tcp -t 1 2>&1)
	rc=$?
	log "msg_zerocopy IPv$ipv tcp: exit $rc: $(tr '\n' ' ' <<<"$out" | tail -c 300)"
	((rc == 0)) || fail "msg_zerocopy IPv$ipv over TCP failed"
done
exit 0
