#!/usr/bin/env bash
# Crash recovery of entries claimed ahead of their due time: `pubq serve`
# claims 20 entries due in 8 s and is killed with SIGKILL before they
# are due. A second daemon must publish each of them exactly once, as
# its first attempt: the crash used no retry and left no attempt behind.
set -euo pipefail

ENTRIES=20
LEAD_S=8

# shellcheck source=../support/kill9.sh
. "$PUBQ_SOURCE_DIR/tests/support/kill9.sh"

kill9_start_sink 0

cat >"$work/pubq.conf" <<EOF
[server]
listen = 127.0.0.1:$(daemon_free_port)

[database]
url = $work/pubq.db
lease = 2s

[engine]
claim_ahead = 1m
shutdown_grace = 1s

[platform sink]
type = webhook
url = http://127.0.0.1:$port/hook
timeout = 10s
concurrency = $ENTRIES
max_lateness = 0
EOF

due=$(python3 -c "import datetime, time
moment = datetime.datetime.fromtimestamp(int(time.time()) + $LEAD_S,
                                         datetime.timezone.utc)
print(moment.strftime('%Y-%m-%dT%H:%M:%SZ'))")
for ((n = 1; n <= ENTRIES; n++)); do
    pubq publish --text "claimed ahead $n" --platform sink --at "$due" \
        --id "ahead-$n" >/dev/null
done

kill9_start_daemon 1
wait_for "$LEAD_S" all_in_state publishing ||
    die "the entries were not all claimed ahead before their due time:" \
        "$(status_counts | tr '\n' ' ')"
kill9_kill
[ ! -s "$work/sink/requests.log" ] ||
    die "a request reached the sink before the due time"

kill9_start_daemon 2
wait_for 60 all_in_state published ||
    die "not every entry was published 60 s after the restart:" \
        "$(status_counts | tr '\n' ' ')"
kill -TERM "$daemon_pid"
wait "$daemon_pid" || die "the restarted daemon exited with status $?"
daemon_pid=""

pubq list --json --limit 1000 >"$work/entries.json"
python3 - "$work/entries.json" "$work/sink/requests.log" "$ENTRIES" <<'EOF' ||
import collections, json, sys

entries = json.load(open(sys.argv[1]))
requests = collections.Counter(line.strip() for line in open(sys.argv[2]))
expected = int(sys.argv[3])
errors = []
if len(entries) != expected:
    errors.append(f"{len(entries)} entries, expected {expected}")
for entry in entries:
    key = entry["idempotency_key"]
    if requests[key] != 1:
        errors.append(f"entry {entry['id']}: {requests[key]} requests")
    if entry["retry_count"] != 0:
        errors.append(f"entry {entry['id']}: retry_count "
                      f"{entry['retry_count']}, expected 0")
    if entry["attempt_count"] != 1:
        errors.append(f"entry {entry['id']}: attempt_count "
                      f"{entry['attempt_count']}, expected 1")
for error in errors:
    print(error, file=sys.stderr)
sys.exit(1 if errors else 0)
EOF
    die "the entries were not each published once as their first attempt"

recovered=$(pubq audit --action lease_recovered --limit 1000 --json |
    python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')
[ "$recovered" -eq "$ENTRIES" ] ||
    die "expected $ENTRIES lease_recovered records, got $recovered"
echo "engine_kill9_claim_ahead: $ENTRIES entries claimed ahead survived" \
    "kill -9 and were published once each"
