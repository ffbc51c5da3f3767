//! The serving side: services (workers, accept queue, handler steps) and load balancers
//! (picking an upstream, health checks), and responses on their way back.

use super::event::{HttpEvent, Status};
use super::kind::{Algorithm, HandlerStep, HttpKind, ServiceConfig};
use super::model::{Due, HttpModel, Job, NodeState, Origin};
use super::slab::Key;
use crate::handler::{self, Action, Then};
use crate::id::{EdgeId, NodeId};
use crate::kernel::Kernel;
use crate::ledger::Fate;
use crate::message::Envelope;
use crate::model::ModelDue;
use crate::model::{EdgeKind, StepOrigin};
use std::sync::Arc;

/// What a request's next handler step does.
enum Plan {
    /// Nothing: the handler is done.
    Done,
    /// Calls, over these edges (`None`: no edge to call over), at once.
    Calls(Vec<Option<EdgeId>>),
    /// Another step (a store's read or write, a publish), made ready; or why it cannot be
    /// carried out.
    Act(Result<Box<Action>, String>),
}

impl HttpModel {
    fn service_config(k: &Kernel, node: NodeId) -> &ServiceConfig {
        match Self::kind(k, node) {
            Some(HttpKind::Service(c)) => c,
            Some(HttpKind::Client(_) | HttpKind::LoadBalancer(_)) | None => {
                unreachable!("not a service")
            }
        }
    }

    /// A request reached `node` over `edge`.
    pub(crate) fn request_arrives(
        &mut self,
        k: &mut Kernel,
        node: NodeId,
        edge: EdgeId,
        msg: Box<Envelope>,
    ) {
        if !k.up(node) || k.topo.node(node).removed {
            // Nothing listens: the connection is refused at once.
            self.send_response(k, node, edge, msg, Status::Refused);
            return;
        }
        k.nodes[node.index()].stats.received += 1;
        match Self::kind(k, node) {
            Some(HttpKind::Service(_)) => self.accept(k, node, edge, msg),
            Some(HttpKind::LoadBalancer(_)) => self.balance(k, node, edge, msg),
            Some(HttpKind::Client(_)) | None => {
                unreachable!("validated: calls end at a service or a load balancer")
            }
        }
    }

    /// A service takes a request: a free worker, a place in the accept queue, or a 503.
    fn accept(&mut self, k: &mut Kernel, node: NodeId, edge: EdgeId, msg: Box<Envelope>) {
        let cfg = Self::service_config(k, node);
        let (concurrency, capacity) = (cfg.concurrency, cfg.accept_queue);
        let id = msg.id;
        let s = self.service(node);
        s.stats.arrived += 1;
        let (busy, queued) = (s.busy, s.queue.len() as u32);
        if busy >= concurrency && queued >= capacity {
            self.service(node).stats.refused += 1;
            self.send_response(k, node, edge, msg, Status::Unavailable);
            return;
        }
        k.ledger.set(id, Fate::Held { node });
        let key = self.jobs.insert(Job {
            service: node,
            msg,
            edge,
            arrived: k.now,
            working: false,
            step: 0,
            pending: 0,
            starting: false,
            failed: false,
        });
        if busy < concurrency {
            self.start_work(k, node, key);
        } else {
            let s = self.service(node);
            s.queue.push_back(key);
            let depth = s.queue.len() as u32;
            Self::emit(
                k,
                HttpEvent::Queued {
                    message: id,
                    node,
                    depth,
                },
            );
        }
    }

    /// A worker takes the request `key`.
    fn start_work(&mut self, k: &mut Kernel, node: NodeId, key: Key) {
        let dist = Self::service_config(k, node).service_time.clone();
        let d = dist.sample(&mut k.rng);
        let until = k.now + d;
        let s = self.service(node);
        s.busy += 1;
        s.stats.busy_us += d.0;
        let job = self.jobs.get_mut(key).expect("a job");
        job.working = true;
        let message = job.msg.id;
        Self::emit(
            k,
            HttpEvent::Started {
                message,
                node,
                until,
            },
        );
        k.schedule(until, ModelDue::Http(Due::Work { job: key }));
    }

    /// Workers free for queued requests take them, in order.
    pub(crate) fn start_queued(&mut self, k: &mut Kernel, node: NodeId) {
        let concurrency = Self::service_config(k, node).concurrency;
        loop {
            let s = self.service(node);
            if s.busy >= concurrency {
                return;
            }
            let Some(key) = s.queue.pop_front() else {
                return;
            };
            self.start_work(k, node, key);
        }
    }

    /// A worker finished a request's work: it fails on its own (`error_rate`), or its handler
    /// runs.
    pub(crate) fn work_done(&mut self, k: &mut Kernel, key: Key) {
        let Some(job) = self.jobs.get(key) else {
            return; // its service crashed
        };
        let node = job.service;
        let p = Self::service_config(k, node).error_rate;
        if p > 0.0 && k.rng.chance(p) {
            self.finish(k, key, Status::Error);
            return;
        }
        self.run_steps(k, key);
    }

