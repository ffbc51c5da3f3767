//! The Redis side: what BullMQ's Lua scripts do to a queue's keys, each at the moment its call
//! reaches Redis. `addStandardJob` / `addPrioritizedJob` / `addDelayedJob`, `moveToActive`
//! (with `promoteDelayedJobs` and the rate limiter), `moveToFinished`, `moveToDelayed`,
//! `retryJob`, `moveStalledJobsToWait`, lock renewal, `pause` and the retention of finished
//! jobs. Each script's events are written in the order the script writes them.

use super::event::{BullmqEvent, Prev, Retry};
use super::model::{
    emit, now_ms, schedule, Answer, BullmqModel, Due, Finish, JobData, JobState, Lock, PendingAdd,
    QueueState, Run,
};
use super::options::{keep_jobs, Keep};
use super::order::{delayed_score, priority_score, DELAYED_SHIFT};
use crate::event::EventKind;
use crate::http::slab::Key;
use crate::id::{EdgeId, NodeId};
use crate::kernel::Kernel;
use crate::ledger::{DropReason, Fate};
use crate::message::Envelope;
use crate::time::{SimDuration, SimTime};
use std::sync::Arc;

/// A job about to be stored.
pub(crate) struct NewJob {
    pub info: super::event::Job,
    pub opts: Arc<super::options::JobOptions>,
    pub fails: u32,
    pub unrecoverable: bool,
    pub msg: Box<Envelope>,
    /// When its add was called (ms): a delay counts from here.
    pub timestamp_ms: u64,
    /// The job scheduler that made it.
    pub scheduler: Option<Box<str>>,
    /// A flow's child: its parent.
    pub parent: Option<Key>,
    /// A flow's parent: it goes to `waiting-children` for this many children (added after
    /// it); 0 for any other job.
    pub children: u32,
}

/// An add's job, as the add script reads it: its producer's defaults (or a handler's step)
/// applied.
struct Resolved {
    name: String,
    opts: Arc<super::JobOptions>,
    fails: u32,
    unrecoverable: bool,
    timestamp_ms: u64,
}

/// What deduplication makes of an add.
enum Dedup {
    /// It is ignored.
    Ignored,
    /// It is added and holds the id, until then (`None`: until it finishes).
    Take(Option<SimTime>),
}

/// `promoteDelayedJobs` moves at most this many jobs per call.
const PROMOTE_LIMIT: usize = 1000;

impl BullmqModel {
    /// Whether workers may take jobs now (`isQueuePausedOrMaxed`): not paused, and fewer jobs
    /// active than its global concurrency.
    pub(crate) fn paused_or_maxed(k: &Kernel, queue: NodeId, q: &QueueState) -> bool {
        q.paused
            || Self::queue_config(k, queue)
                .global_concurrency
                .is_some_and(|c| q.active.len() as u64 >= u64::from(c))
    }

    /// `Queue.add` reaches Redis: the job is stored and goes to `delayed`, `prioritized` or
    /// `wait`, or, with the `jobId` of a job the queue has, it is ignored (`duplicated`).
    pub(crate) fn add_arrives(&mut self, k: &mut Kernel, edge: EdgeId, msg: Box<Envelope>) {
        let queue = k.topo.edge(edge).to;
        let gone = k.topo.node(queue).removed || self.queue_ref(queue).is_none();
        let Some(add) = self.pending.remove(&msg.id) else {
            // A handler's add: Redis answers it (the handler awaits `queue.add`) once the add
            // script has run, whatever it made of the job.
            let Some(crate::handler::Handoff::Job(job)) = k.handoffs.remove(&msg.id) else {
                unreachable!("every add on the wire is a producer's or a handler's")
            };
            let back = k.topo.edge(edge).latency.sample(&mut k.rng);
            let answer = crate::model::StepAnswer::ok_or(!gone, crate::model::StepAnswer::Gone);
            k.schedule(k.now + back, job.origin.answer(answer));
            if gone {
                k.drop_message(msg.id, queue, DropReason::NoRoute);
                return;
            }
            let how = Resolved {
                name: job.name,
                opts: Arc::new(job.opts),
                fails: 0,
                unrecoverable: false,
                timestamp_ms: job.timestamp_ms,
            };
            return self.add_script(k, queue, msg, how, None);
        };
        let PendingAdd {
            producer,
            template,
            timestamp_ms,
            flow,
        } = add;
        if gone {
            k.drop_message(msg.id, queue, DropReason::NoRoute);
            for c in flow.into_iter().flat_map(|f| f.jobs) {
                k.drop_message(c.msg.id, queue, DropReason::NoRoute);
            }
            return;
        }
        let p = Self::producer_config(k, producer).clone();
        let how = Resolved {
            opts: Arc::new(template.opts.unwrap_or(p.opts)),
            name: template.name.unwrap_or(p.name),
            fails: if template.fails > 0 {
                template.fails
            } else {
                p.fails
            },
            unrecoverable: template.unrecoverable,
            timestamp_ms,
        };
        self.add_script(k, queue, msg, how, flow);
    }

