//! The kernel: what every model shares, and the kinds that belong to no paradigm.
//!
//! [`Kernel`] holds the clock, the agenda, the RNG, the fate ledger, the topology, the event
//! stream, and every node's liveness and counters. Models ([`crate::model`]) keep their own
//! state beside it and act through it: they schedule on its agenda, draw from its RNG, move
//! messages in its ledger and emit into its event stream, so ordering and randomness stay one
//! stream for the whole run.
//!
//! The kernel's own kinds are producers (messages at a rate), relays (hold, then forward) and
//! sinks (consume). They name no paradigm: a producer that publishes into an exchange is a
//! producer; what the exchange does is the AMQP model's business.

use crate::agenda::{Agenda, Entry};
use crate::event::{Event, EventKind};
use crate::id::{EdgeId, MessageId, NodeId};
use crate::ledger::{DropReason, Fate, FateLedger};
use crate::message::Envelope;
use crate::model::{Action, EdgeKind, ModelDue};
use crate::rng::SimRng;
use crate::scenario::{Arrival, NodeKind, ProducerConfig};
use crate::time::{SimDuration, SimTime};
use crate::topology::Topology;
use serde::Serialize;
use std::sync::Arc;

/// Something due at a moment of simulated time. Messages live inside these while they travel
/// or wait, so the agenda is where the conservation check finds them.
///
/// The node or edge a kernel entry is about is the entry's `on` ([`Entry::on`], read with
/// [`Kernel::node_of`] and [`Kernel::edge_of`]), not a field here: that keeps every kernel
/// variant within 8 bytes, so a model's 16-byte entry nests in [`Due::Model`] without making
/// `Due` bigger (the compiler stores the outer variant in the model entry's tag), and an
/// agenda entry stays 32 bytes (`docs/performance.md`, "The paradigm seam"). A model's entries
/// carry their own ids and leave `on` at 0.
#[derive(Clone, Debug)]
pub(crate) enum Due {
    /// A producer's next rate-driven publish; `on` is the producer.
    Emit,
    /// A message reaches the end of an edge; `on` is the edge.
    Arrive { msg: Box<Envelope> },
    /// A relay finishes holding a message; `on` is the relay.
    Release { msg: Box<Envelope> },
    /// A caller's deadline for the reply correlated with `correlation` ([`Kernel::await_reply`]);
    /// `on` is the caller.
    Deadline { correlation: MessageId },
    /// A model's own entry: its timers, and the messages they carry.
    Model(ModelDue),
}

impl Due {
    /// The kernel node that owns the entry `e`: a crash of that node removes it.
    fn owner(e: &Entry<Due>) -> Option<NodeId> {
        match e.due {
            // A caller that crashes stops waiting (`Kernel::crash` forgets its calls).
            Due::Emit | Due::Release { .. } | Due::Deadline { .. } => Some(Kernel::node_of(e)),
            Due::Arrive { .. } | Due::Model(_) => None,
        }
    }
}

/// Counters for one node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NodeStats {
    /// Messages this node published.
    pub published: u64,
    /// Messages that reached this node.
    pub received: u64,
    /// Messages this node sent along an edge.
    pub sent: u64,
    /// Messages this node consumed.
    pub consumed: u64,
    /// Messages dropped at this node.
    pub dropped: u64,
    /// Times this node crashed.
    pub crashes: u64,
}

/// What the kernel keeps for every node, whatever its model: one cache line (64 bytes, and
/// aligned to one), so that an event about a node whose state has left the cache brings all
/// of it back with one miss (with thousands of nodes, most events are about such a node).
#[derive(Clone, Debug, Default)]
#[repr(align(64))]
pub(crate) struct NodeState {
    pub up: bool,
    /// Round-robin cursor over the node's outgoing edges (fewer than 2^32: the edge limit).
    next_out: u32,
    /// Rate-driven messages published so far (for `limit`).
    emitted: u64,
    pub stats: NodeStats,
}

/// What became of a reply a caller awaited ([`Kernel::reply_arrived`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reply {
    /// In time: the caller was waiting, and is not any more.
    InTime,
    /// Too late (its deadline passed), or not awaited at all: the caller has moved on.
    Unawaited,
}

