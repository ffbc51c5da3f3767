//! The simulation: a sans-IO state machine driven by commands and simulated time.
//!
//! `Sim` is the driver: it owns the kernel ([`crate::kernel`]) and the models
//! ([`crate::model`]), runs scripts and the edit log, and dispatches each agenda entry, command
//! and hook to the kernel or to the model it belongs to. It holds no paradigm's rules itself.

use crate::agenda::Entry;
use crate::amqp::{AmqpMetrics, ConsumerMetrics, QueueMetrics};
use crate::command::{Command, CommandError, Edit};
use crate::event::{Event, EventKind};
use crate::id::{EdgeId, MessageId, NodeId};
pub use crate::kernel::NodeStats;
use crate::kernel::{Due, Kernel};
use crate::ledger::{DropReason, Fate, FateTotals};
use crate::message::{Envelope, MessageTemplate};
use crate::model::{self, Models, Place, PlaceDetail, Reconfigure};
use crate::scenario::{Action, Diagnostics, ModelId, NodeKind, NodeSpec, Scenario};
use crate::time::SimTime;
use crate::topology::Topology;
use serde::Serialize;
use std::sync::Arc;

/// A summary of one node for displays and the CLI.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodeMetrics {
    /// The node's name.
    pub name: String,
    /// Its kind.
    pub kind: &'static str,
    /// False while crashed.
    pub up: bool,
    /// Messages it holds right now.
    pub held: u64,
    /// Removed by a live edit (or, for a queue, deleted).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub removed: bool,
    /// Its counters.
    #[serde(flatten)]
    pub stats: NodeStats,
    /// Its state in its model (a queue's contents, a consumer's channel), if it has any.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub detail: Option<ModelMetrics>,
    /// The call edges of a RabbitMQ consumer, a BullMQ worker or a Kafka consumer (its
    /// handler's calls), with their policies' state; empty for other nodes (a client's and a
    /// service's are in their [`crate::http::HttpMetrics`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<crate::http::EdgeMetrics>,
}

/// A node's state in its model, for [`NodeMetrics::detail`].
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ModelMetrics {
    /// The RabbitMQ model's: a queue's or a consumer's.
    Amqp(AmqpMetrics),
    /// The request-response model's: a client's, a service's or a load balancer's.
    Http(crate::http::HttpMetrics),
    /// The Kafka model's: a topic's, a producer's or a consumer's.
    Kafka(crate::kafka::KafkaMetrics),
    /// The BullMQ model's: a queue's, a producer's or a worker's.
    Bullmq(crate::bullmq::BullmqMetrics),
    /// The data model's: a store's.
    Data(crate::data::DataMetrics),
}

impl NodeMetrics {
    /// For a queue: what it holds and who consumes from it.
    pub fn queue(&self) -> Option<&QueueMetrics> {
        match &self.detail {
            Some(ModelMetrics::Amqp(AmqpMetrics::Queue(q))) => Some(q),
            Some(
                ModelMetrics::Amqp(AmqpMetrics::Consumer(_))
                | ModelMetrics::Http(_)
                | ModelMetrics::Kafka(_)
                | ModelMetrics::Bullmq(_)
                | ModelMetrics::Data(_),
            )
            | None => None,
        }
    }

    /// For a consumer: its channel and its application.
    pub fn consumer(&self) -> Option<&ConsumerMetrics> {
        match &self.detail {
            Some(ModelMetrics::Amqp(AmqpMetrics::Consumer(c))) => Some(c),
            Some(
                ModelMetrics::Amqp(AmqpMetrics::Queue(_))
                | ModelMetrics::Http(_)
                | ModelMetrics::Kafka(_)
                | ModelMetrics::Bullmq(_)
                | ModelMetrics::Data(_),
            )
            | None => None,
        }
    }

    /// For a client, a service or a load balancer: its request-response metrics.
    pub fn http(&self) -> Option<&crate::http::HttpMetrics> {
        match &self.detail {
            Some(ModelMetrics::Http(h)) => Some(h),
            Some(
                ModelMetrics::Amqp(_)
                | ModelMetrics::Kafka(_)
                | ModelMetrics::Bullmq(_)
                | ModelMetrics::Data(_),
            )
            | None => None,
        }
    }

    /// For a topic, a Kafka producer or a Kafka consumer: its Kafka metrics.
    pub fn kafka(&self) -> Option<&crate::kafka::KafkaMetrics> {
        match &self.detail {
            Some(ModelMetrics::Kafka(x)) => Some(x),
            Some(
                ModelMetrics::Amqp(_)
                | ModelMetrics::Http(_)
                | ModelMetrics::Bullmq(_)
                | ModelMetrics::Data(_),
            )
            | None => None,
        }
    }

    /// For a job queue, a job producer or a worker: its BullMQ metrics.
    pub fn bullmq(&self) -> Option<&crate::bullmq::BullmqMetrics> {
        match &self.detail {
            Some(ModelMetrics::Bullmq(x)) => Some(x),
            Some(
                ModelMetrics::Amqp(_)
                | ModelMetrics::Http(_)
                | ModelMetrics::Kafka(_)
                | ModelMetrics::Data(_),
            )
            | None => None,
        }
    }

    /// For a store: its keys and counters.
    pub fn store(&self) -> Option<&crate::data::StoreMetrics> {
        match &self.detail {
            Some(ModelMetrics::Data(crate::data::DataMetrics::Store(x))) => Some(x),
            Some(
                ModelMetrics::Amqp(_)
                | ModelMetrics::Http(_)
                | ModelMetrics::Kafka(_)
                | ModelMetrics::Bullmq(_),
            )
            | None => None,
        }
    }
}

/// A summary of the whole run so far.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Metrics {
    /// The simulated clock.
    pub now: SimTime,
    /// Events processed.
    pub steps: u64,
    /// Message fates.
    pub messages: FateTotals,
    /// Per node, in topology order.
    pub nodes: Vec<NodeMetrics>,
}

/// The result of [`Sim::advance_to`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Advance {
    /// Events processed by this call.
    pub steps: u64,
    /// False if the step budget ran out before the target time was reached.
    pub reached: bool,
}

