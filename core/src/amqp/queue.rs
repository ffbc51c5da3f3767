//! A queue's message store: ready messages in delivery order, with the per-message state a
//! requeue needs, and the counters that length limits read (`docs/amqp.md`, "Queues").
//!
//! Classic queues keep ready messages ordered by `(priority level, enqueue sequence)`: the head
//! is the oldest message of the highest non-empty level (strict priority), and a requeued message
//! goes back under its original sequence number, that is, to its original position. Quorum
//! queues add a returns queue, served first in return order whatever the priority.

use super::config::{QueueConfig, QueueType};
use crate::id::{EdgeId, NodeId};
use crate::message::Envelope;
use crate::time::SimTime;
use std::cmp::Reverse;
use std::collections::{BTreeMap, VecDeque};

/// A message's state within one queue; it travels with the message while it is unacked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Meta {
    /// Enqueue order: the message's position.
    pub seq: u64,
    /// When it expires here (`enqueue time + min(queue TTL, message TTL)`).
    pub expiry: Option<SimTime>,
    /// Its priority level in this queue.
    pub level: u8,
    /// Delivered at least once (classic `redelivered`).
    pub delivered: bool,
    /// Quorum: times returned to the queue (`x-acquired-count`).
    pub acquired: u32,
    /// Quorum: failed deliveries (`x-delivery-count`, v4.3 rules).
    pub failed: u32,
}

/// A ready message and its state.
#[derive(Clone, Debug)]
pub struct Stored {
    /// The message.
    pub msg: Box<Envelope>,
    /// Its state here.
    pub meta: Meta,
}

/// One `basic.consume` on this queue.
#[derive(Clone, Debug)]
pub struct QConsumer {
    /// The consumer node (its channel).
    pub node: NodeId,
    /// The queue → consumer edge.
    pub edge: EdgeId,
    /// `x-priority`.
    pub priority: i32,
    /// Per-consumer prefetch; 0: unlimited.
    pub prefetch: u16,
    /// `no_ack`.
    pub auto_ack: bool,
    /// Unacked deliveries of this consumer.
    pub unacked: u32,
    /// Unacked deliveries held beyond a prefetch lowered by a live `configure` (nothing is
    /// taken back): the conservation check allows them. Shrinks as they are settled.
    pub over_prefetch: u32,
    /// Place in its priority level's round-robin order (smaller is nearer the head).
    pub pos: u64,
    /// Set while blocked (could not take a delivery): the order it was blocked in.
    pub blocked: Option<u64>,
}

/// A queue's live state.
#[derive(Clone, Debug)]
pub struct QueueState {
    /// Its configuration.
    pub config: QueueConfig,
    /// Deleted: it routes and holds nothing more.
    pub deleted: bool,
    /// Since when it has had no consumer (for `x-expires`).
    pub idle_since: SimTime,
    main: BTreeMap<(Reverse<u8>, u64), Stored>,
    returns: VecDeque<Stored>,
    bytes: u64,
    next_seq: u64,
    with_expiry: usize,
    /// Registered consumers.
    pub consumers: Vec<QConsumer>,
    /// Round-robin and blocking order counter.
    pub next_pos: u64,
    /// Single active consumer: the active one.
    pub active: Option<NodeId>,
    /// Has ever had a consumer (for `auto_delete`).
    pub had_consumer: bool,
    /// The TTL timer armed for this time, if any.
    pub ttl_timer: Option<SimTime>,
    /// Incremented whenever the `x-expires` timer is re-armed or disarmed.
    pub expires_epoch: u32,
    /// Unacked deliveries from this queue, over all consumers, cancelled ones included.
    pub unacked: u64,
    /// Quorum `reject-publish`: publishers are blocked until the queue is back under 80%.
    pub publishers_blocked: bool,
    /// Messages that reached this queue by being dead-lettered (they carry `x-death`), so
    /// far: what arrived in it as a dead-letter queue.
    pub dead_lettered_in: u64,
}

impl QueueState {
    /// An empty queue.
    pub fn new(config: QueueConfig) -> QueueState {
        QueueState {
            config,
            deleted: false,
            idle_since: SimTime::ZERO,
            main: BTreeMap::new(),
            returns: VecDeque::new(),
            bytes: 0,
            next_seq: 0,
            with_expiry: 0,
            consumers: Vec::new(),
            next_pos: 0,
            active: None,
            had_consumer: false,
            dead_lettered_in: 0,
            ttl_timer: None,
            expires_epoch: 0,
            unacked: 0,
            publishers_blocked: false,
        }
    }

    /// A new enqueue sequence number: the back of the queue.
    pub fn take_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// True for quorum queues.
    pub fn is_quorum(&self) -> bool {
        self.config.arguments.queue_type == QueueType::Quorum
    }

    /// Quorum single active consumer: the consumer waiting to take over once the active one
    /// has no unacked messages: the highest-priority (then earliest registered) consumer whose
    /// priority is above the active one's.
    pub fn sac_successor(&self) -> Option<NodeId> {
        if !self.is_quorum() || !self.config.arguments.single_active_consumer {
            return None;
        }
        let active = self.active?;
        let floor = self.consumers.iter().find(|c| c.node == active)?.priority;
        self.consumers
            .iter()
            .filter(|c| c.priority > floor)
            .max_by(|a, b| a.priority.cmp(&b.priority).then(b.pos.cmp(&a.pos)))
            .map(|c| c.node)
    }

    /// Ready messages.
    pub fn len(&self) -> usize {
        self.main.len() + self.returns.len()
    }

