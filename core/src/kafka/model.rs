//! The Kafka model's state: topics' partition logs, producers' accumulators and requests in
//! flight, consumers' positions and work, and the groups' coordinator; its agenda entries,
//! where its messages rest, its self-checks and its metrics. The behaviour is in `producer`,
//! `topic`, `consumer` and `group`.

use super::event::{KafkaEvent, Tp};
use super::kind::{ConsumerConfig, KafkaKind, ProducerConfig, TopicConfig};
use super::log::{KeyId, PartitionLog};
use crate::event::EventKind;
use crate::http::slab::{Key, Slab};
use crate::id::{EdgeId, MessageId, NodeId};
use crate::kernel::Kernel;
use crate::ledger::Fate;
use crate::message::{Envelope, Headers};
use crate::model::{ModelDue, Place, PlaceDetail as ModelPlace};
use crate::scenario::NodeKind;
use crate::time::SimTime;
use rustc_hash::FxHashMap;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

/// The most partitions a topic may have here.
pub const MAX_PARTITIONS: u32 = 1_000;

/// A timer of the model. Each names its node with an epoch (or its batch by a generational
/// key), so a timer that outlived what it was for finds it changed and does nothing.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Due {
    /// A producer's next rate-driven record.
    Emit(NodeId, u32),
    /// A producer's batch for a partition has lingered `linger.ms`.
    Linger(NodeId, u32),
    /// A produce request reaches the broker.
    Arrive(Key),
    /// The broker's response reaches the producer.
    Response(Key),
    /// `request.timeout.ms` passed for a request (checked against the batch's own deadline).
    Timeout(Key),
    /// `retry.backoff.ms` passed: send the batch again.
    Resend(Key),
    /// A topic's retention check (`log.retention.check.interval.ms`).
    Retention(NodeId, u32),
    /// A topic's log cleaner wakes (`log.cleaner.backoff.ms`).
    Clean(NodeId, u32),
    /// Something reaches a consumer, or its own timer.
    Client(NodeId, u32, Client),
    /// Another model answered a step of a consumer's handler (for its `run`th record): a
    /// store's write, a call.
    StepDone(NodeId, u32, crate::model::StepAnswer),
    /// A consumer's request reaches the group coordinator (with the member's incarnation).
    Coord(NodeId, u32, Coord),
    /// A group's timer (group index, rebalance round).
    Group(u32, u32, GroupTimer),
}

/// What reaches a consumer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Client {
    /// The coordinator's JoinGroup response.
    JoinResponse,
    /// The coordinator's SyncGroup response: the assignment.
    SyncResponse,
    /// Its heartbeat thread's next beat.
    Heartbeat,
    /// `max.poll.interval.ms` may have passed since its last poll.
    PollTimeout,
    /// A fetch response.
    FetchResponse,
    /// A long poll's `fetch.max.wait.ms` passed with nothing to return.
    FetchWait,
    /// The application finished the record it was processing.
    Processed,
}

/// What reaches the coordinator from a member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Coord {
    /// JoinGroup.
    Join,
    /// SyncGroup (the leader's carries the assignment).
    Sync,
    /// LeaveGroup.
    Leave,
    /// OffsetCommit (the oldest of the member's commits in flight).
    Commit,
    /// The member's session may have expired.
    Session,
}

/// A group's own timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GroupTimer {
    /// `group.initial.rebalance.delay.ms` passed.
    InitialDelay,
    /// The rebalance timeout passed: members that have not rejoined are removed.
    RebalanceTimeout,
}

/// A record waiting in a producer's accumulator or in a batch: what a retry needs to send it
/// again.
#[derive(Clone, Debug)]
pub(crate) struct Pending {
    pub msg: MessageId,
    pub correlation: MessageId,
    pub key: Option<KeyId>,
    pub tombstone: bool,
    pub bytes: u32,
    pub timestamp: SimTime,
    pub headers: Headers,
    pub value_bytes: u32,
    pub partitioner: super::event::Partitioner,
}

