//! The built-in examples: every scenario in `docs/examples/`, compiled in by `build.rs`. The
//! CLI, the wasm determinism test and the golden trace test read this one list; the page reads
//! [`INDEX`] (names, titles, tour promises) and fetches a document when it is opened, so the
//! documents are not in its wasm.

include!(concat!(env!("OUT_DIR"), "/examples.rs"));

/// An example as the page lists it: what its menu entry and its story card say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The file name without `.json`.
    pub name: &'static str,
    /// The scenario's `name`, or the file name if it has none.
    pub title: &'static str,
    /// Its tour's promise (the line on its story card), if it has a tour.
    pub promise: Option<&'static str>,
}

/// The index entry of the example called `name`.
pub fn entry(name: &str) -> Option<&'static Entry> {
    INDEX.iter().find(|e| e.name == name)
}

/// The document of the example called `name` (its file name without `.json`).
pub fn get(name: &str) -> Option<&'static str> {
    EXAMPLES.iter().find(|e| e.0 == name).map(|e| e.1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_example_is_listed_and_valid() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/examples");
        let on_disk = std::fs::read_dir(dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "json")
            })
            .count();
        assert_eq!(super::EXAMPLES.len(), on_disk);
        assert!(
            super::EXAMPLES.windows(2).all(|w| w[0].0 < w[1].0),
            "sorted"
        );
        for (name, text) in super::EXAMPLES {
            crate::Scenario::from_json(text).unwrap_or_else(|d| panic!("{name}: {d}"));
        }
        assert!(super::get("hello").is_some() && super::get("nope").is_none());
    }

    #[test]
    fn the_index_says_what_each_document_says() {
        assert_eq!(super::INDEX.len(), super::EXAMPLES.len());
        for (e, (name, text)) in super::INDEX.iter().zip(super::EXAMPLES) {
            let s = crate::Scenario::from_json(text).unwrap();
            assert_eq!(e.name, *name);
            let title = if s.name.is_empty() {
                name
            } else {
                s.name.as_str()
            };
            assert_eq!(e.title, title, "{name}");
            assert_eq!(
                e.promise,
                s.tour.as_ref().map(|t| t.promise.as_str()),
                "{name}"
            );
        }
        assert!(super::INDEX.iter().any(|e| e.promise.is_some()));
        assert_eq!(super::entry("hello").map(|e| e.name), Some("hello"));
        assert!(super::entry("nope").is_none());
    }
}
