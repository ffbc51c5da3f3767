//! The BullMQ model in the page: job producers, job queues drawn as their lanes (waiting,
//! prioritized, delayed, active, completed, failed and flows' parents waiting for their
//! children, with counts), and workers with their
//! slots.

use super::{Face, Fault, PaletteItem, Shape};
use crate::fields::{f, Field, FieldType::*};
use crate::view::{NODE_HALF_H, NODE_HALF_W};
use serde_json::json;
use switchboard_core::bullmq::{BullmqEvent, BullmqKind, BullmqMetrics, EdgeKind};
use switchboard_core::scenario::{NodeKind, NodeSpec};
use switchboard_core::NodeId;
use switchboard_core::NodeMetrics;
use yew::prelude::*;

/// The lanes a queue draws, in Bull Board's order, with their class names.
pub const LANES: [(&str, &str); 7] = [
    ("waiting", "waiting"),
    ("prioritized", "prioritized"),
    ("delayed", "delayed"),
    ("active", "active"),
    ("completed", "completed"),
    ("failed", "failed"),
    ("children", "waiting-children"),
];

/// A queue's half width (wider than other nodes: it draws its lanes).
const QUEUE_HALF_W: f64 = 110.0;

/// One lane's height.
const LANE_H: f64 = 10.0;

/// Where the lanes begin, below the name and the subtitle.
const LANES_TOP: f64 = 36.0;

/// Jobs drawn per lane (more are counted).
const CARDS: usize = 12;

/// The middle of lane `lane` (an index into [`LANES`]) of the queue drawn at `c`, at its first
/// card: where a job's card leaves a lane or arrives in one.
pub fn lane_point(kind: &BullmqKind, c: (f64, f64), lane: usize) -> (f64, f64) {
    let (hw, hh) = half_size(kind);
    let label_w = 58.0;
    let x = c.0 - hw + 8.0 + label_w + 6.0;
    let y = c.1 - hh + LANES_TOP + lane as f64 * LANE_H + LANE_H / 2.0;
    (x, y)
}

/// The lanes a job's card moves between for `e`, if it moves: its queue, and the lanes (indices
/// into [`LANES`]) it leaves and enters.
pub fn card_move(e: &BullmqEvent) -> Option<(NodeId, usize, usize)> {
    use switchboard_core::bullmq::{BullmqEvent as B, Prev, Retry};
    const WAITING: usize = 0;
    const PRIORITIZED: usize = 1;
    const DELAYED: usize = 2;
    const ACTIVE: usize = 3;
    const COMPLETED: usize = 4;
    const FAILED: usize = 5;
    const CHILDREN: usize = 6;
    let into = |prioritized: bool| if prioritized { PRIORITIZED } else { WAITING };
    match e {
        B::Waiting {
            job,
            prev,
            prioritized,
        } => {
            let from = match prev {
                Prev::Added => return None,
                Prev::Delayed => DELAYED,
                Prev::Active => ACTIVE,
                Prev::WaitingChildren => CHILDREN,
            };
            Some((job.queue, from, into(*prioritized)))
        }
        B::Active {
            job, prioritized, ..
        } => Some((job.queue, into(*prioritized), ACTIVE)),
        B::Completed { job, .. } => Some((job.queue, ACTIVE, COMPLETED)),
        B::Failed { job, .. } => Some((job.queue, ACTIVE, FAILED)),
        B::WorkerFailed {
            job,
            retry: Retry::After(_),
            ..
        } => Some((job.queue, ACTIVE, DELAYED)),
        B::WorkerFailed { .. }
        | B::Added { .. }
        | B::WaitingChildren { .. }
        | B::Delayed { .. }
        | B::RetriesExhausted { .. }
        | B::Stalled { .. }
        | B::Drained { .. }
        | B::Duplicated { .. }
        | B::Deduplicated(_)
        | B::Removed { .. }
        | B::Paused { .. }
        | B::Resumed { .. }
        | B::RateLimited { .. }
        | B::PendingDependencies { .. }
        | B::StepFailed(_)
        | B::LockMissing { .. } => None,
    }
}

