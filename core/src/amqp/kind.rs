//! The RabbitMQ model's node kinds: exchanges, queues and consumers, each with its settings
//! under RabbitMQ's names. In a scenario they are `NodeKind::Amqp(AmqpKind)`, written as
//! `"kind": "exchange"` (or `"queue"`, `"consumer"`) and `"config"`.

use super::config::{ConsumerConfig, ExchangeConfig, QueueConfig};
use crate::scenario::Diagnostic;
use serde_json::Value;

/// A node of the RabbitMQ model.
#[derive(Clone, Debug, PartialEq)]
pub enum AmqpKind {
    /// An exchange: routes what is published to it along its bindings.
    Exchange(ExchangeConfig),
    /// A queue: holds messages until a consumer takes them. Boxed: its arguments would make
    /// every node larger (the running queue keeps its own copy, `QueueState::config`).
    Queue(Box<QueueConfig>),
    /// A client consuming from queues on one channel, settling each delivery.
    Consumer(ConsumerConfig),
}

impl AmqpKind {
    /// Every kind name of the model, as documents write them.
    pub const NAMES: &'static [&'static str] = &["exchange", "queue", "consumer"];

    /// The kind's name as written in documents.
    pub fn name(&self) -> &'static str {
        match self {
            AmqpKind::Exchange(_) => "exchange",
            AmqpKind::Queue(_) => "queue",
            AmqpKind::Consumer(_) => "consumer",
        }
    }

    /// Reads a node of kind `name` from its `config`, reporting errors under `path`; `None` if
    /// `name` is not one of this model's kinds.
    pub(crate) fn parse(
        name: &str,
        config: Value,
        path: &str,
    ) -> Option<Result<AmqpKind, Diagnostic>> {
        use crate::scenario::typed;
        Some(match name {
            "exchange" => typed(config, path).map(AmqpKind::Exchange),
            "queue" => typed(config, path).map(|q| AmqpKind::Queue(Box::new(q))),
            "consumer" => typed(config, path).map(AmqpKind::Consumer),
            _ => return None,
        })
    }

    /// Writes the kind's `config` object.
    pub(crate) fn serialize_config<M: serde::ser::SerializeMap>(
        &self,
        map: &mut M,
    ) -> Result<(), M::Error> {
        match self {
            AmqpKind::Exchange(c) => map.serialize_entry("config", c),
            AmqpKind::Queue(c) => map.serialize_entry("config", c),
            AmqpKind::Consumer(c) => map.serialize_entry("config", c),
        }
    }
}

/// What an edge of the RabbitMQ model is, from the kinds at its ends (`rules::edge_rule`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EdgeKind {
    /// A producer or relay publishes to an exchange.
    Publish,
    /// A producer or relay publishes to a queue, through the default exchange (with the
    /// queue's name as the routing key).
    PublishDefault,
    /// An exchange's binding to a queue (`queue.bind`), with a routing key and arguments.
    Binding,
    /// An exchange's binding to another exchange (`exchange.bind`, "e2e"), with a routing key
    /// and arguments.
    ExchangeBinding,
    /// A queue's `basic.consume` by a consumer.
    Consume,
}

impl EdgeKind {
    /// What the edge means, in a few words.
    pub fn meaning(self) -> &'static str {
        match self {
            EdgeKind::Publish => "publishes to",
            EdgeKind::PublishDefault => "publishes to (through the default exchange)",
            EdgeKind::Binding => "binds a queue",
            EdgeKind::ExchangeBinding => "binds an exchange (e2e)",
            EdgeKind::Consume => "consumes from",
        }
    }

    /// True for a binding (to a queue or an exchange): it has a routing key and arguments.
    pub fn is_binding(self) -> bool {
        match self {
            EdgeKind::Binding | EdgeKind::ExchangeBinding => true,
            EdgeKind::Publish | EdgeKind::PublishDefault | EdgeKind::Consume => false,
        }
    }

    /// A short class name for drawing.
    pub fn class(self) -> &'static str {
        match self {
            EdgeKind::Publish | EdgeKind::PublishDefault => "publish",
            EdgeKind::Binding | EdgeKind::ExchangeBinding => "binding",
            EdgeKind::Consume => "consume",
        }
    }

    /// Bindings route inside the broker and take no time; the rest cross the network.
    pub fn has_latency(self) -> bool {
        match self {
            EdgeKind::Publish | EdgeKind::PublishDefault | EdgeKind::Consume => true,
            EdgeKind::Binding | EdgeKind::ExchangeBinding => false,
        }
    }
}

/// A handler step that publishes a message: `{"publish": "orders-x", "routing_key":
/// "order.{correlation_id}", "headers": {"order": "{correlation_id}"}}`. The message continues
/// the handled message's causal chain (its correlation id, with the handled message as its
/// cause). `basic.publish` does not wait: the step ends as the message leaves.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishStep {
    /// The exchange, or a queue (through the default exchange), by name; the handler's node
    /// needs an edge to it.
    pub publish: String,
    /// The routing key, made from the handled message; none: `""` (a queue's name, through
    /// the default exchange).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_key: Option<crate::data::KeyTemplate>,
    /// Application headers, each made from the handled message.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub headers: std::collections::BTreeMap<String, crate::data::KeyTemplate>,
}
