#!/usr/bin/env bash
# The short form of tests/soak/kill9_chaos.sh for every test run: 200
# entries and 3 kills -9 of the daemon at random points. The full run
# (2000 entries, 20 kills) is part of the soak tests.
set -euo pipefail

: "${PUBQ_SOURCE_DIR:?set PUBQ_SOURCE_DIR to the source tree}"

CHAOS_ENTRIES=200 CHAOS_KILLS=3 \
    exec bash "$PUBQ_SOURCE_DIR/tests/soak/kill9_chaos.sh"
