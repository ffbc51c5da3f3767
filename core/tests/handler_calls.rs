//! A handler's call step from a RabbitMQ consumer, a BullMQ worker and a Kafka consumer: the
//! call crosses the node's edge to a service with the edge's policies (retries, timeouts),
//! the handler waits for it, and a call that fails makes the handler throw, as the input's
//! paradigm then decides (a delivery rejected, a job's attempt failed, a record logged and
//! passed). A crash while a call is out ends it: its answer finds nobody, and the redelivery
//! calls again, so the service does the work twice. Hand-computed timings with constant
//! latencies; bad steps refused with their paths.

mod common;

use serde_json::{json, Value};
use switchboard_core::http::HttpEvent;
use switchboard_core::{Event, EventKind, Sim, SimTime};

const MS: u64 = 1_000;

/// One payment published at 0 to the queue `payments` that the consumer `payer` takes, whose
/// handler runs `steps`; `bank` is a service (one worker, 5 ms per request) behind the edge
/// `payer → bank` (2 ms, with `policy`). The publish crosses 1 ms, the delivery 1 ms, payer
/// works 10 ms.
fn payment(steps: Value, bank: Value, policy: Value) -> Value {
    let bank_config = bank_config(bank);
    json!({"version": 11, "seed": 1,
        "nodes": [
            {"id": "shop", "kind": "producer", "config": {}},
            {"id": "payments", "kind": "queue", "config": {}},
            {"id": "payer", "kind": "consumer", "config": {
                "processing": "10ms", "on_failure": {"action": "reject", "requeue": false},
                "handler": steps}},
            {"id": "bank", "kind": "service", "config": bank_config}],
        "edges": [
            {"from": "shop", "to": "payments", "latency": "1ms"},
            {"from": "payments", "to": "payer", "latency": "1ms"},
            {"from": "payer", "to": "bank", "latency": "2ms", "resilience": policy}],
        "actions": [{"at": "0s", "do": "publish", "node": "shop"}]})
}

/// bank's settings: one worker, 5 ms per request, with `extra` over them.
fn bank_config(extra: Value) -> Value {
    let mut config = json!({"concurrency": 1, "service_time": "5ms"});
    config
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    config
}

fn run(doc: &Value, until_ms: u64) -> (Vec<Event>, Sim) {
    let s = common::scenario(&doc.to_string());
    common::run_events(&s, SimTime(until_ms * MS), true)
}

/// The events that tell the story, as (ms, name): the calls' attempts and answers, the
/// handlers' failures, settlements, crashes.
fn story(events: &[Event]) -> Vec<(u64, &'static str)> {
    events
        .iter()
        .filter(|e| match &e.kind {
            EventKind::Http(h) => matches!(
                h,
                HttpEvent::Attempt { .. }
                    | HttpEvent::Answered { .. }
                    | HttpEvent::TimedOut { .. }
                    | HttpEvent::Retrying { .. }
                    | HttpEvent::Refused { .. }
            ),
            EventKind::Amqp(a) => matches!(a.name(), "acked" | "rejected" | "step_failed"),
            EventKind::Bullmq(b) => matches!(b.name(), "completed" | "failed" | "step_failed"),
            EventKind::Kafka(k) => k.name() == "step_failed",
            EventKind::Crashed { .. } | EventKind::Restarted { .. } => true,
            _ => false,
        })
        .map(|e| (e.at.0 / MS, e.kind.name()))
        .collect()
}

/// The reasons the handlers' step failures give.
fn step_failures(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Amqp(switchboard_core::amqp::AmqpEvent::StepFailed { reason, .. }) => {
                Some(reason.to_string())
            }
            EventKind::Bullmq(switchboard_core::bullmq::BullmqEvent::StepFailed(s)) => {
                Some(s.reason.clone())
            }
            EventKind::Kafka(switchboard_core::kafka::KafkaEvent::StepFailed(s)) => {
                Some(s.reason.clone())
            }
            _ => None,
        })
        .collect()
}

