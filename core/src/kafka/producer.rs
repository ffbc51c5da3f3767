//! The producer: records made at a rate or on scripted `publish` actions, partitioned
//! (`KafkaProducer.partition`, `BuiltInPartitioner`), gathered into one batch per partition
//! (`RecordAccumulator`: `batch.size`, `linger.ms`), sent as produce requests with at most
//! `max.in.flight.requests.per.connection` outstanding, acknowledged per `acks`, retried after
//! `request.timeout.ms` (every `retry.backoff.ms`) until `retries` or `delivery.timeout.ms`
//! run out, and, when idempotent, numbered so that the broker appends a retried batch once.

use super::event::{KafkaEvent, Partitioner, ProduceError};
use super::kind::{Acks, Keys};
use super::log::KeyId;
use super::model::{emit, schedule, Batch, Due, KafkaModel, Pending};
use super::partitioner::partition_for_key;
use crate::event::EventKind;
use crate::http::slab::Key;
use crate::id::{EdgeId, MessageId, NodeId};
use crate::kernel::Kernel;
use crate::ledger::{DropReason, Fate};
use crate::message::{Envelope, Headers, MessageTemplate};
use crate::model::EdgeKind as ModelEdge;
use crate::scenario::Arrival;
use crate::time::{SimDuration, SimTime};

/// What a record is made of, before it has a partition.
pub(crate) struct NewRecord {
    pub key: Option<KeyId>,
    pub partition: Option<u32>,
    pub tombstone: bool,
    pub value_bytes: u32,
    pub headers: Headers,
}

impl KafkaModel {
    /// The producer's live produce edge and its topic, if it has one.
    pub(crate) fn produce_edge(k: &Kernel, producer: NodeId) -> Option<(EdgeId, NodeId)> {
        k.topo.node(producer).out.iter().find_map(|&e| {
            let edge = k.topo.edge(e);
            (!edge.removed && edge.kind == ModelEdge::Kafka(super::EdgeKind::Produce))
                .then_some((e, edge.to))
        })
    }

    /// The producer starts (at the run's start, or again after a crash): a new producer id,
    /// sequence numbers from 0, and its rate-driven records.
    pub(crate) fn producer_started(&mut self, k: &mut Kernel, node: NodeId) {
        self.next_pid += 1;
        let pid = self.next_pid;
        let p = self.producer(node);
        p.pid = pid;
        p.seq.clear();
        p.sticky = None;
        p.in_flight = 0;
        p.open.clear();
        let again = p.emitted > 0;
        self.schedule_emit(k, node, again);
    }