    /// The add script (`addStandardJob` and its kin) for an add that reached the live `queue`,
    /// its job's name and options resolved.
    fn add_script(
        &mut self,
        k: &mut Kernel,
        queue: NodeId,
        msg: Box<Envelope>,
        how: Resolved,
        flow: Option<Box<super::model::PendingFlow>>,
    ) {
        let Resolved {
            name,
            opts,
            fails,
            unrecoverable,
            timestamp_ms,
        } = how;
        let q = self.queue(queue);
        // `INCR id`, for every add that reaches Redis, custom ids and duplicates too.
        q.counter += 1;
        let id: Box<str> = match (&flow, &opts.job_id) {
            (Some(f), _) => f.root_id.clone(),
            (None, Some(custom)) => {
                if let Some(&existing) = q.custom.get(custom.as_str()) {
                    q.stats.duplicated += 1;
                    let job = self.jobs.get(existing).expect("listed").info.clone();
                    emit(
                        k,
                        BullmqEvent::Duplicated {
                            job,
                            message: msg.id,
                        },
                    );
                    k.drop_message(msg.id, queue, DropReason::DuplicateJob);
                    return;
                }
                custom.as_str().into()
            }
            (None, None) => q.counter.to_string().into(),
        };
        let info = Self::job_info(id.clone(), &name, queue, msg.id);
        // `deduplicateJob`: after the counter, before the job is stored.
        let mut takes_key = None;
        // (A flow's jobs have no deduplication: validation refuses it.)
        if let Some(d) = opts.deduplication.as_ref().filter(|_| flow.is_none()) {
            match self.deduplicate(k, queue, d, &info) {
                Dedup::Ignored => {
                    self.queue(queue).stats.deduplicated += 1;
                    k.drop_message(msg.id, queue, DropReason::Deduplicated);
                    return;
                }
                Dedup::Take(until) => takes_key = Some((d.id.as_str().into(), until)),
            }
        }
        let custom = opts.job_id.is_some() && flow.is_none();
        let top = flow.as_ref().map_or(0, |f| {
            f.jobs.iter().filter(|c| c.parent.is_none()).count() as u32
        });
        let key = self.store(
            k,
            queue,
            NewJob {
                info,
                opts,
                fails,
                unrecoverable,
                msg,
                timestamp_ms,
                scheduler: None,
                parent: None,
                children: top,
            },
        );
        if let Some(f) = flow {
            self.add_flow_children(k, queue, key, f.jobs, timestamp_ms);
        }
        if custom {
            self.queue(queue).custom.insert(id, key);
        }
        if let Some((dedup_id, until)) = takes_key {
            self.queue(queue).dedup.insert(dedup_id, (key, until));
        }
    }

