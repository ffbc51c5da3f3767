//! The trace: events as NDJSON lines with node names, and a hash of the whole trace.
//!
//! The trace hash is how determinism is tested: the same scenario and seed must give the same
//! hash natively and in wasm. It is FNV-1a over the exact NDJSON bytes, so any difference in any
//! event (time, order, id, reason) changes it.

use crate::event::{Event, EventKind};
use crate::id::{EdgeId, NodeId};
use crate::topology::Topology;
use serde_json::Value;
use std::fmt;
use std::io::{self, Write};

/// One event as a JSON object, with node names instead of ids: `at_us` and `type` first, then
/// the event's own fields. It is [`write_event`]'s line, read back, so the trace, the CLI and
/// the page's event log cannot disagree.
pub fn event_json(e: &Event, topo: &Topology) -> Value {
    serde_json::from_str(&event_line(e, topo)).expect("write_event writes a JSON object")
}

/// One event as a single NDJSON line, without the newline: the bytes [`write_event`] writes.
pub fn event_line(e: &Event, topo: &Topology) -> String {
    let mut line = Vec::with_capacity(160);
    write_event(e, topo, &mut line).expect("writing to a Vec does not fail");
    String::from_utf8(line).expect("JSON text is UTF-8")
}

/// Writes one event's NDJSON line, without the newline, straight into `out`: compact JSON as
/// `serde_json` writes it (strings escaped by `serde_json` itself), built without a
/// `serde_json::Value` and, for all but the rare events with `x-death` tables, without
/// allocating. The CLI prints and hashes traces through it; [`event_json`] reads it back.
pub fn write_event<W: Write + ?Sized>(e: &Event, topo: &Topology, out: &mut W) -> io::Result<()> {
    out.write_all(b"{\"at_us\":")?;
    write_u64(out, e.at.0)?;
    out.write_all(b",\"type\":")?;
    write_str(out, e.kind.name())?;
    let mut f = Fields { out, topo };
    match e.kind {
        EventKind::Published {
            node,
            message,
            correlation,
            cause: _,
        } => {
            f.node("node", node)?;
            f.u64("message", message.0)?;
            f.u64("correlation", correlation.0)?;
        }
        EventKind::Sent {
            message,
            edge,
            from,
            to,
            depart,
            arrive,
        } => {
            f.u64("message", message.0)?;
            f.u64("edge", edge.0.into())?;
            f.node("from", from)?;
            f.node("to", to)?;
            f.u64("depart_us", depart.0)?;
            f.u64("arrive_us", arrive.0)?;
        }
        EventKind::Received {
            message,
            node,
            until,
        } => {
            f.u64("message", message.0)?;
            f.node("node", node)?;
            f.u64("until_us", until.0)?;
        }
        EventKind::Consumed { message, node } => {
            f.u64("message", message.0)?;
            f.node("node", node)?;
        }
        EventKind::Dropped {
            message,
            node,
            reason,
        } => {
            f.u64("message", message.0)?;
            f.node("node", node)?;
            f.str("reason", reason.as_str())?;
        }
        EventKind::Crashed { node, lost } => {
            f.node("node", node)?;
            f.u64("lost", lost.into())?;
        }
        EventKind::Restarted { node }
        | EventKind::Removed { node }
        | EventKind::Configured { node } => f.node("node", node)?,
        EventKind::Amqp(ref a) => crate::amqp::trace::write_fields(a, e.at, &mut f)?,
        EventKind::Http(ref h) => crate::http::trace::write_fields(h, &mut f)?,
        EventKind::Kafka(ref x) => crate::kafka::trace::write_fields(x, &mut f)?,
        EventKind::Bullmq(ref x) => crate::bullmq::trace::write_fields(x, &mut f)?,
        EventKind::Data(ref x) => crate::data::trace::write_fields(x, &mut f)?,
    }
    f.out.write_all(b"}")
}

/// The fields after `at_us` and `type` of one event's line, each written as `,"key":value`
/// into the sink: what [`write_event`] lends a model to write its own events' fields.
pub(crate) struct Fields<'a, W: Write + ?Sized> {
    out: &'a mut W,
    topo: &'a Topology,
}

