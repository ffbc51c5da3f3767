//! The BullMQ model's rules, each written once: which edges it allows and what they are, which
//! actions its kinds take, and the validation of its settings, with BullMQ's own messages
//! where BullMQ refuses them.

use super::kind::{
    BullmqKind, EdgeKind, FlowChild, JobTemplate, ProducerConfig, QueueConfig, WorkerConfig,
};
use super::options::{check_concurrency, check_job_options, JobOptions, Limiter};
use crate::kernel::not_a;
use crate::model::{Action, Reconfigure};
use crate::scenario::{Diagnostic, EdgeSpec, NodeKind, Path, Scenario};

/// The longest time a BullMQ setting takes here: a year, in ms.
pub const MAX_MS: f64 = 365.0 * 86_400_000.0;

/// Which kinds an edge with one of this model's kinds at an end may connect, and what it is.
pub(crate) fn edge_rule(from: &NodeKind, to: &NodeKind) -> Result<EdgeKind, &'static str> {
    use BullmqKind::{Producer, Queue, Worker};
    use NodeKind::Bullmq;
    match (from, to) {
        (Bullmq(Producer(_)), Bullmq(Queue(_))) => Ok(EdgeKind::Add),
        (Bullmq(Queue(_)), Bullmq(Worker(_))) => Ok(EdgeKind::Work),
        (Bullmq(Producer(_)), _) => Err("a job producer adds jobs only to job queues"),
        (Bullmq(Queue(_)), _) => Err("a job queue is worked only by workers"),
        (Bullmq(Worker(_)), _) => Err(
            "a worker sends only what its handler publishes (to an exchange or a queue), adds \
             (to a job queue), produces (to a topic) or reads and writes (to a store); it works \
             a job queue and completes its jobs",
        ),
        (_, Bullmq(Queue(_))) => Err(
            "a job queue takes jobs only from job producers and from handlers (a service, a \
             consumer, a worker or a Kafka consumer)",
        ),
        (_, Bullmq(Worker(_))) => Err("a worker works only job queues"),
        (_, Bullmq(Producer(_))) => Err("a producer receives nothing"),
        (
            NodeKind::Producer(_)
            | NodeKind::Relay(_)
            | NodeKind::Sink(_)
            | NodeKind::Amqp(_)
            | NodeKind::Http(_)
            | NodeKind::Kafka(_)
            | NodeKind::Data(_),
            NodeKind::Producer(_)
            | NodeKind::Relay(_)
            | NodeKind::Sink(_)
            | NodeKind::Amqp(_)
            | NodeKind::Http(_)
            | NodeKind::Kafka(_)
            | NodeKind::Data(_),
        ) => unreachable!("an edge with none of this model's kinds is not its to judge"),
    }
}

/// Which actions this model's kinds take: a producer adds on `publish`; producers and workers
/// crash and restart; a queue is paused and resumed (`Queue.pause`); a worker's event loop is
/// blocked and runs again (`pause`, `resume`). Redis itself does not fail here.
pub(crate) fn action_rule(name: &str, kind: &NodeKind, action: Action) -> Result<(), String> {
    let NodeKind::Bullmq(x) = kind else {
        unreachable!("the model judges its own kinds")
    };
    match (action, x) {
        (Action::Publish, BullmqKind::Producer(_)) => Ok(()),
        (Action::Publish, BullmqKind::Queue(_) | BullmqKind::Worker(_)) => {
            Err(not_a(name, kind, "producer", "can publish"))
        }
        (Action::Crash | Action::Restart, BullmqKind::Producer(_) | BullmqKind::Worker(_)) => {
            Ok(())
        }
        (Action::Crash | Action::Restart, BullmqKind::Queue(_)) => Err(format!(
            "job queue {name:?} lives in Redis, which is not simulated as failing; crash a \
             worker or a producer"
        )),
        (Action::Pause | Action::Resume, BullmqKind::Queue(_) | BullmqKind::Worker(_)) => Ok(()),
        (Action::Pause | Action::Resume, BullmqKind::Producer(_)) => Err(format!(
            "{name:?} is a job_producer; pause its queue (Queue.pause) or a worker instead"
        )),
        (Action::Settle, _) => Err(format!(
            "{name:?} is a {}: a BullMQ job is completed or failed by its worker, not \
             acknowledged",
            x.name()
        )),
        (Action::Seek, _) => Err(not_a(name, kind, "kafka_consumer", "seeks")),
        (Action::LoseAck, _) => Err(not_a(name, kind, "kafka_producer", "loses acks")),
    }
}

