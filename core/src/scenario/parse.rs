//! Parsing and validation of scenario documents, collecting diagnostics with paths.
//!
//! Parsing runs in stages so that every error can name its path exactly:
//! 1. the text is parsed as JSON (syntax errors carry line and column);
//! 2. `version` is checked, and older versions would be migrated here;
//! 3. the document's shape is read with `serde_path_to_error`; each node's `config` and each
//!    action are read separately, by kind, so their paths stay exact;
//! 4. cross-references and ranges are validated, collecting every problem rather than the first.

use super::*;
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

pub(super) fn from_json(text: &str) -> Result<Scenario, Diagnostics> {
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
    let value = check_version(value)?;
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
        validate(s, &mut diags);
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

fn check_version(value: Value) -> Result<Value, Diagnostics> {
    let Value::Object(map) = &value else {
        return Err(Diagnostics::one(
            "(document)",
            "expected a JSON object with \"version\" and \"nodes\"",
        ));
    };
    let version = match map.get("version") {
        None => {
            return Err(Diagnostics::one(
                "version",
                format!(
                    "missing; this is a scenario format field, add \"version\": {FORMAT_VERSION}"
                ),
            ))
        }
        Some(Value::Number(n)) => n.as_u64(),
        Some(_) => None,
    };
    match version {
        Some(v) if v == u64::from(FORMAT_VERSION) => Ok(value),
        Some(v) if v > u64::from(FORMAT_VERSION) => Err(Diagnostics::one(
            "version",
            format!("unknown version {v}: this build reads scenario format versions 1 to {FORMAT_VERSION}"),
        )),
        // Migrations from older versions go here, each a Value -> Value step.
        _ => Err(Diagnostics::one(
            "version",
            format!(
                "expected an integer from 1 to {FORMAT_VERSION}, got {}",
                map.get("version").map(|v| v.to_string()).unwrap_or_default()
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
        let kind = match n.kind.as_str() {
            "producer" => typed(config, &prefix).map(NodeKind::Producer),
            "relay" => typed(config, &prefix).map(NodeKind::Relay),
            "sink" => typed(config, &prefix).map(NodeKind::Sink),
            other => Err(Diagnostic::new(
                format!("nodes[{i}].kind"),
                format!(
                    "unknown node kind {other:?}; expected one of {}",
                    NodeKind::NAMES.join(", ")
                ),
            )),
        };
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

pub(super) fn validate(s: &Scenario, diags: &mut Vec<Diagnostic>) {
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
        if let Some(p) = n.position {
            if !(p.x.abs() <= 1e6 && p.y.abs() <= 1e6) {
                diags.push(Diagnostic::new(
                    format!("nodes[{i}].position"),
                    "x and y must be within ±1000000",
                ));
            }
        }
        match &n.kind {
            NodeKind::Producer(p) => {
                if !(p.rate_per_s >= 0.0 && p.rate_per_s <= MAX_RATE_PER_S) {
                    diags.push(Diagnostic::new(
                        format!("nodes[{i}].config.rate_per_s"),
                        format!(
                            "expected a number from 0 to {MAX_RATE_PER_S}, got {}",
                            p.rate_per_s
                        ),
                    ));
                }
                if p.start > MAX_ACTION_TIME {
                    diags.push(Diagnostic::new(
                        format!("nodes[{i}].config.start"),
                        format!("{} is out of range: at most {MAX_ACTION_TIME}", p.start),
                    ));
                }
                check_body(
                    p.message.body_bytes,
                    format!("nodes[{i}].config.message.body_bytes"),
                    diags,
                );
            }
            NodeKind::Relay(r) => check_dist(&r.delay, format!("nodes[{i}].config.delay"), diags),
            NodeKind::Sink(_) => {}
        }
    }

    let kind_of = |id: &str| first_use.get(id).map(|&i| &s.nodes[i].kind);
    let mut outgoing = vec![0usize; s.nodes.len()];
    let mut seen_edges: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for (i, e) in s.edges.iter().enumerate() {
        check_dist(&e.latency, format!("edges[{i}].latency"), diags);
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
        if e.from == e.to {
            diags.push(Diagnostic::new(
                format!("edges[{i}]"),
                format!("{:?} is connected to itself", e.from),
            ));
            continue;
        }
        if let Some(j) = seen_edges.insert((&e.from, &e.to), i) {
            diags.push(Diagnostic::new(
                format!("edges[{i}]"),
                format!("duplicate of edges[{j}] ({:?} to {:?})", e.from, e.to),
            ));
        }
        if matches!(from, NodeKind::Sink(_)) {
            diags.push(Diagnostic::new(
                format!("edges[{i}].from"),
                format!("{:?} is a sink, and a sink sends nothing", e.from),
            ));
        }
        if matches!(to, NodeKind::Producer(_)) {
            diags.push(Diagnostic::new(
                format!("edges[{i}].to"),
                format!("{:?} is a producer, and a producer receives nothing", e.to),
            ));
        }
        outgoing[first_use[e.from.as_str()]] += 1;
    }
    check_zero_time_loops(s, &first_use, diags);
    for (i, n) in s.nodes.iter().enumerate() {
        let needs_out = matches!(n.kind, NodeKind::Producer(_) | NodeKind::Relay(_));
        if needs_out && outgoing[i] == 0 && first_use.get(n.id.as_str()) == Some(&i) {
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
        let node = a.action.node();
        match kind_of(node) {
            None => diags.push(Diagnostic::new(
                format!("actions[{i}].node"),
                format!("no node has id {node:?}"),
            )),
            Some(k) => {
                if let Action::Publish { message, .. } = &a.action {
                    if !matches!(k, NodeKind::Producer(_)) {
                        diags.push(Diagnostic::new(
                            format!("actions[{i}].node"),
                            format!("{node:?} is a {}; only a producer can publish", k.name()),
                        ));
                    }
                    check_body(
                        message.body_bytes,
                        format!("actions[{i}].message.body_bytes"),
                        diags,
                    );
                }
            }
        }
    }
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
            (a != b && instant(a) && instant(b) && can_be_zero(&e.latency)).then_some((k, a, b))
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
