//! Key templates: how a handler step makes a store key (or an idempotency key) from the
//! message it is handling, written as text with `{…}` fields: `"charge:{correlation_id}"`,
//! `"order:{header.order_id}"`. `{{` and `}}` stand for literal braces.

use crate::message::{Envelope, HeaderValue};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt::Write as _;

/// A field a template reads from the message being handled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Field {
    /// `{message_id}`: the message's own id. A RabbitMQ redelivery keeps it; each attempt of
    /// an HTTP call is a new message, so it differs between a call and its retry.
    MessageId,
    /// `{correlation_id}`: the first message of its causal chain (for HTTP, the client's
    /// request: every attempt of every call made for it carries it).
    CorrelationId,
    /// `{routing_key}`: the routing key it was published with.
    RoutingKey,
    /// `{header.NAME}`: an application header.
    Header(String),
    /// `{job_id}`: the BullMQ job's id (a worker's handler only): its own `jobId`, or the
    /// number the queue gave it. Every attempt of the job, and a stalled job picked up again,
    /// keeps it.
    JobId,
    /// `{record_key}`: a Kafka record's key (a Kafka consumer's handler only).
    RecordKey,
    /// `{partition}`: the partition a Kafka record is in.
    Partition,
    /// `{offset}`: a Kafka record's offset in its partition. With `{partition}` (and the
    /// topic), it names the record for life: a record read again after a rebalance or a
    /// restart keeps it.
    Offset,
}

impl Field {
    fn parse(name: &str) -> Result<Field, String> {
        Ok(match name {
            "message_id" => Field::MessageId,
            "correlation_id" => Field::CorrelationId,
            "routing_key" => Field::RoutingKey,
            "job_id" => Field::JobId,
            "record_key" => Field::RecordKey,
            "partition" => Field::Partition,
            "offset" => Field::Offset,
            _ => match name.strip_prefix("header.") {
                Some(h) if !h.is_empty() => Field::Header(h.to_owned()),
                _ => {
                    return Err(format!(
                        "{{{name}}} is not a field a key can read; expected {{message_id}}, \
                         {{correlation_id}}, {{routing_key}}, {{header.NAME}}, {{job_id}}, \
                         {{record_key}}, {{partition}} or {{offset}}"
                    ))
                }
            },
        })
    }

    fn write(&self, out: &mut String) {
        match self {
            Field::MessageId => out.push_str("message_id"),
            Field::CorrelationId => out.push_str("correlation_id"),
            Field::RoutingKey => out.push_str("routing_key"),
            Field::JobId => out.push_str("job_id"),
            Field::RecordKey => out.push_str("record_key"),
            Field::Partition => out.push_str("partition"),
            Field::Offset => out.push_str("offset"),
            Field::Header(h) => {
                out.push_str("header.");
                out.push_str(h);
            }
        }
    }
}

/// One piece of a template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// Text taken as it is.
    Text(String),
    /// A field of the message.
    Field(Field),
}

/// A key made from the message a step handles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyTemplate {
    parts: Vec<Part>,
}

/// The longest template, in bytes.
pub const MAX_TEMPLATE_BYTES: usize = 256;

