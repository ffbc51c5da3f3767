//! The root component: owns the session and the UI state, runs the animation frame loop, and
//! lays out the regions: header, palette, stage, inspector, run bar, drawers.

use super::{
    canvas, drawers, embedded, examples, files, focus, inspector, palette, runbar, stage, tour,
};
use super::{now_ms, Ctx, Drawer, UiAction, UiState};
use crate::editor::Session;
use crate::hooks::use_animation_frame;
use crate::view::Viewport;
use switchboard_core::Scenario;
use wasm_bindgen::JsCast;
use web_sys::{HtmlCanvasElement, HtmlElement};
use yew::prelude::*;

/// How often the DOM is refreshed while playing.
const REFRESH_EVERY_MS: f64 = 100.0;
/// The most new events turned into effects per frame (the newest).
const EFFECT_EVENTS_PER_FRAME: usize = 300;
/// More new events than this in one frame is a jump (a seek, a run to a moment), not news for
/// the live region.
const HAPPENINGS_SCAN: u64 = 5_000;

/// What the page opens with: a share link, else `?example=name`, else an empty canvas. Saved
/// work is read after the page starts (`files::restore_saved_work`): it replaces the empty
/// canvas, or goes one Undo below what the URL opened. Also a problem to report, the example's
/// name, and the embed options.
struct Init {
    scenario: Scenario,
    problem: Option<String>,
    example: String,
    shared: Option<crate::link::Shared>,
    embed: Option<crate::embed::EmbedOptions>,
    /// `tour`, `step=N`: take the example's tour from that step (from 0).
    tour: Option<usize>,
}

fn initial() -> Init {
    let (scenario, problem, example) = initial_scenario();
    let mut init = Init {
        scenario,
        problem,
        example,
        shared: None,
        embed: None,
        tour: None,
    };
    let search = web_sys::window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default();
    match crate::embed::parse(&search) {
        Some(Ok(o)) => init.embed = Some(o),
        Some(Err(why)) => {
            init.embed = Some(crate::embed::EmbedOptions::default());
            init.problem = Some(format!("Embed option ignored: {why}"));
        }
        None => match crate::embed::tour_of_query(&search) {
            Ok(t) => init.tour = t,
            Err(why) => init.problem = Some(format!("Tour option ignored: {why}")),
        },
    }
    let hash = web_sys::window()
        .and_then(|w| w.location().hash().ok())
        .unwrap_or_default();
    if hash.len() > 1 {
        match crate::link::decode(&hash) {
            Ok(s) => match switchboard_core::Sim::draft(&s.doc) {
                Ok(_) => init.shared = Some(s),
                Err(d) => {
                    init.problem = Some(format!(
                        "This link cannot be opened: its scenario cannot run: {}",
                        super::diagnostics_text(&d, 5)
                    ))
                }
            },
            Err(why) => init.problem = Some(format!("This link cannot be opened: {why}")),
        }
    }
    init
}

/// The scenario the page opens with: `?example=name`, else an empty canvas.
fn initial_scenario() -> (Scenario, Option<String>, String) {
    let query = web_sys::window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default();
    let wanted = query
        .trim_start_matches('?')
        .split('&')
        .find_map(|kv| kv.strip_prefix("example="))
        .map(str::to_owned);
    let empty = || Scenario::from_json(examples::EMPTY).expect("the empty document is valid");
    match wanted {
        None => (empty(), None, String::new()),
        Some(name) => match examples::get(&name).map(Scenario::from_json) {
            Some(Ok(s)) => (s, None, name),
            Some(Err(d)) => (
                empty(),
                Some(format!("example {name:?} is invalid: {d}")),
                String::new(),
            ),
            None => (
                empty(),
                Some(format!(
                    "there is no example {name:?}; starting with an empty canvas"
                )),
                String::new(),
            ),
        },
    }
}

/// True if the page's query has `name` (as `name` or `name=…`).
fn query_flag(name: &str) -> bool {
    web_sys::window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default()
        .trim_start_matches('?')
        .split('&')
        .any(|kv| kv == name || kv.starts_with(&format!("{name}=")))
}

/// Exposes the frame work times as `window.switchboardFrameMs` for the browser benchmark.
fn publish_frames(frames: &[f64]) {
    if let Some(w) = web_sys::window() {
        let arr = js_sys::Float64Array::from(frames);
        let _ = js_sys::Reflect::set(&w, &"switchboardFrameMs".into(), &arr);
    }
}

fn prefers_reduced_motion() -> bool {
    web_sys::window()
        .and_then(|w| {
            w.match_media("(prefers-reduced-motion: reduce)")
                .ok()
                .flatten()
        })
        .is_some_and(|m| m.matches())
}

