//! Listening for an event on a window or document for as long as a component is mounted.

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

/// Adds `handler` for `event` on `target` (if there is one) and returns what removes it: the
/// cleanup of a `use_effect`.
pub fn listen(
    target: Option<web_sys::EventTarget>,
    event: &'static str,
    handler: impl Fn(web_sys::Event) + 'static,
) -> impl FnOnce() {
    let closure = Closure::<dyn Fn(web_sys::Event)>::new(handler);
    if let Some(t) = &target {
        let _ = t.add_event_listener_with_callback(event, closure.as_ref().unchecked_ref());
    }
    move || {
        if let Some(t) = target {
            let _ = t.remove_event_listener_with_callback(event, closure.as_ref().unchecked_ref());
        }
        drop(closure);
    }
}
