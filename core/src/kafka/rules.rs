//! The Kafka model's rules, each written once: which edges it allows and what they are, which
//! actions its kinds take, what a live reconfigure takes (a topic's partitions only grow), and
//! the validation of its settings and of the groups across consumers.

use super::kind::{ConsumerConfig, EdgeKind, KafkaKind, ProducerConfig, TopicConfig};
use super::model::MAX_PARTITIONS;
use crate::kernel::not_a;
use crate::model::{Action, Reconfigure};
use crate::scenario::{Diagnostic, EdgeSpec, NodeKind, Path, Scenario};
use std::collections::BTreeMap;

/// Which kinds an edge with one of this model's kinds at an end may connect, and what it is.
pub(crate) fn edge_rule(from: &NodeKind, to: &NodeKind) -> Result<EdgeKind, &'static str> {
    use KafkaKind::{Consumer, Producer, Topic};
    use NodeKind::Kafka;
    match (from, to) {
        (Kafka(Producer(_)), Kafka(Topic(_))) => Ok(EdgeKind::Produce),
        (Kafka(Topic(_)), Kafka(Consumer(_))) => Ok(EdgeKind::Subscribe),
        (Kafka(Producer(_)), _) => Err("a Kafka producer produces only to topics"),
        (Kafka(Topic(_)), _) => Err("a topic is read only by Kafka consumers"),
        (Kafka(Consumer(_)), _) => Err(
            "a Kafka consumer sends only what its handler publishes (to an exchange or a queue), \
             adds (to a job queue), produces (to a topic) or reads and writes (to a store); it \
             reads topics and commits offsets",
        ),
        (_, Kafka(Topic(_))) => Err(
            "a topic takes records only from Kafka producers and from handlers (a service, a \
             consumer, a worker or a Kafka consumer)",
        ),
        (_, Kafka(Consumer(_))) => Err("a Kafka consumer reads only topics"),
        (_, Kafka(Producer(_))) => Err("a producer receives nothing"),
        (
            NodeKind::Producer(_)
            | NodeKind::Relay(_)
            | NodeKind::Sink(_)
            | NodeKind::Amqp(_)
            | NodeKind::Http(_)
            | NodeKind::Bullmq(_)
            | NodeKind::Data(_),
            NodeKind::Producer(_)
            | NodeKind::Relay(_)
            | NodeKind::Sink(_)
            | NodeKind::Amqp(_)
            | NodeKind::Http(_)
            | NodeKind::Bullmq(_)
            | NodeKind::Data(_),
        ) => unreachable!("an edge with none of this model's kinds is not its to judge"),
    }
}

/// Which actions this model's kinds take: a producer produces on `publish`; producers and
/// consumers crash and restart; a consumer's application can be paused and resumed. The broker
/// (a topic) does not fail here: leaders, replicas and ISR are out of scope.
pub(crate) fn action_rule(name: &str, kind: &NodeKind, action: Action) -> Result<(), String> {
    let NodeKind::Kafka(x) = kind else {
        unreachable!("the model judges its own kinds")
    };
    match (action, x) {
        (Action::Publish, KafkaKind::Producer(_)) => Ok(()),
        (Action::Publish, KafkaKind::Topic(_) | KafkaKind::Consumer(_)) => {
            Err(not_a(name, kind, "producer", "can publish"))
        }
        (Action::Crash | Action::Restart, KafkaKind::Producer(_) | KafkaKind::Consumer(_)) => {
            Ok(())
        }
        (Action::Crash | Action::Restart, KafkaKind::Topic(_)) => Err(format!(
            "topic {name:?} lives on the broker, and broker failures (leaders, replicas, ISR) \
             are not modelled; crash a producer or a consumer"
        )),
        (Action::Pause | Action::Resume | Action::Seek, KafkaKind::Consumer(_)) => Ok(()),
        (Action::Seek, KafkaKind::Topic(_) | KafkaKind::Producer(_)) => {
            Err(not_a(name, kind, "kafka_consumer", "seeks"))
        }
        (Action::LoseAck, KafkaKind::Producer(_)) => Ok(()),
        (Action::LoseAck, KafkaKind::Topic(_) | KafkaKind::Consumer(_)) => {
            Err(not_a(name, kind, "kafka_producer", "loses acks"))
        }
        (Action::Pause | Action::Resume, KafkaKind::Topic(_) | KafkaKind::Producer(_)) => {
            Err(not_a(name, kind, "consumer", "can be paused and resumed"))
        }
        (Action::Settle, _) => Err(format!(
            "{name:?} is a {}: Kafka has no per-message acknowledgement; a consumer commits \
             offsets",
            x.name()
        )),
    }
}

