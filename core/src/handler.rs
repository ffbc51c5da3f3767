//! Handler steps: what a node that handles messages does with each one, in order. A
//! service runs its handler for each request it serves; a RabbitMQ consumer for each delivery
//! it processes. The steps are the same wherever they run: a call (services only, for now), a
//! store's write, a publish. This module reads them from documents and makes, from the
//! message being handled, what a step sends (a write, a message); each model runs the steps
//! and decides what a failed one means for its input (a 500, a `basic.nack`).

use crate::amqp::PublishStep;
use crate::data::{Access, AccessOp, KeyTemplate, OutboxRow, ReadStep, WriteStep};
use crate::id::{EdgeId, MessageId, NodeId};
use crate::kernel::Kernel;
use crate::message::{Envelope, HeaderValue, Headers};
use crate::model::{EdgeKind, StepOrigin};
use crate::scenario::{Diagnostic, NodeKind, Scenario};
use serde::{Deserialize, Deserializer, Serialize};

/// One step of a handler: a call, a store's read or write, or a RabbitMQ publish. Jobs and records
/// are to come, as more variants.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "RawStep")]
pub enum HandlerStep {
    /// Call the named nodes (one, or several at once), over this service's edges to them, and
    /// wait for all of them. Written `{"call": "db"}` or `{"call": ["a", "b"]}`.
    Call(Vec<String>),
    /// Write a store, over this service's edge to it, and wait for its answer. Written
    /// `{"write": "payments", "key": "charge:{correlation_id}"}`, with an optional
    /// `"idempotency_key"`.
    Write(WriteStep),
    /// Read a store, over this node's edge to it, and wait for its answer. Written
    /// `{"read": "orders-view", "key": "order:{correlation_id}"}`.
    Read(ReadStep),
    /// Publish a message to a RabbitMQ exchange (or a queue, through the default exchange),
    /// over this service's edge to it, and go on at once. Written `{"publish": "orders-x",
    /// "routing_key": "order.placed"}`, with optional `"headers"`.
    Publish(PublishStep),
}

impl HandlerStep {
    /// The step as a store's read or write, if it is one.
    pub(crate) fn store_step(&self) -> Option<StoreStep<'_>> {
        match self {
            HandlerStep::Write(w) => Some(StoreStep::Write(w)),
            HandlerStep::Read(r) => Some(StoreStep::Read(r)),
            HandlerStep::Call(_) | HandlerStep::Publish(_) => None,
        }
    }
}

impl Serialize for HandlerStep {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            HandlerStep::Call(targets) => {
                let mut m = s.serialize_map(Some(1))?;
                match targets.as_slice() {
                    [one] => m.serialize_entry("call", one)?,
                    many => m.serialize_entry("call", many)?,
                }
                m.end()
            }
            HandlerStep::Write(w) => w.serialize(s),
            HandlerStep::Read(r) => r.serialize(s),
            HandlerStep::Publish(p) => p.serialize(s),
        }
    }
}

/// A step as documents write it, before it is told which kind it is.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    #[serde(default, deserialize_with = "some_one_or_many")]
    call: Option<Vec<String>>,
    #[serde(default)]
    write: Option<String>,
    #[serde(default)]
    read: Option<String>,
    #[serde(default)]
    key: Option<KeyTemplate>,
    #[serde(default)]
    idempotency_key: Option<KeyTemplate>,
    #[serde(default)]
    outbox: Option<PublishStep>,
    #[serde(default)]
    publish: Option<String>,
    #[serde(default)]
    routing_key: Option<KeyTemplate>,
    #[serde(default)]
    headers: Option<std::collections::BTreeMap<String, KeyTemplate>>,
}

impl TryFrom<RawStep> for HandlerStep {
    type Error = String;

