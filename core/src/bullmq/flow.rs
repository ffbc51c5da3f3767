//! Flows (`FlowProducer.add`): a parent job waits in `waiting-children` until its children,
//! added with it in one transaction (each to its own queue), are done; then it goes to `wait`
//! (at the head), `prioritized` or `delayed`. A child's final failure does what its options
//! say (`failParentOnFailure`, `continueParentOnFailure`, `ignoreDependencyOnFailure`,
//! `removeDependencyOnFailure`, or by default nothing: the parent waits for ever). After
//! `moveToFinished`'s parent handling (`updateParentDepsIfNeeded`,
//! `moveChildFromDependenciesIfNeeded`, `moveParentToWait`).

use super::event::{FailReason, Prev};
use super::kind::FlowChild;
use super::model::{now_ms, BullmqModel, JobState, PendingChild, PendingFlow};
use super::options::OnChildFailure;
use super::order::DELAYED_SHIFT;
use super::queue::NewJob;
use crate::http::slab::Key;
use crate::id::NodeId;
use crate::kernel::Kernel;
use crate::ledger::{DropReason, Fate};
use crate::message::Envelope;
use std::sync::Arc;

/// A version 4 UUID from the seeded RNG, as the flow producer names its jobs (`v4()`).
pub(crate) fn uuid_v4(rng: &mut crate::rng::SimRng) -> Box<str> {
    let (a, b) = (rng.next_u64(), rng.next_u64());
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&a.to_be_bytes());
    bytes[8..].copy_from_slice(&b.to_be_bytes());
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
    .into()
}

impl BullmqModel {
    /// The flow below a root about to be added by `producer`: every job's id and message,
    /// depth first, each after its parent. The messages are the producer's until the flow
    /// reaches Redis.
    pub(crate) fn make_flow(
        k: &mut Kernel,
        producer: NodeId,
        children: &[FlowChild],
    ) -> Box<PendingFlow> {
        fn walk(
            k: &mut Kernel,
            producer: NodeId,
            parent: Option<usize>,
            children: &[FlowChild],
            jobs: &mut Vec<PendingChild>,
        ) {
            for c in children {
                let id = uuid_v4(&mut k.rng);
                let msg_id = k.ledger.next_id();
                k.ledger.create(msg_id, Fate::Held { node: producer });
                k.nodes[producer.index()].stats.published += 1;
                k.emit(crate::event::EventKind::Published {
                    node: producer,
                    message: msg_id,
                    correlation: msg_id,
                    cause: None,
                });
                jobs.push(PendingChild {
                    parent,
                    id,
                    queue_name: c.queue_name.clone(),
                    name: c.name.clone(),
                    opts: Arc::new(c.opts.clone()),
                    fails: c.fails,
                    unrecoverable: c.unrecoverable,
                    children: c.children.len() as u32,
                    msg: Box::new(Envelope::new(msg_id, k.now)),
                });
                let me = jobs.len() - 1;
                walk(k, producer, Some(me), &c.children, jobs);
            }
        }
        let root_id = uuid_v4(&mut k.rng);
        let mut jobs = Vec::new();
        walk(k, producer, None, children, &mut jobs);
        Box::new(PendingFlow { root_id, jobs })
    }

    /// The flow's jobs below its root (stored as `root` in `queue`) reach Redis, each added
    /// to its queue after its parent. A job whose queue (or parent) is gone is not added.
    pub(crate) fn add_flow_children(
        &mut self,
        k: &mut Kernel,
        queue: NodeId,
        root: Key,
        jobs: Vec<PendingChild>,
        timestamp_ms: u64,
    ) {
        let mut keys: Vec<Option<Key>> = Vec::with_capacity(jobs.len());
        for c in jobs {
            let parent = match c.parent {
                None => Some(root),
                Some(i) => keys[i],
            };
            let target = k
                .topo
                .node_id(&c.queue_name)
                .filter(|&q| !k.topo.node(q).removed && self.queue_ref(q).is_some());
            let (Some(parent), Some(cq)) = (parent, target) else {
                k.drop_message(c.msg.id, queue, DropReason::NoRoute);
                keys.push(None);
                continue;
            };
            // `INCR id` in the child's queue, as every add does.
            self.queue(cq).counter += 1;
            let info = Self::job_info(c.id, &c.name, cq, c.msg.id);
            let key = self.store(
                k,
                cq,
                NewJob {
                    info,
                    opts: c.opts,
                    fails: c.fails,
                    unrecoverable: c.unrecoverable,
                    msg: c.msg,
                    timestamp_ms,
                    scheduler: None,
                    parent: Some(parent),
                    children: c.children,
                },
            );
            keys.push(Some(key));
        }
    }

