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
            assert_eq!(t.tags, strategy::TAGS);
            assert_eq!(t.scenario, Some(if t.direction == Direction::Long { 1 } else { 2 }));
            assert!(t.bars_held <= max_bars, "max_bars closes positions: held {}", t.bars_held);
        }
        assert!(r.trades.iter().any(|t| t.direction == Direction::Long));
        assert!(r.trades.iter().any(|t| t.direction == Direction::Short));
    }

    /// Signals appear exactly where `strategy::entry_rule` says, with stops from the parameters.
    /// If the rule reads other series, change `channel` here along with the strategy.
    #[test]
    fn signals_follow_the_entry_rule() {
        let m = market(2000, 3);
        let host = omega_core::indicators::MarketHost::new(m.clone(), Default::default());
        let params_json = serde_json::json!({"ema_length": 10, "atr_length": 5, "band_atr": 0.5});
        let params = Params::from_map(params_json.as_object().unwrap()).unwrap();
        let sigs = testing::signals::<S>(&config(params_json.clone()), &host).unwrap();
        assert!(sigs.len() > 5, "only {} signals", sigs.len());
        let cache = omega_core::IndicatorCache::new(&host).unwrap();
        let series = |key| cache.series(&key).unwrap();
        let ema = series(omega_core::IndicatorKey::ema(omega_core::PriceSide::Bid, params.ema_length));
        let atr = series(omega_core::IndicatorKey::atr(omega_core::PriceSide::Bid, params.atr_length));
        let close = m.price_columns()[3];
        let channel = |i: usize| strategy::Channel { close: close[i], ema: ema[i], atr: atr[i] };
        let finite = |c: strategy::Channel| c.close.is_finite() && c.ema.is_finite() && c.atr.is_finite();
        let expected: Vec<(usize, Direction)> = (1..m.len())
            .filter(|&i| finite(channel(i - 1)) && finite(channel(i)))
            .filter_map(|i| strategy::entry_rule(&params, channel(i - 1), channel(i)).map(|d| (i, d)))
            .collect();
        let got: Vec<(usize, Direction)> = sigs.iter().map(|(i, s)| (*i, s.parts().direction)).collect();
        assert_eq!(got, expected);
        for (_, s) in &sigs {
            let p = s.parts();
            let meta = p.meta.expect("signals carry their indicator values");
            let risk = (p.entry_price - p.stop_loss).abs();
            let reward = (p.take_profit.unwrap() - p.entry_price).abs();
            assert!((risk / meta["atr"] - params.sl_atr).abs() < 1e-9, "stop-loss at sl_atr ATRs");
            assert!((reward / meta["atr"] - params.tp_atr).abs() < 1e-9, "take-profit at tp_atr ATRs");
        }
        let mut short_only = config(params_json);
        short_only.direction_filter = "short".into();
        let shorts = testing::signals::<S>(&short_only, &host).unwrap();
        let expected_shorts: Vec<usize> =
            expected.iter().filter(|(_, d)| *d == Direction::Short).map(|(i, _)| *i).collect();
        assert_eq!(shorts.iter().map(|(i, _)| *i).collect::<Vec<_>>(), expected_shorts);
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

    /// The strategy with the default capabilities: `evaluate` on every allowed bar.
    struct EveryBar(S);

    impl omega_core::RustStrategy for EveryBar {
        fn evaluate(
            &self,
            slice: &omega_core::DataSlice<'_>,
            cache: &omega_core::IndicatorCache<'_>,
        ) -> Option<omega_core::TradeSignal> {
            self.0.evaluate(slice, cache)
        }
        fn manage_position(
            &self,
            position: &omega_core::Position,
            slice: &omega_core::DataSlice<'_>,
        ) -> omega_core::PositionAction {
            self.0.manage_position(position, slice)
        }
        fn primary_timeframe(&self) -> Timeframe {
            self.0.primary_timeframe()
        }
        fn name(&self) -> &str {
            self.0.name()
        }
    }

    /// `next_candidate` only skips bars on which `evaluate` would not signal: the same trades and
    /// equity as evaluating every bar.
    #[test]
    fn capabilities_skip_nothing() {
        use omega_core::RustStrategy;
        let m = market(5000, 5);
        let host = omega_core::indicators::MarketHost::new(m.clone(), Default::default());
        for params in [serde_json::json!({}), serde_json::json!({"ema_length": 8, "band_atr": 0.3, "max_bars": 15})] {
            let cfg = config(params);
            let ready = || {
                let mut s = S::default();
                s.on_init(&cfg).unwrap();
                s.prepare(&omega_core::IndicatorCache::new(&host).unwrap()).unwrap();
                s
            };
            let fast = ready();
            assert!(fast.capabilities().next_candidate);
            // a façade other than `prepare`'s: the handles fall back to keys
            let cache = omega_core::IndicatorCache::new(&host).unwrap();
            let a = omega_core::engine::run_backtest(&fast, &cache, &m, &cfg).unwrap();
            let b = omega_core::engine::run_backtest(&EveryBar(ready()), &cache, &m, &cfg).unwrap();
            assert!(a.trades.len() > 5, "only {} trades", a.trades.len());
            assert_eq!(a.trades, b.trades);
            assert_eq!(a.equity_curve, b.equity_curve);
        }
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