/// A batch of records for one partition: open in the accumulator, then a produce request.
#[derive(Clone, Debug)]
pub(crate) struct Batch {
    pub producer: NodeId,
    pub topic: NodeId,
    pub partition: u32,
    /// The producer's incarnation that made it.
    pub epoch: u32,
    /// Its records.
    pub records: Vec<Pending>,
    /// The messages, while they are with the producer or on the wire, in the order of
    /// `records` (held inline: they move into the log once, and a box each would cost an
    /// allocation per record).
    pub msgs: Vec<Envelope>,
    pub bytes: u32,
    pub created: SimTime,
    /// Closed to new records (full, lingered, or sent).
    pub closed: bool,
    /// On the wire to the broker.
    pub in_flight: bool,
    /// Holds one of the producer's request slots (sent, response awaited).
    pub counted: bool,
    /// The broker's answer to an attempt: which attempt, and what it did.
    pub answered: Option<(u32, super::producer::Outcome)>,
    pub attempt: u32,
    pub edge: Option<EdgeId>,
    /// The idempotent producer id and the batch's first sequence number.
    pub pid: u64,
    pub first_seq: u32,
    /// When `request.timeout.ms` passes for the current attempt.
    pub timeout_at: Option<SimTime>,
    /// When the current attempt reaches the broker.
    pub arrive: SimTime,
}

/// A producer's state.
#[derive(Clone, Debug, Default)]
pub(crate) struct ProducerState {
    /// Bumped by a crash and a restart: older timers and batches are stale.
    pub epoch: u32,
    /// Bumped when the rate schedule starts again.
    pub emit_epoch: u32,
    pub emitted: u64,
    /// The next key of a `Cycle`.
    pub cursor: u64,
    /// Its `Cycle` keys, interned.
    pub cycle: Vec<KeyId>,
    /// Its `Random` keys, interned as first drawn.
    pub random: Vec<Option<KeyId>>,
    /// The producer id (`enable.idempotence`): new for every incarnation.
    pub pid: u64,
    /// Each partition's next sequence number.
    pub seq: BTreeMap<(NodeId, u32), u32>,
    /// The sticky partition for null keys, and the bytes produced to it.
    pub sticky: Option<(u32, u64)>,
    /// Open batches, oldest first.
    pub open: Vec<Key>,
    /// Requests in flight.
    pub in_flight: u32,
    /// When the last request on its connection arrives (requests keep their order).
    pub link: SimTime,
    /// And the last response.
    pub back: SimTime,
    /// Responses still to lose (the `lose_ack` command), one per request that reaches the
    /// broker next.
    pub lose_next: u32,
    /// A response was lost: the connection is broken (responses keep their order, so none
    /// after it gets through either) until a request times out and the client reconnects.
    pub broken: bool,
    pub stats: ProducerStats,
}

/// A producer's counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ProducerStats {
    /// Records made.
    pub records: u64,
    /// Produce requests sent (retries included).
    pub requests: u64,
    /// Batches acknowledged.
    pub acked: u64,
    /// Retries.
    pub retries: u64,
    /// Batches that failed for good.
    pub failed: u64,
    /// Responses lost (the fault).
    pub acks_lost: u64,
    /// Batches refused by the broker.
    pub refused: u64,
}

/// A topic's state.
#[derive(Clone, Debug, Default)]
pub(crate) struct TopicState {
    pub partitions: Vec<PartitionLog>,
    /// Bumped when its check timers must start again.
    pub epoch: u32,
    /// Consumers waiting in a long poll for records of this topic.
    pub waiting: BTreeSet<NodeId>,
}

/// A consumer's join state, as the client sees it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Joining {
    /// Not in a group (no subscription, stopped, or down).
    #[default]
    Unjoined,
    /// JoinGroup sent; waiting for the response.
    Joining,
    /// SyncGroup sent; waiting for the assignment.
    Syncing,
    /// A member of the current generation.
    Joined,
}

