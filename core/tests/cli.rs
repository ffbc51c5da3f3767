//! The `switchboard` binary: validate and run, byte-identical output for a file and seed.
#![cfg(feature = "cli")]

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
}

fn example(name: &str) -> String {
    format!("{}/../docs/examples/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn run(args: &[&str]) -> (bool, String, String) {
    let out = bin().args(args).output().expect("runs");
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn validate_accepts_every_example() {
    for (name, _) in switchboard_core::examples::EXAMPLES {
        let f = format!("{name}.json");
        let (ok, out, err) = run(&["validate", &example(&f)]);
        assert!(ok, "{f}: {err}");
        assert!(out.contains(": ok ("), "{out}");
    }
}

/// The CLI's `trace_hash` for every example equals the recorded golden one.
#[test]
fn run_prints_the_golden_trace_hash_of_every_example() {
    let golden = include_str!("golden/trace-hashes.txt");
    for line in golden
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let [file, until, want] = parts[..] else {
            panic!("golden line {line:?}");
        };
        let (ok, out, err) = run(&["run", &example(file), "--until", until]);
        assert!(ok, "{file}: {err}");
        let summary: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(summary["trace_hash"], want, "{file}");
        // `--trace` prints the lines the hash is made of.
        let (ok, lines, _) = run(&["run", &example(file), "--until", until, "--trace", "ndjson"]);
        assert!(ok);
        let mut h = switchboard_core::trace::TraceHash::default();
        for l in lines.lines() {
            h.write(l.as_bytes());
            h.write(b"\n");
        }
        assert_eq!(
            h.to_string(),
            want,
            "{file}: the printed trace hashes to it"
        );
    }
}

#[test]
fn validate_fails_with_paths_on_a_bad_document() {
    let dir = scratch();
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"version":1,"nodes":[{"id":"p","kind":"producer","config":{"rate_per_s":-1}},{"id":"s","kind":"sink"}],
            "edges":[{"from":"p","to":"nowhere"}]}"#,
    )
    .unwrap();
    let (ok, _, err) = run(&["validate", bad.to_str().unwrap()]);
    assert!(!ok, "a bad document must fail");
    assert!(
        err.contains("nodes[0].config.rate_per_s: expected a number from 0"),
        "{err}"
    );
    assert!(
        err.contains("edges[0].to: no node has id \"nowhere\""),
        "{err}"
    );
    let (ok, _, err) = run(&["run", bad.to_str().unwrap()]);
    assert!(!ok && err.contains("edges[0].to"), "{err}");
    let (ok, _, err) = run(&[
        "validate",
        dir.path().join("missing.json").to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("cannot read"), "{err}");
}

#[test]
fn run_is_byte_identical_for_the_same_file_and_seed() {
    let f = example("relay-chain.json");
    let a = run(&[
        "run", &f, "--until", "5s", "--seed", "9", "--trace", "ndjson",
    ]);
    let b = run(&[
        "run", &f, "--until", "5s", "--seed", "9", "--trace", "ndjson",
    ]);
    assert!(a.0 && b.0);
    assert_eq!(a.1, b.1);
    assert!(a.1.lines().count() > 100);
    for line in a.1.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("every line is JSON");
        assert!(v["at_us"].as_u64().unwrap() <= 5_000_000);
    }
    let s1 = run(&["run", &f, "--until", "5s", "--seed", "9"]);
    let s2 = run(&["run", &f, "--until", "5s", "--seed", "9"]);
    assert_eq!(s1.1, s2.1);
    let summary: serde_json::Value = serde_json::from_str(&s1.1).unwrap();
    assert_eq!(summary["seed"], 9);
    assert_eq!(
        summary["events"].as_u64().unwrap(),
        a.1.lines().count() as u64
    );
    let other = run(&["run", &f, "--until", "5s", "--seed", "10"]);
    assert_ne!(s1.1, other.1, "the seed matters");
}

#[test]
fn bad_arguments_are_refused() {
    let (ok, _, err) = run(&["run", &example("hello.json"), "--until", "5 parsecs"]);
    assert!(!ok && err.contains("unit"), "{err}");
}

/// A scratch directory for one test's files, removed when it is dropped.
fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("switchboard-cli-")
        .tempdir()
        .unwrap()
}

