//! The RabbitMQ model as the kernel sees it ([`crate::model`]): its state ([`AmqpModel`]), its
//! agenda entries ([`Due`]), where its messages rest ([`PlaceDetail`]), its metrics, and the
//! hooks the `Sim` calls. The behaviour itself is in `broker.rs`.

use super::broker::{AmqpNode, Delivery};
use super::config::{ConsumerConfig, Settlement};
use super::headers::XMatch;
use super::kind::{AmqpKind, EdgeKind};
use super::route_index::RouteIndex;
use super::topic::TopicPattern;
use super::ExchangeType;
use crate::id::{EdgeId, NodeId};
use crate::kernel::Kernel;
use crate::ledger::Fate;
use crate::message::Envelope;
use crate::model::{Place, PlaceDetail as AnyPlace};
use crate::scenario::NodeKind;
use crate::time::SimTime;
use serde::Serialize;
use std::collections::BTreeMap;

/// The model's entries in the kernel's agenda.
#[derive(Clone, Debug)]
pub(crate) enum Due {
    /// A delivery reaches its consumer.
    Deliver { consumer: NodeId, d: Box<Delivery> },
    /// A consumer finishes processing its current delivery.
    Finish { consumer: NodeId },
    /// A consumer's settlement reaches the broker. The batch (how, and for `multiple` the
    /// other deliveries) rides in the first delivery's box, so every entry stays small.
    Settle {
        consumer: NodeId,
        batch: Box<Delivery>,
    },
    /// A queue's TTL timer.
    QueueTimer { queue: NodeId },
    /// A queue's `x-expires` timer.
    QueueExpires { queue: NodeId, epoch: u32 },
    /// A handler step another model carried out (a store's write, a call) answers the
    /// consumer: done, or how it failed. `run` names the delivery's handler run it belongs to;
    /// a channel closed or a delivery settled since then ignores it.
    StepDone {
        consumer: NodeId,
        run: u32,
        answer: crate::model::StepAnswer,
    },
}

impl Due {
    /// The consumer whose channel the entry belongs to, if any.
    pub(crate) fn consumer(&self) -> Option<NodeId> {
        match self {
            Due::Deliver { consumer, .. }
            | Due::Finish { consumer }
            | Due::StepDone { consumer, .. }
            | Due::Settle { consumer, .. } => Some(*consumer),
            Due::QueueTimer { .. } | Due::QueueExpires { .. } => None,
        }
    }
}

/// How a binding decides whether a message goes its way, compiled once per binding.
#[derive(Clone, Debug)]
pub(crate) enum Matcher {
    /// Direct: the binding key equals a routing key.
    Direct,
    /// Fanout: always.
    Fanout,
    /// Topic: the compiled pattern.
    Topic(TopicPattern),
    /// Headers: the `x-match` mode over the binding's arguments.
    Headers(XMatch),
}

/// The RabbitMQ model's state: per node (a queue's store, a consumer's channel, a producer's
/// publishing channel), per edge (a binding's compiled matcher) and per exchange (its bindings
/// indexed for routing).
#[derive(Clone, Debug, Default)]
pub(crate) struct AmqpModel {
    /// By node id.
    pub(crate) nodes: Vec<AmqpNode>,
    /// By edge id: the matcher of each binding (`None` for other edges).
    pub(crate) matchers: Vec<Option<Matcher>>,
    /// Each exchange's live bindings, indexed by what they match: kept in step with the
    /// bindings as they are added and removed.
    pub(crate) routes: RouteIndex,
    /// The policies and operator policies in force.
    pub(crate) policies: super::policy::PolicySet,
    /// The policy and operator policy applying to each exchange and queue that has one.
    pub(crate) applied: BTreeMap<NodeId, super::policy::Applied>,
    /// Exchanges whose alternate exchange comes from a policy (not an argument): which.
    pub(crate) policy_ae: BTreeMap<NodeId, String>,
}

