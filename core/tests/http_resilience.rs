//! The request-response model's rules in runs: §4.4's amplification, §4.2's waits, the
//! circuit breaker's states, bulkheads, budgets, throttling, timeouts and wasted work, load
//! balancing and health checks, crashes. Each run checks conservation after every event.

mod common;

use common::http::{http, requests, run};
use serde_json::{json, Value};
use switchboard_core::http::{HttpEvent, HttpMetrics, Refusal, Status};
use switchboard_core::{Command, DropReason, Scenario, Sim, SimDuration, SimTime};

fn s(doc: Value) -> Scenario {
    common::scenario(&doc.to_string())
}

fn secs(x: f64) -> SimTime {
    SimTime((x * 1e6) as u64)
}

/// A chain: a client that sends only scripted requests, `layers` services each calling the
/// next with `policy`, and a bottom service that fails every request.
fn chain(layers: usize, policy: Value) -> Value {
    let mut nodes = vec![json!({"id": "client", "kind": "client", "config": {}})];
    let mut edges = Vec::new();
    let mut prev = "client".to_string();
    for i in 1..layers {
        let id = format!("l{i}");
        nodes.push(json!({"id": id, "kind": "service", "config": {"concurrency": 1000, "service_time": "1ms"}}));
        edges.push(json!({"from": prev, "to": id, "latency": "1ms", "resilience": policy}));
        prev = id;
    }
    nodes.push(json!({"id": "bottom", "kind": "service", "config": {"concurrency": 1000, "service_time": "1ms", "error_rate": 1}}));
    edges.push(json!({"from": prev, "to": "bottom", "latency": "1ms", "resilience": policy}));
    json!({"version": 4, "seed": 1, "nodes": nodes, "edges": edges,
           "actions": [{"at": "0s", "do": "publish", "node": "client"}]})
}

fn arrived(sim: &Sim, node: &str) -> u64 {
    let m = sim.metrics();
    let n = m.nodes.iter().find(|n| n.name == node).expect("a node");
    match n.http() {
        Some(HttpMetrics::Service(s)) => s.stats.arrived,
        _ => panic!("{node} is not a service"),
    }
}

#[test]
fn three_layers_of_four_attempts_send_64_to_the_bottom() {
    // SEMANTICS §4.4: the worst case is the product of the attempts of every layer.
    let doc = chain(
        3,
        json!({"retry": {"maxAttempts": 4, "waitDuration": "0ms"}}),
    );
    let (events, sim) = run(&s(doc), secs(10.0), true);
    assert_eq!(arrived(&sim, "l1"), 4);
    assert_eq!(arrived(&sim, "l2"), 16);
    assert_eq!(arrived(&sim, "bottom"), 64);
    // The bottom shows its load as a multiple of the offered load.
    let m = sim.metrics();
    let bottom = m.nodes.iter().find(|n| n.name == "bottom").unwrap();
    let Some(HttpMetrics::Service(b)) = bottom.http() else {
        panic!()
    };
    assert_eq!(b.load_multiple, 64.0);
    let l2 = m.nodes.iter().find(|n| n.name == "l2").unwrap();
    let Some(HttpMetrics::Service(l2)) = l2.http() else {
        panic!()
    };
    assert_eq!(
        l2.calls[0].attempts_per_call, 4.0,
        "each call of l2's makes 4 attempts"
    );
    assert_eq!(
        l2.calls[0].attempts_per_request, 64.0,
        "and each request 64 there"
    );
    let reqs = requests(&sim, &events, "client");
    assert_eq!(
        reqs.values().map(|r| r.1).collect::<Vec<_>>(),
        [Some(false)]
    );
}

#[test]
fn five_layers_of_three_attempts_send_243_to_the_bottom() {
    let doc = chain(
        5,
        json!({"retry": {"maxAttempts": 3, "waitDuration": "0ms"}}),
    );
    let (_, sim) = run(&s(doc), secs(10.0), true);
    assert_eq!(arrived(&sim, "bottom"), 243);
}

#[test]
fn retrying_at_one_layer_only_sends_its_attempts_alone() {
    let mut doc = chain(
        3,
        json!({"retry": {"maxAttempts": 4, "waitDuration": "0ms"}}),
    );
    for e in doc["edges"].as_array_mut().unwrap().iter_mut().skip(1) {
        e["resilience"] = json!({});
    }
    let (_, sim) = run(&s(doc), secs(10.0), true);
    assert_eq!(arrived(&sim, "bottom"), 4);
}

