//! What the BullMQ model tells: the events BullMQ writes to a queue's event stream (what
//! `QueueEvents` hears: `added`, `waiting`, `delayed`, `active`, `completed`, `failed`,
//! `retries-exhausted`, `stalled`, `drained`, `duplicated`, `paused`, `resumed`), and what a
//! `Worker` emits of its own (`failed` after every failed attempt, here `worker_failed`; the
//! errors it reports when it has lost a job's lock or is rate limited).

use crate::id::{MessageId, NodeId};
use std::sync::Arc;

/// A job as events name it: its BullMQ id, its name, its queue and the message it is. Shared
/// by every event about the job (cloning it counts a reference; nothing is copied).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobInfo {
    /// Its id: the queue's counter (`"7"`) or a custom `jobId`.
    pub id: Box<str>,
    /// Its name.
    pub name: Box<str>,
    /// Its queue.
    pub queue: NodeId,
    /// The message it is (its fate is accounted like every message's).
    pub message: MessageId,
}

/// A job, for an event.
pub type Job = Arc<JobInfo>;

/// Where a job came from into `wait` or `prioritized` (`prev` in BullMQ's `waiting` event).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prev {
    /// Just added.
    Added,
    /// Promoted from `delayed` when its time came.
    Delayed,
    /// Back from `active`: retried at once, or moved by the stalled checker.
    Active,
    /// A flow's parent whose children are done (or one of them let it go on).
    WaitingChildren,
}

impl Prev {
    /// As the trace writes it (BullMQ's `prev`, absent for an add).
    pub fn as_str(self) -> &'static str {
        match self {
            Prev::Added => "added",
            Prev::Delayed => "delayed",
            Prev::Active => "active",
            Prev::WaitingChildren => "waiting-children",
        }
    }
}

/// Why a job failed for good.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailReason {
    /// Its processor threw on its last attempt.
    Error,
    /// Its processor threw an `UnrecoverableError`: no retry.
    Unrecoverable,
    /// It stalled more than `maxStalledCount` times (`job stalled more than allowable limit`),
    /// failed when a worker next picked it up.
    Stalled,
    /// A flow's parent, one of whose children with `failParentOnFailure` failed for good
    /// (`child <key> failed`), failed when a worker next picked it up.
    ChildFailed,
    /// A flow's parent that returned while children were still pending (its completion is
    /// refused: `Job <id> has pending dependencies. moveToFinished`).
    PendingDependencies,
}

impl FailReason {
    /// BullMQ's `failedReason`, as the trace writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            FailReason::Error => "processor error",
            FailReason::Unrecoverable => "UnrecoverableError",
            FailReason::Stalled => "job stalled more than allowable limit",
            FailReason::ChildFailed => "child failed",
            FailReason::PendingDependencies => "pending dependencies",
        }
    }
}

/// What a worker does after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// It is retried after a backoff of this many milliseconds (`moveToDelayed`).
    After(u64),
    /// It is retried at once (`retryJob`: no backoff).
    Now,
    /// It fails for good.
    No,
}

/// A failed child's Redis key, `bull:<queue>:<id>`, as a parent's `failedReason` names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChildKey(pub Box<str>);

/// A deduplicated add.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dedup {
    /// The job that holds the id now (in replace mode, the new one).
    pub job: Job,
    /// The deduplication id.
    pub dedup_id: Box<str>,
    /// The other job: the add that was ignored, or the job that was replaced.
    pub other: Box<str>,
    /// The ignored add's message, if an add was ignored.
    pub message: Option<MessageId>,
}