fn served(sim: &Sim, service: &str) -> u64 {
    let id = sim.topology().node_id(service).unwrap();
    let m = sim.metrics();
    m.nodes[id.index()].stats.received
}

#[test]
fn a_consumer_waits_for_its_call_before_it_acks() {
    let (events, sim) = run(
        &payment(json!([{"call": "bank"}]), json!({}), json!(null)),
        1000,
    );
    // Delivered at 2, processed to 12; the call leaves at 12, reaches bank at 14, is served
    // to 19 and answered back at 21; payer acks then (the ack reaches the broker at 22).
    assert_eq!(
        story(&events),
        vec![(12, "attempt"), (21, "answered"), (22, "acked")]
    );
    assert_eq!(served(&sim, "bank"), 1);
    assert_eq!(sim.totals().live, 0);
    // The attempt continues the payment's chain, caused by the delivery.
    let (attempt, parent) = events
        .iter()
        .find_map(|e| match e.kind {
            EventKind::Http(HttpEvent::Attempt {
                message, parent, ..
            }) => Some((message, parent)),
            _ => None,
        })
        .unwrap();
    assert_eq!(parent, switchboard_core::MessageId(1));
    assert_ne!(attempt, parent);
}

#[test]
fn a_call_that_fails_every_retry_makes_the_handler_throw() {
    // bank fails every request; the edge retries twice, 10 ms apart. Each attempt: there at
    // +2, answered 500 at +5, back at +7. The third fails at 59 and the delivery is rejected
    // (on_failure) without requeue: the step after the call never runs.
    let (events, sim) = run(
        &payment(
            json!([{"call": "bank"}, {"fail": {"probability": 1.0}}]),
            json!({"error_rate": 1.0}),
            json!({"retry": {"maxAttempts": 3, "waitDuration": "10ms"}}),
        ),
        1000,
    );
    assert_eq!(
        story(&events),
        vec![
            (12, "attempt"),
            (21, "answered"),
            (21, "retrying"),
            (31, "attempt"),
            (40, "answered"),
            (40, "retrying"),
            (50, "attempt"),
            (59, "answered"),
            (59, "step_failed"),
            (60, "rejected"),
        ]
    );
    let reasons = step_failures(&events);
    assert_eq!(reasons.len(), 1);
    assert!(reasons[0].starts_with("a call failed"), "{reasons:?}");
    assert_eq!(served(&sim, "bank"), 3);
    assert_eq!(sim.totals().live, 0);
    // The consumer's metrics carry its call edge's: one call, three attempts, two retries.
    let m = sim.metrics();
    let payer = sim.topology().node_id("payer").unwrap();
    let calls = &m.nodes[payer.index()].calls;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].to, sim.topology().node_id("bank").unwrap());
    let st = &calls[0].stats;
    assert_eq!(
        (st.calls, st.attempts, st.retries, st.failed_calls),
        (1, 3, 2, 1)
    );
    assert_eq!(calls[0].attempts_per_call, 3.0);
    // Nodes that make no handler calls carry none.
    assert!(m
        .nodes
        .iter()
        .filter(|n| n.name != "payer")
        .all(|n| n.calls.is_empty()));
}

#[test]
fn a_timed_out_call_fails_the_step_when_its_limit_passes() {
    // bank takes 50 ms; the edge's time limiter gives each attempt 20 ms from when it leaves
    // (12): it times out at 32, and the handler throws then. The late answer (back at 66)
    // finds nobody waiting.
    let (events, _) = run(
        &payment(
            json!([{"call": "bank"}]),
            json!({"service_time": "50ms"}),
            json!({"timeLimiter": {"timeoutDuration": "20ms"}}),
        ),
        1000,
    );
    assert_eq!(
        story(&events),
        vec![
            (12, "attempt"),
            (32, "timed_out"),
            (32, "step_failed"),
            (33, "rejected"),
        ]
    );
    assert!(events
        .iter()
        .any(|e| e.at.0 == 66 * MS && matches!(e.kind, EventKind::Http(HttpEvent::Late { .. }))));
}