impl KeyTemplate {
    /// Reads a template; the error says what is wrong, in words.
    pub fn parse(text: &str) -> Result<KeyTemplate, String> {
        if text.is_empty() {
            return Err("a key template cannot be empty".into());
        }
        if text.len() > MAX_TEMPLATE_BYTES {
            return Err(format!(
                "a key template is at most {MAX_TEMPLATE_BYTES} bytes; this one is {}",
                text.len()
            ));
        }
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            match c {
                '{' if rest.starts_with("{{") => {
                    lit.push('{');
                    rest = &rest[2..];
                }
                '}' if rest.starts_with("}}") => {
                    lit.push('}');
                    rest = &rest[2..];
                }
                '{' => {
                    let Some(end) = rest.find('}') else {
                        return Err(format!(
                            "{rest:?}: a `{{` opens a field that no `}}` closes (write `{{{{` \
                             for a brace)"
                        ));
                    };
                    if !lit.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut lit)));
                    }
                    parts.push(Part::Field(Field::parse(&rest[1..end])?));
                    rest = &rest[end + 1..];
                }
                '}' => {
                    return Err("a `}` closes no field (write `}}` for a brace)".into());
                }
                c => {
                    lit.push(c);
                    rest = &rest[c.len_utf8()..];
                }
            }
        }
        if !lit.is_empty() {
            parts.push(Part::Text(lit));
        }
        Ok(KeyTemplate { parts })
    }

    /// Its pieces, in order.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// The headers it reads.
    pub fn headers(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Field(Field::Header(h)) => Some(h.as_str()),
            Part::Text(_) | Part::Field(_) => None,
        })
    }

    /// True if it reads the job's id.
    pub fn reads_job_id(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, Part::Field(Field::JobId)))
    }

    /// The first field it reads of a Kafka record (`{record_key}`, `{partition}`,
    /// `{offset}`), if any.
    pub fn record_field(&self) -> Option<&'static str> {
        self.parts.iter().find_map(|p| match p {
            Part::Field(Field::RecordKey) => Some("{record_key}"),
            Part::Field(Field::Partition) => Some("{partition}"),
            Part::Field(Field::Offset) => Some("{offset}"),
            Part::Text(_) | Part::Field(_) => None,
        })
    }

    /// True if it reads the routing key.
    pub fn reads_routing_key(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, Part::Field(Field::RoutingKey)))
    }

    /// The key for `msg`, handled as `input` (a job, a record); or what it reads that is not
    /// there.
    pub fn render(&self, msg: &Envelope, input: Input<'_>) -> Result<String, Missing> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Field(Field::MessageId) => {
                    let _ = write!(out, "{}", msg.id.0);
                }
                Part::Field(Field::CorrelationId) => {
                    let _ = write!(out, "{}", msg.correlation_id.0);
                }
                Part::Field(Field::RoutingKey) => out.push_str(&msg.routing_key),
                Part::Field(Field::Header(h)) => match msg.headers.get(h) {
                    Some(v) => write_header(&mut out, v),
                    None => return Err(Missing::Header(h.clone())),
                },
                Part::Field(Field::JobId) => match input {
                    Input::Job(id) => out.push_str(id),
                    Input::Message | Input::Record(_) => return Err(Missing::JobId),
                },
                Part::Field(Field::RecordKey) => {
                    out.push_str(record(input)?.key.ok_or(Missing::NullKey)?);
                }
                Part::Field(Field::Partition) => {
                    let _ = write!(out, "{}", record(input)?.partition);
                }
                Part::Field(Field::Offset) => {
                    let _ = write!(out, "{}", record(input)?.offset);
                }
            }
        }
        Ok(out)
    }
}

/// What a handler handles, besides the message itself: a BullMQ job's id, a Kafka record's
/// place.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Input<'a> {
    /// A request or a delivery: the message alone.
    #[default]
    Message,
    /// A BullMQ job, by its id.
    Job(&'a str),
    /// A Kafka record.
    Record(RecordInput<'a>),
}

/// A Kafka record as a handler sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordInput<'a> {
    /// Its key (`None`: a null key).
    pub key: Option<&'a str>,
    /// Its partition.
    pub partition: u32,
    /// Its offset.
    pub offset: u64,
}

/// The record `input` is, if it is one.
fn record(input: Input<'_>) -> Result<RecordInput<'_>, Missing> {
    match input {
        Input::Record(r) => Ok(r),
        Input::Message | Input::Job(_) => Err(Missing::Record),
    }
}

/// What a template reads that the message being handled does not have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Missing {
    /// A header it does not carry.
    Header(String),
    /// A job's id: the message is not a job.
    JobId,
    /// A record's key, partition or offset: the message is not a Kafka record.
    Record,
    /// A record's key: the record's key is null.
    NullKey,
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Missing::Header(h) => write!(f, "header {h:?}, which the message does not carry"),
            Missing::JobId => f.write_str("{job_id}, but the message is not a BullMQ job"),
            Missing::Record => {
                f.write_str("a Kafka record's field, but the message is not a record")
            }
            Missing::NullKey => f.write_str("{record_key}, but the record's key is null"),
        }
    }
}

