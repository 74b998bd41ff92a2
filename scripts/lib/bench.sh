# SPDX-License-Identifier: GPL-2.0
# scripts/nicmem bench: the benchmark on the release kernel. Sourced.
#
# One boot runs both measures (bench/run-guest.sh):
#   - guest instructions, exactly, counted by the QEMU TCG plugin
#     bench/insn/nicmem-insn.c between markers the sender executes
#     (bench/count.sh): per byte for streams, per transaction for RR;
#   - time: throughput and netperf service demand (bench/measure.sh).
# Results go to the run directory; 'scripts/nicmem bench --publish' also
# puts them in bench/results/ (the committed results). BENCH_PROFILE=1: a
# run that also counts instructions per function (slow; counts only).
# --kv: the key-value benchmark instead (bench/kv.sh; GETs against the
# real memcached and examples/kv), published to bench/results/kv/.

# The QEMU the guest runs on, as Debian versions it (the plugin is built
# against the plugin header of exactly this version).
qemu_deb_version() {
	br_run dpkg-query -W -f='${source:Version}' qemu-system-x86
}

# bench_plugin: builds bench/insn/nicmem-insn.c into
# $NICMEM_WORK/insn/libnicmem-insn.so, against the qemu-plugin.h of
# Debian's qemu source package of the installed version (apt checks it
# against the signed Sources index). Redone when either changes. Sets
# BENCH_PLUGIN_DESC (for the provenance).
bench_plugin() {
	local dir=$NICMEM_WORK/insn ver src stamp
	ver=$(qemu_deb_version) || die "cannot read the version of qemu-system-x86 in the build root"
	src=$(sha256sum "$NICMEM_REPO/bench/insn/nicmem-insn.c" | cut -d' ' -f1)
	stamp="$ver $src"
	BENCH_PLUGIN_DESC="nicmem-insn (${src:0:12})"
	if stamp_ok "$dir/plugin.stamp" "$stamp" && [[ -f $dir/libnicmem-insn.so ]]; then
		return 0
	fi
	mkdir -p "$dir"
	if [[ ! -f $dir/$ver/qemu-plugin.h ]]; then
		msg "fetching qemu-plugin.h from Debian's qemu $ver source package (40 MB, once)"
		br_run /bin/bash -euo pipefail -c '
			list=/etc/apt/sources.list.d/nicmem-deb-src.list
			sed -n "s/^deb /deb-src /p" /etc/apt/sources.list >"$list"
			apt-get update -qq
			rm -rf /tmp/qemu-src && mkdir /tmp/qemu-src && cd /tmp/qemu-src
			apt-get source --download-only -qq "qemu=$1"
			mkdir -p "$2"
			tar -xJf qemu_*.orig.tar.xz --wildcards -O "*/include/qemu/qemu-plugin.h" >"$2/qemu-plugin.h.tmp"
			mv "$2/qemu-plugin.h.tmp" "$2/qemu-plugin.h"
			rm -rf /tmp/qemu-src' _ "$ver" "$BR_WORK/insn/$ver" >"$dir/fetch.log" 2>&1 ||
			die "could not get qemu-plugin.h of qemu $ver (log: $dir/fetch.log)"
	fi
	msg "building the instruction-counting QEMU plugin"
	br_run /bin/bash -euo pipefail -c '
		gcc -O2 -Wall -Werror -shared -fPIC $(pkg-config --cflags glib-2.0) -I"$1" \
			-o "$2.tmp" "$3"
		mv "$2.tmp" "$2"' _ "$BR_WORK/insn/$ver" "$BR_WORK/insn/libnicmem-insn.so" \
		"$BR_REPO/bench/insn/nicmem-insn.c" >"$dir/build.log" 2>&1 ||
		die "the QEMU plugin did not build (log: $dir/build.log; needs gcc, libglib2.0-dev, pkgconf in the build root)"
	echo "$stamp" >"$dir/plugin.stamp"
}

