//! The RabbitMQ model in the page: exchanges, queues and consumers, and its edges.

use super::{Face, Fault, PaletteItem, Shape};
use crate::fields::{f, Field, FieldType::*};
use crate::view::{slots, Slot, NODE_HALF_H, NODE_HALF_W};
use serde_json::json;
use switchboard_core::amqp::{AmqpKind, EdgeKind, QueueType};
use switchboard_core::scenario::NodeSpec;
use switchboard_core::{NodeMetrics, SimTime};
use yew::prelude::*;

/// Slots drawn in a queue's tube.
pub const QUEUE_SLOTS: usize = 12;
/// Prefetch slots drawn in a consumer.
pub const WINDOW_SLOTS: usize = 10;

/// The model's palette items.
pub const PALETTE: &[PaletteItem] = &[
    PaletteItem {
        label: "Direct exchange",
        kind: "exchange",
        variant: Some("direct"),
        stem: "direct-x",
    },
    PaletteItem {
        label: "Fanout exchange",
        kind: "exchange",
        variant: Some("fanout"),
        stem: "fanout-x",
    },
    PaletteItem {
        label: "Topic exchange",
        kind: "exchange",
        variant: Some("topic"),
        stem: "topic-x",
    },
    PaletteItem {
        label: "Headers exchange",
        kind: "exchange",
        variant: Some("headers"),
        stem: "headers-x",
    },
    PaletteItem {
        label: "Queue",
        kind: "queue",
        variant: None,
        stem: "queue",
    },
    PaletteItem {
        label: "Consumer",
        kind: "consumer",
        variant: None,
        stem: "consumer",
    },
];

/// The settings a new node of a palette item starts with (`None`: not one of this model's).
pub fn default_config(item: &PaletteItem) -> Option<serde_json::Value> {
    Some(match item.kind {
        "exchange" => json!({ "type": item.variant.unwrap_or("direct") }),
        "queue" => json!({}),
        "consumer" => json!({ "prefetch_count": 5, "processing": "300ms" }),
        _ => return None,
    })
}

/// An exchange's settings.
pub const EXCHANGE: &[Field] = &[
    f(
        "type",
        &["type"],
        Choice(&["direct", "fanout", "topic", "headers"]),
        "how it routes",
    ),
    f(
        "alternate-exchange",
        &["arguments", "alternate-exchange"],
        Text,
        "where unroutable messages go",
    ),
    f(
        "internal",
        &["internal"],
        Bool,
        "takes messages only from other exchanges, never from clients",
    ),
];

/// A queue's settings.
pub const QUEUE: &[Field] = &[
    f(
        "x-queue-type",
        &["arguments", "x-queue-type"],
        Choice(&["classic", "quorum"]),
        "classic or quorum",
    ),
    f("durable", &["durable"], Bool, "survives a broker restart"),
    f(
        "exclusive",
        &["exclusive"],
        Bool,
        "owned by its one consumer's connection",
    ),
    f(
        "auto_delete",
        &["auto_delete"],
        Bool,
        "deleted when its last consumer leaves",
    ),
    f(
        "x-message-ttl",
        &["arguments", "x-message-ttl"],
        Int,
        "ms a message may wait",
    ),
    f(
        "x-expires",
        &["arguments", "x-expires"],
        Int,
        "ms unused before the queue is deleted",
    ),
    f(
        "x-max-length",
        &["arguments", "x-max-length"],
        Int,
        "most ready messages",
    ),
    f(
        "x-max-length-bytes",
        &["arguments", "x-max-length-bytes"],
        Int,
        "most ready body bytes",
    ),
    f(
        "x-overflow",
        &["arguments", "x-overflow"],
        Choice(&["drop-head", "reject-publish", "reject-publish-dlx"]),
        "what a full queue does",
    ),
    f(
        "x-dead-letter-exchange",
        &["arguments", "x-dead-letter-exchange"],
        Text,
        "where dead letters are published",
    ),
    f(
        "x-dead-letter-routing-key",
        &["arguments", "x-dead-letter-routing-key"],
        Text,
        "their new routing key",
    ),
    f(
        "x-max-priority",
        &["arguments", "x-max-priority"],
        Int,
        "classic: highest priority",
    ),
    f(
        "x-delivery-limit",
        &["arguments", "x-delivery-limit"],
        Int,
        "quorum: failed deliveries before dead-lettering",
    ),
    f(
        "x-single-active-consumer",
        &["arguments", "x-single-active-consumer"],
        Bool,
        "one consumer at a time",
    ),
];

