//! The request-response model's state, agenda entries, places and metrics. The behaviour is
//! in `caller.rs` (calls and their policies) and `server.rs` (services and load balancers),
//! as methods of [`HttpModel`] acting through the kernel.

use super::breaker::{Breaker, BreakerState};
use super::event::{HttpEvent, Status};
use super::kind::HttpKind;
use super::policy::Resilience;
use super::slab::{Key, Slab};
use super::window::{LatencyWindow, PairWindow};
use crate::id::{EdgeId, MessageId, NodeId};
use crate::kernel::Kernel;
use crate::ledger::Fate;
use crate::message::Envelope;
use crate::model::{Place, PlaceDetail as ModelPlace};
use crate::scenario::NodeKind;
use crate::time::{SimDuration, SimTime};
use serde::Serialize;

use std::collections::{BTreeMap, VecDeque};

/// The window the metrics' rates and percentiles cover, in seconds.
pub const METRICS_WINDOW_S: u64 = 10;

/// The most users a closed-loop client may have.
pub const MAX_USERS: u32 = 10_000;

/// The model's entries in the kernel's agenda. Each names what it is about by key or id, with
/// a stamp where a crash or a new setting may have made it stale; none carries a message.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Due {
    /// An open-loop client's next request.
    Emit { node: NodeId, epoch: u32 },
    /// A closed-loop user's next request: `slot` is the user's index in the low 16 bits and
    /// the client's epoch (mod 2^16) in the high 16.
    User { node: NodeId, slot: u32 },
    /// A worker finishes a request's work.
    Work { job: Key },
    /// A handler step that another model carried out (a store's write) answered.
    StepDone {
        job: Key,
        answer: crate::model::StepAnswer,
    },
    /// A call's next attempt, after its wait.
    Retry { call: Key },
    /// A call waiting for a bulkhead slot gives up.
    BulkheadWait { call: Key },
    /// A client request's deadline.
    Deadline { request: Key },
    /// A circuit breaker's own timer (automatic half-open, longest half-open wait).
    Breaker { edge: EdgeId, epoch: u32 },
    /// A load balancer's health checks.
    Health { node: NodeId, epoch: u32 },
    /// A step of a consumer's, worker's or Kafka consumer's handler calls: its calls, kept by
    /// the kernel under `id` ([`crate::kernel::Kernel::step_calls`]), begin.
    StepCalls { id: u32 },
}

impl Due {
    pub(crate) fn user_slot(user: u32, epoch: u32) -> u32 {
        (epoch << 16) | (user & 0xffff)
    }
}

/// Where a logical call came from, to be told when it ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A client's request.
    Request(Key),
    /// A request a service is serving (its handler's call).
    Job(Key),
    /// A call step of another model's handler (a consumer's, a worker's, a Kafka
    /// consumer's): one of its calls.
    Step(Key),
}

/// A call step of another model's handler, while its calls go on: it answers its handler
/// once the last ends.
#[derive(Clone, Debug)]
pub(crate) struct StepCalls {
    /// The node whose handler calls.
    pub caller: NodeId,
    /// Whom to answer.
    pub origin: crate::model::StepOrigin,
    /// Calls not ended yet.
    pub pending: u32,
    /// One of them failed.
    pub failed: bool,
    /// Its calls are still being begun (one that ends at once does not answer yet).
    pub starting: bool,
}

/// One logical call over one edge, with all its attempts.
#[derive(Clone, Debug)]
pub(crate) struct Call {
    pub caller: NodeId,
    pub edge: EdgeId,
    pub origin: Origin,
    pub correlation: MessageId,
    pub parent: MessageId,
    pub body_bytes: u32,
    /// Attempts begun (sent or refused).
    pub attempts: u32,
    pub backoff: super::backoff::BackoffState,
    /// Waiting for a bulkhead slot.
    pub waiting: bool,
    /// When the current wait for a bulkhead slot ends (a timer of an earlier wait does nothing).
    pub wait_until: SimTime,
    /// When the circuit breaker let the current attempt through (`None`: no breaker): the
    /// duration it records runs from then.
    pub permitted_at: Option<SimTime>,
    /// Its origin gave up on it: no more attempts.
    pub abandoned: bool,
}

