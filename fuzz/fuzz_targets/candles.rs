//! `cargo fuzz run candles`: see `omega_fuzz::candles` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| omega_fuzz::candles(data));
