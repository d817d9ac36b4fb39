//! In-process runs of a strategy through its own plugin table, for a strategy crate's `cargo test`
//! (no core wheel, no Python). Everything here goes through the same `extern "C"` thunks that
//! `export_strategy!` exports and the same validation and [`ForeignStrategy`] the core uses for a
//! loaded plugin, so a test that passes here exercises the real boundary code.
//!
//! ```
//! # use omega_core::{DataSlice, IndicatorCache, Position, PositionAction, RustStrategy, Timeframe, TradeSignal};
//! # #[derive(Default)]
//! # struct MyStrategy;
//! # impl RustStrategy for MyStrategy {
//! #     fn evaluate(&self, _: &DataSlice<'_>, _: &IndicatorCache<'_>) -> Option<TradeSignal> { None }
//! #     fn manage_position(&self, _: &Position, _: &DataSlice<'_>) -> PositionAction { PositionAction::Hold }
//! #     fn primary_timeframe(&self) -> Timeframe { Timeframe::M1 }
//! #     fn name(&self) -> &str { "my_strategy" }
//! # }
//! use omega_core::market::MarketData;
//! use omega_core::plugin::testing;
//! use omega_core::StrategyConfig;
//!
//! let n = 50;
//! let ts: Vec<i64> = (0..n).map(|i| i * 60_000_000).collect();
//! let bid: Vec<f64> = (0..n).map(|i| 1.1 + 0.0001 * (i % 7) as f64).collect();
//! let ask: Vec<f64> = bid.iter().map(|b| b + 0.0001).collect();
//! let cols = [bid.clone(), bid.clone(), bid.clone(), bid, vec![1.0; n as usize],
//!             ask.clone(), ask.clone(), ask.clone(), ask, vec![1.0; n as usize]];
//! let market = MarketData::from_vecs("EURUSD", Timeframe::M1, ts, cols, false).unwrap();
//! let config = StrategyConfig::new("EURUSD", "M1");
//!
//! // A full backtest through the plugin table and the core's engine:
//! let result = testing::run_in_process::<MyStrategy>(&market, &config).unwrap();
//! assert_eq!(result.bars_processed, 50);
//! assert!(result.trades.is_empty());
//! ```

use std::any::{type_name, TypeId};
use std::sync::{Arc, Mutex};

use super::abi::PluginTable;
use super::export::build_table;
use super::foreign::ForeignStrategy;
use super::handle::PluginHandle;
use crate::config::StrategyConfig;
use crate::engine::{run_backtest, EngineResult};
use crate::error::Result;
use crate::indicators::{IndicatorCache, IndicatorHost, MarketHost};
use crate::market::MarketData;
use crate::strategy::RustStrategy;
use crate::types::TradeSignal;

/// One table per strategy type for the process (like the static `export_strategy!` emits).
static TABLES: Mutex<Vec<(TypeId, &'static PluginTable)>> = Mutex::new(Vec::new());

/// The plugin table of `S`, built once per process with the same thunks `export_strategy!` uses.
pub fn table_for<S: RustStrategy + Default + 'static>() -> &'static PluginTable {
    let mut tables = TABLES.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, t)) = tables.iter().find(|(id, _)| *id == TypeId::of::<S>()) {
        return t;
    }
    let t: &'static PluginTable = Box::leak(Box::new(build_table::<S>()));
    tables.push((TypeId::of::<S>(), t));
    t
}

/// `S`'s table validated exactly as a loaded plugin's is (provider `"in-process:<type>"`).
pub fn handle<S: RustStrategy + Default + 'static>() -> Result<Arc<PluginHandle>> {
    let provider = format!("in-process:{}", type_name::<S>());
    // SAFETY: the table is 'static and its strings are leaked for the process.
    unsafe { PluginHandle::from_raw(table_for::<S>(), &provider) }.map(Arc::new)
}

/// An instance of `S` created through its table (Default → on_init → prepare in the thunk).
pub fn create<'h, S: RustStrategy + Default + 'static>(
    config: &StrategyConfig,
    host: &'h dyn IndicatorHost,
) -> Result<ForeignStrategy<'h>> {
    ForeignStrategy::create(&handle::<S>()?, config, host)
}

