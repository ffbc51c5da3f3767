//! Parsing and validation of scenario documents, collecting diagnostics with paths.
//!
//! Parsing runs in stages so that every error can name its path exactly:
//! 1. the text is parsed as JSON (syntax errors carry line and column);
//! 2. `version` is checked, and older versions are migrated step by step (`migrate.rs`);
//! 3. the document's shape is read with `serde_path_to_error`; each node's `config` and each
//!    action are read separately, by kind, so their paths stay exact;
//! 4. cross-references and ranges are validated, collecting every problem rather than the first.

use super::*;
use crate::amqp::Settlement;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Limits on the size of a topology: a bound on everything.
const MAX_NODES: usize = 10_000;
const MAX_EDGES: usize = 100_000;
const MAX_ACTIONS: usize = 100_000;
const MAX_ID_CHARS: usize = 64;
const MAX_RATE_PER_S: f64 = 1_000_000.0;

const MAX_DELAY: SimDuration = SimDuration::from_secs(3_600);
const MAX_ACTION_TIME: SimDuration = SimDuration::from_secs(24 * 3_600);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    #[allow(dead_code)]
    version: u32,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default = "default_seed")]
    seed: u64,
    nodes: Vec<RawNode>,
    #[serde(default)]
    edges: Vec<EdgeSpec>,
    #[serde(default)]
    actions: Vec<Map<String, Value>>,
    #[serde(default)]
    view: Option<View>,
}

fn default_seed() -> u64 {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    id: String,
    kind: String,
    #[serde(default)]
    config: Option<Value>,
    #[serde(default)]
    position: Option<Position>,
}

/// Deserialises `value` as `T`, reporting errors under `prefix`.
fn typed<T: DeserializeOwned>(value: Value, prefix: &str) -> Result<T, Diagnostic> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let inner = e.path().to_string();
        let path = if inner == "." {
            prefix.to_owned()
        } else {
            format!("{prefix}.{inner}")
        };
        Diagnostic::new(path, e.into_inner().to_string())
    })
}

pub(super) fn from_json(text: &str, live: bool) -> Result<Scenario, Diagnostics> {
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(Diagnostics::one(
            "(document)",
            format!(
                "the document is {} bytes; the limit is {} bytes",
                text.len(),
                MAX_DOCUMENT_BYTES
            ),
        ));
    }
    let value: Value = serde_json::from_str(text).map_err(|e| {
        Diagnostics::one(
            "(document)",
            format!(
                "not valid JSON at line {}, column {}: {}",
                e.line(),
                e.column(),
                strip_position(&e)
            ),
        )
    })?;
    let value = super::migrate::to_current(value)?;
    let raw: RawScenario = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." {
            "(document)".to_owned()
        } else {
            path
        };
        Diagnostics::one(path, e.into_inner().to_string())
    })?;
    let mut diags = Vec::new();
    let scenario = build(raw, &mut diags);
    if let Some(s) = &scenario {
        validate(s, live, &mut diags);
    }
    match scenario {
        Some(s) if diags.is_empty() => Ok(s),
        _ => Err(Diagnostics(diags)),
    }
}

