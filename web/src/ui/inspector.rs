//! The inspector: every setting of the selected node or edge under its real name, validated
//! inline by the core's own rules, and the faults that can be injected into it.

use super::stage::{delete_selection, report};
use super::{Ctx, Selection, UiAction};
use crate::fields::{self, Field, FieldType};
use crate::models::{Fault, FLOOD};
use switchboard_core::scenario::{EdgeSpec, NodeKind, NodeSpec};
use switchboard_core::{Command, EdgeId, NodeId};
use web_sys::{HtmlInputElement, HtmlSelectElement, HtmlTextAreaElement};
use yew::prelude::*;

/// The inspector panel.
pub fn render(ctx: &Ctx) -> Html {
    let sel = ctx.ui.borrow().selection.clone();
    let body = match sel {
        Selection::None => overview(),
        Selection::Node(name) => {
            let doc = ctx.session.borrow().doc();
            match doc.node_index(&name) {
                Some(i) => node_panel(ctx, &doc.nodes[i]),
                None => overview(),
            }
        }
        Selection::Edge(id) => {
            let s = ctx.session.borrow();
            let doc = s.doc();
            match s.doc_edge_index(id) {
                Some(i) => {
                    drop(s);
                    edge_panel(ctx, id, &doc.edges[i])
                }
                None => overview(),
            }
        }
    };
    // It scrolls, so it takes the focus (the keyboard scrolls it even when it shows no control).
    html! { <aside id="inspector" class="inspector" aria-label="Inspector" tabindex="0">{ body }</aside> }
}

fn overview() -> Html {
    html! {
        <div class="overview">
            <h2>{ "Inspector" }</h2>
            <p>{ "Select a node or a connection to see and change its settings, under the names the real systems use (RabbitMQ, resilience4j)." }</p>
            <h3>{ "Build" }</h3>
            <ol>
                <li>{ "Drag a Producer, an exchange, a Queue and a Consumer from the palette." }</li>
                <li>{ "Drag from a node's ● handle to another node to connect them." }</li>
                <li>{ "Press Play. Click a moving message to inspect it." }</li>
                <li>{ "Select the consumer and crash it: watch its messages come back redelivered." }</li>
            </ol>
            <p class="muted">{ "Or calls: a Client, a Service calling another Service; give each call a timeLimiter, slow the last service, and watch the timeouts climb the chain." }</p>
            <p class="muted">{ "Or a stream: a Kafka producer, a Topic and two Kafka consumers of one group.id; each takes some partitions. Crash one and watch its partitions move to the other once its session times out, and its lag grow and drain." }</p>
            <h3>{ "Keys" }</h3>
            <p class="muted">{ "Single keys work when the canvas or the run bar has the focus, so they never get in the way elsewhere." }</p>
            <dl class="keys">
                <dt>{ "Space" }</dt><dd>{ "play / pause" }</dd>
                <dt>{ ". ," }</dt><dd>{ "step forward / back one event" }</dd>
                <dt>{ "Delete" }</dt><dd>{ "delete the selection" }</dd>
                <dt>{ "Ctrl+Z, Ctrl+Shift+Z" }</dt><dd>{ "undo, redo" }</dd>
                <dt>{ "Tab" }</dt><dd>{ "the next node or connection" }</dd>
                <dt>{ "Enter, Space" }</dt><dd>{ "select it (on a node or connection)" }</dd>
                <dt>{ "Escape" }</dt><dd>{ "clear the selection; from here, back to the canvas" }</dd>
                <dt>{ "Arrows" }</dt><dd>{ "move the selected node" }</dd>
                <dt>{ "I" }</dt><dd>{ "from the canvas to the selection's settings here" }</dd>
                <dt>{ "F" }</dt><dd>{ "fit the view" }</dd>
                <dt>{ "L" }</dt><dd>{ "show the event log" }</dd>
            </dl>
        </div>
    }
}

fn field_key(target: &str, field: &str) -> String {
    format!("{target}:{field}")
}