/// The root component.
#[function_component(App)]
pub fn app() -> Html {
    let init = use_memo((), |_| {
        crate::mark("switchboard-app");
        initial()
    });
    let session = use_mut_ref(|| {
        let mut s = Session::new(&init.scenario).unwrap_or_else(|_| {
            Session::new(&Scenario::from_json(examples::EMPTY).expect("valid")).expect("runs")
        });
        if let Some(shared) = &init.shared {
            // Checked in `initial`: it runs.
            let _ = s.load_run(&shared.doc, shared.edits.clone());
        }
        s
    });
    let ui = use_mut_ref(|| UiState {
        example: match &init.shared {
            Some(_) => String::new(),
            None => init.example.clone(),
        },
        viewport: init
            .shared
            .as_ref()
            .and_then(|s| s.screen_view)
            .map(|(dx, dy, scale)| crate::view::Viewport { scale, dx, dy }),
        wanted_view: match &init.shared {
            Some(s) => s.doc.view,
            None => init.scenario.view,
        },
        save: if init.embed.is_some() {
            files::SaveState::Off
        } else {
            files::SaveState::Reading
        },
        embed: init.embed.clone(),
        drawer_open: init.embed.is_none(),
        reduced_motion: prefers_reduced_motion(),
        ..UiState::default()
    });
    let counter = use_mut_ref(|| 0u64);
    let rev = use_state(|| 0u64);
    let refresh = {
        let rev = rev.setter();
        Callback::from(move |_: ()| {
            let n = {
                let mut c = counter.borrow_mut();
                *c += 1;
                *c
            };
            rev.set(n);
        })
    };
    let caches = use_mut_ref(super::Caches::default);
    let ctx = Ctx {
        session,
        ui,
        caches,
        refresh,
    };
    {
        let ctx = ctx.clone();
        use_effect_with((), move |_| {
            if let Some(p) = init.problem.clone() {
                ctx.notify(p, true);
                ctx.refresh.emit(());
            }
            if let Some(o) = &init.embed {
                // An embedded player shows what its URL says, never the reader's saved work.
                embedded::start(&ctx, o);
                ctx.refresh.emit(());
            } else {
                if init.shared.is_some() {
                    ctx.notify("Opened a shared run: Play replays it as it was", false);
                    ctx.refresh.emit(());
                }
                let opened = init.shared.is_some() || !init.example.is_empty();
                files::restore_saved_work(&ctx, opened);
                // `?example=…&tour&step=3`: the example's tour, from that step.
                if let Some(step) = init.tour {
                    if let Err(why) = tour::start_at(&ctx, step) {
                        ctx.notify(why, true);
                    }
                    ctx.refresh.emit(());
                }
            }
        });
    }
    let stage_ref = use_node_ref();
    let canvas_ref = use_node_ref();

    // The frame loop: advance the run, keep the view fitted, turn events into effects, draw
    // the canvas, and refresh the DOM a few times a second while playing.
    {
        let ctx = ctx.clone();
        let (stage_ref, canvas_ref) = (stage_ref.clone(), canvas_ref.clone());
        let last_frame = use_mut_ref(|| None::<f64>);
        let last_refresh = use_mut_ref(|| 0.0f64);
        let bench = use_mut_ref(|| query_flag("bench").then(Vec::<f64>::new));
        let time_throttle = use_memo((), |_| embedded::time_throttle());
        // The restored (or opened) state counts as saved.
        let saved_revision = use_mut_ref(|| ctx.session.borrow().revision());
        use_animation_frame(move |ts| {
            let started = now_ms();
            let first = last_frame.borrow().is_none();
            let dt = last_frame.borrow().map_or(0.0, |prev| ts - prev);
            *last_frame.borrow_mut() = Some(ts);
            // Long work (a far seek) gets a slice of every frame, so the page never freezes.
            let worked = runbar::work_slice(&ctx).map(|slice| report_work(&ctx, slice));
            let refresh_now = frame(&ctx, &stage_ref, &canvas_ref, dt, ts) || worked.is_some();
            tour::on_frame(&ctx);
            super::picture::record_frame(&ctx);
            let due = ts - *last_refresh.borrow() >= REFRESH_EVERY_MS;
            if refresh_now || (due && ctx.session.borrow().timeline().is_running()) {
                *last_refresh.borrow_mut() = ts;
                ctx.refresh.emit(());
            }
            let embed = ctx.ui.borrow().embed.clone();
            match &embed {
                Some(o) => embedded::on_frame(&ctx, o, first, &time_throttle),
                None => files::autosave(&ctx, &mut saved_revision.borrow_mut()),
            }
            if first {
                // The browser benchmark reads this: the editor is on screen.
                crate::mark("switchboard-first-render");
            }
            if let Some(frames) = bench.borrow_mut().as_mut() {
                // The browser benchmark reads each frame's work (simulate, draw, refresh).
                frames.push(now_ms() - started);
                if frames.len() % 30 == 0 {
                    publish_frames(frames);
                }
            }
        });
    }

    // An embedded player obeys its host page.
    {
        let ctx = ctx.clone();
        use_effect_with((), move |_| {
            let embedded = ctx.ui.borrow().embed.is_some();
            let cleanup = embedded.then(|| embedded::listen(&ctx));
            move || {
                if let Some(c) = cleanup {
                    c();
                }
            }
        });
    }

    // A link pasted into this tab changes only the fragment: open it as a shared run.
    {
        let ctx = ctx.clone();
        use_effect_with((), move |_| {
            let window = web_sys::window().map(Into::into);
            crate::hooks::listen(window, "hashchange", move |_| {
                let hash = web_sys::window()
                    .and_then(|w| w.location().hash().ok())
                    .unwrap_or_default();
                if hash.len() > 1 {
                    open_link(&ctx, &hash);
                }
            })
        });
    }

    // After every render: modal dialogs, focus requests, and focus that fell to the body.
    let keeper = use_mut_ref(focus::Keeper::default);
    {
        let (ctx, keeper) = (ctx.clone(), keeper.clone());
        use_effect(move || {
            focus::after_render(&ctx, &keeper);
        });
    }
    {
        let keeper = keeper.clone();
        use_effect_with((), move |_| {
            let document = web_sys::window().and_then(|w| w.document()).map(Into::into);
            crate::hooks::listen(document, "focusin", move |e| focus::remember(&keeper, &e))
        });
    }
    // Reduced motion can change while the page is open.
    {
        let ctx = ctx.clone();
        use_effect_with((), move |_| {
            let query = web_sys::window().and_then(|w| {
                w.match_media("(prefers-reduced-motion: reduce)")
                    .ok()
                    .flatten()
            });
            crate::hooks::listen(query.map(Into::into), "change", move |_| {
                ctx.dispatch(UiAction::ReducedMotion(prefers_reduced_motion()));
                ctx.refresh.emit(());
            })
        });
    }

    // Keyboard shortcuts: single keys only where the canvas or the run bar has the focus
    // (WCAG 2.1.4); Ctrl+Z and Ctrl+Y anywhere but in a field.
    {
        let ctx = ctx.clone();
        use_effect_with((), move |_| {
            let document = web_sys::window().and_then(|w| w.document()).map(Into::into);
            crate::hooks::listen(document, "keydown", move |e| {
                if let Ok(e) = e.dyn_into::<KeyboardEvent>() {
                    on_key(&ctx, &e);
                }
            })
        });
    }

    let (dark, notice, recovery, share, embed, embed_dialog, save, said) = {
        let ui = ctx.ui.borrow();
        (
            ui.dark,
            ui.notice.clone(),
            ui.recovery.clone(),
            ui.share.clone(),
            ui.embed.clone(),
            ui.embed_dialog,
            ui.save,
            ui.announcer.said.clone(),
        )
    };
    let touring = ctx.ui.borrow().tour.is_some();
    let wide = ctx
        .ui
        .borrow()
        .tour
        .as_ref()
        .is_some_and(|t| t.shows_table());
    if let Some(o) = embed {
        // The compact player: the stage, and what the options add to it.
        let controls = o.controls == crate::embed::Controls::Full;
        let theme = theme_name(dark);
        return html! {
            <main class={classes!("app", "embed", o.editable.then_some("editable"))} data-theme={theme}>
                <h1 class="visually-hidden">{ format!("Switchboard player: {}", ctx.session.borrow().doc().name) }</h1>
                <div class={classes!("workspace", touring.then_some("touring"), wide.then_some("wide-figure"))}>
                    if touring { { tour::render(&ctx) } } else if o.editable { { palette::render(&ctx) } }
                    { stage::render(&ctx, &stage_ref, &canvas_ref) }
                    if o.editable { { inspector::render(&ctx) } }
                </div>
                if controls { { runbar::render(&ctx) } } else { { runbar::player_toggle(&ctx) } }
                { palette::ghost(&ctx) }
                { notice_html(notice, said.clone()) }
            </main>
        };
    }
    let theme = theme_name(dark);
    html! {
        <main class="app" data-theme={theme} data-save={save.name()}>
            { header(&ctx) }
            if let Some(r) = recovery {
                { files::recovery_banner(&ctx, &r) }
            }
            if let Some(link) = share {
                { share_dialog(&ctx, link) }
            }
            if embed_dialog {
                { embedded::dialog(&ctx) }
            }
            <div class={classes!("workspace", touring.then_some("touring"), wide.then_some("wide-figure"))}>
                if touring { { tour::render(&ctx) } } else { { palette::render(&ctx) } }
                { stage::render(&ctx, &stage_ref, &canvas_ref) }
                { inspector::render(&ctx) }
            </div>
            { runbar::render(&ctx) }
            { drawers::render(&ctx) }
            { palette::ghost(&ctx) }
            { notice_html(notice, said.clone()) }
        </main>
    }
}

