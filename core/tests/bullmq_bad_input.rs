//! Bad BullMQ documents and commands: each is a diagnostic naming its path, with BullMQ's own
//! message where BullMQ refuses the same thing, never a panic; a refused command loses no job.

use serde_json::{json, Value};
use switchboard_core::command::Command;
use switchboard_core::{Scenario, Sim, SimTime};

fn base() -> Value {
    json!({"version": 6, "seed": 1,
        "nodes": [{"id": "app", "kind": "job_producer", "config": {"rate_per_s": 5}},
                  {"id": "q", "kind": "job_queue"},
                  {"id": "w", "kind": "worker"}],
        "edges": [{"from": "app", "to": "q"}, {"from": "q", "to": "w"}]})
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

fn with_opt(key: &str, v: Value) -> Value {
    let mut doc = base();
    doc["nodes"][0]["config"]["opts"] = json!({ key: v });
    doc
}

#[test]
fn the_base_document_is_valid() {
    Scenario::from_json(&base().to_string()).expect("valid");
}

#[test]
fn job_options_bullmq_refuses_with_its_messages() {
    refused(
        with_opt("priority", json!(1.5)),
        "nodes[0].config.opts.priority",
        "Priority should not be float",
    );
    refused(
        with_opt("priority", json!(2_097_152)),
        "nodes[0].config.opts.priority",
        "Priority should be between 0 and 2097151",
    );
    refused(
        with_opt(
            "backoff",
            json!({"type": "fixed", "delay": 100, "jitter": 2}),
        ),
        "nodes[0].config.opts.backoff",
        "Jitter should be between 0 and 1",
    );
    refused(
        with_opt("jobId", json!("42")),
        "nodes[0].config.opts.jobId",
        "Custom Id cannot be integers",
    );
    refused(
        with_opt("backoff", json!({"type": "linear", "delay": 100})),
        "nodes[0].config.opts.backoff",
        "",
    );
    refused(with_opt("atempts", json!(3)), "nodes[0].config", "atempts");
    refused(
        with_opt("deduplication", json!({"ttl": 100})),
        "nodes[0].config.opts.deduplication",
        "Deduplication id must be provided",
    );
}

#[test]
fn worker_options_bullmq_refuses_with_its_messages() {
    refused(
        with(2, "concurrency", json!(0)),
        "nodes[2].config.concurrency",
        "concurrency must be a finite number greater than 0",
    );
    refused(
        with(2, "stalledInterval", json!(0)),
        "nodes[2].config.stalledInterval",
        "stalledInterval must be greater than 0",
    );
    refused(
        with(2, "drainDelay", json!(0)),
        "nodes[2].config.drainDelay",
        "drainDelay must be greater than 0",
    );
    refused(
        with(2, "fail_rate", json!(1.5)),
        "nodes[2].config.fail_rate",
        "probability",
    );
    refused(
        with(2, "limiter", json!({"max": 0, "duration": 1000})),
        "nodes[2].config.limiter.max",
        "at least one",
    );
    refused(
        with(1, "globalConcurrency", json!(0)),
        "nodes[1].config.globalConcurrency",
        "at least 1",
    );
}

#[test]
fn job_schedulers_bullmq_refuses() {
    let mut doc = base();
    doc["nodes"][0]["config"]["scheduler"] =
        json!({"id": "s", "every": 100, "pattern": "* * * * *"});
    refused(
        doc,
        "nodes[0].config.scheduler",
        "Both .pattern and .every options are defined for this repeatable job",
    );
    let mut doc = base();
    doc["nodes"][0]["config"]["scheduler"] = json!({"id": "s"});
    refused(
        doc,
        "nodes[0].config.scheduler",
        "Either .pattern or .every options must be defined for this repeatable job",
    );
}

#[test]
fn flows_bullmq_refuses_and_children_name_job_queues() {
    let flow = |children: Value| with(0, "children", children);
    refused(
        flow(
            json!([{"queueName": "q", "opts": {"failParentOnFailure": true,
            "ignoreDependencyOnFailure": true, "removeDependencyOnFailure": true}}]),
        ),
        "nodes[0].config.children[0].opts",
        "The following options cannot be used together: removeDependencyOnFailure, \
         failParentOnFailure, ignoreDependencyOnFailure",
    );
    refused(
        flow(json!([{"queueName": "nowhere"}])),
        "nodes[0].config.children[0].queueName",
        "no node has id \"nowhere\"",
    );
    refused(
        flow(json!([{"queueName": "q", "children": [{"queueName": "w"}]}])),
        "nodes[0].config.children[0].children[0].queueName",
        "\"w\" is a worker; a flow's child is added to a job_queue",
    );
    refused(
        flow(json!([{"queueName": ""}])),
        "nodes[0].config.children[0].queueName",
        "names the job_queue",
    );
    refused(
        flow(json!([{"queueName": "q", "opts": {"jobId": "a"}}])),
        "nodes[0].config.children[0].opts.jobId",
        "custom ids in flows are not modelled",
    );
    refused(
        flow(json!([{"queueName": "q", "opts": {"deduplication": {"id": "d"}}}])),
        "nodes[0].config.children[0].opts.deduplication",
        "Deduplication options cannot be used on flow nodes",
    );
    refused(
        flow(json!([{"queueName": "q", "oops": 1}])),
        "nodes[0].config",
        "oops",
    );
    let mut doc = flow(json!([{"queueName": "q"}]));
    doc["nodes"][0]["config"]["scheduler"] = json!({"id": "s", "every": 100});
    refused(
        doc,
        "nodes[0].config.children",
        "a job scheduler's jobs have no children",
    );
    // Too deep.
    let mut deep = json!([{"queueName": "q"}]);
    for _ in 0..20 {
        deep = json!([{"queueName": "q", "children": deep}]);
    }
    refused(flow(deep), "nodes[0].config", "nested at most 16 deep");
    // A valid flow is accepted.
    Scenario::from_json(
        &flow(json!([{"queueName": "q", "opts": {"failParentOnFailure": true}}])).to_string(),
    )
    .expect("valid");
}

#[test]
fn edges_and_actions_bullmq_does_not_have() {
    let mut doc = base();
    doc["edges"] = json!([{"from": "app", "to": "w"}, {"from": "q", "to": "w"}]);
    refused(doc, "edges[0]", "adds jobs only to job queues");
    let mut doc = base();
    doc["edges"]
        .as_array_mut()
        .unwrap()
        .push(json!({"from": "w", "to": "app"}));
    refused(
        doc,
        "edges[2]",
        "a worker sends only what its handler publishes",
    );
    // A worker's edge to a job queue (its own, or another) is where its handler adds jobs.
    let mut doc = base();
    doc["edges"]
        .as_array_mut()
        .unwrap()
        .push(json!({"from": "w", "to": "q"}));
    Scenario::from_json(&doc.to_string()).expect("an add link");
    let mut doc = base();
    doc["actions"] = json!([{"at": "1s", "do": "crash", "node": "q"}]);
    refused(doc, "actions[0].node", "Redis");
    let mut doc = base();
    doc["actions"] = json!([{"at": "1s", "do": "pause", "node": "app"}]);
    refused(doc, "actions[0].node", "pause its queue");
    let mut doc = base();
    doc["actions"] = json!([{"at": "1s", "do": "ack", "node": "w"}]);
    refused(doc, "actions[0].node", "not acknowledged");
    // A job is a job producer's only; its options are checked as the producer's are.
    let mut doc = base();
    doc["nodes"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "p", "kind": "producer"}));
    doc["actions"] =
        json!([{"at": "1s", "do": "publish", "node": "p", "message": {"job": {"name": "x"}}}]);
    refused(doc, "actions[0].message.job", "only a job_producer");
    let mut doc = base();
    doc["actions"] = json!([{"at": "1s", "do": "publish", "node": "app",
        "message": {"job": {"opts": {"priority": 0.5}}}}]);
    refused(
        doc,
        "actions[0].message.job.opts.priority",
        "Priority should not be float",
    );
}

