//! The Kafka model in the page: topics drawn as their partitions' logs, producers, and
//! consumers with their group, generation and lag.

use super::{Face, Fault, PaletteItem, Shape};
use crate::fields::{f, Field, FieldType::*};
use crate::view::{NODE_HALF_H, NODE_HALF_W};
use serde_json::json;
use switchboard_core::kafka::{EdgeKind, GroupState, Joining, KafkaKind, KafkaMetrics};
use switchboard_core::scenario::{NodeKind, NodeSpec};
use switchboard_core::NodeMetrics;
use yew::prelude::*;

/// Partitions drawn as rows inside a topic (more are summed up in words).
pub const ROWS: usize = 12;

/// Offset cells drawn per partition: the newest records.
pub const CELLS: usize = 16;

/// A topic's half width on the canvas (wider than other nodes: it draws its logs).
const TOPIC_HALF_W: f64 = 115.0;

/// The height of one partition's row of cells.
const ROW_H: f64 = 9.0;

/// Where the rows begin, below the name and the subtitle.
const ROWS_TOP: f64 = 36.0;

/// Room left of a row's cells for its partition number.
const LABEL_W: f64 = 12.0;

/// Room right of a row's cells for its log end offset (the high watermark).
const END_W: f64 = 30.0;

/// Where partition `partition`'s row of topic `topic` is on the canvas: at the topic's left
/// edge, mid-row, for effects that explain what happened to that log (written leftwards from
/// there, outside the box). A partition beyond the drawn rows answers with the last row.
pub fn row_start(
    scene: &crate::scene::Scene,
    topo: &switchboard_core::topology::Topology,
    topic: switchboard_core::NodeId,
    partition: u32,
) -> Option<crate::view::Point> {
    let c = scene.node(topic)?;
    let NodeKind::Kafka(kind @ KafkaKind::Topic(_)) = &topo.node(topic).kind else {
        return None;
    };
    let (hw, hh) = half_size(kind);
    let row = (partition as usize).min(ROWS - 1) as f64;
    Some(crate::view::Point {
        x: c.x - hw,
        y: c.y - hh + ROWS_TOP + row * ROW_H + ROW_H / 2.0,
    })
}

/// A node's half width and half height: a topic grows with its partitions (up to [`ROWS`]).
pub fn half_size(kind: &KafkaKind) -> (f64, f64) {
    match kind {
        KafkaKind::Topic(t) => {
            let rows = (t.partitions as usize).clamp(1, ROWS) as f64;
            (
                TOPIC_HALF_W,
                (NODE_HALF_H).max((ROWS_TOP + rows * ROW_H + 6.0) / 2.0),
            )
        }
        KafkaKind::Producer(_) | KafkaKind::Consumer(_) => (NODE_HALF_W, NODE_HALF_H),
    }
}

/// The model's palette items.
pub const PALETTE: &[PaletteItem] = &[
    PaletteItem {
        label: "Kafka producer",
        kind: "kafka_producer",
        variant: None,
        stem: "kafka-producer",
    },
    PaletteItem {
        label: "Topic",
        kind: "topic",
        variant: None,
        stem: "topic",
    },
    PaletteItem {
        label: "Kafka consumer",
        kind: "kafka_consumer",
        variant: None,
        stem: "kafka-consumer",
    },
];

/// The settings a new node of a palette item starts with (`None`: not one of this model's).
pub fn default_config(item: &PaletteItem) -> Option<serde_json::Value> {
    Some(match item.kind {
        "kafka_producer" => {
            json!({ "rate_per_s": 10, "keys": ["alice", "bob", "carol", "dave"], "value_bytes": 200 })
        }
        "topic" => json!({ "partitions": 3 }),
        "kafka_consumer" => json!({
            "group.id": "group",
            "processing_time": "50ms",
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 10000,
            "heartbeat.interval.ms": 3000,
        }),
        _ => return None,
    })
}