/// Reports a slice of long work to whoever asked for it: the host page of an embedded player
/// (progress, the answer, or an error), or the editor (an error as a notice).
fn report_work(ctx: &Ctx, slice: runbar::Slice) {
    let owner = ctx.ui.borrow().work_owner;
    match owner {
        Some(super::WorkOwner::Host(command)) => embedded::on_work(ctx, command, &slice),
        Some(super::WorkOwner::Scrub) | None => {
            if let runbar::Slice::Failed(e) = &slice {
                ctx.notify(format!("Stopped: {e}"), true);
            }
        }
    }
    if !matches!(slice, runbar::Slice::Progress(_)) {
        ctx.dispatch(UiAction::Work(None));
    }
}

/// The `data-theme` value: the user's choice, or the system's.
fn theme_name(dark: Option<bool>) -> &'static str {
    match dark {
        Some(true) => "dark",
        Some(false) => "light",
        None => "system",
    }
}

/// The notice area, and the page's one live region: screen readers hear each notice there,
/// with what the user did and what happened (see [`super::state::Announcer`]).
fn notice_html(notice: Option<super::Notice>, said: String) -> Html {
    html! {
        <>
        <div id="notice" class={classes!("notice", notice.as_ref().is_some_and(|n| n.error).then_some("error"))}
            hidden={notice.is_none()}>
            { notice.map(|n| n.text).unwrap_or_default() }
        </div>
        <div id="announcer" class="visually-hidden" role="status" aria-live="polite" aria-atomic="true">{ said }</div>
        </>
    }
}

