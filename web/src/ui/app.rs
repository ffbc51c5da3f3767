//! The root component: owns the session and the UI state, runs the animation frame loop, and
//! lays out the regions: header, palette, stage, inspector, run bar, drawers.

use super::{canvas, embedded, examples, focus, runbar, stage, tour};
#[cfg(feature = "editor")]
use super::{drawers, files, header, inspector, palette};
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
    /// The URL asked for an example that could not be opened (its tour is not taken).
    example_failed: bool,
    /// The URL's example is still on its way (the page stopped waiting for it,
    /// `crate::EXAMPLE_WAIT_MS`): it is opened when it arrives (`open_late_example`).
    late_example: Option<String>,
    example: String,
    shared: Option<crate::link::Shared>,
    embed: Option<crate::embed::EmbedOptions>,
    /// `tour`, `step=N`: take the example's tour from that step (from 0).
    tour: Option<usize>,
}

fn initial() -> Init {
    let (scenario, problem, example) = initial_scenario();
    let late_example = examples::in_query(&query_string()).filter(|n| examples::pending(n));
    let mut init = Init {
        scenario,
        example_failed: problem.is_some(),
        late_example,
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
    // The player build is loaded for embeds only; opened by any other URL, it is a player still.
    #[cfg(not(feature = "editor"))]
    if init.embed.is_none() {
        init.embed = Some(crate::embed::EmbedOptions::default());
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
    // Fetched before the app was mounted (`crate::start`).
    let wanted = examples::in_query(&query_string());
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
            None if examples::pending(&name) => (
                empty(),
                Some(format!(
                    "The example {name:?} is taking long to arrive: it opens when it does"
                )),
                String::new(),
            ),
            None => (
                empty(),
                Some(format!(
                    "{}; starting with an empty canvas",
                    examples::missing(&name)
                )),
                String::new(),
            ),
        },
    }
}

/// The page's query string (`?…`, or empty).
fn query_string() -> String {
    web_sys::window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default()
}

/// Opens the URL's example when its late document arrives, as if it had come in time (then
/// `then`: the tour asked for, or the embed's start), unless a document was opened or the
/// empty canvas drawn on meanwhile (the user's work wins). A fetch that fails is said, and an
/// embed tells its host.
fn open_late_example(ctx: &Ctx, name: String, then: impl FnOnce(&Ctx) + 'static) {
    let since = super::open::generation();
    let ctx = ctx.clone();
    wasm_bindgen_futures::spawn_local(async move {
        let fetched = examples::fetch(&name).await;
        let untouched =
            super::open::generation() == since && ctx.session.borrow().doc().nodes.is_empty();
        if !untouched {
            return;
        }
        let opened = fetched.and_then(|text| {
            let doc = Scenario::from_json(text).map_err(|d| d.to_string())?;
            super::open::open(&ctx, &doc, super::open::Source::Example(name.clone()))
        });
        match opened {
            Ok(_) => {
                ctx.notify(format!("The example {name:?} arrived: opened it"), false);
                then(&ctx);
            }
            Err(why) => {
                let p = format!("{why}; starting with an empty canvas");
                if ctx.ui.borrow().embed.is_some() {
                    embedded::post(
                        &ctx,
                        crate::embed::event("error", serde_json::json!({ "message": p })),
                    );
                }
                ctx.notify(p, true);
            }
        }
        ctx.refresh.emit(());
    });
}

/// True if the page's query has `name` (as `name` or `name=…`).
fn query_flag(name: &str) -> bool {
    query_string()
        .trim_start_matches('?')
        .split('&')
        .any(|kv| kv == name || kv.starts_with(&format!("{name}=")))
}

