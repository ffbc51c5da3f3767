//! The BullMQ model's rules in runs, each a named case: the `[CT-BMQ-*]` cases through the
//! whole simulator, and the rules read from BullMQ 6.7's scripts (order of `wait`,
//! `prioritized` and promoted delayed jobs, attempts and backoff, the rate limiter's window,
//! stalled jobs, retention, duplicate ids, pause). Every run checks conservation and the
//! model's invariants (each job in exactly one set) after every event.

mod common;

use serde_json::{json, Value};
use switchboard_core::trace::event_json;
use switchboard_core::{Scenario, Sim, SimTime};

fn secs(s: f64) -> SimTime {
    SimTime((s * 1e6) as u64)
}

/// Runs `doc` to `until` seconds, checking conservation after every event; the trace as JSON.
fn trace(doc: Value, until: f64) -> (Vec<Value>, Sim) {
    let s = Scenario::from_json(&doc.to_string()).unwrap_or_else(|d| panic!("{d}"));
    let (events, sim) = common::run_events(&s, secs(until), true);
    let lines = events
        .iter()
        .map(|e| event_json(e, sim.topology()))
        .collect();
    (lines, sim)
}

fn of<'a>(lines: &'a [Value], ty: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["type"] == ty).collect()
}

fn ms(v: &Value) -> f64 {
    v["at_us"].as_u64().expect("at_us") as f64 / 1e3
}

/// The names of the jobs in the order workers took them (first attempts).
fn taken(lines: &[Value]) -> Vec<String> {
    of(lines, "active")
        .iter()
        .filter(|a| a["attempts_started"] == 1)
        .map(|a| a["name"].as_str().unwrap().to_owned())
        .collect()
}

/// One producer, one queue, one worker (concurrency 1 unless `worker` says), 1 ms links,
/// and `actions`. The queue is paused at 0 and resumed at 100 ms when `hold` is set, so
/// that every job is in place before the worker takes one.
fn doc(worker: Value, actions: Vec<Value>, hold: bool) -> Value {
    let mut acts = Vec::new();
    if hold {
        acts.push(json!({"at": "0ms", "do": "pause", "node": "q"}));
        acts.push(json!({"at": "100ms", "do": "resume", "node": "q"}));
    }
    acts.extend(actions);
    let mut w = json!({"processing_time": "10ms"});
    for (k, v) in worker.as_object().unwrap() {
        w[k] = v.clone();
    }
    json!({"version": 6, "seed": 7,
        "nodes": [
            {"id": "app", "kind": "job_producer"},
            {"id": "q", "kind": "job_queue"},
            {"id": "w", "kind": "worker", "config": w}],
        "edges": [{"from": "app", "to": "q", "latency": "1ms"}, {"from": "q", "to": "w", "latency": "1ms"}],
        "actions": acts})
}

/// A scripted `Queue.add(name, {}, opts)` at `at_ms`.
fn add(at_ms: u64, name: &str, opts: Value) -> Value {
    json!({"at": format!("{at_ms}ms"), "do": "publish", "node": "app",
           "message": {"job": {"name": name, "opts": opts}}})
}

/// [CT-BMQ-PRIO-1] A{prio 10}, B{prio 5}, C{prio 7}, D{no prio}, one worker of concurrency 1:
/// D, B, C, A. Every job without a priority goes before any with one.
#[test]
fn ct_bmq_prio_1_no_priority_first_then_lowest() {
    let (lines, _) = trace(
        doc(
            json!({}),
            vec![
                add(10, "A", json!({"priority": 10})),
                add(11, "B", json!({"priority": 5})),
                add(12, "C", json!({"priority": 7})),
                add(13, "D", json!({})),
            ],
            true,
        ),
        2.0,
    );
    assert_eq!(taken(&lines), ["D", "B", "C", "A"]);
    // A prioritized add says `waiting` (in `prioritized`), not `delayed`.
    let w = of(&lines, "waiting");
    assert_eq!(w[0]["list"], "prioritized");
    assert_eq!(w[3]["list"], "wait");
}

/// FIFO adds go to the tail of `wait`, LIFO adds to its head, equal priorities keep their
/// order, and a delayed job is promoted to the tail (whatever `lifo` says) when it is due.
#[test]
fn lifo_fifo_delayed_and_equal_priorities_in_the_order_bullmq_takes_them() {
    let (lines, _) = trace(
        doc(
            json!({}),
            vec![
                add(10, "fifo-1", json!({})),
                add(11, "fifo-2", json!({})),
                add(12, "lifo-1", json!({"lifo": true})),
                add(13, "lifo-2", json!({"lifo": true})),
                add(14, "fifo-3", json!({})),
                add(15, "delayed", json!({"delay": 30, "lifo": true})),
                add(16, "prio-5a", json!({"priority": 5})),
                add(17, "prio-1", json!({"priority": 1})),
                add(18, "prio-5b", json!({"priority": 5})),
            ],
            true,
        ),
        2.0,
    );
    assert_eq!(
        taken(&lines),
        [
            "lifo-2", "lifo-1", "fifo-1", "fifo-2", "fifo-3", "delayed", "prio-1", "prio-5a",
            "prio-5b"
        ]
    );
    // The delayed job's `delayed` event gives its due time: the producer called add at 15 ms
    // (its clock is the job's timestamp), plus 30 ms.
    let d = of(&lines, "delayed");
    assert_eq!(d.len(), 1);
    assert_eq!(d[0]["delay"], 45);
    // Promoted while the queue was paused (any fetch promotes), to the tail.
    let promoted = of(&lines, "waiting")
        .into_iter()
        .find(|w| w["prev"] == "delayed")
        .expect("promoted");
    assert!(ms(promoted) >= 45.0, "{promoted}");
}