    fn try_from(r: RawStep) -> Result<HandlerStep, String> {
        let kinds = [
            r.call.is_some().then_some("calls"),
            r.write.is_some().then_some("writes"),
            r.read.is_some().then_some("reads"),
            r.publish.is_some().then_some("publishes"),
        ];
        let mut kinds = kinds.into_iter().flatten();
        if let (Some(a), Some(b)) = (kinds.next(), kinds.next()) {
            return Err(format!(
                "a step does one thing; this one {a} and {b} (make them two steps)"
            ));
        }
        if let Some(store) = r.read {
            if r.idempotency_key.is_some() || r.outbox.is_some() {
                return Err("`idempotency_key` and `outbox` belong to a write step".into());
            }
            if r.routing_key.is_some() || r.headers.is_some() {
                return Err("`routing_key` and `headers` belong to a publish step".into());
            }
            return match r.key {
                Some(key) => Ok(HandlerStep::Read(ReadStep { read: store, key })),
                None => Err(format!(
                    "a read of {store:?} needs a \"key\": the key it reads, made from the \
                     message (\"order:{{correlation_id}}\")"
                )),
            };
        }
        let write_fields = r.key.is_some() || r.idempotency_key.is_some() || r.outbox.is_some();
        let publish_fields = r.routing_key.is_some() || r.headers.is_some();
        if write_fields && r.write.is_none() {
            return Err("`key`, `idempotency_key` and `outbox` belong to a write step".into());
        }
        if publish_fields && r.publish.is_none() {
            return Err("`routing_key` and `headers` belong to a publish step".into());
        }
        if let Some(targets) = r.call {
            return Ok(HandlerStep::Call(targets));
        }
        if let Some(publish) = r.publish {
            return Ok(HandlerStep::Publish(PublishStep {
                publish,
                routing_key: r.routing_key,
                headers: r.headers.unwrap_or_default(),
            }));
        }
        match (r.write, r.key) {
            (Some(store), Some(key)) => Ok(HandlerStep::Write(WriteStep {
                write: store,
                key,
                idempotency_key: r.idempotency_key,
                outbox: r.outbox,
            })),
            (Some(store), None) => Err(format!(
                "a write to {store:?} needs a \"key\": the key it writes, made from the \
                 message (\"order:{{correlation_id}}\")"
            )),
            (None, _) => Err(
                "expected a step: {\"call\": \"node\"}, {\"write\": \"store\", \
                              \"key\": \"…\"}, {\"read\": \"store\", \"key\": \"…\"} or \
                              {\"publish\": \"exchange\"}"
                    .into(),
            ),
        }
    }
}

fn some_one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    one_or_many(d).map(Some)
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    match OneOrMany::deserialize(d) {
        Ok(OneOrMany::One(s)) => Ok(vec![s]),
        Ok(OneOrMany::Many(v)) => Ok(v),
        Err(_) => Err(serde::de::Error::custom(
            "expected a node name, or a list of node names called at once",
        )),
    }
}

/// The message a handler is handling, with what its paradigm adds to it: a BullMQ job's id,
/// a Kafka record's key and place.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Handled<'a> {
    /// The message.
    pub msg: &'a Envelope,
    /// What it is handled as.
    pub input: crate::data::Input<'a>,
}

impl<'a> Handled<'a> {
    /// A message that is not a job.
    pub fn message(msg: &'a Envelope) -> Handled<'a> {
        Handled {
            msg,
            input: crate::data::Input::Message,
        }
    }
}

/// A message a publish step sends: where, and what it carries.
pub(crate) struct Outgoing {
    /// The publish edge it leaves on.
    pub edge: EdgeId,
    /// The exchange or queue at its end.
    pub to: NodeId,
    /// Its routing key.
    pub routing_key: String,
    /// Its headers.
    pub headers: Headers,
    /// The chain it continues (the handled message's correlation id) and its cause (the
    /// handled message).
    pub chain: (MessageId, MessageId),
}

/// What a handler step that is not a call does, made ready from the message being handled
/// (every template rendered, every destination found), so that the model running the handler
/// only carries it out.
pub(crate) enum Action {
    /// A store's read or write: the handler waits for the store's answer.
    Store(Access),
    /// A RabbitMQ publish: it leaves at once, and the handler goes on.
    Publish(Outgoing),
}

/// Whether the handler waits, after an action, for an answer (an agenda entry of its own
/// model, [`StepOrigin::answer`]) before its next step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Then {
    /// The answer moves it on.
    Wait,
    /// The next step runs at once.
    GoOn,
}

