//! Commands: every way the outside world changes a running simulation.

use crate::id::NodeId;
use crate::message::MessageTemplate;
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
    /// Only producers publish.
    #[error("{name:?} is a {kind}; only a producer can publish")]
    NotAProducer {
        /// The node's name.
        name: String,
        /// Its kind.
        kind: &'static str,
    },
    /// The message body is larger than [`crate::scenario::MAX_BODY_BYTES`].
    #[error("a body of {0} bytes is larger than the {max} byte limit", max = crate::scenario::MAX_BODY_BYTES)]
    BodyTooLarge(u32),
}
