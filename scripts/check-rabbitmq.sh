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
# The broker runs as this user, listens on 127.0.0.1 only (AMQP, distribution and its own
# epmd, on free ports), keeps its data in a temporary directory, and is stopped on exit.
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
rmq_bin=/usr/lib/rabbitmq/bin

if [ ! -x "$rmq_bin/rabbitmq-server" ]; then
  say "installing Debian's rabbitmq-server"
  export DEBIAN_FRONTEND=noninteractive
  apt-cache show rabbitmq-server >/dev/null 2>&1 || apt-get update -qq
  # Without systemd, policy-rc.d refuses to start the packaged service: fine, we run our own.
  apt-get install -y -qq rabbitmq-server >/dev/null
fi
# The tools under /usr/lib run as the calling user (those in /usr/sbin switch to `rabbitmq`).
export PATH="$rmq_bin:$PATH"

cargo build -q -p switchboard-core --features cli
switchboard="$root/target/debug/switchboard"
compare=(python3 "$root/scripts/rabbitmq/compare-definitions.py")

if [ ${#files[@]} -gt 0 ]; then
  examples=("${files[@]}")
else
  examples=(docs/examples/*.json scripts/rabbitmq/every-argument.json)
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/switchboard-rabbitmq.XXXXXX")
broker_pid= # the rabbitmq-server shell script, parent of the Erlang VM
epmd_pid=
keep_work=

alive() { for p in "$@"; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }

stop_broker() {
  if [ -n "$broker_pid" ] && alive "$broker_pid"; then
    local vm
    vm=$(pgrep -P "$broker_pid" || true)
    # The script traps TERM and stops the node cleanly (rabbitmqctl stop).
    kill -TERM "$broker_pid" 2>/dev/null || true
    # shellcheck disable=SC2086 # $vm is zero or more pids
    for _ in $(seq 150); do alive $vm "$broker_pid" || break; sleep 0.2; done
    for p in $vm $broker_pid; do
      if kill -0 "$p" 2>/dev/null; then
        say "process $p did not stop; killing it"
        kill -KILL "$p" 2>/dev/null || true
      fi
    done
    wait "$broker_pid" 2>/dev/null || true
  fi
  broker_pid=
  if [ -n "$epmd_pid" ]; then
    kill "$epmd_pid" 2>/dev/null || true
    wait "$epmd_pid" 2>/dev/null || true
  fi
  epmd_pid=
}

cleanup() {
  stop_broker
  if [ -n "$keep_work" ]; then
    say "kept the broker's files and each example's output in $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Three free loopback ports: AMQP, Erlang distribution, epmd.
read -r amqp_port dist_port epmd_port < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))')

# Busy-waiting schedulers only slow things down when several VMs share two cores.
quiet_vm="+sbwt none +sbwtdcpu none +sbwtdio none"
export HOME="$work/home" # the Erlang cookie goes here
export RABBITMQ_CONF_ENV_FILE="$work/rabbitmq-env.conf"
export RABBITMQ_CONFIG_FILE="$work/rabbitmq" # absent: defaults
export RABBITMQ_ADVANCED_CONFIG_FILE="$work/advanced.config"
export RABBITMQ_ENABLED_PLUGINS_FILE="$work/enabled_plugins"
export RABBITMQ_MNESIA_BASE="$work/mnesia"
export RABBITMQ_LOG_BASE="$work/log"
export RABBITMQ_NODENAME=switchboard-check@localhost
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
export RABBITMQ_NODE_PORT=$amqp_port
export RABBITMQ_DIST_PORT=$dist_port
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1} $quiet_vm"
export RABBITMQ_CTL_DIST_PORT_MIN=0 RABBITMQ_CTL_DIST_PORT_MAX=0 # any free port
export ERL_EPMD_ADDRESS=127.0.0.1
export ERL_EPMD_PORT=$epmd_port
mkdir -p "$HOME" "$RABBITMQ_LOG_BASE"
: >"$RABBITMQ_CONF_ENV_FILE"
echo '[].' >"$RABBITMQ_ENABLED_PLUGINS_FILE"

started=$SECONDS
version=$(dpkg-query -W -f '${Version}' rabbitmq-server 2>/dev/null || echo '?')
say "starting RabbitMQ $version on 127.0.0.1:$amqp_port"
# Our own epmd in the foreground of a background job, so that we know its pid to stop it.
epmd -address 127.0.0.1 -port "$epmd_port" >"$work/epmd.log" 2>&1 &
epmd_pid=$!
rabbitmq-server >"$work/server.log" 2>&1 &
broker_pid=$!
if ! rabbitmqctl wait --pid "$broker_pid" --timeout 120 >"$work/wait.log" 2>&1; then
  keep_work=1
  cat "$work/wait.log" >&2
  tail -n 30 "$work/server.log" >&2
  say "the broker did not start"
  exit 1
fi
say "broker up in $((SECONDS - started)) s"

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
  for p in "${pids[@]}"; do wait "$p" || failed=1; done
  if [ -n "$failed" ]; then
    echo "rabbitmqctl list_* or export_definitions failed:"; cat "$d/list.log"; return 1
  fi
  "${compare[@]}" broker "$d/ours.json" "$d/exchanges.json" "$d/queues.json" "$d/bindings.json" >"$d/compare.txt" ||
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

stop_broker
say "done in $((SECONDS - started)) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