/// Makes ready the step `s` of `node`'s handler (a node of kind `what`) for the message being
/// handled; or says why it cannot be carried out. `logical` is the logical message the step
/// belongs to (what a redelivery or a retry keeps), `origin` whom an answer goes to. Call
/// steps are the service's own (they wait on several calls at once): here they are refused.
pub(crate) fn prepare(
    k: &Kernel,
    node: NodeId,
    s: &HandlerStep,
    h: Handled<'_>,
    logical: MessageId,
    origin: StepOrigin,
) -> Result<Action, String> {
    match s {
        HandlerStep::Write(w) => access(k, node, StoreStep::Write(w), h, logical, origin),
        HandlerStep::Read(r) => access(k, node, StoreStep::Read(r), h, logical, origin),
        HandlerStep::Publish(p) => return outgoing(k, node, p, h).map(Action::Publish),
        HandlerStep::Call(_) => {
            // Refused when the document is checked; a live edit cannot bring it.
            return Err(format!(
                "a {}'s handler makes no calls",
                k.topo.node(node).kind.name()
            ));
        }
    }
    .map(Action::Store)
}

/// `node` carries out the action `a` its handler made ready: a store's read or write leaves
/// for the store, a message for its exchange or queue.
pub(crate) fn carry_out(k: &mut Kernel, node: NodeId, a: Action) -> Then {
    match a {
        Action::Store(access) => {
            crate::data::send(k, access);
            Then::Wait
        }
        Action::Publish(out) => {
            // `basic.publish` does not wait: the handler goes on at once.
            publish(k, node, out);
            Then::GoOn
        }
    }
}

/// What the store step `step` (a read or a write) of `node`'s handler sends for the message
/// being handled; or why it cannot be sent. `logical` is the logical message it belongs to
/// (what a redelivery or a retry keeps), `origin` whom the store answers.
pub(crate) fn access(
    k: &Kernel,
    node: NodeId,
    step: StoreStep<'_>,
    h: Handled<'_>,
    logical: MessageId,
    origin: StepOrigin,
) -> Result<Access, String> {
    let msg = h.msg;
    let topo = &k.topo;
    let (name, key) = match step {
        StoreStep::Write(w) => (&w.write, &w.key),
        StoreStep::Read(r) => (&r.read, &r.key),
    };
    let store = topo
        .node_id(name)
        .ok_or_else(|| format!("there is no store {name:?}"))?;
    // The edge must be a store link: live edits may have put a node of another kind under
    // the name since the document was checked.
    let edge = topo
        .edge_between(node, store, None)
        .filter(|&e| matches!(topo.edge(e).kind, EdgeKind::Data(_)))
        .ok_or_else(|| {
            format!(
                "{} {:?} has no edge to a store {name:?}",
                topo.node(node).kind.name(),
                topo.node(node).name,
            )
        })?;
    let render = |t: &KeyTemplate| {
        t.render(msg, h.input)
            .map_err(|m| format!("the key {t} reads {m}"))
    };
    let op = match step {
        StoreStep::Read(_) => AccessOp::Read,
        StoreStep::Write(w) => AccessOp::Write {
            idempotency_key: w.idempotency_key.as_ref().map(render).transpose()?,
            outbox: match &w.outbox {
                None => None,
                Some(p) => {
                    // The row names its destination; the relay finds it (and its edge) when
                    // it polls, so the write does not depend on the relay's connection.
                    let (routing_key, headers) = rendered(p, h)?;
                    Some(OutboxRow {
                        to: p.publish.clone(),
                        routing_key,
                        headers,
                        correlation: msg.correlation_id,
                        cause: msg.id,
                    })
                }
            },
        },
    };
    Ok(Access {
        store,
        edge,
        key: render(key)?,
        message: msg.id,
        logical,
        chain: msg.correlation_id,
        origin,
        arrived: false,
        op,
    })
}

