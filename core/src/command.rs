//! Commands: every way the outside world changes a running simulation.

use crate::amqp::Settlement;
use crate::id::{EdgeId, NodeId};
use crate::message::MessageTemplate;
use crate::scenario::{EdgeSpec, NodeSpec};
use crate::time::SimTime;
use serde::{Deserialize, Serialize};

/// An input to [`crate::Sim::apply`]. Each applied command is recorded in the edit log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case")]
pub enum Command {
    /// The producer `node` publishes this message now.
    Publish {
        /// A producer.
        node: NodeId,
        /// The message.
        message: MessageTemplate,
    },
    /// `node` crashes now: it stops, and whatever it holds is lost.
    Crash {
        /// Any node.
        node: NodeId,
    },
    /// `node` comes back up now.
    Restart {
        /// Any node.
        node: NodeId,
    },
    /// The consumer `node` sends `basic.ack`, `basic.nack` or `basic.reject` now.
    Settle {
        /// A consumer.
        node: NodeId,
        /// How.
        how: Settlement,
        /// The delivery tag; `None` means the message being processed, or else the last one
        /// delivered. An unknown tag is a channel error (406 PRECONDITION_FAILED).
        delivery_tag: Option<u64>,
        /// Every unacked delivery up to the tag (`ack` and `nack`).
        multiple: bool,
    },
    /// Adds a node (declares an exchange or a queue, connects a client…).
    AddNode {
        /// The node, as in a scenario document.
        spec: NodeSpec,
    },
    /// Removes a node: deleting a queue drops its messages; removing a consumer closes its
    /// connection, which requeues its unacked messages.
    RemoveNode {
        /// Any live node.
        node: NodeId,
    },
    /// Adds an edge: a binding, a `basic.consume`, a publish path.
    AddEdge {
        /// The edge, as in a scenario document.
        spec: EdgeSpec,
    },
    /// Removes an edge: unbinds, or cancels a consumer (`basic.cancel`; its unacked messages
    /// stay with it until it settles them).
    RemoveEdge {
        /// Any live edge.
        edge: EdgeId,
    },
    /// Sets a RabbitMQ policy (`operator`: an operator policy), replacing the one of that name:
    /// it applies to the exchanges and queues it matches at once.
    SetPolicy {
        /// The policy.
        policy: crate::amqp::policy::Policy,
        /// An operator policy.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        operator: bool,
    },
    /// Removes the policy (`operator`: the operator policy) of that name.
    ClearPolicy {
        /// Its name.
        name: String,
        /// An operator policy.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        operator: bool,
    },
    /// Changes a live node's settings in place (`docs/amqp.md#configuring-a-live-node`).
    ///
    /// `spec.id` must be the node's name and `spec.kind` its kind: renaming or changing the kind
    /// is a `RemoveNode` and an `AddNode`. A producer, relay or consumer takes the new settings
    /// at once (a consumer's `auto_ack` and `x-priority` only while it has no `basic.consume`).
    /// An exchange or a queue cannot be redeclared with different settings (RabbitMQ's 406
    /// PRECONDITION_FAILED); only its `position` may change. A `position` of `None` keeps the
    /// node where it is.
    Configure {
        /// Any live node.
        node: NodeId,
        /// Its new settings, as in a scenario document.
        spec: NodeSpec,
    },
    /// The consumer's application stalls (a GC pause, a hung database call): it finishes the
    /// delivery it is processing, settling it as usual, but starts no new one. Deliveries keep
    /// arriving and wait in its buffer, bounded by its prefetch as usual.
    Pause {
        /// A consumer that is up and not paused.
        node: NodeId,
    },
    /// A paused consumer runs again: it starts processing its next buffered delivery at once.
    Resume {
        /// A paused consumer.
        node: NodeId,
    },
    /// A Kafka consumer moves its position on the partitions it owns (all, a topic's, or one).
    Seek {
        /// A Kafka consumer.
        node: NodeId,
        /// Only this topic's partitions.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        topic: Option<NodeId>,
        /// Only this partition (with `topic`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        partition: Option<u32>,
        /// Where to.
        to: crate::kafka::SeekTo,
    },
    /// The broker's response to the Kafka producer's next produce request is lost, so it
    /// retries that batch after `request.timeout.ms` (a duplicate unless it is idempotent).
    LoseAck {
        /// A Kafka producer.
        node: NodeId,
    },
}

/// One entry of the edit log: a command, and exactly when it was applied.
///
/// `after_step` is the number of events processed before the command. Replay steps to that
/// count rather than to a time, because several events can share one microsecond and a command
/// applied between two of them must land between them again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Edit {
    /// The simulated time when the command was applied.
    pub at: SimTime,
    /// Events processed before it.
    pub after_step: u64,
    /// The command.
    pub command: Command,
}

/// Why a command was refused. A refused command changes nothing and is not logged.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// The node id is not in the topology.
    #[error("there is no node {0:?}")]
    UnknownNode(NodeId),
    /// The node's kind does not take this action: only a producer publishes, only a consumer
    /// settles or is paused, the broker's exchanges and queues do not crash. Says which.
    #[error("{0}")]
    NotAllowed(String),
    /// The node was removed.
    #[error("node {0:?} was removed")]
    Removed(NodeId),
    /// The edge id is not in the topology, or was removed.
    #[error("there is no live edge {0:?}")]
    UnknownEdge(EdgeId),
    /// The edit would make the topology invalid.
    #[error("{0}")]
    Invalid(String),
    /// The message body is larger than [`crate::scenario::MAX_BODY_BYTES`].
    #[error("a body of {0} bytes is larger than the {max} byte limit", max = crate::scenario::MAX_BODY_BYTES)]
    BodyTooLarge(u32),
}
