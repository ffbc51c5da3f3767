//! The guided tour's panel: a scenario's `tour` (`switchboard_core::tour`) played one step at a
//! time. Each step plays to where it stops and pauses there; a step with a suggested action
//! waits until the user does it (from the inspector, the keyboard, anywhere) or presses
//! "Show me". Back returns to the moment the previous step stopped (time travel: the run is
//! sought there, exactly as it was). "Try it yourself" leaves the tour with the run where it
//! is: the scenario is the user's to change from that moment.

use super::{Ctx, Focus, UiAction};
use std::rc::Rc;
use switchboard_core::tour::{Highlight, Series, TableReading, Tour, TourStep};
use switchboard_core::SimTime;
use yew::prelude::*;

/// A step's swept chart: its series, or why the runs could not be made.
pub type Chart = Rc<Result<Vec<Series>, String>>;

/// A step's table: its cells as read from a run of the scenario, or why the run could not be
/// made.
pub type Filled = Rc<Result<TableReading, String>>;

/// Where a tour stands.
#[derive(Clone, Debug, PartialEq)]
pub struct TourState {
    /// The tour being taken.
    pub tour: Rc<Tour>,
    /// The step shown (from 0).
    pub step: usize,
    /// Where each step shown so far stopped, and how many logged edits the run had applied
    /// then (Back returns there: before the next step's action, done at the same moment).
    pub stops: Vec<(SimTime, usize)>,
    /// What the step is doing.
    pub phase: Phase,
    /// When the step began to wait for its action: an edit applied since that is the action
    /// means the user did it (wherever in the page).
    pub waiting_since: SimTime,
    /// The swept charts of the steps shown so far, by step (each run once).
    pub charts: Vec<Option<Chart>>,
    /// The tables of the steps shown so far, by step (each filled once).
    pub tables: Vec<Option<Filled>>,
    /// The table cell chosen last (row, column): the run went to its moment, and its nodes
    /// are lit with the step's.
    pub cell: Option<(usize, usize)>,
    /// The reader's own speed, given back when the tour ends (long steps play faster).
    pub speed: f64,
}

/// What a step is doing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Phase {
    /// Waiting for the user to do the step's action (or press "Show me").
    Waiting,
    /// Playing to where the step stops.
    Playing(SimTime),
    /// Stopped where the step stops: its figure is its number.
    Arrived,
}

impl TourState {
    /// The step shown.
    pub fn current(&self) -> &TourStep {
        &self.tour.steps[self.step]
    }

    /// Whether the node `name` is highlighted by the step shown, or read by the table cell
    /// chosen.
    pub fn highlights_node(&self, name: &str) -> bool {
        self.current()
            .highlight
            .iter()
            .any(|h| matches!(h, Highlight::Node(n) if n == name))
            || self.cell_nodes().any(|n| n == name)
    }

    /// The nodes the chosen table cell reads (its metric's, and its ratio's).
    fn cell_nodes(&self) -> impl Iterator<Item = &str> {
        let (row, col) = self.cell.unwrap_or((usize::MAX, usize::MAX));
        let cell = self
            .current()
            .figure
            .as_ref()
            .and_then(|f| f.table.as_ref())
            .and_then(|t| t.rows.get(row))
            .and_then(|r| r.cells.get(col));
        cell.into_iter().flat_map(|c| {
            [
                c.node.as_deref(),
                c.per.as_ref().and_then(|p| p.node.as_deref()),
            ]
            .into_iter()
            .flatten()
        })
    }

    /// The step shown's table, once filled.
    fn filled(&self) -> Option<Filled> {
        self.tables.get(self.step).cloned().flatten()
    }

    /// Whether the step shown has a table (the panel is wider for it).
    pub fn shows_table(&self) -> bool {
        self.current()
            .figure
            .as_ref()
            .is_some_and(|f| f.table.is_some())
    }

