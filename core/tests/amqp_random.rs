//! Randomized AMQP topologies with random consumer behaviour, checked after every event.
//!
//! Each seed builds a random broker: producers (some `mandatory`, some with publisher
//! confirms), exchanges of every type (alternate exchanges, exchange-to-exchange bindings,
//! cycles), queues with random arguments (TTL, length limits and overflow modes, dead-letter
//! exchanges, priorities, delivery limits, single active consumer, auto-delete, `x-expires`),
//! and consumers with random prefetch, priorities, failure behaviour and crashes. Scripted
//! actions and live commands crash, restart, settle by hand, remove nodes and edges and add new
//! ones, pause and resume consumers, configure consumers and producers, redeclare queues and
//! exchanges (refused with 406 unless only the position changes), and publish poison
//! messages. `run_checked` calls `Sim::check_conservation` after every event, which checks where
//! every message is and the broker's unacked counters against the deliveries actually out.
//!
//! On top of that, each run's trace is checked against RabbitMQ's rules (`docs/amqp.md`) (the
//! `oracle` module): routing against a reference router while the topology is the initial one,
//! mandatory returns, publisher confirms (ack/nack and sequence numbers), delivery tags and
//! settlements, `redelivered`, single active consumer, what follows a settlement or a consumer
//! crash (requeue, dead-letter, quorum delivery limit), TTL, `x-death`, reject-publish limits
//! and delivery order (FIFO, requeue to the original position, priorities, quorum returns
//! first). Every 20 ms of simulated time, no queue may sit on ready messages that a consumer
//! with room could take.
//!
//! The builders of the scenarios and live commands, and the rule checks, are the RabbitMQ
//! model's harness, `tests/common/amqp.rs` and `tests/common/amqp/oracle.rs`; this file is the
//! sweep that drives them, and named tests.
//!
//! The sweep runs seeds `0..SWITCHBOARD_SWEEP_SEEDS` (default 150). A failure names its seed;
//! rerun it alone with `SWITCHBOARD_SEED=<n> cargo test -p switchboard-core --test amqp_random`.
//! `SWITCHBOARD_PRINT_SCENARIO=1` also prints the generated scenario, and
//! `SWITCHBOARD_PRINT_TRACE=1` the trace (add `-- --nocapture`).
//!
//! The tests at the end reproduce, in small scenarios, bugs that the sweep found.

mod common;

use common::amqp::{live_control, live_edit, oracle, parse_random, Gen};
use common::{of_type, run_checked};
use serde_json::Value;
use std::collections::BTreeMap;
use switchboard_core::amqp::Settlement;
use switchboard_core::rng::SimRng;
use switchboard_core::trace::TraceHash;
use switchboard_core::{Command, Sim, SimTime};

/// The event types the sweep must produce, to show that the generator reaches them.
const MUST_OCCUR: &[&str] = &[
    "configured",
    "paused",
    "resumed",
    "routed",
    "enqueued",
    "delivered",
    "acked",
    "nacked",
    "rejected",
    "requeued",
    "expired",
    "dead_lettered",
    "dropped",
    "confirmed",
    "publish_nacked",
    "returned",
    "consumed",
    "queue_deleted",
    "consumer_activated",
    "channel_error",
    "crashed",
    "restarted",
    "removed",
];

/// Drop reasons the sweep must produce.
const MUST_DROP: &[&str] = &[
    "unroutable",
    "returned",
    "reject_publish",
    "maxlen",
    "expired",
    "rejected",
    "delivery_limit",
    "dead_letter_cycle",
    "dead_letter_unroutable",
    "queue_deleted",
    "lost_in_crash",
    "node_down",
];

/// Ways of deleting a queue the sweep must produce.
const MUST_DELETE: &[&str] = &[
    "queue_deleted:deleted",
    "queue_deleted:auto_delete",
    "queue_deleted:x-expires",
    "queue_deleted:exclusive",
];

/// Rule checks of the `oracle` module that the sweep must exercise.
const MUST_CHECK: &[&str] = &[
    "checked: routing against the reference",
    "checked: publisher confirms",
    "checked: what follows a settlement or a crash",
    "checked: delivery tags",
    "checked: delivery order",
    "checked: expiry times",
    "checked: x-death",
];

