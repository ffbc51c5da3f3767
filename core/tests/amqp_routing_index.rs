//! Routing through the route index while the bindings change under it.
//!
//! Each seed builds a broker of two topic and two direct exchanges (one with an alternate
//! exchange), bound to queues and to each other (cycles included), then plays random live
//! edits: bindings added and removed, queues deleted and declared again, exchanges deleted and
//! declared again, checkpoints taken with `Sim::snapshot` and carried on from. Between them it
//! publishes messages with random routing keys (sometimes with `CC` keys), and holds every
//! routing to a reference router that tries each live binding of the topology in turn, as
//! routing did before the index: the same queues, and the same exchanges visited in the same
//! order. `Sim::check_conservation` after every event also checks the index against the live
//! bindings. At the end, a replay of the edit log routes the same messages the same way.
//!
//! A failure names its seed; rerun it alone with
//! `SWITCHBOARD_SEED=<n> cargo test -p switchboard-core --test amqp_routing_index`.

mod common;

use serde_json::json;
use std::collections::BTreeMap;
use switchboard_core::amqp::{AmqpEvent, AmqpKind, ExchangeType, TopicPattern};
use switchboard_core::id::{MessageId, NodeId};
use switchboard_core::rng::SimRng;
use switchboard_core::scenario::NodeKind;
use switchboard_core::topology::Topology;
use switchboard_core::{Command, EventKind, Scenario, Sim, SimTime};

/// The exchanges: name, type and arguments. Each has its own producer, `p-<name>`.
const EXCHANGES: &[(&str, &str)] = &[
    ("t", "topic"),
    ("t2", "topic"),
    ("d", "direct"),
    ("d2", "direct"),
];
/// How many queue names there are (`q0`…), declared or not.
const QUEUES: usize = 6;
/// Words of routing keys and direct binding keys.
const KEY_WORDS: &[&str] = &["a", "b", "", "x", "*", "#"];
/// Words of topic binding keys.
const PATTERN_WORDS: &[&str] = &["a", "b", "", "*", "#"];

fn exchange_spec(name: &str, ty: &str) -> serde_json::Value {
    let mut config = json!({ "type": ty });
    if name == "t" {
        config["arguments"] = json!({ "alternate-exchange": "d2" });
    }
    json!({ "id": name, "kind": "exchange", "config": config })
}

fn scenario() -> Scenario {
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    for (name, ty) in EXCHANGES {
        nodes.push(json!({ "id": format!("p-{name}"), "kind": "producer" }));
        nodes.push(exchange_spec(name, ty));
        edges.push(json!({ "from": format!("p-{name}"), "to": name, "latency": "1ms" }));
    }
    for q in 0..QUEUES {
        nodes.push(json!({ "id": format!("q{q}"), "kind": "queue" }));
    }
    let doc = json!({ "version": 2, "name": "route index", "seed": 1,
                      "nodes": nodes, "edges": edges });
    Scenario::from_json(&doc.to_string()).expect("a valid scenario")
}

/// A key of 0 to 3 words from `alphabet`.
fn key(rng: &mut SimRng, alphabet: &[&str]) -> String {
    let n = rng.range_inclusive(0, 3);
    (0..n)
        .map(|_| alphabet[rng.range_inclusive(0, alphabet.len() as u64 - 1) as usize])
        .collect::<Vec<_>>()
        .join(".")
}

fn pick<'a, T>(rng: &mut SimRng, items: &'a [T]) -> Option<&'a T> {
    if items.is_empty() {
        None
    } else {
        Some(&items[rng.range_inclusive(0, items.len() as u64 - 1) as usize])
    }
}

fn exchange_config(topo: &Topology, x: NodeId) -> &switchboard_core::amqp::ExchangeConfig {
    match &topo.node(x).kind {
        NodeKind::Amqp(AmqpKind::Exchange(cfg)) => cfg,
        other => panic!("not an exchange: {other:?}"),
    }
}

/// The reference router: from exchange `first`, each live binding tried in turn, as routing
/// worked before the index. The queues reached (sorted, each once) and the further exchanges
/// visited, in order.
fn reference(topo: &Topology, first: NodeId, keys: &[String]) -> (Vec<NodeId>, Vec<NodeId>) {
    let mut dests = Vec::new();
    let mut work = vec![first];
    let mut i = 0;
    while i < work.len() {
        let x = work[i];
        i += 1;
        let cfg = exchange_config(topo, x);
        let mut routed = false;
        for &e in &topo.node(x).out {
            let edge = topo.edge(e);
            let hit = match cfg.kind {
                ExchangeType::Topic => {
                    let p = TopicPattern::new(&edge.routing_key).expect("valid pattern");
                    keys.iter().any(|k| p.matches(k))
                }
                ExchangeType::Direct => keys.contains(&edge.routing_key),
                ExchangeType::Fanout | ExchangeType::Headers => unreachable!("not built here"),
            };
            if !hit {
                continue;
            }
            routed = true;
            match &topo.node(edge.to).kind {
                NodeKind::Amqp(AmqpKind::Exchange(_)) => {
                    if !work.contains(&edge.to) {
                        work.push(edge.to);
                    }
                }
                NodeKind::Amqp(AmqpKind::Queue(_)) => dests.push(edge.to),
                other => panic!("a binding to {other:?}"),
            }
        }
        if !routed {
            if let Some(ae) = cfg.arguments.alternate_exchange.as_deref() {
                if let Some(ae) = topo.node_id(ae) {
                    if !work.contains(&ae) {
                        work.push(ae);
                    }
                }
            }
        }
    }
    dests.sort_unstable();
    dests.dedup();
    work.remove(0);
    (dests, work)
}

