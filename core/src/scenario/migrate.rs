//! Migrations from older scenario format versions.
//!
//! A document says which `version` of the format it was written in. Older documents are brought
//! up to [`FORMAT_VERSION`] one step at a time before they are read, so a file, link or autosave
//! made by an older build keeps working in a newer one. Newer documents are refused with a
//! message that says so, rather than read wrongly. Each step works on the JSON value, before
//! the document's shape is checked, and fails with the path of anything the newer version cannot
//! express.

use super::{Diagnostic, Diagnostics, FORMAT_VERSION};
use serde_json::{Map, Value};

/// A document as a JSON object, between migration steps.
type Doc = Map<String, Value>;

/// One migration: a document of version `from` in, one of version `from + 1` out.
struct Step {
    from: u32,
    run: fn(Doc) -> Result<Doc, Diagnostic>,
}

/// Every step, oldest first; `STEPS[i].from == i + 1`.
const STEPS: &[Step] = &[
    Step {
        from: 1,
        run: v1_to_v2,
    },
    Step {
        from: 2,
        run: v2_to_v3,
    },
    Step {
        from: 3,
        run: v3_to_v4,
    },
    Step {
        from: 4,
        run: v4_to_v5,
    },
    Step {
        from: 5,
        run: v5_to_v6,
    },
    Step {
        from: 6,
        run: v6_to_v7,
    },
    Step {
        from: 7,
        run: v7_to_v8,
    },
    Step {
        from: 8,
        run: v8_to_v9,
    },
    Step {
        from: 9,
        run: v9_to_v10,
    },
    Step {
        from: 10,
        run: v10_to_v11,
    },
    Step {
        from: 11,
        run: v11_to_v12,
    },
    Step {
        from: 12,
        run: v12_to_v13,
    },
];

/// `what`, at `path`, is newer than the document's version: it says so, and what to change.
fn newer(path: impl Into<String>, what: &str, version: u32) -> Diagnostic {
    Diagnostic::new(
        path.into(),
        format!(
            "{what} is new in format version {version}, but this document says \"version\": {}; \
             change the version to {version}",
            version - 1
        ),
    )
}

/// Version 2 added the optional top-level `view` (the canvas centre and zoom), which share links
/// had carried outside the document. A version-1 document has none, so it opens fitted to its
/// topology, as it did.
fn v1_to_v2(mut doc: Doc) -> Result<Doc, Diagnostic> {
    if doc.contains_key("view") {
        return Err(newer("view", "`view`", 2));
    }
    doc.insert("version".into(), Value::from(2));
    Ok(doc)
}

/// Version 3 added RabbitMQ policies: the top-level `policies` and `operator_policies`, and the
/// `set_policy` and `clear_policy` actions. A version-2 document has none, so it runs as it did.
fn v2_to_v3(mut doc: Doc) -> Result<Doc, Diagnostic> {
    let new = |path: String, what: &str| newer(path, what, 3);
    for key in ["policies", "operator_policies"] {
        if doc.contains_key(key) {
            return Err(new(key.into(), &format!("`{key}`")));
        }
    }
    let actions = doc.get("actions").and_then(Value::as_array);
    for (i, a) in actions.into_iter().flatten().enumerate() {
        if let Some(d @ ("set_policy" | "clear_policy")) = a.get("do").and_then(Value::as_str) {
            return Err(new(format!("actions[{i}].do"), &format!("`{d}`")));
        }
    }
    doc.insert("version".into(), Value::from(3));
    Ok(doc)
}

/// Version 4 added the request-response model: the node kinds `client`, `service` and
/// `load_balancer`, and an edge's `resilience` policies. A version-3 document has none, so it
/// runs as it did.
fn v3_to_v4(mut doc: Doc) -> Result<Doc, Diagnostic> {
    let new = |path: String, what: &str| newer(path, what, 4);
    let nodes = doc.get("nodes").and_then(Value::as_array);
    for (i, n) in nodes.into_iter().flatten().enumerate() {
        if let Some(k @ ("client" | "service" | "load_balancer")) =
            n.get("kind").and_then(Value::as_str)
        {
            return Err(new(format!("nodes[{i}].kind"), &format!("the kind `{k}`")));
        }
    }
    let edges = doc.get("edges").and_then(Value::as_array);
    for (i, e) in edges.into_iter().flatten().enumerate() {
        if e.get("resilience").is_some() {
            return Err(new(format!("edges[{i}].resilience"), "`resilience`"));
        }
    }
    doc.insert("version".into(), Value::from(4));
    Ok(doc)
}

