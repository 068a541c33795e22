# Shell helpers for script tests that run `pubq serve`. Source this file
# from a test under tests/integration/; it needs PUBQ_BIN.
#
#   port=$(daemon_free_port)
#   daemon_start "$work/pubq.conf" "$work/daemon.log" "http://127.0.0.1:$port"
#   ...
#   daemon_stop || fail   (also safe to call again from an EXIT trap)

daemon_pid=""
daemon_log=""

# Prints a TCP port on 127.0.0.1 that was free a moment ago. The kernel
# may hand it out again before the daemon binds it, which is unlikely
# enough for a test.
daemon_free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# daemon_start CONF LOG URL: starts the daemon in the background with its
# output in LOG and waits until URL/healthz responds, for at most 20 s.
# Returns 1, with the log on standard error, when the daemon exits or
# does not respond in time.
daemon_start() {
    local conf=$1 log=$2 url=$3 i

    "$PUBQ_BIN" --config "$conf" serve >"$log" 2>&1 &
    daemon_pid=$!
    daemon_log=$log

    for ((i = 0; i < 200; i++)); do
        if curl -sf -o /dev/null --max-time 1 "$url/healthz"; then
            return 0
        fi
        if ! kill -0 "$daemon_pid" 2>/dev/null; then
            echo "pubq serve exited before $url/healthz responded:" >&2
            cat "$log" >&2
            daemon_pid=""
            return 1
        fi
        sleep 0.1
    done
    echo "pubq serve: no response from $url/healthz within 20 s:" >&2
    cat "$log" >&2
    return 1
}

# Stops the daemon with SIGTERM, then SIGKILL after 10 s. Returns 1, with
# the end of its log on standard error, when it did not exit with status
# 0 (a sanitizer report also makes it fail).
daemon_stop() {
    local i status=0

    [ -n "$daemon_pid" ] || return 0
    kill -TERM "$daemon_pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$daemon_pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$daemon_pid" 2>/dev/null; then
        echo "pubq serve ignored SIGTERM for 10 s; sending SIGKILL" >&2
        kill -KILL "$daemon_pid" 2>/dev/null || true
    fi
    wait "$daemon_pid" 2>/dev/null || status=$?
    daemon_pid=""
    if [ "$status" -ne 0 ]; then
        echo "pubq serve exited with status $status; its log ends:" >&2
        tail -n 60 "$daemon_log" >&2
        return 1
    fi
}

# npm_install_once DIR: installs DIR's locked npm packages when
# DIR/node_modules is missing.
npm_install_once() {
    if [ ! -d "$1/node_modules" ]; then
        (cd "$1" && npm ci --silent --no-audit --no-fund)
    fi
}
