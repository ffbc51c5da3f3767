//! The stage: the topology as SVG under a canvas of moving messages, and every pointer gesture
//! on it: select, move, pan, zoom, connect, click a message.

use super::{BindDraft, Ctx, Drag, Selection, UiAction};
use crate::editor::EditError;
use crate::models::Shape;
use crate::scene::Scene;
use crate::view::{self, snap, Point, Viewport, NODE_HALF_H};
use switchboard_core::scenario::{EdgeSpec, Position};
use switchboard_core::{EdgeId, NodeId, NodeMetrics};
use wasm_bindgen::JsCast;
use web_sys::Element;
use yew::prelude::*;

/// Pointer travel (px) before a press becomes a drag.
const DRAG_THRESHOLD: f64 = 4.0;
/// Hit radius for clicking a message, in screen pixels.
pub const MESSAGE_HIT_PX: f64 = 9.0;

fn client(e: &MouseEvent) -> Point {
    Point {
        x: e.client_x() as f64,
        y: e.client_y() as f64,
    }
}

/// The stage-relative screen point of a client point.
fn local(ctx: &Ctx, c: Point) -> Point {
    let ui = ctx.ui.borrow();
    Point {
        x: c.x - ui.stage.2,
        y: c.y - ui.stage.3,
    }
}

fn viewport(ctx: &Ctx) -> Viewport {
    ctx.ui.borrow().viewport.unwrap_or(Viewport::IDENTITY)
}

fn world(ctx: &Ctx, c: Point) -> Point {
    viewport(ctx).to_world(local(ctx, c))
}

fn closest_attr(e: &MouseEvent, attr: &str) -> Option<String> {
    let el: Element = e.target()?.dyn_into().ok()?;
    el.closest(&format!("[{attr}]")).ok()??.get_attribute(attr)
}

/// The message drawn nearest to a client point, if one is close enough.
fn message_at(ctx: &Ctx, c: Point) -> Option<switchboard_core::MessageId> {
    let session = ctx.session.borrow();
    let scene = session.scene();
    let vp = viewport(ctx);
    let at = local(ctx, c);
    let t = session.timeline();
    let now = t.sim().now();
    // Where the canvas draws them (see `canvas::draw`).
    let place = if ctx.ui.borrow().reduced_motion {
        view::position_stepped
    } else {
        view::position_at
    };
    let flights: Vec<(switchboard_core::MessageId, Point)> = t
        .flights()
        .iter()
        .filter_map(|f| {
            let (a, b) = scene.edge(f.edge)?;
            Some((
                f.message,
                vp.to_screen(place(a, b, f.depart, f.arrive, now)?),
            ))
        })
        .collect();
    if let Some(i) = view::nearest_within(flights.iter().map(|f| f.1), at, MESSAGE_HIT_PX) {
        return Some(flights[i].0);
    }
    let ui = ctx.ui.borrow();
    let w = vp.to_world(at);
    ui.effects
        .hit(w, MESSAGE_HIT_PX / vp.scale, super::now_ms())
        .and_then(|e| e.message())
}

/// Opens a message in the message inspector and pauses the run.
pub fn open_message(ctx: &Ctx, m: switchboard_core::MessageId) {
    ctx.session.borrow_mut().timeline_mut().pause();
    ctx.dispatch(UiAction::OpenMessage(m));
    ctx.refresh.emit(());
}

fn on_pointer_down(ctx: &Ctx, e: PointerEvent) {
    if e.button() != 0 {
        return;
    }
    let c = client(&e);
    let w = world(ctx, c);
    // Yew delegates events to the root, so the stage is found from the target.
    if let Some(el) = e
        .target()
        .and_then(|t| t.dyn_into::<Element>().ok())
        .and_then(|t| t.closest(".stage").ok().flatten())
    {
        let _ = el.set_pointer_capture(e.pointer_id());
    }
    // A message is on top of everything: a click on a dot opens it, even over an edge.
    if closest_attr(&e, "data-port").is_none() {
        if let Some(m) = message_at(ctx, c) {
            open_message(ctx, m);
            return;
        }
    }
    if ctx.read_only() {
        // A player: the view pans, messages open; nothing is edited.
        ctx.dispatch(UiAction::Drag(Drag::Pan {
            last: c,
            moved: false,
        }));
        return;
    }
    let drag = if let Some(from) = closest_attr(&e, "data-port") {
        Drag::Connect {
            from,
            at: w,
            over: None,
        }
    } else if let Some(name) = closest_attr(&e, "data-node") {
        let session = ctx.session.borrow();
        let scene = session.scene();
        let centre = session
            .timeline()
            .sim()
            .topology()
            .node_id(&name)
            .and_then(|n| scene.node(n))
            .unwrap_or(w);
        Drag::Move {
            name,
            grab: Point {
                x: w.x - centre.x,
                y: w.y - centre.y,
            },
            at: centre,
            moved: false,
        }
    } else if let Some(edge) = closest_attr(&e, "data-edge") {
        if let Ok(id) = edge.parse::<u32>() {
            select(ctx, Selection::Edge(EdgeId(id)));
        }
        return;
    } else {
        Drag::Pan {
            last: c,
            moved: false,
        }
    };
    ctx.dispatch(UiAction::Drag(drag));
}