/// A topic's settings, under Kafka's names.
pub const TOPIC: &[Field] = &[
    f(
        "partitions",
        &["partitions"],
        Int,
        "partitions (they only grow)",
    ),
    f(
        "cleanup.policy",
        &["cleanup.policy"],
        Choice(&["delete", "compact", "compact,delete"]),
        "delete old segments, keep each key's latest, or both",
    ),
    f(
        "retention.ms",
        &["retention.ms"],
        Int,
        "delete segments older than this (-1: never)",
    ),
    f(
        "retention.bytes",
        &["retention.bytes"],
        Int,
        "delete the oldest segments past this size per partition (-1: no limit)",
    ),
    f(
        "segment.bytes",
        &["segment.bytes"],
        Int,
        "roll a segment at this size",
    ),
    f(
        "segment.ms",
        &["segment.ms"],
        Int,
        "roll a segment at this age",
    ),
    f(
        "min.compaction.lag.ms",
        &["min.compaction.lag.ms"],
        Int,
        "records younger than this are not compacted",
    ),
    f(
        "delete.retention.ms",
        &["delete.retention.ms"],
        Int,
        "how long a tombstone stays after compaction",
    ),
    f(
        "min.cleanable.dirty.ratio",
        &["min.cleanable.dirty.ratio"],
        Float,
        "compact once this share of the log is dirty",
    ),
    f(
        "log.retention.check.interval.ms",
        &["log.retention.check.interval.ms"],
        Int,
        "broker: how often retention runs",
    ),
    f(
        "log.cleaner.backoff.ms",
        &["log.cleaner.backoff.ms"],
        Int,
        "broker: how often the cleaner looks",
    ),
];

/// A producer's settings.
pub const PRODUCER: &[Field] = &[
    f("rate_per_s", &["rate_per_s"], Float, "records per second"),
    f(
        "keys",
        &["keys"],
        Json,
        "[\"a\", \"b\"] in turn, or {\"random\": 100} (empty: null keys, sticky partitioning)",
    ),
    f(
        "partition",
        &["partition"],
        Int,
        "always this partition (empty: the partitioner decides)",
    ),
    f(
        "value_bytes",
        &["value_bytes"],
        Int,
        "each record's value size",
    ),
    f(
        "acks",
        &["acks"],
        Choice(&["all", "1", "0"]),
        "acknowledgements to wait for",
    ),
    f(
        "enable.idempotence",
        &["enable.idempotence"],
        Bool,
        "the broker appends a retried batch once",
    ),
    f("retries", &["retries"], Int, "retries of a batch"),
    f(
        "max.in.flight.requests.per.connection",
        &["max.in.flight.requests.per.connection"],
        Int,
        "requests sent before the first is answered",
    ),
    f(
        "batch.size",
        &["batch.size"],
        Int,
        "bytes per partition batch",
    ),
    f(
        "linger.ms",
        &["linger.ms"],
        Int,
        "wait this long to fill a batch",
    ),
    f(
        "request.timeout.ms",
        &["request.timeout.ms"],
        Int,
        "retry a request not answered within this",
    ),
    f(
        "delivery.timeout.ms",
        &["delivery.timeout.ms"],
        Int,
        "give up on a record after this",
    ),
    f(
        "ack_loss",
        &["ack_loss"],
        Float,
        "fault: probability a response is lost (0–1)",
    ),
    f(
        "limit",
        &["limit"],
        Int,
        "stop after this many (empty: never)",
    ),
];