/// One input for one field. `apply` gets the committed text (on change).
///
/// Text fields are controlled by a draft: each keystroke is kept in the UI state, so the
/// re-renders that happen while the run plays show what is being typed rather than resetting
/// it to the setting's value.
fn input(ctx: &Ctx, key: String, field: &Field, current: String, apply: Callback<String>) -> Html {
    let (error, draft) = {
        let ui = ctx.ui.borrow();
        (
            ui.field_errors.get(&key).cloned(),
            ui.field_drafts.get(&key).cloned(),
        )
    };
    let shown = draft.unwrap_or_else(|| error.as_ref().map_or(current, |e| e.0.clone()));
    let id = format!("f-{}", key.replace([':', ' ', '.'], "-"));
    let described = if error.is_some() {
        format!("{id}-error {id}-help")
    } else {
        format!("{id}-help")
    };
    let invalid = error.is_some().then_some("true");
    let keep_draft = {
        let (ctx, key) = (ctx.clone(), key.clone());
        move |text: String| {
            ctx.dispatch(UiAction::FieldDraft {
                key: key.clone(),
                text,
            });
        }
    };
    let control = match field.ty {
        FieldType::Bool => {
            let apply = apply.clone();
            let onchange = Callback::from(move |e: Event| {
                let el: HtmlInputElement = e.target_unchecked_into();
                apply.emit(el.checked().to_string());
            });
            html! { <input id={id.clone()} type="checkbox" data-field={field.name} checked={shown == "true"} {onchange} aria-describedby={described.clone()} aria-invalid={invalid} /> }
        }
        FieldType::Choice(options) => {
            let apply = apply.clone();
            let onchange = Callback::from(move |e: Event| {
                let el: HtmlSelectElement = e.target_unchecked_into();
                apply.emit(el.value());
            });
            let shown = if shown.is_empty() {
                options[0].to_owned()
            } else {
                shown
            };
            html! {
                <select id={id.clone()} data-field={field.name} {onchange} aria-describedby={described.clone()} aria-invalid={invalid}>
                    { for options.iter().map(|o| html! { <option value={*o} selected={shown == *o}>{ *o }</option> }) }
                </select>
            }
        }
        FieldType::Json => {
            let apply = apply.clone();
            let onchange = Callback::from(move |e: Event| {
                let el: HtmlTextAreaElement = e.target_unchecked_into();
                apply.emit(el.value());
            });
            let oninput = Callback::from(move |e: InputEvent| {
                let el: HtmlTextAreaElement = e.target_unchecked_into();
                keep_draft(el.value());
            });
            html! { <textarea id={id.clone()} data-field={field.name} rows="2" value={shown} {oninput} {onchange} spellcheck="false" aria-describedby={described.clone()} aria-invalid={invalid} /> }
        }
        _ => {
            let apply = apply.clone();
            let onchange = Callback::from(move |e: Event| {
                let el: HtmlInputElement = e.target_unchecked_into();
                apply.emit(el.value());
            });
            let oninput = Callback::from(move |e: InputEvent| {
                let el: HtmlInputElement = e.target_unchecked_into();
                keep_draft(el.value());
            });
            let mode = if matches!(field.ty, FieldType::Int | FieldType::Float) {
                "decimal"
            } else {
                "text"
            };
            html! { <input id={id.clone()} data-field={field.name} value={shown} inputmode={mode} {oninput} {onchange} spellcheck="false" aria-describedby={described.clone()} aria-invalid={invalid} /> }
        }
    };
    html! {
        <div class={classes!("field", error.is_some().then_some("invalid"))}>
            <label for={id.clone()}><code>{ field.name }</code></label>
            { control }
            <small class="help" id={format!("{id}-help")}>{ field.help }</small>
            if let Some((_, why)) = error {
                <p class="field-error" id={format!("{id}-error")}>{ why }</p>
            }
        </div>
    }
}

/// Records a field's outcome: clears its error, or keeps the text with the reason (and says
/// it through the live region).
fn settle_field(ctx: &Ctx, key: &str, text: &str, r: Result<(), String>) {
    if let Err(why) = &r {
        let field = key.rsplit(':').next().unwrap_or(key);
        ctx.announce(format!("{field} not changed: {why}"));
    }
    ctx.dispatch(UiAction::FieldSettled {
        key: key.to_owned(),
        result: r.map_err(|why| (text.to_owned(), why)),
    });
    ctx.refresh.emit(());
}

