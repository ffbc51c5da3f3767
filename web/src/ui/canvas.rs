//! The canvas layer: messages in flight and the effects, redrawn every animation frame. Thousands
//! of dots never touch the virtual DOM.

use super::UiState;
use crate::editor::Session;
use crate::effects::EffectKind;
use crate::scene::Scene;
use crate::timeline::Tint;
use crate::view::{position_at, position_stepped, Point, Viewport};
use wasm_bindgen::JsCast;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement};

struct Colours {
    normal: &'static str,
    redelivered: &'static str,
    dead: &'static str,
    flash: &'static str,
    text: &'static str,
    ring: &'static str,
    /// A partition chip's text on its filled face, and its face when outlined.
    chip_text: &'static str,
    chip_back: &'static str,
}

const LIGHT: Colours = Colours {
    normal: "#d97706",
    redelivered: "#0891b2",
    dead: "#9333ea",
    flash: "rgba(37, 99, 235, 0.55)",
    text: "#1d2430",
    ring: "#1d2430",
    chip_text: "#1d2430",
    chip_back: "#ffffff",
};
const DARK: Colours = Colours {
    normal: "#fbbf24",
    redelivered: "#22d3ee",
    dead: "#c084fc",
    flash: "rgba(96, 165, 250, 0.6)",
    text: "#e6e9ee",
    ring: "#ffffff",
    chip_text: "#1d2430",
    chip_back: "#1d2430",
};

fn dark(ui: &UiState) -> bool {
    ui.dark.unwrap_or_else(|| {
        web_sys::window()
            .and_then(|w| w.match_media("(prefers-color-scheme: dark)").ok().flatten())
            .is_some_and(|m| m.matches())
    })
}

/// The 2D context of a canvas.
pub fn context_2d(canvas: &HtmlCanvasElement) -> Option<CanvasRenderingContext2d> {
    canvas
        .get_context("2d")
        .ok()
        .flatten()
        .and_then(|c| c.dyn_into::<CanvasRenderingContext2d>().ok())
}

