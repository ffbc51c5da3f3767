//! Distributed traces: one per correlation id, as spans built from the run's events.
//!
//! Every message of a causal chain shares its first message's correlation id, and that id is
//! the chain's trace (its W3C trace id is derived from it: [`trace_id`]). A message's life is a
//! span of its own ([`Segment::Message`], [`Segment::Request`], [`Segment::Call`],
//! [`Segment::Job`], [`Segment::Record`]) whose children are the stretches of that life: on
//! an edge, ready in a queue, in a partition's log until a group fetched it, waiting for a
//! worker, delayed for a backoff, processed by a consumer, an attempt at a worker, handled by
//! a service. What a handler does while it processes (a store write, a publish, an added job,
//! a produced record, a call) is a child of that processing, so a publish from a handler
//! continues the input's trace, as a `traceparent` header carries it in real systems: the
//! receiver's spans are children of the sender's span ([`traceparent`]).
//!
//! A [`TraceBook`] is fed every event ([`crate::Sim::keep_traces`] makes the simulation feed
//! its own). It keeps what a waterfall needs, bounded: at most [`TraceLimits::traces`] traces
//! (the oldest chain's is let go first, its messages forgotten with it) and at most
//! [`TraceLimits::spans_per_trace`] spans in each (the spans past it are not kept, and counted
//! in [`Trace::cut`]). Traces export as OTLP/JSON ([`otlp`]).

mod critical;
pub mod otlp;
mod span;

pub use span::{hex, span_id, trace_id, traceparent, Segment, Span, SpanKind};

use crate::amqp::{AmqpEvent, SettleMethod};
use crate::bullmq::BullmqEvent;
use crate::data::DataEvent;
use crate::event::{Event, EventKind};
use crate::http::{HttpEvent, Status};
use crate::id::{EdgeId, MessageId, NodeId};
use crate::kafka::KafkaEvent;
use crate::ledger::DropReason;
use crate::time::SimTime;
use crate::topology::Topology;
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::sync::Arc;

/// How much a [`TraceBook`] keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceLimits {
    /// Traces kept at once; past it, the oldest chain's is let go.
    pub traces: usize,
    /// Spans kept per trace; the spans past it are counted, not kept.
    pub spans_per_trace: usize,
}

impl Default for TraceLimits {
    /// 200 traces of up to 256 spans: a request through a dozen hops with its retries is a
    /// few dozen spans.
    fn default() -> Self {
        TraceLimits {
            traces: 200,
            spans_per_trace: 256,
        }
    }
}

/// One chain's trace: its spans, parents before children.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trace {
    /// The chain's correlation id (its first message).
    pub correlation: MessageId,
    /// The spans, in the order they began to be known; index 0 is the root.
    pub spans: Vec<Span>,
    /// Spans not kept because the trace reached [`TraceLimits::spans_per_trace`].
    pub cut: u32,
    /// The messages tracked in it, so that letting it go forgets them.
    members: Vec<MessageId>,
}

impl Trace {
    /// When each span ends, with spans still going on ending at `now`, and a message's own
    /// span ending with the last of its stretches.
    pub fn ends(&self, now: SimTime) -> Vec<SimTime> {
        // A message's own span lasts at least from its start to its end, if it has one.
        let mut ends: Vec<SimTime> = self
            .spans
            .iter()
            .map(|s| match s.end {
                Some(end) => end,
                // A request lasts until its client has its answer.
                None if s.what == Segment::Request => now,
                None if s.what.is_message() => s.start,
                None => now,
            })
            .collect();
        for (i, s) in self.spans.iter().enumerate().rev() {
            if let Some(p) = s.parent {
                let p = p as usize;
                if self.spans[p].what.is_message() && self.spans[p].message == s.message {
                    ends[p] = ends[p].max(ends[i]);
                }
            }
        }
        ends
    }

    /// The critical path: for each span, whether it is on the chain of stretches that decided
    /// when the trace's last span ended (see `critical`).
    pub fn critical_path(&self, now: SimTime) -> Vec<bool> {
        critical::path(self, &self.ends(now))
    }

    /// Each span's depth in the tree (the root is 0).
    pub fn depths(&self) -> Vec<u32> {
        let mut depths = vec![0u32; self.spans.len()];
        for (i, s) in self.spans.iter().enumerate() {
            if let Some(p) = s.parent {
                depths[i] = depths[p as usize] + 1;
            }
        }
        depths
    }