/// An attempt's message while it lives: where it has been, and what its caller makes of it.
#[derive(Clone, Debug)]
pub(crate) struct Flight {
    pub call: Key,
    pub caller: NodeId,
    /// The edges it crossed towards the service (the call edge, then a load balancer's
    /// upstream edges); the response goes back the same way.
    pub hops: Vec<EdgeId>,
    /// Set once answered: how.
    pub response: Option<Status>,
    /// The service that answered it.
    pub served_by: Option<NodeId>,
    pub sent_at: SimTime,
    /// The caller still waits for it (no timeout yet, no crash).
    pub awaited: bool,
    /// It holds a bulkhead slot on the call edge.
    pub slot: bool,
    /// When the circuit breaker let it through, if the edge has one: its outcome is recorded,
    /// with the time since.
    pub permitted_at: Option<SimTime>,
}

/// A client's request while it lives.
#[derive(Clone, Debug)]
pub(crate) struct Request {
    pub client: NodeId,
    pub msg: Box<Envelope>,
    pub started: SimTime,
    pub deadline: Option<SimTime>,
    pub user: Option<u32>,
    /// The client's epoch when it began: a user's next request follows only if the client
    /// has not been restarted or reconfigured since (which starts its users afresh).
    pub epoch: u32,
}

/// A request a service holds: waiting in its accept queue, or with a worker.
#[derive(Clone, Debug)]
pub(crate) struct Job {
    pub service: NodeId,
    pub msg: Box<Envelope>,
    /// The edge it arrived on: the response goes back over it.
    pub edge: EdgeId,
    pub arrived: SimTime,
    /// With a worker (false: in the accept queue).
    pub working: bool,
    /// The next handler step.
    pub step: u32,
    /// Calls of the current step still going.
    pub pending: u32,
    /// Starting the current step's calls (their ends wait until all have started).
    pub starting: bool,
    /// A call failed.
    pub failed: bool,
}

/// Counters of one call edge.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CallStats {
    /// Logical calls begun.
    pub calls: u64,
    /// Attempts sent (the first and the retries).
    pub attempts: u64,
    /// Of which retries.
    pub retries: u64,
    /// Attempts answered with a success, in time.
    pub ok: u64,
    /// Attempts answered with an error, in time.
    pub errors: u64,
    /// Attempts that timed out.
    pub timeouts: u64,
    /// Responses that came after a timeout (wasted work).
    pub late: u64,
    /// Attempts refused by the circuit breaker.
    pub refused_breaker: u64,
    /// Attempts refused by the bulkhead.
    pub refused_bulkhead: u64,
    /// Attempts refused by adaptive throttling.
    pub refused_throttled: u64,
    /// Retries not made because the retry budget was spent.
    pub budget_exhausted: u64,
    /// Calls that failed in the end.
    pub failed_calls: u64,
}

/// What the model keeps for one edge: a call edge's policies' state and counters, an
/// upstream edge's outstanding calls.
#[derive(Clone, Debug, Default)]
pub(crate) struct EdgeState {
    pub breaker: Option<Breaker>,
    pub bulkhead_in_use: u32,
    pub bulkhead_waiting: VecDeque<Key>,
    /// Calls and retries, for the retry budget.
    pub budget: Option<PairWindow>,
    /// Attempts and successes, for adaptive throttling.
    pub throttle: Option<PairWindow>,
    pub stats: CallStats,
    /// An upstream edge: calls sent over it whose response has not come back through it.
    pub outstanding: u32,
}

impl EdgeState {
    /// Fresh policy state for `r` (the counters are the caller's to keep).
    pub fn new(r: Option<&Resilience>) -> EdgeState {
        let mut s = EdgeState::default();
        s.reset(r);
        s
    }

    /// The policies start again (their process restarted), keeping the counters.
    pub fn reset(&mut self, r: Option<&Resilience>) {
        self.breaker = r.and_then(|r| r.circuit_breaker.as_ref()).map(Breaker::new);
        self.bulkhead_in_use = 0;
        self.bulkhead_waiting.clear();
        self.budget = r
            .and_then(|r| r.retry_budget.as_ref())
            .map(|b| PairWindow::new(b.window.0 / 1_000_000));
        self.throttle = r
            .and_then(|r| r.adaptive_throttling.as_ref())
            .map(|t| PairWindow::new(t.window.0 / 1_000_000));
    }
}

