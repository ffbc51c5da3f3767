#!/usr/bin/env bash
# Installs whatever is missing (Chromium, ChromeDriver, RabbitMQ and kafka-python included), then runs every
# test: native suites (the conformance cases of conformance/*.json against their recorded
# observations among them), the CLI, the Kafka partitioner and assignors against kafka-python, our
# definitions.json and the conformance cases
# (conformance/amqp.json) against a real RabbitMQ, wasm tests in headless Chromium, and
# end-to-end tests of the built page.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$root"
scripts/install.sh test
export WASM_BINDGEN_TEST_TIMEOUT=120

section() { printf '\n==== %s\n' "$*"; }

section "formatting (cargo fmt --check)"
cargo fmt --all -- --check

section "lints (cargo clippy, warnings are errors; core denies wildcard arms over enums)"
cargo clippy --workspace --all-targets -- -D warnings
# The embed player is the web crate without its `editor` feature, for wasm: linted as built.
cargo clippy -p switchboard-web --target wasm32-unknown-unknown --no-default-features --lib --bins -- -D warnings

section "native tests (core, CLI, web view-model)"
cargo test --workspace --features switchboard-core/cli

# The CLI the broker checks and the end-to-end tests use.
cargo build -q -p switchboard-core --features cli

section "definitions.json against a real RabbitMQ"
scripts/check-rabbitmq.sh

section "Kafka: the partitioner and the range and round-robin assignors against kafka-python"
scripts/check-kafka.sh

section "BullMQ: the same cases on real BullMQ and Redis and in the simulator"
scripts/check-bullmq.sh

section "conformance: the same cases in the simulator and in a real RabbitMQ"
# The cases are conformance/amqp.json; a case whose recorded observations (which the native
# suite checks the simulator against) are not the broker's fails too. The broker is Debian's
# 3.10; --accept-known lets through only the differences each case lists as changed in
# RabbitMQ 4 (the model's version), and only on a 3.x broker.
scripts/check-conformance.sh --accept-known

section "wasm tests in headless Chromium (every example's trace hash against the golden file)"
cargo test -p switchboard-core --target wasm32-unknown-unknown --test wasm_determinism

section "build the site (the editor and the embed player)"
trunk build --release

section "end-to-end tests in headless Chromium, and each build's size against its ceiling"
node --test tests/e2e/
