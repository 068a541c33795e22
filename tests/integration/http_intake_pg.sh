#!/usr/bin/env bash
# One-event HTTP intake on PostgreSQL, where the submit queue stores the
# requests that arrive together in one write: 40 clients on 127.0.0.1
# send one event each at once.
#
# - 30 events with their own ids are stored once each, and the entry
#   ids each reply gives are those of the job's entries in the database;
# - 8 requests share one event id: one job, one "accepted" record, and
#   every reply names that job;
# - 2 requests fail in the database (a trigger raises for their content
#   items): they get a server error and leave no row behind, while the
#   requests grouped with them are stored.
#
# Needs PUBQ_TEST_PG_URL (scripts/test-postgres run sets it).
set -euo pipefail

: "${PUBQ_BIN:?set PUBQ_BIN to the pubq binary}"

if [ -z "${PUBQ_TEST_PG_URL:-}" ]; then
    echo "http_intake_pg: PUBQ_TEST_PG_URL is not set; run the tests" \
        "through scripts/test-postgres run (make test does)" >&2
    exit 1
fi

work=$(mktemp -d)
server_pid=""
database="pubq_http_intake_$$"
admin_url=$PUBQ_TEST_PG_URL
url="${PUBQ_TEST_PG_URL%/*}/$database"

cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    psql -q "$admin_url" -c "DROP DATABASE IF EXISTS $database" \
        >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

die() {
    echo "FAIL: $*" >&2
    if [ -f "$work/serve.log" ]; then
        echo "--- last lines of the server log" >&2
        tail -n 20 "$work/serve.log" >&2
    fi
    exit 1
}

sql() {
    psql -qAt -v ON_ERROR_STOP=1 "$url" -c "$1"
}

port=$(python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')

psql -q -v ON_ERROR_STOP=1 "$admin_url" -c "CREATE DATABASE $database"
cat >"$work/pubq.conf" <<EOF
[server]
listen = 127.0.0.1:$port

[database]
url = $url

[platform sink]
type = file
path = $work/out.jsonl
EOF

"$PUBQ_BIN" --config "$work/pubq.conf" migrate >/dev/null
sql "CREATE FUNCTION explode() RETURNS trigger LANGUAGE plpgsql AS
     \$\$ BEGIN RAISE EXCEPTION 'test failure'; END \$\$"
sql "CREATE TRIGGER explode BEFORE INSERT ON jobs FOR EACH ROW
     WHEN (NEW.content_id LIKE 'explode-%') EXECUTE FUNCTION explode()"

"$PUBQ_BIN" --config "$work/pubq.conf" serve </dev/null \
    2>"$work/serve.log" &
server_pid=$!

python3 - "$port" "$work/replies.json" <<'EOF' || die "the requests failed"
import json, sys, threading, time, urllib.error, urllib.request

port, out = int(sys.argv[1]), sys.argv[2]
base = f"http://127.0.0.1:{port}"

deadline = time.monotonic() + 20
while True:
    try:
        urllib.request.urlopen(base + "/healthz", timeout=2).read()
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit("the server did not answer within 20 s")
        time.sleep(0.1)

requests = []
for n in range(30):
    requests.append((f"single-{n}", f"evt-single-{n}"))
for n in range(8):
    requests.append((f"shared-{n}", "evt-shared"))
for n in range(2):
    requests.append((f"explode-{n}", f"evt-explode-{n}"))

replies = [None] * len(requests)
start = threading.Barrier(len(requests))

def send(index):
    content, event_id = requests[index]
    body = json.dumps({"name": "publishing.scheduled", "id": event_id,
                       "data": {"contentItemId": content,
                                "platforms": ["sink"],
                                "scheduledAt": "2030-01-01T00:00:00Z",
                                "content": {"text": content}}}).encode()
    request = urllib.request.Request(
        base + "/v1/events", data=body, method="POST",
        headers={"Content-Type": "application/json"})
    start.wait()
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            replies[index] = {"status": reply.status,
                              "body": json.load(reply)}
    except urllib.error.HTTPError as error:
        replies[index] = {"status": error.code, "body": error.read().decode()}

threads = [threading.Thread(target=send, args=(i,))
           for i in range(len(requests))]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
json.dump({"requests": requests, "replies": replies}, open(out, "w"))
EOF

python3 - "$work/replies.json" "$url" <<'EOF' || die "the replies or rows are wrong"
import json, subprocess, sys

data = json.load(open(sys.argv[1]))
url = sys.argv[2]
failures = []

def rows(query):
    out = subprocess.run(["psql", "-qAt", url, "-c", query],
                         capture_output=True, text=True, check=True).stdout
    return [line.split("|") for line in out.splitlines() if line]

def check(condition, message):
    if not condition:
        failures.append(message)

shared_jobs = set()
for (content, event_id), reply in zip(data["requests"], data["replies"]):
    if content.startswith("explode-"):
        check(reply["status"] == 500,
              f"{content}: status {reply['status']}, expected 500")
        check("test failure" in str(reply["body"]),
              f"{content}: the error does not name the trigger's message")
        continue
    check(reply["status"] == 200,
          f"{content}: status {reply['status']}, expected 200")
    if reply["status"] != 200:
        continue
    event = reply["body"]["events"][0]
    if content.startswith("shared-"):
        shared_jobs.add(event["jobId"])
        continue
    check(event["duplicate"] is False, f"{content}: reported a duplicate")
    stored = rows("SELECT e.id FROM entries e JOIN jobs j ON j.id = e.job_id"
                  f" WHERE j.id = {int(event['jobId'])}"
                  f" AND j.content_id = '{content}' ORDER BY e.id")
    check([int(r[0]) for r in stored] == event["entryIds"],
          f"{content}: entry ids {event['entryIds']}, stored {stored}")

check(len(shared_jobs) == 1,
      f"the shared event id made jobs {sorted(shared_jobs)}, expected one")
check(rows("SELECT count(*) FROM jobs WHERE content_id LIKE 'shared-%'")
      == [["1"]], "the shared event id did not create exactly one job")
check(rows("SELECT count(*) FROM jobs") == [["31"]],
      f"jobs stored: {rows('SELECT count(*) FROM jobs')}, expected 31")
check(rows("SELECT count(*) FROM entries") == [["31"]],
      f"entries stored: {rows('SELECT count(*) FROM entries')}, expected 31")
check(rows("SELECT count(*) FROM audit WHERE action = 'accepted'")
      == [["31"]], "accepted records are not one per job")
check(rows("SELECT count(*) FROM content_items"
           " WHERE id LIKE 'explode-%'") == [["0"]],
      "a failed request left a content item behind")
check(rows("SELECT count(*) FROM seen_events"
           " WHERE event_id LIKE 'evt-explode-%'") == [["0"]],
      "a failed request left its event id behind")
check(rows("SELECT count(*) FROM audit WHERE job_id LIKE 'explode-%'")
      == [["0"]], "a failed request left an audit record behind")

for failure in failures:
    print(failure, file=sys.stderr)
sys.exit(1 if failures else 0)
EOF

echo "http_intake_pg: ok"
