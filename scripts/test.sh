#!/usr/bin/env bash
# Installs whatever is missing (Chromium, ChromeDriver and RabbitMQ included), then runs every
# test: native suites, the CLI, our definitions.json and conformance cases against a real
# RabbitMQ, wasm tests in headless Chromium, and end-to-end tests of the built page.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$root"
scripts/install.sh test
export WASM_BINDGEN_TEST_TIMEOUT=120

section() { printf '\n==== %s\n' "$*"; }

section "formatting (cargo fmt --check)"
cargo fmt --all -- --check

section "native tests (core, CLI, web view-model)"
cargo test --workspace --features switchboard-core/cli

section "native trace hashes of the examples (for the wasm comparison)"
cargo build -q -p switchboard-core --features cli
hashes=()
# Keep this list in step with EXAMPLES in core/tests/wasm_determinism.rs.
for f in hello.json relay-chain.json crash-restart.json amqp-dead-letter.json amqp-quorum-delivery-limit.json amqp-prefetch-round-robin.json amqp-consumer-crash.json amqp-exchange-types.json amqp-ttl.json; do
  h=$(target/debug/switchboard run "docs/examples/$f" --until 30s | sed -n 's/.*"trace_hash": "\([0-9a-f]*\)".*/\1/p')
  [ -n "$h" ] || { echo "no trace hash for $f" >&2; exit 1; }
  echo "$f $h"
  hashes+=("$f=$h")
done
SWITCHBOARD_NATIVE_TRACE_HASHES=$(IFS=,; echo "${hashes[*]}")
export SWITCHBOARD_NATIVE_TRACE_HASHES

section "definitions.json against a real RabbitMQ"
scripts/check-rabbitmq.sh

section "conformance: the same cases in the simulator and in a real RabbitMQ"
# The broker is Debian's 3.10; --accept-known lets through only the differences each case lists
# as changed in RabbitMQ 4 (the model's version), and only on a 3.x broker.
scripts/check-conformance.sh --accept-known

section "wasm tests in headless Chromium"
cargo test -p switchboard-core --target wasm32-unknown-unknown --test wasm_determinism

section "build the site"
trunk build --release

section "end-to-end tests in headless Chromium"
node --test tests/e2e/
