//! Helpers for the Kafka model's tests: typed events of a run, and a builder of random
//! topologies (topics, producers, groups of consumers) with live faults.

use serde_json::{json, Value};
use switchboard_core::kafka::KafkaEvent;
use switchboard_core::rng::SimRng;
use switchboard_core::{Event, EventKind, SimTime};

// Each test crate uses some of the shared helpers, not all.
#[allow(unused_imports)]
pub use super::run_events as run;

/// The model's events, with their times.
pub fn kafka(events: &[Event]) -> impl Iterator<Item = (SimTime, &KafkaEvent)> {
    events.iter().filter_map(|e| match &e.kind {
        EventKind::Kafka(k) => Some((e.at, k)),
        _ => None,
    })
}

fn pick<'a>(rng: &mut SimRng, xs: &'a [&'a str]) -> &'a str {
    xs[rng.range_inclusive(0, xs.len() as u64 - 1) as usize]
}

fn ms(rng: &mut SimRng, lo: u64, hi: u64) -> String {
    format!("{}ms", rng.range_inclusive(lo, hi))
}

/// What a random document promises its checks.
pub struct Shape {
    /// The document.
    pub doc: Value,
    /// Groups whose every consumer commits at least once (auto-commit, or manual after
    /// processing) and resets to `earliest`, on topics that neither delete nor compact
    /// within the run: none of their records may be skipped.
    pub at_least_once: Vec<String>,
    /// When the producers stop.
    pub produce_until_s: u64,
}

/// A random Kafka topology with scripted faults, from `seed`. `safe` keeps the faults that
/// would legitimately lose records out (at-most-once consumers, retention, compaction,
/// `latest` resets, consumers that stop), so the no-skip property can be checked.
pub fn random(seed: u64, safe: bool) -> Shape {
    let mut rng = SimRng::new(seed);
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    let mut actions = Vec::new();
    let produce_until_s = 40;
    let topics = rng.range_inclusive(1, 2);
    for t in 0..topics {
        let mut cfg = json!({"partitions": rng.range_inclusive(1, 6)});
        if !safe {
            match rng.range_inclusive(0, 3) {
                0 => {
                    cfg["cleanup.policy"] = json!("compact");
                    cfg["min.cleanable.dirty.ratio"] = json!(0.2);
                    cfg["delete.retention.ms"] = json!(rng.range_inclusive(500, 5000));
                }
                1 => {
                    cfg["retention.ms"] = json!(rng.range_inclusive(1000, 20000));
                }
                2 => {
                    cfg["retention.bytes"] = json!(rng.range_inclusive(2000, 20000));
                }
                _ => cfg["cleanup.policy"] = json!("compact,delete"),
            }
            cfg["segment.bytes"] = json!(rng.range_inclusive(500, 4000));
            cfg["log.retention.check.interval.ms"] = json!(rng.range_inclusive(500, 5000));
            cfg["log.cleaner.backoff.ms"] = json!(rng.range_inclusive(500, 5000));
        } else {
            cfg["segment.bytes"] = json!(rng.range_inclusive(500, 4000));
        }
        nodes.push(json!({"id": format!("t{t}"), "kind": "topic", "config": cfg}));
    }
    let producers = rng.range_inclusive(1, 3);
    for p in 0..producers {
        let topic = format!("t{}", rng.range_inclusive(0, topics - 1));
        let mut cfg = json!({
            "rate_per_s": rng.range_inclusive(5, 60),
            "value_bytes": rng.range_inclusive(10, 300),
            "limit": rng.range_inclusive(50, 400),
        });
        match rng.range_inclusive(0, 2) {
            0 => cfg["keys"] = json!({"random": rng.range_inclusive(1, 12)}),
            1 => cfg["keys"] = json!(["a", "b", "c", "", "k-9"]),
            _ => {}
        }
        if rng.chance(0.3) {
            cfg["ack_loss"] = json!(0.2);
            cfg["request.timeout.ms"] = json!(rng.range_inclusive(200, 2000));
            cfg["delivery.timeout.ms"] = json!(30000);
        }
        match rng.range_inclusive(0, 3) {
            0 => {
                cfg["enable.idempotence"] = json!(false);
                cfg["acks"] = json!(pick(&mut rng, &["0", "1", "all"]));
            }
            1 => cfg["linger.ms"] = json!(rng.range_inclusive(1, 50)),
            2 => cfg["batch.size"] = json!(rng.range_inclusive(100, 3000)),
            _ => {}
        }
        cfg["max.in.flight.requests.per.connection"] = json!(rng.range_inclusive(1, 5));
        nodes.push(json!({"id": format!("p{p}"), "kind": "kafka_producer", "config": cfg}));
        edges.push(json!({"from": format!("p{p}"), "to": topic, "latency": ms(&mut rng, 1, 30)}));
    }
    let groups = rng.range_inclusive(1, 2);
    let mut at_least_once = Vec::new();
    let mut consumers = Vec::new();
    for g in 0..groups {
        let strategies: &[&[&str]] = &[
            &["range", "cooperative-sticky"],
            &["roundrobin"],
            &["sticky"],
            &["cooperative-sticky"],
            &["range"],
        ];
        let strategy = strategies[rng.range_inclusive(0, 4) as usize];
        let members = rng.range_inclusive(1, 4);
        let mut safe_group = true;
        let subscribed: Vec<String> = (0..topics)
            .filter(|_| rng.chance(0.8))
            .map(|t| format!("t{t}"))
            .collect();
        let subscribed = if subscribed.is_empty() {
            vec!["t0".to_owned()]
        } else {
            subscribed
        };
        for m in 0..members {
            let id = format!("g{g}c{m}");
            let mut cfg = json!({
                "group.id": format!("g{g}"),
                "partition.assignment.strategy": strategy,
                "session.timeout.ms": rng.range_inclusive(6000, 12000),
                "heartbeat.interval.ms": rng.range_inclusive(500, 2000),
                "max.poll.interval.ms": rng.range_inclusive(3000, 20000),
                "max.poll.records": rng.range_inclusive(1, 50),
                "auto.offset.reset": "earliest",
                "processing_time": ms(&mut rng, 1, 40),
                "group.initial.rebalance.delay.ms": rng.range_inclusive(0, 3000),
                "auto.commit.interval.ms": rng.range_inclusive(200, 5000),
            });
            if rng.chance(0.4) {
                cfg["enable.auto.commit"] = json!(false);
                if !safe && rng.chance(0.3) {
                    cfg["commit"] = json!("before_processing");
                    safe_group = false;
                } else if rng.chance(0.5) {
                    cfg["commit_every"] = json!(rng.range_inclusive(1, 20));
                }
            }
            if !safe && rng.chance(0.2) {
                cfg["auto.offset.reset"] = json!(pick(&mut rng, &["latest", "none"]));
                safe_group = false;
            }
            if rng.chance(0.2) {
                cfg["group.instance.id"] = json!(format!("static-{id}"));
            }
            nodes.push(json!({"id": id, "kind": "kafka_consumer", "config": cfg}));
            for t in &subscribed {
                edges.push(json!({"from": t, "to": id, "latency": ms(&mut rng, 1, 20)}));
            }
            consumers.push((id, subscribed.clone()));
        }
        // A spare member with no subscription yet (a fault adds them live).
        let strategy_json = json!(strategy);
        nodes.push(
            json!({"id": format!("g{g}s"), "kind": "kafka_consumer", "config": {
            "group.id": format!("g{g}"), "partition.assignment.strategy": strategy_json,
            "auto.offset.reset": "earliest", "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 1000, "max.poll.interval.ms": 10000,
            "max.poll.records": 10}}),
        );
        if safe_group && safe {
            at_least_once.push(format!("g{g}"));
        }
    }
    // Faults, all before the producers stop, so every group has time to settle after.
    let faults = rng.range_inclusive(0, 8);
    for _ in 0..faults {
        let at = format!("{}ms", rng.range_inclusive(1000, produce_until_s * 1000));
        let (c, subs) =
            consumers[rng.range_inclusive(0, consumers.len() as u64 - 1) as usize].clone();
        match rng.range_inclusive(0, 7) {
            0 => {
                actions.push(json!({"at": at, "do": "crash", "node": c}));
                let back = format!("{}ms", rng.range_inclusive(41_000, 60_000));
                actions.push(json!({"at": back, "do": "restart", "node": c}));
            }
            1 => {
                actions.push(json!({"at": at, "do": "pause", "node": c}));
                let back = format!("{}ms", rng.range_inclusive(41_000, 60_000));
                actions.push(json!({"at": back, "do": "resume", "node": c}));
            }
            2 => {
                let p = format!("p{}", rng.range_inclusive(0, producers - 1));
                actions.push(json!({"at": at, "do": "crash", "node": p}));
                actions.push(json!({"at": format!("{}ms", rng.range_inclusive(41_000, 50_000)), "do": "restart", "node": p}));
            }
            3 => {
                let t = format!("t{}", rng.range_inclusive(0, topics - 1));
                let n = rng.range_inclusive(6, 8);
                actions.push(json!({"at": at, "do": "configure", "node": {"id": t, "kind": "topic", "config": {"partitions": n, "segment.bytes": 2000}}}));
            }
            4 => {
                // A spare member of the group joins: its subscriptions are added live.
                let spare = format!("{}s", c.split('c').next().unwrap_or("g0"));
                for t in &subs {
                    actions.push(
                        json!({"at": at, "do": "add_edge", "edge": {"from": t, "to": spare}}),
                    );
                }
            }
            5 => {
                if !safe {
                    actions.push(json!({"at": at, "do": "remove_node", "node": c}));
                }
            }
            6 => {
                let p = format!("p{}", rng.range_inclusive(0, producers - 1));
                actions.push(json!({"at": at, "do": "publish", "node": p, "message": {"key": "scripted", "body_bytes": 50}}));
                if !safe {
                    actions.push(json!({"at": at, "do": "publish", "node": p, "message": {"key": "scripted", "tombstone": true}}));
                }
            }
            _ => {
                if subs.len() > 1 && !safe {
                    actions.push(json!({"at": at, "do": "remove_edge", "from": subs[0], "to": c}));
                }
            }
        }
    }
    actions.sort_by_key(|a| {
        switchboard_core::SimDuration::parse(a["at"].as_str().unwrap_or("0ms"))
            .map(|d| d.0)
            .unwrap_or(0)
    });
    Shape {
        doc: json!({"version": 5, "nodes": nodes, "edges": edges, "actions": actions}),
        at_least_once,
        produce_until_s,
    }
}