/// serde_json appends " at line L column C" to its messages; we report those separately.
fn strip_position(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

/// One node from its JSON form, for commands that carry one.
pub(super) fn node_from_value(v: Value) -> Result<NodeSpec, String> {
    let n: RawNode = serde_path_to_error::deserialize(v).map_err(|e| e.to_string())?;
    let config = match n.config {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(v) => v,
    };
    let kind = node_kind(&n.kind, config, "config").map_err(|d| d.to_string())?;
    Ok(NodeSpec {
        id: n.id,
        kind,
        position: n.position,
    })
}

fn node_kind(kind: &str, config: Value, prefix: &str) -> Result<NodeKind, Diagnostic> {
    match kind {
        "producer" => typed(config, prefix).map(NodeKind::Producer),
        "relay" => typed(config, prefix).map(NodeKind::Relay),
        "sink" => typed(config, prefix).map(NodeKind::Sink),
        "exchange" => typed(config, prefix).map(NodeKind::Exchange),
        "queue" => typed(config, prefix).map(NodeKind::Queue),
        "consumer" => typed(config, prefix).map(NodeKind::Consumer),
        other => Err(Diagnostic::new(
            format!("{}kind", prefix.strip_suffix("config").unwrap_or(prefix)),
            format!(
                "unknown node kind {other:?}; expected one of {}",
                NodeKind::NAMES.join(", ")
            ),
        )),
    }
}

fn build(raw: RawScenario, diags: &mut Vec<Diagnostic>) -> Option<Scenario> {
    if raw.nodes.len() > MAX_NODES {
        diags.push(Diagnostic::new(
            "nodes",
            format!("{} nodes; the limit is {MAX_NODES}", raw.nodes.len()),
        ));
        return None;
    }
    if raw.edges.len() > MAX_EDGES {
        diags.push(Diagnostic::new(
            "edges",
            format!("{} edges; the limit is {MAX_EDGES}", raw.edges.len()),
        ));
        return None;
    }
    if raw.actions.len() > MAX_ACTIONS {
        diags.push(Diagnostic::new(
            "actions",
            format!("{} actions; the limit is {MAX_ACTIONS}", raw.actions.len()),
        ));
        return None;
    }
    let mut nodes = Vec::with_capacity(raw.nodes.len());
    for (i, n) in raw.nodes.into_iter().enumerate() {
        let prefix = format!("nodes[{i}].config");
        let config = match n.config {
            None | Some(Value::Null) => Value::Object(Map::new()),
            Some(v) => v,
        };
        let kind = node_kind(&n.kind, config, &prefix);
        match kind {
            Ok(kind) => nodes.push(NodeSpec {
                id: n.id,
                kind,
                position: n.position,
            }),
            Err(d) => diags.push(d),
        }
    }
    let mut actions = Vec::with_capacity(raw.actions.len());
    for (i, mut a) in raw.actions.into_iter().enumerate() {
        let prefix = format!("actions[{i}]");
        let at = match a.remove("at") {
            None => Err(Diagnostic::new(&prefix, "missing field `at`")),
            Some(v) => typed::<SimTime>(v, &format!("{prefix}.at")),
        };
        let action = typed::<Action>(Value::Object(a), &prefix);
        match (at, action) {
            (Ok(at), Ok(action)) => actions.push(ActionSpec { at, action }),
            (at, action) => diags.extend(at.err().into_iter().chain(action.err())),
        }
    }
    if !diags.is_empty() {
        return None;
    }
    Some(Scenario {
        version: FORMAT_VERSION,
        name: raw.name,
        description: raw.description,
        seed: raw.seed,
        nodes,
        edges: raw.edges,
        actions,
        view: raw.view,
    })
}

fn check_dist(d: &DurationDist, path: String, diags: &mut Vec<Diagnostic>) {
    if let DurationDist::Uniform { min, max } = *d {
        if min > max {
            diags.push(Diagnostic::new(
                path,
                format!("uniform min {min} is greater than max {max}"),
            ));
            return;
        }
    }
    let worst = match *d {
        DurationDist::Constant { value } => value,
        DurationDist::Uniform { max, .. } => max,
        DurationDist::Exponential { mean } => mean,
    };
    if worst > MAX_DELAY {
        diags.push(Diagnostic::new(
            path,
            format!("{d} is out of range: at most {MAX_DELAY}"),
        ));
    }
}

pub(super) fn validate(s: &Scenario, live: bool, diags: &mut Vec<Diagnostic>) {
    if let Some(v) = s.view {
        check_view(v, diags);
    }
    let mut first_use: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, n) in s.nodes.iter().enumerate() {
        let path = format!("nodes[{i}].id");
        if n.id.is_empty() {
            diags.push(Diagnostic::new(path, "must not be empty"));
        } else if n.id.chars().count() > MAX_ID_CHARS {
            diags.push(Diagnostic::new(
                path,
                format!("longer than {MAX_ID_CHARS} characters"),
            ));
        } else if n.id.chars().any(char::is_control) {
            diags.push(Diagnostic::new(path, "must not contain control characters"));
        } else if let Some(&j) = first_use.get(n.id.as_str()) {
            diags.push(Diagnostic::new(
                path,
                format!("duplicate id {:?} (first used by nodes[{j}])", n.id),
            ));
        } else {
            first_use.insert(&n.id, i);
        }
        check_node(n, &format!("nodes[{i}]"), diags);
    }

    let kind_of = |id: &str| first_use.get(id).map(|&i| &s.nodes[i].kind);
    let mut outgoing = vec![0usize; s.nodes.len()];
    // Bindings are identified by (source, destination, key, arguments), as in RabbitMQ; other
    // edges by their ends.
    let mut seen_edges: BTreeMap<(&str, &str, &str, String), usize> = BTreeMap::new();
    for (i, e) in s.edges.iter().enumerate() {
        if let Some(l) = &e.latency {
            check_dist(l, format!("edges[{i}].latency"), diags);
        }
        let from = kind_of(&e.from);
        let to = kind_of(&e.to);
        if from.is_none() {
            diags.push(Diagnostic::new(
                format!("edges[{i}].from"),
                format!("no node has id {:?}", e.from),
            ));
        }
        if to.is_none() {
            diags.push(Diagnostic::new(
                format!("edges[{i}].to"),
                format!("no node has id {:?}", e.to),
            ));
        }
        let (Some(from), Some(to)) = (from, to) else {
            continue;
        };
        let binding = matches!(from, NodeKind::Exchange(_));
        if e.from == e.to && !binding {
            diags.push(Diagnostic::new(
                format!("edges[{i}]"),
                format!("{:?} is connected to itself", e.from),
            ));
            continue;
        }
        let key = if binding {
            (
                e.from.as_str(),
                e.to.as_str(),
                e.routing_key.as_str(),
                serde_json::to_string(&e.arguments).unwrap_or_default(),
            )
        } else {
            (e.from.as_str(), e.to.as_str(), "", String::new())
        };
        if let Some(j) = seen_edges.insert(key, i) {
            let what = if binding {
                "the same binding (exchange, destination, routing key and arguments)"
            } else {
                "an edge between the same nodes"
            };
            diags.push(Diagnostic::new(
                format!("edges[{i}]"),
                format!(
                    "duplicate of edges[{j}] ({:?} to {:?}): {what}",
                    e.from, e.to
                ),
            ));
        }
        if let Err(why) = edge_rule(from, to) {
            diags.push(Diagnostic::new(
                format!("edges[{i}]"),
                format!(
                    "{:?} ({}) to {:?} ({}): {why}",
                    e.from,
                    from.name(),
                    e.to,
                    to.name()
                ),
            ));
        } else {
            check_edge_fields(e, from, to, &format!("edges[{i}]"), diags);
        }
        outgoing[first_use[e.from.as_str()]] += 1;
    }
    check_zero_time_loops(s, &first_use, diags);
    check_exclusive_owners(s, diags);
    for (i, n) in s.nodes.iter().enumerate() {
        let needs_out = matches!(n.kind, NodeKind::Producer(_) | NodeKind::Relay(_));
        if !live && needs_out && outgoing[i] == 0 && first_use.get(n.id.as_str()) == Some(&i) {
            diags.push(Diagnostic::new(
                format!("nodes[{i}]"),
                format!(
                    "{} {:?} has no outgoing edge, so its messages would go nowhere",
                    n.kind.name(),
                    n.id
                ),
            ));
        }
    }

    for (i, a) in s.actions.iter().enumerate() {
        if a.at > SimTime(MAX_ACTION_TIME.0) {
            diags.push(Diagnostic::new(
                format!("actions[{i}].at"),
                format!(
                    "{} is out of range: at most {MAX_ACTION_TIME}",
                    SimDuration(a.at.0)
                ),
            ));
        }
        for (field, node) in action_fields(&a.action) {
            if kind_of(node).is_none() {
                diags.push(Diagnostic::new(
                    format!("actions[{i}].{field}"),
                    format!("no node has id {node:?}"),
                ));
            }
        }
        let kind = kind_of(a.action.nodes()[0]);
        let path = format!("actions[{i}].node");
        match (&a.action, kind) {
            (_, None) => {}
            (Action::Publish { message, .. }, Some(k)) => {
                if !matches!(k, NodeKind::Producer(_)) {
                    diags.push(Diagnostic::new(
                        path,
                        format!(
                            "{:?} is a {}; only a producer can publish",
                            a.action.nodes()[0],
                            k.name()
                        ),
                    ));
                }
                check_template(message, &format!("actions[{i}].message"), diags);
            }
            (Action::Crash { node } | Action::Restart { node }, Some(k))
                if matches!(k, NodeKind::Exchange(_) | NodeKind::Queue(_)) =>
            {
                diags.push(Diagnostic::new(
                    path,
                    format!(
                        "{node:?} is {} {}, part of the broker, which is not simulated as crashing; \
                         use remove_node to delete it",
                        if matches!(k, NodeKind::Exchange(_)) { "an" } else { "a" },
                        k.name()
                    ),
                ));
            }
            (
                Action::Ack { node, .. } | Action::Nack { node, .. } | Action::Reject { node, .. },
                Some(k),
            ) => {
                if !matches!(k, NodeKind::Consumer(_)) {
                    diags.push(Diagnostic::new(
                        path,
                        format!(
                            "{node:?} is a {}; only a consumer settles deliveries",
                            k.name()
                        ),
                    ));
                } else if matches!(k, NodeKind::Consumer(c) if c.auto_ack) {
                    diags.push(Diagnostic::new(
                        path,
                        format!("{node:?} uses auto_ack, so it has no deliveries to settle"),
                    ));
                }
            }
            (Action::Pause { node } | Action::Resume { node }, Some(k))
                if !matches!(k, NodeKind::Consumer(_)) =>
            {
                diags.push(Diagnostic::new(
                    path,
                    format!(
                        "{node:?} is a {}; only a consumer can be paused and resumed",
                        k.name()
                    ),
                ));
            }
            (Action::Configure { node }, Some(_)) => {
                check_configure_action(s, i, a.at, node, diags);
            }
            (Action::AddEdge { edge }, _) => {
                if let (Some(from), Some(to)) = (kind_of(&edge.from), kind_of(&edge.to)) {
                    let p = format!("actions[{i}].edge");
                    match edge_rule(from, to) {
                        Err(why) => diags.push(Diagnostic::new(p, why)),
                        Ok(()) => check_edge_fields(edge, from, to, &p, diags),
                    }
                }
            }
            _ => {}
        }
    }
}