/// Steps `sim` to `until`, checking conservation (and so the route index) after every event,
/// and returns the routings of the messages published meanwhile: message → (queues, path).
fn run(sim: &mut Sim, until: SimTime) -> BTreeMap<MessageId, (Vec<NodeId>, Vec<NodeId>)> {
    let mut routed = BTreeMap::new();
    let mut collect = |sim: &mut Sim| {
        for e in sim.drain_events() {
            if let EventKind::Amqp(AmqpEvent::Routed { message, route, .. }) = e.kind {
                let queues = route.targets.iter().map(|(q, _)| *q).collect();
                routed.insert(message, (queues, route.path.clone()));
            }
        }
    };
    collect(sim);
    while sim.next_event_time().is_some_and(|t| t <= until) {
        sim.step();
        if let Err(e) = sim.check_conservation() {
            panic!("after step {} at {}: {e}", sim.steps(), sim.now());
        }
        collect(sim);
    }
    sim.advance_to(until);
    routed
}

/// The message's routing keys: a routing key, and sometimes CC keys.
fn message(rng: &mut SimRng) -> (serde_json::Value, Vec<String>) {
    let mut keys = vec![key(rng, KEY_WORDS)];
    let mut template = json!({ "routing_key": keys[0] });
    if rng.chance(0.3) {
        let cc: Vec<String> = (0..rng.range_inclusive(1, 2))
            .map(|_| key(rng, KEY_WORDS))
            .collect();
        template["headers"] = json!({ "CC": cc });
        keys.extend(cc);
    }
    (template, keys)
}

/// Publishes from exchange `x`'s producer and routes it: the routing, or `None` if it went
/// nowhere.
fn publish(
    sim: &mut Sim,
    x: &str,
    template: &serde_json::Value,
) -> Option<(Vec<NodeId>, Vec<NodeId>)> {
    let node = sim.topology().node_id(&format!("p-{x}")).expect("producer");
    let message = serde_json::from_value(template.clone()).expect("a template");
    sim.apply(Command::Publish { node, message })
        .expect("publishes");
    let id = sim
        .drain_events()
        .find_map(|e| match e.kind {
            EventKind::Published { message, .. } => Some(message),
            _ => None,
        })
        .expect("a published event");
    let until = sim.now() + switchboard_core::SimDuration::from_ms(2);
    run(sim, until).remove(&id)
}

/// One random live edit (`roll`, 0 to 99: which kind).
fn edit(sim: &mut Sim, rng: &mut SimRng, roll: u64) {
    let topo = sim.topology();
    let live_queues: Vec<String> = (0..QUEUES)
        .map(|q| format!("q{q}"))
        .filter(|q| topo.node_id(q).is_some())
        .collect();
    let command = if roll < 50 {
        // Bind an exchange to a queue or to another exchange.
        let (x, ty) = *pick(rng, EXCHANGES).expect("exchanges");
        let to = if rng.chance(0.2) {
            pick(rng, EXCHANGES).expect("exchanges").0.to_owned()
        } else {
            match pick(rng, &live_queues) {
                Some(q) => q.clone(),
                None => return,
            }
        };
        let routing_key = if ty == "topic" {
            key(rng, PATTERN_WORDS)
        } else {
            key(rng, KEY_WORDS)
        };
        let (from, to_id) = (topo.node_id(x).expect("x"), topo.node_id(&to).expect("to"));
        if to == x
            || TopicPattern::new(&routing_key).is_err() && ty == "topic"
            || topo.edge_between(from, to_id, Some(&routing_key)).is_some()
        {
            return;
        }
        let spec = json!({ "from": x, "to": to, "routing_key": routing_key });
        Command::AddEdge {
            spec: serde_json::from_value(spec).expect("an edge spec"),
        }
    } else if roll < 75 {
        // Unbind.
        let bindings: Vec<_> = EXCHANGES
            .iter()
            .flat_map(|(x, _)| topo.node(topo.node_id(x).expect("x")).out.clone())
            .filter(|&e| {
                matches!(
                    topo.node(topo.edge(e).to).kind,
                    NodeKind::Amqp(AmqpKind::Exchange(_) | AmqpKind::Queue(_))
                )
            })
            .collect();
        match pick(rng, &bindings) {
            Some(&edge) => Command::RemoveEdge { edge },
            None => return,
        }
    } else if roll < 83 {
        // Delete a queue, or declare one.
        let q = format!("q{}", rng.range_inclusive(0, QUEUES as u64 - 1));
        match topo.node_id(&q) {
            Some(node) => Command::RemoveNode { node },
            None => Command::AddNode {
                spec: serde_json::from_value(json!({ "id": q, "kind": "queue" }))
                    .expect("a node spec"),
            },
        }
    } else if roll < 88 {
        // Delete an exchange and declare it again, with its publish edge.
        let (x, ty) = *pick(rng, EXCHANGES).expect("exchanges");
        let node = topo.node_id(x).expect("x");
        sim.apply(Command::RemoveNode { node }).expect("removed");
        sim.apply(Command::AddNode {
            spec: serde_json::from_value(exchange_spec(x, ty)).expect("a node spec"),
        })
        .expect("declared");
        let spec = json!({ "from": format!("p-{x}"), "to": x, "latency": "1ms" });
        Command::AddEdge {
            spec: serde_json::from_value(spec).expect("an edge spec"),
        }
    } else {
        // Carry on from a checkpoint.
        sim.drain_events().for_each(drop);
        *sim = sim.snapshot();
        return;
    };
    sim.apply(command).expect("a valid live edit");
    sim.check_conservation().expect("conserved after the edit");
}

