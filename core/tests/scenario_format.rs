//! Scenario format: valid documents load (older versions through migrations), bad ones get diagnostics with paths.

mod common;

use switchboard_core::scenario::{Diagnostics, FORMAT_VERSION, MAX_DOCUMENT_BYTES};
use switchboard_core::Scenario;

fn diags(json: &str) -> Vec<(String, String)> {
    match Scenario::from_json(json) {
        Ok(_) => panic!("expected diagnostics for {json}"),
        Err(Diagnostics(d)) => d.into_iter().map(|d| (d.path, d.message)).collect(),
    }
}

/// Asserts that exactly one diagnostic has `path` and that its message contains `needle`.
fn assert_diag(json: &str, path: &str, needle: &str) {
    let d = diags(json);
    let hits: Vec<_> = d.iter().filter(|(p, _)| p == path).collect();
    assert_eq!(
        hits.len(),
        1,
        "expected one diagnostic at {path}, got {d:#?}"
    );
    assert!(
        hits[0].1.contains(needle),
        "message at {path} should mention {needle:?}: {:?}",
        hits[0].1
    );
}

const NODES: &str =
    r#"[{"id":"p","kind":"producer","config":{"rate_per_s":1}},{"id":"s","kind":"sink"}]"#;
const EDGES: &str = r#"[{"from":"p","to":"s"}]"#;

fn doc(nodes: &str, edges: &str) -> String {
    format!(r#"{{"version":2,"nodes":{nodes},"edges":{edges}}}"#)
}

#[test]
fn every_documented_example_loads_and_round_trips() {
    let dir = format!("{}/../docs/examples", env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).unwrap();
            let s =
                Scenario::from_json(&text).unwrap_or_else(|d| panic!("{}:\n{d}", path.display()));
            let again = Scenario::from_json(&s.to_json_pretty()).expect("canonical form reloads");
            assert_eq!(s, again, "{}", path.display());
            n += 1;
        }
    }
    assert!(n >= 3, "expected the documented examples, found {n}");
}

/// Every whole scenario document quoted in the docs (a ```json block with `version` and
/// `nodes`) loads as it is written: a reader who copies one gets a running scenario.
#[test]
fn every_scenario_quoted_in_the_docs_loads() {
    let dir = format!("{}/../docs", env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    files.push(format!("{}/../README.md", env!("CARGO_MANIFEST_DIR")).into());
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        for (i, block) in text.split("```json\n").skip(1).enumerate() {
            let block = block.split("\n```").next().unwrap();
            let Ok(v) = serde_json::from_str::<serde_json::Value>(block) else {
                continue; // a fragment, not a document
            };
            if v.get("version").is_none() || v.get("nodes").is_none() {
                continue;
            }
            Scenario::from_json(block)
                .unwrap_or_else(|d| panic!("{} json block {i}:\n{d}", path.display()));
            n += 1;
        }
    }
    assert!(n >= 3, "expected scenario documents in the docs, found {n}");
}

