//! The data model's rules: which edges reach a store, which actions it takes, and the checks
//! of its settings.

use super::kind::{DataKind, EdgeKind};
use crate::http::HttpKind;
use crate::kernel::not_a;
use crate::model::Action;
use crate::scenario::{Diagnostic, NodeKind, Path};

/// Which kinds an edge with a store at an end may connect, and what it is: a service's, a
/// consumer's or a worker's handler reaches a store over an edge from it.
pub(crate) fn edge_rule(from: &NodeKind, to: &NodeKind) -> Result<EdgeKind, &'static str> {
    match (from, to) {
        (
            NodeKind::Http(HttpKind::Service(_))
            | NodeKind::Amqp(crate::amqp::AmqpKind::Consumer(_))
            | NodeKind::Bullmq(crate::bullmq::BullmqKind::Worker(_))
            | NodeKind::Kafka(crate::kafka::KafkaKind::Consumer(_)),
            NodeKind::Data(DataKind::Store(_)),
        ) => Ok(EdgeKind::Access),
        (NodeKind::Data(DataKind::Store(_)), _) => Err(
            "a store sends only what its outbox relay publishes, to an exchange or a queue; draw \
             the edge to a store from the service whose handler writes it",
        ),
        (
            NodeKind::Producer(_)
            | NodeKind::Relay(_)
            | NodeKind::Sink(_)
            | NodeKind::Amqp(_)
            | NodeKind::Http(_)
            | NodeKind::Kafka(_)
            | NodeKind::Bullmq(_),
            _,
        ) => Err(
            "a store is read and written by a handler's steps: connect a service, a consumer, a \
             worker or a Kafka consumer to it",
        ),
    }
}

/// Which actions a store takes: none yet (it does not crash in this model).
pub(crate) fn action_rule(name: &str, kind: &NodeKind, action: Action) -> Result<(), String> {
    let NodeKind::Data(d) = kind else {
        unreachable!("the model judges its own kinds")
    };
    match (action, d) {
        (Action::Crash | Action::Restart, DataKind::Store(_)) => Err(format!(
            "{name:?} is a store; stores do not crash in this model (its writers and their \
             inputs do)"
        )),
        (Action::Publish, _) => Err(format!(
            "{name:?} is a {}; only a client or a producer sends messages of its own",
            d.name()
        )),
        (Action::Settle, _) => Err(not_a(name, kind, "consumer", "settles deliveries")),
        (Action::Seek, _) => Err(not_a(name, kind, "kafka_consumer", "seeks")),
        (Action::LoseAck, _) => Err(not_a(name, kind, "kafka_producer", "loses acks")),
        (Action::Pause | Action::Resume, _) => {
            Err(not_a(name, kind, "consumer", "can be paused and resumed"))
        }
    }
}

/// The checks of a store's settings.
pub(crate) fn check_kind(kind: &DataKind, path: Path<'_>, diags: &mut Vec<Diagnostic>) {
    match kind {
        DataKind::Store(s) => {
            crate::scenario::parse::check_dist(&s.write_latency, path.at("write_latency"), diags);
            crate::scenario::parse::check_dist(&s.read_latency, path.at("read_latency"), diags);
            if s.outbox_interval.is_zero() {
                diags.push(Diagnostic::new(
                    path.at("outbox_interval"),
                    "the relay would poll without time passing; expected at least 1ms",
                ));
            }
        }
    }
}

/// The checks across nodes of stores: a read model's `projection_of` names another store that
/// is not itself a read model (project from the source of truth).
pub(crate) fn check_topology<'a>(
    s: &'a crate::scenario::Scenario,
    kind: &dyn Fn(&str) -> Option<&'a NodeKind>,
    diags: &mut Vec<Diagnostic>,
) {
    for (i, n) in s.nodes.iter().enumerate() {
        let NodeKind::Data(DataKind::Store(c)) = &n.kind else {
            continue;
        };
        let Some(source) = &c.projection_of else {
            continue;
        };
        let path = format!("nodes[{i}].config.projection_of");
        let problem = match kind(source) {
            _ if *source == n.id => Some(format!(
                "{source:?} is this store; a read model projects another store"
            )),
            None => Some(format!("{source:?}: there is no node of that name")),
            Some(NodeKind::Data(DataKind::Store(src))) => src.projection_of.as_ref().map(|up| {
                format!(
                    "{source:?} is itself a read model (of {up:?}); project from the source of \
                     truth, {up:?}"
                )
            }),
            Some(other) => Some(format!(
                "{source:?} is a {}; a read model projects a store",
                other.name()
            )),
        };
        if let Some(problem) = problem {
            diags.push(Diagnostic::new(path, problem));
        }
    }
}
