//! The request-response model's rules, each written once: which edges it allows and what they
//! are, which actions its kinds take, and the validation of their settings, of the policies on
//! call edges, and of the call graph.

use super::kind::{EdgeKind, HandlerStep, HttpKind};
use super::model::MAX_USERS;
use super::policy::{Resilience, MAX_ATTEMPTS};
use crate::kernel::not_a;
use crate::model::Action;
use crate::scenario::{Diagnostic, EdgeSpec, NodeKind, Path, Scenario};
use crate::time::SimDuration;
use std::collections::BTreeMap;

/// The most worker threads a service may have.
pub const MAX_CONCURRENCY: u32 = 100_000;

/// The largest accept queue.
pub const MAX_ACCEPT_QUEUE: u32 = 1_000_000;

/// Which kinds an edge with one of this model's kinds at an end may connect, and what it is.
pub(crate) fn edge_rule(from: &NodeKind, to: &NodeKind) -> Result<EdgeKind, &'static str> {
    use HttpKind::{Client, LoadBalancer, Service};
    use NodeKind::Http;
    match (from, to) {
        (_, Http(Client(_))) => Err("a client takes no calls; it only makes them"),
        (Http(Client(_) | Service(_)), Http(Service(_) | LoadBalancer(_))) => Ok(EdgeKind::Call),
        (Http(LoadBalancer(_)), Http(Service(_) | LoadBalancer(_))) => Ok(EdgeKind::Upstream),
        // A handler's call step: a consumer, a worker or a Kafka consumer calls a service.
        (from, Http(Service(_) | LoadBalancer(_)))
            if crate::handler::handles_outside_http(from) =>
        {
            Ok(EdgeKind::Call)
        }
        (
            Http(_),
            NodeKind::Producer(_)
            | NodeKind::Relay(_)
            | NodeKind::Sink(_)
            | NodeKind::Amqp(_)
            | NodeKind::Kafka(_)
            | NodeKind::Bullmq(_)
            | NodeKind::Data(_),
        )
        | (
            NodeKind::Producer(_)
            | NodeKind::Relay(_)
            | NodeKind::Sink(_)
            | NodeKind::Amqp(_)
            | NodeKind::Kafka(_)
            | NodeKind::Bullmq(_)
            | NodeKind::Data(_),
            Http(_),
        ) => Err(
            "clients, services and load balancers connect to one another; a service also \
             writes stores, publishes to exchanges and queues, adds jobs and produces records; \
             consumers, workers and Kafka consumers call services (a service consumes a \
             queue, works a job queue or reads a topic through a consumer, a worker or a Kafka \
             consumer listed in its `inputs`)",
        ),
        (
            NodeKind::Producer(_)
            | NodeKind::Relay(_)
            | NodeKind::Sink(_)
            | NodeKind::Amqp(_)
            | NodeKind::Kafka(_)
            | NodeKind::Bullmq(_)
            | NodeKind::Data(_),
            NodeKind::Producer(_)
            | NodeKind::Relay(_)
            | NodeKind::Sink(_)
            | NodeKind::Amqp(_)
            | NodeKind::Kafka(_)
            | NodeKind::Bullmq(_)
            | NodeKind::Data(_),
        ) => unreachable!("an edge with none of this model's kinds is not its to judge"),
    }
}

/// Which actions this model's kinds take: a client sends a request on `publish`; every node
/// can crash and restart.
pub(crate) fn action_rule(name: &str, kind: &NodeKind, action: Action) -> Result<(), String> {
    let NodeKind::Http(h) = kind else {
        unreachable!("the model judges its own kinds")
    };
    match (action, h) {
        (Action::Publish, HttpKind::Client(_)) => Ok(()),
        (Action::Crash | Action::Restart, _) => Ok(()),
        (Action::Publish, HttpKind::Service(_) | HttpKind::LoadBalancer(_)) => Err(format!(
            "{name:?} is a {}; only a client (or a producer) sends requests of its own",
            h.name()
        )),
        (Action::Settle, _) => Err(not_a(name, kind, "consumer", "settles deliveries")),
        (Action::Seek, _) => Err(not_a(name, kind, "kafka_consumer", "seeks")),
        (Action::LoseAck, _) => Err(not_a(name, kind, "kafka_producer", "loses acks")),
        (Action::Pause | Action::Resume, _) => {
            Err(not_a(name, kind, "consumer", "can be paused and resumed"))
        }
    }
}