fn check_view(v: View, diags: &mut Vec<Diagnostic>) {
    if !(v.x.abs() <= 1e6 && v.y.abs() <= 1e6) {
        diags.push(Diagnostic::new("view", "x and y must be within ±1000000"));
    }
    let (lo, hi) = View::ZOOM_LIMITS;
    if !(v.zoom >= lo && v.zoom <= hi) {
        diags.push(Diagnostic::new(
            "view.zoom",
            format!("expected a number from {lo} to {hi}, got {}", v.zoom),
        ));
    }
}

/// The checks of one node's own settings (position and config), under `path` (`nodes[3]`).
fn check_node(n: &NodeSpec, path: &str, diags: &mut Vec<Diagnostic>) {
    if let Some(p) = n.position {
        if !(p.x.abs() <= 1e6 && p.y.abs() <= 1e6) {
            diags.push(Diagnostic::new(
                format!("{path}.position"),
                "x and y must be within ±1000000",
            ));
        }
    }
    match &n.kind {
        NodeKind::Producer(p) => {
            if !(p.rate_per_s >= 0.0 && p.rate_per_s <= MAX_RATE_PER_S) {
                diags.push(Diagnostic::new(
                    format!("{path}.config.rate_per_s"),
                    format!(
                        "expected a number from 0 to {MAX_RATE_PER_S}, got {}",
                        p.rate_per_s
                    ),
                ));
            }
            if p.start > MAX_ACTION_TIME {
                diags.push(Diagnostic::new(
                    format!("{path}.config.start"),
                    format!("{} is out of range: at most {MAX_ACTION_TIME}", p.start),
                ));
            }
            check_template(&p.message, &format!("{path}.config.message"), diags);
        }
        NodeKind::Relay(r) => check_dist(&r.delay, format!("{path}.config.delay"), diags),
        NodeKind::Sink(_) | NodeKind::Exchange(_) => {}
        NodeKind::Queue(q) => check_queue(q, &format!("{path}.config"), diags),
        NodeKind::Consumer(c) => check_consumer(c, &format!("{path}.config"), diags),
    }
}

