//! The BullMQ model's state: each queue's sets as Redis holds them, each job's hash, each
//! worker's loop, and the agenda entries that move them. The Redis side (what BullMQ's Lua
//! scripts do) is in `queue.rs`, the worker's side in `worker.rs`, `Queue.add` in
//! `producer.rs`.

use super::event::{BullmqEvent, Job, JobInfo};
use super::kind::{BullmqKind, JobTemplate, ProducerConfig, QueueConfig, WorkerConfig};
use crate::event::EventKind;
use crate::http::slab::{Key, Slab};
use crate::id::{MessageId, NodeId};
use crate::kernel::Kernel;
use crate::ledger::Fate;
use crate::message::Envelope;
use crate::model::{ModelDue, Place, PlaceDetail as ModelPlace};
use crate::scenario::NodeKind;
use crate::time::SimTime;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

/// A worker's own time per attempt besides its processor's (Node's event loop: building the
/// job, calling the processor, handling its result), in µs. Measured against BullMQ 6.7 on a
/// local Redis (`scripts/check-bullmq.sh`): about 22 ms between the starts of 20 ms jobs taken
/// one after another, of which the two Redis round trips are under 1 ms.
pub const ATTEMPT_OVERHEAD_US: u64 = 1_500;

/// `maximumBlockTimeout`: a worker blocks at most this long (ms) waiting for a job.
pub const MAX_BLOCK_MS: u64 = 10_000;

/// `maximumRateLimitDelay`: a rate-limited worker waits at most this long (ms) before asking
/// again.
pub const MAX_RATE_LIMIT_DELAY_MS: u64 = 30_000;

/// A model's agenda entry (each at most 12 bytes: the kernel's entries stay small).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Due {
    /// A producer's next rate-driven `Queue.add` (producer, emit epoch).
    Emit(NodeId, u32),
    /// A worker's `moveToActive` reaches Redis (worker, epoch).
    Fetch(NodeId, u32),
    /// Redis's answer to a fetch or a blocking wait reaches the worker (worker, epoch).
    Reply(NodeId, u32),
    /// A worker's blocking wait for a job ends at Redis without one (worker, wait number).
    BlockTimeout(NodeId, u32),
    /// An attempt's processor is done (run).
    Done(Key),
    /// A handler step another model carried out (a store's write, a call) answers the attempt
    /// (run): done, or how it failed.
    StepDone(Key, crate::model::StepAnswer),
    /// An attempt's finishing call reaches Redis (run).
    Finish(Key),
    /// Redis's answer to a finishing call reaches the worker (run).
    Finished(Key),
    /// A worker's lock manager wakes (worker, epoch).
    Renew(NodeId, u32),
    /// Its lock renewal reaches Redis (worker, epoch).
    RenewAt(NodeId, u32),
    /// A worker's stalled-job checker wakes (worker, epoch).
    Check(NodeId, u32),
    /// Its check reaches Redis (worker, epoch).
    CheckAt(NodeId, u32),
    /// A rate-limited worker may ask again (worker, epoch).
    LimitOver(NodeId, u32),
    /// A producer's `upsertJobScheduler` reaches Redis (producer, emit epoch).
    Upsert(NodeId, u32),
}

pub(crate) fn schedule(k: &mut Kernel, at: SimTime, due: Due) {
    k.schedule(at, ModelDue::Bullmq(due));
}

pub(crate) fn emit(k: &mut Kernel, e: BullmqEvent) {
    k.emit(EventKind::Bullmq(e));
}

/// The current time in whole milliseconds, as `Date.now()` gives it.
pub(crate) fn now_ms(k: &Kernel) -> u64 {
    k.now.0 / 1000
}

/// A millisecond as a simulated time.
pub(crate) fn at_ms(ms: u64) -> SimTime {
    SimTime(ms.saturating_mul(1000))
}

/// Where a job is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum JobState {
    /// In `wait`.
    Waiting,
    /// In `prioritized`.
    Prioritized,
    /// In `delayed`.
    Delayed,
    /// In `active`, locked by a worker (or stalled, its lock expired, until the checker sees).
    Active,
    /// In `completed`.
    Completed,
    /// In `failed`.
    Failed,
    /// In `waiting-children`: a flow's parent, until its children are done.
    WaitingChildren,
}

impl JobState {
    /// BullMQ's name for the state (`getState`).
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Waiting => "waiting",
            JobState::Prioritized => "prioritized",
            JobState::Delayed => "delayed",
            JobState::Active => "active",
            JobState::Completed => "completed",
            JobState::Failed => "failed",
            JobState::WaitingChildren => "waiting-children",
        }
    }
}

