#!/usr/bin/env bash
# Checks the BullMQ model against real BullMQ (npm, 6.7.6, pinned in scripts/bullmq/) on
# Debian's redis-server: each case of scripts/bullmq/cases/ runs on the real thing
# (scripts/bullmq/run-case.mjs) and in the simulator through the CLI, and
# scripts/bullmq/differential.py compares them: the order jobs are taken in and each job's queue
# events exactly, retry gaps and first starts within a stated tolerance. Redis listens on
# 127.0.0.1 only, keeps nothing on disk, and is always stopped (a trap).
#
#   scripts/check-bullmq.sh              every case but bad-input (BullMQ's refusals, which the
#                                        Rust tests check message by message)
#   scripts/check-bullmq.sh CASE.json…   these cases
set -euo pipefail
cases=()
for f in "$@"; do cases+=("$(realpath "$f")"); done
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$root"

say() { printf '[check-bullmq] %s\n' "$*" >&2; }
source scripts/bullmq/bullmq.sh
bullmq_install

if [ ${#cases[@]} -eq 0 ]; then
  for f in scripts/bullmq/cases/*.json; do
    [ "$(basename "$f")" = bad-input.json ] || cases+=("$root/$f")
  done
fi

cargo build -q -p switchboard-core --features cli
work=$(mktemp -d "${TMPDIR:-/tmp}/switchboard-check-bullmq.XXXXXX")
keep=
finish() {
  redis_stop
  if [ -n "$keep" ]; then say "kept the real runs in $work"; else rm -rf "$work"; fi
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
redis_start "$work/redis" || { keep=1; exit 1; }

failed=0
for f in "${cases[@]}"; do
  name=$(basename "$f" .json)
  say "$name"
  if ! node scripts/bullmq/run-case.mjs --port "$redis_port" --modules "$bullmq_node" "$f" \
      >"$work/$name.ndjson" 2>"$work/$name.err"; then
    # The real run's own expectations failed: the harness or BullMQ changed.
    say "the real run of $name did not meet its case's expectations:"
    cat "$work/$name.err" >&2
    failed=1; keep=1
    continue
  fi
  if ! python3 scripts/bullmq/differential.py "$root/target/debug/switchboard" "$f" "$work/$name.ndjson"; then
    failed=1; keep=1
  fi
done
[ "$failed" -eq 0 ] && say "the simulator agrees with BullMQ on ${#cases[@]} cases"
exit "$failed"
