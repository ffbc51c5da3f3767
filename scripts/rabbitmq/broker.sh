# Sourced by scripts/check-rabbitmq.sh and scripts/check-conformance.sh: a throwaway RabbitMQ
# broker (Debian's rabbitmq-server, 3.10) for checks against the real thing.
#
# The broker runs as this user, listens on 127.0.0.1 only (AMQP, distribution and its own epmd,
# on free ports), and keeps its data under a directory of the caller's. The caller provides
# `say` (a log function) and calls `broker_stop` on exit (from its EXIT trap).
#
#   broker_install      installs rabbitmq-server with apt if it is missing (needs root then),
#                       and puts its tools (rabbitmqctl…) on PATH
#   broker_start DIR    starts the broker with its files in DIR; sets amqp_port, broker_pid and
#                       epmd_pid. On failure prints the logs and returns 1 (DIR is worth keeping)
#   broker_stop         stops it (and its epmd) if it runs; safe to call twice

rmq_bin=/usr/lib/rabbitmq/bin
broker_pid= # the rabbitmq-server shell script, parent of the Erlang VM
epmd_pid=
amqp_port=

broker_install() {
  if [ ! -x "$rmq_bin/rabbitmq-server" ]; then
    say "installing Debian's rabbitmq-server"
    export DEBIAN_FRONTEND=noninteractive
    apt-cache show rabbitmq-server >/dev/null 2>&1 || apt-get update -qq
    # Without systemd, policy-rc.d refuses to start the packaged service: fine, we run our own.
    apt-get install -y -qq rabbitmq-server >/dev/null
  fi
  # The tools under /usr/lib run as the calling user (those in /usr/sbin switch to `rabbitmq`).
  export PATH="$rmq_bin:$PATH"
}

_broker_alive() { for p in "$@"; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }

broker_stop() {
  if [ -n "$broker_pid" ] && _broker_alive "$broker_pid"; then
    local vm p
    vm=$(pgrep -P "$broker_pid" || true)
    # The script traps TERM and stops the node cleanly (rabbitmqctl stop).
    kill -TERM "$broker_pid" 2>/dev/null || true
    # shellcheck disable=SC2086 # $vm is zero or more pids
    for _ in $(seq 150); do _broker_alive $vm "$broker_pid" || break; sleep 0.2; done
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

broker_start() {
  local dir=$1 dist_port epmd_port started version
  # Three free loopback ports: AMQP, Erlang distribution, epmd.
  read -r amqp_port dist_port epmd_port < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))')

  # Busy-waiting schedulers only slow things down when several VMs share two cores.
  local quiet_vm="+sbwt none +sbwtdcpu none +sbwtdio none"
  export HOME="$dir/home" # the Erlang cookie goes here
  export RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf"
  export RABBITMQ_CONFIG_FILE="$dir/rabbitmq" # absent: defaults
  export RABBITMQ_ADVANCED_CONFIG_FILE="$dir/advanced.config"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins"
  export RABBITMQ_MNESIA_BASE="$dir/mnesia"
  export RABBITMQ_LOG_BASE="$dir/log"
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
  # The cookie is written before either VM starts: if it is missing, the broker and rabbitmqctl
  # each make one at the same moment, and the loser is refused ("Invalid challenge reply") until
  # the wait times out.
  if [ ! -e "$HOME/.erlang.cookie" ]; then
    (umask 077 && python3 -c 'import secrets; print(secrets.token_hex(16).upper(), end="")' \
      >"$HOME/.erlang.cookie")
    chmod 400 "$HOME/.erlang.cookie"
  fi
  : >"$RABBITMQ_CONF_ENV_FILE"
  echo '[].' >"$RABBITMQ_ENABLED_PLUGINS_FILE"

  started=$SECONDS
  version=$(dpkg-query -W -f '${Version}' rabbitmq-server 2>/dev/null || echo '?')
  say "starting RabbitMQ $version on 127.0.0.1:$amqp_port"
  # Our own epmd in the foreground of a background job, so that we know its pid to stop it.
  epmd -address 127.0.0.1 -port "$epmd_port" >"$dir/epmd.log" 2>&1 &
  epmd_pid=$!
  rabbitmq-server >"$dir/server.log" 2>&1 &
  broker_pid=$!
  if ! rabbitmqctl wait --pid "$broker_pid" --timeout 120 >"$dir/wait.log" 2>&1; then
    cat "$dir/wait.log" >&2
    tail -n 30 "$dir/server.log" >&2
    say "the broker did not start"
    return 1
  fi
  say "broker up in $((SECONDS - started)) s"
}

# Makes a work directory ($work, named after $1), starts the broker in it, and on exit stops the
# broker and removes the directory, unless $keep_work is set then: it is kept, and `say` tells
# what it holds ($2). Sets $started to $SECONDS before the broker starts.
broker_session() {
  work=$(mktemp -d "${TMPDIR:-/tmp}/switchboard-$1.XXXXXX")
  _broker_kept=$2
  keep_work=
  trap _broker_session_end EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  started=$SECONDS
  broker_start "$work" || { keep_work=1; exit 1; }
}

_broker_session_end() {
  broker_stop
  if [ -n "$keep_work" ]; then
    say "kept $_broker_kept in $work"
  else
    rm -rf "$work"
  fi
}

# pika, pinned, in a virtualenv under .tools/ (the conformance cases' AMQP client); sets
# $python to its interpreter.
pika_install() {
  python="$root/.tools/conformance-venv/bin/python"
  venv_install "$root/.tools/conformance-venv" pika 1.3.2 pika
}

