//! The group coordinator of the classic protocol (`ClassicGroup`, `GroupMetadataManager`):
//! members joining, the initial rebalance delay of a new group, rounds that wait for every
//! member to rejoin (up to the rebalance timeout), generations, the leader and the protocol
//! chosen by vote, the leader's assignment handed out by SyncGroup, heartbeats and session
//! timeouts, LeaveGroup, and offset commits checked against the generation.

use super::assignor::{self, Member as AMember};
use super::event::{CommitError, Completed, KafkaEvent, RebalanceReason, Removal, Tp};
use super::kind::Assignor;
use super::model::{
    emit, schedule, Client, Coord, Due, GroupState, GroupTimer, KafkaModel, Member,
};
use crate::id::NodeId;
use crate::kernel::Kernel;
use crate::time::SimDuration;
use std::collections::BTreeMap;

impl KafkaModel {
    pub(crate) fn coord_due(&mut self, k: &mut Kernel, c: NodeId, inc: u32, what: Coord) {
        if self.consumer_ref(c).is_none() {
            return;
        }
        match what {
            Coord::Join => self.coord_join(k, c, inc),
            Coord::Sync => self.coord_sync(k, c, inc),
            Coord::Leave => self.coord_leave(k, c, inc),
            Coord::Commit => self.coord_commit(k, c, inc),
            Coord::Session => self.session_check(k, c, inc),
        }
    }

    fn member_index(&self, g: u32, c: NodeId, inc: u32) -> Option<usize> {
        self.groups.list[g as usize]
            .members
            .iter()
            .position(|m| m.consumer == c && m.incarnation == inc)
    }

    /// The most rebalance timeout (`max.poll.interval.ms`) of a group's members.
    fn rebalance_timeout(k: &Kernel, members: &[Member]) -> u64 {
        members
            .iter()
            .map(|m| Self::consumer_config(k, m.consumer).max_poll_interval_ms)
            .max()
            .unwrap_or(0)
    }

    /// JoinGroup reaches the coordinator.
    fn coord_join(&mut self, k: &mut Kernel, c: NodeId, inc: u32) {
        let st = self.consumer(c);
        if st.incarnation != inc {
            return;
        }
        let g = st.group;
        let cfg = Self::consumer_config(k, c).clone();
        // INCONSISTENT_GROUP_PROTOCOL: the member shares no assignor with the others.
        let others: Vec<NodeId> = self.groups.list[g as usize]
            .members
            .iter()
            .map(|m| m.consumer)
            .filter(|&o| o != c)
            .collect();
        if !others.is_empty() {
            let common = cfg.assignment_strategy.iter().any(|a| {
                others
                    .iter()
                    .all(|&o| Self::consumer_config(k, o).assignment_strategy.contains(a))
            });
            if !common {
                emit(k, KafkaEvent::JoinFailed { consumer: c });
                let st = self.consumer(c);
                st.stopped = true;
                st.joining = super::model::Joining::Unjoined;
                return;
            }
        }
        let now = k.now;
        let member_id = self.consumer(c).member_id.clone();
        let group = &mut self.groups.list[g as usize];
        // A static member coming back replaces its earlier incarnation.
        let static_rejoin = cfg.group_instance_id.is_some()
            && group
                .members
                .iter()
                .any(|m| m.consumer == c && m.incarnation != inc);
        if static_rejoin {
            let m = group
                .members
                .iter_mut()
                .find(|m| m.consumer == c)
                .expect("found");
            m.incarnation = inc;
            m.member_id = member_id.clone();
            m.last_heartbeat = now;
            if group.state == GroupState::Stable {
                // Same subscription, same member: its old assignment, no rebalance.
                m.joined = true;
                m.generation = group.generation;
                self.schedule_session(k, c, inc);
                self.send_client(k, c, Client::JoinResponse);
                return;
            }
        }
        let group = &mut self.groups.list[g as usize];
        let existing = group
            .members
            .iter()
            .position(|m| m.consumer == c && m.incarnation == inc);
        let new = existing.is_none();
        match existing {
            Some(i) => {
                group.members[i].joined = true;
                group.members[i].last_heartbeat = now;
            }
            None => {
                // Earlier incarnations of this consumer are dead: one that had rejoined this
                // round before it crashed must not count as joined, or the join would
                // complete with it (it times out like any member that does not rejoin).
                for m in group
                    .members
                    .iter_mut()
                    .filter(|m| m.consumer == c && m.incarnation != inc)
                {
                    m.joined = false;
                }
                group.members.push(Member {
                    consumer: c,
                    incarnation: inc,
                    member_id,
                    joined: true,
                    awaiting_sync: false,
                    generation: 0,
                    last_heartbeat: now,
                });
            }
        }
        if new {
            self.schedule_session(k, c, inc);
        }
        let group = &mut self.groups.list[g as usize];
        match group.state {
            GroupState::Empty => {
                group.leader = Some(c);
                group.state = GroupState::PreparingRebalance;
                group.round = group.round.wrapping_add(1);
                let delay = cfg.initial_rebalance_delay_ms;
                let timeout = cfg.max_poll_interval_ms;
                group.initial = Some(timeout.saturating_sub(delay));
                group.new_member_added = false;
                let (round, generation) = (group.round, group.generation);
                emit(
                    k,
                    KafkaEvent::RebalanceStarted {
                        via: c,
                        generation,
                        reason: RebalanceReason::Joined(c),
                    },
                );
                schedule(
                    k,
                    k.now + SimDuration::from_ms(delay),
                    Due::Group(g, round, GroupTimer::InitialDelay),
                );
            }
            GroupState::PreparingRebalance => {
                if new {
                    group.new_member_added = true;
                }
                self.maybe_complete_join(k, g);
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                let reason = if new {
                    RebalanceReason::Joined(c)
                } else {
                    RebalanceReason::Rejoined(c)
                };
                self.prepare_rebalance(k, g, c, reason);
            }
        }
    }

