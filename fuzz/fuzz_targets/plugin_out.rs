//! `cargo fuzz run plugin_out`: see `omega_fuzz::plugin_out` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| omega_fuzz::plugin_out(data));
