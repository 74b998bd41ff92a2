# SPDX-License-Identifier: GPL-2.0
# Streams with socket options (TCP-MD5, TCP-AO, kTLS, DF) through
# tests/vm/lib/tcpx.py, and waits with a bound. Sourced after env.sh.

TCPX=$NICMEM_REPO/tests/vm/lib/tcpx.py

# xstream_start <port> <recv-args> -- <send-args...>: receiver in RX_NS and
# sender in the background; their output in /tmp/recv.<port> and
# /tmp/send.<port>; sets XRPID and XSPID.
xstream_start() {
	local port=$1 rargs=$2
	shift 3
	# shellcheck disable=SC2086
	rx python3 "$TCPX" recv "$port" $rargs >"/tmp/recv.$port" 2>&1 &
	XRPID=$!
	wait_listen "$port"
	python3 "$TCPX" send "$RX_ADDR" "$port" "$@" >"/tmp/send.$port" 2>&1 &
	XSPID=$!
}

# xstream_end <port>: the sender of xstream_start ends within 120 s and its
# receiver 30 s later, both successfully.
xstream_end() {
	local port=$1
	wait_pid_for "$XSPID" 120 || fail "port $port: sender still running after 120 s (stall): $(cat "/tmp/send.$port")"
	wait "$XSPID" || fail "port $port: sender failed: $(cat "/tmp/send.$port")"
	wait_pid_for "$XRPID" 30 || fail "port $port: receiver still running"
	wait "$XRPID" || fail "port $port: receiver failed: $(cat "/tmp/recv.$port")"
}

# xstream_aborted <port> <what>: the sender of xstream_start failed with
# ECONNABORTED and its peer was reset (see peer_reset); reaps the receiver.
xstream_aborted() {
	grep -q 'errno=103 (ECONNABORTED)' "/tmp/send.$1" ||
		fail "$2: not aborted with ECONNABORTED: $(cat "/tmp/send.$1")"
	peer_reset "$1"
	kill "$XRPID" 2>/dev/null
	wait "$XRPID" 2>/dev/null
}

# xstream <port> <bytes> <recv-args> -- <send-args...>: a whole stream that
# must arrive intact (both hashes equal) within 120 s.
xstream() {
	local port=$1 bytes=$2 rargs=$3
	shift 4
	xstream_start "$port" "$rargs" -- --bytes "$bytes" "$@"
	xstream_end "$port"
	check_stream "$port" "$bytes"
}

# wait_pid_for <pid> <seconds>: true once the process is gone.
wait_pid_for() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

# no_kernel_problem: nothing in dmesg that means the kernel broke.
no_kernel_problem() {
	if dmesg | grep -qE 'BUG:|WARNING:|Oops|refcount_t:|KASAN|possible .*locking|inconsistent lock'; then
		fail "kernel problem: $(dmesg | grep -E 'BUG:|WARNING:|Oops|refcount_t:|KASAN|possible .*locking|inconsistent lock' | head -3)"
	fi
}

# nic_remove: hot-unplug TX_IF's PCI device (its NIC memory is revoked).
nic_remove() {
	local pcidev
	pcidev=$(readlink -f "/sys/class/net/$TX_IF/device")
	pcidev=${pcidev%/virtio*}
	echo 1 >"$pcidev/remove" || fail "cannot remove $pcidev"
}

# nic_back: rescan the PCI bus and set TX_IF up again (maybe a new name).
nic_back() {
	local tx='' i
	echo 1 >/sys/bus/pci/rescan
	for i in $(seq 1 50); do
		tx=$(iface_by_mac "$TX_MAC") && break
		sleep 0.1
	done
	[[ -n $tx ]] || fail "NIC did not come back after rescan"
	ip addr add "$TX_ADDR/24" dev "$tx"
	ip addr add "$TX_ADDR6/64" dev "$tx" nodad
	ip link set "$tx" up
	sed -i "s/^TX_IF=[^ ]*/TX_IF=$tx/" /tmp/nicmem-ifaces
	TX_IF=$tx
	wait_ping "$RX_ADDR" || fail "no ping after the NIC came back"
}

ivshmem_device() { # the PCI address of the ivshmem-plain device (the emulated NIC memory)
	local d
	for d in /sys/bus/pci/devices/*; do
		if [[ $(cat "$d/vendor") == 0x1af4 && $(cat "$d/device") == 0x1110 ]]; then
			echo "${d##*/}"
			return 0
		fi
	done
	return 1
}
