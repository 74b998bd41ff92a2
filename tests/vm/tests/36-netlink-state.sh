#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The per-device NIC memory state comes over the netdev netlink family: the
# in-tree YNL CLI (tools/net/ynl) prints it, its tx-bytes grows by exactly
# the bytes a stream sent from NIC memory (nicmem-stream's own count, and
# TcpExt TCPNicmemTxBytes), nicmem-state reads the same, the dump is scoped
# to the caller's network namespace, and a device without a provider gets
# ENODEV with a message.
source "$(dirname "$0")/../lib/env.sh"
KTREE=/nicmem/work/linux
SPEC=$KTREE/Documentation/netlink/specs/netdev.yaml
YNL=$KTREE/tools/net/ynl/pyynl/cli.py
[[ -f $YNL && -f $SPEC ]] || fail "no YNL CLI in the kernel tree: $YNL"
ynl() { python3 "$YNL" --spec "$SPEC" --no-schema --output-json "$@"; }
json_field() { # json_field <field> <json of one object>
	python3 -c 'import json, sys; print(json.loads(sys.argv[2])[sys.argv[1]])' "$1" "$2"
}

load_module || fail "insmod failed"
ifx=$(cat "/sys/class/net/$TX_IF/ifindex")
before=$(ynl --do nicmem-get --json "{\"ifindex\": $ifx}") || fail "ynl nicmem-get failed: $before"
log "ynl --do nicmem-get: $before"
[[ $(json_field ifindex "$before") == "$ifx" ]] || fail "wrong ifindex"
[[ $(json_field chunks "$before") == 256 && $(json_field chunk-size "$before") == 65536 ]] ||
	fail "expected 256 chunks of 64 KiB"
[[ $(json_field enabled "$before") == 1 ]] || fail "provider not enabled"
mib0=$(tcpext TCPNicmemTxBytes)

stream 7360 $((8 << 20)) --flags nicmem
nic=$(sent_nicmem 7360)
((nic >= (8 << 20) * 9 / 10)) || fail "only $nic bytes from NIC memory"
wait_in_use_zero "$TX_IF"

after=$(ynl --do nicmem-get --json "{\"ifindex\": $ifx}") || fail "ynl nicmem-get failed: $after"
log "after 8 MiB: $after"
d=$(($(json_field tx-bytes "$after") - $(json_field tx-bytes "$before")))
((d == nic)) || fail "tx-bytes grew by $d, the sender put $nic bytes in NIC memory"
((d == $(tcpext TCPNicmemTxBytes) - mib0)) || fail "tx-bytes +$d, TcpExt TCPNicmemTxBytes +$(($(tcpext TCPNicmemTxBytes) - mib0))"
(($(json_field allocs "$after") > $(json_field allocs "$before"))) || fail "allocs did not grow"
(($(json_field peak "$after") >= 1)) || fail "peak not counted"
[[ $(json_field in-use "$after") == 0 ]] || fail "chunks in use after the stream"
[[ $(nicmem_field "$TX_IF" tx-bytes) == "$(json_field tx-bytes "$after")" ]] ||
	fail "nicmem-state and ynl disagree: $("$BIN/nicmem-state" "$TX_IF")"

# The dump: this device once here, nothing in the receiver's namespace.
dump=$(ynl --dump nicmem-get) || fail "ynl dump failed"
n=$(python3 -c 'import json, sys; print([d["ifindex"] for d in json.loads(sys.argv[1])].count(int(sys.argv[2])))' "$dump" "$ifx")
((n == 1)) || fail "dump lists ifindex $ifx $n times: $dump"
rdump=$(rx python3 "$YNL" --spec "$SPEC" --no-schema --output-json --dump nicmem-get) || fail "ynl dump in $RX_NS failed"
[[ $rdump == "[]" ]] || fail "the receiver's namespace sees NIC memory: $rdump"

# No provider: ENODEV and a message.
lo=$(cat /sys/class/net/lo/ifindex)
if out=$(ynl --do nicmem-get --json "{\"ifindex\": $lo}" 2>&1); then
	fail "nicmem-get answered for lo: $out"
fi
log "lo: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
grep -q "No such device\|ENODEV\|-19" <<<"$out" || fail "lo: not ENODEV: $out"
grep -q "no NIC memory provider on this device" <<<"$out" || fail "lo: no extack message: $out"
"$BIN/nicmem-state" lo >/dev/null 2>&1
rc=$?
((rc == 2)) || fail "nicmem-state lo: exit $rc, expected 2 (no provider)"

rmmod "$MODNAME" || fail "rmmod failed"
if ynl --do nicmem-get --json "{\"ifindex\": $ifx}" >/dev/null 2>&1; then
	fail "nicmem-get still answers after rmmod"
fi
exit 0