    /// `storeJob` and the add's placement: the job is stored (`added`) and goes to
    /// `delayed`, `prioritized` or `wait`, by its options.
    pub(crate) fn store(&mut self, k: &mut Kernel, queue: NodeId, new: NewJob) -> Key {
        let NewJob {
            info,
            opts,
            fails,
            unrecoverable,
            msg,
            timestamp_ms,
            scheduler,
            parent,
            children,
        } = new;
        self.queue(queue).stats.added += 1;
        let priority = opts.priority.map_or(0, |p| p as i64);
        let delay = opts.delay.map_or(0, |d| if d > 0.0 { d as u64 } else { 0 });
        k.ledger.set(msg.id, Fate::Held { node: queue });
        k.nodes[queue.index()].stats.received += 1;
        let key = self.jobs.insert(JobData {
            info: info.clone(),
            opts: opts.clone(),
            state: JobState::Waiting,
            priority,
            attempts_made: 0,
            attempts_started: 0,
            stalled_count: 0,
            deferred: None,
            deferred_child: None,
            lock: None,
            finished_ms: None,
            fails_left: fails,
            unrecoverable,
            msg: Some(msg),
            score: 0,
            scheduler,
            parent,
            deps: (children > 0).then(Box::default),
        });
        if let Some(p) = parent {
            let parent_id = self.job(p).info.id.clone();
            self.job(p)
                .deps
                .as_mut()
                .expect("a flow's parent")
                .pending
                .insert(key);
            emit(
                k,
                BullmqEvent::Added {
                    job: info,
                    parent: Some(parent_id),
                },
            );
        } else {
            emit(
                k,
                BullmqEvent::Added {
                    job: info,
                    parent: None,
                },
            );
        }
        if children > 0 {
            // `addParentJob`: it waits for its children, whatever its delay or priority.
            self.queue(queue)
                .waiting_children
                .insert((timestamp_ms, key));
            let j = self.job(key);
            j.state = JobState::WaitingChildren;
            let job = j.info.clone();
            emit(k, BullmqEvent::WaitingChildren { job, children });
        } else if delay > 0 {
            self.put_delayed(k, queue, key, timestamp_ms + delay);
        } else if priority != 0 {
            self.put_prioritized(k, queue, key, Prev::Added);
        } else {
            let q = self.queue(queue);
            if opts.lifo {
                q.wait.push_front(key); // RPUSH: the head
            } else {
                q.wait.push_back(key); // LPUSH: the tail
            }
            self.put_waiting(k, queue, key, Prev::Added);
        }
        key
    }

    /// `deduplicateJob` for an add (`info`) with deduplication `d`: ignored while another job
    /// holds the id (simple mode: until that job finishes; with `ttl`: until the key expires,
    /// finished or not, `extend` resetting it), or, with `replace`, taking the id from a job
    /// that is still delayed, which is removed.
    fn deduplicate(
        &mut self,
        k: &mut Kernel,
        queue: NodeId,
        d: &super::options::Deduplication,
        info: &super::event::Job,
    ) -> Dedup {
        let now = k.now;
        let ttl_until = d.ttl.map(|t| now + SimDuration::from_ms(t));
        let q = self.queue_ref(queue).expect("a queue");
        let holder = q
            .dedup
            .get(d.id.as_str())
            .copied()
            .filter(|&(key, until)| match until {
                Some(u) => u > now,
                // A key without a TTL whose job is gone is stale: the new job takes it.
                None => self.jobs.get(key).is_some(),
            });
        let Some((old, old_until)) = holder else {
            return Dedup::Take(ttl_until);
        };
        let old_job = self.jobs.get(old).map(|j| (j.info.clone(), j.state));
        match old_job {
            Some((old_info, JobState::Delayed)) if d.replace => {
                // Debounce: the delayed job goes, the new one is added in its place.
                let q = self.queue(queue);
                q.delayed.retain(|&(_, key)| key != old);
                q.stats.removed += 1;
                let j = self.jobs.remove(old).expect("here");
                if j.opts.job_id.is_some() || j.scheduler.is_some() {
                    self.queue(queue).custom.remove(&j.info.id);
                }
                emit(
                    k,
                    BullmqEvent::Removed {
                        job: old_info.clone(),
                    },
                );
                if let Some(msg) = j.msg {
                    k.drop_message(msg.id, queue, DropReason::JobRemoved);
                }
                emit(
                    k,
                    BullmqEvent::Deduplicated(Box::new(super::event::Dedup {
                        job: info.clone(),
                        dedup_id: d.id.as_str().into(),
                        other: old_info.id.clone(),
                        message: None,
                    })),
                );
                // `extend` (or no ttl) sets the ttl afresh; a ttl alone keeps the old one.
                Dedup::Take(if d.extend || d.ttl.is_none() {
                    ttl_until
                } else {
                    old_until
                })
            }
            _ => {
                if d.extend && d.ttl.is_some() {
                    self.queue(queue)
                        .dedup
                        .insert(d.id.as_str().into(), (old, ttl_until));
                }
                let kept = match self.jobs.get(old) {
                    Some(j) => j.info.clone(),
                    // A throttle key outlives its job: name it by the key.
                    None => Self::job_info(d.id.as_str().into(), "", queue, info.message),
                };
                emit(
                    k,
                    BullmqEvent::Deduplicated(Box::new(super::event::Dedup {
                        job: kept,
                        dedup_id: d.id.as_str().into(),
                        other: info.id.clone(),
                        message: Some(info.message),
                    })),
                );
                Dedup::Ignored
            }
        }
    }

