//! The consumer, as the client sees it (`KafkaConsumer`, `ConsumerCoordinator`): the poll
//! loop (auto-commit, rejoining, fetching up to `max.poll.records`, a long poll of
//! `fetch.max.wait.ms`), the application processing records one after another, commits
//! (automatic, or manual before or after processing), the heartbeat thread, the
//! `max.poll.interval.ms` timer, and what a new assignment does to positions
//! (`auto.offset.reset`).

use super::event::{KafkaEvent, Removal, ResetCause, Tp};
use super::kind::{CommitMode, ConsumerConfig, OffsetReset};
use super::model::{emit, schedule, Client, Coord, Due, Joining, KafkaModel};
use crate::handler::{self, Handled, Then};
use crate::id::NodeId;
use crate::kernel::Kernel;
use crate::model::EdgeKind as ModelEdge;
use crate::model::StepOrigin;
use crate::time::SimDuration;
use std::sync::Arc;

impl KafkaModel {
    /// The topics a consumer subscribes to: its live subscribe edges, in node order.
    pub(crate) fn subscriptions(k: &Kernel, consumer: NodeId) -> Vec<NodeId> {
        let mut v: Vec<NodeId> = k
            .topo
            .node(consumer)
            .inc
            .iter()
            .filter_map(|&e| {
                let edge = k.topo.edge(e);
                (!edge.removed
                    && edge.kind == ModelEdge::Kafka(super::EdgeKind::Subscribe)
                    && !k.topo.node(edge.from).removed)
                    .then_some(edge.from)
            })
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// One way between the consumer and the broker: a draw of its first subscribe edge's
    /// latency (none without one).
    fn latency(k: &mut Kernel, consumer: NodeId) -> SimDuration {
        let edge = k.topo.node(consumer).inc.iter().copied().find(|&e| {
            let edge = k.topo.edge(e);
            !edge.removed && edge.kind == ModelEdge::Kafka(super::EdgeKind::Subscribe)
        });
        match edge {
            Some(e) => k.topo.edge(e).latency.sample(&mut k.rng),
            None => SimDuration::ZERO,
        }
    }

    /// A request from the consumer to the group coordinator; requests keep their order.
    pub(crate) fn send_coord(&mut self, k: &mut Kernel, c: NodeId, what: Coord) {
        let at = k.now + Self::latency(k, c);
        let st = self.consumer(c);
        let at = at.max(st.link);
        st.link = at;
        let inc = st.incarnation;
        schedule(k, at, Due::Coord(c, inc, what));
    }

    /// Something from the broker to the consumer; responses keep their order.
    pub(crate) fn send_client(&mut self, k: &mut Kernel, c: NodeId, what: Client) {
        let at = k.now + Self::latency(k, c);
        let st = self.consumer(c);
        let at = at.max(st.back);
        st.back = at;
        let epoch = st.epoch;
        schedule(k, at, Due::Client(c, epoch, what));
    }

    /// The consumer starts (at the run's start, or added live): its application's first poll,
    /// which joins the group.
    pub(crate) fn consumer_started(&mut self, k: &mut Kernel, c: NodeId) {
        let cfg = Self::consumer_config(k, c);
        let every = SimDuration::from_ms(cfg.heartbeat_interval_ms.max(1));
        let st = self.consumer(c);
        st.next_auto_commit = k.now + SimDuration::from_ms(cfg.auto_commit_interval_ms);
        let epoch = st.epoch;
        schedule(k, k.now + every, Due::Client(c, epoch, Client::Heartbeat));
        self.poll(k, c);
    }

    pub(crate) fn client_due(&mut self, k: &mut Kernel, c: NodeId, epoch: u32, what: Client) {
        let Some(st) = self.consumer_ref(c) else {
            return;
        };
        if st.epoch != epoch || !k.up(c) {
            return;
        }
        match what {
            Client::JoinResponse => self.join_response(k, c),
            Client::SyncResponse => self.sync_response(k, c),
            Client::Heartbeat => self.heartbeat(k, c),
            Client::PollTimeout => self.poll_timeout_check(k, c),
            Client::FetchResponse => self.fetch_response(k, c),
            Client::FetchWait => {
                if self.consumer(c).wait_until == Some(k.now) {
                    self.consumer(c).wait_until = None;
                    self.fetch_response(k, c);
                }
            }
            Client::Processed => self.processed(k, c),
        }
    }

    /// `poll()`: the application asks for records. Auto-commits if the interval has passed,
    /// rejoins if the group is rebalancing, then fetches (eager members fetch nothing until
    /// their new assignment arrives; cooperative ones keep fetching what they own).
    pub(crate) fn poll(&mut self, k: &mut Kernel, c: NodeId) {
        let cfg = Self::consumer_config(k, c).clone();
        let st = self.consumer(c);
        if !k.up(c) || st.stopped || st.paused || !st.work.is_empty() || st.fetching {
            return;
        }
        st.last_poll = k.now;
        if st.sync_ready {
            self.apply_assignment(k, c);
            return;
        }
        let st = self.consumer(c);
        let first_timer = st.poll_timer.is_none();
        if first_timer {
            let at = k.now + SimDuration::from_ms(cfg.max_poll_interval_ms);
            st.poll_timer = Some(at);
            let epoch = st.epoch;
            schedule(k, at, Due::Client(c, epoch, Client::PollTimeout));
        }
        let subs = Self::subscriptions(k, c);
        let st = self.consumer(c);
        if subs.is_empty() {
            // Unsubscribed: leave the group.
            if st.joining != Joining::Unjoined {
                self.revoke_all(k, c);
                let st = self.consumer(c);
                st.joining = Joining::Unjoined;
                st.generation = None;
                if cfg.group_instance_id.is_none() {
                    st.leave_reason = Removal::LeaveGroup;
                    self.send_coord(k, c, Coord::Leave);
                }
            }
            return;
        }
        st.left = false;
        if cfg.enable_auto_commit && st.joining == Joining::Joined && k.now >= st.next_auto_commit {
            st.next_auto_commit = k.now + SimDuration::from_ms(cfg.auto_commit_interval_ms);
            self.commit_positions(k, c);
        }
        let st = self.consumer(c);
        let subs_changed = st.subscribed != subs;
        if st.joining == Joining::Unjoined
            || (st.joining == Joining::Joined && (st.rejoin || subs_changed))
        {
            st.subscribed = subs;
            self.prepare_join(k, c, &cfg);
        }
        let st = self.consumer(c);
        if st.joining != Joining::Joined && !cfg.cooperative() {
            return;
        }
        if st.owned.is_empty() {
            return;
        }
        self.fetch(k, c, &cfg);
    }

    /// `onJoinPrepare` and JoinGroup: auto-commit what was consumed, give up every partition
    /// if the protocol is eager, and send the join.
    fn prepare_join(&mut self, k: &mut Kernel, c: NodeId, cfg: &ConsumerConfig) {
        let st = self.consumer(c);
        if cfg.enable_auto_commit && st.generation.is_some() && !st.owned.is_empty() {
            self.commit_positions(k, c);
        }
        // Eager members give up everything; a member whose generation was reset (it left,
        // or the group removed it) has lost its partitions (`onPartitionsLost`).
        if !cfg.cooperative() || self.consumer(c).generation.is_none() {
            self.revoke_all(k, c);
        }
        let st = self.consumer(c);
        st.rejoin = false;
        st.joining = Joining::Joining;
        self.send_coord(k, c, Coord::Join);
    }

    /// The consumer gives up every partition it owns.
    pub(crate) fn revoke_all(&mut self, k: &mut Kernel, c: NodeId) {
        let st = self.consumer(c);
        let owned = std::mem::take(&mut st.owned);
        st.owned_generation = None;
        st.positions.clear();
        st.done.clear();
        if !owned.is_empty() {
            emit(
                k,
                KafkaEvent::Revoked {
                    consumer: c,
                    partitions: owned.into_boxed_slice(),
                },
            );
        }
    }

    /// A commit of the positions of every owned partition (what auto-commit commits).
    pub(crate) fn commit_positions(&mut self, k: &mut Kernel, c: NodeId) {
        let st = self.consumer(c);
        let offsets: Vec<(Tp, u64)> = st
            .owned
            .iter()
            .filter_map(|tp| st.positions.get(tp).map(|&o| (*tp, o)))
            .collect();
        self.commit(k, c, offsets);
    }

    /// An OffsetCommit with the consumer's generation.
    pub(crate) fn commit(&mut self, k: &mut Kernel, c: NodeId, offsets: Vec<(Tp, u64)>) {
        if offsets.is_empty() {
            return;
        }
        let st = self.consumer(c);
        let generation = st.generation;
        st.commits.push_back((generation, offsets));
        self.send_coord(k, c, Coord::Commit);
    }

    /// A fetch: at once if an owned partition has records past the position (or the position
    /// is out of range), else a long poll that the next append, or `fetch.max.wait.ms`, ends.
    fn fetch(&mut self, k: &mut Kernel, c: NodeId, cfg: &ConsumerConfig) {
        let owned = self.consumer(c).owned.clone();
        let ready = owned.iter().any(|&tp| {
            let Some(log) = self.log(tp) else {
                return false;
            };
            match self.consumer_ref(c).and_then(|s| s.positions.get(&tp)) {
                Some(&pos) => pos < log.log_start || pos > log.end || log.has_from(pos),
                None => true,
            }
        });
        let st = self.consumer(c);
        st.fetching = true;
        if ready {
            // The request's way out and the response's way back.
            let at = k.now + Self::latency(k, c) + Self::latency(k, c);
            let st = self.consumer(c);
            st.wait_until = None;
            let at = at.max(st.back);
            st.back = at;
            let epoch = st.epoch;
            schedule(k, at, Due::Client(c, epoch, Client::FetchResponse));
            return;
        }
        let wait = k.now + Self::latency(k, c) + SimDuration::from_ms(cfg.fetch_max_wait_ms);
        let st = self.consumer(c);
        st.wait_until = Some(wait);
        let epoch = st.epoch;
        for &tp in &owned {
            if let Some(t) = self.topic(tp.0) {
                t.waiting.insert(c);
            }
        }
        schedule(k, wait, Due::Client(c, epoch, Client::FetchWait));
    }

    /// The fetch response: records from the owned partitions, from each position, up to
    /// `max.poll.records` in all, starting each time from the next partition in turn.
    pub(crate) fn fetch_response(&mut self, k: &mut Kernel, c: NodeId) {
        let cfg = Self::consumer_config(k, c).clone();
        let st = self.consumer(c);
        if !st.fetching {
            return;
        }
        st.fetching = false;
        st.wait_until = None;
        let owned = st.owned.clone();
        let n = owned.len();
        let start = st.rr;
        let max = cfg.max_poll_records.max(1) as usize;
        // The application's record buffer is reused from poll to poll.
        let mut got = std::mem::take(&mut self.consumer(c).work);
        got.clear();
        for j in 0..n {
            if got.len() >= max {
                break;
            }
            let tp = owned[(start + j) % n];
            let Some(pos) = self.position(k, c, tp, &cfg) else {
                return; // `auto.offset.reset=none`: stopped
            };
            let Some(log) = self.log(tp) else { continue };
            let before = got.len();
            got.extend(
                log.records_from(pos)
                    .take(max - before)
                    .map(|r| (tp, r.offset, r.msg.id)),
            );
            let taken = got.len() - before;
            let (Some(&(_, first, _)), Some(&(_, last, _))) = (got.get(before), got.back()) else {
                continue;
            };
            emit(
                k,
                KafkaEvent::Fetched {
                    consumer: c,
                    tp,
                    from: first,
                    span: u32::try_from(last - first).unwrap_or(u32::MAX),
                    records: taken as u32,
                },
            );
            let st = self.consumer(c);
            st.positions.insert(tp, last + 1);
            st.stats.fetched += taken as u64;
        }
        let st = self.consumer(c);
        if n > 0 {
            st.rr = (start + 1) % n;
        }
        if got.is_empty() {
            self.consumer(c).work = got;
            self.poll(k, c);
            return;
        }
        if !cfg.enable_auto_commit && cfg.commit == CommitMode::BeforeProcessing {
            // At-most-once: the positions are committed before the records are processed.
            let mut offsets: Vec<(Tp, u64)> = Vec::new();
            for &(tp, o, _) in &got {
                match offsets.iter_mut().find(|(t, _)| *t == tp) {
                    Some(e) => e.1 = o + 1,
                    None => offsets.push((tp, o + 1)),
                }
            }
            self.commit(k, c, offsets);
        }
        self.consumer(c).work = got;
        self.process_next(k, c);
    }

    /// The position on `tp`, reset first if it has none or it is out of range; `None` if
    /// `auto.offset.reset=none` stopped the consumer.
    fn position(&mut self, k: &mut Kernel, c: NodeId, tp: Tp, cfg: &ConsumerConfig) -> Option<u64> {
        let (start, end) = self.log(tp).map_or((0, 0), |l| (l.log_start, l.end));
        let had = self.consumer(c).positions.get(&tp).copied();
        let cause = match had {
            Some(p) if p >= start && p <= end => return Some(p),
            Some(_) => ResetCause::OutOfRange,
            None => ResetCause::NoCommittedOffset,
        };
        let to = match cfg.auto_offset_reset {
            OffsetReset::Earliest => start,
            OffsetReset::Latest => end,
            OffsetReset::None => {
                emit(k, KafkaEvent::NoOffset { consumer: c, tp });
                self.stop(k, c);
                return None;
            }
        };
        emit(
            k,
            KafkaEvent::OffsetReset {
                consumer: c,
                tp,
                from: had.unwrap_or(super::event::NO_OFFSET),
                to,
                cause,
            },
        );
        self.consumer(c).positions.insert(tp, to);
        Some(to)
    }

    /// The consumer's application stops (an exception it does not handle): it leaves nothing
    /// behind but its membership, which its session timeout ends.
    fn stop(&mut self, _k: &mut Kernel, c: NodeId) {
        let st = self.consumer(c);
        st.stopped = true;
        st.work.clear();
        st.fetching = false;
        st.wait_until = None;
        st.process_at = None;
    }

    fn process_next(&mut self, k: &mut Kernel, c: NodeId) {
        let st = self.consumer(c);
        if st.paused || st.work.is_empty() || st.process_at.is_some() {
            return;
        }
        let dist = Self::consumer_config(k, c).processing_time.clone();
        let d = dist.sample(&mut k.rng);
        let st = self.consumer(c);
        let at = k.now + d;
        st.process_at = Some(at);
        st.run = st.run.wrapping_add(1);
        st.step = 0;
        let epoch = st.epoch;
        schedule(k, at, Due::Client(c, epoch, Client::Processed));
    }

    /// The application's processing time for a record ended: its handler's steps run, then
    /// the record is done.
    fn processed(&mut self, k: &mut Kernel, c: NodeId) {
        if self.consumer(c).process_at != Some(k.now) {
            return;
        }
        if Self::consumer_config(k, c).handler.is_empty() {
            self.record_done(k, c);
        } else {
            self.run_steps(k, c);
        }
    }

    /// Runs the current record's handler from its next step: a publish goes at once and the
    /// next step follows; a read or write waits for its store's answer ([`Self::step_done`]).
    /// After the last step, the record is done.
    fn run_steps(&mut self, k: &mut Kernel, c: NodeId) {
        loop {
            let st = self.consumer(c);
            let (run, step) = (st.run, usize::from(st.step));
            let Some(&(tp, offset, message)) = st.work.front() else {
                return;
            };
            let Some(s) = Self::consumer_config(k, c).handler.get(step) else {
                return self.record_done(k, c);
            };
            let record = self
                .log(tp)
                .and_then(|log| log.records_from(offset).next())
                .filter(|r| r.offset == offset);
            let Some(record) = record else {
                let reason = "its record was deleted from the log (retention or compaction) \
                              while it was processed";
                return self.step_failed(k, c, reason.into());
            };
            let h = Handled {
                msg: &record.msg,
                input: crate::data::Input::Record(crate::data::RecordInput {
                    key: record.key.map(|key| self.key_text(key)),
                    partition: tp.1,
                    offset,
                }),
            };
            // A record read again (after a rebalance or a restart) is the same record: the
            // same logical message.
            let origin = StepOrigin::Kafka { consumer: c, run };
            match handler::prepare(k, c, s, h, message, origin) {
                Ok(action) => {
                    self.consumer(c).step += 1;
                    match handler::carry_out(k, c, action) {
                        Ok(Then::Wait) => return, // its answer moves it on
                        Ok(Then::GoOn) => {}
                        Err(reason) => return self.step_failed(k, c, reason),
                    }
                }
                Err(reason) => return self.step_failed(k, c, reason),
            }
        }
    }

    /// A store answered a read or write the handler sent for the `run`th record: the handler
    /// goes on, or (the store was removed) the step fails.
    pub(crate) fn step_done(
        &mut self,
        k: &mut Kernel,
        c: NodeId,
        run: u32,
        answer: crate::model::StepAnswer,
    ) {
        let Some(st) = self.consumer_ref(c) else {
            return;
        };
        let current = st.run == run && st.step > 0 && st.process_at.is_some();
        if !k.up(c) || !current {
            return; // it crashed, or the record was revoked or seeked away, while it was out
        }
        match answer.failure() {
            None => self.run_steps(k, c),
            Some(reason) => self.step_failed(k, c, reason.into()),
        }
    }

    /// A step of the current record's handler could not be carried out: the handler throws;
    /// the application logs it and goes on, and the record counts as processed.
    fn step_failed(&mut self, k: &mut Kernel, c: NodeId, reason: String) {
        let Some(&(tp, offset, message)) = self.consumer(c).work.front() else {
            return;
        };
        emit(
            k,
            KafkaEvent::StepFailed(Box::new(super::event::StepFailure {
                consumer: c,
                tp,
                offset,
                message,
                reason,
            })),
        );
        self.record_done(k, c);
    }

    /// The application finished a record.
    fn record_done(&mut self, k: &mut Kernel, c: NodeId) {
        let cfg = Self::consumer_config(k, c);
        let (manual_after, commit_every) = (
            !cfg.enable_auto_commit && cfg.commit == CommitMode::AfterProcessing,
            cfg.commit_every,
        );
        let st = self.consumer(c);
        st.process_at = None;
        let Some((tp, offset, message)) = st.work.pop_front() else {
            return;
        };
        st.stats.processed += 1;
        st.done.insert(tp, offset + 1);
        st.done_since_commit += 1;
        k.nodes[c.index()].stats.received += 1;
        emit(
            k,
            KafkaEvent::Processed {
                consumer: c,
                tp,
                offset,
                message,
            },
        );
        let st = self.consumer(c);
        let batch_done = st.work.is_empty();
        let due = if commit_every > 0 {
            st.done_since_commit >= commit_every
        } else {
            batch_done
        };
        if manual_after && due {
            st.done_since_commit = 0;
            let offsets: Vec<(Tp, u64)> = std::mem::take(&mut st.done).into_iter().collect();
            self.commit(k, c, offsets);
        }
        if batch_done {
            self.poll(k, c);
        } else {
            self.process_next(k, c);
        }
    }

    /// The heartbeat thread: the coordinator hears from the member (and answers
    /// `REBALANCE_IN_PROGRESS` or `UNKNOWN_MEMBER_ID`); a member that left after
    /// `max.poll.interval.ms` sends none.
    fn heartbeat(&mut self, k: &mut Kernel, c: NodeId) {
        let cfg = Self::consumer_config(k, c).clone();
        let every = SimDuration::from_ms(cfg.heartbeat_interval_ms.max(1));
        let st = self.consumer(c);
        let epoch = st.epoch;
        schedule(k, k.now + every, Due::Client(c, epoch, Client::Heartbeat));
        if st.left || st.stopped || st.joining != Joining::Joined {
            return;
        }
        let (g, inc) = (st.group, st.incarnation);
        let group = &mut self.groups.list[g as usize];
        let rebalancing = group.state == super::model::GroupState::PreparingRebalance;
        match group
            .members
            .iter_mut()
            .find(|m| m.consumer == c && m.incarnation == inc)
        {
            Some(m) => {
                m.last_heartbeat = k.now;
                if rebalancing && !m.joined {
                    self.consumer(c).rejoin = true;
                    self.wake_for_rejoin(k, c);
                }
            }
            None => {
                // UNKNOWN_MEMBER_ID: it was removed; it rejoins as a new member.
                let st = self.consumer(c);
                st.generation = None;
                st.joining = Joining::Unjoined;
                self.revoke_all(k, c);
                self.wake_for_rejoin(k, c);
            }
        }
    }

    /// A consumer waiting in a long poll returns from it to rejoin at once; one processing
    /// records rejoins at its next poll.
    fn wake_for_rejoin(&mut self, k: &mut Kernel, c: NodeId) {
        let st = self.consumer(c);
        if st.wait_until.is_some() {
            st.wait_until = None;
            st.fetching = false;
            self.poll(k, c);
        } else if !st.fetching && st.work.is_empty() {
            self.poll(k, c);
        }
    }

    /// `max.poll.interval.ms` since the last poll: a dynamic member sends LeaveGroup; a static
    /// one stops heartbeating (its session timeout removes it). Either way its generation is
    /// gone, so its next commit fails, and it rejoins on its next poll.
    fn poll_timeout_check(&mut self, k: &mut Kernel, c: NodeId) {
        let cfg = Self::consumer_config(k, c).clone();
        let interval = SimDuration::from_ms(cfg.max_poll_interval_ms);
        let st = self.consumer(c);
        st.poll_timer = None;
        if st.work.is_empty() && !st.paused {
            // The application is inside `poll()` (joining, or waiting for records), which
            // keeps the poll timer fresh: only time spent outside it counts.
            st.last_poll = k.now;
        }
        let deadline = st.last_poll + interval;
        if k.now < deadline || st.stopped {
            if !st.stopped {
                st.poll_timer = Some(deadline);
                let epoch = st.epoch;
                schedule(k, deadline, Due::Client(c, epoch, Client::PollTimeout));
            }
            return;
        }
        if st.joining == Joining::Unjoined || st.left {
            return;
        }
        st.left = true;
        st.generation = None;
        st.joining = Joining::Unjoined;
        if cfg.group_instance_id.is_none() {
            st.leave_reason = Removal::PollTimeout;
            self.send_coord(k, c, Coord::Leave);
        }
    }

    /// The JoinGroup response: the member is in the new generation. The leader computes the
    /// assignment and sends it with its SyncGroup; the others send theirs empty.
    fn join_response(&mut self, k: &mut Kernel, c: NodeId) {
        let st = self.consumer(c);
        if st.joining != Joining::Joining {
            return;
        }
        let (g, inc) = (st.group, st.incarnation);
        let group = &self.groups.list[g as usize];
        let Some(m) = group
            .members
            .iter()
            .find(|m| m.consumer == c && m.incarnation == inc)
        else {
            return;
        };
        let generation = m.generation;
        let leader = group.leader == Some(c);
        let st = self.consumer(c);
        st.generation = Some(generation);
        st.joining = Joining::Syncing;
        if leader {
            self.compute_assignment(k, g);
        }
        self.send_coord(k, c, Coord::Sync);
    }

    /// The SyncGroup response: the member's assignment. Eager: these partitions, positions
    /// from the committed offsets. Cooperative: partitions it must give up are revoked (and it
    /// rejoins at once, for the second round); new ones are added.
    fn sync_response(&mut self, k: &mut Kernel, c: NodeId) {
        let st = self.consumer(c);
        if st.joining != Joining::Syncing {
            return;
        }
        if !st.work.is_empty() || st.process_at.is_some() {
            // The client handles the assignment inside `poll()`: a cooperative member busy
            // with records takes it up at its next poll, after they are processed.
            st.sync_ready = true;
            return;
        }
        self.apply_assignment(k, c);
    }

    fn apply_assignment(&mut self, k: &mut Kernel, c: NodeId) {
        let cfg = Self::consumer_config(k, c).clone();
        let st = self.consumer(c);
        st.sync_ready = false;
        let g = st.group;
        let generation = st.generation;
        let group = &self.groups.list[g as usize];
        if Some(group.generation) != generation || group.state != super::model::GroupState::Stable {
            // A newer rebalance began: join again.
            let st = self.consumer(c);
            st.joining = Joining::Unjoined;
            self.wake_for_rejoin(k, c);
            return;
        }
        let assigned = group.assignment.get(&c).cloned().unwrap_or_default();
        let committed: Vec<(Tp, Option<u64>)> = assigned
            .iter()
            .map(|tp| (*tp, group.committed.get(tp).copied()))
            .collect();
        let st = self.consumer(c);
        st.joining = Joining::Joined;
        st.stats.rebalances += 1;
        // `onJoinComplete` restarts the auto-commit timer.
        st.next_auto_commit = k.now + SimDuration::from_ms(cfg.auto_commit_interval_ms);
        st.last_assigned = assigned.clone();
        let revoked: Vec<Tp> = st
            .owned
            .iter()
            .filter(|tp| !assigned.contains(tp))
            .copied()
            .collect();
        let added: Vec<Tp> = assigned
            .iter()
            .filter(|tp| !st.owned.contains(tp))
            .copied()
            .collect();
        if !revoked.is_empty() {
            if cfg.enable_auto_commit {
                let offsets: Vec<(Tp, u64)> = revoked
                    .iter()
                    .filter_map(|tp| st.positions.get(tp).map(|&o| (*tp, o)))
                    .collect();
                self.commit(k, c, offsets);
            }
            let st = self.consumer(c);
            st.owned.retain(|tp| !revoked.contains(tp));
            for tp in &revoked {
                st.positions.remove(tp);
                st.done.remove(tp);
            }
            st.work.retain(|(tp, _, _)| !revoked.contains(tp));
            emit(
                k,
                KafkaEvent::Revoked {
                    consumer: c,
                    partitions: revoked.into_boxed_slice(),
                },
            );
            // The second round of the cooperative protocol.
            self.consumer(c).rejoin = true;
        }
        let st = self.consumer(c);
        st.owned.extend(added.iter().copied());
        st.owned.sort();
        st.owned_generation = generation;
        for (tp, off) in committed {
            if added.contains(&tp) {
                match off {
                    Some(o) => {
                        st.positions.insert(tp, o);
                    }
                    None => {
                        st.positions.remove(&tp);
                    }
                }
            }
        }
        emit(
            k,
            KafkaEvent::Assigned {
                consumer: c,
                generation: generation.unwrap_or(0),
                partitions: added.into_boxed_slice(),
            },
        );
        // Positions without a committed offset are reset now (`auto.offset.reset`).
        let owned = self.consumer(c).owned.clone();
        for tp in owned {
            if self.consumer(c).positions.contains_key(&tp) {
                continue;
            }
            if self.position(k, c, tp, &cfg).is_none() {
                return;
            }
        }
        self.wake_for_rejoin(k, c);
    }

    /// The consumer crashed: its work and fetches are gone, its heartbeats stop; the group
    /// finds out by its session timeout.
    pub(crate) fn consumer_crashed(&mut self, k: &mut Kernel, c: NodeId) {
        let st = self.consumer(c);
        st.epoch = st.epoch.wrapping_add(1);
        // The process is gone, and with it what it knew: its partitions, positions and
        // generation. The group still counts it as a member until its session times out.
        st.owned.clear();
        st.owned_generation = None;
        st.positions.clear();
        st.done.clear();
        st.generation = None;
        st.joining = Joining::Unjoined;
        st.subscribed.clear();
        st.sync_ready = false;
        let _ = k;
        st.work.clear();
        st.fetching = false;
        st.wait_until = None;
        st.process_at = None;
        st.poll_timer = None;
        st.commits.clear();
    }

    /// The consumer comes back: a new incarnation, with a new `member.id` (a static member
    /// keeps its `group.instance.id`), joining from scratch.
    pub(crate) fn consumer_restarted(&mut self, k: &mut Kernel, c: NodeId) {
        let name = k.topo.node(c).name.clone();
        let st = self.consumer(c);
        st.incarnation += 1;
        st.member_id = Arc::from(format!("{name}-{}", st.incarnation).as_str());
        st.owned.clear();
        st.owned_generation = None;
        st.positions.clear();
        st.done.clear();
        st.done_since_commit = 0;
        st.generation = None;
        st.joining = Joining::Unjoined;
        st.rejoin = false;
        st.left = false;
        st.stopped = false;
        st.paused = false;
        st.subscribed.clear();
        st.link = k.now;
        st.back = k.now;
        self.consumer_started(k, c);
    }

    /// The consumer is removed: `close()` commits (with auto-commit) and, for a dynamic
    /// member, sends LeaveGroup; then it is gone.
    pub(crate) fn consumer_removed(&mut self, k: &mut Kernel, c: NodeId) {
        let cfg = Self::consumer_config(k, c).clone();
        if k.up(c) {
            let st = self.consumer(c);
            if st.joining != Joining::Unjoined {
                if cfg.enable_auto_commit {
                    // A graceful shutdown: the application finishes its current record and
                    // calls `close()`, which commits what it consumed. Records fetched but
                    // not processed are not counted as consumed here, so none is skipped.
                    let mut offsets: Vec<(Tp, u64)> = Vec::new();
                    for tp in &st.owned {
                        let Some(&pos) = st.positions.get(tp) else {
                            continue;
                        };
                        let first_left =
                            st.work.iter().find(|(t, _, _)| t == tp).map(|&(_, o, _)| o);
                        offsets.push((*tp, first_left.unwrap_or(pos)));
                    }
                    self.commit(k, c, offsets);
                } else if cfg.commit == CommitMode::AfterProcessing {
                    let offsets: Vec<(Tp, u64)> = std::mem::take(&mut self.consumer(c).done)
                        .into_iter()
                        .collect();
                    self.commit(k, c, offsets);
                }
                if cfg.group_instance_id.is_none() {
                    self.consumer(c).leave_reason = Removal::LeaveGroup;
                    self.send_coord(k, c, Coord::Leave);
                }
            }
            k.mark_down(c);
        }
        let st = self.consumer(c);
        st.epoch = st.epoch.wrapping_add(1);
        st.work.clear();
        st.fetching = false;
        st.wait_until = None;
        st.process_at = None;
        st.owned.clear();
        st.owned_generation = None;
        st.generation = None;
    }

    /// The consumer's subscriptions changed (an edge was added): it rejoins at its next poll.
    pub(crate) fn subscription_changed(&mut self, k: &mut Kernel, c: NodeId) {
        if self.consumer_ref(c).is_none() {
            return;
        }
        // The poll compares the subscriptions with those it joined with.
        if k.up(c) {
            self.wake_for_rejoin(k, c);
        }
    }

    /// A subscription edge is about to go: once it has, the consumer rejoins (or leaves, with
    /// no subscription left). It looks again just after the removal.
    pub(crate) fn unsubscribing(&mut self, k: &mut Kernel, c: NodeId, _topic: NodeId) {
        if self.consumer_ref(c).is_none() {
            return;
        }
        let st = self.consumer(c);
        if st.wait_until.is_some() || (!st.fetching && st.work.is_empty()) {
            st.wait_until = Some(k.now);
            st.fetching = true;
            let epoch = st.epoch;
            schedule(k, k.now, Due::Client(c, epoch, Client::FetchWait));
        }
    }

    /// `pause`: the application stalls (a long synchronous call) after the record it is
    /// processing; its heartbeats go on, but it does not poll.
    pub(crate) fn pause(&mut self, c: NodeId) {
        // The record being processed finishes; nothing new starts.
        self.consumer(c).paused = true;
    }

    /// `resume`: the application goes on where it stalled.
    pub(crate) fn resume(&mut self, k: &mut Kernel, c: NodeId) {
        self.consumer(c).paused = false;
        if self.consumer(c).work.is_empty() {
            self.poll(k, c);
        } else {
            self.process_next(k, c);
        }
    }
}

impl KafkaModel {
    /// Why a consumer cannot be paused (or resumed) now, if it cannot.
    pub(crate) fn check_pause(&self, k: &Kernel, c: NodeId, pause: bool) -> Result<(), String> {
        let name = &k.topo.node(c).name;
        if !k.up(c) {
            return Err(format!(
                "{name:?} is down; restart it first (a consumer comes back unpaused)"
            ));
        }
        let paused = self.consumer_ref(c).is_some_and(|s| s.paused);
        match (pause, paused) {
            (true, true) => Err(format!("{name:?} is already paused")),
            (false, false) => Err(format!(
                "{name:?} is not paused, so there is nothing to resume"
            )),
            _ => Ok(()),
        }
    }
}

impl KafkaModel {
    /// The partitions a seek of `c` names: those it owns, of `topic` if given, `partition` if
    /// given.
    fn seek_targets(&self, c: NodeId, topic: Option<NodeId>, partition: Option<u32>) -> Vec<Tp> {
        self.consumer_ref(c)
            .map(|st| {
                st.owned
                    .iter()
                    .filter(|tp| topic.is_none_or(|t| t == tp.0))
                    .filter(|tp| partition.is_none_or(|p| p == tp.1))
                    .copied()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Why `c` cannot seek there now, if it cannot: a consumer seeks only in partitions it
    /// owns (`IllegalStateException: No current assignment for partition`).
    pub(crate) fn check_seek(
        &self,
        k: &Kernel,
        c: NodeId,
        topic: Option<NodeId>,
        partition: Option<u32>,
    ) -> Result<(), String> {
        if !k.up(c) {
            return Err(format!(
                "{:?} is down; restart it first",
                k.topo.node(c).name
            ));
        }
        if self.seek_targets(c, topic, partition).is_empty() {
            let what = match (topic, partition) {
                (Some(t), Some(p)) => format!("partition {}-{p}", k.topo.node(t).name),
                (Some(t), None) => format!("any partition of {}", k.topo.node(t).name),
                (None, _) => "any partition".to_owned(),
            };
            return Err(format!(
                "IllegalStateException: No current assignment for {what}: {:?} can seek only \
                 in the partitions it owns",
                k.topo.node(c).name
            ));
        }
        Ok(())
    }

    /// `seek`, `seekToBeginning`, `seekToEnd`: the next fetch of each named partition starts
    /// there. Records already returned by a poll are still processed.
    pub(crate) fn seek(
        &mut self,
        k: &mut Kernel,
        c: NodeId,
        topic: Option<NodeId>,
        partition: Option<u32>,
        to: super::kind::SeekTo,
    ) {
        use super::kind::{SeekEdge, SeekTo};
        for tp in self.seek_targets(c, topic, partition) {
            let (start, end) = self.log(tp).map_or((0, 0), |l| (l.log_start, l.end));
            let offset = match to {
                SeekTo::Offset(o) => o,
                SeekTo::Edge(SeekEdge::Beginning) => start,
                SeekTo::Edge(SeekEdge::End) => end,
            };
            let st = self.consumer(c);
            let from = st
                .positions
                .insert(tp, offset)
                .unwrap_or(super::event::NO_OFFSET);
            emit(
                k,
                KafkaEvent::OffsetReset {
                    consumer: c,
                    tp,
                    from,
                    to: offset,
                    cause: ResetCause::Seek,
                },
            );
        }
        // A consumer waiting in a long poll fetches from its new position at once.
        let st = self.consumer(c);
        if st.wait_until.is_some() {
            st.wait_until = None;
            st.fetching = false;
            self.poll(k, c);
        }
    }
}
