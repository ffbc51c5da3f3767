//! BullMQ's job options (`JobsOptions`) and worker options (`WorkerOptions`), under BullMQ's
//! own names (camelCase, as a `Queue.add` call or a `new Worker` writes them), with BullMQ's
//! defaults, and the checks BullMQ makes of them with its own messages (`job.js
//! validateOptions`, `queue.js addJob`, the `Worker` constructor and its `concurrency` setter).

use serde::{Deserialize, Serialize};

/// `PRIORITY_LIMIT` in `job.js`: 2^21 - 1.
pub const PRIORITY_LIMIT: i64 = 2_097_151;

/// A job's options, as `Queue.add(name, data, opts)` takes them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JobOptions {
    /// Tries in all (the first and the retries). BullMQ's code starts it at 0, which acts as 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    /// How long to wait before a retry: a number of milliseconds (fixed), or a strategy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<Backoff>,
    /// Milliseconds to wait before the job can be processed (it waits in `delayed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<f64>,
    /// 0 (none, the default) or a priority: a lower number is taken first; every job without
    /// one is taken before any job with one. Kept as a number so that a fractional priority
    /// reaches the check that refuses it, as in BullMQ.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<f64>,
    /// Added at the head of `wait` instead of its tail.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lifo: bool,
    /// A custom job id (absent: the queue's counter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// Completed jobs to keep: `true` removes at once, `false` keeps all, a number keeps the
    /// newest that many, `{age, count}` keeps by age (seconds) and count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove_on_complete: Option<KeepJobs>,
    /// Failed jobs to keep (final failures only), as `removeOnComplete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove_on_fail: Option<KeepJobs>,
    /// `{id, ttl, extend, replace}`: adds with the same id are ignored while the first lives
    /// (or for `ttl` ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deduplication: Option<Deduplication>,
    /// A flow's child: on its final failure its parent fails too (when a worker next takes
    /// it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fail_parent_on_failure: bool,
    /// A flow's child: on its final failure its parent starts at once, the failure noted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub continue_parent_on_failure: bool,
    /// A flow's child: on its final failure it no longer counts as the parent's dependency,
    /// the failure noted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ignore_dependency_on_failure: bool,
    /// A flow's child: on its final failure it no longer counts as the parent's dependency.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub remove_dependency_on_failure: bool,
}

/// What a flow's child does to its parent when it fails for good (its options say; at most
/// one may be set).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnChildFailure {
    /// None set: the child stays a dependency, so the parent waits for its children for ever.
    Stay,
    /// `failParentOnFailure`.
    FailParent,
    /// `continueParentOnFailure`.
    ContinueParent,
    /// `ignoreDependencyOnFailure`.
    IgnoreDependency,
    /// `removeDependencyOnFailure`.
    RemoveDependency,
}

impl JobOptions {
    /// What the job, as a flow's child, does to its parent when it fails for good.
    pub fn on_child_failure(&self) -> OnChildFailure {
        if self.fail_parent_on_failure {
            OnChildFailure::FailParent
        } else if self.continue_parent_on_failure {
            OnChildFailure::ContinueParent
        } else if self.ignore_dependency_on_failure {
            OnChildFailure::IgnoreDependency
        } else if self.remove_dependency_on_failure {
            OnChildFailure::RemoveDependency
        } else {
            OnChildFailure::Stay
        }
    }
}

/// `deduplication`: which adds count as the same job, and for how long.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deduplication {
    /// The deduplication id (BullMQ refuses an add without one).
    #[serde(default)]
    pub id: String,
    /// Milliseconds the id holds (throttle mode); absent: until the job finishes (simple mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u64>,
    /// A deduplicated add resets the `ttl`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub extend: bool,
    /// A deduplicated add replaces the job it would be ignored for, if that job is still
    /// delayed (debounce mode).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replace: bool,
}

/// `backoff`: a number (fixed, in milliseconds) or `{type, delay, jitter}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Backoff {
    /// `backoff: 1000`, normalised to `{type: 'fixed', delay: 1000}`.
    Millis(f64),
    /// `{type, delay, jitter}`.
    Strategy(BackoffStrategy),
}

/// A built-in backoff strategy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackoffStrategy {
    /// `fixed` or `exponential`.
    #[serde(rename = "type")]
    pub kind: BackoffType,
    /// The base delay in milliseconds (absent: 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<f64>,
    /// 0 to 1: the share of the delay drawn at random below it (absent: 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter: Option<f64>,
}

/// The built-in backoff types (`backoffs.js`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackoffType {
    /// The same delay before every retry.
    Fixed,
    /// `2^(attemptsMade - 1) * delay`.
    Exponential,
}

