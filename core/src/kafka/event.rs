//! The Kafka model's events: what happened to records, batches, consumers and groups. A
//! group is named through one of its consumers (its `group.id`), so events stay small.

use super::kind::Assignor;
use crate::id::{MessageId, NodeId};
use std::sync::Arc;

/// A topic's partition: the topic node and the partition number.
pub type Tp = (NodeId, u32);

/// An offset that is not there (a position a consumer did not have yet).
pub const NO_OFFSET: u64 = u64::MAX;

/// How the partitioner chose a record's partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Partitioner {
    /// The record named its partition (or its producer has a fixed `partition`).
    Explicit,
    /// `toPositive(murmur2(key)) % partitions`.
    Key,
    /// A null key: the sticky partition of the moment.
    Sticky,
}

impl Partitioner {
    /// As trace lines write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Partitioner::Explicit => "explicit",
            Partitioner::Key => "key",
            Partitioner::Sticky => "sticky",
        }
    }
}

/// A record appended to a partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appended {
    /// The partition.
    pub tp: Tp,
    /// Its offset.
    pub offset: u64,
    /// The record's message.
    pub message: MessageId,
    /// Its key (`None`: null).
    pub key: Option<Arc<str>>,
    /// A tombstone (a null value).
    pub tombstone: bool,
    /// Why this partition.
    pub partitioner: Partitioner,
    /// The producer.
    pub producer: NodeId,
}

/// Why a produce request or a record failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProduceError {
    /// `InvalidRecordException`: a record without a key on a compacted topic.
    KeylessOnCompacted,
    /// `OutOfOrderSequenceException`: an idempotent batch's sequence has a gap.
    OutOfOrderSequence,
    /// The topic or partition does not exist (`UNKNOWN_TOPIC_OR_PARTITION`).
    UnknownTopicOrPartition,
    /// The record named a partition the topic does not have.
    InvalidPartition,
    /// The producer has no edge to a topic.
    NoRoute,
    /// `retries` ran out.
    Retries,
    /// `delivery.timeout.ms` passed.
    DeliveryTimeout,
}

impl ProduceError {
    /// Kafka's words for it.
    pub fn as_str(self) -> &'static str {
        match self {
            ProduceError::KeylessOnCompacted => "Compacted topic cannot accept message without key",
            ProduceError::OutOfOrderSequence => "OutOfOrderSequenceException",
            ProduceError::UnknownTopicOrPartition => "UNKNOWN_TOPIC_OR_PARTITION",
            ProduceError::InvalidPartition => "Invalid partition given with record",
            ProduceError::NoRoute => "no route",
            ProduceError::Retries => "retries",
            ProduceError::DeliveryTimeout => "delivery.timeout.ms",
        }
    }
}

/// Why a rebalance began.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RebalanceReason {
    /// `node` joined (or came back).
    Joined(NodeId),
    /// `node` rejoined: its subscription changed, or (cooperative) it revoked partitions.
    Rejoined(NodeId),
    /// `node` sent `LeaveGroup`.
    Left(NodeId),
    /// No heartbeat from `node` for `session.timeout.ms`.
    SessionTimeout(NodeId),
    /// A subscribed topic's partition count changed.
    PartitionsChanged(NodeId),
}

impl RebalanceReason {
    /// As trace lines write it.
    pub fn as_str(self) -> &'static str {
        match self {
            RebalanceReason::Joined(_) => "member_joined",
            RebalanceReason::Rejoined(_) => "member_rejoined",
            RebalanceReason::Left(_) => "member_left",
            RebalanceReason::SessionTimeout(_) => "session_timeout",
            RebalanceReason::PartitionsChanged(_) => "partitions_changed",
        }
    }

    /// The node it is about (a member, or for `partitions_changed` the topic).
    pub fn node(self) -> NodeId {
        match self {
            RebalanceReason::Joined(n)
            | RebalanceReason::Rejoined(n)
            | RebalanceReason::Left(n)
            | RebalanceReason::SessionTimeout(n)
            | RebalanceReason::PartitionsChanged(n) => n,
        }
    }
}

/// Why a member left its group.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Removal {
    /// It sent `LeaveGroup` (closed, or removed from the topology).
    #[default]
    LeaveGroup,
    /// No heartbeat for `session.timeout.ms`.
    SessionTimeout,
    /// It did not rejoin within the rebalance timeout (`max.poll.interval.ms`).
    RebalanceTimeout,
    /// It did not poll within `max.poll.interval.ms`, and left (`LeaveGroup`).
    PollTimeout,
}

