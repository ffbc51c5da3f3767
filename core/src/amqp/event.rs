//! The RabbitMQ model's events: routing, queues, deliveries and settlements, dead-lettering.
//! They reach the event stream as [`crate::EventKind::Amqp`].

use super::{Death, DeathReason};
use crate::id::{EdgeId, MessageId, NodeId};
use crate::time::SimTime;
use crate::topology::Topology;

/// What the RabbitMQ model did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AmqpEvent {
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
        /// Where it was published (boxed: returns are rare, and events stay small).
        to: Box<PublishedTo>,
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
    /// The queue and the consumer are the ends of `edge` (`Topology::edge`), which keeps the
    /// event small: events are drained every frame.
    Delivered {
        /// The message.
        message: MessageId,
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
    /// A consumer's handler step could not be carried out (its store, exchange or queue, or
    /// the edge to it, was removed by a live edit; or a key reads a header the message does
    /// not carry): the handler throws, and the delivery is settled as a failure.
    StepFailed {
        /// The consumer.
        node: NodeId,
        /// The delivered message.
        message: MessageId,
        /// Why, in words.
        reason: Box<str>,
    },
    /// The policy or operator policy that applies to an exchange or a queue changed: at its
    /// declaration, or when a policy was set or cleared. Its settings are the ones
    /// `Sim::effective_settings` reports from now on.
    PolicyApplied {
        /// The exchange or queue.
        node: NodeId,
        /// The policies that apply now.
        names: Box<PolicyNames>,
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
    /// A dead-lettered message's republishing (to its dead-letter exchange), not a publish.
    /// (Not part of the trace line: the `dead_lettered` event before it says so there.)
    pub dead_letter: bool,
}

impl Route {
    /// The bindings this routing went through, from `exchange` (where it was published) and
    /// the exchanges of `path`: each binding of a visited exchange whose destination was
    /// reached. (A destination bound twice reached through either binding shows both.)
    pub fn bindings(&self, topo: &Topology, exchange: NodeId) -> Vec<EdgeId> {
        let mut out = Vec::new();
        for hop in std::iter::once(exchange).chain(self.path.iter().copied()) {
            for &edge in &topo.node(hop).out {
                let to = topo.edge(edge).to;
                if self.targets.iter().any(|(q, _)| *q == to) || self.path.contains(&to) {
                    out.push(edge);
                }
            }
        }
        out
    }
}

impl DeadLetter {
    /// Where the message is republished: its dead-letter exchange, or, for the default
    /// exchange, the queue its routing key names; `None` if that is not a live node.
    pub fn target(&self, topo: &Topology) -> Option<NodeId> {
        if self.exchange.is_empty() {
            self.routing_keys.first().and_then(|k| topo.node_id(k))
        } else {
            topo.node_id(&self.exchange)
        }
    }
}

/// Where a message was published: the exchange and the routing key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishedTo {
    /// The exchange (`None`: the default exchange).
    pub exchange: Option<NodeId>,
    /// The routing key.
    pub routing_key: String,
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

impl AmqpEvent {
    /// The event's name as written in traces.
    pub fn name(&self) -> &'static str {
        match self {
            AmqpEvent::Routed { .. } => "routed",
            AmqpEvent::Returned { .. } => "returned",
            AmqpEvent::Confirmed { ack: true, .. } => "confirmed",
            AmqpEvent::Confirmed { ack: false, .. } => "publish_nacked",
            AmqpEvent::Enqueued { .. } => "enqueued",
            AmqpEvent::Delivered { .. } => "delivered",
            AmqpEvent::Settled { method, .. } => method.event_name(),
            AmqpEvent::Requeued { .. } => "requeued",
            AmqpEvent::Expired { .. } => "expired",
            AmqpEvent::DeadLettered { .. } => "dead_lettered",
            AmqpEvent::QueueDeleted { .. } => "queue_deleted",
            AmqpEvent::ConsumerActivated { .. } => "consumer_activated",
            AmqpEvent::ChannelError { .. } => "channel_error",
            AmqpEvent::StepFailed { .. } => "step_failed",
            AmqpEvent::PolicyApplied { .. } => "policy_applied",
            AmqpEvent::ConsumerPaused { .. } => "paused",
            AmqpEvent::ConsumerResumed { .. } => "resumed",
        }
    }

    /// The message the event is about, if any.
    pub fn message(&self) -> Option<MessageId> {
        match *self {
            AmqpEvent::Routed { message, .. }
            | AmqpEvent::StepFailed { message, .. }
            | AmqpEvent::Returned { message, .. }
            | AmqpEvent::Confirmed { message, .. }
            | AmqpEvent::Enqueued { message, .. }
            | AmqpEvent::Delivered { message, .. }
            | AmqpEvent::Settled { message, .. }
            | AmqpEvent::Requeued { message, .. }
            | AmqpEvent::Expired { message, .. }
            | AmqpEvent::DeadLettered { message, .. } => Some(message),
            AmqpEvent::QueueDeleted { .. }
            | AmqpEvent::ConsumerActivated { .. }
            | AmqpEvent::ChannelError { .. }
            | AmqpEvent::PolicyApplied { .. }
            | AmqpEvent::ConsumerPaused { .. }
            | AmqpEvent::ConsumerResumed { .. } => None,
        }
    }
}

/// The policy and operator policy that apply to an object, by name (`None`: none).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PolicyNames {
    /// The policy.
    pub policy: Option<String>,
    /// The operator policy.
    pub operator_policy: Option<String>,
}

impl PolicyNames {
    /// The names of what applies.
    pub(crate) fn of(applied: &super::policy::Applied) -> PolicyNames {
        PolicyNames {
            policy: applied.policy.as_ref().map(|p| p.name.clone()),
            operator_policy: applied.operator_policy.as_ref().map(|p| p.name.clone()),
        }
    }
}
