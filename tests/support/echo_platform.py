#!/usr/bin/env python3
"""An HTTP server on 127.0.0.1 that fails every request and echoes it.

Each request gets an error status with a body that repeats the request
line, every header and the body, both as plain text and inside JSON
fields that adapters read as error messages ("error", "description",
"message"). A secret that an adapter sends in its URL or headers thus
comes back in the reply, where the adapter must not copy it into
anything it logs or stores. The status rotates per request through 401,
404, 429 (with Retry-After: 1), 500 and 400.

Files written in STATE_DIR: port (once it listens) and requests.log
(each request as echoed, so a test can check what was sent).

usage: echo_platform.py STATE_DIR
"""

import http.server
import itertools
import json
import os
import sys

STATUSES = itertools.cycle([401, 404, 429, 500, 400])


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def echo(self):
        length = int(self.headers.get("Content-Length", "0") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace")
        text = f"{self.requestline}\n{self.headers}\n{body}"
        reply = json.dumps({"ok": False, "error": text, "description": text,
                            "message": text, "error_code": 401}).encode()
        with open(os.path.join(self.server.state_dir, "requests.log"), "a",
                  encoding="utf-8") as out:
            out.write(text + "\n")
        status = next(STATUSES)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        if status == 429:
            self.send_header("Retry-After", "1")
        self.end_headers()
        self.wfile.write(reply)

    do_GET = do_POST = do_PUT = echo

    def log_message(self, format, *args):
        pass


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: echo_platform.py STATE_DIR")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.state_dir = sys.argv[1]
    path = os.path.join(sys.argv[1], "port")
    with open(path + ".tmp", "w", encoding="utf-8") as out:
        out.write(f"{server.server_address[1]}\n")
    os.replace(path + ".tmp", path)
    server.serve_forever()


if __name__ == "__main__":
    main()
