#!/usr/bin/env bash
# The SQLite database file deleted while the daemon runs: writes are
# refused with 503 and a message that names the file, /healthz fails,
# and no new empty database appears in its place. Without the check,
# events were accepted into the deleted file and lost at the next start.
set -euo pipefail

: "${PUBQ_BIN:?set PUBQ_BIN to the pubq binary}"
: "${PUBQ_SOURCE_DIR:?set PUBQ_SOURCE_DIR to the source tree}"

# shellcheck source=../support/daemon.sh
. "$PUBQ_SOURCE_DIR/tests/support/daemon.sh"
# shellcheck source=../support/api.sh
. "$PUBQ_SOURCE_DIR/tests/support/api.sh"

work=$(mktemp -d)
cleanup() {
    daemon_stop || true
    rm -rf "$work"
}
trap cleanup EXIT

port=$(daemon_free_port)
url="http://127.0.0.1:$port"
cat >"$work/pubq.conf" <<CONF
[server]
listen = 127.0.0.1:$port
[database]
url = $work/pubq.db
[platform out]
type = file
path = $work/out.jsonl
CONF
daemon_start "$work/pubq.conf" "$work/daemon.log" "$url"

write_event "$work/before.json" before out
check_status POST /v1/events 200 "$work/before.json"
wait_until 10 test -s "$work/out.jsonl" ||
    fail "the first event was not published"

rm -f "$work/pubq.db" "$work/pubq.db-wal" "$work/pubq.db-shm"

write_event "$work/after.json" after out
api_request POST /v1/events "$work/after.json"
[ "$api_status" = 503 ] ||
    fail "an event after the delete got $api_status, expected 503:" \
        "${api_body:0:300}"
case "$api_body" in
*"deleted or replaced"* | *"does not exist"*) ;;
*) fail "the 503 does not say the file is gone: ${api_body:0:300}" ;;
esac

check_status GET /healthz 503
[ ! -e "$work/pubq.db" ] ||
    fail "the daemon created a new database in place of the deleted one"
kill -0 "$daemon_pid" 2>/dev/null || fail "the daemon exited"
grep -q "deleted or replaced" "$work/daemon.log" ||
    fail "the daemon log does not mention the deleted file"

if [ "$failures" -gt 0 ]; then
    exit 1
fi
echo "fault_db_deleted: writes refused with 503, /healthz 503, no new file"