/// A consumer's settings.
pub const CONSUMER: &[Field] = &[
    f("group.id", &["group.id"], Text, "its consumer group"),
    f(
        "partition.assignment.strategy",
        &["partition.assignment.strategy"],
        Json,
        "[\"range\", \"cooperative-sticky\"] (roundrobin, sticky too)",
    ),
    f(
        "group.instance.id",
        &["group.instance.id"],
        Text,
        "a static member (empty: dynamic)",
    ),
    f(
        "processing_time",
        &["processing_time"],
        Duration,
        "work per record",
    ),
    f(
        "max.poll.records",
        &["max.poll.records"],
        Int,
        "records per poll",
    ),
    f(
        "enable.auto.commit",
        &["enable.auto.commit"],
        Bool,
        "commit positions every auto.commit.interval.ms",
    ),
    f(
        "auto.commit.interval.ms",
        &["auto.commit.interval.ms"],
        Int,
        "how often auto-commit commits",
    ),
    f(
        "commit",
        &["commit"],
        Choice(&["after_processing", "before_processing"]),
        "manual commits: at-least-once, or at-most-once",
    ),
    f(
        "commit_every",
        &["commit_every"],
        Int,
        "manual commits: every this many records (0: each poll)",
    ),
    f(
        "handler",
        &["handler"],
        Json,
        "steps per record, before it counts as processed: [{\"call\": \"api\"}, {\"write\": \"view\", \"key\": \"order:{record_key}\", \"idempotency_key\": \"{partition}:{offset}\"}, {\"read\": \"db\", \"key\": \"…\"}, {\"publish\": \"events\"}, {\"add_job\": \"emails\"}, {\"produce\": \"enriched\", \"key\": \"{record_key}\"}, {\"fail\": {\"header\": \"x-bad\"}}] (empty: none)",
    ),
    f(
        "auto.offset.reset",
        &["auto.offset.reset"],
        Choice(&["latest", "earliest", "none"]),
        "where to start without a valid committed offset",
    ),
    f(
        "session.timeout.ms",
        &["session.timeout.ms"],
        Int,
        "the group drops a member silent this long",
    ),
    f(
        "heartbeat.interval.ms",
        &["heartbeat.interval.ms"],
        Int,
        "how often it heartbeats",
    ),
    f(
        "max.poll.interval.ms",
        &["max.poll.interval.ms"],
        Int,
        "it leaves if it does not poll this long",
    ),
    f(
        "fetch.max.wait.ms",
        &["fetch.max.wait.ms"],
        Int,
        "how long a fetch waits for records",
    ),
    f(
        "group.initial.rebalance.delay.ms",
        &["group.initial.rebalance.delay.ms"],
        Int,
        "broker: a new group waits this long for more members",
    ),
];

/// The inspector's fields of one of the model's kinds.
pub fn fields(kind: &KafkaKind) -> &'static [Field] {
    match kind {
        KafkaKind::Topic(_) => TOPIC,
        KafkaKind::Producer(_) => PRODUCER,
        KafkaKind::Consumer(_) => CONSUMER,
    }
}

/// The inspector's fields of one of the model's edges: a latency.
pub fn edge_fields(kind: EdgeKind) -> &'static [Field] {
    match kind {
        EdgeKind::Produce | EdgeKind::Subscribe => super::kernel::WIRE,
    }
}

/// The faults one of the model's kinds takes: a producer loses an acknowledgement, floods
/// and crashes; a consumer
/// crashes, pauses and slows down; the broker (a topic) does not fail here.
pub fn faults(kind: &KafkaKind) -> &'static [Fault] {
    match kind {
        KafkaKind::Topic(_) => &[],
        KafkaKind::Producer(_) => &[Fault::LoseAck, Fault::Flood, Fault::CrashRestart],
        KafkaKind::Consumer(_) => &[
            Fault::CrashRestart,
            Fault::PauseResume,
            Fault::Slow,
            Fault::Replay,
        ],
    }
}

/// A consumer ten times slower (the Slow fault), as new settings.
pub fn slowed(spec: &NodeSpec, kind: &KafkaKind) -> Option<NodeSpec> {
    match kind {
        KafkaKind::Consumer(c) => {
            let mut slow = c.clone();
            slow.processing_time = super::scaled(&c.processing_time, 10);
            Some(NodeSpec {
                kind: NodeKind::Kafka(KafkaKind::Consumer(slow)),
                ..spec.clone()
            })
        }
        KafkaKind::Topic(_) | KafkaKind::Producer(_) => None,
    }
}

/// Producers and topics send (records, fetched records); consumers do not.
pub fn sends(kind: &KafkaKind) -> bool {
    match kind {
        // A consumer's handler reads and writes stores and publishes to RabbitMQ.
        KafkaKind::Producer(_) | KafkaKind::Topic(_) | KafkaKind::Consumer(_) => true,
    }
}

