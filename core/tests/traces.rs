//! Distributed traces: the spans one correlation id's chain makes across paradigms, checked
//! on hand-computed cases (constant latencies), their bounds, their determinism, and the
//! OTLP/JSON encoding of their export.

mod common;

use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use switchboard_core::traces::{otlp, Segment, Trace, TraceLimits};
use switchboard_core::{Command, EventKind};
use switchboard_core::{MessageId, Scenario, Sim, SimTime};

const MS: u64 = 1_000;

/// Microseconds as milliseconds, with three decimals only when needed.
fn ms(us: u64) -> String {
    if us.is_multiple_of(MS) {
        format!("{}", us / MS)
    } else {
        format!("{}.{:03}", us / MS, us % MS)
    }
}

fn traced(s: &Scenario, until_ms: u64, limits: TraceLimits) -> Sim {
    let mut sim = Sim::new(s).expect("valid");
    sim.keep_traces(limits);
    sim.advance_to(SimTime(until_ms * MS));
    sim.drain_events().for_each(drop);
    sim
}

/// A trace as lines `depth what node→peer start-end [error] detail`, times in ms, for
/// comparing with a hand-written waterfall.
fn lines(sim: &Sim, t: &Trace) -> Vec<String> {
    let topo = sim.topology();
    let now = sim.traces().unwrap().now();
    let ends = t.ends(now);
    let depths = t.depths();
    let crit = t.critical_path(now);
    let name = |n: Option<switchboard_core::NodeId>| {
        n.map_or("-".to_owned(), |n| topo.node(n).name.clone())
    };
    t.spans
        .iter()
        .enumerate()
        .map(|(i, s)| {
            format!(
                "{}{}{} {}→{} {}-{}{}{}",
                "  ".repeat(depths[i] as usize),
                if crit[i] { "*" } else { "" },
                s.what.label(),
                name(s.node),
                name(s.peer),
                ms(s.start.0),
                ms(ends[i].0),
                if s.error { " error" } else { "" },
                s.detail
                    .as_deref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default(),
            )
        })
        .collect()
}

fn dump(sim: &Sim, c: u64) -> String {
    let t = sim.traces().unwrap().trace(MessageId(c)).expect("kept");
    lines(sim, t).join("\n")
}

/// A payment through a RabbitMQ queue whose consumer adds a BullMQ job, whose worker writes
/// a store (`core/tests/handler_steps.rs` computes the same timings by hand).
fn receipts() -> Value {
    common::data::receipts(json!({"add_job": "emails", "name": "receipt",
                                  "data": {"order": "{header.order}"}}))
}

/// When the events say `job`'s message became active and was written, in µs.
fn event_times(sim_events: &[switchboard_core::Event]) -> (u64, u64, u64) {
    let mut active = 0;
    let mut written = 0;
    let mut completed = 0;
    for e in sim_events {
        match &e.kind {
            EventKind::Bullmq(switchboard_core::bullmq::BullmqEvent::Active { .. }) => {
                active = e.at.0
            }
            EventKind::Bullmq(switchboard_core::bullmq::BullmqEvent::Completed { .. }) => {
                completed = e.at.0
            }
            EventKind::Data(d) if d.name() == "store_written" => written = e.at.0,
            _ => {}
        }
    }
    (active, written, completed)
}

