//! RabbitMQ management `definitions.json`: import a broker's exchanges, queues and bindings as
//! a scenario, and export a scenario's broker objects as definitions that
//! `rabbitmqctl import_definitions` accepts.
//!
//! Definitions describe a broker, not its clients: producers and consumers are neither read nor
//! written. Everything a file holds that the model does not (users, policies, other virtual
//! hosts, unmodelled arguments, exchange types from plugins) is reported, never silently
//! dropped.

use super::config::{QueueType, DEFAULT_DELIVERY_LIMIT};
use super::kind::AmqpKind;
use crate::message::{HeaderValue, Headers};
use crate::scenario::{Diagnostic, Diagnostics, EdgeSpec, NodeKind, NodeSpec, Scenario};
use serde_json::{json, Map, Value};

/// The queue arguments the model reads (`docs/amqp.md`).
const QUEUE_ARGS: &[&str] = &[
    "x-queue-type",
    "x-message-ttl",
    "x-expires",
    "x-max-length",
    "x-max-length-bytes",
    "x-overflow",
    "x-dead-letter-exchange",
    "x-dead-letter-routing-key",
    "x-max-priority",
    "x-delivery-limit",
    "x-single-active-consumer",
];

/// The exchanges every virtual host has. Bindings may use them without declaring them.
const PREDECLARED: &[(&str, &str)] = &[
    ("amq.direct", "direct"),
    ("amq.fanout", "fanout"),
    ("amq.topic", "topic"),
    ("amq.headers", "headers"),
    ("amq.match", "headers"),
];

/// The result of an import: the scenario, and what in the file it leaves out.
#[derive(Clone, Debug, PartialEq)]
pub struct Imported {
    /// Exchanges, queues and bindings as a scenario (no producers or consumers).
    pub scenario: Scenario,
    /// Each part of the file that is not modelled, with its path.
    pub unsupported: Vec<Diagnostic>,
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// Reads a `definitions.json`. Errors (not JSON, not definitions, a scenario the model cannot
/// run) name what is wrong and where; parts that are valid RabbitMQ but not modelled are
/// returned in [`Imported::unsupported`].
pub fn import(text_in: &str) -> Result<Imported, Diagnostics> {
    if text_in.len() > crate::scenario::MAX_DOCUMENT_BYTES {
        return Err(Diagnostics::one(
            "(document)",
            format!(
                "the file is {} bytes; the limit is {}",
                text_in.len(),
                crate::scenario::MAX_DOCUMENT_BYTES
            ),
        ));
    }
    let doc: Value = serde_json::from_str(text_in).map_err(|e| {
        Diagnostics::one(
            "(document)",
            format!("not valid JSON at line {}, column {}", e.line(), e.column()),
        )
    })?;
    let Some(top) = doc.as_object() else {
        return Err(Diagnostics::one(
            "(document)",
            "expected a JSON object of definitions",
        ));
    };
    if !["queues", "exchanges", "bindings"]
        .iter()
        .any(|k| top.contains_key(*k))
    {
        return Err(Diagnostics::one(
            "(document)",
            "not a RabbitMQ definitions file: it has no queues, exchanges or bindings",
        ));
    }
    let mut unsupported = Vec::new();
    let mut note = |path: String, message: String| unsupported.push(Diagnostic::new(path, message));
    for (key, value) in top {
        match key.as_str() {
            "queues" | "exchanges" | "bindings" | "policies" | "rabbit_version"
            | "rabbitmq_version" | "product_name" | "product_version" => {}
            "parameters" => {
                // Operator policies are parameters of the component "operator_policy"; the
                // others (federation upstreams, shovels…) are not modelled.
                for (i, p) in value.as_array().into_iter().flatten().enumerate() {
                    if text(p, "component") != Some("operator_policy") {
                        note(
                            format!("parameters[{i}]"),
                            format!(
                                "{:?} parameters are not modelled and are left out",
                                text(p, "component").unwrap_or("?")
                            ),
                        );
                    }
                }
            }
            "vhosts" => {
                let others: Vec<&str> = value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| text(v, "name"))
                    .filter(|n| *n != "/")
                    .collect();
                if !others.is_empty() {
                    note("vhosts".into(), format!("only the default virtual host \"/\" is modelled; {others:?} are left out"));
                }
            }
            other => {
                let empty = value.as_array().is_some_and(Vec::is_empty)
                    || value.as_object().is_some_and(Map::is_empty);
                if !empty {
                    note(
                        other.into(),
                        format!("{other} are not modelled and are left out"),
                    );
                }
            }
        }
    }
    let in_default_vhost = |v: &Value| text(v, "vhost").is_none_or(|h| h == "/");
    let mut nodes: Vec<NodeSpec> = Vec::new();
    // Where each node and edge of the scenario comes from in the file, so that what the
    // model's rules say of them names the file's paths (`bindings[6].destination`).
    let mut node_origin: Vec<String> = Vec::new();
    let mut edge_origin: Vec<String> = Vec::new();
    let mut diags = Vec::new();

