//! The drawers under the run bar: the event log, the message inspector, metrics charts and the
//! dead-letter panel with its alert badge.

use super::stage::open_message;
use super::{Ctx, Drawer, UiAction};
use crate::timeline::{QueueSample, Sample, SAMPLE_EVERY_US};
use switchboard_core::amqp::AmqpEvent;
use switchboard_core::trace::event_json;
use switchboard_core::{EventKind, MessageId, SimDuration, SimTime};
use web_sys::HtmlInputElement;
use yew::prelude::*;

/// Rows the event log shows (the newest that match the filter).
pub const LOG_ROWS: usize = 60;
/// Events a filter looks through, newest first.
pub const LOG_SCAN: usize = 5_000;
/// How often the log is re-formatted while playing, ms.
pub const LOG_REFRESH_MS: f64 = 500.0;

/// The drawers.
pub fn render(ctx: &Ctx) -> Html {
    let dead = ctx
        .session
        .borrow()
        .timeline()
        .derived()
        .counters
        .dead_lettered;
    ctx.dispatch(UiAction::DeadLettersCounted(dead));
    let (drawer, open, dead_seen) = {
        let ui = ctx.ui.borrow();
        (ui.drawer, ui.drawer_open, ui.dead_seen)
    };
    // The tabs pattern: one tab in the Tab order (the current one), arrows move between
    // tabs and show each, Home and End go to the ends; clicking the open tab closes the area.
    const TABS: [(Drawer, &str, &str); 7] = [
        (Drawer::Events, "Event log", "tab-events"),
        (Drawer::Message, "Message", "tab-message"),
        (Drawer::Trace, "Trace", "tab-trace"),
        (Drawer::Metrics, "Metrics", "tab-metrics"),
        (Drawer::DeadLetters, "Dead letters", "tab-dead"),
        (Drawer::Text, "As text", "tab-text"),
        (Drawer::Policies, "Policies", "tab-policies"),
    ];
    let on_tab_key = {
        let ctx = ctx.clone();
        Callback::from(move |e: KeyboardEvent| {
            let at = TABS
                .iter()
                .position(|t| t.0 == ctx.ui.borrow().drawer)
                .unwrap_or(0);
            let to = match e.key().as_str() {
                "ArrowRight" => (at + 1) % TABS.len(),
                "ArrowLeft" => (at + TABS.len() - 1) % TABS.len(),
                "Home" => 0,
                "End" => TABS.len() - 1,
                _ => return,
            };
            e.prevent_default();
            ctx.dispatch(UiAction::ShowDrawer(TABS[to].0));
            ctx.focus(super::Focus::Css(format!("#{}", TABS[to].2)));
            ctx.refresh.emit(());
        })
    };
    let tab = |d: Drawer, label: &'static str, id: &'static str, badge: Option<Html>| {
        let ctx = ctx.clone();
        let onclick = Callback::from(move |_: MouseEvent| {
            ctx.dispatch(UiAction::ToggleDrawer(d));
            ctx.refresh.emit(());
        });
        let shown = drawer == d && open;
        html! {
            <button role="tab" id={id} class={classes!("tab", shown.then_some("active"))}
                aria-selected={shown.to_string()} aria-controls="drawer-panel"
                tabindex={if drawer == d { "0" } else { "-1" }} {onclick}>
                { label }{ for badge }
            </button>
        }
    };
    let alert = dead > dead_seen;
    let badge = (dead > 0).then(|| {
        html! {
            <span id="dlq-badge" class={classes!("badge", alert.then_some("alert"))} data-count={dead.to_string()}
                title="Messages dead-lettered so far">
                <span class="visually-hidden">{ ", " }</span>{ dead }<span class="visually-hidden">{ " so far" }</span>
            </span>
        }
    });
    let body = if !open {
        html! {}
    } else {
        match drawer {
            Drawer::Events => events(ctx),
            Drawer::Message => message(ctx),
            Drawer::Metrics => metrics(ctx),
            Drawer::DeadLetters => dead_letters(ctx),
            Drawer::Text => super::text_view::render(ctx),
            Drawer::Policies => super::policies::render(ctx),
            Drawer::Trace => super::trace_view::render(ctx),
        }
    };
    let labelled_by = TABS
        .iter()
        .find(|t| t.0 == drawer)
        .map_or("tab-events", |t| t.2);
    html! {
        <section class={classes!("drawers", open.then_some("open"))} aria-label="Drawers">
            <div class="tab-row">
                <div class="tabs" role="tablist" aria-label="Drawers" onkeydown={on_tab_key}>
                    { for TABS.iter().map(|&(d, label, id)| tab(d, label, id, (d == Drawer::DeadLetters).then(|| badge.clone()).flatten())) }
                </div>
                if alert {
                    <span id="dlq-alert" class="dlq-alert">
                        { format!("{} new dead-lettered message{}", dead - dead_seen, if dead - dead_seen == 1 { "" } else { "s" }) }
                    </span>
                }
            </div>
            <div class="drawer-body" id="drawer-panel" role="tabpanel" aria-labelledby={labelled_by}
                tabindex="0" hidden={!open}>{ body }</div>
        </section>
    }
}