/// The checks of one node's settings, under `path` (`nodes[3].config`).
pub(crate) fn check_kind(kind: &HttpKind, path: Path<'_>, diags: &mut Vec<Diagnostic>) {
    use crate::scenario::parse::{check_dist, MAX_ACTION_TIME, MAX_RATE_PER_S};
    match kind {
        HttpKind::Client(c) => {
            if !(c.rate_per_s >= 0.0 && c.rate_per_s <= MAX_RATE_PER_S) {
                diags.push(Diagnostic::new(
                    path.at("rate_per_s"),
                    format!(
                        "expected a number from 0 to {MAX_RATE_PER_S}, got {}",
                        c.rate_per_s
                    ),
                ));
            }
            if c.users > MAX_USERS {
                diags.push(Diagnostic::new(
                    path.at("users"),
                    format!("{} users; the limit is {MAX_USERS}", c.users),
                ));
            }
            if c.rate_per_s > 0.0 && c.users > 0 {
                diags.push(Diagnostic::new(
                    path,
                    "a client is open loop (rate_per_s) or closed loop (users), not both",
                ));
            }
            check_dist(&c.think_time, path.at("think_time"), diags);
            if c.deadline == Some(SimDuration::ZERO) {
                diags.push(Diagnostic::new(
                    path.at("deadline"),
                    "a deadline of 0 fails every request before it is sent; leave it out for none",
                ));
            }
            if c.start > MAX_ACTION_TIME {
                diags.push(Diagnostic::new(
                    path.at("start"),
                    format!("{} is out of range: at most {MAX_ACTION_TIME}", c.start),
                ));
            }
            if c.body_bytes > crate::scenario::MAX_BODY_BYTES {
                diags.push(Diagnostic::new(
                    path.at("body_bytes"),
                    format!(
                        "{} is out of range: at most {}",
                        c.body_bytes,
                        crate::scenario::MAX_BODY_BYTES
                    ),
                ));
            }
        }
        HttpKind::Service(s) => {
            if s.concurrency == 0 || s.concurrency > MAX_CONCURRENCY {
                diags.push(Diagnostic::new(
                    path.at("concurrency"),
                    format!(
                        "expected a number of worker threads from 1 to {MAX_CONCURRENCY}, got {}",
                        s.concurrency
                    ),
                ));
            }
            if s.accept_queue > MAX_ACCEPT_QUEUE {
                diags.push(Diagnostic::new(
                    path.at("accept_queue"),
                    format!(
                        "{} is out of range: at most {MAX_ACCEPT_QUEUE}",
                        s.accept_queue
                    ),
                ));
            }
            check_dist(&s.service_time, path.at("service_time"), diags);
            if !(0.0..=1.0).contains(&s.error_rate) {
                diags.push(Diagnostic::new(
                    path.at("error_rate"),
                    format!("expected a probability from 0 to 1, got {}", s.error_rate),
                ));
            }
            for (i, step) in s.handler.iter().flatten().enumerate() {
                match step {
                    HandlerStep::Call(targets) => {
                        if targets.is_empty() {
                            diags.push(Diagnostic::new(
                                format!("{path}.handler[{i}].call"),
                                "names no node to call",
                            ));
                        }
                    }
                    HandlerStep::Write(_)
                    | HandlerStep::Read(_)
                    | HandlerStep::Publish(_)
                    | HandlerStep::AddJob(_)
                    | HandlerStep::Produce(_) => {
                        for (field, t) in crate::handler::step_templates(step) {
                            // An HTTP request carries no headers or routing key here: a key
                            // that reads one could never be made.
                            if t.reads_job_id() {
                                diags.push(Diagnostic::new(
                                    format!("{path}.handler[{i}].{field}"),
                                    "{job_id}: the requests this service serves are not BullMQ \
                                     jobs; use {correlation_id} (the client's request) or \
                                     {message_id} (this attempt)",
                                ));
                            } else if let Some(f) = t.record_field() {
                                diags.push(Diagnostic::new(
                                    format!("{path}.handler[{i}].{field}"),
                                    format!(
                                        "{f}: the requests this service serves are not Kafka \
                                         records; use {{correlation_id}} (the client's request)"
                                    ),
                                ));
                            } else if let Some(h) = t.headers().next() {
                                diags.push(Diagnostic::new(
                                    format!("{path}.handler[{i}].{field}"),
                                    format!(
                                        "{{header.{h}}}: the requests this service serves \
                                         carry no headers; use {{correlation_id}} (the \
                                         client's request) or {{message_id}} (this attempt)"
                                    ),
                                ));
                            } else if t.reads_routing_key() {
                                diags.push(Diagnostic::new(
                                    format!("{path}.handler[{i}].{field}"),
                                    "{routing_key}: the requests this service serves carry \
                                     no routing key; use {correlation_id} (the client's \
                                     request) or {message_id} (this attempt)",
                                ));
                            }
                        }
                    }
                    HandlerStep::Fail(f) => {
                        if f.header.is_some() {
                            diags.push(Diagnostic::new(
                                format!("{path}.handler[{i}].fail.header"),
                                "the requests this service serves carry no headers, so none \
                                 is ever marked; give a \"probability\" instead",
                            ));
                        }
                    }
                }
            }
            if let Some(steps) = &s.handler {
                crate::handler::check_settings(steps, path, diags);
            }
        }
        HttpKind::LoadBalancer(lb) => {
            if let Some(hc) = &lb.health_check {
                if hc.interval.is_zero() {
                    diags.push(Diagnostic::new(
                        format!("{path}.health_check.interval"),
                        "must be above 0",
                    ));
                }
                for (name, v) in [
                    ("unhealthy_threshold", hc.unhealthy_threshold),
                    ("healthy_threshold", hc.healthy_threshold),
                ] {
                    if v == 0 {
                        diags.push(Diagnostic::new(
                            format!("{path}.health_check.{name}"),
                            "must be at least 1",
                        ));
                    }
                }
            }
        }
    }
}

