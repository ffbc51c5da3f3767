//! The RabbitMQ model's rules, each written once: which edges it allows and what they are,
//! which actions its kinds take, what a live reconfigure of them takes, and the validation of
//! their settings and of the topology around them. Validation, commands and the editor all ask
//! these.

use super::config::{ConsumerConfig, Overflow, QueueConfig, QueueType, Settlement};
use super::kind::{AmqpKind, EdgeKind};
use super::{ExchangeType, TopicPattern, XMatch};
use crate::dist::DurationDist;
use crate::kernel::not_a;
use crate::model::{Action, Reconfigure};
use crate::scenario::{Diagnostic, EdgeSpec, NodeKind, Path, Scenario};
use serde_json::Value;
use std::collections::BTreeMap;

/// Which kinds an edge with one of this model's kinds at an end may connect, and what it is.
pub(crate) fn edge_rule(from: &NodeKind, to: &NodeKind) -> Result<EdgeKind, &'static str> {
    use AmqpKind::{Consumer, Exchange, Queue};
    use NodeKind::{Amqp, Producer, Relay, Sink};
    match (from, to) {
        (Sink(_), _) => Err("a sink sends nothing"),
        // A consumer's handler publishes: to an exchange, or to a queue through the default
        // exchange, by the producers' rule.
        (Amqp(Consumer(_)), Amqp(to @ (Exchange(_) | Queue(_)))) => publish_rule(to),
        (Amqp(Consumer(_)), Relay(_) | Sink(_) | Amqp(Consumer(_))) => Err(
            "a consumer sends only what its handler publishes (to an exchange or a queue), adds \
             (to a job queue), produces (to a topic) or reads and writes (to a store); it \
             settles what it consumes",
        ),
        (_, Producer(_)) => Err("a producer receives nothing"),
        (Amqp(Exchange(_)), Amqp(Queue(_))) => Ok(EdgeKind::Binding),
        (Amqp(Exchange(_)), Amqp(Exchange(_))) => Ok(EdgeKind::ExchangeBinding),
        (Amqp(Exchange(_)), Relay(_) | Sink(_) | Amqp(Consumer(_))) => {
            Err("an exchange routes only to queues and exchanges (bindings)")
        }
        (Amqp(Queue(_)), Amqp(Consumer(_))) => Ok(EdgeKind::Consume),
        (Amqp(Queue(_)), Relay(_) | Sink(_) | Amqp(Exchange(_) | Queue(_))) => {
            Err("a queue delivers only to consumers")
        }
        (Producer(_) | Relay(_), Amqp(to)) => publish_rule(to),
        (Producer(_) | Relay(_), Relay(_) | Sink(_)) => {
            unreachable!("an edge between kernel kinds is the kernel's to judge")
        }
        (NodeKind::Http(_), _) | (_, NodeKind::Http(_)) => {
            unreachable!("an edge at a request-response node is that model's to judge")
        }
        (NodeKind::Kafka(_), _) | (_, NodeKind::Kafka(_)) => {
            unreachable!("an edge at a Kafka node is that model's to judge")
        }
        (NodeKind::Bullmq(_), _) | (_, NodeKind::Bullmq(_)) => {
            unreachable!("an edge at a BullMQ node is that model's to judge")
        }
        (NodeKind::Data(_), _) | (_, NodeKind::Data(_)) => {
            unreachable!("an edge at a store is the data model's to judge")
        }
    }
}

/// What an edge from a publisher (a producer, a relay, or a service's handler) to one of this
/// model's nodes is: a publish to an exchange, or through the default exchange to a queue.
pub(crate) fn publish_rule(to: &AmqpKind) -> Result<EdgeKind, &'static str> {
    match to {
        AmqpKind::Consumer(_) => Err("a consumer consumes only from queues"),
        AmqpKind::Exchange(x) if x.internal => Err(
            "403 ACCESS_REFUSED: cannot publish to an internal exchange; it takes messages only \
             from other exchanges (bindings, alternate and dead-letter exchanges)",
        ),
        AmqpKind::Exchange(_) => Ok(EdgeKind::Publish),
        AmqpKind::Queue(_) => Ok(EdgeKind::PublishDefault),
    }
}

