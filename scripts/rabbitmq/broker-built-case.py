#!/usr/bin/env python3
"""A conformance case (scripts/rabbitmq/conformance.py's format) from a topology RabbitMQ
exported and `switchboard import-definitions` read: its exchanges, queues, bindings, policies and
operator policies as imported, and the publishes of a steps file. Streams (imported as classic
queues) and quorum queues are left out, with their bindings, as the conformance cases leave
them out.

    broker-built-case.py SCENARIO EXPORTED STEPS > CASES
"""
import json
import sys


def main(scenario_path, exported_path, steps_path):
    scenario = json.load(open(scenario_path))
    exported = json.load(open(exported_path))
    steps = json.load(open(steps_path))
    kind = {q["name"]: (q.get("arguments") or {}).get("x-queue-type", "classic")
            for q in exported.get("queues", []) if q.get("vhost", "/") == "/"}
    exchanges, queues = [], []
    for n in scenario["nodes"]:
        cfg = n.get("config") or {}
        if n["kind"] == "exchange":
            exchanges.append({"name": n["id"], "type": cfg.get("type", "direct"),
                              "arguments": cfg.get("arguments", {})})
        elif n["kind"] == "queue" and kind.get(n["id"], "classic") == "classic":
            queues.append({"name": n["id"], "arguments": cfg.get("arguments", {})})
    names = {x["name"] for x in exchanges} | {q["name"] for q in queues}
    bindings = [{"from": e["from"], "to": e["to"], "routing_key": e.get("routing_key", ""),
                 "arguments": e.get("arguments", {})}
                for e in scenario.get("edges", []) if e["from"] in names and e["to"] in names]
    case = {"name": "broker-built", "group": "definitions",
            "about": "the topology RabbitMQ exported, as imported", "exchanges": exchanges,
            "queues": queues, "bindings": bindings, "policies": scenario.get("policies", []),
            "operator_policies": scenario.get("operator_policies", []), "steps": steps["steps"]}
    json.dump({"model": "amqp", "about": steps["about"], "observed_with": "", "cases": [case]},
              sys.stdout, indent=1)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
