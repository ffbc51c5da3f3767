//! Parsing and validation of scenario documents, collecting diagnostics with paths.
//!
//! Parsing runs in stages so that every error can name its path exactly:
//! 1. the text is parsed as JSON (syntax errors carry line and column);
//! 2. `version` is checked, and older versions are migrated step by step (`migrate.rs`);
//! 3. the document's shape is read with `serde_path_to_error`; each node's `config` and each
//!    action are read separately, by kind, so their paths stay exact;
//! 4. cross-references and ranges are validated, collecting every problem rather than the first.

use super::*;
use rustc_hash::FxHashMap as HashMap;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// Limits on the size of a topology: a bound on everything.
const MAX_NODES: usize = 10_000;
const MAX_EDGES: usize = 100_000;
const MAX_ACTIONS: usize = 100_000;
const MAX_ID_CHARS: usize = 64;
pub(crate) const MAX_RATE_PER_S: f64 = 1_000_000.0;

pub(crate) const MAX_DELAY: SimDuration = SimDuration::from_secs(3_600);
pub(crate) const MAX_ACTION_TIME: SimDuration = SimDuration::from_secs(24 * 3_600);

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
    #[serde(default)]
    policies: Vec<crate::amqp::policy::Policy>,
    #[serde(default)]
    operator_policies: Vec<crate::amqp::policy::Policy>,
    #[serde(default)]
    tour: Option<Value>,
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
pub(crate) fn typed<T: DeserializeOwned>(value: Value, prefix: &str) -> Result<T, Diagnostic> {
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
        // A tour's figures are checked against the metrics of the run they read, at its start.
        if let (Some(tour), true, false) = (&s.tour, diags.is_empty(), live) {
            crate::tour::check_metrics(tour, &crate::Sim::unchecked(s), &mut diags);
        }
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
        other => {
            // Each model reads its own kinds.
            if crate::amqp::AmqpKind::NAMES.contains(&other) {
                if let Some(k) = crate::amqp::AmqpKind::parse(other, config, prefix) {
                    return k.map(NodeKind::Amqp);
                }
            } else if crate::http::HttpKind::NAMES.contains(&other) {
                if let Some(k) = crate::http::HttpKind::parse(other, config, prefix) {
                    return k.map(NodeKind::Http);
                }
            } else if crate::kafka::KafkaKind::NAMES.contains(&other) {
                if let Some(k) = crate::kafka::KafkaKind::parse(other, config, prefix) {
                    return k.map(NodeKind::Kafka);
                }
            } else if crate::bullmq::BullmqKind::NAMES.contains(&other) {
                if let Some(k) = crate::bullmq::BullmqKind::parse(other, config, prefix) {
                    return k.map(NodeKind::Bullmq);
                }
            } else if let Some(k) = crate::data::DataKind::parse(other, config, prefix) {
                return k.map(NodeKind::Data);
            }
            Err(Diagnostic::new(
                format!("{}kind", prefix.strip_suffix("config").unwrap_or(prefix)),
                format!(
                    "unknown node kind {other:?}; expected one of {}",
                    NodeKind::names().collect::<Vec<_>>().join(", ")
                ),
            ))
        }
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
    let tour = match raw.tour {
        None | Some(Value::Null) => None,
        Some(v) => match typed::<crate::tour::Tour>(v, "tour") {
            Ok(t) => Some(t),
            Err(d) => {
                diags.push(d);
                None
            }
        },
    };
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
        policies: raw.policies,
        operator_policies: raw.operator_policies,
        tour,
    })
}