/// Counters of a client.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ClientStats {
    /// Requests begun.
    pub requests: u64,
    /// Requests that succeeded (within the deadline, if there is one).
    pub succeeded: u64,
    /// Requests that failed.
    pub failed: u64,
    /// Of which because the deadline passed.
    pub deadline_exceeded: u64,
}

/// Counters of a service.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ServiceStats {
    /// Requests that arrived while it was up.
    pub arrived: u64,
    /// Responses sent, of any status.
    pub responses: u64,
    /// Successful responses.
    pub ok: u64,
    /// Error responses (its own errors and failed calls).
    pub errors: u64,
    /// Requests refused with a full accept queue (503).
    pub refused: u64,
    /// Successful responses that reached a caller still waiting (goodput).
    pub good: u64,
    /// Responses that reached a caller who had given up (wasted work).
    pub wasted: u64,
    /// Microseconds of worker time spent so far.
    pub busy_us: u64,
}

/// The model's state for one node.
#[derive(Clone, Debug, Default)]
pub(crate) enum NodeState {
    /// Not a node of this model.
    #[default]
    None,
    /// A client.
    Client(Box<ClientState>),
    /// A service.
    Service(Box<ServiceState>),
    /// A load balancer.
    Balancer(Box<BalancerState>),
}

/// A client's state.
#[derive(Clone, Debug)]
pub(crate) struct ClientState {
    /// Bumped when the client crashes: its users' timers and requests of before are stale.
    pub epoch: u32,
    /// Bumped when it crashes or its settings change: its rate's timer is stale.
    pub emit_epoch: u32,
    /// Per user: whether its loop is going (a request, or a think before the next).
    pub running: Vec<bool>,
    pub emitted: u64,
    pub stats: ClientStats,
    pub latency: LatencyWindow,
    /// Requests ended and requests ended well, per second.
    pub recent: PairWindow,
}

/// A service's state.
#[derive(Clone, Debug)]
pub(crate) struct ServiceState {
    pub busy: u32,
    pub queue: VecDeque<Key>,
    pub stats: ServiceStats,
    pub latency: LatencyWindow,
    /// Responses and good responses, per second.
    pub recent: PairWindow,
}

/// A load balancer's state.
#[derive(Clone, Debug)]
pub(crate) struct BalancerState {
    pub epoch: u32,
    pub cursor: usize,
    /// Per upstream edge: healthy, and the run of probes that disagree with that.
    pub health: BTreeMap<EdgeId, (bool, u32)>,
}

/// The request-response model.
#[derive(Clone, Debug, Default)]
pub(crate) struct HttpModel {
    pub nodes: Vec<NodeState>,
    pub edges: Vec<Option<Box<EdgeState>>>,
    pub calls: Slab<Call>,
    pub jobs: Slab<Job>,
    pub requests: Slab<Request>,
    /// Other models' handlers' call steps going on.
    pub step_calls: Slab<StepCalls>,
    /// Attempts in flight, by message. A hash map: looked up by id, and only ever iterated
    /// where order cannot matter (counting, marking every one of a caller's).
    pub flights: rustc_hash::FxHashMap<MessageId, Flight>,
}

/// Where a message of this model rests, for the conservation check and the inspector.
#[derive(Clone, Copy, Debug)]
pub(crate) enum PlaceDetail {
    /// A client's request, while its calls go on.
    Request {
        /// The client.
        client: NodeId,
    },
    /// A request in a service's accept queue.
    Queued {
        /// The service.
        service: NodeId,
    },
    /// A request with one of a service's workers (working, or waiting for its calls).
    Serving {
        /// The service.
        service: NodeId,
    },
}

/// A client's metrics.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClientMetrics {
    /// Its counters.
    #[serde(flatten)]
    pub stats: ClientStats,
    /// Requests going on.
    pub in_flight: u64,
    /// Requests ended per second, over the last [`METRICS_WINDOW_S`] seconds.
    pub throughput_per_s: f64,
    /// Requests that succeeded per second, over the same window.
    pub goodput_per_s: f64,
    /// Latency percentiles (p50, p95, p99) of the requests ended in the window, µs.
    pub latency_us: Option<[u64; 3]>,
    /// Its call edges.
    pub calls: Vec<EdgeMetrics>,
}

