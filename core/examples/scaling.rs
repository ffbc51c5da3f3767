//! Scaling curves: what a run costs as a user grows the work. Five sweeps, each printed as a
//! Markdown table for `docs/performance.md`:
//!
//! - **topology size**, 8 to 10,000 nodes (`fixtures::grown`, the same total rate): startup
//!   (`Sim::new`, validation included), cost per event and the peak heap of a run;
//! - **message rate**, 1 k to 300 k messages/s: cost per event and the peak heap of a run;
//! - **backlog**, a queue nobody consumes filling to 1 M messages: cost per event as it grows,
//!   and bytes per queued message;
//! - **simulated duration**, to 600 s at 5 k messages/s with one message parked in a queue
//!   nobody consumes: heap in use, the ledger's size, and what `metrics()` costs;
//! - **bindings**, a topic and a direct exchange with 10 to 10,000 bindings of which one
//!   matches: cost per publish, startup and the peak heap of a run.
//!
//! Memory is counted by a counting allocator (bytes in use and the peak), not read from the
//! OS. Times are wall-clock medians of several runs; the machine is noisy, so compare within
//! one run. `cargo run --release -p switchboard-core --example scaling [sweep…]`.
//! For a profiler (`valgrind --tool=callgrind`, `perf record`): `PROFILE_NODES=n` runs only the
//! cost-per-event measurement at `n` nodes (`PROFILE_SECS` simulated seconds after the first,
//! 4 unless set; two runs of different lengths subtract to the stepping alone),
//! `PROFILE_STARTUP=n` only five `Sim::new` of `n`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;
use switchboard_core::fixtures::{grown, parked_and_busy};
use switchboard_core::{Scenario, Sim, SimTime};

