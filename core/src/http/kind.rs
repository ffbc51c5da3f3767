//! The request-response model's node kinds: clients, services and load balancers, each with
//! its settings. In a scenario they are `NodeKind::Http(HttpKind)`, written as
//! `"kind": "client"` (or `"service"`, `"load_balancer"`) and `"config"`.

use crate::dist::DurationDist;
pub use crate::handler::HandlerStep;
use crate::scenario::{Arrival, Diagnostic};
use crate::time::SimDuration;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A node of the request-response model.
#[derive(Clone, Debug, PartialEq)]
pub enum HttpKind {
    /// Sends requests (open loop at a rate, or closed loop with users who think between
    /// requests), each with an optional deadline.
    Client(ClientConfig),
    /// An HTTP server: worker threads, an accept queue, a service time, an error rate, and a
    /// handler of steps run for each request (the calls it makes downstream).
    Service(ServiceConfig),
    /// Spreads the calls it receives over its upstream instances, taking out the ones its
    /// health checks find down.
    LoadBalancer(LoadBalancerConfig),
}

impl HttpKind {
    /// Every kind name of the model, as documents write them.
    pub const NAMES: &'static [&'static str] = &["client", "service", "load_balancer"];

    /// The kind's name as written in documents.
    pub fn name(&self) -> &'static str {
        match self {
            HttpKind::Client(_) => "client",
            HttpKind::Service(_) => "service",
            HttpKind::LoadBalancer(_) => "load_balancer",
        }
    }

    /// Reads a node of kind `name` from its `config`, reporting errors under `path`; `None` if
    /// `name` is not one of this model's kinds.
    pub(crate) fn parse(
        name: &str,
        config: Value,
        path: &str,
    ) -> Option<Result<HttpKind, Diagnostic>> {
        use crate::scenario::typed;
        Some(match name {
            "client" => typed(config, path).map(HttpKind::Client),
            "service" => typed(config, path).map(HttpKind::Service),
            "load_balancer" => typed(config, path).map(HttpKind::LoadBalancer),
            _ => return None,
        })
    }

    /// Writes the kind's `config` object.
    pub(crate) fn serialize_config<M: serde::ser::SerializeMap>(
        &self,
        map: &mut M,
    ) -> Result<(), M::Error> {
        match self {
            HttpKind::Client(c) => map.serialize_entry("config", c),
            HttpKind::Service(c) => map.serialize_entry("config", c),
            HttpKind::LoadBalancer(c) => map.serialize_entry("config", c),
        }
    }
}

/// Configuration of a `client` node.
///
/// Open loop: `rate_per_s` requests a second, whatever becomes of them (the offered load does
/// not slow down when the system does). Closed loop: `users` each send a request, wait for it
/// to end, think for `think_time`, and send the next (the load falls as the system slows).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// Open loop: requests per second; `0` sends only on scripted `publish` actions (and
    /// from `users`).
    #[serde(default, skip_serializing_if = "is_zero_f64")]
    pub rate_per_s: f64,
    /// Open loop: how the gaps between requests are drawn.
    #[serde(default)]
    pub arrival: Arrival,
    /// Closed loop: how many users send requests one after another.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub users: u32,
    /// Closed loop: how long a user waits between the end of one request and the next.
    #[serde(default = "default_think_time")]
    pub think_time: DurationDist,
    /// How long a request may take in all, its attempts and their waits included: when it
    /// passes, the client gives up on the request (`deadline_exceeded`). Goodput counts the
    /// requests that succeed within it. `None`: no deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<SimDuration>,
    /// When the first request may be sent.
    #[serde(default, skip_serializing_if = "is_zero_duration")]
    pub start: SimDuration,
    /// Stop after this many rate-driven requests (scripted ones do not count).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// Request body size in bytes.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub body_bytes: u32,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            rate_per_s: 0.0,
            arrival: Arrival::Poisson,
            users: 0,
            think_time: default_think_time(),
            deadline: None,
            start: SimDuration::ZERO,
            limit: None,
            body_bytes: 0,
        }
    }
}

fn default_think_time() -> DurationDist {
    DurationDist::constant(SimDuration::from_ms(1000))
}