/// [CT-BMQ-BACKOFF-1] attempts 5, exponential 1000 ms, always failing: retries 1000, 2000,
/// 4000 and 8000 ms after each failure, then `failed` and `retries_exhausted` with
/// attemptsMade 5. The worker says `worker_failed` after every attempt; the queue says
/// `failed` once.
#[test]
fn ct_bmq_backoff_1_exponential_retries_then_failed_and_exhausted() {
    let job = json!({"at": "10ms", "do": "publish", "node": "app",
        "message": {"job": {"name": "doomed", "fails": 99,
            "opts": {"attempts": 5, "backoff": {"type": "exponential", "delay": 1000}}}}});
    let (lines, _) = trace(doc(json!({}), vec![job], false), 30.0);
    let wf = of(&lines, "worker_failed");
    assert_eq!(wf.len(), 5, "a worker_failed per attempt");
    let backoffs: Vec<u64> = wf.iter().filter_map(|w| w["backoff"].as_u64()).collect();
    assert_eq!(backoffs, [1000, 2000, 4000, 8000]);
    // Each retry starts its backoff after the failure (plus the round trips to Redis).
    let active = of(&lines, "active");
    for (i, b) in backoffs.iter().enumerate() {
        let gap = ms(active[i + 1]) - ms(wf[i]);
        assert!(
            gap >= *b as f64 && gap <= *b as f64 + 5.0,
            "retry {i}: {gap} ms after a {b} ms backoff"
        );
    }
    let failed = of(&lines, "failed");
    assert_eq!(failed.len(), 1, "the queue's failed, once");
    assert_eq!(failed[0]["attempts_made"], 5);
    let ex = of(&lines, "retries_exhausted");
    assert_eq!(ex.len(), 1);
    assert_eq!(ex[0]["attempts_made"], 5);
    assert_eq!(of(&lines, "completed").len(), 0);
}

/// A job that fails twice and then succeeds, with a fixed backoff: two `delayed` retries,
/// then `completed` with attemptsMade 3; no queue `failed`. Without a backoff, a failed
/// attempt goes straight back to `wait` (`waiting`, prev `active`).
#[test]
fn a_job_that_fails_twice_then_completes_and_retries_without_backoff_are_immediate() {
    let job = |at: u64, name: &str, backoff: Value| {
        let mut opts = json!({"attempts": 3});
        if !backoff.is_null() {
            opts["backoff"] = backoff;
        }
        json!({"at": format!("{at}ms"), "do": "publish", "node": "app",
            "message": {"job": {"name": name, "fails": 2, "opts": opts}}})
    };
    let (lines, _) = trace(
        doc(
            json!({}),
            vec![job(10, "fixed", json!(300)), job(2000, "now", Value::Null)],
            false,
        ),
        5.0,
    );
    let done = of(&lines, "completed");
    assert_eq!(done.len(), 2);
    assert!(done.iter().all(|d| d["attempts_made"] == 3));
    assert!(of(&lines, "failed").is_empty());
    let fixed: Vec<_> = of(&lines, "worker_failed")
        .into_iter()
        .filter(|w| w["name"] == "fixed")
        .collect();
    assert!(fixed
        .iter()
        .all(|w| w["then"] == "delayed" && w["backoff"] == 300));
    let now: Vec<_> = of(&lines, "worker_failed")
        .into_iter()
        .filter(|w| w["name"] == "now")
        .collect();
    assert_eq!(now.len(), 2);
    assert!(now.iter().all(|w| w["then"] == "waiting"));
    let back = of(&lines, "waiting")
        .into_iter()
        .filter(|w| w["name"] == "now" && w["prev"] == "active")
        .count();
    assert_eq!(back, 2);
}

/// An `UnrecoverableError` fails the job at once whatever `attempts` says, without
/// `retries_exhausted`; a job without `attempts` that fails says `retries_exhausted` (BullMQ
/// compares attemptsMade with attempts, 0 by default).
#[test]
fn unrecoverable_errors_fail_at_once_and_attempts_default_to_one() {
    let (lines, _) = trace(
        doc(
            json!({}),
            vec![
                json!({"at": "10ms", "do": "publish", "node": "app",
                    "message": {"job": {"name": "fatal", "unrecoverable": true, "opts": {"attempts": 5, "backoff": 10}}}}),
                json!({"at": "500ms", "do": "publish", "node": "app",
                    "message": {"job": {"name": "once", "fails": 1}}}),
            ],
            false,
        ),
        2.0,
    );
    let failed = of(&lines, "failed");
    assert_eq!(failed.len(), 2);
    assert_eq!(failed[0]["name"], "fatal");
    assert_eq!(failed[0]["attempts_made"], 1);
    assert_eq!(failed[0]["failed_reason"], "UnrecoverableError");
    let ex: Vec<_> = of(&lines, "retries_exhausted")
        .into_iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(ex, ["once"]);
}