fn on_pointer_move(ctx: &Ctx, e: PointerEvent) {
    let c = client(&e);
    let drag = ctx.ui.borrow().drag.clone();
    match drag {
        Drag::Idle | Drag::Palette { .. } => {
            // Hover: a dropped or expired message shows why.
            let w = world(ctx, c);
            let vp = viewport(ctx);
            let label = {
                let ui = ctx.ui.borrow();
                ui.effects
                    .hit(w, MESSAGE_HIT_PX / vp.scale, super::now_ms())
                    .and_then(|fx| fx.label())
            };
            if ctx.dispatch(UiAction::Tip(label.map(|l| (w, l)))) {
                ctx.refresh.emit(());
            }
        }
        Drag::Move {
            name, grab, moved, ..
        } => {
            let w = world(ctx, c);
            let at = snap(Point {
                x: w.x - grab.x,
                y: w.y - grab.y,
            });
            let moved = moved || {
                let vp = viewport(ctx);
                let start = ctx.ui.borrow().drag.clone();
                match start {
                    Drag::Move { at: a, .. } => {
                        ((at.x - a.x).abs() + (at.y - a.y).abs()) * vp.scale > DRAG_THRESHOLD
                    }
                    _ => false,
                }
            };
            if moved {
                ctx.dispatch(UiAction::Drag(Drag::Move {
                    name,
                    grab,
                    at,
                    moved,
                }));
                ctx.refresh.emit(());
            }
        }
        Drag::Pan { last, moved } => {
            let (dx, dy) = (c.x - last.x, c.y - last.y);
            let moved = moved || dx.abs() + dy.abs() > DRAG_THRESHOLD;
            if moved {
                ctx.dispatch(UiAction::Pan { dx, dy });
                ctx.dispatch(UiAction::Drag(Drag::Pan { last: c, moved }));
                ctx.refresh.emit(());
            }
        }
        Drag::Connect { from, over, .. } => {
            let w = world(ctx, c);
            let target = {
                let session = ctx.session.borrow();
                let scene = session.scene();
                scene
                    .node_at(w)
                    .map(|n| session.timeline().sim().topology().node(n).name.clone())
                    .filter(|n| *n != from)
            };
            let over = match (target, over) {
                (Some(t), Some((o, why))) if t == o => Some((o, why)),
                (Some(t), _) => {
                    let why = ctx.session.borrow().connection_refusal(&from, &t);
                    Some((t, why))
                }
                (None, _) => None,
            };
            let tip = over.as_ref().map(|(to, why)| match why {
                Some(why) => format!("Can't connect: {why}"),
                None => {
                    let s = ctx.session.borrow();
                    format!(
                        "{from} {} {to}",
                        s.connection_meaning(&from, to).unwrap_or("connects to")
                    )
                }
            });
            ctx.dispatch(UiAction::Tip(tip.map(|t| (w, t))));
            ctx.dispatch(UiAction::Drag(Drag::Connect { from, at: w, over }));
            ctx.refresh.emit(());
        }
    }
}

fn on_pointer_up(ctx: &Ctx, _: PointerEvent) {
    let drag = ctx.ui.borrow().drag.clone();
    ctx.dispatch(UiAction::Drag(Drag::Idle));
    match drag {
        Drag::Idle | Drag::Palette { .. } => {}
        Drag::Move {
            name, at, moved, ..
        } => {
            if moved {
                let r = ctx
                    .session
                    .borrow_mut()
                    .move_node(&name, Position { x: at.x, y: at.y });
                report(ctx, r);
            }
            select(ctx, Selection::Node(name));
        }
        Drag::Pan { moved, .. } => {
            if !moved {
                select(ctx, Selection::None);
            }
        }
        Drag::Connect { from, over, .. } => {
            ctx.dispatch(UiAction::Tip(None));
            match over {
                Some((to, None)) => begin_connect(ctx, &from, &to),
                Some((_, Some(why))) => ctx.notify(format!("Can't connect: {why}"), true),
                None => {}
            }
        }
    }
    ctx.refresh.emit(());
}