/// Checks a scripted `configure` (action `i`) against the document's node of that name.
fn check_configure_action(
    s: &Scenario,
    i: usize,
    at: SimTime,
    spec: &NodeSpec,
    diags: &mut Vec<Diagnostic>,
) {
    let path = format!("actions[{i}].node");
    let Some(current) = s.nodes.iter().find(|n| n.id == spec.id) else {
        return; // reported as an unknown id
    };
    if current.kind.name() != spec.kind.name() {
        diags.push(Diagnostic::new(
            format!("{path}.kind"),
            format!(
                "{:?} is a {}; configure keeps a node's kind (remove the node and add a new one \
                 to change it)",
                spec.id,
                current.kind.name()
            ),
        ));
        return;
    }
    check_node(spec, &path, diags);
    let consume_edges = || {
        s.edges.iter().enumerate().filter(|(_, e)| {
            e.to == spec.id
                && matches!(
                    s.nodes.iter().find(|n| n.id == e.from).map(|n| &n.kind),
                    Some(NodeKind::Queue(_))
                )
        })
    };
    match (&current.kind, &spec.kind) {
        (NodeKind::Exchange(_) | NodeKind::Queue(_), _) if current.kind != spec.kind => {
            diags.push(Diagnostic::new(
                format!("{path}.config"),
                inequivalent(&spec.id, &current.kind, &spec.kind),
            ));
        }
        (NodeKind::Consumer(old), NodeKind::Consumer(new)) => {
            let cancelled_before = s.actions.iter().any(|b| {
                b.at <= at && matches!(&b.action, Action::RemoveEdge { to, .. } if *to == spec.id)
            });
            if (old.auto_ack != new.auto_ack || old.arguments != new.arguments)
                && consume_edges().next().is_some()
                && !cancelled_before
            {
                diags.push(Diagnostic::new(
                    format!("{path}.config"),
                    format!(
                        "{:?}: changing auto_ack or arguments (x-priority) needs a new \
                         basic.consume: remove the consume edge and add it again (configure the \
                         consumer while it has no consume edge)",
                        spec.id
                    ),
                ));
            }
            for (j, e) in consume_edges() {
                let Some(NodeKind::Queue(q)) =
                    s.nodes.iter().find(|n| n.id == e.from).map(|n| &n.kind)
                else {
                    continue;
                };
                for (_, why) in consume_edge_problems(e, q, new) {
                    diags.push(Diagnostic::new(
                        format!("{path}.config"),
                        format!("with edges[{j}]: {why}"),
                    ));
                }
            }
        }
        _ => {}
    }
}