#[test]
fn a_version_5_document_with_bullmq_is_refused_at_the_place() {
    let mut doc = base();
    doc["version"] = json!(5);
    refused(doc, "nodes[0].kind", "new in format version 6");
    let mut doc = json!({"version": 5, "nodes": [{"id": "p", "kind": "producer"}, {"id": "s", "kind": "sink"}],
        "edges": [{"from": "p", "to": "s"}],
        "actions": [{"at": "1s", "do": "publish", "node": "p", "message": {"job": {"name": "a"}}}]});
    refused(
        doc.clone(),
        "actions[0].message.job",
        "new in format version 6",
    );
    doc["actions"] = json!([]);
    Scenario::from_json(&doc.to_string()).expect("a version-5 document without BullMQ still reads");
}

#[test]
fn refused_commands_lose_no_job() {
    let s = Scenario::from_json(&base().to_string()).unwrap();
    let mut sim = Sim::new(&s).unwrap();
    sim.advance_to(SimTime(3_000_000));
    let q = sim.topology().node_id("q").unwrap();
    let app = sim.topology().node_id("app").unwrap();
    let before = sim.metrics().nodes[1].held;
    assert!(sim.apply(Command::Crash { node: q }).is_err());
    assert!(
        sim.apply(Command::Resume { node: q }).is_err(),
        "not paused"
    );
    assert!(sim.apply(Command::Pause { node: app }).is_err());
    assert_eq!(sim.metrics().nodes[1].held, before);
    assert!(sim.edit_log().is_empty());
    sim.apply(Command::Pause { node: q }).expect("Queue.pause");
    assert!(
        sim.apply(Command::Pause { node: q }).is_err(),
        "already paused"
    );
    sim.check_conservation().expect("conserved");
}

#[test]
fn cron_patterns_and_time_zones_are_checked() {
    let sched = |s: Value| {
        let mut doc = base();
        doc["nodes"][0]["config"]["scheduler"] = s;
        doc
    };
    refused(
        sched(json!({"id": "s", "pattern": "* * *"})),
        "nodes[0].config.scheduler.pattern",
        "a cron pattern has 5 fields",
    );
    refused(
        sched(json!({"id": "s", "pattern": "61 * * * *"})),
        "nodes[0].config.scheduler.pattern",
        "is not a cron pattern",
    );
    refused(
        sched(json!({"id": "s", "pattern": "* * * * *", "tz": "Mars/Base"})),
        "nodes[0].config.scheduler.tz",
        "\"Mars/Base\" is not a time zone",
    );
    refused(
        sched(json!({"id": "s", "pattern": "* * * * *", "immediately": true, "startDate": 5})),
        "nodes[0].config.scheduler",
        "Both .immediately and .startDate options are defined for this repeatable job",
    );
    refused(
        sched(json!({"id": "s", "every": 100, "tz": "UTC"})),
        "nodes[0].config.scheduler.tz",
        "a time zone is for a cron pattern",
    );
    Scenario::from_json(
        &sched(json!({"id": "s", "pattern": "0 9 * * 1-5", "tz": "Europe/Paris"})).to_string(),
    )
    .expect("valid");
}
