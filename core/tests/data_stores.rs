//! Stores written by services' handler steps: versions, duplicates and idempotency keys, on
//! hand-computed cases; their invariants in a randomized sweep; bad documents as diagnostics.

mod common;

use serde_json::{json, Value};
use switchboard_core::data::DataEvent;
use switchboard_core::{EventKind, Scenario, Sim, SimTime};

/// One order at 0 through shop → checkout → payments → charges, with constant latencies:
/// checkout gives up on each attempt after 100 ms and tries 3 times; payments takes 150 ms, so
/// every attempt times out, and every one of them still writes its charge.
fn one_order(idempotency_key: Option<&str>) -> Value {
    let mut write = json!({"write": "charges", "key": "charge:{correlation_id}"});
    if let Some(k) = idempotency_key {
        write["idempotency_key"] = json!(k);
    }
    json!({"version": 7, "seed": 1,
        "nodes": [
            {"id": "shop", "kind": "client", "config": {}},
            {"id": "checkout", "kind": "service", "config": {"service_time": "5ms"}},
            {"id": "payments", "kind": "service",
             "config": {"service_time": "150ms", "handler": [write]}},
            {"id": "charges", "kind": "store", "config": {"write_latency": "5ms"}}],
        "edges": [
            {"from": "shop", "to": "checkout", "latency": "1ms"},
            {"from": "checkout", "to": "payments", "latency": "1ms",
             "resilience": {"timeLimiter": {"timeoutDuration": "100ms"},
                            "retry": {"maxAttempts": 3, "waitDuration": "10ms"}}},
            {"from": "payments", "to": "charges", "latency": "2ms"}],
        "actions": [{"at": "0s", "do": "publish", "node": "shop"}]})
}

fn run(doc: &Value, until_s: u64) -> (Vec<(SimTime, DataEvent)>, Sim) {
    let s = common::scenario(&doc.to_string());
    let (events, sim) = common::run_events(&s, SimTime(until_s * 1_000_000), true);
    let data = events
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::Data(d) => Some((e.at, *d)),
            _ => None,
        })
        .collect();
    (data, sim)
}

fn store(sim: &Sim, name: &str) -> switchboard_core::data::StoreMetrics {
    let id = sim.topology().node_id(name).unwrap();
    sim.metrics().nodes[id.index()].store().unwrap().clone()
}

const MS: u64 = 1_000;

#[test]
fn every_timed_out_attempt_still_writes_so_a_retried_order_is_charged_three_times() {
    let (events, sim) = run(&one_order(None), 2);
    // Attempt n leaves checkout at 6 ms + (n-1)·110 ms (a 100 ms timeout, then 10 ms of
    // wait), reaches payments 1 ms later, works 150 ms, and its write takes 2 ms on the wire
    // and 5 ms in the store: applied at 164, 274 and 384 ms.
    let written: Vec<(u64, u64, bool)> = events
        .iter()
        .filter_map(|(at, e)| match e {
            DataEvent::Written {
                version, duplicate, ..
            } => Some((at.0 / MS, *version, *duplicate)),
            _ => None,
        })
        .collect();
    assert_eq!(
        written,
        vec![(164, 1, false), (274, 2, true), (384, 3, true)]
    );
    let m = store(&sim, "charges");
    assert_eq!(
        (
            m.keys,
            m.stats.writes,
            m.stats.duplicates,
            m.stats.deduplicated
        ),
        (1, 3, 2, 0)
    );
    // The key's version remembers the last attempt that wrote it, of the one request.
    let id = sim.topology().node_id("charges").unwrap();
    let values: Vec<_> = sim.store_values(id).unwrap().collect();
    assert_eq!(values.len(), 1);
    let (key, v) = values[0];
    assert_eq!(key, format!("charge:{}", v.logical.0));
    assert_eq!(v.version, 3);
    assert_ne!(
        v.message, v.logical,
        "written by an attempt, not the request itself"
    );
}

#[test]
fn the_idempotency_key_applies_the_order_once_and_skips_the_two_retries() {
    let (events, sim) = run(&one_order(Some("{correlation_id}")), 2);
    let kinds: Vec<(u64, &str)> = events
        .iter()
        .filter(|(_, e)| !matches!(e, DataEvent::WriteSent { .. }))
        .map(|(at, e)| (at.0 / MS, e.name()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (164, "store_written"),
            (274, "store_deduplicated"),
            (384, "store_deduplicated")
        ]
    );
    let m = store(&sim, "charges");
    assert_eq!(
        (
            m.keys,
            m.stats.writes,
            m.stats.duplicates,
            m.stats.deduplicated
        ),
        (1, 1, 0, 2)
    );
}