    /// A member's session check, `session.timeout.ms` after its last heartbeat.
    fn schedule_session(&mut self, k: &mut Kernel, c: NodeId, inc: u32) {
        let timeout = Self::consumer_config(k, c).session_timeout_ms;
        schedule(
            k,
            k.now + SimDuration::from_ms(timeout),
            Due::Coord(c, inc, Coord::Session),
        );
    }

    /// The group begins a rebalance: every member must rejoin (they learn it from their next
    /// heartbeat), within the rebalance timeout.
    fn prepare_rebalance(&mut self, k: &mut Kernel, g: u32, via: NodeId, reason: RebalanceReason) {
        let timeout = Self::rebalance_timeout(k, &self.groups.list[g as usize].members);
        // The member that asked is the consumer's live incarnation: an earlier one of the
        // same consumer (it crashed, and its session has not expired) is another member,
        // which must rejoin or time out like any other.
        let live = match reason {
            RebalanceReason::Joined(n) | RebalanceReason::Rejoined(n) => {
                self.consumer_ref(n).map(|st| (n, st.incarnation))
            }
            RebalanceReason::Left(_)
            | RebalanceReason::SessionTimeout(_)
            | RebalanceReason::PartitionsChanged(_) => None,
        };
        let group = &mut self.groups.list[g as usize];
        group.state = GroupState::PreparingRebalance;
        group.round = group.round.wrapping_add(1);
        for m in &mut group.members {
            let joining = match reason {
                RebalanceReason::Joined(_) | RebalanceReason::Rejoined(_) => {
                    live == Some((m.consumer, m.incarnation))
                }
                RebalanceReason::Left(_)
                | RebalanceReason::SessionTimeout(_)
                | RebalanceReason::PartitionsChanged(_) => false,
            };
            m.joined = joining;
            m.awaiting_sync = false;
        }
        let (round, generation) = (group.round, group.generation);
        emit(
            k,
            KafkaEvent::RebalanceStarted {
                via,
                generation,
                reason,
            },
        );
        schedule(
            k,
            k.now + SimDuration::from_ms(timeout),
            Due::Group(g, round, GroupTimer::RebalanceTimeout),
        );
        // Members waiting in a long poll hear of it at their next heartbeat; those already
        // told by a commit or a failed sync rejoin at their next poll.
        self.maybe_complete_join(k, g);
    }

    fn maybe_complete_join(&mut self, k: &mut Kernel, g: u32) {
        let group = &self.groups.list[g as usize];
        if group.state == GroupState::PreparingRebalance
            && group.initial.is_none()
            && group.members.iter().all(|m| m.joined)
        {
            self.complete_join(k, g);
        }
    }

