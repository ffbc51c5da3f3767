//! Listening for an event on a window or document for as long as a component is mounted.

use gloo::events::{EventListener, EventListenerOptions};

/// Adds `handler` for `event` on `target` (if there is one) and returns what removes it: the
/// cleanup of a `use_effect`. The handler may call `prevent_default` (keyboard shortcuts do):
/// the listener is not passive.
pub fn listen(
    target: Option<web_sys::EventTarget>,
    event: &'static str,
    handler: impl Fn(web_sys::Event) + 'static,
) -> impl FnOnce() {
    let listener = target.map(|t| {
        let options = EventListenerOptions::enable_prevent_default();
        EventListener::new_with_options(&t, event, options, move |e| handler(e.clone()))
    });
    move || drop(listener)
}
