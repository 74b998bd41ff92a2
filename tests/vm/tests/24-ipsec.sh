#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# An ESP transport-mode SA between the two hosts (IPv4 and IPv6): IPsec
# encrypts the payload with the CPU, so MSG_NICMEM falls back (sw_path),
# the streams complete (no stall) and arrive intact.
source "$(dirname "$0")/../lib/env.sh"
source "$(dirname "$0")/../lib/xstream.sh"
load_module || fail "insmod failed"
key=0x$(printf '%040x' 7)
cleanup() {
	ip xfrm state flush; ip xfrm policy flush
	rx ip xfrm state flush; rx ip xfrm policy flush
}
trap cleanup EXIT
for ns in "" "rx"; do
	run=()
	[[ -n $ns ]] && run=(ip netns exec "$ns")
	for pair in "$TX_ADDR $RX_ADDR 0x100" "$RX_ADDR $TX_ADDR 0x101" "$TX_ADDR6 $RX_ADDR6 0x200" "$RX_ADDR6 $TX_ADDR6 0x201"; do
		read -r src dst spi <<<"$pair"
		"${run[@]}" ip xfrm state add src "$src" dst "$dst" proto esp spi "$spi" mode transport \
			aead 'rfc4106(gcm(aes))' "$key" 128 || fail "xfrm state $src -> $dst"
	done
done
ip xfrm policy add src "$TX_ADDR" dst "$RX_ADDR" dir out tmpl proto esp mode transport || fail "policy"
ip xfrm policy add src "$RX_ADDR" dst "$TX_ADDR" dir in tmpl proto esp mode transport || fail "policy"
ip xfrm policy add src "$TX_ADDR6" dst "$RX_ADDR6" dir out tmpl proto esp mode transport || fail "policy"
ip xfrm policy add src "$RX_ADDR6" dst "$TX_ADDR6" dir in tmpl proto esp mode transport || fail "policy"
rx ip xfrm policy add src "$RX_ADDR" dst "$TX_ADDR" dir out tmpl proto esp mode transport || fail "policy"
rx ip xfrm policy add src "$TX_ADDR" dst "$RX_ADDR" dir in tmpl proto esp mode transport || fail "policy"
rx ip xfrm policy add src "$RX_ADDR6" dst "$TX_ADDR6" dir out tmpl proto esp mode transport || fail "policy"
rx ip xfrm policy add src "$TX_ADDR6" dst "$RX_ADDR6" dir in tmpl proto esp mode transport || fail "policy"

esp0=$(ip -s xfrm state list | grep -c .)
stream 7240 $((8 << 20)) --flags nicmem --seed 51
(($(sent_nicmem 7240) == 0)) || fail "IPsec route sent from NIC memory"
(($(sent_reason 7240 sw_path) == 8 << 20)) || fail "IPsec: not counted as sw_path: $(grep nicmem /tmp/send.7240)"
DST="[$RX_ADDR6]" LISTEN="[::]" stream 7241 $((4 << 20)) --flags nicmem --seed 52
(($(sent_reason 7241 sw_path) == 4 << 20)) || fail "IPsec over IPv6: not counted as sw_path: $(grep nicmem /tmp/send.7241)"
# The SAs really carried the traffic.
oseq=$(ip -s xfrm state list src "$TX_ADDR" dst "$RX_ADDR" | sed -n 's/.*oseq \(0x[0-9a-f]*\).*/\1/p' | head -1)
log "ESP output sequence number after the streams: ${oseq:-?} ($esp0 lines of state)"
((${oseq:-0} > 1000)) || fail "ESP SA did not carry the stream (oseq ${oseq:-none})"
wait_in_use_zero "$TX_IF"
