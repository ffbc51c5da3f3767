//! The request-response model in the page: clients, services and load balancers, and their
//! call edges with resilience policies.

use super::{Face, Fault, PaletteItem, Shape};
use crate::fields::{f, Field, FieldType::*};
use crate::view::NODE_HALF_W;
use serde_json::json;
use switchboard_core::http::{BreakerState, EdgeKind, HttpKind, HttpMetrics};
use switchboard_core::scenario::{NodeKind, NodeSpec};
use switchboard_core::{NodeMetrics, SimTime};
use yew::prelude::*;

/// Worker slots drawn in a service (more workers are summed up in the counts).
pub const WORKER_SLOTS: usize = 10;

/// The model's palette items.
pub const PALETTE: &[PaletteItem] = &[
    PaletteItem {
        label: "Client",
        kind: "client",
        variant: None,
        stem: "client",
    },
    PaletteItem {
        label: "Service",
        kind: "service",
        variant: None,
        stem: "service",
    },
    PaletteItem {
        label: "Load balancer",
        kind: "load_balancer",
        variant: None,
        stem: "lb",
    },
];

/// The settings a new node of a palette item starts with (`None`: not one of this model's).
pub fn default_config(item: &PaletteItem) -> Option<serde_json::Value> {
    Some(match item.kind {
        "client" => json!({ "rate_per_s": 20 }),
        "service" => {
            json!({ "concurrency": 4, "accept_queue": 50, "service_time": { "dist": "exponential", "mean": "50ms" } })
        }
        "load_balancer" => {
            json!({ "algorithm": "round_robin", "health_check": { "interval": "1s" } })
        }
        _ => return None,
    })
}

/// A client's settings.
pub const CLIENT: &[Field] = &[
    f(
        "rate_per_s",
        &["rate_per_s"],
        Float,
        "open loop: requests per second",
    ),
    f(
        "arrival",
        &["arrival"],
        Choice(&["constant", "poisson"]),
        "evenly spaced, or random gaps",
    ),
    f(
        "users",
        &["users"],
        Int,
        "closed loop: users, each waiting for its answer",
    ),
    f(
        "think_time",
        &["think_time"],
        Duration,
        "a user's pause between requests",
    ),
    f(
        "deadline",
        &["deadline"],
        Duration,
        "give up on a request after this (empty: never)",
    ),
    f(
        "limit",
        &["limit"],
        Int,
        "stop after this many (empty: never)",
    ),
    f("start", &["start"], Duration, "when the first request goes"),
];

/// A service's settings.
pub const SERVICE: &[Field] = &[
    f("concurrency", &["concurrency"], Int, "worker threads"),
    f(
        "accept_queue",
        &["accept_queue"],
        Int,
        "requests that may wait for a worker",
    ),
    f(
        "service_time",
        &["service_time"],
        Duration,
        "work per request, before its calls",
    ),
    f(
        "error_rate",
        &["error_rate"],
        Float,
        "probability a request fails (0–1)",
    ),
    f(
        "handler",
        &["handler"],
        Json,
        "steps: [{\"call\": \"api\"}, {\"write\": \"db\", \"key\": \"order:{correlation_id}\"}, {\"publish\": \"orders-x\", \"routing_key\": \"order.placed\"}, {\"read\": \"orders-view\", \"key\": \"order:{correlation_id}\"}, {\"add_job\": \"emails\", \"name\": \"receipt\"}, {\"produce\": \"orders\", \"key\": \"{correlation_id}\"}, {\"fail\": {\"probability\": 0.05}}] (empty: call each call edge in turn)",
    ),
    f(
        "inputs",
        &["inputs"],
        Json,
        "other inputs in its process, each with its own handler: [\"payer\"] (consumers, workers, Kafka consumers; they crash and restart with it)",
    ),
];

