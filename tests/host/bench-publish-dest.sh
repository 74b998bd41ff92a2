#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# bench_publish_dest: each kind of benchmark run publishes to a directory
# of its own, so that no publish deletes another kind's results (a block
# profile of the key-value benchmark once went over bench/results/kv/).
set -euo pipefail
NICMEM_REPO=/repo
# shellcheck source=scripts/lib/bench.sh
source "$(dirname "$0")/../../scripts/lib/bench.sh"

fail=0
expect() { # expect <BENCH_KV> <BENCH_PROFILE> <directory>
	local got
	got=$(BENCH_KV=$1 BENCH_PROFILE=$2 bench_publish_dest)
	if [[ $got == "$3" ]]; then
		echo "ok kv=${1:-unset} profile=${2:-unset} -> $got"
	else
		echo "FAIL kv=${1:-unset} profile=${2:-unset} -> $got, expected $3"
		fail=1
	fi
}
expect "" "" /repo/bench/results
expect "" 1 /repo/bench/results/profile
expect 1 "" /repo/bench/results/kv
expect 1 1 /repo/bench/results/kv/profile
exit "$fail"
