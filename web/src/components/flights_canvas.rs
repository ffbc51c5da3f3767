//! The canvas layer: one dot per message in flight, redrawn every animation frame.

use super::Geometry;
use crate::player::Player;
use crate::view::{fit, position_at};
use wasm_bindgen::JsCast;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement};

/// Redraws `canvas` for the player's current moment. The canvas backing store follows its CSS
/// size and the device pixel ratio, so dots stay sharp and aligned with the SVG below.
pub fn draw_flights(canvas: &HtmlCanvasElement, player: &Player, geometry: &Geometry) {
    let dpr = web_sys::window()
        .map(|w| w.device_pixel_ratio())
        .unwrap_or(1.0);
    let (css_w, css_h) = (canvas.client_width() as f64, canvas.client_height() as f64);
    let (w, h) = ((css_w * dpr).round() as u32, (css_h * dpr).round() as u32);
    if canvas.width() != w || canvas.height() != h {
        canvas.set_width(w);
        canvas.set_height(h);
    }
    let Some(ctx) = canvas
        .get_context("2d")
        .ok()
        .flatten()
        .and_then(|c| c.dyn_into::<CanvasRenderingContext2d>().ok())
    else {
        return;
    };
    ctx.set_transform(dpr, 0.0, 0.0, dpr, 0.0, 0.0).ok();
    ctx.clear_rect(0.0, 0.0, css_w, css_h);
    let vp = fit(geometry.bounds, css_w, css_h);
    let now = player.sim().now();
    let radius = (6.0 * vp.scale).clamp(3.0, 8.0);
    ctx.set_fill_style_str("#f59e0b");
    ctx.begin_path();
    let mut drawn = 0;
    for f in player.flights() {
        let (a, b) = geometry.edges[f.edge.index()];
        if let Some(p) = position_at(a, b, f.depart, f.arrive, now) {
            let s = vp.to_screen(p);
            ctx.move_to(s.x + radius, s.y);
            ctx.arc(s.x, s.y, radius, 0.0, std::f64::consts::TAU).ok();
            drawn += 1;
        }
    }
    ctx.fill();
    canvas
        .set_attribute("data-in-flight", &drawn.to_string())
        .ok();
}
