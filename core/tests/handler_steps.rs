//! Handler steps across paradigms: `add_job` (a handler adds a BullMQ job and waits for
//! Redis's answer; the job continues the handled message's chain; a custom `job_id` made from
//! the message makes a redelivery's add a duplicate BullMQ ignores), `produce` (a handler
//! produces a Kafka record, partitioned as a producer's, and waits for the acknowledgement;
//! a redelivery appends it again) and `fail` (a handler
//! throws on a mark or with a probability, and each paradigm does what it does with a throw).
//! Hand-computed timings; bad steps as diagnostics with paths.

mod common;

use serde_json::{json, Value};
use switchboard_core::amqp::AmqpEvent;
use switchboard_core::bullmq::{BullmqEvent, BullmqMetrics};
use switchboard_core::data::DataEvent;
use switchboard_core::http::HttpEvent;
use switchboard_core::kafka::KafkaEvent;
use switchboard_core::{Event, EventKind, Scenario, Sim, SimTime};

const MS: u64 = 1_000;

use common::data::receipts;

fn run(doc: &Value, until_ms: u64) -> (Vec<Event>, Sim) {
    let s = common::scenario(&doc.to_string());
    common::run_events(&s, SimTime(until_ms * MS), true)
}

fn job_queue(sim: &Sim, name: &str) -> switchboard_core::bullmq::QueueMetrics {
    let id = sim.topology().node_id(name).unwrap();
    match sim.metrics().nodes[id.index()].bullmq() {
        Some(BullmqMetrics::Queue(q)) => (**q).clone(),
        other => panic!("{name} is not a job queue: {other:?}"),
    }
}

fn store(sim: &Sim, name: &str) -> switchboard_core::data::StoreMetrics {
    let id = sim.topology().node_id(name).unwrap();
    sim.metrics().nodes[id.index()].store().unwrap().clone()
}

/// The jobs added, as (ms, id, name, message).
fn added(events: &[Event]) -> Vec<(u64, String, String, switchboard_core::MessageId)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Bullmq(BullmqEvent::Added { job, .. }) => Some((
                e.at.0 / MS,
                job.id.to_string(),
                job.name.to_string(),
                job.message,
            )),
            _ => None,
        })
        .collect()
}

fn acked_at(events: &[Event]) -> Vec<u64> {
    events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::Amqp(a) if a.name() == "acked"))
        .map(|e| e.at.0 / MS)
        .collect()
}

#[test]
fn an_added_job_continues_the_chain_and_the_handler_waits_for_redis() {
    let (events, sim) = run(
        &receipts(json!({"add_job": "emails", "name": "receipt",
                         "data": {"order": "{header.order}"}})),
        1000,
    );
    // Delivered at 2 ms, processed to 12; the add leaves at 12 and reaches Redis at 14 (the
    // job is added there); Redis's answer is back at 16, and payer acks then (the ack reaches
    // the broker 1 ms later).
    let jobs = added(&events);
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let (at, id, name, message) = &jobs[0];
    assert_eq!((*at, id.as_str(), name.as_str()), (14, "1", "receipt"));
    assert_eq!(acked_at(&events), vec![17]);
    // The job's message continues the payment's chain, caused by the payment.
    let first = events
        .iter()
        .find_map(|e| match e.kind {
            EventKind::Published { message, .. } => Some(message),
            _ => None,
        })
        .unwrap();
    let sent_by_payer = events
        .iter()
        .find_map(|e| match e.kind {
            EventKind::Published {
                message,
                correlation,
                node,
                cause,
            } if cause == Some(first) && node == sim.topology().node_id("payer").unwrap() => {
                Some((message, correlation))
            }
            _ => None,
        })
        .expect("payer's add counts as its publish");
    assert_eq!(sent_by_payer, (*message, first));
    // The worker read the job's data: it wrote the order's key.
    let written: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Data(d) => match &**d {
                DataEvent::Written { key, .. } => Some(key.to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert_eq!(written, vec!["mail:A-1".to_owned()]);
    let q = job_queue(&sim, "emails");
    assert_eq!((q.stats.added, q.stats.completed), (1, 1));
    assert_eq!(sim.totals().live, 0, "acked and completed: nothing left");
}

#[test]
fn a_redelivered_add_makes_a_second_job_unless_the_job_id_is_the_message_id() {
    // payer crashes after its first delivery's handler (after the add, before the ack), and
    // comes back at 100 ms: the redelivery adds again.
    let crash = |add: Value| {
        let mut doc = receipts(add);
        doc["nodes"][2]["config"]["crash_after"] = json!(1);
        doc["actions"]
            .as_array_mut()
            .unwrap()
            .push(json!({"at": "100ms", "do": "restart", "node": "payer"}));
        doc
    };
    let plain = json!({"add_job": "emails", "name": "receipt",
                       "data": {"order": "{header.order}"}});
    let (events, sim) = run(&crash(plain.clone()), 1000);
    let ids: Vec<String> = added(&events).into_iter().map(|j| j.1).collect();
    assert_eq!(ids, vec!["1".to_owned(), "2".to_owned()], "two receipts");
    // Two jobs, two messages: the store cannot tell the second mail from a new one.
    let sent = store(&sim, "sent");
    assert_eq!((sent.keys, sent.stats.writes), (1, 2), "mailed twice");

    let mut keyed = plain;
    keyed["job_id"] = json!("receipt-{message_id}");
    let (events, sim) = run(&crash(keyed), 1000);
    let jobs = added(&events);
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert!(jobs[0].1.starts_with("receipt-"), "{jobs:?}");
    let duplicated = events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::Bullmq(b) if b.name() == "duplicated"))
        .count();
    assert_eq!(duplicated, 1);
    let q = job_queue(&sim, "emails");
    assert_eq!((q.stats.added, q.stats.duplicated), (1, 1));
    assert_eq!(store(&sim, "sent").stats.writes, 1, "mailed once");
    // Redis answers a duplicate add as it answers any add: the redelivery is acked.
    assert_eq!(acked_at(&events).len(), 1);
}