/// Version 5 added the Kafka model: the node kinds `topic`, `kafka_producer` and
/// `kafka_consumer`, a record's `key`, `partition` and `tombstone` in a `publish` action's
/// message, and the actions `seek` and `lose_ack`. A version-4 document has none, so it runs as it did.
fn v4_to_v5(mut doc: Doc) -> Result<Doc, Diagnostic> {
    let new = |path: String, what: &str| newer(path, what, 5);
    let nodes = doc.get("nodes").and_then(Value::as_array);
    for (i, n) in nodes.into_iter().flatten().enumerate() {
        if let Some(k @ ("topic" | "kafka_producer" | "kafka_consumer")) =
            n.get("kind").and_then(Value::as_str)
        {
            return Err(new(format!("nodes[{i}].kind"), &format!("the kind `{k}`")));
        }
    }
    let actions = doc.get("actions").and_then(Value::as_array);
    for (i, a) in actions.into_iter().flatten().enumerate() {
        if let Some(d @ ("seek" | "lose_ack")) = a.get("do").and_then(Value::as_str) {
            return Err(new(format!("actions[{i}].do"), &format!("`{d}`")));
        }
        for field in ["key", "partition", "tombstone"] {
            if a.get("message").and_then(|m| m.get(field)).is_some() {
                return Err(new(
                    format!("actions[{i}].message.{field}"),
                    &format!("a message's `{field}`"),
                ));
            }
        }
    }
    doc.insert("version".into(), Value::from(5));
    Ok(doc)
}

/// Version 6 added the BullMQ model: the node kinds `job_queue`, `job_producer` and `worker`,
/// and a `publish` action's `job`. A version-5 document has none, so it runs as it did.
fn v5_to_v6(mut doc: Doc) -> Result<Doc, Diagnostic> {
    let new = |path: String, what: &str| newer(path, what, 6);
    let nodes = doc.get("nodes").and_then(Value::as_array);
    for (i, n) in nodes.into_iter().flatten().enumerate() {
        if let Some(k @ ("job_queue" | "job_producer" | "worker")) =
            n.get("kind").and_then(Value::as_str)
        {
            return Err(new(format!("nodes[{i}].kind"), &format!("the kind `{k}`")));
        }
    }
    let actions = doc.get("actions").and_then(Value::as_array);
    for (i, a) in actions.into_iter().flatten().enumerate() {
        if a.get("message").and_then(|m| m.get("job")).is_some() {
            return Err(new(
                format!("actions[{i}].message.job"),
                "a message's `job`",
            ));
        }
    }
    doc.insert("version".into(), Value::from(6));
    Ok(doc)
}

/// Version 7 added the data model, the node kind `store`, and a service handler's `write` and
/// `publish` steps. A version-6 document has none, so it runs as it did.
fn v6_to_v7(mut doc: Doc) -> Result<Doc, Diagnostic> {
    // A node, in the document's nodes or in a `configure` action.
    let check = |n: &Value, at: &str| -> Result<(), Diagnostic> {
        let new = |path: String, what: &str| newer(path, what, 7);
        if n.get("kind").and_then(Value::as_str) == Some("store") {
            return Err(new(format!("{at}.kind"), "the kind `store`"));
        }
        let steps = n
            .get("config")
            .and_then(|c| c.get("handler"))
            .and_then(Value::as_array);
        for (j, step) in steps.into_iter().flatten().enumerate() {
            for what in ["write", "publish"] {
                if step.get(what).is_some() {
                    return Err(new(
                        format!("{at}.config.handler[{j}].{what}"),
                        &format!("a handler's `{what}` step"),
                    ));
                }
            }
        }
        Ok(())
    };
    each_node(&doc, check)?;
    doc.insert("version".into(), Value::from(7));
    Ok(doc)
}

/// Version 8 gave consumers and workers a `handler`: steps (store writes, publishes) run for
/// each delivery before it is settled, or each job attempt before it ends. A version-7
/// consumer or worker has none, so it runs as it did.
fn v7_to_v8(mut doc: Doc) -> Result<Doc, Diagnostic> {
    // A node, in the document's nodes or in a `configure` action.
    let check = |n: &Value, at: &str| -> Result<(), Diagnostic> {
        let kind = n.get("kind").and_then(Value::as_str).unwrap_or_default();
        let handled = kind == "consumer" || kind == "worker";
        if handled && n.get("config").and_then(|c| c.get("handler")).is_some() {
            return Err(newer(
                format!("{at}.config.handler"),
                &format!("a {kind}'s `handler`"),
                8,
            ));
        }
        Ok(())
    };
    each_node(&doc, check)?;
    doc.insert("version".into(), Value::from(8));
    Ok(doc)
}