/// What a binding matches on, as a label: the routing key (`""` shown as such) for direct and
/// topic exchanges, the arguments for a headers exchange, nothing for a fanout (it ignores
/// both) or for other edges.
pub(crate) fn edge_label(topo: &crate::topology::Topology, edge: crate::EdgeId) -> String {
    let e = topo.edge(edge);
    let crate::model::EdgeKind::Amqp(EdgeKind::Binding | EdgeKind::ExchangeBinding) = e.kind else {
        return String::new();
    };
    let NodeKind::Amqp(AmqpKind::Exchange(x)) = &topo.node(e.from).kind else {
        unreachable!("a binding starts at an exchange")
    };
    match x.kind {
        ExchangeType::Fanout => String::new(),
        ExchangeType::Headers => e
            .arguments
            .iter()
            .map(|(k, v)| format!("{k}={}", serde_json::to_string(v).unwrap_or_default()))
            .collect::<Vec<_>>()
            .join(" "),
        ExchangeType::Direct | ExchangeType::Topic => {
            if e.routing_key.is_empty() {
                "\"\"".into()
            } else {
                e.routing_key.clone()
            }
        }
    }
}

/// Which actions this model's kinds take: only a consumer settles deliveries (unless it uses
/// `auto_ack`) and can be paused; exchanges and queues are part of the broker, which is not
/// simulated as crashing.
pub(crate) fn action_rule(name: &str, kind: &NodeKind, action: Action) -> Result<(), String> {
    let NodeKind::Amqp(k) = kind else {
        unreachable!("the kernel judges its own kinds")
    };
    match (k, action) {
        (AmqpKind::Consumer(c), Action::Settle) if c.auto_ack => Err(format!(
            "{name:?} uses auto_ack, so it has no deliveries to settle"
        )),
        (
            AmqpKind::Consumer(_),
            Action::Settle | Action::Pause | Action::Resume | Action::Crash | Action::Restart,
        ) => Ok(()),
        (AmqpKind::Exchange(_) | AmqpKind::Queue(_), Action::Crash | Action::Restart) => {
            Err(format!(
                "{name:?} is {} {}, part of the broker, which is not simulated as crashing; \
                 remove it (remove_node) to delete it",
                if matches!(k, AmqpKind::Exchange(_)) {
                    "an"
                } else {
                    "a"
                },
                k.name()
            ))
        }
        (_, Action::Publish) => Err(not_a(name, kind, "producer", "can publish")),
        (_, Action::Seek) => Err(not_a(name, kind, "kafka_consumer", "seeks")),
        (_, Action::LoseAck) => Err(not_a(name, kind, "kafka_producer", "loses acks")),
        (AmqpKind::Exchange(_) | AmqpKind::Queue(_), Action::Settle) => {
            Err(not_a(name, kind, "consumer", "settles deliveries"))
        }
        (AmqpKind::Exchange(_) | AmqpKind::Queue(_), Action::Pause | Action::Resume) => {
            Err(not_a(name, kind, "consumer", "can be paused and resumed"))
        }
    }
}