/// What [`Sim::check_conservation`] found wrong. Any of these is a simulator bug.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConservationError {
    /// A message was found in two places at once.
    #[error("{0} is in two places at once")]
    Duplicated(MessageId),
    /// The ledger and the actual state disagree about where a message is.
    #[error("ledger says {id} is {ledger:?}, but the simulation has it {actual:?}")]
    Misplaced {
        /// The message.
        id: MessageId,
        /// What the ledger says (None: not live).
        ledger: Option<Fate>,
        /// Where it actually is (None: nowhere).
        actual: Option<Fate>,
    },
    /// The broker's unacked counters disagree with the deliveries actually out, or a consumer
    /// is over its prefetch.
    #[error("{0}")]
    Counters(String),
    /// created ≠ live + consumed + dropped.
    #[error("created {created} ≠ live {live} + consumed {consumed} + dropped {dropped}")]
    Unbalanced {
        /// Messages created.
        created: u64,
        /// Live messages found.
        live: u64,
        /// Consumed.
        consumed: u64,
        /// Dropped.
        dropped: u64,
    },
    /// Something is scheduled in the past.
    #[error("an entry is due at {due} but the clock says {now}")]
    TimeWentBackwards {
        /// The entry's time.
        due: SimTime,
        /// The clock.
        now: SimTime,
    },
}

/// The most events one [`Sim::replay`] processes.
pub const REPLAY_STEP_BUDGET: u64 = 200_000_000;

/// Why [`Sim::replay`] could not reproduce a run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// The scenario itself is invalid.
    #[error("the scenario is invalid:\n{0}")]
    Scenario(Diagnostics),
    /// An edit does not fit the run (out of order, or beyond its end).
    #[error("edit {index} does not fit the run: {why}")]
    Inconsistent {
        /// The edit's index in the log.
        index: usize,
        /// What does not fit.
        why: String,
    },
    /// The replay needs more than [`REPLAY_STEP_BUDGET`] events.
    #[error("the replay needs more than {steps} events")]
    TooLong {
        /// The budget.
        steps: u64,
    },
    /// An edit's command is refused in the state the run is in.
    #[error("edit {index} is refused: {error}")]
    Refused {
        /// The edit's index in the log.
        index: usize,
        /// Why.
        error: CommandError,
    },
}

/// A running simulation.
///
/// # Driving it
///
/// `Sim` never reads a clock and never does I/O. The caller owns time:
///
/// 1. Build it with [`Sim::new`] from a validated [`Scenario`].
/// 2. Feed user actions with [`Sim::apply`]; each is stamped with the current simulated time and
///    the step count, and logged so that [`Sim::replay`] reproduces the run.
/// 3. Move time with [`Sim::advance_to`] (everything due up to `t`, then the clock reads `t`) or
///    [`Sim::step`] (exactly one event, and the clock reads its time).
/// 4. After each mutation, take what happened with [`Sim::drain_events`].
/// 5. For time travel, keep [`Sim::snapshot`]s and re-simulate forward from the nearest one.
///
/// Getters ([`Sim::now`], [`Sim::metrics`], [`Sim::check_conservation`]) may be called at any
/// point and change nothing.
#[derive(Clone, Debug)]
pub struct Sim {
    k: Kernel,
    models: Models,
    scenario: Arc<Scenario>,
    seed: u64,
    /// Scripted actions as `(at, index into scenario.actions)`, sorted by time then document
    /// order. They are kept out of the agenda so that, at equal times, they run after everything
    /// else due at that moment, as a command applied after `advance_to(t)` does.
    scripts: Arc<[(SimTime, usize)]>,
    /// The next script to run.
    next_script: usize,
    steps: u64,
    edit_log: Vec<Edit>,
    /// The distributed traces, when kept ([`Sim::keep_traces`]), fed every event as it
    /// happens. Boxed: a run without them pays one pointer.
    traces: Option<Box<crate::traces::TraceBook>>,
}

impl Sim {
    /// A simulation of `scenario` with the scenario's own seed.
    pub fn new(scenario: &Scenario) -> Result<Sim, Diagnostics> {
        Sim::with_seed(scenario, scenario.seed)
    }

    /// A simulation of `scenario` with another seed.
    pub fn with_seed(scenario: &Scenario, seed: u64) -> Result<Sim, Diagnostics> {
        crate::scenario::check(scenario)?;
        Ok(Sim::build(Arc::new(scenario.clone()), seed))
    }

    /// A simulation of a scenario already validated (see [`crate::scenario::Validated`]), with
    /// `seed`: it is not validated again, nor copied.
    pub fn from_validated(scenario: &crate::scenario::Validated, seed: u64) -> Sim {
        Sim::build(scenario.shared(), seed)
    }

    /// A simulation of a topology still being drawn: validated by the live-edit rules, under
    /// which a producer or relay may lack outgoing edges for now (its messages go nowhere and
    /// are dropped as `no_route`). The editor runs what is on the canvas with this.
    pub fn draft(scenario: &Scenario) -> Result<Sim, Diagnostics> {
        crate::scenario::check_live(scenario)?;
        Ok(Sim::build(Arc::new(scenario.clone()), scenario.seed))
    }

    /// A simulation of a scenario the caller has just validated (the checks of a tour's
    /// figures read its metrics at time zero).
    pub(crate) fn unchecked(scenario: &Scenario) -> Sim {
        Sim::build(Arc::new(scenario.clone()), scenario.seed)
    }

    fn build(scenario: Arc<Scenario>, seed: u64) -> Sim {
        let mut sim = Sim {
            k: Kernel::new(Topology::from_scenario(&scenario), seed),
            models: Models::new(),
            scenario: Arc::clone(&scenario),
            seed,
            scripts: {
                let mut v: Vec<(SimTime, usize)> = scenario
                    .actions
                    .iter()
                    .enumerate()
                    .map(|(i, a)| (a.at, i))
                    .collect();
                v.sort(); // by time, then document order
                v.into()
            },
            next_script: 0,
            steps: 0,
            edit_log: Vec::new(),
            traces: None,
        };
        // Policies first: each exchange and queue is declared under the ones that match it.
        sim.models.amqp.policies =
            crate::amqp::policy::PolicySet::new(&scenario.policies, &scenario.operator_policies);
        // Nodes in document order, then edges (a `basic.consume` for each consume edge).
        for i in 0..sim.k.topo.nodes.len() {
            sim.node_started(NodeId(i as u32));
        }
        for i in 0..sim.k.topo.edges.len() {
            sim.models.edge_added(&mut sim.k, EdgeId(i as u32));
        }
        sim
    }

    /// A node joins the run (at the start, or added live): the models set up its state, and a
    /// producer schedules its first publish.
    fn node_started(&mut self, node: NodeId) {
        self.models.node_added(&mut self.k, node);
        match &self.k.topo.node(node).kind {
            NodeKind::Producer(_) => self.k.schedule_producer(node, false),
            // A client's requests are the model's to schedule (`node_added`).
            NodeKind::Relay(_)
            | NodeKind::Sink(_)
            | NodeKind::Amqp(_)
            | NodeKind::Http(_)
            | NodeKind::Kafka(_)
            | NodeKind::Bullmq(_)
            | NodeKind::Data(_) => {}
        }
    }