/// A consumer's settings.
pub const CONSUMER: &[Field] = &[
    f(
        "prefetch_count",
        &["prefetch_count"],
        Int,
        "basic.qos: unacked per consumer (0: unlimited)",
    ),
    f(
        "global_prefetch_count",
        &["global_prefetch_count"],
        Int,
        "basic.qos global: unacked per channel",
    ),
    f("auto_ack", &["auto_ack"], Bool, "no_ack: forgotten as sent"),
    f(
        "x-priority",
        &["arguments", "x-priority"],
        Int,
        "consumer priority",
    ),
    f(
        "processing",
        &["processing"],
        Duration,
        "time to process one message",
    ),
    f(
        "fail_probability",
        &["fail_probability"],
        Float,
        "chance a message fails (0–1)",
    ),
    f(
        "on_failure",
        &["on_failure"],
        Json,
        "how a failure is settled",
    ),
    f(
        "crash_after",
        &["crash_after"],
        Int,
        "crash on finishing the Nth message",
    ),
    f(
        "when_header",
        &["when_header"],
        Json,
        "settle messages with these headers so",
    ),
    f(
        "handler",
        &["handler"],
        Json,
        "steps before the ack: [{\"call\": \"bank\"}, {\"write\": \"db\", \"key\": \"charge:{message_id}\", \"idempotency_key\": \"{message_id}\"}, {\"publish\": \"events\", \"routing_key\": \"{routing_key}\"}, {\"read\": \"view\", \"key\": \"…\"}, {\"add_job\": \"emails\", \"job_id\": \"mail-{message_id}\"}, {\"produce\": \"paid\", \"key\": \"{message_id}\"}, {\"fail\": {\"header\": \"x-bad\"}}] (empty: none)",
    ),
];

/// A binding's settings.
pub const BINDING: &[Field] = &[
    f("routing_key", &["routing_key"], Text, "the binding key"),
    f(
        "arguments",
        &["arguments"],
        Json,
        "binding arguments (headers: x-match and values)",
    ),
];

/// The inspector's fields of one of the model's kinds.
pub fn fields(kind: &AmqpKind) -> &'static [Field] {
    match kind {
        AmqpKind::Exchange(_) => EXCHANGE,
        AmqpKind::Queue(_) => QUEUE,
        AmqpKind::Consumer(_) => CONSUMER,
    }
}

/// The inspector's fields of one of the model's edges.
pub fn edge_fields(kind: EdgeKind) -> &'static [Field] {
    match kind {
        EdgeKind::Binding | EdgeKind::ExchangeBinding => BINDING,
        EdgeKind::Publish | EdgeKind::PublishDefault | EdgeKind::Consume => super::kernel::WIRE,
    }
}

/// The faults one of the model's kinds takes: the broker's exchanges and queues are not
/// simulated as crashing (delete them instead); a consumer crashes, pauses and slows down.
pub fn faults(kind: &AmqpKind) -> &'static [Fault] {
    match kind {
        AmqpKind::Exchange(_) | AmqpKind::Queue(_) => &[],
        AmqpKind::Consumer(_) => &[Fault::CrashRestart, Fault::PauseResume, Fault::Slow],
    }
}