/// A service's metrics.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServiceMetrics {
    /// Its counters.
    #[serde(flatten)]
    pub stats: ServiceStats,
    /// Workers busy now.
    pub busy: u32,
    /// Workers in all.
    pub concurrency: u32,
    /// Busy workers over all workers, now.
    pub utilisation: f64,
    /// Requests in the accept queue.
    pub queued: u32,
    /// Its capacity.
    pub accept_queue: u32,
    /// Responses per second, over the last [`METRICS_WINDOW_S`] seconds.
    pub throughput_per_s: f64,
    /// Successful responses that reached a waiting caller, per second, over the same window.
    pub goodput_per_s: f64,
    /// Latency percentiles (p50, p95, p99), from arrival to response, over the window, µs.
    pub latency_us: Option<[u64; 3]>,
    /// Its load as a multiple of the offered load: requests that arrived here for each request
    /// the clients began (retries at every layer above multiply it; §4.4's worst case is the
    /// product of their attempts).
    pub load_multiple: f64,
    /// Calls it began over all its call edges (each retry is an attempt of the same call).
    pub calls_made: u64,
    /// Its call edges.
    pub calls: Vec<EdgeMetrics>,
}

/// A load balancer's metrics.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BalancerMetrics {
    /// Its upstream instances: name, healthy, calls outstanding.
    pub upstreams: Vec<UpstreamMetrics>,
}

/// One upstream of a load balancer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UpstreamMetrics {
    /// The instance.
    pub node: NodeId,
    /// Taken as healthy.
    pub healthy: bool,
    /// Calls outstanding on it.
    pub outstanding: u32,
}

/// A call edge's metrics.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EdgeMetrics {
    /// The edge.
    pub edge: EdgeId,
    /// The callee.
    pub to: NodeId,
    /// Its counters.
    #[serde(flatten)]
    pub stats: CallStats,
    /// Attempts per call so far (1 with no retries).
    pub attempts_per_call: f64,
    /// Attempts over this edge per request the clients began: the amplification every layer
    /// above and this edge's retries add up to (64 at the bottom of three layers of four).
    pub attempts_per_request: f64,
    /// The circuit breaker's state, if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breaker: Option<BreakerState>,
    /// While open: when it lets a call try again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breaker_until: Option<SimTime>,
    /// Bulkhead slots in use, and waiting calls, if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bulkhead: Option<(u32, u32)>,
}

/// A node's state in the request-response model, for `NodeMetrics::detail`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum HttpMetrics {
    /// A client's.
    Client(ClientMetrics),
    /// A service's.
    Service(ServiceMetrics),
    /// A load balancer's.
    Balancer(BalancerMetrics),
}

impl HttpModel {
    /// The node's kind in this model, if it is one of its nodes.
    pub(crate) fn kind(k: &Kernel, node: NodeId) -> Option<&HttpKind> {
        match &k.topo.node(node).kind {
            NodeKind::Http(h) => Some(h),
            NodeKind::Producer(_)
            | NodeKind::Relay(_)
            | NodeKind::Sink(_)
            | NodeKind::Amqp(_)
            | NodeKind::Kafka(_)
            | NodeKind::Bullmq(_)
            | NodeKind::Data(_) => None,
        }
    }

    /// A node joins the run (at the start, or added live).
    pub fn node_added(&mut self, k: &mut Kernel, node: NodeId) {
        let i = node.index();
        if self.nodes.len() <= i {
            self.nodes.resize_with(i + 1, NodeState::default);
        }
        let Some(kind) = Self::kind(k, node) else {
            return;
        };
        self.nodes[i] = match kind {
            HttpKind::Client(_) => NodeState::Client(Box::new(ClientState {
                epoch: 0,
                emit_epoch: 0,
                running: Vec::new(),
                emitted: 0,
                stats: ClientStats::default(),
                latency: LatencyWindow::new(METRICS_WINDOW_S),
                recent: PairWindow::new(METRICS_WINDOW_S),
            })),
            HttpKind::Service(_) => NodeState::Service(Box::new(ServiceState {
                busy: 0,
                queue: VecDeque::new(),
                stats: ServiceStats::default(),
                latency: LatencyWindow::new(METRICS_WINDOW_S),
                recent: PairWindow::new(METRICS_WINDOW_S),
            })),
            HttpKind::LoadBalancer(_) => NodeState::Balancer(Box::new(BalancerState {
                epoch: 0,
                cursor: 0,
                health: BTreeMap::new(),
            })),
        };
        self.started(k, node, false);
    }

