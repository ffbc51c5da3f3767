//! The Kafka model's events as trace fields (see `crate::amqp::trace`). A partition is
//! written as `"topic"` and `"partition"`; a group by its `group.id`, read from the consumer
//! the event names.

use super::event::{KafkaEvent, Tp};
use super::kind::KafkaKind;
use crate::id::NodeId;
use crate::scenario::NodeKind;
use crate::trace::Fields;
use std::io::{self, Write};

fn tp<W: Write + ?Sized>(f: &mut Fields<'_, W>, tp: Tp) -> io::Result<()> {
    f.node("topic", tp.0)?;
    f.u64("partition", tp.1.into())
}

fn group<W: Write + ?Sized>(f: &mut Fields<'_, W>, consumer: NodeId) -> io::Result<()> {
    let name = match &f.topo().node(consumer).kind {
        NodeKind::Kafka(KafkaKind::Consumer(c)) => c.group_id.clone(),
        NodeKind::Kafka(KafkaKind::Topic(_) | KafkaKind::Producer(_))
        | NodeKind::Producer(_)
        | NodeKind::Relay(_)
        | NodeKind::Sink(_)
        | NodeKind::Amqp(_)
        | NodeKind::Http(_)
        | NodeKind::Bullmq(_)
        | NodeKind::Data(_) => unreachable!("a group is named through a consumer"),
    };
    f.str("group", &name)
}

fn tps<W: Write + ?Sized>(f: &mut Fields<'_, W>, key: &str, list: &[Tp]) -> io::Result<()> {
    let names: Vec<String> = list
        .iter()
        .map(|&(t, p)| format!("{}-{p}", f.topo().node(t).name))
        .collect();
    f.value(key, &names)
}

