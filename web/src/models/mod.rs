//! What the page needs of each model, one entry per model: its palette items, the settings a
//! new node starts with, the inspector's fields, how its nodes are drawn, which faults they
//! take, and what connecting from them asks for. The kernel's kinds are `kernel`, RabbitMQ's
//! `amqp`, request-response's `http`, Kafka's `kafka`, BullMQ's `bullmq`, stores' `data`.
//!
//! Every function here dispatches with one exhaustive `match` on the core's kinds (no wildcard
//! arms), so a kind or a model added in the core makes the compiler point here. What an edge
//! means, which edges are allowed and what a live edit takes are the core's rules, asked from
//! it (`switchboard_core::model`), never worked out again here.

// A kind or a model added in the core must make the compiler point here.
#![deny(clippy::wildcard_enum_match_arm)]

pub mod amqp;
pub mod bullmq;
pub mod data;
pub mod http;
pub mod kafka;
pub mod kernel;

use crate::fields::Field;
use switchboard_core::dist::DurationDist;
use switchboard_core::model::EdgeKind;
use switchboard_core::scenario::{NodeKind, NodeSpec};
use switchboard_core::{NodeMetrics, SimDuration, SimTime};
use yew::Html;

/// A kind the palette offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PaletteItem {
    /// What the palette says.
    pub label: &'static str,
    /// The kind's name in documents.
    pub kind: &'static str,
    /// A variant of the kind (an exchange's type), if the palette offers several.
    pub variant: Option<&'static str>,
    /// The stem of a new node's name (`producer`, `topic-x`…).
    pub stem: &'static str,
}

/// Every palette item: the kernel's, then each model's.
pub fn palette() -> impl Iterator<Item = &'static PaletteItem> {
    kernel::PALETTE
        .iter()
        .chain(amqp::PALETTE)
        .chain(http::PALETTE)
        .chain(kafka::PALETTE)
        .chain(bullmq::PALETTE)
        .chain(data::PALETTE)
}

/// The palette item of `kind` (and `variant`), if there is one.
pub fn palette_item(kind: &str, variant: Option<&str>) -> Option<&'static PaletteItem> {
    palette().find(|p| p.kind == kind && (p.variant == variant || variant.is_none()))
}

/// A new node of a palette item named `name`, with the settings it starts with: chosen so the
/// first run shows something. Read by the core's parser like any document.
pub fn default_spec(name: &str, item: &PaletteItem) -> Result<NodeSpec, String> {
    let config = kernel::default_config(item)
        .or_else(|| amqp::default_config(item))
        .or_else(|| http::default_config(item))
        .or_else(|| kafka::default_config(item))
        .or_else(|| bullmq::default_config(item))
        .or_else(|| data::default_config(item))
        .ok_or_else(|| format!("the palette has no kind {:?}", item.kind))?;
    let v = serde_json::json!({ "id": name, "kind": item.kind, "config": config });
    serde_json::from_value(v).map_err(|e| e.to_string())
}

/// The inspector's fields of a node kind.
pub fn fields(kind: &NodeKind) -> &'static [Field] {
    match kind {
        NodeKind::Producer(_) | NodeKind::Relay(_) | NodeKind::Sink(_) => kernel::fields(kind),
        NodeKind::Amqp(k) => amqp::fields(k),
        NodeKind::Http(k) => http::fields(k),
        NodeKind::Kafka(k) => kafka::fields(k),
        NodeKind::Bullmq(k) => bullmq::fields(k),
        NodeKind::Data(k) => data::fields(k),
    }
}

/// The inspector's fields of an edge of this kind.
pub fn edge_fields(kind: EdgeKind) -> &'static [Field] {
    match kind {
        EdgeKind::Hop => kernel::WIRE,
        EdgeKind::Amqp(k) => amqp::edge_fields(k),
        EdgeKind::Http(k) => http::edge_fields(k),
        EdgeKind::Kafka(k) => kafka::edge_fields(k),
        EdgeKind::Bullmq(k) => bullmq::edge_fields(k),
        EdgeKind::Data(k) => data::edge_fields(k),
    }
}

