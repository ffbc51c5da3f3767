"""The simulator's partitioner and assignors against kafka-python's, through the CLI.

Random cases (seeded): keys and partition counts for the default partitioner (murmur2,
toPositive, modulo); groups of members with random member ids, static members and
subscriptions for the range and round-robin assignors. kafka-python computes the expected
answers (its own DefaultPartitioner, RangePartitionAssignor and RoundRobinPartitionAssignor);
the simulator runs one scenario per kind of case with `switchboard run --trace ndjson`, and
its documented trace events (`appended`'s partition, `rebalance_completed`'s assignment) must
match exactly.

Where kafka-python differs from the Java client, the Java client is followed and the case is
left out here (and tested against Java's documented examples in the Rust suite):
  - kafka-python's RoundRobinPartitionAssignor fails (a KeyError) when members subscribe to
    different topics: round robin is compared on identical subscriptions only;
  - kafka-python groups static and dynamic members with itertools.groupby, which drops members
    when they are interleaved: the members are handed to it static first.

    python3 differential.py SWITCHBOARD SEED [CASES]
"""

import json
import random
import subprocess
import sys
import tempfile

from kafka.cluster import ClusterMetadata
from kafka.coordinator.assignors.range import RangePartitionAssignor
from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from kafka.partitioner.default import DefaultPartitioner
from kafka.protocol.consumer.metadata import ConsumerProtocolSubscription

switchboard = sys.argv[1]
seed = int(sys.argv[2])
cases = int(sys.argv[3]) if len(sys.argv) > 3 else 200
rng = random.Random(seed)
failures = []


def run(doc, until="20s"):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(doc, f)
        path = f.name
    out = subprocess.run(
        [switchboard, "run", path, "--until", until, "--trace", "ndjson"],
        capture_output=True, text=True,
    )
    if out.returncode != 0:
        sys.exit(f"switchboard run {path} failed:\n{out.stderr}")
    return [json.loads(line) for line in out.stdout.splitlines()]


def random_key():
    kind = rng.randrange(6)
    if kind == 0:
        return ""
    alphabet = {
        1: "abcdefghijklmnopqrstuvwxyz",
        2: "0123456789",
        3: "ABCxyz-_:./ ",
        4: "éüßœ漢字кириллица",
        5: "😀🚀𝄞a",
    }[kind]
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 40)))


# ---- the default partitioner ------------------------------------------------------------

class Leader:
    """A partition's metadata as the partitioner reads it: its leader is known."""
    leader_id = 0