/// The fields of a call edge or an upstream edge: a latency, and policies on call edges only.
pub(crate) fn check_edge_fields(
    e: &EdgeSpec,
    kind: EdgeKind,
    path: Path<'_>,
    diags: &mut Vec<Diagnostic>,
) {
    crate::scenario::check_plain_edge_fields(e, path, diags);
    match (kind, &e.resilience) {
        (_, None) => {}
        (EdgeKind::Call, Some(r)) => check_resilience(r, path.at("resilience"), diags),
        (EdgeKind::Upstream, Some(_)) => diags.push(Diagnostic::new(
            path.at("resilience"),
            "a load balancer passes calls on; put the policies on the call into it",
        )),
    }
}

fn in_percent(v: f32, path: Path<'_>, diags: &mut Vec<Diagnostic>) {
    if !(v > 0.0 && v <= 100.0) {
        diags.push(Diagnostic::new(
            path,
            format!("expected a percentage in (0, 100], got {v}"),
        ));
    }
}

fn at_most_delay(d: SimDuration, path: Path<'_>, diags: &mut Vec<Diagnostic>) {
    let max = crate::scenario::parse::MAX_DELAY;
    if d > max {
        diags.push(Diagnostic::new(
            path,
            format!("{d} is out of range: at most {max}"),
        ));
    }
}

fn whole_seconds(d: SimDuration, path: Path<'_>, diags: &mut Vec<Diagnostic>) {
    if d.is_zero() || !d.0.is_multiple_of(1_000_000) {
        diags.push(Diagnostic::new(
            path,
            format!("{d}: expected a whole number of seconds, at least 1s (the window counts in seconds)"),
        ));
    } else {
        at_most_delay(d, path, diags);
    }
}

