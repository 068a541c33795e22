#!/usr/bin/env bash
# An attempt in flight when `pubq serve` is killed with SIGKILL, on a
# platform that cannot be checked and has on_unknown = hold: after the
# restart each entry is failed with "outcome unknown", and the records
# show exactly what happened. Each entry has one attempt (its outcome
# unknown) and attempt_count 1, the metric counts one unknown attempt
# per entry, and no request is sent again. With max_retries = 3 the
# audit log holds a lease_recovered (to retrying) and a held record per
# entry and the log a held line; with max_retries = 0 it holds one
# lease_recovered record (to failed, with the reason) per entry. Runs on
# SQLite and on PostgreSQL (PUBQ_TEST_PG_URL, as scripts/test-postgres
# run sets it).
set -euo pipefail

ENTRIES=10

# shellcheck source=../support/kill9.sh
. "$PUBQ_SOURCE_DIR/tests/support/kill9.sh"

if [ -z "${PUBQ_TEST_PG_URL:-}" ]; then
    echo "engine_kill9_hold: PUBQ_TEST_PG_URL is not set; run the tests" \
        "through scripts/test-postgres run (make test does)" >&2
    exit 1
fi

database="pubq_kill9_hold_$$"
pg_url="${PUBQ_TEST_PG_URL%/*}/$database"

cleanup() {
    kill9_cleanup
    psql -q "$PUBQ_TEST_PG_URL" -c "DROP DATABASE IF EXISTS $database" \
        >/dev/null 2>&1 || true
}
trap cleanup EXIT

all_in_flight() {
    [ -f "$work/sink/in_progress" ] &&
        [ "$(cat "$work/sink/in_progress")" -ge "$ENTRIES" ]
}

metric_unknown() {
    curl -sf "http://127.0.0.1:$listen_port/metrics" |
        awk '/^pubq_attempts_total\{platform="sink",outcome="unknown"\}/ {
                 print $2 }'
}