#[test]
fn a_key_made_per_attempt_does_not_deduplicate() {
    // `{message_id}` is each attempt's own id: every retry brings a new key, the classic bug.
    let (_, sim) = run(&one_order(Some("{message_id}")), 2);
    let m = store(&sim, "charges");
    assert_eq!(
        (m.stats.writes, m.stats.duplicates, m.stats.deduplicated),
        (3, 2, 0)
    );
}

#[test]
fn without_retries_there_is_no_duplicate() {
    let mut doc = one_order(None);
    doc["edges"][1]["resilience"]["timeLimiter"]["timeoutDuration"] = json!("1s");
    let (_, sim) = run(&doc, 2);
    let m = store(&sim, "charges");
    assert_eq!((m.keys, m.stats.writes, m.stats.duplicates), (1, 1, 0));
}

#[test]
fn a_write_whose_store_was_removed_fails_the_request() {
    let doc = one_order(None);
    let s = common::scenario(&doc.to_string());
    let mut sim = Sim::new(&s).unwrap();
    // Payments' first write leaves at 157 ms and reaches the store at 159 ms.
    sim.advance_to(SimTime(158 * MS));
    let store = sim.topology().node_id("charges").unwrap();
    sim.apply(switchboard_core::Command::RemoveNode { node: store })
        .unwrap();
    sim.advance_to(SimTime(2_000_000));
    sim.check_conservation().unwrap();
    let m = sim.metrics();
    let payments = sim.topology().node_id("payments").unwrap();
    let Some(switchboard_core::http::HttpMetrics::Service(p)) = m.nodes[payments.index()].http()
    else {
        panic!("a service")
    };
    assert_eq!(p.stats.errors, 3, "each attempt's write failed: {p:?}");
    assert_eq!(p.stats.ok, 0);
    // Each says why: the first lost its store on the way, the others found none.
    let failed: Vec<String> = sim
        .drain_events()
        .filter_map(|e| match e.kind {
            EventKind::Http(switchboard_core::http::HttpEvent::StepFailed { reason, .. }) => {
                Some(reason.to_string())
            }
            _ => None,
        })
        .collect();
    assert_eq!(failed.len(), 3, "{failed:?}");
    assert!(
        failed[0].contains("store or job queue it waited on was removed"),
        "{failed:?}"
    );
    assert!(failed[1].contains("there is no store"), "{failed:?}");
}

#[test]
fn stores_keep_their_invariants_across_random_runs() {
    // Random latencies and load: versions only go up, one at a time, per key; each is
    // written by a message the run made; writes and duplicates add up. Conservation is
    // checked after every event (`run_events`), the stores' own check with it.
    for seed in 0..24u64 {
        let mut doc: Value = serde_json::from_str(
            switchboard_core::examples::get("data-duplicate-charges").unwrap(),
        )
        .unwrap();
        doc["seed"] = json!(seed);
        let (events, sim) = std::panic::catch_unwind(|| run(&doc, 20))
            .unwrap_or_else(|_| panic!("seed {seed} failed; rerun with it"));
        let mut versions = std::collections::BTreeMap::<(String, String), u64>::new();
        let mut writes = 0;
        let mut duplicates = 0;
        for (_, e) in &events {
            if let DataEvent::Written {
                store,
                key,
                version,
                message,
                duplicate,
                ..
            } = e
            {
                let name = sim.topology().node(*store).name.clone();
                let last = versions.entry((name, key.clone())).or_insert(0);
                assert_eq!(
                    *version,
                    *last + 1,
                    "seed {seed}: {key} went {last} → {version}"
                );
                *last = *version;
                assert!(message.0 >= 1, "seed {seed}");
                writes += 1;
                duplicates += u64::from(*duplicate);
            }
        }
        let (a, b) = (store(&sim, "charges"), store(&sim, "charges-2"));
        assert_eq!(a.stats.writes + b.stats.writes, writes, "seed {seed}");
        assert_eq!(
            a.stats.duplicates + b.stats.duplicates,
            duplicates,
            "seed {seed}"
        );
        assert_eq!(b.stats.duplicates, 0, "seed {seed}: the keyed store");
        assert!(
            a.stats.duplicates > 0,
            "seed {seed}: the store without a key has some"
        );
        assert!(
            b.stats.deduplicated > 0,
            "seed {seed}: the keyed store skipped some"
        );
        assert_eq!(a.keys + b.keys, versions.len() as u64, "seed {seed}");
    }
}

