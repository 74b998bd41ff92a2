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
NICMEM_VM_TIMEOUT=${NICMEM_VM_TIMEOUT:-2400}

cmd_guest() {
	step_begin guest
	install -D -m 0755 "$NICMEM_REPO/scripts/guest/init" "$NICMEM_BR$GUEST_INIT"
	mkdir -p "$NICMEM_BR/nicmem/out"
	msg "building the userspace workspace (examples, tools) with the host's cargo"
	CARGO_TARGET_DIR=$GUEST_TARGET cargo build --quiet --release --workspace \
		--manifest-path "$NICMEM_REPO/Cargo.toml" >&2 ||
		die "cargo build of the userspace workspace failed"
	step_end guest
}

# Decide between KVM and TCG once per machine: a KVM guest may hang at
# "Decompressing Linux" on these hosts, so boot a probe with a short timeout.
vm_accel() {
	if [[ -n ${NICMEM_ACCEL:-} ]]; then
		echo "$NICMEM_ACCEL"
		return
	fi
	local cache=$NICMEM_CACHE/accel
	if [[ -f $cache ]]; then
		cat "$cache"
		return
	fi
	local accel=tcg
	if [[ -c /dev/kvm ]]; then
		msg "probing KVM (30 s at most)"
		if vm_run probe kvm 30 >/dev/null 2>&1 && grep -q 'NICMEM-PROBE-OK' "$VM_OUT/console.log"; then
			accel=kvm
		fi
	fi
	msg "accelerator: $accel (cached in $cache; override with NICMEM_ACCEL=kvm|tcg)"
	echo "$accel" >"$cache"
	echo "$accel"
}

# Network namespace with a bridge and two vnet_hdr taps for the guest's NICs.
VM_NETNS=
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
	[[ -n $VM_NETNS ]] && ip netns del "$VM_NETNS" 2>/dev/null
	VM_NETNS=
}

