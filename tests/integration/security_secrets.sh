#!/usr/bin/env bash
# Secrets stay secret: `pubq serve` runs with an API token and with
# secrets for four platform types in environment variables (webhook
# signing key, Mastodon token, Discord webhook URL, Telegram bot token).
# Each platform publishes to a server that fails every request and
# echoes it back (tests/support/echo_platform.py) and to a closed port.
# Then every secret value is searched for in all output: the daemon's
# log at debug level, every API response (entries with their attempts,
# jobs, audit, platforms, counts, metrics, health, the event stream),
# the page's files, error replies to requests that carry the token, and
# the CLI's output. The echo server's own request log is the positive
# control: it must contain the secrets that travel in URLs and headers.
set -euo pipefail

: "${PUBQ_BIN:?set PUBQ_BIN to the pubq binary}"
: "${PUBQ_SOURCE_DIR:?set PUBQ_SOURCE_DIR to the source tree}"

# shellcheck source=../support/daemon.sh
. "$PUBQ_SOURCE_DIR/tests/support/daemon.sh"
# shellcheck source=../support/api.sh
. "$PUBQ_SOURCE_DIR/tests/support/api.sh"

work=$(mktemp -d)
echo_pid=""
cleanup() {
    daemon_stop || true
    if [ -n "$echo_pid" ]; then
        kill "$echo_pid" 2>/dev/null || true
        wait "$echo_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

mkdir "$work/echo" "$work/out"
python3 "$PUBQ_SOURCE_DIR/tests/support/echo_platform.py" "$work/echo" &
echo_pid=$!
wait_until 20 test -s "$work/echo/port" ||
    { echo "FAIL: the echo server did not start" >&2; exit 1; }
echo_port=$(cat "$work/echo/port")
closed_port=$(daemon_free_port)

random_hex() { od -An -N12 -tx1 /dev/urandom | tr -d ' \n'; }
export PUBQ_TEST_API_TOKEN="apitoken$(random_hex)"
export PUBQ_TEST_HOOK_SECRET="hooksecret$(random_hex)"
export PUBQ_TEST_HOOK_HEADER="hookheader$(random_hex)"
export PUBQ_TEST_MASTODON_TOKEN="mastodontoken$(random_hex)"
discord_secret="discordtoken$(random_hex)"
export PUBQ_TEST_DISCORD_URL="http://127.0.0.1:$echo_port/api/webhooks/1234/$discord_secret"
export PUBQ_TEST_DISCORD_CLOSED="http://127.0.0.1:$closed_port/api/webhooks/1234/$discord_secret"
telegram_secret="telegramtoken$(random_hex)"
export PUBQ_TEST_TELEGRAM_TOKEN="123456789:$telegram_secret"
secrets=("$PUBQ_TEST_API_TOKEN" "$PUBQ_TEST_HOOK_SECRET"
    "$PUBQ_TEST_HOOK_HEADER" "$PUBQ_TEST_MASTODON_TOKEN" "$discord_secret"
    "$telegram_secret")

port=$(daemon_free_port)
url="http://127.0.0.1:$port"
{
    cat <<CONF
[server]
listen = 127.0.0.1:$port
api_token_env = PUBQ_TEST_API_TOKEN
[database]
url = $work/pubq.db
[retry]
base_delay = 200ms
max_retries = 2
[log]
level = debug
CONF
    for target in echo closed; do
        [ "$target" = echo ] && target_port=$echo_port || target_port=$closed_port
        cat <<CONF
[platform hook-$target]
type = webhook
url = http://127.0.0.1:$target_port/hook
secret_env = PUBQ_TEST_HOOK_SECRET
secret_header_X-Api-Key = PUBQ_TEST_HOOK_HEADER
timeout = 2s
[platform mastodon-$target]
type = mastodon
instance = http://127.0.0.1:$target_port
access_token_env = PUBQ_TEST_MASTODON_TOKEN
timeout = 2s
[platform telegram-$target]
type = telegram
api_base = http://127.0.0.1:$target_port
bot_token_env = PUBQ_TEST_TELEGRAM_TOKEN
chat_id = 42
timeout = 2s
CONF
    done
    cat <<CONF
[platform discord-echo]
type = discord
webhook_url_env = PUBQ_TEST_DISCORD_URL
timeout = 2s
[platform discord-closed]
type = discord
webhook_url_env = PUBQ_TEST_DISCORD_CLOSED
timeout = 2s
CONF
} >"$work/pubq.conf"
chmod 600 "$work/pubq.conf"

daemon_start "$work/pubq.conf" "$work/daemon.log" "$url"

platforms='["hook-echo", "hook-closed", "mastodon-echo", "mastodon-closed",
    "telegram-echo", "telegram-closed", "discord-echo", "discord-closed"]'