/// A job's lock (`<job>:lock`, set with `PX lockDuration`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Lock {
    /// The attempt (run) that holds it: its token.
    pub run: Key,
    /// When it expires unless renewed.
    pub until: SimTime,
}

/// A job's hash.
#[derive(Clone, Debug)]
pub(crate) struct JobData {
    pub info: Job,
    pub opts: Arc<super::options::JobOptions>,
    pub state: JobState,
    /// `priority` (0: none).
    pub priority: i64,
    /// `atm`.
    pub attempts_made: u32,
    /// `ats`.
    pub attempts_started: u32,
    /// `stc`.
    pub stalled_count: u32,
    /// `defa`: it fails when next picked up, for this reason.
    pub deferred: Option<super::event::FailReason>,
    /// With a child's failure as the reason: the child's Redis key (`bull:<queue>:<id>`).
    pub deferred_child: Option<Box<str>>,
    pub lock: Option<Lock>,
    /// `finishedOn`, ms.
    pub finished_ms: Option<u64>,
    /// The processor throws on this many more attempts.
    pub fails_left: u32,
    pub unrecoverable: bool,
    /// The message, while the job lives (waiting, delayed or active).
    pub msg: Option<Box<Envelope>>,
    /// The score it has in `prioritized` or `delayed`.
    pub score: i64,
    /// `rjk`: the job scheduler that made it.
    pub scheduler: Option<Box<str>>,
    /// `parentKey`: a flow's child names its parent.
    pub parent: Option<Key>,
    /// A flow's parent: its children and what became of them.
    pub deps: Option<Box<Dependencies>>,
}

/// A flow parent's children (`<job>:dependencies`, `:processed`, `:failed`, `:unsuccessful`).
#[derive(Clone, Debug, Default)]
pub(crate) struct Dependencies {
    /// Children not yet done.
    pub pending: BTreeSet<Key>,
    /// Children completed.
    pub processed: u32,
    /// Children that failed for good and were let go (`continueParentOnFailure`,
    /// `ignoreDependencyOnFailure`).
    pub failed: u32,
    /// Children that failed for good and fail the parent (`failParentOnFailure`).
    pub unsuccessful: u32,
}

/// One queue: its Redis keys.
#[derive(Clone, Debug, Default)]
pub(crate) struct QueueState {
    /// `wait`: the front is the head (taken next; `RPUSH` puts there), the back the tail
    /// (`LPUSH`).
    pub wait: VecDeque<Key>,
    /// `prioritized`, by score.
    pub prioritized: BTreeSet<(i64, Key)>,
    /// `pc`.
    pub priority_counter: u64,
    /// `delayed`, by score.
    pub delayed: BTreeSet<(u64, Key)>,
    /// `waiting-children`, by the time each parent was added.
    pub waiting_children: BTreeSet<(u64, Key)>,
    /// `active`, oldest first.
    pub active: Vec<Key>,
    /// `stalled`: jobs marked by the last check.
    pub stalled: BTreeSet<Key>,
    /// `stalled-check`: no check runs before this.
    pub check_until: SimTime,
    /// `completed` and `failed`, oldest first (by `finishedOn`).
    pub completed: VecDeque<Key>,
    pub failed: VecDeque<Key>,
    /// `id`: the counter behind automatic ids.
    pub counter: u64,
    /// Custom ids of the jobs it has.
    pub custom: BTreeMap<Box<str>, Key>,
    /// Deduplication ids (`de:<id>`): the job that holds each, and when the key expires.
    pub dedup: BTreeMap<Box<str>, (Key, Option<SimTime>)>,
    /// Job schedulers (`repeat`), by id.
    pub schedulers: BTreeMap<Box<str>, Scheduler>,
    /// `limiter`: jobs moved to active in the window, and when the window closes.
    pub limiter: u32,
    pub limiter_until: Option<SimTime>,
    /// The open window's `max` and `duration` (ms), as the worker that opened it had them.
    pub limiter_window: Option<(u32, u64)>,
    /// `meta.paused`.
    pub paused: bool,
    /// Workers blocked waiting for a job, first blocked first (they are served in that order).
    pub blocked: VecDeque<NodeId>,
    /// `marker` holds "a job is ready" (no worker was blocked to take it).
    pub marker: bool,
    /// `marker` holds "a delayed job is due then" (ms).
    pub marker_due: Option<u64>,
    /// Totals.
    pub stats: QueueStats,
}

