//! Events: what the simulation reports, in order. The frontend animates them, the CLI prints
//! them, and tests hash them.

use crate::amqp::{Death, DeathReason};
use crate::id::{EdgeId, MessageId, NodeId};
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
    /// An exchange routed a message to queues. The first queue gets the message itself, each
    /// other queue a copy with its own id (`copies`, parallel to `queues`).
    Routed {
        /// The message.
        message: MessageId,
        /// The exchange it was published to (`None`: the default exchange).
        exchange: Option<NodeId>,
        /// Where it went (boxed: events stay small, and most are not routings).
        route: Box<Route>,
    },
    /// A mandatory message routed nowhere and went back to its publisher (`basic.return`).
    Returned {
        /// The message.
        message: MessageId,
        /// The publisher.
        node: NodeId,
        /// The exchange (`None`: the default exchange).
        exchange: Option<NodeId>,
        /// Its routing key.
        routing_key: Box<str>,
    },
    /// The broker confirmed a publish to a publisher using confirms (`ack: false` is a nack).
    Confirmed {
        /// The publisher.
        node: NodeId,
        /// The publish sequence number.
        seq: u64,
        /// The message.
        message: MessageId,
        /// `basic.ack` (true) or `basic.nack` (false).
        ack: bool,
    },
    /// A message was stored in a queue, ready.
    Enqueued {
        /// The message.
        message: MessageId,
        /// The queue.
        queue: NodeId,
        /// Ready messages afterwards.
        ready: u32,
    },
    /// A queue sent a message to a consumer, arriving at `arrive`.
    Delivered {
        /// The message.
        message: MessageId,
        /// The queue.
        queue: NodeId,
        /// The consumer.
        consumer: NodeId,
        /// The queue → consumer edge.
        edge: EdgeId,
        /// The delivery tag on the consumer's channel.
        tag: u64,
        /// The `redelivered` flag.
        redelivered: bool,
        /// Arrival time (it departs at `at`).
        arrive: SimTime,
    },
    /// The broker received a consumer's settlement of a delivery: `acked` ends the message;
    /// `nacked` and `rejected` requeue it or dead-letter / drop it.
    Settled {
        /// The message.
        message: MessageId,
        /// The queue.
        queue: NodeId,
        /// The consumer.
        consumer: NodeId,
        /// Its delivery tag.
        tag: u64,
        /// `ack`, `nack` or `reject`.
        method: SettleMethod,
        /// Requeue requested (nack and reject).
        requeue: bool,
        /// Part of a `multiple` settlement.
        multiple: bool,
    },
    /// A message went back into a queue: after a requeue, or because its consumer went away.
    Requeued {
        /// The message.
        message: MessageId,
        /// The queue.
        queue: NodeId,
    },
    /// A message's TTL ran out in a queue.
    Expired {
        /// The message.
        message: MessageId,
        /// The queue.
        queue: NodeId,
    },
    /// A message was dead-lettered from a queue and republished to its dead-letter exchange.
    DeadLettered {
        /// The message.
        message: MessageId,
        /// The queue it died in.
        queue: NodeId,
        /// Why.
        reason: DeathReason,
        /// Where it is republished, and its history.
        detail: Box<DeadLetter>,
    },
    /// A queue was deleted; its `dropped` ready messages were dropped (`queue_deleted`).
    QueueDeleted {
        /// The queue.
        queue: NodeId,
        /// Why: `deleted`, `auto_delete`, `x-expires` or `exclusive`.
        why: &'static str,
        /// Ready messages dropped with it.
        dropped: u32,
    },
    /// A single-active-consumer queue made a consumer its active one.
    ConsumerActivated {
        /// The queue.
        queue: NodeId,
        /// The consumer.
        consumer: NodeId,
    },
    /// A channel error closed a consumer's channel (and, here, its connection).
    ChannelError {
        /// The consumer.
        node: NodeId,
        /// The AMQP reply code.
        code: u16,
        /// The reply text.
        text: Box<str>,
    },
    /// A live `configure` command changed a node's settings in place.
    Configured {
        /// The node.
        node: NodeId,
    },
    /// A consumer's application stalled (a `pause` command): it finishes the delivery it is
    /// processing but starts no new one. Deliveries keep arriving in its buffer.
    ConsumerPaused {
        /// The consumer.
        node: NodeId,
    },
    /// A paused consumer's application runs again (a `resume` command).
    ConsumerResumed {
        /// The consumer.
        node: NodeId,
    },
}

/// Where an exchange routed a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// Exchanges visited after the first, in order: bindings to exchanges and alternate
    /// exchanges.
    pub path: Vec<NodeId>,
    /// Each queue, once, in node order, with the message it got: the first gets the message
    /// itself, the others copies with their own ids.
    pub targets: Vec<(NodeId, MessageId)>,
}

/// Where a dead-lettered message is republished, and its history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetter {
    /// The dead-letter exchange's name (`""`: the default exchange).
    pub exchange: String,
    /// The routing keys it is republished with.
    pub routing_keys: Vec<String>,
    /// Its `x-death` afterwards, most recent first.
    pub x_death: Vec<Death>,
}

/// How a delivery was settled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SettleMethod {
    /// `basic.ack`.
    Ack,
    /// `basic.nack`.
    Nack,
    /// `basic.reject`.
    Reject,
}

impl SettleMethod {
    /// The event name.
    pub fn event_name(self) -> &'static str {
        match self {
            SettleMethod::Ack => "acked",
            SettleMethod::Nack => "nacked",
            SettleMethod::Reject => "rejected",
        }
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
            EventKind::Routed { .. } => "routed",
            EventKind::Returned { .. } => "returned",
            EventKind::Confirmed { ack: true, .. } => "confirmed",
            EventKind::Confirmed { ack: false, .. } => "publish_nacked",
            EventKind::Enqueued { .. } => "enqueued",
            EventKind::Delivered { .. } => "delivered",
            EventKind::Settled { method, .. } => method.event_name(),
            EventKind::Requeued { .. } => "requeued",
            EventKind::Expired { .. } => "expired",
            EventKind::DeadLettered { .. } => "dead_lettered",
            EventKind::QueueDeleted { .. } => "queue_deleted",
            EventKind::ConsumerActivated { .. } => "consumer_activated",
            EventKind::ChannelError { .. } => "channel_error",
            EventKind::Configured { .. } => "configured",
            EventKind::ConsumerPaused { .. } => "paused",
            EventKind::ConsumerResumed { .. } => "resumed",
        }
    }

    /// The message the event is about, if any.
    pub fn message(&self) -> Option<MessageId> {
        match *self {
            EventKind::Published { message, .. }
            | EventKind::Sent { message, .. }
            | EventKind::Received { message, .. }
            | EventKind::Consumed { message, .. }
            | EventKind::Dropped { message, .. }
            | EventKind::Routed { message, .. }
            | EventKind::Returned { message, .. }
            | EventKind::Confirmed { message, .. }
            | EventKind::Enqueued { message, .. }
            | EventKind::Delivered { message, .. }
            | EventKind::Settled { message, .. }
            | EventKind::Requeued { message, .. }
            | EventKind::Expired { message, .. }
            | EventKind::DeadLettered { message, .. } => Some(message),
            EventKind::Crashed { .. }
            | EventKind::Restarted { .. }
            | EventKind::Removed { .. }
            | EventKind::QueueDeleted { .. }
            | EventKind::ConsumerActivated { .. }
            | EventKind::ChannelError { .. }
            | EventKind::Configured { .. }
            | EventKind::ConsumerPaused { .. }
            | EventKind::ConsumerResumed { .. } => None,
        }
    }
}