/// [CT-BMQ-RL-1] limiter max 2 per 1000 ms, 5 ready jobs at 0: 2 start at once, 2 a window
/// later, 1 two windows later, whatever the worker's concurrency.
#[test]
fn ct_bmq_rl_1_a_fixed_window_over_the_queue() {
    let adds = (0..5)
        .map(|i| add(10 + i, &format!("j{i}"), json!({})))
        .collect();
    let (lines, _) = trace(
        doc(
            json!({"concurrency": 5, "limiter": {"max": 2, "duration": 1000}}),
            adds,
            true,
        ),
        4.0,
    );
    let starts: Vec<f64> = of(&lines, "active").iter().map(|a| ms(a)).collect();
    assert_eq!(starts.len(), 5);
    let first = starts[0];
    let windows: Vec<u64> = starts
        .iter()
        .map(|s| ((s - first) / 1000.0).floor() as u64)
        .collect();
    assert_eq!(windows, [0, 0, 1, 1, 2], "{starts:?}");
    assert!(!of(&lines, "rate_limited").is_empty());
}

/// Concurrency: a worker runs at most `concurrency` jobs at once; a queue's global
/// concurrency caps all workers together.
#[test]
fn worker_and_global_concurrency_cap_the_jobs_running() {
    let running_max = |lines: &[Value]| {
        let mut events: Vec<(f64, i32)> = of(lines, "active")
            .iter()
            .map(|a| (ms(a), 1))
            .chain(of(lines, "completed").iter().map(|c| (ms(c), -1)))
            .collect();
        events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut n = 0;
        let mut max = 0;
        for (_, d) in events {
            n += d;
            max = max.max(n);
        }
        max
    };
    let adds: Vec<Value> = (0..20)
        .map(|i| add(10, &format!("j{i}"), json!({})))
        .collect();
    let (lines, _) = trace(
        doc(
            json!({"concurrency": 3, "processing_time": "100ms"}),
            adds.clone(),
            true,
        ),
        3.0,
    );
    assert_eq!(of(&lines, "completed").len(), 20);
    assert_eq!(running_max(&lines), 3);
    let mut d = doc(
        json!({"concurrency": 3, "processing_time": "100ms"}),
        adds,
        true,
    );
    d["nodes"][1]["config"] = json!({"globalConcurrency": 2});
    d["nodes"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "w2", "kind": "worker", "config": {"concurrency": 3, "processing_time": "100ms"}}));
    d["edges"]
        .as_array_mut()
        .unwrap()
        .push(json!({"from": "q", "to": "w2", "latency": "1ms"}));
    let (lines, _) = trace(d, 5.0);
    assert_eq!(of(&lines, "completed").len(), 20);
    assert_eq!(running_max(&lines), 2, "two workers, global concurrency 2");
}

/// A worker crashes mid-job: its lock expires after `lockDuration`, the next stalled check
/// moves the job to the head of `wait` (`waiting` then `stalled`), and another worker
/// completes it. Stalling more than `maxStalledCount` times fails the job when it is next
/// picked up, with BullMQ's reason.
#[test]
fn a_crashed_workers_job_stalls_and_comes_back_and_stalling_too_often_fails_it() {
    let mut d = doc(
        json!({"processing_time": "5s", "lockDuration": 1000, "stalledInterval": 500}),
        vec![
            add(10, "slow", json!({})),
            json!({"at": "1s", "do": "crash", "node": "w"}),
        ],
        false,
    );
    d["nodes"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "w2", "kind": "worker",
        "config": {"processing_time": "100ms", "lockDuration": 1000, "stalledInterval": 500}}));
    d["edges"]
        .as_array_mut()
        .unwrap()
        .push(json!({"from": "q", "to": "w2", "latency": "1ms"}));
    let (lines, _) = trace(d, 5.0);
    let stalled = of(&lines, "stalled");
    assert_eq!(stalled.len(), 1, "{stalled:?}");
    // The lock (taken at ~12 ms, 1000 ms) expired; a check found it marked and expired.
    assert!(
        ms(stalled[0]) >= 1012.0 && ms(stalled[0]) <= 2100.0,
        "{}",
        stalled[0]
    );
    let i = lines.iter().position(|l| l == stalled[0]).unwrap();
    assert_eq!(lines[i - 1]["type"], "waiting", "waiting, then stalled");
    assert_eq!(lines[i - 1]["prev"], "active");
    let done = of(&lines, "completed");
    assert_eq!(done.len(), 1);
    assert_eq!(done[0]["worker"], "w2");
    assert_eq!(done[0]["attempts_made"], 1, "a stall is not an attempt");

    // maxStalledCount 0: the first stall is one too many. The job is failed by the next
    // worker that picks it up, without running.
    let mut d = doc(
        json!({"processing_time": "5s", "lockDuration": 1000, "stalledInterval": 500, "maxStalledCount": 0}),
        vec![
            add(10, "slow", json!({"attempts": 3})),
            json!({"at": "1s", "do": "crash", "node": "w"}),
        ],
        false,
    );
    d["nodes"].as_array_mut().unwrap().push(json!({"id": "w2", "kind": "worker",
        "config": {"processing_time": "100ms", "lockDuration": 1000, "stalledInterval": 500, "maxStalledCount": 0}}));
    d["edges"]
        .as_array_mut()
        .unwrap()
        .push(json!({"from": "q", "to": "w2", "latency": "1ms"}));
    let (lines, _) = trace(d, 5.0);
    let failed = of(&lines, "failed");
    assert_eq!(failed.len(), 1);
    assert_eq!(
        failed[0]["failed_reason"],
        "job stalled more than allowable limit"
    );
    assert!(of(&lines, "completed").is_empty());
}

