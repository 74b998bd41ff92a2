#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Upstream selftests of the paths the series changes, on the patched kernel:
# tools/testing/selftests/net/tls (every cipher; its splice and sendfile
# cases go through MSG_SPLICE_PAGES, whose value the series moved; see the
# selection below) and
# msg_zerocopy over TCP (IPv4, IPv6). Every case must pass; the counts are
# printed.
# timeout: 1200
source "$(dirname "$0")/../lib/env.sh"
ST=/nicmem/work/guest/selftests
[[ -x $ST/tls && -x $ST/msg_zerocopy ]] || fail "upstream selftests not built in $ST (scripts/nicmem guest)"

# All of tls's ~1500 cases take over 15 minutes on the TCG debug guest:
# every case of one variant (13_aes_gcm) and of the other fixtures, and for
# every cipher variant the cases that send through MSG_SPLICE_PAGES
# (sendfile, splice) or mix it with plain sends. The mutliproc_* cases (a
# dozen processes on one socket) do not finish within the harness's 30 s
# per case there (seen for several variants in a full run): excluded, and
# the filter that excludes them comes first (the first matching filter
# decides).
sel=(-T mutliproc_readers -T mutliproc_writers -T mutliproc_sendpage_readers -T mutliproc_sendpage_writers
	-v 13_aes_gcm -f tls_basic -f tls_err -f zero_len -f global)
for t in sendfile send_then_sendfile multi_chunk_sendfile splice_from_pipe splice_from_pipe2 \
	splice_to_pipe send_and_splice recv_and_splice single_send_multiple_recv; do
	sel+=(-t "$t")
done
out=$(cd "$ST" && timeout 900 ./tls "${sel[@]}" 2>&1)
rc=$?
echo "$out" >"$OUT/tls-selftest.log"
grep -E 'timeout|Test terminated' <<<"$out" | head -n 5 >&2
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
	grep -qE "^ok [0-9]+ tls\.$c\.sendfile$" <<<"$out" || fail "tls: sendfile did not pass for cipher variant $c"
done
log "tls: $n splice/sendfile cases passed; every cipher variant ran"

for ipv in 4 6; do
	out=$(cd "$ST" && timeout 120 ./msg_zerocopy.sh "$ipv" tcp -t 1 2>&1)
	rc=$?
	log "msg_zerocopy IPv$ipv tcp: exit $rc: $(tr '\n' ' ' <<<"$out" | tail -c 300)"
	((rc == 0)) || fail "msg_zerocopy IPv$ipv over TCP failed"
done
exit 0