/// A queue's counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct QueueStats {
    /// Jobs added.
    pub added: u64,
    /// Jobs completed.
    pub completed: u64,
    /// Jobs failed for good.
    pub failed: u64,
    /// Attempts that failed (retried or not).
    pub attempts_failed: u64,
    /// Jobs moved back by the stalled checker.
    pub stalled: u64,
    /// Adds ignored for an existing `jobId`.
    pub duplicated: u64,
    /// Adds ignored by deduplication.
    pub deduplicated: u64,
    /// Jobs removed before they ran (replaced by a deduplicated add).
    pub removed: u64,
}

/// A job scheduler's state (`repeat:<id>`).
#[derive(Clone, Debug)]
pub(crate) struct Scheduler {
    /// The producer whose template it uses.
    pub producer: NodeId,
    /// `every` (ms); 0 with a cron pattern.
    pub every: u64,
    /// The cron pattern, if it has one, with its key (pattern and `tz`) to tell a change.
    pub cron: Option<Arc<(super::cron::CronSchedule, Box<str>)>>,
    /// No job after this (ms).
    pub end_date: Option<u64>,
    pub offset: u64,
    /// The next job's time (ms).
    pub next_ms: u64,
    /// Jobs made.
    pub count: u64,
    pub limit: Option<u64>,
    /// The id of its job not yet taken (the next iteration is made when it is).
    pub current: Option<Box<str>>,
}

/// What a worker is waiting for from Redis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// A job (its run).
    Job(Key),
    /// Nothing now; the earliest delayed job is due then (ms), if any.
    Nothing(Option<u64>),
    /// The rate limiter's window is full for this many ms.
    Limited(u64),
    /// A blocking wait ended (a job is ready, or it timed out): fetch now.
    Wake,
    /// The queue is paused, or at its global concurrency: nothing, and nothing to wait for.
    Idle,
}

/// What a worker asks Redis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ask {
    /// `moveToActive`.
    Fetch,
    /// `BZPOPMIN marker`, for at most this many ms.
    Block(u64),
}

/// How an attempt ends, as the worker decided it (`job.moveToCompleted`, or
/// `moveToFailed`'s choice between `moveToDelayed`, `retryJob` and `moveToFinished`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Finish {
    /// Completed.
    Complete,
    /// Failed; retried once due (ms).
    Delay(u64, u64),
    /// Failed; retried at once.
    Retry,
    /// Failed for good.
    Fail(super::event::FailReason),
}

/// One attempt: a job at a worker, from its fetch to its finish.
#[derive(Clone, Debug)]
pub(crate) struct Run {
    pub worker: NodeId,
    pub epoch: u32,
    pub job: Key,
    /// How it ended, once the processor is done.
    pub outcome: Option<Finish>,
    /// When its lock was last renewed (or taken).
    pub renewed: SimTime,
    /// The next job the finishing call fetched (`fetchNext`).
    pub next: Option<Answer>,
    /// Deferred while the worker's event loop is blocked.
    pub held: bool,
    /// When its processor started and is due to end, once the worker has the job.
    pub processing: Option<(SimTime, SimTime)>,
    /// Its handler's next step (0: its processing is not done yet, or it has run none).
    pub step: u16,
}

/// A worker's state.
#[derive(Clone, Debug, Default)]
pub(crate) struct WorkerState {
    /// Bumped by a crash and a restart: older timers are stale.
    pub epoch: u32,
    /// Its attempts in progress.
    pub runs: Vec<Key>,
    /// A fetch or a blocking wait is out, and which.
    pub asking: bool,
    pub ask: Option<Ask>,
    /// Redis's answer, on its way back.
    pub answer: Option<Answer>,
    /// Blocked waiting for a job (its wait number, to tell a stale timeout).
    pub blocked: Option<u32>,
    pub block_seq: u32,
    /// When the blocking wait times out.
    pub block_until: SimTime,
    /// The last fetch found nothing.
    pub drained: bool,
    /// The earliest delayed job's due time the last fetch reported (ms).
    pub next_due: Option<u64>,
    /// Rate limited until then.
    pub limit_until: SimTime,
    /// Its event loop is blocked (`pause`): no timers, no renewals, no new work.
    pub stuck: bool,
    pub stats: WorkerStats,
}

