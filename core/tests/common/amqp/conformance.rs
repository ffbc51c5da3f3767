//! The AMQP model's conformance translator: a case of `conformance/amqp.json` run in the
//! simulator, and what a client would observe of it, exactly as `scripts/rabbitmq/conformance.py`
//! does through the CLI (`switchboard run --trace ndjson`), so that `tests/conformance.rs` can
//! compare the simulator with what the real broker was observed to do without a broker.
//!
//! A case is a topology (`exchanges`, `queues`, `bindings`) and `steps`. It becomes a scenario
//! (format 2) with scripted actions 100 ms apart ([`STEP_US`]): a publish goes from a producer with
//! publisher confirms (one per exchange and `mandatory` flag, publishes labelled `m1`, `m2`, … in
//! a `label` header) over a 1 ms edge; `get Q` is a `basic.consume` of the consumer `client`
//! (prefetch 1, processing 1 h, so it never settles on its own) added at the step and cancelled
//! 2 ms later, which takes exactly the head, as `basic.get` does, on one channel whose delivery
//! tags count on; `ack`, `nack` and `reject LABEL` are scripted settlements of the delivery tag
//! `LABEL` was last delivered with before the step; after the last step, every queue is drained by
//! a consumer of its own with no prefetch limit. The observations, `(key, value)` pairs, are read
//! from the NDJSON trace lines: each publish's confirm (and return), each `get`'s message, delivery
//! tag, `redelivered` and `x-death`, each settlement of a message not held or ending in a channel
//! error, and each queue's messages at the end.

use crate::common::run_checked;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use switchboard_core::{Scenario, Sim, SimTime};

/// Simulated time between two steps of a case, in microseconds.
pub const STEP_US: u64 = 100_000;

/// The consumer that stands for the client's channel (`basic.get`, settlements).
const CLIENT: &str = "client";

/// One observation: what (`step 3 get q`, `end q #1`…) and what was seen.
pub type Observation = (String, String);

/// Runs `case` in the simulator, with the conservation check after every event, and returns what
/// a client observes, in the order and with the wording of `conformance.py`.
///
/// A settlement names a delivery tag, which depends on the deliveries before it, so the scenario
/// is run once per settlement step, as `conformance.py` does: each run fixes the next
/// settlement's tag from its trace (the run up to then does not depend on later actions), and a
/// settlement of a message not delivered before it is left out.
pub fn observe(case: &Value) -> Vec<Observation> {
    let (doc, settle_labels, until) = scenario(case);
    let actions = doc["actions"].as_array().expect("actions");
    // Action index → delivery tag, or None when the label was not delivered before it.
    let mut tags: BTreeMap<usize, Option<u64>> = BTreeMap::new();
    loop {
        let fixed: Vec<Value> = actions
            .iter()
            .enumerate()
            .filter_map(|(n, a)| match settle_labels.get(&n) {
                None => Some(a.clone()),
                Some(_) => tags.get(&n).copied().flatten().map(|tag| {
                    let mut a = a.clone();
                    a["delivery_tag"] = json!(tag);
                    a
                }),
            })
            .collect();
        let mut run = doc.clone();
        run["actions"] = Value::Array(fixed);
        let lines = run_scenario(&run, until);
        let events: Vec<Value> = lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        let (obs, deliveries) = observe_trace(case, &events);
        let Some((&n, label)) = settle_labels.iter().find(|(n, _)| !tags.contains_key(n)) else {
            return obs;
        };
        let at: u64 = str_of(&actions[n], "at")
            .strip_suffix("us")
            .and_then(|us| us.parse().ok())
            .expect("times are written as <n>us");
        let before = deliveries
            .iter()
            .filter(|(t, lab, _)| lab == label && *t < at)
            .map(|&(_, _, tag)| tag)
            .next_back();
        tags.insert(n, before);
    }
}

