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

impl DataEvent {
    /// The event's name in trace lines.
    pub fn name(&self) -> &'static str {
        match self {
            DataEvent::WriteSent { .. } => "store_write_sent",
            DataEvent::Written { .. } => "store_written",
            DataEvent::Deduplicated { .. } => "store_deduplicated",
        }
    }

    /// The message the event is about.
    pub fn message(&self) -> Option<MessageId> {
        match *self {
            DataEvent::WriteSent { message, .. }
            | DataEvent::Written { message, .. }
            | DataEvent::Deduplicated { message, .. } => Some(message),
        }
    }
}