fn share_dialog(ctx: &Ctx, link: String) -> Html {
    let close = {
        let ctx = ctx.clone();
        Callback::from(move |_: MouseEvent| {
            ctx.dispatch(UiAction::Share(None));
            ctx.refresh.emit(());
        })
    };
    let copy = {
        let (ctx, link) = (ctx.clone(), link.clone());
        Callback::from(move |_: MouseEvent| {
            // navigator.clipboard may be missing (insecure origin); the field is selectable.
            let clipboard = web_sys::window()
                .and_then(|w| js_sys::Reflect::get(&w, &"navigator".into()).ok())
                .and_then(|n| js_sys::Reflect::get(&n, &"clipboard".into()).ok())
                .filter(|c| !c.is_undefined());
            let copied = clipboard
                .and_then(|c| {
                    let f = js_sys::Reflect::get(&c, &"writeText".into()).ok()?;
                    let f: js_sys::Function = f.dyn_into().ok()?;
                    let promise: js_sys::Promise =
                        f.call1(&c, &link.clone().into()).ok()?.dyn_into().ok()?;
                    // A refusal (no permission) must not surface as an unhandled rejection.
                    wasm_bindgen_futures::spawn_local(async move {
                        let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
                    });
                    Some(())
                })
                .is_some();
            ctx.notify(
                if copied {
                    "Link copied"
                } else {
                    "Copy the link from the field"
                },
                false,
            );
            ctx.refresh.emit(());
        })
    };
    let select_all = Callback::from(|e: FocusEvent| {
        let el: web_sys::HtmlInputElement = e.target_unchecked_into();
        el.select();
    });
    let cancel = {
        let ctx = ctx.clone();
        Callback::from(move |e: Event| {
            e.prevent_default();
            ctx.dispatch(UiAction::Share(None));
            ctx.refresh.emit(());
        })
    };
    html! {
        <dialog id="share-dialog" class="modal share-dialog" aria-labelledby="share-title" oncancel={cancel}>
            <h2 id="share-title">{ "Share this run" }</h2>
            <p>{ "The link carries the whole scenario, its seed, every edit and fault, and the view. Opening it replays the run event for event. Nothing is uploaded." }</p>
            <input id="share-link" readonly=true value={link.clone()} onfocus={select_all} aria-label="Link" />
            <p class="muted">{ format!("{} characters", link.len()) }</p>
            <div class="dialog-actions">
                <button data-action="copy-link" onclick={copy}>{ "Copy" }</button>
                <button data-action="close-share" onclick={close}>{ "Close" }</button>
            </div>
        </dialog>
    }
}

