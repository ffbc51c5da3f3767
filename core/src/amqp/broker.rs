//! The broker's behaviour, as methods of the model ([`AmqpModel`]) acting through the kernel
//! (`k`): publishing and routing, queues, consumers and settlement. Each function names the
//! RabbitMQ function it follows.
//!
//! A delivery is boxed once when it leaves its queue and keeps that box until it is settled:
//! agenda entries, consumer buffers and settlement batches move pointers, never the 72-byte
//! struct. Hence `Vec<Box<Delivery>>` on purpose.
#![allow(clippy::vec_box)]

use super::config::{ConsumerConfig, Overflow, Settlement, DEFAULT_DELIVERY_LIMIT};
use super::death::{self, DeathReason};
use super::event::{AmqpEvent, SettleMethod};
use super::kind::{AmqpKind, EdgeKind};
use super::model::{AmqpModel, Due, Matcher};
use super::queue::{Meta, QConsumer, QueueState, Stored};
use super::route_index::Lookup;
use super::topic;
use crate::event::EventKind;
use crate::handler::{self, Handled, Then};
use crate::id::{EdgeId, NodeId};
use crate::kernel::{self, Kernel};
use crate::ledger::{DropReason, Fate};
use crate::message::{Envelope, HeaderValue};
use crate::model::{ModelDue, StepOrigin};
use crate::scenario::NodeKind;
use crate::time::{SimDuration, SimTime};
use crate::topology::Topology;
use std::collections::{BTreeSet, VecDeque};

/// Per-node AMQP state.
#[derive(Clone, Debug, Default)]
pub(crate) enum AmqpNode {
    /// Not an AMQP node with state.
    #[default]
    None,
    /// A producer: its next publisher-confirm sequence number.
    Producer {
        /// Starts at 1.
        next_seq: u64,
    },
    /// A queue.
    Queue(Box<QueueState>),
    /// A consumer's connection and channel.
    Consumer(Box<ConsumerState>),
}

/// A delivery: a message sent to a consumer, with what its queue needs to take it back.
#[derive(Clone, Debug)]
pub(crate) struct Delivery {
    pub tag: u64,
    pub queue: NodeId,
    pub edge: EdgeId,
    pub auto_ack: bool,
    /// The `redelivered` flag it was delivered with.
    pub redelivered: bool,
    pub msg: Box<Envelope>,
    pub meta: Meta,
    /// Set when the consumer settles it: how, and (for `multiple`) the other deliveries
    /// settled with it. Kept here rather than in the agenda entry, so entries stay small.
    pub how: Settlement,
    pub multiple: bool,
    #[allow(clippy::box_collection)]
    pub more: Option<Box<Vec<Box<Delivery>>>>,
}

impl Delivery {
    /// Splits a settlement batch carried by its first delivery: how, `multiple`, the first
    /// delivery and the rest (empty, so not allocated, for a single one).
    pub(crate) fn unpack(
        mut first: Box<Delivery>,
    ) -> (Settlement, bool, Box<Delivery>, Vec<Box<Delivery>>) {
        let (how, multiple) = (first.how, first.multiple);
        let rest = first.more.take().map(|m| *m).unwrap_or_default();
        (how, multiple, first, rest)
    }

    /// The batch's deliveries, for inspection.
    pub(crate) fn batch(&self) -> impl Iterator<Item = &Delivery> {
        std::iter::once(self).chain(self.more.iter().flat_map(|m| m.iter().map(|d| &**d)))
    }
}

/// A consumer node's channel.
#[derive(Clone, Debug)]
pub(crate) struct ConsumerState {
    /// The next delivery tag (tags start at 1 on each channel).
    pub next_tag: u64,
    /// Unacked manual-ack deliveries on the channel.
    pub unacked: u32,
    /// Delivered, waiting to be processed, in delivery order.
    pub buffer: VecDeque<Box<Delivery>>,
    /// Being processed (a `Finish` is scheduled).
    pub current: Option<Box<Delivery>>,
    /// Messages finished over the node's life.
    pub processed: u64,
    /// Queues that could not deliver because the channel's global prefetch was full.
    pub suspended: BTreeSet<NodeId>,
    /// Paused by a command: the application starts no new delivery (deliveries still arrive).
    pub paused: bool,
    /// When the current delivery's processing started.
    pub started: SimTime,
    /// When the current delivery's processing will finish.
    pub finishes: SimTime,
    /// Simulated microseconds spent processing deliveries that are no longer current.
    pub busy_us: u64,
    /// Which handler run the current delivery is in: one more for each delivery started and
    /// each channel closed, so a step's late answer is known for a stale one.
    pub run: u32,
    /// The current delivery's next handler step (0: its processing is not done yet, or it
    /// has run none).
    pub step: u16,
    /// Unacked deliveries the channel holds beyond a global prefetch lowered by a live
    /// `configure` (nothing is taken back); shrinks as they are settled.
    pub over_global: u32,
}

impl ConsumerState {
    /// Takes the delivery being processed, adding the time spent on it to `busy_us`.
    fn take_current(&mut self, now: SimTime) -> Option<Box<Delivery>> {
        let d = self.current.take()?;
        self.busy_us += (now - self.started).0;
        Some(d)
    }

    /// Simulated microseconds spent processing up to `now`, the current delivery included.
    pub(crate) fn busy_us_at(&self, now: SimTime) -> u64 {
        let current = if self.current.is_some() {
            (now - self.started).0
        } else {
            0
        };
        self.busy_us + current
    }

    fn new() -> ConsumerState {
        ConsumerState {
            next_tag: 1,
            unacked: 0,
            buffer: VecDeque::new(),
            current: None,
            processed: 0,
            suspended: BTreeSet::new(),
            paused: false,
            started: SimTime::ZERO,
            finishes: SimTime::ZERO,
            busy_us: 0,
            over_global: 0,
            run: 0,
            step: 0,
        }
    }
}

impl AmqpNode {
    /// The initial state for a node of `kind`: a producer's publishing channel, a queue's
    /// store, a consumer's channel; nothing for the others.
    pub(crate) fn for_kind(kind: &NodeKind) -> AmqpNode {
        match kind {
            NodeKind::Producer(_) => AmqpNode::Producer { next_seq: 1 },
            NodeKind::Amqp(AmqpKind::Queue(q)) => {
                AmqpNode::Queue(Box::new(QueueState::new((**q).clone())))
            }
            NodeKind::Amqp(AmqpKind::Consumer(_)) => {
                AmqpNode::Consumer(Box::new(ConsumerState::new()))
            }
            NodeKind::Relay(_)
            | NodeKind::Sink(_)
            | NodeKind::Http(_)
            | NodeKind::Kafka(_)
            | NodeKind::Bullmq(_)
            | NodeKind::Data(_)
            | NodeKind::Amqp(AmqpKind::Exchange(_)) => AmqpNode::None,
        }
    }
}

/// The model's own entry, if `d` is one.
pub(crate) fn amqp_due(d: &kernel::Due) -> Option<&Due> {
    match d {
        kernel::Due::Model(ModelDue::Amqp(d)) => Some(d),
        kernel::Due::Emit
        | kernel::Due::Arrive { .. }
        | kernel::Due::Release { .. }
        | kernel::Due::Deadline { .. }
        | kernel::Due::Model(ModelDue::Http(_))
        | kernel::Due::Model(ModelDue::Kafka(_))
        | kernel::Due::Model(ModelDue::Bullmq(_))
        | kernel::Due::Model(ModelDue::Data(_)) => None,
    }
}

/// The model's own entry, if `d` is one, taken out of it.
fn into_amqp_due(d: kernel::Due) -> Option<Due> {
    match d {
        kernel::Due::Model(ModelDue::Amqp(d)) => Some(d),
        kernel::Due::Emit
        | kernel::Due::Arrive { .. }
        | kernel::Due::Release { .. }
        | kernel::Due::Deadline { .. }
        | kernel::Due::Model(ModelDue::Http(_))
        | kernel::Due::Model(ModelDue::Kafka(_))
        | kernel::Due::Model(ModelDue::Bullmq(_))
        | kernel::Due::Model(ModelDue::Data(_)) => None,
    }
}

/// Schedules an entry of this model on the kernel's agenda.
#[inline]
fn schedule(k: &mut Kernel, at: SimTime, due: Due) {
    k.schedule(at, ModelDue::Amqp(due));
}

