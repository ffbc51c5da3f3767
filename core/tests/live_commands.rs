//! Live commands for the playground: `configure`, `pause` and `resume`; poison messages;
//! `Sim::locate` and the per-consumer metrics. Conservation is checked after every event and
//! every command.

mod common;

use serde_json::{json, Value};
use switchboard_core::amqp::Settlement;
use switchboard_core::scenario::NodeSpec;
use switchboard_core::trace::{event_line, TraceHash};
use switchboard_core::{
    Command, CommandError, ConsumerMetrics, MessageId, MessageLocation, MessageTemplate, NodeId,
    Scenario, Sim, SimTime,
};

const MS: u64 = 1_000;
const S: u64 = 1_000_000;

/// A simulation and its whole trace so far, checked after every event and command.
struct Run {
    sim: Sim,
    lines: Vec<Value>,
    hash: TraceHash,
}

impl Run {
    fn new(doc: Value) -> Run {
        Run::from_scenario(&common::scenario(&doc.to_string()))
    }

    fn from_scenario(s: &Scenario) -> Run {
        let mut run = Run {
            sim: Sim::new(s).expect("valid"),
            lines: Vec::new(),
            hash: TraceHash::default(),
        };
        run.drain();
        run
    }

    fn drain(&mut self) {
        let events: Vec<_> = self.sim.drain_events().collect();
        for e in &events {
            let line = event_line(e, self.sim.topology());
            self.hash.write(line.as_bytes());
            self.hash.write(b"\n");
            self.lines
                .push(serde_json::from_str(&line).expect("a trace line is JSON"));
        }
    }

    /// Runs to `t` (µs), checking conservation after every event.
    fn to(&mut self, t: u64) {
        for l in common::run_checked(&mut self.sim, SimTime(t), 1_000_000) {
            self.hash.write(l.as_bytes());
            self.hash.write(b"\n");
            self.lines
                .push(serde_json::from_str(&l).expect("a trace line is JSON"));
        }
    }

    /// Applies a command now; conservation must hold after it.
    fn apply(&mut self, c: Command) -> Result<(), CommandError> {
        let r = self.sim.apply(c);
        self.sim
            .check_conservation()
            .unwrap_or_else(|e| panic!("after a command at {}: {e}", self.sim.now()));
        self.drain();
        r
    }

    fn id(&self, name: &str) -> NodeId {
        self.sim.topology().node_id(name).expect("a live node")
    }

    /// Trace lines of type `ty`.
    fn of(&self, ty: &str) -> Vec<&Value> {
        self.lines.iter().filter(|l| l["type"] == ty).collect()
    }

    /// Trace lines of type `ty` with `at_us` in `from..to`.
    fn between(&self, ty: &str, from: u64, to: u64) -> Vec<&Value> {
        self.of(ty)
            .into_iter()
            .filter(|l| (from..to).contains(&l["at_us"].as_u64().unwrap()))
            .collect()
    }

    fn consumer(&self, name: &str) -> ConsumerMetrics {
        let m = self.sim.metrics();
        m.nodes[self.id(name).index()]
            .consumer()
            .cloned()
            .expect("a consumer has consumer metrics")
    }

    fn ready(&self, queue: &str) -> u64 {
        self.sim.metrics().nodes[self.id(queue).index()]
            .queue()
            .expect("a queue")
            .ready
    }

    fn publish(&mut self, producer: &str, message: MessageTemplate) {
        let node = self.id(producer);
        self.apply(Command::Publish { node, message })
            .expect("a producer publishes");
    }

    fn configure(&mut self, spec: Value) -> Result<(), CommandError> {
        let spec: NodeSpec = serde_json::from_value(spec).expect("a node spec");
        let node = self.id(&spec.id);
        self.apply(Command::Configure { node, spec })
    }
}

