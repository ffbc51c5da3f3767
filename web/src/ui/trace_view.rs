//! The Trace drawer: one correlation id's chain as a waterfall of spans (what each message
//! spent where: on an edge, in a queue, in a log, an attempt, a write), with the critical path
//! marked, a picker of the kept traces, and the OTLP/JSON export. The spans come from the
//! core's `TraceBook` (`Sim::traces`); this module only lays them out.
//!
//! The waterfall is a table: each row names its span and gives its start and duration as text,
//! so a screen reader reads it row by row; the bar beside them is drawn for the eye and hidden
//! from assistive technology. Nothing in it moves, so reduced motion changes nothing here.

use super::{Ctx, UiAction};
use switchboard_core::traces::{otlp, Trace, TraceBook};
use switchboard_core::{MessageId, SimTime};
use web_sys::HtmlSelectElement;
use yew::prelude::*;

/// Traces the picker lists, newest chains first.
pub const PICKER_ROWS: usize = 50;

/// Which trace the drawer shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TracePick {
    /// The trace a message belongs to (the message clicked).
    Message(MessageId),
    /// The trace of the chain with this correlation id (chosen in the picker).
    Chain(MessageId),
}

/// The trace to show: the one picked if it is kept, else the newest chain's.
pub fn chosen(book: &TraceBook, pick: Option<TracePick>) -> Option<&Trace> {
    let picked = match pick {
        Some(TracePick::Message(m)) => book.trace_of(m),
        Some(TracePick::Chain(c)) => book.trace(c),
        None => None,
    };
    picked.or_else(|| book.traces().last())
}

/// Simulated microseconds as milliseconds, to the microsecond when it has one.
fn ms(us: u64) -> String {
    if us.is_multiple_of(1_000) {
        format!("{} ms", us / 1_000)
    } else {
        format!("{:.3} ms", us as f64 / 1_000.0)
    }
}

/// The drawer.
pub fn render(ctx: &Ctx) -> Html {
    let pick = ctx.ui.borrow().trace;
    let s = ctx.session.borrow();
    let sim = s.timeline().sim();
    let Some(book) = sim.traces() else {
        return html! { <p class="muted">{ "Traces are not kept in this run." }</p> };
    };
    let Some(trace) = chosen(book, pick) else {
        return html! {
            <p class="muted" id="trace-empty">{ "No trace yet: play the run, then click a moving message or pick a chain here." }</p>
        };
    };
    let gone = matches!(pick, Some(TracePick::Message(m)) if book.trace_of(m).is_none())
        || matches!(pick, Some(TracePick::Chain(c)) if book.trace(c).is_none());
    let topo = sim.topology();
    let on_pick = {
        let ctx = ctx.clone();
        Callback::from(move |e: Event| {
            let el: HtmlSelectElement = e.target_unchecked_into();
            if let Ok(c) = el.value().parse::<u64>() {
                ctx.dispatch(UiAction::PickTrace(TracePick::Chain(MessageId(c))));
                ctx.refresh.emit(());
            }
        })
    };
    let options: Vec<Html> = book
        .traces()
        .rev()
        .take(PICKER_ROWS)
        .map(|t| {
            let root = &t.spans[0];
            let label = format!(
                "chain {} · {} at {}",
                t.correlation.0,
                otlp::span_name(root, topo),
                root.start
            );
            html! {
                <option value={t.correlation.0.to_string()} selected={t.correlation == trace.correlation}>{ label }</option>
            }
        })
        .collect();
    let export_one = {
        let ctx = ctx.clone();
        let c = trace.correlation;
        Callback::from(move |_: MouseEvent| export(&ctx, Some(c)))
    };
    let export_all = {
        let ctx = ctx.clone();
        Callback::from(move |_: MouseEvent| export(&ctx, None))
    };
    html! {
        <div class="trace-view" data-correlation={trace.correlation.0.to_string()}
            data-picked={match pick { Some(TracePick::Message(m)) => m.0.to_string(), Some(TracePick::Chain(_)) | None => String::new() }}>
            <div class="trace-tools">
                <label for="trace-pick">{ "Trace" }</label>
                <select id="trace-pick" onchange={on_pick}>{ for options }</select>
                <button id="trace-export" onclick={export_one}>{ "Export OTLP/JSON" }</button>
                <button id="trace-export-all" onclick={export_all}>{ format!("Export all {} kept", book.traces().count()) }</button>
            </div>
            if gone {
                <p class="muted" id="trace-gone">{ format!("That trace is no longer kept (the {} newest chains are); showing the newest.", book.limits().traces) }</p>
            }
            { waterfall(ctx, book, trace, topo) }
        </div>
    }
}