/// A step that reads or writes a store.
#[derive(Clone, Copy, Debug)]
pub(crate) enum StoreStep<'a> {
    /// A write.
    Write(&'a WriteStep),
    /// A read.
    Read(&'a ReadStep),
}

/// The message the publish step `p` of `node`'s handler makes for the message `msg`; or why
/// it cannot be sent.
pub(crate) fn outgoing(
    k: &Kernel,
    node: NodeId,
    p: &PublishStep,
    h: Handled<'_>,
) -> Result<Outgoing, String> {
    let topo = &k.topo;
    let to = topo
        .node_id(&p.publish)
        .ok_or_else(|| format!("there is no exchange or queue {:?}", p.publish))?;
    // The edge must be a publish (to an exchange, or a queue through the default exchange).
    let edge = topo
        .edge_between(node, to, None)
        .filter(|&e| {
            matches!(
                topo.edge(e).kind,
                EdgeKind::Amqp(
                    crate::amqp::EdgeKind::Publish | crate::amqp::EdgeKind::PublishDefault
                )
            )
        })
        .ok_or_else(|| {
            format!(
                "{} {:?} has no edge to an exchange or a queue {:?}",
                topo.node(node).kind.name(),
                topo.node(node).name,
                p.publish
            )
        })?;
    let (routing_key, headers) = rendered(p, h)?;
    Ok(Outgoing {
        edge,
        to,
        routing_key,
        headers,
        chain: (h.msg.correlation_id, h.msg.id),
    })
}

/// The routing key and headers `p` makes from the message being handled.
fn rendered(p: &PublishStep, h: Handled<'_>) -> Result<(String, Headers), String> {
    let render = |t: &KeyTemplate| {
        t.render(h.msg, h.input)
            .map_err(|m| format!("the template {t} reads {m}"))
    };
    let routing_key = p.routing_key.as_ref().map(render).transpose()?;
    let mut headers = Headers::new();
    for (name, t) in &p.headers {
        headers.insert(name.clone(), HeaderValue::Str(render(t)?));
    }
    Ok((routing_key.unwrap_or_default(), headers))
}

/// `node` publishes `out`, continuing the chain of the message it is handling.
/// `basic.publish` does not wait.
fn publish(k: &mut Kernel, node: NodeId, out: Outgoing) {
    let Outgoing {
        edge,
        to,
        routing_key,
        headers,
        chain,
    } = out;
    k.publish_on(node, edge, to, chain, routing_key, headers);
}

/// A publish step's destination: an exchange or a queue, with an edge from the node whose
/// handler (or, for an outbox, whose relay) publishes (`from`: its kind and name) to it.
pub(crate) fn check_publish<'a>(
    from: (&str, &str),
    path: String,
    p: &crate::amqp::PublishStep,
    kind: &dyn Fn(&str) -> Option<&'a NodeKind>,
    s: &Scenario,
    diags: &mut Vec<Diagnostic>,
) {
    let (from_kind, from) = from;
    let field = |name: &str| format!("{}.{name}", path.trim_end_matches(".publish"));
    if let Some(t) = &p.routing_key {
        // Each field makes at most 20 digits here (ids); the key must fit a shortstr.
        let longest: usize = t
            .parts()
            .iter()
            .map(|part| match part {
                crate::data::template::Part::Text(text) => text.len(),
                crate::data::template::Part::Field(_) => 20,
            })
            .sum();
        if longest > 255 {
            diags.push(Diagnostic::new(
                field("routing_key"),
                format!(
                    "it can make a key of {longest} bytes; a routing key is a shortstr, at most \
                     255 bytes"
                ),
            ));
        }
    }
    for name in p.headers.keys() {
        if name == "CC" || name == "BCC" {
            diags.push(Diagnostic::new(
                field(&format!("headers.{name}")),
                format!(
                    "RabbitMQ reads `{name}` as a list of routing keys; a publish step's headers \
                     are strings, so it would be ignored (bind the queue with another key \
                     instead)"
                ),
            ));
        }
    }
    match kind(&p.publish) {
        None => diags.push(Diagnostic::new(
            path,
            format!("{:?}: there is no node of that name", p.publish),
        )),
        Some(NodeKind::Amqp(crate::amqp::AmqpKind::Queue(_))) if p.routing_key.is_some() => {
            diags.push(Diagnostic::new(
                path.replace(".publish", ".routing_key"),
                format!(
                    "{:?} is a queue: a publish to it goes through the default exchange, with the \
                     queue's name as its routing key; publish to an exchange to choose the key",
                    p.publish
                ),
            ));
        }
        Some(NodeKind::Amqp(
            crate::amqp::AmqpKind::Exchange(_) | crate::amqp::AmqpKind::Queue(_),
        )) => {
            if !s.edges.iter().any(|e| e.from == from && e.to == p.publish) {
                diags.push(Diagnostic::new(
                    path,
                    format!(
                        "{:?}: {from_kind} {from:?} has no edge to it; draw one (its messages \
                         cross it)",
                        p.publish
                    ),
                ));
            }
        }
        Some(other) => diags.push(Diagnostic::new(
            path,
            format!(
                "{:?} is a {}; a publish step publishes to an exchange or a queue",
                p.publish,
                other.name()
            ),
        )),
    }
}

