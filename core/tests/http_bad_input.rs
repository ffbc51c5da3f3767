//! Bad request-response documents: each is a diagnostic naming its path, never a panic.

use serde_json::{json, Value};
use switchboard_core::Scenario;

fn base() -> Value {
    json!({"version": 4, "seed": 1,
        "nodes": [{"id": "client", "kind": "client", "config": {"rate_per_s": 1}},
                  {"id": "a", "kind": "service", "config": {}},
                  {"id": "b", "kind": "service", "config": {}}],
        "edges": [{"from": "client", "to": "a"}, {"from": "a", "to": "b"}]})
}

/// The diagnostics of `doc`, as `path: message` lines.
fn diagnostics(doc: &Value) -> String {
    match Scenario::from_json(&doc.to_string()) {
        Ok(_) => panic!("accepted: {doc}"),
        Err(d) => d.to_string(),
    }
}

fn refused(doc: Value, path: &str, says: &str) {
    let d = diagnostics(&doc);
    assert!(
        d.lines().any(|l| l.starts_with(path) && l.contains(says)),
        "expected {path:?} saying {says:?}, got:\n{d}"
    );
}

fn with_policy(policy: Value) -> Value {
    let mut doc = base();
    doc["edges"][1]["resilience"] = policy;
    doc
}

#[test]
fn a_timeout_of_zero() {
    refused(
        with_policy(json!({"timeLimiter": {"timeoutDuration": "0ms"}})),
        "edges[1].resilience.timeLimiter.timeoutDuration",
        "times out every attempt",
    );
}

#[test]
fn a_retry_count_beyond_the_maximum() {
    refused(
        with_policy(json!({"retry": {"maxAttempts": 11}})),
        "edges[1].resilience.retry.maxAttempts",
        "expected 1 to 10 attempts",
    );
    refused(
        with_policy(json!({"retry": {"maxAttempts": 0}})),
        "edges[1].resilience.retry.maxAttempts",
        "got 0",
    );
}

#[test]
fn breaker_thresholds_outside_0_to_100() {
    for bad in [0.0, -5.0, 100.5] {
        refused(
            with_policy(json!({"circuitBreaker": {"failureRateThreshold": bad}})),
            "edges[1].resilience.circuitBreaker.failureRateThreshold",
            "expected a percentage in (0, 100]",
        );
    }
    refused(
        with_policy(json!({"circuitBreaker": {"slowCallRateThreshold": 0}})),
        "edges[1].resilience.circuitBreaker.slowCallRateThreshold",
        "(0, 100]",
    );
    // 100 itself is allowed.
    let ok = with_policy(json!({"circuitBreaker": {"failureRateThreshold": 100}}));
    Scenario::from_json(&ok.to_string()).expect("100 % is a valid threshold");
}

#[test]
fn a_misspelt_policy_is_named() {
    refused(
        with_policy(json!({"retry": {"maxAttempt": 3}})),
        "edges[1].resilience.retry",
        "unknown field `maxAttempt`",
    );
}

#[test]
fn a_cycle_of_calls() {
    let mut doc = base();
    doc["edges"]
        .as_array_mut()
        .unwrap()
        .push(json!({"from": "b", "to": "a"}));
    refused(doc, "edges[2]", "cycle of calls (\"a\" → \"b\" → \"a\")");
}

#[test]
fn a_cycle_through_a_load_balancer_and_a_zero_latency() {
    let mut doc = base();
    doc["nodes"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "lb", "kind": "load_balancer"}));
    doc["edges"] = json!([{"from": "client", "to": "a"}, {"from": "a", "to": "lb", "latency": "0ms"},
                          {"from": "lb", "to": "b", "latency": "0ms"}, {"from": "b", "to": "a", "latency": "0ms"}]);
    refused(doc, "edges[", "cycle of calls");
}

#[test]
fn a_service_calling_itself() {
    let mut doc = base();
    doc["edges"]
        .as_array_mut()
        .unwrap()
        .push(json!({"from": "a", "to": "a"}));
    refused(doc, "edges[2]", "connected to itself");
}

#[test]
fn a_handler_calling_a_node_without_an_edge() {
    let mut doc = base();
    doc["nodes"][1]["config"]["handler"] = json!([{"call": "b"}, {"call": ["b", "client"]}]);
    refused(
        doc,
        "nodes[1].config.handler[1].call[1]",
        "has no edge to it",
    );
}

#[test]
fn a_handler_step_that_is_not_a_call() {
    let mut doc = base();
    doc["nodes"][1]["config"]["handler"] = json!([{"call": 3}]);
    refused(doc, "nodes[1].config.handler[0]", "a node name");
    let mut doc = base();
    doc["nodes"][1]["config"]["handler"] = json!([{"enqueue": "x"}]);
    refused(
        doc,
        "nodes[1].config.handler[0]",
        "unknown field `enqueue`, expected one of `call`, `write`",
    );
}

#[test]
fn a_client_calling_two_nodes() {
    let mut doc = base();
    doc["edges"]
        .as_array_mut()
        .unwrap()
        .push(json!({"from": "client", "to": "b"}));
    refused(doc, "edges[2]", "a client calls one node");
}

#[test]
fn edges_a_client_or_a_service_cannot_have() {
    let mut doc = base();
    doc["edges"]
        .as_array_mut()
        .unwrap()
        .push(json!({"from": "a", "to": "client"}));
    refused(doc, "edges[2]", "a client takes no calls");
    let mut doc = base();
    doc["nodes"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "q", "kind": "queue"}));
    doc["edges"]
        .as_array_mut()
        .unwrap()
        .push(json!({"from": "client", "to": "q"}));
    refused(doc, "edges[2]", "connect to one another");
    // A queue does not deliver to a service: the service consumes it through a consumer in its
    // process (its `inputs`).
    let mut doc = base();
    doc["nodes"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "q", "kind": "queue"}));
    doc["edges"]
        .as_array_mut()
        .unwrap()
        .push(json!({"from": "q", "to": "a"}));
    refused(doc, "edges[2]", "listed in its `inputs`");
}

