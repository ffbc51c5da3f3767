//! The run bar: play, pause, step back, step, restart, speed, the scrubber over the run so far,
//! and the simulated clock.

use super::Ctx;
use crate::timeline::Work;
use crate::view::{speed_label, SPEEDS};
use switchboard_core::SimTime;
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

/// Play or pause.
pub fn toggle(ctx: &Ctx) {
    let said = {
        let mut s = ctx.session.borrow_mut();
        let t = s.timeline_mut();
        if t.is_running() {
            t.pause();
            format!("Paused at {}", t.sim().now())
        } else {
            t.play();
            "Playing".to_owned()
        }
    };
    ctx.announce(said);
    ctx.refresh.emit(());
}

/// What the newest event was, in words: its time, its type and its fields.
fn newest_event(ctx: &Ctx) -> Option<String> {
    let s = ctx.session.borrow();
    let t = s.timeline();
    let entry = t.log().back()?;
    let line = switchboard_core::trace::event_json(&entry.event, t.sim().topology());
    let (ty, text, _) = super::drawers::describe(&line);
    Some(format!(
        "{}: {} {}",
        entry.event.at,
        ty.replace('_', " "),
        text
    ))
}

/// One event forward.
pub fn step(ctx: &Ctx) {
    let stepped = ctx.session.borrow_mut().timeline_mut().step();
    let said = if stepped {
        newest_event(ctx).unwrap_or_else(|| "Stepped".into())
    } else {
        "Nothing more happens: the run has ended".into()
    };
    ctx.announce(said);
    ctx.refresh.emit(());
}

/// One event back.
pub fn step_back(ctx: &Ctx) {
    ctx.session.borrow_mut().timeline_mut().step_back();
    let now = ctx.session.borrow().timeline().sim().now();
    ctx.announce(format!("Back one event, to {now}"));
    ctx.refresh.emit(());
}

fn restart(ctx: &Ctx) {
    let r = ctx.session.borrow_mut().restart();
    let ok = r.is_ok();
    super::stage::report(ctx, r);
    ctx.dispatch(super::UiAction::Restarted);
    if ok {
        ctx.announce("Restarted from time zero");
    }
    ctx.refresh.emit(());
}

/// Starts going to a simulated time (the scrubber). The frames do it a slice at a time
/// ([`work_slice`]), so a far seek never freezes the page; the run bar shows its progress.
pub fn seek(ctx: &Ctx, t: SimTime) {
    ctx.session.borrow_mut().timeline_mut().begin_seek(t);
    ctx.dispatch(super::UiAction::Work(Some(super::WorkOwner::Scrub)));
    ctx.refresh.emit(());
}

/// Stops the long work under way (Escape, the Cancel button); the run stays where it got to.
pub fn cancel_work(ctx: &Ctx) -> bool {
    let cancelled = ctx
        .session
        .borrow_mut()
        .timeline_mut()
        .cancel_work()
        .is_some();
    if cancelled {
        ctx.notify("Stopped; the run is where it had got to", false);
        ctx.refresh.emit(());
    }
    cancelled
}

/// Events per slice of long work; slices run until the frame's time for work is used.
const SLICE_STEPS: u64 = 20_000;
/// Milliseconds of each frame given to long work.
pub const WORK_MS_PER_FRAME: f64 = 12.0;

/// What one frame's slice of long work came to.
#[derive(Clone, Debug, PartialEq)]
pub enum Slice {
    /// More to do.
    Progress(Work),
    /// Done.
    Done,
    /// It stopped: the run could not be reproduced, or the step budget ran out.
    Failed(String),
}

/// Does the long work under way for at most [`WORK_MS_PER_FRAME`], if there is any.
pub fn work_slice(ctx: &Ctx) -> Option<Slice> {
    let mut s = ctx.session.borrow_mut();
    let t = s.timeline_mut();
    t.pending_work()?;
    let deadline = super::now_ms() + WORK_MS_PER_FRAME;
    loop {
        match t.work(SLICE_STEPS) {
            Ok(None) => return Some(Slice::Done),
            Ok(Some(w)) if super::now_ms() >= deadline => return Some(Slice::Progress(w)),
            Ok(Some(_)) => {}
            Err(e) => return Some(Slice::Failed(e.to_string())),
        }
    }
}