/// The settings of consumer `c`.
pub(crate) fn consumer_config(topo: &Topology, c: NodeId) -> &ConsumerConfig {
    match &topo.node(c).kind {
        NodeKind::Amqp(AmqpKind::Consumer(cfg)) => cfg,
        NodeKind::Producer(_)
        | NodeKind::Relay(_)
        | NodeKind::Sink(_)
        | NodeKind::Http(_)
        | NodeKind::Kafka(_)
        | NodeKind::Bullmq(_)
        | NodeKind::Data(_)
        | NodeKind::Amqp(AmqpKind::Exchange(_) | AmqpKind::Queue(_)) => {
            unreachable!("not a consumer")
        }
    }
}

/// Where a message is published: the default exchange or an exchange node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Default,
    Exchange(NodeId),
}

impl DeathReason {
    fn drop_reason(self) -> DropReason {
        match self {
            DeathReason::Rejected => DropReason::Rejected,
            DeathReason::Expired => DropReason::Expired,
            DeathReason::Maxlen => DropReason::Maxlen,
            DeathReason::DeliveryLimit => DropReason::DeliveryLimit,
        }
    }
}

impl AmqpModel {
    // ----- state access -----

    pub(crate) fn queue(&self, q: NodeId) -> &QueueState {
        match &self.nodes[q.index()] {
            AmqpNode::Queue(s) => s,
            AmqpNode::None | AmqpNode::Producer { .. } | AmqpNode::Consumer(_) => {
                unreachable!("not a queue")
            }
        }
    }

    pub(crate) fn queue_mut(&mut self, q: NodeId) -> &mut QueueState {
        match &mut self.nodes[q.index()] {
            AmqpNode::Queue(s) => s,
            AmqpNode::None | AmqpNode::Producer { .. } | AmqpNode::Consumer(_) => {
                unreachable!("not a queue")
            }
        }
    }

    pub(crate) fn channel(&self, c: NodeId) -> &ConsumerState {
        match &self.nodes[c.index()] {
            AmqpNode::Consumer(s) => s,
            AmqpNode::None | AmqpNode::Producer { .. } | AmqpNode::Queue(_) => {
                unreachable!("not a consumer")
            }
        }
    }

    pub(crate) fn channel_mut(&mut self, c: NodeId) -> &mut ConsumerState {
        match &mut self.nodes[c.index()] {
            AmqpNode::Consumer(s) => s,
            AmqpNode::None | AmqpNode::Producer { .. } | AmqpNode::Queue(_) => {
                unreachable!("not a consumer")
            }
        }
    }

    fn is_live_queue(&self, n: NodeId) -> bool {
        matches!(&self.nodes[n.index()], AmqpNode::Queue(q) if !q.deleted)
    }

    fn live_exchange(k: &Kernel, name: &str) -> Option<NodeId> {
        k.topo
            .node_id(name)
            .filter(|&n| matches!(k.topo.node(n).kind, NodeKind::Amqp(AmqpKind::Exchange(_))))
    }

    // ----- publishing and routing (rabbit_exchange:route/3, rabbit_channel) -----

    /// A message published along `edge` reached the broker: `edge.to` is an exchange, or a
    /// queue reached through the default exchange.
    pub(crate) fn publish_arrive(
        &mut self,
        k: &mut Kernel,
        edge: EdgeId,
        kind: EdgeKind,
        mut msg: Box<Envelope>,
    ) {
        let to = k.topo.edge(edge).to;
        let flags = msg.publish.take();
        if msg.headers.contains_key("BCC") {
            death::take_bcc(&mut msg);
        }
        let node = k.topo.node(to);
        let exchange = match kind {
            EdgeKind::Publish => {
                if node.removed {
                    k.drop_message(msg.id, to, DropReason::ExchangeNotFound);
                    return;
                }
                msg.exchange = Some(to);
                Some(to)
            }
            EdgeKind::PublishDefault => {
                // The default exchange, with the queue's name as the routing key.
                msg.exchange = None;
                msg.routing_key.clone_from(&node.name);
                None
            }
            EdgeKind::Binding | EdgeKind::ExchangeBinding | EdgeKind::Consume => {
                unreachable!("only publishes arrive at the broker")
            }
        };
        let target = exchange.map_or(Target::Default, Target::Exchange);
        let (queues, path) = self.route(k, target, &msg);
        let id = msg.id;
        let ack = if queues.is_empty() {
            let mandatory = flags.is_some_and(|f| f.mandatory);
            if mandatory {
                let publisher = flags.expect("mandatory").publisher;
                k.emit(EventKind::Amqp(AmqpEvent::Returned {
                    message: id,
                    node: publisher,
                    to: Box::new(super::event::PublishedTo {
                        exchange,
                        routing_key: msg.routing_key.clone(),
                    }),
                }));
            }
            let reason = if mandatory {
                DropReason::Returned
            } else {
                DropReason::Unroutable
            };
            k.drop_message(id, to, reason);
            true
        } else {
            self.deliver_routed(k, msg, exchange, path, queues, false)
        };
        if let Some(f) = flags {
            if let Some(seq) = f.confirm_seq {
                k.emit(EventKind::Amqp(AmqpEvent::Confirmed {
                    node: f.publisher,
                    seq,
                    message: id,
                    ack,
                }));
            }
        }
    }

    /// The queues a message reaches from `target`, each once in node order, and the further
    /// exchanges visited (`route1/4`'s worklist, with alternate exchanges and cycle cutting).
    fn route(&self, k: &Kernel, target: Target, msg: &Envelope) -> (Vec<NodeId>, Vec<NodeId>) {
        // The routing key, plus CC and BCC values when there are any (rarely): no allocation
        // in the common case.
        let one = [msg.routing_key.as_str()];
        let many: Vec<&str>;
        let keys: &[&str] = if death::has_extra_keys(msg) {
            many = death::routing_key_refs(msg);
            &many
        } else {
            &one
        };
        let mut dests: Vec<NodeId> = Vec::new();
        let first = match target {
            Target::Default => {
                for key in keys {
                    if let Some(q) = k.topo.node_id(key).filter(|&q| self.is_live_queue(q)) {
                        dests.push(q);
                    }
                }
                dests.sort_unstable();
                dests.dedup();
                return (dests, Vec::new());
            }
            Target::Exchange(x) => x,
        };
        // The words of each key, split once, when a topic binding first needs them.
        let split_keys =
            || -> Vec<Vec<&str>> { keys.iter().map(|key| topic::words(key)).collect() };
        let mut split: Option<Vec<Vec<&str>>> = None;
        let mut hits: Vec<EdgeId> = Vec::new(); // an indexed exchange's matching bindings
                                                // The exchanges reached after `first` (exchange-to-exchange bindings and alternate
                                                // exchanges), each once, in the order reached: the path. Allocated only if there are
                                                // any.
        let mut work: Vec<NodeId> = Vec::new();
        let mut next = 0;
        let mut x = first;
        loop {
            let mut routed_somewhere = false;
            hits.clear();
            match self.routes.lookup(x) {
                Lookup::Direct(bindings) => bindings.matching(keys, &mut hits),
                Lookup::Topic(trie) => {
                    trie.matching(split.get_or_insert_with(split_keys), &mut hits)
                }
                Lookup::Scan => {
                    for &e in &k.topo.node(x).out {
                        let edge = k.topo.edge(e);
                        let hit = match &self.matchers[e.index()] {
                            None => false,
                            Some(Matcher::Fanout) => true,
                            Some(Matcher::Direct) => keys.contains(&edge.routing_key.as_str()),
                            Some(Matcher::Topic(p)) => split
                                .get_or_insert_with(split_keys)
                                .iter()
                                .any(|w| p.matches_words(w)),
                            Some(Matcher::Headers(mode)) => {
                                super::headers::matches(*mode, &edge.arguments, &msg.headers)
                            }
                        };
                        if hit {
                            routed_somewhere = true;
                            self.follow_binding(k, edge.to, first, &mut work, &mut dests);
                        }
                    }
                }
            }
            // The index's hits come in the order of `out` (edge id order), as the scan's do.
            for &e in &hits {
                let edge = k.topo.edge(e);
                if edge.removed {
                    // Never: removals unbind first (`check_counters` checks the index).
                    continue;
                }
                routed_somewhere = true;
                self.follow_binding(k, edge.to, first, &mut work, &mut dests);
            }
            if !routed_somewhere {
                if let NodeKind::Amqp(AmqpKind::Exchange(cfg)) = &k.topo.node(x).kind {
                    // The argument wins over a policy's (rabbit_policy:get_arg/3).
                    let ae = cfg
                        .arguments
                        .alternate_exchange
                        .as_deref()
                        .or_else(|| self.policy_ae.get(&x).map(String::as_str));
                    if let Some(ae) = ae {
                        if let Some(ae) = Self::live_exchange(k, ae) {
                            if ae != first && !work.contains(&ae) {
                                work.push(ae);
                            }
                        }
                    }
                }
            }
            match work.get(next) {
                Some(&w) => {
                    x = w;
                    next += 1;
                }
                None => break,
            }
        }
        dests.sort_unstable();
        dests.dedup();
        (dests, work)
    }