partitioner = DefaultPartitioner()
cluster = ClusterMetadata()
nodes, edges, expected = [], [], {}
for t in range(max(1, cases // 10)):
    n = rng.choice([1, 2, 3, 5, 6, 7, 10, 12, 16, 31, 50, 64, 100, 1000])
    keys = [random_key() for _ in range(100)]
    topic, producer = f"t{t}", f"p{t}"
    nodes.append({"id": topic, "kind": "topic", "config": {"partitions": n}})
    nodes.append({"id": producer, "kind": "kafka_producer",
                  "config": {"rate_per_s": 1000, "arrival": "constant", "limit": len(keys),
                             "keys": keys}})
    edges.append({"from": producer, "to": topic})
    cluster._partitions[topic] = {p: Leader() for p in range(n)}
    expected[topic] = [
        (k, partitioner.partition(topic, k, k.encode("utf-8"), None, None, cluster))
        for k in keys
    ]

events = run({"version": 5, "nodes": nodes, "edges": edges})
got = {}
for e in events:
    if e["type"] == "appended":
        got.setdefault(e["topic"], []).append((e["key"], e["partition"], e["partitioner"]))
checked = 0
for topic, want in expected.items():
    # Records of different partitions travel in different batches, so their order across
    # partitions is the producer's batching's; each record's partition is what is compared.
    have = got.get(topic, [])
    if sorted(k for k, _, _ in have) != sorted(k for k, _ in want):
        failures.append(f"{topic}: the keys appended are not the keys produced")
        continue
    by_key = dict(want)
    for hkey, hp, why in have:
        checked += 1
        if hp != by_key[hkey] or why != "key":
            failures.append(f"{topic}: key {hkey!r}: kafka-python partition {by_key[hkey]}, "
                            f"the simulator {hp} ({why})")
print(f"partitioner: {checked} keys over {len(expected)} partition counts")


# ---- the range and round-robin assignors ------------------------------------------------

def member_id():
    stem = rng.choice(["consumer", "c", "member", "Consumer", "app-1", "x"])
    tail = "".join(rng.choice("0123456789abcdef-") for _ in range(rng.randrange(0, 12)))
    return stem + tail


def kafka_python(assignor, topics, members):
    """members: [(member_id, instance_id or None, [topics])], statics first."""
    cluster = ClusterMetadata()
    # `partitions_for_topic` reads `_partitions`.
    cluster._partitions = {t: {p: None for p in range(n)} for t, n in topics.items()}

    class Member:
        def __init__(self, mid, iid, subs):
            self.member_id = mid
            self.group_instance_id = iid
            self.metadata = ConsumerProtocolSubscription(0, subs, b"")

    result = assignor.assign(cluster, [Member(m, i, s) for m, i, s in members])
    out = {}
    for mid, a in result.items():
        out[mid] = sorted(f"{t}-{p}" for t, ps in a.assignment for p in ps)
    return out


groups = []
CHUNK = 250  # groups per scenario, well within the document's limits
for start in range(0, cases, CHUNK):
    chunk = []
    nodes, edges = [], []
    for g in range(start, min(cases, start + CHUNK)):
        strategy = rng.choice(["range", "roundrobin"])
        ntopics = rng.randrange(1, 5)
        topics = {f"g{g}t{j}": rng.randrange(1, 13) for j in range(ntopics)}
        ids = set()
        members = []
        for _ in range(rng.randrange(1, 7)):
            mid = member_id()
            while mid in ids:
                mid = member_id()
            ids.add(mid)
            static = rng.random() < 0.25
            if strategy == "roundrobin":
                subs = list(topics)
            else:
                subs = [t for t in topics if rng.random() < 0.7] or [next(iter(topics))]
            members.append((mid, f"i{rng.randrange(1000)}-{mid}" if static else None, subs))
        members.sort(key=lambda m: m[1] is None)  # statics first (see the module's note)
        assignor = RangePartitionAssignor if strategy == "range" else RoundRobinPartitionAssignor
        want = kafka_python(assignor, topics, members)
        chunk.append((g, strategy, topics, members, want))
        for t, n in topics.items():
            nodes.append({"id": t, "kind": "topic", "config": {"partitions": n}})
        for mid, iid, subs in members:
            # Member ids are node names, prefixed per group (a common prefix keeps their order).
            config = {"group.id": f"g{g}", "partition.assignment.strategy": [strategy]}
            if iid is not None:
                config["group.instance.id"] = iid
            nodes.append({"id": f"g{g}/{mid}", "kind": "kafka_consumer", "config": config})
            for t in subs:
                edges.append({"from": t, "to": f"g{g}/{mid}"})
    events = run({"version": 5, "nodes": nodes, "edges": edges})
    first = {}
    for e in events:
        if e["type"] == "rebalance_completed" and e["group"] not in first:
            first[e["group"]] = e
    for g, strategy, topics, members, want in chunk:
        e = first.get(f"g{g}")
        if e is None:
            failures.append(f"group g{g}: no rebalance completed")
            continue
        prefix = f"g{g}/"
        have = {m[len(prefix):]: sorted(ps) for m, ps in e["assignment"].items()}
        if e["protocol"] != strategy or have != want:
            failures.append(f"group g{g} ({strategy}, topics {topics}, members {members}):\n"
                            f"  kafka-python  {want}\n  the simulator {have} ({e['protocol']})")
    groups.extend(chunk)
print(f"assignors: {len(groups)} groups "
      f"({sum(1 for g in groups if g[1] == 'range')} range, "
      f"{sum(1 for g in groups if g[1] == 'roundrobin')} round robin)")

for f in failures[:20]:
    print("MISMATCH", f)
if failures:
    print(f"{len(failures)} mismatches")
    sys.exit(1)
print("the simulator agrees with kafka-python on every case")
