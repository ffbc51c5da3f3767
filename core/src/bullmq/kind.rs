//! The BullMQ model's node kinds: a job queue (BullMQ's `Queue` in Redis), a producer that
//! calls `Queue.add`, and a `Worker`, with BullMQ's option names (camelCase, as JavaScript
//! writes them) and the simulator's own settings in snake_case (`rate_per_s`,
//! `processing_time`, `fail_rate`). In a scenario they are `NodeKind::Bullmq(BullmqKind)`,
//! written as `"kind": "job_queue"` (or `"job_producer"`, `"worker"`).

use super::options::{JobOptions, KeepJobs, Limiter};
use crate::dist::DurationDist;
use crate::scenario::{Arrival, Diagnostic};
use crate::time::SimDuration;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A node of the BullMQ model.
#[derive(Clone, Debug, PartialEq)]
pub enum BullmqKind {
    /// A queue: its jobs in Redis (`wait`, `prioritized`, `delayed`, `active`, `completed`,
    /// `failed`), its rate limiter, and its queue-wide settings.
    Queue(QueueConfig),
    /// A producer: `Queue.add` at a rate, or on scripted `publish` actions. Boxed: its job
    /// options, scheduler and flow are most of a node's size otherwise, and every node of
    /// every kind would carry that much (the topology's nodes are read on every message).
    Producer(Box<ProducerConfig>),
    /// A worker: it fetches jobs, runs up to `concurrency` at once, holds their locks, and
    /// completes, retries or fails them. Boxed, as a producer is.
    Worker(Box<WorkerConfig>),
}

impl BullmqKind {
    /// Every kind name of the model, as documents write them.
    pub const NAMES: &'static [&'static str] = &["job_queue", "job_producer", "worker"];

    /// The kind's name as written in documents.
    pub fn name(&self) -> &'static str {
        match self {
            BullmqKind::Queue(_) => "job_queue",
            BullmqKind::Producer(_) => "job_producer",
            BullmqKind::Worker(_) => "worker",
        }
    }

    /// Reads a node of kind `name` from its `config`, reporting errors under `path`; `None` if
    /// `name` is not one of this model's kinds.
    pub(crate) fn parse(
        name: &str,
        config: Value,
        path: &str,
    ) -> Option<Result<BullmqKind, Diagnostic>> {
        use crate::scenario::typed;
        Some(match name {
            "job_queue" => typed(config, path).map(BullmqKind::Queue),
            "job_producer" => typed(config, path).map(|p| BullmqKind::Producer(Box::new(p))),
            "worker" => typed(config, path).map(|w| BullmqKind::Worker(Box::new(w))),
            _ => return None,
        })
    }

    /// Writes the kind's `config` object.
    pub(crate) fn serialize_config<M: serde::ser::SerializeMap>(
        &self,
        map: &mut M,
    ) -> Result<(), M::Error> {
        match self {
            BullmqKind::Queue(c) => map.serialize_entry("config", c),
            BullmqKind::Producer(c) => map.serialize_entry("config", c),
            BullmqKind::Worker(c) => map.serialize_entry("config", c),
        }
    }
}

/// What an edge of the BullMQ model is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EdgeKind {
    /// A producer adds jobs to a queue (`Queue.add`: one Redis call each way).
    Add,
    /// A worker works a queue: its fetches, finishes and lock renewals cross this edge, one
    /// Redis call each way.
    Work,
}

impl EdgeKind {
    /// What the edge means, in a few words.
    pub fn meaning(self) -> &'static str {
        match self {
            EdgeKind::Add => "adds jobs to",
            EdgeKind::Work => "is worked by",
        }
    }

    /// A short class name for drawing.
    pub fn class(self) -> &'static str {
        match self {
            EdgeKind::Add => "add",
            EdgeKind::Work => "work",
        }
    }
}

