//! The embedded player: its options applied, the `postMessage` listener for host commands,
//! the events it posts back, and the Embed dialog that writes the iframe snippet.

use super::runbar::Slice;
use super::{now_ms, Ctx, UiAction, WorkOwner};
use crate::embed::{self, Controls, EmbedOptions, HostCommand};
use serde_json::{json, Value};
use std::cell::Cell;
use std::rc::Rc;
use switchboard_core::{Scenario, SimTime};
use wasm_bindgen::JsCast;
use web_sys::MessageEvent;
use yew::prelude::*;

/// How often `time` events are posted while playing, ms.
pub const TIME_EVERY_MS: f64 = 250.0;

/// Applies the options once the scenario is loaded: speed, start, autoplay. Nothing is
/// processed here: with `start`, the player runs there a slice per frame (reporting
/// `progress`), and `ready` comes when it is there; otherwise `ready` describes time zero
/// before any event.
pub fn start(ctx: &Ctx, o: &EmbedOptions) {
    ctx.session.borrow_mut().timeline_mut().set_speed(o.speed);
    if let Some(step) = o.tour {
        // The tour drives the run: `start`, `autoplay`, `end` and `loop` do not apply. Without
        // a tour (or that step), the player runs by its other options.
        match super::tour::start_at(ctx, step) {
            Ok(()) => return,
            Err(why) => {
                ctx.notify(why.clone(), true);
                post(ctx, embed::event("error", json!({ "message": why })));
            }
        }
    }
    let mut s = ctx.session.borrow_mut();
    let t = s.timeline_mut();
    if o.start > SimTime::ZERO {
        t.begin_run_to(o.start);
        ctx.dispatch(UiAction::Work(Some(WorkOwner::Host("start"))));
    } else if autoplays(ctx, o) {
        t.play();
    }
}

/// Whether the player starts by itself: `autoplay`, unless the reader asked for reduced
/// motion (then nothing moves until they press Play).
pub fn autoplays(ctx: &Ctx, o: &EmbedOptions) -> bool {
    o.autoplay && !ctx.ui.borrow().reduced_motion
}

/// Posts an event to the host page (the parent window), to the configured origin or any.
pub fn post(ctx: &Ctx, event: Value) {
    let Some(w) = web_sys::window() else { return };
    let Ok(Some(parent)) = w.parent() else { return };
    if parent == w {
        return;
    }
    let target = ctx
        .ui
        .borrow()
        .embed
        .as_ref()
        .and_then(|o| o.origin.clone())
        .unwrap_or_else(|| "*".into());
    // Plain objects, as JSON would give (not JS Maps).
    let serializer = serde_wasm_bindgen::Serializer::json_compatible();
    if let Ok(v) = serde::Serialize::serialize(&event, &serializer) {
        let _ = parent.post_message(&v, &target);
    }
}

fn clock(ctx: &Ctx) -> Value {
    let s = ctx.session.borrow();
    let t = s.timeline();
    json!({
        "now_us": t.sim().now().0,
        "steps": t.sim().steps(),
        "running": t.is_running(),
        "horizon_us": t.horizon().0,
    })
}

/// How often `progress` events are posted during long work, ms.
pub const PROGRESS_EVERY_MS: f64 = 250.0;

/// Reports a slice of long work the host (or an option) asked for: `progress` now and then,
/// then the answer (`time` for a seek or on reaching `end`, `ready` for a load or the start;
/// with `loop`, playing again from `start`), or an `error` that says why it stopped.
pub fn on_work(ctx: &Ctx, command: &'static str, slice: &Slice) {
    match slice {
        Slice::Progress(w) => {
            let now = now_ms();
            if now - ctx.ui.borrow().work_posted_ms < PROGRESS_EVERY_MS {
                return;
            }
            ctx.dispatch(UiAction::WorkPosted(now));
            post(
                ctx,
                embed::event(
                    "progress",
                    json!({
                        "command": command, "now_us": w.now.0, "target_us": w.target.0,
                        "steps": w.steps, "fraction": w.fraction(),
                    }),
                ),
            );
        }
        Slice::Done => {
            match command {
                "seek" | "end" => {
                    post(ctx, embed::event("time", clock(ctx)));
                    return;
                }
                "loop" => {
                    ctx.session.borrow_mut().timeline_mut().play();
                    return;
                }
                _ => {}
            }
            let autoplay = ctx
                .ui
                .borrow()
                .embed
                .clone()
                .is_some_and(|o| autoplays(ctx, &o));
            if autoplay {
                ctx.session.borrow_mut().timeline_mut().play();
            }
            post(ctx, embed::event("ready", clock(ctx)));
        }
        Slice::Failed(why) => post(
            ctx,
            embed::event("error", json!({ "message": why, "command": command })),
        ),
    }
}