/// RabbitMQ's answer to redeclaring an exchange or a queue with other settings: 406
/// PRECONDITION_FAILED, naming the first setting that differs.
pub(crate) fn inequivalent(name: &str, old: &NodeKind, new: &NodeKind) -> String {
    // Each setting as (name, value): top-level fields, and each declaration argument.
    fn settings(kind: &NodeKind) -> BTreeMap<String, Value> {
        let config = match kind {
            NodeKind::Exchange(x) => serde_json::to_value(x),
            NodeKind::Queue(q) => serde_json::to_value(q),
            _ => unreachable!("only exchanges and queues are declared"),
        }
        .expect("a config serialises");
        let mut out = BTreeMap::new();
        if let Value::Object(map) = config {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("arguments", Value::Object(args)) => out.extend(args),
                    (_, v) => {
                        out.insert(k, v);
                    }
                }
            }
        }
        out
    }
    let (a, b) = (settings(old), settings(new));
    let what = old.name();
    let first = a
        .keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .min_by_key(|k| (k.starts_with("x-") || k.contains('-'), k.as_str()));
    let show = |v: Option<&Value>| v.map_or("none".to_owned(), Value::to_string);
    let detail = match first {
        Some(k) => format!(
            "inequivalent arg '{k}' for {what} '{name}': received {} but current is {}",
            show(b.get(k)),
            show(a.get(k))
        ),
        None => format!("inequivalent settings for {what} '{name}'"),
    };
    format!(
        "406 PRECONDITION_FAILED - {detail}. RabbitMQ refuses to redeclare {} {what} with other \
         settings: delete it (remove_node) and declare it again (add_node); only its position \
         can change in place",
        if what == "exchange" { "an" } else { "a" }
    )
}

fn action_fields(a: &Action) -> Vec<(&'static str, &str)> {
    match a {
        Action::AddEdge { edge } => vec![("edge.from", &edge.from), ("edge.to", &edge.to)],
        Action::Configure { node } => vec![("node.id", &node.id)],
        Action::RemoveEdge { from, to, .. } => vec![("from", from), ("to", to)],
        other => vec![("node", other.nodes()[0])],
    }
}

/// Which node kinds an edge may connect, and what it then means.
pub(crate) fn edge_rule(from: &NodeKind, to: &NodeKind) -> Result<(), &'static str> {
    use NodeKind::*;
    match (from, to) {
        (Sink(_), _) => Err("a sink sends nothing"),
        (Consumer(_), _) => Err("a consumer sends nothing; it settles what it consumes"),
        (_, Producer(_)) => Err("a producer receives nothing"),
        (Exchange(_), Exchange(_) | Queue(_)) => Ok(()),
        (Exchange(_), _) => Err("an exchange routes only to queues and exchanges (bindings)"),
        (Queue(_), Consumer(_)) => Ok(()),
        (Queue(_), _) => Err("a queue delivers only to consumers"),
        (_, Consumer(_)) => Err("a consumer consumes only from queues"),
        (Producer(_) | Relay(_), Relay(_) | Sink(_) | Exchange(_) | Queue(_)) => Ok(()),
    }
}