/// Version 9 gave stores reads: a handler's `read` step, a store's `read_latency`, and read
/// models (`projection_of`); and Kafka consumers a `handler`. A version-8 document has none,
/// so it runs as it did.
fn v8_to_v9(mut doc: Doc) -> Result<Doc, Diagnostic> {
    let check = |n: &Value, at: &str| -> Result<(), Diagnostic> {
        let new = |path: String, what: &str| newer(path, what, 9);
        let config = n.get("config");
        let kind = n.get("kind").and_then(Value::as_str);
        if kind == Some("kafka_consumer") && config.and_then(|c| c.get("handler")).is_some() {
            return Err(new(
                format!("{at}.config.handler"),
                "a Kafka consumer's `handler`",
            ));
        }
        if kind == Some("store") {
            for field in ["read_latency", "projection_of"] {
                if config.and_then(|c| c.get(field)).is_some() {
                    return Err(new(
                        format!("{at}.config.{field}"),
                        &format!("a store's `{field}`"),
                    ));
                }
            }
        }
        let steps = config
            .and_then(|c| c.get("handler"))
            .and_then(Value::as_array);
        for (j, step) in steps.into_iter().flatten().enumerate() {
            if step.get("read").is_some() {
                return Err(new(
                    format!("{at}.config.handler[{j}].read"),
                    "a handler's `read` step",
                ));
            }
        }
        Ok(())
    };
    each_node(&doc, check)?;
    doc.insert("version".into(), Value::from(9));
    Ok(doc)
}

/// Version 10 gave handlers steps of other paradigms: `fail` (throw with a probability or on
/// a mark), `add_job` (a BullMQ job) and `produce` (a Kafka record). A version-9 document has none, so it runs as it did.
fn v9_to_v10(mut doc: Doc) -> Result<Doc, Diagnostic> {
    let check = |n: &Value, at: &str| -> Result<(), Diagnostic> {
        let steps = n
            .get("config")
            .and_then(|c| c.get("handler"))
            .and_then(Value::as_array);
        for (j, step) in steps.into_iter().flatten().enumerate() {
            for field in ["fail", "add_job", "produce"] {
                if step.get(field).is_some() {
                    return Err(newer(
                        format!("{at}.config.handler[{j}].{field}"),
                        &format!("a handler's `{field}` step"),
                        10,
                    ));
                }
            }
        }
        Ok(())
    };
    each_node(&doc, check)?;
    doc.insert("version".into(), Value::from(10));
    Ok(doc)
}

/// Version 11 let a RabbitMQ consumer's, a BullMQ worker's and a Kafka consumer's handler call
/// services (a `call` step, and so edges from those nodes to services and load balancers),
/// and gave a service other inputs (`inputs`: consumers, workers and Kafka consumers that run
/// in its process). A version-10 document has none of them, so it runs as it did.
/// Version 12 added the optional top-level `tour` (a guided tour over the run). A version-11
/// document has none, so it opens and runs as it did.
fn v11_to_v12(mut doc: Doc) -> Result<Doc, Diagnostic> {
    if doc.contains_key("tour") {
        return Err(newer("tour", "a `tour`", 12));
    }
    doc.insert("version".into(), Value::from(12));
    Ok(doc)
}

/// Version 13 added a tour figure's `table` (cells read at moments of their own). A version-12
/// tour has none, so it plays as it did.
fn v12_to_v13(mut doc: Doc) -> Result<Doc, Diagnostic> {
    let steps = doc
        .get("tour")
        .and_then(|t| t.get("steps"))
        .and_then(Value::as_array);
    for (i, step) in steps.into_iter().flatten().enumerate() {
        if step.get("figure").and_then(|f| f.get("table")).is_some() {
            return Err(newer(
                format!("tour.steps[{i}].figure.table"),
                "a figure's `table`",
                13,
            ));
        }
    }
    doc.insert("version".into(), Value::from(13));
    Ok(doc)
}

fn v10_to_v11(mut doc: Doc) -> Result<Doc, Diagnostic> {
    let check = |n: &Value, at: &str| -> Result<(), Diagnostic> {
        let kind = n.get("kind").and_then(Value::as_str).unwrap_or_default();
        let config = n.get("config");
        if kind == "service" && config.and_then(|c| c.get("inputs")).is_some() {
            return Err(newer(
                format!("{at}.config.inputs"),
                "a service's `inputs`",
                11,
            ));
        }
        if kind == "service" {
            return Ok(());
        }
        let steps = config
            .and_then(|c| c.get("handler"))
            .and_then(Value::as_array);
        for (j, step) in steps.into_iter().flatten().enumerate() {
            if step.get("call").is_some() {
                return Err(newer(
                    format!("{at}.config.handler[{j}].call"),
                    &format!("a {kind}'s `call` step"),
                    11,
                ));
            }
        }
        Ok(())
    };
    each_node(&doc, check)?;
    doc.insert("version".into(), Value::from(11));
    Ok(doc)
}