    /// A finished job lets go of its deduplication id, if the id has no TTL and is still its
    /// own (`removeDeduplicationKeyIfNeededOnFinalization`).
    fn release_dedup(&mut self, queue: NodeId, key: Key) {
        let Some(id) = self
            .jobs
            .get(key)
            .and_then(|j| j.opts.deduplication.as_ref())
            .map(|d| d.id.clone())
        else {
            return;
        };
        let q = self.queue(queue);
        if q.dedup.get(id.as_str()) == Some(&(key, None)) {
            q.dedup.remove(id.as_str());
        }
    }

    /// The job is in `wait`: said, and a worker woken (a marker) unless paused or maxed.
    pub(crate) fn put_waiting(&mut self, k: &mut Kernel, queue: NodeId, key: Key, prev: Prev) {
        let j = self.job(key);
        j.state = JobState::Waiting;
        let job = j.info.clone();
        emit(
            k,
            BullmqEvent::Waiting {
                job,
                prev,
                prioritized: false,
            },
        );
        self.wake_one(k, queue);
    }

    /// The job goes to `prioritized` with a new counter (`addJobWithPriority`).
    pub(crate) fn put_prioritized(&mut self, k: &mut Kernel, queue: NodeId, key: Key, prev: Prev) {
        let priority = self.job(key).priority;
        let q = self.queue(queue);
        q.priority_counter += 1;
        let score = priority_score(priority, q.priority_counter);
        q.prioritized.insert((score, key));
        let j = self.job(key);
        j.state = JobState::Prioritized;
        j.score = score;
        let job = j.info.clone();
        emit(
            k,
            BullmqEvent::Waiting {
                job,
                prev,
                prioritized: true,
            },
        );
        self.wake_one(k, queue);
    }

    /// The job goes to `delayed`, due at `due_ms` (`addDelayedJob`, `moveToDelayed`).
    pub(crate) fn put_delayed(&mut self, k: &mut Kernel, queue: NodeId, key: Key, due_ms: u64) {
        let q = self.queue(queue);
        let min = due_ms * DELAYED_SHIFT;
        let highest = q
            .delayed
            .range((min, Key::MIN)..((due_ms + 1) * DELAYED_SHIFT, Key::MIN))
            .next_back()
            .map(|&(s, _)| s);
        let score = delayed_score(due_ms, highest);
        self.delayed_with_score(k, queue, key, due_ms, score);
    }

    /// The job goes to `delayed` with this score.
    pub(crate) fn delayed_with_score(
        &mut self,
        k: &mut Kernel,
        queue: NodeId,
        key: Key,
        due_ms: u64,
        score: u64,
    ) {
        self.queue(queue).delayed.insert((score, key));
        let j = self.job(key);
        j.state = JobState::Delayed;
        j.score = score as i64;
        let job = j.info.clone();
        emit(k, BullmqEvent::Delayed { job, due_ms });
        self.delay_marker(k, queue);
    }

    /// A marker for the earliest delayed job (`addDelayMarkerIfNeeded`, paused or not): the
    /// first blocked worker will wake by then; with none blocked, the next to block will. So a
    /// paused queue still promotes its due jobs.
    fn delay_marker(&mut self, k: &mut Kernel, queue: NodeId) {
        let q = self.queue(queue);
        let Some(&(score, _)) = q.delayed.first() else {
            return;
        };
        let due = super::order::due_ms(score);
        match q.blocked.front().copied() {
            Some(w) => self.shorten_block(k, w, due),
            None => q.marker_due = Some(q.marker_due.map_or(due, |d| d.min(due))),
        }
    }

    /// A marker that a job is ready: the first blocked worker wakes (Redis serves blocked
    /// clients in the order they blocked); with none blocked, the marker waits for the next.
    pub(crate) fn wake_one(&mut self, k: &mut Kernel, queue: NodeId) {
        let Some(q) = self.queue_ref(queue) else {
            return;
        };
        if Self::paused_or_maxed(k, queue, q) {
            return;
        }
        let q = self.queue(queue);
        match q.blocked.pop_front() {
            Some(w) => self.unblock(k, w),
            None => q.marker = true,
        }
    }