/// A consumer ten times slower (the Slow fault), as new settings.
pub fn slowed(spec: &NodeSpec, kind: &AmqpKind) -> Option<NodeSpec> {
    match kind {
        AmqpKind::Consumer(c) => {
            let mut slow = c.clone();
            slow.processing = super::scaled(&c.processing, 10);
            Some(NodeSpec {
                kind: switchboard_core::scenario::NodeKind::Amqp(AmqpKind::Consumer(slow)),
                ..spec.clone()
            })
        }
        AmqpKind::Exchange(_) | AmqpKind::Queue(_) => None,
    }
}

/// Whether one of the model's kinds sends messages on (and so has a connection handle): a
/// consumer's handler writes stores and publishes.
pub fn sends(kind: &AmqpKind) -> bool {
    match kind {
        AmqpKind::Exchange(_) | AmqpKind::Queue(_) | AmqpKind::Consumer(_) => true,
    }
}

/// Connecting from one of the model's kinds asks for a binding's routing key or arguments:
/// the exchange's type, for the dialog.
pub fn binding_asks(kind: &AmqpKind) -> Option<&'static str> {
    match kind {
        AmqpKind::Exchange(x) => Some(x.kind.as_str()),
        AmqpKind::Queue(_) | AmqpKind::Consumer(_) => None,
    }
}

