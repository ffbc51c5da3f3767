//! RabbitMQ's rules as named cases, one test each (`ct_rmq_*`), and tests of the other rules
//! `docs/amqp.md` sets out (routing, TTL, limits, dead-lettering, dispatch, acks).
//!
//! Each test builds a small scenario, runs it with the conservation check after every event,
//! and asserts on the NDJSON trace: what a user would see.

mod common;

use serde_json::{json, Value};
use switchboard_core::{Scenario, Sim, SimTime};

/// Runs a scenario document for `until_ms` and returns its trace as JSON values.
fn run(doc: Value, until_ms: u64) -> Vec<Value> {
    let s = common::scenario(&doc.to_string());
    let mut sim = Sim::new(&s).expect("valid");
    common::run_checked(&mut sim, SimTime(until_ms * 1000), 5_000_000)
        .iter()
        .map(|l| serde_json::from_str(l).expect("trace lines are JSON"))
        .collect()
}

fn of<'a>(trace: &'a [Value], ty: &str) -> Vec<&'a Value> {
    trace.iter().filter(|e| e["type"] == ty).collect()
}

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|s| s.as_str().expect("a string").to_owned())
        .collect()
}

fn publish(at_ms: u64, producer: &str, message: Value) -> Value {
    json!({"at": format!("{at_ms}ms"), "do": "publish", "node": producer, "message": message})
}

fn doc(nodes: Value, edges: Value, actions: Value) -> Value {
    json!({"version": 1, "seed": 1, "nodes": nodes, "edges": edges, "actions": actions})
}

fn producer(id: &str) -> Value {
    json!({"id": id, "kind": "producer"})
}

fn exchange(id: &str, ty: &str) -> Value {
    json!({"id": id, "kind": "exchange", "config": {"type": ty}})
}

fn queue(id: &str, arguments: Value) -> Value {
    json!({"id": id, "kind": "queue", "config": {"arguments": arguments}})
}

fn consumer(id: &str, config: Value) -> Value {
    json!({"id": id, "kind": "consumer", "config": config})
}

fn edge(from: &str, to: &str) -> Value {
    json!({"from": from, "to": to, "latency": "1ms"})
}

fn bind(x: &str, q: &str, key: &str) -> Value {
    json!({"from": x, "to": q, "routing_key": key})
}

/// Publishes each routing key to one exchange, 10 ms apart, and returns the queues each
/// reached, in key order (empty when unroutable).
fn route_each(nodes: Value, bindings: Vec<Value>, keys: &[&str]) -> Vec<Vec<String>> {
    let mut edges = vec![edge("p", "x")];
    edges.extend(bindings);
    let actions: Vec<Value> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| publish(10 * i as u64 + 10, "p", json!({"routing_key": k})))
        .collect();
    let trace = run(
        doc(nodes, json!(edges), json!(actions)),
        10 * keys.len() as u64 + 20,
    );
    // Each publish reaches the exchange 1 ms after it is made, in key order.
    keys.iter()
        .enumerate()
        .map(|(i, _)| {
            let at = (10 * i as u64 + 11) * 1000;
            trace
                .iter()
                .find(|e| e["at_us"] == at && (e["type"] == "routed" || e["type"] == "dropped"))
                .map(|e| {
                    if e["type"] == "routed" {
                        let mut q = names(&e["queues"]);
                        q.sort_by_key(|n| n.trim_start_matches('t').parse::<u32>().unwrap_or(0));
                        q
                    } else {
                        Vec::new()
                    }
                })
                .unwrap_or_else(|| panic!("no routing outcome for key {i}"))
        })
        .collect()
}

// ----- §1.3 topic exchange -----

#[test]
fn ct_rmq_topic_1_routing_suite_topic1() {
    let bindings = [
        (1, "a.b.c"),
        (2, "a.*.c"),
        (3, "a.#.b"),
        (4, "a.b.b.c"),
        (5, "#"),
        (6, "#.#"),
        (7, "#.b"),
        (8, "*.*"),
        (9, "a.*"),
        (10, "*.b.c"),
        (11, "a.#"),
        (12, "a.#.#"),
        (13, "b.b.c"),
        (14, "a.b.b"),
        (15, "a.b"),
        (16, "b.c"),
        (17, ""),
        (18, "*.*.*"),
        (19, "vodka.martini"),
        (20, "a.b.c"),
        (21, "*.#"),
        (22, "#.*.#"),
        (23, "*.#.#"),
        (25, "*"),
        (26, "#.b.#"),
        (27, "args-test"),
    ];
    let mut nodes = vec![producer("p"), exchange("x", "topic")];
    let mut edges = Vec::new();
    for (n, key) in bindings {
        nodes.push(queue(&format!("t{n}"), json!({})));
        edges.push(bind("x", &format!("t{n}"), key));
    }
    let expected: &[(&str, &[u32])] = &[
        ("a.b.c", &[1, 2, 5, 6, 10, 11, 12, 18, 20, 21, 22, 23, 26]),
        ("a.b", &[3, 5, 6, 7, 8, 9, 11, 12, 15, 21, 22, 23, 26]),
        ("a.b.b", &[3, 5, 6, 7, 11, 12, 14, 18, 21, 22, 23, 26]),
        ("", &[5, 6, 17]),
        ("b.c.c", &[5, 6, 18, 21, 22, 23, 26]),
        ("a.a.a.a.a", &[5, 6, 11, 12, 21, 22, 23]),
        ("vodka.gin", &[5, 6, 8, 21, 22, 23]),
        ("vodka.martini", &[5, 6, 8, 19, 21, 22, 23]),
        ("b.b.c", &[5, 6, 10, 13, 18, 21, 22, 23, 26]),
        ("nothing.here.at.all", &[5, 6, 21, 22, 23]),
        ("oneword", &[5, 6, 21, 22, 23, 25]),
    ];
    let keys: Vec<&str> = expected.iter().map(|(k, _)| *k).collect();
    let got = route_each(json!(nodes), edges, &keys);
    for ((key, want), got) in expected.iter().zip(got) {
        let want: Vec<String> = want.iter().map(|n| format!("t{n}")).collect();
        assert_eq!(got, want, "routing key {key:?}");
    }
}

#[test]
fn ct_rmq_topic_2_empty_segments() {
    let nodes = json!([
        producer("p"),
        exchange("x", "topic"),
        queue("t1", json!({})),
        queue("t2", json!({})),
        queue("t3", json!({}))
    ]);
    let bindings = vec![
        bind("x", "t1", ".#"),
        bind("x", "t2", ".*"),
        bind("x", "t3", ".*.a.b.c"),
    ];
    let got = route_each(nodes, bindings, &[".0.a.b.c"]);
    assert_eq!(got, [vec!["t1".to_owned(), "t3".to_owned()]]);
}

#[test]
fn ct_rmq_topic_2_further_checks() {
    let table = [
        ("*", ".", false),
        ("*.*", ".", true),
        ("a.*", "a.", true),
        ("a.*.b", "a..b", true),
        ("#", ".", true),
        ("", ".", false),
        ("#.a", "a", true),
        ("a.#", "a", true),
    ];
    for (binding, key, want) in table {
        let nodes = json!([
            producer("p"),
            exchange("x", "topic"),
            queue("t1", json!({}))
        ]);
        let got = route_each(nodes, vec![bind("x", "t1", binding)], &[key]);
        assert_eq!(!got[0].is_empty(), want, "binding {binding:?}, key {key:?}");
    }
}

#[test]
fn ct_rmq_topic_3_at_most_two_hash_words_per_binding() {
    let make = |key: &str| {
        doc(
            json!([producer("p"), exchange("x", "topic"), queue("q", json!({}))]),
            json!([edge("p", "x"), bind("x", "q", key)]),
            json!([]),
        )
        .to_string()
    };
    let d = Scenario::from_json(&make("#.a.#.#")).expect_err("three # words are refused");
    assert_eq!(d.0[0].path, "edges[1].routing_key");
    assert!(d.0[0].message.contains("binding_invalid"), "{d}");
    Scenario::from_json(&make("#.a.#")).expect("two # words are accepted");
}

// ----- §1.4 headers exchange -----

fn headers_case(arguments: Value, headers: Value) -> bool {
    let nodes = json!([
        producer("p"),
        exchange("x", "headers"),
        queue("q", json!({}))
    ]);
    let d = doc(
        nodes,
        json!([edge("p", "x"), {"from": "x", "to": "q", "arguments": arguments}]),
        json!([publish(10, "p", json!({"headers": headers}))]),
    );
    let trace = run(d, 50);
    !of(&trace, "routed").is_empty()
}

