//! The Kafka model's node kinds: topics, producers and consumers, with their settings under
//! Kafka's own names (`retention.ms`, `enable.idempotence`, `max.poll.records`…). In a
//! scenario they are `NodeKind::Kafka(KafkaKind)`, written as `"kind": "topic"` (or
//! `"kafka_producer"`, `"kafka_consumer"`) and `"config"`.
//!
//! A few settings are the broker's rather than the topic's or the client's
//! (`log.retention.check.interval.ms`, `log.cleaner.backoff.ms`,
//! `group.initial.rebalance.delay.ms`): the playground has one broker, so they sit on the node
//! they act on, under the broker's names and with the broker's defaults.

use crate::dist::DurationDist;
use crate::message::Headers;
use crate::scenario::{Arrival, Diagnostic};
use crate::time::SimDuration;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A node of the Kafka model.
#[derive(Clone, Debug, PartialEq)]
pub enum KafkaKind {
    /// A topic: its partitions, each an append-only log of records cut into segments, with
    /// retention and compaction.
    Topic(TopicConfig),
    /// A producer: records at a rate (or on scripted `publish` actions), partitioned, batched
    /// and sent to its topic, with acknowledgements and retries.
    Producer(ProducerConfig),
    /// A consumer in a consumer group: it joins the group, is assigned partitions, polls them,
    /// processes the records and commits offsets. Boxed: its settings and handler are the
    /// largest of any kind, and every topology node would pay for them.
    Consumer(Box<ConsumerConfig>),
}

impl KafkaKind {
    /// Every kind name of the model, as documents write them.
    pub const NAMES: &'static [&'static str] = &["topic", "kafka_producer", "kafka_consumer"];

    /// The kind's name as written in documents.
    pub fn name(&self) -> &'static str {
        match self {
            KafkaKind::Topic(_) => "topic",
            KafkaKind::Producer(_) => "kafka_producer",
            KafkaKind::Consumer(_) => "kafka_consumer",
        }
    }

    /// Reads a node of kind `name` from its `config`, reporting errors under `path`; `None` if
    /// `name` is not one of this model's kinds.
    pub(crate) fn parse(
        name: &str,
        config: Value,
        path: &str,
    ) -> Option<Result<KafkaKind, Diagnostic>> {
        use crate::scenario::typed;
        Some(match name {
            "topic" => typed(config, path).map(KafkaKind::Topic),
            "kafka_producer" => typed(config, path).map(KafkaKind::Producer),
            "kafka_consumer" => typed(config, path).map(|c| KafkaKind::Consumer(Box::new(c))),
            _ => return None,
        })
    }

    /// Writes the kind's `config` object.
    pub(crate) fn serialize_config<M: serde::ser::SerializeMap>(
        &self,
        map: &mut M,
    ) -> Result<(), M::Error> {
        match self {
            KafkaKind::Topic(c) => map.serialize_entry("config", c),
            KafkaKind::Producer(c) => map.serialize_entry("config", c),
            KafkaKind::Consumer(c) => map.serialize_entry("config", c),
        }
    }
}

/// What an edge of the Kafka model is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EdgeKind {
    /// A producer sends its records to a topic (produce requests, and their responses back).
    Produce,
    /// A consumer subscribes to a topic: it fetches from the partitions its group assigns it.
    /// Its group's coordinator is reached over the same edge.
    Subscribe,
}

impl EdgeKind {
    /// What the edge means, in a few words.
    pub fn meaning(self) -> &'static str {
        match self {
            EdgeKind::Produce => "produces to",
            EdgeKind::Subscribe => "is read by",
        }
    }

    /// A short class name for drawing.
    pub fn class(self) -> &'static str {
        match self {
            EdgeKind::Produce => "produce",
            EdgeKind::Subscribe => "subscribe",
        }
    }
}

/// `cleanup.policy`: what happens to old records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CleanupPolicy {
    /// `delete`: whole segments are deleted when `retention.ms` or `retention.bytes` says so.
    pub delete: bool,
    /// `compact`: the cleaner keeps only the latest record of each key.
    pub compact: bool,
}

impl Default for CleanupPolicy {
    fn default() -> Self {
        CleanupPolicy {
            delete: true,
            compact: false,
        }
    }
}