#[test]
fn expected_attempts_at_one_layer_follow_the_geometric_sum() {
    // E[a] = (1 − p^a) / (1 − p) attempts per call, with p the chance an attempt fails.
    let doc = json!({"version": 4, "seed": 3, "nodes": [
        {"id": "client", "kind": "client", "config": {"rate_per_s": 200, "limit": 4000}},
        {"id": "svc", "kind": "service", "config": {"concurrency": 1000, "service_time": "1ms", "error_rate": 0.5}}],
        "edges": [{"from": "client", "to": "svc", "latency": "1ms",
                   "resilience": {"retry": {"maxAttempts": 3, "waitDuration": "0ms"}}}]});
    let (_, sim) = run(&s(doc), secs(60.0), false);
    let m = sim.metrics();
    let Some(HttpMetrics::Client(c)) = m.nodes[0].http() else {
        panic!()
    };
    let per_call = c.calls[0].attempts_per_call;
    let expected = (1.0 - 0.5f64.powi(3)) / 0.5; // 1.75
    assert_eq!(c.calls[0].stats.calls, 4000);
    assert!(
        (per_call - expected).abs() < 0.05,
        "{per_call} attempts per call, expected {expected}"
    );
    // And a call fails only when all three fail: p³ = 12.5 %.
    let failed = c.stats.failed as f64 / 4000.0;
    assert!((failed - 0.125).abs() < 0.02, "{failed} of calls failed");
}

#[test]
fn exponential_backoff_waits_500_750_1125_1687_ms_in_a_run() {
    let doc = chain(
        1,
        json!({"retry": {"maxAttempts": 5, "waitDuration": "500ms",
                         "enableExponentialBackoff": true, "exponentialBackoffMultiplier": 1.5}}),
    );
    let (events, _) = run(&s(doc), secs(10.0), true);
    let delays: Vec<u64> = http(&events)
        .filter_map(|(_, e)| match e {
            HttpEvent::Retrying { delay, attempt, .. } => Some((delay.0 / 1000, *attempt)),
            _ => None,
        })
        .map(|(d, _)| d)
        .collect();
    assert_eq!(delays, [500, 750, 1125, 1687]);
}

/// client → svc with a breaker (CT-R4J-CB-1's settings): `svc` fails every request until it is
/// configured well at `heal`.
fn breaker_run(heal: &str, requests_at: &[f64]) -> (Vec<switchboard_core::Event>, Sim) {
    let svc = |error: f64| json!({"id": "svc", "kind": "service", "config": {"concurrency": 100, "service_time": "1ms", "error_rate": error}});
    let mut actions: Vec<Value> = requests_at
        .iter()
        .map(|t| json!({"at": format!("{}ms", (t * 1000.0) as u64), "do": "publish", "node": "client"}))
        .collect();
    actions.push(json!({"at": heal, "do": "configure", "node": svc(0.0)}));
    let doc = json!({"version": 4, "seed": 1,
        "nodes": [{"id": "client", "kind": "client", "config": {}}, svc(1.0)],
        "edges": [{"from": "client", "to": "svc", "latency": "1ms", "resilience": {"circuitBreaker": {
            "slidingWindowSize": 10, "minimumNumberOfCalls": 10, "failureRateThreshold": 50,
            "permittedNumberOfCallsInHalfOpenState": 3, "waitDurationInOpenState": "1s"}}}],
        "actions": actions});
    run(&s(doc), secs(10.0), true)
}

fn breaker_states(events: &[switchboard_core::Event]) -> Vec<(u64, &'static str)> {
    http(events)
        .filter_map(|(at, e)| match e {
            HttpEvent::Breaker { state, .. } => Some((at.0 / 1000, state.as_str())),
            _ => None,
        })
        .collect()
}

