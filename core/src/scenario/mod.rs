//! The scenario format: the versioned JSON document that describes a run.
//!
//! A scenario holds the topology (`nodes`, `edges`), the workload (producer rates and message
//! templates), scripted `actions` at exact times, and the `seed`. The format is documented in
//! `docs/scenario-format.md`. [`Scenario::from_json`] never panics on bad input: it returns
//! [`Diagnostics`] naming each problem's path.

mod diagnostic;
mod migrate;
pub(crate) mod parse;

pub(crate) use diagnostic::Path;
pub use diagnostic::{Diagnostic, Diagnostics};

use crate::amqp::{AmqpKind, Settlement};
use crate::bullmq::BullmqKind;
use crate::data::DataKind;
use crate::dist::DurationDist;
use crate::http::HttpKind;
use crate::kafka::KafkaKind;
use crate::message::{Headers, MessageTemplate};
use crate::time::{SimDuration, SimTime};
use serde::{Deserialize, Serialize};

/// The newest format version this build reads and the one it writes. Older versions are
/// migrated when read (see `migrate.rs` and `docs/scenario-format.md`).
pub const FORMAT_VERSION: u32 = 13;

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
    /// Where the canvas looks when the document is opened; `None` fits the topology in view.
    /// Presentation only: it never changes the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub view: Option<View>,
    /// RabbitMQ policies: settings applied to exchanges and queues by name
    /// (`docs/amqp.md`, "Policies").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<crate::amqp::policy::Policy>,
    /// RabbitMQ operator policies: limits an operator imposes over the policies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operator_policies: Vec<crate::amqp::policy::Policy>,
    /// A guided tour over the run (`crate::tour`). Presentation only: it never changes the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tour: Option<crate::tour::Tour>,
}

/// The part of the canvas in view: its centre, in canvas units, and the zoom. It does not depend
/// on the size of the window, so a link opened on another screen is framed on the same point.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct View {
    /// The horizontal canvas coordinate at the centre of the view.
    pub x: f64,
    /// The vertical canvas coordinate at the centre of the view.
    pub y: f64,
    /// Screen pixels per canvas unit, within [`View::ZOOM_LIMITS`].
    pub zoom: f64,
}

impl View {
    /// The closest and farthest zoom a document may ask for (the playground's own limits).
    pub const ZOOM_LIMITS: (f64, f64) = (0.2, 4.0);
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

/// The kinds of node, each with its configuration. The kernel's own kinds (producers, relays,
/// sinks) are variants here; each model's kinds are one variant wrapping that model's enum, so
/// a kind is added in its model's module and a model is added here once (the compiler then
/// points at every dispatch that must learn it).
///
/// Written in documents as `"kind"` (the kind's name) and `"config"` (its settings).
#[derive(Clone, Debug, PartialEq)]
pub enum NodeKind {
    /// Publishes messages at a rate, and on scripted `publish` actions.
    Producer(ProducerConfig),
    /// Holds each message for a delay, then forwards it along its outgoing edges in turn.
    Relay(RelayConfig),
    /// Consumes every message that reaches it.
    Sink(SinkConfig),
    /// A node of the RabbitMQ model: an exchange, a queue or a consumer.
    Amqp(AmqpKind),
    /// A node of the request-response model: a client, a service or a load balancer.
    Http(HttpKind),
    /// A node of the Kafka model: a topic, a producer or a consumer.
    Kafka(KafkaKind),
    /// A node of the BullMQ model: a job queue, a job producer or a worker.
    Bullmq(BullmqKind),
    /// A node of the data model: a store.
    Data(DataKind),
}

/// Which model a node kind belongs to: the kernel's own kinds, or one paradigm's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ModelId {
    /// Producers, relays and sinks: no paradigm.
    Kernel,
    /// RabbitMQ (`crate::amqp`).
    Amqp,
    /// Request-response over HTTP (`crate::http`).
    Http,
    /// Kafka (`crate::kafka`).
    Kafka,
    /// BullMQ (`crate::bullmq`).
    Bullmq,
    /// Stores that handlers write (`crate::data`).
    Data,
}