pub(crate) fn check_dist(d: &DurationDist, path: Path<'_>, diags: &mut Vec<Diagnostic>) {
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
        check_view(v, "view", diags);
    }
    // A tour is checked with its document; a topology being drawn is not held to the tour it
    // came with (the editor drops a tour that no longer fits, see `Tour::fits`).
    if let (Some(tour), false) = (&s.tour, live) {
        crate::tour::check(s, tour, &|id| s.node_index(id).is_some(), diags);
    }
    // Nodes indexed by id once: every edge and action looks its ends up here. A hash map, for
    // lookups only (nothing iterates it), so order cannot leak into the diagnostics.
    let mut first_use: HashMap<&str, usize> =
        HashMap::with_capacity_and_hasher(s.nodes.len(), Default::default());
    for (i, n) in s.nodes.iter().enumerate() {
        let node = Path::Item("nodes", i);
        let path = node.at("id");
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
        check_node(n, node, diags);
    }

    let kind_of = |id: &str| first_use.get(id).map(|&i| &s.nodes[i].kind);
    let mut outgoing = vec![0usize; s.nodes.len()];
    // Bindings are identified by (source, destination, key, arguments), as in RabbitMQ; other
    // edges by their ends.
    let mut seen_edges: HashMap<(&str, &str, &str, String), usize> =
        HashMap::with_capacity_and_hasher(s.edges.len(), Default::default());
    for (i, e) in s.edges.iter().enumerate() {
        let edge = Path::Item("edges", i);
        if let Some(l) = &e.latency {
            check_dist(l, edge.at("latency"), diags);
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
        let rule = crate::model::edge_rule(from, to);
        let binding = match rule {
            Ok(crate::model::EdgeKind::Amqp(k)) => k.is_binding(),
            Ok(
                crate::model::EdgeKind::Hop
                | crate::model::EdgeKind::Http(_)
                | crate::model::EdgeKind::Kafka(_)
                | crate::model::EdgeKind::Bullmq(_)
                | crate::model::EdgeKind::Data(_),
            )
            | Err(_) => false,
        };
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
                // Serialised only when there are any: no two bindings without arguments differ
                // there, and no arguments serialise to "".
                if e.arguments.is_empty() {
                    String::new()
                } else {
                    serde_json::to_string(&e.arguments).unwrap_or_default()
                },
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
        match rule {
            Err(why) => diags.push(Diagnostic::new(
                format!("edges[{i}]"),
                format!(
                    "{:?} ({}) to {:?} ({}): {why}",
                    e.from,
                    from.name(),
                    e.to,
                    to.name()
                ),
            )),
            Ok(kind) => check_edge_fields(e, kind, from, edge, diags),
        }
        outgoing[first_use[e.from.as_str()]] += 1;
    }
    check_zero_time_loops(s, &first_use, diags);
    crate::amqp::rules::check_policies(s, diags);
    // Each model's checks across nodes.
    crate::amqp::rules::check_topology(s, &kind_of, diags);
    crate::http::rules::check_topology(s, &kind_of, diags);
    crate::kafka::rules::check_topology(s, &kind_of, diags);
    crate::bullmq::rules::check_topology(s, &kind_of, diags);
    crate::handler::check_topology(s, &kind_of, diags);
    crate::data::rules::check_topology(s, &kind_of, diags);
    for (i, n) in s.nodes.iter().enumerate() {
        let needs_out = matches!(
            n.kind,
            NodeKind::Producer(_)
                | NodeKind::Relay(_)
                | NodeKind::Http(crate::http::HttpKind::Client(_))
        );
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
        for (field, node) in a.action.node_fields() {
            if kind_of(node).is_none() {
                diags.push(Diagnostic::new(
                    format!("actions[{i}].{field}"),
                    format!("no node has id {node:?}"),
                ));
            }
        }
        let name = a.action.nodes().first().copied().unwrap_or_default();
        let kind = kind_of(name);
        let action = Path::Item("actions", i);
        let path = action.at("node");
        let asks = match &a.action {
            Action::Publish { message, .. } => {
                check_template(message, action.at("message"), diags);
                let kafka = matches!(kind, Some(NodeKind::Kafka(_)));
                check_record_fields(message, kafka, action.at("message"), diags);
                check_job_field(message, kind, action.at("message"), diags);
                Some(crate::model::Action::Publish)
            }
            Action::Crash { .. } => Some(crate::model::Action::Crash),
            Action::Restart { .. } => Some(crate::model::Action::Restart),
            Action::Ack { .. } | Action::Nack { .. } | Action::Reject { .. } => {
                Some(crate::model::Action::Settle)
            }
            Action::Pause { .. } => Some(crate::model::Action::Pause),
            Action::Resume { .. } => Some(crate::model::Action::Resume),
            Action::Seek {
                topic, partition, ..
            } => {
                if partition.is_some() && topic.is_none() {
                    diags.push(Diagnostic::new(
                        action.at("partition"),
                        "a partition is a topic's: name the topic too",
                    ));
                }
                Some(crate::model::Action::Seek)
            }
            Action::LoseAck { .. } => Some(crate::model::Action::LoseAck),
            Action::Configure { node } => {
                if kind.is_some() {
                    check_configure_action(s, i, a.at, node, &kind_of, diags);
                }
                None
            }
            Action::AddEdge { edge } => {
                if let (Some(from), Some(to)) = (kind_of(&edge.from), kind_of(&edge.to)) {
                    let p = action.at("edge");
                    match crate::model::edge_rule(from, to) {
                        Err(why) => diags.push(Diagnostic::new(p, why)),
                        Ok(k) => check_edge_fields(edge, k, from, p, diags),
                    }
                }
                None
            }
            Action::RemoveNode { .. } | Action::RemoveEdge { .. } => None,
            // Checked with the document's policies (`rules::check_policies`).
            Action::SetPolicy { .. } | Action::ClearPolicy { .. } => None,
        };
        if let (Some(asks), Some(kind)) = (asks, kind) {
            if let Err(why) = crate::model::action_rule(name, kind, asks) {
                diags.push(Diagnostic::new(path, why));
            }
        }
    }
}