# run_case LABEL DATABASE_URL MAX_RETRIES: one kill, restart and check
# on one store. With retries left lease recovery sends each entry back to
# retrying and the engine holds it; with none, lease recovery fails it.
run_case() {
    local label=$1 max_retries=$3
    local held_expected=$ENTRIES recovered_to=retrying failed_expected=0
    if [ "$max_retries" = 0 ]; then
        held_expected=0
        recovered_to=failed
        failed_expected=$ENTRIES
    fi
    listen_port=$(daemon_free_port)
    kill9_start_sink 30

    cat >"$work/pubq.conf" <<EOF
[server]
listen = 127.0.0.1:$listen_port

[database]
url = $2
lease = 3s

[engine]
shutdown_grace = 1s

[platform sink]
type = webhook
url = http://127.0.0.1:$port/hook
timeout = 60s
on_unknown = hold
max_retries = $max_retries
concurrency = $ENTRIES
max_lateness = 0
EOF

    for ((n = 1; n <= ENTRIES; n++)); do
        pubq publish --text "held post $n" --platform sink \
            --id "hold-$n" >/dev/null
    done

    kill9_start_daemon "$label-1"
    wait_for 30 all_in_flight ||
        die "$label: fewer than $ENTRIES posts in flight after 30 s"
    kill9_kill

    kill9_start_daemon "$label-2"
    wait_for 60 all_in_state failed ||
        die "$label: not every entry was held 60 s after the restart:" \
            "$(status_counts | tr '\n' ' ')"
    wait_for 10 test "$(metric_unknown)" = "$ENTRIES" ||
        die "$label: pubq_attempts_total{outcome=\"unknown\"} is" \
            "$(metric_unknown), expected $ENTRIES"

    pubq list --json --limit 1000 >"$work/entries.json"
    python3 - "$work/entries.json" "$ENTRIES" "$label" <<'PY' ||
import json, subprocess, sys

entries = json.load(open(sys.argv[1]))
expected, label = int(sys.argv[2]), sys.argv[3]
errors = []
if len(entries) != expected:
    errors.append(f"{len(entries)} entries, expected {expected}")
for entry in entries:
    name = f"entry {entry['id']}"
    if entry["attempt_count"] != 1:
        errors.append(f"{name}: attempt_count {entry['attempt_count']}")
    if entry["fail_reason"] != "outcome unknown":
        errors.append(f"{name}: fail_reason {entry['fail_reason']!r}")
for error in errors:
    print(f"{label}: {error}", file=sys.stderr)
sys.exit(1 if errors else 0)
PY
        die "$label: the entries do not show one held attempt each"

    for id in $(python3 -c 'import json, sys
print(" ".join(str(e["id"]) for e in json.load(open(sys.argv[1]))))' \
        "$work/entries.json"); do
        # Lease recovery ends the attempt without a finished outcome.
        attempts=$(pubq show "$id" --json | python3 -c 'import json, sys
print(" | ".join(a["error"] for a in json.load(sys.stdin)["attempts"]))')
        case $attempts in
        *"|"* | "")
            die "$label: entry $id has attempts \"$attempts\"," \
                "expected exactly one" ;;
        *"the outcome is unknown") ;;
        *) die "$label: entry $id has the attempt \"$attempts\"," \
            "expected one whose outcome is unknown" ;;
        esac
    done

    count_audit() {
        pubq audit --action "$1" --limit 1000 --json | python3 -c '
import json, sys
print(sum(1 for r in json.load(sys.stdin) if r["status"] == sys.argv[1]))' \
            "$2"
    }
    recovered=$(count_audit lease_recovered "$recovered_to")
    [ "$recovered" = "$ENTRIES" ] ||
        die "$label: $recovered lease_recovered records to" \
            "$recovered_to, expected $ENTRIES"
    # An entry that lease recovery failed has the reason in its record.
    failed_unknown=$(pubq audit --action lease_recovered --limit 1000 \
        --json | python3 -c '
import json, sys
print(sum(1 for r in json.load(sys.stdin)
          if r["metadata"].get("fail_reason") == "outcome unknown"))')
    [ "$failed_unknown" = "$failed_expected" ] ||
        die "$label: $failed_unknown lease_recovered records with" \
            "fail_reason \"outcome unknown\", expected $failed_expected"
    held=$(count_audit retry held)
    [ "$held" = "$held_expected" ] ||
        die "$label: $held held records, expected $held_expected"
    # A held entry is not due again, so its record has no due time.
    with_due=$(pubq audit --action retry --limit 1000 --json | python3 -c '
import json, sys
print(sum(1 for r in json.load(sys.stdin)
          if r["status"] == "held" and "due_at" in r["metadata"]))')
    [ "$with_due" = 0 ] ||
        die "$label: $with_due held records carry a due_at"

    # The log names the held entries and no attempt that was not made.
    log="$work/serve$label-2.log"
    held_lines=$(grep -c "held entry=.*the outcome of attempt 1 is unknown" \
        "$log" || true)
    [ "$held_lines" = "$held_expected" ] ||
        die "$label: $held_lines \"held entry=\" log lines, expected" \
            "$held_expected"
    if grep "attempt entry=.* attempt=2 " "$log" >&2; then
        die "$label: the log reports an attempt 2 that was never made"
    fi

    requests=$(wc -l <"$work/sink/requests.log")
    [ "$requests" = "$ENTRIES" ] ||
        die "$label: the sink got $requests requests, expected $ENTRIES"

    kill -TERM "$daemon_pid"
    wait "$daemon_pid" || die "$label: the daemon exited with status $?"
    daemon_pid=""
    kill "$sink_pid"
    wait "$sink_pid" 2>/dev/null || true
    sink_pid=""
    rm -rf "$work/sink"
    echo "engine_kill9_hold: $label: $ENTRIES entries failed with one" \
        "unknown attempt each"
}

run_case sqlite "$work/pubq.db" 3
rm -f "$work"/pubq.db*
run_case sqlite-no-retries "$work/pubq.db" 0

psql -q "$PUBQ_TEST_PG_URL" -c "CREATE DATABASE $database" >/dev/null
run_case postgres "$pg_url" 3
psql -q "$PUBQ_TEST_PG_URL" -c "DROP DATABASE $database" >/dev/null
psql -q "$PUBQ_TEST_PG_URL" -c "CREATE DATABASE $database" >/dev/null
run_case postgres-no-retries "$pg_url" 0