#[test]
fn a_job_id_bullmq_would_refuse_fails_the_step_before_anything_is_sent() {
    // `{correlation_id}` alone makes an integer id: `Queue.add` throws "Custom Id cannot be
    // integers", so payer's handler throws, and the delivery is rejected (on_failure).
    let mut doc = receipts(json!({"add_job": "emails", "job_id": "{correlation_id}"}));
    doc["nodes"][2]["config"]["on_failure"] = json!({"action": "reject", "requeue": false});
    let (events, sim) = run(&doc, 1000);
    let reasons: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Amqp(AmqpEvent::StepFailed { reason, .. }) => Some(reason.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(reasons.len(), 1);
    assert!(
        reasons[0].contains("Custom Id cannot be integers"),
        "{reasons:?}"
    );
    assert!(added(&events).is_empty());
    assert_eq!(sim.totals().dropped_total(), 1, "rejected");
}

#[test]
fn a_service_adds_a_job_and_answers_after_redis_does() {
    // A client's request reaches `api` (1 ms), which works 3 ms and adds a job (2 ms each
    // way): it responds at 8 ms, and the client has its answer at 9.
    let doc = json!({"version": 10, "seed": 1,
        "nodes": [
            {"id": "web", "kind": "client", "config": {}},
            {"id": "api", "kind": "service", "config": {
                "service_time": "3ms", "handler": [{"add_job": "work", "name": "order"}]}},
            {"id": "work", "kind": "job_queue"}],
        "edges": [
            {"from": "web", "to": "api", "latency": "1ms"},
            {"from": "api", "to": "work", "latency": "2ms"}],
        "actions": [{"at": "0s", "do": "publish", "node": "web"}]});
    let (events, sim) = run(&doc, 1000);
    let jobs = added(&events);
    assert_eq!(jobs.iter().map(|j| j.0).collect::<Vec<_>>(), vec![6]);
    let responded: Vec<u64> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Http(HttpEvent::Responded { .. }) => Some(e.at.0 / MS),
            _ => None,
        })
        .collect();
    assert_eq!(responded, vec![8]);
    assert_eq!(job_queue(&sim, "work").waiting, 1);
}

/// The records appended, as (ms, partition, offset, key, message, producer name).
fn appended(sim: &Sim, events: &[Event]) -> Vec<(u64, u32, u64, Option<String>, String)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Kafka(KafkaEvent::Appended(a)) => Some((
                e.at.0 / MS,
                a.tp.1,
                a.offset,
                a.key.as_deref().map(str::to_owned),
                sim.topology().node(a.producer).name.clone(),
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn a_service_produces_a_record_and_answers_after_the_ack() {
    // A client's request reaches `api` at 1 ms; api works 3 ms and produces a record keyed by
    // the request (2 ms each way): appended at 6, acknowledged at 8, when api responds. The
    // group reads it and its handler writes the record's key.
    let doc = json!({"version": 10, "seed": 1,
        "nodes": [
            {"id": "web", "kind": "client", "config": {}},
            {"id": "api", "kind": "service", "config": {
                "service_time": "3ms",
                "handler": [{"produce": "orders", "key": "order-{correlation_id}",
                             "headers": {"via": "api"}}]}},
            {"id": "orders", "kind": "topic", "config": {"partitions": 3}},
            {"id": "view", "kind": "kafka_consumer", "config": {
                "group.id": "v", "auto.offset.reset": "earliest",
                "handler": [{"write": "db", "key": "{record_key}:{header.via}"}]}},
            {"id": "db", "kind": "store", "config": {}}],
        "edges": [
            {"from": "web", "to": "api", "latency": "1ms"},
            {"from": "api", "to": "orders", "latency": "2ms"},
            {"from": "orders", "to": "view"},
            {"from": "view", "to": "db"}],
        "actions": [{"at": "0s", "do": "publish", "node": "web"}]});
    let (events, sim) = run(&doc, 20_000);
    let request = events
        .iter()
        .find_map(|e| match e.kind {
            EventKind::Published { correlation, .. } => Some(correlation),
            _ => None,
        })
        .unwrap();
    let key = format!("order-{}", request.0);
    // The producers' partitioner (murmur2, as Kafka's), for the handler's record too.
    let partition = switchboard_core::kafka::partitioner::partition_for_key(key.as_bytes(), 3);
    let records = appended(&sim, &events);
    assert_eq!(
        records,
        vec![(6, partition, 0, Some(key.clone()), "api".to_owned())]
    );
    let responded: Vec<u64> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Http(HttpEvent::Responded { .. }) => Some(e.at.0 / MS),
            _ => None,
        })
        .collect();
    assert_eq!(responded, vec![8]);
    let db = store(&sim, "db");
    assert_eq!((db.keys, db.stats.writes), (1, 1));
    let written = events.iter().find_map(|e| match &e.kind {
        EventKind::Data(d) => match &**d {
            DataEvent::Written { key, .. } => Some(key.to_string()),
            _ => None,
        },
        _ => None,
    });
    assert_eq!(written, Some(format!("{key}:api")));
}