/// The checks of a view (the document's, or a tour step's), under `path`.
pub(crate) fn check_view(v: View, path: &str, diags: &mut Vec<Diagnostic>) {
    if !(v.x.abs() <= 1e6 && v.y.abs() <= 1e6) {
        diags.push(Diagnostic::new(path, "x and y must be within ±1000000"));
    }
    let (lo, hi) = View::ZOOM_LIMITS;
    if !(v.zoom >= lo && v.zoom <= hi) {
        diags.push(Diagnostic::new(
            format!("{path}.zoom"),
            format!("expected a number from {lo} to {hi}, got {}", v.zoom),
        ));
    }
}

/// The checks of one node's own settings (position and config), under `path` (`nodes[3]`).
fn check_node(n: &NodeSpec, path: Path<'_>, diags: &mut Vec<Diagnostic>) {
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
            check_template(&p.message, path.at("config").at("message"), diags);
            check_record_fields(&p.message, false, path.at("config").at("message"), diags);
            check_job_field(&p.message, None, path.at("config").at("message"), diags);
        }
        NodeKind::Relay(r) => check_dist(&r.delay, path.at("config").at("delay"), diags),
        NodeKind::Sink(_) => {}
        NodeKind::Amqp(k) => crate::amqp::rules::check_kind(k, path.at("config"), diags),
        NodeKind::Http(k) => crate::http::rules::check_kind(k, path.at("config"), diags),
        NodeKind::Kafka(k) => crate::kafka::rules::check_kind(k, path.at("config"), diags),
        NodeKind::Bullmq(k) => crate::bullmq::rules::check_kind(k, path.at("config"), diags),
        NodeKind::Data(k) => crate::data::rules::check_kind(k, path.at("config"), diags),
    }
}

/// Checks a scripted `configure` (action `i`) against the document's node of that name.
fn check_configure_action<'a>(
    s: &'a Scenario,
    i: usize,
    at: SimTime,
    spec: &NodeSpec,
    kind_of: &dyn Fn(&str) -> Option<&'a NodeKind>,
    diags: &mut Vec<Diagnostic>,
) {
    let action = Path::Item("actions", i);
    let path = action.at("node");
    let Some(current) = kind_of(&spec.id) else {
        return; // reported as an unknown id
    };
    if current.name() != spec.kind.name() {
        if let Err(crate::model::Reconfigure::OtherKind(why)) =
            crate::model::reconfigure_rule(&spec.id, current, &spec.kind, false)
        {
            diags.push(Diagnostic::new(format!("{path}.kind"), why));
        }
        return;
    }
    check_node(spec, path, diags);
    let bound = match spec.kind.model() {
        ModelId::Kernel | ModelId::Http | ModelId::Kafka | ModelId::Bullmq | ModelId::Data => false,
        ModelId::Amqp => crate::amqp::rules::consumes(s, &spec.id, at, kind_of),
    };
    match crate::model::reconfigure_rule(&spec.id, current, &spec.kind, bound) {
        Ok(()) => {}
        Err(
            crate::model::Reconfigure::OtherKind(why)
            | crate::model::Reconfigure::Redeclare(why)
            | crate::model::Reconfigure::Refused(why),
        ) => {
            diags.push(Diagnostic::new(format!("{path}.config"), why));
        }
    }
    match spec.kind.model() {
        ModelId::Kernel | ModelId::Http | ModelId::Kafka | ModelId::Bullmq | ModelId::Data => {}
        ModelId::Amqp => crate::amqp::rules::check_configure_action(s, spec, kind_of, path, diags),
    }
}

