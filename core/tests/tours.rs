//! Guided tours: every built-in tour plays to its end with every message accounted for, its
//! figures read numbers from the run, and each story's last figure points the way the story
//! says. Then the format: documents with bad tours are refused with paths.

use switchboard_core::tour::{self, Reading, StepOutcome, Until};
use switchboard_core::{examples, Scenario, Sim, SimTime};

/// Every example that has a tour, played to its end ("Show me" at every step).
fn played() -> Vec<(&'static str, Vec<StepOutcome>)> {
    examples::EXAMPLES
        .iter()
        .filter_map(|(name, text)| {
            let s = Scenario::from_json(text).unwrap_or_else(|d| panic!("{name}: {d}"));
            s.tour.as_ref()?;
            let mut sim = Sim::new(&s).unwrap();
            let outcome = tour::play(&mut sim, |i, sim| {
                sim.check_conservation()
                    .unwrap_or_else(|e| panic!("{name}, step {i}: {e}"));
            })
            .unwrap_or_else(|e| panic!("{name}: {e}"));
            Some((*name, outcome))
        })
        .collect()
}

/// The last step's numbers of the tour of `name`, by label.
fn last(tours: &[(&str, Vec<StepOutcome>)], name: &str) -> Vec<Reading> {
    tours
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("{name} has no tour"))
        .1
        .last()
        .unwrap()
        .readings
        .clone()
}

fn secs(s: u64) -> SimTime {
    SimTime(s * 1_000_000)
}

fn value(readings: &[Reading], label: &str) -> f64 {
    readings
        .iter()
        .find(|r| r.label == label)
        .unwrap_or_else(|| panic!("no number {label:?} in {readings:?}"))
        .value
        .unwrap_or_else(|| panic!("{label:?} was not measured"))
}

#[test]
fn every_tour_plays_to_its_end_and_shows_numbers_from_the_run() {
    let tours = played();
    assert!(tours.len() >= 3, "the built-in tours: {}", tours.len());
    for (name, steps) in &tours {
        let mut before = SimTime::ZERO;
        for (i, s) in steps.iter().enumerate() {
            assert!(s.stopped_at >= before, "{name}: step {i} went backwards");
            before = s.stopped_at;
            for r in &s.readings {
                assert!(
                    r.value.is_some(),
                    "{name}, step {i} ({}): {} reads {}",
                    s.title,
                    r.label,
                    r.shown
                );
            }
        }
        // A story ends on a measured effect.
        let end = steps.last().unwrap();
        assert!(
            !end.readings.is_empty() || end.table.is_some(),
            "{name}: its last step shows no number"
        );
        for row in end.table.iter().flat_map(|t| &t.rows) {
            for c in &row.cells {
                assert!(c.value.is_some(), "{name}: {} reads {}", row.label, c.shown);
            }
        }
    }
}

#[test]
fn the_cascade_leaves_the_client_without_answers() {
    let r = last(&played(), "http-timeout-cascade");
    assert_eq!(value(&r, "answers per second now"), 0.0);
    assert!(value(&r, "requests failed") > 100.0);
    assert_eq!(value(&r, "api's workers busy"), 1.0);
}

#[test]
fn the_retry_storm_multiplies_the_load_and_the_fixes_do_not() {
    let r = last(&played(), "http-retry-storm");
    let storm = value(&r, "retries at every layer");
    let fixed = value(&r, "budget, backoff, breaker");
    // More attempts reach the store than the clients sent requests, several times over;
    // the fixed chain sends it fewer attempts than requests (its breaker refuses some).
    assert!(storm > 5.0, "storm: {storm}");
    assert!(fixed < 1.0, "fixed: {fixed}");
}

#[test]
fn redelivery_charges_twice_only_without_an_idempotency_key() {
    let r = last(&played(), "data-payment-redelivery");
    assert!(value(&r, "without a key") > 0.0);
    assert_eq!(value(&r, "with an idempotency key"), 0.0);
}