    /// Step `step` of `node`'s handler for the request `job` (its own handler, or one call
    /// per call edge it has), resolved against the live topology.
    fn plan(k: &Kernel, node: NodeId, step: usize, key: Key, job: &Job) -> Plan {
        let topo = &k.topo;
        match &Self::service_config(k, node).handler {
            Some(steps) => match steps.get(step) {
                None => Plan::Done,
                Some(HandlerStep::Call(targets)) => Plan::Calls(
                    targets
                        .iter()
                        .map(|t| handler::call_edge(k, node, t))
                        .collect(),
                ),
                Some(s) => Plan::Act(
                    // Every attempt of every call made for a client's request carries its id:
                    // a retry at any hop is the same request.
                    handler::prepare(
                        k,
                        node,
                        s,
                        handler::Handled::message(&job.msg),
                        job.msg.correlation_id,
                        StepOrigin::Http(key),
                    )
                    .map(Box::new),
                ),
            },
            None => {
                let mut calls = topo.node(node).out.iter().copied().filter(|&e| {
                    matches!(topo.edge(e).kind, EdgeKind::Http(super::EdgeKind::Call))
                });
                match calls.nth(step) {
                    Some(e) => Plan::Calls(vec![Some(e)]),
                    None => Plan::Done,
                }
            }
        }
    }

    /// Runs the handler of `key` from its next step: each step's calls begin together, and the
    /// next step waits for all of them (a write, for its answer); after the last, the service
    /// responds.
    fn run_steps(&mut self, k: &mut Kernel, key: Key) {
        let job = self.jobs.get(key).expect("a job");
        let node = job.service;
        loop {
            let job = self.jobs.get_mut(key).expect("a job");
            let step = job.step as usize;
            let targets = match Self::plan(k, node, step, key, job) {
                Plan::Done => {
                    let status = if job.failed {
                        Status::BadGateway
                    } else {
                        Status::Ok
                    };
                    self.finish(k, key, status);
                    return;
                }
                Plan::Act(Ok(action)) => {
                    job.step += 1;
                    match handler::carry_out(k, node, *action) {
                        Ok(Then::Wait) => {
                            self.jobs.get_mut(key).expect("a job").pending = 1;
                            return; // its answer moves it on
                        }
                        Ok(Then::GoOn) => continue,
                        Err(reason) => {
                            self.step_failed(k, key, &reason);
                            return;
                        }
                    }
                }
                Plan::Act(Err(reason)) => {
                    self.step_failed(k, key, &reason);
                    return;
                }
                Plan::Calls(targets) => targets,
            };
            let job = self.jobs.get_mut(key).expect("a job");
            job.step += 1;
            job.pending = targets.len() as u32;
            job.starting = true;
            let (correlation, parent, body) =
                (job.msg.correlation_id, job.msg.id, job.msg.body_bytes);
            for edge in targets {
                self.start_call(k, node, edge, Origin::Job(key), correlation, parent, body);
                if self.jobs.get(key).is_none() {
                    return; // cannot happen while it holds a worker, but never act on a ghost
                }
            }
            let job = self.jobs.get_mut(key).expect("a job");
            job.starting = false;
            if job.pending > 0 {
                return; // the last call to end moves it on
            }
        }
    }

    /// A write the current step of `key` sent was answered: the handler goes on, or (the write
    /// failed) the request fails.
    pub(crate) fn step_done(&mut self, k: &mut Kernel, key: Key, answer: crate::model::StepAnswer) {
        let Some(job) = self.jobs.get_mut(key) else {
            return; // its service crashed while the write was out
        };
        job.pending -= 1;
        match answer.failure() {
            None => self.run_steps(k, key),
            Some(reason) => self.step_failed(k, key, reason),
        }
    }

    /// A step of `key`'s handler could not be carried out: the handler throws, and the request
    /// fails at once with a 500 (`step_failed` says why).
    fn step_failed(&mut self, k: &mut Kernel, key: Key, reason: &str) {
        let job = self.jobs.get(key).expect("a job");
        let (node, message) = (job.service, job.msg.id);
        Self::emit(
            k,
            HttpEvent::StepFailed {
                node,
                message,
                reason: reason.into(),
            },
        );
        self.finish(k, key, Status::Error);
    }

    /// One of the calls of `key`'s current step ended.
    pub(crate) fn job_call_ended(&mut self, k: &mut Kernel, key: Key, ok: bool) {
        let Some(job) = self.jobs.get_mut(key) else {
            return;
        };
        job.pending -= 1;
        job.failed |= !ok;
        if job.pending == 0 && !job.starting {
            self.run_steps(k, key);
        }
    }

    /// A service responds to the request `key`, and its worker takes the next one.
    fn finish(&mut self, k: &mut Kernel, key: Key, status: Status) {
        let job = self.jobs.remove(key).expect("a job");
        let node = job.service;
        let now = k.now;
        let s = self.service(node);
        s.busy -= 1;
        s.stats.responses += 1;
        if status.is_ok() {
            s.stats.ok += 1;
        } else {
            s.stats.errors += 1;
        }
        s.latency.add(now, now.saturating_since(job.arrived).0);
        s.recent.add(now, 0, 1);
        if let Some(f) = self.flights.get_mut(&job.msg.id) {
            f.served_by = Some(node);
        }
        self.send_response(k, node, job.edge, job.msg, status);
        self.start_queued(k, node);
    }

