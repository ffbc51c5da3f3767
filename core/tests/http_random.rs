//! Randomized request-response topologies: chains and fan-outs with every policy, load
//! balancers with health checks, crashes, restarts, slowdowns and removals at random moments.
//! Conservation is checked after every event; a failure names the seed that reproduces it
//! (`SWITCHBOARD_SEED=n`).

mod common;

use serde_json::{json, Value};
use switchboard_core::rng::SimRng;
use switchboard_core::{Sim, SimTime};

fn pick<'a>(rng: &mut SimRng, xs: &'a [&'a str]) -> &'a str {
    xs[rng.range_inclusive(0, xs.len() as u64 - 1) as usize]
}

fn ms(rng: &mut SimRng, lo: u64, hi: u64) -> String {
    format!("{}ms", rng.range_inclusive(lo, hi))
}

fn policy(rng: &mut SimRng) -> Value {
    let mut p = serde_json::Map::new();
    if rng.chance(0.6) {
        p.insert(
            "timeLimiter".into(),
            json!({"timeoutDuration": ms(rng, 20, 400)}),
        );
    }
    if rng.chance(0.5) {
        let mut r =
            json!({"maxAttempts": rng.range_inclusive(1, 4), "waitDuration": ms(rng, 0, 100)});
        match rng.range_inclusive(0, 3) {
            0 => r["enableExponentialBackoff"] = json!(true),
            1 => r["enableRandomizedWait"] = json!(true),
            2 => r["jitter"] = json!(pick(rng, &["full", "equal", "decorrelated"])),
            _ => {}
        }
        p.insert("retry".into(), r);
        if rng.chance(0.3) {
            p.insert(
                "retryBudget".into(),
                json!({"retryRatio": 0.2, "window": "2s"}),
            );
        }
    }
    if rng.chance(0.4) {
        p.insert(
            "circuitBreaker".into(),
            json!({"slidingWindowType": pick(rng, &["COUNT_BASED", "TIME_BASED"]),
                   "slidingWindowSize": rng.range_inclusive(2, 10),
                   "minimumNumberOfCalls": rng.range_inclusive(1, 10),
                   "failureRateThreshold": 50, "slowCallRateThreshold": 80,
                   "slowCallDurationThreshold": ms(rng, 10, 200),
                   "waitDurationInOpenState": ms(rng, 50, 500),
                   "permittedNumberOfCallsInHalfOpenState": rng.range_inclusive(1, 3),
                   "maxWaitDurationInHalfOpenState": ms(rng, 0, 300),
                   "automaticTransitionFromOpenToHalfOpenEnabled": rng.chance(0.5)}),
        );
    }
    if rng.chance(0.4) {
        p.insert(
            "bulkhead".into(),
            json!({"maxConcurrentCalls": rng.range_inclusive(0, 4), "maxWaitDuration": ms(rng, 0, 50)}),
        );
    }
    if rng.chance(0.2) {
        p.insert("adaptiveThrottling".into(), json!({"K": 2, "window": "2s"}));
    }
    Value::Object(p)
}

fn service(rng: &mut SimRng) -> Value {
    json!({"concurrency": rng.range_inclusive(1, 4), "accept_queue": rng.range_inclusive(0, 8),
           "service_time": {"dist": "exponential", "mean": ms(rng, 1, 60)},
           "error_rate": if rng.chance(0.5) { 0.0 } else { 0.3 }})
}

/// A random topology: a client, perhaps a load balancer in front of the first tier, services
/// that call later services only (so the calls form no cycle), and random live events.
fn build(seed: u64) -> Value {
    let mut rng = SimRng::new(seed);
    let n = rng.range_inclusive(2, 6) as usize;
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    let client = if rng.chance(0.5) {
        json!({"rate_per_s": rng.range_inclusive(5, 60), "deadline": ms(&mut rng, 100, 2000)})
    } else {
        // Users think at least 1 ms: with no thinking, users whose requests an open breaker
        // refuses at once loop a million times a simulated second each (time moves, 1 µs a
        // turn, as `a_user_who_never_thinks_still_lets_time_pass` checks, but no step budget
        // a sweep can afford covers it).
        json!({"users": rng.range_inclusive(1, 8), "think_time": ms(&mut rng, 1, 100)})
    };
    nodes.push(json!({"id": "client", "kind": "client", "config": client.clone()}));
    for i in 0..n {
        nodes.push(json!({"id": format!("s{i}"), "kind": "service", "config": service(&mut rng)}));
    }
    let lb = rng.chance(0.5);
    if lb {
        let hc = if rng.chance(0.5) {
            json!({"interval": ms(&mut rng, 50, 500), "unhealthy_threshold": 1, "healthy_threshold": 2})
        } else {
            Value::Null
        };
        let mut cfg = json!({"algorithm": pick(&mut rng, &["round_robin", "random", "least_outstanding_requests"])});
        if !hc.is_null() {
            cfg["health_check"] = hc;
        }
        nodes.push(json!({"id": "lb", "kind": "load_balancer", "config": cfg}));
        edges.push(json!({"from": "client", "to": "lb", "latency": ms(&mut rng, 0, 5), "resilience": policy(&mut rng)}));
        edges.push(json!({"from": "lb", "to": "s0", "latency": ms(&mut rng, 0, 5)}));
        if n > 1 {
            edges.push(json!({"from": "lb", "to": "s1", "latency": ms(&mut rng, 0, 5)}));
        }
    } else {
        edges.push(json!({"from": "client", "to": "s0", "latency": ms(&mut rng, 0, 5), "resilience": policy(&mut rng)}));
    }
    let first_callers = if lb && n > 1 { 2 } else { 1 };
    for i in 0..n {
        for j in (i + 1).max(first_callers)..n {
            if rng.chance(0.4) {
                edges.push(json!({"from": format!("s{i}"), "to": format!("s{j}"), "latency": ms(&mut rng, 0, 5), "resilience": policy(&mut rng)}));
            }
        }
    }
    // Some services call their targets at once (a parallel step) rather than in turn.
    for i in 0..n {
        let targets: Vec<String> = edges
            .iter()
            .filter(|e| e["from"] == format!("s{i}"))
            .map(|e| e["to"].as_str().unwrap().to_string())
            .collect();
        if targets.len() > 1 && rng.chance(0.5) {
            nodes[i + 1]["config"]["handler"] = json!([{"call": targets}]);
        }
    }
    let mut actions = Vec::new();
    for _ in 0..rng.range_inclusive(0, 5) {
        let at = ms(&mut rng, 0, 8000);
        let target = if lb && rng.chance(0.2) {
            "lb".to_string()
        } else {
            format!("s{}", rng.range_inclusive(0, n as u64 - 1))
        };
        let act = match rng.range_inclusive(0, 3) {
            0 => json!({"at": at, "do": "crash", "node": target}),
            1 => json!({"at": at, "do": "restart", "node": target}),
            2 if target != "lb" => {
                json!({"at": at, "do": "configure", "node": {"id": target, "kind": "service", "config": service(&mut rng)}})
            }
            _ => json!({"at": at, "do": "publish", "node": "client"}),
        };
        actions.push(act);
    }
    if rng.chance(0.2) {
        actions.push(json!({"at": ms(&mut rng, 0, 8000), "do": "remove_node", "node": format!("s{}", n - 1)}));
    }
    if rng.chance(0.3) {
        // The client's load changes: another rate, or more or fewer users.
        let mut cfg = client.clone();
        if cfg.get("users").is_some() {
            cfg["users"] = json!(rng.range_inclusive(1, 8));
        } else {
            cfg["rate_per_s"] = json!(rng.range_inclusive(5, 60));
        }
        actions.push(json!({"at": ms(&mut rng, 0, 8000), "do": "configure", "node": {"id": "client", "kind": "client", "config": cfg}}));
    }
    if rng.chance(0.2) {
        actions.push(json!({"at": ms(&mut rng, 0, 8000), "do": "crash", "node": "client"}));
        actions.push(json!({"at": ms(&mut rng, 0, 9000), "do": "restart", "node": "client"}));
    }
    json!({"version": 4, "seed": seed, "nodes": nodes, "edges": edges, "actions": actions})
}

#[test]
fn random_topologies_conserve_every_message_after_every_event() {
    let steps = common::sweep("http_random", 60, |seed| {
        let doc = build(seed);
        if std::env::var("SWITCHBOARD_DUMP").is_ok() {
            eprintln!("{doc}");
        }
        let s = switchboard_core::Scenario::from_json(&doc.to_string())
            .unwrap_or_else(|d| panic!("generated an invalid document: {d}\n{doc}"));
        // Every setting written back reads back the same.
        let again = switchboard_core::Scenario::from_json(&s.to_json_pretty())
            .unwrap_or_else(|d| panic!("the canonical form does not parse: {d}"));
        assert_eq!(again, s, "the canonical form round-trips");
        let mut sim = Sim::new(&s).unwrap();
        common::run_checked(&mut sim, SimTime(10_000_000), 2_000_000);
        // Same scenario, same seed: the same run.
        let again = common::trace_hash(&s, seed, SimTime(10_000_000));
        assert_eq!(again, common::trace_hash(&s, seed, SimTime(10_000_000)));
        sim.steps()
    });
    assert!(
        steps.iter().sum::<u64>() > 10_000,
        "the sweep did some work: {steps:?}"
    );
}