/// Every setting of this model's kinds changes in place.
pub(crate) fn reconfigure_rule(
    _name: &str,
    _old: &NodeKind,
    _new: &NodeKind,
) -> Result<(), Reconfigure> {
    Ok(())
}

/// The checks of one node's settings, under `path` (`nodes[3].config`).
pub(crate) fn check_kind(kind: &BullmqKind, path: Path<'_>, diags: &mut Vec<Diagnostic>) {
    match kind {
        BullmqKind::Queue(q) => check_queue(q, path, diags),
        BullmqKind::Producer(p) => check_producer(p, path, diags),
        BullmqKind::Worker(w) => check_worker(w, path, diags),
    }
}

fn check_queue(q: &QueueConfig, path: Path<'_>, diags: &mut Vec<Diagnostic>) {
    if q.global_concurrency == Some(0) {
        diags.push(Diagnostic::new(
            path.at("globalConcurrency"),
            "0: a queue's global concurrency is at least 1",
        ));
    }
    if let Some(l) = &q.global_rate_limit {
        check_limiter(l, path.at("globalRateLimit"), diags);
    }
}

fn check_limiter(l: &Limiter, path: Path<'_>, diags: &mut Vec<Diagnostic>) {
    if l.max == 0 {
        diags.push(Diagnostic::new(
            path.at("max"),
            "0: at least one job per window",
        ));
    }
    if l.duration == 0 || l.duration as f64 > MAX_MS {
        diags.push(Diagnostic::new(
            path.at("duration"),
            format!("{}: a window of 1 to {MAX_MS} ms", l.duration),
        ));
    }
}

fn check_producer(p: &ProducerConfig, path: Path<'_>, diags: &mut Vec<Diagnostic>) {
    use crate::scenario::parse::MAX_RATE_PER_S;
    if !(p.rate_per_s >= 0.0 && p.rate_per_s <= MAX_RATE_PER_S) {
        diags.push(Diagnostic::new(
            path.at("rate_per_s"),
            format!(
                "expected a number from 0 to {MAX_RATE_PER_S}, got {}",
                p.rate_per_s
            ),
        ));
    }
    check_opts(&p.opts, path.at("opts"), diags);
    if let Some(s) = &p.scheduler {
        let at = path.at("scheduler");
        match (s.every, &s.pattern) {
            (Some(_), Some(_)) => diags.push(Diagnostic::new(
                at,
                "Both .pattern and .every options are defined for this repeatable job",
            )),
            (None, None) => diags.push(Diagnostic::new(
                at,
                "Either .pattern or .every options must be defined for this repeatable job",
            )),
            (None, Some(pattern)) => {
                if let Err(why) = super::cron::CronSchedule::parse(pattern, s.tz.as_deref()) {
                    let key = if why.contains("time zone") {
                        "tz"
                    } else {
                        "pattern"
                    };
                    diags.push(Diagnostic::new(at.at(key), why));
                }
            }
            (Some(0), None) => {
                diags.push(Diagnostic::new(at.at("every"), "0: every is at least 1 ms"))
            }
            (Some(e), None) if e as f64 > MAX_MS => diags.push(Diagnostic::new(
                at.at("every"),
                format!("{e}: every is at most {MAX_MS} ms"),
            )),
            (Some(_), None) => {}
        }
        if s.id.is_empty() {
            diags.push(Diagnostic::new(at.at("id"), "a job scheduler needs an id"));
        }
        if s.immediately && s.start_date.is_some() {
            diags.push(Diagnostic::new(
                at,
                "Both .immediately and .startDate options are defined for this repeatable job",
            ));
        }
        if s.tz.is_some() && s.pattern.is_none() {
            diags.push(Diagnostic::new(
                at.at("tz"),
                "a time zone is for a cron pattern; every counts milliseconds",
            ));
        }
        if !p.children.is_empty() {
            diags.push(Diagnostic::new(
                path.at("children"),
                "a job scheduler's jobs have no children here: use a scheduler or a flow",
            ));
        }
    }
    if !p.children.is_empty() {
        check_flow_node(&p.opts, path.at("opts"), diags);
        check_children(&p.children, path, 1, diags);
    }
}

