#!/usr/bin/env bash
# End-to-end checks of the pubq command-line tool: the real binary against
# a real SQLite file in a temporary directory. Every failed check prints
# what it expected and what it got; the script exits 1 if any failed.
set -euo pipefail

: "${PUBQ_BIN:?set PUBQ_BIN to the pubq binary}"
: "${PUBQ_SOURCE_DIR:?set PUBQ_SOURCE_DIR to the source tree}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

cat >"$work/pubq.conf" <<EOF
[database]
url = $work/pubq.db

[platform outbox]
type = file
path = $work/outbox.jsonl

[platform social]
type = mastodon
instance = https://mastodon.example
access_token_env = PUBQ_TEST_MASTODON_TOKEN
EOF

failures=0
checks=0
out=""
err=""
status=0

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# Runs pubq with the test configuration; sets $out, $err and $status.
pubq() {
    set +e
    "$PUBQ_BIN" --config "$work/pubq.conf" "$@" >"$work/stdout" \
        2>"$work/stderr" </dev/null
    status=$?
    set -e
    out=$(cat "$work/stdout")
    err=$(cat "$work/stderr")
}

# expect_status CODE WHAT: the last pubq run exited with CODE.
expect_status() {
    checks=$((checks + 1))
    if [ "$status" -ne "$1" ]; then
        fail "$2: expected exit status $1, got $status" \
            "(stdout: $out) (stderr: $err)"
    fi
}

# expect_in TEXT NEEDLE WHAT: TEXT contains NEEDLE.
expect_in() {
    checks=$((checks + 1))
    case "$1" in
    *"$2"*) ;;
    *) fail "$3: expected to find \"$2\" in: $1" ;;
    esac
}

# expect_not_in TEXT NEEDLE WHAT: TEXT does not contain NEEDLE.
expect_not_in() {
    checks=$((checks + 1))
    case "$1" in
    *"$2"*) fail "$3: expected no \"$2\" in: $1" ;;
    *) ;;
    esac
}

# expect_line REGEX WHAT: some line of $out matches the extended REGEX.
expect_line() {
    checks=$((checks + 1))
    if ! grep -Eq -- "$1" <<<"$out"; then
        fail "$2: expected a line matching /$1/ in: $out"
    fi
}

# expect_json PYTHON_EXPR WHAT: $out is JSON and the expression over it
# (bound to d) is true.
expect_json() {
    checks=$((checks + 1))
    if ! python3 -c 'import json, sys
d = json.loads(sys.stdin.read())
sys.exit(0 if eval(sys.argv[1]) else 1)' "$1" <<<"$out" 2>/dev/null; then
        fail "$2: expected JSON where $1, got: $out"
    fi
}

# json_value PYTHON_EXPR: prints the expression over $out (bound to d).
json_value() {
    python3 -c 'import json, sys
d = json.loads(sys.stdin.read())
print(eval(sys.argv[1]))' "$1" <<<"$out"
}

# --- publish, list, audit, show -------------------------------------

pubq publish --text hello --platform outbox --id post-1
expect_status 0 "publish to outbox"
expect_in "$out" "post-1" "publish prints the content id"
expect_line '^[0-9]+ +[0-9]+ +post-1 +outbox +pending' \
    "publish prints its pending entry"

pubq list
expect_status 0 "list after publish"
expect_line '^ID +JOB +CONTENT +PLATFORM +STATUS' "list prints a header"
expect_line '^[0-9]+ +[0-9]+ +post-1 +outbox +pending +0 / 3 ' \
    "list shows one pending outbox entry with retries 0 / 3"
rows=$(grep -Ec '^[0-9]+ ' <<<"$out" || true)
checks=$((checks + 1))
[ "$rows" -eq 1 ] || fail "list: expected 1 entry row, got $rows: $out"

pubq list --json
expect_status 0 "list --json"
expect_json 'len(d) == 1' "list --json returns one entry"
expect_json 'd[0]["status"] == "pending" and d[0]["platform"] == "outbox"' \
    "list --json entry is a pending outbox entry"
expect_json 'd[0]["content_id"] == "post-1" and d[0]["retry_count"] == 0' \
    "list --json entry carries content id and retry count"
expect_json 'd[0]["scheduled_at"].endswith("Z")' \
    "list --json times are RFC 3339 UTC"
