#!/usr/bin/env bash
# tests/integration/load_short.sh on the optimised build, where the RSS
# bound applies: 200 API clients for 10 s after a 20 s warm-up. make test
# builds ./build and names its binary in PUBQ_OPTIMISED_BIN; without it
# the test is skipped (exit 77).
set -euo pipefail

: "${PUBQ_SOURCE_DIR:?set PUBQ_SOURCE_DIR to the source tree}"

if [ ! -x "${PUBQ_OPTIMISED_BIN:-}" ]; then
    echo "skipped: PUBQ_OPTIMISED_BIN does not name an optimised pubq" \
        "binary; make test sets it" >&2
    exit 77
fi

PUBQ_BIN=$PUBQ_OPTIMISED_BIN LOAD_SECONDS=10 LOAD_WARMUP_SECONDS=20 \
    exec bash "$PUBQ_SOURCE_DIR/tests/soak/load.sh"
