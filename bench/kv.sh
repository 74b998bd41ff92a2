#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The key-value benchmark in the guest (scripts/nicmem bench --kv): GETs
# from nicmem-kv-load (in RX_NS, on PEER_CPU) to servers on this side (on
# SENDER_CPU, whose NIC has the NIC memory provider): the real memcached
# (plain send, the reference) and nicmem-kv-server with plain send,
# MSG_NICMEM, MSG_ZEROCOPY and resident values (kept in an arena of NIC
# memory, sent by reference). Every GET's value is checked by the load
# generator; a run that sees a miss or a wrong byte fails the benchmark.
#
# For every repetition, value sizes and servers run in a seeded random
# order (bench/order.sh):
#   - counted, when QEMU has the plugin loaded (BENCH_COUNT=1): a fixed
#     number of GETs between markers, one connection at a time (count.csv,
#     kind kv; instructions per GET in bench/report.py);
#   - timed: BENCH_SECONDS of GETs from BENCH_KV_CONNS connections
#     (kv.csv: requests per second, p50 and p99 latency).
#
#   bench/kv.sh <out-dir>
#
# Environment: TX_ADDR (the servers' address), BIN, SENDER_CPU, PEER_CPU,
# BENCH_KV_SIZES (64 1024 4096 16384 65536), BENCH_KV_KEYS (16: the hot
# set, 1 MiB at 64 KiB, fits the NIC memory), BENCH_KV_CONNS (4),
# BENCH_KV_REQUESTS (counted GETs per run, 2000), BENCH_REPS (5),
# BENCH_COUNT_REPS (5 here), BENCH_SECONDS (2), BENCH_SEED.
set -uo pipefail
source /nicmem/repo/tests/vm/lib/env.sh
# shellcheck source=bench/order.sh
source "$(dirname "${BASH_SOURCE[0]}")/order.sh"
out=${1:?usage: bench/kv.sh <out-dir>}
mkdir -p "$out"
SIZES=${BENCH_KV_SIZES:-"64 1024 4096 16384 65536"}
KEYS=${BENCH_KV_KEYS:-16}
CONNS=${BENCH_KV_CONNS:-4}
REQS=${BENCH_KV_REQUESTS:-2000}
REPS=${BENCH_REPS:-5}
COUNT_REPS=${BENCH_COUNT_REPS:-5}
SECS=${BENCH_SECONDS:-2}
SCPU=${SENDER_CPU:-0} PCPU=${PEER_CPU:-1}
SERVERS=(memcached plain nicmem zerocopy resident)
declare -A PORT=([memcached]=11211 [plain]=11212 [nicmem]=11213 [zerocopy]=11214 [resident]=11215)

command -v memcached >/dev/null || {
	echo "bench/kv.sh: memcached not installed (scripts/config/buildroot.packages)" >&2
	exit 1
}
for f in nicmem-kv-server nicmem-kv-load; do
	[[ -x $BIN/$f ]] || {
		echo "bench/kv.sh: $BIN/$f not built (scripts/nicmem guest)" >&2
		exit 1
	}
done

pids=()
taskset -c "$SCPU" memcached -u root -l "$TX_ADDR" -p "${PORT[memcached]}" -U 0 -m 256 \
	-I 1m >"$out/memcached.log" 2>&1 &
pids+=($!)
for m in plain nicmem zerocopy resident; do
	# The hot set (BENCH_KV_KEYS values of the largest size) fits the
	# resident server's 4 MiB of NIC memory.
	taskset -c "$SCPU" "$BIN/nicmem-kv-server" --listen "$TX_ADDR:${PORT[$m]}" --send "$m" --memory 256 \
		--resident-dev "$TX_IF" --resident-kib 4096 >"$out/kv-server.$m.log" 2>&1 &
	pids+=($!)
done
trap 'kill "${pids[@]}" 2>/dev/null' EXIT
for m in "${SERVERS[@]}"; do wait_local_listen "${PORT[$m]}"; done
echo "# kv servers: memcached $(memcached -V | cut -d' ' -f2), nicmem-kv-server plain/nicmem/zerocopy/resident"

counted=$out/count.csv timed=$out/kv.csv
echo "run,kind,mode,size,rep,work,nicmem_bytes,fallback_bytes,zc_copied,server_cpu,resident_bytes" >"$counted"
echo "run,server,size,rep,conns,seconds,gets,rps,p50_us,p99_us,nicmem_bytes,fallback_bytes,resident_bytes" >"$timed"
run=0 trun=0

# load <server> <size> <args...>: one nicmem-kv-load run; prints its line
load() {
	local m=$1 size=$2
	shift 2
	rx taskset -c "$PCPU" "$BIN/nicmem-kv-load" "$TX_ADDR:${PORT[$m]}" --value-size "$size" \
		--keys "$KEYS" --seed "$size" "$@" 2>>"$out/kv.err"
}
field() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p" <<<"$2"; }

one() { # one <count|time> <server> <size> <rep>
	local kind=$1 m=$2 size=$3 rep=$4 line tx0 fb0 rs0 tx fb rs
	tx0=$(tcpext TCPNicmemTxBytes) fb0=$(tcpext TCPNicmemFallbackBytes) rs0=$(tcpext TCPNicmemResidentBytes)
	if [[ $kind == count ]]; then
		line=$(load "$m" "$size" --conns 1 --requests "$REQS" --markers)
	else
		line=$(load "$m" "$size" --conns "$CONNS" --seconds "$SECS")
	fi
	local rc=$?
	tx=$(($(tcpext TCPNicmemTxBytes) - tx0)) fb=$(($(tcpext TCPNicmemFallbackBytes) - fb0))
	rs=$(($(tcpext TCPNicmemResidentBytes) - rs0))
	if ((rc != 0)) || [[ -z $line ]]; then
		echo "bench/kv.sh: $kind $m $size B failed: $line $(tail -n1 "$out/kv.err")" >&2
		exit 1
	fi
	if [[ $kind == count ]]; then
		# A failed run left no marker pair, so rows and pairs stay paired.
		echo "$run,kv,$m,$size,$rep,$REQS,$tx,$fb,0,$SCPU,$rs" >>"$counted"
		run=$((run + 1))
	else
		echo "$trun,$m,$size,$rep,$CONNS,$(field seconds "$line"),$(field gets "$line"),$(field rps "$line"),$(field p50_us "$line"),$(field p99_us "$line"),$tx,$fb,$rs" >>"$timed"
		trun=$((trun + 1))
	fi
}

# rep_of <count|time> <rep>: every size and server once, shuffled.
rep_of() {
	local kind=$1 rep=$2 sizes size m
	# shellcheck disable=SC2086 # one word per size
	shuffle $SIZES
	sizes=("${SHUF[@]}")
	for size in "${sizes[@]}"; do
		echo "# kv $kind rep $rep size $size"
		shuffle "${SERVERS[@]}"
		for m in "${SHUF[@]}"; do
			one "$kind" "$m" "$size" "$rep"
		done
	done
}

# Warm-up (rep 0, left out of the report).
for m in "${SERVERS[@]}"; do one time "$m" 4096 0; done
if [[ ${BENCH_COUNT:-} == 1 ]]; then
	for m in "${SERVERS[@]}"; do one count "$m" 4096 0; done
	for rep in $(seq 1 "$COUNT_REPS"); do rep_of count "$rep"; done
fi
if [[ ${BENCH_TIMED:-1} == 1 ]]; then
	for rep in $(seq 1 "$REPS"); do rep_of time "$rep"; done
fi
echo "# kv: $run counted runs, $trun timed runs"