    /// `promoteDelayedJobs`: jobs due by now go to the tail of `wait` (or to `prioritized`),
    /// in the order they were due; a worker is woken if any moved.
    pub(crate) fn promote(&mut self, k: &mut Kernel, queue: NodeId) {
        let limit = (now_ms(k) + 1) * DELAYED_SHIFT;
        let due: Vec<Key> = {
            let q = self.queue(queue);
            let mut due = Vec::new();
            while due.len() < PROMOTE_LIMIT {
                match q.delayed.first() {
                    Some(&(score, key)) if score < limit => {
                        q.delayed.pop_first();
                        due.push(key);
                    }
                    _ => break,
                }
            }
            due
        };
        for key in due {
            if self.job(key).priority == 0 {
                self.queue(queue).wait.push_back(key); // LPUSH, whatever `lifo` says
                self.put_waiting(k, queue, key, Prev::Delayed);
            } else {
                self.put_prioritized(k, queue, key, Prev::Delayed);
            }
        }
    }

    /// `moveToActive` for `worker` (a fetch, or the fetch inside a finishing call): the rate
    /// limiter first, then pause and global concurrency, then the head of `wait`, else the
    /// lowest score of `prioritized`. The job taken is locked for `lockDuration` and counted
    /// by the limiter.
    pub(crate) fn move_to_active(
        &mut self,
        k: &mut Kernel,
        queue: NodeId,
        worker: NodeId,
    ) -> Answer {
        self.promote(k, queue);
        // The two settings it reads, not a copy of the worker's whole config.
        let (limiter, lock_duration) = {
            let wc = Self::worker_config(k, worker);
            (wc.limiter, wc.lock_duration)
        };
        let global = Self::queue_config(k, queue).global_rate_limit;
        // The queue's `max` wins over the worker's; the worker's `duration` over the queue's.
        let max = global.map(|g| g.max).or(limiter.map(|l| l.max));
        let duration = limiter.map(|l| l.duration).or(global.map(|g| g.duration));
        let now = k.now;
        let q = self.queue(queue);
        if q.limiter_until.is_some_and(|u| u <= now) {
            // The key expired.
            q.limiter = 0;
            q.limiter_until = None;
        }
        if let (Some(max), Some(until)) = (max, q.limiter_until) {
            if max <= q.limiter {
                let ttl = (until.0 - now.0).div_ceil(1000);
                return Answer::Limited(ttl);
            }
        }
        let q = self.queue_ref(queue).expect("a queue");
        if Self::paused_or_maxed(k, queue, q) {
            return Answer::Idle;
        }
        let q = self.queue(queue);
        let (key, prioritized) = match q.wait.pop_front() {
            Some(key) => (key, false),
            None => match q.prioritized.pop_first() {
                Some((_, key)) => (key, true),
                None => {
                    q.priority_counter = 0; // `DEL pc`
                    return Answer::Nothing(
                        q.delayed
                            .first()
                            .map(|&(score, _)| super::order::due_ms(score)),
                    );
                }
            },
        };
        // `prepareJobForProcessing`.
        let deferred = self.job(key).deferred.is_some();
        let q = self.queue(queue);
        if max.is_some() && !deferred {
            q.limiter += 1;
            if q.limiter == 1 {
                q.limiter_until = duration.map(|d| now + SimDuration::from_ms(d));
                q.limiter_window = max.zip(duration);
            }
        }
        q.active.push(key);
        let epoch = self.worker(worker).epoch;
        let run = self.runs.insert(Run {
            step: 0,
            worker,
            epoch,
            job: key,
            outcome: None,
            renewed: now,
            next: None,
            held: false,
            processing: None,
        });
        let j = self.job(key);
        j.state = JobState::Active;
        j.attempts_started += 1;
        j.lock = Some(Lock {
            run,
            until: now + SimDuration::from_ms(lock_duration),
        });
        let (job, attempt) = (j.info.clone(), j.attempts_started);
        emit(
            k,
            BullmqEvent::Active {
                job,
                worker,
                attempt,
                prioritized,
            },
        );
        // A scheduler's job, taken: its next iteration.
        self.scheduler_job_taken(k, queue, key);
        // `ZADD marker 0 "0"` always: another blocked worker wakes to look.
        self.wake_one(k, queue);
        Answer::Job(run)
    }

