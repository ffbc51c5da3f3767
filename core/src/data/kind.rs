//! The data model's node kind, a store, with its settings, and its edge kind; and the handler
//! step that writes a store. In a scenario a store is `NodeKind::Data(DataKind)`, written as
//! `"kind": "store"`.

use super::template::KeyTemplate;
use crate::dist::DurationDist;
use crate::scenario::Diagnostic;
use crate::time::SimDuration;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A node of the data model.
#[derive(Clone, Debug, PartialEq)]
pub enum DataKind {
    /// A key-value store (a database): each write makes the key's next version, which
    /// remembers the message that wrote it.
    Store(StoreConfig),
}

impl DataKind {
    /// Every kind name of the model, as documents write them.
    pub const NAMES: &'static [&'static str] = &["store"];

    /// The kind's name as written in documents.
    pub fn name(&self) -> &'static str {
        match self {
            DataKind::Store(_) => "store",
        }
    }

    /// Reads a node of kind `name` from its `config`, reporting errors under `path`; `None` if
    /// `name` is not one of this model's kinds.
    pub(crate) fn parse(
        name: &str,
        config: Value,
        path: &str,
    ) -> Option<Result<DataKind, Diagnostic>> {
        use crate::scenario::typed;
        Some(match name {
            "store" => typed(config, path).map(DataKind::Store),
            _ => return None,
        })
    }

    /// Writes the kind's `config` object.
    pub(crate) fn serialize_config<M: serde::ser::SerializeMap>(
        &self,
        map: &mut M,
    ) -> Result<(), M::Error> {
        match self {
            DataKind::Store(c) => map.serialize_entry("config", c),
        }
    }
}

/// Configuration of a `store` node.
///
/// A write crosses the edge from its service, takes `write_latency` at the store, is applied
/// (committed) at the end of it, and its answer crosses the edge back. The store serves any
/// number of operations at once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// How long the store takes to apply a write, once it has it.
    #[serde(default = "default_write_latency")]
    pub write_latency: DurationDist,
    /// How long the store takes to serve a read, once it has it: the read returns the key's
    /// version at the end of it.
    #[serde(default = "default_read_latency")]
    pub read_latency: DurationDist,
    /// If set, this store is a read model (a projection) of the named store, its source of
    /// truth: a handler that writes a key here makes visible the version of the same key that
    /// its message's chain wrote in the source. Its reads return that source version, and the
    /// store measures how long each source version took to become visible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub projection_of: Option<String>,
    /// How often its outbox relay polls the outbox table and publishes what it finds.
    #[serde(default = "default_outbox_interval")]
    pub outbox_interval: SimDuration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            write_latency: default_write_latency(),
            read_latency: default_read_latency(),
            projection_of: None,
            outbox_interval: default_outbox_interval(),
        }
    }
}

fn default_outbox_interval() -> SimDuration {
    SimDuration::from_ms(100)
}

fn default_read_latency() -> DurationDist {
    DurationDist::constant(SimDuration::from_ms(1))
}

fn default_write_latency() -> DurationDist {
    DurationDist::constant(SimDuration::from_ms(5))
}

/// A handler step that writes a store: `{"write": "payments", "key": "charge:{correlation_id}",
/// "idempotency_key": "{correlation_id}"}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriteStep {
    /// The store, by name; the service needs an edge to it.
    pub write: String,
    /// The key written, made from the message being handled.
    pub key: KeyTemplate,
    /// If set, the store keeps this key (made from the message) with the write, in the same
    /// transaction, and skips a later write that brings a key it already has: a redelivered
    /// or retried message is applied once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<KeyTemplate>,
    /// If set, the write also puts this message in the store's outbox table, in the same
    /// transaction; the store's relay publishes it later, over the store's edge to the
    /// exchange or queue (the outbox pattern: no write without its message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbox: Option<crate::amqp::PublishStep>,
}

/// A handler step that reads a store: `{"read": "orders-view", "key": "order:{correlation_id}"}`.
/// The handler waits for the answer; the store counts the read as stale if it returns an older
/// version than one already acknowledged to a writer, and as a read-your-writes violation if
/// the reading message's chain was itself told it wrote a newer one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadStep {
    /// The store, by name; the node needs an edge to it.
    pub read: String,
    /// The key read, made from the message being handled.
    pub key: KeyTemplate,
}

/// What an edge of the data model is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EdgeKind {
    /// A handler's connection to a store: its reads and writes cross it, and their answers
    /// come back over it.
    Access,
}

impl EdgeKind {
    /// What the edge means, in a few words.
    pub fn meaning(self) -> &'static str {
        match self {
            EdgeKind::Access => "reads and writes",
        }
    }

    /// A short class name for drawing.
    pub fn class(self) -> &'static str {
        match self {
            EdgeKind::Access => "access",
        }
    }
}
