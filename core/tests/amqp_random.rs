//! Randomized AMQP topologies with random consumer behaviour, checked after every event.
//!
//! Each seed builds a random broker: producers (some `mandatory`, some with publisher
//! confirms), exchanges of every type (alternate exchanges, exchange-to-exchange bindings,
//! cycles), queues with random arguments (TTL, length limits and overflow modes, dead-letter
//! exchanges, priorities, delivery limits, single active consumer, auto-delete, `x-expires`),
//! and consumers with random prefetch, priorities, failure behaviour and crashes. Scripted
//! actions and live commands crash, restart, settle by hand, remove nodes and edges and add new
//! ones, pause and resume consumers, configure consumers and producers, redeclare queues and
//! exchanges (refused with 406 unless only the position changes), and publish poison
//! messages. `run_checked` calls `Sim::check_conservation` after every event, which checks where
//! every message is and the broker's unacked counters against the deliveries actually out.
//!
//! On top of that, each run's trace is checked against the rules of SEMANTICS.md §1 (the
//! `oracle` module): routing against a reference router while the topology is the initial one,
//! mandatory returns, publisher confirms (ack/nack and sequence numbers), delivery tags and
//! settlements, `redelivered`, single active consumer, what follows a settlement or a consumer
//! crash (requeue, dead-letter, quorum delivery limit), TTL, `x-death`, reject-publish limits
//! and delivery order (FIFO, requeue to the original position, priorities, quorum returns
//! first). Every 20 ms of simulated time, no queue may sit on ready messages that a consumer
//! with room could take.
//!
//! The sweep runs seeds `0..SWITCHBOARD_SWEEP_SEEDS` (default 150). A failure names its seed;
//! rerun it alone with `SWITCHBOARD_SEED=<n> cargo test -p switchboard-core --test amqp_random`.
//! `SWITCHBOARD_PRINT_SCENARIO=1` also prints the generated scenario, and
//! `SWITCHBOARD_PRINT_TRACE=1` the trace (add `-- --nocapture`).
//!
//! The tests at the end reproduce, in small scenarios, bugs that the sweep found.

mod common;

use common::{of_type, run_checked};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use switchboard_core::amqp::AmqpKind;
use switchboard_core::amqp::Settlement;
use switchboard_core::rng::SimRng;
use switchboard_core::scenario::{EdgeSpec, NodeSpec};
use switchboard_core::trace::TraceHash;
use switchboard_core::{Command, MessageTemplate, Scenario, Sim, SimTime};

/// The generator's random source: a [`SimRng`] with a few conveniences.
struct Gen(SimRng);

impl Gen {
    fn int(&mut self, lo: u64, hi: u64) -> u64 {
        self.0.range_inclusive(lo, hi)
    }

    fn p(&mut self, p: f64) -> bool {
        self.0.chance(p)
    }

    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.int(0, xs.len() as u64 - 1) as usize]
    }

    /// A duration string of `lo_us..=hi_us` microseconds.
    fn us(&mut self, lo_us: u64, hi_us: u64) -> String {
        format!("{}us", self.int(lo_us, hi_us))
    }

    /// A duration distribution with every draw in `lo_ms..=hi_ms` (an exponential's mean).
    fn dist(&mut self, lo_ms: u64, hi_ms: u64) -> Value {
        let (lo, hi) = (lo_ms * 1000, hi_ms * 1000);
        match self.int(0, 2) {
            0 => json!(self.us(lo, hi)),
            1 => {
                let a = self.int(lo, hi);
                let b = self.int(a, hi);
                json!({"dist": "uniform", "min": format!("{a}us"), "max": format!("{b}us")})
            }
            _ => json!({"dist": "exponential", "mean": self.us(lo.max(1), hi.max(1))}),
        }
    }
}