    pub(crate) fn group_due(&mut self, k: &mut Kernel, g: u32, round: u32, what: GroupTimer) {
        let group = &mut self.groups.list[g as usize];
        if group.round != round || group.state != GroupState::PreparingRebalance {
            return;
        }
        match what {
            GroupTimer::InitialDelay => {
                let Some(remaining) = group.initial else {
                    return;
                };
                if group.new_member_added && remaining > 0 {
                    // `InitialDelayedJoin`: a member joined during the delay; wait once more.
                    group.new_member_added = false;
                    let delay = group
                        .leader
                        .map_or(0, |l| {
                            Self::consumer_config(k, l).initial_rebalance_delay_ms
                        })
                        .min(remaining);
                    let group = &mut self.groups.list[g as usize];
                    group.initial = Some(remaining - delay);
                    schedule(
                        k,
                        k.now + SimDuration::from_ms(delay),
                        Due::Group(g, round, GroupTimer::InitialDelay),
                    );
                } else {
                    group.initial = None;
                    self.complete_join(k, g);
                }
            }
            GroupTimer::RebalanceTimeout => {
                group.initial = None;
                self.complete_join(k, g);
            }
        }
    }

    /// The join phase ends: members that did not rejoin are removed, the generation goes up,
    /// the protocol is chosen by vote, and each member gets its JoinGroup response.
    fn complete_join(&mut self, k: &mut Kernel, g: u32) {
        let group = &mut self.groups.list[g as usize];
        let gone: Vec<NodeId> = group
            .members
            .iter()
            .filter(|m| !m.joined)
            .map(|m| m.consumer)
            .collect();
        group.members.retain(|m| m.joined);
        for c in gone {
            emit(
                k,
                KafkaEvent::MemberRemoved {
                    consumer: c,
                    reason: Removal::RebalanceTimeout,
                },
            );
        }
        let group = &mut self.groups.list[g as usize];
        group.generation += 1;
        group.round = group.round.wrapping_add(1);
        group.assignment.clear();
        if group.members.is_empty() {
            group.state = GroupState::Empty;
            group.leader = None;
            group.protocol = None;
            return;
        }
        if !group
            .leader
            .is_some_and(|l| group.members.iter().any(|m| m.consumer == l))
        {
            group.leader = Some(group.members[0].consumer);
        }
        group.state = GroupState::CompletingRebalance;
        let generation = group.generation;
        let now = k.now;
        for m in &mut group.members {
            m.generation = generation;
            m.last_heartbeat = now;
            m.awaiting_sync = false;
        }
        let members: Vec<NodeId> = group.members.iter().map(|m| m.consumer).collect();
        let protocol = Self::select_protocol(k, &members);
        self.groups.list[g as usize].protocol = Some(protocol);
        for c in members {
            self.send_client(k, c, Client::JoinResponse);
        }
    }

    /// `selectProtocol`: among the assignors every member supports, each member votes for its
    /// first preference; the most votes wins. Ties go to the assignor the first member (in
    /// join order) prefers (Kafka's tie follows a hash map's order).
    fn select_protocol(k: &Kernel, members: &[NodeId]) -> Assignor {
        let lists: Vec<&Vec<Assignor>> = members
            .iter()
            .map(|&c| &Self::consumer_config(k, c).assignment_strategy)
            .collect();
        let candidates: Vec<Assignor> = lists[0]
            .iter()
            .copied()
            .filter(|a| lists.iter().all(|l| l.contains(a)))
            .collect();
        let Some(&first) = candidates.first() else {
            return lists[0].first().copied().unwrap_or(Assignor::Range);
        };
        let mut votes: BTreeMap<Assignor, u32> = BTreeMap::new();
        for l in &lists {
            if let Some(a) = l.iter().find(|a| candidates.contains(a)) {
                *votes.entry(*a).or_default() += 1;
            }
        }
        let most = votes.values().copied().max().unwrap_or(0);
        candidates
            .iter()
            .copied()
            .find(|a| votes.get(a) == Some(&most))
            .unwrap_or(first)
    }

