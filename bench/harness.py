"""Runs every benchmark of `make bench` and writes one JSON line per
measurement; bench/run starts it with PUBQ_TEST_PG_URL set and hands
its output to report.py.

    python3 bench/harness.py BUILD_DIR WORK_DIR

Each measurement is a separate process run, repeated RUNS times. The
runs are interleaved (run 1 of everything, then run 2, ...) so that a
burst of load on a shared machine hits every system alike. Every wait
is bounded, and a measurement that would start after the time budget
(PUBQ_BENCH_BUDGET seconds, default 1080) is skipped and noted.
"""
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time

import pubq_runs
from services import Nginx, Redis

RUNS = 3
PEERS = ["graphile-worker", "pg-boss", "bullmq"]
LATENCY_JOBS = 1000
SCALE_WAITING = [10000, 100000, 1000000]
SCALE_DUE = 10000
RETRY_ENTRIES = 10000


def workloads(quick):
    """(mode, N) pairs for the peers and pubq: N = 10,000 and 50,000 for
    every workload. PUBQ_BENCH_QUICK=1 keeps N = 10,000 only, for a
    short run while working on one path."""
    modes = ["enqueue-batch", "enqueue-single", "noop", "http"]
    sizes = [10000] if quick else [10000, 50000]
    return {mode: list(sizes) for mode in modes}


class Bench:
    def __init__(self, top, build, work):
        self.top = top
        self.build = build
        self.pubq = os.path.join(build, "pubq")
        self.work = work
        self.budget = float(os.environ.get("PUBQ_BENCH_BUDGET", "1080"))
        self.started = time.monotonic()
        self.quick = os.environ.get("PUBQ_BENCH_QUICK") == "1"
        self.sizes = workloads(self.quick)
        self.pg_url = os.environ.get("PUBQ_TEST_PG_URL", "")
        self.out = open(os.path.join(work, "results.jsonl"), "a")
        self.run = 0

    def elapsed(self):
        return time.monotonic() - self.started

    def has_time(self, what):
        if self.elapsed() < self.budget:
            return True
        self.note(f"skipped {what} in run {self.run}: the time budget of "
                  f"{self.budget:.0f} s was used up")
        return False

    def record(self, **row):
        row.setdefault("run", self.run)
        self.out.write(json.dumps(row) + "\n")
        self.out.flush()
        shown = {k: v for k, v in row.items() if k != "text"}
        print(f"[{self.elapsed():6.0f}s] {json.dumps(shown)}",
              file=sys.stderr, flush=True)

    def note(self, text):
        self.record(section="note", text=text)

    def measure(self, what, function, *args):
        """Calls function(*args) unless the budget is spent; a failure
        becomes a note and the run goes on."""
        if not self.has_time(what):
            return None
        try:
            return function(*args)
        except Exception as error:  # a failed measurement must not stop
            self.note(f"{what} failed in run {self.run}: {error}")
            return None


def sink_ceiling(bench, sink):
    script = os.path.join(bench.top, "bench", "wrk", "sink.lua")
    command = ["wrk", "-t1", "-c32", "-d3s", "-s", script, sink.url]
    output = subprocess.run(command, capture_output=True, text=True,
                            timeout=60, check=True).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if match is None:
        raise RuntimeError(f"no Requests/sec in wrk output: {output}")
    bench.record(section="sink", system="nginx", metric="requests_per_s",
                 value=float(match.group(1)), command=" ".join(
                     ["wrk", "-t1", "-c32", "-d3s", "-s",
                      "bench/wrk/sink.lua", "SINK_URL"]))


def peer_run(bench, env, peer, mode, n):
    command = ["node", "run.mjs", peer, mode, str(n)]
    done = subprocess.run(command, cwd=os.path.join(bench.top, "bench",
                                                    "peers"),
                          env=env, capture_output=True, text=True,
                          timeout=max(60, min(600, bench.budget)))
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited with "
                           f"{done.returncode}: {done.stderr[-600:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    shown = "node bench/peers/run.mjs " + " ".join(command[2:])
    settings = {k: v for k, v in result.items()
                if k in ("concurrency", "pool", "workers", "batch_size",
                         "polling_seconds")}
    if mode == "latency":
        for key in ("p50_ms", "p99_ms", "max_ms"):
            bench.record(section="latency", system=peer, backend="",
                         metric=key, n=n, value=result[key],
                         command=shown, settings=settings)
        return
    bench.record(section=mode, system=peer, backend="",
                 metric="jobs_per_s", n=n, value=result["jobs_per_second"],
                 command=shown, settings=settings)