/// Runs `check` on every node of `doc`, in its nodes and in its `configure` actions, with the
/// node's path; stops at the first error.
fn each_node(
    doc: &Doc,
    check: impl Fn(&Value, &str) -> Result<(), Diagnostic>,
) -> Result<(), Diagnostic> {
    let nodes = doc.get("nodes").and_then(Value::as_array);
    for (i, n) in nodes.into_iter().flatten().enumerate() {
        check(n, &format!("nodes[{i}]"))?;
    }
    let actions = doc.get("actions").and_then(Value::as_array);
    for (i, a) in actions.into_iter().flatten().enumerate() {
        if let Some(n) = a.get("node").filter(|n| n.is_object()) {
            check(n, &format!("actions[{i}].node"))?;
        }
    }
    Ok(())
}

/// Checks `version` and migrates an older document to [`FORMAT_VERSION`].
pub(super) fn to_current(value: Value) -> Result<Value, Diagnostics> {
    let Value::Object(mut doc) = value else {
        return Err(Diagnostics::one(
            "(document)",
            "expected a JSON object with \"version\" and \"nodes\"",
        ));
    };
    let version = match doc.get("version") {
        None => {
            return Err(Diagnostics::one(
                "version",
                format!(
                    "missing; this is a scenario format field, add \"version\": {FORMAT_VERSION}"
                ),
            ))
        }
        Some(v) => v
            .as_u64()
            .filter(|v| (1..=u64::from(FORMAT_VERSION)).contains(v)),
    };
    let Some(version) = version else {
        let got = &doc["version"];
        if got.as_u64().is_some_and(|v| v > u64::from(FORMAT_VERSION)) {
            return Err(Diagnostics::one(
                "version",
                format!(
                    "unknown version {got}: this build reads scenario format versions 1 to \
                     {FORMAT_VERSION}; the document was written by a newer Switchboard"
                ),
            ));
        }
        return Err(Diagnostics::one(
            "version",
            format!("expected an integer from 1 to {FORMAT_VERSION}, got {got}"),
        ));
    };
    for step in &STEPS[version as usize - 1..] {
        doc = (step.run)(doc).map_err(|d| {
            Diagnostics::one(
                d.path,
                format!(
                    "{} (while reading a version {} document)",
                    d.message, step.from
                ),
            )
        })?;
    }
    Ok(Value::Object(doc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_steps_chain_from_version_1_to_the_current_one() {
        for (i, step) in STEPS.iter().enumerate() {
            assert_eq!(step.from as usize, i + 1, "step {i} is out of order");
        }
        assert_eq!(STEPS.len() as u32 + 1, FORMAT_VERSION);
    }

    #[test]
    fn a_version_1_document_is_raised_to_the_current_version() {
        let v1 = serde_json::json!({"version": 1, "nodes": []});
        let now = to_current(v1).unwrap();
        assert_eq!(now["version"], Value::from(FORMAT_VERSION));
    }

    #[test]
    fn a_version_1_document_with_a_view_is_refused_with_the_path() {
        let v1 =
            serde_json::json!({"version": 1, "nodes": [], "view": {"x": 0, "y": 0, "zoom": 1}});
        let e = to_current(v1).unwrap_err();
        assert_eq!(e.0[0].path, "view");
        assert!(e.0[0].message.contains("new in format version 2"), "{e}");
        assert!(e.0[0].message.contains("version 1 document"), "{e}");
    }

    #[test]
    fn a_version_3_document_with_a_client_or_policies_is_refused_with_the_path() {
        let v3 = serde_json::json!({"version": 3, "nodes": [{"id": "c", "kind": "client"}]});
        let e = to_current(v3).unwrap_err();
        assert_eq!(e.0[0].path, "nodes[0].kind");
        assert!(e.0[0].message.contains("new in format version 4"), "{e}");
        let v3 = serde_json::json!({"version": 3, "nodes": [],
            "edges": [{"from": "a", "to": "b", "resilience": {}}]});
        let e = to_current(v3).unwrap_err();
        assert_eq!(e.0[0].path, "edges[0].resilience");
    }

    #[test]
    fn versions_outside_the_range_are_refused() {
        for (v, says) in [
            (serde_json::json!(0), "expected an integer from 1"),
            (serde_json::json!(1.5), "expected an integer from 1"),
            (serde_json::json!("2"), "expected an integer from 1"),
            (serde_json::json!(-1), "expected an integer from 1"),
            (serde_json::json!(99), "written by a newer Switchboard"),
        ] {
            let e = to_current(serde_json::json!({"version": v, "nodes": []})).unwrap_err();
            assert_eq!(e.0[0].path, "version");
            assert!(e.0[0].message.contains(says), "{v}: {e}");
        }
    }
}