/// How deep a flow may nest here.
pub const MAX_FLOW_DEPTH: usize = 16;

/// How many jobs a flow may have here.
pub const MAX_FLOW_JOBS: usize = 1000;

fn flow_size(children: &[FlowChild]) -> usize {
    children.iter().map(|c| 1 + flow_size(&c.children)).sum()
}

/// A flow's children, under `path` (`…config` or `…children[2]`), at `depth`.
fn check_children(
    children: &[FlowChild],
    path: Path<'_>,
    depth: usize,
    diags: &mut Vec<Diagnostic>,
) {
    if depth == 1 && flow_size(children) > MAX_FLOW_JOBS {
        diags.push(Diagnostic::new(
            path.at("children"),
            format!("a flow of at most {MAX_FLOW_JOBS} jobs here"),
        ));
        return;
    }
    if depth > MAX_FLOW_DEPTH {
        diags.push(Diagnostic::new(
            path.at("children"),
            format!("a flow nested at most {MAX_FLOW_DEPTH} deep here"),
        ));
        return;
    }
    for (i, c) in children.iter().enumerate() {
        let at = path.index("children", i);
        if c.queue_name.is_empty() {
            diags.push(Diagnostic::new(
                at.at("queueName"),
                "a child names the job_queue it is added to",
            ));
        }
        check_opts(&c.opts, at.at("opts"), diags);
        check_flow_node(&c.opts, at.at("opts"), diags);
        check_children(&c.children, at, depth + 1, diags);
    }
}

/// What a flow's job may not have here: a custom id (the flow producer names its jobs with
/// UUIDs) or deduplication (BullMQ refuses it on flow nodes).
fn check_flow_node(o: &JobOptions, path: Path<'_>, diags: &mut Vec<Diagnostic>) {
    if o.job_id.is_some() {
        diags.push(Diagnostic::new(
            path.at("jobId"),
            "a flow's jobs get UUIDs here; custom ids in flows are not modelled",
        ));
    }
    if o.deduplication.is_some() {
        diags.push(Diagnostic::new(
            path.at("deduplication"),
            "Deduplication options cannot be used on flow nodes here",
        ));
    }
}

/// Each flow child's `queueName` names a `job_queue`.
pub(crate) fn check_topology<'a>(
    s: &'a Scenario,
    kind: &dyn Fn(&str) -> Option<&'a NodeKind>,
    diags: &mut Vec<Diagnostic>,
) {
    fn walk<'a>(
        children: &[FlowChild],
        path: Path<'_>,
        kind: &dyn Fn(&str) -> Option<&'a NodeKind>,
        diags: &mut Vec<Diagnostic>,
    ) {
        for (i, c) in children.iter().enumerate() {
            let at = path.index("children", i);
            match kind(&c.queue_name) {
                Some(NodeKind::Bullmq(BullmqKind::Queue(_))) => {}
                Some(other) => diags.push(Diagnostic::new(
                    at.at("queueName"),
                    format!(
                        "{:?} is a {}; a flow's child is added to a job_queue",
                        c.queue_name,
                        other.name()
                    ),
                )),
                None if c.queue_name.is_empty() => {}
                None => diags.push(Diagnostic::new(
                    at.at("queueName"),
                    format!("no node has id {:?}", c.queue_name),
                )),
            }
            walk(&c.children, at, kind, diags);
        }
    }
    for (i, n) in s.nodes.iter().enumerate() {
        if let NodeKind::Bullmq(BullmqKind::Producer(p)) = &n.kind {
            if flow_size(&p.children) <= MAX_FLOW_JOBS {
                let node = Path::Item("nodes", i);
                walk(&p.children, node.at("config"), kind, diags);
            }
        }
    }
}