    /// True if no message is ready.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sum of ready bodies in bytes.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The priority level a message with `priority` gets here.
    pub fn level_of(&self, priority: Option<u8>) -> u8 {
        if self.is_quorum() {
            // 4.3: 32 strict levels; no priority counts as 4.
            priority.unwrap_or(4).min(31)
        } else {
            match self.config.arguments.max_priority {
                Some(max) if max > 0 => priority.unwrap_or(0).min(max.min(255) as u8),
                _ => 0,
            }
        }
    }

    /// The effective TTL of a message with per-message `ttl_ms`: the smaller of the two.
    pub fn ttl_ms(&self, message_ttl: Option<u64>) -> Option<u64> {
        match (self.config.arguments.message_ttl, message_ttl) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Meta for a message arriving now.
    pub fn fresh_meta(&mut self, msg: &Envelope, now: SimTime) -> Meta {
        let seq = self.next_seq;
        self.next_seq += 1;
        Meta {
            seq,
            expiry: self
                .ttl_ms(msg.expiration_ms)
                .map(|ms| SimTime(now.0.saturating_add(ms.saturating_mul(1000)))),
            level: self.level_of(msg.priority),
            delivered: false,
            acquired: 0,
            failed: 0,
        }
    }

    fn account_in(&mut self, s: &Stored) {
        self.bytes += u64::from(s.msg.body_bytes);
        self.with_expiry += usize::from(s.meta.expiry.is_some());
    }

    fn account_out(&mut self, s: &Stored) {
        self.bytes -= u64::from(s.msg.body_bytes);
        self.with_expiry -= usize::from(s.meta.expiry.is_some());
    }

    /// Puts a message in the main queue at the position its sequence number gives it: the tail
    /// for a fresh message, its original place for a classic requeue.
    pub fn insert(&mut self, s: Stored) {
        self.account_in(&s);
        self.main.insert((Reverse(s.meta.level), s.meta.seq), s);
    }

    /// Quorum: appends a returned message to the returns queue.
    pub fn push_return(&mut self, s: Stored) {
        self.account_in(&s);
        self.returns.push_back(s);
    }

    /// Takes the next message to deliver: the returns queue first, then the main queue's head.
    pub fn pop_head(&mut self) -> Option<Stored> {
        let s = match self.returns.pop_front() {
            Some(s) => s,
            None => self.main.pop_first()?.1,
        };
        self.account_out(&s);
        Some(s)
    }

    /// True if the next publish of `bytes` would go over a limit (`will_overflow/2`).
    pub fn would_overflow(&self, bytes: u32) -> bool {
        let a = &self.config.arguments;
        a.max_length.is_some_and(|m| self.len() as u64 + 1 > m)
            || a.max_length_bytes
                .is_some_and(|m| self.bytes + u64::from(bytes) > m)
    }

    /// True while the queue is over a limit (`over_max_length/1`).
    pub fn over_limit(&self) -> bool {
        let a = &self.config.arguments;
        a.max_length.is_some_and(|m| self.len() as u64 > m)
            || a.max_length_bytes.is_some_and(|m| self.bytes > m)
    }

    /// Removes and returns the expired messages at the head, as the queue type allows: a classic
    /// queue stops at its first unexpired message; a quorum queue checks the head of its returns
    /// queue and of each priority level.
    pub fn take_expired(&mut self, now: SimTime) -> Vec<Stored> {
        let mut out = Vec::new();
        if self.with_expiry == 0 {
            return out;
        }
        let expired = |s: &Stored| s.meta.expiry.is_some_and(|e| now >= e);
        if self.is_quorum() {
            while self.returns.front().is_some_and(expired) {
                let s = self.returns.pop_front().expect("front");
                self.account_out(&s);
                out.push(s);
            }
            // The leading run of expired messages in each priority level.
            let mut runs: Vec<(Reverse<u8>, u64)> = Vec::new();
            let (mut level, mut in_run) = (None, false);
            for (k, s) in &self.main {
                if level != Some(k.0) {
                    level = Some(k.0);
                    in_run = true;
                }
                if in_run {
                    if expired(s) {
                        runs.push(*k);
                    } else {
                        in_run = false;
                    }
                }
            }
            for k in runs {
                let s = self.main.remove(&k).expect("present");
                self.account_out(&s);
                out.push(s);
            }
        } else {
            while let Some(entry) = self.main.first_entry() {
                if !expired(entry.get()) {
                    break;
                }
                let s = entry.remove();
                self.account_out(&s);
                out.push(s);
            }
        }
        out
    }

    /// When the next expiry at a head is due, if any.
    pub fn next_head_expiry(&self) -> Option<SimTime> {
        if self.with_expiry == 0 {
            return None;
        }
        if self.is_quorum() {
            let mut best = self.returns.front().and_then(|s| s.meta.expiry);
            let mut last_level = None;
            for (k, s) in &self.main {
                if last_level != Some(k.0) {
                    last_level = Some(k.0);
                    if let Some(e) = s.meta.expiry {
                        best = Some(best.map_or(e, |b: SimTime| b.min(e)));
                    }
                }
            }
            best
        } else {
            self.main.first_key_value().and_then(|(_, s)| s.meta.expiry)
        }
    }

    /// Removes every ready message (the queue is being deleted).
    pub fn drain(&mut self) -> Vec<Stored> {
        let mut out: Vec<Stored> = self.returns.drain(..).collect();
        out.extend(std::mem::take(&mut self.main).into_values());
        self.bytes = 0;
        self.with_expiry = 0;
        out
    }

    /// Every ready message, in delivery order (for inspection and the conservation check).
    pub fn iter(&self) -> impl Iterator<Item = &Stored> {
        self.returns.iter().chain(self.main.values())
    }
}