/// An event's row text: its type and its fields.
pub fn describe(v: &serde_json::Value) -> (String, String, Option<MessageId>) {
    let ty = v
        .get("type")
        .and_then(|t| t.as_str())
        .unwrap_or("?")
        .to_owned();
    let message = v.get("message").and_then(|m| m.as_u64()).map(MessageId);
    let mut parts = Vec::new();
    if let Some(o) = v.as_object() {
        for (k, val) in o {
            if k == "type" || k == "at_us" {
                continue;
            }
            let s = match val {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            parts.push(format!("{k}={s}"));
        }
    }
    (ty, parts.join(" "), message)
}

/// One formatted row of the event log.
#[derive(Clone, Debug, PartialEq)]
pub struct LogRow {
    /// The event's ordinal in the run.
    pub ordinal: u64,
    /// When it happened.
    pub at: switchboard_core::SimTime,
    /// Its trace type.
    pub ty: String,
    /// Its fields.
    pub text: String,
    /// The message it is about.
    pub message: Option<MessageId>,
}

/// Whether `text` contains `filter`, where a number at either end of the filter is a whole
/// number in the text: `message=12` finds `message=12` but not `message=123`, and
/// `correlation=1` not `correlation=10`.
pub fn matches_filter(text: &str, filter: &str) -> bool {
    let digit_first = filter.starts_with(|c: char| c.is_ascii_digit());
    let digit_last = filter.ends_with(|c: char| c.is_ascii_digit());
    text.match_indices(filter).any(|(i, m)| {
        let digit = |c: Option<char>| c.is_some_and(|c| c.is_ascii_digit());
        let glued_before = digit_first && digit(text[..i].chars().next_back());
        let glued_after = digit_last && digit(text[i + m.len()..].chars().next());
        !glued_before && !glued_after
    })
}

/// The rows to show: the newest [`LOG_ROWS`] matching `filter` among the newest
/// [`LOG_SCAN`] events. Formatting is the cost, so only what is scanned is formatted.
pub fn log_rows(t: &crate::timeline::Timeline, filter: &str) -> Vec<LogRow> {
    let topo = t.sim().topology();
    let mut rows = Vec::new();
    for entry in t.log().iter().rev().take(LOG_SCAN) {
        let v = event_json(&entry.event, topo);
        let (ty, text, message) = describe(&v);
        if !filter.is_empty()
            && !matches_filter(&ty.to_lowercase(), filter)
            && !matches_filter(&text.to_lowercase(), filter)
        {
            continue;
        }
        rows.push(LogRow {
            ordinal: entry.ordinal,
            at: entry.event.at,
            ty,
            text,
            message,
        });
        if rows.len() >= LOG_ROWS {
            break;
        }
    }
    rows
}

fn events(ctx: &Ctx) -> Html {
    let (filter, selected) = {
        let ui = ctx.ui.borrow();
        (ui.log_filter.to_lowercase(), ui.message)
    };
    let s = ctx.session.borrow();
    let t = s.timeline();
    let seen = t.derived().events_seen;
    // While playing, the log is re-formatted at most a few times a second: laying out a
    // changing table every frame costs frames.
    let now = super::now_ms();
    let rows = {
        let mut caches = ctx.caches.borrow_mut();
        let fresh = caches.log_view.as_ref().is_some_and(|v| {
            v.filter == filter
                && v.seen <= seen
                && (v.seen == seen || (t.is_running() && now - v.at_ms < LOG_REFRESH_MS))
        });
        if !fresh {
            caches.log_view = Some(super::LogView {
                at_ms: now,
                filter: filter.clone(),
                seen,
                rows: log_rows(t, &filter),
            });
        }
        caches
            .log_view
            .as_ref()
            .map(|v| v.rows.clone())
            .unwrap_or_default()
    };
    let on_filter = {
        let ctx = ctx.clone();
        Callback::from(move |e: InputEvent| {
            let el: HtmlInputElement = e.target_unchecked_into();
            ctx.dispatch(UiAction::LogFilter(el.value()));
            ctx.refresh.emit(());
        })
    };
    let filter_value = ctx.ui.borrow().log_filter.clone();
    html! {
        <div class="log">
            <div class="log-tools">
                <input id="log-filter" type="search" placeholder="Filter: dead_lettered, orders, message=12…" value={filter_value} oninput={on_filter} aria-label="Filter events" />
                <span class="muted">{ format!("{} events so far; newest first", t.derived().events_seen) }</span>
            </div>
            <table class="log-table">
                <caption class="visually-hidden">{ "Events, newest first" }</caption>
                <colgroup><col class="at" /><col class="ty" /><col class="open" /><col class="text" /></colgroup>
                <thead class="visually-hidden"><tr><th scope="col">{ "time" }</th><th scope="col">{ "event" }</th><th scope="col">{ "message" }</th><th scope="col">{ "details" }</th></tr></thead>
                <tbody>
                { for rows.into_iter().map(|LogRow { ordinal, at, ty, text, message }| {
                    let onclick = {
                        let ctx = ctx.clone();
                        Callback::from(move |_: MouseEvent| {
                            if let Some(m) = message {
                                ctx.dispatch(UiAction::ShowMessage(m));
                                ctx.refresh.emit(());
                            }
                        })
                    };
                    let ondblclick = {
                        let ctx = ctx.clone();
                        Callback::from(move |_: MouseEvent| {
                            if let Some(m) = message {
                                open_message(&ctx, m);
                            }
                        })
                    };
                    let hl = message.is_some() && message == selected;
                    let inspect = message.map(|m| {
                        let ctx = ctx.clone();
                        let onclick = Callback::from(move |e: MouseEvent| {
                            e.stop_propagation();
                            open_message(&ctx, m);
                        });
                        html! {
                            <button class="inspect" data-inspect={m.0.to_string()} {onclick}
                                aria-label={format!("Inspect message {} ({ty} at {at})", m.0)}>{ format!("#{}", m.0) }</button>
                        }
                    });
                    html! {
                        <tr key={ordinal.to_string()} class={classes!("ev", ty.clone(), hl.then_some("highlight"))} data-ordinal={ordinal.to_string()}
                            data-message={message.map(|m| m.0.to_string()).unwrap_or_default()} {onclick} {ondblclick}
                            title="Click to highlight its message; double-click to inspect it">
                            <td class="at">{ at.to_string() }</td>
                            <td class="ty">{ ty }</td>
                            <td class="open">{ for inspect }</td>
                            <td class="text">{ text }</td>
                        </tr>
                    }
                }) }
                </tbody>
            </table>
        </div>
    }
}

fn message(ctx: &Ctx) -> Html {
    let Some(id) = ctx.ui.borrow().message else {
        return html! { <p class="muted">{ "Click a moving message on the canvas, or an event in the log, to inspect it." }</p> };
    };
    let s = ctx.session.borrow();
    let t = s.timeline();
    let sim = t.sim();
    let topo = sim.topology();
    let name = |n: switchboard_core::NodeId| topo.node(n).name.clone();
    // The path so far: every logged event about this message.
    let mut path = Vec::new();
    let mut redelivered = None;
    for entry in t.log() {
        let v = event_json(&entry.event, topo);
        let (ty, text, m) = describe(&v);
        if m == Some(id) {
            if let EventKind::Amqp(AmqpEvent::Delivered { redelivered: r, .. }) = entry.event.kind {
                redelivered = Some(r);
            }
            path.push((entry.event.at, ty, text));
        }
    }
    let view = sim.locate(id);
    // Its trace, if kept: the chain's waterfall in the Trace drawer.
    let kept = sim
        .traces()
        .and_then(|b| b.trace_of(id))
        .map(|t| t.spans.len());
    let open_trace = match kept {
        Some(n) => {
            let ctx = ctx.clone();
            let onclick = Callback::from(move |_: MouseEvent| {
                ctx.dispatch(UiAction::PickTrace(super::trace_view::TracePick::Message(
                    id,
                )));
                ctx.focus(super::Focus::Css("#tab-trace".into()));
                ctx.refresh.emit(());
            });
            html! { <button id="open-trace" {onclick}>{ format!("Open its trace ({n} spans)") }</button> }
        }
        None => html! { <span class="muted">{ "(its trace is no longer kept)" }</span> },
    };
    let details = match &view {
        Some(v) => {
            let e = &v.envelope;
            let mut headers: Vec<(String, String)> = e
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::to_string(v).unwrap_or_default()))
                .collect();
            if !e.deaths.is_empty() {
                let x_death: Vec<serde_json::Value> = e
                    .deaths
                    .iter()
                    .map(|d| serde_json::to_value(d.to_table()).unwrap_or_default())
                    .collect();
                headers.push((
                    "x-death".into(),
                    serde_json::to_string_pretty(&x_death).unwrap_or_default(),
                ));
            }
            // A Kafka record has its own fields, and none of an AMQP message's routing.
            let fields = match (&v.record, &v.job) {
                (_, Some(j)) => html! {
                    <>
                    <dt>{ "job" }</dt><dd id="job-id">{ format!("{} ({})", j.id, j.name) }</dd>
                    <dt>{ "state" }</dt><dd id="job-state">{ j.state }</dd>
                    <dt>{ "attempts" }</dt><dd id="job-attempts">{ format!("{} made, {} started", j.attempts_made, j.attempts_started) }</dd>
                    if j.stalled_count > 0 { <><dt>{ "stalled" }</dt><dd>{ format!("{} times", j.stalled_count) }</dd></> }
                    <dt>{ "opts" }</dt><dd id="job-opts"><code>{ j.opts.clone() }</code></dd>
                    </>
                },
                (Some(r), None) => html! {
                    <>
                    <dt>{ "topic" }</dt><dd id="record-topic">{ name(r.topic) }</dd>
                    <dt>{ "partition" }</dt><dd id="record-partition">{ r.partition }</dd>
                    <dt>{ "offset" }</dt><dd id="record-offset">{ r.offset.map_or("not appended yet".to_owned(), |o| o.to_string()) }</dd>
                    <dt>{ "key" }</dt><dd id="record-key">{ r.key.clone().unwrap_or_else(|| "null".into()) }</dd>
                    if r.tombstone { <><dt>{ "value" }</dt><dd>{ "null (a tombstone)" }</dd></> }
                    <dt>{ "timestamp" }</dt><dd>{ r.timestamp.to_string() }</dd>
                    </>
                },
                (None, None) => html! {
                    <>
                    // The AMQP properties the model uses: message_id (its publisher's; a
                    // redelivery keeps it). correlation_id and reply_to belong to
                    // request-reply, which no node here does.
                    <dt>{ "message_id" }</dt><dd id="message-id">{ format!("\"{}\"", e.id.0) }</dd>
                    <dt>{ "correlation_id" }</dt><dd class="muted">{ "not set (request-reply sets it)" }</dd>
                    <dt>{ "reply_to" }</dt><dd class="muted">{ "not set" }</dd>
                    <dt>{ "routing_key" }</dt><dd>{ e.routing_key.clone() }</dd>
                    <dt>{ "exchange" }</dt><dd>{ e.exchange.map(name).unwrap_or_else(|| "\"\" (default)".into()) }</dd>
                    <dt>{ "redelivered" }</dt><dd id="message-redelivered">{ redelivered.map_or("not delivered yet".to_owned(), |r| r.to_string()) }</dd>
                    </>
                },
            };
            html! {
                <>
                <dl class="props">
                    <dt>{ "where" }</dt><dd id="message-where">{ match &v.record {
                        Some(r @ switchboard_core::RecordView { offset: Some(o), .. }) => {
                            format!("in the log of {}-{}, at offset {o}", name(r.topic), r.partition)
                        }
                        _ => format!("{:?}", v.location).replace("NodeId", "node "),
                    } }</dd>
                    { fields }
                    <dt>{ "published at" }</dt><dd>{ e.created_at.to_string() }</dd>
                    <dt>{ "last arrived" }</dt><dd>{ e.arrived_at.to_string() }</dd>
                    <dt>{ "hops" }</dt><dd>{ e.hops }</dd>
                    <dt>{ "chain" }</dt><dd id="message-chain">{ format!("message {}'s (the first of its causal chain)", e.correlation_id.0) }</dd>

                    if let Some(x) = e.expiration_ms { <><dt>{ "expiration" }</dt><dd>{ format!("{x} ms") }</dd></> }
                    if let Some(p) = e.priority { <><dt>{ "priority" }</dt><dd>{ p }</dd></> }
                    if e.poison { <><dt>{ "poison" }</dt><dd>{ "yes: every consumer fails it" }</dd></> }
                </dl>
                <h4>{ "headers" }</h4>
                <dl class="props headers" id="message-headers">
                    // Trace context, as it travels in AMQP headers, job data, record headers
                    // and HTTP headers alike; derived from the message, so always there.
                    <dt><code>{ "traceparent" }</code></dt><dd id="message-traceparent"><code>{ v.traceparent.clone() }</code>{ " " }{ open_trace.clone() }</dd>
                    { for headers.into_iter().map(|(k, v)| html! { <><dt><code>{ k }</code></dt><dd><pre>{ v }</pre></dd></> }) }
                </dl>
                </>
            }
        }
        None => {
            html! { <p class="muted" id="message-where">{ "This message's life has ended (see its last event below)." }</p> }
        }
    };
    // A BullMQ job: its attempts on a timeline, from its events.
    let job_events: Vec<(SimTime, &switchboard_core::bullmq::BullmqEvent)> = t
        .log()
        .iter()
        .filter_map(|e| match &e.event.kind {
            EventKind::Bullmq(b) if b.message() == Some(id) => Some((e.event.at, b)),
            _ => None,
        })
        .collect();
    let timeline = job_timeline(&job_events, sim.now());
    html! {
        <div class="message-inspector" data-message={id.0.to_string()}>
            <h3>{ format!("Message {}", id.0) }</h3>
            { timeline }
            <div class="message-cols">
                <div>{ details }</div>
                <div>
                    <h4>{ "path so far" }</h4>
                    if path.is_empty() { <p class="muted">{ "older than the log keeps" }</p> }
                    <ol class="path" id="message-path">
                        { for path.into_iter().map(|(at, ty, text)| html! {
                            <li><span class="at">{ at.to_string() }</span>{ " " }<strong>{ ty }</strong>{ " " }<span class="muted">{ text }</span></li>
                        }) }
                    </ol>
                </div>
            </div>
        </div>
    }
}