#[test]
fn ct_rmq_hdr_1_empty_all_matches_everything_empty_any_nothing() {
    assert!(headers_case(json!({"x-match": "all"}), json!({})));
    assert!(headers_case(json!({"x-match": "all"}), json!({"k": 1})));
    assert!(!headers_case(json!({"x-match": "any"}), json!({"k": 1})));
    assert!(!headers_case(json!({"x-match": "any"}), json!({})));
}

#[test]
fn ct_rmq_hdr_2_x_arguments_take_part_only_with_x() {
    assert!(!headers_case(
        json!({"x-match": "any", "x-foo": 1}),
        json!({"x-foo": 1})
    ));
    assert!(headers_case(
        json!({"x-match": "any-with-x", "x-foo": 1}),
        json!({"x-foo": 1})
    ));
    assert!(headers_case(
        json!({"x-match": "all-with-x", "x-foo": 1, "k": "v"}),
        json!({"x-foo": 1, "k": "v"})
    ));
    assert!(!headers_case(
        json!({"x-match": "all-with-x", "x-foo": 1, "k": "v"}),
        json!({"k": "v"})
    ));
}

#[test]
fn headers_values_compare_with_type_and_void_means_present() {
    assert!(headers_case(json!({"k": 1}), json!({"k": 1})));
    assert!(
        !headers_case(json!({"k": 1}), json!({"k": 1.0})),
        "4.x: 1 and 1.0 differ"
    );
    assert!(headers_case(json!({"k": null}), json!({"k": "anything"})));
    assert!(!headers_case(json!({"k": null}), json!({"j": 1})));
    assert!(headers_case(
        json!({"x-match": "any", "a": 1, "b": 2}),
        json!({"b": 2})
    ));
    assert!(!headers_case(json!({"a": 1, "b": 2}), json!({"b": 2})));
}

#[test]
fn an_unknown_x_match_is_refused_at_bind_time() {
    let d = doc(
        json!([
            producer("p"),
            exchange("x", "headers"),
            queue("q", json!({}))
        ]),
        json!([edge("p", "x"), {"from": "x", "to": "q", "arguments": {"x-match": "some"}}]),
        json!([]),
    );
    let err = Scenario::from_json(&d.to_string()).expect_err("refused");
    assert_eq!(err.0[0].path, "edges[1].arguments.x-match");
}

// ----- §1.1 routing pipeline -----

#[test]
fn e2e_bindings_give_each_queue_one_copy_and_cycles_are_cut() {
    // x → y → x (a cycle), both bound to q; y also to r.
    let nodes = json!([
        producer("p"),
        exchange("x", "fanout"),
        exchange("y", "fanout"),
        queue("q", json!({})),
        queue("r", json!({}))
    ]);
    let edges = json!([
        edge("p", "x"),
        bind("x", "y", ""),
        bind("y", "x", ""),
        bind("x", "q", ""),
        bind("y", "q", ""),
        bind("y", "r", "")
    ]);
    let trace = run(doc(nodes, edges, json!([publish(10, "p", json!({}))])), 50);
    let routed = of(&trace, "routed");
    assert_eq!(routed.len(), 1);
    assert_eq!(names(&routed[0]["queues"]), ["q", "r"]);
    assert_eq!(names(&routed[0]["path"]), ["y"]);
    assert_eq!(routed[0]["copies"].as_array().unwrap().len(), 2);
    assert_eq!(of(&trace, "enqueued").len(), 2);
}

#[test]
fn an_internal_exchange_takes_no_client_publishes_but_routes_what_exchanges_give_it() {
    // A publish edge to an internal exchange is refused, as RabbitMQ refuses basic.publish to
    // one (403 ACCESS_REFUSED).
    let internal =
        json!({"id": "fan", "kind": "exchange", "config": {"type": "fanout", "internal": true}});
    let refused = doc(
        json!([producer("p"), internal.clone(), queue("q", json!({}))]),
        json!([edge("p", "fan"), bind("fan", "q", "")]),
        json!([]),
    );
    let err = Scenario::from_json(&refused.to_string())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("edges[0]") && err.contains("403 ACCESS_REFUSED"),
        "{err}"
    );
    // Through an exchange-to-exchange binding, and as an alternate exchange, it routes.
    let nodes = json!([
        producer("p"),
        {"id": "in", "kind": "exchange", "config": {"type": "direct", "arguments": {"alternate-exchange": "fan"}}},
        internal,
        queue("q", json!({})),
        queue("r", json!({}))
    ]);
    let edges = json!([
        edge("p", "in"),
        bind("in", "r", "k"),
        bind("in", "fan", "e2e"),
        bind("fan", "q", "")
    ]);
    let trace = run(
        doc(
            nodes,
            edges,
            json!([
                publish(10, "p", json!({"routing_key": "e2e"})),
                publish(20, "p", json!({"routing_key": "nothing"}))
            ]),
        ),
        50,
    );
    let routed = of(&trace, "routed");
    assert_eq!(names(&routed[0]["queues"]), ["q"]);
    assert_eq!(names(&routed[0]["path"]), ["fan"]);
    assert_eq!(names(&routed[1]["queues"]), ["q"]);
    assert_eq!(names(&routed[1]["path"]), ["fan"]);
}

#[test]
fn an_alternate_exchange_applies_per_exchange_only_when_its_own_bindings_give_nothing() {
    // x has an E2E binding to y (which routes nowhere for "k") and an AE: x's own result is
    // not empty, so x's AE is not used; y's AE is.
    let nodes = json!([
        producer("p"),
        {"id": "x", "kind": "exchange", "config": {"type": "direct", "arguments": {"alternate-exchange": "ax"}}},
        {"id": "y", "kind": "exchange", "config": {"type": "direct", "arguments": {"alternate-exchange": "ay"}}},
        exchange("ax", "fanout"),
        exchange("ay", "fanout"),
        queue("qx", json!({})),
        queue("qy", json!({})),
        queue("unused", json!({}))
    ]);
    let edges = json!([
        edge("p", "x"),
        bind("x", "y", "k"),
        bind("y", "unused", "other"),
        bind("ax", "qx", ""),
        bind("ay", "qy", "")
    ]);
    let trace = run(
        doc(
            nodes,
            edges,
            json!([
                publish(10, "p", json!({"routing_key": "k"})),
                publish(20, "p", json!({"routing_key": "nothing"}))
            ]),
        ),
        50,
    );
    let routed = of(&trace, "routed");
    assert_eq!(names(&routed[0]["queues"]), ["qy"]);
    assert_eq!(names(&routed[0]["path"]), ["y", "ay"]);
    assert_eq!(
        names(&routed[1]["queues"]),
        ["qx"],
        "x's own result is empty"
    );
    assert_eq!(names(&routed[1]["path"]), ["ax"]);
}

#[test]
fn the_default_exchange_routes_by_queue_name_and_cc_adds_routing_keys() {
    let nodes = json!([
        producer("p"),
        exchange("x", "direct"),
        queue("a", json!({})),
        queue("b", json!({})),
        queue("c", json!({}))
    ]);
    let edges = json!([
        edge("p", "a"),
        edge("p", "x"),
        bind("x", "b", "kb"),
        bind("x", "c", "kc")
    ]);
    // The producer uses its edges in turn: the first publish goes to the default exchange.
    let trace = run(
        doc(
            nodes,
            edges,
            json!([
                publish(10, "p", json!({"routing_key": "ignored"})),
                publish(
                    20,
                    "p",
                    json!({"routing_key": "kb", "headers": {"CC": ["kc"], "BCC": ["kb"]}})
                )
            ]),
        ),
        50,
    );
    let routed = of(&trace, "routed");
    assert_eq!(routed[0]["exchange"], "");
    assert_eq!(names(&routed[0]["queues"]), ["a"]);
    assert_eq!(names(&routed[1]["queues"]), ["b", "c"]);
}

