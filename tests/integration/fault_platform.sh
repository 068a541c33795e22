#!/usr/bin/env bash
# Hostile platform servers: `pubq serve` publishes to servers that never
# answer, answer one byte a second, announce a 2 GiB body, close in the
# middle of the headers, or send invalid JSON (tests/support/
# hostile_platform.py). Each attempt must end within the adapter
# timeout (3 s here) with the outcome its case calls for, the daemon's
# resident memory must stay bounded, and nothing may crash.
set -euo pipefail

: "${PUBQ_BIN:?set PUBQ_BIN to the pubq binary}"
: "${PUBQ_SOURCE_DIR:?set PUBQ_SOURCE_DIR to the source tree}"

# shellcheck source=../support/daemon.sh
. "$PUBQ_SOURCE_DIR/tests/support/daemon.sh"
# shellcheck source=../support/api.sh
. "$PUBQ_SOURCE_DIR/tests/support/api.sh"

JOBS=3
TIMEOUT_MS=3000
# Growth of the daemon's RSS allowed while it publishes; a body held in
# memory would be 2 GiB. AddressSanitizer keeps freed memory in a
# quarantine of 256 MiB by default, which would hide such growth, so the
# daemon of this test runs with a 16 MiB quarantine.
MAX_RSS_GROWTH_KIB=$((64 * 1024))
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16"

