//! The simulation: a sans-IO state machine driven by commands and simulated time.

use crate::agenda::Agenda;
use crate::amqp::{AmqpNode, Delivery};
use crate::command::{Command, CommandError, Edit};
use crate::event::{Event, EventKind};
use crate::id::{EdgeId, MessageId, NodeId};
use crate::ledger::{DropReason, Fate, FateLedger, FateTotals};
use crate::message::PublishFlags;
use crate::message::{Envelope, MessageTemplate};
use crate::rng::SimRng;
use crate::scenario::{Action, Arrival, Diagnostics, NodeKind, NodeSpec, ProducerConfig, Scenario};
use crate::time::{SimDuration, SimTime};
use crate::topology::Topology;
use serde::Serialize;
use std::sync::Arc;

/// Something due at a moment of simulated time. Messages live inside these while they travel
/// or wait, so the agenda is where the conservation check finds them.
#[derive(Clone, Debug)]
pub(crate) enum Due {
    /// A producer's next rate-driven publish.
    Emit { node: NodeId },
    /// A message reaches the end of an edge.
    Arrive { edge: EdgeId, msg: Box<Envelope> },
    /// A relay finishes holding a message.
    Release { node: NodeId, msg: Box<Envelope> },
    /// A delivery reaches its consumer.
    Deliver { consumer: NodeId, d: Box<Delivery> },
    /// A consumer finishes processing its current delivery.
    Finish { consumer: NodeId },
    /// A consumer's settlement reaches the broker. The batch (how, and for `multiple` the
    /// other deliveries) rides in the first delivery's box, so every entry stays 16 bytes.
    Settle {
        consumer: NodeId,
        batch: Box<Delivery>,
    },
    /// A queue's TTL timer.
    QueueTimer { queue: NodeId },
    /// A queue's `x-expires` timer.
    QueueExpires { queue: NodeId, epoch: u32 },
}

impl Due {
    /// The node that owns this entry: a crash of that node removes it.
    fn owner(&self) -> Option<NodeId> {
        match self {
            Due::Emit { node } | Due::Release { node, .. } => Some(*node),
            _ => None,
        }
    }
}

/// Live per-node state.
#[derive(Clone, Debug, Default)]
pub(crate) struct NodeState {
    pub(crate) up: bool,
    /// Round-robin cursor over the node's outgoing edges.
    next_out: usize,
    /// Rate-driven messages published so far (for `limit`).
    emitted: u64,
    pub(crate) stats: NodeStats,
    /// AMQP state: a queue's messages, a consumer's channel.
    pub(crate) amqp: AmqpNode,
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
    /// For a queue: what it holds and who consumes from it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueMetrics>,
    /// For a consumer: its channel and its application.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumer: Option<ConsumerMetrics>,
}

/// A consumer's state: its channel as the broker sees it, and its application.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConsumerMetrics {
    /// Manual-ack deliveries on its channel not yet settled at the broker, over all its
    /// queues: on their way to it, buffered, being processed, or with a settlement on its way
    /// back. This is what the prefetch limits count.
    pub unacked: u64,
    /// `basic.qos(prefetch_count, global=false)` in effect; 0: unlimited.
    pub prefetch_count: u16,
    /// `basic.qos(prefetch_count, global=true)` in effect; 0: unlimited.
    pub global_prefetch_count: u16,
    /// The delivery being processed: its message, when processing started, and when it will
    /// finish.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processing: Option<(MessageId, SimTime, SimTime)>,
    /// Paused by a `pause` command.
    pub paused: bool,
    /// Simulated microseconds spent processing so far, over the node's life, the current
    /// delivery included up to now. `busy_us` over elapsed time is its utilisation.
    pub busy_us: u64,
    /// Deliveries that have arrived and wait to be processed.
    pub buffered: u64,
}

