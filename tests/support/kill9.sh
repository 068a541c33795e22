# Shell helpers for the tests that kill `pubq serve` with SIGKILL. Source
# this file from a test under tests/integration/ after setting ENTRIES.
# It needs PUBQ_BIN and PUBQ_SOURCE_DIR, and sources daemon.sh.
#
#   kill9_start_sink DELAY_S   slow_sink.py in $work/sink, sets $port
#   kill9_start_daemon N       pubq serve in the background, its standard
#                              error in $work/serveN.log, sets daemon_pid
#   kill9_kill                 SIGKILL to the daemon, then reaps it
#
# The work directory ($work), the daemon and the sink are cleaned up on
# exit. die prints the end of every daemon log.

# shellcheck source=daemon.sh
. "$PUBQ_SOURCE_DIR/tests/support/daemon.sh"

: "${PUBQ_BIN:?set PUBQ_BIN to the pubq binary}"
: "${PUBQ_SOURCE_DIR:?set PUBQ_SOURCE_DIR to the source tree}"
: "${ENTRIES:?set ENTRIES before sourcing kill9.sh}"

work=$(mktemp -d)
sink_pid=""
daemon_pid=""

kill9_cleanup() {
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
trap kill9_cleanup EXIT

die() {
    echo "FAIL: $*" >&2
    for log in "$work"/serve*.log; do
        [ -f "$log" ] || continue
        echo "--- last lines of $log" >&2
        tail -n 20 "$log" >&2
    done
    exit 1
}

pubq() {
    "$PUBQ_BIN" --config "$work/pubq.conf" "$@" </dev/null
}

# wait_for SECONDS COMMAND...: polls every 0.1 s until COMMAND succeeds.
wait_for() {
    local tries=$(($1 * 10))
    shift
    for ((i = 0; i < tries; i++)); do
        if "$@"; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

kill9_start_sink() {
    mkdir "$work/sink"
    python3 "$PUBQ_SOURCE_DIR/tests/support/slow_sink.py" "$work/sink" \
        "$1" &
    sink_pid=$!
    wait_for 20 test -s "$work/sink/port" || die "the sink did not start"
    port=$(cat "$work/sink/port")
}

# Runs the binary itself in the background, not the pubq function: $!
# must be the daemon's pid for kill -9 to reach it.
kill9_start_daemon() {
    "$PUBQ_BIN" --config "$work/pubq.conf" serve </dev/null \
        2>"$work/serve$1.log" &
    daemon_pid=$!
}

kill9_kill() {
    kill -9 "$daemon_pid"
    wait "$daemon_pid" 2>/dev/null || true
    daemon_pid=""
}

# Prints "STATUS COUNT" lines for every entry of the queue.
status_counts() {
    pubq list --json --limit 1000 | python3 -c '
import collections, json, sys
counts = collections.Counter(e["status"] for e in json.load(sys.stdin))
for status, count in sorted(counts.items()):
    print(status, count)'
}

# Succeeds when all ENTRIES entries are in the state $1.
all_in_state() {
    [ "$(status_counts)" = "$1 $ENTRIES" ]
}