#[test]
fn a_crash_while_the_call_is_out_makes_the_service_do_the_work_twice() {
    // payer crashes at 15, while bank works on the call; bank still answers (at 19), and the
    // answer reaches nobody at 21. The broker redelivers at 101 once payer is back at 100; it
    // calls again (the side effect happens twice) and acks. The edge's bulkhead has one slot:
    // the crash gave it back, so the second call gets it.
    let mut doc = payment(
        json!([{"call": "bank"}]),
        json!({}),
        json!({"bulkhead": {"maxConcurrentCalls": 1, "maxWaitDuration": "0ms"}}),
    );
    doc["nodes"][2]["config"]["on_failure"] = json!({"action": "nack", "requeue": true});
    let actions = doc["actions"].as_array_mut().unwrap();
    actions.push(json!({"at": "15ms", "do": "crash", "node": "payer"}));
    actions.push(json!({"at": "100ms", "do": "restart", "node": "payer"}));
    let (events, sim) = run(&doc, 1000);
    assert_eq!(
        story(&events),
        vec![
            (12, "attempt"),
            (15, "crashed"),
            (100, "restarted"),
            (111, "attempt"),
            (120, "answered"),
            (121, "acked"),
        ]
    );
    assert_eq!(served(&sim, "bank"), 2, "the charge ran twice");
    assert_eq!(sim.totals().live, 0);
}

#[test]
fn a_crash_between_retries_ends_the_call() {
    // The first attempt fails at 21 and the retry waits 50 ms; payer crashes at 30, so the
    // retry due at 71 finds no call. Nothing is sent from a crashed consumer.
    let mut doc = payment(
        json!([{"call": "bank"}]),
        json!({"error_rate": 1.0}),
        json!({"retry": {"maxAttempts": 3, "waitDuration": "50ms"}}),
    );
    doc["actions"]
        .as_array_mut()
        .unwrap()
        .push(json!({"at": "30ms", "do": "crash", "node": "payer"}));
    let (events, sim) = run(&doc, 1000);
    assert_eq!(
        story(&events),
        vec![
            (12, "attempt"),
            (21, "answered"),
            (21, "retrying"),
            (30, "crashed"),
        ]
    );
    assert_eq!(served(&sim, "bank"), 1);
}

#[test]
fn several_calls_at_once_wait_for_the_slowest() {
    // payer calls bank (5 ms) and fraud (30 ms) at once, each over a 2 ms edge: the handler
    // goes on when fraud's answer is back, at 12 + 2 + 30 + 2 = 46.
    let mut doc = payment(json!([{"call": ["bank", "fraud"]}]), json!({}), json!(null));
    doc["nodes"].as_array_mut().unwrap().push(json!(
        {"id": "fraud", "kind": "service", "config": {"concurrency": 1, "service_time": "30ms"}}));
    doc["edges"]
        .as_array_mut()
        .unwrap()
        .push(json!({"from": "payer", "to": "fraud", "latency": "2ms"}));
    let (events, sim) = run(&doc, 1000);
    assert_eq!(
        story(&events),
        vec![
            (12, "attempt"),
            (12, "attempt"),
            (21, "answered"),
            (46, "answered"),
            (47, "acked"),
        ]
    );
    assert_eq!((served(&sim, "bank"), served(&sim, "fraud")), (1, 1));
}

/// The same payment as a BullMQ job, worked by `payer` (1 attempt unless `attempts`).
fn job_payment(bank: Value, attempts: u32) -> Value {
    let bank_config = bank_config(bank);
    json!({"version": 11, "seed": 1,
        "nodes": [
            {"id": "shop", "kind": "job_producer", "config": {
                "name": "charge", "opts": {"attempts": attempts}}},
            {"id": "payments", "kind": "job_queue"},
            {"id": "payer", "kind": "worker", "config": {
                "processing_time": "10ms", "handler": [{"call": "bank"}]}},
            {"id": "bank", "kind": "service", "config": bank_config}],
        "edges": [
            {"from": "shop", "to": "payments", "latency": "1ms"},
            {"from": "payments", "to": "payer", "latency": "1ms"},
            {"from": "payer", "to": "bank", "latency": "2ms"}],
        "actions": [{"at": "0s", "do": "publish", "node": "shop"}]})
}