/// A worker's counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct WorkerStats {
    /// Attempts started.
    pub started: u64,
    /// Jobs it completed.
    pub completed: u64,
    /// Attempts that failed.
    pub failed: u64,
    /// Finishes refused for a lost lock.
    pub lost_locks: u64,
}

/// A producer's state.
#[derive(Clone, Debug, Default)]
pub(crate) struct ProducerState {
    pub emit_epoch: u32,
    pub emitted: u64,
}

/// A node's state.
#[derive(Clone, Debug, Default)]
pub(crate) enum NodeState {
    /// Not one of this model's nodes.
    #[default]
    None,
    Queue(Box<QueueState>),
    Producer(Box<ProducerState>),
    Worker(Box<WorkerState>),
}

/// An add on its way to the queue: what the job will be.
#[derive(Clone, Debug)]
pub(crate) struct PendingAdd {
    pub producer: NodeId,
    pub template: JobTemplate,
    pub timestamp_ms: u64,
    /// A flow: the root's id, and its jobs below the root, in the order they are added.
    pub flow: Option<Box<PendingFlow>>,
}

/// A flow on its way to Redis (`FlowProducer.add`: one transaction).
#[derive(Clone, Debug)]
pub(crate) struct PendingFlow {
    /// The root's id (a UUID, as the flow producer makes them).
    pub root_id: Box<str>,
    /// Every job below the root, depth first, each after its parent.
    pub jobs: Vec<PendingChild>,
}

/// One job of a flow below its root.
#[derive(Clone, Debug)]
pub(crate) struct PendingChild {
    /// Its parent's place in the flow: `None` for the root, else an index into `jobs`.
    pub parent: Option<usize>,
    pub id: Box<str>,
    pub queue_name: String,
    pub name: String,
    pub opts: Arc<super::options::JobOptions>,
    pub fails: u32,
    pub unrecoverable: bool,
    /// How many children it has.
    pub children: u32,
    pub msg: Box<Envelope>,
}

/// The BullMQ model.
#[derive(Clone, Debug, Default)]
pub struct BullmqModel {
    pub(crate) nodes: Vec<NodeState>,
    pub(crate) jobs: Slab<JobData>,
    pub(crate) runs: Slab<Run>,
    /// Adds on the wire, by message.
    pub(crate) pending: BTreeMap<MessageId, PendingAdd>,
}

/// Where a job's message rests.
#[derive(Clone, Copy, Debug)]
pub(crate) enum PlaceDetail<'a> {
    /// In a queue, in this state.
    Job {
        /// The queue.
        queue: NodeId,
        /// The job.
        job: &'a JobData,
    },
}

impl BullmqModel {
    pub(crate) fn kind(k: &Kernel, node: NodeId) -> Option<&BullmqKind> {
        match &k.topo.node(node).kind {
            NodeKind::Bullmq(b) => Some(b),
            NodeKind::Producer(_)
            | NodeKind::Relay(_)
            | NodeKind::Sink(_)
            | NodeKind::Amqp(_)
            | NodeKind::Http(_)
            | NodeKind::Kafka(_)
            | NodeKind::Data(_) => None,
        }
    }

    pub(crate) fn queue_config(k: &Kernel, node: NodeId) -> &QueueConfig {
        match Self::kind(k, node) {
            Some(BullmqKind::Queue(c)) => c,
            Some(BullmqKind::Producer(_) | BullmqKind::Worker(_)) | None => {
                unreachable!("a queue")
            }
        }
    }

    pub(crate) fn producer_config(k: &Kernel, node: NodeId) -> &ProducerConfig {
        match Self::kind(k, node) {
            Some(BullmqKind::Producer(c)) => c,
            Some(BullmqKind::Queue(_) | BullmqKind::Worker(_)) | None => {
                unreachable!("a producer")
            }
        }
    }

    pub(crate) fn worker_config(k: &Kernel, node: NodeId) -> &WorkerConfig {
        match Self::kind(k, node) {
            Some(BullmqKind::Worker(c)) => c,
            Some(BullmqKind::Queue(_) | BullmqKind::Producer(_)) | None => {
                unreachable!("a worker")
            }
        }
    }

    pub(crate) fn queue(&mut self, node: NodeId) -> &mut QueueState {
        match &mut self.nodes[node.index()] {
            NodeState::Queue(q) => q,
            NodeState::None | NodeState::Producer(_) | NodeState::Worker(_) => {
                unreachable!("a queue")
            }
        }
    }