/// Binding fields belong on bindings, latency everywhere else.
fn check_edge_fields(
    e: &EdgeSpec,
    from: &NodeKind,
    to: &NodeKind,
    path: &str,
    diags: &mut Vec<Diagnostic>,
) {
    let _ = to;
    if let NodeKind::Exchange(x) = from {
        if e.latency.is_some() {
            diags.push(Diagnostic::new(
                format!("{path}.latency"),
                "a binding routes inside the broker, instantly; latency does not apply",
            ));
        }
        if e.routing_key.len() > 255 {
            diags.push(Diagnostic::new(
                format!("{path}.routing_key"),
                format!(
                    "{} bytes; a binding key is a shortstr, at most 255 bytes",
                    e.routing_key.len()
                ),
            ));
        }
        match x.kind {
            crate::amqp::ExchangeType::Topic => {
                if let Err(why) = crate::amqp::TopicPattern::new(&e.routing_key) {
                    diags.push(Diagnostic::new(format!("{path}.routing_key"), why));
                }
            }
            crate::amqp::ExchangeType::Headers => {
                if let Err(why) = crate::amqp::XMatch::of(&e.arguments) {
                    diags.push(Diagnostic::new(format!("{path}.arguments.x-match"), why));
                }
            }
            _ => {}
        }
    } else {
        if !e.routing_key.is_empty() {
            diags.push(Diagnostic::new(
                format!("{path}.routing_key"),
                "only a binding (an edge from an exchange) has a routing key; set a producer's \
                 routing key in its message",
            ));
        }
        if !e.arguments.is_empty() {
            diags.push(Diagnostic::new(
                format!("{path}.arguments"),
                "only a binding (an edge from an exchange) has arguments",
            ));
        }
    }
}

fn check_template(m: &MessageTemplate, path: &str, diags: &mut Vec<Diagnostic>) {
    check_body(m.body_bytes, format!("{path}.body_bytes"), diags);
    if let Err(why) = m.expiration_ms() {
        diags.push(Diagnostic::new(format!("{path}.expiration"), why));
    }
    for name in ["CC", "BCC"] {
        let ok = match m.headers.get(name) {
            None => true,
            Some(crate::message::HeaderValue::Array(items)) => items
                .iter()
                .all(|v| matches!(v, crate::message::HeaderValue::Str(_))),
            Some(_) => false,
        };
        if !ok {
            diags.push(Diagnostic::new(
                format!("{path}.headers.{name}"),
                "must be an array of strings (routing keys); RabbitMQ closes the channel on \
                 anything else",
            ));
        }
    }
    if m.routing_key.len() > 255 {
        diags.push(Diagnostic::new(
            format!("{path}.routing_key"),
            format!(
                "{} bytes; a routing key is a shortstr, at most 255 bytes",
                m.routing_key.len()
            ),
        ));
    }
}

const MAX_TTL_MS: u64 = u32::MAX as u64;

fn check_queue(q: &crate::amqp::QueueConfig, path: &str, diags: &mut Vec<Diagnostic>) {
    use crate::amqp::{Overflow, QueueType};
    let a = &q.arguments;
    let args = format!("{path}.arguments");
    let quorum = a.queue_type == QueueType::Quorum;
    for (name, v) in [("x-message-ttl", a.message_ttl), ("x-expires", a.expires)] {
        if v.is_some_and(|v| v > MAX_TTL_MS) {
            diags.push(Diagnostic::new(
                format!("{args}.{name}"),
                format!("out of range: at most {MAX_TTL_MS} ms"),
            ));
        }
    }
    if a.expires == Some(0) {
        diags.push(Diagnostic::new(
            format!("{args}.x-expires"),
            "406 PRECONDITION_FAILED: x-expires must be greater than 0",
        ));
    }
    if let Some(p) = a.max_priority {
        if quorum {
            diags.push(Diagnostic::new(
                format!("{args}.x-max-priority"),
                "quorum queues do not take x-max-priority: they always have 32 priority levels \
                 (a message without a priority counts as 4)",
            ));
        } else if !(0..=255).contains(&p) {
            diags.push(Diagnostic::new(
                format!("{args}.x-max-priority"),
                format!("406 PRECONDITION_FAILED: {p} is out of range 0 to 255"),
            ));
        }
    }
    if let Some(l) = a.delivery_limit {
        if !quorum {
            diags.push(Diagnostic::new(
                format!("{args}.x-delivery-limit"),
                "x-delivery-limit applies to quorum queues only",
            ));
        } else if l < -1 {
            diags.push(Diagnostic::new(
                format!("{args}.x-delivery-limit"),
                format!("{l}: expected -1 (no limit) or a limit of 0 or more"),
            ));
        }
    }
    if quorum && a.overflow == Overflow::RejectPublishDlx {
        diags.push(Diagnostic::new(
            format!("{args}.x-overflow"),
            "quorum queues do not support reject-publish-dlx; use reject-publish or drop-head",
        ));
    }
    if quorum && q.exclusive {
        diags.push(Diagnostic::new(
            format!("{path}.exclusive"),
            "exclusive queues are always classic; a quorum queue cannot be exclusive",
        ));
    }
    if quorum && q.auto_delete {
        diags.push(Diagnostic::new(
            format!("{path}.auto_delete"),
            "406 PRECONDITION_FAILED: quorum queues cannot be auto-delete",
        ));
    }
    if quorum && !q.durable {
        diags.push(Diagnostic::new(
            format!("{path}.durable"),
            "quorum queues are always durable",
        ));
    }
    if a.dead_letter_routing_key
        .as_ref()
        .is_some_and(|k| k.len() > 255)
    {
        diags.push(Diagnostic::new(
            format!("{args}.x-dead-letter-routing-key"),
            "a routing key is a shortstr, at most 255 bytes",
        ));
    }
}

