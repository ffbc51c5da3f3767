//! A service's handler publishing to RabbitMQ: the message continues the request's causal
//! chain and reaches the broker; a crash while an earlier write is out leaves the write done and
//! the message never sent (the dual write); bad publish steps are diagnostics with paths.

mod common;

use serde_json::{json, Value};
use switchboard_core::{Event, EventKind, Sim, SimTime};

/// One order at 0: shop → orders, whose handler writes the order, then publishes
/// `order.placed` to the topic exchange `events`, bound to the queue `emails` that `mailer`
/// consumes. Constant latencies: orders works 10 ms, its write crosses 2 ms each way and takes
/// 5 ms (applied at 18 ms, answered at 20 ms), then it publishes.
fn order_placed() -> Value {
    json!({"version": 7, "seed": 1,
        "nodes": [
            {"id": "shop", "kind": "client", "config": {}},
            {"id": "orders", "kind": "service", "config": {"service_time": "10ms", "handler": [
                {"write": "db", "key": "order:{correlation_id}"},
                {"publish": "events", "routing_key": "order.placed",
                 "headers": {"order": "{correlation_id}"}}]}},
            {"id": "db", "kind": "store", "config": {"write_latency": "5ms"}},
            {"id": "events", "kind": "exchange", "config": {"type": "topic"}},
            {"id": "emails", "kind": "queue", "config": {}},
            {"id": "mailer", "kind": "consumer", "config": {"processing": "1ms"}}],
        "edges": [
            {"from": "shop", "to": "orders", "latency": "1ms"},
            {"from": "orders", "to": "db", "latency": "2ms"},
            {"from": "orders", "to": "events", "latency": "1ms"},
            {"from": "events", "to": "emails", "routing_key": "order.*"},
            {"from": "emails", "to": "mailer", "latency": "1ms"}],
        "actions": [{"at": "0s", "do": "publish", "node": "shop"}]})
}

fn run(doc: &Value) -> (Vec<Event>, Sim) {
    let s = common::scenario(&doc.to_string());
    common::run_events(&s, SimTime(2_000_000), true)
}

/// The events of a run of `s` to 1 s.
fn s_events(s: &switchboard_core::Scenario) -> Vec<Event> {
    common::run_events(s, SimTime(1_000_000), false).0
}

fn node(sim: &Sim, name: &str) -> switchboard_core::NodeId {
    sim.topology().node_id(name).unwrap()
}

#[test]
fn the_published_message_continues_the_request_and_reaches_its_consumer() {
    let (events, sim) = run(&order_placed());
    let orders = node(&sim, "orders");
    let published: Vec<(
        SimTime,
        switchboard_core::MessageId,
        switchboard_core::MessageId,
    )> = events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Published {
                node,
                message,
                correlation,
                ..
            } if node == orders => Some((e.at, message, correlation)),
            _ => None,
        })
        .collect();
    assert_eq!(published.len(), 1, "one order, one event");
    let (at, message, correlation) = published[0];
    // The write is answered at 20 ms (10 ms of work after arriving at 1 ms, 2 + 5 + 2 ms).
    assert_eq!(at, SimTime(20_000));
    let request = events
        .iter()
        .find_map(|e| match e.kind {
            EventKind::Http(switchboard_core::http::HttpEvent::Request { request, .. }) => {
                Some(request)
            }
            _ => None,
        })
        .unwrap();
    assert_eq!(
        correlation, request,
        "the event carries the request's correlation id"
    );
    // The mailer acked it, routed by its key through the topic binding.
    let acked = events.iter().any(|e| {
        matches!(&e.kind, EventKind::Amqp(switchboard_core::amqp::AmqpEvent::Settled { message: m, .. }) if *m == message)
    });
    assert!(acked, "the mailer settled the order's event");
    let m = sim.metrics();
    assert_eq!(m.nodes[node(&sim, "mailer").index()].stats.consumed, 1);
    assert_eq!(m.nodes[orders.index()].stats.published, 1);
    let db = m.nodes[node(&sim, "db").index()].store().unwrap().clone();
    assert_eq!(db.stats.writes, 1);
}