/// Whether a live node can go from `old` to `new` settings in place: a topic's partitions may
/// grow but never shrink (Kafka refuses), and a consumer's group, assignors and instance id
/// are fixed while it is subscribed (a new consumer takes them).
pub(crate) fn reconfigure_rule(
    name: &str,
    old: &NodeKind,
    new: &NodeKind,
) -> Result<(), Reconfigure> {
    let (NodeKind::Kafka(old), NodeKind::Kafka(new)) = (old, new) else {
        unreachable!("the same kind of this model (checked by the caller)")
    };
    match (old, new) {
        (KafkaKind::Topic(a), KafkaKind::Topic(b)) => {
            if b.partitions < a.partitions {
                return Err(Reconfigure::Refused(format!(
                    "InvalidPartitionsException: topic {name:?} currently has {} partitions, \
                     which is higher than the requested {}",
                    a.partitions, b.partitions
                )));
            }
            Ok(())
        }
        (KafkaKind::Consumer(a), KafkaKind::Consumer(b)) => {
            if a.group_id != b.group_id
                || a.assignment_strategy != b.assignment_strategy
                || a.group_instance_id != b.group_instance_id
            {
                return Err(Reconfigure::Redeclare(format!(
                    "consumer {name:?} keeps its group.id, partition.assignment.strategy and \
                     group.instance.id while it runs; a new consumer takes the new ones"
                )));
            }
            Ok(())
        }
        // A producer takes every setting in place.
        (KafkaKind::Producer(_), KafkaKind::Producer(_)) => Ok(()),
        (KafkaKind::Topic(_) | KafkaKind::Producer(_) | KafkaKind::Consumer(_), _) => {
            unreachable!("the same kind (checked by the caller)")
        }
    }
}

fn positive_ms(v: u64, path: Path<'_>, diags: &mut Vec<Diagnostic>) {
    if v == 0 || v > MAX_MS {
        diags.push(Diagnostic::new(
            path,
            format!("{v} is out of range: expected 1 to {MAX_MS} ms"),
        ));
    }
}

fn at_most_ms(v: u64, path: Path<'_>, diags: &mut Vec<Diagnostic>) {
    if v > MAX_MS {
        diags.push(Diagnostic::new(
            path,
            format!("{v} is out of range: at most {MAX_MS} ms"),
        ));
    }
}

/// The longest duration a Kafka setting takes here: a year.
pub const MAX_MS: u64 = 365 * 86_400_000;

fn retention(v: i64, what: &str, path: Path<'_>, diags: &mut Vec<Diagnostic>) {
    if v < -1 {
        diags.push(Diagnostic::new(
            path,
            format!("{v}: {what} is -1 (no limit) or at least 0"),
        ));
    }
}

/// The checks of one node's settings, under `path` (`nodes[3].config`).
pub(crate) fn check_kind(kind: &KafkaKind, path: Path<'_>, diags: &mut Vec<Diagnostic>) {
    match kind {
        KafkaKind::Topic(t) => check_topic(t, path, diags),
        KafkaKind::Producer(p) => check_producer(p, path, diags),
        KafkaKind::Consumer(c) => check_consumer(c, path, diags),
    }
}

fn check_topic(t: &TopicConfig, path: Path<'_>, diags: &mut Vec<Diagnostic>) {
    if t.partitions == 0 || t.partitions > MAX_PARTITIONS {
        diags.push(Diagnostic::new(
            path.at("partitions"),
            format!(
                "{} partitions: a topic has 1 to {MAX_PARTITIONS}",
                t.partitions
            ),
        ));
    }
    if !t.cleanup_policy.delete && !t.cleanup_policy.compact {
        diags.push(Diagnostic::new(
            path.at("cleanup.policy"),
            "expected \"delete\", \"compact\" or \"compact,delete\"",
        ));
    }
    retention(
        t.retention_ms,
        "retention.ms",
        path.at("retention.ms"),
        diags,
    );
    retention(
        t.retention_bytes,
        "retention.bytes",
        path.at("retention.bytes"),
        diags,
    );
    // Kafka's minimum segment (a record batch's overhead).
    if t.segment_bytes < 14 {
        diags.push(Diagnostic::new(
            path.at("segment.bytes"),
            format!("{}: segment.bytes is at least 14", t.segment_bytes),
        ));
    }
    positive_ms(t.segment_ms, path.at("segment.ms"), diags);
    at_most_ms(
        t.min_compaction_lag_ms,
        path.at("min.compaction.lag.ms"),
        diags,
    );
    at_most_ms(t.delete_retention_ms, path.at("delete.retention.ms"), diags);
    if !(0.0..=1.0).contains(&t.min_cleanable_dirty_ratio) {
        diags.push(Diagnostic::new(
            path.at("min.cleanable.dirty.ratio"),
            format!(
                "{}: expected a ratio from 0 to 1",
                t.min_cleanable_dirty_ratio
            ),
        ));
    }
    positive_ms(
        t.retention_check_interval_ms,
        path.at("log.retention.check.interval.ms"),
        diags,
    );
    positive_ms(
        t.cleaner_backoff_ms,
        path.at("log.cleaner.backoff.ms"),
        diags,
    );
}

