//! Kernel behaviour: stepping, advancing, forwarding, crashes and commands.

mod common;

use common::{example, of_type, run_checked, scenario};
use switchboard_core::{Command, CommandError, DropReason, MessageTemplate, NodeId, Sim, SimTime};

const MS: u64 = 1_000;

#[test]
fn step_processes_exactly_one_event_and_moves_the_clock_to_it() {
    let s = example("hello.json");
    let mut sim = Sim::new(&s).unwrap();
    assert_eq!(sim.now(), SimTime::ZERO);
    let next = sim.next_event_time().expect("the producer is scheduled");
    assert_eq!(sim.step(), Some(next));
    assert_eq!(sim.steps(), 1);
    assert_eq!(sim.now(), next);
    let kinds: Vec<_> = sim.drain_events().map(|e| e.kind.name()).collect();
    assert_eq!(
        kinds,
        ["published", "sent"],
        "one emit publishes and sends one message"
    );
}

#[test]
fn advance_to_processes_everything_due_and_sets_the_clock() {
    let s = example("hello.json");
    let mut sim = Sim::new(&s).unwrap();
    let adv = sim.advance_to(SimTime(10_000 * MS));
    assert!(adv.reached);
    assert_eq!(sim.now(), SimTime(10_000 * MS));
    assert!(sim.next_event_time().unwrap() > sim.now());
    let t = sim.totals();
    // 5/s for 10 s: a Poisson count near 50; the sink is 300-500 ms away.
    assert!((30..=75).contains(&t.created), "created {}", t.created);
    assert!(t.consumed > 0 && t.consumed <= t.created);
    assert_eq!(t.created, t.consumed + t.live);
}

#[test]
fn a_bounded_advance_stops_at_its_budget() {
    let s = example("hello.json");
    let mut sim = Sim::new(&s).unwrap();
    let adv = sim.advance_to_bounded(SimTime(60_000 * MS), 5);
    assert_eq!(adv.steps, 5);
    assert!(!adv.reached);
    assert!(
        sim.now() < SimTime(60_000 * MS),
        "the clock stays at the last event processed"
    );
}