impl CleanupPolicy {
    /// As Kafka writes it: `delete`, `compact` or `compact,delete`.
    pub fn as_str(self) -> &'static str {
        match (self.compact, self.delete) {
            (true, true) => "compact,delete",
            (true, false) => "compact",
            (false, true) => "delete",
            (false, false) => "",
        }
    }
}

impl Serialize for CleanupPolicy {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CleanupPolicy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let mut p = CleanupPolicy {
            delete: false,
            compact: false,
        };
        for part in s.split(',').map(str::trim) {
            match part {
                "delete" if !p.delete => p.delete = true,
                "compact" if !p.compact => p.compact = true,
                "delete" | "compact" => {
                    return Err(serde::de::Error::custom(format!(
                        "{s:?} names {part:?} twice"
                    )))
                }
                _ => {
                    return Err(serde::de::Error::custom(format!(
                        "{s:?} is not a cleanup.policy: expected \"delete\", \"compact\" or \
                         \"compact,delete\""
                    )))
                }
            }
        }
        Ok(p)
    }
}

/// Configuration of a `topic` node, under Kafka's topic-level names.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicConfig {
    /// How many partitions (the broker's `num.partitions` default is 1). It can grow on a live
    /// topic, never shrink.
    #[serde(default = "one")]
    pub partitions: u32,
    /// `delete`, `compact`, or both.
    #[serde(rename = "cleanup.policy", default)]
    pub cleanup_policy: CleanupPolicy,
    /// Delete a segment once its newest record is older than this; `-1`: no time limit.
    #[serde(rename = "retention.ms", default = "week_ms")]
    pub retention_ms: i64,
    /// Delete the oldest segments while the partition is larger than this; `-1`: no limit.
    #[serde(rename = "retention.bytes", default = "minus_one")]
    pub retention_bytes: i64,
    /// Roll a new segment when the active one would grow past this many bytes.
    #[serde(rename = "segment.bytes", default = "gib")]
    pub segment_bytes: u64,
    /// Roll a new segment when the active one's first record is older than this.
    #[serde(rename = "segment.ms", default = "week_ms_u")]
    pub segment_ms: u64,
    /// A record is compacted only once it is at least this old.
    #[serde(rename = "min.compaction.lag.ms", default)]
    pub min_compaction_lag_ms: u64,
    /// How long a tombstone is kept after the cleaner first saw it.
    #[serde(rename = "delete.retention.ms", default = "day_ms")]
    pub delete_retention_ms: u64,
    /// The cleaner compacts a partition once this share of its cleanable bytes is dirty.
    #[serde(rename = "min.cleanable.dirty.ratio", default = "half")]
    pub min_cleanable_dirty_ratio: f64,
    /// The broker's: how often retention is checked.
    #[serde(rename = "log.retention.check.interval.ms", default = "five_min_ms")]
    pub retention_check_interval_ms: u64,
    /// The broker's: how long the cleaner sleeps when there is nothing to clean.
    #[serde(rename = "log.cleaner.backoff.ms", default = "fifteen_s_ms")]
    pub cleaner_backoff_ms: u64,
}

impl Default for TopicConfig {
    fn default() -> Self {
        serde_json::from_value(serde_json::json!({})).expect("every field has a default")
    }
}

fn one() -> u32 {
    1
}
fn week_ms() -> i64 {
    604_800_000
}
fn week_ms_u() -> u64 {
    604_800_000
}
fn minus_one() -> i64 {
    -1
}
fn gib() -> u64 {
    1 << 30
}
fn day_ms() -> u64 {
    86_400_000
}
fn half() -> f64 {
    0.5
}
fn five_min_ms() -> u64 {
    300_000
}
fn fifteen_s_ms() -> u64 {
    15_000
}

/// `acks`: how many acknowledgements the producer waits for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Acks {
    /// `0`: none; a record counts as sent when it leaves.
    Zero,
    /// `1`: the leader's.
    One,
    /// `all` (`-1`): every in-sync replica's. With one broker, the same as `1`.
    #[default]
    All,
}