    /// A binding to `to` matched the message being routed: an exchange joins the worklist
    /// (once; `first` is the exchange routing began at, not in it), a live queue the
    /// destinations.
    fn follow_binding(
        &self,
        k: &Kernel,
        to: NodeId,
        first: NodeId,
        work: &mut Vec<NodeId>,
        dests: &mut Vec<NodeId>,
    ) {
        match k.topo.node(to).kind {
            NodeKind::Amqp(AmqpKind::Exchange(_)) => {
                if to != first && !work.contains(&to) {
                    work.push(to);
                }
            }
            NodeKind::Amqp(AmqpKind::Queue(_)) => {
                if self.is_live_queue(to) {
                    dests.push(to);
                }
            }
            NodeKind::Producer(_)
            | NodeKind::Relay(_)
            | NodeKind::Sink(_)
            | NodeKind::Http(_)
            | NodeKind::Kafka(_)
            | NodeKind::Bullmq(_)
            | NodeKind::Data(_)
            | NodeKind::Amqp(AmqpKind::Consumer(_)) => {
                unreachable!("validated: a binding ends at an exchange or a queue")
            }
        }
    }

    /// Gives the message to each queue: the first gets it, the others copies. Returns true if
    /// every queue accepted it (the publisher-confirm outcome). `dead_letter`: the message is
    /// being dead-lettered (the routing says so, for those who show dead letters).
    fn deliver_routed(
        &mut self,
        k: &mut Kernel,
        msg: Box<Envelope>,
        exchange: Option<NodeId>,
        path: Vec<NodeId>,
        queues: Vec<NodeId>,
        dead_letter: bool,
    ) -> bool {
        // Copies for the queues after the first (none, usually: no allocation then).
        let mut msgs = Vec::with_capacity(queues.len().saturating_sub(1));
        for (i, &q) in queues.iter().enumerate().skip(1) {
            let id = k.ledger.next_id();
            k.ledger.create(id, Fate::Held { node: q });
            let mut copy = msg.clone();
            copy.id = id;
            copy.causation_id = Some(msg.id);
            msgs.push((i, copy));
        }
        if k.recording {
            let mut targets = Vec::with_capacity(queues.len());
            targets.push((queues[0], msg.id));
            targets.extend(msgs.iter().map(|(i, m)| (queues[*i], m.id)));
            k.emit(EventKind::Amqp(AmqpEvent::Routed {
                message: msg.id,
                exchange,
                route: Box::new(super::event::Route {
                    path,
                    targets,
                    dead_letter,
                }),
            }));
        }
        if let Some(x) = exchange {
            k.nodes[x.index()].stats.sent += queues.len() as u64;
        }
        let mut all = self.offer(k, queues[0], msg);
        for (i, m) in msgs {
            all &= self.offer(k, queues[i], m);
        }
        all
    }

    // ----- queues (rabbit_amqqueue_process) -----

    /// `maybe_deliver_or_enqueue/3`: a routed message reaches queue `q`. False if the queue
    /// refused it (`reject-publish`).
    fn offer(&mut self, k: &mut Kernel, q: NodeId, msg: Box<Envelope>) -> bool {
        k.nodes[q.index()].stats.received += 1;
        let qs = self.queue(q);
        let overflow = qs.config.arguments.overflow();
        // Quorum queues enqueue first and then block publishers once over the limit
        // (rabbit_fifo evaluate_limit): the publish that crosses it is accepted.
        let refused = if qs.is_quorum() {
            overflow == Overflow::RejectPublish && qs.publishers_blocked
        } else {
            overflow != Overflow::DropHead && qs.would_overflow(msg.body_bytes)
        };
        if refused {
            if overflow == Overflow::RejectPublishDlx
                && qs.config.arguments.dead_letter_exchange.is_some()
            {
                self.dead_letter(k, q, msg, DeathReason::Maxlen);
            } else {
                k.drop_message(msg.id, q, DropReason::RejectPublish);
            }
            return false;
        }
        let now = k.now;
        let meta = self.queue_mut(q).fresh_meta(&msg, now);
        let stored = Stored { msg, meta };
        // attempt_delivery: a consumer that can take it gets it straight away.
        if let Some(ci) = self.pick_consumer(k, q) {
            self.send_delivery(k, q, ci, stored);
            return true;
        }
        let qs = self.queue(q);
        if qs.config.arguments.message_ttl == Some(0)
            && qs.config.arguments.dead_letter_exchange.is_none()
        {
            // TTL 0 and nobody to take it: discarded at once (no basic.return).
            k.emit(EventKind::Amqp(AmqpEvent::Expired {
                message: stored.msg.id,
                queue: q,
            }));
            k.drop_message(stored.msg.id, q, DropReason::Expired);
            return true;
        }
        let id = stored.msg.id;
        let has_expiry = stored.meta.expiry.is_some();
        k.ledger.set(id, Fate::Held { node: q });
        let qs = self.queue_mut(q);
        qs.insert(stored);
        let ready = qs.len() as u32;
        k.emit(EventKind::Amqp(AmqpEvent::Enqueued {
            message: id,
            queue: q,
            ready,
        }));
        let dropped = self.drop_head_while_over(k, q);
        let len = self.queue(q).len();
        // deliver_or_enqueue/3 checks expiry (and arms the TTL timer) only when the head may
        // have changed: a newer high-priority head gets no timer until the next fetch.
        let check = !matches!(
            (dropped, len == 1, has_expiry),
            (false, false, _) | (true, true, false)
        );
        if check || self.queue(q).is_quorum() {
            self.drop_expired(k, q);
        }
        self.evaluate_limit(q);
        true
    }

    /// Quorum `reject-publish` (`rabbit_fifo:evaluate_limit/…`): over the limit, publishers are
    /// blocked (their next publishes are nacked); they are unblocked once the ready messages and
    /// bytes are back at or below 80% of the limits.
    pub(crate) fn evaluate_limit(&mut self, q: NodeId) {
        let qs = self.queue_mut(q);
        if !qs.is_quorum() || qs.config.arguments.overflow() != Overflow::RejectPublish {
            return;
        }
        let a = &qs.config.arguments;
        let soft = |max: Option<u64>, have: u64| max.is_none_or(|m| have <= m * 8 / 10);
        if qs.publishers_blocked {
            if soft(a.max_length, qs.len() as u64) && soft(a.max_length_bytes, qs.bytes()) {
                qs.publishers_blocked = false;
            }
        } else if qs.over_limit() {
            qs.publishers_blocked = true;
        }
    }

    /// `maybe_drop_head/2`: with `drop-head`, drops (or dead-letters) from the head while the
    /// queue is over a limit. True if anything was dropped.
    pub(crate) fn drop_head_while_over(&mut self, k: &mut Kernel, q: NodeId) -> bool {
        let mut dropped = false;
        while self.queue(q).config.arguments.overflow() == Overflow::DropHead
            && self.queue(q).over_limit()
        {
            let Some(s) = self.queue_mut(q).pop_head() else {
                break;
            };
            dropped = true;
            self.dead_letter(k, q, s.msg, DeathReason::Maxlen);
        }
        dropped
    }

    /// `drop_expired_msgs/1`: expired messages at the head are dead-lettered or dropped, then
    /// the TTL timer is armed for the new head (`ensure_ttl_timer/2`).
    pub(crate) fn drop_expired(&mut self, k: &mut Kernel, q: NodeId) {
        let now = k.now;
        for s in self.queue_mut(q).take_expired(now) {
            k.emit(EventKind::Amqp(AmqpEvent::Expired {
                message: s.msg.id,
                queue: q,
            }));
            self.dead_letter(k, q, s.msg, DeathReason::Expired);
        }
        if !self.queue(q).deleted {
            self.arm_ttl(k, q);
        }
    }

    /// Arms the TTL timer for the next head expiry, if it is earlier than the armed one.
    fn arm_ttl(&mut self, k: &mut Kernel, q: NodeId) {
        let qs = self.queue(q);
        if let Some(t) = qs.next_head_expiry() {
            let t = t.max(k.now);
            if qs.ttl_timer.is_none_or(|armed| t < armed) {
                self.queue_mut(q).ttl_timer = Some(t);
                schedule(k, t, Due::QueueTimer { queue: q });
            }
        }
    }

    /// The TTL timer fired.
    pub(crate) fn queue_timer(&mut self, k: &mut Kernel, q: NodeId) {
        if self.queue(q).deleted || self.queue(q).ttl_timer != Some(k.now) {
            return; // superseded
        }
        self.queue_mut(q).ttl_timer = None;
        self.drop_expired(k, q);
    }