    /// Whether a flow's parent may not complete: children pending (`-4`) or one failed it
    /// (`-9`).
    pub(crate) fn has_pending_dependencies(&self, key: Key) -> bool {
        self.jobs
            .get(key)
            .and_then(|j| j.deps.as_deref())
            .is_some_and(|d| !d.pending.is_empty() || d.unsuccessful > 0)
    }

    /// A child completed (`updateParentDepsIfNeeded`): it is no longer a dependency, and its
    /// parent, if that was the last and it is waiting for its children, goes on.
    pub(crate) fn child_completed(&mut self, k: &mut Kernel, child: Key) {
        let Some(parent) = self.jobs.get(child).and_then(|j| j.parent) else {
            return;
        };
        let Some(d) = self
            .jobs
            .get_mut(parent)
            .and_then(|p| p.deps.as_deref_mut())
        else {
            return;
        };
        if d.pending.remove(&child) {
            d.processed += 1;
            if d.pending.is_empty() {
                self.move_parent_if_waiting(k, parent);
            }
        }
    }

    /// A child failed for good (`moveChildFromDependenciesIfNeeded`): what its options say.
    pub(crate) fn child_failed(&mut self, k: &mut Kernel, child: Key) {
        let Some((parent, how, child_key)) = self.jobs.get(child).and_then(|j| {
            j.parent.map(|p| {
                let queue = &k.topo.node(j.info.queue).name;
                let key: Box<str> = format!("bull:{queue}:{}", j.info.id).into();
                (p, j.opts.on_child_failure(), key)
            })
        }) else {
            return;
        };
        let Some(p) = self.jobs.get_mut(parent) else {
            return;
        };
        let Some(d) = p.deps.as_deref_mut() else {
            return;
        };
        match how {
            // The child stays a dependency: the parent waits for ever.
            OnChildFailure::Stay => {}
            OnChildFailure::FailParent => {
                if !d.pending.remove(&child) {
                    return;
                }
                d.unsuccessful += 1;
                match p.state {
                    JobState::WaitingChildren | JobState::Delayed => {
                        p.deferred = Some(FailReason::ChildFailed);
                        p.deferred_child = Some(child_key);
                        self.move_parent(k, parent);
                    }
                    JobState::Failed => {}
                    JobState::Waiting
                    | JobState::Prioritized
                    | JobState::Active
                    | JobState::Completed => {
                        p.deferred = Some(FailReason::ChildFailed);
                        p.deferred_child = Some(child_key);
                    }
                }
            }
            OnChildFailure::ContinueParent => {
                if !d.pending.remove(&child) {
                    return;
                }
                d.failed += 1;
                // At once, whatever other children are still pending.
                self.move_parent_if_waiting(k, parent);
            }
            OnChildFailure::IgnoreDependency | OnChildFailure::RemoveDependency => {
                if !d.pending.remove(&child) {
                    return;
                }
                if how == OnChildFailure::IgnoreDependency {
                    d.failed += 1;
                }
                if d.pending.is_empty() {
                    self.move_parent_if_waiting(k, parent);
                }
            }
        }
    }

    /// The parent goes on if it is waiting for its children.
    fn move_parent_if_waiting(&mut self, k: &mut Kernel, parent: Key) {
        if self
            .jobs
            .get(parent)
            .is_some_and(|p| p.state == JobState::WaitingChildren)
        {
            self.move_parent(k, parent);
        }
    }

    /// `moveParentToWait`: out of `waiting-children` (or, failed by a child, out of `delayed`,
    /// its delay set to 0), to `delayed` if it has a delay of its own (counted from now), else
    /// to the head of `wait`, or to `prioritized`.
    fn move_parent(&mut self, k: &mut Kernel, parent: Key) {
        let (queue, state, delay, priority) = {
            let p = self.job(parent);
            let delay = p
                .opts
                .delay
                .map_or(0, |d| if d > 0.0 { d as u64 } else { 0 });
            (p.info.queue, p.state, delay, p.priority)
        };
        let q = self.queue(queue);
        match state {
            JobState::WaitingChildren => q.waiting_children.retain(|&(_, x)| x != parent),
            JobState::Delayed => q.delayed.retain(|&(_, x)| x != parent),
            JobState::Waiting
            | JobState::Prioritized
            | JobState::Active
            | JobState::Completed
            | JobState::Failed => unreachable!("a parent waiting for its children, or delayed"),
        }
        if delay > 0 && state == JobState::WaitingChildren {
            let due = now_ms(k) + delay;
            self.delayed_with_score(k, queue, parent, due, due * DELAYED_SHIFT);
        } else if priority == 0 {
            self.queue(queue).wait.push_front(parent); // RPUSH: the head
            self.put_waiting(k, queue, parent, Prev::WaitingChildren);
        } else {
            self.put_prioritized(k, queue, parent, Prev::WaitingChildren);
        }
    }
}
