//! The conformance cases, natively: every file in `conformance/` at the repository root, one per
//! model (`conformance/amqp.json`: `{"model": "amqp", "about": …, "cases": [...]}`), each case
//! run in the simulator through its model's translator in the shared harness (with the
//! conservation check after every event), and what a client observes compared with what the
//! real system was observed to do, as recorded in the case (`observed`, `[[key, value], ...]`).
//!
//! The recordings come from `scripts/check-conformance.sh --record`, which runs the same cases
//! against a real broker (see `scripts/rabbitmq/conformance.py`); that script also compares the
//! simulator with the broker live. This test needs no broker.
//!
//! A new model adds `conformance/<model>.json`, a translator in `tests/common/<model>.rs`, and
//! a line in [`MODELS`]. `SWITCHBOARD_CASE=<name>` runs one case.

mod common;

use serde_json::Value;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// A model's translator: a case run in the simulator, and what was observed, as `(key, value)`
/// pairs.
type Translator = fn(&Value) -> Vec<(String, String)>;

/// Each model's translator, by the name its conformance file gives in `"model"`.
const MODELS: &[(&str, Translator)] = &[("amqp", common::amqp::conformance::observe)];

/// The differences between recorded and simulated observations: each key whose values differ,
/// with both values (the recorded order first, then keys only the simulator gave).
fn differences(recorded: &[(String, String)], ours: &[(String, String)]) -> Vec<String> {
    let get = |obs: &[(String, String)], k: &str| {
        obs.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone())
    };
    let mut keys: Vec<&str> = recorded.iter().map(|(k, _)| k.as_str()).collect();
    for (k, _) in ours {
        if !keys.contains(&k.as_str()) {
            keys.push(k);
        }
    }
    keys.into_iter()
        .filter_map(|k| {
            let (r, o) = (get(recorded, k), get(ours, k));
            (r != o).then(|| {
                let none = || "(nothing)".to_owned();
                format!(
                    "{k}: recorded: {} | switchboard: {}",
                    r.unwrap_or_else(none),
                    o.unwrap_or_else(none)
                )
            })
        })
        .collect()
}

/// A case's recorded observations.
fn recorded(case: &Value) -> Result<Vec<(String, String)>, String> {
    let Some(observed) = case.get("observed") else {
        return Err("no recorded observations (record them with \
                    scripts/check-conformance.sh --record)"
            .into());
    };
    observed
        .as_array()
        .ok_or("`observed` is not a list")?
        .iter()
        .map(|pair| match pair.as_array().map(Vec::as_slice) {
            Some([Value::String(k), Value::String(v)]) => Ok((k.clone(), v.clone())),
            _ => Err(format!("an observation is not [key, value]: {pair}")),
        })
        .collect()
}

/// The message of a panic.
fn panic_text(e: &(dyn std::any::Any + Send)) -> String {
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn every_conformance_case_gives_what_the_real_system_was_observed_to_give() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../conformance");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no conformance files in {dir}");
    let only = std::env::var("SWITCHBOARD_CASE").ok();
    let (mut run, mut failures) = (0, Vec::new());
    for path in files {
        let shown = format!(
            "conformance/{}",
            path.file_name().expect("a file").to_string_lossy()
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{shown}: {e}"));
        let doc: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{shown}: not JSON: {e}"));
        let model = doc["model"]
            .as_str()
            .unwrap_or_else(|| panic!("{shown}: no \"model\""));
        assert_eq!(
            path.file_stem().and_then(|s| s.to_str()),
            Some(model),
            "{shown}: the file of model {model:?} is conformance/{model}.json"
        );
        let translate = MODELS
            .iter()
            .find(|(name, _)| *name == model)
            .map(|(_, t)| *t)
            .unwrap_or_else(|| {
                panic!(
                    "{shown}: no translator for model {model:?}: add one to \
                     tests/common/{model}.rs and to MODELS in tests/conformance.rs"
                )
            });
        let cases = doc["cases"]
            .as_array()
            .unwrap_or_else(|| panic!("{shown}: no \"cases\" list"));
        let mut names = std::collections::BTreeSet::new();
        for case in cases {
            let name = case["name"]
                .as_str()
                .unwrap_or_else(|| panic!("{shown}: a case without a name: {case}"));
            assert!(names.insert(name), "{shown}: two cases named {name:?}");
            if only.as_deref().is_some_and(|o| o != name) {
                continue;
            }
            run += 1;
            let group = case["group"]
                .as_str()
                .map_or(String::new(), |g| format!(" (group {g})"));
            let what = format!("{shown}: case {name:?}{group}");
            let recorded = match recorded(case) {
                Ok(r) => r,
                Err(why) => {
                    failures.push(format!("{what}: {why}"));
                    continue;
                }
            };
            let ours = match catch_unwind(AssertUnwindSafe(|| translate(case))) {
                Ok(ours) => ours,
                Err(e) => {
                    failures.push(format!(
                        "{what}: the simulator side failed: {}",
                        panic_text(&*e)
                    ));
                    continue;
                }
            };
            let diffs = differences(&recorded, &ours);
            if diffs.is_empty() {
                println!("ok   {what}");
            } else {
                failures.push(format!(
                    "{what}: {} of {} observation(s) differ\n    {}",
                    diffs.len(),
                    recorded.len(),
                    diffs.join("\n    ")
                ));
            }
        }
    }
    assert!(run > 0, "no case named {only:?}");
    assert!(
        failures.is_empty(),
        "{} of {run} conformance case(s) differ from what was observed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