impl<W: Write + ?Sized> Fields<'_, W> {
    /// `,"key":`. Keys are this crate's own literals, which need no escaping.
    fn key(&mut self, key: &str) -> io::Result<()> {
        self.out.write_all(b",\"")?;
        self.out.write_all(key.as_bytes())?;
        self.out.write_all(b"\":")
    }

    /// An unsigned integer.
    pub(crate) fn u64(&mut self, key: &str, v: u64) -> io::Result<()> {
        self.key(key)?;
        write_u64(self.out, v)
    }

    /// An unsigned integer written as a string (`"12"`), as AMQP's shortstr properties carry
    /// ids.
    pub(crate) fn u64_text(&mut self, key: &str, v: u64) -> io::Result<()> {
        self.key(key)?;
        self.out.write_all(b"\"")?;
        write_u64(self.out, v)?;
        self.out.write_all(b"\"")
    }

    /// `true` or `false`.
    pub(crate) fn bool(&mut self, key: &str, v: bool) -> io::Result<()> {
        self.key(key)?;
        self.out.write_all(if v { b"true" } else { b"false" })
    }

    /// A string, escaped as `serde_json` escapes it.
    pub(crate) fn str(&mut self, key: &str, v: &str) -> io::Result<()> {
        self.key(key)?;
        write_str(self.out, v)
    }

    /// A node, by name.
    pub(crate) fn node(&mut self, key: &str, n: NodeId) -> io::Result<()> {
        let name = self.topo.node(n).name.as_str();
        self.str(key, name)
    }

    /// The topology the names come from.
    pub(crate) fn topo(&self) -> &Topology {
        self.topo
    }

    /// `null`.
    pub(crate) fn null(&mut self, key: &str) -> io::Result<()> {
        self.key(key)?;
        self.out.write_all(b"null")
    }

    /// An edge's ends.
    pub(crate) fn edge_ends(&self, edge: EdgeId) -> (NodeId, NodeId) {
        let edge = self.topo.edge(edge);
        (edge.from, edge.to)
    }

    /// An array of nodes, by name.
    pub(crate) fn nodes(
        &mut self,
        key: &str,
        ns: impl IntoIterator<Item = NodeId>,
    ) -> io::Result<()> {
        self.key(key)?;
        self.out.write_all(b"[")?;
        for (i, n) in ns.into_iter().enumerate() {
            if i > 0 {
                self.out.write_all(b",")?;
            }
            write_str(self.out, self.topo.node(n).name.as_str())?;
        }
        self.out.write_all(b"]")
    }

    /// An array of unsigned integers.
    pub(crate) fn u64s(&mut self, key: &str, vs: impl IntoIterator<Item = u64>) -> io::Result<()> {
        self.key(key)?;
        self.out.write_all(b"[")?;
        for (i, v) in vs.into_iter().enumerate() {
            if i > 0 {
                self.out.write_all(b",")?;
            }
            write_u64(self.out, v)?;
        }
        self.out.write_all(b"]")
    }

    /// Any serialisable value, written by `serde_json` (compact): for the rare complex ones,
    /// such as `x-death` tables.
    pub(crate) fn value<T: serde::Serialize + ?Sized>(
        &mut self,
        key: &str,
        v: &T,
    ) -> io::Result<()> {
        self.key(key)?;
        serde_json::to_writer(&mut *self.out, v).map_err(io::Error::from)
    }
}

/// A string as a JSON string, escaped by `serde_json` itself.
fn write_str<W: Write + ?Sized>(out: &mut W, s: &str) -> io::Result<()> {
    serde_json::to_writer(out, s).map_err(io::Error::from)
}

/// An unsigned integer in decimal, as `serde_json` (itoa) writes it, without allocating.
fn write_u64<W: Write + ?Sized>(out: &mut W, mut v: u64) -> io::Result<()> {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.write_all(&buf[i..])
}

