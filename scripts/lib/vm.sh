# SPDX-License-Identifier: GPL-2.0
# scripts/nicmem guest, boot, test, demo, bench: the QEMU test machine.
#
# The guest's root file system is the build root itself, exported read-only
# over 9p: it already has bash, python3, iproute2, ethtool and netperf. The
# repo and the work directory are visible in it at /nicmem/repo and
# /nicmem/work; each run gets a writable directory, shared as /nicmem/out,
# that holds the console log, the results and the NIC memory backing file.

GUEST_INIT=/nicmem/guest-init
GUEST_TARGET=$NICMEM_WORK/guest/target
NICMEM_MEM_SIZE=${NICMEM_MEM_SIZE:-16M}
# The whole guest run; the suite takes about 37 min on the 2-core TCG machine.
NICMEM_VM_TIMEOUT=${NICMEM_VM_TIMEOUT:-3300}

cmd_guest() {
	step_begin guest
	install -D -m 0755 "$NICMEM_REPO/scripts/guest/init" "$NICMEM_BR$GUEST_INIT"
	mkdir -p "$NICMEM_BR/nicmem/out"
	msg "building the userspace workspace (examples, tools) with the build root's cargo"
	br_cargo build --quiet --locked --release --workspace >&2 ||
		die "cargo build of the userspace workspace failed"
	guest_selftests
	step_end guest
}

# Upstream selftests of the paths the series changes, built against the
# headers of the kernel the tests boot: tls (its splice and sendfile cases go
# through MSG_SPLICE_PAGES, which the series moved), msg_zerocopy, and
# ncdevmem (devmem TX through virtio_net's net_iov path), with the YNL C
# library it needs (built in the kernel tree's tools/net/ynl, for the
# ethtool and netdev families only).
GUEST_SELFTESTS=$NICMEM_WORK/guest/selftests
guest_selftests() {
	local st=$BR_WORK/linux/tools/testing/selftests out=$BR_WORK/guest/selftests
	[[ -f $NICMEM_WORK/$KB_DIR/.config ]] || die "no $NICMEM_FLAVOUR kernel configured: run 'scripts/nicmem kernel' first"
	msg "building the upstream selftests tls, msg_zerocopy and ncdevmem (headers of the $NICMEM_FLAVOUR kernel)"
	mkdir -p "$GUEST_SELFTESTS"
	kmake_logged "$GUEST_SELFTESTS/headers.log" headers || die "make headers failed; see $GUEST_SELFTESTS/headers.log"
	br_run /bin/bash -euo pipefail -c '
		st=$1 out=$2 hdr=$3 cc=$4
		$cc -O2 -Wall -isystem "$hdr" -I"$st" -o "$out/tls" "$st/net/tls.c" -lpthread
		$cc -O2 -Wall -isystem "$hdr" -I"$st" -o "$out/msg_zerocopy" "$st/net/msg_zerocopy.c"
		cp "$st/net/msg_zerocopy.sh" "$out/"
		ynl=$st/../../net/ynl
		make -s -C "$ynl" GENS="ethtool netdev" RSTS="" CC="$cc" libynl.a
		$cc -O2 -Wall -isystem "$hdr" -I"$st" -I"$ynl/lib" -I"$ynl/generated" \
			-o "$out/ncdevmem" "$st/drivers/net/hw/ncdevmem.c" "$ynl/libynl.a"
	' _ "$st" "$out" "$BR_WORK/$KB_DIR/usr/include" "clang$LLVM_SUFFIX" >"$GUEST_SELFTESTS/build.log" 2>&1 ||
		die "building the upstream selftests failed; see $GUEST_SELFTESTS/build.log: $(tail -n 3 "$GUEST_SELFTESTS/build.log" | tr '\n' ' ')"
}

# Decide between KVM and TCG once per machine: a KVM guest may hang at
# "Decompressing Linux" on these hosts, so boot a probe with a short timeout.
# Sets VM_ACCEL. (Not run in $(...): the probe's QEMU must be a job of the
# main shell, so that its traps stop it.)
vm_accel() {
	if [[ -n ${NICMEM_ACCEL:-} ]]; then
		VM_ACCEL=$NICMEM_ACCEL
		return
	fi
	local cache=$NICMEM_CACHE/accel
	if [[ -f $cache ]]; then
		VM_ACCEL=$(cat "$cache")
		return
	fi
	VM_ACCEL=tcg
	if [[ -c /dev/kvm ]]; then
		msg "probing KVM (30 s at most)"
		vm_run probe kvm 30
		if ((VM_RC == 0)) && grep -q 'NICMEM-PROBE-OK' "$VM_OUT/console.log"; then
			VM_ACCEL=kvm
		fi
	fi
	msg "accelerator: $VM_ACCEL (cached in $cache; override with NICMEM_ACCEL=kvm|tcg)"
	echo "$VM_ACCEL" >"$cache"
}