    /// Whether the edge from `from` to `to` is highlighted by the step shown.
    pub fn highlights_edge(&self, from: &str, to: &str) -> bool {
        self.current()
            .highlight
            .iter()
            .any(|h| matches!(h, Highlight::Edge { from: f, to: t } if f == from && t == to))
    }
}

/// Starts the tour of the document on the canvas, from the beginning of its run: an example
/// is opened afresh; other work restarts from time zero.
pub fn start(ctx: &Ctx) {
    // The tour reopens its example as it was: fetch it first if the page lacks it (saved work
    // from an example, restored before its document arrived).
    let example = ctx.ui.borrow().example.clone();
    if super::examples::entry(&example).is_some() && super::examples::get(&example).is_none() {
        ctx.announce("Fetching the example for its tour…");
        let ctx = ctx.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let fetched = super::examples::fetch(&example).await;
            if ctx.ui.borrow().example != example {
                return;
            }
            if let Err(why) = fetched {
                // The tour runs on the document as it is.
                ctx.notify(
                    format!("{why}: the tour restarts the document as it is"),
                    true,
                );
            }
            start_now(&ctx);
        });
        return;
    }
    start_now(ctx);
}

/// Starts the tour at its first step, its example at hand if it is one.
fn start_now(ctx: &Ctx) {
    match start_at(ctx, 0) {
        // The reader asked for it: the focus goes to the step (a tour opened by a URL leaves
        // the focus where it is, so an article embedding one is not scrolled to it).
        Ok(()) => ctx.focus(Focus::Css("#tour-title".into())),
        Err(why) => ctx.notify(why, true),
    }
    ctx.refresh.emit(());
}

/// Starts the tour at step `step` (from 0): the steps before it are taken at once, as
/// "Show me" and "Next" would (their actions done, each run to its stop), and `step` is
/// entered. An embedded player starts here (`tour`, `step=N`, the `tour` command).
pub fn start_at(ctx: &Ctx, step: usize) -> Result<(), String> {
    let has = ctx.session.borrow().has_tour();
    let Some(tour) = ctx.session.borrow().doc().tour else {
        return Err(if has {
            "This scenario's tour no longer fits it: a node or an edge it shows was removed. Undo brings it back.".into()
        } else {
            "This scenario has no tour".into()
        });
    };
    if step >= tour.steps.len() {
        return Err(format!(
            "step {}: this tour has {} steps",
            step + 1,
            tour.steps.len()
        ));
    }
    // An example changed since it was opened is opened afresh (the changes stay one Undo away);
    // otherwise the run restarts, adding nothing to Undo or Recent work.
    let example = ctx.ui.borrow().example.clone();
    let pristine = super::examples::get(&example)
        .and_then(|text| switchboard_core::Scenario::from_json(text).ok());
    let reopened = match pristine {
        Some(doc) if doc != ctx.session.borrow().doc() => {
            super::open::open(ctx, &doc, super::open::Source::Example(example)).is_ok()
        }
        Some(_) | None => false,
    };
    if !reopened {
        let r = ctx.session.borrow_mut().restart();
        r.map_err(|e| format!("The tour cannot start: {e}"))?;
        ctx.dispatch(UiAction::Restarted);
    }
    // The steps before `step`, taken at once.
    let mut stops = Vec::with_capacity(step);
    for s in &tour.steps[..step] {
        let mut session = ctx.session.borrow_mut();
        let t = session.timeline_mut();
        if let Some(c) = s.command(t.sim()) {
            t.apply(c)
                .map_err(|e| format!("The tour cannot start: {e}"))?;
        }
        let stop = s.stop(t.sim());
        t.run_to(stop)
            .map_err(|e| format!("The tour cannot start: {e}"))?;
        stops.push((stop, t.sim().edit_log().len()));
    }
    let speed = ctx.session.borrow().timeline().speed();
    let state = TourState {
        charts: vec![None; tour.steps.len()],
        tables: vec![None; tour.steps.len()],
        cell: None,
        tour: Rc::new(tour),
        step,
        stops,
        phase: Phase::Arrived,
        waiting_since: SimTime::ZERO,
        speed,
    };
    ctx.dispatch(UiAction::Tour(Some(state)));
    enter(ctx, step);
    Ok(())
}

