//! The topology drawn as SVG: nodes as boxes, edges as arrows. Moving messages are not drawn
//! here but on the canvas layer above, so thousands of dots never touch the virtual DOM.

use crate::view::{bounds_of, edge_segment, layout, Bounds, Point, NODE_HALF_H, NODE_HALF_W};
use switchboard_core::scenario::Scenario;
use yew::prelude::*;

/// Where everything is drawn, computed once per scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Geometry {
    /// Node centres, by node index.
    pub nodes: Vec<Point>,
    /// Edge segments (border to border), by edge index.
    pub edges: Vec<(Point, Point)>,
    /// The area to show.
    pub bounds: Bounds,
}

impl Geometry {
    /// Lays out a scenario.
    pub fn of(s: &Scenario) -> Geometry {
        let nodes = layout(s);
        let edges = s
            .edge_ends()
            .into_iter()
            .map(|ends| {
                let (a, b) = ends.expect("validated");
                edge_segment(nodes[a], nodes[b])
            })
            .collect();
        let bounds = bounds_of(&nodes, 40.0);
        Geometry {
            nodes,
            edges,
            bounds,
        }
    }
}

/// What a node shows besides its name.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeBadge {
    /// The counter line under the name.
    pub detail: String,
    /// False while crashed.
    pub up: bool,
}

/// Props of [`TopologyView`].
#[derive(Properties, PartialEq)]
pub struct TopologyViewProps {
    /// The scenario.
    pub scenario: std::rc::Rc<Scenario>,
    /// Its geometry.
    pub geometry: std::rc::Rc<Geometry>,
    /// One badge per node.
    pub badges: Vec<NodeBadge>,
}

/// The SVG layer.
#[function_component(TopologyView)]
pub fn topology_view(p: &TopologyViewProps) -> Html {
    let g = &p.geometry;
    html! {
        <svg class="topology" viewBox={g.bounds.view_box()} preserveAspectRatio="xMidYMid meet"
            role="img" aria-label={format!("Topology: {}", p.scenario.name)}>
            <defs>
                <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
                    <path d="M 0 0 L 10 5 L 0 10 z" class="arrowhead" />
                </marker>
            </defs>
            { for g.edges.iter().map(|(a, b)| html! {
                <line class="edge" x1={a.x.to_string()} y1={a.y.to_string()} x2={b.x.to_string()} y2={b.y.to_string()} marker-end="url(#arrow)" />
            }) }
            { for p.scenario.nodes.iter().enumerate().map(|(i, n)| {
                let c = g.nodes[i];
                let badge = p.badges.get(i);
                let up = badge.is_none_or(|b| b.up);
                html! {
                    <g class={classes!("node", n.kind.name(), (!up).then_some("down"))} data-node={n.id.clone()}>
                        <rect x={(c.x - NODE_HALF_W).to_string()} y={(c.y - NODE_HALF_H).to_string()}
                              width={(2.0 * NODE_HALF_W).to_string()} height={(2.0 * NODE_HALF_H).to_string()} rx="10" />
                        <text class="name" x={c.x.to_string()} y={(c.y - 6.0).to_string()}>{ &n.id }</text>
                        <text class="detail" x={c.x.to_string()} y={(c.y + 14.0).to_string()}>
                            { badge.map(|b| b.detail.clone()).unwrap_or_default() }
                        </text>
                    </g>
                }
            }) }
        </svg>
    }
}