/// Redraws `canvas`. Its backing store follows its CSS size and the device pixel ratio.
pub fn draw(
    canvas: &HtmlCanvasElement,
    session: &Session,
    ui: &UiState,
    scene: &Scene,
    vp: Viewport,
    wall_ms: f64,
) {
    let dpr = web_sys::window().map_or(1.0, |w| w.device_pixel_ratio());
    let (css_w, css_h) = (canvas.client_width() as f64, canvas.client_height() as f64);
    let (w, h) = ((css_w * dpr).round() as u32, (css_h * dpr).round() as u32);
    if canvas.width() != w || canvas.height() != h {
        canvas.set_width(w);
        canvas.set_height(h);
    }
    let Some(ctx) = context_2d(canvas) else {
        return;
    };
    let col = if dark(ui) { &DARK } else { &LIGHT };
    ctx.set_transform(dpr, 0.0, 0.0, dpr, 0.0, 0.0).ok();
    ctx.clear_rect(0.0, 0.0, css_w, css_h);
    let t = session.timeline();
    let now = t.sim().now();
    let radius = (5.0 * vp.scale).clamp(2.5, 7.0);
    // With reduced motion, messages stand at a few places along their edges, not gliding.
    let position_at = if ui.reduced_motion {
        position_stepped
    } else {
        position_at
    };

    // Bindings that just matched.
    ctx.set_line_cap("round");
    ctx.set_stroke_style_str(col.flash);
    for fx in &ui.effects.list {
        if let EffectKind::Flash { edge } = fx.kind {
            if let Some((a, b)) = scene.edge(edge) {
                ctx.set_global_alpha(fx.alpha(wall_ms, ui.reduced_motion));
                ctx.set_line_width(8.0 * vp.scale.max(0.5));
                let (a, b) = (vp.to_screen(a), vp.to_screen(b));
                ctx.begin_path();
                ctx.move_to(a.x, a.y);
                ctx.line_to(b.x, b.y);
                ctx.stroke();
            }
        }
    }
    ctx.set_global_alpha(1.0);

    // Messages in flight, one path per tint.
    let mut drawn = 0u32;
    // The first message drawn and where (stage pixels): what a click there would open. The
    // end-to-end tests click messages through it.
    let mut first: Option<(f64, f64, u64)> = None;
    let mut redelivered = 0u32;
    let mut dead = 0u32;
    for (tint, colour) in [
        (Tint::Normal, col.normal),
        (Tint::Redelivered, col.redelivered),
        (Tint::DeadLettered, col.dead),
    ] {
        ctx.set_fill_style_str(colour);
        ctx.begin_path();
        for f in t.flights().iter().filter(|f| f.tint == tint) {
            let Some((a, b)) = scene.edge(f.edge) else {
                continue;
            };
            let Some(p) = position_at(a, b, f.depart, f.arrive, now) else {
                continue;
            };
            let s = vp.to_screen(p);
            ctx.move_to(s.x + radius, s.y);
            ctx.arc(s.x, s.y, radius, 0.0, std::f64::consts::TAU).ok();
            drawn += 1;
            first.get_or_insert((s.x, s.y, f.message.0));
            match tint {
                Tint::Redelivered => redelivered += 1,
                Tint::DeadLettered => dead += 1,
                Tint::Normal => {}
            }
        }
        ctx.fill();
    }
    // Redelivered messages carry a marker: a ring around the dot.
    ctx.set_stroke_style_str(col.redelivered);
    ctx.set_line_width(1.5);
    ctx.begin_path();
    for f in t.flights().iter().filter(|f| f.tint == Tint::Redelivered) {
        let Some((a, b)) = scene.edge(f.edge) else {
            continue;
        };
        let Some(p) = position_at(a, b, f.depart, f.arrive, now) else {
            continue;
        };
        let s = vp.to_screen(p);
        ctx.move_to(s.x + radius + 3.0, s.y);
        ctx.arc(s.x, s.y, radius + 3.0, 0.0, std::f64::consts::TAU)
            .ok();
    }
    ctx.stroke();

    // The selected message, ringed.
    if let Some(m) = ui.message {
        for f in t.flights().iter().filter(|f| f.message == m) {
            let Some((a, b)) = scene.edge(f.edge) else {
                continue;
            };
            let Some(p) = position_at(a, b, f.depart, f.arrive, now) else {
                continue;
            };
            let s = vp.to_screen(p);
            ctx.set_stroke_style_str(col.ring);
            ctx.set_line_width(2.0);
            ctx.begin_path();
            ctx.arc(s.x, s.y, radius + 5.0, 0.0, std::f64::consts::TAU)
                .ok();
            ctx.stroke();
        }
    }

    // Dead letters on their way to the dead-letter exchange; dropped messages fading out.
    ctx.set_font("12px system-ui, sans-serif");
    // One label per place and reason: a busy node's drops share theirs rather than pile up.
    let mut labelled: Vec<(i64, i64, &str)> = Vec::new();
    let mut first_label = |p: Point, reason: &'static str| {
        let key = (p.x.round() as i64, p.y.round() as i64, reason);
        let first = !labelled.contains(&key);
        if first {
            labelled.push(key);
        }
        first
    };
    for fx in &ui.effects.list {
        let Some(p) = fx.shown_at(wall_ms, ui.reduced_motion) else {
            continue;
        };
        let s = vp.to_screen(p);
        let alpha = fx.alpha(wall_ms, ui.reduced_motion);
        match &fx.kind {
            EffectKind::DeadLetter { .. } => {
                ctx.set_global_alpha(alpha);
                ctx.set_fill_style_str(col.dead);
                ctx.begin_path();
                ctx.arc(s.x, s.y, radius + 1.0, 0.0, std::f64::consts::TAU)
                    .ok();
                ctx.fill();
            }
            EffectKind::Fade { reason, at, .. } => {
                ctx.set_global_alpha(alpha);
                ctx.set_fill_style_str(col.normal);
                ctx.begin_path();
                ctx.arc(s.x, s.y - 24.0, radius, 0.0, std::f64::consts::TAU)
                    .ok();
                ctx.fill();
                if first_label(*at, reason) {
                    ctx.set_fill_style_str(col.text);
                    ctx.fill_text(reason, s.x + radius + 4.0, s.y - 20.0).ok();
                }
            }
            EffectKind::Notice { reason, .. } => {
                ctx.set_global_alpha(alpha);
                ctx.set_fill_style_str(col.text);
                ctx.fill_text(reason, s.x + 4.0, s.y - 6.0).ok();
            }
            EffectKind::StoreNote { text, .. } => {
                ctx.set_global_alpha(alpha);
                ctx.set_fill_style_str(col.dead);
                ctx.fill_text(text, s.x + 4.0, s.y - 6.0).ok();
            }
            EffectKind::Partition {
                label, assigned, ..
            } => {
                // A chip with the partition's name: filled when it arrives at a member,
                // outlined when it goes back to the topic.
                ctx.set_global_alpha(alpha);
                ctx.set_font("11px system-ui, sans-serif");
                // The partition's number on the chip (the topic is where it comes from or
                // goes); about 6 px a character at 11 px.
                let short = match label.rsplit_once('-') {
                    Some((_, n)) => format!("p{n}"),
                    None => label.clone(),
                };
                let label = &short;
                let w = label.chars().count() as f64 * 6.2 + 10.0;
                let (x, y, h) = (s.x - w / 2.0, s.y - 8.0, 16.0);
                ctx.begin_path();
                ctx.rect(x, y, w, h);
                if *assigned {
                    ctx.set_fill_style_str(col.normal);
                    ctx.fill();
                    ctx.set_fill_style_str(col.chip_text);
                } else {
                    ctx.set_fill_style_str(col.chip_back);
                    ctx.fill();
                    ctx.set_stroke_style_str(col.normal);
                    ctx.set_line_width(1.5);
                    ctx.stroke();
                    ctx.set_fill_style_str(col.text);
                }
                ctx.fill_text(label, x + 5.0, y + 12.0).ok();
                ctx.set_font("12px system-ui, sans-serif");
            }
            EffectKind::JobCard { lane, .. } => {
                // A card in the colour of the lane it enters, the size of the lanes' cards.
                ctx.set_global_alpha(alpha);
                ctx.set_fill_style_str(JOB_CARD_COLOURS.get(*lane).copied().unwrap_or("#94a3b8"));
                let (w, h) = (8.0 * vp.scale, 8.5 * vp.scale);
                ctx.fill_rect(s.x - w / 2.0, s.y - h / 2.0, w, h);
            }
            EffectKind::LogNote { text, .. } => {
                ctx.set_global_alpha(alpha);
                ctx.set_font("10px system-ui, sans-serif");
                ctx.set_fill_style_str(col.text);
                ctx.set_text_align("right");
                ctx.fill_text(text, s.x - 4.0, s.y + 3.0).ok();
                ctx.set_text_align("left");
                ctx.set_font("12px system-ui, sans-serif");
            }
            EffectKind::Flash { .. } => {}
        }
    }
    ctx.set_global_alpha(1.0);
    let _ = canvas.set_attribute("data-in-flight", &drawn.to_string());
    let first = first.map_or(String::new(), |(x, y, m)| format!("{x:.0} {y:.0} {m}"));
    let _ = canvas.set_attribute("data-first-flight", &first);
    let _ = canvas.set_attribute("data-redelivered", &redelivered.to_string());
    let _ = canvas.set_attribute("data-dead-lettered", &dead.to_string());
    let _ = canvas.set_attribute("data-effects", &ui.effects.list.len().to_string());
    let moving = ui
        .effects
        .list
        .iter()
        .filter(|e| matches!(e.kind, EffectKind::Partition { .. }))
        .count();
    let _ = canvas.set_attribute("data-partitions-moving", &moving.to_string());
    let cards = ui
        .effects
        .list
        .iter()
        .filter(|e| matches!(e.kind, EffectKind::JobCard { .. }))
        .count();
    let _ = canvas.set_attribute("data-job-cards-moving", &cards.to_string());
    let motion = if ui.reduced_motion { "reduced" } else { "full" };
    let _ = canvas.set_attribute("data-motion", motion);
}

/// A moving job card's colour, by the lane it enters (as `static/app.css` colours the lanes'
/// cards).
const JOB_CARD_COLOURS: [&str; 7] = [
    "#2563eb", "#7c3aed", "#d97706", "#0891b2", "#059669", "#dc2626", "#64748b",
];
