#!/usr/bin/env bash
# Inside the throwaway cluster: runs the benchmark and prints the table.
set -uo pipefail
standin="$VELT_STANDIN_URL/_standin"
ctl() { curl -s -S -m 60 --noproxy '*' "$@"; }
db=velt_worker
psql -XAtq -c "CREATE DATABASE $db" >/dev/null
psql -XAtq -d $db -v rows="$ROWS" -f "$(dirname "$0")/outbox_trigger.sql" >/dev/null || exit 1
batch=$(psql -XAtq -d $db -c "SHOW velt.batch_size")

results=()
for run in $(seq 1 "$RUNS"); do
	psql -XAtq -d $db -c "CALL bench_insert('plain', $run, $ROWS)" >/dev/null || exit 1
	ctl -X POST "$standin/reset" >/dev/null
	psql -XAtq -d $db -c "CALL bench_insert('synced', $run, $ROWS)" >/dev/null || exit 1
	# wait (at most 300 s) until the worker has settled everything
	for _ in $(seq 1 3000); do
		[ "$(psql -XAtq -d $db -c 'SELECT count(*) FROM velt.outbox')" = "0" ] && break
		sleep 0.1
	done
	committed=$(psql -XAtq -d $db -c "SELECT committed_at FROM bench_timings WHERE run = $run AND variant = 'synced'")
	line=$(ctl "$standin/requests" | /usr/bin/python3 -c '
import json, sys
committed = float(sys.argv[1])
reqs = [r for r in json.load(sys.stdin)["requests"] if r["path"].endswith("/users/add") and r["status"] == 200]
users = set()
for r in reqs:
    users.update(u["userId"] for u in r["body"]["data"]["users"])
last = max(r["time"] for r in reqs) if reqs else committed
print(len(reqs), len(users), round(last - committed, 2))' "$committed")
	results+=("$run $line")
done

psql -XAtq -d $db -F ' ' -c "SELECT run, variant, round(insert_ms::numeric) FROM bench_timings ORDER BY run, variant" > /tmp/velt_bench_timings.txt
/usr/bin/python3 - "$ROWS" "$batch" /tmp/velt_bench_timings.txt "${results[@]}" <<'PY'
import math, statistics, sys
rows, batch, timings_file = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
runs = [line.split() for line in sys.argv[4:]]
plain, synced = [], []
for line in open(timings_file):
    run, variant, ms = line.split()
    (plain if variant == "plain" else synced).append(float(ms))
requests = [int(r[1]) for r in runs]
users = [int(r[2]) for r in runs]
delivery = [float(r[3]) for r in runs]
mp, ms_ = statistics.median(plain), statistics.median(synced)
print(f"| rows | batch_size | INSERT without trigger | INSERT with trigger | trigger overhead | COMMIT to last user received | HTTP requests | users received |")
print(f"|---|---|---|---|---|---|---|---|")
print(f"| {rows} | {batch} | {mp:.0f} ms | {ms_:.0f} ms | {100 * (ms_ - mp) / mp:+.0f}% | {statistics.median(delivery):.2f} s | {statistics.median(requests):.0f} (limit {math.ceil(rows / batch)}) | {min(users)} of {rows} |")
print(f"(medians of {len(runs)} runs; per run: " + "; ".join(
    f"insert {p:.0f}/{s:.0f} ms, delivery {d:.2f} s, {q} requests" for p, s, d, q in zip(plain, synced, delivery, requests)) + ")")
PY
