//! The fuzz targets of Omega's input boundaries, as plain functions: each takes the fuzzer's bytes,
//! feeds them to the core the way a caller would, and panics on a property violation. The libFuzzer
//! binaries (`fuzz_targets/`) call them; `tests/corpus.rs` replays the committed corpora and
//! regressions through them with `cargo test` (docs/runbook.md "Fuzzing").
//!
//! Properties, for every input:
//! - no panic, no abort, no out-of-bounds read (AddressSanitizer in `cargo fuzz` builds);
//! - every refusal is a coded `StrategyError` of the class the boundary promises (docs/errors.md),
//!   never E4008/E4009 (a caught panic or an internal error of Omega itself);
//! - what is accepted is consistent (a config round-trips through its JSON; a table's declared
//!   name is a valid registry key; a signal's texts respect their caps).

pub mod candles;

use omega_core::plugin::abi::{MAX_ITEMS, MAX_NAME_LEN, MAX_TEXT_LEN};
use omega_core::plugin::image::{check_out_image, check_table_image};
use omega_core::plugin::{check_capsule_name, valid_strategy_name};
use omega_core::{instruments, RustStrategy, StrategyConfig, StrategyError};
use omega_strategies_zscore::MeanReversionZScore;

pub use candles::candles;

/// A fuzz target: panics on a property violation.
pub type Target = fn(&[u8]);

/// The fuzz targets by name, as `cargo fuzz` knows them.
pub const TARGETS: [(&str, Target); 4] =
    [("config_json", config_json), ("candles", candles), ("plugin_table", plugin_table), ("plugin_out", plugin_out)];

/// Panic unless `e` carries one of `codes` (the refusal a boundary promises).
pub fn expect_code(e: &StrategyError, codes: &[&str], what: &str) {
    assert!(codes.contains(&e.code()), "{what}: expected one of {codes:?}, got {} ({e})", e.code());
}

/// Config JSON as it crosses every boundary (`StrategyConfig::from_json`), then MRZ's parameter
/// reader (`on_init`) on the accepted config. The input is also tried as MRZ's `params` object
/// inside a valid config, so that the reader sees arbitrary parameter maps. Refusals are E4002;
/// an accepted config serialises to JSON that parses back to the same config.
pub fn config_json(data: &[u8]) {
    // The boundary takes text (Python str, JSON from a file): bytes that are not UTF-8 never reach it.
    let Ok(text) = std::str::from_utf8(data) else { return };
    match StrategyConfig::from_json(text) {
        Ok(cfg) => {
            let json = cfg.to_json();
            let again = StrategyConfig::from_json(&json)
                .unwrap_or_else(|e| panic!("an accepted config does not round-trip: {e} in {json}"));
            assert_eq!(again, cfg, "round-trip through {json}");
            if let Err(e) = instruments::resolve(&cfg.symbol, &cfg.engine.symbol_spec) {
                expect_code(&e, &["E4002"], "instrument of an accepted config");
            }
            mrz_on_init(&cfg);
        }
        Err(e) => expect_code(&e, &["E4002"], "config JSON"),
    }
    if let Ok(serde_json::Value::Object(params)) = serde_json::from_str::<serde_json::Value>(text) {
        let mut cfg = StrategyConfig::new("EURUSD", "M5");
        cfg.params = params;
        mrz_on_init(&cfg);
    }
}

fn mrz_on_init(cfg: &StrategyConfig) {
    let mut mrz = MeanReversionZScore::default();
    if let Err(e) = mrz.on_init(cfg) {
        expect_code(&e, &["E4002"], "MRZ params");
    }
}

/// A plugin table from bytes (`omega_core::plugin::image::check_table_image`: the table's string
/// views point into the image), and the same bytes as a capsule name. Refusals are E4007; an
/// accepted table declares a valid strategy name and version and core version within their caps.
pub fn plugin_table(data: &[u8]) {
    let name = std::ffi::CStr::from_bytes_until_nul(data).ok();
    if let Err(e) = check_capsule_name(name) {
        expect_code(&e, &["E4007"], "capsule name");
    }
    match check_table_image(data) {
        Ok(t) => {
            assert!(valid_strategy_name(&t.name), "accepted an invalid strategy name {:?}", t.name);
            assert!(t.version.len() <= MAX_NAME_LEN && t.core_version.len() <= MAX_NAME_LEN);
            assert!(t.panic_unwind.unwrap_or(true), "accepted a panic = \"abort\" plugin");
        }
        Err(e) => expect_code(&e, &["E4007"], "plugin table"),
    }
}

/// What a plugin's `evaluate` writes, from bytes (`omega_core::plugin::image::check_out_image`):
/// a signal is accepted within its caps or refused with E4006/E4007; an error record always
/// becomes some error whose text is within the caps the core promises.
pub fn plugin_out(data: &[u8]) {
    let (signal, error) = check_out_image(data);
    match signal {
        Some(Ok(s)) => {
            let p = s.parts();
            assert!(p.reason.len() <= MAX_TEXT_LEN, "reason beyond its cap");
            assert!(p.tags.len() <= MAX_ITEMS && p.tags.iter().all(|t| t.len() <= MAX_TEXT_LEN));
            if let Some(meta) = p.meta {
                assert!(meta.len() <= MAX_ITEMS && meta.keys().all(|k| k.len() <= MAX_TEXT_LEN));
            }
        }
        Some(Err(e)) => expect_code(&e, &["E4006", "E4007"], "plugin signal"),
        None => {}
    }
    // Any code may come back (it is the plugin's), but its texts went through the caps.
    let shown = error.to_string();
    assert!(shown.len() <= 2 * MAX_TEXT_LEN + 256, "error text beyond its caps: {} bytes", shown.len());
}
