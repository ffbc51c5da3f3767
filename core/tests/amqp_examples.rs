//! Every `docs/examples/amqp-*.json` runs conserved (checked after every event), and its trace
//! shows the behaviour `docs/amqp.md` says it shows.

mod common;

use serde_json::Value;
use switchboard_core::{Sim, SimTime};

/// How long each example runs, as in the documented command (`--until 5s`).
const UNTIL: SimTime = SimTime(5_000_000);

/// The examples this file checks, one test each. A new example must be added here.
const COVERED: &[&str] = &[
    "amqp-alternate-exchange.json",
    "amqp-backpressure.json",
    "amqp-consumer-crash.json",
    "amqp-consumer-priority.json",
    "amqp-dead-letter-cycle.json",
    "amqp-dead-letter.json",
    "amqp-exchange-to-exchange.json",
    "amqp-exchange-types.json",
    "amqp-live-edit.json",
    "amqp-mandatory-return.json",
    "amqp-max-length.json",
    "amqp-policies.json",
    "amqp-prefetch-round-robin.json",
    "amqp-prefetch-throughput.json",
    "amqp-priority-queue.json",
    "amqp-publisher-confirms.json",
    "amqp-queue-deletion.json",
    "amqp-quorum-delivery-limit.json",
    "amqp-single-active-consumer.json",
    "amqp-ttl-expired-delivery.json",
    "amqp-ttl.json",
];

/// A run's trace: the NDJSON lines, and each line parsed.
struct Trace {
    lines: Vec<String>,
    events: Vec<Value>,
}

impl Trace {
    /// Events of type `ty`, in order.
    fn of(&self, ty: &str) -> Vec<&Value> {
        self.events.iter().filter(|e| e["type"] == ty).collect()
    }

    /// Events of type `ty` whose `field` is the string `value`.
    fn of_where(&self, ty: &str, field: &str, value: &str) -> Vec<&Value> {
        self.of(ty)
            .into_iter()
            .filter(|e| e[field] == value)
            .collect()
    }

    /// Index in the whole trace of the first event of type `ty` matching `pred`.
    fn position(&self, ty: &str, pred: impl Fn(&Value) -> bool) -> usize {
        self.events
            .iter()
            .position(|e| e["type"] == ty && pred(e))
            .unwrap_or_else(|| panic!("no {ty} event matching the predicate"))
    }
}

fn run(name: &str) -> Trace {
    let scenario = common::example(name);
    let mut sim = Sim::new(&scenario).unwrap_or_else(|d| panic!("{name}:\n{d}"));
    let lines = common::run_checked(&mut sim, UNTIL, 200_000);
    let events = lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("trace lines are JSON"))
        .collect();
    Trace { lines, events }
}

fn at(e: &Value) -> u64 {
    e["at_us"].as_u64().expect("at_us")
}

fn msg(e: &Value) -> u64 {
    e["message"].as_u64().expect("message")
}

fn strs(v: &Value) -> Vec<&str> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|s| s.as_str().expect("a string"))
        .collect()
}

/// Each `routed` event as (exchange, path, queues).
fn routes(t: &Trace) -> Vec<(&str, Vec<&str>, Vec<&str>)> {
    t.of("routed")
        .into_iter()
        .map(|e| {
            (
                e["exchange"].as_str().unwrap(),
                strs(&e["path"]),
                strs(&e["queues"]),
            )
        })
        .collect()
}

/// Consumers of the `delivered` events, in order.
fn delivered_to(t: &Trace) -> Vec<&str> {
    t.of("delivered")
        .into_iter()
        .map(|e| e["consumer"].as_str().unwrap())
        .collect()
}

#[test]
fn every_amqp_example_has_a_test_here() {
    let dir = format!("{}/../docs/examples", env!("CARGO_MANIFEST_DIR"));
    let mut found: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("amqp-") && n.ends_with(".json"))
        .collect();
    found.sort();
    assert_eq!(found, COVERED, "add a test for each new AMQP example");
}