#[test]
fn the_breaker_opens_refuses_half_opens_lazily_and_closes_in_a_run() {
    // Ten failures 10 ms apart open it; calls during the wait are refused; the first call
    // after it half-opens it; three good calls close it.
    let mut at: Vec<f64> = (0..10).map(|i| i as f64 * 0.01).collect();
    at.extend([0.5, 0.6, 1.5, 1.6, 1.7, 2.0]);
    let (events, _) = breaker_run("1s", &at);
    let states = breaker_states(&events);
    // The 10th response reaches the client at 92 ms (1 ms there, 1 ms work, 1 ms back).
    assert_eq!(
        states,
        [(93, "OPEN"), (1500, "HALF_OPEN"), (1703, "CLOSED")]
    );
    let refused = http(&events)
        .filter(|(_, e)| {
            matches!(
                e,
                HttpEvent::Refused {
                    reason: Refusal::Breaker,
                    ..
                }
            )
        })
        .count();
    assert_eq!(refused, 2, "the calls at 0.5 s and 0.6 s");
}

#[test]
fn a_failed_half_open_trial_opens_the_breaker_again() {
    let mut at: Vec<f64> = (0..10).map(|i| i as f64 * 0.01).collect();
    at.extend([1.5, 1.6, 1.7, 1.8]);
    let (events, _) = breaker_run("5s", &at);
    let states = breaker_states(&events);
    assert_eq!(states, [(93, "OPEN"), (1500, "HALF_OPEN"), (1703, "OPEN")]);
    let refused = http(&events)
        .filter(|(at, e)| {
            matches!(
                e,
                HttpEvent::Refused {
                    reason: Refusal::Breaker,
                    ..
                }
            ) && at.0 == 1_800_000
        })
        .count();
    assert_eq!(refused, 1, "open again at 1.8 s");
}

/// client → svc (slow) with a bulkhead of 2 slots; five requests at once.
fn bulkhead(max_wait: &str) -> (Vec<switchboard_core::Event>, Sim) {
    let doc = json!({"version": 4, "seed": 1,
        "nodes": [{"id": "client", "kind": "client", "config": {}},
                  {"id": "svc", "kind": "service", "config": {"concurrency": 10, "service_time": "100ms"}}],
        "edges": [{"from": "client", "to": "svc", "latency": "1ms", "resilience": {
            "bulkhead": {"maxConcurrentCalls": 2, "maxWaitDuration": max_wait}}}],
        "actions": (0..5).map(|_| json!({"at": "0s", "do": "publish", "node": "client"})).collect::<Vec<_>>()});
    run(&s(doc), secs(5.0), true)
}

#[test]
fn a_full_bulkhead_refuses_at_once_without_a_wait() {
    let (events, sim) = bulkhead("0ms");
    let refused = http(&events)
        .filter(|(_, e)| {
            matches!(
                e,
                HttpEvent::Refused {
                    reason: Refusal::Bulkhead,
                    ..
                }
            )
        })
        .count();
    assert_eq!(refused, 3);
    assert_eq!(arrived(&sim, "svc"), 2);
}

#[test]
fn a_bulkhead_wait_lets_a_call_take_a_freed_slot_or_gives_up() {
    // Slots free at 102 ms; the two waiting longest take them; the third gives up at 150 ms.
    let (events, sim) = bulkhead("150ms");
    let refused: Vec<u64> = http(&events)
        .filter(|(_, e)| {
            matches!(
                e,
                HttpEvent::Refused {
                    reason: Refusal::Bulkhead,
                    ..
                }
            )
        })
        .map(|(at, _)| at.0 / 1000)
        .collect();
    assert_eq!(refused, [150]);
    assert_eq!(arrived(&sim, "svc"), 4);
}

#[test]
fn a_timed_out_attempt_leaves_its_work_wasted_and_its_response_late() {
    let doc = json!({"version": 4, "seed": 1,
        "nodes": [{"id": "client", "kind": "client", "config": {}},
                  {"id": "svc", "kind": "service", "config": {"service_time": "300ms"}}],
        "edges": [{"from": "client", "to": "svc", "latency": "1ms",
                   "resilience": {"timeLimiter": {"timeoutDuration": "100ms"}}}],
        "actions": [{"at": "0s", "do": "publish", "node": "client"}]});
    let (events, sim) = run(&s(doc), secs(1.0), true);
    let kinds: Vec<&str> = http(&events).map(|(_, e)| e.name()).collect();
    assert_eq!(
        kinds,
        [
            "request",
            "attempt",
            "started",
            "timed_out",
            "request_ended",
            "responded",
            "late"
        ]
    );
    let m = sim.metrics();
    let Some(HttpMetrics::Service(svc)) = m.nodes[1].http() else {
        panic!()
    };
    assert_eq!((svc.stats.ok, svc.stats.wasted, svc.stats.good), (1, 1, 0));
    assert_eq!(m.messages.dropped.get(&DropReason::Late), Some(&1));
    assert_eq!(m.messages.dropped.get(&DropReason::RequestFailed), Some(&1));
}

