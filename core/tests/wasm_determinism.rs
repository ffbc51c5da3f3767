//! The trace hash computed in wasm, in headless Chromium, equals the recorded golden one
//! (`tests/golden/trace-hashes.txt`, which `golden_traces.rs` checks natively): the same
//! scenario and seed give the same trace on both. Every built-in example is run.
#![cfg(target_arch = "wasm32")]

use switchboard_core::examples::EXAMPLES;
use switchboard_core::time::SimDuration;
use switchboard_core::trace::hash_of_run;
use switchboard_core::{Scenario, SimTime};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const GOLDEN: &str = include_str!("golden/trace-hashes.txt");

#[wasm_bindgen_test]
fn trace_hashes_in_wasm_equal_the_golden_ones() {
    let mut checked = 0;
    for line in GOLDEN
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let [file, until, want] = parts[..] else {
            panic!("golden line {line:?}: expected `file until hash`");
        };
        let name = file.strip_suffix(".json").expect("a .json file");
        let text = EXAMPLES
            .iter()
            .find(|e| e.0 == name)
            .unwrap_or_else(|| panic!("{file} is not a built-in example"))
            .1;
        let s = Scenario::from_json(text).expect("valid example");
        let until = SimTime::ZERO + SimDuration::parse(until).expect("a duration");
        let got = hash_of_run(&s, s.seed, until).expect("valid").to_string();
        assert_eq!(
            got, want,
            "{file}: the wasm trace differs from the recorded one"
        );
        checked += 1;
    }
    assert_eq!(checked, EXAMPLES.len(), "every example has a golden hash");
}