/// A fault the inspector offers. Each is a command (or a change of settings), in the edit log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Crash while up; restart while down.
    CrashRestart,
    /// Pause the application while it runs; resume it while paused.
    PauseResume,
    /// Ten times slower (new settings, undoable).
    Slow,
    /// Publish a burst of [`FLOOD`] messages now.
    Flood,
    /// Publish one message every consumer fails.
    Poison,
    /// Seek to the beginning of every partition it owns (a Kafka consumer): replay.
    Replay,
    /// Lose the broker's response to the next produce request (a Kafka producer): its retry
    /// can duplicate a record.
    LoseAck,
    /// Add one job whose processor throws on its first two attempts (a BullMQ producer).
    FailingJob,
}

/// Messages the Flood fault publishes at once.
pub const FLOOD: usize = 100;

/// The faults a node kind takes, in the order the inspector shows them.
pub fn faults(kind: &NodeKind) -> &'static [Fault] {
    match kind {
        NodeKind::Producer(_) | NodeKind::Relay(_) | NodeKind::Sink(_) => kernel::faults(kind),
        NodeKind::Amqp(k) => amqp::faults(k),
        NodeKind::Http(k) => http::faults(k),
        NodeKind::Kafka(k) => kafka::faults(k),
        NodeKind::Bullmq(k) => bullmq::faults(k),
        NodeKind::Data(k) => data::faults(k),
    }
}

/// `spec` ten times slower, for the Slow fault (`None`: the kind has nothing to slow).
pub fn slowed(spec: &NodeSpec) -> Option<NodeSpec> {
    match &spec.kind {
        NodeKind::Producer(_) | NodeKind::Relay(_) | NodeKind::Sink(_) => None,
        NodeKind::Amqp(k) => amqp::slowed(spec, k),
        NodeKind::Http(k) => http::slowed(spec, k),
        NodeKind::Kafka(k) => kafka::slowed(spec, k),
        NodeKind::Bullmq(k) => bullmq::slowed(spec, k),
        NodeKind::Data(k) => data::slowed(spec, k),
    }
}

/// Whether a node of this kind sends messages on (and so has a connection handle).
pub fn sends(kind: &NodeKind) -> bool {
    match kind {
        NodeKind::Producer(_) | NodeKind::Relay(_) | NodeKind::Sink(_) => kernel::sends(kind),
        NodeKind::Amqp(k) => amqp::sends(k),
        NodeKind::Http(k) => http::sends(k),
        NodeKind::Kafka(k) => kafka::sends(k),
        NodeKind::Bullmq(k) => bullmq::sends(k),
        NodeKind::Data(k) => data::sends(k),
    }
}

/// Connecting from a node of this kind asks for a binding's key or arguments: the exchange
/// type, for the dialog; `None` if it asks nothing.
pub fn binding_asks(kind: &NodeKind) -> Option<&'static str> {
    match kind {
        NodeKind::Producer(_) | NodeKind::Relay(_) | NodeKind::Sink(_) => None,
        NodeKind::Amqp(k) => amqp::binding_asks(k),
        NodeKind::Http(_) | NodeKind::Kafka(_) | NodeKind::Bullmq(_) | NodeKind::Data(_) => None,
    }
}

/// How many steps a node's handler has (0: none, or a node that has no handler).
pub fn handler_len(kind: &NodeKind) -> usize {
    use switchboard_core::{amqp::AmqpKind, bullmq::BullmqKind, http::HttpKind, kafka::KafkaKind};
    match kind {
        NodeKind::Amqp(AmqpKind::Consumer(c)) => c.handler.len(),
        NodeKind::Bullmq(BullmqKind::Worker(w)) => w.handler.len(),
        NodeKind::Kafka(KafkaKind::Consumer(c)) => c.handler.len(),
        NodeKind::Http(HttpKind::Service(s)) => s.handler.as_ref().map_or(0, Vec::len),
        NodeKind::Producer(_)
        | NodeKind::Relay(_)
        | NodeKind::Sink(_)
        | NodeKind::Amqp(AmqpKind::Exchange(_) | AmqpKind::Queue(_))
        | NodeKind::Bullmq(BullmqKind::Queue(_) | BullmqKind::Producer(_))
        | NodeKind::Kafka(KafkaKind::Topic(_) | KafkaKind::Producer(_))
        | NodeKind::Http(HttpKind::Client(_) | HttpKind::LoadBalancer(_))
        | NodeKind::Data(_) => 0,
    }
}

