//! The producer: `Queue.add` at a rate, or on scripted `publish` actions. Each add is one
//! Redis call: the job's message crosses the producer's edge to its queue, where the add
//! script stores it (`queue.rs`).

use super::kind::JobTemplate;
use super::model::{emit, now_ms, schedule, BullmqModel, Due, PendingAdd, Scheduler};
use crate::event::EventKind;
use crate::http::slab::Key;
use crate::id::{EdgeId, NodeId};
use crate::kernel::Kernel;
use crate::ledger::{DropReason, Fate};
use crate::message::{Envelope, MessageTemplate};
use crate::scenario::Arrival;
use crate::time::SimTime;

impl BullmqModel {
    /// The producer's live edge to its queue, and the queue.
    pub(crate) fn add_edge(k: &Kernel, producer: NodeId) -> Option<(EdgeId, NodeId)> {
        k.topo.node(producer).out.iter().find_map(|&e| {
            let edge = k.topo.edge(e);
            (!edge.removed && edge.kind == crate::model::EdgeKind::Bullmq(super::EdgeKind::Add))
                .then_some((e, edge.to))
        })
    }

    /// The next rate-driven add (`again`: it was adding already, so one gap from now).
    pub(crate) fn schedule_emit(&mut self, k: &mut Kernel, node: NodeId, again: bool) {
        let c = Self::producer_config(k, node);
        if c.scheduler.is_some() {
            // A job scheduler: one `upsertJobScheduler` call, then the queue makes the jobs.
            let epoch = self.producer(node).emit_epoch;
            let latency = Self::add_edge(k, node)
                .map_or(crate::time::SimDuration::ZERO, |(e, _)| {
                    k.topo.edge(e).latency.sample(&mut k.rng)
                });
            schedule(k, k.now + latency, Due::Upsert(node, epoch));
            return;
        }
        if c.rate_per_s <= 0.0 || c.limit.is_some_and(|l| self.producer(node).emitted >= l) {
            return;
        }
        let (rate, arrival, start) = (c.rate_per_s, c.arrival, SimTime::ZERO + c.start);
        let from = start.max(k.now);
        let adding = again && k.now >= start;
        let at = if arrival == Arrival::Constant && !adding {
            from
        } else {
            from + crate::http::gap(rate, arrival, &mut k.rng)
        };
        let epoch = self.producer(node).emit_epoch;
        schedule(k, at, Due::Emit(node, epoch));
    }

    pub(crate) fn emit_due(&mut self, k: &mut Kernel, node: NodeId, epoch: u32) {
        if !k.up(node) || self.producer(node).emit_epoch != epoch {
            return;
        }
        if Self::producer_config(k, node)
            .limit
            .is_some_and(|l| self.producer(node).emitted >= l)
        {
            return;
        }
        self.producer(node).emitted += 1;
        self.add(k, node, JobTemplate::default());
        self.schedule_emit(k, node, true);
    }

    /// A scripted `publish`: the template's `job` (name, options, what the processor does),
    /// else the producer's own.
    pub(crate) fn publish(&mut self, k: &mut Kernel, node: NodeId, t: &MessageTemplate) {
        let template = t.job.as_deref().cloned().unwrap_or_default();
        self.add(k, node, template);
    }

    /// `Queue.add`: a message for the job, on its way to the queue.
    fn add(&mut self, k: &mut Kernel, node: NodeId, template: JobTemplate) {
        let id = k.ledger.next_id();
        let msg = Box::new(Envelope::new(id, k.now));
        k.ledger.create(id, Fate::Held { node });
        k.nodes[node.index()].stats.published += 1;
        k.emit(EventKind::Published {
            node,
            message: id,
            correlation: id,
            cause: None,
        });
        if !k.up(node) {
            k.drop_message(id, node, DropReason::NodeDown);
            return;
        }
        let Some((edge, queue)) = Self::add_edge(k, node) else {
            k.drop_message(id, node, DropReason::NoRoute);
            return;
        };
        let children = Self::producer_config(k, node).children.clone();
        let flow = (!children.is_empty()).then(|| Self::make_flow(k, node, &children));
        self.pending.insert(
            id,
            PendingAdd {
                producer: node,
                template,
                timestamp_ms: now_ms(k),
                flow,
            },
        );
        k.send_on(edge, node, queue, msg);
    }
}

