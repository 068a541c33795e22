# Shell helpers for script tests that speak to the HTTP API of a running
# `pubq serve`. Source it after tests/support/daemon.sh; it needs `work`
# (the test's temporary directory) and `url` (http://127.0.0.1:PORT).
#
#   api_request POST /v1/events "$work/event.json"
#   [ "$api_status" = 200 ] || fail "..."
#   check_status GET /v1/counts 200

api_status=""
api_body=""
api_headers=""
failures=0

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# api_request METHOD PATH [BODY_FILE]: sends one request with a 30 s
# limit and sets api_status (000 when no response came), api_headers and
# api_body.
api_request() {
    local method=$1 path=$2 body=${3:-}
    local args=(-s -o "$work/api_body" -D "$work/api_headers"
        -w '%{http_code}' --max-time 30 -X "$method")

    if [ -n "$body" ]; then
        args+=(-H 'Content-Type: application/json' --data-binary "@$body")
    fi
    api_status=$(curl "${args[@]}" "$url$path") || true
    api_body=$(cat "$work/api_body" 2>/dev/null || true)
    api_headers=$(tr -d '\r' <"$work/api_headers" 2>/dev/null || true)
}

# check_status METHOD PATH EXPECTED [BODY_FILE]: fails the test unless
# the response has status EXPECTED.
check_status() {
    api_request "$1" "$2" "${4:-}"
    if [ "$api_status" != "$3" ]; then
        fail "$1 $2 returned $api_status, expected $3: ${api_body:0:300}"
    fi
}

# write_event FILE CONTENT_ID PLATFORM [TEXT [REPEAT]]: writes a
# publishing.scheduled event, due now, to FILE; its text is TEXT repeated
# REPEAT times (default once).
write_event() {
    python3 - "$@" <<'EOF'
import json, sys
path, content_id, platform = sys.argv[1:4]
text = sys.argv[4] if len(sys.argv) > 4 else f"post {content_id}"
repeat = int(sys.argv[5]) if len(sys.argv) > 5 else 1
event = {"name": "publishing.scheduled",
         "data": {"contentItemId": content_id, "platforms": [platform],
                  "content": {"text": text * repeat}}}
with open(path, "w", encoding="utf-8") as out:
    json.dump(event, out)
EOF
}

# count_status STATUS: prints how many entries have STATUS.
count_status() {
    curl -s --max-time 30 "$url/v1/counts" |
        python3 -c "import json, sys; print(json.load(sys.stdin)['all']['$1'])"
}

# count_is STATUS N: succeeds when exactly N entries have STATUS. Use it
# with wait_until, which runs its command again on each try; a
# "$(count_status ...)" argument would be expanded only once.
count_is() {
    [ "$(count_status "$1")" = "$2" ]
}

# wait_until SECONDS COMMAND...: runs COMMAND every 0.2 s until it
# succeeds; returns 1 when SECONDS pass first.
wait_until() {
    local tries=$(($1 * 5)) i

    shift
    for ((i = 0; i < tries; i++)); do
        if "$@"; then
            return 0
        fi
        sleep 0.2
    done
    return 1
}

# rss_kib PID: prints the resident set size of PID in KiB.
rss_kib() {
    awk '/^VmRSS:/ {print $2}' "/proc/$1/status"
}

# fd_count PID: prints how many file descriptors PID has open.
fd_count() {
    find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l
}