/// Configuration of a `service` node.
///
/// A request that arrives takes a free worker thread, or waits in the accept queue, or (the
/// queue full) is refused with a 503 at once. A worker spends `service_time` on it, then runs
/// the `handler`'s steps in order (each a call, or several calls at once), holding the thread
/// while it waits for them; then it responds: an error if a call failed or with probability
/// `error_rate`, a success otherwise.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// Worker threads: requests served at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: u32,
    /// Requests that may wait for a worker; beyond it, a request is refused (503).
    #[serde(default = "default_accept_queue")]
    pub accept_queue: u32,
    /// The work each request takes, before its calls.
    #[serde(default = "default_service_time")]
    pub service_time: DurationDist,
    /// The probability that a request fails on its own (a 500), from 0 to 1.
    #[serde(default, skip_serializing_if = "is_zero_f64")]
    pub error_rate: f64,
    /// The steps run for each request, after its work. `None`: call every service this one
    /// has a call edge to, one after another, in the order of the edges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handler: Option<Vec<HandlerStep>>,
    /// Its other inputs, each a node with its own handler that runs in this service's
    /// process: a RabbitMQ consumer (a queue it consumes), a BullMQ worker (a job queue it
    /// works), a Kafka consumer (a topic its group reads). They go down and come back with
    /// the service.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<String>,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            concurrency: default_concurrency(),
            accept_queue: default_accept_queue(),
            service_time: default_service_time(),
            error_rate: 0.0,
            handler: None,
            inputs: Vec::new(),
        }
    }
}

fn default_concurrency() -> u32 {
    10
}

fn default_accept_queue() -> u32 {
    100
}

fn default_service_time() -> DurationDist {
    DurationDist::constant(SimDuration::from_ms(20))
}

/// How a load balancer picks an upstream instance for each call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// Each healthy instance in turn.
    #[default]
    RoundRobin,
    /// A healthy instance drawn at random.
    Random,
    /// The healthy instance with the fewest calls outstanding (the first of those, on a tie).
    LeastOutstandingRequests,
}

impl Algorithm {
    /// The name as documents write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::RoundRobin => "round_robin",
            Algorithm::Random => "random",
            Algorithm::LeastOutstandingRequests => "least_outstanding_requests",
        }
    }
}

/// Configuration of a `load_balancer` node.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancerConfig {
    /// How an instance is picked.
    #[serde(default)]
    pub algorithm: Algorithm,
    /// Active health checks; `None`: every instance is always taken as healthy (a call to a
    /// crashed one fails).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheck>,
}

/// Active health checks, under Envoy's names: every `interval` the balancer probes each
/// instance; `unhealthy_threshold` failed probes in a row take it out, `healthy_threshold`
/// good ones in a row put it back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    /// Time between probes.
    #[serde(default = "default_hc_interval")]
    pub interval: SimDuration,
    /// Failed probes in a row that take an instance out.
    #[serde(default = "default_threshold")]
    pub unhealthy_threshold: u32,
    /// Good probes in a row that put it back.
    #[serde(default = "default_threshold")]
    pub healthy_threshold: u32,
}

impl Default for HealthCheck {
    fn default() -> Self {
        HealthCheck {
            interval: default_hc_interval(),
            unhealthy_threshold: default_threshold(),
            healthy_threshold: default_threshold(),
        }
    }
}

fn default_hc_interval() -> SimDuration {
    SimDuration::from_ms(1000)
}

fn default_threshold() -> u32 {
    2
}

fn is_zero_f64(x: &f64) -> bool {
    *x == 0.0
}

fn is_zero_u32(x: &u32) -> bool {
    *x == 0
}

fn is_zero_duration(d: &SimDuration) -> bool {
    *d == SimDuration::ZERO
}

/// What an edge of the request-response model is, from the kinds at its ends
/// (`rules::edge_rule`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EdgeKind {
    /// A client or a service calls a service or a load balancer. Its `resilience` policies
    /// (timeout, retry, circuit breaker, bulkhead, retry budget, adaptive throttling) act on
    /// each call made over it.
    Call,
    /// A load balancer's upstream instance.
    Upstream,
}

impl EdgeKind {
    /// What the edge means, in a few words.
    pub fn meaning(self) -> &'static str {
        match self {
            EdgeKind::Call => "calls",
            EdgeKind::Upstream => "balances to",
        }
    }

    /// A short class name for drawing.
    pub fn class(self) -> &'static str {
        match self {
            EdgeKind::Call => "call",
            EdgeKind::Upstream => "upstream",
        }
    }
}