/// A load balancer's settings.
pub const BALANCER: &[Field] = &[
    f(
        "algorithm",
        &["algorithm"],
        Choice(&["round_robin", "random", "least_outstanding_requests"]),
        "how an instance is picked",
    ),
    f(
        "health_check",
        &["health_check"],
        Json,
        "{\"interval\": \"1s\", \"unhealthy_threshold\": 2, \"healthy_threshold\": 2} (empty: none)",
    ),
];

/// A call edge's settings: its latency, and each resilience4j policy.
pub const CALL: &[Field] = &[
    f("latency", &["latency"], Duration, "time on the wire"),
    f(
        "timeLimiter",
        &["resilience", "timeLimiter"],
        Json,
        "{\"timeoutDuration\": \"1s\"}",
    ),
    f(
        "retry",
        &["resilience", "retry"],
        Json,
        "{\"maxAttempts\": 3, \"waitDuration\": \"500ms\", \"enableExponentialBackoff\": true}",
    ),
    f(
        "circuitBreaker",
        &["resilience", "circuitBreaker"],
        Json,
        "{\"failureRateThreshold\": 50, \"slidingWindowSize\": 20, \"minimumNumberOfCalls\": 10, \"waitDurationInOpenState\": \"5s\"}",
    ),
    f(
        "bulkhead",
        &["resilience", "bulkhead"],
        Json,
        "{\"maxConcurrentCalls\": 10, \"maxWaitDuration\": \"0ms\"}",
    ),
    f(
        "retryBudget",
        &["resilience", "retryBudget"],
        Json,
        "{\"retryRatio\": 0.1, \"window\": \"10s\"}",
    ),
    f(
        "adaptiveThrottling",
        &["resilience", "adaptiveThrottling"],
        Json,
        "{\"K\": 2, \"window\": \"120s\"}",
    ),
];

/// The inspector's fields of one of the model's kinds.
pub fn fields(kind: &HttpKind) -> &'static [Field] {
    match kind {
        HttpKind::Client(_) => CLIENT,
        HttpKind::Service(_) => SERVICE,
        HttpKind::LoadBalancer(_) => BALANCER,
    }
}

/// The inspector's fields of one of the model's edges.
pub fn edge_fields(kind: EdgeKind) -> &'static [Field] {
    match kind {
        EdgeKind::Call => CALL,
        EdgeKind::Upstream => super::kernel::WIRE,
    }
}

/// The faults one of the model's kinds takes: every node crashes; a service also slows down.
pub fn faults(kind: &HttpKind) -> &'static [Fault] {
    match kind {
        HttpKind::Client(_) | HttpKind::LoadBalancer(_) => &[Fault::CrashRestart],
        HttpKind::Service(_) => &[Fault::CrashRestart, Fault::Slow],
    }
}

/// A service ten times slower (the Slow fault), as new settings.
pub fn slowed(spec: &NodeSpec, kind: &HttpKind) -> Option<NodeSpec> {
    match kind {
        HttpKind::Service(s) => {
            let mut slow = s.clone();
            slow.service_time = super::scaled(&s.service_time, 10);
            Some(NodeSpec {
                kind: NodeKind::Http(HttpKind::Service(slow)),
                ..spec.clone()
            })
        }
        HttpKind::Client(_) | HttpKind::LoadBalancer(_) => None,
    }
}

/// Every node of the model sends (requests, or responses).
pub fn sends(kind: &HttpKind) -> bool {
    match kind {
        HttpKind::Client(_) | HttpKind::Service(_) | HttpKind::LoadBalancer(_) => true,
    }
}

/// What a call edge shows on the canvas: its attempts per call and timeouts, its breaker's
/// badge, its bulkhead's slots.
#[derive(Clone, Debug, PartialEq)]
pub struct CallStats {
    /// Attempts per call so far.
    pub attempts_per_call: f64,
    /// `1.5× per request`: attempts over the edge per request the clients began.
    pub text: String,
    /// `3 timeouts · 2 refused · bulkhead 2 +1`, or empty.
    pub detail: String,
    /// The breaker's badge, when it is not closed.
    pub breaker: Option<String>,
}