/// Writes the fields of `e`, each as `,"key":value`.
pub(crate) fn write_fields<W: Write + ?Sized>(
    e: &KafkaEvent,
    f: &mut Fields<'_, W>,
) -> io::Result<()> {
    match *e {
        KafkaEvent::BatchSent {
            producer,
            tp: t,
            records,
            travel_us,
            first,
        } => {
            f.node("producer", producer)?;
            tp(f, t)?;
            f.u64("records", records.into())?;
            f.u64("travel_us", travel_us.into())?;
            f.u64("first", first.0)
        }
        KafkaEvent::Appended(ref a) => {
            tp(f, a.tp)?;
            f.u64("offset", a.offset)?;
            f.u64("message", a.message.0)?;
            match &a.key {
                Some(k) => f.str("key", k)?,
                None => f.null("key")?,
            }
            if a.tombstone {
                f.bool("tombstone", true)?;
            }
            f.str("partitioner", a.partitioner.as_str())?;
            f.node("producer", a.producer)
        }
        KafkaEvent::Deduplicated {
            producer,
            tp: t,
            base_offset,
            records,
        }
        | KafkaEvent::Acked {
            producer,
            tp: t,
            base_offset,
            records,
        } => {
            f.node("producer", producer)?;
            tp(f, t)?;
            f.u64("base_offset", base_offset)?;
            f.u64("records", records.into())
        }
        KafkaEvent::Refused {
            producer,
            tp: t,
            records,
            reason,
        }
        | KafkaEvent::ProduceFailed {
            producer,
            tp: t,
            records,
            reason,
        } => {
            f.node("producer", producer)?;
            tp(f, t)?;
            f.u64("records", records.into())?;
            f.str("reason", reason.as_str())
        }
        KafkaEvent::AckLost {
            producer,
            tp: t,
            records,
        } => {
            f.node("producer", producer)?;
            tp(f, t)?;
            f.u64("records", records.into())
        }
        KafkaEvent::Retrying {
            producer,
            tp: t,
            attempt,
        } => {
            f.node("producer", producer)?;
            tp(f, t)?;
            f.u64("attempt", attempt.into())
        }
        KafkaEvent::Fetched {
            consumer,
            tp: t,
            from,
            span,
            records,
        } => {
            f.node("consumer", consumer)?;
            tp(f, t)?;
            f.u64("from", from)?;
            f.u64("to", from + u64::from(span))?;
            f.u64("records", records.into())
        }
        KafkaEvent::Processed {
            consumer,
            tp: t,
            offset,
            message,
        } => {
            f.node("consumer", consumer)?;
            tp(f, t)?;
            f.u64("offset", offset)?;
            f.u64("message", message.0)
        }
        KafkaEvent::StepFailed(ref x) => {
            f.node("consumer", x.consumer)?;
            tp(f, x.tp)?;
            f.u64("offset", x.offset)?;
            f.u64("message", x.message.0)?;
            f.str("reason", &x.reason)
        }
        KafkaEvent::Committed {
            consumer,
            tp: t,
            offset,
            generation,
        } => {
            f.node("consumer", consumer)?;
            group(f, consumer)?;
            tp(f, t)?;
            f.u64("offset", offset)?;
            f.u64("generation", generation.into())
        }
        KafkaEvent::CommitFailed {
            consumer,
            generation,
            error,
        } => {
            f.node("consumer", consumer)?;
            group(f, consumer)?;
            f.u64("generation", generation.into())?;
            f.str("error", error.as_str())
        }
        KafkaEvent::RebalanceStarted {
            via,
            generation,
            reason,
        } => {
            group(f, via)?;
            f.u64("generation", generation.into())?;
            f.str("reason", reason.as_str())?;
            f.node("node", reason.node())
        }
        KafkaEvent::RebalanceCompleted(ref c) => {
            group(f, c.via)?;
            f.u64("generation", c.generation.into())?;
            f.str("protocol", c.protocol.as_str())?;
            f.node("leader", c.leader)?;
            let topo = f.topo();
            let assignment: serde_json::Map<String, serde_json::Value> = c
                .assignment
                .iter()
                .map(|(id, _, list)| {
                    let names: Vec<serde_json::Value> = list
                        .iter()
                        .map(|&(t, p)| format!("{}-{p}", topo.node(t).name).into())
                        .collect();
                    (id.to_string(), serde_json::Value::Array(names))
                })
                .collect();
            f.value("assignment", &assignment)?;
            tps(f, "withheld", &c.withheld)
        }
        KafkaEvent::MemberRemoved { consumer, reason } => {
            f.node("consumer", consumer)?;
            group(f, consumer)?;
            f.str("reason", reason.as_str())
        }
        KafkaEvent::JoinFailed { consumer } => {
            f.node("consumer", consumer)?;
            group(f, consumer)?;
            f.str("error", "INCONSISTENT_GROUP_PROTOCOL")
        }
        KafkaEvent::Revoked {
            consumer,
            ref partitions,
        } => {
            f.node("consumer", consumer)?;
            group(f, consumer)?;
            tps(f, "partitions", partitions)
        }
        KafkaEvent::Assigned {
            consumer,
            generation,
            ref partitions,
        } => {
            f.node("consumer", consumer)?;
            group(f, consumer)?;
            f.u64("generation", generation.into())?;
            tps(f, "partitions", partitions)
        }
        KafkaEvent::OffsetReset {
            consumer,
            tp: t,
            from,
            to,
            cause,
        } => {
            f.node("consumer", consumer)?;
            tp(f, t)?;
            if from == super::event::NO_OFFSET {
                f.null("from")?;
            } else {
                f.u64("from", from)?;
            }
            f.u64("to", to)?;
            f.str("cause", cause.as_str())
        }
        KafkaEvent::NoOffset { consumer, tp: t } => {
            f.node("consumer", consumer)?;
            tp(f, t)
        }
        KafkaEvent::SegmentRolled { tp: t, base } => {
            tp(f, t)?;
            f.u64("base_offset", base)
        }
        KafkaEvent::SegmentDeleted {
            tp: t,
            base,
            records,
            log_start,
            cause,
        } => {
            tp(f, t)?;
            f.u64("base_offset", base)?;
            f.u64("records", records.into())?;
            f.u64("log_start", log_start)?;
            f.str("cause", cause.as_str())
        }
        KafkaEvent::Compacted {
            tp: t,
            from,
            to,
            removed,
        } => {
            tp(f, t)?;
            f.u64("from", from)?;
            f.u64("to", to)?;
            f.u64("removed", removed.into())
        }
    }
}
