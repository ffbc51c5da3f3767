//! Handler steps: what a node that handles messages does with each one, in order. A
//! service runs its handler for each request it serves; a RabbitMQ consumer for each delivery
//! it processes; a BullMQ worker for each job attempt; a Kafka consumer for each record. The
//! steps are the same wherever they run: a call (over an edge, with its policies), a store's
//! read or write, a publish, a job, a record, a throw. This module reads them from documents and makes, from the
//! message being handled, what a step sends (a write, a message); each model runs the steps
//! and decides what a failed one means for its input (a 500, a `basic.nack`).

use crate::amqp::PublishStep;
use crate::bullmq::{AddJobStep, JobOptions};
use crate::data::{Access, AccessOp, KeyTemplate, OutboxRow, ReadStep, WriteStep};
use crate::id::{EdgeId, MessageId, NodeId};
use crate::kafka::ProduceStep;
use crate::kernel::Kernel;
use crate::message::{Envelope, HeaderValue, Headers};
use crate::model::{EdgeKind, StepOrigin};
use crate::scenario::{Diagnostic, NodeKind, Scenario};
use serde::{Deserialize, Deserializer, Serialize};

/// One step of a handler: a call, a store's read or write, a RabbitMQ publish, a BullMQ job, a
/// Kafka record, or a throw.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "RawStep")]
pub enum HandlerStep {
    /// Call the named nodes (one, or several at once), over this node's edges to them (with
    /// their policies), and wait for all of them. Written `{"call": "db"}` or `{"call": ["a", "b"]}`.
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
    /// Throw: with a probability (seeded), or when the input carries a mark (a header). Written
    /// `{"fail": {"probability": 0.05}}` or `{"fail": {"header": "x-fail"}}` (both: either
    /// one). What a throw means is the input's paradigm's: a 500, a `basic.nack`, a job's
    /// retry, a record logged and passed.
    Fail(FailStep),
    /// Add a BullMQ job to a queue, over this node's edge to it, and wait for Redis's answer.
    /// Written `{"add_job": "emails", "name": "receipt"}`, with optional `"job_id"`, `"opts"`
    /// and `"data"`.
    AddJob(AddJobStep),
    /// Produce a Kafka record to a topic, over this node's edge to it, and wait for the
    /// broker's acknowledgement. Written `{"produce": "orders", "key": "{correlation_id}"}`,
    /// with optional `"partition"` and `"headers"`.
    Produce(ProduceStep),
}

/// When a fail step throws.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailStep {
    /// The chance, from 0 to 1, that it throws for an input (drawn from the run's seed).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub probability: f64,
    /// It throws for every input that carries this header (whatever its value): a mark the
    /// producer (or an earlier handler) put on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
}

fn is_zero(p: &f64) -> bool {
    *p == 0.0
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
            HandlerStep::AddJob(a) => a.serialize(s),
            HandlerStep::Produce(p) => p.serialize(s),
            HandlerStep::Fail(f) => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("fail", f)?;
                m.end()
            }
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
    #[serde(default)]
    fail: Option<FailStep>,
    #[serde(default)]
    add_job: Option<String>,
    #[serde(default)]
    produce: Option<String>,
    #[serde(default)]
    partition: Option<u32>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    job_id: Option<KeyTemplate>,
    #[serde(default)]
    opts: Option<Box<JobOptions>>,
    #[serde(default)]
    data: Option<std::collections::BTreeMap<String, KeyTemplate>>,
}

impl TryFrom<RawStep> for HandlerStep {
    type Error = String;