#[test]
fn the_message_carries_its_routing_key_headers_and_cause() {
    let s = common::scenario(&order_placed().to_string());
    let mut sim = Sim::new(&s).unwrap();
    // At 20.5 ms the message is on the edge to the exchange.
    sim.advance_to(SimTime(20_500));
    let id = sim
        .drain_events()
        .find_map(|e| match e.kind {
            EventKind::Published { message, .. } => Some(message),
            _ => None,
        })
        .unwrap();
    let seen = sim.locate(id).expect("the message is live");
    let msg = &seen.envelope;
    assert_eq!(msg.routing_key, "order.placed");
    let request = msg.correlation_id;
    assert_eq!(
        msg.headers.get("order").and_then(|v| v.as_str()),
        Some(request.0.to_string().as_str())
    );
    let cause = msg.causation_id.expect("a cause");
    let attempt = s_events(&s)
        .into_iter()
        .find_map(|e| match e.kind {
            EventKind::Http(switchboard_core::http::HttpEvent::Attempt { message, .. }) => {
                Some(message)
            }
            _ => None,
        })
        .unwrap();
    assert_eq!(cause, attempt, "its cause is the attempt orders served");
}

#[test]
fn a_crash_while_the_write_is_out_leaves_the_order_without_its_event() {
    // The write leaves orders at 11 ms and is applied at 18 ms; orders crashes at 15 ms.
    let mut doc = order_placed();
    doc["actions"]
        .as_array_mut()
        .unwrap()
        .push(json!({"at": "15ms", "do": "crash", "node": "orders"}));
    let (_, sim) = run(&doc);
    let m = sim.metrics();
    let db = m.nodes[node(&sim, "db").index()].store().unwrap().clone();
    assert_eq!(
        db.stats.writes, 1,
        "the write reached the store and was applied"
    );
    assert_eq!(
        m.nodes[node(&sim, "orders").index()].stats.published,
        0,
        "the event was never published"
    );
    assert_eq!(m.nodes[node(&sim, "mailer").index()].stats.consumed, 0);
}

#[test]
fn bad_publish_steps_are_diagnostics_with_paths() {
    let at = "nodes[1].config.handler[1]";
    let with = |step: Value| {
        let mut doc = order_placed();
        doc["nodes"][1]["config"]["handler"][1] = step;
        doc
    };
    let cases = [
        (
            json!({"publish": "nowhere"}),
            ".publish",
            "there is no node of that name",
        ),
        (
            json!({"publish": "db"}),
            ".publish",
            "is a store; a publish step publishes to",
        ),
        (json!({"publish": "mailer"}), ".publish", "is a consumer"),
        (
            json!({"publish": "events", "routing_key": "o.{header.kind}"}),
            ".routing_key",
            "carry no headers",
        ),
        (
            json!({"publish": "events", "headers": {"x": "{routing_key}"}}),
            ".headers.x",
            "carry no routing key",
        ),
        (
            json!({"publish": "events", "write": "db", "key": "k"}),
            "",
            "writes and publishes",
        ),
        (
            json!({"write": "db", "key": "k", "routing_key": "r"}),
            "",
            "belong to a publish step",
        ),
        (
            json!({"publish": "emails", "routing_key": "r"}),
            ".routing_key",
            "through the default exchange",
        ),
        (
            json!({"publish": "events", "routing_key": format!("{}.{{correlation_id}}", "k".repeat(236))}),
            ".routing_key",
            "at most 255 bytes",
        ),
        (
            json!({"publish": "events", "headers": {"CC": "audit"}}),
            ".headers.CC",
            "list of routing keys",
        ),
    ];
    for (step, field, says) in cases {
        common::refused(&with(step), &format!("{at}{field}"), says);
    }
    // `emails` exists, but orders has no edge to it.
    common::refused(
        &with(json!({"publish": "emails"})),
        &format!("{at}.publish"),
        "has no edge to it",
    );
    // An internal exchange takes no publishes, from a service either.
    let mut doc = order_placed();
    doc["nodes"][3]["config"]["internal"] = json!(true);
    common::refused(&doc, "edges[2]", "403 ACCESS_REFUSED");
    // A service publishes to a queue through the default exchange.
    let mut doc = order_placed();
    doc["nodes"][1]["config"]["handler"][1] = json!({"publish": "emails"});
    doc["edges"][2]["to"] = json!("emails");
    let (_, sim) = run(&doc);
    assert_eq!(
        sim.metrics().nodes[node(&sim, "mailer").index()]
            .stats
            .consumed,
        1
    );
}