/// The shared state of a run. See the module docs.
#[derive(Clone, Debug)]
pub(crate) struct Kernel {
    pub topo: Arc<Topology>,
    pub now: SimTime,
    pub rng: SimRng,
    pub agenda: Agenda<Due>,
    /// False while replaying: events are not kept, so a long replay stays small.
    pub recording: bool,
    pub nodes: Vec<NodeState>,
    pub ledger: FateLedger,
    pub events: Vec<Event>,
    /// Callers blocked on a correlated reply, and their deadlines: a request-response call is a
    /// kernel concept (a model sends the request, and its caller waits here), not a special
    /// case of one paradigm. By `(caller, correlation)`, ordered.
    pub calls: std::collections::BTreeMap<(NodeId, MessageId), SimTime>,
    /// What a message one model sends to another carries beyond the message itself (a job's
    /// options, a record's partition and key: a handler's add_job and produce steps), by
    /// message id, until it arrives: models never
    /// call one another, so the receiving model reads it here. Every such message is on an
    /// edge (its arrival removes the entry), so this holds only messages in flight.
    pub handoffs: std::collections::BTreeMap<MessageId, crate::handler::Handoff>,
    /// Call steps of consumers', workers' and Kafka consumers' handlers, from the step to the
    /// request-response model's agenda entry that begins their calls (which keep the edges'
    /// policies there), by the entry's id: from the step that hands it over until that entry
    /// runs (at the same instant), or its caller goes down.
    pub step_calls: std::collections::BTreeMap<u32, Box<crate::handler::StepCall>>,
    /// The id of the next call step.
    pub next_step_call: u32,
    /// Consumers, workers and Kafka consumers that went down during the current step: the
    /// request-response model ends their calls once the step is done
    /// ([`crate::model::Models::callers_gone`]).
    pub callers_down: Vec<NodeId>,
}

/// The gap before a producer's next rate-driven message.
fn gap(p: &ProducerConfig, rng: &mut SimRng) -> SimDuration {
    let mean_us = 1_000_000.0 / p.rate_per_s;
    let us = match p.arrival {
        Arrival::Constant => mean_us,
        Arrival::Poisson => rng.exponential(mean_us),
    };
    // At least 1 µs, so a producer always moves time forward.
    SimDuration((libm::round(us) as u64).max(1))
}

/// Which kernel kinds an edge may connect (both ends are kernel kinds): every such edge is a
/// hop, except into a producer or out of a sink.
pub(crate) fn edge_rule(from: &NodeKind, to: &NodeKind) -> Result<EdgeKind, &'static str> {
    match (from, to) {
        (NodeKind::Sink(_), _) => Err("a sink sends nothing"),
        (_, NodeKind::Producer(_)) => Err("a producer receives nothing"),
        (NodeKind::Producer(_) | NodeKind::Relay(_), NodeKind::Relay(_) | NodeKind::Sink(_)) => {
            Ok(EdgeKind::Hop)
        }
        (
            NodeKind::Producer(_) | NodeKind::Relay(_),
            NodeKind::Amqp(_)
            | NodeKind::Http(_)
            | NodeKind::Kafka(_)
            | NodeKind::Bullmq(_)
            | NodeKind::Data(_),
        )
        | (
            NodeKind::Amqp(_)
            | NodeKind::Http(_)
            | NodeKind::Kafka(_)
            | NodeKind::Bullmq(_)
            | NodeKind::Data(_),
            _,
        ) => {
            unreachable!("an edge with a model's kind at an end is the model's to judge")
        }
    }
}

/// Which actions the kernel's kinds take: a producer publishes, and every kernel node can crash
/// and restart. Settling and pausing are a model's (a consumer's).
pub(crate) fn action_rule(name: &str, kind: &NodeKind, action: Action) -> Result<(), String> {
    let is_producer = matches!(kind, NodeKind::Producer(_));
    match action {
        Action::Publish if is_producer => Ok(()),
        Action::Crash | Action::Restart => Ok(()),
        Action::Publish => Err(not_a(name, kind, "producer", "can publish")),
        Action::Settle => Err(not_a(name, kind, "consumer", "settles deliveries")),
        Action::Pause | Action::Resume => {
            Err(not_a(name, kind, "consumer", "can be paused and resumed"))
        }
        Action::Seek => Err(not_a(name, kind, "kafka_consumer", "seeks")),
        Action::LoseAck => Err(not_a(name, kind, "kafka_producer", "loses acks")),
    }
}

