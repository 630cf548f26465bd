#!/usr/bin/env bash
# Static analysis of src/, with the project's checked-in configurations:
#   cppcheck    .cppcheck/velt.cfg
#   clang-tidy  .clang-tidy, over every src/*.c (and the src/*.h they
#               include), compiled as PGXS compiles them
# Prints findings and exits non-zero on any, after running both.
#   VELT_CLANG_TIDY  clang-tidy to run (default clang-tidy-14, else clang-tidy)
#   VELT_LINT_JOBS   clang-tidy processes at once (default: the CPU count)
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$VELT_ROOT" || exit 1
status=0
# the Makefile passes the extension's version from velt.control
velt_version=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$VELT_ROOT/velt.control")

# ---- cppcheck -------------------------------------------------------------
out=$(cppcheck --quiet --enable=warning,portability,performance --std=c11 \
	--library="$VELT_ROOT/.cppcheck/velt.cfg" --inline-suppr --error-exitcode=1 \
	-I src -I "/usr/include/postgresql/$VELT_PG_VERSION/server" \
	--suppress=missingIncludeSystem "-DVELT_VERSION=\"$velt_version\"" -DPG_VERSION_NUM=150000 -D__x86_64__ -D__GNUC__=12 src/*.c 2>&1)
rc=$?
[ -n "$out" ] && printf '%s\n' "$out"
if [ $rc -eq 0 ]; then
	echo "cppcheck: no findings in src/"
else
	status=1
fi

# ---- clang-tidy -----------------------------------------------------------
pg_config=${PG_CONFIG:-/usr/lib/postgresql/$VELT_PG_VERSION/bin/pg_config}
tidy=${VELT_CLANG_TIDY:-$(command -v clang-tidy-14 || command -v clang-tidy)}
if [ -z "$tidy" ] || ! [ -x "$(command -v "$tidy")" ]; then
	echo "clang-tidy: not found (Debian package clang-tidy-14)" >&2
	exit 1
fi
if ! [ -x "$pg_config" ]; then
	echo "clang-tidy: $pg_config not found" >&2
	exit 1
fi

# The flags PGXS compiles src/*.c with (Makefile, pg_config), for clang:
#  - PG_CPPFLAGS: src/, then libcurl's and json-c's flags from pkg-config;
#    PG_CFLAGS: -std=c11 -D_GNU_SOURCE and the warnings;
#  - PGXS: the server and internal include dirs, then pg_config --cppflags
#    (its -D and -I).
# Differences, on purpose: the include dirs of PostgreSQL, libcurl and
# json-c are -isystem, since their code and macros are not velt's to fix;
# -D_FORTIFY_SOURCE is left out, as glibc then swaps libc calls for
# __*_chk builtins that the name-based checks (cert-err33-c, ...) do not
# recognise; of PostgreSQL's gcc warnings, those clang has, less
# -Wimplicit-fallthrough (clang ignores PostgreSQL's /* FALLTHROUGH */
# comments; gcc checks them in the build).
flags=(-std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter
	-Wno-missing-field-initializers -Wmissing-prototypes -Wpointer-arith
	-Wdeclaration-after-statement -Werror=vla -Wendif-labels
	-Wmissing-format-attribute -Wcast-function-type -Wformat-security
	-fno-strict-aliasing -fwrapv -I"$VELT_ROOT/src" "-DVELT_VERSION=\"$velt_version\"")
for f in $(pkg-config --cflags libcurl json-c); do
	case $f in
		-I*) flags+=(-isystem "${f#-I}") ;;
		*) flags+=("$f") ;;
	esac
done
flags+=(-isystem "$("$pg_config" --includedir-server)"
	-isystem "$("$pg_config" --pkgincludedir)/internal")
for f in $("$pg_config" --cppflags); do
	case $f in
		-D_FORTIFY_SOURCE*) ;;
		-D*) flags+=("$f") ;;
		-I*) flags+=(-isystem "${f#-I}") ;;
	esac
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

json_string() {
	local s=${1//\\/\\\\}
	printf '"%s"' "${s//\"/\\\"}"
}

# compile_commands.json: one entry per source file
{
	echo '['
	sep=''
	for file in src/*.c; do
		printf '%s{"directory": %s, "file": %s, "arguments": [' "$sep" \
			"$(json_string "$VELT_ROOT")" "$(json_string "$VELT_ROOT/$file")"
		for arg in clang "${flags[@]}" -c "$VELT_ROOT/$file"; do
			printf '%s, ' "$(json_string "$arg")"
		done
		printf '"-o", "/dev/null"]}\n'
		sep=','
	done
	echo ']'
} >"$tmp/compile_commands.json"

# one clang-tidy per file, VELT_LINT_JOBS at once, each into its own log
start=$(date +%s)
# (the sh -c script expands its own arguments)
# shellcheck disable=SC2016
printf '%s\n' src/*.c |
	xargs -P "${VELT_LINT_JOBS:-$(nproc)}" -I{} sh -c \
		'"$1" --quiet --config-file="$2/.clang-tidy" -p "$3" "$2/$4" >"$3/$(basename "$4").log" 2>&1' \
		sh "$tidy" "$VELT_ROOT" "$tmp" {}
rc=$?
elapsed=$(($(date +%s) - start))
for file in src/*.c; do
	# clang's own tallies ("3 warnings generated.") are noise here
	grep -vE '^[0-9]+ (warnings?|errors?)( and [0-9]+ (warnings?|errors?))? (generated|treated as errors)\.$' \
		"$tmp/$(basename "$file").log"
done
# a header's finding repeats for each file that includes it: count it once
findings=$(cat "$tmp"/*.log | grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error): ' | sort -u | wc -l)
if [ $rc -eq 0 ] && [ "$findings" -eq 0 ]; then
	echo "clang-tidy: no findings in src/ (${elapsed}s)"
else
	echo "clang-tidy: $findings findings in src/ (${elapsed}s)"
	status=1
fi
exit $status
