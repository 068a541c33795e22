#!/usr/bin/python3
"""A real SMTP server on 127.0.0.1 for the smtp adapter tests.

Runs aiosmtpd (Debian package python3-aiosmtpd) on a free port and writes
each accepted message twice into --dir: N.eml contains the raw bytes, N.json
what Python's email package read from them (decoded headers, body, MIME
defects), so a C test can check the message without parsing MIME itself.

    smtp_sink.py --dir DIR --port-file FILE [--auth USER:PASSWORD]
                 [--reject-rcpt ADDRESS=CODE]... [--reject-data ADDRESS=CODE]...

--reject-rcpt answers RCPT TO:<ADDRESS> with CODE. --reject-data answers
the end of the DATA of a message for ADDRESS with CODE, or with CODE
"drop" closes the connection without any reply. The port is written to
FILE once the server accepts connections. SIGTERM stops the server.
"""

import argparse
import email
import email.policy
import json
import logging
import os
import signal
import socket
import sys
import threading
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

REPLIES = {
    "421": "421 4.3.2 service shutting down",
    "450": "450 4.2.1 mailbox busy, try again later",
    "451": "451 4.3.0 local error, try again later",
    "452": "452 4.5.3 too many recipients",
    "550": "550 5.1.1 no such user here",
    "552": "552 5.3.4 message too big",
    "554": "554 5.7.1 message rejected as spam",
}


def reply_for(code):
    return REPLIES.get(code, code + " rejected by the test server")


def pairs(values):
    """Reads ADDRESS=CODE options into a dict."""
    result = {}
    for value in values:
        address, _, code = value.partition("=")
        result[address.lower()] = code
    return result


def describe(raw):
    """Returns what the email package reads from a raw message."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    body = None if message.is_multipart() else message.get_content()
    if body is not None:
        body = body.replace("\r\n", "\n")
    defects = [type(defect).__name__ for defect in message.defects]
    headers = {}
    for name in ("Date", "From", "To", "Subject", "Message-ID",
                 "MIME-Version", "Content-Type",
                 "Content-Transfer-Encoding"):
        value = message.get(name)
        headers[name] = None if value is None else str(value)
    raw_headers = raw.split(b"\r\n\r\n", 1)[0].decode("ascii", "replace")
    return {
        "headers": headers,
        "header_count": {name: len(message.get_all(name, []))
                         for name in headers},
        "content_type": message.get_content_type(),
        "charset": message.get_content_charset(),
        "body": body,
        "defects": defects,
        "raw_headers": raw_headers,
        "raw_max_line": max(len(line) for line in raw.split(b"\r\n")),
        "bare_lf": b"\n" in raw.replace(b"\r\n", b""),
    }


class SinkHandler:
    def __init__(self, directory, rcpt_rejects, data_rejects):
        self.directory = directory
        self.rcpt_rejects = rcpt_rejects
        self.data_rejects = data_rejects
        self.count = 0
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address,
                          rcpt_options):
        code = self.rcpt_rejects.get(address.lower())
        if code is not None:
            return reply_for(code)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        for address in envelope.rcpt_tos:
            code = self.data_rejects.get(address.lower())
            if code == "drop":
                server.transport.close()
                return "250 OK"
            if code is not None:
                return reply_for(code)
        self.save(envelope)
        return "250 2.0.0 OK queued"

    def save(self, envelope):
        with self.lock:
            self.count += 1
            number = self.count
        raw = envelope.original_content
        summary = describe(raw)
        summary["mail_from"] = envelope.mail_from
        summary["rcpt_tos"] = list(envelope.rcpt_tos)
        base = os.path.join(self.directory, str(number))
        with open(base + ".eml", "wb") as out:
            out.write(raw)
        # Written under a temporary name, so a reader never sees half.
        with open(base + ".json.tmp", "w", encoding="utf-8") as out:
            json.dump(summary, out, ensure_ascii=False)
        os.rename(base + ".json.tmp", base + ".json")


def make_authenticator(user, password):
    def authenticate(server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        ok = (auth_data.login.decode() == user and
              auth_data.password.decode() == password)
        # handled=False: aiosmtpd itself then replies 535 on failure.
        return AuthResult(success=ok, handled=False)
    return authenticate


def free_port():
    """Asks the kernel for a free loopback port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(handler, smtp_options):
    """Starts the controller, trying again if another process took the
    port between free_port() and the bind."""
    for _ in range(5):
        controller = Controller(handler, hostname="127.0.0.1",
                                port=free_port(), **smtp_options)
        try:
            controller.start()
            return controller
        except OSError:
            continue
    sys.exit("smtp_sink: could not bind a loopback port")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--auth")
    parser.add_argument("--reject-rcpt", action="append", default=[])
    parser.add_argument("--reject-data", action="append", default=[])
    args = parser.parse_args()

    # aiosmtpd warns about AUTH without TLS, which is the point here.
    warnings.simplefilter("ignore")
    logging.getLogger("mail.log").setLevel(logging.ERROR)

    smtp_options = {}
    if args.auth:
        user, _, password = args.auth.partition(":")
        smtp_options = {
            "auth_required": True,
            # Loopback only: the test server speaks no TLS.
            "auth_require_tls": False,
            "authenticator": make_authenticator(user, password),
        }
    handler = SinkHandler(args.dir, pairs(args.reject_rcpt),
                          pairs(args.reject_data))

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    controller = start(handler, smtp_options)

    with open(args.port_file + ".tmp", "w", encoding="ascii") as out:
        out.write(str(controller.port))
    os.rename(args.port_file + ".tmp", args.port_file)

    # A bounded wait, so a test that dies without SIGTERM leaves no
    # server behind for long.
    stop.wait(timeout=300)
    controller.stop()


if __name__ == "__main__":
    main()