/// A node's half width and half height: a queue is tall enough for its seven lanes.
pub fn half_size(kind: &BullmqKind) -> (f64, f64) {
    match kind {
        BullmqKind::Queue(_) => (
            QUEUE_HALF_W,
            NODE_HALF_H.max((LANES_TOP + LANES.len() as f64 * LANE_H + 6.0) / 2.0),
        ),
        BullmqKind::Producer(_) | BullmqKind::Worker(_) => (NODE_HALF_W, NODE_HALF_H),
    }
}

/// The model's palette items.
pub const PALETTE: &[PaletteItem] = &[
    PaletteItem {
        label: "Job producer",
        kind: "job_producer",
        variant: None,
        stem: "jobs-producer",
    },
    PaletteItem {
        label: "Job queue",
        kind: "job_queue",
        variant: None,
        stem: "jobs",
    },
    PaletteItem {
        label: "Worker",
        kind: "worker",
        variant: None,
        stem: "worker",
    },
];

/// The settings a new node of a palette item starts with (`None`: not one of this model's).
pub fn default_config(item: &PaletteItem) -> Option<serde_json::Value> {
    Some(match item.kind {
        "job_producer" => json!({
            "rate_per_s": 5,
            "name": "send-email",
            "opts": { "attempts": 3, "backoff": { "type": "exponential", "delay": 1000 } },
        }),
        "job_queue" => json!({}),
        "worker" => json!({ "concurrency": 2, "processing_time": "300ms", "fail_rate": 0.2 }),
        _ => return None,
    })
}

/// A queue's settings.
pub const QUEUE: &[Field] = &[
    f(
        "globalConcurrency",
        &["globalConcurrency"],
        Int,
        "at most this many jobs active over all workers (empty: no limit)",
    ),
    f(
        "globalRateLimit",
        &["globalRateLimit"],
        Json,
        "{\"max\": 10, \"duration\": 1000}: jobs started per window, for the whole queue",
    ),
];

/// A producer's settings: how often it calls `Queue.add`, and the jobs' options.
pub const PRODUCER: &[Field] = &[
    f(
        "rate_per_s",
        &["rate_per_s"],
        Float,
        "jobs added per second",
    ),
    f("name", &["name"], Text, "the jobs' name"),
    f(
        "attempts",
        &["opts", "attempts"],
        Int,
        "tries in all, the first included",
    ),
    f(
        "backoff",
        &["opts", "backoff"],
        Json,
        "ms before a retry, or {\"type\": \"exponential\", \"delay\": 1000, \"jitter\": 0.5}",
    ),
    f(
        "delay",
        &["opts", "delay"],
        Float,
        "ms each job waits in delayed first",
    ),
    f(
        "priority",
        &["opts", "priority"],
        Int,
        "0: none; 1 is taken before 2, and every job without one before any with one",
    ),
    f(
        "lifo",
        &["opts", "lifo"],
        Bool,
        "add at the head of wait, not its tail",
    ),
    f(
        "removeOnComplete",
        &["opts", "removeOnComplete"],
        Json,
        "true, false, a count to keep, or {\"age\": 3600, \"count\": 1000}",
    ),
    f(
        "removeOnFail",
        &["opts", "removeOnFail"],
        Json,
        "failed jobs to keep, as removeOnComplete",
    ),
    f(
        "fails",
        &["fails"],
        Int,
        "the processor throws on each job's first this many attempts",
    ),
    f(
        "limit",
        &["limit"],
        Int,
        "stop after this many (empty: never)",
    ),
    f(
        "scheduler",
        &["scheduler"],
        Json,
        "a job scheduler instead of a rate: {\"id\": \"tick\", \"every\": 1000} or {\"id\": \"tick\", \"pattern\": \"*/5 * * * * *\", \"tz\": \"Europe/Paris\"}",
    ),
    f(
        "children",
        &["children"],
        Json,
        "a flow: each job waits for these, e.g. [{\"name\": \"charge\", \"queueName\": \"payments\", \"opts\": {\"failParentOnFailure\": true}}]",
    ),
];