/// One animation frame. Returns true if the DOM should be refreshed now.
fn frame(ctx: &Ctx, stage_ref: &NodeRef, canvas_ref: &NodeRef, dt: f64, ts: f64) -> bool {
    let mut session = ctx.session.borrow_mut();
    let ticked = session.timeline_mut().tick(dt);
    let stage = stage_ref
        .cast::<HtmlElement>()
        .map_or(ctx.ui.borrow().stage, |el| {
            let r = el.get_bounding_client_rect();
            (r.width(), r.height(), r.left(), r.top())
        });
    let scene = session.scene();
    // The newest events become effects (not while paused with reduced motion: a still page
    // stays still).
    let t = session.timeline();
    let seen = t.derived().events_seen;
    let (effects_seen, reduced_motion) = {
        let ui = ctx.ui.borrow();
        (ui.effects_seen, ui.reduced_motion)
    };
    let effects = if seen > effects_seen && (!reduced_motion || t.is_running() || dt == 0.0) {
        let new = (seen - effects_seen).min(EFFECT_EVENTS_PER_FRAME as u64) as usize;
        let log = t.log();
        let start = log.len().saturating_sub(new);
        let events = log.range(start..).map(|e| &e.event);
        crate::effects::of_events(events, &scene, t.sim().topology(), ts)
    } else {
        Vec::new()
    };
    // What happened, for the live region: only as the run plays or steps (a seek's jump is
    // not news), and only since the last frame.
    if seen > effects_seen && seen - effects_seen <= HAPPENINGS_SCAN && t.pending_work().is_none() {
        let log = t.log();
        let start = log.len().saturating_sub((seen - effects_seen) as usize);
        let events = log.range(start..).map(|e| &e.event);
        for said in crate::describe::happenings(events, t.sim().topology()) {
            ctx.announce(said);
        }
    }
    let refresh = ctx.dispatch(UiAction::Frame(super::state::Frame {
        now: ts,
        stage,
        bounds: scene.bounds,
        empty: scene.nodes.iter().all(Option::is_none),
        events_seen: seen,
        effects,
        replay_failed: ticked.err().map(|e| e.to_string()),
    }));
    if ctx.ui.borrow().focus_bind {
        // A new binding dialog takes the focus, so the keyboard can answer it.
        let input = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.query_selector("#bind-key, #bind-args").ok().flatten())
            .and_then(|e| e.dyn_into::<HtmlElement>().ok());
        if let Some(el) = input {
            let _ = el.focus();
            ctx.dispatch(UiAction::BindingFocused);
        }
    }
    if let Some(c) = canvas_ref.cast::<HtmlCanvasElement>() {
        let ui = ctx.ui.borrow();
        let vp = ui.viewport.unwrap_or(Viewport::IDENTITY);
        canvas::draw(&c, &session, &ui, &scene, vp, ts);
    }
    refresh
}

fn header(ctx: &Ctx) -> Html {
    let (can_undo, can_redo, title) = {
        let s = ctx.session.borrow();
        (s.can_undo(), s.can_redo(), s.doc().name)
    };
    let (current, recent) = {
        let ui = ctx.ui.borrow();
        let recent: Vec<(usize, String)> = ui
            .recent
            .iter()
            .enumerate()
            .map(|(i, r)| (i, recent_label(r)))
            .collect();
        (ui.example.clone(), recent)
    };
    let on_example = {
        let ctx = ctx.clone();
        Callback::from(move |e: Event| {
            let select: web_sys::HtmlSelectElement = e.target_unchecked_into();
            let value = select.value();
            match value.strip_prefix("recent:") {
                Some(i) => {
                    if let Ok(i) = i.parse() {
                        open_recent(&ctx, i);
                    }
                }
                None => open_example(&ctx, &value),
            }
        })
    };
    let act = |f: fn(&Ctx)| {
        let ctx = ctx.clone();
        Callback::from(move |_: MouseEvent| f(&ctx))
    };
    html! {
        <header class="app-header">
            <h1>{ "Switchboard" }</h1>
            <span class="scenario-name" title="The scenario">{ title }</span>
            <label class="examples">{ "Open " }
                <select id="examples" onchange={on_example} aria-label="Open an example">
                    <option value="" selected={current.is_empty()}>{ "Empty canvas" }</option>
                    { for examples::titles().iter().map(|(name, title)| html! {
                        <option value={*name} selected={current == *name}>{ title.clone() }</option>
                    }) }
                    if !recent.is_empty() {
                        <optgroup label="Recent work (replaced by opening something else)">
                            { for recent.into_iter().map(|(i, label)| html! {
                                <option value={format!("recent:{i}")} selected=false>{ label }</option>
                            }) }
                        </optgroup>
                    }
                </select>
            </label>
            { tour::start_button(ctx) }
            <div class="header-actions">
                <button data-action="undo" disabled={!can_undo} title="Undo (Ctrl+Z)" onclick={act(undo)}
                    data-focus-fallback="[data-action=redo]:not(:disabled)">{ "Undo" }</button>
                <button data-action="redo" disabled={!can_redo} title="Redo (Ctrl+Shift+Z)" onclick={act(redo)}
                    data-focus-fallback="[data-action=undo]:not(:disabled)">{ "Redo" }</button>
                <button data-action="fit" title="Fit the topology in view (F)" onclick={act(fit_view)}>{ "Fit" }</button>
                <button data-action="share" title="A link that carries this whole run" onclick={act(open_share)}>{ "Share" }</button>
                <button data-action="embed" title="An iframe snippet for articles and docs" onclick={act(open_embed)}>{ "Embed" }</button>
                { file_menu(ctx) }
                <input id="import-file" type="file" accept=".json,application/json" hidden=true onchange={files::on_file_chosen(ctx)} />
                <button data-action="theme" title="Light or dark theme" onclick={act(toggle_theme)}>{ "Theme" }</button>
            </div>
        </header>
    }
}

