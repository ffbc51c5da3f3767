//! Kernel throughput: simulated events per second on a chain of N forwarding relays.
//!
//! `cargo bench -p switchboard-core --bench kernel`. Each iteration simulates one second of a
//! producer feeding a chain of relays into a sink, draining events as the web app and the CLI do.
//! Criterion reports time per iteration and, through `Throughput::Elements`, events per second.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use switchboard_core::{Scenario, Sim, SimTime};

/// A producer at `rate` messages/s, `relays` relays in a chain, and a sink.
fn chain(relays: usize, rate: u32) -> Scenario {
    let mut nodes = vec![format!(
        r#"{{"id":"p","kind":"producer","config":{{"rate_per_s":{rate},"arrival":"poisson"}}}}"#
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
        r#"{{"version":1,"seed":1,"nodes":[{}],"edges":[{}]}}"#,
        nodes.join(","),
        edges.join(",")
    );
    Scenario::from_json(&doc).expect("valid bench scenario")
}

/// Runs one simulated second in 16 ms slices (one per frame), draining events each slice.
fn run_one_second(s: &Scenario) -> u64 {
    let mut sim = Sim::new(s).unwrap();
    let mut drained = 0usize;
    for frame in 1..=63u64 {
        sim.advance_to(SimTime(frame * 16_000));
        drained += sim.drain_events().len();
    }
    sim.advance_to(SimTime(1_000_000));
    drained += sim.drain_events().len();
    std::hint::black_box(drained);
    sim.steps()
}

fn kernel_throughput(c: &mut Criterion) {
    let mut g = c.benchmark_group("kernel_chain");
    g.sample_size(20);
    for relays in [1usize, 10, 50] {
        // About a million events per iteration whatever the chain length.
        let rate = 500_000 / (relays as u32 + 1);
        let s = chain(relays, rate);
        let steps = run_one_second(&s);
        g.throughput(Throughput::Elements(steps));
        g.bench_with_input(
            BenchmarkId::from_parameter(format!("{relays}_relays")),
            &s,
            |b, s| b.iter(|| run_one_second(s)),
        );
    }
    g.finish();
}

criterion_group!(benches, kernel_throughput);
criterion_main!(benches);
