//! The fate ledger: where every message is, or how it ended.
//!
//! Every message created in a run has exactly one [`Fate`] at any moment. Live fates say where
//! the message physically is; terminal fates say how it ended. The ledger is checked against the
//! simulation's actual state by [`crate::Sim::check_conservation`], which tests call after every
//! event: a message the ledger thinks is somewhere must be found there, exactly once.
//!
//! Memory stays bounded by what is alive: ended messages are folded into counters once every
//! older message has ended too, so the dense window runs from the oldest live message onwards;
//! and when that window has become mostly ended messages behind a few long-lived ones (a
//! message parked in a queue nobody consumes), those few move to a sparse map of their own and
//! the window starts afresh. Per-node counts of held messages are kept as fates change, so
//! reading them costs the same at the first message and the ten-millionth.

use crate::id::{EdgeId, MessageId, NodeId};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// Why a message was dropped. Every drop names one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// It arrived at a node that was down.
    NodeDown,
    /// The node holding it crashed.
    LostInCrash,
    /// The node it was at had nowhere to send it.
    NoRoute,
    /// An exchange routed it to no queue, and it was not mandatory.
    Unroutable,
    /// It was mandatory and routed to no queue: it went back to the publisher (312 NO_ROUTE).
    Returned,
    /// It was published to an exchange that no longer exists (404 NOT_FOUND).
    ExchangeNotFound,
    /// A queue refused it with `x-overflow: reject-publish` (the publisher gets a nack).
    RejectPublish,
    /// A length limit pushed it out of a queue with no dead-letter exchange.
    Maxlen,
    /// Its TTL ran out in a queue with no dead-letter exchange.
    Expired,
    /// A consumer rejected it without requeue, and the queue has no dead-letter exchange.
    Rejected,
    /// It exceeded a quorum queue's delivery limit, and the queue has no dead-letter exchange.
    DeliveryLimit,
    /// Dead-lettering it would have closed a cycle with no rejection in it.
    DeadLetterCycle,
    /// Its dead-letter exchange does not exist or routed it nowhere.
    DeadLetterUnroutable,
    /// Its queue was deleted.
    QueueDeleted,
    /// It was kept to be read many times (a log record, a finished job kept for a while) and
    /// its retention ended: it aged out of what is kept.
    RetentionEnded,
    /// A response that reached its caller after the caller had given up on it (timed out, or
    /// crashed and came back): the callee's work was wasted.
    #[serde(rename = "late_response")]
    Late,
    /// A client's request that failed: every attempt failed or was refused.
    RequestFailed,
    /// A client's request whose deadline passed before it succeeded.
    DeadlineExceeded,
    /// The broker refused the record (Kafka: a record without a key on a compacted topic; an
    /// out-of-order sequence).
    InvalidRecord,
    /// An idempotent producer's retry of records the log already has: acknowledged, not
    /// appended again.
    Deduplicated,
    /// The log cleaner removed it: a later record has its key (or it was a tombstone past its
    /// delete horizon).
    Compacted,
    /// Its topic was deleted.
    TopicDeleted,
    /// A BullMQ job failed for good (its last attempt threw, it threw an
    /// `UnrecoverableError`, or it stalled too often).
    JobFailed,
    /// A BullMQ add with the `jobId` of a job the queue has (`duplicated`).
    DuplicateJob,
    /// A BullMQ job removed before it ran (a delayed job replaced by a deduplicated add).
    JobRemoved,
}

impl DropReason {
    /// The reason as it appears in traces and the UI.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::NodeDown => "node_down",
            DropReason::LostInCrash => "lost_in_crash",
            DropReason::NoRoute => "no_route",
            DropReason::Unroutable => "unroutable",
            DropReason::Returned => "returned",
            DropReason::ExchangeNotFound => "exchange_not_found",
            DropReason::RejectPublish => "reject_publish",
            DropReason::Maxlen => "maxlen",
            DropReason::Expired => "expired",
            DropReason::Rejected => "rejected",
            DropReason::DeliveryLimit => "delivery_limit",
            DropReason::DeadLetterCycle => "dead_letter_cycle",
            DropReason::DeadLetterUnroutable => "dead_letter_unroutable",
            DropReason::QueueDeleted => "queue_deleted",
            DropReason::RetentionEnded => "retention_ended",
            DropReason::Late => "late_response",
            DropReason::RequestFailed => "request_failed",
            DropReason::DeadlineExceeded => "deadline_exceeded",
            DropReason::InvalidRecord => "invalid_record",
            DropReason::Deduplicated => "deduplicated",
            DropReason::Compacted => "compacted",
            DropReason::TopicDeleted => "topic_deleted",
            DropReason::JobFailed => "job_failed",
            DropReason::DuplicateJob => "duplicate_job",
            DropReason::JobRemoved => "job_removed",
        }
    }
}