/// The trace hash of `scenario` run with `seed` up to `until`, events drained in one batch.
/// The CLI's `trace_hash` and the wasm determinism test compute the same value.
pub fn hash_of_run(
    scenario: &crate::Scenario,
    seed: u64,
    until: crate::SimTime,
) -> Result<TraceHash, crate::Diagnostics> {
    let mut sim = crate::Sim::with_seed(scenario, seed)?;
    sim.advance_to(until);
    let mut h = TraceHash::default();
    let events: Vec<Event> = sim.drain_events().collect();
    for e in &events {
        h.add(e, sim.topology());
    }
    Ok(h)
}

/// A running FNV-1a 64-bit hash of trace lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceHash(u64);

impl Default for TraceHash {
    fn default() -> Self {
        TraceHash(0xcbf2_9ce4_8422_2325)
    }
}

impl TraceHash {
    /// Adds bytes to the hash. (The `std::io::Write` impl does the same, for
    /// [`write_event`] and other writers.)
    pub fn write(&mut self, bytes: &[u8]) {
        self.feed(bytes);
    }

    /// FNV-1a over `bytes`.
    fn feed(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = h;
    }

    /// Adds one event, as its NDJSON line and a newline, streamed into the hash without
    /// building the line.
    pub fn add(&mut self, e: &Event, topo: &Topology) {
        write_event(e, topo, self).expect("hashing does not fail");
        self.feed(b"\n");
    }

    /// The hash value.
    pub fn value(self) -> u64 {
        self.0
    }
}

/// The hash as a sink: every byte written is hashed, and nothing fails.
impl Write for TraceHash {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.feed(buf);
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.feed(buf);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl fmt::Display for TraceHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    #[test]
    fn fnv1a_matches_the_published_test_vectors() {
        // From the FNV reference test suite: "" and "a" and "foobar".
        let h = |s: &str| {
            let mut t = TraceHash::default();
            t.write(s.as_bytes());
            t.value()
        };
        assert_eq!(h(""), 0xcbf29ce484222325);
        assert_eq!(h("a"), 0xaf63dc4c8601ec8c);
        assert_eq!(h("foobar"), 0x85944171f73967e8);
    }

    /// One line, checked: it is a JSON object that `serde_json` writes back byte for byte
    /// (so numbers and escapes are exactly its own), `at_us` and `type` first.
    fn check_line(e: &Event, topo: &Topology) -> Map<String, Value> {
        let mut line = Vec::new();
        write_event(e, topo, &mut line).expect("a Vec takes it");
        let text = String::from_utf8(line).expect("UTF-8");
        let v: Value = serde_json::from_str(&text)
            .unwrap_or_else(|err| panic!("not JSON ({err}): {text}, from {e:?}"));
        assert_eq!(v.to_string(), text, "serde_json writes it otherwise: {e:?}");
        let Value::Object(obj) = v else {
            panic!("not an object: {text}")
        };
        let keys: Vec<&str> = obj.keys().take(2).map(String::as_str).collect();
        assert_eq!(keys, ["at_us", "type"], "{text}");
        assert_eq!(obj["at_us"], e.at.0, "{text}");
        assert_eq!(obj["type"], e.kind.name(), "{text}");
        assert_eq!(event_line(e, topo), text);
        obj
    }

    /// Every event of every built-in example run to 30 s makes a good line; its nodes are named
    /// as the topology names them; and the hash streamed through `add` is the hash of the lines.
    #[test]
    fn every_line_is_json_and_the_streamed_hash_is_the_lines_hash() {
        let until = crate::SimTime(30_000_000);
        let mut checked = std::collections::BTreeMap::<&'static str, u64>::new();
        for &(name, text) in crate::examples::EXAMPLES {
            let scenario = crate::Scenario::from_json(text)
                .unwrap_or_else(|d| panic!("example {name} is valid: {d}"));
            let mut sim = crate::Sim::new(&scenario).expect("the example runs");
            sim.advance_to(until);
            let events: Vec<Event> = sim.drain_events().collect();
            assert!(!events.is_empty(), "example {name} makes events");
            let topo = sim.topology();
            let mut streamed = TraceHash::default();
            let mut from_text = TraceHash::default();
            for e in &events {
                let obj = check_line(e, topo);
                if let EventKind::Published { node, .. } | EventKind::Consumed { node, .. } = e.kind
                {
                    assert_eq!(obj["node"], topo.node(node).name.as_str());
                }
                streamed.add(e, topo);
                from_text.write(event_line(e, topo).as_bytes());
                from_text.write(b"\n");
                *checked.entry(e.kind.name()).or_default() += 1;
            }
            assert_eq!(streamed, from_text, "example {name}: trace hash");
        }
        // The examples between them show these kinds of event; each was checked above.
        for kind in [
            "published",
            "sent",
            "received",
            "consumed",
            "dropped",
            "routed",
            "enqueued",
            "delivered",
            "acked",
            "dead_lettered",
        ] {
            assert!(
                checked.contains_key(kind),
                "no {kind} event in the examples"
            );
        }
    }

