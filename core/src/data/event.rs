//! The data model's events: what happened to each write.

use crate::id::{EdgeId, MessageId, NodeId};
use crate::time::SimTime;

/// Something a store did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataEvent {
    /// A handler step sent a write to a store: it crosses `edge` from `depart` to `arrive`.
    WriteSent {
        /// The message being handled.
        message: MessageId,
        /// The service to store edge.
        edge: EdgeId,
        /// The key it writes.
        key: String,
        /// When it left the service.
        depart: SimTime,
        /// When it reaches the store.
        arrive: SimTime,
    },
    /// A store applied a write: `key` is at `version`, written by `message`.
    Written {
        /// The store.
        store: NodeId,
        /// The key.
        key: String,
        /// The key's new version (1 for its first write).
        version: u64,
        /// The message whose handler wrote it.
        message: MessageId,
        /// The logical message it belongs to ([`crate::data::StoreStats::duplicates`]).
        logical: MessageId,
        /// True if this logical message had already written this key: a duplicate.
        duplicate: bool,
    },
    /// A handler step sent a read to a store: it crosses `edge` from `depart` to `arrive`.
    ReadSent {
        /// The message being handled.
        message: MessageId,
        /// The handler's edge to the store.
        edge: EdgeId,
        /// The key it reads.
        key: String,
        /// When it left the handler.
        depart: SimTime,
        /// When it reaches the store.
        arrive: SimTime,
    },
    /// A store served a read.
    Read(Box<ReadResult>),
    /// A read model applied a write that makes a newer version of its source's key visible.
    Visible {
        /// The read model.
        store: NodeId,
        /// The key.
        key: String,
        /// The source's version it now shows.
        version: u64,
        /// How long after the source applied that version it became visible here, µs.
        window_us: u64,
    },
    /// A store found the write's idempotency key among those it keeps and skipped the write:
    /// the retried or redelivered message is applied once.
    Deduplicated {
        /// The store.
        store: NodeId,
        /// The key the write would have written.
        key: String,
        /// The idempotency key it brought.
        idempotency_key: String,
        /// The message whose handler sent it.
        message: MessageId,
    },
}

/// What a read returned, and what it is measured against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadResult {
    /// The store read.
    pub store: NodeId,
    /// The key.
    pub key: String,
    /// The version it returned (0: none yet); for a read model, the source's version it shows.
    pub version: u64,
    /// The newest version of the key acknowledged to a writer (by the source of truth) when it
    /// was served.
    pub acked: u64,
    /// The newest version the reading message's chain had been told it wrote (0: none).
    pub told: u64,
    /// The message whose handler read.
    pub message: MessageId,
}

impl ReadResult {
    /// It returned an older version than one already acknowledged to a writer.
    pub fn stale(&self) -> bool {
        self.version < self.acked
    }

    /// It returned an older version than its own chain had been told it wrote.
    pub fn ryw_violation(&self) -> bool {
        self.version < self.told
    }
}

impl DataEvent {
    /// The event's name in trace lines.
    pub fn name(&self) -> &'static str {
        match self {
            DataEvent::WriteSent { .. } => "store_write_sent",
            DataEvent::Written { .. } => "store_written",
            DataEvent::Deduplicated { .. } => "store_deduplicated",
            DataEvent::ReadSent { .. } => "store_read_sent",
            DataEvent::Read(_) => "store_read",
            DataEvent::Visible { .. } => "store_visible",
        }
    }

    /// The message the event is about.
    pub fn message(&self) -> Option<MessageId> {
        match self {
            DataEvent::WriteSent { message, .. }
            | DataEvent::ReadSent { message, .. }
            | DataEvent::Written { message, .. }
            | DataEvent::Deduplicated { message, .. } => Some(*message),
            DataEvent::Read(r) => Some(r.message),
            DataEvent::Visible { .. } => None,
        }
    }
}