/// One trace as a waterfall table.
pub fn waterfall(
    ctx: &Ctx,
    book: &TraceBook,
    trace: &Trace,
    topo: &switchboard_core::topology::Topology,
) -> Html {
    let now = book.now();
    let ends = trace.ends(now);
    let critical = trace.critical_path(now);
    let depths = trace.depths();
    let start = trace.spans.first().map_or(SimTime::ZERO, |s| s.start);
    let end = ends.iter().copied().max().unwrap_or(start);
    let total = (end.0 - start.0).max(1) as f64;
    let on_path = critical.iter().filter(|c| **c).count();
    let failed = trace.spans.iter().filter(|s| s.error).count();
    let summary = format!(
        "Chain {}: {} spans over {}, from {} to {}; {} on the critical path{}",
        trace.correlation.0,
        trace.spans.len(),
        ms(end.0 - start.0),
        start,
        end,
        on_path,
        if failed > 0 {
            format!("; {failed} failed")
        } else {
            String::new()
        }
    );
    let rows = trace.spans.iter().enumerate().map(|(i, s)| {
        let left = (s.start.0 - start.0) as f64 / total * 100.0;
        let width = ((ends[i].0 - s.start.0) as f64 / total * 100.0).max(0.3);
        let open = s.end.is_none() && !s.what.is_message();
        let name = otlp::span_name(s, topo);
        let inspect = {
            let ctx = ctx.clone();
            let m = s.message;
            Callback::from(move |_: MouseEvent| {
                // Into the Message drawer (a message opened elsewhere would stay here).
                ctx.session.borrow_mut().timeline_mut().pause();
                ctx.dispatch(UiAction::ShowMessage(m));
                ctx.dispatch(UiAction::ShowDrawer(super::Drawer::Message));
                ctx.refresh.emit(());
            })
        };
        let first_of_message = s.ordinal == 0;
        html! {
            <tr class={classes!("span", s.what.label().replace(' ', "-"), critical[i].then_some("critical"), s.error.then_some("failed"), open.then_some("open"))}
                data-span={i.to_string()} data-segment={s.what.label()} data-message={s.message.0.to_string()}>
                <th scope="row" style={format!("padding-left: {}rem", f64::from(depths[i]) * 0.8)}>
                    if critical[i] { <span class="crit-mark" aria-hidden="true">{ "◆ " }</span> }
                    { name }
                    if critical[i] { <span class="visually-hidden">{ ", on the critical path" }</span> }
                    if s.error { <span class="failed-mark">{ " · failed" }</span> }
                    if open { <span class="muted">{ " · still going on" }</span> }
                    if let Some(d) = &s.detail { <span class="muted detail">{ format!(" · {d}") }</span> }
                </th>
                <td class="num">{ format!("+{}", ms(s.start.0 - start.0)) }</td>
                <td class="num">{ ms(ends[i].0 - s.start.0) }</td>
                <td class="bar-cell" aria-hidden="true">
                    <div class="bar" style={format!("left: {left:.2}%; width: {width:.2}%")}></div>
                </td>
                <td class="msg">
                    if first_of_message {
                        <button class="inspect" onclick={inspect} aria-label={format!("Inspect message {}", s.message.0)}>{ format!("#{}", s.message.0) }</button>
                    }
                </td>
            </tr>
        }
    });
    html! {
        <>
        <p class="trace-summary" id="trace-summary">{ summary }</p>
        if trace.cut > 0 {
            <p class="muted" id="trace-cut">{ format!("{} more spans were not kept (a trace keeps {}).", trace.cut, book.limits().spans_per_trace) }</p>
        }
        <table class="waterfall" id="waterfall">
            <caption class="visually-hidden">{ format!("Spans of chain {}, in the order they began; ◆ marks the critical path", trace.correlation.0) }</caption>
            <colgroup><col class="name" /><col class="at" /><col class="dur" /><col class="bar" /><col class="msg" /></colgroup>
            <thead><tr>
                <th scope="col">{ "span" }</th><th scope="col">{ "starts" }</th><th scope="col">{ "lasts" }</th>
                <th scope="col" aria-hidden="true"></th><th scope="col">{ "message" }</th>
            </tr></thead>
            <tbody>{ for rows }</tbody>
        </table>
        </>
    }
}

/// Offers one trace (or every kept one) as an OTLP/JSON file.
fn export(ctx: &Ctx, only: Option<MessageId>) {
    let text = {
        let s = ctx.session.borrow();
        let sim = s.timeline().sim();
        let Some(book) = sim.traces() else { return };
        otlp::export(book, sim.topology(), only).to_string()
    };
    let name = match only {
        Some(c) => format!("trace-chain-{}.otlp.json", c.0),
        None => "traces.otlp.json".to_owned(),
    };
    match super::files::download(&name, "application/json", &text) {
        Ok(()) => ctx.announce(format!("Exported {name}")),
        Err(e) => ctx.notify(e, true),
    }
    ctx.refresh.emit(());
}