    /// Names and strings that serde_json must escape (quotes, backslashes, control characters)
    /// or passes through (non-ASCII), on every kind of event: the examples' events with every
    /// node renamed and every string in them replaced, and the kinds the examples lack.
    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them_and_read_back_the_same() {
        use crate::amqp::{AmqpEvent, PublishedTo, SettleMethod};
        use crate::id::MessageId;
        use crate::ledger::DropReason;
        use crate::SimTime;
        const TRICKY: [&str; 6] = [
            "quote\"d",
            "back\\slash/",
            "tab\tnew\nline\r\u{1}\u{1f}\u{7f}",
            "ünïcödé ✓ 🐇",
            "</script>\u{2028}\u{2029}",
            "",
        ];
        let tricky = |i: usize| TRICKY[i % TRICKY.len()];
        // Every node field reads back as its node's name, and the free texts as written.
        let check = |e: &Event, topo: &Topology| {
            let obj = check_line(e, topo);
            let name = |n: NodeId| topo.node(n).name.as_str();
            match &e.kind {
                EventKind::Published { node, .. }
                | EventKind::Received { node, .. }
                | EventKind::Consumed { node, .. }
                | EventKind::Dropped { node, .. }
                | EventKind::Crashed { node, .. }
                | EventKind::Restarted { node }
                | EventKind::Removed { node }
                | EventKind::Configured { node } => assert_eq!(obj["node"], name(*node)),
                EventKind::Sent { from, to, .. } => {
                    assert_eq!(obj["from"], name(*from));
                    assert_eq!(obj["to"], name(*to));
                }
                EventKind::Amqp(AmqpEvent::ChannelError { node, text, .. }) => {
                    assert_eq!(obj["node"], name(*node));
                    assert_eq!(obj["text"], &**text);
                }
                EventKind::Amqp(AmqpEvent::Returned { to, .. }) => {
                    assert_eq!(obj["routing_key"], to.routing_key.as_str());
                }
                EventKind::Amqp(AmqpEvent::Settled {
                    queue, consumer, ..
                })
                | EventKind::Amqp(AmqpEvent::ConsumerActivated { queue, consumer }) => {
                    assert_eq!(obj["queue"], name(*queue));
                    assert_eq!(obj["consumer"], name(*consumer));
                }
                EventKind::Amqp(AmqpEvent::DeadLettered { detail, .. }) => {
                    assert_eq!(obj["exchange"], detail.exchange.as_str());
                }
                EventKind::Amqp(_) => {}
                EventKind::Http(
                    crate::http::HttpEvent::Request { client, .. }
                    | crate::http::HttpEvent::RequestEnded { client, .. },
                ) => assert_eq!(obj["client"], name(*client)),
                EventKind::Http(
                    crate::http::HttpEvent::Queued { node, .. }
                    | crate::http::HttpEvent::Started { node, .. }
                    | crate::http::HttpEvent::Responded { node, .. },
                ) => assert_eq!(obj["node"], name(*node)),
                EventKind::Http(crate::http::HttpEvent::Health { node, upstream, .. }) => {
                    assert_eq!(obj["node"], name(*node));
                    assert_eq!(obj["upstream"], name(*upstream));
                }
                EventKind::Http(_) => {}
                EventKind::Kafka(ref x) => {
                    if let Some(n) = x.nodes()[0] {
                        let named = obj.values().any(|v| v == name(n));
                        assert!(named, "{obj:?}");
                    }
                }
                EventKind::Bullmq(ref x) => {
                    if let Some(n) = x.nodes()[0] {
                        let named = obj.values().any(|v| v == name(n));
                        assert!(named, "{obj:?}");
                    }
                }
                EventKind::Data(ref x) => match **x {
                    crate::data::DataEvent::Written { store, .. }
                    | crate::data::DataEvent::Visible { store, .. }
                    | crate::data::DataEvent::Deduplicated { store, .. } => {
                        assert_eq!(obj["store"], name(store))
                    }
                    crate::data::DataEvent::Read(ref r) => assert_eq!(obj["store"], name(r.store)),
                    crate::data::DataEvent::WriteSent { .. }
                    | crate::data::DataEvent::ReadSent { .. } => {}
                },
            }
        };
        for &(name, text) in crate::examples::EXAMPLES {
            let scenario = crate::Scenario::from_json(text).expect("valid");
            let mut sim = crate::Sim::new(&scenario).expect("runs");
            sim.advance_to(SimTime(30_000_000));
            let mut events: Vec<Event> = sim.drain_events().collect();
            let mut topo = sim.topology().clone();
            for (i, n) in topo.nodes.iter_mut().enumerate() {
                n.name = format!("{}{name}{i}", tricky(i));
            }
            for (i, e) in events.iter_mut().enumerate() {
                if let EventKind::Amqp(AmqpEvent::Returned { to, .. }) = &mut e.kind {
                    to.routing_key = tricky(i).into();
                }
                if let EventKind::Amqp(AmqpEvent::DeadLettered { detail, .. }) = &mut e.kind {
                    detail.exchange = tricky(i).into();
                    detail.routing_keys.push(tricky(i + 1).into());
                    for d in &mut detail.x_death {
                        d.queue = tricky(i + 2).into();
                        d.exchange = tricky(i + 3).into();
                        d.routing_keys.push(tricky(i + 4).into());
                    }
                }
                check(e, &topo);
            }
            // The kinds of event the examples may not show, on this topology.
            let (n0, n1) = (NodeId(0), NodeId(topo.nodes.len() as u32 - 1));
            let m = MessageId(u64::MAX);
            let at = SimTime(u64::MAX);
            let kinds = [
                EventKind::Dropped {
                    message: m,
                    node: n1,
                    reason: DropReason::DeadLetterCycle,
                },
                EventKind::Crashed { node: n0, lost: 0 },
                EventKind::Restarted { node: n1 },
                EventKind::Removed { node: n0 },
                EventKind::Configured { node: n1 },
                EventKind::Amqp(AmqpEvent::Returned {
                    message: m,
                    node: n0,
                    to: Box::new(PublishedTo {
                        exchange: None,
                        routing_key: "k\u{0}\"".into(),
                    }),
                }),
                EventKind::Amqp(AmqpEvent::Confirmed {
                    node: n0,
                    seq: 0,
                    message: m,
                    ack: false,
                }),
                EventKind::Amqp(AmqpEvent::QueueDeleted {
                    queue: n1,
                    why: "x-expires",
                    dropped: u32::MAX,
                }),
                EventKind::Amqp(AmqpEvent::ConsumerActivated {
                    queue: n0,
                    consumer: n1,
                }),
                EventKind::Amqp(AmqpEvent::ChannelError {
                    node: n1,
                    code: 406,
                    text: "PRECONDITION_FAILED - \"unknown\" \\ delivery tag\n".into(),
                }),
                EventKind::Amqp(AmqpEvent::ConsumerPaused { node: n0 }),
                EventKind::Amqp(AmqpEvent::ConsumerResumed { node: n1 }),
            ];
            for kind in kinds {
                check(&Event { at, kind }, &topo);
            }
            for method in [SettleMethod::Ack, SettleMethod::Nack, SettleMethod::Reject] {
                for (requeue, multiple) in
                    [(false, false), (true, false), (false, true), (true, true)]
                {
                    let kind = EventKind::Amqp(AmqpEvent::Settled {
                        message: m,
                        queue: n0,
                        consumer: n1,
                        tag: 1,
                        method,
                        requeue,
                        multiple,
                    });
                    check(&Event { at, kind }, &topo);
                }
            }
        }
    }
}