# vm_run <mode> <accel> <timeout-s> [extra kernel args]: boot the guest once.
# Sets VM_OUT to the run directory. Returns QEMU's status (124 on timeout).
vm_run() {
	local mode=$1 accel=$2 tmo=$3 extra=${4:-}
	local kernel=$NICMEM_WORK/kbuild/arch/x86/boot/bzImage
	[[ -f $kernel ]] || die "no kernel at $kernel: run 'scripts/nicmem kernel' first"
	VM_OUT=$NICMEM_WORK/runs/$(date +%Y%m%d-%H%M%S)-$mode
	mkdir -p "$VM_OUT"
	truncate -s "$NICMEM_MEM_SIZE" "$VM_OUT/nicmem.bin"
	# Benchmark settings reach the guest through its output directory.
	local v
	for v in BENCH_REPS BENCH_SECONDS BENCH_STREAM_SIZES BENCH_RR_SIZES BENCH_NO_PROFILE; do
		if [[ -n ${!v:-} ]]; then printf 'export %s=%q\n' "$v" "${!v}"; fi
	done >"$VM_OUT/bench.env"
	local out=$BR_WORK/runs/${VM_OUT##*/} cpu=max
	[[ $accel == kvm ]] && cpu=host,-arch-capabilities
	local qemu=(
		qemu-system-x86_64 -machine pc -accel "$accel" -cpu "$cpu" -m 2G -smp 2
		-nographic -no-reboot -nodefaults -serial stdio
		-kernel "$BR_WORK/kbuild/arch/x86/boot/bzImage"
		-append "console=ttyS0 root=root rootfstype=9p rootflags=trans=virtio,version=9p2000.L,msize=262144,cache=loose ro init=$GUEST_INIT panic=-1 oops=panic nicmem.mode=$mode $extra"
		-virtfs "local,path=/,mount_tag=root,security_model=none,readonly=on,multidevs=remap"
		-virtfs "local,path=$out,mount_tag=out,security_model=none,multidevs=remap"
		-netdev tap,id=n0,ifname=tap0,script=no,downscript=no,vnet_hdr=on
		-device virtio-net-pci,netdev=n0,mac=52:54:00:77:00:01,addr=0x4,romfile=
		-netdev tap,id=n1,ifname=tap1,script=no,downscript=no,vnet_hdr=on
		-device virtio-net-pci,netdev=n1,mac=52:54:00:77:00:02,addr=0x5,romfile=
		-object "memory-backend-file,id=nicmem,share=on,mem-path=$out/nicmem.bin,size=$NICMEM_MEM_SIZE"
		-device ivshmem-plain,memdev=nicmem,addr=0x6
	)
	vm_net_up
	trap vm_net_down EXIT
	local rc=0
	if [[ $mode == shell ]]; then
		BR_NETNS=$VM_NETNS br_run "${qemu[@]}" || rc=$?
	else
		BR_NETNS=$VM_NETNS br_run timeout -k 10 "$tmo" "${qemu[@]}" </dev/null \
			>"$VM_OUT/console.log" 2>&1 &
		local pid=$!
		vm_host_helper "$pid" &
		local helper=$!
		wait "$pid" || rc=$?
		kill "$helper" 2>/dev/null || true
		wait "$helper" 2>/dev/null || true
	fi
	vm_net_down
	trap - EXIT
	return "$rc"
}

# Answers the guest's requests that need the host: "is this pattern in the
# NIC memory backing file right now?" (host_has_pattern in tests/vm/lib/env.sh).
vm_host_helper() {
	local qpid=$1 req
	while kill -0 "$qpid" 2>/dev/null; do
		for req in "$VM_OUT"/hostcheck.*.req; do
			[[ -f $req ]] || continue
			local id=${req%.req} pattern
			pattern=$(cat "$req")
			if python3 - "$VM_OUT/nicmem.bin" "$pattern" <<'EOF'; then
import sys
data = open(sys.argv[1], "rb").read()
sys.exit(0 if bytes.fromhex(sys.argv[2]) in data else 1)
EOF
				echo found >"$id.tmp"
			else
				echo absent >"$id.tmp"
			fi
			rm -f "$req"
			mv "$id.tmp" "$id.res"
		done
		sleep 0.2
	done
}

# Fail loudly on anything in the console that means the kernel broke.
vm_check_console() {
	local log=$VM_OUT/console.log bad
	bad=$(grep -m1 -E 'Kernel panic|BUG:|Oops|WARNING:|refcount_t:|general protection fault|KASAN|UBSAN|rcu: INFO|watchdog: BUG' "$log" || true)
	if [[ -n $bad ]]; then
		msg "kernel problem in the guest: $bad"
		msg "console log: $log"
		return 1
	fi
}

vm_boot_checked() { # vm_boot_checked <mode> [extra kernel args]
	local mode=$1 accel rc=0
	accel=$(vm_accel)
	msg "booting the guest ($accel, mode $mode, timeout ${NICMEM_VM_TIMEOUT}s); console: \$NICMEM_CACHE/work/runs/.../console.log"
	local extra=${2:-}
	[[ -n ${NICMEM_TESTS:-} ]] && extra+=" nicmem.tests=$NICMEM_TESTS"
	vm_run "$mode" "$accel" "$NICMEM_VM_TIMEOUT" "$extra" || rc=$?
	msg "console log: $VM_OUT/console.log"
	if ((rc == 124)); then
		tail -n 20 "$VM_OUT/console.log" >&2
		die "guest did not finish within ${NICMEM_VM_TIMEOUT}s (hang?); console log: $VM_OUT/console.log"
	fi
	vm_check_console || die "guest kernel reported a problem; console log: $VM_OUT/console.log"
	((rc == 0)) || die "QEMU exited with status $rc; console log: $VM_OUT/console.log"
	[[ -f $VM_OUT/done ]] || {
		tail -n 20 "$VM_OUT/console.log" >&2
		die "guest stopped before finishing (panic or crash?); console log: $VM_OUT/console.log"
	}
}

cmd_boot() {
	local accel
	accel=$(vm_accel)
	msg "interactive guest shell ($accel); leave the shell (exit) to stop the guest"
	vm_run shell "$accel" 0 "$*"
}

# Count TAP results of the guest suite and cargo test, print 'N passed, N failed'.
cmd_test() {
	step_begin test
	local pass=0 fail=0 line
	vm_boot_checked test "$*"
	local tap=$VM_OUT/results.tap
	[[ -s $tap ]] || die "the guest suite wrote no results ($tap)"
	while IFS= read -r line; do
		case $line in
		"ok "*) pass=$((pass + 1)) ;;
		"not ok "*)
			fail=$((fail + 1))
			msg "FAILED in guest: $line"
			;;
		esac
	done < <(grep -E '^(not )?ok [0-9]+' "$tap")
	local plan
	plan=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$tap" | head -n1)
	if [[ -z $plan ]] || ((plan != pass + fail)); then
		msg "guest suite planned ${plan:-no} tests but reported $((pass + fail)): it stopped early"
		fail=$((fail + 1))
	fi
	msg "guest suite: $pass passed, $fail failed (results: $tap)"

	msg "running cargo test for the userspace workspace"
	local clog=$VM_OUT/cargo-test.log cp cf
	CARGO_TARGET_DIR=$GUEST_TARGET cargo test --workspace --manifest-path "$NICMEM_REPO/Cargo.toml" \
		>"$clog" 2>&1 || true
	cp=$(awk '/^test result:/ {s += $4} END {print s + 0}' "$clog")
	cf=$(awk '/^test result:/ {s += $6} END {print s + 0}' "$clog")
	if ! grep -q '^test result:' "$clog"; then
		tail -n 20 "$clog" >&2
		cf=$((cf + 1))
		msg "cargo test did not run (log: $clog)"
	fi
	msg "cargo test: $cp passed, $cf failed (log: $clog)"
	pass=$((pass + cp)) fail=$((fail + cf))
	step_end test
	echo "$pass passed, $fail failed"
	((fail == 0 && pass > 0))
}

cmd_demo() {
	step_begin demo
	vm_boot_checked demo "$*"
	sed -n '/NICMEM-DEMO-BEGIN/,/NICMEM-DEMO-END/p' "$VM_OUT/console.log" | sed '1d;$d' | tr -d '\r'
	step_end demo
}

cmd_bench() {
	step_begin bench
	vm_boot_checked bench "$*"
	[[ -f $VM_OUT/bench/results.csv ]] || die "benchmark produced no results in $VM_OUT/bench"
	rm -rf "$NICMEM_REPO/bench/results"
	mkdir -p "$NICMEM_REPO/bench/results"
	cp "$VM_OUT"/bench/* "$NICMEM_REPO/bench/results/"
	python3 "$NICMEM_REPO/bench/report.py" "$NICMEM_REPO/bench/results" >&2
	msg "results: bench/results/results.md (table), results.svg (plot), results.csv (raw)"
	step_end bench
}
