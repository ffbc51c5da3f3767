//! The one message envelope every paradigm shares.

use crate::id::MessageId;
use crate::time::SimTime;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A header value, as AMQP tables and Kafka/BullMQ metadata need them.
///
/// In JSON: `null` is `Void` (presence only), integers stay integers, and `1.0` stays a float,
/// because RabbitMQ 4.x header matching tells `1` and `1.0` apart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum HeaderValue {
    /// No value: the header is present and nothing more.
    Void,
    /// A boolean.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string.
    Str(String),
    /// An array of values.
    Array(Vec<HeaderValue>),
    /// A nested table.
    Table(BTreeMap<String, HeaderValue>),
}

impl HeaderValue {
    /// The string, if it is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            HeaderValue::Str(s) => Some(s),
            HeaderValue::Void
            | HeaderValue::Bool(_)
            | HeaderValue::Int(_)
            | HeaderValue::Float(_)
            | HeaderValue::Array(_)
            | HeaderValue::Table(_) => None,
        }
    }

    /// The string, if it is one, taken out.
    pub fn into_string(self) -> Option<String> {
        match self {
            HeaderValue::Str(s) => Some(s),
            HeaderValue::Void
            | HeaderValue::Bool(_)
            | HeaderValue::Int(_)
            | HeaderValue::Float(_)
            | HeaderValue::Array(_)
            | HeaderValue::Table(_) => None,
        }
    }
}

/// Message headers, ordered by key so that iteration and serialisation are deterministic.
pub type Headers = BTreeMap<String, HeaderValue>;

/// What a message looks like before it exists: the shape a producer or a scripted publish makes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MessageTemplate {
    /// The routing key (AMQP), used by exchanges; ignored by plain nodes.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub routing_key: String,
    /// Application headers.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: Headers,
    /// The body size in bytes; queues count it against `x-max-length-bytes`.
    pub body_bytes: u32,
    /// AMQP `expiration`: a per-message TTL in milliseconds, written as a string (`"60000"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration: Option<String>,
    /// AMQP `priority`, 0 to 255.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
    /// A poison message: no consumer can process it. Every (manual-ack) consumer that processes
    /// it settles it with its `on_failure` settlement, whatever its other rules say. Not an AMQP
    /// property: a marker of the simulated application's data.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub poison: bool,
    /// Kafka: the record's key; absent, a null key (the sticky partitioner places it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Kafka: the partition to send the record to, whatever its key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition: Option<u32>,
    /// Kafka: a tombstone, a record with a key and a null value (compaction then removes the
    /// key).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tombstone: bool,
    /// A BullMQ job (its name, options and what its processor does): only a `job_producer`'s
    /// adds take it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<Box<crate::bullmq::JobTemplate>>,
}

impl MessageTemplate {
    /// The `expiration` in milliseconds, or why it is not a valid one.
    pub fn expiration_ms(&self) -> Result<Option<u64>, String> {
        match &self.expiration {
            None => Ok(None),
            Some(s) if !s.is_empty() && s.len() <= 10 && s.bytes().all(|b| b.is_ascii_digit()) => {
                match s.parse::<u64>() {
                    Ok(v) if v <= u64::from(u32::MAX) => Ok(Some(v)),
                    _ => Err(format!("{s:?} is out of range: at most 4294967295 ms")),
                }
            }
            Some(s) => Err(format!(
                "{s:?} is not a TTL: expected a string of digits, in milliseconds (\"60000\")"
            )),
        }
    }
}

/// Where a message was published, and with which flags; cleared once it is routed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PublishFlags {
    /// The publishing node.
    pub publisher: crate::id::NodeId,
    /// `mandatory`: return the message if it routes nowhere.
    pub mandatory: bool,
    /// The publisher-confirm sequence number, when the publisher uses confirms.
    pub confirm_seq: Option<u64>,
}

/// A message in flight or at rest somewhere in the simulation.
///
/// Serialises (for inspectors) with node ids as numbers and times as exact durations since the
/// start of the run (`"1500ms"`), as scenario documents write them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Envelope {
    /// Unique within the run.
    pub id: MessageId,
    /// The id of the first message in the causal chain; equal to `id` for a fresh publish.
    pub correlation_id: MessageId,
    /// The message that caused this one, if any.
    pub causation_id: Option<MessageId>,
    /// The routing key.
    pub routing_key: String,
    /// Application headers.
    pub headers: Headers,
    /// The body size in bytes.
    pub body_bytes: u32,
    /// When the message was first published.
    pub created_at: SimTime,
    /// When it last arrived somewhere (equal to `created_at` until its first arrival).
    pub arrived_at: SimTime,
    /// How many edges it has crossed so far.
    pub hops: u32,
    /// AMQP `expiration` in milliseconds (removed when the message is dead-lettered).
    pub expiration_ms: Option<u64>,
    /// AMQP `priority`.
    pub priority: Option<u8>,
    /// The exchange it was last published to; `None` is the default exchange (`""`).
    pub exchange: Option<crate::id::NodeId>,
    /// Its dead-letter history, most recent first: the structured form of `x-death`.
    pub deaths: Vec<crate::amqp::Death>,
    /// Set while the message travels from its publisher to the broker.
    pub publish: Option<PublishFlags>,
    /// `BCC` routing keys, taken off the headers when the message entered the broker.
    pub bcc: Vec<String>,
    /// A dead-letter routing key replaced its routing keys: it routes by `routing_key` alone,
    /// whatever its `CC` header says.
    pub keys_replaced: bool,
    /// A poison message (from [`MessageTemplate::poison`]): every consumer fails it. Copies
    /// made by routing and dead-lettering keep it.
    pub poison: bool,
}

impl Envelope {
    /// A message with no key, headers or body, made at `now`, starting its own causal chain:
    /// the fields a model sets are filled in with `..Envelope::new(id, now)`.
    pub fn new(id: MessageId, now: SimTime) -> Self {
        Envelope {
            id,
            correlation_id: id,
            causation_id: None,
            routing_key: String::new(),
            headers: Headers::default(),
            body_bytes: 0,
            created_at: now,
            arrived_at: now,
            hops: 0,
            expiration_ms: None,
            priority: None,
            exchange: None,
            deaths: Vec::new(),
            publish: None,
            bcc: Vec::new(),
            keys_replaced: false,
            poison: false,
        }
    }

    /// A fresh message made from `template` at `now`, starting its own causal chain.
    pub fn from_template(id: MessageId, template: &MessageTemplate, now: SimTime) -> Self {
        Envelope {
            id,
            correlation_id: id,
            causation_id: None,
            routing_key: template.routing_key.clone(),
            headers: template.headers.clone(),
            body_bytes: template.body_bytes,
            created_at: now,
            arrived_at: now,
            hops: 0,
            expiration_ms: template.expiration_ms().ok().flatten(),
            priority: template.priority,
            exchange: None,
            deaths: Vec::new(),
            publish: None,
            bcc: Vec::new(),
            keys_replaced: false,
            poison: template.poison,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_keep_int_and_float_apart() {
        let h: Headers =
            serde_json::from_str(r#"{"a":1,"b":1.0,"c":null,"d":"x","e":[true]}"#).unwrap();
        assert_eq!(h["a"], HeaderValue::Int(1));
        assert_eq!(h["b"], HeaderValue::Float(1.0));
        assert_eq!(h["c"], HeaderValue::Void);
        assert_eq!(h["d"], HeaderValue::Str("x".into()));
        assert_eq!(h["e"], HeaderValue::Array(vec![HeaderValue::Bool(true)]));
        assert_ne!(h["a"], h["b"]);
    }
}