/// Where a message of this model rests.
#[derive(Clone, Copy, Debug)]
pub(crate) enum PlaceDetail<'a> {
    /// A delivery on its way to `consumer`, arriving at `arrive`.
    Delivering {
        consumer: NodeId,
        d: &'a Delivery,
        arrive: SimTime,
    },
    /// A consumer's settlement of `d` on its way back to the broker.
    Settling {
        consumer: NodeId,
        d: &'a Delivery,
        how: Settlement,
        arrive: SimTime,
    },
    /// Ready in a queue, `position` from the head.
    InQueue {
        queue: NodeId,
        position: u64,
        /// The `redelivered` flag its next delivery will carry.
        redelivered: bool,
    },
    /// At a consumer: being processed, or waiting in its buffer.
    AtConsumer {
        consumer: NodeId,
        d: &'a Delivery,
        processing: bool,
    },
}

impl<'a> PlaceDetail<'a> {
    /// The delivery, and its consumer, for a delivered message.
    pub(crate) fn delivery(&self) -> Option<(NodeId, &'a Delivery)> {
        match *self {
            PlaceDetail::Delivering { consumer, d, .. }
            | PlaceDetail::Settling { consumer, d, .. }
            | PlaceDetail::AtConsumer { consumer, d, .. } => Some((consumer, d)),
            PlaceDetail::InQueue { .. } => None,
        }
    }
}

/// The live messages a model's agenda entry carries, where they rest.
pub(crate) fn places_in_due<'a>(at: SimTime, due: &'a Due, f: &mut dyn FnMut(Place<'a>)) {
    match due {
        Due::Deliver { consumer, d } => f(Place {
            msg: &d.msg,
            fate: Fate::InTransit { edge: d.edge },
            until: Some(at),
            detail: AnyPlace::Amqp(PlaceDetail::Delivering {
                consumer: *consumer,
                d,
                arrive: at,
            }),
        }),
        Due::Settle { consumer, batch } => {
            for d in batch.batch() {
                f(Place {
                    msg: &d.msg,
                    fate: Fate::Held { node: *consumer },
                    until: Some(at),
                    detail: AnyPlace::Amqp(PlaceDetail::Settling {
                        consumer: *consumer,
                        d,
                        how: batch.how,
                        arrive: at,
                    }),
                });
            }
        }
        Due::Finish { .. }
        | Due::StepDone { .. }
        | Due::QueueTimer { .. }
        | Due::QueueExpires { .. } => {}
    }
}

/// What a queue holds and who consumes from it, as the management UI shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct QueueMetrics {
    /// Ready messages.
    pub ready: u64,
    /// Sum of ready bodies, bytes.
    pub ready_bytes: u64,
    /// Delivered, not yet acked.
    pub unacked: u64,
    /// Registered consumers.
    pub consumers: u64,
    /// Messages that reached the queue by being dead-lettered (from any queue), so far: how
    /// many have arrived in it as a dead-letter queue.
    pub dead_lettered_in: u64,
}

/// A consumer's state: its channel as the broker sees it, and its application.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConsumerMetrics {
    /// Manual-ack deliveries on its channel not yet settled at the broker, over all its
    /// queues: on their way to it, buffered, being processed, or with a settlement on its way
    /// back. This is what the prefetch limits count.
    pub unacked: u64,
    /// `basic.qos(prefetch_count, global=false)` in effect; 0: unlimited.
    pub prefetch_count: u16,
    /// `basic.qos(prefetch_count, global=true)` in effect; 0: unlimited.
    pub global_prefetch_count: u16,
    /// The delivery being processed: its message, when processing started, and when it will
    /// finish.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processing: Option<(crate::id::MessageId, SimTime, SimTime)>,
    /// Paused by a `pause` command.
    pub paused: bool,
    /// Simulated microseconds spent processing so far, over the node's life, the current
    /// delivery included up to now. `busy_us` over elapsed time is its utilisation.
    pub busy_us: u64,
    /// Deliveries that have arrived and wait to be processed.
    pub buffered: u64,
    /// The handler step (counted from 1) the delivery being handled waits on: a write out to
    /// its store. `None` while it is processed, or with no write out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handler_step: Option<u16>,
}