impl NodeKind {
    /// The kind's name as written in documents.
    pub fn name(&self) -> &'static str {
        match self {
            NodeKind::Producer(_) => "producer",
            NodeKind::Relay(_) => "relay",
            NodeKind::Sink(_) => "sink",
            NodeKind::Amqp(k) => k.name(),
            NodeKind::Http(k) => k.name(),
            NodeKind::Kafka(k) => k.name(),
            NodeKind::Bullmq(k) => k.name(),
            NodeKind::Data(k) => k.name(),
        }
    }

    /// The model the kind belongs to.
    pub fn model(&self) -> ModelId {
        match self {
            NodeKind::Producer(_) | NodeKind::Relay(_) | NodeKind::Sink(_) => ModelId::Kernel,
            NodeKind::Amqp(_) => ModelId::Amqp,
            NodeKind::Http(_) => ModelId::Http,
            NodeKind::Kafka(_) => ModelId::Kafka,
            NodeKind::Bullmq(_) => ModelId::Bullmq,
            NodeKind::Data(_) => ModelId::Data,
        }
    }

    /// The kernel's own kind names.
    pub const KERNEL_NAMES: &'static [&'static str] = &["producer", "relay", "sink"];

    /// Every kind name, for error messages and palettes: the kernel's, then each model's.
    pub fn names() -> impl Iterator<Item = &'static str> {
        Self::KERNEL_NAMES
            .iter()
            .chain(AmqpKind::NAMES)
            .chain(HttpKind::NAMES)
            .chain(KafkaKind::NAMES)
            .chain(BullmqKind::NAMES)
            .chain(DataKind::NAMES)
            .copied()
    }
}

impl Serialize for NodeKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("kind", self.name())?;
        match self {
            NodeKind::Producer(c) => map.serialize_entry("config", c)?,
            NodeKind::Relay(c) => map.serialize_entry("config", c)?,
            NodeKind::Sink(c) => map.serialize_entry("config", c)?,
            NodeKind::Amqp(k) => k.serialize_config(&mut map)?,
            NodeKind::Http(k) => k.serialize_config(&mut map)?,
            NodeKind::Kafka(k) => k.serialize_config(&mut map)?,
            NodeKind::Bullmq(k) => k.serialize_config(&mut map)?,
            NodeKind::Data(k) => k.serialize_config(&mut map)?,
        }
        map.end()
    }
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
    /// AMQP `mandatory`: a message that routes to no queue comes back (`basic.return`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub mandatory: bool,
    /// Publisher confirms (`confirm.select`): the broker acks or nacks every publish.
    #[serde(default, skip_serializing_if = "is_false")]
    pub publisher_confirms: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn yes() -> bool {
    true
}

impl Action {
    /// The settlement a scripted `ack`, `nack` or `reject` stands for:
    /// `(node, how, delivery_tag, multiple)`.
    pub fn settlement(&self) -> Option<(&str, Settlement, Option<u64>, bool)> {
        match *self {
            Action::Ack {
                ref node,
                delivery_tag,
                multiple,
            } => Some((node, Settlement::Ack, delivery_tag, multiple)),
            Action::Nack {
                ref node,
                delivery_tag,
                multiple,
                requeue,
            } => Some((node, Settlement::Nack { requeue }, delivery_tag, multiple)),
            Action::Reject {
                ref node,
                delivery_tag,
                requeue,
            } => Some((node, Settlement::Reject { requeue }, delivery_tag, false)),
            Action::Publish { .. }
            | Action::Crash { .. }
            | Action::Restart { .. }
            | Action::RemoveNode { .. }
            | Action::AddEdge { .. }
            | Action::RemoveEdge { .. }
            | Action::Pause { .. }
            | Action::Resume { .. }
            | Action::Seek { .. }
            | Action::LoseAck { .. }
            | Action::Configure { .. }
            | Action::SetPolicy { .. }
            | Action::ClearPolicy { .. } => None,
        }
    }
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

/// A directed connection. What it means depends on its ends:
///
/// - into an exchange: "publishes to"; into a queue from a producer or relay: publishes to it
///   through the default exchange, with the queue's name as routing key;
/// - exchange to queue or exchange: a binding, with `routing_key` and `arguments`;
/// - queue to consumer: "consumes from" (`basic.consume`);
/// - otherwise: messages leave `from` and arrive at `to` after `latency`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeSpec {
    /// The sending node's id.
    pub from: String,
    /// The receiving node's id.
    pub to: String,
    /// Time on the wire (default 50 ms). Bindings route inside the broker and take none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<DurationDist>,
    /// A binding's key (`routing_key` in `definitions.json`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub routing_key: String,
    /// A binding's arguments (headers exchanges match on them).
    #[serde(default, skip_serializing_if = "Headers::is_empty")]
    pub arguments: Headers,
    /// A call edge's policies: timeout, retry, circuit breaker, bulkhead, retry budget,
    /// adaptive throttling (`docs/http.md`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resilience: Option<crate::http::Resilience>,
}

/// The latency of an edge that does not set one.
pub const DEFAULT_LATENCY: SimDuration = SimDuration::from_ms(50);

