#!/usr/bin/env bash
# Disk full: the database lives on a 6 MiB tmpfs that a filler file
# fills up while `pubq serve` runs. Writes through the API must get 503
# with a message that names the full disk, reads (entries, counts,
# healthz, metrics, the page) must keep working, and once the filler is
# deleted, writes succeed again and the engine publishes what waited.
#
# The tmpfs is mounted in a private mount namespace (unshare --mount), so
# no other process sees it and the kernel drops it when the test's last
# process exits, even after a kill -9; the EXIT trap also unmounts it.
# Mounting needs root (or CAP_SYS_ADMIN); without it the test exits 77.
set -euo pipefail

: "${PUBQ_BIN:?set PUBQ_BIN to the pubq binary}"
: "${PUBQ_SOURCE_DIR:?set PUBQ_SOURCE_DIR to the source tree}"

if [ -z "${PUBQ_TEST_MOUNT_NS:-}" ]; then
    if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null; then
        echo "SKIP: mounting a tmpfs needs root and unshare(1)"
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
    daemon_stop || true
    umount "$disk" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

mkdir "$disk"
mount -t tmpfs -o size=6m,mode=0700 pubq-test "$disk"

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

write_event "$work/small.json" before-full blog
check_status POST /v1/events 200 "$work/small.json"
wait_until 20 count_is published 1 ||
    fail "the first entry was not published with free disk space"

# dd stops with "No space left on device" once the tmpfs is full.
dd if=/dev/zero of="$disk/filler" bs=64k 2>/dev/null || true
echo "disk full: $(df -k "$disk" | awk 'NR == 2 {print $4}') KiB free"

# SQLite reuses WAL pages it already wrote, so a small write may still
# fit; 200 KB events need fresh pages within a few requests.
full_status=""
for ((n = 1; n <= 40; n++)); do
    write_event "$work/big.json" "while-full-$n" blog x 200000
    api_request POST /v1/events "$work/big.json"
    if [ "$api_status" != 200 ]; then
        full_status=$api_status
        break
    fi
done
accepted_before_full=$((n - 1))
echo "disk full: $accepted_before_full large events fit, then $full_status"
echo "disk full: $api_body"
[ "$full_status" = 503 ] ||
    fail "a write on a full disk returned '$full_status', expected 503"
grep -q "disk is full" <<<"$api_body" ||
    fail "the 503 message does not say the disk is full: $api_body"
grep -q "free disk space" <<<"$api_body" ||
    fail "the 503 message does not say how to fix it: $api_body"
grep -qi "^retry-after: [0-9]" <<<"$api_headers" ||
    fail "the 503 reply has no Retry-After header"

# Reads need no new disk pages.
for path in /v1/entries /v1/counts /healthz /metrics / /v1/platforms \
    /v1/audit; do
    check_status GET "$path" 200
done
kill -0 "$daemon_pid" || fail "the daemon died while the disk was full"

rm -f "$disk/filler"
check_status POST /v1/events 200 "$work/small.json"
write_event "$work/after.json" after-full blog
check_status POST /v1/events 200 "$work/after.json"
# The first event, the large ones that fit, and the two sent now.
expected=$((accepted_before_full + 3))
wait_until 30 count_is published "$expected" ||
    fail "after space returned, $(count_status published) entries were" \
        "published, expected $expected"

daemon_stop || fail "the daemon did not stop cleanly"
if [ "$failures" -gt 0 ]; then
    echo "--- daemon log" >&2
    tail -n 30 "$work/daemon.log" >&2
    exit 1
fi
echo "fault_disk_full: 503 while full, reads served, recovered"