impl Serialize for Acks {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match self {
            Acks::Zero => "0",
            Acks::One => "1",
            Acks::All => "all",
        })
    }
}

impl<'de> Deserialize<'de> for Acks {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        match &v {
            Value::String(s) if s == "all" || s == "-1" => Ok(Acks::All),
            Value::String(s) if s == "1" => Ok(Acks::One),
            Value::String(s) if s == "0" => Ok(Acks::Zero),
            Value::Number(n) if n.as_i64() == Some(-1) => Ok(Acks::All),
            Value::Number(n) if n.as_i64() == Some(1) => Ok(Acks::One),
            Value::Number(n) if n.as_i64() == Some(0) => Ok(Acks::Zero),
            Value::Null
            | Value::Bool(_)
            | Value::Number(_)
            | Value::String(_)
            | Value::Array(_)
            | Value::Object(_) => Err(serde::de::Error::custom(format!(
                "{v} is not an acks value: expected \"all\" (or -1), \"1\" or \"0\""
            ))),
        }
    }
}

/// Where a producer's keys come from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Keys {
    /// These keys, in turn.
    Cycle(Vec<String>),
    /// A key drawn uniformly (seeded) from `key-0` … `key-{random - 1}`.
    Random {
        /// How many distinct keys.
        random: u32,
    },
}

/// Configuration of a `kafka_producer` node: the records it makes, and the producer settings
/// under Kafka's names.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProducerConfig {
    /// Records per second; `0` produces only on scripted `publish` actions.
    #[serde(default)]
    pub rate_per_s: f64,
    /// How the gaps between records are drawn.
    #[serde(default)]
    pub arrival: Arrival,
    /// Stop after this many rate-driven records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// When the first rate-driven record may be produced.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start: SimDuration,
    /// The records' keys; absent: null keys (the sticky partitioner spreads them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<Keys>,
    /// Send every record to this partition (the partitioner is not asked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<u32>,
    /// The size of each record's value, in bytes.
    #[serde(default = "hundred")]
    pub value_bytes: u32,
    /// Headers on every record.
    #[serde(default, skip_serializing_if = "Headers::is_empty")]
    pub headers: Headers,
    /// `acks`.
    #[serde(default)]
    pub acks: Acks,
    /// `enable.idempotence`. Absent: on, unless `acks`, `retries` or
    /// `max.in.flight.requests.per.connection` conflict with it (then off, as Kafka does).
    #[serde(
        rename = "enable.idempotence",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub enable_idempotence: Option<bool>,
    /// `retries`.
    #[serde(default = "int_max")]
    pub retries: u32,
    /// `max.in.flight.requests.per.connection`.
    #[serde(rename = "max.in.flight.requests.per.connection", default = "five")]
    pub max_in_flight: u32,
    /// `batch.size`, bytes.
    #[serde(rename = "batch.size", default = "batch_size")]
    pub batch_size: u32,
    /// `linger.ms`.
    #[serde(rename = "linger.ms", default)]
    pub linger_ms: u64,
    /// `delivery.timeout.ms`.
    #[serde(rename = "delivery.timeout.ms", default = "two_min_ms")]
    pub delivery_timeout_ms: u64,
    /// `request.timeout.ms`.
    #[serde(rename = "request.timeout.ms", default = "thirty_s_ms")]
    pub request_timeout_ms: u64,
    /// `retry.backoff.ms`.
    #[serde(rename = "retry.backoff.ms", default = "hundred_u64")]
    pub retry_backoff_ms: u64,
    /// A fault, not a Kafka setting: the probability that the broker's response to a produce
    /// request is lost on its way back, so that the producer retries a batch the log already
    /// has.
    #[serde(default, skip_serializing_if = "is_zero_f64")]
    pub ack_loss: f64,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        serde_json::from_value(serde_json::json!({})).expect("every field has a default")
    }
}

impl ProducerConfig {
    /// Whether the producer is idempotent: `enable.idempotence` if set, else on unless
    /// `acks`, `retries` or `max.in.flight.requests.per.connection` conflict with it
    /// (`ProducerConfig.postProcessAndValidateIdempotenceConfigs`).
    pub fn idempotent(&self) -> bool {
        self.enable_idempotence
            .unwrap_or(self.acks == Acks::All && self.retries > 0 && self.max_in_flight <= 5)
    }
}

