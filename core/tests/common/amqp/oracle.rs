//! The reference checker of the randomized sweep: rule checks on the trace of a run, against
//! the scenario document (the rules `docs/amqp.md` sets out), and checks of the simulation's state while it runs.
//!
//! The conservation check after every event says that nothing vanishes and that the counters are
//! right; these say that what happened is what RabbitMQ would have done. [`check`] holds the
//! trace to a reference router ([`Doc::route`]: direct, fanout, topic and headers exchanges,
//! alternate exchanges, exchange-to-exchange bindings, `CC`/`BCC`, the default exchange) while the
//! topology is the initial one, and to the rules of mandatory returns, publisher confirms (ack or
//! nack, sequence numbers), delivery tags and settlements, `redelivered`, single active consumer,
//! what follows a settlement or a consumer crash (requeue, dead-letter, quorum delivery limit),
//! TTL, `x-death`, reject-publish limits and a delivery-order model (FIFO, requeue to the
//! original position, priorities, quorum returns first). [`no_stall`] and [`consumers_agree`]
//! check the state at moments of the run.

use crate::common::of_type;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use switchboard_core::amqp::AmqpKind;
use switchboard_core::Sim;

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
                "remove_node" | "add_edge" | "remove_edge" => static_until = static_until.min(at),
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
                    "topic" => keys.iter().any(|k| topic_match(key, k)),
                    _ => headers_match(*args, headers),
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
                let (m, q, c, tag) = (e.m(), e.queue.as_str(), e.consumer.as_str(), e.delivery_tag);
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
                let (m, q, c, tag) = (e.m(), e.queue.as_str(), e.consumer.as_str(), e.delivery_tag);
                match outstanding.remove(&(c, tag)) {
                    Some((om, oq)) if om == m && oq == q => {}
                    other => return fail(i, format!("{c:?} has {other:?} out under tag {tag}")),
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

/// Records each queue's active consumer from `consumer_activated` lines.
pub fn note_active(active: &mut BTreeMap<String, String>, lines: &[String]) {
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
pub fn no_stall(sim: &Sim, active: &BTreeMap<String, String>) -> Result<(), String> {
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

/// Each consumer's metrics agree with themselves: what it buffers and processes is unacked
/// (manual ack), processing happens now, and one delivery at a time.
pub fn consumers_agree(sim: &Sim) -> Result<(), String> {
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