/// A BullMQ job's life drawn to scale: each attempt a bar from its start to its end (green when
/// it completed, red when it threw), each backoff a dashed gap to the next start, and the time
/// it waited before its first. Built from the job's events in the log; empty for other
/// messages.
fn job_timeline(
    events: &[(SimTime, &switchboard_core::bullmq::BullmqEvent)],
    now: SimTime,
) -> Html {
    use switchboard_core::bullmq::{BullmqEvent as B, Retry};
    let Some(&(start, _)) = events.first() else {
        return html! {};
    };
    let (id, name) = match events[0].1 {
        B::Added { job, .. }
        | B::WaitingChildren { job, .. }
        | B::PendingDependencies { job, .. }
        | B::Waiting { job, .. }
        | B::Delayed { job, .. }
        | B::Active { job, .. }
        | B::Completed { job, .. }
        | B::WorkerFailed { job, .. }
        | B::Failed { job, .. }
        | B::RetriesExhausted { job, .. }
        | B::Stalled { job, .. }
        | B::Removed { job }
        | B::LockMissing { job, .. }
        | B::Duplicated { job, .. } => (job.id.to_string(), job.name.to_string()),
        B::StepFailed(f) => (f.job.id.to_string(), f.job.name.to_string()),
        B::Deduplicated(d) => (d.job.id.to_string(), d.job.name.to_string()),
        B::Drained { .. } | B::Paused { .. } | B::Resumed { .. } | B::RateLimited { .. } => {
            return html! {}
        }
    };
    // Attempts: (start, end, outcome, backoff after it).
    struct Attempt {
        from: SimTime,
        to: Option<SimTime>,
        ok: Option<bool>,
        backoff: Option<u64>,
    }
    let mut attempts: Vec<Attempt> = Vec::new();
    let mut state = "added";
    for &(at, e) in events {
        match e {
            B::Active { .. } => {
                attempts.push(Attempt {
                    from: at,
                    to: None,
                    ok: None,
                    backoff: None,
                });
                state = "active";
            }
            B::Completed { .. } => {
                if let Some(a) = attempts.last_mut() {
                    a.to = Some(at);
                    a.ok = Some(true);
                }
                state = "completed";
            }
            B::WorkerFailed { retry, .. } => {
                if let Some(a) = attempts.last_mut() {
                    a.to = Some(at);
                    a.ok = Some(false);
                    if let Retry::After(ms) = retry {
                        a.backoff = Some(*ms);
                    }
                }
            }
            B::Stalled { .. } => {
                if let Some(a) = attempts.last_mut() {
                    a.to.get_or_insert(at);
                }
                state = "stalled";
            }
            B::Delayed { .. } => state = "delayed",
            B::Waiting { prioritized, .. } => {
                state = if *prioritized {
                    "prioritized"
                } else {
                    "waiting"
                }
            }
            B::Failed { .. } => state = "failed",
            B::Removed { .. } => state = "removed",
            B::WaitingChildren { .. } => state = "waiting-children",
            B::Added { .. }
            | B::PendingDependencies { .. }
            | B::RetriesExhausted { .. }
            | B::LockMissing { .. }
            | B::StepFailed(_)
            | B::Duplicated { .. }
            | B::Deduplicated(_)
            | B::Drained { .. }
            | B::Paused { .. }
            | B::Resumed { .. }
            | B::RateLimited { .. } => {}
        }
    }
    let end = match state {
        "completed" | "failed" | "removed" => events.last().map_or(now, |e| e.0),
        _ => now,
    };
    let span = (end.0.saturating_sub(start.0)).max(1) as f64;
    let (w, h) = (520.0, 34.0);
    // The plot leaves room at the right for the last attempt's label.
    let plot = w - 16.0;
    let x = |t: SimTime| (t.0.saturating_sub(start.0)) as f64 / span * plot;
    let words: Vec<String> = attempts
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let len = a.to.map(|t| format!("{}", SimDuration(t.0 - a.from.0)));
            format!(
                "attempt {} at {}{}{}{}",
                i + 1,
                a.from,
                len.map(|l| format!(", {l}")).unwrap_or_default(),
                match a.ok {
                    Some(true) => ", completed",
                    Some(false) => ", threw",
                    None => ", running",
                },
                a.backoff
                    .map(|b| format!(", then a {b} ms backoff"))
                    .unwrap_or_default()
            )
        })
        .collect();
    let label = format!(
        "job {id} ({name}), {state}: {}",
        if words.is_empty() {
            "no attempt yet".to_owned()
        } else {
            words.join("; ")
        }
    );
    html! {
        <div class="job-timeline" data-job={id.clone()} data-state={state} data-attempts={attempts.len().to_string()}>
            <h4>{ format!("Job {id} · {name} · {state}") }</h4>
            <svg width={w.to_string()} height={h.to_string()} viewBox={format!("0 0 {w} {h}")} role="img" aria-label={label}>
                <line class="axis" x1="0" x2={w.to_string()} y1="24" y2="24" />
                { for attempts.iter().enumerate().map(|(i, a)| {
                    let x0 = x(a.from);
                    let x1 = x(a.to.unwrap_or(end)).max(x0 + 2.0);
                    let class = match a.ok { Some(true) => "attempt ok", Some(false) => "attempt threw", None => "attempt running" };
                    let gap = a.backoff.map(|ms| {
                        let g1 = x1 + ms as f64 * 1000.0 / span * plot;
                        html! {
                            <>
                                <line class="backoff" x1={x1.to_string()} x2={g1.min(w).to_string()} y1="17" y2="17" />
                                <text class="backoff-label" x={((x1 + g1.min(w)) / 2.0).to_string()} y="12">{ format!("{ms} ms") }</text>
                            </>
                        }
                    });
                    html! {
                        <>
                            <rect class={class} data-attempt={(i + 1).to_string()} x={x0.to_string()} y="14" width={(x1 - x0).to_string()} height="8" />
                            <text class="attempt-label" x={x0.to_string()} y="33">{ format!("#{}", i + 1) }</text>
                            { gap.unwrap_or_default() }
                        </>
                    }
                }) }
            </svg>
        </div>
    }
}

