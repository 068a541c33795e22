#!/usr/bin/env python3
"""HTTP servers on 127.0.0.1 that misbehave, one behaviour per port.

Each server reads a whole request (headers and Content-Length body) and
then answers in its own bad way:

  silent     sends nothing and waits until the client hangs up
  trickle    sends a valid 200 response one byte per second
  huge       announces a 2 GiB body (Content-Length: 2147483648) and
             writes 64 KiB every 10 ms until the client hangs up; the
             body is generated on the fly, never held in memory
  midheader  sends part of the status line and headers, then closes
  badjson    sends 200 with a body that is not valid JSON
  badjson503 sends 503 with a body that is not valid JSON

Every wait is bounded by LIMIT_SECONDS, so no thread outlives the test.
Files written in the state directory:

  ports.json   {"silent": PORT, ...}, written once every server listens
  events.log   one line per request and step: "BEHAVIOUR accepted 0",
               then "BEHAVIOUR answered BYTES" (body bytes sent before
               the client hung up, for huge) or "BEHAVIOUR hung-up -1"

usage: hostile_platform.py STATE_DIR
"""

import json
import os
import socket
import socketserver
import sys
import threading
import time

LIMIT_SECONDS = 60
HUGE_LENGTH = 2 * 1024 * 1024 * 1024
CHUNK = b"x" * 65536


def read_request(conn):
    """Reads headers and a Content-Length body; returns False on EOF."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return False
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return False
        body += chunk
    return True


def wait_for_hangup(conn):
    """Blocks until the client closes the connection or the limit passes."""
    conn.settimeout(LIMIT_SECONDS)
    try:
        while conn.recv(4096):
            pass
    except OSError:
        pass


def answer_silent(conn):
    wait_for_hangup(conn)
    return 0


def answer_trickle(conn):
    reply = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
             b"Content-Length: 2\r\n\r\n{}")
    sent = 0
    for byte in reply:
        conn.sendall(bytes([byte]))
        sent += 1
        time.sleep(1)
    return sent


def answer_huge(conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n" % HUGE_LENGTH)
    sent = 0
    deadline = time.monotonic() + LIMIT_SECONDS
    try:
        while sent < HUGE_LENGTH and time.monotonic() < deadline:
            conn.sendall(CHUNK)
            sent += len(CHUNK)
            time.sleep(0.01)
    except OSError:
        pass
    return sent


def answer_midheader(conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: applica")
    return 0


def answer_json(conn, status):
    body = b'{"id": "1", "url": '
    conn.sendall(b"HTTP/1.1 %s\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\nConnection: close\r\n\r\n"
                 % (status, len(body)) + body)
    return len(body)


BEHAVIOURS = {
    "silent": answer_silent,
    "trickle": answer_trickle,
    "huge": answer_huge,
    "midheader": answer_midheader,
    "badjson": lambda conn: answer_json(conn, b"200 OK"),
    "badjson503": lambda conn: answer_json(conn, b"503 Service Unavailable"),
}


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def make_handler(name, state_dir, lock):
    answer = BEHAVIOURS[name]

    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            conn = self.request
            conn.settimeout(LIMIT_SECONDS)
            try:
                if not read_request(conn):
                    return
                self.log("accepted", 0)
                sent = answer(conn)
                self.log("answered", sent)
            except OSError:
                self.log("hung-up", -1)

        def log(self, what, sent):
            with lock, open(os.path.join(state_dir, "events.log"), "a",
                            encoding="utf-8") as out:
                out.write(f"{name} {what} {sent}\n")

    return Handler


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: hostile_platform.py STATE_DIR")
    state_dir = sys.argv[1]
    lock = threading.Lock()
    ports = {}
    for name in BEHAVIOURS:
        server = Server(("127.0.0.1", 0), make_handler(name, state_dir, lock))
        server.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
        ports[name] = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()

    temporary = os.path.join(state_dir, "ports.json.tmp")
    with open(temporary, "w", encoding="utf-8") as out:
        json.dump(ports, out)
    os.replace(temporary, os.path.join(state_dir, "ports.json"))
    threading.Event().wait()


if __name__ == "__main__":
    main()