/// What the generator knows about the topology it is building.
struct Names {
    producers: Vec<String>,
    exchanges: Vec<(String, &'static str)>,
    queues: Vec<(String, bool)>,    // (name, quorum)
    consumers: Vec<(String, bool)>, // (name, auto_ack)
}

/// A header (or binding argument) name and a maker of its value.
type Pair = (&'static str, fn() -> Value);

const HEADERS: &[Pair] = &[
    ("h1", || json!(1)),
    ("h1", || json!(2)),
    ("h2", || json!("x")),
    ("h3", || json!(1.0)),
    ("x-foo", || json!(1)),
    ("fail", || json!(true)),
];

/// Binding arguments of headers exchanges: values that match, values that do not (`1` is not
/// `1.0`), void (presence), and an `x-` argument that only the `-with-x` modes consider.
const BINDING_ARGS: &[Pair] = &[
    ("h1", || json!(1)),
    ("h1", || json!(2)),
    ("h2", || json!("x")),
    ("h2", || Value::Null),
    ("h3", || json!(1.0)),
    ("h3", || json!(1)),
    ("x-foo", || json!(1)),
    ("fail", || Value::Null),
];

const TOPIC_WORDS: &[&str] = &["a", "b", "c", "*", "#", ""];

fn routing_keys(n: &Names) -> Vec<String> {
    let mut ks: Vec<String> = ["a", "b", "a.b", "a.b.c", "b.c", "c", "", "a..b", "x"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    ks.extend(n.queues.iter().map(|(q, _)| q.clone()));
    ks
}

fn template(g: &mut Gen, n: &Names) -> Value {
    let mut m = Map::new();
    let keys = routing_keys(n);
    m.insert("routing_key".into(), json!(g.pick(&keys)));
    if g.p(0.6) {
        let mut h = Map::new();
        for _ in 0..g.int(1, 3) {
            let (k, v) = g.pick(HEADERS);
            h.insert(k.to_string(), v());
        }
        if g.p(0.1) {
            // CC routes to more keys; BCC too, and is stripped before delivery.
            let cc = if g.p(0.5) { "CC" } else { "BCC" };
            h.insert(cc.into(), json!([g.pick(&keys), g.pick(&keys)]));
        }
        m.insert("headers".into(), Value::Object(h));
    }
    m.insert("body_bytes".into(), json!(g.int(0, 400)));
    if g.p(0.35) {
        m.insert(
            "expiration".into(),
            json!(*g.pick(&["0", "5", "50", "200", "1000"])),
        );
    }
    if g.p(0.35) {
        let p = if g.p(0.9) {
            g.int(0, 10)
        } else {
            g.int(0, 255)
        };
        m.insert("priority".into(), json!(p));
    }
    Value::Object(m)
}

fn topic_key(g: &mut Gen) -> String {
    loop {
        let words: Vec<&str> = (0..g.int(0, 4)).map(|_| *g.pick(TOPIC_WORDS)).collect();
        if words.iter().filter(|w| **w == "#").count() <= 2 {
            return words.join(".");
        }
    }
}

/// A binding from an exchange of type `kind`.
fn binding(g: &mut Gen, n: &Names, from: &str, kind: &str, to: &str) -> Value {
    let mut e = json!({"from": from, "to": to});
    match kind {
        "direct" => e["routing_key"] = json!(g.pick(&routing_keys(n))),
        "topic" => e["routing_key"] = json!(topic_key(g)),
        "fanout" => {
            if g.p(0.2) {
                e["routing_key"] = json!("ignored");
            }
        }
        _ => {
            let mut args = Map::new();
            match g.int(0, 4) {
                0 => {}
                1 => {
                    args.insert("x-match".into(), json!("all"));
                }
                2 => {
                    args.insert("x-match".into(), json!("any"));
                }
                3 => {
                    args.insert("x-match".into(), json!("all-with-x"));
                }
                _ => {
                    args.insert("x-match".into(), json!("any-with-x"));
                }
            }
            for _ in 0..g.int(0, 3) {
                let (k, v) = g.pick(BINDING_ARGS);
                args.insert(k.to_string(), v());
            }
            e["arguments"] = Value::Object(args);
        }
    }
    e
}

fn queue(g: &mut Gen, name: &str, quorum: bool, exchanges: &[(String, &str)]) -> Value {
    let mut a = Map::new();
    a.insert(
        "x-queue-type".into(),
        json!(if quorum { "quorum" } else { "classic" }),
    );
    if g.p(0.3) {
        a.insert(
            "x-message-ttl".into(),
            json!(*g.pick(&[0u64, 5, 20, 100, 500])),
        );
    }
    let mut limited = false;
    if g.p(0.3) {
        a.insert("x-max-length".into(), json!(*g.pick(&[0u64, 1, 2, 5, 20])));
        limited = true;
    }
    if g.p(0.15) {
        a.insert(
            "x-max-length-bytes".into(),
            json!(*g.pick(&[0u64, 100, 1000, 5000])),
        );
        limited = true;
    }
    if limited || g.p(0.1) {
        let modes: &[&str] = if quorum {
            &["drop-head", "reject-publish"]
        } else {
            &["drop-head", "reject-publish", "reject-publish-dlx"]
        };
        a.insert("x-overflow".into(), json!(*g.pick(modes)));
    }
    if g.p(0.5) {
        let dlx = match g.int(0, 5) {
            0 => String::new(),
            1 => "no-such-exchange".to_owned(),
            _ => g.pick(exchanges).0.clone(),
        };
        a.insert("x-dead-letter-exchange".into(), json!(dlx));
        if g.p(0.4) {
            let k = *g.pick(&["a", "b", "a.b", "c", "", "q0", "q1", "q2"]);
            a.insert("x-dead-letter-routing-key".into(), json!(k));
        }
    }
    if !quorum && g.p(0.25) {
        a.insert(
            "x-max-priority".into(),
            json!(*g.pick(&[0i64, 1, 5, 10, 255])),
        );
    }
    if quorum && g.p(0.6) {
        a.insert(
            "x-delivery-limit".into(),
            json!(*g.pick(&[-1i64, 0, 0, 1, 2, 5])),
        );
    }
    if g.p(0.2) {
        a.insert("x-single-active-consumer".into(), json!(true));
    }
    if g.p(0.1) {
        a.insert(
            "x-expires".into(),
            json!(*g.pick(&[100u64, 500, 1500, 3000])),
        );
    }
    let mut c = json!({"arguments": Value::Object(a)});
    // Drawn for every queue, so the stream does not depend on the type; quorum queues cannot
    // be auto-delete (406).
    if g.p(0.1) && !quorum {
        c["auto_delete"] = json!(true);
    }
    if !quorum && g.p(0.1) {
        c["durable"] = json!(false);
    }
    json!({"id": name, "kind": "queue", "config": c})
}

fn settlement(g: &mut Gen) -> Value {
    match g.int(0, 4) {
        0 => json!({"action": "reject", "requeue": g.p(0.5)}),
        1 => json!({"action": "nack", "requeue": g.p(0.5)}),
        2 => json!({"action": "ack"}),
        3 => json!({"action": "reject"}), // requeue defaults to true
        _ => json!({"action": "nack"}),
    }
}

fn consumer(g: &mut Gen, name: &str, any_quorum: bool) -> (Value, bool) {
    let mut c = Map::new();
    c.insert("prefetch_count".into(), json!(g.int(0, 5)));
    if !any_quorum && g.p(0.3) {
        c.insert("global_prefetch_count".into(), json!(g.int(1, 5)));
    }
    let auto_ack = g.p(0.15);
    if auto_ack {
        c.insert("auto_ack".into(), json!(true));
    }
    if g.p(0.35) {
        c.insert(
            "arguments".into(),
            json!({"x-priority": g.int(0, 3) as i64 - 1}),
        );
    }
    c.insert("processing".into(), g.dist(0, 25));
    if !auto_ack {
        if g.p(0.35) {
            let mut rules = Vec::new();
            for _ in 0..g.int(1, 2) {
                let (k, v) = g.pick(HEADERS);
                let mut r = json!({"header": k, "then": settlement(g)});
                if g.p(0.6) {
                    r["equals"] = v();
                }
                rules.push(r);
            }
            if g.p(0.3) {
                // Messages that died once are taken in.
                rules.insert(
                    0,
                    json!({"header": "x-first-death-reason", "then": {"action": "ack"}}),
                );
            }
            c.insert("when_header".into(), json!(rules));
        }
        if g.p(0.5) {
            let p = *g.pick(&[0.05, 0.2, 0.5, 0.9]);
            c.insert("fail_probability".into(), json!(p));
            c.insert("on_failure".into(), settlement(g));
        }
    }
    if g.p(0.12) {
        c.insert("crash_after".into(), json!(g.int(1, 20)));
    }
    (
        json!({"id": name, "kind": "consumer", "config": Value::Object(c)}),
        auto_ack,
    )
}

/// `node` (a producer or consumer, as in a document) with new random settings that `configure`
/// accepts: a consumer keeps `auto_ack`, `arguments`, and whether it has a global prefetch (it
/// may consume from a quorum queue); a producer keeps its message and AMQP flags, which the rule
/// checks read from the document.
fn reconfigure(g: &mut Gen, node: &Value) -> Value {
    let mut node = node.clone();
    let consumer = node["kind"] == "consumer";
    let c = node["config"].as_object_mut().expect("a config");
    if consumer {
        c.insert("prefetch_count".into(), json!(g.int(0, 6)));
        if c.contains_key("global_prefetch_count") {
            c.insert("global_prefetch_count".into(), json!(g.int(1, 6)));
        }
        if g.p(0.7) {
            c.insert("processing".into(), g.dist(0, 25));
        }
        let auto_ack = c.get("auto_ack") == Some(&json!(true));
        if !auto_ack && g.p(0.4) {
            c.insert("fail_probability".into(), json!(*g.pick(&[0.0, 0.1, 0.5])));
        }
        if g.p(0.2) {
            c.insert("crash_after".into(), json!(g.int(1, 30)));
        }
    } else {
        let rate = match g.int(0, 4) {
            0 => 0,
            1 | 2 => g.int(1, 60),
            _ => g.int(60, 250),
        };
        c.insert("rate_per_s".into(), json!(rate));
        c.insert("arrival".into(), json!(*g.pick(&["poisson", "constant"])));
        if g.p(0.3) {
            c.insert("limit".into(), json!(g.int(0, 300)));
        } else {
            c.remove("limit");
        }
        if g.p(0.2) {
            c.insert("start".into(), json!(g.us(0, 2_000_000)));
        }
    }
    node
}

/// A random valid scenario for `seed`, and how long to run it.
fn random_scenario(seed: u64) -> (Value, SimTime) {
    let mut g = Gen(SimRng::new(seed ^ 0xa3a9_0001));
    let mut names = Names {
        producers: (0..g.int(1, 3)).map(|i| format!("p{i}")).collect(),
        exchanges: Vec::new(),
        queues: Vec::new(),
        consumers: Vec::new(),
    };
    for i in 0..g.int(1, 4) {
        let kind = *g.pick(&["direct", "fanout", "topic", "headers"]);
        names.exchanges.push((format!("x{i}"), kind));
    }
    for i in 0..g.int(1, 5) {
        names.queues.push((format!("q{i}"), g.p(0.3)));
    }
    let mut nodes: Vec<Value> = Vec::new();
    let mut edges: Vec<Value> = Vec::new();
    let mut seen: Vec<(String, String)> = Vec::new();
    let mut edge = |edges: &mut Vec<Value>, e: Value| {
        let key = (
            e["from"].as_str().unwrap().to_owned(),
            e["to"].as_str().unwrap().to_owned(),
        );
        if key.0 != key.1 && !seen.contains(&key) {
            seen.push(key);
            edges.push(e);
        }
    };

    // Producers, each publishing to one or two exchanges or queues (the default exchange).
    for p in names.producers.clone() {
        // Mostly modest rates, sometimes up to 400/s: the check after every event costs in
        // proportion to the messages alive, and queues without consumers fill up.
        let rate = match g.int(0, 19) {
            0 | 1 => 0,
            2..=11 => g.int(1, 60),
            12..=17 => g.int(60, 200),
            _ => g.int(200, 400),
        };
        let mut c = json!({
            "rate_per_s": rate,
            "arrival": *g.pick(&["poisson", "constant"]),
            "message": template(&mut g, &names),
        });
        if g.p(0.2) {
            c["limit"] = json!(g.int(0, 300));
        }
        if g.p(0.3) {
            c["start"] = json!(g.us(0, 500_000));
        }
        if g.p(0.4) {
            c["mandatory"] = json!(true);
        }
        if g.p(0.5) {
            c["publisher_confirms"] = json!(true);
        }
        nodes.push(json!({"id": p, "kind": "producer", "config": c}));
        for _ in 0..g.int(1, 2) {
            let to = if g.p(0.7) {
                g.pick(&names.exchanges).0.clone()
            } else {
                g.pick(&names.queues).0.clone()
            };
            let mut e = json!({"from": p, "to": to});
            if g.p(0.7) {
                e["latency"] = g.dist(0, 30);
            }
            edge(&mut edges, e);
        }
    }

    // Exchanges, with alternate exchanges (some missing, some forming chains or loops).
    for (x, kind) in &names.exchanges {
        let mut c = json!({"type": kind});
        if g.p(0.3) {
            let ae = if g.p(0.2) {
                "no-such-ae".to_owned()
            } else {
                g.pick(&names.exchanges).0.clone()
            };
            c["arguments"] = json!({"alternate-exchange": ae});
        }
        nodes.push(json!({"id": x, "kind": "exchange", "config": c}));
    }
    // Bindings: exchange → queue and exchange → exchange (cycles allowed).
    for (x, kind) in names.exchanges.clone() {
        for _ in 0..g.int(0, 4) {
            let to = if g.p(0.25) {
                g.pick(&names.exchanges).0.clone()
            } else {
                g.pick(&names.queues).0.clone()
            };
            let b = binding(&mut g, &names, &x, kind, &to);
            edge(&mut edges, b);
        }
    }

    // Exclusive queues (classic only) belong to the first consumer that consumes from them.
    let mut owner: BTreeMap<String, Option<String>> = BTreeMap::new();
    for (q, quorum) in names.queues.clone() {
        let mut node = queue(&mut g, &q, quorum, &names.exchanges);
        if !quorum && g.p(0.08) {
            node["config"]["exclusive"] = json!(true);
            owner.insert(q, None);
        }
        nodes.push(node);
    }

    // Consumers, each on one or two queues.
    for i in 0..g.int(1, 5) {
        let name = format!("c{i}");
        let mut mine: Vec<(String, bool)> = Vec::new();
        for _ in 0..g.int(1, 2) {
            let q = g.pick(&names.queues).clone();
            if let Some(o) = owner.get_mut(&q.0) {
                match o {
                    Some(other) if *other != name => continue,
                    _ => *o = Some(name.clone()),
                }
            }
            if !mine.contains(&q) {
                mine.push(q);
            }
        }
        let any_quorum = mine.iter().any(|(_, quorum)| *quorum);
        let (node, auto_ack) = consumer(&mut g, &name, any_quorum);
        nodes.push(node);
        for (q, _) in mine {
            // A consume edge takes at least 1 ms each way, so a consumer that always requeues
            // cannot spin at one instant.
            let e = json!({"from": q, "to": name, "latency": g.dist(1, 20)});
            edge(&mut edges, e);
        }
        names.consumers.push((name, auto_ack));
    }

    // Scripted actions.
    let end_ms = g.int(3_000, 3_500);
    let mut actions: Vec<Value> = Vec::new();
    for _ in 0..g.int(0, 12) {
        let at_us = g.int(0, end_ms * 1000);
        let at = format!("{at_us}us");
        let a = match g.int(0, 14) {
            0 | 1 => {
                // A consumer crash, and its restart a little later.
                let (c, _) = g.pick(&names.consumers).clone();
                let back_at = format!("{}us", at_us + g.int(0, 800_000));
                actions.push(json!({"at": back_at, "do": "restart", "node": c}));
                json!({"at": at, "do": "crash", "node": c})
            }
            2 => {
                let p = g.pick(&names.producers).clone();
                if g.p(0.5) {
                    json!({"at": at, "do": "crash", "node": p})
                } else {
                    json!({"at": at, "do": "restart", "node": p})
                }
            }
            3..=5 => {
                let manual: Vec<String> = names
                    .consumers
                    .iter()
                    .filter(|(_, auto)| !auto)
                    .map(|(c, _)| c.clone())
                    .collect();
                if manual.is_empty() {
                    continue;
                }
                let c = g.pick(&manual).clone();
                let mut a = json!({"at": at, "node": c});
                a["do"] = json!(*g.pick(&["ack", "nack", "reject"]));
                if g.p(0.5) {
                    a["delivery_tag"] = json!(g.int(1, 30));
                }
                if a["do"] != "reject" && g.p(0.4) {
                    a["multiple"] = json!(true);
                }
                if a["do"] != "ack" && g.p(0.5) {
                    a["requeue"] = json!(g.p(0.5));
                }
                a
            }
            6 => {
                let node = match g.int(0, 3) {
                    0 => g.pick(&names.queues).0.clone(),
                    1 => g.pick(&names.consumers).0.clone(),
                    2 => g.pick(&names.exchanges).0.clone(),
                    _ => g.pick(&names.producers).clone(),
                };
                json!({"at": at, "do": "remove_node", "node": node})
            }
            7 | 8 => {
                // A new binding, consume or publish path.
                let e = match g.int(0, 2) {
                    0 => {
                        let (x, kind) = g.pick(&names.exchanges).clone();
                        let to = if g.p(0.3) {
                            g.pick(&names.exchanges).0.clone()
                        } else {
                            g.pick(&names.queues).0.clone()
                        };
                        if to == x {
                            continue;
                        }
                        binding(&mut g, &names, &x, kind, &to)
                    }
                    1 => {
                        let (q, _) = g.pick(&names.queues).clone();
                        let (c, _) = g.pick(&names.consumers).clone();
                        json!({"from": q, "to": c, "latency": g.dist(1, 20)})
                    }
                    _ => {
                        let p = g.pick(&names.producers).clone();
                        let to = g.pick(&names.queues).0.clone();
                        json!({"from": p, "to": to, "latency": g.dist(0, 30)})
                    }
                };
                json!({"at": at, "do": "add_edge", "edge": e})
            }
            9 | 10 => {
                if edges.is_empty() {
                    continue;
                }
                let e = g.pick(&edges).clone();
                json!({"at": at, "do": "remove_edge", "from": e["from"], "to": e["to"]})
            }
            12 => {
                // The application stalls, and runs again a little later (or not).
                let (c, _) = g.pick(&names.consumers).clone();
                if g.p(0.8) {
                    let back_at = format!("{}us", at_us + g.int(0, 800_000));
                    actions.push(json!({"at": back_at, "do": "resume", "node": c}));
                }
                json!({"at": at, "do": "pause", "node": c})
            }
            13 => {
                let (c, _) = g.pick(&names.consumers).clone();
                let node = nodes
                    .iter()
                    .find(|n| n["id"] == c.as_str())
                    .expect("a consumer");
                json!({"at": at, "do": "configure", "node": reconfigure(&mut g, node)})
            }
            14 => {
                let p = g.pick(&names.producers).clone();
                let node = nodes
                    .iter()
                    .find(|n| n["id"] == p.as_str())
                    .expect("a producer");
                json!({"at": at, "do": "configure", "node": reconfigure(&mut g, node)})
            }
            _ => {
                let p = g.pick(&names.producers).clone();
                let mut message = template(&mut g, &names);
                if g.p(0.15) {
                    message["poison"] = json!(true);
                }
                json!({"at": at, "do": "publish", "node": p, "message": message})
            }
        };
        actions.push(a);
    }

    let doc = json!({
        "version": 1,
        "name": format!("amqp random {seed}"),
        "seed": seed,
        "nodes": nodes,
        "edges": edges,
        "actions": actions,
    });
    (doc, SimTime(end_ms * 1000))
}

fn parse(seed: u64) -> (Scenario, SimTime, Value) {
    let (doc, until) = random_scenario(seed);
    let text = serde_json::to_string_pretty(&doc).expect("serialises");
    if std::env::var("SWITCHBOARD_PRINT_SCENARIO").is_ok() {
        println!("{text}");
    }
    let s = Scenario::from_json(&text).unwrap_or_else(|d| {
        panic!("generator bug: seed {seed} made a scenario that is refused:\n{d}\n{text}")
    });
    (s, until, doc)
}

/// The event types the sweep must produce, to show that the generator reaches them.
const MUST_OCCUR: &[&str] = &[
    "configured",
    "paused",
    "resumed",
    "routed",
    "enqueued",
    "delivered",
    "acked",
    "nacked",
    "rejected",
    "requeued",
    "expired",
    "dead_lettered",
    "dropped",
    "confirmed",
    "publish_nacked",
    "returned",
    "consumed",
    "queue_deleted",
    "consumer_activated",
    "channel_error",
    "crashed",
    "restarted",
    "removed",
];

/// Drop reasons the sweep must produce.
const MUST_DROP: &[&str] = &[
    "unroutable",
    "returned",
    "reject_publish",
    "maxlen",
    "expired",
    "rejected",
    "delivery_limit",
    "dead_letter_cycle",
    "dead_letter_unroutable",
    "queue_deleted",
    "lost_in_crash",
    "node_down",
];

/// Ways of deleting a queue the sweep must produce.
const MUST_DELETE: &[&str] = &[
    "queue_deleted:deleted",
    "queue_deleted:auto_delete",
    "queue_deleted:x-expires",
    "queue_deleted:exclusive",
];

/// Rule checks of the `oracle` module that the sweep must exercise.
const MUST_CHECK: &[&str] = &[
    "checked: routing against the reference",
    "checked: publisher confirms",
    "checked: what follows a settlement or a crash",
    "checked: delivery tags",
    "checked: delivery order",
    "checked: expiry times",
    "checked: x-death",
];

/// Runs one seed with live commands between checked slices; returns event and drop counts.
fn check_seed(seed: u64) -> BTreeMap<String, u64> {
    let (s, until, mut doc) = parse(seed);
    let mut sim = Sim::new(&s).unwrap_or_else(|d| panic!("refused by Sim::new:\n{d}"));
    let mut g = Gen(SimRng::new(seed ^ 0x11fe));
    let topo = sim.topology().clone();
    let mut lines: Vec<String> = sim
        .drain_events()
        .map(|e| switchboard_core::trace::event_line(&e, &topo))
        .collect();
    let mut active: BTreeMap<String, String> = BTreeMap::new();
    note_active(&mut active, &lines);
    // Live pause, resume, configure and poison publishes, from their own random source.
    let mut controls = Gen(SimRng::new(seed ^ 0xc0f1_6000));
    let slices = 5u64;
    for k in 1..=slices {
        let t = SimTime(until.0 * k / slices);
        // Checked after every event, and every 20 ms that no queue sits on ready messages
        // that a consumer could take.
        let mut at = sim.now();
        while at < t {
            at = SimTime((at.0 + 20_000).min(t.0));
            let from = lines.len();
            lines.extend(run_checked(&mut sim, at, 3_000_000));
            note_active(&mut active, &lines[from..]);
            if let Err(why) = no_stall(&sim, &active) {
                panic!("at {at}: {why}");
            }
            if let Err(why) = consumers_agree(&sim) {
                panic!("at {at}: {why}");
            }
            if controls.p(0.1) {
                live_control(&mut sim, &mut controls, &mut doc);
                sim.check_conservation()
                    .unwrap_or_else(|e| panic!("after a live control at {at}: {e}"));
                drain_noting(&mut sim, &mut lines, &mut active);
            }
        }
        if k < slices {
            live_edit(&mut sim, &mut g, k, &mut doc);
            sim.check_conservation()
                .unwrap_or_else(|e| panic!("after a live command at {t}: {e}"));
            drain_noting(&mut sim, &mut lines, &mut active);
        }
    }
    let t = sim.totals();
    assert_eq!(
        t.created,
        t.live + t.consumed + t.dropped_total(),
        "totals: {t:?}"
    );
    if std::env::var("SWITCHBOARD_PRINT_TRACE").is_ok() {
        for l in &lines {
            println!("{l}");
        }
    }
    let rules = oracle::Doc::new(&doc, until.0 / slices);
    let checked = oracle::check(&rules, &lines)
        .unwrap_or_else(|why| panic!("a rule of SEMANTICS.md §1 is broken: {why}"));
    let mut counts: BTreeMap<String, u64> = checked
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    for ty in MUST_OCCUR {
        counts.insert(ty.to_string(), of_type(&lines, ty).len() as u64);
    }
    for l in of_type(&lines, "queue_deleted") {
        let v: Value = serde_json::from_str(l).expect("a trace line is JSON");
        *counts
            .entry(format!(
                "queue_deleted:{}",
                v["why"].as_str().expect("a why")
            ))
            .or_default() += 1;
    }
    for l in of_type(&lines, "dropped") {
        let v: Value = serde_json::from_str(l).expect("a trace line is JSON");
        *counts
            .entry(format!("drop:{}", v["reason"].as_str().expect("a reason")))
            .or_default() += 1;
    }
    counts
}

/// Drains the run's new events into `lines`, noting consumer activations.
fn drain_noting(sim: &mut Sim, lines: &mut Vec<String>, active: &mut BTreeMap<String, String>) {
    let topo = sim.topology().clone();
    let from = lines.len();
    lines.extend(
        sim.drain_events()
            .map(|e| switchboard_core::trace::event_line(&e, &topo)),
    );
    note_active(active, &lines[from..]);
}

/// Records each queue's active consumer from `consumer_activated` lines.
fn note_active(active: &mut BTreeMap<String, String>, lines: &[String]) {
    for l in of_type(lines, "consumer_activated") {
        let v: Value = serde_json::from_str(l).expect("a trace line is JSON");
        active.insert(
            v["queue"].as_str().expect("queue").to_owned(),
            v["consumer"].as_str().expect("consumer").to_owned(),
        );
    }
}

/// No queue holds ready messages while a consumer that is up and consuming from it has room
/// under its prefetch (or uses `auto_ack`): the queue would have delivered to it (§1.9). With
/// a single active consumer, only the active one (`active`, from the trace) counts; quorum
/// queues with one are left out (they hold back while a higher-priority consumer waits for
/// the active one to drain). Consumers with a global prefetch are left out.
fn no_stall(sim: &Sim, active: &BTreeMap<String, String>) -> Result<(), String> {
    use switchboard_core::scenario::NodeKind;
    let topo = sim.topology();
    let metrics = sim.metrics();
    for (i, n) in topo.nodes.iter().enumerate() {
        let (NodeKind::Amqp(AmqpKind::Queue(cfg)), Some(m)) = (&n.kind, metrics.nodes[i].queue())
        else {
            continue;
        };
        let sac = cfg.arguments.single_active_consumer;
        let quorum = cfg.arguments.queue_type == switchboard_core::amqp::QueueType::Quorum;
        if n.removed || m.ready == 0 || (sac && quorum) {
            continue;
        }
        for &e in &n.out {
            let c = topo.edge(e).to;
            let NodeKind::Amqp(AmqpKind::Consumer(cc)) = &topo.node(c).kind else {
                continue;
            };
            if sac && active.get(&n.name) != Some(&topo.node(c).name) {
                continue;
            }
            // Its unacked deliveries from this queue are at most the queue's.
            let has_room = cc.auto_ack
                || (cc.global_prefetch_count == 0
                    && (cc.prefetch_count == 0 || m.unacked < u64::from(cc.prefetch_count)));
            if has_room && metrics.nodes[c.index()].up && !topo.node(c).removed {
                return Err(format!(
                    "{:?} holds {} ready messages ({} unacked), and {:?} (prefetch {}) could \
                     take one",
                    n.name,
                    m.ready,
                    m.unacked,
                    topo.node(c).name,
                    cc.prefetch_count
                ));
            }
        }
    }
    Ok(())
}

/// A live command, as the playground would send one: settle by hand, crash or restart, publish,
/// or declare a new queue, bind it and consume from it.
///
/// A publish is also written into `doc` as a scripted one, so that the rule checks know its
/// template.
fn live_edit(sim: &mut Sim, g: &mut Gen, k: u64, doc: &mut Value) {
    let topo = sim.topology();
    let live: Vec<_> = topo
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| !n.removed)
        .map(|(i, n)| {
            (
                switchboard_core::NodeId(i as u32),
                n.name.clone(),
                n.kind.name(),
            )
        })
        .collect();
    let of = |kind: &str| -> Vec<_> { live.iter().filter(|n| n.2 == kind).cloned().collect() };
    let (consumers, producers, exchanges) = (of("consumer"), of("producer"), of("exchange"));
    // Mostly consumers that settle by hand; now and then an auto_ack one, whose settlement
    // must be refused (the rule checks fail on a settlement of an auto_ack delivery).
    let manual: Vec<_> = consumers
        .iter()
        .filter(|c| {
            !matches!(&topo.node(c.0).kind,
                switchboard_core::scenario::NodeKind::Amqp(AmqpKind::Consumer(cfg)) if cfg.auto_ack)
        })
        .cloned()
        .collect();
    let settlers = if g.p(0.8) { &manual } else { &consumers };
    let cmd = match g.int(0, 5) {
        0 | 1 if !settlers.is_empty() => {
            let c = g.pick(settlers).0;
            let how = match g.int(0, 2) {
                0 => Settlement::Ack,
                1 => Settlement::Nack { requeue: g.p(0.5) },
                _ => Settlement::Reject { requeue: g.p(0.5) },
            };
            let multiple = !matches!(how, Settlement::Reject { .. }) && g.p(0.4);
            Command::Settle {
                node: c,
                how,
                delivery_tag: g.p(0.5).then(|| g.int(1, 40)),
                multiple,
            }
        }
        2 if !consumers.is_empty() || !producers.is_empty() => {
            let all: Vec<_> = consumers.iter().chain(&producers).cloned().collect();
            let n = g.pick(&all).0;
            if g.p(0.5) {
                Command::Crash { node: n }
            } else {
                Command::Restart { node: n }
            }
        }
        3 if !producers.is_empty() => Command::Publish {
            node: g.pick(&producers).0,
            message: MessageTemplate {
                routing_key: g.pick(&["a", "b", "a.b", "q0", "q1"]).to_string(),
                expiration: g.p(0.3).then(|| "0".to_owned()),
                ..MessageTemplate::default()
            },
        },
        _ if !exchanges.is_empty() => {
            // Declare a queue, bind it, and point a consumer at it.
            let name = format!("live{k}");
            let spec: NodeSpec = serde_json::from_value(json!({
                "id": name, "kind": "queue",
                "config": {"arguments": {"x-max-length": g.int(0, 5), "x-message-ttl": 300}}
            }))
            .expect("a node spec");
            sim.apply(Command::AddNode { spec }).expect("a valid queue");
            let x = g.pick(&exchanges).1.clone();
            let kind = match &topo_kind(sim, &x) {
                Some(k) => k.clone(),
                None => return,
            };
            let mut b = EdgeSpec::new(x, name.clone());
            if kind == "topic" {
                b.routing_key = "#".into();
            } else if kind == "direct" {
                b.routing_key = "a".into();
            }
            let _ = sim.apply(Command::AddEdge { spec: b });
            if let Some(c) = consumers.first() {
                // A consumer that the live topology refuses here is simply not added.
                let _ = sim.apply(Command::AddEdge {
                    spec: EdgeSpec::new(name, c.1.clone()),
                });
            }
            return;
        }
        _ => return,
    };
    if let Command::Publish { node, message } = &cmd {
        let name = sim.topology().node(*node).name.clone();
        let record = json!({"at": format!("{}us", sim.now().0), "do": "publish", "node": name,
                            "message": serde_json::to_value(message).expect("a template")});
        doc["actions"].as_array_mut().expect("actions").push(record);
    }
    // Refused commands (a removed node, a producer already up…) change nothing.
    let _ = sim.apply(cmd);
}

/// What the playground's controls send: pause or resume a consumer, configure a consumer or a
/// producer, redeclare a queue or an exchange (refused with 406 unless only its position
/// changes), or publish a poison message. Whether a pause or a resume is refused must follow
/// the consumer's state, as the metrics show it.
///
/// A publish is also written into `doc` as a scripted one, so that the rule checks know its
/// template.
fn live_control(sim: &mut Sim, g: &mut Gen, doc: &mut Value) {
    use switchboard_core::scenario::NodeKind;
    let topo = sim.topology();
    let live: Vec<(switchboard_core::NodeId, &str)> = topo
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| !n.removed)
        .map(|(i, n)| (switchboard_core::NodeId(i as u32), n.kind.name()))
        .collect();
    let want = match g.int(0, 6) {
        0 | 1 => "consumer",
        2 | 3 => "consumer-config",
        4 => "producer",
        5 => "poison",
        _ => "broker",
    };
    let of = |kind: &str| -> Vec<switchboard_core::NodeId> {
        live.iter()
            .filter(|(_, k)| match kind {
                "broker" => *k == "queue" || *k == "exchange",
                "consumer-config" => *k == "consumer",
                "poison" => *k == "producer",
                k2 => *k == k2,
            })
            .map(|(id, _)| *id)
            .collect()
    };
    let candidates = of(want);
    if candidates.is_empty() {
        return;
    }
    let node = *g.pick(&candidates);
    let n = topo.node(node);
    let name = n.name.clone();
    let spec = NodeSpec {
        id: n.name.clone(),
        kind: n.kind.clone(),
        position: n.position,
    };
    match want {
        "consumer" => {
            let m = sim.metrics().nodes[node.index()].clone();
            let paused = m.consumer().expect("consumer metrics").paused;
            let (cmd, ok) = if g.p(0.5) {
                (Command::Pause { node }, m.up && !paused)
            } else {
                (Command::Resume { node }, m.up && paused)
            };
            let r = sim.apply(cmd.clone());
            assert_eq!(
                r.is_ok(),
                ok,
                "{cmd:?} on {name:?} (up {}, paused {paused}): {r:?}",
                m.up
            );
        }
        "consumer-config" | "producer" => {
            let value = serde_json::to_value(&spec).expect("a spec serialises");
            let spec: NodeSpec =
                serde_json::from_value(reconfigure(g, &value)).expect("a node spec");
            // Refused only by the live rules (global QoS on a quorum queue the consumer
            // was given later); the change itself is allowed.
            if let Err(e) = sim.apply(Command::Configure { node, spec }) {
                let why = e.to_string();
                assert!(why.contains("global QoS"), "configure refused: {why}");
            }
        }
        "poison" => {
            let message = MessageTemplate {
                routing_key: g.pick(&["a", "b", "a.b", "q0", "q1"]).to_string(),
                poison: true,
                ..MessageTemplate::default()
            };
            let record = json!({"at": format!("{}us", sim.now().0), "do": "publish",
                                "node": name,
                                "message": serde_json::to_value(&message).expect("a template")});
            doc["actions"].as_array_mut().expect("actions").push(record);
            sim.apply(Command::Publish { node, message })
                .expect("a live producer publishes");
        }
        _ => {
            let mut moved = spec.clone();
            moved.position = Some(switchboard_core::scenario::Position {
                x: g.int(0, 500) as f64,
                y: g.int(0, 500) as f64,
            });
            sim.apply(Command::Configure { node, spec: moved })
                .expect("a redeclaration with the same settings is accepted");
            let mut changed = spec;
            match &mut changed.kind {
                NodeKind::Amqp(AmqpKind::Queue(q)) => {
                    q.arguments.message_ttl = Some(q.arguments.message_ttl.map_or(1, |t| t + 1))
                }
                NodeKind::Amqp(AmqpKind::Exchange(x)) => {
                    x.kind = if x.kind == switchboard_core::amqp::ExchangeType::Fanout {
                        switchboard_core::amqp::ExchangeType::Topic
                    } else {
                        switchboard_core::amqp::ExchangeType::Fanout
                    }
                }
                _ => unreachable!("a queue or an exchange"),
            }
            match sim.apply(Command::Configure {
                node,
                spec: changed,
            }) {
                Err(switchboard_core::CommandError::Invalid(why)) => {
                    assert!(why.starts_with("406 PRECONDITION_FAILED"), "{why}")
                }
                other => panic!("a redeclaration with other settings: {other:?}"),
            }
        }
    }
}

/// Each consumer's metrics agree with themselves: what it buffers and processes is unacked
/// (manual ack), processing happens now, and one delivery at a time.
fn consumers_agree(sim: &Sim) -> Result<(), String> {
    use switchboard_core::scenario::NodeKind;
    let now = sim.now();
    for (n, m) in sim.topology().nodes.iter().zip(sim.metrics().nodes) {
        let (NodeKind::Amqp(AmqpKind::Consumer(cfg)), Some(c)) = (&n.kind, m.consumer()) else {
            continue;
        };
        let processing = u64::from(c.processing.is_some());
        if !cfg.auto_ack && c.buffered + processing > c.unacked {
            return Err(format!("{:?} holds more than its unacked: {c:?}", n.name));
        }
        if let Some((_, started, finishes)) = c.processing {
            if !(started <= now && now <= finishes) {
                return Err(format!("{:?} is not processing now: {c:?}", n.name));
            }
        }
        if c.busy_us > now.0 {
            return Err(format!("{:?} was busy longer than the run: {c:?}", n.name));
        }
        if !m.up && (c.paused || c.buffered > 0 || c.processing.is_some()) {
            return Err(format!("{:?} is down but busy or paused: {c:?}", n.name));
        }
    }
    Ok(())
}

fn topo_kind(sim: &Sim, name: &str) -> Option<String> {
    let topo = sim.topology();
    let id = topo.node_id(name)?;
    match &topo.node(id).kind {
        switchboard_core::scenario::NodeKind::Amqp(AmqpKind::Exchange(x)) => {
            Some(x.kind.as_str().to_owned())
        }
        _ => None,
    }
}

#[test]
fn random_amqp_topologies_conserve_every_message() {
    let per_seed = common::sweep("amqp_random", 150, check_seed);
    let mut total: BTreeMap<String, u64> = BTreeMap::new();
    for counts in per_seed {
        for (k, v) in counts {
            *total.entry(k).or_default() += v;
        }
    }
    println!("{total:#?}");
    if common::single_seed() {
        return;
    }
    let missing: Vec<&str> = MUST_OCCUR
        .iter()
        .copied()
        .filter(|ty| total.get(*ty).copied().unwrap_or(0) == 0)
        .chain(
            MUST_DELETE
                .iter()
                .copied()
                .filter(|c| total.get(*c).copied().unwrap_or(0) == 0),
        )
        .chain(
            MUST_CHECK
                .iter()
                .copied()
                .filter(|c| total.get(*c).copied().unwrap_or(0) == 0),
        )
        .chain(
            MUST_DROP
                .iter()
                .copied()
                .filter(|r| total.get(&format!("drop:{r}")).copied().unwrap_or(0) == 0),
        )
        .collect();
    assert!(
        missing.is_empty(),
        "the generator never produced {missing:?}: {total:#?}"
    );
}

/// The same scenario and seed give the same trace: twice in one call, and stepping one event at
/// a time (with the checks) gives the same events as advancing in one go; a snapshot taken
/// halfway continues exactly as the original.
#[test]
fn random_amqp_runs_are_deterministic() {
    common::sweep("amqp_random", 6, |seed| {
        let (s, until, _) = parse(seed);
        let a = common::trace_hash(&s, seed, until);
        let b = common::trace_hash(&s, seed, until);
        assert_eq!(a, b, "two runs of one scenario differ");

        let mut sim = Sim::new(&s).expect("valid");
        let mut h = TraceHash::default();
        // Events of the construction itself (consumers activated), which `run_checked` only
        // drains once something happens.
        for e in sim.drain_events().collect::<Vec<_>>() {
            h.add(&e, sim.topology());
        }
        let half = SimTime(until.0 / 2);
        for l in run_checked(&mut sim, half, 3_000_000) {
            h.write(l.as_bytes());
            h.write(b"\n");
        }
        let mut twin = sim.snapshot();
        let rest = run_checked(&mut sim, until, 3_000_000);
        let twin_rest = run_checked(&mut twin, until, 3_000_000);
        assert_eq!(rest, twin_rest, "a snapshot diverged from its original");
        for l in rest {
            h.write(l.as_bytes());
            h.write(b"\n");
        }
        assert_eq!(
            h.to_string(),
            a,
            "stepping event by event differs from advancing in one call"
        );
    });
}

/// Rule checks on the trace of a run, against the scenario document (SEMANTICS.md §1). The
/// conservation check after every event says that nothing vanishes and that the counters are
/// right; these say that what happened is what RabbitMQ would have done.
mod oracle {
    use serde::Deserialize;
    use serde_json::{Map, Value};
    use std::collections::{BTreeMap, BTreeSet, HashMap};

