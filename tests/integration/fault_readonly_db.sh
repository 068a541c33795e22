#!/usr/bin/env bash
# Read-only database: while `pubq serve` runs, its database file and WAL
# become unwritable (the ext4 immutable attribute, which Linux 5.3 and
# later enforce on files already open, so even root's writes fail with
# EPERM). Writes through the API must get 503 with a clear message, reads
# must keep working, and once the attribute is cleared every write must
# succeed again, including on database handles opened during the fault.
#
# A read-only remount would be the closer copy of a file system that went
# read-only, but Linux refuses it with EBUSY while a process holds a file
# open for writing, and chmod does not stop root. So the test makes an
# ext4 image on a loop device, mounted in a private mount namespace
# (unshare --mount): nobody else sees it, the kernel drops the mount when
# the test's last process exits, and the loop device is released on
# unmount. Without root, unshare or mkfs.ext4 the test exits 77.
set -euo pipefail

: "${PUBQ_BIN:?set PUBQ_BIN to the pubq binary}"
: "${PUBQ_SOURCE_DIR:?set PUBQ_SOURCE_DIR to the source tree}"

if [ -z "${PUBQ_TEST_MOUNT_NS:-}" ]; then
    if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null ||
        ! command -v mkfs.ext4 >/dev/null || ! command -v chattr >/dev/null
    then
        echo "SKIP: needs root, unshare(1), mkfs.ext4(8) and chattr(1)"
        exit 77
    fi
    PUBQ_TEST_MOUNT_NS=1 exec unshare --mount --propagation private \
        bash "$0" "$@"
fi

# shellcheck source=../support/daemon.sh
. "$PUBQ_SOURCE_DIR/tests/support/daemon.sh"
# shellcheck source=../support/api.sh
. "$PUBQ_SOURCE_DIR/tests/support/api.sh"

work=$(mktemp -d)
disk="$work/disk"
cleanup() {
    chattr -i "$disk"/pubq.db* 2>/dev/null || true
    daemon_stop || true
    umount "$disk" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

mkdir "$disk"
mkfs.ext4 -q -F -m 0 "$work/disk.img" 32M
mount -o loop "$work/disk.img" "$disk"

port=$(daemon_free_port)
url="http://127.0.0.1:$port"
cat >"$work/pubq.conf" <<CONF
[server]
listen = 127.0.0.1:$port
[database]
url = $disk/pubq.db
[retry]
base_delay = 200ms
[platform blog]
type = file
path = $work/blog.jsonl
CONF

daemon_start "$work/pubq.conf" "$work/daemon.log" "$url"
write_event "$work/event.json" first blog
check_status POST /v1/events 200 "$work/event.json"
wait_until 20 count_is published 1 ||
    fail "the first entry was not published"

chattr +i "$disk/pubq.db" "$disk/pubq.db-wal"

check_status POST /v1/events 503 "$work/event.json"
echo "read-only: $api_body"
grep -q "writable" <<<"$api_body" ||
    fail "the 503 message does not say the database must be writable"
grep -qi "^retry-after: [0-9]" <<<"$api_headers" ||
    fail "the 503 reply has no Retry-After header"

# Parallel requests make the server open new database handles while the
# file is read-only; SQLite opens those read-only. A bare `wait` would
# also wait for the daemon, so the clients' pids are collected.
clients=()
for ((n = 0; n < 16; n++)); do
    curl -s -o /dev/null --max-time 30 "$url/v1/entries?limit=5" &
    clients+=($!)
    curl -s -o /dev/null --max-time 30 -H 'Content-Type: application/json' \
        --data-binary "@$work/event.json" "$url/v1/events" &
    clients+=($!)
done
wait "${clients[@]}"
for path in /v1/entries /v1/counts /healthz /metrics / /v1/audit; do
    check_status GET "$path" 200
done
kill -0 "$daemon_pid" || fail "the daemon died while the database was read-only"

chattr -i "$disk/pubq.db" "$disk/pubq.db-wal"

# The first write may reach a handle opened read-only during the fault;
# its 503 makes the server close every idle handle. From then on every
# write must succeed, whichever handle serves it.
failed_after=0
for ((n = 0; n < 10; n++)); do
    api_request POST /v1/events "$work/event.json"
    [ "$api_status" = 200 ] || failed_after=$((failed_after + 1))
done
echo "read-only: $failed_after of 10 sequential writes failed after recovery"
[ "$failed_after" -le 1 ] ||
    fail "$failed_after of 10 writes failed after the database became" \
        "writable, expected at most 1: $api_body"
for ((n = 0; n < 8; n++)); do
    clients=()
    for ((k = 0; k < 4; k++)); do
        curl -s -o "$work/after-$n-$k" -w '%{http_code}\n' --max-time 30 \
            -H 'Content-Type: application/json' \
            --data-binary "@$work/event.json" "$url/v1/events" \
            >>"$work/after-status" &
        clients+=($!)
    done
    wait "${clients[@]}"
done
not_ok=$(grep -vc '^200$' "$work/after-status" || true)
[ "$not_ok" = 0 ] || {
    fail "$not_ok of 32 writes failed after the database became writable:" \
        "$(cat "$work"/after-* | grep -v '^200$' | sort | uniq -c | head -5)"
}
expected=$((1 + 10 - failed_after + 32))
wait_until 30 count_is published "$expected" ||
    fail "$(count_status published) entries published, expected $expected"

daemon_stop || fail "the daemon did not stop cleanly"
if [ "$failures" -gt 0 ]; then
    echo "--- daemon log" >&2
    tail -n 30 "$work/daemon.log" >&2
    exit 1
fi
echo "fault_readonly_db: 503 while read-only, reads served, recovered"
