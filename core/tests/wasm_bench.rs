//! Kernel throughput in wasm, in headless Chromium: the browser half of the kernel benchmark.
//!
//! Not part of the test suite (it asserts nothing about time): run it with
//! `scripts/bench-wasm.sh`, which builds in release mode and prints events per second.
#![cfg(target_arch = "wasm32")]

use switchboard_core::fixtures::{
    http_metastable, relay_chain, run_in_frames, run_one_second_in_frames,
};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map(|p| p.now())
        .expect("performance.now")
}

#[wasm_bindgen_test]
fn kernel_chain_throughput_in_chromium() {
    for relays in [1usize, 10, 50] {
        let s = relay_chain(relays, 500_000 / (relays as u32 + 1));
        run_one_second_in_frames(&s); // warm-up
        let mut rates: Vec<f64> = (0..7)
            .map(|_| {
                let t0 = now_ms();
                let steps = run_one_second_in_frames(&s);
                steps as f64 / ((now_ms() - t0) / 1000.0)
            })
            .collect();
        rates.sort_by(f64::total_cmp);
        console_log!(
            "kernel_chain/{relays}_relays: median {:.2} M events/s (min {:.2}, max {:.2}, 7 runs)",
            rates[3] / 1e6,
            rates[0] / 1e6,
            rates[6] / 1e6
        );
    }
}

#[wasm_bindgen_test]
fn http_metastable_throughput_in_chromium() {
    let s = http_metastable();
    run_in_frames(&s, 60); // warm-up
    let mut rates: Vec<f64> = (0..7)
        .map(|_| {
            let t0 = now_ms();
            let steps = run_in_frames(&s, 60);
            steps as f64 / ((now_ms() - t0) / 1000.0)
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    console_log!(
        "http_metastable/60s: median {:.2} M steps/s (min {:.2}, max {:.2}, 7 runs)",
        rates[3] / 1e6,
        rates[0] / 1e6,
        rates[6] / 1e6
    );
}
