# SPDX-License-Identifier: GPL-2.0
# scripts/nicmem kernel and module: source, patches, config, build.

KSRC=$NICMEM_WORK/linux

git_k() { git -C "$KSRC" -c user.name=nicmem -c user.email=nicmem@localhost -c advice.detachedHead=false "$@"; }

# The pristine Linux 7.3 tree, committed once and tagged nicmem-base.
kernel_base() {
	local origin stamp tarball
	if [[ -n ${NICMEM_LINUX_SRC:-} ]]; then
		[[ -f $NICMEM_LINUX_SRC/Makefile ]] || die "NICMEM_LINUX_SRC=$NICMEM_LINUX_SRC is not a kernel tree"
		origin="dir:$(realpath "$NICMEM_LINUX_SRC")"
	else
		tarball=$(find "$NICMEM_BR/usr/src" -maxdepth 1 -name 'linux-source-7.3.tar.*' | head -n1)
		[[ -n $tarball ]] || die "linux-source-7.3 tarball not found in the build root ($NICMEM_BR/usr/src): rerun 'scripts/nicmem setup'"
		origin="deb:$(basename "$tarball"):$(stat -c %s "$tarball")"
	fi
	stamp=$NICMEM_WORK/linux-base.stamp
	if stamp_ok "$stamp" "$origin" && git_k rev-parse -q --verify nicmem-base >/dev/null 2>&1; then
		return
	fi
	msg "preparing the Linux source from ${origin} (a few minutes)"
	rm -rf "$KSRC" "$NICMEM_WORK"/kbuild*
	mkdir -p "$KSRC"
	if [[ -n ${NICMEM_LINUX_SRC:-} ]]; then
		tar -C "$NICMEM_LINUX_SRC" --exclude=.git -cf - . | tar -C "$KSRC" -xf -
	else
		tar -xf "$tarball" -C "$KSRC" --strip-components=1
	fi
	local version
	version=$(awk -F' *= *' '$1 == "VERSION" { v = $2 } $1 == "PATCHLEVEL" { p = $2 } $1 == "SUBLEVEL" { s = $2 }
		END { if (v != "") print v "." p "." s }' "$KSRC/Makefile")
	[[ -n $version ]] || die "cannot read the kernel version of $KSRC (its Makefile)"
	[[ $version == 7.3* ]] || msg "warning: kernel version is $version, the series is made for 7.3"
	# Debian's linux-source adds "ignore everything at the top level" to
	# .gitignore; drop it, or git would ignore the files the series adds.
	sed -i '/^# Debian packaging/,/^!\/debian\/$/d' "$KSRC/.gitignore"
	git_k init -q
	git_k add -A -f .
	git_k commit -q -m "Linux $version (base for NICMEM)"
	git_k tag -f nicmem-base >/dev/null
	echo "$origin" >"$stamp"
}

# SERIES: the patches of kernel-patches/series, in order. Call it as a
# command of its own (not in $(...) or <(...)), so that a missing patch
# stops the run rather than a subshell.
kernel_series() {
	local dir=$NICMEM_REPO/kernel-patches p
	[[ -f $dir/series ]] || die "kernel-patches/series missing"
	SERIES=()
	while read -r p || [[ -n $p ]]; do
		case $p in
		'' | '#'*) continue ;;
		esac
		[[ -f $dir/$p ]] || die "kernel-patches/series names $p, which does not exist"
		SERIES+=("$dir/$p")
	done <"$dir/series"
	((${#SERIES[@]})) || die "kernel-patches/series lists no patches"
}

kernel_patch() {
	local patches stamp_val stamp=$NICMEM_WORK/linux-patches.stamp p
	kernel_series
	patches=("${SERIES[@]}")
	stamp_val=$(cat /dev/null "${patches[@]}" | sha256sum | cut -c1-16)
	# The stamp names the series and the commit it produced, so a tree that
	# was reset (or a run that died half way) is patched again.
	if stamp_ok "$stamp" "$stamp_val $(git_k rev-parse -q --verify HEAD)" &&
		[[ -z $(git_k status --porcelain --untracked-files=no) ]]; then
		msg "kernel-patches/ already applied (${#patches[@]} patches)"
		return
	fi
	msg "applying ${#patches[@]} patches from kernel-patches/"
	git_k am --abort >/dev/null 2>&1 || true
	# Files the series touches: remember their content and mtime, so that
	# those the new series leaves unchanged keep their mtime (no rebuild).
	local keep=$NICMEM_WORK/linux-mtimes f blob mtime
	git_k diff --name-only nicmem-base HEAD 2>/dev/null | while read -r f; do
		[[ -f $KSRC/$f ]] && echo "$(git_k rev-parse "HEAD:$f") $(stat -c %Y "$KSRC/$f") $f"
	done >"$keep" || true
	rm -f "$stamp"
	git_k checkout -q -f -B nicmem nicmem-base
	for p in "${patches[@]}"; do
		if ! git_k am -q --whitespace=nowarn "$p" >"$NICMEM_WORK/git-am.log" 2>&1; then
			git_k am --abort >/dev/null 2>&1 || true
			die "patch kernel-patches/$(basename "$p") does not apply to Linux 7.3: $(head -n 3 "$NICMEM_WORK/git-am.log" | tr '\n' ' ')"
		fi
		msg "  applied $(basename "$p")"
	done
	while read -r blob mtime f; do
		[[ $(git_k rev-parse -q --verify "HEAD:$f" 2>/dev/null) == "$blob" ]] && touch -d "@$mtime" "$KSRC/$f"
	done <"$keep"
	echo "$stamp_val $(git_k rev-parse HEAD)" >"$stamp"
}

# The fragments of the current flavour, concatenated.
config_fragments() {
	cat "$NICMEM_REPO/scripts/config/nicmem.config"
	if [[ $NICMEM_FLAVOUR == debug ]]; then
		cat "$NICMEM_REPO/scripts/config/debug.config"
	fi
}

# .config: tinyconfig with the committed fragment on top, for whatever the
# tree at hand knows.
config_from_fragment() {
	mkdir -p "$KBUILD"
	kmake -s tinyconfig >/dev/null
	config_fragments >>"$KBUILD/.config"
	kmake -s olddefconfig >/dev/null 2>"$NICMEM_WORK/kconfig.log" ||
		die "olddefconfig failed: $(tail -n 3 "$NICMEM_WORK/kconfig.log")"
}

kernel_config() {
	local stamp=$KBUILD/kconfig.stamp val
	val=$(config_fragments | cat - "$NICMEM_WORK/linux-patches.stamp" | sha256sum | cut -c1-16)
	if stamp_ok "$stamp" "$val" && [[ -f $KBUILD/.config ]]; then
		return
	fi
	msg "configuring the $NICMEM_FLAVOUR kernel: tinyconfig + scripts/config/nicmem.config$([[ $NICMEM_FLAVOUR == debug ]] && echo ' + debug.config')"
	config_from_fragment
	# Every option the fragment asks for must have survived olddefconfig.
	local lost=() line sym want
	while IFS= read -r line; do
		[[ $line =~ ^(CONFIG_[A-Z0-9_]+)=(.*)$ ]] || continue
		sym=${BASH_REMATCH[1]} want=${BASH_REMATCH[2]}
		grep -qxF "$sym=$want" "$KBUILD/.config" || lost+=("$sym=$want")
	done < <(config_fragments)
	((${#lost[@]} == 0)) || die "kernel config: not set after olddefconfig (missing dependency?): ${lost[*]}"
	echo "$val" >"$stamp"
}

# kmake_logged <log> <make args>: a long make in the background (stopped
# with the run, see bg_track), with a progress line every minute. Returns
# make's status after showing its first errors; callers decide (bisect goes
# on). Written for '||' and 'if' contexts: no step relies on 'set -e'.
# What the process tree walk of the exit trap misses (the job's own
# subshell already gone, as when a signal reaches every process of the
# script): a make of this cache's build directory, found by its command
# line and by its root directory, which is this cache's build root (every
# cache's build root has the same paths inside, and another cache's run on
# this machine must keep its build); only by the run that holds the cache
# lock (a verb that takes no lock, such as export, must not stop a build).
kmake_kill() {
	[[ -n $CACHE_LOCKED ]] || return 0
	local br pid pat
	br=$(readlink -f "$NICMEM_BR") || return 0
	for pat in "make -C $BR_WORK/linux O=$BR_WORK/$KB_DIR" "$BR_WORK/$KB_DIR -f $BR_WORK/linux/" \
		"make -f $BR_WORK/linux/scripts/Makefile.build"; do
		for pid in $(pgrep -f -- "$pat" 2>/dev/null); do
			[[ $(readlink "/proc/$pid/root" 2>/dev/null) == "$br" ]] && kill -TERM "$pid" 2>/dev/null
		done
	done
	return 0
}
AT_EXIT+=(kmake_kill)

kmake_logged() {
	local log=$1 pid n t0 rc=0
	shift
	t0=$SECONDS
	kmake "$@" >"$log" 2>&1 &
	pid=$!
	bg_track "$pid"
	while kill -0 "$pid" 2>/dev/null; do
		sleep 5
		if ((SECONDS - t0 >= 60)) && kill -0 "$pid" 2>/dev/null; then
			t0=$SECONDS
			n=$(grep -cE '^\s+(CC|RUSTC|LD|AR)' "$log" || true)
			msg "  ... building ($n objects so far; log: $log)"
		fi
	done
	wait "$pid" || rc=$?
	bg_untrack "$pid"
	if ((rc != 0)); then
		grep -m 5 -E 'error|Error' "$log" >&2 || tail -n 20 "$log" >&2
	fi
	return "$rc"
}

cmd_kernel() {
	step_begin kernel
	need_space "$NICMEM_WORK" 8
	mkdir -p "$NICMEM_WORK/ccache"
	kernel_base
	kernel_patch
	kernel_config
	msg "building the $NICMEM_FLAVOUR kernel: bzImage and modules (first build about 15 minutes on 2 cores; ccache in $NICMEM_WORK/ccache)"
	kmake_logged "$KBUILD/build.log" bzImage modules ||
		die "kernel build failed (make bzImage modules); full log: $KBUILD/build.log"
	br_run grep -q '^CONFIG_RUST=y' "$BR_WORK/$KB_DIR/.config" || die "CONFIG_RUST is not enabled: is Rust available in the build root? (make LLVM=-19 rustavailable)"
	msg "kernel: $(cat "$KBUILD/include/config/kernel.release") at $KBUILD/arch/x86/boot/bzImage"
	step_end kernel
}

# The module builds from a copy, so that the clone stays free of build
# products; cp -a keeps the sources' mtimes, so unchanged files are not
# rebuilt.
module_sync() {
	mkdir -p "$NICMEM_WORK/$MOD_DIR"
	find "$NICMEM_WORK/$MOD_DIR" -name '*.rs' -delete
	cp -a "$NICMEM_REPO/Kbuild" "$NICMEM_REPO/Kconfig" "$NICMEM_REPO/rust-mlx5-nicmem" "$NICMEM_WORK/$MOD_DIR/"
}

cmd_module() {
	step_begin module
	[[ -f $KBUILD/arch/x86/boot/bzImage ]] || die "no kernel build in $KBUILD: run 'scripts/nicmem kernel' first"
	module_sync
	kmake_logged "$NICMEM_WORK/$MOD_DIR-build.log" M="$BR_WORK/$MOD_DIR" CONFIG_MLX5_NICMEM=m modules ||
		die "module build failed; full log: $NICMEM_WORK/$MOD_DIR-build.log"
	msg "module: $(find "$NICMEM_WORK/$MOD_DIR" -name '*.ko' -printf '%P ' )"
	step_end module
}

# scripts/nicmem export <tree>: write kernel-patches/ from the commits of a
# kernel tree since nicmem-base (the developer's side of the series). The
# cover letter's text is the branch description of <tree>'s branch; when
# there is none, the current kernel-patches/0000-cover-letter.patch seeds it.
cmd_export() {
	local tree=${1:-}
	[[ -n $tree && -d $tree ]] || die "usage: scripts/nicmem export <kernel tree with the series on top of nicmem-base>"
	local branch base out=$NICMEM_REPO/kernel-patches cover=$NICMEM_REPO/kernel-patches/0000-cover-letter.patch
	branch=$(git -C "$tree" symbolic-ref --short HEAD) || die "$tree: not on a branch"
	base=$(git -C "$tree" rev-parse -q --verify nicmem-base) || die "$tree: no nicmem-base tag"
	if ! git -C "$tree" config "branch.$branch.description" >/dev/null && [[ -f $cover ]]; then
		# Subject (without the [PATCH 0/N] prefix), blank line, then the body
		# up to the shortlog.
		{
			sed -n 's/^Subject: \[PATCH[^]]*\] //p' "$cover" | head -n1
			echo
			awk 'body && /^[^ ].* \([0-9]+\):$/ {exit} body {print} /^$/ && !body {body=1}' "$cover"
		} | git -C "$tree" config "branch.$branch.description" "$(cat)"
	fi
	rm -f "$out"/[0-9][0-9][0-9][0-9]-*.patch
	git -C "$tree" format-patch -q --zero-commit --no-signature --cover-letter \
		--cover-from-description=subject -o "$out" "$base..HEAD"
	(
		echo "# Patches applied in order by scripts/nicmem kernel (git am)."
		cd "$out" && ls [0-9][0-9][0-9][0-9]-*.patch | grep -v '^0000-'
	) >"$out/series"
	msg "exported $(grep -vc '^#' "$out/series") patches and the cover letter to kernel-patches/"
}

# scripts/nicmem lint: the style gates of the project, all of them.
cmd_lint() {
	step_begin lint
	local bad=0 p
	msg "checkpatch --strict on kernel-patches/ (Fixes: ids name upstream commits, which the tarball tree has no history of)"
	kernel_series
	for p in "${SERIES[@]}"; do
		if ! perl "$KSRC/scripts/checkpatch.pl" --strict --no-tree -q --ignore UNKNOWN_COMMIT_ID "$p" >"$NICMEM_WORK/checkpatch.log" 2>&1; then
			msg "  $(basename "$p"):"
			grep -E '^(ERROR|WARNING|CHECK)' "$NICMEM_WORK/checkpatch.log" >&2 || true
			bad=1
		fi
	done
	msg "rustfmt (kernel style) on rust-mlx5-nicmem/"
	br_run rustfmt --edition 2021 --config-path "$BR_WORK/linux/.rustfmt.toml" --check \
		$(cd "$NICMEM_REPO" && ls rust-mlx5-nicmem/*.rs | sed "s|^|$BR_REPO/|") || bad=1
	msg "clippy (CLIPPY=1) on the module"
	module_sync
	rm -f "$NICMEM_WORK/$MOD_DIR"/rust-mlx5-nicmem/*.o
	kmake M="$BR_WORK/$MOD_DIR" CONFIG_MLX5_NICMEM=m CLIPPY=1 modules >"$NICMEM_WORK/clippy.log" 2>&1 || bad=1
	if grep -qE '^(warning|error)' "$NICMEM_WORK/clippy.log"; then
		grep -E '^(warning|error)' -A4 "$NICMEM_WORK/clippy.log" >&2
		bad=1
	fi
	msg "cargo fmt --check and cargo clippy on the userspace workspace"
	br_cargo fmt --all -- --check >&2 || bad=1
	br_cargo clippy --quiet --locked --workspace --all-targets -- -D warnings >&2 || bad=1
	step_end lint
	((bad == 0)) || die "lint found problems (see above)"
}

# scripts/nicmem bisect: build the kernel at every patch of the series, so
# that each patch is known to build on its own. Ends on the whole series.
# Stopped early (Ctrl-C, timeout), bisect leaves the tree at the whole
# series, not at a patch that later builds would take for all of it.
bisect_restore() { git_k checkout -q nicmem 2>/dev/null || true; }

cmd_bisect() {
	step_begin bisect
	kernel_base
	kernel_patch
	kernel_config
	AT_EXIT+=(bisect_restore)
	local n k rc=0 subject
	n=${#SERIES[@]}
	for ((k = 1; k <= n; k++)); do
		subject=$(git_k log -1 --format=%s "nicmem~$((n - k))")
		msg "patch $k/$n: $subject"
		git_k checkout -q "nicmem~$((n - k))"
		config_from_fragment
		if ! kmake_logged "$NICMEM_WORK/bisect-$k.log" bzImage modules; then
			msg "patch $k/$n does not build on its own: $subject (log: $NICMEM_WORK/bisect-$k.log)"
			rc=1
			break
		fi
	done
	git_k checkout -q nicmem
	config_from_fragment
	step_end bisect
	((rc == 0)) || die "the series is not bisectable"
}
