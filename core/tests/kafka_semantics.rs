//! The Kafka model's rules in runs, each a named case: the `[CT-KAFKA-*]` cases through the
//! whole simulator (the pure functions have their own unit tests), and the behaviours of
//! docs/kafka.md: batching and the sticky partitioner, idempotence against lost
//! acknowledgements, the group protocol's timing, eager and cooperative rebalances, commits
//! and generations, delivery semantics, offsets reset, retention and compaction. Every run
//! checks conservation and the model's invariants after every event.

mod common;

use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use switchboard_core::command::Command;
use switchboard_core::scenario::NodeSpec;
use switchboard_core::trace::event_json;
use switchboard_core::{Scenario, Sim, SimTime};

fn secs(s: f64) -> SimTime {
    SimTime((s * 1e6) as u64)
}

/// Runs `doc` to `until` seconds, checking conservation after every event; the trace as JSON.
fn trace(doc: Value, until: f64) -> (Vec<Value>, Sim) {
    let s = Scenario::from_json(&doc.to_string()).unwrap_or_else(|d| panic!("{d}"));
    let (events, sim) = common::kafka::run(&s, secs(until), true);
    let lines = events
        .iter()
        .map(|e| event_json(e, sim.topology()))
        .collect();
    (lines, sim)
}

fn of<'a>(lines: &'a [Value], ty: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["type"] == ty).collect()
}

fn at_s(v: &Value) -> f64 {
    v["at_us"].as_u64().expect("at_us") as f64 / 1e6
}

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("a list")
        .iter()
        .map(|x| x.as_str().expect("a string").to_owned())
        .collect()
}

fn consumer(id: &str, config: Value) -> Value {
    json!({"id": id, "kind": "kafka_consumer", "config": config})
}

/// [CT-KAFKA-PART-1] through the simulator: each key's partition for 3, 6, 10 and 12
/// partitions, as the `appended` events say.
#[test]
fn ct_kafka_part_1_keys_land_where_kafka_puts_them() {
    let keys = ["", "a", "key1", "key2", "foobar", "abc"];
    let table: [[u64; 4]; 6] = [
        [0, 3, 1, 9],
        [1, 4, 4, 4],
        [2, 2, 0, 8],
        [2, 5, 1, 11],
        [0, 0, 6, 6],
        [0, 3, 7, 3],
    ];
    let counts = [3, 6, 10, 12];
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    for n in counts {
        nodes.push(json!({"id": format!("t{n}"), "kind": "topic", "config": {"partitions": n}}));
        nodes.push(json!({"id": format!("p{n}"), "kind": "kafka_producer",
            "config": {"rate_per_s": 100, "arrival": "constant", "limit": 6, "keys": keys}}));
        edges.push(json!({"from": format!("p{n}"), "to": format!("t{n}")}));
    }
    let (lines, _) = trace(json!({"version": 5, "nodes": nodes, "edges": edges}), 5.0);
    let appended = of(&lines, "appended");
    assert_eq!(appended.len(), 24);
    for a in appended {
        let n: u64 = a["topic"].as_str().unwrap()[1..].parse().unwrap();
        let col = counts.iter().position(|&c| c == n).unwrap();
        let row = keys.iter().position(|k| a["key"] == *k).unwrap();
        assert_eq!(
            a["partition"], table[row][col],
            "key {:?}, {n} partitions",
            keys[row]
        );
        assert_eq!(a["partitioner"], "key");
    }
}