/// A queue's state, as the management UI shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct QueueMetrics {
    /// Ready messages.
    pub ready: u64,
    /// Sum of ready bodies, bytes.
    pub ready_bytes: u64,
    /// Delivered, not yet acked.
    pub unacked: u64,
    /// Registered consumers.
    pub consumers: u64,
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
    pub(crate) topo: Arc<Topology>,
    scenario: Arc<Scenario>,
    seed: u64,
    pub(crate) now: SimTime,
    pub(crate) rng: SimRng,
    pub(crate) agenda: Agenda<Due>,
    /// Scripted actions as `(at, index into scenario.actions)`, sorted by time then document
    /// order. They are kept out of the agenda so that, at equal times, they run after everything
    /// else due at that moment, as a command applied after `advance_to(t)` does.
    scripts: Arc<[(SimTime, usize)]>,
    /// The next script to run.
    next_script: usize,
    /// False while replaying: events are not kept, so a long replay stays small.
    pub(crate) recording: bool,
    pub(crate) nodes: Vec<NodeState>,
    pub(crate) ledger: FateLedger,
    events: Vec<Event>,
    steps: u64,
    edit_log: Vec<Edit>,
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

impl Sim {
    /// A simulation of `scenario` with the scenario's own seed.
    pub fn new(scenario: &Scenario) -> Result<Sim, Diagnostics> {
        Sim::with_seed(scenario, scenario.seed)
    }

    /// A simulation of `scenario` with another seed.
    pub fn with_seed(scenario: &Scenario, seed: u64) -> Result<Sim, Diagnostics> {
        crate::scenario::check(scenario)?;
        Ok(Sim::build(scenario, seed))
    }

    /// A simulation of a topology still being drawn: validated by the live-edit rules, under
    /// which a producer or relay may lack outgoing edges for now (its messages go nowhere and
    /// are dropped as `no_route`). The editor runs what is on the canvas with this.
    pub fn draft(scenario: &Scenario) -> Result<Sim, Diagnostics> {
        crate::scenario::check_live(scenario)?;
        Ok(Sim::build(scenario, scenario.seed))
    }

    fn build(scenario: &Scenario, seed: u64) -> Sim {
        let topo = Topology::from_scenario(scenario);
        let mut sim = Sim {
            nodes: topo
                .nodes
                .iter()
                .map(|n| NodeState {
                    up: true,
                    amqp: AmqpNode::for_kind(&n.kind),
                    ..NodeState::default()
                })
                .collect(),
            topo: Arc::new(topo),
            scenario: Arc::new(scenario.clone()),
            seed,
            now: SimTime::ZERO,
            rng: SimRng::new(seed),
            agenda: Agenda::default(),
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
            recording: true,
            ledger: FateLedger::default(),
            events: Vec::new(),
            steps: 0,
            edit_log: Vec::new(),
        };
        for i in 0..sim.topo.nodes.len() {
            let node = NodeId(i as u32);
            match &sim.topo.nodes[i].kind {
                NodeKind::Producer(p) => {
                    let first = SimTime::ZERO + p.start;
                    sim.schedule_emit(node, first, p.arrival == Arrival::Constant);
                }
                NodeKind::Queue(_) => sim.amqp_queue_declared(node),
                _ => {}
            }
        }
        // basic.consume for every queue → consumer edge, in document order.
        for i in 0..sim.topo.edges.len() {
            let e = &sim.topo.edges[i];
            if matches!(sim.topo.node(e.to).kind, NodeKind::Consumer(_)) {
                sim.register_consumer(EdgeId(i as u32));
            }
        }
        sim
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
        sim.recording = false;
        // A bound on the whole replay, however the edit log is shaped.
        let mut budget = REPLAY_STEP_BUDGET;
        for (index, edit) in edits.iter().enumerate() {
            let inconsistent = |why: &str| ReplayError::Inconsistent {
                index,
                why: why.to_owned(),
            };
            // Bounded by `until`: an edit cannot come after the moment the replay stops at.
            while sim.steps < edit.after_step && sim.next_event_time().is_some_and(|t| t <= until) {
                if budget == 0 {
                    return Err(ReplayError::TooLong {
                        steps: REPLAY_STEP_BUDGET,
                    });
                }
                budget -= 1;
                sim.step();
            }
            if sim.steps != edit.after_step {
                return Err(inconsistent(
                    "it is out of order, or beyond the end of the run",
                ));
            }
            if edit.at > until {
                return Err(inconsistent(
                    "its time is after the moment the replay stops at",
                ));
            }
            if edit.at < sim.now {
                return Err(inconsistent(
                    "its time is before the events that precede it",
                ));
            }
            if sim.next_event_time().is_some_and(|next| edit.at > next) {
                return Err(inconsistent("its time is after an event it should precede"));
            }
            sim.set_clock(edit.at);
            sim.apply(edit.command.clone())
                .map_err(|error| ReplayError::Refused { index, error })?;
        }
        if until < sim.now {
            return Err(ReplayError::Inconsistent {
                index: edits.len(),
                why: "`until` is before the last edit".into(),
            });
        }
        if !sim.advance_to_bounded(until, budget).reached {
            return Err(ReplayError::TooLong {
                steps: REPLAY_STEP_BUDGET,
            });
        }
        sim.recording = true;
        Ok(sim)
    }

