#!/usr/bin/env bash
# Installs whatever Switchboard needs that this machine lacks. Idempotent: a second run only checks.
#
#   scripts/install.sh build   toolchain to build and serve the playground
#   scripts/install.sh test    the above, plus Chromium, ChromeDriver, the e2e test deps,
#                              RabbitMQ (for scripts/check-rabbitmq.sh) and Redis (for
#                              scripts/check-bullmq.sh)
#
# Toolchain facts verified on this kind of machine (Debian 12, rustup Rust 1.95, Node 20, root):
# - trunk 0.22 needs rustc >= 1.96.1, so trunk is pinned to 0.21.14 (installed --locked, ~8 min).
# - wasm-bindgen-cli 0.2.130 installs only *without* --locked (the lock names a crate version the
#   registry here lacks). The `wasm-bindgen` crate is pinned to the same exact version.
# - Debian's binaryen 108 cannot parse what rustc 1.95 emits; npm's binaryen@132 ships a working
#   wasm-opt. Trunk.toml pins version_132 and `offline = true`, so trunk uses the tools on PATH.
# - Debian's chromium + chromium-driver (156) work headless as root with --no-sandbox.
# - The e2e tests' npm packages are exact versions in tests/e2e/package.json and its lock file:
#   playwright-core 1.65.1 (drives Debian's chromium, downloads no browser) and axe-core 4.14.1
#   (the accessibility checks); `npm ci` reinstalls them when the lock file changes.
# - kafka-python 3.0.12 (pip, pinned) goes into .tools/kafka-venv, installed by
#   scripts/check-kafka.sh on first use: the Kafka model's partitioner and assignors are checked
#   against its own (pure functions; no Kafka broker is needed for them).
# - Debian's rabbitmq-server is 3.10.8 (~25 s to install). Without systemd its packaged service
#   is not started (policy-rc.d); scripts/check-rabbitmq.sh runs a broker of its own.
# - Debian's redis-server is 7.0.15 (~5 s to install); scripts/check-bullmq.sh runs a server of
#   its own on 127.0.0.1 (--hz 100, nothing on disk). BullMQ 6.7.6 and ioredis 6.0.0 (npm,
#   exact in scripts/bullmq/package-lock.json) go into .tools/bullmq-node, installed by
#   scripts/check-bullmq.sh on first use (scripts/bullmq/bullmq.sh).
set -euo pipefail

TRUNK_VERSION=0.21.14
WASM_BINDGEN_VERSION=0.2.130
BINARYEN_VERSION=132

mode=${1:-build}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools="$root/.tools"
mkdir -p "$tools"
export PATH="$HOME/.cargo/bin:$tools/node_modules/.bin:$PATH"

say() { printf '[install] %s\n' "$*" >&2; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

# rustfmt and clippy: the test command checks formatting and lints (both ship with the
# toolchain's rustup profile, but a minimal profile leaves them out).
for component in rustfmt clippy; do
  if ! rustup component list --installed | grep -q "^$component"; then
    say "adding rust component $component"
    rustup component add "$component"
  fi
done

if ! trunk --version 2>/dev/null | grep -q " $TRUNK_VERSION\$"; then
  say "installing trunk $TRUNK_VERSION (takes ~8 minutes on 2 cores)"
  cargo install trunk --version "$TRUNK_VERSION" --locked
fi

if ! wasm-bindgen --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION\$"; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

if ! "$tools/node_modules/.bin/wasm-opt" --version 2>/dev/null | grep -q "version $BINARYEN_VERSION"; then
  say "installing wasm-opt from npm binaryen@$BINARYEN_VERSION into .tools/"
  ( cd "$tools"
    [ -f package.json ] || echo '{"private":true}' > package.json
    npm install --no-audit --no-fund --save-exact "binaryen@$BINARYEN_VERSION" )
fi

if [ "$mode" = test ]; then
  if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    say "installing Debian's chromium and chromium-driver"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium chromium-driver >/dev/null
  fi
  if [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
    say "installing Debian's rabbitmq-server"
    export DEBIAN_FRONTEND=noninteractive
    apt-cache show rabbitmq-server >/dev/null 2>&1 || apt-get update -qq
    apt-get install -y -qq rabbitmq-server >/dev/null
  fi
  if ! command -v redis-server >/dev/null; then
    say "installing Debian's redis-server"
    export DEBIAN_FRONTEND=noninteractive
    apt-cache show redis-server >/dev/null 2>&1 || apt-get update -qq
    apt-get install -y -qq redis-server >/dev/null
  fi
  # npm ci again whenever the lock file is newer than what was installed from it (a dependency
  # added or bumped), not only when node_modules is missing.
  e2e="$root/tests/e2e"
  if [ ! -f "$e2e/node_modules/.package-lock.json" ] || [ "$e2e/package-lock.json" -nt "$e2e/node_modules/.package-lock.json" ] \
     || [ ! -d "$e2e/node_modules/playwright-core" ] || [ ! -d "$e2e/node_modules/axe-core" ]; then
    say "installing the end-to-end test dependencies (playwright-core driving Debian's chromium, axe-core)"
    ( cd "$e2e" && npm ci --no-audit --no-fund )
  fi
fi
say "toolchain ready"