/// The stats of call edge `edge` from `caller`, from the run's metrics (`None`: not a call
/// edge, or no call yet).
pub fn call_stats(
    metrics: &switchboard_core::Metrics,
    caller: switchboard_core::NodeId,
    edge: switchboard_core::EdgeId,
    now: SimTime,
) -> Option<CallStats> {
    let node = metrics.nodes.get(caller.index())?;
    // A consumer's, worker's or Kafka consumer's call edges: its handler's calls, made for
    // the messages it handles rather than for a client's requests.
    let (calls, per_request) = match node.http() {
        Some(HttpMetrics::Client(c)) => (&c.calls, true),
        Some(HttpMetrics::Service(s)) => (&s.calls, true),
        Some(HttpMetrics::Balancer(_)) => return None,
        None => (&node.calls, false),
    };
    let e = calls.iter().find(|e| e.edge == edge)?;
    if e.stats.calls == 0 && e.breaker.is_none() {
        return None;
    }
    let text = if per_request {
        format!("{:.1}× per request", e.attempts_per_request)
    } else {
        format!("{:.1}× per call", e.attempts_per_call)
    };
    let mut detail = Vec::new();
    if e.stats.timeouts > 0 {
        detail.push(format!("{} timeouts", e.stats.timeouts));
    }
    let refused = e.stats.refused_breaker + e.stats.refused_bulkhead + e.stats.refused_throttled;
    if refused > 0 {
        detail.push(format!("{refused} refused"));
    }
    if let Some((used, waiting)) = e.bulkhead {
        detail.push(if waiting > 0 {
            format!("bulkhead {used} +{waiting}")
        } else {
            format!("bulkhead {used}")
        });
    }
    Some(CallStats {
        attempts_per_call: e.attempts_per_call,
        text,
        detail: detail.join(" · "),
        breaker: e
            .breaker
            .and_then(|b| breaker_badge(b, e.breaker_until, now)),
    })
}

/// A breaker's state as a short badge: `OPEN 4.2s`, `HALF_OPEN`, nothing while closed.
pub fn breaker_badge(state: BreakerState, until: Option<SimTime>, now: SimTime) -> Option<String> {
    match state {
        BreakerState::Closed => None,
        BreakerState::HalfOpen => Some("HALF_OPEN".into()),
        BreakerState::Open => Some(match until {
            Some(t) if t > now => format!("OPEN {:.1}s", (t.0 - now.0) as f64 / 1e6),
            _ => "OPEN".into(),
        }),
    }
}

