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
    }
}
