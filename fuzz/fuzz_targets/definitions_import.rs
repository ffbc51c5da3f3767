#![no_main]
//! `definitions_import`: see `switchboard_core::fuzzing::definitions_import`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard_core::fuzzing::definitions_import(data));
