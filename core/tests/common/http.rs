//! Helpers for the request-response model's tests: typed events of a run, and requests'
//! outcomes by when they began.

use std::collections::BTreeMap;
use switchboard_core::http::HttpEvent;
use switchboard_core::{Event, EventKind, MessageId, Sim, SimTime};

// Each test crate uses some of the shared helpers, not all.
#[allow(unused_imports)]
pub use super::run_events as run;

/// The model's events, with their times.
pub fn http(events: &[Event]) -> impl Iterator<Item = (SimTime, &HttpEvent)> {
    events.iter().filter_map(|e| match &e.kind {
        EventKind::Http(h) => Some((e.at, h)),
        _ => None,
    })
}

/// Each request of client `client` (by node name): when it began, and whether it succeeded
/// (`None` while it goes on).
pub fn requests(
    sim: &Sim,
    events: &[Event],
    client: &str,
) -> BTreeMap<MessageId, (SimTime, Option<bool>)> {
    let node = sim.topology().node_id(client).expect("a client");
    let mut out = BTreeMap::new();
    for (at, e) in http(events) {
        match *e {
            HttpEvent::Request { client, request } if client == node => {
                out.insert(request, (at, None));
            }
            HttpEvent::RequestEnded {
                client,
                request,
                ok,
                ..
            } if client == node => {
                out.get_mut(&request).expect("begun").1 = Some(ok);
            }
            _ => {}
        }
    }
    out
}

/// Of the requests of `client` begun in `[from, to)` seconds: how many, and how many
/// succeeded.
pub fn goodput(
    reqs: &BTreeMap<MessageId, (SimTime, Option<bool>)>,
    from: f64,
    to: f64,
) -> (usize, usize) {
    let inside: Vec<_> = reqs
        .values()
        .filter(|(t, _)| (t.0 as f64) >= from * 1e6 && (t.0 as f64) < to * 1e6)
        .collect();
    let ok = inside.iter().filter(|(_, o)| *o == Some(true)).count();
    (inside.len(), ok)
}

/// Attempts sent to node `to` (by name) in `[from, to)` seconds.
pub fn attempts_to(sim: &Sim, events: &[Event], to: &str, from_s: f64, to_s: f64) -> usize {
    let node = sim.topology().node_id(to).expect("a node");
    http(events)
        .filter(|(at, e)| {
            matches!(e, HttpEvent::Attempt { edge, .. } if sim.topology().edge(*edge).to == node)
                && (at.0 as f64) >= from_s * 1e6
                && (at.0 as f64) < to_s * 1e6
        })
        .count()
}