/// Runs one seed with live commands between checked slices; returns event and drop counts.
fn check_seed(seed: u64) -> BTreeMap<String, u64> {
    let (s, until, mut doc) = parse_random(seed);
    let mut sim = Sim::new(&s).unwrap_or_else(|d| panic!("refused by Sim::new:\n{d}"));
    let mut g = Gen(SimRng::new(seed ^ 0x11fe));
    let topo = sim.topology().clone();
    let mut lines: Vec<String> = sim
        .drain_events()
        .map(|e| switchboard_core::trace::event_line(&e, &topo))
        .collect();
    let mut active: BTreeMap<String, String> = BTreeMap::new();
    oracle::note_active(&mut active, &lines);
    // Live pause, resume, configure and poison publishes, from their own random source.
    let mut controls = Gen(SimRng::new(seed ^ 0xc0f1_6000));
    let slices = 5u64;
    for k in 1..=slices {
        let t = SimTime(until.0 * k / slices);
        // Checked after every event, and every 20 ms that no queue sits on ready messages
        // that a consumer could take.
        let mut at = sim.now();
        while at < t {
            at = SimTime((at.0 + 20_000).min(t.0));
            let from = lines.len();
            lines.extend(run_checked(&mut sim, at, 3_000_000));
            oracle::note_active(&mut active, &lines[from..]);
            if let Err(why) = oracle::no_stall(&sim, &active) {
                panic!("at {at}: {why}");
            }
            if let Err(why) = oracle::consumers_agree(&sim) {
                panic!("at {at}: {why}");
            }
            if controls.p(0.1) {
                live_control(&mut sim, &mut controls, &mut doc);
                sim.check_conservation()
                    .unwrap_or_else(|e| panic!("after a live control at {at}: {e}"));
                drain_noting(&mut sim, &mut lines, &mut active);
            }
        }
        if k < slices {
            live_edit(&mut sim, &mut g, k, &mut doc);
            sim.check_conservation()
                .unwrap_or_else(|e| panic!("after a live command at {t}: {e}"));
            drain_noting(&mut sim, &mut lines, &mut active);
        }
    }
    let t = sim.totals();
    assert_eq!(
        t.created,
        t.live + t.consumed + t.dropped_total(),
        "totals: {t:?}"
    );
    if std::env::var("SWITCHBOARD_PRINT_TRACE").is_ok() {
        for l in &lines {
            println!("{l}");
        }
    }
    let rules = oracle::Doc::new(&doc, until.0 / slices);
    let checked = oracle::check(&rules, &lines)
        .unwrap_or_else(|why| panic!("a RabbitMQ rule is broken: {why}"));
    let mut counts: BTreeMap<String, u64> = checked
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    for ty in MUST_OCCUR {
        counts.insert(ty.to_string(), of_type(&lines, ty).len() as u64);
    }
    for l in of_type(&lines, "queue_deleted") {
        let v: Value = serde_json::from_str(l).expect("a trace line is JSON");
        *counts
            .entry(format!(
                "queue_deleted:{}",
                v["why"].as_str().expect("a why")
            ))
            .or_default() += 1;
    }
    for l in of_type(&lines, "dropped") {
        let v: Value = serde_json::from_str(l).expect("a trace line is JSON");
        *counts
            .entry(format!("drop:{}", v["reason"].as_str().expect("a reason")))
            .or_default() += 1;
    }
    counts
}

/// Drains the run's new events into `lines`, noting consumer activations.
fn drain_noting(sim: &mut Sim, lines: &mut Vec<String>, active: &mut BTreeMap<String, String>) {
    let topo = sim.topology().clone();
    let from = lines.len();
    lines.extend(
        sim.drain_events()
            .map(|e| switchboard_core::trace::event_line(&e, &topo)),
    );
    oracle::note_active(active, &lines[from..]);
}

