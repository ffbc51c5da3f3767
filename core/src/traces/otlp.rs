//! Traces as OTLP/JSON: the `ExportTraceServiceRequest` body an OpenTelemetry collector takes
//! and Jaeger's UI opens from a file.
//!
//! The encoding follows OTLP's JSON mapping of protobuf: field names in lowerCamelCase, trace
//! and span ids as lowercase hex strings (not base64), 64-bit integers (times, `intValue`) as
//! decimal strings, enums (`kind`, `status.code`) as integers. Spans are grouped by the node
//! they happened at, one resource per node with the node's name as `service.name`, so Jaeger
//! lists the topology's nodes as services. Simulated time 0 is 2026-01-01T00:00:00Z.

use super::{hex, span_id, trace_id, Segment, Span, Trace, TraceBook};
use crate::id::{MessageId, NodeId};
use crate::scenario::NodeKind;
use crate::time::SimTime;
use crate::topology::Topology;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Simulated time 0, in seconds since the Unix epoch: 2026-01-01T00:00:00Z.
pub const EPOCH_UNIX_S: u64 = 1_767_225_600;

/// Simulated time as OTLP writes it: nanoseconds since the Unix epoch, as a decimal string.
pub fn unix_nanos(t: SimTime) -> String {
    let ns = u128::from(EPOCH_UNIX_S) * 1_000_000_000 + u128::from(t.0) * 1_000;
    ns.to_string()
}

/// A span's name: what it was, and where.
pub fn span_name(s: &Span, topo: &Topology) -> String {
    let name = |n: Option<NodeId>| {
        n.filter(|n| n.index() < topo.nodes.len())
            .map_or("?", |n| topo.node(n).name.as_str())
    };
    let (node, peer) = (name(s.node), name(s.peer));
    match s.what {
        Segment::Message => format!("publish from {node}"),
        Segment::Request => format!("request from {node}"),
        Segment::Call => format!("call {peer}"),
        Segment::Job => format!("job from {node}"),
        Segment::Record => format!("record from {node}"),
        Segment::Transit => format!("{node} → {peer}"),
        Segment::Queued => format!("queued in {node}"),
        Segment::Buffered => format!("prefetched by {node}"),
        Segment::InLog => format!("in {node} until {peer} fetched"),
        Segment::Waiting => format!("waiting in {node}"),
        Segment::Delayed => format!("delayed in {node}"),
        Segment::Backoff => format!("backoff before calling {peer}"),
        Segment::Process => format!("{node} processes"),
        Segment::Attempt => format!("{node} attempt"),
        Segment::Server => format!("{node} handles"),
        Segment::Write => format!("write {peer}"),
        Segment::Read => format!("read {peer}"),
        Segment::Refused => format!("call {peer} refused"),
    }
}

/// The messaging system a node belongs to, as OpenTelemetry's conventions name it.
fn system(kind: &NodeKind) -> Option<&'static str> {
    match kind {
        NodeKind::Amqp(_) => Some("rabbitmq"),
        NodeKind::Kafka(_) => Some("kafka"),
        NodeKind::Bullmq(_) => Some("bullmq"),
        NodeKind::Producer(_)
        | NodeKind::Relay(_)
        | NodeKind::Sink(_)
        | NodeKind::Http(_)
        | NodeKind::Data(_) => None,
    }
}

fn attr_str(key: &str, v: &str) -> Value {
    json!({"key": key, "value": {"stringValue": v}})
}

fn attr_int(key: &str, v: u64) -> Value {
    json!({"key": key, "value": {"intValue": v.to_string()}})
}

fn attr_bool(key: &str, v: bool) -> Value {
    json!({"key": key, "value": {"boolValue": v}})
}

/// One trace's spans as OTLP/JSON span objects, each with the node it belongs to.
fn spans(book: &TraceBook, t: &Trace, topo: &Topology) -> Vec<(Option<NodeId>, Value)> {
    let now = book.now();
    let ends = t.ends(now);
    let critical = t.critical_path(now);
    let tid = hex(&trace_id(book.seed(), t.correlation));
    let id_of = |s: &Span| hex(&span_id(book.seed(), s.message, s.ordinal));
    let mut out = Vec::with_capacity(t.spans.len());
    for (i, s) in t.spans.iter().enumerate() {
        let mut attributes = vec![
            attr_int("switchboard.message", s.message.0),
            attr_int("switchboard.correlation", t.correlation.0),
            attr_str("switchboard.segment", s.what.label()),
            attr_bool("switchboard.critical_path", critical[i]),
        ];
        if let Some(p) = s.peer.filter(|p| p.index() < topo.nodes.len()) {
            attributes.push(attr_str("peer.service", &topo.node(p).name));
        }
        if let Some(sys) = s
            .node
            .filter(|n| n.index() < topo.nodes.len())
            .and_then(|n| system(&topo.node(n).kind))
        {
            attributes.push(attr_str("messaging.system", sys));
        }
        if let Some(d) = &s.detail {
            attributes.push(attr_str("switchboard.detail", d));
        }
        let open = s.end.is_none() && !s.what.is_message();
        if open {
            attributes.push(attr_bool("switchboard.open", true));
        }
        let mut span = json!({
            "traceId": tid,
            "spanId": id_of(s),
            "name": span_name(s, topo),
            "kind": s.what.kind() as u8,
            "startTimeUnixNano": unix_nanos(s.start),
            "endTimeUnixNano": unix_nanos(ends[i]),
            "attributes": attributes,
            // STATUS_CODE_UNSET (0) or STATUS_CODE_ERROR (2).
            "status": if s.error {
                json!({"code": 2, "message": s.detail.as_deref().unwrap_or("failed")})
            } else {
                json!({"code": 0})
            },
        });
        if let Some(p) = s.parent {
            span["parentSpanId"] = Value::String(id_of(&t.spans[p as usize]));
        }
        out.push((s.node, span));
    }
    out
}

/// The kept traces (or only the trace with correlation id `only`) as one OTLP/JSON
/// `ExportTraceServiceRequest`.
pub fn export(book: &TraceBook, topo: &Topology, only: Option<MessageId>) -> Value {
    let mut by_node: BTreeMap<Option<NodeId>, Vec<Value>> = BTreeMap::new();
    for t in book.traces() {
        if only.is_some_and(|c| c != t.correlation) {
            continue;
        }
        for (node, span) in spans(book, t, topo) {
            by_node.entry(node).or_default().push(span);
        }
    }
    let resources: Vec<Value> = by_node
        .into_iter()
        .map(|(node, spans)| {
            let service = node
                .filter(|n| n.index() < topo.nodes.len())
                .map_or("switchboard", |n| topo.node(n).name.as_str());
            json!({
                "resource": {"attributes": [
                    attr_str("service.name", service),
                    attr_str("service.namespace", "switchboard"),
                ]},
                "scopeSpans": [{
                    "scope": {"name": "switchboard", "version": env!("CARGO_PKG_VERSION")},
                    "spans": spans,
                }],
            })
        })
        .collect();
    json!({ "resourceSpans": resources })
}