#[test]
fn a_redelivered_produce_appends_the_record_twice() {
    // payer produces each payment to `paid` and crashes after its first, before its ack: the
    // redelivery produces again. Kafka keeps both records (no idempotent producer spans two
    // deliveries), at offsets 0 and 1 of the key's partition.
    let doc = json!({"version": 10, "seed": 1,
        "nodes": [
            {"id": "shop", "kind": "producer", "config": {}},
            {"id": "payments", "kind": "queue", "config": {}},
            {"id": "payer", "kind": "consumer", "config": {
                "processing": "10ms", "crash_after": 1,
                "handler": [{"produce": "paid", "key": "{message_id}"}]}},
            {"id": "paid", "kind": "topic", "config": {"partitions": 1}}],
        "edges": [
            {"from": "shop", "to": "payments", "latency": "1ms"},
            {"from": "payments", "to": "payer", "latency": "1ms"},
            {"from": "payer", "to": "paid", "latency": "2ms"}],
        "actions": [
            {"at": "0s", "do": "publish", "node": "shop"},
            {"at": "100ms", "do": "restart", "node": "payer"}]});
    let (events, sim) = run(&doc, 1000);
    let records = appended(&sim, &events);
    // Delivered at 2, processed to 12, appended at 14, acknowledged at 16: payer crashes
    // there. Back at 100, delivered again at 101, processed to 111, appended at 113.
    let at: Vec<(u64, u64)> = records.iter().map(|r| (r.0, r.2)).collect();
    assert_eq!(at, vec![(14, 0), (113, 1)]);
    assert_eq!(records[0].3, records[1].3, "the same key twice");
    assert_eq!(acked_at(&events), vec![116]);
}

#[test]
fn null_key_records_from_a_handler_spread_over_the_partitions() {
    // 400 deliveries, each producing a record without a key to a topic of 4 partitions: the
    // client draws each partition from the seed, so each partition gets about 100 (the bounds
    // are six standard deviations wide).
    let doc = json!({"version": 10, "seed": 9,
        "nodes": [
            {"id": "shop", "kind": "producer", "config": {"rate_per_s": 1000, "limit": 400}},
            {"id": "q", "kind": "queue", "config": {}},
            {"id": "c", "kind": "consumer", "config": {
                "processing": "0ms", "prefetch_count": 50, "handler": [{"produce": "t"}]}},
            {"id": "t", "kind": "topic", "config": {"partitions": 4}}],
        "edges": [
            {"from": "shop", "to": "q", "latency": "1ms"},
            {"from": "q", "to": "c", "latency": "1ms"},
            {"from": "c", "to": "t", "latency": "1ms"}],
        "actions": []});
    let (events, sim) = run(&doc, 5_000);
    let records = appended(&sim, &events);
    assert_eq!(records.len(), 400);
    for p in 0..4 {
        let n = records.iter().filter(|r| r.1 == p).count();
        assert!((49..=151).contains(&n), "partition {p} has {n}");
        assert!(records.iter().all(|r| r.3.is_none()));
    }
}