#[test]
fn a_client_deadline_ends_the_request_and_no_retry_follows() {
    let doc = json!({"version": 4, "seed": 1,
        "nodes": [{"id": "client", "kind": "client", "config": {"deadline": "250ms"}},
                  {"id": "svc", "kind": "service", "config": {"service_time": "100ms", "error_rate": 1}}],
        "edges": [{"from": "client", "to": "svc", "latency": "1ms",
                   "resilience": {"retry": {"maxAttempts": 10, "waitDuration": "50ms"}}}],
        "actions": [{"at": "0s", "do": "publish", "node": "client"}]});
    let (events, sim) = run(&s(doc), secs(5.0), true);
    let attempts = http(&events).filter(|(_, e)| e.name() == "attempt").count();
    assert_eq!(
        attempts, 2,
        "at 0 and 152 ms; the third would leave after the deadline"
    );
    let m = sim.metrics();
    assert_eq!(
        m.messages.dropped.get(&DropReason::DeadlineExceeded),
        Some(&1)
    );
}

#[test]
fn a_retry_budget_caps_retries_at_its_ratio_of_calls() {
    let doc = json!({"version": 4, "seed": 1,
        "nodes": [{"id": "client", "kind": "client", "config": {"rate_per_s": 100, "arrival": "constant", "limit": 500}},
                  {"id": "svc", "kind": "service", "config": {"concurrency": 100, "service_time": "1ms", "error_rate": 1}}],
        "edges": [{"from": "client", "to": "svc", "latency": "1ms", "resilience": {
            "retry": {"maxAttempts": 4, "waitDuration": "0ms"},
            "retryBudget": {"retryRatio": 0.1, "window": "10s"}}}]});
    let (_, sim) = run(&s(doc), secs(10.0), true);
    let m = sim.metrics();
    let Some(HttpMetrics::Client(c)) = m.nodes[0].http() else {
        panic!()
    };
    let e = &c.calls[0];
    assert_eq!(e.stats.calls, 500);
    assert!(
        e.stats.retries <= 51 && e.stats.retries >= 45,
        "{} retries for 500 calls",
        e.stats.retries
    );
    assert!(e.stats.budget_exhausted > 400);
}

#[test]
fn adaptive_throttling_refuses_most_attempts_to_a_callee_that_accepts_none() {
    let doc = json!({"version": 4, "seed": 1,
        "nodes": [{"id": "client", "kind": "client", "config": {"rate_per_s": 100, "arrival": "constant"}},
                  {"id": "svc", "kind": "service", "config": {"concurrency": 100, "service_time": "1ms", "error_rate": 1}}],
        "edges": [{"from": "client", "to": "svc", "latency": "1ms",
                   "resilience": {"adaptiveThrottling": {"K": 2, "window": "10s"}}}]});
    let (_, sim) = run(&s(doc), secs(10.0), true);
    let m = sim.metrics();
    let Some(HttpMetrics::Client(c)) = m.nodes[0].http() else {
        panic!()
    };
    let e = &c.calls[0];
    // With no accepts, P(reject) = requests / (requests + 1): almost every attempt after the
    // first few is refused locally.
    assert!(e.stats.refused_throttled > 900, "{:?}", e.stats);
    assert!(e.stats.attempts < 50, "{:?}", e.stats);
}

#[test]
fn round_robin_alternates_and_least_outstanding_prefers_the_idle_instance() {
    let lb = |algorithm: &str| {
        json!({"version": 4, "seed": 1,
            "nodes": [{"id": "client", "kind": "client", "config": {"rate_per_s": 100, "arrival": "constant", "limit": 100}},
                      {"id": "lb", "kind": "load_balancer", "config": {"algorithm": algorithm}},
                      {"id": "slow", "kind": "service", "config": {"concurrency": 1000, "service_time": "500ms"}},
                      {"id": "fast", "kind": "service", "config": {"concurrency": 1000, "service_time": "1ms"}}],
            "edges": [{"from": "client", "to": "lb", "latency": "1ms"},
                      {"from": "lb", "to": "slow", "latency": "1ms"},
                      {"from": "lb", "to": "fast", "latency": "1ms"}]})
    };
    let (_, sim) = run(&s(lb("round_robin")), secs(5.0), true);
    assert_eq!((arrived(&sim, "slow"), arrived(&sim, "fast")), (50, 50));
    let (_, sim) = run(&s(lb("least_outstanding_requests")), secs(5.0), true);
    let (slow, fast) = (arrived(&sim, "slow"), arrived(&sim, "fast"));
    assert!(slow < 10 && fast > 90, "slow {slow}, fast {fast}");
    let (_, sim) = run(&s(lb("random")), secs(5.0), true);
    let (slow, fast) = (arrived(&sim, "slow"), arrived(&sim, "fast"));
    assert_eq!(slow + fast, 100);
    assert!(slow > 30 && fast > 30, "slow {slow}, fast {fast}");
}

