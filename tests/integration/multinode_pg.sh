#!/usr/bin/env bash
# Three `pubq serve` nodes share one PostgreSQL database and one webhook
# receiver on 127.0.0.1 that stores one post per Idempotency-Key:
#
# - 5,000 entries all end published, each stored once, and each node
#   made attempts (counted by attempts.node);
# - one node is killed with SIGKILL mid-run and the others finish its
#   entries once its 3 s lease expires;
# - PostgreSQL is restarted mid-run and the nodes reconnect and finish;
# - with all three nodes up, each sweeper tick (cron "* * * * *") writes
#   exactly one sweep audit record, so the test waits for one minute
#   boundary.
#
set -euo pipefail

: "${PUBQ_BIN:?set PUBQ_BIN to the pubq binary}"
: "${PUBQ_SOURCE_DIR:?set PUBQ_SOURCE_DIR to the source tree}"

# A server shared with other tests (make test runs the whole suite under
# scripts/test-postgres run) must not be restarted, so this test always
# starts its own and runs again inside it.
if [ -z "${PUBQ_MULTINODE_SERVER:-}" ]; then
    export PUBQ_MULTINODE_SERVER=1
    exec "$PUBQ_SOURCE_DIR/scripts/test-postgres" run bash "$0" "$@"
fi

ENTRIES=${PUBQ_MULTINODE_ENTRIES:-5000}
NODES=3

work=$(mktemp -d)
sink_pid=""
declare -a node_pids

cleanup() {
    for pid in "${node_pids[@]}"; do
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ -n "$sink_pid" ]; then
        kill "$sink_pid" 2>/dev/null || true
        wait "$sink_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

die() {
    echo "FAIL: $*" >&2
    for log in "$work"/node*.log; do
        [ -f "$log" ] || continue
        echo "--- last lines of $log" >&2
        tail -n 15 "$log" >&2
    done
    exit 1
}

sql() {
    psql -qAt -v ON_ERROR_STOP=1 "$PUBQ_TEST_PG_URL" -c "$1"
}

# wait_for SECONDS COMMAND...: polls every 0.2 s until COMMAND succeeds.
wait_for() {
    local tries=$(($1 * 5))
    shift
    for ((i = 0; i < tries; i++)); do
        if "$@"; then
            return 0
        fi
        sleep 0.2
    done
    return 1
}

free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# Errors while PostgreSQL restarts are expected, so a failed count is 0.
published() {
    sql "SELECT count(*) FROM entries WHERE status = 'published'" \
        2>/dev/null || echo 0
}

at_least_published() {
    [ "$(published)" -ge "$1" ]
}

start_node() {
    "$PUBQ_BIN" --config "$work/node$1.conf" serve </dev/null \
        2>>"$work/node$1.log" &
    node_pids[$1]=$!
}

mkdir "$work/sink"
python3 "$PUBQ_SOURCE_DIR/tests/support/slow_sink.py" "$work/sink" 0.02 &
sink_pid=$!
wait_for 20 test -s "$work/sink/port" || die "the sink did not start"
sink_port=$(cat "$work/sink/port")

for ((n = 1; n <= NODES; n++)); do
    cat >"$work/node$n.conf" <<EOF
[server]
listen = 127.0.0.1:$(free_port)

[database]
url = $PUBQ_TEST_PG_URL
node_id = node-$n
lease = 3s
claim_batch = 32

[retry]
base_delay = 200ms
max_delay = 2s
max_retries = 10

[engine]
max_in_flight = 64
shutdown_grace = 1s

[sweeper]
cron = * * * * *

[platform sink]
type = webhook
url = http://127.0.0.1:$sink_port/hook
timeout = 10s
on_unknown = retry
concurrency = 64
max_lateness = 0
EOF
done

