//! Policies on the running broker: applied to each exchange and queue when it is declared, and
//! to every one of them at once when a policy is set or cleared (`rabbit_policy:notify/5`,
//! `update_matched_objects/3`). The rules of what applies are in `policy.rs`.

use super::event::{AmqpEvent, PolicyNames};
use super::kind::AmqpKind;
use super::model::AmqpModel;
use super::policy::{effective_exchange, effective_queue, Applied, Policy, Setting, Target};
use super::QueueType;
use crate::event::EventKind;
use crate::id::NodeId;
use crate::kernel::Kernel;
use crate::scenario::NodeKind;

impl AmqpModel {
    /// True if a policy (`operator`: an operator policy) of that name is in force.
    pub(crate) fn has_policy(&self, operator: bool, name: &str) -> bool {
        self.policies.list(operator).any(|p| p.name == name)
    }

    /// The policies (`operator`: the operator policies) in force, in the order they were set.
    pub(crate) fn policies_in_force(&self, operator: bool) -> Vec<Policy> {
        self.policies.list(operator).cloned().collect()
    }

    /// Sets (`Some`) or clears (`None`) a policy, and applies the change to every live exchange
    /// and queue whose policy or operator policy it changes, in node order.
    pub(crate) fn set_policy(
        &mut self,
        k: &mut Kernel,
        operator: bool,
        name: &str,
        policy: Option<&Policy>,
    ) {
        self.policies.set(operator, name, policy);
        for i in 0..k.topo.nodes.len() {
            let node = NodeId(i as u32);
            if k.topo.node(node).removed {
                continue;
            }
            match k.topo.node(node).kind {
                NodeKind::Amqp(AmqpKind::Queue(_)) => {
                    if !self.queue(node).deleted {
                        self.reapply_queue(k, node);
                    }
                }
                NodeKind::Amqp(AmqpKind::Exchange(_)) => {
                    self.reapply_exchange(k, node, false);
                }
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
    }

    /// An exchange or a queue was declared: the policies that match it apply from the start
    /// (`rabbit_policy:set/1`).
    pub(crate) fn policies_at_declare(&mut self, k: &mut Kernel, node: NodeId) {
        if self.policies.is_empty() {
            return;
        }
        match &k.topo.node(node).kind {
            NodeKind::Amqp(AmqpKind::Queue(declared)) => {
                let applied = self.policies.applying(
                    &k.topo.node(node).name,
                    Target::Queue(declared.arguments.queue_type),
                );
                if applied.is_none() {
                    return;
                }
                let (config, _) = effective_queue(declared, &applied);
                self.queue_mut(node).config = config;
                self.record(k, node, applied);
            }
            NodeKind::Amqp(AmqpKind::Exchange(_)) => self.reapply_exchange(k, node, true),
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

    /// Keeps what applies to `node` and says so (a `policy_applied` event).
    fn record(&mut self, k: &mut Kernel, node: NodeId, applied: Applied) {
        let names = PolicyNames::of(&applied);
        if applied.is_none() {
            self.applied.remove(&node);
        } else {
            self.applied.insert(node, applied);
        }
        k.emit(EventKind::Amqp(AmqpEvent::PolicyApplied {
            node,
            names: Box::new(names),
        }));
    }

    /// An exchange's policy: only its alternate exchange can come from one.
    fn reapply_exchange(&mut self, k: &mut Kernel, x: NodeId, declared: bool) {
        let NodeKind::Amqp(AmqpKind::Exchange(cfg)) = &k.topo.node(x).kind else {
            unreachable!("an exchange")
        };
        let applied = self
            .policies
            .applying(&k.topo.node(x).name, Target::Exchange);
        let old = self.applied.get(&x).cloned().unwrap_or_default();
        if applied == old && (!declared || applied.is_none()) {
            return;
        }
        let (ae, _) = effective_exchange(cfg, &applied);
        match ae.filter(|_| cfg.arguments.alternate_exchange.is_none()) {
            Some(ae) => self.policy_ae.insert(x, ae),
            None => self.policy_ae.remove(&x),
        };
        self.record(k, x, applied);
    }

    /// A queue's policy changed (`rabbit_amqqueue_process:process_args_policy/1` for classic
    /// queues, `rabbit_fifo`'s `update_config` for quorum queues): its settings change at once.
    /// Lowered length limits drop (or dead-letter) from the head straight away; messages
    /// already queued keep the expiry they were enqueued with; a classic queue's `x-expires`
    /// countdown starts again if it is unused, a quorum queue's keeps counting from when it
    /// became unused.
    fn reapply_queue(&mut self, k: &mut Kernel, q: NodeId) {
        let NodeKind::Amqp(AmqpKind::Queue(declared)) = &k.topo.node(q).kind else {
            unreachable!("a queue")
        };
        let quorum = declared.arguments.queue_type == QueueType::Quorum;
        let applied = self.policies.applying(
            &k.topo.node(q).name,
            Target::Queue(declared.arguments.queue_type),
        );
        let old = self.applied.get(&q).cloned().unwrap_or_default();
        if applied == old {
            return; // RabbitMQ notifies only the objects whose policies changed
        }
        let (config, _) = effective_queue(declared, &applied);
        self.record(k, q, applied);
        let before = self.queue(q).config.clone();
        let new_overflow = config.arguments.overflow;
        // The new settings, but (classic) the old overflow first: RabbitMQ applies the length
        // limits before the overflow mode (`init_max_length`, then `init_overflow`).
        let qs = self.queue_mut(q);
        qs.config = config;
        if !quorum {
            qs.config.arguments.overflow = Some(before.arguments.overflow());
            self.drop_head_while_over(k, q);
            self.queue_mut(q).config.arguments.overflow = new_overflow;
        }
        self.drop_head_while_over(k, q);
        if quorum {
            self.evaluate_limit(q);
            if self.queue(q).config.arguments.expires != before.arguments.expires {
                self.arm_expires_from_idle(k, q);
            }
        } else {
            self.arm_expires(k, q);
        }
        self.drop_expired(k, q);
    }

    /// What applies to `node` (an exchange or a queue) and each setting that comes from an
    /// argument or a policy, with its source.
    pub(crate) fn effective_settings(
        &self,
        k: &Kernel,
        node: NodeId,
    ) -> Option<(PolicyNames, Vec<Setting>)> {
        let applied = self.applied.get(&node).cloned().unwrap_or_default();
        let names = PolicyNames::of(&applied);
        let settings = match &k.topo.node(node).kind {
            NodeKind::Amqp(AmqpKind::Queue(declared)) => effective_queue(declared, &applied).1,
            NodeKind::Amqp(AmqpKind::Exchange(declared)) => {
                effective_exchange(declared, &applied).1
            }
            NodeKind::Amqp(AmqpKind::Consumer(_))
            | NodeKind::Producer(_)
            | NodeKind::Relay(_)
            | NodeKind::Sink(_)
            | NodeKind::Http(_)
            | NodeKind::Kafka(_)
            | NodeKind::Bullmq(_)
            | NodeKind::Data(_) => return None,
        };
        Some((names, settings))
    }
}
