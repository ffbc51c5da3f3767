//! What each `docs/examples/bullmq-*.json` says it shows, as numbers from the run.

mod common;

use serde_json::Value;
use switchboard_core::trace::event_json;
use switchboard_core::SimTime;

fn run(file: &str, until_s: u64) -> Vec<Value> {
    let s = common::example(file);
    let (events, sim) = common::run_events(&s, SimTime(until_s * 1_000_000), true);
    events
        .iter()
        .map(|e| event_json(e, sim.topology()))
        .collect()
}

fn of<'a>(lines: &'a [Value], ty: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["type"] == ty).collect()
}

fn named<'a>(lines: &'a [Value], ty: &str, name: &str) -> Vec<&'a Value> {
    of(lines, ty)
        .into_iter()
        .filter(|l| l["name"] == name)
        .collect()
}

fn ms(v: &Value) -> f64 {
    v["at_us"].as_u64().unwrap() as f64 / 1e3
}

#[test]
fn order_lifo_then_fifo_then_the_promoted_delayed_job_then_priorities() {
    let lines = run("bullmq-order.json", 10);
    let order: Vec<&str> = of(&lines, "active")
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        ["lifo-2", "lifo-1", "fifo-1", "fifo-2", "fifo-3", "later", "urgent", "normal"]
    );
    // The delayed job was promoted while the queue was paused, before the resume at 1 s.
    let promoted = of(&lines, "waiting")
        .into_iter()
        .find(|w| w["prev"] == "delayed")
        .expect("promoted");
    assert!(ms(promoted) < 1000.0, "{promoted}");
}

#[test]
fn retries_back_off_exponentially_and_unrecoverable_errors_do_not_retry() {
    let lines = run("bullmq-retries-and-backoff.json", 60);
    // The report job: two failures, backoffs of 1 s and 2 s (no jitter), then completed.
    let failed: Vec<u64> = named(&lines, "worker_failed", "report")
        .iter()
        .map(|w| w["backoff"].as_u64().unwrap())
        .collect();
    assert_eq!(failed, [1000, 2000]);
    let done = named(&lines, "completed", "report");
    assert_eq!(done.len(), 1);
    assert_eq!(done[0]["attempts_made"], 3);
    // The fragile job fails at once, without retries exhausted.
    let fragile = named(&lines, "failed", "fragile");
    assert_eq!(fragile.len(), 1);
    assert_eq!(fragile[0]["attempts_made"], 1);
    assert_eq!(fragile[0]["failed_reason"], "UnrecoverableError");
    assert!(named(&lines, "retries_exhausted", "fragile").is_empty());
    // The emails: every first failure backs off 1 s less up to 30 % jitter; a second, 2 s
    // less up to 30 %; some fail a third time and are exhausted.
    for w in named(&lines, "worker_failed", "send-email") {
        match (w["attempts_made"].as_u64(), w["backoff"].as_u64()) {
            (Some(1), Some(b)) => assert!((700..1000).contains(&b), "{w}"),
            (Some(2), Some(b)) => assert!((1400..2000).contains(&b), "{w}"),
            (Some(3), None) => assert_eq!(w["then"], "failed"),
            other => panic!("{other:?}: {w}"),
        }
    }
    let exhausted = named(&lines, "retries_exhausted", "send-email").len();
    assert!(exhausted >= 1, "some emails fail three times");
    assert_eq!(
        named(&lines, "failed", "send-email").len(),
        exhausted,
        "each final failure is exhausted"
    );
}

#[test]
fn rate_limit_ten_jobs_per_fixed_window_over_both_workers() {
    let lines = run("bullmq-rate-limit.json", 10);
    let starts: Vec<f64> = of(&lines, "active").iter().map(|a| ms(a)).collect();
    assert_eq!(starts.len(), 20);
    let first = starts[0];
    let window = |s: &f64| ((s - first) / 1000.0).floor() as usize;
    let mut per = [0; 3];
    for s in &starts {
        per[window(s)] += 1;
    }
    assert_eq!(per, [10, 10, 0], "{starts:?}");
    let workers: std::collections::BTreeSet<&str> = of(&lines, "active")
        .iter()
        .map(|a| a["worker"].as_str().unwrap())
        .collect();
    assert_eq!(workers.len(), 2, "both workers take jobs");
    assert!(!of(&lines, "rate_limited").is_empty());
}

#[test]
fn stalled_jobs_of_a_crashed_worker_come_back_and_complete() {
    let lines = run("bullmq-stalled-jobs.json", 60);
    let stalled = of(&lines, "stalled");
    assert_eq!(stalled.len(), 2, "worker-a's two jobs");
    for s in &stalled {
        // The crash at 5 s; the locks (5 s, renewed every 1.25 s) expire by 10 s; a check
        // every 3 s marks, then moves.
        assert!(ms(s) > 5000.0 && ms(s) < 16_500.0, "{s}");
    }
    let done = of(&lines, "completed");
    assert_eq!(done.len(), 6, "nothing lost");
    assert!(
        done.iter().all(|d| d["attempts_made"] == 1),
        "a stall is not an attempt"
    );
    for s in &stalled {
        let job = s["job"].as_str().unwrap();
        let by: Vec<&str> = done
            .iter()
            .filter(|d| d["job"] == job)
            .map(|d| d["worker"].as_str().unwrap())
            .collect();
        assert_eq!(by, ["worker-b"]);
    }
}

