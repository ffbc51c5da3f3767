//! What each `docs/examples/kafka-*.json` says it shows, as numbers from the run.

mod common;

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use switchboard_core::trace::event_json;
use switchboard_core::SimTime;

fn run(file: &str, until_s: u64) -> Vec<Value> {
    let s = common::example(file);
    let (events, sim) = common::kafka::run(&s, SimTime(until_s * 1_000_000), true);
    events
        .iter()
        .map(|e| event_json(e, sim.topology()))
        .collect()
}

fn of<'a>(lines: &'a [Value], ty: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["type"] == ty).collect()
}

fn at_s(v: &Value) -> f64 {
    v["at_us"].as_u64().unwrap() as f64 / 1e6
}

#[test]
fn keys_and_partitions_a_key_has_one_partition_and_null_keys_stick() {
    let lines = run("kafka-keys-and-partitions.json", 60);
    let mut by_key: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
    let mut sticky_runs = 0;
    let mut last_sticky = None;
    for a in of(&lines, "appended") {
        let p = a["partition"].as_u64().unwrap();
        match a["key"].as_str() {
            Some(k) => {
                by_key.entry(k.to_owned()).or_default().insert(p);
            }
            None => {
                assert_eq!(a["partitioner"], "sticky");
                if last_sticky != Some(p) {
                    sticky_runs += 1;
                    last_sticky = Some(p);
                }
            }
        }
    }
    assert_eq!(by_key.len(), 5);
    assert!(by_key.values().all(|ps| ps.len() == 1), "{by_key:?}");
    // 1,200 null-key records of 400 bytes, a new partition every 4 KB (ten records) at most.
    assert!(
        (20..=130).contains(&sticky_runs),
        "{sticky_runs} sticky spells"
    );
}

#[test]
fn group_rebalance_waits_for_the_session_timeout_then_reprocesses_uncommitted_records() {
    let lines = run("kafka-consumer-group-rebalance.json", 60);
    let removed = of(&lines, "member_removed");
    assert_eq!(removed.len(), 1);
    let t = at_s(removed[0]);
    assert!(
        (27.0..=30.0).contains(&t),
        "removed at {t}, within 10 s of its last heartbeat"
    );
    let done = of(&lines, "rebalance_completed");
    assert_eq!(done.len(), 3, "first, after the timeout, after the restart");
    assert_eq!(
        done[1]["assignment"]["billing-1"].as_array().unwrap().len(),
        3
    );
    assert_eq!(done[2]["assignment"].as_object().unwrap().len(), 3);
    // billing-3 processed records after its last commit: they are processed again.
    let mut seen: BTreeMap<(u64, u64), u32> = BTreeMap::new();
    for p in of(&lines, "processed") {
        *seen
            .entry((
                p["partition"].as_u64().unwrap(),
                p["offset"].as_u64().unwrap(),
            ))
            .or_default() += 1;
    }
    assert!(
        seen.values().any(|&n| n > 1),
        "re-processed after the crash"
    );
}

