#!/usr/bin/env python3
"""Differential conformance: the same deterministic cases in Switchboard and on a real RabbitMQ.

The cases are the AMQP model's conformance file, conformance/amqp.json at the repository root:
{"model": "amqp", "about": ..., "observed_with": ..., "cases": [...]}. Each case is a topology
and a list of steps, and what the broker was observed to do:

  {"name": ..., "group": ..., "about": ..., "exchanges": [{"name", "type", "arguments"}],
   "policies": [{"name", "pattern", "apply-to", "priority", "definition"}], "operator_policies": [...],
   "queues": [{"name", "arguments"}], "bindings": [{"from", "to", "routing_key", "arguments"}],
   "steps": [{"publish": EXCHANGE ("" = default), "routing_key", "headers", "priority",
              "body_bytes", "expiration", "mandatory"},
             {"get": QUEUE}, {"ack": LABEL}, {"nack": LABEL, "requeue": B}, {"reject": LABEL, "requeue": B},
             {"set_policy": POLICY, "operator": B}, {"clear_policy": NAME, "operator": B}],
   "known_before_4": {"note": ..., "keys": [observation keys RabbitMQ 3.x gives differently],
                      "observed": [[key, value] as RabbitMQ 3.x gave them]},
   "observed": [[key, value], ...]}

`observed` is what the broker gave (written by --record), except that for the keys of
`known_before_4` it is what RabbitMQ 4 does, the model's version (the simulator's value, as the
note explains). core/tests/conformance.rs runs every case natively in `cargo test` and compares
the simulator with `observed`, without a broker.

Publishes are labelled m1, m2, … in order (a `label` header carries it on the broker). Both sides run them and record what a client can observe, as (key, value) pairs:

  publish      every publish goes through a confirm channel: "ack", "nack", and before it
               "returned 312 NO_ROUTE" for a mandatory message that routed nowhere
  get Q        basic.get on the client channel: the message's label, delivery tag and
               redelivered flag, and for a dead-lettered message its x-death (without `time`)
               and x-first-death-* headers; or "empty"
  ack / nack / reject LABEL   settle the delivery of LABEL on the client channel
  (end)        every queue drained in order: label, redelivered, x-death as above

Switchboard: the case becomes a scenario (format 3, with the case's policies) with scripted actions 100 ms apart. A publish
goes from a producer with publisher_confirms (one per exchange and mandatory flag) over a 1 ms
edge; `get Q` is a `basic.consume` of the consumer "client" (prefetch 1, processing 1h, so it
never settles on its own) added at the step and cancelled 2 ms later, which takes exactly the
head, as basic.get does, on one channel whose delivery tags count on; a settlement is a scripted
ack/nack/reject by delivery tag; the end drain is one unlimited-prefetch consumer per queue added
after the last step. Outcomes come from `switchboard run --trace ndjson` (published, routed,
returned, confirmed, publish_nacked, delivered, dead_lettered).

RabbitMQ: policies are set with rabbitmqctl first (and cleared after the case); the topology is
declared with pika; publishes wait for their confirm; after every other
step each queue is declared passively, twice, from the client channel, which returns only once
every queue has handled what that channel sent it (and what it dead-lettered onward): no sleeps.

Prints `ok NAME` or `DIFF NAME: ...` (each differing observation with what each side did) per
case, then `N passed, M failed`; exits 1 on any difference. A case whose recorded `observed` is
not what the broker gives now (or that has none) fails too, as `STALE NAME`, unless --record.

  conformance.py --port P --switchboard BIN [--only NAME]... [--work DIR] [--record] [FILE]

--record writes the broker's observations into FILE as each case's `observed` (and, on a 3.x
broker, `known_before_4.observed`), then compares as usual. FILE is conformance/amqp.json by
default.
"""

import argparse
import json
import os
import subprocess
import sys

STEP_US = 100_000
HERE = os.path.dirname(os.path.abspath(__file__))
CASES = os.path.join(os.path.dirname(os.path.dirname(HERE)), "conformance", "amqp.json")
CLIENT = "client"


# ---------------------------------------------------------------------------------------------
# Cases


