//! Nothing vanishes: random topologies, random faults, the conservation check after every event.
//!
//! The sweep runs seeds `0..SWITCHBOARD_SWEEP_SEEDS` (default 150). A failure names its seed;
//! rerun just that one with `SWITCHBOARD_SEED=<n> cargo test -p switchboard-core --test conservation`.

mod common;

use common::run_checked;
use switchboard_core::dist::DurationDist;
use switchboard_core::rng::SimRng;
use switchboard_core::scenario::{
    Action, ActionSpec, Arrival, EdgeSpec, NodeKind, NodeSpec, ProducerConfig, RelayConfig,
    SinkConfig,
};
use switchboard_core::{Command, MessageTemplate, NodeId, Scenario, Sim, SimDuration, SimTime};

fn dist(rng: &mut SimRng, max_ms: u64) -> DurationDist {
    let a = SimDuration(rng.range_inclusive(0, max_ms * 1_000));
    match rng.range_inclusive(0, 2) {
        0 => DurationDist::constant(a),
        1 => DurationDist::Uniform {
            min: SimDuration(a.0 / 2),
            max: a,
        },
        _ => DurationDist::Exponential { mean: a },
    }
}

/// A random valid scenario: producers, relays (cycles allowed) and sinks, with scripted faults.
fn random_scenario(seed: u64) -> Scenario {
    let mut rng = SimRng::new(seed ^ 0x5eed);
    let producers = rng.range_inclusive(1, 3) as usize;
    let relays = rng.range_inclusive(0, 6) as usize;
    let sinks = rng.range_inclusive(1, 3) as usize;
    let mut nodes = Vec::new();
    for i in 0..producers {
        nodes.push(NodeSpec {
            id: format!("p{i}"),
            kind: NodeKind::Producer(ProducerConfig {
                rate_per_s: rng.range_inclusive(0, 300) as f64,
                arrival: if rng.chance(0.5) {
                    Arrival::Poisson
                } else {
                    Arrival::Constant
                },
                limit: rng.chance(0.3).then(|| rng.range_inclusive(0, 100)),
                start: SimDuration(rng.range_inclusive(0, 500_000)),
                message: MessageTemplate::default(),
                mandatory: false,
                publisher_confirms: false,
            }),
            position: None,
        });
    }
    for i in 0..relays {
        nodes.push(NodeSpec {
            id: format!("r{i}"),
            kind: NodeKind::Relay(RelayConfig {
                delay: dist(&mut rng, 50),
            }),
            position: None,
        });
    }
    for i in 0..sinks {
        nodes.push(NodeSpec {
            id: format!("s{i}"),
            kind: NodeKind::Sink(SinkConfig {}),
            position: None,
        });
    }
    let targets: Vec<String> = nodes[producers..].iter().map(|n| n.id.clone()).collect();
    let mut edges = Vec::new();
    for from in nodes
        .iter()
        .filter(|n| !matches!(n.kind, NodeKind::Sink(_)))
    {
        let mut picked: Vec<&String> = Vec::new();
        for _ in 0..rng.range_inclusive(1, 3) {
            let to = &targets[rng.range_inclusive(0, targets.len() as u64 - 1) as usize];
            if *to != from.id && !picked.contains(&to) {
                picked.push(to);
                edges.push(EdgeSpec {
                    latency: Some(dist(&mut rng, 30)),
                    ..EdgeSpec::new(from.id.clone(), to.clone())
                });
            }
        }
        if picked.is_empty() {
            // Every relay and producer needs a way out: the first sink always works.
            let sink = format!("s{}", 0);
            edges.push(EdgeSpec {
                latency: Some(dist(&mut rng, 30)),
                ..EdgeSpec::new(from.id.clone(), sink)
            });
        }
    }
    let mut actions = Vec::new();
    for _ in 0..rng.range_inclusive(0, 12) {
        let node = nodes[rng.range_inclusive(0, nodes.len() as u64 - 1) as usize]
            .id
            .clone();
        let at = SimTime(rng.range_inclusive(0, 3_000_000));
        let action = match rng.range_inclusive(0, 2) {
            0 if node.starts_with('p') => Action::Publish {
                node,
                message: MessageTemplate::default(),
            },
            0 | 1 => Action::Crash { node },
            _ => Action::Restart { node },
        };
        actions.push(ActionSpec { at, action });
    }
    Scenario {
        version: switchboard_core::scenario::FORMAT_VERSION,
        view: None,
        name: format!("random {seed}"),
        description: String::new(),
        seed,
        nodes,
        edges,
        actions,
        policies: Vec::new(),
        operator_policies: Vec::new(),
        tour: None,
    }
}

/// Runs one random scenario with live commands, checking after every event; returns how many
/// messages it created.
fn check_seed(seed: u64) -> u64 {
    let s = random_scenario(seed);
    let mut sim =
        Sim::new(&s).unwrap_or_else(|d| panic!("generator made an invalid scenario:\n{d}"));
    let mut rng = SimRng::new(seed);
    let n = s.nodes.len() as u64;
    // Interleave live commands with checked runs.
    for slice in 1..=6u64 {
        run_checked(&mut sim, SimTime(slice * 500_000), 400_000);
        let node = NodeId(rng.range_inclusive(0, n - 1) as u32);
        let cmd = match rng.range_inclusive(0, 2) {
            0 => Command::Crash { node },
            1 => Command::Restart { node },
            _ => Command::Publish {
                node,
                message: MessageTemplate::default(),
            },
        };
        let _ = sim.apply(cmd); // a publish at a non-producer is refused, which is fine
        sim.check_conservation()
            .unwrap_or_else(|e| panic!("after a command: {e}"));
    }
    let t = sim.totals();
    assert_eq!(t.created, t.live + t.consumed + t.dropped_total());
    t.created
}

#[test]
fn conservation_holds_after_every_event_across_a_seed_sweep() {
    let created: u64 = common::sweep("conservation", 150, check_seed)
        .into_iter()
        .sum();
    if !common::single_seed() {
        assert!(
            created > 1_000,
            "the sweep must actually move messages ({created})"
        );
    }
}