fn node_panel(ctx: &Ctx, spec: &NodeSpec) -> Html {
    let name = spec.id.clone();
    let kind = spec.kind.name();
    let set_spec = |ctx: &Ctx, name: &str, new: NodeSpec| -> Result<(), String> {
        let renamed = new.id != name;
        let new_name = new.id.clone();
        let r = ctx
            .session
            .borrow_mut()
            .set_node(name, new)
            .map_err(|e| e.to_string());
        if r.is_ok() && renamed {
            ctx.dispatch(UiAction::Renamed(new_name));
        }
        r
    };
    let id_field = Field {
        name: "id",
        path: &["id"],
        ty: FieldType::Text,
        help: "the name; edges follow a rename",
    };
    let id_input = {
        let (ctx2, spec2, name2) = (ctx.clone(), spec.clone(), name.clone());
        let key = field_key(&name, "id");
        let key2 = key.clone();
        input(
            ctx,
            key,
            &id_field,
            name.clone(),
            Callback::from(move |text: String| {
                let text = text.trim().to_owned();
                let r = if text.is_empty() {
                    Err("a node needs a name".to_owned())
                } else {
                    set_spec(
                        &ctx2,
                        &name2,
                        NodeSpec {
                            id: text.clone(),
                            ..spec2.clone()
                        },
                    )
                };
                settle_field(&ctx2, &key2, &text, r);
            }),
        )
    };
    let rows = crate::models::fields(&spec.kind).iter().map(|field| {
        let key = field_key(&name, field.name);
        let (ctx2, spec2, name2, key2, field2) =
            (ctx.clone(), spec.clone(), name.clone(), key.clone(), *field);
        input(
            ctx,
            key,
            field,
            fields::node_field(spec, field),
            Callback::from(move |text: String| {
                let r = fields::set_node_field(&spec2, &field2, &text)
                    .and_then(|new| set_spec(&ctx2, &name2, new));
                settle_field(&ctx2, &key2, &text, r);
            }),
        )
    });
    let advanced = {
        let key = field_key(&name, "config");
        let (error, draft) = {
            let ui = ctx.ui.borrow();
            (
                ui.field_errors.get(&key).cloned(),
                ui.field_drafts.get(&key).cloned(),
            )
        };
        let text = draft.unwrap_or_else(|| {
            error
                .as_ref()
                .map_or_else(|| fields::config_json(spec), |e| e.0.clone())
        });
        let (ctx2, spec2, name2, key2) = (ctx.clone(), spec.clone(), name.clone(), key.clone());
        let onchange = Callback::from(move |e: Event| {
            let el: HtmlTextAreaElement = e.target_unchecked_into();
            let text = el.value();
            let r =
                fields::set_config_json(&spec2, &text).and_then(|new| set_spec(&ctx2, &name2, new));
            settle_field(&ctx2, &key2, &text, r);
        });
        let oninput = {
            let (ctx, key) = (ctx.clone(), key.clone());
            Callback::from(move |e: InputEvent| {
                let el: HtmlTextAreaElement = e.target_unchecked_into();
                ctx.dispatch(UiAction::FieldDraft {
                    key: key.clone(),
                    text: el.value(),
                });
            })
        };
        html! {
            <details class="advanced">
                <summary>{ "All settings as JSON" }</summary>
                <textarea id="config-json" rows="8" value={text} {oninput} {onchange} spellcheck="false"
                    aria-label="All settings as JSON" aria-invalid={error.is_some().then_some("true")}
                    aria-describedby={error.is_some().then_some("config-json-error")} />
                if let Some((_, why)) = error {
                    <p class="field-error" id="config-json-error">{ why }</p>
                }
            </details>
        }
    };
    let on_delete = {
        let ctx = ctx.clone();
        Callback::from(move |_: MouseEvent| delete_selection(&ctx))
    };
    let connect = connect_to(ctx, &name);
    let links = connections(ctx, &name);
    let process = process(ctx, &name);
    let in_force = in_force(ctx, &name);
    let contents = store_contents(ctx, &name);
    html! {
        <div class="panel" data-selected={name.clone()}>
            <h2 tabindex="-1"><span class={classes!("kind-badge", kind)}>{ kind }</span>{ " " }{ name.clone() }</h2>
            <p class="keys-hint muted">{ "Escape goes back to the canvas." }</p>
            { faults(ctx, spec) }
            { process }
            { links }
            { connect }
            { in_force }
            { contents }
            <div class="fields">
                { id_input }
                { for rows }
            </div>
            { advanced }
            <button class="danger" data-action="delete" onclick={on_delete} title="Delete (Delete key)">{ "Delete node" }</button>
        </div>
    }
}