    pub(crate) fn queue_ref(&self, node: NodeId) -> Option<&QueueState> {
        match self.nodes.get(node.index()) {
            Some(NodeState::Queue(q)) => Some(q),
            _ => None,
        }
    }

    pub(crate) fn worker(&mut self, node: NodeId) -> &mut WorkerState {
        match &mut self.nodes[node.index()] {
            NodeState::Worker(w) => w,
            NodeState::None | NodeState::Producer(_) | NodeState::Queue(_) => {
                unreachable!("a worker")
            }
        }
    }

    pub(crate) fn producer(&mut self, node: NodeId) -> &mut ProducerState {
        match &mut self.nodes[node.index()] {
            NodeState::Producer(p) => p,
            NodeState::None | NodeState::Queue(_) | NodeState::Worker(_) => {
                unreachable!("a producer")
            }
        }
    }

    /// The job behind `key` (it exists).
    pub(crate) fn job(&mut self, key: Key) -> &mut JobData {
        self.jobs.get_mut(key).expect("a live job")
    }

    /// A node was added (or the run starts with it).
    pub fn node_added(&mut self, k: &mut Kernel, node: NodeId) {
        let i = node.index();
        if self.nodes.len() <= i {
            self.nodes.resize_with(i + 1, NodeState::default);
        }
        let Some(kind) = Self::kind(k, node) else {
            return;
        };
        match kind {
            BullmqKind::Queue(_) => self.nodes[i] = NodeState::Queue(Box::default()),
            BullmqKind::Producer(_) => {
                self.nodes[i] = NodeState::Producer(Box::default());
                self.schedule_emit(k, node, false);
            }
            BullmqKind::Worker(_) => {
                self.nodes[i] = NodeState::Worker(Box::default());
                self.worker_started(k, node);
            }
        }
    }

    /// An edge was added: a worker that now works a queue starts on it (a new incarnation:
    /// its lock manager, its checker and its loop).
    pub fn edge_added(&mut self, k: &mut Kernel, edge: crate::id::EdgeId) {
        let e = k.topo.edge(edge);
        if e.kind == crate::model::EdgeKind::Bullmq(super::EdgeKind::Work) {
            let worker = e.to;
            if k.up(worker) {
                self.worker_started(k, worker);
            }
        }
    }

    /// An edge is about to be removed: a worker no longer working the queue lets go of it as
    /// a forced `close` does: its attempts end unfinished, and their jobs stall.
    pub fn edge_removing(&mut self, k: &mut Kernel, edge: crate::id::EdgeId) {
        let e = k.topo.edge(edge);
        if e.kind == crate::model::EdgeKind::Bullmq(super::EdgeKind::Work) {
            self.worker_crashed(k, e.to);
        }
    }

    /// A timer is due.
    pub fn timer(&mut self, k: &mut Kernel, due: Due) {
        match due {
            Due::Emit(p, epoch) => self.emit_due(k, p, epoch),
            Due::Fetch(w, epoch) => self.fetch_at_redis(k, w, epoch),
            Due::Reply(w, epoch) => self.answer_arrives(k, w, epoch),
            Due::BlockTimeout(w, seq) => self.block_timed_out(k, w, seq),
            Due::Done(run) => self.processed(k, run),
            Due::StepDone(run, answer) => self.step_done(k, run, answer),
            Due::Finish(run) => self.finish_at_redis(k, run),
            Due::Finished(run) => self.finish_answered(k, run),
            Due::Renew(w, epoch) => self.renew_tick(k, w, epoch),
            Due::RenewAt(w, epoch) => self.renew_at_redis(k, w, epoch),
            Due::Check(w, epoch) => self.check_tick(k, w, epoch),
            Due::CheckAt(w, epoch) => self.check_at_redis(k, w, epoch),
            Due::LimitOver(w, epoch) => self.limit_over(k, w, epoch),
            Due::Upsert(p, epoch) => self.upsert_at_redis(k, p, epoch),
        }
    }

    /// The node crashes. A producer's adds on the wire still arrive; a worker's attempts are
    /// lost with it, but its jobs stay `active` in Redis until their locks expire and the
    /// stalled checker moves them back.
    pub fn crash(&mut self, k: &mut Kernel, node: NodeId) {
        if !k.mark_down(node) {
            return;
        }
        match &self.nodes[node.index()] {
            NodeState::Producer(_) => {
                let p = self.producer(node);
                p.emit_epoch = p.emit_epoch.wrapping_add(1);
            }
            NodeState::Worker(_) => self.worker_crashed(k, node),
            // Redis does not crash here.
            NodeState::Queue(_) => {}
            NodeState::None => unreachable!("a node of the model"),
        }
        k.emit(EventKind::Crashed { node, lost: 0 });
    }

