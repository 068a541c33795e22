"""Loopback services of the benchmarks: the nginx sink, Redis, the retry
sink and pubq daemons, each started in a temporary directory and
stopped by the caller."""
import os
import signal
import socket
import subprocess
import time


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port, seconds, process=None):
    """Waits until 127.0.0.1:port accepts a connection; raises after
    `seconds` or when `process` exits first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} "
                               f"before listening on port {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after "
                       f"{seconds} s")


def stop_process(process, seconds=15):
    """Sends SIGTERM, waits up to `seconds`, then SIGKILL."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


NGINX_CONF = """\
daemon on;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{
            default_type application/json;
            return 200 '{{"id":"1"}}';
        }}
    }}
}}
"""


class Nginx:
    """Debian's nginx, replying 200 {"id":"1"} to every request. One
    worker process, so that it leaves the second core to the system
    under test."""

    def __init__(self, work):
        self.dir = os.path.join(work, "nginx")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        os.makedirs(self.dir, exist_ok=True)
        self.conf = os.path.join(self.dir, "nginx.conf")
        with open(self.conf, "w") as out:
            out.write(NGINX_CONF.format(dir=self.dir, port=self.port))

    def start(self):
        subprocess.run(["nginx", "-c", self.conf, "-e",
                        os.path.join(self.dir, "error.log")],
                       check=True, timeout=30)
        wait_for_port(self.port, 10)

    def stop(self):
        pid_file = os.path.join(self.dir, "nginx.pid")
        try:
            with open(pid_file) as pid_text:
                pid = int(pid_text.read().strip())
        except (OSError, ValueError):
            return
        os.kill(pid, signal.SIGQUIT)
        deadline = time.monotonic() + 10
        while os.path.exists(pid_file) and time.monotonic() < deadline:
            time.sleep(0.05)


class Redis:
    """Debian's redis-server on a free port, with no persistence."""

    def __init__(self, work):
        self.dir = os.path.join(work, "redis")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}"
        os.makedirs(self.dir, exist_ok=True)
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port",
             str(self.port), "--save", "", "--appendonly", "no",
             "--dir", self.dir, "--logfile",
             os.path.join(self.dir, "redis.log")])
        wait_for_port(self.port, 10, self.process)

    def stop(self):
        if self.process is not None:
            stop_process(self.process)


class RetrySink:
    """bench_retry_sink: 503 to the first request of each
    Idempotency-Key, 200 after; counts requests per second."""

    def __init__(self, build):
        self.binary = os.path.join(build, "bench_retry_sink")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.process = None

    def start(self):
        self.process = subprocess.Popen([self.binary, str(self.port)])
        wait_for_port(self.port, 10, self.process)

    def stats(self):
        import json
        import urllib.request
        with urllib.request.urlopen(
                f"http://127.0.0.1:{self.port}/stats", timeout=10) as answer:
            return json.load(answer)

    def stop(self):
        if self.process is not None:
            stop_process(self.process)


class Daemon:
    """One `pubq serve` with its configuration file, logging to a file."""

    def __init__(self, pubq, conf, log_path):
        self.pubq = pubq
        self.conf = conf
        self.log_path = log_path
        self.process = None

    def start(self):
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [self.pubq, "--config", self.conf, "serve"],
                stdout=log, stderr=log)

    def peak_rss_kib(self):
        """VmHWM of the running daemon in KiB, or None."""
        try:
            with open(f"/proc/{self.process.pid}/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None

    def stop(self):
        if self.process is not None:
            stop_process(self.process, seconds=20)
