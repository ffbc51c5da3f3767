//! The seam between the kernel and the paradigms.
//!
//! The kernel ([`crate::kernel`]) knows time, the agenda, the RNG, the ledger, the topology,
//! the event stream, and its own node kinds (producers, relays, sinks). Each paradigm is a
//! *model* beside it, with its own node kinds, state, timers, rules and events: RabbitMQ
//! ([`crate::amqp`]), request-response over HTTP ([`crate::http`]), Kafka's logs
//! ([`crate::kafka`]) and BullMQ's job queues ([`crate::bullmq`]), each a variant of the
//! closed enums below.
//!
//! # Why closed enums
//!
//! Every hook is one `match` over [`ModelId`] (or over a node's kind, an edge's kind or an
//! agenda entry), with no wildcard arms, in the manner of smoltcp's sockets: adding a model
//! makes the compiler list every place that must learn it, and adding a kind to a model only
//! touches that model's module. Static dispatch keeps the hot path free of virtual calls;
//! snapshots (`Sim: Clone`) clone plain data; and determinism needs closed, ordered sets, not
//! open registries. The hooks:
//!
//! | hook | here | used by |
//! |---|---|---|
//! | what an edge between two kinds means ([`edge_rule`], [`EdgeKind`]) | computed once per edge | topology, validation, the page |
//! | which kinds take which actions ([`action_rule`]) | one rule | commands, scripted actions |
//! | what a live reconfigure takes ([`reconfigure_rule`]) | one rule | commands, scripted actions, the editor |
//! | a model's state, timers ([`ModelDue`]), arrivals, crash and restart, add and remove | [`Models`] | the `Sim` |
//! | where a model's messages rest ([`Place`]) | [`Models::places`] | conservation check, inspector |
//! | its counters' self-check, its metrics | [`Models`] | conservation check, metrics |

use crate::amqp::{self, AmqpModel};
use crate::bullmq::{self, BullmqModel};
use crate::data::{self, DataModel};
use crate::http::{self, HttpModel};
use crate::id::{EdgeId, NodeId};
use crate::kafka::{self, KafkaModel};
use crate::kernel::Kernel;
use crate::ledger::Fate;
use crate::message::Envelope;
use crate::scenario::{ModelId, NodeKind};
use crate::time::SimTime;

/// What an edge means, decided once from the kinds at its ends ([`edge_rule`]) and kept on
/// the topology's edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EdgeKind {
    /// A plain hop between kernel nodes: messages leave `from` and arrive at `to` after the
    /// edge's latency.
    Hop,
    /// An edge of the RabbitMQ model: a publish, a binding, a `basic.consume`.
    Amqp(amqp::EdgeKind),
    /// An edge of the request-response model: a call, or a load balancer's upstream.
    Http(http::EdgeKind),
    /// An edge of the Kafka model: a produce, a subscription.
    Kafka(kafka::EdgeKind),
    /// An edge of the BullMQ model: an add, a worker working a queue.
    Bullmq(bullmq::EdgeKind),
    /// An edge of the data model: a service's connection to a store.
    Data(data::EdgeKind),
}

impl EdgeKind {
    /// What the edge means, in a few words, for the page's hints.
    pub fn meaning(self) -> &'static str {
        match self {
            EdgeKind::Hop => "sends to",
            EdgeKind::Amqp(k) => k.meaning(),
            EdgeKind::Http(k) => k.meaning(),
            EdgeKind::Kafka(k) => k.meaning(),
            EdgeKind::Bullmq(k) => k.meaning(),
            EdgeKind::Data(k) => k.meaning(),
        }
    }

    /// A short class name for the edge, for drawing: `hop`, `publish`, `binding`, `consume`.
    pub fn class(self) -> &'static str {
        match self {
            EdgeKind::Hop => "hop",
            EdgeKind::Amqp(k) => k.class(),
            EdgeKind::Http(k) => k.class(),
            EdgeKind::Kafka(k) => k.class(),
            EdgeKind::Bullmq(k) => k.class(),
            EdgeKind::Data(k) => k.class(),
        }
    }

    /// True if messages cross the edge with its latency (false: the edge is inside a broker,
    /// like a binding, and takes no time).
    pub fn has_latency(self) -> bool {
        match self {
            EdgeKind::Hop
            | EdgeKind::Http(_)
            | EdgeKind::Kafka(_)
            | EdgeKind::Bullmq(_)
            | EdgeKind::Data(_) => true,
            EdgeKind::Amqp(k) => k.has_latency(),
        }
    }
}