    /// An initial binding: from, to, routing key, arguments.
    type Binding<'a> = (&'a str, &'a str, &'a str, Option<&'a Map<String, Value>>);

    /// What the scenario document says about its nodes.
    pub struct Doc<'a> {
        kinds: BTreeMap<&'a str, (&'a str, &'a Value)>,
        /// Initial bindings.
        bindings: Vec<Binding<'a>>,
        /// Scripted publishes: (node, at µs) → templates.
        scripted: BTreeMap<(&'a str, u64), Vec<&'a Value>>,
        /// The routing of the initial topology holds before this time (µs).
        static_until: u64,
    }

    fn us(at: &Value) -> u64 {
        at.as_str()
            .and_then(|s| s.strip_suffix("us"))
            .and_then(|n| n.parse().ok())
            .expect("the generator writes times as <n>us")
    }

    impl<'a> Doc<'a> {
        /// `first_live_edit_us`: when the first live command may change the topology.
        pub fn new(doc: &'a Value, first_live_edit_us: u64) -> Doc<'a> {
            let mut kinds = BTreeMap::new();
            for n in doc["nodes"].as_array().expect("nodes") {
                kinds.insert(
                    n["id"].as_str().expect("id"),
                    (n["kind"].as_str().expect("kind"), &n["config"]),
                );
            }
            let mut bindings = Vec::new();
            for e in doc["edges"].as_array().expect("edges") {
                let from = e["from"].as_str().expect("from");
                if kinds.get(from).map(|k| k.0) == Some("exchange") {
                    bindings.push((
                        from,
                        e["to"].as_str().expect("to"),
                        e["routing_key"].as_str().unwrap_or(""),
                        e["arguments"].as_object(),
                    ));
                }
            }
            let mut scripted: BTreeMap<(&str, u64), Vec<&Value>> = BTreeMap::new();
            let mut static_until = first_live_edit_us;
            for a in doc["actions"].as_array().expect("actions") {
                let at = us(&a["at"]);
                match a["do"].as_str().expect("do") {
                    "publish" => scripted
                        .entry((a["node"].as_str().expect("node"), at))
                        .or_default()
                        .push(&a["message"]),
                    "remove_node" | "add_edge" | "remove_edge" => {
                        static_until = static_until.min(at)
                    }
                    _ => {}
                }
            }
            Doc {
                kinds,
                bindings,
                scripted,
                static_until,
            }
        }

        fn config(&self, name: &str, kind: &str) -> Option<&'a Value> {
            self.kinds
                .get(name)
                .filter(|(k, _)| *k == kind)
                .map(|(_, c)| *c)
        }