#[test]
fn the_order_events_example_shows_orders_without_their_event_only_after_the_crash() {
    let s = common::example("data-order-events.json");
    let counts = |sim: &Sim| {
        let m = sim.metrics();
        let db = m.nodes[node(sim, "orders-db").index()]
            .store()
            .unwrap()
            .keys;
        (db, m.nodes[node(sim, "orders").index()].stats.published)
    };
    let mut sim = Sim::new(&s).unwrap();
    // Before the crash at 10 s, every order written is published once its write is answered:
    // the only difference is the writes still out (at most a handful at 20 orders a second).
    sim.advance_to(SimTime(9_000_000));
    let (written, published) = counts(&sim);
    assert!(
        written >= published && written - published <= 5,
        "{written} vs {published}"
    );
    sim.advance_to(SimTime(60_000_000));
    sim.check_conservation().unwrap();
    let (written, published) = counts(&sim);
    // Writes still out at 60 s would also count as written and not yet published: at most a
    // handful, so the crash's orders are what the margin shows.
    assert!(
        written > published + 2,
        "the crash left orders without their event: {written} written, {published} published"
    );
}

/// `order_placed` with the event written to the store's outbox in the write's transaction,
/// instead of published by a step after it; the store's relay polls every 100 ms.
fn order_placed_with_outbox() -> Value {
    let mut doc = order_placed();
    doc["nodes"][1]["config"]["handler"] = json!([
        {"write": "db", "key": "order:{correlation_id}",
         "outbox": {"publish": "events", "routing_key": "order.placed",
                    "headers": {"order": "{correlation_id}"}}}]);
    doc["edges"][2]["from"] = json!("db");
    doc
}

#[test]
fn the_outbox_publishes_the_event_at_the_relays_next_poll_even_after_a_crash() {
    let mut doc = order_placed_with_outbox();
    doc["actions"]
        .as_array_mut()
        .unwrap()
        .push(json!({"at": "15ms", "do": "crash", "node": "orders"}));
    let (events, sim) = run(&doc);
    let db = node(&sim, "db");
    // The write is applied at 18 ms with its outbox row; the relay polls at 100 ms.
    let published: Vec<SimTime> = events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Published { node, .. } if node == db => Some(e.at),
            _ => None,
        })
        .collect();
    assert_eq!(published, vec![SimTime(100_000)]);
    let m = sim.metrics();
    let store = m.nodes[db.index()].store().unwrap().clone();
    assert_eq!(
        (
            store.stats.writes,
            store.stats.outbox_published,
            store.outbox_pending
        ),
        (1, 1, 0)
    );
    assert_eq!(
        m.nodes[node(&sim, "mailer").index()].stats.consumed,
        1,
        "the mailer heard of the order"
    );
}

#[test]
fn a_write_with_an_outbox_does_not_depend_on_the_relays_edge() {
    // The store's edge to the exchange is removed before the order: the write still commits
    // and the request succeeds; its row waits for an edge.
    let s = common::scenario(&order_placed_with_outbox().to_string());
    let mut sim = Sim::new(&s).unwrap();
    let edge = sim
        .topology()
        .edge_between(node(&sim, "db"), node(&sim, "events"), None)
        .unwrap();
    sim.apply(switchboard_core::Command::RemoveEdge { edge })
        .unwrap();
    sim.advance_to(SimTime(1_000_000));
    sim.check_conservation().unwrap();
    let m = sim.metrics();
    let db = m.nodes[node(&sim, "db").index()].store().unwrap().clone();
    assert_eq!((db.stats.writes, db.outbox_pending), (1, 1));
    let Some(switchboard_core::http::HttpMetrics::Service(o)) =
        m.nodes[node(&sim, "orders").index()].http()
    else {
        panic!("a service")
    };
    assert_eq!((o.stats.ok, o.stats.errors), (1, 0));
}

