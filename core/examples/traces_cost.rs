//! What keeping traces costs: runs a scenario file for 10 simulated seconds (in 100 ms
//! batches, draining events as the page does), with traces kept when a second argument is
//! given. Under `valgrind --tool=callgrind` the two instruction counts compare exactly
//! (docs/performance.md, "Traces").
//!
//! `cargo build --release -p switchboard-core --example traces_cost`, then
//! `valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/traces_cost docs/examples/order-journey.json [keep]`.

use switchboard_core::traces::TraceLimits;
use switchboard_core::{Scenario, Sim, SimTime};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: traces_cost SCENARIO.json [keep]");
        std::process::exit(2);
    };
    let keep = args.next().is_some();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let scenario = Scenario::from_json(&text).unwrap_or_else(|d| panic!("{path}:\n{d}"));
    let mut sim = Sim::new(&scenario).expect("valid");
    if keep {
        sim.keep_traces(TraceLimits::default());
    }
    for i in 1..=100 {
        sim.advance_to(SimTime(i * 100_000));
        sim.drain_events().for_each(drop);
    }
    println!("{} steps", sim.steps());
}
