# SPDX-License-Identifier: GPL-2.0
# Shared helpers for scripts/nicmem. Sourced, never executed.
#
# Layout of the cache (outside the clone, NICMEM_CACHE, default ~/.cache/nicmem):
#   buildroot/        Debian trixie build root (toolchain, QEMU, guest user space)
#   work/linux/       kernel source tree (git; base commit + kernel-patches/)
#   work/kbuild/      out-of-tree kernel build directory (O=), release kernel
#   work/kbuild-debug/  the same for the debug kernel (KASAN, lockdep, ...)
#   work/module/      out-of-tree build of rust-mlx5-nicmem (module-debug/ for
#                     the debug kernel)
#   work/ccache/      ccache directory
#   work/guest/       files shared with the guest (init, test programs)
#   runs/<stamp>/     console logs and results of each boot

NICMEM_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NICMEM_CACHE=${NICMEM_CACHE:-${HOME:-/root}/.cache/nicmem}
NICMEM_BR=$NICMEM_CACHE/buildroot
NICMEM_WORK=$NICMEM_CACHE/work
NICMEM_RUNS=$NICMEM_CACHE/runs
NICMEM_JOBS=${NICMEM_JOBS:-$(($(nproc) + 1))}
# Paths as seen from inside the build root (bind mounts, see br_run).
BR_REPO=/nicmem/repo
BR_WORK=/nicmem/work

# The kernel flavour a step works on: 'debug' (KASAN, lockdep, DEBUG_NET,
# kmemleak: what the test suite runs on) or 'release' (demo, bench). Each has
# its own build directories, so switching costs no rebuild.
flavour_set() { # flavour_set <release|debug>
	case $1 in
	release) NICMEM_FLAVOUR=release KB_DIR=kbuild MOD_DIR=module ;;
	debug) NICMEM_FLAVOUR=debug KB_DIR=kbuild-debug MOD_DIR=module-debug ;;
	*) die "unknown kernel flavour '$1' (NICMEM_KERNEL=release|debug)" ;;
	esac
	KBUILD=$NICMEM_WORK/$KB_DIR
}
flavour_set "${NICMEM_KERNEL:-release}"
LLVM_SUFFIX=-19

msg() { printf '[nicmem %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
	printf '[nicmem] ERROR: %s\n' "$*" >&2
	exit 1
}

need_root() {
	[[ $(id -u) -eq 0 ]] || die "must run as root (needs mmdebstrap, chroot, network namespaces and tap devices); try: sudo $0 $*"
}

# One run at a time per cache: two would share the build trees, the build
# root and the run directories. The lock (fd 9) is held until the process
# and its children end; a second run waits for it.
cache_lock() { # cache_lock <verb>
	local lock=$NICMEM_CACHE/lock
	mkdir -p "$NICMEM_CACHE"
	exec 9>>"$lock"
	if ! flock -n 9; then
		msg "another scripts/nicmem run holds $lock ($(cat "$lock" 2>/dev/null)), waiting"
		flock 9 || die "cannot lock $lock"
	fi
	echo "pid $$: scripts/nicmem $1" >"$lock"
	CACHE_LOCKED=1
}
CACHE_LOCKED=''


# Stopping early (Ctrl-C, TERM, an error) must not leave make or QEMU
# running. bg_track <pid> registers a background job, bg_untrack <pid>
# forgets it once waited for; at exit every job still registered is killed
# with all the processes it started (a tree walk, not a process group:
# timeout(1) puts QEMU in a group of its own), then the functions named in
# AT_EXIT run (vm_net_down). INT and TERM become an exit.
BG_PIDS=()
AT_EXIT=()
bg_track() { BG_PIDS+=("$1"); }
bg_untrack() {
	local p keep=()
	for p in "${BG_PIDS[@]}"; do
		[[ $p == "$1" ]] || keep+=("$p")
	done
	BG_PIDS=("${keep[@]}")
}

proc_tree() { # proc_tree <pid>: the process and all its descendants
	local c
	echo "$1"
	for c in $(pgrep -P "$1"); do
		proc_tree "$c"
	done
}

