# SPDX-License-Identifier: GPL-2.0
# scripts/nicmem setup: host packages and the Debian trixie build root.

HOST_PACKAGES=(mmdebstrap iproute2 util-linux git ca-certificates xz-utils)

# The Debian mirror the host already uses (so no host name is baked in here).
debian_mirror() {
	if [[ -n ${NICMEM_DEBIAN_MIRROR:-} ]]; then
		echo "$NICMEM_DEBIAN_MIRROR"
		return
	fi
	local uri
	uri=$(
		{
			grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}'
			grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
				sed -E 's/\[[^]]*\]//' | awk '{print $2}'
		} | grep -E '/debian/?$' | head -n1
	)
	[[ -n $uri ]] || die "no Debian mirror found in the host's apt sources; set NICMEM_DEBIAN_MIRROR=<url of a Debian mirror>"
	echo "${uri%/}"
}

setup_host() {
	local missing=() p
	for p in "${HOST_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	command -v cargo >/dev/null || die "cargo not found on the host (the userspace tools build with the host's Rust toolchain; install rustup or Debian's cargo)"
	if ((${#missing[@]})); then
		msg "installing host packages: ${missing[*]}"
		apt-get update -qq || die "apt-get update failed"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null ||
			die "apt-get install ${missing[*]} failed"
	fi
}

cmd_setup() {
	need_root setup
	step_begin setup
	need_space "$NICMEM_CACHE" 15
	setup_host
	[[ -c /dev/net/tun ]] || die "/dev/net/tun missing: the test machine needs tap devices (modprobe tun)"

	local pkgs stamp mirror tmp
	pkgs=$(grep -vE '^\s*(#|$)' "$NICMEM_REPO/scripts/config/buildroot.packages" | sort | tr '\n' ',')
	pkgs=${pkgs%,}
	stamp=$(printf '%s\n' "$pkgs" | sha256sum | cut -c1-16)
	if stamp_ok "$NICMEM_CACHE/buildroot.stamp" "$stamp" && [[ -x $NICMEM_BR/usr/bin/clang$LLVM_SUFFIX ]]; then
		msg "build root up to date ($NICMEM_BR)"
	else
		mirror=$(debian_mirror)
		msg "creating the trixie build root in $NICMEM_BR from $mirror (about a minute)"
		tmp=$NICMEM_CACHE/buildroot.new
		rm -rf "$tmp"
		mmdebstrap --mode=root --variant=apt --format=directory \
			--components=main,contrib,non-free \
			--include="$pkgs" \
			--aptopt='Acquire::Retries "3"' \
			--customize-hook='chroot "$1" update-ccache-symlinks' \
			trixie "$tmp" \
			"deb $mirror trixie main contrib non-free" \
			"deb $mirror trixie-backports main contrib non-free" \
			>"$NICMEM_CACHE/mmdebstrap.log" 2>&1 ||
			die "mmdebstrap failed; see $NICMEM_CACHE/mmdebstrap.log: $(tail -n 3 "$NICMEM_CACHE/mmdebstrap.log" | tr '\n' ' ')"
		rm -rf "$NICMEM_BR"
		mv "$tmp" "$NICMEM_BR"
		echo "$stamp" >"$NICMEM_CACHE/buildroot.stamp"
	fi
	[[ -e $NICMEM_BR/usr/lib/ccache/clang$LLVM_SUFFIX ]] || die "ccache wrapper for clang$LLVM_SUFFIX missing in the build root"
	br_run rustc --version >&2
	step_end setup
}