#[test]
fn unknown_version_is_named() {
    let text = doc(NODES, EDGES).replace("\"version\":2", "\"version\":99");
    assert_diag(&text, "version", "unknown version 99");
    let text = doc(NODES, EDGES).replace("\"version\":2", "\"version\":\"one\"");
    assert_diag(&text, "version", "expected an integer");
    assert_diag(r#"{"nodes":[]}"#, "version", "missing");
    assert_eq!(FORMAT_VERSION, 13);
}

#[test]
fn wrong_type_names_the_field() {
    let nodes =
        r#"[{"id":"p","kind":"producer","config":{"rate_per_s":"fast"}},{"id":"s","kind":"sink"}]"#;
    assert_diag(
        &doc(nodes, EDGES),
        "nodes[0].config.rate_per_s",
        "invalid type",
    );
    let nodes = r#"[{"id":3,"kind":"sink"}]"#;
    assert_diag(&doc(nodes, "[]"), "nodes[0].id", "invalid type");
    let edges = r#"[{"from":"p","to":"s","latency":"5 parsecs"}]"#;
    assert_diag(&doc(NODES, edges), "edges[0].latency", "unit");
}

#[test]
fn unknown_node_kind_lists_the_known_ones() {
    let nodes = r#"[{"id":"p","kind":"producer","config":{"rate_per_s":1}},{"id":"s","kind":"teleporter"}]"#;
    assert_diag(
        &doc(nodes, EDGES),
        "nodes[1].kind",
        "expected one of producer, relay, sink",
    );
}

#[test]
fn unknown_fields_are_refused_not_ignored() {
    let nodes = r#"[{"id":"p","kind":"producer","config":{"rate_per_s":1,"rate":5}},{"id":"s","kind":"sink"}]"#;
    assert_diag(&doc(nodes, EDGES), "nodes[0].config.rate", "unknown field");
    let text = doc(NODES, EDGES).replace("\"version\":2", "\"version\":2,\"nodez\":[]");
    assert_diag(&text, "nodez", "unknown field");
}

#[test]
fn dangling_references_are_named() {
    let edges = r#"[{"from":"p","to":"sinkk"}]"#;
    let d = diags(&doc(NODES, edges));
    assert!(
        d.contains(&("edges[0].to".into(), "no node has id \"sinkk\"".into())),
        "{d:#?}"
    );
    let text = doc(NODES, EDGES).replace(
        "\"version\":2",
        r#""version":2,"actions":[{"at":"1s","do":"crash","node":"ghost"}]"#,
    );
    assert_diag(&text, "actions[0].node", "no node has id \"ghost\"");
}

#[test]
fn out_of_range_numbers_are_refused() {
    let nodes =
        r#"[{"id":"p","kind":"producer","config":{"rate_per_s":-3}},{"id":"s","kind":"sink"}]"#;
    assert_diag(
        &doc(nodes, EDGES),
        "nodes[0].config.rate_per_s",
        "from 0 to 1000000",
    );
    let nodes =
        r#"[{"id":"p","kind":"producer","config":{"rate_per_s":5e9}},{"id":"s","kind":"sink"}]"#;
    assert_diag(
        &doc(nodes, EDGES),
        "nodes[0].config.rate_per_s",
        "got 5000000000",
    );
    let edges = r#"[{"from":"p","to":"s","latency":"2h"}]"#;
    assert_diag(&doc(NODES, edges), "edges[0].latency", "at most 3600s");
    let nodes = r#"[{"id":"p","kind":"producer","config":{"limit":-1}},{"id":"s","kind":"sink"}]"#;
    assert_diag(&doc(nodes, EDGES), "nodes[0].config.limit", "invalid value");
}

#[test]
fn topology_mistakes_are_explained() {
    let nodes = r#"[{"id":"p","kind":"producer"},{"id":"p","kind":"sink"}]"#;
    assert_diag(
        &doc(nodes, "[]"),
        "nodes[1].id",
        "duplicate id \"p\" (first used by nodes[0])",
    );
    let edges = r#"[{"from":"s","to":"p"}]"#;
    let d = diags(&doc(NODES, edges));
    assert!(
        d.iter()
            .any(|(p, m)| p == "edges[0]" && m.contains("a sink sends nothing")),
        "{d:#?}"
    );
    let nodes = r#"[{"id":"p","kind":"producer"},{"id":"r","kind":"relay"}]"#;
    let d = diags(&doc(nodes, r#"[{"from":"r","to":"p"}]"#));
    assert!(
        d.iter()
            .any(|(p, m)| p == "edges[0]" && m.contains("a producer receives nothing")),
        "{d:#?}"
    );
    assert!(
        d.iter()
            .any(|(p, m)| p == "nodes[0]" && m.contains("no outgoing edge")),
        "{d:#?}"
    );
    let edges = r#"[{"from":"p","to":"s"},{"from":"p","to":"s"}]"#;
    assert_diag(&doc(NODES, edges), "edges[1]", "duplicate of edges[0]");
}

#[test]
fn several_problems_are_all_reported() {
    let edges = r#"[{"from":"x","to":"y"}]"#;
    let d = diags(&doc(NODES, edges));
    assert!(
        d.len() >= 3,
        "from, to and the producer's missing edge: {d:#?}"
    );
}

#[test]
fn malformed_and_oversized_text_never_panics() {
    let d = diags("{\"version\": 1, \"nodes\": [");
    assert_eq!(d[0].0, "(document)");
    assert!(d[0].1.contains("line 1"), "{d:?}");
    assert_diag("[1,2,3]", "(document)", "expected a JSON object");
    let huge = format!(
        "{{\"version\":1,\"name\":\"{}\",\"nodes\":[]}}",
        "x".repeat(MAX_DOCUMENT_BYTES)
    );
    assert_diag(&huge, "(document)", "the limit is");
    for cut in [1, 10, 40, 80] {
        let text = doc(NODES, EDGES);
        let _ = Scenario::from_json(&text[..cut.min(text.len())]);
    }
}

#[test]
fn actions_are_checked_by_kind() {
    let text = doc(NODES, EDGES).replace(
        "\"version\":2",
        r#""version":2,"actions":[{"at":"1s","do":"publish","node":"s"},{"at":"1s","do":"explode","node":"p"},{"do":"crash","node":"p"}]"#,
    );
    let d = diags(&text);
    assert!(
        d.iter()
            .any(|(p, m)| p == "actions[1].do" && m.contains("unknown variant `explode`")),
        "{d:#?}"
    );
    assert!(
        d.iter()
            .any(|(p, m)| p == "actions[2]" && m.contains("missing field `at`")),
        "{d:#?}"
    );
    // actions[0] is only checked once the document's shape is right.
    let text = doc(NODES, EDGES).replace(
        "\"version\":2",
        r#""version":2,"actions":[{"at":"1s","do":"publish","node":"s"}]"#,
    );
    assert_diag(&text, "actions[0].node", "only a producer can publish");
}

#[test]
fn zero_time_loops_are_refused_and_timed_loops_allowed() {
    let nodes = r#"[{"id":"p","kind":"producer","config":{"rate_per_s":1}},
        {"id":"a","kind":"relay","config":{"delay":"0us"}},
        {"id":"b","kind":"relay","config":{"delay":{"dist":"uniform","min":"0us","max":"5ms"}}},
        {"id":"s","kind":"sink"}]"#;
    let edges = r#"[{"from":"p","to":"a"},{"from":"a","to":"s"},
        {"from":"a","to":"b","latency":"0ms"},{"from":"b","to":"a","latency":"0us"}]"#;
    assert_diag(
        &doc(nodes, edges),
        "edges[2]",
        r#"closes a loop ("a" → "b" → "a")"#,
    );
    // One link with a minimum above zero makes time pass on every lap.
    let timed = edges.replace(r#""latency":"0us""#, r#""latency":"1us""#);
    assert!(Scenario::from_json(&doc(nodes, &timed)).is_ok());
}

#[test]
fn a_scenario_built_in_code_is_validated_too() {
    use switchboard_core::dist::DurationDist;
    use switchboard_core::scenario::{NodeKind, RelayConfig};
    use switchboard_core::{Sim, SimDuration};
    let nodes = r#"[{"id":"p","kind":"producer","config":{"rate_per_s":1}},{"id":"r","kind":"relay"},{"id":"s","kind":"sink"}]"#;
    let mut s = Scenario::from_json(&doc(
        nodes,
        r#"[{"from":"p","to":"r"},{"from":"r","to":"s"}]"#,
    ))
    .unwrap();
    s.nodes[1].kind = NodeKind::Relay(RelayConfig {
        delay: DurationDist::Uniform {
            min: SimDuration::from_ms(9),
            max: SimDuration::from_ms(1),
        },
    });
    let err = Sim::new(&s).unwrap_err();
    assert_eq!(err.0[0].path, "nodes[1].config.delay");
    assert!(err.0[0].message.contains("greater than max"), "{err}");
}

/// Every example as it was written in format version 1 (frozen copies in
/// `tests/fixtures/format-v1/`) still reads, migrated, as the same scenario as its current
/// version, and runs to the same trace. Later format versions must keep this passing.
#[test]
fn version_1_documents_are_migrated_to_the_same_scenario_and_run() {
    let dir = format!("{}/tests/fixtures/format-v1", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 20, "the frozen version-1 corpus is missing");
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v["version"],
            1,
            "{} is not a version-1 document",
            path.display()
        );
        let old = Scenario::from_json(&text).unwrap_or_else(|d| panic!("{}:\n{d}", path.display()));
        let name = path.file_name().unwrap().to_str().unwrap();
        let mut now = common::example(name);
        // A tour came later (version 12) and never changes the run; the frozen copies have none.
        now.tour = None;
        assert_eq!(old.version, FORMAT_VERSION);
        assert_eq!(
            old, now,
            "{name} reads differently from its current version"
        );
        let until = switchboard_core::SimTime::ZERO + switchboard_core::SimDuration::from_secs(5);
        assert_eq!(
            common::trace_hash(&old, old.seed, until),
            common::trace_hash(&now, now.seed, until),
            "{name}"
        );
    }
}

