//! Where the keyboard focus goes: after every render, modal dialogs are opened as the browser's
//! own (`showModal`: the rest of the page is inert, Escape cancels), a focus request
//! ([`super::Focus`]) is carried out, and focus that fell to the page body because what held it
//! was removed or disabled (a deleted node, Undo with nothing left to undo, a closed dialog)
//! is put somewhere sensible: the dialog's opener, the element the lost one names in
//! `data-focus-fallback`, the selection, or the canvas.

use super::{Ctx, Focus, UiAction};
use std::cell::RefCell;
use wasm_bindgen::JsCast;
use web_sys::{Document, Element};

/// What the focus keeper remembers between renders.
#[derive(Default)]
pub struct Keeper {
    /// The element that last had the focus inside the page.
    pub last: Option<Element>,
    /// Open modal dialogs, by id, with the element that had the focus when each opened.
    pub dialogs: Vec<(String, Option<Element>)>,
}

fn document() -> Option<Document> {
    web_sys::window()?.document()
}

/// Focuses an HTML or SVG element (both have `focus()`).
pub fn focus_element(el: &Element) -> bool {
    let Ok(f) = js_sys::Reflect::get(el, &"focus".into()) else {
        return false;
    };
    let Ok(f) = f.dyn_into::<js_sys::Function>() else {
        return false;
    };
    f.call0(el).is_ok()
}

/// Focuses what `selector` finds; false if nothing.
pub fn focus_selector(selector: &str) -> bool {
    document()
        .and_then(|d| d.query_selector(selector).ok().flatten())
        .is_some_and(|el| focus_element(&el))
}

/// The CSS selector of a focus target.
pub fn selector(f: &Focus) -> String {
    match f {
        Focus::Node(name) => format!("g.node[data-node=\"{}\"]", css_escape(name)),
        Focus::Edge(e) => format!("[data-edge-focus=\"{}\"]", e.0),
        Focus::Stage => "#stage".into(),
        // Its heading: a screen reader reads what is selected, and Tab goes on to the controls
        // (none of which is pressed by accident).
        Focus::Inspector => "#inspector .panel > h2".into(),
        Focus::Css(s) => s.clone(),
    }
}

/// A name inside a quoted attribute selector.
fn css_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The focus that a lost focus falls back to: the selection, else the canvas.
fn fallback(ctx: &Ctx) -> Focus {
    Focus::of(&ctx.ui.borrow().selection)
}

fn lost(el: &Element) -> bool {
    !el.is_connected()
        || el.matches(":disabled").unwrap_or(false)
        || el.closest("[hidden]").ok().flatten().is_some()
}

fn focus_is_on_body(d: &Document) -> bool {
    match d.active_element() {
        None => true,
        Some(a) => a.tag_name() == "BODY",
    }
}

/// Runs after every render (see the module's doc).
pub fn after_render(ctx: &Ctx, keeper: &RefCell<Keeper>) {
    let Some(d) = document() else { return };
    let mut k = keeper.borrow_mut();
    keep(ctx, &d, &mut k);
    // What the focus moved to here (its focusin came while the keeper was held).
    if let Some(a) = d.active_element().filter(|a| a.tag_name() != "BODY") {
        k.last = Some(a);
    }
}

fn keep(ctx: &Ctx, d: &Document, k: &mut Keeper) {
    // Dialogs that closed give the focus back to what opened them.
    let mut give_back = None;
    k.dialogs.retain(|(id, opener)| {
        let open = d.get_element_by_id(id).is_some();
        if !open {
            give_back = Some(opener.clone());
        }
        open
    });
    // New dialogs open modally, remembering their opener.
    if let Ok(list) = d.query_selector_all("dialog.modal:not([open])") {
        for i in 0..list.length() {
            let Some(el) = list
                .get(i)
                .and_then(|n| n.dyn_into::<web_sys::HtmlDialogElement>().ok())
            else {
                continue;
            };
            let opener = d.active_element().filter(|a| a.tag_name() != "BODY");
            if el.show_modal().is_ok() {
                k.dialogs.push((el.id(), opener));
            }
        }
    }
    let request = ctx.ui.borrow().focus.clone();
    if let Some(f) = request {
        ctx.dispatch(UiAction::Focused);
        if focus_selector(&selector(&f)) {
            return;
        }
    }
    if let Some(opener) = give_back {
        match opener.filter(|o| !lost(o)) {
            Some(o) => {
                focus_element(&o);
            }
            None => {
                focus_selector(&selector(&fallback(ctx)));
            }
        }
        return;
    }
    // Focus that fell to the body because what had it went away.
    // Or that is about to (a focused button just disabled: the browser moves its focus to the
    // body at its next update, after this render).
    let disabled = d.active_element().filter(lost);
    if let Some(el) = &disabled {
        k.last = Some(el.clone());
    }
    let fell = disabled.is_some() || (focus_is_on_body(d) && k.last.as_ref().is_some_and(lost));
    if fell {
        let named = k
            .last
            .as_ref()
            .and_then(|l| l.get_attribute("data-focus-fallback"))
            .filter(|s| focus_selector(s));
        if named.is_none() && !focus_selector(&selector(&fallback(ctx))) {
            focus_selector("#stage");
        }
    }
}

/// Remembers the element that takes the focus (a `focusin` listener on the document).
pub fn remember(keeper: &RefCell<Keeper>, e: &web_sys::Event) {
    // A focus moved by `after_render` itself arrives while it holds the keeper: it records
    // that one itself.
    let Ok(mut k) = keeper.try_borrow_mut() else {
        return;
    };
    if let Some(el) = e.target().and_then(|t| t.dyn_into::<Element>().ok()) {
        k.last = Some(el);
    }
}