# Network namespace with a bridge and two vnet_hdr taps for the guest's NICs.
# It goes when the run ends, however it ends (AT_EXIT, scripts/lib/common.sh).
VM_NETNS=
AT_EXIT+=(vm_kill_qemu vm_net_down)
# Whatever the process tree walk missed: a QEMU of this run is found by
# its run directory, which is on its command line.
vm_kill_qemu() {
	[[ -n ${VM_OUT:-} ]] || return 0
	pkill -KILL -f -- "runs/${VM_OUT##*/}/nicmem.bin" 2>/dev/null || true
}
vm_net_up() {
	VM_NETNS=nicmem-$$
	ip netns add "$VM_NETNS" || die "cannot create network namespace $VM_NETNS (need root and CONFIG_NET_NS)"
	ip -n "$VM_NETNS" link add br0 type bridge
	local t
	for t in tap0 tap1; do
		ip -n "$VM_NETNS" tuntap add dev "$t" mode tap vnet_hdr ||
			die "cannot create tap device $t in $VM_NETNS (is /dev/net/tun usable?)"
		ip -n "$VM_NETNS" link set "$t" master br0 up
	done
	ip -n "$VM_NETNS" link set br0 up
}
vm_net_down() {
	if [[ -n $VM_NETNS ]]; then
		ip netns del "$VM_NETNS" 2>/dev/null || msg "could not remove network namespace $VM_NETNS"
	fi
	VM_NETNS=
}

