//! The trace hash computed in wasm, in headless Chromium, equals the native one.
//!
//! `scripts/test.sh` runs the native CLI on each example and passes the hashes in at compile time
//! as `SWITCHBOARD_NATIVE_TRACE_HASHES="file=hash,..."`. The test fails, rather than skips, when
//! they are missing: a comparison that silently does not run proves nothing.
#![cfg(target_arch = "wasm32")]

use switchboard_core::trace::hash_of_run;
use switchboard_core::{Scenario, SimTime};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const EXAMPLES: &[(&str, &str)] = &[
    ("hello.json", include_str!("../../docs/examples/hello.json")),
    (
        "relay-chain.json",
        include_str!("../../docs/examples/relay-chain.json"),
    ),
    (
        "crash-restart.json",
        include_str!("../../docs/examples/crash-restart.json"),
    ),
    (
        "amqp-dead-letter.json",
        include_str!("../../docs/examples/amqp-dead-letter.json"),
    ),
    (
        "amqp-quorum-delivery-limit.json",
        include_str!("../../docs/examples/amqp-quorum-delivery-limit.json"),
    ),
    (
        "amqp-prefetch-round-robin.json",
        include_str!("../../docs/examples/amqp-prefetch-round-robin.json"),
    ),
    (
        "amqp-consumer-crash.json",
        include_str!("../../docs/examples/amqp-consumer-crash.json"),
    ),
    (
        "amqp-exchange-types.json",
        include_str!("../../docs/examples/amqp-exchange-types.json"),
    ),
    (
        "amqp-ttl.json",
        include_str!("../../docs/examples/amqp-ttl.json"),
    ),
];

/// Must match `scripts/test.sh`: `switchboard run FILE --until 30s`.
const UNTIL: SimTime = SimTime(30_000_000);

fn wasm_hash(text: &str) -> String {
    let s = Scenario::from_json(text).expect("valid example");
    hash_of_run(&s, s.seed, UNTIL).expect("valid").to_string()
}

#[wasm_bindgen_test]
// Failing at run time, with this message, is the point: the test reports why it cannot compare.
#[allow(clippy::option_env_unwrap)]
fn trace_hashes_in_wasm_equal_the_native_ones() {
    let native = option_env!("SWITCHBOARD_NATIVE_TRACE_HASHES")
        .expect("SWITCHBOARD_NATIVE_TRACE_HASHES is not set: run this through scripts/test.sh");
    for (file, text) in EXAMPLES {
        let expected = native
            .split(',')
            .find_map(|kv| kv.strip_prefix(&format!("{file}=")))
            .unwrap_or_else(|| panic!("no native hash for {file} in {native:?}"));
        assert_eq!(
            wasm_hash(text),
            expected,
            "{file}: wasm trace differs from native"
        );
    }
}