def load_file(path):
    """The conformance file: {"model": "amqp", "about", "cases": [...]}."""
    with open(path) as fh:
        doc = json.load(fh)
    if not isinstance(doc, dict) or doc.get("model") != "amqp" or not isinstance(doc.get("cases"), list):
        sys.exit(f"{path}: not the AMQP model's conformance file ({{\"model\": \"amqp\", \"cases\": [...]}})")
    names = [c["name"] for c in doc["cases"]]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        sys.exit(f"{path}: duplicate case names: {sorted(dup)}")
    return doc


WIDTH = 100


def to_text(v, indent=0, room=WIDTH):
    """JSON text for the conformance file: two-space indentation, and anything that fits in
    `room` characters (or is a [key, value] observation) on one line."""
    flat = json.dumps(v, ensure_ascii=False)
    pair = isinstance(v, list) and len(v) == 2 and not any(isinstance(x, (dict, list)) for x in v)
    if not isinstance(v, (dict, list)) or not v or pair or len(flat) <= room:
        return flat
    inner = indent + 2
    pad = " " * inner
    if isinstance(v, list):
        items = [pad + to_text(x, inner, WIDTH - inner - 1) for x in v]
    else:
        items = []
        for k, x in v.items():
            key = json.dumps(k, ensure_ascii=False) + ": "
            items.append(pad + key + to_text(x, inner, WIDTH - inner - len(key) - 1))
    close = "]" if isinstance(v, list) else "}"
    return ("[" if isinstance(v, list) else "{") + "\n" + ",\n".join(items) + "\n" + " " * indent + close


def write_file(path, doc):
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(to_text(doc) + "\n")
    os.replace(tmp, path)


def publishes(case):
    """Labels m1, m2, … in publish order."""
    n = 0
    for i, step in enumerate(case["steps"]):
        if "publish" in step:
            n += 1
            yield i, f"m{n}", step


def step_key(i, step):
    if "set_policy" in step:
        return f"step {i + 1} set_policy {step['set_policy']['name']}"
    if "clear_policy" in step:
        return f"step {i + 1} clear_policy {step['clear_policy']}"
    for verb in ("publish", "get", "ack", "nack", "reject"):
        if verb in step:
            return f"step {i + 1} {verb} {step[verb] or '(default)'}"
    raise ValueError(f"unknown step {step}")


def fmt_death(xdeath, first):
    """x-death without `time` (wall clock on the broker, simulated seconds here)."""
    if xdeath is None:
        return ""
    entries = []
    for e in xdeath:
        keys = ",".join(e.get("routing-keys", []))
        s = f"{{count={e.get('count')} reason={e.get('reason')} queue={e.get('queue')} exchange={e.get('exchange')!r} keys=[{keys}]"
        if "original-expiration" in e:
            s += f" original-expiration={e['original-expiration']}"
        entries.append(s + "}")
    out = " x-death=[" + " ".join(entries) + "]"
    if first is not None:
        out += " first-death=" + "/".join(repr(v) if k == 2 else v for k, v in enumerate(first))
    return out


def fmt_message(label, redelivered, xdeath, first, tag=None):
    s = label
    if tag is not None:
        s += f" tag={tag}"
    s += f" redelivered={str(bool(redelivered)).lower()}"
    return s + fmt_death(xdeath, first)


# ---------------------------------------------------------------------------------------------
# Switchboard side


def producer_id(step):
    target = step["publish"] if step["publish"] != "" else "default:" + step["routing_key"]
    return f"pub[{target}]" + ("[mandatory]" if step.get("mandatory") else "")


def message_template(label, step):
    m = {"routing_key": step.get("routing_key", ""), "headers": dict(step.get("headers", {}))}
    m["headers"]["label"] = label
    for k in ("priority", "body_bytes", "expiration"):
        if k in step:
            m[k] = step[k]
    return m


