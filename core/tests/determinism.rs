//! Determinism: the same scenario, seed and edits give the same trace, however the run is driven.

mod common;

use common::{example, run_checked, trace_hash};
use switchboard_core::trace::TraceHash;
use switchboard_core::{Command, MessageTemplate, NodeId, Sim, SimTime};

const S: u64 = 1_000_000;

#[test]
fn same_seed_same_trace_hash_different_seed_different_hash() {
    for name in ["hello.json", "relay-chain.json", "crash-restart.json"] {
        let s = example(name);
        let a = trace_hash(&s, 11, SimTime(30 * S));
        let b = trace_hash(&s, 11, SimTime(30 * S));
        assert_eq!(a, b, "{name}: two runs with one seed differ");
    }
    let s = example("hello.json");
    assert_ne!(
        trace_hash(&s, 1, SimTime(30 * S)),
        trace_hash(&s, 2, SimTime(30 * S))
    );
}

#[test]
fn stepping_and_advancing_give_the_same_trace() {
    let s = example("relay-chain.json");
    let mut stepped = Sim::new(&s).unwrap();
    let lines = run_checked(&mut stepped, SimTime(15 * S), 100_000);
    let mut h = TraceHash::default();
    for l in &lines {
        h.write(l.as_bytes());
        h.write(b"\n");
    }
    assert_eq!(h.to_string(), trace_hash(&s, s.seed, SimTime(15 * S)));
}

#[test]
fn a_snapshot_continues_exactly_like_the_original() {
    let s = example("hello.json");
    let mut sim = Sim::new(&s).unwrap();
    sim.advance_to(SimTime(3 * S));
    sim.drain_events().for_each(drop);
    let mut fork = sim.snapshot();
    sim.advance_to(SimTime(20 * S));
    fork.advance_to(SimTime(20 * S));
    let a: Vec<_> = sim.drain_events().collect();
    let b: Vec<_> = fork.drain_events().collect();
    assert!(!a.is_empty());
    assert_eq!(a, b);
}

#[test]
fn replaying_the_edit_log_reproduces_the_run() {
    let s = example("hello.json");
    let mut sim = Sim::new(&s).unwrap();
    // Edits between events that share an instant, after steps, and after advances.
    sim.step();
    sim.apply(Command::Publish {
        node: NodeId(0),
        message: MessageTemplate::default(),
    })
    .unwrap();
    sim.advance_to(SimTime(2 * S));
    sim.apply(Command::Crash { node: NodeId(1) }).unwrap();
    for _ in 0..7 {
        sim.step();
    }
    sim.apply(Command::Restart { node: NodeId(1) }).unwrap();
    sim.advance_to(SimTime(9 * S));
    let replayed = Sim::replay(&s, s.seed, sim.edit_log(), SimTime(9 * S)).unwrap();
    assert_eq!(replayed.steps(), sim.steps());
    assert_eq!(replayed.metrics(), sim.metrics());
    assert!(
        sim.metrics().messages.dropped_total() > 0,
        "the crash had a visible effect"
    );
}

#[test]
fn an_inconsistent_edit_log_is_an_error_not_a_panic() {
    use switchboard_core::{Edit, ReplayError};
    let s = example("hello.json");
    let crash = Command::Crash { node: NodeId(1) };
    let edit = |at: u64, after_step: u64, command: &Command| Edit {
        at: SimTime(at),
        after_step,
        command: command.clone(),
    };
    let replay = |edits: &[Edit]| Sim::replay(&s, s.seed, edits, SimTime(10 * S));
    // Beyond the end of the run: the producer's events never reach a billion steps in 10 s.
    assert!(matches!(
        replay(&[edit(0, 1_000_000_000, &crash)]),
        Err(ReplayError::Inconsistent { index: 0, .. })
    ));
    // At a time later than the event it should precede.
    assert!(matches!(
        replay(&[edit(9 * S, 0, &crash)]),
        Err(ReplayError::Inconsistent { index: 0, .. })
    ));
    // Out of order.
    let ok = edit(0, 0, &crash);
    let mut sim = Sim::new(&s).unwrap();
    sim.advance_to(SimTime(S));
    let later = Edit {
        at: sim.now(),
        after_step: sim.steps(),
        command: crash.clone(),
    };
    assert!(replay(&[ok.clone(), later.clone()]).is_ok());
    assert!(matches!(
        replay(&[later, ok]),
        Err(ReplayError::Inconsistent { index: 1, .. })
    ));
    // A command the run refuses.
    let bad = Command::Crash { node: NodeId(42) };
    assert!(matches!(
        replay(&[edit(0, 0, &bad)]),
        Err(ReplayError::Refused { index: 0, .. })
    ));
}

/// A reviewed snapshot of a short trace. If it changes, read the diff: it is a behaviour change.
/// Update with `UPDATE_EXPECT=1 cargo test -p switchboard-core --test determinism`.
#[test]
fn crash_restart_trace_snapshot() {
    let s = example("crash-restart.json");
    let mut sim = Sim::new(&s).unwrap();
    let lines = run_checked(&mut sim, SimTime(4 * S), 1_000);
    expect_test::expect_file!["snapshots/crash-restart.ndjson"]
        .assert_eq(&(lines.join("\n") + "\n"));
}
