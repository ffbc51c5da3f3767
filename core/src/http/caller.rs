//! The calling side: clients' requests, and the calls a client, a service or another model's
//! handler (a consumer's, a worker's, a Kafka consumer's call step) makes over an edge, attempt
//! by attempt, through the edge's policies in resilience4j's order: the retry
//! outermost, then (our addition) adaptive throttling, then the circuit breaker, then the
//! bulkhead; the time limiter times each attempt from when it leaves.

use super::backoff;
use super::event::{HttpEvent, Refusal};
use super::kind::{ClientConfig, HttpKind};
use super::model::{gap, Call, Due, Flight, HttpModel, Origin, Request, StepCalls};
use super::slab::Key;
use crate::id::{EdgeId, MessageId, NodeId};
use crate::kernel::Kernel;
use crate::ledger::{DropReason, Fate};
use crate::message::Envelope;
use crate::model::ModelDue;
use crate::time::{SimDuration, SimTime};

impl HttpModel {
    pub(crate) fn schedule_emit(
        &mut self,
        k: &mut Kernel,
        node: NodeId,
        epoch: u32,
        at: SimTime,
        c: &ClientConfig,
    ) {
        if c.rate_per_s <= 0.0 || c.limit.is_some_and(|l| self.client(node).emitted >= l) {
            return;
        }
        k.schedule(at, ModelDue::Http(Due::Emit { node, epoch }));
    }

    fn client_config(k: &Kernel, node: NodeId) -> ClientConfig {
        match Self::kind(k, node) {
            Some(HttpKind::Client(c)) => c.clone(),
            Some(HttpKind::Service(_) | HttpKind::LoadBalancer(_)) | None => {
                unreachable!("not a client")
            }
        }
    }

    /// An open-loop client's request is due.
    pub(crate) fn emit_due(&mut self, k: &mut Kernel, node: NodeId, epoch: u32) {
        if !k.up(node) || self.client(node).emit_epoch != epoch {
            return;
        }
        let c = Self::client_config(k, node);
        self.client(node).emitted += 1;
        self.begin_request(k, node, None);
        let at = k.now + gap(c.rate_per_s, c.arrival, &mut k.rng);
        self.schedule_emit(k, node, epoch, at, &c);
    }

    /// A closed-loop user's next request is due.
    pub(crate) fn user_due(&mut self, k: &mut Kernel, node: NodeId, slot: u32) {
        let epoch = self.client(node).epoch;
        if !k.up(node) || slot >> 16 != epoch & 0xffff {
            return;
        }
        self.begin_request(k, node, Some(slot & 0xffff));
    }

    /// A client begins a request (rate-driven, a user's, or a scripted `publish`).
    pub(crate) fn begin_request(&mut self, k: &mut Kernel, client: NodeId, user: Option<u32>) {
        let c = Self::client_config(k, client);
        let id = k.ledger.next_id();
        let template = crate::message::MessageTemplate {
            body_bytes: c.body_bytes,
            ..crate::message::MessageTemplate::default()
        };
        let msg = Box::new(Envelope::from_template(id, &template, k.now));
        k.ledger.create(id, Fate::Held { node: client });
        k.nodes[client.index()].stats.published += 1;
        Self::emit(
            k,
            HttpEvent::Request {
                client,
                request: id,
            },
        );
        self.client(client).stats.requests += 1;
        if !k.up(client) {
            // A scripted request to a crashed client.
            k.drop_message(id, client, DropReason::NodeDown);
            return;
        }
        let deadline = c.deadline.map(|d| k.now + d);
        let epoch = self.client(client).epoch;
        let key = self.requests.insert(Request {
            client,
            msg,
            started: k.now,
            deadline,
            user,
            epoch,
        });
        if let Some(at) = deadline {
            k.schedule(at, ModelDue::Http(Due::Deadline { request: key }));
        }
        let edge = k.topo.node(client).out.first().copied();
        self.start_call(k, client, edge, Origin::Request(key), id, id, c.body_bytes);
    }