/// `"name" is a relay; only a producer can publish`.
pub(crate) fn not_a(name: &str, kind: &NodeKind, only: &str, does: &str) -> String {
    format!("{name:?} is a {}; only a {only} {does}", kind.name())
}

impl Kernel {
    /// The shared state for a new run of `topo` with `seed`. Every node starts up.
    pub fn new(topo: Topology, seed: u64) -> Kernel {
        Kernel {
            nodes: topo
                .nodes
                .iter()
                .map(|_| NodeState {
                    up: true,
                    ..NodeState::default()
                })
                .collect(),
            topo: Arc::new(topo),
            now: SimTime::ZERO,
            rng: SimRng::new(seed),
            agenda: Agenda::default(),
            recording: true,
            ledger: FateLedger::default(),
            events: Vec::new(),
            calls: std::collections::BTreeMap::new(),
            handoffs: std::collections::BTreeMap::new(),
            step_calls: std::collections::BTreeMap::new(),
            next_step_call: 0,
            callers_down: Vec::new(),
        }
    }

    /// A handler's call step: the request-response model begins its calls now, with the
    /// edges' policies, and answers `call.origin` when the last ends.
    pub fn begin_step_calls(&mut self, call: crate::handler::StepCall) {
        let id = self.next_step_call;
        self.next_step_call = id.wrapping_add(1);
        self.step_calls.insert(id, Box::new(call));
        self.schedule(self.now, ModelDue::Http(crate::http::Due::StepCalls { id }));
    }

    /// `caller` now waits for the reply correlated with `correlation`, until `deadline`. If
    /// no reply arrives by then, the agenda's `Deadline` entry tells the caller's model
    /// ([`crate::model::Models::deadline_passed`]).
    pub fn await_reply(&mut self, caller: NodeId, correlation: MessageId, deadline: SimTime) {
        self.calls.insert((caller, correlation), deadline);
        self.agenda
            .push(deadline, caller.0, Due::Deadline { correlation });
    }

    /// The reply correlated with `correlation` reached `caller`: in time (it stops waiting),
    /// or unawaited (too late, or never asked for).
    pub fn reply_arrived(&mut self, caller: NodeId, correlation: MessageId) -> Reply {
        match self.calls.remove(&(caller, correlation)) {
            Some(_) => Reply::InTime,
            None => Reply::Unawaited,
        }
    }

    /// A `Deadline` entry is due: true if the caller was still waiting (it waits no more, and
    /// its model times the call out), false if the reply came in time.
    pub fn deadline_passed(&mut self, caller: NodeId, correlation: MessageId) -> bool {
        self.calls.remove(&(caller, correlation)).is_some()
    }

    /// How many replies `caller` is waiting for.
    #[cfg_attr(not(test), allow(dead_code))] // only the tests ask
    pub fn awaiting(&self, caller: NodeId) -> usize {
        self.calls
            .range((caller, MessageId(0))..)
            .take_while(|((c, _), _)| *c == caller)
            .count()
    }

    /// Adds a node to the topology (a live edit); it starts up.
    pub fn add_node(&mut self, spec: &crate::scenario::NodeSpec) -> NodeId {
        let node = Arc::make_mut(&mut self.topo).add_node(spec);
        self.nodes.push(NodeState {
            up: true,
            ..NodeState::default()
        });
        node
    }

    /// Reports `kind` as happening now (unless replaying without recording).
    #[inline]
    pub fn emit(&mut self, kind: EventKind) {
        if self.recording {
            self.events.push(Event { at: self.now, kind });
        }
    }

    /// Schedules a model's entry at `at`.
    #[inline]
    pub fn schedule(&mut self, at: SimTime, due: ModelDue) {
        self.agenda.push(at, 0, Due::Model(due));
    }

