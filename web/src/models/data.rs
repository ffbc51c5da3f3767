//! The data model in the page: stores, which services', consumers' and workers' handler steps
//! read and write, and read models (stores projected from another).

use super::{Face, Fault, PaletteItem, Shape};
use crate::fields::{f, Field, FieldType::*};
use serde_json::json;
use switchboard_core::data::{DataKind, EdgeKind};
use switchboard_core::scenario::{NodeKind, NodeSpec};
use switchboard_core::NodeMetrics;
use yew::prelude::*;

/// The model's palette items.
pub const PALETTE: &[PaletteItem] = &[PaletteItem {
    label: "Store",
    kind: "store",
    variant: None,
    stem: "store",
}];

/// The settings a new node of a palette item starts with (`None`: not one of this model's).
pub fn default_config(item: &PaletteItem) -> Option<serde_json::Value> {
    Some(match item.kind {
        "store" => json!({ "write_latency": "5ms" }),
        _ => return None,
    })
}

/// A store's settings.
pub const STORE: &[Field] = &[
    f(
        "write_latency",
        &["write_latency"],
        Duration,
        "time to apply a write, once it arrives",
    ),
    f(
        "read_latency",
        &["read_latency"],
        Duration,
        "time to serve a read, once it arrives",
    ),
    f(
        "projection_of",
        &["projection_of"],
        Text,
        "makes it a read model of this store (its source of truth)",
    ),
    f(
        "outbox_interval",
        &["outbox_interval"],
        Duration,
        "how often its outbox relay polls and publishes",
    ),
];

/// The inspector's fields of one of the model's kinds.
pub fn fields(kind: &DataKind) -> &'static [Field] {
    match kind {
        DataKind::Store(_) => STORE,
    }
}

/// The inspector's fields of one of the model's edges.
pub fn edge_fields(kind: EdgeKind) -> &'static [Field] {
    match kind {
        EdgeKind::Access => super::kernel::WIRE,
    }
}

/// The faults one of the model's kinds takes: none (a store does not fail in this model).
pub fn faults(kind: &DataKind) -> &'static [Fault] {
    match kind {
        DataKind::Store(_) => &[],
    }
}

/// A store ten times slower (the Slow fault is not offered, but the rule is kept here).
pub fn slowed(spec: &NodeSpec, kind: &DataKind) -> Option<NodeSpec> {
    match kind {
        DataKind::Store(s) => {
            let mut slow = s.clone();
            slow.write_latency = super::scaled(&s.write_latency, 10);
            slow.read_latency = super::scaled(&s.read_latency, 10);
            Some(NodeSpec {
                kind: NodeKind::Data(DataKind::Store(slow)),
                ..spec.clone()
            })
        }
    }
}

/// A store's outbox relay publishes to exchanges and queues, so it has a handle to draw
/// that edge from.
pub fn sends(kind: &DataKind) -> bool {
    match kind {
        DataKind::Store(_) => true,
    }
}

/// How a store is drawn: its keys and writes, and its duplicates, marked.
pub fn face(kind: &DataKind, m: &NodeMetrics, c: (f64, f64)) -> Face {
    let (cx, cy) = c;
    match (kind, m.store()) {
        (DataKind::Store(_), Some(s)) => {
            let dup_class = if s.stats.duplicates > 0 {
                "duplicates"
            } else {
                ""
            };
            let line2_class = "counts";
            let mut status = format!(
                "{} keys, {} writes, {} duplicates",
                s.keys, s.stats.writes, s.stats.duplicates
            );
            if s.stats.deduplicated > 0 {
                status.push_str(&format!(
                    ", {} skipped by idempotency key",
                    s.stats.deduplicated
                ));
            }
            if s.stats.outbox_published > 0 || s.outbox_pending > 0 {
                status.push_str(&format!(
                    ", outbox: {} published, {} waiting",
                    s.stats.outbox_published, s.outbox_pending
                ));
            }
            if let Some(p) = &s.projection {
                status.push_str(&format!(
                    ", read model: {} versions behind its source, staleness p50 {} p99 {} max {}",
                    p.behind,
                    ms(p.staleness.p50_us),
                    ms(p.staleness.p99_us),
                    ms(p.staleness.max_us)
                ));
            }
            if s.stats.reads > 0 {
                status.push_str(&format!(
                    ", {} reads, {} stale, {} read-your-writes violations",
                    s.stats.reads, s.stats.stale_reads, s.stats.ryw_violations
                ));
            }
            let stale_class = if s.stats.stale_reads > 0 { "stale" } else { "" };
            Face {
                shape: Shape::Box,
                subtitle: "store".into(),
                body: html! {
                    <g class="store" data-duplicates={s.stats.duplicates.to_string()} data-deduplicated={s.stats.deduplicated.to_string()}
                        data-stale={s.stats.stale_reads.to_string()} data-ryw={s.stats.ryw_violations.to_string()}
                        data-staleness-p99={s.projection.as_ref().map(|p| p.staleness.p99_us.to_string())}>
                        if let Some(p) = &s.projection {
                            <text class="counts" x={cx.to_string()} y={(cy + 12.0).to_string()}>
                                { format!("lag {} · p99 {}", ms(p.staleness.p50_us), ms(p.staleness.p99_us)) }
                            </text>
                        } else {
                            <text class="counts" x={cx.to_string()} y={(cy + 12.0).to_string()}>
                                { format!("{} keys · {} writes", s.keys, s.stats.writes) }
                            </text>
                        }
                        <text class={line2_class} x={cx.to_string()} y={(cy + 26.0).to_string()}>
                            if s.projection.is_none() || s.stats.duplicates > 0 {
                                <tspan class={dup_class}>{ format!("dup {}", s.stats.duplicates) }</tspan>
                            }
                            if s.stats.deduplicated > 0 {
                                <tspan>{ format!(" · skipped {}", s.stats.deduplicated) }</tspan>
                            }
                            if s.stats.outbox_published > 0 || s.outbox_pending > 0 {
                                <tspan>{ format!(" · outbox {}", s.outbox_pending) }</tspan>
                            }
                            if s.stats.reads > 0 || s.projection.is_some() {
                                <tspan class={stale_class}>{ format!("{}stale {} · ryw {}", if s.projection.is_none() || s.stats.duplicates > 0 { " · " } else { "" }, s.stats.stale_reads, s.stats.ryw_violations) }</tspan>
                            }
                        </text>
                    </g>
                },
                status,
            }
        }
        (DataKind::Store(_), None) => Face {
            shape: Shape::Box,
            subtitle: kind.name().into(),
            body: html! {},
            status: String::new(),
        },
    }
}

/// A duration in µs, as the face shows it: `12 ms`, `1.4 s`.
fn ms(us: u64) -> String {
    if us >= 1_000_000 {
        format!("{:.1}s", us as f64 / 1e6)
    } else {
        format!("{}ms", (us + 500) / 1000)
    }
}

/// How a data edge reads from each end (see [`super::edge_phrases`]).
pub fn edge_phrases(kind: EdgeKind) -> (&'static str, &'static str) {
    match kind {
        EdgeKind::Access => ("reads and writes", "read and written by"),
    }
}

/// What a data edge is called.
pub fn edge_noun(kind: EdgeKind) -> &'static str {
    match kind {
        EdgeKind::Access => "store link",
    }
}