#[test]
fn random_amqp_topologies_conserve_every_message() {
    let per_seed = common::sweep("amqp_random", 150, check_seed);
    let mut total: BTreeMap<String, u64> = BTreeMap::new();
    for counts in per_seed {
        for (k, v) in counts {
            *total.entry(k).or_default() += v;
        }
    }
    println!("{total:#?}");
    if common::single_seed() {
        return;
    }
    let missing: Vec<&str> = MUST_OCCUR
        .iter()
        .copied()
        .filter(|ty| total.get(*ty).copied().unwrap_or(0) == 0)
        .chain(
            MUST_DELETE
                .iter()
                .copied()
                .filter(|c| total.get(*c).copied().unwrap_or(0) == 0),
        )
        .chain(
            MUST_CHECK
                .iter()
                .copied()
                .filter(|c| total.get(*c).copied().unwrap_or(0) == 0),
        )
        .chain(
            MUST_DROP
                .iter()
                .copied()
                .filter(|r| total.get(&format!("drop:{r}")).copied().unwrap_or(0) == 0),
        )
        .collect();
    assert!(
        missing.is_empty(),
        "the generator never produced {missing:?}: {total:#?}"
    );
}

/// The same scenario and seed give the same trace: twice in one call, and stepping one event at
/// a time (with the checks) gives the same events as advancing in one go; a snapshot taken
/// halfway continues exactly as the original.
#[test]
fn random_amqp_runs_are_deterministic() {
    common::sweep("amqp_random", 6, |seed| {
        let (s, until, _) = parse_random(seed);
        let a = common::trace_hash(&s, seed, until);
        let b = common::trace_hash(&s, seed, until);
        assert_eq!(a, b, "two runs of one scenario differ");

        let mut sim = Sim::new(&s).expect("valid");
        let mut h = TraceHash::default();
        // Events of the construction itself (consumers activated), which `run_checked` only
        // drains once something happens.
        for e in sim.drain_events().collect::<Vec<_>>() {
            h.add(&e, sim.topology());
        }
        let half = SimTime(until.0 / 2);
        for l in run_checked(&mut sim, half, 3_000_000) {
            h.write(l.as_bytes());
            h.write(b"\n");
        }
        let mut twin = sim.snapshot();
        let rest = run_checked(&mut sim, until, 3_000_000);
        let twin_rest = run_checked(&mut twin, until, 3_000_000);
        assert_eq!(rest, twin_rest, "a snapshot diverged from its original");
        for l in rest {
            h.write(l.as_bytes());
            h.write(b"\n");
        }
        assert_eq!(
            h.to_string(),
            a,
            "stepping event by event differs from advancing in one call"
        );
    });
}

// ----- regression tests for bugs the sweep and its rule checks found -----