    /// Checks the trace's shape: one root, first; every parent before its children; no span
    /// ending before it begins; every stretch of a message's life under that message's own
    /// span, and not before it; span ids unique. Tests call it; an error says which span.
    pub fn check(&self, seed: u64) -> Result<(), String> {
        let mut ids = std::collections::BTreeSet::new();
        for (i, s) in self.spans.iter().enumerate() {
            let at = || format!("trace {}: span {i} ({})", self.correlation, s.what.label());
            match (i, s.parent) {
                (0, None) => {}
                (0, Some(_)) => return Err(format!("{}: the root has a parent", at())),
                (_, None) => return Err(format!("{}: a second root", at())),
                (_, Some(p)) if p as usize >= i => {
                    return Err(format!("{}: its parent {p} comes after it", at()))
                }
                (_, Some(p)) => {
                    let parent = &self.spans[p as usize];
                    if s.start < parent.start {
                        return Err(format!("{}: begins before its parent", at()));
                    }
                    if !s.what.is_message()
                        && (parent.message != s.message
                            || (parent.what.is_message() && parent.ordinal != 0))
                    {
                        return Err(format!("{}: not under its message's span", at()));
                    }
                    if s.what.is_message() && s.ordinal != 0 {
                        return Err(format!(
                            "{}: a message's span with ordinal {}",
                            at(),
                            s.ordinal
                        ));
                    }
                }
            }
            if s.end.is_some_and(|e| e < s.start) {
                return Err(format!("{}: ends before it begins", at()));
            }
            if !ids.insert(span_id(seed, s.message, s.ordinal)) {
                return Err(format!("{}: a span id used twice", at()));
            }
        }
        Ok(())
    }

    /// The messages of the chain kept in this trace.
    pub fn messages(&self) -> &[MessageId] {
        &self.members
    }
}

/// Where one tracked message's spans go.
#[derive(Clone, Copy, Debug)]
struct Track {
    /// Its chain.
    correlation: MessageId,
    /// Its own span's index.
    span: u32,
    /// The stretch going on now (a flight is closed when it is made), if any.
    open: Option<u32>,
    /// When its last stretch ended.
    last_end: SimTime,
    /// The next span ordinal.
    next: u32,
    /// Its record's place in a log, once appended.
    record: Option<(NodeId, u32, u64)>,
}

/// The traces of a run, kept as the events go by. See the module docs.
#[derive(Clone, Debug)]
pub struct TraceBook {
    seed: u64,
    limits: TraceLimits,
    /// By correlation id. Shared, so that a snapshot (time travel keeps many) copies only
    /// the traces that change after it.
    traces: BTreeMap<MessageId, Arc<Trace>>,
    /// By message: looked up several times per event, never iterated (hashing is fine here).
    tracks: FxHashMap<MessageId, Track>,
    /// The processing of a message at a node (a consumer, a worker, a service), by message
    /// and node: what a handler does there hangs under it.
    processing: BTreeMap<(MessageId, NodeId), u32>,
    /// A handler's read or write on its way, by message and store.
    pending: BTreeMap<(MessageId, NodeId), u32>,
    /// An HTTP call's parent (the request, or the handling that calls), by chain and edge:
    /// its backoffs and refusals hang there.
    calls: BTreeMap<(MessageId, EdgeId), u32>,
    /// Records in logs, by topic, partition and offset: their message and when appended.
    records: BTreeMap<(NodeId, u32, u64), (MessageId, SimTime)>,
    /// When a Kafka consumer fetched a record, until it has processed it.
    fetched: BTreeMap<(MessageId, NodeId), SimTime>,
    /// When each Kafka consumer finished its last record.
    kafka_done: BTreeMap<NodeId, SimTime>,
    now: SimTime,
    let_go: u64,
}

impl TraceBook {
    /// An empty book for a run with `seed` (trace and span ids are derived from it).
    pub fn new(seed: u64, limits: TraceLimits) -> TraceBook {
        TraceBook {
            seed,
            limits,
            traces: BTreeMap::new(),
            tracks: FxHashMap::default(),
            processing: BTreeMap::new(),
            pending: BTreeMap::new(),
            calls: BTreeMap::new(),
            records: BTreeMap::new(),
            fetched: BTreeMap::new(),
            kafka_done: BTreeMap::new(),
            now: SimTime::ZERO,
            let_go: 0,
        }
    }

    /// The run's seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The limits.
    pub fn limits(&self) -> TraceLimits {
        self.limits
    }

    /// The time of the last event seen.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// How many traces were let go to stay within [`TraceLimits::traces`].
    pub fn let_go(&self) -> u64 {
        self.let_go
    }

    /// What the book holds, in items: spans kept plus messages tracked (each a few dozen
    /// bytes). A snapshot shares the traces no event has changed since, so this bounds what
    /// keeping many snapshots can cost; the page counts it against its checkpoints' budget.
    pub fn held(&self) -> u64 {
        let spans: usize = self.traces.values().map(|t| t.spans.len()).sum();
        (spans + self.tracks.len()) as u64
    }

