#!/usr/bin/env bash
# Installs whatever is missing, then serves the playground at http://127.0.0.1:8080.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$root"
scripts/install.sh build
exec trunk serve --release "$@"