#[test]
fn a_view_is_read_checked_and_written_back() {
    let with =
        |view: &str| format!(r#"{{"version":2,"nodes":{NODES},"edges":{EDGES},"view":{view}}}"#);
    let s = Scenario::from_json(&with(r#"{"x":120.5,"y":-40,"zoom":1.5}"#)).unwrap();
    let v = s.view.expect("the view is kept");
    assert_eq!((v.x, v.y, v.zoom), (120.5, -40.0, 1.5));
    let back = Scenario::from_json(&s.to_json_pretty()).unwrap();
    assert_eq!(back, s);
    assert_diag(
        &with(r#"{"x":0,"y":0,"zoom":9}"#),
        "view.zoom",
        "from 0.2 to 4",
    );
    assert_diag(
        &with(r#"{"x":2e6,"y":0,"zoom":1}"#),
        "view",
        "within ±1000000",
    );
    assert_diag(&with(r#"{"x":0,"y":0}"#), "view", "zoom");
    assert_diag(
        &with(r#"{"x":0,"y":0,"zoom":1,"scale":2}"#),
        "view.scale",
        "unknown field",
    );
    // A version-1 document cannot carry one: the field is newer than it.
    let v1 = with(r#"{"x":0,"y":0,"zoom":1}"#).replace(r#""version":2"#, r#""version":1"#);
    assert_diag(&v1, "view", "new in format version 2");
}

#[test]
fn version_2_documents_take_no_policies_and_migrate_to_the_current_version() {
    // A version-2 document is read as it was, and comes out as the current version.
    let s = Scenario::from_json(&doc(NODES, EDGES)).expect("a v2 document");
    assert_eq!(s.version, FORMAT_VERSION);
    assert!(s.policies.is_empty());
    // Policies are newer than version 2: said so, with the place.
    let policy = r#"{"name":"ttl","pattern":".*","definition":{"message-ttl":1000}}"#;
    let with_policies = doc(NODES, EDGES).replace(
        r#""version":2"#,
        &format!(r#""version":2,"policies":[{policy}]"#),
    );
    assert_diag(&with_policies, "policies", "new in format version 3");
    let with_action = doc(NODES, EDGES).replace(
        r#""version":2"#,
        &format!(r#""version":2,"actions":[{{"at":"1s","do":"set_policy","policy":{policy}}}]"#),
    );
    assert_diag(&with_action, "actions[0].do", "new in format version 3");
    // As version 3, both are read.
    let v3 = with_policies.replace(r#""version":2"#, r#""version":3"#);
    let s = Scenario::from_json(&v3).expect("a v3 document with a policy");
    assert_eq!(s.policies[0].name, "ttl");
    assert_eq!(s.policies[0].definition.message_ttl, Some(1000));
}

#[test]
fn bad_policies_are_named_with_their_paths() {
    let with = |policies: &str, actions: &str| {
        format!(
            r#"{{"version":3,"nodes":{NODES},"edges":{EDGES},"policies":{policies},"actions":{actions}}}"#
        )
    };
    let p = |name: &str, pattern: &str, def: &str| {
        format!(r#"{{"name":"{name}","pattern":"{pattern}","definition":{def}}}"#)
    };
    assert_diag(
        &with(&format!("[{}]", p("a", "(", r#"{"max-length":1}"#)), "[]"),
        "policies[0].pattern",
        "missing )",
    );
    assert_diag(
        &with(&format!("[{}]", p("a", ".*", "{}")), "[]"),
        "policies[0].definition",
        "no policy provided",
    );
    assert_diag(
        &with(&format!("[{}]", p("a", ".*", r#"{"ha-mode":"all"}"#)), "[]"),
        "policies[0].definition.ha-mode",
        "unknown field `ha-mode`",
    );
    assert_diag(
        &with(&format!("[{}]", p("a", ".*", r#"{"expires":0}"#)), "[]"),
        "policies[0].definition.expires",
        "0 is not a valid queue expiry",
    );
    assert_diag(
        &with(
            &format!(
                "[{},{}]",
                p("a", ".*", r#"{"max-length":1}"#),
                p("a", "x", r#"{"max-length":2}"#)
            ),
            "[]",
        ),
        "policies[1].name",
        "duplicate name",
    );
    assert_diag(
        &with(
            &format!(r#"[{}]"#, p("a", ".*", r#"{"max-length":1}"#))
                .replace(r#""pattern""#, r#""apply-to":"topics","pattern""#),
            "[]",
        ),
        "policies[0].apply-to",
        "unknown variant",
    );
    // An operator policy may set only limits.
    let op = format!(
        r#"{{"version":3,"nodes":{NODES},"edges":{EDGES},"operator_policies":[{}]}}"#,
        p("op", ".*", r#"{"dead-letter-exchange":"dlx"}"#)
    );
    assert_diag(
        &op,
        "operator_policies[0].definition.dead-letter-exchange",
        "not an operator policy key",
    );
    // A scripted clear of a policy that does not exist by then.
    assert_diag(
        &with(
            "[]",
            r#"[{"at":"1s","do":"clear_policy","name":"nope"},
               {"at":"2s","do":"set_policy","policy":{"name":"late","pattern":"","definition":{"max-length":1}}},
               {"at":"1s","do":"clear_policy","name":"late"}]"#,
        ),
        "actions[0].name",
        "no policy named \"nope\"",
    );
    assert_diag(
        &with(
            "[]",
            r#"[{"at":"2s","do":"set_policy","policy":{"name":"late","pattern":"","definition":{"max-length":1}}},
               {"at":"1s","do":"clear_policy","name":"late"}]"#,
        ),
        "actions[1].name",
        "by then",
    );
}
