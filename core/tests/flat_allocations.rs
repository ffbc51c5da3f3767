//! Allocations per event stay flat as the topology grows, and under a ceiling: a count, not a
//! timing, so the same on every machine (`docs/performance.md`, "Scaling curves"). A change
//! that makes an event allocate in proportion to the topology (a list of every node or binding
//! per publish), or adds allocations to every message, fails here.
//!
//! Its own test binary: the counting allocator is global.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use switchboard_core::fixtures::grown;
use switchboard_core::{Sim, SimTime};

/// The system allocator, counting calls.
struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Allocations per event over a simulated second of `grown(nodes)` at 10 k messages/s, after
/// a first second, in 16 ms slices drained after each (as the page's frames), and the events.
fn allocations_per_event(nodes: usize) -> (f64, u64) {
    let mut sim = Sim::new(&grown(nodes, 10_000.0)).expect("valid");
    sim.advance_to(SimTime(1_000_000));
    sim.drain_events().for_each(drop);
    let (steps, before) = (sim.steps(), ALLOCS.load(Relaxed));
    for i in 0..1_000 / 16 {
        sim.advance_to(SimTime(1_000_000 + (i + 1) * 16_000));
        sim.drain_events().for_each(drop);
    }
    let allocs = ALLOCS.load(Relaxed) - before;
    let events = sim.steps() - steps;
    (allocs as f64 / events.max(1) as f64, events)
}

#[test]
fn allocations_per_event_are_flat_from_8_to_10000_nodes() {
    // 1.24 at 8 nodes and 1.20 from 80 up (2026-12-07): an envelope, its routing key and a
    // delivery per message, and the routed event's targets when recorded; a ratchet, lower it
    // as messages allocate less.
    const CEILING: f64 = 1.30;
    let sizes = [8, 80, 800, 10_000];
    let per: Vec<(f64, u64)> = sizes.iter().map(|&n| allocations_per_event(n)).collect();
    for (&n, &(a, events)) in sizes.iter().zip(&per) {
        assert!(
            events > 40_000,
            "{n} nodes: a busy second ({events} events)"
        );
        assert!(
            a <= CEILING,
            "{n} nodes: {a:.3} allocations per event, over the ceiling of {CEILING}"
        );
    }
    let (small, large) = (per[1].0, per[3].0);
    assert!(
        large <= small * 1.05,
        "allocations per event grow with the topology: {small:.3} at 80 nodes, {large:.3} at 10,000"
    );
}