/// Where a message is, or how it ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "fate", rename_all = "snake_case")]
pub enum Fate {
    /// Travelling along an edge.
    InTransit {
        /// The edge.
        edge: EdgeId,
    },
    /// Held by a node (being processed, or waiting to be forwarded).
    Held {
        /// The node.
        node: NodeId,
    },
    /// Kept at a node to be read many times rather than handed on once: a log record that
    /// several consumer groups read, a finished job kept for its retention. Live until its
    /// retention ends ([`DropReason::RetentionEnded`]), so conservation holds for logs and jobs
    /// as for queues; the retention bounds how many such messages a run keeps.
    Retained {
        /// The node that keeps it.
        node: NodeId,
    },
    /// Ended: consumed by a node.
    Consumed {
        /// The consuming node.
        node: NodeId,
    },
    /// Ended: dropped, with a reason.
    Dropped {
        /// Where it was dropped.
        node: NodeId,
        /// Why.
        reason: DropReason,
    },
}

impl Fate {
    /// True for fates that end a message's life.
    pub fn is_terminal(self) -> bool {
        matches!(self, Fate::Consumed { .. } | Fate::Dropped { .. })
    }
}

/// Counts of message fates across a run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FateTotals {
    /// Messages created.
    pub created: u64,
    /// Messages still live (in transit or held).
    pub live: u64,
    /// Messages consumed.
    pub consumed: u64,
    /// Messages dropped, by reason.
    pub dropped: BTreeMap<DropReason, u64>,
}

impl FateTotals {
    /// Messages dropped for any reason.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.values().sum()
    }
}

/// The window is compacted (its live messages moved to the sparse map) once it is longer than
/// this and at most a quarter of it is alive.
pub const COMPACT_AT: usize = 4_096;

/// The ledger of fates. See the module docs.
#[derive(Clone, Debug, Default)]
pub struct FateLedger {
    /// Id of `window[0]`.
    base: u64,
    /// Fates of the messages from `base` on, dense.
    window: VecDeque<Fate>,
    /// Live messages in `window`.
    window_live: usize,
    /// Live messages older than `base`, moved out of a mostly-ended window.
    sparse: BTreeMap<u64, Fate>,
    created: u64,
    live: u64,
    consumed: u64,
    dropped: BTreeMap<DropReason, u64>,
    /// Messages held by each node (by node index), kept as fates change.
    held: Vec<u64>,
}

impl FateLedger {
    /// The id the next created message must have (ids start at 1).
    pub fn next_id(&self) -> MessageId {
        MessageId(self.created + 1)
    }

    /// Records a new message with its first fate, which must be live.
    pub fn create(&mut self, id: MessageId, fate: Fate) {
        assert_eq!(id, self.next_id(), "message ids are issued in order");
        assert!(!fate.is_terminal(), "a message is born live");
        if self.window.is_empty() {
            self.base = id.0;
        }
        self.window.push_back(fate);
        self.window_live += 1;
        self.created += 1;
        self.live += 1;
        self.count_held(None, fate);
    }

    /// The current fate of `id`, or `None` if it ended and was folded into the totals.
    pub fn fate(&self, id: MessageId) -> Option<Fate> {
        match id.0.checked_sub(self.base) {
            Some(off) => self.window.get(usize::try_from(off).ok()?).copied(),
            None => self.sparse.get(&id.0).copied(),
        }
    }

    /// Moves a live message to its next fate.
    ///
    /// Panics if the message is unknown or already ended: that is a simulator bug, and letting it
    /// pass would let a message be in two places or end twice.
    #[inline]
    pub fn set(&mut self, id: MessageId, fate: Fate) {
        let in_window = id.0 >= self.base;
        let slot = if in_window {
            let off = (id.0 - self.base) as usize;
            self.window.get_mut(off).expect("unknown message id")
        } else {
            self.sparse
                .get_mut(&id.0)
                .unwrap_or_else(|| panic!("{id} already ended, cannot become {fate:?}"))
        };
        let old = *slot;
        assert!(
            !old.is_terminal(),
            "{id} already ended as {old:?}, cannot become {fate:?}"
        );
        *slot = fate;
        self.count_held(Some(old), fate);
        match fate {
            Fate::Consumed { .. } => {
                self.live -= 1;
                self.consumed += 1;
            }
            Fate::Dropped { reason, .. } => {
                self.live -= 1;
                *self.dropped.entry(reason).or_default() += 1;
            }
            Fate::InTransit { .. } | Fate::Held { .. } | Fate::Retained { .. } => {}
        }
        if fate.is_terminal() {
            if !in_window {
                self.sparse.remove(&id.0);
                return;
            }
            self.window_live -= 1;
            while self.window.front().is_some_and(|f| f.is_terminal()) {
                self.window.pop_front();
                self.base += 1;
            }
            if self.window.len() > COMPACT_AT && self.window_live * 4 <= self.window.len() {
                self.compact();
            }
        }
    }