/// A read or write step's store (the `j`th step of node `i`, `n`): a store, with an edge from
/// the node to it; and a write's outbox, published by the store's relay.
pub(crate) fn check_store_step<'a>(
    n: &crate::scenario::NodeSpec,
    i: usize,
    j: usize,
    step: StoreStep<'_>,
    kind: &dyn Fn(&str) -> Option<&'a NodeKind>,
    s: &Scenario,
    diags: &mut Vec<Diagnostic>,
) {
    let (field, store, verb) = match step {
        StoreStep::Write(w) => ("write", &w.write, "writes"),
        StoreStep::Read(r) => ("read", &r.read, "reads"),
    };
    let path = format!("nodes[{i}].config.handler[{j}].{field}");
    match kind(store) {
        None => diags.push(Diagnostic::new(
            path,
            format!("{store:?}: there is no node of that name"),
        )),
        Some(NodeKind::Data(crate::data::DataKind::Store(_))) => {
            if !s.edges.iter().any(|e| e.from == n.id && e.to == *store) {
                diags.push(Diagnostic::new(
                    path,
                    format!(
                        "{store:?}: {} {:?} has no edge to it; draw one ({verb} cross it)",
                        n.kind.name(),
                        n.id
                    ),
                ));
            }
            if let StoreStep::Write(WriteStep {
                outbox: Some(p), ..
            }) = step
            {
                // The store's relay publishes it, over the store's own edge.
                let path = format!("nodes[{i}].config.handler[{j}].outbox.publish");
                check_publish(("store", store), path, p, kind, s, diags);
            }
        }
        Some(other) => diags.push(Diagnostic::new(
            path,
            format!(
                "{store:?} is a {}; a {field} step {verb} a store (a call step calls a service)",
                other.name()
            ),
        )),
    }
}

/// The key templates of a handler step, each with its field's path under the step.
pub(crate) fn step_templates(step: &HandlerStep) -> Vec<(String, &crate::data::KeyTemplate)> {
    match step {
        HandlerStep::Call(_) => Vec::new(),
        HandlerStep::Write(w) => std::iter::once(("key".to_owned(), &w.key))
            .chain(
                w.idempotency_key
                    .iter()
                    .map(|t| ("idempotency_key".to_owned(), t)),
            )
            .chain(w.outbox.iter().flat_map(|p| {
                p.routing_key
                    .iter()
                    .map(|t| ("outbox.routing_key".to_owned(), t))
                    .chain(
                        p.headers
                            .iter()
                            .map(|(h, t)| (format!("outbox.headers.{h}"), t)),
                    )
            }))
            .collect(),
        HandlerStep::Read(r) => vec![("key".to_owned(), &r.key)],
        HandlerStep::Publish(p) => p
            .routing_key
            .iter()
            .map(|t| ("routing_key".to_owned(), t))
            .chain(p.headers.iter().map(|(h, t)| (format!("headers.{h}"), t)))
            .collect(),
    }
}

/// What a node's handler handles, for the fields its templates may read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InputKind {
    /// Requests or deliveries: messages.
    Message,
    /// BullMQ jobs.
    Job,
    /// Kafka records.
    Record,
}

