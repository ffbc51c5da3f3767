//! A Kafka consumer's handler: its steps (store reads and writes, RabbitMQ publishes) run for
//! each record after its processing time, before the record counts as processed. A consumer
//! that crashes after processing records it had not yet committed leaves its partitions to its
//! partner, which reads them again from the committed offset: each record done again writes
//! again (a duplicate), unless the write's idempotency key names the record
//! (`{partition}:{offset}`). Bad steps as diagnostics with paths.

mod common;

use serde_json::{json, Value};
use switchboard_core::data::{DataEvent, StoreMetrics};
use switchboard_core::kafka::KafkaEvent;
use switchboard_core::{Event, EventKind, Sim, SimTime};

/// 3,000 records (100 a second, 500 keys) into a topic of two partitions, read by a group of
/// two at-least-once consumers that commit after every 100 records and write each record to
/// `ledger` with `write`. `alo-1` crashes at 10 s, in the middle of its records.
fn ledger(write: Value) -> Value {
    let consumer = |id: &str, y: i32| {
        json!({"id": id, "kind": "kafka_consumer", "config": {
            "group.id": "ledger", "enable.auto.commit": false, "commit": "after_processing",
            "commit_every": 100, "max.poll.records": 200, "auto.offset.reset": "earliest",
            "processing_time": "8ms", "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 1000, "handler": [write]},
            "position": {"x": 600, "y": y}})
    };
    json!({"version": 9, "seed": 3,
        "nodes": [
            {"id": "orders", "kind": "kafka_producer", "config": {
                "rate_per_s": 100, "keys": {"random": 500}, "value_bytes": 200, "limit": 3000}},
            {"id": "order-events", "kind": "topic", "config": {"partitions": 2}},
            consumer("alo-1", 60), consumer("alo-2", 300),
            {"id": "ledger", "kind": "store", "config": {"write_latency": "1ms"}}],
        "edges": [
            {"from": "orders", "to": "order-events"},
            {"from": "order-events", "to": "alo-1"},
            {"from": "order-events", "to": "alo-2"},
            {"from": "alo-1", "to": "ledger", "latency": "1ms"},
            {"from": "alo-2", "to": "ledger", "latency": "1ms"}],
        "actions": [{"at": "10s", "do": "crash", "node": "alo-1"}]})
}

fn run(doc: &Value, until_s: u64) -> (Vec<Event>, Sim) {
    let s = common::scenario(&doc.to_string());
    common::run_events(&s, SimTime(until_s * 1_000_000), true)
}

fn store(sim: &Sim, name: &str) -> StoreMetrics {
    let id = sim.topology().node_id(name).unwrap();
    sim.metrics().nodes[id.index()].store().unwrap().clone()
}

fn processed(events: &[Event]) -> u64 {
    events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Kafka(KafkaEvent::Processed { .. })))
        .count() as u64
}

#[test]
fn records_done_again_after_a_crash_write_again_unless_keyed_by_partition_and_offset() {
    // Without an idempotency key: every record's key written, some twice.
    let (events, sim) = run(
        &ledger(json!({"write": "ledger", "key": "order:{partition}:{offset}"})),
        60,
    );
    let m = store(&sim, "ledger");
    let done = processed(&events);
    assert_eq!(m.keys, 3000, "each record has its own key");
    assert_eq!(m.stats.writes, done, "one write per record processed");
    assert!(
        done > 3000,
        "the crash made records be processed again: {done}"
    );
    assert_eq!(
        m.stats.duplicates,
        done - 3000,
        "each record done again is a duplicate"
    );
    // Each write was applied before its record counted as processed: the write of a record
    // comes before its `processed` event.
    let mut written = std::collections::BTreeSet::new();
    for e in &events {
        match &e.kind {
            EventKind::Data(d) => {
                if let DataEvent::Written { message, .. } = &**d {
                    written.insert(*message);
                }
            }
            EventKind::Kafka(KafkaEvent::Processed { message, .. }) => {
                assert!(
                    written.contains(message),
                    "record {message:?} processed unwritten"
                );
            }
            _ => {}
        }
    }

    // With `{partition}:{offset}` as the idempotency key: the same records done again, none
    // applied twice.
    let (events, sim) = run(
        &ledger(
            json!({"write": "ledger", "key": "order:{partition}:{offset}",
                       "idempotency_key": "{partition}:{offset}"}),
        ),
        60,
    );
    let m = store(&sim, "ledger");
    let again = processed(&events) - 3000;
    assert!(again > 0);
    assert_eq!(
        (m.keys, m.stats.writes, m.stats.duplicates),
        (3000, 3000, 0)
    );
    assert_eq!(m.stats.deduplicated, again);
}

