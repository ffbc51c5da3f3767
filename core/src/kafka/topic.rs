//! The broker's side of a topic: appending produce requests (`LogValidator`'s refusal of
//! keyless records on compacted topics, idempotent sequence checks, segment rolls), waking
//! consumers waiting in a long poll, and the periodic retention check and log cleaner.

use super::event::{Appended, KafkaEvent, ProduceError, Tp};
use super::kind::TopicConfig;
use super::log::{PartitionLog, Sequence};
use super::model::{emit, schedule, Client, Due, KafkaModel, NodeState, Pending};
use super::producer::Outcome;
use crate::id::NodeId;
use crate::kernel::Kernel;
use crate::ledger::{DropReason, Fate};
use crate::message::Envelope;
use crate::time::SimDuration;

impl KafkaModel {
    /// The broker appends a produce request's records to the partition, or refuses it.
    #[allow(clippy::too_many_arguments, clippy::vec_box)]
    pub(crate) fn append_batch(
        &mut self,
        k: &mut Kernel,
        producer: NodeId,
        topic: NodeId,
        partition: u32,
        pid: u64,
        first_seq: u32,
        records: &[Pending],
        msgs: Vec<Envelope>,
    ) -> Outcome {
        let tp = (topic, partition);
        let n = records.len() as u32;
        let live = !k.topo.node(topic).removed
            && self
                .topic_ref(topic)
                .is_some_and(|t| (partition as usize) < t.partitions.len());
        if !live {
            for m in msgs {
                k.drop_message(m.id, topic, DropReason::NoRoute);
            }
            return Outcome::Refused(ProduceError::UnknownTopicOrPartition);
        }
        let cfg = Self::topic_config(k, topic).clone();
        let refuse = |k: &mut Kernel, msgs: Vec<Envelope>, reason: ProduceError| {
            emit(
                k,
                KafkaEvent::Refused {
                    producer,
                    tp,
                    records: n,
                    reason,
                },
            );
            for m in msgs {
                k.drop_message(m.id, topic, DropReason::InvalidRecord);
            }
            Outcome::Refused(reason)
        };
        if cfg.cleanup_policy.compact && records.iter().any(|r| r.key.is_none()) {
            self.count_refused(producer);
            return refuse(k, msgs, ProduceError::KeylessOnCompacted);
        }
        let last_seq = first_seq.wrapping_add(n.saturating_sub(1));
        let log = &mut self.topic(topic).expect("live").partitions[partition as usize];
        if pid != 0 {
            match log.check_sequence(pid, first_seq, last_seq) {
                Sequence::InOrder => {}
                Sequence::Duplicate(base_offset) => {
                    emit(
                        k,
                        KafkaEvent::Deduplicated {
                            producer,
                            tp,
                            base_offset,
                            records: n,
                        },
                    );
                    for m in msgs {
                        k.drop_message(m.id, topic, DropReason::Deduplicated);
                    }
                    return Outcome::Duplicate(base_offset);
                }
                Sequence::OutOfOrder => {
                    self.count_refused(producer);
                    return refuse(k, msgs, ProduceError::OutOfOrderSequence);
                }
            }
        }
        let bytes: u64 = records.iter().map(|r| u64::from(r.bytes)).sum();
        let log = &mut self.topic(topic).expect("live").partitions[partition as usize];
        if let Some(base) = log.maybe_roll(bytes, k.now, &cfg) {
            emit(k, KafkaEvent::SegmentRolled { tp, base });
        }
        let log = &mut self.topic(topic).expect("live").partitions[partition as usize];
        let base = log.end;
        if pid != 0 {
            log.record_batch(pid, first_seq, last_seq, base);
        }
        k.nodes[topic.index()].stats.received += u64::from(n);
        // The log and the key table are borrowed side by side.
        let keys = &self.keys;
        let NodeState::Topic(t) = &mut self.nodes[topic.index()] else {
            unreachable!("a live topic")
        };
        let log = &mut t.partitions[partition as usize];
        for (r, msg) in records.iter().zip(msgs) {
            let id = msg.id;
            let offset = log.append(r.key, r.tombstone, r.bytes, r.timestamp, msg);
            k.ledger.set(id, Fate::Retained { node: topic });
            emit(
                k,
                KafkaEvent::Appended(Box::new(Appended {
                    tp,
                    offset,
                    message: id,
                    key: r.key.map(|key| keys[key.0 as usize].clone()),
                    tombstone: r.tombstone,
                    partitioner: r.partitioner,
                    producer,
                })),
            );
        }
        self.wake(k, topic);
        Outcome::Appended(base)
    }

    /// A refused batch counts against its producer (a handler's produce step has no producer's
    /// counters: its `step_failed` says it).
    fn count_refused(&mut self, producer: NodeId) {
        if let NodeState::Producer(p) = &mut self.nodes[producer.index()] {
            p.stats.refused += 1;
        }
    }