entry=$(json_value 'd[0]["id"]')

pubq --json list
expect_json 'len(d) == 1' "global --json before the command"

pubq audit
expect_status 0 "audit"
expect_line 'accepted' "audit shows the intake accepted record"
expect_in "$out" "post-1" "audit record names the content id"

pubq audit --json --action accepted --job post-1
expect_status 0 "audit --json with filters"
expect_json 'len(d) == 1 and d[0]["action"] == "accepted"' \
    "audit --json returns the accepted record of post-1"
expect_json 'd[0]["job_id"] == "post-1"' "accepted record job_id"

pubq audit --action nosuch
expect_status 2 "audit with an unknown action"
expect_in "$err" "invalid --action: nosuch; use one of accepted, publish," \
    "an unknown action is named with the valid ones"
expect_in "$err" "mark_published" "the valid actions include mark_published"

pubq audit --json --action mark_published
expect_status 0 "audit with a known action that matches nothing"
expect_json 'd == []' "no entry was marked published"

pubq audit --json --job no-such-content
expect_json 'd == []' "audit filter by another content id matches nothing"

pubq audit --since 2000-01-01T00:00:00Z --until 2000-01-02T00:00:00Z
expect_status 0 "audit with a time range"
expect_in "$out" "no audit records" "audit range in 2000 is empty"

pubq show "$entry"
expect_status 0 "show"
expect_line "^entry $entry\$" "show prints the entry id"
expect_line '^ +status +pending$' "show prints the status"
expect_line '^ +text +hello$' "show prints the content text"
expect_in "$out" "attempts" "show prints the attempt history"

pubq show "$entry" --json
expect_status 0 "show --json"
expect_json "d['id'] == $entry and d['status'] == 'pending'" \
    "show --json is the entry object"
expect_json 'd["content"]["text"] == "hello" and d["attempts"] == []' \
    "show --json carries content and attempts"

pubq show 999999
expect_status 1 "show of a missing entry"
expect_in "$err" "pubq: entry not found: 999999" "show names the missing id"

# --- retry and cancel --------------------------------------------------

pubq retry "$entry"
expect_status 1 "retry of a pending entry"
expect_in "$err" \
    "pubq: cannot retry entry $entry: it is pending; only failed entries can be retried" \
    "retry explains why it refused"

pubq cancel "$entry"
expect_status 0 "cancel of a pending entry"
expect_in "$out" "cancelled" "cancel reports the new status"

pubq list --status cancelled --json
expect_json "len(d) == 1 and d[0]['id'] == $entry" \
    "list --status cancelled shows the cancelled entry"
expect_json 'd[0]["status"] == "cancelled"' "entry status is cancelled"

pubq list --status pending --json
expect_json 'd == []' "no pending entry remains after cancel"

pubq cancel "$entry"
expect_status 1 "second cancel"
expect_in "$err" "cannot cancel entry $entry: it is cancelled" \
    "second cancel explains the state"

pubq audit --json --action cancel
expect_status 0 "audit of cancel records"
expect_json 'len(d) == 1' "cancel wrote one audit record"

# --- publish options ---------------------------------------------------

printf 'from a file\n' >"$work/post.txt"
pubq publish --file "$work/post.txt" --platform outbox --platform social \
    --id post-2 --title "A title" --link https://example.com/post-2 \
    --at 2030-01-01T10:00:00+01:00 --json
expect_status 0 "publish --file to two platforms"
expect_json 'len(d["entries"]) == 2 and d["duplicate"] is False' \
    "publish --json lists two entries"
expect_json 'all(e["scheduled_at"] == "2030-01-01T09:00:00.000Z" for e in d["entries"])' \
    "--at with an offset is stored as UTC"
entry2=$(json_value 'd["entries"][0]["id"]')

pubq show "$entry2" --json
expect_json 'd["content"]["text"] == "from a file"' \
    "--file text loses its trailing newline"
expect_json 'd["content"]["title"] == "A title"' "--title is stored"
expect_json 'd["content"]["link"] == "https://example.com/post-2"' \
    "--link is stored"

set +e
printf 'from stdin' | "$PUBQ_BIN" --config "$work/pubq.conf" publish \
    --file - --platform outbox --id post-3 >/dev/null 2>&1
status=$?
set -e
expect_status 0 "publish --file - reads standard input"
pubq list --content-id post-3 --json
expect_json 'len(d) == 1' "stdin publish stored one entry"