/// What changing a live node of this model from `old` to `new` takes: an exchange or a queue
/// cannot be redeclared with other settings (RabbitMQ's 406); a consumer's `auto_ack` and
/// `x-priority` belong to its `basic.consume`, so while it is `bound` (consuming) they need a
/// new one. Everything else changes in place.
pub(crate) fn reconfigure_rule(
    name: &str,
    old: &NodeKind,
    new: &NodeKind,
    bound: bool,
) -> Result<(), Reconfigure> {
    let (NodeKind::Amqp(old), NodeKind::Amqp(new)) = (old, new) else {
        unreachable!("the same kind of this model (checked by the caller)")
    };
    match (old, new) {
        (AmqpKind::Exchange(_), _) | (AmqpKind::Queue(_), _) if old != new => {
            Err(Reconfigure::Redeclare(inequivalent(name, old, new)))
        }
        (AmqpKind::Consumer(a), AmqpKind::Consumer(b))
            if bound && (a.auto_ack != b.auto_ack || a.arguments != b.arguments) =>
        {
            let what = if a.auto_ack != b.auto_ack {
                "auto_ack"
            } else {
                "arguments (x-priority)"
            };
            Err(Reconfigure::Redeclare(format!(
                "{name:?}: changing {what} needs a new basic.consume: remove the consume edge and \
                 add it again (configure the consumer while it has no consume edge)"
            )))
        }
        (AmqpKind::Exchange(_) | AmqpKind::Queue(_) | AmqpKind::Consumer(_), _) => Ok(()),
    }
}

/// The checks of one node's settings, under `path` (`nodes[3].config`).
pub(crate) fn check_kind(kind: &AmqpKind, path: Path<'_>, diags: &mut Vec<Diagnostic>) {
    match kind {
        AmqpKind::Exchange(_) => {}
        AmqpKind::Queue(q) => check_queue(q, path, diags),
        AmqpKind::Consumer(c) => check_consumer(c, path, diags),
    }
}

/// Binding fields (`routing_key`, `arguments`) belong on bindings, latency on the rest.
pub(crate) fn check_edge_fields(
    e: &EdgeSpec,
    kind: EdgeKind,
    from: &NodeKind,
    path: Path<'_>,
    diags: &mut Vec<Diagnostic>,
) {
    if !kind.is_binding() {
        crate::scenario::check_plain_edge_fields(e, path, diags);
        return;
    }
    let NodeKind::Amqp(AmqpKind::Exchange(x)) = from else {
        unreachable!("a binding starts at an exchange")
    };
    if e.latency.is_some() {
        diags.push(Diagnostic::new(
            format!("{path}.latency"),
            "a binding routes inside the broker, instantly; latency does not apply",
        ));
    }
    if e.routing_key.len() > 255 {
        diags.push(Diagnostic::new(
            format!("{path}.routing_key"),
            format!(
                "{} bytes; a binding key is a shortstr, at most 255 bytes",
                e.routing_key.len()
            ),
        ));
    }
    match x.kind {
        ExchangeType::Topic => {
            if let Err(why) = TopicPattern::new(&e.routing_key) {
                diags.push(Diagnostic::new(format!("{path}.routing_key"), why));
            }
        }
        ExchangeType::Headers => {
            if let Err(why) = XMatch::of(&e.arguments) {
                diags.push(Diagnostic::new(format!("{path}.arguments.x-match"), why));
            }
        }
        ExchangeType::Direct | ExchangeType::Fanout => {}
    }
}

/// The checks that span nodes: an exclusive queue has one owner, and each consumer suits the
/// queues it consumes from. `kind` looks a node up by name.
pub(crate) fn check_topology<'a>(
    s: &'a Scenario,
    kind: &dyn Fn(&str) -> Option<&'a NodeKind>,
    diags: &mut Vec<Diagnostic>,
) {
    check_exclusive_owners(s, kind, diags);
}

/// A scripted `configure` of consumer `spec` at `path`: the new settings must suit the queues
/// it consumes from (its consume edges in the document).
pub(crate) fn check_configure_action<'a>(
    s: &'a Scenario,
    spec: &crate::scenario::NodeSpec,
    kind: &dyn Fn(&str) -> Option<&'a NodeKind>,
    path: Path<'_>,
    diags: &mut Vec<Diagnostic>,
) {
    let NodeKind::Amqp(AmqpKind::Consumer(new)) = &spec.kind else {
        return;
    };
    for (j, e) in s.edges.iter().enumerate().filter(|(_, e)| e.to == spec.id) {
        let Some(NodeKind::Amqp(AmqpKind::Queue(q))) = kind(&e.from) else {
            continue;
        };
        for (_, why) in consume_edge_problems(e, q, new) {
            diags.push(Diagnostic::new(
                format!("{path}.config"),
                format!("with edges[{j}]: {why}"),
            ));
        }
    }
}