/// Stops the host's long work under way, if any, and says so with a `cancelled` event: the
/// player stays paused where the work had got to.
fn cancel_host_work(ctx: &Ctx) {
    let owner = ctx.ui.borrow().work_owner;
    let Some(WorkOwner::Host(command)) = owner else {
        return;
    };
    let cancelled = ctx.session.borrow_mut().timeline_mut().cancel_work();
    ctx.dispatch(UiAction::Work(None));
    // The player's own work (back to `end`, or round to `start`) is not the host's to hear of.
    if let (Some(w), "seek" | "load" | "start") = (cancelled, command) {
        let mut fields = clock(ctx);
        fields["command"] = json!(command);
        fields["target_us"] = json!(w.target.0);
        post(ctx, embed::event("cancelled", fields));
    }
}

/// Per frame, for an embedded player: the end and loop, and `ready` and `time` events.
pub fn on_frame(ctx: &Ctx, o: &EmbedOptions, first: bool, last_time: &Cell<f64>) {
    let starting = ctx.ui.borrow().work_owner.is_some();
    if first && !starting {
        post(ctx, embed::event("ready", clock(ctx)));
    }
    let touring = ctx.ui.borrow().tour.is_some();
    if let (Some(end), false) = (o.end, touring) {
        let reached = {
            let t = ctx.session.borrow();
            t.timeline().sim().now() >= end && t.timeline().is_running()
        };
        if reached {
            // Back to the end exactly (or, looping, to the start), a slice per frame like any
            // seek: with a large backlog even a short way back re-simulates a lot.
            let (to, owner) = if o.looped {
                (o.start, "loop")
            } else {
                (end, "end")
            };
            ctx.session.borrow_mut().timeline_mut().begin_seek(to);
            ctx.dispatch(UiAction::Work(Some(WorkOwner::Host(owner))));
            // The run bar shows the pause (refreshes otherwise only come while playing).
            ctx.refresh.emit(());
        }
    }
    let running = ctx.session.borrow().timeline().is_running();
    let now = now_ms();
    if running && now - last_time.get() >= TIME_EVERY_MS {
        last_time.set(now);
        post(ctx, embed::event("time", clock(ctx)));
    }
}

/// Obeys one host command; returns the event to post back, if any. A command that arrives
/// while a long one (a far seek, a load's start) is under way cancels it first.
fn obey(ctx: &Ctx, command: HostCommand) -> Option<Value> {
    cancel_host_work(ctx);
    match command {
        HostCommand::Play => ctx.session.borrow_mut().timeline_mut().play(),
        HostCommand::Pause => ctx.session.borrow_mut().timeline_mut().pause(),
        HostCommand::Step => {
            ctx.session.borrow_mut().timeline_mut().step();
            return Some(embed::event("step", clock(ctx)));
        }
        HostCommand::Seek(t) => {
            ctx.session.borrow_mut().timeline_mut().begin_run_to(t);
            ctx.dispatch(UiAction::Work(Some(WorkOwner::Host("seek"))));
            // A near seek is done at once; a far one goes on a slice per frame.
            if let Some(slice) = super::runbar::work_slice(ctx) {
                on_work(ctx, "seek", &slice);
                if !matches!(slice, Slice::Progress(_)) {
                    ctx.dispatch(UiAction::Work(None));
                }
            }
        }
        HostCommand::Tour(step) => {
            return match super::tour::start_at(ctx, step) {
                Ok(()) => Some(embed::event("tour", clock(ctx))),
                Err(why) => Some(embed::event("error", json!({ "message": why }))),
            };
        }
        HostCommand::Load(text) => {
            let doc = match Scenario::from_json_draft(&text) {
                Ok(d) => d,
                Err(d) => {
                    return Some(embed::event(
                        "error",
                        json!({ "message": format!("the scenario cannot be loaded: {}", super::diagnostics_text(&d, 5)) }),
                    ));
                }
            };
            if let Err(e) = super::open::open(ctx, &doc, super::open::Source::Host) {
                return Some(embed::event("error", json!({ "message": e })));
            }
            let o = ctx.ui.borrow().embed.clone().unwrap_or_default();
            start(ctx, &o);
            if ctx.ui.borrow().work_owner.is_some() {
                // `ready` once the player has run to `start`.
                ctx.dispatch(UiAction::Work(Some(WorkOwner::Host("load"))));
                return None;
            }
            return Some(embed::event("ready", clock(ctx)));
        }
    }
    None
}

/// Listens for host commands while mounted. Returns the cleanup.
pub fn listen(ctx: &Ctx) -> impl FnOnce() {
    let ctx = ctx.clone();
    let window = web_sys::window().map(Into::into);
    crate::hooks::listen(window, "message", move |e| {
        let Ok(e) = e.dyn_into::<MessageEvent>() else {
            return;
        };
        let allowed = ctx
            .ui
            .borrow()
            .embed
            .as_ref()
            .and_then(|o| o.origin.clone());
        if allowed.as_ref().is_some_and(|o| *o != e.origin()) {
            return; // Not from the configured host: ignored, unanswered.
        }
        // Anything structured-cloneable may arrive; only JSON-shaped data is read.
        let Ok(data) = serde_wasm_bindgen::from_value::<Value>(e.data()) else {
            return;
        };
        let reply = match embed::parse_command(&data) {
            Ok(None) => return,
            Ok(Some(c)) => obey(&ctx, c),
            Err(why) => Some(embed::event("error", json!({ "message": why }))),
        };
        if let Some(r) = reply {
            post(&ctx, r);
        }
        ctx.refresh.emit(());
    })
}

