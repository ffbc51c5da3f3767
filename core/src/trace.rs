//! The trace: events as NDJSON lines with node names, and a hash of the whole trace.
//!
//! The trace hash is how determinism is tested: the same scenario and seed must give the same
//! hash natively and in wasm. It is FNV-1a over the exact NDJSON bytes, so any difference in any
//! event (time, order, id, reason) changes it.

use crate::amqp::AmqpEvent;
use crate::event::{Event, EventKind};
use crate::topology::Topology;
use serde_json::{json, Map, Value};
use std::fmt;

/// One event as a JSON object, with node names instead of ids: `at_us` and `type` first, then
/// the event's own fields.
pub fn event_json(e: &Event, topo: &Topology) -> Value {
    let name = |n: crate::id::NodeId| topo.node(n).name.as_str();
    let names = |ns: &[crate::id::NodeId]| ns.iter().map(|&n| name(n)).collect::<Vec<_>>();
    let exchange_name = |x: Option<crate::id::NodeId>| x.map_or("", name);
    let fields = match &e.kind {
        &EventKind::Published {
            node,
            message,
            correlation,
        } => {
            json!({ "node": name(node), "message": message.0, "correlation": correlation.0 })
        }
        &EventKind::Sent {
            message,
            edge,
            from,
            to,
            depart,
            arrive,
        } => json!({
            "message": message.0, "edge": edge.0, "from": name(from), "to": name(to),
            "depart_us": depart.0, "arrive_us": arrive.0,
        }),
        &EventKind::Received {
            message,
            node,
            until,
        } => {
            json!({ "message": message.0, "node": name(node), "until_us": until.0 })
        }
        &EventKind::Consumed { message, node } => {
            json!({ "message": message.0, "node": name(node) })
        }
        &EventKind::Dropped {
            message,
            node,
            reason,
        } => {
            json!({ "message": message.0, "node": name(node), "reason": reason.as_str() })
        }
        &EventKind::Crashed { node, lost } => json!({ "node": name(node), "lost": lost }),
        &EventKind::Restarted { node }
        | &EventKind::Removed { node }
        | &EventKind::Configured { node }
        | &EventKind::Amqp(AmqpEvent::ConsumerPaused { node })
        | &EventKind::Amqp(AmqpEvent::ConsumerResumed { node }) => {
            json!({ "node": name(node) })
        }
        EventKind::Amqp(AmqpEvent::Routed {
            message,
            exchange,
            route,
        }) => json!({
            "message": message.0, "exchange": exchange_name(*exchange), "path": names(&route.path),
            "queues": route.targets.iter().map(|(q, _)| name(*q)).collect::<Vec<_>>(),
            "copies": route.targets.iter().map(|(_, c)| c.0).collect::<Vec<_>>(),
        }),
        EventKind::Amqp(AmqpEvent::Returned { message, node, to }) => json!({
            "message": message.0, "node": name(*node), "exchange": exchange_name(to.exchange),
            "routing_key": to.routing_key, "reply_code": 312, "reply_text": "NO_ROUTE",
        }),
        &EventKind::Amqp(AmqpEvent::Confirmed {
            node,
            seq,
            message,
            ack: _,
        }) => json!({ "node": name(node), "seq": seq, "message": message.0 }),
        &EventKind::Amqp(AmqpEvent::Enqueued {
            message,
            queue,
            ready,
        }) => json!({ "message": message.0, "queue": name(queue), "ready": ready }),
        &EventKind::Amqp(AmqpEvent::Delivered {
            message,
            edge,
            tag,
            redelivered,
            arrive,
        }) => json!({
            "message": message.0, "queue": name(topo.edge(edge).from),
            "consumer": name(topo.edge(edge).to),
            "edge": edge.0, "delivery_tag": tag, "redelivered": redelivered,
            "depart_us": e.at.0, "arrive_us": arrive.0,
        }),
        &EventKind::Amqp(AmqpEvent::Settled {
            message,
            queue,
            consumer,
            tag,
            method,
            requeue,
            multiple,
        }) => {
            let mut v = json!({
                "message": message.0, "queue": name(queue), "consumer": name(consumer),
                "delivery_tag": tag,
            });
            if method != crate::amqp::SettleMethod::Ack {
                v["requeue"] = json!(requeue);
            }
            if multiple {
                v["multiple"] = json!(true);
            }
            v
        }
        &EventKind::Amqp(AmqpEvent::Requeued { message, queue })
        | &EventKind::Amqp(AmqpEvent::Expired { message, queue }) => {
            json!({ "message": message.0, "queue": name(queue) })
        }
        EventKind::Amqp(AmqpEvent::DeadLettered {
            message,
            queue,
            reason,
            detail,
        }) => json!({
            "message": message.0, "queue": name(*queue), "reason": reason.as_str(),
            "exchange": detail.exchange, "routing_keys": detail.routing_keys,
            "x-death": detail.x_death.iter().map(|d| serde_json::to_value(d.to_table()).expect("a table serialises")).collect::<Vec<_>>(),
        }),
        &EventKind::Amqp(AmqpEvent::QueueDeleted {
            queue,
            why,
            dropped,
        }) => json!({ "queue": name(queue), "why": why, "dropped": dropped }),
        &EventKind::Amqp(AmqpEvent::ConsumerActivated { queue, consumer }) => {
            json!({ "queue": name(queue), "consumer": name(consumer) })
        }
        EventKind::Amqp(AmqpEvent::ChannelError { node, code, text }) => {
            json!({ "node": name(*node), "code": code, "text": text })
        }
    };
    let mut obj = Map::new();
    obj.insert("at_us".into(), json!(e.at.0));
    obj.insert("type".into(), json!(e.kind.name()));
    if let Value::Object(rest) = fields {
        obj.extend(rest);
    }
    Value::Object(obj)
}

/// One event as a single NDJSON line, without the newline.
pub fn event_line(e: &Event, topo: &Topology) -> String {
    event_json(e, topo).to_string()
}

/// The trace hash of `scenario` run with `seed` up to `until`, events drained in one batch.
/// The CLI's `trace_hash` and the wasm determinism test compute the same value.
pub fn hash_of_run(
    scenario: &crate::Scenario,
    seed: u64,
    until: crate::SimTime,
) -> Result<TraceHash, crate::Diagnostics> {
    let mut sim = crate::Sim::with_seed(scenario, seed)?;
    sim.advance_to(until);
    let mut h = TraceHash::default();
    let events: Vec<Event> = sim.drain_events().collect();
    for e in &events {
        h.add(e, sim.topology());
    }
    Ok(h)
}

/// A running FNV-1a 64-bit hash of trace lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceHash(u64);

impl Default for TraceHash {
    fn default() -> Self {
        TraceHash(0xcbf2_9ce4_8422_2325)
    }
}

impl TraceHash {
    /// Adds bytes to the hash.
    pub fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    /// Adds one event, as its NDJSON line and a newline.
    pub fn add(&mut self, e: &Event, topo: &Topology) {
        self.write(event_line(e, topo).as_bytes());
        self.write(b"\n");
    }

    /// The hash value.
    pub fn value(self) -> u64 {
        self.0
    }
}

impl fmt::Display for TraceHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_published_test_vectors() {
        // From the FNV reference test suite: "" and "a" and "foobar".
        let h = |s: &str| {
            let mut t = TraceHash::default();
            t.write(s.as_bytes());
            t.value()
        };
        assert_eq!(h(""), 0xcbf29ce484222325);
        assert_eq!(h("a"), 0xaf63dc4c8601ec8c);
        assert_eq!(h("foobar"), 0x85944171f73967e8);
    }
}