/// Connects `from` to `to`: a binding from a direct, topic or headers exchange first asks for
/// its routing key or headers.
pub fn begin_connect(ctx: &Ctx, from: &str, to: &str) {
    let ty = ctx.session.borrow().binding_type(from);
    match ty {
        Some(t @ ("direct" | "topic" | "headers")) => {
            let key = if t == "headers" {
                String::new()
            } else {
                ctx.session.borrow().suggested_key(from, to)
            };
            ctx.dispatch(UiAction::AskBinding(BindDraft {
                from: from.to_owned(),
                to: to.to_owned(),
                exchange_type: t,
                key,
                args: if t == "headers" {
                    "x-match=all, type=report".into()
                } else {
                    String::new()
                },
                error: None,
            }));
        }
        _ => {
            let r = ctx.session.borrow_mut().connect(EdgeSpec::new(from, to));
            if r.is_ok() {
                announce_connected(ctx, from, to);
            }
            report(ctx, r);
        }
    }
    ctx.refresh.emit(());
}

fn announce_connected(ctx: &Ctx, from: &str, to: &str) {
    let meaning = ctx
        .session
        .borrow()
        .connection_meaning(from, to)
        .unwrap_or("connects to");
    ctx.announce(format!("Connected: {from} {meaning} {to}"));
}

/// Parses `x-match=all, type=report` into binding arguments.
pub fn parse_args(text: &str) -> Result<switchboard_core::Headers, String> {
    let mut h = switchboard_core::Headers::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("{part:?} is not name=value"))?;
        let v = v.trim();
        let value: switchboard_core::HeaderValue = match v.parse::<i64>() {
            Ok(n) => serde_json::from_value(serde_json::json!(n)),
            Err(_) if v == "true" || v == "false" => {
                serde_json::from_value(serde_json::json!(v == "true"))
            }
            Err(_) => serde_json::from_value(serde_json::json!(v)),
        }
        .map_err(|e| e.to_string())?;
        h.insert(k.trim().to_owned(), value);
    }
    Ok(h)
}

fn submit_bind(ctx: &Ctx) {
    let Some(draft) = ctx.ui.borrow().bind.clone() else {
        return;
    };
    let mut spec = EdgeSpec::new(&draft.from, &draft.to);
    spec.routing_key = draft.key.clone();
    if draft.exchange_type == "headers" {
        match parse_args(&draft.args) {
            Ok(a) => spec.arguments = a,
            Err(why) => {
                ctx.announce(format!("Not bound: {why}"));
                ctx.dispatch(UiAction::BindingRefused(why));
                ctx.refresh.emit(());
                return;
            }
        }
    }
    let r = ctx.session.borrow_mut().connect(spec);
    match r {
        Ok(()) => {
            ctx.dispatch(UiAction::CloseBinding);
            let key = if draft.exchange_type == "headers" {
                format!("arguments {}", draft.args)
            } else {
                format!("routing key {:?}", draft.key)
            };
            ctx.announce(format!("Bound {} to {}, {key}", draft.from, draft.to));
        }
        Err(e) => {
            ctx.announce(format!("Not bound: {e}"));
            ctx.dispatch(UiAction::BindingRefused(e.to_string()));
        }
    }
    ctx.refresh.emit(());
}

/// Shows a refused edit.
pub fn report(ctx: &Ctx, r: Result<(), EditError>) {
    if let Err(e) = r {
        ctx.notify(e.to_string(), true);
    }
}

/// Selects a node or an edge.
pub fn select(ctx: &Ctx, s: Selection) {
    ctx.dispatch(UiAction::Select(s));
    ctx.refresh.emit(());
}