/// Twenty messages to `q`, half of them marked `x-bad`; `c`'s handler fails on the mark
/// (and then would write), and it dead-letters what fails.
fn marked(fail: Value) -> Value {
    let mut actions = Vec::new();
    for i in 0..20 {
        let message = if i % 2 == 0 {
            json!({"headers": {"x-bad": "yes"}})
        } else {
            json!({})
        };
        actions.push(
            json!({"at": format!("{}ms", i * 10), "do": "publish", "node": "p",
                            "message": message}),
        );
    }
    json!({"version": 10, "seed": 4,
        "nodes": [
            {"id": "p", "kind": "producer", "config": {}},
            {"id": "q", "kind": "queue", "config": {"arguments": {
                "x-dead-letter-exchange": "", "x-dead-letter-routing-key": "dlq"}}},
            {"id": "dlq", "kind": "queue", "config": {}},
            {"id": "c", "kind": "consumer", "config": {
                "processing": "1ms", "on_failure": {"action": "reject", "requeue": false},
                "handler": [fail, {"write": "db", "key": "k:{message_id}"}]}},
            {"id": "db", "kind": "store", "config": {}}],
        "edges": [
            {"from": "p", "to": "q"},
            {"from": "q", "to": "c"},
            {"from": "c", "to": "db"}],
        "actions": actions})
}

#[test]
fn a_fail_step_throws_for_every_marked_input_and_no_other() {
    let (events, sim) = run(&marked(json!({"fail": {"header": "x-bad"}})), 2000);
    let failed = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Amqp(AmqpEvent::StepFailed { .. })))
        .count();
    assert_eq!(failed, 10);
    // The throw comes before the write: only unmarked messages are written.
    assert_eq!(store(&sim, "db").stats.writes, 10);
    let dlq = sim.topology().node_id("dlq").unwrap();
    assert_eq!(sim.metrics().nodes[dlq.index()].queue().unwrap().ready, 10);
    // A mark-only step draws nothing from the seed: the run is the same as without it.
    let plain = marked(json!({"fail": {"header": "x-none"}}));
    let (events, _) = run(&plain, 2000);
    assert!(events
        .iter()
        .all(|e| !matches!(e.kind, EventKind::Amqp(AmqpEvent::StepFailed { .. }))));
}

#[test]
fn a_fail_step_with_a_probability_throws_about_that_often_and_jobs_retry() {
    // 400 jobs, each with 2 attempts; the worker's handler fails with probability 0.5: about
    // half the first attempts throw, and about half of those throw again and fail for good
    // (a quarter of the jobs). Seeded, so the counts are fixed; the bounds are four standard
    // deviations wide, so a wrong probability cannot pass.
    let doc = json!({"version": 10, "seed": 11,
        "nodes": [
            {"id": "jobs", "kind": "job_producer", "config": {
                "rate_per_s": 1000, "limit": 400, "opts": {"attempts": 2}}},
            {"id": "q", "kind": "job_queue"},
            {"id": "w", "kind": "worker", "config": {
                "concurrency": 50, "processing_time": "1ms",
                "handler": [{"fail": {"probability": 0.5}}]}}],
        "edges": [{"from": "jobs", "to": "q", "latency": "1ms"},
                  {"from": "q", "to": "w", "latency": "1ms"}],
        "actions": []});
    let (events, sim) = run(&doc, 60_000);
    let threw = events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::Bullmq(b) if b.name() == "step_failed"))
        .count();
    let q = job_queue(&sim, "q");
    assert_eq!(
        q.stats.completed + q.stats.failed,
        400,
        "every job ended: {q:?}"
    );
    // First attempts: 400 draws at 0.5 (sd 10); second: about 200 at 0.5 (sd about 7).
    assert!(
        (60..=140).contains(&q.stats.failed),
        "failed {}",
        q.stats.failed
    );
    assert!((240..=360).contains(&threw), "threw {threw}");
    assert_eq!(q.stats.attempts_failed, threw as u64);
}

#[test]
fn a_kafka_consumer_logs_a_thrown_record_and_goes_on() {
    // Records 0..4; the handler throws on the one marked `x-bad` (offset 2) and writes the
    // others: the failed record still counts as processed, and the group commits past it.
    let mut actions = Vec::new();
    for i in 0..5 {
        let mut m = json!({"key": format!("k{i}")});
        if i == 2 {
            m["headers"] = json!({"x-bad": "1"});
        }
        actions.push(
            json!({"at": format!("{}ms", i), "do": "publish", "node": "p",
                            "message": m}),
        );
    }
    let doc = json!({"version": 10, "seed": 2,
        "nodes": [
            {"id": "p", "kind": "kafka_producer", "config": {}},
            {"id": "t", "kind": "topic", "config": {"partitions": 1}},
            {"id": "c", "kind": "kafka_consumer", "config": {
                "group.id": "g", "auto.offset.reset": "earliest",
                "handler": [{"fail": {"header": "x-bad"}},
                            {"write": "db", "key": "{record_key}"}]}},
            {"id": "db", "kind": "store", "config": {}}],
        "edges": [{"from": "p", "to": "t"}, {"from": "t", "to": "c"}, {"from": "c", "to": "db"}],
        "actions": actions});
    let (events, sim) = run(&doc, 20_000);
    let failed: Vec<u64> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Kafka(KafkaEvent::StepFailed(f)) => Some(f.offset),
            _ => None,
        })
        .collect();
    assert_eq!(failed, vec![2]);
    assert_eq!(store(&sim, "db").keys, 4);
}

