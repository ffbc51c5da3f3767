//! Scenario format v1: the versioned JSON document that describes a run.
//!
//! A scenario holds the topology (`nodes`, `edges`), the workload (producer rates and message
//! templates), scripted `actions` at exact times, and the `seed`. The format is documented in
//! `docs/scenario-format.md`. [`Scenario::from_json`] never panics on bad input: it returns
//! [`Diagnostics`] naming each problem's path.

mod diagnostic;
mod parse;

pub use diagnostic::{Diagnostic, Diagnostics};

use crate::dist::DurationDist;
use crate::message::MessageTemplate;
use crate::time::{SimDuration, SimTime};
use serde::{Deserialize, Serialize};

/// The newest format version this build reads and the one it writes.
pub const FORMAT_VERSION: u32 = 1;

/// The largest message body, in bytes: RabbitMQ 4.x's default `max_message_size`, 16 MiB.
pub const MAX_BODY_BYTES: u32 = 16 * 1024 * 1024;

/// Documents larger than this are refused before parsing (4 MiB).
pub const MAX_DOCUMENT_BYTES: usize = 4 * 1024 * 1024;

/// A whole scenario. Build one with [`Scenario::from_json`], which validates it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Scenario {
    /// The format version; always [`FORMAT_VERSION`] once loaded (older ones are migrated).
    pub version: u32,
    /// A short title.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// What the scenario shows.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The RNG seed: the same scenario and seed give the same run.
    pub seed: u64,
    /// The nodes of the topology.
    pub nodes: Vec<NodeSpec>,
    /// Directed connections between nodes.
    pub edges: Vec<EdgeSpec>,
    /// Scripted actions at exact times.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<ActionSpec>,
}

/// One node: a unique `id`, its kind with that kind's configuration, and where it is drawn.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodeSpec {
    /// Unique name, used by edges and actions.
    pub id: String,
    /// The kind and its configuration, written as `"kind"` and `"config"`.
    #[serde(flatten)]
    pub kind: NodeKind,
    /// Canvas position, if the author placed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
}

/// A point on the canvas, in canvas units.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Position {
    /// Horizontal, growing rightwards.
    pub x: f64,
    /// Vertical, growing downwards.
    pub y: f64,
}

/// The kinds of node, each with its configuration.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", content = "config", rename_all = "snake_case")]
pub enum NodeKind {
    /// Publishes messages at a rate, and on scripted `publish` actions.
    Producer(ProducerConfig),
    /// Holds each message for a delay, then forwards it along its outgoing edges in turn.
    Relay(RelayConfig),
    /// Consumes every message that reaches it.
    Sink(SinkConfig),
}

impl NodeKind {
    /// The kind's name as written in documents.
    pub fn name(&self) -> &'static str {
        match self {
            NodeKind::Producer(_) => "producer",
            NodeKind::Relay(_) => "relay",
            NodeKind::Sink(_) => "sink",
        }
    }

    /// Every kind name, for error messages and palettes.
    pub const NAMES: &'static [&'static str] = &["producer", "relay", "sink"];
}

/// How a producer spaces its messages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arrival {
    /// Exponential gaps with mean `1 / rate_per_s`: a Poisson process, like independent users.
    #[default]
    Poisson,
    /// Exactly `1 / rate_per_s` apart.
    Constant,
}

/// Configuration of a `producer` node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProducerConfig {
    /// Messages per second; `0` publishes only on scripted actions.
    #[serde(default)]
    pub rate_per_s: f64,
    /// How gaps between messages are drawn.
    #[serde(default)]
    pub arrival: Arrival,
    /// Stop after this many rate-driven messages (scripted publishes do not count).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// When the first rate-driven message may be published.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start: SimDuration,
    /// The template every rate-driven message is made from.
    #[serde(default)]
    pub message: MessageTemplate,
}

fn is_zero(d: &SimDuration) -> bool {
    *d == SimDuration::ZERO
}

/// Configuration of a `relay` node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayConfig {
    /// How long each message is held before it is forwarded.
    #[serde(default = "default_relay_delay")]
    pub delay: DurationDist,
}

fn default_relay_delay() -> DurationDist {
    DurationDist::constant(SimDuration::from_ms(1))
}

/// Configuration of a `sink` node (none yet; the object is kept for forward compatibility).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkConfig {}

/// A directed connection: messages leave `from` and arrive at `to` after `latency`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeSpec {
    /// The sending node's id.
    pub from: String,
    /// The receiving node's id.
    pub to: String,
    /// Time on the wire.
    #[serde(default = "default_latency")]
    pub latency: DurationDist,
}

fn default_latency() -> DurationDist {
    DurationDist::constant(SimDuration::from_ms(50))
}

/// A scripted action: `do` this `at` that moment. Written flat:
/// `{"at": "2s", "do": "crash", "node": "worker"}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ActionSpec {
    /// When, from the start of the run.
    pub at: SimTime,
    /// What.
    #[serde(flatten)]
    pub action: Action,
}

/// What a scripted action does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// The producer `node` publishes exactly this message.
    Publish {
        /// A producer's id.
        node: String,
        /// The message.
        #[serde(default)]
        message: MessageTemplate,
    },
    /// `node` crashes: it stops, and what it held is lost.
    Crash {
        /// Any node's id.
        node: String,
    },
    /// `node` comes back up.
    Restart {
        /// Any node's id.
        node: String,
    },
}

impl Action {
    /// The node the action targets.
    pub fn node(&self) -> &str {
        match self {
            Action::Publish { node, .. } | Action::Crash { node } | Action::Restart { node } => {
                node
            }
        }
    }
}

/// Validates a scenario built in code (documents are validated by [`Scenario::from_json`]).
pub(crate) fn check(s: &Scenario) -> Result<(), Diagnostics> {
    let mut diags = Vec::new();
    parse::validate(s, &mut diags);
    if diags.is_empty() {
        Ok(())
    } else {
        Err(Diagnostics(diags))
    }
}

impl Scenario {
    /// Parses and validates a document. On failure, every problem found is returned with its path.
    pub fn from_json(text: &str) -> Result<Scenario, Diagnostics> {
        parse::from_json(text)
    }

    /// The canonical JSON form of this scenario (what `from_json` reads back to an equal value).
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).expect("a scenario always serialises")
    }

    /// Index of the node with this id.
    pub fn node_index(&self, id: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.id == id)
    }

    /// Each edge's `(from, to)` node indices, or `None` where an end names no node. One pass
    /// with a map, so callers that walk edges repeatedly do not search nodes per edge.
    pub fn edge_ends(&self) -> Vec<Option<(usize, usize)>> {
        let index: std::collections::BTreeMap<&str, usize> = self
            .nodes
            .iter()
            .enumerate()
            .rev()
            .map(|(i, n)| (n.id.as_str(), i))
            .collect();
        self.edges
            .iter()
            .map(|e| Some((*index.get(e.from.as_str())?, *index.get(e.to.as_str())?)))
            .collect()
    }
}