    for (i, x) in top
        .get("exchanges")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let path = format!("exchanges[{i}]");
        let Some(name) = text(x, "name") else {
            diags.push(Diagnostic::new(format!("{path}.name"), "missing"));
            continue;
        };
        if !in_default_vhost(x) {
            note(
                path,
                format!("exchange {name:?} is in another virtual host; left out"),
            );
            continue;
        }
        let ty = text(x, "type").unwrap_or("direct");
        if !["direct", "fanout", "topic", "headers"].contains(&ty) {
            note(
                format!("{path}.type"),
                format!("exchange type {ty:?} (a plugin) is not modelled; {name:?} is left out"),
            );
            continue;
        }
        let internal = x.get("internal").and_then(Value::as_bool) == Some(true);
        if x.get("auto_delete").and_then(Value::as_bool) == Some(true) {
            note(
                format!("{path}.auto_delete"),
                format!("auto-delete exchanges are not modelled; {name:?} stays"),
            );
        }
        let mut arguments = Map::new();
        for (k, v) in x
            .get("arguments")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if k == "alternate-exchange" {
                arguments.insert(k.clone(), v.clone());
            } else {
                note(
                    format!("{path}.arguments.{k}"),
                    "not modelled; left out".into(),
                );
            }
        }
        match node_from(
            name,
            "exchange",
            json!({ "type": ty, "arguments": arguments, "internal": internal }),
        ) {
            Ok(n) => {
                nodes.push(n);
                node_origin.push(path);
            }
            Err(e) => diags.push(Diagnostic::new(path, e)),
        }
    }

    for (i, q) in top
        .get("queues")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let path = format!("queues[{i}]");
        let Some(name) = text(q, "name") else {
            diags.push(Diagnostic::new(format!("{path}.name"), "missing"));
            continue;
        };
        if !in_default_vhost(q) {
            note(
                path,
                format!("queue {name:?} is in another virtual host; left out"),
            );
            continue;
        }
        let mut arguments = Map::new();
        for (k, v) in q
            .get("arguments")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if k == "x-queue-type" && v.as_str() == Some("stream") {
                note(
                    format!("{path}.arguments.x-queue-type"),
                    format!("streams are not modelled; {name:?} becomes a classic queue"),
                );
            } else if QUEUE_ARGS.contains(&k.as_str()) {
                arguments.insert(k.clone(), v.clone());
            } else {
                note(
                    format!("{path}.arguments.{k}"),
                    "not modelled; left out".into(),
                );
            }
        }
        let config = json!({
            "durable": q.get("durable").and_then(Value::as_bool).unwrap_or(true),
            "auto_delete": q.get("auto_delete").and_then(Value::as_bool).unwrap_or(false),
            "arguments": arguments,
        });
        if nodes.iter().any(|n| n.id == name) {
            diags.push(Diagnostic::new(
                format!("{path}.name"),
                format!("{name:?} names an exchange too; nodes need distinct names here"),
            ));
            continue;
        }
        match node_from(name, "queue", config) {
            Ok(n) => {
                nodes.push(n);
                node_origin.push(path);
            }
            Err(e) => diags.push(Diagnostic::new(path, e)),
        }
    }

    let mut edges = Vec::new();
    for (i, b) in top
        .get("bindings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let path = format!("bindings[{i}]");
        if !in_default_vhost(b) {
            note(path, "a binding in another virtual host; left out".into());
            continue;
        }
        let (Some(source), Some(destination)) = (text(b, "source"), text(b, "destination")) else {
            diags.push(Diagnostic::new(path, "needs a source and a destination"));
            continue;
        };
        if source.is_empty() {
            note(
                path,
                "bindings of the default exchange are implicit; left out".into(),
            );
            continue;
        }
        // An end the file does not declare, and RabbitMQ does not predeclare: RabbitMQ 3's
        // import skips such a binding (its export leaves internal exchanges out but keeps the
        // bindings to them), and so does this one; RabbitMQ 4's refuses the whole file.
        let predeclared = |end: &str| PREDECLARED.iter().find(|(n, _)| *n == end);
        let missing = [("source", source), ("destination", destination)]
            .into_iter()
            .find(|(_, end)| nodes.iter().all(|n| n.id != *end) && predeclared(end).is_none());
        if let Some((field, end)) = missing {
            note(
                format!("{path}.{field}"),
                format!(
                    "no exchange or queue {end:?} in the file (RabbitMQ's export leaves internal \
                     exchanges out); the binding is left out, as RabbitMQ 3's import skips it \
                     (RabbitMQ 4 refuses the whole file)"
                ),
            );
            continue;
        }
        // Predeclared exchanges exist without being listed.
        for end in [source, destination] {
            if nodes.iter().all(|n| n.id != end) {
                if let Some((_, ty)) = predeclared(end) {
                    nodes.push(node_from(end, "exchange", json!({ "type": ty })).expect("valid"));
                    node_origin.push(format!("{path} (RabbitMQ's predeclared {end:?})"));
                }
            }
        }
        let mut e = EdgeSpec::new(source, destination);
        e.routing_key = text(b, "routing_key").unwrap_or_default().to_owned();
        if let Some(args) = b
            .get("arguments")
            .filter(|a| a.as_object().is_some_and(|o| !o.is_empty()))
        {
            match serde_json::from_value::<Headers>(args.clone()) {
                Ok(h) => e.arguments = h,
                Err(err) => {
                    diags.push(Diagnostic::new(
                        format!("{path}.arguments"),
                        err.to_string(),
                    ));
                    continue;
                }
            }
        }
        // Declaring a binding that exists is a no-op in RabbitMQ: one is kept.
        if let Some(j) = edges.iter().position(|d: &EdgeSpec| {
            (&d.from, &d.to, &d.routing_key, &d.arguments)
                == (&e.from, &e.to, &e.routing_key, &e.arguments)
        }) {
            note(
                path,
                format!("the same binding as {}; RabbitMQ keeps one", edge_origin[j]),
            );
            continue;
        }
        edges.push(e);
        edge_origin.push(path);
    }
    // Policies, then operator policies (parameters of the component "operator_policy").
    let mut policies = Vec::new();
    let mut policy_origin: Vec<String> = Vec::new();
    for (i, p) in top
        .get("policies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let path = format!("policies[{i}]");
        if !in_default_vhost(p) {
            note(path, "a policy in another virtual host; left out".into());
            continue;
        }
        if let Some(policy) = import_policy(p, &path, &path, false, &mut note, &mut diags) {
            policies.push(policy);
            policy_origin.push(path);
        }
    }
    let mut operator_policies = Vec::new();
    let mut operator_origin: Vec<String> = Vec::new();
    for (i, p) in top
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .filter(|(_, p)| text(p, "component") == Some("operator_policy"))
    {
        let path = format!("parameters[{i}]");
        if !in_default_vhost(p) {
            note(
                path,
                "an operator policy in another virtual host; left out".into(),
            );
            continue;
        }
        // The name is the parameter's; the policy is its value.
        let mut v = p.get("value").cloned().unwrap_or(Value::Null);
        if let (Some(o), Some(name)) = (v.as_object_mut(), p.get("name")) {
            o.insert("name".into(), name.clone());
        }
        let value_path = format!("{path}.value");
        if let Some(policy) = import_policy(&v, &path, &value_path, true, &mut note, &mut diags) {
            operator_policies.push(policy);
            operator_origin.push(path);
        }
    }
    if !diags.is_empty() {
        return Err(Diagnostics(diags));
    }
    let scenario = Scenario {
        version: crate::scenario::FORMAT_VERSION,
        name: "Imported RabbitMQ definitions".into(),
        description: "Exchanges, queues and bindings from a definitions.json. Add producers and consumers to run traffic through them.".into(),
        seed: 1,
        nodes,
        edges,
        actions: Vec::new(),
        view: None,
        policies,
        operator_policies,
        tour: None,
    };
    // The model's own rules (a bad topic pattern, a bad x-match, settings that do not go
    // together), said of the file's paths.
    scenario.check_draft().map_err(|d| {
        Diagnostics(
            d.0.into_iter()
                .map(|d| {
                    in_file_terms(
                        d,
                        &node_origin,
                        &edge_origin,
                        &policy_origin,
                        &operator_origin,
                    )
                })
                .collect(),
        )
    })?;
    Ok(Imported {
        scenario,
        unsupported,
    })
}