        fn queue_arg(&self, q: &str, arg: &str) -> Option<&'a Value> {
            self.config(q, "queue")
                .map(|c| &c["arguments"][arg])
                .filter(|v| !v.is_null())
        }

        fn is_quorum(&self, q: &str) -> bool {
            self.queue_arg(q, "x-queue-type").and_then(Value::as_str) == Some("quorum")
        }

        fn flag(&self, node: &str, kind: &str, field: &str) -> bool {
            self.config(node, kind)
                .and_then(|c| c[field].as_bool())
                .unwrap_or(false)
        }

        /// The routing keys of a message: its key, then `CC`, then `BCC` (§1.1).
        fn keys(rk: &str, headers: &Value) -> Vec<String> {
            let mut keys = vec![rk.to_owned()];
            for h in ["CC", "BCC"] {
                if let Some(vs) = headers[h].as_array() {
                    keys.extend(vs.iter().filter_map(|v| v.as_str().map(str::to_owned)));
                }
            }
            keys
        }

        /// Reference routing (§1.1–§1.4) of a message published to `target` (an exchange, or
        /// a queue through the default exchange): the queues it reaches, sorted, and the
        /// exchanges visited after the first, in order.
        pub fn route(&self, target: &str, rk: &str, headers: &Value) -> (Vec<String>, Vec<String>) {
            let Some(first) = self.config(target, "exchange") else {
                // Default exchange: a publish edge to a queue publishes with the queue's name as
                // the routing key; each routing key (CC, BCC too) names a queue.
                let keys = Self::keys(target, headers);
                let mut qs: Vec<String> = keys
                    .into_iter()
                    .filter(|k| self.config(k, "queue").is_some())
                    .collect();
                qs.sort();
                qs.dedup();
                return (qs, Vec::new());
            };
            let _ = first;
            let keys = Self::keys(rk, headers);
            let mut work: Vec<&str> = vec![target];
            let mut dests: BTreeSet<String> = BTreeSet::new();
            let mut i = 0;
            while i < work.len() {
                let x = work[i];
                i += 1;
                let cfg = self.config(x, "exchange").expect("an exchange");
                let kind = cfg["type"].as_str().unwrap_or("direct");
                let mut d: Vec<&str> = self
                    .bindings
                    .iter()
                    .filter(|(from, _, _, _)| *from == x)
                    .filter(|(_, _, key, args)| match kind {
                        "fanout" => true,
                        "direct" => keys.iter().any(|k| k == key),
                        "topic" => keys.iter().any(|k| super::topic_match(key, k)),
                        _ => super::headers_match(*args, headers),
                    })
                    .map(|(_, to, _, _)| *to)
                    .collect();
                if d.is_empty() {
                    if let Some(ae) = cfg["arguments"]["alternate-exchange"].as_str() {
                        if self.config(ae, "exchange").is_some() {
                            d.push(ae);
                        }
                    }
                }
                for to in d {
                    if self.config(to, "exchange").is_some() {
                        if !work.contains(&to) {
                            work.push(to);
                        }
                    } else {
                        dests.insert(to.to_owned());
                    }
                }
            }
            (
                dests.into_iter().collect(),
                work[1..].iter().map(|s| s.to_string()).collect(),
            )
        }
    }

