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
# The module built for the kernel that booted (scripts/lib/vm.sh passes it).
export MODULE=${NICMEM_MODULE:-/nicmem/work/module/rust-mlx5-nicmem/mlx5_nicmem.ko}
export MODNAME=mlx5_nicmem
export OUT=/nicmem/out
# nicmem_field, tcpext, stream_sum, wait_ping
# shellcheck source=scripts/lib/readings.sh
source "$NICMEM_REPO/scripts/lib/readings.sh"

log() { echo "$*" >&2; }
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
skip() {
	echo "SKIP: $*" >&2
	exit 4
}

iface_by_mac() { # iface_by_mac <mac>
	local d
	for d in /sys/class/net/*; do
		[[ -f $d/address ]] || continue
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
	# Let tests ask for send buffers larger than the NIC memory.
	sysctl -qw net.core.wmem_max=33554432 net.core.rmem_max=33554432
	wait_ping "$RX_ADDR" || fail "no ping from $TX_ADDR to $RX_ADDR across the emulated wire"
}

# TX_IF / RX_IF as set up by nicmem_net_setup.
# shellcheck source=/dev/null
[[ -f /tmp/nicmem-ifaces ]] && source /tmp/nicmem-ifaces
export TX_IF=${TX_IF:-} RX_IF=${RX_IF:-}

rx() { ip netns exec "$RX_NS" "$@"; }

# Counter helpers.
rx_bytes() { rx cat "/sys/class/net/$RX_IF/statistics/rx_bytes"; }

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

wait_listen() { # wait_listen <port>: something listens on it in RX_NS
	local i
	for i in $(seq 1 100); do
		rx ss -Hltn "sport = :$1" | grep -q . && return 0
		sleep 0.1
	done
	fail "nothing listens on port $1 in $RX_NS"
}

wait_local_listen() { # wait_local_listen <port>: something listens on it in this namespace
	for _ in $(seq 1 100); do
		ss -Hltn "sport = :$1" | grep -q . && return 0
		sleep 0.1
	done
	fail "nothing listens on port $1"
}

# host_request <request>: asks the host (scripts/lib/vm.sh vm_host_helper)
# about the NIC memory backing file and prints its answer, or "timeout".
host_request() {
	local id=$$-$RANDOM i
	echo "$1" >"$OUT/hostcheck.$id.req.tmp"
	mv "$OUT/hostcheck.$id.req.tmp" "$OUT/hostcheck.$id.req"
	for i in $(seq 1 150); do
		if [[ -f $OUT/hostcheck.$id.res ]]; then
			cat "$OUT/hostcheck.$id.res"
			rm -f "$OUT/hostcheck.$id.res"
			return 0
		fi
		sleep 0.1
	done
	echo timeout
}

# host_has_pattern <hex>: whether the backing file holds these bytes right
# now: found or absent.
host_has_pattern() { host_request "$1"; }

# host_patch <hex> <hex>: overwrite every occurrence of the first bytes with
# the second (same length) in the backing file: "patched N".
host_patch() { host_request "patch $1 $2"; }

# stream <port> <bytes> <send-args...>: one hashed stream across the wire
# (receiver in RX_NS); fails unless both ends agree. Leaves the sender's
# output in /tmp/send.<port> and the receiver's in /tmp/recv.<port>.
# RECV_ARGS adds receiver options, DST the destination address; a sender
# still running after STREAM_TIMEOUT seconds (120) is a stall and fails.
stream() {
	local port=$1 bytes=$2
	shift 2
	rx "$BIN/nicmem-stream" recv "${LISTEN:-0.0.0.0}:$port" ${RECV_ARGS:-} >"/tmp/recv.$port" 2>&1 &
	local rpid=$!
	wait_listen "$port"
	local rc=0
	timeout "${STREAM_TIMEOUT:-120}" "$BIN/nicmem-stream" send "${DST:-$RX_ADDR}:$port" --bytes "$bytes" "$@" \
		>"/tmp/send.$port" 2>&1 || rc=$?
	((rc != 124)) || fail "port $port: sender still running after ${STREAM_TIMEOUT:-120} s (stall): $(cat "/tmp/send.$port")"
	((rc == 0)) || fail "sender failed: $(cat "/tmp/send.$port")"
	wait "$rpid" || fail "receiver failed: $(cat "/tmp/recv.$port")"
	check_stream "$port" "$bytes"
}

check_stream() { # check_stream <port> <bytes>
	local s r
	s=$(stream_sum send "/tmp/send.$1")
	r=$(stream_sum recv "/tmp/recv.$1")
	[[ -n $s && $s == "$r" ]] || fail "port $1: sent '$s' but received '$r'"
	[[ ${s%% *} -eq $2 ]] || fail "port $1: sent ${s%% *} bytes, expected $2"
	log "port $1: $2 bytes, sha256 ${s#* } on both ends"
}

# sent_nicmem <port>: the sender's bytes from NIC memory (TCP_NICMEM_INFO)
sent_nicmem() { sed -n 's/^nicmem bytes=\([0-9]*\).*/\1/p' "/tmp/send.$1"; }
sent_fallback() { sed -n 's/^nicmem bytes=[0-9]* fallback=\([0-9]*\).*/\1/p' "/tmp/send.$1"; }
sent_reason() { # sent_reason <port> <reason>
	sed -n "s/^nicmem .* $2=\([0-9]*\).*/\1/p" "/tmp/send.$1" | grep . || echo 0
}

held_stream() { # held_stream <port> <bytes> <delay-ms>: a MSG_NICMEM stream whose receiver reads nothing for <delay-ms>
	# Its data sits in NIC memory; sets HRPID and HSPID (receiver, sender).
	rx "$BIN/nicmem-stream" recv "0.0.0.0:$1" --rcvbuf 65536 --delay-ms "$3" >"/tmp/recv.$1" 2>&1 &
	HRPID=$!
	wait_listen "$1"
	"$BIN/nicmem-stream" send "$RX_ADDR:$1" --bytes "$2" --flags nicmem --sndbuf 8388608 >"/tmp/send.$1" 2>&1 &
	HSPID=$!
}

has_provider() { # has_provider <iface>: nicmem-get answers for it
	"$BIN/nicmem-state" "$1" >/dev/null
}
debug_providers() { # every provider, also those whose device is gone ("-"), one line each
	tail -n +2 /sys/kernel/debug/nicmem
}
in_use_of() { # in_use_of <iface|->: chunks in use ("-": of the providers whose device is gone)
	if [[ $1 == - ]]; then
		nicmem_debug_field - in_use | awk '{ s += $1 } END { print s + 0 }'
	else
		nicmem_field "$1" in-use
	fi
}

wait_in_use() { # wait_in_use <iface> <min>: prints the chunks in use once at least <min> (at most 30 s)
	local i v=0
	for i in $(seq 1 300); do
		v=$(in_use_of "$1")
		((${v:-0} >= $2)) && break
		sleep 0.1
	done
	echo "${v:-0}"
}

peer_reset() { # peer_reset <port>...: the sender aborted these ports' connections; their peers must hear of it
	# The aborting side sends an RST (as tcp_abort() does), so within 10 s
	# the receiver in RX_NS has no established connection on <port> left; a
	# peer that is not told would wait forever on a dead connection. One ss
	# per look for all ports: process starts are slow on the debug guest.
	local i p filter=""
	for p in "$@"; do
		filter+="${filter:+ or }sport = :$p"
	done
	for i in $(seq 1 100); do
		[[ -z $(rx ss -Htn state established "( $filter )") ]] && return 0
		sleep 0.1
	done
	fail "port(s) $*: the sender aborted, but 10 s later the receiver's connection is still established (no RST sent): $(rx ss -Htni state established "( $filter )" | tr '\n' ' ')"
}

wait_in_use_zero() { # wait_in_use_zero <iface>: within 30 s, or fail with where the data sits
	# Chunks are freed when the last skb holding them is: the socket's queues
	# at close, a clone when the driver completes it.
	local i v
	for i in $(seq 1 300); do
		v=$(in_use_of "$1")
		[[ $v == 0 ]] && return 0
		sleep 0.1
	done
	log "$(cat /sys/kernel/debug/nicmem 2>&1)"
	log "$(ss -tanmi 2>&1 | tail -n 20)"
	log "$(tc -s qdisc show dev "$1" 2>&1)"
	log "inflight (BQL): $(cat /sys/class/net/"$1"/queues/tx-*/byte_queue_limits/inflight 2>&1 | tr '\n' ' ')"
	fail "NIC memory still in use on $1 after the sockets closed: $v chunks"
}