fn hundred() -> u32 {
    100
}
fn hundred_u64() -> u64 {
    100
}
fn int_max() -> u32 {
    i32::MAX as u32
}
fn five() -> u32 {
    5
}
fn batch_size() -> u32 {
    16_384
}
fn two_min_ms() -> u64 {
    120_000
}
fn thirty_s_ms() -> u64 {
    30_000
}
fn is_zero(d: &SimDuration) -> bool {
    *d == SimDuration::ZERO
}
fn is_zero_f64(x: &f64) -> bool {
    *x == 0.0
}

/// A partition assignor, by the protocol name Kafka's consumers announce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Assignor {
    /// `range` (`RangeAssignor`).
    Range,
    /// `roundrobin` (`RoundRobinAssignor`).
    RoundRobin,
    /// `sticky` (`StickyAssignor`).
    Sticky,
    /// `cooperative-sticky` (`CooperativeStickyAssignor`).
    CooperativeSticky,
}

impl Assignor {
    /// Every assignor's name.
    pub const NAMES: &'static [&'static str] =
        &["range", "roundrobin", "sticky", "cooperative-sticky"];

    /// The protocol name.
    pub fn as_str(self) -> &'static str {
        match self {
            Assignor::Range => "range",
            Assignor::RoundRobin => "roundrobin",
            Assignor::Sticky => "sticky",
            Assignor::CooperativeSticky => "cooperative-sticky",
        }
    }

    /// True if it supports the cooperative rebalance protocol.
    pub fn cooperative(self) -> bool {
        matches!(self, Assignor::CooperativeSticky)
    }

    fn parse(s: &str) -> Option<Assignor> {
        let short = s.rsplit('.').next().unwrap_or(s);
        Some(match short {
            "range" | "RangeAssignor" => Assignor::Range,
            "roundrobin" | "RoundRobinAssignor" => Assignor::RoundRobin,
            "sticky" | "StickyAssignor" => Assignor::Sticky,
            "cooperative-sticky" | "CooperativeStickyAssignor" => Assignor::CooperativeSticky,
            _ => return None,
        })
    }
}

impl Serialize for Assignor {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Assignor {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Assignor::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "{s:?} is not an assignor: expected one of {}",
                Assignor::NAMES.join(", ")
            ))
        })
    }
}

/// `auto.offset.reset`: where a consumer starts on a partition with no committed offset, or
/// a committed offset out of range.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OffsetReset {
    /// The log start offset.
    Earliest,
    /// The log end offset (the high watermark).
    #[default]
    Latest,
    /// None: the consumer's poll throws `NoOffsetForPartitionException` (it stops).
    None,
}

/// Where a `seek` moves a consumer's position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SeekTo {
    /// This offset (`seek`).
    Offset(u64),
    /// The log start or the log end (`seekToBeginning`, `seekToEnd`).
    Edge(SeekEdge),
}

/// The ends of a log a consumer can seek to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeekEdge {
    /// The log start offset.
    Beginning,
    /// The log end offset.
    End,
}

/// When a consumer with `enable.auto.commit=false` commits, against its processing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommitMode {
    /// Commit after processing (`commitSync` once the records are done): at-least-once.
    #[default]
    AfterProcessing,
    /// Commit as soon as the records are returned, before processing them: at-most-once.
    BeforeProcessing,
}

/// A handler step that produces a record: `{"produce": "orders", "key": "{correlation_id}",
/// "headers": {"order": "{header.order}"}}`. The record continues the handled message's
/// causal chain; it is partitioned as a producer partitions (by its key's murmur2 hash, or an
/// explicit `partition`; a null key to a partition drawn from the seed, as kafka-python's
/// `DefaultPartitioner` does) and sent alone, and the handler waits for the broker's
/// acknowledgement (`producer.send(…).get()`, `acks=all`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProduceStep {
    /// The topic, by name; the handler's node needs an edge to it.
    pub produce: String,
    /// The record's key, made from the handled message; none: a null key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<crate::data::KeyTemplate>,
    /// A partition, instead of the key's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<u32>,
    /// Record headers, each made from the handled message.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub headers: std::collections::BTreeMap<String, crate::data::KeyTemplate>,
}

