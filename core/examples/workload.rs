//! A fixed workload for instruction counts: `valgrind --tool=callgrind` on this binary counts
//! the same instructions on every run of the same build, whatever else the machine is doing,
//! so two builds can be compared where wall-clock times are too noisy (docs/performance.md).
//!
//! `cargo build --release -p switchboard-core --example workload`, then
//! `valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/workload relays`
//! (or `amqp`, or `stress`).

use switchboard_core::fixtures::{amqp_pipeline, relay_chain, run_one_second_in_frames};
use switchboard_core::{Scenario, Sim, SimTime};

fn main() {
    let which = std::env::args().nth(1).unwrap_or_else(|| "relays".into());
    let steps = match which.as_str() {
        // Ten relays, as the kernel benchmark's middle case: one simulated second.
        "relays" => run_one_second_in_frames(&relay_chain(10, 500_000 / 11)),
        // The AMQP benchmark's pipeline: one simulated second.
        "amqp" => run_one_second_in_frames(&amqp_pipeline(200_000)),
        // The 50-node stress example, ten simulated seconds.
        "stress" => {
            let text = switchboard_core::examples::get("stress-50-nodes").expect("an example");
            let s = Scenario::from_json(text).expect("valid");
            let mut sim = Sim::new(&s).expect("runs");
            sim.advance_to(SimTime(10_000_000));
            sim.drain_events().count();
            sim.steps()
        }
        other => panic!("unknown workload {other:?}: relays, amqp or stress"),
    };
    println!("{which}: {steps} steps");
}
