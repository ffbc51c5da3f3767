//! The scene: where every node and edge of the live topology is drawn, by node and edge id.
//! The SVG layer and the canvas layer both read it, so dots stay on their edges.

use crate::editor::Session;
use crate::view::{bounds_of, edge_segment, layout, Bounds, Point};
use switchboard_core::topology::Topology;
use switchboard_core::{EdgeId, NodeId};

/// Positions of the live topology.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scene {
    /// Node centres by node id; `None` for removed nodes.
    pub nodes: Vec<Option<Point>>,
    /// Edge segments (border to border) by edge id; `None` for removed edges.
    pub edges: Vec<Option<(Point, Point)>>,
    /// The box around the live nodes.
    pub bounds: Bounds,
}

impl Scene {
    /// Lays out the session's live topology: placed nodes where they were put, the others by
    /// the automatic layout.
    pub fn of(session: &Session) -> Scene {
        let topo = session.timeline().sim().topology();
        let doc = session.doc();
        let auto = layout(&doc);
        let place = |name: &str| -> Option<Point> {
            let i = doc.node_index(name)?;
            Some(match session.position(name).or(doc.nodes[i].position) {
                Some(p) => Point { x: p.x, y: p.y },
                None => auto[i],
            })
        };
        Scene::build(topo, place)
    }

    /// Lays out `topo` with `place` giving each live node's centre.
    pub fn build(topo: &Topology, place: impl Fn(&str) -> Option<Point>) -> Scene {
        let nodes: Vec<Option<Point>> = topo
            .nodes
            .iter()
            .map(|n| if n.removed { None } else { place(&n.name) })
            .collect();
        let edges = topo
            .edges
            .iter()
            .map(|e| {
                if e.removed {
                    return None;
                }
                let a = nodes[e.from.index()]?;
                let b = nodes[e.to.index()]?;
                Some(edge_segment(a, b))
            })
            .collect();
        let live: Vec<Point> = nodes.iter().flatten().copied().collect();
        let bounds = bounds_of(&live, 60.0);
        Scene {
            nodes,
            edges,
            bounds,
        }
    }

    /// A node's centre, if it is live.
    pub fn node(&self, id: NodeId) -> Option<Point> {
        self.nodes.get(id.index()).copied().flatten()
    }

    /// An edge's segment, if it is live.
    pub fn edge(&self, id: EdgeId) -> Option<(Point, Point)> {
        self.edges.get(id.index()).copied().flatten()
    }

    /// The live node whose box contains the world point `p`.
    pub fn node_at(&self, p: Point) -> Option<NodeId> {
        use crate::view::{NODE_HALF_H, NODE_HALF_W};
        self.nodes.iter().enumerate().rev().find_map(|(i, c)| {
            let c = (*c)?;
            ((p.x - c.x).abs() <= NODE_HALF_W && (p.y - c.y).abs() <= NODE_HALF_H)
                .then_some(NodeId(i as u32))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::editor::Session;
    use switchboard_core::scenario::{EdgeSpec, Position};
    use switchboard_core::Scenario;

    #[test]
    fn removed_nodes_and_their_edges_have_no_place() {
        let mut s =
            Session::new(&Scenario::from_json(r#"{"version":1,"nodes":[],"edges":[]}"#).unwrap())
                .unwrap();
        s.add_node("queue", None, Position { x: 0.0, y: 0.0 })
            .unwrap();
        s.add_node("consumer", None, Position { x: 300.0, y: 0.0 })
            .unwrap();
        s.connect(EdgeSpec::new("queue", "consumer")).unwrap();
        let scene = Scene::of(&s);
        assert_eq!(scene.node(NodeId(1)), Some(Point { x: 300.0, y: 0.0 }));
        assert!(scene.edge(EdgeId(0)).is_some());
        assert_eq!(scene.node_at(Point { x: 310.0, y: 5.0 }), Some(NodeId(1)));
        assert_eq!(scene.node_at(Point { x: 150.0, y: 0.0 }), None);
        // Once running, a deletion is a live removal: ids stay, places go.
        s.timeline_mut().play();
        s.timeline_mut().tick(16.0).unwrap();
        s.delete_node("consumer").unwrap();
        let scene = Scene::of(&s);
        assert_eq!(scene.node(NodeId(1)), None);
        assert_eq!(scene.edge(EdgeId(0)), None);
    }
}