    /// One trace line, with the fields the checks read.
    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    struct Ev {
        at_us: u64,
        #[serde(rename = "type")]
        ty: String,
        message: Option<u64>,
        node: String,
        queue: String,
        consumer: String,
        from: String,
        to: String,
        reason: String,
        exchange: String,
        delivery_tag: u64,
        redelivered: bool,
        requeue: bool,
        seq: u64,
        ready: u64,
        queues: Vec<String>,
        copies: Vec<u64>,
        path: Vec<String>,
        routing_keys: Vec<String>,
        #[serde(rename = "x-death")]
        x_death: Vec<XDeath>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    struct XDeath {
        queue: String,
        reason: String,
        count: u64,
    }

    impl Ev {
        fn m(&self) -> u64 {
            self.message.expect("a message event")
        }

        fn is(&self, ty: &str, reason: &str) -> bool {
            self.ty == ty && self.reason == reason
        }
    }

    /// What must happen next to a message after it was settled or its consumer went away.
    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Next {
        /// Back into this queue.
        Requeue,
        /// Dead-lettered or dropped for this reason.
        Death(&'static str),
        /// Nothing: it was acked.
        Nothing,
    }

    /// Checks the trace `lines` of a run of `doc`. Returns the first broken rule.
    /// Returns how often each kind of rule was checked.
    pub fn check(doc: &Doc, lines: &[String]) -> Result<BTreeMap<&'static str, u64>, String> {
        let events: Vec<Ev> = lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        let mut by_msg: HashMap<u64, Vec<usize>> = HashMap::new();
        for (i, e) in events.iter().enumerate() {
            if let Some(m) = e.message {
                by_msg.entry(m).or_default().push(i);
            }
        }
        let next_of = |m: u64, after: usize| -> Option<&Ev> {
            by_msg
                .get(&m)
                .and_then(|ix| ix.iter().find(|&&j| j > after))
                .map(|&j| &events[j])
        };
        let at_event = |i: usize, why: String| format!("event {i} {}: {why}", lines[i]);
        let fail = |i: usize, why: String| -> Result<BTreeMap<&'static str, u64>, String> {
            Err(at_event(i, why))
        };
        let mut checked: BTreeMap<&'static str, u64> = BTreeMap::new();
        let mut count = |what: &'static str| *checked.entry(what).or_default() += 1;

        let mut next_tag: HashMap<&str, u64> = HashMap::new();
        // (consumer, tag) → (message, queue)
        let mut outstanding: BTreeMap<(&str, u64), (u64, &str)> = BTreeMap::new();
        // (message, queue) → returned to the queue since it entered it
        let mut returned: HashMap<(u64, &str), bool> = HashMap::new();
        // (message, queue) → failed deliveries (quorum); when it entered (µs)
        let mut failed: HashMap<(u64, &str), u64> = HashMap::new();
        let mut entered: HashMap<(u64, &str), u64> = HashMap::new();
        // message → its per-message TTL, if known (None inside: it has none)
        let mut ttl: HashMap<u64, Option<u64>> = HashMap::new();
        // message → its template, for fresh publishes whose template is known
        let mut template: HashMap<u64, &Value> = HashMap::new();
        let mut expect: HashMap<u64, (usize, &str, Next)> = HashMap::new();
        let mut active: HashMap<&str, &str> = HashMap::new();
        // Publisher confirms: publishes on the producer's current channel, and the sequence
        // number each publish must be confirmed with (§1.1: from 1 on each channel).
        let mut published_on_channel: HashMap<&str, u64> = HashMap::new();
        let mut want_seq: HashMap<u64, u64> = HashMap::new();
        // Publishes per (producer, µs), to tell a scripted publish from a rate-driven one.
        let mut publishes_at: HashMap<(&str, u64), u32> = HashMap::new();
        for e in events.iter().filter(|e| e.ty == "published") {
            *publishes_at.entry((&e.node, e.at_us)).or_default() += 1;
        }
        let mut topology_static = true;

        for (i, e) in events.iter().enumerate() {
            let at = e.at_us;
            if let Some(m) = e.message {
                if let Some((from, q, want)) = expect.remove(&m) {
                    count("checked: what follows a settlement or a crash");
                    let ok = match (e.ty.as_str(), want) {
                        _ if e.is("dropped", "queue_deleted") => true,
                        ("requeued", Next::Requeue) => e.queue == q,
                        ("dead_lettered", Next::Death(r)) => e.queue == q && e.reason == r,
                        // Dropped for the reason (no dead-letter exchange), or because the
                        // dead-letter exchange does not exist.
                        ("dropped", Next::Death(r)) => {
                            e.node == q && (e.reason == r || e.reason == "dead_letter_unroutable")
                        }
                        _ => false,
                    };
                    if !ok {
                        return fail(
                            i,
                            format!(
                                "after {} the message should have been {want:?} in {q:?}",
                                lines[from]
                            ),
                        );
                    }
                }
            }
            match e.ty.as_str() {
                "restarted" => {
                    published_on_channel.remove(e.node.as_str());
                }
                "published" => {
                    let (p, m) = (e.node.as_str(), e.m());
                    let down = next_of(m, i).is_some_and(|x| x.is("dropped", "node_down"));
                    if !down {
                        let k = published_on_channel.entry(p).or_insert(0);
                        *k += 1;
                        want_seq.insert(m, *k);
                    }
                    let t = match doc.scripted.get(&(p, at)) {
                        None => doc.config(p, "producer").map(|c| &c["message"]),
                        Some(ts) if ts.len() == 1 && publishes_at[&(p, at)] == 1 => Some(ts[0]),
                        Some(_) => None,
                    };
                    if let Some(t) = t {
                        template.insert(m, t);
                        let exp = t["expiration"].as_str().map(|x| x.parse().expect("digits"));
                        ttl.insert(m, exp);
                    }
                }
                "queue_deleted" | "removed" => topology_static = false,
                "routed" => {
                    let m = e.m();
                    let (queues, copies) = (&e.queues, &e.copies);
                    if queues.is_empty() || queues.len() != copies.len() || copies[0] != m {
                        return fail(i, "queues and copies do not line up".into());
                    }
                    let known_ttl = ttl.get(&m).copied();
                    for (q, &c) in queues.iter().zip(copies) {
                        returned.insert((c, q), false);
                        failed.insert((c, q), 0);
                        entered.insert((c, q), at);
                        if let Some(t) = known_ttl {
                            ttl.insert(c, t);
                        }
                    }
                    // A fresh publish in the initial topology: compare with the reference.
                    let prev = by_msg[&m]
                        .iter()
                        .rev()
                        .find(|&&j| j < i)
                        .map(|&j| &events[j]);
                    let fresh = prev.filter(|p| p.ty == "sent");
                    if let (Some(sent), Some(t)) = (fresh, template.get(&m)) {
                        if topology_static && at < doc.static_until {
                            count("checked: routing against the reference");
                            let rk = t["routing_key"].as_str().unwrap_or("");
                            let (want, path) = doc.route(&sent.to, rk, &t["headers"]);
                            let mut got = queues.clone();
                            got.sort();
                            if got != want || e.path != path {
                                return fail(
                                    i,
                                    format!(
                                        "the reference routes {rk:?} with headers {} to {want:?} \
                                         via {path:?}",
                                        t["headers"]
                                    ),
                                );
                            }
                        }
                    }
                    // Publisher confirms: ack unless a queue refused it (§1.1, §1.7).
                    if let Some(sent) = fresh {
                        let refused = copies.iter().any(|&c| {
                            next_of(c, i).is_some_and(|x| {
                                // Refused before anything else happened to it: dropped, or
                                // dead-lettered (reject-publish-dlx), or dropped because that
                                // dead-letter exchange does not exist.
                                x.is("dropped", "reject_publish")
                                    || x.is("dropped", "dead_letter_unroutable")
                                    || x.is("dead_lettered", "maxlen")
                            })
                        });
                        check_confirm(doc, &events, &by_msg, i, &sent.from, m, !refused, &want_seq)
                            .map_err(|why| at_event(i, why))?;
                    }
                }
                "returned" => {
                    let (p, m) = (e.node.as_str(), e.m());
                    if !doc.flag(p, "producer", "mandatory") {
                        return fail(i, format!("{p:?} is not mandatory"));
                    }
                    if by_msg[&m].iter().any(|&j| events[j].ty == "routed") {
                        return fail(i, "a returned message was routed".into());
                    }
                    let t = template.get(&m);
                    if let (true, Some(t)) = (topology_static && at < doc.static_until, t) {
                        let to = by_msg[&m]
                            .iter()
                            .find(|&&j| events[j].ty == "sent")
                            .map(|&j| events[j].to.as_str());
                        if let Some(to) = to {
                            count("checked: routing against the reference");
                            let rk = t["routing_key"].as_str().unwrap_or("");
                            let (want, _) = doc.route(to, rk, &t["headers"]);
                            if !want.is_empty() {
                                return fail(i, format!("the reference routes it to {want:?}"));
                            }
                        }
                    }
                    check_confirm(doc, &events, &by_msg, i, p, m, true, &want_seq)
                        .map_err(|why| at_event(i, why))?;
                }
                "dropped" => {
                    let (node, reason, m) = (e.node.as_str(), e.reason.as_str(), e.m());
                    if reason == "unroutable" {
                        let sent = by_msg[&m].iter().find(|&&j| events[j].ty == "sent");
                        let Some(&sj) = sent else {
                            return fail(i, "an unroutable message that was never sent".into());
                        };
                        let p = events[sj].from.as_str();
                        if doc.flag(p, "producer", "mandatory") {
                            return fail(i, format!("{p:?} is mandatory: expected basic.return"));
                        }
                        if let (true, Some(t)) =
                            (topology_static && at < doc.static_until, template.get(&m))
                        {
                            count("checked: routing against the reference");
                            let rk = t["routing_key"].as_str().unwrap_or("");
                            let (want, _) = doc.route(node, rk, &t["headers"]);
                            if !want.is_empty() {
                                return fail(i, format!("the reference routes it to {want:?}"));
                            }
                        }
                        check_confirm(doc, &events, &by_msg, i, p, m, true, &want_seq)
                            .map_err(|why| at_event(i, why))?;
                    }
                    if ["expired", "maxlen", "rejected", "delivery_limit"].contains(&reason)
                        && doc.queue_arg(node, "x-dead-letter-exchange").is_some()
                    {
                        return fail(
                            i,
                            format!("{node:?} has a dead-letter exchange: expected dead-lettering"),
                        );
                    }
                }
                "confirmed" | "publish_nacked" => {
                    count("checked: publisher confirms");
                    if !doc.flag(&e.node, "producer", "publisher_confirms") {
                        return fail(i, format!("{:?} does not use publisher confirms", e.node));
                    }
                }
                "enqueued" => {
                    let q = e.queue.as_str();
                    let over = doc.queue_arg(q, "x-overflow").and_then(Value::as_str);
                    if let (Some("reject-publish" | "reject-publish-dlx"), Some(max)) = (
                        over,
                        doc.queue_arg(q, "x-max-length").and_then(Value::as_u64),
                    ) {
                        // Classic queues refuse before enqueueing; quorum queues enqueue and
                        // then block publishers, overshooting by design (rabbit_fifo).
                        if e.ready > max && !doc.is_quorum(q) {
                            return fail(
                                i,
                                format!("{q:?} rejects publishes over {max} ready messages"),
                            );
                        }
                    }
                }
                "consumer_activated" => {
                    active.insert(&e.queue, &e.consumer);
                }
                "delivered" => {
                    let (m, q, c, tag) =
                        (e.m(), e.queue.as_str(), e.consumer.as_str(), e.delivery_tag);
                    let want = next_tag.entry(c).or_insert(1);
                    if tag != *want {
                        return fail(i, format!("delivery tag {tag}; the channel is at {want}"));
                    }
                    *want += 1;
                    count("checked: delivery tags");
                    let back = returned.get(&(m, q)).copied();
                    if back.is_some_and(|b| b != e.redelivered) {
                        return fail(i, format!("redelivered should be {}", !e.redelivered));
                    }
                    if doc.queue_arg(q, "x-single-active-consumer") == Some(&Value::Bool(true))
                        && active.get(q) != Some(&c)
                    {
                        return fail(
                            i,
                            format!("{q:?} has single active consumer {:?}", active.get(q)),
                        );
                    }
                    if !doc.flag(c, "consumer", "auto_ack") {
                        outstanding.insert((c, tag), (m, q));
                    }
                }
                "acked" | "nacked" | "rejected" => {
                    let (m, q, c, tag) =
                        (e.m(), e.queue.as_str(), e.consumer.as_str(), e.delivery_tag);
                    match outstanding.remove(&(c, tag)) {
                        Some((om, oq)) if om == m && oq == q => {}
                        other => {
                            return fail(i, format!("{c:?} has {other:?} out under tag {tag}"))
                        }
                    }
                    let next = match e.ty.as_str() {
                        "acked" => Next::Nothing,
                        _ if !e.requeue => Next::Death("rejected"),
                        "rejected" => return_failed(doc, &mut failed, m, q),
                        _ => Next::Requeue,
                    };
                    if next != Next::Nothing {
                        expect.insert(m, (i, q, next));
                    } else if let Some(x) = next_of(m, i) {
                        return fail(i, format!("an acked message goes on: {x:?}"));
                    }
                }
                "crashed" => {
                    let c = e.node.as_str();
                    if doc.config(c, "consumer").is_some() {
                        next_tag.insert(c, 1);
                        let mine: Vec<(&str, u64)> = outstanding
                            .range((c, 0)..=(c, u64::MAX))
                            .map(|(k, _)| *k)
                            .collect();
                        for k in mine {
                            let (m, q) = outstanding.remove(&k).expect("present");
                            let next = return_failed(doc, &mut failed, m, q);
                            expect.insert(m, (i, q, next));
                        }
                    }
                }
                "requeued" => {
                    returned.insert((e.m(), &e.queue), true);
                }
                "expired" => {
                    let (m, q) = (e.m(), e.queue.as_str());
                    let queue_ttl = doc.queue_arg(q, "x-message-ttl").and_then(Value::as_u64);
                    if let (Some(msg_ttl), Some(&t0), true) = (
                        ttl.get(&m),
                        entered.get(&(m, q)),
                        doc.config(q, "queue").is_some(),
                    ) {
                        count("checked: expiry times");
                        let eff = match (queue_ttl, *msg_ttl) {
                            (Some(a), Some(b)) => Some(a.min(b)),
                            (a, b) => a.or(b),
                        };
                        match eff {
                            None => return fail(i, "the message has no TTL here".into()),
                            Some(ms) if at < t0 + ms * 1000 => {
                                return fail(i, format!("entered at {t0} with a TTL of {ms} ms"))
                            }
                            _ => {}
                        }
                    }
                }
                "dead_lettered" => {
                    let (m, q, reason) = (e.m(), e.queue.as_str(), e.reason.as_str());
                    ttl.insert(m, None);
                    if let Some(dlx) = doc.queue_arg(q, "x-dead-letter-exchange") {
                        if dlx.as_str() != Some(&e.exchange) {
                            return fail(i, format!("{q:?} dead-letters to {dlx}"));
                        }
                    } else if doc.config(q, "queue").is_some() {
                        return fail(i, format!("{q:?} has no dead-letter exchange"));
                    }
                    if let Some(k) = doc.queue_arg(q, "x-dead-letter-routing-key") {
                        if e.routing_keys.len() != 1 || k.as_str() != Some(&e.routing_keys[0]) {
                            return fail(i, format!("the dead-letter routing key is {k}"));
                        }
                    }
                    count("checked: x-death");
                    let head = e.x_death.first().ok_or("empty x-death")?;
                    if head.queue != q || head.reason != reason {
                        return fail(i, "x-death does not start with this death".into());
                    }
                    let mut pairs = BTreeSet::new();
                    for d in &e.x_death {
                        if !pairs.insert((&d.queue, &d.reason)) || d.count == 0 {
                            return fail(
                                i,
                                "x-death repeats a {queue, reason} pair or counts 0".into(),
                            );
                        }
                    }
                }
                _ => {}
            }
        }
        let ordered = check_order(doc, &events, &template).map_err(|(i, why)| at_event(i, why))?;
        checked.insert("checked: delivery order", ordered);
        Ok(checked)
    }

