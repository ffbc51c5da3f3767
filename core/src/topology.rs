//! The runtime topology: nodes and edges resolved to dense ids, shared by snapshots.
//!
//! Live edits add nodes and edges at the end and mark removed ones instead of deleting them, so
//! ids stay valid for the whole run: events and the ledger refer to them.

use crate::dist::DurationDist;
use crate::id::{EdgeId, NodeId};
use crate::message::Headers;
use crate::model::{edge_rule, EdgeKind};
use crate::scenario::{EdgeSpec, NodeKind, NodeSpec, Position, Scenario};
use rustc_hash::FxHashMap;

/// A node as the simulator sees it.
#[derive(Clone, Debug)]
pub struct Node {
    /// The scenario id (a name).
    pub name: String,
    /// The kind and its configuration.
    pub kind: NodeKind,
    /// Where the author placed it.
    pub position: Option<Position>,
    /// Outgoing live edges, in the order they were added; forwarding takes them in turn.
    pub out: Vec<EdgeId>,
    /// Incoming live edges, in the order they were added.
    pub inc: Vec<EdgeId>,
    /// Removed by a live edit.
    pub removed: bool,
}

/// An edge as the simulator sees it.
#[derive(Clone, Debug)]
pub struct Edge {
    /// The sending node.
    pub from: NodeId,
    /// The receiving node.
    pub to: NodeId,
    /// Time on the wire.
    pub latency: DurationDist,
    /// A binding's key.
    pub routing_key: String,
    /// A binding's arguments.
    pub arguments: Headers,
    /// What the edge is, from the kinds at its ends: decided once, when it is added.
    pub kind: EdgeKind,
    /// A call edge's policies, if it has any.
    pub resilience: Option<std::sync::Arc<crate::http::Resilience>>,
    /// Removed by a live edit.
    pub removed: bool,
}

/// Nodes and edges of a validated scenario, and the live edits since.
#[derive(Clone, Debug)]
pub struct Topology {
    /// By [`NodeId`].
    pub nodes: Vec<Node>,
    /// By [`EdgeId`].
    pub edges: Vec<Edge>,
    /// Live nodes by name: for lookups only (nothing iterates it).
    by_name: FxHashMap<String, NodeId>,
}

impl Topology {
    /// Resolves a scenario's names to ids. The scenario must be valid (every edge end exists).
    pub(crate) fn from_scenario(s: &Scenario) -> Topology {
        let mut t = Topology {
            nodes: Vec::with_capacity(s.nodes.len()),
            edges: Vec::with_capacity(s.edges.len()),
            by_name: FxHashMap::with_capacity_and_hasher(s.nodes.len(), Default::default()),
        };
        for n in &s.nodes {
            t.add_node(n);
        }
        for e in &s.edges {
            t.add_edge(e).expect("validated scenario");
        }
        t
    }

    /// Adds a node; its name must be new among live nodes.
    pub(crate) fn add_node(&mut self, n: &NodeSpec) -> NodeId {
        let id = NodeId(self.nodes.len() as u32);
        self.nodes.push(Node {
            name: n.id.clone(),
            kind: n.kind.clone(),
            position: n.position,
            out: Vec::new(),
            inc: Vec::new(),
            removed: false,
        });
        self.by_name.insert(n.id.clone(), id);
        id
    }

    /// Adds an edge between live nodes, or returns `None` if an end names no live node.
    pub(crate) fn add_edge(&mut self, e: &EdgeSpec) -> Option<EdgeId> {
        let from = self.node_id(&e.from)?;
        let to = self.node_id(&e.to)?;
        let kind = edge_rule(&self.node(from).kind, &self.node(to).kind)
            .expect("validated: the kinds at its ends may be connected");
        let id = EdgeId(self.edges.len() as u32);
        self.edges.push(Edge {
            from,
            to,
            latency: e.latency_or_default(),
            routing_key: e.routing_key.clone(),
            arguments: e.arguments.clone(),
            kind,
            resilience: e.resilience.clone().map(std::sync::Arc::new),
            removed: false,
        });
        self.nodes[from.index()].out.push(id);
        self.nodes[to.index()].inc.push(id);
        Some(id)
    }

