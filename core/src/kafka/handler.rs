//! Records that handlers produce (a `produce` step): each is sent alone, as its own produce
//! request, over the handler's node's edge to the topic, as a message on the wire; the broker appends it (or refuses it, as it refuses a producer's batch) and the
//! acknowledgement answers the handler's step, which waits for it.

use super::event::Partitioner;
use super::model::{KafkaModel, Pending};
use super::producer::Outcome;
use crate::handler::{Handoff, RecordHandoff};
use crate::id::{EdgeId, NodeId};
use crate::kernel::Kernel;
use crate::message::Envelope;
use crate::model::{StepAnswer, StepOrigin};

/// `from`'s handler sends the record `msg` (made and counted as its publish) to `topic` over
/// `edge`: the client picks its partition (an explicit one; else its key's murmur2 hash; else
/// one drawn from the seed), and the request crosses the edge, what the broker needs beyond
/// the message waiting in the kernel's handoffs.
#[allow(clippy::too_many_arguments)]
pub(crate) fn send(
    k: &mut Kernel,
    from: NodeId,
    edge: EdgeId,
    topic: NodeId,
    key: Option<String>,
    partition: Option<u32>,
    msg: Box<Envelope>,
    origin: StepOrigin,
) {
    let partitions = KafkaModel::topic_config(k, topic).partitions.max(1);
    let (partition, partitioner) = match (partition, &key) {
        (Some(p), _) => (p, Partitioner::Explicit),
        (None, Some(key)) => (
            super::partitioner::partition_for_key(key.as_bytes(), partitions),
            Partitioner::Key,
        ),
        // kafka-python's `DefaultPartitioner`: `random.choice(all_partitions)`.
        (None, None) => (
            k.rng.range_inclusive(0, u64::from(partitions - 1)) as u32,
            Partitioner::Sticky,
        ),
    };
    let record = RecordHandoff {
        partition,
        partitioner,
        key,
        origin,
    };
    k.handoffs.insert(msg.id, Handoff::Record(Box::new(record)));
    k.send_on(edge, from, topic, msg);
}

impl KafkaModel {
    /// A handler's record reaches the broker over `edge`: appended as a batch of one (not
    /// idempotent), or refused; the acknowledgement crosses back and answers the step
    /// (refused: it fails).
    // The message arrives boxed, as every arrival does (the agenda holds it so); on 32-bit
    // targets clippy would rather take it by value, which would only move it out of its box.
    #[allow(clippy::boxed_local)]
    pub(crate) fn handler_record_arrives(
        &mut self,
        k: &mut Kernel,
        edge: EdgeId,
        msg: Box<Envelope>,
    ) {
        let Some(Handoff::Record(r)) = k.handoffs.remove(&msg.id) else {
            unreachable!("a record on a handler's produce edge is handed off")
        };
        let RecordHandoff {
            partition,
            partitioner,
            key,
            origin,
        } = *r;
        let (from, topic) = {
            let e = k.topo.edge(edge);
            (e.from, e.to)
        };
        let key = key.map(|key| self.intern(&key));
        let key_bytes = key.map_or(0, |key| self.key_text(key).len() as u32);
        let header_bytes: u32 = msg
            .headers
            .iter()
            .map(|(name, v)| name.len() as u32 + super::producer::header_len(v))
            .sum();
        let pending = Pending {
            msg: msg.id,
            correlation: msg.correlation_id,
            key,
            tombstone: false,
            bytes: key_bytes + msg.body_bytes + header_bytes,
            timestamp: k.now,
            headers: msg.headers.clone(),
            value_bytes: msg.body_bytes,
            partitioner,
        };
        let outcome = self.append_batch(k, from, topic, partition, 0, 0, &[pending], vec![*msg]);
        let answer = match outcome {
            Outcome::Appended(_) | Outcome::Duplicate(_) => StepAnswer::Done,
            Outcome::Refused(_) => StepAnswer::Refused,
        };
        let back = k.topo.edge(edge).latency.sample(&mut k.rng);
        k.schedule(k.now + back, origin.answer(answer));
    }
}