#[test]
fn health_checks_take_a_crashed_instance_out_and_put_it_back() {
    let doc = json!({"version": 4, "seed": 1,
        "nodes": [{"id": "client", "kind": "client", "config": {"rate_per_s": 50, "arrival": "constant"}},
                  {"id": "lb", "kind": "load_balancer", "config": {"health_check": {"interval": "500ms", "unhealthy_threshold": 2, "healthy_threshold": 3}}},
                  {"id": "a", "kind": "service", "config": {}},
                  {"id": "b", "kind": "service", "config": {}}],
        "edges": [{"from": "client", "to": "lb", "latency": "1ms"},
                  {"from": "lb", "to": "a", "latency": "1ms"},
                  {"from": "lb", "to": "b", "latency": "1ms"}],
        "actions": [{"at": "2.1s", "do": "crash", "node": "a"}, {"at": "5.1s", "do": "restart", "node": "a"}]});
    let (events, sim) = run(&s(doc), secs(10.0), true);
    let health: Vec<(u64, bool)> = http(&events)
        .filter_map(|(at, e)| match e {
            HttpEvent::Health { healthy, .. } => Some((at.0 / 1000, *healthy)),
            _ => None,
        })
        .collect();
    // Probes at 2.5 s and 3 s fail (out at the second); at 5.5, 6 and 6.5 s they pass.
    assert_eq!(health, [(3000, false), (6500, true)]);
    // While a is out, nothing is sent to it: only the requests before 3 s are refused.
    let refused: Vec<u64> = http(&events)
        .filter_map(|(at, e)| match e {
            HttpEvent::Responded {
                status: Status::Refused,
                ..
            } => Some(at.0 / 1000),
            _ => None,
        })
        .collect();
    assert!(
        !refused.is_empty() && refused.iter().all(|&t| (2100..3000).contains(&t)),
        "{refused:?}"
    );
    let _ = sim;
}

#[test]
fn a_crashed_service_resets_what_it_held_and_refuses_what_comes() {
    let doc = json!({"version": 4, "seed": 1,
        "nodes": [{"id": "client", "kind": "client", "config": {}},
                  {"id": "svc", "kind": "service", "config": {"concurrency": 1, "accept_queue": 5, "service_time": "1s"}}],
        "edges": [{"from": "client", "to": "svc", "latency": "1ms"}],
        "actions": [{"at": "0s", "do": "publish", "node": "client"},
                    {"at": "0s", "do": "publish", "node": "client"},
                    {"at": "100ms", "do": "crash", "node": "svc"},
                    {"at": "200ms", "do": "publish", "node": "client"}]});
    let (events, _) = run(&s(doc), secs(3.0), true);
    let statuses: Vec<(u64, Status)> = http(&events)
        .filter_map(|(at, e)| match e {
            HttpEvent::Responded { status, .. } => Some((at.0 / 1000, *status)),
            _ => None,
        })
        .collect();
    assert_eq!(
        statuses,
        [
            (100, Status::Reset),
            (100, Status::Reset),
            (201, Status::Refused)
        ]
    );
}