#[test]
fn a_worker_completes_its_job_after_the_call_and_retries_it_when_the_call_fails() {
    let (events, sim) = run(&job_payment(json!({}), 1), 1000);
    let s = story(&events);
    let names: Vec<&str> = s.iter().map(|&(_, n)| n).collect();
    assert_eq!(names, ["attempt", "answered", "completed"]);
    // The job completes once the answer is back, not before.
    assert!(s[2].0 >= s[1].0, "{s:?}");
    assert_eq!(served(&sim, "bank"), 1);

    // bank fails: each of the job's 2 attempts calls once, throws, and the job fails in the end.
    let (events, sim) = run(&job_payment(json!({"error_rate": 1.0}), 2), 1000);
    let names: Vec<&str> = story(&events).iter().map(|&(_, n)| n).collect();
    assert_eq!(
        names,
        [
            "attempt",
            "answered",
            "step_failed",
            "attempt",
            "answered",
            "step_failed",
            "failed"
        ]
    );
    assert!(step_failures(&events)
        .iter()
        .all(|r| r.starts_with("a call failed")));
    assert_eq!(served(&sim, "bank"), 2);
}

#[test]
fn a_kafka_consumer_logs_a_failed_call_and_goes_on_to_the_next_record() {
    let doc = json!({"version": 11, "seed": 1,
        "nodes": [
            {"id": "orders", "kind": "kafka_producer", "config": {
                "rate_per_s": 100, "keys": ["a"], "limit": 2}},
            {"id": "order-events", "kind": "topic", "config": {"partitions": 1}},
            {"id": "bridge", "kind": "kafka_consumer", "config": {
                "auto.offset.reset": "earliest", "processing_time": "1ms",
                "handler": [{"call": "bank"}]}},
            {"id": "bank", "kind": "service", "config": {
                "concurrency": 1, "service_time": "5ms", "error_rate": 1.0}}],
        "edges": [
            {"from": "orders", "to": "order-events"},
            {"from": "order-events", "to": "bridge"},
            {"from": "bridge", "to": "bank", "latency": "2ms"}]});
    let (events, sim) = run(&doc, 5000);
    let names: Vec<&str> = story(&events).iter().map(|&(_, n)| n).collect();
    assert_eq!(
        names,
        [
            "attempt",
            "answered",
            "step_failed",
            "attempt",
            "answered",
            "step_failed"
        ]
    );
    // Both records were handled (each called once); they stay in the log, as records do.
    assert_eq!(served(&sim, "bank"), 2);
}

#[test]
fn bad_call_steps_are_refused_with_their_paths() {
    // No such node.
    common::refused(
        &payment(json!([{"call": "nobody"}]), json!({}), json!(null)),
        "nodes[2].config.handler[0].call[0]",
        "there is no node of that name",
    );
    // A queue is not called.
    common::refused(
        &payment(json!([{"call": "payments"}]), json!({}), json!(null)),
        "nodes[2].config.handler[0].call[0]",
        "is a queue; a call step calls a service or a load balancer",
    );
    // No edge to call over.
    let mut doc = payment(json!([{"call": "bank"}]), json!({}), json!(null));
    doc["edges"].as_array_mut().unwrap().pop();
    common::refused(
        &doc,
        "nodes[2].config.handler[0].call[0]",
        "consumer \"payer\" has no edge to it",
    );
    // Names nobody.
    common::refused(
        &payment(json!([{"call": []}]), json!({}), json!(null)),
        "nodes[2].config.handler[0].call",
        "names no node to call",
    );
    // A worker's and a Kafka consumer's call steps are checked the same way.
    let mut doc = job_payment(json!({}), 1);
    doc["nodes"][2]["config"]["handler"] = json!([{"call": "payments"}]);
    common::refused(
        &doc,
        "nodes[2].config.handler[0].call[0]",
        "is a job_queue; a call step calls a service",
    );
}