    /// The leader's assignment for the generation being completed, with the chosen assignor
    /// over the members' subscriptions and the topics' partition counts.
    pub(crate) fn compute_assignment(&mut self, k: &mut Kernel, g: u32) {
        let group = &self.groups.list[g as usize];
        let protocol = group.protocol.unwrap_or(Assignor::Range);
        let mut members = Vec::new();
        let mut by_id: BTreeMap<String, NodeId> = BTreeMap::new();
        let mut previous = assignor::Assignment::new();
        let mut partitions: BTreeMap<String, u32> = BTreeMap::new();
        let mut topic_of: BTreeMap<String, NodeId> = BTreeMap::new();
        for m in &group.members {
            let cfg = Self::consumer_config(k, m.consumer);
            let st = self.consumer_ref(m.consumer).expect("a consumer");
            let topics: Vec<String> = st
                .subscribed
                .iter()
                .map(|&t| k.topo.node(t).name.clone())
                .collect();
            for &t in &st.subscribed {
                let name = k.topo.node(t).name.clone();
                let n = self.topic_ref(t).map_or(0, |s| s.partitions.len() as u32);
                partitions.insert(name.clone(), n);
                topic_of.insert(name, t);
            }
            let id = m.member_id.to_string();
            let prev: Vec<(String, u32)> = if protocol.cooperative() {
                &st.owned
            } else {
                &st.last_assigned
            }
            .iter()
            .map(|&(t, p)| (k.topo.node(t).name.clone(), p))
            .collect();
            previous.insert(id.clone(), prev);
            by_id.insert(id.clone(), m.consumer);
            members.push(AMember {
                member_id: id,
                instance_id: cfg.group_instance_id.clone(),
                topics,
            });
        }
        let (assignment, withheld) = match protocol {
            Assignor::Range => (assignor::range(&members, &partitions), Vec::new()),
            Assignor::RoundRobin => (assignor::round_robin(&members, &partitions), Vec::new()),
            Assignor::Sticky => (
                assignor::sticky(&members, &partitions, &previous),
                Vec::new(),
            ),
            Assignor::CooperativeSticky => {
                assignor::cooperative_sticky(&members, &partitions, &previous)
            }
        };
        debug_assert_eq!(
            by_id
                .values()
                .collect::<std::collections::BTreeSet<_>>()
                .len(),
            by_id.len(),
            "one member per consumer in a generation"
        );
        let resolve = |(t, p): &(String, u32)| (topic_of[t], *p);
        let pending: BTreeMap<NodeId, Vec<Tp>> = assignment
            .iter()
            .map(|(id, ps)| (by_id[id], ps.iter().map(resolve).collect()))
            .collect();
        let group = &mut self.groups.list[g as usize];
        group.pending = pending;
        group.withheld = withheld.iter().map(resolve).collect();
    }

    /// SyncGroup reaches the coordinator. The leader's completes the rebalance: the group is
    /// `Stable` and every member that asked gets its assignment.
    fn coord_sync(&mut self, k: &mut Kernel, c: NodeId, inc: u32) {
        let g = self.consumer(c).group;
        let Some(i) = self.member_index(g, c, inc) else {
            self.rejoin_later(k, c);
            return;
        };
        let generation = self.consumer(c).generation;
        let group = &mut self.groups.list[g as usize];
        if Some(group.generation) != generation || group.state == GroupState::PreparingRebalance {
            // ILLEGAL_GENERATION or REBALANCE_IN_PROGRESS: join again.
            self.rejoin_later(k, c);
            return;
        }
        if group.state == GroupState::Stable {
            self.send_client(k, c, Client::SyncResponse);
            return;
        }
        group.members[i].awaiting_sync = true;
        if group.leader != Some(c) {
            return;
        }
        group.assignment = std::mem::take(&mut group.pending);
        group.state = GroupState::Stable;
        let protocol = group.protocol.unwrap_or(Assignor::Range);
        let completed = Completed {
            via: c,
            generation: group.generation,
            protocol,
            leader: c,
            assignment: group
                .members
                .iter()
                .map(|m| {
                    (
                        m.member_id.clone(),
                        m.consumer,
                        group
                            .assignment
                            .get(&m.consumer)
                            .cloned()
                            .unwrap_or_default(),
                    )
                })
                .collect(),
            withheld: std::mem::take(&mut group.withheld),
        };
        let waiting: Vec<NodeId> = group
            .members
            .iter_mut()
            .filter(|m| m.awaiting_sync)
            .map(|m| {
                m.awaiting_sync = false;
                m.consumer
            })
            .collect();
        emit(k, KafkaEvent::RebalanceCompleted(Box::new(completed)));
        for m in waiting {
            self.send_client(k, m, Client::SyncResponse);
        }
    }

    /// The member learns it must join again (its sync or commit failed).
    fn rejoin_later(&mut self, k: &mut Kernel, c: NodeId) {
        if !k.up(c) {
            return;
        }
        let st = self.consumer(c);
        st.joining = super::model::Joining::Unjoined;
        st.generation = None;
        if !st.fetching && st.work.is_empty() {
            self.poll(k, c);
        }
    }

    /// LeaveGroup reaches the coordinator.
    fn coord_leave(&mut self, k: &mut Kernel, c: NodeId, inc: u32) {
        let g = self.consumer(c).group;
        let reason = self.consumer(c).leave_reason;
        if self.member_index(g, c, inc).is_none() {
            return;
        }
        self.remove_member(k, g, c, inc, reason);
    }

