#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The benchmark inside the guest ('scripts/nicmem bench'): sets up the
# emulated wire, the NIC memory provider and the servers behind the second
# NIC, pins the sender side to CPU 0 and the peer side to CPU 1 (processes
# and the interrupts of each NIC), then runs the instruction counts
# (bench/count.sh, when QEMU has the counting plugin loaded) and the
# time-based comparison (bench/measure.sh). Output in $1: count.csv,
# results.csv, guest.env, and kallsyms for a block profile.
set -uo pipefail
source /nicmem/repo/tests/vm/lib/env.sh
out=${1:-/nicmem/out/bench}
mkdir -p "$out"
# BENCH_* settings given to 'scripts/nicmem bench' on the host.
# shellcheck source=/dev/null
[[ -f /nicmem/out/bench.env ]] && source /nicmem/out/bench.env
SENDER_CPU=0 PEER_CPU=1
(($(nproc) >= 2)) || {
	echo "bench: the guest has $(nproc) CPU; sender and peer need one each" >&2
	exit 1
}

(nicmem_net_setup) || exit 1
source /tmp/nicmem-ifaces
load_module || exit 1

# pin_irqs <cpu> <iface> [netns]: the interrupts of a virtio-net NIC (its
# PCI function's MSI-X vectors) go to <cpu>.
pin_irqs() {
	local cpu=$1 ifc=$2 ns=(${3:+ip netns exec "$3"}) dev irq n=0
	dev=$("${ns[@]}" readlink -f "/sys/class/net/$ifc/device") || return 1
	dev=${dev%/virtio*}
	for irq in "$dev"/msi_irqs/*; do
		[[ -e $irq ]] || continue
		echo "$cpu" >"/proc/irq/${irq##*/}/smp_affinity_list" || return 1
		n=$((n + 1))
	done
	((n > 0)) && echo "# interrupts of $ifc ($n) on CPU $cpu"
}
pin_irqs "$SENDER_CPU" "$TX_IF" || echo "bench: cannot pin the interrupts of $TX_IF" >&2
pin_irqs "$PEER_CPU" "$RX_IF" "$RX_NS" || echo "bench: cannot pin the interrupts of $RX_IF" >&2

rx taskset -c "$PEER_CPU" netserver -p 12865 >/dev/null 2>&1
rx taskset -c "$PEER_CPU" "$BIN/nicmem-bench" sink 0.0.0.0:7900 >/dev/null 2>&1 &
rx taskset -c "$PEER_CPU" "$BIN/nicmem-bench" echo 0.0.0.0:7901 >/dev/null 2>&1 &
wait_listen 12865
wait_listen 7900
wait_listen 7901

if [[ ${BENCH_PROFILE:-} == 1 ]]; then
	# A block profile maps addresses to functions with these.
	cat /proc/kallsyms >"$out/kallsyms"
fi
if [[ ${BENCH_KV:-} == 1 ]]; then
	SENDER_CPU=$SENDER_CPU PEER_CPU=$PEER_CPU /nicmem/repo/bench/kv.sh "$out" || exit 1
else
	if [[ ${BENCH_COUNT:-} == 1 ]]; then
		PEER=$RX_ADDR BIN=$BIN SENDER_CPU=$SENDER_CPU /nicmem/repo/bench/count.sh "$out"
	fi
	if [[ ${BENCH_TIMED:-1} == 1 ]]; then
		PEER=$RX_ADDR BIN=$BIN SENDER_CPU=$SENDER_CPU /nicmem/repo/bench/measure.sh "$out"
	fi
fi

{
	echo "kernel=$(uname -r)"
	echo "guest_cpus=$(nproc) sender_cpu=$SENDER_CPU peer_cpu=$PEER_CPU"
	if [[ ${BENCH_KV:-} == 1 ]]; then
		# bench/kv.sh's own defaults.
		echo "kv: seconds_per_run=${BENCH_SECONDS:-2} reps=${BENCH_REPS:-5} count_reps=${BENCH_COUNT_REPS:-5} seed=${BENCH_SEED:-1}" \
			"sizes=${BENCH_KV_SIZES:-64 1024 4096 16384 65536} keys=${BENCH_KV_KEYS:-16} conns=${BENCH_KV_CONNS:-4}" \
			"counted_gets=${BENCH_KV_REQUESTS:-2000} memcached=$(memcached -V 2>/dev/null | cut -d' ' -f2)"
	else
		echo "seconds_per_run=${BENCH_SECONDS:-2} reps=${BENCH_REPS:-5} count_reps=${BENCH_COUNT_REPS:-11} seed=${BENCH_SEED:-1}"
	fi
	echo "nic=$TX_IF -> $RX_IF (virtio-net on vnet_hdr taps, QEMU $(cat /sys/class/dmi/id/product_name 2>/dev/null || echo pc))"
	echo "nicmem=$("$BIN/nicmem-state" "$TX_IF" | tr '\n' ' ')"
} >"$out/guest.env"
nicmem_cleanup >/dev/null 2>&1