    /// `run_message_queue/2`: delivers ready messages while some consumer can take one.
    fn run_queue(&mut self, k: &mut Kernel, q: NodeId) {
        loop {
            if self.queue(q).deleted {
                return;
            }
            let quorum = self.queue(q).is_quorum();
            if quorum {
                // rabbit_fifo drops expired heads before it checks a message out.
                self.drop_expired(k, q);
            }
            if self.queue(q).is_empty() {
                break;
            }
            let Some(ci) = self.pick_consumer(k, q) else {
                break;
            };
            let s = self.queue_mut(q).pop_head().expect("not empty");
            self.send_delivery(k, q, ci, s);
            if !quorum {
                // fetch/2 fetches first and drops expired messages after (DOC≠CODE: an
                // expired head can be delivered).
                self.drop_expired(k, q);
            }
        }
        self.evaluate_limit(q);
    }

    /// Whether consumer `ci` of queue `q` can take a delivery now. Records a global-prefetch
    /// block on the channel so that the queue is told when it clears.
    fn can_accept(&mut self, k: &mut Kernel, q: NodeId, ci: usize) -> bool {
        let c = &self.queue(q).consumers[ci];
        if !k.nodes[c.node.index()].up {
            return false;
        }
        if c.auto_ack {
            return true;
        }
        let (node, prefetch, unacked) = (c.node, c.prefetch, c.unacked);
        if prefetch > 0 && unacked >= u32::from(prefetch) {
            return false;
        }
        let global = consumer_config(&k.topo, node).global_prefetch_count;
        let ch = self.channel_mut(node);
        if global > 0 && ch.unacked >= u32::from(global) {
            ch.suspended.insert(q);
            return false;
        }
        true
    }

    /// `rabbit_queue_consumers:deliver/5`: the consumer to deliver to, if any can take a
    /// message. Consumers that cannot are marked blocked and leave the rotation until unblocked.
    fn pick_consumer(&mut self, k: &mut Kernel, q: NodeId) -> Option<usize> {
        let qs = self.queue(q);
        if qs.config.arguments.single_active_consumer {
            if qs.sac_successor().is_some() {
                return None; // the active consumer drains before handing over
            }
            let active = qs.active?;
            let ci = qs.consumers.iter().position(|c| c.node == active)?;
            if qs.consumers[ci].blocked.is_some() {
                return None;
            }
            if self.can_accept(k, q, ci) {
                return Some(ci);
            }
            let qs = self.queue_mut(q);
            qs.consumers[ci].blocked = Some(qs.next_pos);
            qs.next_pos += 1;
            return None;
        }
        loop {
            let qs = self.queue(q);
            let head = qs
                .consumers
                .iter()
                .enumerate()
                .filter(|(_, c)| c.blocked.is_none())
                .max_by(|(_, a), (_, b)| a.priority.cmp(&b.priority).then(b.pos.cmp(&a.pos)))
                .map(|(i, _)| i)?;
            let ok = self.can_accept(k, q, head);
            let qs = self.queue_mut(q);
            let pos = qs.next_pos;
            qs.next_pos += 1;
            if ok {
                qs.consumers[head].pos = pos; // back to the tail of its priority level
                return Some(head);
            }
            qs.consumers[head].blocked = Some(pos);
        }
    }

    /// Sends a ready message to consumer `ci` of queue `q`.
    fn send_delivery(&mut self, k: &mut Kernel, q: NodeId, ci: usize, mut s: Stored) {
        let qs = self.queue_mut(q);
        let quorum = qs.is_quorum();
        let c = &mut qs.consumers[ci];
        let (node, edge, auto_ack) = (c.node, c.edge, c.auto_ack);
        if !auto_ack {
            c.unacked += 1;
            qs.unacked += 1;
        }
        let redelivered = if quorum {
            // rabbit_fifo_client:add_delivery_count_header/2 (v4.3).
            let h = &mut s.msg.headers;
            if s.meta.acquired > 0 {
                h.insert(
                    "x-acquired-count".into(),
                    HeaderValue::Int(i64::from(s.meta.acquired)),
                );
            }
            if s.meta.failed > 0 {
                h.insert(
                    "x-delivery-count".into(),
                    HeaderValue::Int(i64::from(s.meta.failed)),
                );
            }
            s.meta.acquired > 0
        } else {
            s.meta.delivered
        };
        s.meta.delivered = true;
        let ch = self.channel_mut(node);
        let tag = ch.next_tag;
        ch.next_tag += 1;
        if !auto_ack {
            ch.unacked += 1;
        }
        let arrive = k.now + k.topo.edge(edge).latency.sample(&mut k.rng);
        let id = s.msg.id;
        k.ledger.set(id, Fate::InTransit { edge });
        k.nodes[q.index()].stats.sent += 1;
        k.emit(EventKind::Amqp(AmqpEvent::Delivered {
            message: id,
            edge,
            tag,
            redelivered,
            arrive,
        }));
        schedule(
            k,
            arrive,
            Due::Deliver {
                consumer: node,
                d: Box::new(Delivery {
                    tag,
                    queue: q,
                    edge,
                    auto_ack,
                    redelivered,
                    msg: s.msg,
                    meta: s.meta,
                    how: Settlement::Ack,
                    multiple: false,
                    more: None,
                }),
            },
        );
    }

    /// `rabbit_dead_letter:publish/5`: dead-letters `msg` from `q`, or drops it if the queue
    /// has no dead-letter exchange.
    fn dead_letter(
        &mut self,
        k: &mut Kernel,
        q: NodeId,
        mut msg: Box<Envelope>,
        reason: DeathReason,
    ) {
        let args = &self.queue(q).config.arguments;
        let Some(dlx) = args.dead_letter_exchange.clone() else {
            k.drop_message(msg.id, q, reason.drop_reason());
            return;
        };
        let dlrk = args.dead_letter_routing_key.clone();
        // with_dlx/3: a dead-letter exchange that does not exist drops the message silently,
        // before anything is recorded.
        let target = if dlx.is_empty() {
            Target::Default
        } else {
            match Self::live_exchange(k, &dlx) {
                Some(x) => Target::Exchange(x),
                None => {
                    k.drop_message(msg.id, q, DropReason::DeadLetterUnroutable);
                    return;
                }
            }
        };
        let qname = k.topo.node(q).name.clone();
        let from_exchange = msg
            .exchange
            .map_or(String::new(), |x| k.topo.node(x).name.clone());
        death::record(&mut msg, &qname, reason, k.now, &from_exchange);
        msg.expiration_ms = None;
        msg.headers.remove("x-acquired-count");
        msg.headers.remove("x-delivery-count");
        if let Some(k) = dlrk {
            // The routing keys become [k]; the CC header itself stays (3.13+).
            msg.routing_key = k;
            msg.keys_replaced = true;
            msg.bcc.clear();
        }
        if k.recording {
            k.emit(EventKind::Amqp(AmqpEvent::DeadLettered {
                message: msg.id,
                queue: q,
                reason,
                detail: Box::new(super::event::DeadLetter {
                    exchange: dlx.clone(),
                    routing_keys: death::recorded_keys(&msg),
                    x_death: msg.deaths.clone(),
                }),
            }));
        }
        // The dead-letter exchange received it, as it would a publish (it counts what it
        // routes on as sent).
        if let Target::Exchange(x) = target {
            k.nodes[x.index()].stats.received += 1;
        }
        let (mut queues, path) = self.route(k, target, &msg);
        let before = queues.len();
        queues.retain(|&t| !death::is_cycle(&msg.deaths, reason, &k.topo.node(t).name));
        if queues.is_empty() {
            let why = if before > 0 {
                DropReason::DeadLetterCycle
            } else {
                DropReason::DeadLetterUnroutable
            };
            k.drop_message(msg.id, q, why);
            return;
        }
        let exchange = match target {
            Target::Default => None,
            Target::Exchange(x) => Some(x),
        };
        msg.exchange = exchange;
        for &dlq in &queues {
            self.queue_mut(dlq).dead_lettered_in += 1;
        }
        self.deliver_routed(k, msg, exchange, path, queues, true);
    }

