#!/usr/bin/env bash
# Developer tool: runs a few pg_regress tests in a private cluster with its
# own name and port, and its own stand-in, so that several people can test
# at once on one machine (scripts/test.sh uses the shared "regress"
# cluster).  "setup" always runs first.  Results go to a temporary folder
# whose path is printed.
#   scripts/check_some.sh CLUSTER PORT test...
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[ $# -ge 3 ] || { echo "usage: $0 CLUSTER PORT test..." >&2; exit 2; }
name=$1 port=$2
shift 2
[ "$name" != regress ] && [ "$name" != main ] || { log "pick another cluster name"; exit 2; }
out=$(mktemp -d "/tmp/velt-check-$name.XXXXXX")
chmod 777 "$out"

cleanup() {
	pg_dropcluster --stop "$VELT_PG_VERSION" "$name" 2>/dev/null
	velt_stop_standin
}
trap cleanup EXIT
velt_build_install || exit 1
velt_start_standin || exit 1
velt_start_blackhole || exit 1
velt_start_tls_standin || exit 1
velt_start_h2_front || exit 1
velt_create_private_cluster "$name" "$port" || exit 1
pg_ctlcluster "$VELT_PG_VERSION" "$name" start || exit 1
env -u http_proxy -u https_proxy -u HTTP_PROXY -u HTTPS_PROXY PGPORT="$port" PGUSER=postgres PGHOST=/var/run/postgresql \
	make -s -C "$VELT_ROOT" installcheck PG_CONFIG="/usr/lib/postgresql/$VELT_PG_VERSION/bin/pg_config" \
	REGRESS="setup $*" REGRESS_OPTS="--load-extension=dblink --dbname=contrib_regression --outputdir=$out" ISOLATION=
status=$?
log "results in $out"
exit $status