/// `removeOnComplete` / `removeOnFail`: a boolean, a count, or `{age, count}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum KeepJobs {
    /// `true`: remove at once; `false`: keep every one.
    Remove(bool),
    /// Keep the newest this many.
    Count(u64),
    /// Keep by age and count.
    Rule(KeepRule),
}

/// `{age, count, limit}`: jobs older than `age` seconds are removed (at most `limit` at a time),
/// and only the newest `count` are kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeepRule {
    /// Seconds a finished job is kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age: Option<u64>,
    /// Finished jobs kept at most.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Jobs removed by age at most per finish (BullMQ's default 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

/// What a finished set keeps, as `getKeepJobs` resolves it: `count` -1 keeps every job, 0
/// none (removed at once), n the newest n; `age` in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keep {
    /// -1: all; 0: none; n: the newest n.
    pub count: i64,
    /// Seconds, if kept by age.
    pub age: Option<u64>,
    /// Jobs removed by age at most per finish.
    pub limit: u64,
}

impl Keep {
    /// Every job kept (`removeOnComplete` absent or `false`).
    pub const ALL: Keep = Keep {
        count: -1,
        age: None,
        limit: 1000,
    };
}

/// `getKeepJobs(jobOpt, workerOpt)` in `redis-queue-backend.js`: the job's option if it has
/// one, else the worker's, else keep everything.
pub fn keep_jobs(job: Option<&KeepJobs>, worker: Option<&KeepJobs>) -> Keep {
    let resolve = |k: &KeepJobs| match k {
        KeepJobs::Remove(true) => Keep {
            count: 0,
            ..Keep::ALL
        },
        KeepJobs::Remove(false) => Keep::ALL,
        KeepJobs::Count(n) => Keep {
            count: i64::try_from(*n).unwrap_or(i64::MAX),
            ..Keep::ALL
        },
        KeepJobs::Rule(r) => Keep {
            count: r.count.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX)),
            age: r.age,
            limit: r.limit.unwrap_or(1000),
        },
    };
    match (job, worker) {
        (Some(j), _) => resolve(j),
        (None, Some(w)) => resolve(w),
        (None, None) => Keep::ALL,
    }
}

/// `limiter`: at most `max` jobs moved to active per `duration` milliseconds, over the whole
/// queue (a fixed window that opens with the first job after the last one closed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limiter {
    /// Jobs per window.
    pub max: u32,
    /// The window, in milliseconds.
    pub duration: u64,
}

/// Why BullMQ refuses a job's options, in BullMQ's words (`job.js validateOptions`,
/// `queue.js addJob`). The first that applies, in BullMQ's order.
pub fn check_job_options(o: &JobOptions) -> Result<(), String> {
    if let Some(id) = &o.job_id {
        // `queue.js addJob`.
        if id == "0" || id.starts_with("0:") {
            return Err("JobId cannot be '0' or start with '0:'".into());
        }
    }
    // Set together, in BullMQ's order.
    let together: Vec<&str> = [
        (o.remove_dependency_on_failure, "removeDependencyOnFailure"),
        (o.fail_parent_on_failure, "failParentOnFailure"),
        (o.continue_parent_on_failure, "continueParentOnFailure"),
        (o.ignore_dependency_on_failure, "ignoreDependencyOnFailure"),
    ]
    .into_iter()
    .filter_map(|(set, name)| set.then_some(name))
    .collect();
    if together.len() > 1 {
        return Err(format!(
            "The following options cannot be used together: {}",
            together.join(", ")
        ));
    }
    if let Some(id) = &o.job_id {
        // `${parseInt(jobId, 10)}` === jobId: a canonical integer ("12", "-3"; not "007").
        if parses_as_js_int(id) {
            return Err("Custom Id cannot be integers".into());
        }
        if id.contains(':') && id.split(':').count() != 3 {
            return Err("Custom Id cannot contain :".into());
        }
    }
    if let Some(p) = o.priority {
        if p.trunc() != p {
            return Err("Priority should not be float".into());
        }
        // Only the upper bound is checked: a negative priority is taken before priority 1.
        if p > PRIORITY_LIMIT as f64 {
            return Err(format!("Priority should be between 0 and {PRIORITY_LIMIT}"));
        }
    }
    if o.deduplication.as_ref().is_some_and(|d| d.id.is_empty()) {
        return Err("Deduplication id must be provided".into());
    }
    if let Some(Backoff::Strategy(s)) = &o.backoff {
        if let Some(j) = s.jitter {
            if !(0.0..=1.0).contains(&j) {
                return Err("Jitter should be between 0 and 1".into());
            }
        }
    }
    Ok(())
}