/// A worker whose event loop is blocked longer than `lockDuration` cannot renew its lock:
/// the job stalls, another worker takes it, and the first worker's late finish is refused
/// (`lock_missing`); the job completes once.
#[test]
fn a_blocked_event_loop_loses_its_lock_and_its_late_finish_is_refused() {
    let mut d = doc(
        json!({"processing_time": "200ms", "lockDuration": 1000, "stalledInterval": 500}),
        vec![
            add(10, "job", json!({})),
            json!({"at": "50ms", "do": "pause", "node": "w"}),
            json!({"at": "4s", "do": "resume", "node": "w"}),
        ],
        false,
    );
    d["nodes"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "w2", "kind": "worker",
        "config": {"processing_time": "100ms", "lockDuration": 1000, "stalledInterval": 500}}));
    d["edges"]
        .as_array_mut()
        .unwrap()
        .push(json!({"from": "q", "to": "w2", "latency": "1ms"}));
    let (lines, sim) = trace(d, 6.0);
    assert_eq!(of(&lines, "stalled").len(), 1);
    let done = of(&lines, "completed");
    assert_eq!(done.len(), 1);
    assert_eq!(done[0]["worker"], "w2");
    let missing = of(&lines, "lock_missing");
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0]["worker"], "w");
    assert!(ms(missing[0]) >= 4000.0);
    sim.check_conservation().expect("conserved");
}

/// Locks are renewed while a job runs: a job longer than `lockDuration` on a healthy worker
/// never stalls.
#[test]
fn renewed_locks_keep_a_long_job_from_stalling() {
    let (lines, _) = trace(
        doc(
            json!({"processing_time": "5s", "lockDuration": 1000, "stalledInterval": 300}),
            vec![add(10, "long", json!({}))],
            false,
        ),
        7.0,
    );
    assert!(of(&lines, "stalled").is_empty());
    assert_eq!(of(&lines, "completed").len(), 1);
}

/// `removeOnComplete: 2` keeps the two newest completed jobs; `true` keeps none; a job that
/// fails for good is kept in `failed` unless `removeOnFail` says otherwise.
#[test]
fn finished_jobs_are_kept_as_remove_on_complete_and_remove_on_fail_say() {
    let adds: Vec<Value> = (0..5)
        .map(|i| add(10 + i, &format!("j{i}"), json!({"removeOnComplete": 2})))
        .chain((0..3).map(|i| {
            json!({"at": format!("{}ms", 20 + i), "do": "publish", "node": "app",
                "message": {"job": {"name": format!("bad{i}"), "fails": 9, "opts": {"removeOnFail": i == 0}}}})
        }))
        .collect();
    let (_, sim) = trace(doc(json!({}), adds, true), 3.0);
    let m = sim.metrics();
    let Some(switchboard_core::bullmq::BullmqMetrics::Queue(q)) = m.nodes[1].bullmq() else {
        panic!("a queue's metrics")
    };
    assert_eq!((q.completed, q.failed), (2, 2), "{q:?}");
    assert_eq!(q.stats.completed, 5);
    let kept: Vec<&str> = q.lanes[4].iter().map(|j| j.name.as_str()).collect();
    assert_eq!(kept, ["j4", "j3"], "the newest first");
}

/// An add with the `jobId` of a job the queue has is ignored (`duplicated`, its message
/// ends), and the counter behind automatic ids moved anyway.
#[test]
fn a_duplicate_job_id_is_ignored_and_auto_ids_skip() {
    let (lines, _) = trace(
        doc(
            json!({}),
            vec![
                add(10, "a", json!({"jobId": "order-1"})),
                add(11, "b", json!({"jobId": "order-1"})),
                add(12, "c", json!({})),
            ],
            true,
        ),
        2.0,
    );
    let dup = of(&lines, "duplicated");
    assert_eq!(dup.len(), 1);
    assert_eq!(dup[0]["job"], "order-1");
    let added: Vec<&str> = of(&lines, "added")
        .iter()
        .map(|a| a["job"].as_str().unwrap())
        .collect();
    assert_eq!(added, ["order-1", "3"]);
    assert_eq!(of(&lines, "completed").len(), 2);
    let dropped = of(&lines, "dropped");
    assert_eq!(dropped.len(), 1);
    assert_eq!(dropped[0]["reason"], "duplicate_job");
}