/// The policies of a call edge, under `path` (`edges[2].resilience`).
pub(crate) fn check_resilience(r: &Resilience, path: Path<'_>, diags: &mut Vec<Diagnostic>) {
    if let Some(t) = &r.time_limiter {
        let limiter = path.at("timeLimiter");
        let p = limiter.at("timeoutDuration");
        if t.timeout_duration.is_zero() {
            diags.push(Diagnostic::new(
                p,
                "a timeout of 0 times out every attempt before it leaves",
            ));
        } else {
            at_most_delay(t.timeout_duration, p, diags);
        }
    }
    if let Some(rt) = &r.retry {
        let p = path.at("retry");
        if rt.max_attempts == 0 || rt.max_attempts > MAX_ATTEMPTS {
            diags.push(Diagnostic::new(
                p.at("maxAttempts"),
                format!(
                    "expected 1 to {MAX_ATTEMPTS} attempts (the first call included), got {}",
                    rt.max_attempts
                ),
            ));
        }
        at_most_delay(rt.wait_duration, p.at("waitDuration"), diags);
        if let Some(m) = rt.exponential_max_wait_duration {
            at_most_delay(m, p.at("exponentialMaxWaitDuration"), diags);
        }
        if !(rt.exponential_backoff_multiplier >= 1.0 && rt.exponential_backoff_multiplier <= 100.0)
        {
            diags.push(Diagnostic::new(
                p.at("exponentialBackoffMultiplier"),
                format!(
                    "expected a number from 1 to 100, got {}",
                    rt.exponential_backoff_multiplier
                ),
            ));
        }
        if !(rt.randomized_wait_factor >= 0.0 && rt.randomized_wait_factor < 1.0) {
            diags.push(Diagnostic::new(
                p.at("randomizedWaitFactor"),
                format!(
                    "expected a number in [0, 1), got {}",
                    rt.randomized_wait_factor
                ),
            ));
        }
        if rt.jitter.is_some() && (rt.enable_exponential_backoff || rt.enable_randomized_wait) {
            diags.push(Diagnostic::new(
                p.at("jitter"),
                "AWS's jittered backoff replaces resilience4j's: leave out enableExponentialBackoff \
                 and enableRandomizedWait (jitter uses waitDuration as its base and \
                 exponentialMaxWaitDuration as its cap)",
            ));
        }
    }
    if let Some(cb) = &r.circuit_breaker {
        let p = path.at("circuitBreaker");
        in_percent(
            cb.failure_rate_threshold,
            p.at("failureRateThreshold"),
            diags,
        );
        in_percent(
            cb.slow_call_rate_threshold,
            p.at("slowCallRateThreshold"),
            diags,
        );
        for (name, v) in [
            ("slidingWindowSize", cb.sliding_window_size),
            ("minimumNumberOfCalls", cb.minimum_number_of_calls),
            (
                "permittedNumberOfCallsInHalfOpenState",
                cb.permitted_number_of_calls_in_half_open_state,
            ),
        ] {
            if v == 0 || v > 100_000 {
                diags.push(Diagnostic::new(
                    p.at(name),
                    format!("expected 1 to 100000, got {v}"),
                ));
            }
        }
        if cb.wait_duration_in_open_state < SimDuration::from_ms(1) {
            diags.push(Diagnostic::new(
                p.at("waitDurationInOpenState"),
                "must be at least 1ms (as resilience4j requires)",
            ));
        }
        at_most_delay(
            cb.wait_duration_in_open_state,
            p.at("waitDurationInOpenState"),
            diags,
        );
        at_most_delay(
            cb.slow_call_duration_threshold,
            p.at("slowCallDurationThreshold"),
            diags,
        );
        at_most_delay(
            cb.max_wait_duration_in_half_open_state,
            p.at("maxWaitDurationInHalfOpenState"),
            diags,
        );
    }
    if let Some(b) = &r.bulkhead {
        let p = path.at("bulkhead");
        if b.max_concurrent_calls > MAX_CONCURRENCY {
            diags.push(Diagnostic::new(
                p.at("maxConcurrentCalls"),
                format!(
                    "{} is out of range: at most {MAX_CONCURRENCY}",
                    b.max_concurrent_calls
                ),
            ));
        }
        at_most_delay(b.max_wait_duration, p.at("maxWaitDuration"), diags);
    }
    if let Some(b) = &r.retry_budget {
        let p = path.at("retryBudget");
        if !(b.retry_ratio >= 0.0 && b.retry_ratio <= 10.0) {
            diags.push(Diagnostic::new(
                p.at("retryRatio"),
                format!("expected a ratio from 0 to 10, got {}", b.retry_ratio),
            ));
        }
        whole_seconds(b.window, p.at("window"), diags);
        if r.retry.is_none() {
            diags.push(Diagnostic::new(
                p,
                "a retry budget needs a retry policy to limit",
            ));
        }
    }
    if let Some(t) = &r.adaptive_throttling {
        let p = path.at("adaptiveThrottling");
        if !(t.k >= 1.0 && t.k <= 100.0) {
            diags.push(Diagnostic::new(
                p.at("K"),
                format!("expected a multiplier from 1 to 100, got {}", t.k),
            ));
        }
        whole_seconds(t.window, p.at("window"), diags);
    }
}

/// Each service's `inputs`: consumers, workers and Kafka consumers, each in one service at
/// most.
fn check_inputs<'a>(
    s: &'a Scenario,
    kind: &dyn Fn(&str) -> Option<&'a NodeKind>,
    diags: &mut Vec<Diagnostic>,
) {
    // Which service each input is in, and where that service lists it.
    let mut taken: BTreeMap<&str, &str> = BTreeMap::new();
    for (i, n) in s.nodes.iter().enumerate() {
        let NodeKind::Http(HttpKind::Service(svc)) = &n.kind else {
            continue;
        };
        for (j, input) in svc.inputs.iter().enumerate() {
            let path = format!("nodes[{i}].config.inputs[{j}]");
            match kind(input) {
                None => diags.push(Diagnostic::new(
                    path,
                    format!("{input:?}: there is no node of that name"),
                )),
                Some(k) if crate::handler::handles_outside_http(k) => {
                    if let Some(other) = taken.insert(input, &n.id) {
                        let what = if other == n.id {
                            format!("{input:?} is listed twice")
                        } else {
                            format!(
                                "{input:?} is already an input of service {other:?}; a node \
                                 runs in one service's process"
                            )
                        };
                        diags.push(Diagnostic::new(path, what));
                    }
                }
                Some(other) => diags.push(Diagnostic::new(
                    path,
                    format!(
                        "{input:?} is a {}; a service's inputs are consumers (a queue it \
                         consumes), workers (a job queue it works) and Kafka consumers (a \
                         topic its group reads)",
                        other.name()
                    ),
                )),
            }
        }
    }
}

