//! # {{ cookiecutter.project_slug }}
//!
//! {{ cookiecutter.project_name }}: the `{{ cookiecutter.strategy_name }}` strategy ([`strategy`]) as
//! an Omega strategy plugin.
//!
//! - `omega_core::export_strategy!` builds the strategy's plugin table (ABI v1) and exports it as
//!   the C symbol `omega_strategy_plugin_v1`;
//! - the PyO3 module `{{ cookiecutter.package_name }}._native` hands that table to omega-core as a
//!   `PyCapsule` named `omega.strategy_plugin.v1` (`plugin_capsule()`), which the pluggy hook in
//!   `{{ cookiecutter.package_name }}.plugin` registers.
//!
//! Cargo features: `python` (default) builds the PyO3 module; without it the crate needs no Python.
#![deny(unsafe_code)]

pub mod strategy;

pub use strategy::{Params, STRATEGY_NAME, STRATEGY_VERSION};

pub use strategy::{{ cookiecutter.__class_name }};

// The plugin table of the crate: `plugin_table()` and the C symbol `omega_strategy_plugin_v1`.
omega_core::export_strategy!({{ cookiecutter.__class_name }});

/// The Python extension module `{{ cookiecutter.package_name }}._native`.
#[cfg(feature = "python")]
mod python {
    use pyo3::prelude::*;
    use pyo3::types::PyCapsule;

    /// The plugin table as a `PyCapsule` named `omega.strategy_plugin.v1`. The capsule owns a copy
    /// of the static table (whose strings and functions are `'static` in this module, which Python
    /// never unloads); omega-core keeps the capsule alive while it uses the table.
    #[pyfunction]
    fn plugin_capsule(py: Python<'_>) -> PyResult<Bound<'_, PyCapsule>> {
        PyCapsule::new_with_value(py, *super::plugin_table(), omega_core::plugin::CAPSULE_NAME)
    }

    #[pymodule]
    fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("__version__", super::STRATEGY_VERSION)?;
        m.add("STRATEGY_NAME", super::STRATEGY_NAME)?;
        m.add("CORE_VERSION", omega_core::CORE_VERSION)?;
        m.add("ABI_MAJOR", omega_core::plugin::ABI_MAJOR)?;
        m.add("ABI_MINOR", omega_core::plugin::ABI_MINOR)?;
        m.add_function(wrap_pyfunction!(plugin_capsule, m)?)?;
        Ok(())
    }
}

/// The strategy run through its own plugin table, in-process (`omega_core::plugin::testing`): the
/// same `extern "C"` thunks, validation and `ForeignStrategy` as when omega-core loads the wheel.
#[cfg(test)]
mod tests {
    use omega_core::market::MarketData;
    use omega_core::plugin::testing;
    use omega_core::{Direction, StrategyConfig, Timeframe};

    use super::*;

    /// The strategy under test.
    type S = {{ cookiecutter.__class_name }};