/// Replaces the document with the example `name` (`""`: the empty canvas); the work it
/// replaces is kept.
pub fn open_example(ctx: &Ctx, name: &str) {
    let text = if name.is_empty() {
        Some(examples::EMPTY)
    } else {
        examples::get(name)
    };
    let Some(text) = text else {
        ctx.notify(format!("There is no example {name:?}"), true);
        ctx.refresh.emit(());
        return;
    };
    let result = Scenario::from_json(text)
        .map_err(|d| d.to_string())
        .and_then(|s| super::open::open(ctx, &s, super::open::Source::Example(name.to_owned())));
    match result {
        Ok(true) => ctx.notify(
            format!("Opened the example.{}", super::open::kept_note(true)),
            false,
        ),
        Ok(false) => {
            ctx.dispatch(UiAction::ClearNotice);
        }
        Err(e) => ctx.notify(format!("Could not open it: {e}"), true),
    }
    ctx.refresh.emit(());
}

/// Opens the recent document at `index` (newest first); the work it replaces is kept too.
fn open_recent(ctx: &Ctx, index: usize) {
    let Some(r) = ctx.ui.borrow().recent.get(index).cloned() else {
        return;
    };
    match super::open::open(ctx, &r.doc, super::open::Source::Recent) {
        Ok(had_work) => ctx.notify(
            format!(
                "Opened {:?} from recent work.{}",
                r.doc.name,
                super::open::kept_note(had_work)
            ),
            false,
        ),
        Err(e) => ctx.notify(format!("Could not open it: {e}"), true),
    }
    ctx.refresh.emit(());
}

/// A recent document in the Open menu: its name, its size and when it was replaced.
fn recent_label(r: &crate::persist::Recent) -> String {
    let date = js_sys::Date::new(&r.at_ms.into());
    let name = if r.doc.name.is_empty() {
        "Untitled"
    } else {
        r.doc.name.as_str()
    };
    format!(
        "{name} ({} nodes), {:02}:{:02}",
        r.doc.nodes.len(),
        date.get_hours(),
        date.get_minutes()
    )
}

/// Undo, reporting a refusal.
pub fn undo(ctx: &Ctx) {
    let r = ctx.session.borrow_mut().undo();
    after_history(ctx, r, "Undo");
}

/// Redo, reporting a refusal.
pub fn redo(ctx: &Ctx) {
    let r = ctx.session.borrow_mut().redo();
    after_history(ctx, r, "Redo");
}

fn after_history(ctx: &Ctx, r: Result<bool, crate::editor::EditError>, what: &str) {
    match r {
        Ok(true) => {
            ctx.dispatch(UiAction::HistoryMoved);
            ctx.announce(if what == "Undo" { "Undone" } else { "Redone" });
        }
        Ok(false) => ctx.notify(format!("{what}: nothing to {}", what.to_lowercase()), false),
        Err(e) => ctx.notify(format!("{what} refused: {e}"), true),
    }
    ctx.refresh.emit(());
}

/// Opens a share link's run over the current work (which stays one undo step away).
fn open_link(ctx: &Ctx, fragment: &str) {
    match crate::link::decode(fragment) {
        Ok(shared) => {
            let source = super::open::Source::Link {
                edits: shared.edits,
                screen_view: shared.screen_view,
            };
            match super::open::open(ctx, &shared.doc, source) {
                Ok(had_work) => ctx.notify(
                    format!(
                        "Opened a shared run: Play replays it as it was.{}",
                        super::open::kept_note(had_work)
                    ),
                    false,
                ),
                Err(e) => ctx.notify(format!("This link cannot be opened: {e}"), true),
            }
        }
        Err(why) => ctx.notify(format!("This link cannot be opened: {why}"), true),
    }
    ctx.refresh.emit(());
}