    /// Moves the window's live messages to the sparse map and empties it: the ended messages
    /// among them are forgotten (they are in the totals). Amortized O(1) per ended message:
    /// it runs only when at least three quarters of the window have ended.
    fn compact(&mut self) {
        for (i, f) in self.window.drain(..).enumerate() {
            if !f.is_terminal() {
                self.sparse.insert(self.base + i as u64, f);
            }
        }
        self.window_live = 0;
        self.base = self.created + 1;
    }

    /// Keeps the per-node held counts as a message goes from `old` (none: it is new) to `new`.
    #[inline]
    fn count_held(&mut self, old: Option<Fate>, new: Fate) {
        if let Some(Fate::Held { node }) = old {
            self.held[node.index()] -= 1;
        }
        if let Fate::Held { node } = new {
            let i = node.index();
            if i >= self.held.len() {
                self.held.resize(i + 1, 0);
            }
            self.held[i] += 1;
        }
    }

    /// How many messages `node` holds right now ([`Fate::Held`] there).
    pub fn held(&self, node: NodeId) -> u64 {
        self.held.get(node.index()).copied().unwrap_or(0)
    }

    /// Every live message and where it is, in id order.
    pub fn live(&self) -> impl Iterator<Item = (MessageId, Fate)> + '_ {
        let old = self.sparse.iter().map(|(&id, &f)| (MessageId(id), f));
        let recent = self
            .window
            .iter()
            .enumerate()
            .filter(|(_, f)| !f.is_terminal())
            .map(move |(i, f)| (MessageId(self.base + i as u64), *f));
        old.chain(recent)
    }

    /// The totals so far.
    pub fn totals(&self) -> FateTotals {
        FateTotals {
            created: self.created,
            live: self.live,
            consumed: self.consumed,
            dropped: self.dropped.clone(),
        }
    }

    /// How many fates the ledger holds in memory (for the memory budget): the window and the
    /// sparse map.
    pub fn window_len(&self) -> usize {
        self.window.len() + self.sparse.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const E: Fate = Fate::InTransit { edge: EdgeId(0) };
    const DONE: Fate = Fate::Consumed { node: NodeId(1) };

    #[test]
    fn counts_balance_and_window_compacts() {
        let mut l = FateLedger::default();
        for i in 1..=3 {
            l.create(MessageId(i), E);
        }
        l.set(MessageId(2), DONE);
        assert_eq!(l.window_len(), 3, "m2 ended but m1 is still live before it");
        l.set(
            MessageId(1),
            Fate::Dropped {
                node: NodeId(1),
                reason: DropReason::NodeDown,
            },
        );
        assert_eq!(l.window_len(), 1, "m1 and m2 folded away");
        assert_eq!(l.fate(MessageId(3)), Some(E));
        assert_eq!(l.fate(MessageId(1)), None);
        let t = l.totals();
        assert_eq!(
            (t.created, t.live, t.consumed, t.dropped_total()),
            (3, 1, 1, 1)
        );
        assert_eq!(
            l.live().map(|(id, _)| id).collect::<Vec<_>>(),
            [MessageId(3)]
        );
    }

    #[test]
    fn a_retained_message_is_live_until_its_retention_ends() {
        let mut l = FateLedger::default();
        l.create(MessageId(1), E);
        // Appended to a log: kept for many readers, still alive.
        l.set(MessageId(1), Fate::Retained { node: NodeId(3) });
        assert!(!Fate::Retained { node: NodeId(3) }.is_terminal());
        assert_eq!(l.totals().live, 1);
        assert_eq!(
            l.live().collect::<Vec<_>>(),
            [(MessageId(1), Fate::Retained { node: NodeId(3) })]
        );
        l.set(
            MessageId(1),
            Fate::Dropped {
                node: NodeId(3),
                reason: DropReason::RetentionEnded,
            },
        );
        let t = l.totals();
        assert_eq!((t.live, t.dropped_total()), (0, 1));
        assert_eq!(l.window_len(), 0, "folded away once its retention ended");
        assert_eq!(DropReason::RetentionEnded.as_str(), "retention_ended");
    }

    #[test]
    #[should_panic(expected = "already ended")]
    fn a_message_cannot_end_twice() {
        let mut l = FateLedger::default();
        l.create(MessageId(1), E);
        l.create(MessageId(2), E);
        l.set(MessageId(2), DONE);
        l.set(MessageId(2), DONE);
    }

    #[test]
    #[should_panic(expected = "issued in order")]
    fn ids_are_dense() {
        let mut l = FateLedger::default();
        l.create(MessageId(2), E);
    }

    #[test]
    fn a_parked_message_does_not_keep_every_later_one_in_memory() {
        let mut l = FateLedger::default();
        let parked = MessageId(1);
        l.create(parked, Fate::Held { node: NodeId(2) });
        let mut most = 0;
        for i in 2..=1_000_000u64 {
            l.create(MessageId(i), E);
            l.set(MessageId(i), DONE);
            most = most.max(l.window_len());
        }
        assert!(most <= COMPACT_AT + 1, "the window stayed bounded ({most})");
        assert_eq!(l.fate(parked), Some(Fate::Held { node: NodeId(2) }));
        assert_eq!(l.held(NodeId(2)), 1);
        assert_eq!(
            l.live().collect::<Vec<_>>(),
            [(parked, Fate::Held { node: NodeId(2) })]
        );
        l.set(parked, DONE);
        assert_eq!(
            (l.window_len(), l.held(NodeId(2)), l.totals().live),
            (0, 0, 0)
        );
        assert_eq!(l.fate(parked), None);
    }

    proptest::proptest! {
        /// Against a ledger that keeps every fate forever: the same fates, live list, totals
        /// and held counts after any sequence of creations and moves.
        #[test]
        fn the_ledger_agrees_with_one_that_forgets_nothing(
            ops in proptest::collection::vec((0u8..6, 0u32..4, proptest::num::u16::ANY), 1..20_000)
        ) {
            let mut l = FateLedger::default();
            let mut all: Vec<Fate> = Vec::new();
            let mut live_ids: Vec<u64> = Vec::new();
            for (op, node, pick) in ops {
                let node = NodeId(node);
                let fate = match op {
                    0 | 1 => Fate::Held { node },
                    2 => Fate::InTransit { edge: EdgeId(node.0) },
                    3 => Fate::Retained { node },
                    4 => Fate::Consumed { node },
                    _ => Fate::Dropped { node, reason: DropReason::Expired },
                };
                // Create a message now and then, or when nothing is alive; else move one.
                if live_ids.is_empty() || (pick % 3 == 0 && !fate.is_terminal()) {
                    let first = if fate.is_terminal() { Fate::Held { node } } else { fate };
                    let id = l.next_id();
                    l.create(id, first);
                    all.push(first);
                    live_ids.push(id.0);
                } else {
                    // Mostly the newest, sometimes the oldest: leaves long-lived stragglers.
                    let at = if pick % 7 == 0 { 0 } else { live_ids.len() - 1 - (pick as usize % live_ids.len().min(4)) };
                    let id = live_ids[at];
                    l.set(MessageId(id), fate);
                    all[id as usize - 1] = fate;
                    if fate.is_terminal() {
                        live_ids.remove(at);
                    }
                }
            }
            let want: Vec<(MessageId, Fate)> = all
                .iter()
                .enumerate()
                .filter(|(_, f)| !f.is_terminal())
                .map(|(i, f)| (MessageId(i as u64 + 1), *f))
                .collect();
            proptest::prop_assert_eq!(l.live().collect::<Vec<_>>(), want.clone());
            for (i, f) in all.iter().enumerate() {
                let got = l.fate(MessageId(i as u64 + 1));
                if f.is_terminal() {
                    proptest::prop_assert!(got.is_none() || got == Some(*f));
                } else {
                    proptest::prop_assert_eq!(got, Some(*f));
                }
            }
            for n in 0..4 {
                let held = all.iter().filter(|f| **f == Fate::Held { node: NodeId(n) }).count() as u64;
                proptest::prop_assert_eq!(l.held(NodeId(n)), held);
            }
            let t = l.totals();
            proptest::prop_assert_eq!(t.created, all.len() as u64);
            proptest::prop_assert_eq!(t.live, want.len() as u64);
            proptest::prop_assert!(l.window_len() <= (want.len() * 4).max(COMPACT_AT) + want.len() + 1);
        }
    }
}