#[test]
fn a_queue_keeps_the_outage_from_the_shop_and_loses_nothing() {
    let r = last(&played(), "queue-decoupling");
    assert!(value(&r, "shop (HTTP call): orders failed") > 50.0);
    assert_eq!(value(&r, "shop-2 (queue): orders failed"), 0.0);
    assert_eq!(value(&r, "invoices still waiting"), 0.0);
}

/// The numbers of step `i` (from 0) of the tour of `name`, by label.
fn at_step(tours: &[(&str, Vec<StepOutcome>)], name: &str, i: usize) -> Vec<Reading> {
    tours
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("{name} has no tour"))
        .1[i]
        .readings
        .clone()
}

#[test]
fn each_exchange_type_routes_the_same_publishes_its_own_way() {
    let tours = played();
    let r = last(&tours, "amqp-exchange-types");
    // Fanout copies every message to both its queues; topic and headers give some messages
    // to several queues and some to one; direct gave one message none and one two (CC).
    assert_eq!(value(&r, "fanout"), 2.0);
    let topic = value(&r, "topic");
    assert!(topic > 1.0 && topic < 2.0, "topic: {topic}");
    assert!(value(&r, "headers") > 1.0);
    assert!(value(&r, "direct") < value(&r, "fanout"));
    assert!(value(&r, "messages dropped, no queue matched") >= 1.0);
    // x-match any takes more than all; 1.0 does not match the integer 1.
    let headers = at_step(&tours, "amqp-exchange-types", 3);
    assert!(
        value(&headers, "eu-or-vip (any: eu or vip)") > value(&headers, "eu-vip (all: eu and vip)")
    );
    assert_eq!(value(&headers, "v1-int (all: version 1)"), 1.0);
}

#[test]
fn the_poison_message_is_dead_lettered_where_nobody_reads_it() {
    let r = last(&played(), "amqp-quorum-delivery-limit");
    assert!(value(&r, "orders waiting in poison") >= 1.0);
    assert_eq!(value(&r, "consumers reading poison"), 0.0);
    assert_eq!(value(&r, "messages processed"), 0.0);
    // The rejected order is retried a few times, then no more (x-delivery-limit 2); the
    // nacked one is never given up on.
    let rejected = value(&r, "deliveries of the rejected order");
    assert!((2.0..=5.0).contains(&rejected), "rejected: {rejected}");
    let nacked = value(&r, "deliveries of the nacked message");
    assert!(nacked > 10.0 * rejected, "nacked: {nacked}");
}

#[test]
fn retries_with_backoff_complete_most_jobs_and_the_rest_fail_for_good() {
    let r = last(&played(), "bullmq-retries-and-backoff");
    let added = value(&r, "jobs added");
    let completed = value(&r, "completed");
    let failed = value(&r, "failed for good");
    let threw = value(&r, "attempts that threw");
    assert!(failed >= 1.0, "some jobs ran out of attempts");
    assert!(
        completed > 2.0 * failed,
        "completed {completed}, failed {failed}"
    );
    assert_eq!(completed + failed, added, "every job has run");
    assert!(
        threw > added,
        "more attempts threw ({threw}) than there were jobs ({added})"
    );
    let per_job = value(&r, "attempts per job");
    assert!(
        per_job > 1.5 && per_job <= 3.0,
        "attempts per job: {per_job}"
    );
}

#[test]
fn a_crashed_consumers_partitions_lag_until_the_rebalance_and_then_drain() {
    let tours = played();
    let name = "kafka-consumer-group-rebalance";
    let outage = at_step(&tours, name, 1);
    let healthy = value(&outage, "partition 0 (billing-1's)");
    let end = last(&tours, name);
    for p in ["4", "5"] {
        let during = value(&outage, &format!("partition {p} (billing-3's)"));
        assert!(
            during > 50.0 && during > 2.0 * healthy,
            "partition {p}: {during} while billing-3 is gone, partition 0: {healthy}"
        );
        let after = value(&end, &format!("partition {p}"));
        assert!(
            after < during / 2.0,
            "partition {p}: {during}, then {after}"
        );
    }
    assert!(value(&end, "rebalances billing-1 took part in") >= 3.0);
}