/// The fields of an edge of `kind`, checked by the model the edge belongs to.
fn check_edge_fields(
    e: &EdgeSpec,
    kind: crate::model::EdgeKind,
    from: &NodeKind,
    path: Path<'_>,
    diags: &mut Vec<Diagnostic>,
) {
    if e.resilience.is_some() && !matches!(kind, crate::model::EdgeKind::Http(_)) {
        diags.push(Diagnostic::new(
            format!("{path}.resilience"),
            "only a call (an edge from a client or a service) has resilience policies",
        ));
    }
    match kind {
        crate::model::EdgeKind::Hop => check_plain_edge_fields(e, path, diags),
        crate::model::EdgeKind::Amqp(k) => {
            crate::amqp::rules::check_edge_fields(e, k, from, path, diags)
        }
        crate::model::EdgeKind::Http(k) => crate::http::rules::check_edge_fields(e, k, path, diags),
        crate::model::EdgeKind::Kafka(_) => crate::kafka::rules::check_edge_fields(e, path, diags),
        crate::model::EdgeKind::Bullmq(_) => {
            crate::bullmq::rules::check_edge_fields(e, path, diags)
        }
        crate::model::EdgeKind::Data(_) => check_plain_edge_fields(e, path, diags),
    }
}

/// An edge that carries messages over the network has a latency, and no routing key or
/// arguments (those are a binding's).
pub(crate) fn check_plain_edge_fields(e: &EdgeSpec, path: Path<'_>, diags: &mut Vec<Diagnostic>) {
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

/// A BullMQ job (`job`) is for a `job_producer`'s adds only; its options are checked as
/// BullMQ checks them.
fn check_job_field(
    m: &MessageTemplate,
    kind: Option<&NodeKind>,
    path: Path<'_>,
    diags: &mut Vec<Diagnostic>,
) {
    let Some(job) = &m.job else { return };
    match kind {
        Some(NodeKind::Bullmq(crate::bullmq::BullmqKind::Producer(p))) => {
            crate::bullmq::rules::check_template(job, p, path.at("job"), diags)
        }
        Some(_) | None => diags.push(Diagnostic::new(
            path.at("job"),
            "a BullMQ job: only a job_producer's adds take it",
        )),
    }
}

/// A Kafka record's fields (`key`, `partition`, `tombstone`) are for a `kafka_producer`'s
/// records only; a tombstone needs a key.
fn check_record_fields(
    m: &MessageTemplate,
    kafka: bool,
    path: Path<'_>,
    diags: &mut Vec<Diagnostic>,
) {
    let set = [
        ("key", m.key.is_some()),
        ("partition", m.partition.is_some()),
        ("tombstone", m.tombstone),
    ];
    if !kafka {
        for (name, on) in set {
            if on {
                diags.push(Diagnostic::new(
                    path.at(name),
                    "a Kafka record's field: only a kafka_producer's records take it",
                ));
            }
        }
    } else if m.tombstone && m.key.is_none() {
        diags.push(Diagnostic::new(
            path.at("tombstone"),
            "a tombstone is a key with a null value: give it a key",
        ));
    }
    if m.partition
        .is_some_and(|p| p >= crate::kafka::MAX_PARTITIONS)
    {
        diags.push(Diagnostic::new(
            path.at("partition"),
            format!(
                "a topic has at most {} partitions",
                crate::kafka::MAX_PARTITIONS
            ),
        ));
    }
}

fn check_template(m: &MessageTemplate, path: Path<'_>, diags: &mut Vec<Diagnostic>) {
    check_body(m.body_bytes, path.at("body_bytes"), diags);
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

fn check_body(bytes: u32, path: Path<'_>, diags: &mut Vec<Diagnostic>) {
    if bytes > MAX_BODY_BYTES {
        diags.push(Diagnostic::new(
            path,
            format!("{bytes} is out of range: at most {MAX_BODY_BYTES} (RabbitMQ's default max_message_size)"),
        ));
    }
}

/// Refuses loops of relays in which every hold and every latency can be zero: a message could
/// circle forever at one instant, and simulated time would never move again.
fn check_zero_time_loops(s: &Scenario, ids: &HashMap<&str, usize>, diags: &mut Vec<Diagnostic>) {
    // A node a message can pass through without time: a relay with no delay; an exchange or
    // a queue (routing takes none); a consumer whose handler publishes and whose processing
    // can take none.
    // (A Kafka consumer, the same, for a handler that publishes or produces: a record it
    // produces to a topic it reads comes back to it.) A handler's call comes back at once from
    // a service that takes no time and whose own handler publishes, produces or calls on.
    let sends_at_once = |steps: &[crate::handler::HandlerStep]| {
        steps.iter().any(|step| {
            matches!(
                step,
                crate::handler::HandlerStep::Publish(_)
                    | crate::handler::HandlerStep::Produce(_)
                    | crate::handler::HandlerStep::Call(_)
            )
        })
    };
    let instant_consumer =
        |c: &crate::amqp::ConsumerConfig| c.processing.can_be_zero() && sends_at_once(&c.handler);
    let instant_reader = |c: &crate::kafka::ConsumerConfig| {
        c.processing_time.can_be_zero() && sends_at_once(&c.handler)
    };
    // Only such a consumer closes a loop through a broker (a queue delivers to consumers
    // alone, a topic to Kafka consumers): without one, exchanges, queues and topics are left
    // out, and the check costs what it did.
    let broker_loops = s.nodes.iter().any(|n| {
        matches!(&n.kind, NodeKind::Amqp(crate::amqp::AmqpKind::Consumer(c)) if instant_consumer(c))
            || matches!(
                &n.kind,
                NodeKind::Kafka(crate::kafka::KafkaKind::Consumer(c)) if instant_reader(c)
            )
    });
    let instant_service = |c: &crate::http::ServiceConfig| {
        // No handler: it calls each of its call edges.
        c.service_time.can_be_zero() && c.handler.as_deref().is_none_or(sends_at_once)
    };
    let instant = |i: usize| match &s.nodes[i].kind {
        NodeKind::Relay(r) => r.delay.can_be_zero(),
        // Calls from a handler close a loop only through a broker (the call graph has none).
        NodeKind::Http(crate::http::HttpKind::Service(c)) => broker_loops && instant_service(c),
        NodeKind::Http(crate::http::HttpKind::LoadBalancer(_)) => broker_loops,
        NodeKind::Amqp(crate::amqp::AmqpKind::Exchange(_) | crate::amqp::AmqpKind::Queue(_))
        | NodeKind::Kafka(crate::kafka::KafkaKind::Topic(_)) => broker_loops,
        NodeKind::Amqp(crate::amqp::AmqpKind::Consumer(c)) => instant_consumer(c),
        NodeKind::Kafka(crate::kafka::KafkaKind::Consumer(c)) => instant_reader(c),
        NodeKind::Producer(_)
        | NodeKind::Sink(_)
        | NodeKind::Http(crate::http::HttpKind::Client(_))
        | NodeKind::Kafka(crate::kafka::KafkaKind::Producer(_))
        | NodeKind::Bullmq(_)
        | NodeKind::Data(_) => false,
    };
    // A binding takes no time; another edge, its latency (the default one is above 0).
    let binding = |a: usize| {
        matches!(
            &s.nodes[a].kind,
            NodeKind::Amqp(crate::amqp::AmqpKind::Exchange(_))
        )
    };
    // Edges of the zero-time subgraph: (edge index, from, to). Exchange-to-exchange bindings
    // are left out, since routing visits each exchange once and so cuts their cycles; an
    // exchange instead reaches, at once, each queue bound to an exchange it routes to.
    let ends = |e: &crate::scenario::EdgeSpec| {
        Some((*ids.get(e.from.as_str())?, *ids.get(e.to.as_str())?))
    };
    let mut zero_edges: Vec<(usize, usize, usize)> = s
        .edges
        .iter()
        .enumerate()
        .filter_map(|(k, e)| {
            let (a, b) = ends(e)?;
            (a != b
                && instant(a)
                && instant(b)
                && !(binding(a) && binding(b))
                && (binding(a) || e.latency.as_ref().is_some_and(DurationDist::can_be_zero)))
            .then_some((k, a, b))
        })
        .collect();
    if broker_loops {
        let n = s.nodes.len();
        let mut to_exchanges: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (a, b) in s.edges.iter().filter_map(ends) {
            if a != b && binding(a) && binding(b) {
                to_exchanges[a].push(b);
            }
        }
        let mut to_queues: Vec<Vec<(usize, usize)>> = vec![Vec::new(); n];
        for &(k, a, q) in &zero_edges {
            if binding(a) {
                to_queues[a].push((k, q));
            }
        }
        let mut seen = vec![usize::MAX; n];
        for x in (0..n).filter(|&i| !to_exchanges[i].is_empty()) {
            // The exchanges x routes to through exchange bindings, each once.
            seen[x] = x;
            let mut next = vec![x];
            while let Some(at) = next.pop() {
                for &b in &to_exchanges[at] {
                    if seen[b] != x {
                        seen[b] = x;
                        next.push(b);
                        zero_edges.extend(to_queues[b].iter().map(|&(k, q)| (k, x, q)));
                    }
                }
            }
        }
    }
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
            "closes a loop ({}) in which every relay delay, consumer processing time and edge \
             latency can be 0, so a message could circle forever without time passing; give \
             one of them a minimum above 0",
            names
                .iter()
                .map(|n| format!("{n:?}"))
                .collect::<Vec<_>>()
                .join(" → ")
        ),
    ));
}