/// A menu item: its `data-action`, its label, its title, and what it does.
type MenuItem = (&'static str, &'static str, &'static str, fn(&Ctx));

/// The File menu, as the ARIA menu button pattern has it: the button opens the menu with the
/// focus on its first item (Enter, Space, Arrow Down; Arrow Up: the last); arrows, Home and
/// End move between items; Escape closes it and gives the focus back to the button; Tab, or
/// the focus leaving, closes it.
fn file_menu(ctx: &Ctx) -> Html {
    let open = ctx.ui.borrow().menu_open;
    let items: [MenuItem; 6] = [
        (
            "export",
            "Export scenario (.json)",
            "Download the scenario as a JSON file (the CLI runs it too)",
            files::export,
        ),
        (
            "import",
            "Import scenario or definitions.json…",
            "Open a scenario file, or a RabbitMQ definitions.json",
            pick_file,
        ),
        (
            "export-definitions",
            "Export RabbitMQ definitions.json",
            "The exchanges, queues and bindings for rabbitmqctl import_definitions",
            files::export_definitions,
        ),
        (
            "export-svg",
            "Picture as SVG",
            "A picture of the canvas",
            super::picture::export_svg,
        ),
        (
            "export-png",
            "Picture as PNG",
            "A picture of the canvas",
            super::picture::export_png,
        ),
        (
            "record",
            "Record 5 s as WebM",
            "A short animation of the running view, for slides and chat",
            super::picture::start_recording,
        ),
    ];
    let set_open = |ctx: &Ctx, open: bool, focus: Option<&str>| {
        ctx.dispatch(UiAction::Menu(open));
        if let Some(f) = focus {
            ctx.focus(super::Focus::Css(f.to_owned()));
        }
        ctx.refresh.emit(());
    };
    let on_button = {
        let ctx = ctx.clone();
        Callback::from(move |_: MouseEvent| {
            let open = !ctx.ui.borrow().menu_open;
            set_open(&ctx, open, open.then_some("#file-menu [role=menuitem]"));
        })
    };
    let on_button_key = {
        let ctx = ctx.clone();
        Callback::from(move |e: KeyboardEvent| match e.key().as_str() {
            "ArrowDown" => {
                e.prevent_default();
                set_open(&ctx, true, Some("#file-menu [role=menuitem]"));
            }
            "ArrowUp" => {
                e.prevent_default();
                set_open(&ctx, true, Some("#file-menu [role=menuitem]:last-child"));
            }
            _ => {}
        })
    };
    let on_menu_key = {
        let ctx = ctx.clone();
        Callback::from(move |e: KeyboardEvent| {
            let Some(item) = e
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            else {
                return;
            };
            let sibling = |next: bool| {
                let s = if next {
                    item.next_element_sibling()
                } else {
                    item.previous_element_sibling()
                };
                s.or_else(|| {
                    let menu = item.parent_element()?;
                    if next {
                        menu.first_element_child()
                    } else {
                        menu.last_element_child()
                    }
                })
            };
            let to = match e.key().as_str() {
                "ArrowDown" => sibling(true),
                "ArrowUp" => sibling(false),
                "Home" => item.parent_element().and_then(|m| m.first_element_child()),
                "End" => item.parent_element().and_then(|m| m.last_element_child()),
                "Escape" => {
                    e.prevent_default();
                    e.stop_propagation();
                    set_open(&ctx, false, Some("#file-menu-button"));
                    return;
                }
                "Tab" => {
                    set_open(&ctx, false, None);
                    return;
                }
                _ => return,
            };
            e.prevent_default();
            if let Some(to) = to {
                super::focus::focus_element(&to);
            }
        })
    };
    // The focus leaving the menu (a click elsewhere, Shift+Tab) closes it.
    let on_focus_out = {
        let ctx = ctx.clone();
        Callback::from(move |e: FocusEvent| {
            let inside = e
                .related_target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .is_some_and(|t| t.closest("#file-menu").ok().flatten().is_some());
            if !inside && ctx.ui.borrow().menu_open {
                ctx.dispatch(UiAction::Menu(false));
                ctx.refresh.emit(());
            }
        })
    };
    html! {
        <div class="file-menu" id="file-menu" onfocusout={on_focus_out}>
            <button id="file-menu-button" data-action="file-menu" title="Export and import"
                aria-haspopup="menu" aria-expanded={open.to_string()} aria-controls="file-menu-items"
                onclick={on_button} onkeydown={on_button_key}>{ "File" }</button>
            <div class="menu" id="file-menu-items" role="menu" aria-labelledby="file-menu-button" hidden={!open} onkeydown={on_menu_key}>
                { for items.iter().map(|&(action, label, title, f)| {
                    let ctx = ctx.clone();
                    let onclick = Callback::from(move |_: MouseEvent| {
                        ctx.dispatch(UiAction::Menu(false));
                        ctx.focus(super::Focus::Css("#file-menu-button".into()));
                        f(&ctx);
                        ctx.refresh.emit(());
                    });
                    html! { <button role="menuitem" tabindex="-1" data-action={action} {title} {onclick}>{ label }</button> }
                }) }
            </div>
        </div>
    }
}

fn open_embed(ctx: &Ctx) {
    ctx.dispatch(UiAction::EmbedDialog(true));
    ctx.refresh.emit(());
}

fn open_share(ctx: &Ctx) {
    let (mut doc, edits) = ctx.session.borrow().shared_run();
    doc.view = ctx.ui.borrow().saved_view();
    let fragment = crate::link::encode(&doc, &edits);
    let base = web_sys::window()
        .and_then(|w| w.location().href().ok())
        .unwrap_or_default();
    let base = base.split('#').next().unwrap_or_default().to_owned();
    ctx.dispatch(UiAction::Share(Some(format!("{base}#{fragment}"))));
    ctx.refresh.emit(());
}

fn pick_file(_: &Ctx) {
    let input = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("import-file"))
        .and_then(|e| e.dyn_into::<HtmlElement>().ok());
    if let Some(i) = input {
        i.click();
    }
}