/// `drained` when a finish leaves nothing at all; not while a delayed job waits.
#[test]
fn drained_only_when_nothing_is_left_not_while_a_job_is_delayed() {
    let (lines, _) = trace(
        doc(
            json!({}),
            vec![
                add(10, "now", json!({})),
                add(11, "later", json!({"delay": 500})),
            ],
            false,
        ),
        2.0,
    );
    let drained = of(&lines, "drained");
    assert_eq!(drained.len(), 1, "{drained:?}");
    let later = of(&lines, "completed")
        .into_iter()
        .find(|c| c["name"] == "later")
        .expect("completed");
    assert!(ms(drained[0]) >= ms(later));
}

/// Deduplication: simple mode ignores adds with the same id while the first job lives and
/// takes them once it has finished; throttle mode (`ttl`) ignores them for the ttl even after
/// the job finished; `extend` restarts the ttl with every ignored add; `replace` with a delay
/// (debounce) keeps only the latest add, removing the delayed one it replaces.
#[test]
fn deduplication_simple_throttle_extend_and_debounce() {
    let dedup = |at: u64, name: &str, d: Value, delay: Option<u64>| {
        let mut o = json!({"deduplication": d});
        if let Some(ms) = delay {
            o["delay"] = json!(ms);
        }
        add(at, name, o)
    };
    let run =
        |adds: Vec<Value>| trace(doc(json!({"processing_time": "100ms"}), adds, false), 5.0).0;
    let ran = |lines: &[Value]| -> Vec<String> {
        of(lines, "completed")
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .collect()
    };
    // Simple: b is ignored while a runs; c, after a completed, is taken.
    let lines = run(vec![
        dedup(10, "a", json!({"id": "x"}), None),
        dedup(50, "b", json!({"id": "x"}), None),
        dedup(500, "c", json!({"id": "x"}), None),
    ]);
    assert_eq!(ran(&lines), ["a", "c"]);
    let d = of(&lines, "deduplicated");
    assert_eq!(d.len(), 1);
    assert_eq!(
        (d[0]["name"].as_str(), d[0]["deduplication_id"].as_str()),
        (Some("a"), Some("x"))
    );
    assert_eq!(of(&lines, "dropped")[0]["reason"], "deduplicated");
    // Throttle: a ttl of 1 s holds after a completed; c at 500 ms is ignored, d at 1.2 s taken.
    let lines = run(vec![
        dedup(10, "a", json!({"id": "x", "ttl": 1000}), None),
        dedup(500, "c", json!({"id": "x", "ttl": 1000}), None),
        dedup(1200, "d", json!({"id": "x", "ttl": 1000}), None),
    ]);
    assert_eq!(ran(&lines), ["a", "d"]);
    // Extend: every ignored add restarts the ttl, so d at 1.2 s is ignored too (the ttl ran
    // from c at 0.5 s), and e at 2.6 s is taken.
    let lines = run(vec![
        dedup(
            10,
            "a",
            json!({"id": "x", "ttl": 1000, "extend": true}),
            None,
        ),
        dedup(
            500,
            "c",
            json!({"id": "x", "ttl": 1000, "extend": true}),
            None,
        ),
        dedup(
            1200,
            "d",
            json!({"id": "x", "ttl": 1000, "extend": true}),
            None,
        ),
        dedup(
            2600,
            "e",
            json!({"id": "x", "ttl": 1000, "extend": true}),
            None,
        ),
    ]);
    assert_eq!(ran(&lines), ["a", "e"]);
    // Debounce: three adds 100 ms apart with a 300 ms delay: each replaces the delayed one.
    let deb = json!({"id": "x", "ttl": 300, "extend": true, "replace": true});
    let lines = run(vec![
        dedup(10, "a", deb.clone(), Some(300)),
        dedup(110, "b", deb.clone(), Some(300)),
        dedup(210, "c", deb, Some(300)),
    ]);
    assert_eq!(ran(&lines), ["c"]);
    let removed: Vec<&str> = of(&lines, "removed")
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(removed, ["a", "b"]);
    let reasons: Vec<&str> = of(&lines, "dropped")
        .iter()
        .map(|d| d["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["job_removed", "job_removed"]);
}

/// A job scheduler with `every`: its first job at once, the next made when a worker takes the
/// one before, `every` after it (300, 600, 900 ms: not aligned to multiples of 300, as real
/// BullMQ ran it), up to `limit`; a worker too slow for the schedule skips the slots that have
/// passed, and the next job goes to the next slot after now.
#[test]
fn a_job_scheduler_every_300_ms_with_a_limit_and_skipped_slots() {
    let sched = |processing: &str| {
        json!({"version": 6, "seed": 1,
            "nodes": [
                {"id": "app", "kind": "job_producer", "config": {"name": "tick",
                    "scheduler": {"id": "ticker", "every": 300, "limit": 4}}},
                {"id": "q", "kind": "job_queue"},
                {"id": "w", "kind": "worker", "config": {"processing_time": processing}}],
            "edges": [{"from": "app", "to": "q", "latency": "1ms"}, {"from": "q", "to": "w", "latency": "1ms"}]})
    };
    let (lines, _) = trace(sched("10ms"), 5.0);
    let ids: Vec<&str> = of(&lines, "added")
        .iter()
        .map(|a| a["job"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "repeat:ticker:1",
            "repeat:ticker:301",
            "repeat:ticker:601",
            "repeat:ticker:901"
        ]
    );
    let starts: Vec<f64> = of(&lines, "active").iter().map(|a| ms(a)).collect();
    assert_eq!(starts.len(), 4, "the limit");
    for (i, s) in starts.iter().enumerate() {
        let due = 1.0 + 300.0 * i as f64;
        assert!(*s >= due && *s < due + 10.0, "job {i} at {s}, due {due}");
    }
    // 700 ms jobs: the second (due 301) is taken at ~703; 601 has passed, so the third goes
    // to the next slot after now (901); and so on.
    let (lines, _) = trace(sched("700ms"), 5.0);
    let ids: Vec<&str> = of(&lines, "added")
        .iter()
        .map(|a| a["job"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "repeat:ticker:1",
            "repeat:ticker:301",
            "repeat:ticker:901",
            "repeat:ticker:1501"
        ]
    );
}

/// A flow: producer `app` adds parents to `q` (worked by `w`), each with `children` (in `cq`,
/// worked by `cw`, concurrency 1); producer `other` adds plain jobs to `q`. 1 ms links, 10 ms
/// attempts.
fn flow_doc(parent_opts: Value, children: Value, actions: Vec<Value>) -> Value {
    json!({"version": 6, "seed": 3,
        "nodes": [
            {"id": "app", "kind": "job_producer", "config": {"name": "parent", "opts": parent_opts,
                "children": children}},
            {"id": "other", "kind": "job_producer"},
            {"id": "q", "kind": "job_queue"},
            {"id": "cq", "kind": "job_queue"},
            {"id": "w", "kind": "worker", "config": {"processing_time": "10ms"}},
            {"id": "cw", "kind": "worker", "config": {"processing_time": "10ms"}}],
        "edges": [
            {"from": "app", "to": "q", "latency": "1ms"},
            {"from": "other", "to": "q", "latency": "1ms"},
            {"from": "q", "to": "w", "latency": "1ms"},
            {"from": "cq", "to": "cw", "latency": "1ms"}],
        "actions": actions})
}

fn child(name: &str, extra: Value) -> Value {
    let mut c = json!({"name": name, "queueName": "cq"});
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

/// The events about the job named `name`, as (type, at ms).
fn life<'a>(lines: &'a [Value], name: &str) -> Vec<(&'a str, f64)> {
    lines
        .iter()
        .filter(|l| l["name"] == name && l["job"].is_string())
        .map(|l| (l["type"].as_str().unwrap(), ms(l)))
        .collect()
}

/// A flow's parent is added to `waiting-children` before its children (each added with its
/// parent's id); when the last child completes, the parent's `waiting` (prev
/// waiting-children) comes before that child's `completed`, and it goes to the head of
/// `wait`: before jobs that were waiting already.
#[test]
fn a_flow_parent_waits_for_its_children_then_goes_to_the_head_of_wait() {
    let (lines, sim) = trace(
        flow_doc(
            json!({}),
            json!([child("c1", json!({})), child("c2", json!({}))]),
            vec![
                json!({"at": "0ms", "do": "pause", "node": "q"}),
                json!({"at": "0ms", "do": "publish", "node": "app"}),
                json!({"at": "2ms", "do": "publish", "node": "other", "message": {"job": {"name": "x"}}}),
                json!({"at": "3ms", "do": "publish", "node": "other", "message": {"job": {"name": "y"}}}),
                json!({"at": "100ms", "do": "resume", "node": "q"}),
            ],
        ),
        1.0,
    );
    let added = of(&lines, "added");
    let names: Vec<&str> = added.iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["parent", "c1", "c2", "x", "y"]);
    let parent_id = added[0]["job"].as_str().unwrap();
    // A UUID v4, as the flow producer makes.
    assert_eq!(parent_id.len(), 36, "{parent_id}");
    assert_eq!(&parent_id[14..15], "4", "{parent_id}");
    assert_eq!(added[1]["parent"], parent_id);
    assert_eq!(added[2]["parent"], parent_id);
    assert!(added[0].get("parent").is_none());
    let wc = of(&lines, "waiting_children");
    assert_eq!(wc.len(), 1);
    assert_eq!(wc[0]["children"], 2);
    assert_eq!(wc[0]["job"], parent_id);
    // The parent's waiting, from waiting-children, just before c2's completed.
    let i_wait = lines
        .iter()
        .position(|l| l["type"] == "waiting" && l["job"] == parent_id)
        .expect("the parent waits");
    assert_eq!(lines[i_wait]["prev"], "waiting-children");
    let i_c2 = lines
        .iter()
        .position(|l| l["type"] == "completed" && l["name"] == "c2")
        .expect("c2 completes");
    assert!(i_wait < i_c2, "the parent's waiting comes first");
    assert!(
        ms(&lines[i_wait]) < 100.0,
        "the children are done while q is paused"
    );
    // The head of wait: taken before x and y, which waited longer.
    let order: Vec<&str> = of(&lines, "active")
        .iter()
        .filter(|a| a["queue"] == "q")
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["parent", "x", "y"]);
    let m = sim.metrics();
    assert_eq!(m.messages.consumed, 5);
    assert_eq!(
        of(&lines, "completed").len(),
        5,
        "the parent, its two children and x and y"
    );
}