def scenario(case):
    nodes, edges, actions = [], [], []
    for x in case.get("exchanges", []):
        cfg = {"type": x.get("type", "direct")}
        if x.get("arguments"):
            cfg["arguments"] = x["arguments"]
        nodes.append({"id": x["name"], "kind": "exchange", "config": cfg})
    queues = [q["name"] for q in case.get("queues", [])]
    for q in case.get("queues", []):
        nodes.append({"id": q["name"], "kind": "queue", "config": {"arguments": q.get("arguments", {})}})
    for b in case.get("bindings", []):
        e = {"from": b["from"], "to": b["to"]}
        if b.get("routing_key"):
            e["routing_key"] = b["routing_key"]
        if b.get("arguments"):
            e["arguments"] = b["arguments"]
        edges.append(e)
    producers = {}
    for _, _, step in publishes(case):
        pid = producer_id(step)
        if pid not in producers:
            producers[pid] = step
            nodes.append({"id": pid, "kind": "producer",
                          "config": {"publisher_confirms": True, "mandatory": bool(step.get("mandatory"))}})
            to = step["publish"] if step["publish"] != "" else step["routing_key"]
            edges.append({"from": pid, "to": to, "latency": "1ms"})
    nodes.append({"id": CLIENT, "kind": "consumer", "config": {"prefetch_count": 1, "processing": "1h"}})
    labels = {i: label for i, label, _ in publishes(case)}
    for i, step in enumerate(case["steps"]):
        at = (i + 1) * STEP_US
        if "publish" in step:
            actions.append({"at": f"{at}us", "do": "publish", "node": producer_id(step),
                            "message": message_template(labels[i], step)})
        elif "set_policy" in step:
            actions.append({"at": f"{at}us", "do": "set_policy", "policy": step["set_policy"],
                            "operator": bool(step.get("operator"))})
        elif "clear_policy" in step:
            actions.append({"at": f"{at}us", "do": "clear_policy", "name": step["clear_policy"],
                            "operator": bool(step.get("operator"))})
        elif "get" in step:
            actions.append({"at": f"{at}us", "do": "add_edge",
                            "edge": {"from": step["get"], "to": CLIENT, "latency": "1ms"}})
            actions.append({"at": f"{at + 2000}us", "do": "remove_edge", "from": step["get"], "to": CLIENT})
        else:
            verb = next(v for v in ("ack", "nack", "reject") if v in step)
            # The tag is filled in by run_switchboard.
            a = {"at": f"{at}us", "do": verb, "node": CLIENT, "delivery_tag": ("TAG", step[verb])}
            if verb != "ack":
                a["requeue"] = step.get("requeue", True)
            actions.append(a)
    end = (len(case["steps"]) + 1) * STEP_US
    for q in queues:
        nodes.append({"id": f"drain[{q}]", "kind": "consumer", "config": {"prefetch_count": 0, "processing": "1h"}})
        actions.append({"at": f"{end}us", "do": "add_edge",
                        "edge": {"from": q, "to": f"drain[{q}]", "latency": "1ms"}})
    doc = {"version": 3, "name": case["name"], "nodes": nodes, "edges": edges, "actions": actions}
    # Policies and operator policies, as the broker has them before the case declares anything.
    for key in ("policies", "operator_policies"):
        if case.get(key):
            doc[key] = case[key]
    return doc, None, end + STEP_US


def run_switchboard(binary, case, workdir):
    """Runs the case in the simulator. A settlement names a delivery tag, which depends on the
    deliveries before it, so the scenario is run once per settlement step: each run fixes the
    next settlement's tag from its trace (the run up to then does not depend on later actions)."""
    doc, _, until = scenario(case)
    settles = [n for n, a in enumerate(doc["actions"]) if isinstance(a.get("delivery_tag"), tuple)]
    tags = {}  # action index -> delivery tag, or None when the label was not delivered before it
    while True:
        actions = []
        for n, a in enumerate(doc["actions"]):
            if n in settles:
                if tags.get(n) is None:
                    continue  # not fixed yet, or nothing to settle
                a = dict(a, delivery_tag=tags[n])
            actions.append(a)
        path = os.path.join(workdir, f"{case['name']}.json")
        with open(path, "w") as fh:
            json.dump(dict(doc, actions=actions), fh, indent=1)
        p = subprocess.run([binary, "run", path, "--until", f"{until}us", "--trace", "ndjson"],
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"switchboard run failed: {p.stderr.strip()}")
        with open(os.path.join(workdir, f"{case['name']}.trace.ndjson"), "w") as fh:
            fh.write(p.stdout)
        events = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
        obs, deliveries = observe_switchboard(case, events)
        todo = [n for n in settles if n not in tags]
        if not todo:
            return obs
        n = todo[0]
        a = doc["actions"][n]
        at = int(a["at"][:-2])
        label = a["delivery_tag"][1]
        before = [tag for t, lab, tag in deliveries if lab == label and t < at]
        tags[n] = before[-1] if before else None