    /// A finishing call reaches Redis: `moveToFinished` (completed or failed), `moveToDelayed`
    /// or `retryJob`, as the worker decided. Refused if the attempt no longer holds the job's
    /// lock (`Missing lock for job …`): it stalled and was moved on. Returns the next job for
    /// the worker (`fetchNext`), if it asked for one.
    pub(crate) fn finish(
        &mut self,
        k: &mut Kernel,
        run: Key,
        how: Finish,
        fetch_next: bool,
    ) -> Option<Answer> {
        let r = self.runs.get(run).expect("a run").clone();
        let worker = r.worker;
        let now = k.now;
        let held = self.jobs.get(r.job).is_some_and(|j| {
            j.lock
                .is_some_and(|l| l.run == run && l.until > now && j.state == JobState::Active)
        });
        let queue = match self.jobs.get(r.job) {
            Some(j) => j.info.queue,
            None => return None,
        };
        if !held {
            let job = self.jobs.get(r.job).expect("checked").info.clone();
            self.worker(worker).stats.lost_locks += 1;
            emit(k, BullmqEvent::LockMissing { job, worker });
            return None;
        }
        let wc = Self::worker_config(k, worker).clone();
        let q = self.queue(queue);
        q.active.retain(|&a| a != r.job);
        q.stalled.remove(&r.job);
        let j = self.job(r.job);
        j.lock = None;
        j.attempts_made += 1;
        let (job, atm) = (j.info.clone(), j.attempts_made);
        if matches!(how, Finish::Complete | Finish::Fail(_)) {
            self.release_dedup(queue, r.job);
        }
        let j = self.job(r.job);
        match how {
            Finish::Complete => {
                let msg = j.msg.take().expect("a live job");
                j.state = JobState::Completed;
                j.finished_ms = Some(now_ms(k));
                let keep = keep_jobs(
                    j.opts.remove_on_complete.as_ref(),
                    wc.remove_on_complete.as_ref(),
                );
                k.ledger.set(msg.id, Fate::Consumed { node: worker });
                k.nodes[worker.index()].stats.consumed += 1;
                k.emit(EventKind::Consumed {
                    message: msg.id,
                    node: worker,
                });
                self.queue(queue).stats.completed += 1;
                self.worker(worker).stats.completed += 1;
                // A flow's child: its parent first (its events before the child's).
                self.child_completed(k, r.job);
                self.retain(k, queue, r.job, true, keep);
                emit(
                    k,
                    BullmqEvent::Completed {
                        job,
                        worker,
                        attempts_made: atm,
                    },
                );
                self.fetch_next_or_drained(k, queue, worker, fetch_next)
            }
            Finish::Fail(reason) => {
                let child = match reason {
                    super::event::FailReason::ChildFailed => j
                        .deferred_child
                        .clone()
                        .map(|c| Box::new(super::event::ChildKey(c))),
                    super::event::FailReason::Error
                    | super::event::FailReason::Unrecoverable
                    | super::event::FailReason::Stalled
                    | super::event::FailReason::PendingDependencies => None,
                };
                let msg = j.msg.take().expect("a live job");
                j.state = JobState::Failed;
                j.finished_ms = Some(now_ms(k));
                let attempts = j.opts.attempts.unwrap_or(0);
                let keep = keep_jobs(j.opts.remove_on_fail.as_ref(), wc.remove_on_fail.as_ref());
                let q = self.queue(queue);
                q.stats.failed += 1;
                q.stats.attempts_failed += 1;
                self.worker(worker).stats.failed += 1;
                k.drop_message(msg.id, queue, DropReason::JobFailed);
                self.child_failed(k, r.job);
                self.retain(k, queue, r.job, false, keep);
                emit(
                    k,
                    BullmqEvent::Failed {
                        job: job.clone(),
                        attempts_made: atm,
                        reason,
                        child,
                    },
                );
                if atm >= attempts {
                    emit(
                        k,
                        BullmqEvent::RetriesExhausted {
                            job: job.clone(),
                            attempts_made: atm,
                        },
                    );
                }
                emit(
                    k,
                    BullmqEvent::WorkerFailed {
                        job,
                        worker,
                        attempts_made: atm,
                        retry: Retry::No,
                    },
                );
                self.fetch_next_or_drained(k, queue, worker, fetch_next)
            }
            Finish::Delay(due, delay) => {
                self.queue(queue).stats.attempts_failed += 1;
                self.worker(worker).stats.failed += 1;
                self.put_delayed(k, queue, r.job, due);
                emit(
                    k,
                    BullmqEvent::WorkerFailed {
                        job,
                        worker,
                        attempts_made: atm,
                        retry: Retry::After(delay),
                    },
                );
                if fetch_next {
                    match self.move_to_active(k, queue, worker) {
                        a @ Answer::Job(_) => Some(a),
                        Answer::Nothing(_) | Answer::Limited(_) | Answer::Idle | Answer::Wake => {
                            None
                        }
                    }
                } else {
                    None
                }
            }
            Finish::Retry => {
                self.promote(k, queue);
                self.queue(queue).stats.attempts_failed += 1;
                self.worker(worker).stats.failed += 1;
                let (priority, lifo) = {
                    let j = self.job(r.job);
                    (j.priority, j.opts.lifo)
                };
                emit(
                    k,
                    BullmqEvent::WorkerFailed {
                        job,
                        worker,
                        attempts_made: atm,
                        retry: Retry::Now,
                    },
                );
                if priority == 0 {
                    let q = self.queue(queue);
                    if lifo {
                        q.wait.push_front(r.job);
                    } else {
                        q.wait.push_back(r.job);
                    }
                    self.put_waiting(k, queue, r.job, Prev::Active);
                } else {
                    self.put_prioritized(k, queue, r.job, Prev::Active);
                }
                None
            }
        }
    }