/// Deletes the selected node or edge (Delete key, inspector button).
pub fn delete_selection(ctx: &Ctx) {
    let sel = ctx.ui.borrow().selection.clone();
    let (r, what) = match &sel {
        Selection::None => return,
        Selection::Node(name) => (
            ctx.session.borrow_mut().delete_node(name),
            format!("Deleted {name}"),
        ),
        Selection::Edge(e) => {
            let what = {
                let s = ctx.session.borrow();
                format!(
                    "Deleted the {}",
                    crate::describe::edge_name(s.timeline().sim().topology(), *e)
                )
            };
            (ctx.session.borrow_mut().delete_edge(*e), what)
        }
    };
    if r.is_ok() {
        ctx.dispatch(UiAction::Select(Selection::None));
        ctx.dispatch(UiAction::FocusOn(super::Focus::Stage));
        ctx.announce(format!("{what}. Ctrl+Z undoes it"));
    }
    report(ctx, r);
    ctx.refresh.emit(());
}

/// Moves the selected node by one grid step (five with Shift). Returns false if no node is
/// selected.
pub fn nudge_selection(ctx: &Ctx, key: &str, big: bool) -> bool {
    let Selection::Node(name) = ctx.ui.borrow().selection.clone() else {
        return false;
    };
    let at = {
        let s = ctx.session.borrow();
        let scene = s.scene();
        s.timeline()
            .sim()
            .topology()
            .node_id(&name)
            .and_then(|n| scene.node(n))
    };
    let Some(at) = at else { return false };
    let d = view::GRID * if big { 5.0 } else { 1.0 };
    let (dx, dy) = match key {
        "ArrowLeft" => (-d, 0.0),
        "ArrowRight" => (d, 0.0),
        "ArrowUp" => (0.0, -d),
        _ => (0.0, d),
    };
    let r = ctx.session.borrow_mut().move_node(
        &name,
        Position {
            x: at.x + dx,
            y: at.y + dy,
        },
    );
    report(ctx, r);
    ctx.refresh.emit(());
    true
}

fn on_wheel(ctx: &Ctx, e: WheelEvent) {
    let c = client(&e);
    let at = local(ctx, c);
    let factor = libm_exp(-e.delta_y() * 0.0015);
    ctx.dispatch(UiAction::Zoom { factor, at });
    ctx.refresh.emit(());
}

fn libm_exp(x: f64) -> f64 {
    // Display maths only (never simulation state), so the platform's exp is fine.
    x.exp()
}

