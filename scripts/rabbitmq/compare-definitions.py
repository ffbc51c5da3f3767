#!/usr/bin/env python3
"""Compares a definitions.json written by `switchboard export-definitions` with a real broker.

    compare-definitions.py broker OURS EXCHANGES QUEUES BINDINGS
        OURS is our definitions.json; the others are `rabbitmqctl list_exchanges` (name type
        durable auto_delete internal arguments), `list_queues` (name durable auto_delete
        arguments) and `list_bindings` (source_name destination_name destination_kind
        routing_key arguments), each with `--formatter json`. The broker must hold exactly our
        exchanges, queues and bindings, argument types included (an integer must arrive as an
        integer, 1.0 as a double), besides what every virtual host has (the default exchange,
        `amq.*`, and the default exchange's binding to each queue). A queue with `x-expires`
        may already be gone (RabbitMQ deletes an unused queue that soon), with its bindings;
        that is printed as a note, not a difference.

    compare-definitions.py policies OURS POLICIES OPERATOR_POLICIES QUEUES EXCHANGES SIMULATED
        POLICIES and OPERATOR_POLICIES are `rabbitmqctl list_policies` and
        `list_operator_policies`; QUEUES is `list_queues name policy`, EXCHANGES
        `list_exchanges name policy`, SIMULATED the simulator's trace at time 0 (`switchboard
        run FILE --until 0s --trace ndjson`). The broker must hold our policies and operator
        policies, and apply the same policy to each of our exchanges and queues as the simulator
        (rabbitmqctl 3.10 cannot list which operator policy applies).
    compare-definitions.py brokerbuilt EXPORTED SCENARIO NOTES QUEUES EXCHANGES SIMULATED
        A topology built on the broker from scripts/rabbitmq/broker-built.json (a second virtual
        host, a user, a stream, an internal exchange, policies and an operator policy), as
        RabbitMQ exported it (EXPORTED), imported by `switchboard import-definitions` (SCENARIO,
        and NOTES, what it named as left out). Every object of the default virtual host must be
        imported or named, and each exchange and queue the model represents must get the same
        policy from the simulator (SIMULATED, its trace at time 0) as from the broker (QUEUES:
        `list_queues name policy type`; EXCHANGES: `list_exchanges name policy`).
    compare-definitions.py roundtrip OURS AGAIN NOTES
        AGAIN is the broker's `export_definitions`, read by `switchboard import-definitions` and
        written back by `export-definitions`; NOTES is what import-definitions reported as not
        imported. AGAIN must hold the same objects and policies as OURS (less expired queues, as
        above, and internal exchanges, which RabbitMQ's export leaves out with the bindings it
        keeps, which import-definitions then skips), and no note may be about them.

Prints each difference and exits 1 if there is any; prints notes, prefixed "note: ", either
way. Standard library only.
"""

import json
import sys

# What `rabbitmqctl list_*` names each AMQP field-table type (rabbit_misc / amqp table types).
INT_TYPES = {"long", "signedint", "short", "byte", "unsignedbyte", "unsignedshort",
             "unsignedint", "timestamp"}
FLOAT_TYPES = {"double", "float"}


class Pairs(dict):
    """A JSON object that also keeps its members in order, repeated keys included."""

    def __init__(self, pairs):
        super().__init__(pairs)
        self.pairs = pairs