/// An exchange's or a queue's settings as they apply now: the policy and operator policy that
/// match it, and each setting with its value and where it comes from (its own argument, the
/// policy, the operator policy). Nothing for other nodes, or when nothing is set.
fn in_force(ctx: &Ctx, name: &str) -> Html {
    let found = {
        let s = ctx.session.borrow();
        let sim = s.timeline().sim();
        sim.topology()
            .node_id(name)
            .and_then(|id| sim.effective_settings(id))
    };
    let Some((names, settings)) = found else {
        return html! {};
    };
    let policy_line = match (&names.policy, &names.operator_policy) {
        (None, None) => "No policy applies.".to_owned(),
        (Some(p), None) => format!("Policy {p:?} applies."),
        (None, Some(o)) => format!("Operator policy {o:?} applies."),
        (Some(p), Some(o)) => format!("Policy {p:?} and operator policy {o:?} apply."),
    };
    let source = |s: &switchboard_core::amqp::policy::Setting| match s.source {
        switchboard_core::amqp::policy::Source::Argument => "argument".to_owned(),
        switchboard_core::amqp::policy::Source::Policy => {
            format!("policy {}", names.policy.clone().unwrap_or_default())
        }
        switchboard_core::amqp::policy::Source::OperatorPolicy => format!(
            "operator policy {}",
            names.operator_policy.clone().unwrap_or_default()
        ),
    };
    html! {
        <section class="in-force" aria-labelledby="in-force-title" data-in-force={name.to_owned()}>
            <h3 id="in-force-title">{ "In force" }</h3>
            <p class="muted">{ policy_line }</p>
            if !settings.is_empty() {
                <table class="settings">
                    <thead><tr><th scope="col">{ "setting" }</th><th scope="col">{ "value" }</th><th scope="col">{ "from" }</th></tr></thead>
                    <tbody>
                        { for settings.iter().map(|s| html! {
                            <tr data-setting={s.key}>
                                <th scope="row">{ s.key }</th>
                                <td>{ s.value.clone() }</td>
                                <td>{ source(s) }{ s.note.map(|n| html! { <span class="muted">{ format!(" ({n})") }</span> }) }</td>
                            </tr>
                        }) }
                    </tbody>
                </table>
            }
        </section>
    }
}

/// The keys a store shows: the ones written last, newest first.
const STORE_ROWS: usize = 20;