    /// Puts settled-with-requeue (or orphaned) deliveries back in `q`: classic queues at their
    /// original positions, quorum queues at the back of the returns queue after the delivery
    /// limit check. `failed` marks a failed delivery (reject, or a consumer that went away).
    fn requeue(&mut self, k: &mut Kernel, q: NodeId, ds: Vec<Box<Delivery>>, failed: bool) {
        if self.queue(q).deleted {
            for d in ds {
                k.drop_message(d.msg.id, q, DropReason::QueueDeleted);
            }
            return;
        }
        let quorum = self.queue(q).is_quorum();
        let limit = self
            .queue(q)
            .config
            .arguments
            .delivery_limit
            .unwrap_or(DEFAULT_DELIVERY_LIMIT);
        for mut d in ds {
            let id = d.msg.id;
            if quorum {
                d.meta.acquired += 1;
                if failed {
                    d.meta.failed += 1;
                }
                if limit >= 0 && i64::from(d.meta.failed) > limit {
                    let d = *d;
                    self.dead_letter(k, q, d.msg, DeathReason::DeliveryLimit);
                    continue;
                }
                k.ledger.set(id, Fate::Held { node: q });
                k.emit(EventKind::Amqp(AmqpEvent::Requeued {
                    message: id,
                    queue: q,
                }));
                let qs = self.queue_mut(q);
                if limit < 0 && !failed {
                    // rabbit_fifo with no delivery limit turns a requeueing nack into a
                    // re-enqueue: the back of the main queue, at the default priority.
                    d.meta.seq = qs.take_seq();
                    d.meta.level = qs.level_of(None);
                    qs.insert(Stored {
                        msg: d.msg,
                        meta: d.meta,
                    });
                } else {
                    qs.push_return(Stored {
                        msg: d.msg,
                        meta: d.meta,
                    });
                }
            } else {
                k.ledger.set(id, Fate::Held { node: q });
                k.emit(EventKind::Amqp(AmqpEvent::Requeued {
                    message: id,
                    queue: q,
                }));
                self.queue_mut(q).insert(Stored {
                    msg: d.msg,
                    meta: d.meta,
                });
            }
        }
        // Limits apply again after returns (classic maybe_drop_head; rabbit_fifo
        // evaluate_limit, which takes from the returns queue first).
        self.drop_head_while_over(k, q);
        if !quorum {
            self.drop_expired(k, q);
        }
        self.run_queue(k, q);
    }

    /// Deletes queue `q`: its ready messages are dropped (never dead-lettered), its consumers
    /// cancelled, its bindings removed.
    pub(crate) fn delete_queue(&mut self, k: &mut Kernel, q: NodeId, why: &'static str) {
        if self.queue(q).deleted {
            return;
        }
        let qs = self.queue_mut(q);
        qs.deleted = true;
        qs.consumers.clear();
        qs.active = None;
        let gone = qs.drain();
        k.emit(EventKind::Amqp(AmqpEvent::QueueDeleted {
            queue: q,
            why,
            dropped: gone.len() as u32,
        }));
        for s in gone {
            k.drop_message(s.msg.id, q, DropReason::QueueDeleted);
        }
        if !k.topo.node(q).removed {
            // Bindings and consumers go; publishers keep publishing by the queue's name
            // through the default exchange, which now routes nowhere (or to a queue declared
            // again under that name).
            self.unbind_all_at(k, q);
            std::sync::Arc::make_mut(&mut k.topo).remove_node_keeping_publishers(q);
        }
    }

    /// Arms (or re-arms) the `x-expires` timer of an unused queue, counting from now.
    pub(crate) fn arm_expires(&mut self, k: &mut Kernel, q: NodeId) {
        self.queue_mut(q).idle_since = k.now;
        self.arm_expires_from_idle(k, q);
    }

    /// Arms (or re-arms) the `x-expires` timer of an unused queue, counting from when it
    /// became unused (a quorum queue keeps that moment when a policy changes its `expires`).
    pub(crate) fn arm_expires_from_idle(&mut self, k: &mut Kernel, q: NodeId) {
        let qs = self.queue_mut(q);
        qs.expires_epoch += 1;
        if let Some(ms) = qs.config.arguments.expires {
            if qs.consumers.is_empty() {
                let epoch = qs.expires_epoch;
                let at = (qs.idle_since + SimDuration(ms.saturating_mul(1000))).max(k.now);
                schedule(k, at, Due::QueueExpires { queue: q, epoch });
            }
        }
    }

    /// The `x-expires` timer fired.
    pub(crate) fn queue_expires(&mut self, k: &mut Kernel, q: NodeId, epoch: u32) {
        let qs = self.queue(q);
        if !qs.deleted && qs.expires_epoch == epoch && qs.consumers.is_empty() {
            self.delete_queue(k, q, "x-expires");
        }
    }

    /// Sets up a new queue node's timers.
    pub(crate) fn queue_declared(&mut self, k: &mut Kernel, q: NodeId) {
        self.arm_expires(k, q);
    }

    // ----- consumers (rabbit_queue_consumers) -----

    /// `basic.consume` along a queue → consumer edge.
    pub(crate) fn register_consumer(&mut self, k: &mut Kernel, edge: EdgeId) {
        let e = k.topo.edge(edge);
        let (q, node) = (e.from, e.to);
        if !k.nodes[node.index()].up || !self.is_live_queue(q) {
            return;
        }
        let cfg = consumer_config(&k.topo, node);
        let (priority, prefetch, auto_ack) =
            (cfg.arguments.priority, cfg.prefetch_count, cfg.auto_ack);
        let qs = self.queue_mut(q);
        if qs.consumers.iter().any(|c| c.node == node) {
            return;
        }
        let pos = qs.next_pos;
        qs.next_pos += 1;
        qs.consumers.push(QConsumer {
            node,
            edge,
            priority,
            prefetch,
            auto_ack,
            unacked: 0,
            over_prefetch: 0,
            pos,
            blocked: None,
        });
        qs.had_consumer = true;
        qs.expires_epoch += 1; // in use: no x-expires
        let mut activated = None;
        if qs.config.arguments.single_active_consumer && qs.active.is_none() {
            // The first consumer registered while none is active becomes active. (A quorum
            // queue hands over to a higher-priority one later: `maybe_hand_over`.)
            qs.active = Some(node);
            activated = Some(node);
        }
        if let Some(c) = activated {
            k.emit(EventKind::Amqp(AmqpEvent::ConsumerActivated {
                queue: q,
                consumer: c,
            }));
        }
        self.maybe_hand_over(k, q);
        self.run_queue(k, q);
    }

    /// Quorum single active consumer: once the active consumer has no unacked messages, a
    /// waiting higher-priority consumer takes over.
    fn maybe_hand_over(&mut self, k: &mut Kernel, q: NodeId) {
        let qs = self.queue(q);
        let Some(next) = qs.sac_successor() else {
            return;
        };
        let drained = qs
            .active
            .and_then(|a| qs.consumers.iter().find(|c| c.node == a))
            .is_none_or(|c| c.unacked == 0);
        if drained {
            let qs = self.queue_mut(q);
            qs.active = Some(next);
            k.emit(EventKind::Amqp(AmqpEvent::ConsumerActivated {
                queue: q,
                consumer: next,
            }));
        }
    }

    /// Removes `node`'s consumer from `q` (`basic.cancel`, or its channel closed). Returns true
    /// if the queue was deleted as a result (auto-delete, exclusive owner gone).
    fn cancel_consumer(
        &mut self,
        k: &mut Kernel,
        q: NodeId,
        node: NodeId,
        channel_closed: bool,
    ) -> bool {
        if !self.is_live_queue(q) {
            return false;
        }
        let qs = self.queue_mut(q);
        let Some(ci) = qs.consumers.iter().position(|c| c.node == node) else {
            return false;
        };
        qs.consumers.remove(ci);
        let mut activated = None;
        if qs.active == Some(node) {
            // The head of the consumer priority queue: highest priority, then earliest.
            qs.active = qs
                .consumers
                .iter()
                .max_by(|a, b| a.priority.cmp(&b.priority).then(b.pos.cmp(&a.pos)))
                .map(|c| c.node);
            activated = qs.active;
        }
        if let Some(c) = activated {
            k.emit(EventKind::Amqp(AmqpEvent::ConsumerActivated {
                queue: q,
                consumer: c,
            }));
        }
        let qs = self.queue(q);
        let exclusive_owner_gone = channel_closed && qs.config.exclusive;
        if qs.consumers.is_empty() {
            if exclusive_owner_gone {
                self.delete_queue(k, q, "exclusive");
                return true;
            }
            if qs.config.auto_delete && qs.had_consumer {
                self.delete_queue(k, q, "auto_delete");
                return true;
            }
            self.arm_expires(k, q);
        }
        false
    }

    /// A delivery reached its consumer.
    pub(crate) fn delivery_arrive(&mut self, k: &mut Kernel, node: NodeId, d: Box<Delivery>) {
        k.ledger.set(d.msg.id, Fate::Held { node });
        k.nodes[node.index()].stats.received += 1;
        let ch = self.channel_mut(node);
        ch.buffer.push_back(d);
        if ch.current.is_none() {
            self.start_next(k, node);
        }
    }