/// Refuses, in the templates of the handler `steps` of a node (`what`: its kind) that handles
/// `input`, the fields its inputs do not have: `{job_id}` outside jobs, a record's fields
/// outside records, `{routing_key}` on a record. At `path` (the node's config).
pub(crate) fn no_foreign_fields(
    steps: &[HandlerStep],
    what: &str,
    input: InputKind,
    path: crate::scenario::Path<'_>,
    diags: &mut Vec<Diagnostic>,
) {
    for (j, step) in steps.iter().enumerate() {
        for (field, t) in step_templates(step) {
            let problem = if t.reads_job_id() && input != InputKind::Job {
                Some(format!(
                    "{{job_id}}: a {what}'s messages are not BullMQ jobs; use {{message_id}} \
                     (a redelivery keeps it)"
                ))
            } else if let Some(f) = t.record_field().filter(|_| input != InputKind::Record) {
                Some(format!(
                    "{f}: a {what}'s messages are not Kafka records; use {{message_id}}"
                ))
            } else if t.reads_routing_key() && input == InputKind::Record {
                Some(format!(
                    "{{routing_key}}: a Kafka record has no routing key; use {{record_key}} \
                     (a {what} reads records)"
                ))
            } else {
                None
            };
            if let Some(problem) = problem {
                diags.push(Diagnostic::new(
                    format!("{path}.handler[{j}].{field}"),
                    problem,
                ));
            }
        }
    }
}

/// Refuses `call` steps in the handler `steps` of a consumer or a worker (`what`), at `path`
/// (the node's config): only a service's handler calls.
pub(crate) fn no_calls(
    steps: &[HandlerStep],
    what: &str,
    path: crate::scenario::Path<'_>,
    diags: &mut Vec<Diagnostic>,
) {
    for (j, step) in steps.iter().enumerate() {
        if let HandlerStep::Call(_) = step {
            diags.push(Diagnostic::new(
                format!("{path}.handler[{j}].call"),
                format!(
                    "a {what}'s handler reads and writes stores and publishes; it makes no calls (a \
                     service's handler calls other services)"
                ),
            ));
        }
    }
}

/// The handler steps of a node that is not a service (a consumer's, a worker's), if it has a
/// handler.
fn queue_handler(kind: &NodeKind) -> Option<&[HandlerStep]> {
    match kind {
        NodeKind::Amqp(crate::amqp::AmqpKind::Consumer(c)) => Some(&c.handler),
        NodeKind::Bullmq(crate::bullmq::BullmqKind::Worker(w)) => Some(&w.handler),
        NodeKind::Kafka(crate::kafka::KafkaKind::Consumer(c)) => Some(&c.handler),
        NodeKind::Producer(_)
        | NodeKind::Relay(_)
        | NodeKind::Sink(_)
        | NodeKind::Amqp(crate::amqp::AmqpKind::Exchange(_) | crate::amqp::AmqpKind::Queue(_))
        | NodeKind::Bullmq(
            crate::bullmq::BullmqKind::Queue(_) | crate::bullmq::BullmqKind::Producer(_),
        )
        | NodeKind::Http(_)
        | NodeKind::Kafka(
            crate::kafka::KafkaKind::Topic(_) | crate::kafka::KafkaKind::Producer(_),
        )
        | NodeKind::Data(_) => None,
    }
}

/// The checks across nodes of consumers' and workers' handler steps: each write names a
/// store, each publish an exchange or a queue, with an edge from the node to it. (A service's
/// steps are checked with its calls, by the request-response model.)
pub(crate) fn check_topology<'a>(
    s: &'a Scenario,
    kind: &dyn Fn(&str) -> Option<&'a NodeKind>,
    diags: &mut Vec<Diagnostic>,
) {
    for (i, n) in s.nodes.iter().enumerate() {
        let Some(steps) = queue_handler(&n.kind) else {
            continue;
        };
        for (j, step) in steps.iter().enumerate() {
            match step {
                // Refused with the node's own settings (`no_calls`).
                HandlerStep::Call(_) => {}
                HandlerStep::Write(w) => {
                    check_store_step(n, i, j, StoreStep::Write(w), kind, s, diags)
                }
                HandlerStep::Read(r) => {
                    check_store_step(n, i, j, StoreStep::Read(r), kind, s, diags)
                }
                HandlerStep::Publish(p) => {
                    let path = format!("nodes[{i}].config.handler[{j}].publish");
                    check_publish((n.kind.name(), &n.id), path, p, kind, s, diags);
                }
            }
        }
    }
}
