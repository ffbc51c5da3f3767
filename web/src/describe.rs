//! The topology and the run in words: what a screen reader says of a node or an edge, and what
//! the text view lists. Plain functions of the core's topology and metrics, so native tests
//! read them.

use switchboard_core::model::edge_label;
use switchboard_core::topology::Topology;
use switchboard_core::{EdgeId, NodeId};

/// One live connection of a node, as that node sees it.
pub struct Link {
    /// The edge.
    pub edge: EdgeId,
    /// What the node does along it, with the other end ("publishes to orders-x").
    pub phrase: String,
    /// What the edge carries (a binding's key or arguments), or nothing.
    pub label: String,
}

impl Link {
    /// The phrase with the label after it in brackets, if there is one.
    pub fn text(&self) -> String {
        if self.label.is_empty() {
            self.phrase.clone()
        } else {
            format!("{} ({})", self.phrase, self.label)
        }
    }
}

/// A node's live connections, outgoing first, each in the order it was added.
pub fn links(topo: &Topology, node: NodeId) -> Vec<Link> {
    let n = topo.node(node);
    n.out
        .iter()
        .chain(&n.inc)
        .filter(|&&e| !topo.edge(e).removed)
        .map(|&e| {
            let edge = topo.edge(e);
            let (out, inc) = crate::models::edge_phrases(edge.kind);
            let phrase = if edge.from == node {
                format!("{out} {}", topo.node(edge.to).name)
            } else {
                format!("{inc} {}", topo.node(edge.from).name)
            };
            Link {
                edge: e,
                phrase,
                label: edge_label(topo, e),
            }
        })
        .collect()
}

/// What a node does with each of its live connections, in words ("publishes to orders-x",
/// "consumed by worker"), outgoing first, each in the order it was added.
pub fn connections(topo: &Topology, node: NodeId) -> Vec<String> {
    links(topo, node).into_iter().map(|l| l.phrase).collect()
}

/// A node's accessible name: its kind and name, its state in words, and its connections
/// ("queue orders, 12 ready, 3 unacked; bound to exchange orders-x; consumed by worker").
/// `subtitle` and `status` are what its face shows (`crate::models::face`).
pub fn node_name(topo: &Topology, node: NodeId, subtitle: &str, status: &str, up: bool) -> String {
    let (kind, state) = kind_and_state(subtitle, status, up);
    let mut s = format!("{kind} {}", topo.node(node).name);
    if !state.is_empty() {
        s.push_str(", ");
        s.push_str(&state);
    }
    let links = connections(topo, node);
    if links.is_empty() {
        s.push_str("; not connected");
    }
    for l in links {
        s.push_str("; ");
        s.push_str(&l);
    }
    s
}

/// A node's kind and its state in words, from what its face shows: the subtitle is the kind,
/// then its state ("consumer · DOWN", "queue · dead letters"), and `status` the body's counts.
pub fn kind_and_state<'a>(subtitle: &'a str, status: &'a str, up: bool) -> (&'a str, String) {
    let mut parts = subtitle.split(" · ");
    let kind = parts.next().unwrap_or_default();
    let mut state: Vec<String> = parts
        .chain(std::iter::once(status))
        .filter(|p| !p.is_empty())
        .map(str::to_lowercase)
        .collect();
    if !up && !state.iter().any(|p| p == "down") {
        state.push("down".into());
    }
    (kind, state.join(", "))
}

/// An edge's accessible name: what it is, its ends and what it carries ("binding from
/// orders-x to orders, routing key order.eu").
pub fn edge_name(topo: &Topology, edge: EdgeId) -> String {
    let e = topo.edge(edge);
    let mut s = format!(
        "{} from {} to {}",
        crate::models::edge_noun(e.kind),
        topo.node(e.from).name,
        topo.node(e.to).name
    );
    let label = edge_label(topo, edge);
    if !label.is_empty() {
        let what = if e.routing_key.is_empty() && !e.arguments.is_empty() {
            "arguments"
        } else {
            "routing key"
        };
        s.push_str(&format!(", {what} {label}"));
    }
    s
}