/// Quorum single active consumer (§1.9): a consumer with a higher priority than the active one
/// takes over once the active one has no unacked messages; RabbitMQ's `rabbit_fifo`
/// (`activate_next_consumer/2`) takes the head of its waiting list, which is sorted by
/// priority. Here `c1` (priority 5) and then `c2` (priority 3) register while `c0` (priority 0)
/// still has its message unacked: `c1` must take over, not the one that registered last.
#[test]
fn quorum_single_active_consumer_hands_over_to_the_highest_priority_waiting_consumer() {
    let s = common::scenario(
        r#"{"version":1,"nodes":[
          {"id":"p","kind":"producer","config":{"rate_per_s":0}},
          {"id":"q","kind":"queue","config":{"arguments":
            {"x-queue-type":"quorum","x-single-active-consumer":true}}},
          {"id":"c0","kind":"consumer","config":{"processing":"500ms"}},
          {"id":"c1","kind":"consumer","config":{"arguments":{"x-priority":5}}},
          {"id":"c2","kind":"consumer","config":{"arguments":{"x-priority":3}}}],
        "edges":[{"from":"p","to":"q"},{"from":"q","to":"c0"}],
        "actions":[{"at":"0s","do":"publish","node":"p"},
          {"at":"100ms","do":"add_edge","edge":{"from":"q","to":"c1"}},
          {"at":"200ms","do":"add_edge","edge":{"from":"q","to":"c2"}},
          {"at":"1s","do":"publish","node":"p"}]}"#,
    );
    let mut sim = Sim::new(&s).expect("valid");
    let topo = sim.topology().clone();
    let mut lines: Vec<String> = sim
        .drain_events()
        .map(|e| switchboard_core::trace::event_line(&e, &topo))
        .collect();
    lines.extend(run_checked(&mut sim, SimTime(2_000_000), 10_000));
    let activated: Vec<String> = of_type(&lines, "consumer_activated")
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["consumer"].to_string())
        .collect();
    assert_eq!(activated, [r#""c0""#, r#""c1""#], "{lines:#?}");
}

/// A manual settlement of an `auto_ack` delivery (§1.9): the broker forgot the message when it
/// sent it, so its tag is unknown (406 PRECONDITION_FAILED), and nothing may be requeued or
/// dead-lettered. Scripted actions refuse this at validation; the live command must too, or
/// end in a channel error. Here `c` (auto_ack, 1 s per message) holds tag 2 in its buffer when
/// a live `reject(requeue)` for it arrives.
#[test]
fn live_settle_on_an_auto_ack_consumer_is_refused() {
    let s = common::scenario(
        r#"{"version":1,"nodes":[
          {"id":"p","kind":"producer","config":{"rate_per_s":0}},
          {"id":"q","kind":"queue"},
          {"id":"c","kind":"consumer","config":{"auto_ack":true,"processing":"1s"}}],
        "edges":[{"from":"p","to":"q"},{"from":"q","to":"c"}],
        "actions":[{"at":"0s","do":"publish","node":"p"},
                   {"at":"0s","do":"publish","node":"p"}]}"#,
    );
    let mut sim = Sim::new(&s).expect("valid");
    let mut lines = run_checked(&mut sim, SimTime(200_000), 10_000);
    let c = sim.topology().node_id("c").expect("c");
    let refused = sim
        .apply(Command::Settle {
            node: c,
            how: Settlement::Reject { requeue: true },
            delivery_tag: Some(2),
            multiple: false,
        })
        .is_err();
    let topo = sim.topology().clone();
    lines.extend(
        sim.drain_events()
            .map(|e| switchboard_core::trace::event_line(&e, &topo)),
    );
    lines.extend(run_checked(&mut sim, SimTime(3_000_000), 10_000));
    for ty in ["rejected", "requeued"] {
        assert!(
            of_type(&lines, ty).is_empty(),
            "an auto_ack delivery was {ty}: {lines:#?}"
        );
    }
    assert!(
        refused || !of_type(&lines, "channel_error").is_empty(),
        "neither refused nor a channel error: {lines:#?}"
    );
}

/// Single active consumer (§1.9): when the active consumer is cancelled (`basic.cancel`, here a
/// removed consume edge), the next consumer becomes active and the queue delivers its ready
/// messages to it, in order. `c1` (prefetch 1) holds message 1 while 2 and 3 wait; cancelling
/// it at 200 ms makes `c2` active, which must get 2 and 3 then, before 4 (published at 300 ms).
#[test]
fn cancelling_the_active_consumer_hands_the_ready_messages_to_the_next_in_order() {
    let s = common::scenario(
        r#"{"version":1,"nodes":[
          {"id":"p","kind":"producer","config":{"rate_per_s":0}},
          {"id":"q","kind":"queue","config":{"arguments":{"x-single-active-consumer":true}}},
          {"id":"c1","kind":"consumer","config":{"prefetch_count":1,"processing":"1s"}},
          {"id":"c2","kind":"consumer"}],
        "edges":[{"from":"p","to":"q"},{"from":"q","to":"c1"},{"from":"q","to":"c2"}],
        "actions":[{"at":"0s","do":"publish","node":"p"},
          {"at":"0s","do":"publish","node":"p"},
          {"at":"0s","do":"publish","node":"p"},
          {"at":"200ms","do":"remove_edge","from":"q","to":"c1"},
          {"at":"300ms","do":"publish","node":"p"}]}"#,
    );
    let mut sim = Sim::new(&s).expect("valid");
    let lines = run_checked(&mut sim, SimTime(3_000_000), 10_000);
    let to_c2: Vec<(u64, u64)> = of_type(&lines, "delivered")
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["consumer"] == "c2")
        .map(|v| (v["at_us"].as_u64().unwrap(), v["message"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        to_c2,
        [(200_000, 2), (200_000, 3), (350_000, 4)],
        "{lines:#?}"
    );
}