/// A small line chart: one polyline per series, scaled to the largest value.
fn chart(title: String, samples: &[f64], series: &[(&str, &str, Vec<f64>)]) -> Html {
    let (w, h) = (260.0, 70.0);
    let max = series
        .iter()
        .flat_map(|s| s.2.iter().copied())
        .fold(1.0f64, f64::max);
    let n = samples.len().max(2) as f64 - 1.0;
    let line = |vals: &Vec<f64>| {
        vals.iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", i as f64 / n * w, h - v / max * (h - 4.0)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let name = format!(
        "{title}: {}; largest {}",
        series
            .iter()
            .map(|(name, _, vals)| format!(
                "{name} now {}",
                trim(vals.last().copied().unwrap_or(0.0))
            ))
            .collect::<Vec<_>>()
            .join(", "),
        trim(max)
    );
    html! {
        <figure class="chart">
            <figcaption>{ title }<span class="muted">{ format!(" max {}", trim(max)) }</span></figcaption>
            <svg viewBox={format!("0 0 {w} {h}")} preserveAspectRatio="none" role="img" aria-label={name}>
                { for series.iter().map(|(name, class, vals)| html! {
                    <polyline class={classes!("series", class.to_string())} points={line(vals)}><title>{ name.to_string() }</title></polyline>
                }) }
            </svg>
            <div class="legend">
                { for series.iter().map(|(name, class, vals)| html! {
                    <span class={classes!("key", class.to_string())}><span class="swatch-line" aria-hidden="true"></span>{ format!("{name} {}", trim(vals.last().copied().unwrap_or(0.0))) }</span>
                }) }
            </div>
        </figure>
    }
}