    /// The node a kernel entry is about (an `Emit`, a `Release`, a `Deadline`).
    #[inline]
    pub fn node_of(e: &Entry<Due>) -> NodeId {
        NodeId(e.on)
    }

    /// The edge a kernel entry is about (an `Arrive`).
    #[inline]
    pub fn edge_of(e: &Entry<Due>) -> EdgeId {
        EdgeId(e.on)
    }

    /// Whether `node` is up.
    #[inline]
    pub fn up(&self, node: NodeId) -> bool {
        self.nodes[node.index()].up
    }

    /// Ends message `id` at `node`, dropped for `reason`.
    pub fn drop_message(&mut self, id: MessageId, node: NodeId, reason: DropReason) {
        self.ledger.set(id, Fate::Dropped { node, reason });
        self.nodes[node.index()].stats.dropped += 1;
        self.emit(EventKind::Dropped {
            message: id,
            node,
            reason,
        });
    }

    /// Marks `node` down and counts the crash; false if it was down already.
    pub fn mark_down(&mut self, node: NodeId) -> bool {
        let n = &mut self.nodes[node.index()];
        if !n.up {
            return false;
        }
        n.up = false;
        n.stats.crashes += 1;
        // A handler that may have calls going on (a service ends its own).
        let kind = &self.topo.node(node).kind;
        if crate::handler::handles_outside_http(kind) {
            self.callers_down.push(node);
        }
        true
    }

    /// A kernel node crashes: the entries it owns go (its next publish, the messages it
    /// holds), and what it held is lost.
    pub fn crash(&mut self, node: NodeId) {
        if !self.mark_down(node) {
            return;
        }
        let mut lost = Vec::new();
        self.agenda.remove_where(
            |e| Due::owner(e) == Some(node),
            |e| match e.due {
                Due::Release { msg } => lost.push(msg.id),
                Due::Emit | Due::Arrive { .. } | Due::Deadline { .. } | Due::Model(_) => {}
            },
        );
        // A crashed caller waits for nothing: replies that come later are unawaited.
        self.forget_calls(node);
        self.emit(EventKind::Crashed {
            node,
            lost: lost.len() as u32,
        });
        for id in lost {
            self.drop_message(id, node, DropReason::LostInCrash);
        }
    }

    /// Sends `msg` from `from` along `edge` to `to` (the edge's far end, or, for a response
    /// going back, its near end): it travels for the edge's latency.
    pub fn send_on(&mut self, edge: EdgeId, from: NodeId, to: NodeId, msg: Box<Envelope>) {
        self.nodes[from.index()].stats.sent += 1;
        let arrive = self.now + self.topo.edge(edge).latency.sample(&mut self.rng);
        self.ledger.set(msg.id, Fate::InTransit { edge });
        self.emit(EventKind::Sent {
            message: msg.id,
            edge,
            from,
            to,
            depart: self.now,
            arrive,
        });
        self.agenda.push(arrive, edge.0, Due::Arrive { msg });
    }

    /// A message made by `node`'s handler or relay, continuing the causal chain of the message
    /// `cause` (whose correlation id it takes), leaves it along `edge` to `to`: it is created,
    /// counted as `node`'s publish, and sent. A producer's own publishes go through
    /// `Sim::send_published`, which its model marks first.
    pub fn publish_on(
        &mut self,
        node: NodeId,
        edge: EdgeId,
        to: NodeId,
        (correlation, cause): (MessageId, MessageId),
        routing_key: String,
        headers: crate::message::Headers,
    ) {
        let msg = self.continue_chain(node, (correlation, cause), routing_key, headers);
        self.send_on(edge, node, to, msg);
    }

    /// A message made by `node`'s handler or relay, continuing the causal chain of the message
    /// `cause` (whose correlation id it takes): it is created, held by `node`, and counted as
    /// its publish.
    pub fn continue_chain(
        &mut self,
        node: NodeId,
        (correlation, cause): (MessageId, MessageId),
        routing_key: String,
        headers: crate::message::Headers,
    ) -> Box<Envelope> {
        let id = self.ledger.next_id();
        let mut msg = Box::new(Envelope::new(id, self.now));
        msg.correlation_id = correlation;
        msg.causation_id = Some(cause);
        msg.routing_key = routing_key;
        msg.headers = headers;
        self.ledger.create(id, Fate::Held { node });
        self.nodes[node.index()].stats.published += 1;
        self.emit(EventKind::Published {
            node,
            message: id,
            correlation,
            cause: Some(cause),
        });
        msg
    }