/// Shows step `i`, from where the run is: waits for its action, or plays to its stop.
fn enter(ctx: &Ctx, i: usize) {
    let Some(mut state) = ctx.ui.borrow().tour.clone() else {
        return;
    };
    state.step = i;
    state.stops.truncate(i);
    let step = state.current().clone();
    if let Some(v) = step.view {
        ctx.dispatch(UiAction::Reframe(Some(v)));
    }
    let (now, done_ahead) = {
        let s = ctx.session.borrow();
        let t = s.timeline();
        let now = t.sim().now();
        let applied = t.sim().edit_log().len();
        // Back and then Next again: the action the user did is in the run's logged future,
        // and replays as the step plays.
        let ahead = t.edits()[applied.min(t.edits().len())..]
            .iter()
            .any(|e| e.at >= now && step.done_by(&e.command, t.sim()));
        (now, ahead)
    };
    state.waiting_since = now;
    if state.charts[i].is_none() {
        state.charts[i] = chart_of(ctx, &step);
    }
    if state.tables[i].is_none() {
        state.tables[i] = table_of(ctx, &step);
    }
    state.cell = None;
    let said = format!(
        "Step {} of {}: {}",
        i + 1,
        state.tour.steps.len(),
        step.title
    );
    if step.action.is_some() && !done_ahead {
        state.phase = Phase::Waiting;
        ctx.session.borrow_mut().timeline_mut().pause();
        ctx.dispatch(UiAction::Tour(Some(state)));
        ctx.announce(format!(
            "{said}. {}",
            step.prompt.clone().unwrap_or_default()
        ));
    } else {
        ctx.dispatch(UiAction::Tour(Some(state)));
        ctx.announce(said);
        play(ctx);
    }
}

/// Plays the step shown to where it stops.
fn play(ctx: &Ctx) {
    let Some(mut state) = ctx.ui.borrow().tour.clone() else {
        return;
    };
    let still = ctx.ui.borrow().reduced_motion;
    let stop = {
        let mut s = ctx.session.borrow_mut();
        let t = s.timeline_mut();
        let stop = state.current().stop(t.sim());
        let user_speed = state.speed;
        if still {
            // Reduced motion: the step goes straight to where it stops, without animating.
            if let Err(e) = t.run_to(stop) {
                drop(s);
                ctx.notify(format!("Stopped: {e}"), true);
            }
        } else {
            // A long step plays faster, so that it takes a few seconds to watch.
            let span = stop.0.saturating_sub(t.sim().now().0) as f64 / 1e6;
            t.set_speed(step_speed(span, user_speed));
            t.play_until(stop);
        }
        stop
    };
    state.phase = Phase::Playing(stop);
    ctx.dispatch(UiAction::Tour(Some(state)));
    arrived_check(ctx);
}

/// The longest a step takes to watch, in wall-clock seconds, when the speed allows it.
pub const STEP_WATCH_S: f64 = 8.0;

/// The speed a step of `span` simulated seconds plays at: the user's, or the slowest of the
/// run bar's speeds that shows it within [`STEP_WATCH_S`].
pub fn step_speed(span: f64, speed: f64) -> f64 {
    if span / speed <= STEP_WATCH_S {
        return speed;
    }
    crate::view::SPEEDS
        .iter()
        .copied()
        .find(|s| span / s <= STEP_WATCH_S)
        .unwrap_or(speed.max(100.0))
}

/// Does the step's action, as the user would.
pub fn show_me(ctx: &Ctx) {
    let Some(state) = ctx.ui.borrow().tour.clone() else {
        return;
    };
    let r = {
        let mut s = ctx.session.borrow_mut();
        let command = state.current().command(s.timeline().sim());
        match command {
            Some(c) => s.timeline_mut().apply(c).map_err(|e| e.to_string()),
            None => Err("what it acts on is gone".into()),
        }
    };
    match r {
        Ok(()) => {
            ctx.announce(state.current().prompt.clone().unwrap_or_default() + ": done");
            play(ctx);
            // The button is gone with the wait: the focus goes back to the step.
            ctx.focus(Focus::Css("#tour-title".into()));
        }
        Err(e) => ctx.notify(format!("Show me: {e}"), true),
    }
    ctx.refresh.emit(());
}