#[test]
fn exchange_types_route_as_each_type_matches() {
    let t = run("amqp-exchange-types.json");
    assert_eq!(
        routes(&t),
        [
            // direct: exact key
            ("orders.direct", vec![], vec!["eu-orders"]),
            // direct: "eu" with CC ["us"] reaches both; BCC "asia" matches nothing
            ("orders.direct", vec![], vec!["eu-orders", "us-orders"]),
            // fanout: every binding, key ignored
            ("orders.fanout", vec![], vec!["audit", "billing"]),
            // topic: order.created matches *.created and order.#
            (
                "orders.topic",
                vec![],
                vec!["created-anything", "all-order-events"]
            ),
            ("orders.topic", vec![], vec!["created-anything"]),
            ("orders.topic", vec![], vec!["all-order-events"]),
            // order.eu.created: * is exactly one word, so only order.#
            ("orders.topic", vec![], vec!["all-order-events"]),
            // headers: all three bindings match
            (
                "orders.headers",
                vec![],
                vec!["eu-vip", "eu-or-vip", "v1-int"]
            ),
            // tier basic fails all, any still matches; version 1.0 is not 1
            ("orders.headers", vec![], vec!["eu-or-vip"]),
        ]
    );
    assert_eq!(common::of_type(&t.lines, "enqueued").len(), 14);
    let dropped = t.of("dropped");
    assert_eq!(dropped.len(), 1, "only the \"asia\" message is lost");
    assert_eq!(dropped[0]["reason"], "unroutable");
    assert_eq!(dropped[0]["node"], "orders.direct");
    assert_eq!(at(dropped[0]), 205_000);
}

#[test]
fn alternate_exchange_takes_what_the_bindings_route_nowhere() {
    let t = run("amqp-alternate-exchange.json");
    assert_eq!(
        routes(&t),
        [
            ("orders", vec![], vec!["shipping"]),
            ("orders", vec!["unrouted"], vec!["unrouted-orders"]),
        ]
    );
    assert!(
        t.of("returned").is_empty(),
        "routed via the AE counts as routed for mandatory"
    );
    assert!(t.of("dropped").is_empty());
}

#[test]
fn exchange_to_exchange_bindings_extend_routing_with_one_copy_per_queue() {
    let t = run("amqp-exchange-to-exchange.json");
    assert_eq!(
        routes(&t),
        [
            // "everything" is reached via ingress and via eu: one copy; eu → ingress is cut
            ("ingress", vec!["eu"], vec!["eu-orders", "everything"]),
            ("ingress", vec![], vec!["everything"]),
        ]
    );
    assert_eq!(t.of_where("enqueued", "queue", "everything").len(), 2);
    assert_eq!(t.of_where("enqueued", "queue", "eu-orders").len(), 1);
}

