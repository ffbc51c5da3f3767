# Sourced by scripts/bullmq/try.sh: real BullMQ (npm, pinned to 6.7.6, the last 6.7 patch) with
# its Redis client ioredis (6.0.0, what BullMQ 6.7.6's own tests use), installed with `npm ci`
# from scripts/bullmq/package-lock.json into .tools/bullmq-node (git-ignored), plus Debian's
# redis-server (scripts/bullmq/redis.sh). Needs node and npm; root for apt if Redis is missing.
# The caller provides `say` and has sourced scripts/env.sh ($root).
#
#   bullmq_install     installs both if missing, and again whenever package.json or the lock
#                      file change; $bullmq_node is the directory whose node_modules holds
#                      bullmq (run-case.mjs takes it as --modules)

source "$root/scripts/bullmq/redis.sh"

bullmq_node="$root/.tools/bullmq-node"

bullmq_install() {
  local src="$root/scripts/bullmq" stamp="$bullmq_node/node_modules/.switchboard-installed-lock"
  redis_install
  # The stamp (a copy of the lock file, written after a successful `npm ci`) says what is there.
  if ! cmp -s "$src/package-lock.json" "$stamp" \
     || ! cmp -s "$src/package.json" "$bullmq_node/package.json" \
     || [ ! -f "$bullmq_node/node_modules/bullmq/package.json" ]; then
    say "installing bullmq $(sed -n 's/.*"bullmq": "\(.*\)".*/\1/p' "$src/package.json") into $bullmq_node (npm ci)"
    mkdir -p "$bullmq_node"
    cp "$src/package.json" "$src/package-lock.json" "$bullmq_node/"
    # --ignore-scripts: the only install script is msgpackr-extract's optional native build
    # check; its prebuilt binary comes as a package of its own, and msgpackr works without it.
    ( cd "$bullmq_node" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >&2 ) ||
      { say "npm ci failed"; return 1; }
    cp "$src/package-lock.json" "$stamp"
  fi
}
