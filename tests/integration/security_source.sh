#!/usr/bin/env bash
# Source checks for two security rules:
#
#   1. No SQL is built at run time: tests/support/check_sql_source.py
#      reads src/store and fails on printf-built SQL, concatenation into
#      SQL buffers, or SQL passed from anything but a constant. The
#      checker itself is tried on a sample with one violation of each
#      kind (it must report every one) and on a sample with a column
#      macro joined at compile time (it must pass).
#   2. The API token is compared in constant time: no strcmp, strncmp,
#      memcmp, strcasecmp or bcmp in src/http or src/cli takes an
#      argument that mentions a token, and http_auth.c compares with
#      CRYPTO_memcmp.
set -euo pipefail

: "${PUBQ_SOURCE_DIR:?set PUBQ_SOURCE_DIR to the source tree}"

checker="$PUBQ_SOURCE_DIR/tests/support/check_sql_source.py"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

python3 "$checker" "$PUBQ_SOURCE_DIR/src/store" ||
    fail "SQL built at run time in src/store (list above)"

mkdir "$work/bad" "$work/good"
cat >"$work/bad/bad.c" <<'EOF'
static int list(struct sqlite_store *s, const char *status, sqlite3 *db)
{
    char sql[256];
    char *query = sqlite3_mprintf("SELECT * FROM entries WHERE id = %d", 1);
    char buffer[64];

    snprintf(sql, sizeof sql, "SELECT id FROM entries WHERE status = '%s'",
             status);
    strcat(query, status);
    sqlite3_prepare_v2(db, buffer, -1, &stmt, NULL);
    PQexec(conn, make_query(status));
    return 0;
}
EOF
python3 "$checker" "$work/bad" >"$work/bad.out" || true
for what in "builds SQL with a printf function" "formats SQL with snprintf" \
    "concatenates into an SQL buffer" "SQL in a non-const variable" \
    "sqlite3_prepare_v2 runs SQL from 'buffer'" "PQexec runs SQL"; do
    grep -q "$what" "$work/bad.out" ||
        fail "the SQL checker missed \"$what\" in its bad sample"
done

cat >"$work/good/good.c" <<'EOF'
#define ENTRY_COLUMNS "id, status, platform"
static int get(struct sqlite_store *s, int64_t id)
{
    static const char sql[] =
        "SELECT " ENTRY_COLUMNS " FROM entries WHERE id = ?1";
    sqlite3_stmt *stmt = sqlite_stmt(s, STMT_ENTRY_GET, sql, "get entry");
    char message[128];

    snprintf(message, sizeof message, "entry %lld not found", (long long)id);
    sqlite3_prepare_v2(s->db, "SELECT 1", -1, &stmt, NULL);
    return sqlite3_bind_int64(stmt, 1, id);
}
EOF
python3 "$checker" "$work/good" >"$work/good.out" ||
    fail "the SQL checker rejects constant SQL: $(cat "$work/good.out")"

# Any comparison function with "token" in its arguments, on one line.
if grep -nEi '\b(strn?cmp|memcmp|strn?casecmp|bcmp)\s*\([^;]*token' \
    "$PUBQ_SOURCE_DIR"/src/http/*.c "$PUBQ_SOURCE_DIR"/src/cli/*.c; then
    fail "a token is compared with a function that stops at the first" \
        "difference (lines above); use http_auth_token_equals"
fi
grep -q 'CRYPTO_memcmp' "$PUBQ_SOURCE_DIR/src/http/http_auth.c" ||
    fail "http_auth.c does not compare the token with CRYPTO_memcmp"

if [ "$failures" -gt 0 ]; then
    exit 1
fi
echo "security_source: src/store builds no SQL at run time;" \
    "tokens are compared in constant time"
