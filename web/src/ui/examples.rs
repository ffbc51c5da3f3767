//! The built-in examples as the page has them: their index (names, titles, tour promises)
//! compiled in, and each document fetched from `examples/<name>.json` (trunk copies
//! `docs/examples/` beside the page) when it is first needed, then kept for the page's life.
//! So neither build carries the documents or their tour texts: a visit downloads the examples
//! it opens (and the start screen its stories', to draw them). Natively (the tests) the
//! documents are the core's compiled-in ones.

use std::cell::RefCell;
use std::collections::BTreeMap;

pub use switchboard_core::examples::{entry, Entry, INDEX};

/// Who waits for a fetch under way: told its outcome.
type Waiter = futures_channel::oneshot::Sender<Result<&'static str, String>>;

thread_local! {
    /// Documents fetched so far, by name (kept for the page's life: they are small, and at
    /// most one of each).
    static FETCHED: RefCell<BTreeMap<&'static str, &'static str>> = const { RefCell::new(BTreeMap::new()) };
    /// Why the last fetch of an example failed, by name.
    static FAILED: RefCell<BTreeMap<&'static str, String>> = const { RefCell::new(BTreeMap::new()) };
    /// Who waits for each fetch under way, by name.
    static IN_FLIGHT: RefCell<BTreeMap<&'static str, Vec<Waiter>>> = const { RefCell::new(BTreeMap::new()) };
}

/// The document of the example `name`, if the page has it (it has been fetched).
pub fn get(name: &str) -> Option<&'static str> {
    #[cfg(not(target_arch = "wasm32"))]
    return switchboard_core::examples::get(name);
    #[cfg(target_arch = "wasm32")]
    return FETCHED.with(|f| f.borrow().get(name).copied());
}

/// True while a fetch of the example `name` is under way.
pub fn pending(name: &str) -> bool {
    IN_FLIGHT.with(|f| f.borrow().contains_key(name))
}

/// Why the example `name` is not here: no such example, or why its fetch failed.
pub fn missing(name: &str) -> String {
    match entry(name) {
        None => format!("there is no example {name:?}"),
        Some(e) => FAILED
            .with(|f| f.borrow().get(e.name).cloned())
            .map_or_else(
                || format!("the example {name:?} has not been fetched"),
                |why| format!("the example {name:?} could not be fetched: {why}"),
            ),
    }
}

/// The document of the example `name`: kept, or fetched now (one request however many ask
/// while it is under way).
pub async fn fetch(name: &str) -> Result<&'static str, String> {
    let Some(e) = entry(name) else {
        return Err(missing(name));
    };
    if let Some(text) = get(e.name) {
        return Ok(text);
    }
    let (tx, rx) = futures_channel::oneshot::channel();
    let first = IN_FLIGHT.with(|f| {
        let mut f = f.borrow_mut();
        let waiting = f.entry(e.name).or_default();
        waiting.push(tx);
        waiting.len() == 1
    });
    if first {
        let result = match fetch_text(&format!("{}examples/{}.json", base(), e.name)).await {
            Ok(text) => {
                let text: &'static str = Box::leak(text.into_boxed_str());
                FETCHED.with(|f| f.borrow_mut().insert(e.name, text));
                FAILED.with(|f| f.borrow_mut().remove(e.name));
                Ok(text)
            }
            Err(why) => {
                FAILED.with(|f| f.borrow_mut().insert(e.name, why));
                Err(missing(e.name))
            }
        };
        let waiting = IN_FLIGHT.with(|f| f.borrow_mut().remove(e.name).unwrap_or_default());
        for tx in waiting {
            let _ = tx.send(result.clone());
        }
    }
    rx.await
        .unwrap_or_else(|_| Err(format!("the fetch of the example {name:?} was dropped")))
}

/// Where the site's files are: the page loader's `{base}` (trunk's public URL), so that the
/// examples are fetched from beside the wasm wherever the page itself is.
fn base() -> String {
    web_sys::window()
        .and_then(|w| js_sys::Reflect::get(&w, &"switchboardBuild".into()).ok())
        .and_then(|b| js_sys::Reflect::get(&b, &"base".into()).ok())
        .and_then(|b| b.as_string())
        .unwrap_or_default()
}

/// Fetches the example `name` in the background, if it is one and the page lacks it, and calls
/// `arrived` once it is here (a tour of saved work reopens its example pristine; a story card
/// draws its topology).
pub fn prefetch(name: &str, arrived: impl FnOnce() + 'static) {
    if entry(name).is_some() && get(name).is_none() {
        let name = name.to_owned();
        wasm_bindgen_futures::spawn_local(async move {
            if fetch(&name).await.is_ok() {
                arrived();
            }
        });
    }
}

/// The text at `url` (relative to the page), or why not.
async fn fetch_text(url: &str) -> Result<String, String> {
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;
    let shown = |e: wasm_bindgen::JsValue| {
        e.dyn_ref::<js_sys::Error>()
            .map(|e| String::from(e.message()))
            .or_else(|| e.as_string())
            .unwrap_or_else(|| "the network failed".into())
    };
    let window = web_sys::window().ok_or("not in a browser")?;
    let response: web_sys::Response = JsFuture::from(window.fetch_with_str(url))
        .await
        .map_err(shown)?
        .dyn_into()
        .map_err(|_| "not a response".to_owned())?;
    if !response.ok() {
        return Err(format!("{url}: the server answered {}", response.status()));
    }
    let text = JsFuture::from(response.text().map_err(shown)?)
        .await
        .map_err(shown)?;
    text.as_string().ok_or_else(|| format!("{url}: not text"))
}

/// The example a URL's query asks for (`?example=name`), if any.
pub fn in_query(query: &str) -> Option<String> {
    query
        .trim_start_matches('?')
        .split('&')
        .find_map(|kv| kv.strip_prefix("example="))
        .map(str::to_owned)
}

/// An empty document: the canvas a newcomer starts from.
pub const EMPTY: &str = r#"{"version":2,"name":"Untitled","seed":1,"nodes":[],"edges":[]}"#;

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_core::Scenario;

    #[test]
    fn every_example_loads_in_the_editor_under_its_title() {
        assert!(INDEX.len() >= 20);
        for e in INDEX {
            let s = Scenario::from_json(get(e.name).unwrap())
                .unwrap_or_else(|d| panic!("{}: {d}", e.name));
            crate::editor::Session::new(&s).unwrap_or_else(|d| panic!("{}: {d}", e.name));
            assert_eq!(e.title, s.name, "{}", e.name);
        }
        assert!(Scenario::from_json(EMPTY).unwrap().nodes.is_empty());
        assert!(get("hello").is_some() && get("nope").is_none());
        assert_eq!(missing("nope"), "there is no example \"nope\"");
        assert_eq!(
            in_query("?embed=1&example=hello&tour"),
            Some("hello".into())
        );
        assert_eq!(in_query("?embed=1"), None);
    }
}
