#!/usr/bin/env bash
# Crash recovery of the daemon: `pubq serve` is killed with SIGKILL while
# at least 30 of 50 posts are in flight to a slow webhook receiver on
# 127.0.0.1. After a restart every entry must end published, and the
# receiver, which deduplicates by Idempotency-Key, must hold exactly one
# post per entry.
set -euo pipefail

ENTRIES=50
IN_FLIGHT_AT_KILL=30

# shellcheck source=../support/kill9.sh
. "$PUBQ_SOURCE_DIR/tests/support/kill9.sh"

enough_in_flight() {
    [ -f "$work/sink/in_progress" ] &&
        [ "$(cat "$work/sink/in_progress")" -ge "$IN_FLIGHT_AT_KILL" ]
}

kill9_start_sink 2

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

kill9_start_daemon 1
wait_for 30 enough_in_flight ||
    die "fewer than $IN_FLIGHT_AT_KILL posts in flight after 30 s"
kill9_kill
echo "killed the daemon with $(cat "$work/sink/in_progress") posts in flight"

kill9_start_daemon 2
wait_for 60 all_in_state published ||
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