def peers_round(bench, env):
    for peer in PEERS:
        for mode, sizes in bench.sizes.items():
            for n in sizes:
                bench.measure(f"{peer} {mode} N={n}", peer_run, bench, env,
                              peer, mode, n)
        bench.measure(f"{peer} latency", peer_run, bench, env, peer,
                      "latency", LATENCY_JOBS)


def one_round(bench, env, sink, backends, http_intake):
    bench.measure("sink ceiling", sink_ceiling, bench, sink)
    peers_round(bench, env)
    for backend in backends:
        pubq_runs.pubq_round(bench, sink, backend, http_intake)
    bench.measure("retry storm", pubq_runs.retry_storm, bench,
                  RETRY_ENTRIES)
    for waiting in SCALE_WAITING:
        template = os.path.join(bench.work, f"scale-{waiting}.db")
        if os.path.exists(template):
            bench.measure(f"scale {waiting}", pubq_runs.scale_run, bench,
                          sink, template, waiting, SCALE_DUE)


def machine_facts(bench, redis):
    def first_line(command):
        try:
            done = subprocess.run(command, capture_output=True, text=True,
                                  timeout=30)
            return (done.stdout + done.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.SubprocessError):
            return "unknown"

    cpu = "unknown"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as info:
        memory_kib = int(info.readline().split()[1])
    peers = {}
    for name in PEERS:
        path = os.path.join(bench.top, "bench", "peers", "node_modules",
                            name, "package.json")
        with open(path) as package:
            peers[name] = json.load(package)["version"]
    postgres = "not measured"
    postgres_settings = "not started"
    if bench.pg_url:
        postgres = first_line(["psql", bench.pg_url, "-Atc",
                               "show server_version"])
        postgres_settings = ", ".join(
            f"{name}={first_line(['psql', bench.pg_url, '-Atc', 'show ' + name])}"
            for name in ("fsync", "synchronous_commit", "shared_buffers",
                         "max_connections"))
    bench.record(
        section="facts", cpu=cpu, cores=os.cpu_count(),
        memory_gib=round(memory_kib / 1048576, 1),
        kernel=os.uname().release,
        sqlite=sqlite3.sqlite_version,
        sqlite_note="the library pubq links (Debian libsqlite3)",
        postgresql=postgres, postgres_settings=postgres_settings,
        sizes=bench.sizes, node=first_line(["node", "--version"]),
        peers=peers, nginx=first_line(["nginx", "-v"]),
        redis=first_line(["redis-server", "--version"]),
        wrk=first_line(["wrk", "--version"]),
        pubq=first_line([bench.pubq, "--version"]),
        loadavg=open("/proc/loadavg").read().split()[:3],
        quick=bench.quick, runs=RUNS, budget_s=bench.budget)


def main():
    if len(sys.argv) != 3:
        print("usage: harness.py BUILD_DIR WORK_DIR", file=sys.stderr)
        return 2
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    bench = Bench(top, os.path.abspath(sys.argv[1]),
                  os.path.abspath(sys.argv[2]))
    sink = Nginx(bench.work)
    redis = Redis(bench.work)
    sink.start()
    redis.start()
    try:
        machine_facts(bench, redis)
        env = dict(os.environ, BENCH_REDIS_URL=redis.url,
                   BENCH_SINK_URL=sink.url)
        backends = pubq_runs.backends(bench)
        http_intake = pubq_runs.probe_http_intake(bench)
        for waiting in SCALE_WAITING:
            bench.measure(f"scale template {waiting}",
                          pubq_runs.scale_template, bench, waiting,
                          SCALE_DUE)
        for run in range(1, RUNS + 1):
            bench.run = run
            one_round(bench, env, sink, backends, http_intake)
        bench.run = 0
        if bench.has_time("profile"):
            bench.measure("profile", pubq_runs.profile_publish, bench, sink)
        bench.record(section="end", seconds=round(bench.elapsed()),
                     loadavg=open("/proc/loadavg").read().split()[:3])
    finally:
        redis.stop()
        sink.stop()
        for name in os.listdir(bench.work):
            if name.endswith(".db") or name.startswith("run-"):
                path = os.path.join(bench.work, name)
                if os.path.isdir(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    os.remove(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