fn write_header(out: &mut String, v: &HeaderValue) {
    match v.as_str() {
        Some(s) => out.push_str(s),
        // Other values as JSON writes them (`true`, `42`, `1.5`).
        None => out.push_str(&serde_json::to_string(v).unwrap_or_default()),
    }
}

impl std::fmt::Display for KeyTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(&t.replace('{', "{{").replace('}', "}}")),
                Part::Field(x) => {
                    out.push('{');
                    x.write(&mut out);
                    out.push('}');
                }
            }
        }
        f.write_str(&out)
    }
}

impl Serialize for KeyTemplate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for KeyTemplate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<KeyTemplate, D::Error> {
        let text = String::deserialize(d)?;
        KeyTemplate::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::MessageId;
    use crate::time::SimTime;

    fn msg() -> Envelope {
        let mut m = Envelope::new(MessageId(7), SimTime::ZERO);
        m.correlation_id = MessageId(3);
        m.routing_key = "eu.orders".into();
        m.headers
            .insert("order_id".into(), HeaderValue::Str("A-17".into()));
        m
    }

    #[test]
    fn renders_each_field() {
        let t = KeyTemplate::parse(
            "{message_id}/{correlation_id}/{routing_key}/{header.order_id}/{{x}}",
        )
        .unwrap();
        assert_eq!(
            t.render(&msg(), Input::Message).unwrap(),
            "7/3/eu.orders/A-17/{x}"
        );
        let j = KeyTemplate::parse("job:{job_id}").unwrap();
        assert_eq!(j.render(&msg(), Input::Job("42")).unwrap(), "job:42");
        assert_eq!(j.render(&msg(), Input::Message), Err(Missing::JobId));
        let r = KeyTemplate::parse("{record_key}@{partition}:{offset}").unwrap();
        let at = |key| {
            Input::Record(RecordInput {
                key,
                partition: 2,
                offset: 41,
            })
        };
        assert_eq!(r.render(&msg(), at(Some("o-9"))).unwrap(), "o-9@2:41");
        assert_eq!(r.render(&msg(), at(None)), Err(Missing::NullKey));
        assert_eq!(r.render(&msg(), Input::Job("1")), Err(Missing::Record));
        assert_eq!(r.to_string(), "{record_key}@{partition}:{offset}");
        assert_eq!(r.record_field(), Some("{record_key}"));
    }

    #[test]
    fn round_trips_through_its_text() {
        for text in [
            "charge:{correlation_id}",
            "{{lit}}-{header.a}",
            "plain",
            "{job_id}",
        ] {
            let t = KeyTemplate::parse(text).unwrap();
            assert_eq!(t.to_string(), text);
            assert_eq!(KeyTemplate::parse(&t.to_string()).unwrap(), t);
        }
    }

    #[test]
    fn a_missing_header_names_it() {
        let t = KeyTemplate::parse("o:{header.tenant}").unwrap();
        assert_eq!(
            t.render(&msg(), Input::Message),
            Err(Missing::Header("tenant".into()))
        );
    }

    #[test]
    fn bad_templates_say_why() {
        let e = KeyTemplate::parse("{order}").unwrap_err();
        assert!(e.contains("{order} is not a field"), "{e}");
        let e = KeyTemplate::parse("a{message_id").unwrap_err();
        assert!(e.contains("no `}` closes"), "{e}");
        let e = KeyTemplate::parse("a}b").unwrap_err();
        assert!(e.contains("closes no field"), "{e}");
        assert!(KeyTemplate::parse("").is_err());
        assert!(KeyTemplate::parse("{header.}").is_err());
        assert!(KeyTemplate::parse(&"x".repeat(300)).is_err());
    }
}
