//! The editor's header (the scenario's name, Open, the tour's start, Undo, Redo, Fit, Share,
//! Embed, the File menu, Theme) and what its buttons open: examples, recent work, the share
//! link. The embed player is built without it (the `editor` feature).

use super::app::{fit_view, redo, undo};
use super::{examples, files, tour, Ctx, UiAction};
use switchboard_core::Scenario;
use wasm_bindgen::JsCast;
use web_sys::HtmlElement;
use yew::prelude::*;

/// The Share dialog: the link that carries the whole run, and Copy.
pub(super) fn share_dialog(ctx: &Ctx, link: String) -> Html {
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

/// The header: the scenario's name, Open (examples and recent work), the tour's start, Undo,
/// Redo, Fit, Share, Embed, the File menu and Theme.
pub(super) fn header(ctx: &Ctx) -> Html {
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
                    { for examples::INDEX.iter().map(|e| html! {
                        <option value={e.name} selected={current == e.name}>{ e.title }</option>
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
    open_example_then(ctx, name, |_| {});
}

thread_local! {
    /// The latest example asked for: a document that arrives after another was asked for is
    /// not opened over it.
    static ASKED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// [`open_example`], then `then` once it is open. Its document may have to be fetched first:
/// it is then opened only if nothing was opened or edited meanwhile and no other example was
/// asked for (the user's later choice wins); `then` is not called if it was not opened.
pub fn open_example_then(ctx: &Ctx, name: &str, then: impl FnOnce(&Ctx) + 'static) {
    let asked = ASKED.with(|a| {
        a.set(a.get() + 1);
        a.get()
    });
    let text = if name.is_empty() {
        Some(examples::EMPTY)
    } else {
        examples::get(name)
    };
    if let Some(text) = text {
        if open_text(ctx, name, text) {
            then(ctx);
        }
        return;
    }
    ctx.announce("Opening the example…");
    ctx.refresh.emit(());
    let since = (super::open::generation(), ctx.session.borrow().revision());
    let (ctx, name) = (ctx.clone(), name.to_owned());
    wasm_bindgen_futures::spawn_local(async move {
        let fetched = examples::fetch(&name).await;
        let now = (super::open::generation(), ctx.session.borrow().revision());
        if ASKED.with(|a| a.get()) != asked || now != since {
            return;
        }
        match fetched {
            Ok(text) => {
                if open_text(&ctx, &name, text) {
                    then(&ctx);
                }
            }
            Err(why) => {
                // The menu shows what is open again, so that choosing the example retries.
                let current = ctx.ui.borrow().example.clone();
                if let Some(select) = web_sys::window()
                    .and_then(|w| w.document())
                    .and_then(|d| d.get_element_by_id("examples"))
                    .and_then(|e| e.dyn_into::<web_sys::HtmlSelectElement>().ok())
                {
                    select.set_value(&current);
                }
                ctx.notify(format!("Could not open it: {why}"), true);
                ctx.refresh.emit(());
            }
        }
    });
}

/// Opens the example `name` from its document; reports and returns whether it opened.
fn open_text(ctx: &Ctx, name: &str, text: &str) -> bool {
    let result = Scenario::from_json(text)
        .map_err(|d| d.to_string())
        .and_then(|s| super::open::open(ctx, &s, super::open::Source::Example(name.to_owned())));
    let opened = result.is_ok();
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
    opened
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