fn with_step(step: Value) -> Value {
    let mut doc = one_order(None);
    doc["nodes"][2]["config"]["handler"] = json!([step]);
    doc
}

/// `one_order` with `item` pushed onto its list `field` (`edges`, `actions`).
fn with_pushed(field: &str, item: Value) -> Value {
    let mut doc = one_order(None);
    doc[field].as_array_mut().unwrap().push(item);
    doc
}

#[test]
fn bad_write_steps_are_diagnostics_with_paths() {
    let at = "nodes[2].config.handler[0]";
    let cases = [
        (
            json!({"write": "ledger", "key": "k"}),
            ".write",
            "there is no node of that name",
        ),
        (
            json!({"write": "checkout", "key": "k"}),
            ".write",
            "is a service; a write step writes a store",
        ),
        (json!({"write": "charges"}), "", "needs a \"key\""),
        (
            json!({"write": "charges", "key": "o:{order}"}),
            ".key",
            "{order} is not a field",
        ),
        (
            json!({"write": "charges", "key": "o:{header.order_id}"}),
            ".key",
            "carry no headers",
        ),
        (
            json!({"write": "charges", "key": "k", "idempotency_key": "{routing_key}"}),
            ".idempotency_key",
            "carry no routing key",
        ),
        (
            json!({"write": "charges", "key": "k", "call": "checkout"}),
            "",
            "this one calls and writes",
        ),
        (
            json!({"call": "checkout", "key": "k"}),
            "",
            "belong to a write step",
        ),
        (
            json!({"write": "charges", "key": "k", "ttl": "1s"}),
            "",
            "unknown field",
        ),
    ];
    for (step, field, says) in cases {
        common::refused(&with_step(step), &format!("{at}{field}"), says);
    }
    // No edge from the service to the store.
    let mut doc = one_order(None);
    doc["edges"].as_array_mut().unwrap().pop();
    common::refused(
        &doc,
        "nodes[2].config.handler[0].write",
        "has no edge to it",
    );
}

#[test]
fn stores_refuse_edges_and_actions_that_make_no_sense() {
    let edge = |from, to| with_pushed("edges", json!({"from": from, "to": to}));
    common::refused(
        &edge("charges", "payments"),
        "edges[3]",
        "a store sends only what its outbox relay publishes",
    );
    common::refused(
        &edge("shop", "charges"),
        "edges[3]",
        "connect a service, a consumer, a worker or a Kafka consumer",
    );
    let crash = with_pushed(
        "actions",
        json!({"at": "1s", "do": "crash", "node": "charges"}),
    );
    common::refused(&crash, "actions[1]", "stores do not crash");
    let mut doc = one_order(None);
    doc["nodes"][3]["config"]["write_latency"] = json!("-1ms");
    common::refused(&doc, "nodes[3].config.write_latency", "");
}

#[test]
fn a_version_6_document_with_a_store_or_a_write_says_it_was_written_for_7() {
    let mut doc = one_order(None);
    doc["version"] = json!(6);
    common::refused(
        &doc,
        "nodes[2].config.handler[0].write",
        "new in format version 7",
    );
    doc["nodes"][2]["config"]["handler"] = json!([{"call": "checkout"}]);
    common::refused(
        &doc,
        "nodes[3].kind",
        "the kind `store` is new in format version 7",
    );
}

#[test]
fn a_version_6_configure_action_with_a_store_says_it_was_written_for_7() {
    let mut doc = one_order(None);
    doc["version"] = json!(6);
    doc["nodes"][2]["config"]["handler"] = json!([{"call": "checkout"}]);
    doc["nodes"].as_array_mut().unwrap().pop();
    doc["edges"].as_array_mut().unwrap().pop();
    doc["actions"] = json!([{"at": "1s", "do": "configure",
        "node": {"id": "payments", "kind": "service",
                 "config": {"handler": [{"write": "charges", "key": "k"}]}}}]);
    common::refused(
        &doc,
        "actions[0].node.config.handler[0].write",
        "new in format version 7",
    );
}

#[test]
fn a_document_with_stores_round_trips() {
    let s = common::example("data-duplicate-charges.json");
    let text = serde_json::to_string(&s).unwrap();
    let again = Scenario::from_json(&text).unwrap();
    assert_eq!(s, again);
    assert!(text.contains(r#""handler":[{"write":"charges-2","key":"charge:{correlation_id}","idempotency_key":"{correlation_id}"}]"#), "{text}");
}