/// Runs seed `seed`; returns how many publishes went to exchanges of more than 8 bindings
/// (`true`: looked up in the index) and of at most 8 (`false`: scanned).
fn check_seed(seed: u64) -> BTreeMap<bool, u32> {
    let s = scenario();
    let mut sim = Sim::new(&s).expect("valid");
    let mut rng = SimRng::new(seed);
    // Enough bindings that exchanges cross `SCAN_UP_TO` (8) both ways: up to it they are
    // scanned, beyond it looked up in the index.
    for _ in 0..60 {
        edit(&mut sim, &mut rng, 0); // bind
    }
    let mut published = 0;
    // Publishes to exchanges with more than 8 bindings (looked up in the index), and not.
    let mut by_size: BTreeMap<bool, u32> = BTreeMap::new();
    for step in 0..200 {
        if rng.chance(0.4) {
            let roll = rng.range_inclusive(0, 99);
            edit(&mut sim, &mut rng, roll);
            continue;
        }
        let (x, _) = *pick(&mut rng, EXCHANGES).expect("exchanges");
        let (template, keys) = message(&mut rng);
        let got = publish(&mut sim, x, &template);
        let topo = sim.topology();
        let (queues, path) = reference(topo, topo.node_id(x).expect("x"), &keys);
        let want = (!queues.is_empty()).then_some((queues, path));
        assert_eq!(
            got,
            want,
            "step {step}: from {x:?} with keys {keys:?}; bindings now: {:?}",
            bindings(topo)
        );
        published += 1;
        let bound = topo.node(topo.node_id(x).expect("x")).out.len();
        *by_size.entry(bound > 8).or_insert(0) += 1;
    }
    assert!(published > 80, "the run published ({published})");
    // A replay of the edit log rebuilds the index: it routes as the live run does.
    let mut replayed =
        Sim::replay(&s, sim.seed(), sim.edit_log(), sim.now()).expect("the run replays");
    replayed
        .check_conservation()
        .expect("the replayed index agrees");
    sim.drain_events().for_each(drop);
    replayed.drain_events().for_each(drop);
    for _ in 0..20 {
        let (x, _) = *pick(&mut rng, EXCHANGES).expect("exchanges");
        let (template, keys) = message(&mut rng);
        assert_eq!(
            publish(&mut sim, x, &template),
            publish(&mut replayed, x, &template),
            "from {x:?} with keys {keys:?}"
        );
    }
    by_size
}

/// The live bindings, for failure messages.
fn bindings(topo: &Topology) -> Vec<(String, String, String)> {
    EXCHANGES
        .iter()
        .flat_map(|(x, _)| topo.node(topo.node_id(x).expect("x")).out.clone())
        .map(|e| {
            let edge = topo.edge(e);
            (
                topo.node(edge.from).name.clone(),
                topo.node(edge.to).name.clone(),
                edge.routing_key.clone(),
            )
        })
        .collect()
}

#[test]
fn routing_through_the_index_follows_live_edits() {
    let runs = common::sweep("amqp_routing_index", 60, check_seed);
    if common::single_seed() {
        return;
    }
    for indexed in [false, true] {
        let n: u32 = runs.iter().filter_map(|r| r.get(&indexed)).sum();
        assert!(
            n > 100,
            "publishes to exchanges of {} 8 bindings: {n}",
            if indexed { "more than" } else { "at most" }
        );
    }
}