    /// A member leaves (or is removed): the group rebalances without it.
    fn remove_member(&mut self, k: &mut Kernel, g: u32, c: NodeId, inc: u32, reason: Removal) {
        let group = &mut self.groups.list[g as usize];
        group
            .members
            .retain(|m| !(m.consumer == c && m.incarnation == inc));
        if group.leader == Some(c) && !group.members.iter().any(|m| m.consumer == c) {
            group.leader = group.members.first().map(|m| m.consumer);
        }
        emit(
            k,
            KafkaEvent::MemberRemoved {
                consumer: c,
                reason,
            },
        );
        let why = match reason {
            Removal::SessionTimeout => RebalanceReason::SessionTimeout(c),
            Removal::LeaveGroup | Removal::PollTimeout | Removal::RebalanceTimeout => {
                RebalanceReason::Left(c)
            }
        };
        let group = &mut self.groups.list[g as usize];
        match group.state {
            GroupState::Empty => {}
            GroupState::PreparingRebalance => {
                if group.members.is_empty() {
                    group.initial = None;
                    self.complete_join(k, g);
                } else {
                    self.maybe_complete_join(k, g);
                }
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                self.prepare_rebalance(k, g, c, why);
            }
        }
    }

    /// A member's session: expired if no heartbeat came for `session.timeout.ms` (a member
    /// waiting for its JoinGroup or SyncGroup response counts as alive).
    fn session_check(&mut self, k: &mut Kernel, c: NodeId, inc: u32) {
        let g = self.consumer(c).group;
        let Some(i) = self.member_index(g, c, inc) else {
            return;
        };
        let timeout = SimDuration::from_ms(Self::consumer_config(k, c).session_timeout_ms);
        let group = &mut self.groups.list[g as usize];
        let m = &mut group.members[i];
        let waiting = (group.state == GroupState::PreparingRebalance && m.joined)
            || group.state == GroupState::CompletingRebalance;
        if waiting {
            m.last_heartbeat = k.now;
        }
        let deadline = m.last_heartbeat + timeout;
        if k.now < deadline {
            schedule(k, deadline, Due::Coord(c, inc, Coord::Session));
            return;
        }
        self.remove_member(k, g, c, inc, Removal::SessionTimeout);
    }

    /// OffsetCommit reaches the coordinator: stored if its generation is the group's and the
    /// member is known, refused otherwise (`CommitFailedException`).
    fn coord_commit(&mut self, k: &mut Kernel, c: NodeId, inc: u32) {
        if self.consumer(c).incarnation != inc {
            return;
        }
        let Some((generation, offsets)) = self.consumer(c).commits.pop_front() else {
            return;
        };
        let g = self.consumer(c).group;
        let known = self.member_index(g, c, inc).is_some();
        let group = &mut self.groups.list[g as usize];
        let error = match generation {
            _ if !known => Some(CommitError::UnknownMember),
            None => Some(CommitError::UnknownMember),
            Some(gen) if gen != group.generation => Some(CommitError::IllegalGeneration),
            Some(_) if group.state == GroupState::CompletingRebalance => {
                Some(CommitError::RebalanceInProgress)
            }
            Some(_) => None,
        };
        match error {
            None => {
                let gen = generation.expect("checked");
                for &(tp, offset) in &offsets {
                    group.committed.insert(tp, offset);
                }
                let n = offsets.len() as u64;
                for (tp, offset) in offsets {
                    emit(
                        k,
                        KafkaEvent::Committed {
                            consumer: c,
                            tp,
                            offset,
                            generation: gen,
                        },
                    );
                }
                self.consumer(c).stats.commits += n;
            }
            Some(error) => {
                emit(
                    k,
                    KafkaEvent::CommitFailed {
                        consumer: c,
                        generation: generation.unwrap_or(0),
                        error,
                    },
                );
                let st = self.consumer(c);
                st.stats.commits_failed += 1;
                if error != CommitError::RebalanceInProgress && st.generation == generation {
                    // The member must rejoin, as a new member if it was removed.
                    self.rejoin_later(k, c);
                }
            }
        }
    }

    /// A topic's partition count changed: every group with a member reading it rebalances.
    pub(crate) fn partitions_changed(&mut self, k: &mut Kernel, topic: NodeId) {
        for g in 0..self.groups.list.len() as u32 {
            let reading = self.groups.list[g as usize].members.iter().find(|m| {
                self.consumer_ref(m.consumer)
                    .is_some_and(|s| s.subscribed.contains(&topic))
            });
            let Some(via) = reading.map(|m| m.consumer) else {
                continue;
            };
            let state = self.groups.list[g as usize].state;
            if matches!(state, GroupState::Stable | GroupState::CompletingRebalance) {
                self.prepare_rebalance(k, g, via, RebalanceReason::PartitionsChanged(topic));
            }
        }
    }
}
