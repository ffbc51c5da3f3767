//! A BullMQ worker's handler: its steps (store writes, publishes) run after the processor's
//! time and before the job completes. A worker that crashes after its write leaves the job
//! active and locked; the stalled checker moves it back to wait once the lock expires, and the
//! job runs again: its write is applied a second time (a duplicate), unless the write is keyed
//! by the job's id. Bad steps as diagnostics with paths.

mod common;

use serde_json::{json, Value};
use switchboard_core::data::DataEvent;
use switchboard_core::{Event, EventKind, Sim, SimTime};

const MS: u64 = 1_000;

/// One job added at 0 to `payments`, worked by `payer`, whose handler writes the charge to
/// `charges` (2 ms each way, 5 ms to apply). The job reaches Redis at 1 ms; payer's blocking
/// wait hands it over (`active`) at 5 ms, and it reaches payer at 6 ms; payer works 10 ms
/// (plus BullMQ's 1.5 ms per attempt), sends the write at 17.5 ms, which applies at 24.5 ms.
/// payer crashes at 20 ms, while the write is out, and comes back at 100 ms. Its lock (1 s) expires unrenewed;
/// the stalled checker (every 1 s) moves the job back to wait, and payer runs it again.
fn payment(write: Value) -> Value {
    json!({"version": 8, "seed": 1,
        "nodes": [
            {"id": "shop", "kind": "job_producer", "config": {"name": "charge"}},
            {"id": "payments", "kind": "job_queue"},
            {"id": "payer", "kind": "worker", "config": {
                "processing_time": "10ms", "lockDuration": 1000, "stalledInterval": 1000,
                "handler": [write]}},
            {"id": "charges", "kind": "store", "config": {"write_latency": "5ms"}}],
        "edges": [
            {"from": "shop", "to": "payments", "latency": "1ms"},
            {"from": "payments", "to": "payer", "latency": "1ms"},
            {"from": "payer", "to": "charges", "latency": "2ms"}],
        "actions": [
            {"at": "0s", "do": "publish", "node": "shop"},
            {"at": "20ms", "do": "crash", "node": "payer"},
            {"at": "100ms", "do": "restart", "node": "payer"}]})
}

fn run(doc: &Value, until_ms: u64) -> (Vec<Event>, Sim) {
    let s = common::scenario(&doc.to_string());
    common::run_events(&s, SimTime(until_ms * MS), true)
}

fn store(sim: &Sim, name: &str) -> switchboard_core::data::StoreMetrics {
    let id = sim.topology().node_id(name).unwrap();
    sim.metrics().nodes[id.index()].store().unwrap().clone()
}

/// The run's story: store events, crashes, restarts, and the job's stall and completion.
fn story(events: &[Event]) -> Vec<&'static str> {
    events
        .iter()
        .filter(|e| match &e.kind {
            EventKind::Data(d) => !matches!(**d, DataEvent::WriteSent { .. }),
            EventKind::Crashed { .. } | EventKind::Restarted { .. } => true,
            EventKind::Bullmq(b) => matches!(b.name(), "stalled" | "completed" | "step_failed"),
            _ => false,
        })
        .map(|e| e.kind.name())
        .collect()
}

#[test]
fn a_stalled_job_runs_again_and_writes_again() {
    let (events, sim) = run(
        &payment(json!({"write": "charges", "key": "charge:{job_id}"})),
        5_000,
    );
    // The write left at 17.5 ms and still applies at 24.5 ms, after the crash.
    assert_eq!(
        story(&events),
        vec![
            "crashed",
            "store_written",
            "restarted",
            "stalled",
            "store_written",
            "completed"
        ]
    );
    let written: Vec<(u64, bool, String)> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Data(d) => match &**d {
                DataEvent::Written {
                    version,
                    duplicate,
                    key,
                    ..
                } => Some((*version, *duplicate, key.clone())),
                _ => None,
            },
            _ => None,
        })
        .collect();
    // BullMQ numbers jobs from 1.
    assert_eq!(
        written,
        vec![
            (1, false, "charge:1".to_owned()),
            (2, true, "charge:1".to_owned())
        ]
    );
    let first = events
        .iter()
        .find(|e| e.kind.name() == "store_written")
        .unwrap();
    assert_eq!(first.at, SimTime(24_500));
    let m = store(&sim, "charges");
    assert_eq!((m.keys, m.stats.writes, m.stats.duplicates), (1, 2, 1));
}