    /// Delivery order (§1.9–§1.11): each delivery takes the head of its queue. A classic
    /// queue's head is the oldest ready message of its highest priority level, a requeued
    /// message going back to its original place; a quorum queue serves its returns first, in
    /// return order, then its 32 priority levels (no priority counts as 4). A message delivered
    /// straight on arrival finds its queue empty. Queues holding a message of unknown priority
    /// are not checked while they do.
    fn check_order(
        doc: &Doc,
        events: &[Ev],
        template: &HashMap<u64, &Value>,
    ) -> Result<u64, (usize, String)> {
        type Key = (u8, u8, u64);
        let mut ordered = 0;
        // message → priority (None inside: none), when known
        let mut prio: HashMap<u64, Option<u64>> = template
            .iter()
            .map(|(&m, t)| (m, t["priority"].as_u64()))
            .collect();
        // queue → ready messages by position; (message, queue) → its position there
        let mut ready: HashMap<&str, BTreeMap<Key, u64>> = HashMap::new();
        let mut key: HashMap<(u64, &str), Key> = HashMap::new();
        let mut levels: HashMap<(u64, &str), u8> = HashMap::new();
        let mut unknown: HashMap<&str, BTreeSet<u64>> = HashMap::new();
        let mut returns = 0u64;
        // Messages whose latest settlement was a nack: with no delivery limit, a quorum queue
        // re-enqueues those at the back of its main queue instead of returning them.
        let mut nacked: BTreeSet<u64> = BTreeSet::new();
        let level = |q: &str, p: Option<u64>| -> u8 {
            if doc.is_quorum(q) {
                p.unwrap_or(4).min(31) as u8
            } else {
                match doc.queue_arg(q, "x-max-priority").and_then(Value::as_u64) {
                    Some(max) if max > 0 => p.unwrap_or(0).min(max) as u8,
                    _ => 0,
                }
            }
        };
        let prioritised = |q: &str| {
            doc.is_quorum(q)
                || doc
                    .queue_arg(q, "x-max-priority")
                    .and_then(Value::as_u64)
                    .is_some_and(|m| m > 0)
        };
        for (i, e) in events.iter().enumerate() {
            match e.ty.as_str() {
                "routed" => {
                    let p = prio.get(&e.m()).copied();
                    for (q, &c) in e.queues.iter().zip(&e.copies) {
                        if let Some(p) = p {
                            prio.insert(c, p);
                        }
                        // Its position is taken when the queue takes it (nested
                        // dead-lettering can reach a queue between two copies of one routing).
                        key.remove(&(c, q.as_str()));
                        levels.insert((c, q.as_str()), 255 - level(q, p.flatten()));
                        if p.is_none() && prioritised(q) {
                            unknown.entry(q).or_default().insert(c);
                        }
                    }
                }
                "enqueued" => {
                    let (m, q) = (e.m(), e.queue.as_str());
                    let k = *key.entry((m, q)).or_insert((1, levels[&(m, q)], i as u64));
                    ready.entry(q).or_default().insert(k, m);
                }
                "nacked" => {
                    nacked.insert(e.m());
                }
                "requeued"
                    if doc.is_quorum(e.queue.as_str())
                        && nacked.contains(&e.m())
                        && doc
                            .queue_arg(&e.queue, "x-delivery-limit")
                            .and_then(Value::as_i64)
                            == Some(-1) =>
                {
                    // The back of the main queue, at the default priority (4).
                    let (m, q) = (e.m(), e.queue.as_str());
                    let k = (1, 255 - 4, i as u64);
                    key.insert((m, q), k);
                    levels.insert((m, q), 255 - 4);
                    ready.entry(q).or_default().insert(k, m);
                    unknown.entry(q).or_default().remove(&m);
                }
                "requeued" => {
                    let (m, q) = (e.m(), e.queue.as_str());
                    let k = if doc.is_quorum(q) {
                        returns += 1;
                        let k = (0, 0, returns);
                        key.insert((m, q), k);
                        k
                    } else {
                        key[&(m, q)]
                    };
                    ready.entry(q).or_default().insert(k, m);
                    if doc.is_quorum(q) {
                        // Served before the levels, whatever its priority.
                        unknown.entry(q).or_default().remove(&m);
                    }
                }
                "delivered" => {
                    let (m, q) = (e.m(), e.queue.as_str());
                    let set = ready.entry(q).or_default();
                    let k = *key.entry((m, q)).or_insert((1, levels[&(m, q)], i as u64));
                    let was_ready = set.remove(&k).is_some();
                    let checkable = unknown.get(q).is_none_or(BTreeSet::is_empty);
                    if checkable {
                        ordered += 1;
                        if let Some((&hk, &head)) = set.first_key_value() {
                            if !was_ready || hk < k {
                                return Err((
                                    i,
                                    format!(
                                        "message {head} is ahead of it in {q:?} ({hk:?} < {k:?},                                          {} ready)",
                                        set.len()
                                    ),
                                ));
                            }
                        }
                    }
                    unknown.entry(q).or_default().remove(&m);
                    // A new delivery: only a nack of this one counts.
                    nacked.remove(&m);
                }
                "expired" | "dead_lettered" => {
                    let (m, q) = (e.m(), e.queue.as_str());
                    if let Some(k) = key.get(&(m, q)) {
                        ready.entry(q).or_default().remove(k);
                    }
                    unknown.entry(q).or_default().remove(&m);
                }
                "dropped" => {
                    let (m, q) = (e.m(), e.node.as_str());
                    if let Some(k) = key.get(&(m, q)) {
                        ready.entry(q).or_default().remove(k);
                    }
                    unknown.entry(q).or_default().remove(&m);
                }
                "queue_deleted" => {
                    ready.remove(e.queue.as_str());
                    unknown.remove(e.queue.as_str());
                }
                _ => {}
            }
        }
        Ok(ordered)
    }