/// The stage: SVG topology, canvas of messages, and the overlays (tip, bind dialog, hint).
pub fn render(ctx: &Ctx, stage_ref: &NodeRef, canvas_ref: &NodeRef) -> Html {
    let session = ctx.session.borrow();
    let ui = ctx.ui.borrow();
    let mut scene = (*session.scene()).clone();
    let topo = session.timeline().sim().topology();
    // A node being dragged is drawn where the pointer has it.
    if let Drag::Move {
        name,
        at,
        moved: true,
        ..
    } = &ui.drag
    {
        if let Some(n) = topo.node_id(name) {
            scene.nodes[n.index()] = Some(*at);
            scene = Scene::build(topo, |nm| {
                let id = topo.node_id(nm)?;
                scene.nodes[id.index()]
            });
        }
    }
    let vp = ui.viewport.unwrap_or(Viewport::IDENTITY);
    // Before the first frame has framed the topology there is no view to show it at: hidden
    // for that frame, not flashed at one pixel per unit.
    let unframed = ui.viewport.is_none().then_some("hidden");
    let metrics = session.timeline().sim().metrics();
    let now = session.timeline().sim().now();
    // Queues that dead-lettered messages have reached, as the core counts them.
    let dlqs: Vec<usize> = metrics
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, m)| m.queue().is_some_and(|q| q.dead_lettered_in > 0))
        .map(|(i, _)| i)
        .collect();
    let sel = &ui.selection;
    let edges = topo.edges.iter().enumerate().filter_map(|(i, e)| {
        let (a, b) = scene.edges.get(i).copied().flatten()?;
        let id = EdgeId(i as u32);
        let label = switchboard_core::model::edge_label(topo, id);
        let kind = e.kind.class();
        let mid = Point {
            x: (a.x + b.x) / 2.0,
            y: (a.y + b.y) / 2.0 - 6.0,
        };
        let selected = *sel == Selection::Edge(id);
        let lit = ui.tour.as_ref().is_some_and(|t| {
            t.highlights_edge(&topo.node(e.from).name, &topo.node(e.to).name)
        });
        // A call edge shows what its calls are doing: attempts per call, timeouts, the
        // breaker's state with its countdown, the bulkhead's slots.
        let stats = crate::models::http::call_stats(&metrics, e.from, id, now);
        Some(html! {
            <g key={i.to_string()} class={classes!("edge", kind, selected.then_some("selected"), lit.then_some("tour-lit"))} data-edge={i.to_string()} aria-hidden="true">
                <line class="edge-hit" x1={a.x.to_string()} y1={a.y.to_string()} x2={b.x.to_string()} y2={b.y.to_string()} />
                <line class="edge-line" x1={a.x.to_string()} y1={a.y.to_string()} x2={b.x.to_string()} y2={b.y.to_string()} marker-end="url(#arrow)" />
                if !label.is_empty() {
                    <text class="edge-label" x={mid.x.to_string()} y={mid.y.to_string()}>{ label }</text>
                }
                if let Some(s) = stats {
                    <text class="call-stats" x={mid.x.to_string()} y={(mid.y + 22.0).to_string()} data-attempts-per-call={format!("{:.2}", s.attempts_per_call)} data-breaker={s.breaker.clone().unwrap_or_default()}>
                        { s.text.clone() }
                        if let Some(b) = &s.breaker {
                            <tspan class={if b.starts_with("OPEN") { "breaker-open" } else { "breaker-half" }}>{ format!(" · {b}") }</tspan>
                        }
                        if !s.detail.is_empty() {
                            <tspan x={mid.x.to_string()} dy="12">{ s.detail.clone() }</tspan>
                        }
                    </text>
                }
            </g>
        })
    });
    // A service with other inputs: one frame around its process, under everything else.
    let groups = scene.groups.iter().map(|g| {
        let f = g.frame;
        let name = &topo.node(g.service).name;
        let n = g.inputs.len();
        html! {
            <g key={format!("group-{}", g.service.0)} class="service-group" data-group={name.clone()}
                data-inputs={g.inputs.iter().map(|&i| topo.node(i).name.as_str()).collect::<Vec<_>>().join(",")}
                aria-hidden="true">
                <rect x={f.min_x.to_string()} y={(f.min_y - 16.0).to_string()} width={(f.max_x - f.min_x).to_string()}
                    height={(f.max_y - f.min_y + 16.0).to_string()} rx="14" />
                <text x={(f.min_x + 10.0).to_string()} y={(f.min_y - 3.0).to_string()}>
                    { format!("service {name} · {n} other input{}", if n == 1 { "" } else { "s" }) }
                </text>
            </g>
        }
    });
    // Each node, then its outgoing edges: the order Tab takes them in. An edge's focus target
    // is drawn over the nodes but takes no pointer events (the line under it does).
    let nodes = topo.nodes.iter().enumerate().filter_map(|(i, n)| {
        let c = scene.nodes.get(i).copied().flatten()?;
        let m = metrics.nodes.get(i)?;
        let selected = *sel == Selection::Node(n.name.clone());
        let is_dlq = dlqs.contains(&i);
        let half = scene.half(NodeId(i as u32));
        let group = scene.group_of(NodeId(i as u32)).map(|g| {
            let names = |ids: &[NodeId]| -> Vec<&str> {
                ids.iter().map(|&n| topo.node(n).name.as_str()).collect()
            };
            if g.service == NodeId(i as u32) {
                format!("runs {} in its process", names(&g.inputs).join(", "))
            } else {
                format!("runs in service {}'s process", topo.node(g.service).name)
            }
        });
        let node = node_html(
            ctx,
            topo,
            NodeId(i as u32),
            m,
            (c, half),
            (selected, is_dlq),
            group.as_deref(),
        );
        let outgoing = n.out.iter().filter_map(|&e| {
            let (a, b) = scene.edges.get(e.index()).copied().flatten()?;
            (!topo.edge(e).removed)
                .then(|| edge_focus_html(ctx, topo, e, a, b, *sel == Selection::Edge(e)))
        });
        Some(html! { <>{ node }{ for outgoing }</> })
    });
    let connecting = match &ui.drag {
        Drag::Connect { from, at, over } => topo
            .node_id(from)
            .and_then(|f| scene.node(f).map(|a| (a, scene.half(f))))
            .map(|(a, half)| {
                let ok = over.as_ref().is_none_or(|(_, why)| why.is_none());
                html! {
                    <line class={classes!("rubber-band", (!ok).then_some("refused"))}
                        x1={(a.x + half.0).to_string()} y1={a.y.to_string()}
                        x2={at.x.to_string()} y2={at.y.to_string()} />
                }
            }),
        _ => None,
    };
    let tip = ui.tip.as_ref().map(|(w, text)| {
        let s = vp.to_screen(*w);
        let refused = text.starts_with("Can't");
        html! {
            <div id="cursor-tip" class={classes!("cursor-tip", refused.then_some("refused"))}
                style={format!("left:{}px;top:{}px", s.x + 14.0, s.y + 14.0)} role="status">{ text.clone() }</div>
        }
    });
    let bind = ui
        .bind
        .as_ref()
        .map(|b| bind_dialog(ctx, b, &scene, topo, vp));
    let empty = topo.nodes.iter().all(|n| n.removed);
    // A first visit (or an empty canvas) offers the stories, unless put away; not in a player.
    let stories = ui.embed.is_none() && !ui.start_hidden;
    let description = session.description().to_owned();
    let (down, mv, up) = {
        let (a, b, c) = (ctx.clone(), ctx.clone(), ctx.clone());
        (
            Callback::from(move |e: PointerEvent| on_pointer_down(&a, e)),
            Callback::from(move |e: PointerEvent| on_pointer_move(&b, e)),
            Callback::from(move |e: PointerEvent| on_pointer_up(&c, e)),
        )
    };
    let wheel = {
        let ctx = ctx.clone();
        Callback::from(move |e: WheelEvent| on_wheel(&ctx, e))
    };
    let grid = view::GRID * vp.scale;
    let live_nodes = topo.nodes.iter().filter(|n| !n.removed).count();
    let live_edges = topo.edges.iter().filter(|e| !e.removed).count();
    let summary = format!(
        "Topology: {live_nodes} node{}, {live_edges} connection{}",
        if live_nodes == 1 { "" } else { "s" },
        if live_edges == 1 { "" } else { "s" }
    );
    let canvas_help = if ctx.read_only() {
        "Tab reaches each node and connection. Space plays or pauses; period and comma step."
    } else {
        "Tab reaches each node and connection; Enter or Space selects it, Escape clears the selection. Arrow keys move the selected node, I goes to its settings and Escape comes back, Delete removes it. On the canvas, Space plays or pauses."
    };
    html! {
        <section class="stage" ref={stage_ref.clone()} aria-label="Canvas" tabindex="0" id="stage"
            aria-describedby="canvas-help"
            style={format!("background-size:{grid}px {grid}px;background-position:{}px {}px", vp.dx, vp.dy)}
            onpointerdown={down} onpointermove={mv} onpointerup={up} onwheel={wheel}>
            <p id="canvas-help" class="visually-hidden">{ canvas_help }</p>
            <svg id="topology" class="topology" role="group" aria-label={summary}>
                <defs>
                    <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
                        <path d="M 0 0 L 10 5 L 0 10 z" class="arrowhead" />
                    </marker>
                </defs>
                <g transform={vp.transform()} visibility={unframed}>
                    { for groups }
                    { for edges }
                    { for nodes }
                    { for connecting }
                </g>
            </svg>
            <canvas ref={canvas_ref.clone()} id="flights" class="flights" aria-hidden="true"></canvas>
            if !description.is_empty() {
                <p id="scenario-description" class="scenario-description" title={description.clone()}>{ description }</p>
            }
            if empty && stories {
                { start_screen(ctx) }
            } else if empty {
                <div class="empty-hint">
                    <p><strong>{ "Start from nothing." }</strong></p>
                    <p>{ "Drag a Producer, an exchange, a Queue and a Consumer from the palette onto this canvas." }</p>
                    <p>{ "Connect them by dragging from a node's ● handle to the next node, then press Play." }</p>
                    <p>{ "From the keyboard: each palette button adds its kind in the middle, and the inspector's Connect joins the selected node to another." }</p>
                    <p>{ "Or open an example from the menu above." }</p>
                </div>
            }
            { for tip }
            { for bind }
        </section>
    }
}

