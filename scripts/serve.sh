#!/usr/bin/env bash
# Installs whatever is missing, then serves the playground at http://127.0.0.1:8080.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
scripts/install.sh build
export PATH="$HOME/.cargo/bin:$root/.tools/node_modules/.bin:$PATH"
exec trunk serve --release "$@"
