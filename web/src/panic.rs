//! Panics reach the page, not only the console.

use wasm_bindgen::JsCast;

/// Shows `message` in the page's `#fatal-error` banner, as text (never as markup).
pub fn show_fatal(message: &str) {
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    if let Some(el) = doc.get_element_by_id("fatal-error") {
        el.set_text_content(Some(&format!(
            "Switchboard stopped: {message}. Reload the page to start again."
        )));
        if let Ok(el) = el.dyn_into::<web_sys::HtmlElement>() {
            el.set_hidden(false);
        }
    }
}

/// Installs a panic hook that logs readably (console_error_panic_hook) and shows the panic in
/// the page.
pub fn install() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        show_fatal(&info.to_string());
    }));
}