/// `evaluate` at every primary bar of `host` through the table (no engine gates), returning the
/// bars that produced a signal; the first error the strategy reports (or a panic, E4008) is returned.
pub fn signals<S: RustStrategy + Default + 'static>(
    config: &StrategyConfig,
    host: &dyn IndicatorHost,
) -> Result<Vec<(usize, TradeSignal)>> {
    let strategy = create::<S>(config, host)?;
    let bars = host.bars(None)?;
    let cache = IndicatorCache::new(host)?;
    let mut out = Vec::new();
    for i in 0..bars.len() {
        let slice = crate::types::DataSlice {
            symbol: bars.symbol,
            timeframe: bars.timeframe,
            index: i,
            timestamp_us: bars.open_time_us[i],
            bid: crate::types::CandleData {
                timestamp_us: bars.open_time_us[i],
                open: bars.bid_open[i],
                high: bars.bid_high[i],
                low: bars.bid_low[i],
                close: bars.bid_close[i],
                volume: bars.bid_volume[i],
            },
            ask: crate::types::CandleData {
                timestamp_us: bars.open_time_us[i],
                open: bars.ask_open[i],
                high: bars.ask_high[i],
                low: bars.ask_low[i],
                close: bars.ask_close[i],
                volume: bars.ask_volume[i],
            },
        };
        let s = strategy.evaluate(&slice, &cache);
        if let Some(e) = strategy.take_error() {
            return Err(e);
        }
        if let Some(s) = s {
            out.push((i, s));
        }
    }
    strategy.close()?;
    Ok(out)
}

