#!/usr/bin/env bash
# The demo command: installs what is missing, builds and installs velt,
# starts the Velt stand-in and a throwaway cluster, runs demo/demo.sql,
# prints what the stand-in now holds, and cleans up after itself.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

velt_install_packages || exit 1
velt_build_install || exit 1

trap velt_stop_standin EXIT
velt_start_standin || exit 1

log "running demo/demo.sql in a throwaway cluster"
velt_in_cluster psql -X -q -f "$VELT_ROOT/demo/demo.sql" || exit 1

log "what the Velt stand-in now holds"
curl -s -m 10 --noproxy '*' "$VELT_STANDIN_URL/_standin/state" |
	"$VELT_PYTHON" -c 'import json, sys; print(json.dumps(json.load(sys.stdin), indent=2, sort_keys=True))'
log "requests the stand-in received"
curl -s -m 10 --noproxy '*' "$VELT_STANDIN_URL/_standin/stats"
echo