/// A node's state in the RabbitMQ model, for metrics.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AmqpMetrics {
    /// A queue's.
    Queue(QueueMetrics),
    /// A consumer's.
    Consumer(ConsumerMetrics),
}

impl AmqpModel {
    /// A node was added (or the run starts with it): its state, and a queue's timers.
    pub(crate) fn node_added(&mut self, k: &mut Kernel, node: NodeId) {
        let i = node.index();
        if self.nodes.len() <= i {
            self.nodes.resize_with(i + 1, AmqpNode::default);
        }
        self.nodes[i] = AmqpNode::for_kind(&k.topo.node(node).kind);
        match k.topo.node(node).kind {
            NodeKind::Amqp(AmqpKind::Queue(_)) => {
                self.policies_at_declare(k, node);
                self.queue_declared(k, node);
            }
            NodeKind::Amqp(AmqpKind::Exchange(_)) => self.policies_at_declare(k, node),
            NodeKind::Amqp(AmqpKind::Consumer(_))
            | NodeKind::Producer(_)
            | NodeKind::Relay(_)
            | NodeKind::Sink(_)
            | NodeKind::Http(_)
            | NodeKind::Kafka(_)
            | NodeKind::Bullmq(_)
            | NodeKind::Data(_) => {}
        }
    }

    /// An edge of this model was added: a binding's matcher is compiled, a `basic.consume`
    /// registers its consumer.
    pub(crate) fn edge_added(&mut self, k: &mut Kernel, edge: EdgeId) {
        let i = edge.index();
        if self.matchers.len() <= i {
            self.matchers.resize_with(i + 1, || None);
        }
        let e = k.topo.edge(edge);
        match e.kind {
            crate::model::EdgeKind::Amqp(EdgeKind::Binding | EdgeKind::ExchangeBinding) => {
                let NodeKind::Amqp(AmqpKind::Exchange(x)) = &k.topo.node(e.from).kind else {
                    unreachable!("a binding starts at an exchange")
                };
                let matcher = match x.kind {
                    ExchangeType::Direct => Matcher::Direct,
                    ExchangeType::Fanout => Matcher::Fanout,
                    ExchangeType::Topic => Matcher::Topic(
                        TopicPattern::new(&e.routing_key).expect("validated binding"),
                    ),
                    ExchangeType::Headers => {
                        Matcher::Headers(XMatch::of(&e.arguments).expect("validated binding"))
                    }
                };
                self.routes.bind(e.from, edge, &e.routing_key, &matcher);
                self.matchers[i] = Some(matcher);
            }
            crate::model::EdgeKind::Amqp(EdgeKind::Consume) => self.register_consumer(k, edge),
            crate::model::EdgeKind::Amqp(EdgeKind::Publish | EdgeKind::PublishDefault)
            | crate::model::EdgeKind::Hop
            | crate::model::EdgeKind::Http(_)
            | crate::model::EdgeKind::Kafka(_)
            | crate::model::EdgeKind::Bullmq(_)
            | crate::model::EdgeKind::Data(_) => {}
        }
    }

    /// An edge of this model is about to be removed: a binding leaves its exchange's index, a
    /// `basic.consume` is cancelled.
    pub(crate) fn edge_removing(&mut self, k: &mut Kernel, edge: EdgeId) {
        self.unbind(k, edge);
        self.cancel_on_edge(k, edge);
    }

    /// Binding `edge` (if it is one) leaves its exchange's index: it is about to be removed.
    fn unbind(&mut self, k: &Kernel, edge: EdgeId) {
        if let Some(Some(matcher)) = self.matchers.get(edge.index()) {
            let e = k.topo.edge(edge);
            self.routes.unbind(e.from, edge, &e.routing_key, matcher);
        }
    }

    /// The bindings from and to `node` leave their exchanges' indexes: the node (an exchange or
    /// a queue) is about to be removed, and its edges with it.
    pub(crate) fn unbind_all_at(&mut self, k: &Kernel, node: NodeId) {
        let n = k.topo.node(node);
        for &edge in n.out.iter().chain(&n.inc) {
            self.unbind(k, edge);
        }
    }