#[test]
fn a_job_added_by_a_consumer_hangs_under_its_processing_and_the_path_runs_through_it() {
    let s = common::scenario(&receipts().to_string());
    let sim = traced(&s, 100, TraceLimits::default());
    let (events, _) = common::run_events(&s, SimTime(100 * MS), true);
    let (active, written, completed) = event_times(&events);
    // Published at 0, 1 ms to the queue, delivered at once, 1 ms to payer, 10 ms of work
    // (2..12); the add leaves at 12 and reaches Redis at 14, Redis answers at 16 and payer
    // acks, the ack reaching the broker at 17. The job waits in emails from 14 until a worker
    // takes it; its attempt writes `sent` (1 ms there, applied after the store's latency) and
    // ends when the job completes (the write leaves 6 ms before it is applied: 1 ms on the
    // edge, the store's default 5 ms write latency). Everything that delayed the job's completion is on the
    // critical path (*); nothing ran alongside it here.
    let expected = vec![
        "*message shop→- 0-17".to_owned(),
        "  *network shop→payments 0-1".to_owned(),
        "  *network payments→payer 1-2".to_owned(),
        "  *process payer→- 2-17".to_owned(),
        format!("    *job payer→- 12-{} (receipt #1)", ms(completed)),
        "      *network payer→emails 12-14".to_owned(),
        format!("      *waiting emails→- 14-{}", ms(active)),
        format!(
            "      *attempt mailer→- {}-{} (attempt 1)",
            ms(active),
            ms(completed)
        ),
        format!(
            "        *write mailer→sent {}-{} (key mail:A-1: version 1)",
            ms(written - 6 * MS),
            ms(written)
        ),
    ];
    let t = sim.traces().unwrap().trace(MessageId(1)).expect("kept");
    assert_eq!(lines(&sim, t), expected);
    t.check(sim.seed()).unwrap();
    // The job's span is the job's message, caused by the payment: one trace, two messages.
    assert_eq!(t.messages(), [MessageId(1), MessageId(2)]);
    assert!(sim.traces().unwrap().trace_of(MessageId(2)).is_some());
}

#[test]
fn http_attempts_and_backoffs_are_spans_under_the_request() {
    // svc fails every request (1 ms of work, 1 ms each way); three attempts, 10 ms apart.
    let doc = json!({"version": 4, "seed": 1,
        "nodes": [{"id": "client", "kind": "client", "config": {}},
                  {"id": "svc", "kind": "service", "config": {
                      "concurrency": 10, "service_time": "1ms", "error_rate": 1.0}}],
        "edges": [{"from": "client", "to": "svc", "latency": "1ms", "resilience": {
            "retry": {"maxAttempts": 3, "waitDuration": "10ms"}}}],
        "actions": [{"at": "0s", "do": "publish", "node": "client"}]});
    let s = common::scenario(&doc.to_string());
    let sim = traced(&s, 100, TraceLimits::default());
    let t = sim.traces().unwrap().trace(MessageId(1)).expect("kept");
    // Each attempt: there at +1, handled to +2 (500), back at +3; then 10 ms of backoff.
    // The request fails at 29, when the third answer arrives.
    let expected = [
        "*request client→- 0-29 error (request_failed at client)",
        "  *call client→svc 0-3 error (attempt 1; error)",
        "    *network client→svc 0-1",
        "    *handle svc→- 1-2 error (error)",
        "    *network svc→client 2-3",
        "  *backoff client→svc 3-13 (before attempt 2)",
        "  *call client→svc 13-16 error (attempt 2; error)",
        "    *network client→svc 13-14",
        "    *handle svc→- 14-15 error (error)",
        "    *network svc→client 15-16",
        "  *backoff client→svc 16-26 (before attempt 3)",
        "  *call client→svc 26-29 error (attempt 3; error)",
        "    *network client→svc 26-27",
        "    *handle svc→- 27-28 error (error)",
        "    *network svc→client 28-29",
    ];
    assert_eq!(lines(&sim, t), expected);
    t.check(sim.seed()).unwrap();
}

fn journey(until_ms: u64, limits: TraceLimits) -> Sim {
    traced(&common::example("order-journey.json"), until_ms, limits)
}

