#!/usr/bin/env bash
# Inside the throwaway cluster (started by bench/run.sh): runs every
# scenario RUNS times, side by side with the raw libcurl client, and prints
# the tables.  Needs BENCH_CANNED_URL, BENCH_ECHO_URL, BENCH_CAPTURE_URL,
# BENCH_DISTANT_URL, BENCH_NGINX_DIR, BENCH_RAW_CLIENT, RUNS, CALLS, BULK, ROWS, PER_ROW_ROWS, MEMORY_CALLS;
# BENCH_RESULTS (optional): a file to keep the measurements in (see report.py).
set -euo pipefail
db=velt_worker
bodies="$BENCH_NGINX_DIR/bodies.log"
answered="$BENCH_NGINX_DIR/answered.log"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out="$work/results"
: >"$out"

q() { psql -XAtq -d $db -v ON_ERROR_STOP=1 "$@"; }
raw() {
	VELT_BENCH_API_KEY=$(q -c 'SHOW velt.api_key') VELT_BENCH_AUTH_TOKEN=$(q -c 'SHOW velt.auth_token') \
		"$BENCH_RAW_CLIENT" "$@"
}
# "requests=N wall_ms=W cpu_ms=C connections=K" -> "W C"
raw_times() { sed -E 's/.*wall_ms=([0-9.]+) cpu_ms=([0-9.]+).*/\1 \2/'; }
note() { printf '==> %s\n' "$*" >&2; }

psql -XAtq -c "CREATE DATABASE $db" >/dev/null
q -f "$(dirname "$0")/bench.sql" >/dev/null
batch=$(q -c 'SHOW velt.batch_size')
concurrency=$(q -c 'SHOW velt.max_concurrency')

note "capturing velt's request bodies for the raw client"
: >"$bodies"
q -c "SELECT bench_single_calls('$BENCH_CAPTURE_URL', 1)" >/dev/null
cp "$bodies" "$work/single.bodies"
: >"$bodies"
q -c "SELECT bench_bulk('$BENCH_CAPTURE_URL', $BULK)" >/dev/null
cp "$bodies" "$work/bulk.bodies"
[ "$(wc -l <"$work/single.bodies")" -eq 1 ] || { note "expected 1 captured body"; exit 1; }
[ "$(wc -l <"$work/bulk.bodies")" -eq $(((BULK + batch - 1) / batch)) ] ||
	{ note "expected $(((BULK + batch - 1) / batch)) captured bodies"; exit 1; }

note "warming up"
q -c "SELECT bench_single_calls('$BENCH_CANNED_URL', 1000)" >/dev/null
raw "$BENCH_CANNED_URL/v2/users/add" "$work/single.bodies" 1000 >/dev/null

for run in $(seq 1 "$RUNS"); do
	note "run $run of $RUNS: call overhead and bulk"
	echo "single velt $(q -F ' ' -c "SELECT * FROM bench_single_calls('$BENCH_CANNED_URL', $CALLS)")" >>"$out"
	echo "single raw $(raw "$BENCH_CANNED_URL/v2/users/add" "$work/single.bodies" "$CALLS" | raw_times)" >>"$out"
	# the same calls with velt_stats' counting off: its cost per call
	echo "single nostats $(q -F ' ' -c "SET velt.track_stats = off" -c "SELECT * FROM bench_single_calls('$BENCH_CANNED_URL', $CALLS)")" >>"$out"
	echo "bulk velt $(q -F ' ' -c "SELECT * FROM bench_bulk('$BENCH_ECHO_URL', $BULK)")" >>"$out"
	# the yardstick for a call's overlapped requests: as many in flight
	echo "bulk raw $(raw "$BENCH_ECHO_URL/v2/users/add" "$work/bulk.bodies" 1 "$concurrency" | raw_times)" >>"$out"
	echo "distant velt $(q -F ' ' -c "SELECT * FROM bench_bulk('$BENCH_DISTANT_URL', $BULK)")" >>"$out"
	echo "distant raw $(raw "$BENCH_DISTANT_URL/v2/users/add" "$work/bulk.bodies" 1 "$concurrency" | raw_times)" >>"$out"
done

note "the curve: the bulk call with Velt $BENCH_LATENCY_MS ms away, by velt.max_concurrency"
for c in 1 2 4 8 16; do
	echo "curve $c velt $(q -F ' ' -c "SET velt.max_concurrency = $c" -c "SELECT * FROM bench_bulk('$BENCH_DISTANT_URL', $BULK)")" >>"$out"
	echo "curve $c raw $(raw "$BENCH_DISTANT_URL/v2/users/add" "$work/bulk.bodies" 1 "$c" | raw_times)" >>"$out"
done

note "memory: $MEMORY_CALLS calls in one session"
q -F ' ' -c "SELECT calls, rss_kb FROM bench_memory('$BENCH_CANNED_URL', '{1000,$MEMORY_CALLS}')" |
	while read -r calls kb; do echo "memory $calls $kb"; done >>"$out"