#[test]
fn a_marked_job_data_field_fails_the_next_worker() {
    // The consumer adds a job that carries the payment's mark in its data; the worker's
    // handler fails on it, so the job fails (one attempt).
    let mut doc = receipts(json!({"add_job": "emails", "data": {"x-bad": "{header.order}"}}));
    doc["nodes"][4]["config"]["handler"] = json!([{"fail": {"header": "x-bad"}}]);
    let (events, sim) = run(&doc, 1000);
    assert!(events
        .iter()
        .any(|e| matches!(&e.kind, EventKind::Bullmq(b) if b.name() == "step_failed")));
    assert_eq!(job_queue(&sim, "emails").stats.failed, 1);
}

fn with(doc: &Value, f: impl FnOnce(&mut Value)) -> Value {
    let mut doc = doc.clone();
    f(&mut doc);
    doc
}

#[test]
fn bad_add_job_and_fail_steps_are_diagnostics_with_paths() {
    let base = receipts(json!({"add_job": "emails"}));
    let step = |d: &mut Value, v: Value| d["nodes"][2]["config"]["handler"][0] = v;
    common::refused(
        &with(&base, |d| step(d, json!({"add_job": "nowhere"}))),
        "nodes[2].config.handler[0].add_job",
        "there is no node of that name",
    );
    common::refused(
        &with(&base, |d| step(d, json!({"add_job": "sent"}))),
        "nodes[2].config.handler[0].add_job",
        "is a store; an add_job step adds to a job queue",
    );
    common::refused(
        &with(&base, |d| {
            d["edges"].as_array_mut().unwrap().remove(2);
        }),
        "nodes[2].config.handler[0].add_job",
        "consumer \"payer\" has no edge to it",
    );
    common::refused(
        &with(&base, |d| {
            step(d, json!({"add_job": "emails", "opts": {"jobId": "x"}}))
        }),
        "nodes[2].config.handler[0].opts.jobId",
        "the step's \"job_id\" is the job's id",
    );
    common::refused(
        &with(&base, |d| {
            step(d, json!({"add_job": "emails", "opts": {"priority": 1.5}}))
        }),
        "nodes[2].config.handler[0].opts",
        "Priority should not be float",
    );
    common::refused(
        &with(&base, |d| {
            step(d, json!({"add_job": "emails", "job_id": "{job_id}"}))
        }),
        "nodes[2].config.handler[0].job_id",
        "not BullMQ jobs",
    );
    common::refused(
        &with(&base, |d| {
            step(d, json!({"add_job": "emails", "routing_key": "x"}))
        }),
        "nodes[2]",
        "belong to a publish step",
    );
    common::refused(
        &with(&base, |d| {
            step(d, json!({"publish": "payments", "name": "x"}))
        }),
        "nodes[2]",
        "belong to an add_job step",
    );
    common::refused(
        &with(&base, |d| step(d, json!({"fail": {"probability": 1.5}}))),
        "nodes[2].config.handler[0].fail.probability",
        "expected a probability from 0 to 1",
    );
    common::refused(
        &with(&base, |d| step(d, json!({"fail": {}}))),
        "nodes[2].config.handler[0].fail",
        "it would never throw",
    );
    common::refused(
        &with(&base, |d| step(d, json!({"fail": {"header": ""}}))),
        "nodes[2].config.handler[0].fail.header",
        "names no header",
    );
    common::refused(
        &with(&base, |d| {
            step(d, json!({"fail": {"probability": 0.1}, "write": "sent"}))
        }),
        "nodes[2]",
        "a step does one thing",
    );
    // A topic takes a handler's records, not a job queue's edge.
    let with_topic = with(&base, |d| {
        d["nodes"]
            .as_array_mut()
            .unwrap()
            .push(json!({"id": "t", "kind": "topic", "config": {"partitions": 2}}));
        d["edges"]
            .as_array_mut()
            .unwrap()
            .push(json!({"from": "payer", "to": "t"}));
    });
    common::scenario(&with_topic.to_string());
    common::refused(
        &with(&with_topic, |d| {
            d["edges"][5]["from"] = json!("emails");
        }),
        "edges[5]",
        "a topic takes records only from Kafka producers and from handlers",
    );
    common::refused(
        &with(&with_topic, |d| {
            step(d, json!({"produce": "t", "partition": 2}))
        }),
        "nodes[2].config.handler[0].partition",
        "has 2 partitions (0 to 1); there is no partition 2",
    );
    common::refused(
        &with(&with_topic, |d| step(d, json!({"produce": "emails"}))),
        "nodes[2].config.handler[0].produce",
        "is a job_queue; a produce step produces to a topic",
    );
    common::refused(
        &with(&with_topic, |d| {
            step(d, json!({"produce": "t", "routing_key": "x"}))
        }),
        "nodes[2]",
        "a record has a `key`",
    );
    common::refused(
        &with(&with_topic, |d| {
            step(d, json!({"produce": "t", "key": "{offset}"}))
        }),
        "nodes[2].config.handler[0].key",
        "not Kafka records",
    );
    // A version-9 document cannot have them.
    common::refused(
        &with(&base, |d| d["version"] = json!(9)),
        "nodes[2].config.handler[0].add_job",
        "new in format version 10",
    );
    let fail = with(&base, |d| step(d, json!({"fail": {"probability": 0.5}})));
    common::refused(
        &with(&fail, |d| d["version"] = json!(9)),
        "nodes[2].config.handler[0].fail",
        "new in format version 10",
    );
    // A service's requests carry no headers: a mark could never be there.
    let service = json!({"version": 10, "seed": 1,
        "nodes": [
            {"id": "web", "kind": "client", "config": {}},
            {"id": "api", "kind": "service", "config": {
                "handler": [{"fail": {"header": "x-bad"}}]}}],
        "edges": [{"from": "web", "to": "api"}]});
    common::refused(
        &service,
        "nodes[1].config.handler[0].fail.header",
        "carry no headers",
    );
}