#[test]
fn cooperative_rebalance_moves_one_partition_in_a_second_round() {
    let lines = run("kafka-cooperative-rebalance.json", 60);
    let after: Vec<&Value> = of(&lines, "rebalance_completed")
        .into_iter()
        .filter(|d| at_s(d) > 15.0)
        .collect();
    assert_eq!(after.len(), 2);
    assert_eq!(after[0]["withheld"].as_array().unwrap().len(), 1);
    assert!(after[0]["assignment"]["agg-3"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(after[1]["assignment"]["agg-3"], after[0]["withheld"]);
    assert_eq!(
        of(&lines, "partitions_revoked").len(),
        1,
        "only the moving partitions"
    );
}

#[test]
fn retention_keeps_the_partition_near_its_limit_and_resets_the_slow_reader() {
    let lines = run("kafka-retention.json", 60);
    assert!(of(&lines, "segment_deleted").len() > 50);
    let resets: Vec<&Value> = of(&lines, "offset_reset")
        .into_iter()
        .filter(|r| r["cause"] == "out_of_range")
        .collect();
    assert!(!resets.is_empty());
    assert!(
        resets.iter().all(|r| r["consumer"] == "archiver"),
        "the fast group keeps up"
    );
}

#[test]
fn compaction_keeps_the_latest_per_key_and_the_late_reader_sees_every_key() {
    let lines = run("kafka-compaction.json", 60);
    assert!(!of(&lines, "compacted").is_empty());
    assert_eq!(of(&lines, "produce_refused").len(), 1, "the keyless record");
    // The tombstone (written at 12 s) stays until its delete horizon (10 s after the cleaner
    // first saw it), then is compacted away.
    let tombstone = of(&lines, "appended")
        .into_iter()
        .find(|a| a["tombstone"] == true)
        .expect("the tombstone")["message"]
        .clone();
    let gone = of(&lines, "dropped")
        .into_iter()
        .find(|d| d["message"] == tombstone)
        .expect("compacted away");
    assert_eq!(gone["reason"], "compacted");
    assert!((22.0..30.0).contains(&at_s(gone)), "at {}", at_s(gone));
    // Reading from offset 0 after compaction, the late reader sees every key that exists.
    let key_at: BTreeMap<u64, Option<String>> = of(&lines, "appended")
        .into_iter()
        .map(|a| {
            (
                a["offset"].as_u64().unwrap(),
                a["key"].as_str().map(String::from),
            )
        })
        .collect();
    let keys: BTreeSet<Option<String>> = of(&lines, "processed")
        .into_iter()
        .filter(|p| p["consumer"] == "late-reader")
        .map(|p| key_at[&p["offset"].as_u64().unwrap()].clone())
        .collect();
    for k in ["user-1", "user-2", "user-4"] {
        assert!(keys.contains(&Some(k.to_owned())), "{k}");
    }
    assert!(
        !keys.contains(&Some("user-3".to_owned())),
        "user-3 was deleted"
    );
}

#[test]
fn idempotence_plain_duplicates_and_safe_does_not() {
    let lines = run("kafka-idempotence.json", 60);
    let count = |topic: &str| {
        of(&lines, "appended")
            .into_iter()
            .filter(|a| a["topic"] == topic)
            .count()
    };
    let published = |p: &str| {
        of(&lines, "published")
            .into_iter()
            .filter(|e| e["node"] == p)
            .count()
    };
    let retried = |p: &str| {
        of(&lines, "produce_retrying")
            .into_iter()
            .filter(|e| e["producer"] == p)
            .count()
    };
    assert!(retried("plain") > 5 && retried("safe") > 5);
    // Retries make copies (new messages): plain appends them, safe's are deduplicated.
    // Retries send copies (new messages): plain appends them, safe's are deduplicated. Both
    // producers stop at 200 records, well before the end.
    assert_eq!(published("plain"), 200);
    assert!(count("payments-plain") > 200, "plain appended duplicates");
    assert!(!of(&lines, "deduplicated").is_empty());
    assert_eq!(count("payments-safe"), 200, "each of safe's records once");
}

#[test]
fn delivery_semantics_duplicates_after_processing_losses_before() {
    let lines = run("kafka-delivery-semantics.json", 60);
    let mut per: BTreeMap<(bool, u64, u64), u32> = BTreeMap::new();
    for p in of(&lines, "processed") {
        let alo = p["consumer"].as_str().unwrap().starts_with("alo");
        *per.entry((
            alo,
            p["partition"].as_u64().unwrap(),
            p["offset"].as_u64().unwrap(),
        ))
        .or_default() += 1;
    }
    let alo: Vec<u32> = per.iter().filter(|(k, _)| k.0).map(|(_, &n)| n).collect();
    let amo: Vec<u32> = per.iter().filter(|(k, _)| !k.0).map(|(_, &n)| n).collect();
    assert_eq!(alo.len(), 3000, "at-least-once: every record processed");
    assert!(alo.iter().any(|&n| n > 1), "with duplicates");
    assert!(
        amo.len() < 3000,
        "at-most-once: records lost ({})",
        amo.len()
    );
    assert!(amo.iter().all(|&n| n == 1), "no duplicates");
}