    /// A client request ends.
    fn end_request(&mut self, k: &mut Kernel, key: Key, ok: bool, reason: DropReason) {
        let Some(r) = self.requests.remove(key) else {
            return;
        };
        let (client, id) = (r.client, r.msg.id);
        let latency = k.now.saturating_since(r.started);
        if ok {
            k.ledger.set(id, Fate::Consumed { node: client });
            k.nodes[client.index()].stats.consumed += 1;
            k.emit(crate::event::EventKind::Consumed {
                message: id,
                node: client,
            });
        } else {
            k.drop_message(id, client, reason);
        }
        Self::emit(
            k,
            HttpEvent::RequestEnded {
                client,
                request: id,
                ok,
                latency,
            },
        );
        let now = k.now;
        let c = self.client(client);
        if ok {
            c.stats.succeeded += 1;
            c.latency.add(now, latency.0);
        } else {
            c.stats.failed += 1;
            if reason == DropReason::DeadlineExceeded {
                c.stats.deadline_exceeded += 1;
            }
        }
        c.recent.add(now, 0, 1);
        if ok {
            c.recent.add(now, 1, 1);
        }
        if let Some(user) = r.user.filter(|_| r.epoch == c.epoch) {
            let epoch = c.epoch;
            let cfg = Self::client_config(k, client);
            // At least 1 µs: a user whose requests fail at once (an open breaker, no route)
            // and who does not think would otherwise loop without time passing.
            let think = cfg.think_time.sample(&mut k.rng).max(SimDuration(1));
            let at = k.now + think;
            if user < cfg.users {
                k.schedule(
                    at,
                    ModelDue::Http(Due::User {
                        node: client,
                        slot: Due::user_slot(user, epoch),
                    }),
                );
            }
        }
    }

    /// A client request's deadline passed: if it is still going, it fails, and its call is
    /// abandoned (an attempt on its way finishes, but none follows).
    pub(crate) fn request_deadline(&mut self, k: &mut Kernel, key: Key) {
        if self.requests.get(key).is_none() {
            return;
        }
        let calls = self.calls.keys_where(|c| c.origin == Origin::Request(key));
        for call in calls {
            self.abandon(call);
        }
        self.end_request(k, key, false, DropReason::DeadlineExceeded);
    }

    /// The origin of `call` gave up on it.
    pub(crate) fn abandon(&mut self, key: Key) {
        let Some(c) = self.calls.get_mut(key) else {
            return;
        };
        c.abandoned = true;
        if c.waiting {
            // Out of the bulkhead's queue: nothing of it is in flight, and the breaker's
            // permission it holds is released (a half-open breaker gets its permit back).
            let (edge, permitted) = (c.edge, c.permitted_at.is_some());
            let es = self.edge_state(edge);
            es.bulkhead_waiting.retain(|&w| w != key);
            if let Some(b) = es.breaker.as_mut().filter(|_| permitted) {
                b.release();
            }
            es.stats.failed_calls += 1;
            self.calls.remove(key);
        } else if !self.flights.values().any(|f| f.call == key && f.awaited) {
            // Between attempts: the retry timer will find nothing.
            let edge = c.edge;
            self.edge_state(edge).stats.failed_calls += 1;
            self.calls.remove(key);
        }
    }

