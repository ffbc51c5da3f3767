//! The request-response model: clients, services and load balancers calling one another over
//! HTTP, with resilience4j's timeouts, retries, circuit breakers and bulkheads on each call
//! edge, plus a retry budget and client-side adaptive throttling. See `docs/http.md` for what
//! is modelled and what is not.
//!
//! - [`kind`]: the model's node kinds ([`HttpKind`]) and edge kinds, with their settings.
//! - [`policy`]: the call edge's policies ([`Resilience`]), under resilience4j's names.
//! - [`breaker`]: resilience4j's circuit breaker, as a pure state machine.
//! - [`backoff`]: the wait before each retry (resilience4j's interval functions, AWS's jitters).
//! - [`window`]: counts and latencies over a sliding window of seconds.
//! - [`event`]: the model's events ([`HttpEvent`]).
//! - `model` (private): its state, agenda entries, places and metrics; `caller` the calling
//!   side (requests, calls, attempts through the policies), `server` the serving side
//!   (services' workers, accept queues and handlers; load balancers).
//! - `rules` (crate): its rules: edges, actions, validation, the call graph.

pub mod backoff;
pub mod breaker;
mod caller;
pub mod event;
pub mod kind;
mod model;
pub mod policy;
pub(crate) mod rules;
mod server;
pub(crate) mod slab;
pub(crate) mod trace;
pub mod window;

pub use breaker::BreakerState;
pub use event::{HttpEvent, Refusal, Status};
pub use kind::{
    Algorithm, ClientConfig, EdgeKind, HandlerStep, HealthCheck, HttpKind, LoadBalancerConfig,
    ServiceConfig,
};
pub(crate) use model::{gap, Due, HttpModel, PlaceDetail};
pub use model::{
    BalancerMetrics, CallStats, ClientMetrics, ClientStats, EdgeMetrics, HttpMetrics,
    ServiceMetrics, ServiceStats, UpstreamMetrics, MAX_USERS, METRICS_WINDOW_S,
};
pub use policy::Resilience;
pub use slab::Key;

/// A request a service is serving, as a handler step carried out by another model names it.
pub(crate) type JobKey = slab::Key;

/// The live nodes the service `node` lists as its other `inputs` (RabbitMQ consumers, BullMQ
/// workers, Kafka consumers, which run in its process), in its order; none for other nodes.
/// Names that no longer name such a node (a live edit removed or replaced it) are passed over.
pub fn inputs_of(topo: &crate::topology::Topology, node: crate::NodeId) -> Vec<crate::NodeId> {
    use crate::scenario::NodeKind;
    let NodeKind::Http(HttpKind::Service(s)) = &topo.node(node).kind else {
        return Vec::new();
    };
    s.inputs
        .iter()
        .filter_map(|name| topo.node_id(name))
        .filter(|&n| {
            !topo.node(n).removed && crate::handler::handles_outside_http(&topo.node(n).kind)
        })
        .collect()
}