/// A store's keys as they are now: each key's version and the message that wrote it, the
/// [`STORE_ROWS`] written last. Nothing for other nodes.
fn store_contents(ctx: &Ctx, name: &str) -> Html {
    let rows = {
        let s = ctx.session.borrow();
        let sim = s.timeline().sim();
        let Some(values) = sim
            .topology()
            .node_id(name)
            .and_then(|id| sim.store_values(id))
        else {
            return html! {};
        };
        let mut rows: Vec<(String, switchboard_core::data::Version)> =
            values.map(|(k, v)| (k.to_owned(), *v)).collect();
        rows.sort_by(|a, b| b.1.at.cmp(&a.1.at).then(a.0.cmp(&b.0)));
        let total = rows.len();
        rows.truncate(STORE_ROWS);
        (rows, total)
    };
    let (rows, total) = rows;
    let summary = match total {
        0 => "No key written yet.".to_owned(),
        n if n <= STORE_ROWS => format!("{n} keys, each at its current version."),
        n => format!("{n} keys; the {STORE_ROWS} written last."),
    };
    html! {
        <section class="store-contents" aria-labelledby="store-contents-title" data-store={name.to_owned()}>
            <h3 id="store-contents-title">{ "Contents" }</h3>
            <p class="muted">{ summary }</p>
            if !rows.is_empty() {
                <table class="settings">
                    <thead><tr><th scope="col">{ "key" }</th><th scope="col">{ "version" }</th><th scope="col">{ "written by" }</th><th scope="col">{ "at" }</th></tr></thead>
                    <tbody>
                        { for rows.iter().map(|(key, v)| html! {
                            <tr data-key={key.clone()}>
                                <th scope="row">{ key.clone() }</th>
                                <td>{ v.version }</td>
                                <td>{ format!("message {}", v.message.0) }
                                    if v.logical != v.message {
                                        <span class="muted">{ format!(" (request {})", v.logical.0) }</span>
                                    }
                                </td>
                                <td>{ format!("{:.3}s", v.at.0 as f64 / 1e6) }</td>
                            </tr>
                        }) }
                    </tbody>
                </table>
            }
        </section>
    }
}

/// Selects `s` and keeps the focus in the inspector (on its new panel).
fn select_here(ctx: &Ctx, s: Selection) {
    ctx.dispatch(UiAction::FocusOn(super::Focus::Inspector));
    super::stage::select(ctx, s);
}

/// The process a node runs in: for a service with other inputs, each input with its handler
/// (a button that selects it); for an input, its service. Nothing for other nodes.
fn process(ctx: &Ctx, name: &str) -> Html {
    let (service, inputs): (String, Vec<(String, String)>) = {
        let s = ctx.session.borrow();
        let topo = s.timeline().sim().topology();
        let Some(id) = topo.node_id(name) else {
            return html! {};
        };
        let Some(g) = s.scene().group_of(id).cloned() else {
            return html! {};
        };
        let inputs = g
            .inputs
            .iter()
            .map(|&i| {
                let n = topo.node(i);
                let steps = crate::models::handler_len(&n.kind);
                let what = match steps {
                    0 => "no handler steps".to_owned(),
                    1 => "a handler of 1 step".to_owned(),
                    k => format!("a handler of {k} steps"),
                };
                (
                    n.name.clone(),
                    format!("{} {}, {what}", n.kind.name(), n.name),
                )
            })
            .collect();
        (topo.node(g.service).name.clone(), inputs)
    };
    let select = |target: String| {
        let ctx = ctx.clone();
        Callback::from(move |_: MouseEvent| select_here(&ctx, Selection::Node(target.clone())))
    };
    if service != name {
        return html! {
            <section class="process-section" aria-labelledby="process-title">
                <h3 id="process-title">{ "Process" }</h3>
                <p>{ "Runs in the process of " }
                    <button class="linkish" data-select-node={service.clone()} onclick={select(service.clone())}
                        title="Select the service">{ format!("service {service}") }</button>
                    { ": it goes down and comes back with it." }</p>
            </section>
        };
    }
    html! {
        <section class="process-section" aria-labelledby="process-title">
            <h3 id="process-title">{ "Inputs in its process" }</h3>
            <ul class="links">
                { for inputs.into_iter().map(|(target, text)| html! {
                    <li><button class="linkish" data-select-node={target.clone()} onclick={select(target)}
                        title="Select this input">{ text }</button></li>
                }) }
            </ul>
        </section>
    }
}

/// A node's connections, each a button that selects it: how the keyboard reaches an edge's
/// settings from a node.
fn connections(ctx: &Ctx, name: &str) -> Html {
    let items: Vec<(EdgeId, String)> = {
        let s = ctx.session.borrow();
        let topo = s.timeline().sim().topology();
        let Some(id) = topo.node_id(name) else {
            return html! {};
        };
        crate::describe::links(topo, id)
            .into_iter()
            .map(|l| (l.edge, l.text()))
            .collect()
    };
    if items.is_empty() {
        return html! {};
    }
    html! {
        <section class="links-section" aria-labelledby="connections-title">
            <h3 id="connections-title">{ "Connections" }</h3>
            <ul class="links">
                { for items.into_iter().map(|(e, text)| {
                    let ctx = ctx.clone();
                    let onclick = Callback::from(move |_: MouseEvent| select_here(&ctx, Selection::Edge(e)));
                    html! { <li><button class="linkish" data-select-edge={e.0.to_string()} {onclick} title="Select this connection">{ text }</button></li> }
                }) }
            </ul>
        </section>
    }
}

