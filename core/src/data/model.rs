//! The data model's state: each store's keys and their versions, what it has applied, the
//! idempotency keys it keeps; its agenda entries (a write reaching its store, a write
//! applied) and its metrics.
//!
//! A write is not a message: it carries no envelope and has no fate in the ledger. The
//! message being handled stays where its paradigm holds it (with the service's worker), and
//! the write names it.

use super::event::DataEvent;
use super::kind::DataKind;
use crate::event::EventKind;
use crate::id::{EdgeId, MessageId, NodeId};
use crate::kernel::Kernel;
use crate::model::{ModelDue, StepOrigin};
use crate::scenario::NodeKind;
use crate::time::SimTime;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;
use std::collections::BTreeMap;

/// One write on its way: sent by a handler step, not yet answered.
#[derive(Clone, Debug)]
pub(crate) struct Write {
    /// The store.
    pub store: NodeId,
    /// The service to store edge it crosses, both ways.
    pub edge: EdgeId,
    /// The key written.
    pub key: String,
    /// The idempotency key it brings, if the step has one.
    pub idempotency_key: Option<String>,
    /// The message being handled.
    pub message: MessageId,
    /// The logical message it belongs to: what a redelivery or a retry of it keeps.
    pub logical: MessageId,
    /// Whom to answer when the write is done.
    pub origin: StepOrigin,
    /// False while it travels to the store, true while the store applies it.
    pub arrived: bool,
    /// The message to publish through the store's outbox, in the write's transaction.
    pub outbox: Option<OutboxRow>,
}

/// A message waiting in a store's outbox table for the relay to publish it.
#[derive(Clone, Debug)]
pub(crate) struct OutboxRow {
    /// The exchange or queue it goes to, by name: the relay looks it up when it polls, so a
    /// write never depends on the relay's connection.
    pub to: String,
    /// Its routing key.
    pub routing_key: String,
    /// Its headers.
    pub headers: crate::message::Headers,
    /// The correlation id of the message whose handler wrote it.
    pub correlation: MessageId,
    /// That message: its cause.
    pub cause: MessageId,
}

/// The model's agenda entries, boxed once, so that an entry is a pointer and the kernel's
/// agenda entries stay 16 bytes.
#[derive(Clone, Debug)]
pub(crate) enum Due {
    /// An entry.
    Op(Box<Op>),
}

/// What a data model entry does.
#[derive(Clone, Debug)]
pub(crate) enum Op {
    /// A write's next stage: it reaches its store (`arrived` false) or is applied there (the
    /// end of its `write_latency`).
    Write(Write),
    /// A store's outbox relay polls its outbox table and publishes what it finds.
    Relay {
        /// The store.
        store: NodeId,
    },
}

/// A key's current version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Version {
    /// 1 for the key's first write, one more for each write after it.
    pub version: u64,
    /// The message whose handler wrote it.
    pub message: MessageId,
    /// The logical message it belongs to.
    pub logical: MessageId,
    /// When it was applied.
    pub at: SimTime,
}

/// A store's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StoreStats {
    /// Writes applied.
    pub writes: u64,
    /// Writes applied to a key that the same logical message had already written: the same
    /// order charged twice, whichever service instance or step wrote it. A logical message is
    /// the message itself for a queue's delivery (a redelivery keeps its id), and the client's
    /// request for HTTP (a retry at any hop belongs to it).
    pub duplicates: u64,
    /// Writes skipped because the store already kept their idempotency key.
    pub deduplicated: u64,
    /// Messages its outbox relay published.
    pub outbox_published: u64,
}

/// One store's state.
#[derive(Clone, Debug, Default)]
pub(crate) struct StoreState {
    /// Each key's current version, ordered by key (the inspector lists them so).
    pub values: BTreeMap<String, Version>,
    /// How many times each logical message was applied to each key. Looked up only, never
    /// iterated.
    applied: FxHashMap<(MessageId, String), u32>,
    /// The idempotency keys the store keeps. Looked up only, never iterated.
    idempotency: FxHashSet<String>,
    /// Writes being applied.
    pub in_flight: u32,
    /// Its outbox table: messages written with their writes, not yet published, oldest first.
    pub outbox: std::collections::VecDeque<OutboxRow>,
    /// A relay poll is scheduled.
    relay_armed: bool,
    /// Its counters.
    pub stats: StoreStats,
}

