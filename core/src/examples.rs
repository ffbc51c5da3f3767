//! The built-in examples: every scenario in `docs/examples/`, compiled in by `build.rs`. The
//! playground's Open menu, the wasm determinism test and the golden trace test read this one
//! list.

include!(concat!(env!("OUT_DIR"), "/examples.rs"));

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
}