#[test]
fn a_kafka_consumer_producing_to_its_own_topic_with_no_time_is_refused() {
    // echo reads `t` and produces each record back to it: with no processing time and no
    // latency, a record would circle forever at one instant.
    let doc = json!({"version": 10, "seed": 1,
        "nodes": [
            {"id": "t", "kind": "topic", "config": {}},
            {"id": "echo", "kind": "kafka_consumer", "config": {
                "group.id": "g", "processing_time": "0ms",
                "handler": [{"produce": "t", "key": "{record_key}"}]}}],
        "edges": [
            {"from": "t", "to": "echo", "latency": "0ms"},
            {"from": "echo", "to": "t", "latency": "0ms"}],
        "actions": []});
    common::refused(&doc, "edges[0]", "closes a loop (\"t\" → \"echo\" → \"t\")");
    // With time in the loop, it runs.
    let ok = with(&doc, |d| d["edges"][1]["latency"] = json!("1ms"));
    common::scenario(&ok.to_string());
}

#[test]
fn one_order_crosses_http_rabbitmq_bullmq_and_kafka_with_one_correlation_id() {
    // docs/examples/order-journey.json: the service's event (for the shop's request), the
    // consumer's job and the worker's record all carry the order's correlation id, and the
    // read model at the end shows the order's version of orders-db.
    let s = common::example("order-journey.json");
    let (events, sim) = common::run_events(&s, SimTime(10_000 * MS), true);
    let name = |n: switchboard_core::NodeId| sim.topology().node(n).name.clone();
    let first = events
        .iter()
        .find_map(|e| match e.kind {
            EventKind::Published {
                correlation, node, ..
            } if name(node) == "orders-svc" => Some(correlation),
            _ => None,
        })
        .expect("an order");
    let mut hops: Vec<String> = events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Published {
                correlation, node, ..
            } if correlation == first => Some(name(node)),
            _ => None,
        })
        .collect();
    hops.dedup();
    assert_eq!(hops, vec!["orders-svc", "fulfil", "shipper"]);
    // The record the worker produced was appended under the order's key, and the group's
    // write made the order visible in the read model.
    let key = format!("order-{}", first.0);
    assert!(appended(&sim, &events)
        .iter()
        .any(|r| r.3.as_deref() == Some(key.as_str()) && r.4 == "shipper"));
    let visible = events.iter().any(|e| match &e.kind {
        EventKind::Data(d) => matches!(
            &**d,
            DataEvent::Visible { key, version: 1, .. } if **key == *format!("order:{}", first.0)
        ),
        _ => false,
    });
    assert!(visible, "the order reached the read model");
    let view = store(&sim, "orders-view");
    let p = view.projection.unwrap();
    assert_eq!(
        p.unmatched, 0,
        "every projected order traces back to its write"
    );
    assert!(p.staleness.count > 40, "{p:?}");
}

#[test]
fn steps_read_back_as_they_were_written() {
    let steps = json!([
        {"add_job": "emails", "name": "receipt", "job_id": "r-{message_id}",
         "opts": {"attempts": 3}, "data": {"order": "{header.order}"}},
        {"add_job": "emails"},
        {"produce": "t", "key": "{message_id}", "partition": 1, "headers": {"via": "payer"}},
        {"produce": "t"},
        {"fail": {"probability": 0.25}},
        {"fail": {"header": "x-bad"}}
    ]);
    let doc = receipts(json!({"add_job": "emails"}));
    let doc = with(&doc, |d| {
        d["nodes"][2]["config"]["handler"] = steps.clone();
        d["nodes"]
            .as_array_mut()
            .unwrap()
            .push(json!({"id": "t", "kind": "topic", "config": {"partitions": 2}}));
        d["edges"]
            .as_array_mut()
            .unwrap()
            .push(json!({"from": "payer", "to": "t"}));
    });
    let s = common::scenario(&doc.to_string());
    let back: Value = serde_json::from_str(&s.to_json_pretty()).unwrap();
    assert_eq!(back["nodes"][2]["config"]["handler"], steps);
}