# One delivery: inserts n rows into bench_<variant>, waits for the worker,
# and records "trigger LABEL insert_ms seconds_to_last_answer requests
# seconds_to_last_outcome_written seconds_to_every_outcome_visible", all
# from the COMMIT: the last answer from nginx's log, the last outcome
# written from max(finished_at) in velt.outcomes (the drain's clock, before
# the drain's COMMIT), every outcome visible from the time a session
# polling every 5 ms first saw the outbox empty.  where: echo or distant,
# the server every answer must come from.
deliver() {
	local variant=$1 label=$2 n=$3 timeout=$4 where=$5 committed visible written outcomes last requests foreign
	: >"$answered"
	visible=$(q -c "CALL bench_insert('$variant', $n)" -c "SELECT bench_wait_delivered($timeout)")
	[ -n "$visible" ] || { note "the worker did not deliver $variant within $timeout s"; exit 1; }
	[ "$(q -c 'SELECT count(*) FROM velt.outbox')" = 0 ] ||
		{ note "operations failed:"; q -c 'SELECT state, last_error FROM velt.outbox LIMIT 3' >&2; exit 1; }
	committed=$(q -c "SELECT committed_at FROM bench_inserts WHERE variant = '$variant' ORDER BY committed_at DESC LIMIT 1")
	read -r outcomes written < <(q -F ' ' -c "SELECT count(DISTINCT id) FILTER (WHERE success), extract(epoch FROM max(finished_at)) FROM velt.outcomes")
	[ "$outcomes" = "$n" ] || { note "$outcomes successful outcomes for $n rows"; exit 1; }
	requests=$(wc -l <"$answered")
	if [ "$where" = distant ]; then
		foreign=$(grep -vc ' distant$' "$answered" || true)
	else
		foreign=$(grep -c ' distant$' "$answered" || true)
	fi
	[ "$foreign" = 0 ] || { note "$foreign of $requests answers did not come from the $where server"; exit 1; }
	last=$(awk 'NR == 1 || $1 > m { m = $1 } END { print m }' "$answered")
	echo "trigger $label $(q -c "SELECT insert_ms FROM bench_inserts WHERE variant = '$variant' ORDER BY committed_at DESC LIMIT 1")" \
		"$(awk -v a="$last" -v b="$committed" 'BEGIN { print a - b }') $requests" \
		"$(awk -v a="$written" -v b="$committed" 'BEGIN { print a - b }')" \
		"$(awk -v a="$visible" -v b="$committed" 'BEGIN { print a - b }')" >>"$out"
	q -c "TRUNCATE velt.outcomes" >/dev/null
}

# Points the worker at URL (velt.base_url, a cluster setting) and waits
# until a small delivery is answered by that server; no URL: back to the
# cluster's own setting (the echo server).
worker_url() {
	local url=${1:-} where=${2:-echo}
	if [ -n "$url" ]; then
		q -c "ALTER SYSTEM SET velt.base_url = '$url'" -c "SELECT pg_reload_conf()" >/dev/null
	else
		q -c "ALTER SYSTEM RESET velt.base_url" -c "SELECT pg_reload_conf()" >/dev/null
	fi
	sleep 1
	# also opens the worker's connections to that server (one request per
	# connection it may keep)
	deliver statement warmup_$where $((concurrency * batch)) 60 "$where"
}

for run in $(seq 1 "$RUNS"); do
	note "run $run of $RUNS: trigger sync, $ROWS rows in one statement"
	q -c "CALL bench_insert('plain', $ROWS)" >/dev/null
	echo "trigger plain $(q -c "SELECT insert_ms FROM bench_inserts WHERE variant = 'plain' ORDER BY committed_at DESC LIMIT 1") 0 0 0 0" >>"$out"
	deliver statement statement "$ROWS" 600 echo
	note "run $run of $RUNS: documents trigger sync, $ROWS rows in one statement"
	deliver documents documents "$ROWS" 600 echo
done

note "trigger sync with Velt $BENCH_LATENCY_MS ms away: the worker delivers to the distant server"
worker_url "$BENCH_DISTANT_URL" distant
for run in $(seq 1 "$RUNS"); do
	note "run $run of $RUNS: trigger sync, $ROWS rows in one statement, Velt $BENCH_LATENCY_MS ms away"
	deliver statement distant "$ROWS" 600 distant
done
# the connections the worker keeps to the distant server (keep-alive: every
# one it opened and did not close), against velt.max_concurrency
echo "connections worker $(ss -Htn state established "( dport = :${BENCH_DISTANT_URL##*:} )" | wc -l) $concurrency" >>"$out"
worker_url "" echo

note "one request per row: row trigger, velt.batch_size = 1, $PER_ROW_ROWS rows"
q -c "ALTER SYSTEM SET velt.batch_size = 1" -c "SELECT pg_reload_conf()" >/dev/null
sleep 1
deliver row row "$PER_ROW_ROWS" 1800 echo
q -c "ALTER SYSTEM RESET velt.batch_size" -c "SELECT pg_reload_conf()" >/dev/null
note "one request per row: raw client, $PER_ROW_ROWS single-user requests, 1 and $concurrency in flight"
echo "perrow raw $(raw "$BENCH_ECHO_URL/v2/users/add" "$work/single.bodies" "$PER_ROW_ROWS" | raw_times)" >>"$out"
# the worker keeps velt.max_concurrency requests in flight: as many
echo "perrow rawmulti $(raw "$BENCH_ECHO_URL/v2/users/add" "$work/single.bodies" "$PER_ROW_ROWS" "$concurrency" | raw_times)" >>"$out"
# the raw measurements, kept when BENCH_RESULTS names a file
[ -z "${BENCH_RESULTS:-}" ] || cp "$out" "$BENCH_RESULTS"

"${VELT_PYTHON:-/usr/bin/python3}" "$(dirname "$0")/report.py" "$out" "$batch" "$CALLS" "$BULK" "$ROWS" "$PER_ROW_ROWS" "$BENCH_LATENCY_MS"
