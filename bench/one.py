"""Runs one of pubq's benchmark workloads a few times and prints each
figure, for comparing builds while working on one path. make bench
does not use it.

    bench/one.py BUILD_DIR WORKLOAD [N] [RUNS]

WORKLOAD is BACKEND-KIND, where BACKEND is sqlite or postgres. KIND
is one of:

    publish   the webhook adapter posting to nginx
    noop      the file adapter
    import    pubq import of a JSON Lines file
    http1     one event per request over 16 connections
    http100   arrays of 100 events over 4 connections
    latency   N entries due at the same second, claimed ahead: prints
              each run's p50, p99 and max of the start's lateness (ms)

A postgres workload needs PUBQ_TEST_PG_URL, as scripts/test-postgres
run sets it:

    scripts/test-postgres run python3 bench/one.py build postgres-import
"""
import json
import os
import sys
import tempfile
import shutil

import pubq_runs
from harness import Bench
from services import Nginx

DEFAULT_N = {"publish": 10000, "noop": 10000, "import": 10000,
             "http1": 5000, "http100": 10000, "latency": 1000}


def run_workload(bench, sink, backend, kind, n):
    if kind == "publish":
        pubq_runs.publish(bench, sink, backend, "webhook", n)
    elif kind == "noop":
        pubq_runs.publish(bench, sink, backend, "file", n)
    elif kind == "import":
        pubq_runs.cli_import(bench, backend, n)
    elif kind == "http1":
        pubq_runs.http_intake(bench, backend, n, 1)
    elif kind == "http100":
        pubq_runs.http_intake(bench, backend, n, 100)
    elif kind == "latency":
        pubq_runs.latency(bench, sink, backend, n)
    else:
        raise SystemExit(f"one.py: unknown kind {kind!r}; expected one of "
                         f"{', '.join(DEFAULT_N)}")


def print_latency(rows, loads):
    """Prints one line per run: p50, p99 and max lateness in ms, and the
    load average when the run ended, since the machine is shared."""
    runs = {}
    for row in rows:
        if row.get("section") == "latency":
            runs.setdefault(row["run"], {})[row["metric"]] = row["value"]
        elif row.get("section") == "note":
            print(row["text"])
    for run, figures in sorted(runs.items()):
        print(f"run {run}: p50 {figures.get('p50_ms')} ms, p99 "
              f"{figures.get('p99_ms')} ms, max {figures.get('max_ms')} ms, "
              f"load {loads.get(run, '?')}")


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    backend, _, kind = sys.argv[2].partition("-")
    if backend not in ("sqlite", "postgres") or kind not in DEFAULT_N:
        print(f"one.py: invalid workload {sys.argv[2]!r}; expected "
              "sqlite-KIND or postgres-KIND", file=sys.stderr)
        return 2

    n = int(sys.argv[3]) if len(sys.argv) > 3 else DEFAULT_N[kind]
    runs = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    work = tempfile.mkdtemp(prefix="pubq-one.")
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    bench = Bench(top, os.path.abspath(sys.argv[1]), work)
    sink = Nginx(work)
    sink.start()

    loads = {}
    try:
        for run in range(1, runs + 1):
            bench.run = run
            run_workload(bench, sink, backend, kind, n)
            loads[run] = "%.1f %.1f %.1f" % os.getloadavg()
    finally:
        sink.stop()
        bench.out.close()
        with open(os.path.join(work, "results.jsonl")) as results:
            rows = [json.loads(line) for line in results]
        shutil.rmtree(work, ignore_errors=True)

    if kind == "latency":
        print_latency(rows, loads)
        return 0
    values = [row.get("value") for row in rows]
    figures = sorted(v for v in values if v is not None)
    if figures:
        print(f"{sys.argv[2]} N={n}: median {figures[len(figures) // 2]:,.0f}"
              f" jobs/s, runs {', '.join(f'{v:,.0f}' for v in figures)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
