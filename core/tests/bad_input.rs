//! Bad documents never panic: mutated examples either load (and then run conserved) or come back
//! as diagnostics with a path. Randomized; a failure prints the seed that reproduces it
//! (`SWITCHBOARD_SEED=<n> cargo test -p switchboard-core --test bad_input`).

mod common;

use common::run_checked;
use serde_json::Value;
use switchboard_core::rng::SimRng;
use switchboard_core::{Scenario, Sim, SimTime};

const EXAMPLES: &[&str] = &["hello.json", "relay-chain.json", "crash-restart.json"];

fn read(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../docs/examples/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn pick<'a, T>(rng: &mut SimRng, xs: &'a [T]) -> &'a T {
    &xs[rng.range_inclusive(0, xs.len() as u64 - 1) as usize]
}

/// A random JSON value of a random type, including awkward ones.
fn random_value(rng: &mut SimRng) -> Value {
    let choices = [
        Value::Null,
        Value::Bool(true),
        serde_json::json!(-1),
        serde_json::json!(0),
        serde_json::json!(1e300),
        serde_json::json!(18446744073709551615u64),
        serde_json::json!(0.5),
        serde_json::json!(""),
        serde_json::json!("<script>alert(1)</script>"),
        serde_json::json!("1.5s"),
        serde_json::json!("-5ms"),
        serde_json::json!("orders"),
        serde_json::json!([]),
        serde_json::json!({}),
        serde_json::json!({"dist": "uniform", "min": "9s", "max": "1s"}),
    ];
    pick(rng, &choices).clone()
}

/// Replaces one random value somewhere in the tree, or removes a key.
fn mutate(v: &mut Value, rng: &mut SimRng) {
    match v {
        Value::Object(map) if !map.is_empty() => {
            let keys: Vec<String> = map.keys().cloned().collect();
            let k = pick(rng, &keys).clone();
            match rng.range_inclusive(0, 3) {
                0 => {
                    map.remove(&k);
                }
                1 => {
                    map.insert(k, random_value(rng));
                }
                _ => mutate(map.get_mut(&k).unwrap(), rng),
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let i = rng.range_inclusive(0, items.len() as u64 - 1) as usize;
            match rng.range_inclusive(0, 3) {
                0 => {
                    items.remove(i);
                }
                1 => {
                    let copy = items[i].clone();
                    items.push(copy);
                }
                _ => mutate(&mut items[i], rng),
            }
        }
        other => *other = random_value(rng),
    }
}

fn check_seed(seed: u64) -> bool {
    let mut rng = SimRng::new(seed);
    let name: &str = pick::<&str>(&mut rng, EXAMPLES);
    let text = read(name);
    let candidate = if rng.chance(0.3) {
        // Byte-level damage: truncation or a replaced character.
        let mut bytes = text.into_bytes();
        let at = rng.range_inclusive(0, bytes.len() as u64 - 1) as usize;
        if rng.chance(0.5) {
            bytes.truncate(at);
        } else {
            bytes[at] = *pick(&mut rng, b"{}[]\",:0a\\\x00\xff");
        }
        String::from_utf8_lossy(&bytes).into_owned()
    } else {
        let mut v: Value = serde_json::from_str(&text).unwrap();
        for _ in 0..rng.range_inclusive(1, 3) {
            mutate(&mut v, &mut rng);
        }
        v.to_string()
    };
    match Scenario::from_json(&candidate) {
        Err(d) => {
            assert!(!d.0.is_empty(), "an error always says something");
            assert!(d
                .0
                .iter()
                .all(|d| !d.path.is_empty() && !d.message.is_empty()));
            false
        }
        Ok(s) => {
            let mut sim = Sim::new(&s).expect("a loaded scenario always builds");
            run_checked(&mut sim, SimTime(2_000_000), 500_000);
            true
        }
    }
}

#[test]
fn mutated_documents_never_panic() {
    let results = common::sweep("bad_input", 600, check_seed);
    let loaded = results.iter().filter(|&&ok| ok).count();
    let refused = results.len() - loaded;
    if !common::single_seed() {
        assert!(
            loaded > 20 && refused > 100,
            "the mutations must exercise both paths: {loaded} loaded, {refused} refused"
        );
    }
}