    /// An edge joins the run.
    pub fn edge_added(&mut self, k: &mut Kernel, edge: EdgeId) {
        let i = edge.index();
        if self.edges.len() <= i {
            self.edges.resize_with(i + 1, || None);
        }
        let e = k.topo.edge(edge);
        self.edges[i] = Some(Box::new(EdgeState::new(e.resilience.as_deref())));
        if let NodeState::Balancer(b) = &mut self.nodes[e.from.index()] {
            b.health.insert(edge, (true, 0));
        }
    }

    /// An edge is about to be removed: calls waiting for one of its bulkhead slots give up
    /// when their wait ends, attempts on their way finish over it.
    pub fn edge_removing(&mut self, k: &mut Kernel, edge: EdgeId) {
        let from = k.topo.edge(edge).from;
        if let Some(NodeState::Balancer(b)) = self.nodes.get_mut(from.index()) {
            b.health.remove(&edge);
        }
    }

    /// The state of edge `edge` (every edge of this model has one).
    pub(crate) fn edge_state(&mut self, edge: EdgeId) -> &mut EdgeState {
        self.edges[edge.index()]
            .as_deref_mut()
            .expect("every edge of the model has its state")
    }

    pub(crate) fn client(&mut self, node: NodeId) -> &mut ClientState {
        match &mut self.nodes[node.index()] {
            NodeState::Client(c) => c,
            NodeState::None | NodeState::Service(_) | NodeState::Balancer(_) => {
                unreachable!("not a client")
            }
        }
    }

    pub(crate) fn service(&mut self, node: NodeId) -> &mut ServiceState {
        match &mut self.nodes[node.index()] {
            NodeState::Service(s) => s,
            NodeState::None | NodeState::Client(_) | NodeState::Balancer(_) => {
                unreachable!("not a service")
            }
        }
    }

    pub(crate) fn balancer(&mut self, node: NodeId) -> &mut BalancerState {
        match &mut self.nodes[node.index()] {
            NodeState::Balancer(b) => b,
            NodeState::None | NodeState::Client(_) | NodeState::Service(_) => {
                unreachable!("not a load balancer")
            }
        }
    }

    /// Emits a model event.
    pub(crate) fn emit(k: &mut Kernel, e: HttpEvent) {
        k.emit(crate::event::EventKind::Http(e));
    }

    /// A timer is due.
    pub fn timer(&mut self, k: &mut Kernel, due: Due) {
        match due {
            Due::Emit { node, epoch } => self.emit_due(k, node, epoch),
            Due::User { node, slot } => self.user_due(k, node, slot),
            Due::Work { job } => self.work_done(k, job),
            Due::StepDone { job, answer } => self.step_done(k, job, answer),
            Due::Retry { call } => self.retry_due(k, call),
            Due::BulkheadWait { call } => self.bulkhead_wait_over(k, call),
            Due::Deadline { request } => self.request_deadline(k, request),
            Due::Breaker { edge, epoch } => self.breaker_timer(k, edge, epoch),
            Due::Health { node, epoch } => self.health_due(k, node, epoch),
            Due::StepCalls { id } => self.step_calls_due(k, id),
        }
    }

    /// A message reached the end of `edge`: a request going towards a service, or a response
    /// coming back.
    pub fn arrive(&mut self, k: &mut Kernel, edge: EdgeId, msg: Box<Envelope>) {
        let returning = self
            .flights
            .get(&msg.id)
            .expect("every message on a call edge is an attempt in flight")
            .response
            .is_some();
        let e = k.topo.edge(edge);
        if returning {
            let at = e.from;
            self.response_arrives(k, at, edge, msg);
        } else {
            let at = e.to;
            self.request_arrives(k, at, edge, msg);
        }
    }