kill_tree() { # kill_tree <pid>: TERM to the whole tree, KILL after 5 s
	local pids alive p i
	mapfile -t pids < <(proc_tree "$1")
	kill -TERM "${pids[@]}" 2>/dev/null || true
	for ((i = 0; i < 10; i++)); do
		alive=()
		for p in "${pids[@]}"; do
			if kill -0 "$p" 2>/dev/null; then alive+=("$p"); fi
		done
		((${#alive[@]})) || return 0
		sleep 0.5
	done
	kill -KILL "${alive[@]}" 2>/dev/null || true
}

on_exit() {
	local rc=$? p f
	trap '' INT TERM
	trap - EXIT
	if ((${#BG_PIDS[@]})); then
		((rc == 0)) || msg "stopping background jobs (exit status $rc)"
		for p in "${BG_PIDS[@]}"; do
			kill_tree "$p"
		done
	fi
	for f in "${AT_EXIT[@]}"; do
		"$f" || true
	done
	exit "$rc"
}

cleanup_traps() {
	trap on_exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

need_space() { # need_space <dir> <GiB>
	local dir=$1 gib=$2 avail
	mkdir -p "$dir"
	avail=$(df -Pk "$dir" | awk 'NR==2 {print int($4 / 1048576)}')
	((avail >= gib)) || die "not enough disk space in $dir: ${avail} GiB free, need ${gib} GiB (set NICMEM_CACHE to a larger disk)"
}

# Time a step and report it.
step_begin() {
	STEP_T0=$(date +%s)
	msg "== $1"
}
step_end() { msg "== $1 done in $(($(date +%s) - STEP_T0)) s"; }

# Run a command inside the build root, with /proc, /sys, /dev, the repo and
# the work directory mounted. The mounts live in a private mount namespace
# and disappear with the command. With BR_NETNS set, the command runs in that
# network namespace.
# br_run is often called in '|| die' and 'if' contexts, where 'set -e' does
# not hold: each of its steps checks for itself.
br_run() {
	[[ -x $NICMEM_BR/usr/bin/clang$LLVM_SUFFIX ]] || die "build root missing at $NICMEM_BR: run 'scripts/nicmem setup' first"
	mkdir -p "$NICMEM_WORK" "$NICMEM_BR$BR_REPO" "$NICMEM_BR$BR_WORK" || die "cannot create the mount points in $NICMEM_BR"
	local netns=()
	if [[ -n ${BR_NETNS:-} ]]; then netns=(ip netns exec "$BR_NETNS"); fi
	"${netns[@]}" unshare --mount --propagation private -- /bin/bash -euo pipefail -c '
		br=$1 repo=$2 work=$3 brrepo=$4 brwork=$5
		shift 5
		mount -t proc proc "$br/proc"
		mount --rbind /sys "$br/sys"
		mount --rbind /dev "$br/dev"
		mount --bind "$repo" "$br$brrepo"
		mount --bind "$work" "$br$brwork"
		exec chroot "$br" /usr/bin/env -i \
			PATH=/usr/lib/ccache:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
			HOME=/root LANG=C.UTF-8 TERM=dumb \
			CCACHE_DIR="$brwork/ccache" CCACHE_MAXSIZE=5G \
			"$@"
	' br_run "$NICMEM_BR" "$NICMEM_REPO" "$NICMEM_WORK" "$BR_REPO" "$BR_WORK" "$@"
}

# make against the kernel tree with our toolchain, inside the build root.
kmake() {
	# /usr/lib/ccache comes first in PATH, so clang-19 is ccache's wrapper.
	br_run make -C "$BR_WORK/linux" O="$BR_WORK/$KB_DIR" LLVM="$LLVM_SUFFIX" \
		-j"$NICMEM_JOBS" "$@"
}

# br_cargo <subcommand> [args...]: the build root's cargo on the userspace
# workspace, so that the host needs no Rust toolchain. Crates are fetched
# into the cache (NICMEM_CACHE/work/cargo-home), versions pinned by Cargo.lock.
# The host's CA certificates go along: a host behind a TLS-inspecting proxy
# trusts its CA, which the build root's own bundle lacks.
br_cargo() {
	local sub=$1 ca=()
	shift
	if [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then
		mkdir -p "$NICMEM_WORK/cargo-home"
		cp /etc/ssl/certs/ca-certificates.crt "$NICMEM_WORK/cargo-home/host-ca-certificates.crt"
		ca=(CARGO_HTTP_CAINFO="$BR_WORK/cargo-home/host-ca-certificates.crt")
	fi
	br_run env CARGO_HOME="$BR_WORK/cargo-home" CARGO_TARGET_DIR="$BR_WORK/guest/target" "${ca[@]}" \
		cargo "$sub" --manifest-path "$BR_REPO/Cargo.toml" "$@"
}

# A stamp file records the input hash of a step, to redo it only on change.
stamp_ok() { [[ -f $1 && $(cat "$1") == "$2" ]]; }
