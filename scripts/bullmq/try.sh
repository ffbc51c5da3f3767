#!/usr/bin/env bash
# Runs BullMQ cases against real BullMQ (npm, 6.7.6) on a real Redis (Debian's redis-server).
#
# Installs both if missing (scripts/bullmq/bullmq.sh: Redis with apt, needs root then; BullMQ with
# `npm ci` from scripts/bullmq/package-lock.json into .tools/bullmq-node), starts a throwaway
# Redis (scripts/bullmq/redis.sh: 127.0.0.1 only, a free port, nothing on disk), runs each case
# with scripts/bullmq/run-case.mjs, and stops Redis on exit. Each case's event lines go to
# CASE.ndjson in the work directory; its checks are printed. Prints "N passed, M failed" last;
# exits 1 on a failure and keeps its files for a look.
#
#   scripts/bullmq/try.sh              every scripts/bullmq/cases/*.json
#   scripts/bullmq/try.sh FILE...      these case files
#   KEEP=1 scripts/bullmq/try.sh       keep the work directory (events of every case) in any case
set -euo pipefail
files=()
for f in "$@"; do files+=("$(realpath "$f")"); done
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
cd "$root"

say() { printf '[bullmq] %s\n' "$*" >&2; }
source scripts/bullmq/bullmq.sh

started=$SECONDS
bullmq_install
say "install checked in $((SECONDS - started)) s"

if [ ${#files[@]} -eq 0 ]; then
  files=("$root"/scripts/bullmq/cases/*.json)
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/switchboard-bullmq.XXXXXX")
keep_work=${KEEP:-}
finish() {
  redis_stop
  if [ -n "$keep_work" ]; then
    say "kept Redis's log and each case's events in $work"
  else
    rm -rf "$work"
  fi
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

redis_start "$work/redis" || { keep_work=1; exit 1; }
say "bullmq $(node -p "require('$bullmq_node/node_modules/bullmq/package.json').version"), node $(node --version)"

passed=0
failed=0
for f in "${files[@]}"; do
  name=$(basename "$f" .json)
  t=$SECONDS
  if node scripts/bullmq/run-case.mjs --port "$redis_port" --modules "$bullmq_node" "$f" \
       >"$work/$name.ndjson" 2>"$work/$name.err"; then
    echo "ok   $name ($((SECONDS - t)) s)"
    passed=$((passed + 1))
  else
    echo "FAIL $name:"
    failed=$((failed + 1)); keep_work=1
    cat "$work/$name.err"
  fi
  # The checks, and the summary's measured times, one line each.
  python3 - "$work/$name.ndjson" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    if "check" in d:
        mark = "ok" if d["ok"] else "FAIL"
        got = d.get("got", d.get("errors"))
        print(f"     {mark:4} {d['check']}: {json.dumps(got)}")
    elif "summary" in d:
        s = d["summary"]
        print(f"     order: {' '.join(s['order'])}")
        print(f"     first starts (ms): {s['firstActiveMs']}")
        for name, j in s["jobs"].items():
            if j["gapsMs"]:
                print(f"     {name}: retry gaps after each failure (ms): {j['gapsMs']}")
EOF
done

redis_stop
say "done in $((SECONDS - started)) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
