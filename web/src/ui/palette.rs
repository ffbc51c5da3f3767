//! The palette: node kinds to drag onto the canvas. A click (or Enter) adds the kind at the
//! centre of the view instead, so the keyboard builds topologies too.

use super::{Ctx, Drag, Selection, UiAction};
use crate::view::{snap, Point, Viewport};
use switchboard_core::scenario::Position;
use wasm_bindgen::JsCast;
use yew::prelude::*;

fn add_at(ctx: &Ctx, kind: &str, xt: Option<&str>, world: Point) {
    let p = snap(world);
    let r = ctx
        .session
        .borrow_mut()
        .add_node(kind, xt, Position { x: p.x, y: p.y });
    match r {
        Ok(name) => {
            let label = xt.map_or(kind.to_owned(), |t| format!("{t} exchange"));
            ctx.announce(format!("Added {label} {name}, selected"));
            ctx.dispatch(UiAction::Select(Selection::Node(name)));
        }
        Err(e) => ctx.notify(e.to_string(), true),
    }
    ctx.refresh.emit(());
}

/// Adds a node of this kind in the middle of the view, nudged so repeated adds do not stack.
fn add_centre(ctx: &Ctx, kind: &str, xt: Option<&str>) {
    let (vp, stage, count) = {
        let ui = ctx.ui.borrow();
        let count = ctx.session.borrow().doc().nodes.len();
        (ui.viewport.unwrap_or(Viewport::IDENTITY), ui.stage, count)
    };
    let mut w = vp.to_world(Point {
        x: stage.0 / 2.0,
        y: stage.1 / 2.0,
    });
    w.x += (count % 4) as f64 * 40.0;
    w.y += (count % 4) as f64 * 40.0;
    add_at(ctx, kind, xt, w);
}

/// The item being dragged, following the pointer. Always rendered (hidden when idle) so the
/// page's structure does not change under a captured pointer.
pub fn ghost(ctx: &Ctx) -> Html {
    match &ctx.ui.borrow().drag {
        Drag::Palette {
            kind,
            exchange_type,
            client,
        } => html! {
            <div class="palette-ghost" style={format!("left:{}px;top:{}px", client.x, client.y)}>
                { exchange_type.map_or(kind.to_string(), |t| format!("{t} exchange")) }
            </div>
        },
        _ => html! { <div class="palette-ghost" hidden=true></div> },
    }
}

/// The palette.
pub fn render(ctx: &Ctx) -> Html {
    html! {
        <nav class="palette" aria-label="Palette">
            <h2>{ "Add" }</h2>
            <p class="palette-help">{ "Drag onto the canvas, or click." }</p>
            { for crate::models::palette().map(|p| item(ctx, p.label, p.kind, p.variant)) }
        </nav>
    }
}

fn dragging(kind: &'static str, xt: Option<&'static str>, e: &PointerEvent) -> Drag {
    Drag::Palette {
        kind,
        exchange_type: xt,
        client: Point {
            x: e.client_x() as f64,
            y: e.client_y() as f64,
        },
    }
}

fn item(ctx: &Ctx, label: &'static str, kind: &'static str, xt: Option<&'static str>) -> Html {
    let down = {
        let ctx = ctx.clone();
        Callback::from(move |e: PointerEvent| {
            if e.button() != 0 {
                return;
            }
            // Yew delegates events to the root, so the item is found from the target.
            if let Some(el) = e
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .and_then(|t| t.closest(".palette-item").ok().flatten())
            {
                let _ = el.set_pointer_capture(e.pointer_id());
            }
            ctx.dispatch(UiAction::Drag(dragging(kind, xt, &e)));
        })
    };
    let mv = {
        let ctx = ctx.clone();
        Callback::from(move |e: PointerEvent| {
            let moving = matches!(ctx.ui.borrow().drag, Drag::Palette { .. });
            if moving {
                ctx.dispatch(UiAction::Drag(dragging(kind, xt, &e)));
                ctx.refresh.emit(());
            }
        })
    };
    let up = {
        let ctx = ctx.clone();
        Callback::from(move |e: PointerEvent| {
            let drag = ctx.ui.borrow().drag.clone();
            ctx.dispatch(UiAction::Drag(Drag::Idle));
            let Drag::Palette { .. } = drag else { return };
            let c = Point {
                x: e.client_x() as f64,
                y: e.client_y() as f64,
            };
            let (stage, vp) = {
                let ui = ctx.ui.borrow();
                (ui.stage, ui.viewport.unwrap_or(Viewport::IDENTITY))
            };
            let inside = c.x >= stage.2
                && c.x <= stage.2 + stage.0
                && c.y >= stage.3
                && c.y <= stage.3 + stage.1;
            if inside {
                let w = vp.to_world(Point {
                    x: c.x - stage.2,
                    y: c.y - stage.3,
                });
                add_at(&ctx, kind, xt, w);
            } else {
                ctx.refresh.emit(());
            }
        })
    };
    // A click without a drag (pointer up on the item itself) and Enter both add at the centre.
    let click = {
        let ctx = ctx.clone();
        Callback::from(move |e: MouseEvent| {
            // A drag that ended on the canvas has already added the node; a click is a press
            // and release in place (detail 0 is the keyboard).
            let stage = ctx.ui.borrow().stage;
            let cx = e.client_x() as f64;
            let over_stage = cx >= stage.2 && cx <= stage.2 + stage.0 && e.detail() > 0;
            if !over_stage {
                add_centre(&ctx, kind, xt);
            }
        })
    };
    html! {
        <button class={classes!("palette-item", kind, xt)} data-kind={kind} data-type={xt.unwrap_or("")}
            title={format!("Drag {label} onto the canvas, or click to add it")}
            onpointerdown={down} onpointermove={mv} onpointerup={up} onclick={click}>
            <span class="swatch" aria-hidden="true"></span>{ label }
        </button>
    }
}
