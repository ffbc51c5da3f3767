//! The worker's side: its main loop (one call to Redis at a time: a fetch, or, once a fetch
//! found nothing, a blocking wait for a job), its attempts (the processor's time, its throws,
//! the choice between completing, retrying after a backoff, retrying at once and failing),
//! its lock manager (renewing every lock older than half of `lockRenewTime`, every half of
//! `lockRenewTime`) and its stalled-job checker (every `stalledInterval`). Every call crosses
//! the worker's edge to its queue, with the edge's latency each way.

use super::event::{BullmqEvent, FailReason, StepFailure};
use super::model::{
    emit, now_ms, schedule, Answer, Ask, BullmqModel, Due, Finish, JobState, NodeState,
    MAX_BLOCK_MS, MAX_RATE_LIMIT_DELAY_MS,
};
use super::order::backoff_delay;
use crate::handler::{self, Handled, Then};
use crate::http::slab::Key;
use crate::id::{EdgeId, NodeId};
use crate::kernel::Kernel;
use crate::model::StepOrigin;
use crate::time::{SimDuration, SimTime};

impl BullmqModel {
    /// The worker's live edge from its queue, and the queue.
    pub(crate) fn work_edge(k: &Kernel, worker: NodeId) -> Option<(EdgeId, NodeId)> {
        k.topo.node(worker).inc.iter().find_map(|&e| {
            let edge = k.topo.edge(e);
            (!edge.removed && edge.kind == crate::model::EdgeKind::Bullmq(super::EdgeKind::Work))
                .then_some((e, edge.from))
        })
    }

    /// The worker starts (at the run's start, or again after a crash): a new incarnation, its
    /// lock manager, its stalled checker (which runs once at once), and its main loop.
    pub(crate) fn worker_started(&mut self, k: &mut Kernel, worker: NodeId) {
        let w = self.worker(worker);
        w.epoch = w.epoch.wrapping_add(1);
        w.runs.clear();
        w.asking = false;
        w.ask = None;
        w.answer = None;
        w.blocked = None;
        w.drained = false;
        w.next_due = None;
        w.limit_until = SimTime::ZERO;
        w.stuck = false;
        let epoch = w.epoch;
        let c = Self::worker_config(k, worker);
        let renew = SimDuration::from_ms((c.renew_ms() / 2).max(1));
        schedule(k, k.now + renew, Due::Renew(worker, epoch));
        schedule(k, k.now, Due::Check(worker, epoch));
        self.pump(k, worker);
    }

    /// The worker crashed: its attempts and its calls are lost with it; their jobs stay
    /// `active` in Redis, locked until the locks expire.
    pub(crate) fn worker_crashed(&mut self, k: &mut Kernel, worker: NodeId) {
        if let Some((_, queue)) = Self::work_edge(k, worker) {
            if let Some(NodeState::Queue(q)) = self.nodes.get_mut(queue.index()) {
                q.blocked.retain(|&w| w != worker);
            }
        }
        let w = self.worker(worker);
        w.epoch = w.epoch.wrapping_add(1);
        let runs = std::mem::take(&mut w.runs);
        w.asking = false;
        w.ask = None;
        w.answer = None;
        w.blocked = None;
        for run in runs {
            // The job keeps its lock (a token nobody holds) until it expires.
            self.runs.remove(run);
        }
    }

    /// The worker's main loop: while it has a free slot and is not waiting on Redis, asks for
    /// a job: a fetch, or, if its last fetch found nothing, a blocking wait (until a job is
    /// ready, the earliest delayed job is due, or `drainDelay` passes).
    pub(crate) fn pump(&mut self, k: &mut Kernel, worker: NodeId) {
        if !k.up(worker) || Self::work_edge(k, worker).is_none() {
            return;
        }
        let slots = Self::worker_config(k, worker).slots() as usize;
        let drain_ms = (Self::worker_config(k, worker).drain_delay * 1000.0).max(1.0) as u64;
        let now = k.now;
        let w = self.worker(worker);
        if w.stuck || w.asking || w.runs.len() >= slots || now < w.limit_until {
            return;
        }
        let ask = if w.drained {
            // `getBlockTimeout`: until the next delayed job, at least 1 ms and at most
            // `maximumBlockTimeout`; without one, `drainDelay`.
            match w.next_due {
                Some(due) => {
                    let delay = (due * 1000).saturating_sub(now.0);
                    if delay == 0 {
                        Ask::Fetch
                    } else {
                        Ask::Block(delay.div_ceil(1000).clamp(1, MAX_BLOCK_MS))
                    }
                }
                None => Ask::Block(drain_ms),
            }
        } else {
            Ask::Fetch
        };
        w.asking = true;
        w.ask = Some(ask);
        let epoch = w.epoch;
        self.after_link(k, worker, Due::Fetch(worker, epoch));
    }