    /// The node crashes (`removed`: for good): what it holds is answered with a reset or
    /// lost, its calls end, and its timers go stale.
    pub fn crash(&mut self, k: &mut Kernel, node: NodeId) {
        if !k.mark_down(node) {
            return;
        }
        k.emit(crate::event::EventKind::Crashed { node, lost: 0 });
        self.caller_gone(k, node);
        match &mut self.nodes[node.index()] {
            NodeState::Client(c) => {
                c.epoch = c.epoch.wrapping_add(1);
                c.emit_epoch = c.emit_epoch.wrapping_add(1);
                c.running.clear();
                let lost = self.requests.keys_where(|r| r.client == node);
                for key in lost {
                    let r = self.requests.remove(key).expect("listed");
                    k.drop_message(r.msg.id, node, crate::ledger::DropReason::LostInCrash);
                }
            }
            NodeState::Service(_) => {
                let held = self.jobs.keys_where(|j| j.service == node);
                let s = self.service(node);
                s.queue.clear();
                s.busy = 0;
                for key in held {
                    let job = self.jobs.remove(key).expect("listed");
                    self.send_response(k, node, job.edge, job.msg, Status::Reset);
                }
            }
            NodeState::Balancer(b) => {
                b.epoch = b.epoch.wrapping_add(1);
            }
            NodeState::None => unreachable!("a node of the model"),
        }
    }

    /// The node comes back up, with fresh state.
    pub fn restart(&mut self, k: &mut Kernel, node: NodeId) {
        self.started(k, node, true);
    }

    /// The node starts (`again`: after a crash, or with new settings): an open-loop client
    /// schedules its next request, a closed-loop client's users start, a load balancer's
    /// health checks begin (every upstream taken as healthy).
    pub(crate) fn started(&mut self, k: &mut Kernel, node: NodeId, again: bool) {
        let Some(kind) = Self::kind(k, node).cloned() else {
            return;
        };
        match kind {
            HttpKind::Client(c) => {
                self.schedule_rate(k, node, &c, again);
                self.start_users(k, node, &c);
            }
            HttpKind::Service(_) => {}
            HttpKind::LoadBalancer(lb) => {
                let out: Vec<EdgeId> = k.topo.node(node).out.clone();
                let b = self.balancer(node);
                b.epoch = b.epoch.wrapping_add(1);
                b.health = out.into_iter().map(|e| (e, (true, 0))).collect();
                let epoch = b.epoch;
                if let Some(hc) = lb.health_check {
                    k.schedule(
                        k.now + hc.interval,
                        crate::model::ModelDue::Http(Due::Health { node, epoch }),
                    );
                }
            }
        }
    }

    /// An open-loop client's next request, at its rate (`again`: it was publishing already,
    /// so one gap from now).
    fn schedule_rate(
        &mut self,
        k: &mut Kernel,
        node: NodeId,
        c: &super::kind::ClientConfig,
        again: bool,
    ) {
        if c.rate_per_s <= 0.0 {
            return;
        }
        let epoch = self.client(node).emit_epoch;
        let start = SimTime::ZERO + c.start;
        let from = start.max(k.now);
        let publishing = again && k.now >= start;
        let at = if c.arrival == crate::scenario::Arrival::Constant && !publishing {
            from
        } else {
            from + gap(c.rate_per_s, c.arrival, &mut k.rng)
        };
        self.schedule_emit(k, node, epoch, at, c);
    }

    /// A closed-loop client's users that are not going begin their first request (at its
    /// start, or now).
    fn start_users(&mut self, k: &mut Kernel, node: NodeId, c: &super::kind::ClientConfig) {
        let state = self.client(node);
        let epoch = state.epoch;
        if state.running.len() < c.users as usize {
            state.running.resize(c.users as usize, false);
        }
        let idle: Vec<u32> = (0..c.users)
            .filter(|&u| !state.running[u as usize])
            .collect();
        for &u in &idle {
            state.running[u as usize] = true;
        }
        let from = (SimTime::ZERO + c.start).max(k.now);
        for user in idle {
            k.schedule(
                from,
                crate::model::ModelDue::Http(Due::User {
                    node,
                    slot: Due::user_slot(user, epoch),
                }),
            );
        }
    }

