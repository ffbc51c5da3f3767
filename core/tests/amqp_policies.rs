//! RabbitMQ policies and operator policies (`docs/amqp.md`, "Policies"): which one applies, how
//! it meets a queue's arguments, and what a change does to a running queue. Each test runs with
//! the conservation check after every event and reads the trace, as a user would.

mod common;

use serde_json::{json, Value};
use switchboard_core::amqp::policy::Source;
use switchboard_core::{Command, Scenario, Sim, SimTime};

fn doc(nodes: Value, edges: Value, policies: Value, actions: Value) -> Scenario {
    common::scenario(
        &json!({"version": 3, "seed": 1, "nodes": nodes, "edges": edges,
                "policies": policies, "actions": actions})
        .to_string(),
    )
}

fn run(s: &Scenario, until_ms: u64) -> Vec<Value> {
    let mut sim = Sim::new(s).expect("valid");
    trace(&mut sim, until_ms)
}

fn trace(sim: &mut Sim, until_ms: u64) -> Vec<Value> {
    common::run_checked(sim, SimTime(until_ms * 1000), 1_000_000)
        .iter()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect()
}

fn of<'a>(t: &'a [Value], ty: &str) -> Vec<&'a Value> {
    t.iter().filter(|e| e["type"] == ty).collect()
}

fn policy(name: &str, pattern: &str, priority: i64, definition: Value) -> Value {
    json!({"name": name, "pattern": pattern, "priority": priority, "definition": definition})
}

fn publish(at_ms: u64) -> Value {
    json!({"at": format!("{at_ms}ms"), "do": "publish", "node": "p", "message": {}})
}

/// p → q (classic unless `quorum`), with `arguments`; a fanout dlx → dlq.
fn queue_with_dlq(arguments: Value) -> (Value, Value) {
    (
        json!([
            {"id": "p", "kind": "producer"},
            {"id": "q", "kind": "queue", "config": {"arguments": arguments}},
            {"id": "dlx", "kind": "exchange", "config": {"type": "fanout"}},
            {"id": "dlq", "kind": "queue"}
        ]),
        json!([{"from": "p", "to": "q", "latency": "1ms"}, {"from": "dlx", "to": "dlq"}]),
    )
}

fn settings(sim: &Sim, name: &str) -> Vec<(String, String, Source)> {
    let node = sim.topology().node_id(name).expect("a node");
    let (_, s) = sim
        .effective_settings(node)
        .expect("an exchange or a queue");
    s.into_iter()
        .map(|s| (s.key.to_owned(), s.value, s.source))
        .collect()
}

#[test]
fn a_policy_gives_a_queue_its_ttl_and_dead_letter_exchange_from_the_start() {
    let (nodes, edges) = queue_with_dlq(json!({}));
    let s = doc(
        nodes,
        edges,
        json!([policy(
            "dlx",
            "^q$",
            0,
            json!({"message-ttl": 100, "dead-letter-exchange": "dlx"})
        )]),
        json!([publish(10)]),
    );
    let t = run(&s, 500);
    let applied = of(&t, "policy_applied");
    assert_eq!(applied.len(), 1, "{applied:?}");
    assert_eq!(applied[0]["node"], "q");
    assert_eq!(applied[0]["policy"], "dlx");
    assert_eq!(applied[0]["operator_policy"], Value::Null);
    let dead = of(&t, "dead_lettered");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["at_us"], 111_000, "enqueued at 11 ms, 100 ms TTL");
    assert_eq!(of(&t, "enqueued").last().unwrap()["queue"], "dlq");
}