#[test]
fn a_call_edge_from_a_consumer_is_a_call_with_policies() {
    use switchboard_core::model::{edge_rule, EdgeKind};
    let s = common::scenario(
        &payment(
            json!([{"call": "bank"}]),
            json!({}),
            json!({"retry": {"maxAttempts": 2}}),
        )
        .to_string(),
    );
    let kind = |n: &str| &s.nodes.iter().find(|x| x.id == n).unwrap().kind;
    assert_eq!(
        edge_rule(kind("payer"), kind("bank")),
        Ok(EdgeKind::Http(switchboard_core::http::EdgeKind::Call))
    );
    // Still refused the other way: a service does not call a consumer.
    assert!(edge_rule(kind("bank"), kind("payer")).is_err());
    // A policy out of range on it is refused like any call edge's.
    common::refused(
        &payment(
            json!([{"call": "bank"}]),
            json!({}),
            json!({"retry": {"maxAttempts": 0}}),
        ),
        "edges[2].resilience.retry.maxAttempts",
        "expected 1 to",
    );
}

#[test]
fn the_example_charges_twice_after_a_timeout_and_after_a_crash_mid_call() {
    let s = common::example("data-payment-calls.json");
    let (events, sim) = common::run_events(&s, SimTime(10_000 * MS), true);
    let id = sim.topology().node_id("charges").unwrap();
    let charges = sim.metrics().nodes[id.index()].store().unwrap().clone();
    // Which attempt made each duplicate write: a retry after a timeout, or a call again after
    // a redelivery (the crashes at 2.32 s and 6 s each caught a call out).
    let redelivered: Vec<switchboard_core::MessageId> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Amqp(switchboard_core::amqp::AmqpEvent::Delivered {
                message,
                redelivered: true,
                ..
            }) => Some(*message),
            _ => None,
        })
        .collect();
    let duplicates: Vec<switchboard_core::MessageId> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Data(d) => match &**d {
                switchboard_core::data::DataEvent::Written {
                    logical,
                    duplicate: true,
                    ..
                } => Some(*logical),
                _ => None,
            },
            _ => None,
        })
        .collect();
    let after_crash = duplicates
        .iter()
        .filter(|m| redelivered.contains(m))
        .count();
    let timed_out = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Http(HttpEvent::TimedOut { .. })))
        .count();
    assert_eq!(charges.stats.duplicates as usize, duplicates.len());
    assert_eq!(
        after_crash, 2,
        "one per crash: {duplicates:?} {redelivered:?}"
    );
    // docs/consistency.md quotes the count: 8 by 10 s.
    assert_eq!(duplicates.len(), 8, "{duplicates:?}");
    assert!(
        duplicates.len() > after_crash && timed_out > 0,
        "retries after timeouts charge twice too: {duplicates:?}, {timed_out} timeouts"
    );
}

/// The crashes and restarts, as (ms, what, node).
fn downs<'a>(events: &[Event], sim: &'a Sim) -> Vec<(u64, &'static str, &'a str)> {
    let topo = sim.topology();
    events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Crashed { node, .. } => Some((e.at.0 / MS, "crashed", node)),
            EventKind::Restarted { node } => Some((e.at.0 / MS, "restarted", node)),
            _ => None,
        })
        .map(|(t, what, n)| (t, what, topo.node(n).name.as_str()))
        .collect()
}

/// The service `orders` serves HTTP and, as its other input, consumes the queue `payments`
/// through `payer`, which calls `bank`.
fn orders_service() -> Value {
    let mut doc = payment(json!([{"call": "bank"}]), json!({}), json!(null));
    doc["nodes"].as_array_mut().unwrap().push(json!(
        {"id": "orders", "kind": "service", "config": {"service_time": "1ms", "inputs": ["payer"]}}));
    doc
}

