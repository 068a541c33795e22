"""Turns the JSON lines of bench/harness.py into BENCHMARKS.md on stdout.

    python3 bench/report.py RESULTS.jsonl > BENCHMARKS.md

Every figure is the median of the runs with their min and max; ratios
compare medians from the same `make bench` run.
"""
import json
import os
import statistics
import sys

PEERS = ["graphile-worker", "pg-boss", "bullmq"]
SECTION_TITLES = {
    "enqueue-batch": "peers: batch API, 1,000 jobs per call",
    "import": "pubq: `pubq import` of a JSON Lines file",
    "intake-http-batch": "pubq: POST /v1/events, arrays of 100 events",
    "enqueue-single": "peers: one job per call, 16 calls in flight",
    "intake-http": "pubq: POST /v1/events, one event per request, "
                   "16 keep-alive connections",
}


def load(path):
    rows = []
    with open(path) as lines:
        for line in lines:
            if line.strip():
                rows.append(json.loads(line))
    return rows


def group(rows):
    """{(section, system, backend, metric, n): [values]} of measurements
    from numbered runs."""
    groups = {}
    for row in rows:
        if "value" not in row or row.get("run", 0) < 1:
            continue
        key = (row["section"], row["system"], row.get("backend", ""),
               row["metric"], row.get("n", 0))
        groups.setdefault(key, []).append(row)
    return groups


def summary(rows):
    values = [row["value"] for row in rows]
    return statistics.median(values), min(values), max(values), len(values)


def number(value, metric):
    if metric.endswith("_ms") or metric.startswith("ms_"):
        return f"{value:,.1f}" if metric.startswith("ms_") else \
            f"{value:,.0f}"
    if metric.endswith("_s") and not metric.endswith("per_s"):
        return f"{value:,.2f}"
    if metric.endswith("_mib"):
        return f"{value:,.1f}"
    return f"{value:,.0f}"


def system_name(key):
    section, system, backend = key[0], key[1], key[2]
    if system == "pubq" and backend:
        return f"pubq ({'SQLite' if backend == 'sqlite' else 'PostgreSQL'})"
    return system


def table(groups, sections, metric="jobs_per_s", unit="jobs/s",
          with_section=False):
    out = []
    head = "| " + ("workload | " if with_section else "") + \
        f"system | N | median {unit} | min | max | runs | command |"
    out += [head, "|" + "---|" * (head.count("|") - 1)]
    keys = [k for k in groups if k[0] in sections and k[3] == metric]
    for key in sorted(keys, key=lambda k: (sections.index(k[0]), k[4],
                                           k[1])):
        rows = groups[key]
        median, low, high, count = summary(rows)
        cells = [SECTION_TITLES.get(key[0], key[0])] if with_section else []
        cells += [system_name(key), f"{key[4]:,}" if key[4] else "-",
                  number(median, metric), number(low, metric),
                  number(high, metric), str(count),
                  f"`{rows[0].get('command', '')}`"]
        out.append("| " + " | ".join(cells) + " |")
    return out


def median_of(groups, section, system, backend, metric, n=None):
    """Median at N = n, or at the smallest N measured when n is None."""
    keys = [k for k in groups if k[0] == section and k[1] == system and
            k[2] == backend and k[3] == metric and (n is None or k[4] == n)]
    if not keys:
        return None, None
    key = min(keys, key=lambda k: k[4])
    return summary(groups[key])[0], key[4]


def best_peer(groups, section, n=None):
    best = (None, None, None)
    for peer in PEERS:
        value, size = median_of(groups, section, peer, "", "jobs_per_s", n)
        if value is not None and (best[0] is None or value > best[0]):
            best = (value, peer, size)
    return best


def ratio_row(label, ours, peer, need):
    value, name, size = ours
    peer_value, peer_name, peer_size = peer
    if value is None or peer_value is None:
        return f"| {label} | not measured | - | - | ≥ {need}× | not checked |"
    ratio = value / peer_value
    verdict = "met" if ratio >= need else "missed"
    return (f"| {label} | {value:,.0f} jobs/s ({name}, N={size:,}) | "
            f"{peer_value:,.0f} jobs/s ({peer_name}, N={peer_size:,}) | "
            f"{ratio:.2f}× | ≥ {need}× | **{verdict}** |")