/// True if `node` consumes from a queue in `s` (has a consume edge), as a scripted configure
/// at `at` sees it: a `remove_edge` to it scripted at or before `at` cancels that.
pub(crate) fn consumes<'a>(
    s: &'a Scenario,
    node: &str,
    at: crate::SimTime,
    kind: &dyn Fn(&str) -> Option<&'a NodeKind>,
) -> bool {
    let cancelled_before = s.actions.iter().any(|b| {
        b.at <= at
            && matches!(&b.action, crate::scenario::Action::RemoveEdge { to, .. } if *to == node)
    });
    !cancelled_before
        && s.edges.iter().any(|e| {
            e.to == node && matches!(kind(&e.from), Some(NodeKind::Amqp(AmqpKind::Queue(_))))
        })
}

/// RabbitMQ's answer to redeclaring an exchange or a queue with other settings: 406
/// PRECONDITION_FAILED, naming the first setting that differs.
pub(crate) fn inequivalent(name: &str, old: &AmqpKind, new: &AmqpKind) -> String {
    // Each setting as (name, value): top-level fields, and each declaration argument.
    fn settings(kind: &AmqpKind) -> BTreeMap<String, Value> {
        let config = match kind {
            AmqpKind::Exchange(x) => serde_json::to_value(x),
            AmqpKind::Queue(q) => serde_json::to_value(q),
            AmqpKind::Consumer(_) => unreachable!("only exchanges and queues are declared"),
        }
        .expect("a config serialises");
        let mut out = BTreeMap::new();
        if let Value::Object(map) = config {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("arguments", Value::Object(args)) => out.extend(args),
                    (_, v) => {
                        out.insert(k, v);
                    }
                }
            }
        }
        out
    }
    let (a, b) = (settings(old), settings(new));
    let what = old.name();
    let first = a
        .keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .min_by_key(|k| (k.starts_with("x-") || k.contains('-'), k.as_str()));
    let show = |v: Option<&Value>| v.map_or("none".to_owned(), Value::to_string);
    let detail = match first {
        Some(k) => format!(
            "inequivalent arg '{k}' for {what} '{name}': received {} but current is {}",
            show(b.get(k)),
            show(a.get(k))
        ),
        None => format!("inequivalent settings for {what} '{name}'"),
    };
    format!(
        "406 PRECONDITION_FAILED - {detail}. RabbitMQ refuses to redeclare {} {what} with other \
         settings: delete it (remove_node) and declare it again (add_node); only its position \
         can change in place",
        if what == "exchange" { "an" } else { "a" }
    )
}

const MAX_TTL_MS: u64 = u32::MAX as u64;