fn run_stdin(args: &[&str], input: &str) -> (bool, String, String) {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = bin()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// What `rabbitmqctl export_definitions -` printed on RabbitMQ 3.10.8 after importing a headers
/// exchange, a classic priority queue and a quorum queue (password hash shortened, and the
/// alternate exchange `ae` added so the file is complete).
const BROKER_EXPORT: &str = r#"{"bindings":[{"arguments":{"a":1,"b":"s","c":true,"d":1.5,"x-match":"all"},"destination":"q2","destination_type":"queue","routing_key":"","source":"x","vhost":"/"}],"exchanges":[{"arguments":{"alternate-exchange":"ae"},"auto_delete":false,"durable":true,"name":"x","type":"headers","vhost":"/"},{"arguments":{},"auto_delete":false,"durable":true,"name":"ae","type":"fanout","vhost":"/"}],"global_parameters":[],"parameters":[],"permissions":[{"configure":".*","read":".*","user":"guest","vhost":"/","write":".*"}],"policies":[],"queues":[{"arguments":{"x-max-priority":5,"x-queue-type":"classic"},"auto_delete":false,"durable":true,"name":"q2","type":"classic","vhost":"/"},{"arguments":{"x-delivery-limit":3,"x-queue-type":"quorum"},"auto_delete":false,"durable":true,"name":"q1","type":"quorum","vhost":"/"}],"rabbit_version":"3.10.8","rabbitmq_version":"3.10.8","topic_permissions":[],"users":[{"hashing_algorithm":"rabbit_password_hashing_sha256","limits":{},"name":"guest","password_hash":"b3D1I8mb","tags":["administrator"]}],"vhosts":[{"limits":[],"metadata":{"description":"","tags":[]},"name":"/"}]}"#;

#[test]
fn export_definitions_prints_the_broker_objects_and_names_what_it_leaves_out() {
    let f = example("amqp-dead-letter.json");
    let (ok, out, err) = run(&["export-definitions", &f]);
    assert!(ok, "{err}");
    let defs: serde_json::Value = serde_json::from_str(&out).expect("stdout is JSON");
    let names = |key: &str| -> Vec<String> {
        defs[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(names("queues").contains(&"orders".to_owned()), "{out}");
    assert!(!names("exchanges").is_empty(), "{out}");
    assert!(!defs["bindings"].as_array().unwrap().is_empty(), "{out}");
    assert!(
        err.contains("left out: producer \"shop\" is a client"),
        "{err}"
    );
    assert!(!out.contains("shop\""), "clients stay out of stdout: {out}");
    let again = run(&["export-definitions", &f]);
    assert_eq!(again.1, out, "byte-identical");
}

#[test]
fn import_definitions_reads_a_broker_export_and_reports_the_rest() {
    let (ok, out, err) = run_stdin(&["import-definitions", "-"], BROKER_EXPORT);
    assert!(ok, "{err}");
    let scenario: serde_json::Value = serde_json::from_str(&out).expect("stdout is JSON");
    let ids: Vec<&str> = scenario["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["x", "ae", "q2", "q1"]);
    for part in ["users", "permissions"] {
        assert!(err.contains(&format!("-: not imported: {part}: ")), "{err}");
    }
    assert!(!err.contains("password"), "{err}");
    // The scenario is a valid document, and exports back to the same objects.
    let dir = scratch();
    let file = dir.path().join("imported.json");
    std::fs::write(&file, &out).unwrap();
    let (ok, _, err) = run(&["validate", file.to_str().unwrap()]);
    assert!(ok, "{err}");
    let (ok, defs, err) = run(&["export-definitions", file.to_str().unwrap()]);
    assert!(ok && err.is_empty(), "{err}");
    let defs: serde_json::Value = serde_json::from_str(&defs).unwrap();
    let broker: serde_json::Value = serde_json::from_str(BROKER_EXPORT).unwrap();
    assert_eq!(defs["bindings"], broker["bindings"]);
    assert_eq!(
        defs["queues"][1]["arguments"],
        broker["queues"][1]["arguments"]
    );
    assert_eq!(
        defs["exchanges"][0]["arguments"],
        broker["exchanges"][0]["arguments"]
    );
}

#[test]
fn definitions_commands_refuse_bad_input_with_diagnostics() {
    let dir = scratch();
    for (name, text, why) in [
        ("broken.json", "{\"queues\": [", "not valid JSON at line 1"),
        (
            "users.json",
            r#"{"users": []}"#,
            "not a RabbitMQ definitions file",
        ),
        ("binary.json", "\u{0}\u{1}", "not valid JSON"),
    ] {
        let file = dir.path().join(name);
        std::fs::write(&file, text).unwrap();
        let (ok, out, err) = run(&["import-definitions", file.to_str().unwrap()]);
        assert!(!ok, "{name} must fail");
        assert!(out.is_empty(), "{name}: {out}");
        assert!(err.contains(why), "{name}: {err}");
        assert!(err.starts_with(file.to_str().unwrap()), "{name}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
    }
    // A binding to a queue the file does not declare is left out and named in the file's
    // terms, as RabbitMQ 3.x's import skips it; the rest imports.
    let dangling = dir.path().join("dangling.json");
    std::fs::write(
        &dangling,
        r#"{"queues": [{"name": "q"}], "bindings": [{"source": "amq.direct", "destination": "gone", "destination_type": "queue"}]}"#,
    )
    .unwrap();
    let (ok, out, err) = run(&["import-definitions", dangling.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.contains("\"q\""), "{out}");
    assert!(
        err.contains("not imported: bindings[0].destination: no exchange or queue \"gone\""),
        "{err}"
    );
    let latin1 = dir.path().join("latin1.json");
    std::fs::write(&latin1, b"{\"queues\": [{\"name\": \"caf\xe9\"}]}").unwrap();
    let (ok, _, err) = run(&["import-definitions", latin1.to_str().unwrap()]);
    assert!(!ok && err.contains("cannot read"), "{err}");
    let missing = dir.path().join("missing.json");
    for cmd in ["import-definitions", "export-definitions"] {
        let (ok, _, err) = run(&[cmd, missing.to_str().unwrap()]);
        assert!(!ok && err.contains("cannot read"), "{cmd}: {err}");
    }
    // A definitions file is not a scenario, and the other way round.
    let (ok, _, err) = run_stdin(&["export-definitions", "-"], BROKER_EXPORT);
    assert!(!ok && err.contains("-: "), "{err}");
    let (ok, _, err) = run(&["import-definitions", &example("hello.json")]);
    assert!(
        !ok && err.contains("not a RabbitMQ definitions file"),
        "{err}"
    );
}

#[test]
fn traces_prints_otlp_json_of_the_kept_traces_or_of_one_chain() {
    let file = example("order-journey.json");
    let (ok, out, err) = run(&["traces", &file, "--until", "3s"]);
    assert!(ok, "{err}");
    let all: serde_json::Value = serde_json::from_str(&out).expect("one JSON document");
    let count = |v: &serde_json::Value| -> usize {
        v["resourceSpans"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["scopeSpans"][0]["spans"].as_array().unwrap().len())
            .sum()
    };
    assert!(count(&all) > 50);
    // The same again: byte-identical.
    assert_eq!(run(&["traces", &file, "--until", "3s"]).1, out);
    // One chain only: fewer spans, one trace id.
    let (ok, one, err) = run(&["traces", &file, "--until", "3s", "--correlation", "1"]);
    assert!(ok, "{err}");
    let one: serde_json::Value = serde_json::from_str(&one).unwrap();
    assert!(count(&one) > 5 && count(&one) < count(&all));
    let ids: std::collections::BTreeSet<String> = one["resourceSpans"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["scopeSpans"][0]["spans"].as_array().unwrap().clone())
        .map(|s| s["traceId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 1);
    // A chain not kept, and no traces kept at all: errors that say so.
    let (ok, _, err) = run(&["traces", &file, "--until", "3s", "--correlation", "2"]);
    assert!(!ok);
    assert!(
        err.contains("--correlation 2: no trace of that chain is kept (kept: 1, "),
        "{err}"
    );
    let (ok, _, err) = run(&["traces", &file, "--keep", "0"]);
    assert!(!ok);
    assert!(err.contains("--keep"), "{err}");
}

/// `tour` takes a tour to its end and prints each step's numbers; a file without a tour says so.
#[test]
fn tour_prints_each_steps_numbers() {
    let (ok, out, err) = run(&["tour", &example("data-payment-redelivery.json")]);
    assert!(ok, "{err}");
    assert!(
        out.starts_with("1. Charge, then ack (stopped at 1.900s)"),
        "{out}"
    );
    assert!(out.contains("with an idempotency key: 0"), "{out}");
    let (ok, out, _) = run(&["tour", &example("data-payment-redelivery.json"), "--json"]);
    assert!(ok);
    let steps: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(steps.as_array().unwrap().len(), 4);
    let (ok, _, err) = run(&["tour", &example("hello.json")]);
    assert!(!ok);
    assert!(err.contains("the scenario has no tour"), "{err}");
}
