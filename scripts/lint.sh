#!/usr/bin/env bash
# Static analysis: cppcheck over src/ with the project's configuration
# (.cppcheck/velt.cfg).  Prints findings and exits non-zero on any.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$VELT_ROOT" || exit 1
out=$(cppcheck --quiet --enable=warning,portability,performance --std=c11 \
	--library="$VELT_ROOT/.cppcheck/velt.cfg" --inline-suppr --error-exitcode=1 \
	-I src -I "/usr/include/postgresql/$VELT_PG_VERSION/server" \
	--suppress=missingIncludeSystem -DPG_VERSION_NUM=150000 -D__x86_64__ -D__GNUC__=12 src/*.c 2>&1)
rc=$?
[ -n "$out" ] && printf '%s\n' "$out"
[ $rc -eq 0 ] && echo "cppcheck: no findings in src/"
exit $rc