#[test]
fn a_service_crashes_and_comes_back_with_its_inputs() {
    // orders crashes at 15 ms, while payer's call is out: payer goes down with it (its call
    // ends, the payment goes back to the queue); both come back at 100 ms, and the payment is
    // delivered again and paid.
    let mut doc = orders_service();
    let actions = doc["actions"].as_array_mut().unwrap();
    actions.push(json!({"at": "15ms", "do": "crash", "node": "orders"}));
    actions.push(json!({"at": "100ms", "do": "restart", "node": "orders"}));
    let (events, sim) = run(&doc, 1000);
    assert_eq!(
        downs(&events, &sim),
        vec![
            (15, "crashed", "orders"),
            (15, "crashed", "payer"),
            (100, "restarted", "orders"),
            (100, "restarted", "payer"),
        ]
    );
    assert_eq!(
        story(&events),
        vec![
            (12, "attempt"),
            (15, "crashed"),
            (15, "crashed"),
            (100, "restarted"),
            (100, "restarted"),
            (111, "attempt"),
            (120, "answered"),
            (121, "acked"),
        ]
    );
    // Crashing payer alone leaves orders up.
    let mut doc = orders_service();
    doc["actions"]
        .as_array_mut()
        .unwrap()
        .push(json!({"at": "15ms", "do": "crash", "node": "payer"}));
    let (events, _) = run(&doc, 50);
    let crashed = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Crashed { .. }))
        .count();
    assert_eq!(crashed, 1);
}

#[test]
fn bad_inputs_of_a_service_are_refused_with_their_paths() {
    let with_inputs = |inputs: Value| {
        let mut doc = orders_service();
        doc["nodes"][4]["config"]["inputs"] = inputs;
        doc
    };
    common::refused(
        &with_inputs(json!(["nobody"])),
        "nodes[4].config.inputs[0]",
        "\"nobody\": there is no node of that name",
    );
    common::refused(
        &with_inputs(json!(["payments"])),
        "nodes[4].config.inputs[0]",
        "\"payments\" is a queue; a service's inputs are consumers",
    );
    common::refused(
        &with_inputs(json!(["payer", "payer"])),
        "nodes[4].config.inputs[1]",
        "\"payer\" is listed twice",
    );
    // One process per node: bank cannot also hold payer.
    let mut doc = orders_service();
    doc["nodes"][3]["config"]["inputs"] = json!(["payer"]);
    common::refused(
        &doc,
        "nodes[4].config.inputs[0]",
        "\"payer\" is already an input of service \"bank\"",
    );
}

#[test]
fn a_version_10_document_cannot_have_a_consumers_call_or_a_services_inputs() {
    let mut doc = payment(json!([{"call": "bank"}]), json!({}), json!(null));
    doc["version"] = json!(10);
    common::refused(
        &doc,
        "nodes[2].config.handler[0].call",
        "a consumer's `call` step is new in format version 11",
    );
    let mut doc = orders_service();
    doc["version"] = json!(10);
    doc["nodes"][2]["config"]["handler"] = json!([]);
    common::refused(
        &doc,
        "nodes[4].config.inputs",
        "a service's `inputs` is new in format version 11",
    );
    // Without them, a version-10 document runs as before.
    let mut doc = payment(json!([]), json!({}), json!(null));
    doc["version"] = json!(10);
    common::scenario(&doc.to_string());
}