/// A player without controls (the host page drives it) still has one button: anything that
/// moves can be paused (WCAG 2.2.2). Small, in the corner, and in the Tab order.
pub fn player_toggle(ctx: &Ctx) -> Html {
    let running = ctx.session.borrow().timeline().is_running();
    let onclick = {
        let ctx = ctx.clone();
        Callback::from(move |_: MouseEvent| toggle(&ctx))
    };
    let (label, d) = if running {
        ("Pause", "M4 3h3v10H4zM9 3h3v10H9z")
    } else {
        ("Play", "M4 2.5v11l9-5.5z")
    };
    html! {
        <button class="player-toggle" data-action="player-toggle" aria-label={label} title={label} {onclick}>
            <svg class="icon" viewBox="0 0 16 16" aria-hidden="true"><path d={d} /></svg>
        </button>
    }
}

/// The run bar.
pub fn render(ctx: &Ctx) -> Html {
    let s = ctx.session.borrow();
    let t = s.timeline();
    let (running, speed, now, steps) = (t.is_running(), t.speed(), t.sim().now(), t.sim().steps());
    let next = t.sim().next_event_time();
    let horizon = t.horizon();
    let forked_future = !t.at_head();
    let work = t.pending_work();
    let click = |f: fn(&Ctx)| {
        let ctx = ctx.clone();
        Callback::from(move |_: MouseEvent| f(&ctx))
    };
    let on_speed = {
        let ctx = ctx.clone();
        Callback::from(move |e: Event| {
            let select: HtmlSelectElement = e.target_unchecked_into();
            if let Ok(v) = select.value().parse::<f64>() {
                ctx.session.borrow_mut().timeline_mut().set_speed(v);
                ctx.refresh.emit(());
            }
        })
    };
    let on_scrub = {
        let ctx = ctx.clone();
        Callback::from(move |e: InputEvent| {
            let input: HtmlInputElement = e.target_unchecked_into();
            if let Ok(v) = input.value().parse::<f64>() {
                seek(&ctx, SimTime(v.max(0.0) as u64));
            }
        })
    };
    let icon = |d: &'static str| {
        html! { <svg class="icon" viewBox="0 0 16 16" aria-hidden="true"><path d={d} /></svg> }
    };
    // The scrubber works in microseconds, any value (a stepped range would not reach the end).
    html! {
        <div class="runbar" role="toolbar" aria-label="Run controls">
            if running {
                <button data-action="pause" title="Pause (Space)" onclick={click(toggle)}>{ icon("M4 3h3v10H4zM9 3h3v10H9z") }{ "Pause" }</button>
            } else {
                <button data-action="play" title="Play (Space)" onclick={click(toggle)}>{ icon("M4 2.5v11l9-5.5z") }{ "Play" }</button>
            }
            <button data-action="step-back" title="Back one event (,)" onclick={click(step_back)} disabled={steps == 0}>{ icon("M13 2.5v11l-7-5.5zM2.5 3H5v10H2.5z") }{ "Back" }</button>
            <button data-action="step" title="Process exactly one event (.)" onclick={click(step)}>{ icon("M3 2.5v11l7-5.5zM11 3h2.5v10H11z") }{ "Step" }</button>
            <button data-action="restart" title="Run the canvas again from time zero" onclick={click(restart)}>{ icon("M8 2.5a5.5 5.5 0 1 1-5.2 3.7l1.9.6A3.5 3.5 0 1 0 8 4.5V7L4 3.5 8 0z") }{ "Restart" }</button>
            <label class="speed">
                { "Speed " }
                <select id="speed" onchange={on_speed} aria-label="Speed">
                    { for SPEEDS.iter().map(|&v| html! {
                        <option value={v.to_string()} selected={v == speed}>{ speed_label(v) }</option>
                    }) }
                </select>
            </label>
            <input id="scrubber" class="scrubber" type="range" min="0" max={horizon.0.to_string()} step="any"
                value={now.0.to_string()} oninput={on_scrub} aria-label="Time travel: the run so far"
                title={if forked_future { "Replaying the run's logged future; an edit here forks it" } else { "Drag back to travel in time" }} />
            <span id="clock" class="clock" role="timer" title="Simulated time"
                data-now-us={now.0.to_string()} data-steps={steps.to_string()}
                data-next-us={next.map(|t| t.0.to_string()).unwrap_or_default()}
                data-horizon-us={horizon.0.to_string()}>
                { now.to_string() }
            </span>
            <span class="steps" title={next.map(|t| format!("next event at {t}")).unwrap_or_else(|| "nothing scheduled".into())}>
                { format!("{steps} steps") }
            </span>
            if let Some(w) = work {
                <span id="work" class="work" data-fraction={format!("{:.3}", w.fraction())}>
                    { format!("Going to {}… {:.0}% ({} events)", w.target, w.fraction() * 100.0, w.steps) }
                    <button data-action="cancel-work" title="Stop here (Esc)" onclick={click(|c| { cancel_work(c); })}>{ "Cancel" }</button>
                </span>
            }
        </div>
    }
}
