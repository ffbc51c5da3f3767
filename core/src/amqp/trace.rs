//! The RabbitMQ model's events as trace fields: what follows `at_us` and `type` on each
//! [`AmqpEvent`]'s NDJSON line, with node names instead of ids, written straight into a sink
//! ([`write_fields`], for [`crate::trace::write_event`]).

use super::{AmqpEvent, SettleMethod};
use crate::id::NodeId;
use crate::time::SimTime;
use crate::trace::Fields;
use std::io::{self, Write};

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
            // The `basic.deliver`'s message properties the model uses: `message_id`, set by
            // its publisher (the message's number; a redelivery or a dead-lettered copy keeps
            // it), which idempotency keys read as `{message_id}`. `correlation_id` and
            // `reply_to` are a request-reply client's, and no node here sets them.
            f.u64_text("message_id", message.0)?;
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
        AmqpEvent::PolicyApplied { node, names } => {
            f.node("node", *node)?;
            f.value("policy", &names.policy)?;
            f.value("operator_policy", &names.operator_policy)
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
        AmqpEvent::StepFailed {
            node,
            message,
            reason,
        } => {
            f.node("node", *node)?;
            f.u64("message", message.0)?;
            f.str("reason", reason)
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