    /// The worker's call reaches Redis: a fetch is answered at once; a blocking wait is
    /// answered at once if a marker is there, else it waits.
    pub(crate) fn fetch_at_redis(&mut self, k: &mut Kernel, worker: NodeId, epoch: u32) {
        if self.worker(worker).epoch != epoch {
            return;
        }
        let Some((_, queue)) = Self::work_edge(k, worker) else {
            self.worker(worker).asking = false;
            return;
        };
        let ask = self.worker(worker).ask.take().expect("a call out");
        match ask {
            Ask::Fetch => {
                let answer = self.move_to_active(k, queue, worker);
                self.answer(k, worker, answer);
            }
            Ask::Block(ms) => {
                let q = self.queue(queue);
                if q.marker {
                    q.marker = false;
                    self.answer(k, worker, Answer::Wake);
                    return;
                }
                let mut until = k.now + SimDuration::from_ms(ms);
                if let Some(due) = q.marker_due.take() {
                    until = until.min(super::model::at_ms(due).max(k.now));
                }
                q.blocked.push_back(worker);
                let w = self.worker(worker);
                w.block_seq = w.block_seq.wrapping_add(1);
                w.blocked = Some(w.block_seq);
                w.block_until = until;
                let seq = w.block_seq;
                schedule(k, until, Due::BlockTimeout(worker, seq));
            }
        }
    }

    /// Sends `answer` back to the worker.
    fn answer(&mut self, k: &mut Kernel, worker: NodeId, answer: Answer) {
        let w = self.worker(worker);
        w.answer = Some(answer);
        let epoch = w.epoch;
        self.after_link(k, worker, Due::Reply(worker, epoch));
    }

    /// A blocked worker is answered: a job is ready (it will fetch).
    pub(crate) fn unblock(&mut self, k: &mut Kernel, worker: NodeId) {
        let w = self.worker(worker);
        if w.blocked.take().is_none() {
            return;
        }
        self.answer(k, worker, Answer::Wake);
    }

    /// A delayed job due at `due_ms` wakes the blocked `worker` by then.
    pub(crate) fn shorten_block(&mut self, k: &mut Kernel, worker: NodeId, due_ms: u64) {
        let at = super::model::at_ms(due_ms).max(k.now);
        let w = self.worker(worker);
        if w.blocked.is_some() && at < w.block_until {
            w.block_seq = w.block_seq.wrapping_add(1);
            w.blocked = Some(w.block_seq);
            w.block_until = at;
            let seq = w.block_seq;
            schedule(k, at, Due::BlockTimeout(worker, seq));
        }
    }

    /// A blocking wait times out at Redis: the worker is told, and fetches.
    pub(crate) fn block_timed_out(&mut self, k: &mut Kernel, worker: NodeId, seq: u32) {
        if self.worker(worker).blocked != Some(seq) {
            return;
        }
        if let Some((_, queue)) = Self::work_edge(k, worker) {
            self.queue(queue).blocked.retain(|&w| w != worker);
        }
        self.unblock(k, worker);
    }

    /// Redis's answer reaches the worker.
    pub(crate) fn answer_arrives(&mut self, k: &mut Kernel, worker: NodeId, epoch: u32) {
        let w = self.worker(worker);
        if w.epoch != epoch || w.stuck {
            return; // a blocked event loop reads it when it runs again
        }
        w.asking = false;
        let Some(answer) = w.answer.take() else {
            return;
        };
        self.take_answer(k, worker, answer);
        self.pump(k, worker);
    }

    /// What the worker does with an answer: a job starts; nothing makes it wait (blocking next
    /// time); a full rate-limit window makes it wait the window out.
    fn take_answer(&mut self, k: &mut Kernel, worker: NodeId, answer: Answer) {
        let w = self.worker(worker);
        match answer {
            Answer::Job(run) => {
                w.drained = false;
                self.start_attempt(k, worker, run);
            }
            Answer::Nothing(next) => {
                w.drained = true;
                w.next_due = next;
            }
            Answer::Idle => {
                w.drained = true;
                w.next_due = None;
            }
            Answer::Wake => w.drained = false,
            Answer::Limited(ttl) => {
                w.limit_until = k.now + SimDuration::from_ms(ttl);
                let epoch = w.epoch;
                let wait = ttl.clamp(1, MAX_RATE_LIMIT_DELAY_MS);
                if let Some((_, queue)) = Self::work_edge(k, worker) {
                    emit(
                        k,
                        BullmqEvent::RateLimited {
                            worker,
                            queue,
                            ttl_ms: ttl,
                        },
                    );
                }
                schedule(
                    k,
                    k.now + SimDuration::from_ms(wait),
                    Due::LimitOver(worker, epoch),
                );
            }
        }
    }

