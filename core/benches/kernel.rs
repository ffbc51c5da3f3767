//! Kernel throughput: simulated events per second on a chain of N forwarding relays, and
//! messages per second through an AMQP pipeline, and steps per second of the request-response
//! model on Stability Sim's reference workload.
//!
//! `cargo bench -p switchboard-core --bench kernel`. Each iteration simulates one second of a
//! producer feeding a chain of relays into a sink, draining events as the web app and the CLI do
//! (`fixtures::run_one_second_in_frames`). Criterion reports time per iteration and, through
//! `Throughput::Elements`, events per second. The same workload runs in Chromium via
//! `scripts/bench-wasm.sh`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use switchboard_core::fixtures::{
    amqp_pipeline, http_metastable, kafka_pipeline, relay_chain, run_in_frames,
    run_one_second_in_frames,
};

fn kernel_throughput(c: &mut Criterion) {
    let mut g = c.benchmark_group("kernel_chain");
    g.sample_size(20);
    for relays in [1usize, 10, 50] {
        // About a million events per iteration whatever the chain length.
        let rate = 500_000 / (relays as u32 + 1);
        let s = relay_chain(relays, rate);
        let steps = run_one_second_in_frames(&s);
        g.throughput(Throughput::Elements(steps));
        g.bench_with_input(
            BenchmarkId::from_parameter(format!("{relays}_relays")),
            &s,
            |b, s| b.iter(|| run_one_second_in_frames(s)),
        );
    }
    g.finish();
}

/// The AMQP pipeline: producer → topic exchange → three queues → three acking consumers. Every
/// publish is routed to all three queues. Throughput is counted as RabbitMQ's PerfTest counts
/// "received": messages delivered to a consumer and acked, end to end. The publish rate ("sent")
/// is a third of it, and is printed once with the steps per publish.
fn amqp_throughput(c: &mut Criterion) {
    let mut g = c.benchmark_group("amqp_pipeline");
    g.sample_size(20);
    let s = amqp_pipeline(200_000);
    let mut sim = switchboard_core::Sim::new(&s).expect("valid");
    sim.advance_to(switchboard_core::SimTime(1_000_000));
    sim.check_conservation().expect("conserved");
    let published = sim.metrics().nodes[0].stats.published;
    let acked = sim.totals().consumed;
    eprintln!(
        "amqp_pipeline: per simulated second {published} published, {acked} acked, {} steps \
         ({:.1} per publish)",
        sim.steps(),
        sim.steps() as f64 / published as f64
    );
    g.throughput(Throughput::Elements(acked));
    g.bench_function("topic_fanout_3_acked_msgs", |b| {
        b.iter(|| run_one_second_in_frames(&s))
    });
    g.finish();
}

/// The request-response model on Stability Sim's reference workload
/// (`docs/examples/http-metastable-retry.json`): a whole simulated minute per iteration,
/// metastable failure included. Throughput is agenda steps (entries taken and handled).
fn http_throughput(c: &mut Criterion) {
    let mut g = c.benchmark_group("http_metastable");
    g.sample_size(20);
    let s = http_metastable();
    let steps = run_in_frames(&s, 60);
    eprintln!("http_metastable: {steps} steps per simulated minute");
    g.throughput(Throughput::Elements(steps));
    g.bench_function("60s", |b| b.iter(|| run_in_frames(&s, 60)));
    g.finish();
}