#[test]
fn arguments_and_policies_meet_as_rabbitmq_4_has_them() {
    let (nodes, edges) = queue_with_dlq(json!({
        "x-message-ttl": 5000, "x-max-length": 3, "x-dead-letter-exchange": "dlx",
        "x-overflow": "reject-publish"
    }));
    let s = doc(
        nodes,
        edges,
        json!([policy(
            "p",
            "^q$",
            0,
            json!({
                "message-ttl": 100, "max-length": 10, "dead-letter-exchange": "other",
                "overflow": "drop-head", "expires": 60000
            })
        )]),
        json!([]),
    );
    let sim = Sim::new(&s).unwrap();
    let got = settings(&sim, "q");
    let want: Vec<(String, String, Source)> = [
        ("message-ttl", "100", Source::Policy), // the lower
        ("expires", "60000", Source::Policy),   // the policy's alone
        ("max-length", "3", Source::Argument),  // the lower
        ("overflow", "\"reject-publish\"", Source::Argument), // a classic queue's argument
        ("dead-letter-exchange", "\"dlx\"", Source::Argument), // the argument
    ]
    .into_iter()
    .map(|(k, v, s)| (k.to_owned(), v.to_owned(), s))
    .collect();
    assert_eq!(got, want);
}

#[test]
fn a_quorum_queue_takes_the_policy_overflow_and_resolves_delivery_limits() {
    let q = |args: Value| json!([{"id": "q", "kind": "queue", "config": {"arguments": args}}]);
    let pol = json!([policy(
        "p",
        "^q$",
        0,
        json!({"overflow": "reject-publish", "delivery-limit": -1})
    )]);
    let s = doc(
        q(json!({"x-queue-type": "quorum", "x-overflow": "drop-head", "x-delivery-limit": 5})),
        json!([]),
        pol.clone(),
        json!([]),
    );
    let sim = Sim::new(&s).unwrap();
    let got = settings(&sim, "q");
    assert!(
        got.contains(&(
            "overflow".into(),
            "\"reject-publish\"".into(),
            Source::Policy
        )),
        "{got:?}"
    );
    // -1 (no limit) against 5: the limited one.
    assert!(
        got.contains(&("delivery-limit".into(), "5".into(), Source::Argument)),
        "{got:?}"
    );
    // reject-publish-dlx from a policy: quorum queues use drop-head instead.
    let s = doc(
        q(json!({"x-queue-type": "quorum"})),
        json!([]),
        json!([policy(
            "p",
            "^q$",
            0,
            json!({"overflow": "reject-publish-dlx"})
        )]),
        json!([]),
    );
    let sim = Sim::new(&s).unwrap();
    let got = settings(&sim, "q");
    assert_eq!(got[0].1, "\"drop-head\"", "{got:?}");
}

#[test]
fn one_policy_applies_the_highest_priority_then_the_first_name() {
    let nodes = json!([{"id": "q", "kind": "queue"}, {"id": "orders", "kind": "queue"}]);
    let s = doc(
        nodes,
        json!([]),
        json!([
            policy("b-low", ".*", 0, json!({"max-length": 1})),
            policy("a-low", ".*", 0, json!({"max-length": 2})),
            policy("high", "^orders$", 5, json!({"max-length": 3})),
            // Skipped for classic queues as a whole: it sets delivery-limit.
            policy(
                "quorum-only",
                ".*",
                9,
                json!({"max-length": 4, "delivery-limit": 3})
            )
        ]),
        json!([]),
    );
    let sim = Sim::new(&s).unwrap();
    let name = |n: &str| {
        let id = sim.topology().node_id(n).unwrap();
        sim.effective_settings(id).unwrap().0.policy
    };
    assert_eq!(name("q").as_deref(), Some("a-low"));
    assert_eq!(name("orders").as_deref(), Some("high"));
}

#[test]
fn an_operator_policy_caps_a_policy_key_by_key() {
    let s = common::scenario(
        &json!({"version": 3, "nodes": [{"id": "q", "kind": "queue"}],
            "policies": [policy("user", ".*", 0, json!({"max-length": 10, "message-ttl": 100}))],
            "operator_policies": [policy("cap", ".*", 0, json!({"max-length": 5, "message-ttl": 1000, "expires": 9000}))]
        })
        .to_string(),
    );
    let sim = Sim::new(&s).unwrap();
    let got = settings(&sim, "q");
    assert_eq!(
        got,
        [
            ("message-ttl".into(), "100".into(), Source::Policy),
            ("expires".into(), "9000".into(), Source::OperatorPolicy),
            ("max-length".into(), "5".into(), Source::OperatorPolicy),
        ]
    );
}