    /// The next rate-driven record (`again`: it was producing already, so one gap from now).
    pub(crate) fn schedule_emit(&mut self, k: &mut Kernel, node: NodeId, again: bool) {
        let c = Self::producer_config(k, node);
        if c.rate_per_s <= 0.0 || c.limit.is_some_and(|l| self.producer(node).emitted >= l) {
            return;
        }
        let (rate, arrival, start) = (c.rate_per_s, c.arrival, SimTime::ZERO + c.start);
        let from = start.max(k.now);
        let publishing = again && k.now >= start;
        let at = if arrival == Arrival::Constant && !publishing {
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
        let c = Self::producer_config(k, node);
        if c.limit.is_some_and(|l| self.producer(node).emitted >= l) {
            return;
        }
        let (partition, value_bytes) = (c.partition, c.value_bytes);
        let headers = if c.headers.is_empty() {
            Headers::new()
        } else {
            c.headers.clone()
        };
        self.producer(node).emitted += 1;
        let key = self.next_key(k, node);
        self.produce(
            k,
            node,
            NewRecord {
                key,
                partition,
                tombstone: false,
                value_bytes,
                headers,
            },
        );
        self.schedule_emit(k, node, true);
    }

    /// The key of the producer's next rate-driven record: the next of its list, or one drawn
    /// from `key-0` … `key-{n-1}`; interned once per producer and key, not per record.
    fn next_key(&mut self, k: &mut Kernel, node: NodeId) -> Option<KeyId> {
        let keys = match &Self::producer_config(k, node).keys {
            None => return None,
            Some(Keys::Cycle(list)) if list.is_empty() => return None,
            Some(keys) => keys,
        };
        match keys {
            Keys::Cycle(list) => {
                if self.producer(node).cycle.len() != list.len() {
                    let list = list.clone();
                    let ids: Vec<KeyId> = list.iter().map(|s| self.intern(s)).collect();
                    self.producer(node).cycle = ids;
                }
                let p = self.producer(node);
                let key = p.cycle[(p.cursor % p.cycle.len() as u64) as usize];
                p.cursor += 1;
                Some(key)
            }
            Keys::Random { random } => {
                let n = (*random).max(1) as usize;
                let i = k.rng.range_inclusive(0, n as u64 - 1) as usize;
                let p = self.producer(node);
                if p.random.len() != n {
                    p.random = vec![None; n];
                }
                if let Some(key) = p.random[i] {
                    return Some(key);
                }
                let key = self.intern(&format!("key-{i}"));
                self.producer(node).random[i] = Some(key);
                Some(key)
            }
        }
    }

    /// A scripted `publish` to a producer: the template's `key`, `partition`, `tombstone`,
    /// headers and body size make the record.
    pub(crate) fn publish(&mut self, k: &mut Kernel, node: NodeId, t: &MessageTemplate) {
        let c = Self::producer_config(k, node);
        let value_bytes = if t.body_bytes > 0 {
            t.body_bytes
        } else {
            c.value_bytes
        };
        let partition = t.partition.or(c.partition);
        let key = t.key.as_deref().map(|s| self.intern(s));
        self.produce(
            k,
            node,
            NewRecord {
                key,
                partition,
                tombstone: t.tombstone,
                value_bytes,
                headers: t.headers.clone(),
            },
        );
    }

    /// `KafkaProducer.send`: the record gets its partition and joins that partition's batch.
    pub(crate) fn produce(&mut self, k: &mut Kernel, node: NodeId, r: NewRecord) {
        let id = k.ledger.next_id();
        let body_bytes = if r.tombstone { 0 } else { r.value_bytes };
        // The envelope is made directly (a template would copy the headers twice). Its key is
        // the record's, kept beside it (an inspector shows it), not a routing key.
        let msg = Envelope {
            headers: r.headers.clone(),
            body_bytes,
            ..Envelope::new(id, k.now)
        };
        k.ledger.create(id, Fate::Held { node });
        k.nodes[node.index()].stats.published += 1;
        k.emit(EventKind::Published {
            node,
            message: id,
            correlation: id,
            cause: None,
        });
        self.producer(node).stats.records += 1;
        if !k.up(node) {
            k.drop_message(id, node, DropReason::NodeDown);
            return;
        }
        let Some((_, topic)) = Self::produce_edge(k, node) else {
            k.drop_message(id, node, DropReason::NoRoute);
            return;
        };
        let partitions = self
            .topic_ref(topic)
            .map_or(0, |t| t.partitions.len() as u32);
        let key_bytes = r
            .key
            .map_or(0, |key| self.keys[key.0 as usize].len() as u32);
        let header_bytes: u32 = r
            .headers
            .iter()
            .map(|(name, v)| name.len() as u32 + header_len(v))
            .sum();
        let bytes = key_bytes + body_bytes + header_bytes;
        let (partition, why) = match (r.partition, r.key) {
            (Some(p), _) => (p, Partitioner::Explicit),
            (None, Some(key)) => (
                partition_for_key(self.keys[key.0 as usize].as_bytes(), partitions),
                Partitioner::Key,
            ),
            (None, None) => (
                self.sticky_partition(k, node, partitions),
                Partitioner::Sticky,
            ),
        };
        if partition >= partitions {
            // `KafkaProducer.waitOnMetadata`: "Invalid partition given with record".
            emit(
                k,
                KafkaEvent::ProduceFailed {
                    producer: node,
                    tp: (topic, partition),
                    records: 1,
                    reason: ProduceError::InvalidPartition,
                },
            );
            self.producer(node).stats.failed += 1;
            k.drop_message(id, node, DropReason::NoRoute);
            return;
        }
        let key = r.key;
        let pending = Pending {
            msg: id,
            correlation: id,
            key,
            tombstone: r.tombstone,
            bytes,
            timestamp: k.now,
            headers: r.headers,
            value_bytes: body_bytes,
            partitioner: why,
        };
        self.accumulate(k, node, topic, partition, pending, msg);
        if why == Partitioner::Sticky {
            // `BuiltInPartitioner.updatePartitionInfo`: once batch.size bytes went to the
            // sticky partition, the next record picks another.
            let batch_size = u64::from(Self::producer_config(k, node).batch_size);
            let p = self.producer(node);
            if let Some((_, produced)) = &mut p.sticky {
                *produced += u64::from(bytes);
                if *produced >= batch_size {
                    p.sticky = None;
                }
            }
        }
        self.drain(k, node);
    }

    /// The sticky partition for a null-key record: the current one, or a new one drawn
    /// uniformly (seeded) from all partitions.
    fn sticky_partition(&mut self, k: &mut Kernel, node: NodeId, partitions: u32) -> u32 {
        if let Some((p, _)) = self.producer(node).sticky {
            if p < partitions {
                return p;
            }
        }
        let p = if partitions == 0 {
            0
        } else {
            k.rng.range_inclusive(0, u64::from(partitions - 1)) as u32
        };
        self.producer(node).sticky = Some((p, 0));
        p
    }

    /// The record joins its partition's open batch, or starts one.
    fn accumulate(
        &mut self,
        k: &mut Kernel,
        node: NodeId,
        topic: NodeId,
        partition: u32,
        r: Pending,
        msg: Envelope,
    ) {
        let c = Self::producer_config(k, node);
        let (batch_size, linger) = (c.batch_size, c.linger_ms);
        let open = self.producer(node).open.clone();
        let found = open.into_iter().find(|&b| {
            self.batches
                .get(b)
                .is_some_and(|b| b.topic == topic && b.partition == partition && !b.closed)
        });
        let key = match found {
            Some(b) => b,
            None => {
                let epoch = self.producer(node).epoch;
                let b = self.batches.insert(Batch {
                    producer: node,
                    topic,
                    partition,
                    epoch,
                    records: Vec::new(),
                    msgs: Vec::new(),
                    bytes: 0,
                    created: k.now,
                    closed: false,
                    in_flight: false,
                    counted: false,
                    attempt: 0,
                    edge: None,
                    pid: 0,
                    first_seq: 0,
                    timeout_at: None,
                    arrive: k.now,
                    answered: None,
                });
                self.producer(node).open.push(b);
                if linger > 0 {
                    schedule(
                        k,
                        k.now + SimDuration::from_ms(linger),
                        Due::Linger(node, partition),
                    );
                }
                b
            }
        };
        let b = self.batches.get_mut(key).expect("open");
        b.bytes += r.bytes;
        b.records.push(r);
        b.msgs.push(msg);
        if b.bytes >= batch_size {
            b.closed = true;
        }
    }

    pub(crate) fn linger_due(&mut self, k: &mut Kernel, node: NodeId, _partition: u32) {
        if k.up(node) {
            self.drain(k, node);
        }
    }

    /// The sender: while a request slot is free, send the oldest ready batch (full, lingered
    /// `linger.ms`, or a retry).
    pub(crate) fn drain(&mut self, k: &mut Kernel, node: NodeId) {
        let c = Self::producer_config(k, node);
        let (max, linger) = (c.max_in_flight.max(1), SimDuration::from_ms(c.linger_ms));
        loop {
            let p = self.producer(node);
            if p.in_flight >= max {
                return;
            }
            let open = p.open.clone();
            let ready = open.iter().position(|&b| {
                self.batches
                    .get(b)
                    .is_some_and(|b| b.closed || k.now >= b.created + linger)
            });
            let Some(i) = ready else { return };
            let b = self.producer(node).open.remove(i);
            self.send(k, b);
        }
    }

    /// Sends a batch as a produce request.
    fn send(&mut self, k: &mut Kernel, key: Key) {
        let (node, topic, partition) = {
            let b = self.batches.get(key).expect("a batch to send");
            (b.producer, b.topic, b.partition)
        };
        let c = Self::producer_config(k, node).clone();
        let Some((edge, to)) = Self::produce_edge(k, node).filter(|&(_, t)| t == topic) else {
            // The produce edge was removed: the records cannot be sent.
            let b = self.batches.remove(key).expect("a batch");
            emit(
                k,
                KafkaEvent::ProduceFailed {
                    producer: node,
                    tp: (topic, partition),
                    records: b.records.len() as u32,
                    reason: ProduceError::NoRoute,
                },
            );
            for m in b.msgs {
                k.drop_message(m.id, node, DropReason::NoRoute);
            }
            return;
        };
        debug_assert_eq!(to, topic);
        let idempotent = c.idempotent();
        let latency = k.topo.edge(edge).latency.sample(&mut k.rng);
        let p = self.producer(node);
        let arrive = (k.now + latency).max(p.link);
        p.link = arrive;
        p.stats.requests += 1;
        let pid = p.pid;
        let counted = c.acks != Acks::Zero;
        if counted {
            p.in_flight += 1;
        }
        let (first_attempt, n) = {
            let b = self.batches.get(key).expect("a batch");
            (b.attempt == 0, b.records.len() as u32)
        };
        if first_attempt && idempotent {
            let next = self
                .producer(node)
                .seq
                .entry((topic, partition))
                .or_insert(0);
            let first = *next;
            *next = next.wrapping_add(n);
            let b = self.batches.get_mut(key).expect("a batch");
            b.first_seq = first;
            b.pid = pid;
        }
        let b = self.batches.get_mut(key).expect("a batch");
        b.closed = true;
        b.in_flight = true;
        b.counted = counted;
        b.attempt += 1;
        b.edge = Some(edge);
        b.arrive = arrive;
        b.timeout_at = counted.then(|| k.now + SimDuration::from_ms(c.request_timeout_ms));
        let records = b.records.len() as u32;
        for m in &b.msgs {
            k.ledger.set(m.id, Fate::InTransit { edge });
        }
        let first = b.msgs.first().map_or(MessageId(0), |m| m.id);
        k.nodes[node.index()].stats.sent += u64::from(records);
        emit(
            k,
            KafkaEvent::BatchSent {
                producer: node,
                tp: (topic, partition),
                records,
                travel_us: u32::try_from(arrive.0 - k.now.0).unwrap_or(u32::MAX),
                first,
            },
        );
        schedule(k, arrive, Due::Arrive(key));
        if let Some(at) = b.timeout_at {
            schedule(k, at, Due::Timeout(key));
        }
    }

    /// A produce request reaches the broker: the topic appends it (or refuses it, or, for an
    /// idempotent retry of a batch it has, acknowledges without appending), and the response
    /// goes back unless `acks=0` or the response is lost.
    pub(crate) fn request_arrives(&mut self, k: &mut Kernel, key: Key) {
        let Some(b) = self.batches.get_mut(key) else {
            return;
        };
        b.in_flight = false;
        let (node, topic, partition, attempt) = (b.producer, b.topic, b.partition, b.attempt);
        let msgs = std::mem::take(&mut b.msgs);
        // Lent to the broker and given back: a retry needs them.
        let records = std::mem::take(&mut b.records);
        let (pid, first_seq) = (b.pid, b.first_seq);
        let outcome = self.append_batch(k, node, topic, partition, pid, first_seq, &records, msgs);
        let c = Self::producer_config(k, node);
        let (acks, ack_loss) = (c.acks, c.ack_loss);
        let b = self.batches.get_mut(key).expect("still here");
        b.records = records;
        b.answered = Some((attempt, outcome));
        if acks == Acks::Zero {
            self.batches.remove(key);
            return;
        }
        let (forced, broken) = {
            let p = self.producer(node);
            let forced = p.lose_next > 0;
            p.lose_next = p.lose_next.saturating_sub(1);
            (forced, p.broken)
        };
        if broken || forced || (ack_loss > 0.0 && k.rng.chance(ack_loss)) {
            let p = self.producer(node);
            p.stats.acks_lost += 1;
            p.broken = true;
            let records = self.batches.get(key).map_or(0, |b| b.records.len() as u32);
            emit(
                k,
                KafkaEvent::AckLost {
                    producer: node,
                    tp: (topic, partition),
                    records,
                },
            );
            return;
        }
        let latency = Self::produce_edge(k, node)
            .filter(|&(_, t)| t == topic)
            .map_or(SimDuration::ZERO, |(e, _)| {
                k.topo.edge(e).latency.sample(&mut k.rng)
            });
        let p = self.producer(node);
        let at = (k.now + latency).max(p.back);
        p.back = at;
        schedule(k, at, Due::Response(key));
    }

    /// The broker's response reaches the producer.
    pub(crate) fn response_arrives(&mut self, k: &mut Kernel, key: Key) {
        let Some(b) = self.batches.get(key) else {
            return;
        };
        let (node, epoch, answered, current, waiting) = (
            b.producer,
            b.epoch,
            b.answered,
            b.attempt,
            b.timeout_at.is_some(),
        );
        let stale = epoch != self.producer(node).epoch || !k.up(node);
        let Some((attempt, outcome)) = answered else {
            return;
        };
        if stale {
            self.batches.remove(key);
            return;
        }
        if attempt != current || !waiting {
            // The answer to an attempt the producer has given up on.
            return;
        }
        let b = self.batches.remove(key).expect("here");
        self.producer(node).in_flight -= 1;
        let (tp, records) = ((b.topic, b.partition), b.records.len() as u32);
        match outcome {
            Outcome::Appended(base_offset) | Outcome::Duplicate(base_offset) => {
                self.producer(node).stats.acked += 1;
                emit(
                    k,
                    KafkaEvent::Acked {
                        producer: node,
                        tp,
                        base_offset,
                        records,
                    },
                );
            }
            Outcome::Refused(ProduceError::OutOfOrderSequence)
                if b.attempt <= Self::producer_config(k, node).retries =>
            {
                // An earlier batch of the partition failed and gave back its sequence
                // numbers after this one was sent: send it again, renumbered
                // (`TransactionManager.canRetry`).
                let backoff = SimDuration::from_ms(Self::producer_config(k, node).retry_backoff_ms);
                self.producer(node).stats.retries += 1;
                emit(
                    k,
                    KafkaEvent::Retrying {
                        producer: node,
                        tp,
                        attempt: b.attempt + 1,
                    },
                );
                let key = self.batches.insert(Batch {
                    counted: false,
                    in_flight: false,
                    answered: None,
                    timeout_at: None,
                    ..b
                });
                schedule(k, k.now + backoff, Due::Resend(key));
            }
            Outcome::Refused(reason) => {
                self.batch_failed(k, node, tp, records, reason);
                if b.pid != 0 {
                    // A batch that failed for good gives its sequence numbers back: the
                    // partition's later batches are renumbered
                    // (`TransactionManager.adjustSequencesDueToFailedBatch`).
                    let p = self.producer(node);
                    if let Some(next) = p.seq.get_mut(&tp) {
                        *next = next.wrapping_sub(records);
                    }
                    let later = self.batches.keys_where(|o| {
                        o.producer == node
                            && o.epoch == b.epoch
                            && (o.topic, o.partition) == tp
                            && o.attempt > 0
                            && o.first_seq > b.first_seq
                    });
                    for o in later {
                        let o = self.batches.get_mut(o).expect("listed");
                        o.first_seq = o.first_seq.wrapping_sub(records);
                    }
                }
            }
        }
        self.drain(k, node);
    }

    /// A batch failed for good: counted, and said.
    fn batch_failed(
        &mut self,
        k: &mut Kernel,
        node: NodeId,
        tp: (NodeId, u32),
        records: u32,
        reason: ProduceError,
    ) {
        self.producer(node).stats.failed += 1;
        emit(
            k,
            KafkaEvent::ProduceFailed {
                producer: node,
                tp,
                records,
                reason,
            },
        );
    }

    /// `request.timeout.ms` passed with no response: retry after `retry.backoff.ms`, unless
    /// `retries` or `delivery.timeout.ms` say the batch has failed. The client then closes the
    /// connection (`NetworkClient` disconnects on a request timeout), so every other request
    /// waiting on it fails too and is retried, in sequence order, on a new connection.
    pub(crate) fn request_timed_out(&mut self, k: &mut Kernel, key: Key) {
        let Some(b) = self.batches.get_mut(key) else {
            return;
        };
        if b.timeout_at != Some(k.now) {
            return;
        }
        let node = b.producer;
        if b.epoch != self.producer(node).epoch || !k.up(node) {
            self.batches.remove(key);
            return;
        }
        let epoch = self.producer(node).epoch;
        let mut waiting = self
            .batches
            .keys_where(|o| o.producer == node && o.timeout_at.is_some() && o.epoch == epoch);
        // This one first, then the others by partition and sequence.
        waiting.sort_by_key(|&o| {
            let o = self.batches.get(o).expect("listed");
            (
                o.timeout_at != Some(k.now),
                o.topic,
                o.partition,
                o.first_seq,
            )
        });
        self.producer(node).broken = false;
        for o in waiting {
            self.attempt_failed(k, o);
        }
        self.drain(k, node);
    }

    /// The current attempt of batch `key` failed without an answer: retry it after
    /// `retry.backoff.ms`, unless `retries` or `delivery.timeout.ms` say it has failed.
    fn attempt_failed(&mut self, k: &mut Kernel, key: Key) {
        let b = self.batches.get_mut(key).expect("listed");
        b.timeout_at = None;
        let node = b.producer;
        b.counted = false;
        let (tp, attempt, created, records) = (
            (b.topic, b.partition),
            b.attempt,
            b.created,
            b.records.len() as u32,
        );
        self.producer(node).in_flight -= 1;
        let c = Self::producer_config(k, node);
        let backoff = SimDuration::from_ms(c.retry_backoff_ms);
        let expires = created + SimDuration::from_ms(c.delivery_timeout_ms);
        let why = if attempt > c.retries {
            Some(ProduceError::Retries)
        } else if k.now + backoff >= expires {
            Some(ProduceError::DeliveryTimeout)
        } else {
            None
        };
        if let Some(reason) = why {
            self.batches.remove(key);
            self.batch_failed(k, node, tp, records, reason);
        } else {
            self.producer(node).stats.retries += 1;
            emit(
                k,
                KafkaEvent::Retrying {
                    producer: node,
                    tp,
                    attempt: attempt + 1,
                },
            );
            schedule(k, k.now + backoff, Due::Resend(key));
        }
    }

    /// The retry goes to the front of the queue: its records again, as new messages (the
    /// first copies are in the log already), with the same sequence numbers.
    pub(crate) fn resend(&mut self, k: &mut Kernel, key: Key) {
        let Some(b) = self.batches.get(key) else {
            return;
        };
        let (node, epoch, in_flight, arrive) = (b.producer, b.epoch, b.in_flight, b.arrive);
        if epoch != self.producer(node).epoch || !k.up(node) {
            self.batches.remove(key);
            return;
        }
        if in_flight {
            // The attempt that timed out is still on its way (a latency beyond
            // `request.timeout.ms`): retry once it has arrived.
            let at = arrive;
            schedule(k, at, Due::Resend(key));
            return;
        }
        let records = self.batches.get(key).expect("here").records.clone();
        let mut msgs = Vec::with_capacity(records.len());
        for r in &records {
            let id = k.ledger.next_id();
            let msg = Envelope {
                correlation_id: r.correlation,
                causation_id: Some(r.msg),
                headers: r.headers.clone(),
                body_bytes: r.value_bytes,
                ..Envelope::new(id, k.now)
            };
            k.ledger.create(id, Fate::Held { node });
            msgs.push(msg);
        }
        let b = self.batches.get_mut(key).expect("here");
        b.msgs = msgs;
        b.answered = None;
        let (tp, seq) = ((b.topic, b.partition), b.first_seq);
        // Ahead of new batches, behind retries of the same partition with lower sequence
        // numbers (`RecordAccumulator.reenqueue` inserts in sequence order).
        let open = std::mem::take(&mut self.producer(node).open);
        let at = open
            .iter()
            .position(|&o| {
                self.batches.get(o).is_none_or(|o| {
                    o.attempt == 0 || ((o.topic, o.partition) == tp && o.first_seq > seq)
                })
            })
            .unwrap_or(open.len());
        let p = self.producer(node);
        p.open = open;
        p.open.insert(at, key);
        self.drain(k, node);
    }

    /// Why `node` has no response to lose, if it has none: with `acks=0` the broker sends none.
    pub(crate) fn check_lose_ack(k: &Kernel, node: NodeId) -> Result<(), String> {
        if Self::producer_config(k, node).acks == Acks::Zero {
            return Err(format!(
                "{:?} uses acks=0: the broker sends it no response to lose",
                k.topo.node(node).name
            ));
        }
        Ok(())
    }

    /// The `lose_ack` command: the response to the next produce request that reaches the
    /// broker from `node` is lost (the append stands).
    pub(crate) fn lose_next_ack(&mut self, node: NodeId) {
        let p = self.producer(node);
        p.lose_next = p.lose_next.saturating_add(1);
    }

    /// The producer crashed: what its accumulator held is lost; requests in flight still
    /// reach the broker, but their responses find a new incarnation. Returns the lost messages.
    pub(crate) fn producer_crashed(&mut self, _k: &mut Kernel, node: NodeId) -> Vec<MessageId> {
        let p = self.producer(node);
        p.epoch = p.epoch.wrapping_add(1);
        p.emit_epoch = p.emit_epoch.wrapping_add(1);
        p.in_flight = 0;
        p.lose_next = 0;
        p.broken = false;
        let open = std::mem::take(&mut p.open);
        let mut lost = Vec::new();
        for b in open {
            if let Some(b) = self.batches.remove(b) {
                lost.extend(b.msgs.iter().map(|m| m.id));
            }
        }
        // Retries waiting for their backoff are lost too.
        for b in self
            .batches
            .keys_where(|b| b.producer == node && !b.in_flight && b.answered.is_none())
        {
            let b = self.batches.remove(b).expect("listed");
            lost.extend(b.msgs.iter().map(|m| m.id));
        }
        lost
    }
}

/// What the broker did with a produce request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Appended at this base offset.
    Appended(u64),
    /// Already in the log at this base offset (an idempotent retry).
    Duplicate(u64),
    /// Refused, with Kafka's reason.
    Refused(ProduceError),
}

/// A header value's size in bytes, as its text.
pub(super) fn header_len(v: &crate::message::HeaderValue) -> u32 {
    serde_json::to_string(v).map_or(0, |s| s.len() as u32)
}