    /// After a job finished: the worker's next job (`fetchNext`), and `drained` when nothing
    /// at all is left: no job waiting, prioritized, active or delayed, the limiter's window
    /// open and the queue neither paused nor at its global concurrency.
    fn fetch_next_or_drained(
        &mut self,
        k: &mut Kernel,
        queue: NodeId,
        worker: NodeId,
        fetch_next: bool,
    ) -> Option<Answer> {
        let next = fetch_next.then(|| self.move_to_active(k, queue, worker));
        let quiet = match next {
            Some(Answer::Job(_) | Answer::Limited(_) | Answer::Idle | Answer::Nothing(Some(_))) => {
                false
            }
            Some(Answer::Nothing(None) | Answer::Wake) | None => true,
        };
        let q = self.queue(queue);
        if quiet && q.wait.is_empty() && q.active.is_empty() && q.prioritized.is_empty() {
            emit(k, BullmqEvent::Drained { queue });
        }
        next
    }

    /// A finished job joins `completed` or `failed`, or is removed at once, and the set is
    /// trimmed by age and count (`removeOnComplete` / `removeOnFail`).
    fn retain(&mut self, k: &Kernel, queue: NodeId, key: Key, completed: bool, keep: Keep) {
        if keep.count == 0 {
            self.forget(queue, key);
            return;
        }
        let now = now_ms(k);
        let jobs = &self.jobs;
        let Some(super::model::NodeState::Queue(q)) = self.nodes.get_mut(queue.index()) else {
            unreachable!("a queue")
        };
        let set = if completed {
            &mut q.completed
        } else {
            &mut q.failed
        };
        set.push_back(key);
        let mut gone = Vec::new();
        if let Some(age) = keep.age {
            let cutoff = now.saturating_sub(age.saturating_mul(1000));
            let mut n = 0;
            while n < keep.limit {
                let Some(&first) = set.front() else { break };
                let finished = jobs.get(first).and_then(|j| j.finished_ms);
                if finished.is_some_and(|f| f <= cutoff) {
                    set.pop_front();
                    gone.push(first);
                    n += 1;
                } else {
                    break;
                }
            }
        }
        if keep.count > 0 {
            while set.len() as i64 > keep.count {
                gone.extend(set.pop_front());
            }
        }
        for key in gone {
            self.forget(queue, key);
        }
    }

    /// A finished job's hash is deleted.
    fn forget(&mut self, queue: NodeId, key: Key) {
        if let Some(j) = self.jobs.remove(key) {
            if j.opts.job_id.is_some() || j.scheduler.is_some() {
                self.queue(queue).custom.remove(&j.info.id);
            }
        }
    }