#[test]
fn the_read_model_lags_its_source_and_reads_from_it_are_stale() {
    let r = last(&played(), "data-read-model");
    let p50 = value(&r, "window, median");
    let p99 = value(&r, "window, 99th percentile");
    assert!(p50 > 0.0 && p50 < 200_000.0, "median window: {p50} us");
    assert!(p99 > 1_000_000.0, "the crash's window: {p99} us");
    assert!(value(&r, "orders not in the view yet") <= 5.0, "caught up");
    assert!(value(&r, "reads that missed the order") > 0.5);
    assert_eq!(value(&r, "reads from orders-db that missed it"), 0.0);
}

#[test]
fn one_order_crosses_four_systems_and_every_order_reaches_the_read_model() {
    let tours = played();
    let name = "order-journey";
    let first = at_step(&tours, name, 0);
    assert_eq!(value(&first, "orders answered"), 1.0);
    let stream = at_step(&tours, name, 2);
    assert_eq!(value(&stream, "records in shipments"), 1.0);
    assert_eq!(value(&stream, "records processed by tracking"), 0.0);
    // The first orders reach the read model seconds after the shop had its answer.
    let waited = at_step(&tours, name, 3);
    let late = value(&waited, "the latest any of them reached orders-view");
    let answer = value(&waited, "the shop's wait for its answer, median");
    assert!(
        late > 1_000_000.0 && late > 10.0 * answer,
        "{late} us, {answer} us"
    );

    let r = last(&tours, name);
    let placed = value(&r, "answered over HTTP");
    assert!(placed > 50.0, "{placed}");
    for hop in [
        "delivered by RabbitMQ",
        "shipped by a BullMQ job",
        "read from Kafka",
    ] {
        let n = value(&r, hop);
        assert!(
            (placed - 3.0..=placed).contains(&n),
            "{hop}: {n} of {placed}"
        );
    }
    let p50 = value(&r, "read model lag, median");
    let p99 = value(&r, "read model lag, 99th percentile");
    assert!(
        p50 < 1_000_000.0 && p99 > 1_000_000.0,
        "p50 {p50} us, p99 {p99} us"
    );
}

#[test]
fn throughput_rises_with_prefetch_and_falls_again_when_a_slow_consumer_hoards() {
    let tours = played();
    let (_, steps) = tours
        .iter()
        .find(|(n, _)| *n == "amqp-prefetch-throughput")
        .expect("the prefetch story");
    let chart = &steps.last().unwrap().sweep;
    assert_eq!(chart.len(), 1);
    let points: Vec<(f64, f64)> = chart[0]
        .points
        .iter()
        .map(|(x, r)| (*x, r.value.expect("measured")))
        .collect();
    let (best_at, best) =
        points
            .iter()
            .copied()
            .fold((0.0, f64::MIN), |a, p| if p.1 > a.1 { p } else { a });
    let (first, last) = (points[0], points[points.len() - 1]);
    assert!(
        best_at > first.0 && best_at < last.0,
        "the best prefetch is in between: {points:?}"
    );
    assert!(first.1 < best * 0.5, "prefetch 1 idles: {points:?}");
    assert!(last.1 < best * 0.8, "a large prefetch hoards: {points:?}");
    // The chart's first point is the tour's own run (prefetch 1), read the same way.
    assert_eq!(Some(first.1), steps.last().unwrap().readings[0].value);
}

/// A small scenario with a tour, as JSON, with `tour` spliced in.
fn with_tour(tour: &str) -> String {
    format!(
        r#"{{"version": 13, "seed": 3,
            "nodes": [
                {{"id": "app", "kind": "producer", "config": {{"rate_per_s": 20}}}},
                {{"id": "tasks", "kind": "queue"}},
                {{"id": "worker", "kind": "consumer"}}
            ],
            "edges": [{{"from": "app", "to": "tasks"}}, {{"from": "tasks", "to": "worker"}}],
            "tour": {tour}}}"#
    )
}

fn refused(tour: &str) -> String {
    match Scenario::from_json(&with_tour(tour)) {
        Ok(_) => panic!("accepted: {tour}"),
        Err(d) => d.to_string(),
    }
}