fn fit_view(ctx: &Ctx) {
    ctx.dispatch(UiAction::Fit);
    ctx.refresh.emit(());
}

fn toggle_theme(ctx: &Ctx) {
    {
        let system_dark = web_sys::window()
            .and_then(|w| w.match_media("(prefers-color-scheme: dark)").ok().flatten())
            .is_some_and(|m| m.matches());
        let dark = ctx.ui.borrow().dark;
        ctx.dispatch(UiAction::Theme(Some(!dark.unwrap_or(system_dark))));
    }
    ctx.refresh.emit(());
}

fn typing(e: &KeyboardEvent) -> bool {
    e.target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .is_some_and(|el| matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT"))
}

/// Where a key was pressed: single-key shortcuts act only on the canvas and the run bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scope {
    /// The canvas, a node or an edge on it.
    Canvas,
    /// The run bar.
    Runbar,
    /// The inspector.
    Inspector,
    /// A modal dialog: it handles its own keys.
    Dialog,
    /// Anywhere else (the header, the drawers, nothing).
    Elsewhere,
}

fn scope(e: &KeyboardEvent) -> Scope {
    let Some(el) = e
        .target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
    else {
        return Scope::Elsewhere;
    };
    let within = |sel: &str| el.closest(sel).ok().flatten().is_some();
    if within("dialog") {
        Scope::Dialog
    } else if within("#stage") {
        Scope::Canvas
    } else if within(".runbar") {
        Scope::Runbar
    } else if within("#inspector") {
        Scope::Inspector
    } else {
        Scope::Elsewhere
    }
}

#[allow(clippy::collapsible_match)]
fn on_key(ctx: &Ctx, e: &KeyboardEvent) {
    let key = e.key();
    let ctrl = e.ctrl_key() || e.meta_key();
    let scope = scope(e);
    if scope == Scope::Dialog {
        return;
    }
    let editing_key = ctrl
        || matches!(
            key.as_str(),
            "Delete"
                | "Backspace"
                | "ArrowLeft"
                | "ArrowRight"
                | "ArrowUp"
                | "ArrowDown"
                | "i"
                | "I"
        );
    if ctx.read_only() && editing_key {
        return;
    }
    if ctrl && (key == "z" || key == "Z") {
        if typing(e) {
            return;
        }
        e.prevent_default();
        if e.shift_key() {
            redo(ctx)
        } else {
            undo(ctx)
        }
        return;
    }
    if ctrl && key == "y" && !typing(e) {
        e.prevent_default();
        redo(ctx);
        return;
    }
    if key == "Escape" {
        // First, long work under way stops where it got to.
        if runbar::cancel_work(ctx) {
            return;
        }
        match scope {
            // From the inspector, back to what it shows on the canvas.
            Scope::Inspector => {
                let to = super::Focus::of(&ctx.ui.borrow().selection);
                ctx.dispatch(UiAction::FocusOn(to));
            }
            Scope::Canvas => {
                ctx.dispatch(UiAction::Escape);
            }
            Scope::Runbar | Scope::Elsewhere | Scope::Dialog => {
                ctx.dispatch(UiAction::Menu(false));
            }
        }
        ctx.refresh.emit(());
        return;
    }
    if typing(e) || ctrl || e.alt_key() || !matches!(scope, Scope::Canvas | Scope::Runbar) {
        return;
    }
    match key.as_str() {
        " " => {
            // Buttons handle their own Space; elsewhere it plays and pauses.
            let on_button = e
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .is_some_and(|el| el.tag_name() == "BUTTON");
            if !on_button {
                e.prevent_default();
                runbar::toggle(ctx);
            }
        }
        "." => runbar::step(ctx),
        "," => runbar::step_back(ctx),
        "f" | "F" => fit_view(ctx),
        "l" | "L" => {
            ctx.dispatch(UiAction::ShowDrawer(Drawer::Events));
            ctx.refresh.emit(());
        }
        "Delete" | "Backspace" if scope == Scope::Canvas => {
            e.prevent_default();
            stage::delete_selection(ctx);
        }
        "ArrowLeft" | "ArrowRight" | "ArrowUp" | "ArrowDown" if scope == Scope::Canvas => {
            if stage::nudge_selection(ctx, &key, e.shift_key()) {
                e.prevent_default();
            }
        }
        "i" | "I" if scope == Scope::Canvas => {
            let selected = ctx.ui.borrow().selection != super::Selection::None;
            if selected {
                e.prevent_default();
                ctx.dispatch(UiAction::FocusOn(super::Focus::Inspector));
                ctx.refresh.emit(());
            }
        }
        _ => {}
    }
}