/// What an edge carries that matters to it, as a short label for the canvas: a binding's
/// routing key (or, for a headers exchange, its arguments; nothing for a fanout), nothing for
/// other edges.
pub fn edge_label(topo: &crate::topology::Topology, edge: EdgeId) -> String {
    match topo.edge(edge).kind {
        EdgeKind::Hop
        | EdgeKind::Http(_)
        | EdgeKind::Kafka(_)
        | EdgeKind::Bullmq(_)
        | EdgeKind::Data(_) => String::new(),
        EdgeKind::Amqp(_) => amqp::rules::edge_label(topo, edge),
    }
}

/// Which node kinds an edge may connect, and what it then means; or, in words, why not. The
/// kernel decides between its own kinds; an edge with a model's kind at either end is that
/// model's to decide.
pub fn edge_rule(from: &NodeKind, to: &NodeKind) -> Result<EdgeKind, &'static str> {
    match (from.model(), to.model()) {
        (ModelId::Kernel, ModelId::Kernel) => crate::kernel::edge_rule(from, to),
        // A store's outbox relay publishes to RabbitMQ, by the producers' rule.
        (ModelId::Data, ModelId::Amqp) => {
            let NodeKind::Amqp(to) = to else {
                unreachable!("an AMQP kind")
            };
            amqp::rules::publish_rule(to).map(EdgeKind::Amqp)
        }
        // Stores judge every edge at them, to any other model too.
        (ModelId::Data, _) | (_, ModelId::Data) => {
            data::rules::edge_rule(from, to).map(EdgeKind::Data)
        }
        // A handler produces records: the edge is a produce, as a Kafka producer's is.
        (_, ModelId::Kafka)
            if crate::handler::handles(from)
                && matches!(to, NodeKind::Kafka(kafka::KafkaKind::Topic(_))) =>
        {
            Ok(EdgeKind::Kafka(kafka::EdgeKind::Produce))
        }
        // A handler adds jobs: the edge is an add, as a job producer's is.
        (_, ModelId::Bullmq)
            if crate::handler::handles(from)
                && matches!(to, NodeKind::Bullmq(bullmq::BullmqKind::Queue(_))) =>
        {
            Ok(EdgeKind::Bullmq(bullmq::EdgeKind::Add))
        }
        // A service's handler publishes to RabbitMQ: the edge is a publish, as a producer's is.
        (ModelId::Http, ModelId::Amqp)
            if matches!(from, NodeKind::Http(http::HttpKind::Service(_))) =>
        {
            let NodeKind::Amqp(to) = to else {
                unreachable!("an AMQP kind")
            };
            amqp::rules::publish_rule(to).map(EdgeKind::Amqp)
        }
        // A worker's handler publishes to RabbitMQ, as a service's does.
        (ModelId::Bullmq, ModelId::Amqp)
            if matches!(from, NodeKind::Bullmq(bullmq::BullmqKind::Worker(_))) =>
        {
            let NodeKind::Amqp(to) = to else {
                unreachable!("an AMQP kind")
            };
            amqp::rules::publish_rule(to).map(EdgeKind::Amqp)
        }
        // A Kafka consumer's handler publishes to RabbitMQ, as a service's does.
        (ModelId::Kafka, ModelId::Amqp)
            if matches!(from, NodeKind::Kafka(kafka::KafkaKind::Consumer(_))) =>
        {
            let NodeKind::Amqp(to) = to else {
                unreachable!("an AMQP kind")
            };
            amqp::rules::publish_rule(to).map(EdgeKind::Amqp)
        }
        // Request-response nodes judge every edge at them, to any other model too.
        (ModelId::Http, _) | (_, ModelId::Http) => {
            http::rules::edge_rule(from, to).map(EdgeKind::Http)
        }
        // Kafka nodes judge every edge at them, to any other model too.
        (ModelId::Kafka, _) | (_, ModelId::Kafka) => {
            kafka::rules::edge_rule(from, to).map(EdgeKind::Kafka)
        }
        // BullMQ nodes judge every edge at them, to any other model too.
        (ModelId::Bullmq, _) | (_, ModelId::Bullmq) => {
            bullmq::rules::edge_rule(from, to).map(EdgeKind::Bullmq)
        }
        (ModelId::Amqp, _) | (_, ModelId::Amqp) => {
            amqp::rules::edge_rule(from, to).map(EdgeKind::Amqp)
        }
    }
}

