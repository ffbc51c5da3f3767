//! A `requestAnimationFrame` loop for the lifetime of a component.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use yew::prelude::*;

type FrameClosure = Rc<RefCell<Option<Closure<dyn FnMut(f64)>>>>;

/// Calls `on_frame(timestamp_ms)` once per animation frame while the component is mounted.
/// The latest `on_frame` passed is the one called.
#[hook]
pub fn use_animation_frame<F: Fn(f64) + 'static>(on_frame: F) {
    let callback = use_mut_ref(|| None::<Rc<dyn Fn(f64)>>);
    *callback.borrow_mut() = Some(Rc::new(on_frame));
    use_effect_with((), move |_| {
        let closure: FrameClosure = Rc::new(RefCell::new(None));
        let request_id = Rc::new(Cell::new(0));
        let (again, id) = (closure.clone(), request_id.clone());
        *closure.borrow_mut() = Some(Closure::new(move |ts: f64| {
            // Clone out of the cell first: the callback may re-render and replace it.
            let cb = callback.borrow().clone();
            if let Some(cb) = cb {
                cb(ts);
            }
            request(&again, &id);
        }));
        request(&closure, &request_id);
        move || {
            if let Some(w) = web_sys::window() {
                let _ = w.cancel_animation_frame(request_id.get());
            }
            // Dropping the closure breaks the Rc cycle through `again`.
            closure.borrow_mut().take();
        }
    });
}

fn request(closure: &FrameClosure, id: &Cell<i32>) {
    let Some(w) = web_sys::window() else { return };
    if let Some(c) = closure.borrow().as_ref() {
        if let Ok(n) = w.request_animation_frame(c.as_ref().unchecked_ref()) {
            id.set(n);
        }
    }
}