    /// The rate limiter's window has passed: the worker asks again.
    pub(crate) fn limit_over(&mut self, k: &mut Kernel, worker: NodeId, epoch: u32) {
        if self.worker(worker).epoch == epoch {
            self.pump(k, worker);
        }
    }

    /// A job reached the worker: a job that must fail (stalled too often) fails without
    /// running; otherwise its processor runs.
    fn start_attempt(&mut self, k: &mut Kernel, worker: NodeId, run: Key) {
        let epoch = self.worker(worker).epoch;
        let Some(r) = self.runs.get_mut(run) else {
            return;
        };
        r.epoch = epoch;
        r.renewed = k.now;
        let job = r.job;
        self.worker(worker).runs.push(run);
        self.worker(worker).stats.started += 1;
        if let Some(reason) = self.jobs.get(job).and_then(|j| j.deferred) {
            self.runs.get_mut(run).expect("here").outcome = Some(Finish::Fail(reason));
            self.after_link(k, worker, Due::Finish(run));
            return;
        }
        let dist = Self::worker_config(k, worker).processing_time.clone();
        let d = SimDuration(dist.sample(&mut k.rng).0 + super::model::ATTEMPT_OVERHEAD_US);
        self.runs.get_mut(run).expect("here").processing = Some((k.now, k.now + d));
        schedule(k, k.now + d, Due::Done(run));
    }

    /// The processor's work for an attempt is done (or, with a handler, its last answer came
    /// back): its handler's steps run from the next one; after the last, it ends.
    pub(crate) fn processed(&mut self, k: &mut Kernel, run: Key) {
        let Some(r) = self.runs.get(run) else { return };
        let (worker, epoch) = (r.worker, r.epoch);
        if !k.up(worker) || self.worker(worker).epoch != epoch {
            return;
        }
        if self.worker(worker).stuck {
            // Its event loop is blocked: it goes on when it runs again.
            self.runs.get_mut(run).expect("here").held = true;
            return;
        }
        if Self::worker_config(k, worker).handler.is_empty() {
            // No handler: the attempt ends here, without a pass through the steps.
            self.attempt_ends(k, run);
        } else {
            self.run_steps(k, run);
        }
    }

    /// Runs the attempt's handler from its next step: a publish goes at once and the next
    /// step follows; a write waits for its store's answer ([`Self::step_done`]). After the
    /// last step, the attempt ends.
    #[inline(never)]
    fn run_steps(&mut self, k: &mut Kernel, run: Key) {
        loop {
            let r = self.runs.get(run).expect("here");
            let (worker, job, step) = (r.worker, r.job, usize::from(r.step));
            let Some(s) = Self::worker_config(k, worker).handler.get(step) else {
                return self.attempt_ends(k, run);
            };
            let Some(j) = self.jobs.get(job) else { return };
            let Some(msg) = j.msg.as_deref() else {
                return self.attempt_ends(k, run);
            };
            let h = Handled {
                msg,
                input: crate::data::Input::Job(&j.info.id),
            };
            // Every attempt of the job, and a stalled job picked up again, keeps its message:
            // it is the same logical message.
            let origin = StepOrigin::Bullmq(run);
            match handler::prepare(k, worker, s, h, msg.id, origin) {
                Ok(action) => {
                    self.runs.get_mut(run).expect("here").step += 1;
                    match handler::carry_out(k, worker, action) {
                        Ok(Then::Wait) => return, // its answer moves it on
                        Ok(Then::GoOn) => {}
                        Err(reason) => return self.step_failed(k, run, &reason),
                    }
                }
                Err(reason) => return self.step_failed(k, run, &reason),
            }
        }
    }