fn trim(x: f64) -> String {
    if x.fract() == 0.0 || x >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

/// Per-second rates between consecutive samples of a cumulative counter.
pub fn rates(samples: &[&Sample], value: impl Fn(&Sample) -> u64) -> Vec<f64> {
    samples
        .windows(2)
        .map(|w| {
            let dt = (w[1].at.0.saturating_sub(w[0].at.0)).max(1) as f64 / 1e6;
            value(w[1]).saturating_sub(value(w[0])) as f64 / dt
        })
        .collect()
}

fn metrics(ctx: &Ctx) -> Html {
    let s = ctx.session.borrow();
    let t = s.timeline();
    let topo = t.sim().topology();
    let samples: Vec<&Sample> = t.samples().iter().collect();
    if samples.len() < 2 {
        return html! { <p class="muted">{ "Charts fill in as the run plays (a sample every 250 ms of simulated time)." }</p> };
    }
    let xs: Vec<f64> = samples.iter().map(|s| s.at.0 as f64).collect();
    let mut charts = Vec::new();
    let last = samples.last().expect("two or more");
    let rate_xs = &xs[1..];
    let published = rates(&samples, |s| s.published);
    let delivered = rates(&samples, |s| s.queues.iter().map(|q| q.delivered).sum());
    let acked = rates(&samples, |s| s.queues.iter().map(|q| q.acked).sum());
    if !last.queues.is_empty() || last.services.is_empty() {
        charts.push(chart(
            "all queues, messages/s".into(),
            rate_xs,
            &[
                ("publish", "publish", published),
                ("deliver", "deliver", delivered),
                ("ack", "ack", acked),
            ],
        ));
    }
    for q in &last.queues {
        let id = q.node;
        let of = |s: &Sample| s.queues.iter().find(|x| x.node == id).cloned();
        let depth = |f: fn(&QueueSample) -> u64| -> Vec<f64> {
            samples
                .iter()
                .map(|s| of(s).map_or(0.0, |x| f(&x) as f64))
                .collect()
        };
        let rate = |f: fn(&QueueSample) -> u64| rates(&samples, |s| of(s).map_or(0, |x| f(&x)));
        let name = &topo.node(id).name;
        charts.push(chart(
            format!("queue {name}, messages"),
            &xs,
            &[
                ("ready", "ready", depth(|x| x.ready)),
                ("unacked", "unacked", depth(|x| x.unacked)),
            ],
        ));
        charts.push(chart(
            format!("queue {name}, messages/s"),
            rate_xs,
            &[
                ("publish", "publish", rate(|x| x.published)),
                ("deliver", "deliver", rate(|x| x.delivered)),
                ("ack", "ack", rate(|x| x.acked)),
            ],
        ));
    }
    let consumers: Vec<(String, Vec<f64>)> = last
        .consumers
        .iter()
        .map(|(id, _)| {
            let busy = rates(&samples, |s| {
                s.consumers.iter().find(|c| c.0 == *id).map_or(0, |c| c.1)
            });
            // Busy µs per second of simulated time, as a percentage.
            (
                topo.node(*id).name.clone(),
                busy.into_iter().map(|b| b / 1e4).collect(),
            )
        })
        .collect();
    for c in &last.clients {
        let id = c.node;
        let of = |s: &Sample| s.clients.iter().find(|x| x.node == id).cloned();
        let rate = |f: fn(&crate::timeline::ClientSample) -> u64| {
            rates(&samples, |s| of(s).map_or(0, |x| f(&x)))
        };
        charts.push(chart(
            format!("client {}, requests/s", topo.node(id).name),
            rate_xs,
            &[
                ("offered", "publish", rate(|x| x.requests)),
                ("succeeded", "ack", rate(|x| x.succeeded)),
                ("failed", "fail", rate(|x| x.failed)),
            ],
        ));
    }
    for sv in &last.services {
        let id = sv.node;
        let of = |s: &Sample| s.services.iter().find(|x| x.node == id).cloned();
        let rate = |f: fn(&crate::timeline::ServiceSample) -> u64| {
            rates(&samples, |s| of(s).map_or(0, |x| f(&x)))
        };
        let now = |f: fn(&crate::timeline::ServiceSample) -> u64| -> Vec<f64> {
            samples
                .iter()
                .map(|s| of(s).map_or(0.0, |x| f(&x) as f64))
                .collect()
        };
        let name = &topo.node(id).name;
        charts.push(chart(
            format!("service {name}, requests/s"),
            rate_xs,
            &[
                ("arrived", "publish", rate(|x| x.arrived)),
                ("throughput", "deliver", rate(|x| x.responses)),
                ("goodput", "ack", rate(|x| x.good)),
            ],
        ));
        let latency = |i: usize| -> Vec<f64> {
            samples
                .iter()
                .map(|s| of(s).map_or(0.0, |x| x.latency_us[i] as f64 / 1000.0))
                .collect()
        };
        charts.push(chart(
            format!("service {name}, latency ms (last 10 s)"),
            &xs,
            &[
                ("p50", "ack", latency(0)),
                ("p95", "ready", latency(1)),
                ("p99", "fail", latency(2)),
            ],
        ));
        charts.push(chart(
            format!("service {name}, requests held"),
            &xs,
            &[
                ("queued", "ready", now(|x| x.queued)),
                ("busy workers", "unacked", now(|x| x.busy)),
            ],
        ));
    }
    for st in &last.stores {
        let id = st.node;
        let of = |s: &Sample| s.stores.iter().find(|x| x.node == id).cloned();
        let name = &topo.node(id).name;
        if st.staleness.is_some() {
            // The mean window of the versions made visible in each interval (0 when none
            // were), and the run's p99 so far.
            let mean: Vec<f64> = samples
                .windows(2)
                .map(|w| {
                    let (a, b) = (
                        of(w[0]).and_then(|x| x.staleness),
                        of(w[1]).and_then(|x| x.staleness),
                    );
                    let (a, b) = (a.unwrap_or_default(), b.unwrap_or_default());
                    let n = b.count.saturating_sub(a.count);
                    if n == 0 {
                        0.0
                    } else {
                        b.total_us.saturating_sub(a.total_us) as f64 / n as f64 / 1000.0
                    }
                })
                .collect();
            let p99: Vec<f64> = samples[1..]
                .iter()
                .map(|s| {
                    of(s)
                        .and_then(|x| x.staleness)
                        .map_or(0.0, |x| x.p99_us as f64 / 1000.0)
                })
                .collect();
            charts.push(chart(
                format!("read model {name}, staleness ms"),
                rate_xs,
                &[
                    ("window (mean)", "publish", mean),
                    ("p99 so far", "fail", p99),
                ],
            ));
        }
        let rate = |f: fn(&crate::timeline::StoreSample) -> u64| {
            rates(&samples, |s| of(s).map_or(0, |x| f(&x)))
        };
        charts.push(chart(
            format!("store {name}, reads/s"),
            rate_xs,
            &[
                ("reads", "ack", rate(|x| x.reads)),
                ("stale", "ready", rate(|x| x.stale_reads)),
                (
                    "read-your-writes violations",
                    "fail",
                    rate(|x| x.ryw_violations),
                ),
            ],
        ));
    }
    if !consumers.is_empty() {
        let series: Vec<(&str, &str, Vec<f64>)> = consumers
            .iter()
            .map(|(n, v)| (n.as_str(), "util", v.clone()))
            .collect();
        charts.push(chart("consumer utilisation, %".into(), rate_xs, &series));
    }
    html! {
        <div class="charts" id="charts" data-samples={samples.len().to_string()}>
            { for charts }
            <p class="muted chart-note">{ format!("Last {} s of simulated time, sampled every {} ms.", samples.len() as u64 * SAMPLE_EVERY_US / 1_000_000, SAMPLE_EVERY_US / 1000) }</p>
        </div>
    }
}

fn dead_letters(ctx: &Ctx) -> Html {
    let s = ctx.session.borrow();
    let t = s.timeline();
    let sim = t.sim();
    let topo = sim.topology();
    let c = &t.derived().counters;
    let m = sim.metrics();
    // The queues dead letters have reached, as the core counts them.
    let queues: Vec<Html> = m
        .nodes
        .iter()
        .filter_map(|n| Some((n, n.queue().filter(|q| q.dead_lettered_in > 0)?)))
        .map(|(n, q)| {
            html! {
                <li data-dlq={n.name.clone()}><strong>{ n.name.clone() }</strong>
                    { format!(": {} arrived, {} waiting", q.dead_lettered_in, q.ready) }</li>
            }
        })
        .collect();
    let recent: Vec<Html> = t
        .log()
        .iter()
        .rev()
        .filter_map(|e| match &e.event.kind {
            EventKind::Amqp(AmqpEvent::DeadLettered { message, queue, reason, detail }) => {
                let m = *message;
                let onclick = {
                    let ctx = ctx.clone();
                    Callback::from(move |_: MouseEvent| open_message(&ctx, m))
                };
                Some(html! {
                    <li>
                        <button class="dead-row" data-inspect={m.0.to_string()} {onclick} title="Inspect this message">
                            <span class="at">{ e.event.at.to_string() }</span>
                            { format!(" message {} from {} ({}) → exchange {:?}", m.0, topo.node(*queue).name, reason.as_str(), detail.exchange) }
                        </button>
                    </li>
                })
            }
            _ => None,
        })
        .take(50)
        .collect();
    html! {
        <div class="dead-letters" id="dead-letters">
            <p>{ format!("{} message{} dead-lettered so far.", c.dead_lettered, if c.dead_lettered == 1 { "" } else { "s" }) }
               { " A dead-letter queue nobody consumes is silent data loss: watch it." }</p>
            if queues.is_empty() {
                <p class="muted">{ "No message has reached a dead-letter queue yet. Give a queue an x-dead-letter-exchange and reject, expire or overflow a message." }</p>
            } else {
                <ul class="dlqs">{ for queues }</ul>
            }
            <ol class="recent">{ for recent }</ol>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_core::{Scenario, SimTime};

    fn sample(at_ms: u64, published: u64) -> Sample {
        Sample {
            at: SimTime(at_ms * 1_000),
            queues: Vec::new(),
            consumers: Vec::new(),
            published,
            clients: Vec::new(),
            services: Vec::new(),
            stores: Vec::new(),
        }
    }

    #[test]
    fn a_number_in_the_log_filter_is_a_whole_number() {
        let line = "message=123 correlation=10 queue=orders-2";
        assert!(matches_filter(line, "message=123"));
        assert!(!matches_filter(line, "message=12"));
        assert!(!matches_filter(line, "correlation=1"));
        assert!(matches_filter(line, "correlation=10"));
        assert!(
            !matches_filter(line, "23"),
            "a number is not found inside another"
        );
        assert!(matches_filter(line, "orders-2"));
        assert!(
            matches_filter(line, "orders"),
            "words match anywhere, as before"
        );
        assert!(matches_filter(line, "correlation="));
        assert!(
            matches_filter("id=7 id=71", "id=7"),
            "any occurrence that stands alone"
        );
    }

    #[test]
    fn rates_are_per_second_between_samples() {
        let s = [sample(0, 0), sample(250, 10), sample(500, 30)];
        let refs: Vec<&Sample> = s.iter().collect();
        assert_eq!(rates(&refs, |s| s.published), [40.0, 80.0]);
        assert!(rates(&refs[..1], |s| s.published).is_empty());
    }

    #[test]
    fn the_log_shows_the_newest_rows_that_match() {
        let s = Scenario::from_json(crate::ui::examples::get("amqp-dead-letter").unwrap()).unwrap();
        let mut t = crate::timeline::Timeline::new(&s).unwrap();
        t.play();
        for _ in 0..200 {
            t.tick(16.0).unwrap();
        }
        let all = log_rows(&t, "");
        assert_eq!(all.len(), LOG_ROWS.min(t.log().len()));
        assert!(
            all.windows(2).all(|w| w[0].ordinal > w[1].ordinal),
            "newest first"
        );
        let dead = log_rows(&t, "dead_lettered");
        assert!(!dead.is_empty());
        assert!(dead
            .iter()
            .all(|r| r.ty == "dead_lettered" || r.text.contains("dead_lettered")));
        assert!(dead[0].text.contains("x-death"), "{}", dead[0].text);
    }
}