fn check_consumer(c: &crate::amqp::ConsumerConfig, path: &str, diags: &mut Vec<Diagnostic>) {
    check_dist(&c.processing, format!("{path}.processing"), diags);
    if !(0.0..=1.0).contains(&c.fail_probability) {
        diags.push(Diagnostic::new(
            format!("{path}.fail_probability"),
            format!(
                "expected a probability from 0 to 1, got {}",
                c.fail_probability
            ),
        ));
    }
    if c.auto_ack {
        let settles = !c.when_header.is_empty() || c.fail_probability > 0.0;
        if settles {
            diags.push(Diagnostic::new(
                format!("{path}.auto_ack"),
                "an auto_ack consumer cannot reject or nack: the broker forgot each message when \
                 it sent it; remove when_header and fail_probability, or turn auto_ack off",
            ));
        }
    }
    if c.crash_after == Some(0) {
        diags.push(Diagnostic::new(
            format!("{path}.crash_after"),
            "expected 1 or more (the consumer crashes on finishing that many messages)",
        ));
    }
}

/// An exclusive queue belongs to one connection: a second consumer node is refused, as
/// RabbitMQ refuses it with 405 RESOURCE_LOCKED. Quorum queues refuse global QoS consumers.
fn check_exclusive_owners(s: &Scenario, diags: &mut Vec<Diagnostic>) {
    let mut owner: BTreeMap<&str, &str> = BTreeMap::new();
    let kind = |id: &str| s.nodes.iter().find(|n| n.id == id).map(|n| &n.kind);
    for (i, e) in s.edges.iter().enumerate() {
        let (Some(NodeKind::Queue(q)), Some(NodeKind::Consumer(c))) = (kind(&e.from), kind(&e.to))
        else {
            continue;
        };
        if q.exclusive {
            match owner.get(e.from.as_str()) {
                Some(first) if *first != e.to => diags.push(Diagnostic::new(
                    format!("edges[{i}]"),
                    format!(
                        "405 RESOURCE_LOCKED: {:?} is exclusive to {first:?}'s connection",
                        e.from
                    ),
                )),
                _ => {
                    owner.insert(&e.from, &e.to);
                }
            }
        }
        for (field, why) in consume_edge_problems(e, q, c) {
            diags.push(Diagnostic::new(format!("edges[{i}]{field}"), why));
        }
    }
}

/// What is wrong with consumer `c` consuming from queue `q` along `e`, as `(path suffix under
/// the edge, reason)`.
fn consume_edge_problems(
    e: &EdgeSpec,
    q: &crate::amqp::QueueConfig,
    c: &crate::amqp::ConsumerConfig,
) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    // `on_failure` counts even without `fail_probability`: a poison message is settled with
    // it whatever the other rules say.
    let settles_back = !c.auto_ack
        && (c.when_header.iter().any(|r| r.then != Settlement::Ack)
            || c.on_failure != Settlement::Ack);
    if settles_back && can_be_zero(&c.processing) && e.latency.as_ref().is_some_and(can_be_zero) {
        out.push((
            ".latency",
            format!(
                "{:?} can process in 0 time over a 0 latency edge and send messages back \
                 (nack, reject): a message could loop forever without time passing; give the \
                 processing time or the latency a minimum above 0",
                e.to
            ),
        ));
    }
    if q.arguments.queue_type == crate::amqp::QueueType::Quorum && c.global_prefetch_count > 0 {
        out.push((
            "",
            format!(
                "{:?} uses global_prefetch_count, and quorum queue {:?} refuses consumers on a \
                 channel with global QoS",
                e.to, e.from
            ),
        ));
    }
    out
}

