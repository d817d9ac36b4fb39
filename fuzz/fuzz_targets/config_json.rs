//! `cargo fuzz run config_json`: see `omega_fuzz::config_json` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| omega_fuzz::config_json(data));