/// A consumer's state.
#[derive(Clone, Debug, Default)]
pub(crate) struct ConsumerState {
    /// Bumped by a crash, a restart and a removal.
    pub epoch: u32,
    /// Incarnations: a restart gets a new `member.id`.
    pub incarnation: u32,
    pub member_id: Arc<str>,
    /// Its group's index.
    pub group: u32,
    pub joining: Joining,
    /// The generation it believes it is in.
    pub generation: Option<u32>,
    /// The coordinator asked it to rejoin (a rebalance is in progress).
    pub rejoin: bool,
    /// Its assignment arrived while it was processing: it takes it at its next poll.
    pub sync_ready: bool,
    /// It left after `max.poll.interval.ms` (it rejoins on its next poll).
    pub left: bool,
    /// It stopped for good (`NoOffsetForPartitionException`, an inconsistent protocol).
    pub stopped: bool,
    /// The application is stalled (`pause`).
    pub paused: bool,
    pub owned: Vec<Tp>,
    /// The generation whose assignment gave it what it owns.
    pub owned_generation: Option<u32>,
    /// Positions: the next offset to fetch.
    pub positions: BTreeMap<Tp, u64>,
    /// Processed but not yet committed (manual commit): the next offset per partition.
    pub done: BTreeMap<Tp, u64>,
    pub done_since_commit: u32,
    /// A fetch is in flight (or waiting at the broker until `wait_until`).
    pub fetching: bool,
    pub wait_until: Option<SimTime>,
    /// Records returned by the last poll, still to process.
    pub work: VecDeque<(Tp, u64, MessageId)>,
    pub process_at: Option<SimTime>,
    /// Records whose processing began (the handler's answers name theirs).
    pub run: u32,
    /// The handler's next step for the record being processed.
    pub step: u16,
    pub last_poll: SimTime,
    /// When its `max.poll.interval.ms` timer fires, if it runs.
    pub poll_timer: Option<SimTime>,
    pub next_auto_commit: SimTime,
    /// Why it sends its LeaveGroup.
    pub leave_reason: super::event::Removal,
    /// The topics it joined with.
    pub subscribed: Vec<NodeId>,
    /// Its last assignment (what the sticky assignors keep).
    pub last_assigned: Vec<Tp>,
    /// Which partition the next fetch starts from.
    pub rr: usize,
    /// Commits in flight to the coordinator: generation and offsets.
    pub commits: VecDeque<Commit>,
    /// Requests to the coordinator keep their order, and so do its responses.
    pub link: SimTime,
    pub back: SimTime,
    pub stats: ConsumerStats,
}

/// A commit in flight: the generation it carries (`None`: the member's generation was reset)
/// and the offsets.
pub(crate) type Commit = (Option<u32>, Vec<(Tp, u64)>);

/// A consumer's counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ConsumerStats {
    /// Records fetched.
    pub fetched: u64,
    /// Records processed.
    pub processed: u64,
    /// Offsets committed (one per partition per commit).
    pub commits: u64,
    /// Commits refused.
    pub commits_failed: u64,
    /// Rebalances it took part in.
    pub rebalances: u64,
}

/// A consumer group's state at the coordinator (`ClassicGroupState`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum GroupState {
    /// No members.
    #[default]
    Empty,
    /// Waiting for members to (re)join.
    PreparingRebalance,
    /// Joined; waiting for the leader's assignment.
    CompletingRebalance,
    /// Every member has its assignment.
    Stable,
}

impl GroupState {
    /// Kafka's name.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
        }
    }
}

/// A member as the coordinator knows it.
#[derive(Clone, Debug)]
pub(crate) struct Member {
    pub consumer: NodeId,
    pub incarnation: u32,
    pub member_id: Arc<str>,
    /// Rejoined in the current round.
    pub joined: bool,
    /// Its SyncGroup arrived before the leader's.
    pub awaiting_sync: bool,
    /// The generation its JoinGroup response carries.
    pub generation: u32,
    pub last_heartbeat: SimTime,
}

/// A consumer group at the coordinator.
#[derive(Clone, Debug, Default)]
pub(crate) struct Group {
    pub name: Arc<str>,
    pub state: GroupState,
    pub generation: u32,
    pub protocol: Option<super::kind::Assignor>,
    pub leader: Option<NodeId>,
    /// In the order they joined.
    pub members: Vec<Member>,
    /// Committed offsets: the next offset to read.
    pub committed: BTreeMap<Tp, u64>,
    /// The current generation's assignment, by consumer.
    pub assignment: BTreeMap<NodeId, Vec<Tp>>,
    /// The leader's assignment, computed for the generation being completed.
    pub pending: BTreeMap<NodeId, Vec<Tp>>,
    /// Partitions withheld by the pending cooperative assignment.
    pub withheld: Vec<Tp>,
    /// Bumped by each rebalance: older group timers are stale.
    pub round: u32,
    /// In the initial delay of a new group's first rebalance: the time it may still add.
    pub initial: Option<u64>,
    pub new_member_added: bool,
}

/// Every consumer group, by name and by index.
#[derive(Clone, Debug, Default)]
pub(crate) struct Groups {
    pub list: Vec<Group>,
    pub by_name: BTreeMap<Arc<str>, u32>,
}

/// A node's state in the model.
#[derive(Clone, Debug, Default)]
pub(crate) enum NodeState {
    /// Not one of this model's nodes.
    #[default]
    None,
    Topic(Box<TopicState>),
    Producer(Box<ProducerState>),
    Consumer(Box<ConsumerState>),
}