    /// `node` answers a request that reached it over `edge`: the response goes back over it.
    pub(crate) fn send_response(
        &mut self,
        k: &mut Kernel,
        node: NodeId,
        edge: EdgeId,
        msg: Box<Envelope>,
        status: Status,
    ) {
        let f = self.flights.get_mut(&msg.id).expect("an attempt in flight");
        f.response = Some(status);
        Self::emit(
            k,
            HttpEvent::Responded {
                message: msg.id,
                node,
                status,
            },
        );
        let to = k.topo.edge(edge).from;
        k.send_on(edge, node, to, msg);
    }

    /// A response reached `node` over `edge`, on its way back: at its caller, or at a load
    /// balancer that passes it on.
    pub(crate) fn response_arrives(
        &mut self,
        k: &mut Kernel,
        node: NodeId,
        edge: EdgeId,
        msg: Box<Envelope>,
    ) {
        let f = self.flights.get_mut(&msg.id).expect("an attempt in flight");
        let popped = f.hops.pop();
        debug_assert_eq!(popped, Some(edge));
        let Some(&back) = f.hops.last() else {
            self.deliver_response(k, node, edge, msg.id);
            return;
        };
        if !k.up(node) || k.topo.node(node).removed {
            // The balancer went down with the caller's connection: reset.
            f.response = Some(Status::Reset);
        }
        self.edge_state(edge).outstanding -= 1;
        let to = k.topo.edge(back).from;
        k.send_on(back, node, to, msg);
    }

    /// A load balancer passes a request to an upstream instance, or answers 503.
    fn balance(&mut self, k: &mut Kernel, node: NodeId, edge: EdgeId, msg: Box<Envelope>) {
        let algorithm = match Self::kind(k, node) {
            Some(HttpKind::LoadBalancer(c)) => c.algorithm,
            Some(HttpKind::Client(_) | HttpKind::Service(_)) | None => unreachable!("a balancer"),
        };
        let topo = Arc::clone(&k.topo);
        let out = &topo.node(node).out;
        let b = self.balancer(node);
        let healthy: Vec<usize> = (0..out.len())
            .filter(|&i| b.health.get(&out[i]).is_none_or(|h| h.0))
            .collect();
        if healthy.is_empty() {
            self.send_response(k, node, edge, msg, Status::NoUpstream);
            return;
        }
        let pick = match algorithm {
            Algorithm::RoundRobin => {
                // The next healthy one at or after the cursor.
                let n = out.len();
                let start = b.cursor % n;
                let i = (0..n)
                    .map(|d| (start + d) % n)
                    .find(|i| healthy.contains(i))
                    .expect("one is healthy");
                b.cursor = i + 1;
                i
            }
            Algorithm::Random => {
                let j = k.rng.range_inclusive(0, healthy.len() as u64 - 1) as usize;
                healthy[j]
            }
            Algorithm::LeastOutstandingRequests => *healthy
                .iter()
                .min_by_key(|&&i| {
                    self.edges[out[i].index()]
                        .as_ref()
                        .map_or(0, |s| s.outstanding)
                })
                .expect("one is healthy"),
        };
        let up = out[pick];
        self.edge_state(up).outstanding += 1;
        self.flights
            .get_mut(&msg.id)
            .expect("an attempt in flight")
            .hops
            .push(up);
        let to = topo.edge(up).to;
        k.send_on(up, node, to, msg);
    }

    /// A load balancer probes each upstream instance.
    pub(crate) fn health_due(&mut self, k: &mut Kernel, node: NodeId, epoch: u32) {
        let hc = match Self::kind(k, node) {
            Some(HttpKind::LoadBalancer(c)) => c.health_check.clone(),
            Some(HttpKind::Client(_) | HttpKind::Service(_)) | None => None,
        };
        let Some(hc) = hc else { return };
        if !k.up(node)
            || !matches!(&self.nodes[node.index()], NodeState::Balancer(b) if b.epoch == epoch)
        {
            return;
        }
        let topo = Arc::clone(&k.topo);
        for &e in &topo.node(node).out {
            let upstream = topo.edge(e).to;
            let alive = k.up(upstream) && !topo.node(upstream).removed;
            let b = self.balancer(node);
            let h = b.health.entry(e).or_insert((true, 0));
            if alive == h.0 {
                h.1 = 0;
                continue;
            }
            h.1 += 1;
            let needed = if h.0 {
                hc.unhealthy_threshold
            } else {
                hc.healthy_threshold
            };
            if h.1 >= needed {
                *h = (alive, 0);
                Self::emit(
                    k,
                    HttpEvent::Health {
                        node,
                        upstream,
                        healthy: alive,
                    },
                );
            }
        }
        k.schedule(
            k.now + hc.interval,
            ModelDue::Http(Due::Health { node, epoch }),
        );
    }
}
