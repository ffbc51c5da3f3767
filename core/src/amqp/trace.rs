//! The RabbitMQ model's events as trace fields: what follows `at_us` and `type` on each
//! [`AmqpEvent`]'s NDJSON line, with node names instead of ids, written straight into a sink
//! ([`write_fields`], for [`crate::trace::write_event`]) or as a JSON object ([`fields_json`],
//! for [`crate::trace::event_json`]). The two give the same bytes, key for key (the tests in
//! `trace.rs` compare them).

use super::{AmqpEvent, SettleMethod};
use crate::id::NodeId;
use crate::time::SimTime;
use crate::topology::Topology;
use crate::trace::Fields;
use serde_json::{json, Value};
use std::io::{self, Write};

/// The fields of `e`, which happened at `at`, as a JSON object: what
/// [`crate::trace::event_json`] puts after `at_us` and `type`.
pub(crate) fn fields_json(e: &AmqpEvent, at: SimTime, topo: &Topology) -> Value {
    let name = |n: NodeId| topo.node(n).name.as_str();
    let names = |ns: &[NodeId]| ns.iter().map(|&n| name(n)).collect::<Vec<_>>();
    let exchange_name = |x: Option<NodeId>| x.map_or("", name);
    match e {
        AmqpEvent::Routed {
            message,
            exchange,
            route,
        } => json!({
            "message": message.0, "exchange": exchange_name(*exchange), "path": names(&route.path),
            "queues": route.targets.iter().map(|(q, _)| name(*q)).collect::<Vec<_>>(),
            "copies": route.targets.iter().map(|(_, c)| c.0).collect::<Vec<_>>(),
        }),
        AmqpEvent::Returned { message, node, to } => json!({
            "message": message.0, "node": name(*node), "exchange": exchange_name(to.exchange),
            "routing_key": to.routing_key, "reply_code": 312, "reply_text": "NO_ROUTE",
        }),
        &AmqpEvent::Confirmed {
            node,
            seq,
            message,
            ack: _,
        } => json!({ "node": name(node), "seq": seq, "message": message.0 }),
        &AmqpEvent::Enqueued {
            message,
            queue,
            ready,
        } => json!({ "message": message.0, "queue": name(queue), "ready": ready }),
        &AmqpEvent::Delivered {
            message,
            edge,
            tag,
            redelivered,
            arrive,
        } => json!({
            "message": message.0, "queue": name(topo.edge(edge).from),
            "consumer": name(topo.edge(edge).to),
            "edge": edge.0, "delivery_tag": tag, "redelivered": redelivered,
            "depart_us": at.0, "arrive_us": arrive.0,
        }),
        &AmqpEvent::Settled {
            message,
            queue,
            consumer,
            tag,
            method,
            requeue,
            multiple,
        } => {
            let mut v = json!({
                "message": message.0, "queue": name(queue), "consumer": name(consumer),
                "delivery_tag": tag,
            });
            if method != SettleMethod::Ack {
                v["requeue"] = json!(requeue);
            }
            if multiple {
                v["multiple"] = json!(true);
            }
            v
        }
        &AmqpEvent::Requeued { message, queue } | &AmqpEvent::Expired { message, queue } => {
            json!({ "message": message.0, "queue": name(queue) })
        }
        AmqpEvent::DeadLettered {
            message,
            queue,
            reason,
            detail,
        } => json!({
            "message": message.0, "queue": name(*queue), "reason": reason.as_str(),
            "exchange": detail.exchange, "routing_keys": detail.routing_keys,
            "x-death": detail.x_death.iter().map(|d| serde_json::to_value(d.to_table()).expect("a table serialises")).collect::<Vec<_>>(),
        }),
        &AmqpEvent::QueueDeleted {
            queue,
            why,
            dropped,
        } => json!({ "queue": name(queue), "why": why, "dropped": dropped }),
        &AmqpEvent::ConsumerActivated { queue, consumer } => {
            json!({ "queue": name(queue), "consumer": name(consumer) })
        }
        AmqpEvent::ChannelError { node, code, text } => {
            json!({ "node": name(*node), "code": code, "text": text })
        }
        &AmqpEvent::ConsumerPaused { node } | &AmqpEvent::ConsumerResumed { node } => {
            json!({ "node": name(node) })
        }
    }
}