#[test]
fn mandatory_unroutable_is_returned_before_the_confirm() {
    let nodes = json!([
        {"id": "p", "kind": "producer", "config": {"mandatory": true, "publisher_confirms": true}},
        exchange("x", "direct"),
        queue("q", json!({}))
    ]);
    let trace = run(
        doc(
            nodes,
            json!([edge("p", "x"), bind("x", "q", "k")]),
            json!([
                publish(10, "p", json!({"routing_key": "nope"})),
                publish(20, "p", json!({"routing_key": "k"}))
            ]),
        ),
        50,
    );
    let kinds: Vec<&str> = trace
        .iter()
        .filter(|e| e["message"] == 1)
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["published", "sent", "returned", "dropped", "confirmed"],
        "{trace:#?}"
    );
    let returned = &of(&trace, "returned")[0];
    assert_eq!(returned["reply_code"], 312);
    assert_eq!(returned["reply_text"], "NO_ROUTE");
    assert_eq!(returned["routing_key"], "nope");
    let confirms = of(&trace, "confirmed");
    assert_eq!(
        confirms
            .iter()
            .map(|c| c["seq"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [1, 2],
        "sequence numbers start at 1"
    );
}

#[test]
fn unroutable_without_mandatory_is_dropped_silently_but_still_confirmed() {
    let nodes = json!([
        {"id": "p", "kind": "producer", "config": {"publisher_confirms": true}},
        exchange("x", "direct")
    ]);
    let trace = run(
        doc(
            nodes,
            json!([edge("p", "x")]),
            json!([publish(10, "p", json!({}))]),
        ),
        50,
    );
    assert!(of(&trace, "returned").is_empty());
    assert_eq!(of(&trace, "dropped")[0]["reason"], "unroutable");
    assert_eq!(of(&trace, "confirmed").len(), 1);
}

// ----- §1.7 length limits -----

fn three_into(arguments: Value, confirms: bool, with_consumer: bool) -> Vec<Value> {
    let mut nodes = vec![
        json!({"id": "p", "kind": "producer", "config": {"publisher_confirms": confirms}}),
        queue("q", arguments),
        queue("dlq", json!({})),
        exchange("dlx", "fanout"),
    ];
    let mut edges = vec![edge("p", "q"), bind("dlx", "dlq", "")];
    if with_consumer {
        nodes.push(consumer(
            "c",
            json!({"prefetch_count": 1, "processing": "100ms"}),
        ));
        edges.push(edge("q", "c"));
    }
    let actions: Vec<Value> = (1..=3)
        .map(|i| publish(10 * i, "p", json!({"headers": {"n": i}})))
        .collect();
    run(doc(json!(nodes), json!(edges), json!(actions)), 60)
}

#[test]
fn ct_rmq_maxlen_1_drop_head_keeps_the_newest() {
    let trace = three_into(
        json!({"x-max-length": 2, "x-dead-letter-exchange": "dlx"}),
        false,
        false,
    );
    let dl = of(&trace, "dead_lettered");
    assert_eq!(dl.len(), 1);
    assert_eq!(dl[0]["message"], 1, "m1, the head, goes");
    assert_eq!(dl[0]["reason"], "maxlen");
    let in_q: Vec<u64> = of(&trace, "enqueued")
        .iter()
        .filter(|e| e["queue"] == "q")
        .map(|e| e["message"].as_u64().unwrap())
        .collect();
    assert_eq!(in_q, [1, 2, 3]);
    // Without a DLX the head is dropped with reason maxlen.
    let trace = three_into(json!({"x-max-length": 2}), false, false);
    let dropped = of(&trace, "dropped");
    assert_eq!((dropped.len(), &dropped[0]["message"]), (1, &json!(1)));
    assert_eq!(dropped[0]["reason"], "maxlen");
}

#[test]
fn ct_rmq_maxlen_2_reject_publish_nacks_the_newest() {
    let trace = three_into(
        json!({"x-max-length": 2, "x-overflow": "reject-publish"}),
        true,
        false,
    );
    let nacked = of(&trace, "publish_nacked");
    assert_eq!(nacked.len(), 1);
    assert_eq!(nacked[0]["message"], 3);
    assert_eq!(nacked[0]["seq"], 3);
    assert_eq!(of(&trace, "confirmed").len(), 2);
    let dropped = of(&trace, "dropped");
    assert_eq!(dropped[0]["reason"], "reject_publish");
    assert_eq!(of(&trace, "enqueued").len(), 2);
}

#[test]
fn ct_rmq_maxlen_3_max_length_zero_delivers_first_unless_reject_publish() {
    // drop-head: a consumer with room takes the message although the limit is 0.
    let trace = three_into(json!({"x-max-length": 0}), true, true);
    let delivered = of(&trace, "delivered");
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0]["message"], 1);
    assert_eq!(of(&trace, "confirmed").len(), 3);
    // reject-publish: 0 + 1 > 0 is checked before delivery: nacked.
    let trace = three_into(
        json!({"x-max-length": 0, "x-overflow": "reject-publish"}),
        true,
        true,
    );
    assert!(of(&trace, "delivered").is_empty());
    assert_eq!(of(&trace, "publish_nacked").len(), 3);
}

#[test]
fn max_length_bytes_counts_ready_bodies() {
    let nodes = json!([
        producer("p"),
        queue("q", json!({"x-max-length-bytes": 100}))
    ]);
    let actions: Vec<Value> = [60, 30, 20]
        .iter()
        .enumerate()
        .map(|(i, b)| publish(10 * (i as u64 + 1), "p", json!({"body_bytes": b})))
        .collect();
    let trace = run(doc(nodes, json!([edge("p", "q")]), json!(actions)), 50);
    let dropped = of(&trace, "dropped");
    assert_eq!(dropped.len(), 1, "60+30+20 > 100: the head goes");
    assert_eq!(dropped[0]["message"], 1);
}

#[test]
fn reject_publish_dlx_dead_letters_the_refused_message() {
    let trace = three_into(
        json!({"x-max-length": 1, "x-overflow": "reject-publish-dlx", "x-dead-letter-exchange": "dlx"}),
        true,
        false,
    );
    let dl = of(&trace, "dead_lettered");
    assert_eq!(
        dl.iter()
            .map(|e| e["message"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [2, 3]
    );
    assert_eq!(dl[0]["reason"], "maxlen");
    assert_eq!(of(&trace, "publish_nacked").len(), 2);
}

// ----- §1.6 TTL -----

#[test]
fn classic_queues_expire_only_at_the_head() {
    // m1 has no TTL; m2 expires after 5 ms but sits behind m1 until a consumer takes m1.
    let nodes = json!([
        producer("p"),
        queue("q", json!({})),
        consumer("c", json!({"prefetch_count": 1, "processing": "1ms"}))
    ]);
    let trace = run(
        doc(
            nodes,
            json!([edge("p", "q")]),
            json!([
                publish(10, "p", json!({})),
                publish(10, "p", json!({"expiration": "5"})),
                {"at": "100ms", "do": "add_edge", "edge": edge("q", "c")}
            ]),
        ),
        200,
    );
    let expired = of(&trace, "expired");
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0]["message"], 2);
    assert_eq!(
        expired[0]["at_us"], 100_000,
        "it expires when it reaches the head, long after its TTL"
    );
    assert_eq!(of(&trace, "dropped")[0]["reason"], "expired");
}

#[test]
fn the_effective_ttl_is_the_smaller_and_expiry_is_exact() {
    let nodes = json!([producer("p"), queue("q", json!({"x-message-ttl": 30}))]);
    let trace = run(
        doc(
            nodes,
            json!([edge("p", "q")]),
            json!([
                publish(10, "p", json!({"expiration": "50"})),
                publish(20, "p", json!({"expiration": "5"}))
            ]),
        ),
        200,
    );
    let expired: Vec<(u64, u64)> = of(&trace, "expired")
        .iter()
        .map(|e| (e["message"].as_u64().unwrap(), e["at_us"].as_u64().unwrap()))
        .collect();
    // m1 arrives at 11 ms with TTL 30; m2 at 21 ms with TTL 5 but is behind m1.
    assert_eq!(expired, [(1, 41_000), (2, 41_000)]);
}

#[test]
fn ttl_zero_delivers_only_to_a_consumer_ready_now() {
    let nodes = json!([
        producer("p"),
        queue("q", json!({"x-message-ttl": 0})),
        consumer("c", json!({"prefetch_count": 1, "processing": "15ms"}))
    ]);
    let trace = run(
        doc(
            nodes,
            json!([edge("p", "q"), edge("q", "c")]),
            json!([publish(10, "p", json!({})), publish(12, "p", json!({}))]),
        ),
        100,
    );
    assert_eq!(of(&trace, "delivered").len(), 1);
    assert!(of(&trace, "enqueued").is_empty(), "TTL 0 never waits");
    let dropped = of(&trace, "dropped");
    assert_eq!(
        (&dropped[0]["message"], &dropped[0]["reason"]),
        (&json!(2), &json!("expired"))
    );
    assert!(of(&trace, "returned").is_empty());
}

#[test]
fn a_requeued_message_keeps_its_original_expiry() {
    let nodes = json!([
        producer("p"),
        queue("q", json!({"x-message-ttl": 50})),
        consumer(
            "c",
            json!({"prefetch_count": 1, "processing": "30ms", "fail_probability": 1.0,
                             "on_failure": {"action": "nack", "requeue": true}})
        )
    ]);
    let trace = run(
        doc(
            nodes,
            json!([edge("p", "q"), edge("q", "c")]),
            json!([publish(10, "p", json!({}))]),
        ),
        200,
    );
    // It reaches the queue at 11 ms (expiry 61 ms) and is delivered; the nack reaches the
    // broker at 11+1+30+1 = 43 ms; redelivered, the second nack arrives at 75 ms, after the
    // original expiry: it is requeued expired and expires at once.
    let expired = of(&trace, "expired");
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0]["at_us"], 75_000);
    assert_eq!(of(&trace, "delivered").len(), 2);
}

