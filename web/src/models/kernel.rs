//! The kernel's kinds in the page: producers, relays and sinks.

use super::{Face, Fault, PaletteItem, Shape};
use crate::fields::{f, Field, FieldType::*};
use serde_json::json;
use switchboard_core::scenario::NodeKind;
use switchboard_core::NodeMetrics;
use yew::prelude::*;

/// The kernel's palette items.
pub const PALETTE: &[PaletteItem] = &[
    PaletteItem {
        label: "Producer",
        kind: "producer",
        variant: None,
        stem: "producer",
    },
    PaletteItem {
        label: "Relay",
        kind: "relay",
        variant: None,
        stem: "relay",
    },
    PaletteItem {
        label: "Sink",
        kind: "sink",
        variant: None,
        stem: "sink",
    },
];

/// The settings a new node of a palette item starts with (`None`: not one of the kernel's).
pub fn default_config(item: &PaletteItem) -> Option<serde_json::Value> {
    Some(match item.kind {
        "producer" => json!({ "rate_per_s": 2, "message": { "routing_key": "task" } }),
        "relay" => json!({ "delay": "100ms" }),
        "sink" => json!({}),
        _ => return None,
    })
}

/// A producer's settings.
pub const PRODUCER: &[Field] = &[
    f("rate_per_s", &["rate_per_s"], Float, "messages per second"),
    f(
        "arrival",
        &["arrival"],
        Choice(&["constant", "poisson"]),
        "evenly spaced, or random gaps",
    ),
    f(
        "limit",
        &["limit"],
        Int,
        "stop after this many (empty: never)",
    ),
    f("start", &["start"], Duration, "when the first message goes"),
    f(
        "routing_key",
        &["message", "routing_key"],
        Text,
        "the key each message is published with",
    ),
    f(
        "headers",
        &["message", "headers"],
        Json,
        "application headers, as a JSON object",
    ),
    f("body_bytes", &["message", "body_bytes"], Int, "body size"),
    f(
        "expiration",
        &["message", "expiration"],
        Text,
        "per-message TTL in ms (a string)",
    ),
    f(
        "priority",
        &["message", "priority"],
        Int,
        "message priority (0–255)",
    ),
    f(
        "mandatory",
        &["mandatory"],
        Bool,
        "return unroutable messages (basic.return)",
    ),
    f(
        "publisher_confirms",
        &["publisher_confirms"],
        Bool,
        "confirm.select: the broker acks each publish",
    ),
];

/// A relay's settings.
pub const RELAY: &[Field] = &[f(
    "delay",
    &["delay"],
    Duration,
    "time held before forwarding",
)];

/// The settings of an edge that crosses the network (a hop, a publish, a `basic.consume`).
pub const WIRE: &[Field] = &[f("latency", &["latency"], Duration, "time on the wire")];

/// The inspector's fields of a kernel kind.
pub fn fields(kind: &NodeKind) -> &'static [Field] {
    match kind {
        NodeKind::Producer(_) => PRODUCER,
        NodeKind::Relay(_) => RELAY,
        NodeKind::Sink(_) => &[],
        NodeKind::Amqp(_)
        | NodeKind::Http(_)
        | NodeKind::Kafka(_)
        | NodeKind::Bullmq(_)
        | NodeKind::Data(_) => {
            unreachable!("a model's kind")
        }
    }
}

/// The faults a kernel kind takes.
pub fn faults(kind: &NodeKind) -> &'static [Fault] {
    match kind {
        NodeKind::Producer(_) => &[Fault::Flood, Fault::Poison, Fault::CrashRestart],
        NodeKind::Relay(_) | NodeKind::Sink(_) => &[Fault::CrashRestart],
        NodeKind::Amqp(_)
        | NodeKind::Http(_)
        | NodeKind::Kafka(_)
        | NodeKind::Bullmq(_)
        | NodeKind::Data(_) => {
            unreachable!("a model's kind")
        }
    }
}

/// Whether a kernel kind sends messages on (and so has a connection handle).
pub fn sends(kind: &NodeKind) -> bool {
    match kind {
        NodeKind::Producer(_) | NodeKind::Relay(_) => true,
        NodeKind::Sink(_) => false,
        NodeKind::Amqp(_)
        | NodeKind::Http(_)
        | NodeKind::Kafka(_)
        | NodeKind::Bullmq(_)
        | NodeKind::Data(_) => {
            unreachable!("a model's kind")
        }
    }
}

/// How a kernel node is drawn.
pub fn face(kind: &NodeKind, m: &NodeMetrics, c: (f64, f64)) -> Face {
    let (x, y) = c;
    let counts = |text: String| {
        html! { <text class="counts" x={x.to_string()} y={(y + 22.0).to_string()}>{ text }</text> }
    };
    match kind {
        NodeKind::Producer(p) => Face {
            shape: Shape::Box,
            subtitle: format!("producer · {}/s", p.rate_per_s),
            body: counts(format!("{} published", m.stats.published)),
            status: format!("{} published", m.stats.published),
        },
        NodeKind::Relay(_) | NodeKind::Sink(_) => Face {
            shape: Shape::Box,
            subtitle: kind.name().to_owned(),
            body: counts(format!("{} held", m.held)),
            status: format!("{} held", m.held),
        },
        NodeKind::Amqp(_)
        | NodeKind::Http(_)
        | NodeKind::Kafka(_)
        | NodeKind::Bullmq(_)
        | NodeKind::Data(_) => {
            unreachable!("a model's kind")
        }
    }
}
