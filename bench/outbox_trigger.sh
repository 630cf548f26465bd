#!/usr/bin/env bash
# Benchmark of trigger-driven sync (issue: durable commit-time delivery):
# 100,000 rows inserted in one transaction into a table with the
# statement-level velt_users_trigger, delivered by the background worker
# to the Velt stand-in.  Reports the INSERT time with and without the
# trigger, the time from COMMIT until the stand-in has received every
# user, and the number of HTTP requests.  Several runs; medians.
#   bench/outbox_trigger.sh [rows] [runs]
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
ROWS=${1:-100000}
RUNS=${2:-3}

velt_install_packages || exit 1
velt_build_install || exit 1
trap velt_stop_standin EXIT
velt_start_standin || exit 1
export VELT_STANDIN_URL ROWS RUNS
velt_in_cluster bash "$VELT_ROOT/bench/outbox_trigger_run.sh"