# vm_run <mode> <accel> <timeout-s> [extra kernel args]: boot the guest once.
# Sets VM_OUT to the run directory and VM_RC to QEMU's status (124 on
# timeout); returns 0, so that it is called as a command of its own and
# 'set -e' holds inside.
vm_run() {
	local mode=$1 accel=$2 tmo=$3 extra=${4:-}
	local kernel=$KBUILD/arch/x86/boot/bzImage
	[[ -f $kernel ]] || die "no kernel at $kernel: run 'scripts/nicmem kernel' first"
	VM_OUT=$NICMEM_WORK/runs/$(date +%Y%m%d-%H%M%S)-$mode
	mkdir -p "$VM_OUT"
	truncate -s "$NICMEM_MEM_SIZE" "$VM_OUT/nicmem.bin"
	# Benchmark settings reach the guest through its output directory.
	local v
	for v in BENCH_REPS BENCH_SECONDS BENCH_STREAM_SIZES BENCH_RR_SIZES \
		BENCH_SEED BENCH_COUNT BENCH_TIMED BENCH_COUNT_REPS BENCH_COUNT_BYTES BENCH_COUNT_TRANSACTIONS \
		BENCH_PROFILE BENCH_KV BENCH_KV_SIZES BENCH_KV_KEYS BENCH_KV_CONNS BENCH_KV_REQUESTS; do
		if [[ -n ${!v:-} ]]; then printf 'export %s=%q\n' "$v" "${!v}"; fi
	done >"$VM_OUT/bench.env"
	# -cpu max offers LA57 under TCG; the kernel then uses 5-level paging,
	# where a KASAN kernel reports a wild access in an interrupt that
	# arrives during early boot (before our code runs) and turns lockdep
	# off: the kernel runs with no5lvl.
	local out=$BR_WORK/runs/${VM_OUT##*/} cpu=max
	if [[ $accel == kvm ]]; then cpu=host,-arch-capabilities; fi
	local qemu=(
		qemu-system-x86_64 -machine pc -accel "$accel" -cpu "$cpu" -m 2G -smp 2
		-nographic -no-reboot -nodefaults -serial stdio
		-kernel "$BR_WORK/$KB_DIR/arch/x86/boot/bzImage"
		-append "console=ttyS0 log_buf_len=4M no5lvl root=root rootfstype=9p rootflags=trans=virtio,version=9p2000.L,msize=262144,cache=loose ro init=$GUEST_INIT panic=-1 oops=panic nicmem.mode=$mode nicmem.module=$BR_WORK/$MOD_DIR/rust-mlx5-nicmem/mlx5_nicmem.ko $extra"
		-virtfs "local,path=/,mount_tag=root,security_model=none,readonly=on,multidevs=remap"
		-virtfs "local,path=$out,mount_tag=out,security_model=none,multidevs=remap"
		-netdev tap,id=n0,ifname=tap0,script=no,downscript=no,vnet_hdr=on
		-device virtio-net-pci,netdev=n0,mac=52:54:00:77:00:01,addr=0x4,romfile=
		-netdev tap,id=n1,ifname=tap1,script=no,downscript=no,vnet_hdr=on
		-device virtio-net-pci,netdev=n1,mac=52:54:00:77:00:02,addr=0x5,romfile=
		-object "memory-backend-file,id=nicmem,share=on,mem-path=$out/nicmem.bin,size=$NICMEM_MEM_SIZE"
		-device ivshmem-plain,memdev=nicmem,addr=0x6
	)
	# The benchmark's instruction counter (scripts/lib/bench.sh).
	if [[ -n ${VM_PLUGIN:-} ]]; then qemu+=(-plugin "$VM_PLUGIN,out=$out/insn.log"); fi
	vm_net_up
	VM_RC=0
	if [[ $mode == shell ]]; then
		BR_NETNS=$VM_NETNS br_run "${qemu[@]}" || VM_RC=$?
	else
		# QEMU and the helper are jobs that the exit trap stops (bg_track).
		BR_NETNS=$VM_NETNS br_run timeout -k 10 "$tmo" "${qemu[@]}" </dev/null \
			>"$VM_OUT/console.log" 2>&1 &
		local pid=$!
		bg_track "$pid"
		vm_host_helper "$pid" &
		local helper=$!
		bg_track "$helper"
		wait "$pid" || VM_RC=$?
		kill "$helper" 2>/dev/null || true
		wait "$helper" 2>/dev/null || true
		bg_untrack "$pid"
		bg_untrack "$helper"
	fi
	vm_net_down
}

# Answers the guest's requests that need the host (tests/vm/lib/env.sh
# host_has_pattern, tests/vm/lib/xstream.sh host_patch), on the NIC memory
# backing file: "<hex>": are these bytes in it right now (found/absent)?
# "patch <hex> <hex>": overwrite every occurrence of the first bytes with
# the second, in place (patched N).
vm_host_helper() {
	local qpid=$1 req
	while kill -0 "$qpid" 2>/dev/null; do
		for req in "$VM_OUT"/hostcheck.*.req; do
			[[ -f $req ]] || continue
			local id=${req%.req}
			br_run python3 - "$BR_WORK/runs/${VM_OUT##*/}/nicmem.bin" "$(cat "$req")" >"$id.tmp" <<'EOF' || echo error >"$id.tmp"
import mmap, sys
words = sys.argv[2].split()
with open(sys.argv[1], "r+b") as f, mmap.mmap(f.fileno(), 0) as m:
    if words[0] == "patch":
        old, new = bytes.fromhex(words[1]), bytes.fromhex(words[2])
        assert len(old) == len(new)
        n, i = 0, m.find(old)
        while i >= 0:
            m[i:i + len(new)] = new
            n += 1
            i = m.find(old, i + len(new))
        print("patched", n)
    else:
        print("found" if m.find(bytes.fromhex(words[0])) >= 0 else "absent")
EOF
			rm -f "$req"
			mv "$id.tmp" "$id.res"
		done
		sleep 0.2
	done
}

# What in the console means the kernel broke: panics, BUG, WARN, sanitizers,
# lockdep, RCU and sleep-in-atomic checks, kmemleak (verbose), and any stack
# dump (Call Trace:) even without one of the headers before it.
CONSOLE_BAD='Kernel panic|BUG:|Oops|WARNING:|refcount_t:|general protection fault|KASAN|UBSAN|rcu: INFO|watchdog: BUG'
CONSOLE_BAD+='|possible circular locking|possible irq lock inversion|inconsistent lock state|possible recursive locking'
CONSOLE_BAD+='|suspicious RCU usage|sleeping function called|DEBUG_LOCKS_WARN_ON|unreferenced object|Call Trace:'

# Fail loudly on anything in the console that means the kernel broke; show
# 20 lines around the first hit.
vm_check_console() { # vm_check_console <console log>
	local log=$1 n
	n=$(grep -n -m1 -E "$CONSOLE_BAD" "$log" | cut -d: -f1 || true)
	[[ -n $n ]] || return 0
	msg "kernel problem in the guest, console log line $n:"
	sed -n "$((n > 5 ? n - 5 : 1)),$((n + 14))p" "$log" | tr -d '\r' >&2
	return 1
}

vm_boot_checked() { # vm_boot_checked <mode> [extra kernel args]
	local mode=$1 rc
	vm_accel
	msg "booting the guest ($VM_ACCEL, mode $mode, timeout ${NICMEM_VM_TIMEOUT}s); console: \$NICMEM_CACHE/work/runs/.../console.log"
	local extra=${2:-}
	if [[ -n ${NICMEM_TESTS:-} ]]; then extra+=" nicmem.tests=$NICMEM_TESTS"; fi
	vm_run "$mode" "$VM_ACCEL" "$NICMEM_VM_TIMEOUT" "$extra"
	rc=$VM_RC
	msg "console log: $VM_OUT/console.log"
	if ((rc == 124)); then
		tail -n 20 "$VM_OUT/console.log" >&2
		die "guest did not finish within ${NICMEM_VM_TIMEOUT}s (hang?); console log: $VM_OUT/console.log"
	fi
	vm_check_console "$VM_OUT/console.log" || die "guest kernel reported a problem; console log: $VM_OUT/console.log"
	((rc == 0)) || die "QEMU exited with status $rc; console log: $VM_OUT/console.log"
	[[ -f $VM_OUT/done ]] || {
		tail -n 20 "$VM_OUT/console.log" >&2
		die "guest stopped before finishing (panic or crash?); console log: $VM_OUT/console.log"
	}
}

cmd_boot() {
	vm_accel
	msg "interactive guest shell ($VM_ACCEL); leave the shell (exit) to stop the guest"
	vm_run shell "$VM_ACCEL" 0 "$*"
	return "$VM_RC"
}

# The KUnit suites of rust-mlx5-nicmem (its #[kunit_tests(name)] modules)
# and their number of cases (#[test] functions): keep in step with the code.
# The module runs them at every load, and the guest suite loads it many
# times: each run of a suite must have exactly this many cases, each suite
# must run at least once (unless NICMEM_TESTS selects tests), and the KUnit
# counts add up all the runs. The kernel's own suites that run at boot
# (CONFIG_KUNIT=y) are counted too; a failed case fails the run.
KUNIT_EXPECT=(nicmem_allocator=7 nicmem_plan=5 mlx5e_nicmem=5)

# The results_* functions below read one kind of result from a run
# directory, report what failed or was skipped, and set R_PASS, R_FAIL and
# R_SKIP (R_NOTE: a remark for the breakdown line). A missing or broken
# result counts as one failure. They may run in 'if' contexts: no step
# relies on 'set -e'.

# results.tap of tests/vm/run; kmemleak.log (debug kernel) counts here too.
results_guest() { # results_guest <run dir>
	local tap=$1/results.tap leaks=$1/kmemleak.log line plan n=0
	local skip_re='^ok [0-9]+ [^#]*# SKIP( (.*))?$'
	R_PASS=0 R_FAIL=0 R_SKIP=0 R_NOTE=
	if [[ ! -s $tap ]]; then
		msg "FAILED: the guest suite wrote no results ($tap)"
		R_FAIL=1
		return 0
	fi
	while IFS= read -r line; do
		line=${line%$'\r'}
		if [[ $line =~ $skip_re ]]; then
			n=$((n + 1))
			if [[ -n ${BASH_REMATCH[2]} ]]; then
				R_SKIP=$((R_SKIP + 1))
				msg "skipped in guest: $line"
			elif [[ ${CI:-} == true ]]; then
				R_FAIL=$((R_FAIL + 1))
				msg "FAILED in guest: $line (a skip needs a 'SKIP: <reason>' line under CI)"
			else
				R_SKIP=$((R_SKIP + 1))
				msg "skipped in guest without a reason (a failure under CI=true): $line"
			fi
		elif [[ $line =~ ^ok\ [0-9]+ ]]; then
			n=$((n + 1))
			R_PASS=$((R_PASS + 1))
		elif [[ $line =~ ^not\ ok\ [0-9]+ ]]; then
			n=$((n + 1))
			R_FAIL=$((R_FAIL + 1))
			msg "FAILED in guest: $line"
		fi
	done <"$tap"
	plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\)\r\{0,1\}$/\1/p' "$tap" | head -n1)
	if [[ -z $plan ]]; then
		msg "FAILED: the guest suite wrote no plan (1..N) in $tap"
		R_FAIL=$((R_FAIL + 1))
	elif ((plan == 0)); then
		msg "FAILED: the guest suite ran no tests (plan 1..0${NICMEM_TESTS:+; NICMEM_TESTS=$NICMEM_TESTS})"
		R_FAIL=$((R_FAIL + 1))
	elif ((plan != n)); then
		msg "FAILED: the guest suite planned $plan tests but reported $n: it stopped early"
		R_FAIL=$((R_FAIL + 1))
	fi
	if [[ -s $leaks ]]; then
		msg "FAILED: kmemleak reports leaks (first lines; all in $leaks):"
		head -n 20 "$leaks" >&2
		R_FAIL=$((R_FAIL + 1))
	elif [[ ! -e $leaks && $NICMEM_FLAVOUR == debug ]]; then
		msg "FAILED: no kmemleak report from the debug kernel ($leaks): CONFIG_DEBUG_KMEMLEAK off, or the suite did not finish"
		R_FAIL=$((R_FAIL + 1))
	fi
}