/// A worker's settings.
pub const WORKER: &[Field] = &[
    f("concurrency", &["concurrency"], Float, "jobs run at once"),
    f(
        "processing_time",
        &["processing_time"],
        Duration,
        "the processor's time per attempt",
    ),
    f(
        "fail_rate",
        &["fail_rate"],
        Float,
        "probability an attempt throws (0–1)",
    ),
    f(
        "limiter",
        &["limiter"],
        Json,
        "{\"max\": 10, \"duration\": 1000}: jobs started per window, over the whole queue",
    ),
    f(
        "lockDuration",
        &["lockDuration"],
        Int,
        "ms a job's lock lasts unless renewed",
    ),
    f(
        "stalledInterval",
        &["stalledInterval"],
        Int,
        "ms between stalled-job checks",
    ),
    f(
        "maxStalledCount",
        &["maxStalledCount"],
        Int,
        "stalls a job survives before it fails",
    ),
    f(
        "drainDelay",
        &["drainDelay"],
        Float,
        "s it waits for a job when the queue is empty",
    ),
    f(
        "handler",
        &["handler"],
        Json,
        "steps before the job completes: [{\"call\": \"bank\"}, {\"write\": \"db\", \"key\": \"charge:{job_id}\", \"idempotency_key\": \"{job_id}\"}, {\"publish\": \"events\"}, {\"read\": \"view\", \"key\": \"…\"}, {\"add_job\": \"next\"}, {\"produce\": \"done\"}, {\"fail\": {\"probability\": 0.1}}] (empty: none)",
    ),
];

/// The inspector's fields of one of the model's kinds.
pub fn fields(kind: &BullmqKind) -> &'static [Field] {
    match kind {
        BullmqKind::Queue(_) => QUEUE,
        BullmqKind::Producer(_) => PRODUCER,
        BullmqKind::Worker(_) => WORKER,
    }
}

/// The inspector's fields of one of the model's edges: a latency (one Redis call's way).
pub fn edge_fields(kind: EdgeKind) -> &'static [Field] {
    match kind {
        EdgeKind::Add | EdgeKind::Work => super::kernel::WIRE,
    }
}

/// The faults one of the model's kinds takes: a producer adds a job that fails twice, floods
/// and crashes; a queue pauses;
/// a worker crashes (its jobs stall and come back), blocks its event loop, and slows down.
pub fn faults(kind: &BullmqKind) -> &'static [Fault] {
    match kind {
        BullmqKind::Queue(_) => &[Fault::PauseResume],
        BullmqKind::Producer(_) => &[Fault::FailingJob, Fault::Flood, Fault::CrashRestart],
        BullmqKind::Worker(_) => &[Fault::CrashRestart, Fault::PauseResume, Fault::Slow],
    }
}

/// A worker ten times slower (the Slow fault), as new settings.
pub fn slowed(spec: &NodeSpec, kind: &BullmqKind) -> Option<NodeSpec> {
    match kind {
        BullmqKind::Worker(w) => {
            let mut slow = w.clone();
            slow.processing_time = super::scaled(&w.processing_time, 10);
            Some(NodeSpec {
                kind: NodeKind::Bullmq(BullmqKind::Worker(slow)),
                ..spec.clone()
            })
        }
        BullmqKind::Queue(_) | BullmqKind::Producer(_) => None,
    }
}

/// Producers and queues send (adds, jobs to workers); workers do not.
pub fn sends(kind: &BullmqKind) -> bool {
    match kind {
        // A worker's handler writes stores and publishes.
        BullmqKind::Producer(_) | BullmqKind::Queue(_) | BullmqKind::Worker(_) => true,
    }
}

