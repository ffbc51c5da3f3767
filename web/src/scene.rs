//! The scene: where every node and edge of the live topology is drawn, by node and edge id.
//! The SVG layer and the canvas layer both read it, so dots stay on their edges.

use crate::editor::Session;
use crate::view::{bounds_of_boxes, edge_segment_sized, layout, Bounds, Point};
use switchboard_core::topology::Topology;
use switchboard_core::{EdgeId, NodeId};

/// Positions of the live topology.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scene {
    /// Node centres by node id; `None` for removed nodes.
    pub nodes: Vec<Option<Point>>,
    /// Node half widths and half heights by node id (most nodes have the standard size; a
    /// topic grows with its partitions).
    pub sizes: Vec<(f64, f64)>,
    /// Edge segments (border to border) by edge id; `None` for removed edges.
    pub edges: Vec<Option<(Point, Point)>>,
    /// The box around the live nodes.
    pub bounds: Bounds,
    /// Each live service with other inputs (consumers, workers, Kafka consumers in its
    /// process), drawn as one frame around them.
    pub groups: Vec<Group>,
}

/// A service and the inputs that run in its process, and the frame drawn around them.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// The service.
    pub service: NodeId,
    /// Its live inputs, in its order.
    pub inputs: Vec<NodeId>,
    /// The frame: around the boxes of the service and its inputs, with room for its title.
    pub frame: Bounds,
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
        let sizes: Vec<(f64, f64)> = topo
            .nodes
            .iter()
            .map(|n| crate::models::half_size(&n.kind))
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
                Some(edge_segment_sized(
                    a,
                    sizes[e.from.index()],
                    b,
                    sizes[e.to.index()],
                ))
            })
            .collect();
        let live: Vec<(Point, (f64, f64))> = nodes
            .iter()
            .zip(&sizes)
            .filter_map(|(p, s)| p.map(|p| (p, *s)))
            .collect();
        let bounds = bounds_of_boxes(&live, 60.0);
        let groups = topo
            .nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                let service = NodeId(i as u32);
                let centre = nodes[i].filter(|_| !n.removed)?;
                let inputs = switchboard_core::http::inputs_of(topo, service);
                let boxes: Vec<(Point, (f64, f64))> = std::iter::once((centre, sizes[i]))
                    .chain(
                        inputs
                            .iter()
                            .filter_map(|m| Some((nodes[m.index()]?, sizes[m.index()]))),
                    )
                    .collect();
                (!inputs.is_empty()).then(|| Group {
                    service,
                    inputs,
                    frame: bounds_of_boxes(&boxes, 18.0),
                })
            })
            .collect();
        Scene {
            nodes,
            sizes,
            edges,
            bounds,
            groups,
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

    /// A node's half width and half height.
    pub fn half(&self, id: NodeId) -> (f64, f64) {
        self.sizes
            .get(id.index())
            .copied()
            .unwrap_or((crate::view::NODE_HALF_W, crate::view::NODE_HALF_H))
    }

    /// The group `node` is part of (as its service or one of its inputs), if any.
    pub fn group_of(&self, node: NodeId) -> Option<&Group> {
        self.groups
            .iter()
            .find(|g| g.service == node || g.inputs.contains(&node))
    }

    /// The live node whose box contains the world point `p`.
    pub fn node_at(&self, p: Point) -> Option<NodeId> {
        self.nodes.iter().enumerate().rev().find_map(|(i, c)| {
            let c = (*c)?;
            let (hw, hh) = self.half(NodeId(i as u32));
            ((p.x - c.x).abs() <= hw && (p.y - c.y).abs() <= hh).then_some(NodeId(i as u32))
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
    fn a_topic_is_a_larger_box_that_grows_with_its_partitions() {
        let doc = r#"{"version":5,"nodes":[
            {"id":"t","kind":"topic","config":{"partitions":6},"position":{"x":0,"y":0}},
            {"id":"c","kind":"kafka_consumer","position":{"x":400,"y":0}}],
            "edges":[{"from":"t","to":"c"}]}"#;
        let s = Session::new(&Scenario::from_json(doc).unwrap()).unwrap();
        let scene = Scene::of(&s);
        let (hw, hh) = scene.half(NodeId(0));
        assert!(hw > crate::view::NODE_HALF_W && hh > crate::view::NODE_HALF_H);
        assert_eq!(
            scene.half(NodeId(1)),
            (crate::view::NODE_HALF_W, crate::view::NODE_HALF_H)
        );
        // Inside the topic's box but outside a standard one: still the topic.
        assert_eq!(
            scene.node_at(Point {
                x: hw - 2.0,
                y: hh - 2.0
            }),
            Some(NodeId(0))
        );
        // Its edge starts at its own border.
        let (a, b) = scene.edge(EdgeId(0)).unwrap();
        assert!((a.x - hw).abs() < 1e-9, "{} vs {hw}", a.x);
        assert_eq!(b.x, 400.0 - crate::view::NODE_HALF_W);
    }

    #[test]
    fn a_service_and_its_inputs_are_one_group_framed_around_their_boxes() {
        let doc = r#"{"version":11,"nodes":[
            {"id":"orders","kind":"service","config":{"inputs":["payer"]},"position":{"x":0,"y":0}},
            {"id":"payer","kind":"consumer","position":{"x":0,"y":200}},
            {"id":"lonely","kind":"consumer","position":{"x":500,"y":500}}],
            "edges":[]}"#;
        let s = Session::new(&Scenario::from_json(doc).unwrap()).unwrap();
        let scene = Scene::of(&s);
        assert_eq!(scene.groups.len(), 1);
        let g = &scene.groups[0];
        assert_eq!((g.service, g.inputs.clone()), (NodeId(0), vec![NodeId(1)]));
        // The frame holds both boxes and not the node outside the service.
        let (hw, hh) = scene.half(NodeId(1));
        assert!(g.frame.min_x < -hw && g.frame.max_x > hw);
        assert!(g.frame.min_y < -hh && g.frame.max_y > 200.0 + hh);
        assert!(g.frame.max_x < 500.0 - hw);
        assert_eq!(scene.group_of(NodeId(1)), Some(g));
        assert_eq!(scene.group_of(NodeId(2)), None);
    }

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
