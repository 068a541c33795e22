#!/usr/bin/env bash
# pubq serve's start and stop: a configuration the daemon rejects at
# start-up leaves no database behind, and SIGHUP (a closed terminal)
# stops the daemon as gracefully as SIGTERM, with exit status 0.
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

# expect_rejected_by COMMAND NAME EXPECTED BODY: `pubq COMMAND` with the
# config BODY (after two [database] lines) must exit 1 within 10 s, print
# EXPECTED, and create no database file.
expect_rejected_by() {
    local command=$1 name=$2 expected=$3 body=$4 status=0

    printf '[database]\nurl = %s/%s.db\n%b' "$work" "$name" "$body" \
        >"$work/$name.conf"
    timeout 10 "$PUBQ_BIN" --config "$work/$name.conf" "$command" \
        >"$work/$name.out" 2>&1 || status=$?
    [ "$status" -eq 1 ] ||
        fail "$name: pubq $command exited with $status, expected 1:" \
            "$(head -c 400 "$work/$name.out")"
    grep -qF -- "$expected" "$work/$name.out" ||
        fail "$name: no \"$expected\" in: $(head -c 400 "$work/$name.out")"
    [ ! -e "$work/$name.db" ] ||
        fail "$name: the rejected $command created $work/$name.db"
}

# expect_rejected NAME EXPECTED BODY: expect_rejected_by for serve.
expect_rejected() {
    expect_rejected_by serve "$@"
}

unset PUBQ_TEST_UNSET_TOKEN
expect_rejected public-without-token "without an API token" \
    '[server]\nlisten = 0.0.0.0:18999\n'
expect_rejected token-variable-unset "PUBQ_TEST_UNSET_TOKEN is unset" \
    '[server]\nlisten = 127.0.0.1:18998\napi_token_env = PUBQ_TEST_UNSET_TOKEN\n'
expect_rejected webhook-ftp-url 'invalid URL scheme "ftp"' \
    '[platform site]\ntype = webhook\nurl = ftp://127.0.0.1/x\n'
expect_rejected unknown-option 'platform "out": unknown option "bogus"' \
    "[platform out]\ntype = file\npath = $work/out.jsonl\nbogus = 1\n"
expect_rejected webhook-line "webhook-line.conf:3: platform \"site\"" \
    '[platform site]\ntype = webhook\nurl = ftp://127.0.0.1/x\n'

# Every command that loads the file rejects an option the adapter does
# not know, naming the option's line (6), not the section's (3). A key
# ending in _key that names no credential is such an option, not a
# secret.
for command in serve migrate list; do
    for option in timeout bogus_key; do
        expect_rejected_by "$command" "$command-$option" \
            "$command-$option.conf:6: platform \"outbox\": unknown option \"$option\" for file platform" \
            "[platform outbox]\ntype = file\npath = $work/o.jsonl\n$option = 5s\n"
    done
done

# A port another server holds: python keeps it bound while pubq starts.
busy_port=$(daemon_free_port)
python3 -c 'import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen()
time.sleep(15)' "$busy_port" &
holder_pid=$!
sleep 0.5
expect_rejected port-in-use "cannot listen on 127.0.0.1:$busy_port" \
    "[server]\nlisten = 127.0.0.1:$busy_port\n"
kill "$holder_pid" 2>/dev/null || true
wait "$holder_pid" 2>/dev/null || true

port=$(daemon_free_port)
url="http://127.0.0.1:$port"
cat >"$work/pubq.conf" <<CONF
[server]
listen = 127.0.0.1:$port
[database]
url = $work/pubq.db
[platform out]
type = file
path = $work/out.jsonl
CONF
daemon_start "$work/pubq.conf" "$work/daemon.log" "$url"

kill -USR1 "$daemon_pid"
sleep 0.5
kill -0 "$daemon_pid" 2>/dev/null || fail "SIGUSR1 ended the daemon"

kill -HUP "$daemon_pid"
status=0
for ((i = 0; i < 100; i++)); do
    kill -0 "$daemon_pid" 2>/dev/null || break
    sleep 0.1
done
wait "$daemon_pid" 2>/dev/null || status=$?
daemon_pid=""
[ "$status" -eq 0 ] || fail "pubq serve exited with $status after SIGHUP"
grep -q "stopped node=" "$work/daemon.log" ||
    fail "no stop line in the log after SIGHUP: $(tail -n 5 "$work/daemon.log")"

if [ "$failures" -gt 0 ]; then
    exit 1
fi
echo "serve_start_stop: 6 rejected starts left no database; SIGHUP" \
    "stopped the daemon with status 0"
