#!/usr/bin/env python3
"""The BullMQ model against real BullMQ: the same case, run by `run-case.mjs` on real BullMQ and
Redis and by the simulator through the CLI, compared.

    differential.py CLI CASE.json REAL.ndjson

CASE.json is a case of scripts/bullmq/cases/; REAL.ndjson what run-case.mjs printed for it. The
case becomes a scenario (a producer adds the jobs 1 ms apart, or at their `atMs`, a queue, the workers with their
options, a flow producer of its own for each flow; a pause until `pauseQueueUntilMs`; workers
connected at `startWorkersAtMs`), runs in
the CLI, and the two runs are compared:

- the order in which jobs were taken (every attempt), exactly;
- each job's queue events (`added`, `waiting`, `delayed`, `active`, `completed`, `failed`,
  `retries-exhausted`, `stalled`, `waiting-children`), exactly;
- each job's end (completed or failed), exactly;
- the gaps between a failed attempt and its retry, within TOLERANCE_MS;
- each job's first start after the first job's, within TOLERANCE_MS.

Real timing is not exact (Redis wakes a blocked worker on its event loop's tick, and the
harness adds jobs over a few ms); the tolerance is stated here and in docs/bullmq.md.
Prints one line per check and exits 1 if any fails.
"""

import json
import subprocess
import sys
import tempfile

TOLERANCE_MS = 40
LINK = "250us"  # one Redis call on 127.0.0.1, one way

# The simulator's trace types that are BullMQ queue events, under BullMQ's names.
QUEUE_EVENTS = {
    "added": "added",
    "waiting": "waiting",
    "delayed": "delayed",
    "active": "active",
    "completed": "completed",
    "failed": "failed",
    "retries_exhausted": "retries-exhausted",
    "stalled": "stalled",
    "waiting_children": "waiting-children",
}


def all_jobs(jobs):
    """Every job of the case, flows' children included."""
    for j in jobs:
        yield j
        yield from all_jobs(j.get("children", []))


def fails_of(j):
    p = j.get("process", {})
    fails = p.get("failUntil", 0)
    if "fail" in p:
        fails = max(p["fail"])
    return fails


def flow_child(j):
    """A case job below a flow's root as a producer's `children` entry (same queue)."""
    c = {"name": j["name"], "queueName": "q", "opts": j.get("opts", {}), "fails": fails_of(j)}
    if j.get("process", {}).get("unrecoverable"):
        c["unrecoverable"] = True
    if j.get("children"):
        c["children"] = [flow_child(x) for x in j["children"]]
    return c


def scenario(case):
    """The case as a scenario document, and how long to run it (s)."""
    jobs = case.get("jobs", [])
    ms = max((j.get("process", {}).get("ms", 10) for j in all_jobs(jobs)), default=10)
    workers = case.get("workers", [{"concurrency": 1}])
    nodes = [
        {"id": "app", "kind": "job_producer"},
        {"id": "q", "kind": "job_queue"},
    ]
    edges = [{"from": "app", "to": "q", "latency": LINK}]
    actions = []
    start = case.get("startWorkersAtMs", 0)
    for i, w in enumerate(workers):
        cfg = {"concurrency": w.get("concurrency", 1), "processing_time": f"{ms}ms"}
        for k, v in w.get("opts", {}).items():
            cfg[k] = v
        if "limiter" in w:
            cfg["limiter"] = w["limiter"]
        nodes.append({"id": f"w{i}", "kind": "worker", "config": cfg})
        edge = {"from": "q", "to": f"w{i}", "latency": LINK}
        if start:
            actions.append({"at": f"{start}ms", "do": "add_edge", "edge": edge})
        else:
            edges.append(edge)
    if "pauseQueueUntilMs" in case:
        actions.append({"at": "0ms", "do": "pause", "node": "q"})
        actions.append({"at": f"{case['pauseQueueUntilMs']}ms", "do": "resume", "node": "q"})
    for i, j in enumerate(jobs):
        p = j.get("process", {})
        job = {"name": j["name"], "opts": j.get("opts", {}), "fails": fails_of(j)}
        if p.get("unrecoverable"):
            job["unrecoverable"] = True
        at = j.get("atMs", 0) + 1 + i
        producer = "app"
        if j.get("children"):
            # A flow: a flow producer of its own, whose jobs are this one's parents.
            producer = f"flow{i}"
            nodes.append({"id": producer, "kind": "job_producer",
                          "config": {"children": [flow_child(c) for c in j["children"]]}})
            edges.append({"from": producer, "to": "q", "latency": LINK})
        actions.append(
            {"at": f"{at}ms", "do": "publish", "node": producer, "message": {"job": job}}
        )
    if "scheduler" in case:
        sc = case["scheduler"]
        rep = sc["repeat"]
        cfg = {"id": sc["id"]}
        for k in ("every", "pattern", "limit", "tz", "immediately", "startDate", "endDate", "offset"):
            if k in rep:
                cfg[k] = rep[k]
        ms = max(ms, sc.get("process", {}).get("ms", 10))
        for n in nodes:
            if n["kind"] == "worker":
                n["config"]["processing_time"] = f"{ms}ms"
        nodes.append({"id": "scheduler", "kind": "job_producer",
                      "config": {"name": sc["name"], "opts": sc.get("opts", {}),
                                 "fails": fails_of(sc), "scheduler": cfg}})
        edges.append({"from": "scheduler", "to": "q", "latency": LINK})
    actions.sort(key=lambda a: float(a["at"].rstrip("ms")))
    doc = {"version": 6, "seed": 1, "nodes": nodes, "edges": edges, "actions": actions}
    return doc, case.get("timeoutMs", 5000) / 1000 + 5


