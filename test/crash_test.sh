#!/usr/bin/env bash
# At least once, nothing lost: kill -9 the postmaster while the outbox
# worker has a delivery in flight, restart the cluster, and check that
# every committed operation reaches Velt; then that velt_stats survives a
# fast restart and not an immediate stop.  Runs inside velt_in_cluster
# (scripts/lib.sh) with VELT_STANDIN_URL set; prints one "ok" or "not ok"
# line.  Every wait is bounded.
set -uo pipefail

standin="$VELT_STANDIN_URL/_standin"
ctl() { curl -s -S -m 10 --noproxy '*' "$@"; }
fail() { echo "not ok - crash test: $*"; exit 1; }
count_users() {
	ctl "$standin/state" | /usr/bin/python3 -c \
		'import json, sys; s = json.load(sys.stdin)["organizations"]; print(len(s.get("crash", {}).get("users", {})))'
}

OPS=40
PER_OP=25
TOTAL=$((OPS * PER_OP))

datadir=$(psql -XAtq -c "SHOW data_directory") || fail "no cluster"
socket_lock="$(psql -XAtq -c "SHOW unix_socket_directories" | cut -d, -f1)/.s.PGSQL.$(psql -XAtq -c "SHOW port").lock"
cluster_version=$(psql -XAtq -c "SHOW server_version_num" | cut -c1-2)
psql -XAtq -c "CREATE DATABASE velt_worker" >/dev/null || fail "CREATE DATABASE"
psql -XAtq -d velt_worker -c "CREATE EXTENSION velt" >/dev/null || fail "CREATE EXTENSION"
ctl -X POST "$standin/reset" >/dev/null || fail "stand-in unreachable"

# the worker's first request hangs for 5 s: the crash comes while it is in flight
ctl -d '{"delay_ms": 5000}' "$standin/fault" >/dev/null
# OPS transactions of PER_OP users each, every one committed before the crash
psql -XAtq -d velt_worker >/dev/null <<SQL || fail "enqueue"
SELECT format(\$q\$SELECT velt_enqueue_add_users('crash', %L)\$q\$,
	(SELECT jsonb_agg(jsonb_build_object('userId', 'c' || op || '-' || u, 'name', 'C', 'email', 'c@example.test'))
	 FROM generate_series(1, $PER_OP) AS u))
FROM generate_series(1, $OPS) AS op
\gexec
SQL

# wait (at most 20 s) until a delivery request is in flight
in_flight=0
for _ in $(seq 1 200); do
	if ctl "$standin/requests" | grep -q '"status":null'; then in_flight=1; break; fi
	sleep 0.1
done
[ "$in_flight" -eq 1 ] || fail "the worker never started a delivery"

postmaster=$(head -n 1 "$datadir/postmaster.pid")
kill -9 "$postmaster" || fail "could not kill the postmaster"
# every process of the old server must be gone before it can start again
for _ in $(seq 1 300); do
	pgrep -f "postgres: $cluster_version/regress" >/dev/null || break
	sleep 0.1
done
pgrep -f "postgres: $cluster_version/regress" >/dev/null && fail "old server processes did not exit"
# without an init process to reap it, the killed postmaster lingers as a
# zombie that still owns its lock files; they are stale
if [ "$(ps -o stat= -p "$postmaster" 2>/dev/null | cut -c1)" = "Z" ] || ! kill -0 "$postmaster" 2>/dev/null; then
	rm -f "$socket_lock" "$datadir/postmaster.pid"
fi
pg_ctlcluster "$cluster_version" regress start || fail "restart after kill -9"

# every committed user must arrive (at most 60 s)
delivered=0
for _ in $(seq 1 600); do
	delivered=$(count_users)
	[ "$delivered" = "$TOTAL" ] && break
	sleep 0.1
done
[ "$delivered" = "$TOTAL" ] || fail "only $delivered of $TOTAL committed users reached Velt after the restart"

pending=""
for _ in $(seq 1 100); do
	pending=$(psql -XAtq -d velt_worker -c "SELECT count(*) FROM velt.outbox")
	[ "$pending" = "0" ] && break
	sleep 0.1
done
[ "$pending" = "0" ] || fail "$pending operations still pending"
sent=$(ctl "$standin/requests" | /usr/bin/python3 -c '
import json, sys
reqs = json.load(sys.stdin)["requests"]
print(sum(len(r["body"]["data"]["users"]) for r in reqs if isinstance(r.get("body"), dict) and r.get("status") == 200))')
# velt_stats across restarts: a fast shutdown keeps the counters (the file
# under pg_stat/), an immediate one discards them, like PostgreSQL's own
stats() { psql -XAtq -d velt_worker -c "SELECT coalesce(sum(requests), 0) || ' ' || count(*) || ' ' || coalesce(max(stats_reset)::text, '-') FROM velt_stats"; }
before=$(stats) || fail "velt_stats unreadable"
[ "${before%% *}" -gt 0 ] || fail "velt_stats counted no request of the worker's deliveries ($before)"
pg_ctlcluster "$cluster_version" regress restart --mode fast || fail "fast restart"
after_fast=$(stats) || fail "velt_stats unreadable after a fast restart"
[ "$after_fast" = "$before" ] || fail "a fast restart changed velt_stats: $before, then $after_fast"
pg_ctlcluster "$cluster_version" regress stop --mode immediate || fail "immediate stop"
pg_ctlcluster "$cluster_version" regress start || fail "start after an immediate stop"
after_immediate=$(stats) || fail "velt_stats unreadable after an immediate stop"
[ "${after_immediate%% *}" = "0" ] || fail "an immediate stop kept velt_stats: $after_immediate"

echo "ok - crash test: kill -9 during delivery lost nothing: $TOTAL of $TOTAL committed users delivered ($sent sent in all, $((sent - TOTAL)) twice); velt_stats kept by a fast restart (${before%% *} requests), discarded by an immediate stop"
