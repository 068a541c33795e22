#!/usr/bin/env bash
# CR and LF never reach a header, a URL or a log line:
#
#   - the HTTP API rejects a request path that decodes to CR or LF
#     (%0d%0a) with 400, sends no injected header and forges no log line;
#   - a request header with a bare CR or LF inside a value causes no
#     server error and is not reflected into the response (libmicrohttpd
#     reads a bare LF as the end of a header line, as RFC 9112 section
#     2.2 allows, so the rest arrives as one more request header, which
#     pubq ignores);
#   - pubq serve refuses to start when an adapter option (a webhook
#     header_ value, a URL) or a secret that goes into a URL or header
#     (tokens, the Discord webhook URL) holds CR or LF, and its message
#     never repeats the secret. The webhook signing key is only an HMAC
#     key, never sent, so CR or LF in it is accepted.
set -euo pipefail

: "${PUBQ_BIN:?set PUBQ_BIN to the pubq binary}"
: "${PUBQ_SOURCE_DIR:?set PUBQ_SOURCE_DIR to the source tree}"

# shellcheck source=../support/daemon.sh
. "$PUBQ_SOURCE_DIR/tests/support/daemon.sh"
# shellcheck source=../support/api.sh
. "$PUBQ_SOURCE_DIR/tests/support/api.sh"

work=$(mktemp -d)
cleanup() {
    daemon_stop || true
    rm -rf "$work"
}
trap cleanup EXIT

port=$(daemon_free_port)
url="http://127.0.0.1:$port"
cat >"$work/pubq.conf" <<CONF
[server]
listen = 127.0.0.1:$port
[database]
url = $work/pubq.db
[log]
level = debug
[platform blog]
type = file
path = $work/blog.jsonl
CONF
daemon_start "$work/pubq.conf" "$work/daemon.log" "$url"

for path in "/v1/entries/1%0d%0aX-Injected:%20yes" \
    "/v1/entries%0aX-Injected:%20yes" "/%0d%0aX-Injected:%20yes" \
    "/e/key%0d%0aX-Injected:%20yes"; do
    method=GET
    [[ $path == /e/* ]] && method=POST
    check_status "$method" "$path" 400
    grep -qi '^x-injected' <<<"$api_headers" &&
        fail "$path: the response carries the injected header"
    grep -q 'control character' <<<"$api_body" ||
        fail "$path: the 400 message does not name the control character"
done

# Raw requests, because curl refuses to send these headers.
python3 - "$port" >"$work/raw.out" <<'EOF'
import socket, sys
port = int(sys.argv[1])
for value in (b"a\rInjected: b", b"a\nInjected: b", b"a\r\nInjected: b"):
    request = (b"GET /v1/counts HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
               b"X-Test: %s\r\nConnection: close\r\n\r\n" % (port, value))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(request)
        reply = b""
        try:
            while chunk := s.recv(65536):
                reply += chunk
        except OSError:
            pass
    status = reply.split(b"\r\n", 1)[0].decode() or "(closed)"
    reflected = b"injected" in reply.lower()
    print(f"{value!r}: {status}, reflected={'yes' if reflected else 'no'}")
EOF
cat "$work/raw.out"
grep -q " 5[0-9][0-9] " "$work/raw.out" &&
    fail "a header with CR or LF caused a server error"
grep -q "reflected=yes" "$work/raw.out" &&
    fail "a header with CR or LF was reflected into the response"
kill -0 "$daemon_pid" || fail "the daemon died on a header with CR or LF"
check_status GET /v1/counts 200

grep -q '^X-Injected' "$work/daemon.log" &&
    fail "the daemon log has a forged line starting with X-Injected"
daemon_stop || fail "the daemon did not stop cleanly"

# refuse_start NAME CONFIG_TAIL [VAR=VALUE...]: fails unless pubq serve
# exits with an error naming a control character.
refuse_start() {
    local name=$1 tail=$2 status=0
    shift 2

    printf '[server]\nlisten = 127.0.0.1:%s\n[database]\nurl = %s\n%b' \
        "$port" "$work/refuse.db" "$tail" >"$work/$name.conf"
    env "$@" timeout 20 "$PUBQ_BIN" --config "$work/$name.conf" serve \
        >"$work/$name.out" 2>&1 </dev/null || status=$?
    if [ "$status" = 0 ] || [ "$status" = 124 ]; then
        fail "$name: pubq serve started (status $status)"
    elif ! grep -qi 'control character\|invalid\|is not a' \
        "$work/$name.out"; then
        fail "$name: the message does not say what is wrong:" \
            "$(head -c 300 "$work/$name.out")"
    fi
    echo "$name: $(head -n 1 "$work/$name.out")"
}

refuse_start header-cr \
    '[platform hook]\ntype = webhook\nurl = http://127.0.0.1:9/hook\nheader_X-Test = a\rX-Injected: b\n'
refuse_start url-cr \
    '[platform hook]\ntype = webhook\nurl = http://127.0.0.1:9/ho\rok\n'
secret=$'tokensecret42\r\nX-Injected: yes'
refuse_start mastodon-token \
    '[platform social]\ntype = mastodon\ninstance = http://127.0.0.1:9\naccess_token_env = PUBQ_TEST_TOKEN\n' \
    "PUBQ_TEST_TOKEN=$secret"
refuse_start discord-url \
    '[platform chat]\ntype = discord\nwebhook_url_env = PUBQ_TEST_TOKEN\n' \
    "PUBQ_TEST_TOKEN=http://127.0.0.1:9/api/webhooks/1/tokensecret42%0d%0a$secret"
refuse_start telegram-token \
    '[platform tg]\ntype = telegram\nbot_token_env = PUBQ_TEST_TOKEN\nchat_id = 1\n' \
    "PUBQ_TEST_TOKEN=1:$secret"
if grep -l 'tokensecret42' "$work"/*.out; then
    fail "a refusal message repeats the secret (files above)"
fi

if [ "$failures" -gt 0 ]; then
    exit 1
fi
echo "security_crlf: CR and LF rejected in paths, headers, options and secrets"