/// A job's options, under `path`: BullMQ's refusals with its messages, and this simulator's
/// bounds on times.
pub(crate) fn check_opts(o: &JobOptions, path: Path<'_>, diags: &mut Vec<Diagnostic>) {
    if let Err(why) = check_job_options(o) {
        let at = if why.starts_with("The following options") {
            path
        } else if why.contains("Deduplication") {
            path.at("deduplication")
        } else if why.contains("Id") {
            path.at("jobId")
        } else if why.contains("Priority") {
            path.at("priority")
        } else {
            path.at("backoff")
        };
        diags.push(Diagnostic::new(at, why));
    }
    if let Some(d) = o.delay {
        if !(0.0..=MAX_MS).contains(&d) {
            diags.push(Diagnostic::new(
                path.at("delay"),
                format!("{d}: a delay of 0 to {MAX_MS} ms"),
            ));
        }
    }
    let backoff_ms = match &o.backoff {
        Some(super::options::Backoff::Millis(ms)) => Some(*ms),
        Some(super::options::Backoff::Strategy(s)) => s.delay,
        None => None,
    };
    if let Some(ms) = backoff_ms {
        if !(0.0..=MAX_MS).contains(&ms) {
            diags.push(Diagnostic::new(
                path.at("backoff"),
                format!("{ms}: a backoff of 0 to {MAX_MS} ms"),
            ));
        }
    }
}

/// A scripted add's job by producer `p`, under `path` (`actions[2].message.job`); with a
/// flow producer, the flow's root.
pub(crate) fn check_template(
    t: &JobTemplate,
    p: &ProducerConfig,
    path: Path<'_>,
    diags: &mut Vec<Diagnostic>,
) {
    if let Some(o) = &t.opts {
        check_opts(o, path.at("opts"), diags);
        if !p.children.is_empty() {
            check_flow_node(o, path.at("opts"), diags);
        }
    }
}

fn check_worker(w: &WorkerConfig, path: Path<'_>, diags: &mut Vec<Diagnostic>) {
    if let Err(why) = check_concurrency(w.concurrency) {
        diags.push(Diagnostic::new(path.at("concurrency"), why));
    } else if w.concurrency > 10_000.0 {
        diags.push(Diagnostic::new(
            path.at("concurrency"),
            format!("{}: at most 10000 here", w.concurrency),
        ));
    }
    if let Some(l) = &w.limiter {
        check_limiter(l, path.at("limiter"), diags);
    }
    let ms = |v: u64, key: &str, diags: &mut Vec<Diagnostic>| {
        if v == 0 || v as f64 > MAX_MS {
            diags.push(Diagnostic::new(
                path.at(key),
                format!("{v}: expected 1 to {MAX_MS} ms"),
            ));
        }
    };
    ms(w.lock_duration, "lockDuration", diags);
    if let Some(r) = w.lock_renew_time {
        ms(r, "lockRenewTime", diags);
    }
    if w.stalled_interval == 0 {
        diags.push(Diagnostic::new(
            path.at("stalledInterval"),
            "stalledInterval must be greater than 0",
        ));
    } else {
        ms(w.stalled_interval, "stalledInterval", diags);
    }
    if !(w.drain_delay > 0.0 && w.drain_delay * 1000.0 <= MAX_MS) {
        diags.push(Diagnostic::new(
            path.at("drainDelay"),
            "drainDelay must be greater than 0",
        ));
    }
    if !(0.0..=1.0).contains(&w.fail_rate) {
        diags.push(Diagnostic::new(
            path.at("fail_rate"),
            format!("{}: expected a probability from 0 to 1", w.fail_rate),
        ));
    }
    crate::scenario::parse::check_dist(&w.processing_time, path.at("processing_time"), diags);
    crate::handler::calls_name_nodes(&w.handler, path, diags);
    crate::handler::check_settings(&w.handler, path, diags);
    let input = crate::handler::InputKind::Job;
    crate::handler::no_foreign_fields(&w.handler, "worker", input, path, diags);
}

/// An edge of this model: a latency, nothing else.
pub(crate) fn check_edge_fields(e: &EdgeSpec, path: Path<'_>, diags: &mut Vec<Diagnostic>) {
    crate::scenario::check_plain_edge_fields(e, path, diags);
}
