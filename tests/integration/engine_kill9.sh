#!/usr/bin/env bash
# Crash recovery of the daemon: `pubq serve` is killed with SIGKILL while
# at least 30 of 50 posts are in flight to a slow webhook receiver on
# 127.0.0.1. After a restart every entry must end published, and the
# receiver, which deduplicates by Idempotency-Key, must hold exactly one
# post per entry.
set -euo pipefail

# shellcheck source=../support/daemon.sh
. "$PUBQ_SOURCE_DIR/tests/support/daemon.sh"

: "${PUBQ_BIN:?set PUBQ_BIN to the pubq binary}"
: "${PUBQ_SOURCE_DIR:?set PUBQ_SOURCE_DIR to the source tree}"

ENTRIES=50
IN_FLIGHT_AT_KILL=30

work=$(mktemp -d)
sink_pid=""
daemon_pid=""

cleanup() {
    if [ -n "$daemon_pid" ]; then
        kill -9 "$daemon_pid" 2>/dev/null || true
        wait "$daemon_pid" 2>/dev/null || true
    fi
    if [ -n "$sink_pid" ]; then
        kill "$sink_pid" 2>/dev/null || true
        wait "$sink_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

die() {
    echo "FAIL: $*" >&2
    for log in "$work"/serve*.log; do
        [ -f "$log" ] || continue
        echo "--- last lines of $log" >&2
        tail -n 20 "$log" >&2
    done
    exit 1
}

pubq() {
    "$PUBQ_BIN" --config "$work/pubq.conf" "$@" </dev/null
}

# wait_for SECONDS COMMAND...: polls every 0.1 s until COMMAND succeeds.
wait_for() {
    local tries=$(($1 * 10))
    shift
    for ((i = 0; i < tries; i++)); do
        if "$@"; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# Runs the binary itself in the background, not the pubq function: $!
# must be the daemon's pid for kill -9 to reach it.
start_daemon() {
    "$PUBQ_BIN" --config "$work/pubq.conf" serve </dev/null \
        2>"$work/serve$1.log" &
    daemon_pid=$!
}

# Prints "STATUS COUNT" lines for every entry of the queue.
status_counts() {
    pubq list --json --limit 1000 | python3 -c '
import collections, json, sys
counts = collections.Counter(e["status"] for e in json.load(sys.stdin))
for status, count in sorted(counts.items()):
    print(status, count)'
}

all_published() {
    [ "$(status_counts)" = "published $ENTRIES" ]
}

enough_in_flight() {
    [ -f "$work/sink/in_progress" ] &&
        [ "$(cat "$work/sink/in_progress")" -ge "$IN_FLIGHT_AT_KILL" ]
}

mkdir "$work/sink"
python3 "$PUBQ_SOURCE_DIR/tests/support/slow_sink.py" "$work/sink" 2 &
sink_pid=$!
wait_for 20 test -s "$work/sink/port" || die "the sink did not start"
port=$(cat "$work/sink/port")

cat >"$work/pubq.conf" <<EOF
[server]
listen = 127.0.0.1:$(daemon_free_port)

[database]
url = $work/pubq.db
lease = 3s

[retry]
base_delay = 200ms
max_delay = 5s

[engine]
shutdown_grace = 1s

[platform sink]
type = webhook
url = http://127.0.0.1:$port/hook
timeout = 10s
on_unknown = retry
concurrency = 50
max_lateness = 0
EOF

for ((n = 1; n <= ENTRIES; n++)); do
    pubq publish --text "crash test post $n" --platform sink \
        --id "crash-$n" >/dev/null
done

start_daemon 1
wait_for 30 enough_in_flight ||
    die "fewer than $IN_FLIGHT_AT_KILL posts in flight after 30 s"
kill -9 "$daemon_pid"
wait "$daemon_pid" 2>/dev/null || true
daemon_pid=""
echo "killed the daemon with $(cat "$work/sink/in_progress") posts in flight"

start_daemon 2
wait_for 60 all_published ||
    die "not every entry was published 60 s after the restart:" \
        "$(status_counts | tr '\n' ' ')"

kill -TERM "$daemon_pid"
wait "$daemon_pid" || die "the restarted daemon exited with status $?"
daemon_pid=""

# One stored post per entry, under that entry's own key.
pubq list --json --limit 1000 >"$work/entries.json"
python3 - "$work/entries.json" "$work/sink/posts.jsonl" "$ENTRIES" <<'EOF' ||
import collections, json, sys

entries = json.load(open(sys.argv[1]))
posts = [json.loads(line) for line in open(sys.argv[2])]
expected = int(sys.argv[3])
stored = collections.Counter(post["key"] for post in posts)
keys = {entry["idempotency_key"] for entry in entries}
errors = []
if len(entries) != expected:
    errors.append(f"{len(entries)} entries, expected {expected}")
if len(keys) != len(entries):
    errors.append("two entries share an idempotency key")
for key, count in stored.items():
    if count != 1:
        errors.append(f"key {key} stored {count} times")
missing = keys - set(stored)
if missing:
    errors.append(f"no stored post for keys {sorted(missing)}")
extra = set(stored) - keys
if extra:
    errors.append(f"posts under unknown keys {sorted(extra)}")
for error in errors:
    print(error, file=sys.stderr)
sys.exit(1 if errors else 0)
EOF
    die "the sink does not hold exactly one post per entry"

recovered=$(pubq audit --action lease_recovered --limit 1000 --json |
    python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')
[ "$recovered" -ge "$IN_FLIGHT_AT_KILL" ] ||
    die "expected at least $IN_FLIGHT_AT_KILL lease_recovered records," \
        "got $recovered"

requests=$(wc -l <"$work/sink/requests.log")
echo "engine_kill9: $ENTRIES entries published once each;" \
    "$recovered leases recovered; $requests requests to the sink"