/// A parent with its own delay waits that long after its last child, counted from then.
#[test]
fn a_flow_parent_with_a_delay_counts_it_from_its_last_child() {
    let (lines, _) = trace(
        flow_doc(
            json!({"delay": 500}),
            json!([child("c1", json!({}))]),
            vec![json!({"at": "0ms", "do": "publish", "node": "app"})],
        ),
        2.0,
    );
    let c1_done = ms(of(&lines, "completed")
        .iter()
        .find(|c| c["name"] == "c1")
        .unwrap());
    let delayed = of(&lines, "delayed");
    assert_eq!(delayed.len(), 1);
    assert_eq!(delayed[0]["name"], "parent");
    let due = delayed[0]["delay"].as_u64().unwrap() as f64;
    assert_eq!(due, c1_done.floor() + 500.0);
    let start = ms(of(&lines, "active")
        .iter()
        .find(|a| a["name"] == "parent")
        .unwrap());
    assert!(start >= due && start < due + 10.0, "{start} vs {due}");
}

/// A child's final failure, by its options: by default the parent waits for ever;
/// `failParentOnFailure` fails the parent when a worker picks it up (it does not run);
/// `continueParentOnFailure` starts the parent at once, and its completion, with a sibling
/// still pending, is refused and fails it; `ignoreDependencyOnFailure` and
/// `removeDependencyOnFailure` let the parent run once the other children are done.
#[test]
fn a_childs_final_failure_does_what_its_options_say() {
    let run = |opts: Value| {
        let mut bad = json!({"fails": 1});
        for (k, v) in opts.as_object().unwrap() {
            bad[k] = v.clone();
        }
        trace(
            flow_doc(
                json!({}),
                json!([
                    child("bad", bad),
                    child("late", json!({"opts": {"delay": 1000}}))
                ]),
                vec![json!({"at": "0ms", "do": "publish", "node": "app"})],
            ),
            3.0,
        )
    };
    // None: the parent never leaves waiting-children.
    let (lines, sim) = run(json!({}));
    assert_eq!(
        life(&lines, "parent"),
        [("added", 1.0), ("waiting_children", 1.0)]
    );
    assert_eq!(of(&lines, "failed").len(), 1, "the child only");
    let m = sim.metrics();
    let Some(switchboard_core::bullmq::BullmqMetrics::Queue(q)) = m.nodes[2].bullmq() else {
        panic!("q is a queue")
    };
    assert_eq!(q.waiting_children, 1);
    assert_eq!(q.lanes[6].len(), 1);

    // failParentOnFailure: at once to wait, failed when taken, with the child's reason.
    let (lines, _) = run(json!({"opts": {"failParentOnFailure": true}}));
    let parent: Vec<&str> = life(&lines, "parent").iter().map(|e| e.0).collect();
    assert_eq!(
        parent,
        [
            "added",
            "waiting_children",
            "waiting",
            "active",
            "failed",
            "retries_exhausted",
            "worker_failed"
        ]
    );
    let failed = of(&lines, "failed");
    let pf = failed.iter().find(|f| f["name"] == "parent").unwrap();
    let bad = failed.iter().find(|f| f["name"] == "bad").unwrap();
    // BullMQ's deferred failure names the child by its Redis key.
    assert_eq!(
        pf["failed_reason"],
        format!("child bull:cq:{} failed", bad["job"].as_str().unwrap())
    );
    let bad_failed = ms(bad);
    assert!(ms(pf) < bad_failed + 10.0, "it does not run its 10 ms");
    // The late sibling still runs, later, for nothing.
    assert!(of(&lines, "completed").iter().any(|c| c["name"] == "late"));

    // continueParentOnFailure: the parent starts at once; its completion is refused.
    let (lines, _) = run(json!({"opts": {"continueParentOnFailure": true}}));
    let parent: Vec<&str> = life(&lines, "parent").iter().map(|e| e.0).collect();
    assert_eq!(
        parent,
        [
            "added",
            "waiting_children",
            "waiting",
            "active",
            "pending_dependencies",
            "failed",
            "retries_exhausted",
            "worker_failed"
        ]
    );
    let pf = of(&lines, "failed")
        .into_iter()
        .find(|f| f["name"] == "parent")
        .unwrap();
    assert_eq!(
        pf["failed_reason"],
        format!(
            "Job {} has pending dependencies. moveToFinished",
            pf["job"].as_str().unwrap()
        )
    );
    assert!(ms(pf) < 1000.0, "before the late child is due");

    // ignoreDependencyOnFailure and removeDependencyOnFailure: after the late child.
    for opt in ["ignoreDependencyOnFailure", "removeDependencyOnFailure"] {
        let (lines, _) = run(json!({"opts": {opt: true}}));
        let late_done = ms(of(&lines, "completed")
            .iter()
            .find(|c| c["name"] == "late")
            .unwrap());
        let parent = life(&lines, "parent");
        let kinds: Vec<&str> = parent.iter().map(|e| e.0).collect();
        assert_eq!(
            kinds,
            [
                "added",
                "waiting_children",
                "waiting",
                "active",
                "completed"
            ],
            "{opt}"
        );
        assert!(parent[2].1 >= late_done, "{opt}: waits for the late child");
    }
}