    /// The node comes back.
    pub fn restart(&mut self, k: &mut Kernel, node: NodeId) {
        match &self.nodes[node.index()] {
            NodeState::Producer(_) => self.schedule_emit(k, node, true),
            NodeState::Worker(_) => self.worker_started(k, node),
            NodeState::Queue(_) => {}
            NodeState::None => unreachable!("a node of the model"),
        }
    }

    /// The node's settings changed in place from `old`.
    pub fn configured(&mut self, k: &mut Kernel, node: NodeId, old: &BullmqKind) {
        match old {
            BullmqKind::Producer(_) => {
                let p = self.producer(node);
                p.emit_epoch = p.emit_epoch.wrapping_add(1);
                if k.up(node) {
                    self.schedule_emit(k, node, true);
                }
            }
            // A queue's global concurrency or rate limit may now let workers in.
            BullmqKind::Queue(_) => self.wake_one(k, node),
            // More slots, another limiter: the worker asks again if it has room.
            BullmqKind::Worker(_) => {
                if k.up(node) {
                    self.pump(k, node);
                }
            }
        }
    }

    /// The node is removed: a queue with its jobs (`obliterate`), a worker as if it closed
    /// forcibly (its jobs stall), a producer stops.
    pub fn remove(&mut self, k: &mut Kernel, node: NodeId) {
        match &self.nodes[node.index()] {
            NodeState::Producer(_) | NodeState::Worker(_) => self.crash(k, node),
            NodeState::Queue(_) => self.queue_removed(k, node),
            NodeState::None => unreachable!("a node of the model"),
        }
    }

    /// Every live job's message, where it rests: in its queue, whatever its state; and a
    /// flow's jobs below its root, at their producer until the flow reaches Redis.
    pub fn places<'a>(&'a self, f: &mut dyn FnMut(Place<'a>)) {
        for add in self.pending.values() {
            for c in add.flow.iter().flat_map(|fl| fl.jobs.iter()) {
                f(Place {
                    msg: &c.msg,
                    fate: Fate::Held { node: add.producer },
                    until: None,
                    detail: ModelPlace::Node { node: add.producer },
                });
            }
        }
        for (_, j) in self.jobs.iter() {
            if let Some(msg) = &j.msg {
                f(Place {
                    msg,
                    fate: Fate::Held { node: j.info.queue },
                    until: None,
                    detail: ModelPlace::Bullmq(PlaceDetail::Job {
                        queue: j.info.queue,
                        job: j,
                    }),
                });
            }
        }
    }

    /// The model's own invariants: every live job is in exactly one of its queue's sets, and
    /// that set matches its state; a finished job has no message; attempts made never exceed
    /// attempts started nor `attempts` (when set); an active job's lock names a run of it.
    pub fn check_counters(&self, k: &Kernel) -> Result<(), String> {
        let mut seen: BTreeMap<Key, u32> = BTreeMap::new();
        for (i, n) in self.nodes.iter().enumerate() {
            let NodeState::Queue(q) = n else { continue };
            let name = &k.topo.node(NodeId(i as u32)).name;
            let mut mark = |key: Key, want: JobState, set: &str| -> Result<(), String> {
                *seen.entry(key).or_default() += 1;
                let j = self
                    .jobs
                    .get(key)
                    .ok_or_else(|| format!("queue {name:?}: {set} holds a job that is gone"))?;
                if j.state != want {
                    return Err(format!(
                        "queue {name:?}: job {} is in {set} but says {}",
                        j.info.id,
                        j.state.as_str()
                    ));
                }
                Ok(())
            };
            for &key in &q.wait {
                mark(key, JobState::Waiting, "wait")?;
            }
            for &(_, key) in &q.prioritized {
                mark(key, JobState::Prioritized, "prioritized")?;
            }
            for &(_, key) in &q.delayed {
                mark(key, JobState::Delayed, "delayed")?;
            }
            for &key in &q.active {
                mark(key, JobState::Active, "active")?;
            }
            for &key in &q.completed {
                mark(key, JobState::Completed, "completed")?;
            }
            for &key in &q.failed {
                mark(key, JobState::Failed, "failed")?;
            }
            for &(_, key) in &q.waiting_children {
                mark(key, JobState::WaitingChildren, "waiting-children")?;
            }
        }
        for (key, j) in self.jobs.iter() {
            match seen.get(&key) {
                Some(1) => {}
                Some(n) => return Err(format!("job {} is in {n} sets", j.info.id)),
                None => return Err(format!("job {} is in no set", j.info.id)),
            }
            let finished = matches!(j.state, JobState::Completed | JobState::Failed);
            if finished == j.msg.is_some() {
                return Err(format!(
                    "job {} is {} but {} a message",
                    j.info.id,
                    j.state.as_str(),
                    if j.msg.is_some() { "holds" } else { "lacks" }
                ));
            }
            let attempts = j.opts.attempts.unwrap_or(0).max(1);
            if j.attempts_made > j.attempts_started || j.attempts_made > attempts {
                return Err(format!(
                    "job {}: {} attempts made, {} started, attempts {}",
                    j.info.id, j.attempts_made, j.attempts_started, attempts
                ));
            }
            if j.lock.is_some() != (j.state == JobState::Active) {
                return Err(format!(
                    "job {} is {} and {} a lock",
                    j.info.id,
                    j.state.as_str(),
                    if j.lock.is_some() { "holds" } else { "lacks" }
                ));
            }
        }
        Ok(())
    }

