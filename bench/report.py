"""Prints the benchmark tables from bench/scenarios.sh's results file.

Each line of the file is one measurement:
  single velt|raw WALL_MS CPU_MS        CALLS single-user calls / requests
  single nostats WALL_MS CPU_MS         the velt calls with velt.track_stats off
  bulk velt|raw WALL_MS CPU_MS          one call with BULK users / its requests
                                        (raw: as many in flight as velt.max_concurrency)
  distant velt|raw WALL_MS CPU_MS       the same against a Velt LATENCY_MS away
  curve C velt|raw WALL_MS CPU_MS       distant, with C requests in flight
  memory CALLS RSS_KB                   backend private memory after CALLS calls
  trigger LABEL INSERT_MS LAST_ANSWER_S REQUESTS WRITTEN_S VISIBLE_S
                                        one delivery by the worker, seconds from
                                        COMMIT: to the last answer nginx logged,
                                        to the last outcome written (max of
                                        velt.outcomes.finished_at, before the
                                        round's COMMIT) and to every outcome
                                        visible (the outbox seen empty, polled
                                        every 5 ms); LABEL plain (no trigger),
                                        statement (echo), distant (statement,
                                        Velt LATENCY_MS away), row (batch_size 1)
  connections worker OPEN MAX           the worker's connections to the distant
                                        server after delivering; velt.max_concurrency
  perrow raw|rawmulti WALL_MS CPU_MS    PER_ROW_ROWS single-user requests, one at a
                                        time / velt.max_concurrency in flight
Medians over the runs; ratios are velt / raw libcurl, both measured in the
same run, side by side.
"""
import statistics
import sys

TARGETS = {"single": 1.3, "bulk": 1.2, "distant": 1.15}
# the bulk call with Velt LATENCY_MS away, in seconds
DISTANT_BULK_S = 0.5
# trigger sync with Velt LATENCY_MS away: COMMIT -> last answer, COMMIT ->
# every outcome in velt_results, in seconds
TRIGGER_LAST_ANSWER_S = 0.6
TRIGGER_OUTCOMES_S = 1.0