/// Nested flows: a child with children of its own waits for them, and a failure with
/// `failParentOnFailure` at every level fails the grandparent too, each when picked up.
#[test]
fn a_nested_flow_fails_upwards_with_fail_parent_on_failure() {
    let (lines, _) = trace(
        flow_doc(
            json!({}),
            json!([child(
                "mid",
                json!({"opts": {"failParentOnFailure": true},
                "children": [child("leaf", json!({"fails": 1, "opts": {"failParentOnFailure": true}}))]})
            )]),
            vec![json!({"at": "0ms", "do": "publish", "node": "app"})],
        ),
        2.0,
    );
    let names: Vec<&str> = of(&lines, "added")
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["parent", "mid", "leaf"]);
    assert_eq!(of(&lines, "waiting_children").len(), 2);
    let id = |name: &str| {
        of(&lines, "added")
            .iter()
            .find(|a| a["name"] == name)
            .unwrap()["job"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let failed: Vec<(String, String)> = of(&lines, "failed")
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_owned(),
                f["failed_reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        failed,
        [
            ("leaf".to_owned(), "processor error".to_owned()),
            (
                "mid".to_owned(),
                format!("child bull:cq:{} failed", id("leaf"))
            ),
            (
                "parent".to_owned(),
                format!("child bull:cq:{} failed", id("mid"))
            )
        ]
    );
}

/// A cron pattern (six fields, seconds first): each job due at the pattern's next match after
/// the last one was taken, ids `repeat:<id>:<ms>`; in a time zone the same pattern matches at
/// another instant; `immediately` makes the first job at once.
#[test]
fn a_job_scheduler_with_a_cron_pattern_and_a_time_zone() {
    let sched = |scheduler: Value| {
        json!({"version": 6, "seed": 1,
            "nodes": [
                {"id": "app", "kind": "job_producer", "config": {"name": "tick", "scheduler": scheduler}},
                {"id": "q", "kind": "job_queue"},
                {"id": "w", "kind": "worker", "config": {"processing_time": "10ms"}}],
            "edges": [{"from": "app", "to": "q", "latency": "1ms"}, {"from": "q", "to": "w", "latency": "1ms"}]})
    };
    let ids = |lines: &[Value]| -> Vec<String> {
        of(lines, "added")
            .iter()
            .map(|a| a["job"].as_str().unwrap().to_owned())
            .collect()
    };
    let (lines, _) = trace(
        sched(json!({"id": "c", "pattern": "*/2 * * * * *", "limit": 3})),
        10.0,
    );
    assert_eq!(
        ids(&lines),
        ["repeat:c:2000", "repeat:c:4000", "repeat:c:6000"]
    );
    let starts: Vec<f64> = of(&lines, "active").iter().map(|a| ms(a)).collect();
    assert_eq!(starts.len(), 3);
    for (i, s) in starts.iter().enumerate() {
        let due = 2000.0 * (i + 1) as f64;
        assert!(*s >= due && *s < due + 10.0, "job {i} at {s}, due {due}");
    }
    // 09:00 every day: in UTC the first is at 9 h; in Tokyo (UTC+9, no daylight saving in
    // 1970) 09:00 on 1 January was midnight UTC, already past, so the next day's.
    let (lines, _) = trace(
        sched(json!({"id": "d", "pattern": "0 9 * * *", "limit": 1})),
        1.0,
    );
    assert_eq!(ids(&lines), ["repeat:d:32400000"]);
    let (lines, _) = trace(
        sched(json!({"id": "d", "pattern": "0 9 * * *", "tz": "Asia/Tokyo", "limit": 1})),
        1.0,
    );
    assert_eq!(ids(&lines), ["repeat:d:86400000"]);
    // `immediately`: the first job now (1 ms: the upsert's link), the next at the pattern's.
    let (lines, _) = trace(
        sched(json!({"id": "e", "pattern": "*/5 * * * * *", "immediately": true, "limit": 2})),
        10.0,
    );
    assert_eq!(ids(&lines), ["repeat:e:1", "repeat:e:5000"]);
}
