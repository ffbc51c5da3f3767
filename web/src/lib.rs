//! # switchboard-web
//!
//! The playground. It owns no semantics: it renders what `switchboard-core` reports and turns
//! gestures into commands.
//!
//! - [`editor`]: the document, undo and redo, and how edits reach the running simulation;
//! - [`timeline`]: the frame-by-frame driver with checkpoints for time travel;
//! - [`models`]: what the page needs of each model (palette, settings, fields, drawing,
//!   faults), one entry per model;
//! - [`scene`], [`view`], [`effects`], [`fields`]: layout, view maths, visual effects and the
//!   inspector's field machinery;
//! - [`persist`]: the autosave format; [`link`]: share links; [`embed`]: embed options and
//!   the `postMessage` API;
//! - [`ui`]: the Yew component and the render functions of each page region.
//!
//! Everything but `ui` is plain Rust that native tests cover.

pub mod components;
pub mod describe;
pub mod editor;
pub mod effects;
pub mod embed;
pub mod fields;
pub mod hooks;
pub mod link;
pub mod models;
pub mod panic;
pub mod persist;
pub mod scene;
pub mod timeline;
pub mod ui;
pub mod view;

/// Mounts the app on `<body>`; with `?example=name`, once that example's document has been
/// fetched (the page's loader preloads it beside the wasm), so the app opens it at once. Until
/// then the first view in the HTML stays.
pub fn start() {
    mark("switchboard-start");
    panic::install();
    let query = web_sys::window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default();
    match ui::examples::in_query(&query) {
        Some(name) if ui::examples::entry(&name).is_some() => {
            // Mounted once the document is here, or after EXAMPLE_WAIT_MS whatever happens (a
            // stalled request must not leave the inert frame up): the app then says what went
            // wrong and opens the empty canvas.
            say_in_shell("Opening the example…");
            let mounted = std::rc::Rc::new(std::cell::Cell::new(false));
            let once = move || {
                if !mounted.replace(true) {
                    mount();
                }
            };
            let late = once.clone();
            gloo::timers::callback::Timeout::new(EXAMPLE_WAIT_MS, late).forget();
            wasm_bindgen_futures::spawn_local(async move {
                let _ = ui::examples::fetch(&name).await;
                once();
            });
        }
        Some(_) | None => mount(),
    }
}

/// Puts `text` in the first view's status line (its live region) while the app waits.
fn say_in_shell(text: &str) {
    if let Some(status) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.query_selector("#shell .shell-status").ok().flatten())
    {
        status.set_text_content(Some(text));
    }
}

/// How long the page waits for a `?example=` document before it starts without it, ms.
const EXAMPLE_WAIT_MS: u32 = 10_000;

/// Replaces the HTML's first view with the app.
fn mount() {
    // The first view in the HTML (index.html's `#shell`, painted before the wasm arrived) gives
    // way to the app in this same task: the browser never paints a frame with neither.
    if let Some(shell) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("shell"))
    {
        shell.remove();
    }
    yew::Renderer::<ui::app::App>::new().render();
}

/// A `performance.mark`, which the browser benchmark reads to split the first render into its
/// parts (download and compile before `switchboard-start`, then the app's own start).
pub fn mark(name: &str) {
    if let Some(p) = web_sys::window().and_then(|w| w.performance()) {
        let _ = p.mark(name);
    }
}