/// Connecting from the keyboard: the nodes this one can connect to, and a button.
fn connect_to(ctx: &Ctx, from: &str) -> Html {
    let targets: Vec<(String, &'static str)> = {
        let s = ctx.session.borrow();
        let version = s.topology_version();
        let mut caches = ctx.caches.borrow_mut();
        let cached = caches
            .connect_targets
            .as_ref()
            .filter(|c| c.from == from && c.version == version);
        match cached {
            Some(c) => c.targets.clone(),
            None => {
                let targets: Vec<(String, &'static str)> = s
                    .doc()
                    .nodes
                    .iter()
                    .filter(|n| s.connection_refusal(from, &n.id).is_none())
                    .map(|n| {
                        let meaning = s.connection_meaning(from, &n.id).unwrap_or("connects to");
                        (n.id.clone(), meaning)
                    })
                    .collect();
                caches.connect_targets = Some(super::ConnectTargets {
                    from: from.to_owned(),
                    version,
                    targets: targets.clone(),
                });
                targets
            }
        }
    };
    if targets.is_empty() {
        return html! {};
    }
    let chosen = first_target(&targets);
    let on_click = {
        let ctx = ctx.clone();
        let from = from.to_owned();
        Callback::from(move |_: MouseEvent| {
            let to = web_sys::window()
                .and_then(|w| w.document())
                .and_then(|d| d.get_element_by_id("connect-target"))
                .and_then(|e| wasm_bindgen::JsCast::dyn_into::<HtmlSelectElement>(e).ok())
                .map(|s| s.value());
            if let Some(to) = to.filter(|t| !t.is_empty()) {
                super::stage::begin_connect(&ctx, &from, &to);
            }
        })
    };
    html! {
        <section class="connect" aria-label="Connect">
            <h3>{ "Connect" }</h3>
            <div class="connect-row">
                <select id="connect-target" aria-label="Connect to">
                    { for targets.iter().map(|(id, meaning)| html! {
                        <option value={id.clone()} selected={*id == chosen}>{ format!("{meaning} {id}") }</option>
                    }) }
                </select>
                <button data-action="connect" onclick={on_click}>{ "Connect" }</button>
            </div>
        </section>
    }
}

fn first_target(targets: &[(String, &'static str)]) -> String {
    targets.first().map(|t| t.0.clone()).unwrap_or_default()
}

fn run_command(ctx: &Ctx, commands: Vec<Command>, done: &str) {
    let r = ctx.session.borrow_mut().timeline_mut().apply_all(commands);
    match r {
        Ok(()) => ctx.notify(done.to_owned(), false),
        Err(e) => ctx.notify(format!("Refused: {e}"), true),
    }
    ctx.refresh.emit(());
}

/// Fault buttons for the node: each is a command, recorded in the edit log.
fn faults(ctx: &Ctx, spec: &NodeSpec) -> Html {
    let (node, up, paused) = {
        let s = ctx.session.borrow();
        let sim = s.timeline().sim();
        let Some(node) = sim.topology().node_id(&spec.id) else {
            return html! {};
        };
        let m = sim.metrics();
        let nm = &m.nodes[node.index()];
        let kafka_paused = matches!(
            nm.kafka(),
            Some(switchboard_core::kafka::KafkaMetrics::Consumer(c)) if c.paused
        );
        (
            node,
            nm.up,
            nm.consumer().is_some_and(|c| c.paused) || kafka_paused,
        )
    };
    let cmd = |label: &'static str,
               action: &'static str,
               commands: Vec<Command>,
               done: String,
               title: &'static str| {
        let ctx = ctx.clone();
        let onclick =
            Callback::from(move |_: MouseEvent| run_command(&ctx, commands.clone(), &done));
        html! { <button data-fault={action} {onclick} {title}>{ label }</button> }
    };
    let name = spec.id.clone();
    let crash_restart = |node: NodeId| {
        if up {
            cmd(
                "Crash",
                "crash",
                vec![Command::Crash { node }],
                format!("{name} crashed"),
                "Kill it: what it holds is lost, its unacked messages go back to their queues",
            )
        } else {
            cmd(
                "Restart",
                "restart",
                vec![Command::Restart { node }],
                format!("{name} restarted"),
                "Bring it back up",
            )
        }
    };
    let faults = crate::models::faults(&spec.kind);
    if faults.is_empty() {
        return html! {};
    }
    let buttons = faults.iter().map(|fault| match fault {
        Fault::CrashRestart => crash_restart(node),
        Fault::PauseResume if paused => cmd(
            "Resume",
            "resume",
            vec![Command::Resume { node }],
            format!("{name} resumed"),
            "Start processing again",
        ),
        Fault::PauseResume => cmd(
            "Pause",
            "pause",
            vec![Command::Pause { node }],
            format!("{name} paused"),
            "Stall the application: deliveries pile up in its prefetch window",
        ),
        Fault::Slow => {
            let Some(slow) = crate::models::slowed(spec) else {
                return html! {};
            };
            let ctx = ctx.clone();
            let name = name.clone();
            let onclick = Callback::from(move |_: MouseEvent| {
                let r = ctx.session.borrow_mut().set_node(&name, slow.clone());
                report(&ctx, r.clone());
                if r.is_ok() {
                    ctx.notify(format!("{name} is 10× slower (undo to restore)"), false);
                }
                ctx.refresh.emit(());
            });
            html! { <button data-fault="slow" {onclick} title="Processing takes ten times as long">{ "Slow ×10" }</button> }
        }
        Fault::Replay => cmd(
            "Replay from 0",
            "replay",
            vec![Command::Seek {
                node,
                topic: None,
                partition: None,
                to: switchboard_core::kafka::SeekTo::Edge(switchboard_core::kafka::SeekEdge::Beginning),
            }],
            format!("{name} seeks to the beginning of its partitions"),
            "Seek to the log start of every partition it owns: it reads them again",
        ),
        Fault::LoseAck => cmd(
            "Lose next ack",
            "lose-ack",
            vec![Command::LoseAck { node }],
            format!("{name} will lose the broker's next response"),
            "The broker appends the next batch but its response is lost: the producer retries after request.timeout.ms, a duplicate unless enable.idempotence is on",
        ),
        Fault::Flood if matches!(spec.kind, NodeKind::Kafka(_)) => {
            let flood: Vec<Command> = (0..FLOOD)
                .map(|_| Command::Publish {
                    node,
                    message: switchboard_core::message::MessageTemplate::default(),
                })
                .collect();
            cmd("Flood ×100", "flood", flood, format!("{name} produced {FLOOD} records at once"), "Produce a burst of 100 records (null keys) now")
        }
        Fault::Flood if matches!(spec.kind, NodeKind::Bullmq(_)) => {
            let flood: Vec<Command> = (0..FLOOD)
                .map(|_| Command::Publish {
                    node,
                    message: switchboard_core::message::MessageTemplate::default(),
                })
                .collect();
            cmd("Flood ×100", "flood", flood, format!("{name} added {FLOOD} jobs at once"), "Add a burst of 100 jobs now")
        }
        Fault::FailingJob => {
            let NodeKind::Bullmq(switchboard_core::bullmq::BullmqKind::Producer(p)) = &spec.kind else {
                return html! {};
            };
            // Three attempts at least, so that it fails twice and then completes.
            let mut opts = p.opts.clone();
            opts.attempts = Some(opts.attempts.unwrap_or(0).max(3));
            let job = switchboard_core::bullmq::JobTemplate {
                name: Some("fails-twice".into()),
                opts: Some(opts),
                fails: 2,
                unrecoverable: false,
            };
            let message = switchboard_core::message::MessageTemplate {
                job: Some(Box::new(job)),
                ..Default::default()
            };
            cmd("Add a job that fails twice", "failing-job", vec![Command::Publish { node, message }], format!("{name} added a job that fails twice"), "Add one job whose processor throws on its first two attempts: watch it back off and retry")
        }
        Fault::Flood | Fault::Poison => {
            let NodeKind::Producer(p) = &spec.kind else {
                return html! {};
            };
            if *fault == Fault::Flood {
                let flood: Vec<Command> = (0..FLOOD)
                    .map(|_| Command::Publish {
                        node,
                        message: p.message.clone(),
                    })
                    .collect();
                cmd("Flood ×100", "flood", flood, format!("{name} published {FLOOD} messages at once"), "Publish a burst of 100 messages now")
            } else {
                let mut poison = p.message.clone();
                poison.poison = true;
                cmd("Poison message", "poison", vec![Command::Publish { node, message: poison }], format!("{name} sent a poison message"), "Publish one message that every consumer fails to process")
            }
        }
    });
    let buttons: Html = buttons.collect();
    html! {
        <section class="faults" aria-label="Faults">
            <h3>{ "Break it" }</h3>
            <div class="fault-buttons">{ buttons }</div>
        </section>
    }
}

/// One end of an edge in its panel: a button that selects that node.
fn end_button(ctx: &Ctx, name: &str) -> Html {
    let onclick = {
        let (ctx, name) = (ctx.clone(), name.to_owned());
        Callback::from(move |_: MouseEvent| select_here(&ctx, Selection::Node(name.clone())))
    };
    html! {
        <button class="linkish" data-select-node={name.to_owned()} {onclick} title={format!("Select {name}")}><code>{ name.to_owned() }</code></button>
    }
}

fn edge_panel(ctx: &Ctx, id: switchboard_core::EdgeId, spec: &EdgeSpec) -> Html {
    // What the edge is, as the core decided it when it was added.
    let kind = ctx
        .session
        .borrow()
        .timeline()
        .sim()
        .topology()
        .edge(id)
        .kind;
    let meaning = kind.meaning();
    let table = crate::models::edge_fields(kind);
    let target = format!("edge{}", id.0);
    let rows = table.iter().map(|field| {
        let key = field_key(&target, field.name);
        let (ctx2, spec2, key2, field2) = (ctx.clone(), spec.clone(), key.clone(), *field);
        input(
            ctx,
            key,
            field,
            fields::edge_field(spec, field),
            Callback::from(move |text: String| {
                let r = fields::set_edge_field(&spec2, &field2, &text).and_then(|new| {
                    let r = ctx2.session.borrow_mut().set_edge(id, new.clone());
                    match r {
                        Ok(()) => {
                            // The edge was replaced: select the new one.
                            let s = ctx2.session.borrow();
                            let doc = s.doc();
                            let i = doc.edges.iter().rposition(|e| *e == new);
                            let new_id = i.and_then(|i| s.edge_id(i));
                            drop(s);
                            if let Some(e) = new_id {
                                // The same edge, replaced: its field drafts stay settled.
                                ctx2.dispatch(UiAction::Select(Selection::Edge(e)));
                            }
                            Ok(())
                        }
                        Err(e) => Err(e.to_string()),
                    }
                });
                settle_field(&ctx2, &key2, &text, r);
            }),
        )
    });
    let on_delete = {
        let ctx = ctx.clone();
        Callback::from(move |_: MouseEvent| delete_selection(&ctx))
    };
    html! {
        <div class="panel" data-selected-edge={id.0.to_string()}>
            <h2 tabindex="-1"><span class="kind-badge edge">{ if kind.class() == "binding" { "binding" } else { "connection" } }</span></h2>
            <p class="meaning">{ end_button(ctx, &spec.from) }{ format!(" {meaning} ") }{ end_button(ctx, &spec.to) }</p>
            <p class="keys-hint muted">{ "Escape goes back to the canvas." }</p>
            <div class="fields">{ for rows }</div>
            <button class="danger" data-action="delete" onclick={on_delete}>{ "Delete connection" }</button>
        </div>
    }
}