/// A random system in which every kind of handler step runs across the paradigms: a producer
/// feeds a queue whose consumer writes, adds jobs, produces records and sometimes throws; the
/// jobs' worker produces to the topic and writes; the topic's group writes, adds jobs again (a
/// loop through Redis, which takes time) and throws on a mark. Each handler may call the
/// service `bank` at any step, over an edge with random policies. Random latencies (zero
/// included), processing times, crashes and restarts.
fn random_system(seed: u64) -> Value {
    use switchboard_core::rng::SimRng;
    let mut g = common::amqp::Gen(SimRng::new(seed));
    let lat = |g: &mut common::amqp::Gen| json!(g.us(0, 3000));
    let fail = |g: &mut common::amqp::Gen| {
        if g.p(0.5) {
            json!({"fail": {"probability": g.int(0, 30) as f64 / 100.0 + 0.01}})
        } else {
            json!({"fail": {"header": "x-bad"}})
        }
    };
    let mut consumer_steps = vec![
        json!({"write": "db", "key": "k:{message_id}", "idempotency_key": "{message_id}"}),
        json!({"add_job": "jobs", "job_id": "j-{message_id}", "data": {"x-bad": "{header.x-bad}"}}),
        json!({"produce": "t", "key": "{message_id}", "headers": {"x-bad": "{header.x-bad}"}}),
    ];
    if g.p(0.5) {
        let f = fail(&mut g);
        let at = g.int(0, 3) as usize;
        consumer_steps.insert(at, f);
    }
    // Only marked messages carry the header; the steps that copy it would fail on the others,
    // so half the runs copy it, half make the copy a constant.
    let marked = g.p(0.5);
    if !marked {
        for s in &mut consumer_steps {
            if let Some(d) = s.get_mut("data") {
                *d = json!({"x": "1"});
            }
            if let Some(h) = s.get_mut("headers") {
                *h = json!({"x": "1"});
            }
        }
    }
    let worker_steps = vec![
        json!({"produce": "t"}),
        json!({"write": "db", "key": "job:{job_id}"}),
        fail(&mut g),
    ];
    let mut reader_steps = vec![json!({"write": "view", "key": "{partition}:{offset}"})];
    if g.p(0.3) {
        reader_steps.push(json!({"add_job": "jobs", "job_id": "r-{partition}-{offset}"}));
    }
    reader_steps.push(json!({"fail": {"header": "x-bad"}}));
    // Each handler calls the service `bank` (or not) at a random step, over an edge with
    // random policies; bank fails some requests and crashes too.
    let mut worker_steps = worker_steps;
    for steps in [&mut consumer_steps, &mut reader_steps, &mut worker_steps] {
        if g.p(0.6) {
            let at = g.int(0, steps.len() as u64) as usize;
            steps.insert(at, json!({"call": "bank"}));
        }
    }
    let policy = |g: &mut common::amqp::Gen| {
        let mut p = serde_json::Map::new();
        if g.p(0.5) {
            p.insert(
                "retry".into(),
                json!({"maxAttempts": g.int(1, 4),
                                            "waitDuration": format!("{}ms", g.int(0, 30))}),
            );
        }
        if g.p(0.4) {
            p.insert(
                "timeLimiter".into(),
                json!({"timeoutDuration": format!("{}ms", g.int(1, 20))}),
            );
        }
        if g.p(0.4) {
            p.insert(
                "bulkhead".into(),
                json!({"maxConcurrentCalls": g.int(1, 4),
                                               "maxWaitDuration": format!("{}ms", g.int(0, 10))}),
            );
        }
        if g.p(0.3) {
            p.insert(
                "circuitBreaker".into(),
                json!({"slidingWindowSize": g.int(2, 10),
                                                     "minimumNumberOfCalls": g.int(1, 5),
                                                     "waitDurationInOpenState": "50ms"}),
            );
        }
        Value::Object(p)
    };
    let mut actions = Vec::new();
    for node in ["c", "w", "r", "bank"] {
        for _ in 0..g.int(0, 2) {
            let at = g.int(100, 2500);
            actions.push(json!({"at": format!("{at}ms"), "do": "crash", "node": node}));
            actions.push(
                json!({"at": format!("{}ms", at + g.int(50, 400)), "do": "restart",
                                "node": node}),
            );
        }
    }
    for i in 0..20 {
        let mut m = json!({});
        if marked && g.p(0.3) {
            m = json!({"headers": {"x-bad": "yes"}});
        }
        actions.push(
            json!({"at": format!("{}ms", i * 50), "do": "publish", "node": "p",
                            "message": m}),
        );
    }
    json!({"version": 11, "seed": seed,
        "nodes": [
            {"id": "p", "kind": "producer", "config": {"rate_per_s": g.int(0, 200)}},
            {"id": "q", "kind": "queue", "config": {}},
            {"id": "c", "kind": "consumer", "config": {
                "processing": g.dist(0, 3), "prefetch_count": g.int(1, 20),
                "on_failure": {"action": "reject", "requeue": g.p(0.3)},
                "handler": consumer_steps}},
            {"id": "jobs", "kind": "job_queue"},
            {"id": "w", "kind": "worker", "config": {
                "concurrency": g.int(1, 8), "processing_time": g.dist(0, 3),
                "lockDuration": 500, "stalledInterval": 500,
                "handler": worker_steps}},
            {"id": "t", "kind": "topic", "config": {"partitions": g.int(1, 3)}},
            {"id": "r", "kind": "kafka_consumer", "config": {
                "group.id": "g", "auto.offset.reset": "earliest",
                "processing_time": g.dist(1, 3), "session.timeout.ms": 6000,
                "handler": reader_steps}},
            {"id": "db", "kind": "store", "config": {}},
            {"id": "view", "kind": "store", "config": {}},
            {"id": "bank", "kind": "service", "config": {
                "concurrency": g.int(1, 4), "service_time": g.dist(0, 8),
                "error_rate": g.int(0, 40) as f64 / 100.0}}],
        "edges": [
            {"from": "p", "to": "q", "latency": lat(&mut g)},
            {"from": "q", "to": "c", "latency": lat(&mut g)},
            {"from": "c", "to": "db", "latency": lat(&mut g)},
            {"from": "c", "to": "jobs", "latency": lat(&mut g)},
            {"from": "c", "to": "t", "latency": lat(&mut g)},
            {"from": "jobs", "to": "w", "latency": lat(&mut g)},
            {"from": "w", "to": "t", "latency": lat(&mut g)},
            {"from": "w", "to": "db", "latency": lat(&mut g)},
            {"from": "t", "to": "r", "latency": lat(&mut g)},
            {"from": "r", "to": "view", "latency": lat(&mut g)},
            {"from": "r", "to": "jobs", "latency": lat(&mut g)},
            {"from": "c", "to": "bank", "latency": lat(&mut g), "resilience": policy(&mut g)},
            {"from": "w", "to": "bank", "latency": lat(&mut g), "resilience": policy(&mut g)},
            {"from": "r", "to": "bank", "latency": lat(&mut g), "resilience": policy(&mut g)}],
        "actions": actions})
}