/// Writes the fields of `e`, which happened at `at`, each as `,"key":value`.
pub(crate) fn write_fields<W: Write + ?Sized>(
    e: &AmqpEvent,
    at: SimTime,
    f: &mut Fields<'_, W>,
) -> io::Result<()> {
    match e {
        AmqpEvent::Routed {
            message,
            exchange,
            route,
        } => {
            f.u64("message", message.0)?;
            exchange_name(f, *exchange)?;
            f.nodes("path", route.path.iter().copied())?;
            f.nodes("queues", route.targets.iter().map(|&(q, _)| q))?;
            f.u64s("copies", route.targets.iter().map(|&(_, c)| c.0))
        }
        AmqpEvent::Returned { message, node, to } => {
            f.u64("message", message.0)?;
            f.node("node", *node)?;
            exchange_name(f, to.exchange)?;
            f.str("routing_key", &to.routing_key)?;
            f.u64("reply_code", 312)?;
            f.str("reply_text", "NO_ROUTE")
        }
        &AmqpEvent::Confirmed {
            node,
            seq,
            message,
            ack: _,
        } => {
            f.node("node", node)?;
            f.u64("seq", seq)?;
            f.u64("message", message.0)
        }
        &AmqpEvent::Enqueued {
            message,
            queue,
            ready,
        } => {
            f.u64("message", message.0)?;
            f.node("queue", queue)?;
            f.u64("ready", ready.into())
        }
        &AmqpEvent::Delivered {
            message,
            edge,
            tag,
            redelivered,
            arrive,
        } => {
            let (queue, consumer) = f.edge_ends(edge);
            f.u64("message", message.0)?;
            f.node("queue", queue)?;
            f.node("consumer", consumer)?;
            f.u64("edge", edge.0.into())?;
            f.u64("delivery_tag", tag)?;
            f.bool("redelivered", redelivered)?;
            f.u64("depart_us", at.0)?;
            f.u64("arrive_us", arrive.0)
        }
        &AmqpEvent::Settled {
            message,
            queue,
            consumer,
            tag,
            method,
            requeue,
            multiple,
        } => {
            f.u64("message", message.0)?;
            f.node("queue", queue)?;
            f.node("consumer", consumer)?;
            f.u64("delivery_tag", tag)?;
            if method != SettleMethod::Ack {
                f.bool("requeue", requeue)?;
            }
            if multiple {
                f.bool("multiple", true)?;
            }
            Ok(())
        }
        &AmqpEvent::Requeued { message, queue } | &AmqpEvent::Expired { message, queue } => {
            f.u64("message", message.0)?;
            f.node("queue", queue)
        }
        AmqpEvent::DeadLettered {
            message,
            queue,
            reason,
            detail,
        } => {
            f.u64("message", message.0)?;
            f.node("queue", *queue)?;
            f.str("reason", reason.as_str())?;
            f.str("exchange", &detail.exchange)?;
            f.value("routing_keys", &detail.routing_keys)?;
            // Rare: the tables are built, as `x-death` headers are, and serde_json writes them.
            let tables: Vec<_> = detail.x_death.iter().map(|d| d.to_table()).collect();
            f.value("x-death", &tables)
        }
        &AmqpEvent::QueueDeleted {
            queue,
            why,
            dropped,
        } => {
            f.node("queue", queue)?;
            f.str("why", why)?;
            f.u64("dropped", dropped.into())
        }
        &AmqpEvent::ConsumerActivated { queue, consumer } => {
            f.node("queue", queue)?;
            f.node("consumer", consumer)
        }
        AmqpEvent::ChannelError { node, code, text } => {
            f.node("node", *node)?;
            f.u64("code", (*code).into())?;
            f.str("text", text)
        }
        &AmqpEvent::ConsumerPaused { node } | &AmqpEvent::ConsumerResumed { node } => {
            f.node("node", node)
        }
    }
}

/// `"exchange"`: the exchange's name, or `""` for the default exchange.
fn exchange_name<W: Write + ?Sized>(f: &mut Fields<'_, W>, x: Option<NodeId>) -> io::Result<()> {
    match x {
        Some(x) => f.node("exchange", x),
        None => f.str("exchange", ""),
    }
}
