#!/usr/bin/env bash
# kill -9 chaos: `pubq serve` takes CHAOS_ENTRIES entries (CHAOS_ENTRIES/2
# jobs on two webhook platforms) through its API and publishes them to a
# slow receiver on 127.0.0.1 that stores one post per Idempotency-Key
# (tests/support/slow_sink.py). The daemon is killed with SIGKILL
# CHAOS_KILLS times at random points (during intake, during publishing)
# and restarted at once each time. At the end:
#
#   - every entry is in a final state (published),
#   - the receiver stored exactly one post per entry key,
#   - the audit log holds exactly one "publish" record per job,
#   - every job of the intake exists once (events carry ids, and the
#     submitter resends a batch whose request died with the daemon).
#
# Full run (make soak): CHAOS_ENTRIES=2000 CHAOS_KILLS=20 (the defaults).
# tests/integration/kill9_chaos_short.sh runs 200 entries and 3 kills.
# CHAOS_SEED fixes the random kill points (default: the current time).
set -euo pipefail

: "${PUBQ_BIN:?set PUBQ_BIN to the pubq binary}"
: "${PUBQ_SOURCE_DIR:?set PUBQ_SOURCE_DIR to the source tree}"

ENTRIES=${CHAOS_ENTRIES:-2000}
KILLS=${CHAOS_KILLS:-20}
SEED=${CHAOS_SEED:-$(date +%s)}
JOBS=$((ENTRIES / 2))
SINK_DELAY=0.3
# Limit for the whole queue to drain after the last kill.
DRAIN_SECONDS=$((60 + ENTRIES / 10))

# shellcheck source=../support/daemon.sh
. "$PUBQ_SOURCE_DIR/tests/support/daemon.sh"
# shellcheck source=../support/api.sh
. "$PUBQ_SOURCE_DIR/tests/support/api.sh"

work=$(mktemp -d)
sink_pid=""
submitter_pid=""
cleanup() {
    [ -z "$submitter_pid" ] || kill "$submitter_pid" 2>/dev/null || true
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
    for log in "$work"/daemon-*.log; do
        [ -f "$log" ] || continue
        echo "--- last lines of $log" >&2
        tail -n 15 "$log" >&2
    done
    exit 1
}

RANDOM=$SEED
echo "kill9_chaos: $ENTRIES entries, $JOBS jobs, $KILLS kills, seed $SEED"

mkdir "$work/sink"
# The sink prints a traceback for each connection the killed daemon
# dropped; those go to a file.
python3 "$PUBQ_SOURCE_DIR/tests/support/slow_sink.py" "$work/sink" \
    "$SINK_DELAY" 2>"$work/sink.log" &
sink_pid=$!
wait_until 20 test -s "$work/sink/port" || die "the sink did not start"
sink_port=$(cat "$work/sink/port")

port=$(daemon_free_port)
url="http://127.0.0.1:$port"
cat >"$work/pubq.conf" <<CONF
[server]
listen = 127.0.0.1:$port
[database]
url = $work/pubq.db
lease = 2s
[retry]
base_delay = 200ms
max_delay = 2s
max_retries = 50
[engine]
shutdown_grace = 1s
[platform sink-a]
type = webhook
url = http://127.0.0.1:$sink_port/a
timeout = 10s
on_unknown = retry
concurrency = 10
max_lateness = 0
[platform sink-b]
type = webhook
url = http://127.0.0.1:$sink_port/b
timeout = 10s
on_unknown = retry
concurrency = 10
max_lateness = 0
CONF

# start_daemon N: starts the daemon with its log in daemon-N.log.
start_daemon() {
    daemon_start "$work/pubq.conf" "$work/daemon-$1.log" "$url" ||
        die "the daemon did not start (run $1)"
}

start_daemon 0

# The submitter sends the jobs in batches of 50 events with ids and
# resends a batch until it gets 200: a batch cut off by a kill may or may
# not be stored, and the ids make the resend harmless.
python3 - "$url" "$JOBS" "$work/submitted" <<'EOF' &
import json, sys, time, urllib.request