pubq publish --text once --platform outbox --event-id evt-1 --id post-4
expect_status 0 "publish with an event id"
pubq publish --text once --platform outbox --event-id evt-1 --id post-4
expect_status 0 "publish with a repeated event id"
expect_in "$out" "seen before" "repeated event id creates nothing"
pubq list --content-id post-4 --json
expect_json 'len(d) == 1' "repeated event id stored one entry only"

pubq publish --text generated --platform outbox --json
expect_status 0 "publish without --id"
expect_json 'd["content_id"].startswith("cli-")' \
    "a generated content id starts with cli-"

# --- validation rejects and stores nothing ------------------------------

before=$(
    pubq list --json --limit 1000
    json_value 'len(d)'
)

pubq publish --text hello --platform nosuch
expect_status 1 "unknown platform"
expect_in "$err" 'unknown platform "nosuch"' "unknown platform named"
expect_in "$err" "--platform" "unknown platform error names the option"

long_id=$(printf 'a%.0s' $(seq 201))
pubq publish --text hello --platform outbox --id "$long_id"
expect_status 1 "publish with a 201-byte --id"
expect_in "$err" "pubq: --id is 201 bytes; use 1 to 200 bytes" \
    "a long --id is named by its option"
expect_not_in "$err" "contentItemId" "a long --id names no JSON field"

pubq publish --text "" --platform outbox
expect_status 1 "publish with an empty --text"
expect_in "$err" "--text: empty text; pass the text to publish" \
    "an empty --text names the fix"
expect_not_in "$err" "media" "the fix names no option the CLI lacks"

pubq publish --text "   " --platform outbox
expect_status 1 "publish with a --text of spaces"
expect_in "$err" "--text: empty text; pass the text to publish" \
    "a --text of spaces is empty text"

: >"$work/empty.txt"
pubq publish --file "$work/empty.txt" --platform outbox
expect_status 1 "publish with an empty --file"
expect_in "$err" "--file: $work/empty.txt is empty" "an empty --file is named"

printf ' \n\t\n' >"$work/blank.txt"
pubq publish --file "$work/blank.txt" --platform outbox
expect_status 1 "publish with a --file of whitespace"
expect_in "$err" "--file: $work/blank.txt is empty or contains only whitespace" \
    "a --file of whitespace is named"

pubq publish --text hello --platform outbox --at 2026-02-30T10:00:00Z
expect_status 1 "impossible date in --at"
expect_in "$err" "2026-02-30T10:00:00Z" "--at error names the value"

pubq publish --text hello --platform outbox --at 2026-12-05T09:00:00
expect_status 1 "naive --at without default_zone"
expect_in "$err" "--at" "naive --at error names the option"

pubq publish --text hello --platform outbox --platform outbox
expect_status 1 "duplicate platform"
expect_in "$err" "appears twice" "duplicate platform explained"

long=$(printf 'x%.0s' $(seq 1 501))
pubq publish --text "$long" --platform outbox --platform social
expect_status 1 "text over the Mastodon limit"
expect_in "$err" "social" "length error names the platform"

printf 'bad \xff byte' >"$work/latin1.txt"
pubq publish --file "$work/latin1.txt" --platform outbox
expect_status 1 "invalid UTF-8 in --file"
expect_in "$err" "UTF-8" "invalid UTF-8 explained"

pubq list --json --limit 1000
expect_json "len(d) == $before" "rejected publishes stored nothing"

# --- usage errors exit 2 ----------------------------------------------

usage_case() {
    local what=$1
    shift
    pubq "$@"
    expect_status 2 "$what"
    expect_in "$err" "pubq: " "$what: error starts with pubq:"
    expect_in "$err" "--help" "$what: error points to --help"
}

usage_case "unknown command" frobnicate
usage_case "no command"
usage_case "missing --platform" publish --text hello
usage_case "missing --text" publish --platform outbox
usage_case "--text and --file" publish --text a --file b --platform outbox
usage_case "--limit abc" list --limit abc
usage_case "--limit 0" list --limit 0
usage_case "--limit too large" list --limit 1001
usage_case "unknown option" list --bogus
usage_case "missing option value" list --status
usage_case "bad status" list --status done
usage_case "bad --before" list --before -3
usage_case "show without id" show
usage_case "show with a bad id" show abc
usage_case "retry with two ids" retry 1 2
usage_case "audit bad --since" audit --since yesterday
usage_case "audit --until before --since" audit \
    --since 2026-01-02T00:00:00Z --until 2026-01-01T00:00:00Z
