#!/usr/bin/env python3
"""A slow webhook receiver on 127.0.0.1 for crash tests.

Each POST is read whole, stored once per Idempotency-Key, then answered
after a delay. A later POST with a key already stored gets the stored
post back without storing a second one, as Mastodon does within the
lifetime of an Idempotency-Key. Files written in the state directory:

  port          the port the server listens on, written once it is ready
  posts.jsonl   one line per stored post: {"key": ..., "body": ...}
  requests.log  one line per POST received: its key
  in_progress   how many POSTs are being held right now

usage: slow_sink.py STATE_DIR [DELAY_SECONDS]
"""

import http.server
import json
import os
import sys
import threading
import time


class Sink:
    """The shared state of all request threads."""

    def __init__(self, state_dir, delay):
        self.state_dir = state_dir
        self.delay = delay
        self.lock = threading.Lock()
        self.posts = {}
        self.in_progress = 0

    def path(self, name):
        return os.path.join(self.state_dir, name)

    def append(self, name, line):
        with open(self.path(name), "a", encoding="utf-8") as out:
            out.write(line + "\n")

    def set_in_progress(self, change):
        """Adds change to the count and rewrites its file atomically."""
        with self.lock:
            self.in_progress += change
            temporary = self.path("in_progress.tmp")
            with open(temporary, "w", encoding="utf-8") as out:
                out.write(f"{self.in_progress}\n")
            os.replace(temporary, self.path("in_progress"))

    def store(self, key, body):
        """Returns (post, created): the stored post for key."""
        with self.lock:
            self.append("requests.log", key)
            if key in self.posts:
                return self.posts[key], False
            post = {"id": f"post-{len(self.posts) + 1}", "key": key}
            self.posts[key] = post
            self.append("posts.jsonl", json.dumps({"key": key, "body": body}))
            return post, True


class Server(http.server.ThreadingHTTPServer):
    # The default listen backlog of 5 would make the kernel drop some of
    # the 50 simultaneous connections and the client resend them later.
    request_queue_size = 128
    daemon_threads = True


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        sink = self.server.sink
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode("utf-8", "replace")
        key = self.headers.get("Idempotency-Key", "")
        if len(body.encode("utf-8")) < length or not key:
            self.send_error(400, "incomplete body or missing Idempotency-Key")
            return

        post, created = sink.store(key, body)
        if created:
            sink.set_in_progress(1)
            try:
                time.sleep(sink.delay)
            finally:
                sink.set_in_progress(-1)

        reply = json.dumps(post).encode("utf-8")
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)
        except OSError:
            # The client went away (the daemon was killed): the post stays
            # stored, which is the point of the test.
            pass

    def log_message(self, format, *args):
        pass


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: slow_sink.py STATE_DIR [DELAY_SECONDS]")
    state_dir = sys.argv[1]
    delay = float(sys.argv[2]) if len(sys.argv) == 3 else 2.0

    server = Server(("127.0.0.1", 0), Handler)
    server.sink = Sink(state_dir, delay)
    server.sink.set_in_progress(0)
    with open(server.sink.path("port.tmp"), "w", encoding="utf-8") as out:
        out.write(f"{server.server_address[1]}\n")
    os.replace(server.sink.path("port.tmp"), server.sink.path("port"))
    server.serve_forever()


if __name__ == "__main__":
    main()
