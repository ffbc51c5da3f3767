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

/// One read or write on its way: sent by a handler step, not yet answered.
#[derive(Clone, Debug)]
pub(crate) struct Access {
    /// The store.
    pub store: NodeId,
    /// The handler's edge to the store, crossed both ways.
    pub edge: EdgeId,
    /// The key read or written.
    pub key: String,
    /// The message being handled.
    pub message: MessageId,
    /// The logical message it belongs to: what a redelivery or a retry of it keeps.
    pub logical: MessageId,
    /// The causal chain the message belongs to (its correlation id): whose writes a read
    /// should see (read-your-writes), and which source write a read model's write reflects.
    pub chain: MessageId,
    /// Whom to answer when it is done.
    pub origin: StepOrigin,
    /// False while it travels to the store, true while the store serves it.
    pub arrived: bool,
    /// A read, or a write and what it brings.
    pub op: AccessOp,
}

/// What an [`Access`] does.
#[derive(Clone, Debug)]
pub(crate) enum AccessOp {
    /// Reads the key's version.
    Read,
    /// Writes the key's next version.
    Write {
        /// The idempotency key it brings, if the step has one.
        idempotency_key: Option<String>,
        /// The message to publish through the store's outbox, in the write's transaction.
        outbox: Option<OutboxRow>,
    },
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
    /// A read's or write's next stage: it reaches its store (`arrived` false), or is served
    /// there (the end of its `read_latency` or `write_latency`).
    Access(Access),
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
    /// Reads served.
    pub reads: u64,
    /// Reads that returned an older version of their key than one already acknowledged to a
    /// writer (for a read model, acknowledged by its source).
    pub stale_reads: u64,
    /// Reads that returned an older version than the reading message's own chain had been
    /// told it wrote: read-your-writes violations (each is a stale read too).
    pub ryw_violations: u64,
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
    /// Per key, what reads and read models are measured against. Looked up only.
    log: FxHashMap<String, KeyLog>,
    /// Per chain and key, the version that chain wrote last, and when the store's answer
    /// reached the writer. Looked up only.
    told: FxHashMap<(MessageId, String), Told>,
    /// As a read model: what it has made visible of its source.
    projection: Option<Box<Projection>>,
}

impl StoreState {
    /// Its projection of `source`, if it has made one (none of another store's).
    fn projection(&self, source: NodeId) -> Option<&Projection> {
        self.projection
            .as_deref()
            .filter(|p| p.source == Some(source))
    }
}

/// One key's history in a store, for measuring reads and read models against it.
#[derive(Clone, Debug, Default)]
struct KeyLog {
    /// When each version was applied (version `v` at `applied[v - 1]`).
    applied: Vec<SimTime>,
    /// The newest version whose answer has reached its writer by the last read.
    acked: u64,
    /// Answers still on their way back to their writers: `(version, arrival)`.
    acks: Vec<(u64, SimTime)>,
}

impl KeyLog {
    /// The newest version acknowledged to a writer (its answer arrived) at `now`.
    fn acked(&mut self, now: SimTime) -> u64 {
        let acked = &mut self.acked;
        self.acks.retain(|&(v, at)| {
            if at <= now {
                *acked = (*acked).max(v);
                false
            } else {
                true
            }
        });
        self.acked
    }
}

/// What a chain has written to a key, and been told of.
#[derive(Clone, Copy, Debug, Default)]
struct Told {
    /// The version it wrote last.
    written: u64,
    /// When the answer to that write reaches the writer.
    answer_at: SimTime,
    /// The newest version whose answer had reached it before that write.
    told: u64,
}

impl Told {
    /// The newest version the chain has been told it wrote, at `now`.
    fn at(&self, now: SimTime) -> u64 {
        if self.answer_at <= now {
            self.written.max(self.told)
        } else {
            self.told
        }
    }
}

/// A read model's state: which version of each key of its source it shows.
#[derive(Clone, Debug, Default)]
struct Projection {
    /// The store it projects: a live edit that points `projection_of` elsewhere starts a new
    /// projection (what it showed was another store's versions).
    source: Option<NodeId>,
    /// Per key, the newest source version made visible. Looked up only.
    visible: FxHashMap<String, u64>,
    /// How long each source version took to become visible.
    staleness: super::staleness::Histogram,
    /// Source versions made visible (each version once, a superseded one with its newer).
    made_visible: u64,
    /// Writes that reflected no source write: their message's chain wrote no such key in the
    /// source (a projection keeps its source's keys).
    unmatched: u64,
    /// Writes that reflected an older source version of their key than the one already
    /// visible: updates that arrived out of order.
    out_of_order: u64,
}