usage_case "import without file" import
usage_case "unknown global option" --frob list
pubq list --limit abc
expect_in "$err" "abc" "--limit error names the value"

# repeat_case OPTION ARGS...: an option that takes one value, given
# twice, is a usage error that names it; nothing is stored.
repeat_case() {
    local option=$1
    shift
    usage_case "$option twice" "$@"
    expect_in "$err" "$option given twice" "$option twice named"
}

entries_before=$(
    pubq list --json --limit 1000
    json_value 'len(d)'
)
repeat_case --text publish --text x --text y --platform outbox
repeat_case --file publish --file a --file b --platform outbox
repeat_case --at publish --text x --platform outbox \
    --at 2026-12-05T09:00:00Z --at 2026-12-06T09:00:00Z
repeat_case --id publish --text x --platform outbox --id a --id b
repeat_case --title publish --text x --platform outbox --title a --title b
repeat_case --link publish --text x --platform outbox \
    --link https://a.example --link https://b.example
repeat_case --event-id publish --text x --platform outbox \
    --event-id a --event-id b
repeat_case --status list --status failed --status pending
repeat_case --limit list --limit 1 --limit 2
repeat_case --platform list --platform outbox --platform social
repeat_case --since audit --since 2026-01-01T00:00:00Z \
    --since 2026-01-02T00:00:00Z
repeat_case --job audit --job 1 --job 2
repeat_case --database --database a.db --database b.db list
pubq list --json --limit 1000
expect_json "len(d) == $entries_before" "repeated options stored nothing"

# Bidi controls and other format characters in an id would show it
# reversed or hide part of it on the page and in tables.
pubq publish --text x --platform outbox --id $'post\u202e1'
expect_status 1 "content id with U+202E"
expect_in "$err" "U+202E" "bidi control in --id named"
pubq publish --text x --platform outbox --event-id $'evt\u2066'
expect_status 1 "event id with U+2066"
expect_in "$err" "U+2066" "bidi isolate in --event-id named"

# --- import ------------------------------------------------------------

cat >"$work/calendar.csv" <<'EOF'
id,text,platforms,at
cal-1,First post,outbox,2030-02-01T09:00:00Z
cal-2,"Second, with comma",outbox;social,
EOF

cat >"$work/calendar.jsonl" <<'EOF'
{"contentItemId": "line-1", "platforms": ["outbox"], "content": {"text": "one"}}
{"contentItemId": "line-2", "platforms": ["outbox", "social"], "scheduledAt": "2030-03-01T09:00:00Z", "content": {"text": "two"}}
EOF

cat >"$work/bad.jsonl" <<'EOF'
{"contentItemId": "bad-1", "platforms": ["outbox"], "content": {"text": "ok"}}
{"contentItemId": "bad-2", "platforms": ["nosuch"], "content": {"text": "no"}}
EOF

pubq import "$work/calendar.csv" --dry-run
expect_status 0 "import --dry-run"
expect_in "$out" "2 jobs" "dry run counts the rows"
pubq list --content-id cal-1 --json
expect_json 'd == []' "dry run stored nothing"

pubq import "$work/calendar.csv"
expect_status 0 "import CSV"
expect_in "$out" "imported 2 jobs with 3 entries" "CSV import counts"
pubq list --content-id cal-2 --json
expect_json 'len(d) == 2' "CSV row with two platforms made two entries"
pubq list --content-id cal-1 --json
expect_json 'd[0]["scheduled_at"] == "2030-02-01T09:00:00.000Z"' \
    "CSV scheduled time stored"

pubq import "$work/calendar.jsonl" --json
expect_status 0 "import JSON Lines"
expect_json 'd["jobs"] == 2 and d["entries"] == 3 and d["stored"]' \
    "JSON Lines import counts"

before=$(
    pubq list --json --limit 1000
    json_value 'len(d)'
)
pubq import "$work/bad.jsonl"
expect_status 1 "import with a bad row"
expect_in "$err" "2" "bad row error names the row"
expect_in "$err" "nosuch" "bad row error names the value"
expect_in "$err" "nothing was stored" "bad row error says nothing stored"
pubq list --json --limit 1000
expect_json "len(d) == $before" "import with a bad row stored nothing"