#[test]
fn one_order_is_one_trace_across_http_rabbitmq_bullmq_and_kafka() {
    let sim = journey(10_000, TraceLimits::default());
    let book = sim.traces().unwrap();
    let t = book
        .trace(MessageId(1))
        .expect("the first order's trace is kept");
    t.check(sim.seed()).unwrap();
    let kinds: BTreeSet<&str> = t.spans.iter().map(|s| s.what.label()).collect();
    for k in [
        "request", "call", "handle", "write", "message", "process", "job", "waiting", "attempt",
        "record", "in log",
    ] {
        assert!(
            kinds.contains(k),
            "no {k} span in {kinds:?}:\n{}",
            dump(&sim, 1)
        );
    }
    // Every message the order made is in it, and all share its trace id in the export.
    assert!(t.messages().len() >= 5, "{:?}", t.messages());
    let json = otlp::export(book, sim.topology(), Some(MessageId(1)));
    let ids: BTreeSet<String> = all_spans(&json)
        .iter()
        .map(|(_, s)| s["traceId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    // The trace ends with the view builder's write, long after the client had its answer:
    // the answer's flight back is not on the critical path; the record's wait in the log is.
    let crit = t.critical_path(book.now());
    let topo = sim.topology();
    let shop = topo.node_id("shop").unwrap();
    let back = t
        .spans
        .iter()
        .position(|s| s.what == Segment::Transit && s.peer == Some(shop));
    assert!(!crit[back.expect("the answer's flight")]);
    let in_log = t
        .spans
        .iter()
        .position(|s| s.what == Segment::InLog)
        .unwrap();
    assert!(crit[in_log], "{}", dump(&sim, 1));
}

#[test]
fn a_records_time_in_the_log_runs_from_its_append_to_the_groups_fetch() {
    let s = common::example("order-journey.json");
    let (events, _) = common::run_events(&s, SimTime(10_000 * MS), false);
    let sim = traced(&s, 10_000, TraceLimits::default());
    let book = sim.traces().unwrap();
    let mut checked = 0;
    for t in book.traces() {
        for span in t.spans.iter().filter(|s| s.what == Segment::InLog) {
            // The append of that record, then the first fetch by that consumer covering it.
            let (tp, offset, appended) = events
                .iter()
                .find_map(|e| match &e.kind {
                    EventKind::Kafka(switchboard_core::kafka::KafkaEvent::Appended(a))
                        if a.message == span.message =>
                    {
                        Some((a.tp, a.offset, e.at))
                    }
                    _ => None,
                })
                .expect("appended");
            let fetched = events
                .iter()
                .find_map(|e| match e.kind {
                    EventKind::Kafka(switchboard_core::kafka::KafkaEvent::Fetched {
                        consumer,
                        tp: ftp,
                        from,
                        span: n,
                        ..
                    }) if Some(consumer) == span.peer
                        && ftp == tp
                        && (from..=from + u64::from(n)).contains(&offset)
                        && e.at >= appended =>
                    {
                        Some(e.at)
                    }
                    _ => None,
                })
                .expect("fetched");
            assert_eq!((span.start, span.end), (appended, Some(fetched)));
            checked += 1;
        }
    }
    assert!(checked > 30, "only {checked} records checked");
}

/// Every span object of an OTLP/JSON export, with its resource's `service.name`.
fn all_spans(json: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for r in json["resourceSpans"].as_array().expect("resourceSpans") {
        let service = r["resource"]["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == "service.name")
            .and_then(|a| a["value"]["stringValue"].as_str())
            .expect("every resource names its service")
            .to_owned();
        for ss in r["scopeSpans"].as_array().unwrap() {
            for s in ss["spans"].as_array().unwrap() {
                out.push((service.clone(), s.clone()));
            }
        }
    }
    out
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && s.bytes().any(|b| b != b'0')
}

/// The rules of OTLP's JSON encoding, and a consistent span tree: what Jaeger and collectors
/// need to read the file.
fn check_otlp(json: &Value) -> usize {
    let spans = all_spans(json);
    let mut by_trace: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for (_, s) in &spans {
        let tid = s["traceId"].as_str().expect("traceId is a string");
        assert!(
            is_hex(tid, 32),
            "traceId {tid}: 32 lowercase hex digits, not all zero"
        );
        let sid = s["spanId"].as_str().expect("spanId is a string");
        assert!(
            is_hex(sid, 16),
            "spanId {sid}: 16 lowercase hex digits, not all zero"
        );
        if let Some(p) = s.get("parentSpanId") {
            assert!(is_hex(p.as_str().unwrap(), 16), "parentSpanId {p}");
        }
        let start = s["startTimeUnixNano"].as_str().expect("times are strings");
        let end = s["endTimeUnixNano"].as_str().expect("times are strings");
        for t in [start, end] {
            assert!(
                !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()),
                "time {t}"
            );
        }
        let (start, end): (u128, u128) = (start.parse().unwrap(), end.parse().unwrap());
        assert!(start <= end, "{s}");
        // 2026 or later, in nanoseconds.
        assert!(start >= 1_767_225_600 * 1_000_000_000, "{start}");
        let kind = s["kind"].as_u64().expect("kind is an integer");
        assert!((1..=5).contains(&kind), "kind {kind}");
        let code = s["status"]["code"]
            .as_u64()
            .expect("status.code is an integer");
        assert!(code == 0 || code == 2, "status {code}");
        assert!(s["name"].as_str().is_some_and(|n| !n.is_empty()));
        for a in s["attributes"].as_array().unwrap() {
            let v = a["value"].as_object().unwrap();
            assert_eq!(v.len(), 1, "one typed value: {a}");
            if let Some(i) = v.get("intValue") {
                assert!(i.as_str().is_some_and(|i| i.parse::<i64>().is_ok()), "{a}");
            }
        }
        by_trace.entry(tid.to_owned()).or_default().push(s);
    }
    for (tid, spans) in &by_trace {
        let ids: BTreeMap<&str, &Value> = spans
            .iter()
            .map(|s| (s["spanId"].as_str().unwrap(), *s))
            .collect();
        assert_eq!(ids.len(), spans.len(), "trace {tid}: span ids repeat");
        let roots = spans
            .iter()
            .filter(|s| s.get("parentSpanId").is_none())
            .count();
        assert_eq!(roots, 1, "trace {tid}: {roots} roots");
        for s in spans {
            // Every parent is in the trace, and following parents reaches the root.
            let mut cur = *s;
            for _ in 0..=spans.len() {
                match cur.get("parentSpanId") {
                    None => break,
                    Some(p) => {
                        cur = ids
                            .get(p.as_str().unwrap())
                            .unwrap_or_else(|| panic!("trace {tid}: parent {p} missing"));
                    }
                }
            }
            assert!(cur.get("parentSpanId").is_none(), "trace {tid}: a cycle");
        }
    }
    spans.len()
}

#[test]
fn the_otlp_export_follows_the_encoding_rules_and_its_trees_are_consistent() {
    let sim = journey(10_000, TraceLimits::default());
    let json = otlp::export(sim.traces().unwrap(), sim.topology(), None);
    assert!(check_otlp(&json) > 100);
    // Services are the nodes.
    let services: BTreeSet<String> = all_spans(&json).into_iter().map(|(s, _)| s).collect();
    for n in ["shop", "orders-svc", "fulfil", "shipper", "tracker"] {
        assert!(services.contains(n), "{services:?}");
    }
    // Retries, timeouts, breakers and failures too.
    for example in [
        "http-retry-storm",
        "http-timeout-cascade",
        "bullmq-retries-and-backoff",
        "amqp-dead-letter",
        "kafka-consumer-group-rebalance",
        "data-outbox",
    ] {
        let sim = traced(
            &common::example(&format!("{example}.json")),
            20_000,
            TraceLimits::default(),
        );
        let json = otlp::export(sim.traces().unwrap(), sim.topology(), None);
        assert!(check_otlp(&json) > 0, "{example}");
        for t in sim.traces().unwrap().traces() {
            t.check(sim.seed())
                .unwrap_or_else(|e| panic!("{example}: {e}"));
        }
    }
}

#[test]
fn the_check_catches_a_broken_tree_and_a_bad_encoding() {
    // The checks can fail: a span whose parent is missing, and an id in base64.
    let sim = journey(2_000, TraceLimits::default());
    let mut json = otlp::export(sim.traces().unwrap(), sim.topology(), Some(MessageId(1)));
    let spans = json["resourceSpans"][0]["scopeSpans"][0]["spans"]
        .as_array_mut()
        .unwrap();
    let s = spans
        .iter_mut()
        .find(|s| s.get("parentSpanId").is_some())
        .unwrap();
    s["parentSpanId"] = json!("00000000000000ff");
    assert!(std::panic::catch_unwind(|| check_otlp(&json)).is_err());
    let mut json = otlp::export(sim.traces().unwrap(), sim.topology(), Some(MessageId(1)));
    json["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"] =
        json!("AAECAwQFBgcICQoLDA0ODw==");
    assert!(std::panic::catch_unwind(|| check_otlp(&json)).is_err());
    let mut t = sim.traces().unwrap().trace(MessageId(1)).unwrap().clone();
    t.spans[2].parent = Some(5);
    assert!(t.check(sim.seed()).is_err());
}

#[test]
fn traces_stay_within_their_limits_and_say_what_they_let_go() {
    let limits = TraceLimits {
        traces: 5,
        spans_per_trace: 8,
    };
    let sim = journey(10_000, limits);
    let book = sim.traces().unwrap();
    assert_eq!(book.traces().count(), 5);
    assert!(book.let_go() >= 40, "{} let go", book.let_go());
    assert!(book.traces().all(|t| t.spans.len() <= 8));
    // What it holds is bounded by the limits: spans, and the messages they belong to.
    assert!(book.held() <= 2 * 5 * 8, "{}", book.held());
    assert!(book.held() >= 5, "{}", book.held());
    assert!(
        book.traces().any(|t| t.cut > 0),
        "an order's journey is longer than 8 spans"
    );
    for t in book.traces() {
        t.check(sim.seed()).unwrap();
    }
    // The oldest chains are let go first: the last order placed is kept, the first is not.
    let unbounded = journey(
        10_000,
        TraceLimits {
            traces: 10_000,
            spans_per_trace: 10_000,
        },
    );
    let last = unbounded
        .traces()
        .unwrap()
        .traces()
        .map(|t| t.correlation)
        .max()
        .unwrap();
    assert!(book.trace(last).is_some());
    // A message of a trace let go is forgotten with it.
    let first = unbounded.traces().unwrap().trace(MessageId(1)).unwrap();
    assert!(book.trace(MessageId(1)).is_none());
    assert!(first.messages().iter().all(|m| book.trace_of(*m).is_none()));
}

#[test]
fn keeping_traces_changes_nothing_and_they_are_the_same_every_time() {
    let s = common::example("order-journey.json");
    let hash = |keep: bool| {
        let mut sim = Sim::new(&s).unwrap();
        if keep {
            sim.keep_traces(TraceLimits::default());
        }
        let mut h = switchboard_core::trace::TraceHash::default();
        sim.advance_to(SimTime(5_000 * MS));
        let events: Vec<_> = sim.drain_events().collect();
        for e in &events {
            h.add(e, sim.topology());
        }
        h.to_string()
    };
    assert_eq!(hash(true), hash(false));
    let export = |sim: &Sim| otlp::export(sim.traces().unwrap(), sim.topology(), None).to_string();
    let a = journey(5_000, TraceLimits::default());
    let b = journey(5_000, TraceLimits::default());
    assert_eq!(export(&a), export(&b));
    // Time travel: a snapshot taken half way and run on gives the same traces.
    let mut sim = Sim::new(&s).unwrap();
    sim.keep_traces(TraceLimits::default());
    sim.advance_to(SimTime(2_000 * MS));
    let mut copy = sim.snapshot();
    sim.advance_to(SimTime(3_000 * MS));
    copy.advance_to(SimTime(5_000 * MS));
    assert_eq!(export(&copy), export(&a));
}

#[test]
fn a_live_messages_traceparent_names_its_trace_and_its_own_span() {
    let mut sim = Sim::new(&common::example("order-journey.json")).unwrap();
    sim.keep_traces(TraceLimits::default());
    let mut seen = 0;
    for step in 0..4_000 {
        sim.step();
        if step % 97 != 0 {
            continue;
        }
        let book = sim.traces().unwrap();
        for t in book.traces() {
            for m in t.messages() {
                let Some(view) = sim.locate(*m) else { continue };
                let parts: Vec<&str> = view.traceparent.split('-').collect();
                assert_eq!(parts[0], "00");
                let json = otlp::export(book, sim.topology(), Some(t.correlation));
                let own = all_spans(&json)
                    .into_iter()
                    .find(|(_, s)| s["spanId"] == parts[2])
                    .unwrap_or_else(|| panic!("{}: no span {}", view.traceparent, parts[2]));
                assert_eq!(own.1["traceId"], parts[1]);
                let msg = own.1["attributes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|a| a["key"] == "switchboard.message")
                    .unwrap()["value"]["intValue"]
                    .clone();
                assert_eq!(msg, json!(m.0.to_string()));
                seen += 1;
            }
        }
    }
    assert!(seen > 20, "{seen}");
}

#[test]
fn a_store_removed_by_a_live_edit_keeps_its_history_in_the_trace() {
    let s = common::scenario(&receipts().to_string());
    let mut sim = Sim::new(&s).unwrap();
    sim.keep_traces(TraceLimits::default());
    sim.advance_to(SimTime(40 * MS));
    let store = sim.topology().node_id("sent").unwrap();
    sim.apply(Command::RemoveNode { node: store }).unwrap();
    sim.advance_to(SimTime(100 * MS));
    let json = otlp::export(sim.traces().unwrap(), sim.topology(), Some(MessageId(1)));
    let write = all_spans(&json)
        .into_iter()
        .find(|(_, s)| s["name"] == "write sent")
        .expect("the write to the removed store is still in the trace");
    assert_eq!(write.0, "mailer");
}

#[test]
fn a_delivery_carries_its_message_id_and_a_redelivery_keeps_it() {
    // The consumer crashes with deliveries unacked: they come back redelivered.
    let s = common::example("amqp-consumer-crash.json");
    let (events, sim) = common::run_events(&s, SimTime(20_000 * MS), false);
    let mut ids: BTreeMap<String, Vec<bool>> = BTreeMap::new();
    for e in &events {
        let line = switchboard_core::trace::event_json(e, sim.topology());
        if line["type"] != "delivered" {
            continue;
        }
        let id = line["message_id"]
            .as_str()
            .expect("message_id is a string")
            .to_owned();
        assert_eq!(id, line["message"].as_u64().unwrap().to_string());
        ids.entry(id)
            .or_default()
            .push(line["redelivered"].as_bool().unwrap());
    }
    // A message delivered again, flagged redelivered, with the same message_id.
    assert!(
        ids.values()
            .any(|d| d.len() >= 2 && !d[0] && d[1..].iter().all(|r| *r)),
        "{ids:?}"
    );
}

#[test]
fn a_consumers_call_hangs_under_its_processing_with_its_retries() {
    // payer (delivered at 2, 10 ms of work) calls bank at 12, which fails every request (5 ms
    // of work, 2 ms each way: back at 21); the edge retries once, 10 ms later (31, back at
    // 40). The call has failed at 40, the handler throws and payer rejects the delivery,
    // which reaches the broker at 41. The calls and the wait between them hang under payer's
    // processing, and all of it delayed the message's end.
    let doc = json!({"version": 11, "seed": 1,
        "nodes": [
            {"id": "shop", "kind": "producer", "config": {}},
            {"id": "payments", "kind": "queue", "config": {}},
            {"id": "payer", "kind": "consumer", "config": {
                "processing": "10ms", "on_failure": {"action": "reject", "requeue": false},
                "handler": [{"call": "bank"}]}},
            {"id": "bank", "kind": "service", "config": {
                "concurrency": 1, "service_time": "5ms", "error_rate": 1.0}}],
        "edges": [
            {"from": "shop", "to": "payments", "latency": "1ms"},
            {"from": "payments", "to": "payer", "latency": "1ms"},
            {"from": "payer", "to": "bank", "latency": "2ms",
             "resilience": {"retry": {"maxAttempts": 2, "waitDuration": "10ms"}}}],
        "actions": [{"at": "0s", "do": "publish", "node": "shop"}]});
    let s = common::scenario(&doc.to_string());
    let sim = traced(&s, 100, TraceLimits::default());
    let t = sim.traces().unwrap().trace(MessageId(1)).expect("kept");
    let expected = [
        "*message shop→- 0-41 error (rejected at payments)",
        "  *network shop→payments 0-1",
        "  *network payments→payer 1-2",
        "  *process payer→- 2-41 error (a call failed: every attempt its edge's policies \
         allowed failed, timed out or was refused; reject)",
        "    *call payer→bank 12-21 error (attempt 1; error)",
        "      *network payer→bank 12-14",
        "      *handle bank→- 14-19 error (error)",
        "      *network bank→payer 19-21",
        "    *backoff payer→bank 21-31 (before attempt 2)",
        "    *call payer→bank 31-40 error (attempt 2; error)",
        "      *network payer→bank 31-33",
        "      *handle bank→- 33-38 error (error)",
        "      *network bank→payer 38-40",
    ];
    assert_eq!(lines(&sim, t), expected);
    t.check(sim.seed()).unwrap();
}
