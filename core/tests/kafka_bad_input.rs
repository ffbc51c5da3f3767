//! Bad Kafka documents and commands: each is a diagnostic naming its path, or a command
//! refused with Kafka's reason, never a panic; a refused edit loses nothing.

use serde_json::{json, Value};
use switchboard_core::command::Command;
use switchboard_core::scenario::NodeSpec;
use switchboard_core::{Scenario, Sim, SimTime};

fn base() -> Value {
    json!({"version": 5, "seed": 1,
        "nodes": [{"id": "p", "kind": "kafka_producer", "config": {"rate_per_s": 1, "keys": ["a"]}},
                  {"id": "t", "kind": "topic", "config": {"partitions": 3}},
                  {"id": "c", "kind": "kafka_consumer", "config": {"group.id": "g"}},
                  {"id": "d", "kind": "kafka_consumer", "config": {"group.id": "g"}}],
        "edges": [{"from": "p", "to": "t"}, {"from": "t", "to": "c"}, {"from": "t", "to": "d"}]})
}

fn refused(doc: Value, path: &str, says: &str) {
    let d = match Scenario::from_json(&doc.to_string()) {
        Ok(_) => panic!("accepted: {doc}"),
        Err(d) => d.to_string(),
    };
    assert!(
        d.lines().any(|l| l.starts_with(path) && l.contains(says)),
        "expected {path:?} saying {says:?}, got:\n{d}"
    );
}

fn with(node: usize, key: &str, v: Value) -> Value {
    let mut doc = base();
    doc["nodes"][node]["config"][key] = v;
    doc
}

#[test]
fn the_base_document_is_valid() {
    Scenario::from_json(&base().to_string()).expect("valid");
}

#[test]
fn partition_counts_of_zero_or_beyond_the_maximum() {
    refused(
        with(1, "partitions", json!(0)),
        "nodes[1].config.partitions",
        "1 to 1000",
    );
    refused(
        with(1, "partitions", json!(1001)),
        "nodes[1].config.partitions",
        "1 to 1000",
    );
    refused(
        with(1, "partitions", json!(-1)),
        "nodes[1].config.partitions",
        "invalid value",
    );
}

#[test]
fn negative_retention_other_than_minus_one() {
    refused(
        with(1, "retention.ms", json!(-2)),
        "nodes[1].config.retention.ms",
        "-1 (no limit)",
    );
    refused(
        with(1, "retention.bytes", json!(-5)),
        "nodes[1].config.retention.bytes",
        "-1 (no limit)",
    );
    Scenario::from_json(&with(1, "retention.ms", json!(-1)).to_string()).expect("-1 is no limit");
}

#[test]
fn an_unknown_cleanup_policy_or_assignor() {
    refused(
        with(1, "cleanup.policy", json!("forever")),
        "nodes[1].config.cleanup.policy",
        "not a cleanup.policy",
    );
    refused(
        with(2, "partition.assignment.strategy", json!(["range", "fair"])),
        "nodes[2].config.partition.assignment.strategy",
        "\"fair\" is not an assignor",
    );
}

#[test]
fn a_group_whose_members_share_no_assignor() {
    let mut doc = with(2, "partition.assignment.strategy", json!(["range"]));
    doc["nodes"][3]["config"]["partition.assignment.strategy"] = json!(["roundrobin"]);
    refused(
        doc,
        "nodes[3].config.partition.assignment.strategy",
        "INCONSISTENT_GROUP_PROTOCOL",
    );
    // One in common is enough.
    let mut doc = with(
        2,
        "partition.assignment.strategy",
        json!(["range", "sticky"]),
    );
    doc["nodes"][3]["config"]["partition.assignment.strategy"] = json!(["sticky"]);
    Scenario::from_json(&doc.to_string()).expect("sticky is common");
}

#[test]
fn two_members_with_one_instance_id() {
    let mut doc = with(2, "group.instance.id", json!("x"));
    doc["nodes"][3]["config"]["group.instance.id"] = json!("x");
    refused(
        doc,
        "nodes[3].config.group.instance.id",
        "FENCED_INSTANCE_ID",
    );
}

#[test]
fn idempotence_with_settings_it_cannot_keep() {
    let mut doc = with(0, "enable.idempotence", json!(true));
    doc["nodes"][0]["config"]["acks"] = json!("1");
    refused(doc, "nodes[0].config.acks", "Must set acks to all");
    refused(
        with(0, "acks", json!("most")),
        "nodes[0].config.acks",
        "not an acks value",
    );
    let mut doc = with(0, "enable.idempotence", json!(true));
    doc["nodes"][0]["config"]["max.in.flight.requests.per.connection"] = json!(6);
    refused(
        doc,
        "nodes[0].config.max.in.flight.requests.per.connection",
        "at most 5",
    );
    // Unset, idempotence gives way (as Kafka's default does).
    Scenario::from_json(&with(0, "acks", json!("1")).to_string()).expect("idempotence off");
}

#[test]
fn session_and_heartbeat_outside_the_brokers_bounds() {
    refused(
        with(2, "session.timeout.ms", json!(1000)),
        "nodes[2].config.session.timeout.ms",
        "INVALID_SESSION_TIMEOUT",
    );
    refused(
        with(2, "heartbeat.interval.ms", json!(50000)),
        "nodes[2].config.heartbeat.interval.ms",
        "lower than session.timeout.ms",
    );
}

