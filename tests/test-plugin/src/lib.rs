//! # omega-test-plugin
//!
//! A strategy wheel built separately from omega-core, as third-party strategies are: the
//! `omega_test_sma_cross` strategy ([`strategy`]) exported with `omega_core::export_strategy!`, and
//! the PyO3 module `omega_test_plugin._native` whose `plugin_capsule()` hands the plugin table to
//! omega-core as a `PyCapsule` named `omega.strategy_plugin.v1`. omega-core's `tests/plugin_abi.rs`
//! `dlopen`s this crate's cdylib; the top-level Python tests install it as a wheel.
//!
//! Cargo features: `python` (default) builds the PyO3 module; without it the cdylib needs no Python.
#![deny(unsafe_code)]

pub mod strategy;

pub use strategy::{Params, SmaCross, STRATEGY_NAME, STRATEGY_VERSION};

omega_core::export_strategy!(SmaCross);

/// The Python extension module `omega_test_plugin._native`.
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

#[cfg(test)]
mod tests {
    use omega_core::market::MarketData;
    use omega_core::plugin::testing;
    use omega_core::{StrategyConfig, Timeframe};

    use super::*;

    /// A seeded random walk of `n` M1 bars with a 1-pip spread.
    fn market(n: usize, seed: u64) -> MarketData {
        let mut state = seed;
        let mut next = || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
        };
        let ts: Vec<i64> = (0..n as i64).map(|i| 1_700_000_000_000_000 + i * 60_000_000).collect();
        let mut close = 1.1;
        let mut cols: [Vec<f64>; 10] = Default::default();
        for _ in 0..n {
            let open = close;
            close = open + (next() - 0.5) * 0.0008;
            let high = open.max(close) + next() * 0.0003;
            let low = open.min(close) - next() * 0.0003;
            for (c, v) in [open, high, low, close, 1.0].into_iter().enumerate() {
                cols[c].push(v);
                cols[c + 5].push(if c == 4 { v } else { v + 0.0001 });
            }
        }
        MarketData::from_vecs("EURUSD", Timeframe::M1, ts, cols, false).unwrap()
    }

    fn config(params: serde_json::Value) -> StrategyConfig {
        let mut c = StrategyConfig::new("EURUSD", "M1");
        c.params = params.as_object().cloned().unwrap_or_default();
        c
    }

    #[test]
    fn table_declares_the_strategy() {
        let h = testing::handle::<SmaCross>().unwrap();
        assert_eq!(h.name(), STRATEGY_NAME);
        assert_eq!(h.version(), STRATEGY_VERSION);
        assert!(std::ptr::eq(plugin_table(), omega_strategy_plugin_v1()));
        assert_eq!(plugin_table().strategy_name.len, STRATEGY_NAME.len());
    }

    #[test]
    fn backtest_through_the_plugin_table() {
        let m = market(3000, 7);
        let r = testing::run_in_process::<SmaCross>(&m, &config(serde_json::json!({"fast": 5, "slow": 20}))).unwrap();
        assert_eq!(r.bars_processed, 3000);
        assert!(!r.trades.is_empty());
        for t in &r.trades {
            assert_eq!(t.reason, "sma_cross");
            assert_eq!(t.tags, ["sma", "cross"]);
            assert_eq!(t.scenario, Some(if t.direction == omega_core::Direction::Long { 1 } else { 2 }));
            assert!(t.bars_held <= 60, "max_bars closes positions: held {}", t.bars_held);
        }
    }

    #[test]
    fn signals_follow_the_crosses() {
        let m = market(800, 3);
        let host = omega_core::indicators::MarketHost::new(m.clone(), Default::default());
        let sigs = testing::signals::<SmaCross>(&config(serde_json::json!({"fast": 4, "slow": 9})), &host).unwrap();
        assert!(sigs.len() > 5);
        let long_only =
            testing::signals::<SmaCross>(&config(serde_json::json!({"fast": 4, "slow": 9})).with_long_only(), &host)
                .unwrap();
        assert!(!long_only.is_empty());
        assert!(long_only.iter().all(|(_, s)| s.direction() == "long"));
        for (i, s) in &sigs {
            let p = s.parts();
            let meta = p.meta.unwrap();
            assert!(meta["fast"] > meta["slow"] || p.direction == omega_core::Direction::Short, "bar {i}");
            let risk = (p.entry_price - p.stop_loss).abs();
            let reward = (p.take_profit.unwrap() - p.entry_price).abs();
            assert!((risk / meta["atr"] - 2.0).abs() < 1e-9 && (reward / meta["atr"] - 3.0).abs() < 1e-9);
        }
    }

    #[test]
    fn boundary_errors() {
        let m = market(200, 1);
        let host = omega_core::indicators::MarketHost::new(m, Default::default());
        let e = testing::signals::<SmaCross>(&config(serde_json::json!({"panic_at_bar": 50})), &host).unwrap_err();
        assert_eq!(
            e,
            omega_core::StrategyError::StrategyPanicked {
                strategy: STRATEGY_NAME.into(),
                message: "panic_at_bar reached at bar 50".into()
            }
        );
        let e = testing::signals::<SmaCross>(&config(serde_json::json!({"fail_init": true})), &host).unwrap_err();
        assert_eq!(e.code(), "E4002");
        let e = testing::signals::<SmaCross>(&config(serde_json::json!({"fast": 30, "slow": 10})), &host).unwrap_err();
        assert!(e.to_string().contains("'slow'"), "{e}");
        let e = testing::signals::<SmaCross>(&config(serde_json::json!({"bogus": 1})), &host).unwrap_err();
        assert!(e.to_string().contains("'bogus'"), "{e}");
        let whole_floats = config(serde_json::json!({"fast": 3.0, "sl_atr": 1}));
        let p = Params::from_map(&whole_floats.params).unwrap();
        assert_eq!((p.fast, p.sl_atr), (3, 1.0));
    }

    trait LongOnly {
        fn with_long_only(self) -> Self;
    }

    impl LongOnly for StrategyConfig {
        fn with_long_only(mut self) -> Self {
            self.direction_filter = "long".into();
            self
        }
    }
}