/// A store's metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StoreMetrics {
    /// Keys written so far.
    pub keys: u64,
    /// Writes being applied.
    pub in_flight: u32,
    /// Messages in its outbox table, written and not yet published.
    pub outbox_pending: u64,
    /// Its counters.
    #[serde(flatten)]
    pub stats: StoreStats,
}

/// The data model's metrics for one node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DataMetrics {
    /// A store's.
    Store(StoreMetrics),
}

/// The data model.
#[derive(Clone, Debug, Default)]
pub(crate) struct DataModel {
    /// Each node's store, by node index (`None` for nodes of other kinds).
    stores: Vec<Option<Box<StoreState>>>,
}

impl DataModel {
    fn emit(k: &mut Kernel, e: DataEvent) {
        k.emit(EventKind::Data(Box::new(e)));
    }

    /// A node was added: a store starts empty.
    pub fn node_added(&mut self, k: &mut Kernel, node: NodeId) {
        let i = node.index();
        if self.stores.len() <= i {
            self.stores.resize_with(i + 1, || None);
        }
        self.stores[i] = match &k.topo.node(node).kind {
            NodeKind::Data(DataKind::Store(_)) => Some(Box::default()),
            NodeKind::Producer(_)
            | NodeKind::Relay(_)
            | NodeKind::Sink(_)
            | NodeKind::Amqp(_)
            | NodeKind::Http(_)
            | NodeKind::Kafka(_)
            | NodeKind::Bullmq(_) => None,
        };
    }

    /// Store `node`'s state, if it is a store.
    pub fn store(&self, node: NodeId) -> Option<&StoreState> {
        self.stores.get(node.index())?.as_deref()
    }

    fn store_mut(&mut self, node: NodeId) -> &mut StoreState {
        self.stores[node.index()].as_deref_mut().expect("a store")
    }

    /// A timer is due.
    pub fn timer(&mut self, k: &mut Kernel, due: Due) {
        let Due::Op(op) = due;
        match *op {
            Op::Write(w) if w.arrived => self.commit(k, w),
            Op::Write(w) => self.arrive(k, w),
            Op::Relay { store } => self.relay(k, store),
        }
    }

    /// A write reached its store: it takes the store's `write_latency`.
    fn arrive(&mut self, k: &mut Kernel, mut w: Write) {
        if k.topo.node(w.store).removed {
            // Removed by a live edit while the write was on its way: it fails.
            answer(k, &w, false);
            return;
        }
        self.store_mut(w.store).in_flight += 1;
        let NodeKind::Data(DataKind::Store(cfg)) = &k.topo.node(w.store).kind else {
            unreachable!("a write goes to a store")
        };
        let at = k.now + cfg.write_latency.sample(&mut k.rng);
        w.arrived = true;
        k.schedule(at, ModelDue::Data(Due::Op(Box::new(Op::Write(w)))));
    }

    /// A write is applied, or skipped for its idempotency key; its answer goes back.
    fn commit(&mut self, k: &mut Kernel, mut w: Write) {
        let now = k.now;
        let removed = k.topo.node(w.store).removed;
        let s = self.store_mut(w.store);
        s.in_flight -= 1;
        if removed {
            // Removed by a live edit while it applied the write: it never commits.
            answer(k, &w, false);
            return;
        }
        if let Some(idem) = &w.idempotency_key {
            if !s.idempotency.insert(idem.clone()) {
                s.stats.deduplicated += 1;
                Self::emit(
                    k,
                    DataEvent::Deduplicated {
                        store: w.store,
                        key: w.key.clone(),
                        idempotency_key: idem.clone(),
                        message: w.message,
                    },
                );
                answer(k, &w, true);
                return;
            }
        }
        let times = s.applied.entry((w.logical, w.key.clone())).or_insert(0);
        *times += 1;
        let duplicate = *times > 1;
        s.stats.writes += 1;
        if duplicate {
            s.stats.duplicates += 1;
        }
        let version = s.values.get(&w.key).map_or(0, |v| v.version) + 1;
        s.values.insert(
            w.key.clone(),
            Version {
                version,
                message: w.message,
                logical: w.logical,
                at: now,
            },
        );
        Self::emit(
            k,
            DataEvent::Written {
                store: w.store,
                key: w.key.clone(),
                version,
                message: w.message,
                logical: w.logical,
                duplicate,
            },
        );
        if let Some(row) = w.outbox.take() {
            // In the write's transaction: the row exists exactly when the write does.
            self.outbox_add(k, w.store, row);
        }
        answer(k, &w, true);
    }

