#!/usr/bin/env bash
# Checks the Kafka model's partitioner and assignors against kafka-python's, through the CLI
# and the documented trace events (scripts/kafka/differential.py): murmur2 partitions of
# random keys (empty, ASCII, multi-byte UTF-8) over random partition counts, and range and
# round-robin assignments of random groups (random member ids, static members, subscriptions).
# No broker is needed: kafka-python's partitioner and assignors are pure functions, called
# directly. kafka-python is pinned and installed into .tools/kafka-venv.
#
#   scripts/check-kafka.sh            seeds 1 to 3, 2,000 cases each
#   scripts/check-kafka.sh SEED...    these seeds
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$root"

say() { printf '[check-kafka] %s\n' "$*" >&2; }

KAFKA_PYTHON_VERSION=3.0.12
venv="$root/.tools/kafka-venv"
python="$venv/bin/python"
if ! "$python" -c "import kafka, sys; sys.exit(kafka.__version__ != '$KAFKA_PYTHON_VERSION')" 2>/dev/null; then
  say "installing kafka-python $KAFKA_PYTHON_VERSION into $venv"
  if ! python3 -c 'import ensurepip' 2>/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-cache show python3-venv >/dev/null 2>&1 || apt-get update -qq
    apt-get install -y -qq python3-venv >/dev/null
  fi
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "kafka-python==$KAFKA_PYTHON_VERSION"
fi

cargo build -q -p switchboard-core --features cli
seeds=("$@")
[ ${#seeds[@]} -gt 0 ] || seeds=(1 2 3)
for seed in "${seeds[@]}"; do
  say "seed $seed"
  "$python" scripts/kafka/differential.py "$root/target/debug/switchboard" "$seed" 2000
done