/// Something a command or a scripted action asks of one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Publish a message now.
    Publish,
    /// Crash now.
    Crash,
    /// Come back up.
    Restart,
    /// Settle a delivery (`basic.ack`, `basic.nack`, `basic.reject`).
    Settle,
    /// Stall the application (`pause`).
    Pause,
    /// Run the stalled application again (`resume`).
    Resume,
    /// Move a Kafka consumer's position (`seek`).
    Seek,
    /// Lose the response to a Kafka producer's next produce request (`lose_ack`).
    LoseAck,
}

/// Whether a node named `name` of `kind` takes `action`; if not, why, in words that name it.
/// Commands and scripted actions both ask this one rule.
pub fn action_rule(name: &str, kind: &NodeKind, action: Action) -> Result<(), String> {
    match kind.model() {
        ModelId::Kernel => crate::kernel::action_rule(name, kind, action),
        ModelId::Amqp => amqp::rules::action_rule(name, kind, action),
        ModelId::Http => http::rules::action_rule(name, kind, action),
        ModelId::Kafka => kafka::rules::action_rule(name, kind, action),
        ModelId::Bullmq => bullmq::rules::action_rule(name, kind, action),
        ModelId::Data => data::rules::action_rule(name, kind, action),
    }
}

/// Why a live node cannot take new settings in place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reconfigure {
    /// The new settings are of another kind: that is a new node (remove it, add another).
    OtherKind(String),
    /// The real system cannot change this in place: the node must be deleted and declared
    /// again (a queue's arguments, RabbitMQ's 406), or its subscription renewed. Says why.
    Redeclare(String),
    /// The real system refuses the change outright, and deleting the node to make it would
    /// lose what it holds (a topic's partitions never shrink). Says why, in its words.
    Refused(String),
}

/// Whether the live node `name` can go from `old` to `new` settings in place. `bound` is true
/// if it has the edges that would have to be made again (a consumer's `basic.consume`). The
/// `Sim` refuses what this refuses; the editor turns a [`Reconfigure::Redeclare`] into a
/// deletion and a declaration.
pub fn reconfigure_rule(
    name: &str,
    old: &NodeKind,
    new: &NodeKind,
    bound: bool,
) -> Result<(), Reconfigure> {
    if old.name() != new.name() {
        return Err(Reconfigure::OtherKind(format!(
            "configure cannot turn {} {name:?} into a {}: configure keeps a node's kind (remove \
             the node and add a new one)",
            old.name(),
            new.name()
        )));
    }
    match old.model() {
        // Clients, services, load balancers and stores take new settings in place.
        ModelId::Kernel | ModelId::Http | ModelId::Data => Ok(()),
        ModelId::Amqp => amqp::rules::reconfigure_rule(name, old, new, bound),
        ModelId::Kafka => kafka::rules::reconfigure_rule(name, old, new),
        ModelId::Bullmq => bullmq::rules::reconfigure_rule(name, old, new),
    }
}