    /// A failed return to quorum queue `q` counts against its delivery limit (v4.3: reject and
    /// consumer loss count, nack does not); what must follow.
    fn return_failed<'q>(
        doc: &Doc,
        failed: &mut HashMap<(u64, &'q str), u64>,
        m: u64,
        q: &'q str,
    ) -> Next {
        if !doc.is_quorum(q) {
            return Next::Requeue;
        }
        let f = failed.entry((m, q)).or_insert(0);
        *f += 1;
        let limit = doc
            .queue_arg(q, "x-delivery-limit")
            .and_then(Value::as_i64)
            .unwrap_or(20);
        if limit >= 0 && *f as i64 > limit {
            Next::Death("delivery_limit")
        } else {
            Next::Requeue
        }
    }

    /// The broker's confirm for message `m` of producer `p`, which reached the broker at event
    /// `i`: exactly one if `p` uses confirms, with `ack`, numbered in publish order from 1 on
    /// each channel.
    #[allow(clippy::too_many_arguments)]
    fn check_confirm(
        doc: &Doc,
        events: &[Ev],
        by_msg: &HashMap<u64, Vec<usize>>,
        i: usize,
        p: &str,
        m: u64,
        ack: bool,
        want_seq: &HashMap<u64, u64>,
    ) -> Result<(), String> {
        let confirms: Vec<&Ev> = by_msg[&m]
            .iter()
            .filter(|&&j| j > i)
            .map(|&j| &events[j])
            .filter(|x| x.ty == "confirmed" || x.ty == "publish_nacked")
            .collect();
        if !doc.flag(p, "producer", "publisher_confirms") {
            return if confirms.is_empty() {
                Ok(())
            } else {
                Err(format!("{p:?} does not use confirms"))
            };
        }
        let [c] = confirms[..] else {
            return Err(format!("{} confirms for one publish", confirms.len()));
        };
        if (c.ty == "confirmed") != ack {
            return Err(format!(
                "expected {}: {c:?}",
                if ack { "basic.ack" } else { "basic.nack" }
            ));
        }
        match want_seq.get(&m) {
            Some(&want) if want == c.seq => Ok(()),
            want => Err(format!(
                "seq {}; it is publish {want:?} on the producer's channel",
                c.seq
            )),
        }
    }
}