    /// The node's settings changed in place from `old`.
    pub fn configured(&mut self, k: &mut Kernel, node: NodeId, old: &HttpKind) {
        match old {
            HttpKind::Client(_) => {
                // The rate starts again from now; the users carry on (each takes the new think
                // time after its request), more users start, and fewer stop after theirs.
                let c = self.client(node);
                c.emit_epoch = c.emit_epoch.wrapping_add(1);
                let Some(HttpKind::Client(new)) = Self::kind(k, node).cloned() else {
                    unreachable!("configure keeps a node's kind")
                };
                if k.up(node) {
                    self.schedule_rate(k, node, &new, true);
                    self.start_users(k, node, &new);
                }
            }
            HttpKind::Service(_) => {
                // More workers take queued requests at once; fewer finish what they hold.
                if k.up(node) {
                    self.start_queued(k, node);
                }
            }
            HttpKind::LoadBalancer(_) => {
                if k.up(node) {
                    self.started(k, node, true);
                }
            }
        }
    }

    /// The node is removed: as a crash, for good.
    pub fn remove(&mut self, k: &mut Kernel, node: NodeId) {
        self.crash(k, node);
    }

    /// Every message the model holds in its own state, where it rests.
    pub fn places<'a>(&'a self, f: &mut dyn FnMut(Place<'a>)) {
        for (_, r) in self.requests.iter() {
            f(Place {
                msg: &r.msg,
                fate: Fate::Held { node: r.client },
                until: r.deadline,
                detail: ModelPlace::Http(PlaceDetail::Request { client: r.client }),
            });
        }
        for (_, j) in self.jobs.iter() {
            let service = j.service;
            f(Place {
                msg: &j.msg,
                fate: Fate::Held { node: service },
                until: None,
                detail: ModelPlace::Http(if j.working {
                    PlaceDetail::Serving { service }
                } else {
                    PlaceDetail::Queued { service }
                }),
            });
        }
    }

    /// The model's counters against its own state: each service's busy workers and queue
    /// against the requests it holds, each bulkhead's slots against the attempts holding them.
    pub fn check_counters(&self, k: &Kernel) -> Result<(), String> {
        for (i, n) in self.nodes.iter().enumerate() {
            let NodeState::Service(s) = n else { continue };
            let node = NodeId(i as u32);
            let working = self
                .jobs
                .iter()
                .filter(|(_, j)| j.service == node && j.working)
                .count();
            let queued = self
                .jobs
                .iter()
                .filter(|(_, j)| j.service == node && !j.working)
                .count();
            if working != s.busy as usize || queued != s.queue.len() {
                return Err(format!(
                    "service {:?} counts {} busy and {} queued, but holds {working} with workers \
                     and {queued} queued",
                    k.topo.node(node).name,
                    s.busy,
                    s.queue.len()
                ));
            }
        }
        let mut slots: BTreeMap<EdgeId, u32> = BTreeMap::new();
        for f in self.flights.values() {
            if f.slot {
                *slots.entry(f.hops[0]).or_default() += 1;
            }
        }
        for (i, e) in self.edges.iter().enumerate() {
            let Some(e) = e else { continue };
            let edge = EdgeId(i as u32);
            let held = slots.get(&edge).copied().unwrap_or(0);
            if e.bulkhead_in_use != held {
                return Err(format!(
                    "the bulkhead of edge {i} counts {} slots in use, but {held} attempts hold one",
                    e.bulkhead_in_use
                ));
            }
        }
        Ok(())
    }