/// The next step (or, at the last, leaves the tour). A step still playing finishes first.
pub fn next(ctx: &Ctx) {
    let Some(state) = ctx.ui.borrow().tour.clone() else {
        return;
    };
    if let Phase::Playing(stop) = state.phase {
        // Finish this step at once; its stop is where the next one starts.
        let r = ctx.session.borrow_mut().timeline_mut().run_to(stop);
        if let Err(e) = r {
            ctx.notify(format!("Stopped: {e}"), true);
        }
        arrived_check(ctx);
    }
    let Some(state) = ctx.ui.borrow().tour.clone() else {
        return;
    };
    if matches!(state.phase, Phase::Waiting) {
        let can = {
            let s = ctx.session.borrow();
            state.current().command(s.timeline().sim()).is_some()
        };
        if can {
            show_me(ctx);
        } else {
            // What the action acts on is gone (removed by an edit): the step plays without it.
            ctx.notify(
                "This step's action cannot be done any more: it plays without it",
                false,
            );
            play(ctx);
            ctx.refresh.emit(());
        }
        return;
    }
    if state.step + 1 >= state.tour.steps.len() {
        leave(ctx, "Tour finished");
        return;
    }
    if state.cell.is_some() {
        // A table cell took the run elsewhere: the next step starts where this one stopped.
        if let Some(&stop) = state.stops.get(state.step) {
            go_back_to(ctx, stop);
        }
    }
    enter(ctx, state.step + 1);
    ctx.focus(Focus::Css("#tour-title".into()));
    ctx.refresh.emit(());
}

/// Seeks the run to where a step stopped, before the edits logged after its first `edits`
/// (the next step's action, done at that same moment, stays in the log to replay).
fn go_back_to(ctx: &Ctx, (at, edits): (SimTime, usize)) {
    let r = ctx
        .session
        .borrow_mut()
        .timeline_mut()
        .seek_before_edit(at, edits);
    if let Err(e) = r {
        ctx.notify(format!("Stopped: {e}"), true);
    }
}

/// The previous step, as it was where it stopped.
pub fn back(ctx: &Ctx) {
    let Some(mut state) = ctx.ui.borrow().tour.clone() else {
        return;
    };
    if state.step == 0 {
        return;
    }
    let i = state.step - 1;
    let Some(&(at, edits)) = state.stops.get(i) else {
        return;
    };
    go_back_to(ctx, (at, edits));
    state.step = i;
    state.stops.truncate(i + 1);
    state.phase = Phase::Arrived;
    state.cell = None;
    if let Some(v) = state.current().view {
        ctx.dispatch(UiAction::Reframe(Some(v)));
    }
    let said = format!(
        "Back to step {} of {}: {}, at {at}",
        i + 1,
        state.tour.steps.len(),
        state.current().title
    );
    ctx.dispatch(UiAction::Tour(Some(state)));
    ctx.announce(said);
    ctx.focus(Focus::Css("#tour-title".into()));
    ctx.refresh.emit(());
}

/// Leaves the tour; the run stays where it is, the user's to change.
pub fn leave(ctx: &Ctx, said: &str) {
    let speed = ctx.ui.borrow().tour.as_ref().map(|t| t.speed);
    {
        let mut s = ctx.session.borrow_mut();
        let t = s.timeline_mut();
        t.pause();
        if let Some(speed) = speed {
            t.set_speed(speed);
        }
    }
    let now = ctx.session.borrow().timeline().sim().now();
    ctx.dispatch(UiAction::Tour(None));
    ctx.announce(format!(
        "{said}. The scenario is yours from {now}: change it, and the run goes on from there"
    ));
    ctx.focus(Focus::Stage);
    ctx.refresh.emit(());
}