    /// An entry of this model is due.
    pub(crate) fn timer(&mut self, k: &mut Kernel, due: Due) {
        match due {
            Due::Deliver { consumer, d } => self.delivery_arrive(k, consumer, d),
            Due::Finish { consumer } => self.finish(k, consumer),
            Due::StepDone {
                consumer,
                run,
                answer,
            } => self.step_done(k, consumer, run, answer),
            Due::Settle { consumer, batch } => {
                let (how, multiple, first, rest) = Delivery::unpack(batch);
                self.settle_arrive(k, consumer, how, multiple, first, rest)
            }
            Due::QueueTimer { queue } => self.queue_timer(k, queue),
            Due::QueueExpires { queue, epoch } => self.queue_expires(k, queue, epoch),
        }
    }

    /// A producer made a message: while it is up, its publish carries `mandatory` and, with
    /// publisher confirms, the next sequence number.
    pub(crate) fn on_publish(&mut self, k: &Kernel, producer: NodeId, msg: &mut Envelope) {
        if !k.up(producer) {
            return;
        }
        let mandatory = k.producer(producer).mandatory;
        msg.publish = Some(crate::message::PublishFlags {
            publisher: producer,
            mandatory,
            confirm_seq: self.next_confirm_seq(k, producer),
        });
    }

    /// Why consumer `node` cannot be paused (`pause`) or resumed (`!pause`) now, if it cannot.
    pub(crate) fn check_pause(&self, k: &Kernel, node: NodeId, pause: bool) -> Result<(), String> {
        let name = &k.topo.node(node).name;
        if !k.up(node) {
            return Err(format!(
                "{name:?} is down; restart it first (a consumer comes back unpaused)"
            ));
        }
        let paused = self.channel(node).paused;
        if pause && paused {
            return Err(format!("{name:?} is already paused"));
        }
        if !pause && !paused {
            return Err(format!(
                "{name:?} is not paused, so there is nothing to resume"
            ));
        }
        Ok(())
    }

    /// A producer's publishing channel starts again: confirm numbering restarts at 1.
    pub(crate) fn publisher_reset(&mut self, producer: NodeId) {
        self.nodes[producer.index()] = AmqpNode::Producer { next_seq: 1 };
    }

    /// One of this model's nodes crashes: a consumer's connection closes (its unacked
    /// deliveries go back to their queues).
    pub(crate) fn crash(&mut self, k: &mut Kernel, node: NodeId, kind: &AmqpKind) {
        match kind {
            AmqpKind::Consumer(_) => self.crash_consumer(k, node),
            // Refused as commands (the broker is not simulated as crashing); a removal of
            // these does not crash them either.
            AmqpKind::Exchange(_) | AmqpKind::Queue(_) => k.crash(node),
        }
    }

    /// A consumer's connection closes now (a crash, a channel error, its removal).
    pub(crate) fn crash_consumer(&mut self, k: &mut Kernel, node: NodeId) {
        if !k.mark_down(node) {
            return;
        }
        let ds = self.close_consumer_connection(k, node);
        let lost = ds.iter().filter(|d| d.auto_ack).count() as u32;
        k.emit(crate::EventKind::Crashed { node, lost });
        self.requeue_closed(k, node, ds);
    }

    /// One of this model's nodes came back up (the kernel has marked it up).
    pub(crate) fn restart(&mut self, k: &mut Kernel, node: NodeId, kind: &AmqpKind) {
        match kind {
            AmqpKind::Consumer(_) => self.reopen_consumer(k, node),
            AmqpKind::Exchange(_) | AmqpKind::Queue(_) => {}
        }
    }

    /// One of this model's nodes is removed by a live edit: a queue is deleted (its messages
    /// dropped), a consumer's connection closes.
    pub(crate) fn remove(&mut self, k: &mut Kernel, node: NodeId, kind: &AmqpKind) {
        match kind {
            AmqpKind::Queue(_) => self.delete_queue(k, node, "deleted"),
            AmqpKind::Exchange(_) => self.unbind_all_at(k, node),
            AmqpKind::Consumer(_) => self.crash_consumer(k, node),
        }
    }