// ----- §1.8 dead-lettering -----

#[test]
fn ct_rmq_dlx_cycle_1_expired_only_cycle_is_dropped() {
    let nodes = json!([
        producer("p"),
        queue(
            "q1",
            json!({"x-message-ttl": 10, "x-dead-letter-exchange": ""})
        )
    ]);
    let trace = run(
        doc(
            nodes,
            json!([edge("p", "q1")]),
            json!([publish(10, "p", json!({}))]),
        ),
        200,
    );
    let dl = of(&trace, "dead_lettered");
    assert_eq!(dl.len(), 1);
    assert_eq!(
        dl[0]["routing_keys"],
        json!(["q1"]),
        "back by its original key"
    );
    let dropped = of(&trace, "dropped");
    assert_eq!(dropped.len(), 1);
    assert_eq!(dropped[0]["reason"], "dead_letter_cycle");
    assert_eq!(dropped[0]["at_us"], 21_000, "after its first expiry");
}

#[test]
fn ct_rmq_dlx_cycle_2_rejections_loop_and_count_up() {
    let nodes = json!([
        producer("p"),
        queue("q1", json!({"x-dead-letter-exchange": ""})),
        consumer(
            "c",
            json!({"prefetch_count": 1, "processing": "10ms",
            "when_header": [{"header": "poison", "then": {"action": "reject", "requeue": false}}]})
        )
    ]);
    let trace = run(
        doc(
            nodes,
            json!([edge("p", "q1"), edge("q1", "c")]),
            json!([publish(10, "p", json!({"headers": {"poison": true}}))]),
        ),
        100,
    );
    let dl = of(&trace, "dead_lettered");
    assert!(dl.len() >= 3, "it loops: {}", dl.len());
    for (i, d) in dl.iter().enumerate() {
        assert_eq!(d["reason"], "rejected");
        let xd = d["x-death"].as_array().unwrap();
        assert_eq!(xd.len(), 1, "one entry for {{q1, rejected}}");
        assert_eq!(xd[0]["count"], i as u64 + 1);
        assert_eq!(xd[0]["queue"], "q1");
    }
    assert!(of(&trace, "dropped").is_empty());
}

#[test]
fn x_death_is_exact_and_most_recent_first() {
    // q1 (TTL 10, DLX dlx, DL key "to-q2") → q2, where the consumer rejects → dlx2 → q3.
    let nodes = json!([
        producer("p"),
        exchange("x", "direct"),
        exchange("dlx", "direct"),
        exchange("dlx2", "fanout"),
        queue(
            "q1",
            json!({"x-message-ttl": 10, "x-dead-letter-exchange": "dlx", "x-dead-letter-routing-key": "to-q2"})
        ),
        queue("q2", json!({"x-dead-letter-exchange": "dlx2"})),
        queue("q3", json!({})),
        consumer(
            "c",
            json!({"prefetch_count": 1, "processing": "1ms",
            "when_header": [{"header": "x-first-death-reason", "equals": "expired",
                             "then": {"action": "reject", "requeue": false}}]})
        )
    ]);
    let edges = json!([
        edge("p", "x"),
        bind("x", "q1", "k"),
        bind("dlx", "q2", "to-q2"),
        bind("dlx2", "q3", ""),
        edge("q2", "c")
    ]);
    let trace = run(
        doc(
            nodes,
            edges,
            json!([publish(
                1500,
                "p",
                json!({"routing_key": "k", "expiration": "500", "headers": {"CC": ["k2"]}})
            )]),
        ),
        2500,
    );
    let dl = of(&trace, "dead_lettered");
    assert_eq!(dl.len(), 2);
    assert_eq!(
        dl[0]["routing_keys"],
        json!(["to-q2"]),
        "the DL key replaces them, CC removed"
    );
    let xd = dl[1]["x-death"].as_array().unwrap();
    assert_eq!(xd.len(), 2);
    assert_eq!(
        xd[0],
        json!({"count": 1, "reason": "rejected", "queue": "q2", "time": 1,
               "exchange": "dlx", "routing-keys": ["to-q2"]})
    );
    assert_eq!(
        xd[1],
        json!({"count": 1, "reason": "expired", "queue": "q1", "time": 1,
               "exchange": "x", "routing-keys": ["k", "k2"], "original-expiration": "500"}),
        "original-expiration is the message's own TTL property, not the effective TTL"
    );
}

#[test]
fn a_missing_dead_letter_exchange_drops_silently() {
    let nodes = json!([
        producer("p"),
        queue(
            "q",
            json!({"x-message-ttl": 5, "x-dead-letter-exchange": "nowhere"})
        )
    ]);
    let trace = run(
        doc(
            nodes,
            json!([edge("p", "q")]),
            json!([publish(10, "p", json!({}))]),
        ),
        50,
    );
    assert_eq!(of(&trace, "dropped")[0]["reason"], "dead_letter_unroutable");
}

// ----- §1.10 quorum delivery limit -----

fn quorum_limit_case(settle: Value) -> Vec<Value> {
    let nodes = json!([
        producer("p"),
        {"id": "q", "kind": "queue", "config": {"arguments": {"x-queue-type": "quorum", "x-delivery-limit": 2, "x-dead-letter-exchange": "dlx"}}},
        exchange("dlx", "fanout"),
        queue("dlq", json!({})),
        consumer("c", json!({"prefetch_count": 1, "processing": "5ms", "fail_probability": 1.0, "on_failure": settle}))
    ]);
    run(
        doc(
            nodes,
            json!([edge("p", "q"), edge("q", "c"), bind("dlx", "dlq", "")]),
            json!([publish(10, "p", json!({}))]),
        ),
        300,
    )
}

#[test]
fn ct_rmq_qq_dl_1_reject_requeue_dead_letters_after_limit_plus_one_deliveries() {
    let trace = quorum_limit_case(json!({"action": "reject", "requeue": true}));
    let deliveries: Vec<&Value> = of(&trace, "delivered")
        .into_iter()
        .filter(|e| e["queue"] == "q")
        .collect();
    assert_eq!(deliveries.len(), 3, "deliveries 1, 2, 3");
    assert_eq!(
        deliveries
            .iter()
            .map(|d| d["redelivered"].as_bool().unwrap())
            .collect::<Vec<_>>(),
        [false, true, true]
    );
    let dl = of(&trace, "dead_lettered");
    assert_eq!(dl.len(), 1);
    assert_eq!(dl[0]["reason"], "delivery_limit");
}

#[test]
fn ct_rmq_qq_dl_1_nack_requeue_never_dead_letters_on_4_3() {
    let trace = quorum_limit_case(json!({"action": "nack", "requeue": true}));
    assert!(of(&trace, "dead_lettered").is_empty());
    assert!(of(&trace, "delivered").len() > 5);
}

#[test]
fn quorum_headers_follow_the_4_3_counting_rules() {
    // One nack, then a reject, then look at the third delivery's headers via a rule that
    // matches x-acquired-count = 2 and x-delivery-count = 1.
    let nodes = json!([
        producer("p"),
        {"id": "q", "kind": "queue", "config": {"arguments": {"x-queue-type": "quorum"}}},
        consumer("c", json!({"prefetch_count": 1, "processing": "5ms",
            "when_header": [
                {"header": "x-delivery-count", "equals": 1, "then": {"action": "ack"}},
                {"header": "x-acquired-count", "equals": 1, "then": {"action": "reject", "requeue": true}}
            ],
            "fail_probability": 1.0, "on_failure": {"action": "nack", "requeue": true}}))
    ]);
    let trace = run(
        doc(
            nodes,
            json!([edge("p", "q"), edge("q", "c")]),
            json!([publish(10, "p", json!({}))]),
        ),
        300,
    );
    let settled: Vec<&str> = trace
        .iter()
        .filter(|e| ["acked", "nacked", "rejected"].contains(&e["type"].as_str().unwrap()))
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        settled,
        ["nacked", "rejected", "acked"],
        "1st: no headers → nack; 2nd: acquired 1, no delivery count → reject; 3rd: delivery count 1 → ack"
    );
}

// ----- §1.9 consumers -----

#[test]
fn competing_consumers_share_round_robin() {
    let nodes = json!([
        producer("p"),
        queue("q", json!({})),
        consumer("c1", json!({"prefetch_count": 10, "processing": "1ms"})),
        consumer("c2", json!({"prefetch_count": 10, "processing": "1ms"})),
        consumer("c3", json!({"prefetch_count": 10, "processing": "1ms"}))
    ]);
    let actions: Vec<Value> = (0..6).map(|i| publish(10 + i, "p", json!({}))).collect();
    let trace = run(
        doc(
            nodes,
            json!([
                edge("p", "q"),
                edge("q", "c1"),
                edge("q", "c2"),
                edge("q", "c3")
            ]),
            json!(actions),
        ),
        100,
    );
    let to: Vec<&str> = of(&trace, "delivered")
        .iter()
        .map(|d| d["consumer"].as_str().unwrap())
        .collect();
    assert_eq!(to, ["c1", "c2", "c3", "c1", "c2", "c3"]);
}