    /// Re-simulates `scenario` with `seed`, applying `edits` exactly where they were applied,
    /// then advances to `until`.
    ///
    /// Edit logs can come from outside (a shared link, a file), so an inconsistent one is an
    /// error naming the first bad edit, never a panic.
    pub fn replay(
        scenario: &Scenario,
        seed: u64,
        edits: &[Edit],
        until: SimTime,
    ) -> Result<Sim, ReplayError> {
        let mut sim = Sim::with_seed(scenario, seed).map_err(ReplayError::Scenario)?;
        sim.k.recording = false;
        let advance = sim.advance_replaying(edits, until, REPLAY_STEP_BUDGET)?;
        if !advance.reached {
            return Err(ReplayError::TooLong {
                steps: REPLAY_STEP_BUDGET,
            });
        }
        let applied = sim.edit_log.len();
        if applied < edits.len() {
            let why = if edits[applied].at > until {
                "its time is after the moment the replay stops at"
            } else {
                "it is out of order, or beyond the end of the run"
            };
            return Err(ReplayError::Inconsistent {
                index: applied,
                why: why.into(),
            });
        }
        sim.k.recording = true;
        Ok(sim)
    }

    // ----- getters -----

    /// The simulated clock.
    pub fn now(&self) -> SimTime {
        self.k.now
    }

    /// The seed this run uses.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Events processed so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// When the next event is due, if anything is scheduled.
    pub fn next_event_time(&self) -> Option<SimTime> {
        let script = self.scripts.get(self.next_script).map(|&(at, _)| at);
        match (self.k.agenda.peek_time(), script) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The topology being simulated.
    pub fn topology(&self) -> &Topology {
        &self.k.topo
    }

    /// The topology being simulated, shared: a handle that outlives a borrow of the `Sim` (to
    /// read names while draining events). Live edits copy it on write, so it stays as it was.
    pub fn topology_shared(&self) -> Arc<Topology> {
        Arc::clone(&self.k.topo)
    }

    /// The scenario being simulated.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The live topology and policies as a document (the starting document's name,
    /// description and seed; no actions), for validating live edits.
    pub fn live_document(&self) -> Scenario {
        self.live_document_on(&self.scenario)
    }

    /// The live topology and policies as a document with `base`'s name, description, view and
    /// seed (the editor's, which may have changed since the run started).
    pub fn live_document_on(&self, base: &Scenario) -> Scenario {
        let mut doc = self.k.topo.to_scenario(base);
        doc.policies = self.models.amqp.policies_in_force(false);
        doc.operator_policies = self.models.amqp.policies_in_force(true);
        doc
    }

    /// The RabbitMQ policies (`operator`: operator policies) in force now.
    pub fn policies(&self, operator: bool) -> Vec<crate::amqp::policy::Policy> {
        self.models.amqp.policies_in_force(operator)
    }

    /// For an exchange or a queue: the policy and operator policy that apply to it now, and
    /// each of its settings that an argument or a policy sets, with where it comes from.
    /// `None` for other nodes.
    pub fn effective_settings(
        &self,
        node: NodeId,
    ) -> Option<(crate::amqp::PolicyNames, Vec<crate::amqp::policy::Setting>)> {
        self.models.amqp.effective_settings(&self.k, node)
    }

    /// Every command applied so far, with when it was applied.
    pub fn edit_log(&self) -> &[Edit] {
        &self.edit_log
    }

    /// Where message `id` is, or how it ended; `None` once its end has been folded into the
    /// totals (or if it never existed).
    pub fn fate(&self, id: MessageId) -> Option<Fate> {
        self.k.ledger.fate(id)
    }

    /// Totals of message fates.
    pub fn totals(&self) -> FateTotals {
        self.k.ledger.totals()
    }

    /// A summary of the run so far.
    pub fn metrics(&self) -> Metrics {
        // Counted by the ledger as fates change: the same cost at any point of any run.
        let ledger = &self.k.ledger;
        let held = (0..self.k.nodes.len()).map(|i| ledger.held(NodeId(i as u32)));
        Metrics {
            now: self.k.now,
            steps: self.steps,
            messages: self.k.ledger.totals(),
            nodes: self
                .k
                .topo
                .nodes
                .iter()
                .zip(&self.k.nodes)
                .zip(held)
                .enumerate()
                .map(|(i, ((n, s), held))| NodeMetrics {
                    name: n.name.clone(),
                    kind: n.kind.name(),
                    up: s.up,
                    held,
                    removed: n.removed,
                    stats: s.stats.clone(),
                    detail: self.model_metrics(NodeId(i as u32)),
                    calls: self.models.http.handler_calls(&self.k, NodeId(i as u32)),
                })
                .collect(),
        }
    }

    /// How many message fates the ledger keeps in memory: bounded by the messages alive (and a
    /// window of at most [`crate::ledger::COMPACT_AT`] or four times the recent live ones), not
    /// by how many there have been. For memory tests and the scaling benchmark.
    pub fn ledger_len(&self) -> usize {
        self.k.ledger.window_len()
    }

    fn model_metrics(&self, node: NodeId) -> Option<ModelMetrics> {
        // Every model may keep state for a node (AMQP keeps a producer's channel); the one
        // that reports on it is the one that has something to show.
        self.models
            .amqp
            .metrics(&self.k, node)
            .map(ModelMetrics::Amqp)
            .or_else(|| {
                self.models
                    .http
                    .metrics(&self.k, node)
                    .map(ModelMetrics::Http)
            })
            .or_else(|| {
                self.models
                    .kafka
                    .metrics(&self.k, node)
                    .map(ModelMetrics::Kafka)
            })
            .or_else(|| {
                self.models
                    .bullmq
                    .metrics(&self.k, node)
                    .map(ModelMetrics::Bullmq)
            })
            .or_else(|| {
                self.models
                    .data
                    .metrics(&self.k, node)
                    .map(ModelMetrics::Data)
            })
    }

    /// Store `node`'s keys and their current versions, in key order (`None`: not a store).
    pub fn store_values(
        &self,
        node: NodeId,
    ) -> Option<impl Iterator<Item = (&str, &crate::data::Version)> + '_> {
        let s = self.models.data.store(node)?;
        Some(s.values.iter().map(|(k, v)| (k.as_str(), v)))
    }

    /// Every live message, where it rests: in the agenda (on an edge, held by a relay, a
    /// model's deliveries and settlements) and in the models' own state. The conservation
    /// check and the inspector both read this one list of places.
    /// A Kafka record key's text.
    pub(crate) fn kafka_key(&self, key: crate::kafka::log::KeyId) -> &str {
        self.models.kafka.key_text(key)
    }