fn check_body(bytes: u32, path: String, diags: &mut Vec<Diagnostic>) {
    if bytes > MAX_BODY_BYTES {
        diags.push(Diagnostic::new(
            path,
            format!("{bytes} is out of range: at most {MAX_BODY_BYTES} (RabbitMQ's default max_message_size)"),
        ));
    }
}

/// True if a draw from `d` can be exactly zero.
fn can_be_zero(d: &DurationDist) -> bool {
    match *d {
        DurationDist::Constant { value } => value == SimDuration::ZERO,
        DurationDist::Uniform { min, .. } => min == SimDuration::ZERO,
        DurationDist::Exponential { mean } => mean == SimDuration::ZERO,
    }
}

/// Refuses loops of relays in which every hold and every latency can be zero: a message could
/// circle forever at one instant, and simulated time would never move again.
fn check_zero_time_loops(s: &Scenario, ids: &BTreeMap<&str, usize>, diags: &mut Vec<Diagnostic>) {
    let instant =
        |i: usize| matches!(&s.nodes[i].kind, NodeKind::Relay(r) if can_be_zero(&r.delay));
    // Edges of the zero-time subgraph: (edge index, from, to).
    let zero_edges: Vec<(usize, usize, usize)> = s
        .edges
        .iter()
        .enumerate()
        .filter_map(|(k, e)| {
            let (a, b) = (*ids.get(e.from.as_str())?, *ids.get(e.to.as_str())?);
            (a != b && instant(a) && instant(b) && e.latency.as_ref().is_some_and(can_be_zero))
                .then_some((k, a, b))
        })
        .collect();
    // Kahn's algorithm: peel nodes with no incoming zero-time edge; what remains lies on or
    // after a cycle, and every remaining node has a remaining predecessor.
    let n = s.nodes.len();
    let mut indegree = vec![0usize; n];
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut pred: Vec<Vec<(usize, usize)>> = vec![Vec::new(); n];
    for &(k, a, b) in &zero_edges {
        indegree[b] += 1;
        out[a].push(b);
        pred[b].push((k, a));
    }
    let mut ready: Vec<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
    let mut removed = vec![false; n];
    while let Some(i) = ready.pop() {
        removed[i] = true;
        for &j in &out[i] {
            indegree[j] -= 1;
            if indegree[j] == 0 {
                ready.push(j);
            }
        }
    }
    let Some(start) = (0..n).find(|&i| !removed[i]) else {
        return;
    };
    // Walk backwards through remaining predecessors until a node repeats: that is a cycle.
    let mut seen_at = vec![usize::MAX; n];
    let mut path: Vec<(usize, usize)> = Vec::new(); // (node, edge into it)
    let mut at = start;
    while seen_at[at] == usize::MAX {
        seen_at[at] = path.len();
        let &(k, p) = pred[at]
            .iter()
            .find(|&&(_, p)| !removed[p])
            .expect("a remaining predecessor");
        path.push((at, k));
        at = p;
    }
    // In walking order each entry's edge leads into its node from the next entry's node.
    let cycle: Vec<(usize, usize)> = path[seen_at[at]..].iter().rev().copied().collect();
    let edge = cycle
        .iter()
        .map(|&(_, k)| k)
        .min()
        .expect("a cycle has edges");
    // Name the loop starting at the reported edge's source.
    let into = cycle
        .iter()
        .position(|&(_, k)| k == edge)
        .expect("on the cycle");
    let len = cycle.len();
    let mut names: Vec<&str> = (0..len)
        .map(|i| s.nodes[cycle[(into + len - 1 + i) % len].0].id.as_str())
        .collect();
    names.push(names[0]);
    diags.push(Diagnostic::new(
        format!("edges[{edge}]"),
        format!(
            "closes a loop ({}) in which every relay delay and edge latency can be 0, so a message \
             could circle forever without time passing; give one of them a minimum above 0",
            names.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(" → ")
        ),
    ));
}