#[test]
fn relays_hold_for_their_delay_and_forward_round_robin() {
    let s = scenario(
        r#"{"version":1,"nodes":[
            {"id":"p","kind":"producer","config":{"rate_per_s":10,"arrival":"constant","limit":4}},
            {"id":"r","kind":"relay","config":{"delay":"7ms"}},
            {"id":"a","kind":"sink"},{"id":"b","kind":"sink"}],
          "edges":[{"from":"p","to":"r","latency":"3ms"},{"from":"r","to":"a","latency":"1ms"},
                   {"from":"r","to":"b","latency":"1ms"}]}"#,
    );
    let mut sim = Sim::new(&s).unwrap();
    let lines = run_checked(&mut sim, SimTime(2_000 * MS), 1_000);
    // Constant arrival: the first at 0, then every 100 ms, stopping at the limit.
    let published: Vec<_> = of_type(&lines, "published");
    assert_eq!(published.len(), 4);
    assert!(
        published[1].starts_with(r#"{"at_us":100000,"#),
        "{}",
        published[1]
    );
    // Received at 3 ms, forwarded at 10 ms, consumed at 11 ms.
    assert!(lines.iter().any(
        |l| l == r#"{"at_us":3000,"type":"received","message":1,"node":"r","until_us":10000}"#
    ));
    let consumed: Vec<_> = of_type(&lines, "consumed");
    let at_a = consumed
        .iter()
        .filter(|l| l.contains(r#""node":"a""#))
        .count();
    let at_b = consumed
        .iter()
        .filter(|l| l.contains(r#""node":"b""#))
        .count();
    assert_eq!(
        (at_a, at_b),
        (2, 2),
        "alternates between the two outgoing edges"
    );
    assert!(consumed[0].contains(r#""at_us":11000"#) && consumed[0].contains(r#""node":"a""#));
    assert_eq!(sim.totals().consumed, 4);
    assert!(
        sim.next_event_time().is_none(),
        "a spent producer schedules nothing more"
    );
}

#[test]
fn a_crash_loses_what_the_node_holds_and_drops_arrivals_until_restart() {
    let s = example("crash-restart.json");
    let mut sim = Sim::new(&s).unwrap();
    let lines = run_checked(&mut sim, SimTime(5_000 * MS), 1_000);
    let dropped = of_type(&lines, "dropped");
    assert_eq!(dropped.len(), 2, "{dropped:#?}");
    assert!(dropped[0].contains(r#""message":2"#) && dropped[0].contains("lost_in_crash"));
    assert!(dropped[1].contains(r#""message":3"#) && dropped[1].contains("node_down"));
    let consumed = of_type(&lines, "consumed");
    assert_eq!(consumed.len(), 2);
    assert!(
        consumed[1].contains(r#""message":4"#),
        "works again after the restart"
    );
    let t = sim.totals();
    assert_eq!(t.dropped[&DropReason::LostInCrash], 1);
    assert_eq!(t.dropped[&DropReason::NodeDown], 1);
}

#[test]
fn a_crashed_producer_stops_and_resumes_after_restart() {
    let s = example("hello.json");
    let mut sim = Sim::new(&s).unwrap();
    let producer = NodeId(0);
    sim.advance_to(SimTime(1_000 * MS));
    sim.apply(Command::Crash { node: producer }).unwrap();
    let before = sim.totals().created;
    sim.advance_to(SimTime(5_000 * MS));
    assert_eq!(
        sim.totals().created,
        before,
        "no rate-driven publishes while down"
    );
    sim.apply(Command::Restart { node: producer }).unwrap();
    sim.advance_to(SimTime(10_000 * MS));
    assert!(sim.totals().created > before + 5);
    sim.check_conservation().unwrap();
}

#[test]
fn commands_are_checked_and_logged_with_their_step() {
    let s = example("crash-restart.json");
    let mut sim = Sim::new(&s).unwrap();
    assert_eq!(
        sim.apply(Command::Crash { node: NodeId(99) }),
        Err(CommandError::UnknownNode(NodeId(99)))
    );
    let err = sim
        .apply(Command::Publish {
            node: NodeId(2),
            message: MessageTemplate::default(),
        })
        .unwrap_err();
    assert!(err.to_string().contains("\"store\" is a sink"), "{err}");
    assert!(sim.edit_log().is_empty(), "refused commands are not logged");
    sim.step();
    sim.step();
    sim.apply(Command::Publish {
        node: NodeId(0),
        message: MessageTemplate::default(),
    })
    .unwrap();
    let log = sim.edit_log();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].after_step, 2);
    assert_eq!(log[0].at, sim.now());
}

#[test]
fn a_publish_from_a_crashed_producer_is_dropped_not_lost() {
    let s = example("crash-restart.json");
    let mut sim = Sim::new(&s).unwrap();
    sim.apply(Command::Crash { node: NodeId(0) }).unwrap();
    sim.apply(Command::Publish {
        node: NodeId(0),
        message: MessageTemplate::default(),
    })
    .unwrap();
    let kinds: Vec<_> = sim.drain_events().map(|e| e.kind.name()).collect();
    assert_eq!(kinds, ["crashed", "published", "dropped"]);
    sim.check_conservation().unwrap();
}

#[test]
fn scripted_actions_run_after_everything_else_due_at_their_moment() {
    // The producer's constant-rate emissions fall at 0, 100 ms, 200 ms...; the crash is at
    // exactly 200 ms, so the emission due then goes out before the crash takes the node down.
    let s = scenario(
        r#"{"version":1,"nodes":[
            {"id":"p","kind":"producer","config":{"rate_per_s":10,"arrival":"constant"}},
            {"id":"s","kind":"sink"}],
          "edges":[{"from":"p","to":"s","latency":"1ms"}],
          "actions":[{"at":"200ms","do":"crash","node":"p"},
                     {"at":"200ms","do":"publish","node":"p"},
                     {"at":"200ms","do":"restart","node":"p"}]}"#,
    );
    let mut sim = Sim::new(&s).unwrap();
    let lines = run_checked(&mut sim, SimTime(250 * MS), 100);
    let at_200: Vec<&str> = lines
        .iter()
        .filter(|l| l.starts_with(r#"{"at_us":200000,"#))
        .map(|l| {
            l.split(r#""type":""#)
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
        })
        .collect();
    // Emission first, then the actions in document order: crash, publish (dropped), restart.
    assert_eq!(
        at_200,
        [
            "published",
            "sent",
            "crashed",
            "published",
            "dropped",
            "restarted"
        ]
    );
}

#[test]
fn a_producer_restarted_before_its_start_waits_for_it() {
    let s = scenario(
        r#"{"version":1,"nodes":[
            {"id":"p","kind":"producer","config":{"rate_per_s":100,"arrival":"constant","start":"10s"}},
            {"id":"s","kind":"sink"}],
          "edges":[{"from":"p","to":"s"}],
          "actions":[{"at":"1s","do":"crash","node":"p"},{"at":"2s","do":"restart","node":"p"}]}"#,
    );
    let mut sim = Sim::new(&s).unwrap();
    let lines = run_checked(&mut sim, SimTime(10_000 * MS), 1_000);
    let first = of_type(&lines, "published");
    assert_eq!(
        first.len(),
        1,
        "only the one due exactly at the start: {first:?}"
    );
    assert!(
        first[0].starts_with(r#"{"at_us":10000000,"#),
        "{}",
        first[0]
    );
}

#[test]
fn an_oversized_publish_is_refused() {
    let s = example("crash-restart.json");
    let mut sim = Sim::new(&s).unwrap();
    let message = MessageTemplate {
        body_bytes: u32::MAX,
        ..MessageTemplate::default()
    };
    let err = sim
        .apply(Command::Publish {
            node: NodeId(0),
            message,
        })
        .unwrap_err();
    assert_eq!(err, CommandError::BodyTooLarge(u32::MAX));
    assert_eq!(sim.totals().created, 0);
}
