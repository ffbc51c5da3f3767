//! A share link reproduces the run it was made from, whatever was edited live and when.
//!
//! Each seed builds a scenario (a built-in example, or a random topology drawn through the
//! editor as a user would), plays it, and makes random live edits at random moments through the
//! same paths the page uses: inspector settings of every node kind, nodes and edges added and
//! removed, bindings changed, faults, undo and redo, and seeks back that fork the run. Then the
//! link is encoded, decoded and opened in a fresh timeline, run to the same moment, and its
//! trace must hash the same as the original's, with the same state at the end.
//!
//! `SWITCHBOARD_LINK_SEEDS=N` runs more seeds; `SWITCHBOARD_SEED=S` runs one. A failure names
//! its seed. `SWITCHBOARD_DUMP_LINKS=DIR` writes each seed's link there (the fuzz corpus of
//! `fuzz/corpus/link_decode/live-edits-*.txt` came from it).

use switchboard_core::examples::EXAMPLES;
use switchboard_core::rng::SimRng;
use switchboard_core::scenario::{EdgeSpec, NodeKind, Position};
use switchboard_core::trace::TraceHash;
use switchboard_core::{Command, HeaderValue, Scenario, SimTime};
use switchboard_web::editor::Session;
use switchboard_web::fields::{self, FieldType};
use switchboard_web::link;
use switchboard_web::models::{self, PaletteItem};
use switchboard_web::timeline::Timeline;

fn pick<'a, T>(rng: &mut SimRng, items: &'a [T]) -> &'a T {
    &items[rng.range_inclusive(0, items.len() as u64 - 1) as usize]
}