fn invalid(r: Result<(), CommandError>) -> String {
    match r {
        Err(CommandError::Invalid(why)) => why,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

/// producer `p` → queue `q` → consumer `c`, 1 ms each way.
fn pipeline(queue: Value, consumer: Value) -> Value {
    json!({
        "version": 1, "seed": 5,
        "nodes": [
            {"id": "p", "kind": "producer"},
            {"id": "q", "kind": "queue", "config": queue},
            {"id": "c", "kind": "consumer", "config": consumer}
        ],
        "edges": [
            {"from": "p", "to": "q", "latency": "1ms"},
            {"from": "q", "to": "c", "latency": "1ms"}
        ]
    })
}

fn plain() -> MessageTemplate {
    MessageTemplate::default()
}

fn poison() -> MessageTemplate {
    MessageTemplate {
        poison: true,
        ..MessageTemplate::default()
    }
}

// ----- configure: producers -----

fn constant_producer(config: Value) -> Value {
    json!({
        "version": 1, "seed": 3,
        "nodes": [
            {"id": "p", "kind": "producer", "config": config},
            {"id": "s", "kind": "sink"}
        ],
        "edges": [{"from": "p", "to": "s", "latency": "1ms"}]
    })
}

#[test]
fn configuring_a_producer_changes_its_rate_from_now() {
    let mut r = Run::new(constant_producer(
        json!({"rate_per_s": 10, "arrival": "constant"}),
    ));
    r.to(2 * S);
    assert_eq!(r.between("published", S, 2 * S).len(), 10);
    r.configure(json!({"id": "p", "kind": "producer",
                       "config": {"rate_per_s": 100, "arrival": "constant"}}))
        .unwrap();
    assert_eq!(r.lines.last().unwrap()["type"], "configured");
    assert_eq!(r.lines.last().unwrap()["node"], "p");
    r.to(4 * S);
    // The publish due at 2.1 s is replaced by one a gap at the new rate from now.
    let after = r.between("published", 2 * S + 1, 4 * S);
    assert_eq!(after[0]["at_us"], 2 * S + 10 * MS);
    assert_eq!(r.between("published", 3 * S, 4 * S).len(), 100);

    // A limit below what was already published stops it; raising it starts it again.
    r.configure(json!({"id": "p", "kind": "producer",
                       "config": {"rate_per_s": 100, "arrival": "constant", "limit": 5}}))
        .unwrap();
    r.to(5 * S);
    assert!(r.between("published", 4 * S + 1, 5 * S + 1).is_empty());
    r.configure(json!({"id": "p", "kind": "producer",
                       "config": {"rate_per_s": 100, "arrival": "constant", "limit": 1000}}))
        .unwrap();
    r.to(6 * S);
    let resumed = r.between("published", 5 * S, 6 * S + 1);
    assert_eq!(resumed[0]["at_us"], 5 * S + 10 * MS);
    assert_eq!(resumed.len(), 100);

    // Rate 0 stops it.
    r.configure(json!({"id": "p", "kind": "producer", "config": {"rate_per_s": 0}}))
        .unwrap();
    r.to(8 * S);
    assert!(r.between("published", 6 * S + 1, 8 * S + 1).is_empty());
}

#[test]
fn a_new_start_is_honoured_only_before_the_producer_started() {
    let mut r = Run::new(constant_producer(
        json!({"rate_per_s": 10, "arrival": "constant", "start": "5s"}),
    ));
    r.to(S);
    r.configure(json!({"id": "p", "kind": "producer",
                       "config": {"rate_per_s": 10, "arrival": "constant", "start": "2s"}}))
        .unwrap();
    r.to(3 * S);
    assert_eq!(r.of("published")[0]["at_us"], 2 * S);
    // Started: a later start is ignored, and the next publish is one gap from now.
    r.configure(json!({"id": "p", "kind": "producer",
                       "config": {"rate_per_s": 10, "arrival": "constant", "start": "10s"}}))
        .unwrap();
    r.to(4 * S);
    let after = r.between("published", 3 * S + 1, 4 * S + 1);
    assert_eq!(after[0]["at_us"], 3 * S + 100 * MS);
    assert_eq!(after.len(), 10);
}

#[test]
fn a_crashed_producer_takes_its_new_settings_on_restart() {
    let mut r = Run::new(constant_producer(
        json!({"rate_per_s": 10, "arrival": "constant"}),
    ));
    r.to(S);
    let p = r.id("p");
    r.apply(Command::Crash { node: p }).unwrap();
    r.configure(json!({"id": "p", "kind": "producer",
                       "config": {"rate_per_s": 50, "arrival": "constant"}}))
        .unwrap();
    r.to(2 * S);
    assert!(r.between("published", S + 1, 2 * S + 1).is_empty());
    r.apply(Command::Restart { node: p }).unwrap();
    r.to(3 * S);
    assert_eq!(r.between("published", 2 * S + 1, 3 * S + 1).len(), 50);
}

// ----- configure: consumers -----

#[test]
fn a_larger_prefetch_fills_the_window_at_once_and_a_smaller_one_takes_nothing_back() {
    let mut r = Run::new(pipeline(
        json!({}),
        json!({"prefetch_count": 2, "processing": "1h"}),
    ));
    for _ in 0..10 {
        r.publish("p", plain());
    }
    r.to(100 * MS);
    assert_eq!(r.consumer("c").unacked, 2);
    assert_eq!(r.ready("q"), 8);

    let before = r.of("delivered").len();
    r.configure(json!({"id": "c", "kind": "consumer",
                       "config": {"prefetch_count": 5, "processing": "1h"}}))
        .unwrap();
    let now: Vec<&Value> = r.between("delivered", 100 * MS, 100 * MS + 1);
    assert_eq!(now.len(), 3, "the queue fills the new window at once");
    assert_eq!(r.of("delivered").len(), before + 3);
    assert_eq!(r.consumer("c").unacked, 5);
    assert_eq!(r.consumer("c").prefetch_count, 5);
    assert_eq!(r.ready("q"), 5);

    r.configure(json!({"id": "c", "kind": "consumer",
                       "config": {"prefetch_count": 1, "processing": "1h"}}))
        .unwrap();
    r.to(200 * MS);
    assert!(r.of("requeued").is_empty(), "nothing is taken back");
    assert_eq!(r.consumer("c").unacked, 5);
    assert_eq!(r.ready("q"), 5);
    assert_eq!(r.of("delivered").len(), before + 3);

    // Settling everything: from now on, one at a time.
    let c = r.id("c");
    r.apply(Command::Settle {
        node: c,
        how: Settlement::Ack,
        delivery_tag: Some(0),
        multiple: true,
    })
    .unwrap();
    r.to(300 * MS);
    assert_eq!(r.of("acked").len(), 5);
    assert_eq!(r.consumer("c").unacked, 1);
    assert_eq!(r.ready("q"), 4);
}

#[test]
fn a_larger_global_prefetch_fills_the_channel() {
    let mut r = Run::new(json!({
        "version": 1, "seed": 5,
        "nodes": [
            {"id": "p", "kind": "producer"},
            {"id": "q1", "kind": "queue"},
            {"id": "q2", "kind": "queue"},
            {"id": "c", "kind": "consumer",
             "config": {"global_prefetch_count": 2, "processing": "1h"}}
        ],
        "edges": [
            {"from": "p", "to": "q1", "latency": "1ms"},
            {"from": "p", "to": "q2", "latency": "1ms"},
            {"from": "q1", "to": "c", "latency": "1ms"},
            {"from": "q2", "to": "c", "latency": "1ms"}
        ]
    }));
    for _ in 0..10 {
        r.publish("p", plain()); // in turn to q1 and q2
    }
    r.to(100 * MS);
    assert_eq!(r.consumer("c").unacked, 2);
    r.configure(json!({"id": "c", "kind": "consumer",
                       "config": {"global_prefetch_count": 7, "processing": "1h"}}))
        .unwrap();
    assert_eq!(r.consumer("c").unacked, 7);
    assert_eq!(r.consumer("c").global_prefetch_count, 7);
    assert_eq!(r.ready("q1") + r.ready("q2"), 3);
    r.configure(json!({"id": "c", "kind": "consumer",
                       "config": {"global_prefetch_count": 1, "processing": "1h"}}))
        .unwrap();
    r.to(S);
    assert_eq!(r.consumer("c").unacked, 7);
    assert!(r.of("requeued").is_empty());
}

#[test]
fn a_new_processing_time_applies_from_the_next_message() {
    let mut r = Run::new(pipeline(json!({}), json!({"processing": "10ms"})));
    for _ in 0..3 {
        r.publish("p", plain());
    }
    r.to(5 * MS); // the first started at 2 ms, until 12 ms
    r.configure(json!({"id": "c", "kind": "consumer", "config": {"processing": "50ms"}}))
        .unwrap();
    r.to(S);
    let took: Vec<u64> = r
        .of("received")
        .iter()
        .map(|l| l["until_us"].as_u64().unwrap() - l["at_us"].as_u64().unwrap())
        .collect();
    assert_eq!(took, [10 * MS, 50 * MS, 50 * MS]);
    assert_eq!(r.of("acked").len(), 3);
    assert_eq!(r.consumer("c").busy_us, 110 * MS);
}

#[test]
fn consumer_behaviour_changes_in_place() {
    let mut r = Run::new(pipeline(json!({}), json!({"processing": "10ms"})));
    r.publish("p", plain());
    r.to(100 * MS);
    assert_eq!(r.of("acked").len(), 1);
    r.configure(json!({"id": "c", "kind": "consumer", "config": {
        "processing": "10ms", "fail_probability": 1.0,
        "on_failure": {"action": "reject", "requeue": false}}}))
        .unwrap();
    r.publish("p", plain());
    r.to(200 * MS);
    assert_eq!(r.of("rejected").len(), 1);
    assert_eq!(r.of("rejected")[0]["requeue"], false);
    // crash_after counts the messages of the node's life: 2 are done, so 3 crashes on the next.
    r.configure(json!({"id": "c", "kind": "consumer", "config": {"crash_after": 3}}))
        .unwrap();
    r.publish("p", plain());
    r.to(300 * MS);
    assert_eq!(r.of("crashed").len(), 1);
}

#[test]
fn auto_ack_and_priority_need_a_new_basic_consume() {
    let mut r = Run::new(pipeline(json!({}), json!({})));
    let why = invalid(r.configure(json!({"id": "c", "kind": "consumer",
                                         "config": {"auto_ack": true}})));
    assert!(why.contains("needs a new basic.consume"), "{why}");
    assert!(why.contains("remove the consume edge"), "{why}");
    let why = invalid(r.configure(json!({"id": "c", "kind": "consumer",
                                         "config": {"arguments": {"x-priority": 5}}})));
    assert!(why.contains("needs a new basic.consume"), "{why}");
    // Without its consume edge, the consumer can change them, and consume again.
    let edge = r.sim.topology().node(r.id("c")).inc[0];
    r.apply(Command::RemoveEdge { edge }).unwrap();
    r.configure(json!({"id": "c", "kind": "consumer", "config": {"auto_ack": true}}))
        .unwrap();
    r.apply(Command::AddEdge {
        spec: serde_json::from_value(json!({"from": "q", "to": "c", "latency": "1ms"})).unwrap(),
    })
    .unwrap();
    r.publish("p", plain());
    r.to(S);
    assert_eq!(r.of("consumed").len(), 1, "an auto_ack consumer consumes");
    assert!(r.of("acked").is_empty());
}

#[test]
fn an_invalid_configuration_is_refused_with_the_live_rules() {
    let mut r = Run::new(pipeline(
        json!({"arguments": {"x-queue-type": "quorum"}}),
        json!({}),
    ));
    let why = invalid(r.configure(json!({"id": "c", "kind": "consumer",
                                         "config": {"global_prefetch_count": 3}})));
    assert!(why.contains("global QoS"), "{why}");
    let why = invalid(r.configure(json!({"id": "c", "kind": "consumer",
                                         "config": {"fail_probability": 2.0}})));
    assert!(why.contains("fail_probability"), "{why}");
    let why = invalid(r.configure(json!({"id": "p", "kind": "producer",
                                         "config": {"rate_per_s": -1}})));
    assert!(why.contains("rate_per_s"), "{why}");
    assert!(
        r.sim.edit_log().is_empty(),
        "refused commands are not logged"
    );
    assert!(r.of("configured").is_empty());
}

// ----- configure: the broker, names and kinds -----

#[test]
fn redeclaring_a_queue_or_an_exchange_with_other_settings_is_refused_with_406() {
    let mut r = Run::new(json!({
        "version": 1,
        "nodes": [
            {"id": "p", "kind": "producer"},
            {"id": "x", "kind": "exchange", "config": {"type": "direct"}},
            {"id": "q", "kind": "queue", "config": {"arguments": {"x-max-length": 10}}}
        ],
        "edges": [{"from": "p", "to": "x"}, {"from": "x", "to": "q", "routing_key": "k"}]
    }));
    let why = invalid(r.configure(json!({"id": "q", "kind": "queue",
        "config": {"arguments": {"x-max-length": 10, "x-message-ttl": 1000}}})));
    assert!(why.starts_with("406 PRECONDITION_FAILED"), "{why}");
    assert!(
        why.contains("inequivalent arg 'x-message-ttl' for queue 'q'"),
        "{why}"
    );
    assert!(why.contains("received 1000 but current is none"), "{why}");
    assert!(
        why.contains("remove_node") && why.contains("add_node"),
        "{why}"
    );
    let why = invalid(r.configure(json!({"id": "q", "kind": "queue",
        "config": {"durable": false, "arguments": {"x-max-length": 10}}})));
    assert!(why.contains("inequivalent arg 'durable'"), "{why}");
    let why = invalid(r.configure(json!({"id": "x", "kind": "exchange",
                                         "config": {"type": "fanout"}})));
    assert!(why.starts_with("406 PRECONDITION_FAILED"), "{why}");
    assert!(
        why.contains("inequivalent arg 'type' for exchange 'x': received \"fanout\" but current is \"direct\""),
        "{why}"
    );
    assert!(r.sim.edit_log().is_empty());

    // The same declaration, moved on the canvas: accepted, and only the position changes.
    r.configure(
        json!({"id": "q", "kind": "queue", "position": {"x": 10.0, "y": 20.0},
                       "config": {"arguments": {"x-max-length": 10}}}),
    )
    .unwrap();
    let q = r.sim.topology().node(r.id("q"));
    assert_eq!(q.position.map(|p| (p.x, p.y)), Some((10.0, 20.0)));
    assert_eq!(r.of("configured").len(), 1);
    assert_eq!(r.sim.edit_log().len(), 1);
    // No position: it stays where it is.
    r.configure(json!({"id": "q", "kind": "queue",
                       "config": {"arguments": {"x-max-length": 10}}}))
        .unwrap();
    let q = r.sim.topology().node(r.id("q"));
    assert_eq!(q.position.map(|p| (p.x, p.y)), Some((10.0, 20.0)));
}

#[test]
fn configure_cannot_rename_or_change_a_kind() {
    let mut r = Run::new(pipeline(json!({}), json!({})));
    let c = r.id("c");
    let spec: NodeSpec = serde_json::from_value(json!({"id": "c2", "kind": "consumer"})).unwrap();
    let why = invalid(r.apply(Command::Configure { node: c, spec }));
    assert!(why.contains("cannot rename \"c\" to \"c2\""), "{why}");
    let spec: NodeSpec = serde_json::from_value(json!({"id": "c", "kind": "sink"})).unwrap();
    let why = invalid(r.apply(Command::Configure { node: c, spec }));
    assert!(
        why.contains("cannot turn consumer \"c\" into a sink"),
        "{why}"
    );
    let spec: NodeSpec = serde_json::from_value(json!({"id": "c", "kind": "consumer"})).unwrap();
    assert_eq!(
        r.apply(Command::Configure {
            node: NodeId(99),
            spec
        }),
        Err(CommandError::UnknownNode(NodeId(99)))
    );
}

/// A producer, a relay holding each message 10 ms, and a sink; 1 ms links.
fn relay_run() -> Run {
    Run::new(json!({
        "version": 1,
        "nodes": [
            {"id": "p", "kind": "producer"},
            {"id": "r", "kind": "relay", "config": {"delay": "10ms"}},
            {"id": "s", "kind": "sink"}
        ],
        "edges": [{"from": "p", "to": "r", "latency": "1ms"}, {"from": "r", "to": "s", "latency": "1ms"}]
    }))
}

#[test]
fn a_relay_takes_its_new_delay_for_the_next_message() {
    let mut r = relay_run();
    r.publish("p", plain());
    r.to(5 * MS);
    r.configure(json!({"id": "r", "kind": "relay", "config": {"delay": "40ms"}}))
        .unwrap();
    r.publish("p", plain());
    r.to(S);
    let held: Vec<u64> = r
        .of("received")
        .iter()
        .map(|l| l["until_us"].as_u64().unwrap() - l["at_us"].as_u64().unwrap())
        .collect();
    assert_eq!(held, [10 * MS, 40 * MS]);
    assert_eq!(r.of("consumed").len(), 2);
}

// ----- pause and resume -----

#[test]
fn a_paused_consumer_finishes_its_message_buffers_up_to_prefetch_and_resumes() {
    let mut r = Run::new(pipeline(
        json!({}),
        json!({"prefetch_count": 3, "processing": "100ms"}),
    ));
    for _ in 0..10 {
        r.publish("p", plain());
    }
    r.to(50 * MS); // m1 started at 2 ms, finishes at 102 ms
    let c = r.id("c");
    r.apply(Command::Pause { node: c }).unwrap();
    assert_eq!(r.lines.last().unwrap()["type"], "paused");
    assert!(r.consumer("c").paused);
    assert_eq!(
        r.consumer("c").processing,
        Some((MessageId(1), SimTime(2 * MS), SimTime(102 * MS)))
    );
    r.to(S);
    // m1 was finished and acked; nothing else started; the buffer filled to the prefetch.
    assert_eq!(r.of("acked").len(), 1);
    assert_eq!(r.of("received").len(), 1);
    let m = r.consumer("c");
    assert_eq!(
        (m.buffered, m.unacked, m.processing, m.busy_us),
        (3, 3, None, 100 * MS)
    );
    assert_eq!(r.ready("q"), 6);

    assert!(invalid(r.apply(Command::Pause { node: c })).contains("already paused"));
    let p = r.id("p");
    assert!(matches!(
        r.apply(Command::Pause { node: p }),
        Err(CommandError::NotAllowed(_))
    ));

    r.apply(Command::Resume { node: c }).unwrap();
    let started = r.between("received", S, S + 1);
    assert_eq!(
        started.len(),
        1,
        "the next buffered delivery starts at once"
    );
    assert_eq!(started[0]["message"], 2);
    assert!(invalid(r.apply(Command::Resume { node: c })).contains("not paused"));
    r.to(2 * S);
    assert_eq!(r.of("acked").len(), 10);
    assert_eq!(r.consumer("c").busy_us, 1000 * MS);
}

#[test]
fn a_consumer_that_crashes_while_paused_comes_back_unpaused() {
    let mut r = Run::new(pipeline(
        json!({}),
        json!({"prefetch_count": 2, "processing": "10ms"}),
    ));
    let c = r.id("c");
    r.apply(Command::Pause { node: c }).unwrap();
    for _ in 0..4 {
        r.publish("p", plain());
    }
    r.to(100 * MS);
    assert_eq!(r.consumer("c").buffered, 2);
    r.apply(Command::Crash { node: c }).unwrap();
    assert_eq!(r.of("requeued").len(), 2);
    assert!(!r.consumer("c").paused);
    assert!(invalid(r.apply(Command::Resume { node: c })).contains("is down"));
    r.apply(Command::Restart { node: c }).unwrap();
    r.to(S);
    assert_eq!(r.of("acked").len(), 4);
}

#[test]
fn an_auto_ack_consumer_can_be_paused_and_its_buffer_is_unbounded() {
    let mut r = Run::new(pipeline(
        json!({}),
        json!({"auto_ack": true, "processing": "10ms"}),
    ));
    let c = r.id("c");
    r.apply(Command::Pause { node: c }).unwrap();
    for _ in 0..6 {
        r.publish("p", plain());
    }
    r.to(S);
    assert_eq!(r.consumer("c").buffered, 6);
    assert_eq!(r.consumer("c").unacked, 0);
    r.apply(Command::Crash { node: c }).unwrap();
    assert_eq!(r.of("crashed")[0]["lost"], 6);
}

// ----- poison messages -----

#[test]
fn a_poison_message_goes_round_a_classic_queue_with_nack_requeue() {
    let mut r = Run::new(pipeline(
        json!({}),
        json!({"prefetch_count": 2, "processing": "10ms",
               "when_header": [{"header": "kind", "equals": "x", "then": {"action": "ack"}}]}),
    ));
    let mut headers = switchboard_core::Headers::new();
    headers.insert(
        "kind".into(),
        switchboard_core::HeaderValue::Str("x".into()),
    );
    r.publish(
        "p",
        MessageTemplate {
            headers: headers.clone(),
            ..poison()
        },
    );
    r.publish("p", MessageTemplate { headers, ..plain() });
    r.to(S);
    let rounds: Vec<&Value> = r
        .of("delivered")
        .into_iter()
        .filter(|l| l["message"] == 1)
        .collect();
    assert!(rounds.len() > 20, "{} rounds", rounds.len());
    assert_eq!(rounds[0]["redelivered"], false);
    assert!(rounds[1..].iter().all(|l| l["redelivered"] == true));
    let nacks: Vec<&Value> = r
        .of("nacked")
        .into_iter()
        .filter(|l| l["message"] == 1)
        .collect();
    assert!(nacks.len() >= rounds.len() - 1);
    assert!(nacks.iter().all(|l| l["requeue"] == true));
    // The rule acks the same message when it is not poison, and poison never gets acked.
    let acked: Vec<&Value> = r.of("acked");
    assert_eq!(acked.len(), 1);
    assert_eq!(acked[0]["message"], 2);
    let seen = r.sim.locate(MessageId(1)).expect("still going round");
    assert!(seen.envelope.poison);
}

#[test]
fn a_poison_message_is_dead_lettered_by_a_quorum_delivery_limit() {
    let mut r = Run::new(json!({
        "version": 1, "seed": 2,
        "nodes": [
            {"id": "p", "kind": "producer"},
            {"id": "q", "kind": "queue", "config": {"arguments": {
                "x-queue-type": "quorum", "x-delivery-limit": 2, "x-dead-letter-exchange": "dlx"}}},
            {"id": "c", "kind": "consumer", "config": {
                "processing": "10ms", "on_failure": {"action": "reject", "requeue": true}}},
            {"id": "dlx", "kind": "exchange", "config": {"type": "fanout"}},
            {"id": "dlq", "kind": "queue"}
        ],
        "edges": [
            {"from": "p", "to": "q", "latency": "1ms"},
            {"from": "q", "to": "c", "latency": "1ms"},
            {"from": "dlx", "to": "dlq"}
        ]
    }));
    r.publish("p", poison());
    r.to(S);
    let rounds = r.of("delivered");
    assert_eq!(rounds.len(), 3, "x-delivery-limit 2: three deliveries");
    assert_eq!(r.of("rejected").len(), 3);
    let dl = r.of("dead_lettered");
    assert_eq!(dl.len(), 1);
    assert_eq!(dl[0]["reason"], "delivery_limit");
    assert_eq!(r.ready("dlq"), 1);
    let seen = r
        .sim
        .locate(MessageId(1))
        .expect("in the dead-letter queue");
    assert_eq!(
        seen.location,
        MessageLocation::InQueue {
            queue: r.id("dlq"),
            ready: true
        }
    );
    assert!(seen.envelope.poison, "dead-lettering keeps the mark");
}

#[test]
fn an_auto_ack_consumer_just_loses_a_poison_message() {
    let mut r = Run::new(pipeline(json!({}), json!({"auto_ack": true})));
    r.publish("p", poison());
    r.to(S);
    assert_eq!(r.of("consumed").len(), 1);
    assert_eq!(r.sim.totals().consumed, 1);
}

#[test]
fn copies_routed_to_several_queues_stay_poison() {
    let mut r = Run::new(json!({
        "version": 1,
        "nodes": [
            {"id": "p", "kind": "producer"},
            {"id": "x", "kind": "exchange", "config": {"type": "fanout"}},
            {"id": "a", "kind": "queue"},
            {"id": "b", "kind": "queue"}
        ],
        "edges": [{"from": "p", "to": "x"}, {"from": "x", "to": "a"}, {"from": "x", "to": "b"}]
    }));
    r.publish("p", poison());
    r.to(S);
    for id in [1, 2] {
        assert!(r.sim.locate(MessageId(id)).unwrap().envelope.poison);
    }
}

// ----- locate -----

#[test]
fn locate_follows_a_message_from_publish_to_ack() {
    let mut r = Run::new(pipeline(
        json!({}),
        json!({"prefetch_count": 1, "processing": "100ms"}),
    ));
    r.publish("p", plain());
    r.publish("p", plain());
    let (p_q, q_c) = {
        let t = r.sim.topology();
        (t.node(r.id("p")).out[0], t.node(r.id("c")).inc[0])
    };
    let at = |r: &Run, id: u64| r.sim.locate(MessageId(id)).expect("live");

    // Both on the publish edge.
    let v = at(&r, 1);
    assert_eq!(
        v.location,
        MessageLocation::OnEdge {
            edge: p_q,
            arrive: SimTime(MS)
        }
    );
    assert_eq!((v.delivery, v.redelivered), (None, None));

    // m1 on its way to the consumer; m2 ready at the head of the queue.
    r.to(MS);
    let v = at(&r, 1);
    assert_eq!(
        v.location,
        MessageLocation::OnEdge {
            edge: q_c,
            arrive: SimTime(2 * MS)
        }
    );
    let d = v.delivery.expect("a delivery");
    assert_eq!((d.queue, d.consumer, d.tag), (r.id("q"), r.id("c"), 1));
    assert_eq!(d.settlement, None);
    assert_eq!(v.redelivered, Some(false));
    let v = at(&r, 2);
    assert_eq!(
        v.location,
        MessageLocation::InQueue {
            queue: r.id("q"),
            ready: true
        }
    );
    assert_eq!(v.position, Some(0));

    // m1 being processed.
    r.to(50 * MS);
    let v = at(&r, 1);
    assert_eq!(
        v.location,
        MessageLocation::AtConsumer {
            consumer: r.id("c"),
            processing: true
        }
    );
    assert_eq!(v.until, Some(SimTime(102 * MS)));

    // m1's ack on its way back.
    r.to(102 * MS);
    let v = at(&r, 1);
    assert_eq!(
        v.location,
        MessageLocation::OnEdge {
            edge: q_c,
            arrive: SimTime(103 * MS)
        }
    );
    assert_eq!(v.delivery.and_then(|d| d.settlement), Some(Settlement::Ack));

    // Acked: gone. m2 delivered in its place.
    r.to(103 * MS);
    assert!(r.sim.locate(MessageId(1)).is_none());
    assert!(matches!(
        at(&r, 2).location,
        MessageLocation::OnEdge { edge, .. } if edge == q_c
    ));
    assert!(r.sim.locate(MessageId(99)).is_none(), "never existed");

    // It serialises, for the page.
    let json = serde_json::to_value(at(&r, 2)).unwrap();
    assert_eq!(json["location"]["at"], "on_edge");
    assert_eq!(json["delivery"]["tag"], 2);
}

#[test]
fn locate_finds_a_buffered_delivery_and_a_message_held_by_a_relay() {
    let mut r = Run::new(pipeline(json!({}), json!({"processing": "100ms"})));
    r.publish("p", plain());
    r.publish("p", plain());
    r.to(10 * MS);
    assert_eq!(
        r.sim.locate(MessageId(2)).unwrap().location,
        MessageLocation::AtConsumer {
            consumer: r.id("c"),
            processing: false
        }
    );
    assert_eq!(r.consumer("c").buffered, 1);

    let mut r = relay_run();
    r.publish("p", plain());
    r.to(5 * MS);
    let v = r.sim.locate(MessageId(1)).unwrap();
    assert_eq!(v.location, MessageLocation::AtNode { node: r.id("r") });
    assert_eq!(v.until, Some(SimTime(11 * MS)));
    r.to(S);
    assert!(r.sim.locate(MessageId(1)).is_none(), "consumed by the sink");
}

#[test]
fn a_redelivered_message_in_a_queue_says_so() {
    let mut r = Run::new(pipeline(
        json!({}),
        json!({"processing": "1h", "prefetch_count": 1}),
    ));
    r.publish("p", plain());
    r.to(10 * MS);
    let c = r.id("c");
    r.apply(Command::Crash { node: c }).unwrap();
    let v = r.sim.locate(MessageId(1)).unwrap();
    assert!(matches!(v.location, MessageLocation::InQueue { .. }));
    assert_eq!(v.redelivered, Some(true));
}

// ----- scripted actions -----

#[test]
fn scripted_pause_resume_and_configure_run_at_their_times() {
    let mut doc = pipeline(json!({}), json!({"processing": "10ms"}));
    doc["nodes"][0]["config"] = json!({"rate_per_s": 100, "arrival": "constant"});
    doc["actions"] = json!([
        {"at": "100ms", "do": "pause", "node": "c"},
        {"at": "300ms", "do": "resume", "node": "c"},
        {"at": "500ms", "do": "configure",
         "node": {"id": "p", "kind": "producer", "config": {"rate_per_s": 0}}},
        {"at": "500ms", "do": "publish", "node": "p", "message": {"poison": true}}
    ]);
    let s = common::scenario(&doc.to_string());
    // It round-trips, poison included.
    let again = Scenario::from_json(&s.to_json_pretty()).unwrap();
    assert_eq!(again, s);
    let mut r = Run::from_scenario(&s);
    r.to(S);
    let at = |ty: &str| {
        r.of(ty)
            .iter()
            .map(|l| l["at_us"].as_u64().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(at("paused"), [100 * MS]);
    assert_eq!(at("resumed"), [300 * MS]);
    assert_eq!(at("configured"), [500 * MS]);
    assert!(r.between("received", 100 * MS + 1, 300 * MS).is_empty());
    assert!(!r.between("received", 300 * MS, 300 * MS + 1).is_empty());
    // Nothing is published after the rate went to 0; the scripted poison message at 500 ms
    // (after the rate-driven one due then) goes round and round.
    let late = r.between("published", 500 * MS + 1, S + 1);
    assert!(late.is_empty(), "{late:?}");
    let poisoned = r
        .between("published", 500 * MS, 500 * MS + 1)
        .last()
        .map(|l| l["message"].as_u64().unwrap())
        .unwrap();
    assert!(r.sim.locate(MessageId(poisoned)).unwrap().envelope.poison);
    assert!(!r
        .of("acked")
        .iter()
        .any(|l| l["message"].as_u64() == Some(poisoned)));
}

#[test]
fn scripted_actions_are_validated_with_paths() {
    let mut doc = pipeline(json!({}), json!({}));
    doc["nodes"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "s", "kind": "sink"}));
    doc["actions"] = json!([
        {"at": "1s", "do": "pause", "node": "s"},
        {"at": "1s", "do": "resume", "node": "nobody"},
        {"at": "1s", "do": "configure",
         "node": {"id": "q", "kind": "queue", "config": {"arguments": {"x-max-length": 1}}}},
        {"at": "1s", "do": "configure", "node": {"id": "c", "kind": "sink"}},
        {"at": "1s", "do": "configure",
         "node": {"id": "c", "kind": "consumer", "config": {"fail_probability": 3}}},
        {"at": "1s", "do": "configure",
         "node": {"id": "c", "kind": "consumer", "config": {"auto_ack": true}}},
        {"at": "1s", "do": "configure", "node": {"id": "ghost", "kind": "sink"}}
    ]);
    let err = Scenario::from_json(&doc.to_string()).expect_err("refused");
    let find = |path: &str| {
        err.0
            .iter()
            .find(|d| d.path == path)
            .unwrap_or_else(|| panic!("no diagnostic at {path}:\n{err}"))
            .message
            .clone()
    };
    assert!(find("actions[0].node").contains("only a consumer can be paused"));
    assert!(find("actions[1].node").contains("no node has id \"nobody\""));
    let m = find("actions[2].node.config");
    assert!(
        m.contains("406 PRECONDITION_FAILED - inequivalent arg 'x-max-length'"),
        "{m}"
    );
    assert!(find("actions[3].node.kind").contains("keeps a node's kind"));
    assert!(find("actions[4].node.config.fail_probability").contains("probability"));
    assert!(find("actions[5].node.config").contains("needs a new basic.consume"));
    assert!(find("actions[6].node.id").contains("no node has id \"ghost\""));
    assert_eq!(err.0.len(), 7, "{err}");

    // Cancelling the consume first makes an auto_ack change valid.
    doc["actions"] = json!([
        {"at": "1s", "do": "remove_edge", "from": "q", "to": "c"},
        {"at": "1s", "do": "configure",
         "node": {"id": "c", "kind": "consumer", "config": {"auto_ack": true}}},
        {"at": "1s", "do": "add_edge", "edge": {"from": "q", "to": "c"}}
    ]);
    let s = common::scenario(&doc.to_string());
    let mut r = Run::from_scenario(&s);
    r.to(2 * S);
    assert_eq!(r.of("configured").len(), 1);
}

// ----- replay -----

#[test]
fn replaying_a_run_with_every_new_command_reproduces_it() {
    let doc = json!({
        "version": 1, "seed": 9,
        "nodes": [
            {"id": "p", "kind": "producer", "config": {"rate_per_s": 80}},
            {"id": "q", "kind": "queue", "config": {"arguments": {
                "x-queue-type": "quorum", "x-delivery-limit": 3, "x-dead-letter-exchange": "dlx"}}},
            {"id": "c", "kind": "consumer", "config": {
                "prefetch_count": 4, "processing": {"dist": "exponential", "mean": "15ms"},
                "fail_probability": 0.1, "on_failure": {"action": "reject"}}},
            {"id": "dlx", "kind": "exchange", "config": {"type": "fanout"}},
            {"id": "dlq", "kind": "queue"}
        ],
        "edges": [
            {"from": "p", "to": "q", "latency": {"dist": "uniform", "min": "1ms", "max": "5ms"}},
            {"from": "q", "to": "c", "latency": "2ms"},
            {"from": "dlx", "to": "dlq"}
        ]
    });
    let s = common::scenario(&doc.to_string());
    let mut r = Run::from_scenario(&s);
    let c = r.id("c");
    r.to(300 * MS);
    r.apply(Command::Pause { node: c }).unwrap();
    r.publish("p", poison());
    r.sim.step();
    r.sim.check_conservation().unwrap();
    r.drain();
    r.configure(json!({"id": "c", "kind": "consumer", "config": {
        "prefetch_count": 10, "processing": "5ms", "on_failure": {"action": "reject"}}}))
        .unwrap();
    r.to(600 * MS);
    r.apply(Command::Resume { node: c }).unwrap();
    r.configure(json!({"id": "p", "kind": "producer",
                       "config": {"rate_per_s": 200, "arrival": "constant"}}))
        .unwrap();
    r.to(900 * MS);
    r.configure(json!({"id": "c", "kind": "consumer", "config": {
        "prefetch_count": 1, "processing": "5ms", "on_failure": {"action": "reject"}}}))
        .unwrap();
    r.configure(json!({"id": "dlq", "kind": "queue", "position": {"x": 1.0, "y": 2.0}}))
        .unwrap();
    r.to(1500 * MS);
    let until = SimTime(1500 * MS);
    assert_eq!(r.sim.edit_log().len(), 7);
    assert!(!r.of("dead_lettered").is_empty(), "the poison message died");

    let replayed = Sim::replay(&s, s.seed, r.sim.edit_log(), until).expect("replays");
    assert_eq!(replayed.steps(), r.sim.steps());
    assert_eq!(replayed.metrics(), r.sim.metrics());

    // Re-applied by hand, recording: the same trace, byte for byte.
    let mut again = Run::from_scenario(&s);
    for e in r.sim.edit_log().to_vec() {
        while again.sim.steps() < e.after_step {
            again.sim.step();
            again.sim.check_conservation().unwrap();
        }
        again.drain();
        again.sim.advance_to_bounded(e.at, 0);
        again.apply(e.command).unwrap();
    }
    again.to(until.0);
    assert_eq!(again.hash, r.hash);
    assert_eq!(again.lines.len(), r.lines.len());

    // And both go on alike.
    let mut a = r.sim.snapshot();
    let mut b = replayed;
    a.advance_to(SimTime(3 * S));
    b.advance_to(SimTime(3 * S));
    assert_eq!(
        a.drain_events().collect::<Vec<_>>(),
        b.drain_events().collect::<Vec<_>>()
    );
}

#[test]
fn commands_round_trip_through_json() {
    let spec: NodeSpec = serde_json::from_value(json!({"id": "c", "kind": "consumer",
        "config": {"prefetch_count": 3}}))
    .unwrap();
    for (c, tag) in [
        (Command::Pause { node: NodeId(2) }, "pause"),
        (Command::Resume { node: NodeId(2) }, "resume"),
        (
            Command::Configure {
                node: NodeId(2),
                spec,
            },
            "configure",
        ),
    ] {
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["do"], tag);
        let back: Command = serde_json::from_value(v).unwrap();
        assert_eq!(back, c);
    }
}