/// Enter or Space on a node or an edge selects it (a second time, or Escape, clears it).
fn select_key(ctx: &Ctx, s: Selection) -> Callback<KeyboardEvent> {
    let ctx = ctx.clone();
    Callback::from(move |e: KeyboardEvent| {
        if e.ctrl_key() || e.meta_key() || e.alt_key() {
            return;
        }
        if e.key() == "Enter" || e.key() == " " {
            e.prevent_default();
            // The page's shortcuts must not also see it (Space plays elsewhere on the canvas).
            e.stop_propagation();
            let again = ctx.ui.borrow().selection == s;
            select(&ctx, if again { Selection::None } else { s.clone() });
        }
    })
}

/// A node or edge that took the focus is panned into view.
fn reveal_on_focus(ctx: &Ctx, at: Point, half: (f64, f64)) -> Callback<FocusEvent> {
    let ctx = ctx.clone();
    Callback::from(move |_: FocusEvent| {
        if ctx.dispatch(UiAction::Reveal { at, half }) {
            ctx.refresh.emit(());
        }
    })
}

fn edge_focus_html(
    ctx: &Ctx,
    topo: &switchboard_core::topology::Topology,
    id: EdgeId,
    a: Point,
    b: Point,
    selected: bool,
) -> Html {
    let mid = Point {
        x: (a.x + b.x) / 2.0,
        y: (a.y + b.y) / 2.0,
    };
    let half = ((a.x - b.x).abs() / 2.0, (a.y - b.y).abs() / 2.0);
    html! {
        <line key={format!("edge-focus-{}", id.0)} class={classes!("edge-focus", selected.then_some("selected"))}
            data-edge-focus={id.0.to_string()} tabindex="0" role="button" aria-roledescription="connection"
            aria-label={crate::describe::edge_name(topo, id)} aria-pressed={selected.to_string()}
            aria-describedby="canvas-help"
            x1={a.x.to_string()} y1={a.y.to_string()} x2={b.x.to_string()} y2={b.y.to_string()}
            onkeydown={select_key(ctx, Selection::Edge(id))} onfocus={reveal_on_focus(ctx, mid, half)} />
    }
}