/// The Kafka model.
#[derive(Clone, Debug, Default)]
pub(crate) struct KafkaModel {
    pub nodes: Vec<NodeState>,
    pub groups: Groups,
    pub batches: Slab<Batch>,
    /// Interned keys.
    pub keys: Vec<Arc<str>>,
    pub key_ids: FxHashMap<Arc<str>, KeyId>,
    pub next_pid: u64,
}

/// Where a message of this model rests.
#[derive(Clone, Copy, Debug)]
pub(crate) enum PlaceDetail {
    /// In a producer's accumulator.
    Accumulator {
        /// The producer.
        producer: NodeId,
        /// The record it is.
        record: RecordAt,
    },
    /// In a produce request on the wire.
    Request {
        /// The edge.
        edge: Option<EdgeId>,
        /// When it reaches the broker.
        arrive: SimTime,
        /// The record it is.
        record: RecordAt,
    },
    /// In a partition's log.
    Log {
        /// The record it is, at its offset.
        record: RecordAt,
    },
}

/// The record a message is: its own fields, which the envelope does not carry.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RecordAt {
    /// Its partition (chosen when it was produced).
    pub tp: Tp,
    /// Its offset, once in the log.
    pub offset: Option<u64>,
    /// Its key.
    pub key: Option<KeyId>,
    /// A tombstone.
    pub tombstone: bool,
    /// Its timestamp (`CreateTime`).
    pub timestamp: SimTime,
}

pub(crate) fn schedule(k: &mut Kernel, at: SimTime, due: Due) {
    k.schedule(at, ModelDue::Kafka(due));
}

pub(crate) fn emit(k: &mut Kernel, e: KafkaEvent) {
    k.emit(EventKind::Kafka(e));
}

impl KafkaModel {
    pub(crate) fn kind(k: &Kernel, node: NodeId) -> Option<&KafkaKind> {
        match &k.topo.node(node).kind {
            NodeKind::Kafka(kk) => Some(kk),
            NodeKind::Producer(_)
            | NodeKind::Relay(_)
            | NodeKind::Sink(_)
            | NodeKind::Amqp(_)
            | NodeKind::Http(_)
            | NodeKind::Bullmq(_)
            | NodeKind::Data(_) => None,
        }
    }

    pub(crate) fn topic_config(k: &Kernel, node: NodeId) -> &TopicConfig {
        match Self::kind(k, node) {
            Some(KafkaKind::Topic(c)) => c,
            Some(KafkaKind::Producer(_) | KafkaKind::Consumer(_)) | None => {
                unreachable!("a topic")
            }
        }
    }

    pub(crate) fn producer_config(k: &Kernel, node: NodeId) -> &ProducerConfig {
        match Self::kind(k, node) {
            Some(KafkaKind::Producer(c)) => c,
            Some(KafkaKind::Topic(_) | KafkaKind::Consumer(_)) | None => {
                unreachable!("a producer")
            }
        }
    }

    pub(crate) fn consumer_config(k: &Kernel, node: NodeId) -> &ConsumerConfig {
        match Self::kind(k, node) {
            Some(KafkaKind::Consumer(c)) => c,
            Some(KafkaKind::Topic(_) | KafkaKind::Producer(_)) | None => {
                unreachable!("a consumer")
            }
        }
    }

    pub(crate) fn topic(&mut self, node: NodeId) -> Option<&mut TopicState> {
        match self.nodes.get_mut(node.index()) {
            Some(NodeState::Topic(t)) => Some(t),
            _ => None,
        }
    }

    pub(crate) fn topic_ref(&self, node: NodeId) -> Option<&TopicState> {
        match self.nodes.get(node.index()) {
            Some(NodeState::Topic(t)) => Some(t),
            _ => None,
        }
    }

    /// A key's text.
    pub(crate) fn key_text(&self, key: KeyId) -> &str {
        &self.keys[key.0 as usize]
    }

    pub(crate) fn producer(&mut self, node: NodeId) -> &mut ProducerState {
        match &mut self.nodes[node.index()] {
            NodeState::Producer(p) => p,
            NodeState::None | NodeState::Topic(_) | NodeState::Consumer(_) => {
                unreachable!("a producer")
            }
        }
    }

    pub(crate) fn consumer(&mut self, node: NodeId) -> &mut ConsumerState {
        match &mut self.nodes[node.index()] {
            NodeState::Consumer(c) => c,
            NodeState::None | NodeState::Topic(_) | NodeState::Producer(_) => {
                unreachable!("a consumer")
            }
        }
    }