/// How one of the model's nodes is drawn: a queue as its seven lanes, each with its count and a
/// card per job (the next to be taken first; the newest finished first); a worker with its
/// slots; a producer with its adds.
pub fn face(
    kind: &BullmqKind,
    m: &NodeMetrics,
    c: (f64, f64),
    now: switchboard_core::SimTime,
) -> Face {
    let now_ms = now.0 / 1000;
    // Seconds from now to `ms`, for a countdown.
    let secs_to = |ms: u64| ms.saturating_sub(now_ms) as f64 / 1000.0;
    let (cx, cy) = c;
    match (kind, m.bullmq()) {
        (BullmqKind::Queue(_), Some(BullmqMetrics::Queue(q))) => {
            let (hw, hh) = half_size(kind);
            let x0 = cx - hw + 8.0;
            let top = cy - hh + LANES_TOP;
            let label_w = 58.0;
            let count_w = 24.0;
            let w = 2.0 * hw - 16.0 - label_w - count_w;
            let cw = w / CARDS as f64;
            let counts = [
                q.waiting,
                q.prioritized,
                q.delayed,
                q.active,
                q.completed,
                q.failed,
                q.waiting_children,
            ];
            let body = html! {
                <g class={classes!("lanes", q.paused.then_some("paused"))} data-paused={q.paused.to_string()}>
                    { for LANES.iter().enumerate().map(|(i, (label, class))| {
                        let y = top + i as f64 * LANE_H;
                        html! {
                            <g class={classes!("lane", *class)} data-lane={*label} data-count={counts[i].to_string()}>
                                <text class="lane-label" x={x0.to_string()} y={(y + LANE_H - 2.0).to_string()}>{ *label }</text>
                                { for q.lanes[i].iter().take(CARDS).enumerate().map(|(j, job)| {
                                    let x = x0 + label_w + j as f64 * cw;
                                    // An active job whose lock has lapsed (its worker crashed or
                                    // blocked) is drawn dashed until the checker moves it.
                                    let lapsed = job.lock_until_ms.is_some_and(|u| u <= now_ms);
                                    let when = match (job.due_ms, job.lock_until_ms) {
                                        (Some(due), _) => format!(", due in {:.1} s", secs_to(due)),
                                        (None, Some(_)) if lapsed => ", its lock lapsed: it has stalled".to_owned(),
                                        (None, Some(u)) => format!(", locked for {:.1} s more", secs_to(u)),
                                        (None, None) => String::new(),
                                    };
                                    html! {
                                        <>
                                        <rect class={classes!("card", (job.attempts_made > 0).then_some("retried"), lapsed.then_some("lapsed"))}
                                            data-job={job.id.clone()}
                                            x={(x + 0.5).to_string()} y={y.to_string()}
                                            width={(cw - 1.0).to_string()} height={(LANE_H - 1.5).to_string()}>
                                            <title>{ format!("job {} ({}), {} attempts made{when}", job.id, job.name, job.attempts_made) }</title>
                                        </rect>
                                        // An active job's progress: its processor's time so far.
                                        if let Some((from, to)) = job.processing_ms.filter(|_| !lapsed) {
                                            <rect class="card-progress" aria-hidden="true"
                                                x={(x + 0.5).to_string()} y={(y + LANE_H - 3.0).to_string()}
                                                width={((cw - 1.0) * (now_ms.saturating_sub(from) as f64 / to.saturating_sub(from).max(1) as f64).min(1.0)).to_string()}
                                                height="1.5" />
                                        }
                                        </>
                                    }
                                }) }
                                // The delayed lane counts down to its next job.
                                if let Some(due) = (i == 2 && q.lanes[2].len() < 8).then(|| q.lanes[2].first().and_then(|j| j.due_ms)).flatten() {
                                    <text class="lane-note" data-next-due={due.to_string()}
                                        x={(x0 + label_w + q.lanes[2].len().min(CARDS) as f64 * cw + 2.0).to_string()}
                                        y={(y + LANE_H - 2.0).to_string()}>{ format!("next in {:.1} s", secs_to(due)) }</text>
                                }
                                <text class="lane-count" x={(x0 + label_w + w + count_w - 2.0).to_string()} y={(y + LANE_H - 2.0).to_string()}>{ counts[i].to_string() }</text>
                            </g>
                        }
                    }) }
                </g>
            };
            let status = format!(
                "{}{} waiting, {} prioritized, {} delayed, {} active, {} completed, {} failed{}",
                if q.paused { "paused; " } else { "" },
                q.waiting,
                q.prioritized,
                q.delayed,
                q.active,
                q.completed,
                q.failed,
                if q.waiting_children > 0 {
                    format!(", {} waiting for children", q.waiting_children)
                } else {
                    String::new()
                }
            ) + &match (q.limiter_until_ms, q.limiter_window) {
                (Some(_), Some((max, ms))) => {
                    format!(
                        "; rate limiter: {} of {max} jobs in its {ms} ms window",
                        q.limiter
                    )
                }
                (Some(_), None) => format!("; rate limiter: {} jobs in its window", q.limiter),
                (None, _) => String::new(),
            };
            let subtitle = match (q.paused, q.limiter_until_ms) {
                (true, _) => "job queue · paused".to_owned(),
                // The limiter's window: a box per job it lets through, filled for each taken.
                (false, Some(_)) => match q.limiter_window {
                    Some((max, ms)) if max <= 10 => format!(
                        "limiter {}{} in {ms} ms",
                        "■".repeat(q.limiter.min(max) as usize),
                        "□".repeat(max.saturating_sub(q.limiter) as usize)
                    ),
                    Some((max, ms)) => format!("limiter {}/{max} in {ms} ms", q.limiter),
                    None => format!("job queue · limiter {} in window", q.limiter),
                },
                (false, None) => "job queue".to_owned(),
            };
            Face {
                shape: Shape::Box,
                subtitle,
                body,
                status,
            }
        }
        (BullmqKind::Worker(cfg), Some(BullmqMetrics::Worker(w))) => {
            let slots = w.slots.min(20);
            let x0 = cx - NODE_HALF_W + 8.0;
            let sw = (2.0 * NODE_HALF_W - 16.0) / f64::from(slots.max(1));
            let body = html! {
                <g class={classes!("slots", w.stuck.then_some("stuck"))} data-running={w.running.to_string()} data-slots={w.slots.to_string()}>
                    { for (0..slots).map(|i| html! {
                        <rect class={classes!("slot", (i < w.running).then_some("busy"))}
                            x={(x0 + f64::from(i) * sw + 0.5).to_string()} y={(cy + 12.0).to_string()}
                            width={(sw - 1.0).max(1.0).to_string()} height="6" />
                    }) }
                    <text class="counts" x={cx.to_string()} y={(cy + 29.0).to_string()}>
                        { format!("{} done · {} failed", w.stats.completed, w.stats.failed) }
                    </text>
                </g>
            };
            let state = if w.stuck {
                "event loop blocked".to_owned()
            } else if w.limited_until_ms.is_some() {
                "rate limited".to_owned()
            } else {
                format!("{}/{} running", w.running, w.slots)
            };
            Face {
                shape: Shape::Box,
                subtitle: format!("worker · {state}"),
                body,
                status: format!(
                    "worker, concurrency {}, {state}, {} completed, {} attempts failed, {} locks lost",
                    cfg.concurrency, w.stats.completed, w.stats.failed, w.stats.lost_locks
                ),
            }
        }
        (BullmqKind::Producer(cfg), Some(BullmqMetrics::Producer(p))) => Face {
            shape: Shape::Box,
            subtitle: format!("Queue.add · {}/s", cfg.rate_per_s),
            body: html! { <text class="counts" x={cx.to_string()} y={(cy + 22.0).to_string()}>{ format!("{} added", m.stats.published) }</text> },
            status: format!("{} jobs added ({} by its rate)", m.stats.published, p.added),
        },
        (BullmqKind::Queue(_) | BullmqKind::Producer(_) | BullmqKind::Worker(_), _) => Face {
            shape: Shape::Box,
            subtitle: kind.name().replace('_', " "),
            body: html! {},
            status: String::new(),
        },
    }
}

/// How a BullMQ edge reads from each end (see [`super::edge_phrases`]).
pub fn edge_phrases(kind: EdgeKind) -> (&'static str, &'static str) {
    match kind {
        EdgeKind::Add => ("adds jobs to", "takes jobs from"),
        EdgeKind::Work => ("is worked by", "works"),
    }
}

/// What a BullMQ edge is called.
pub fn edge_noun(kind: EdgeKind) -> &'static str {
    match kind {
        EdgeKind::Add => "add link",
        EdgeKind::Work => "worker link",
    }
}