impl Removal {
    /// As trace lines write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Removal::LeaveGroup => "leave_group",
            Removal::SessionTimeout => "session_timeout",
            Removal::RebalanceTimeout => "rebalance_timeout",
            Removal::PollTimeout => "max_poll_interval",
        }
    }
}

/// Why a commit failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitError {
    /// The commit carried an older generation (`ILLEGAL_GENERATION`).
    IllegalGeneration,
    /// The group does not know the member (`UNKNOWN_MEMBER_ID`): it was removed.
    UnknownMember,
    /// The group is completing a rebalance (`REBALANCE_IN_PROGRESS`).
    RebalanceInProgress,
}

impl CommitError {
    /// Kafka's error code name.
    pub fn as_str(self) -> &'static str {
        match self {
            CommitError::IllegalGeneration => "ILLEGAL_GENERATION",
            CommitError::UnknownMember => "UNKNOWN_MEMBER_ID",
            CommitError::RebalanceInProgress => "REBALANCE_IN_PROGRESS",
        }
    }
}

/// Why a consumer's position was reset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResetCause {
    /// The group had no committed offset for the partition.
    NoCommittedOffset,
    /// The offset was out of range: below the log start (retention deleted it) or past the
    /// end.
    OutOfRange,
    /// A scripted seek.
    Seek,
}

impl ResetCause {
    /// As trace lines write it.
    pub fn as_str(self) -> &'static str {
        match self {
            ResetCause::NoCommittedOffset => "no_committed_offset",
            ResetCause::OutOfRange => "out_of_range",
            ResetCause::Seek => "seek",
        }
    }
}

/// A completed rebalance: the new generation and who owns what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completed {
    /// A member (names the group).
    pub via: NodeId,
    /// The new generation.
    pub generation: u32,
    /// The assignor chosen by vote.
    pub protocol: Assignor,
    /// The leader.
    pub leader: NodeId,
    /// Each member: its `member.id`, its node, its partitions (for a cooperative round, less
    /// those withheld until their owner revokes them).
    pub assignment: Vec<(Arc<str>, NodeId, Vec<Tp>)>,
    /// Partitions withheld this round (cooperative): they change owner in the next.
    pub withheld: Vec<Tp>,
}

/// Why a Kafka consumer's handler step failed, for which record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepFailure {
    /// The consumer.
    pub consumer: NodeId,
    /// The partition.
    pub tp: Tp,
    /// The record's offset.
    pub offset: u64,
    /// The record's message.
    pub message: MessageId,
    /// Why, in words.
    pub reason: String,
}

