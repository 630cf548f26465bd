#!/usr/bin/env bash
# The benchmark command: builds and installs velt and the raw libcurl
# client, starts nginx as a fixed-answer Velt and a throwaway cluster, runs
# every scenario several times side by side and prints medians and ratios.
#   bench/run.sh                 the full runs (about 2 minutes on 2 cores)
#   RUNS=1 CALLS=1000 ... bench/run.sh   smaller, see the defaults below
#   BENCH_RESULTS=FILE bench/run.sh     also keeps the measurements (bench/report.py FILE ...)
# Exit status 0 when every target holds.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
. "$VELT_ROOT/bench/responder.sh"
export RUNS=${RUNS:-5}
export CALLS=${CALLS:-10000}
export BULK=${BULK:-100000}
export ROWS=${ROWS:-100000}
export PER_ROW_ROWS=${PER_ROW_ROWS:-100000}
export MEMORY_CALLS=${MEMORY_CALLS:-100000}
export BENCH_LATENCY_MS=${BENCH_LATENCY_MS:-20}

velt_install_packages || exit 1
bench_install_packages || exit 1
velt_build_install || exit 1
BENCH_RAW_CLIENT=$(mktemp /tmp/velt-raw-client.XXXXXX)
# the same optimisation level PGXS builds velt with
cc -std=c11 -O2 -Wall -Wextra -Werror -o "$BENCH_RAW_CLIENT" "$VELT_ROOT/bench/raw_client.c" \
	$(pkg-config --cflags --libs libcurl) || exit 1
trap 'bench_stop_responder; rm -f "$BENCH_RAW_CLIENT"' EXIT
bench_start_responder || exit 1
export BENCH_RESULTS=${BENCH_RESULTS:-}
export BENCH_CANNED_URL BENCH_ECHO_URL BENCH_CAPTURE_URL BENCH_DISTANT_URL BENCH_NGINX_DIR BENCH_RAW_CLIENT VELT_PYTHON
# the worker delivers to the echo server
VELT_STANDIN_URL=$BENCH_ECHO_URL
log "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1), $(free -g | awk '/^Mem:/ { print $2 }') GiB; PostgreSQL $(pg_config --version 2>/dev/null | awk '{ print $2 }'), $(curl --version | head -n 1 | awk '{ print $1, $2 }'), nginx $(nginx -v 2>&1 | sed 's/.*nginx\///')"
velt_in_cluster bash "$VELT_ROOT/bench/scenarios.sh"