work=$(mktemp -d)
hostile_pid=""
sampler_pid=""
cleanup() {
    [ -z "$sampler_pid" ] || kill "$sampler_pid" 2>/dev/null || true
    daemon_stop || true
    if [ -n "$hostile_pid" ]; then
        kill "$hostile_pid" 2>/dev/null || true
        wait "$hostile_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

mkdir "$work/hostile"
python3 "$PUBQ_SOURCE_DIR/tests/support/hostile_platform.py" \
    "$work/hostile" &
hostile_pid=$!
wait_until 20 test -s "$work/hostile/ports.json" ||
    { echo "FAIL: the hostile servers did not start" >&2; exit 1; }
port_of() {
    python3 -c "import json, sys
print(json.load(open(sys.argv[1]))[sys.argv[2]])" \
        "$work/hostile/ports.json" "$1"
}

port=$(daemon_free_port)
url="http://127.0.0.1:$port"
{
    cat <<CONF
[server]
listen = 127.0.0.1:$port
[database]
url = $work/pubq.db
CONF
    for case in silent trickle huge midheader badjson badjson503; do
        cat <<CONF
[platform $case]
type = webhook
url = http://127.0.0.1:$(port_of "$case")/hook
timeout = ${TIMEOUT_MS}ms
on_unknown = hold
max_retries = 0
concurrency = $JOBS
CONF
    done
    cat <<CONF
[platform mastodon-badjson]
type = mastodon
instance = http://127.0.0.1:$(port_of badjson)
access_token_env = PUBQ_TEST_MASTODON_TOKEN
timeout = ${TIMEOUT_MS}ms
max_retries = 0
concurrency = $JOBS
CONF
} >"$work/pubq.conf"
export PUBQ_TEST_MASTODON_TOKEN=test-token-not-secret

daemon_start "$work/pubq.conf" "$work/daemon.log" "$url"
rss_start=$(rss_kib "$daemon_pid")

# Samples the daemon's RSS every 100 ms into rss.log.
(
    for ((i = 0; i < 600; i++)); do
        rss_kib "$daemon_pid" >>"$work/rss.log" 2>/dev/null || break
        sleep 0.1
    done
) &
sampler_pid=$!

for ((n = 1; n <= JOBS; n++)); do
    python3 - "$work/event.json" "hostile-$n" <<'EOF'
import json, sys
platforms = ["silent", "trickle", "huge", "midheader", "badjson",
             "badjson503", "mastodon-badjson"]
event = {"name": "publishing.scheduled",
         "data": {"contentItemId": sys.argv[2], "platforms": platforms,
                  "content": {"text": "hostile server test"}}}
json.dump(event, open(sys.argv[1], "w"))
EOF
    check_status POST /v1/events 200 "$work/event.json"
done

all_final() {
    local counts
    counts=$(curl -s --max-time 10 "$url/v1/counts")
    python3 -c '
import json, sys
counts = json.loads(sys.argv[1])["all"]
sys.exit(0 if counts["published"] + counts["failed"] == counts["total"]
         else 1)' "$counts"
}
start=$(date +%s)
wait_until 30 all_final || fail "entries still not final after 30 s"
echo "hostile: all entries final after $(($(date +%s) - start)) s"
kill "$sampler_pid" 2>/dev/null || true
wait "$sampler_pid" 2>/dev/null || true
sampler_pid=""

rss_peak=$(sort -n "$work/rss.log" | tail -n 1)
echo "hostile: RSS $rss_start KiB at start, peak $rss_peak KiB"
[ $((rss_peak - rss_start)) -le "$MAX_RSS_GROWTH_KIB" ] ||
    fail "RSS grew from $rss_start to $rss_peak KiB"

curl -s --max-time 10 "$url/v1/entries?limit=1000" >"$work/entries.json"
for id in $(python3 -c '
import json, sys
print(" ".join(str(e["id"]) for e in json.load(open(sys.argv[1]))["entries"]))' \
    "$work/entries.json"); do
    curl -s --max-time 10 "$url/v1/entries/$id"
    echo
done >"$work/details.jsonl"

python3 - "$work/details.jsonl" "$TIMEOUT_MS" "$JOBS" <<'EOF' || fail "wrong outcomes"
import collections, json, sys

timeout_ms, jobs = int(sys.argv[2]), int(sys.argv[3])
# platform: (entry status, attempt outcome, fail reason, error words)
expected = {
    "silent": ("failed", "unknown", "outcome unknown", "Timeout was reached"),
    "trickle": ("failed", "unknown", "outcome unknown", "Timeout was reached"),
    "huge": ("failed", "unknown", "outcome unknown", ""),
    "midheader": ("failed", "unknown", "outcome unknown", ""),
    "badjson": ("published", "success", None, None),
    "badjson503": ("failed", "transient", None, "503"),
    "mastodon-badjson": ("published", "success", None, None),
}
errors = []
seen = collections.Counter()
for line in open(sys.argv[1]):
    detail = json.loads(line)
    entry, attempts = detail["entry"], detail["attempts"]
    platform = entry["platform"]
    seen[platform] += 1
    status, outcome, reason, words = expected[platform]
    where = f"entry {entry['id']} on {platform}"
    if entry["status"] != status:
        errors.append(f"{where}: status {entry['status']}, expected {status}")
    if len(attempts) != 1:
        errors.append(f"{where}: {len(attempts)} attempts, expected 1")
        continue
    attempt = attempts[0]
    print(f"{platform}: {attempt['outcome']} after {attempt['latencyMs']} ms:"
          f" {attempt['error']}")
    if attempt["outcome"] != outcome:
        errors.append(f"{where}: outcome {attempt['outcome']}, "
                      f"expected {outcome}")
    if attempt["latencyMs"] is None or \
            attempt["latencyMs"] > timeout_ms + 1500:
        errors.append(f"{where}: attempt took {attempt['latencyMs']} ms, "
                      f"timeout is {timeout_ms} ms")
    if reason is not None and entry["failReason"] != reason:
        errors.append(f"{where}: fail reason {entry['failReason']!r}")
    if words and words not in (attempt["error"] or ""):
        errors.append(f"{where}: error {attempt['error']!r} lacks {words!r}")
for platform in expected:
    if seen[platform] != jobs:
        errors.append(f"{seen[platform]} entries on {platform}, "
                      f"expected {jobs}")
for error in errors:
    print(error, file=sys.stderr)
sys.exit(1 if errors else 0)
EOF

echo "hostile: the 2 GiB body stopped after" \
    "$(awk '$1 == "huge" && $2 == "answered" {print $3}' \
        "$work/hostile/events.log" | tr '\n' ' ')bytes"
daemon_stop || fail "the daemon did not stop cleanly"
if [ "$failures" -gt 0 ]; then
    echo "--- daemon log" >&2
    tail -n 40 "$work/daemon.log" >&2
    exit 1
fi
echo "fault_platform: every attempt ended in time with the right outcome"