fn check_producer(p: &ProducerConfig, path: Path<'_>, diags: &mut Vec<Diagnostic>) {
    use crate::scenario::parse::{MAX_ACTION_TIME, MAX_RATE_PER_S};
    if !(p.rate_per_s >= 0.0 && p.rate_per_s <= MAX_RATE_PER_S) {
        diags.push(Diagnostic::new(
            path.at("rate_per_s"),
            format!(
                "expected a number from 0 to {MAX_RATE_PER_S}, got {}",
                p.rate_per_s
            ),
        ));
    }
    if p.start > MAX_ACTION_TIME {
        diags.push(Diagnostic::new(
            path.at("start"),
            format!("{} is out of range: at most {MAX_ACTION_TIME}", p.start),
        ));
    }
    if p.value_bytes > crate::scenario::MAX_BODY_BYTES {
        diags.push(Diagnostic::new(
            path.at("value_bytes"),
            format!(
                "{} is out of range: at most {}",
                p.value_bytes,
                crate::scenario::MAX_BODY_BYTES
            ),
        ));
    }
    if let Some(super::Keys::Random { random: 0 }) = p.keys {
        diags.push(Diagnostic::new(
            path.at("keys.random"),
            "0 keys: draw from at least 1",
        ));
    }
    if p.partition.is_some_and(|n| n >= MAX_PARTITIONS) {
        diags.push(Diagnostic::new(
            path.at("partition"),
            format!("a topic has at most {MAX_PARTITIONS} partitions"),
        ));
    }
    if !(0.0..=1.0).contains(&p.ack_loss) {
        diags.push(Diagnostic::new(
            path.at("ack_loss"),
            format!("{}: expected a probability from 0 to 1", p.ack_loss),
        ));
    }
    if p.max_in_flight == 0 {
        diags.push(Diagnostic::new(
            path.at("max.in.flight.requests.per.connection"),
            "at least 1",
        ));
    }
    if p.batch_size == 0 || p.batch_size > 1 << 30 {
        diags.push(Diagnostic::new(
            path.at("batch.size"),
            format!("{}: expected 1 to 1073741824 bytes", p.batch_size),
        ));
    }
    at_most_ms(p.linger_ms, path.at("linger.ms"), diags);
    positive_ms(p.request_timeout_ms, path.at("request.timeout.ms"), diags);
    at_most_ms(p.retry_backoff_ms, path.at("retry.backoff.ms"), diags);
    positive_ms(p.delivery_timeout_ms, path.at("delivery.timeout.ms"), diags);
    // `KafkaProducer.configureDeliveryTimeout`.
    if p.delivery_timeout_ms < p.linger_ms.saturating_add(p.request_timeout_ms) {
        diags.push(Diagnostic::new(
            path.at("delivery.timeout.ms"),
            format!(
                "delivery.timeout.ms should be equal to or larger than linger.ms + \
                 request.timeout.ms ({} < {})",
                p.delivery_timeout_ms,
                p.linger_ms + p.request_timeout_ms
            ),
        ));
    }
    // `ProducerConfig.postProcessAndValidateIdempotenceConfigs`.
    if p.enable_idempotence == Some(true) {
        if p.acks != super::Acks::All {
            diags.push(Diagnostic::new(
                path.at("acks"),
                "Must set acks to all in order to use the idempotent producer. Otherwise we \
                 cannot guarantee idempotence.",
            ));
        }
        if p.retries == 0 {
            diags.push(Diagnostic::new(
                path.at("retries"),
                "Must set retries to non-zero when using the idempotent producer.",
            ));
        }
        if p.max_in_flight > 5 {
            diags.push(Diagnostic::new(
                path.at("max.in.flight.requests.per.connection"),
                "Must set max.in.flight.requests.per.connection to at most 5 when using the \
                 idempotent producer.",
            ));
        }
    }
}

