//! The request-response model's events as trace fields (see `crate::amqp::trace`).

use super::HttpEvent;
use crate::trace::Fields;
use std::io::{self, Write};

/// Writes the fields of `e`, each as `,"key":value`.
pub(crate) fn write_fields<W: Write + ?Sized>(
    e: &HttpEvent,
    f: &mut Fields<'_, W>,
) -> io::Result<()> {
    match *e {
        HttpEvent::Request { client, request } => {
            f.node("client", client)?;
            f.u64("request", request.0)
        }
        HttpEvent::Attempt {
            message,
            parent,
            edge,
            attempt,
        } => {
            f.u64("message", message.0)?;
            f.u64("parent", parent.0)?;
            edge_ends(f, edge)?;
            f.u64("attempt", attempt.into())
        }
        HttpEvent::Queued {
            message,
            node,
            depth,
        } => {
            f.u64("message", message.0)?;
            f.node("node", node)?;
            f.u64("depth", depth.into())
        }
        HttpEvent::Started {
            message,
            node,
            until,
        } => {
            f.u64("message", message.0)?;
            f.node("node", node)?;
            f.u64("until_us", until.0)
        }
        HttpEvent::Responded {
            message,
            node,
            status,
        } => {
            f.u64("message", message.0)?;
            f.node("node", node)?;
            f.str("status", status.as_str())
        }
        HttpEvent::Answered {
            message,
            edge,
            status,
            latency,
        } => {
            f.u64("message", message.0)?;
            edge_ends(f, edge)?;
            f.str("status", status.as_str())?;
            f.u64("latency_us", latency.0)
        }
        HttpEvent::TimedOut { message, edge } | HttpEvent::Late { message, edge } => {
            f.u64("message", message.0)?;
            edge_ends(f, edge)
        }
        HttpEvent::Refused {
            edge,
            correlation,
            reason,
        } => {
            edge_ends(f, edge)?;
            f.u64("correlation", correlation.0)?;
            f.str("reason", reason.as_str())
        }
        HttpEvent::Retrying {
            edge,
            correlation,
            attempt,
            delay,
        } => {
            edge_ends(f, edge)?;
            f.u64("correlation", correlation.0)?;
            f.u64("attempt", attempt.into())?;
            f.u64("delay_us", delay.0)
        }
        HttpEvent::BudgetExhausted { edge, correlation } => {
            edge_ends(f, edge)?;
            f.u64("correlation", correlation.0)
        }
        HttpEvent::StepFailed {
            node,
            message,
            ref reason,
        } => {
            f.node("node", node)?;
            f.u64("message", message.0)?;
            f.str("reason", reason)
        }
        HttpEvent::RequestEnded {
            client,
            request,
            ok,
            latency,
        } => {
            f.node("client", client)?;
            f.u64("request", request.0)?;
            f.bool("ok", ok)?;
            f.u64("latency_us", latency.0)
        }
        HttpEvent::Breaker { edge, state, until } => {
            edge_ends(f, edge)?;
            f.str("state", state.as_str())?;
            match until {
                Some(t) => f.u64("until_us", t.0),
                None => Ok(()),
            }
        }
        HttpEvent::Health {
            node,
            upstream,
            healthy,
        } => {
            f.node("node", node)?;
            f.node("upstream", upstream)?;
            f.bool("healthy", healthy)
        }
    }
}

/// A call edge as `"from"` and `"to"` names.
fn edge_ends<W: Write + ?Sized>(f: &mut Fields<'_, W>, edge: crate::id::EdgeId) -> io::Result<()> {
    let (from, to) = f.edge_ends(edge);
    f.node("from", from)?;
    f.node("to", to)
}
