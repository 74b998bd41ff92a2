#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The measurement loop of the benchmark: plain send vs MSG_NICMEM vs
# MSG_ZEROCOPY from this host to PEER, with CPU cost. Used in the guest by
# bench/run-guest.sh, and by hand on ConnectX hosts (PEER and BIN below).
#
#   netperf TCP_STREAM / TCP_RR   plain, and MSG_NICMEM through
#                                 libnicmem_preload.so (netperf unmodified)
#   nicmem-bench stream           plain, MSG_NICMEM and MSG_ZEROCOPY (netperf
#                                 cannot read zerocopy completions)
#
# Sizes and modes run in a seeded random order, shuffled again for every
# repetition (bench/order.sh), each point is repeated BENCH_REPS times, the
# sender runs on SENDER_CPU (the peer on another), and every run records
# the TcpExt NIC memory counters.
#
#   bench/measure.sh <out-dir>
#
# Environment: PEER (address of the peer, which runs 'netserver -p 12865'
# and 'nicmem-bench sink 0.0.0.0:7900'), BIN (directory of nicmem-bench and
# libnicmem_preload.so), BENCH_REPS, BENCH_SECONDS, BENCH_STREAM_SIZES,
# BENCH_RR_SIZES, SENDER_CPU. Output: <out-dir>/results.csv. Where the
# instructions go is counted exactly, not sampled: BENCH_PROFILE=1 with
# scripts/nicmem bench (bench/count.sh).
set -uo pipefail
# shellcheck source=scripts/lib/readings.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/readings.sh"
# shellcheck source=bench/order.sh
source "$(dirname "${BASH_SOURCE[0]}")/order.sh"
out=${1:?usage: bench/measure.sh <out-dir>}
: "${PEER:?PEER must name the peer address}" "${BIN:?BIN must name the directory of the userspace binaries}"
mkdir -p "$out"
REPS=${BENCH_REPS:-5}
CPU=${SENDER_CPU:-0}
SECS=${BENCH_SECONDS:-2}
STREAM_SIZES=${BENCH_STREAM_SIZES:-"64 256 1024 4096 16384 65536 262144 1048576"}
RR_SIZES=${BENCH_RR_SIZES:-"1 64 1024 4096"}
PRELOAD=$BIN/libnicmem_preload.so
for f in "$BIN/nicmem-bench" "$PRELOAD"; do
	[[ -e $f ]] || {
		echo "bench: missing $f (cargo build --release)" >&2
		exit 1
	}
done
command -v netperf >/dev/null || {
	echo "bench: netperf not installed" >&2
	exit 1
}

csv=$out/results.csv
echo "tool,test,mode,size,rep,throughput,unit,cpu_util_pct,service_demand,sd_unit,nicmem_bytes,fallback_bytes" >"$csv"

# TcpExt counters of the NIC memory path: bytes sent from it, bytes that
# fell back to host memory.
counters() { echo "$(tcpext TCPNicmemTxBytes) $(tcpext TCPNicmemFallbackBytes)"; }

netperf_run() { # netperf_run <test> <mode> <size> <rep>
	local test=$1 mode=$2 size=$3 rep=$4 pre=() args c0 c1 line
	[[ $mode == nicmem ]] && pre=(env LD_PRELOAD="$PRELOAD" NICMEM=on)
	if [[ $test == TCP_STREAM ]]; then
		args=(-m "$size")
	else
		args=(-r "$size,$size")
	fi
	read -r -a c0 <<<"$(counters)"
	line=$("${pre[@]}" taskset -c "$CPU" netperf -P 0 -H "$PEER" -p 12865 -t "$test" -l "$SECS" -c -- "${args[@]}" \
		-o THROUGHPUT,THROUGHPUT_UNITS,LOCAL_CPU_UTIL,LOCAL_SD,SD_UNITS 2>/dev/null | tail -n1)
	read -r -a c1 <<<"$(counters)"
	[[ -n $line ]] || {
		echo "# netperf $test $mode $size failed" >&2
		return
	}
	IFS=, read -r tput unit util sd sdunit <<<"$line"
	echo "netperf,$test,$mode,$size,$rep,$tput,$unit,$util,$sd,$sdunit,$((c1[0] - c0[0])),$((c1[1] - c0[1]))" >>"$csv"
}

bench_run() { # bench_run <mode> <size> <rep>
	local c0 c1 line
	read -r -a c0 <<<"$(counters)"
	line=$(taskset -c "$CPU" "$BIN/nicmem-bench" stream "$PEER:7900" --mode "$1" --size "$2" --seconds "$SECS" 2>>"$out/stream.err")
	read -r -a c1 <<<"$(counters)"
	[[ -n $line ]] || {
		echo "# nicmem-bench $1 $2 failed" >&2
		return
	}
	IFS=, read -r mode size _ _ mbit util sd _ _ <<<"$line"
	echo "nicmem-bench,STREAM,$mode,$size,$3,$mbit,10^6bits/s,$util,$sd,us/KB,$((c1[0] - c0[0])),$((c1[1] - c0[1]))" >>"$csv"
}

for rep in $(seq 1 "$REPS"); do
	# shellcheck disable=SC2086 # one word per size
	shuffle $STREAM_SIZES
	for size in "${SHUF[@]}"; do
		echo "# rep $rep/$REPS stream size $size"
		shuffle plain nicmem zerocopy
		for mode in "${SHUF[@]}"; do
			bench_run "$mode" "$size" "$rep"
			[[ $mode != zerocopy ]] && netperf_run TCP_STREAM "$mode" "$size" "$rep"
		done
	done
	# shellcheck disable=SC2086
	shuffle $RR_SIZES
	for size in "${SHUF[@]}"; do
		echo "# rep $rep/$REPS rr size $size"
		shuffle plain nicmem
		for mode in "${SHUF[@]}"; do
			netperf_run TCP_RR "$mode" "$size" "$rep"
		done
	done
done
echo "# results in $csv ($(($(wc -l <"$csv") - 1)) runs)"
