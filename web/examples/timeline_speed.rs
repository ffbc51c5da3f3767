//! How fast the timeline moves the stress example natively (a quick look, not a benchmark).
use std::time::Instant;
use switchboard_core::Scenario;
use switchboard_web::timeline::Timeline;

fn main() {
    let s = Scenario::from_json(include_str!("../../docs/examples/stress-50-nodes.json")).unwrap();
    let mut t = Timeline::new(&s).unwrap();
    t.play();
    t.set_speed(100.0);
    let start = Instant::now();
    for i in 0..300 {
        let f = Instant::now();
        t.tick(16.0);
        if i % 50 == 0 {
            eprintln!(
                "frame {i}: {:?}, now {}, steps {}, flights {}",
                f.elapsed(),
                t.sim().now(),
                t.sim().steps(),
                t.flights().len()
            );
        }
    }
    eprintln!("total {:?} for {} steps", start.elapsed(), t.sim().steps());
}
