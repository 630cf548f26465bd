# Runs velt's scripts against a PostgreSQL version this machine does not
# have, inside a Debian root file system that serves it.
#
# Debian 12 ships PostgreSQL 15 only; Debian 13 ("trixie") ships 17 and
# Debian unstable ("sid") 18.  debootstrap builds such a release's root
# file system from Debian's own mirror in seconds; the first use of a
# version creates it under a cache folder, later uses reuse it.  Each use
# copies the working tree into the root file system (so objects built for
# one version never mix with another's), mounts /proc and /dev, runs one
# script there as root, and undoes the mounts afterwards, also when the
# script fails or the caller is interrupted.
#
# Source it after scripts/lib.sh; it defines functions only.
#   VELT_CHROOT_CACHE  where the root file systems live
#                      (default /var/cache/velt/chroots)
#   VELT_DEBIAN_MIRROR the mirror debootstrap and apt use
#                      (default http://deb.debian.org/debian)

VELT_CHROOT_CACHE=${VELT_CHROOT_CACHE:-/var/cache/velt/chroots}
VELT_DEBIAN_MIRROR=${VELT_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# Where the working tree is copied inside a root file system.
VELT_CHROOT_TREE=/velt
# Written into a root file system once it is complete; a folder without
# it is a creation that was interrupted, and is made again.
VELT_CHROOT_READY=.velt-chroot-ready

# Prints the Debian release that ships PostgreSQL $1 as its default.
velt_release_for_pg() {
	case "$1" in
	15) echo bookworm ;;
	17) echo trixie ;;
	18) echo sid ;;
	*) return 1 ;;
	esac
}

# True when PostgreSQL $1 runs natively here (its server package is
# available from this machine's own release).
velt_pg_is_native() {
	local codename
	codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
	[ "$(velt_release_for_pg "$1")" = "$codename" ]
}

# Mounts what a test run needs inside root file system $1.
velt_chroot_mount() {
	local root=$1
	mountpoint -q "$root/proc" || mount -t proc proc "$root/proc" || return 1
	if ! mountpoint -q "$root/dev"; then
		# /dev with its submounts (pts, shm: PostgreSQL's shared memory)
		mount --rbind /dev "$root/dev" || return 1
		mount --make-rslave "$root/dev"
	fi
	# name resolution for apt-get, as on this machine
	cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null
	return 0
}

# Stops every process still running inside root file system $1, then
# undoes velt_chroot_mount.  Safe to call twice and on a half-mounted root.
velt_chroot_umount() {
	local root=$1 proc pids i
	root=$(cd "$root" 2>/dev/null && pwd -P) || return 0
	for i in 1 2 3 4 5 6 7 8 9 10; do
		pids=()
		for proc in /proc/[0-9]*; do
			[ "$(readlink "$proc/root" 2>/dev/null)" = "$root" ] && pids+=("${proc#/proc/}")
		done
		[ ${#pids[@]} -eq 0 ] && break
		# polite first (postgres shuts down cleanly), then not
		if [ "$i" -lt 6 ]; then kill "${pids[@]}" 2>/dev/null; else kill -9 "${pids[@]}" 2>/dev/null; fi
		sleep 1
	done
	mountpoint -q "$root/dev" && umount -R "$root/dev" 2>/dev/null
	mountpoint -q "$root/dev" && umount -R -l "$root/dev"
	mountpoint -q "$root/proc" && { umount "$root/proc" 2>/dev/null || umount -l "$root/proc"; }
	return 0
}

# Makes sure the root file system for PostgreSQL $1 exists; prints its path.
velt_chroot_ensure() {
	local version=$1 release root partial
	release=$(velt_release_for_pg "$version") || { log "no Debian release known for PostgreSQL $version"; return 1; }
	root="$VELT_CHROOT_CACHE/$release"
	if [ -f "$root/$VELT_CHROOT_READY" ]; then
		echo "$root"
		return 0
	fi
	velt_install_packages debootstrap >&2 || return 1
	partial="$root.partial"
	velt_chroot_umount "$partial"
	rm -rf "$partial" "$root"
	mkdir -p "$VELT_CHROOT_CACHE" || return 1
	log "creating a Debian $release root file system for PostgreSQL $version in $root"
	debootstrap --variant=minbase "$release" "$partial" "$VELT_DEBIAN_MIRROR" >"$partial.log" 2>&1 ||
		{ log "debootstrap $release failed:"; tail -n 20 "$partial.log" >&2; return 1; }
	rm -f "$partial.log"
	# packages installed there must not start services or create clusters
	printf '#!/bin/sh\nexit 101\n' >"$partial/usr/sbin/policy-rc.d"
	chmod 755 "$partial/usr/sbin/policy-rc.d"
	# the mirror may serve a snapshot whose Release file is past its
	# Valid-Until date; apt on this machine accepts that, so must apt there
	echo 'Acquire::Check-Valid-Until "false";' >"$partial/etc/apt/apt.conf.d/99velt-snapshot"
	mkdir -p "$partial/etc/postgresql-common"
	echo "create_main_cluster = false" >"$partial/etc/postgresql-common/createcluster.conf"
	touch "$partial/$VELT_CHROOT_READY"
	mv "$partial" "$root" || return 1
	echo "$root"
}

# Copies the working tree (without build outputs) into root file system $1.
velt_chroot_copy_tree() {
	local root=$1
	rm -rf "${root:?}$VELT_CHROOT_TREE"
	mkdir -p "$root$VELT_CHROOT_TREE" || return 1
	tar -C "$VELT_ROOT" --exclude=.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
		--exclude=./results --exclude=./output_iso --exclude=./log \
		--exclude='./regression.*' -cf - . |
		tar -C "$root$VELT_CHROOT_TREE" -xf - || return 1
}

# The root file system mounted by velt_chroot_run right now, if any.
VELT_CHROOT_ACTIVE=

# Undoes the mounts of a velt_chroot_run that did not finish (for an EXIT
# trap of the caller; velt_chroot_run's own INT/TERM trap calls it too).
velt_chroot_cleanup() {
	[ -n "$VELT_CHROOT_ACTIVE" ] && velt_chroot_umount "$VELT_CHROOT_ACTIVE"
	VELT_CHROOT_ACTIVE=
}

# Runs "bash SCRIPT ARGS..." (a path relative to the tree) inside the root
# file system for PostgreSQL $1, as root, with VELT_PG_VERSION set; the
# mounts are undone whatever happens.  Returns the script's status.
velt_chroot_run() {
	local version=$1 script=$2 root rc
	shift 2
	root=$(velt_chroot_ensure "$version") || return 1
	velt_chroot_copy_tree "$root" || { log "could not copy the tree into $root"; return 1; }
	VELT_CHROOT_ACTIVE=$root
	trap 'velt_chroot_cleanup; exit 130' INT TERM
	if velt_chroot_mount "$root"; then
		timeout "$VELT_SUITE_TIMEOUT" chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
			HOME=/root LANG=C.UTF-8 CI="${CI:-}" VELT_PG_VERSION="$version" \
			bash "$VELT_CHROOT_TREE/$script" "$@" </dev/null
		rc=$?
	else
		log "could not mount /proc and /dev in $root"
		rc=1
	fi
	velt_chroot_cleanup
	trap - INT TERM
	return $rc
}