    /// The consumer starts processing its next delivery, if it has one and is not paused.
    fn start_next(&mut self, k: &mut Kernel, node: NodeId) {
        let ch = self.channel_mut(node);
        if ch.paused {
            return;
        }
        let Some(d) = ch.buffer.pop_front() else {
            return;
        };
        let NodeKind::Amqp(AmqpKind::Consumer(cfg)) = &k.topo.node(node).kind else {
            unreachable!("not a consumer")
        };
        let until = k.now + cfg.processing.sample(&mut k.rng);
        k.emit(EventKind::Received {
            message: d.msg.id,
            node,
            until,
        });
        let now = k.now;
        let ch = self.channel_mut(node);
        ch.current = Some(d);
        ch.started = now;
        ch.finishes = until;
        ch.run = ch.run.wrapping_add(1);
        ch.step = 0;
        schedule(k, until, Due::Finish { consumer: node });
    }

    /// The consumer finished processing its current delivery: its handler's steps run, then it
    /// settles the delivery as its behaviour says.
    pub(crate) fn finish(&mut self, k: &mut Kernel, node: NodeId) {
        let ch = self.channel_mut(node);
        ch.processed += 1;
        let processed = ch.processed;
        let cfg = consumer_config(&k.topo, node);
        if cfg.handler.is_empty() {
            // No handler: straight to the settlement, without a pass through the steps.
            let crash = cfg.crash_after == Some(processed);
            self.settle_or_crash(k, node, crash, None);
        } else {
            self.run_steps(k, node);
        }
    }

    /// Runs the current delivery's handler from its next step: a publish goes at once and the
    /// next step follows; a read or write waits for its store's answer ([`Self::step_done`]).
    /// After the last step, the delivery is settled.
    fn run_steps(&mut self, k: &mut Kernel, node: NodeId) {
        loop {
            let ch = self.channel(node);
            let (run, step) = (ch.run, usize::from(ch.step));
            let d = ch.current.as_ref().expect("processing");
            let Some(s) = consumer_config(&k.topo, node).handler.get(step) else {
                self.settle_current(k, node, None);
                return;
            };
            // A redelivery keeps the message's id: it is the same logical message.
            let origin = StepOrigin::Amqp {
                consumer: node,
                run,
            };
            match handler::prepare(k, node, s, Handled::message(&d.msg), d.msg.id, origin) {
                Ok(action) => {
                    self.channel_mut(node).step += 1;
                    match handler::carry_out(k, node, action) {
                        Ok(Then::Wait) => return, // its answer moves it on
                        Ok(Then::GoOn) => {}
                        Err(reason) => return self.step_failed(k, node, &reason),
                    }
                }
                Err(reason) => return self.step_failed(k, node, &reason),
            }
        }
    }

    /// A write or a call the current delivery's handler sent was answered (`run`: for which
    /// delivery): the handler goes on, or (the step failed) the delivery fails.
    pub(crate) fn step_done(
        &mut self,
        k: &mut Kernel,
        node: NodeId,
        run: u32,
        answer: crate::model::StepAnswer,
    ) {
        let ch = self.channel(node);
        let current = ch.run == run && ch.step > 0 && ch.current.is_some();
        if !k.nodes[node.index()].up || !current {
            return; // the channel closed, or the delivery was settled, while it was out
        }
        match answer.failure() {
            None => self.run_steps(k, node),
            Some(reason) => self.step_failed(k, node, reason),
        }
    }

    /// A step of the current delivery's handler could not be carried out: the handler throws,
    /// and the consumer settles the delivery as a failure (`on_failure`; `step_failed` says
    /// why).
    fn step_failed(&mut self, k: &mut Kernel, node: NodeId, reason: &str) {
        let message = self
            .channel(node)
            .current
            .as_ref()
            .expect("processing")
            .msg
            .id;
        k.emit(EventKind::Amqp(AmqpEvent::StepFailed {
            node,
            message,
            reason: reason.into(),
        }));
        let on_failure = consumer_config(&k.topo, node).on_failure;
        self.settle_current(k, node, Some(on_failure));
    }

    /// The current delivery's processing and handler are done: the consumer crashes here if
    /// `crash_after` says so (before it settles); otherwise it settles the delivery (`failed`:
    /// as a failure, so; else as its behaviour decides) and starts its next one.
    fn settle_current(&mut self, k: &mut Kernel, node: NodeId, failed: Option<Settlement>) {
        let processed = self.channel(node).processed;
        let crash = consumer_config(&k.topo, node).crash_after == Some(processed);
        self.settle_or_crash(k, node, crash, failed);
    }

    /// [`Self::settle_current`] once it is known whether the consumer crashes here.
    fn settle_or_crash(
        &mut self,
        k: &mut Kernel,
        node: NodeId,
        crash: bool,
        failed: Option<Settlement>,
    ) {
        if crash {
            self.crash_consumer(k, node);
            return;
        }
        let now = k.now;
        let d = self
            .channel_mut(node)
            .take_current(now)
            .expect("processing");
        if d.auto_ack {
            k.ledger.set(d.msg.id, Fate::Consumed { node });
            k.nodes[node.index()].stats.consumed += 1;
            k.emit(EventKind::Consumed {
                message: d.msg.id,
                node,
            });
        } else {
            let how = match failed {
                Some(how) => how,
                None => self.decide(k, node, &d.msg),
            };
            self.send_settlement(k, node, how, false, d, Vec::new());
        }
        self.start_next(k, node);
    }

    /// The consumer's behaviour: a poison message always fails; then header rules, then the
    /// failure probability.
    fn decide(&mut self, k: &mut Kernel, node: NodeId, msg: &Envelope) -> Settlement {
        let cfg = consumer_config(&k.topo, node);
        if msg.poison {
            return cfg.on_failure;
        }
        for rule in &cfg.when_header {
            let hit = match (&rule.equals, msg.headers.get(&rule.header)) {
                (None, Some(_)) => true,
                (Some(want), Some(have)) => want == have,
                (_, None) => false,
            };
            if hit {
                return rule.then;
            }
        }
        let (p, on_failure) = (cfg.fail_probability, cfg.on_failure);
        if p > 0.0 && k.rng.chance(p) {
            on_failure
        } else {
            Settlement::Ack
        }
    }

    /// Sends a settlement of `first` and `rest` to the broker; it takes effect after the
    /// consume edge's latency.
    fn send_settlement(
        &mut self,
        k: &mut Kernel,
        node: NodeId,
        how: Settlement,
        multiple: bool,
        mut first: Box<Delivery>,
        rest: Vec<Box<Delivery>>,
    ) {
        let at = k.now + k.topo.edge(first.edge).latency.sample(&mut k.rng);
        first.how = how;
        first.multiple = multiple;
        first.more = (!rest.is_empty()).then(|| Box::new(rest));
        schedule(
            k,
            at,
            Due::Settle {
                consumer: node,
                batch: first,
            },
        );
    }

    /// The broker receives a settlement (`rabbit_amqqueue_process` ack / reject handling).
    pub(crate) fn settle_arrive(
        &mut self,
        k: &mut Kernel,
        node: NodeId,
        how: Settlement,
        multiple: bool,
        first: Box<Delivery>,
        rest: Vec<Box<Delivery>>,
    ) {
        let (method, requeue) = match how {
            Settlement::Ack => (SettleMethod::Ack, false),
            Settlement::Nack { requeue } => (SettleMethod::Nack, requeue),
            Settlement::Reject { requeue } => (SettleMethod::Reject, requeue),
        };
        let failed = method == SettleMethod::Reject;
        let single_queue = rest.is_empty().then_some(first.queue);
        let mut settled_queues: Vec<NodeId> = Vec::new();
        if single_queue.is_none() {
            settled_queues = std::iter::once(&first)
                .chain(&rest)
                .map(|d| d.queue)
                .collect();
            settled_queues.sort_unstable();
            settled_queues.dedup();
        }
        let mut back: Vec<(NodeId, Vec<Box<Delivery>>)> = Vec::new();
        for d in std::iter::once(first).chain(rest) {
            self.release_unacked(node, &d);
            k.emit(EventKind::Amqp(AmqpEvent::Settled {
                message: d.msg.id,
                queue: d.queue,
                consumer: node,
                tag: d.tag,
                method,
                requeue,
                multiple,
            }));
            let q = d.queue;
            if method == SettleMethod::Ack {
                k.ledger.set(d.msg.id, Fate::Consumed { node });
                k.nodes[node.index()].stats.consumed += 1;
            } else if !self.is_live_queue(q) {
                k.drop_message(d.msg.id, q, DropReason::QueueDeleted);
            } else if requeue {
                match back.iter_mut().find(|(bq, _)| *bq == q) {
                    Some((_, v)) => v.push(d),
                    None => back.push((q, vec![d])),
                }
            } else {
                self.dead_letter(k, q, d.msg, DeathReason::Rejected);
            }
        }
        for (q, v) in back {
            self.requeue(k, q, v, failed);
        }
        // The queues whose consumer on this channel may now take more: those the settled
        // deliveries came from (per-consumer prefetch), then those held back by the channel's
        // global prefetch.
        if let Some(q) = single_queue {
            self.unblock(k, q, node);
        } else {
            for q in settled_queues {
                self.unblock(k, q, node);
            }
        }
        self.notify_suspended(k, node);
    }