#[test]
fn prefetch_bounds_unacked_and_blocked_consumers_rejoin_at_the_tail() {
    // Prefetch 1 each, slow consumers: m1→c1, m2→c2, m3 waits; c2 finishes first (faster),
    // so m3 goes to c2.
    let nodes = json!([
        producer("p"),
        queue("q", json!({})),
        consumer("c1", json!({"prefetch_count": 1, "processing": "50ms"})),
        consumer("c2", json!({"prefetch_count": 1, "processing": "20ms"}))
    ]);
    let actions: Vec<Value> = (0..3).map(|_| publish(10, "p", json!({}))).collect();
    let trace = run(
        doc(
            nodes,
            json!([edge("p", "q"), edge("q", "c1"), edge("q", "c2")]),
            json!(actions),
        ),
        200,
    );
    let to: Vec<(u64, &str)> = of(&trace, "delivered")
        .iter()
        .map(|d| {
            (
                d["message"].as_u64().unwrap(),
                d["consumer"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(to, [(1, "c1"), (2, "c2"), (3, "c2")]);
    assert_eq!(of(&trace, "enqueued").len(), 1, "m3 waited for room");
}

#[test]
fn higher_priority_consumers_get_messages_first() {
    let nodes = json!([
        producer("p"),
        queue("q", json!({})),
        consumer("low", json!({"prefetch_count": 5, "processing": "1ms"})),
        consumer(
            "high",
            json!({"prefetch_count": 2, "processing": "100ms", "arguments": {"x-priority": 10}})
        )
    ]);
    let actions: Vec<Value> = (0..4).map(|_| publish(10, "p", json!({}))).collect();
    let trace = run(
        doc(
            nodes,
            json!([edge("p", "q"), edge("q", "low"), edge("q", "high")]),
            json!(actions),
        ),
        50,
    );
    let to: Vec<&str> = of(&trace, "delivered")
        .iter()
        .map(|d| d["consumer"].as_str().unwrap())
        .collect();
    assert_eq!(
        to,
        ["high", "high", "low", "low"],
        "low gets messages only while high is full"
    );
}

#[test]
fn global_prefetch_is_shared_by_the_channel() {
    let nodes = json!([
        producer("p"),
        queue("q1", json!({})),
        queue("q2", json!({})),
        consumer(
            "c",
            json!({"global_prefetch_count": 2, "processing": "100ms"})
        )
    ]);
    let actions: Vec<Value> = (0..3).flat_map(|_| [publish(10, "p", json!({}))]).collect();
    let trace = run(
        doc(
            nodes,
            json!([
                edge("p", "q1"),
                edge("p", "q2"),
                edge("q1", "c"),
                edge("q2", "c")
            ]),
            json!(actions),
        ),
        90,
    );
    assert_eq!(
        of(&trace, "delivered").len(),
        2,
        "two unacked on the channel at most"
    );
}

#[test]
fn nack_multiple_requeues_to_original_positions_with_redelivered() {
    // Five messages wait; c takes three (prefetch 3) and then nacks all of them at once.
    let nodes = json!([
        producer("p"),
        queue("q", json!({})),
        consumer("c", json!({"prefetch_count": 3, "processing": "1s"}))
    ]);
    let mut actions: Vec<Value> = (0..5).map(|_| publish(10, "p", json!({}))).collect();
    actions.push(json!({"at": "20ms", "do": "add_edge", "edge": edge("q", "c")}));
    actions.push(
        json!({"at": "40ms", "do": "nack", "node": "c", "delivery_tag": 3, "multiple": true}),
    );
    actions.push(json!({"at": "45ms", "do": "remove_edge", "from": "q", "to": "c"}));
    actions.push(json!({"at": "50ms", "do": "add_edge", "edge": edge("q", "c")}));
    let trace = run(doc(nodes, json!([edge("p", "q")]), json!(actions)), 60);
    let nacked = of(&trace, "nacked");
    assert_eq!(nacked.len(), 3);
    assert!(nacked
        .iter()
        .all(|n| n["multiple"] == true && n["requeue"] == true));
    let requeued: Vec<u64> = of(&trace, "requeued")
        .iter()
        .map(|e| e["message"].as_u64().unwrap())
        .collect();
    assert_eq!(requeued, [1, 2, 3]);
}

#[test]
fn classic_requeue_goes_back_to_the_original_position() {
    // c takes m1 (prefetch 1) and rejects it with requeue while m2, m3 wait; m1 is delivered
    // again before m2.
    let nodes = json!([
        producer("p"),
        queue("q", json!({})),
        consumer(
            "c",
            json!({"prefetch_count": 1, "processing": "5ms",
            "when_header": [{"header": "first", "then": {"action": "reject", "requeue": true}}]})
        )
    ]);
    let actions = json!([
        publish(10, "p", json!({"headers": {"first": true}})),
        publish(10, "p", json!({})),
        publish(10, "p", json!({}))
    ]);
    let trace = run(
        doc(nodes, json!([edge("p", "q"), edge("q", "c")]), actions),
        19,
    );
    let order: Vec<(u64, bool)> = of(&trace, "delivered")
        .iter()
        .map(|d| {
            (
                d["message"].as_u64().unwrap(),
                d["redelivered"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(order, [(1, false), (1, true)]);
}

#[test]
fn quorum_returns_are_served_before_the_main_queue_ignoring_priority() {
    let nodes = json!([
        producer("p"),
        {"id": "q", "kind": "queue", "config": {"arguments": {"x-queue-type": "quorum"}}},
        consumer("c", json!({"prefetch_count": 1, "processing": "5ms",
            "when_header": [{"header": "low", "then": {"action": "nack", "requeue": true}}]}))
    ]);
    let actions = json!([
        publish(10, "p", json!({"headers": {"low": true}, "priority": 0})),
        publish(10, "p", json!({"priority": 9}))
    ]);
    let trace = run(
        doc(nodes, json!([edge("p", "q"), edge("q", "c")]), actions),
        19,
    );
    let order: Vec<u64> = of(&trace, "delivered")
        .iter()
        .map(|d| d["message"].as_u64().unwrap())
        .collect();
    assert_eq!(
        order,
        [1, 1],
        "the returned low-priority m1 goes before the high-priority m2"
    );
}

#[test]
fn classic_priority_is_strict() {
    let nodes = json!([
        producer("p"),
        queue("q", json!({"x-max-priority": 5})),
        consumer("c", json!({"prefetch_count": 1, "processing": "1ms"}))
    ]);
    let mut actions: Vec<Value> = vec![
        publish(10, "p", json!({"priority": 1})),
        publish(10, "p", json!({})),
        publish(10, "p", json!({"priority": 9})),
        publish(10, "p", json!({"priority": 5})),
        publish(10, "p", json!({"priority": 1})),
    ];
    actions.push(json!({"at": "20ms", "do": "add_edge", "edge": edge("q", "c")}));
    let trace = run(doc(nodes, json!([edge("p", "q")]), json!(actions)), 100);
    let order: Vec<u64> = of(&trace, "delivered")
        .iter()
        .map(|d| d["message"].as_u64().unwrap())
        .collect();
    // 9 clamps to 5 and queues behind the earlier 5? No: m3 (9→5) came before m4 (5).
    assert_eq!(order, [3, 4, 1, 5, 2]);
}

#[test]
fn x_max_priority_out_of_range_is_refused_at_declare_time() {
    for bad in [256, -1] {
        let d = doc(
            json!([producer("p"), queue("q", json!({"x-max-priority": bad}))]),
            json!([edge("p", "q")]),
            json!([]),
        );
        let err = Scenario::from_json(&d.to_string()).expect_err("refused");
        assert_eq!(err.0[0].path, "nodes[1].config.arguments.x-max-priority");
        assert!(err.0[0].message.contains("406"), "{err}");
    }
}

#[test]
fn a_consumer_crash_requeues_its_unacked_messages_as_redelivered() {
    let nodes = json!([
        producer("p"),
        queue("q", json!({})),
        consumer("c1", json!({"prefetch_count": 2, "processing": "100ms"})),
        consumer("c2", json!({"prefetch_count": 2, "processing": "1ms"}))
    ]);
    let actions = json!([
        publish(10, "p", json!({})),
        {"at": "30ms", "do": "crash", "node": "c1"}
    ]);
    // c2 joins only after the crash, so m1 surely went to c1 first.
    let mut actions = actions.as_array().unwrap().clone();
    actions.push(json!({"at": "40ms", "do": "add_edge", "edge": edge("q", "c2")}));
    let trace = run(
        doc(
            nodes,
            json!([edge("p", "q"), edge("q", "c1")]),
            json!(actions),
        ),
        100,
    );
    let delivered = of(&trace, "delivered");
    assert_eq!(delivered.len(), 2);
    assert_eq!(
        (&delivered[0]["consumer"], &delivered[0]["redelivered"]),
        (&json!("c1"), &json!(false))
    );
    assert_eq!(
        (&delivered[1]["consumer"], &delivered[1]["redelivered"]),
        (&json!("c2"), &json!(true))
    );
    assert_eq!(of(&trace, "requeued").len(), 1);
    assert_eq!(of(&trace, "acked").len(), 1);
}

#[test]
fn an_unknown_delivery_tag_is_a_channel_error() {
    let nodes = json!([
        producer("p"),
        queue("q", json!({})),
        consumer("c", json!({"prefetch_count": 1, "processing": "1s"}))
    ]);
    let actions = json!([publish(10, "p", json!({})), {"at": "30ms", "do": "ack", "node": "c", "delivery_tag": 7}]);
    let trace = run(
        doc(nodes, json!([edge("p", "q"), edge("q", "c")]), actions),
        100,
    );
    let err = of(&trace, "channel_error");
    assert_eq!(err.len(), 1);
    assert_eq!(err[0]["code"], 406);
    assert!(err[0]["text"]
        .as_str()
        .unwrap()
        .contains("unknown delivery tag 7"));
    assert_eq!(
        of(&trace, "requeued").len(),
        1,
        "the channel closed: m1 goes back"
    );
}

#[test]
fn single_active_consumer_is_the_first_registered_and_fails_over_by_priority() {
    let nodes = json!([
        producer("p"),
        queue("q", json!({"x-single-active-consumer": true})),
        consumer("a", json!({"prefetch_count": 5, "processing": "1ms"})),
        consumer("b", json!({"prefetch_count": 5, "processing": "1ms"})),
        consumer(
            "c",
            json!({"prefetch_count": 5, "processing": "1ms", "arguments": {"x-priority": 3}})
        )
    ]);
    let actions = json!([
        publish(10, "p", json!({})),
        publish(10, "p", json!({})),
        {"at": "20ms", "do": "crash", "node": "a"},
        publish(30, "p", json!({}))
    ]);
    let trace = run(
        doc(
            nodes,
            json!([
                edge("p", "q"),
                edge("q", "a"),
                edge("q", "b"),
                edge("q", "c")
            ]),
            actions,
        ),
        100,
    );
    let to: Vec<&str> = of(&trace, "delivered")
        .iter()
        .map(|d| d["consumer"].as_str().unwrap())
        .collect();
    assert_eq!(
        to,
        ["a", "a", "c"],
        "a first (registered first, despite c's priority); then c"
    );
    let active: Vec<&str> = of(&trace, "consumer_activated")
        .iter()
        .map(|d| d["consumer"].as_str().unwrap())
        .collect();
    assert_eq!(active, ["a", "c"]);
}

// ----- §1.5 queue lifetimes and live edits -----

#[test]
fn auto_delete_needs_a_first_consumer_and_x_expires_deletes_an_unused_queue() {
    let nodes = json!([
        producer("p"),
        {"id": "ad", "kind": "queue", "config": {"auto_delete": true}},
        {"id": "never", "kind": "queue", "config": {"auto_delete": true}},
        queue("exp", json!({"x-expires": 50})),
        consumer("c", json!({"prefetch_count": 1, "processing": "1ms"}))
    ]);
    let actions = json!([
        publish(10, "p", json!({})),
        {"at": "20ms", "do": "crash", "node": "c"}
    ]);
    let trace = run(
        doc(nodes, json!([edge("ad", "c"), edge("p", "exp")]), actions),
        100,
    );
    let deleted: Vec<(String, String, u64)> = of(&trace, "queue_deleted")
        .iter()
        .map(|e| {
            (
                e["queue"].as_str().unwrap().into(),
                e["why"].as_str().unwrap().into(),
                e["dropped"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        deleted,
        [
            ("ad".to_owned(), "auto_delete".to_owned(), 0),
            ("exp".to_owned(), "x-expires".to_owned(), 1)
        ],
        "`never` had no consumer and stays"
    );
    assert_eq!(of(&trace, "dropped")[0]["reason"], "queue_deleted");
}

#[test]
fn deleting_a_queue_drops_its_messages_and_a_new_binding_routes_the_next_publish() {
    let nodes = json!([
        producer("p"),
        exchange("x", "fanout"),
        queue("q", json!({})),
        queue("r", json!({}))
    ]);
    let actions = json!([
        publish(10, "p", json!({})),
        publish(10, "p", json!({})),
        {"at": "20ms", "do": "remove_node", "node": "q"},
        {"at": "20ms", "do": "add_edge", "edge": {"from": "x", "to": "r"}},
        publish(30, "p", json!({}))
    ]);
    let trace = run(
        doc(nodes, json!([edge("p", "x"), bind("x", "q", "")]), actions),
        100,
    );
    let deleted = of(&trace, "queue_deleted");
    assert_eq!(
        (&deleted[0]["why"], &deleted[0]["dropped"]),
        (&json!("deleted"), &json!(2))
    );
    assert_eq!(of(&trace, "dropped").len(), 2);
    let routed = of(&trace, "routed");
    assert_eq!(names(&routed[2]["queues"]), ["r"]);
}

// ----- live edits through commands -----

mod live {
    use super::*;
    use switchboard_core::scenario::{EdgeSpec, NodeSpec};
    use switchboard_core::{Command, CommandError, MessageTemplate, NodeId};

    fn node(json: Value) -> NodeSpec {
        serde_json::from_value(json).expect("a node")
    }

    fn edge_spec(from: &str, to: &str, latency: Option<&str>) -> EdgeSpec {
        let mut e = EdgeSpec::new(from, to);
        e.latency = latency.map(|l| serde_json::from_value(json!(l)).unwrap());
        e
    }

    fn lines(sim: &mut Sim) -> Vec<Value> {
        let events: Vec<_> = sim.drain_events().collect();
        events
            .iter()
            .map(|e| switchboard_core::trace::event_json(e, sim.topology()))
            .collect()
    }

    fn id(sim: &Sim, name: &str) -> NodeId {
        sim.topology().node_id(name).expect("a live node")
    }

    #[test]
    fn declare_bind_consume_cancel_and_delete_mid_run_then_replay_exactly() {
        let s = common::scenario(
            &doc(
                json!([producer("p"), exchange("x", "fanout")]),
                json!([edge("p", "x")]),
                json!([]),
            )
            .to_string(),
        );
        let mut sim = Sim::new(&s).unwrap();
        let mut trace = Vec::new();
        let at = |ms: u64| SimTime(ms * 1000);
        let p = id(&sim, "p");
        // Before any queue exists, a publish is unroutable.
        sim.apply(Command::Publish {
            node: p,
            message: MessageTemplate::default(),
        })
        .unwrap();
        sim.advance_to(at(10));
        trace.extend(lines(&mut sim));
        sim.apply(Command::AddNode {
            spec: node(json!({"id": "q", "kind": "queue"})),
        })
        .unwrap();
        sim.apply(Command::AddEdge {
            spec: edge_spec("x", "q", None),
        })
        .unwrap();
        sim.apply(Command::AddNode {
            spec: node(json!({"id": "c", "kind": "consumer", "config": {"prefetch_count": 1, "processing": "50ms"}})),
        })
        .unwrap();
        sim.apply(Command::AddEdge {
            spec: edge_spec("q", "c", Some("1ms")),
        })
        .unwrap();
        for _ in 0..3 {
            sim.apply(Command::Publish {
                node: p,
                message: MessageTemplate::default(),
            })
            .unwrap();
        }
        sim.advance_to(at(30));
        // basic.cancel: c keeps its unacked delivery and acks it later; the rest stay ready.
        let consume = sim
            .topology()
            .edge_between(id(&sim, "q"), id(&sim, "c"), None)
            .unwrap();
        sim.apply(Command::RemoveEdge { edge: consume }).unwrap();
        sim.advance_to(at(100));
        sim.check_conservation().unwrap();
        let q = id(&sim, "q");
        let m = sim.metrics();
        let qm = m.nodes[q.index()].queue().cloned().unwrap();
        assert_eq!((qm.ready, qm.unacked, qm.consumers), (2, 0, 0));
        sim.apply(Command::RemoveNode { node: q }).unwrap();
        sim.advance_to(at(150));
        sim.check_conservation().unwrap();
        trace.extend(lines(&mut sim));

        let types: Vec<&str> = trace.iter().map(|e| e["type"].as_str().unwrap()).collect();
        let first = |t: &str| types.iter().position(|x| *x == t).unwrap_or(usize::MAX);
        assert_eq!(of(&trace, "dropped")[0]["reason"], "unroutable");
        assert_eq!(
            of(&trace, "enqueued").len(),
            2,
            "m3, m4 wait behind the prefetch"
        );
        assert_eq!(
            of(&trace, "acked").len(),
            1,
            "the cancelled consumer still acks"
        );
        assert!(first("acked") < first("queue_deleted"));
        let deleted = of(&trace, "queue_deleted");
        assert_eq!(
            (&deleted[0]["why"], &deleted[0]["dropped"]),
            (&json!("deleted"), &json!(2))
        );
        let t = sim.totals();
        assert_eq!(
            (t.created, t.live, t.consumed, t.dropped_total()),
            (4, 0, 1, 3)
        );

        // The edit log replays to the same state and the same trace.
        let log = sim.edit_log().to_vec();
        let json_log = serde_json::to_string(&log).unwrap();
        let log: Vec<switchboard_core::Edit> = serde_json::from_str(&json_log).unwrap();
        let mut again = Sim::replay(&s, s.seed, &log, at(150)).unwrap();
        assert_eq!(again.metrics(), sim.metrics());
        assert_eq!(again.steps(), sim.steps());
        drop(lines(&mut again));
    }

    #[test]
    fn invalid_edits_are_refused_with_a_reason_and_change_nothing() {
        let s = common::scenario(
            &doc(
                json!([
                    producer("p"),
                    exchange("x", "topic"),
                    queue("q", json!({})),
                    consumer("c", json!({})),
                    consumer("c2", json!({}))
                ]),
                json!([edge("p", "x"), edge("q", "c")]),
                json!([]),
            )
            .to_string(),
        );
        let mut sim = Sim::new(&s).unwrap();
        let err = sim
            .apply(Command::AddEdge {
                spec: edge_spec("c", "c2", None),
            })
            .unwrap_err();
        assert!(
            matches!(&err, CommandError::Invalid(m) if m.contains("a consumer sends only what its handler publishes")),
            "{err}"
        );
        let mut bad = EdgeSpec::new("x", "q");
        bad.routing_key = "#.#.#".into();
        let err = sim.apply(Command::AddEdge { spec: bad }).unwrap_err();
        assert!(err.to_string().contains("binding_invalid"), "{err}");
        let err = sim
            .apply(Command::AddNode {
                spec: node(json!({"id": "q", "kind": "queue"})),
            })
            .unwrap_err();
        assert!(err.to_string().contains("duplicate id"), "{err}");
        let p = id(&sim, "p");
        let err = sim
            .apply(Command::Settle {
                node: p,
                how: switchboard_core::amqp::Settlement::Ack,
                delivery_tag: None,
                multiple: false,
            })
            .unwrap_err();
        assert!(matches!(err, CommandError::NotAllowed(_)));
        let q = id(&sim, "q");
        assert!(
            sim.apply(Command::Crash { node: q }).is_err(),
            "queues do not crash"
        );
        assert!(sim.edit_log().is_empty(), "refused commands are not logged");
    }

    #[test]
    fn a_removed_consumer_requeues_its_unacked_messages_as_redelivered() {
        let s = common::scenario(
            &doc(
                json!([
                    producer("p"),
                    queue("q", json!({})),
                    consumer("c1", json!({"prefetch_count": 5, "processing": "1s"})),
                    consumer("c2", json!({"prefetch_count": 5, "processing": "1ms"}))
                ]),
                json!([edge("p", "q"), edge("q", "c1")]),
                json!([publish(1, "p", json!({})), publish(1, "p", json!({})),
                       {"at": "50ms", "do": "remove_node", "node": "c1"},
                       {"at": "60ms", "do": "add_edge", "edge": edge("q", "c2")}]),
            )
            .to_string(),
        );
        let mut sim = Sim::new(&s).unwrap();
        let trace: Vec<Value> = common::run_checked(&mut sim, SimTime(200_000), 100_000)
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let redelivered: Vec<bool> = of(&trace, "delivered")
            .iter()
            .filter(|d| d["consumer"] == "c2")
            .map(|d| d["redelivered"].as_bool().unwrap())
            .collect();
        assert_eq!(redelivered, [true, true]);
        assert_eq!(of(&trace, "removed")[0]["node"], "c1");
        assert_eq!(of(&trace, "acked").len(), 2);
    }
}

#[test]
fn a_consumer_that_could_requeue_in_zero_time_is_refused() {
    let d = doc(
        json!([
            producer("p"),
            queue("q", json!({})),
            consumer("c", json!({"processing": "0ms", "fail_probability": 0.5}))
        ]),
        json!([edge("p", "q"), {"from": "q", "to": "c", "latency": "0ms"}]),
        json!([]),
    );
    let err = Scenario::from_json(&d.to_string()).expect_err("refused");
    assert_eq!(err.0[0].path, "edges[1].latency");
    assert!(err.0[0].message.contains("loop forever"), "{err}");
    // Without fail_probability, the default on_failure (nack, requeue) still sends poison
    // messages back.
    let d = doc(
        json!([
            producer("p"),
            queue("q", json!({})),
            consumer("c", json!({"processing": "0ms"}))
        ]),
        json!([edge("p", "q"), {"from": "q", "to": "c", "latency": "0ms"}]),
        json!([]),
    );
    let err = Scenario::from_json(&d.to_string()).expect_err("refused");
    assert!(err.0[0].message.contains("loop forever"), "{err}");
    // Acking everything in zero time is fine: nothing comes back. Neither does auto_ack.
    for c in [
        json!({"processing": "0ms", "on_failure": {"action": "ack"}}),
        json!({"processing": "0ms", "auto_ack": true}),
    ] {
        let d = doc(
            json!([producer("p"), queue("q", json!({})), consumer("c", c)]),
            json!([edge("p", "q"), {"from": "q", "to": "c", "latency": "0ms"}]),
            json!([]),
        );
        Scenario::from_json(&d.to_string()).expect("valid");
    }
}

// ----- cases from the rule-by-rule review -----

#[test]
fn several_bindings_to_one_queue_still_give_one_copy_and_an_exchange_may_bind_to_itself() {
    let nodes = json!([producer("p"), exchange("x", "topic"), queue("q", json!({}))]);
    let edges = json!([
        edge("p", "x"),
        bind("x", "q", "a.*"),
        bind("x", "q", "*.b"),
        bind("x", "x", "#")
    ]);
    let trace = run(
        doc(
            nodes,
            edges,
            json!([publish(10, "p", json!({"routing_key": "a.b"}))]),
        ),
        50,
    );
    let routed = of(&trace, "routed");
    assert_eq!(names(&routed[0]["queues"]), ["q"]);
    assert_eq!(routed[0]["copies"].as_array().unwrap().len(), 1);
    let dup = doc(
        json!([producer("p"), exchange("x", "topic"), queue("q", json!({}))]),
        json!([edge("p", "x"), bind("x", "q", "a.*"), bind("x", "q", "a.*")]),
        json!([]),
    );
    let err = Scenario::from_json(&dup.to_string()).expect_err("the same binding twice");
    assert!(err.0[0].message.contains("duplicate"), "{err}");
}

#[test]
fn multiple_needs_the_tag_itself_outstanding_and_tag_zero_means_all() {
    let nodes = json!([
        producer("p"),
        queue("q", json!({})),
        consumer("c", json!({"processing": "1h"}))
    ]);
    let three: Vec<Value> = (0..3).map(|_| publish(0, "p", json!({}))).collect();
    let edges = json!([{"from": "p", "to": "q", "latency": "0ms"}, {"from": "q", "to": "c", "latency": "0ms"}]);
    // Tag 2 acked alone, then `multiple` up to 2: tag 2 is gone, so 406 and the rest requeue.
    let mut actions = three.clone();
    actions.push(json!({"at": "10ms", "do": "ack", "node": "c", "delivery_tag": 2}));
    actions
        .push(json!({"at": "20ms", "do": "ack", "node": "c", "delivery_tag": 2, "multiple": true}));
    let trace = run(doc(nodes.clone(), edges.clone(), json!(actions)), 50);
    let err = of(&trace, "channel_error");
    assert_eq!((err.len(), &err[0]["at_us"]), (1, &json!(20_000)));
    assert_eq!(of(&trace, "requeued").len(), 2, "tags 1 and 3 go back");
    // multiple with tag 0 settles everything outstanding.
    let mut actions = three;
    actions.push(json!({"at": "10ms", "do": "nack", "node": "c", "delivery_tag": 0, "multiple": true, "requeue": false}));
    let trace = run(doc(nodes, edges, json!(actions)), 50);
    assert_eq!(of(&trace, "nacked").len(), 3);
    assert!(of(&trace, "channel_error").is_empty());
}

#[test]
fn bcc_is_invisible_to_bindings_but_still_routes_dead_letters() {
    // A headers binding on BCC's presence never matches: BCC is taken off at the door.
    assert!(!headers_case(json!({"BCC": null}), json!({"BCC": ["q"]})));
    // Dead-lettered without a DL routing key, the message keeps its BCC routing keys.
    let nodes = json!([
        producer("p"),
        queue("q", json!({"x-dead-letter-exchange": "dlx"})),
        exchange("dlx", "direct"),
        queue("dlq", json!({})),
        consumer(
            "c",
            json!({"processing": "1ms", "when_header": [{"header": "p", "then": {"action": "reject", "requeue": false}}]})
        )
    ]);
    let trace = run(
        doc(
            nodes,
            json!([edge("p", "q"), bind("dlx", "dlq", "dlq"), edge("q", "c")]),
            json!([publish(
                0,
                "p",
                json!({"headers": {"p": 1, "BCC": ["dlq"]}})
            )]),
        ),
        50,
    );
    let routed = of(&trace, "routed");
    assert_eq!(names(&routed[1]["queues"]), ["dlq"]);
    assert_eq!(
        of(&trace, "dead_lettered")[0]["x-death"][0]["routing-keys"],
        json!(["q"]),
        "x-death leaves BCC out"
    );
}

#[test]
fn a_dead_letter_routing_key_replaces_the_keys_but_keeps_the_cc_header() {
    let nodes = json!([
        producer("p"),
        exchange("x", "direct"),
        queue(
            "q",
            json!({"x-message-ttl": 10, "x-dead-letter-exchange": "", "x-dead-letter-routing-key": "dlq"})
        ),
        queue("dlq", json!({})),
        queue("other", json!({})),
        consumer(
            "c",
            json!({"processing": "1ms", "when_header": [{"header": "CC", "then": {"action": "reject", "requeue": false}}]})
        )
    ]);
    let trace = run(
        doc(
            nodes,
            json!([edge("p", "x"), bind("x", "q", "k"), edge("dlq", "c")]),
            json!([publish(
                0,
                "p",
                json!({"routing_key": "k", "headers": {"CC": ["other"]}})
            )]),
        ),
        100,
    );
    let routed = of(&trace, "routed");
    assert_eq!(
        names(&routed[1]["queues"]),
        ["dlq"],
        "routed by the DL key alone, not by CC"
    );
    assert_eq!(
        of(&trace, "rejected").len(),
        1,
        "the consumer still sees CC"
    );
}

#[test]
fn a_new_high_priority_head_gets_no_ttl_timer_until_the_next_fetch() {
    let nodes = json!([
        producer("p"),
        queue("q", json!({"x-max-priority": 10})),
        consumer("c", json!({"processing": "1ms"}))
    ]);
    let trace = run(
        doc(
            nodes,
            json!([{"from": "p", "to": "q", "latency": "0ms"}]),
            json!([
                publish(0, "p", json!({"priority": 0})),
                publish(10, "p", json!({"priority": 5, "expiration": "100"})),
                {"at": "1s", "do": "add_edge", "edge": {"from": "q", "to": "c", "latency": "0ms"}}
            ]),
        ),
        1100,
    );
    // deliver_or_enqueue/3 arms no timer for it, and fetch/2 fetches before it drops: the
    // expired message is delivered.
    let delivered: Vec<u64> = of(&trace, "delivered")
        .iter()
        .map(|d| d["message"].as_u64().unwrap())
        .collect();
    assert_eq!(delivered, [2, 1]);
    assert!(of(&trace, "expired").is_empty());
}

#[test]
fn quorum_limits_apply_again_after_returns() {
    let nodes = json!([
        producer("p"),
        {"id": "q", "kind": "queue", "config": {"arguments": {"x-queue-type": "quorum", "x-max-length": 1}}},
        consumer("c", json!({"prefetch_count": 1, "processing": "1h"}))
    ]);
    let trace = run(
        doc(
            nodes,
            json!([{"from": "p", "to": "q", "latency": "0ms"}, {"from": "q", "to": "c", "latency": "0ms"}]),
            json!([publish(0, "p", json!({})), publish(10, "p", json!({})), {"at": "100ms", "do": "crash", "node": "c"}]),
        ),
        200,
    );
    let dropped = of(&trace, "dropped");
    assert_eq!(dropped.len(), 1);
    assert_eq!(
        (&dropped[0]["message"], &dropped[0]["reason"]),
        (&json!(1), &json!("maxlen")),
        "the returned m1 is the head"
    );
}

#[test]
fn quorum_without_a_delivery_limit_requeues_nacked_messages_at_the_back() {
    let nodes = json!([
        producer("p"),
        {"id": "q", "kind": "queue", "config": {"arguments": {"x-queue-type": "quorum", "x-delivery-limit": -1}}},
        consumer("c", json!({"prefetch_count": 1, "processing": "10ms", "when_header": [
            {"header": "x-acquired-count", "then": {"action": "ack"}},
            {"header": "n", "equals": 1, "then": {"action": "nack", "requeue": true}}]}))
    ]);
    let actions: Vec<Value> = (1..=3)
        .map(|n| publish(0, "p", json!({"headers": {"n": n}})))
        .collect();
    let trace = run(
        doc(
            nodes,
            json!([{"from": "p", "to": "q", "latency": "0ms"}, {"from": "q", "to": "c", "latency": "0ms"}]),
            json!(actions),
        ),
        200,
    );
    let order: Vec<u64> = of(&trace, "delivered")
        .iter()
        .map(|d| d["message"].as_u64().unwrap())
        .collect();
    assert_eq!(order, [1, 2, 3, 1]);
}

#[test]
fn quorum_reject_publish_accepts_the_crossing_publish_then_blocks_until_80_percent() {
    let nodes = json!([
        {"id": "p", "kind": "producer", "config": {"publisher_confirms": true}},
        {"id": "q", "kind": "queue", "config": {"arguments": {"x-queue-type": "quorum", "x-max-length": 2, "x-overflow": "reject-publish"}}}
    ]);
    let actions: Vec<Value> = (0..4).map(|i| publish(10 * i, "p", json!({}))).collect();
    let trace = run(
        doc(
            nodes,
            json!([{"from": "p", "to": "q", "latency": "0ms"}]),
            json!(actions),
        ),
        100,
    );
    let outcome: Vec<&str> = trace
        .iter()
        .filter(|e| e["type"] == "confirmed" || e["type"] == "publish_nacked")
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcome,
        ["confirmed", "confirmed", "confirmed", "publish_nacked"]
    );
    // A classic queue refuses the third already.
    let classic = three_into(
        json!({"x-max-length": 2, "x-overflow": "reject-publish"}),
        true,
        false,
    );
    assert_eq!(of(&classic, "publish_nacked").len(), 1);
}

#[test]
fn declaration_mistakes_a_broker_refuses_are_diagnostics() {
    let d = doc(
        json!([producer("p"), {"id": "q", "kind": "queue", "config": {"auto_delete": true, "arguments": {"x-queue-type": "quorum"}}}]),
        json!([edge("p", "q")]),
        json!([]),
    );
    let err = Scenario::from_json(&d.to_string()).expect_err("refused");
    assert_eq!(err.0[0].path, "nodes[1].config.auto_delete");
    let d = doc(
        json!([{"id": "p", "kind": "producer", "config": {"message": {"headers": {"CC": "k"}}}}, queue("q", json!({}))]),
        json!([edge("p", "q")]),
        json!([]),
    );
    let err = Scenario::from_json(&d.to_string()).expect_err("refused");
    assert_eq!(err.0[0].path, "nodes[0].config.message.headers.CC");
}

#[test]
fn headers_bindings_do_not_see_x_death_but_see_the_last_death_headers() {
    // q1 expires m into dlx (headers, any-with-x); one binding on x-death's presence, one on
    // x-last-death-queue.
    let nodes = json!([
        producer("p"),
        queue(
            "q1",
            json!({"x-message-ttl": 5, "x-dead-letter-exchange": "dlx"})
        ),
        exchange("dlx", "headers"),
        queue("by-x-death", json!({})),
        queue("by-last-queue", json!({}))
    ]);
    let edges = json!([
        edge("p", "q1"),
        {"from": "dlx", "to": "by-x-death", "arguments": {"x-match": "any-with-x", "x-death": null}},
        {"from": "dlx", "to": "by-last-queue", "arguments": {"x-match": "any-with-x", "x-last-death-queue": "q1"}}
    ]);
    let trace = run(doc(nodes, edges, json!([publish(0, "p", json!({}))])), 50);
    assert_eq!(names(&of(&trace, "routed")[1]["queues"]), ["by-last-queue"]);
}