fn node_html(
    ctx: &Ctx,
    topo: &switchboard_core::topology::Topology,
    id: NodeId,
    m: &NodeMetrics,
    (c, half): (Point, (f64, f64)),
    (selected, is_dlq): (bool, bool),
    group: Option<&str>,
) -> Html {
    let n = topo.node(id);
    let (x0, y0) = (c.x - half.0, c.y - half.1);
    let (w, h) = (2.0 * half.0, 2.0 * half.1);
    let kind = n.kind.name();
    let lit = ctx
        .ui
        .borrow()
        .tour
        .as_ref()
        .is_some_and(|t| t.highlights_node(&n.name));
    let mut classes = classes!(
        "node",
        kind,
        selected.then_some("selected"),
        is_dlq.then_some("dlq"),
        lit.then_some("tour-lit")
    );
    if !m.up {
        classes.push("down");
    }
    let name = n.name.clone();
    let now = ctx.session.borrow().timeline().sim().now();
    let face = crate::models::face(&n.kind, m, (c.x, c.y), now, is_dlq);
    let mut label = crate::describe::node_name(topo, id, &face.subtitle, &face.status, m.up);
    if let Some(g) = group {
        label.push_str("; ");
        label.push_str(g);
    }
    if lit {
        label.push_str("; shown by the tour");
    }
    let shape = match face.shape {
        Shape::Hexagon => {
            let d = format!(
                "M{} {} L{} {} L{} {} L{} {} L{} {} L{} {} Z",
                x0 + 16.0,
                y0,
                x0 + w - 16.0,
                y0,
                x0 + w,
                c.y,
                x0 + w - 16.0,
                y0 + h,
                x0 + 16.0,
                y0 + h,
                x0,
                c.y
            );
            html! { <path class="shape" d={d} /> }
        }
        Shape::Box => {
            html! { <rect class="shape" x={x0.to_string()} y={y0.to_string()} width={w.to_string()} height={h.to_string()} rx="10" /> }
        }
    };
    let (subtitle, body) = (face.subtitle, face.body);
    let can_send = crate::models::sends(&n.kind) && !ctx.read_only();
    // The focusable node holds its outline and handle; what its face says (name, kind,
    // counters) is drawn over it, hidden from screen readers, which hear it all in the node's
    // name instead (so that name is the node's only text).
    let face_classes = classes!("node-face", kind, (!m.up).then_some("down"));
    html! {
        <>
        <g key={name.clone()} class={classes} data-node={name.clone()} tabindex="0" role="button"
            aria-roledescription="node" aria-label={label} aria-pressed={selected.to_string()}
            aria-describedby="canvas-help"
            onkeydown={select_key(ctx, Selection::Node(name.clone()))}
            onfocus={reveal_on_focus(ctx, c, half)}>
            { shape }
            if can_send {
                <circle class="port" data-port={name.clone()} cx={(x0 + w).to_string()} cy={c.y.to_string()} r="7" aria-hidden="true" />
            }
        </g>
        <g key={format!("face-{name}")} class={face_classes} data-face={name.clone()} aria-hidden="true">
            <title>{ name.clone() }</title>
            <text class="name" x={c.x.to_string()} y={(y0 + 16.0).to_string()}>{ view::short_name(&name).into_owned() }</text>
            <text class="kind" x={c.x.to_string()} y={(y0 + 29.0).to_string()}>{ subtitle }</text>
            { body }
        </g>
        </>
    }
}

