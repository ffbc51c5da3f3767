//! Randomized BullMQ topologies: queues with global concurrency and rate limits, producers
//! with every kind of job option (attempts, fixed and exponential backoff with jitter, delays,
//! priorities, LIFO, retention, custom ids, deduplication), workers with limiters and short
//! locks, and live faults (workers crashed, restarted, their event loops blocked, disconnected
//! and connected again; queues paused). Conservation
//! and the model's invariants (every job in exactly one set, matching its state; attempts made
//! within attempts started and `attempts`) are checked after every event. When no fault can
//! lose a job's last attempt, every job added ends completed or failed. A failure names its
//! seed (`SWITCHBOARD_SEED=n`; `SWITCHBOARD_DUMP=1` prints the document).

mod common;

use serde_json::{json, Value};
use switchboard_core::rng::SimRng;
use switchboard_core::{Scenario, SimTime};

fn pick<'a>(rng: &mut SimRng, xs: &'a [&'a str]) -> &'a str {
    xs[rng.range_inclusive(0, xs.len() as u64 - 1) as usize]
}

fn opts(rng: &mut SimRng, custom_ids: bool) -> Value {
    let mut o = json!({});
    if rng.chance(0.7) {
        o["attempts"] = json!(rng.range_inclusive(1, 5));
    }
    match rng.range_inclusive(0, 3) {
        0 => o["backoff"] = json!(rng.range_inclusive(1, 400)),
        1 => {
            o["backoff"] = json!({"type": pick(rng, &["fixed", "exponential"]),
                "delay": rng.range_inclusive(0, 300), "jitter": rng.range_inclusive(0, 10) as f64 / 10.0})
        }
        _ => {}
    }
    if rng.chance(0.3) {
        o["delay"] = json!(rng.range_inclusive(1, 2000));
    }
    if rng.chance(0.4) {
        o["priority"] = json!(rng.range_inclusive(0, 20) as i64 - 2);
    }
    if rng.chance(0.3) {
        o["lifo"] = json!(true);
    }
    match rng.range_inclusive(0, 3) {
        0 => o["removeOnComplete"] = json!(rng.chance(0.5)),
        1 => o["removeOnComplete"] = json!(rng.range_inclusive(0, 20)),
        2 => {
            o["removeOnComplete"] =
                json!({"age": rng.range_inclusive(1, 5), "count": rng.range_inclusive(1, 30)})
        }
        _ => {}
    }
    if rng.chance(0.3) {
        o["removeOnFail"] = json!(rng.range_inclusive(0, 5));
    }
    if custom_ids {
        o["jobId"] = json!(format!("job-{}", rng.range_inclusive(0, 8)));
    }
    if rng.chance(0.2) {
        let mut d = json!({"id": format!("d{}", rng.range_inclusive(0, 3))});
        if rng.chance(0.5) {
            d["ttl"] = json!(rng.range_inclusive(1, 3000));
            d["extend"] = json!(rng.chance(0.5));
            d["replace"] = json!(rng.chance(0.5));
        }
        o["deduplication"] = d;
    }
    o
}

/// A flow's children (1 to 3, in any of the `queues`), each with one of the five ways its
/// final failure treats its parent, some with children of their own.
fn children(rng: &mut SimRng, queues: u64, depth: u32) -> Value {
    let mut out = Vec::new();
    for i in 0..rng.range_inclusive(1, 3) {
        let mut o = json!({});
        if rng.chance(0.4) {
            o["attempts"] = json!(rng.range_inclusive(1, 3));
            o["backoff"] = json!(rng.range_inclusive(0, 300));
        }
        if rng.chance(0.2) {
            o["delay"] = json!(rng.range_inclusive(0, 2000));
        }
        if rng.chance(0.2) {
            o["priority"] = json!(rng.range_inclusive(1, 5));
        }
        let how = pick(
            rng,
            &[
                "",
                "failParentOnFailure",
                "continueParentOnFailure",
                "ignoreDependencyOnFailure",
                "removeDependencyOnFailure",
            ],
        );
        if !how.is_empty() {
            o[how] = json!(true);
        }
        let mut c = json!({"name": format!("child-{depth}-{i}"),
            "queueName": format!("q{}", rng.range_inclusive(0, queues - 1)),
            "opts": o, "fails": rng.range_inclusive(0, 2)});
        if depth < 2 && rng.chance(0.3) {
            c["children"] = children(rng, queues, depth + 1);
        }
        out.push(c);
    }
    Value::Array(out)
}

/// A random topology from `seed`; `faults` adds crashes, blocked event loops and pauses.
fn random(seed: u64, faults: bool) -> Value {
    let mut rng = SimRng::new(seed);
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    let mut actions = Vec::new();
    let queues = rng.range_inclusive(1, 2);
    let mut workers = Vec::new();
    for q in 0..queues {
        let mut cfg = json!({});
        if rng.chance(0.3) {
            cfg["globalConcurrency"] = json!(rng.range_inclusive(1, 4));
        }
        if rng.chance(0.2) {
            cfg["globalRateLimit"] = json!({"max": rng.range_inclusive(1, 10), "duration": rng.range_inclusive(100, 2000)});
        }
        nodes.push(json!({"id": format!("q{q}"), "kind": "job_queue", "config": cfg}));
        for p in 0..rng.range_inclusive(1, 2) {
            let id = format!("p{q}-{p}");
            let mut flows = false;
            let custom = rng.chance(0.2);
            nodes.push(json!({"id": id, "kind": "job_producer", "config": {
                "rate_per_s": rng.range_inclusive(1, 40), "limit": rng.range_inclusive(5, 200),
                "opts": opts(&mut rng, custom), "fails": rng.range_inclusive(0, 2)}}));
            if rng.chance(0.2) {
                nodes.last_mut().unwrap()["config"]["scheduler"] = json!({"id": format!("s{p}"),
                    "every": rng.range_inclusive(50, 2000), "limit": rng.range_inclusive(1, 30)});
            } else if rng.chance(0.25) {
                // A flow producer: each job a parent of children in any queue.
                let cfg = &mut nodes.last_mut().unwrap()["config"];
                let o = cfg["opts"].as_object_mut().unwrap();
                o.remove("jobId");
                o.remove("deduplication");
                cfg["children"] = children(&mut rng, queues, 0);
                flows = true;
            }
            edges.push(json!({"from": id, "to": format!("q{q}"), "latency": format!("{}ms", rng.range_inclusive(0, 5))}));
            for i in 0..rng.range_inclusive(0, 3) {
                let at = rng.range_inclusive(0, 30_000) + i;
                let mut o = opts(&mut rng, false);
                if flows {
                    o.as_object_mut().unwrap().remove("deduplication");
                }
                actions.push(json!({"at": format!("{at}ms"),
                    "do": "publish", "node": id,
                    "message": {"job": {"name": format!("scripted-{i}"), "opts": o,
                        "fails": rng.range_inclusive(0, 3), "unrecoverable": rng.chance(0.1)}}}));
            }
        }
        for w in 0..rng.range_inclusive(1, 3) {
            let id = format!("w{q}-{w}");
            let mut cfg = json!({
                "concurrency": rng.range_inclusive(1, 6),
                "processing_time": format!("{}ms", rng.range_inclusive(1, 400)),
                "fail_rate": rng.range_inclusive(0, 4) as f64 / 10.0,
                "lockDuration": rng.range_inclusive(200, 5000),
                "stalledInterval": rng.range_inclusive(100, 3000),
                "maxStalledCount": rng.range_inclusive(0, 2),
                "drainDelay": rng.range_inclusive(1, 5),
            });
            if rng.chance(0.3) {
                cfg["limiter"] = json!({"max": rng.range_inclusive(1, 10), "duration": rng.range_inclusive(100, 2000)});
            }
            nodes.push(json!({"id": id, "kind": "worker", "config": cfg}));
            let latency = format!("{}ms", rng.range_inclusive(0, 3));
            edges.push(json!({"from": format!("q{q}"), "to": id, "latency": latency}));
            if faults && rng.chance(0.3) {
                // The worker is disconnected (a forced close) and connected again.
                let at = rng.range_inclusive(0, 30_000);
                actions.push(json!({"at": format!("{at}ms"), "do": "remove_edge", "from": format!("q{q}"), "to": id}));
                actions.push(json!({"at": format!("{}ms", at + rng.range_inclusive(1, 5000)), "do": "add_edge",
                    "edge": {"from": format!("q{q}"), "to": id, "latency": latency}}));
            }
            workers.push(id);
        }
        if faults && rng.chance(0.5) {
            let at = rng.range_inclusive(0, 30_000);
            actions.push(json!({"at": format!("{at}ms"), "do": "pause", "node": format!("q{q}")}));
            actions.push(json!({"at": format!("{}ms", at + rng.range_inclusive(1, 5000)), "do": "resume", "node": format!("q{q}")}));
        }
    }
    if faults {
        for w in &workers {
            if rng.chance(0.5) {
                let at = rng.range_inclusive(0, 30_000);
                let what = pick(&mut rng, &["crash", "pause"]);
                let back = if what == "crash" { "restart" } else { "resume" };
                actions.push(json!({"at": format!("{at}ms"), "do": what, "node": w}));
                actions.push(json!({"at": format!("{}ms", at + rng.range_inclusive(1, 8000)), "do": back, "node": w}));
            }
        }
    }
    actions.sort_by_key(|a| {
        let at = a["at"].as_str().unwrap();
        at.trim_end_matches("ms").parse::<u64>().unwrap()
    });
    json!({"version": 6, "seed": seed, "nodes": nodes, "edges": edges, "actions": actions})
}

fn load(doc: &Value) -> Scenario {
    if std::env::var("SWITCHBOARD_DUMP").is_ok() {
        println!("{doc:#}");
    }
    Scenario::from_json(&doc.to_string())
        .unwrap_or_else(|d| panic!("invalid generated document:\n{d}\n{doc:#}"))
}

#[test]
fn random_queues_conserve_every_job_with_faults() {
    common::sweep("bullmq_random", 40, |seed| {
        let s = load(&random(seed, true));
        common::run_events(&s, SimTime(60_000_000), true);
    });
}

/// Without faults, every job added ends: completed, failed (after its attempts) or replaced by
/// a deduplicated add, once the
/// producers have long stopped, every backoff has passed and even the slowest rate limiter
/// (one job per two seconds) has let every attempt through: within two simulated hours.
/// Conservation is checked after every event of the first minute, and at the end.
#[test]
fn without_faults_every_job_ends_completed_or_failed() {
    common::sweep("bullmq_random", 40, |seed| {
        let s = load(&random(seed, false));
        let (_, mut sim) = common::run_events(&s, SimTime(60_000_000), true);
        sim.advance_to(SimTime(7_200_000_000));
        sim.check_conservation()
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let m = sim.metrics();
        for n in &m.nodes {
            if let Some(switchboard_core::bullmq::BullmqMetrics::Queue(q)) = n.bullmq() {
                assert_eq!(
                    (q.waiting, q.prioritized, q.delayed, q.active),
                    (0, 0, 0, 0),
                    "seed {seed}: jobs left in {}: {q:?}",
                    n.name
                );
                // A flow's parent whose child failed for good, with none of the four
                // options, waits for ever.
                assert_eq!(
                    q.stats.added,
                    q.stats.completed + q.stats.failed + q.stats.removed + q.waiting_children,
                    "seed {seed}: {}: {:?}",
                    n.name,
                    q.stats
                );
            }
        }
    });
}
