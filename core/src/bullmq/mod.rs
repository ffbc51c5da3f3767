//! The BullMQ model: job queues in Redis, producers that call `Queue.add`, and workers, with
//! the rules read from BullMQ 6.7's Lua scripts and classes: the job lifecycle (`wait`,
//! `prioritized`, `delayed`, `active`, `completed`, `failed`), FIFO, LIFO and priority order,
//! delays and their promotion, attempts with fixed or exponential backoff and jitter, the rate
//! limiter's fixed window, worker and global concurrency, locks, their renewal and the
//! stalled-job checker, the retention of finished jobs, deduplication, job schedulers and
//! flows (parents waiting for their children).
//!
//! - [`options`]: job and worker options under BullMQ's names, with BullMQ's checks.
//! - [`order`]: the numbers jobs are ordered by, and the backoff before a retry.
//! - [`kind`]: the model's node kinds ([`BullmqKind`]) and edge kinds.
//! - [`event`]: what it tells ([`BullmqEvent`]).

pub mod cron;
pub mod event;
mod flow;
pub mod kind;
pub(crate) mod model;
pub mod options;
pub mod order;
mod producer;
mod queue;
pub(crate) mod rules;
pub(crate) mod trace;
mod worker;

pub use event::{BullmqEvent, Dedup, FailReason, Job, JobInfo, Prev, Retry, StepFailure};
pub use kind::{
    AddJobStep, BullmqKind, EdgeKind, FlowChild, JobTemplate, ProducerConfig, QueueConfig,
    SchedulerConfig, WorkerConfig,
};
pub use model::{
    BullmqMetrics, JobState, JobView, ProducerMetrics, QueueMetrics, QueueStats, WorkerMetrics,
    WorkerStats, ATTEMPT_OVERHEAD_US, LANE, MAX_BLOCK_MS, MAX_RATE_LIMIT_DELAY_MS,
};
pub(crate) use model::{BullmqModel, Due, PlaceDetail};

/// A job attempt a worker is running, as a handler step carried out by another model names it.
pub(crate) type RunKey = crate::http::slab::Key;
pub use options::{
    check_concurrency, check_job_options, keep_jobs, Backoff, BackoffStrategy, BackoffType,
    Deduplication, JobOptions, Keep, KeepJobs, KeepRule, Limiter, OnChildFailure, PRIORITY_LIMIT,
};
pub use order::{backoff_delay, delayed_score, due_ms, priority_score, DELAYED_SHIFT};