/// Configuration of a `kafka_consumer` node: the consumer settings under Kafka's names, and
/// how long the application takes per record and when it commits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumerConfig {
    /// `group.id`.
    #[serde(rename = "group.id", default = "default_group")]
    pub group_id: String,
    /// `partition.assignment.strategy`, in order of preference.
    #[serde(rename = "partition.assignment.strategy", default = "default_strategy")]
    pub assignment_strategy: Vec<Assignor>,
    /// `group.instance.id`: a static member.
    #[serde(
        rename = "group.instance.id",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub group_instance_id: Option<String>,
    /// `session.timeout.ms`.
    #[serde(rename = "session.timeout.ms", default = "fortyfive_s_ms")]
    pub session_timeout_ms: u64,
    /// `heartbeat.interval.ms`.
    #[serde(rename = "heartbeat.interval.ms", default = "three_s_ms")]
    pub heartbeat_interval_ms: u64,
    /// `max.poll.interval.ms`; also the rebalance timeout.
    #[serde(rename = "max.poll.interval.ms", default = "five_min_ms")]
    pub max_poll_interval_ms: u64,
    /// `max.poll.records`.
    #[serde(rename = "max.poll.records", default = "five_hundred")]
    pub max_poll_records: u32,
    /// `fetch.max.wait.ms`: how long a fetch waits at the broker for records to arrive.
    #[serde(rename = "fetch.max.wait.ms", default = "five_hundred_u64")]
    pub fetch_max_wait_ms: u64,
    /// `auto.offset.reset`.
    #[serde(rename = "auto.offset.reset", default)]
    pub auto_offset_reset: OffsetReset,
    /// `enable.auto.commit`.
    #[serde(rename = "enable.auto.commit", default = "yes")]
    pub enable_auto_commit: bool,
    /// `auto.commit.interval.ms`.
    #[serde(rename = "auto.commit.interval.ms", default = "five_s_ms")]
    pub auto_commit_interval_ms: u64,
    /// The broker's `group.initial.rebalance.delay.ms`: how long a new group waits for more
    /// members before its first rebalance. The group takes it from its first member.
    #[serde(rename = "group.initial.rebalance.delay.ms", default = "three_s_ms")]
    pub initial_rebalance_delay_ms: u64,
    /// The application's work per record.
    #[serde(default = "default_processing")]
    pub processing_time: DurationDist,
    /// With `enable.auto.commit=false`: commit after processing, or before.
    #[serde(default)]
    pub commit: CommitMode,
    /// With `enable.auto.commit=false` and `after_processing`: commit after every this many
    /// records; `0`: once per poll's records.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub commit_every: u32,
    /// The application's handler: steps (store reads and writes, RabbitMQ publishes) run for
    /// each record after its `processing_time`, before the record counts as processed (and
    /// so before its offset can be committed after processing).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub handler: Vec<crate::handler::HandlerStep>,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        serde_json::from_value(serde_json::json!({})).expect("every field has a default")
    }
}

impl ConsumerConfig {
    /// True if every assignor it lists supports the cooperative protocol: its rebalances are
    /// then cooperative (`ConsumerCoordinator`'s protocol is the one all its assignors share).
    pub fn cooperative(&self) -> bool {
        !self.assignment_strategy.is_empty()
            && self.assignment_strategy.iter().all(|a| a.cooperative())
    }
}

fn default_group() -> String {
    "group".into()
}
fn default_strategy() -> Vec<Assignor> {
    vec![Assignor::Range, Assignor::CooperativeSticky]
}
fn fortyfive_s_ms() -> u64 {
    45_000
}
fn three_s_ms() -> u64 {
    3_000
}
fn five_s_ms() -> u64 {
    5_000
}
fn five_hundred() -> u32 {
    500
}
fn five_hundred_u64() -> u64 {
    500
}
fn yes() -> bool {
    true
}
fn default_processing() -> DurationDist {
    DurationDist::constant(SimDuration::from_ms(1))
}
fn is_zero_u32(x: &u32) -> bool {
    *x == 0
}