/// A node's half width and half height on the canvas: the standard box, or (a topic) one
/// that grows with what it draws.
pub fn half_size(kind: &NodeKind) -> (f64, f64) {
    use crate::view::{NODE_HALF_H, NODE_HALF_W};
    match kind {
        NodeKind::Kafka(k) => kafka::half_size(k),
        NodeKind::Bullmq(k) => bullmq::half_size(k),
        NodeKind::Producer(_)
        | NodeKind::Relay(_)
        | NodeKind::Sink(_)
        | NodeKind::Amqp(_)
        | NodeKind::Http(_)
        | NodeKind::Data(_) => (NODE_HALF_W, NODE_HALF_H),
    }
}

/// The outline a node is drawn with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// A rounded box.
    Box,
    /// A router's hexagon (an exchange).
    Hexagon,
}

/// How a node is drawn: its outline, the line under its name, and what it shows inside.
pub struct Face {
    /// The outline.
    pub shape: Shape,
    /// Under the name: the kind, and what matters of its state.
    pub subtitle: String,
    /// Inside: slots, counters, progress.
    pub body: Html,
    /// What the body shows, as words for a screen reader and the text view (`12 ready, 3
    /// unacked`).
    pub status: String,
}

/// How a node of this kind is drawn, centred at `c`, with its metrics `m`.
pub fn face(kind: &NodeKind, m: &NodeMetrics, c: (f64, f64), now: SimTime, is_dlq: bool) -> Face {
    match kind {
        NodeKind::Producer(_) | NodeKind::Relay(_) | NodeKind::Sink(_) => kernel::face(kind, m, c),
        NodeKind::Amqp(k) => amqp::face(k, m, c, now, is_dlq),
        NodeKind::Http(k) => http::face(k, m, c, now),
        NodeKind::Kafka(k) => kafka::face(k, m, c),
        NodeKind::Bullmq(k) => bullmq::face(k, m, c, now),
        NodeKind::Data(k) => data::face(k, m, c),
    }
}

/// `d` `k` times longer.
pub(crate) fn scaled(d: &DurationDist, k: u64) -> DurationDist {
    let x = |v: SimDuration| SimDuration(v.0.saturating_mul(k).max(1));
    match *d {
        DurationDist::Constant { value } => DurationDist::Constant { value: x(value) },
        DurationDist::Uniform { min, max } => DurationDist::Uniform {
            min: x(min),
            max: x(max),
        },
        DurationDist::Exponential { mean } => DurationDist::Exponential { mean: x(mean) },
    }
}

/// How an edge of this kind reads from each end, for screen readers and the text view:
/// `(what its source does, what its target does)`, each followed by the other end's name
/// ("publishes to" orders-x; "receives from" shop).
pub fn edge_phrases(kind: EdgeKind) -> (&'static str, &'static str) {
    match kind {
        EdgeKind::Hop => ("sends to", "receives from"),
        EdgeKind::Amqp(k) => amqp::edge_phrases(k),
        EdgeKind::Http(k) => http::edge_phrases(k),
        EdgeKind::Kafka(k) => kafka::edge_phrases(k),
        EdgeKind::Bullmq(k) => bullmq::edge_phrases(k),
        EdgeKind::Data(k) => data::edge_phrases(k),
    }
}

/// What an edge of this kind is called, as a noun (`binding`, `consumer link`).
pub fn edge_noun(kind: EdgeKind) -> &'static str {
    match kind {
        EdgeKind::Hop => "wire",
        EdgeKind::Amqp(k) => amqp::edge_noun(k),
        EdgeKind::Http(k) => http::edge_noun(k),
        EdgeKind::Kafka(k) => kafka::edge_noun(k),
        EdgeKind::Bullmq(k) => bullmq::edge_noun(k),
        EdgeKind::Data(k) => data::edge_noun(k),
    }
}
