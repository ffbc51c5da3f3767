//! Looking up one message for an inspector: where it is now, and what it carries.
//!
//! [`Sim::locate`] searches the same places [`Sim::check_conservation`] scans (the kernel's and
//! every model's, as `Sim::for_each_place` lists them): messages on an edge, held by a relay, on
//! their way to or back from a consumer, in queues' stores and consumers' buffers. It costs time
//! in proportion to the state, so call it on a click, not on every frame.

use crate::amqp::{Delivery, PlaceDetail as AmqpPlace, Settlement};
use crate::id::{EdgeId, MessageId, NodeId};
use crate::message::Envelope;
use crate::model::{Place, PlaceDetail};
use crate::sim::Sim;
use crate::time::SimTime;
use serde::Serialize;

/// Where a live message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "at", rename_all = "snake_case")]
pub enum MessageLocation {
    /// In a queue's store. An unacked message is located where it physically is (on the
    /// consume edge or at the consumer; [`MessageView::delivery`] names its queue), so a
    /// message found in a queue is always ready: `ready` is `true`.
    InQueue {
        /// The queue.
        queue: NodeId,
        /// Ready to be delivered (always, see above).
        ready: bool,
    },
    /// Delivered to a consumer, which holds it: processing it, or with it in its buffer.
    AtConsumer {
        /// The consumer.
        consumer: NodeId,
        /// Being processed (`false`: waiting in the buffer).
        processing: bool,
    },
    /// On the wire along `edge`, arriving at `arrive`: a publish or a plain hop
    /// (towards the edge's `to`), a delivery (towards the consumer), or a settlement
    /// travelling back to the broker ([`DeliveryView::settlement`] is set; it goes from the
    /// consumer, the edge's `to`, to the queue, its `from`).
    OnEdge {
        /// The edge.
        edge: EdgeId,
        /// When it reaches the other end.
        arrive: SimTime,
    },
    /// Held by a node that is not a queue or a consumer: a relay, until it forwards it.
    AtNode {
        /// The node.
        node: NodeId,
    },
}

/// A delivery as the consumer's channel sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct DeliveryView {
    /// The queue it was delivered from.
    pub queue: NodeId,
    /// The consumer it was delivered to.
    pub consumer: NodeId,
    /// The queue → consumer edge.
    pub edge: EdgeId,
    /// Its delivery tag on the consumer's channel.
    pub tag: u64,
    /// Set while the consumer's settlement travels back to the broker.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settlement: Option<Settlement>,
}

/// One live message, as [`Sim::locate`] finds it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MessageView {
    /// The message itself (a copy).
    pub envelope: Envelope,
    /// Where it is.
    pub location: MessageLocation,
    /// The `redelivered` flag: for a delivered message, the one it was delivered with; for a
    /// message in a queue, the one its next delivery will carry. `None` outside queues and
    /// consumers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redelivered: Option<bool>,
    /// For a delivered message (on its way to a consumer, at it, or being settled): the
    /// delivery.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<DeliveryView>,
    /// For a message in a queue: its place in delivery order, 0 being the next to go.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
    /// When it next moves by itself: its arrival on an edge, a relay forwarding it, the end
    /// of its processing. `None` while it waits (in a queue, in a consumer's buffer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<SimTime>,
    /// For a Kafka record: its topic, partition, offset, key and timestamp.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<RecordView>,
    /// For a BullMQ job: its id, state, attempts and options.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<JobDetailView>,
    /// The W3C `traceparent` it carries (in its AMQP headers, job data, record headers or
    /// HTTP headers): its chain's trace id and its own span's id (see
    /// [`crate::traces::traceparent`]).
    pub traceparent: String,
}

/// A BullMQ job's own fields, as `Job` has them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JobDetailView {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its state (`getState`: `waiting`, `prioritized`, `delayed`, `active`,
    /// `waiting-children`).
    pub state: &'static str,
    /// `attemptsMade`.
    pub attempts_made: u32,
    /// `attemptsStarted`.
    pub attempts_started: u32,
    /// `stalledCounter`.
    pub stalled_count: u32,
    /// Its options (`opts`), as JSON.
    pub opts: String,
}

/// A Kafka record's own fields.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RecordView {
    /// Its topic.
    pub topic: NodeId,
    /// Its partition.
    pub partition: u32,
    /// Its offset, once the log has it (`None` while it is with its producer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Its key (`None`: a null key).
    pub key: Option<String>,
    /// A tombstone: a key with a null value.
    pub tombstone: bool,
    /// Its timestamp (`CreateTime`).
    pub timestamp: SimTime,
}

impl DeliveryView {
    fn of(d: &Delivery, consumer: NodeId, settlement: Option<Settlement>) -> DeliveryView {
        DeliveryView {
            queue: d.queue,
            consumer,
            edge: d.edge,
            tag: d.tag,
            settlement,
        }
    }
}