def observe_switchboard(case, events):
    labels = [label for _, label, _ in publishes(case)]
    pub_steps = [i for i, _, _ in publishes(case)]
    label_of, xdeath, first = {}, {}, {}
    pub_index = 0
    outcome = {}  # label -> list of strings
    by_step = {i: [] for i in range(len(case["steps"]))}
    drains = {q["name"]: [] for q in case.get("queues", [])}
    deliveries = []  # (at, label, delivery tag) to the client
    end = (len(case["steps"]) + 1) * STEP_US
    for ev in events:
        t, kind = ev["at_us"], ev["type"]
        if kind == "published":
            label = labels[pub_index]
            label_of[ev["message"]] = label
            outcome[label] = []
            pub_index += 1
        elif kind == "routed":
            for c in ev["copies"]:
                label_of[c] = label_of[ev["message"]]
                if ev["message"] in xdeath:
                    xdeath[c] = xdeath[ev["message"]]
                    first[c] = first[ev["message"]]
        elif kind == "dead_lettered":
            m = ev["message"]
            xdeath[m] = ev["x-death"]
            if m not in first:
                e = ev["x-death"][0]
                first[m] = (e["reason"], e["queue"], e["exchange"])
        elif kind == "returned":
            outcome[label_of[ev["message"]]].append(f"returned {ev['reply_code']} {ev['reply_text']}")
        elif kind == "confirmed":
            outcome[label_of[ev["message"]]].append("ack")
        elif kind == "publish_nacked":
            outcome[label_of[ev["message"]]].append("nack")
        elif kind == "delivered":
            m = ev["message"]
            label = label_of.get(m, f"?{m}")
            if ev["consumer"] == CLIENT:
                step = t // STEP_US - 1
                deliveries.append((t, label, ev["delivery_tag"]))
                by_step[step].append(fmt_message(label, ev["redelivered"], xdeath.get(m), first.get(m),
                                                 ev["delivery_tag"]))
            elif t >= end:
                drains[ev["queue"]].append(fmt_message(label, ev["redelivered"], xdeath.get(m), first.get(m)))
        elif kind == "channel_error":
            step = t // STEP_US - 1
            by_step.setdefault(step, []).append(f"channel error {ev['code']} {ev['text']}")
    obs = []
    for i, step in enumerate(case["steps"]):
        key = step_key(i, step)
        if "publish" in step:
            label = labels[pub_steps.index(i)]
            obs.append((key, f"{label}: " + ", ".join(outcome.get(label, []) or ["no confirm"])))
        elif "set_policy" in step or "clear_policy" in step:
            continue  # nothing a client sees; its effects show in the queues
        elif "get" in step:
            got = by_step.get(i, [])
            obs.append((key, "; ".join(got) if got else "empty"))
        else:
            verb = next(v for v in ("ack", "nack", "reject") if v in step)
            errs = by_step.get(i, [])
            at = (i + 1) * STEP_US
            if not any(lab == step[verb] and t < at for t, lab, _ in deliveries):
                obs.append((key, "not held"))
            elif errs:
                obs.append((key, "; ".join(errs)))
    for q, msgs in drains.items():
        obs.append((f"end {q}", f"{len(msgs)} ready"))
        for n, m in enumerate(msgs):
            obs.append((f"end {q} #{n + 1}", m))
    return obs, deliveries


# ---------------------------------------------------------------------------------------------
# RabbitMQ side


def text(v):
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else v


def broker_death(headers):
    if not headers or "x-death" not in headers:
        return None, None
    entries = []
    for e in headers["x-death"]:
        d = {k: text(v) for k, v in e.items()}
        d["routing-keys"] = [text(k) for k in e.get("routing-keys", [])]
        entries.append(d)
    first = None
    if "x-first-death-reason" in headers:
        first = tuple(text(headers.get(f"x-first-death-{k}")) for k in ("reason", "queue", "exchange"))
    return entries, first


def encode_doubles(pika):
    """pika 1.3 cannot encode a float; AMQP has doubles ('d'), as RabbitMQ's own clients send.
    encode_table and encode_value look encode_value up in their module, so wrapping it there
    makes every table (headers, arguments) take floats."""
    import struct
    plain = pika.data.encode_value
    if getattr(plain, "doubles", False):
        return

    def encode_value(pieces, value):
        if isinstance(value, float):
            pieces.append(struct.pack(">cd", b"d", value))
            return 9
        return plain(pieces, value)

    encode_value.doubles = True
    pika.data.encode_value = encode_value