    /// A row joins `store`'s outbox table; the relay polls at its next tick.
    fn outbox_add(&mut self, k: &mut Kernel, store: NodeId, row: OutboxRow) {
        let s = self.store_mut(store);
        s.outbox.push_back(row);
        if !s.relay_armed {
            s.relay_armed = true;
            let at = next_tick(k, store);
            k.schedule(at, ModelDue::Data(Due::Op(Box::new(Op::Relay { store }))));
        }
    }

    /// The outbox relay of `store` polls: it publishes every row, oldest first, over the
    /// store's edge to each row's exchange or queue. A row whose edge is gone (removed by a
    /// live edit) stays, and the relay polls again at its next tick.
    fn relay(&mut self, k: &mut Kernel, store: NodeId) {
        if k.topo.node(store).removed {
            return; // its table went with it
        }
        let s = self.store_mut(store);
        let rows = std::mem::take(&mut s.outbox);
        let mut kept = std::collections::VecDeque::new();
        let mut published = 0;
        for row in rows {
            let found = k.topo.node_id(&row.to).and_then(|to| {
                let edge = k.topo.edge_between(store, to, None)?;
                let publish = matches!(k.topo.edge(edge).kind, crate::model::EdgeKind::Amqp(_));
                publish.then_some((to, edge))
            });
            let Some((to, edge)) = found else {
                // Nowhere to publish it now: it waits for a later poll.
                kept.push_back(row);
                continue;
            };
            let chain = (row.correlation, row.cause);
            k.publish_on(store, edge, to, chain, row.routing_key, row.headers);
            published += 1;
        }
        let s = self.store_mut(store);
        s.stats.outbox_published += published;
        s.outbox = kept;
        s.relay_armed = !s.outbox.is_empty();
        if s.relay_armed {
            let at = next_tick(k, store);
            k.schedule(at, ModelDue::Data(Due::Op(Box::new(Op::Relay { store }))));
        }
    }

    /// The node's metrics, if it is a store.
    pub fn metrics(&self, node: NodeId) -> Option<DataMetrics> {
        let s = self.store(node)?;
        Some(DataMetrics::Store(StoreMetrics {
            keys: s.values.len() as u64,
            in_flight: s.in_flight,
            outbox_pending: s.outbox.len() as u64,
            stats: s.stats.clone(),
        }))
    }

    /// The stores' own invariants: versions count the writes applied to their key, and each
    /// names a message the run made.
    pub fn check(&self, k: &Kernel) -> Result<(), String> {
        for (i, s) in self.stores.iter().enumerate() {
            let Some(s) = s else { continue };
            let name = &k.topo.nodes[i].name;
            let total: u64 = s.values.values().map(|v| v.version).sum();
            if total != s.stats.writes {
                return Err(format!(
                    "store {name:?}: its keys' versions add up to {total}, but it applied {} \
                     writes",
                    s.stats.writes
                ));
            }
            for (key, v) in &s.values {
                if v.message.0 >= k.ledger.next_id().0 || v.at > k.now {
                    return Err(format!(
                        "store {name:?}: key {key:?} at version {} names message {} that the \
                         run has not made yet",
                        v.version, v.message.0
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A handler step sends `w` over its edge; it reaches the store after the edge's latency. A
/// function of the kernel alone, so that any model's handler can send one (like
/// `Kernel::send_on`); the store's state first changes when the write arrives.
pub(crate) fn send(k: &mut Kernel, w: Write) {
    let depart = k.now;
    let arrive = depart + k.topo.edge(w.edge).latency.sample(&mut k.rng);
    DataModel::emit(
        k,
        DataEvent::WriteSent {
            message: w.message,
            edge: w.edge,
            key: w.key.clone(),
            depart,
            arrive,
        },
    );
    k.schedule(arrive, ModelDue::Data(Due::Op(Box::new(Op::Write(w)))));
}

/// The relay's next poll of `store`'s outbox: the next multiple of its `outbox_interval`
/// after now (it polls on a fixed period, whatever the rows' times).
fn next_tick(k: &Kernel, store: NodeId) -> crate::time::SimTime {
    let NodeKind::Data(DataKind::Store(cfg)) = &k.topo.node(store).kind else {
        unreachable!("a store")
    };
    let period = cfg.outbox_interval.0.max(1);
    crate::time::SimTime((k.now.0 / period + 1) * period)
}

/// The answer to write `w` crosses the edge back to its service.
fn answer(k: &mut Kernel, w: &Write, ok: bool) {
    let at = k.now + k.topo.edge(w.edge).latency.sample(&mut k.rng);
    k.schedule(at, w.origin.answer(ok));
}