    /// A write the attempt's handler sent was answered: the handler goes on (once the
    /// worker's event loop runs), or (the write failed) the processor throws.
    pub(crate) fn step_done(&mut self, k: &mut Kernel, run: Key, answer: crate::model::StepAnswer) {
        let Some(r) = self.runs.get(run) else {
            return; // the worker crashed while it was out
        };
        if self.jobs.get(r.job).is_none() {
            return; // its queue was removed while it was out, and the job with it
        }
        let Some(reason) = answer.failure() else {
            self.processed(k, run);
            return;
        };
        let (worker, epoch) = (r.worker, r.epoch);
        if k.up(worker) && self.worker(worker).epoch == epoch {
            self.step_failed(k, run, reason);
        }
    }

    /// A step of the attempt's handler could not be carried out: the processor throws
    /// (`step_failed` says why), and the job is retried or fails as its options say.
    fn step_failed(&mut self, k: &mut Kernel, run: Key, reason: &str) {
        let r = self.runs.get(run).expect("here");
        let (worker, job) = (r.worker, r.job);
        let info = self.job(job).info.clone();
        emit(
            k,
            BullmqEvent::StepFailed(Box::new(StepFailure {
                job: info,
                worker,
                reason: reason.into(),
            })),
        );
        let how = self.after_throw(k, job, FailReason::Error);
        self.runs.get_mut(run).expect("here").outcome = Some(how);
        self.after_link(k, worker, Due::Finish(run));
    }

    /// The attempt's processor and handler are done: did it throw? Then retry after the
    /// backoff, at once, or not at all (`shouldRetryJob`); the worker sends its finishing
    /// call.
    fn attempt_ends(&mut self, k: &mut Kernel, run: Key) {
        let Some(r) = self.runs.get(run) else { return };
        let (worker, job) = (r.worker, r.job);
        let fail_rate = Self::worker_config(k, worker).fail_rate;
        let Some(j) = self.jobs.get(job) else { return };
        let (made, fails, unrecoverable) = (j.attempts_made, j.fails_left, j.unrecoverable);
        let threw = made < fails || unrecoverable || (fail_rate > 0.0 && k.rng.chance(fail_rate));
        let how = if !threw {
            Finish::Complete
        } else if unrecoverable {
            self.after_throw(k, job, FailReason::Unrecoverable)
        } else {
            self.after_throw(k, job, FailReason::Error)
        };
        self.runs.get_mut(run).expect("here").outcome = Some(how);
        self.after_link(k, worker, Due::Finish(run));
    }

    /// What follows an attempt that threw (`shouldRetryJob`): a retry after the backoff, at
    /// once, or, with no attempts left or an `UnrecoverableError`, the final failure.
    fn after_throw(&mut self, k: &mut Kernel, job: Key, reason: FailReason) -> Finish {
        let Some(j) = self.jobs.get(job) else {
            return Finish::Fail(reason);
        };
        let made = j.attempts_made;
        let opts = j.opts.clone();
        if made + 1 < opts.attempts.unwrap_or(0) && reason != FailReason::Unrecoverable {
            let rng = &mut k.rng;
            match backoff_delay(opts.backoff.as_ref(), made + 1, || rng.next_f64()) {
                Some(delay) if delay > 0 => Finish::Delay(now_ms(k) + delay, delay),
                Some(_) | None => Finish::Retry,
            }
        } else {
            Finish::Fail(reason)
        }
    }

    /// The finishing call reaches Redis; its answer (and the next job, `fetchNext`, if the
    /// worker has room) goes back.
    pub(crate) fn finish_at_redis(&mut self, k: &mut Kernel, run: Key) {
        let Some(r) = self.runs.get(run) else { return };
        let (worker, how, job) = (r.worker, r.outcome.expect("decided"), r.job);
        let slots = Self::worker_config(k, worker).slots() as usize;
        let w = self.worker(worker);
        // `numTotal <= concurrency`: its jobs (this one included) and its call out, if any
        // (a blocked wait counts too).
        let fetch_next = k.up(worker) && !w.stuck && w.runs.len() + usize::from(w.asking) <= slots;
        if how == Finish::Complete
            && self.has_pending_dependencies(job)
            && self
                .jobs
                .get(job)
                .is_some_and(|j| j.state == JobState::Active)
        {
            // `moveToFinished` refuses (-4, -9) before it looks at the lock; the error goes
            // back, and the worker fails the attempt (`handleFailed`).
            let info = self.job(job).info.clone();
            emit(k, BullmqEvent::PendingDependencies { job: info, worker });
            let how = self.after_throw(k, job, FailReason::PendingDependencies);
            self.runs.get_mut(run).expect("here").outcome = Some(how);
            // The refusal travels back to the worker, and its call failing the job comes in.
            let back = Self::work_link(k, worker);
            let forth = Self::work_link(k, worker);
            schedule(k, k.now + back + forth, Due::Finish(run));
            return;
        }
        let next = self.finish(k, run, how, fetch_next);
        if let Some(r) = self.runs.get_mut(run) {
            r.next = next;
        }
        self.after_link(k, worker, Due::Finished(run));
    }

