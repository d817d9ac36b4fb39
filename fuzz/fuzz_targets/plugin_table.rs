//! `cargo fuzz run plugin_table`: see `omega_fuzz::plugin_table` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| omega_fuzz::plugin_table(data));
