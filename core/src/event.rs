//! Events: what the simulation reports, in order. The frontend animates them, the CLI prints
//! them, and tests hash them. The kernel's own events (messages moving, nodes crashing) are
//! here; each model's events are one variant wrapping that model's own enum
//! ([`EventKind::Amqp`]).

use crate::amqp::AmqpEvent;
use crate::http::HttpEvent;
use crate::id::{EdgeId, MessageId, NodeId};
use crate::kafka::KafkaEvent;
use crate::ledger::DropReason;
use crate::time::SimTime;

/// One thing that happened, at `at`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// When it happened.
    pub at: SimTime,
    /// What happened.
    pub kind: EventKind,
}

/// What happened. Movement events carry `depart` and `arrive`; the frontend interpolates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// A producer made a new message.
    Published {
        /// The producer.
        node: NodeId,
        /// The new message.
        message: MessageId,
        /// Its correlation id.
        correlation: MessageId,
        /// The message whose handling made it (its causation id), if any: a producer's own
        /// message has none. Not written in trace lines (the traces of [`crate::traces`] read
        /// it).
        cause: Option<MessageId>,
    },
    /// A message left `from` along `edge` and will reach `to` at `arrive`.
    Sent {
        /// The message.
        message: MessageId,
        /// The edge.
        edge: EdgeId,
        /// The sender.
        from: NodeId,
        /// The receiver.
        to: NodeId,
        /// Departure time (equals `at`).
        depart: SimTime,
        /// Arrival time.
        arrive: SimTime,
    },
    /// A relay took a message and will forward it at `until`, or a consumer started processing
    /// a delivery and will finish at `until`.
    Received {
        /// The message.
        message: MessageId,
        /// The relay or consumer.
        node: NodeId,
        /// When it will be forwarded, or processed.
        until: SimTime,
    },
    /// A sink consumed a message. Its life ends here.
    Consumed {
        /// The message.
        message: MessageId,
        /// The sink.
        node: NodeId,
    },
    /// A message was dropped. Its life ends here, for `reason`.
    Dropped {
        /// The message.
        message: MessageId,
        /// Where.
        node: NodeId,
        /// Why.
        reason: DropReason,
    },
    /// A node crashed; `lost` messages it held were dropped (each also has a `Dropped` event).
    Crashed {
        /// The node.
        node: NodeId,
        /// How many held messages were lost.
        lost: u32,
    },
    /// A node came back up.
    Restarted {
        /// The node.
        node: NodeId,
    },
    /// A node was removed by a live edit.
    Removed {
        /// The node.
        node: NodeId,
    },
    /// A live `configure` command changed a node's settings in place.
    Configured {
        /// The node.
        node: NodeId,
    },
    /// Something the RabbitMQ model did (`crate::amqp::AmqpEvent`).
    Amqp(AmqpEvent),
    /// Something the request-response model did (`crate::http::HttpEvent`).
    Http(HttpEvent),
    /// Something the Kafka model did (`crate::kafka::KafkaEvent`).
    Kafka(KafkaEvent),
    /// Something the BullMQ model did (`crate::bullmq::BullmqEvent`).
    Bullmq(crate::bullmq::BullmqEvent),
    /// Something a store did (`crate::data::DataEvent`), boxed: a store's events carry keys.
    Data(Box<crate::data::DataEvent>),
}

impl From<AmqpEvent> for EventKind {
    fn from(e: AmqpEvent) -> Self {
        EventKind::Amqp(e)
    }
}

impl EventKind {
    /// The event's name as written in traces.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Published { .. } => "published",
            EventKind::Sent { .. } => "sent",
            EventKind::Received { .. } => "received",
            EventKind::Consumed { .. } => "consumed",
            EventKind::Dropped { .. } => "dropped",
            EventKind::Crashed { .. } => "crashed",
            EventKind::Restarted { .. } => "restarted",
            EventKind::Removed { .. } => "removed",
            EventKind::Configured { .. } => "configured",
            EventKind::Amqp(e) => e.name(),
            EventKind::Http(e) => e.name(),
            EventKind::Kafka(e) => e.name(),
            EventKind::Bullmq(e) => e.name(),
            EventKind::Data(e) => e.name(),
        }
    }

    /// The message the event is about, if any.
    pub fn message(&self) -> Option<MessageId> {
        match *self {
            EventKind::Published { message, .. }
            | EventKind::Sent { message, .. }
            | EventKind::Received { message, .. }
            | EventKind::Consumed { message, .. }
            | EventKind::Dropped { message, .. } => Some(message),
            EventKind::Crashed { .. }
            | EventKind::Restarted { .. }
            | EventKind::Removed { .. }
            | EventKind::Configured { .. } => None,
            EventKind::Amqp(ref e) => e.message(),
            EventKind::Http(ref e) => e.message(),
            EventKind::Kafka(ref e) => e.message(),
            EventKind::Bullmq(ref e) => e.message(),
            EventKind::Data(ref e) => e.message(),
        }
    }
}