impl EdgeSpec {
    /// A plain edge with the default latency.
    pub fn new(from: impl Into<String>, to: impl Into<String>) -> EdgeSpec {
        EdgeSpec {
            from: from.into(),
            to: to.into(),
            latency: None,
            routing_key: String::new(),
            arguments: Headers::new(),
            resilience: None,
        }
    }

    /// The latency in effect: the edge's own, or 50 ms.
    pub fn latency_or_default(&self) -> DurationDist {
        self.latency
            .clone()
            .unwrap_or(DurationDist::constant(DEFAULT_LATENCY))
    }
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
    /// The consumer `node` sends `basic.ack` now.
    Ack {
        /// A consumer's id.
        node: String,
        /// The delivery tag; absent means the message being processed (or, if none, the last
        /// one delivered).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        delivery_tag: Option<u64>,
        /// Every unacked delivery up to the tag.
        #[serde(default, skip_serializing_if = "is_false")]
        multiple: bool,
    },
    /// The consumer `node` sends `basic.nack` now.
    Nack {
        /// A consumer's id.
        node: String,
        /// As for `ack`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        delivery_tag: Option<u64>,
        /// Every unacked delivery up to the tag.
        #[serde(default, skip_serializing_if = "is_false")]
        multiple: bool,
        /// Back to the queue (true), or dead-letter / discard (false).
        #[serde(default = "yes")]
        requeue: bool,
    },
    /// The consumer `node` sends `basic.reject` now.
    Reject {
        /// A consumer's id.
        node: String,
        /// As for `ack`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        delivery_tag: Option<u64>,
        /// Back to the queue (true), or dead-letter / discard (false).
        #[serde(default = "yes")]
        requeue: bool,
    },
    /// Removes `node` from the topology: deleting a queue drops its messages, removing a
    /// consumer closes its connection and requeues its unacked messages.
    RemoveNode {
        /// Any node's id.
        node: String,
    },
    /// Adds an edge: a binding, a consumer's `basic.consume`, a publish path.
    AddEdge {
        /// The edge.
        edge: EdgeSpec,
    },
    /// Removes the edge from `from` to `to`: unbinds, or cancels a consumer (`basic.cancel`).
    RemoveEdge {
        /// The edge's source.
        from: String,
        /// The edge's target.
        to: String,
        /// Which binding, when an exchange has several to the same destination (default: the
        /// first).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        routing_key: Option<String>,
    },
    /// The consumer `node`'s application stalls: it finishes what it is processing and starts
    /// nothing new until `resume`.
    Pause {
        /// A consumer's id.
        node: String,
    },
    /// The paused consumer `node` runs again.
    Resume {
        /// A consumer's id.
        node: String,
    },
    /// The Kafka consumer `node` moves its position (`seek`, `seekToBeginning`, `seekToEnd`)
    /// on the partitions it owns: all of them, a topic's, or one.
    Seek {
        /// A Kafka consumer's id.
        node: String,
        /// Only this topic's partitions.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        topic: Option<String>,
        /// Only this partition (with `topic`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        partition: Option<u32>,
        /// An offset, `"beginning"` or `"end"`.
        to: crate::kafka::SeekTo,
    },
    /// The broker's response to the Kafka producer `node`'s next produce request is lost
    /// (as if the connection dropped after the append), so the producer retries that batch
    /// after `request.timeout.ms`: a duplicate unless it is idempotent.
    LoseAck {
        /// A Kafka producer's id.
        node: String,
    },
    /// Changes the settings of the node named by `node.id` in place (a producer's rate, a
    /// consumer's prefetch…), as the `configure` command does.
    Configure {
        /// The node as in `nodes`, with its new `config`: same `id`, same `kind`.
        node: NodeSpec,
    },
    /// Sets a policy (`rabbitmqctl set_policy`), or with `operator` an operator policy
    /// (`set_operator_policy`): a new name adds one, a known name replaces it. It applies to
    /// the exchanges and queues it matches at once.
    SetPolicy {
        /// The policy, as in `policies`.
        policy: crate::amqp::policy::Policy,
        /// An operator policy.
        #[serde(default, skip_serializing_if = "is_false")]
        operator: bool,
    },
    /// Removes the policy (or with `operator`, the operator policy) of that name
    /// (`rabbitmqctl clear_policy`).
    ClearPolicy {
        /// Its name.
        name: String,
        /// An operator policy.
        #[serde(default, skip_serializing_if = "is_false")]
        operator: bool,
    },
}

impl Action {
    /// The nodes the action refers to.
    pub fn nodes(&self) -> Vec<&str> {
        self.node_fields().into_iter().map(|(_, n)| n).collect()
    }

