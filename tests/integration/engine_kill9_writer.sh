#!/usr/bin/env bash
# Crash of the daemon while its store writer works: `pubq serve`
# publishes 1,000 entries to a webhook receiver on 127.0.0.1 that
# replies at once, so the writer thread is storing results and claiming
# entries almost all the time, and it is killed with SIGKILL once a
# quarter of them are posted. After a restart every entry must end
# published, the receiver (which deduplicates by Idempotency-Key) must
# hold exactly one post per entry, and no entry that the store showed
# published at the kill may be posted again.
set -euo pipefail

ENTRIES=1000
POSTED_AT_KILL=250

# shellcheck source=../support/kill9.sh
. "$PUBQ_SOURCE_DIR/tests/support/kill9.sh"

enough_posted() {
    [ -f "$work/sink/posts.jsonl" ] &&
        [ "$(wc -l <"$work/sink/posts.jsonl")" -ge "$POSTED_AT_KILL" ]
}

kill9_start_sink 0

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
concurrency = 64
max_lateness = 0
EOF

python3 - "$work/calendar.jsonl" "$ENTRIES" <<'EOF'
import json, sys

with open(sys.argv[1], "w") as out:
    for n in range(1, int(sys.argv[2]) + 1):
        out.write(json.dumps({"contentItemId": f"writer-{n}",
                              "platforms": ["sink"],
                              "content": {"text": f"writer test {n}"}})
                  + "\n")
EOF
pubq import "$work/calendar.jsonl" >/dev/null

kill9_start_daemon 1
wait_for 30 enough_posted ||
    die "fewer than $POSTED_AT_KILL posts stored after 30 s"
kill9_kill
echo "killed the daemon with $(wc -l <"$work/sink/posts.jsonl") posts stored"

# What the store kept of the first run: the keys of published entries.
pubq list --json --limit 1000 >"$work/at_kill.json"
published_at_kill=$(python3 - "$work/at_kill.json" "$work/published_keys" <<'EOF'
import json, sys

entries = json.load(open(sys.argv[1]))
keys = [e["idempotency_key"] for e in entries if e["status"] == "published"]
with open(sys.argv[2], "w") as out:
    out.write("".join(key + "\n" for key in keys))
print(len(keys))
EOF
)
[ "$published_at_kill" -gt 0 ] ||
    die "no entry was published in the store at the kill"
[ "$published_at_kill" -lt "$ENTRIES" ] ||
    die "every entry was published before the kill; the test killed too late"

kill9_start_daemon 2
wait_for 60 all_in_state published ||
    die "not every entry was published 60 s after the restart:" \
        "$(status_counts | tr '\n' ' ')"

kill -TERM "$daemon_pid"
wait "$daemon_pid" || die "the restarted daemon exited with status $?"
daemon_pid=""

pubq list --json --limit 1000 >"$work/entries.json"
python3 - "$work/entries.json" "$work/sink/posts.jsonl" \
    "$work/sink/requests.log" "$work/published_keys" "$ENTRIES" <<'EOF' ||
import collections, json, sys

entries = json.load(open(sys.argv[1]))
posts = [json.loads(line) for line in open(sys.argv[2])]
requests = collections.Counter(line.strip() for line in open(sys.argv[3]))
published_at_kill = [line.strip() for line in open(sys.argv[4])]
expected = int(sys.argv[5])
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
    errors.append(f"no stored post for {len(missing)} keys, such as "
                  f"{sorted(missing)[:5]}")
for key in published_at_kill:
    if requests[key] != 1:
        errors.append(f"key {key}, published at the kill, was sent "
                      f"{requests[key]} times")
for error in errors[:20]:
    print(error, file=sys.stderr)
sys.exit(1 if errors else 0)
EOF
    die "the sink does not hold exactly one post per entry"

requests=$(wc -l <"$work/sink/requests.log")
echo "engine_kill9_writer: $ENTRIES entries published once each;" \
    "$published_at_kill published at the kill; $requests requests to the sink"