#[test]
fn a_tour_round_trips_and_its_action_waits_for_the_user() {
    let text = with_tour(
        r#"{"promise": "A queue holds work while its consumer is down.",
            "steps": [
              {"title": "Running", "text": "Work flows.", "until": "2s",
               "highlight": ["tasks", {"from": "tasks", "to": "worker"}],
               "view": {"x": 10, "y": 20, "zoom": 1.5}},
              {"title": "Down", "text": "The consumer is down.", "until": "5s",
               "action": {"do": "crash", "node": "worker"}, "prompt": "Crash the worker",
               "figure": {"label": "Waiting", "values": [
                  {"node": "tasks", "metric": "queue.ready"},
                  {"label": "per message", "node": "tasks", "metric": "queue.ready",
                   "per": {"metric": "messages.created"}, "unit": "percent"}]}},
              {"title": "First drop", "text": "Nothing is dropped.",
               "until": {"event": "consumed", "node": "worker", "within": "1s"}}
            ]}"#,
    );
    let s = Scenario::from_json(&text).unwrap();
    let again = Scenario::from_json(&s.to_json_pretty()).unwrap();
    assert_eq!(s, again, "a tour survives a save and a load");
    let t = s.tour.as_ref().unwrap();

    // "Show me" applies the same command the user would.
    let mut sim = Sim::new(&s).unwrap();
    sim.advance_to(t.steps[0].stop(&sim));
    assert_eq!(sim.now(), secs(2));
    let crash = t.steps[1].command(&sim).unwrap();
    // The user's own crash of that node (from the inspector, say) is the action done by hand;
    // another node's crash, or a restart, is not.
    let worker = sim.topology().node_id("worker").unwrap();
    let tasks = sim.topology().node_id("tasks").unwrap();
    assert_eq!(crash, switchboard_core::Command::Crash { node: worker });
    assert!(t.steps[1].done_by(&switchboard_core::Command::Crash { node: worker }, &sim));
    assert!(!t.steps[1].done_by(&switchboard_core::Command::Crash { node: tasks }, &sim));
    assert!(!t.steps[1].done_by(&switchboard_core::Command::Restart { node: worker }, &sim));
    let other = t.steps[0].command(&sim);
    assert_eq!(other, None, "the first step suggests nothing");
    sim.apply(crash).unwrap();
    sim.advance_to(t.steps[1].stop(&sim));
    let readings = t.steps[1]
        .figure
        .as_ref()
        .unwrap()
        .read(&tour::metrics_value(&sim));
    let ready = readings[0].value.unwrap();
    assert!(ready >= 50.0, "3 s of 20/s wait in the queue: {ready}");
    let created = sim.totals().created as f64;
    assert_eq!(readings[1].value, Some(ready / created));
    // The worker is down: no consumed event comes, so the step stops after its 1 s.
    let stop = t.steps[2].stop(&sim);
    assert_eq!(stop, secs(6));
    assert_eq!(sim.now(), secs(5), "looking ahead changes nothing");
    assert!(matches!(t.steps[2].until, Until::Event(_)));
}

#[test]
fn an_event_stop_finds_the_next_such_event_and_not_one_already_past() {
    let text = r#"{"version": 12, "seed": 3,
        "nodes": [
            {"id": "app", "kind": "producer", "config": {"rate_per_s": 20}},
            {"id": "tasks", "kind": "queue"},
            {"id": "worker", "kind": "consumer"}
        ],
        "edges": [{"from": "app", "to": "tasks"}, {"from": "tasks", "to": "worker"}],
        "actions": [{"at": "3s", "do": "crash", "node": "worker"}],
        "tour": {"promise": "p", "steps": [
            {"title": "t", "text": "x", "until": "1s"},
            {"title": "t", "text": "x", "until": {"event": "crashed", "node": "worker", "within": "10s"}},
            {"title": "t", "text": "x", "until": {"event": "restarted", "within": "2s"},
             "action": {"do": "restart", "node": "worker"}, "prompt": "Restart it"}
        ]}}"#;
    let s = Scenario::from_json(text).unwrap();
    let mut sim = Sim::new(&s).unwrap();
    let out = tour::play(&mut sim, |_, _| {}).unwrap();
    // The scripted crash at 3 s is the first crash after 1 s.
    assert_eq!(out[1].stopped_at, secs(3));
    // The restart is applied as the step begins: it is not ahead of the step, so the step
    // waits its whole 2 s (the page, whose timeline drains events as it applies a command,
    // finds the same).
    assert_eq!(out[2].stopped_at, secs(5));
}