# kunit.log: the KTAP lines of the guest's kernel log (tests/vm/run). awk
# prints a line per suite run, 'run <suite> <cases> <pass> <fail> <skip>
# <ok|not_ok|incomplete>', and 'fail <suite> <case>' per failed case.
results_kunit() { # results_kunit <run dir>
	local log=$1/kunit.log kind suite n p f s result e runs=0
	local -A want=() seen=() bad=()
	R_PASS=0 R_FAIL=0 R_SKIP=0 R_NOTE=
	if [[ ! -f $log ]]; then
		msg "FAILED: no KUnit log from the guest ($log)"
		R_FAIL=1
		return 0
	fi
	for e in "${KUNIT_EXPECT[@]}"; do
		want[${e%%=*}]=${e#*=}
	done
	while read -r kind suite n p f s result; do
		if [[ $kind == fail ]]; then
			msg "FAILED KUnit case: $suite: $n"
			continue
		fi
		runs=$((runs + 1))
		seen[$suite]=1
		R_PASS=$((R_PASS + p)) R_FAIL=$((R_FAIL + f)) R_SKIP=$((R_SKIP + s))
		if [[ $result == incomplete ]]; then
			msg "FAILED: KUnit suite $suite stopped after $n cases"
			R_FAIL=$((R_FAIL + 1))
		elif [[ $result == not_ok ]] && ((f == 0)); then
			msg "FAILED: KUnit suite $suite reported not ok"
			R_FAIL=$((R_FAIL + 1))
		fi
		if [[ -n ${bad[$suite]:-} ]]; then
			continue
		elif [[ -z ${want[$suite]:-} ]]; then
			# A suite of the kernel itself (built-in KUnit tests run
			# at boot): its cases count, their number is its own.
			continue
		elif ((n != want[$suite])) && [[ $result != incomplete ]]; then
			msg "FAILED: KUnit suite $suite ran $n cases, expected ${want[$suite]} (KUNIT_EXPECT in scripts/lib/vm.sh)"
		else
			continue
		fi
		bad[$suite]=1
		R_FAIL=$((R_FAIL + 1))
	done < <(awk '
		function end_run(result) { print "run", suite, n, p, f, s, result; suite = "" }
		{ sub(/\r$/, "") }
		/^    # Subtest: / { if (suite != "") end_run("incomplete"); suite = $3; n = p = f = s = 0; next }
		suite != "" && /^    (not )?ok [0-9]+ / {
			n++
			if ($1 == "not") { f++; print "fail", suite, $4 }
			else if (/ # SKIP/) s++
			else p++
			next
		}
		suite != "" && /^(not )?ok [0-9]+ / { end_run($1 == "not" ? "not_ok" : "ok") }
		END { if (suite != "") end_run("incomplete") }
	' "$log")
	for e in "${KUNIT_EXPECT[@]}"; do
		suite=${e%%=*}
		[[ -z ${seen[$suite]:-} ]] || continue
		if [[ -n ${NICMEM_TESTS:-} ]]; then
			msg "KUnit suite $suite did not run (NICMEM_TESTS=$NICMEM_TESTS selects tests)"
		else
			msg "FAILED: KUnit suite $suite did not run"
			R_FAIL=$((R_FAIL + 1))
		fi
	done
	R_NOTE=" (${#seen[@]} suites, $runs suite runs)"
}

# cargo-test.log and cargo-test.rc (its exit status): a test binary that
# crashes prints no 'test result:' line, so the status counts too.
results_cargo() { # results_cargo <run dir>
	local log=$1/cargo-test.log rc line
	R_PASS=0 R_FAIL=0 R_SKIP=0 R_NOTE=
	rc=$(cat "$1/cargo-test.rc" 2>/dev/null || echo none)
	if [[ ! -f $log ]]; then
		msg "FAILED: no cargo test log ($log)"
		R_FAIL=1
		return 0
	fi
	read -r R_PASS R_FAIL R_SKIP < <(awk '/^test result:/ {p += $4; f += $6; s += $8} END {print p + 0, f + 0, s + 0}' "$log")
	while IFS= read -r line; do
		msg "FAILED cargo test: $line"
	done < <(grep -E '^test .* \.\.\. FAILED$' "$log")
	if [[ $rc != 0 ]] && ((R_FAIL == 0)); then
		tail -n 20 "$log" >&2
		msg "FAILED: cargo test exited with status $rc but reported no failed test (build error, or a test binary crashed; log: $log)"
		R_FAIL=1
	elif ! grep -q '^test result:' "$log"; then
		msg "FAILED: cargo test ran no test binary (log: $log)"
		R_FAIL=1
	fi
}

# host_tests <run dir>: runs tests/host/*.sh (tests of the scripts
# themselves, on the host) into host-tests.log, a PASS or FAIL line each.
host_tests() {
	local t log=$1/host-tests.log
	: >"$log"
	for t in "$NICMEM_REPO"/tests/host/*.sh; do
		[[ -e $t ]] || continue
		echo "## ${t##*/}" >>"$log"
		if bash "$t" >>"$log" 2>&1; then
			echo "PASS ${t##*/}" >>"$log"
		else
			echo "FAIL ${t##*/}" >>"$log"
		fi
	done
}

results_host() { # results_host <run dir>
	local log=$1/host-tests.log line
	R_PASS=0 R_FAIL=0 R_SKIP=0 R_NOTE=
	if [[ ! -f $log ]]; then
		msg "FAILED: no host test log ($log)"
		R_FAIL=1
		return 0
	fi
	R_PASS=$(grep -c '^PASS ' "$log" || true)
	R_FAIL=$(grep -c '^FAIL ' "$log" || true)
	while IFS= read -r line; do
		msg "FAILED host test: ${line#FAIL }"
	done < <(grep '^FAIL ' "$log")
}

# count_results <run dir>: the verdict of a test run. Prints the breakdown,
# then 'N passed, N failed' (', N skipped' when some were) alone on the last
# line of stdout, which the CI reads; fails unless all passed.
count_results() {
	local dir=$1 pass=0 fail=0 skip=0 part label
	for part in guest:"guest tests" kunit:"KUnit cases" cargo:"cargo tests" host:"host script tests"; do
		label=${part#*:}
		"results_${part%%:*}" "$dir"
		msg "$label: $R_PASS passed, $R_FAIL failed, $R_SKIP skipped$R_NOTE"
		pass=$((pass + R_PASS)) fail=$((fail + R_FAIL)) skip=$((skip + R_SKIP))
	done
	if ((skip > 0)); then
		echo "$pass passed, $fail failed, $skip skipped"
	else
		echo "$pass passed, $fail failed"
	fi
	((fail == 0 && pass > 0))
}

# The guest suite on the debug kernel, then cargo test and the script tests
# on the host; every result lands in the run directory, and count_results
# judges them.
cmd_test() {
	step_begin test
	vm_boot_checked test "$*"
	msg "running cargo test for the userspace workspace"
	local rc=0
	br_cargo test --locked --no-fail-fast --workspace >"$VM_OUT/cargo-test.log" 2>&1 || rc=$?
	echo "$rc" >"$VM_OUT/cargo-test.rc"
	msg "running the host script tests (tests/host)"
	host_tests "$VM_OUT"
	step_end test
	msg "results in $VM_OUT"
	count_results "$VM_OUT"
}
cmd_demo() {
	step_begin demo
	vm_boot_checked demo "$*"
	sed -n '/NICMEM-DEMO-BEGIN/,/NICMEM-DEMO-END/p' "$VM_OUT/console.log" | sed '1d;$d' | tr -d '\r'
	step_end demo
}