/// Runs a scenario document to `until_us`, checked after every event, and returns its trace.
fn run_scenario(doc: &Value, until_us: u64) -> Vec<String> {
    let text = serde_json::to_string_pretty(doc).expect("serialises");
    let s = Scenario::from_json(&text)
        .unwrap_or_else(|d| panic!("the case's scenario is refused:\n{d}\n{text}"));
    let mut sim = Sim::new(&s).unwrap_or_else(|d| panic!("refused by Sim::new:\n{d}\n{text}"));
    run_checked(&mut sim, SimTime(until_us), 1_000_000)
}

/// Python's truth value of a JSON value that may be missing (`if x.get(k):`).
fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64() != Some(0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
    }
}

fn str_of<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} must be a string in {v}"))
}

fn list<'a>(v: &'a Value, field: &str) -> &'a [Value] {
    v[field].as_array().map_or(&[], Vec::as_slice)
}

/// The case's publishes: (step index, label `m1`, `m2`…, the step), in order.
fn publishes(case: &Value) -> Vec<(usize, String, &Value)> {
    list(case, "steps")
        .iter()
        .enumerate()
        .filter(|(_, s)| s.get("publish").is_some())
        .enumerate()
        .map(|(n, (i, s))| (i, format!("m{}", n + 1), s))
        .collect()
}

/// The settlement verb of a step that is neither a publish nor a get.
fn verb(step: &Value) -> &'static str {
    ["ack", "nack", "reject"]
        .into_iter()
        .find(|v| step.get(*v).is_some())
        .unwrap_or_else(|| panic!("unknown step {step}"))
}

/// An observation's key for step `i`: `step 3 get q`, `step 1 publish (default)`.
fn step_key(i: usize, step: &Value) -> String {
    if let Some(p) = step.get("set_policy") {
        return format!("step {} set_policy {}", i + 1, str_of(p, "name"));
    }
    if let Some(name) = step.get("clear_policy") {
        return format!("step {} clear_policy {}", i + 1, py_str(name));
    }
    for v in ["publish", "get", "ack", "nack", "reject"] {
        if let Some(x) = step.get(v) {
            let what = if truthy(Some(x)) {
                py_str(x)
            } else {
                "(default)".to_owned()
            };
            return format!("step {} {v} {what}", i + 1);
        }
    }
    panic!("unknown step {step}")
}

/// `str(v)` in Python, for a JSON value.
fn py_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => py_repr(other),
    }
}

