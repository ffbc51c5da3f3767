//! Reads and read models: a read returns its key's version when the store serves it; a read
//! model (`projection_of`) shows the versions of its source that handlers have written into it,
//! and measures each version's staleness window. Hand-computed cases with constant latencies
//! (a window of exactly the path in between; a read-your-writes violation; a stale read by
//! another chain that is not one); the stores' invariants in a randomized sweep; bad documents
//! as diagnostics with paths.

mod common;

use serde_json::{json, Value};
use switchboard_core::data::{DataEvent, StoreMetrics};
use switchboard_core::{Event, EventKind, Sim, SimTime};

const MS: u64 = 1_000;

/// One order at 0: shop → gateway, whose handler calls orders (which writes `orders-db` and
/// publishes to the queue `placed`) and then view (which reads `read_from`). The consumer
/// projector takes `placed` and writes `orders-view`, a read model of `orders-db`. Every edge
/// takes 1 ms; services work 1 ms, projector 2 ms; writes take 5 ms, reads 1 ms.
fn order_then_read(read_from: &str) -> Value {
    json!({"version": 9, "seed": 1,
        "nodes": [
            {"id": "shop", "kind": "client", "config": {}},
            {"id": "gateway", "kind": "service", "config": {
                "service_time": "1ms", "handler": [{"call": "orders"}, {"call": "view"}]}},
            {"id": "orders", "kind": "service", "config": {
                "service_time": "1ms", "handler": [
                    {"write": "orders-db", "key": "order:{correlation_id}"},
                    {"publish": "placed"}]}},
            {"id": "orders-db", "kind": "store", "config": {"write_latency": "5ms"}},
            {"id": "placed", "kind": "queue", "config": {}},
            {"id": "projector", "kind": "consumer", "config": {
                "processing": "2ms",
                "handler": [{"write": "orders-view", "key": "order:{correlation_id}"}]}},
            {"id": "orders-view", "kind": "store", "config": {
                "write_latency": "5ms", "read_latency": "1ms", "projection_of": "orders-db"}},
            {"id": "view", "kind": "service", "config": {
                "service_time": "1ms",
                "handler": [{"read": read_from, "key": "order:{correlation_id}"}]}}],
        "edges": [
            {"from": "shop", "to": "gateway", "latency": "1ms"},
            {"from": "gateway", "to": "orders", "latency": "1ms"},
            {"from": "gateway", "to": "view", "latency": "1ms"},
            {"from": "orders", "to": "orders-db", "latency": "1ms"},
            {"from": "orders", "to": "placed", "latency": "1ms"},
            {"from": "placed", "to": "projector", "latency": "1ms"},
            {"from": "projector", "to": "orders-view", "latency": "1ms"},
            {"from": "view", "to": read_from, "latency": "1ms"}],
        "actions": [{"at": "0s", "do": "publish", "node": "shop"}]})
}

fn run(doc: &Value, until_ms: u64) -> (Vec<Event>, Sim) {
    let s = common::scenario(&doc.to_string());
    common::run_events(&s, SimTime(until_ms * MS), true)
}

fn store(sim: &Sim, name: &str) -> StoreMetrics {
    let id = sim.topology().node_id(name).unwrap();
    sim.metrics().nodes[id.index()].store().unwrap().clone()
}

/// The data events, as (ms, name).
fn story(events: &[Event]) -> Vec<(u64, &'static str)> {
    events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Data(_)))
        .map(|e| (e.at.0 / MS, e.kind.name()))
        .collect()
}