def run_rabbitmq(pika, port, case):
    params = pika.ConnectionParameters(host="127.0.0.1", port=port, connection_attempts=3,
                                       credentials=pika.PlainCredentials("guest", "guest"))
    conn = pika.BlockingConnection(params)
    try:
        return _run_rabbitmq(pika, conn, case)
    finally:
        try:
            cleanup = conn.channel()
            for q in case.get("queues", []):
                cleanup.queue_delete(q["name"])
            for x in case.get("exchanges", []):
                cleanup.exchange_delete(x["name"])
            clear_policies(case)
        finally:
            conn.close()


def ctl(command, policy=None, name=None):
    """rabbitmqctl set_policy / set_operator_policy POLICY, or clear_* NAME (the environment is
    the throwaway broker's, from scripts/rabbitmq/broker.sh)."""
    if policy is None:
        args = [command, name]
    else:
        args = [command, "--apply-to", policy.get("apply-to", "all"), "--priority",
                str(policy.get("priority", 0)), policy["name"], policy["pattern"],
                json.dumps(policy["definition"])]
    r = subprocess.run(["rabbitmqctl", "-q"] + args, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {r.stdout}{r.stderr}")


def clear_policies(case):
    """Clears every policy the case set, at the start or in a step (one already cleared by a
    step is not an error)."""
    names = {(False, p["name"]) for p in case.get("policies", [])}
    names |= {(True, p["name"]) for p in case.get("operator_policies", [])}
    names |= {(bool(s.get("operator")), s["set_policy"]["name"])
              for s in case["steps"] if "set_policy" in s}
    for operator, name in sorted(names):
        try:
            ctl("clear_operator_policy" if operator else "clear_policy", name=name)
        except RuntimeError:
            pass


def _run_rabbitmq(pika, conn, case):
    setup = conn.channel()
    queues = [q["name"] for q in case.get("queues", [])]
    for q in queues:
        setup.queue_delete(q)
    # Policies are set with rabbitmqctl (AMQP has no command for them), before the declarations,
    # so each queue is declared under them; they are cleared when the case ends.
    for p in case.get("policies", []):
        ctl("set_policy", p)
    for p in case.get("operator_policies", []):
        ctl("set_operator_policy", p)
    for x in case.get("exchanges", []):
        setup.exchange_delete(x["name"])
    for x in case.get("exchanges", []):
        setup.exchange_declare(x["name"], exchange_type=x.get("type", "direct"), durable=True,
                               arguments=x.get("arguments") or None)
    for q in case.get("queues", []):
        setup.queue_declare(q["name"], durable=True, arguments=q.get("arguments") or None)
    for b in case.get("bindings", []):
        kind = "exchange" if any(x["name"] == b["to"] for x in case.get("exchanges", [])) else "queue"
        if kind == "queue":
            setup.queue_bind(b["to"], b["from"], routing_key=b.get("routing_key", ""),
                             arguments=b.get("arguments") or None)
        else:
            setup.exchange_bind(b["to"], b["from"], routing_key=b.get("routing_key", ""),
                                arguments=b.get("arguments") or None)
    pub = conn.channel()
    pub.confirm_delivery()
    chan = {"client": conn.channel()}
    labels = {i: label for i, label, _ in publishes(case)}
    held = {}

    def barrier():
        # A passive declare goes through each queue's process, after what this channel sent it.
        for _ in range(2):
            for q in queues:
                chan["client"].queue_declare(q, passive=True)

    obs = []
    for i, step in enumerate(case["steps"]):
        key = step_key(i, step)
        client = chan["client"]
        if "set_policy" in step:
            ctl("set_operator_policy" if step.get("operator") else "set_policy", step["set_policy"])
            barrier()
            continue
        if "clear_policy" in step:
            ctl("clear_operator_policy" if step.get("operator") else "clear_policy",
                name=step["clear_policy"])
            barrier()
            continue
        if "publish" in step:
            label = labels[i]
            headers = dict(step.get("headers", {}))
            headers["label"] = label
            props = pika.BasicProperties(headers=headers, priority=step.get("priority"),
                                         expiration=step.get("expiration"))
            body = b"x" * step.get("body_bytes", 0)
            try:
                pub.basic_publish(step["publish"], step.get("routing_key", ""), body, props,
                                  mandatory=bool(step.get("mandatory")))
                out = ["ack"]
            except pika.exceptions.UnroutableError as e:
                out = [f"returned {m.method.reply_code} {m.method.reply_text}" for m in e.messages] + ["ack"]
            except pika.exceptions.NackError:
                out = ["nack"]
            obs.append((key, f"{label}: " + ", ".join(out)))
            barrier()
        elif "get" in step:
            method, props, _ = client.basic_get(step["get"], auto_ack=False)
            if method is None:
                obs.append((key, "empty"))
            else:
                label = text((props.headers or {}).get("label", "?"))
                held[label] = method.delivery_tag
                xd, first = broker_death(props.headers)
                obs.append((key, fmt_message(label, method.redelivered, xd, first, method.delivery_tag)))
        else:
            verb = next(v for v in ("ack", "nack", "reject") if v in step)
            label = step[verb]
            if label not in held:
                obs.append((key, "not held"))
                continue
            tag = held[label]
            try:
                if verb == "ack":
                    client.basic_ack(tag)
                elif verb == "nack":
                    client.basic_nack(tag, requeue=step.get("requeue", True))
                else:
                    client.basic_reject(tag, requeue=step.get("requeue", True))
                barrier()
            except pika.exceptions.ChannelClosedByBroker as e:
                # As the model's consumer: its channel is gone, its deliveries requeued. Later
                # steps use a fresh channel (delivery tags from 1 again).
                obs.append((key, f"channel error {e.reply_code} {e.reply_text}"))
                held.clear()
                chan["client"] = conn.channel()
                barrier()
    drain = conn.channel()
    for q in queues:
        msgs = []
        while True:
            method, props, _ = drain.basic_get(q, auto_ack=True)
            if method is None:
                break
            xd, first = broker_death(props.headers)
            msgs.append(fmt_message(text((props.headers or {}).get("label", "?")), method.redelivered, xd, first))
        obs.append((f"end {q}", f"{len(msgs)} ready"))
        for n, m in enumerate(msgs):
            obs.append((f"end {q} #{n + 1}", m))
    return obs


# ---------------------------------------------------------------------------------------------


def broker_version(pika, port):
    params = pika.ConnectionParameters(host="127.0.0.1", port=port, connection_attempts=3)
    conn = pika.BlockingConnection(params)
    try:
        return text(conn._impl.server_properties.get("version", b"?"))  # noqa: SLF001
    finally:
        conn.close()


def major(version):
    head = version.split(".")[0]
    return int(head) if head.isdigit() else None


def known_difference(case, version, diffs_keys):
    """A case's `known_before_4` names the observations that RabbitMQ 3.x is known to give
    differently from the 4.x rules the model follows. Returns its note if every difference is
    one of those and the broker is 3.x, else None."""
    known = case.get("known_before_4")
    if not known or major(version) is None or major(version) >= 4:
        return None
    return known["note"] if set(diffs_keys) <= set(known["keys"]) else None


def to_record(case, version, ours, theirs):
    """What --record writes: (`observed`, the 3.x values of `known_before_4`'s keys or None).
    `observed` is the broker's observations, except that on a 3.x broker the keys of
    `known_before_4` take the simulator's values (RabbitMQ 4's, the model's version): a key only
    the broker gave is left out, one only the simulator gave is put after the key before it."""
    known = case.get("known_before_4")
    if not known or major(version) is None or major(version) >= 4:
        return [list(o) for o in theirs], None
    keys = set(known["keys"])
    o = dict(ours)
    observed = [[k, o[k] if k in keys else v] for k, v in theirs if k not in keys or k in o]
    have = {k for k, _ in observed}
    for n, (k, v) in enumerate(ours):
        if k in keys and k not in have:
            before = [pk for pk, _ in ours[:n] if pk in have]
            at = next(i for i, (pk, _) in enumerate(observed) if pk == before[-1]) + 1 if before else 0
            observed.insert(at, [k, v])
            have.add(k)
    return observed, [[k, v] for k, v in theirs if k in keys]


def record(case, observed, old_3x):
    """Puts `observed` (and the 3.x values) into the case, after its steps' fields."""
    if old_3x is not None:
        case["known_before_4"]["observed"] = old_3x
    case.pop("observed", None)
    case["observed"] = observed


def stale(case, observed, old_3x):
    """Why the case's recorded observations are not what --record would write now, or None."""
    if case.get("observed") is None:
        return "no recorded observations"
    if case["observed"] != observed:
        return "recorded observations differ from the broker's: " + "; ".join(
            d for _, d in compare_with(case["observed"], observed, "recorded", "rabbitmq"))
    if old_3x is not None and case["known_before_4"].get("observed") != old_3x:
        return "known_before_4.observed differs from the broker's"
    return None


def compare_with(ours, theirs, our_side, their_side):
    """Differences as lines: each key whose values differ, with what each side did."""
    o, t = dict(ours), dict(theirs)
    keys = [k for k, _ in theirs] + [k for k, _ in ours if k not in t]
    return [(k, f"{k}: {their_side}: {t.get(k, '(nothing)')} | {our_side}: {o.get(k, '(nothing)')}")
            for k in keys if o.get(k) != t.get(k)]


def compare(ours, theirs):
    return compare_with(ours, theirs, "switchboard", "rabbitmq")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--switchboard", required=True)
    ap.add_argument("--work", default=None, help="where scenarios and traces go")
    ap.add_argument("--only", action="append", default=[], help="run only these cases")
    ap.add_argument("--verbose", "-v", action="store_true", help="print every observation")
    ap.add_argument("--accept-known", action="store_true",
                    help="count a case as ok when its only differences are the ones its "
                         "known_before_4 lists and the broker is RabbitMQ 3.x")
    ap.add_argument("--record", action="store_true",
                    help="write the broker's observations into the file as each case's observed")
    ap.add_argument("file", nargs="?", default=CASES, help="the conformance file (conformance/amqp.json)")
    args = ap.parse_args()
    import pika  # the venv's, pinned by check-conformance.sh
    import pika.data

    encode_doubles(pika)

    doc = load_file(args.file)
    cases = doc["cases"]
    if args.only:
        unknown = set(args.only) - {c["name"] for c in cases}
        if unknown:
            sys.exit(f"no such case: {sorted(unknown)}")
        cases = [c for c in cases if c["name"] in args.only]
    work = args.work or os.path.join(os.environ.get("TMPDIR", "/tmp"), "switchboard-conformance")
    os.makedirs(work, exist_ok=True)
    version = broker_version(pika, args.port)
    print(f"RabbitMQ {version} on port {args.port}; {len(cases)} cases", file=sys.stderr)
    passed = failed = recorded = 0
    for case in cases:
        name = case["name"]
        try:
            ours = run_switchboard(args.switchboard, case, work)
        except Exception as e:  # noqa: BLE001 - reported per case
            print(f"DIFF {name}: switchboard side failed: {e}")
            failed += 1
            continue
        try:
            theirs = run_rabbitmq(pika, args.port, case)
        except Exception as e:  # noqa: BLE001
            print(f"DIFF {name}: rabbitmq side failed: {type(e).__name__}: {e}")
            failed += 1
            continue
        with open(os.path.join(work, f"{name}.observed.txt"), "w") as fh:
            for side, obs in (("rabbitmq", theirs), ("switchboard", ours)):
                for k, v in obs:
                    fh.write(f"{side}\t{k}\t{v}\n")
        observed, old_3x = to_record(case, version, ours, theirs)
        if args.record:
            record(case, observed, old_3x)
            recorded += 1
        why_stale = stale(case, observed, old_3x)
        diffs = compare(ours, theirs)
        note = known_difference(case, version, [k for k, _ in diffs]) if diffs else None
        if diffs and note and args.accept_known:
            print(f"ok   {name} (known RabbitMQ {version} vs 4.x difference: {note})")
        elif diffs:
            print(f"DIFF {name}: {len(diffs)} observation(s) differ"
                  + (f" (known RabbitMQ {version} vs 4.x difference: {note})" if note else ""))
            for _, d in diffs:
                print(f"     {d}")
        else:
            print(f"ok   {name}")
        if why_stale:
            print(f"STALE {name}: {why_stale}; record them with scripts/check-conformance.sh --record")
        if (diffs and not (note and args.accept_known)) or why_stale:
            failed += 1
        else:
            passed += 1
        if args.verbose:
            for k, v in theirs:
                print(f"     {k}: {v}")
    if args.record:
        doc["observed_with"] = (f"RabbitMQ {version} (pika {pika.__version__}); the keys of a case's "
                                "known_before_4 as RabbitMQ 4 gives them (the model's version)")
        write_file(args.file, doc)
        print(f"recorded {recorded} case(s) in {args.file}", file=sys.stderr)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