#[test]
fn a_live_slowdown_and_a_live_edit_keep_every_message_accounted_for() {
    let doc = json!({"version": 4, "seed": 9,
        "nodes": [{"id": "client", "kind": "client", "config": {"users": 20, "think_time": {"dist": "exponential", "mean": "50ms"}}},
                  {"id": "api", "kind": "service", "config": {"concurrency": 4}},
                  {"id": "db", "kind": "service", "config": {"concurrency": 2}}],
        "edges": [{"from": "client", "to": "api", "resilience": {"timeLimiter": {"timeoutDuration": "300ms"}, "retry": {"maxAttempts": 2, "waitDuration": "10ms"}}},
                  {"from": "api", "to": "db", "resilience": {"timeLimiter": {"timeoutDuration": "100ms"}, "bulkhead": {"maxConcurrentCalls": 3, "maxWaitDuration": "20ms"}}}]});
    let scenario = s(doc);
    let mut sim = Sim::new(&scenario).unwrap();
    common::run_checked(&mut sim, secs(2.0), 10_000_000);
    let db = sim.topology().node_id("db").unwrap();
    let mut spec = sim.live_document().nodes[2].clone();
    if let switchboard_core::scenario::NodeKind::Http(switchboard_core::http::HttpKind::Service(
        c,
    )) = &mut spec.kind
    {
        c.service_time = switchboard_core::dist::DurationDist::constant(SimDuration::from_ms(400));
    }
    sim.apply(Command::Configure { node: db, spec }).unwrap();
    common::run_checked(&mut sim, secs(4.0), 10_000_000);
    sim.apply(Command::Crash { node: db }).unwrap();
    common::run_checked(&mut sim, secs(5.0), 10_000_000);
    let api = sim.topology().node_id("api").unwrap();
    sim.apply(Command::RemoveNode { node: api }).unwrap();
    common::run_checked(&mut sim, secs(7.0), 10_000_000);
    let t = sim.totals();
    assert_eq!(
        t.live, 0,
        "closed-loop users wait on nothing once api is gone: {t:?}"
    );
    assert!(t.created > 100);
}

#[test]
fn a_closed_loop_client_never_has_more_requests_going_than_users() {
    // Reconfigured and crashed mid-request: each user starts afresh, and the requests begun
    // before do not bring a second copy of their user back when they end.
    let client = |think: &str| json!({"id": "client", "kind": "client", "config": {"users": 3, "think_time": think}});
    let doc = json!({"version": 4, "seed": 1,
        "nodes": [client("50ms"),
                  {"id": "svc", "kind": "service", "config": {"concurrency": 10, "service_time": "300ms"}}],
        "edges": [{"from": "client", "to": "svc", "latency": "1ms"}],
        "actions": [{"at": "1010ms", "do": "configure", "node": client("20ms")},
                    {"at": "2500ms", "do": "crash", "node": "client"},
                    {"at": "2600ms", "do": "restart", "node": "client"},
                    {"at": "3310ms", "do": "configure", "node": client("10ms")}]});
    let (events, _) = run(&s(doc), secs(6.0), true);
    let mut going = 0i64;
    let mut most = 0i64;
    for e in &events {
        match &e.kind {
            switchboard_core::EventKind::Http(HttpEvent::Request { .. }) => going += 1,
            switchboard_core::EventKind::Http(HttpEvent::RequestEnded { .. }) => going -= 1,
            switchboard_core::EventKind::Dropped {
                reason: DropReason::LostInCrash,
                ..
            } => going -= 1,
            _ => {}
        }
        most = most.max(going);
    }
    assert_eq!(most, 3, "three users, three requests at most");
    let begun = http(&events).filter(|(_, e)| e.name() == "request").count();
    assert!(begun > 30, "the users kept going: {begun} requests");
}

#[test]
fn an_earlier_bulkhead_wait_does_not_cut_a_later_one_short() {
    // One slot, waits of up to 2 s, one retry: B waits from 0 to 0.8 s, fails at 1.6 s,
    // retries at 1.7 s and waits again while A holds the slot until 2.4 s. Its first wait's
    // timer (due at 2 s) must not refuse its second wait.
    let doc = json!({"version": 4, "seed": 1,
        "nodes": [{"id": "client", "kind": "client", "config": {}},
                  {"id": "svc", "kind": "service", "config": {"concurrency": 10, "service_time": "800ms", "error_rate": 1}}],
        "edges": [{"from": "client", "to": "svc", "latency": "1ms", "resilience": {
            "bulkhead": {"maxConcurrentCalls": 1, "maxWaitDuration": "2s"},
            "retry": {"maxAttempts": 2, "waitDuration": "100ms"}}}],
        "actions": [{"at": "0s", "do": "publish", "node": "client"},
                    {"at": "0s", "do": "publish", "node": "client"}]});
    let (events, sim) = run(&s(doc), secs(6.0), true);
    let refused = http(&events)
        .filter(|(_, e)| {
            matches!(
                e,
                HttpEvent::Refused {
                    reason: Refusal::Bulkhead,
                    ..
                }
            )
        })
        .count();
    assert_eq!(refused, 0, "every wait got its slot in time");
    assert_eq!(arrived(&sim, "svc"), 4, "two attempts of each call");
}