printf 'id,text,platforms,at\ncal-9,x,outbox,2026-02-30T10:00:00Z\n' \
    >"$work/bad-at.csv"
pubq import "$work/bad-at.csv"
expect_status 1 "import with a bad at column"
expect_in "$err" "line 2: at: invalid timestamp" \
    "a CSV error names the column"
expect_not_in "$err" "scheduledAt" "a CSV error names no JSON field"

pubq import "$work/no-such-file.csv"
expect_status 1 "import of a missing file"

# A calendar larger than the HTTP body limit: the local import reads
# the file itself, so only the import limits apply.
sed 's/^\[database\]$/[server]\nmax_body_bytes = 65536\n[database]/' \
    "$work/pubq.conf" >"$work/small-body.conf"
python3 -c 'import sys
print("id,text,platforms")
for i in range(10000):
    print("big-%d,%s,outbox" % (i, "row %d " % i + "x" * 190))' \
    >"$work/big.csv"
set +e
"$PUBQ_BIN" --config "$work/small-body.conf" --database "$work/big.db" \
    import "$work/big.csv" >"$work/stdout" 2>"$work/stderr" </dev/null
status=$?
set -e
out=$(cat "$work/stdout")
err=$(cat "$work/stderr")
expect_status 0 "import of 10,000 rows (2 MB) above max_body_bytes"
expect_in "$out" "imported 10000 jobs with 10000 entries" \
    "large import stored every row"

# --- passwords in URLs --------------------------------------------------

# Nothing listens on port 1, so the error names the URL, without the
# password of its user info.
pubq --url http://user:pw-SECRET@127.0.0.1:1 list
expect_status 1 "list through an unreachable --url"
expect_in "$err" "cannot reach http://user:***@127.0.0.1:1" \
    "the unreachable URL is named"
expect_not_in "$err" "pw-SECRET" "the --url password is not shown"

pubq --url http://127.0.0.1:1/a@b list
expect_in "$err" "cannot reach http://127.0.0.1:1/a@b:" \
    "an @ in the path is not taken for user info"

# --- database selection and migrate ----------------------------------

# Commands that only read or change existing entries reject a SQLite
# file that does not exist and create nothing.
for command in "list" "show 1" "audit" "retry 1" "cancel 1" "sweep"; do
    # shellcheck disable=SC2086 # the command and its argument split
    pubq --database "$work/typo.bd" $command
    expect_status 1 "$command of a missing database"
    expect_in "$err" "database $work/typo.bd does not exist" \
        "$command names the missing database"
    expect_in "$err" "run 'pubq migrate' or 'pubq serve' to create it" \
        "$command names the fix"
    checks=$((checks + 1))
    [ ! -e "$work/typo.bd" ] || fail "$command created $work/typo.bd"
done

pubq --database "sqlite:$work/typo.bd?synchronous=full" list
expect_in "$err" "database $work/typo.bd does not exist" \
    "a sqlite: URL names the file without its query"

# A relative path in the configuration is read from the current
# directory, and the error says which one.
mkdir "$work/elsewhere"
printf '[database]\nurl = relative.db\n' >"$work/relative.conf"
set +e
(cd "$work/elsewhere" &&
    "$PUBQ_BIN" --config "$work/relative.conf" list) >"$work/stdout" \
    2>"$work/stderr" </dev/null
status=$?
set -e
err=$(cat "$work/stderr")
expect_status 1 "list with a missing relative database"
expect_in "$err" \
    "relative.db does not exist in the current directory $work/elsewhere" \
    "the error names the directory of a relative path"
expect_in "$err" "check url in [database] of $work/relative.conf" \
    "the error names the configuration key"
checks=$((checks + 1))
[ ! -e "$work/elsewhere/relative.db" ] || fail "list created relative.db"

pubq --database "" list
expect_status 1 "list with an empty --database"
expect_in "$err" "--database is empty" "an empty --database is named"
expect_not_in "$err" "set database in" "the fix names the real key"

pubq --database "$work/other.db" migrate
pubq --database "$work/other.db" list --json
expect_status 0 "--database overrides the configuration"
expect_json 'd == []' "other database starts empty"