/// §1.3 `m(i, j)`, for the routing reference.
fn topic_match(binding: &str, routing_key: &str) -> bool {
    fn split(k: &str) -> Vec<&str> {
        if k.is_empty() {
            Vec::new()
        } else {
            k.split('.').collect()
        }
    }
    fn m(b: &[&str], r: &[&str]) -> bool {
        match b.split_first() {
            None => r.is_empty(),
            Some((&"#", rest)) => m(rest, r) || (!r.is_empty() && m(b, &r[1..])),
            Some((w, rest)) => !r.is_empty() && (*w == "*" || *w == r[0]) && m(rest, &r[1..]),
        }
    }
    m(&split(binding), &split(routing_key))
}

/// §1.4, for the routing reference: `x-match` modes, `x-` arguments skipped unless
/// `-with-x`, `null` for presence, and values compared with their JSON types (`1` ≠ `1.0`).
fn headers_match(args: Option<&Map<String, Value>>, headers: &Value) -> bool {
    let empty = Map::new();
    let args = args.unwrap_or(&empty);
    let mode = args.get("x-match").and_then(Value::as_str).unwrap_or("all");
    let with_x = mode.ends_with("-with-x");
    let mut considered = args.iter().filter(|(k, _)| {
        if with_x {
            k.as_str() != "x-match"
        } else {
            !k.starts_with("x-")
        }
    });
    let one = |(k, v): (&String, &Value)| match v {
        Value::Null => headers.get(k).is_some(),
        v => headers.get(k) == Some(v),
    };
    if mode.starts_with("all") {
        considered.all(one)
    } else {
        considered.any(one)
    }
}

// ----- regression tests for bugs the sweep and its rule checks found -----

/// Quorum single active consumer (§1.9): a consumer with a higher priority than the active one
/// takes over once the active one has no unacked messages; RabbitMQ's `rabbit_fifo`
/// (`activate_next_consumer/2`) takes the head of its waiting list, which is sorted by
/// priority. Here `c1` (priority 5) and then `c2` (priority 3) register while `c0` (priority 0)
/// still has its message unacked: `c1` must take over, not the one that registered last.
#[test]
fn quorum_single_active_consumer_hands_over_to_the_highest_priority_waiting_consumer() {
    let s = common::scenario(
        r#"{"version":1,"nodes":[
          {"id":"p","kind":"producer","config":{"rate_per_s":0}},
          {"id":"q","kind":"queue","config":{"arguments":
            {"x-queue-type":"quorum","x-single-active-consumer":true}}},
          {"id":"c0","kind":"consumer","config":{"processing":"500ms"}},
          {"id":"c1","kind":"consumer","config":{"arguments":{"x-priority":5}}},
          {"id":"c2","kind":"consumer","config":{"arguments":{"x-priority":3}}}],
        "edges":[{"from":"p","to":"q"},{"from":"q","to":"c0"}],
        "actions":[{"at":"0s","do":"publish","node":"p"},
          {"at":"100ms","do":"add_edge","edge":{"from":"q","to":"c1"}},
          {"at":"200ms","do":"add_edge","edge":{"from":"q","to":"c2"}},
          {"at":"1s","do":"publish","node":"p"}]}"#,
    );
    let mut sim = Sim::new(&s).expect("valid");
    let topo = sim.topology().clone();
    let mut lines: Vec<String> = sim
        .drain_events()
        .map(|e| switchboard_core::trace::event_line(&e, &topo))
        .collect();
    lines.extend(run_checked(&mut sim, SimTime(2_000_000), 10_000));
    let activated: Vec<String> = of_type(&lines, "consumer_activated")
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["consumer"].to_string())
        .collect();
    assert_eq!(activated, [r#""c0""#, r#""c1""#], "{lines:#?}");
}

/// A manual settlement of an `auto_ack` delivery (§1.9): the broker forgot the message when it
/// sent it, so its tag is unknown (406 PRECONDITION_FAILED), and nothing may be requeued or
/// dead-lettered. Scripted actions refuse this at validation; the live command must too, or
/// end in a channel error. Here `c` (auto_ack, 1 s per message) holds tag 2 in its buffer when
/// a live `reject(requeue)` for it arrives.
#[test]
fn live_settle_on_an_auto_ack_consumer_is_refused() {
    let s = common::scenario(
        r#"{"version":1,"nodes":[
          {"id":"p","kind":"producer","config":{"rate_per_s":0}},
          {"id":"q","kind":"queue"},
          {"id":"c","kind":"consumer","config":{"auto_ack":true,"processing":"1s"}}],
        "edges":[{"from":"p","to":"q"},{"from":"q","to":"c"}],
        "actions":[{"at":"0s","do":"publish","node":"p"},
                   {"at":"0s","do":"publish","node":"p"}]}"#,
    );
    let mut sim = Sim::new(&s).expect("valid");
    let mut lines = run_checked(&mut sim, SimTime(200_000), 10_000);
    let c = sim.topology().node_id("c").expect("c");
    let refused = sim
        .apply(Command::Settle {
            node: c,
            how: Settlement::Reject { requeue: true },
            delivery_tag: Some(2),
            multiple: false,
        })
        .is_err();
    let topo = sim.topology().clone();
    lines.extend(
        sim.drain_events()
            .map(|e| switchboard_core::trace::event_line(&e, &topo)),
    );
    lines.extend(run_checked(&mut sim, SimTime(3_000_000), 10_000));
    for ty in ["rejected", "requeued"] {
        assert!(
            of_type(&lines, ty).is_empty(),
            "an auto_ack delivery was {ty}: {lines:#?}"
        );
    }
    assert!(
        refused || !of_type(&lines, "channel_error").is_empty(),
        "neither refused nor a channel error: {lines:#?}"
    );
}

/// Single active consumer (§1.9): when the active consumer is cancelled (`basic.cancel`, here a
/// removed consume edge), the next consumer becomes active and the queue delivers its ready
/// messages to it, in order. `c1` (prefetch 1) holds message 1 while 2 and 3 wait; cancelling
/// it at 200 ms makes `c2` active, which must get 2 and 3 then, before 4 (published at 300 ms).
#[test]
fn cancelling_the_active_consumer_hands_the_ready_messages_to_the_next_in_order() {
    let s = common::scenario(
        r#"{"version":1,"nodes":[
          {"id":"p","kind":"producer","config":{"rate_per_s":0}},
          {"id":"q","kind":"queue","config":{"arguments":{"x-single-active-consumer":true}}},
          {"id":"c1","kind":"consumer","config":{"prefetch_count":1,"processing":"1s"}},
          {"id":"c2","kind":"consumer"}],
        "edges":[{"from":"p","to":"q"},{"from":"q","to":"c1"},{"from":"q","to":"c2"}],
        "actions":[{"at":"0s","do":"publish","node":"p"},
          {"at":"0s","do":"publish","node":"p"},
          {"at":"0s","do":"publish","node":"p"},
          {"at":"200ms","do":"remove_edge","from":"q","to":"c1"},
          {"at":"300ms","do":"publish","node":"p"}]}"#,
    );
    let mut sim = Sim::new(&s).expect("valid");
    let lines = run_checked(&mut sim, SimTime(3_000_000), 10_000);
    let to_c2: Vec<(u64, u64)> = of_type(&lines, "delivered")
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["consumer"] == "c2")
        .map(|v| (v["at_us"].as_u64().unwrap(), v["message"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        to_c2,
        [(200_000, 2), (200_000, 3), (350_000, 4)],
        "{lines:#?}"
    );
}