#[test]
fn playing_a_tour_runs_the_scenario_as_it_is() {
    // A tour without actions only watches: where it ends, the run is the plain run.
    for (name, text) in examples::EXAMPLES {
        let s = Scenario::from_json(text).unwrap();
        let Some(t) = &s.tour else { continue };
        if t.steps.iter().any(|st| st.action.is_some()) {
            continue;
        }
        let mut toured = Sim::new(&s).unwrap();
        let out = tour::play(&mut toured, |_, _| {}).unwrap();
        let end = out.last().unwrap().stopped_at;
        let mut plain = Sim::new(&s).unwrap();
        plain.advance_to(end);
        assert_eq!(toured.steps(), plain.steps(), "{name}");
        assert_eq!(
            tour::metrics_value(&toured),
            tour::metrics_value(&plain),
            "{name}"
        );
    }
}

#[test]
fn an_event_stop_is_the_first_such_event() {
    let s = Scenario::from_json(&with_tour(
        r#"{"promise": "p", "steps": [{"title": "t", "text": "x",
             "until": {"event": "crashed", "node": "worker", "within": "10s"}}]}"#,
    ))
    .unwrap();
    let mut sim = Sim::new(&s).unwrap();
    sim.advance_to(secs(1));
    let crash = switchboard_core::Command::Crash {
        node: sim.topology().node_id("worker").unwrap(),
    };
    // Nothing crashes the worker in the scenario: the stop is the step's limit.
    let step = &s.tour.as_ref().unwrap().steps[0];
    assert_eq!(step.stop(&sim), secs(11));
    sim.apply(crash).unwrap();
    // A crash applied now is an event of now, already drained by nobody: it is in the past
    // of the look-ahead, which starts after it; the next crash never comes.
    sim.drain_events().for_each(drop);
    assert_eq!(step.stop(&sim), secs(11));
}