    /// `n` M1 bars of a seeded random walk whose drift flips every 400 bars (so that the price
    /// both trends out of its channel and chops inside it), with a 1-pip spread.
    fn market(n: usize, seed: u64) -> MarketData {
        let mut state = seed;
        let mut uniform = || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
        };
        let ts: Vec<i64> = (0..n as i64).map(|i| 1_700_000_000_000_000 + i * 60_000_000).collect();
        let mut cols: [Vec<f64>; 10] = Default::default();
        let mut close = 1.1;
        for i in 0..n {
            let drift = if (i / 400) % 2 == 0 { 0.00004 } else { -0.00004 };
            let open = close;
            close = open + drift + (uniform() - 0.5) * 0.0008;
            let high = open.max(close) + uniform() * 0.0003;
            let low = open.min(close) - uniform() * 0.0003;
            // Bid OHLCV, then ask OHLCV (ask = bid + 1 pip; same volume).
            for (c, v) in [open, high, low, close, 1.0].into_iter().enumerate() {
                cols[c].push(v);
                cols[c + 5].push(if c == 4 { v } else { v + 0.0001 });
            }
        }
        MarketData::from_vecs("EURUSD", Timeframe::M1, ts, cols, false).expect("a valid market")
    }

    fn config(params: serde_json::Value) -> StrategyConfig {
        let mut c = StrategyConfig::new("EURUSD", "M1");
        c.params = params.as_object().cloned().unwrap_or_default();
        c
    }

    #[test]
    fn table_declares_the_strategy() {
        let h = testing::handle::<S>().unwrap();
        assert_eq!(h.name(), STRATEGY_NAME);
        assert_eq!(h.version(), STRATEGY_VERSION);
        assert_eq!(plugin_table().abi_major, omega_core::plugin::ABI_MAJOR);
        assert!(std::ptr::eq(plugin_table(), omega_strategy_plugin_v1()));
    }

    #[test]
    fn backtest_through_the_plugin_table() {
        let m = market(4000, 7);
        let max_bars = 40;
        let r = testing::run_in_process::<S>(&m, &config(serde_json::json!({"max_bars": max_bars}))).unwrap();
        assert_eq!(r.bars_processed, 4000);
        assert!(r.trades.len() > 5, "only {} trades", r.trades.len());
        for t in &r.trades {
            assert_eq!(t.reason, strategy::REASON);
            assert_eq!(t.tags, ["ema", "atr", "breakout"]);
            assert_eq!(t.scenario, Some(if t.direction == Direction::Long { 1 } else { 2 }));
            assert!(t.bars_held <= max_bars, "max_bars closes positions: held {}", t.bars_held);
        }
        assert!(r.trades.iter().any(|t| t.direction == Direction::Long));
        assert!(r.trades.iter().any(|t| t.direction == Direction::Short));
    }

    #[test]
    fn signals_are_band_breakouts() {
        let m = market(2000, 3);
        let host = omega_core::indicators::MarketHost::new(m.clone(), Default::default());
        let params = serde_json::json!({"ema_length": 10, "atr_length": 5, "band_atr": 0.5});
        let sigs = testing::signals::<S>(&config(params.clone()), &host).unwrap();
        assert!(sigs.len() > 5, "only {} signals", sigs.len());
        // The cross, recomputed from the same series the strategy reads.
        let cache = omega_core::IndicatorCache::new(&host).unwrap();
        let series = |key| cache.series(&key).unwrap();
        let ema = series(omega_core::IndicatorKey::ema(omega_core::PriceSide::Bid, 10));
        let atr = series(omega_core::IndicatorKey::atr(omega_core::PriceSide::Bid, 5));
        let close = m.price_columns()[3];
        for (i, s) in &sigs {
            let (i, p) = (*i, s.parts());
            let meta = p.meta.expect("signals carry their indicator values");
            let (upper, lower) = (ema[i] + 0.5 * atr[i], ema[i] - 0.5 * atr[i]);
            assert_eq!((meta["ema"], meta["atr"], meta["upper"], meta["lower"]), (ema[i], atr[i], upper, lower));
            match p.direction {
                Direction::Long => {
                    assert!(close[i - 1] <= ema[i - 1] + 0.5 * atr[i - 1] && close[i] > upper, "bar {i}")
                }
                Direction::Short => {
                    assert!(close[i - 1] >= ema[i - 1] - 0.5 * atr[i - 1] && close[i] < lower, "bar {i}")
                }
            }
            let risk = (p.entry_price - p.stop_loss).abs();
            let reward = (p.take_profit.unwrap() - p.entry_price).abs();
            assert!((risk / meta["atr"] - 1.5).abs() < 1e-9 && (reward / meta["atr"] - 3.0).abs() < 1e-9);
        }
        let mut short_only = config(params);
        short_only.direction_filter = "short".into();
        let shorts = testing::signals::<S>(&short_only, &host).unwrap();
        assert!(!shorts.is_empty());
        assert!(shorts.iter().all(|(_, s)| s.direction() == "short"));
    }

    #[test]
    fn breakeven_moves_the_stop_to_the_entry() {
        let m = market(4000, 11);
        let with = testing::run_in_process::<S>(&m, &config(serde_json::json!({}))).unwrap();
        let without = testing::run_in_process::<S>(&m, &config(serde_json::json!({"breakeven_r": null}))).unwrap();
        let at_entry = |t: &omega_core::engine::TradeRecord| t.stop_loss == t.entry_price;
        assert!(with.trades.iter().any(at_entry), "no stop-loss was moved to break-even");
        assert!(!without.trades.iter().any(at_entry));
    }

    #[test]
    fn invalid_params_fail_at_creation() {
        let m = market(200, 1);
        let host = omega_core::indicators::MarketHost::new(m, Default::default());
        let e = testing::signals::<S>(&config(serde_json::json!({"bogus": 1})), &host).unwrap_err();
        assert_eq!(e.code(), "E4002");
        assert!(e.to_string().contains("'bogus'"), "{e}");
    }
}