/// A diagnostic about the imported scenario (`nodes[3].config.arguments.x-max-priority`,
/// `edges[6].to`) said of the file it came from (`queues[1].arguments.x-max-priority`,
/// `bindings[6].destination`): a node's settings sit under `config` in a scenario and at the
/// top of an object in definitions, and a binding's ends are `source` and `destination`.
fn in_file_terms(
    d: Diagnostic,
    nodes: &[String],
    edges: &[String],
    policies: &[String],
    operator_policies: &[String],
) -> Diagnostic {
    let indexed = |path: &str, list: &str| -> Option<(usize, String)> {
        let rest = path.strip_prefix(list)?.strip_prefix('[')?;
        let (i, rest) = rest.split_once(']')?;
        Some((i.parse().ok()?, rest.to_owned()))
    };
    let path = if let Some((i, rest)) = indexed(&d.path, "nodes") {
        let rest = match rest.as_str() {
            ".id" => ".name".to_owned(),
            _ => rest
                .strip_prefix(".config")
                .map_or(rest.clone(), str::to_owned),
        };
        nodes.get(i).map(|origin| format!("{origin}{rest}"))
    } else if let Some((i, rest)) = indexed(&d.path, "edges") {
        let rest = match rest.as_str() {
            ".from" => ".source",
            ".to" => ".destination",
            other => other,
        };
        edges.get(i).map(|origin| format!("{origin}{rest}"))
    } else if let Some((i, rest)) = indexed(&d.path, "policies") {
        policies.get(i).map(|origin| format!("{origin}{rest}"))
    } else if let Some((i, rest)) = indexed(&d.path, "operator_policies") {
        // A parameter's name is its own; the rest of the policy is its value.
        let rest = match rest.as_str() {
            ".name" => rest,
            _ => format!(".value{rest}"),
        };
        operator_policies
            .get(i)
            .map(|origin| format!("{origin}{rest}"))
    } else {
        None
    };
    // Messages may point at another node or edge too ("first used by nodes[2]").
    let mut message = d.message;
    for (list, origins) in [
        ("nodes[", nodes),
        ("edges[", edges),
        ("operator_policies[", operator_policies),
        ("policies[", policies),
    ] {
        let mut out = String::with_capacity(message.len());
        let mut rest = message.as_str();
        while let Some(at) = rest.find(list) {
            let after = &rest[at + list.len()..];
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            let origin = after[..digits]
                .parse::<usize>()
                .ok()
                .filter(|_| after[digits..].starts_with(']'))
                .and_then(|i| origins.get(i));
            out.push_str(&rest[..at]);
            match origin {
                Some(o) => {
                    out.push_str(o);
                    rest = &after[digits + 1..];
                }
                None => {
                    out.push_str(list);
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        message = out;
    }
    Diagnostic {
        path: path.unwrap_or(d.path),
        message,
    }
}

/// RabbitMQ's policy keys that the model does not have, each with the queue types a policy
/// that sets it skips as a whole (RabbitMQ 4's `unsupported_policies`; streams are not
/// modelled).
const UNMODELLED_POLICY_KEYS: &[(&str, &[&str])] = &[
    ("ha-mode", &["quorum"]),
    ("ha-params", &["quorum"]),
    ("ha-sync-mode", &["quorum"]),
    ("ha-sync-batch-size", &[]),
    ("ha-promote-on-shutdown", &["quorum"]),
    ("ha-promote-on-failure", &["quorum"]),
    ("queue-mode", &["quorum"]),
    ("queue-version", &[]),
    ("queue-master-locator", &["quorum"]),
    ("queue-leader-locator", &[]),
    ("max-age", &["classic", "quorum"]),
    ("stream-max-segment-size-bytes", &["classic", "quorum"]),
    ("stream-filter-size-bytes", &[]),
    ("initial-cluster-size", &["classic", "quorum"]),
    ("max-in-memory-length", &["classic"]),
    ("max-in-memory-bytes", &["classic"]),
    ("dead-letter-strategy", &["classic"]),
    ("consumer-timeout", &[]),
    ("consumer-disconnected-timeout", &[]),
    ("target-group-size", &["classic"]),
    ("delayed-retry-type", &[]),
    ("delayed-retry-min", &[]),
    ("delayed-retry-max", &[]),
    ("federation-upstream", &[]),
    ("federation-upstream-set", &[]),
    ("federation-upstream-pattern", &[]),
];

/// One policy of a definitions file (`v`: its fields; `path`: where it is, `fields`: where its
/// fields are, which differ for an operator policy, a parameter whose `value` holds them). Keys
/// the model does not have are named and left out; a policy left with none is left out.
fn import_policy(
    v: &Value,
    path: &str,
    fields: &str,
    operator: bool,
    note: &mut impl FnMut(String, String),
    diags: &mut Vec<Diagnostic>,
) -> Option<super::policy::Policy> {
    let Some(o) = v.as_object() else {
        diags.push(Diagnostic::new(fields, "expected an object"));
        return None;
    };
    let mut policy = Map::new();
    for (k, val) in o {
        match k.as_str() {
            "name" | "pattern" | "apply-to" | "priority" => {
                policy.insert(k.clone(), val.clone());
            }
            "vhost" | "definition" => {}
            other => note(
                format!("{fields}.{other}"),
                "not a policy field; left out".into(),
            ),
        }
    }
    let mut definition = Map::new();
    for (k, val) in v
        .get("definition")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let modelled = super::policy::PolicyDefinition::KEYS.contains(&k.as_str());
        if modelled && operator && !super::policy::OPERATOR_KEYS.contains(&k.as_str()) {
            note(
                format!("{fields}.definition.{k}"),
                "not an operator policy key (RabbitMQ refuses such a file); left out".into(),
            );
            continue;
        }
        if modelled {
            definition.insert(k.clone(), val.clone());
            continue;
        }
        let skips = UNMODELLED_POLICY_KEYS
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, types)| *types);
        let why = match skips {
            Some([]) => "not modelled; left out".to_owned(),
            Some(types) => format!(
                "not modelled; left out. In RabbitMQ this key also keeps the whole policy off \
                 {} queues; here the policy applies to them",
                types.join(" and ")
            ),
            None => "not a RabbitMQ policy key the model knows; left out".to_owned(),
        };
        note(format!("{fields}.definition.{k}"), why);
    }
    if definition.is_empty() {
        note(
            path.to_owned(),
            "none of its keys is modelled, so the policy is left out".into(),
        );
        return None;
    }
    policy.insert("definition".into(), Value::Object(definition));
    match serde_path_to_error::deserialize::<_, super::policy::Policy>(Value::Object(policy)) {
        Ok(p) => {
            // The model's checks (the pattern, the values), said of the file's places.
            let mut found = Vec::new();
            let here = crate::scenario::Path::Item("policy", 0);
            super::policy::check_policy(&p, operator, here, &mut found);
            let ok = found.is_empty();
            diags.extend(found.into_iter().map(|d| Diagnostic {
                path: d.path.replacen("policy[0]", fields, 1),
                message: d.message,
            }));
            ok.then_some(p)
        }
        Err(e) => {
            let at = e.path().to_string();
            diags.push(Diagnostic::new(
                if at == "." {
                    fields.to_owned()
                } else {
                    format!("{fields}.{at}")
                },
                e.into_inner().to_string(),
            ));
            None
        }
    }
}

