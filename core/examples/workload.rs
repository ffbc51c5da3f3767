//! A fixed workload for instruction counts: `valgrind --tool=callgrind` on this binary counts
//! the same instructions on every run of the same build, whatever else the machine is doing,
//! so two builds can be compared where wall-clock times are too noisy (docs/performance.md).
//!
//! `cargo build --release -p switchboard-core --example workload`, then
//! `valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/workload relays`
//! (or `amqp`, `bullmq`, or `stress`).
//!
//! `stress30` is the engine alone on what `switchboard run docs/examples/stress-50-nodes.json
//! --until 30s` does: the same scenario, 30 simulated seconds in the CLI's bounded batches,
//! draining each batch as the CLI does, hashing nothing. `stress30-hash` adds the trace hash
//! (streamed, as the CLI computes it); the CLI's own cost on top is reading the file and the
//! summary. docs/performance.md compares them.

use switchboard_core::fixtures::{amqp_pipeline, relay_chain, run_one_second_in_frames};
use switchboard_core::trace::TraceHash;
use switchboard_core::{Scenario, Sim, SimTime};

/// The stress example to 30 s as `switchboard run` advances it (bounded batches of steps, the
/// events of each drained into one reused buffer), hashing the trace or not.
fn stress_30s_as_the_cli(hash: bool) -> u64 {
    let text = switchboard_core::examples::get("stress-50-nodes").expect("an example");
    let s = Scenario::from_json(text).expect("valid");
    let mut sim = Sim::new(&s).expect("runs");
    let end = SimTime(30_000_000);
    let mut h = TraceHash::default();
    let mut batch = Vec::new();
    let mut events = 0u64;
    loop {
        let adv = sim.advance_to_bounded(end, 100_000);
        batch.clear();
        batch.extend(sim.drain_events());
        events += batch.len() as u64;
        if hash {
            batch.iter().for_each(|e| h.add(e, sim.topology()));
        }
        if adv.reached {
            break;
        }
    }
    if hash {
        println!("{events} events, trace hash {h}");
    } else {
        println!("{events} events");
    }
    sim.steps()
}

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
        // The BullMQ benchmark's pipeline (1,000 jobs a second): ten simulated seconds.
        "bullmq" => {
            let s = switchboard_core::fixtures::bullmq_pipeline(1000);
            let mut sim = Sim::new(&s).expect("runs");
            sim.advance_to(SimTime(10_000_000));
            sim.drain_events().count();
            sim.steps()
        }
        // The 50-node stress example, thirty simulated seconds, as the CLI runs it.
        "stress30" => stress_30s_as_the_cli(false),
        "stress30-hash" => stress_30s_as_the_cli(true),
        other => {
            panic!(
                "unknown workload {other:?}: relays, amqp, bullmq, stress, stress30 or \
                 stress30-hash"
            )
        }
    };
    println!("{which}: {steps} steps");
}
