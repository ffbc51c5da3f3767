#!/usr/bin/env bash
# Checks our RabbitMQ definitions.json against a real broker (Debian's rabbitmq-server, 3.10).
#
# For every docs/examples/*.json, and scripts/rabbitmq/every-argument.json (every argument and
# binding argument type the model has):
#   1. `switchboard export-definitions` writes its definitions.json;
#   2. `rabbitmqctl import_definitions` must accept it, and the broker must then hold exactly
#      those exchanges, queues and bindings, with the same argument values and types
#      (`rabbitmqctl list_*`, compared by scripts/rabbitmq/compare-definitions.py broker);
#   3. the broker's own `rabbitmqctl export_definitions` must go through
#      `switchboard import-definitions` (which reports users, permissions… as not imported) and
#      back through `export-definitions` to the same objects (compare-definitions.py roundtrip).
# The broker's virtual host is deleted between examples. An example whose definitions are the
# same as an earlier one's (those without exchanges or queues) is not sent again.
# Prints "N passed, M failed" last; exits 1 on a failure and keeps its files for a look.
#
# The broker (scripts/rabbitmq/broker.sh) runs as this user, listens on 127.0.0.1 only (AMQP,
# distribution and its own epmd, on free ports), keeps its data in a temporary directory, and is
# stopped on exit.
# Installs rabbitmq-server with apt if it is missing (needs root then). Needs python3.
#
#   scripts/check-rabbitmq.sh              every example
#   scripts/check-rabbitmq.sh FILE...      these scenario files
set -euo pipefail
files=()
for f in "$@"; do files+=("$(realpath "$f")"); done
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$root"

say() { printf '[check-rabbitmq] %s\n' "$*" >&2; }
source scripts/rabbitmq/broker.sh
broker_install
pika_install

cargo build -q -p switchboard-core --features cli
switchboard="$root/target/debug/switchboard"
compare=(python3 "$root/scripts/rabbitmq/compare-definitions.py")