/// `repr(v)` in Python, for a JSON value.
fn py_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => py_repr_str(s),
        Value::Array(a) => format!("[{}]", a.iter().map(py_repr).collect::<Vec<_>>().join(", ")),
        Value::Object(o) => format!(
            "{{{}}}",
            o.iter()
                .map(|(k, v)| format!("{}: {}", py_repr_str(k), py_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// `repr(s)` in Python: single quotes unless the text has one and no double quote.
fn py_repr_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::from(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// `fmt_death`: ` x-death=[{count=… reason=… queue=… exchange='…' keys=[…]} …]` without `time`,
/// and ` first-death=reason/queue/'exchange'`.
fn fmt_death(xdeath: Option<&Value>, first: Option<&[Value; 3]>) -> String {
    let Some(xdeath) = xdeath else {
        return String::new();
    };
    let get = |e: &Value, k: &str| e.get(k).map_or("None".to_owned(), py_str);
    let entries: Vec<String> = xdeath
        .as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .map(|e| {
            let keys: Vec<String> = list(e, "routing-keys").iter().map(py_str).collect();
            let exchange = e.get("exchange").map_or("None".to_owned(), py_repr);
            let mut s = format!(
                "{{count={} reason={} queue={} exchange={exchange} keys=[{}]",
                get(e, "count"),
                get(e, "reason"),
                get(e, "queue"),
                keys.join(",")
            );
            if let Some(x) = e.get("original-expiration") {
                s += &format!(" original-expiration={}", py_str(x));
            }
            s + "}"
        })
        .collect();
    let mut out = format!(" x-death=[{}]", entries.join(" "));
    if let Some([reason, queue, exchange]) = first {
        out += &format!(
            " first-death={}/{}/{}",
            py_str(reason),
            py_str(queue),
            py_repr(exchange)
        );
    }
    out
}

/// `fmt_message`: `m1 tag=2 redelivered=false` and the message's `x-death`.
fn fmt_message(
    label: &str,
    redelivered: bool,
    xdeath: Option<&Value>,
    first: Option<&[Value; 3]>,
    tag: Option<u64>,
) -> String {
    let mut s = label.to_owned();
    if let Some(tag) = tag {
        s += &format!(" tag={tag}");
    }
    s += &format!(" redelivered={redelivered}");
    s + &fmt_death(xdeath, first)
}

/// The producer node that makes a publish step: one per target and `mandatory` flag.
fn producer_id(step: &Value) -> String {
    let target = match str_of(step, "publish") {
        "" => format!("default:{}", str_of(step, "routing_key")),
        x => x.to_owned(),
    };
    let mandatory = if truthy(step.get("mandatory")) {
        "[mandatory]"
    } else {
        ""
    };
    format!("pub[{target}]{mandatory}")
}

/// The message a publish step publishes, with its label in the `label` header.
fn message_template(label: &str, step: &Value) -> Value {
    let mut headers = step
        .get("headers")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    headers.insert("label".into(), json!(label));
    let mut m = Map::new();
    m.insert(
        "routing_key".into(),
        step.get("routing_key").cloned().unwrap_or(json!("")),
    );
    m.insert("headers".into(), Value::Object(headers));
    for k in ["priority", "body_bytes", "expiration"] {
        if let Some(v) = step.get(k) {
            m.insert(k.into(), v.clone());
        }
    }
    Value::Object(m)
}

/// The case as a scenario document, the label each settlement action settles (by action
/// index; its `delivery_tag` is filled in by [`observe`]), and how long to run it (µs).
fn scenario(case: &Value) -> (Value, BTreeMap<usize, String>, u64) {
    let (mut nodes, mut edges, mut actions) = (Vec::new(), Vec::new(), Vec::new());
    let mut settles = BTreeMap::new();
    for x in list(case, "exchanges") {
        let mut cfg = Map::new();
        cfg.insert(
            "type".into(),
            x.get("type").cloned().unwrap_or(json!("direct")),
        );
        if truthy(x.get("arguments")) {
            cfg.insert("arguments".into(), x["arguments"].clone());
        }
        nodes.push(json!({"id": x["name"], "kind": "exchange", "config": cfg}));
    }
    let queues: Vec<&str> = list(case, "queues")
        .iter()
        .map(|q| str_of(q, "name"))
        .collect();
    for q in list(case, "queues") {
        let args = q.get("arguments").cloned().unwrap_or(json!({}));
        nodes.push(json!({"id": q["name"], "kind": "queue", "config": {"arguments": args}}));
    }
    for b in list(case, "bindings") {
        let mut e = Map::new();
        e.insert("from".into(), b["from"].clone());
        e.insert("to".into(), b["to"].clone());
        if truthy(b.get("routing_key")) {
            e.insert("routing_key".into(), b["routing_key"].clone());
        }
        if truthy(b.get("arguments")) {
            e.insert("arguments".into(), b["arguments"].clone());
        }
        edges.push(Value::Object(e));
    }
    let publishes = publishes(case);
    let mut producers: Vec<String> = Vec::new();
    for (_, _, step) in &publishes {
        let pid = producer_id(step);
        if !producers.contains(&pid) {
            producers.push(pid.clone());
            let config = json!({"publisher_confirms": true,
                                "mandatory": truthy(step.get("mandatory"))});
            nodes.push(json!({"id": pid, "kind": "producer", "config": config}));
            let to = match str_of(step, "publish") {
                "" => str_of(step, "routing_key"),
                x => x,
            };
            edges.push(json!({"from": pid, "to": to, "latency": "1ms"}));
        }
    }
    nodes.push(json!({"id": CLIENT, "kind": "consumer",
                      "config": {"prefetch_count": 1, "processing": "1h"}}));
    let labels: HashMap<usize, &str> = publishes
        .iter()
        .map(|(i, label, _)| (*i, label.as_str()))
        .collect();
    let steps = list(case, "steps");
    for (i, step) in steps.iter().enumerate() {
        let at = (i as u64 + 1) * STEP_US;
        if step.get("publish").is_some() {
            actions.push(json!({"at": format!("{at}us"), "do": "publish",
                                "node": producer_id(step),
                                "message": message_template(labels[&i], step)}));
        } else if let Some(p) = step.get("set_policy") {
            actions.push(
                json!({"at": format!("{at}us"), "do": "set_policy", "policy": p,
                                "operator": truthy(step.get("operator"))}),
            );
        } else if let Some(name) = step.get("clear_policy") {
            actions.push(
                json!({"at": format!("{at}us"), "do": "clear_policy", "name": name,
                                "operator": truthy(step.get("operator"))}),
            );
        } else if let Some(q) = step.get("get") {
            actions.push(json!({"at": format!("{at}us"), "do": "add_edge",
                                "edge": {"from": q, "to": CLIENT, "latency": "1ms"}}));
            actions.push(
                json!({"at": format!("{}us", at + 2000), "do": "remove_edge",
                                "from": q, "to": CLIENT}),
            );
        } else {
            let verb = verb(step);
            let mut a = json!({"at": format!("{at}us"), "do": verb, "node": CLIENT,
                               "delivery_tag": null});
            if verb != "ack" {
                a["requeue"] = step.get("requeue").cloned().unwrap_or(json!(true));
            }
            settles.insert(actions.len(), str_of(step, verb).to_owned());
            actions.push(a);
        }
    }
    let end = (steps.len() as u64 + 1) * STEP_US;
    for q in &queues {
        let drain = format!("drain[{q}]");
        nodes.push(json!({"id": drain, "kind": "consumer",
                          "config": {"prefetch_count": 0, "processing": "1h"}}));
        actions.push(json!({"at": format!("{end}us"), "do": "add_edge",
                            "edge": {"from": q, "to": drain, "latency": "1ms"}}));
    }
    let mut doc = json!({"version": 3, "name": case["name"], "nodes": nodes, "edges": edges,
                     "actions": actions});
    // Policies and operator policies, as the case sets them on the broker before declaring.
    for key in ["policies", "operator_policies"] {
        if let Some(p) = case.get(key) {
            doc[key] = p.clone();
        }
    }
    (doc, settles, end + STEP_US)
}

/// What a client observes in a run's trace (`observe_switchboard`), and every delivery to the
/// client as (µs, label, delivery tag).
fn observe_trace(case: &Value, events: &[Value]) -> (Vec<Observation>, Vec<(u64, String, u64)>) {
    let publishes = publishes(case);
    let steps = list(case, "steps");
    let mut label_of: HashMap<u64, String> = HashMap::new();
    let mut xdeath: HashMap<u64, Value> = HashMap::new();
    let mut first: HashMap<u64, [Value; 3]> = HashMap::new();
    let mut pub_index = 0;
    let mut outcome: HashMap<String, Vec<String>> = HashMap::new();
    let mut by_step: BTreeMap<i64, Vec<String>> =
        (0..steps.len() as i64).map(|i| (i, Vec::new())).collect();
    let mut drains: Vec<(&str, Vec<String>)> = list(case, "queues")
        .iter()
        .map(|q| (str_of(q, "name"), Vec::new()))
        .collect();
    let mut deliveries = Vec::new();
    let end = (steps.len() as u64 + 1) * STEP_US;
    let num = |ev: &Value, k: &str| {
        ev[k]
            .as_u64()
            .unwrap_or_else(|| panic!("{k} must be a number in {ev}"))
    };
    let label_of_message = |label_of: &HashMap<u64, String>, m: u64| -> String {
        label_of
            .get(&m)
            .unwrap_or_else(|| panic!("message {m} was never published"))
            .clone()
    };
    for ev in events {
        let (t, kind) = (num(ev, "at_us"), str_of(ev, "type"));
        match kind {
            "published" => {
                let label = publishes
                    .get(pub_index)
                    .unwrap_or_else(|| panic!("more publishes than steps: {ev}"))
                    .1
                    .clone();
                label_of.insert(num(ev, "message"), label.clone());
                outcome.insert(label, Vec::new());
                pub_index += 1;
            }
            "routed" => {
                let m = num(ev, "message");
                for c in list(ev, "copies") {
                    let c = c.as_u64().expect("a copy's id");
                    label_of.insert(c, label_of_message(&label_of, m));
                    if let Some(x) = xdeath.get(&m).cloned() {
                        xdeath.insert(c, x);
                        first.insert(c, first[&m].clone());
                    }
                }
            }
            "dead_lettered" => {
                let m = num(ev, "message");
                xdeath.insert(m, ev["x-death"].clone());
                first.entry(m).or_insert_with(|| {
                    let e = &ev["x-death"][0];
                    [
                        e["reason"].clone(),
                        e["queue"].clone(),
                        e["exchange"].clone(),
                    ]
                });
            }
            "returned" | "confirmed" | "publish_nacked" => {
                let label = label_of_message(&label_of, num(ev, "message"));
                let what = match kind {
                    "returned" => format!(
                        "returned {} {}",
                        py_str(&ev["reply_code"]),
                        py_str(&ev["reply_text"])
                    ),
                    "confirmed" => "ack".to_owned(),
                    _ => "nack".to_owned(),
                };
                outcome
                    .get_mut(&label)
                    .expect("published before")
                    .push(what);
            }
            "delivered" => {
                let m = num(ev, "message");
                let label = label_of.get(&m).cloned().unwrap_or(format!("?{m}"));
                let redelivered = ev["redelivered"].as_bool().expect("redelivered");
                if str_of(ev, "consumer") == CLIENT {
                    let step = (t / STEP_US) as i64 - 1;
                    let tag = num(ev, "delivery_tag");
                    let seen = fmt_message(
                        &label,
                        redelivered,
                        xdeath.get(&m),
                        first.get(&m),
                        Some(tag),
                    );
                    by_step
                        .get_mut(&step)
                        .unwrap_or_else(|| panic!("a delivery to the client at no step: {ev}"))
                        .push(seen);
                    deliveries.push((t, label, tag));
                } else if t >= end {
                    let q = str_of(ev, "queue");
                    let seen =
                        fmt_message(&label, redelivered, xdeath.get(&m), first.get(&m), None);
                    drains
                        .iter_mut()
                        .find(|(name, _)| *name == q)
                        .unwrap_or_else(|| panic!("{q:?} is not a queue of the case"))
                        .1
                        .push(seen);
                }
            }
            "channel_error" => {
                let step = (t / STEP_US) as i64 - 1;
                by_step.entry(step).or_default().push(format!(
                    "channel error {} {}",
                    py_str(&ev["code"]),
                    py_str(&ev["text"])
                ));
            }
            _ => {}
        }
    }
    let mut obs = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let key = step_key(i, step);
        let here = by_step.get(&(i as i64)).map_or(&[][..], Vec::as_slice);
        if step.get("publish").is_some() {
            let label = &publishes.iter().find(|p| p.0 == i).expect("a publish").1;
            let out = outcome.get(label).filter(|o| !o.is_empty());
            let out = out.map_or("no confirm".to_owned(), |o| o.join(", "));
            obs.push((key, format!("{label}: {out}")));
        } else if step.get("set_policy").is_some() || step.get("clear_policy").is_some() {
            // Nothing a client sees; its effects show in the queues.
        } else if step.get("get").is_some() {
            let got = if here.is_empty() {
                "empty".to_owned()
            } else {
                here.join("; ")
            };
            obs.push((key, got));
        } else {
            let label = str_of(step, verb(step));
            let at = (i as u64 + 1) * STEP_US;
            if !deliveries.iter().any(|(t, lab, _)| lab == label && *t < at) {
                obs.push((key, "not held".to_owned()));
            } else if !here.is_empty() {
                obs.push((key, here.join("; ")));
            }
        }
    }
    for (q, msgs) in drains {
        obs.push((format!("end {q}"), format!("{} ready", msgs.len())));
        for (n, m) in msgs.into_iter().enumerate() {
            obs.push((format!("end {q} #{}", n + 1), m));
        }
    }
    (obs, deliveries)
}