    /// `moveStalledJobsToWait`, run by `worker`'s checker: unless another check ran within
    /// `stalledInterval`, every job marked by the last check whose lock has expired goes back
    /// to the head of `wait` (`waiting`, then `stalled`), one stalled too often to fail when
    /// next picked up; then every active job is marked for the next check.
    pub(crate) fn check_stalled(&mut self, k: &mut Kernel, queue: NodeId, worker: NodeId) {
        let wc = Self::worker_config(k, worker).clone();
        let now = k.now;
        let q = self.queue(queue);
        if now < q.check_until {
            return;
        }
        q.check_until = now + SimDuration::from_ms(wc.stalled_interval);
        let marked: Vec<Key> = std::mem::take(&mut q.stalled).into_iter().collect();
        for key in marked {
            let Some(j) = self.jobs.get(key) else {
                continue;
            };
            let expired = j.lock.is_none_or(|l| l.until <= now);
            if j.state != JobState::Active || !expired {
                continue;
            }
            self.queue(queue).active.retain(|&a| a != key);
            let j = self.job(key);
            j.lock = None;
            j.stalled_count += 1;
            // A scheduler's job is never failed for stalling.
            if j.stalled_count > wc.max_stalled_count && j.scheduler.is_none() {
                j.deferred = Some(super::event::FailReason::Stalled);
            }
            let (job, count) = (j.info.clone(), j.stalled_count);
            let q = self.queue(queue);
            q.stats.stalled += 1;
            q.wait.push_front(key); // RPUSH: the head
            self.put_waiting(k, queue, key, Prev::Active);
            emit(k, BullmqEvent::Stalled { job, count });
        }
        let q = self.queue(queue);
        q.stalled = q.active.iter().copied().collect();
    }

    /// A lock renewal reaches Redis: each of `runs` still holding its job's lock keeps it for
    /// another `lockDuration`, and its job is no longer marked as stalled.
    pub(crate) fn renew_locks(&mut self, k: &Kernel, worker: NodeId, runs: &[Key]) {
        let d = SimDuration::from_ms(Self::worker_config(k, worker).lock_duration);
        let now = k.now;
        for &run in runs {
            let Some(r) = self.runs.get(run) else {
                continue;
            };
            let job = r.job;
            let Some(j) = self.jobs.get_mut(job) else {
                continue;
            };
            match &mut j.lock {
                Some(l) if l.run == run && l.until > now => {
                    l.until = now + d;
                    let queue = j.info.queue;
                    self.queue(queue).stalled.remove(&job);
                    self.runs.get_mut(run).expect("here").renewed = now;
                }
                Some(_) | None => {}
            }
        }
    }

    /// `Queue.pause()` / `Queue.resume()`.
    pub(crate) fn set_paused(&mut self, k: &mut Kernel, queue: NodeId, paused: bool) {
        let q = self.queue(queue);
        if q.paused == paused {
            return;
        }
        q.paused = paused;
        if paused {
            q.marker = false;
            q.marker_due = None;
            emit(k, BullmqEvent::Paused { queue });
        } else {
            emit(k, BullmqEvent::Resumed { queue });
            let q = self.queue(queue);
            if !q.wait.is_empty() || !q.prioritized.is_empty() {
                self.wake_one(k, queue);
            } else {
                self.delay_marker(k, queue);
            }
        }
    }

    /// The queue is deleted (`obliterate`): its jobs' messages end with it.
    pub(crate) fn queue_removed(&mut self, k: &mut Kernel, queue: NodeId) {
        let keys = self.jobs.keys_where(|j| j.info.queue == queue);
        for &key in &keys {
            let j = self.jobs.remove(key).expect("listed");
            if let Some(msg) = j.msg {
                k.drop_message(msg.id, queue, DropReason::QueueDeleted);
            }
        }
        // Attempts of those jobs end with them: their workers' slots are free (a handler step
        // still out finds no run when it is answered).
        for run in self.runs.keys_where(|r| keys.contains(&r.job)) {
            let r = self.runs.remove(run).expect("listed");
            self.worker(r.worker).runs.retain(|&x| x != run);
        }
        let blocked: Vec<NodeId> = self.queue(queue).blocked.drain(..).collect();
        for w in blocked {
            self.unblock(k, w);
        }
        *self.queue(queue) = QueueState::default();
    }

    /// Schedules `due` after the worker link's latency from `worker` to its queue (or back).
    pub(crate) fn after_link(&mut self, k: &mut Kernel, worker: NodeId, due: Due) {
        let at = k.now + Self::work_link(k, worker);
        schedule(k, at, due);
    }

    /// One crossing of `worker`'s link to its queue (Redis): a latency drawn from its edge,
    /// or none if it has no edge any more.
    pub(crate) fn work_link(k: &mut Kernel, worker: NodeId) -> SimDuration {
        Self::work_edge(k, worker).map_or(SimDuration::ZERO, |(e, _)| {
            k.topo.edge(e).latency.sample(&mut k.rng)
        })
    }
}
