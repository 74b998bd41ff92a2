# SPDX-License-Identifier: GPL-2.0
# Shared by the in-guest tests: names, addresses and helpers.
#
# The guest has two virtio-net NICs on one emulated wire (two taps on a
# bridge on the host): TX_IF (MAC ..:01) stays in the initial namespace with
# the NIC memory provider; RX_IF (MAC ..:02) moves into the namespace RX_NS.

export TX_MAC=52:54:00:77:00:01 RX_MAC=52:54:00:77:00:02
export RX_NS=rx
export TX_ADDR=10.77.0.1 RX_ADDR=10.77.0.2
export TX_ADDR6=fd77::1 RX_ADDR6=fd77::2
export NICMEM_REPO=/nicmem/repo
export BIN=/nicmem/work/guest/target/release
export MODULE=/nicmem/work/module/rust-mlx5-nicmem/mlx5_nicmem.ko
export MODNAME=mlx5_nicmem
export OUT=/nicmem/out

log() { echo "$*" >&2; }
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
skip() {
	echo "SKIP: $*" >&2
	exit 4
}

iface_by_mac() { # iface_by_mac <mac> [netns]
	local d
	for d in /sys/class/net/*; do
		[[ $(cat "$d/address") == "$1" ]] && basename "$d" && return 0
	done
	return 1
}

nicmem_net_setup() {
	local tx rx
	tx=$(iface_by_mac "$TX_MAC") || fail "no NIC with MAC $TX_MAC"
	rx=$(iface_by_mac "$RX_MAC") || fail "no NIC with MAC $RX_MAC"
	ip netns add "$RX_NS"
	ip -n "$RX_NS" link set lo up
	ip link set "$rx" netns "$RX_NS"
	ip addr add "$TX_ADDR/24" dev "$tx"
	ip addr add "$TX_ADDR6/64" dev "$tx" nodad
	ip link set "$tx" up
	ip -n "$RX_NS" addr add "$RX_ADDR/24" dev "$rx"
	ip -n "$RX_NS" addr add "$RX_ADDR6/64" dev "$rx" nodad
	ip -n "$RX_NS" link set "$rx" up
	echo "TX_IF=$tx RX_IF=$rx" >/tmp/nicmem-ifaces
	local i
	for i in $(seq 1 50); do
		ping -c1 -W1 "$RX_ADDR" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	fail "no ping from $TX_ADDR to $RX_ADDR across the emulated wire"
}

# TX_IF / RX_IF as set up by nicmem_net_setup.
# shellcheck source=/dev/null
[[ -f /tmp/nicmem-ifaces ]] && source /tmp/nicmem-ifaces
export TX_IF=${TX_IF:-} RX_IF=${RX_IF:-}

rx() { ip netns exec "$RX_NS" "$@"; }

# Counter helpers.
rx_bytes() { rx cat "/sys/class/net/$RX_IF/statistics/rx_bytes"; }
tcpext() { # tcpext <name>: a TcpExt counter from /proc/net/netstat
	awk -v k="$1" '$1 == "TcpExt:" { if (!h) { split($0, n); h = 1 } else { for (i = 2; i <= NF; i++) if (n[i] == k) print $i } }' /proc/net/netstat
}
nicmem_field() { # nicmem_field <iface> <column>: from /proc/net/nicmem
	awk -v d="$1" -v c="$2" 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next } $1 == d { print $col[c] }' /proc/net/nicmem
}

module_loaded() { grep -q "^$MODNAME " /proc/modules; }
load_module() { # load_module [params...]: the provider module paired with TX_IF
	[[ -f $MODULE ]] || fail "module not built: $MODULE"
	insmod "$MODULE" "emu_ifindex=$(cat "/sys/class/net/$TX_IF/ifindex")" "$@"
}
unload_module() { module_loaded && rmmod "$MODNAME"; }

nicmem_cleanup() {
	pkill -f nicmem-stream 2>/dev/null
	pkill -f echo_server 2>/dev/null
	pkill -f nicmem-echo-server 2>/dev/null
	unload_module
}

# wait_port <ns-cmd-prefix...> : wait until something listens on $PORT in RX_NS
wait_listen() { # wait_listen <port>
	local i
	for i in $(seq 1 100); do
		rx ss -Hltn "sport = :$1" | grep -q . && return 0
		sleep 0.1
	done
	fail "nothing listens on port $1 in $RX_NS"
}