    /// The nodes the action refers to, each with its field's path in the action (for
    /// diagnostics).
    pub(crate) fn node_fields(&self) -> Vec<(&'static str, &str)> {
        match self {
            Action::Publish { node, .. }
            | Action::Crash { node }
            | Action::Restart { node }
            | Action::Ack { node, .. }
            | Action::Nack { node, .. }
            | Action::Reject { node, .. }
            | Action::RemoveNode { node }
            | Action::Pause { node }
            | Action::Resume { node }
            | Action::LoseAck { node } => vec![("node", node)],
            Action::Seek {
                node, topic: None, ..
            } => vec![("node", node)],
            Action::Seek {
                node,
                topic: Some(topic),
                ..
            } => vec![("node", node), ("topic", topic)],
            Action::Configure { node } => vec![("node.id", &node.id)],
            Action::AddEdge { edge } => vec![("edge.from", &edge.from), ("edge.to", &edge.to)],
            Action::RemoveEdge { from, to, .. } => vec![("from", from), ("to", to)],
            Action::SetPolicy { .. } | Action::ClearPolicy { .. } => Vec::new(),
        }
    }
}

pub(crate) use parse::{check_dist, check_plain_edge_fields, typed};

/// Validates a scenario built in code (documents are validated by [`Scenario::from_json`]).
pub(crate) fn check(s: &Scenario) -> Result<(), Diagnostics> {
    let mut diags = Vec::new();
    parse::validate(s, false, &mut diags);
    if diags.is_empty() {
        Ok(())
    } else {
        Err(Diagnostics(diags))
    }
}

/// Validates the live topology after an edit. Unlike a document, a live topology may have a
/// producer or relay without outgoing edges for a while: the user connects it next.
pub(crate) fn check_live(s: &Scenario) -> Result<(), Diagnostics> {
    let mut diags = Vec::new();
    parse::validate(s, true, &mut diags);
    if diags.is_empty() {
        Ok(())
    } else {
        Err(Diagnostics(diags))
    }
}

/// A scenario that has passed validation and cannot have changed since: only
/// [`Scenario::from_json_validated`] makes one, and it gives out only shared references, so
/// [`crate::Sim::from_validated`] builds from it without validating it a second time or
/// copying it (the simulation shares it).
#[derive(Clone, Debug)]
pub struct Validated(std::sync::Arc<Scenario>);

impl Validated {
    /// The scenario.
    pub fn scenario(&self) -> &Scenario {
        &self.0
    }

    /// The scenario, to change (it is then a plain scenario again, to be validated again).
    pub fn into_inner(self) -> Scenario {
        std::sync::Arc::unwrap_or_clone(self.0)
    }

    /// The scenario, shared.
    pub(crate) fn shared(&self) -> std::sync::Arc<Scenario> {
        std::sync::Arc::clone(&self.0)
    }
}

impl std::ops::Deref for Validated {
    type Target = Scenario;
    fn deref(&self) -> &Scenario {
        &self.0
    }
}

impl Scenario {
    /// The policies (`operator`: the operator policies), to change.
    pub fn policies_mut(&mut self, operator: bool) -> &mut Vec<crate::amqp::policy::Policy> {
        if operator {
            &mut self.operator_policies
        } else {
            &mut self.policies
        }
    }
}

impl Scenario {
    /// Parses and validates a document. On failure, every problem found is returned with its path.
    pub fn from_json(text: &str) -> Result<Scenario, Diagnostics> {
        parse::from_json(text, false)
    }

    /// Parses and validates a document, keeping the proof that it was validated (see
    /// [`Validated`]).
    pub fn from_json_validated(text: &str) -> Result<Validated, Diagnostics> {
        parse::from_json(text, false).map(|s| Validated(std::sync::Arc::new(s)))
    }

    /// Parses a document saved while it was being drawn: like [`Scenario::from_json`], but
    /// validated by the live-edit rules ([`Scenario::check_draft`]), so a producer not yet
    /// connected is accepted. The playground restores autosaved work with it.
    pub fn from_json_draft(text: &str) -> Result<Scenario, Diagnostics> {
        parse::from_json(text, true)
    }

    /// Validates a topology being drawn by the live-edit rules: like a document, except that a
    /// producer or relay may lack outgoing edges for now. The editor checks each change with it.
    pub fn check_draft(&self) -> Result<(), Diagnostics> {
        check_live(self)
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

impl<'de> Deserialize<'de> for NodeSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        parse::node_from_value(v).map_err(serde::de::Error::custom)
    }
}