/// The Embed dialog: options, the iframe snippet and a plain link.
pub fn dialog(ctx: &Ctx) -> Html {
    let fragment = {
        let (mut doc, edits) = ctx.session.borrow().shared_run();
        // A player frames its topology to fit its iframe, so the view is left out.
        doc.view = None;
        crate::link::encode(&doc, &edits)
    };
    let (name, opts) = {
        let s = ctx.session.borrow();
        (s.doc().name, ctx.ui.borrow().embed_draft.clone())
    };
    let base = web_sys::window()
        .and_then(|w| w.location().href().ok())
        .unwrap_or_default();
    let base = base.split(['?', '#']).next().unwrap_or_default().to_owned();
    let mut query = vec!["embed=1".to_owned()];
    if opts.autoplay {
        query.push("autoplay=1".into());
    }
    if opts.editable {
        query.push("editable=1".into());
    }
    if opts.controls == Controls::None {
        query.push("controls=none".into());
    }
    if let Some(end) = opts.end {
        query.push(format!("end={}ms", end.0 / 1000));
        if opts.looped {
            query.push("loop=1".into());
        }
    }
    if opts.speed != 1.0 {
        query.push(format!("speed={}", opts.speed));
    }
    let src = format!("{base}?{}#{fragment}", query.join("&"));
    let title = name.replace(['"', '<', '>', '&'], " ");
    let snippet = format!(
        "<iframe src=\"{}\" title=\"Switchboard: {title}\" width=\"800\" height=\"450\" style=\"border:0\" loading=\"lazy\"></iframe>",
        src.replace('&', "&amp;")
    );
    let toggle = |f: fn(&mut EmbedOptions)| {
        let ctx = ctx.clone();
        Callback::from(move |_: Event| {
            let mut draft = ctx.ui.borrow().embed_draft.clone();
            f(&mut draft);
            ctx.dispatch(UiAction::EmbedDraft(draft));
            ctx.refresh.emit(());
        })
    };
    let close = {
        let ctx = ctx.clone();
        Callback::from(move |_: MouseEvent| {
            ctx.dispatch(UiAction::EmbedDialog(false));
            ctx.refresh.emit(());
        })
    };
    let cancel = {
        let ctx = ctx.clone();
        Callback::from(move |e: Event| {
            // Escape: the state closes it (the browser would, behind the page's back).
            e.prevent_default();
            ctx.dispatch(UiAction::EmbedDialog(false));
            ctx.refresh.emit(());
        })
    };
    let select_all = Callback::from(|e: FocusEvent| {
        if let Some(t) = e
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlTextAreaElement>().ok())
        {
            t.select();
        }
    });
    html! {
        <dialog id="embed-dialog" class="modal share-dialog" aria-labelledby="embed-title" oncancel={cancel}>
            <h2 id="embed-title">{ "Embed this run" }</h2>
            <div class="embed-options">
                <label><input type="checkbox" id="embed-autoplay" checked={opts.autoplay} onchange={toggle(|o| o.autoplay = !o.autoplay)} />{ " autoplay" }</label>
                <label><input type="checkbox" id="embed-editable" checked={opts.editable} onchange={toggle(|o| o.editable = !o.editable)} />{ " editable" }</label>
                <label><input type="checkbox" id="embed-controls" checked={opts.controls == Controls::Full}
                    onchange={toggle(|o| o.controls = if o.controls == Controls::Full { Controls::None } else { Controls::Full })} />{ " controls" }</label>
                <label><input type="checkbox" id="embed-loop" checked={opts.looped}
                    onchange={toggle(|o| { o.looped = !o.looped; o.end = o.looped.then_some(SimTime(10_000_000)); })} />{ " loop every 10 s" }</label>
            </div>
            <label for="embed-snippet">{ "HTML for your page" }</label>
            <textarea id="embed-snippet" readonly=true rows="4" value={snippet} onfocus={select_all.clone()} />
            <label for="embed-link">{ "Plain link" }</label>
            <textarea id="embed-link" readonly=true rows="2" value={src} onfocus={select_all} />
            <p class="muted">{ "The player obeys play, pause, step, seek and load from the host page through postMessage; see docs/embedding.md." }</p>
            <div class="dialog-actions">
                <button data-action="close-embed" onclick={close}>{ "Close" }</button>
            </div>
        </dialog>
    }
}

/// Shared state for the frame loop's `time` throttle.
pub fn time_throttle() -> Rc<Cell<f64>> {
    Rc::new(Cell::new(0.0))
}