fn reads(events: &[Event]) -> Vec<switchboard_core::data::ReadResult> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Data(d) => match &**d {
                DataEvent::Read(r) => Some((**r).clone()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

#[test]
fn a_read_model_lags_its_source_by_the_path_in_between() {
    let (events, sim) = run(&order_then_read("orders-view"), 1000);
    // The request reaches gateway at 1 ms; gateway works to 2 and calls orders (3), which
    // works to 4 and sends its write: at orders-db at 5, applied at 10 (version 1), answered
    // at 11. orders then publishes (at placed at 12) and responds (at gateway at 12). gateway
    // calls view (13), which works to 14 and sends its read: at orders-view at 15, served at
    // 16. Meanwhile projector gets the message at 13, works to 15 and writes: at orders-view
    // at 16, applied at 21, showing orders-db's version 1 there. The window is 21 − 10 = 11 ms,
    // the path in between: 1 (answer) + 1 (publish) + 1 (delivery) + 2 (work) + 1 (wire) +
    // 5 (write).
    assert_eq!(
        story(&events),
        vec![
            (4, "store_write_sent"),
            (10, "store_written"),
            (14, "store_read_sent"),
            (15, "store_write_sent"),
            (16, "store_read"),
            (21, "store_written"),
            (21, "store_visible"),
        ]
    );
    let visible: Vec<(u64, u64)> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Data(d) => match &**d {
                DataEvent::Visible {
                    version, window_us, ..
                } => Some((*version, *window_us)),
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert_eq!(visible, vec![(1, 11 * MS)]);
    // The read at 16 found nothing: orders-db had acknowledged version 1 to orders at 11, and
    // this request's own chain had been told it wrote it. A stale read, and a read-your-writes
    // violation.
    let r = reads(&events);
    assert_eq!(r.len(), 1);
    assert_eq!((r[0].version, r[0].acked, r[0].told), (0, 1, 1));
    assert!(r[0].stale() && r[0].ryw_violation());
    let view = store(&sim, "orders-view");
    assert_eq!(
        (
            view.stats.reads,
            view.stats.stale_reads,
            view.stats.ryw_violations
        ),
        (1, 1, 1)
    );
    let p = view.projection.expect("a read model");
    assert_eq!(
        (
            p.behind,
            p.unmatched,
            p.staleness.count,
            p.staleness.p50_us,
            p.staleness.p99_us,
            p.staleness.max_us
        ),
        (0, 0, 1, 11 * MS, 11 * MS, 11 * MS)
    );
    // The source of truth itself has no read-model measures.
    assert!(store(&sim, "orders-db").projection.is_none());
}

#[test]
fn reading_the_source_of_truth_sees_the_write() {
    let (events, sim) = run(&order_then_read("orders-db"), 1000);
    let r = reads(&events);
    assert_eq!(r.len(), 1);
    assert_eq!((r[0].version, r[0].acked, r[0].told), (1, 1, 1));
    assert!(!r[0].stale() && !r[0].ryw_violation());
    let db = store(&sim, "orders-db");
    assert_eq!(
        (
            db.stats.reads,
            db.stats.stale_reads,
            db.stats.ryw_violations
        ),
        (1, 0, 0)
    );
}

#[test]
fn a_later_read_of_the_read_model_is_fresh() {
    // view works 20 ms instead of 1: its read is served at 35, after version 1 became
    // visible at 21.
    let mut doc = order_then_read("orders-view");
    doc["nodes"][7]["config"]["service_time"] = json!("20ms");
    let (events, _) = run(&doc, 1000);
    let r = reads(&events);
    assert_eq!(r.len(), 1);
    assert_eq!((r[0].version, r[0].acked, r[0].told), (1, 1, 1));
    let at = events
        .iter()
        .find(|e| e.kind.name() == "store_read")
        .unwrap()
        .at;
    assert_eq!(at.0, 35 * MS);
}

/// Two clients on one key: `writer` places an order (orders writes `stock`), `browser` only
/// reads `stock` through `view`. Their reads belong to different chains.
fn shared_key() -> Value {
    json!({"version": 9, "seed": 1,
        "nodes": [
            {"id": "writer", "kind": "client", "config": {}},
            {"id": "browser", "kind": "client", "config": {}},
            {"id": "orders", "kind": "service", "config": {
                "service_time": "1ms", "handler": [
                    {"write": "db", "key": "stock"}, {"publish": "placed"}]}},
            {"id": "db", "kind": "store", "config": {"write_latency": "5ms"}},
            {"id": "placed", "kind": "queue", "config": {}},
            {"id": "projector", "kind": "consumer", "config": {
                "processing": "2ms", "handler": [{"write": "view-db", "key": "stock"}]}},
            {"id": "view-db", "kind": "store", "config": {
                "write_latency": "5ms", "projection_of": "db"}},
            {"id": "view", "kind": "service", "config": {
                "service_time": "1ms", "handler": [{"read": "view-db", "key": "stock"}]}}],
        "edges": [
            {"from": "writer", "to": "orders", "latency": "1ms"},
            {"from": "browser", "to": "view", "latency": "1ms"},
            {"from": "orders", "to": "db", "latency": "1ms"},
            {"from": "orders", "to": "placed", "latency": "1ms"},
            {"from": "placed", "to": "projector", "latency": "1ms"},
            {"from": "projector", "to": "view-db", "latency": "1ms"},
            {"from": "view", "to": "view-db", "latency": "1ms"}],
        "actions": [
            {"at": "0s", "do": "publish", "node": "writer"},
            {"at": "10ms", "do": "publish", "node": "browser"},
            {"at": "30ms", "do": "publish", "node": "browser"}]})
}

#[test]
fn another_clients_read_can_be_stale_without_violating_read_your_writes() {
    let (events, sim) = run(&shared_key(), 1000);
    // db applies `stock` version 1 at 8 ms (request at orders at 1, works to 2, write at db at
    // 3, applied at 8) and its answer reaches orders at 9. projector gets the message at 11
    // (published at 9, queued at 10), works to 13, and its write is applied at view-db at 19.
    // The browser's first read is served at 13 (sent at 10, at view at 11, worked to 12, at
    // view-db at 13, 1 ms to serve): version 1 had been acknowledged, view-db shows none. Its
    // second, at 33, sees version 1.
    let r = reads(&events);
    let got: Vec<(u64, u64, u64, bool, bool)> = r
        .iter()
        .map(|r| (r.version, r.acked, r.told, r.stale(), r.ryw_violation()))
        .collect();
    assert_eq!(got, vec![(0, 1, 0, true, false), (1, 1, 0, false, false)]);
    let view = store(&sim, "view-db");
    assert_eq!(
        (
            view.stats.reads,
            view.stats.stale_reads,
            view.stats.ryw_violations
        ),
        (2, 1, 0)
    );
    assert_eq!(view.projection.unwrap().staleness.max_us, 11 * MS);
}

#[test]
fn a_write_acknowledged_after_the_read_does_not_make_it_stale() {
    // The browser's read at 10 ms is served at 13 (above); make db's answer take 10 ms back
    // instead of 1: version 1 is applied at 8 but acknowledged to orders only at 18, so a read
    // served at 13 that misses it is not stale (no writer had been told of it yet).
    let mut doc = shared_key();
    doc["edges"][2]["latency"] = json!("10ms");
    let (events, _) = run(&doc, 1000);
    let first = &reads(&events)[0];
    assert_eq!((first.version, first.acked), (0, 0));
    assert!(!first.stale());
}

#[test]
fn bad_read_models_and_reads_are_named_with_their_paths() {
    let base = order_then_read("orders-view");
    let with = |f: &dyn Fn(&mut Value)| {
        let mut d = base.clone();
        f(&mut d);
        d
    };
    common::refused(
        &with(&|d| d["nodes"][6]["config"]["projection_of"] = json!("nowhere")),
        "nodes[6].config.projection_of",
        "\"nowhere\": there is no node of that name",
    );
    common::refused(
        &with(&|d| d["nodes"][6]["config"]["projection_of"] = json!("orders-view")),
        "nodes[6].config.projection_of",
        "is this store",
    );
    common::refused(
        &with(&|d| d["nodes"][6]["config"]["projection_of"] = json!("placed")),
        "nodes[6].config.projection_of",
        "\"placed\" is a queue; a read model projects a store",
    );
    common::refused(
        &with(&|d| d["nodes"][3]["config"]["projection_of"] = json!("orders-view")),
        "nodes[6].config.projection_of",
        "is itself a read model",
    );
    common::refused(
        &with(&|d| d["nodes"][6]["config"]["read_latency"] = json!("-1ms")),
        "nodes[6].config.read_latency",
        "",
    );
    common::refused(
        &with(&|d| d["edges"].as_array_mut().unwrap().pop().map(drop).unwrap()),
        "nodes[7].config.handler[0].read",
        "\"orders-view\": service \"view\" has no edge to it",
    );
    common::refused(
        &with(&|d| d["nodes"][7]["config"]["handler"][0]["read"] = json!("placed")),
        "nodes[7].config.handler[0].read",
        "\"placed\" is a queue; a read step reads a store",
    );
    common::refused(
        &with(&|d| d["nodes"][7]["config"]["handler"][0] = json!({"read": "orders-view"})),
        "nodes[7].config.handler[0]",
        "a read of \"orders-view\" needs a \"key\"",
    );
    common::refused(
        &with(&|d| {
            d["nodes"][7]["config"]["handler"][0]["idempotency_key"] = json!("{message_id}")
        }),
        "nodes[7].config.handler[0]",
        "belong to a write step",
    );
    common::refused(
        &with(&|d| {
            d["nodes"][7]["config"]["handler"][0]["key"] = json!("order:{header.id}");
        }),
        "nodes[7].config.handler[0].key",
        "",
    );
    // Written for version 9, said 8: the migration names what is new.
    common::refused(
        &with(&|d| {
            d["version"] = json!(8);
            d["nodes"][6]["config"]
                .as_object_mut()
                .unwrap()
                .remove("read_latency");
        }),
        "nodes[6].config.projection_of",
        "a store's `projection_of` is new in format version 9",
    );
    common::refused(
        &with(&|d| {
            d["version"] = json!(8);
            let c = d["nodes"][6]["config"].as_object_mut().unwrap();
            c.remove("read_latency");
            c.remove("projection_of");
        }),
        "nodes[7].config.handler[0].read",
        "a handler's `read` step is new in format version 9",
    );
}

#[test]
fn a_read_model_written_by_a_chain_that_wrote_no_such_source_key_is_unmatched() {
    // projector writes `other:{correlation_id}`, a key orders never wrote in orders-db: the
    // write applies, but shows no version of the source.
    let mut doc = order_then_read("orders-view");
    doc["nodes"][5]["config"]["handler"][0]["key"] = json!("other:{correlation_id}");
    let (events, sim) = run(&doc, 1000);
    assert!(!events.iter().any(|e| e.kind.name() == "store_visible"));
    let p = store(&sim, "orders-view").projection.unwrap();
    assert_eq!((p.unmatched, p.behind, p.staleness.count), (1, 1, 0));
}

#[test]
fn an_update_that_arrives_after_a_newer_one_is_counted_out_of_order() {
    // Two orders 2 ms apart write `stock` (versions 1 and 2 at db). The queue gives the first
    // to `slow` (20 ms of work) and the second to `fast` (1 ms): version 2 reaches view-db
    // first, and version 1 after it. The view keeps version 2; the late write is counted.
    let mut doc = shared_key();
    let nodes = doc["nodes"].as_array_mut().unwrap();
    nodes.retain(|n| n["id"] != "projector");
    for (id, work) in [("slow", "20ms"), ("fast", "1ms")] {
        nodes.push(json!({"id": id, "kind": "consumer", "config": {
            "processing": work, "handler": [{"write": "view-db", "key": "stock"}]}}));
    }
    let edges = doc["edges"].as_array_mut().unwrap();
    edges.retain(|e| e["from"] != "placed" && e["from"] != "projector");
    for id in ["slow", "fast"] {
        edges.push(json!({"from": "placed", "to": id, "latency": "1ms"}));
        edges.push(json!({"from": id, "to": "view-db", "latency": "1ms"}));
    }
    doc["actions"] = json!([
        {"at": "0s", "do": "publish", "node": "writer"},
        {"at": "2ms", "do": "publish", "node": "writer"}]);
    let (events, sim) = run(&doc, 1000);
    let visible: Vec<u64> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Data(d) => match &**d {
                DataEvent::Visible { version, .. } => Some(*version),
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert_eq!(
        visible,
        [2],
        "version 2 shown once, and never version 1 after it"
    );
    let p = store(&sim, "view-db").projection.unwrap();
    assert_eq!((p.out_of_order, p.behind), (1, 0));
    // In order (one consumer), nothing is out of order.
    let (_, sim) = run(&shared_key(), 1000);
    assert_eq!(store(&sim, "view-db").projection.unwrap().out_of_order, 0);
}

/// Randomized: a busy shop with exponential latencies, two projectors racing on one queue, and
/// readers of both stores. Conservation and the stores' invariants hold after every event (a
/// read model never shows a version its source has not applied, and never goes back), reads
/// of the source of truth are never stale, and every version counted as visible had its
/// window recorded.
#[test]
fn pointing_a_read_model_at_another_store_starts_a_new_projection() {
    // The read model shows version 1 of the order by 30 ms. Pointed, live, at `archive` (which
    // has no such key), it shows nothing of archive's: what it showed was orders-db's, and the
    // invariant (it never shows a version its source has not applied) holds at every event.
    let mut doc = order_then_read("orders-view");
    doc["nodes"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "archive", "kind": "store", "config": {}}));
    let s = common::scenario(&doc.to_string());
    let mut sim = Sim::new(&s).unwrap();
    common::run_checked(&mut sim, SimTime(30 * MS), 10_000);
    let view = store(&sim, "orders-view");
    assert_eq!(view.projection.as_ref().unwrap().staleness.count, 1);
    let i = s.node_index("orders-view").unwrap();
    let mut spec = s.nodes[i].clone();
    let switchboard_core::scenario::NodeKind::Data(switchboard_core::data::DataKind::Store(cfg)) =
        &mut spec.kind
    else {
        unreachable!("a store")
    };
    cfg.projection_of = Some("archive".into());
    let node = sim.topology().node_id("orders-view").unwrap();
    sim.apply(switchboard_core::command::Command::Configure { node, spec })
        .unwrap();
    sim.check_conservation()
        .expect("the old source's versions are not held against the new one");
    let view = store(&sim, "orders-view");
    let p = view.projection.unwrap();
    assert_eq!((p.behind, p.staleness.count), (0, 0), "a new projection");
    common::run_checked(&mut sim, SimTime(100 * MS), 10_000);
}

#[test]
fn randomized_read_models_keep_their_invariants() {
    let doc = |seed: u64| {
        json!({"version": 9, "seed": seed,
            "nodes": [
                {"id": "shop", "kind": "client", "config": {"rate_per_s": 200}},
                {"id": "gateway", "kind": "service", "config": {
                    "concurrency": 50, "service_time": {"dist": "exponential", "mean": "1ms"},
                    "handler": [{"call": "orders"}, {"call": ["view", "truth"]}]}},
                {"id": "orders", "kind": "service", "config": {
                    "concurrency": 50, "service_time": {"dist": "exponential", "mean": "1ms"},
                    "handler": [
                        {"write": "db", "key": "stock:{correlation_id}"},
                        {"write": "db", "key": "total"},
                        {"publish": "placed"}]}},
                {"id": "db", "kind": "store", "config": {
                    "write_latency": {"dist": "exponential", "mean": "3ms"}}},
                {"id": "placed", "kind": "queue", "config": {}},
                {"id": "p1", "kind": "consumer", "config": {
                    "processing": {"dist": "exponential", "mean": "3ms"}, "prefetch_count": 5,
                    "handler": [{"write": "view-db", "key": "stock:{correlation_id}"},
                                {"write": "view-db", "key": "total"}]}},
                {"id": "p2", "kind": "consumer", "config": {
                    "processing": {"dist": "exponential", "mean": "3ms"}, "prefetch_count": 5,
                    "handler": [{"write": "view-db", "key": "stock:{correlation_id}"},
                                {"write": "view-db", "key": "total"}]}},
                {"id": "view-db", "kind": "store", "config": {
                    "write_latency": {"dist": "exponential", "mean": "3ms"},
                    "read_latency": {"dist": "exponential", "mean": "1ms"},
                    "projection_of": "db"}},
                {"id": "view", "kind": "service", "config": {
                    "concurrency": 50, "handler": [{"read": "view-db", "key": "total"},
                                               {"read": "view-db", "key": "stock:{correlation_id}"}]}},
                {"id": "truth", "kind": "service", "config": {
                    "concurrency": 50, "handler": [{"read": "db", "key": "total"}]}}],
            "edges": [
                {"from": "shop", "to": "gateway", "latency": "1ms"},
                {"from": "gateway", "to": "orders", "latency": {"dist": "exponential", "mean": "1ms"}},
                {"from": "gateway", "to": "view", "latency": {"dist": "exponential", "mean": "1ms"}},
                {"from": "gateway", "to": "truth", "latency": {"dist": "exponential", "mean": "1ms"}},
                {"from": "orders", "to": "db", "latency": {"dist": "exponential", "mean": "1ms"}},
                {"from": "orders", "to": "placed", "latency": "1ms"},
                {"from": "placed", "to": "p1", "latency": "1ms"},
                {"from": "placed", "to": "p2", "latency": "1ms"},
                {"from": "p1", "to": "view-db", "latency": {"dist": "exponential", "mean": "1ms"}},
                {"from": "p2", "to": "view-db", "latency": {"dist": "exponential", "mean": "1ms"}},
                {"from": "view", "to": "view-db", "latency": {"dist": "exponential", "mean": "1ms"}},
                {"from": "truth", "to": "db", "latency": {"dist": "exponential", "mean": "1ms"}}],
            "actions": [
                {"at": "500ms", "do": "crash", "node": "p1"},
                {"at": "700ms", "do": "restart", "node": "p1"}]})
    };
    common::sweep("read_model", 12, |seed| {
        let s = common::scenario(&doc(seed).to_string());
        let (events, sim) = common::run_events(&s, SimTime(2_000 * MS), true);
        let mut shown: std::collections::HashMap<String, u64> = Default::default();
        let mut stale_truth = 0;
        for e in &events {
            let EventKind::Data(d) = &e.kind else {
                continue;
            };
            match &**d {
                DataEvent::Visible { key, version, .. } => {
                    let before = shown.insert(key.clone(), *version).unwrap_or(0);
                    assert!(
                        *version > before,
                        "{key}: visible went from {before} to {version}"
                    );
                }
                DataEvent::Read(r) if sim.topology().node(r.store).name == "db" => {
                    stale_truth += u64::from(r.stale() || r.ryw_violation());
                }
                _ => {}
            }
        }
        assert_eq!(stale_truth, 0, "the source of truth served a stale read");
        let view = store(&sim, "view-db");
        let db = store(&sim, "db");
        let p = view.projection.unwrap();
        assert!(
            view.stats.reads > 100,
            "too few reads: {}",
            view.stats.reads
        );
        assert!(p.staleness.count > 100, "too few versions made visible");
        // Every version the source applied and the read model does not show is behind:
        // counted from the versions the events made visible, key by key.
        let db_id = sim.topology().node_id("db").unwrap();
        let behind: u64 = sim
            .store_values(db_id)
            .unwrap()
            .map(|(key, v)| v.version - shown.get(key).copied().unwrap_or(0))
            .sum();
        assert_eq!(p.behind, behind);
        assert!(db.stats.writes > 200, "too few writes: {}", db.stats.writes);
        assert!(view.stats.stale_reads > 0, "no stale read to check");
        assert!(view.stats.ryw_violations <= view.stats.stale_reads);
        assert!(p.staleness.p50_us <= p.staleness.p99_us);
        assert!(p.staleness.p99_us <= p.staleness.max_us);
    });
}