    /// The answer to a finishing call reaches the worker: the slot is free, and the next job,
    /// if one came with it, starts.
    pub(crate) fn finish_answered(&mut self, k: &mut Kernel, run: Key) {
        let Some(r) = self.runs.remove(run) else {
            return;
        };
        let worker = r.worker;
        let w = self.worker(worker);
        if w.epoch != r.epoch {
            return;
        }
        w.runs.retain(|&x| x != run);
        match r.next {
            Some(a @ (Answer::Job(_) | Answer::Limited(_))) => self.take_answer(k, worker, a),
            Some(Answer::Nothing(_) | Answer::Idle | Answer::Wake) | None => {}
        }
        self.pump(k, worker);
    }

    /// The lock manager wakes: locks not renewed for half of `lockRenewTime` are renewed in
    /// one call. A worker whose event loop is blocked renews nothing.
    pub(crate) fn renew_tick(&mut self, k: &mut Kernel, worker: NodeId, epoch: u32) {
        if !k.up(worker) || self.worker(worker).epoch != epoch {
            return;
        }
        let c = Self::worker_config(k, worker);
        let (half, skip) = (
            SimDuration::from_ms((c.renew_ms() / 2).max(1)),
            c.skip_lock_renewal,
        );
        if !skip && !self.worker(worker).stuck && !self.worker(worker).runs.is_empty() {
            self.after_link(k, worker, Due::RenewAt(worker, epoch));
        }
        schedule(k, k.now + half, Due::Renew(worker, epoch));
    }

    /// The renewal reaches Redis.
    pub(crate) fn renew_at_redis(&mut self, k: &mut Kernel, worker: NodeId, epoch: u32) {
        if self.worker(worker).epoch != epoch {
            return;
        }
        let half = SimDuration::from_ms((Self::worker_config(k, worker).renew_ms() / 2).max(1));
        let now = k.now;
        let mine = self.worker(worker).runs.clone();
        let due: Vec<Key> = mine
            .into_iter()
            .filter(|&r| {
                self.runs
                    .get(r)
                    .is_some_and(|r| r.outcome.is_none() && now.saturating_since(r.renewed) >= half)
            })
            .collect();
        self.renew_locks(k, worker, &due);
    }

    /// The stalled checker wakes (at start, then every `stalledInterval`).
    pub(crate) fn check_tick(&mut self, k: &mut Kernel, worker: NodeId, epoch: u32) {
        if !k.up(worker) || self.worker(worker).epoch != epoch {
            return;
        }
        if !self.worker(worker).stuck {
            self.after_link(k, worker, Due::CheckAt(worker, epoch));
        }
        let every = SimDuration::from_ms(Self::worker_config(k, worker).stalled_interval.max(1));
        schedule(k, k.now + every, Due::Check(worker, epoch));
    }

    /// The check reaches Redis.
    pub(crate) fn check_at_redis(&mut self, k: &mut Kernel, worker: NodeId, epoch: u32) {
        if self.worker(worker).epoch != epoch {
            return;
        }
        if let Some((_, queue)) = Self::work_edge(k, worker) {
            self.check_stalled(k, queue, worker);
        }
    }

    /// `pause` on a worker: its event loop blocks (a long synchronous call). Its processors'
    /// results wait, its locks are not renewed, its checker does not run.
    pub(crate) fn stall_worker(&mut self, worker: NodeId) {
        self.worker(worker).stuck = true;
    }

    /// `resume`: the event loop runs again; what waited goes on.
    pub(crate) fn unstall_worker(&mut self, k: &mut Kernel, worker: NodeId) {
        self.worker(worker).stuck = false;
        let mine = self.worker(worker).runs.clone();
        let held: Vec<Key> = mine
            .into_iter()
            .filter(|&r| self.runs.get(r).is_some_and(|r| r.held))
            .collect();
        for run in held {
            self.runs.get_mut(run).expect("listed").held = false;
            self.processed(k, run);
        }
        let w = self.worker(worker);
        if w.asking && w.answer.is_some() && w.blocked.is_none() {
            let epoch = w.epoch;
            self.answer_arrives(k, worker, epoch);
        }
        self.pump(k, worker);
    }
}