/// A read model's metrics: how far it lags its source.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ProjectionMetrics {
    /// Source versions not visible here yet: versions its source applied that no write here
    /// has reflected.
    pub behind: u64,
    /// Writes here that reflected no source write.
    pub unmatched: u64,
    /// Writes here that reflected an older source version of their key than the one already
    /// visible: an update that arrived after a newer update of the same key (a redelivered
    /// or reordered message). The read model keeps the newer version; one that simply
    /// overwrote would have gone back in time.
    pub out_of_order: u64,
    /// Staleness windows: for each source version, from its write at the source to its (or a
    /// newer version's) becoming visible here.
    pub staleness: super::staleness::Summary,
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
    /// As a read model (`projection_of`), how far it lags its source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub projection: Option<ProjectionMetrics>,
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
            Op::Access(a) if !a.arrived => self.arrive(k, a),
            Op::Access(a) => match a.op {
                AccessOp::Read => self.serve(k, a),
                AccessOp::Write { .. } => self.commit(k, a),
            },
            Op::Relay { store } => self.relay(k, store),
        }
    }

    /// A read or write reached its store: it takes the store's `read_latency` or
    /// `write_latency`.
    fn arrive(&mut self, k: &mut Kernel, mut a: Access) {
        if k.topo.node(a.store).removed {
            // Removed by a live edit while it was on its way: it fails.
            answer(k, &a, false);
            return;
        }
        self.store_mut(a.store).in_flight += 1;
        let NodeKind::Data(DataKind::Store(cfg)) = &k.topo.node(a.store).kind else {
            unreachable!("reads and writes go to stores")
        };
        let latency = match a.op {
            AccessOp::Read => &cfg.read_latency,
            AccessOp::Write { .. } => &cfg.write_latency,
        };
        let at = k.now + latency.sample(&mut k.rng);
        a.arrived = true;
        k.schedule(at, ModelDue::Data(Due::Op(Box::new(Op::Access(a)))));
    }

    /// The source of truth of `store`: the store its config says it projects, if that is a
    /// live store, else itself.
    fn source_of(k: &Kernel, store: NodeId) -> Option<NodeId> {
        let NodeKind::Data(DataKind::Store(cfg)) = &k.topo.node(store).kind else {
            unreachable!("a store")
        };
        let source = k.topo.node_id(cfg.projection_of.as_deref()?)?;
        let live_store = !k.topo.node(source).removed
            && matches!(k.topo.node(source).kind, NodeKind::Data(DataKind::Store(_)));
        (live_store && source != store).then_some(source)
    }

    /// A read is served: it returns the key's version (for a read model, the source version
    /// it shows), measured against what writers have been told; its answer goes back.
    fn serve(&mut self, k: &mut Kernel, a: Access) {
        let now = k.now;
        let removed = k.topo.node(a.store).removed;
        self.store_mut(a.store).in_flight -= 1;
        if removed {
            answer(k, &a, false);
            return;
        }
        let source = Self::source_of(k, a.store);
        let s = self.store_mut(a.store);
        let version = match source {
            Some(src) => s
                .projection(src)
                .and_then(|p| p.visible.get(&a.key).copied())
                .unwrap_or(0),
            None => s.values.get(&a.key).map_or(0, |v| v.version),
        };
        let truth = self.store_mut(source.unwrap_or(a.store));
        let acked = truth.log.get_mut(&a.key).map_or(0, |l| l.acked(now));
        let told = truth
            .told
            .get(&(a.chain, a.key.clone()))
            .map_or(0, |t| t.at(now));
        let stale = version < acked;
        let ryw = version < told;
        let s = self.store_mut(a.store);
        s.stats.reads += 1;
        s.stats.stale_reads += u64::from(stale);
        s.stats.ryw_violations += u64::from(ryw);
        Self::emit(
            k,
            DataEvent::Read(Box::new(super::event::ReadResult {
                store: a.store,
                key: a.key.clone(),
                version,
                acked,
                told,
                message: a.message,
            })),
        );
        answer(k, &a, true);
    }

    /// A write is applied, or skipped for its idempotency key; its answer goes back.
    fn commit(&mut self, k: &mut Kernel, mut w: Access) {
        let now = k.now;
        let removed = k.topo.node(w.store).removed;
        let s = self.store_mut(w.store);
        s.in_flight -= 1;
        if removed {
            // Removed by a live edit while it applied the write: it never commits.
            answer(k, &w, false);
            return;
        }
        let AccessOp::Write {
            idempotency_key,
            outbox,
        } = &mut w.op
        else {
            unreachable!("a write")
        };
        if let Some(idem) = idempotency_key {
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
        let outbox = outbox.take();
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
        if let Some(row) = outbox {
            // In the write's transaction: the row exists exactly when the write does.
            self.outbox_add(k, w.store, row);
        }
        let answer_at = answer(k, &w, true);
        self.remember(w.store, &w, version, now, answer_at);
        if let Some(source) = Self::source_of(k, w.store) {
            self.project(k, w.store, source, &w);
        }
    }

    /// What reads of `store` are measured against: when `version` of the write `w`'s key was
    /// applied, and when its answer reaches its writer (`answer_at`).
    fn remember(
        &mut self,
        store: NodeId,
        w: &Access,
        version: u64,
        now: SimTime,
        answer_at: SimTime,
    ) {
        let s = self.store_mut(store);
        let log = s.log.entry(w.key.clone()).or_default();
        log.applied.push(now);
        log.acked(now); // folds the answers that have arrived: `acks` holds only those on the wire
        log.acks.push((version, answer_at));
        let told = s.told.entry((w.chain, w.key.clone())).or_default();
        *told = Told {
            told: told.at(now),
            written: version,
            answer_at,
        };
    }

    /// The write `w`, just applied to the read model `store`, makes visible the version of
    /// its key that its message's chain wrote in `source`: each source version up to it not
    /// visible before gets its staleness window.
    fn project(&mut self, k: &mut Kernel, store: NodeId, source: NodeId, w: &Access) {
        let now = k.now;
        let chain_key = (w.chain, w.key.clone());
        let reflected = self
            .store_mut(source)
            .told
            .get(&chain_key)
            .map(|t| t.written);
        let slot = &mut self.store_mut(store).projection;
        if slot.as_ref().is_some_and(|p| p.source != Some(source)) {
            *slot = None;
        }
        let p = slot.get_or_insert_with(|| {
            Box::new(Projection {
                source: Some(source),
                ..Projection::default()
            })
        });
        let Some(version) = reflected else {
            p.unmatched += 1;
            return;
        };
        let visible = p.visible.get(&w.key).copied().unwrap_or(0);
        if version <= visible {
            // It shows this version, or a newer one, already.
            if version < visible {
                p.out_of_order += 1;
            }
            return;
        }
        // The versions it now shows, each with its window (a superseded one ends with it).
        let applied = &self.store_mut(source).log[&w.key].applied;
        let windows: Vec<u64> = applied[visible as usize..version as usize]
            .iter()
            .map(|t| now.0 - t.0)
            .collect();
        let window_us = *windows.last().expect("one or more");
        let p = self
            .store_mut(store)
            .projection
            .as_deref_mut()
            .expect("made");
        for w in windows {
            p.staleness.record(w);
        }
        p.made_visible += version - visible;
        p.visible.insert(w.key.clone(), version);
        Self::emit(
            k,
            DataEvent::Visible {
                store,
                key: w.key.clone(),
                version,
                window_us,
            },
        );
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
    pub fn metrics(&self, k: &Kernel, node: NodeId) -> Option<DataMetrics> {
        let s = self.store(node)?;
        let source = Self::source_of(k, node);
        let projection = source.map(|source| {
            // Versions its source applied that no write here has reflected.
            let source_writes = self.store(source).map_or(0, |src| src.stats.writes);
            let p = s.projection(source);
            ProjectionMetrics {
                behind: source_writes.saturating_sub(p.map_or(0, |p| p.made_visible)),
                unmatched: p.map_or(0, |p| p.unmatched),
                out_of_order: p.map_or(0, |p| p.out_of_order),
                staleness: p.map(|p| p.staleness.summary()).unwrap_or_default(),
            }
        });
        Some(DataMetrics::Store(StoreMetrics {
            keys: s.values.len() as u64,
            in_flight: s.in_flight,
            outbox_pending: s.outbox.len() as u64,
            projection,
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
            let source = Self::source_of(k, NodeId(i as u32))
                .and_then(|src| Some((s.projection(src)?, self.store(src)?)));
            if let Some((p, src)) = source {
                for (key, &shown) in &p.visible {
                    let there = src.values.get(key).map_or(0, |v| v.version);
                    if shown > there {
                        return Err(format!(
                            "read model {name:?}: key {key:?} shows version {shown} of its \
                             source, which has applied only {there}"
                        ));
                    }
                }
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

/// A handler step sends `a` over its edge; it reaches the store after the edge's latency. A
/// function of the kernel alone, so that any model's handler can send one (like
/// `Kernel::send_on`); the store's state first changes when it arrives.
pub(crate) fn send(k: &mut Kernel, a: Access) {
    let depart = k.now;
    let arrive = depart + k.topo.edge(a.edge).latency.sample(&mut k.rng);
    let (message, edge, key) = (a.message, a.edge, a.key.clone());
    DataModel::emit(
        k,
        match a.op {
            AccessOp::Read => DataEvent::ReadSent {
                message,
                edge,
                key,
                depart,
                arrive,
            },
            AccessOp::Write { .. } => DataEvent::WriteSent {
                message,
                edge,
                key,
                depart,
                arrive,
            },
        },
    );
    k.schedule(arrive, ModelDue::Data(Due::Op(Box::new(Op::Access(a)))));
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

/// The answer to `a` crosses the edge back to its handler; returns when it arrives.
fn answer(k: &mut Kernel, a: &Access, ok: bool) -> SimTime {
    let at = k.now + k.topo.edge(a.edge).latency.sample(&mut k.rng);
    let answer = crate::model::StepAnswer::ok_or(ok, crate::model::StepAnswer::Gone);
    k.schedule(at, a.origin.answer(answer));
    at
}
