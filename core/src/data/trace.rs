//! The data model's events as trace fields (see `crate::amqp::trace`).

use super::DataEvent;
use crate::trace::Fields;
use std::io::{self, Write};

/// Writes the fields of `e`, each as `,"key":value`.
pub(crate) fn write_fields<W: Write + ?Sized>(
    e: &DataEvent,
    f: &mut Fields<'_, W>,
) -> io::Result<()> {
    match e {
        DataEvent::WriteSent {
            message,
            edge,
            key,
            depart,
            arrive,
        }
        | DataEvent::ReadSent {
            message,
            edge,
            key,
            depart,
            arrive,
        } => {
            f.u64("message", message.0)?;
            let (from, to) = f.edge_ends(*edge);
            f.node("from", from)?;
            f.node("to", to)?;
            f.str("key", key)?;
            f.u64("depart_us", depart.0)?;
            f.u64("arrive_us", arrive.0)
        }
        DataEvent::Written {
            store,
            key,
            version,
            message,
            logical,
            duplicate,
        } => {
            f.node("store", *store)?;
            f.str("key", key)?;
            f.u64("version", *version)?;
            f.u64("message", message.0)?;
            f.u64("logical", logical.0)?;
            f.bool("duplicate", *duplicate)
        }
        DataEvent::Deduplicated {
            store,
            key,
            idempotency_key,
            message,
        } => {
            f.node("store", *store)?;
            f.str("key", key)?;
            f.str("idempotency_key", idempotency_key)?;
            f.u64("message", message.0)
        }
        DataEvent::Read(r) => {
            f.node("store", r.store)?;
            f.str("key", &r.key)?;
            f.u64("version", r.version)?;
            f.u64("acked", r.acked)?;
            f.u64("told", r.told)?;
            f.u64("message", r.message.0)?;
            f.bool("stale", r.stale())?;
            f.bool("ryw_violation", r.ryw_violation())
        }
        DataEvent::Visible {
            store,
            key,
            version,
            window_us,
        } => {
            f.node("store", *store)?;
            f.str("key", key)?;
            f.u64("version", *version)?;
            f.u64("window_us", *window_us)
        }
    }
}