/// A queue's settings: what BullMQ keeps in the queue's `meta` hash.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QueueConfig {
    /// `Queue.setGlobalConcurrency`: at most this many jobs active across all workers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_concurrency: Option<u32>,
    /// `Queue.setGlobalRateLimit(max, duration)`: its `max` wins over a worker's, the worker's
    /// `duration` over its own, as BullMQ decides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_rate_limit: Option<Limiter>,
}

/// What a job is: its name, its options, and what its processor will do with it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobTemplate {
    /// The job's name (`Queue.add(name, …)`); absent: the producer's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its options (`Queue.add(…, opts)`); absent: the producer's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opts: Option<JobOptions>,
    /// The processor throws on this job's first this many attempts (then it succeeds).
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub fails: u32,
    /// The processor throws an `UnrecoverableError` for it: no retry.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unrecoverable: bool,
}

fn is_zero_u32(n: &u32) -> bool {
    *n == 0
}

fn is_zero(d: &SimDuration) -> bool {
    *d == SimDuration::ZERO
}

fn job_name() -> String {
    "job".into()
}

/// A handler step that adds a job (`Queue.add(name, data, opts)`): `{"add_job": "emails",
/// "name": "receipt", "job_id": "receipt-{correlation_id}", "opts": {"attempts": 3}, "data":
/// {"order": "{correlation_id}"}}`. The job's message continues the handled message's causal
/// chain. The handler waits for Redis's answer (`await queue.add(…)`), as a store's write
/// waits for the store's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddJobStep {
    /// The job queue, by name; the handler's node needs an edge to it.
    pub add_job: String,
    /// The job's name.
    #[serde(default = "job_name", skip_serializing_if = "is_job_name")]
    pub name: String,
    /// A custom `jobId`, made from the handled message: a second add with an id the queue
    /// has is ignored (BullMQ's idempotent add). None: the queue numbers the job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<crate::data::KeyTemplate>,
    /// The job's options (`attempts`, `backoff`, `delay`, `priority`, …); its `jobId` is the
    /// step's `job_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opts: Option<Box<JobOptions>>,
    /// The job's data, each field made from the handled message; the worker's templates read
    /// a field as `{header.NAME}`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub data: std::collections::BTreeMap<String, crate::data::KeyTemplate>,
}

fn is_job_name(n: &str) -> bool {
    n == "job"
}

/// A producer's settings: the jobs it adds and how often.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProducerConfig {
    /// Jobs added per second; `0` adds only on scripted `publish` actions.
    #[serde(default)]
    pub rate_per_s: f64,
    /// How the gaps between adds are drawn.
    #[serde(default)]
    pub arrival: Arrival,
    /// Stop after this many rate-driven jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// When the first rate-driven job may be added.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start: SimDuration,
    /// The jobs' name.
    #[serde(default = "job_name")]
    pub name: String,
    /// The jobs' options (`JobsOptions`, under BullMQ's names).
    #[serde(default)]
    pub opts: JobOptions,
    /// The processor throws on each job's first this many attempts.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub fails: u32,
    /// A job scheduler (`Queue.upsertJobScheduler`) instead of adds at a rate: the queue
    /// makes the jobs itself, each when the one before is taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<Box<SchedulerConfig>>,
    /// A flow (`FlowProducer.add`): each job the producer adds is a parent, made in its queue
    /// waiting for these children, which are added with it, each to its own queue.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<FlowChild>,
}

/// A job of a flow below its root (`FlowJob`): its queue, its name and options, what its
/// processor does with it, and its own children.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FlowChild {
    /// The job's name.
    #[serde(default = "job_name")]
    pub name: String,
    /// The id of the `job_queue` node it is added to.
    pub queue_name: String,
    /// Its options (`failParentOnFailure` and the other three say what its final failure
    /// does to its parent).
    #[serde(default)]
    pub opts: JobOptions,
    /// The processor throws on its first this many attempts.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub fails: u32,
    /// The processor throws an `UnrecoverableError` for it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unrecoverable: bool,
    /// Its own children: it waits for them before it runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<FlowChild>,
}

