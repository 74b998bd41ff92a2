# SPDX-License-Identifier: GPL-2.0
# Shared helpers for scripts/nicmem. Sourced, never executed.
#
# Layout of the cache (outside the clone, NICMEM_CACHE, default ~/.cache/nicmem):
#   buildroot/        Debian trixie build root (toolchain, QEMU, guest user space)
#   work/linux/       kernel source tree (git; base commit + kernel-patches/)
#   work/kbuild/      out-of-tree kernel build directory (O=)
#   work/module/      out-of-tree build of rust-mlx5-nicmem
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
LLVM_SUFFIX=-19

msg() { printf '[nicmem %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
	printf '[nicmem] ERROR: %s\n' "$*" >&2
	exit 1
}

need_root() {
	[[ $(id -u) -eq 0 ]] || die "must run as root (needs mmdebstrap, chroot, network namespaces and tap devices); try: sudo $0 $*"
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
br_run() {
	[[ -x $NICMEM_BR/usr/bin/clang$LLVM_SUFFIX ]] || die "build root missing at $NICMEM_BR: run 'scripts/nicmem setup' first"
	mkdir -p "$NICMEM_WORK" "$NICMEM_BR$BR_REPO" "$NICMEM_BR$BR_WORK"
	local netns=()
	[[ -n ${BR_NETNS:-} ]] && netns=(ip netns exec "$BR_NETNS")
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
	br_run make -C "$BR_WORK/linux" O="$BR_WORK/kbuild" LLVM="$LLVM_SUFFIX" \
		-j"$NICMEM_JOBS" "$@"
}

# A stamp file records the input hash of a step, to redo it only on change.
stamp_ok() { [[ -f $1 && $(cat "$1") == "$2" ]]; }