fn check_queue(q: &QueueConfig, path: Path<'_>, diags: &mut Vec<Diagnostic>) {
    let a = &q.arguments;
    let args = path.at("arguments");
    let quorum = a.queue_type == QueueType::Quorum;
    for (name, v) in [("x-message-ttl", a.message_ttl), ("x-expires", a.expires)] {
        if v.is_some_and(|v| v > MAX_TTL_MS) {
            diags.push(Diagnostic::new(
                format!("{args}.{name}"),
                format!("out of range: at most {MAX_TTL_MS} ms"),
            ));
        }
    }
    if a.expires == Some(0) {
        diags.push(Diagnostic::new(
            format!("{args}.x-expires"),
            "406 PRECONDITION_FAILED: x-expires must be greater than 0",
        ));
    }
    if let Some(p) = a.max_priority {
        if quorum {
            diags.push(Diagnostic::new(
                format!("{args}.x-max-priority"),
                "quorum queues do not take x-max-priority: they always have 32 priority levels \
                 (a message without a priority counts as 4)",
            ));
        } else if !(0..=255).contains(&p) {
            diags.push(Diagnostic::new(
                format!("{args}.x-max-priority"),
                format!("406 PRECONDITION_FAILED: {p} is out of range 0 to 255"),
            ));
        }
    }
    if let Some(l) = a.delivery_limit {
        if !quorum {
            diags.push(Diagnostic::new(
                format!("{args}.x-delivery-limit"),
                "x-delivery-limit applies to quorum queues only",
            ));
        } else if l < -1 {
            diags.push(Diagnostic::new(
                format!("{args}.x-delivery-limit"),
                format!("{l}: expected -1 (no limit) or a limit of 0 or more"),
            ));
        }
    }
    if quorum && a.overflow() == Overflow::RejectPublishDlx {
        diags.push(Diagnostic::new(
            format!("{args}.x-overflow"),
            "quorum queues do not support reject-publish-dlx; use reject-publish or drop-head",
        ));
    }
    if quorum && q.exclusive {
        diags.push(Diagnostic::new(
            format!("{path}.exclusive"),
            "exclusive queues are always classic; a quorum queue cannot be exclusive",
        ));
    }
    if quorum && q.auto_delete {
        diags.push(Diagnostic::new(
            format!("{path}.auto_delete"),
            "406 PRECONDITION_FAILED: quorum queues cannot be auto-delete",
        ));
    }
    if quorum && !q.durable {
        diags.push(Diagnostic::new(
            format!("{path}.durable"),
            "quorum queues are always durable",
        ));
    }
    if a.dead_letter_routing_key
        .as_ref()
        .is_some_and(|k| k.len() > 255)
    {
        diags.push(Diagnostic::new(
            format!("{args}.x-dead-letter-routing-key"),
            "a routing key is a shortstr, at most 255 bytes",
        ));
    }
}

fn check_consumer(c: &ConsumerConfig, path: Path<'_>, diags: &mut Vec<Diagnostic>) {
    crate::scenario::check_dist(&c.processing, path.at("processing"), diags);
    if !(0.0..=1.0).contains(&c.fail_probability) {
        diags.push(Diagnostic::new(
            format!("{path}.fail_probability"),
            format!(
                "expected a probability from 0 to 1, got {}",
                c.fail_probability
            ),
        ));
    }
    if c.auto_ack {
        let settles = !c.when_header.is_empty() || c.fail_probability > 0.0;
        if settles {
            diags.push(Diagnostic::new(
                format!("{path}.auto_ack"),
                "an auto_ack consumer cannot reject or nack: the broker forgot each message when \
                 it sent it; remove when_header and fail_probability, or turn auto_ack off",
            ));
        }
    }
    if c.crash_after == Some(0) {
        diags.push(Diagnostic::new(
            format!("{path}.crash_after"),
            "expected 1 or more (the consumer crashes on finishing that many messages)",
        ));
    }
    let input = crate::handler::InputKind::Message;
    crate::handler::no_foreign_fields(&c.handler, "consumer", input, path, diags);
    crate::handler::calls_name_nodes(&c.handler, path, diags);
    crate::handler::check_settings(&c.handler, path, diags);
}

