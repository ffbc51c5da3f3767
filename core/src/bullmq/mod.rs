//! BullMQ's job queues: the rules, under BullMQ's names, read from BullMQ 6.7's Lua scripts and
//! classes (`docs/bullmq.md` when the model lands).
//!
//! Begun: the pure rules come first, each with its tests: job and worker options with BullMQ's
//! checks and messages, and the numbers jobs are ordered by (priority and delayed scores, the
//! backoff before a retry). The model behind the seam (node kinds, the job lifecycle, workers,
//! the rate limiter, locks and the stalled checker) builds on them.

pub mod options;
pub mod order;

pub use options::{
    check_concurrency, check_job_options, keep_jobs, Backoff, BackoffStrategy, BackoffType,
    JobOptions, Keep, KeepJobs, KeepRule, Limiter, PRIORITY_LIMIT,
};
pub use order::{backoff_delay, delayed_score, due_ms, priority_score, DELAYED_SHIFT};