    /// The trace of the chain with this correlation id, if kept.
    pub fn trace(&self, correlation: MessageId) -> Option<&Trace> {
        self.traces.get(&correlation).map(|t| &**t)
    }

    /// The trace a message belongs to, if it is kept.
    pub fn trace_of(&self, message: MessageId) -> Option<&Trace> {
        let t = self.tracks.get(&message)?;
        self.trace(t.correlation)
    }

    /// The kept traces, by correlation id.
    pub fn traces(&self) -> impl DoubleEndedIterator<Item = &Trace> + '_ {
        self.traces.values().map(|t| &**t)
    }

    /// Takes one event into the traces. `topo` is the run's topology at that moment (edges'
    /// ends).
    pub fn observe(&mut self, e: &Event, topo: &Topology) {
        self.now = e.at;
        let now = e.at;
        match &e.kind {
            &EventKind::Published {
                node,
                message,
                correlation,
                cause,
            } => {
                let parent = match cause {
                    None => None,
                    Some(c) => match self.container(c, node) {
                        Some(p) => Some(p),
                        None => return,
                    },
                };
                self.begin(message, correlation, parent, Segment::Message, node, now);
            }
            &EventKind::Sent {
                message,
                from,
                to,
                depart,
                arrive,
                ..
            } => {
                self.close_open(message, now, false, None);
                self.processing.remove(&(message, from));
                self.flight(message, from, to, depart, arrive, None);
            }
            &EventKind::Received { message, node, .. } => {
                if let Some(t) = self.tracks.get(&message).copied() {
                    if t.open.is_none() && t.last_end < now {
                        self.closed(message, Segment::Buffered, node, None, t.last_end, now);
                    }
                    if let Some(i) = self.open(message, Segment::Process, node, None, now) {
                        self.processing.insert((message, node), i);
                    }
                }
            }
            &EventKind::Consumed { message, node } => {
                self.finish(message, node, now, false, None);
                self.close_open(message, now, false, None);
            }
            &EventKind::Dropped {
                message,
                node,
                reason,
            } => {
                if self.tracks.contains_key(&message) {
                    let at = &topo.node(node).name;
                    self.dropped(message, at, reason, now);
                }
            }
            EventKind::Crashed { .. }
            | EventKind::Restarted { .. }
            | EventKind::Removed { .. }
            | EventKind::Configured { .. } => {}
            EventKind::Amqp(a) => self.amqp(a, topo, now),
            EventKind::Http(h) => self.http(h, topo, now),
            EventKind::Kafka(k) => self.kafka(k, now),
            EventKind::Bullmq(b) => self.bullmq(b, now),
            EventKind::Data(d) => self.data(d, topo, now),
        }
    }

    fn amqp(&mut self, e: &AmqpEvent, topo: &Topology, now: SimTime) {
        match *e {
            AmqpEvent::Enqueued { message, queue, .. } => {
                self.open(message, Segment::Queued, queue, None, now);
            }
            AmqpEvent::Requeued { message, queue } => {
                self.open(message, Segment::Queued, queue, None, now);
                self.note(message, "requeued");
            }
            AmqpEvent::Delivered {
                message,
                edge,
                redelivered,
                arrive,
                ..
            } => {
                self.close_open(message, now, false, None);
                let e = topo.edge(edge);
                let detail = redelivered.then_some("redelivered");
                self.flight(message, e.from, e.to, now, arrive, detail);
            }
            AmqpEvent::Settled {
                message,
                consumer,
                method,
                requeue,
                ..
            } => {
                let detail = match (method, requeue) {
                    (SettleMethod::Ack, _) => None,
                    (SettleMethod::Nack, true) => Some("nack, requeue"),
                    (SettleMethod::Nack, false) => Some("nack"),
                    (SettleMethod::Reject, true) => Some("reject, requeue"),
                    (SettleMethod::Reject, false) => Some("reject"),
                };
                self.finish(message, consumer, now, detail.is_some(), detail);
            }
            AmqpEvent::Expired { message, .. } => {
                self.close_open(message, now, true, Some("expired"));
            }
            AmqpEvent::DeadLettered {
                message, reason, ..
            } => {
                self.close_open(message, now, true, None);
                let why = format!("dead-lettered ({})", reason.as_str());
                self.note(message, &why);
            }
            AmqpEvent::StepFailed {
                node,
                message,
                ref reason,
            } => self.failed_step(message, node, reason),
            AmqpEvent::Routed { .. }
            | AmqpEvent::Returned { .. }
            | AmqpEvent::Confirmed { .. }
            | AmqpEvent::QueueDeleted { .. }
            | AmqpEvent::ConsumerActivated { .. }
            | AmqpEvent::ChannelError { .. }
            | AmqpEvent::PolicyApplied { .. }
            | AmqpEvent::ConsumerPaused { .. }
            | AmqpEvent::ConsumerResumed { .. } => {}
        }
    }

    fn http(&mut self, e: &HttpEvent, topo: &Topology, now: SimTime) {
        match *e {
            HttpEvent::Request { client, request } => {
                self.begin(request, request, None, Segment::Request, client, now);
            }
            HttpEvent::Attempt {
                message,
                parent,
                edge,
                attempt,
            } => {
                let e = topo.edge(edge);
                let Some(t) = self.tracks.get(&parent).copied() else {
                    return;
                };
                let Some(container) = self.container(parent, e.from) else {
                    return;
                };
                self.calls.insert((t.correlation, edge), container);
                if self.begin(
                    message,
                    t.correlation,
                    Some(container),
                    Segment::Call,
                    e.from,
                    now,
                ) {
                    self.with_own(message, |s| {
                        s.peer = Some(e.to);
                        s.detail = Some(format!("attempt {attempt}").into());
                    });
                }
            }
            HttpEvent::Queued { message, node, .. } => {
                self.open(message, Segment::Queued, node, None, now);
            }
            HttpEvent::Started { message, node, .. } => {
                if let Some(i) = self.open(message, Segment::Server, node, None, now) {
                    self.processing.insert((message, node), i);
                }
            }
            HttpEvent::Responded {
                message,
                node,
                status,
            } => {
                let failed = status != Status::Ok;
                self.finish(message, node, now, failed, failed.then(|| status.as_str()));
            }
            HttpEvent::Answered {
                message, status, ..
            } => {
                self.close_open(message, now, false, None);
                if status != Status::Ok {
                    self.fail_message(message, status.as_str());
                }
            }
            HttpEvent::TimedOut { message, .. } => {
                let why = format!("timed out at {now}: its caller gave up");
                self.fail_message(message, &why);
            }
            HttpEvent::Late { message, .. } => self.note(message, "late: its caller had given up"),
            HttpEvent::Refused {
                edge,
                correlation,
                reason,
            } => {
                let e = topo.edge(edge);
                let span = (Segment::Refused, e.from, e.to, now, now);
                self.beside_call(correlation, edge, span, true, reason.as_str());
            }
            HttpEvent::Retrying {
                edge,
                correlation,
                attempt,
                delay,
            } => {
                let e = topo.edge(edge);
                let span = (Segment::Backoff, e.from, e.to, now, now + delay);
                let why = format!("before attempt {attempt}");
                self.beside_call(correlation, edge, span, false, &why);
            }
            HttpEvent::StepFailed {
                node,
                message,
                ref reason,
            } => self.failed_step(message, node, reason),
            HttpEvent::RequestEnded { request, ok, .. } => {
                // Failed, it is also dropped (`request_failed`, `deadline_exceeded`), which says
                // why.
                let _ = ok;
                self.with_own(request, |s| s.end = Some(now));
            }
            HttpEvent::BudgetExhausted { .. }
            | HttpEvent::Breaker { .. }
            | HttpEvent::Health { .. } => {}
        }
    }

    fn kafka(&mut self, e: &KafkaEvent, now: SimTime) {
        match e {
            KafkaEvent::Appended(a) => {
                let message = a.message;
                let Some(t) = self.tracks.get(&message).copied() else {
                    return;
                };
                if t.open.is_none() && t.next == 1 {
                    // Sent by a producer: batched and on the wire since `send`.
                    let start = self.start_of(message).unwrap_or(now);
                    self.closed(
                        message,
                        Segment::Transit,
                        a.producer,
                        Some(a.tp.0),
                        start,
                        now,
                    );
                } else {
                    self.close_open(message, now, false, None);
                }
                let key = (a.tp.0, a.tp.1, a.offset);
                self.records.insert(key, (message, now));
                if let Some(t) = self.tracks.get_mut(&message) {
                    t.record = Some(key);
                }
                self.with_own(message, |s| {
                    s.what = Segment::Record;
                    s.detail = Some(format!("partition {} offset {}", a.tp.1, a.offset).into());
                });
            }
            &KafkaEvent::Fetched {
                consumer,
                tp,
                from,
                span,
                ..
            } => {
                // Offsets `from` to `from + span`, inclusive.
                let range = (tp.0, tp.1, from)..=(tp.0, tp.1, from.saturating_add(u64::from(span)));
                let found: Vec<(MessageId, SimTime)> =
                    self.records.range(range).map(|(_, v)| *v).collect();
                for (message, appended) in found {
                    self.closed(message, Segment::InLog, tp.0, Some(consumer), appended, now);
                    self.fetched.insert((message, consumer), now);
                }
            }
            &KafkaEvent::Processed {
                consumer, message, ..
            } => {
                if self.container(message, consumer).is_some() {
                    self.finish(message, consumer, now, false, None);
                }
                self.fetched.remove(&(message, consumer));
                self.kafka_done.insert(consumer, now);
            }
            KafkaEvent::StepFailed(f) => self.failed_step(f.message, f.consumer, &f.reason),
            KafkaEvent::BatchSent { .. }
            | KafkaEvent::Deduplicated { .. }
            | KafkaEvent::Refused { .. }
            | KafkaEvent::Acked { .. }
            | KafkaEvent::AckLost { .. }
            | KafkaEvent::Retrying { .. }
            | KafkaEvent::ProduceFailed { .. }
            | KafkaEvent::Committed { .. }
            | KafkaEvent::CommitFailed { .. }
            | KafkaEvent::RebalanceStarted { .. }
            | KafkaEvent::RebalanceCompleted(_)
            | KafkaEvent::MemberRemoved { .. }
            | KafkaEvent::JoinFailed { .. }
            | KafkaEvent::Revoked { .. }
            | KafkaEvent::Assigned { .. }
            | KafkaEvent::OffsetReset { .. }
            | KafkaEvent::NoOffset { .. }
            | KafkaEvent::SegmentRolled { .. }
            | KafkaEvent::SegmentDeleted { .. }
            | KafkaEvent::Compacted { .. } => {}
        }
    }

    fn bullmq(&mut self, e: &BullmqEvent, now: SimTime) {
        match e {
            BullmqEvent::Added { job, .. } => {
                let m = job.message;
                self.open(m, Segment::Waiting, job.queue, None, now);
                self.with_own(m, |s| {
                    s.what = Segment::Job;
                    s.detail = Some(format!("{} #{}", job.name, job.id).into());
                });
            }
            BullmqEvent::Waiting { job, .. } => {
                let open = self.open_segment(job.message);
                if open != Some(Segment::Waiting) {
                    self.open(job.message, Segment::Waiting, job.queue, None, now);
                }
            }
            BullmqEvent::WaitingChildren { job, .. } => {
                self.open(job.message, Segment::Waiting, job.queue, None, now);
                self.note(job.message, "waiting for its children");
            }
            BullmqEvent::Delayed { job, .. } => {
                self.open(job.message, Segment::Delayed, job.queue, None, now);
            }
            &BullmqEvent::Active {
                ref job,
                worker,
                attempt,
                ..
            } => {
                let m = job.message;
                if let Some(i) = self.open(m, Segment::Attempt, worker, None, now) {
                    self.processing.insert((m, worker), i);
                    self.note(m, &format!("attempt {attempt}"));
                }
            }
            &BullmqEvent::Completed {
                ref job, worker, ..
            } => self.finish(job.message, worker, now, false, None),
            &BullmqEvent::WorkerFailed {
                ref job, worker, ..
            } => self.finish(job.message, worker, now, true, None),
            BullmqEvent::Failed { job, .. } => self.fail_message(job.message, "failed"),
            BullmqEvent::Stalled { job, .. } => {
                self.close_open(job.message, now, true, Some("stalled"));
                let m = job.message;
                self.processing.retain(|&(pm, _), _| pm != m);
            }
            BullmqEvent::Duplicated { message, .. } => {
                self.fail_message(*message, "duplicated: the queue has a job with its id");
            }
            BullmqEvent::Removed { job } => {
                self.close_open(job.message, now, true, Some("removed"))
            }
            BullmqEvent::StepFailed(f) => self.failed_step(f.job.message, f.worker, &f.reason),
            BullmqEvent::RetriesExhausted { .. }
            | BullmqEvent::Drained { .. }
            | BullmqEvent::Deduplicated(_)
            | BullmqEvent::Paused { .. }
            | BullmqEvent::Resumed { .. }
            | BullmqEvent::RateLimited { .. }
            | BullmqEvent::PendingDependencies { .. }
            | BullmqEvent::LockMissing { .. } => {}
        }
    }

    fn data(&mut self, e: &DataEvent, topo: &Topology, now: SimTime) {
        match e {
            DataEvent::WriteSent {
                message,
                edge,
                key,
                depart,
                ..
            }
            | DataEvent::ReadSent {
                message,
                edge,
                key,
                depart,
                ..
            } => {
                let what = if matches!(e, DataEvent::WriteSent { .. }) {
                    Segment::Write
                } else {
                    Segment::Read
                };
                let ed = topo.edge(*edge);
                let Some(t) = self.tracks.get(message).copied() else {
                    return;
                };
                let Some(parent) = self.container(*message, ed.from) else {
                    return;
                };
                let i = self.push_under(
                    t.correlation,
                    parent,
                    what,
                    ed.from,
                    Some(ed.to),
                    *depart,
                    None,
                );
                if let Some(i) = i {
                    self.with_index(t.correlation, i, |s| {
                        s.detail = Some(format!("key {key}").into());
                    });
                    self.pending.insert((*message, ed.to), i);
                }
            }
            DataEvent::Written {
                store,
                key,
                version,
                message,
                duplicate,
                ..
            } => {
                let dup = if *duplicate { ", a duplicate" } else { "" };
                let detail = format!("key {key}: version {version}{dup}");
                self.settle_pending(*message, *store, now, &detail);
            }
            DataEvent::Deduplicated {
                store,
                key,
                idempotency_key,
                message,
            } => {
                let detail = format!("key {key}: skipped, idempotency key {idempotency_key} seen");
                self.settle_pending(*message, *store, now, &detail);
            }
            DataEvent::Read(r) => {
                let mut detail = format!("key {}: version {}", r.key, r.version);
                if r.stale() {
                    detail.push_str(&format!(", stale (version {} acknowledged)", r.acked));
                }
                if r.ryw_violation() {
                    detail.push_str(&format!(", older than its own write (version {})", r.told));
                }
                self.settle_pending(r.message, r.store, now, &detail);
            }
            DataEvent::Visible { .. } => {}
        }
    }

    // ----- building blocks -----

    /// A message's own span begins; a root (no parent) begins a trace. False if it is not
    /// tracked (its trace is not kept, or is full).
    fn begin(
        &mut self,
        message: MessageId,
        correlation: MessageId,
        parent: Option<u32>,
        what: Segment,
        node: NodeId,
        now: SimTime,
    ) -> bool {
        if parent.is_none() && !self.traces.contains_key(&correlation) {
            self.make_room();
            self.traces.insert(
                correlation,
                Arc::new(Trace {
                    correlation,
                    spans: Vec::new(),
                    cut: 0,
                    members: Vec::new(),
                }),
            );
        }
        let span = Span {
            message,
            ordinal: 0,
            parent,
            what,
            node: Some(node),
            peer: None,
            start: now,
            end: None,
            error: false,
            detail: None,
        };
        let Some(index) = self.push(correlation, span) else {
            return false;
        };
        if let Some(t) = self.traces.get_mut(&correlation) {
            Arc::make_mut(t).members.push(message);
        }
        self.tracks.insert(
            message,
            Track {
                correlation,
                span: index,
                open: None,
                last_end: now,
                next: 1,
                record: None,
            },
        );
        true
    }

    /// Lets the oldest chain's trace go (correlation ids grow with time), if the book is full.
    fn make_room(&mut self) {
        if self.traces.len() < self.limits.traces.max(1) {
            return;
        }
        let Some((oldest, t)) = self.traces.pop_first() else {
            return;
        };
        self.let_go += 1;
        for m in &t.members {
            if let Some(track) = self.tracks.remove(m) {
                if let Some(r) = track.record {
                    self.records.remove(&r);
                }
            }
            let range = (*m, NodeId(0))..=(*m, NodeId(u32::MAX));
            let keys: Vec<_> = self
                .processing
                .range(range.clone())
                .map(|(k, _)| *k)
                .collect();
            for k in keys {
                self.processing.remove(&k);
            }
            let keys: Vec<_> = self.pending.range(range.clone()).map(|(k, _)| *k).collect();
            for k in keys {
                self.pending.remove(&k);
            }
            let keys: Vec<_> = self.fetched.range(range).map(|(k, _)| *k).collect();
            for k in keys {
                self.fetched.remove(&k);
            }
        }
        let range = (oldest, EdgeId(0))..=(oldest, EdgeId(u32::MAX));
        let keys: Vec<_> = self.calls.range(range).map(|(k, _)| *k).collect();
        for k in keys {
            self.calls.remove(&k);
        }
    }

    /// Adds a span to a trace; its index, or `None` if the trace is not kept or full.
    fn push(&mut self, correlation: MessageId, span: Span) -> Option<u32> {
        let limit = self.limits.spans_per_trace.max(1);
        let t = Arc::make_mut(self.traces.get_mut(&correlation)?);
        if t.spans.len() >= limit {
            t.cut = t.cut.saturating_add(1);
            return None;
        }
        t.spans.push(span);
        Some(u32::try_from(t.spans.len() - 1).expect("a few spans per trace"))
    }

    /// Adds a span of a tracked message under `parent` (any span of the trace).
    #[allow(clippy::too_many_arguments)]
    fn push_under(
        &mut self,
        correlation: MessageId,
        parent: u32,
        what: Segment,
        node: NodeId,
        peer: Option<NodeId>,
        start: SimTime,
        end: Option<SimTime>,
    ) -> Option<u32> {
        let message = self.trace(correlation)?.spans.get(parent as usize)?.message;
        let track = self.tracks.get_mut(&message)?;
        let ordinal = track.next;
        track.next += 1;
        self.push(
            correlation,
            Span {
                message,
                ordinal,
                parent: Some(parent),
                what,
                node: Some(node),
                peer,
                start,
                end,
                error: false,
                detail: None,
            },
        )
    }

    /// A span beside a chain's calls over `edge` (a backoff, a refusal), under what made them.
    fn beside_call(
        &mut self,
        correlation: MessageId,
        edge: EdgeId,
        (what, from, to, start, end): (Segment, NodeId, NodeId, SimTime, SimTime),
        error: bool,
        why: &str,
    ) {
        let Some(&parent) = self.calls.get(&(correlation, edge)) else {
            return;
        };
        let i = self.push_under(correlation, parent, what, from, Some(to), start, Some(end));
        if let Some(i) = i {
            self.with_index(correlation, i, |s| {
                s.error = error;
                add_detail(s, why);
            });
        }
    }

    /// A stretch of a tracked message's life begins now at `node`, ending the one going on.
    fn open(
        &mut self,
        message: MessageId,
        what: Segment,
        node: NodeId,
        peer: Option<NodeId>,
        now: SimTime,
    ) -> Option<u32> {
        self.close_open(message, now, false, None);
        let t = *self.tracks.get(&message)?;
        let i = self.push_under(t.correlation, t.span, what, node, peer, now, None)?;
        if let Some(t) = self.tracks.get_mut(&message) {
            t.open = Some(i);
        }
        Some(i)
    }

    /// A stretch of a tracked message's life that is over already (a flight, a log wait).
    fn closed(
        &mut self,
        message: MessageId,
        what: Segment,
        node: NodeId,
        peer: Option<NodeId>,
        start: SimTime,
        end: SimTime,
    ) -> Option<u32> {
        let t = *self.tracks.get(&message)?;
        let i = self.push_under(t.correlation, t.span, what, node, peer, start, Some(end))?;
        if let Some(t) = self.tracks.get_mut(&message) {
            t.last_end = t.last_end.max(end);
        }
        Some(i)
    }

    fn flight(
        &mut self,
        message: MessageId,
        from: NodeId,
        to: NodeId,
        depart: SimTime,
        arrive: SimTime,
        detail: Option<&str>,
    ) {
        if let Some(i) = self.closed(message, Segment::Transit, from, Some(to), depart, arrive) {
            if let Some(d) = detail {
                let c = self.tracks[&message].correlation;
                self.with_index(c, i, |s| s.detail = Some(d.into()));
            }
        }
    }

    /// Ends the stretch going on, if any.
    fn close_open(&mut self, message: MessageId, now: SimTime, error: bool, why: Option<&str>) {
        let Some(t) = self.tracks.get_mut(&message) else {
            return;
        };
        let Some(i) = t.open.take() else {
            return;
        };
        t.last_end = t.last_end.max(now);
        let c = t.correlation;
        self.with_index(c, i, |s| {
            if s.end.is_none() {
                s.end = Some(now);
            }
            s.error |= error;
            if let Some(w) = why {
                add_detail(s, w);
            }
        });
    }

    /// Ends the processing of `message` at `node` (and the stretch going on, if it is that).
    fn finish(
        &mut self,
        message: MessageId,
        node: NodeId,
        now: SimTime,
        error: bool,
        why: Option<&str>,
    ) {
        let Some(i) = self.processing.remove(&(message, node)) else {
            return;
        };
        let Some(t) = self.tracks.get_mut(&message) else {
            return;
        };
        if t.open == Some(i) {
            t.open = None;
        }
        t.last_end = t.last_end.max(now);
        let c = t.correlation;
        self.with_index(c, i, |s| {
            s.end = Some(now);
            s.error |= error;
            if let Some(w) = why {
                add_detail(s, w);
            }
        });
    }

    /// The span under which what `node` does for `message` goes: its processing there, or
    /// (a Kafka record fetched, not yet processed) a processing begun when the consumer took
    /// it up, or the message's own span.
    fn container(&mut self, message: MessageId, node: NodeId) -> Option<u32> {
        let t = *self.tracks.get(&message)?;
        if let Some(&i) = self.processing.get(&(message, node)) {
            return Some(i);
        }
        if let Some(&fetched) = self.fetched.get(&(message, node)) {
            let start = fetched.max(self.kafka_done.get(&node).copied().unwrap_or(fetched));
            if start > fetched {
                // Fetched in a batch: it waited for the records before it.
                self.closed(message, Segment::Buffered, node, None, fetched, start);
            }
            let i = self.push_under(
                t.correlation,
                t.span,
                Segment::Process,
                node,
                None,
                start,
                None,
            );
            if let Some(i) = i {
                self.processing.insert((message, node), i);
                return Some(i);
            }
        }
        Some(t.span)
    }

    fn dropped(&mut self, message: MessageId, at: &str, reason: DropReason, now: SimTime) {
        let benign = match reason {
            DropReason::RetentionEnded
            | DropReason::Compacted
            | DropReason::Deduplicated
            | DropReason::TopicDeleted => true,
            DropReason::NodeDown
            | DropReason::LostInCrash
            | DropReason::NoRoute
            | DropReason::Unroutable
            | DropReason::Returned
            | DropReason::ExchangeNotFound
            | DropReason::RejectPublish
            | DropReason::Maxlen
            | DropReason::Expired
            | DropReason::Rejected
            | DropReason::DeliveryLimit
            | DropReason::DeadLetterCycle
            | DropReason::DeadLetterUnroutable
            | DropReason::QueueDeleted
            | DropReason::Late
            | DropReason::RequestFailed
            | DropReason::DeadlineExceeded
            | DropReason::InvalidRecord
            | DropReason::JobFailed
            | DropReason::DuplicateJob
            | DropReason::JobRemoved => false,
        };
        if benign {
            self.close_open(message, now, false, None);
            return;
        }
        let why = format!("dropped: {}", reason.as_str());
        let keys: Vec<_> = self
            .processing
            .range((message, NodeId(0))..=(message, NodeId(u32::MAX)))
            .map(|(k, _)| k.1)
            .collect();
        for n in keys {
            self.finish(message, n, now, true, Some(&why));
        }
        self.close_open(message, now, true, Some(&why));
        self.fail_message(message, &format!("{} at {at}", reason.as_str()));
    }

    /// Marks a message's own span failed, saying why.
    fn fail_message(&mut self, message: MessageId, why: &str) {
        self.with_own(message, |s| {
            s.error = true;
            add_detail(s, why);
        });
    }

    /// A handler's step threw while `node` processed `message`.
    fn failed_step(&mut self, message: MessageId, node: NodeId, reason: &str) {
        if let Some(&i) = self.processing.get(&(message, node)) {
            if let Some(c) = self.tracks.get(&message).map(|t| t.correlation) {
                self.with_index(c, i, |s| {
                    s.error = true;
                    add_detail(s, reason);
                });
            }
        }
    }

    /// Adds a word to the detail of the stretch going on (or just begun).
    fn note(&mut self, message: MessageId, what: &str) {
        let Some(t) = self.tracks.get(&message).copied() else {
            return;
        };
        let Some(i) = t.open else { return };
        self.with_index(t.correlation, i, |s| add_detail(s, what));
    }

    fn settle_pending(&mut self, message: MessageId, store: NodeId, now: SimTime, detail: &str) {
        let Some(i) = self.pending.remove(&(message, store)) else {
            return;
        };
        if let Some(c) = self.tracks.get(&message).map(|t| t.correlation) {
            self.with_index(c, i, |s| {
                s.end = Some(now);
                s.detail = Some(detail.into());
            });
        }
    }

    fn open_segment(&self, message: MessageId) -> Option<Segment> {
        let t = self.tracks.get(&message)?;
        let i = t.open?;
        Some(self.trace(t.correlation)?.spans.get(i as usize)?.what)
    }

    fn start_of(&self, message: MessageId) -> Option<SimTime> {
        let t = self.tracks.get(&message)?;
        Some(self.trace(t.correlation)?.spans.get(t.span as usize)?.start)
    }

    /// Changes a tracked message's own span.
    fn with_own(&mut self, message: MessageId, f: impl FnOnce(&mut Span)) {
        if let Some(t) = self.tracks.get(&message).copied() {
            self.with_index(t.correlation, t.span, f);
        }
    }

    fn with_index(&mut self, correlation: MessageId, index: u32, f: impl FnOnce(&mut Span)) {
        if let Some(t) = self.traces.get_mut(&correlation) {
            if let Some(s) = Arc::make_mut(t).spans.get_mut(index as usize) {
                f(s);
            }
        }
    }
}

/// Adds `what` to a span's detail (after what it says already).
fn add_detail(s: &mut Span, what: &str) {
    s.detail = Some(match s.detail.take() {
        Some(d) if !d.is_empty() => format!("{d}; {what}").into(),
        Some(_) | None => what.into(),
    });
}