    /// `caller` waits for no reply any more (it crashed, or was removed).
    pub fn forget_calls(&mut self, caller: NodeId) {
        self.calls.retain(|(c, _), _| *c != caller);
    }

    /// Sends `msg` from `node` along its next outgoing edge, in turn; with none, it is dropped
    /// (`no_route`).
    pub fn forward(&mut self, node: NodeId, msg: Box<Envelope>) {
        let out = &self.topo.node(node).out;
        if out.is_empty() {
            self.drop_message(msg.id, node, DropReason::NoRoute);
            return;
        }
        let state = &mut self.nodes[node.index()];
        let turn = state.next_out as usize % out.len();
        let edge = out[turn];
        state.next_out = u32::try_from((turn + 1) % out.len()).expect("fewer than 2^32 edges");
        let to = self.topo.edge(edge).to;
        self.send_on(edge, node, to, msg);
    }

    /// A message reached a kernel node along a hop: a relay holds it, a sink consumes it, a
    /// node that is down (or gone) drops it.
    pub fn arrive_at_hop(&mut self, node: NodeId, msg: Box<Envelope>) {
        if !self.nodes[node.index()].up || self.topo.node(node).removed {
            self.drop_message(msg.id, node, DropReason::NodeDown);
            return;
        }
        match &self.topo.node(node).kind {
            NodeKind::Relay(r) => {
                let until = self.now + r.delay.sample(&mut self.rng);
                self.ledger.set(msg.id, Fate::Held { node });
                self.emit(EventKind::Received {
                    message: msg.id,
                    node,
                    until,
                });
                self.agenda.push(until, node.0, Due::Release { msg });
            }
            NodeKind::Sink(_) => {
                self.ledger.set(msg.id, Fate::Consumed { node });
                self.nodes[node.index()].stats.consumed += 1;
                self.emit(EventKind::Consumed {
                    message: msg.id,
                    node,
                });
            }
            NodeKind::Producer(_)
            | NodeKind::Amqp(_)
            | NodeKind::Http(_)
            | NodeKind::Kafka(_)
            | NodeKind::Bullmq(_)
            | NodeKind::Data(_) => {
                unreachable!(
                    "validated: no hop ends at a {}",
                    self.topo.node(node).kind.name()
                )
            }
        }
    }

    /// The producer `node`'s settings.
    pub fn producer(&self, node: NodeId) -> &ProducerConfig {
        match &self.topo.node(node).kind {
            NodeKind::Producer(p) => p,
            NodeKind::Relay(_)
            | NodeKind::Sink(_)
            | NodeKind::Amqp(_)
            | NodeKind::Http(_)
            | NodeKind::Kafka(_)
            | NodeKind::Bullmq(_)
            | NodeKind::Data(_) => {
                unreachable!("not a producer")
            }
        }
    }

    /// Schedules the producer's next rate-driven message: if it was not `publishing` yet
    /// (declared, or waiting for its `start`), at its `start` or now, whichever is later, and
    /// at once for a constant rate; if it was (restarted or reconfigured after its start), one
    /// gap from now.
    pub fn schedule_producer(&mut self, node: NodeId, publishing: bool) {
        let start = SimTime::ZERO + self.producer(node).start;
        if publishing {
            let now = self.now;
            self.schedule_emit(node, now, false);
        } else {
            let constant = self.producer(node).arrival == Arrival::Constant;
            self.schedule_emit(node, start.max(self.now), constant);
        }
    }