#[test]
fn the_service_inputs_example_goes_down_and_comes_back_as_one_process() {
    let s = common::example("service-inputs.json");
    let (events, sim) = common::run_events(&s, SimTime(15_000 * MS), true);
    let topo = sim.topology();
    let mut downs = downs(&events, &sim);
    downs.sort();
    assert_eq!(
        downs,
        vec![
            (5000, "crashed", "orders"),
            (5000, "crashed", "payment-listener"),
            (5000, "crashed", "refunder"),
            (7000, "restarted", "orders"),
            (7000, "restarted", "payment-listener"),
            (7000, "restarted", "refunder"),
        ]
    );
    let m = sim.metrics();
    let node = |name: &str| &m.nodes[topo.node_id(name).unwrap().index()];
    // Two seconds down at 5 requests a second: the requests begun then fail.
    let shop = match node("shop").detail.as_ref().unwrap() {
        switchboard_core::ModelMetrics::Http(switchboard_core::http::HttpMetrics::Client(c)) => {
            c.stats.clone()
        }
        _ => unreachable!("a client"),
    };
    assert!((8..=12).contains(&shop.failed), "{shop:?}");
    // The refunds drained; the payments read again from the start were written twice.
    assert_eq!(node("refunds").queue().unwrap().ready, 0);
    let db = node("orders-db").store().unwrap();
    assert!(db.stats.duplicates > 0, "{db:?}");
}

#[test]
fn a_call_that_can_come_back_at_once_into_a_loop_is_refused() {
    // payer takes no time and calls bank over a 0 ms edge; bank takes none and publishes back
    // to the queue payer consumes: every payment would make another at the same instant.
    let loop_doc = |time: &str| {
        json!({"version": 11, "seed": 1,
            "nodes": [
                {"id": "payments", "kind": "queue", "config": {}},
                {"id": "payer", "kind": "consumer", "config": {
                    "processing": time, "handler": [{"call": "bank"}]}},
                {"id": "bank", "kind": "service", "config": {
                    "service_time": time, "handler": [{"publish": "payments"}]}}],
            "edges": [
                {"from": "payments", "to": "payer", "latency": time},
                {"from": "payer", "to": "bank", "latency": "0ms"},
                {"from": "bank", "to": "payments", "latency": "0ms"}]})
    };
    common::refused(
        &loop_doc("0ms"),
        "edges[0]",
        "closes a loop (\"payments\" → \"payer\" → \"bank\" → \"payments\")",
    );
    // With time in the loop, it runs.
    common::scenario(&loop_doc("1ms").to_string());
    // And only the time of its parts counts: a bank that takes time breaks the loop.
    let mut doc = loop_doc("0ms");
    doc["nodes"][2]["config"]["service_time"] = json!("1ms");
    let d = switchboard_core::Scenario::from_json(&doc.to_string()).unwrap_err();
    assert!(!d.to_string().contains("closes a loop"), "{d}");
}

#[test]
fn live_edits_while_a_call_is_out_keep_every_message_accounted_for() {
    use switchboard_core::Command;
    // bank takes 50 ms; payer's call is out from 12 ms. Each edit lands at 20 ms, while it is
    // out: the call edge removed, bank removed, bank crashed, payer removed. The conservation
    // check runs after every event.
    for edit in ["remove_edge", "remove_bank", "crash_bank", "remove_payer"] {
        let doc = payment(
            json!([{"call": "bank"}]),
            json!({"service_time": "50ms"}),
            json!({"retry": {"maxAttempts": 3, "waitDuration": "5ms"}}),
        );
        let s = common::scenario(&doc.to_string());
        let mut sim = Sim::new(&s).unwrap();
        common::run_checked(&mut sim, SimTime(20 * MS), 1_000_000);
        let topo = sim.topology();
        let (bank, payer) = (
            topo.node_id("bank").unwrap(),
            topo.node_id("payer").unwrap(),
        );
        let call = topo.edge_between(payer, bank, None).unwrap();
        let command = match edit {
            "remove_edge" => Command::RemoveEdge { edge: call },
            "remove_bank" => Command::RemoveNode { node: bank },
            "crash_bank" => Command::Crash { node: bank },
            _ => Command::RemoveNode { node: payer },
        };
        sim.apply(command).unwrap_or_else(|e| panic!("{edit}: {e}"));
        sim.check_conservation()
            .unwrap_or_else(|e| panic!("{edit}: {e}"));
        let lines = common::run_checked(&mut sim, SimTime(2_000 * MS), 1_000_000);
        // The attempt already out over a removed edge still comes back (as a service's does):
        // the payment is acked. Without bank, every attempt fails and the step throws: the
        // payment is rejected. With payer removed, it goes back to its queue and waits there.
        let has = |what: &str| {
            lines
                .iter()
                .any(|l| l.contains(&format!("\"type\":\"{what}\"")))
        };
        let outcome = (has("acked"), has("step_failed"), sim.totals().live);
        let expected = match edit {
            "remove_edge" => (true, false, 0),
            "remove_payer" => (false, false, 1),
            _ => (false, true, 0),
        };
        assert_eq!(outcome, expected, "{edit}: {lines:#?}");
        if edit == "remove_payer" {
            assert_eq!(topo_queue_ready(&sim, "payments"), 1, "back in its queue");
        }
    }
}

