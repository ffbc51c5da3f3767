#!/usr/bin/env bash
# Differential conformance: the same deterministic cases (conformance/amqp.json) run in
# Switchboard and against a real broker (Debian's rabbitmq-server, 3.10), comparing what a
# client observes: publisher confirms and returns, basic.get results (message, delivery tag,
# redelivered, x-death), and each queue's contents at the end. See scripts/rabbitmq/conformance.py.
# Each case also records what the broker was observed to do (`observed`), which `cargo test`
# checks the simulator against without a broker (core/tests/conformance.rs).
#
# Prints `ok NAME` or `DIFF NAME: ...` (with what each side did) per case, and `STALE NAME: ...`
# when a case's recorded observations are not the broker's, then `N passed, M failed` last;
# exits 1 on a difference and keeps the scenarios, traces and observations for a look.
#
# The broker is a throwaway one (scripts/rabbitmq/broker.sh): 127.0.0.1 only, free ports, a
# temporary directory, stopped on exit. Installs rabbitmq-server with apt if it is missing (needs
# root then), and pika (pinned) into a virtualenv under .tools/ if it is missing. Needs python3
# with venv.
#
#   scripts/check-conformance.sh                    every case, strict
#   scripts/check-conformance.sh --accept-known     a case whose only differences are those its
#                                                   `known_before_4` lists passes on RabbitMQ 3.x
#   scripts/check-conformance.sh --only NAME -v     one case, printing every observation
#   scripts/check-conformance.sh --record           also writes the broker's observations into
#                                                   conformance/amqp.json (each case's `observed`)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$root"

say() { printf '[check-conformance] %s\n' "$*" >&2; }
source scripts/rabbitmq/broker.sh
broker_install

pika_install

cargo build -q -p switchboard-core --features cli
switchboard="${CARGO_TARGET_DIR:-$root/target}/debug/switchboard"

broker_session conformance "the broker's files, and each case's scenario, trace and observations,"

mkdir -p "$work/cases"
status=0
"$python" scripts/rabbitmq/conformance.py --port "$amqp_port" --switchboard "$switchboard" \
  --work "$work/cases" "$@" || status=$?
[ "$status" -eq 0 ] || keep_work=1

broker_stop
say "done in $((SECONDS - started)) s"
exit "$status"
