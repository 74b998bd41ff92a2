# SPDX-License-Identifier: GPL-2.0
# scripts/nicmem setup: host packages and the Debian trixie build root.

# What the scripts run on the host; everything else runs in the build root.
# debian-archive-keyring: mmdebstrap verifies the Debian archive with it on
# any host (an Ubuntu host's apt trusts Ubuntu's keys only).
HOST_PACKAGES=(mmdebstrap debian-archive-keyring iproute2 util-linux procps git ca-certificates xz-utils)

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
	if [[ -z $uri ]]; then
		# Not a Debian host (Ubuntu, ...): Debian's own redirector.
		uri=http://deb.debian.org/debian
		msg "no Debian mirror in the host's apt sources: using $uri (set NICMEM_DEBIAN_MIRROR to choose one)"
	fi
	echo "${uri%/}"
}

setup_host() {
	local missing=() p
	for p in "${HOST_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	if ((${#missing[@]})); then
		command -v apt-get >/dev/null ||
			die "missing: ${missing[*]} (and no apt-get to install them: a Debian or Ubuntu host is needed, or install them by hand)"
		msg "installing host packages: ${missing[*]}"
		apt-get update -qq || die "apt-get update failed"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null ||
			die "apt-get install ${missing[*]} failed"
	fi
}

# br_add_packages <pkgs,...>: bring an existing build root to a changed list
# by installing the packages it lacks (one no longer listed stays installed,
# harmless), instead of making a new one: a new build root gives every
# compiler and header a new time stamp, and the next kernel build then
# starts from scratch (objtool is rebuilt, and every object depends on it).
# Fails (and the caller makes a new build root) when apt cannot do it.
br_add_packages() {
	local list=$NICMEM_CACHE/buildroot.packages added
	[[ -x $NICMEM_BR/usr/bin/clang$LLVM_SUFFIX && -f $list ]] || return 1
	added=$(comm -13 <(sort "$list") <(tr ',' '\n' <<<"$1" | sort)) || return 1
	if [[ -n $added ]]; then
		msg "adding to the build root: $(echo $added)"
		# shellcheck disable=SC2086 # one word per package
		if ! br_run /bin/sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(echo $added)" \
			>"$NICMEM_CACHE/apt-add.log" 2>&1; then
			msg "could not add them ($NICMEM_CACHE/apt-add.log); making a new build root"
			return 1
		fi
	fi
	sort -u "$list" <(tr ',' '\n' <<<"$1") >"$list.new"
	mv "$list.new" "$list"
}

cmd_setup() {
	need_root setup
	step_begin setup
	need_space "$NICMEM_CACHE" 15
	setup_host
	[[ -c /dev/net/tun ]] || die "/dev/net/tun missing: the test machine needs tap devices (modprobe tun)"

	local pkgs stamp mirror tmp
	# With NICMEM_LINUX_SRC, the kernel source does not come from Debian.
	pkgs=$(grep -vE '^\s*(#|$)' "$NICMEM_REPO/scripts/config/buildroot.packages" |
		if [[ -n ${NICMEM_LINUX_SRC:-} ]]; then grep -vx 'linux-source-7.3'; else cat; fi | sort | tr '\n' ',')
	pkgs=${pkgs%,}
	stamp=$(printf '%s\n' "$pkgs" | sha256sum | cut -c1-16)
	if stamp_ok "$NICMEM_CACHE/buildroot.stamp" "$stamp" && [[ -x $NICMEM_BR/usr/bin/clang$LLVM_SUFFIX ]]; then
		msg "build root up to date ($NICMEM_BR)"
	elif br_add_packages "$pkgs"; then
		echo "$stamp" >"$NICMEM_CACHE/buildroot.stamp"
	else
		mirror=$(debian_mirror)
		msg "creating the trixie build root in $NICMEM_BR from $mirror (about a minute)"
		tmp=$NICMEM_CACHE/buildroot.new
		rm -rf "$tmp"
		local keyring=()
		if [[ -f /usr/share/keyrings/debian-archive-keyring.gpg ]]; then
			keyring=(--keyring=/usr/share/keyrings/debian-archive-keyring.gpg)
		fi
		mmdebstrap --mode=root --variant=apt --format=directory \
			"${keyring[@]}" \
			--components=main,contrib,non-free \
			--include="$pkgs" \
			--aptopt='Acquire::Retries "3"' \
			--customize-hook='chroot "$1" update-ccache-symlinks' \
			trixie "$tmp" \
			"deb $mirror trixie main contrib non-free" \
			"deb $mirror trixie-backports main contrib non-free" \
			>"$NICMEM_CACHE/mmdebstrap.log" 2>&1 || {
			if grep -qE "(Unable to locate package|has no installation candidate|Package '?)linux-source-7\.3" "$NICMEM_CACHE/mmdebstrap.log"; then
				die "Debian's trixie-backports no longer has linux-source-7.3: set NICMEM_LINUX_SRC=<a Linux 7.3 source tree> and rerun"
			fi
			die "mmdebstrap failed; see $NICMEM_CACHE/mmdebstrap.log: $(tail -n 3 "$NICMEM_CACHE/mmdebstrap.log" | tr '\n' ' ')"
		}
		rm -rf "$NICMEM_BR"
		mv "$tmp" "$NICMEM_BR"
		echo "$stamp" >"$NICMEM_CACHE/buildroot.stamp"
		tr ',' '\n' <<<"$pkgs" >"$NICMEM_CACHE/buildroot.packages"
	fi
	[[ -e $NICMEM_BR/usr/lib/ccache/clang$LLVM_SUFFIX ]] || die "ccache wrapper for clang$LLVM_SUFFIX missing in the build root"
	br_run rustc --version >&2
	step_end setup
}