def load(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return json.loads(text, object_pairs_hook=Pairs) if text.strip() else []


def typed(value):
    """A JSON value with its kind made explicit, so that True != 1 and 1 != 1.0."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int):
        return ("int", value)
    if isinstance(value, float):
        return ("float", value)
    if isinstance(value, str):
        return ("str", value)
    if value is None:
        return ("void", None)
    if isinstance(value, list):
        return ("array", tuple(typed(v) for v in value))
    if isinstance(value, dict):
        return ("table", our_args(value))
    raise ValueError(f"unexpected JSON value {value!r}")


def broker_typed(kind, value):
    """One `[type, value]` of rabbitmqctl's JSON formatter, as `typed` would see our value."""
    if kind == "bool":
        return ("bool", value)
    if kind in INT_TYPES:
        return ("int", value)
    if kind in FLOAT_TYPES:
        return ("float", float(value))
    if kind in ("longstr", "binary", "shortstr"):
        return ("str", value)
    if kind == "void":
        return ("void", None)
    if kind == "array":
        # The JSON formatter writes an array as an object of type: value members, in order
        # and with repeated keys ([1, 2] is {"long": 1, "long": 2}).
        return ("array", tuple(broker_typed(k, v) for k, v in value.pairs))
    if kind == "table":
        return ("table", broker_args(value))
    return ("unknown:" + str(kind), json.dumps(value))


def broker_args(rows):
    """rabbitmqctl lists arguments as `[[name, type, value], ...]`."""
    return tuple(sorted((name, broker_typed(kind, value)) for name, kind, value in rows))


def our_args(args):
    return tuple(sorted((k, typed(v)) for k, v in (args or {}).items()))


def is_default_exchange(name):
    return name == "" or name.startswith("amq.")


def expired(ours_x, ours_q, ours_b, theirs_q, notes):
    """Drops from ours each queue with x-expires that the broker no longer has."""
    gone = {name for name, (_, _, args) in ours_q.items()
            if name not in theirs_q and any(k == "x-expires" for k, _ in args)}
    for name in sorted(gone):
        ttl = dict(ours_q[name][2])["x-expires"][1]
        notes.append(f"queue {name!r} had expired (x-expires {ttl} ms), as RabbitMQ does")
        del ours_q[name]
    for key in [b for b in ours_b if b[2] == "queue" and b[1] in gone]:
        del ours_b[key]


def diff(what, ours, theirs, problems):
    """Compares two {key: description} maps and records what differs."""
    for key in sorted(set(ours) | set(theirs), key=repr):
        if key not in theirs:
            problems.append(f"{what} {key!r}: in our definitions, not on the broker")
        elif key not in ours:
            problems.append(f"{what} {key!r}: on the broker, not in our definitions")
        elif ours[key] != theirs[key]:
            problems.append(f"{what} {key!r}: ours {ours[key]!r}, broker {theirs[key]!r}")


def multiset(items):
    counts = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    return counts


def our_objects(defs):
    exchanges = {x["name"]: (x["type"], x["durable"], x["auto_delete"], x.get("internal", False),
                             our_args(x.get("arguments")))
                 for x in defs.get("exchanges", [])}
    queues = {q["name"]: (q["durable"], q["auto_delete"], our_args(q.get("arguments")))
              for q in defs.get("queues", [])}
    bindings = multiset((b["source"], b["destination"], b["destination_type"], b["routing_key"],
                         our_args(b.get("arguments")))
                        for b in defs.get("bindings", []))
    return exchanges, queues, bindings


def compare_broker(ours_path, exchanges_path, queues_path, bindings_path):
    ours = load(ours_path)
    for part in ("exchanges", "queues", "bindings"):
        for obj in ours.get(part, []):
            if obj.get("vhost", "/") != "/":
                return [f"{part}: {obj!r} is not in the default virtual host"], []
    our_x, our_q, our_b = our_objects(ours)
    problems, notes = [], []
    their_x = {x["name"]: (x["type"], x["durable"], x["auto_delete"], x["internal"],
                           broker_args(x["arguments"]))
               for x in load(exchanges_path) if not is_default_exchange(x["name"])}
    diff("exchange", our_x, their_x, problems)
    their_q = {q["name"]: (q["durable"], q["auto_delete"], broker_args(q["arguments"]))
               for q in load(queues_path)}
    their_b = multiset((b["source_name"], b["destination_name"], b["destination_kind"],
                        b["routing_key"], broker_args(b["arguments"]))
                       for b in load(bindings_path) if b["source_name"] != "")
    expired(our_x, our_q, our_b, their_q, notes)
    expiring_while_listed(our_q, our_b, their_q, their_b, notes)
    diff("queue", our_q, their_q, problems)
    diff("binding", our_b, their_b, problems)
    return problems, notes


def expiring_while_listed(ours_q, ours_b, theirs_q, theirs_b, notes):
    """A queue with x-expires can expire between the broker's listings (queues, then
    bindings, each its own rabbitmqctl call): listed as a queue, but with its bindings already
    gone. Such a queue is left out on both sides, as expired."""
    for name in sorted(n for n, (_, _, args) in ours_q.items()
                       if n in theirs_q and any(k == "x-expires" for k, _ in args)):
        mine = [b for b in ours_b if b[2] == "queue" and b[1] == name]
        if mine and not any(b in theirs_b for b in mine):
            ttl = dict(ours_q[name][2])["x-expires"][1]
            notes.append(f"queue {name!r} expired while the broker was listed "
                         f"(x-expires {ttl} ms): its bindings were already gone")
            del ours_q[name]
            del theirs_q[name]
            for b in mine:
                del ours_b[b]


def compare_roundtrip(ours_path, again_path, notes_path):
    problems, notes = [], []
    ours_defs, again_defs = load(ours_path), load(again_path)
    ours, again = our_objects(ours_defs), our_objects(again_defs)
    expired(*ours, again[1], notes)
    gone = internal_left_out(ours, again, notes_path, notes)
    for what, a, b in zip(("exchange", "queue", "binding"), ours, again):
        diff(what + " (after the round trip)", a, b, problems)
    for what, a, b in zip(("policy", "operator policy"), our_policies(ours_defs),
                          our_policies(again_defs)):
        diff(what + " (after the round trip)", a, b, problems)
    with open(notes_path, encoding="utf-8") as f:
        for line in f:
            # "FILE: not imported: PATH: MESSAGE"; notes about users or permissions are expected,
            # and about bindings of the internal exchanges the export left out.
            _, _, rest = line.partition(": not imported: ")
            if any(f'"{name}"' in rest for name in gone) and rest.startswith("bindings"):
                continue
            if rest.startswith(("queues", "exchanges", "bindings", "policies", "parameters")):
                problems.append(f"import-definitions left out one of ours: {rest.strip()}")
    return problems, notes


def policy_key(p, name=None, value=None):
    """A policy as (name, pattern, apply-to, priority, definition), from our definitions,
    `rabbitmqctl list_policies`, or an operator policy parameter (NAME and its VALUE)."""
    v = value if value is not None else p
    definition = v.get("definition", {})
    if isinstance(definition, str):  # some rabbitmqctl versions print it as JSON text
        definition = json.loads(definition)
    return (name if name is not None else p["name"], v["pattern"], v.get("apply-to", "all"),
            int(v.get("priority", 0)), our_args(definition))


def our_policies(defs):
    user = {p["name"]: policy_key(p) for p in defs.get("policies", [])}
    operator = {p["name"]: policy_key(p, p["name"], p["value"])
                for p in defs.get("parameters", []) if p.get("component") == "operator_policy"}
    return user, operator


def compare_policies(ours_path, policies_path, op_policies_path, applied_q_path, applied_x_path,
                     sim_path):
    """The broker holds our policies and operator policies, and applies the same ones to each
    exchange and queue as the simulator does (its `policy_applied` events at time 0)."""
    problems, notes = [], []
    ours = load(ours_path)
    user, operator = our_policies(ours)
    diff("policy", user, {p["name"]: policy_key(p) for p in load(policies_path)}, problems)
    diff("operator policy", operator,
         {p["name"]: policy_key(p) for p in load(op_policies_path)}, problems)
    simulated = {}
    with open(sim_path, encoding="utf-8") as f:
        for line in f:
            e = json.loads(line)
            if e["type"] == "policy_applied" and e["at_us"] == 0:
                simulated[e["node"]] = (e["policy"], e["operator_policy"])
    ours_q = {q["name"] for q in ours.get("queues", [])}
    ours_x = {x["name"] for x in ours.get("exchanges", [])}
    none = lambda v: v or None  # rabbitmqctl prints "" for none
    broker = {}
    for q in load(applied_q_path):
        if q["name"] in ours_q:
            broker[q["name"]] = none(q.get("policy"))
    for x in load(applied_x_path):
        if x["name"] in ours_x:
            broker[x["name"]] = none(x.get("policy"))
    for name in sorted(ours_q | ours_x):
        # The policy's name: rabbitmqctl 3.10 lists neither the operator policy nor the
        # effective definition; the model's operator policies are checked by the unit tests.
        mine = simulated.get(name, (None, None))[0]
        if name not in broker:
            notes.append(f"{name!r} is not listed by the broker (expired?)")
            continue
        theirs = broker[name]
        if mine != theirs:
            problems.append(f"{name!r}: the simulator applies {mine!r}, the broker {theirs!r}")
    applied = sum(1 for v in broker.values() if v is not None)
    if applied:
        notes.append(f"{applied} of {len(broker)} exchanges and queues have a policy, on both sides")
    return problems, notes


def internal_left_out(ours, again, notes_path, notes):
    """RabbitMQ's export leaves internal exchanges out but keeps the bindings to and from
    them, which import-definitions then skips: both are dropped from OURS, with a note.
    Returns the names."""
    x, q, b = ours
    gone = {name for name, desc in x.items() if desc[3] and name not in again[0]}
    for name in sorted(gone):
        notes.append(f"internal exchange {name!r} is left out of RabbitMQ's export, and so are "
                     "its bindings when imported")
        del x[name]
    for key in [k for k in b if k[0] in gone or k[1] in gone]:
        del b[key]
    return gone


def compare_broker_built(exported_path, scenario_path, notes_path, applied_q_path,
                         applied_x_path, sim_path):
    """A topology built on the broker (scripts/rabbitmq/broker-built.json), exported by
    RabbitMQ and imported by us: every exchange, queue, binding and policy of the default
    virtual host is in the scenario or named in a note; and each exchange and queue the model can
    represent gets the same policy in the simulator as on the broker."""
    problems, notes = [], []
    exported, scenario = load(exported_path), load(scenario_path)
    with open(notes_path, encoding="utf-8") as f:
        said = [line.partition(": not imported: ")[2].strip() for line in f]
    said = [n for n in said if n]
    nodes = {n["id"]: n for n in scenario.get("nodes", [])}
    edges = {(e["from"], e["to"], e.get("routing_key", "")) for e in scenario.get("edges", [])}
    policies = {p["name"] for p in scenario.get("policies", [])}
    operator = {p["name"] for p in scenario.get("operator_policies", [])}

    def named(path):
        return any(n.startswith(path + ":") or n.startswith(path + ".") for n in said)

    default = lambda o: o.get("vhost", "/") == "/"
    for part in ("exchanges", "queues"):
        for i, o in enumerate(exported.get(part, [])):
            if default(o) and o["name"] not in nodes and not named(f"{part}[{i}]"):
                problems.append(f"{part}[{i}] {o['name']!r}: neither imported nor named")
    for i, b in enumerate(exported.get("bindings", [])):
        key = (b["source"], b["destination"], b["routing_key"])
        if default(b) and key not in edges and not named(f"bindings[{i}]"):
            problems.append(f"bindings[{i}] {key!r}: neither imported nor named")
    for i, p in enumerate(exported.get("policies", [])):
        if default(p) and p["name"] not in policies and not named(f"policies[{i}]"):
            problems.append(f"policies[{i}] {p['name']!r}: neither imported nor named")
    for i, p in enumerate(exported.get("parameters", [])):
        if p.get("component") == "operator_policy" and default(p) and p["name"] not in operator:
            problems.append(f"parameters[{i}] {p['name']!r}: operator policy not imported")
    # Policies whose left-out keys keep them off some queue types in RabbitMQ (said in a note).
    off = {}
    for i, p in enumerate(exported.get("policies", [])):
        for n in said:
            if n.startswith(f"policies[{i}].definition.") and "keeps the whole policy off" in n:
                types = n.split("keeps the whole policy off ")[1].split(" queues")[0]
                off[p["name"]] = set(types.split(" and "))
    simulated = {}
    with open(sim_path, encoding="utf-8") as f:
        for line in f:
            e = json.loads(line)
            if e["type"] == "policy_applied" and e["at_us"] == 0:
                simulated[e["node"]] = e["policy"]
    none = lambda v: v or None
    checked = 0
    for q in load(applied_q_path):
        name, kind = q["name"], q.get("type", "classic")
        if name not in nodes:
            continue
        mine, theirs = simulated.get(name), none(q.get("policy"))
        if kind == "stream":
            notes.append(f"{name!r} is a stream, imported as a classic queue: its policy is not "
                         f"compared (broker {theirs!r}, simulator {mine!r})")
            continue
        if mine != theirs and kind in off.get(mine, set()):
            notes.append(f"{name!r} ({kind}): the broker skips {mine!r} for its left-out keys "
                         f"(broker {theirs!r}); named in the import's notes")
            continue
        checked += 1
        if mine != theirs:
            problems.append(f"queue {name!r}: the simulator applies {mine!r}, the broker {theirs!r}")
    for x in load(applied_x_path):
        if x["name"] in nodes:
            checked += 1
            mine, theirs = simulated.get(x["name"]), none(x.get("policy"))
            if mine != theirs:
                problems.append(f"exchange {x['name']!r}: the simulator applies {mine!r}, "
                                f"the broker {theirs!r}")
    notes.append(f"{checked} exchanges and queues apply the same policy on both sides; "
                 f"{len(said)} parts of the export named as left out")
    return problems, notes


def main(argv):
    if len(argv) == 6 and argv[1] == "broker":
        problems, notes = compare_broker(*argv[2:])
    elif len(argv) == 5 and argv[1] == "roundtrip":
        problems, notes = compare_roundtrip(*argv[2:])
    elif len(argv) == 8 and argv[1] == "policies":
        problems, notes = compare_policies(*argv[2:])
    elif len(argv) == 8 and argv[1] == "brokerbuilt":
        problems, notes = compare_broker_built(*argv[2:])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    for n in notes:
        print("note: " + n)
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