def best_pubq(groups, sections, backend, n=None):
    best = (None, None, None)
    for section in sections:
        value, size = median_of(groups, section, "pubq", backend,
                                "jobs_per_s", n)
        if value is not None and (best[0] is None or value > best[0]):
            best = (value, SECTION_TITLES.get(section, section), size)
    return best


def targets(groups, backends):
    """Ratios of pubq's medians to the best peer's, at each N both
    measured."""
    out = ["| target | pubq | best peer | ratio | required | result |",
           "|---|---|---|---|---|---|"]
    sizes = sorted({k[4] for k in groups
                    if k[0] in ("http", "enqueue-batch", "enqueue-single")
                    and k[4]})
    for backend in backends:
        need = 3 if backend == "sqlite" else 1.5
        name = "SQLite" if backend == "sqlite" else "PostgreSQL"
        for n in sizes:
            out.append(ratio_row(
                f"HTTP publishing, {name}, N={n:,}",
                best_pubq(groups, ["http"], backend, n),
                best_peer(groups, "http", n), need))
            out.append(ratio_row(
                f"batch intake vs batch enqueue, {name}, N={n:,}",
                best_pubq(groups, ["import", "intake-http-batch"], backend,
                          n),
                best_peer(groups, "enqueue-batch", n), need))
            out.append(ratio_row(
                f"one-event intake vs one-job enqueue, {name}, N={n:,}",
                best_pubq(groups, ["intake-http"], backend, n),
                best_peer(groups, "enqueue-single", n), need))
    out += scale_targets(groups)
    return out


def scale_targets(groups):
    out = []
    p99, _ = median_of(groups, "latency", "pubq", "sqlite", "p99_ms")
    out.append(f"| due-time latency p99, SQLite | "
               f"{'not measured' if p99 is None else f'{p99:.0f} ms'} | - |"
               f" - | < 5 ms | **"
               f"{'not checked' if p99 is None else ('met' if p99 < 5 else 'missed')}"
               "** |")
    for metric, label, better in (("jobs_per_s", "dispatch throughput",
                                   "higher"),
                                  ("ms_per_claim", "claim time", "lower")):
        small, _ = median_of(groups, "scale", "pubq", "sqlite", metric,
                             10000)
        large, _ = median_of(groups, "scale", "pubq", "sqlite", metric,
                             1000000)
        if small is None or large is None:
            out.append(f"| {label} at 1M vs 10k waiting | not measured | "
                       "- | - | within 1.2× | **not checked** |")
            continue
        # The cost at 1M relative to 10k: above 1 when 1M is worse.
        ratio = small / large if better == "higher" else large / small
        out.append(f"| {label} at 1M vs 10k waiting | "
                   f"{number(large, metric)} vs {number(small, metric)} | "
                   f"- | {ratio:.2f}× the cost at 10k | within 1.2× | "
                   f"**{'met' if ratio <= 1.2 else 'missed'}** |")
    rss, _ = median_of(groups, "scale", "pubq", "sqlite", "peak_rss_mib",
                       1000000)
    out.append(f"| peak RSS at 1M waiting | "
               f"{'not measured' if rss is None else f'{rss:.1f} MiB'} | - "
               f"| - | < 30 MB | **"
               f"{'not checked' if rss is None else ('met' if rss * 1.048576 < 30 else 'missed')}"
               "** |")
    return out


def facts_section(facts, end):
    peers = ", ".join(f"{k} {v}" for k, v in facts["peers"].items())
    out = [
        f"- CPU: {facts['cpu']}, {facts['cores']} cores, "
        f"{facts['memory_gib']} GiB RAM, Linux {facts['kernel']}",
        f"- {facts['pubq']}; SQLite {facts['sqlite']}, "
        f"{facts['sqlite_note']}",
        f"- PostgreSQL: {facts['postgresql']}",
        f"- Node.js {facts['node']}; {peers}",
        f"- {facts['nginx']}; {facts['redis']}; {facts['wrk']}",
        f"- load average at start: {' '.join(facts['loadavg'])}"
        + (f"; at end: {' '.join(end['loadavg'])}; the run took "
           f"{end['seconds']} s" if end else ""),
    ]
    return out


