//! Shared harness for the core's behaviour tests: what every model's tests use (running with
//! the conservation check after every event, randomized sweeps that name the failing seed), and
//! one module per model with its builders, its reference checks and its conformance translator
//! (`amqp`). A new model adds `common/<model>.rs` and declares it here.
#![allow(dead_code)]

pub mod amqp;
pub mod data;
pub mod http;
pub mod kafka;

use switchboard_core::trace::event_line;
use switchboard_core::{Scenario, Sim, SimTime};

/// Reads a scenario from `docs/examples/`.
pub fn example(name: &str) -> Scenario {
    let path = format!("{}/../docs/examples/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    Scenario::from_json(&text).unwrap_or_else(|d| panic!("{path}:\n{d}"))
}

/// Parses an inline scenario, panicking with the diagnostics if it is invalid.
pub fn scenario(json: &str) -> Scenario {
    Scenario::from_json(json).unwrap_or_else(|d| panic!("invalid test scenario:\n{d}"))
}

/// Asserts that `doc` is refused with a diagnostic at `path` (or under it) that says `says`.
pub fn refused(doc: &serde_json::Value, path: &str, says: &str) {
    let d = match Scenario::from_json(&doc.to_string()) {
        Ok(_) => panic!("accepted: {doc}"),
        Err(d) => d.to_string(),
    };
    assert!(
        d.lines().any(|l| l.starts_with(path) && l.contains(says)),
        "expected {path:?} saying {says:?}, got:\n{d}"
    );
}

/// Steps `sim` one event at a time up to `until`, checking conservation after every event, and
/// returns the trace lines. Bounded by `max_steps`.
pub fn run_checked(sim: &mut Sim, until: SimTime, max_steps: u64) -> Vec<String> {
    let mut lines = Vec::new();
    sim.check_conservation().expect("conserved at start");
    while sim.next_event_time().is_some_and(|t| t <= until) {
        assert!(
            sim.steps() < max_steps,
            "step budget of {max_steps} exhausted"
        );
        sim.step();
        if let Err(e) = sim.check_conservation() {
            panic!("after step {} at {}: {e}", sim.steps(), sim.now());
        }
        let batch: Vec<_> = sim.drain_events().collect();
        lines.extend(batch.iter().map(|e| event_line(e, sim.topology())));
    }
    sim.advance_to(until);
    lines
}

/// Runs `s` to `until` (checking conservation after every event when `checked`), returning
/// every event and the simulation. Bounded by 50 M steps.
pub fn run_events(
    s: &Scenario,
    until: SimTime,
    checked: bool,
) -> (Vec<switchboard_core::Event>, Sim) {
    let mut sim = Sim::new(s).expect("valid");
    let mut events = Vec::new();
    if checked {
        sim.check_conservation().expect("conserved at start");
        while sim.next_event_time().is_some_and(|t| t <= until) {
            assert!(sim.steps() < 50_000_000, "step budget exhausted");
            sim.step();
            if let Err(e) = sim.check_conservation() {
                panic!("after step {} at {}: {e}", sim.steps(), sim.now());
            }
            events.extend(sim.drain_events());
        }
    }
    sim.advance_to(until);
    events.extend(sim.drain_events());
    (events, sim)
}

/// The trace hash of a whole run to `until`, advancing in one call.
pub fn trace_hash(scenario: &Scenario, seed: u64, until: SimTime) -> String {
    switchboard_core::trace::hash_of_run(scenario, seed, until)
        .expect("valid")
        .to_string()
}

/// Lines of a trace whose `"type"` is `ty`.
pub fn of_type<'a>(lines: &'a [String], ty: &str) -> Vec<&'a String> {
    let needle = format!("\"type\":\"{ty}\"");
    lines.iter().filter(|l| l.contains(&needle)).collect()
}

/// True when `SWITCHBOARD_SEED` picks a single seed to reproduce.
pub fn single_seed() -> bool {
    std::env::var("SWITCHBOARD_SEED").is_ok()
}

/// Runs `check` for each seed of a randomized sweep and returns the results in seed order.
///
/// Seeds are `0..SWITCHBOARD_SWEEP_SEEDS` (default `default_seeds`), or just `SWITCHBOARD_SEED`.
/// If a seed panics, the sweep fails naming that seed and the command that reproduces it.
pub fn sweep<T>(test: &str, default_seeds: u64, check: impl Fn(u64) -> T) -> Vec<T> {
    use std::panic::{catch_unwind, AssertUnwindSafe};
    let env = |k: &str| {
        std::env::var(k).ok().map(|v| {
            v.parse::<u64>()
                .unwrap_or_else(|_| panic!("{k} must be an integer"))
        })
    };
    let seeds: Vec<u64> = match env("SWITCHBOARD_SEED") {
        Some(one) => vec![one],
        None => (0..env("SWITCHBOARD_SWEEP_SEEDS").unwrap_or(default_seeds)).collect(),
    };
    seeds
        .into_iter()
        .map(|seed| {
            catch_unwind(AssertUnwindSafe(|| check(seed))).unwrap_or_else(|e| {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                panic!(
                    "{test}: seed {seed} failed: {msg}\nreproduce: SWITCHBOARD_SEED={seed} cargo test -p switchboard-core --test {test}"
                )
            })
        })
        .collect()
}