#[test]
fn randomized_cross_paradigm_handlers_conserve_every_message() {
    // Conservation (every message where the ledger says, every handoff on the wire) and the
    // stores' invariants after every event, for every seed; the seed that fails is printed.
    let ran = common::sweep("handler_steps", 24, |seed| {
        let doc = random_system(seed);
        let s = Scenario::from_json(&doc.to_string())
            .unwrap_or_else(|d| panic!("seed {seed}: the generator made an invalid system:\n{d}"));
        let (events, _) = common::run_events(&s, SimTime(4_000 * MS), true);
        // The same run's traces, small limits so that letting go happens: every kept trace is
        // a consistent tree, and its critical path reaches its root.
        let mut traced = Sim::new(&s).unwrap();
        traced.keep_traces(switchboard_core::traces::TraceLimits {
            traces: 20,
            spans_per_trace: 40,
        });
        traced.advance_to(SimTime(4_000 * MS));
        let book = traced.traces().unwrap();
        for t in book.traces() {
            t.check(traced.seed())
                .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            let ends = t.ends(book.now());
            assert!(
                t.spans.iter().zip(&ends).all(|(s, e)| s.start <= *e),
                "seed {seed}"
            );
            assert!(
                t.critical_path(book.now())[0],
                "seed {seed}: the path misses the root"
            );
        }
        let count = |f: &dyn Fn(&EventKind) -> bool| events.iter().filter(|e| f(&e.kind)).count();
        (
            count(&|k| matches!(k, EventKind::Kafka(KafkaEvent::Appended(_)))),
            count(&|k| {
                matches!(
                    k,
                    EventKind::Http(switchboard_core::http::HttpEvent::Attempt { .. })
                )
            }),
        )
    });
    // The sweep is not vacuous: records crossed from handlers, and handlers called bank, in
    // most runs.
    assert!(
        ran.iter().filter(|&&(n, _)| n > 0).count() >= ran.len() / 2,
        "{ran:?}"
    );
    assert!(
        ran.iter().filter(|&&(_, n)| n > 0).count() >= ran.len() / 2,
        "{ran:?}"
    );
}