def latency_table(groups):
    out = ["| system | p50 ms | p99 ms (min-max) | max ms (min-max) | "
           "runs | command |", "|---|---|---|---|---|---|"]
    systems = sorted({(k[1], k[2]) for k in groups if k[0] == "latency"})
    for system, backend in systems:
        cells = [system_name(("latency", system, backend))]
        for metric in ("p50_ms", "p99_ms", "max_ms"):
            key = ("latency", system, backend, metric, 1000)
            if key not in groups:
                cells.append("-")
                continue
            median, low, high, count = summary(groups[key])
            cells.append(f"{median:,.0f}" if metric == "p50_ms" else
                         f"{median:,.0f} ({low:,.0f}-{high:,.0f})")
        cells += [str(count), f"`{groups[key][0].get('command', '')}`"]
        out.append("| " + " | ".join(cells) + " |")
    return out


def scale_table(groups):
    out = ["| entries waiting | dispatch jobs/s (min-max) | ms per claim of "
           "64 (min-max) | daemon peak RSS MiB (min-max) | runs |",
           "|---|---|---|---|---|"]
    sizes = sorted({k[4] for k in groups if k[0] == "scale"})
    for size in sizes:
        cells = [f"{size:,}"]
        count = 0
        for metric in ("jobs_per_s", "ms_per_claim", "peak_rss_mib"):
            key = ("scale", "pubq", "sqlite", metric, size)
            if key not in groups:
                cells.append("-")
                continue
            median, low, high, count = summary(groups[key])
            cells.append(f"{number(median, metric)} ({number(low, metric)}"
                         f"-{number(high, metric)})")
        out.append("| " + " | ".join(cells + [str(count)]) + " |")
    return out


def retry_table(groups, rows):
    out = ["| measurement | median | min | max | runs |",
           "|---|---|---|---|---|"]
    labels = {
        "total_s": "first attempt to last publish, s",
        "beyond_backoff_s": "the same less the 1 s base delay, s",
        "peak_first_attempts_per_s": "peak first attempts (503) per second",
        "peak_retry_requests_per_s": "peak retries (200) per second",
        "retry_delay_min_ms": "shortest delay before the retry, ms",
        "retry_delay_max_ms": "longest delay before the retry, ms",
    }
    for metric, label in labels.items():
        key = ("retry", "pubq", "sqlite", metric, 10000)
        if key not in groups:
            continue
        median, low, high, count = summary(groups[key])
        out.append(f"| {label} | {number(median, metric)} | "
                   f"{number(low, metric)} | {number(high, metric)} | "
                   f"{count} |")
    series = [row for row in rows if row["section"] == "retry-seconds"]
    if series:
        seconds = ", ".join(f"{s[0]}s: {s[1]:,} ({s[2]:,} × 503)"
                            for s in series[-1]["seconds"])
        out += ["", f"Requests the sink saw per wall-clock second in run "
                f"{series[-1]['run']} (second since the first request): "
                f"{seconds}."]
    if len(out) == 2:
        return ["Not measured in this run; see the notes below."]
    return out


