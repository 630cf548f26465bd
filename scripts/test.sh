#!/usr/bin/env bash
# The test command.  For each supported PostgreSQL version it runs the
# whole suite (scripts/suite.sh: stand-in self-test, pg_regress and
# isolation tests including the upgrade test, crash test, OpenAPI contract
# check): natively for the version this machine's Debian release ships,
# and in a Debian root file system for the others (scripts/chroot.sh,
# created on first use and reused).  A full run then adds the static
# analysis and the fuzzer, which do not depend on the server version.
# Prints one line per version and ends with "N passed, N failed" over all.
#   scripts/test.sh               every supported version, static checks
#   scripts/test.sh --pg 17 ...   only these versions (no static checks)
#   scripts/test.sh --static      only the static checks
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$VELT_ROOT/scripts/chroot.sh"

usage() {
	echo "usage: $0 [--pg VERSION]... [--static]   (versions: $VELT_SUPPORTED_PG)" >&2
	exit 2
}

versions=()
static=0
while [ $# -gt 0 ]; do
	case "$1" in
	--pg)
		[ $# -ge 2 ] && velt_release_for_pg "$2" >/dev/null || usage
		versions+=("$2")
		shift 2
		;;
	--static) static=1; shift ;;
	*) usage ;;
	esac
done
if [ ${#versions[@]} -eq 0 ] && [ $static -eq 0 ]; then
	read -r -a versions <<<"$VELT_SUPPORTED_PG"
	static=1
fi

trap velt_chroot_cleanup EXIT
passed=0
failed=0
summary=()

# Runs the suite for PostgreSQL $1 and adds its counts.
run_version() {
	local version=$1 where log start rc line p f
	log=$(mktemp)
	start=$(date +%s)
	if velt_pg_is_native "$version"; then
		where="Debian $(velt_release_for_pg "$version"), native"
		log "PostgreSQL $version: the suite on this machine"
		VELT_PG_VERSION=$version timeout "$VELT_SUITE_TIMEOUT" bash "$VELT_ROOT/scripts/suite.sh" 2>&1 | tee "$log"
	else
		where="Debian $(velt_release_for_pg "$version"), chroot"
		log "PostgreSQL $version: the suite in a Debian $(velt_release_for_pg "$version") root file system"
		velt_chroot_run "$version" scripts/suite.sh 2>&1 | tee "$log"
	fi
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
	if [ -n "$line" ]; then
		p=${line%% passed*}
		f=${line#*passed, }
		f=${f%% failed}
	else
		p=0 f=1		# the suite did not get as far as counting
	fi
	rm -f "$log"
	passed=$((passed + p))
	failed=$((failed + f))
	summary+=("PostgreSQL $version ($where): $p passed, $f failed in $(($(date +%s) - start)) s")
}

# Runs the version-independent checks natively and adds their counts.
run_static() {
	local start fuzz_log
	start=$(date +%s)
	velt_install_packages $VELT_PACKAGES $VELT_STATIC_PACKAGES || { failed=$((failed + 2)); return; }
	log "static analysis (cppcheck, clang-tidy)"
	if bash "$VELT_ROOT/scripts/lint.sh"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi

	log "fuzzing the answer parser (60 s)"
	fuzz_log=$(mktemp)
	if timeout 600 bash "$VELT_ROOT/scripts/fuzz.sh" 60 >"$fuzz_log" 2>&1; then
		passed=$((passed + 1))
		grep -E 'Done [0-9]+ runs' "$fuzz_log"
	else
		failed=$((failed + 1))
		tail -n 40 "$fuzz_log"
	fi
	rm -f "$fuzz_log"
	summary+=("static analysis and fuzzing: done in $(($(date +%s) - start)) s")
}

start_all=$(date +%s)
for version in "${versions[@]}"; do
	run_version "$version"
done
[ $static -eq 1 ] && run_static

echo
for line in "${summary[@]}"; do
	echo "==> $line"
done
echo "==> total time $(($(date +%s) - start_all)) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