/// Null keys stick to one partition until `batch.size` bytes have gone to it, then a new one
/// is drawn; an explicit partition wins over the key.
#[test]
fn null_keys_stick_until_a_batch_is_full_and_explicit_partitions_win() {
    let (lines, _) = trace(
        json!({"version": 5, "seed": 3, "nodes": [
            {"id": "p", "kind": "kafka_producer", "config": {"rate_per_s": 1000, "arrival": "constant",
                "limit": 400, "value_bytes": 100, "batch.size": 1000}},
            {"id": "q", "kind": "kafka_producer", "config": {"rate_per_s": 10, "limit": 5,
                "keys": ["a", "b"], "partition": 7}},
            {"id": "t", "kind": "topic", "config": {"partitions": 8}}],
          "edges": [{"from": "p", "to": "t"}, {"from": "q", "to": "t"}]}),
        5.0,
    );
    let sticky: Vec<u64> = of(&lines, "appended")
        .iter()
        .filter(|a| a["producer"] == "p")
        .map(|a| {
            assert_eq!(a["partitioner"], "sticky");
            a["partition"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(sticky.len(), 400);
    // Records of one partition arrive in order; across partitions, in batches. Per partition,
    // the runs of records: every sticky spell is exactly 10 records of 100 bytes.
    let mut per: BTreeMap<u64, usize> = BTreeMap::new();
    for p in &sticky {
        *per.entry(*p).or_default() += 1;
    }
    assert!(per.values().all(|n| n % 10 == 0), "{per:?}");
    assert!(per.len() >= 4, "the sticky partition moves: {per:?}");
    let explicit: Vec<&Value> = of(&lines, "appended")
        .into_iter()
        .filter(|a| a["producer"] == "q")
        .collect();
    assert_eq!(explicit.len(), 5);
    assert!(explicit
        .iter()
        .all(|a| a["partition"] == 7 && a["partitioner"] == "explicit"));
}

fn lost_ack_doc(idempotent: bool) -> Value {
    json!({"version": 5, "seed": 5, "nodes": [
        {"id": "p", "kind": "kafka_producer", "config": {"rate_per_s": 2, "arrival": "constant",
            "limit": 40, "keys": ["k"], "ack_loss": 0.5, "request.timeout.ms": 1000,
            "enable.idempotence": idempotent, "max.in.flight.requests.per.connection": 1}},
        {"id": "t", "kind": "topic", "config": {"partitions": 1}}],
      "edges": [{"from": "p", "to": "t", "latency": "10ms"}]})
}

/// A lost acknowledgement makes the producer retry a batch the log already has: without
/// idempotence it is appended twice; with it, the broker answers from its sequence numbers.
#[test]
fn a_retry_after_a_lost_ack_duplicates_unless_the_producer_is_idempotent() {
    let (plain, _) = trace(lost_ack_doc(false), 60.0);
    let retries = of(&plain, "produce_retrying").len();
    assert!(retries > 5, "retries: {retries}");
    let appended = of(&plain, "appended").len();
    assert!(
        appended > 40,
        "duplicates appended: {appended} records for 40 produced"
    );
    assert!(of(&plain, "deduplicated").is_empty());
    let (idem, _) = trace(lost_ack_doc(true), 60.0);
    assert!(!of(&idem, "produce_retrying").is_empty());
    assert_eq!(of(&idem, "appended").len(), 40, "each record once");
    assert!(!of(&idem, "deduplicated").is_empty());
}

/// The `lose_ack` action loses exactly one response: the producer retries that batch after
/// `request.timeout.ms`, so the log has its records twice, unless the producer is idempotent,
/// when the broker answers the retry from its sequence numbers and appends nothing.
#[test]
fn one_lost_ack_duplicates_one_batch_unless_the_producer_is_idempotent() {
    let doc = |idempotent: bool| {
        json!({"version": 5, "seed": 3, "nodes": [
            {"id": "p", "kind": "kafka_producer", "config": {"rate_per_s": 2, "arrival": "constant",
                "limit": 10, "keys": ["k"], "request.timeout.ms": 1000,
                "enable.idempotence": idempotent, "max.in.flight.requests.per.connection": 1}},
            {"id": "t", "kind": "topic", "config": {"partitions": 1}}],
          "edges": [{"from": "p", "to": "t", "latency": "10ms"}],
          "actions": [{"at": "2100ms", "do": "lose_ack", "node": "p"}]})
    };
    let (plain, sim) = trace(doc(false), 20.0);
    assert_eq!(of(&plain, "ack_lost").len(), 1);
    let retry = of(&plain, "produce_retrying");
    assert_eq!(retry.len(), 1, "one retry");
    let appended = of(&plain, "appended");
    assert_eq!(appended.len(), 11, "one record twice: {appended:?}");
    // The retry's record is a copy of the first (its causation), kept at a second offset.
    let copies: Vec<(u64, u64)> = appended
        .iter()
        .filter_map(|a| {
            let id = switchboard_core::MessageId(a["message"].as_u64().unwrap());
            let view = sim.locate(id).expect("retained");
            // The inspector sees the record's own fields.
            let r = view.record.as_ref().expect("a record");
            assert_eq!(
                (r.key.as_deref(), r.partition, r.offset, r.tombstone),
                (Some("k"), 0, a["offset"].as_u64(), false)
            );
            let cause = view.envelope.causation_id?;
            Some((cause.0, a["offset"].as_u64().unwrap()))
        })
        .collect();
    assert_eq!(copies.len(), 1, "one copy: {copies:?}");
    let first = appended
        .iter()
        .find(|a| a["message"].as_u64() == Some(copies[0].0))
        .expect("the original is in the log too");
    assert!(first["offset"].as_u64().unwrap() < copies[0].1);
    // The retry waits out request.timeout.ms after the lost response's request.
    let lost = at_s(of(&plain, "ack_lost")[0]);
    assert!(
        (at_s(retry[0]) - lost - 1.0).abs() < 0.05,
        "{lost} -> {}",
        at_s(retry[0])
    );
    let (idem, _) = trace(doc(true), 20.0);
    assert_eq!(of(&idem, "ack_lost").len(), 1);
    assert_eq!(of(&idem, "appended").len(), 10, "each record once");
    assert_eq!(of(&idem, "deduplicated").len(), 1);
}

/// Responses keep their order on a connection, so after a lost one none gets through: the
/// producer goes on sending until `max.in.flight.requests.per.connection` requests wait, and
/// when the first times out the client reconnects and retries every waiting batch in sequence
/// order. An idempotent producer's retries are all answered from the broker's memory of its
/// last five batches; a plain producer appends each again.
#[test]
fn a_lost_response_breaks_the_connection_and_every_waiting_batch_is_retried() {
    let doc = |idempotent: bool| {
        json!({"version": 5, "seed": 4, "nodes": [
            {"id": "p", "kind": "kafka_producer", "config": {"rate_per_s": 10, "arrival": "constant",
                "keys": ["a", "b", "c"], "request.timeout.ms": 2000,
                "enable.idempotence": idempotent, "max.in.flight.requests.per.connection": 5}},
            {"id": "t", "kind": "topic", "config": {"partitions": 3}}],
          "edges": [{"from": "p", "to": "t", "latency": "10ms"}],
          "actions": [{"at": "1s", "do": "lose_ack", "node": "p"}]})
    };
    let (idem, _) = trace(doc(true), 6.0);
    let lost = of(&idem, "ack_lost");
    assert_eq!(
        lost.len(),
        5,
        "the lost one and the four sent after it: {lost:?}"
    );
    let retries = of(&idem, "produce_retrying");
    assert_eq!(retries.len(), 5);
    assert!(
        retries.iter().all(|r| at_s(r) == at_s(retries[0])),
        "one reconnect"
    );
    assert!((at_s(retries[0]) - at_s(lost[0]) - 2.0).abs() < 0.05);
    assert_eq!(
        of(&idem, "deduplicated").len(),
        5,
        "every retry answered from memory"
    );
    assert!(of(&idem, "produce_refused").is_empty(), "no sequence gaps");
    assert!(of(&idem, "produce_failed").is_empty());
    // Nothing is appended while the connection is down and five requests wait.
    let stalled = of(&idem, "appended")
        .iter()
        .filter(|a| at_s(a) > at_s(lost[4]) + 0.02 && at_s(a) < at_s(retries[0]))
        .count();
    assert_eq!(stalled, 0);
    let (plain, _) = trace(doc(false), 6.0);
    assert_eq!(of(&plain, "ack_lost").len(), 5);
    let appended = of(&plain, "appended").len();
    let (idem_appended, lost_records): (usize, u64) = (
        of(&idem, "appended").len(),
        of(&plain, "ack_lost")
            .iter()
            .map(|l| l["records"].as_u64().unwrap())
            .sum(),
    );
    assert_eq!(
        appended as u64,
        idem_appended as u64 + lost_records,
        "each unacknowledged record appended twice"
    );
}

/// An idempotent producer that restarts gets a new producer id: its sequence numbers start
/// again, and the broker takes them as new.
#[test]
fn a_restarted_idempotent_producer_has_a_new_producer_id() {
    let doc = json!({"version": 5, "nodes": [
        {"id": "p", "kind": "kafka_producer", "config": {"rate_per_s": 10, "arrival": "constant", "keys": ["k"]}},
        {"id": "t", "kind": "topic"}],
      "edges": [{"from": "p", "to": "t", "latency": "5ms"}],
      "actions": [{"at": "1s", "do": "crash", "node": "p"}, {"at": "2s", "do": "restart", "node": "p"}]});
    let s = Scenario::from_json(&doc.to_string()).unwrap();
    let mut sim = Sim::new(&s).unwrap();
    sim.advance_to(secs(0.5));
    let pid = |sim: &Sim| match sim.metrics().nodes[0].kafka() {
        Some(switchboard_core::kafka::KafkaMetrics::Producer(p)) => p.producer_id,
        _ => unreachable!(),
    };
    let first = pid(&sim);
    sim.advance_to(secs(3.0));
    assert_ne!(pid(&sim), first);
    let events: Vec<_> = sim.drain_events().collect();
    let lines: Vec<Value> = events
        .iter()
        .map(|e| event_json(e, sim.topology()))
        .collect();
    assert!(of(&lines, "produce_refused").is_empty());
}

/// The first rebalance of a new group waits `group.initial.rebalance.delay.ms`, and again
/// while members keep joining; the leader is the first to join, and range wins the vote of
/// members preferring it.
#[test]
fn the_initial_rebalance_waits_for_more_members() {
    let c = |delay: u64| json!({"group.id": "g", "group.initial.rebalance.delay.ms": delay, "auto.offset.reset": "earliest"});
    let (lines, _) = trace(
        json!({"version": 5, "nodes": [
            {"id": "t", "kind": "topic", "config": {"partitions": 4}},
            consumer("a", c(3000)), consumer("b", c(3000))],
          "edges": [{"from": "t", "to": "a", "latency": "10ms"}, {"from": "t", "to": "b", "latency": "10ms"}]}),
        20.0,
    );
    let done = of(&lines, "rebalance_completed");
    assert_eq!(done.len(), 1, "one rebalance");
    let d = done[0];
    // Both join at 10 ms; the delay runs to 3.01 s, and again (b joined during it) to 6.01 s;
    // then JoinGroup responses (10 ms) and the leader's SyncGroup (10 ms).
    assert!((at_s(d) - 6.03).abs() < 1e-6, "completed at {}", at_s(d));
    assert_eq!(d["generation"], 1);
    assert_eq!(d["leader"], "a");
    assert_eq!(d["protocol"], "range");
    assert_eq!(names(&d["assignment"]["a"]), ["t-0", "t-1"]);
    assert_eq!(names(&d["assignment"]["b"]), ["t-2", "t-3"]);
}

/// [CT-KAFKA-RANGE-1] and [CT-KAFKA-RR-1] through the group protocol.
#[test]
fn ct_kafka_range_1_and_rr_1_through_the_group_protocol() {
    for (strategy, c0, c1) in [
        (
            "range",
            ["t0-0", "t0-1", "t1-0", "t1-1"].as_slice(),
            ["t0-2", "t1-2"].as_slice(),
        ),
        (
            "roundrobin",
            &["t0-0", "t0-2", "t1-1"],
            &["t0-1", "t1-0", "t1-2"],
        ),
    ] {
        let cfg = json!({"group.id": "g", "partition.assignment.strategy": [strategy]});
        let (lines, _) = trace(
            json!({"version": 5, "nodes": [
                {"id": "t0", "kind": "topic", "config": {"partitions": 3}},
                {"id": "t1", "kind": "topic", "config": {"partitions": 3}},
                consumer("C0", cfg.clone()), consumer("C1", cfg)],
              "edges": [{"from": "t0", "to": "C0"}, {"from": "t1", "to": "C0"},
                        {"from": "t0", "to": "C1"}, {"from": "t1", "to": "C1"}]}),
            10.0,
        );
        let d = of(&lines, "rebalance_completed")[0];
        assert_eq!(d["protocol"], strategy);
        assert_eq!(names(&d["assignment"]["C0"]), c0, "{strategy}");
        assert_eq!(names(&d["assignment"]["C1"]), c1, "{strategy}");
    }
}

/// A consumer that crashes is found by its session timeout; its partitions move to the
/// others, who (eager) revoke everything first; lag grows while it is gone and drains after.
#[test]
fn a_crashed_member_is_removed_after_its_session_timeout_and_its_partitions_move() {
    let cfg = json!({"group.id": "g", "session.timeout.ms": 10000, "heartbeat.interval.ms": 1000,
        "auto.offset.reset": "earliest", "processing_time": "5ms"});
    let (lines, sim) = trace(
        json!({"version": 5, "nodes": [
            {"id": "p", "kind": "kafka_producer", "config": {"rate_per_s": 50, "keys": {"random": 20}}},
            {"id": "t", "kind": "topic", "config": {"partitions": 4}},
            consumer("a", cfg.clone()), consumer("b", cfg)],
          "edges": [{"from": "p", "to": "t"}, {"from": "t", "to": "a"}, {"from": "t", "to": "b"}],
          "actions": [{"at": "20s", "do": "crash", "node": "b"}]}),
        60.0,
    );
    let removed = of(&lines, "member_removed");
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0]["consumer"], "b");
    assert_eq!(removed[0]["reason"], "session_timeout");
    // Its last heartbeat was at 19 s or 20 s: removed 10 s later.
    let t = at_s(removed[0]);
    assert!((29.0..=30.0).contains(&t), "removed at {t}");
    let done = of(&lines, "rebalance_completed");
    let last = done.last().unwrap();
    assert_eq!(
        names(&last["assignment"]["a"]),
        ["t-0", "t-1", "t-2", "t-3"]
    );
    assert!(last["assignment"].get("b").is_none());
    // Eager: `a` gave up its partitions before the new assignment.
    let revoked_by_a = of(&lines, "partitions_revoked")
        .into_iter()
        .filter(|r| r["consumer"] == "a" && at_s(r) >= t)
        .count();
    assert_eq!(revoked_by_a, 1);
    // Every record appended before 50 s has been processed by the end.
    let mut processed = BTreeSet::new();
    for p in of(&lines, "processed") {
        processed.insert((p["partition"].as_u64(), p["offset"].as_u64()));
    }
    for a in of(&lines, "appended") {
        if at_s(a) < 50.0 {
            assert!(processed.contains(&(a["partition"].as_u64(), a["offset"].as_u64())));
        }
    }
    let _ = sim;
}

/// Every generation gives each of the topic's `n` partitions to exactly one member.
fn each_partition_owned_once(done: &[&Value], n: usize) {
    for d in done {
        let mut owners: BTreeMap<String, String> = BTreeMap::new();
        for (member, parts) in d["assignment"].as_object().expect("an assignment") {
            for p in names(parts) {
                if let Some(other) = owners.insert(p.clone(), member.clone()) {
                    panic!("{p} given to {other} and {member} at {}", at_s(d));
                }
            }
        }
        assert_eq!(owners.len(), n, "every partition owned at {}: {d}", at_s(d));
    }
}

/// A consumer that crashes and comes back before its session expires joins as a new member
/// (a new `member.id`); its earlier incarnation is another member, which does not rejoin, so
/// the join waits until that one's session expires, and no generation gives a partition to
/// both, or to the dead one.
#[test]
fn a_member_restarted_before_its_session_expires_is_a_new_member() {
    let cfg = json!({"group.id": "g", "session.timeout.ms": 10000, "heartbeat.interval.ms": 1000,
        "auto.offset.reset": "earliest", "processing_time": "5ms"});
    let (lines, _sim) = trace(
        json!({"version": 5, "nodes": [
            {"id": "p", "kind": "kafka_producer", "config": {"rate_per_s": 50, "keys": {"random": 20}}},
            {"id": "t", "kind": "topic", "config": {"partitions": 3}},
            consumer("a", cfg.clone()), consumer("b", cfg)],
          "edges": [{"from": "p", "to": "t"}, {"from": "t", "to": "a"}, {"from": "t", "to": "b"}],
          "actions": [{"at": "20s", "do": "crash", "node": "a"}, {"at": "20s", "do": "crash", "node": "b"},
                      {"at": "23s", "do": "restart", "node": "a"}, {"at": "23s", "do": "restart", "node": "b"}]}),
        60.0,
    );
    let done = of(&lines, "rebalance_completed");
    each_partition_owned_once(&done, 3);
    // Both earlier incarnations time out (last heartbeat at 19 s or 20 s), and only then does
    // the generation after the restart complete, with the two new members alone.
    let removed: Vec<f64> = of(&lines, "member_removed")
        .iter()
        .map(|r| at_s(r))
        .collect();
    assert_eq!(removed.len(), 2, "{removed:?}");
    assert!(
        removed.iter().all(|t| (29.0..=30.0).contains(t)),
        "{removed:?}"
    );
    let after: Vec<&&Value> = done.iter().filter(|d| at_s(d) > 23.0).collect();
    assert_eq!(after.len(), 1, "one rebalance after the restart");
    assert!(at_s(after[0]) >= removed[1]);
    let members: BTreeSet<&str> = after[0]["assignment"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(members, BTreeSet::from(["a-2", "b-2"]));
    // Every record appended before 50 s is processed by the end.
    let processed: BTreeSet<_> = of(&lines, "processed")
        .iter()
        .map(|p| (p["partition"].as_u64(), p["offset"].as_u64()))
        .collect();
    for a in of(&lines, "appended") {
        if at_s(a) < 50.0 {
            assert!(processed.contains(&(a["partition"].as_u64(), a["offset"].as_u64())));
        }
    }
}

/// The same, with `a` crashing a second time while the group waits for the first crash's dead
/// members: its second incarnation had rejoined that round, and must not count as joined once
/// it is dead, or the generation would have `a` twice.
#[test]
fn a_member_that_rejoined_and_crashed_again_is_not_counted_twice() {
    let cfg = json!({"group.id": "g", "session.timeout.ms": 10000, "heartbeat.interval.ms": 1000,
        "auto.offset.reset": "earliest", "processing_time": "5ms"});
    let (lines, _sim) = trace(
        json!({"version": 5, "nodes": [
            {"id": "p", "kind": "kafka_producer", "config": {"rate_per_s": 50, "keys": {"random": 20}}},
            {"id": "t", "kind": "topic", "config": {"partitions": 3}},
            consumer("a", cfg.clone()), consumer("b", cfg)],
          "edges": [{"from": "p", "to": "t"}, {"from": "t", "to": "a"}, {"from": "t", "to": "b"}],
          "actions": [{"at": "20s", "do": "crash", "node": "a"}, {"at": "20s", "do": "crash", "node": "b"},
                      {"at": "23s", "do": "restart", "node": "a"}, {"at": "23s", "do": "restart", "node": "b"},
                      {"at": "25s", "do": "crash", "node": "a"}, {"at": "26s", "do": "restart", "node": "a"}]}),
        80.0,
    );
    let done = of(&lines, "rebalance_completed");
    each_partition_owned_once(&done, 3);
    let last: BTreeSet<&str> = done.last().unwrap()["assignment"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(last, BTreeSet::from(["a-3", "b-2"]));
}

/// Cooperative sticky: a member joining takes partitions in two rounds: the first withholds
/// what must move, its owner revokes only that, and the second round hands it over. The
/// others keep consuming throughout.
#[test]
fn cooperative_sticky_moves_partitions_in_a_second_round() {
    let cfg = json!({"group.id": "g", "partition.assignment.strategy": ["cooperative-sticky"],
        "auto.offset.reset": "earliest", "processing_time": "2ms"});
    let mut late = cfg.clone();
    late["group.initial.rebalance.delay.ms"] = json!(0);
    let (lines, _) = trace(
        json!({"version": 5, "nodes": [
            {"id": "p", "kind": "kafka_producer", "config": {"rate_per_s": 50, "keys": {"random": 50}}},
            {"id": "t", "kind": "topic", "config": {"partitions": 4}},
            consumer("a", cfg.clone()), consumer("b", cfg)],
          "edges": [{"from": "p", "to": "t"}, {"from": "t", "to": "a"}],
          "actions": [{"at": "10s", "do": "add_edge", "edge": {"from": "t", "to": "b"}}]}),
        30.0,
    );
    let done: Vec<&Value> = of(&lines, "rebalance_completed")
        .into_iter()
        .filter(|d| at_s(d) > 10.0)
        .collect();
    assert_eq!(done.len(), 2, "two rounds");
    assert_eq!(names(&done[0]["withheld"]).len(), 2);
    assert!(names(&done[0]["assignment"]["b"]).is_empty());
    assert_eq!(names(&done[0]["assignment"]["a"]).len(), 2);
    assert!(names(&done[1]["withheld"]).is_empty());
    assert_eq!(names(&done[1]["assignment"]["b"]).len(), 2);
    let revoked: Vec<&Value> = of(&lines, "partitions_revoked")
        .into_iter()
        .filter(|r| at_s(r) > 10.0)
        .collect();
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0]["consumer"], "a");
    assert_eq!(
        names(&revoked[0]["partitions"]),
        names(&done[0]["withheld"])
    );
    // `a` kept consuming its other partitions between the two rounds.
    let (r1, r2) = (at_s(done[0]), at_s(done[1]));
    assert!(of(&lines, "processed")
        .iter()
        .any(|p| p["consumer"] == "a" && at_s(p) > r1 && at_s(p) < r2 + 1.0));
}

/// A member that does not poll within `max.poll.interval.ms` leaves the group; its commit
/// afterwards fails (its generation is gone), and it rejoins on its next poll.
#[test]
fn a_commit_after_the_poll_interval_fails_and_the_member_rejoins() {
    let cfg = json!({"group.id": "g", "max.poll.interval.ms": 5000, "auto.offset.reset": "earliest",
        "enable.auto.commit": false, "processing_time": "10ms", "max.poll.records": 10});
    let (lines, _) = trace(
        json!({"version": 5, "nodes": [
            {"id": "p", "kind": "kafka_producer", "config": {"rate_per_s": 20, "keys": ["x", "y"]}},
            {"id": "t", "kind": "topic", "config": {"partitions": 2}},
            consumer("a", cfg.clone()), consumer("b", cfg)],
          "edges": [{"from": "p", "to": "t"}, {"from": "t", "to": "a"}, {"from": "t", "to": "b"}],
          "actions": [{"at": "10s", "do": "pause", "node": "a"}, {"at": "20s", "do": "resume", "node": "a"}]}),
        40.0,
    );
    let removed = of(&lines, "member_removed");
    assert_eq!(removed[0]["consumer"], "a");
    assert_eq!(removed[0]["reason"], "max_poll_interval");
    // Its last poll came before the pause (at 10 s), when it took its last records.
    assert!(
        (14.0..15.2).contains(&at_s(removed[0])),
        "{}",
        at_s(removed[0])
    );
    let failed = of(&lines, "commit_failed");
    assert!(!failed.is_empty(), "the paused member's commit fails");
    assert_eq!(failed[0]["consumer"], "a");
    assert!(at_s(failed[0]) >= 20.0);
    assert!(
        ["UNKNOWN_MEMBER_ID", "ILLEGAL_GENERATION"].contains(&failed[0]["error"].as_str().unwrap())
    );
    // It came back: a later rebalance gives it partitions again.
    let last = of(&lines, "rebalance_completed").last().copied().unwrap();
    assert!(at_s(last) > 20.0);
    assert_eq!(names(&last["assignment"]["a"]).len(), 1);
}

fn crash_doc(commit: &str) -> Value {
    let cfg = json!({"group.id": "g", "auto.offset.reset": "earliest", "enable.auto.commit": false,
        "commit": commit, "commit_every": 50, "processing_time": "20ms", "max.poll.records": 100,
        "session.timeout.ms": 6000, "heartbeat.interval.ms": 1000});
    json!({"version": 5, "nodes": [
        {"id": "p", "kind": "kafka_producer", "config": {"rate_per_s": 200, "limit": 400, "keys": ["k"]}},
        {"id": "t", "kind": "topic", "config": {"partitions": 1}},
        consumer("a", cfg.clone()), consumer("b", cfg)],
      "edges": [{"from": "p", "to": "t"}, {"from": "t", "to": "a"}, {"from": "t", "to": "b"}],
      "actions": [{"at": "8.5s", "do": "crash", "node": "a"}, {"at": "8.5s", "do": "crash", "node": "b"},
                  {"at": "9s", "do": "restart", "node": "b"}]})
}

/// The delivery semantics as consequences: committing after processing, a crash between the
/// two re-delivers (duplicates, nothing lost); committing before, a crash loses what was
/// fetched and not processed.
#[test]
fn commit_after_processing_redelivers_and_commit_before_loses() {
    let counts = |lines: &[Value]| {
        let mut n: BTreeMap<u64, u32> = BTreeMap::new();
        for p in of(lines, "processed") {
            *n.entry(p["offset"].as_u64().unwrap()).or_default() += 1;
        }
        n
    };
    let (after, _) = trace(crash_doc("after_processing"), 60.0);
    let n = counts(&after);
    assert_eq!(n.len(), 400, "at-least-once: every record processed");
    assert!(n.values().any(|&c| c > 1), "and some twice (re-delivered)");
    let (before, _) = trace(crash_doc("before_processing"), 60.0);
    let n = counts(&before);
    assert!(
        n.len() < 400,
        "at-most-once: some records never processed ({})",
        n.len()
    );
    assert!(n.values().all(|&c| c == 1), "none twice");
}

/// A static member that restarts within its session timeout gets its partitions back with no
/// rebalance; a dynamic one rejoins as a new member, and the group rebalances once the earlier
/// incarnation's session expires (it never rejoins).
#[test]
fn a_static_member_comes_back_without_a_rebalance() {
    let run = |instance: bool, until: f64| {
        let mut cfg =
            json!({"group.id": "g", "session.timeout.ms": 20000, "auto.offset.reset": "earliest"});
        let mut a = cfg.clone();
        if instance {
            a["group.instance.id"] = json!("a-1");
            cfg["group.instance.id"] = json!("b-1");
        }
        let (lines, _) = trace(
            json!({"version": 5, "nodes": [
                {"id": "t", "kind": "topic", "config": {"partitions": 4}},
                consumer("a", a), consumer("b", cfg)],
              "edges": [{"from": "t", "to": "a"}, {"from": "t", "to": "b"}],
              "actions": [{"at": "10s", "do": "crash", "node": "a"}, {"at": "12s", "do": "restart", "node": "a"}]}),
            until,
        );
        lines
    };
    let lines = run(true, 25.0);
    assert_eq!(of(&lines, "rebalance_completed").len(), 1, "only the first");
    let again: Vec<&Value> = of(&lines, "partitions_assigned")
        .into_iter()
        .filter(|e| e["consumer"] == "a" && at_s(e) > 12.0)
        .collect();
    assert_eq!(names(&again[0]["partitions"]), ["t-0", "t-1"]);
    let lines = run(false, 40.0);
    let done = of(&lines, "rebalance_completed");
    assert!(done.len() > 1);
    // Its last heartbeat was at 7 s to 10 s (every 3 s): removed 20 s later, and only then
    // does the join complete, without it.
    let removed = of(&lines, "member_removed");
    assert_eq!(removed.len(), 1);
    let gone = at_s(removed[0]);
    assert!((27.0..=30.0).contains(&gone), "removed at {gone}");
    let last = done.last().unwrap();
    assert!(at_s(last) >= gone);
    let members: BTreeSet<&str> = last["assignment"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(members, BTreeSet::from(["a-2", "b"]));
}

/// Several groups read one topic independently: each sees every record, at its own pace,
/// with its own committed offsets; order holds within a partition.
#[test]
fn groups_read_independently_and_order_holds_within_a_partition() {
    let fast =
        json!({"group.id": "fast", "auto.offset.reset": "earliest", "processing_time": "1ms"});
    let slow =
        json!({"group.id": "slow", "auto.offset.reset": "earliest", "processing_time": "30ms"});
    let (lines, sim) = trace(
        json!({"version": 5, "nodes": [
            {"id": "p", "kind": "kafka_producer", "config": {"rate_per_s": 40, "limit": 300, "keys": {"random": 30}}},
            {"id": "t", "kind": "topic", "config": {"partitions": 3}},
            consumer("f", fast), consumer("s", slow)],
          "edges": [{"from": "p", "to": "t"}, {"from": "t", "to": "f"}, {"from": "t", "to": "s"}]}),
        30.0,
    );
    for c in ["f", "s"] {
        let mut last: BTreeMap<u64, u64> = BTreeMap::new();
        let mut n = 0;
        for p in of(&lines, "processed")
            .into_iter()
            .filter(|p| p["consumer"] == c)
        {
            let (part, off) = (
                p["partition"].as_u64().unwrap(),
                p["offset"].as_u64().unwrap(),
            );
            if let Some(&l) = last.get(&part) {
                assert!(off > l, "{c}: {part}: {off} after {l}");
            }
            last.insert(part, off);
            n += 1;
        }
        assert_eq!(n, 300, "{c} processed every record once");
    }
    // The slow group lags: lag is the log end offset less the committed offset.
    let m = sim.metrics();
    let topic = m.nodes[1].kafka().unwrap();
    let switchboard_core::kafka::KafkaMetrics::Topic(t) = topic else {
        unreachable!()
    };
    for g in &t.groups {
        let end = t.partitions[g.partition as usize].end;
        assert_eq!(g.lag, g.committed.map(|c| end - c));
        // The reader's position is at or past what its group committed, and within the log.
        if let (Some(p), Some(c)) = (g.position, g.committed) {
            assert!(
                c <= p && p <= end,
                "{}: committed {c}, position {p}, end {end}",
                g.group
            );
        }
    }
    assert!(
        t.groups.iter().all(|g| g.position.is_some()),
        "every partition has a reader"
    );
}

/// Retention deletes whole segments, oldest first, and moves the log start; a consumer whose
/// position fell below it is reset by `auto.offset.reset`.
#[test]
fn retention_moves_the_log_start_and_a_consumer_behind_it_is_reset() {
    let (lines, sim) = trace(
        json!({"version": 5, "nodes": [
            {"id": "p", "kind": "kafka_producer", "config": {"rate_per_s": 100, "keys": ["k"], "value_bytes": 100}},
            {"id": "t", "kind": "topic", "config": {"partitions": 1, "segment.bytes": 1000,
                "retention.bytes": 3000, "log.retention.check.interval.ms": 1000}},
            consumer("c", json!({"group.id": "g", "auto.offset.reset": "earliest", "processing_time": "50ms"}))],
          "edges": [{"from": "p", "to": "t"}, {"from": "t", "to": "c"}]}),
        30.0,
    );
    let deleted = of(&lines, "segment_deleted");
    assert!(!deleted.is_empty());
    assert!(deleted.iter().all(|d| d["cause"] == "retention.bytes"));
    let starts: Vec<u64> = deleted
        .iter()
        .map(|d| d["log_start"].as_u64().unwrap())
        .collect();
    assert!(
        starts.windows(2).all(|w| w[0] <= w[1]),
        "the log start only moves on"
    );
    // Segments of 10 records (1,000 bytes); at most 3,000 bytes plus the active segment stay.
    let m = sim.metrics();
    let Some(switchboard_core::kafka::KafkaMetrics::Topic(t)) = m.nodes[1].kafka() else {
        unreachable!()
    };
    assert!(t.partitions[0].bytes <= 4000, "{}", t.partitions[0].bytes);
    let resets: Vec<&Value> = of(&lines, "offset_reset")
        .into_iter()
        .filter(|r| r["cause"] == "out_of_range")
        .collect();
    assert!(
        !resets.is_empty(),
        "the slow consumer fell behind the log start"
    );
    for r in resets {
        assert!(r["to"].as_u64() > r["from"].as_u64());
    }
}

/// A compacted topic refuses a record without a key; it keeps the latest value of each key,
/// and a tombstone until its delete horizon.
#[test]
fn compaction_keeps_the_latest_per_key_and_refuses_keyless_records() {
    let (lines, sim) = trace(
        json!({"version": 5, "nodes": [
            {"id": "p", "kind": "kafka_producer", "config": {"value_bytes": 10}},
            {"id": "t", "kind": "topic", "config": {"partitions": 1, "cleanup.policy": "compact",
                "segment.ms": 1000, "log.cleaner.backoff.ms": 1000, "delete.retention.ms": 5000}}],
          "edges": [{"from": "p", "to": "t", "latency": "1ms"}],
          "actions": [
            {"at": "0.1s", "do": "publish", "node": "p", "message": {"key": "k1"}},
            {"at": "0.2s", "do": "publish", "node": "p", "message": {"key": "k2"}},
            {"at": "0.3s", "do": "publish", "node": "p", "message": {"key": "k1"}},
            {"at": "0.4s", "do": "publish", "node": "p", "message": {"key": "k2", "tombstone": true}},
            {"at": "0.5s", "do": "publish", "node": "p", "message": {"key": "k3"}},
            {"at": "0.6s", "do": "publish", "node": "p", "message": {}},
            {"at": "2s", "do": "publish", "node": "p", "message": {"key": "k4"}}]}),
        30.0,
    );
    let refused = of(&lines, "produce_refused");
    assert_eq!(refused.len(), 1);
    assert_eq!(
        refused[0]["reason"],
        "Compacted topic cannot accept message without key"
    );
    let compacted = of(&lines, "compacted");
    assert!(
        compacted.len() >= 2,
        "once for k1 and k2, once for the tombstone"
    );
    assert_eq!(compacted[0]["removed"], 2);
    let m = sim.metrics();
    let Some(switchboard_core::kafka::KafkaMetrics::Topic(t)) = m.nodes[1].kafka() else {
        unreachable!()
    };
    let kept: Vec<(u64, Option<String>)> = t.partitions[0]
        .tail
        .iter()
        .map(|r| (r.offset, r.key.clone()))
        .collect();
    assert_eq!(
        kept,
        [
            (2, Some("k1".into())),
            (4, Some("k3".into())),
            (5, Some("k4".into()))
        ],
        "offsets never change; k2's tombstone went after its delete horizon"
    );
}

/// `auto.offset.reset=none`: with no committed offset the consumer's poll throws and it
/// stops; `latest` skips what was written before it joined.
#[test]
fn offset_reset_none_stops_the_consumer_and_latest_skips_the_past() {
    let (lines, _) = trace(
        json!({"version": 5, "nodes": [
            {"id": "p", "kind": "kafka_producer", "config": {"rate_per_s": 10, "keys": ["a"]}},
            {"id": "t", "kind": "topic"},
            consumer("n", json!({"group.id": "none", "auto.offset.reset": "none"})),
            consumer("l", json!({"group.id": "latest"}))],
          "edges": [{"from": "p", "to": "t"}, {"from": "t", "to": "n"}, {"from": "t", "to": "l"}]}),
        20.0,
    );
    let none = of(&lines, "no_offset");
    assert_eq!(none.len(), 1);
    assert!(of(&lines, "processed").iter().all(|p| p["consumer"] == "l"));
    let reset = of(&lines, "offset_reset")
        .into_iter()
        .find(|r| r["consumer"] == "l")
        .unwrap();
    assert!(
        reset["to"].as_u64().unwrap() > 0,
        "latest: the records before are skipped"
    );
}

/// Growing a live topic rebalances its groups; shrinking it is refused with Kafka's reason,
/// and the log is untouched.
#[test]
fn partitions_grow_live_and_never_shrink() {
    let doc = json!({"version": 5, "nodes": [
        {"id": "p", "kind": "kafka_producer", "config": {"rate_per_s": 20, "keys": {"random": 10}}},
        {"id": "t", "kind": "topic", "config": {"partitions": 2}},
        consumer("c", json!({"group.id": "g", "auto.offset.reset": "earliest"}))],
      "edges": [{"from": "p", "to": "t"}, {"from": "t", "to": "c"}]});
    let s = Scenario::from_json(&doc.to_string()).unwrap();
    let mut sim = Sim::new(&s).unwrap();
    sim.advance_to(secs(10.0));
    let t = sim.topology().node_id("t").unwrap();
    let spec = |n: u32| -> NodeSpec {
        serde_json::from_value(json!({"id": "t", "kind": "topic", "config": {"partitions": n}}))
            .unwrap()
    };
    let records = |sim: &Sim| match sim.metrics().nodes[1].kafka() {
        Some(switchboard_core::kafka::KafkaMetrics::Topic(t)) => {
            t.partitions.iter().map(|p| p.records).sum::<u64>()
        }
        _ => unreachable!(),
    };
    let before = records(&sim);
    let err = sim
        .apply(Command::Configure {
            node: t,
            spec: spec(1),
        })
        .expect_err("refused");
    assert!(
        err.to_string().contains("InvalidPartitionsException")
            && err.to_string().contains("currently has 2 partitions"),
        "{err}"
    );
    assert_eq!(records(&sim), before, "nothing lost");
    sim.apply(Command::Configure {
        node: t,
        spec: spec(4),
    })
    .expect("grows");
    sim.advance_to(secs(30.0));
    let events: Vec<_> = sim.drain_events().collect();
    let lines: Vec<Value> = events
        .iter()
        .map(|e| event_json(e, sim.topology()))
        .collect();
    let started = of(&lines, "rebalance_started");
    assert!(started.iter().any(|r| r["reason"] == "partitions_changed"));
    let last = of(&lines, "rebalance_completed").last().copied().unwrap();
    assert_eq!(names(&last["assignment"]["c"]).len(), 4);
}

/// `seek` to the beginning replays a partition from its log start; a seek to a partition the
/// consumer does not own is refused (`IllegalStateException`).
#[test]
fn seek_to_the_beginning_replays_and_a_seek_elsewhere_is_refused() {
    let (lines, _) = trace(
        json!({"version": 5, "nodes": [
            {"id": "p", "kind": "kafka_producer", "config": {"rate_per_s": 20, "limit": 100, "keys": ["a"]}},
            {"id": "t", "kind": "topic", "config": {"partitions": 1}},
            consumer("c", json!({"group.id": "g", "auto.offset.reset": "earliest", "processing_time": "1ms"}))],
          "edges": [{"from": "p", "to": "t"}, {"from": "t", "to": "c"}],
          "actions": [{"at": "20s", "do": "seek", "node": "c", "to": "beginning"}]}),
        40.0,
    );
    let seek = of(&lines, "offset_reset")
        .into_iter()
        .find(|r| r["cause"] == "seek")
        .expect("the seek");
    assert_eq!(seek["from"], 100);
    assert_eq!(seek["to"], 0);
    let mut count: BTreeMap<u64, u32> = BTreeMap::new();
    for p in of(&lines, "processed") {
        *count.entry(p["offset"].as_u64().unwrap()).or_default() += 1;
    }
    assert_eq!(count.len(), 100);
    assert!(
        count.values().all(|&n| n == 2),
        "every record processed again"
    );

    let doc = json!({"version": 5, "nodes": [
        {"id": "t", "kind": "topic", "config": {"partitions": 2}},
        {"id": "u", "kind": "topic"},
        consumer("c", json!({"group.id": "g"}))],
      "edges": [{"from": "t", "to": "c"}]});
    let s = Scenario::from_json(&doc.to_string()).unwrap();
    let mut sim = Sim::new(&s).unwrap();
    sim.advance_to(secs(10.0));
    let (c, u) = (
        sim.topology().node_id("c").unwrap(),
        sim.topology().node_id("u").unwrap(),
    );
    let err = sim
        .apply(Command::Seek {
            node: c,
            topic: Some(u),
            partition: None,
            to: switchboard_core::kafka::SeekTo::Offset(0),
        })
        .unwrap_err();
    assert!(err.to_string().contains("No current assignment"), "{err}");
}