/// Every frame: notices the user doing the step's action, and the step reaching its stop.
pub fn on_frame(ctx: &Ctx) {
    // Read in place: nothing is copied on a frame where nothing changes.
    let Some(phase) = ctx.ui.borrow().tour.as_ref().map(|t| t.phase) else {
        return;
    };
    match phase {
        Phase::Waiting => {
            let (done, prompt) = {
                let ui = ctx.ui.borrow();
                let Some(state) = ui.tour.as_ref() else {
                    return;
                };
                let s = ctx.session.borrow();
                let sim = s.timeline().sim();
                let done = sim
                    .edit_log()
                    .iter()
                    .rev()
                    .take_while(|e| e.at >= state.waiting_since)
                    .any(|e| state.current().done_by(&e.command, sim));
                (done, state.current().prompt.clone().unwrap_or_default())
            };
            if done {
                // Done by hand (from the inspector, say): the tour goes on, and the focus
                // comes back to it.
                ctx.announce(prompt + ": done");
                play(ctx);
                ctx.focus(Focus::Css("#tour-title".into()));
                ctx.refresh.emit(());
            }
        }
        Phase::Playing(_) => {
            if arrived_check(ctx) {
                ctx.refresh.emit(());
            }
        }
        Phase::Arrived => {}
    }
}

/// Marks the step arrived once the run has reached its stop; says so with its numbers.
fn arrived_check(ctx: &Ctx) -> bool {
    let Some(mut state) = ctx.ui.borrow().tour.clone() else {
        return false;
    };
    let Phase::Playing(stop) = state.phase else {
        return false;
    };
    let (now, running) = {
        let s = ctx.session.borrow();
        (s.timeline().sim().now(), s.timeline().is_running())
    };
    if now < stop {
        return false;
    }
    if running {
        // Played on by hand past the stop (Play forgets it): the step stops here.
        ctx.session.borrow_mut().timeline_mut().pause();
    }
    let edits = ctx.session.borrow().timeline().sim().edit_log().len();
    state.phase = Phase::Arrived;
    state.stops.truncate(state.step);
    state.stops.push((now, edits));
    let numbers = figure_words(ctx, state.current());
    // Only a player embedded in a page has someone to tell.
    let event = ctx
        .ui
        .borrow()
        .embed
        .is_some()
        .then(|| tour_event(ctx, &state));
    ctx.dispatch(UiAction::Tour(Some(state)));
    ctx.announce(format!("Stopped at {now}. {numbers}"));
    if let Some(event) = event {
        super::embedded::post(ctx, event);
    }
    true
}

/// The `tour_step` event an embedded player posts when a step stops: which step, where, and
/// its numbers.
fn tour_event(ctx: &Ctx, state: &TourState) -> serde_json::Value {
    let s = ctx.session.borrow();
    let sim = s.timeline().sim();
    let step = state.current();
    let readings = step
        .figure
        .as_ref()
        .map(|f| f.read(&switchboard_core::tour::metrics_value(sim)))
        .unwrap_or_default();
    let mut body = serde_json::json!({
        "step": state.step + 1,
        "of": state.tour.steps.len(),
        "title": step.title,
        "now_us": sim.now().0,
        "readings": readings,
    });
    if let Some(Ok(table)) = state.filled().as_deref() {
        body["table"] = serde_json::to_value(table).unwrap_or_default();
    }
    crate::embed::event("tour_step", body)
}

/// Runs a step's sweep (the scenario from the start, once per value) for its chart.
fn chart_of(ctx: &Ctx, step: &TourStep) -> Option<Chart> {
    let f = step.figure.as_ref()?;
    let sweep = f.sweep.as_ref()?;
    let s = ctx.session.borrow();
    Some(Rc::new(sweep.run(s.timeline().sim().scenario(), f)))
}