#[test]
fn policies_on_an_edge_that_makes_no_call() {
    let mut doc = base();
    doc["nodes"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "lb", "kind": "load_balancer"}));
    doc["edges"]
        .as_array_mut()
        .unwrap()
        .push(json!({"from": "lb", "to": "b", "resilience": {"retry": {}}}));
    refused(
        doc,
        "edges[2].resilience",
        "put the policies on the call into it",
    );
    let doc = json!({"version": 4, "nodes": [{"id": "p", "kind": "producer"}, {"id": "s", "kind": "sink"}],
                     "edges": [{"from": "p", "to": "s", "resilience": {}}]});
    refused(doc, "edges[0].resilience", "only a call");
}

#[test]
fn client_and_service_settings_out_of_range() {
    let mut doc = base();
    doc["nodes"][0]["config"] = json!({"rate_per_s": 5, "users": 3});
    refused(
        doc,
        "nodes[0].config",
        "open loop (rate_per_s) or closed loop (users), not both",
    );
    let mut doc = base();
    doc["nodes"][0]["config"]["deadline"] = json!("0s");
    refused(doc, "nodes[0].config.deadline", "a deadline of 0");
    let mut doc = base();
    doc["nodes"][1]["config"] = json!({"concurrency": 0, "error_rate": 1.5});
    let d = diagnostics(&doc);
    assert!(
        d.contains("nodes[1].config.concurrency") && d.contains("nodes[1].config.error_rate"),
        "{d}"
    );
    let mut doc = base();
    doc["nodes"][0]["config"]["users"] = json!(20_000);
    doc["nodes"][0]["config"]["rate_per_s"] = json!(0);
    refused(doc, "nodes[0].config.users", "the limit is 10000");
}

#[test]
fn budget_and_throttling_settings() {
    refused(
        with_policy(json!({"retryBudget": {"retryRatio": 0.1}})),
        "edges[1].resilience.retryBudget",
        "needs a retry policy",
    );
    refused(
        with_policy(json!({"retry": {}, "retryBudget": {"window": "1500ms"}})),
        "edges[1].resilience.retryBudget.window",
        "whole number of seconds",
    );
    refused(
        with_policy(json!({"adaptiveThrottling": {"K": 0.5}})),
        "edges[1].resilience.adaptiveThrottling.K",
        "from 1 to 100",
    );
    refused(
        with_policy(json!({"retry": {"jitter": "full", "enableExponentialBackoff": true}})),
        "edges[1].resilience.retry.jitter",
        "replaces resilience4j's",
    );
}

#[test]
fn runaway_amplification_is_bounded_by_the_step_budget_and_says_so() {
    // Five layers of ten attempts at 1,000 requests a second: up to 100,000 attempts at the
    // bottom per request. A bounded advance stops at its budget and reports it.
    let mut nodes = vec![json!({"id": "c", "kind": "client", "config": {"rate_per_s": 1000}})];
    let mut edges = Vec::new();
    let mut prev = "c".to_string();
    for i in 0..5 {
        let id = format!("s{i}");
        nodes.push(json!({"id": id, "kind": "service", "config": {"concurrency": 100000, "accept_queue": 1000000, "service_time": "1ms", "error_rate": if i == 4 { 1.0 } else { 0.0 }}}));
        edges.push(json!({"from": prev, "to": id, "resilience": {"retry": {"maxAttempts": 10, "waitDuration": "0ms"}}}));
        prev = id;
    }
    let doc = json!({"version": 4, "nodes": nodes, "edges": edges});
    let s = Scenario::from_json(&doc.to_string()).unwrap();
    let mut sim = switchboard_core::Sim::new(&s).unwrap();
    let advance = sim.advance_to_bounded(switchboard_core::SimTime(60_000_000), 200_000);
    assert!(!advance.reached, "the budget ran out first");
    assert_eq!(advance.steps, 200_000);
    sim.check_conservation().expect("still conserved");
}

#[test]
fn a_user_who_never_thinks_still_lets_time_pass() {
    // A closed-loop user with no think time whose requests fail at once (the only service is
    // down, and a breaker opens on the call) would loop without time passing; each turn takes
    // at least 1 µs, so a bounded advance moves the clock on.
    let doc = json!({"version": 4, "seed": 1,
        "nodes": [{"id": "c", "kind": "client", "config": {"users": 2, "think_time": "0ms"}},
                  {"id": "s", "kind": "service", "config": {}}],
        "edges": [{"from": "c", "to": "s", "latency": "0ms", "resilience": {"circuitBreaker": {
            "slidingWindowSize": 2, "minimumNumberOfCalls": 2, "waitDurationInOpenState": "10s"}}}],
        "actions": [{"at": "0s", "do": "crash", "node": "s"}]});
    let s = Scenario::from_json(&doc.to_string()).unwrap();
    let mut sim = switchboard_core::Sim::new(&s).unwrap();
    let mut last = sim.now();
    for _ in 0..5 {
        let advance = sim.advance_to_bounded(switchboard_core::SimTime(60_000_000), 20_000);
        assert!(!advance.reached, "a runaway, stopped by the budget");
        assert!(
            sim.now() > last,
            "time moves on: {} after {}",
            sim.now(),
            last
        );
        last = sim.now();
        let _ = sim.drain_events().count();
    }
    sim.check_conservation().expect("conserved");
}