/// A full backtest of `S` over `market` with the core's engine, the strategy created through its
/// plugin table over an in-process `MarketHost` (H4/D1 anchored per `config.engine.htf_anchor`).
pub fn run_in_process<S: RustStrategy + Default + 'static>(
    market: &MarketData,
    config: &StrategyConfig,
) -> Result<EngineResult> {
    config.validate()?;
    let host = MarketHost::new(market.clone(), config.engine.htf_anchor);
    let strategy = create::<S>(config, &host)?;
    let cache = IndicatorCache::new(&host)?;
    let result = run_backtest(&strategy, &cache, host.market(), config)?;
    strategy.close()?;
    Ok(result)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::HashMap;
    use std::ffi::c_void;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::error::StrategyError;
    use crate::indicators::{IndicatorKey, PriceSide};
    use crate::plugin::abi::{ErrorOut, SignalOut, StrView, STATUS_OK};
    use crate::plugin::host::tests::TinyHost;
    use crate::plugin::host::HostGuard;
    use crate::types::{DataSlice, Direction, Position, PositionAction, Timeframe};

    pub(crate) static DEINITS: AtomicUsize = AtomicUsize::new(0);

    /// A strategy with switchable behaviours, driven by its params.
    #[derive(Default)]
    pub(crate) struct Probe {
        every: usize,
        panic_at: Option<usize>,
        error_at: Option<usize>,
        panic_on_deinit: bool,
        sma: Option<IndicatorKey>,
        error: std::sync::Mutex<Option<StrategyError>>,
    }

    impl RustStrategy for Probe {
        fn evaluate(&self, slice: &DataSlice<'_>, cache: &IndicatorCache<'_>) -> Option<TradeSignal> {
            let i = slice.index;
            if self.panic_at == Some(i) {
                panic!("probe exploded at bar {i}");
            }
            if self.error_at == Some(i) {
                *self.error.lock().unwrap() =
                    Some(StrategyError::IndicatorError { indicator: "probe".into(), reason: format!("bad bar {i}") });
                return None;
            }
            if self.every == 0 || i % self.every != 0 {
                return None;
            }
            // NaN during warm-up; 0 keeps signals comparable with `==` in tests.
            let sma = cache.value(self.sma.as_ref()?, i);
            let sma = if sma.is_nan() { 0.0 } else { sma };
            let long = i % 2 == 0;
            let entry = if long { slice.ask.close } else { slice.bid.close };
            let meta: HashMap<String, f64> =
                [("zeta", 1.0), ("alpha", 2.0), ("mid", sma)].iter().map(|(k, v)| (k.to_string(), *v)).collect();
            Some(TradeSignal::new(
                if long { Direction::Long } else { Direction::Short },
                entry,
                if long { entry - 0.001 } else { entry + 0.001 },
                (i % 4 == 0).then_some(if long { entry + 0.002 } else { entry - 0.002 }),
                format!("probe@{i}"),
                vec!["probe".into(), format!("bar{i}")],
                (i % 3 != 0).then_some(7),
                (i % 5 != 0).then_some(meta),
            ))
        }

        fn manage_position(&self, position: &Position, slice: &DataSlice<'_>) -> PositionAction {
            match position.bars_held {
                0 => PositionAction::Hold,
                1 => PositionAction::ModifyStopLoss { new_sl: slice.bid.low },
                2 => PositionAction::ModifyTakeProfit { new_tp: position.entry_price + 0.5 },
                n => PositionAction::Close { reason: format!("held {n} in {}", position.symbol) },
            }
        }

        fn primary_timeframe(&self) -> Timeframe {
            Timeframe::M1
        }

        fn on_init(&mut self, config: &StrategyConfig) -> Result<()> {
            let p = &config.params;
            let get = |k: &str| p.get(k).and_then(|v| v.as_u64()).map(|v| v as usize);
            if p.get("fail_init").and_then(|v| v.as_bool()) == Some(true) {
                return Err(StrategyError::param("fail_init", "asked to fail"));
            }
            self.every = get("every").unwrap_or(3);
            self.panic_at = get("panic_at");
            self.error_at = get("error_at");
            self.panic_on_deinit = p.get("panic_on_deinit").and_then(|v| v.as_bool()) == Some(true);
            if p.get("panic_in_init").is_some() {
                panic!("probe init exploded");
            }
            Ok(())
        }

        fn prepare(&mut self, cache: &IndicatorCache<'_>) -> Result<()> {
            let key = IndicatorKey::sma(PriceSide::Bid, 3);
            cache.series(&key)?;
            self.sma = Some(key);
            Ok(())
        }

        fn on_deinit(&mut self) {
            DEINITS.fetch_add(1, Ordering::SeqCst);
            if self.panic_on_deinit {
                panic!("probe deinit exploded");
            }
        }

        fn name(&self) -> &str {
            "probe"
        }

        fn version(&self) -> &str {
            "0.3.0"
        }

        fn take_error(&self) -> Option<StrategyError> {
            self.error.lock().unwrap().take()
        }
    }

    fn config(params: serde_json::Value) -> StrategyConfig {
        let mut c = StrategyConfig::new("EURUSD", "M1");
        c.params = params.as_object().cloned().unwrap_or_default();
        c
    }

    fn slice_of(host: &TinyHost, i: usize) -> DataSlice<'_> {
        let b = host.bars(None).unwrap();
        let candle = |o: &[f64], h: &[f64], l: &[f64], c: &[f64], v: &[f64]| crate::types::CandleData {
            timestamp_us: b.open_time_us[i],
            open: o[i],
            high: h[i],
            low: l[i],
            close: c[i],
            volume: v[i],
        };
        DataSlice {
            symbol: b.symbol,
            timeframe: b.timeframe,
            index: i,
            timestamp_us: b.open_time_us[i],
            bid: candle(b.bid_open, b.bid_high, b.bid_low, b.bid_close, b.bid_volume),
            ask: candle(b.ask_open, b.ask_high, b.ask_low, b.ask_close, b.ask_volume),
        }
    }

    #[test]
    fn through_the_table_equals_direct_calls() {
        let host = TinyHost::new(40);
        let cfg = config(serde_json::json!({"every": 2}));
        let via = signals::<Probe>(&cfg, &host).unwrap();
        let mut direct = Probe::default();
        direct.on_init(&cfg).unwrap();
        let cache = IndicatorCache::new(&host).unwrap();
        direct.prepare(&cache).unwrap();
        let expected: Vec<_> =
            (0..40).filter_map(|i| direct.evaluate(&slice_of(&host, i), &cache).map(|s| (i, s))).collect();
        assert_eq!(via.len(), 20);
        assert_eq!(via, expected);
        // Optional fields of every shape crossed: TP/scenario/meta present and absent.
        assert!(via.iter().any(|(_, s)| s.parts().take_profit.is_none()));
        assert!(via.iter().any(|(_, s)| s.parts().meta.is_none()));
        assert!(via.iter().any(|(_, s)| s.parts().scenario.is_none()));
    }

    #[test]
    fn identity_and_cached_queries() {
        let host = TinyHost::new(10);
        let s = create::<Probe>(&config(serde_json::json!({})), &host).unwrap();
        assert_eq!(s.name(), "probe");
        assert_eq!(s.version(), "0.3.0");
        assert_eq!(s.primary_timeframe(), Timeframe::M1);
        assert_eq!(s.plugin().name(), "probe");
        assert!(s.plugin().provider().starts_with("in-process:"));
        assert_eq!(s.host_table().abi_major, crate::plugin::ABI_MAJOR);
        assert!(std::ptr::eq(table_for::<Probe>(), table_for::<Probe>()));
    }

    #[test]
    fn meta_is_sorted_by_key_and_views_live_until_next_call() {
        let host = TinyHost::new(10);
        let guard = HostGuard::new(&host);
        let t = table_for::<Probe>();
        let json = config(serde_json::json!({"every": 1})).to_json();
        let mut raw: *mut c_void = std::ptr::null_mut();
        let mut err = ErrorOut::EMPTY;
        // SAFETY: a valid table, config and host table; out-params are local.
        unsafe {
            assert_eq!((t.create.unwrap())(StrView::new(&json), guard.as_ptr(), &mut raw, &mut err), STATUS_OK);
            let mut out = SignalOut::EMPTY;
            assert_eq!((t.evaluate.unwrap())(raw, 2, &mut out, &mut err), STATUS_OK);
            assert_eq!(out.has_signal, 1);
            assert_eq!(out.has_meta, 1);
            let keys: Vec<String> =
                std::slice::from_raw_parts(out.meta_keys, out.meta_len).iter().map(|k| k.to_string_lossy()).collect();
            assert_eq!(keys, ["alpha", "mid", "zeta"]);
            let values = std::slice::from_raw_parts(out.meta_values, out.meta_len);
            assert_eq!(values[0], 2.0);
            assert_eq!(values[2], 1.0);
            assert_eq!(out.reason.to_string_lossy(), "probe@2");
            assert_eq!(out.tags_len, 2);
            assert_eq!((t.destroy.unwrap())(raw, &mut err), STATUS_OK);
        }
    }

    #[test]
    fn panics_become_e4008_and_poison_the_instance() {
        let host = TinyHost::new(10);
        let s = create::<Probe>(&config(serde_json::json!({"panic_at": 4, "every": 0})), &host).unwrap();
        let cache = IndicatorCache::new(&host).unwrap();
        assert!(s.evaluate(&slice_of(&host, 3), &cache).is_none());
        assert!(s.take_error().is_none());
        assert!(s.evaluate(&slice_of(&host, 4), &cache).is_none());
        let e = s.take_error().expect("panic reported");
        assert_eq!(e.code(), "E4008");
        assert_eq!(
            e,
            StrategyError::StrategyPanicked { strategy: "probe".into(), message: "probe exploded at bar 4".into() }
        );
        assert!(s.take_error().is_none(), "take_error takes");
        // Later calls fail too, naming the original panic.
        assert!(s.evaluate(&slice_of(&host, 5), &cache).is_none());
        let e = s.take_error().unwrap();
        assert!(e.to_string().contains("after a panic: probe exploded at bar 4"), "{e}");

        let e = create::<Probe>(&config(serde_json::json!({"panic_in_init": 1})), &host).err().unwrap();
        assert_eq!(
            e,
            StrategyError::StrategyPanicked { strategy: "probe".into(), message: "probe init exploded".into() }
        );
    }

    #[test]
    fn strategy_errors_and_init_failures_cross_intact() {
        let host = TinyHost::new(10);
        let s = create::<Probe>(&config(serde_json::json!({"error_at": 2})), &host).unwrap();
        let cache = IndicatorCache::new(&host).unwrap();
        assert!(s.evaluate(&slice_of(&host, 2), &cache).is_none());
        assert_eq!(
            s.take_error(),
            Some(StrategyError::IndicatorError { indicator: "probe".into(), reason: "bad bar 2".into() })
        );
        let e = create::<Probe>(&config(serde_json::json!({"fail_init": true})), &host).err().unwrap();
        assert_eq!(e, StrategyError::param("fail_init", "asked to fail"));
        // A bar index the plugin does not have is refused, not read out of bounds.
        let far = DataSlice { index: 10, ..slice_of(&host, 9) };
        assert!(s.evaluate(&far, &cache).is_none());
        assert_eq!(s.take_error().unwrap().code(), "E4009");
    }

    #[test]
    fn manage_position_actions_round_trip() {
        let host = TinyHost::new(10);
        let s = create::<Probe>(&config(serde_json::json!({})), &host).unwrap();
        let mut p = Position {
            id: 9,
            symbol: "EURUSD".into(),
            direction: Direction::Short,
            entry_price: 1.2,
            entry_time_us: 0,
            stop_loss: 1.3,
            take_profit: None,
            lot_size: 1.0,
            pnl_pips: 0.0,
            pnl_usd: 0.0,
            bars_held: 0,
            entry_index: 0,
        };
        let direct = Probe::default();
        for held in 0..5 {
            p.bars_held = held;
            if held == 4 {
                p.symbol = "USDJPY".into();
            }
            let slice = slice_of(&host, held + 1);
            let a = s.manage_position(&p, &slice);
            assert_eq!(a, direct.manage_position(&p, &slice), "bars_held {held}");
            assert!(s.take_error().is_none());
        }
        assert_eq!(
            s.manage_position(&p, &slice_of(&host, 5)),
            PositionAction::Close { reason: "held 4 in USDJPY".into() }
        );
    }

    #[test]
    fn destroy_runs_on_deinit_and_reports_its_panic() {
        let host = TinyHost::new(10);
        let before = DEINITS.load(Ordering::SeqCst);
        drop(create::<Probe>(&config(serde_json::json!({})), &host).unwrap());
        assert!(DEINITS.load(Ordering::SeqCst) > before);
        let s = create::<Probe>(&config(serde_json::json!({"panic_on_deinit": true})), &host).unwrap();
        let e = s.close().unwrap_err();
        assert_eq!(e.code(), "E4008");
        assert!(e.to_string().contains("probe deinit exploded"));
    }

    thread_local! {
        /// What `Echo` answers next (set by the property test on the same thread).
        static NEXT: std::cell::RefCell<(Option<TradeSignal>, PositionAction)> =
            const { std::cell::RefCell::new((None, PositionAction::Hold)) };
    }

    /// Returns whatever the test put in `NEXT`, through the table.
    #[derive(Default)]
    struct Echo;

    impl RustStrategy for Echo {
        fn evaluate(&self, _: &DataSlice<'_>, _: &IndicatorCache<'_>) -> Option<TradeSignal> {
            NEXT.with(|n| n.borrow().0.clone())
        }
        fn manage_position(&self, _: &Position, _: &DataSlice<'_>) -> PositionAction {
            NEXT.with(|n| n.borrow().1.clone())
        }
        fn primary_timeframe(&self) -> Timeframe {
            Timeframe::M1
        }
        fn name(&self) -> &str {
            "echo"
        }
    }

    fn finite() -> impl proptest::strategy::Strategy<Value = f64> {
        -1e9_f64..1e9
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config { cases: 64, ..Default::default() })]

        /// Any signal and action crosses the ABI unchanged (strings, tags, meta, optional fields).
        #[test]
        fn signals_and_actions_round_trip(
            long in proptest::bool::ANY,
            prices in (finite(), finite(), proptest::option::of(finite())),
            reason in ".{0,24}",
            tags in proptest::collection::vec(".{0,12}", 0..5),
            scenario in proptest::option::of(proptest::num::u32::ANY),
            meta in proptest::option::of(proptest::collection::hash_map(".{0,10}", finite(), 0..6)),
            action in 0u8..4,
            value in finite(),
        ) {
            let signal = TradeSignal::new(
                if long { Direction::Long } else { Direction::Short },
                prices.0, prices.1, prices.2, reason.clone(), tags, scenario, meta,
            );
            let action = match action {
                0 => PositionAction::Hold,
                1 => PositionAction::ModifyStopLoss { new_sl: value },
                2 => PositionAction::ModifyTakeProfit { new_tp: value },
                _ => PositionAction::Close { reason },
            };
            NEXT.with(|n| *n.borrow_mut() = (Some(signal.clone()), action.clone()));
            let host = TinyHost::new(3);
            let s = create::<Echo>(&config(serde_json::json!({})), &host).unwrap();
            let cache = IndicatorCache::new(&host).unwrap();
            proptest::prop_assert_eq!(s.evaluate(&slice_of(&host, 1), &cache), Some(signal));
            let p = Position {
                id: 1, symbol: "EURUSD".into(), direction: Direction::Long, entry_price: 1.0, entry_time_us: 0,
                stop_loss: 0.9, take_profit: None, lot_size: 1.0, pnl_pips: 0.0, pnl_usd: 0.0, bars_held: 1,
                entry_index: 0,
            };
            proptest::prop_assert_eq!(s.manage_position(&p, &slice_of(&host, 2)), action);
            proptest::prop_assert!(s.take_error().is_none());
        }
    }

    #[test]
    fn handles_run_concurrently_and_foreign_strategy_is_send_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<ForeignStrategy<'static>>();
        assert_send_sync::<PluginHandle>();
        let host = TinyHost::new(200);
        let cfg = config(serde_json::json!({"every": 1}));
        let expected = signals::<Probe>(&cfg, &host).unwrap();
        std::thread::scope(|scope| {
            let runs: Vec<_> = (0..4).map(|_| scope.spawn(|| signals::<Probe>(&cfg, &host).unwrap())).collect();
            for r in runs {
                assert!(r.join().unwrap() == expected, "a concurrent run differs");
            }
        });
        // One instance shared by threads: calls are serialised, never concurrent.
        let shared = create::<Probe>(&cfg, &host).unwrap();
        std::thread::scope(|scope| {
            for t in 0..2 {
                let (shared, host) = (&shared, &host);
                scope.spawn(move || {
                    let cache = IndicatorCache::new(host).unwrap();
                    for i in (t..200).step_by(2) {
                        let _ = shared.evaluate(&slice_of(host, i), &cache);
                    }
                });
            }
        });
        assert!(shared.take_error().is_none());
    }

    #[test]
    fn the_plugin_timeframe_must_match_the_config() {
        let host = TinyHost::new(10);
        let mut cfg = config(serde_json::json!({}));
        cfg.timeframe = "M5".into(); // Probe runs on M1
        let e = create::<Probe>(&cfg, &host).err().expect("refused");
        assert_eq!(e.code(), "E4002");
        assert!(e.to_string().contains("runs on M1 bars, but the config's timeframe is M5"), "{e}");
    }

    static SPARSE_EVALS: AtomicUsize = AtomicUsize::new(0);

    /// Signals on bars `i % 7 == 3`. With `skip`, it declares both capabilities: the engine must then
    /// never call `manage_position` (it panics) and evaluate only the bars `next_candidate` names.
    #[derive(Default)]
    struct Sparse {
        skip: bool,
    }

    impl RustStrategy for Sparse {
        fn evaluate(&self, s: &DataSlice<'_>, _: &IndicatorCache<'_>) -> Option<TradeSignal> {
            SPARSE_EVALS.fetch_add(1, Ordering::Relaxed);
            (s.index % 7 == 3).then(|| {
                let e = s.ask.close;
                TradeSignal::new(Direction::Long, e, e - 0.0004, Some(e + 0.0004), "sparse".into(), vec![], None, None)
            })
        }
        fn manage_position(&self, _: &Position, _: &DataSlice<'_>) -> PositionAction {
            assert!(!self.skip, "manage_position called although the strategy declared it does not manage");
            PositionAction::Hold
        }
        fn primary_timeframe(&self) -> Timeframe {
            Timeframe::M1
        }
        fn on_init(&mut self, config: &StrategyConfig) -> Result<()> {
            self.skip = config.params.get("skip").and_then(|v| v.as_bool()) == Some(true);
            Ok(())
        }
        fn capabilities(&self) -> crate::Capabilities {
            if self.skip {
                crate::Capabilities { manages_positions: false, next_candidate: true }
            } else {
                crate::Capabilities::EVERY_BAR
            }
        }
        fn next_candidate(&self, from: usize, _: &IndicatorCache<'_>) -> Option<usize> {
            Some(from + (7 + 3 - from % 7) % 7)
        }
        fn name(&self) -> &str {
            "sparse"
        }
    }

    fn sine_market(n: usize) -> MarketData {
        let ts: Vec<i64> = (0..n as i64).map(|i| 1_704_232_800_000_000 + i * 60_000_000).collect();
        let c: Vec<f64> = (0..n).map(|i| 1.1 + 0.001 * ((i as f64) / 9.0).sin()).collect();
        let h: Vec<f64> = c.iter().map(|x| x + 0.0003).collect();
        let l: Vec<f64> = c.iter().map(|x| x - 0.0003).collect();
        let up = |v: &Vec<f64>| v.iter().map(|x| x + 0.0001).collect::<Vec<f64>>();
        let cols =
            [c.clone(), h.clone(), l.clone(), c.clone(), vec![1.0; n], up(&c), up(&h), up(&l), up(&c), vec![1.0; n]];
        MarketData::from_vecs("EURUSD", Timeframe::M1, ts, cols, false).unwrap()
    }

    #[test]
    fn capabilities_skip_calls_without_changing_results() {
        let market = sine_market(3000);
        let mut cfg = config(serde_json::json!({"skip": false}));
        cfg.engine.max_open_positions = 3;
        let count = |f: &dyn Fn() -> EngineResult| {
            let before = SPARSE_EVALS.load(Ordering::Relaxed);
            let r = f();
            (r, SPARSE_EVALS.load(Ordering::Relaxed) - before)
        };
        let (every_bar, n_every) = count(&|| run_in_process::<Sparse>(&market, &cfg).unwrap());
        let mut skip_cfg = cfg.clone();
        skip_cfg.params.insert("skip".into(), true.into());
        let (skipping, n_skip) = count(&|| run_in_process::<Sparse>(&market, &skip_cfg).unwrap());
        assert!(every_bar.trades.len() > 100, "{}", every_bar.trades.len());
        assert!(every_bar.trades == skipping.trades, "skipping bars changed the trades");
        assert_eq!(every_bar.equity_curve, skipping.equity_curve);
        assert!(n_skip * 5 < n_every, "evaluate calls: {n_skip} with next_candidate vs {n_every}");

        // The scan asks next_candidate too, with the same rows.
        let host = MarketHost::new(market.clone(), cfg.engine.htf_anchor);
        let cache = IndicatorCache::new(&host).unwrap();
        let scan = |c: &StrategyConfig| {
            let s = create::<Sparse>(c, &host).unwrap();
            crate::engine::scan_signals(&s, &cache, host.market(), c).unwrap()
        };
        let (a, b) = (scan(&cfg), scan(&skip_cfg));
        assert_eq!(a.len(), 3000 / 7 + usize::from(3000 % 7 > 3));
        assert!(a == b);
    }
}