/// An exclusive queue belongs to one connection: a second consumer node is refused, as
/// RabbitMQ refuses it with 405 RESOURCE_LOCKED. Quorum queues refuse global QoS consumers.
fn check_exclusive_owners<'a>(
    s: &'a Scenario,
    kind: &dyn Fn(&str) -> Option<&'a NodeKind>,
    diags: &mut Vec<Diagnostic>,
) {
    let mut owner: BTreeMap<&str, &str> = BTreeMap::new();
    for (i, e) in s.edges.iter().enumerate() {
        let (Some(NodeKind::Amqp(AmqpKind::Queue(q))), Some(NodeKind::Amqp(AmqpKind::Consumer(c)))) =
            (kind(&e.from), kind(&e.to))
        else {
            continue;
        };
        if q.exclusive {
            match owner.get(e.from.as_str()) {
                Some(first) if *first != e.to => diags.push(Diagnostic::new(
                    format!("edges[{i}]"),
                    format!(
                        "405 RESOURCE_LOCKED: {:?} is exclusive to {first:?}'s connection",
                        e.from
                    ),
                )),
                _ => {
                    owner.insert(&e.from, &e.to);
                }
            }
        }
        for (field, why) in consume_edge_problems(e, q, c) {
            diags.push(Diagnostic::new(format!("edges[{i}]{field}"), why));
        }
    }
}

/// What is wrong with consumer `c` consuming from queue `q` along `e`, as `(path suffix under
/// the edge, reason)`.
fn consume_edge_problems(
    e: &EdgeSpec,
    q: &QueueConfig,
    c: &ConsumerConfig,
) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    // `on_failure` counts even without `fail_probability`: a poison message is settled with
    // it whatever the other rules say.
    let settles_back = !c.auto_ack
        && (c.when_header.iter().any(|r| r.then != Settlement::Ack)
            || c.on_failure != Settlement::Ack);
    if settles_back
        && c.processing.can_be_zero()
        && e.latency.as_ref().is_some_and(DurationDist::can_be_zero)
    {
        out.push((
            ".latency",
            format!(
                "{:?} can process in 0 time over a 0 latency edge and send messages back \
                 (nack, reject): a message could loop forever without time passing; give the \
                 processing time or the latency a minimum above 0",
                e.to
            ),
        ));
    }
    if q.arguments.queue_type == QueueType::Quorum && c.global_prefetch_count > 0 {
        out.push((
            "",
            format!(
                "{:?} uses global_prefetch_count, and quorum queue {:?} refuses consumers on a \
                 channel with global QoS",
                e.to, e.from
            ),
        ));
    }
    out
}

/// The document's policies and operator policies, and the scripted changes to them: each valid
/// (`policy::check_policy`), names unique in each list, and a `clear_policy` only of a policy
/// that exists by then (RabbitMQ: "Parameter does not exist").
pub(crate) fn check_policies(s: &Scenario, diags: &mut Vec<Diagnostic>) {
    use super::policy::check_policy;
    use crate::scenario::Action;
    let mut live: [BTreeMap<&str, ()>; 2] = Default::default();
    for (operator, list, field) in [
        (false, &s.policies, "policies"),
        (true, &s.operator_policies, "operator_policies"),
    ] {
        for (i, p) in list.iter().enumerate() {
            let path = Path::Item(field, i);
            check_policy(p, operator, path, diags);
            if live[usize::from(operator)].insert(&p.name, ()).is_some() {
                diags.push(Diagnostic::new(
                    path.at("name"),
                    format!(
                        "duplicate name {:?}: each {} needs its own",
                        p.name,
                        &field[..field.len() - 3]
                    ),
                ));
            }
        }
    }
    // In the order a run applies them: by time, then document order.
    let mut order: Vec<usize> = (0..s.actions.len()).collect();
    order.sort_by_key(|&i| (s.actions[i].at, i));
    for i in order {
        let path = Path::Item("actions", i);
        if let Action::SetPolicy { policy, operator } = &s.actions[i].action {
            check_policy(policy, *operator, path.at("policy"), diags);
            live[usize::from(*operator)].insert(&policy.name, ());
        } else if let Action::ClearPolicy { name, operator } = &s.actions[i].action {
            if live[usize::from(*operator)].remove(name.as_str()).is_none() {
                diags.push(Diagnostic::new(
                    path.at("name"),
                    format!(
                        "no {}policy named {name:?} by then (RabbitMQ: Parameter does not \
                         exist)",
                        if *operator { "operator " } else { "" }
                    ),
                ));
            }
        }
    }
}