#[test]
fn keyed_by_the_job_id_the_second_run_is_skipped() {
    let (events, sim) = run(
        &payment(json!({"write": "charges", "key": "charge:{job_id}",
                        "idempotency_key": "{job_id}"})),
        5_000,
    );
    assert_eq!(
        story(&events),
        vec![
            "crashed",
            "store_written",
            "restarted",
            "stalled",
            "store_deduplicated",
            "completed"
        ]
    );
    let m = store(&sim, "charges");
    assert_eq!(
        (m.stats.writes, m.stats.duplicates, m.stats.deduplicated),
        (1, 0, 1)
    );
}

fn with(doc: &Value, f: impl FnOnce(&mut Value)) -> Value {
    let mut doc = doc.clone();
    f(&mut doc);
    doc
}

#[test]
fn bad_worker_handlers_are_diagnostics_with_paths() {
    let base = payment(json!({"write": "charges", "key": "charge:{job_id}"}));
    common::refused(
        &with(&base, |d| {
            d["version"] = json!(11);
            d["nodes"][2]["config"]["handler"][0] = json!({"call": "charges"})
        }),
        "nodes[2].config.handler[0].call[0]",
        "\"charges\" is a store; a call step calls a service or a load balancer",
    );
    common::refused(
        &with(&base, |d| {
            d["edges"].as_array_mut().unwrap().pop();
        }),
        "nodes[2].config.handler[0].write",
        "worker \"payer\" has no edge to it",
    );
    common::refused(
        &with(&base, |d| d["version"] = json!(7)),
        "nodes[2].config.handler",
        "a worker's `handler` is new in format version 8",
    );
    // {job_id} belongs to a worker's jobs: a service's or a consumer's template cannot read it.
    let consumer = json!({"version": 8, "seed": 1,
        "nodes": [
            {"id": "q", "kind": "queue"},
            {"id": "c", "kind": "consumer", "config": {
                "handler": [{"write": "db", "key": "k:{job_id}"}]}},
            {"id": "db", "kind": "store"}],
        "edges": [{"from": "q", "to": "c"}, {"from": "c", "to": "db"}]});
    common::refused(
        &consumer,
        "nodes[1].config.handler[0].key",
        "a consumer's messages are not BullMQ jobs",
    );
    let service = json!({"version": 8, "seed": 1,
        "nodes": [
            {"id": "s", "kind": "service", "config": {
                "handler": [{"write": "db", "key": "k:{job_id}"}]}},
            {"id": "db", "kind": "store"}],
        "edges": [{"from": "s", "to": "db"}]});
    common::refused(
        &service,
        "nodes[0].config.handler[0].key",
        "are not BullMQ jobs",
    );
}

#[test]
fn a_worker_publishes_to_rabbitmq_continuing_the_jobs_chain() {
    // payer (no crash) publishes a receipt to the queue `receipts` after its write.
    let mut doc = payment(json!({"write": "charges", "key": "charge:{job_id}"}));
    doc["nodes"][2]["config"]["handler"]
        .as_array_mut()
        .unwrap()
        .push(json!({"publish": "receipts", "headers": {"job": "{job_id}"}}));
    doc["nodes"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "receipts", "kind": "queue"}));
    doc["edges"]
        .as_array_mut()
        .unwrap()
        .push(json!({"from": "payer", "to": "receipts", "latency": "1ms"}));
    doc["actions"] = json!([{"at": "0s", "do": "publish", "node": "shop"}]);
    let (events, sim) = run(&doc, 1_000);
    let published: Vec<&Event> = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Published { .. }))
        .collect();
    assert_eq!(published.len(), 2, "the job's add, then the receipt");
    let (
        EventKind::Published {
            correlation: job_chain,
            message: job_msg,
            ..
        },
        EventKind::Published {
            correlation,
            message,
            node,
            cause,
        },
    ) = (&published[0].kind, &published[1].kind)
    else {
        unreachable!()
    };
    assert_eq!(
        *cause,
        Some(*job_msg),
        "the receipt was made handling the job"
    );
    assert_eq!(correlation, job_chain);
    assert_eq!(*node, sim.topology().node_id("payer").unwrap());
    // Published when the write's answer came back: 24.5 ms + 2 ms.
    assert_eq!(published[1].at, SimTime(26_500));
    let view = sim.locate(*message).expect("in its queue");
    assert_eq!(view.envelope.causation_id, Some(*job_msg));
    assert_eq!(
        view.envelope.headers.get("job"),
        Some(&switchboard_core::HeaderValue::Str("1".into()))
    );
    assert!(events.iter().any(|e| e.kind.name() == "completed"));
}
