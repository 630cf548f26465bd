#!/usr/bin/env bash
# The suite for one PostgreSQL version, on this machine (scripts/test.sh
# runs it natively for the version this machine's Debian release ships, and
# inside a root file system of a newer release for the others): installs
# what is missing, builds and installs velt against VELT_PG_VERSION, starts
# the Velt stand-ins and a throwaway cluster, and runs the stand-in's
# self-test, the pg_regress and isolation suite (which includes the upgrade
# test) and the crash test.  Ends with "N passed, N failed"; the line
# before it says how many request bodies the stand-in checked against the
# vendored OpenAPI schemas.
#   scripts/suite.sh            (VELT_PG_VERSION, default 15)
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

passed=0
failed=0
# Counts one named check; "$2" is 0 for a pass.
count() {
	if [ "$2" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); log "FAILED: $1"; fi
}
finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
}

if [ ! -f "$VELT_OPENAPI" ]; then
	log "the OpenAPI request schemas are missing at $VELT_OPENAPI"
	count "OpenAPI schemas present" 1
	finish
fi
velt_install_packages || { count "install packages" 1; finish; }
velt_build_install || { count "build and install velt" 1; finish; }

trap velt_stop_standin EXIT
{ velt_start_standin && velt_start_blackhole && velt_start_tls_standin && velt_start_h2_front; } ||
	{ count "start the test servers" 1; finish; }

log "stand-in self-test"
selftest_log=$(mktemp)
(cd "$VELT_ROOT/test/standin" && timeout 300 "$VELT_PYTHON" test_standin.py) >"$selftest_log" 2>&1
rc=$?
if [ $rc -eq 0 ]; then tail -n 3 "$selftest_log"; else cat "$selftest_log"; fi
rm -f "$selftest_log"
count "stand-in self-test" $rc

log "pg_regress suite (PostgreSQL $VELT_PG_VERSION)"
cd "$VELT_ROOT" || exit 1
rm -rf results regression.diffs regression.out output_iso
regress_log=$(mktemp)
timeout 1800 bash -c '. scripts/lib.sh; VELT_STANDIN_URL='"$VELT_STANDIN_URL"' VELT_BLACKHOLE_URL='"$VELT_BLACKHOLE_URL"' VELT_TLS_URL='"$VELT_TLS_URL"' VELT_TLS_CA='"$VELT_TLS_CA"' VELT_H2_URL='"$VELT_H2_URL"' VELT_H2_LOG='"$VELT_H2_LOG"' velt_in_cluster make -s installcheck PG_CONFIG=/usr/lib/postgresql/'"$VELT_PG_VERSION"'/bin/pg_config' 2>&1 | tee "$regress_log"
regress_rc=${PIPESTATUS[0]}
read -r ok_tests bad_tests < <(velt_count_regress_results "$regress_log")
if [ "$regress_rc" -ne 0 ] && [ "$bad_tests" -eq 0 ]; then
	bad_tests=1		# the suite did not run to completion
fi
for diffs in regression.diffs output_iso/regression.diffs; do
	[ -f "$diffs" ] && { log "differences ($diffs):"; cat "$diffs"; }
done
rm -f "$regress_log"
passed=$((passed + ok_tests))
failed=$((failed + bad_tests))

log "crash test (kill -9 of the postmaster during a delivery)"
crash_log=$(mktemp)
timeout 600 bash -c '. scripts/lib.sh; export VELT_STANDIN_URL='"$VELT_STANDIN_URL"'; velt_in_cluster bash test/crash_test.sh' >"$crash_log" 2>&1
if grep -q '^ok - ' "$crash_log"; then
	grep '^ok - ' "$crash_log"
	count "crash test" 0
else
	tail -n 60 "$crash_log"
	count "crash test" 1
fi
rm -f "$crash_log"

# proof that the stand-in checked request bodies against the OpenAPI schemas
contract=$(velt_standin_contract_summary)
if [ -n "$contract" ]; then
	echo "OpenAPI contract check: $contract"
	count "OpenAPI contract check ran" 0
else
	log "the stand-in validated no request body against the OpenAPI schemas"
	count "OpenAPI contract check ran" 1
fi
finish