/// Every order ends: it ships once both its children are done (its start after theirs), or,
/// when its charge failed for good, it fails on pick-up without running ("child
/// bull:payments:<id> failed"),
/// one order per failed charge; a failed reservation is let go and its order ships anyway.
#[test]
fn flows_an_order_waits_for_its_children_and_a_failed_charge_fails_it() {
    let lines = run("bullmq-flows.json", 60);
    let orders = named(&lines, "added", "ship-order");
    assert_eq!(orders.len(), 12);
    let shipped = named(&lines, "completed", "ship-order");
    let failed_orders = named(&lines, "failed", "ship-order");
    assert_eq!(shipped.len() + failed_orders.len(), 12, "every order ends");
    let failed_charges = named(&lines, "failed", "charge");
    let failed_reservations = named(&lines, "failed", "reserve");
    assert!(!failed_charges.is_empty() && !failed_reservations.is_empty());
    assert_eq!(failed_orders.len(), failed_charges.len());
    for f in &failed_orders {
        let reason = f["failed_reason"].as_str().unwrap();
        let charge = reason
            .strip_prefix("child bull:payments:")
            .and_then(|r| r.strip_suffix(" failed"))
            .unwrap_or_else(|| panic!("{reason}"));
        assert!(
            failed_charges.iter().any(|c| c["job"] == charge),
            "{reason}"
        );
        let id = &f["job"];
        let runs = of(&lines, "active")
            .into_iter()
            .filter(|a| &a["job"] == id)
            .count();
        assert_eq!(runs, 1, "taken once, and failed at once");
    }
    // A shipped order started after each of its children ended.
    for s in &shipped {
        let id = s["job"].as_str().unwrap();
        let kids: Vec<&str> = of(&lines, "added")
            .into_iter()
            .filter(|a| a["parent"] == id)
            .map(|a| a["job"].as_str().unwrap())
            .collect();
        assert_eq!(kids.len(), 2);
        let start = ms(of(&lines, "active")
            .into_iter()
            .find(|a| a["job"] == id)
            .unwrap());
        for k in kids {
            let end = lines
                .iter()
                .filter(|l| (l["type"] == "completed" || l["type"] == "failed") && l["job"] == k)
                .map(ms)
                .next()
                .expect("the child ended");
            assert!(
                start > end,
                "order {id} started at {start} before child {k} ended at {end}"
            );
        }
    }
    // A failed reservation's order shipped.
    for r in &failed_reservations {
        let parent = of(&lines, "added")
            .into_iter()
            .find(|a| a["job"] == r["job"])
            .unwrap()["parent"]
            .clone();
        assert!(shipped.iter().any(|s| s["job"] == parent));
    }
}

/// Twelve keystrokes run one reindex, after the last one (each add replaced the delayed job
/// before it); twenty report adds run only while none waits or runs.
#[test]
fn deduplication_runs_the_last_of_a_burst_and_ignores_adds_while_one_lives() {
    let lines = run("bullmq-deduplication.json", 60);
    assert_eq!(named(&lines, "added", "reindex").len(), 12);
    assert_eq!(named(&lines, "removed", "reindex").len(), 11);
    let ran = named(&lines, "active", "reindex");
    assert_eq!(ran.len(), 1);
    let last_add = ms(named(&lines, "added", "reindex").last().unwrap());
    assert!(
        ms(ran[0]) >= last_add + 300.0,
        "after the last keystroke's delay"
    );
    let reports = named(&lines, "completed", "report").len();
    let ignored = named(&lines, "deduplicated", "report").len();
    assert_eq!(reports + ignored, 20);
    assert!(reports < 20 && reports > 1, "{reports} ran");
}

/// `every` 2 s and a cron pattern every fifth second: ids `repeat:<id>:<ms>`, the digest's on
/// multiples of 5 s; a slow worker makes the schedulers skip times rather than pile jobs up:
/// never more than one job of a scheduler waits.
#[test]
fn schedulers_make_their_next_job_when_the_last_is_taken_and_skip_missed_times() {
    let lines = run("bullmq-schedulers.json", 60);
    let ids = |name: &str| -> Vec<u64> {
        named(&lines, "added", name)
            .iter()
            .map(|a| {
                let id = a["job"].as_str().unwrap();
                id.rsplit(':').next().unwrap().parse().unwrap()
            })
            .collect()
    };
    let digests = ids("digest");
    assert_eq!(digests.len(), 6, "its limit");
    assert!(digests.iter().all(|ms| ms % 5000 == 0), "{digests:?}");
    let beats = ids("heartbeat");
    assert_eq!(beats.len(), 10);
    assert_eq!(beats[0], 1, "the first at once");
    // Skipped: some gaps between heartbeats are longer than 2 s.
    assert!(beats.windows(2).any(|w| w[1] - w[0] > 2000), "{beats:?}");
    assert!(
        beats.windows(2).all(|w| (w[1] - w[0]) % 2000 == 0),
        "on the 2 s grid: {beats:?}"
    );
    // At most one job of each scheduler waits at any time.
    for name in ["digest", "heartbeat"] {
        let mut waiting = 0i32;
        for l in &lines {
            if l["name"] == name && l["type"] == "added" {
                waiting += 1;
            }
            if l["name"] == name && l["type"] == "active" {
                waiting -= 1;
            }
            assert!(waiting <= 1, "{name}: {waiting} waiting");
        }
    }
}
