#!/usr/bin/env bash
# The kernel benchmark's workload compiled to wasm (release) and run in headless Chromium.
# Prints median events per second per chain length. A benchmark, not a test: it asserts nothing.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$root"
scripts/install.sh test
export WASM_BINDGEN_TEST_TIMEOUT=600
cargo test --release -p switchboard-core --target wasm32-unknown-unknown --test wasm_bench -- --nocapture 2>&1 \
  | grep -E 'kernel_chain|http_metastable|test result'