fn check_consumer(c: &ConsumerConfig, path: Path<'_>, diags: &mut Vec<Diagnostic>) {
    if c.group_id.is_empty() {
        diags.push(Diagnostic::new(
            path.at("group.id"),
            "a consumer that subscribes needs a group.id",
        ));
    }
    if c.assignment_strategy.is_empty() {
        diags.push(Diagnostic::new(
            path.at("partition.assignment.strategy"),
            "list at least one assignor",
        ));
    }
    if c.group_instance_id.as_deref() == Some("") {
        diags.push(Diagnostic::new(
            path.at("group.instance.id"),
            "an empty group.instance.id; leave it out for a dynamic member",
        ));
    }
    // The broker's `group.min.session.timeout.ms` and `group.max.session.timeout.ms`.
    if !(6_000..=1_800_000).contains(&c.session_timeout_ms) {
        diags.push(Diagnostic::new(
            path.at("session.timeout.ms"),
            format!(
                "{}: INVALID_SESSION_TIMEOUT: the broker allows 6000 to 1800000 ms",
                c.session_timeout_ms
            ),
        ));
    }
    if c.heartbeat_interval_ms == 0 || c.heartbeat_interval_ms >= c.session_timeout_ms {
        diags.push(Diagnostic::new(
            path.at("heartbeat.interval.ms"),
            format!(
                "{}: heartbeat.interval.ms must be lower than session.timeout.ms ({})",
                c.heartbeat_interval_ms, c.session_timeout_ms
            ),
        ));
    }
    positive_ms(
        c.max_poll_interval_ms,
        path.at("max.poll.interval.ms"),
        diags,
    );
    if c.max_poll_records == 0 {
        diags.push(Diagnostic::new(path.at("max.poll.records"), "at least 1"));
    }
    at_most_ms(c.fetch_max_wait_ms, path.at("fetch.max.wait.ms"), diags);
    positive_ms(
        c.auto_commit_interval_ms,
        path.at("auto.commit.interval.ms"),
        diags,
    );
    at_most_ms(
        c.initial_rebalance_delay_ms,
        path.at("group.initial.rebalance.delay.ms"),
        diags,
    );
    crate::scenario::parse::check_dist(&c.processing_time, path.at("processing_time"), diags);
    crate::handler::calls_name_nodes(&c.handler, path, diags);
    crate::handler::check_settings(&c.handler, path, diags);
    let input = crate::handler::InputKind::Record;
    crate::handler::no_foreign_fields(&c.handler, "Kafka consumer", input, path, diags);
}

/// An edge of this model: a latency, nothing else.
pub(crate) fn check_edge_fields(e: &EdgeSpec, path: Path<'_>, diags: &mut Vec<Diagnostic>) {
    crate::scenario::check_plain_edge_fields(e, path, diags);
}

/// The checks that span nodes: a producer produces to one topic; the consumers of a group
/// share at least one assignor (else `INCONSISTENT_GROUP_PROTOCOL`) and no two of them one
/// `group.instance.id`.
pub(crate) fn check_topology<'a>(
    s: &'a Scenario,
    kind: &dyn Fn(&str) -> Option<&'a NodeKind>,
    diags: &mut Vec<Diagnostic>,
) {
    let mut produces: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, e) in s.edges.iter().enumerate() {
        if let (Some(NodeKind::Kafka(KafkaKind::Producer(_))), Some(NodeKind::Kafka(_))) =
            (kind(&e.from), kind(&e.to))
        {
            if let Some(&first) = produces.get(e.from.as_str()) {
                diags.push(Diagnostic::new(
                    format!("edges[{i}]"),
                    format!(
                        "producer {:?} already produces to {:?} (edges[{first}]); a producer \
                         here sends to one topic",
                        e.from, s.edges[first].to
                    ),
                ));
            } else {
                produces.insert(e.from.as_str(), i);
            }
        }
    }
    let mut groups: BTreeMap<&str, Vec<(usize, &ConsumerConfig)>> = BTreeMap::new();
    for (i, n) in s.nodes.iter().enumerate() {
        if let NodeKind::Kafka(KafkaKind::Consumer(c)) = &n.kind {
            groups.entry(c.group_id.as_str()).or_default().push((i, c));
        }
    }
    for (group, members) in groups {
        let Some(&(_, first)) = members.first() else {
            continue;
        };
        let common = first.assignment_strategy.iter().any(|a| {
            members
                .iter()
                .all(|(_, c)| c.assignment_strategy.contains(a))
        });
        if !common {
            let (i, _) = members
                .iter()
                .find(|(_, c)| {
                    !c.assignment_strategy
                        .iter()
                        .any(|a| first.assignment_strategy.contains(a))
                })
                .copied()
                .unwrap_or(members[members.len() - 1]);
            diags.push(Diagnostic::new(
                format!("nodes[{i}].config.partition.assignment.strategy"),
                format!(
                    "INCONSISTENT_GROUP_PROTOCOL: the consumers of group {group:?} share no \
                     assignor; list one they all support"
                ),
            ));
        }
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for &(i, c) in &members {
            if let Some(id) = c.group_instance_id.as_deref() {
                if let Some(&j) = seen.get(id) {
                    diags.push(Diagnostic::new(
                        format!("nodes[{i}].config.group.instance.id"),
                        format!(
                            "{id:?} is already the group.instance.id of nodes[{j}] in group \
                             {group:?} (FENCED_INSTANCE_ID)"
                        ),
                    ));
                } else {
                    seen.insert(id, i);
                }
            }
        }
    }
}