    /// Begins a call from `caller` over `edge` (`None`: the caller has no edge to call over).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn start_call(
        &mut self,
        k: &mut Kernel,
        caller: NodeId,
        edge: Option<EdgeId>,
        origin: Origin,
        correlation: MessageId,
        parent: MessageId,
        body_bytes: u32,
    ) {
        let Some(edge) = edge.filter(|&e| !k.topo.edge(e).removed) else {
            // Nowhere to call: it fails at once (said on one of the caller's call edges, if it
            // has one left).
            let topo = &k.topo;
            let call_edge = topo
                .node(caller)
                .out
                .iter()
                .copied()
                .find(|&e| matches!(topo.edge(e).kind, crate::model::EdgeKind::Http(_)));
            if let Some(e) = call_edge {
                Self::emit(
                    k,
                    HttpEvent::Refused {
                        edge: e,
                        correlation,
                        reason: Refusal::NoRoute,
                    },
                );
            }
            self.origin_told(k, origin, false);
            return;
        };
        let key = self.calls.insert(Call {
            caller,
            edge,
            origin,
            correlation,
            parent,
            body_bytes,
            attempts: 0,
            backoff: backoff::BackoffState::default(),
            waiting: false,
            wait_until: SimTime::ZERO,
            permitted_at: None,
            abandoned: false,
        });
        let now = k.now;
        let es = self.edge_state(edge);
        es.stats.calls += 1;
        if let Some(b) = &mut es.budget {
            b.add(now, 0, 1);
        }
        self.attempt(k, key);
    }

    /// A call's next attempt, through the edge's policies.
    fn attempt(&mut self, k: &mut Kernel, key: Key) {
        let c = self.calls.get_mut(key).expect("a live call");
        c.attempts += 1;
        let (edge, correlation) = (c.edge, c.correlation);
        if k.topo.edge(edge).removed {
            Self::emit(
                k,
                HttpEvent::Refused {
                    edge,
                    correlation,
                    reason: Refusal::NoRoute,
                },
            );
            self.end_call(k, key, false);
            return;
        }
        let topo = std::sync::Arc::clone(&k.topo);
        let r = topo.edge(edge).resilience.as_deref();
        let now = k.now;
        // Adaptive throttling: refused locally with probability (requests − K·accepts) /
        // (requests + 1).
        if let Some(t) = r.and_then(|r| r.adaptive_throttling.as_ref()) {
            let w = self.edge_state(edge).throttle.as_mut().expect("its window");
            let [requests, accepts] = w.totals(now);
            w.add(now, 0, 1);
            let p = ((requests as f64 - t.k * accepts as f64) / (requests as f64 + 1.0)).max(0.0);
            if p > 0.0 && k.rng.chance(p) {
                self.refuse(k, key, Refusal::Throttled, None);
                return;
            }
        }
        // The circuit breaker.
        let mut permitted = None;
        if let Some(b) = self.edge_state(edge).breaker.as_mut() {
            let mut changed = false;
            let ok = b.try_acquire(now, &mut changed);
            if changed {
                self.breaker_changed(k, edge);
            }
            if !ok {
                self.refuse(k, key, Refusal::Breaker, None);
                return;
            }
            permitted = Some(now);
        }
        // The bulkhead.
        let mut slot = false;
        if let Some(bh) = r.and_then(|r| r.bulkhead.as_ref()) {
            let es = self.edge_state(edge);
            if es.bulkhead_in_use < bh.max_concurrent_calls {
                es.bulkhead_in_use += 1;
                slot = true;
            } else if !bh.max_wait_duration.is_zero() {
                es.bulkhead_waiting.push_back(key);
                let c = self.calls.get_mut(key).expect("live");
                c.waiting = true;
                c.wait_until = now + bh.max_wait_duration;
                c.permitted_at = permitted;
                k.schedule(
                    now + bh.max_wait_duration,
                    ModelDue::Http(Due::BulkheadWait { call: key }),
                );
                return;
            } else {
                self.refuse(k, key, Refusal::Bulkhead, permitted);
                return;
            }
        }
        self.send_attempt(k, key, slot, permitted);
    }

    /// An attempt is refused before it leaves; `permitted_at`: the breaker let it through then,
    /// and counts the refusal (a bulkhead's) as a failure of that duration.
    fn refuse(&mut self, k: &mut Kernel, key: Key, reason: Refusal, permitted_at: Option<SimTime>) {
        let c = self.calls.get(key).expect("a live call");
        let (edge, correlation) = (c.edge, c.correlation);
        Self::emit(
            k,
            HttpEvent::Refused {
                edge,
                correlation,
                reason,
            },
        );
        let es = self.edge_state(edge);
        match reason {
            Refusal::Breaker => es.stats.refused_breaker += 1,
            Refusal::Bulkhead => es.stats.refused_bulkhead += 1,
            Refusal::Throttled => es.stats.refused_throttled += 1,
            Refusal::NoRoute => {}
        }
        if let Some(t) = permitted_at {
            let d = k.now.saturating_since(t);
            self.record_outcome(k, edge, d, false);
        }
        self.attempt_failed(k, key);
    }

    /// An attempt leaves its caller.
    fn send_attempt(
        &mut self,
        k: &mut Kernel,
        key: Key,
        slot: bool,
        permitted_at: Option<SimTime>,
    ) {
        let c = self.calls.get(key).expect("a live call");
        let (caller, edge, parent, n) = (c.caller, c.edge, c.parent, c.attempts);
        let id = k.ledger.next_id();
        let mut msg = Box::new(Envelope::from_template(
            id,
            &crate::message::MessageTemplate {
                body_bytes: c.body_bytes,
                ..crate::message::MessageTemplate::default()
            },
            k.now,
        ));
        msg.correlation_id = c.correlation;
        msg.causation_id = Some(parent);
        k.ledger.create(id, Fate::Held { node: caller });
        let es = self.edge_state(edge);
        es.stats.attempts += 1;
        if n > 1 {
            es.stats.retries += 1;
        }
        self.flights.insert(
            id,
            Flight {
                call: key,
                caller,
                hops: vec![edge],
                response: None,
                served_by: None,
                sent_at: k.now,
                awaited: true,
                slot,
                permitted_at,
            },
        );
        if let Some(t) = k
            .topo
            .edge(edge)
            .resilience
            .as_deref()
            .and_then(|r| r.time_limiter.as_ref())
        {
            let at = k.now + t.timeout_duration;
            k.await_reply(caller, id, at);
        }
        Self::emit(
            k,
            HttpEvent::Attempt {
                message: id,
                parent,
                edge,
                attempt: n,
            },
        );
        let to = k.topo.edge(edge).to;
        k.send_on(edge, caller, to, msg);
    }

    /// A response reached the caller of its attempt, over the call edge `edge`.
    pub(crate) fn deliver_response(
        &mut self,
        k: &mut Kernel,
        caller: NodeId,
        edge: EdgeId,
        id: MessageId,
    ) {
        let f = self.flights.remove(&id).expect("an attempt in flight");
        k.nodes[caller.index()].stats.received += 1;
        if !k.up(caller) || k.topo.node(caller).removed {
            k.drop_message(id, caller, DropReason::NodeDown);
            return;
        }
        let status = f.response.expect("a response");
        if !f.awaited {
            k.drop_message(id, caller, DropReason::Late);
            Self::emit(k, HttpEvent::Late { message: id, edge });
            self.edge_state(edge).stats.late += 1;
            if let Some(s) = f.served_by {
                self.service(s).stats.wasted += 1;
            }
            return;
        }
        if k.topo
            .edge(edge)
            .resilience
            .as_deref()
            .and_then(|r| r.time_limiter.as_ref())
            .is_some()
        {
            k.reply_arrived(caller, id);
        }
        let latency = k.now.saturating_since(f.sent_at);
        k.ledger.set(id, Fate::Consumed { node: caller });
        k.nodes[caller.index()].stats.consumed += 1;
        Self::emit(
            k,
            HttpEvent::Answered {
                message: id,
                edge,
                status,
                latency,
            },
        );
        k.emit(crate::event::EventKind::Consumed {
            message: id,
            node: caller,
        });
        let ok = status.is_ok();
        if f.slot {
            self.release_slot(k, edge);
        }
        if let Some(t) = f.permitted_at {
            let d = k.now.saturating_since(t);
            self.record_outcome(k, edge, d, ok);
        }
        let now = k.now;
        let es = self.edge_state(edge);
        if ok {
            es.stats.ok += 1;
            if let Some(t) = &mut es.throttle {
                t.add(now, 1, 1);
            }
        } else {
            es.stats.errors += 1;
        }
        if ok {
            if let Some(s) = f.served_by {
                let s = self.service(s);
                s.stats.good += 1;
                s.recent.add(now, 1, 1);
            }
        }
        if self.calls.get(f.call).is_some() {
            if ok {
                self.end_call(k, f.call, true);
            } else {
                self.attempt_failed(k, f.call);
            }
        }
    }

    /// The attempt `id`'s `timeoutDuration` passed with no response.
    pub(crate) fn timed_out(&mut self, k: &mut Kernel, caller: NodeId, id: MessageId) {
        let Some(f) = self.flights.get_mut(&id) else {
            return;
        };
        debug_assert_eq!(f.caller, caller);
        f.awaited = false;
        let (edge, slot, permitted_at, call) = (f.hops[0], f.slot, f.permitted_at, f.call);
        f.slot = false;
        Self::emit(k, HttpEvent::TimedOut { message: id, edge });
        self.edge_state(edge).stats.timeouts += 1;
        if slot {
            self.release_slot(k, edge);
        }
        if let Some(t) = permitted_at {
            let d = k.now.saturating_since(t);
            self.record_outcome(k, edge, d, false);
        }
        if self.calls.get(call).is_some() {
            self.attempt_failed(k, call);
        }
    }

    /// The circuit breaker of `edge` records an outcome.
    fn record_outcome(&mut self, k: &mut Kernel, edge: EdgeId, duration: SimDuration, ok: bool) {
        let now = k.now;
        let Some(b) = self.edge_state(edge).breaker.as_mut() else {
            return;
        };
        if b.record(now, duration, !ok).is_some() {
            self.breaker_changed(k, edge);
        }
    }

    /// The breaker of `edge` changed state: say so, and set its timer if it has one.
    fn breaker_changed(&mut self, k: &mut Kernel, edge: EdgeId) {
        let b = self.edge_state(edge).breaker.as_ref().expect("a breaker");
        let (state, until, timer, epoch) = (b.state(), b.open_until(), b.timer(), b.epoch());
        Self::emit(k, HttpEvent::Breaker { edge, state, until });
        if let Some(at) = timer {
            k.schedule(at.max(k.now), ModelDue::Http(Due::Breaker { edge, epoch }));
        }
    }

    /// A breaker's timer is due.
    pub(crate) fn breaker_timer(&mut self, k: &mut Kernel, edge: EdgeId, epoch: u32) {
        let now = k.now;
        let Some(Some(es)) = self.edges.get_mut(edge.index()) else {
            return;
        };
        let Some(b) = es.breaker.as_mut() else { return };
        if b.fire(now, epoch).is_some() {
            self.breaker_changed(k, edge);
        }
    }

    /// A bulkhead slot of `edge` is free: the first waiting call takes it.
    fn release_slot(&mut self, k: &mut Kernel, edge: EdgeId) {
        self.edge_state(edge).bulkhead_in_use -= 1;
        if k.topo.edge(edge).removed {
            return; // its waiting calls give up when their waits end
        }
        while let Some(key) = self.edge_state(edge).bulkhead_waiting.pop_front() {
            if let Some(c) = self.calls.get_mut(key) {
                c.waiting = false;
                let permitted_at = c.permitted_at;
                self.edge_state(edge).bulkhead_in_use += 1;
                self.send_attempt(k, key, true, permitted_at);
                return;
            }
        }
    }

    /// A call's wait for a bulkhead slot is over: if it still waits, it is refused.
    pub(crate) fn bulkhead_wait_over(&mut self, k: &mut Kernel, key: Key) {
        let Some(c) = self.calls.get(key) else { return };
        // A timer of an earlier wait of the same call does nothing.
        if !c.waiting || k.now < c.wait_until {
            return;
        }
        let (edge, permitted_at) = (c.edge, c.permitted_at);
        self.edge_state(edge).bulkhead_waiting.retain(|&w| w != key);
        self.calls.get_mut(key).expect("live").waiting = false;
        self.refuse(k, key, Refusal::Bulkhead, permitted_at);
    }

    /// An attempt of `key` failed: retry it, if the policy allows and the budget has room, or
    /// end the call.
    fn attempt_failed(&mut self, k: &mut Kernel, key: Key) {
        let c = self.calls.get(key).expect("a live call");
        let (edge, n, correlation, abandoned) = (c.edge, c.attempts, c.correlation, c.abandoned);
        let topo = std::sync::Arc::clone(&k.topo);
        let retry = topo
            .edge(edge)
            .resilience
            .as_deref()
            .and_then(|r| r.retry.as_ref());
        let Some(retry) = retry.filter(|r| !abandoned && n < r.max_attempts) else {
            self.end_call(k, key, false);
            return;
        };
        let now = k.now;
        if let Some(b) = topo
            .edge(edge)
            .resilience
            .as_deref()
            .and_then(|r| r.retry_budget.as_ref())
        {
            let w = self.edge_state(edge).budget.as_mut().expect("its window");
            let [calls, retries] = w.totals(now);
            if retries as f64 >= b.retry_ratio * calls as f64 {
                Self::emit(k, HttpEvent::BudgetExhausted { edge, correlation });
                self.edge_state(edge).stats.budget_exhausted += 1;
                self.end_call(k, key, false);
                return;
            }
            w.add(now, 1, 1);
        }
        let c = self.calls.get_mut(key).expect("live");
        let delay = backoff::wait(retry, n, &mut c.backoff, &mut k.rng);
        Self::emit(
            k,
            HttpEvent::Retrying {
                edge,
                correlation,
                attempt: n + 1,
                delay,
            },
        );
        k.schedule(now + delay, ModelDue::Http(Due::Retry { call: key }));
    }

    /// A call's wait before its next attempt is over.
    pub(crate) fn retry_due(&mut self, k: &mut Kernel, key: Key) {
        let Some(c) = self.calls.get(key) else { return };
        if c.abandoned {
            self.end_call(k, key, false);
            return;
        }
        if !k.up(c.caller) {
            return;
        }
        self.attempt(k, key);
    }

    /// A call ends: its origin is told.
    fn end_call(&mut self, k: &mut Kernel, key: Key, ok: bool) {
        let c = self.calls.remove(key).expect("a live call");
        if !ok {
            self.edge_state(c.edge).stats.failed_calls += 1;
        }
        if !c.abandoned {
            self.origin_told(k, c.origin, ok);
        }
    }

    /// A call of `origin` ended.
    fn origin_told(&mut self, k: &mut Kernel, origin: Origin, ok: bool) {
        match origin {
            Origin::Request(r) => self.end_request(k, r, ok, DropReason::RequestFailed),
            Origin::Job(j) => self.job_call_ended(k, j, ok),
            Origin::Step(s) => self.step_call_ended(k, s, ok),
        }
    }

    /// A call step of a consumer's, worker's or Kafka consumer's handler begins its calls
    /// (the kernel kept them under `id`), all at once, each over its edge with the edge's
    /// policies.
    pub(crate) fn step_calls_due(&mut self, k: &mut Kernel, id: u32) {
        let Some(step) = k.step_calls.remove(&id) else {
            return;
        };
        let crate::handler::StepCall {
            caller,
            edges,
            correlation,
            parent,
            body_bytes,
            origin,
        } = *step;
        if !k.up(caller) || k.topo.node(caller).removed {
            return; // its handler's run went with it
        }
        let key = self.step_calls.insert(StepCalls {
            caller,
            origin,
            pending: edges.len() as u32,
            failed: false,
            starting: true,
        });
        for edge in edges {
            let origin = Origin::Step(key);
            self.start_call(k, caller, edge, origin, correlation, parent, body_bytes);
        }
        let s = self
            .step_calls
            .get_mut(key)
            .expect("its calls are going on");
        s.starting = false;
        if s.pending == 0 {
            self.step_calls_ended(k, key);
        }
    }

    /// One of the calls of the call step `key` ended.
    fn step_call_ended(&mut self, k: &mut Kernel, key: Key, ok: bool) {
        let Some(s) = self.step_calls.get_mut(key) else {
            return;
        };
        s.pending -= 1;
        s.failed |= !ok;
        if s.pending == 0 && !s.starting {
            self.step_calls_ended(k, key);
        }
    }

    /// Every call of the call step `key` ended: its handler is answered, at once.
    fn step_calls_ended(&mut self, k: &mut Kernel, key: Key) {
        let s = self.step_calls.remove(key).expect("a call step");
        let answer =
            crate::model::StepAnswer::ok_or(!s.failed, crate::model::StepAnswer::CallFailed);
        k.schedule(k.now, s.origin.answer(answer));
    }

    /// `node` (a caller) is gone, crashed or removed: its calls end without telling anyone
    /// (their origins go with it), its attempts' responses will find nobody waiting, and its
    /// edges' policies start afresh if it comes back.
    pub(crate) fn caller_gone(&mut self, k: &mut Kernel, node: NodeId) {
        for key in self.calls.keys_where(|c| c.caller == node) {
            self.calls.remove(key);
        }
        for key in self.step_calls.keys_where(|s| s.caller == node) {
            self.step_calls.remove(key);
        }
        // Call steps handed over but not begun yet belong to runs gone with it.
        k.step_calls.retain(|_, s| s.caller != node);
        for f in self.flights.values_mut() {
            if f.caller == node {
                f.awaited = false;
                if f.slot {
                    // Given back on its own edge, which may have been removed since.
                    f.slot = false;
                    if let Some(Some(es)) = self.edges.get_mut(f.hops[0].index()) {
                        es.bulkhead_in_use -= 1;
                    }
                }
            }
        }
        k.forget_calls(node);
        let topo = std::sync::Arc::clone(&k.topo);
        for &e in &topo.node(node).out {
            if let Some(Some(es)) = self.edges.get_mut(e.index()) {
                es.reset(topo.edge(e).resilience.as_deref());
            }
        }
    }
}