impl BullmqModel {
    /// `upsertJobScheduler` reaches Redis: the scheduler is made (or kept, with its next time,
    /// if its `every` or its pattern did not change), and its first job is added, due at the
    /// scheduler's first time. With `every`: now, or `startDate`, or the next `offset` past a
    /// multiple of `every`. With a pattern: its first match after now (or `startDate`), or now
    /// if `immediately`.
    pub(crate) fn upsert_at_redis(&mut self, k: &mut Kernel, producer: NodeId, epoch: u32) {
        if self.producer(producer).emit_epoch != epoch {
            return;
        }
        let Some((_, queue)) = Self::add_edge(k, producer) else {
            return;
        };
        if self.queue_ref(queue).is_none() {
            return;
        }
        let Some(s) = Self::producer_config(k, producer).scheduler.clone() else {
            return;
        };
        let now = now_ms(k);
        if s.end_date.is_some_and(|end| now > end) {
            return;
        }
        let cron = match &s.pattern {
            Some(p) => {
                let key: Box<str> = format!("{p}\u{0}{}", s.tz.as_deref().unwrap_or("")).into();
                let Ok(c) = super::cron::CronSchedule::parse(p, s.tz.as_deref()) else {
                    return; // validation refused it
                };
                Some(std::sync::Arc::new((c, key)))
            }
            None => None,
        };
        let every = if cron.is_some() {
            0
        } else {
            s.every.expect("validated").max(1)
        };
        let id: Box<str> = s.id.as_str().into();
        let same = |old: &Scheduler| match (&old.cron, &cron) {
            (Some(a), Some(b)) => a.1 == b.1,
            (None, None) => old.every == every,
            (Some(_), None) | (None, Some(_)) => false,
        };
        let q = self.queue(queue);
        let kept = q
            .schedulers
            .get(&id)
            .filter(|old| same(old))
            .map(|old| (old.next_ms, old.count, old.current.clone(), old.offset));
        // A pending job of the scheduler is replaced; one already taken stays.
        if let Some((_, _, Some(current), _)) = &kept {
            self.remove_pending(k, queue, current);
        }
        let (next_ms, count, offset) = match kept {
            Some((next, count, _, offset)) => (next, count, offset),
            None => match &cron {
                Some(c) => {
                    let from = s.start_date.map_or(now, |d| d.max(now));
                    let first = if s.immediately {
                        Some(now)
                    } else {
                        c.0.next_after(from)
                    };
                    let Some(first) = first else {
                        return; // the pattern never matches again
                    };
                    (first.max(now), 0, 0)
                }
                None => {
                    let first = match (s.start_date, s.offset) {
                        (Some(start), _) => start.max(now),
                        (None, Some(offset)) if offset > 0 => {
                            let at = now / every * every + offset;
                            if at <= now {
                                at + every
                            } else {
                                at
                            }
                        }
                        (None, _) => now,
                    };
                    let offset = s.offset.unwrap_or(first - first / every * every);
                    (first, 0, offset)
                }
            },
        };
        self.queue(queue).schedulers.insert(
            id.clone(),
            Scheduler {
                producer,
                every,
                cron,
                end_date: s.end_date,
                offset,
                next_ms,
                count,
                limit: s.limit,
                current: None,
            },
        );
        self.scheduled_job(k, queue, &id);
    }

