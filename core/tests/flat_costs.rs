//! Costs that stay flat as a run grows: one message parked in a queue nobody consumes does not
//! make the ledger keep every later message, and the per-node counts `metrics()` reports are
//! kept as fates change (they agree with the queues' own counts at every point).

use switchboard_core::fixtures::parked_and_busy;
use switchboard_core::{Sim, SimTime};

#[test]
fn a_parked_message_keeps_memory_flat_and_held_counts_agree_with_the_queues() {
    let s = parked_and_busy();
    let mut sim = Sim::new(&s).expect("runs");
    let parked = sim.topology().node_id("parked").unwrap();
    let work = sim.topology().node_id("work").unwrap();
    let mut most = 0;
    let mut at_10s = 0;
    for second in 1..=60u64 {
        sim.advance_to(SimTime(second * 1_000_000));
        sim.drain_events().for_each(drop);
        most = most.max(sim.ledger_len());
        if second == 10 {
            at_10s = most;
        }
        let m = sim.metrics();
        let q = m.nodes[parked.index()].queue().expect("a queue");
        assert_eq!(
            (q.ready, m.nodes[parked.index()].held),
            (1, 1),
            "at {second} s"
        );
        let w = m.nodes[work.index()].queue().expect("a queue");
        assert_eq!(
            w.ready,
            m.nodes[work.index()].held,
            "held counts what the queue has ready, at {second} s"
        );
    }
    let created = sim.metrics().messages.created;
    assert!(created > 250_000, "the run was busy ({created} messages)");
    assert!(
        most <= 2 * switchboard_core::ledger::COMPACT_AT,
        "the ledger stayed small: at most {most} fates in memory for {created} messages"
    );
    assert!(
        most <= at_10s * 2,
        "and flat: {at_10s} after 10 s, {most} after 60 s"
    );
}