/// Something the Kafka model did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KafkaEvent {
    /// A producer sent a batch to a partition (a retry follows its `Retrying`).
    BatchSent {
        /// The producer.
        producer: NodeId,
        /// The partition.
        tp: Tp,
        /// How many records.
        records: u32,
        /// Its time on the wire, in microseconds: it reaches the broker then.
        travel_us: u32,
        /// The message of its first record.
        first: MessageId,
    },
    /// A record was appended.
    Appended(Box<Appended>),
    /// An idempotent producer's retried batch was already in the log: acknowledged, not
    /// appended again.
    Deduplicated {
        /// The producer.
        producer: NodeId,
        /// The partition.
        tp: Tp,
        /// Where the batch already is.
        base_offset: u64,
        /// How many records.
        records: u32,
    },
    /// The broker refused a batch (`InvalidRecordException`: a record without a key on a
    /// compacted topic; `OutOfOrderSequenceException`).
    Refused {
        /// The producer.
        producer: NodeId,
        /// The partition.
        tp: Tp,
        /// How many records.
        records: u32,
        /// Kafka's reason.
        reason: ProduceError,
    },
    /// The producer got the broker's acknowledgement.
    Acked {
        /// The producer.
        producer: NodeId,
        /// The partition.
        tp: Tp,
        /// The batch's first offset.
        base_offset: u64,
        /// How many records.
        records: u32,
    },
    /// The broker's response to a produce request was lost (the `ack_loss` fault).
    AckLost {
        /// The producer.
        producer: NodeId,
        /// The partition.
        tp: Tp,
        /// How many records.
        records: u32,
    },
    /// A batch is sent again after `request.timeout.ms` passed with no response.
    Retrying {
        /// The producer.
        producer: NodeId,
        /// The partition.
        tp: Tp,
        /// The attempt about to be made.
        attempt: u32,
    },
    /// A batch failed for good: `delivery.timeout.ms` passed or `retries` ran out. Its records
    /// may be in the log all the same (a lost acknowledgement).
    ProduceFailed {
        /// The producer.
        producer: NodeId,
        /// The partition.
        tp: Tp,
        /// How many records.
        records: u32,
        /// Why.
        reason: ProduceError,
    },
    /// A consumer's fetch returned records of a partition: offsets `from` to `to`, inclusive
    /// (compaction may have removed some between).
    Fetched {
        /// The consumer.
        consumer: NodeId,
        /// The partition.
        tp: Tp,
        /// The first offset.
        from: u64,
        /// The last offset less the first.
        span: u32,
        /// How many records.
        records: u32,
    },
    /// A consumer's application finished a record.
    Processed {
        /// The consumer.
        consumer: NodeId,
        /// The partition.
        tp: Tp,
        /// The record's offset.
        offset: u64,
        /// The record's message.
        message: MessageId,
    },
    /// A step of the consumer's handler could not be carried out for a record: the handler
    /// throws, the application logs it and goes on, and the record counts as processed.
    StepFailed(Box<StepFailure>),
    /// The group stored a committed offset (the next offset to read).
    Committed {
        /// The committing consumer (names the group).
        consumer: NodeId,
        /// The partition.
        tp: Tp,
        /// The offset.
        offset: u64,
        /// The generation the commit carried.
        generation: u32,
    },
    /// The group refused a consumer's commit (`CommitFailedException`).
    CommitFailed {
        /// The consumer.
        consumer: NodeId,
        /// The generation it carried.
        generation: u32,
        /// Why.
        error: CommitError,
    },
    /// A group began a rebalance (`PreparingRebalance`).
    RebalanceStarted {
        /// A member (names the group).
        via: NodeId,
        /// The generation being left.
        generation: u32,
        /// Why.
        reason: RebalanceReason,
    },
    /// A group completed a rebalance (`Stable`): the leader's assignment reached it.
    RebalanceCompleted(Box<Completed>),
    /// A member left a group, or was removed from it.
    MemberRemoved {
        /// The consumer.
        consumer: NodeId,
        /// Why.
        reason: Removal,
    },
    /// The coordinator refused a member's JoinGroup (`INCONSISTENT_GROUP_PROTOCOL`: it shares
    /// no assignor with the group); the consumer's poll throws, and it stops.
    JoinFailed {
        /// The consumer.
        consumer: NodeId,
    },
    /// A consumer gave up partitions (before an eager rebalance, all of them).
    Revoked {
        /// The consumer.
        consumer: NodeId,
        /// The partitions.
        partitions: Box<[Tp]>,
    },
    /// A consumer received partitions.
    Assigned {
        /// The consumer.
        consumer: NodeId,
        /// The generation.
        generation: u32,
        /// The partitions it gained.
        partitions: Box<[Tp]>,
    },
    /// A consumer's position on a partition was reset (`auto.offset.reset`, or a seek).
    OffsetReset {
        /// The consumer.
        consumer: NodeId,
        /// The partition.
        tp: Tp,
        /// The offset it had ([`NO_OFFSET`]: none).
        from: u64,
        /// The new position.
        to: u64,
        /// Why.
        cause: ResetCause,
    },
    /// `auto.offset.reset=none` and no valid offset: the consumer's poll threw
    /// `NoOffsetForPartitionException`, and it stopped.
    NoOffset {
        /// The consumer.
        consumer: NodeId,
        /// The partition.
        tp: Tp,
    },
    /// A partition rolled a new active segment.
    SegmentRolled {
        /// The partition.
        tp: Tp,
        /// The new segment's base offset.
        base: u64,
    },
    /// Retention deleted a segment.
    SegmentDeleted {
        /// The partition.
        tp: Tp,
        /// Its base offset.
        base: u64,
        /// How many records went with it.
        records: u32,
        /// The new log start offset.
        log_start: u64,
        /// `retention.ms` or `retention.bytes`.
        cause: super::log::RetentionCause,
    },
    /// The cleaner compacted a partition's range `[from, to)`.
    Compacted {
        /// The partition.
        tp: Tp,
        /// The start of the cleaned range.
        from: u64,
        /// Its end.
        to: u64,
        /// How many records it removed.
        removed: u32,
    },
}