#[test]
fn users_removed_and_added_back_within_one_think_do_not_double() {
    let client = |users: u32| json!({"id": "client", "kind": "client", "config": {"users": users, "think_time": "500ms"}});
    let doc = json!({"version": 4, "seed": 1,
        "nodes": [client(4), {"id": "svc", "kind": "service", "config": {"concurrency": 10, "service_time": "100ms"}}],
        "edges": [{"from": "client", "to": "svc", "latency": "1ms"}],
        "actions": [{"at": "200ms", "do": "configure", "node": client(2)},
                    {"at": "300ms", "do": "configure", "node": client(4)},
                    {"at": "3s", "do": "configure", "node": client(1)}]});
    let (events, _) = run(&s(doc), secs(6.0), true);
    let (mut going, mut most, mut after) = (0i64, 0i64, 0i64);
    for e in &events {
        match &e.kind {
            switchboard_core::EventKind::Http(HttpEvent::Request { .. }) => going += 1,
            switchboard_core::EventKind::Http(HttpEvent::RequestEnded { .. }) => going -= 1,
            _ => {}
        }
        most = most.max(going);
        if e.at >= secs(4.0) {
            after = after.max(going);
        }
    }
    assert_eq!(most, 4, "never more requests going than users");
    assert_eq!(
        after, 1,
        "down to one user: the others stopped after their request"
    );
    let late = http(&events)
        .filter(|(at, e)| e.name() == "request" && *at >= secs(4.0))
        .count();
    assert!(late <= 4, "one user, one request every 600 ms: {late}");
}

#[test]
fn a_call_waiting_in_the_bulkhead_is_slow_to_the_breaker() {
    // The breaker times a call from when it let it through, the bulkhead's wait included:
    // five calls through one slot wait 0, 60, 120… ms, so most are slower than 100 ms.
    let doc = json!({"version": 4, "seed": 1,
        "nodes": [{"id": "client", "kind": "client", "config": {}},
                  {"id": "svc", "kind": "service", "config": {"concurrency": 10, "service_time": "60ms"}}],
        "edges": [{"from": "client", "to": "svc", "latency": "0ms", "resilience": {
            "bulkhead": {"maxConcurrentCalls": 1, "maxWaitDuration": "1s"},
            "circuitBreaker": {"slidingWindowSize": 4, "minimumNumberOfCalls": 4,
                               "slowCallRateThreshold": 50, "slowCallDurationThreshold": "100ms"}}}],
        "actions": (0..5).map(|_| json!({"at": "0s", "do": "publish", "node": "client"})).collect::<Vec<_>>()});
    let (events, _) = run(&s(doc), secs(2.0), true);
    let states: Vec<&str> = http(&events)
        .filter_map(|(_, e)| match e {
            HttpEvent::Breaker { state, .. } => Some(state.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(states, ["OPEN"], "3 of the first 4 calls were slow");
}

#[test]
fn a_caller_crashing_after_its_call_edge_was_removed_gives_its_slot_back() {
    let doc = json!({"version": 4, "seed": 1,
        "nodes": [{"id": "client", "kind": "client", "config": {}},
                  {"id": "svc", "kind": "service", "config": {"service_time": "500ms"}}],
        "edges": [{"from": "client", "to": "svc", "latency": "1ms",
                   "resilience": {"bulkhead": {"maxConcurrentCalls": 2}}}],
        "actions": [{"at": "0s", "do": "publish", "node": "client"}]});
    let scenario = s(doc);
    let mut sim = Sim::new(&scenario).unwrap();
    common::run_checked(&mut sim, secs(0.1), 100_000);
    let edge = switchboard_core::EdgeId(0);
    sim.apply(Command::RemoveEdge { edge }).unwrap();
    common::run_checked(&mut sim, secs(0.2), 100_000);
    let client = sim.topology().node_id("client").unwrap();
    sim.apply(Command::Crash { node: client }).unwrap();
    sim.check_conservation()
        .expect("the slot went back with the crash");
    common::run_checked(&mut sim, secs(2.0), 100_000);
}