/// A model's entry in the agenda: its own timers and the messages they carry.
#[derive(Clone, Debug)]
pub(crate) enum ModelDue {
    /// The RabbitMQ model's.
    Amqp(amqp::Due),
    /// The request-response model's.
    Http(http::Due),
    /// The Kafka model's.
    Kafka(kafka::Due),
    /// The BullMQ model's.
    Bullmq(bullmq::Due),
    /// The data model's.
    Data(data::Due),
}

/// Whom a handler step that another model carries out (a store's write) answers when it is
/// done: the answer is an agenda entry of the handler's own model, so models never call one
/// another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StepOrigin {
    /// A request a service is serving (the HTTP model's job).
    Http(http::JobKey),
    /// A job attempt a BullMQ worker is running.
    Bullmq(bullmq::RunKey),
    /// A record a Kafka consumer is processing: its `run`th.
    Kafka {
        /// The consumer.
        consumer: NodeId,
        /// Which record.
        run: u32,
    },
    /// A delivery a RabbitMQ consumer is handling: its channel's handler run.
    Amqp {
        /// The consumer.
        consumer: NodeId,
        /// The run (the delivery) the step belongs to.
        run: u32,
    },
}

impl StepOrigin {
    /// The agenda entry that tells the step's owner it ended, and how.
    pub fn answer(self, answer: StepAnswer) -> ModelDue {
        match self {
            StepOrigin::Http(job) => ModelDue::Http(http::Due::StepDone { job, answer }),
            StepOrigin::Bullmq(run) => ModelDue::Bullmq(bullmq::Due::StepDone(run, answer)),
            StepOrigin::Amqp { consumer, run } => ModelDue::Amqp(amqp::Due::StepDone {
                consumer,
                run,
                answer,
            }),
            StepOrigin::Kafka { consumer, run } => {
                ModelDue::Kafka(kafka::Due::StepDone(consumer, run, answer))
            }
        }
    }
}

/// How a handler step that another model carried out ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StepAnswer {
    /// It succeeded: the handler goes on.
    Done,
    /// What it waited on (a store, a job queue) was removed while it was out.
    Gone,
    /// The topic refused the record.
    Refused,
    /// A call failed: every attempt its edge's policies allowed failed, timed out or was
    /// refused.
    CallFailed,
}

impl StepAnswer {
    /// `Done` if `ok`, else `failed`.
    pub fn ok_or(ok: bool, failed: StepAnswer) -> StepAnswer {
        if ok {
            StepAnswer::Done
        } else {
            failed
        }
    }

    /// Why the handler throws at this step, if it failed.
    pub fn failure(self) -> Option<&'static str> {
        match self {
            StepAnswer::Done => None,
            StepAnswer::Gone => {
                Some("the store or job queue it waited on was removed while the step was out")
            }
            StepAnswer::Refused => Some("the topic refused the record"),
            StepAnswer::CallFailed => Some(
                "a call failed: every attempt its edge's policies allowed failed, timed out or \
                 was refused",
            ),
        }
    }
}

/// Where a live message rests. The conservation check compares [`Place::fate`] with the
/// ledger; the inspector shows the rest.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Place<'a> {
    /// The message.
    pub msg: &'a Envelope,
    /// Where the ledger must say it is.
    pub fate: Fate,
    /// When it next moves by itself, if it does.
    pub until: Option<SimTime>,
    /// What kind of place it is.
    pub detail: PlaceDetail<'a>,
}

