#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The benchmark inside the guest ('scripts/nicmem bench'): sets up the
# emulated wire, the NIC memory provider and the servers behind the second
# NIC, then runs bench/measure.sh against them. Output: $1/results.csv,
# profiles and environment.txt.
set -uo pipefail
source /nicmem/repo/tests/vm/lib/env.sh
out=${1:-/nicmem/out/bench}
mkdir -p "$out"
# BENCH_* settings given to 'scripts/nicmem bench' on the host.
# shellcheck source=/dev/null
[[ -f /nicmem/out/bench.env ]] && source /nicmem/out/bench.env

(nicmem_net_setup) || exit 1
source /tmp/nicmem-ifaces
load_module || exit 1
rx netserver -p 12865 >/dev/null 2>&1
rx "$BIN/nicmem-bench" sink 0.0.0.0:7900 >/dev/null 2>&1 &
wait_listen 12865
wait_listen 7900

PEER=$RX_ADDR BIN=$BIN /nicmem/repo/bench/measure.sh "$out"

{
	echo "kernel=$(uname -r)"
	echo "cpus=$(nproc)"
	echo "seconds_per_run=${BENCH_SECONDS:-2} reps=${BENCH_REPS:-3}"
	echo "nic=$TX_IF -> $RX_IF (virtio-net, QEMU $(cat /sys/class/dmi/id/product_name 2>/dev/null || echo pc))"
	"$BIN/nicmem-state" "$TX_IF" | sed 's/^/nicmem=/'
} >"$out/environment.txt"
nicmem_cleanup >/dev/null 2>&1
