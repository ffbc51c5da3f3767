//! The "Policies" drawer: RabbitMQ policies and operator policies, listed, set and cleared.
//! Before the run starts they are part of the document; while it plays, setting or clearing
//! one applies to the running broker at once (the editor turns the change into `set_policy` or
//! `clear_policy` commands, kept in the edit log like any live edit).

use super::{Ctx, UiAction};
use switchboard_core::amqp::policy::Policy;
use web_sys::{HtmlInputElement, HtmlTextAreaElement};
use yew::prelude::*;

/// The form's draft key (and its error's).
const FORM: &str = "policy-form";
/// The form's "operator policy" checkbox.
const FORM_OPERATOR: &str = "policy-form:operator";

/// What the form holds before anything is typed: a policy to adapt.
const TEMPLATE: &str = r#"{
  "name": "ttl",
  "pattern": "^orders$",
  "apply-to": "queues",
  "priority": 0,
  "definition": { "message-ttl": 1000, "dead-letter-exchange": "dlx" }
}"#;

/// Sets `text` (a policy as JSON) as a policy, or with `operator` an operator policy: a new
/// name adds one, a known name replaces it.
fn set(ctx: &Ctx, text: &str, operator: bool) -> Result<(), String> {
    let policy: Policy = serde_json::from_str(text).map_err(|e| format!("not a policy: {e}"))?;
    let name = policy.name.clone();
    ctx.session
        .borrow_mut()
        .edit(|d| {
            let list = d.policies_mut(operator);
            match list.iter_mut().find(|p| p.name == name) {
                Some(p) => *p = policy,
                None => list.push(policy),
            }
        })
        .map_err(|e| e.to_string())
}

fn clear(ctx: &Ctx, name: &str, operator: bool) -> Result<(), String> {
    ctx.session
        .borrow_mut()
        .edit(|d| d.policies_mut(operator).retain(|p| p.name != name))
        .map_err(|e| e.to_string())
}

fn settle(ctx: &Ctx, text: &str, what: String, r: Result<(), String>) {
    match &r {
        Ok(()) => ctx.announce(what),
        Err(why) => ctx.announce(format!("Not changed: {why}")),
    }
    ctx.dispatch(UiAction::FieldSettled {
        key: FORM.to_owned(),
        result: r.map_err(|why| (text.to_owned(), why)),
    });
    ctx.refresh.emit(());
}

fn rows(ctx: &Ctx, list: &[Policy], operator: bool) -> Html {
    if list.is_empty() {
        return html! { <p class="muted">{ if operator { "No operator policies." } else { "No policies." } }</p> };
    }
    let kind = if operator {
        "operator policy"
    } else {
        "policy"
    };
    html! {
        <table class="policies" data-operator={operator.to_string()}>
            <thead><tr>
                <th scope="col">{ "name" }</th><th scope="col">{ "pattern" }</th>
                <th scope="col">{ "apply-to" }</th><th scope="col">{ "priority" }</th>
                <th scope="col">{ "definition" }</th><th scope="col"><span class="visually-hidden">{ "actions" }</span></th>
            </tr></thead>
            <tbody>
                { for list.iter().map(|p| {
                    let json = serde_json::to_string_pretty(p).unwrap_or_default();
                    let on_edit = {
                        let (ctx, json) = (ctx.clone(), json.clone());
                        Callback::from(move |_: MouseEvent| {
                            ctx.dispatch(UiAction::FieldDraft { key: FORM.into(), text: json.clone() });
                            ctx.dispatch(UiAction::FieldDraft { key: FORM_OPERATOR.into(), text: operator.to_string() });
                            ctx.refresh.emit(());
                        })
                    };
                    let on_clear = {
                        let (ctx, name) = (ctx.clone(), p.name.clone());
                        Callback::from(move |_: MouseEvent| {
                            let r = clear(&ctx, &name, operator);
                            settle(&ctx, "", format!("Cleared the {kind} {name:?}."), r);
                        })
                    };
                    let definition = serde_json::to_string(&p.definition).unwrap_or_default();
                    html! {
                        <tr data-policy={p.name.clone()}>
                            <th scope="row">{ p.name.clone() }</th>
                            <td><code>{ p.pattern.clone() }</code></td>
                            <td>{ p.apply_to.as_str() }</td>
                            <td>{ p.priority }</td>
                            <td><code>{ definition }</code></td>
                            <td>
                                <button class="linkish" data-action="policy-edit" onclick={on_edit}
                                    aria-label={format!("Edit the {kind} {}", p.name)}>{ "Edit" }</button>
                                { " " }
                                <button class="linkish" data-action="policy-clear" onclick={on_clear}
                                    aria-label={format!("Clear the {kind} {}", p.name)}>{ "Clear" }</button>
                            </td>
                        </tr>
                    }
                }) }
            </tbody>
        </table>
    }
}