/// The system allocator, counting bytes in use and their peak.
struct Counting;
static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// Allocations made so far (calls, not bytes): counted, so the same on every machine.
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        ALLOCS.fetch_add(1, Relaxed);
        if !p.is_null() {
            let now = IN_USE.fetch_add(l.size(), Relaxed) + l.size();
            PEAK.fetch_max(now, Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        IN_USE.fetch_sub(l.size(), Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn mb(bytes: usize) -> f64 {
    bytes as f64 / 1e6
}

/// What `f` adds to the heap at its peak, in bytes: the peak in use while it runs, less what
/// was in use before it started.
fn peak_added(f: impl FnOnce()) -> usize {
    let before = IN_USE.load(Relaxed);
    PEAK.store(before, Relaxed);
    f();
    PEAK.load(Relaxed) - before
}

/// The median of `runs` timings of `f`, in seconds.
fn median(runs: usize, mut f: impl FnMut() -> f64) -> f64 {
    let mut v: Vec<f64> = (0..runs).map(|_| f()).collect();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Nanoseconds per event over `sim_s` simulated seconds of `s` (after one warm-up second).
fn ns_per_event(s: &Scenario, sim_s: u64) -> f64 {
    measured(s, sim_s).0
}

/// Runs `s` for a simulated second, then `sim_s` more in 16 ms slices, drained after each, as
/// the page's frames do: the wall-clock ns and the allocations per event of that part, and
/// how many events it was.
fn measured(s: &Scenario, sim_s: u64) -> (f64, f64, u64) {
    let mut sim = Sim::new(s).expect("valid");
    sim.advance_to(SimTime(1_000_000));
    sim.drain_events().for_each(drop);
    let (steps, allocs, t) = (sim.steps(), ALLOCS.load(Relaxed), Instant::now());
    for i in 0..sim_s * 1_000 / 16 {
        sim.advance_to(SimTime(1_000_000 + (i + 1) * 16_000));
        sim.drain_events().for_each(drop);
    }
    let (elapsed, allocs) = (t.elapsed(), ALLOCS.load(Relaxed) - allocs);
    let events = (sim.steps() - steps).max(1);
    let per = |x: f64| x / events as f64;
    (per(elapsed.as_secs_f64() * 1e9), per(allocs as f64), events)
}

fn topology_size() {
    println!("\n| nodes | edges | startup (Sim::new) | per node | validation alone | build alone | cost per event | allocations per event | peak heap of a run |\n|---|---|---|---|---|---|---|---|---|");
    for n in [8usize, 80, 800, 2_000, 4_000, 10_000] {
        let s = grown(n, 10_000.0);
        let startup = median(5, || {
            let t = Instant::now();
            let sim = Sim::new(&s).expect("valid");
            let e = t.elapsed().as_secs_f64();
            drop(sim);
            e
        });
        // Built from a document already validated, as `switchboard run` does after parsing.
        let validated = Scenario::from_json_validated(&s.to_json_pretty()).expect("valid");
        let build = median(5, || {
            let t = Instant::now();
            let sim = Sim::from_validated(&validated, s.seed);
            let e = t.elapsed().as_secs_f64();
            drop(sim);
            e
        });
        // Validation alone, as the page runs it on every edit (`check_draft`).
        let validate = median(5, || {
            let t = Instant::now();
            s.check_draft().expect("valid");
            t.elapsed().as_secs_f64()
        });
        let ns = median(3, || ns_per_event(&s, 2));
        let mut allocs = 0.0;
        let peak = peak_added(|| {
            allocs = measured(&s, 2).1;
        });
        println!(
            "| {} | {} | {:.2} ms | {:.2} µs | {:.2} ms | {:.2} ms | {ns:.0} ns | {allocs:.2} | {:.1} MB |",
            s.nodes.len(),
            s.edges.len(),
            startup * 1e3,
            startup * 1e6 / s.nodes.len() as f64,
            validate * 1e3,
            build * 1e3,
            mb(peak)
        );
    }
}

fn message_rate() {
    println!("\n| messages/s (80 nodes) | cost per event | peak heap of a run |\n|---|---|---|");
    for rate in [1_000.0, 10_000.0, 100_000.0, 300_000.0] {
        let s = grown(80, rate);
        let secs = if rate > 50_000.0 { 1 } else { 4 };
        let per_event = median(3, || ns_per_event(&s, secs));
        let peak = peak_added(|| {
            ns_per_event(&s, secs);
        });
        println!("| {rate:.0} | {per_event:.0} ns | {:.1} MB |", mb(peak));
    }
}

/// A producer at `rate` publishing to a queue nobody consumes.
fn backlog_scenario(rate: u32) -> Scenario {
    Scenario::from_json(&format!(
        r#"{{"version":2,"name":"backlog","seed":1,
        "nodes":[{{"id":"p","kind":"producer","config":{{"rate_per_s":{rate},"message":{{"body_bytes":100}}}}}},
                 {{"id":"q","kind":"queue"}}],
        "edges":[{{"from":"p","to":"q","latency":"1ms"}}]}}"#
    ))
    .expect("valid")
}

fn backlog() {
    println!(
        "\nsize_of: Envelope {} bytes (boxed in a queue), Fate {} bytes",
        std::mem::size_of::<switchboard_core::Envelope>(),
        std::mem::size_of::<switchboard_core::Fate>()
    );
    println!("\n| backlog (messages queued) | cost per event since the last row | heap in use | bytes per queued message |\n|---|---|---|---|");
    let s = backlog_scenario(100_000);
    let before = IN_USE.load(Relaxed);
    let mut sim = Sim::new(&s).expect("valid");
    let base = IN_USE.load(Relaxed) - before;
    let mut t_prev = 0u64;
    for target in [10_000u64, 100_000, 1_000_000] {
        let (steps, t) = (sim.steps(), Instant::now());
        let until = target * 10 + 1_000; // µs at 100 k/s, plus the first hop
        while sim.now().0 < until {
            let next = (sim.now().0 + 100_000).min(until);
            sim.advance_to(SimTime(next));
            sim.drain_events().for_each(drop);
        }
        let ns = t.elapsed().as_secs_f64() * 1e9 / (sim.steps() - steps).max(1) as f64;
        let queued = sim.metrics().nodes[1].queue().map_or(0, |q| q.ready);
        let heap = IN_USE.load(Relaxed) - before - base;
        println!(
            "| {queued} | {ns:.0} ns | {:.1} MB | {:.0} |",
            mb(heap),
            heap as f64 / queued.max(1) as f64
        );
        t_prev = target;
    }
    let _ = t_prev;
}

fn duration() {
    println!("\n| simulated time (5 k/s, one message parked) | messages so far | heap in use | fates in the ledger | metrics() |\n|---|---|---|---|---|");
    let s = parked_and_busy();
    let before = IN_USE.load(Relaxed);
    let mut sim = Sim::new(&s).expect("valid");
    for at in [1u64, 60, 300, 600] {
        while sim.now().0 < at * 1_000_000 {
            let next = (sim.now().0 + 100_000).min(at * 1_000_000);
            sim.advance_to(SimTime(next));
            sim.drain_events().for_each(drop);
        }
        let m = median(21, || {
            let t = Instant::now();
            let m = sim.metrics();
            let e = t.elapsed().as_secs_f64();
            drop(m);
            e
        });
        println!(
            "| {at} s | {} | {:.2} MB | {} | {:.1} µs |",
            sim.metrics().messages.created,
            mb(IN_USE.load(Relaxed) - before),
            sim.ledger_len(),
            m * 1e6
        );
    }
}

/// The Kafka pipeline (`fixtures::kafka_pipeline`): records appended and processed per
/// wall-clock second, natively on one core, and the heap as retention starts deleting.
fn kafka() {
    use switchboard_core::fixtures::kafka_pipeline;
    println!("\n| simulated time (400 k records/s) | appended | processed | wall time | records/s appended and processed | heap in use | records in the log |\n|---|---|---|---|---|---|---|");
    let s = kafka_pipeline(400_000);
    let before = IN_USE.load(Relaxed);
    let mut sim = Sim::new(&s).expect("valid");
    let (mut appended, mut processed) = (0u64, 0u64);
    let mut wall = 0.0;
    for at in [1u64, 2, 4, 6, 8, 10] {
        let t = Instant::now();
        while sim.now().0 < at * 1_000_000 {
            let next = (sim.now().0 + 16_000).min(at * 1_000_000);
            sim.advance_to(SimTime(next));
            for e in sim.drain_events() {
                match e.kind {
                    switchboard_core::EventKind::Kafka(
                        switchboard_core::kafka::KafkaEvent::Appended(_),
                    ) => appended += 1,
                    switchboard_core::EventKind::Kafka(
                        switchboard_core::kafka::KafkaEvent::Processed { .. },
                    ) => processed += 1,
                    _ => {}
                }
            }
        }
        wall += t.elapsed().as_secs_f64();
        let records: u64 = match sim.metrics().nodes[1].kafka() {
            Some(switchboard_core::kafka::KafkaMetrics::Topic(t)) => {
                t.partitions.iter().map(|p| p.records).sum()
            }
            _ => 0,
        };
        println!(
            "| {at} s | {appended} | {processed} | {wall:.2} s | {:.2} M | {:.0} MB | {records} |",
            (appended.min(processed)) as f64 / wall / 1e6,
            mb(IN_USE.load(Relaxed) - before),
        );
    }
}

/// A producer publishing at 50 k/s to one exchange of `ty` with `n` bindings (to up to 1,000
/// queues), of which exactly one matches; the queue it reaches is consumed.
fn bindings_scenario(ty: &str, n: usize) -> Scenario {
    let mut nodes = vec![
        format!(
            r#"{{"id":"p","kind":"producer","config":{{"rate_per_s":50000,"message":{{"routing_key":"orders.eu.created"}}}}}}"#
        ),
        format!(r#"{{"id":"x","kind":"exchange","config":{{"type":"{ty}"}}}}"#),
        r#"{"id":"c","kind":"consumer","config":{"prefetch_count":1000,"processing":"1us"}}"#
            .into(),
    ];
    let mut edges = vec![r#"{"from":"p","to":"x","latency":"10us"}"#.to_string()];
    // At most 1,000 queues (the node limit is 10,000): bindings differ by their keys.
    for i in 0..n.min(1_000) {
        nodes.push(format!(r#"{{"id":"q{i}","kind":"queue"}}"#));
    }
    for i in 0..n {
        let key = match (ty, i) {
            ("topic", 0) => "orders.*.created".to_owned(),
            ("topic", _) => format!("orders.r{i}.#"),
            (_, 0) => "orders.eu.created".to_owned(),
            _ => format!("orders.r{i}.created"),
        };
        edges.push(format!(
            r#"{{"from":"x","to":"q{}","routing_key":"{key}"}}"#,
            i % 1_000
        ));
    }
    edges.push(r#"{"from":"q0","to":"c","latency":"10us"}"#.into());
    Scenario::from_json(&format!(
        r#"{{"version":2,"name":"bindings","seed":1,"nodes":[{}],"edges":[{}]}}"#,
        nodes.join(","),
        edges.join(",")
    ))
    .expect("valid")
}

fn bindings() {
    println!("\n| bindings (one matches) | topic: ns per publish | direct: ns per publish | topic: startup | direct: startup | topic: peak heap of a run | direct: peak heap of a run |\n|---|---|---|---|---|---|---|");
    for n in [10usize, 100, 1_000, 10_000] {
        let one_run = |s: &Scenario| {
            let mut sim = Sim::new(s).expect("valid");
            sim.advance_to(SimTime(200_000));
            sim.drain_events().for_each(drop);
            let (published, t) = (sim.metrics().messages.created, Instant::now());
            sim.advance_to(SimTime(1_200_000));
            sim.drain_events().for_each(drop);
            let e = t.elapsed().as_secs_f64();
            e * 1e9 / (sim.metrics().messages.created - published).max(1) as f64
        };
        let measure = |ty: &str| {
            let s = bindings_scenario(ty, n);
            let per_publish = median(5, || one_run(&s));
            let startup = median(5, || {
                let t = Instant::now();
                let sim = Sim::new(&s).expect("valid");
                let e = t.elapsed().as_secs_f64();
                drop(sim);
                e
            });
            let peak = peak_added(|| {
                one_run(&s);
            });
            (per_publish, startup, peak)
        };
        let (tp, ts, tm) = measure("topic");
        let (dp, ds, dm) = measure("direct");
        println!(
            "| {n} | {tp:.0} | {dp:.0} | {:.2} ms | {:.2} ms | {:.1} MB | {:.1} MB |",
            ts * 1e3,
            ds * 1e3,
            mb(tm),
            mb(dm)
        );
    }
}

fn main() {
    if let Some(n) = std::env::var("PROFILE_STARTUP")
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
    {
        let s = grown(n, 10_000.0);
        for _ in 0..5 {
            drop(Sim::new(&s).expect("valid"));
        }
        return;
    }
    if let Some(n) = std::env::var("PROFILE_NODES")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        let secs = std::env::var("PROFILE_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(4);
        let (ns, allocs, events) = measured(&grown(n, 10_000.0), secs);
        println!("{ns:.0} ns, {allocs:.2} allocations per event, {events} events");
        return;
    }
    let all = ["size", "rate", "backlog", "duration", "bindings", "kafka"];
    let wanted: Vec<String> = std::env::args().skip(1).collect();
    for sweep in all {
        if !wanted.is_empty() && !wanted.iter().any(|w| w == sweep) {
            continue;
        }
        match sweep {
            "size" => topology_size(),
            "rate" => message_rate(),
            "backlog" => backlog(),
            "duration" => duration(),
            "kafka" => kafka(),
            _ => bindings(),
        }
    }
    println!(
        "\npeak heap over the whole run: {:.1} MB",
        mb(PEAK.load(Relaxed))
    );
}
