#!/usr/bin/env bash
# The test command: installs what is missing, builds and installs velt,
# starts the Velt stand-in and a throwaway cluster, runs the stand-in's
# self-test and the pg_regress suite, and ends with "N passed, N failed".
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ ! -f "$VELT_OPENAPI" ]; then
	log "Velt's OpenAPI spec is missing at $VELT_OPENAPI (set VELT_OPENAPI):"
	log "the tests need it to validate every request the extension sends"
	echo "0 passed, 1 failed"
	exit 1
fi
velt_install_packages || exit 1
velt_build_install || exit 1

trap velt_stop_standin EXIT
velt_start_standin || exit 1
velt_start_blackhole || exit 1
velt_start_tls_standin || exit 1

passed=0
failed=0

log "stand-in self-test"
selftest_log=$(mktemp)
if (cd "$VELT_ROOT/test/standin" && timeout 300 "$VELT_PYTHON" test_standin.py) >"$selftest_log" 2>&1; then
	passed=$((passed + 1))
	tail -n 3 "$selftest_log"
else
	failed=$((failed + 1))
	cat "$selftest_log"
fi
rm -f "$selftest_log"

log "pg_regress suite"
cd "$VELT_ROOT"
rm -rf results regression.diffs regression.out output_iso
regress_log=$(mktemp)
timeout 1800 bash -c '. scripts/lib.sh; VELT_STANDIN_URL='"$VELT_STANDIN_URL"' VELT_BLACKHOLE_URL='"$VELT_BLACKHOLE_URL"' VELT_TLS_URL='"$VELT_TLS_URL"' VELT_TLS_CA='"$VELT_TLS_CA"' velt_in_cluster make -s installcheck PG_CONFIG=/usr/lib/postgresql/'"$VELT_PG_VERSION"'/bin/pg_config' 2>&1 | tee "$regress_log"
regress_ok=$((${PIPESTATUS[0]} == 0))
# pg_regress prints one "ok"/"FAILED" line per test
ok_tests=$(grep -cE '\.\.\. ok( |$)' "$regress_log" || true)
bad_tests=$(grep -cE '\.\.\. FAILED' "$regress_log" || true)
if [ "$regress_ok" -ne 1 ] && [ "$bad_tests" -eq 0 ]; then
	bad_tests=1		# the suite did not run to completion
fi
for diffs in regression.diffs output_iso/regression.diffs; do
	[ -f "$diffs" ] && { log "differences ($diffs):"; cat "$diffs"; }
done
rm -f "$regress_log"
passed=$((passed + ok_tests))
failed=$((failed + bad_tests))

log "static analysis (cppcheck, clang-tidy)"
if bash "$VELT_ROOT/scripts/lint.sh"; then
	passed=$((passed + 1))
else
	failed=$((failed + 1))
fi

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

log "crash test (kill -9 of the postmaster during a delivery)"
crash_log=$(mktemp)
timeout 600 bash -c '. scripts/lib.sh; export VELT_STANDIN_URL='"$VELT_STANDIN_URL"'; velt_in_cluster bash test/crash_test.sh' >"$crash_log" 2>&1
if grep -q '^ok - ' "$crash_log"; then
	passed=$((passed + 1))
	grep '^ok - ' "$crash_log"
else
	failed=$((failed + 1))
	tail -n 60 "$crash_log"
fi
rm -f "$crash_log"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