    pub(crate) fn for_each_place<'a>(&'a self, f: &mut dyn FnMut(Place<'a>)) {
        for e in self.k.agenda.iter_unordered() {
            match &e.due {
                Due::Arrive { msg } => {
                    let edge = Kernel::edge_of(e);
                    f(Place {
                        msg,
                        fate: Fate::InTransit { edge },
                        until: Some(e.at),
                        detail: PlaceDetail::Wire { edge, arrive: e.at },
                    })
                }
                Due::Release { msg } => {
                    let node = Kernel::node_of(e);
                    f(Place {
                        msg,
                        fate: Fate::Held { node },
                        until: Some(e.at),
                        detail: PlaceDetail::Node { node },
                    })
                }
                Due::Emit | Due::Deadline { .. } => {}
                Due::Model(d) => self.models.places_in_due(e.at, d, f),
            }
        }
        self.models.places(&self.k, f);
    }

    /// Checks that every live message in the ledger is physically where the ledger says, exactly
    /// once, and that created = live + consumed + dropped; and each model's own counters against
    /// where its messages are. Tests call this after every event.
    pub fn check_conservation(&self) -> Result<(), ConservationError> {
        let now = self.k.now;
        if let Some(e) = self.k.agenda.iter_unordered().find(|e| e.at < now) {
            return Err(ConservationError::TimeWentBackwards { due: e.at, now });
        }
        let mut places: Vec<Place<'_>> = Vec::new();
        self.for_each_place(&mut |p| places.push(p));
        self.models
            .check_counters(&self.k, &places)
            .map_err(ConservationError::Counters)?;
        let mut actual: Vec<(MessageId, Fate)> =
            places.iter().map(|p| (p.msg.id, p.fate)).collect();
        actual.sort_by_key(|(id, _)| *id);
        if let Some(w) = actual.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(ConservationError::Duplicated(w[0].0));
        }
        let ledger = &self.k.ledger;
        let mut live = ledger.live();
        let mut physical = actual.iter().copied();
        loop {
            match (live.next(), physical.next()) {
                (None, None) => break,
                (Some(l), Some(p)) if l == p => {}
                (l, p) => {
                    let id = l.map_or_else(|| p.unwrap().0, |l| p.map_or(l.0, |p| l.0.min(p.0)));
                    return Err(ConservationError::Misplaced {
                        id,
                        ledger: ledger.fate(id).filter(|f| !f.is_terminal()),
                        actual: actual.iter().find(|(i, _)| *i == id).map(|(_, f)| *f),
                    });
                }
            }
        }
        // A handoff waits only for a message on the wire.
        if let Some((&id, _)) = self
            .k
            .handoffs
            .iter()
            .find(|(id, _)| !matches!(ledger.fate(**id), Some(Fate::InTransit { .. })))
        {
            return Err(ConservationError::Counters(format!(
                "a handoff waits for {id}, which is not on an edge ({:?})",
                ledger.fate(id)
            )));
        }
        let t = ledger.totals();
        let live = actual.len() as u64;
        if t.created != live + t.consumed + t.dropped_total() || t.live != live {
            return Err(ConservationError::Unbalanced {
                created: t.created,
                live,
                consumed: t.consumed,
                dropped: t.dropped_total(),
            });
        }
        Ok(())
    }

    // ----- inputs -----

    /// Applies a command now. A refused command changes nothing and is not logged.
    pub fn apply(&mut self, command: Command) -> Result<(), CommandError> {
        self.check_command(&command)?;
        self.edit_log.push(Edit {
            at: self.k.now,
            after_step: self.steps,
            command: command.clone(),
        });
        let seen = self.k.events.len();
        self.execute(command);
        if !self.k.callers_down.is_empty() {
            self.models.callers_gone(&mut self.k);
        }
        self.trace_since(seen);
        Ok(())
    }

    /// Keeps distributed traces from now on: spans per correlation id, bounded by `limits`
    /// (see [`crate::traces`]). Events since the last [`Sim::drain_events`] are taken in
    /// first, so a run kept from its start misses nothing. Events are what traces are made
    /// of: a [`Sim::replay`], which keeps none, keeps no traces while it replays.
    pub fn keep_traces(&mut self, limits: crate::traces::TraceLimits) {
        let mut book = crate::traces::TraceBook::new(self.seed, limits);
        for e in &self.k.events {
            book.observe(e, &self.k.topo);
        }
        self.traces = Some(Box::new(book));
    }

    /// The distributed traces, if kept ([`Sim::keep_traces`]).
    pub fn traces(&self) -> Option<&crate::traces::TraceBook> {
        self.traces.as_deref()
    }

    /// Takes the events from index `seen` on into the traces, if kept.
    fn trace_since(&mut self, seen: usize) {
        if let Some(book) = self.traces.as_deref_mut() {
            for e in &self.k.events[seen..] {
                book.observe(e, &self.k.topo);
            }
        }
    }

    fn check_command(&self, command: &Command) -> Result<(), CommandError> {
        let topo = &self.k.topo;
        let live_node = |node: NodeId| {
            let n = topo
                .nodes
                .get(node.index())
                .ok_or(CommandError::UnknownNode(node))?;
            if n.removed {
                return Err(CommandError::Removed(node));
            }
            Ok(n)
        };
        let may = |node: NodeId, action: model::Action| {
            let n = live_node(node)?;
            model::action_rule(&n.name, &n.kind, action).map_err(CommandError::NotAllowed)
        };
        match command {
            Command::SetPolicy { policy, operator } => {
                let mut diags = Vec::new();
                let path = crate::scenario::Path::Item("policy", 0);
                crate::amqp::policy::check_policy(policy, *operator, path, &mut diags);
                if !diags.is_empty() {
                    return Err(CommandError::Invalid(Diagnostics(diags).to_string()));
                }
            }
            Command::ClearPolicy { name, operator } => {
                if !self.models.amqp.has_policy(*operator, name) {
                    return Err(CommandError::Invalid(format!(
                        "no {}policy named {name:?} (RabbitMQ: Parameter does not exist)",
                        if *operator { "operator " } else { "" }
                    )));
                }
            }
            Command::Publish { node, message } => {
                live_node(*node)?;
                if message.body_bytes > crate::scenario::MAX_BODY_BYTES {
                    return Err(CommandError::BodyTooLarge(message.body_bytes));
                }
                if let Err(why) = message.expiration_ms() {
                    return Err(CommandError::Invalid(format!("expiration: {why}")));
                }
                may(*node, model::Action::Publish)?;
                let kafka = self.k.topo.node(*node).kind.model() == ModelId::Kafka;
                let record =
                    message.key.is_some() || message.partition.is_some() || message.tombstone;
                if record && !kafka {
                    return Err(CommandError::Invalid(
                        "key, partition and tombstone are a Kafka record's fields: only a \
                         kafka_producer's records take them"
                            .into(),
                    ));
                }
                if message.tombstone && message.key.is_none() {
                    return Err(CommandError::Invalid(
                        "a tombstone is a key with a null value: give it a key".into(),
                    ));
                }
            }
            Command::Crash { node } => may(*node, model::Action::Crash)?,
            Command::Restart { node } => may(*node, model::Action::Restart)?,
            Command::Settle { node, .. } => may(*node, model::Action::Settle)?,
            Command::Pause { node } | Command::Resume { node } => {
                let pause = matches!(command, Command::Pause { .. });
                let action = if pause {
                    model::Action::Pause
                } else {
                    model::Action::Resume
                };
                may(*node, action)?;
                match self.k.topo.node(*node).kind.model() {
                    ModelId::Kafka => self.models.kafka.check_pause(&self.k, *node, pause),
                    ModelId::Bullmq => self.models.bullmq.check_pause(&self.k, *node, pause),
                    ModelId::Kernel | ModelId::Amqp | ModelId::Http | ModelId::Data => {
                        self.models.amqp.check_pause(&self.k, *node, pause)
                    }
                }
                .map_err(CommandError::Invalid)?;
            }
            Command::Seek {
                node,
                topic,
                partition,
                ..
            } => {
                live_node(*node)?;
                may(*node, model::Action::Seek)?;
                self.models
                    .kafka
                    .check_seek(&self.k, *node, *topic, *partition)
                    .map_err(CommandError::Invalid)?;
            }
            Command::LoseAck { node } => {
                live_node(*node)?;
                may(*node, model::Action::LoseAck)?;
                crate::kafka::KafkaModel::check_lose_ack(&self.k, *node)
                    .map_err(CommandError::Invalid)?;
            }
            Command::Configure { node, spec } => {
                live_node(*node)?;
                self.check_configure(*node, spec)?;
            }
            Command::RemoveNode { node } => {
                live_node(*node)?;
            }
            Command::RemoveEdge { edge } => {
                if topo.edges.get(edge.index()).is_none_or(|e| e.removed) {
                    return Err(CommandError::UnknownEdge(*edge));
                }
            }
            Command::AddNode { spec } => {
                let mut doc = self.live_document();
                doc.nodes.push(spec.clone());
                crate::scenario::check_live(&doc)
                    .map_err(|d| CommandError::Invalid(d.to_string()))?;
            }
            Command::AddEdge { spec } => {
                let mut doc = self.live_document();
                doc.edges.push(spec.clone());
                crate::scenario::check_live(&doc)
                    .map_err(|d| CommandError::Invalid(d.to_string()))?;
            }
        }
        Ok(())
    }

    // ----- time -----

    /// Processes exactly one event and sets the clock to its time. Returns that time, or `None`
    /// if nothing is scheduled.
    pub fn step(&mut self) -> Option<SimTime> {
        let script = self.scripts.get(self.next_script).copied();
        // At equal times the agenda goes first: a script runs once all else due then is done.
        let run_script = match (self.k.agenda.peek_time(), script) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(a), Some((b, _))) => b < a,
        };
        let at = match (run_script, script) {
            (true, Some((b, _))) => b,
            _ => self.k.agenda.peek_time()?,
        };
        // Time never goes backwards.
        assert!(
            at >= self.k.now,
            "next event at {at} is before now {}",
            self.k.now
        );
        self.k.now = at;
        self.steps += 1;
        let seen = self.k.events.len();
        match script {
            Some((_, index)) if run_script => {
                self.next_script += 1;
                self.run_script(index);
            }
            _ => {
                let entry = self.k.agenda.pop().expect("peeked");
                self.handle(entry);
            }
        }
        if !self.k.callers_down.is_empty() {
            self.models.callers_gone(&mut self.k);
        }
        self.trace_since(seen);
        Some(self.k.now)
    }

    /// Processes everything due at or before `t`, then sets the clock to `t`.
    ///
    /// Bounded: at most 50 million events per call, so a zero-delay loop cannot hang the caller.
    pub fn advance_to(&mut self, t: SimTime) -> Advance {
        self.advance_to_bounded(t, 50_000_000)
    }

    /// Like [`Sim::advance_to`], processing at most `max_steps` events. If the budget runs out,
    /// the clock stays at the last event processed and `reached` is false.
    pub fn advance_to_bounded(&mut self, t: SimTime, max_steps: u64) -> Advance {
        let mut steps = 0;
        while steps < max_steps {
            match self.next_event_time() {
                Some(at) if at <= t => {
                    self.step();
                    steps += 1;
                }
                _ => {
                    self.set_clock(t);
                    return Advance {
                        steps,
                        reached: true,
                    };
                }
            }
        }
        let reached = self.next_event_time().is_none_or(|at| at > t);
        if reached {
            self.set_clock(t);
        }
        Advance { steps, reached }
    }

    /// Moves forward like [`Sim::advance_to_bounded`], re-applying the commands of `log` exactly
    /// where they were first applied: each after its `after_step` events, at its time.
    ///
    /// `log` is a whole edit log of this run, of which this `Sim` has applied a prefix (its own
    /// [`Sim::edit_log`]). Time travel restores a snapshot and comes back to a later moment
    /// with this, so the logged future happens again; [`Sim::replay`] is this from the start.
    /// Edits logged after the last event up to `t` are applied too, if their time has come.
    /// An edit that does not fit is an error naming it, never a panic.
    pub fn advance_replaying(
        &mut self,
        log: &[Edit],
        t: SimTime,
        max_steps: u64,
    ) -> Result<Advance, ReplayError> {
        let mut steps = 0;
        loop {
            let index = self.edit_log.len();
            let due = log.get(index).filter(|e| e.after_step == self.steps);
            if let Some(edit) = due {
                let inconsistent = |why: &str| ReplayError::Inconsistent {
                    index,
                    why: why.to_owned(),
                };
                if edit.at <= t {
                    if edit.at < self.k.now {
                        return Err(inconsistent(
                            "its time is before the events that precede it",
                        ));
                    }
                    if self.next_event_time().is_some_and(|next| edit.at > next) {
                        return Err(inconsistent("its time is after an event it should precede"));
                    }
                    self.set_clock(edit.at);
                    self.apply(edit.command.clone())
                        .map_err(|error| ReplayError::Refused { index, error })?;
                    continue;
                }
                if self.next_event_time().is_some_and(|next| next <= t) {
                    return Err(inconsistent("its time is after an event it should precede"));
                }
            } else if log.get(index).is_some_and(|e| e.after_step < self.steps) {
                return Err(ReplayError::Inconsistent {
                    index,
                    why: "it comes before events already processed".into(),
                });
            }
            match self.next_event_time() {
                Some(at) if at <= t => {
                    if steps >= max_steps {
                        return Ok(Advance {
                            steps,
                            reached: false,
                        });
                    }
                    self.step();
                    steps += 1;
                }
                _ => {
                    self.set_clock(t);
                    return Ok(Advance {
                        steps,
                        reached: true,
                    });
                }
            }
        }
    }

    fn set_clock(&mut self, t: SimTime) {
        if t > self.k.now {
            debug_assert!(self.next_event_time().is_none_or(|at| at >= t));
            self.k.now = t;
        }
    }

    // ----- outputs -----

    /// Takes the events that happened since the last call, in order. Events accumulate until
    /// drained, so drain after every `apply`, `step` or `advance_to`.
    pub fn drain_events(&mut self) -> std::vec::Drain<'_, Event> {
        self.k.events.drain(..)
    }

    /// A cheap, independent copy of the whole state, for time travel.
    pub fn snapshot(&self) -> Sim {
        self.clone()
    }

    // ----- internals -----

    fn handle(&mut self, entry: Entry<Due>) {
        // The node or edge a kernel entry is about (see `Due`).
        let on = entry.on;
        match entry.due {
            Due::Emit => {
                let node = NodeId(on);
                self.k.count_emit(node);
                // Only a kernel producer emits by rate: its message is built from the template
                // where it lies (no copy of the template).
                let id = self.k.ledger.next_id();
                let template = &self.k.producer(node).message;
                let msg = Box::new(Envelope::from_template(id, template, self.k.now));
                self.send_published(node, msg);
                self.k.schedule_next_emit(node);
            }
            Due::Arrive { mut msg } => {
                let edge = EdgeId(on);
                msg.hops += 1;
                msg.arrived_at = self.k.now;
                let e = self.k.topo.edge(edge);
                let (node, kind) = (e.to, e.kind);
                match kind {
                    model::EdgeKind::Hop => {
                        self.k.nodes[node.index()].stats.received += 1;
                        self.k.arrive_at_hop(node, msg)
                    }
                    model::EdgeKind::Amqp(a) => {
                        // A queue counts what it receives when it takes it (`offer`), which a
                        // publish through the default exchange reaches without passing an
                        // exchange.
                        if a != crate::amqp::EdgeKind::PublishDefault {
                            self.k.nodes[node.index()].stats.received += 1;
                        }
                        self.models.arrive(&mut self.k, edge, kind, msg)
                    }
                    // Requests and responses go both ways: the model counts where they arrive.
                    model::EdgeKind::Http(_) => self.models.arrive(&mut self.k, edge, kind, msg),
                    // A handler's record (a producer's requests travel in the model's own
                    // entries); the topic counts what it appends.
                    model::EdgeKind::Kafka(_) => self.models.arrive(&mut self.k, edge, kind, msg),
                    // The queue counts an add when it stores it.
                    model::EdgeKind::Bullmq(_) => self.models.arrive(&mut self.k, edge, kind, msg),
                    model::EdgeKind::Data(_) => {
                        unreachable!("writes travel in the model's own entries")
                    }
                }
            }
            Due::Release { msg } => self.k.forward(NodeId(on), msg),
            Due::Deadline { correlation } => {
                let caller = NodeId(on);
                if self.k.deadline_passed(caller, correlation) {
                    self.models
                        .deadline_passed(&mut self.k, caller, correlation);
                }
            }
            Due::Model(d) => self.models.timer(&mut self.k, d),
        }
    }

    fn run_script(&mut self, index: usize) {
        let action = self.scenario.actions[index].action.clone();
        // Scripts were validated against the initial topology; live edits may have changed
        // it since, so a script that no longer fits is skipped rather than trusted.
        if let Some(command) = self.command_for(&action) {
            if self.check_command(&command).is_ok() {
                self.execute(command);
            }
        }
    }

    /// The command that does a document's `action` in the run now, with its names looked up
    /// in the live topology; `None` where a node it names is gone (removed by an edit). The
    /// command may still be refused by [`Sim::apply`].
    pub fn command_for(&self, action: &Action) -> Option<Command> {
        // A policy action names no node.
        if let Action::SetPolicy { policy, operator } = action {
            return Some(Command::SetPolicy {
                policy: policy.clone(),
                operator: *operator,
            });
        }
        if let Action::ClearPolicy { name, operator } = action {
            return Some(Command::ClearPolicy {
                name: name.clone(),
                operator: *operator,
            });
        }
        let node = self.k.topo.node_id(action.nodes()[0])?;
        let action = action.clone();
        let command = match action {
            Action::Publish { message, .. } => Command::Publish { node, message },
            Action::Crash { .. } => Command::Crash { node },
            Action::Restart { .. } => Command::Restart { node },
            Action::Ack { .. } | Action::Nack { .. } | Action::Reject { .. } => {
                let (_, how, delivery_tag, multiple) = action.settlement().expect("a settlement");
                Command::Settle {
                    node,
                    how,
                    delivery_tag,
                    multiple,
                }
            }
            Action::RemoveNode { .. } => Command::RemoveNode { node },
            Action::Pause { .. } => Command::Pause { node },
            Action::Resume { .. } => Command::Resume { node },
            Action::Seek {
                topic,
                partition,
                to,
                ..
            } => {
                let topic = match topic {
                    Some(t) => Some(self.k.topo.node_id(&t)?),
                    None => None,
                };
                Command::Seek {
                    node,
                    topic,
                    partition,
                    to,
                }
            }
            Action::LoseAck { .. } => Command::LoseAck { node },
            Action::Configure { node: spec } => Command::Configure { node, spec },
            Action::AddEdge { edge } => Command::AddEdge { spec: edge },
            Action::SetPolicy { .. } | Action::ClearPolicy { .. } => {
                unreachable!("taken above: a policy action names no node")
            }
            Action::RemoveEdge {
                to, routing_key, ..
            } => {
                let to = self.k.topo.node_id(&to)?;
                let edge = self.k.topo.edge_between(node, to, routing_key.as_deref())?;
                Command::RemoveEdge { edge }
            }
        };
        Some(command)
    }

    fn execute(&mut self, command: Command) {
        match command {
            Command::SetPolicy { policy, operator } => {
                let name = policy.name.clone();
                self.models
                    .amqp
                    .set_policy(&mut self.k, operator, &name, Some(&policy));
            }
            Command::ClearPolicy { name, operator } => {
                self.models
                    .amqp
                    .set_policy(&mut self.k, operator, &name, None)
            }
            Command::Publish { node, message } => self.publish(node, &message),
            Command::Crash { node } => self.crash(node),
            Command::Restart { node } => self.restart(node),
            Command::Settle {
                node,
                how,
                delivery_tag,
                multiple,
            } => self
                .models
                .amqp
                .client_settle(&mut self.k, node, how, delivery_tag, multiple),
            Command::AddNode { spec } => {
                let node = self.k.add_node(&spec);
                self.node_started(node);
            }
            Command::AddEdge { spec } => {
                let edge = Arc::make_mut(&mut self.k.topo)
                    .add_edge(&spec)
                    .expect("checked: both ends are live");
                self.models.edge_added(&mut self.k, edge);
            }
            Command::RemoveEdge { edge } => {
                self.models.edge_removing(&mut self.k, edge);
                Arc::make_mut(&mut self.k.topo).remove_edge(edge);
            }
            Command::RemoveNode { node } => self.remove_node(node),
            Command::Configure { node, spec } => self.configure(node, spec),
            Command::Pause { node } => match self.k.topo.node(node).kind.model() {
                ModelId::Kafka => self.models.kafka.pause(node),
                ModelId::Bullmq => self.models.bullmq.pause(&mut self.k, node),
                ModelId::Kernel | ModelId::Amqp | ModelId::Http | ModelId::Data => {
                    self.models.amqp.pause(&mut self.k, node)
                }
            },
            Command::Resume { node } => match self.k.topo.node(node).kind.model() {
                ModelId::Kafka => self.models.kafka.resume(&mut self.k, node),
                ModelId::Bullmq => self.models.bullmq.resume(&mut self.k, node),
                ModelId::Kernel | ModelId::Amqp | ModelId::Http | ModelId::Data => {
                    self.models.amqp.resume(&mut self.k, node)
                }
            },
            Command::Seek {
                node,
                topic,
                partition,
                to,
            } => self
                .models
                .kafka
                .seek(&mut self.k, node, topic, partition, to),
            Command::LoseAck { node } => self.models.kafka.lose_next_ack(node),
        }
    }

    /// Why `spec` cannot configure the live node `node`, if it cannot.
    fn check_configure(&self, node: NodeId, spec: &NodeSpec) -> Result<(), CommandError> {
        let n = self.k.topo.node(node);
        if spec.id != n.name {
            return Err(CommandError::Invalid(format!(
                "configure cannot rename {:?} to {:?}: a node's name is its identity (for a queue \
                 or an exchange, its AMQP name); remove the node and add one under the new name",
                n.name, spec.id
            )));
        }
        // A node is bound by the edges a change would have to make again: its consume edges.
        let bound = !n.inc.is_empty();
        match model::reconfigure_rule(&n.name, &n.kind, &spec.kind, bound) {
            Ok(()) => {}
            Err(
                Reconfigure::OtherKind(why)
                | Reconfigure::Redeclare(why)
                | Reconfigure::Refused(why),
            ) => return Err(CommandError::Invalid(why)),
        }
        let mut doc = self.live_document();
        let slot = doc
            .nodes
            .iter_mut()
            .find(|d| d.id == spec.id)
            .expect("a live node is in the live document");
        *slot = NodeSpec {
            position: spec.position.or(n.position),
            ..spec.clone()
        };
        crate::scenario::check_live(&doc).map_err(|d| CommandError::Invalid(d.to_string()))
    }

    /// Applies a checked `configure`: the node takes its new settings in place.
    fn configure(&mut self, node: NodeId, spec: NodeSpec) {
        let n = &mut Arc::make_mut(&mut self.k.topo).nodes[node.index()];
        if spec.position.is_some() {
            n.position = spec.position;
        }
        let old = std::mem::replace(&mut n.kind, spec.kind);
        self.k.emit(EventKind::Configured { node });
        match old {
            NodeKind::Producer(p) => self.producer_reconfigured(node, &p),
            // A relay's delay applies to the messages it takes from now on; a sink has no
            // settings.
            NodeKind::Relay(_) | NodeKind::Sink(_) => {}
            NodeKind::Amqp(old) => self.models.amqp.configured(&mut self.k, node, &old),
            NodeKind::Http(old) => self.models.http.configured(&mut self.k, node, &old),
            NodeKind::Kafka(old) => self.models.kafka.configured(&mut self.k, node, &old),
            NodeKind::Bullmq(old) => self.models.bullmq.configured(&mut self.k, node, &old),
            // A store's new latency applies to the writes that reach it from now on.
            NodeKind::Data(_) => {}
        }
    }

    /// A producer's settings changed from `old`: its next rate-driven publish is rescheduled
    /// at the new rate, one gap from now. A producer that has not reached its `start` yet waits
    /// for the new one. Switching publisher confirms opens a new channel.
    fn producer_reconfigured(&mut self, node: NodeId, old: &crate::scenario::ProducerConfig) {
        self.k.cancel_emit(node);
        if self.k.producer(node).publisher_confirms != old.publisher_confirms {
            // A new channel: publish sequence numbers start again at 1.
            self.models.publisher_reset(node);
        }
        if !self.k.up(node) {
            return; // `restart` schedules it
        }
        let publishing = self.k.now >= SimTime::ZERO + old.start;
        self.k.schedule_producer(node, publishing);
    }

    fn remove_node(&mut self, node: NodeId) {
        let kind = self.k.topo.node(node).kind.clone();
        match &kind {
            // Its connection closes: the same as a crash, for good.
            NodeKind::Producer(_) | NodeKind::Relay(_) | NodeKind::Sink(_) => self.k.crash(node),
            NodeKind::Amqp(k) => self.models.amqp.remove(&mut self.k, node, k),
            NodeKind::Http(_) => self.models.http.remove(&mut self.k, node),
            NodeKind::Kafka(_) => self.models.kafka.remove(&mut self.k, node),
            NodeKind::Bullmq(_) => self.models.bullmq.remove(&mut self.k, node),
            // Its keys stay for the inspector; writes on their way to it or being applied fail,
            // and its outbox relay stops.
            NodeKind::Data(_) => {}
        }
        if !self.k.topo.node(node).removed {
            Arc::make_mut(&mut self.k.topo).remove_node(node);
        }
        self.k.emit(EventKind::Removed { node });
    }

    fn publish(&mut self, node: NodeId, template: &MessageTemplate) {
        match self.k.topo.node(node).kind {
            NodeKind::Http(_) => {
                // A client's scripted request.
                self.models.http.begin_request(&mut self.k, node, None);
                return;
            }
            NodeKind::Kafka(_) => {
                // A Kafka producer's scripted record.
                self.models.kafka.publish(&mut self.k, node, template);
                return;
            }
            NodeKind::Bullmq(_) => {
                // A job producer's scripted `Queue.add`.
                self.models.bullmq.publish(&mut self.k, node, template);
                return;
            }
            // Refused by `action_rule`; never acted on.
            NodeKind::Data(_) => return,
            NodeKind::Producer(_) | NodeKind::Relay(_) | NodeKind::Sink(_) | NodeKind::Amqp(_) => {}
        }
        let id = self.k.ledger.next_id();
        let msg = Box::new(Envelope::from_template(id, template, self.k.now));
        self.send_published(node, msg);
    }

    /// A producer's new message `msg` leaves it: marked by its model, counted, and sent on (or
    /// dropped, if the producer is down).
    fn send_published(&mut self, node: NodeId, mut msg: Box<Envelope>) {
        let id = msg.id;
        self.models.on_publish(&self.k, node, &mut msg);
        self.k.ledger.create(id, Fate::Held { node });
        self.k.nodes[node.index()].stats.published += 1;
        self.k.emit(EventKind::Published {
            node,
            message: id,
            correlation: msg.correlation_id,
            cause: None,
        });
        if self.k.up(node) {
            self.k.forward(node, msg);
        } else {
            self.k.drop_message(id, node, DropReason::NodeDown);
        }
    }

    fn crash(&mut self, node: NodeId) {
        let kind = self.k.topo.node(node).kind.clone();
        match &kind {
            NodeKind::Producer(_) | NodeKind::Relay(_) | NodeKind::Sink(_) => self.k.crash(node),
            NodeKind::Amqp(k) => self.models.amqp.crash(&mut self.k, node, k),
            NodeKind::Http(_) => self.models.http.crash(&mut self.k, node),
            NodeKind::Kafka(_) => self.models.kafka.crash(&mut self.k, node),
            NodeKind::Bullmq(_) => self.models.bullmq.crash(&mut self.k, node),
            // Refused by `action_rule`; never acted on.
            NodeKind::Data(_) => {}
        }
        // A service's process holds its other inputs: they go down with it.
        for input in crate::http::inputs_of(&self.k.topo, node) {
            self.crash(input);
        }
    }

    fn restart(&mut self, node: NodeId) {
        if self.k.up(node) {
            return;
        }
        self.k.nodes[node.index()].up = true;
        self.k.emit(EventKind::Restarted { node });
        let kind = self.k.topo.node(node).kind.clone();
        match &kind {
            NodeKind::Producer(p) => {
                // A new connection and channel: confirm numbering starts again at 1.
                self.models.publisher_reset(node);
                // A producer restarted before its `start` still waits for it.
                let publishing = self.k.now >= SimTime::ZERO + p.start;
                self.k.schedule_producer(node, publishing);
            }
            NodeKind::Relay(_) | NodeKind::Sink(_) => {}
            NodeKind::Amqp(k) => self.models.amqp.restart(&mut self.k, node, k),
            NodeKind::Http(_) => self.models.http.restart(&mut self.k, node),
            NodeKind::Kafka(_) => self.models.kafka.restart(&mut self.k, node),
            NodeKind::Bullmq(_) => self.models.bullmq.restart(&mut self.k, node),
            NodeKind::Data(_) => {}
        }
        // A service's process comes back with its other inputs.
        for input in crate::http::inputs_of(&self.k.topo, node) {
            self.restart(input);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agenda_entries_and_events_stay_small() {
        // The heap moves entries and the page drains events every frame: their size is
        // throughput (docs/performance.md). Grow them only on purpose. A model's entries nest
        // in one variant, whose tag holds the kernel's variants too only while each of those
        // fits in 8 bytes (see `Due`): at 24 bytes the kernel benchmarks ran 4-5% slower.
        assert_eq!(std::mem::size_of::<Due>(), 16);
        assert_eq!(std::mem::size_of::<crate::agenda::Entry<Due>>(), 32);
        assert_eq!(std::mem::size_of::<Event>(), 48);
        // A node's kernel state is one cache line (`NodeState`).
        assert_eq!(std::mem::size_of::<crate::kernel::NodeState>(), 64);
        // A topology node is read on every message: the large configurations are boxed, so
        // that no kind makes every node larger.
        // (BullMQ's producer and worker, and AMQP's queue, were 352 bytes: every node paid; a Kafka
        // consumer with its handler would have made every node 184.)
        assert_eq!(std::mem::size_of::<NodeKind>(), 160);
        assert_eq!(std::mem::size_of::<crate::topology::Node>(), 264);
    }

    fn running_sim() -> Sim {
        let s = Scenario::from_json(
            r#"{"version":1,"seed":4,"nodes":[
                {"id":"p","kind":"producer","config":{"rate_per_s":100}},
                {"id":"r","kind":"relay","config":{"delay":"20ms"}},
                {"id":"s","kind":"sink"}],
              "edges":[{"from":"p","to":"r","latency":"30ms"},{"from":"r","to":"s","latency":"30ms"}]}"#,
        )
        .unwrap();
        let mut sim = Sim::new(&s).unwrap();
        sim.advance_to(SimTime(500_000));
        sim.check_conservation()
            .expect("a correct run is conserved");
        assert!(
            sim.k.ledger.totals().live > 2,
            "the test needs messages in flight"
        );
        sim
    }

    #[test]
    fn the_check_catches_a_message_that_vanished() {
        let mut sim = running_sim();
        let mut gone = None;
        sim.k.agenda.remove_where(
            |d| {
                matches!(d.due, Due::Arrive { .. }) && gone.is_none() && {
                    gone = Some(());
                    true
                }
            },
            drop,
        );
        assert!(matches!(
            sim.check_conservation(),
            Err(ConservationError::Misplaced { actual: None, .. })
        ));
    }

    #[test]
    fn the_check_catches_a_message_in_two_places() {
        let mut sim = running_sim();
        let copy = sim.k.agenda.iter_unordered().find_map(|e| match &e.due {
            Due::Arrive { msg } => Some((e.at, e.on, msg.clone())),
            Due::Emit | Due::Release { .. } | Due::Deadline { .. } | Due::Model(_) => None,
        });
        let (at, edge, msg) = copy.unwrap();
        sim.k.agenda.push(at, edge, Due::Arrive { msg });
        assert!(matches!(
            sim.check_conservation(),
            Err(ConservationError::Duplicated(_))
        ));
    }

    #[test]
    fn the_check_catches_a_ledger_that_lies_about_where_a_message_is() {
        let mut sim = running_sim();
        let (id, _) = sim
            .k
            .ledger
            .live()
            .find(|(_, f)| matches!(f, Fate::InTransit { .. }))
            .unwrap();
        sim.k.ledger.set(id, Fate::Held { node: NodeId(2) });
        assert!(matches!(
            sim.check_conservation(),
            Err(ConservationError::Misplaced { .. })
        ));
    }

    #[test]
    fn the_check_catches_a_message_ended_while_still_travelling() {
        let mut sim = running_sim();
        let (id, _) = sim.k.ledger.live().next().unwrap();
        sim.k.ledger.set(id, Fate::Consumed { node: NodeId(2) });
        assert!(sim.check_conservation().is_err());
    }
}
