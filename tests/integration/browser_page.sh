#!/usr/bin/env bash
# Browser test of the publishing page: runs `pubq serve` on a free
# loopback port with platforms that publish, retry, fail, hang and hold,
# then drives Debian's headless Chromium through tests/browser/page.test.mjs.
# Screenshots go to test-artifacts/ beside the pubq binary. Set
# PUBQ_UPDATE_DOCS=1 to also copy the desktop screenshot to docs/page.png.
set -euo pipefail

: "${PUBQ_BIN:?set PUBQ_BIN to the pubq binary}"
: "${PUBQ_SOURCE_DIR:?set PUBQ_SOURCE_DIR to the source tree}"

# shellcheck source=../support/daemon.sh
. "$PUBQ_SOURCE_DIR/tests/support/daemon.sh"

if [ ! -x /usr/bin/chromium ]; then
    echo "browser_page: /usr/bin/chromium is missing;" \
        "install it with: apt-get install chromium" >&2
    exit 1
fi

work=$(mktemp -d)
cleanup() {
    # Lets the "slow" platform's program end before the daemon stops.
    touch "$work/release"
    daemon_stop
    rm -rf "$work"
}
trap cleanup EXIT

npm_install_once "$PUBQ_SOURCE_DIR/tests/browser"

port=$(daemon_free_port)
hook_port=$(daemon_free_port)
# Nothing listens here: the webhook's connection is refused.
closed_port=$(daemon_free_port)
url="http://127.0.0.1:$port"
artifacts="$(cd "$(dirname "$PUBQ_BIN")" && pwd)/test-artifacts"
mkdir -p "$artifacts"

# always_retry: exit 75 (EX_TEMPFAIL) is a transient failure.
cat >"$work/always_retry.sh" <<'EOF'
#!/bin/sh
cat >/dev/null
echo "service busy, try later" >&2
exit 75
EOF

# broken: a permanent failure with markup in its error text, until the
# test creates the file "fixed"; then it publishes and prints a post URL.
cat >"$work/broken.sh" <<EOF
#!/bin/sh
cat >/dev/null
if [ -e "$work/fixed" ]; then
    echo "https://social.example/posts/\$\$"
    exit 0
fi
echo 'post rejected: <img src=y onerror=alert(2)> is not allowed' >&2
exit 1
EOF

# slow: stays in "publishing" until the file "release" exists (at most
# 60 s).
cat >"$work/slow.sh" <<EOF
#!/bin/sh
cat >/dev/null
i=0
while [ ! -e "$work/release" ] && [ \$i -lt 600 ]; do
    sleep 0.1
    i=\$((i + 1))
done
exit 0
EOF

# hang: runs past its timeout, so the outcome is unknown.
cat >"$work/hang.sh" <<'EOF'
#!/bin/sh
cat >/dev/null
sleep 5
EOF

# Publishes and names the post with a URL that carries markup.
cat >"$work/hostile.sh" <<'EOF'
#!/bin/sh
cat >/dev/null
echo 'https://social.example/p?q="><img src=q onerror=alert(8)>'
EOF
chmod +x "$work"/*.sh

export PUBQ_TEST_API_TOKEN="page-test-token-$$"
cat >"$work/pubq.conf" <<EOF
[server]
listen = 127.0.0.1:$port
api_token_env = PUBQ_TEST_API_TOKEN
# The 10,000-row calendar import is about 2 MB, and imports share this
# limit with the HTTP API.
max_body_bytes = 8MiB

[database]
url = $work/pubq.db

[retry]
base_delay = 200ms
max_delay = 1h
max_retries = 3

# Once a year: an hourly sweep during the run would re-queue the failed
# entries whose retry counts and states the page tests check.
[sweeper]
cron = 0 0 1 1 *

[engine]
shutdown_grace = 1s

[log]
level = info

[platform outbox]
type = file
path = $work/outbox.jsonl

[platform flaky]
type = command
program = $work/always_retry.sh
max_retries = 1000

[platform broken]
type = command
program = $work/broken.sh

[platform slow]
type = command
program = $work/slow.sh
timeout = 2m

[platform hung]
type = command
program = $work/hang.sh
timeout = 300ms
on_unknown = hold

[platform down]
type = webhook
url = http://127.0.0.1:$closed_port/hook
timeout = 2s
max_retries = 0

[platform gated]
type = webhook
url = http://127.0.0.1:$hook_port/hook
timeout = 2s

[platform hostile]
type = command
program = $work/hostile.sh
EOF

daemon_start "$work/pubq.conf" "$work/daemon.log" "$url"

status=0
PUBQ_URL="$url" PUBQ_CONFIG="$work/pubq.conf" PUBQ_WORK="$work" \
    PUBQ_HOOK_PORT="$hook_port" PUBQ_ARTIFACT_DIR="$artifacts" \
    PUBQ_TOKEN="$PUBQ_TEST_API_TOKEN" \
    node --test --test-reporter=spec \
    "$PUBQ_SOURCE_DIR/tests/browser/page.test.mjs" || status=$?

if [ "$status" -ne 0 ]; then
    echo "--- daemon log ---" >&2
    tail -n 100 "$work/daemon.log" >&2
    exit "$status"
fi

touch "$work/release"
daemon_stop

if [ "${PUBQ_UPDATE_DOCS:-0}" = 1 ]; then
    cp "$artifacts/page.png" "$PUBQ_SOURCE_DIR/docs/page.png"
fi