    /// One of this model's nodes took new settings in place (from `old`).
    pub(crate) fn configured(&mut self, k: &mut Kernel, node: NodeId, old: &AmqpKind) {
        match old {
            AmqpKind::Consumer(c) => self.consumer_reconfigured(k, node, c),
            // Checked to be unchanged (RabbitMQ cannot redeclare them with other settings).
            AmqpKind::Exchange(_) | AmqpKind::Queue(_) => {}
        }
    }

    /// Every live message in the model's own state (queue stores, consumers), where it rests.
    pub(crate) fn places<'a>(&'a self, f: &mut dyn FnMut(Place<'a>)) {
        for (i, state) in self.nodes.iter().enumerate() {
            let node = NodeId(i as u32);
            match state {
                AmqpNode::Queue(q) => {
                    let quorum = q.is_quorum();
                    for (position, s) in q.iter().enumerate() {
                        f(Place {
                            msg: &s.msg,
                            fate: Fate::Held { node },
                            until: None,
                            detail: AnyPlace::Amqp(PlaceDetail::InQueue {
                                queue: node,
                                position: position as u64,
                                // As `send_delivery` will compute it.
                                redelivered: if quorum {
                                    s.meta.acquired > 0
                                } else {
                                    s.meta.delivered
                                },
                            }),
                        });
                    }
                }
                AmqpNode::Consumer(ch) => {
                    if let Some(d) = &ch.current {
                        f(Place {
                            msg: &d.msg,
                            fate: Fate::Held { node },
                            until: Some(ch.finishes),
                            detail: AnyPlace::Amqp(PlaceDetail::AtConsumer {
                                consumer: node,
                                d,
                                processing: true,
                            }),
                        });
                    }
                    for d in &ch.buffer {
                        f(Place {
                            msg: &d.msg,
                            fate: Fate::Held { node },
                            until: None,
                            detail: AnyPlace::Amqp(PlaceDetail::AtConsumer {
                                consumer: node,
                                d,
                                processing: false,
                            }),
                        });
                    }
                }
                AmqpNode::None | AmqpNode::Producer { .. } => {}
            }
        }
    }

    /// Node `node`'s state in this model, for metrics.
    pub(crate) fn metrics(&self, k: &Kernel, node: NodeId) -> Option<AmqpMetrics> {
        match (&k.topo.node(node).kind, self.nodes.get(node.index())?) {
            (_, AmqpNode::Queue(q)) => Some(AmqpMetrics::Queue(QueueMetrics {
                ready: q.len() as u64,
                ready_bytes: q.bytes(),
                unacked: q.unacked,
                consumers: q.consumers.len() as u64,
                dead_lettered_in: q.dead_lettered_in,
            })),
            (NodeKind::Amqp(AmqpKind::Consumer(cfg)), AmqpNode::Consumer(ch)) => {
                Some(AmqpMetrics::Consumer(consumer_metrics(cfg, ch, k.now)))
            }
            (_, AmqpNode::None | AmqpNode::Producer { .. } | AmqpNode::Consumer(_)) => None,
        }
    }
}

fn consumer_metrics(
    cfg: &ConsumerConfig,
    ch: &super::broker::ConsumerState,
    now: SimTime,
) -> ConsumerMetrics {
    ConsumerMetrics {
        unacked: u64::from(ch.unacked),
        prefetch_count: cfg.prefetch_count,
        global_prefetch_count: cfg.global_prefetch_count,
        processing: ch
            .current
            .as_ref()
            .map(|d| (d.msg.id, ch.started, ch.finishes)),
        paused: ch.paused,
        busy_us: ch.busy_us_at(now),
        buffered: ch.buffer.len() as u64,
        handler_step: (ch.current.is_some() && ch.step > 0).then_some(ch.step),
    }
}