if [ ${#files[@]} -gt 0 ]; then
  examples=("${files[@]}")
else
  examples=(docs/examples/*.json scripts/rabbitmq/every-argument.json scripts/rabbitmq/policies.json)
fi

broker_session rabbitmq "the broker's files and each example's output"

# Empties the broker by deleting the default virtual host: our definitions declare it again
# (`"vhosts": [{"name": "/"}]`), so the next import also checks that part.
reset_broker() {
  rabbitmqctl delete_vhost -q / >"$work/reset.log" 2>&1 || { cat "$work/reset.log"; return 1; }
}

# Checks one scenario file $1 in directory $2; says what is wrong on stdout and returns 1 if
# anything is. Notes go to $2/notes.txt.
check_one() {
  local f=$1 d=$2
  if ! "$switchboard" export-definitions "$f" >"$d/ours.json" 2>"$d/left-out.txt"; then
    echo "export-definitions failed:"; cat "$d/left-out.txt"; return 1
  fi
  if ! rabbitmqctl import_definitions "$d/ours.json" >"$d/import.log" 2>&1; then
    echo "the broker refused our definitions:"; cat "$d/import.log"; return 1
  fi
  # Four CLI calls at once: each spends about a second starting its VM.
  local pids=() p failed=
  rabbitmqctl list_exchanges -q --formatter json name type durable auto_delete internal arguments >"$d/exchanges.json" 2>"$d/list.log" & pids+=($!)
  rabbitmqctl list_queues -q --formatter json name durable auto_delete arguments >"$d/queues.json" 2>>"$d/list.log" & pids+=($!)
  rabbitmqctl list_bindings -q --formatter json source_name destination_name destination_kind routing_key arguments >"$d/bindings.json" 2>>"$d/list.log" & pids+=($!)
  rabbitmqctl export_definitions -q "$d/broker.json" >>"$d/list.log" 2>&1 & pids+=($!)
  rabbitmqctl list_policies -q --formatter json >"$d/policies.json" 2>>"$d/list.log" & pids+=($!)
  rabbitmqctl list_operator_policies -q --formatter json >"$d/op-policies.json" 2>>"$d/list.log" & pids+=($!)
  rabbitmqctl list_queues -q --formatter json name policy >"$d/applied-q.json" 2>>"$d/list.log" & pids+=($!)
  rabbitmqctl list_exchanges -q --formatter json name policy >"$d/applied-x.json" 2>>"$d/list.log" & pids+=($!)
  for p in "${pids[@]}"; do wait "$p" || failed=1; done
  if [ -n "$failed" ]; then
    echo "rabbitmqctl list_* or export_definitions failed:"; cat "$d/list.log"; return 1
  fi
  "${compare[@]}" broker "$d/ours.json" "$d/exchanges.json" "$d/queues.json" "$d/bindings.json" >"$d/compare.txt" ||
    { grep -v '^note: ' "$d/compare.txt"; return 1; }
  if ! "$switchboard" run "$f" --until 0s --trace ndjson >"$d/simulated.ndjson" 2>"$d/run.log"; then
    echo "switchboard run failed:"; cat "$d/run.log"; return 1
  fi
  "${compare[@]}" policies "$d/ours.json" "$d/policies.json" "$d/op-policies.json" \
    "$d/applied-q.json" "$d/applied-x.json" "$d/simulated.ndjson" >>"$d/compare.txt" ||
    { grep -v '^note: ' "$d/compare.txt"; return 1; }
  if ! "$switchboard" import-definitions "$d/broker.json" >"$d/scenario.json" 2>"$d/not-imported.txt"; then
    echo "import-definitions refused the broker's export:"; cat "$d/not-imported.txt"; return 1
  fi
  if ! "$switchboard" export-definitions "$d/scenario.json" >"$d/again.json" 2>"$d/again.log"; then
    echo "export-definitions refused the imported scenario:"; cat "$d/again.log"; return 1
  fi
  "${compare[@]}" roundtrip "$d/ours.json" "$d/again.json" "$d/not-imported.txt" >>"$d/compare.txt" ||
    { grep -v '^note: ' "$d/compare.txt"; return 1; }
  sed -n 's/^note: //p' "$d/compare.txt" | sort -u >"$d/notes.txt"
}

passed=0
failed=0
dirty=
declare -A checked # definitions text -> the example first checked with it
for f in "${examples[@]}"; do
  name=$(basename "$f")
  d="$work/examples/${name%.json}"
  mkdir -p "$d"
  # Definitions already checked need not go to the broker again (they only differ in clients).
  if defs=$("$switchboard" export-definitions "$f" 2>/dev/null) && [ -n "${checked[$defs]:-}" ]; then
    echo "ok   $name (same definitions as ${checked[$defs]})"
    passed=$((passed + 1))
    continue
  fi
  if [ -n "$dirty" ] && ! reset_out=$(reset_broker); then
    echo "FAIL $name: could not empty the broker: $reset_out"
    failed=$((failed + 1)); keep_work=1
    break
  fi
  dirty=1
  if out=$(check_one "$f" "$d" 2>&1); then
    counts=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(", ".join(f"{len(d[k])} {k}" for k in ("exchanges","queues","bindings")))' "$d/ours.json")
    echo "ok   $name ($counts)"
    sed 's/^/     note: /' "$d/notes.txt"
    passed=$((passed + 1))
    [ -n "$defs" ] && checked[$defs]=$name
    # Nothing was declared, so there is nothing to empty.
    [ "$counts" = "0 exchanges, 0 queues, 0 bindings" ] && dirty=
  else
    echo "FAIL $name:"
    printf '%s\n' "$out" | sed 's/^/     /'
    failed=$((failed + 1)); keep_work=1
  fi
done

# A topology built on the broker itself, as a user's would be, exported by RabbitMQ and
# imported here (only when no files were named).
check_broker_built() {
  local d=$1
  rabbitmqctl import_definitions "$root/scripts/rabbitmq/broker-built.json" >"$d/import.log" 2>&1 ||
    { echo "the broker refused broker-built.json:"; cat "$d/import.log"; return 1; }
  rabbitmqctl export_definitions -q "$d/exported.json" >"$d/list.log" 2>&1 &&
    rabbitmqctl list_queues -q --formatter json name policy type >"$d/applied-q.json" 2>>"$d/list.log" &&
    rabbitmqctl list_exchanges -q --formatter json name policy >"$d/applied-x.json" 2>>"$d/list.log" ||
    { echo "rabbitmqctl failed:"; cat "$d/list.log"; return 1; }
  "$switchboard" import-definitions "$d/exported.json" >"$d/scenario.json" 2>"$d/not-imported.txt" ||
    { echo "import-definitions refused the broker's export:"; cat "$d/not-imported.txt"; return 1; }
  "$switchboard" run "$d/scenario.json" --until 0s --trace ndjson >"$d/simulated.ndjson" 2>"$d/run.log" ||
    { echo "switchboard run failed:"; cat "$d/run.log"; return 1; }
  "${compare[@]}" brokerbuilt "$d/exported.json" "$d/scenario.json" "$d/not-imported.txt" \
    "$d/applied-q.json" "$d/applied-x.json" "$d/simulated.ndjson" >"$d/compare.txt" ||
    { grep -v '^note: ' "$d/compare.txt"; return 1; }
  # Its behaviour: publishes through the imported topology, in the simulator and on the broker
  # (routing, the alternate exchange from a policy, length limits and dead-lettering).
  python3 scripts/rabbitmq/broker-built-case.py "$d/scenario.json" "$d/exported.json" \
    scripts/rabbitmq/broker-built.steps.json >"$d/case.json" || return 1
  mkdir -p "$d/case"
  "$python" scripts/rabbitmq/conformance.py --port "$amqp_port" --switchboard "$switchboard" \
    --work "$d/case" --record -v "$d/case.json" >"$d/behaviour.txt" 2>&1 ||
    { cat "$d/behaviour.txt"; return 1; }
  sed -n 's/^     \(end .*\)/note: behaviour: \1/p' "$d/behaviour.txt" >>"$d/compare.txt"
}
if [ ${#files[@]} -eq 0 ]; then
  d="$work/broker-built"
  mkdir -p "$d"
  if [ -n "$dirty" ] && ! reset_out=$(reset_broker); then
    echo "FAIL broker-built.json: could not empty the broker: $reset_out"
    failed=$((failed + 1)); keep_work=1
  elif out=$(check_broker_built "$d" 2>&1); then
    echo "ok   broker-built.json (built on the broker, exported by it, imported here)"
    sed -n 's/^note: //p' "$d/compare.txt" | sed 's/^/     note: /'
    passed=$((passed + 1))
  else
    echo "FAIL broker-built.json:"
    printf '%s\n' "$out" | sed 's/^/     /'
    failed=$((failed + 1)); keep_work=1
  fi
fi

broker_stop
say "done in $((SECONDS - started)) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