    /// Schedules the producer's next rate-driven message, unless it is idle or spent its limit.
    fn schedule_emit(&mut self, node: NodeId, earliest: SimTime, immediately: bool) {
        let NodeKind::Producer(p) = &self.topo.node(node).kind else {
            unreachable!("not a producer")
        };
        if p.rate_per_s <= 0.0
            || p.limit
                .is_some_and(|l| self.nodes[node.index()].emitted >= l)
        {
            return;
        }
        let at = if immediately {
            earliest
        } else {
            earliest + gap(p, &mut self.rng)
        };
        self.agenda.push(at, node.0, Due::Emit);
    }

    /// A producer's rate-driven publish is due: it counts towards its `limit`, and the next is
    /// scheduled after the caller has published this one ([`Kernel::schedule_next_emit`]).
    pub fn count_emit(&mut self, node: NodeId) {
        self.nodes[node.index()].emitted += 1;
    }

    /// Schedules the producer's next rate-driven publish, one gap from now.
    pub fn schedule_next_emit(&mut self, node: NodeId) {
        let now = self.now;
        self.schedule_emit(node, now, false);
    }

    /// A producer's rate-driven publishes stop: its scheduled one is taken back (its settings
    /// change, and [`Kernel::schedule_producer`] schedules anew).
    pub fn cancel_emit(&mut self, node: NodeId) {
        self.agenda.remove_where(
            |e| matches!(e.due, Due::Emit) && Kernel::node_of(e) == node,
            drop,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    fn kernel() -> Kernel {
        let s = Scenario::from_json(
            r#"{"version":2,"nodes":[{"id":"client","kind":"relay"},{"id":"s","kind":"sink"}],
               "edges":[{"from":"client","to":"s"}]}"#,
        )
        .unwrap();
        Kernel::new(Topology::from_scenario(&s), 1)
    }

    fn next_deadline(k: &mut Kernel) -> Option<(SimTime, NodeId, MessageId)> {
        let e = k.agenda.pop()?;
        match e.due {
            Due::Deadline { correlation } => Some((e.at, Kernel::node_of(&e), correlation)),
            Due::Emit | Due::Arrive { .. } | Due::Release { .. } | Due::Model(_) => None,
        }
    }

    #[test]
    fn a_reply_in_time_ends_the_wait_and_its_deadline_then_passes_unnoticed() {
        let mut k = kernel();
        let (caller, call) = (NodeId(0), MessageId(7));
        k.await_reply(caller, call, SimTime(500));
        assert_eq!(k.awaiting(caller), 1);
        assert_eq!(k.reply_arrived(caller, call), Reply::InTime);
        assert_eq!(k.awaiting(caller), 0);
        let (at, c, m) = next_deadline(&mut k).expect("the deadline is still scheduled");
        assert_eq!((at, c, m), (SimTime(500), caller, call));
        assert!(!k.deadline_passed(c, m), "answered: no timeout");
        assert_eq!(
            k.reply_arrived(caller, call),
            Reply::Unawaited,
            "a duplicate reply"
        );
    }

    #[test]
    fn a_deadline_with_no_reply_times_the_call_out_and_a_late_reply_is_unawaited() {
        let mut k = kernel();
        let caller = NodeId(0);
        k.await_reply(caller, MessageId(1), SimTime(300));
        k.await_reply(caller, MessageId(2), SimTime(100));
        assert_eq!(k.awaiting(caller), 2);
        let (at, c, m) = next_deadline(&mut k).unwrap();
        assert_eq!(
            (at, m),
            (SimTime(100), MessageId(2)),
            "the earlier deadline first"
        );
        assert!(k.deadline_passed(c, m), "no reply: timed out");
        assert_eq!(
            k.reply_arrived(caller, MessageId(2)),
            Reply::Unawaited,
            "too late"
        );
        assert_eq!(k.reply_arrived(caller, MessageId(1)), Reply::InTime);
    }

    #[test]
    fn a_crashed_caller_waits_for_nothing() {
        let mut k = kernel();
        let caller = NodeId(0);
        k.await_reply(caller, MessageId(1), SimTime(300));
        k.crash(caller);
        assert_eq!(k.awaiting(caller), 0);
        assert!(next_deadline(&mut k).is_none(), "its deadline went with it");
        assert_eq!(k.reply_arrived(caller, MessageId(1)), Reply::Unawaited);
    }
}