    /// Records arrived: consumers waiting in a long poll on the topic get their response.
    fn wake(&mut self, k: &mut Kernel, topic: NodeId) {
        let Some(t) = self.topic(topic) else { return };
        if t.waiting.is_empty() {
            return;
        }
        let waiting = std::mem::take(&mut t.waiting);
        for c in waiting {
            let Some(st) = self.consumer_ref(c) else {
                continue;
            };
            if st.wait_until.is_none() || !k.up(c) {
                continue;
            }
            self.consumer(c).wait_until = None;
            self.send_client(k, c, Client::FetchResponse);
        }
    }

    /// A topic's checks start (again): retention every `log.retention.check.interval.ms`, the
    /// cleaner every `log.cleaner.backoff.ms`. Each acts only if `cleanup.policy` asks for it.
    pub(crate) fn schedule_topic_checks(&mut self, k: &mut Kernel, topic: NodeId) {
        let cfg = Self::topic_config(k, topic);
        let (retention, clean) = (
            SimDuration::from_ms(cfg.retention_check_interval_ms.max(1)),
            SimDuration::from_ms(cfg.cleaner_backoff_ms.max(1)),
        );
        let t = self.topic(topic).expect("a topic");
        t.epoch = t.epoch.wrapping_add(1);
        let epoch = t.epoch;
        schedule(k, k.now + retention, Due::Retention(topic, epoch));
        schedule(k, k.now + clean, Due::Clean(topic, epoch));
    }

    pub(crate) fn retention_due(&mut self, k: &mut Kernel, topic: NodeId, epoch: u32) {
        if k.topo.node(topic).removed || self.topic_ref(topic).is_none_or(|t| t.epoch != epoch) {
            return;
        }
        let cfg = Self::topic_config(k, topic).clone();
        if cfg.cleanup_policy.delete {
            let now = k.now;
            let n = self.topic_ref(topic).map_or(0, |t| t.partitions.len());
            for p in 0..n {
                let log = &mut self.topic(topic).expect("a topic").partitions[p];
                let deleted = log.apply_retention(now, &cfg);
                let log_start = log.log_start;
                for d in deleted {
                    emit(
                        k,
                        KafkaEvent::SegmentDeleted {
                            tp: (topic, p as u32),
                            base: d.base,
                            records: d.messages.len() as u32,
                            log_start,
                            cause: d.cause,
                        },
                    );
                    for id in d.messages {
                        k.drop_message(id, topic, DropReason::RetentionEnded);
                    }
                }
            }
        }
        let every = SimDuration::from_ms(cfg.retention_check_interval_ms.max(1));
        schedule(k, k.now + every, Due::Retention(topic, epoch));
    }

    pub(crate) fn clean_due(&mut self, k: &mut Kernel, topic: NodeId, epoch: u32) {
        if k.topo.node(topic).removed || self.topic_ref(topic).is_none_or(|t| t.epoch != epoch) {
            return;
        }
        let cfg = Self::topic_config(k, topic).clone();
        if cfg.cleanup_policy.compact {
            let now = k.now;
            let n = self.topic_ref(topic).map_or(0, |t| t.partitions.len());
            for p in 0..n {
                let log = &mut self.topic(topic).expect("a topic").partitions[p];
                if let Some(c) = log.clean(now, &cfg) {
                    emit(
                        k,
                        KafkaEvent::Compacted {
                            tp: (topic, p as u32),
                            from: c.from,
                            to: c.to,
                            removed: c.removed.len() as u32,
                        },
                    );
                    for id in c.removed {
                        k.drop_message(id, topic, DropReason::Compacted);
                    }
                }
            }
        }
        let every = SimDuration::from_ms(cfg.cleaner_backoff_ms.max(1));
        schedule(k, k.now + every, Due::Clean(topic, epoch));
    }

    /// A topic's settings changed in place. More partitions: new empty logs, and every group
    /// reading the topic rebalances. (Fewer is refused before it gets here.) New intervals
    /// restart the checks.
    pub(crate) fn topic_configured(&mut self, k: &mut Kernel, topic: NodeId, old: &TopicConfig) {
        let new = Self::topic_config(k, topic).clone();
        if new.partitions > old.partitions {
            let t = self.topic(topic).expect("a topic");
            t.partitions
                .resize_with(new.partitions as usize, PartitionLog::new);
            self.partitions_changed(k, topic);
        }
        if new.retention_check_interval_ms != old.retention_check_interval_ms
            || new.cleaner_backoff_ms != old.cleaner_backoff_ms
        {
            self.schedule_topic_checks(k, topic);
        }
    }

    /// A topic is deleted: its records go with it.
    pub(crate) fn topic_removed(&mut self, k: &mut Kernel, topic: NodeId) {
        let Some(t) = self.topic(topic) else { return };
        t.epoch = t.epoch.wrapping_add(1);
        let mut gone = Vec::new();
        for log in &mut t.partitions {
            gone.extend(log.records().map(|r| r.msg.id));
            *log = PartitionLog::new();
        }
        t.partitions.clear();
        for id in gone {
            k.drop_message(id, topic, DropReason::TopicDeleted);
        }
        k.mark_down(topic);
    }

    /// The log of a partition, if it exists.
    pub(crate) fn log(&self, tp: Tp) -> Option<&PartitionLog> {
        self.topic_ref(tp.0)?.partitions.get(tp.1 as usize)
    }
}