impl MessageView {
    /// The view of a message at `place`.
    fn at(place: &Place<'_>) -> MessageView {
        let plain = |location| MessageView {
            envelope: place.msg.clone(),
            location,
            redelivered: None,
            delivery: None,
            position: None,
            until: place.until,
            record: None,
            job: None,
            traceparent: String::new(),
        };
        let delivered = |d: &Delivery, consumer, location, settlement| MessageView {
            envelope: place.msg.clone(),
            location,
            redelivered: Some(d.redelivered),
            delivery: Some(DeliveryView::of(d, consumer, settlement)),
            position: None,
            until: place.until,
            record: None,
            job: None,
            traceparent: String::new(),
        };
        match place.detail {
            PlaceDetail::Wire { edge, arrive } => plain(MessageLocation::OnEdge { edge, arrive }),
            PlaceDetail::Node { node } => plain(MessageLocation::AtNode { node }),
            PlaceDetail::Http(
                crate::http::PlaceDetail::Request { client: node }
                | crate::http::PlaceDetail::Queued { service: node }
                | crate::http::PlaceDetail::Serving { service: node },
            ) => plain(MessageLocation::AtNode { node }),
            PlaceDetail::Kafka(crate::kafka::PlaceDetail::Accumulator {
                producer: node, ..
            }) => plain(MessageLocation::AtNode { node }),
            PlaceDetail::Bullmq(crate::bullmq::PlaceDetail::Job { queue, job }) => MessageView {
                job: Some(JobDetailView {
                    id: job.info.id.to_string(),
                    name: job.info.name.to_string(),
                    state: job.state.as_str(),
                    attempts_made: job.attempts_made,
                    attempts_started: job.attempts_started,
                    stalled_count: job.stalled_count,
                    opts: serde_json::to_string(&*job.opts).unwrap_or_default(),
                }),
                ..plain(MessageLocation::AtNode { node: queue })
            },
            PlaceDetail::Kafka(crate::kafka::PlaceDetail::Log { record }) => {
                plain(MessageLocation::AtNode { node: record.tp.0 })
            }
            PlaceDetail::Kafka(crate::kafka::PlaceDetail::Request {
                edge: Some(edge),
                arrive,
                ..
            }) => plain(MessageLocation::OnEdge { edge, arrive }),
            PlaceDetail::Kafka(crate::kafka::PlaceDetail::Request { edge: None, .. }) => {
                unreachable!("a request on the wire has its edge")
            }
            PlaceDetail::Amqp(AmqpPlace::Delivering {
                consumer,
                d,
                arrive,
            }) => delivered(
                d,
                consumer,
                MessageLocation::OnEdge {
                    edge: d.edge,
                    arrive,
                },
                None,
            ),
            PlaceDetail::Amqp(AmqpPlace::Settling {
                consumer,
                d,
                how,
                arrive,
            }) => delivered(
                d,
                consumer,
                MessageLocation::OnEdge {
                    edge: d.edge,
                    arrive,
                },
                Some(how),
            ),
            PlaceDetail::Amqp(AmqpPlace::InQueue {
                queue,
                position,
                redelivered,
            }) => MessageView {
                redelivered: Some(redelivered),
                position: Some(position),
                ..plain(MessageLocation::InQueue { queue, ready: true })
            },
            PlaceDetail::Amqp(AmqpPlace::AtConsumer {
                consumer,
                d,
                processing,
            }) => delivered(
                d,
                consumer,
                MessageLocation::AtConsumer {
                    consumer,
                    processing,
                },
                None,
            ),
        }
    }
}

impl Sim {
    /// Where the live message `id` is, with a copy of it. `None` if it has ended (consumed,
    /// acked or dropped) or never existed.
    ///
    /// Takes time in proportion to the state (every agenda entry, queue and consumer buffer):
    /// meant for a click in an inspector, not for every frame.
    pub fn locate(&self, id: MessageId) -> Option<MessageView> {
        if self.fate(id).is_none_or(|f| f.is_terminal()) {
            return None;
        }
        let mut found = None;
        self.for_each_place(&mut |p| {
            if found.is_none() && p.msg.id == id {
                let mut view = MessageView::at(&p);
                if let PlaceDetail::Kafka(
                    crate::kafka::PlaceDetail::Accumulator { record, .. }
                    | crate::kafka::PlaceDetail::Request { record, .. }
                    | crate::kafka::PlaceDetail::Log { record },
                ) = p.detail
                {
                    view.record = Some(RecordView {
                        topic: record.tp.0,
                        partition: record.tp.1,
                        offset: record.offset,
                        key: record.key.map(|k| self.kafka_key(k).to_owned()),
                        tombstone: record.tombstone,
                        timestamp: record.timestamp,
                    });
                }
                view.traceparent = crate::traces::traceparent(self.seed(), &view.envelope);
                found = Some(view);
            }
        });
        found
    }
}