set +e
PUBQ_DATABASE="$work/other.db" "$PUBQ_BIN" --config "$work/pubq.conf" \
    publish --text env --platform outbox >/dev/null 2>&1
set -e
pubq --database "$work/other.db" list --json
expect_json 'len(d) == 1' "PUBQ_DATABASE selects the database"

pubq migrate
expect_status 0 "migrate"
expect_in "$out" "database schema is up to date (version " \
    "migrate text output"
pubq migrate --json
expect_json 'd["database"] == "up to date" and d["schema_version"] >= 5' \
    "migrate --json reports what the text reports"

# Another application's SQLite file: rejected by name, left unchanged.
python3 -c 'import sqlite3, sys
sqlite3.connect(sys.argv[1]).execute("CREATE TABLE notes (body TEXT)")' \
    "$work/foreign.db"
pubq --database "$work/foreign.db" migrate
expect_status 1 "migrate rejects a foreign database"
expect_in "$err" "\"$work/foreign.db\" is not a pubq database" \
    "the rejection names the file"
expect_in "$err" "new or empty database file" "the rejection names the fix"
pubq --database "$work/foreign.db" list
expect_status 1 "list rejects a foreign database"
out=$(python3 -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
print(c.execute("PRAGMA journal_mode").fetchone()[0],
      ",".join(r[0] for r in c.execute("SELECT name FROM sqlite_master")))' \
    "$work/foreign.db")
expect_in "$out" "delete notes" "the foreign database kept its mode and tables"

set +e
"$PUBQ_BIN" --config "$PUBQ_SOURCE_DIR/pubq.example.conf" \
    --database "$work/example.db" publish --text hi --platform outbox \
    >"$work/stdout" 2>"$work/stderr"
status=$?
set -e
err=$(cat "$work/stderr")
expect_status 0 "publish with the example configuration"

# plain_pubq ARGS...: runs pubq without the test configuration.
plain_pubq() {
    set +e
    "$PUBQ_BIN" "$@" >"$work/stdout" 2>"$work/stderr" </dev/null
    status=$?
    set -e
    out=$(cat "$work/stdout")
    err=$(cat "$work/stderr")
}

plain_pubq --config "$work/missing.conf" list
expect_status 1 "missing configuration file"
expect_in "$err" "missing.conf" "configuration error names the file"

plain_pubq --config "$work" list
expect_status 1 "a directory as configuration file"
expect_in "$err" "is a directory" "directory named as configuration"

# --- help --------------------------------------------------------------

pubq --help
expect_status 0 "pubq --help"
for command in publish import list show retry cancel audit migrate serve \
    sweep; do
    expect_line "^  $command " "pubq --help lists $command"
done

pubq --version
expect_status 0 "pubq --version"
expect_in "$out" "pubq " "version output"

# help_case COMMAND OPTION...: the command's help exits 0, names each.
help_case() {
    local command=$1
    shift
    pubq "$command" --help
    expect_status 0 "$command --help"
    for option in "$@" --json --help; do
        expect_in "$out" "$option" "$command --help documents $option"
    done
}

help_case publish --text --file --platform --at --id --title --link \
    --event-id
help_case import --dry-run FILE
help_case list --status --platform --content-id --limit --before
help_case show ENTRY_ID
help_case retry ENTRY_ID
help_case cancel ENTRY_ID
help_case audit --job --action --platform --since --until --limit
help_case migrate
help_case serve
help_case sweep

# --json is accepted after every command name.
pubq sweep --json
expect_status 0 "sweep --json"
expect_json "d['requeued'] == 0 and d['recovered'] == 0" "sweep --json output"
pubq --json sweep
expect_status 0 "--json sweep"
expect_json "sorted(d) == ['recovered', 'requeued']" "--json sweep keys"

# Attempts still running at the end of shutdown_grace end as unknown.
pubq serve --help
expect_in "$out" "ended as unknown" "serve --help on shutdown_grace"
expect_not_in "$out" "releases the rest" "serve --help on shutdown_grace"

# The help of each command that takes --url states when the database
# is migrated.
for command in publish import list show retry cancel audit; do
    pubq "$command" --help
    expect_in "$out" "Without --url, the database is migrated first" \
        "$command --help on migrations"
done

echo "cli_roundtrip: $checks checks, $failures failed"
[ "$failures" -eq 0 ]
