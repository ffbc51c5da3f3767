//! How fast, and in how much memory, the timeline plays the 50-node stress example natively:
//! `cargo run --release -p switchboard-web --example timeline_speed -- 60 1000` plays 60
//! simulated minutes at 1,000 messages/s, at 100× in 16 ms frames (a quick look, not a benchmark; wrap it in
//! `/usr/bin/time -v` for peak memory).
use std::time::Instant;
use switchboard_core::{Scenario, SimTime};
use switchboard_web::timeline::Timeline;

fn main() {
    let minutes: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    let mut s =
        Scenario::from_json(include_str!("../../docs/examples/stress-50-nodes.json")).unwrap();
    // A second argument sets the total publish rate (messages per second, over ten producers).
    if let Some(total) = std::env::args().nth(2).and_then(|a| a.parse::<f64>().ok()) {
        for n in &mut s.nodes {
            if let switchboard_core::scenario::NodeKind::Producer(p) = &mut n.kind {
                p.rate_per_s = total / 10.0;
            }
        }
    }
    let mut t = Timeline::new(&s).unwrap();
    t.play();
    t.set_speed(100.0);
    let start = Instant::now();
    let end = SimTime(minutes * 60_000_000);
    let mut frames = 0u64;
    let mut slowest = 0.0f64;
    while t.sim().now() < end {
        let f = Instant::now();
        t.tick(16.0).unwrap();
        slowest = slowest.max(f.elapsed().as_secs_f64() * 1e3);
        frames += 1;
    }
    eprintln!(
        "{} simulated, {} steps, {} messages, {} frames in {:?}; slowest frame {slowest:.1} ms; {} checkpoints",
        t.sim().now(),
        t.sim().steps(),
        t.sim().totals().created,
        frames,
        start.elapsed(),
        t.checkpoint_count()
    );
}
