"""Prints the benchmark tables from bench/scenarios.sh's results file.

Each line of the file is one measurement:
  single velt|raw WALL_MS CPU_MS        CALLS single-user calls / requests
  bulk velt|raw WALL_MS CPU_MS          one call with BULK users / its requests
                                        (raw: as many in flight as velt.max_concurrency)
  distant velt|raw WALL_MS CPU_MS       the same against a Velt LATENCY_MS away
  curve C velt|raw WALL_MS CPU_MS       distant, with C requests in flight
  memory CALLS RSS_KB                   backend private memory after CALLS calls
  trigger VARIANT INSERT_MS SECONDS REQUESTS
  perrow raw WALL_MS CPU_MS             PER_ROW_ROWS single-user requests
Medians over the runs; ratios are velt / raw libcurl, both measured in the
same run, side by side.
"""
import statistics
import sys

TARGETS = {"single": 1.3, "bulk": 1.2}


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
    runs = len(series("single", "velt", 2))
    print(f"\nCall overhead and bulk (medians of {runs} runs; ratio = velt / raw libcurl, per run)\n")
    print("| scenario | velt | raw libcurl client | ratio (median) | target | velt backend CPU |")
    print("|---|---|---|---|---|---|")
    requests = -(-bulk // batch)
    for kind, label, n, unit in (
            ("single", f"{calls:,} single-user calls", calls, "call"),
            ("bulk", f"1 call, {bulk:,} users ({requests} requests)", bulk, "user"),
            ("distant", f"the same, Velt {latency} ms away", bulk, "user")):
        if not series(kind, "velt", 2):
            continue
        velt, raw = median(kind, "velt", 2), median(kind, "raw", 2)
        ratio = statistics.median(pair_ratios(kind))
        cpu = median(kind, "velt", 3)
        per = cpu * 1000 / n
        target = TARGETS.get(kind)
        if target is not None:
            ok = ratio <= target
            verdicts.append(ok)
            verdict = f"≤ {target} {'met' if ok else 'MISSED'}"
        else:
            verdict = "(context)"
        print(f"| {label} | {velt:.0f} ms ({velt * 1000 / n:.1f} µs/{unit}) | {raw:.0f} ms "
              f"({raw * 1000 / n:.1f} µs/{unit}) | {ratio:.2f} | {verdict} "
              f"| {cpu:.0f} ms ({per:.2f} µs/{unit}) |")
    print("(ratio per run: " + "; ".join(f"{k} " + ", ".join(f"{r:.2f}" for r in pair_ratios(k))
                                         for k in ("single", "bulk", "distant")
                                         if pair_ratios(k)) + ")")

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

    plain, statement = trig("plain", 2), trig("statement", 2)
    if statement is not None:
        secs, reqs = trig("statement", 3), trig("statement", 4)
        print(f"\nTrigger sync: INSERT ... SELECT of rows into a table with velt_users_trigger, "
              f"COMMIT, background worker delivers (medians)\n")
        print("| delivery | rows | INSERT | COMMIT → last request answered | requests | requests/s | users/s |")
        print("|---|---|---|---|---|---|---|")
        print(f"| no trigger | {rows:,} | {plain:.0f} ms | - | - | - | - |")
        print(f"| statement trigger, outbox, batch_size {batch} | {rows:,} | {statement:.0f} ms "
              f"({100 * (statement - plain) / plain:+.0f}%) | {secs:.2f} s | {reqs:.0f} | "
              f"{reqs / secs:,.0f} | {rows / secs:,.0f} |")
        row = trig("row", 2)
        if row is not None:
            rsecs, rreqs = trig("row", 3), trig("row", 4)
            print(f"| one request per row: row trigger, outbox, batch_size 1 | {per_row_rows:,} | "
                  f"{row:.0f} ms | {rsecs:.2f} s | {rreqs:.0f} | {rreqs / rsecs:,.0f} | {per_row_rows / rsecs:,.0f} |")
        raw = [float(l[2]) for l in lines if l[0] == "perrow" and l[1] == "raw"]
        if raw:
            rs = statistics.median(raw) / 1000
            print(f"| one request per row: raw libcurl client, no database | {per_row_rows:,} | - | "
                  f"{rs:.2f} s | {per_row_rows} | {per_row_rows / rs:,.0f} | {per_row_rows / rs:,.0f} |")
            print(f"\nBatched outbox delivery: {(rows / secs) / (per_row_rows / rs):.1f}x the users/s of "
                  f"the fastest possible one-request-per-row sender", end="")
            if row is not None:
                print(f", {(rows / secs) / (per_row_rows / rsecs):.1f}x the users/s of "
                      f"the outbox sending one request per row", end="")
            print()

    print(f"\n{sum(verdicts)} of {len(verdicts)} targets met")
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
