#!/usr/bin/env bash
# The short form of tests/soak/load.sh for every test run: 200 API
# clients for 10 s after a 5 s warm-up. The 60 s run, after a 15 s
# warm-up, is part of the soak tests.
set -euo pipefail

: "${PUBQ_SOURCE_DIR:?set PUBQ_SOURCE_DIR to the source tree}"

LOAD_SECONDS=10 LOAD_WARMUP_SECONDS=5 \
    exec bash "$PUBQ_SOURCE_DIR/tests/soak/load.sh"