    pub(crate) fn consumer_ref(&self, node: NodeId) -> Option<&ConsumerState> {
        match self.nodes.get(node.index()) {
            Some(NodeState::Consumer(c)) => Some(c),
            _ => None,
        }
    }

    /// The key's id, interning it.
    pub(crate) fn intern(&mut self, key: &str) -> KeyId {
        if let Some(&id) = self.key_ids.get(key) {
            return id;
        }
        let id = KeyId(self.keys.len() as u32);
        let s: Arc<str> = Arc::from(key);
        self.keys.push(s.clone());
        self.key_ids.insert(s, id);
        id
    }

    /// A node was added (or the run starts with it).
    pub fn node_added(&mut self, k: &mut Kernel, node: NodeId) {
        let i = node.index();
        if self.nodes.len() <= i {
            self.nodes.resize_with(i + 1, NodeState::default);
        }
        let Some(kind) = Self::kind(k, node).cloned() else {
            return;
        };
        match kind {
            KafkaKind::Topic(c) => {
                self.nodes[i] = NodeState::Topic(Box::new(TopicState {
                    partitions: (0..c.partitions).map(|_| PartitionLog::new()).collect(),
                    epoch: 0,
                    waiting: BTreeSet::new(),
                }));
                self.schedule_topic_checks(k, node);
            }
            KafkaKind::Producer(_) => {
                self.nodes[i] = NodeState::Producer(Box::default());
                self.producer_started(k, node);
            }
            KafkaKind::Consumer(c) => {
                let group = self.group_index(&c.group_id);
                self.nodes[i] = NodeState::Consumer(Box::new(ConsumerState {
                    group,
                    member_id: Arc::from(k.topo.node(node).name.as_str()),
                    incarnation: 1,
                    ..ConsumerState::default()
                }));
                self.consumer_started(k, node);
            }
        }
    }

    /// The index of the group named `name`, creating it.
    pub(crate) fn group_index(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.groups.by_name.get(name) {
            return i;
        }
        let i = self.groups.list.len() as u32;
        let name: Arc<str> = Arc::from(name);
        self.groups.list.push(Group {
            name: name.clone(),
            ..Group::default()
        });
        self.groups.by_name.insert(name, i);
        i
    }

    /// An edge was added (or the run starts with it): a subscription changes the consumer's
    /// metadata, so it rejoins its group.
    pub fn edge_added(&mut self, k: &mut Kernel, edge: EdgeId) {
        let e = k.topo.edge(edge);
        if e.kind == crate::model::EdgeKind::Kafka(super::EdgeKind::Subscribe) {
            let consumer = e.to;
            self.subscription_changed(k, consumer);
        }
    }

    /// An edge is about to be removed.
    pub fn edge_removing(&mut self, k: &mut Kernel, edge: EdgeId) {
        let e = k.topo.edge(edge);
        if e.kind == crate::model::EdgeKind::Kafka(super::EdgeKind::Subscribe) {
            let consumer = e.to;
            // Decided after the removal: the topology still has the edge now.
            let topic = e.from;
            self.unsubscribing(k, consumer, topic);
        }
    }

    /// A timer is due.
    pub fn timer(&mut self, k: &mut Kernel, due: Due) {
        match due {
            Due::Emit(p, epoch) => self.emit_due(k, p, epoch),
            Due::Linger(p, partition) => self.linger_due(k, p, partition),
            Due::Arrive(b) => self.request_arrives(k, b),
            Due::Response(b) => self.response_arrives(k, b),
            Due::Timeout(b) => self.request_timed_out(k, b),
            Due::Resend(b) => self.resend(k, b),
            Due::Retention(t, epoch) => self.retention_due(k, t, epoch),
            Due::Clean(t, epoch) => self.clean_due(k, t, epoch),
            Due::Client(c, epoch, what) => self.client_due(k, c, epoch, what),
            Due::StepDone(c, run, answer) => self.step_done(k, c, run, answer),
            Due::Coord(c, inc, what) => self.coord_due(k, c, inc, what),
            Due::Group(g, round, what) => self.group_due(k, g, round, what),
        }
    }

