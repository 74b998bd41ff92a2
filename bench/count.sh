#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The instruction-count loop of the benchmark, in the guest under the QEMU
# plugin bench/insn/nicmem-insn.c: for every mode and size, fixed work
# between two markers (nicmem-bench count: N bytes to a sink and until it
# has them all; nicmem-bench rr: T transactions with an echo server). The
# plugin writes the guest's instruction counts at each marker; the host
# pairs them with the runs listed here (bench/report.py). Only TCP's own
# timing moves a count (how sends coalesce into skbs, segments and ACKs):
# about 1% for request/response, tens of percent for streams of small
# sends, hence the repetitions.
#
#   bench/count.sh <out-dir>
#
# Environment: PEER (runs 'nicmem-bench sink' on :7900 and 'nicmem-bench
# echo' on :7901), BIN, SENDER_CPU (the CPU the sender is pinned to),
# BENCH_COUNT_REPS (11), BENCH_SEED (1), BENCH_STREAM_SIZES, BENCH_RR_SIZES,
# BENCH_COUNT_BYTES (bytes per stream run, 8 MiB; 2 MiB below 1 KiB sends),
# BENCH_COUNT_TRANSACTIONS (2000), BENCH_PROFILE (1: one repetition).
# Output: <out-dir>/count.csv, one line per completed run, in the order of
# their markers: run,kind,mode,size,rep,work,nicmem_bytes,fallback_bytes,zc_copied
set -uo pipefail
out=${1:?usage: bench/count.sh <out-dir>}
: "${PEER:?PEER must name the peer address}" "${BIN:?BIN must name the directory of the userspace binaries}"
mkdir -p "$out"
REPS=${BENCH_COUNT_REPS:-11}
# A block profile (BENCH_PROFILE=1) is exact in one repetition.
[[ ${BENCH_PROFILE:-} == 1 ]] && REPS=1
STREAM_SIZES=${BENCH_STREAM_SIZES:-"64 256 1024 4096 16384 65536 262144 1048576"}
RR_SIZES=${BENCH_RR_SIZES:-"1 64 1024 4096"}
BYTES=${BENCH_COUNT_BYTES:-$((8 << 20))}
TRANS=${BENCH_COUNT_TRANSACTIONS:-2000}
CPU=${SENDER_CPU:-0}
# shellcheck source=bench/order.sh
source "$(dirname "${BASH_SOURCE[0]}")/order.sh"

csv=$out/count.csv
echo "run,kind,mode,size,rep,work,nicmem_bytes,fallback_bytes,zc_copied" >"$csv"
run=0

count_run() { # count_run <stream|rr> <mode> <size> <rep>
	local kind=$1 mode=$2 size=$3 rep=$4 line work
	if [[ $kind == stream ]]; then
		work=$BYTES
		((size < 1024 && BYTES > 2 << 20)) && work=$((2 << 20))
		line=$(taskset -c "$CPU" "$BIN/nicmem-bench" count "$PEER:7900" --mode "$mode" --size "$size" \
			--bytes "$work" 2>>"$out/count.err")
	else
		work=$TRANS
		line=$(taskset -c "$CPU" "$BIN/nicmem-bench" rr "$PEER:7901" --mode "$mode" --size "$size" \
			--transactions "$work" 2>>"$out/count.err")
	fi
	if [[ -z $line ]]; then
		echo "# count $kind $mode $size failed: $(tail -n1 "$out/count.err")" >&2
		return
	fi
	local nb fb zc=0
	if [[ $kind == stream ]]; then
		IFS=, read -r _ _ _ _ nb fb zc <<<"$line"
	else
		IFS=, read -r _ _ _ nb fb <<<"$line"
	fi
	echo "$run,$kind,$mode,$size,$rep,$work,$nb,$fb,$zc" >>"$csv"
	run=$((run + 1))
}

# Warm-up (rep 0, left out of the report): the first connections of a boot
# fault in code and fill caches that later runs find ready.
for mode in plain nicmem zerocopy; do
	count_run stream "$mode" 65536 0
done
# count_rep <kind> <rep> <sizes...>: every size and mode once, shuffled.
count_rep() {
	local kind=$1 rep=$2 sizes size mode
	shift 2
	shuffle "$@"
	sizes=("${SHUF[@]}")
	for size in "${sizes[@]}"; do
		echo "# count rep $rep/$REPS $kind size $size"
		shuffle plain nicmem zerocopy
		for mode in "${SHUF[@]}"; do
			count_run "$kind" "$mode" "$size" "$rep"
		done
	done
}
for rep in $(seq 1 "$REPS"); do
	# shellcheck disable=SC2086 # one word per size
	count_rep stream "$rep" $STREAM_SIZES
	# shellcheck disable=SC2086
	count_rep rr "$rep" $RR_SIZES
done
echo "# counted runs in $csv ($run)"