/// With `?trace-hash`, exposes the trace hash of the events this page has played as
/// `window.switchboardTrace` (`hash`, `events`, `complete`: whether the event log still holds
/// them all): the end-to-end tests compare the editor's and the player's builds with it.
/// `hashed` is the event count last published. It hashes the whole log again whenever new
/// events came: for tests on short runs, not for use while a long run plays.
fn publish_trace_hash(ctx: &Ctx, hashed: &mut u64) {
    let session = ctx.session.borrow();
    let t = session.timeline();
    let seen = t.derived().events_seen;
    if seen == *hashed {
        return;
    }
    *hashed = seen;
    let mut h = switchboard_core::trace::TraceHash::default();
    for e in t.log() {
        h.add(&e.event, t.sim().topology());
    }
    let complete = t.log().front().is_none_or(|e| e.ordinal == 0);
    let o = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&o, &"hash".into(), &h.to_string().into());
    let _ = js_sys::Reflect::set(&o, &"events".into(), &(t.log().len() as f64).into());
    let _ = js_sys::Reflect::set(&o, &"complete".into(), &complete.into());
    if let Some(w) = web_sys::window() {
        let _ = js_sys::Reflect::set(&w, &"switchboardTrace".into(), &o);
    }
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
            super::files::SaveState::Off
        } else {
            super::files::SaveState::Reading
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
            if let Some(p) = init.problem.clone().filter(|_| init.late_example.is_some()) {
                // Not a failure yet: said, and the host hears only if it fails.
                ctx.notify(p, false);
                ctx.refresh.emit(());
            } else if let Some(p) = init.problem.clone() {
                ctx.notify(p.clone(), true);
                if init.embed.is_some() {
                    // The host page hears it too (a bad option, an example that failed).
                    embedded::post(
                        &ctx,
                        crate::embed::event("error", serde_json::json!({ "message": p })),
                    );
                }
                ctx.refresh.emit(());
            }
            if let Some(o) = &init.embed {
                // An embedded player shows what its URL says, never the reader's saved work;
                // the tour of an example that could not be opened is not taken.
                let mut o = o.clone();
                if let Some(name) = init.late_example.clone() {
                    // Started as asked once the example is here.
                    let asked = o.clone();
                    open_late_example(&ctx, name, move |ctx| embedded::start(ctx, &asked));
                }
                if init.example_failed {
                    o.tour = None;
                }
                embedded::start(&ctx, &o);
                ctx.refresh.emit(());
            } else {
                #[cfg(feature = "editor")]
                editor_start(&ctx, &init);
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
        let trace_hash = use_mut_ref(|| query_flag("trace-hash").then_some(u64::MAX));
        let time_throttle = use_memo((), |_| embedded::time_throttle());
        // The restored (or opened) state counts as saved.
        #[cfg(feature = "editor")]
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
            #[cfg(feature = "editor")]
            super::picture::record_frame(&ctx);
            let due = ts - *last_refresh.borrow() >= REFRESH_EVERY_MS;
            if refresh_now || (due && ctx.session.borrow().timeline().is_running()) {
                *last_refresh.borrow_mut() = ts;
                ctx.refresh.emit(());
            }
            let embed = ctx.ui.borrow().embed.clone();
            match &embed {
                Some(o) => embedded::on_frame(&ctx, o, first, &time_throttle),
                #[cfg(feature = "editor")]
                None => files::autosave(&ctx, &mut saved_revision.borrow_mut()),
                #[cfg(not(feature = "editor"))]
                None => {}
            }
            if first {
                // The browser benchmark reads this: the editor is on screen.
                crate::mark("switchboard-first-render");
            }
            if let Some(hashed) = trace_hash.borrow_mut().as_mut() {
                publish_trace_hash(&ctx, hashed);
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

    let (dark, notice, embed, said) = {
        let ui = ctx.ui.borrow();
        (
            ui.dark,
            ui.notice.clone(),
            ui.embed.clone(),
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
        let editable = EditableParts::of(&ctx, o.editable);
        return html! {
            <main class={classes!("app", "embed", o.editable.then_some("editable"))} data-theme={theme}>
                <h1 class="visually-hidden">{ format!("Switchboard player: {}", ctx.session.borrow().doc().name) }</h1>
                <div class={classes!("workspace", touring.then_some("touring"), wide.then_some("wide-figure"))}>
                    if touring { { tour::render(&ctx) } } else if o.editable { { editable.palette } }
                    { stage::render(&ctx, &stage_ref, &canvas_ref) }
                    if o.editable { { editable.inspector } }
                </div>
                if controls { { runbar::render(&ctx) } } else { { runbar::player_toggle(&ctx) } }
                { editable.ghost }
                { notice_html(notice, said) }
            </main>
        };
    }
    editor_page(&ctx, (&stage_ref, &canvas_ref), (touring, wide), dark)
}

/// The editor's page: header, palette, stage, inspector, run bar, drawers and dialogs.
#[cfg(feature = "editor")]
fn editor_page(
    ctx: &Ctx,
    refs: (&NodeRef, &NodeRef),
    (touring, wide): (bool, bool),
    dark: Option<bool>,
) -> Html {
    let (stage_ref, canvas_ref) = refs;
    let (notice, recovery, share, embed_dialog, save, said) = {
        let ui = ctx.ui.borrow();
        (
            ui.notice.clone(),
            ui.recovery.clone(),
            ui.share.clone(),
            ui.embed_dialog,
            ui.save,
            ui.announcer.said.clone(),
        )
    };
    let ctx = ctx.clone();
    let theme = theme_name(dark);
    html! {
        <main class="app" data-theme={theme} data-save={save.name()}>
            { header::header(&ctx) }
            if let Some(r) = recovery {
                { files::recovery_banner(&ctx, &r) }
            }
            if let Some(link) = share {
                { header::share_dialog(&ctx, link) }
            }
            if embed_dialog {
                { embedded::dialog(&ctx) }
            }
            <div class={classes!("workspace", touring.then_some("touring"), wide.then_some("wide-figure"))}>
                if touring { { tour::render(&ctx) } } else { { palette::render(&ctx) } }
                { stage::render(&ctx, stage_ref, canvas_ref) }
                { inspector::render(&ctx) }
            </div>
            { runbar::render(&ctx) }
            { drawers::render(&ctx) }
            { palette::ghost(&ctx) }
            { notice_html(notice, said) }
        </main>
    }
}

/// The embed player's page when the editor is not built: the player alone.
#[cfg(not(feature = "editor"))]
fn editor_page(_: &Ctx, _: (&NodeRef, &NodeRef), _: (bool, bool), _: Option<bool>) -> Html {
    Html::default()
}

/// What an editable embed adds to the player: the palette, its drag ghost and the inspector.
/// Only the editor build has them (the loader gives an editable embed the editor build).
#[derive(Default)]
struct EditableParts {
    palette: Html,
    inspector: Html,
    ghost: Html,
}

impl EditableParts {
    #[cfg(feature = "editor")]
    fn of(ctx: &Ctx, editable: bool) -> EditableParts {
        if !editable {
            return EditableParts::default();
        }
        EditableParts {
            palette: palette::render(ctx),
            inspector: inspector::render(ctx),
            ghost: palette::ghost(ctx),
        }
    }

    #[cfg(not(feature = "editor"))]
    fn of(_: &Ctx, _: bool) -> EditableParts {
        EditableParts::default()
    }
}

/// The editor's start: a shared run's notice, the saved work read back, and a tour asked for
/// by the URL.
#[cfg(feature = "editor")]
fn editor_start(ctx: &Ctx, init: &Init) {
    if init.shared.is_some() {
        ctx.notify("Opened a shared run: Play replays it as it was", false);
        ctx.refresh.emit(());
    }
    // An example still on its way counts as opened: saved work goes one Undo below it.
    let opened = init.shared.is_some() || !init.example.is_empty() || init.late_example.is_some();
    files::restore_saved_work(ctx, opened);
    if let Some(name) = init.late_example.clone() {
        let tour = init.tour;
        open_late_example(ctx, name, move |ctx| {
            if let Some(step) = tour {
                if let Err(why) = tour::start_at(ctx, step) {
                    ctx.notify(why, true);
                }
                ctx.refresh.emit(());
            }
        });
    }
    // `?example=…&tour&step=3`: the example's tour, from that step (not if the example could
    // not be opened: the problem says why).
    if let Some(step) = init.tour.filter(|_| !init.example_failed) {
        if let Err(why) = tour::start_at(ctx, step) {
            ctx.notify(why, true);
        }
        ctx.refresh.emit(());
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

/// Fits the topology in view (the header's Fit, the F key).
pub(super) fn fit_view(ctx: &Ctx) {
    ctx.dispatch(UiAction::Fit);
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
