//! Scenario builders shared by benchmarks (native and wasm) and tests.

use crate::scenario::Scenario;

/// A Poisson producer at `rate_per_s` feeding `relays` relays in a chain (1 ms links,
/// exponential 2 ms holds) into a sink. The kernel benchmark's workload.
pub fn relay_chain(relays: usize, rate_per_s: u32) -> Scenario {
    let mut nodes = vec![format!(
        r#"{{"id":"p","kind":"producer","config":{{"rate_per_s":{rate_per_s},"arrival":"poisson"}}}}"#
    )];
    let mut edges = Vec::new();
    let mut prev = "p".to_string();
    for i in 0..relays {
        nodes.push(format!(
            r#"{{"id":"r{i}","kind":"relay","config":{{"delay":{{"dist":"exponential","mean":"2ms"}}}}}}"#
        ));
        edges.push(format!(
            r#"{{"from":"{prev}","to":"r{i}","latency":"1ms"}}"#
        ));
        prev = format!("r{i}");
    }
    nodes.push(r#"{"id":"s","kind":"sink"}"#.into());
    edges.push(format!(r#"{{"from":"{prev}","to":"s","latency":"1ms"}}"#));
    let doc = format!(
        r#"{{"version":1,"name":"relay chain","seed":1,"nodes":[{}],"edges":[{}]}}"#,
        nodes.join(","),
        edges.join(",")
    );
    Scenario::from_json(&doc).expect("a valid chain")
}

/// Runs one simulated second of `scenario` in 16 ms slices, draining events after each slice as
/// the page does per frame. Returns the events processed (steps).
pub fn run_one_second_in_frames(scenario: &Scenario) -> u64 {
    let mut sim = crate::Sim::new(scenario).expect("valid");
    let mut drained = 0usize;
    for frame in 1..=63u64 {
        sim.advance_to(crate::SimTime(frame * 16_000));
        drained += sim.drain_events().len();
    }
    sim.advance_to(crate::SimTime(1_000_000));
    drained += sim.drain_events().len();
    std::hint::black_box(drained);
    sim.steps()
}