/// Fills a step's table (the scenario run from the start to the table's last moment).
fn table_of(ctx: &Ctx, step: &TourStep) -> Option<Filled> {
    let table = step.figure.as_ref()?.table.as_ref()?;
    let s = ctx.session.borrow();
    Some(Rc::new(table.run(s.timeline().sim().scenario())))
}

/// Chooses a table cell: the run goes to the moment it was read, and its nodes are lit.
fn go_to_cell(ctx: &Ctx, row: usize, col: usize) {
    let Some(mut state) = ctx.ui.borrow().tour.clone() else {
        return;
    };
    let filled = state.filled();
    let Some(Ok(table)) = filled.as_deref() else {
        return;
    };
    let (Some(r), Some(column)) = (table.rows.get(row), table.columns.get(col)) else {
        return;
    };
    let Some(cell) = r.cells.get(col) else {
        return;
    };
    let said = format!(
        "Going to {}: {}, {column}, {}",
        cell.at, r.label, cell.shown
    );
    let at = cell.at;
    state.cell = Some((row, col));
    ctx.dispatch(UiAction::Tour(Some(state)));
    super::runbar::seek(ctx, at);
    ctx.announce(said);
}

/// A table figure: a row per measure, a column per way, each cell a button that goes to the
/// moment it was read.
fn table_html(
    ctx: &Ctx,
    table: &TableReading,
    chosen: Option<(usize, usize)>,
    arrived: bool,
) -> Html {
    html! {
        <>
        <table class="tour-compare" aria-labelledby="tour-table-caption">
            <thead><tr><td></td>
                { for table.columns.iter().map(|c| html! { <th scope="col">{ c.clone() }</th> }) }</tr></thead>
            <tbody>
                { for table.rows.iter().enumerate().map(|(i, row)| html! {
                    <tr><th scope="row">{ row.label.clone() }</th>
                        { for row.cells.iter().enumerate().map(|(j, c)| {
                            let when = match c.since {
                                Some(from) => format!("from {from} to {}", c.at),
                                None => format!("at {}", c.at),
                            };
                            let onclick = {
                                let ctx = ctx.clone();
                                Callback::from(move |_: MouseEvent| go_to_cell(&ctx, i, j))
                            };
                            html! {
                                <td><button class="tour-cell" data-row={i.to_string()} data-col={j.to_string()}
                                    aria-current={(chosen == Some((i, j))).then_some("true")}
                                    disabled={!arrived}
                                    aria-label={format!("{}, read {when}: go to {}", c.shown, c.at)}
                                    title={format!("Read {when}; choose to go to {}", c.at)}
                                    {onclick}>{ c.shown.clone() }</button></td>
                            }
                        }) }</tr>
                }) }
            </tbody>
        </table>
        <p class="tour-table-hint muted">{ "Choose a number to go to the moment it was read." }</p>
        </>
    }
}