    /// The scheduler's job for its next time, unless its `limit` is reached: a job with the id
    /// `repeat:<id>:<ms>`, the producer's name and options, delayed until its time.
    fn scheduled_job(&mut self, k: &mut Kernel, queue: NodeId, id: &str) {
        let now = now_ms(k);
        let Some(s) = self.queue(queue).schedulers.get_mut(id) else {
            return;
        };
        if s.limit.is_some_and(|l| s.count + 1 > l) {
            s.current = None;
            return;
        }
        s.count += 1;
        let (producer, next_ms) = (s.producer, s.next_ms);
        let job_id: Box<str> = format!("repeat:{id}:{next_ms}").into();
        s.current = Some(job_id.clone());
        let p = Self::producer_config(k, producer).clone();
        let mut opts = p.opts.clone();
        opts.delay = Some(next_ms.saturating_sub(now) as f64);
        opts.job_id = None;
        let msg_id = k.ledger.next_id();
        let msg = Box::new(Envelope::new(msg_id, k.now));
        k.ledger.create(msg_id, Fate::Held { node: queue });
        k.nodes[producer.index()].stats.published += 1;
        k.emit(EventKind::Published {
            node: producer,
            message: msg_id,
            correlation: msg_id,
            cause: None,
        });
        let q = self.queue(queue);
        q.counter += 1;
        let info = Self::job_info(job_id.clone(), &p.name, queue, msg_id);
        let key = self.store(
            k,
            queue,
            super::queue::NewJob {
                info,
                opts: std::sync::Arc::new(opts),
                fails: p.fails,
                unrecoverable: false,
                msg,
                timestamp_ms: now,
                scheduler: Some(id.into()),
                parent: None,
                children: 0,
            },
        );
        self.queue(queue).custom.insert(job_id, key);
    }

    /// A scheduler's job was taken (`nextJobFromJobData` then `updateJobScheduler`): its next
    /// job is made, `every` after the last time, or, if that has passed, at the next slot
    /// (`offset` past a multiple of `every`) after now; with a pattern, at its next match after
    /// now. None after `endDate`.
    pub(crate) fn scheduler_job_taken(&mut self, k: &mut Kernel, queue: NodeId, job: Key) {
        let Some(j) = self.jobs.get(job) else { return };
        let Some(id) = j.scheduler.clone() else {
            return;
        };
        let job_id = j.info.id.clone();
        let now = now_ms(k);
        let Some(s) = self.queue(queue).schedulers.get_mut(&id) else {
            return;
        };
        if s.current.as_deref() != Some(&*job_id) {
            return;
        }
        if s.end_date.is_some_and(|end| now > end) {
            s.current = None;
            return;
        }
        let next = match &s.cron {
            // The pattern's next match after now (or after the last time, if that is later).
            Some(c) => match c.0.next_after(now.max(s.next_ms)) {
                Some(next) => next,
                None => {
                    s.current = None;
                    return;
                }
            },
            None => {
                let mut next = s.next_ms + s.every;
                if next < now {
                    let at = now / s.every * s.every + s.offset;
                    next = if at <= now { at + s.every } else { at };
                }
                next
            }
        };
        s.next_ms = next;
        self.scheduled_job(k, queue, &id);
    }

    /// Removes a job that has not been taken (waiting, prioritized or delayed), as an upsert
    /// removes its scheduler's pending job.
    fn remove_pending(&mut self, k: &mut Kernel, queue: NodeId, job_id: &str) {
        let Some(&key) = self.queue(queue).custom.get(job_id) else {
            return;
        };
        let Some(j) = self.jobs.get(key) else { return };
        if !matches!(
            j.state,
            super::model::JobState::Waiting
                | super::model::JobState::Prioritized
                | super::model::JobState::Delayed
        ) {
            return;
        }
        let q = self.queue(queue);
        q.wait.retain(|&x| x != key);
        q.prioritized.retain(|&(_, x)| x != key);
        q.delayed.retain(|&(_, x)| x != key);
        q.custom.remove(job_id);
        q.stats.removed += 1;
        let j = self.jobs.remove(key).expect("here");
        emit(
            k,
            super::event::BullmqEvent::Removed {
                job: j.info.clone(),
            },
        );
        if let Some(msg) = j.msg {
            k.drop_message(msg.id, queue, DropReason::JobRemoved);
        }
    }
}