/// The checks that span nodes: a client calls one node; a handler calls only nodes its service
/// has an edge to; and the calls form no cycle (each request would call around it forever).
pub(crate) fn check_topology<'a>(
    s: &'a Scenario,
    kind: &dyn Fn(&str) -> Option<&'a NodeKind>,
    diags: &mut Vec<Diagnostic>,
) {
    check_inputs(s, kind, diags);
    let is_http = |id: &str| matches!(kind(id), Some(NodeKind::Http(_)));
    // Out-edges between this model's nodes, by source name, in document order.
    let mut out: BTreeMap<&str, Vec<(usize, &str)>> = BTreeMap::new();
    for (i, e) in s.edges.iter().enumerate() {
        if is_http(&e.from) && is_http(&e.to) && e.from != e.to {
            out.entry(e.from.as_str())
                .or_default()
                .push((i, e.to.as_str()));
        }
    }
    for (i, n) in s.nodes.iter().enumerate() {
        let NodeKind::Http(h) = &n.kind else { continue };
        let edges = out.get(n.id.as_str()).map_or(&[][..], Vec::as_slice);
        match h {
            HttpKind::Client(_) if edges.len() > 1 => diags.push(Diagnostic::new(
                format!("edges[{}]", edges[1].0),
                format!(
                    "client {:?} already calls {:?}; a client calls one node (put a load \
                     balancer in front of several)",
                    n.id, edges[0].1
                ),
            )),
            HttpKind::Service(svc) => {
                for (j, step) in svc.handler.iter().flatten().enumerate() {
                    let HandlerStep::Call(targets) = step else {
                        crate::handler::check_step(n, i, j, step, kind, s, diags);
                        continue;
                    };
                    for (t, target) in targets.iter().enumerate() {
                        if !edges.iter().any(|&(_, to)| to == target) {
                            diags.push(Diagnostic::new(
                                format!("nodes[{i}].config.handler[{j}].call[{t}]"),
                                format!(
                                    "{target:?}: service {:?} has no edge to it; draw one (the \
                                     edge carries the call's policies)",
                                    n.id
                                ),
                            ));
                        }
                    }
                }
            }
            HttpKind::Client(_) | HttpKind::LoadBalancer(_) => {}
        }
    }
    // A cycle of calls: depth-first, in document order, reporting the first found.
    let mut state: BTreeMap<&str, u8> = BTreeMap::new(); // 1: on the path, 2: done
    let mut path: Vec<(&str, usize)> = Vec::new();
    fn visit<'a>(
        at: &'a str,
        out: &BTreeMap<&'a str, Vec<(usize, &'a str)>>,
        state: &mut BTreeMap<&'a str, u8>,
        path: &mut Vec<(&'a str, usize)>,
    ) -> Option<(usize, Vec<&'a str>)> {
        state.insert(at, 1);
        for &(edge, to) in out.get(at).map_or(&[][..], Vec::as_slice) {
            match state.get(to) {
                Some(1) => {
                    let from = path
                        .iter()
                        .position(|&(n, _)| n == to)
                        .unwrap_or(path.len());
                    let mut names: Vec<&str> = path[from..].iter().map(|&(n, _)| n).collect();
                    names.push(at);
                    names.push(to);
                    return Some((edge, names));
                }
                Some(_) => {}
                None => {
                    path.push((at, edge));
                    if let Some(found) = visit(to, out, state, path) {
                        return Some(found);
                    }
                    path.pop();
                }
            }
        }
        state.insert(at, 2);
        None
    }
    for n in &s.nodes {
        if state.contains_key(n.id.as_str()) || !out.contains_key(n.id.as_str()) {
            continue;
        }
        if let Some((edge, names)) = visit(&n.id, &out, &mut state, &mut path) {
            diags.push(Diagnostic::new(
                format!("edges[{edge}]"),
                format!(
                    "closes a cycle of calls ({}): each request would call around it without \
                     end; calls must form a tree or a chain",
                    names
                        .iter()
                        .map(|n| format!("{n:?}"))
                        .collect::<Vec<_>>()
                        .join(" → ")
                ),
            ));
            return;
        }
    }
}
