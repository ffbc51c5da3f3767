//! A span: one stretch of a message's life (a flight, a wait, an attempt, a store write), and
//! the ids a W3C `traceparent` carries.

use crate::id::{MessageId, NodeId};
use crate::message::Envelope;
use crate::time::SimTime;

/// What a span stands for. The first five are a message's own span, the parent of every
/// stretch of its life; the others are those stretches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Segment {
    /// A message published by a producer or a handler (RabbitMQ, or a plain hop).
    Message,
    /// A client's HTTP request: from its first attempt to its end, retries included.
    Request,
    /// One HTTP attempt (a call), from sending it to its answer or its timeout.
    Call,
    /// A BullMQ job: from `Queue.add` to its last attempt.
    Job,
    /// A Kafka record: from `send` to the last group that processed it.
    Record,
    /// On an edge: the network.
    Transit,
    /// Ready in a RabbitMQ queue, or queued at an HTTP service waiting for a free slot.
    Queued,
    /// Delivered to a consumer, waiting in its prefetch buffer for its turn.
    Buffered,
    /// A record in a partition's log, until a group's consumer fetched it.
    InLog,
    /// A BullMQ job waiting for a worker.
    Waiting,
    /// A BullMQ job delayed: its `delay`, or the backoff after a failed attempt.
    Delayed,
    /// An HTTP caller waiting out its backoff before the next attempt.
    Backoff,
    /// A consumer (RabbitMQ or Kafka) or a relay processing the message.
    Process,
    /// One attempt of a BullMQ job at a worker.
    Attempt,
    /// An HTTP service handling a request.
    Server,
    /// A handler's write to a store, until the store applied it.
    Write,
    /// A handler's read from a store, until the store served it.
    Read,
    /// A call refused before it was sent (a breaker open, a bulkhead full, a rate limit).
    Refused,
}

/// OpenTelemetry's span kinds, numbered as OTLP numbers them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpanKind {
    /// `SPAN_KIND_INTERNAL`.
    Internal = 1,
    /// `SPAN_KIND_SERVER`.
    Server = 2,
    /// `SPAN_KIND_CLIENT`.
    Client = 3,
    /// `SPAN_KIND_PRODUCER`.
    Producer = 4,
    /// `SPAN_KIND_CONSUMER`.
    Consumer = 5,
}

impl Segment {
    /// Whether this is a message's own span (a request, a call, a job, a record): its end is
    /// the end of the last stretch of its life.
    pub fn is_message(self) -> bool {
        match self {
            Segment::Message
            | Segment::Request
            | Segment::Call
            | Segment::Job
            | Segment::Record => true,
            Segment::Transit
            | Segment::Queued
            | Segment::Buffered
            | Segment::InLog
            | Segment::Waiting
            | Segment::Delayed
            | Segment::Backoff
            | Segment::Process
            | Segment::Attempt
            | Segment::Server
            | Segment::Write
            | Segment::Read
            | Segment::Refused => false,
        }
    }

    /// The span kind OpenTelemetry's conventions give it.
    pub fn kind(self) -> SpanKind {
        match self {
            Segment::Message | Segment::Job | Segment::Record => SpanKind::Producer,
            Segment::Request | Segment::Call | Segment::Write | Segment::Read => SpanKind::Client,
            Segment::Server => SpanKind::Server,
            Segment::Process | Segment::Attempt => SpanKind::Consumer,
            Segment::Transit
            | Segment::Queued
            | Segment::Buffered
            | Segment::InLog
            | Segment::Waiting
            | Segment::Delayed
            | Segment::Backoff
            | Segment::Refused => SpanKind::Internal,
        }
    }

    /// A short word for it, as the waterfall and the export name it.
    pub fn label(self) -> &'static str {
        match self {
            Segment::Message => "message",
            Segment::Request => "request",
            Segment::Call => "call",
            Segment::Job => "job",
            Segment::Record => "record",
            Segment::Transit => "network",
            Segment::Queued => "queued",
            Segment::Buffered => "prefetched",
            Segment::InLog => "in log",
            Segment::Waiting => "waiting",
            Segment::Delayed => "delayed",
            Segment::Backoff => "backoff",
            Segment::Process => "process",
            Segment::Attempt => "attempt",
            Segment::Server => "handle",
            Segment::Write => "write",
            Segment::Read => "read",
            Segment::Refused => "refused",
        }
    }
}

