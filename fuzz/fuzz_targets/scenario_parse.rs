#![no_main]
//! `scenario_parse`: see `switchboard_core::fuzzing::scenario_parse`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard_core::fuzzing::scenario_parse(data));