/// Something the BullMQ model did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BullmqEvent {
    /// `Queue.add` reached the queue: the job exists (`added`).
    Added {
        /// The job.
        job: Job,
        /// A flow's child: its parent's id.
        parent: Option<Box<str>>,
    },
    /// A flow's parent waits for its children (`waiting-children`).
    WaitingChildren {
        /// The job.
        job: Job,
        /// How many children it waits for.
        children: u32,
    },
    /// The job waits to be taken (`waiting`): in `wait` or, with a priority, `prioritized`.
    Waiting {
        /// The job.
        job: Job,
        /// From where.
        prev: Prev,
        /// In `prioritized` rather than `wait`.
        prioritized: bool,
    },
    /// The job waits for its time in `delayed` (`delayed`).
    Delayed {
        /// The job.
        job: Job,
        /// When it is due, in milliseconds of simulated time (BullMQ gives the timestamp).
        due_ms: u64,
    },
    /// A worker took the job (`active`); its lock is held.
    Active {
        /// The job.
        job: Job,
        /// The worker.
        worker: NodeId,
        /// Attempts started so far, this one included (`attemptsStarted`).
        attempt: u32,
        /// Taken from `prioritized` rather than `wait` (not in the trace: BullMQ's `prev` is
        /// `waiting` either way).
        prioritized: bool,
    },
    /// The job completed (`completed`).
    Completed {
        /// The job.
        job: Job,
        /// The worker.
        worker: NodeId,
        /// Attempts made, this one included (`attemptsMade`).
        attempts_made: u32,
    },
    /// A worker's attempt failed (the `Worker`'s `failed`, on every failed attempt).
    WorkerFailed {
        /// The job.
        job: Job,
        /// The worker.
        worker: NodeId,
        /// Attempts made, this one included.
        attempts_made: u32,
        /// What follows.
        retry: Retry,
    },
    /// The job failed for good (the queue's `failed`, on the last attempt only).
    Failed {
        /// The job.
        job: Job,
        /// Attempts made.
        attempts_made: u32,
        /// Why.
        reason: FailReason,
        /// With [`FailReason::ChildFailed`]: the child's Redis key, boxed (a thin pointer) so
        /// that events stay small.
        child: Option<Box<ChildKey>>,
    },
    /// A final failure with `attemptsMade >= attempts` (`retries-exhausted`).
    RetriesExhausted {
        /// The job.
        job: Job,
        /// Attempts made.
        attempts_made: u32,
    },
    /// The stalled checker moved the job, whose lock had expired, back to `wait` (`stalled`).
    Stalled {
        /// The job.
        job: Job,
        /// The times it has stalled.
        count: u32,
    },
    /// A finishing job left nothing to do: `wait`, `prioritized`, `active` and `delayed` are
    /// empty (`drained`).
    Drained {
        /// The queue.
        queue: NodeId,
    },
    /// An add with the `jobId` of a job the queue has was ignored (`duplicated`).
    Duplicated {
        /// The job that stays.
        job: Job,
        /// The add's message, which ends here.
        message: MessageId,
    },
    /// An add was deduplicated (`deduplicated`): ignored for the job that holds the
    /// deduplication id, or (replace mode) it replaced that job.
    Deduplicated(Box<Dedup>),
    /// A job was removed before it ran (`removed`): a delayed job replaced in debounce mode.
    Removed {
        /// The job.
        job: Job,
    },
    /// `Queue.pause()`: workers take no new jobs (`paused`).
    Paused {
        /// The queue.
        queue: NodeId,
    },
    /// `Queue.resume()` (`resumed`).
    Resumed {
        /// The queue.
        queue: NodeId,
    },
    /// A worker found the rate limiter's window full: it waits this long before asking again.
    RateLimited {
        /// The worker.
        worker: NodeId,
        /// The queue.
        queue: NodeId,
        /// Milliseconds until the window closes.
        ttl_ms: u64,
    },
    /// A worker's completion of a flow's parent was refused: children are still pending, or
    /// one failed it (`Job <id> has pending dependencies`); the worker fails the attempt.
    PendingDependencies {
        /// The job.
        job: Job,
        /// The worker.
        worker: NodeId,
    },
    /// A worker finished a job whose lock it had lost (it stalled and was moved on): BullMQ
    /// refuses the finish (`Missing lock for job …`), and the job's state stands.
    LockMissing {
        /// The job.
        job: Job,
        /// The worker.
        worker: NodeId,
    },
    /// A worker's handler step could not be carried out (its store, exchange or queue, or the
    /// edge to it, was removed by a live edit): the processor throws. Boxed, so that events
    /// stay small.
    StepFailed(Box<StepFailure>),
}

/// A worker's handler step that could not be carried out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepFailure {
    /// The job.
    pub job: Job,
    /// The worker.
    pub worker: NodeId,
    /// Why, in words.
    pub reason: String,
}

