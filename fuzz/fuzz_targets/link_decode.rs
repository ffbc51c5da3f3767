#![no_main]
//! `link_decode`: see `switchboard_web::link::fuzz_decode`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard_web::link::fuzz_decode(data));