/// The Kafka pipeline (`fixtures::kafka_pipeline`): keyed 1 KB records at 400 k/s into 12
/// partitions kept to 100 MB each, read by a group of 4 consumers committing every 100 records.
/// Each iteration runs simulated seconds 4 to 5, after retention has begun deleting segments
/// (from a snapshot taken at 4 s), so the log is at its steady size. Throughput is records
/// processed end to end.
fn kafka_throughput(c: &mut Criterion) {
    let mut g = c.benchmark_group("kafka_pipeline");
    g.sample_size(10);
    let s = kafka_pipeline(400_000);
    let mut warm = switchboard_core::Sim::new(&s).expect("valid");
    let mut t = 0;
    while t < 4_000_000 {
        t += 16_000;
        warm.advance_to(switchboard_core::SimTime(t));
        warm.drain_events().for_each(drop);
    }
    let processed = |sim: &mut switchboard_core::Sim| {
        let mut n = 0u64;
        let mut t = sim.now().0;
        let end = t + 1_000_000;
        while t < end {
            t += 16_000;
            sim.advance_to(switchboard_core::SimTime(t));
            n += sim
                .drain_events()
                .filter(|e| {
                    matches!(
                        e.kind,
                        switchboard_core::EventKind::Kafka(
                            switchboard_core::kafka::KafkaEvent::Processed { .. }
                        )
                    )
                })
                .count() as u64;
        }
        n
    };
    let n = processed(&mut warm.clone());
    eprintln!("kafka_pipeline: {n} records processed per simulated second (4 s to 5 s)");
    g.throughput(Throughput::Elements(n));
    g.bench_function("1s_after_retention", |b| {
        b.iter_batched(
            || warm.clone(),
            // The run is returned so that criterion drops it outside the measurement: freeing
            // 1.25 M retained records is the end of a benchmark, not of a simulated second.
            |mut sim| {
                let n = processed(&mut sim);
                (n, sim)
            },
            criterion::BatchSize::PerIteration,
        )
    });
    g.finish();
}

/// The BullMQ job pipeline (`fixtures::bullmq_pipeline`): 1 k jobs/s from four producers
/// (no priority, priorities 5 and 10, a 100 ms delay), four workers at concurrency 10, 20 ms
/// attempts, one in ten failing with exponential backoff, `removeOnComplete: 1000`. Each
/// iteration runs simulated seconds 2 to 12 from a snapshot (the completed set full). The
/// throughput is job transitions: the model's events that move a job from one state to
/// another (added, waiting, delayed, active, completed, failed, stalled).
fn bullmq_throughput(c: &mut Criterion) {
    use switchboard_core::bullmq::BullmqEvent;
    let mut g = c.benchmark_group("bullmq_pipeline");
    g.sample_size(10);
    let s = switchboard_core::fixtures::bullmq_pipeline(1000);
    let mut warm = switchboard_core::Sim::new(&s).expect("valid");
    warm.advance_to(switchboard_core::SimTime(2_000_000));
    warm.drain_events().for_each(drop);
    let transitions = |sim: &mut switchboard_core::Sim| {
        let mut n = 0u64;
        let mut t = sim.now().0;
        let end = t + 10_000_000;
        while t < end {
            t += 16_000;
            sim.advance_to(switchboard_core::SimTime(t));
            n += sim
                .drain_events()
                .filter(|e| {
                    matches!(
                        e.kind,
                        switchboard_core::EventKind::Bullmq(
                            BullmqEvent::Added { .. }
                                | BullmqEvent::Waiting { .. }
                                | BullmqEvent::Delayed { .. }
                                | BullmqEvent::Active { .. }
                                | BullmqEvent::Completed { .. }
                                | BullmqEvent::Failed { .. }
                                | BullmqEvent::Stalled { .. }
                        )
                    )
                })
                .count() as u64;
        }
        n
    };
    let n = transitions(&mut warm.clone());
    eprintln!("bullmq_pipeline: {n} job transitions in 10 simulated seconds (2 s to 12 s)");
    g.throughput(Throughput::Elements(n));
    g.bench_function("10s", |b| {
        b.iter_batched(
            || warm.clone(),
            |mut sim| {
                let n = transitions(&mut sim);
                (n, sim)
            },
            criterion::BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(
    benches,
    kernel_throughput,
    amqp_throughput,
    http_throughput,
    kafka_throughput,
    bullmq_throughput
);
criterion_main!(benches);
