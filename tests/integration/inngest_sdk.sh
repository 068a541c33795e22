#!/usr/bin/env bash
# Inngest SDK compatibility: runs `pubq serve` with an API token and sends
# events to it through the real `inngest` npm package, with the token as
# the Inngest event key (tests/inngest/sdk.test.mjs).
set -euo pipefail

: "${PUBQ_BIN:?set PUBQ_BIN to the pubq binary}"
: "${PUBQ_SOURCE_DIR:?set PUBQ_SOURCE_DIR to the source tree}"

# shellcheck source=../support/daemon.sh
. "$PUBQ_SOURCE_DIR/tests/support/daemon.sh"

work=$(mktemp -d)
cleanup() {
    daemon_stop
    rm -rf "$work"
}
trap cleanup EXIT

npm_install_once "$PUBQ_SOURCE_DIR/tests/inngest"

port=$(daemon_free_port)
url="http://127.0.0.1:$port"

export PUBQ_TEST_API_TOKEN="inngest-test-key-$$"
cat >"$work/pubq.conf" <<CONF
[server]
listen = 127.0.0.1:$port
api_token_env = PUBQ_TEST_API_TOKEN

[database]
url = $work/pubq.db

[platform outbox]
type = file
path = $work/outbox.jsonl

[platform archive]
type = file
path = $work/archive.jsonl
CONF

daemon_start "$work/pubq.conf" "$work/daemon.log" "$url"

status=0
PUBQ_URL="$url" PUBQ_TOKEN="$PUBQ_TEST_API_TOKEN" \
    node --test --test-reporter=spec \
    "$PUBQ_SOURCE_DIR/tests/inngest/sdk.test.mjs" || status=$?

if [ "$status" -ne 0 ]; then
    echo "--- daemon log ---" >&2
    tail -n 100 "$work/daemon.log" >&2
    exit "$status"
fi
daemon_stop