/// What happened in a run of events that a listener should hear of without looking: nodes
/// that crashed or came back, and messages dead-lettered (counted per queue). In order of
/// first occurrence.
pub fn happenings<'a>(
    events: impl IntoIterator<Item = &'a switchboard_core::Event>,
    topo: &Topology,
) -> Vec<String> {
    use switchboard_core::amqp::AmqpEvent;
    use switchboard_core::EventKind;
    let mut said: Vec<String> = Vec::new();
    // (queue, count, index in `said`)
    let mut dead: Vec<(NodeId, u64, usize)> = Vec::new();
    for e in events {
        match &e.kind {
            EventKind::Crashed { node, lost } => said.push(format!(
                "{} crashed{}",
                topo.node(*node).name,
                if *lost > 0 {
                    format!(
                        ", losing {lost} message{}",
                        if *lost == 1 { "" } else { "s" }
                    )
                } else {
                    String::new()
                }
            )),
            EventKind::Restarted { node } => {
                said.push(format!("{} restarted", topo.node(*node).name))
            }
            EventKind::Amqp(AmqpEvent::DeadLettered { queue, .. }) => {
                match dead.iter_mut().find(|d| d.0 == *queue) {
                    Some(d) => d.1 += 1,
                    None => {
                        dead.push((*queue, 1, said.len()));
                        said.push(String::new());
                    }
                }
            }
            _ => {}
        }
    }
    for (q, n, i) in dead {
        said[i] = format!(
            "{n} message{} dead-lettered from {}",
            if n == 1 { "" } else { "s" },
            topo.node(q).name
        );
    }
    said
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_core::Scenario;

    fn topo(example: &str) -> Topology {
        let s = Scenario::from_json(crate::ui::examples::get(example).unwrap()).unwrap();
        switchboard_core::Sim::new(&s).unwrap().topology().clone()
    }

    #[test]
    fn a_queue_says_its_state_and_who_feeds_and_consumes_it() {
        let t = topo("amqp-dead-letter");
        let q = t.node_id("orders").unwrap();
        let name = node_name(&t, q, "queue", "12 ready, 3 unacked", true);
        assert!(
            name.starts_with("queue orders, 12 ready, 3 unacked; "),
            "{name}"
        );
        assert!(name.contains("bound to exchange orders-x"), "{name}");
        assert!(name.contains("consumed by worker"), "{name}");
        let c = t.node_id("worker").unwrap();
        let worker = node_name(&t, c, "consumer · DOWN", "", false);
        assert_eq!(worker, "consumer worker, down; consumes from orders");
    }

    #[test]
    fn an_edge_names_its_ends_and_its_key() {
        let t = topo("amqp-dead-letter");
        let names: Vec<String> = (0..t.edges.len())
            .map(|i| edge_name(&t, EdgeId(i as u32)))
            .collect();
        assert!(
            names
                .iter()
                .any(|n| n.starts_with("binding from orders-x to orders, routing key ")),
            "{names:?}"
        );
        assert!(
            names.iter().any(|n| n.starts_with("publish link from ")),
            "{names:?}"
        );
        assert!(
            names
                .iter()
                .any(|n| n == "consumer link from orders to worker"),
            "{names:?}"
        );
    }

    #[test]
    fn a_run_of_events_is_told_as_crashes_and_dead_letters_per_queue() {
        let s = Scenario::from_json(crate::ui::examples::get("amqp-dead-letter").unwrap()).unwrap();
        let mut sim = switchboard_core::Sim::new(&s).unwrap();
        let mut events = Vec::new();
        while events.len() < 20_000 && sim.step().is_some() {
            events.extend(sim.drain_events());
        }
        let dead = events
            .iter()
            .filter(|e| e.kind.name() == "dead_lettered")
            .count();
        assert_eq!(dead, 1, "the example dead-letters its poison message");
        let said = happenings(&events, sim.topology());
        assert_eq!(said, ["1 message dead-lettered from orders"]);
        // Twice the events: counted together, said once.
        let twice = happenings(events.iter().chain(&events), sim.topology());
        assert_eq!(twice, ["2 messages dead-lettered from orders"]);
        assert!(happenings(&events[..0], sim.topology()).is_empty());
    }
}