def summarise(events):
    """Order, per-job queue events, active and failed times, end; from (t_ms, kind, name)."""
    order, per, active, failed, final = [], {}, {}, {}, {}
    for t, kind, name in events:
        if kind == "active":
            order.append(name)
            active.setdefault(name, []).append(t)
        if kind == "worker_failed":
            failed.setdefault(name, []).append(t)
        if kind in ("completed", "failed"):
            final[name] = kind
        if kind in QUEUE_EVENTS.values():
            per.setdefault(name, []).append(kind)
    return order, per, active, failed, final


def real_events(path):
    ids, events = {}, []
    for line in open(path):
        d = json.loads(line)
        if "summary" in d or "check" in d:
            continue
        name = d.get("name") or ids.get(d.get("jobId"))
        if d.get("jobId") and name:
            ids[d["jobId"]] = name
        if d.get("src") == "queue" and d.get("event") in QUEUE_EVENTS.values() and name:
            events.append((d["t"], d["event"], name))
        elif d.get("src") == "worker" and d.get("event") == "failed" and name:
            events.append((d["t"], "worker_failed", name))
    return events


def sim_events(cli, doc, until):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(doc, f)
    out = subprocess.run(
        [cli, "run", f.name, "--until", f"{until}s", "--trace", "ndjson"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    events, scheduled = [], {}

    def name(d):
        # A scheduler's jobs are named in the order their ids appear, as run-case.mjs names them.
        job = d.get("job", "")
        if job.startswith("repeat:"):
            scheduled.setdefault(job, f"{d['name']}#{len(scheduled) + 1}")
            return scheduled[job]
        return d["name"]

    for line in out.splitlines():
        d = json.loads(line)
        t = d["at_us"] / 1000
        if d["type"] in QUEUE_EVENTS:
            events.append((t, QUEUE_EVENTS[d["type"]], name(d)))
        elif d["type"] == "worker_failed":
            events.append((t, "worker_failed", name(d)))
    return events


def gaps(active, failed):
    """Per job, from each failed attempt to the next start after it (its retry), if any. A
    start that came between (a stalled job taken again) is not a retry: only starts after the
    failure count."""
    out = {}
    for name, fs in failed.items():
        acts = active.get(name, [])
        out[name] = []
        for f in fs:
            after = [a for a in acts if a >= f]
            if after:
                out[name].append(round(after[0] - f))
    return out


def firsts(active):
    first = {n: ts[0] for n, ts in active.items()}
    if not first:
        return {}
    zero = min(first.values())
    return {n: round(t - zero) for n, t in first.items()}


def main():
    cli, case_path, real_path = sys.argv[1:4]
    case = json.load(open(case_path))
    doc, until = scenario(case)
    r_order, r_per, r_act, r_fail, r_final = summarise(real_events(real_path))
    s_order, s_per, s_act, s_fail, s_final = summarise(sim_events(cli, doc, until))
    ok = True

    def check(what, good, real, sim):
        nonlocal ok
        ok &= good
        print(f"  {'ok  ' if good else 'FAIL'} {what}: real {json.dumps(real)} sim {json.dumps(sim)}")

    check("order", r_order == s_order, r_order, s_order)
    for name in sorted(set(r_per) | set(s_per)):
        check(f"queue events {name}", r_per.get(name) == s_per.get(name), r_per.get(name), s_per.get(name))
    check("ends", r_final == s_final, r_final, s_final)
    rg, sg = gaps(r_act, r_fail), gaps(s_act, s_fail)
    for name in sorted(set(rg) | set(sg)):
        a, b = rg.get(name, []), sg.get(name, [])
        good = len(a) == len(b) and all(abs(x - y) <= TOLERANCE_MS for x, y in zip(a, b))
        check(f"retry gaps {name} (±{TOLERANCE_MS} ms)", good, a, b)
    rf, sf = firsts(r_act), firsts(s_act)
    good = rf.keys() == sf.keys() and all(abs(rf[n] - sf[n]) <= TOLERANCE_MS for n in rf)
    check(f"first starts (±{TOLERANCE_MS} ms)", good, rf, sf)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
