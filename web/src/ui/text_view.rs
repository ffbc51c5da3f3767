//! The "As text" drawer: the topology and the run as tables and lists, the canvas's text
//! alternative. Every node and connection is a button that selects it and takes the focus to
//! it on the canvas; every message in flight opens in the message drawer. Useful with a screen
//! reader, and to anyone who wants the numbers.

use super::stage::{open_message, select};
use super::{Ctx, Focus, Selection, UiAction};
use crate::describe;
use switchboard_core::NodeId;
use yew::prelude::*;

/// Messages in flight listed at most.
pub const FLIGHTS_LISTED: usize = 20;

fn select_and_focus(ctx: &Ctx, s: Selection) {
    ctx.dispatch(UiAction::FocusOn(Focus::of(&s)));
    select(ctx, s);
}

/// The drawer's content.
pub fn render(ctx: &Ctx) -> Html {
    let s = ctx.session.borrow();
    let t = s.timeline();
    let sim = t.sim();
    let topo = sim.topology();
    let metrics = sim.metrics();
    let now = sim.now();
    let rows = topo.nodes.iter().enumerate().filter(|(_, n)| !n.removed).map(|(i, n)| {
        let id = NodeId(i as u32);
        let m = &metrics.nodes[i];
        let face = crate::models::face(&n.kind, m, (0.0, 0.0), now, false);
        let (kind, state) = describe::kind_and_state(&face.subtitle, &face.status, m.up);
        // The process it runs in: a service and its other inputs are one.
        let kind = match s.scene().group_of(id) {
            Some(g) if g.service == id => format!(
                "{kind}, with {} in its process",
                g.inputs
                    .iter()
                    .map(|&m| topo.node(m).name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Some(g) => format!("{kind}, in service {}'s process", topo.node(g.service).name),
            None => kind.to_owned(),
        };
        let name = n.name.clone();
        let on_node = {
            let (ctx, name) = (ctx.clone(), name.clone());
            Callback::from(move |_: MouseEvent| select_and_focus(&ctx, Selection::Node(name.clone())))
        };
        let links = describe::links(topo, id).into_iter().map(|l| {
            let (e, text) = (l.edge, l.text());
            let ctx = ctx.clone();
            let onclick = Callback::from(move |_: MouseEvent| select_and_focus(&ctx, Selection::Edge(e)));
            html! { <li><button class="linkish" data-text-edge={e.0.to_string()} {onclick}
                aria-label={format!("{text}: select the {}", describe::edge_name(topo, e))}>{ text }</button></li> }
        });
        html! {
            <tr data-text-node={name.clone()}>
                <th scope="row"><button class="linkish" onclick={on_node} aria-label={format!("{name}: select it on the canvas")}>{ name.clone() }</button></th>
                <td>{ kind }</td>
                <td>{ if state.is_empty() { "—".to_owned() } else { state } }</td>
                <td><ul class="links">{ for links }</ul></td>
            </tr>
        }
    });
    let c = &t.derived().counters;
    let flights = t.flights();
    let listed = flights.iter().take(FLIGHTS_LISTED).map(|f| {
        let e = topo.edge(f.edge);
        let m = f.message;
        let ctx = ctx.clone();
        let onclick = Callback::from(move |_: MouseEvent| open_message(&ctx, m));
        html! {
            <li><button class="linkish" data-inspect={m.0.to_string()} {onclick}>
                { format!("message {}: {} → {}, arrives at {}", m.0, topo.node(e.from).name, topo.node(e.to).name, f.arrive) }
            </button></li>
        }
    });
    let delivered: u64 = c.delivered.values().sum();
    let acked: u64 = c.acked.values().sum();
    let live = topo.nodes.iter().filter(|n| !n.removed).count();
    html! {
        <div class="text-view" id="text-view">
            <div class="text-cols">
                <section aria-labelledby="text-run">
                    <h3 id="text-run">{ "The run" }</h3>
                    <dl class="props" id="text-counters">
                        <dt>{ "time" }</dt><dd>{ now.to_string() }</dd>
                        <dt>{ "events" }</dt><dd>{ sim.steps() }</dd>
                        <dt>{ "published" }</dt><dd>{ c.published }</dd>
                        <dt>{ "delivered" }</dt><dd>{ delivered }</dd>
                        <dt>{ "acked" }</dt><dd>{ acked }</dd>
                        <dt>{ "redelivered" }</dt><dd>{ c.redelivered }</dd>
                        <dt>{ "dead-lettered" }</dt><dd>{ c.dead_lettered }</dd>
                        <dt>{ "dropped or expired" }</dt><dd>{ c.dropped }</dd>
                        <dt>{ "in flight" }</dt><dd>{ flights.len() }</dd>
                    </dl>
                    if !flights.is_empty() {
                        <h4>{ if flights.len() > FLIGHTS_LISTED { format!("The first {FLIGHTS_LISTED} messages in flight") } else { "Messages in flight".to_owned() } }</h4>
                        <ul class="flights-list">{ for listed }</ul>
                    }
                </section>
                <section aria-labelledby="text-topology">
                    <h3 id="text-topology">{ format!("The topology: {live} node{}", if live == 1 { "" } else { "s" }) }</h3>
                    if live == 0 {
                        <p class="muted">{ "Nothing yet: add nodes from the palette." }</p>
                    } else {
                        <table class="text-table" id="text-nodes">
                            <thead><tr><th scope="col">{ "node" }</th><th scope="col">{ "kind" }</th><th scope="col">{ "state" }</th><th scope="col">{ "connections" }</th></tr></thead>
                            <tbody>{ for rows }</tbody>
                        </table>
                    }
                </section>
            </div>
        </div>
    }
}
