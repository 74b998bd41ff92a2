# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# The order of the benchmark's runs, sourced by bench/measure.sh and
# bench/count.sh: modes and sizes are shuffled for every repetition, from a
# seed (BENCH_SEED, default 1), so that a warm-up or a drift of the machine
# does not land on one mode every time and a run can be repeated exactly.
RANDOM=${BENCH_SEED:-1}

# shuffle <items...>: sets SHUF to the items in a random order. It runs in
# the caller's shell: a subshell would reseed RANDOM.
shuffle() {
	local i j t
	SHUF=("$@")
	for ((i = ${#SHUF[@]} - 1; i > 0; i--)); do
		j=$((RANDOM % (i + 1)))
		t=${SHUF[i]} SHUF[i]=${SHUF[j]} SHUF[j]=$t
	done
}