/// A swept figure as a line chart, with its numbers in a table beside it.
fn chart_html(setting: &str, series: &[Series]) -> Html {
    const W: f64 = 260.0;
    const H: f64 = 120.0;
    const LEFT: f64 = 8.0;
    const BOTTOM: f64 = 18.0;
    let Some(first) = series.first() else {
        return html! {};
    };
    let n = first.points.len().max(1);
    let max = series
        .iter()
        .flat_map(|l| l.points.iter().filter_map(|(_, r)| r.value))
        .fold(0.0f64, f64::max)
        .max(1e-9);
    let x = |i: usize| LEFT + (W - 2.0 * LEFT) * (i as f64 + 0.5) / n as f64;
    let y = |v: f64| 6.0 + (H - BOTTOM - 6.0) * (1.0 - v / max);
    let words: Vec<String> = first
        .points
        .iter()
        .map(|(v, r)| format!("{setting} {v}: {}", r.shown))
        .collect();
    let label = format!("{}: {}", first.label, words.join(", "));
    html! {
        <>
        <svg class="tour-chart" viewBox={format!("0 0 {W} {H}")} role="img" aria-label={label}>
            <line class="axis" x1={LEFT.to_string()} y1={(H - BOTTOM).to_string()} x2={(W - LEFT).to_string()} y2={(H - BOTTOM).to_string()} />
            { for series.iter().map(|line| {
                let pts: Vec<String> = line.points.iter().enumerate()
                    .filter_map(|(i, (_, r))| r.value.map(|v| format!("{:.1},{:.1}", x(i), y(v))))
                    .collect();
                html! {
                    <>
                    <polyline class="series" points={pts.join(" ")} />
                    { for line.points.iter().enumerate().filter_map(|(i, (_, r))| r.value.map(|v| html! {
                        <circle class="point" cx={format!("{:.1}", x(i))} cy={format!("{:.1}", y(v))} r="3" />
                    })) }
                    </>
                }
            }) }
            { for first.points.iter().enumerate().map(|(i, (v, _))| html! {
                <text class="tick" x={format!("{:.1}", x(i))} y={(H - 4.0).to_string()}>{ v.to_string() }</text>
            }) }
        </svg>
        <table class="tour-chart-data">
            <thead><tr><th scope="col">{ setting.to_owned() }</th>
                { for series.iter().map(|l| html! { <th scope="col">{ l.label.clone() }</th> }) }</tr></thead>
            <tbody>
                { for first.points.iter().enumerate().map(|(i, (v, _))| html! {
                    <tr><th scope="row">{ v.to_string() }</th>
                        { for series.iter().map(|l| html! { <td>{ l.points.get(i).map(|p| p.1.shown.clone()).unwrap_or_default() }</td> }) }</tr>
                }) }
            </tbody>
        </table>
        </>
    }
}

/// The step's figure in words, for the live region.
fn figure_words(ctx: &Ctx, step: &TourStep) -> String {
    let Some(f) = &step.figure else {
        return String::new();
    };
    let table = f.table.as_ref().map(|t| {
        format!(
            " A table of {} rows under {}, in the panel.",
            t.rows.len(),
            t.columns.join(", ")
        )
    });
    if f.values.is_empty() {
        return format!("{}.{}", f.label, table.unwrap_or_default());
    }
    let s = ctx.session.borrow();
    let readings = f.read(&switchboard_core::tour::metrics_value(s.timeline().sim()));
    let parts: Vec<String> = readings
        .iter()
        .map(|r| format!("{}: {}", r.label, r.shown))
        .collect();
    format!(
        "{}. {}{}",
        f.label,
        parts.join("; "),
        table.unwrap_or_default()
    )
}