#[test]
fn bad_tours_are_refused_with_their_paths() {
    let cases: &[(&str, &str)] = &[
        (
            r#"{"promise": "p", "steps": []}"#,
            "tour.steps: a tour has at least one step",
        ),
        (
            r#"{"promise": "", "steps": [{"title": "t", "text": "x", "until": "1s"}]}"#,
            "tour.promise: must not be empty",
        ),
        (
            r#"{"promise": "p", "steps": [{"title": "t", "text": "x", "until": "2s"},
                {"title": "t", "text": "x", "until": "1s"}]}"#,
            "tour.steps[1].until: 1s is before tour.steps[0] stops (2s)",
        ),
        (
            r#"{"promise": "p", "steps": [{"title": "t", "text": "x", "until": "1s",
                "highlight": ["nobody"]}]}"#,
            "tour.steps[0].highlight[0]: no node has id \"nobody\"",
        ),
        (
            r#"{"promise": "p", "steps": [{"title": "t", "text": "x", "until": "1s",
                "highlight": [{"from": "worker", "to": "app"}]}]}"#,
            "tour.steps[0].highlight[0]: no edge goes from \"worker\" to \"app\"",
        ),
        (
            r#"{"promise": "p", "steps": [{"title": "t", "text": "x", "until": "1s",
                "action": {"do": "crash", "node": "worker"}}]}"#,
            "tour.steps[0].prompt: a step with an action says what to do",
        ),
        (
            r#"{"promise": "p", "steps": [{"title": "t", "text": "x", "until": "1s",
                "action": {"do": "pause", "node": "tasks"}, "prompt": "Pause it"}]}"#,
            "tour.steps[0].action.node:",
        ),
        (
            r#"{"promise": "p", "steps": [{"title": "t", "text": "x", "until": "1s",
                "action": {"do": "lose_ack", "node": "worker"}, "prompt": "Lose it"}]}"#,
            "tour.steps[0].action.do: a tour suggests one of crash, restart",
        ),
        (
            r#"{"promise": "p", "steps": [{"title": "t", "text": "x", "until": "1s",
                "prompt": "Do it"}]}"#,
            "tour.steps[0].prompt: a prompt goes with an action",
        ),
        (
            r#"{"promise": "p", "steps": [{"title": "t", "text": "x",
                "until": {"event": "crashed", "within": "0s"}}]}"#,
            "tour.steps[0].until.within:",
        ),
        (
            r#"{"promise": "p", "steps": [{"title": "t", "text": "x", "until": 5}]}"#,
            "tour.steps[0].until: expected a time like \"12s\"",
        ),
        (
            r#"{"promise": "p", "steps": [{"title": "t", "text": "x", "until": "1s",
                "figure": {"label": "f", "values": [{"node": "tasks", "metric": "redy"}]}}]}"#,
            "tour.steps[0].figure.values[0].metric: node \"tasks\" has no metric \"redy\"; it has",
        ),
        (
            r#"{"promise": "p", "steps": [{"title": "t", "text": "x", "until": "1s",
                "figure": {"label": "f", "values": [{"metric": "messagez.lost"}]}}]}"#,
            "tour.steps[0].figure.values[0].metric: the run has no metric \"messagez\"",
        ),
        (
            r#"{"promise": "p", "steps": [{"title": "t", "text": "x", "until": "1s",
                "figure": {"label": "f", "values": []}}]}"#,
            "tour.steps[0].figure.values: expected from 1 to 6 numbers",
        ),
        (
            r#"{"promise": "p", "steps": [{"title": "t", "text": "x", "until": "1s",
                "figure": {"label": "f", "table": {"columns": ["a", "b"], "rows": [{"label": "r",
                "cells": [{"node": "tasks", "metric": "received", "at": "1s"}]}]}}}]}"#,
            "tour.steps[0].figure.table.rows[0].cells: 1 cells under 2 columns",
        ),
        (
            r#"{"promise": "p", "steps": [{"title": "t", "text": "x", "until": "1s",
                "figure": {"label": "f", "table": {"columns": ["a"], "rows": [{"label": "r",
                "cells": [{"node": "tasks", "metric": "received", "at": "1s", "since": "2s"}]}]}}}]}"#,
            "tour.steps[0].figure.table.rows[0].cells[0].since: 2s is not before its cell's moment (1s)",
        ),
        (
            r#"{"promise": "p", "steps": [{"title": "t", "text": "x", "until": "1s",
                "figure": {"label": "f", "table": {"columns": ["a"], "rows": [{"label": "r",
                "cells": [{"node": "tasks", "metric": "received", "at": "1s",
                "per": {"node": "nobody", "metric": "sent"}}]}]}}}]}"#,
            "tour.steps[0].figure.table.rows[0].cells[0].per.node: no node has id \"nobody\"",
        ),
        (
            r#"{"promise": "p", "steps": [{"title": "t", "text": "x", "until": "1s",
                "figure": {"label": "f", "table": {"columns": ["a"], "rows": [{"label": "r",
                "cells": [{"node": "tasks", "metric": "recieved", "at": "1s"}]}]}}}]}"#,
            "tour.steps[0].figure.table.rows[0].cells[0].metric: node \"tasks\" has no metric \"recieved\"",
        ),
        (
            r#"{"promise": "p", "steps": [{"title": "t", "text": "x", "until": "1s",
                "figure": {"label": "f", "table": {"columns": ["a"], "rows": [{"label": "r",
                "cells": [{"node": "tasks", "metric": "received", "at": "2s"}]}]}}}]}"#,
            "tour.steps[0].figure.table.rows[0].cells[0].at: 2s is after its step stops (1s)",
        ),
        (
            r#"{"promise": "p", "steps": [{"title": "t", "text": "x", "until": "1s",
                "action": {"do": "crash", "node": "worker"}, "prompt": "Crash it"},
                {"title": "t", "text": "x", "until": "2s",
                "figure": {"label": "f", "table": {"columns": ["a"], "rows": [{"label": "r",
                "cells": [{"node": "tasks", "metric": "received", "at": "2s"}]}]}}}]}"#,
            "tour.steps[1].figure.table: a table is read from the scenario's own run, which tour.steps[0].action changes",
        ),
        (
            r#"{"promise": "p", "steps": [{"title": "t", "text": "x",
                "until": {"event": "crashed", "within": "5s"},
                "figure": {"label": "f", "table": {"columns": ["a"], "rows": [{"label": "r",
                "cells": [{"node": "tasks", "metric": "received", "at": "1s"}]}]}}}]}"#,
            "tour.steps[0].until: a step with a table stops at a time",
        ),
        (
            r#"{"promise": "p", "steps": [{"title": "t", "text": "x", "until": "1s",
                "figure": {"label": "f", "table": {"columns": [], "rows": []}}}]}"#,
            "tour.steps[0].figure.table.columns: expected from 1 to 4 columns",
        ),
        (
            r#"{"promise": "p", "steps": [{"title": "t", "text": "x", "until": "1s",
                "colour": "red"}]}"#,
            "tour.steps[0].colour: unknown field `colour`",
        ),
    ];
    for (tour, expected) in cases {
        let got = refused(tour);
        assert!(
            got.contains(expected),
            "for {tour}\nexpected {expected:?}\ngot {got}"
        );
    }
}

