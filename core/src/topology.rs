//! The runtime topology: nodes and edges resolved to dense ids, shared by snapshots.

use crate::dist::DurationDist;
use crate::id::{EdgeId, NodeId};
use crate::scenario::{NodeKind, Scenario};

/// A node as the simulator sees it.
#[derive(Clone, Debug)]
pub struct Node {
    /// The scenario id (a name).
    pub name: String,
    /// The kind and its configuration.
    pub kind: NodeKind,
    /// Outgoing edges, in scenario order; forwarding takes them in turn.
    pub out: Vec<EdgeId>,
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
}

/// Nodes and edges of a validated scenario.
#[derive(Clone, Debug)]
pub struct Topology {
    /// By [`NodeId`].
    pub nodes: Vec<Node>,
    /// By [`EdgeId`].
    pub edges: Vec<Edge>,
}

impl Topology {
    /// Resolves a scenario's names to ids. The scenario must be valid (every edge end exists).
    pub(crate) fn from_scenario(s: &Scenario) -> Topology {
        let mut nodes: Vec<Node> = s
            .nodes
            .iter()
            .map(|n| Node {
                name: n.id.clone(),
                kind: n.kind.clone(),
                out: Vec::new(),
            })
            .collect();
        let edges: Vec<Edge> = s
            .edges
            .iter()
            .zip(s.edge_ends())
            .map(|(e, ends)| {
                let (from, to) = ends.expect("validated scenario");
                Edge {
                    from: NodeId(from as u32),
                    to: NodeId(to as u32),
                    latency: e.latency.clone(),
                }
            })
            .collect();
        for (i, e) in edges.iter().enumerate() {
            nodes[e.from.index()].out.push(EdgeId(i as u32));
        }
        Topology { nodes, edges }
    }

    /// The node with this id.
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.index()]
    }

    /// The edge with this id.
    pub fn edge(&self, id: EdgeId) -> &Edge {
        &self.edges[id.index()]
    }

    /// The id of the node with this name.
    pub fn node_id(&self, name: &str) -> Option<NodeId> {
        self.nodes
            .iter()
            .position(|n| n.name == name)
            .map(|i| NodeId(i as u32))
    }
}
