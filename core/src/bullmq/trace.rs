//! The BullMQ model's events as trace fields (see `crate::amqp::trace`). A job is written as
//! `"queue"`, `"job"` (its BullMQ id), `"name"` and `"message"`.

use super::event::{BullmqEvent, Job, Retry};
use crate::trace::Fields;
use std::io::{self, Write};

fn job<W: Write + ?Sized>(f: &mut Fields<'_, W>, j: &Job) -> io::Result<()> {
    f.node("queue", j.queue)?;
    f.str("job", &j.id)?;
    f.str("name", &j.name)?;
    f.u64("message", j.message.0)
}

/// Writes the fields of `e`, each as `,"key":value`.
pub(crate) fn write_fields<W: Write + ?Sized>(
    e: &BullmqEvent,
    f: &mut Fields<'_, W>,
) -> io::Result<()> {
    match e {
        BullmqEvent::Added { job: j, parent } => {
            job(f, j)?;
            match parent {
                Some(p) => f.str("parent", p),
                None => Ok(()),
            }
        }
        BullmqEvent::WaitingChildren { job: j, children } => {
            job(f, j)?;
            f.u64("children", (*children).into())
        }
        BullmqEvent::PendingDependencies { job: j, worker } => {
            job(f, j)?;
            f.node("worker", *worker)
        }
        BullmqEvent::Waiting {
            job: j,
            prev,
            prioritized,
        } => {
            job(f, j)?;
            f.str("prev", prev.as_str())?;
            f.str("list", if *prioritized { "prioritized" } else { "wait" })
        }
        BullmqEvent::Delayed { job: j, due_ms } => {
            job(f, j)?;
            f.u64("delay", *due_ms)
        }
        BullmqEvent::Active {
            job: j,
            worker,
            attempt,
            prioritized: _,
        } => {
            job(f, j)?;
            f.node("worker", *worker)?;
            f.u64("attempts_started", (*attempt).into())
        }
        BullmqEvent::Completed {
            job: j,
            worker,
            attempts_made,
        } => {
            job(f, j)?;
            f.node("worker", *worker)?;
            f.u64("attempts_made", (*attempts_made).into())
        }
        BullmqEvent::WorkerFailed {
            job: j,
            worker,
            attempts_made,
            retry,
        } => {
            job(f, j)?;
            f.node("worker", *worker)?;
            f.u64("attempts_made", (*attempts_made).into())?;
            match retry {
                Retry::After(ms) => {
                    f.str("then", "delayed")?;
                    f.u64("backoff", *ms)
                }
                Retry::Now => f.str("then", "waiting"),
                Retry::No => f.str("then", "failed"),
            }
        }
        BullmqEvent::Failed {
            job: j,
            attempts_made,
            reason,
            child,
        } => {
            job(f, j)?;
            f.u64("attempts_made", (*attempts_made).into())?;
            match reason {
                // BullMQ's message names the job.
                super::event::FailReason::PendingDependencies => f.str(
                    "failed_reason",
                    &format!("Job {} has pending dependencies. moveToFinished", j.id),
                ),
                // BullMQ's `defa` names the child by its Redis key.
                super::event::FailReason::ChildFailed => match child {
                    Some(c) => f.str("failed_reason", &format!("child {} failed", c.0)),
                    None => f.str("failed_reason", reason.as_str()),
                },
                super::event::FailReason::Error
                | super::event::FailReason::Unrecoverable
                | super::event::FailReason::Stalled => f.str("failed_reason", reason.as_str()),
            }
        }
        BullmqEvent::RetriesExhausted {
            job: j,
            attempts_made,
        } => {
            job(f, j)?;
            f.u64("attempts_made", (*attempts_made).into())
        }
        BullmqEvent::Stalled { job: j, count } => {
            job(f, j)?;
            f.u64("stalled_count", (*count).into())
        }
        BullmqEvent::Drained { queue }
        | BullmqEvent::Paused { queue }
        | BullmqEvent::Resumed { queue } => f.node("queue", *queue),
        BullmqEvent::Duplicated { job: j, message } => {
            job(f, j)?;
            f.u64("refused", message.0)
        }
        BullmqEvent::Deduplicated(d) => {
            job(f, &d.job)?;
            f.str("deduplication_id", &d.dedup_id)?;
            f.str("deduplicated_job", &d.other)?;
            match d.message {
                Some(m) => f.u64("refused", m.0),
                None => Ok(()),
            }
        }
        BullmqEvent::Removed { job: j } => {
            job(f, j)?;
            f.str("prev", "delayed")
        }
        BullmqEvent::RateLimited {
            worker,
            queue,
            ttl_ms,
        } => {
            f.node("queue", *queue)?;
            f.node("worker", *worker)?;
            f.u64("ttl", *ttl_ms)
        }
        BullmqEvent::LockMissing { job: j, worker } => {
            job(f, j)?;
            f.node("worker", *worker)
        }
        BullmqEvent::StepFailed(s) => {
            job(f, &s.job)?;
            f.node("worker", s.worker)?;
            f.str("reason", &s.reason)
        }
    }
}