    /// Live queues `node` consumes from, in node order.
    fn queues_consumed_by(&self, k: &Kernel, node: NodeId) -> Vec<NodeId> {
        let mut qs: Vec<NodeId> = k
            .topo
            .node(node)
            .inc
            .iter()
            .map(|&e| k.topo.edge(e).from)
            .filter(|&q| self.is_live_queue(q))
            .collect();
        qs.sort_unstable();
        qs
    }

    /// Lowers the unacked counters a manual-ack delivery holds.
    fn release_unacked(&mut self, node: NodeId, d: &Delivery) {
        if d.auto_ack {
            return;
        }
        let ch = self.channel_mut(node);
        ch.unacked -= 1;
        ch.over_global = ch.over_global.min(ch.unacked);
        if let AmqpNode::Queue(qs) = &mut self.nodes[d.queue.index()] {
            qs.unacked -= 1;
            if let Some(c) = qs.consumers.iter_mut().find(|c| c.edge == d.edge) {
                c.unacked -= 1;
                c.over_prefetch = c.over_prefetch.min(c.unacked);
            }
        }
    }

    /// `possibly_unblock`: a blocked consumer that can take more rejoins the rotation at the
    /// tail of its priority level, and the queue delivers.
    fn unblock(&mut self, k: &mut Kernel, q: NodeId, node: NodeId) {
        if !self.is_live_queue(q) {
            return;
        }
        self.maybe_hand_over(k, q);
        let qs = self.queue(q);
        let Some(ci) = qs.consumers.iter().position(|c| c.node == node) else {
            return;
        };
        if qs.consumers[ci].blocked.is_none() {
            self.run_queue(k, q);
            return;
        }
        let c = &qs.consumers[ci];
        let per_consumer_room = c.auto_ack || c.prefetch == 0 || c.unacked < u32::from(c.prefetch);
        let global = consumer_config(&k.topo, node).global_prefetch_count;
        let channel_room = global == 0 || self.channel(node).unacked < u32::from(global);
        if per_consumer_room && channel_room {
            let qs = self.queue_mut(q);
            qs.consumers[ci].blocked = None;
            qs.consumers[ci].pos = qs.next_pos;
            qs.next_pos += 1;
        }
        self.run_queue(k, q);
    }

    /// `rabbit_limiter:notify_queues/1`: when the channel's global prefetch has room again, the
    /// queues it held back are told, starting at a random one, as RabbitMQ does.
    fn notify_suspended(&mut self, k: &mut Kernel, node: NodeId) {
        let global = consumer_config(&k.topo, node).global_prefetch_count;
        if global == 0 || self.channel(node).unacked >= u32::from(global) {
            return;
        }
        let list: Vec<NodeId> = std::mem::take(&mut self.channel_mut(node).suspended)
            .into_iter()
            .collect();
        let n = list.len();
        if n == 0 {
            return;
        }
        let first = if n == 1 {
            0
        } else {
            k.rng.range_inclusive(1, n as u64) as usize % n
        };
        for i in 0..n {
            self.unblock(k, list[(first + i) % n], node);
        }
    }

    /// Everything on `node`'s channel that is unacked (or, for auto-ack, not yet processed), in
    /// delivery-tag order, taken out of the agenda and the consumer.
    fn take_channel_deliveries(&mut self, k: &mut Kernel, node: NodeId) -> Vec<Box<Delivery>> {
        let mut out: Vec<Box<Delivery>> = Vec::new();
        k.agenda.remove_where(
            |e| amqp_due(&e.due).is_some_and(|d| d.consumer() == Some(node)),
            |e| match into_amqp_due(e.due) {
                Some(Due::Deliver { d, .. }) => out.push(d),
                Some(Due::Settle { batch, .. }) => {
                    let (_, _, first, rest) = Delivery::unpack(batch);
                    out.push(first);
                    out.extend(rest);
                }
                Some(
                    Due::Finish { .. }
                    | Due::StepDone { .. }
                    | Due::QueueTimer { .. }
                    | Due::QueueExpires { .. },
                )
                | None => {}
            },
        );
        let now = k.now;
        let ch = self.channel_mut(node);
        out.extend(ch.take_current(now));
        out.extend(ch.buffer.drain(..));
        out.sort_by_key(|d| d.tag);
        out
    }

    /// A consumer's connection closed (crash or removal): its consumers are cancelled, and its
    /// unacked deliveries go back to their queues (`handle_ch_down/2`); auto-ack deliveries it
    /// had not processed are lost. Returns how many were lost.
    pub(crate) fn close_consumer_connection(
        &mut self,
        k: &mut Kernel,
        node: NodeId,
    ) -> Vec<Box<Delivery>> {
        // Settlements already on the wire reach the broker before it sees the connection
        // close (TCP delivers what was sent before the FIN).
        let mut sent: Vec<(SimTime, u32, Box<Delivery>)> = Vec::new();
        k.agenda.remove_where(
            |e| matches!(amqp_due(&e.due), Some(Due::Settle { consumer, .. }) if *consumer == node),
            |e| {
                if let Some(Due::Settle { batch, .. }) = into_amqp_due(e.due) {
                    sent.push((e.at, e.seq, batch));
                }
            },
        );
        sent.sort_by_key(|(at, seq, _)| (*at, *seq));
        for (_, _, batch) in sent {
            let (how, multiple, first, rest) = Delivery::unpack(batch);
            self.settle_arrive(k, node, how, multiple, first, rest);
        }
        let ds = self.take_channel_deliveries(k, node);
        let ch = self.channel_mut(node);
        ch.next_tag = 1;
        ch.unacked = 0;
        ch.over_global = 0;
        ch.run = ch.run.wrapping_add(1);
        ch.step = 0;
        ch.suspended.clear();
        // The application goes with its connection: it comes back unpaused.
        ch.paused = false;
        ds
    }

    /// Finishes closing a connection with the deliveries `close_consumer_connection` took.
    pub(crate) fn requeue_closed(&mut self, k: &mut Kernel, node: NodeId, ds: Vec<Box<Delivery>>) {
        let mut by_queue: Vec<(NodeId, Vec<Box<Delivery>>)> = Vec::new();
        for d in ds {
            if d.auto_ack {
                k.drop_message(d.msg.id, node, DropReason::LostInCrash);
                continue;
            }
            if let AmqpNode::Queue(qs) = &mut self.nodes[d.queue.index()] {
                qs.unacked -= 1;
                if let Some(c) = qs.consumers.iter_mut().find(|c| c.edge == d.edge) {
                    c.unacked -= 1;
                    c.over_prefetch = c.over_prefetch.min(c.unacked);
                }
            }
            match by_queue.iter_mut().find(|(q, _)| *q == d.queue) {
                Some((_, v)) => v.push(d),
                None => by_queue.push((d.queue, vec![d])),
            }
        }
        let mut queues: Vec<NodeId> = self.queues_consumed_by(k, node);
        for (q, _) in &by_queue {
            if !queues.contains(q) {
                queues.push(*q);
            }
        }
        queues.sort_unstable();
        for q in queues {
            let deleted = self.cancel_consumer(k, q, node, true);
            let ds = by_queue
                .iter_mut()
                .find(|(bq, _)| *bq == q)
                .map(|(_, v)| std::mem::take(v))
                .unwrap_or_default();
            if deleted || !self.is_live_queue(q) {
                for d in ds {
                    k.drop_message(d.msg.id, q, DropReason::QueueDeleted);
                }
            } else if ds.is_empty() {
                self.run_queue(k, q);
            } else {
                self.requeue(k, q, ds, true);
            }
        }
    }

    /// A consumer came back: it consumes again from each of its queues, on a fresh channel.
    pub(crate) fn reopen_consumer(&mut self, k: &mut Kernel, node: NodeId) {
        let edges: Vec<EdgeId> = k.topo.node(node).inc.clone();
        for e in edges {
            self.register_consumer(k, e);
        }
    }

