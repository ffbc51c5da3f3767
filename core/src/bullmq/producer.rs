//! The producer: `Queue.add` at a rate, or on scripted `publish` actions. Each add is one
//! Redis call: the job's message crosses the producer's edge to its queue, where the add
//! script stores it (`queue.rs`).

use super::kind::JobTemplate;
use super::model::{now_ms, schedule, BullmqModel, Due, PendingAdd};
use crate::event::EventKind;
use crate::id::{EdgeId, NodeId};
use crate::kernel::Kernel;
use crate::ledger::{DropReason, Fate};
use crate::message::{Envelope, MessageTemplate};
use crate::scenario::Arrival;
use crate::time::SimTime;

impl BullmqModel {
    /// The producer's live edge to its queue, and the queue.
    pub(crate) fn add_edge(k: &Kernel, producer: NodeId) -> Option<(EdgeId, NodeId)> {
        k.topo.node(producer).out.iter().find_map(|&e| {
            let edge = k.topo.edge(e);
            (!edge.removed && edge.kind == crate::model::EdgeKind::Bullmq(super::EdgeKind::Add))
                .then_some((e, edge.to))
        })
    }

    /// The next rate-driven add (`again`: it was adding already, so one gap from now).
    pub(crate) fn schedule_emit(&mut self, k: &mut Kernel, node: NodeId, again: bool) {
        let c = Self::producer_config(k, node);
        if c.rate_per_s <= 0.0 || c.limit.is_some_and(|l| self.producer(node).emitted >= l) {
            return;
        }
        let (rate, arrival, start) = (c.rate_per_s, c.arrival, SimTime::ZERO + c.start);
        let from = start.max(k.now);
        let adding = again && k.now >= start;
        let at = if arrival == Arrival::Constant && !adding {
            from
        } else {
            from + crate::http::gap(rate, arrival, &mut k.rng)
        };
        let epoch = self.producer(node).emit_epoch;
        schedule(k, at, Due::Emit(node, epoch));
    }

    pub(crate) fn emit_due(&mut self, k: &mut Kernel, node: NodeId, epoch: u32) {
        if !k.up(node) || self.producer(node).emit_epoch != epoch {
            return;
        }
        if Self::producer_config(k, node)
            .limit
            .is_some_and(|l| self.producer(node).emitted >= l)
        {
            return;
        }
        self.producer(node).emitted += 1;
        self.add(k, node, JobTemplate::default());
        self.schedule_emit(k, node, true);
    }

    /// A scripted `publish`: the template's `job` (name, options, what the processor does),
    /// else the producer's own.
    pub(crate) fn publish(&mut self, k: &mut Kernel, node: NodeId, t: &MessageTemplate) {
        let template = t.job.as_deref().cloned().unwrap_or_default();
        self.add(k, node, template);
    }

    /// `Queue.add`: a message for the job, on its way to the queue.
    fn add(&mut self, k: &mut Kernel, node: NodeId, template: JobTemplate) {
        let id = k.ledger.next_id();
        let msg = Box::new(Envelope::new(id, k.now));
        k.ledger.create(id, Fate::Held { node });
        k.nodes[node.index()].stats.published += 1;
        k.emit(EventKind::Published {
            node,
            message: id,
            correlation: id,
        });
        if !k.up(node) {
            k.drop_message(id, node, DropReason::NodeDown);
            return;
        }
        let Some((edge, queue)) = Self::add_edge(k, node) else {
            k.drop_message(id, node, DropReason::NoRoute);
            return;
        };
        self.pending.insert(
            id,
            PendingAdd {
                producer: node,
                template,
                timestamp_ms: now_ms(k),
            },
        );
        k.send_on(edge, node, queue, msg);
    }
}