url, jobs, done_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
batch = 50
for first in range(0, jobs, batch):
    events = [{"name": "publishing.scheduled", "id": f"chaos-{n}",
               "data": {"contentItemId": f"chaos-{n}",
                        "platforms": ["sink-a", "sink-b"],
                        "content": {"text": f"chaos post {n}"}}}
              for n in range(first, min(first + batch, jobs))]
    body = json.dumps(events).encode()
    for _ in range(600):
        request = urllib.request.Request(
            url + "/v1/events", data=body,
            headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:
                if reply.status == 200:
                    break
        except OSError:
            pass
        time.sleep(0.1)
    else:
        sys.exit(f"batch at {first} not accepted after 600 tries")
    time.sleep(0.05)
open(done_path, "w").close()
EOF
submitter_pid=$!

sink_busy() {
    [ "$(cat "$work/sink/in_progress" 2>/dev/null || echo 0)" -gt 0 ]
}

# random_sleep TENTHS: sleeps 0 to TENTHS tenths of a second.
random_sleep() {
    local tenths=$((RANDOM % ($1 + 1)))
    sleep "$((tenths / 10)).$((tenths % 10))"
}

# The first kill lands within a second of the start, during the intake;
# each later one within a second after posts are in flight again (or at
# once when the queue has drained).
in_flight_kills=0
for ((k = 1; k <= KILLS; k++)); do
    if [ "$k" -gt 1 ]; then
        wait_until 15 sink_busy || true
    fi
    random_sleep 10
    in_flight=$(cat "$work/sink/in_progress" 2>/dev/null || echo 0)
    [ "$in_flight" -gt 0 ] && in_flight_kills=$((in_flight_kills + 1))
    kill -9 "$daemon_pid"
    wait "$daemon_pid" 2>/dev/null || true
    daemon_pid=""
    echo "kill $k: $in_flight posts in flight," \
        "intake $([ -f "$work/submitted" ] && echo done || echo running)"
    start_daemon "$k"
done

wait "$submitter_pid" || die "the submitter failed"
submitter_pid=""

all_final() {
    local counts
    counts=$(curl -s --max-time 10 "$url/v1/counts") || return 1
    python3 -c '
import json, sys
counts = json.loads(sys.argv[1])["all"]
final = counts["published"] + counts["failed"] + counts["cancelled"]
sys.exit(0 if counts["total"] == int(sys.argv[2]) == final else 1)' \
        "$counts" "$ENTRIES"
}
start=$(date +%s)
wait_until "$DRAIN_SECONDS" all_final ||
    die "entries not final $DRAIN_SECONDS s after the last kill:" \
        "$(curl -s "$url/v1/counts")"
drain=$(($(date +%s) - start))
daemon_stop || die "the daemon did not stop cleanly"
start_daemon check

python3 - "$url" "$work/sink/posts.jsonl" "$ENTRIES" "$JOBS" \
    >"$work/summary" <<'EOF' || die "$(cat "$work/summary")"
import collections, json, sys, urllib.parse, urllib.request

url, posts_path, entries_expected, jobs_expected = (
    sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))

def pages(path, key, **query):
    before = None
    while True:
        params = dict(query, limit=1000)
        if before is not None:
            params["before"] = before
        with urllib.request.urlopen(
                f"{url}{path}?{urllib.parse.urlencode(params)}") as reply:
            page = json.load(reply)
        yield from page[key]
        before = page["next"]
        if before is None:
            return

entries = list(pages("/v1/entries", "entries"))
publish = list(pages("/v1/audit", "records", action="publish"))
posts = [json.loads(line) for line in open(posts_path)]
stored = collections.Counter(post["key"] for post in posts)
requests = sum(1 for _ in open(posts_path.replace("posts.jsonl",
                                                  "requests.log")))
errors = []
statuses = collections.Counter(entry["status"] for entry in entries)
if len(entries) != entries_expected:
    errors.append(f"{len(entries)} entries, expected {entries_expected}")
if statuses["published"] != entries_expected:
    errors.append(f"entry statuses {dict(statuses)}, all must be published")
keys = {entry["idempotencyKey"] for entry in entries}
twice = {key: count for key, count in stored.items() if count != 1}
if twice:
    errors.append(f"{len(twice)} keys stored more than once: "
                  f"{sorted(twice.items())[:5]}")
if keys - set(stored):
    errors.append(f"{len(keys - set(stored))} entries never reached the sink")
if set(stored) - keys:
    errors.append(f"{len(set(stored) - keys)} posts under unknown keys")
per_job = collections.Counter(record["jobId"] for record in publish)
jobs = {entry["contentId"] for entry in entries}
if len(jobs) != jobs_expected:
    errors.append(f"{len(jobs)} jobs, expected {jobs_expected}")
if set(per_job) != jobs or any(count != 1 for count in per_job.values()):
    wrong = {job: per_job[job] for job in jobs if per_job[job] != 1}
    errors.append(f"{len(wrong)} jobs without exactly one publish record: "
                  f"{sorted(wrong.items())[:5]}")
attempts = sum(entry["attemptCount"] for entry in entries)
print(f"{len(entries)} entries published, {len(stored)} posts stored once "
      f"each, {requests} POSTs received by the sink, {attempts} attempts, "
      f"{len(publish)} publish records for {len(jobs)} jobs")
for error in errors:
    print(error)
sys.exit(1 if errors else 0)
EOF
daemon_stop || die "the daemon did not stop cleanly after the check"

recovered=0
for log in "$work"/daemon-*.log; do
    found=$(grep -o 'recovered [0-9]* entries with expired leases' "$log" |
        awk '{sum += $2} END {print sum + 0}' || true)
    recovered=$((recovered + found))
done
echo "kill9_chaos: $(cat "$work/summary"); $KILLS kills ($in_flight_kills" \
    "with posts in flight), $recovered leases recovered, queue drained" \
    "$drain s after the last restart, seed $SEED"
