#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Documented behaviour: rules that match on payload cannot read NIC memory,
# so they never match NIC memory packets (the rule's counter stays at 0),
# while they do match the same bytes sent from host memory. Header matches
# work as usual. The streams are intact either way.
source "$(dirname "$0")/../lib/env.sh"
load_module || fail "insmod failed"
trap 'nft delete table inet nicmem 2>/dev/null' EXIT
# The pattern's first 4 payload bytes, seed 81.
first=$("$BIN/nicmem-stream" pattern - --seed 81 --offset 0 --len 4)
nft -f - <<NFT || fail "nft"
table inet nicmem {
	chain out {
		type filter hook output priority 0;
		tcp dport 7270-7271 @ih,0,32 0x$first counter name payload_hits
		tcp dport 7270-7271 counter name header_hits
	}
	counter payload_hits {}
	counter header_hits {}
}
NFT
hits() { nft list counter inet nicmem "$1" | sed -n 's/.*packets \([0-9]*\).*/\1/p'; }
stream 7270 $((1 << 20)) --flags nicmem --seed 81
p1=$(hits payload_hits) h1=$(hits header_hits)
stream 7271 $((1 << 20)) --flags plain --seed 81
p2=$(hits payload_hits) h2=$(hits header_hits)
log "NIC memory stream: payload rule $p1, header rule $h1 packets; plain stream: payload rule $((p2 - p1)), header rule $((h2 - h1))"
(($(sent_nicmem 7270) > 0)) || fail "nothing from NIC memory"
((h1 > 0)) || fail "header rule did not see the NIC memory stream"
((p1 == 0)) || fail "payload rule matched NIC memory payload ($p1 packets)"
((p2 - p1 > 0)) || fail "payload rule did not match the plain stream"
