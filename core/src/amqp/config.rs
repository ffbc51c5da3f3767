//! Scenario configuration of the AMQP node kinds, under RabbitMQ's own names.
//!
//! Queue and exchange `arguments` use the keys a RabbitMQ declaration (and `definitions.json`)
//! uses: `x-message-ttl`, `x-dead-letter-exchange`, `alternate-exchange`…

use crate::dist::DurationDist;
use crate::message::HeaderValue;
use crate::time::SimDuration;
use serde::{Deserialize, Serialize};

/// An exchange's type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExchangeType {
    /// Routes to bindings whose key equals a routing key.
    #[default]
    Direct,
    /// Routes to every binding.
    Fanout,
    /// Routes by dotted-word patterns with `*` and `#`.
    Topic,
    /// Routes by header values (`x-match`).
    Headers,
}

impl ExchangeType {
    /// The type's name, as RabbitMQ writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ExchangeType::Direct => "direct",
            ExchangeType::Fanout => "fanout",
            ExchangeType::Topic => "topic",
            ExchangeType::Headers => "headers",
        }
    }
}

/// Configuration of an `exchange` node. Its name is the node's `id`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExchangeConfig {
    /// `direct`, `fanout`, `topic` or `headers`.
    #[serde(rename = "type", default)]
    pub kind: ExchangeType,
    /// Declaration arguments.
    #[serde(default, skip_serializing_if = "ExchangeArguments::is_empty")]
    pub arguments: ExchangeArguments,
    /// Internal: clients cannot publish to it (RabbitMQ refuses with 403 ACCESS_REFUSED); it
    /// receives messages only through exchange-to-exchange bindings, as an alternate exchange,
    /// or as a dead-letter exchange.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub internal: bool,
}

/// An exchange's declaration arguments.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExchangeArguments {
    /// Where messages go when this exchange's own bindings route them nowhere.
    #[serde(
        rename = "alternate-exchange",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub alternate_exchange: Option<String>,
}

impl ExchangeArguments {
    fn is_empty(&self) -> bool {
        self.alternate_exchange.is_none()
    }
}

/// A queue's type (`x-queue-type`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueType {
    /// A classic queue.
    #[default]
    Classic,
    /// A quorum queue (Raft-replicated; modelled as one logical queue).
    Quorum,
}

/// What a queue does when a publish would take it over its length limit (`x-overflow`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Overflow {
    /// Enqueue, then drop (or dead-letter, reason `maxlen`) from the head.
    #[default]
    DropHead,
    /// Refuse the publish: the publisher gets `basic.nack` if it uses confirms.
    RejectPublish,
    /// Refuse the publish and dead-letter it (reason `maxlen`). Classic queues only.
    RejectPublishDlx,
}

impl Overflow {
    /// The value as RabbitMQ writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Overflow::DropHead => "drop-head",
            Overflow::RejectPublish => "reject-publish",
            Overflow::RejectPublishDlx => "reject-publish-dlx",
        }
    }
}

/// A quorum queue's `x-delivery-limit` when none is given: 20, as in RabbitMQ 4.0 and later.
pub const DEFAULT_DELIVERY_LIMIT: i64 = 20;

/// A queue's declaration arguments, under their RabbitMQ names.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueArguments {
    /// `classic` or `quorum`.
    #[serde(rename = "x-queue-type", default)]
    pub queue_type: QueueType,
    /// Per-queue message TTL in milliseconds.
    #[serde(
        rename = "x-message-ttl",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub message_ttl: Option<u64>,
    /// The queue is deleted after being unused (no consumers) for this many milliseconds.
    #[serde(rename = "x-expires", default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<u64>,
    /// The most ready messages the queue holds.
    #[serde(
        rename = "x-max-length",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub max_length: Option<u64>,
    /// The most ready body bytes the queue holds.
    #[serde(
        rename = "x-max-length-bytes",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub max_length_bytes: Option<u64>,
    /// What happens when a limit would be exceeded; `None` (not given) behaves as
    /// `drop-head` but, unlike an explicit value, gives way to a policy's.
    #[serde(
        rename = "x-overflow",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub overflow: Option<Overflow>,
    /// Where dead-lettered messages are published (`""` is the default exchange).
    #[serde(
        rename = "x-dead-letter-exchange",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub dead_letter_exchange: Option<String>,
    /// Replaces the routing keys of dead-lettered messages.
    #[serde(
        rename = "x-dead-letter-routing-key",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub dead_letter_routing_key: Option<String>,
    /// Classic queues: the highest message priority (0 to 255; 0 means no priorities).
    #[serde(
        rename = "x-max-priority",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub max_priority: Option<i64>,
    /// Quorum queues: failed deliveries allowed before dead-lettering (default 20; -1: none).
    #[serde(
        rename = "x-delivery-limit",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub delivery_limit: Option<i64>,
    /// Only one consumer receives at a time; the others wait as hot standbys.
    #[serde(
        rename = "x-single-active-consumer",
        default,
        skip_serializing_if = "is_default"
    )]
    pub single_active_consumer: bool,
}