    fn try_from(r: RawStep) -> Result<HandlerStep, String> {
        let kinds = [
            r.call.is_some().then_some("calls"),
            r.write.is_some().then_some("writes"),
            r.read.is_some().then_some("reads"),
            r.publish.is_some().then_some("publishes"),
            r.fail.is_some().then_some("fails"),
            r.add_job.is_some().then_some("adds a job"),
            r.produce.is_some().then_some("produces"),
        ];
        let mut kinds = kinds.into_iter().flatten();
        if let (Some(a), Some(b)) = (kinds.next(), kinds.next()) {
            return Err(format!(
                "a step does one thing; this one {a} and {b} (make them two steps)"
            ));
        }
        let job_fields =
            r.name.is_some() || r.job_id.is_some() || r.opts.is_some() || r.data.is_some();
        if let Some(queue) = r.add_job {
            if r.key.is_some() || r.idempotency_key.is_some() || r.outbox.is_some() {
                return Err("`key`, `idempotency_key` and `outbox` belong to a write step".into());
            }
            if r.routing_key.is_some() || r.headers.is_some() {
                return Err(
                    "`routing_key` and `headers` belong to a publish step (a job carries \
                     `data`)"
                        .into(),
                );
            }
            return Ok(HandlerStep::AddJob(AddJobStep {
                add_job: queue,
                name: r.name.unwrap_or_else(|| "job".into()),
                job_id: r.job_id,
                opts: r.opts,
                data: r.data.unwrap_or_default(),
            }));
        }
        if job_fields {
            return Err("`name`, `job_id`, `opts` and `data` belong to an add_job step".into());
        }
        if let Some(topic) = r.produce {
            if r.idempotency_key.is_some() || r.outbox.is_some() {
                return Err("`idempotency_key` and `outbox` belong to a write step".into());
            }
            if r.routing_key.is_some() {
                return Err(
                    "`routing_key` belongs to a publish step (a record has a `key`)".into(),
                );
            }
            return Ok(HandlerStep::Produce(ProduceStep {
                produce: topic,
                key: r.key,
                partition: r.partition,
                headers: r.headers.unwrap_or_default(),
            }));
        }
        if r.partition.is_some() {
            return Err("`partition` belongs to a produce step".into());
        }
        if let Some(fail) = r.fail {
            let others = r.key.is_some()
                || r.idempotency_key.is_some()
                || r.outbox.is_some()
                || r.routing_key.is_some()
                || r.headers.is_some();
            if others {
                return Err(
                    "a fail step takes only {\"fail\": {\"probability\": …, \"header\": …}}".into(),
                );
            }
            return Ok(HandlerStep::Fail(fail));
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
                              \"key\": \"…\"}, {\"read\": \"store\", \"key\": \"…\"}, \
                              {\"publish\": \"exchange\"}, {\"add_job\": \"queue\"}, \
                              {\"produce\": \"topic\"} or \
                              {\"fail\": {\"probability\": …}}"
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
    /// A BullMQ job: it leaves for its queue, and the handler waits for Redis's answer.
    AddJob(Box<JobAdd>),
    /// A Kafka record: it leaves for its topic, and the handler waits for the acknowledgement.
    Produce(Box<RecordProduce>),
    /// A fail step that throws with this probability (the input carries no mark).
    Chance(f64),
    /// Calls, over the node's edges with their policies: the handler waits for all of them.
    Call(Box<StepCall>),
}

/// A call step of a consumer's, worker's or Kafka consumer's handler, for the
/// request-response model to carry out (through [`Kernel::begin_step_calls`]).
#[derive(Clone, Debug)]
pub(crate) struct StepCall {
    /// The node whose handler calls.
    pub caller: NodeId,
    /// The call edge of each call (`None`: there is none, and that call fails at once).
    pub edges: Vec<Option<EdgeId>>,
    /// The chain the calls continue.
    pub correlation: MessageId,
    /// The message being handled: each attempt's cause.
    pub parent: MessageId,
    /// Each attempt's body.
    pub body_bytes: u32,
    /// Whom to answer when the last call ends.
    pub origin: StepOrigin,
}

/// A record a handler produces: where, with what, and whom the acknowledgement answers.
pub(crate) struct RecordProduce {
    /// The produce edge it leaves on.
    pub edge: EdgeId,
    /// The topic.
    pub topic: NodeId,
    /// Its key (none: a null key).
    pub key: Option<String>,
    /// A partition, instead of the key's.
    pub partition: Option<u32>,
    /// Its headers.
    pub headers: Headers,
    /// The chain it continues, and its cause.
    pub chain: (MessageId, MessageId),
    /// The step waiting for the acknowledgement.
    pub origin: StepOrigin,
}

/// A job a handler adds: where, with what, and what the queue needs to store it.
pub(crate) struct JobAdd {
    /// The add edge it leaves on.
    pub edge: EdgeId,
    /// The job queue.
    pub to: NodeId,
    /// The chain it continues, and its cause.
    pub chain: (MessageId, MessageId),
    /// Its data (the worker reads each field as a header).
    pub data: Headers,
    /// What the queue reads when it arrives.
    pub job: JobHandoff,
}

/// A message one model sends to another that the receiver cannot read from the message alone,
/// kept by the kernel under the message's id until it arrives ([`Kernel::handoffs`]).
#[derive(Clone, Debug)]
pub(crate) enum Handoff {
    /// A job a handler adds.
    Job(Box<JobHandoff>),
    /// A record a handler produces.
    Record(Box<RecordHandoff>),
}

/// What a topic needs to append a record a handler produced, and whom to answer.
#[derive(Clone, Debug)]
pub(crate) struct RecordHandoff {
    /// The partition the client chose.
    pub partition: u32,
    /// How it chose it.
    pub partitioner: crate::kafka::Partitioner,
    /// The record's key.
    pub key: Option<String>,
    /// The step waiting for the acknowledgement.
    pub origin: StepOrigin,
}

/// What a BullMQ queue needs to store a job a handler added, and whom to answer.
#[derive(Clone, Debug)]
pub(crate) struct JobHandoff {
    /// The job's name.
    pub name: String,
    /// Its options, with its custom id.
    pub opts: JobOptions,
    /// `Date.now()` when the handler added it.
    pub timestamp_ms: u64,
    /// The handler step waiting for Redis's answer.
    pub origin: StepOrigin,
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
/// belongs to (what a redelivery or a retry keeps), `origin` whom an answer goes to. (A
/// service plans its own call steps: it never asks here for one.)
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
        HandlerStep::AddJob(a) => return job_add(k, node, a, h, origin),
        HandlerStep::Produce(p) => return record_produce(k, node, p, h, origin),
        HandlerStep::Fail(f) => {
            return match &f.header {
                Some(mark) if h.msg.headers.contains_key(mark.as_str()) => Err(format!(
                    "a fail step threw: the input carries the header {mark:?}"
                )),
                _ => Ok(Action::Chance(f.probability)),
            };
        }
        HandlerStep::Call(targets) => {
            let edges = targets.iter().map(|t| call_edge(k, node, t)).collect();
            return Ok(Action::Call(Box::new(StepCall {
                caller: node,
                edges,
                correlation: h.msg.correlation_id,
                parent: h.msg.id,
                body_bytes: h.msg.body_bytes,
                origin,
            })));
        }
    }
    .map(Action::Store)
}

/// `node`'s live call edge to the node named `target`, if there is one (`None`: nothing to call
/// over, and the call fails at once).
pub(crate) fn call_edge(k: &Kernel, node: NodeId, target: &str) -> Option<EdgeId> {
    let topo = &k.topo;
    topo.node_id(target)
        .and_then(|to| topo.edge_between(node, to, None))
        .filter(|&e| {
            matches!(
                topo.edge(e).kind,
                EdgeKind::Http(crate::http::EdgeKind::Call)
            )
        })
}

/// `node` carries out the action `a` its handler made ready: a store's read or write leaves
/// for the store, a message for its exchange or queue; a fail step draws whether it throws
/// (`Err` says why).
pub(crate) fn carry_out(k: &mut Kernel, node: NodeId, a: Action) -> Result<Then, String> {
    Ok(match a {
        Action::Store(access) => {
            crate::data::send(k, access);
            Then::Wait
        }
        Action::Publish(out) => {
            // `basic.publish` does not wait: the handler goes on at once.
            publish(k, node, out);
            Then::GoOn
        }
        Action::AddJob(add) => {
            let JobAdd {
                edge,
                to,
                chain,
                data,
                job,
            } = *add;
            let msg = k.continue_chain(node, chain, String::new(), data);
            k.handoffs.insert(msg.id, Handoff::Job(Box::new(job)));
            k.send_on(edge, node, to, msg);
            Then::Wait
        }
        Action::Produce(r) => {
            let RecordProduce {
                edge,
                topic,
                key,
                partition,
                headers,
                chain,
                origin,
            } = *r;
            let msg = k.continue_chain(node, chain, String::new(), headers);
            crate::kafka::handler::send(k, node, edge, topic, key, partition, msg, origin);
            Then::Wait
        }
        Action::Call(call) => {
            k.begin_step_calls(*call);
            Then::Wait
        }
        Action::Chance(p) => {
            // No draw when it cannot throw: a step with only a mark leaves the seed's
            // sequence as it was.
            if p > 0.0 && k.rng.chance(p) {
                return Err(format!("a fail step threw (probability {p})"));
            }
            Then::GoOn
        }
    })
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
    let (name, key) = match step {
        StoreStep::Write(w) => (&w.write, &w.key),
        StoreStep::Read(r) => (&r.read, &r.key),
    };
    let (store, edge) = link(k, node, name, ("store", "a store"), |kind| {
        matches!(kind, EdgeKind::Data(_))
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

/// The node named `name` that a step of `node`'s handler sends to (`what` it should be, in
/// words: bare, and with its article), and `node`'s live edge to it, which must be of a kind `is` accepts: live edits may
/// have removed either, or put a node of another kind under the name, since the document was
/// checked.
fn link(
    k: &Kernel,
    node: NodeId,
    name: &str,
    (what, a_what): (&str, &str),
    is: impl Fn(EdgeKind) -> bool,
) -> Result<(NodeId, EdgeId), String> {
    let topo = &k.topo;
    let to = topo
        .node_id(name)
        .ok_or_else(|| format!("there is no {what} {name:?}"))?;
    let edge = topo
        .edge_between(node, to, None)
        .filter(|&e| is(topo.edge(e).kind))
        .ok_or_else(|| {
            format!(
                "{} {:?} has no edge to {a_what} {name:?}",
                topo.node(node).kind.name(),
                topo.node(node).name,
            )
        })?;
    Ok((to, edge))
}

/// The message the publish step `p` of `node`'s handler makes for the message `msg`; or why
/// it cannot be sent.
pub(crate) fn outgoing(
    k: &Kernel,
    node: NodeId,
    p: &PublishStep,
    h: Handled<'_>,
) -> Result<Outgoing, String> {
    // The edge must be a publish (to an exchange, or a queue through the default exchange).
    let what = ("exchange or queue", "an exchange or a queue");
    let (to, edge) = link(k, node, &p.publish, what, |kind| {
        matches!(
            kind,
            EdgeKind::Amqp(crate::amqp::EdgeKind::Publish | crate::amqp::EdgeKind::PublishDefault)
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

/// The job the add_job step `a` of `node`'s handler adds for the message being handled; or
/// why it cannot be added (as `Queue.add` throws before it sends: a bad custom id).
fn job_add(
    k: &Kernel,
    node: NodeId,
    a: &AddJobStep,
    h: Handled<'_>,
    origin: StepOrigin,
) -> Result<Action, String> {
    let (to, edge) = link(k, node, &a.add_job, ("job queue", "a job queue"), |kind| {
        kind == EdgeKind::Bullmq(crate::bullmq::EdgeKind::Add)
    })?;
    let render = |t: &KeyTemplate| {
        t.render(h.msg, h.input)
            .map_err(|m| format!("the template {t} reads {m}"))
    };
    let mut opts = a.opts.as_deref().cloned().unwrap_or_default();
    opts.job_id = a.job_id.as_ref().map(render).transpose()?;
    crate::bullmq::check_job_options(&opts).map_err(|e| format!("Queue.add threw: {e}"))?;
    let mut data = Headers::new();
    for (name, t) in &a.data {
        data.insert(name.clone(), HeaderValue::Str(render(t)?));
    }
    Ok(Action::AddJob(Box::new(JobAdd {
        edge,
        to,
        chain: (h.msg.correlation_id, h.msg.id),
        data,
        job: JobHandoff {
            name: a.name.clone(),
            opts,
            timestamp_ms: k.now.0 / 1000,
            origin,
        },
    })))
}

/// The record the produce step `p` of `node`'s handler produces for the message being
/// handled; or why it cannot be produced.
fn record_produce(
    k: &Kernel,
    node: NodeId,
    p: &ProduceStep,
    h: Handled<'_>,
    origin: StepOrigin,
) -> Result<Action, String> {
    let (topic, edge) = link(k, node, &p.produce, ("topic", "a topic"), |kind| {
        kind == EdgeKind::Kafka(crate::kafka::EdgeKind::Produce)
    })?;
    let render = |t: &KeyTemplate| {
        t.render(h.msg, h.input)
            .map_err(|m| format!("the template {t} reads {m}"))
    };
    let mut headers = Headers::new();
    for (name, t) in &p.headers {
        headers.insert(name.clone(), HeaderValue::Str(render(t)?));
    }
    Ok(Action::Produce(Box::new(RecordProduce {
        edge,
        topic,
        key: p.key.as_ref().map(render).transpose()?,
        partition: p.partition,
        headers,
        chain: (h.msg.correlation_id, h.msg.id),
        origin,
    })))
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

/// A call step's target, from a consumer's, worker's or Kafka consumer's handler (`from`: its
/// kind and name): a service or a load balancer, with an edge from the node to it (the edge
/// carries the call's policies).
fn check_call<'a>(
    from: (&str, &str),
    path: String,
    target: &str,
    kind: &dyn Fn(&str) -> Option<&'a NodeKind>,
    s: &Scenario,
    diags: &mut Vec<Diagnostic>,
) {
    let (from_kind, from) = from;
    match kind(target) {
        None => diags.push(Diagnostic::new(
            path,
            format!("{target:?}: there is no node of that name"),
        )),
        Some(NodeKind::Http(
            crate::http::HttpKind::Service(_) | crate::http::HttpKind::LoadBalancer(_),
        )) => {
            if !s.edges.iter().any(|e| e.from == from && e.to == target) {
                diags.push(Diagnostic::new(
                    path,
                    format!(
                        "{target:?}: {from_kind} {from:?} has no edge to it; draw one (the \
                         edge carries the call's policies)"
                    ),
                ));
            }
        }
        Some(other) => diags.push(Diagnostic::new(
            path,
            format!(
                "{target:?} is a {}; a call step calls a service or a load balancer",
                other.name()
            ),
        )),
    }
}

/// An add_job step's queue: a BullMQ job queue, with an edge from the node whose handler adds
/// (`from`: its kind and name) to it; and its options, as BullMQ checks them.
fn check_add_job<'a>(
    from: (&str, &str),
    path: String,
    a: &AddJobStep,
    kind: &dyn Fn(&str) -> Option<&'a NodeKind>,
    s: &Scenario,
    diags: &mut Vec<Diagnostic>,
) {
    let (from_kind, from) = from;
    let field = |name: &str| format!("{}.{name}", path.trim_end_matches(".add_job"));
    if let Some(opts) = &a.opts {
        if opts.job_id.is_some() {
            diags.push(Diagnostic::new(
                field("opts.jobId"),
                "the step's \"job_id\" is the job's id (a template, made from the message)",
            ));
        } else if let Err(e) = crate::bullmq::check_job_options(opts) {
            diags.push(Diagnostic::new(field("opts"), e));
        }
    }
    match kind(&a.add_job) {
        None => diags.push(Diagnostic::new(
            path,
            format!("{:?}: there is no node of that name", a.add_job),
        )),
        Some(NodeKind::Bullmq(crate::bullmq::BullmqKind::Queue(_))) => {
            if !s.edges.iter().any(|e| e.from == from && e.to == a.add_job) {
                diags.push(Diagnostic::new(
                    path,
                    format!(
                        "{:?}: {from_kind} {from:?} has no edge to it; draw one (its jobs cross \
                         it)",
                        a.add_job
                    ),
                ));
            }
        }
        Some(other) => diags.push(Diagnostic::new(
            path,
            format!(
                "{:?} is a {}; an add_job step adds to a job queue",
                a.add_job,
                other.name()
            ),
        )),
    }
}

/// A produce step's topic: a Kafka topic, with an edge from the node whose handler produces
/// (`from`: its kind and name) to it; an explicit partition the topic has.
fn check_produce<'a>(
    from: (&str, &str),
    path: String,
    p: &ProduceStep,
    kind: &dyn Fn(&str) -> Option<&'a NodeKind>,
    s: &Scenario,
    diags: &mut Vec<Diagnostic>,
) {
    let (from_kind, from) = from;
    match kind(&p.produce) {
        None => diags.push(Diagnostic::new(
            path,
            format!("{:?}: there is no node of that name", p.produce),
        )),
        Some(NodeKind::Kafka(crate::kafka::KafkaKind::Topic(t))) => {
            if let Some(partition) = p.partition.filter(|&q| q >= t.partitions) {
                diags.push(Diagnostic::new(
                    path.replace(".produce", ".partition"),
                    format!(
                        "{:?} has {} partitions (0 to {}); there is no partition {partition}",
                        p.produce,
                        t.partitions,
                        t.partitions.saturating_sub(1)
                    ),
                ));
            }
            if !s.edges.iter().any(|e| e.from == from && e.to == p.produce) {
                diags.push(Diagnostic::new(
                    path,
                    format!(
                        "{:?}: {from_kind} {from:?} has no edge to it; draw one (its records \
                         cross it)",
                        p.produce
                    ),
                ));
            }
        }
        Some(other) => diags.push(Diagnostic::new(
            path,
            format!(
                "{:?} is a {}; a produce step produces to a topic",
                p.produce,
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
        HandlerStep::Fail(_) => Vec::new(),
        HandlerStep::Produce(p) => p
            .key
            .iter()
            .map(|t| ("key".to_owned(), t))
            .chain(p.headers.iter().map(|(h, t)| (format!("headers.{h}"), t)))
            .collect(),
        HandlerStep::AddJob(a) => a
            .job_id
            .iter()
            .map(|t| ("job_id".to_owned(), t))
            .chain(a.data.iter().map(|(d, t)| (format!("data.{d}"), t)))
            .collect(),
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

/// Refuses, in the handler `steps` of a consumer, a worker or a Kafka consumer, a `call` step
/// that names no node, at `path` (the node's config). (What it names is checked against the
/// other nodes by [`check_step`].)
pub(crate) fn calls_name_nodes(
    steps: &[HandlerStep],
    path: crate::scenario::Path<'_>,
    diags: &mut Vec<Diagnostic>,
) {
    for (j, step) in steps.iter().enumerate() {
        if let HandlerStep::Call(targets) = step {
            if targets.is_empty() {
                diags.push(Diagnostic::new(
                    format!("{path}.handler[{j}].call"),
                    "names no node to call",
                ));
            }
        }
    }
}

/// Whether nodes of this kind run handlers: services, RabbitMQ consumers, BullMQ workers
/// and Kafka consumers.
pub(crate) fn handles(kind: &NodeKind) -> bool {
    match kind {
        NodeKind::Http(crate::http::HttpKind::Service(_))
        | NodeKind::Amqp(crate::amqp::AmqpKind::Consumer(_))
        | NodeKind::Bullmq(crate::bullmq::BullmqKind::Worker(_))
        | NodeKind::Kafka(crate::kafka::KafkaKind::Consumer(_)) => true,
        NodeKind::Producer(_)
        | NodeKind::Relay(_)
        | NodeKind::Sink(_)
        | NodeKind::Amqp(crate::amqp::AmqpKind::Exchange(_) | crate::amqp::AmqpKind::Queue(_))
        | NodeKind::Bullmq(
            crate::bullmq::BullmqKind::Queue(_) | crate::bullmq::BullmqKind::Producer(_),
        )
        | NodeKind::Http(
            crate::http::HttpKind::Client(_) | crate::http::HttpKind::LoadBalancer(_),
        )
        | NodeKind::Kafka(
            crate::kafka::KafkaKind::Topic(_) | crate::kafka::KafkaKind::Producer(_),
        )
        | NodeKind::Data(_) => false,
    }
}

/// Whether nodes of this kind run handlers outside the request-response model: RabbitMQ
/// consumers, BullMQ workers and Kafka consumers. They may be a service's other inputs, and
/// their calls are carried out by the request-response model for them.
pub(crate) fn handles_outside_http(kind: &NodeKind) -> bool {
    handles(kind) && !matches!(kind, NodeKind::Http(_))
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
            check_step(n, i, j, step, kind, s, diags);
        }
    }
}

/// The `j`th handler step of node `i` (`n`), against the other nodes: what it names exists, is
/// of the kind the step sends to, and has an edge from `n` to it. (A service checks its own
/// calls with the request-response model's rules: it never asks here.)
pub(crate) fn check_step<'a>(
    n: &crate::scenario::NodeSpec,
    i: usize,
    j: usize,
    step: &HandlerStep,
    kind: &dyn Fn(&str) -> Option<&'a NodeKind>,
    s: &Scenario,
    diags: &mut Vec<Diagnostic>,
) {
    let from = (n.kind.name(), n.id.as_str());
    let path = |field: &str| format!("nodes[{i}].config.handler[{j}].{field}");
    match step {
        HandlerStep::Fail(_) => {}
        HandlerStep::Call(targets) => {
            for (t, target) in targets.iter().enumerate() {
                check_call(
                    from,
                    format!("{}[{t}]", path("call")),
                    target,
                    kind,
                    s,
                    diags,
                );
            }
        }
        HandlerStep::Write(w) => check_store_step(n, i, j, StoreStep::Write(w), kind, s, diags),
        HandlerStep::Read(r) => check_store_step(n, i, j, StoreStep::Read(r), kind, s, diags),
        HandlerStep::Publish(p) => check_publish(from, path("publish"), p, kind, s, diags),
        HandlerStep::AddJob(a) => check_add_job(from, path("add_job"), a, kind, s, diags),
        HandlerStep::Produce(p) => check_produce(from, path("produce"), p, kind, s, diags),
    }
}

/// The settings of each of a handler's `steps` that need no other node: a fail step's
/// probability and mark. At `path` (the node's config).
pub(crate) fn check_settings(
    steps: &[HandlerStep],
    path: crate::scenario::Path<'_>,
    diags: &mut Vec<Diagnostic>,
) {
    for (j, step) in steps.iter().enumerate() {
        let HandlerStep::Fail(f) = step else { continue };
        let at = |field: &str| format!("{path}.handler[{j}].fail{field}");
        if !(0.0..=1.0).contains(&f.probability) {
            diags.push(Diagnostic::new(
                at(".probability"),
                format!("expected a probability from 0 to 1, got {}", f.probability),
            ));
        }
        match &f.header {
            Some(h) if h.is_empty() => {
                diags.push(Diagnostic::new(at(".header"), "names no header"));
            }
            None if f.probability == 0.0 => diags.push(Diagnostic::new(
                at(""),
                "it would never throw: give a \"probability\" above 0, or a \"header\" that \
                 marks the inputs it throws for",
            )),
            Some(_) | None => {}
        }
    }
}
