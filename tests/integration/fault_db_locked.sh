#!/usr/bin/env bash
# Database locked by another process: a sqlite3 shell holds BEGIN
# EXCLUSIVE on the database of a running `pubq serve`. Writes through
# the API must get 503 with Retry-After and a message about the lock
# once SQLite's busy timeout (5 s) runs out. Reads must keep working,
# because WAL lets readers run beside the writer. Once the shell ends
# its transaction, writes succeed and everything waiting is published.
set -euo pipefail

: "${PUBQ_BIN:?set PUBQ_BIN to the pubq binary}"
: "${PUBQ_SOURCE_DIR:?set PUBQ_SOURCE_DIR to the source tree}"

# shellcheck source=../support/daemon.sh
. "$PUBQ_SOURCE_DIR/tests/support/daemon.sh"
# shellcheck source=../support/api.sh
. "$PUBQ_SOURCE_DIR/tests/support/api.sh"

work=$(mktemp -d)
locker_pid=""
cleanup() {
    if [ -n "$locker_pid" ]; then
        kill "$locker_pid" 2>/dev/null || true
        wait "$locker_pid" 2>/dev/null || true
    fi
    exec 7>&- 2>/dev/null || true
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
[retry]
base_delay = 200ms
[platform blog]
type = file
path = $work/blog.jsonl
CONF

daemon_start "$work/pubq.conf" "$work/daemon.log" "$url"
write_event "$work/event.json" locked blog
check_status POST /v1/events 200 "$work/event.json"
wait_until 20 count_is published 1 ||
    fail "the first entry was not published"

# The shell reads its commands from a FIFO that stays open, so the
# transaction lasts until the test writes ROLLBACK.
mkfifo "$work/locker.in"
sqlite3 "$work/pubq.db" <"$work/locker.in" >"$work/locker.out" 2>&1 &
locker_pid=$!
exec 7>"$work/locker.in"
echo "PRAGMA busy_timeout = 5000; BEGIN EXCLUSIVE;" >&7
echo "SELECT 'locked';" >&7
wait_until 10 grep -q locked "$work/locker.out" ||
    fail "the sqlite3 shell did not take the lock: $(cat "$work/locker.out")"

start=$(date +%s%N)
check_status POST /v1/events 503 "$work/event.json"
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
echo "locked: 503 after $elapsed_ms ms: $api_body"
[ "$elapsed_ms" -ge 4000 ] && [ "$elapsed_ms" -le 15000 ] ||
    fail "the 503 came after $elapsed_ms ms, expected about 5000 (busy timeout)"
grep -q "write lock" <<<"$api_body" ||
    fail "the 503 message does not name the lock: $api_body"
grep -qi "^retry-after: 1" <<<"$api_headers" ||
    fail "the 503 reply has no Retry-After: 1"

for path in /v1/entries /v1/counts /healthz /metrics / /v1/audit; do
    start=$(date +%s%N)
    check_status GET "$path" 200
    elapsed_ms=$((($(date +%s%N) - start) / 1000000))
    [ "$elapsed_ms" -le 2000 ] ||
        fail "GET $path took $elapsed_ms ms while the database was locked"
done
kill -0 "$daemon_pid" || fail "the daemon died while the database was locked"

# A write that starts while the lock is held succeeds when the lock goes
# within the busy timeout.
curl -s -o "$work/late.out" -w '%{http_code}' --max-time 30 \
    -H 'Content-Type: application/json' \
    --data-binary "@$work/event.json" "$url/v1/events" >"$work/late.status" &
late_pid=$!
sleep 1
echo "ROLLBACK;" >&7
exec 7>&-
wait "$locker_pid" || fail "the sqlite3 shell failed: $(cat "$work/locker.out")"
locker_pid=""
wait "$late_pid" || true
[ "$(cat "$work/late.status")" = 200 ] ||
    fail "a write waiting on the lock got $(cat "$work/late.status")"

check_status POST /v1/events 200 "$work/event.json"
wait_until 30 count_is published 3 ||
    fail "$(count_status published) entries published, expected 3"

daemon_stop || fail "the daemon did not stop cleanly"
if [ "$failures" -gt 0 ]; then
    echo "--- daemon log" >&2
    tail -n 30 "$work/daemon.log" >&2
    exit 1
fi
echo "fault_db_locked: 503 after the busy timeout, reads served, recovered"
