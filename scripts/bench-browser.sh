#!/usr/bin/env bash
# The browser benchmark (tests/e2e/bench.mjs) against the release page: first render, frame
# times with ~2,000 messages in flight on 50 nodes, seek over a 10-minute run, page weight.
# A benchmark, not a test: it asserts nothing. Record its table in docs/performance.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$root"
scripts/install.sh test
trunk build --release
node tests/e2e/bench.mjs