    // ----- getters -----

    /// The simulated clock.
    pub fn now(&self) -> SimTime {
        self.now
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
        match (self.agenda.peek_time(), script) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The topology being simulated.
    pub fn topology(&self) -> &Topology {
        &self.topo
    }

    /// The topology being simulated, shared: a handle that outlives a borrow of the `Sim` (to
    /// read names while draining events). Live edits copy it on write, so it stays as it was.
    pub fn topology_shared(&self) -> Arc<Topology> {
        Arc::clone(&self.topo)
    }

    /// The scenario being simulated.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// Every command applied so far, with when it was applied.
    pub fn edit_log(&self) -> &[Edit] {
        &self.edit_log
    }

    /// Totals of message fates.
    pub fn totals(&self) -> FateTotals {
        self.ledger.totals()
    }

    /// A summary of the run so far.
    pub fn metrics(&self) -> Metrics {
        let mut held = vec![0u64; self.nodes.len()];
        for (_, fate) in self.ledger.live() {
            if let Fate::Held { node } = fate {
                held[node.index()] += 1;
            }
        }
        Metrics {
            now: self.now,
            steps: self.steps,
            messages: self.ledger.totals(),
            nodes: self
                .topo
                .nodes
                .iter()
                .zip(&self.nodes)
                .zip(held)
                .map(|((n, s), held)| NodeMetrics {
                    name: n.name.clone(),
                    kind: n.kind.name(),
                    up: s.up,
                    held,
                    removed: n.removed,
                    stats: s.stats.clone(),
                    queue: match &s.amqp {
                        AmqpNode::Queue(q) => Some(QueueMetrics {
                            ready: q.len() as u64,
                            ready_bytes: q.bytes(),
                            unacked: q.unacked,
                            consumers: q.consumers.len() as u64,
                        }),
                        _ => None,
                    },
                    consumer: match (&n.kind, &s.amqp) {
                        (NodeKind::Consumer(cfg), AmqpNode::Consumer(ch)) => {
                            Some(ConsumerMetrics {
                                unacked: u64::from(ch.unacked),
                                prefetch_count: cfg.prefetch_count,
                                global_prefetch_count: cfg.global_prefetch_count,
                                processing: ch
                                    .current
                                    .as_ref()
                                    .map(|d| (d.msg.id, ch.started, ch.finishes)),
                                paused: ch.paused,
                                busy_us: ch.busy_us_at(self.now),
                                buffered: ch.buffer.len() as u64,
                            })
                        }
                        _ => None,
                    },
                })
                .collect(),
        }
    }

    /// Checks that every live message in the ledger is physically where the ledger says, exactly
    /// once, and that created = live + consumed + dropped. Tests call this after every event.
    pub fn check_conservation(&self) -> Result<(), ConservationError> {
        let mut actual: Vec<(MessageId, Fate)> = Vec::new();
        let mut deliveries: Vec<(NodeId, &Delivery)> = Vec::new();
        for e in self.agenda.iter_unordered() {
            if e.at < self.now {
                return Err(ConservationError::TimeWentBackwards {
                    due: e.at,
                    now: self.now,
                });
            }
            match &e.due {
                Due::Arrive { edge, msg } => actual.push((msg.id, Fate::InTransit { edge: *edge })),
                Due::Release { node, msg } => actual.push((msg.id, Fate::Held { node: *node })),
                Due::Deliver { consumer, d } => {
                    actual.push((d.msg.id, Fate::InTransit { edge: d.edge }));
                    deliveries.push((*consumer, d));
                }
                Due::Settle { consumer, batch } => {
                    for d in batch.batch() {
                        actual.push((d.msg.id, Fate::Held { node: *consumer }));
                        deliveries.push((*consumer, d));
                    }
                }
                Due::Emit { .. }
                | Due::Finish { .. }
                | Due::QueueTimer { .. }
                | Due::QueueExpires { .. } => {}
            }
        }
        for (i, state) in self.nodes.iter().enumerate() {
            let node = NodeId(i as u32);
            match &state.amqp {
                AmqpNode::Queue(q) => {
                    actual.extend(q.iter().map(|s| (s.msg.id, Fate::Held { node })));
                }
                AmqpNode::Consumer(ch) => {
                    for d in ch.current.iter().chain(&ch.buffer) {
                        actual.push((d.msg.id, Fate::Held { node }));
                        deliveries.push((node, d));
                    }
                }
                _ => {}
            }
        }
        self.check_amqp_counters(&deliveries)
            .map_err(ConservationError::Counters)?;
        actual.sort_by_key(|(id, _)| *id);
        if let Some(w) = actual.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(ConservationError::Duplicated(w[0].0));
        }
        let mut ledger = self.ledger.live();
        let mut physical = actual.iter().copied();
        loop {
            match (ledger.next(), physical.next()) {
                (None, None) => break,
                (Some(l), Some(p)) if l == p => {}
                (l, p) => {
                    let id = l.map_or_else(|| p.unwrap().0, |l| p.map_or(l.0, |p| l.0.min(p.0)));
                    return Err(ConservationError::Misplaced {
                        id,
                        ledger: self.ledger.fate(id).filter(|f| !f.is_terminal()),
                        actual: actual.iter().find(|(i, _)| *i == id).map(|(_, f)| *f),
                    });
                }
            }
        }
        let t = self.ledger.totals();
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
            at: self.now,
            after_step: self.steps,
            command: command.clone(),
        });
        self.execute(command);
        Ok(())
    }

    fn check_command(&self, command: &Command) -> Result<(), CommandError> {
        let live_node = |node: NodeId| {
            let n = self
                .topo
                .nodes
                .get(node.index())
                .ok_or(CommandError::UnknownNode(node))?;
            if n.removed {
                return Err(CommandError::Removed(node));
            }
            Ok(n)
        };
        match command {
            Command::Publish { node, message } => {
                let n = live_node(*node)?;
                if message.body_bytes > crate::scenario::MAX_BODY_BYTES {
                    return Err(CommandError::BodyTooLarge(message.body_bytes));
                }
                if let Err(why) = message.expiration_ms() {
                    return Err(CommandError::Invalid(format!("expiration: {why}")));
                }
                if !matches!(n.kind, NodeKind::Producer(_)) {
                    return Err(CommandError::NotAProducer {
                        name: n.name.clone(),
                        kind: n.kind.name(),
                    });
                }
            }
            Command::Crash { node } | Command::Restart { node } => {
                let n = live_node(*node)?;
                if matches!(n.kind, NodeKind::Exchange(_) | NodeKind::Queue(_)) {
                    return Err(CommandError::Invalid(format!(
                        "{:?} is part of the broker, which is not simulated as crashing; remove it \
                         to delete it",
                        n.name
                    )));
                }
            }
            Command::Settle { node, .. } => {
                let n = live_node(*node)?;
                match &n.kind {
                    NodeKind::Consumer(c) if c.auto_ack => {
                        return Err(CommandError::Invalid(format!(
                            "{:?} uses auto_ack, so it has no deliveries to settle",
                            n.name
                        )));
                    }
                    NodeKind::Consumer(_) => {}
                    _ => {
                        return Err(CommandError::NotAConsumer {
                            name: n.name.clone(),
                            kind: n.kind.name(),
                            action: "settles deliveries",
                        })
                    }
                }
            }
            Command::Pause { node } | Command::Resume { node } => {
                let n = live_node(*node)?;
                let pause = matches!(command, Command::Pause { .. });
                if !matches!(n.kind, NodeKind::Consumer(_)) {
                    return Err(CommandError::NotAConsumer {
                        name: n.name.clone(),
                        kind: n.kind.name(),
                        action: if pause {
                            "can be paused"
                        } else {
                            "can be resumed"
                        },
                    });
                }
                if !self.nodes[node.index()].up {
                    return Err(CommandError::Invalid(format!(
                        "{:?} is down; restart it first (a consumer comes back unpaused)",
                        n.name
                    )));
                }
                let paused = self.channel(*node).paused;
                if pause && paused {
                    return Err(CommandError::Invalid(format!(
                        "{:?} is already paused",
                        n.name
                    )));
                }
                if !pause && !paused {
                    return Err(CommandError::Invalid(format!(
                        "{:?} is not paused, so there is nothing to resume",
                        n.name
                    )));
                }
            }
            Command::Configure { node, spec } => {
                live_node(*node)?;
                self.check_configure(*node, spec)?;
            }
            Command::RemoveNode { node } => {
                live_node(*node)?;
            }
            Command::RemoveEdge { edge } => {
                if self.topo.edges.get(edge.index()).is_none_or(|e| e.removed) {
                    return Err(CommandError::UnknownEdge(*edge));
                }
            }
            Command::AddNode { spec } => {
                let mut doc = self.topo.to_scenario(&self.scenario);
                doc.nodes.push(spec.clone());
                crate::scenario::check_live(&doc)
                    .map_err(|d| CommandError::Invalid(d.to_string()))?;
            }
            Command::AddEdge { spec } => {
                let mut doc = self.topo.to_scenario(&self.scenario);
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
        let run_script = match (self.agenda.peek_time(), script) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(a), Some((b, _))) => b < a,
        };
        let at = match (run_script, script) {
            (true, Some((b, _))) => b,
            _ => self.agenda.peek_time()?,
        };
        // Time never goes backwards.
        assert!(
            at >= self.now,
            "next event at {at} is before now {}",
            self.now
        );
        self.now = at;
        self.steps += 1;
        match script {
            Some((_, index)) if run_script => {
                self.next_script += 1;
                self.run_script(index);
            }
            _ => {
                let entry = self.agenda.pop().expect("peeked");
                self.handle(entry.due);
            }
        }
        Some(self.now)
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
    /// with this, so the logged future happens again. Edits logged after the last event up to
    /// `t` are applied too, if their time has come. An edit that does not fit is an error
    /// naming it, never a panic.
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
                    if edit.at < self.now {
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
        if t > self.now {
            debug_assert!(self.next_event_time().is_none_or(|at| at >= t));
            self.now = t;
        }
    }

    // ----- outputs -----

    /// Takes the events that happened since the last call, in order. Events accumulate until
    /// drained, so drain after every `apply`, `step` or `advance_to`.
    pub fn drain_events(&mut self) -> std::vec::Drain<'_, Event> {
        self.events.drain(..)
    }

    /// A cheap, independent copy of the whole state, for time travel.
    pub fn snapshot(&self) -> Sim {
        self.clone()
    }

    // ----- internals -----

    #[inline]
    pub(crate) fn emit(&mut self, kind: EventKind) {
        if self.recording {
            self.events.push(Event { at: self.now, kind });
        }
    }

    fn producer(&self, node: NodeId) -> &ProducerConfig {
        match &self.topo.node(node).kind {
            NodeKind::Producer(p) => p,
            _ => unreachable!("not a producer"),
        }
    }

    /// Schedules the producer's next rate-driven message, unless it is idle or spent its limit.
    fn schedule_emit(&mut self, node: NodeId, earliest: SimTime, immediately: bool) {
        let NodeKind::Producer(p) = &self.topo.nodes[node.index()].kind else {
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
        self.agenda.push(at, Due::Emit { node });
    }

    fn handle(&mut self, due: Due) {
        match due {
            Due::Emit { node } => {
                self.nodes[node.index()].emitted += 1;
                let template = self.producer(node).message.clone();
                self.publish(node, &template);
                let now = self.now;
                self.schedule_emit(node, now, false);
            }
            Due::Arrive { edge, mut msg } => {
                msg.hops += 1;
                msg.arrived_at = self.now;
                let node = self.topo.edge(edge).to;
                self.nodes[node.index()].stats.received += 1;
                if matches!(
                    self.topo.node(node).kind,
                    NodeKind::Exchange(_) | NodeKind::Queue(_)
                ) {
                    self.amqp_publish_arrive(edge, msg);
                    return;
                }
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
                        self.agenda.push(until, Due::Release { node, msg });
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
                    | NodeKind::Exchange(_)
                    | NodeKind::Queue(_)
                    | NodeKind::Consumer(_) => {
                        unreachable!(
                            "validated: no plain edge ends at a {}",
                            self.topo.node(node).kind.name()
                        )
                    }
                }
            }
            Due::Release { node, msg } => self.forward(node, msg),
            Due::Deliver { consumer, d } => self.amqp_delivery_arrive(consumer, d),
            Due::Finish { consumer } => self.amqp_finish(consumer),
            Due::Settle { consumer, batch } => {
                let (how, multiple, ds) = Delivery::unpack(batch);
                self.amqp_settle_arrive(consumer, how, multiple, ds)
            }
            Due::QueueTimer { queue } => self.amqp_queue_timer(queue),
            Due::QueueExpires { queue, epoch } => self.amqp_queue_expires(queue, epoch),
        }
    }

    fn run_script(&mut self, index: usize) {
        let action = self.scenario.actions[index].action.clone();
        let Some(node) = self.topo.node_id(action.nodes()[0]) else {
            return; // the node was removed by an earlier edit: nothing to act on
        };
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
            Action::Configure { node: spec } => Command::Configure { node, spec },
            Action::AddEdge { edge } => Command::AddEdge { spec: edge },
            Action::RemoveEdge {
                to, routing_key, ..
            } => {
                let Some(edge) = self
                    .topo
                    .node_id(&to)
                    .and_then(|to| self.topo.edge_between(node, to, routing_key.as_deref()))
                else {
                    return;
                };
                Command::RemoveEdge { edge }
            }
        };
        // Scripts were validated against the initial topology; live edits may have changed
        // it since, so a script that no longer fits is skipped rather than trusted.
        if self.check_command(&command).is_ok() {
            self.execute(command);
        }
    }

    fn execute(&mut self, command: Command) {
        match command {
            Command::Publish { node, message } => self.publish(node, &message),
            Command::Crash { node } => self.crash(node),
            Command::Restart { node } => self.restart(node),
            Command::Settle {
                node,
                how,
                delivery_tag,
                multiple,
            } => self.amqp_client_settle(node, how, delivery_tag, multiple),
            Command::AddNode { spec } => {
                let node = Arc::make_mut(&mut self.topo).add_node(&spec);
                self.nodes.push(NodeState {
                    up: true,
                    ..NodeState::default()
                });
                self.amqp_node_added(node);
                if let NodeKind::Producer(p) = &self.topo.node(node).kind {
                    let start = SimTime::ZERO + p.start;
                    let constant = p.arrival == Arrival::Constant;
                    if self.now < start {
                        self.schedule_emit(node, start, constant);
                    } else {
                        let now = self.now;
                        self.schedule_emit(node, now, constant);
                    }
                }
            }
            Command::AddEdge { spec } => {
                let edge = Arc::make_mut(&mut self.topo)
                    .add_edge(&spec)
                    .expect("checked: both ends are live");
                if matches!(
                    self.topo.node(self.topo.edge(edge).to).kind,
                    NodeKind::Consumer(_)
                ) {
                    self.register_consumer(edge);
                }
            }
            Command::RemoveEdge { edge } => {
                self.cancel_on_edge(edge);
                Arc::make_mut(&mut self.topo).remove_edge(edge);
            }
            Command::RemoveNode { node } => self.remove_node(node),
            Command::Configure { node, spec } => self.configure(node, spec),
            Command::Pause { node } => self.amqp_pause(node),
            Command::Resume { node } => self.amqp_resume(node),
        }
    }

    /// Why `spec` cannot configure the live node `node`, if it cannot.
    fn check_configure(&self, node: NodeId, spec: &NodeSpec) -> Result<(), CommandError> {
        let n = self.topo.node(node);
        if spec.id != n.name {
            return Err(CommandError::Invalid(format!(
                "configure cannot rename {:?} to {:?}: a node's name is its identity (for a queue \
                 or an exchange, its AMQP name); remove the node and add one under the new name",
                n.name, spec.id
            )));
        }
        if spec.kind.name() != n.kind.name() {
            return Err(CommandError::Invalid(format!(
                "configure cannot turn {} {:?} into a {}; remove the node and add a new one",
                n.kind.name(),
                n.name,
                spec.kind.name()
            )));
        }
        match (&n.kind, &spec.kind) {
            (NodeKind::Exchange(_), _) | (NodeKind::Queue(_), _) if n.kind != spec.kind => {
                return Err(CommandError::Invalid(crate::scenario::inequivalent(
                    &n.name, &n.kind, &spec.kind,
                )));
            }
            (NodeKind::Consumer(old), NodeKind::Consumer(new))
                if (old.auto_ack != new.auto_ack || old.arguments != new.arguments)
                    && !n.inc.is_empty() =>
            {
                let what = if old.auto_ack != new.auto_ack {
                    "auto_ack"
                } else {
                    "arguments (x-priority)"
                };
                return Err(CommandError::Invalid(format!(
                    "{:?}: changing {what} needs a new basic.consume: remove the consume edge and \
                     add it again (configure the consumer while it has no consume edge)",
                    n.name
                )));
            }
            _ => {}
        }
        let mut doc = self.topo.to_scenario(&self.scenario);
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
        let n = &mut Arc::make_mut(&mut self.topo).nodes[node.index()];
        if spec.position.is_some() {
            n.position = spec.position;
        }
        let old = std::mem::replace(&mut n.kind, spec.kind);
        self.emit(EventKind::Configured { node });
        match old {
            NodeKind::Producer(p) => self.producer_reconfigured(node, &p),
            NodeKind::Consumer(c) => self.amqp_consumer_reconfigured(node, &c),
            // A relay's delay applies to the messages it takes from now on; a sink has no
            // settings; an exchange or a queue was checked to be unchanged.
            _ => {}
        }
    }

    /// A producer's settings changed from `old`: its next rate-driven publish is rescheduled
    /// at the new rate, one gap from now. A producer that has not reached its `start` yet waits
    /// for the new one.
    fn producer_reconfigured(&mut self, node: NodeId, old: &ProducerConfig) {
        self.agenda
            .remove_where(|d| matches!(d, Due::Emit { node: n } if *n == node), drop);
        let p = self.producer(node);
        let (confirms, constant, start) = (
            p.publisher_confirms,
            p.arrival == Arrival::Constant,
            SimTime::ZERO + p.start,
        );
        if confirms != old.publisher_confirms {
            // A new channel: publish sequence numbers start again at 1.
            self.nodes[node.index()].amqp = AmqpNode::Producer { next_seq: 1 };
        }
        if !self.nodes[node.index()].up {
            return; // `restart` schedules it
        }
        let now = self.now;
        if now < SimTime::ZERO + old.start {
            self.schedule_emit(node, start.max(now), constant);
        } else {
            self.schedule_emit(node, now, false);
        }
    }

    fn remove_node(&mut self, node: NodeId) {
        match self.topo.node(node).kind {
            NodeKind::Queue(_) => self.delete_queue(node, "deleted"),
            NodeKind::Exchange(_) => {}
            _ => {
                // Its connection closes: the same as a crash, for good.
                self.crash(node);
            }
        }
        if !self.topo.node(node).removed {
            Arc::make_mut(&mut self.topo).remove_node(node);
        }
        self.emit(EventKind::Removed { node });
    }

    fn publish(&mut self, node: NodeId, template: &MessageTemplate) {
        let id = self.ledger.next_id();
        let mut msg = Box::new(Envelope::from_template(id, template, self.now));
        if let (NodeKind::Producer(p), true) =
            (&self.topo.node(node).kind, self.nodes[node.index()].up)
        {
            let mandatory = p.mandatory;
            msg.publish = Some(PublishFlags {
                publisher: node,
                mandatory,
                confirm_seq: self.next_confirm_seq(node),
            });
        }
        self.ledger.create(id, Fate::Held { node });
        self.nodes[node.index()].stats.published += 1;
        self.emit(EventKind::Published {
            node,
            message: id,
            correlation: msg.correlation_id,
        });
        if self.nodes[node.index()].up {
            self.forward(node, msg);
        } else {
            self.drop_message(id, node, DropReason::NodeDown);
        }
    }

    /// Sends `msg` from `node` along its next outgoing edge, in turn.
    fn forward(&mut self, node: NodeId, msg: Box<Envelope>) {
        let out = &self.topo.node(node).out;
        if out.is_empty() {
            self.drop_message(msg.id, node, DropReason::NoRoute);
            return;
        }
        let state = &mut self.nodes[node.index()];
        let edge = out[state.next_out % out.len()];
        state.next_out = (state.next_out + 1) % out.len();
        state.stats.sent += 1;
        let e = self.topo.edge(edge);
        let (to, arrive) = (e.to, self.now + e.latency.sample(&mut self.rng));
        self.ledger.set(msg.id, Fate::InTransit { edge });
        self.emit(EventKind::Sent {
            message: msg.id,
            edge,
            from: node,
            to,
            depart: self.now,
            arrive,
        });
        self.agenda.push(arrive, Due::Arrive { edge, msg });
    }

    pub(crate) fn drop_message(&mut self, id: MessageId, node: NodeId, reason: DropReason) {
        self.ledger.set(id, Fate::Dropped { node, reason });
        self.nodes[node.index()].stats.dropped += 1;
        self.emit(EventKind::Dropped {
            message: id,
            node,
            reason,
        });
    }

    pub(crate) fn crash(&mut self, node: NodeId) {
        if !self.nodes[node.index()].up {
            return;
        }
        self.nodes[node.index()].up = false;
        self.nodes[node.index()].stats.crashes += 1;
        if matches!(self.topo.node(node).kind, NodeKind::Consumer(_)) {
            // The connection closes: unacked deliveries go back to their queues.
            let ds = self.close_consumer_connection(node);
            let lost = ds.iter().filter(|d| d.auto_ack).count() as u32;
            self.emit(EventKind::Crashed { node, lost });
            self.requeue_closed(node, ds);
            return;
        }
        let mut lost = Vec::new();
        self.agenda.remove_where(
            |d| d.owner() == Some(node),
            |e| {
                if let Due::Release { msg, .. } = e.due {
                    lost.push(msg.id);
                }
            },
        );
        self.emit(EventKind::Crashed {
            node,
            lost: lost.len() as u32,
        });
        for id in lost {
            self.drop_message(id, node, DropReason::LostInCrash);
        }
    }

    fn restart(&mut self, node: NodeId) {
        if self.nodes[node.index()].up {
            return;
        }
        self.nodes[node.index()].up = true;
        self.emit(EventKind::Restarted { node });
        if matches!(self.topo.node(node).kind, NodeKind::Consumer(_)) {
            self.reopen_consumer(node);
        }
        if let NodeKind::Producer(p) = &self.topo.node(node).kind {
            // A new connection and channel: confirm numbering starts again at 1.
            self.nodes[node.index()].amqp = AmqpNode::for_kind(&self.topo.node(node).kind);
            // A producer restarted before its `start` still waits for it.
            let start = SimTime::ZERO + p.start;
            if self.now < start {
                let constant = p.arrival == Arrival::Constant;
                self.schedule_emit(node, start, constant);
            } else {
                let now = self.now;
                self.schedule_emit(node, now, false);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agenda_entries_and_events_stay_small() {
        // The heap moves entries and the page drains events every frame: their size is
        // throughput (docs/performance.md). Grow them only on purpose.
        assert_eq!(std::mem::size_of::<Due>(), 16);
        assert_eq!(std::mem::size_of::<Event>(), 48);
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
            sim.ledger.totals().live > 2,
            "the test needs messages in flight"
        );
        sim
    }

    #[test]
    fn the_check_catches_a_message_that_vanished() {
        let mut sim = running_sim();
        let mut gone = None;
        sim.agenda.remove_where(
            |d| {
                matches!(d, Due::Arrive { .. }) && gone.is_none() && {
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
        let copy = sim.agenda.iter_unordered().find_map(|e| match &e.due {
            Due::Arrive { edge, msg } => Some((e.at, *edge, msg.clone())),
            _ => None,
        });
        let (at, edge, msg) = copy.unwrap();
        sim.agenda.push(at, Due::Arrive { edge, msg });
        assert!(matches!(
            sim.check_conservation(),
            Err(ConservationError::Duplicated(_))
        ));
    }

    #[test]
    fn the_check_catches_a_ledger_that_lies_about_where_a_message_is() {
        let mut sim = running_sim();
        let (id, _) = sim
            .ledger
            .live()
            .find(|(_, f)| matches!(f, Fate::InTransit { .. }))
            .unwrap();
        sim.ledger.set(id, Fate::Held { node: NodeId(2) });
        assert!(matches!(
            sim.check_conservation(),
            Err(ConservationError::Misplaced { .. })
        ));
    }

    #[test]
    fn the_check_catches_a_message_ended_while_still_travelling() {
        let mut sim = running_sim();
        let (id, _) = sim.ledger.live().next().unwrap();
        sim.ledger.set(id, Fate::Consumed { node: NodeId(2) });
        assert!(sim.check_conservation().is_err());
    }
}