/// A random value for a field, as a user might type it: mostly sensible, sometimes refused.
fn field_text(rng: &mut SimRng, ty: FieldType, name: &str) -> String {
    match ty {
        FieldType::Int => match name {
            "priority" | "x-max-priority" => rng.range_inclusive(0, 10).to_string(),
            "x-priority" => rng.range_inclusive(0, 5).to_string(),
            "crash_after" if rng.chance(0.5) => String::new(),
            "limit" | "x-expires" | "x-delivery-limit" if rng.chance(0.5) => String::new(),
            "x-message-ttl" | "x-expires" => rng.range_inclusive(50, 3000).to_string(),
            "x-max-length-bytes" | "body_bytes" => rng.range_inclusive(0, 4096).to_string(),
            _ => rng.range_inclusive(0, 20).to_string(),
        },
        FieldType::Float => match name {
            "fail_probability" => format!("{:.2}", rng.next_f64() * 0.5),
            _ => format!("{:.1}", rng.next_f64() * 30.0),
        },
        FieldType::Bool => rng.chance(0.5).to_string(),
        FieldType::Text => match name {
            "routing_key" => {
                pick(rng, &["task", "orders.eu", "orders.us.1", "", "audit"]).to_string()
            }
            "expiration" => pick(rng, &["", "500", "2000"]).to_string(),
            "x-dead-letter-exchange" | "alternate-exchange" => {
                pick(rng, &["", "dlx", "direct-x", "fanout-x"]).to_string()
            }
            _ => pick(rng, &["", "dead", "task"]).to_string(),
        },
        FieldType::Choice(options) => pick(rng, options).to_string(),
        FieldType::Duration => pick(rng, &["0ms", "5ms", "40ms", "250ms", "1s"]).to_string(),
        FieldType::Json => match name {
            "headers" => pick(rng, &["{}", r#"{"type":"report"}"#, r#"{"poison":true}"#]),
            "on_failure" => pick(rng, &[r#""nack_requeue""#, r#""reject""#, r#""nack""#]),
            "when_header" => pick(rng, &["{}", r#"{"poison":"reject"}"#]),
            _ => "{}",
        }
        .to_string(),
    }
}

fn palette() -> Vec<PaletteItem> {
    models::palette().copied().collect()
}

fn random_position(rng: &mut SimRng) -> Position {
    Position {
        x: (rng.range_inclusive(0, 40) * 20) as f64,
        y: (rng.range_inclusive(0, 30) * 20) as f64,
    }
}

fn node_names(s: &Session) -> Vec<String> {
    s.doc().nodes.iter().map(|n| n.id.clone()).collect()
}

/// Connects two random nodes if the core allows it, as the stage's drag does.
fn random_connection(rng: &mut SimRng, s: &mut Session) {
    let names = node_names(s);
    if names.len() < 2 {
        return;
    }
    let from = pick(rng, &names).clone();
    let to = pick(rng, &names).clone();
    if s.connection_refusal(&from, &to).is_some() {
        return;
    }
    let mut spec = EdgeSpec::new(&from, &to);
    match s.binding_type(&from) {
        Some("headers") => {
            spec.arguments
                .insert("x-match".into(), HeaderValue::Str("any".into()));
            spec.arguments
                .insert("type".into(), HeaderValue::Str("report".into()));
        }
        Some("topic") => {
            spec.routing_key = pick(rng, &["orders.#", "*.eu", "task", "#"]).to_string()
        }
        Some(_) => spec.routing_key = s.suggested_key(&from, "task"),
        None => {}
    }
    let _ = s.connect(spec);
}

/// A topology drawn from the palette: a few nodes, then connections where the core allows.
fn random_topology(rng: &mut SimRng) -> Session {
    let empty = Scenario::from_json(&format!(
        r#"{{"version":2,"name":"random","seed":{},"nodes":[],"edges":[]}}"#,
        rng.range_inclusive(0, 1_000_000)
    ))
    .unwrap();
    let mut s = Session::new(&empty).unwrap();
    // Always something to carry traffic, then random extras.
    for (kind, ty) in [
        ("producer", None),
        ("exchange", Some("direct")),
        ("queue", None),
        ("consumer", None),
    ] {
        s.add_node(kind, ty, random_position(rng)).unwrap();
    }
    for _ in 0..rng.range_inclusive(0, 5) {
        let item = *pick(rng, &palette());
        s.add_node(item.kind, item.variant, random_position(rng))
            .unwrap();
    }
    for _ in 0..rng.range_inclusive(4, 16) {
        random_connection(rng, &mut s);
    }
    // Busier than the palette's default of 2 a second, so the edits land among traffic.
    let rate = models::kernel::PRODUCER
        .iter()
        .find(|f| f.name == "rate_per_s")
        .unwrap();
    for n in s.doc().nodes {
        if matches!(n.kind, NodeKind::Producer(_)) {
            let text = rng.range_inclusive(10, 60).to_string();
            let spec = fields::set_node_field(&n, rate, &text).unwrap();
            s.set_node(&n.id.clone(), spec).unwrap();
        }
    }
    s
}

/// One random live edit or fault, through the editor or the timeline as the page makes them.
fn random_edit(rng: &mut SimRng, s: &mut Session) {
    let names = node_names(s);
    match rng.range_inclusive(0, 11) {
        // An inspector setting of any node kind.
        0..=3 if !names.is_empty() => {
            let name = pick(rng, &names).clone();
            let doc = s.doc();
            let spec = doc.nodes[doc.node_index(&name).unwrap()].clone();
            let table = models::fields(&spec.kind);
            if table.is_empty() {
                return;
            }
            let field = pick(rng, table);
            let text = field_text(rng, field.ty, field.name);
            if let Ok(new) = fields::set_node_field(&spec, field, &text) {
                let _ = s.set_node(&name, new);
            }
        }
        4 => {
            let item = *pick(rng, &palette());
            let _ = s.add_node(item.kind, item.variant, random_position(rng));
        }
        5 if !names.is_empty() => {
            let _ = s.delete_node(pick(rng, &names).as_str());
        }
        6 => random_connection(rng, s),
        7 => {
            let edges = switchboard_web::editor::live_edge_ids(s.timeline().sim().topology());
            if edges.is_empty() {
                return;
            }
            let edge = *pick(rng, &edges);
            if rng.chance(0.5) {
                let _ = s.delete_edge(edge);
            } else {
                let i = s.doc_edge_index(edge).unwrap();
                let mut spec = s.doc().edges[i].clone();
                if spec.routing_key.is_empty() && spec.arguments.is_empty() {
                    spec.latency = Some(switchboard_core::dist::DurationDist::constant(
                        switchboard_core::SimDuration::from_ms(rng.range_inclusive(0, 120)),
                    ));
                } else {
                    spec.routing_key = pick(rng, &["task", "orders.#", "audit"]).to_string();
                }
                let _ = s.set_edge(edge, spec);
            }
        }
        // A fault from the inspector's fault buttons.
        8 | 9 if !names.is_empty() => {
            let name = pick(rng, &names).clone();
            let topo = s.timeline().sim().topology();
            let node = topo.node_id(&name).unwrap();
            let command = match rng.range_inclusive(0, 4) {
                0 => Command::Crash { node },
                1 => Command::Restart { node },
                2 => Command::Pause { node },
                3 => Command::Resume { node },
                _ => match &topo.node(node).kind {
                    NodeKind::Producer(p) => Command::Publish {
                        node,
                        message: p.message.clone(),
                    },
                    _ => return,
                },
            };
            let _ = s.timeline_mut().apply(command);
        }
        10 => {
            let _ = if rng.chance(0.7) { s.undo() } else { s.redo() };
        }
        11 if !names.is_empty() => {
            let _ = s.move_node(pick(rng, &names).as_str(), random_position(rng));
        }
        _ => {}
    }
}

/// The trace of everything the timeline has processed, hashed; its log must hold all of it.
fn trace_hash(t: &Timeline) -> TraceHash {
    let log = t.log();
    assert!(
        log.front().is_none_or(|e| e.ordinal == 0),
        "the test run outgrew the event log; keep runs shorter"
    );
    let mut h = TraceHash::default();
    for e in log {
        h.add(&e.event, t.sim().topology());
    }
    h
}

fn play(rng: &mut SimRng, t: &mut Timeline, frames_max: u64) {
    t.play();
    for _ in 0..rng.range_inclusive(1, frames_max) {
        t.tick(16.0).unwrap();
    }
    t.pause();
}

fn check_seed(seed: u64) {
    let mut rng = SimRng::new(seed);
    let mut s = if rng.chance(0.5) {
        random_topology(&mut rng)
    } else {
        // All but the stress test, whose traffic would outgrow the event log the test reads.
        let small: Vec<_> = EXAMPLES
            .iter()
            .filter(|e| !e.0.starts_with("stress"))
            .collect();
        let (_, text) = **pick(&mut rng, &small);
        Session::new(&Scenario::from_json(text).unwrap()).unwrap()
    };
    s.timeline_mut().set_speed(4.0);
    // Edits before the run starts rebuild it; they are part of the starting document.
    for _ in 0..rng.range_inclusive(0, 2) {
        random_edit(&mut rng, &mut s);
    }
    play(&mut rng, s.timeline_mut(), 30);
    for _ in 0..rng.range_inclusive(1, 14) {
        random_edit(&mut rng, &mut s);
        if rng.chance(0.15) {
            // Back in time: the next edit forks the run there.
            let back = SimTime(s.timeline().sim().now().0 / 2);
            s.timeline_mut().seek(back).unwrap();
        } else {
            play(&mut rng, s.timeline_mut(), 12);
        }
    }
    s.timeline().sim().check_conservation().unwrap();
    // Share at the furthest point, as the page does after playing on.
    let end = s.timeline().horizon();
    s.timeline_mut().seek(end).unwrap();

    let (doc, edits) = s.shared_run();
    let fragment = link::encode(&doc, &edits);
    if let Ok(dir) = std::env::var("SWITCHBOARD_DUMP_LINKS") {
        // Seeds for the link fuzz target's corpus: links that carry live edits.
        std::fs::write(format!("{dir}/live-edits-{seed}.txt"), &fragment).unwrap();
    }
    let shared = link::decode(&fragment).expect("a link we wrote decodes");
    assert_eq!(shared.edits, edits);
    let mut opened = Timeline::new(&shared.doc)
        .expect("the link's scenario runs")
        .with_edits(shared.edits);
    opened.run_to(end).expect("the link replays");

    let a = s.timeline();
    assert_eq!(opened.sim().steps(), a.sim().steps(), "events processed");
    assert_eq!(trace_hash(&opened), trace_hash(a), "trace hash");
    assert_eq!(
        opened.sim().edit_log(),
        &edits[..],
        "every edit of the link applied"
    );
    assert_eq!(edits.len(), a.sim().edit_log().len());
    assert_eq!(
        opened.sim().metrics(),
        a.sim().metrics(),
        "state at the end"
    );
    // The opened canvas shows what the original showed, nodes where they were.
    let mut opened_session = Session::new(
        &switchboard_core::Scenario::from_json(r#"{"version":2,"nodes":[],"edges":[]}"#).unwrap(),
    )
    .unwrap();
    opened_session
        .load_run(&shared.doc, edits.clone())
        .expect("the session opens the link");
    opened_session.timeline_mut().run_to(end).unwrap();
    let (x, y) = (opened_session.doc(), s.doc());
    assert_eq!(x.nodes, y.nodes, "nodes and their places");
    assert_eq!(x.edges, y.edges);
}

#[test]
fn a_link_replays_live_edits_exactly() {
    let seeds: Vec<u64> = match std::env::var("SWITCHBOARD_SEED") {
        Ok(s) => vec![s.parse().expect("SWITCHBOARD_SEED is a number")],
        Err(_) => {
            let n = std::env::var("SWITCHBOARD_LINK_SEEDS")
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or(60);
            (0..n).collect()
        }
    };
    for seed in seeds {
        if let Err(e) = std::panic::catch_unwind(|| check_seed(seed)) {
            eprintln!(
                "link round trip failed for seed {seed}; reproduce with SWITCHBOARD_SEED={seed}"
            );
            std::panic::resume_unwind(e);
        }
    }
}
