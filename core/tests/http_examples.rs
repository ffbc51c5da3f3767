//! What each `docs/examples/http-*.json` shows, as numbers from the run.

mod common;

use common::http::{attempts_to, goodput, http, requests, run};
use switchboard_core::http::HttpEvent;
use switchboard_core::{SimDuration, SimTime};

const MINUTE: SimTime = SimTime(60_000_000);

#[test]
fn metastable_retry_goodput_stays_below_a_tenth_long_after_the_trigger() {
    let s = common::example("http-metastable-retry.json");
    let (events, sim) = run(&s, MINUTE, false);
    let reqs = requests(&sim, &events, "client");
    let (n, ok) = goodput(&reqs, 0.0, 5.0);
    assert!(ok * 10 >= n * 9, "healthy before the crash: {ok} of {n}");
    let (n, ok) = goodput(&reqs, 15.0, 58.0);
    assert!(n > 2_500, "the client keeps offering 70/s: {n}");
    assert!(
        ok * 10 < n,
        "metastable: {ok} of {n} requests begun from 15 s succeed, 5 s after a came back"
    );
}

#[test]
fn metastable_retry_without_retries_recovers_within_two_seconds() {
    let mut s = common::example("http-metastable-retry.json");
    s.edges[0].resilience.as_mut().expect("policies").retry = None;
    let (events, sim) = run(&s, MINUTE, false);
    let reqs = requests(&sim, &events, "client");
    let (n, ok) = goodput(&reqs, 5.0, 10.0);
    assert!(
        ok * 10 < n * 7,
        "while a is down its share fails: {ok} of {n} succeed"
    );
    let (n, ok) = goodput(&reqs, 12.0, 58.0);
    assert!(
        ok * 10 >= n * 9,
        "back above 90 % within 2 s of the recovery: {ok} of {n}"
    );
}

#[test]
fn timeout_cascade_climbs_the_chain_one_node_at_a_time() {
    let s = common::example("http-timeout-cascade.json");
    let (events, sim) = run(&s, MINUTE, true);
    let topo = sim.topology();
    let first = |from: &str, to: &str| {
        let (f, t) = (topo.node_id(from).unwrap(), topo.node_id(to).unwrap());
        http(&events)
            .find(|(_, e)| matches!(e, HttpEvent::TimedOut { edge, .. } if topo.edge(*edge).from == f && topo.edge(*edge).to == t))
            .map(|(at, _)| at)
            .unwrap_or_else(|| panic!("{from} → {to} never timed out"))
    };
    let slow = SimTime(10_000_000);
    let (db, orders, api) = (
        first("orders", "db"),
        first("api", "orders"),
        first("client", "api"),
    );
    assert!(
        slow < db && db < orders && orders < api,
        "timeouts climb: orders→db at {db}, api→orders at {orders}, client→api at {api}"
    );
    let reqs = requests(&sim, &events, "client");
    let (n, ok) = goodput(&reqs, 0.0, 10.0);
    assert!(ok * 100 >= n * 99, "healthy before: {ok} of {n}");
    let (n, ok) = goodput(&reqs, 15.0, 28.0);
    assert!(ok * 2 < n, "down while db is slow: {ok} of {n}");
}

#[test]
fn retry_storm_multiplies_the_load_and_the_guarded_chain_recovers() {
    let s = common::example("http-retry-storm.json");
    let (events, sim) = run(&s, MINUTE, false);
    let offered = 40.0 * 10.0; // requests a second × the 10 s of the failure
    let storm = attempts_to(&sim, &events, "store-1", 5.0, 15.0) as f64;
    let guarded = attempts_to(&sim, &events, "store-2", 5.0, 15.0) as f64;
    assert!(
        storm > 5.0 * offered,
        "every layer retrying: the store sees {storm} attempts for {offered} requests"
    );
    assert!(
        guarded < 0.5 * offered,
        "one retrying layer, a budget and a breaker: {guarded} attempts for {offered} requests"
    );
    let after = attempts_to(&sim, &events, "store-1", 40.0, 60.0) as f64;
    assert!(
        after > 5.0 * 40.0 * 20.0,
        "the storm outlives its trigger: {after} attempts in the last 20 s"
    );
    let (n, ok) = goodput(&requests(&sim, &events, "client-1"), 20.0, 55.0);
    assert!(ok * 10 < n, "the storming chain stays down: {ok} of {n}");
    let (n, ok) = goodput(&requests(&sim, &events, "client-2"), 20.0, 55.0);
    assert!(ok * 100 >= n * 99, "the guarded chain is well: {ok} of {n}");
    // Its breaker opened during the failure and closed after it.
    let topo = sim.topology();
    let store2 = topo.node_id("store-2").unwrap();
    let states: Vec<(SimTime, &str)> = http(&events)
        .filter_map(|(at, e)| match e {
            HttpEvent::Breaker { edge, state, .. } if topo.edge(*edge).to == store2 => {
                Some((at, state.as_str()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(states.first().map(|s| s.1), Some("OPEN"));
    assert_eq!(states.last().map(|s| s.1), Some("CLOSED"));
    assert!(states.last().unwrap().0 > SimTime::ZERO + SimDuration::from_secs(15));
}