#[test]
fn edges_kafka_does_not_have() {
    let mut doc = base();
    doc["nodes"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "s", "kind": "sink"}));
    doc["edges"]
        .as_array_mut()
        .unwrap()
        .push(json!({"from": "t", "to": "s"}));
    refused(doc, "edges[3]", "a topic is read only by Kafka consumers");
    let mut doc = base();
    doc["nodes"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "k", "kind": "producer", "config": {"rate_per_s": 1}}));
    doc["edges"]
        .as_array_mut()
        .unwrap()
        .push(json!({"from": "k", "to": "t"}));
    refused(
        doc,
        "edges[3]",
        "a topic takes records only from Kafka producers and from handlers",
    );
    let mut doc = base();
    doc["nodes"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "t2", "kind": "topic"}));
    doc["edges"]
        .as_array_mut()
        .unwrap()
        .push(json!({"from": "p", "to": "t2"}));
    refused(doc, "edges[3]", "already produces to");
}

#[test]
fn record_fields_on_other_producers_and_keyless_tombstones() {
    let mut doc = base();
    doc["nodes"].as_array_mut().unwrap().push(json!({"id": "k", "kind": "producer", "config": {"rate_per_s": 1, "message": {"key": "a"}}}));
    refused(doc, "nodes[4].config.message.key", "only a kafka_producer");
    let mut doc = base();
    doc["actions"] =
        json!([{"at": "1s", "do": "publish", "node": "p", "message": {"tombstone": true}}]);
    refused(doc, "actions[0].message.tombstone", "give it a key");
}

#[test]
fn actions_kafka_nodes_do_not_take() {
    let mut doc = base();
    doc["actions"] = json!([{"at": "1s", "do": "crash", "node": "t"}]);
    refused(doc, "actions[0].node", "broker failures");
    let mut doc = base();
    doc["actions"] = json!([{"at": "1s", "do": "ack", "node": "c"}]);
    refused(doc, "actions[0].node", "commits offsets");
    let mut doc = base();
    doc["actions"] = json!([{"at": "1s", "do": "lose_ack", "node": "c"}]);
    refused(doc, "actions[0].node", "only a kafka_producer loses acks");
}

/// Only a Kafka producer that waits for responses has one to lose; a refused command changes
/// nothing.
#[test]
fn lose_ack_is_refused_where_there_is_no_response() {
    let s = Scenario::from_json(&with(0, "acks", json!("0")).to_string()).unwrap();
    let mut sim = Sim::new(&s).unwrap();
    sim.advance_to(SimTime(2_000_000));
    let p = sim.topology().node_id("p").unwrap();
    let err = sim.apply(Command::LoseAck { node: p }).unwrap_err();
    assert!(err.to_string().contains("acks=0"), "{err}");
    let c = sim.topology().node_id("c").unwrap();
    let err = sim.apply(Command::LoseAck { node: c }).unwrap_err();
    assert!(err.to_string().contains("only a kafka_producer"), "{err}");
    assert!(sim.edit_log().is_empty(), "refused commands are not logged");
    sim.check_conservation().expect("conserved");
}

#[test]
fn live_commands_refused_with_kafkas_reason_lose_nothing() {
    let s = Scenario::from_json(&base().to_string()).unwrap();
    let mut sim = Sim::new(&s).unwrap();
    sim.advance_to(SimTime(20_000_000));
    let t = sim.topology().node_id("t").unwrap();
    let held = sim.metrics().nodes[1].held;
    let spec: NodeSpec =
        serde_json::from_value(json!({"id": "t", "kind": "topic", "config": {"partitions": 2}}))
            .unwrap();
    let err = sim.apply(Command::Configure { node: t, spec }).unwrap_err();
    assert!(
        err.to_string().contains("InvalidPartitionsException"),
        "{err}"
    );
    assert_eq!(sim.metrics().nodes[1].held, held);
    // A consumer's group cannot change in place: the editor makes a new consumer instead.
    let c = sim.topology().node_id("c").unwrap();
    let spec: NodeSpec = serde_json::from_value(
        json!({"id": "c", "kind": "kafka_consumer", "config": {"group.id": "other"}}),
    )
    .unwrap();
    assert!(sim.apply(Command::Configure { node: c, spec }).is_err());
    sim.check_conservation().expect("conserved");
}

#[test]
fn a_version_4_document_with_kafka_is_refused_at_the_place() {
    let mut doc = base();
    doc["version"] = json!(4);
    refused(doc, "nodes[0].kind", "new in format version 5");
    let mut doc = json!({"version": 4, "nodes": [{"id": "p", "kind": "producer"}, {"id": "s", "kind": "sink"}],
        "edges": [{"from": "p", "to": "s"}],
        "actions": [{"at": "1s", "do": "publish", "node": "p", "message": {"key": "a"}}]});
    refused(
        doc.clone(),
        "actions[0].message.key",
        "new in format version 5",
    );
    doc["actions"] = json!([]);
    Scenario::from_json(&doc.to_string()).expect("a version-4 document without Kafka still reads");
}