    /// The node crashes.
    pub fn crash(&mut self, k: &mut Kernel, node: NodeId) {
        if !k.mark_down(node) {
            return;
        }
        let lost = match &self.nodes[node.index()] {
            NodeState::Producer(_) => self.producer_crashed(k, node),
            NodeState::Consumer(_) => {
                self.consumer_crashed(k, node);
                Vec::new()
            }
            // The broker does not crash here: a topic that "crashes" keeps its log.
            NodeState::Topic(_) => Vec::new(),
            NodeState::None => unreachable!("a node of the model"),
        };
        k.emit(EventKind::Crashed {
            node,
            lost: lost.len() as u32,
        });
        for id in lost {
            k.drop_message(id, node, crate::ledger::DropReason::LostInCrash);
        }
    }

    /// The node comes back.
    pub fn restart(&mut self, k: &mut Kernel, node: NodeId) {
        match &self.nodes[node.index()] {
            NodeState::Producer(_) => {
                let p = self.producer(node);
                p.epoch = p.epoch.wrapping_add(1);
                self.producer_started(k, node);
            }
            NodeState::Consumer(_) => self.consumer_restarted(k, node),
            NodeState::Topic(_) => {}
            NodeState::None => unreachable!("a node of the model"),
        }
    }

    /// The node's settings changed in place from `old`.
    pub fn configured(&mut self, k: &mut Kernel, node: NodeId, old: &KafkaKind) {
        match old {
            KafkaKind::Topic(old) => self.topic_configured(k, node, old),
            KafkaKind::Producer(_) => {
                let p = self.producer(node);
                p.emit_epoch = p.emit_epoch.wrapping_add(1);
                // The keys may have changed.
                p.cycle.clear();
                p.random.clear();
                if k.up(node) {
                    self.schedule_emit(k, node, true);
                }
            }
            // The new processing time, commit mode and timeouts apply from now.
            KafkaKind::Consumer(_) => {}
        }
    }

    /// The node is removed.
    pub fn remove(&mut self, k: &mut Kernel, node: NodeId) {
        match &self.nodes[node.index()] {
            NodeState::Producer(_) => self.crash(k, node),
            NodeState::Consumer(_) => self.consumer_removed(k, node),
            NodeState::Topic(_) => self.topic_removed(k, node),
            NodeState::None => unreachable!("a node of the model"),
        }
    }

    /// Every message the model holds, where it rests.
    pub fn places<'a>(&'a self, f: &mut dyn FnMut(Place<'a>)) {
        for (i, n) in self.nodes.iter().enumerate() {
            let NodeState::Topic(t) = n else { continue };
            let node = NodeId(i as u32);
            for (p, log) in t.partitions.iter().enumerate() {
                for r in log.records() {
                    f(Place {
                        msg: &r.msg,
                        fate: Fate::Retained { node },
                        until: None,
                        detail: ModelPlace::Kafka(PlaceDetail::Log {
                            record: RecordAt {
                                tp: (node, p as u32),
                                offset: Some(r.offset),
                                key: r.key,
                                tombstone: r.tombstone,
                                timestamp: r.timestamp,
                            },
                        }),
                    });
                }
            }
        }
        for (_, b) in self.batches.iter() {
            for (i, m) in b.msgs.iter().enumerate() {
                let r = b.records.get(i);
                let record = RecordAt {
                    tp: (b.topic, b.partition),
                    offset: None,
                    key: r.and_then(|r| r.key),
                    tombstone: r.is_some_and(|r| r.tombstone),
                    timestamp: r.map_or(m.created_at, |r| r.timestamp),
                };
                let (fate, detail) = match (b.in_flight, b.edge) {
                    (true, Some(edge)) => (
                        Fate::InTransit { edge },
                        PlaceDetail::Request {
                            edge: Some(edge),
                            arrive: b.arrive,
                            record,
                        },
                    ),
                    (true, None) | (false, _) => (
                        Fate::Held { node: b.producer },
                        PlaceDetail::Accumulator {
                            producer: b.producer,
                            record,
                        },
                    ),
                };
                f(Place {
                    msg: m,
                    fate,
                    until: b.in_flight.then_some(b.arrive),
                    detail: ModelPlace::Kafka(detail),
                });
            }
        }
    }