/// `Queue.upsertJobScheduler(id, repeatOpts, template)`: the id and the repeat options, under
/// BullMQ's names; the template is the producer's `name` and `opts`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SchedulerConfig {
    /// The scheduler's id.
    pub id: String,
    /// Milliseconds between jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<u64>,
    /// A cron pattern: 5 fields, or 6 with seconds first (simulated time 0 is the Unix epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// The pattern's time zone (an IANA name); UTC without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tz: Option<String>,
    /// With a pattern: the first job at once, not at the pattern's next time.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub immediately: bool,
    /// No job after this (ms of simulated time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<u64>,
    /// At most this many jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// The first job not before this (ms of simulated time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<u64>,
    /// The jobs' phase within `every` (ms): a job every `every` at `offset` past a multiple.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            rate_per_s: 0.0,
            arrival: Arrival::default(),
            limit: None,
            start: SimDuration::ZERO,
            name: job_name(),
            opts: JobOptions::default(),
            fails: 0,
            scheduler: None,
            children: Vec::new(),
        }
    }
}

fn one() -> f64 {
    1.0
}
fn thirty_s() -> u64 {
    30_000
}
fn five() -> f64 {
    5.0
}
fn max_stalled() -> u32 {
    1
}
fn twenty_ms() -> DurationDist {
    DurationDist::Constant {
        value: SimDuration::from_ms(20),
    }
}

/// A worker's settings (`WorkerOptions`, under BullMQ's names, with BullMQ's defaults), and
/// what its processor does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkerConfig {
    /// Jobs run at once (at least 1; a fraction rounds up, as BullMQ's loop counts).
    #[serde(default = "one")]
    pub concurrency: f64,
    /// `{max, duration}`: jobs started per window, over the whole queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limiter: Option<Limiter>,
    /// Milliseconds a job's lock lasts unless renewed.
    #[serde(default = "thirty_s")]
    pub lock_duration: u64,
    /// How often locks are renewed (absent: half of `lockDuration`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_renew_time: Option<u64>,
    /// Never renew locks (a job longer than `lockDuration` then stalls).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skip_lock_renewal: bool,
    /// Milliseconds between the stalled-job checker's runs.
    #[serde(default = "thirty_s")]
    pub stalled_interval: u64,
    /// How often a job may stall before it fails.
    #[serde(default = "max_stalled")]
    pub max_stalled_count: u32,
    /// Seconds a worker with nothing to do blocks waiting for a job.
    #[serde(default = "five")]
    pub drain_delay: f64,
    /// Completed jobs to keep, for jobs without their own `removeOnComplete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove_on_complete: Option<KeepJobs>,
    /// Failed jobs to keep, for jobs without their own `removeOnFail`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove_on_fail: Option<KeepJobs>,
    /// How long the processor takes per attempt.
    #[serde(rename = "processing_time", default = "twenty_ms")]
    pub processing_time: DurationDist,
    /// The probability that an attempt throws (besides the jobs' own `fails`).
    #[serde(rename = "fail_rate", default)]
    pub fail_rate: f64,
    /// The steps the processor runs for each attempt after its `processing_time`: store writes
    /// and publishes, in order, each waiting for the one before; then the job completes (or
    /// throws, by `fail_rate` or its own `fails`). A step that cannot be carried out throws.
    /// Empty: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub handler: Vec<crate::handler::HandlerStep>,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        serde_json::from_value(serde_json::json!({})).expect("every field has a default")
    }
}

impl WorkerConfig {
    /// Jobs it runs at once: `concurrency` rounded up (BullMQ starts another while fewer run).
    pub fn slots(&self) -> u32 {
        libm::ceil(self.concurrency.max(1.0)) as u32
    }

    /// `lockRenewTime`, or half of `lockDuration`.
    pub fn renew_ms(&self) -> u64 {
        self.lock_renew_time.unwrap_or(self.lock_duration / 2)
    }
}
