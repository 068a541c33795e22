#!/usr/bin/env bash
# The CLI over the HTTP API: runs `pubq serve`, drives publish, import,
# retry and cancel through --url, and checks that list, show and audit
# print the same through --url as they do reading the database.
set -euo pipefail

: "${PUBQ_BIN:?set PUBQ_BIN to the pubq binary}"
: "${PUBQ_SOURCE_DIR:?set PUBQ_SOURCE_DIR to the source tree}"

# shellcheck source=../support/daemon.sh
. "$PUBQ_SOURCE_DIR/tests/support/daemon.sh"

work=$(mktemp -d)
cleanup() {
    daemon_stop
    rm -rf "$work"
}
trap cleanup EXIT

port=$(daemon_free_port)
url="http://127.0.0.1:$port"

cat >"$work/pubq.conf" <<CONF
[server]
listen = 127.0.0.1:$port
max_body_bytes = 65536
[database]
url = $work/pubq.db
[platform blog]
type = file
path = $work/blog.jsonl
[platform notes]
type = file
path = $work/notes.jsonl
CONF
export PUBQ_CONFIG="$work/pubq.conf"
unset PUBQ_URL PUBQ_DATABASE

failures=0
fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# same ARGS...: runs pubq ARGS with the database and through --url and
# fails unless exit status, standard output and standard error match.
same() {
    local local_status=0 remote_status=0

    "$PUBQ_BIN" "$@" >"$work/local.out" 2>"$work/local.err" ||
        local_status=$?
    "$PUBQ_BIN" --url "$url" "$@" >"$work/remote.out" 2>"$work/remote.err" ||
        remote_status=$?
    if [ "$local_status" != "$remote_status" ] ||
        ! cmp -s "$work/local.out" "$work/remote.out" ||
        ! cmp -s "$work/local.err" "$work/remote.err"; then
        fail "pubq $* differs through --url (exit $local_status/$remote_status)"
        diff "$work/local.out" "$work/remote.out" >&2 || true
        diff "$work/local.err" "$work/remote.err" >&2 || true
    fi
}

# remote ARGS...: runs pubq --url ARGS; output in $work/out and $work/err.
remote() {
    "$PUBQ_BIN" --url "$url" "$@" >"$work/out" 2>"$work/err"
}

daemon_start "$PUBQ_CONFIG" "$work/daemon.log" "$url"

# Far-future entries stay pending, so both reads see the same rows.
at=2099-01-01T09:00:00Z
remote publish --text "first over http" --platform blog --platform notes \
    --id post-1 --at "$at" --event-id ev-1 ||
    fail "publish over --url failed: $(cat "$work/err")"
grep -q "job 1 created for content post-1: 2 entries" "$work/out" ||
    fail "publish over --url printed: $(cat "$work/out")"

remote publish --text "first over http" --platform blog --id post-1 \
    --at "$at" --event-id ev-1 || fail "duplicate publish failed"
grep -q "event id seen before: job 1 already exists" "$work/out" ||
    fail "duplicate publish printed: $(cat "$work/out")"

if remote publish --text "x" --platform nope; then
    fail "publish to an unknown platform succeeded"
fi
grep -q -- '--platform: unknown platform "nope"' "$work/err" ||
    fail "unknown platform error: $(cat "$work/err")"

{
    echo "id,text,platforms,at"
    echo "c-1,row one,blog,$at"
    echo "c-2,row two,blog notes,$at"
} >"$work/calendar.csv"
remote import "$work/calendar.csv" || fail "import over --url failed"
grep -q "imported 2 jobs with 3 entries" "$work/out" ||
    fail "import over --url printed: $(cat "$work/out")"

# Calendars larger than the daemon's max_body_bytes go in batches. The
# CLI's own configuration gives the first batch size; with the default
# 1 MiB the daemon rejects it with 413, and the CLI sends smaller ones.
python3 -c 'import sys
print("id,text,platforms,at")
for i in range(int(sys.argv[1])):
    print("big-%d,%s,notes,%s" % (i, "row %d " % i + "x" * 190, sys.argv[2]))' \
    2000 "$at" >"$work/big.csv"
sed '/^max_body_bytes/d' "$work/pubq.conf" >"$work/cli.conf"
"$PUBQ_BIN" --config "$work/cli.conf" --url "$url" import "$work/big.csv" \
    >"$work/out" 2>"$work/err" ||
    fail "large import over --url failed: $(cat "$work/err")"
grep -q "imported 2000 jobs with 2000 entries" "$work/out" ||
    fail "large import over --url printed: $(cat "$work/out")"
sed -i 's/^big-/more-/' "$work/big.csv"
remote import "$work/big.csv" ||
    fail "import in batches of max_body_bytes failed: $(cat "$work/err")"
notes=$(curl -sf "$url/v1/counts" | python3 -c 'import json, sys
print(json.load(sys.stdin)["platforms"]["notes"]["total"])')
[ "$notes" = 4002 ] || fail "after the large imports notes has $notes entries"

same list
same --json list
same list --platform blog --limit 2
same show 1
same --json show 3
same show 999
same audit
same --json audit --job post-1

remote cancel 2 || fail "cancel over --url failed: $(cat "$work/err")"
grep -q "entry 2 cancelled: now cancelled" "$work/out" ||
    fail "cancel printed: $(cat "$work/out")"
same cancel 2
same retry 1
same show 2
same list --status cancelled

if "$PUBQ_BIN" --url "http://127.0.0.1:1" list 2>"$work/err"; then
    fail "list against a closed port succeeded"
fi
grep -q "cannot reach http://127.0.0.1:1" "$work/err" ||
    fail "unreachable daemon error: $(cat "$work/err")"

if [ "$failures" -gt 0 ]; then
    echo "$failures check(s) failed" >&2
    exit 1
fi
echo "cli_over_http: all checks passed"