fn node_from(name: &str, kind: &str, config: Value) -> Result<NodeSpec, String> {
    serde_json::from_value(json!({ "id": name, "kind": kind, "config": config }))
        .map_err(|e| e.to_string())
}

/// RabbitMQ reserves names beginning with `amq.`: clients may not declare such exchanges or
/// queues, and `import_definitions` skips them (logging a warning, not failing).
fn reserved(name: &str) -> bool {
    name.starts_with("amq.")
}

/// Whether a value is, or holds, AMQP's void (`null` in JSON). `import_definitions` refuses a
/// `null` argument (`null_not_allowed`), so a binding with one cannot be exported.
fn has_void(v: &HeaderValue) -> bool {
    match v {
        HeaderValue::Void => true,
        HeaderValue::Array(items) => items.iter().any(has_void),
        HeaderValue::Table(t) => t.values().any(has_void),
        HeaderValue::Bool(_)
        | HeaderValue::Int(_)
        | HeaderValue::Float(_)
        | HeaderValue::Str(_) => false,
    }
}

/// The broker objects of a scenario as a `definitions.json` for `rabbitmqctl
/// import_definitions`, and what could not be exported: clients, exclusive queues, names
/// RabbitMQ reserves (`amq.`, other than its predeclared exchanges, which every virtual host
/// has already), and bindings whose arguments hold a `null`.
pub fn export(s: &Scenario) -> (String, Vec<String>) {
    let mut left_out = Vec::new();
    let mut queues = Vec::new();
    let mut exchanges = Vec::new();
    let mut bindings = Vec::new();
    // Nodes not written, whose bindings cannot be written either.
    let mut skipped: Vec<&str> = Vec::new();
    for n in &s.nodes {
        match &n.kind {
            // Every virtual host has these already, and the import skips `amq.*` names.
            NodeKind::Amqp(AmqpKind::Exchange(x)) if reserved(&n.id) => {
                match PREDECLARED.iter().find(|(p, _)| *p == n.id) {
                    Some((_, ty))
                        if *ty == x.kind.as_str() && x.arguments == Default::default() => {}
                    Some((_, ty)) => left_out.push(format!(
                        "exchange {:?}: RabbitMQ predeclares it as a {ty} exchange without \
                         arguments, so this {} exchange's settings are left out (its bindings \
                         are written, to RabbitMQ's own)",
                        n.id,
                        x.kind.as_str()
                    )),
                    None => {
                        skipped.push(&n.id);
                        left_out.push(format!(
                            "exchange {:?} and its bindings: RabbitMQ reserves names beginning \
                             with \"amq.\"",
                            n.id
                        ));
                    }
                }
            }
            NodeKind::Amqp(AmqpKind::Exchange(x)) => {
                let mut arguments = Map::new();
                if let Some(ae) = &x.arguments.alternate_exchange {
                    arguments.insert("alternate-exchange".into(), json!(ae));
                }
                exchanges.push(json!({
                    "name": n.id, "vhost": "/", "type": x.kind.as_str(),
                    "durable": true, "auto_delete": false, "internal": x.internal, "arguments": arguments,
                }));
            }
            NodeKind::Amqp(AmqpKind::Queue(q)) => {
                if q.exclusive {
                    left_out.push(format!(
                        "queue {:?} is exclusive: only a connection can declare it",
                        n.id
                    ));
                    continue;
                }
                if reserved(&n.id) {
                    skipped.push(&n.id);
                    left_out.push(format!(
                        "queue {:?} and its bindings: RabbitMQ reserves names beginning with \
                         \"amq.\"",
                        n.id
                    ));
                    continue;
                }
                let mut args = serde_json::to_value(&q.arguments).unwrap_or_else(|_| json!({}));
                // RabbitMQ 4 limits a quorum queue's deliveries to 20 by default, as the model
                // does; RabbitMQ 3.x has no limit by default. Written out, the queue behaves as
                // simulated on either.
                if q.arguments.queue_type == QueueType::Quorum
                    && q.arguments.delivery_limit.is_none()
                {
                    args["x-delivery-limit"] = json!(DEFAULT_DELIVERY_LIMIT);
                }
                queues.push(json!({
                    "name": n.id, "vhost": "/", "durable": q.durable, "auto_delete": q.auto_delete,
                    "arguments": args,
                }));
            }
            NodeKind::Data(_) => left_out.push(format!(
                "store {:?} is a database, not a broker object",
                n.id
            )),
            other @ (NodeKind::Producer(_)
            | NodeKind::Relay(_)
            | NodeKind::Sink(_)
            | NodeKind::Http(_)
            | NodeKind::Kafka(_)
            | NodeKind::Bullmq(_)
            | NodeKind::Amqp(AmqpKind::Consumer(_))) => left_out.push(format!(
                "{} {:?} is a client, not a broker object",
                other.name(),
                n.id
            )),
        }
    }
    let kind_of = |id: &str| s.node_index(id).map(|i| &s.nodes[i].kind);
    for e in &s.edges {
        let (Some(NodeKind::Amqp(AmqpKind::Exchange(_))), Some(to)) =
            (kind_of(&e.from), kind_of(&e.to))
        else {
            continue;
        };
        let destination_type = match to {
            NodeKind::Amqp(AmqpKind::Queue(q)) if !q.exclusive => "queue",
            NodeKind::Amqp(AmqpKind::Exchange(_)) => "exchange",
            NodeKind::Amqp(AmqpKind::Queue(_) | AmqpKind::Consumer(_))
            | NodeKind::Producer(_)
            | NodeKind::Relay(_)
            | NodeKind::Sink(_)
            | NodeKind::Http(_)
            | NodeKind::Kafka(_)
            | NodeKind::Bullmq(_)
            | NodeKind::Data(_) => continue,
        };
        if skipped.contains(&e.from.as_str()) || skipped.contains(&e.to.as_str()) {
            continue;
        }
        if let Some((key, _)) = e.arguments.iter().find(|(_, v)| has_void(v)) {
            left_out.push(format!(
                "binding {:?} → {:?}: its argument {key:?} is or holds null (AMQP void), which \
                 import_definitions refuses",
                e.from, e.to
            ));
            continue;
        }
        bindings.push(json!({
            "source": e.from, "vhost": "/", "destination": e.to, "destination_type": destination_type,
            "routing_key": e.routing_key, "arguments": e.arguments,
        }));
    }
    // Policies as `rabbitmqctl export_definitions` writes them; operator policies as the
    // parameters (component "operator_policy") they are in RabbitMQ.
    let policies: Vec<Value> = s
        .policies
        .iter()
        .map(|p| {
            json!({
                "vhost": "/", "name": p.name, "pattern": p.pattern, "apply-to": p.apply_to,
                "priority": p.priority, "definition": p.definition,
            })
        })
        .collect();
    let parameters: Vec<Value> = s
        .operator_policies
        .iter()
        .map(|p| {
            json!({
                "vhost": "/", "component": "operator_policy", "name": p.name,
                "value": {
                    "pattern": p.pattern, "apply-to": p.apply_to, "priority": p.priority,
                    "definition": p.definition,
                },
            })
        })
        .collect();
    let doc = json!({
        "vhosts": [{ "name": "/" }],
        "queues": queues,
        "exchanges": exchanges,
        "bindings": bindings,
        "policies": policies,
        "parameters": parameters,
    });
    (
        serde_json::to_string_pretty(&doc).expect("definitions serialise"),
        left_out,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFS: &str = r##"{
      "rabbit_version": "4.1.0",
      "users": [{"name": "guest"}],
      "vhosts": [{"name": "/"}, {"name": "staging"}],
      "policies": [{"name": "ha", "pattern": ".*"}],
      "queues": [
        {"name": "orders", "vhost": "/", "durable": true, "auto_delete": false,
         "arguments": {"x-queue-type": "quorum", "x-delivery-limit": 3, "x-dead-letter-exchange": "dlx", "x-queue-leader-locator": "balanced"}},
        {"name": "orders.dlq", "vhost": "/", "durable": true, "auto_delete": false, "arguments": {}},
        {"name": "reports", "vhost": "/", "durable": true, "auto_delete": false, "arguments": {}},
        {"name": "log", "vhost": "/", "durable": true, "auto_delete": false, "arguments": {"x-queue-type": "stream"}},
        {"name": "elsewhere", "vhost": "staging", "durable": true, "auto_delete": false, "arguments": {}}
      ],
      "exchanges": [
        {"name": "shop", "vhost": "/", "type": "topic", "durable": true, "auto_delete": false, "internal": false, "arguments": {}},
        {"name": "dlx", "vhost": "/", "type": "fanout", "durable": true, "auto_delete": false, "internal": false, "arguments": {}},
        {"name": "by-type", "vhost": "/", "type": "headers", "durable": true, "auto_delete": false, "internal": false, "arguments": {"alternate-exchange": "dlx"}},
        {"name": "delayed", "vhost": "/", "type": "x-delayed-message", "durable": true, "auto_delete": false, "internal": false, "arguments": {}}
      ],
      "bindings": [
        {"source": "shop", "vhost": "/", "destination": "orders", "destination_type": "queue", "routing_key": "order.*", "arguments": {}},
        {"source": "shop", "vhost": "/", "destination": "by-type", "destination_type": "exchange", "routing_key": "#", "arguments": {}},
        {"source": "by-type", "vhost": "/", "destination": "reports", "destination_type": "queue", "routing_key": "", "arguments": {"x-match": "all", "type": "report"}},
        {"source": "dlx", "vhost": "/", "destination": "orders.dlq", "destination_type": "queue", "routing_key": "", "arguments": {}},
        {"source": "amq.topic", "vhost": "/", "destination": "reports", "destination_type": "queue", "routing_key": "report.#", "arguments": {}}
      ]
    }"##;

    #[test]
    fn imports_exchanges_queues_and_bindings_and_reports_the_rest() {
        let got = import(DEFS).unwrap();
        let s = &got.scenario;
        let ids: Vec<&str> = s.nodes.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "shop",
                "dlx",
                "by-type",
                "orders",
                "orders.dlq",
                "reports",
                "log",
                "amq.topic"
            ]
        );
        assert_eq!(s.edges.len(), 5);
        let e2e = &s.edges[1];
        assert_eq!(
            (e2e.from.as_str(), e2e.to.as_str(), e2e.routing_key.as_str()),
            ("shop", "by-type", "#")
        );
        assert_eq!(s.edges[2].arguments.len(), 2, "headers binding arguments");
        let NodeKind::Amqp(AmqpKind::Queue(q)) = &s.nodes[3].kind else {
            panic!("orders is a queue, not {}", s.nodes[3].kind.name());
        };
        assert_eq!(q.arguments.delivery_limit, Some(3));
        assert_eq!(q.arguments.dead_letter_exchange.as_deref(), Some("dlx"));
        let report: Vec<String> = got
            .unsupported
            .iter()
            .map(|d| format!("{}: {}", d.path, d.message))
            .collect();
        let all = report.join("\n");
        for expected in [
            "users",
            "policies",
            "vhosts",
            "x-queue-leader-locator",
            "streams",
            "staging",
            "x-delayed-message",
        ] {
            assert!(all.contains(expected), "{expected} is reported:\n{all}");
        }
    }

    #[test]
    fn export_then_import_gives_the_same_broker() {
        let got = import(DEFS).unwrap();
        let (text, left_out) = export(&got.scenario);
        assert!(left_out.is_empty(), "{left_out:?}");
        let again = import(&text).unwrap();
        assert_eq!(again.scenario.nodes, got.scenario.nodes);
        assert_eq!(again.scenario.edges, got.scenario.edges);
        assert!(again.unsupported.is_empty(), "{:?}", again.unsupported);
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["bindings"][1]["destination_type"], "exchange");
        assert_eq!(v["queues"][0]["arguments"]["x-queue-type"], "quorum");
    }

    #[test]
    fn clients_and_exclusive_queues_are_named_when_left_out() {
        let s = Scenario::from_json(include_str!("../../../docs/examples/amqp-dead-letter.json"))
            .unwrap();
        let (text, left_out) = export(&s);
        assert!(
            left_out.iter().any(|l| l.contains("client")),
            "{left_out:?}"
        );
        assert!(import(&text).is_ok());
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        for (t, why) in [
            ("{", "not valid JSON"),
            ("[]", "JSON object"),
            (r#"{"users": []}"#, "not a RabbitMQ definitions file"),
            (r#"{"queues": [{"vhost": "/"}]}"#, "queues[0].name"),
            (
                r#"{"queues": [{"name": "q", "arguments": {"x-max-length": "lots"}}]}"#,
                "queues[0]",
            ),
            (
                r#"{"exchanges": [{"name":"h","type":"headers"}], "queues":[{"name":"q"}], "bindings": [{"source": "h", "destination": "q", "arguments": {"x-match": "maybe"}}]}"#,
                "x-match",
            ),
        ] {
            let err = import(t).unwrap_err().to_string();
            assert!(err.contains(why), "{t}: {err}");
        }
    }

    /// A scenario of the given nodes and edges (JSON arrays), checked as a draft.
    fn scenario(nodes: &str, edges: &str) -> Scenario {
        let s = Scenario::from_json(&format!(
            r#"{{"version": 1, "name": "t", "nodes": {nodes}, "edges": {edges}}}"#
        ))
        .unwrap();
        s.check_draft().unwrap();
        s
    }

    #[test]
    fn a_quorum_queue_gets_its_delivery_limit_written_out() {
        // Without it, RabbitMQ 3.x would redeliver forever where the model (RabbitMQ 4)
        // dead-letters after 20 failed deliveries.
        let s = scenario(
            r#"[{"id": "q4", "kind": "queue", "config": {"arguments": {"x-queue-type": "quorum"}}},
                {"id": "none", "kind": "queue", "config": {"arguments": {"x-queue-type": "quorum", "x-delivery-limit": -1}}},
                {"id": "c", "kind": "queue"}]"#,
            "[]",
        );
        let (text, _) = export(&s);
        let v: Value = serde_json::from_str(&text).unwrap();
        let limit = |i: usize| v["queues"][i]["arguments"].get("x-delivery-limit").cloned();
        assert_eq!(limit(0), Some(json!(20)));
        assert_eq!(limit(1), Some(json!(-1)));
        assert_eq!(limit(2), None, "classic queues have no delivery limit");
    }

    #[test]
    fn a_binding_with_a_null_argument_is_left_out_as_rabbitmq_refuses_it() {
        // RabbitMQ 3.10.8 refuses the whole import ({unhandled_type, nil}; `null_not_allowed`
        // in rabbit_misc:type_val), after declaring whatever came before it.
        let s = scenario(
            r#"[{"id": "h", "kind": "exchange", "config": {"type": "headers"}},
                {"id": "q", "kind": "queue"}, {"id": "r", "kind": "queue"}]"#,
            r#"[{"from": "h", "to": "q", "arguments": {"x-match": "any", "present": null}},
                {"from": "h", "to": "r", "arguments": {"x-match": "any", "list": [1, [null]]}},
                {"from": "h", "to": "r", "arguments": {"x-match": "all", "v": 1.0}}]"#,
        );
        let (text, left_out) = export(&s);
        assert!(!text.contains("null"), "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["bindings"].as_array().unwrap().len(), 1, "{text}");
        assert_eq!(v["bindings"][0]["arguments"]["v"], json!(1.0));
        assert_eq!(left_out.len(), 2, "{left_out:?}");
        assert!(left_out[0].contains("\"present\"") && left_out[0].contains("null"));
        assert!(left_out[1].contains("\"list\""), "{left_out:?}");
    }

    #[test]
    fn reserved_amq_names_are_left_out_and_said_so() {
        // RabbitMQ 3.10.8 skips `amq.*` exchanges and queues in import_definitions (a warning in
        // its log, success for rabbitmqctl), and then every binding that names them.
        let s = scenario(
            r#"[{"id": "amq.direct", "kind": "exchange", "config": {"type": "direct"}},
                {"id": "amq.topic", "kind": "exchange", "config": {"type": "fanout"}},
                {"id": "amq.mine", "kind": "exchange", "config": {"type": "fanout"}},
                {"id": "x", "kind": "exchange", "config": {"type": "fanout"}},
                {"id": "amq.q", "kind": "queue"}, {"id": "q", "kind": "queue"}]"#,
            r#"[{"from": "amq.direct", "to": "q", "routing_key": "k"},
                {"from": "amq.topic", "to": "q"},
                {"from": "amq.mine", "to": "q"},
                {"from": "x", "to": "amq.mine"},
                {"from": "x", "to": "amq.q"},
                {"from": "x", "to": "q"}]"#,
        );
        let (text, left_out) = export(&s);
        let v: Value = serde_json::from_str(&text).unwrap();
        let names = |k: &str| -> Vec<String> {
            v[k].as_array()
                .unwrap()
                .iter()
                .map(|o| o["name"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(names("exchanges"), ["x"]);
        assert_eq!(names("queues"), ["q"]);
        let bindings: Vec<(&str, &str)> = v["bindings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                (
                    b["source"].as_str().unwrap(),
                    b["destination"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            bindings,
            [("amq.direct", "q"), ("amq.topic", "q"), ("x", "q")]
        );
        let all = left_out.join("\n");
        assert_eq!(left_out.len(), 3, "{all}");
        assert!(
            all.contains("\"amq.topic\": RabbitMQ predeclares it as a topic exchange"),
            "{all}"
        );
        assert!(
            all.contains("exchange \"amq.mine\" and its bindings"),
            "{all}"
        );
        assert!(all.contains("queue \"amq.q\" and its bindings"), "{all}");
    }

    /// A definitions file from the given exchanges, queues and bindings (JSON array bodies).
    fn defs(exchanges: &str, queues: &str, bindings: &str) -> String {
        format!(r#"{{"exchanges": [{exchanges}], "queues": [{queues}], "bindings": [{bindings}]}}"#)
    }

    fn paths(ds: &[Diagnostic]) -> Vec<&str> {
        ds.iter().map(|d| d.path.as_str()).collect()
    }

    #[test]
    fn an_internal_exchange_is_read_and_written_as_internal() {
        let text = defs(
            r#"{"name": "in", "type": "topic"}, {"name": "fan", "type": "fanout", "internal": true}"#,
            r#"{"name": "q"}"#,
            r#"{"source": "in", "destination": "fan", "destination_type": "exchange", "routing_key": "a.#"},
               {"source": "fan", "destination": "q", "destination_type": "queue", "routing_key": ""}"#,
        );
        let got = import(&text).unwrap();
        assert!(got.unsupported.is_empty(), "{:?}", got.unsupported);
        let NodeKind::Amqp(AmqpKind::Exchange(fan)) = &got.scenario.nodes[1].kind else {
            panic!("fan is an exchange");
        };
        assert!(fan.internal);
        let (out, left_out) = export(&got.scenario);
        assert!(left_out.is_empty(), "{left_out:?}");
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["exchanges"][0]["internal"], false);
        assert_eq!(v["exchanges"][1]["internal"], true);
    }

    #[test]
    fn a_binding_to_an_exchange_the_file_leaves_out_is_skipped_and_named() {
        // RabbitMQ's export leaves internal exchanges out and keeps the bindings to them.
        let text = defs(
            r#"{"name": "in", "type": "topic"}"#,
            r#"{"name": "q"}"#,
            r#"{"source": "in", "destination": "q", "destination_type": "queue", "routing_key": "a.*"},
               {"source": "in", "destination": "fan", "destination_type": "exchange", "routing_key": "a.#"},
               {"source": "gone", "destination": "q", "destination_type": "queue", "routing_key": ""}"#,
        );
        let got = import(&text).unwrap();
        assert_eq!(got.scenario.edges.len(), 1);
        assert_eq!(
            paths(&got.unsupported),
            ["bindings[1].destination", "bindings[2].source"]
        );
        assert!(got.unsupported[0].message.contains("\"fan\""));
    }

    #[test]
    fn the_same_binding_twice_is_kept_once_and_named() {
        let b = r#"{"source": "in", "destination": "q", "destination_type": "queue", "routing_key": "k"}"#;
        let text = defs(
            r#"{"name": "in", "type": "direct"}"#,
            r#"{"name": "q"}"#,
            &format!("{b}, {b}"),
        );
        let got = import(&text).unwrap();
        assert_eq!(got.scenario.edges.len(), 1);
        assert_eq!(paths(&got.unsupported), ["bindings[1]"]);
        assert!(
            got.unsupported[0].message.contains("bindings[0]"),
            "{}",
            got.unsupported[0].message
        );
    }

    #[test]
    fn what_the_model_refuses_is_said_of_the_file() {
        // A headers binding with a bad x-match, an out-of-range priority, and a duplicate name:
        // every path and every cross-reference is the file's, never the scenario's.
        let text = defs(
            r#"{"name": "h", "type": "headers"}, {"name": "h", "type": "fanout"}"#,
            r#"{"name": "q", "arguments": {"x-max-priority": 300}}"#,
            r#"{"source": "h", "destination": "q", "destination_type": "queue", "routing_key": "",
                "arguments": {"x-match": "some"}}"#,
        );
        let err = import(&text).unwrap_err();
        let all = err.to_string();
        assert!(
            !all.contains("nodes[") && !all.contains("edges[") && !all.contains(".config"),
            "{all}"
        );
        for expected in [
            "exchanges[1].name: duplicate id \"h\" (first used by exchanges[0])",
            "queues[0].arguments.x-max-priority: ",
            "bindings[0].arguments.x-match: ",
        ] {
            assert!(all.contains(expected), "{expected:?} in:\n{all}");
        }
    }
    #[test]
    fn policies_and_operator_policies_are_read_and_written() {
        let text = r##"{
          "queues": [{"name": "orders", "vhost": "/"}],
          "policies": [
            {"vhost": "/", "name": "dlx", "pattern": "^(?!amq\\.).*", "apply-to": "queues",
             "priority": 1, "definition": {"dead-letter-exchange": "dlx", "message-ttl": 60000,
             "ha-mode": "all", "queue-mode": "lazy"}},
            {"vhost": "/", "name": "only-ha", "pattern": ".*", "definition": {"ha-mode": "all"}},
            {"vhost": "other", "name": "elsewhere", "pattern": ".*", "definition": {"max-length": 1}}
          ],
          "parameters": [
            {"vhost": "/", "component": "operator_policy", "name": "cap",
             "value": {"pattern": ".*", "apply-to": "queues", "priority": 0,
                       "definition": {"max-length": 1000, "dead-letter-exchange": "x"}}},
            {"vhost": "/", "component": "federation-upstream", "name": "up", "value": {}}
          ]
        }"##;
        let got = import(text).unwrap();
        let s = &got.scenario;
        assert_eq!(s.policies.len(), 1);
        assert_eq!(s.policies[0].name, "dlx");
        assert_eq!(s.policies[0].definition.message_ttl, Some(60000));
        assert_eq!(s.operator_policies.len(), 1);
        assert_eq!(s.operator_policies[0].name, "cap");
        assert_eq!(s.operator_policies[0].definition.max_length, Some(1000));
        let report: Vec<String> = got
            .unsupported
            .iter()
            .map(|d| format!("{}: {}", d.path, d.message))
            .collect();
        let all = report.join("\n");
        for expected in [
            "policies[0].definition.ha-mode: not modelled; left out. In RabbitMQ this key also keeps the whole policy off quorum queues",
            "policies[0].definition.queue-mode: not modelled",
            "policies[1]: none of its keys is modelled",
            "policies[2]: a policy in another virtual host",
            "parameters[0].value.definition.dead-letter-exchange: not an operator policy key",
            "parameters[1]: \"federation-upstream\" parameters are not modelled",
        ] {
            assert!(all.contains(expected), "{expected:?} in:\n{all}");
        }
        // Written back as RabbitMQ writes them, and read again the same.
        let (out, left_out) = export(s);
        assert!(left_out.is_empty(), "{left_out:?}");
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["policies"][0]["apply-to"], "queues");
        assert_eq!(v["policies"][0]["definition"]["message-ttl"], 60000);
        assert_eq!(v["parameters"][0]["component"], "operator_policy");
        assert_eq!(
            v["parameters"][0]["value"]["definition"]["max-length"],
            1000
        );
        let again = import(&out).unwrap();
        assert_eq!(again.scenario.policies, s.policies);
        assert_eq!(again.scenario.operator_policies, s.operator_policies);
        assert!(again.unsupported.is_empty(), "{:?}", again.unsupported);
    }

    #[test]
    fn a_bad_policy_is_named_in_the_file() {
        let text = r#"{"queues": [{"name": "q"}],
          "policies": [{"name": "ok", "pattern": ".*", "definition": {"max-length": 1}},
                       {"name": "bad", "pattern": "(", "definition": {"max-length": 1}},
                       {"name": "typed", "pattern": ".*", "definition": {"max-length": "ten"}}],
          "parameters": [{"component": "operator_policy", "name": "op",
                          "value": {"pattern": "[", "definition": {"max-length": 1}}}]}"#;
        let err = import(text).unwrap_err().to_string();
        for expected in [
            "policies[2].definition.max-length: invalid type",
            "policies[1].pattern: not a valid regular expression",
            "parameters[0].value.pattern: not a valid regular expression",
        ] {
            assert!(err.contains(expected), "{expected:?} in:\n{err}");
        }
    }
}