# bench_provenance: what a result depends on, one key=value per line.
bench_provenance() {
	local rev dirty=
	rev=$(git -C "$NICMEM_REPO" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
	[[ -n $(git -C "$NICMEM_REPO" status --porcelain --untracked-files=no 2>/dev/null) ]] && dirty=+dirty
	echo "commit=$rev$dirty"
	echo "series=$(cat "$NICMEM_REPO"/kernel-patches/*.patch | sha256sum | cut -c1-16)"
	echo "kernel_config_sha256=$(sha256sum "$KBUILD/.config" | cut -c1-16) ($NICMEM_FLAVOUR)"
	echo "accelerator=$VM_ACCEL"
	echo "qemu=$(br_run qemu-system-x86_64 --version | head -n1)"
	echo "insn_plugin=${BENCH_PLUGIN_DESC:-none}"
	echo "host_cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
	echo "host_cores=$(nproc)"
	echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}

# bench_publish_dest: where --publish puts this run's results:
# bench/results/ (streams and RR) or bench/results/kv/ (--kv), and a block
# profile in profile/ below that, beside the main results, not over them.
bench_publish_dest() {
	local dest=$NICMEM_REPO/bench/results
	if [[ ${BENCH_KV:-} == 1 ]]; then dest+=/kv; fi
	if [[ ${BENCH_PROFILE:-} == 1 ]]; then dest+=/profile; fi
	echo "$dest"
}

# bench_args <args...>: checks the arguments of 'scripts/nicmem bench'
# before anything is built; sets BENCH_PUBLISH.
bench_args() {
	local arg
	BENCH_PUBLISH=0
	for arg in "$@"; do
		case $arg in
		--publish) BENCH_PUBLISH=1 ;;
		--kv) export BENCH_KV=1 ;;
		*) die "bench: unknown argument '$arg' (--publish, --kv)" ;;
		esac
	done
	# Published results name the commit they come from: it must be one.
	if ((BENCH_PUBLISH)) && [[ -n $(git -C "$NICMEM_REPO" status --porcelain --untracked-files=no 2>/dev/null) ]]; then
		die "bench --publish: the tree has uncommitted changes; commit them first (the results record the commit)"
	fi
}

cmd_bench() {
	local publish
	bench_args "$@"
	publish=$BENCH_PUBLISH
	step_begin bench
	VM_PLUGIN=
	BENCH_PLUGIN_DESC=none
	if [[ ${BENCH_COUNT:-1} == 1 ]]; then
		# TCG plugins count only what TCG translates.
		if [[ ${NICMEM_ACCEL:-tcg} != tcg ]]; then
			msg "instruction counts need TCG: running the benchmark with NICMEM_ACCEL=tcg (BENCH_COUNT=0 to keep $NICMEM_ACCEL)"
		fi
		export NICMEM_ACCEL=tcg
		bench_plugin
		VM_PLUGIN=$BR_WORK/insn/libnicmem-insn.so
		# A block profile slows the guest: counts only, no timed runs.
		if [[ ${BENCH_PROFILE:-} == 1 ]]; then
			VM_PLUGIN+=,profile=on
			export BENCH_PROFILE BENCH_TIMED=0
		fi
		export BENCH_COUNT=1
	fi
	# What the run is made of, taken before it starts.
	vm_accel
	local prov
	prov=$(bench_provenance)
	vm_boot_checked bench
	local res=$VM_OUT/bench
	[[ -f $res/results.csv || -f $res/count.csv || -f $res/kv.csv ]] || die "benchmark produced no results in $res"
	[[ -z $VM_PLUGIN || -s $VM_OUT/insn.log ]] || die "the QEMU plugin wrote no counts ($VM_OUT/insn.log)"
	if [[ -f $VM_OUT/insn.log ]]; then cp "$VM_OUT"/insn.log* "$res/"; fi
	{
		echo "$prov"
		cat "$res/guest.env" 2>/dev/null
	} >"$res/environment.txt"
	br_run python3 "$BR_REPO/bench/report.py" "$BR_WORK/runs/${VM_OUT##*/}/bench" >&2
	msg "results: $res/results.md (table), results.svg (plot), count.csv + insn.log, results.csv (raw)"
	if ((publish)); then
		local dest
		dest=$(bench_publish_dest)
		mkdir -p "$dest"
		find "$dest" -maxdepth 1 -type f -delete
		# Block profiles stay in the run directory; their tables are in results.md.
		find "$res" -maxdepth 1 -type f ! -name 'insn.log.tb.*' ! -name kallsyms \
			-exec cp {} "$dest/" \;
		msg "published to ${dest#"$NICMEM_REPO"/}/"
	fi
	step_end bench
}