#[test]
fn lowering_max_length_live_drops_from_the_head_at_once() {
    let (nodes, edges) = queue_with_dlq(json!({"x-dead-letter-exchange": "dlx"}));
    let s = doc(
        nodes,
        edges,
        json!([]),
        json!([publish(1), publish(2), publish(3), publish(4),
               {"at": "50ms", "do": "set_policy", "policy": policy("cap", "^q$", 0, json!({"max-length": 1}))}]),
    );
    let t = run(&s, 100);
    let dead = of(&t, "dead_lettered");
    assert_eq!(dead.len(), 3, "the three oldest");
    assert!(dead.iter().all(|d| d["at_us"] == 50_000));
    assert!(dead.iter().all(|d| d["reason"] == "maxlen"), "{dead:?}");
    assert_eq!(of(&t, "policy_applied")[0]["at_us"], 50_000);
}

#[test]
fn a_shorter_ttl_applies_to_messages_enqueued_after_it() {
    let (nodes, edges) = queue_with_dlq(json!({"x-dead-letter-exchange": "dlx"}));
    let s = doc(
        nodes,
        edges,
        json!([policy("ttl", "^q$", 0, json!({"message-ttl": 1000}))]),
        json!([publish(0),
               {"at": "100ms", "do": "set_policy", "policy": policy("ttl", "^q$", 0, json!({"message-ttl": 10}))},
               publish(200), publish(1500)]),
    );
    let t = run(&s, 3000);
    let dead: Vec<u64> = of(&t, "dead_lettered")
        .iter()
        .map(|d| d["at_us"].as_u64().unwrap())
        .collect();
    // The first keeps the expiry it was enqueued with (1 ms + 1 s). The second, enqueued
    // with 10 ms, waits behind it: only the head expires (drop_expired_msgs), so both go at
    // 1.001 s. The third, alone in the queue, expires 10 ms after its enqueue.
    assert_eq!(dead, [1_001_000, 1_001_000, 1_511_000]);
}

#[test]
fn clearing_a_policy_puts_the_arguments_back() {
    let s = doc(
        json!([{"id": "q", "kind": "queue", "config": {"arguments": {"x-max-length": 7}}}]),
        json!([]),
        json!([policy("cap", ".*", 0, json!({"max-length": 2}))]),
        json!([{"at": "1s", "do": "clear_policy", "name": "cap"}]),
    );
    let mut sim = Sim::new(&s).unwrap();
    assert_eq!(settings(&sim, "q")[0].1, "2");
    let t = trace(&mut sim, 2000);
    assert_eq!(
        settings(&sim, "q"),
        [("max-length".into(), "7".into(), Source::Argument)]
    );
    let cleared = of(&t, "policy_applied");
    assert_eq!(cleared.last().unwrap()["policy"], Value::Null);
    // As a command, too; an unknown name is refused.
    let q = sim.topology().node_id("q").unwrap();
    let err = sim
        .apply(Command::ClearPolicy {
            name: "cap".into(),
            operator: false,
        })
        .unwrap_err();
    assert!(err.to_string().contains("no policy named"), "{err}");
    assert!(sim.effective_settings(q).unwrap().0.policy.is_none());
}

