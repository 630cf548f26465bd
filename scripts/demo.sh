#!/usr/bin/env bash
# The demo command: installs what is missing, builds and installs velt,
# starts the Velt stand-in and a throwaway cluster, runs demo/demo.sql,
# prints what the stand-in now holds, and cleans up after itself.
#   scripts/demo.sh             on this machine's PostgreSQL (VELT_PG_VERSION,
#                               default 15)
#   scripts/demo.sh --pg 18     on another supported version, in a Debian
#                               root file system that ships it (scripts/chroot.sh)
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$VELT_ROOT/scripts/chroot.sh"

if [ $# -gt 0 ]; then
	[ $# -eq 2 ] && [ "$1" = --pg ] && velt_release_for_pg "$2" >/dev/null ||
		{ echo "usage: $0 [--pg VERSION]   (versions: $VELT_SUPPORTED_PG)" >&2; exit 2; }
	if ! velt_pg_is_native "$2"; then
		trap velt_chroot_cleanup EXIT
		velt_chroot_run "$2" scripts/demo.sh
		exit
	fi
	VELT_PG_VERSION=$2
	. "$VELT_ROOT/scripts/lib.sh"	# the package list names the version
fi

velt_install_packages || exit 1
velt_build_install || exit 1

trap velt_stop_standin EXIT
velt_start_standin || exit 1

log "running demo/demo.sql in a throwaway cluster (PostgreSQL $VELT_PG_VERSION)"
velt_in_cluster psql -X -q -f "$VELT_ROOT/demo/demo.sql" || exit 1

log "what the Velt stand-in now holds"
curl -s -m 10 --noproxy '*' "$VELT_STANDIN_URL/_standin/state" |
	"$VELT_PYTHON" -c 'import json, sys; print(json.dumps(json.load(sys.stdin), indent=2, sort_keys=True))'
log "requests the stand-in received"
curl -s -m 10 --noproxy '*' "$VELT_STANDIN_URL/_standin/stats"
echo