/// The tour's panel.
pub fn render(ctx: &Ctx) -> Html {
    let Some(state) = ctx.ui.borrow().tour.clone() else {
        return html! {};
    };
    let step = state.current().clone();
    let total = state.tour.steps.len();
    let last = state.step + 1 == total;
    let readings = step
        .figure
        .as_ref()
        .filter(|f| !f.values.is_empty())
        .map(|f| {
            let s = ctx.session.borrow();
            (
                f.label.clone(),
                f.read(&switchboard_core::tour::metrics_value(s.timeline().sim())),
            )
        });
    let now = ctx.session.borrow().timeline().sim().now();
    let status = match state.phase {
        Phase::Waiting => "Waiting for you".to_owned(),
        Phase::Playing(stop) => format!("Playing to {stop}"),
        Phase::Arrived => format!("Stopped at {now}"),
    };
    let on = |f: fn(&Ctx)| {
        let ctx = ctx.clone();
        Callback::from(move |_: MouseEvent| f(&ctx))
    };
    let try_it = {
        let ctx = ctx.clone();
        Callback::from(move |_: MouseEvent| leave(&ctx, "Your turn"))
    };
    let on_key = {
        let ctx = ctx.clone();
        Callback::from(move |e: KeyboardEvent| {
            if e.key() == "Escape" {
                e.prevent_default();
                leave(&ctx, "Left the tour");
            }
        })
    };
    html! {
        <section class="tour-panel" aria-labelledby="tour-title" onkeydown={on_key}>
            <p class="tour-progress">
                <span id="tour-progress-text">{ format!("Step {} of {}", state.step + 1, total) }</span>
                <progress max={total.to_string()} value={(state.step + 1).to_string()} aria-labelledby="tour-progress-text"></progress>
            </p>
            <h2 id="tour-title" tabindex="-1">{ step.title.clone() }</h2>
            <p class="tour-text">{ step.text.clone() }</p>
            if let (Phase::Waiting, Some(prompt)) = (state.phase, step.prompt.clone()) {
                <div class="tour-ask">
                    <p class="tour-prompt">{ prompt }</p>
                    <button data-action="tour-show-me" onclick={on(show_me)}>{ "Show me" }</button>
                </div>
            }
            if let (Some(chart), Some(sw)) = (state.charts.get(state.step).cloned().flatten(), step.figure.as_ref().and_then(|f| f.sweep.as_ref())) {
                <figure class="tour-figure tour-sweep">
                    <figcaption>{ step.figure.as_ref().map(|f| f.label.clone()).unwrap_or_default() }</figcaption>
                    { match &*chart {
                        Ok(series) => chart_html(&sw.setting, series),
                        Err(why) => html! { <p class="field-error">{ format!("The runs could not be made: {why}") }</p> },
                    } }
                </figure>
            }
            if let (Some(filled), Some(f)) = (state.filled(), step.figure.as_ref().filter(|f| f.table.is_some())) {
                <figure class={classes!("tour-figure", "tour-table", matches!(state.phase, Phase::Arrived).then_some("arrived"))}>
                    <figcaption id="tour-table-caption">{ f.label.clone() }</figcaption>
                    { match &*filled {
                        Ok(table) => table_html(ctx, table, state.cell, matches!(state.phase, Phase::Arrived)),
                        Err(why) => html! { <p class="field-error">{ format!("The run could not be made: {why}") }</p> },
                    } }
                </figure>
            }
            if let Some((label, readings)) = readings {
                <figure class={classes!("tour-figure", matches!(state.phase, Phase::Arrived).then_some("arrived"))}>
                    <figcaption>{ label }</figcaption>
                    <dl>
                        { for readings.into_iter().map(|r| html! {
                            <div class="tour-number"><dt>{ r.label }</dt><dd>{ r.shown }</dd></div>
                        }) }
                    </dl>
                </figure>
            }
            <div class="tour-footer">
                <p class="tour-status muted">{ status }</p>
                <div class="tour-nav">
                    <button data-action="tour-back" onclick={on(back)} disabled={state.step == 0}>{ "Back" }</button>
                    <button data-action="tour-next" class="primary" onclick={on(next)}>{ if last { "Finish" } else { "Next" } }</button>
                </div>
                <button data-action="tour-try" class="tour-try" onclick={try_it}
                    title="Leave the tour with the run where it is, and change the scenario yourself">{ "Try it yourself" }</button>
            </div>
        </section>
    }
}

/// The header's button that starts the tour of the document on the canvas, if it has one.
pub fn start_button(ctx: &Ctx) -> Html {
    let touring = ctx.ui.borrow().tour.is_some();
    let has = ctx.session.borrow().has_tour();
    if touring || !has {
        return html! {};
    }
    let ctx = ctx.clone();
    let onclick = Callback::from(move |_: MouseEvent| start(&ctx));
    html! {
        <button data-action="tour-start" class="primary" {onclick}
            title="A guided tour of this scenario: it plays, stops where something happens, and explains it">{ "Take the tour" }</button>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_step_plays_faster_and_a_short_one_at_the_users_speed() {
        assert_eq!(step_speed(5.0, 1.0), 1.0);
        assert_eq!(step_speed(18.0, 1.0), 5.0);
        assert_eq!(step_speed(18.0, 10.0), 10.0, "never slower than the user's");
        assert_eq!(step_speed(600.0, 1.0), 100.0);
        assert_eq!(step_speed(0.0, 0.25), 0.25);
    }
}