#[test]
fn a_figure_of_a_metric_not_measured_yet_is_accepted() {
    // `messages.dropped` has no reasons at time zero, yet a reason is a fair thing to show:
    // only the first name of a path is checked, and a reason nothing was dropped for is 0.
    let s = Scenario::from_json(&with_tour(
        r#"{"promise": "p", "steps": [{"title": "t", "text": "x", "until": "1s",
             "figure": {"label": "f", "values": [{"metric": "messages.dropped.expired"}]}}]}"#,
    ))
    .unwrap();
    let mut sim = Sim::new(&s).unwrap();
    let out = tour::play(&mut sim, |_, _| {}).unwrap();
    assert_eq!(out[0].readings[0].value, Some(0.0), "{:?}", out[0].readings);
}

#[test]
fn a_version_12_tour_with_a_table_is_refused_where_it_has_it() {
    let tour = r#"{"promise": "p", "steps": [{"title": "t", "text": "x", "until": "1s"},
        {"title": "t", "text": "x", "until": "2s", "figure": {"label": "f", "table":
        {"columns": ["a"], "rows": [{"label": "r", "cells": [{"metric": "messages.consumed", "at": "1s"}]}]}}}]}"#;
    let text = with_tour(tour);
    Scenario::from_json(&text).unwrap_or_else(|d| panic!("version 13 reads it: {d}"));
    let old = text.replace("\"version\": 13", "\"version\": 12");
    let got = Scenario::from_json(&old).unwrap_err().to_string();
    assert!(
        got.contains("tour.steps[1].figure.table: a figure's `table` is new in format version 13"),
        "{got}"
    );
    // Without a table, a version-12 tour reads as it did.
    let plain =
        with_tour(r#"{"promise": "p", "steps": [{"title": "t", "text": "x", "until": "1s"}]}"#)
            .replace("\"version\": 13", "\"version\": 12");
    Scenario::from_json(&plain).unwrap_or_else(|d| panic!("{d}"));
}

