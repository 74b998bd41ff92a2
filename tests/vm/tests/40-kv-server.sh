#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The memcached-protocol example (examples/kv): GETs answered with
# MSG_NICMEM leave from NIC memory, every value intact; with resident
# values, every reply byte leaves from NIC memory by reference, none copied;
# plain and MSG_ZEROCOPY replies are intact too; and the load generator that the
# benchmark uses judges the real memcached alike (so a comparison with it
# compares servers, not clients).
source "$(dirname "$0")/../lib/env.sh"
source "$(dirname "$0")/../lib/xstream.sh"
dmesg -C
load_module || fail "insmod failed"

# load <port> <value-size> <requests>: GETs from RX_NS, every value checked
load() {
	rx "$BIN/nicmem-kv-load" "$TX_ADDR:$1" --value-size "$2" --keys 16 --requests "$3" --conns 2 --seed "$2" \
		>"/tmp/kvload.$1" 2>&1 || fail "port $1, values of $2 B: $(cat "/tmp/kvload.$1")"
	grep -q "gets=$3 misses=0 mismatches=0 " "/tmp/kvload.$1" || fail "port $1: $(cat "/tmp/kvload.$1")"
	log "port $1, $2-byte values: $(cat "/tmp/kvload.$1")"
}
field() { sed -n "s/.* $2=\([0-9.]*\).*/\1/p" "/tmp/kvload.$1"; }

port=7400
for mode in nicmem resident plain zerocopy; do
	"$BIN/nicmem-kv-server" --listen "$TX_ADDR:$port" --send "$mode" --resident-dev "$TX_IF" \
		>"/tmp/kv.$port" 2>&1 &
	pid=$!
	wait_local_listen "$port"
	for size in 64 4096 65536; do
		tx0=$(tcpext TCPNicmemTxBytes)
		fb0=$(tcpext TCPNicmemFallbackBytes)
		rs0=$(tcpext TCPNicmemResidentBytes)
		load "$port" "$size" 200
		tx=$(($(tcpext TCPNicmemTxBytes) - tx0))
		fb=$(($(tcpext TCPNicmemFallbackBytes) - fb0))
		rs=$(($(tcpext TCPNicmemResidentBytes) - rs0))
		got=$(field "$port" value_bytes)
		((got == 200 * size)) || fail "port $port: $got value bytes received, expected $((200 * size))"
		if [[ $mode == nicmem ]]; then
			# Every reply (header, value, END) left from NIC memory.
			((tx >= got && fb == 0)) || fail "$mode: $tx bytes from NIC memory, $fb fallen back, for $got value bytes"
		elif [[ $mode == resident ]]; then
			# Every reply byte (header, value, END) by reference, none copied.
			((rs >= got && tx == 0 && fb == 0)) ||
				fail "$mode: $rs bytes by reference, $tx copied into NIC memory, $fb fallen back, for $got value bytes"
			grep -q 'resident NIC memory' "/tmp/kv.$port" || fail "$mode: $(cat "/tmp/kv.$port")"
		else
			((tx == 0 && rs == 0)) || fail "$mode: $tx bytes from NIC memory, $rs by reference"
		fi
	done
	kill "$pid"
	wait "$pid" 2>/dev/null
	port=$((port + 1))
done
no_kernel_problem

# The real memcached, with the same load generator.
command -v memcached >/dev/null || fail "memcached not installed (scripts/config/buildroot.packages)"
memcached -u root -l "$TX_ADDR" -p "$port" -U 0 -t 2 -m 64 >/tmp/memcached.log 2>&1 &
pid=$!
wait_local_listen "$port"
for size in 64 65536; do
	load "$port" "$size" 200
done
kill "$pid"
wait "$pid" 2>/dev/null

# Nothing left in NIC memory once the servers are gone.
unload_module || fail "rmmod failed"
no_kernel_problem