/// How one of the model's nodes is drawn: an exchange as a router, a queue as a tube of
/// message slots, a consumer with its prefetch window and the progress of its delivery.
pub fn face(kind: &AmqpKind, m: &NodeMetrics, c: (f64, f64), now: SimTime, is_dlq: bool) -> Face {
    let (cx, cy) = c;
    let (x0, w) = (cx - NODE_HALF_W, 2.0 * NODE_HALF_W);
    let _ = NODE_HALF_H;
    match kind {
        AmqpKind::Exchange(x) => Face {
            shape: Shape::Hexagon,
            subtitle: format!(
                "{}{} exchange",
                if x.internal { "internal " } else { "" },
                x.kind.as_str()
            ),
            body: html! {},
            status: String::new(),
        },
        AmqpKind::Queue(q) => {
            let (ready, unacked) = m.queue().map_or((0, 0), |q| (q.ready, q.unacked));
            let (cells, _) = slots(ready, unacked, QUEUE_SLOTS);
            let cw = (w - 16.0) / QUEUE_SLOTS as f64;
            let ty = match q.arguments.queue_type {
                QueueType::Quorum => "quorum queue",
                QueueType::Classic => "queue",
            };
            // The tube fills from its head (right, where consumers take from).
            let body = html! {
                <g class="tube" data-ready={ready.to_string()} data-unacked={unacked.to_string()}>
                    <rect class="tube-outline" x={(x0 + 8.0).to_string()} y={(cy + 2.0).to_string()} width={(w - 16.0).to_string()} height="14" rx="4" />
                    { for cells.iter().enumerate().map(|(k, s)| {
                        let sx = x0 + 8.0 + (QUEUE_SLOTS - 1 - k) as f64 * cw;
                        html! { <rect class={slot_class(*s)} x={(sx + 1.0).to_string()} y={(cy + 4.0).to_string()} width={(cw - 2.0).to_string()} height="10" rx="2" /> }
                    }) }
                    <text class="counts" x={cx.to_string()} y={(cy + 28.0).to_string()}>
                        { format!("ready {ready} · unacked {unacked}") }
                    </text>
                </g>
            };
            Face {
                shape: Shape::Box,
                subtitle: if is_dlq {
                    format!("{ty} · dead letters")
                } else {
                    ty.to_owned()
                },
                body,
                status: format!("{ready} ready, {unacked} unacked"),
            }
        }
        AmqpKind::Consumer(cfg) => {
            let cm = m.consumer();
            let (unacked, buffered, paused) =
                cm.map_or((0, 0, false), |c| (c.unacked, c.buffered, c.paused));
            // The handler step a delivery waits on, counted from 1 (a write out).
            let step = cm
                .and_then(|c| c.handler_step)
                .map(|s| format!(" · step {s}/{}", cfg.handler.len()))
                .unwrap_or_default();
            let progress = cm.and_then(|c| c.processing).map(|(_, start, end)| {
                if end.0 <= start.0 {
                    1.0
                } else {
                    ((now.0.saturating_sub(start.0)) as f64 / (end.0 - start.0) as f64)
                        .clamp(0.0, 1.0)
                }
            });
            let window = if cfg.prefetch_count == 0 {
                WINDOW_SLOTS
            } else {
                (cfg.prefetch_count as usize).min(WINDOW_SLOTS)
            };
            let in_progress = unacked.saturating_sub(buffered);
            let (cells, _) = slots(buffered, in_progress, window);
            let cw = ((w - 16.0) / WINDOW_SLOTS as f64).min(12.0);
            let limit = if cfg.prefetch_count == 0 {
                "∞".to_owned()
            } else {
                cfg.prefetch_count.to_string()
            };
            let body = html! {
                <g class="window" data-unacked={unacked.to_string()} data-paused={paused.to_string()}>
                    { for cells.iter().enumerate().map(|(k, s)| {
                        html! { <rect class={slot_class(*s)} x={(x0 + 8.0 + k as f64 * cw).to_string()} y={(cy + 2.0).to_string()} width={(cw - 2.0).to_string()} height="9" rx="2" /> }
                    }) }
                    <rect class="progress-track" x={(x0 + 8.0).to_string()} y={(cy + 15.0).to_string()} width={(w - 16.0).to_string()} height="4" rx="2" />
                    if let Some(p) = progress {
                        <rect class="progress" x={(x0 + 8.0).to_string()} y={(cy + 15.0).to_string()} width={((w - 16.0) * p).to_string()} height="4" rx="2" />
                    }
                    <text class="counts" x={cx.to_string()} y={(cy + 29.0).to_string()}>
                        { format!("unacked {unacked}/{limit}{step}{}", if paused { " · paused" } else { "" }) }
                    </text>
                </g>
            };
            Face {
                shape: Shape::Box,
                subtitle: if m.up {
                    "consumer".to_owned()
                } else {
                    "consumer · DOWN".to_owned()
                },
                body,
                status: format!(
                    "{unacked} unacked of {}{}",
                    if cfg.prefetch_count == 0 {
                        "no prefetch limit".to_owned()
                    } else {
                        format!("prefetch {}", cfg.prefetch_count)
                    },
                    if paused { ", paused" } else { "" }
                ) + &step.replace(" · ", ", at handler "),
            }
        }
    }
}

/// How an AMQP edge reads from each end (see [`super::edge_phrases`]).
pub fn edge_phrases(kind: EdgeKind) -> (&'static str, &'static str) {
    match kind {
        EdgeKind::Publish => ("publishes to", "receives publishes from"),
        EdgeKind::PublishDefault => (
            "publishes through the default exchange to",
            "receives publishes from",
        ),
        EdgeKind::Binding => ("routes to queue", "bound to exchange"),
        EdgeKind::ExchangeBinding => ("routes to exchange", "bound to exchange"),
        EdgeKind::Consume => ("consumed by", "consumes from"),
    }
}

/// What an AMQP edge is called.
pub fn edge_noun(kind: EdgeKind) -> &'static str {
    match kind {
        EdgeKind::Publish | EdgeKind::PublishDefault => "publish link",
        EdgeKind::Binding | EdgeKind::ExchangeBinding => "binding",
        EdgeKind::Consume => "consumer link",
    }
}

fn slot_class(s: Slot) -> &'static str {
    match s {
        Slot::Ready => "slot ready",
        Slot::Unacked => "slot unacked",
        Slot::Free => "slot free",
    }
}
