//! Pictures of the canvas for slides and chat: an SVG (the topology, with the messages in
//! flight as circles, styled by the page's own rules in the current theme) and a PNG (that SVG
//! rasterised, with the canvas layer's dots and effects drawn over it).

use super::files::download;
use super::{Ctx, UiAction};
use crate::timeline::Tint;
use crate::view::{position_at, Viewport};
use gloo::events::EventListener;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{HtmlCanvasElement, HtmlImageElement};

/// The selectors whose rules the picture carries (everything the topology is drawn with).
const SVG_RULE_PREFIXES: &[&str] = &[
    ".node",
    ".edge",
    ".slot",
    ".tube",
    ".progress",
    ".arrowhead",
    ".port",
    ".rubber",
];

/// The CSS custom properties the rules use, resolved in the current theme.
const VARIABLES: &[&str] = &[
    "--bg",
    "--panel",
    "--ink",
    "--muted",
    "--line",
    "--accent",
    "--producer",
    "--exchange",
    "--queue",
    "--consumer",
    "--relay",
    "--sink",
    "--ready",
    "--unacked",
    "--dead",
    "--down",
    "--danger",
    "--ok",
];

fn get(o: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(o, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

/// The page's style rules for the topology, as CSS text (read from the loaded style sheets, so
/// the picture is drawn exactly as the page is).
fn topology_css() -> String {
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else {
        return String::new();
    };
    let mut css = String::new();
    let sheets = get(&doc, "styleSheets");
    let n = get(&sheets, "length").as_f64().unwrap_or(0.0) as u32;
    for i in 0..n {
        let sheet = js_sys::Reflect::get_u32(&sheets, i).unwrap_or(JsValue::UNDEFINED);
        let rules = get(&sheet, "cssRules");
        let m = get(&rules, "length").as_f64().unwrap_or(0.0) as u32;
        for j in 0..m {
            let rule = js_sys::Reflect::get_u32(&rules, j).unwrap_or(JsValue::UNDEFINED);
            let selector = get(&rule, "selectorText").as_string().unwrap_or_default();
            if SVG_RULE_PREFIXES.iter().any(|p| selector.starts_with(p)) {
                css.push_str(&get(&rule, "cssText").as_string().unwrap_or_default());
                css.push('\n');
            }
        }
    }
    // The theme's values, so the picture looks the same outside the page.
    let app = doc.query_selector(".app").ok().flatten();
    let style = app.and_then(|a| web_sys::window()?.get_computed_style(&a).ok().flatten());
    if let Some(style) = style {
        css.push_str("svg{");
        for v in VARIABLES {
            let value = style.get_property_value(v).unwrap_or_default();
            css.push_str(&format!("{v}:{};", value.trim()));
        }
        css.push_str("font:13px system-ui,sans-serif}");
    }
    css
}

/// The picture as SVG text; `dots` adds the messages in flight as circles.
pub fn svg_text(ctx: &Ctx, dots: bool) -> Option<String> {
    let doc = web_sys::window()?.document()?;
    let svg = doc.get_element_by_id("topology")?;
    let (w, h) = {
        let ui = ctx.ui.borrow();
        (ui.stage.0.max(1.0), ui.stage.1.max(1.0))
    };
    let inner = svg.inner_html();
    let mut circles = String::new();
    if dots {
        let s = ctx.session.borrow();
        let scene = s.scene();
        let vp = ctx.ui.borrow().viewport.unwrap_or(Viewport::IDENTITY);
        let t = s.timeline();
        let now = t.sim().now();
        for f in t.flights() {
            let Some((a, b)) = scene.edge(f.edge) else {
                continue;
            };
            let Some(p) = position_at(a, b, f.depart, f.arrive, now) else {
                continue;
            };
            let p = vp.to_screen(p);
            let fill = match f.tint {
                Tint::Normal => "var(--ready)",
                Tint::Redelivered => "var(--unacked)",
                Tint::DeadLettered => "var(--dead)",
            };
            circles.push_str(&format!(
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"5\" style=\"fill:{fill}\"/>",
                p.x, p.y
            ));
        }
    }
    Some(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\"><style>{}</style><rect width=\"100%\" height=\"100%\" style=\"fill:var(--bg)\"/>{inner}{circles}</svg>",
        topology_css()
    ))
}

fn stem(ctx: &Ctx) -> String {
    super::files::file_name(&ctx.session.borrow().doc().name).replace(".switchboard.json", "")
}

/// Downloads the canvas as SVG.
pub fn export_svg(ctx: &Ctx) {
    match svg_text(ctx, true) {
        Some(svg) => match download(&format!("{}.svg", stem(ctx)), "image/svg+xml", &svg) {
            Ok(()) => ctx.notify("Exported the picture as SVG", false),
            Err(e) => ctx.notify(format!("Export failed: {e}"), true),
        },
        None => ctx.notify("Export failed: the canvas is not on the page", true),
    }
    ctx.refresh.emit(());
}

/// Downloads the canvas as PNG: the SVG rasterised at the screen's pixel ratio, with the
/// canvas layer (dots and effects) drawn over it.
pub fn export_png(ctx: &Ctx) {
    let fail = |ctx: &Ctx, why: &str| {
        ctx.notify(format!("Export failed: {why}"), true);
        ctx.refresh.emit(());
    };
    let Some(svg) = svg_text(ctx, false) else {
        return fail(ctx, "the canvas is not on the page");
    };
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let dpr = web_sys::window().map_or(1.0, |w| w.device_pixel_ratio());
    let (w, h) = {
        let ui = ctx.ui.borrow();
        (ui.stage.0.max(1.0), ui.stage.1.max(1.0))
    };
    let Ok(image) = HtmlImageElement::new() else {
        return fail(ctx, "no image support");
    };
    let url = format!(
        "data:image/svg+xml;charset=utf-8,{}",
        js_sys::encode_uri_component(&svg)
    );
    let (ctx2, image2) = (ctx.clone(), image.clone());
    let onload = move |_: &web_sys::Event| {
        let canvas: Option<HtmlCanvasElement> = doc
            .create_element("canvas")
            .ok()
            .and_then(|c| c.dyn_into().ok());
        let Some(canvas) = canvas else { return };
        canvas.set_width((w * dpr) as u32);
        canvas.set_height((h * dpr) as u32);
        let Some(c2d) = super::canvas::context_2d(&canvas) else {
            return;
        };
        let _ = c2d.draw_image_with_html_image_element_and_dw_and_dh(
            &image2,
            0.0,
            0.0,
            w * dpr,
            h * dpr,
        );
        if let Some(flights) = doc
            .get_element_by_id("flights")
            .and_then(|f| f.dyn_into::<HtmlCanvasElement>().ok())
        {
            let _ = c2d.draw_image_with_html_canvas_element_and_dw_and_dh(
                &flights,
                0.0,
                0.0,
                w * dpr,
                h * dpr,
            );
        }
        let name = format!("{}.png", stem(&ctx2));
        let ctx3 = ctx2.clone();
        let on_blob = Closure::once_into_js(move |blob: JsValue| {
            let Ok(blob) = blob.dyn_into::<web_sys::Blob>() else {
                ctx3.notify("Export failed: the picture could not be encoded", true);
                ctx3.refresh.emit(());
                return;
            };
            let done = super::files::download_blob(&name, &blob).ok();
            if done.is_some() {
                ctx3.notify("Exported the picture as PNG", false);
            } else {
                ctx3.notify("Export failed: the browser refused the download", true);
            }
            ctx3.refresh.emit(());
        });
        let _ = canvas.to_blob(on_blob.unchecked_ref());
    };
    let onerror = {
        let ctx = ctx.clone();
        move |_: &web_sys::Event| {
            ctx.notify("Export failed: the picture could not be drawn", true);
            ctx.refresh.emit(());
        }
    };
    // Each fires once; the image keeps no reference to them, so they live until then.
    EventListener::once(&image, "load", onload).forget();
    EventListener::once(&image, "error", onerror).forget();
    image.set_src(&url);
}

/// How long a recording lasts, wall-clock seconds.
pub const RECORD_SECONDS: f64 = 5.0;
/// How often the recording's topology picture is redrawn (the dots are drawn every frame).
const RECORD_SVG_EVERY_MS: f64 = 200.0;

/// A recording in progress: a canvas that composites the topology and the canvas layer every
/// frame, and a `MediaRecorder` on its stream.
#[derive(Debug)]
pub struct Recording {
    canvas: HtmlCanvasElement,
    recorder: web_sys::MediaRecorder,
    until_ms: f64,
    svg: std::rc::Rc<std::cell::RefCell<Option<HtmlImageElement>>>,
    svg_at: std::cell::Cell<f64>,
}

/// Starts a short WebM recording of the running view (it plays the run if paused).
pub fn start_recording(ctx: &Ctx) {
    let fail = |ctx: &Ctx, why: &str| {
        ctx.notify(format!("Recording is not available here: {why}"), true);
        ctx.refresh.emit(());
    };
    if ctx.ui.borrow().recording.is_some() {
        return;
    }
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let (w, h) = {
        let ui = ctx.ui.borrow();
        (ui.stage.0.max(1.0), ui.stage.1.max(1.0))
    };
    let Some(canvas) = doc
        .create_element("canvas")
        .ok()
        .and_then(|c| c.dyn_into::<HtmlCanvasElement>().ok())
    else {
        return fail(ctx, "no canvas");
    };
    canvas.set_width(w as u32);
    canvas.set_height(h as u32);
    let Ok(stream) = canvas.capture_stream_with_frame_request_rate(30.0) else {
        return fail(ctx, "the canvas cannot be captured");
    };
    let options = web_sys::MediaRecorderOptions::new();
    let mime = [
        "video/webm;codecs=vp9",
        "video/webm;codecs=vp8",
        "video/webm",
    ]
    .into_iter()
    .find(|m| web_sys::MediaRecorder::is_type_supported(m))
    .unwrap_or("video/webm");
    options.set_mime_type(mime);
    let Ok(recorder) =
        web_sys::MediaRecorder::new_with_media_stream_and_media_recorder_options(&stream, &options)
    else {
        return fail(ctx, "no WebM encoder");
    };
    let chunks = std::rc::Rc::new(std::cell::RefCell::new(js_sys::Array::new()));
    {
        let chunks = chunks.clone();
        EventListener::new(&recorder, "dataavailable", move |e| {
            if let Some(b) = e.dyn_ref::<web_sys::BlobEvent>().and_then(|e| e.data()) {
                chunks.borrow().push(&b);
            }
        })
        .forget();
    }
    {
        let ctx = ctx.clone();
        let name = format!("{}.webm", stem(&ctx));
        EventListener::once(&recorder, "stop", move |_| {
            let opts = web_sys::BlobPropertyBag::new();
            opts.set_type("video/webm");
            let saved = web_sys::Blob::new_with_blob_sequence_and_options(&chunks.borrow(), &opts)
                .ok()
                .and_then(|blob| super::files::download_blob(&name, &blob).ok());
            ctx.notify(
                if saved.is_some() {
                    format!("Saved the recording as {name}")
                } else {
                    "The recording could not be saved".to_owned()
                },
                saved.is_none(),
            );
            ctx.refresh.emit(());
        })
        .forget();
    }
    if recorder.start().is_err() {
        return fail(ctx, "the recorder did not start");
    }
    ctx.session.borrow_mut().timeline_mut().play();
    ctx.dispatch(UiAction::Recording(Some(Recording {
        canvas,
        recorder,
        until_ms: super::now_ms() + RECORD_SECONDS * 1000.0,
        svg: Default::default(),
        svg_at: std::cell::Cell::new(f64::NEG_INFINITY),
    })));
    ctx.notify(format!("Recording {RECORD_SECONDS} s of the run…"), false);
    ctx.refresh.emit(());
}

/// Per frame while recording: composite the picture, and stop when the time is up.
pub fn record_frame(ctx: &Ctx) {
    let now = super::now_ms();
    let refresh_svg = {
        let ui = ctx.ui.borrow();
        let Some(rec) = &ui.recording else { return };
        if now >= rec.until_ms {
            let _ = rec.recorder.stop();
            drop(ui);
            ctx.dispatch(UiAction::Recording(None));
            return;
        }
        now - rec.svg_at.get() >= RECORD_SVG_EVERY_MS
    };
    if refresh_svg {
        let svg = svg_text(ctx, false);
        let ui = ctx.ui.borrow();
        let Some(rec) = &ui.recording else { return };
        rec.svg_at.set(now);
        if let (Some(svg), Ok(image)) = (svg, HtmlImageElement::new()) {
            let slot = rec.svg.clone();
            let loaded = image.clone();
            EventListener::once(&image, "load", move |_| {
                *slot.borrow_mut() = Some(loaded);
            })
            .forget();
            image.set_src(&format!(
                "data:image/svg+xml;charset=utf-8,{}",
                js_sys::encode_uri_component(&svg)
            ));
        }
    }
    let ui = ctx.ui.borrow();
    let Some(rec) = &ui.recording else { return };
    let (w, h) = (rec.canvas.width() as f64, rec.canvas.height() as f64);
    let Some(c2d) = super::canvas::context_2d(&rec.canvas) else {
        return;
    };
    if let Some(img) = rec.svg.borrow().as_ref() {
        let _ = c2d.draw_image_with_html_image_element_and_dw_and_dh(img, 0.0, 0.0, w, h);
    }
    let flights = web_sys::window()
        .and_then(|win| win.document())
        .and_then(|d| d.get_element_by_id("flights"))
        .and_then(|f| f.dyn_into::<HtmlCanvasElement>().ok());
    if let Some(f) = flights {
        let _ = c2d.draw_image_with_html_canvas_element_and_dw_and_dh(&f, 0.0, 0.0, w, h);
    }
}
