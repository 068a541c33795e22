#!/bin/bash
# Runs the storage contract suite against PostgreSQL: the same binary as
# the SQLite run, pointed at the server in PUBQ_TEST_PG_URL (which
# scripts/test-postgres run provides). Fails when the variable is unset,
# because a suite that silently skips would hide a broken back end.
set -euo pipefail

if [ -z "${PUBQ_TEST_PG_URL:-}" ]; then
    echo "store_contract_pg: PUBQ_TEST_PG_URL is not set; run the tests" \
        "through scripts/test-postgres run (make test does)" >&2
    exit 1
fi

binary="${PUBQ_BUILD_DIR:-$(dirname "${PUBQ_BIN:?PUBQ_BIN is not set}")}"
binary="$binary/test_store_contract"
if [ ! -x "$binary" ]; then
    echo "store_contract_pg: $binary not found; build the test_store_contract" \
        "target first" >&2
    exit 1
fi

PUBQ_TEST_DATABASE="$PUBQ_TEST_PG_URL" exec "$binary"