def main():
    path = sys.argv[1]
    batch, calls, bulk, rows, per_row_rows, latency = map(int, sys.argv[2:8])
    lines = [line.split() for line in open(path) if line.strip()]

    def series(kind, variant, column):
        return [float(l[column]) for l in lines if l[0] == kind and l[1] == variant]

    def median(kind, variant, column):
        return statistics.median(series(kind, variant, column))

    def pair_ratios(kind):
        velt, raw = series(kind, "velt", 2), series(kind, "raw", 2)
        return [v / r for v, r in zip(velt, raw)]

    verdicts = []
    # velt.max_concurrency, as the connections line reports it
    concurrency = next((l[3] for l in lines if l[:2] == ["connections", "worker"]),
                       "velt.max_concurrency")
    runs = len(series("single", "velt", 2))
    print(f"\nCall overhead and bulk (medians of {runs} runs; ratio = velt / raw libcurl, per run)\n")
    print("| scenario | velt | raw libcurl client | ratio (median) | target | velt backend CPU "
          "| raw client CPU |")
    print("|---|---|---|---|---|---|---|")
    requests = -(-bulk // batch)
    for kind, label, n, unit in (
            ("single", f"{calls:,} single-user calls", calls, "call"),
            ("bulk", f"1 call, {bulk:,} users ({requests} requests)", bulk, "user"),
            ("distant", f"the same, Velt {latency} ms away", bulk, "user")):
        if not series(kind, "velt", 2):
            continue
        velt, raw = median(kind, "velt", 2), median(kind, "raw", 2)
        ratio = statistics.median(pair_ratios(kind))
        cpu, rcpu = median(kind, "velt", 3), median(kind, "raw", 3)
        per = cpu * 1000 / n
        target = TARGETS.get(kind)
        if kind == "distant":
            ok_s, ok_r = velt / 1000 <= DISTANT_BULK_S, ratio <= target
            verdicts += [ok_s, ok_r]
            verdict = (f"≤ {DISTANT_BULK_S} s {'met' if ok_s else 'MISSED'}, "
                       f"≤ {target} {'met' if ok_r else 'MISSED'}")
        elif target is not None:
            ok = ratio <= target
            verdicts.append(ok)
            verdict = f"≤ {target} {'met' if ok else 'MISSED'}"
        else:
            verdict = "(context)"
        print(f"| {label} | {velt:.0f} ms ({velt * 1000 / n:.1f} µs/{unit}) | {raw:.0f} ms "
              f"({raw * 1000 / n:.1f} µs/{unit}) | {ratio:.2f} | {verdict} "
              f"| {cpu:.0f} ms ({per:.2f} µs/{unit}) "
              f"| {rcpu:.0f} ms ({rcpu * 1000 / n:.2f} µs/{unit}) |")
    print("(ratio per run: " + "; ".join(f"{k} " + ", ".join(f"{r:.2f}" for r in pair_ratios(k))
                                         for k in ("single", "bulk", "distant")
                                         if pair_ratios(k)) + ")")

    nostats = series("single", "nostats", 2)
    if nostats:
        counted = series("single", "velt", 2)
        ratios = [c / n for c, n in zip(counted, nostats)]
        print(f"\nvelt_stats' counting: {calls:,} single-user calls with velt.track_stats on / off, "
              f"median {statistics.median(ratios):.3f} (per run: "
              + ", ".join(f"{r:.3f}" for r in ratios) + "); CPU "
              f"{median('single', 'velt', 3):.0f} ms / {median('single', 'nostats', 3):.0f} ms")

    curve = sorted({int(l[1]) for l in lines if l[0] == "curve"})
    if curve:
        print(f"\nThe curve: 1 call, {bulk:,} users, Velt {latency} ms away, by requests in flight\n")
        print("| in flight | velt | raw libcurl multi client | ratio |")
        print("|---|---|---|---|")
        for c in curve:
            velt = statistics.median([float(l[3]) for l in lines if l[:3] == ["curve", str(c), "velt"]])
            raw = statistics.median([float(l[3]) for l in lines if l[:3] == ["curve", str(c), "raw"]])
            print(f"| {c} | {velt:.0f} ms | {raw:.0f} ms | {velt / raw:.2f} |")

    memory = [(int(l[1]), int(l[2])) for l in lines if l[0] == "memory"]
    if memory:
        (c1, kb1), (c2, kb2) = memory[0], memory[-1]
        ok = kb2 - kb1 <= 1024
        verdicts.append(ok)
        print("\nMemory (one session, private resident memory of the backend)\n")
        print(f"| after {c1:,} calls | after {c2:,} calls | growth | target |")
        print("|---|---|---|---|")
        print(f"| {kb1:,} kB | {kb2:,} kB | {kb2 - kb1:+,} kB | ≤ 1024 kB {'met' if ok else 'MISSED'} |")

    def trig(variant, column):
        values = [float(l[column]) for l in lines if l[0] == "trigger" and l[1] == variant]
        return statistics.median(values) if values else None

    def trig_runs(variant, column):
        return ", ".join(f"{float(l[column]):.2f}" for l in lines
                         if l[0] == "trigger" and l[1] == variant)

    plain, statement = trig("plain", 2), trig("statement", 2)
    if statement is not None:
        secs = trig("statement", 3)
        print(f"\nTrigger sync: INSERT ... SELECT of rows into a table with velt_users_trigger, "
              f"COMMIT, background worker delivers (medians; seconds from COMMIT)\n")
        print("| delivery | rows | INSERT | COMMIT → last answer | COMMIT → every outcome visible "
              "(last written) | requests | users/s (to last answer) |")
        print("|---|---|---|---|---|---|---|")
        print(f"| no trigger | {rows:,} | {plain:.0f} ms | - | - | - | - |")
        for variant, label, n in (
                ("statement", f"statement trigger, outbox, batch_size {batch}", rows),
                ("distant", f"the same, Velt {latency} ms away", rows),
                ("documents", f"statement `velt_documents_trigger`, outbox, batch_size {batch}", rows),
                ("row", "one request per row: row trigger, outbox, batch_size 1", per_row_rows)):
            ins = trig(variant, 2)
            if ins is None:
                continue
            last, reqs, written, visible = (trig(variant, c) for c in (3, 4, 5, 6))
            growth = f" ({100 * (ins - plain) / plain:+.0f}%)" if variant != "row" else ""
            print(f"| {label} | {n:,} | {ins:.0f} ms{growth} | {last:.2f} s | {visible:.2f} s "
                  f"({written:.2f} s) | {reqs:.0f} | {n / last:,.0f} |")
        rs = None
        for variant, label in (("raw", "one at a time"), ("rawmulti", f"{concurrency} in flight")):
            raw = [float(l[2]) for l in lines if l[0] == "perrow" and l[1] == variant]
            if raw:
                rs = statistics.median(raw) / 1000
                print(f"| one request per row: raw libcurl client, {label}, no database | {per_row_rows:,} | - | "
                      f"{rs:.2f} s | - | {per_row_rows} | {per_row_rows / rs:,.0f} |")
        raw = rs
        print("(per run, COMMIT → last answer / every outcome visible: " + "; ".join(
            f"{v} {trig_runs(v, 3)} / {trig_runs(v, 6)}" for v in ("statement", "distant")
            if trig(v, 2) is not None) + ")")
        if raw:
            print(f"\nBatched outbox delivery: {(rows / secs) / (per_row_rows / rs):.1f}x the users/s of "
                  f"the fastest one-request-per-row sender (the last raw client above)", end="")
            if trig("row", 2) is not None:
                print(f", {(rows / secs) / (per_row_rows / trig('row', 3)):.1f}x the users/s of "
                      f"the outbox sending one request per row", end="")
            print()
        if trig("distant", 2) is not None:
            last, visible = trig("distant", 3), trig("distant", 6)
            ok_l, ok_v = last <= TRIGGER_LAST_ANSWER_S, visible <= TRIGGER_OUTCOMES_S
            verdicts += [ok_l, ok_v]
            print(f"\nTrigger sync, {rows:,} rows, Velt {latency} ms away: COMMIT → last answer "
                  f"{last:.2f} s (≤ {TRIGGER_LAST_ANSWER_S} s {'met' if ok_l else 'MISSED'}); "
                  f"COMMIT → every outcome in velt_results {visible:.2f} s "
                  f"(≤ {TRIGGER_OUTCOMES_S} s {'met' if ok_v else 'MISSED'})")

    conns = [(int(l[2]), int(l[3])) for l in lines if l[:2] == ["connections", "worker"]]
    if conns:
        open_, limit = conns[-1]
        ok = open_ <= limit
        verdicts.append(ok)
        print(f"\nConnections: the worker holds {open_} to the distant server after delivering "
              f"(≤ velt.max_concurrency {limit} {'met' if ok else 'MISSED'})")

    print(f"\n{sum(verdicts)} of {len(verdicts)} targets met")
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