    /// `basic.cancel` for the consumer on `edge` (the edge is being removed).
    pub(crate) fn cancel_on_edge(&mut self, k: &mut Kernel, edge: EdgeId) {
        let e = k.topo.edge(edge);
        let (q, node) = (e.from, e.to);
        if matches!(k.topo.node(q).kind, NodeKind::Amqp(AmqpKind::Queue(_)))
            && matches!(
                k.topo.node(node).kind,
                NodeKind::Amqp(AmqpKind::Consumer(_))
            )
            && !self.cancel_consumer(k, q, node, false)
            && self.is_live_queue(q)
        {
            // A single-active-consumer queue may have a new active consumer to serve.
            self.run_queue(k, q);
        }
    }

    /// A scripted or commanded `basic.ack` / `basic.nack` / `basic.reject` from a consumer.
    /// An unknown tag is a channel error (406), which closes the channel.
    pub(crate) fn client_settle(
        &mut self,
        k: &mut Kernel,
        node: NodeId,
        how: Settlement,
        tag: Option<u64>,
        multiple: bool,
    ) {
        if !k.nodes[node.index()].up {
            return;
        }
        let ch = self.channel(node);
        let tag = tag.or_else(|| ch.current.as_ref().or(ch.buffer.back()).map(|d| d.tag));
        // rabbit_channel:collect_acks/3: the tag itself must be outstanding, even with
        // `multiple`; `multiple` with tag 0 settles everything outstanding.
        let held = |t: u64| ch.current.iter().chain(&ch.buffer).any(|d| d.tag == t);
        let all = multiple && tag == Some(0);
        if !all && !tag.is_some_and(held) {
            let text = format!(
                "PRECONDITION_FAILED - unknown delivery tag {}",
                tag.unwrap_or(0)
            );
            k.emit(EventKind::Amqp(AmqpEvent::ChannelError {
                node,
                code: 406,
                text: text.into(),
            }));
            self.crash_consumer(k, node);
            return;
        }
        let known = |d: &Delivery| {
            all || Some(d.tag) == tag || (multiple && tag.is_some_and(|t| d.tag <= t))
        };
        let now = k.now;
        let ch = self.channel_mut(node);
        let mut ds = Vec::new();
        let was_current = ch.current.as_ref().is_some_and(|d| known(d));
        if was_current {
            ds.extend(ch.take_current(now));
        }
        let (hit, keep): (VecDeque<Box<Delivery>>, VecDeque<Box<Delivery>>) =
            ch.buffer.drain(..).partition(|d| known(d));
        ch.buffer = keep;
        ds.extend(hit);
        ds.sort_by_key(|d| d.tag);
        if was_current {
            k.agenda.remove_where(
                |e| matches!(amqp_due(&e.due), Some(Due::Finish { consumer }) if *consumer == node),
                drop,
            );
        }
        let mut ds = ds.into_iter();
        if let Some(first) = ds.next() {
            self.send_settlement(k, node, how, multiple, first, ds.collect());
        }
        if was_current {
            self.start_next(k, node);
        }
    }

    /// The consumer's application stalls: it finishes the delivery it is processing but starts
    /// no new one. The broker does not know: deliveries keep coming, bounded by prefetch.
    pub(crate) fn pause(&mut self, k: &mut Kernel, node: NodeId) {
        self.channel_mut(node).paused = true;
        k.emit(EventKind::Amqp(AmqpEvent::ConsumerPaused { node }));
    }

    /// The consumer's application runs again and takes its next buffered delivery at once.
    pub(crate) fn resume(&mut self, k: &mut Kernel, node: NodeId) {
        self.channel_mut(node).paused = false;
        k.emit(EventKind::Amqp(AmqpEvent::ConsumerResumed { node }));
        if self.channel(node).current.is_none() {
            self.start_next(k, node);
        }
    }

    /// A live `configure` changed consumer `node`'s settings from `old`. `basic.qos` again: the
    /// new prefetch limits apply to later deliveries. Nothing already delivered is taken back,
    /// so a lowered limit may leave the consumer over it until it settles; a raised one lets
    /// its queues fill the window at once. The behaviour settings (`processing`, `when_header`,
    /// `fail_probability`, `on_failure`, `crash_after`) are read when they are next used.
    pub(crate) fn consumer_reconfigured(
        &mut self,
        k: &mut Kernel,
        node: NodeId,
        old: &ConsumerConfig,
    ) {
        let (prefetch, global) = {
            let c = consumer_config(&k.topo, node);
            (c.prefetch_count, c.global_prefetch_count)
        };
        // Whether a limit grew: 0 is unlimited.
        let grew = |old: u16, new: u16| old != 0 && (new == 0 || new > old);
        let over = |unacked: u32, limit: u16| {
            if limit > 0 && unacked > u32::from(limit) {
                unacked
            } else {
                0
            }
        };
        let queues = self.queues_consumed_by(k, node);
        for &q in &queues {
            for c in self
                .queue_mut(q)
                .consumers
                .iter_mut()
                .filter(|c| c.node == node)
            {
                c.prefetch = prefetch;
                c.over_prefetch = over(c.unacked, prefetch);
            }
        }
        let ch = self.channel_mut(node);
        ch.over_global = over(ch.unacked, global);
        let up = k.nodes[node.index()].up;
        if up && (grew(old.prefetch_count, prefetch) || grew(old.global_prefetch_count, global)) {
            for q in queues {
                self.unblock(k, q, node);
            }
            self.notify_suspended(k, node);
        }
    }

    /// The publish sequence number for the producer's next message, if it uses confirms.
    pub(crate) fn next_confirm_seq(&mut self, k: &Kernel, producer: NodeId) -> Option<u64> {
        let confirms = k.producer(producer).publisher_confirms;
        match &mut self.nodes[producer.index()] {
            AmqpNode::Producer { next_seq } if confirms => {
                let s = *next_seq;
                *next_seq += 1;
                Some(s)
            }
            AmqpNode::Producer { .. }
            | AmqpNode::None
            | AmqpNode::Queue(_)
            | AmqpNode::Consumer(_) => None,
        }
    }

    /// Checks the broker's counters against where deliveries physically are: per queue, per
    /// consumer and per channel, and that no consumer is over its prefetch; and the route
    /// index against the bindings.
    pub(crate) fn check_counters(
        &self,
        k: &Kernel,
        deliveries: &[(NodeId, &Delivery)],
    ) -> Result<(), String> {
        self.routes.check(&k.topo, &self.matchers)?;
        let n = self.nodes.len();
        let mut per_queue = vec![0u64; n];
        let mut per_channel = vec![0u32; n];
        let mut per_edge: std::collections::BTreeMap<EdgeId, u32> = Default::default();
        for (node, d) in deliveries {
            if d.auto_ack {
                continue;
            }
            per_queue[d.queue.index()] += 1;
            per_channel[node.index()] += 1;
            *per_edge.entry(d.edge).or_default() += 1;
        }
        for (i, state) in self.nodes.iter().enumerate() {
            let name = &k.topo.nodes[i].name;
            match state {
                AmqpNode::Queue(qs) => {
                    if qs.unacked != per_queue[i] {
                        return Err(format!(
                            "queue {name:?} counts {} unacked, but {} deliveries are out",
                            qs.unacked, per_queue[i]
                        ));
                    }
                    for c in &qs.consumers {
                        let out = per_edge.get(&c.edge).copied().unwrap_or(0);
                        if c.unacked != out {
                            return Err(format!(
                                "consumer {:?} on {name:?} counts {} unacked, but {out} are out",
                                k.topo.node(c.node).name,
                                c.unacked
                            ));
                        }
                        if c.prefetch > 0 && c.unacked > u32::from(c.prefetch).max(c.over_prefetch)
                        {
                            return Err(format!(
                                "consumer {:?} on {name:?} has {} unacked, over its prefetch of {}",
                                k.topo.node(c.node).name,
                                c.unacked,
                                c.prefetch
                            ));
                        }
                    }
                }
                AmqpNode::Consumer(ch) => {
                    if ch.unacked != per_channel[i] {
                        return Err(format!(
                            "channel of {name:?} counts {} unacked, but {} deliveries are out",
                            ch.unacked, per_channel[i]
                        ));
                    }
                    if let NodeKind::Amqp(AmqpKind::Consumer(cfg)) = &k.topo.nodes[i].kind {
                        let g = cfg.global_prefetch_count;
                        if g > 0 && ch.unacked > u32::from(g).max(ch.over_global) {
                            return Err(format!(
                                "channel of {name:?} has {} unacked, over its global prefetch of {g}",
                                ch.unacked
                            ));
                        }
                    }
                }
                AmqpNode::None | AmqpNode::Producer { .. } => {}
            }
        }
        Ok(())
    }
}