    /// Removes an edge.
    pub(crate) fn remove_edge(&mut self, id: EdgeId) {
        let e = &mut self.edges[id.index()];
        if e.removed {
            return;
        }
        e.removed = true;
        let (from, to) = (e.from, e.to);
        self.nodes[from.index()].out.retain(|&x| x != id);
        self.nodes[to.index()].inc.retain(|&x| x != id);
    }

    /// Removes a node and every edge at it.
    pub(crate) fn remove_node(&mut self, id: NodeId) {
        self.remove_node_keeping(id, |_, _| false);
    }

    /// Removes a deleted queue: its bindings and consumers go, but edges from publishers stay,
    /// because they publish by the queue's name through the default exchange.
    pub(crate) fn remove_node_keeping_publishers(&mut self, id: NodeId) {
        self.remove_node_keeping(id, |t, e| {
            t.edge(e).kind == EdgeKind::Amqp(crate::amqp::EdgeKind::PublishDefault)
        });
    }

    /// Marks a node removed, with every edge at it except those `keep` picks.
    fn remove_node_keeping(&mut self, id: NodeId, keep: impl Fn(&Topology, EdgeId) -> bool) {
        let n = &self.nodes[id.index()];
        let edges: Vec<EdgeId> = n
            .out
            .iter()
            .chain(&n.inc)
            .copied()
            .filter(|&e| !keep(self, e))
            .collect();
        for e in edges {
            self.remove_edge(e);
        }
        let n = &mut self.nodes[id.index()];
        n.removed = true;
        if self.by_name.get(&n.name) == Some(&id) {
            self.by_name.remove(&n.name);
        }
    }

    /// The node with this id.
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.index()]
    }

    /// The edge with this id.
    pub fn edge(&self, id: EdgeId) -> &Edge {
        &self.edges[id.index()]
    }

    /// The id of the live node with this name.
    pub fn node_id(&self, name: &str) -> Option<NodeId> {
        self.by_name.get(name).copied()
    }

    /// The first live edge from `from` to `to` (with this binding key, if given).
    pub fn edge_between(&self, from: NodeId, to: NodeId, key: Option<&str>) -> Option<EdgeId> {
        self.node(from).out.iter().copied().find(|&e| {
            let e = self.edge(e);
            e.to == to && key.is_none_or(|k| e.routing_key == k)
        })
    }

    /// The live topology as a scenario document (for validating live edits), with the
    /// scenario's other fields taken from `base`.
    pub fn to_scenario(&self, base: &Scenario) -> Scenario {
        Scenario {
            version: base.version,
            view: base.view,
            name: base.name.clone(),
            description: base.description.clone(),
            seed: base.seed,
            nodes: self
                .nodes
                .iter()
                .filter(|n| !n.removed)
                .map(|n| NodeSpec {
                    id: n.name.clone(),
                    kind: n.kind.clone(),
                    position: n.position,
                })
                .collect(),
            edges: self
                .edges
                .iter()
                .filter(|e| !e.removed && !self.node(e.from).removed && !self.node(e.to).removed)
                .map(|e| EdgeSpec {
                    from: self.node(e.from).name.clone(),
                    to: self.node(e.to).name.clone(),
                    latency: e.kind.has_latency().then(|| e.latency.clone()),
                    routing_key: e.routing_key.clone(),
                    arguments: e.arguments.clone(),
                    resilience: e.resilience.as_deref().cloned(),
                })
                .collect(),
            actions: Vec::new(),
            policies: base.policies.clone(),
            operator_policies: base.operator_policies.clone(),
            tour: None,
        }
    }
}
