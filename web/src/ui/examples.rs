//! The built-in examples: the documents of `docs/examples/`, as the core compiles them in
//! (`switchboard_core::examples`), with the titles the Open menu shows.

use std::sync::OnceLock;

pub use switchboard_core::examples::{get, EXAMPLES};

/// `(name, title)` of every example, in name order: the title is the scenario's own `name`.
pub fn titles() -> &'static [(&'static str, String)] {
    static TITLES: OnceLock<Vec<(&'static str, String)>> = OnceLock::new();
    TITLES.get_or_init(|| {
        #[derive(serde::Deserialize)]
        struct Named {
            #[serde(default)]
            name: String,
        }
        EXAMPLES
            .iter()
            .map(|(name, text)| {
                let title = serde_json::from_str::<Named>(text)
                    .ok()
                    .map(|n| n.name)
                    .filter(|t| !t.is_empty())
                    .unwrap_or_else(|| (*name).to_owned());
                (*name, title)
            })
            .collect()
    })
}

/// An empty document: the canvas a newcomer starts from.
pub const EMPTY: &str = r#"{"version":2,"name":"Untitled","seed":1,"nodes":[],"edges":[]}"#;

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_core::Scenario;

    #[test]
    fn every_example_loads_in_the_editor_under_its_title() {
        assert!(EXAMPLES.len() >= 20);
        for (name, doc) in EXAMPLES {
            let s = Scenario::from_json(doc).unwrap_or_else(|d| panic!("{name}: {d}"));
            crate::editor::Session::new(&s).unwrap_or_else(|d| panic!("{name}: {d}"));
            let title = &titles().iter().find(|t| t.0 == *name).unwrap().1;
            assert_eq!(*title, s.name, "{name}");
        }
        assert!(Scenario::from_json(EMPTY).unwrap().nodes.is_empty());
        assert!(get("hello").is_some() && get("nope").is_none());
    }
}