/// The drawer's content.
pub fn render(ctx: &Ctx) -> Html {
    let (policies, operator_policies) = {
        let s = ctx.session.borrow();
        let sim = s.timeline().sim();
        (sim.policies(false), sim.policies(true))
    };
    let (error, draft, operator) = {
        let ui = ctx.ui.borrow();
        (
            ui.field_errors.get(FORM).cloned(),
            ui.field_drafts.get(FORM).cloned(),
            ui.field_drafts
                .get(FORM_OPERATOR)
                .is_some_and(|o| o == "true"),
        )
    };
    let text = draft.unwrap_or_else(|| {
        error
            .as_ref()
            .map_or_else(|| TEMPLATE.to_owned(), |e| e.0.clone())
    });
    let oninput = {
        let ctx = ctx.clone();
        Callback::from(move |e: InputEvent| {
            let el: HtmlTextAreaElement = e.target_unchecked_into();
            ctx.dispatch(UiAction::FieldDraft {
                key: FORM.into(),
                text: el.value(),
            });
        })
    };
    let on_operator = {
        let ctx = ctx.clone();
        Callback::from(move |e: Event| {
            let el: HtmlInputElement = e.target_unchecked_into();
            ctx.dispatch(UiAction::FieldDraft {
                key: FORM_OPERATOR.into(),
                text: el.checked().to_string(),
            });
        })
    };
    let on_set = {
        let ctx = ctx.clone();
        Callback::from(move |_: MouseEvent| {
            let (text, operator) = {
                let ui = ctx.ui.borrow();
                (
                    ui.field_drafts
                        .get(FORM)
                        .cloned()
                        .unwrap_or_else(|| TEMPLATE.to_owned()),
                    ui.field_drafts
                        .get(FORM_OPERATOR)
                        .is_some_and(|o| o == "true"),
                )
            };
            let r = set(&ctx, &text, operator);
            let what = if operator {
                "operator policy"
            } else {
                "policy"
            };
            settle(&ctx, &text, format!("Set the {what}."), r);
        })
    };
    let playing = !ctx.session.borrow().timeline().at_start();
    html! {
        <div class="policies-drawer">
            <p class="muted">
                { "Policies set queue and exchange settings by name, without redeclaring them. Of the policies that match, the highest priority applies; an argument, a policy and an operator policy combine as RabbitMQ 4 combines them (the inspector's \u{201c}In force\u{201d} shows the result)." }
                if playing { { " The run is under way: a change applies to the running broker now." } }
            </p>
            <h3 id="policies-title">{ "Policies" }</h3>
            { rows(ctx, &policies, false) }
            <h3 id="operator-policies-title">{ "Operator policies" }</h3>
            { rows(ctx, &operator_policies, true) }
            <h3 id="policy-form-title">{ "Set a policy" }</h3>
            <textarea id="policy-json" rows="7" value={text} {oninput} spellcheck="false"
                aria-labelledby="policy-form-title" aria-describedby={error.as_ref().map(|_| "policy-json-error")}
                aria-invalid={error.as_ref().map(|_| "true")} />
            if let Some((_, why)) = &error {
                <p class="field-error" id="policy-json-error">{ why.clone() }</p>
            }
            <label class="inline"><input type="checkbox" id="policy-operator" checked={operator} onchange={on_operator} />{ " an operator policy" }</label>
            { " " }
            <button data-action="policy-set" onclick={on_set}>{ "Set policy" }</button>
        </div>
    }
}
