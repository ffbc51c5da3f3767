//! The Kafka model: topics of partitioned logs, producers with Kafka's partitioner, batching,
//! acknowledgements, retries and idempotence, and consumer groups with the classic rebalance
//! protocol, the four assignors, positions, commits and lag. See `docs/kafka.md` for what is
//! modelled and what is not (no replication, ISR, leader election, KRaft or transactions).
//!
//! - [`kind`]: the model's node kinds ([`KafkaKind`]) and edge kinds, with their settings
//!   under Kafka's names.
//! - [`partitioner`]: the default partitioner's key hashing (murmur2, `toPositive`, modulo).
//! - [`assignor`]: the range, round-robin, sticky and cooperative-sticky assignors.
//! - [`log`]: one partition's log: segments, retention, compaction, idempotent sequences.

pub mod assignor;
pub mod kind;
pub mod log;
pub mod partitioner;

pub use kind::{
    Acks, Assignor, CleanupPolicy, CommitMode, ConsumerConfig, EdgeKind, KafkaKind, Keys,
    OffsetReset, ProduceStep, ProducerConfig, SeekEdge, SeekTo, TopicConfig,
};
mod consumer;
pub mod event;
mod group;
pub(crate) mod handler;
pub(crate) mod model;
mod producer;
pub(crate) mod rules;
mod topic;
pub(crate) mod trace;

pub use event::{KafkaEvent, Partitioner, ProduceError, Tp, NO_OFFSET};
pub use model::{
    ConsumerMetrics, ConsumerPartition, ConsumerStats, GroupLag, GroupState, Joining, KafkaMetrics,
    PartitionMetrics, ProducerMetrics, ProducerStats, RecordMetrics, TopicMetrics, MAX_PARTITIONS,
    TAIL,
};
pub(crate) use model::{Due, KafkaModel, PlaceDetail};