for n in 1 2 3; do
    cat >"$work/event.json" <<JSON
{"name": "publishing.scheduled",
 "data": {"contentItemId": "secret-$n", "platforms": $platforms,
          "content": {"text": "post $n"}}}
JSON
    curl -s -o "$work/out/submit-$n.json" --max-time 10 \
        -H "Authorization: Bearer $PUBQ_TEST_API_TOKEN" \
        -H 'Content-Type: application/json' \
        --data-binary "@$work/event.json" "$url/v1/events"
done

# Attempts, retries and platform pauses play out for a few seconds.
sleep 6

fetch() { curl -s --max-time 10 "$url$1" >"$work/out/$2" || true; }
fetch / page.html
for file in index.html app.js style.css favicon.svg; do
    fetch "/$file" "page-$file"
done
fetch "/v1/entries?limit=1000" entries.json
fetch "/v1/audit?limit=1000" audit.json
fetch /v1/platforms platforms.json
fetch /v1/counts counts.json
fetch /metrics metrics.txt
fetch /healthz healthz.json
curl -s -N --max-time 2 "$url/v1/stream" >"$work/out/stream.txt" || true
for id in $(python3 -c '
import json, sys
print(" ".join(str(e["id"]) for e in json.load(open(sys.argv[1]))["entries"]))' \
    "$work/out/entries.json"); do
    fetch "/v1/entries/$id" "entry-$id.json"
done
for job in 1 2 3; do
    fetch "/v1/jobs/$job" "job-$job.json"
done

# Error replies to requests that carry the token.
curl -s --max-time 10 -H 'Content-Type: application/json' -d '{"name": ' \
    "$url/e/$PUBQ_TEST_API_TOKEN" >"$work/out/inngest-error.json" || true
curl -s --max-time 10 -X POST -H "Authorization: Bearer x$PUBQ_TEST_API_TOKEN" \
    "$url/v1/entries/1/retry" >"$work/out/wrong-token.json" || true
curl -s --max-time 10 -X DELETE \
    "$url/e/$PUBQ_TEST_API_TOKEN" >"$work/out/inngest-method.json" || true
"$PUBQ_BIN" --config "$work/pubq.conf" list --json --limit 100 \
    >"$work/out/cli-list.json" 2>&1 || true
"$PUBQ_BIN" --config "$work/pubq.conf" show 1 >"$work/out/cli-show.txt" 2>&1 ||
    true
"$PUBQ_BIN" --config "$work/pubq.conf" audit --limit 100 \
    >"$work/out/cli-audit.txt" 2>&1 || true

daemon_stop || fail "the daemon did not stop cleanly"
cp "$work/daemon.log" "$work/out/daemon.log"

errors=$(python3 -c '
import json, sys
entries = json.load(open(sys.argv[1]))["entries"]
print(sum(1 for e in entries if e["lastError"]))' "$work/out/entries.json")
[ "$errors" -ge 16 ] ||
    fail "only $errors entries have an error; the platforms did not fail"

for secret in "${secrets[@]}"; do
    if found=$(grep -rlF -- "$secret" "$work/out"); then
        fail "a secret appears in: $(echo "$found" | sed "s|$work/out/||" |
            tr '\n' ' ')"
        grep -rhoF -m 3 -- "$secret" "$work/out" >/dev/null
    fi
done
for secret in "$PUBQ_TEST_MASTODON_TOKEN" "$discord_secret" \
    "$telegram_secret" "$PUBQ_TEST_HOOK_HEADER"; do
    grep -qF -- "$secret" "$work/echo/requests.log" ||
        fail "positive control: the echo server never received a secret," \
            "so its replies did not test redaction"
done

if [ "$failures" -gt 0 ]; then
    exit 1
fi
echo "security_secrets: ${#secrets[@]} secrets absent from $(find "$work/out" -type f |
    wc -l) outputs; $errors entries failed against the echo server or a" \
    "closed port"