#[test]
fn an_outbox_row_waits_while_its_edge_is_gone() {
    let s = common::scenario(&order_placed_with_outbox().to_string());
    let mut sim = Sim::new(&s).unwrap();
    sim.advance_to(SimTime(50_000));
    let edge = sim
        .topology()
        .edge_between(node(&sim, "db"), node(&sim, "events"), None)
        .unwrap();
    sim.apply(switchboard_core::Command::RemoveEdge { edge })
        .unwrap();
    sim.advance_to(SimTime(1_000_000));
    let pending = |sim: &Sim| {
        sim.metrics().nodes[node(sim, "db").index()]
            .store()
            .unwrap()
            .outbox_pending
    };
    assert_eq!(pending(&sim), 1, "nowhere to publish: the row stays");
    sim.check_conservation().unwrap();
}

#[test]
fn bad_outboxes_are_diagnostics_with_paths() {
    let at = "nodes[1].config.handler[0].outbox";
    let with = |outbox: Value| {
        let mut doc = order_placed_with_outbox();
        doc["nodes"][1]["config"]["handler"][0]["outbox"] = outbox;
        doc
    };
    common::refused(
        &with(json!({"publish": "emails"})),
        &format!("{at}.publish"),
        "store \"db\" has no edge to it",
    );
    common::refused(
        &with(json!({"publish": "events", "routing_key": "{header.x}"})),
        &format!("{at}.routing_key"),
        "carry no headers",
    );
    // The store's edge to the exchange without an outbox is allowed (nothing goes over it);
    // a store's edge to a service is not.
    let mut doc = order_placed_with_outbox();
    doc["edges"]
        .as_array_mut()
        .unwrap()
        .push(json!({"from": "db", "to": "orders"}));
    common::refused(
        &doc,
        "edges[5]",
        "a store sends only what its outbox relay publishes",
    );
    let mut doc = order_placed_with_outbox();
    doc["nodes"][2]["config"]["outbox_interval"] = json!("0ms");
    common::refused(&doc, "nodes[2].config.outbox_interval", "at least 1ms");
}

#[test]
fn the_outbox_example_loses_no_event_where_the_dual_write_does() {
    let s = common::example("data-outbox.json");
    let mut sim = Sim::new(&s).unwrap();
    sim.advance_to(SimTime(60_000_000));
    // The shops stop at 60 s; by 65 s every request, write, poll and delivery has ended.
    for shop in ["shop", "shop-2"] {
        let shop = node(&sim, shop);
        sim.apply(switchboard_core::Command::Crash { node: shop })
            .unwrap();
    }
    sim.advance_to(SimTime(65_000_000));
    sim.check_conservation().unwrap();
    let m = sim.metrics();
    let store = |name: &str| m.nodes[node(&sim, name).index()].store().unwrap().clone();
    let published = |name: &str| m.nodes[node(&sim, name).index()].stats.published;
    let (dual, outbox) = (store("orders-db"), store("orders-db-2"));
    // Above: orders written whose event was never published (a few writes may still be out).
    assert!(
        dual.keys > published("orders") + 3,
        "the dual write lost events: {} written, {} published",
        dual.keys,
        published("orders")
    );
    let consumed = |name: &str| m.nodes[node(&sim, name).index()].stats.consumed;
    assert_eq!(
        consumed("mailer"),
        published("orders"),
        "what was published arrived"
    );
    // Below: every order written reached the mailer, through the relay.
    assert_eq!(outbox.outbox_pending, 0);
    assert_eq!(
        consumed("mailer-2"),
        outbox.keys,
        "every order written was announced"
    );
    assert_eq!(
        published("orders-2"),
        0,
        "the service itself publishes nothing"
    );
}
