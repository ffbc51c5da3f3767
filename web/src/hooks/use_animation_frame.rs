//! A `requestAnimationFrame` loop for the lifetime of a component.

use gloo::render::{request_animation_frame, AnimationFrame};
use std::cell::RefCell;
use std::rc::Rc;
use yew::prelude::*;

/// The pending frame request; dropping it cancels it.
type Pending = Rc<RefCell<Option<AnimationFrame>>>;
/// The latest frame callback the component gave.
type OnFrame = Rc<RefCell<Option<Rc<dyn Fn(f64)>>>>;

/// Calls `on_frame(timestamp_ms)` once per animation frame while the component is mounted.
/// The latest `on_frame` passed is the one called.
#[hook]
pub fn use_animation_frame<F: Fn(f64) + 'static>(on_frame: F) {
    let callback = use_mut_ref(|| None::<Rc<dyn Fn(f64)>>);
    *callback.borrow_mut() = Some(Rc::new(on_frame));
    use_effect_with((), move |_| {
        let pending: Pending = Rc::new(RefCell::new(None));
        request(&pending, callback);
        move || {
            // Dropping the request cancels it and ends the loop.
            pending.borrow_mut().take();
        }
    });
}

fn request(pending: &Pending, callback: OnFrame) {
    let again = Rc::downgrade(pending);
    let frame = request_animation_frame(move |ts| {
        // Clone out of the cell first: the callback may re-render and replace it.
        let cb = callback.borrow().clone();
        if let Some(cb) = cb {
            cb(ts);
        }
        // Unmounted meanwhile: the loop ends.
        if let Some(pending) = again.upgrade() {
            request(&pending, callback);
        }
    });
    *pending.borrow_mut() = Some(frame);
}