#[test]
fn the_record_key_names_what_the_record_is_about() {
    // `{record_key}`: the latest order per key, at most 500 keys, one version per record.
    let (events, sim) = run(
        &ledger(json!({"write": "ledger", "key": "latest:{record_key}"})),
        60,
    );
    let m = store(&sim, "ledger");
    assert!(m.keys <= 500 && m.keys > 400, "{} keys", m.keys);
    assert_eq!(m.stats.writes, processed(&events));
    let id = sim.topology().node_id("ledger").unwrap();
    assert!(sim
        .store_values(id)
        .unwrap()
        .all(|(k, _)| k.starts_with("latest:")));
}

#[test]
fn a_consumers_publish_carries_the_record_into_rabbitmq() {
    // The consumer publishes each record to a RabbitMQ queue, whose consumer writes it by the
    // record's own message: the chain continues across the paradigms.
    let doc = json!({"version": 9, "seed": 1,
        "nodes": [
            {"id": "orders", "kind": "kafka_producer", "config": {
                "rate_per_s": 50, "keys": ["a"], "limit": 100}},
            {"id": "order-events", "kind": "topic", "config": {"partitions": 1}},
            {"id": "bridge", "kind": "kafka_consumer", "config": {
                "auto.offset.reset": "earliest", "processing_time": "1ms",
                "handler": [{"publish": "mail", "headers": {"offset": "{offset}"}}]}},
            {"id": "mail", "kind": "queue", "config": {}},
            {"id": "mailer", "kind": "consumer", "config": {"processing": "1ms",
                "handler": [{"write": "sent", "key": "mail:{header.offset}"}]}},
            {"id": "sent", "kind": "store", "config": {}}],
        "edges": [
            {"from": "orders", "to": "order-events"},
            {"from": "order-events", "to": "bridge"},
            {"from": "bridge", "to": "mail", "latency": "1ms"},
            {"from": "mail", "to": "mailer", "latency": "1ms"},
            {"from": "mailer", "to": "sent", "latency": "1ms"}]});
    let (_, sim) = run(&doc, 30);
    let m = store(&sim, "sent");
    assert_eq!((m.keys, m.stats.writes), (100, 100));
    let id = sim.topology().node_id("sent").unwrap();
    let keys: Vec<String> = sim
        .store_values(id)
        .unwrap()
        .map(|(k, _)| k.to_owned())
        .collect();
    assert!(keys.contains(&"mail:0".to_owned()) && keys.contains(&"mail:99".to_owned()));
}

#[test]
fn a_step_that_cannot_be_carried_out_is_logged_and_the_record_counts_as_processed() {
    // A live edit removes the store: every later write fails; the consumer goes on.
    let mut doc = ledger(json!({"write": "ledger", "key": "order:{offset}"}));
    doc["actions"] = json!([{"at": "5s", "do": "remove_node", "node": "ledger"}]);
    let s = common::scenario(&doc.to_string());
    let (events, _) = common::run_events(&s, SimTime(40_000_000), true);
    let failed = events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::Kafka(KafkaEvent::StepFailed(_))))
        .count();
    assert!(failed > 100, "writes after the removal fail: {failed}");
    assert_eq!(
        processed(&events),
        3000,
        "no crash here: each record processed once"
    );
}

#[test]
fn bad_kafka_handlers_are_diagnostics_with_paths() {
    let with = |write: Value| ledger(write);
    common::refused(
        &with(json!({"write": "ledger", "key": "job:{job_id}"})),
        "nodes[2].config.handler[0].key",
        "{job_id}: a Kafka consumer's messages are not BullMQ jobs",
    );
    common::refused(
        &with(json!({"write": "ledger", "key": "k:{routing_key}"})),
        "nodes[2].config.handler[0].key",
        "a Kafka record has no routing key; use {record_key}",
    );
    let mut call = with(json!({"call": "ledger"}));
    call["version"] = json!(11);
    common::refused(
        &call,
        "nodes[2].config.handler[0].call[0]",
        "\"ledger\" is a store; a call step calls a service or a load balancer",
    );
    common::refused(
        &with(json!({"write": "nowhere", "key": "k"})),
        "nodes[2].config.handler[0].write",
        "there is no node of that name",
    );
    // Record fields outside a Kafka consumer.
    let mut doc = ledger(json!({"write": "ledger", "key": "k"}));
    doc["nodes"].as_array_mut().unwrap().extend([
        json!({"id": "q", "kind": "queue", "config": {}}),
        json!({"id": "c", "kind": "consumer", "config": {
            "handler": [{"write": "ledger", "key": "k:{offset}"}]}}),
    ]);
    doc["edges"].as_array_mut().unwrap().extend([
        json!({"from": "q", "to": "c"}),
        json!({"from": "c", "to": "ledger"}),
    ]);
    common::refused(
        &doc,
        "nodes[6].config.handler[0].key",
        "{offset}: a consumer's messages are not Kafka records",
    );
    // A version-8 document's Kafka consumer has no handler.
    let mut old = ledger(json!({"write": "ledger", "key": "k"}));
    old["version"] = json!(8);
    common::refused(
        &old,
        "nodes[2].config.handler",
        "a Kafka consumer's `handler` is new in format version 9",
    );
}