fn topo_queue_ready(sim: &Sim, name: &str) -> u64 {
    let id = sim.topology().node_id(name).unwrap();
    sim.metrics().nodes[id.index()].queue().unwrap().ready
}

#[test]
fn a_call_step_handed_over_at_the_instant_its_consumer_crashes_is_not_sent() {
    use switchboard_core::Command;
    // payer finishes processing at 12 ms and hands its call over; before the call begins (the
    // same instant), payer crashes and comes back. The call belonged to the run that died: it
    // is not sent. The payment is delivered again and called for once.
    let doc = payment(json!([{"call": "bank"}]), json!({}), json!(null));
    let s = common::scenario(&doc.to_string());
    let mut sim = Sim::new(&s).unwrap();
    while sim.now() < SimTime(12 * MS) {
        sim.step();
    }
    let payer = sim.topology().node_id("payer").unwrap();
    sim.apply(Command::Crash { node: payer }).unwrap();
    sim.apply(Command::Restart { node: payer }).unwrap();
    let lines = common::run_checked(&mut sim, SimTime(1_000 * MS), 1_000_000);
    let attempts: Vec<&String> = lines.iter().filter(|l| l.contains("\"attempt\"")).collect();
    assert_eq!(attempts.len(), 1, "{attempts:#?}");
    assert!(!attempts[0].contains("\"at_us\":12000,"), "{attempts:#?}");
    assert_eq!(served(&sim, "bank"), 1);
}

#[test]
fn a_workers_queue_removed_while_its_call_is_out_ends_nothing_else() {
    use switchboard_core::Command;
    // The worker's call is out from 12 ms (bank takes 50 ms and fails); its job queue is
    // removed at 20 ms, and the job with it. The call's failure then finds no job to fail.
    let doc = job_payment(json!({"service_time": "50ms", "error_rate": 1.0}), 1);
    let s = common::scenario(&doc.to_string());
    let mut sim = Sim::new(&s).unwrap();
    common::run_checked(&mut sim, SimTime(20 * MS), 1_000_000);
    let queue = sim.topology().node_id("payments").unwrap();
    sim.apply(Command::RemoveNode { node: queue }).unwrap();
    let lines = common::run_checked(&mut sim, SimTime(1_000 * MS), 1_000_000);
    assert!(
        lines.iter().any(|l| l.contains("\"answered\"")),
        "{lines:#?}"
    );
    assert!(
        !lines.iter().any(|l| l.contains("\"step_failed\"")),
        "{lines:#?}"
    );
    // The attempt ended with its job: the worker's slot is free again.
    let payer = sim.topology().node_id("payer").unwrap();
    let running = match sim.metrics().nodes[payer.index()].detail.as_ref() {
        Some(switchboard_core::ModelMetrics::Bullmq(
            switchboard_core::bullmq::BullmqMetrics::Worker(w),
        )) => w.running,
        other => panic!("a worker's metrics, not {other:?}"),
    };
    assert_eq!(running, 0);
}