#[test]
fn a_version_11_document_with_a_tour_is_refused_where_it_has_it() {
    let text =
        with_tour(r#"{"promise": "p", "steps": []}"#).replace("\"version\": 13", "\"version\": 11");
    let got = Scenario::from_json(&text).unwrap_err().to_string();
    assert!(
        got.contains("tour: a `tour` is new in format version 12"),
        "{got}"
    );
}

#[test]
fn a_tour_never_changes_the_run() {
    for (name, text) in examples::EXAMPLES {
        let s = Scenario::from_json(text).unwrap();
        if s.tour.is_none() {
            continue;
        }
        let mut bare = s.clone();
        bare.tour = None;
        let until = secs(10);
        let hash = |s: &Scenario| {
            switchboard_core::trace::hash_of_run(s, s.seed, until).unwrap_or_else(|e| panic!("{e}"))
        };
        assert_eq!(hash(&s), hash(&bare), "{name}");
    }
}

#[test]
fn only_the_lane_with_no_fix_grows_and_the_bounded_one_tells_its_producer() {
    let r = last(&played(), "amqp-backpressure");
    let unbounded = value(&r, "no fix: unbounded");
    let bounded = value(&r, "length limit: bounded");
    let scaled = value(&r, "three consumers: scaled");
    let paced = value(&r, "rate limit: paced");
    // The consumer does half the work it is given: the other half piles up.
    assert!(unbounded > 1000.0, "unbounded: {unbounded}");
    assert!(unbounded > 5.0 * bounded, "{unbounded} against {bounded}");
    // x-max-length 200 with reject-publish: never over the limit, and the rest is nacked.
    assert!(bounded <= 200.0 && bounded > 150.0, "bounded: {bounded}");
    assert!(value(&r, "refused, a basic.nack to producer-2") > 500.0);
    assert!(scaled <= 10.0, "scaled: {scaled}");
    assert!(paced <= 10.0, "paced: {paced}");
}

/// The last step's table of the tour of `name`: each row's numbers by label, left to right.
fn table(tours: &[(&str, Vec<StepOutcome>)], name: &str) -> Vec<(String, Vec<f64>)> {
    let steps = &tours.iter().find(|(n, _)| *n == name).expect("a tour").1;
    let t = steps.last().unwrap().table.as_ref().expect("a table");
    t.rows
        .iter()
        .map(|r| {
            let cells = r.cells.iter().map(|c| c.value.expect("measured")).collect();
            (r.label.clone(), cells)
        })
        .collect()
}

#[test]
fn the_comparison_measures_what_each_way_costs() {
    let tours = played();
    let t = table(&tours, "paradigm-comparison");
    let row = |label: &str| -> [f64; 3] {
        let cells = &t
            .iter()
            .find(|(l, _)| l.as_str() == label)
            .unwrap_or_else(|| panic!("no row {label:?} in {t:?}"))
            .1;
        [cells[0], cells[1], cells[2]]
    };
    // Columns: request-response, queue, stream.
    let [call, queue, stream] = row("latency, median");
    assert!(
        call < queue && queue < stream,
        "medians {call} {queue} {stream}"
    );
    let [call, queue, stream] = row("latency, 99th percentile");
    assert!(
        queue < call && queue < stream,
        "p99 {call} {queue} {stream}"
    );
    // Decoupling: only the caller sees billing's outage.
    let [failed, q, s] = row("orders that failed for the shop while billing was down");
    assert!(failed > 100.0, "{failed}");
    assert_eq!([q, s], [0.0, 0.0]);
    // Ordering: competing consumers reorder; one worker and one partition per key do not.
    assert_eq!(
        row("stock updates applied out of order, before the crash").map(|v| v > 0.0),
        [false, true, false]
    );
    // Durability: what the caller could not deliver is never delivered; the others catch up.
    let [lost, q, s] = row("orders billing never got");
    assert_eq!(lost, failed);
    assert_eq!([q, s], [0.0, 0.0]);
    // Fan-out: the caller pays twice; the broker copies; the log is read twice, written once.
    let near = |v: f64, want: f64| (v - want).abs() < 0.02;
    let [c, q, s] = row("sent by the producer per order, with two consumers");
    assert!(near(c, 2.0) && near(q, 1.0) && near(s, 1.0), "{c} {q} {s}");
    let [c, q, s] = row("copies made of each order, with two consumers");
    assert!(near(c, 2.0) && near(q, 2.0) && near(s, 1.0), "{c} {q} {s}");
    // Replay: a late consumer of the log reads all of history; of a call or a queue, only
    // what came after it (it joined at 35 s of a 49 s workload).
    let [c, q, s] = row("orders the late consumer holds, of all placed");
    assert!(c < 0.4 && q < 0.4, "{c} {q}");
    assert_eq!(s, 1.0);
}