    /// A new job's shared description.
    pub(crate) fn job_info(id: Box<str>, name: &str, queue: NodeId, message: MessageId) -> Job {
        Arc::new(JobInfo {
            id,
            name: name.into(),
            queue,
            message,
        })
    }
}

/// A job for the page: where it is and how far it has got.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct JobView {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its message.
    pub message: MessageId,
    /// Attempts made.
    pub attempts_made: u32,
    /// With `delayed`: when it is due (ms); with `prioritized`: its priority.
    pub due_ms: Option<u64>,
    /// Its priority (0: none).
    pub priority: i64,
    /// Active: when its lock expires unless renewed (ms); past it, the job has stalled and
    /// waits for the checker.
    pub lock_until_ms: Option<u64>,
    /// Active: when its processor started and is due to end (ms), once its worker has it.
    pub processing_ms: Option<(u64, u64)>,
}

/// How many jobs a lane lists at most (the newest, or the next to be taken).
pub const LANE: usize = 12;

/// A queue's lanes, as Bull Board shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct QueueMetrics {
    /// Jobs in `wait`.
    pub waiting: u64,
    /// In `prioritized`.
    pub prioritized: u64,
    /// In `delayed`.
    pub delayed: u64,
    /// In `active`.
    pub active: u64,
    /// In `completed` (kept by `removeOnComplete`).
    pub completed: u64,
    /// In `failed` (kept by `removeOnFail`).
    pub failed: u64,
    /// In `waiting-children`: flows' parents waiting for their children.
    pub waiting_children: u64,
    /// Paused.
    pub paused: bool,
    /// Jobs counted by the rate limiter in its window, and when the window closes (ms).
    pub limiter: u32,
    /// When the limiter's window closes, if one is open.
    pub limiter_until_ms: Option<u64>,
    /// The open window's `max` and length (ms).
    pub limiter_window: Option<(u32, u64)>,
    /// The first jobs of each lane: `wait` from its head, `prioritized` by score, `delayed`
    /// by due time, `active` oldest first, `completed` and `failed` newest first,
    /// `waiting-children` oldest first.
    pub lanes: [Vec<JobView>; 7],
    /// Totals.
    pub stats: QueueStats,
}

/// A worker's state for the page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WorkerMetrics {
    /// Its slots (concurrency).
    pub slots: u32,
    /// Jobs it is running.
    pub running: u32,
    /// Waiting for the rate limiter's window until then (ms).
    pub limited_until_ms: Option<u64>,
    /// Blocked waiting for a job.
    pub blocked: bool,
    /// Its event loop is blocked.
    pub stuck: bool,
    /// Totals.
    pub stats: WorkerStats,
}

/// A producer's count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ProducerMetrics {
    /// Jobs added by its rate.
    pub added: u64,
}

/// One BullMQ node's metrics.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BullmqMetrics {
    /// A queue's (boxed: its lanes make it much larger than the others).
    Queue(Box<QueueMetrics>),
    /// A producer's.
    Producer(ProducerMetrics),
    /// A worker's.
    Worker(WorkerMetrics),
}

