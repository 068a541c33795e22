"""pubq's side of the benchmarks: intake over HTTP and by CLI import,
publishing through the webhook and file adapters, due-time latency, the
retry storm, scale with many waiting entries, and a profile.

Publishing figures come from the database: from the start of the first
attempt to the last entry's published_at, both in wall-clock ms."""
import datetime
import json
import math
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request

from services import Daemon, RetrySink, free_port, wait_for_port

FUTURE_AT = "2030-01-01T00:00:00Z"
WAIT_LIMIT_S = 180
IN_FLIGHT = 256
# The latency run lets all its entries, due in the same second, run at
# once, as an operator expecting such bursts would configure it.
LATENCY_IN_FLIGHT = 1000


def iso_ms(epoch_ms):
    moment = datetime.datetime.fromtimestamp(epoch_ms / 1000,
                                             datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{epoch_ms % 1000:03d}Z"


def write_jsonl(path, n, at=None, prefix="c"):
    with open(path, "w") as out:
        for i in range(n):
            line = {"contentItemId": f"{prefix}{i}", "platforms": ["sink"],
                    "content": {"text": f"hello {i}"}}
            if at is not None:
                line["scheduledAt"] = at
            out.write(json.dumps(line) + "\n")


def platform_lines(kind, target):
    if kind == "webhook":
        return f"type = webhook\nurl = {target}\n"
    return f"type = file\npath = {target}\n"


def write_conf(path, db_url, port, kind, target, retry=False,
               in_flight=IN_FLIGHT):
    retry_section = ""
    if retry:
        retry_section = ("[retry]\nbase_delay = 1s\nmax_delay = 1m\n"
                         "jitter = 0.5\n")
    with open(path, "w") as out:
        out.write(
            f"[server]\nlisten = 127.0.0.1:{port}\nmax_body_bytes = 16MiB\n"
            f"[database]\nurl = {db_url}\n"
            f"[engine]\nmax_in_flight = {in_flight}\n"
            f"{retry_section}"
            "[log]\nlevel = warn\n"
            "[platform sink]\n" + platform_lines(kind, target) +
            f"concurrency = {in_flight}\n")


def query(db_url, sql):
    """Rows of a query as lists of ints (NULL as 0)."""
    if db_url.startswith("postgres"):
        out = subprocess.run(["psql", db_url, "-Atc", sql],
                             capture_output=True, text=True, timeout=120,
                             check=True).stdout
        rows = [line.split("|") for line in out.splitlines() if line]
    else:
        connection = sqlite3.connect(db_url, timeout=30)
        try:
            rows = connection.execute(sql).fetchall()
        finally:
            connection.close()
    return [[int(value) if value not in (None, "") else 0 for value in row]
            for row in rows]


class Run:
    """A run directory with a fresh database and a configuration."""

    def __init__(self, bench, backend, name, kind="file", target=None,
                 retry=False, in_flight=IN_FLIGHT):
        self.bench = bench
        self.dir = os.path.join(bench.work, f"run-{name}-{bench.run}")
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.db = self.fresh_database(backend, name)
        self.port = free_port()
        self.conf = os.path.join(self.dir, "pubq.conf")
        if target is None:
            target = os.path.join(self.dir, "out.jsonl")
        write_conf(self.conf, self.db, self.port, kind, target, retry,
                   in_flight)
        self.daemon = None

    def fresh_database(self, backend, name):
        if backend == "sqlite":
            return os.path.join(self.dir, "pubq.db")
        database = re.sub(r"[^a-z0-9_]", "_", f"pubq_{name}_{self.bench.run}")
        for sql in (f"DROP DATABASE IF EXISTS {database}",
                    f"CREATE DATABASE {database}"):
            subprocess.run(["psql", self.bench.pg_url, "-qc", sql],
                           check=True, timeout=60, capture_output=True)
        return re.sub(r"/[^/]*$", f"/{database}", self.bench.pg_url)

    def pubq(self, *args, timeout=600):
        done = subprocess.run([self.bench.pubq, "--config", self.conf,
                               *args], capture_output=True, text=True,
                              timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"pubq {' '.join(args)} exited with "
                               f"{done.returncode}: {done.stderr[-400:]}")
        return done.stdout

    def start_daemon(self):
        self.daemon = Daemon(self.bench.pubq, self.conf,
                             os.path.join(self.dir, "serve.log"))
        self.daemon.start()

    def wait_finished(self, n, limit=WAIT_LIMIT_S):
        """Waits until n entries are published or failed; raises when the
        daemon exits or `limit` seconds pass."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self.daemon.process.poll() is not None:
                raise RuntimeError("pubq serve exited with "
                                   f"{self.daemon.process.returncode}; "
                                   "see its log " + self.daemon.log_path)
            done = query(self.db, "SELECT count(*) FROM entries WHERE "
                                  "status IN ('published', 'failed')")
            if done[0][0] >= n:
                return
            time.sleep(0.1)
        raise RuntimeError(f"fewer than {n} entries finished within "
                           f"{limit} s")

    def publish_span(self):
        """(published entries, first attempt start, last published_at)."""
        row = query(self.db,
                    "SELECT (SELECT count(*) FROM entries WHERE status = "
                    "'published'), (SELECT min(started_at) FROM attempts), "
                    "(SELECT max(published_at) FROM entries)")[0]
        return row

    def close(self):
        if self.daemon is not None:
            self.daemon.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def backends(bench):
    """sqlite always; postgres when the build accepts a postgres:// URL."""
    found = ["sqlite"]
    if not bench.pg_url:
        bench.note("PostgreSQL was not started: pubq on PostgreSQL and the "
                   "PostgreSQL peers are not measured")
        return found
    run = Run(bench, "postgres", "probe")
    try:
        run.pubq("migrate", timeout=60)
        found.append("postgres")
    except RuntimeError as error:
        bench.note("pubq on PostgreSQL not measured: this build rejects a "
                   f"postgres:// database URL ({str(error)[-200:].strip()})")
    finally:
        run.close()
    return found


def post_json(url, body, timeout=10):
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        return answer.status


def probe_http_intake(bench):
    """True when `pubq serve` accepts POST /v1/events."""
    run = Run(bench, "sqlite", "probe-http")
    try:
        run.pubq("migrate", timeout=60)
        run.start_daemon()
        wait_for_port(run.port, 5, run.daemon.process)
        status = post_json(
            f"http://127.0.0.1:{run.port}/v1/events",
            {"name": "publishing.scheduled",
             "data": {"contentItemId": "probe", "platforms": ["sink"],
                      "scheduledAt": FUTURE_AT,
                      "content": {"text": "probe"}}})
        return 200 <= status < 300
    except (RuntimeError, OSError, urllib.error.URLError) as error:
        bench.note("pubq intake over HTTP not measured: `pubq serve` of "
                   f"this build does not accept POST /v1/events ({error})")
        return False
    finally:
        run.close()


def parse_wrk_errors(output):
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return int(errors.group(1)) if errors else 0


def wait_for_jobs(db_url, n, load, start, limit=120):
    """Seconds from `start` until db_url contains n jobs; raises when the
    load generator exits first or after `limit` seconds."""
    while time.monotonic() - start < limit:
        if query(db_url, "SELECT count(*) FROM jobs")[0][0] >= n:
            return time.monotonic() - start
        if load.poll() is not None:
            raise RuntimeError(f"wrk exited early: {load.stdout.read()}")
        time.sleep(0.02)
    raise RuntimeError(f"fewer than {n} jobs stored after {limit} s")


def http_intake(bench, backend, n, batch):
    run = Run(bench, backend, f"intake-{batch}-{n}")
    try:
        run.pubq("migrate", timeout=60)
        run.start_daemon()
        wait_for_port(run.port, 5, run.daemon.process)
        connections = 16 if batch == 1 else 4
        script = os.path.join(bench.top, "bench", "wrk", "events.lua")
        env = dict(os.environ, BENCH_EVENTS=str(n), BENCH_BATCH=str(batch),
                   BENCH_THREADS="2", BENCH_AT=FUTURE_AT)
        # wrk always runs for its whole -d duration, so the clock stops
        # when the database contains n jobs, and wrk is stopped then.
        start = time.monotonic()
        load = subprocess.Popen(
            ["wrk", "-t2", f"-c{connections}", "-d120s", "-s", script,
             f"http://127.0.0.1:{run.port}/v1/events"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True)
        try:
            seconds = wait_for_jobs(run.db, n, load, start)
        finally:
            load.send_signal(signal.SIGINT)
            output = load.communicate(timeout=30)[0]
        errors = parse_wrk_errors(output)
        if errors:
            bench.note(f"pubq {backend} HTTP intake, {batch} event(s) per "
                       f"request, run {bench.run}: {errors} responses were "
                       "not 2xx; the figure counts the jobs stored")
        bench.record(
            section="intake-http" if batch == 1 else "intake-http-batch",
            system="pubq", backend=backend, metric="jobs_per_s", n=n,
            value=n / seconds,
            settings={"batch": batch, "connections": connections},
            command=f"BENCH_EVENTS={n} BENCH_BATCH={batch} BENCH_THREADS=2 "
                    f"wrk -t2 -c{connections} -d120s -s bench/wrk/events.lua"
                    " http://127.0.0.1:PORT/v1/events")
    finally:
        run.close()


def cli_import(bench, backend, n):
    run = Run(bench, backend, f"import-{n}")
    try:
        source = os.path.join(run.dir, "calendar.jsonl")
        write_jsonl(source, n, at=FUTURE_AT)
        run.pubq("migrate", timeout=60)
        start = time.monotonic()
        run.pubq("import", source)
        seconds = time.monotonic() - start
        jobs = query(run.db, "SELECT count(*) FROM jobs")[0][0]
        if jobs != n:
            raise RuntimeError(f"{jobs} of {n} jobs stored")
        bench.record(section="import", system="pubq", backend=backend,
                     metric="jobs_per_s", n=n, value=n / seconds,
                     command=f"pubq --config pubq.conf import calendar.jsonl"
                             f" ({n} lines, whole process)")
    finally:
        run.close()


def publish(bench, sink, backend, kind, n, perf_output=None):
    target = sink.url if kind == "webhook" else None
    run = Run(bench, backend, f"publish-{kind}-{n}", kind, target)
    perf = None
    try:
        source = os.path.join(run.dir, "calendar.jsonl")
        write_jsonl(source, n)
        run.pubq("import", source)
        run.start_daemon()
        if perf_output is not None:
            perf = subprocess.Popen(
                ["perf", "record", "-F", "499", "--call-graph", "dwarf",
                 "-o", perf_output,
                 "-p", str(run.daemon.process.pid)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        run.wait_finished(n)
        rss = run.daemon.peak_rss_kib()
        published, first, last = run.publish_span()
        if published != n:
            raise RuntimeError(f"{published} of {n} entries published")
        section = "http" if kind == "webhook" else "noop"
        if perf_output is not None:
            return
        bench.record(section=section, system="pubq", backend=backend,
                     metric="jobs_per_s", n=n,
                     value=n / max(0.001, (last - first) / 1000),
                     rss_kib=rss, adapter=kind,
                     settings={"concurrency": IN_FLIGHT,
                               "max_in_flight": IN_FLIGHT},
                     command=f"pubq import ({n} entries due now), then "
                             f"pubq serve ({kind} adapter)")
    finally:
        if perf is not None:
            perf.send_signal(signal.SIGINT)
            perf.wait(timeout=60)
        run.close()


def latency(bench, sink, backend, n):
    run = Run(bench, backend, "latency", "webhook", sink.url,
              in_flight=LATENCY_IN_FLIGHT)
    try:
        due = math.ceil(time.time() + 2.0) * 1000
        source = os.path.join(run.dir, "calendar.jsonl")
        write_jsonl(source, n, at=iso_ms(due))
        run.pubq("import", source)
        run.start_daemon()
        lead = due - time.time() * 1000
        if lead < 300:
            raise RuntimeError(f"the daemon started only {lead:.0f} ms "
                               "before the due time")
        run.wait_finished(n, limit=30)
        late = sorted(row[0] for row in query(
            run.db, "SELECT a.started_at - j.scheduled_at FROM attempts a "
                    "JOIN entries e ON e.id = a.entry_id "
                    "JOIN jobs j ON j.id = e.job_id WHERE a.number = 1"))
        if len(late) != n:
            raise RuntimeError(f"{len(late)} first attempts for {n} entries")
        for key, value in (("p50_ms", late[math.ceil(0.5 * n) - 1]),
                           ("p99_ms", late[math.ceil(0.99 * n) - 1]),
                           ("max_ms", late[-1])):
            bench.record(section="latency", system="pubq", backend=backend,
                         metric=key, n=n, value=value,
                         settings={"concurrency": LATENCY_IN_FLIGHT,
                                   "max_in_flight": LATENCY_IN_FLIGHT,
                                   "claim_ahead": "2s (default)"},
                         command="pubq import (1,000 entries due at the "
                                 "same whole second, 2 s ahead), then pubq "
                                 "serve (webhook adapter)")
    finally:
        run.close()


def pubq_round(bench, sink, backend, http_intake):
    """pubq's workloads on one back end, at the peers' sizes: import and
    HTTP intake (arrays of 100 and single events), publishing through
    the webhook adapter, the file adapter (SQLite), due-time latency."""
    sizes = bench.sizes
    for n in sizes["enqueue-batch"]:
        bench.measure(f"pubq {backend} import N={n}", cli_import, bench,
                      backend, n)
    if http_intake:
        for n in sizes["enqueue-batch"]:
            bench.measure(f"pubq {backend} HTTP batch N={n}",
                          http_intake_run, bench, backend, n, 100)
        for n in sizes["enqueue-single"]:
            bench.measure(f"pubq {backend} HTTP single N={n}",
                          http_intake_run, bench, backend, n, 1)
    for n in sizes["http"]:
        bench.measure(f"pubq {backend} webhook N={n}", publish, bench, sink,
                      backend, "webhook", n)
    if backend == "sqlite":
        for n in sizes["noop"]:
            bench.measure(f"pubq {backend} file N={n}", publish, bench,
                          sink, backend, "file", n)
    bench.measure(f"pubq {backend} latency", latency, bench, sink, backend,
                  1000)


http_intake_run = http_intake


def retry_storm(bench, n):
    sink = RetrySink(bench.build)
    sink.start()
    run = Run(bench, "sqlite", "retry", "webhook", sink.url, retry=True)
    try:
        source = os.path.join(run.dir, "calendar.jsonl")
        write_jsonl(source, n)
        run.pubq("import", source)
        run.start_daemon()
        run.wait_finished(n, limit=120)
        published, first, last = run.publish_span()
        if published != n:
            raise RuntimeError(f"{published} of {n} entries published")
        stats = sink.stats()["seconds"]
        retries_peak = max(second[1] - second[2] for second in stats)
        first_peak = max(second[2] for second in stats)
        delays = query(run.db,
                       "SELECT b.started_at - a.ended_at FROM attempts a "
                       "JOIN attempts b ON b.entry_id = a.entry_id AND "
                       "b.number = 2 WHERE a.number = 1")
        delays = sorted(row[0] for row in delays)
        command = ("pubq serve, [retry] base_delay = 1s, jitter = 0.5, "
                   f"{n} entries due now, sink: bench_retry_sink")
        total = (last - first) / 1000
        for metric, value in (
                ("total_s", total),
                ("beyond_backoff_s", total - 1.0),
                ("peak_retry_requests_per_s", retries_peak),
                ("peak_first_attempts_per_s", first_peak),
                ("retry_delay_min_ms", delays[0]),
                ("retry_delay_max_ms", delays[-1])):
            bench.record(section="retry", system="pubq", backend="sqlite",
                         metric=metric, n=n, value=value, command=command)
        bench.record(section="retry-seconds", system="pubq", n=n,
                     seconds=[[s[0] - stats[0][0], s[1], s[2]]
                              for s in stats])
    finally:
        run.close()
        sink.stop()


def scale_template(bench, waiting, due):
    """Writes a database with `due` entries due now and `waiting` entries
    due in one day. The due ones go through the store, with their audit
    records. The waiting ones are written with plain SQL, because the
    store inserts about 3,000 jobs/s on this machine and a million would
    take most of the time budget."""
    path = os.path.join(bench.work, f"scale-{waiting}.db")
    start = time.monotonic()
    subprocess.run([os.path.join(bench.build, "bench_store"), "fill", path,
                    "sink", "0", str(due)], check=True, timeout=600,
                   capture_output=True)
    now = int(time.time() * 1000)
    later = now + 86400000
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA synchronous = OFF")
        base = connection.execute("SELECT max(id) FROM jobs").fetchone()[0]
        series = ("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
                  "FROM n WHERE i < ?) ")
        connection.execute(
            series + "INSERT INTO content_items (id, content_json, "
            "created_at, updated_at) SELECT 'w' || i, '{\"text\":\"hello\"}'"
            ", ?, ? FROM n", (waiting, now, now))
        connection.execute(
            series + "INSERT INTO jobs (id, content_id, content_json, "
            "scheduled_at, created_at) SELECT ? + i, 'w' || i, "
            "'{\"text\":\"hello\"}', ?, ? FROM n", (waiting, base, later, now))
        connection.execute(
            series + "INSERT INTO entries (job_id, content_id, platform, "
            "status, max_retries, scheduled_at, due_at, idempotency_key, "
            "created_at, updated_at) SELECT ? + i, 'w' || i, 'sink', "
            "'pending', 3, ?, ?, 'bench-w' || i, ?, ? FROM n",
            (waiting, base, later, later, now, now))
        connection.commit()
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    bench.record(section="scale-fill", system="pubq", waiting=waiting,
                 due=due, seconds=round(time.monotonic() - start, 1),
                 bytes=os.path.getsize(path))


def copy_synced(source, target):
    """Copies a database and syncs the copy. Without the sync, the first
    checkpoint of the measured run waits while the kernel writes back
    the whole fresh copy (380 MB at 1M entries)."""
    shutil.copyfile(source, target)
    descriptor = os.open(target, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def scale_run(bench, sink, template, waiting, due):
    run = Run(bench, "sqlite", f"scale-{waiting}", "webhook", sink.url)
    try:
        copy_synced(template, run.db)
        claim_db = os.path.join(run.dir, "claim.db")
        copy_synced(template, claim_db)
        done = subprocess.run([os.path.join(bench.build, "bench_store"),
                               "claim", claim_db, str(due), "64"],
                              capture_output=True, text=True, timeout=300,
                              check=True)
        claim = json.loads(done.stdout)
        os.remove(claim_db)
        bench.record(section="scale", system="pubq", backend="sqlite",
                     metric="ms_per_claim", n=waiting,
                     value=claim["ms_per_claim"],
                     command=f"bench_store claim DB {due} 64 ({waiting} "
                             "entries waiting)")
        run.start_daemon()
        run.wait_finished(due)
        rss = run.daemon.peak_rss_kib()
        published, first, last = run.publish_span()
        if published != due:
            raise RuntimeError(f"{published} of {due} entries published")
        bench.record(section="scale", system="pubq", backend="sqlite",
                     metric="jobs_per_s", n=waiting,
                     value=due / max(0.001, (last - first) / 1000),
                     command=f"pubq serve, {due} entries due now and "
                             f"{waiting} waiting (webhook adapter)")
        bench.record(section="scale", system="pubq", backend="sqlite",
                     metric="peak_rss_mib", n=waiting, value=rss / 1024,
                     command="VmHWM of pubq serve in /proc/PID/status")
    finally:
        run.close()


def profile_publish(bench, sink):
    """perf profile of pubq serve publishing 10,000 entries to nginx."""
    if shutil.which("perf") is None:
        bench.note("no profile: perf is not installed")
        return
    output = os.path.join(bench.work, "perf.data")
    publish(bench, sink, "sqlite", "webhook", 10000, perf_output=output)
    views = []
    for sort, extra in (("dso,symbol", ["--no-children"]),
                        ("symbol", ["--children"])):
        report = subprocess.run(
            ["perf", "report", "-i", output, "--stdio", *extra, "--sort",
             sort, "--percent-limit", "2", "-g", "none"],
            capture_output=True, text=True, timeout=300)
        lines = [line.rstrip().rstrip("-").rstrip() for line in
                 report.stdout.splitlines()
                 if line.strip() and not line.startswith("#")]
        views.append("\n".join(lines[:30]))
    bench.record(section="profile", system="pubq", text=views[0],
                 children=views[1])
    os.remove(output)