/// One span of a trace. Spans refer to their parent by index in [`super::Trace::spans`]; a
/// parent always comes before its children.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    /// The message whose life it is part of.
    pub message: MessageId,
    /// Its number among that message's spans (0: the message's own span); with the message,
    /// it makes the span id.
    pub ordinal: u32,
    /// Its parent's index in the trace, if it has one (the trace's root has none).
    pub parent: Option<u32>,
    /// What it stands for.
    pub what: Segment,
    /// Where it happened: the node that waited, processed or sent.
    pub node: Option<NodeId>,
    /// The other end: where a flight went, the store written, the service called.
    pub peer: Option<NodeId>,
    /// When it began.
    pub start: SimTime,
    /// When it ended (`None`: still going on). A message's own span ends with the last
    /// stretch of its life (see [`super::Trace::ends`]).
    pub end: Option<SimTime>,
    /// It failed: an attempt threw, a request failed, a message was dropped.
    pub error: bool,
    /// A detail in words: the attempt's number, the key written, why it failed.
    pub detail: Option<Box<str>>,
}

/// A 64-bit mix (splitmix64's finaliser): ids that look random, from the seed and counters.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The W3C trace id of the chain whose correlation id is `correlation`, in a run with `seed`:
/// 16 bytes, never all zero.
pub fn trace_id(seed: u64, correlation: MessageId) -> [u8; 16] {
    let hi = mix(seed ^ mix(correlation.0));
    let lo = mix(hi ^ correlation.0.rotate_left(17)) | 1;
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&hi.to_be_bytes());
    id[8..].copy_from_slice(&lo.to_be_bytes());
    id
}

/// The span id of span `ordinal` of `message`'s life, in a run with `seed`: 8 bytes, never
/// all zero. A message's own span is ordinal 0, so its id is known wherever the message is.
pub fn span_id(seed: u64, message: MessageId, ordinal: u32) -> [u8; 8] {
    let z = mix(mix(seed.rotate_left(29) ^ message.0) ^ u64::from(ordinal));
    (if z == 0 { 1 } else { z }).to_be_bytes()
}

/// Bytes as lowercase hex, as W3C trace context and OTLP/JSON write ids.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// The W3C `traceparent` a message carries in a run with `seed`: version 00, its chain's trace
/// id, its own span's id as the parent (the receiver's span is that span's child), and the
/// sampled flag: `00-<32 hex>-<16 hex>-01`. It is derived, not stored: the same message always
/// carries the same one, in AMQP headers, job data, record headers and HTTP headers alike.
pub fn traceparent(seed: u64, message: &Envelope) -> String {
    format!(
        "00-{}-{}-01",
        hex(&trace_id(seed, message.correlation_id)),
        hex(&span_id(seed, message.id, 0))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_follows_the_w3c_shape() {
        let mut msg = Envelope::new(MessageId(9), SimTime(0));
        msg.correlation_id = MessageId(4);
        let tp = traceparent(7, &msg);
        let parts: Vec<&str> = tp.split('-').collect();
        assert_eq!(parts.len(), 4, "{tp}");
        assert_eq!(parts[0], "00");
        assert_eq!(parts[1].len(), 32);
        assert_eq!(parts[2].len(), 16);
        assert_eq!(parts[3], "01");
        assert!(tp.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit()));
        assert!(!tp.bytes().any(|b| b.is_ascii_uppercase()));
        // The trace id is the chain's: another message of the same chain shares it.
        let mut other = Envelope::new(MessageId(10), SimTime(0));
        other.correlation_id = MessageId(4);
        assert_eq!(traceparent(7, &other)[..35], tp[..35]);
        assert_ne!(traceparent(7, &other)[36..52], tp[36..52]);
        // Another seed, other ids.
        assert_ne!(traceparent(8, &msg), tp);
    }

    #[test]
    fn hex_writes_two_lowercase_digits_per_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
    }
}