/// How one of the model's nodes is drawn: a client with its requests and goodput, a service
/// with its worker slots and accept queue, a load balancer with its upstreams' health.
pub fn face(kind: &HttpKind, m: &NodeMetrics, c: (f64, f64), now: SimTime) -> Face {
    let (cx, cy) = c;
    let x0 = cx - NODE_HALF_W;
    let counts = |text: String| {
        html! { <text class="counts" x={cx.to_string()} y={(cy + 22.0).to_string()}>{ text }</text> }
    };
    let breaker = |calls: &[switchboard_core::http::EdgeMetrics]| {
        calls
            .iter()
            .filter_map(|e| {
                e.breaker
                    .and_then(|b| breaker_badge(b, e.breaker_until, now))
            })
            .next()
    };
    match (kind, m.http()) {
        (HttpKind::Client(cfg), Some(HttpMetrics::Client(cm))) => {
            let load = if cfg.users > 0 {
                format!("client · {} users", cfg.users)
            } else {
                format!("client · {}/s", cfg.rate_per_s)
            };
            let status = format!(
                "{} requests, {} succeeded, {} failed, goodput {:.1}/s",
                cm.stats.requests, cm.stats.succeeded, cm.stats.failed, cm.goodput_per_s
            );
            let badge = breaker(&cm.calls);
            Face {
                shape: Shape::Box,
                // The edge shows the breaker's badge; the name says it too (below).
                subtitle: load,
                body: counts(format!(
                    "ok {} · failed {} · {:.0}/s good",
                    cm.stats.succeeded, cm.stats.failed, cm.goodput_per_s
                )),
                status: match badge {
                    Some(b) => format!("{status}; breaker {b}"),
                    None => status,
                },
            }
        }
        (HttpKind::Service(cfg), Some(HttpMetrics::Service(sm))) => {
            let shown = (cfg.concurrency as usize).min(WORKER_SLOTS);
            let busy_shown = if cfg.concurrency as usize <= WORKER_SLOTS {
                sm.busy as usize
            } else {
                (sm.busy as usize * WORKER_SLOTS).div_ceil(cfg.concurrency as usize)
            };
            let w = 2.0 * NODE_HALF_W - 16.0;
            let cw = w / WORKER_SLOTS as f64;
            let badge = breaker(&sm.calls);
            let body = html! {
                <g class="workers" data-busy={sm.busy.to_string()} data-queued={sm.queued.to_string()}>
                    { for (0..shown).map(|i| {
                        let class = if i < busy_shown { "slot unacked" } else { "slot free" };
                        html! { <rect class={class} x={(x0 + 8.0 + i as f64 * cw + 1.0).to_string()} y={(cy + 4.0).to_string()} width={(cw - 2.0).to_string()} height="10" rx="2" /> }
                    }) }
                    <text class="counts" x={cx.to_string()} y={(cy + 28.0).to_string()}>
                        { format!("busy {}/{} · queued {}", sm.busy, cfg.concurrency, sm.queued) }
                        if sm.load_multiple >= 1.05 {
                            <tspan class="load-multiple">{ format!(" · {:.1}× load", sm.load_multiple) }</tspan>
                        }
                    </text>
                </g>
            };
            let status = format!(
                "{} of {} workers busy, {} queued, {} errors, load {:.1} times the offered load",
                sm.busy, cfg.concurrency, sm.queued, sm.stats.errors, sm.load_multiple
            );
            Face {
                shape: Shape::Box,
                subtitle: "service".into(),
                body,
                status: match badge {
                    Some(b) => format!("{status}; breaker {b}"),
                    None => status,
                },
            }
        }
        (HttpKind::LoadBalancer(cfg), Some(HttpMetrics::Balancer(bm))) => {
            let healthy = bm.upstreams.iter().filter(|u| u.healthy).count();
            Face {
                shape: Shape::Box,
                subtitle: match cfg.algorithm {
                    switchboard_core::http::Algorithm::RoundRobin => "round robin".into(),
                    switchboard_core::http::Algorithm::Random => "random".into(),
                    switchboard_core::http::Algorithm::LeastOutstandingRequests => {
                        "least outstanding".into()
                    }
                },
                body: counts(format!("{healthy}/{} healthy", bm.upstreams.len())),
                status: format!("{healthy} of {} upstreams healthy", bm.upstreams.len()),
            }
        }
        (HttpKind::Client(_) | HttpKind::Service(_) | HttpKind::LoadBalancer(_), _) => Face {
            shape: Shape::Box,
            subtitle: kind.name().replace('_', " "),
            body: html! {},
            status: String::new(),
        },
    }
}

/// How a request-response edge reads from each end (see [`super::edge_phrases`]).
pub fn edge_phrases(kind: EdgeKind) -> (&'static str, &'static str) {
    match kind {
        EdgeKind::Call => ("calls", "called by"),
        EdgeKind::Upstream => ("balances to", "behind load balancer"),
    }
}

/// What a request-response edge is called.
pub fn edge_noun(kind: EdgeKind) -> &'static str {
    match kind {
        EdgeKind::Call => "call",
        EdgeKind::Upstream => "upstream link",
    }
}