    /// The node's metrics, if it is one of this model's.
    pub fn metrics(&self, k: &Kernel, node: NodeId) -> Option<HttpMetrics> {
        let now = k.now;
        let rate = |w: &PairWindow| {
            let [a, b] = w.totals(now);
            // The window covers the last few whole seconds, the current one in part.
            let span = (METRICS_WINDOW_S as f64).min(now.0 as f64 / 1e6).max(1.0);
            (a as f64 / span, b as f64 / span)
        };
        match (&self.nodes.get(node.index())?, Self::kind(k, node)?) {
            (NodeState::Client(c), HttpKind::Client(_)) => {
                let (throughput, goodput) = rate(&c.recent);
                Some(HttpMetrics::Client(ClientMetrics {
                    stats: c.stats.clone(),
                    in_flight: self
                        .requests
                        .iter()
                        .filter(|(_, r)| r.client == node)
                        .count() as u64,
                    throughput_per_s: throughput,
                    goodput_per_s: goodput,
                    latency_us: c.latency.percentiles(now, [50.0, 95.0, 99.0]),
                    calls: self.edge_metrics(k, node),
                }))
            }
            (NodeState::Service(s), HttpKind::Service(cfg)) => {
                let (throughput, goodput) = rate(&s.recent);
                let calls = self.edge_metrics(k, node);
                Some(HttpMetrics::Service(ServiceMetrics {
                    stats: s.stats.clone(),
                    busy: s.busy,
                    concurrency: cfg.concurrency,
                    utilisation: if cfg.concurrency == 0 {
                        0.0
                    } else {
                        f64::from(s.busy) / f64::from(cfg.concurrency)
                    },
                    queued: s.queue.len() as u32,
                    accept_queue: cfg.accept_queue,
                    throughput_per_s: throughput,
                    goodput_per_s: goodput,
                    latency_us: s.latency.percentiles(now, [50.0, 95.0, 99.0]),
                    load_multiple: per(s.stats.arrived, self.offered()),
                    calls_made: calls.iter().map(|c| c.stats.calls).sum(),
                    calls,
                }))
            }
            (NodeState::Balancer(b), HttpKind::LoadBalancer(_)) => {
                Some(HttpMetrics::Balancer(BalancerMetrics {
                    upstreams: k
                        .topo
                        .node(node)
                        .out
                        .iter()
                        .map(|&e| UpstreamMetrics {
                            node: k.topo.edge(e).to,
                            healthy: b.health.get(&e).is_none_or(|h| h.0),
                            outstanding: self.edges[e.index()]
                                .as_ref()
                                .map_or(0, |s| s.outstanding),
                        })
                        .collect(),
                }))
            }
            _ => None,
        }
    }

    /// The call edges of `node` if it is a RabbitMQ consumer, a BullMQ worker or a Kafka
    /// consumer (its handler's calls); empty otherwise.
    pub fn handler_calls(&self, k: &Kernel, node: NodeId) -> Vec<EdgeMetrics> {
        let kind = &k.topo.node(node).kind;
        if crate::handler::handles_outside_http(kind) {
            self.edge_metrics(k, node)
        } else {
            Vec::new()
        }
    }

    /// Requests the clients have begun.
    fn offered(&self) -> u64 {
        self.nodes
            .iter()
            .map(|n| match n {
                NodeState::Client(c) => c.stats.requests,
                NodeState::None | NodeState::Service(_) | NodeState::Balancer(_) => 0,
            })
            .sum()
    }

    fn edge_metrics(&self, k: &Kernel, node: NodeId) -> Vec<EdgeMetrics> {
        let offered = self.offered();
        k.topo
            .node(node)
            .out
            .iter()
            .filter_map(|&e| {
                let s = self.edges.get(e.index())?.as_ref()?;
                let r = k.topo.edge(e).resilience.as_deref();
                Some(EdgeMetrics {
                    edge: e,
                    to: k.topo.edge(e).to,
                    stats: s.stats.clone(),
                    attempts_per_call: per(s.stats.attempts, s.stats.calls),
                    attempts_per_request: per(s.stats.attempts, offered),
                    breaker: s.breaker.as_ref().map(Breaker::state),
                    breaker_until: s.breaker.as_ref().and_then(Breaker::open_until),
                    bulkhead: r
                        .and_then(|r| r.bulkhead.as_ref())
                        .map(|_| (s.bulkhead_in_use, s.bulkhead_waiting.len() as u32)),
                })
            })
            .collect()
    }
}

/// `a / b`, or 0 when `b` is.
fn per(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// The gap before an open-loop client's next request.
pub(crate) fn gap(
    rate_per_s: f64,
    arrival: crate::scenario::Arrival,
    rng: &mut crate::rng::SimRng,
) -> SimDuration {
    let mean_us = 1_000_000.0 / rate_per_s;
    let us = match arrival {
        crate::scenario::Arrival::Constant => mean_us,
        crate::scenario::Arrival::Poisson => rng.exponential(mean_us),
    };
    SimDuration((libm::round(us) as u64).max(1))
}