    /// The model's own invariants: each log's segments count its records and bytes, offsets
    /// rise within the log's bounds; within a group, no partition is owned by two members whose
    /// ownership comes from the same generation's assignment; each producer's in-flight count matches its requests.
    pub fn check_counters(&self, k: &Kernel) -> Result<(), String> {
        for (i, n) in self.nodes.iter().enumerate() {
            match n {
                NodeState::Topic(t) => {
                    let name = &k.topo.node(NodeId(i as u32)).name;
                    for (p, log) in t.partitions.iter().enumerate() {
                        let bytes: u64 = log.records().map(|r| u64::from(r.bytes)).sum();
                        let count = log.records().count();
                        if bytes != log.size() || count != log.len() {
                            return Err(format!(
                                "{name}-{p}: segments count {count} records of {} bytes, the log \
                                 holds {} of {bytes}",
                                log.size(),
                                log.len()
                            ));
                        }
                        let mut last = None;
                        for r in log.records() {
                            if r.offset < log.log_start
                                || r.offset >= log.end
                                || last.is_some_and(|l| r.offset <= l)
                            {
                                return Err(format!(
                                    "{name}-{p}: record at offset {} out of order or outside \
                                     [{}, {})",
                                    r.offset, log.log_start, log.end
                                ));
                            }
                            last = Some(r.offset);
                        }
                    }
                }
                NodeState::Producer(p) => {
                    let node = NodeId(i as u32);
                    let flying = self
                        .batches
                        .iter()
                        .filter(|(_, b)| b.producer == node && b.counted && b.epoch == p.epoch)
                        .count() as u32;
                    if flying != p.in_flight {
                        return Err(format!(
                            "producer {:?} counts {} requests in flight, but {flying} batches are",
                            k.topo.node(node).name,
                            p.in_flight
                        ));
                    }
                }
                NodeState::Consumer(_) | NodeState::None => {}
            }
        }
        let mut owners: BTreeMap<(u32, u32, Tp), NodeId> = BTreeMap::new();
        for (i, n) in self.nodes.iter().enumerate() {
            let NodeState::Consumer(c) = n else { continue };
            let node = NodeId(i as u32);
            let (Some(generation), true) = (c.owned_generation, k.up(node)) else {
                continue;
            };
            for &tp in &c.owned {
                if let Some(other) = owners.insert((c.group, generation, tp), node) {
                    return Err(format!(
                        "{:?} and {:?} both own {}-{} in generation {generation}",
                        k.topo.node(other).name,
                        k.topo.node(node).name,
                        k.topo.node(tp.0).name,
                        tp.1
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A partition's figures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PartitionMetrics {
    /// Its number.
    pub partition: u32,
    /// The log start offset.
    pub log_start: u64,
    /// The log end offset (the high watermark).
    pub end: u64,
    /// Records in the log.
    pub records: u64,
    /// Bytes in the log.
    pub bytes: u64,
    /// Segments.
    pub segments: u32,
    /// The newest records (at most [`TAIL`]), oldest first, for drawing the log.
    pub tail: Vec<RecordMetrics>,
}

/// How many of a partition's newest records its metrics list.
pub const TAIL: usize = 16;

/// A record, as the log view draws it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RecordMetrics {
    /// Its offset.
    pub offset: u64,
    /// Its key (`None`: null).
    pub key: Option<String>,
    /// A tombstone.
    pub tombstone: bool,
}

/// A group's committed offset and lag on one partition, as `kafka-consumer-groups` shows
/// them: `LAG = LOG-END-OFFSET - CURRENT-OFFSET`, none without a commit.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GroupLag {
    /// The group.
    pub group: String,
    /// The partition.
    pub partition: u32,
    /// The committed offset (the next to read).
    pub committed: Option<u64>,
    /// The lag.
    pub lag: Option<u64>,
    /// The consumer that owns it now, if one does.
    pub owner: Option<String>,
    /// That consumer's position on it (the next offset it fetches), once it has one.
    pub position: Option<u64>,
}

/// A topic's metrics.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TopicMetrics {
    /// Each partition.
    pub partitions: Vec<PartitionMetrics>,
    /// Each group reading it, per partition.
    pub groups: Vec<GroupLag>,
}

/// A producer's metrics.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProducerMetrics {
    /// Its counts.
    pub stats: ProducerStats,
    /// Requests in flight.
    pub in_flight: u32,
    /// Records waiting in its accumulator.
    pub accumulated: u32,
    /// Its producer id.
    pub producer_id: u64,
}

/// A consumer's position, commit and lag on one partition it owns.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConsumerPartition {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: u32,
    /// Its position (the next offset it fetches), once it has one.
    pub position: Option<u64>,
    /// Its group's committed offset.
    pub committed: Option<u64>,
    /// The log end offset.
    pub end: u64,
    /// `end - committed` (`kafka-consumer-groups`), none without a commit.
    pub lag: Option<u64>,
}

/// A consumer's metrics.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConsumerMetrics {
    /// Its group.
    pub group: String,
    /// Its `member.id`.
    pub member_id: String,
    /// The group's state at the coordinator.
    pub group_state: GroupState,
    /// The group's generation.
    pub group_generation: u32,
    /// Its own join state.
    pub joining: Joining,
    /// The generation it is in.
    pub generation: Option<u32>,
    /// The group's leader is this consumer.
    pub leader: bool,
    /// It stopped (an exception it did not handle).
    pub stopped: bool,
    /// Its application is paused.
    pub paused: bool,
    /// Its counts.
    pub stats: ConsumerStats,
    /// Records fetched, not yet processed.
    pub backlog: u32,
    /// The partitions it owns.
    pub partitions: Vec<ConsumerPartition>,
}