/// Whether JavaScript's `` `${parseInt(s, 10)}` === s `` holds: `s` is an integer written as
/// JavaScript prints that number (an optional `-`, digits, no leading zero, and no digits past
/// what a double keeps: `"9007199254740993"` prints back as `…992` and is accepted).
fn parses_as_js_int(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let Ok(v) = s.parse::<f64>() else {
        return false;
    };
    // JavaScript prints integers below 1e21 in full, with the shortest digits that read back
    // as the same double (as Rust's `Display` does), and -0 as "0".
    let printed = if v == 0.0 {
        "0".to_owned()
    } else if v.abs() < 1e21 {
        format!("{v}")
    } else {
        return false;
    };
    printed == s
}

/// The worker's `concurrency` setter: `'concurrency must be a finite number greater than 0'`.
pub fn check_concurrency(c: f64) -> Result<(), String> {
    if !c.is_finite() || c < 1.0 {
        return Err("concurrency must be a finite number greater than 0".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(json: &str) -> JobOptions {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn custom_ids_are_refused_as_bullmq_refuses_them() {
        let id = |s: &str| {
            check_job_options(&JobOptions {
                job_id: Some(s.into()),
                ..JobOptions::default()
            })
        };
        for bad in ["12", "-3", "0"] {
            assert!(id(bad).is_err(), "{bad}");
        }
        assert_eq!(id("12").unwrap_err(), "Custom Id cannot be integers");
        assert_eq!(
            id("0:x").unwrap_err(),
            "JobId cannot be '0' or start with '0:'"
        );
        assert_eq!(id("a:b").unwrap_err(), "Custom Id cannot contain :");
        assert!(
            id("9007199254740992").is_err(),
            "2^53 prints back as itself"
        );
        for good in [
            "007",
            "1e3",
            "12abc",
            "a:b:c",
            "order-1",
            "-0",
            "9007199254740993",
        ] {
            assert_eq!(id(good), Ok(()), "{good}");
        }
    }

    #[test]
    fn priorities_and_jitter_are_checked_with_bullmqs_messages() {
        assert_eq!(
            check_job_options(&opts(r#"{"priority": 1.5}"#)).unwrap_err(),
            "Priority should not be float"
        );
        assert_eq!(
            check_job_options(&opts(r#"{"priority": 2097152}"#)).unwrap_err(),
            "Priority should be between 0 and 2097151"
        );
        assert_eq!(check_job_options(&opts(r#"{"priority": 2097151}"#)), Ok(()));
        assert_eq!(check_job_options(&opts(r#"{"priority": -5}"#)), Ok(()));
        assert_eq!(
            check_job_options(&opts(
                r#"{"backoff": {"type": "exponential", "delay": 100, "jitter": 1.5}}"#
            ))
            .unwrap_err(),
            "Jitter should be between 0 and 1"
        );
        assert_eq!(
            check_job_options(&opts(r#"{"backoff": {"type": "fixed", "jitter": 1}}"#)),
            Ok(())
        );
        assert_eq!(
            check_concurrency(0.0).unwrap_err(),
            "concurrency must be a finite number greater than 0"
        );
        assert!(check_concurrency(0.5).is_err());
        assert!(check_concurrency(1.5).is_ok());
    }

    #[test]
    fn keep_jobs_resolves_as_get_keep_jobs_does() {
        let k = |s: &str| serde_json::from_str::<KeepJobs>(s).unwrap();
        assert_eq!(keep_jobs(None, None), Keep::ALL);
        assert_eq!(keep_jobs(Some(&k("true")), None).count, 0);
        assert_eq!(keep_jobs(Some(&k("false")), Some(&k("true"))), Keep::ALL);
        assert_eq!(keep_jobs(None, Some(&k("1000"))).count, 1000);
        let rule = keep_jobs(Some(&k(r#"{"age": 60}"#)), None);
        assert_eq!((rule.count, rule.age, rule.limit), (-1, Some(60), 1000));
        let rule = keep_jobs(Some(&k(r#"{"age": 60, "count": 5, "limit": 10}"#)), None);
        assert_eq!((rule.count, rule.age, rule.limit), (5, Some(60), 10));
    }

    #[test]
    fn options_read_under_bullmqs_names_and_refuse_unknown_ones() {
        let o = opts(
            r#"{"attempts": 3, "backoff": 1000, "delay": 50, "priority": 2, "lifo": true,
                "jobId": "a", "removeOnComplete": {"count": 10}, "removeOnFail": true}"#,
        );
        assert_eq!(o.attempts, Some(3));
        assert_eq!(o.backoff, Some(Backoff::Millis(1000.0)));
        assert!(o.lifo);
        assert_eq!(o.remove_on_fail, Some(KeepJobs::Remove(true)));
        assert!(serde_json::from_str::<JobOptions>(r#"{"atempts": 3}"#).is_err());
        assert!(serde_json::from_str::<JobOptions>(
            r#"{"backoff": {"type": "linear", "delay": 1}}"#
        )
        .is_err());
    }
}
