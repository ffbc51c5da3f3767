//! The RabbitMQ model's test harness, shared by its test files.
//!
//! - Builders of the randomized sweep (`tests/amqp_random.rs`): [`random_scenario`] makes a
//!   random valid broker topology with scripted actions from a seed, [`live_edit`] and
//!   [`live_control`] apply random live commands to a running simulation, from a [`Gen`].
//! - [`oracle`], the reference checker the sweep holds every run to: a reference router and
//!   delivery-order model checked against the trace ([`oracle::check`]), and the state checks
//!   made while it runs ([`oracle::no_stall`], [`oracle::consumers_agree`]).
//! - [`conformance`], the translator of the conformance cases in `conformance/amqp.json` into
//!   scenarios and the observations a client would make of them (`tests/conformance.rs`).
//!
//! Another model adds `common/<model>.rs` beside this one, with its own builders, checker and
//! conformance translator, and its own sweep file.

pub mod conformance;
pub mod oracle;

use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use switchboard_core::amqp::AmqpKind;
use switchboard_core::amqp::Settlement;
use switchboard_core::rng::SimRng;
use switchboard_core::scenario::{EdgeSpec, NodeSpec};
use switchboard_core::{Command, MessageTemplate, Scenario, Sim, SimTime};

/// The generator's random source: a [`SimRng`] with a few conveniences. The sweep makes one per
/// seed for each stream of choices (the scenario, live edits, live controls).
pub struct Gen(pub SimRng);

impl Gen {
    /// A uniform integer in `lo..=hi`.
    pub fn int(&mut self, lo: u64, hi: u64) -> u64 {
        self.0.range_inclusive(lo, hi)
    }

    /// True with probability `p`.
    pub fn p(&mut self, p: f64) -> bool {
        self.0.chance(p)
    }

    /// A uniformly chosen element of `xs` (not empty).
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.int(0, xs.len() as u64 - 1) as usize]
    }

    /// A duration string of `lo_us..=hi_us` microseconds.
    pub fn us(&mut self, lo_us: u64, hi_us: u64) -> String {
        format!("{}us", self.int(lo_us, hi_us))
    }

    /// A duration distribution with every draw in `lo_ms..=hi_ms` (an exponential's mean).
    pub fn dist(&mut self, lo_ms: u64, hi_ms: u64) -> Value {
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

/// The routing keys messages and direct bindings use: a few words, and every queue's name (for
/// the default exchange).
fn routing_keys(n: &Names) -> Vec<String> {
    let mut ks: Vec<String> = ["a", "b", "a.b", "a.b.c", "b.c", "c", "", "a..b", "x"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    ks.extend(n.queues.iter().map(|(q, _)| q.clone()));
    ks
}

/// A message template: a routing key, sometimes headers (with `CC` or `BCC` now and then), a
/// body size, sometimes a per-message `expiration` and a `priority`.
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

/// A topic binding key of up to four words (`a`, `b`, `c`, `*`, `#`, empty), with at most two
/// `#`.
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

/// A queue node, classic or quorum, with random arguments: TTL, length limits and overflow,
/// a dead-letter exchange (sometimes missing or the default one) and routing key, priorities
/// (classic), a delivery limit (quorum), single active consumer, `x-expires`, and sometimes
/// auto-delete or non-durable (classic).
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

/// A consumer's settlement of a message: ack, or nack or reject with or without requeue.
fn settlement(g: &mut Gen) -> Value {
    match g.int(0, 4) {
        0 => json!({"action": "reject", "requeue": g.p(0.5)}),
        1 => json!({"action": "nack", "requeue": g.p(0.5)}),
        2 => json!({"action": "ack"}),
        3 => json!({"action": "reject"}), // requeue defaults to true
        _ => json!({"action": "nack"}),
    }
}

/// A consumer node: prefetch (and a global one unless it consumes from a quorum queue),
/// sometimes `auto_ack` and an `x-priority`, a processing time, header rules and a failure rate
/// with their settlements (manual ack only), sometimes `crash_after`. Also returns whether it
/// uses `auto_ack`.
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

/// A random valid scenario for `seed` (a version 1 document), and how long to run it.
///
/// It is a random broker: producers (some `mandatory`, some with publisher confirms), exchanges
/// of every type (alternate exchanges, exchange-to-exchange bindings, cycles), queues with random
/// arguments (TTL, length limits and overflow modes, dead-letter exchanges, priorities, delivery
/// limits, single active consumer, auto-delete, `x-expires`, exclusive), and consumers with random
/// prefetch, priorities, failure behaviour and crashes; and scripted actions that crash, restart,
/// settle by hand, remove nodes and edges and add new ones, pause and resume consumers, configure
/// consumers and producers, and publish (some poison messages). The same seed always makes the
/// same document.
pub fn random_scenario(seed: u64) -> (Value, SimTime) {
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

/// [`random_scenario`] for `seed`, parsed: the scenario, how long to run it, and the document
/// (which the rule checks read). `SWITCHBOARD_PRINT_SCENARIO` prints the document.
pub fn parse_random(seed: u64) -> (Scenario, SimTime, Value) {
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

/// A live command, as the playground would send one: settle by hand, crash or restart, publish,
/// or declare a new queue, bind it and consume from it.
///
/// A publish is also written into `doc` as a scripted one, so that the rule checks know its
/// template.
pub fn live_edit(sim: &mut Sim, g: &mut Gen, k: u64, doc: &mut Value) {
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
pub fn live_control(sim: &mut Sim, g: &mut Gen, doc: &mut Value) {
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

/// The type of exchange `name` in the live topology, or `None` if it is not an exchange.
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