def render(rows):
    facts = next((r for r in rows if r["section"] == "facts"), None)
    end = next((r for r in rows if r["section"] == "end"), None)
    groups = group(rows)
    backends = sorted({k[2] for k in groups if k[1] == "pubq" and k[2]},
                      key=lambda b: b != "sqlite")
    out = ["# Benchmarks", "",
           "Written by `make bench` (`bench/run build`): pubq against "
           "graphile-worker, pg-boss and BullMQ on one machine, all on "
           "127.0.0.1, every system publishing to the same nginx sink. "
           "Each figure is the median of the runs shown, with min and "
           "max; each run is a separate process. Runs are interleaved "
           "(run 1 of every measurement, then run 2, then run 3), so "
           "load from other work on the machine falls on every system "
           "alike. Ratios compare medians of this one run.", "",
           "## Machine", ""]
    if facts:
        out += facts_section(facts, end)
    out += ["", "## Targets", ""] + targets(groups, backends or ["sqlite"])
    out += ["", "## Sink", "",
            "nginx with `return 200 '{\"id\":\"1\"}'` for every request "
            "(bench/services.py), one worker process. Its ceiling, "
            "POSTing a 90-byte JSON body over 32 keep-alive connections:",
            ""]
    out += table(groups, ["sink"], metric="requests_per_s",
                 unit="requests/s")
    out += ["", "## Enqueue and intake", "",
            "Jobs stored per second. The peers' figures count jobs added "
            "through their client library; pubq's count events accepted "
            "and stored (one job with one entry each), due in the future "
            "so that nothing is published meanwhile.", ""]
    out += table(groups, ["enqueue-batch", "import", "intake-http-batch",
                          "enqueue-single", "intake-http"],
                 with_section=True)
    out += ["", "## Processing with a no-op handler", "",
            "Peers: N jobs queued first, then the clock runs from starting "
            "the worker until the library has recorded all N complete. "
            "pubq has no no-op adapter; its nearest is the `file` adapter, "
            "which appends each post to a local file. pubq's clock runs "
            "from the first attempt's start to the last `published_at` "
            "in its database.", ""]
    out += table(groups, ["noop"])
    out += ["", "## Processing with an HTTP POST to the sink", "",
            "As above, with each handler POSTing the job's data as JSON "
            "to nginx over keep-alive connections (peers: node:http with a "
            "keep-alive agent; pubq: the `webhook` adapter, libcurl).", ""]
    out += table(groups, ["http"])
    out += ["", "## Due-time latency", "",
            "1,000 jobs due at the same whole second, 2 s after they are "
            "queued; lateness = handler start (peers) or attempt "
            "`started_at` (pubq) minus the due time, in ms.", ""]
    out += latency_table(groups)
    out += ["", "## Scale: entries waiting in the future", "",
            "10,000 entries due now, published to nginx while 10k, 100k "
            "or 1M entries wait, due in one day. Claim time comes from "
            "`bench_store claim` (the store's claim_due, 64 per claim, on "
            "a copy of the same database); dispatch throughput and peak "
            "RSS (VmHWM) from `pubq serve`.", ""]
    out += scale_table(groups)
    out += ["", "## Retry storm", "",
            "10,000 entries due now; bench_retry_sink answers 503 to the "
            "first request of each Idempotency-Key and 200 after. "
            "`[retry] base_delay = 1s`, `jitter = 0.5` (a retry waits "
            "0.5 to 1 s).", ""]
    out += retry_table(groups, rows)
    out += settings_section(rows, facts)
    profile = [r for r in rows if r["section"] == "profile"]
    if profile:
        out += ["", "## Profile of pubq serve publishing to the sink", "",
                "`perf record -F 499 --call-graph dwarf` on `pubq serve` "
                "while it publishes 10,000 entries through the webhook "
                "adapter. Self time by shared object and symbol, entries "
                "above 2 %:", "", "```", profile[-1]["text"], "```", "",
                "Time including callees, by symbol, entries above 2 %:",
                "", "```", profile[-1].get("children", ""), "```"]
    findings = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                            "findings.md")
    if os.path.exists(findings):
        with open(findings) as text:
            out += ["", text.read().strip()]
    notes = [r["text"] for r in rows if r["section"] == "note"]
    if notes:
        out += ["", "## Notes from this run", ""]
        out += [f"- {' '.join(text.split())}" for text in notes]
    return "\n".join(out) + "\n"


def settings_section(rows, facts):
    out = ["", "## Settings", "",
           "- pubq: `[engine] max_in_flight = 256`, the platform's "
           "`concurrency = 256`, `claim_batch` 64 (default), log level "
           "warn, SQLite in WAL mode with synchronous=FULL (every commit "
           "synced). The due-time latency run sets both to 1000, so "
           "that its 1,000 entries due in the same second run at once, "
           "and keeps `claim_ahead` at its default of 2s.",
           "- graphile-worker: concurrency 10 and its default pool of 10 "
           "connections (dist/lib.js warns when the pool is smaller than "
           "the concurrency).",
           "- pg-boss: 2 workers, batchSize 2500, pollingIntervalSeconds "
           "0.5 (the minimum); version 10 has no concurrency option and "
           "a worker waits out its polling interval after each batch "
           "(src/worker.js).",
           "- BullMQ: concurrency 100 (the default is 1; "
           "dist/esm/interfaces/worker-options.d.ts).",
           "- Logging of every peer cut to warnings and errors, as for "
           "pubq."]
    if facts and "postgres_settings" in facts:
        out.append(f"- PostgreSQL: {facts['postgres_settings']}.")
    if facts:
        out.append(f"- Workload sizes: {facts.get('sizes')}; "
                   "`PUBQ_BENCH_QUICK=1 make bench` runs N = 10,000 "
                   "only.")
    return out


def main():
    if len(sys.argv) != 2:
        print("usage: report.py RESULTS.jsonl", file=sys.stderr)
        return 2
    sys.stdout.write(render(load(sys.argv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
