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
venv_install "$venv" kafka-python "$KAFKA_PYTHON_VERSION" kafka
python="$venv/bin/python"

cargo build -q -p switchboard-core --features cli
seeds=("$@")
[ ${#seeds[@]} -gt 0 ] || seeds=(1 2 3)
for seed in "${seeds[@]}"; do
  say "seed $seed"
  "$python" scripts/kafka/differential.py "$root/target/debug/switchboard" "$seed" 2000
done