impl KafkaEvent {
    /// The event's name as written in traces.
    pub fn name(&self) -> &'static str {
        match self {
            KafkaEvent::BatchSent { .. } => "batch_sent",
            KafkaEvent::Appended(_) => "appended",
            KafkaEvent::Deduplicated { .. } => "deduplicated",
            KafkaEvent::Refused { .. } => "produce_refused",
            KafkaEvent::Acked { .. } => "acked",
            KafkaEvent::AckLost { .. } => "ack_lost",
            KafkaEvent::Retrying { .. } => "produce_retrying",
            KafkaEvent::ProduceFailed { .. } => "produce_failed",
            KafkaEvent::Fetched { .. } => "fetched",
            KafkaEvent::Processed { .. } => "processed",
            KafkaEvent::StepFailed(_) => "step_failed",
            KafkaEvent::Committed { .. } => "committed",
            KafkaEvent::CommitFailed { .. } => "commit_failed",
            KafkaEvent::RebalanceStarted { .. } => "rebalance_started",
            KafkaEvent::RebalanceCompleted(_) => "rebalance_completed",
            KafkaEvent::MemberRemoved { .. } => "member_removed",
            KafkaEvent::JoinFailed { .. } => "join_failed",
            KafkaEvent::Revoked { .. } => "partitions_revoked",
            KafkaEvent::Assigned { .. } => "partitions_assigned",
            KafkaEvent::OffsetReset { .. } => "offset_reset",
            KafkaEvent::NoOffset { .. } => "no_offset",
            KafkaEvent::SegmentRolled { .. } => "segment_rolled",
            KafkaEvent::SegmentDeleted { .. } => "segment_deleted",
            KafkaEvent::Compacted { .. } => "compacted",
        }
    }

    /// The message the event is about, if any.
    pub fn message(&self) -> Option<MessageId> {
        match self {
            KafkaEvent::Appended(a) => Some(a.message),
            KafkaEvent::Processed { message, .. } => Some(*message),
            KafkaEvent::StepFailed(f) => Some(f.message),
            KafkaEvent::BatchSent { .. }
            | KafkaEvent::Deduplicated { .. }
            | KafkaEvent::Refused { .. }
            | KafkaEvent::Acked { .. }
            | KafkaEvent::AckLost { .. }
            | KafkaEvent::Retrying { .. }
            | KafkaEvent::ProduceFailed { .. }
            | KafkaEvent::Fetched { .. }
            | KafkaEvent::Committed { .. }
            | KafkaEvent::CommitFailed { .. }
            | KafkaEvent::RebalanceStarted { .. }
            | KafkaEvent::RebalanceCompleted(_)
            | KafkaEvent::MemberRemoved { .. }
            | KafkaEvent::JoinFailed { .. }
            | KafkaEvent::Revoked { .. }
            | KafkaEvent::Assigned { .. }
            | KafkaEvent::OffsetReset { .. }
            | KafkaEvent::NoOffset { .. }
            | KafkaEvent::SegmentRolled { .. }
            | KafkaEvent::SegmentDeleted { .. }
            | KafkaEvent::Compacted { .. } => None,
        }
    }

    /// The nodes the event is about, for the page's filters: the first is the one it happened
    /// at.
    pub fn nodes(&self) -> [Option<NodeId>; 2] {
        match *self {
            KafkaEvent::BatchSent { producer, tp, .. }
            | KafkaEvent::Deduplicated { producer, tp, .. }
            | KafkaEvent::Refused { producer, tp, .. }
            | KafkaEvent::Acked { producer, tp, .. }
            | KafkaEvent::AckLost { producer, tp, .. }
            | KafkaEvent::Retrying { producer, tp, .. }
            | KafkaEvent::ProduceFailed { producer, tp, .. } => [Some(producer), Some(tp.0)],
            KafkaEvent::Appended(ref a) => [Some(a.tp.0), Some(a.producer)],
            KafkaEvent::Fetched { consumer, tp, .. }
            | KafkaEvent::Processed { consumer, tp, .. }
            | KafkaEvent::Committed { consumer, tp, .. }
            | KafkaEvent::OffsetReset { consumer, tp, .. }
            | KafkaEvent::NoOffset { consumer, tp } => [Some(consumer), Some(tp.0)],
            KafkaEvent::StepFailed(ref f) => [Some(f.consumer), Some(f.tp.0)],
            KafkaEvent::CommitFailed { consumer, .. }
            | KafkaEvent::MemberRemoved { consumer, .. }
            | KafkaEvent::JoinFailed { consumer }
            | KafkaEvent::Revoked { consumer, .. }
            | KafkaEvent::Assigned { consumer, .. } => [Some(consumer), None],
            KafkaEvent::RebalanceStarted { via, reason, .. } => [Some(via), Some(reason.node())],
            KafkaEvent::RebalanceCompleted(ref c) => [Some(c.via), Some(c.leader)],
            KafkaEvent::SegmentRolled { tp, .. }
            | KafkaEvent::SegmentDeleted { tp, .. }
            | KafkaEvent::Compacted { tp, .. } => [Some(tp.0), None],
        }
    }
}