#[test]
fn mandatory_returns_unroutable_messages_before_the_confirm() {
    let t = run("amqp-mandatory-return.json");
    let returned = t.of("returned");
    assert_eq!(returned.len(), 1);
    let r = returned[0];
    assert_eq!(r["node"], "careful");
    assert_eq!(r["exchange"], "orders");
    assert_eq!(r["routing_key"], "order.cancelled");
    assert_eq!(r["reply_code"], 312);
    assert_eq!(r["reply_text"], "NO_ROUTE");
    // The unroutable message is still acked, after its basic.return.
    let confirms: Vec<u64> = t
        .of("confirmed")
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(confirms, [1, 2]);
    assert!(t.of("publish_nacked").is_empty());
    let ret = t.position("returned", |_| true);
    let ack = t.position("confirmed", |e| e["seq"] == 2);
    assert!(ret < ack, "basic.return comes before basic.ack");
    // Without mandatory, the same message is dropped silently.
    let reasons: Vec<(&str, &str)> = t
        .of("dropped")
        .iter()
        .map(|e| (e["node"].as_str().unwrap(), e["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(reasons, [("orders", "returned"), ("orders", "unroutable")]);
}

#[test]
fn publisher_confirms_nack_a_publish_one_queue_refused() {
    let t = run("amqp-publisher-confirms.json");
    let acks = t.of("confirmed");
    assert_eq!(acks.len(), 1);
    assert_eq!(
        (acks[0]["node"].as_str(), acks[0]["seq"].as_u64()),
        (Some("shop"), Some(1))
    );
    let nacks = t.of("publish_nacked");
    assert_eq!(nacks.len(), 1);
    assert_eq!(nacks[0]["node"], "shop");
    assert_eq!(nacks[0]["seq"], 2);
    let nacked = msg(nacks[0]);
    // spill refused its copy; archive still enqueued the message itself.
    let refused = t.of_where("dropped", "reason", "reject_publish");
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["node"], "spill");
    let archived: Vec<u64> = t
        .of_where("enqueued", "queue", "archive")
        .iter()
        .map(|e| msg(e))
        .collect();
    assert!(
        archived.contains(&nacked),
        "the nacked message is in archive"
    );
    assert_eq!(archived.len(), 2);
}

#[test]
fn ttl_takes_the_smaller_value_and_expires_only_at_the_head() {
    let t = run("amqp-ttl.json");
    let expired: Vec<(u64, &str, u64)> = t
        .of("expired")
        .iter()
        .map(|e| (at(e), e["queue"].as_str().unwrap(), msg(e)))
        .collect();
    assert_eq!(
        expired,
        [
            (200_000, "short", 1),         // expiration "200" beats x-message-ttl 1000
            (1_000_000, "short", 2),       // x-message-ttl 1000
            (3_000_000, "per-message", 3), // expiration "3000"
            (3_000_000, "per-message", 4), // expiration "500", held behind the head until 3 s
        ]
    );
    let dropped = t.of_where("dropped", "reason", "expired");
    assert_eq!(
        dropped.len(),
        4,
        "no dead-letter exchange: expired means dropped"
    );
}

#[test]
fn a_policy_shortens_the_ttl_of_messages_enqueued_after_it() {
    let t = run("amqp-policies.json");
    let applied: Vec<u64> = t.of("policy_applied").iter().map(|e| at(e)).collect();
    assert_eq!(
        applied,
        [0, 1_500_000],
        "at declaration, and when the policy is set again"
    );
    let dead = t.of_where("dead_lettered", "reason", "expired");
    // None before the worker resumes at 3 s: the expired messages wait behind messages
    // enqueued with the 30 s TTL. Then all at once, when those have left the head.
    assert!(!dead.is_empty());
    let first = at(dead[0]);
    assert!(first > 3_000_000, "{first}");
    assert!(dead.iter().all(|e| at(e) == first), "a burst");
    // Each was enqueued after the policy changed at 1.5 s (a 1 s TTL).
    let enqueued_at = |m: u64| {
        t.of("enqueued")
            .iter()
            .find(|e| msg(e) == m && e["queue"] == "orders")
            .map(|e| at(e))
            .unwrap()
    };
    assert!(dead.iter().all(|e| enqueued_at(msg(e)) >= 1_500_000));
    assert_eq!(
        t.of("enqueued")
            .iter()
            .filter(|e| e["queue"] == "orders.dlq")
            .count(),
        dead.len()
    );
}

#[test]
fn max_length_drop_head_drops_the_oldest_and_reject_publish_nacks_the_newest() {
    let t = run("amqp-max-length.json");
    // The copies of the first and third publishes in each queue.
    let copies: Vec<Vec<u64>> = t
        .of("routed")
        .iter()
        .map(|e| {
            assert_eq!(strs(&e["queues"]), ["newest", "oldest"]);
            e["copies"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_u64().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(copies.len(), 3);
    let maxlen = t.of_where("dropped", "reason", "maxlen");
    assert_eq!(maxlen.len(), 1);
    assert_eq!(maxlen[0]["node"], "newest");
    assert_eq!(msg(maxlen[0]), copies[0][0], "drop-head drops m1");
    let rejected = t.of_where("dropped", "reason", "reject_publish");
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0]["node"], "oldest");
    assert_eq!(msg(rejected[0]), copies[2][1], "reject-publish refuses m3");
    let seqs = |ty: &str| -> Vec<u64> {
        t.of(ty)
            .iter()
            .map(|e| e["seq"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(seqs("confirmed"), [1, 2]);
    assert_eq!(seqs("publish_nacked"), [3]);
    assert_eq!(t.of_where("enqueued", "queue", "oldest").len(), 2);
}

#[test]
fn a_poison_message_rejected_without_requeue_is_dead_lettered_with_x_death() {
    let t = run("amqp-dead-letter.json");
    let rejected = t.of("rejected");
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0]["requeue"], false);
    let poison = msg(rejected[0]);
    let dl = t.of("dead_lettered");
    assert_eq!(dl.len(), 1);
    let d = dl[0];
    assert_eq!(msg(d), poison);
    assert_eq!(d["queue"], "orders");
    assert_eq!(d["reason"], "rejected");
    assert_eq!(d["exchange"], "dlx");
    assert_eq!(strs(&d["routing_keys"]), ["order.created"]);
    let x_death = d["x-death"].as_array().unwrap();
    assert_eq!(x_death.len(), 1);
    let entry = &x_death[0];
    assert_eq!(entry["count"], 1);
    assert_eq!(entry["reason"], "rejected");
    assert_eq!(entry["queue"], "orders");
    assert_eq!(entry["exchange"], "orders-x");
    assert_eq!(strs(&entry["routing-keys"]), ["order.created"]);
    assert_eq!(entry["time"], 0, "seconds of simulated time");
    let in_dlq = t.of_where("enqueued", "queue", "orders.dlq");
    assert_eq!(in_dlq.len(), 1);
    assert_eq!(msg(in_dlq[0]), poison);
    assert_eq!(t.of("acked").len(), 2, "the other two orders are acked");
}

/// A dead-letter exchange counts the message dead-lettered into it as received, as it counts
/// what it routes on as sent: one in, one out.
#[test]
fn a_dead_letter_exchange_counts_what_it_receives_and_sends() {
    let scenario = common::example("amqp-dead-letter.json");
    let mut sim = Sim::new(&scenario).unwrap();
    common::run_checked(&mut sim, UNTIL, 200_000);
    let dlx = sim.topology().node_id("dlx").unwrap();
    let stats = &sim.metrics().nodes[dlx.index()].stats;
    assert_eq!((stats.received, stats.sent), (1, 1));
}

#[test]
fn an_expiry_only_dead_letter_cycle_is_dropped_but_rejections_loop() {
    let t = run("amqp-dead-letter-cycle.json");
    // CT-RMQ-DLX-CYCLE-1: q1 expires its message once, then the cycle is cut.
    let q1 = t.of_where("dead_lettered", "queue", "q1");
    assert_eq!(q1.len(), 1);
    assert_eq!(q1[0]["reason"], "expired");
    assert_eq!(at(q1[0]), 15_000, "enqueued at 5 ms, x-message-ttl 10");
    let cycle = t.of_where("dropped", "reason", "dead_letter_cycle");
    assert_eq!(cycle.len(), 1);
    assert_eq!(cycle[0]["node"], "q1");
    assert_eq!(msg(cycle[0]), msg(q1[0]));
    assert_eq!(t.of_where("enqueued", "queue", "q1").len(), 1);
    // CT-RMQ-DLX-CYCLE-2: rejections are never cut; the {q2, rejected} count keeps growing.
    let counts: Vec<u64> = t
        .of_where("dead_lettered", "queue", "q2")
        .iter()
        .map(|e| {
            assert_eq!(e["reason"], "rejected");
            let x = e["x-death"].as_array().unwrap();
            assert_eq!(x.len(), 1, "one entry per {{queue, reason}} pair");
            x[0]["count"].as_u64().unwrap()
        })
        .collect();
    assert!(
        counts.len() >= 20,
        "it loops until the run ends: {counts:?}"
    );
    assert!(counts.iter().copied().eq(1..=counts.len() as u64));
    assert_eq!(
        t.of("dropped").len(),
        1,
        "only q1's message is ever dropped"
    );
}

#[test]
fn a_classic_priority_queue_is_strict_and_max_priority_0_is_fifo() {
    let t = run("amqp-priority-queue.json");
    // Publish order: none, 1, 9, none, 5, 9. Copy 0 goes to jobs, copy 1 to jobs-fifo.
    let routed = t.of("routed");
    assert_eq!(routed.len(), 6);
    let index_of = |queue: usize, id: u64| {
        routed
            .iter()
            .position(|e| e["copies"][queue] == id)
            .expect("a routed copy")
    };
    let order = |queue: &str, col: usize| -> Vec<usize> {
        t.of_where("delivered", "queue", queue)
            .iter()
            .map(|e| index_of(col, msg(e)))
            .collect()
    };
    // The first goes out at once; then 9, 9 (FIFO within the level), 5, 1, none (= 0).
    assert_eq!(order("jobs", 0), [0, 2, 5, 4, 1, 3]);
    assert_eq!(order("jobs-fifo", 1), [0, 1, 2, 3, 4, 5]);
}

#[test]
fn a_quorum_queue_dead_letters_after_the_delivery_limit_but_nack_never_counts() {
    let t = run("amqp-quorum-delivery-limit.json");
    // CT-RMQ-QQ-DL-1: limit 2, always reject(requeue=true) → deliveries 1, 2, 3, then DLX.
    let deliveries: Vec<bool> = t
        .of_where("delivered", "queue", "orders")
        .iter()
        .map(|e| e["redelivered"].as_bool().unwrap())
        .collect();
    assert_eq!(deliveries, [false, true, true]);
    let rejects = t.of_where("rejected", "queue", "orders");
    assert_eq!(rejects.len(), 3);
    assert!(rejects.iter().all(|e| e["requeue"] == true));
    let dl = t.of("dead_lettered");
    assert_eq!(dl.len(), 1);
    assert_eq!(dl[0]["queue"], "orders");
    assert_eq!(dl[0]["reason"], "delivery_limit");
    assert_eq!(dl[0]["x-death"][0]["reason"], "delivery_limit");
    assert_eq!(dl[0]["x-death"][0]["count"], 1);
    assert_eq!(
        at(dl[0]),
        at(rejects[2]),
        "dead-lettered on the third reject"
    );
    assert_eq!(t.of_where("enqueued", "queue", "poison").len(), 1);
    // 4.3: basic.nack(requeue=true) is not a failed delivery; the message never dies.
    let nacks = t.of_where("nacked", "queue", "retries");
    assert!(nacks.len() > 10, "nacked {} times", nacks.len());
    assert!(t.of_where("dead_lettered", "queue", "retries").is_empty());
}

#[test]
fn prefetch_1_alternates_competing_consumers_one_unacked_each() {
    let t = run("amqp-prefetch-round-robin.json");
    assert_eq!(delivered_to(&t), ["w1", "w2", "w1", "w2", "w1", "w2"]);
    let mut unacked = std::collections::BTreeMap::new();
    for e in &t.events {
        let c = e["consumer"].as_str().unwrap_or_default();
        match e["type"].as_str() {
            Some("delivered") => {
                let n = unacked.entry(c).or_insert(0);
                *n += 1;
                assert!(*n <= 1, "{c} over its prefetch at {}", at(e));
            }
            Some("acked") => *unacked.get_mut(c).unwrap() -= 1,
            _ => {}
        }
    }
    assert_eq!(t.of("acked").len(), 6);
    // A consumer's next delivery leaves when its ack reaches the broker.
    let acks = t.of_where("acked", "consumer", "w1");
    let next = t.of_where("delivered", "consumer", "w1");
    assert_eq!(at(next[1]), at(acks[0]));
}

#[test]
fn a_lower_priority_consumer_gets_messages_only_while_the_higher_one_is_full() {
    let t = run("amqp-consumer-priority.json");
    assert_eq!(delivered_to(&t), ["fast", "slow", "fast", "fast"]);
    let d = t.of("delivered");
    assert_eq!(
        at(d[0]),
        at(d[1]),
        "slow gets one only because fast is full"
    );
}

#[test]
fn single_active_consumer_starts_with_the_first_registered_and_fails_over_by_priority() {
    let t = run("amqp-single-active-consumer.json");
    let activated: Vec<(u64, &str)> = t
        .of("consumer_activated")
        .iter()
        .map(|e| (at(e), e["consumer"].as_str().unwrap()))
        .collect();
    assert_eq!(activated, [(0, "primary"), (1_000_000, "backup-high")]);
    for e in t.of("delivered") {
        let expected = if at(e) < 1_000_000 {
            "primary"
        } else {
            "backup-high"
        };
        assert_eq!(e["consumer"], expected, "at {}", at(e));
    }
    assert!(t.of_where("delivered", "consumer", "backup-low").is_empty());
    // Primary's unacked messages come back and go to the new active consumer, redelivered.
    let requeued: Vec<u64> = t.of("requeued").iter().map(|e| msg(e)).collect();
    assert!(!requeued.is_empty());
    let redelivered: Vec<u64> = t
        .of("delivered")
        .iter()
        .filter(|e| e["redelivered"] == true)
        .map(|e| msg(e))
        .collect();
    assert_eq!(redelivered, requeued);
    assert_eq!(
        t.of("acked").len(),
        15,
        "every message is processed once acked"
    );
}

#[test]
fn a_crashed_consumer_s_unacked_messages_are_redelivered_with_redelivered_true() {
    let t = run("amqp-consumer-crash.json");
    let crashed = t.of("crashed");
    assert_eq!(crashed.len(), 1);
    assert_eq!(at(crashed[0]), 210_000, "on finishing its second message");
    let requeued: Vec<u64> = t.of("requeued").iter().map(|e| msg(e)).collect();
    assert_eq!(requeued, [2, 3, 4]);
    let after: Vec<(u64, u64, bool)> = t
        .of("delivered")
        .iter()
        .filter(|e| at(e) >= 1_000_000)
        .map(|e| {
            (
                msg(e),
                e["delivery_tag"].as_u64().unwrap(),
                e["redelivered"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        after,
        [(2, 1, true), (3, 2, true), (4, 3, true)],
        "original order, fresh channel tags, redelivered"
    );
    let acked: Vec<u64> = t.of("acked").iter().map(|e| msg(e)).collect();
    assert_eq!(acked, [1, 2, 3, 4]);
    assert!(t.of("dropped").is_empty());
}

#[test]
fn auto_delete_x_expires_and_exclusive_queues_are_deleted_when_they_should_be() {
    let t = run("amqp-queue-deletion.json");
    let deleted: Vec<(u64, &str, &str, u64)> = t
        .of("queue_deleted")
        .iter()
        .map(|e| {
            (
                at(e),
                e["queue"].as_str().unwrap(),
                e["why"].as_str().unwrap(),
                e["dropped"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        deleted,
        [
            (500_000, "idle", "x-expires", 1),
            (1_000_000, "session", "auto_delete", 0),
            (2_000_000, "private", "exclusive", 0),
        ]
    );
    let lost = t.of_where("dropped", "reason", "queue_deleted");
    assert_eq!(lost.len(), 1);
    assert_eq!(lost[0]["node"], "idle");
    assert!(
        t.of("dead_lettered").is_empty(),
        "queue expiry does not dead-letter"
    );
    // The auto-delete queue that never had a consumer survives and still routes.
    let last = routes(&t).pop().unwrap();
    assert_eq!(last, ("fanout", vec![], vec!["never-consumed"]));
}

#[test]
fn live_edits_delete_a_queue_with_its_messages_and_add_a_binding_for_the_next_publish() {
    let t = run("amqp-live-edit.json");
    let deleted = t.of("queue_deleted");
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0]["queue"], "backlog");
    assert_eq!(deleted[0]["why"], "deleted");
    assert_eq!(deleted[0]["dropped"], 2);
    let lost: Vec<u64> = t
        .of_where("dropped", "reason", "queue_deleted")
        .iter()
        .map(|e| msg(e))
        .collect();
    assert_eq!(lost, [1, 2]);
    assert_eq!(t.of_where("removed", "node", "backlog").len(), 1);
    let unroutable = t.of_where("dropped", "reason", "unroutable");
    assert_eq!(
        unroutable.len(),
        1,
        "between the deletion and the new binding"
    );
    assert_eq!(msg(unroutable[0]), 3);
    assert_eq!(
        routes(&t),
        [
            ("events", vec![], vec!["backlog"]),
            ("events", vec![], vec!["backlog"]),
            ("events", vec![], vec!["late"]),
        ]
    );
    assert_eq!(at(t.of("routed")[2]), 2_005_000);
}

#[test]
fn a_classic_queue_can_deliver_a_head_that_expired_at_that_instant() {
    let t = run("amqp-ttl-expired-delivery.json");
    let enq = t.of("enqueued");
    assert_eq!(enq.len(), 1);
    assert_eq!((msg(enq[0]), at(enq[0])), (2, 60_000));
    let expiry = at(enq[0]) + 40_000; // x-message-ttl 40
    let d = t
        .of("delivered")
        .into_iter()
        .find(|e| msg(e) == 2)
        .expect("message 2 is delivered");
    assert!(
        at(d) >= expiry,
        "delivered at {} although it expired at {expiry}",
        at(d)
    );
    assert!(
        t.of("expired").is_empty(),
        "fetched before the expiry check"
    );
    assert_eq!(t.of("acked").len(), 2);
}

#[test]
fn prefetch_1_makes_each_consumer_wait_a_round_trip_per_task() {
    let t = run("amqp-prefetch-throughput.json");
    // With one unacked delivery each, a consumer's next task leaves the broker when its ack
    // arrives: 20 ms there, its processing, 20 ms back. fast: 20 + 5 + 20 = 45 ms apart;
    // slow: 20 + 50 + 20 = 90 ms apart.
    for (consumer, gap) in [("fast", 45_000), ("slow", 90_000)] {
        let departs: Vec<u64> = t
            .of_where("delivered", "consumer", consumer)
            .iter()
            .map(|e| e["depart_us"].as_u64().unwrap())
            .collect();
        assert!(departs.len() > 10, "{consumer}: {}", departs.len());
        assert!(
            departs.windows(2).all(|w| w[1] - w[0] == gap),
            "{consumer}: {departs:?}"
        );
    }
}

#[test]
fn backpressure_a_full_bounded_queue_nacks_and_an_unbounded_one_grows() {
    let t = run("amqp-backpressure.json");
    let most = |queue: &str| {
        t.of_where("enqueued", "queue", queue)
            .iter()
            .map(|e| e["ready"].as_u64().unwrap())
            .max()
            .unwrap_or(0)
    };
    // 100 a second in, 50 out: the backlog grows by about 50 a second.
    assert!(most("unbounded") > 150, "{}", most("unbounded"));
    // x-max-length 200 with reject-publish: never more than 200, and each refused publish is
    // a basic.nack to its producer (publisher confirms), dropped as reject_publish.
    assert_eq!(most("bounded"), 200);
    let nacked = t.of("publish_nacked").len();
    let rejected = t
        .of("dropped")
        .iter()
        .filter(|e| e["reason"] == "reject_publish")
        .count();
    assert!(nacked > 0);
    assert_eq!(nacked, rejected);
    // Three consumers (150 a second) and a producer paced at 45 a second keep up.
    assert!(most("scaled") < 20, "{}", most("scaled"));
    assert!(most("paced") < 5, "{}", most("paced"));
}