impl BullmqModel {
    fn view(&self, key: Key) -> Option<JobView> {
        let j = self.jobs.get(key)?;
        Some(JobView {
            id: j.info.id.to_string(),
            name: j.info.name.to_string(),
            message: j.info.message,
            attempts_made: j.attempts_made,
            due_ms: (j.state == JobState::Delayed).then_some(j.score as u64 / super::DELAYED_SHIFT),
            priority: j.priority,
            lock_until_ms: j.lock.map(|l| l.until.0 / 1000),
            processing_ms: j
                .lock
                .and_then(|l| self.runs.get(l.run))
                .and_then(|r| r.processing)
                .map(|(a, b)| (a.0 / 1000, b.0 / 1000)),
        })
    }

    /// A node's metrics, if it is one of this model's.
    pub fn metrics(&self, k: &Kernel, node: NodeId) -> Option<BullmqMetrics> {
        match self.nodes.get(node.index())? {
            NodeState::None => None,
            NodeState::Queue(q) => {
                let lane = |it: &mut dyn Iterator<Item = Key>| -> Vec<JobView> {
                    it.take(LANE).filter_map(|key| self.view(key)).collect()
                };
                let now = k.now;
                let open = q.limiter_until.filter(|&u| u > now);
                Some(BullmqMetrics::Queue(Box::new(QueueMetrics {
                    waiting: q.wait.len() as u64,
                    prioritized: q.prioritized.len() as u64,
                    delayed: q.delayed.len() as u64,
                    active: q.active.len() as u64,
                    completed: q.completed.len() as u64,
                    failed: q.failed.len() as u64,
                    waiting_children: q.waiting_children.len() as u64,
                    paused: q.paused,
                    limiter: if open.is_some() { q.limiter } else { 0 },
                    limiter_until_ms: open.map(|u| u.0 / 1000),
                    limiter_window: open.and(q.limiter_window),
                    lanes: [
                        lane(&mut q.wait.iter().copied()),
                        lane(&mut q.prioritized.iter().map(|&(_, k)| k)),
                        lane(&mut q.delayed.iter().map(|&(_, k)| k)),
                        lane(&mut q.active.iter().copied()),
                        lane(&mut q.completed.iter().rev().copied()),
                        lane(&mut q.failed.iter().rev().copied()),
                        lane(&mut q.waiting_children.iter().map(|&(_, k)| k)),
                    ],
                    stats: q.stats,
                })))
            }
            NodeState::Producer(p) => Some(BullmqMetrics::Producer(ProducerMetrics {
                added: p.emitted,
            })),
            NodeState::Worker(w) => Some(BullmqMetrics::Worker(WorkerMetrics {
                slots: Self::worker_config(k, node).slots(),
                running: w.runs.len() as u32,
                limited_until_ms: (w.limit_until > k.now).then_some(w.limit_until.0 / 1000),
                blocked: w.blocked.is_some(),
                stuck: w.stuck,
                stats: w.stats,
            })),
        }
    }

    /// Why `node` cannot be paused (or resumed) now, if it cannot.
    pub(crate) fn check_pause(&self, k: &Kernel, node: NodeId, pause: bool) -> Result<(), String> {
        let name = &k.topo.node(node).name;
        let paused = match self.nodes.get(node.index()) {
            Some(NodeState::Queue(q)) => q.paused,
            Some(NodeState::Worker(w)) => {
                if !k.up(node) {
                    return Err(format!("{name:?} is down; restart it first"));
                }
                w.stuck
            }
            Some(NodeState::Producer(_) | NodeState::None) | None => {
                return Err(format!("{name:?} cannot be paused"))
            }
        };
        match (pause, paused) {
            (true, true) => Err(format!("{name:?} is already paused")),
            (false, false) => Err(format!(
                "{name:?} is not paused, so there is nothing to resume"
            )),
            _ => Ok(()),
        }
    }

    /// `pause`: a queue stops handing out jobs (`Queue.pause`); a worker's event loop blocks.
    pub(crate) fn pause(&mut self, k: &mut Kernel, node: NodeId) {
        match &self.nodes[node.index()] {
            NodeState::Queue(_) => self.set_paused(k, node, true),
            NodeState::Worker(_) => self.stall_worker(node),
            NodeState::Producer(_) | NodeState::None => {}
        }
    }

    /// `resume`.
    pub(crate) fn resume(&mut self, k: &mut Kernel, node: NodeId) {
        match &self.nodes[node.index()] {
            NodeState::Queue(_) => self.set_paused(k, node, false),
            NodeState::Worker(_) => self.unstall_worker(k, node),
            NodeState::Producer(_) | NodeState::None => {}
        }
    }
}