#[test]
fn an_exchange_takes_its_alternate_exchange_from_a_policy_unless_it_has_one() {
    let nodes = json!([
        {"id": "p", "kind": "producer"},
        {"id": "in", "kind": "exchange", "config": {"type": "direct"}},
        {"id": "own", "kind": "exchange", "config": {"type": "direct", "arguments": {"alternate-exchange": "ae2"}}},
        {"id": "ae", "kind": "exchange", "config": {"type": "fanout"}},
        {"id": "ae2", "kind": "exchange", "config": {"type": "fanout"}},
        {"id": "unrouted", "kind": "queue"},
        {"id": "unrouted2", "kind": "queue"}
    ]);
    let edges = json!([
        {"from": "p", "to": "in", "latency": "1ms"},
        {"from": "in", "to": "own", "routing_key": "k"},
        {"from": "ae", "to": "unrouted"},
        {"from": "ae2", "to": "unrouted2"}
    ]);
    let s = doc(
        nodes,
        edges,
        json!([{"name": "ae", "pattern": "^(in|own)$", "apply-to": "exchanges",
                "definition": {"alternate-exchange": "ae"}}]),
        json!([{"at": "1ms", "do": "publish", "node": "p", "message": {"routing_key": "nothing"}},
               {"at": "2ms", "do": "publish", "node": "p", "message": {"routing_key": "k"}}]),
    );
    let t = run(&s, 50);
    let routed = of(&t, "routed");
    assert_eq!(routed[0]["queues"], json!(["unrouted"]), "the policy's AE");
    assert_eq!(
        routed[1]["queues"],
        json!(["unrouted2"]),
        "own's argument wins"
    );
    assert_eq!(routed[1]["path"], json!(["own", "ae2"]));
}

#[test]
fn a_policy_pattern_with_lookahead_leaves_amq_names_alone() {
    let s = doc(
        json!([{"id": "amq.gen-1", "kind": "queue"}, {"id": "jobs", "kind": "queue"}]),
        json!([]),
        json!([policy(
            "not-amq",
            "^(?!amq\\.).*",
            0,
            json!({"max-length": 1})
        )]),
        json!([]),
    );
    let sim = Sim::new(&s).unwrap();
    assert!(settings(&sim, "amq.gen-1").is_empty());
    assert_eq!(settings(&sim, "jobs")[0].1, "1");
}

#[test]
fn a_refused_policy_change_changes_nothing_and_loses_no_message() {
    let (nodes, edges) = queue_with_dlq(json!({"x-dead-letter-exchange": "dlx"}));
    let s = doc(
        nodes,
        edges,
        json!([policy("cap", "^q$", 0, json!({"max-length": 3}))]),
        json!([publish(1), publish(2)]),
    );
    let mut sim = Sim::new(&s).unwrap();
    trace(&mut sim, 50);
    let before = (sim.metrics(), sim.policies(false), settings(&sim, "q"));
    let bad: switchboard_core::amqp::policy::Policy = serde_json::from_value(
        json!({"name": "cap", "pattern": "(", "definition": {"max-length": 0}}),
    )
    .unwrap();
    let err = sim
        .apply(Command::SetPolicy {
            policy: bad,
            operator: false,
        })
        .unwrap_err();
    assert!(err.to_string().contains("pattern"), "{err}");
    let op: switchboard_core::amqp::policy::Policy = serde_json::from_value(
        json!({"name": "op", "pattern": ".*", "definition": {"dead-letter-exchange": "dlx"}}),
    )
    .unwrap();
    let err = sim
        .apply(Command::SetPolicy {
            policy: op,
            operator: true,
        })
        .unwrap_err();
    assert!(
        err.to_string().contains("not an operator policy key"),
        "{err}"
    );
    assert!(sim.edit_log().is_empty(), "refused commands are not logged");
    let after = (sim.metrics(), sim.policies(false), settings(&sim, "q"));
    assert_eq!(format!("{before:?}"), format!("{after:?}"));
    sim.check_conservation().expect("conserved");
    let t = trace(&mut sim, 500);
    assert!(
        of(&t, "dead_lettered").is_empty(),
        "the two messages stay queued"
    );
}

#[test]
fn a_queue_published_to_directly_counts_each_message_received_once() {
    let (nodes, edges) = queue_with_dlq(json!({}));
    let s = doc(
        nodes,
        edges,
        json!([]),
        json!([publish(1), publish(2), publish(3)]),
    );
    let mut sim = Sim::new(&s).unwrap();
    trace(&mut sim, 100);
    let m = sim.metrics();
    let q = sim.topology().node_id("q").unwrap();
    assert_eq!(
        m.nodes[q.index()].stats.received,
        3,
        "{:?}",
        m.nodes[q.index()]
    );
}