python3 - "$work/entries.jsonl" "$ENTRIES" <<'EOF'
import json, sys
with open(sys.argv[1], "w") as out:
    for n in range(int(sys.argv[2])):
        out.write(json.dumps({"contentItemId": f"multi-{n}",
                              "platforms": ["sink"],
                              "content": {"text": f"post {n}"}}) + "\n")
EOF
"$PUBQ_BIN" --config "$work/node1.conf" migrate >/dev/null
"$PUBQ_BIN" --config "$work/node1.conf" import "$work/entries.jsonl" \
    >/dev/null || die "import failed"

for ((n = 1; n <= NODES; n++)); do
    start_node "$n"
done

wait_for 60 at_least_published $((ENTRIES / 5)) ||
    die "fewer than $((ENTRIES / 5)) published after 60 s"
kill -9 "${node_pids[2]}"
wait "${node_pids[2]}" 2>/dev/null || true
unset 'node_pids[2]'

wait_for 60 at_least_published $((ENTRIES / 2)) ||
    die "fewer than $((ENTRIES / 2)) published after the kill"
"$PUBQ_SOURCE_DIR/scripts/test-postgres" restart "$PUBQ_TEST_PG_DIR" ||
    die "PostgreSQL did not restart"

wait_for 120 at_least_published "$ENTRIES" ||
    die "only $(published) of $ENTRIES published 120 s after the restart"

# Every entry is published, and the receiver stored exactly one post
# under each entry's key.
sql "SELECT idempotency_key FROM entries" | sort >"$work/keys"
python3 - "$work/keys" "$work/sink/posts.jsonl" "$ENTRIES" <<'EOF' ||
import collections, json, sys
keys = set(open(sys.argv[1]).read().split())
stored = collections.Counter(json.loads(line)["key"]
                             for line in open(sys.argv[2]))
errors = []
if len(keys) != int(sys.argv[3]):
    errors.append(f"{len(keys)} distinct keys, expected {sys.argv[3]}")
errors += [f"key {k} stored {c} times" for k, c in stored.items() if c != 1]
if keys - set(stored):
    errors.append(f"{len(keys - set(stored))} entries have no stored post")
if set(stored) - keys:
    errors.append(f"{len(set(stored) - keys)} posts under unknown keys")
for error in errors:
    print(error, file=sys.stderr)
sys.exit(1 if errors else 0)
EOF
    die "the receiver does not hold exactly one post per entry"

for ((n = 1; n <= NODES; n++)); do
    attempts=$(sql "SELECT count(*) FROM attempts WHERE node = 'node-$n'")
    [ "$attempts" -gt 0 ] || die "node-$n made no attempts"
done
recovered=$(sql "SELECT count(*) FROM audit WHERE action = 'lease_recovered'")
spread=$(sql "SELECT string_agg(node || '=' || n, ' ' ORDER BY node)
              FROM (SELECT node, count(*) AS n FROM attempts
                    GROUP BY node) AS t")

# The sweeper: all three nodes up again, then one minute boundary.
start_node 2
ticks_before=$(sql "SELECT count(*) FROM sweeper_ticks")
has_new_tick() {
    [ "$(sql "SELECT count(*) FROM sweeper_ticks")" -gt "$ticks_before" ]
}
wait_for 75 has_new_tick || die "no sweeper tick within 75 s"
sleep 2
ticks=$(sql "SELECT count(*) FROM sweeper_ticks")
sweeps=$(sql "SELECT count(*) FROM audit
              WHERE action = 'sweep' AND agent_name = 'sweeper'")
[ "$ticks" -eq "$sweeps" ] ||
    die "$sweeps sweep records for $ticks sweeper ticks"

for pid in "${node_pids[@]}"; do
    kill -TERM "$pid"
    wait "$pid" || die "a node exited with status $? after SIGTERM"
done
node_pids=()

echo "multinode_pg: $ENTRIES entries published once each; attempts" \
    "$spread; $recovered leases recovered; $sweeps sweeps for $ticks ticks"