/// The kind of place a message rests in.
#[derive(Clone, Copy, Debug)]
pub(crate) enum PlaceDetail<'a> {
    /// On an edge, arriving at `arrive`: a hop or a publish.
    Wire {
        /// The edge.
        edge: EdgeId,
        /// When it gets there.
        arrive: SimTime,
    },
    /// Held by a kernel node (a relay).
    Node {
        /// The node.
        node: NodeId,
    },
    /// Somewhere in the RabbitMQ model.
    Amqp(amqp::PlaceDetail<'a>),
    /// Somewhere in the request-response model.
    Http(http::PlaceDetail),
    /// Somewhere in the Kafka model.
    Kafka(kafka::PlaceDetail),
    /// Somewhere in the BullMQ model.
    Bullmq(bullmq::PlaceDetail<'a>),
}

/// Every model's state, side by side.
#[derive(Clone, Debug)]
pub(crate) struct Models {
    /// RabbitMQ.
    pub amqp: AmqpModel,
    /// Request-response.
    pub http: HttpModel,
    /// Kafka.
    pub kafka: KafkaModel,
    /// BullMQ.
    pub bullmq: BullmqModel,
    /// Stores.
    pub data: DataModel,
}

impl Models {
    /// The models' state for a topology about to start: nothing declared yet.
    pub fn new() -> Models {
        Models {
            amqp: AmqpModel::default(),
            http: HttpModel::default(),
            kafka: KafkaModel::default(),
            bullmq: BullmqModel::default(),
            data: DataModel::default(),
        }
    }

    /// A node was added to the topology (or the run starts with it): every model learns of it,
    /// since a model may keep state for another's node (the AMQP channel of a producer).
    pub fn node_added(&mut self, k: &mut Kernel, node: NodeId) {
        self.amqp.node_added(k, node);
        self.http.node_added(k, node);
        self.kafka.node_added(k, node);
        self.bullmq.node_added(k, node);
        self.data.node_added(k, node);
    }

    /// An edge was added (or the run starts with it): the model of its kind takes it up.
    pub fn edge_added(&mut self, k: &mut Kernel, edge: EdgeId) {
        match k.topo.edge(edge).kind {
            EdgeKind::Hop => {}
            EdgeKind::Amqp(_) => self.amqp.edge_added(k, edge),
            EdgeKind::Http(_) => self.http.edge_added(k, edge),
            EdgeKind::Kafka(_) => self.kafka.edge_added(k, edge),
            EdgeKind::Bullmq(_) => self.bullmq.edge_added(k, edge),
            // A store's edge has no state: writes carry what they need.
            EdgeKind::Data(_) => {}
        }
    }

    /// An edge is about to be removed by a live edit.
    pub fn edge_removing(&mut self, k: &mut Kernel, edge: EdgeId) {
        match k.topo.edge(edge).kind {
            EdgeKind::Hop => {}
            EdgeKind::Amqp(_) => self.amqp.edge_removing(k, edge),
            EdgeKind::Http(_) => self.http.edge_removing(k, edge),
            EdgeKind::Kafka(_) => self.kafka.edge_removing(k, edge),
            EdgeKind::Bullmq(_) => self.bullmq.edge_removing(k, edge),
            // Writes on their way finish; the handler's next write finds no edge.
            EdgeKind::Data(_) => {}
        }
    }

    /// A message reached the end of `edge`, of a model's kind `kind`.
    #[inline]
    pub fn arrive(&mut self, k: &mut Kernel, edge: EdgeId, kind: EdgeKind, msg: Box<Envelope>) {
        match kind {
            EdgeKind::Hop => unreachable!("the kernel takes hops"),
            EdgeKind::Amqp(kind) => self.amqp.publish_arrive(k, edge, kind, msg),
            EdgeKind::Http(_) => self.http.arrive(k, edge, msg),
            // A producer's requests travel in the model's own entries; a handler's record, as
            // a message on the wire.
            EdgeKind::Kafka(_) => self.kafka.handler_record_arrives(k, edge, msg),
            EdgeKind::Bullmq(bullmq::EdgeKind::Add) => self.bullmq.add_arrives(k, edge, msg),
            EdgeKind::Bullmq(bullmq::EdgeKind::Work) => {
                unreachable!("a worker's calls travel in the model's own entries")
            }
            EdgeKind::Data(_) => unreachable!("writes travel in the model's own entries"),
        }
    }

    /// A model's timer is due.
    #[inline]
    pub fn timer(&mut self, k: &mut Kernel, due: ModelDue) {
        match due {
            ModelDue::Amqp(d) => self.amqp.timer(k, d),
            ModelDue::Http(d) => self.http.timer(k, d),
            ModelDue::Kafka(d) => self.kafka.timer(k, d),
            ModelDue::Bullmq(d) => self.bullmq.timer(k, d),
            ModelDue::Data(d) => self.data.timer(k, d),
        }
    }

    /// `caller`'s deadline for the reply correlated with `correlation` passed with no reply
    /// ([`Kernel::await_reply`]): the request-response model times the call out. Its clients
    /// and services call, and consumers', workers' and Kafka consumers' handlers
    /// (`correlation` is the attempt).
    pub fn deadline_passed(
        &mut self,
        k: &mut Kernel,
        caller: NodeId,
        correlation: crate::MessageId,
    ) {
        match k.topo.node(caller).kind.model() {
            ModelId::Kernel | ModelId::Data => {}
            // Consumers, workers and Kafka consumers call through their handlers' call steps.
            ModelId::Http | ModelId::Amqp | ModelId::Kafka | ModelId::Bullmq => {
                self.http.timed_out(k, caller, correlation)
            }
        }
    }

    /// The consumers, workers and Kafka consumers that went down in the step just done
    /// ([`Kernel::callers_down`]): their handlers' calls end, telling nobody (their runs went
    /// with them), and their call edges' policies start afresh.
    pub fn callers_gone(&mut self, k: &mut Kernel) {
        while let Some(node) = k.callers_down.pop() {
            self.http.caller_gone(k, node);
        }
    }

    /// A producer made a message: models mark it as their protocol requires (AMQP's publish
    /// flags: `mandatory`, the confirm sequence number).
    pub fn on_publish(&mut self, k: &Kernel, producer: NodeId, msg: &mut Envelope) {
        self.amqp.on_publish(k, producer, msg);
    }

    /// A producer's channel starts again (it restarted, or its publish options changed).
    pub fn publisher_reset(&mut self, producer: NodeId) {
        self.amqp.publisher_reset(producer);
    }

    /// Every live message the models hold in their own state, where it rests.
    pub fn places<'a>(&'a self, _k: &'a Kernel, f: &mut dyn FnMut(Place<'a>)) {
        self.amqp.places(f);
        self.http.places(f);
        self.kafka.places(f);
        self.bullmq.places(f);
    }

    /// Each model's counters against where its messages are (`places`: every live message's
    /// place, as [`crate::Sim::check_conservation`] found them).
    pub fn check_counters(&self, k: &Kernel, places: &[Place<'_>]) -> Result<(), String> {
        let deliveries: Vec<(NodeId, &amqp::Delivery)> = places
            .iter()
            .filter_map(|p| match p.detail {
                PlaceDetail::Amqp(d) => d.delivery(),
                PlaceDetail::Wire { .. }
                | PlaceDetail::Node { .. }
                | PlaceDetail::Http(_)
                | PlaceDetail::Kafka(_)
                | PlaceDetail::Bullmq(_) => None,
            })
            .collect();
        self.amqp.check_counters(k, &deliveries)?;
        self.http.check_counters(k)?;
        self.kafka.check_counters(k)?;
        self.bullmq.check_counters(k)?;
        self.data.check(k)
    }

    /// The live messages a model's agenda entry carries, where they rest.
    pub fn places_in_due<'a>(
        &'a self,
        at: SimTime,
        due: &'a ModelDue,
        f: &mut dyn FnMut(Place<'a>),
    ) {
        match due {
            ModelDue::Amqp(d) => amqp::places_in_due(at, d, f),
            // The models' entries carry no message: their messages rest in their own state.
            // Nor do a store's writes: the message being handled stays with its service.
            ModelDue::Http(_) | ModelDue::Kafka(_) | ModelDue::Bullmq(_) | ModelDue::Data(_) => {}
        }
    }
}