fn bind_dialog(
    ctx: &Ctx,
    b: &BindDraft,
    scene: &Scene,
    topo: &switchboard_core::topology::Topology,
    vp: Viewport,
) -> Html {
    let at = topo
        .node_id(&b.to)
        .and_then(|n| scene.node(n))
        .map(|p| vp.to_screen(p))
        .unwrap_or(Point { x: 40.0, y: 40.0 });
    let on_key = {
        let ctx = ctx.clone();
        Callback::from(move |e: InputEvent| {
            let el: web_sys::HtmlInputElement = e.target_unchecked_into();
            ctx.dispatch(UiAction::EditBinding {
                key: Some(el.value()),
                args: None,
            });
        })
    };
    let on_args = {
        let ctx = ctx.clone();
        Callback::from(move |e: InputEvent| {
            let el: web_sys::HtmlInputElement = e.target_unchecked_into();
            ctx.dispatch(UiAction::EditBinding {
                key: None,
                args: Some(el.value()),
            });
        })
    };
    let on_submit = {
        let ctx = ctx.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            submit_bind(&ctx);
        })
    };
    let on_cancel = {
        let ctx = ctx.clone();
        Callback::from(move |_: MouseEvent| {
            ctx.dispatch(UiAction::CloseBinding);
            ctx.refresh.emit(());
        })
    };
    let on_escape = {
        let ctx = ctx.clone();
        Callback::from(move |e: Event| {
            e.prevent_default();
            ctx.dispatch(UiAction::CloseBinding);
            ctx.refresh.emit(());
        })
    };
    // Keep pointer presses inside the dialog from starting a pan.
    let stop = Callback::from(|e: PointerEvent| e.stop_propagation());
    let headers = b.exchange_type == "headers";
    let key_help = match b.exchange_type {
        "topic" => "words separated by dots; * matches one word, # zero or more",
        "direct" => "messages whose routing key equals this",
        _ => "headers exchanges ignore the key",
    };
    // A modal dialog in the top layer: placed in client coordinates, under the target node.
    let (sx, sy) = {
        let ui = ctx.ui.borrow();
        (ui.stage.2, ui.stage.3)
    };
    html! {
        <dialog id="bind-dialog" class="modal bind-dialog" aria-labelledby="bind-title" oncancel={on_escape}
            onpointerdown={stop}
            style={format!("left:{}px;top:{}px", (sx + at.x - 130.0).max(4.0), sy + at.y + NODE_HALF_H * vp.scale + 8.0)}>
        <form onsubmit={on_submit}>
            <h2 id="bind-title">{ format!("Bind {} → {}", b.from, b.to) }</h2>
            if !headers {
                <label>{ "routing_key" }
                    <input id="bind-key" value={b.key.clone()} oninput={on_key} autofocus=true
                        aria-invalid={b.error.is_some().then_some("true")}
                        aria-describedby={if b.error.is_some() { "bind-error bind-key-help" } else { "bind-key-help" }} />
                </label>
                <small id="bind-key-help">{ key_help }</small>
            } else {
                <label>{ "arguments" }
                    <input id="bind-args" value={b.args.clone()} oninput={on_args} autofocus=true
                        aria-invalid={b.error.is_some().then_some("true")}
                        aria-describedby={if b.error.is_some() { "bind-error bind-args-help" } else { "bind-args-help" }} />
                </label>
                <small id="bind-args-help">{ "x-match=all or any, then name=value pairs, comma-separated" }</small>
            }
            if let Some(err) = &b.error {
                <p class="field-error" id="bind-error">{ err.clone() }</p>
            }
            <div class="dialog-actions">
                <button type="submit" data-action="bind">{ "Bind" }</button>
                <button type="button" onclick={on_cancel}>{ "Cancel" }</button>
            </div>
        </form>
        </dialog>
    }
}

/// The start screen's stories (the editor's: a player never shows them).
fn start_screen(ctx: &Ctx) -> Html {
    #[cfg(feature = "editor")]
    return super::start::render(ctx);
    #[cfg(not(feature = "editor"))]
    {
        let _ = ctx;
        Html::default()
    }
}