/// A key's colour class: one of eight, by a stable hash of the key (FNV-1a), so the same key
/// has the same colour in every partition and every run.
pub fn key_class(key: Option<&str>) -> &'static str {
    const CLASSES: [&str; 8] = ["k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"];
    match key {
        None => "knull",
        Some(k) => {
            let mut h: u32 = 0x811c_9dc5;
            for b in k.bytes() {
                h ^= u32::from(b);
                h = h.wrapping_mul(0x0100_0193);
            }
            CLASSES[(h % 8) as usize]
        }
    }
}

/// How one of the model's nodes is drawn: a topic as rows of offset cells, one per
/// partition, with the log start and end offsets and each group's committed offset; a
/// producer with its records and acknowledgements; a consumer with its group, generation,
/// partitions and lag.
pub fn face(kind: &KafkaKind, m: &NodeMetrics, c: (f64, f64)) -> Face {
    let (cx, cy) = c;
    let x0 = cx - NODE_HALF_W;
    let counts = |text: String| {
        html! { <text class="counts" x={cx.to_string()} y={(cy + 22.0).to_string()}>{ text }</text> }
    };
    match (kind, m.kafka()) {
        (KafkaKind::Topic(cfg), Some(KafkaMetrics::Topic(t))) => {
            let (hw, hh) = half_size(kind);
            let x0 = cx - hw;
            let top = cy - hh + ROWS_TOP;
            let row_h = ROW_H;
            let label_w = LABEL_W;
            let w = 2.0 * hw - 16.0 - label_w - END_W;
            let cw = w / CELLS as f64;
            let body = html! {
                <g class="partitions">
                    { for t.partitions.iter().take(ROWS).enumerate().map(|(i, p)| {
                        let y = top + i as f64 * row_h;
                        let lx = x0 + 8.0 + label_w;
                        let shown: Vec<_> = p.tail.iter().skip(p.tail.len().saturating_sub(CELLS)).collect();
                        // The newest offsets back to the log start. Offsets are dense: a
                        // compacted gap is an empty cell.
                        let span = p.end.saturating_sub(p.log_start).min(CELLS as u64);
                        let base = p.end - span;
                        let cursors: Vec<(u64, String)> = t.groups.iter()
                            .filter(|g| g.partition == p.partition)
                            .filter_map(|g| g.committed.map(|o| (o, g.group.clone())))
                            .collect();
                        let positions: Vec<(u64, String)> = t.groups.iter()
                            .filter(|g| g.partition == p.partition)
                            .filter_map(|g| g.position.map(|o| (o, g.group.clone())))
                            .collect();
                        // The log's two ends: where it starts (when the window reaches back
                        // that far; otherwise older records are off to the left) and the high
                        // watermark, the next offset to be written.
                        let end_x = lx + CELLS as f64 * cw;
                        let start_x = (base <= p.log_start).then(|| end_x - (p.end - p.log_start) as f64 * cw);
                        html! {
                            <g class="partition" data-partition={p.partition.to_string()}
                               data-log-start={p.log_start.to_string()} data-end={p.end.to_string()}>
                                <title>{ format!("partition {}: log start offset {}, high watermark {}", p.partition, p.log_start, p.end) }</title>
                                <text class="partition-label" x={(x0 + 8.0).to_string()} y={(y + row_h - 1.0).to_string()}>{ p.partition.to_string() }</text>
                                { match start_x {
                                    Some(x) => html! { <line class="log-start" x1={x.to_string()} x2={x.to_string()} y1={(y - 0.5).to_string()} y2={(y + row_h - 0.5).to_string()} /> },
                                    None => html! { <text class="older" x={(lx - 1.0).to_string()} y={(y + row_h - 1.5).to_string()}>{ "‹" }</text> },
                                } }
                                <line class="hw" x1={end_x.to_string()} x2={end_x.to_string()} y1={(y - 0.5).to_string()} y2={(y + row_h - 0.5).to_string()} />
                                <text class="end-offset" x={(end_x + 2.5).to_string()} y={(y + row_h - 1.5).to_string()}>{ p.end.to_string() }</text>
                                { for (0..span).map(|j| {
                                    let off = base + j;
                                    let x = lx + (CELLS as u64 - span + j) as f64 * cw;
                                    match shown.iter().find(|r| r.offset == off) {
                                        Some(r) => html! {
                                            <rect class={classes!("cell", key_class(r.key.as_deref()), r.tombstone.then_some("tombstone"))}
                                                data-offset={off.to_string()}
                                                x={(x + 0.5).to_string()} y={y.to_string()} width={(cw - 1.0).to_string()} height={(row_h - 1.0).to_string()} />
                                        },
                                        None => html! {
                                            <rect class="cell gap" data-offset={off.to_string()}
                                                x={(x + 0.5).to_string()} y={y.to_string()} width={(cw - 1.0).to_string()} height={(row_h - 1.0).to_string()} />
                                        },
                                    }
                                }) }
                                { for cursors.iter().filter(|(o, _)| *o >= base && *o <= p.end).map(|(o, g)| {
                                    let x = lx + (CELLS as u64 - (p.end - o)) as f64 * cw;
                                    html! { <line class="cursor" data-group={g.clone()} data-committed={o.to_string()} x1={x.to_string()} x2={x.to_string()} y1={(y - 1.0).to_string()} y2={(y + row_h).to_string()}><title>{ format!("{g} committed {o}") }</title></line> }
                                }) }
                                // Where each group's reader will fetch next: a tick above the row.
                                { for positions.iter().filter(|(o, _)| *o >= base && *o <= p.end).map(|(o, g)| {
                                    let x = lx + (CELLS as u64 - (p.end - o)) as f64 * cw;
                                    html! { <path class="position" data-group={g.clone()} data-position={o.to_string()} d={format!("M{} {} l-2 -3 h4 z", x, y - 0.5)}><title>{ format!("{g} reads from {o}") }</title></path> }
                                }) }
                            </g>
                        }
                    }) }
                </g>
            };
            let lag: Vec<String> = t
                .groups
                .iter()
                .filter_map(|g| g.lag.map(|l| (g, l)))
                .map(|(g, l)| format!("{} p{} lag {l}", g.group, g.partition))
                .collect();
            let status = format!(
                "{} partitions{}; {}{}",
                t.partitions.len(),
                if cfg.cleanup_policy.compact {
                    ", compacted"
                } else {
                    ""
                },
                t.partitions
                    .iter()
                    .map(|p| format!(
                        "partition {} log start {}, high watermark {}",
                        p.partition, p.log_start, p.end
                    ))
                    .collect::<Vec<_>>()
                    .join(", "),
                if lag.is_empty() {
                    String::new()
                } else {
                    format!("; {}", lag.join(", "))
                }
            );
            let more = t.partitions.len().saturating_sub(ROWS);
            Face {
                shape: Shape::Box,
                subtitle: format!(
                    "topic · {} partition{}{}",
                    t.partitions.len(),
                    if t.partitions.len() == 1 { "" } else { "s" },
                    if more > 0 {
                        format!(" (+{more} not drawn)")
                    } else {
                        String::new()
                    }
                ),
                body,
                status,
            }
        }
        (KafkaKind::Producer(cfg), Some(KafkaMetrics::Producer(p))) => Face {
            shape: Shape::Box,
            subtitle: format!(
                "producer · {}/s{}",
                cfg.rate_per_s,
                if cfg.idempotent() {
                    " · idempotent"
                } else {
                    ""
                }
            ),
            body: counts(format!(
                "{} sent · {} acked{}",
                p.stats.records,
                p.stats.acked,
                if p.stats.retries > 0 {
                    format!(" · {} retries", p.stats.retries)
                } else {
                    String::new()
                }
            )),
            status: format!(
                "{} records, {} batches acknowledged, {} retries, {} failed",
                p.stats.records, p.stats.acked, p.stats.retries, p.stats.failed
            ),
        },
        (KafkaKind::Consumer(cfg), Some(KafkaMetrics::Consumer(cm))) => {
            let lag: u64 = cm.partitions.iter().filter_map(|p| p.lag).sum();
            let parts: Vec<String> = cm
                .partitions
                .iter()
                .map(|p| format!("{}-{}", p.topic, p.partition))
                .collect();
            let state = match (cm.joining, cm.group_state) {
                _ if cm.stopped => "stopped".to_owned(),
                (Joining::Joined, GroupState::Stable) => format!("gen {}", cm.group_generation),
                (Joining::Joined, s) | (Joining::Joining | Joining::Syncing, s) => {
                    format!("{} · gen {}", rebalance_word(s), cm.group_generation)
                }
                (Joining::Unjoined, _) => "not in the group".to_owned(),
            };
            let bar_w = 2.0 * NODE_HALF_W - 16.0;
            let fill = (lag as f64 / 100.0).min(1.0) * bar_w;
            // While its group rebalances, a member without partitions reads nothing: an eager
            // rebalance stops the whole group (a cooperative one keeps what is not moving).
            let rebalancing = !cm.stopped
                && !matches!(
                    (cm.joining, cm.group_state),
                    (Joining::Joined, GroupState::Stable)
                )
                && cm.joining != Joining::Unjoined;
            let parts_text = match (parts.is_empty(), rebalancing) {
                (true, true) => "⏸ waiting for its assignment".to_owned(),
                (true, false) => "no partitions".to_owned(),
                // Per topic, its partition numbers: `invoices 0,1,2,3` fits where four full
                // names would not.
                (false, _) => {
                    let mut by_topic: Vec<(&str, Vec<String>)> = Vec::new();
                    for p in &cm.partitions {
                        match by_topic.iter_mut().find(|(t, _)| *t == p.topic.as_str()) {
                            Some((_, ps)) => ps.push(p.partition.to_string()),
                            None => by_topic.push((&p.topic, vec![p.partition.to_string()])),
                        }
                    }
                    by_topic
                        .iter()
                        .map(|(t, ps)| format!("{t} {}", ps.join(",")))
                        .collect::<Vec<_>>()
                        .join(" · ")
                }
            };
            let body = html! {
                <g class={classes!("consumer-state", rebalancing.then_some("rebalancing"))}
                   data-generation={cm.group_generation.to_string()} data-lag={lag.to_string()}
                   data-partitions={parts.join(",")} data-rebalancing={rebalancing.to_string()}>
                    <text class="counts" x={cx.to_string()} y={(cy + 14.0).to_string()}>
                        { parts_text }
                    </text>
                    <rect class="lag-bar-bg" x={(x0 + 8.0).to_string()} y={(cy + 17.0).to_string()} width={bar_w.to_string()} height="3" />
                    <rect class="lag-bar" x={(x0 + 8.0).to_string()} y={(cy + 17.0).to_string()} width={fill.to_string()} height="3" />
                    <text class="counts" x={cx.to_string()} y={(cy + 29.0).to_string()}>{ format!("lag {lag}") }</text>
                </g>
            };
            Face {
                shape: Shape::Box,
                subtitle: format!("{} · {state}", cfg.group_id),
                body,
                status: format!(
                    "group {}, {state}, partitions {}, lag {lag}, {} processed",
                    cfg.group_id,
                    if parts.is_empty() {
                        "none".to_owned()
                    } else {
                        parts.join(", ")
                    },
                    cm.stats.processed
                ),
            }
        }
        (KafkaKind::Topic(_) | KafkaKind::Producer(_) | KafkaKind::Consumer(_), _) => Face {
            shape: Shape::Box,
            subtitle: kind.name().replace('_', " "),
            body: html! {},
            status: String::new(),
        },
    }
}

/// A group's state in a word or two, for a node's subtitle.
fn rebalance_word(s: GroupState) -> &'static str {
    match s {
        GroupState::Empty => "empty",
        GroupState::PreparingRebalance => "rebalancing",
        GroupState::CompletingRebalance => "assigning",
        GroupState::Stable => "stable",
    }
}

/// How a Kafka edge reads from each end (see [`super::edge_phrases`]).
pub fn edge_phrases(kind: EdgeKind) -> (&'static str, &'static str) {
    match kind {
        EdgeKind::Produce => ("produces to", "receives records from"),
        EdgeKind::Subscribe => ("is read by", "reads"),
    }
}

/// What a Kafka edge is called.
pub fn edge_noun(kind: EdgeKind) -> &'static str {
    match kind {
        EdgeKind::Produce => "produce link",
        EdgeKind::Subscribe => "subscription",
    }
}