impl BullmqEvent {
    /// The event's name as written in traces.
    pub fn name(&self) -> &'static str {
        match self {
            BullmqEvent::Added { .. } => "added",
            BullmqEvent::WaitingChildren { .. } => "waiting_children",
            BullmqEvent::PendingDependencies { .. } => "pending_dependencies",
            BullmqEvent::Waiting { .. } => "waiting",
            BullmqEvent::Delayed { .. } => "delayed",
            BullmqEvent::Active { .. } => "active",
            BullmqEvent::Completed { .. } => "completed",
            BullmqEvent::WorkerFailed { .. } => "worker_failed",
            BullmqEvent::Failed { .. } => "failed",
            BullmqEvent::RetriesExhausted { .. } => "retries_exhausted",
            BullmqEvent::Stalled { .. } => "stalled",
            BullmqEvent::Drained { .. } => "drained",
            BullmqEvent::Duplicated { .. } => "duplicated",
            BullmqEvent::Deduplicated(_) => "deduplicated",
            BullmqEvent::Removed { .. } => "removed",
            BullmqEvent::Paused { .. } => "paused",
            BullmqEvent::Resumed { .. } => "resumed",
            BullmqEvent::RateLimited { .. } => "rate_limited",
            BullmqEvent::LockMissing { .. } => "lock_missing",
            BullmqEvent::StepFailed(_) => "step_failed",
        }
    }

    /// The message the event is about, if any.
    pub fn message(&self) -> Option<MessageId> {
        match self {
            BullmqEvent::Added { job, .. }
            | BullmqEvent::WaitingChildren { job, .. }
            | BullmqEvent::PendingDependencies { job, .. }
            | BullmqEvent::Waiting { job, .. }
            | BullmqEvent::Delayed { job, .. }
            | BullmqEvent::Active { job, .. }
            | BullmqEvent::Completed { job, .. }
            | BullmqEvent::WorkerFailed { job, .. }
            | BullmqEvent::Failed { job, .. }
            | BullmqEvent::RetriesExhausted { job, .. }
            | BullmqEvent::Stalled { job, .. }
            | BullmqEvent::Removed { job }
            | BullmqEvent::LockMissing { job, .. } => Some(job.message),
            BullmqEvent::StepFailed(f) => Some(f.job.message),
            BullmqEvent::Duplicated { message, .. } => Some(*message),
            BullmqEvent::Deduplicated(d) => Some(d.message.unwrap_or(d.job.message)),
            BullmqEvent::Drained { .. }
            | BullmqEvent::Paused { .. }
            | BullmqEvent::Resumed { .. }
            | BullmqEvent::RateLimited { .. } => None,
        }
    }

    /// The nodes the event is about (for filters and highlights).
    pub fn nodes(&self) -> [Option<NodeId>; 2] {
        match self {
            BullmqEvent::Added { job, .. }
            | BullmqEvent::WaitingChildren { job, .. }
            | BullmqEvent::Waiting { job, .. }
            | BullmqEvent::Delayed { job, .. }
            | BullmqEvent::Failed { job, .. }
            | BullmqEvent::RetriesExhausted { job, .. }
            | BullmqEvent::Stalled { job, .. }
            | BullmqEvent::Removed { job }
            | BullmqEvent::Duplicated { job, .. } => [Some(job.queue), None],
            BullmqEvent::Deduplicated(d) => [Some(d.job.queue), None],
            BullmqEvent::Active { job, worker, .. }
            | BullmqEvent::Completed { job, worker, .. }
            | BullmqEvent::WorkerFailed { job, worker, .. }
            | BullmqEvent::PendingDependencies { job, worker }
            | BullmqEvent::LockMissing { job, worker } => [Some(job.queue), Some(*worker)],
            BullmqEvent::StepFailed(f) => [Some(f.job.queue), Some(f.worker)],
            BullmqEvent::Drained { queue }
            | BullmqEvent::Paused { queue }
            | BullmqEvent::Resumed { queue } => [Some(*queue), None],
            BullmqEvent::RateLimited { worker, queue, .. } => [Some(*queue), Some(*worker)],
        }
    }
}