impl QueueArguments {
    /// What happens when a limit would be exceeded: `x-overflow`, or `drop-head`.
    pub fn overflow(&self) -> Overflow {
        self.overflow.unwrap_or_default()
    }
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// Configuration of a `queue` node. Its name is the node's `id`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// The queue's metadata survives a broker restart (not simulated; kept for export).
    #[serde(default = "yes")]
    pub durable: bool,
    /// Owned by the connection of the one consumer node that consumes from it, and deleted
    /// when that connection closes.
    #[serde(default, skip_serializing_if = "is_default")]
    pub exclusive: bool,
    /// Deleted when its last consumer goes away, once it has had one.
    #[serde(default, skip_serializing_if = "is_default")]
    pub auto_delete: bool,
    /// Declaration arguments.
    #[serde(default)]
    pub arguments: QueueArguments,
}

fn yes() -> bool {
    true
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            durable: true,
            exclusive: false,
            auto_delete: false,
            arguments: QueueArguments::default(),
        }
    }
}

/// How a consumer settles a delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Settlement {
    /// `basic.ack`.
    Ack,
    /// `basic.reject(requeue)`.
    Reject {
        /// Put it back in the queue (true), or dead-letter / discard it (false).
        #[serde(default = "yes")]
        requeue: bool,
    },
    /// `basic.nack(requeue)` (`multiple` is available on scripted actions).
    Nack {
        /// Put it back in the queue (true), or dead-letter / discard it (false).
        #[serde(default = "yes")]
        requeue: bool,
    },
}

/// A rule: when a delivered message has this header (with this value, if given), settle it so.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderRule {
    /// The header's name.
    pub header: String,
    /// The value it must have; absent means "present with any value".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<HeaderValue>,
    /// What the consumer does.
    pub then: Settlement,
}

/// Configuration of a `consumer` node: one connection with one channel, and one AMQP consumer
/// (`basic.consume`) per queue it consumes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumerConfig {
    /// `basic.qos(prefetch_count, global=false)`: unacked deliveries per consumer; 0: unlimited.
    #[serde(default)]
    pub prefetch_count: u16,
    /// `basic.qos(prefetch_count, global=true)`: unacked deliveries on the channel; 0: unlimited.
    #[serde(default, skip_serializing_if = "is_default")]
    pub global_prefetch_count: u16,
    /// `no_ack`: the broker forgets each message as it sends it.
    #[serde(default, skip_serializing_if = "is_default")]
    pub auto_ack: bool,
    /// `basic.consume` arguments.
    #[serde(default, skip_serializing_if = "is_default")]
    pub arguments: ConsumeArguments,
    /// How long each message takes to process. Deliveries are processed one at a time, in order.
    #[serde(default = "default_processing")]
    pub processing: DurationDist,
    /// Settle messages carrying these headers this way (first matching rule wins).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub when_header: Vec<HeaderRule>,
    /// Otherwise, fail a message with this probability…
    #[serde(default, skip_serializing_if = "is_default")]
    pub fail_probability: f64,
    /// …settling a failed message so.
    #[serde(default = "default_on_failure")]
    pub on_failure: Settlement,
    /// Crash on finishing the Nth message (its processing and its handler's steps), before
    /// settling it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crash_after: Option<u64>,
    /// The steps run for each delivery after its `processing` and before it is settled (or,
    /// with `auto_ack`, forgotten): store writes and publishes, in order, each waiting for the
    /// one before. A step that cannot be carried out fails the delivery (`on_failure`).
    /// Empty: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub handler: Vec<crate::handler::HandlerStep>,
}

/// `basic.consume` arguments.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumeArguments {
    /// Consumer priority: higher-priority consumers are served first.
    #[serde(rename = "x-priority", default)]
    pub priority: i32,
}

fn default_processing() -> DurationDist {
    DurationDist::constant(SimDuration::from_ms(10))
}

fn default_on_failure() -> Settlement {
    Settlement::Nack { requeue: true }
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            prefetch_count: 0,
            global_prefetch_count: 0,
            auto_ack: false,
            arguments: ConsumeArguments::default(),
            processing: default_processing(),
            when_header: Vec::new(),
            fail_probability: 0.0,
            on_failure: default_on_failure(),
            crash_after: None,
            handler: Vec::new(),
        }
    }
}