/// A Kafka node's metrics.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KafkaMetrics {
    /// A topic's.
    Topic(TopicMetrics),
    /// A producer's.
    Producer(ProducerMetrics),
    /// A consumer's.
    Consumer(ConsumerMetrics),
}

impl KafkaModel {
    /// The node's metrics, if it is one of this model's.
    pub fn metrics(&self, k: &Kernel, node: NodeId) -> Option<KafkaMetrics> {
        match self.nodes.get(node.index())? {
            NodeState::None => None,
            NodeState::Topic(t) => {
                let partitions = t
                    .partitions
                    .iter()
                    .enumerate()
                    .map(|(p, log)| PartitionMetrics {
                        partition: p as u32,
                        log_start: log.log_start,
                        end: log.end,
                        records: log.len() as u64,
                        bytes: log.size(),
                        segments: log.segments.len() as u32,
                        tail: log
                            .tail(TAIL)
                            .into_iter()
                            .map(|r| RecordMetrics {
                                offset: r.offset,
                                key: r.key.map(|k| self.keys[k.0 as usize].to_string()),
                                tombstone: r.tombstone,
                            })
                            .collect(),
                    })
                    .collect();
                let mut groups = Vec::new();
                for g in &self.groups.list {
                    let reads = g.committed.keys().any(|tp| tp.0 == node)
                        || g.assignment.values().flatten().any(|tp| tp.0 == node);
                    if !reads {
                        continue;
                    }
                    for (p, log) in t.partitions.iter().enumerate() {
                        let tp = (node, p as u32);
                        let committed = g.committed.get(&tp).copied();
                        let owner = g
                            .assignment
                            .iter()
                            .find(|(_, list)| list.contains(&tp))
                            .map(|(c, _)| *c);
                        let position = owner.and_then(|c| {
                            self.consumer_ref(c)
                                .filter(|st| st.owned.contains(&tp) && k.up(c))
                                .and_then(|st| st.positions.get(&tp).copied())
                        });
                        groups.push(GroupLag {
                            group: g.name.to_string(),
                            partition: p as u32,
                            committed,
                            lag: committed.map(|c| log.end.saturating_sub(c)),
                            owner: owner.map(|c| k.topo.node(c).name.clone()),
                            position,
                        });
                    }
                }
                Some(KafkaMetrics::Topic(TopicMetrics { partitions, groups }))
            }
            NodeState::Producer(p) => {
                let accumulated = p
                    .open
                    .iter()
                    .filter_map(|&b| self.batches.get(b))
                    .map(|b| b.records.len() as u32)
                    .sum();
                Some(KafkaMetrics::Producer(ProducerMetrics {
                    stats: p.stats,
                    in_flight: p.in_flight,
                    accumulated,
                    producer_id: p.pid,
                }))
            }
            NodeState::Consumer(c) => {
                let g = &self.groups.list[c.group as usize];
                let partitions = c
                    .owned
                    .iter()
                    .map(|&tp| {
                        let end = self.log(tp).map_or(0, |l| l.end);
                        let committed = g.committed.get(&tp).copied();
                        ConsumerPartition {
                            topic: k.topo.node(tp.0).name.clone(),
                            partition: tp.1,
                            position: c.positions.get(&tp).copied(),
                            committed,
                            end,
                            lag: committed.map(|o| end.saturating_sub(o)),
                        }
                    })
                    .collect();
                Some(KafkaMetrics::Consumer(ConsumerMetrics {
                    group: g.name.to_string(),
                    member_id: c.member_id.to_string(),
                    group_state: g.state,
                    group_generation: g.generation,
                    joining: c.joining,
                    generation: c.generation,
                    leader: g.leader == Some(node),
                    stopped: c.stopped,
                    paused: c.paused,
                    stats: c.stats,
                    backlog: c.work.len() as u32,
                    partitions,
                }))
            }
        }
    }
}
