//! MRZ's capabilities (docs/abi.md "Capabilities"): the engine skips the bars the gate rules out
//! and never calls `manage_position` without a timeout, with results identical to calling the
//! strategy on every bar.

mod common;

use common::{config, host, reverting_market, signals, strategy};
use omega_core::engine::run_backtest;
use omega_core::{
    Capabilities, DataSlice, IndicatorCache, Position, PositionAction, RustStrategy, StrategyConfig, StrategyError,
    Timeframe, TradeSignal,
};
use omega_strategies_zscore::MeanReversionZScore;
use serde_json::json;

/// MRZ with the default capabilities: every allowed bar evaluated, every position managed.
struct EveryBar(MeanReversionZScore);

impl RustStrategy for EveryBar {
    fn evaluate(&self, slice: &DataSlice<'_>, cache: &IndicatorCache<'_>) -> Option<TradeSignal> {
        self.0.evaluate(slice, cache)
    }
    fn manage_position(&self, position: &Position, slice: &DataSlice<'_>) -> PositionAction {
        self.0.manage_position(position, slice)
    }
    fn primary_timeframe(&self) -> Timeframe {
        self.0.primary_timeframe()
    }
    fn name(&self) -> &str {
        self.0.name()
    }
    fn take_error(&self) -> Option<StrategyError> {
        self.0.take_error()
    }
}

fn all_scenarios(extra: serde_json::Value) -> serde_json::Value {
    let mut p = json!({
        "window_length": 50, "b_b_length": 20, "std_factor": 1.5, "ema_length": 20,
        "z_score_long": -1.5, "z_score_short": 1.5, "tp_min_distance": 0.0, "htf_ema": 5,
        "extra_htf_tf": "H4", "extra_htf_ema": 10, "garch_min_periods": 30, "local_z_lookback": 80,
        "intraday_vol_garch_lookback": 120, "intraday_vol_min_points": 20,
        "scenario6_timeframes": ["H4", "PRIMARY"], "scenario6_mode": "any",
        "max_holding_minutes": 240
    });
    if let (Some(p), Some(e)) = (p.as_object_mut(), extra.as_object()) {
        p.extend(e.clone());
    }
    p
}

#[test]
fn every_signal_bar_is_a_candidate() {
    let m = reverting_market(Timeframe::M30, 3000, 9);
    let h = host(&m);
    let cfg = config("M30", all_scenarios(json!({})));
    let sigs = signals(&cfg, &h);
    assert!(sigs.len() > 20, "{} signals", sigs.len());
    let s = strategy(&cfg, &h);
    assert_eq!(s.capabilities(), Capabilities { manages_positions: true, next_candidate: true });
    let cache = IndicatorCache::new(&h).expect("cache");
    let mut skipped = 0;
    let mut k = 0;
    for i in 0..m.len() {
        let next = s.next_candidate(i, &cache);
        // the answer is never before `from`, and a bar that signals is its own candidate
        assert!(next.map_or(true, |j| j >= i));
        if k < sigs.len() && sigs[k].0 == i {
            assert_eq!(next, Some(i), "bar {i} signals but next_candidate says {next:?}");
            k += 1;
        } else if next != Some(i) {
            skipped += 1;
        }
    }
    assert!(skipped > m.len() / 2, "the gate skips most bars ({skipped} of {})", m.len());
    assert_eq!(s.next_candidate(m.len(), &cache), None);
}

#[test]
fn skipping_changes_no_trade() {
    let m = reverting_market(Timeframe::M30, 3000, 5);
    let h = host(&m);
    for extra in [
        json!({}),
        json!({"use_position_manager": false}),
        json!({"enabled_scenarios": [1], "max_holding_minutes": null}),
        json!({"enabled_scenarios": [4, 5]}),
    ] {
        let cfg: StrategyConfig = config("M30", all_scenarios(extra.clone()));
        let fast = strategy(&cfg, &h);
        let caps = fast.capabilities();
        assert!(caps.next_candidate);
        let timeout = cfg.params.get("use_position_manager") != Some(&json!(false))
            && cfg.params.get("max_holding_minutes") != Some(&serde_json::Value::Null);
        assert_eq!(caps.manages_positions, timeout, "{extra}");
        let slow = EveryBar(strategy(&cfg, &h));
        let cache = IndicatorCache::new(&h).expect("cache");
        let a = run_backtest(&fast, &cache, &m, &cfg).expect("backtest");
        let b = run_backtest(&slow, &cache, &m, &cfg).expect("backtest");
        assert!(!a.trades.is_empty(), "{extra}");
        assert_eq!(a.trades, b.trades, "{extra}");
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a.equity_curve), bits(&b.equity_curve), "{extra}");
    }
}

/// MRZ reads its Bollinger bands as `mid ± std_factor·sd` from the SMA and std series: the same
/// bits as the core's band series, which it no longer requests.
#[test]
fn bands_on_read_equal_the_core_band_series() {
    use omega_core::indicators::IndicatorHost;
    use omega_core::{IndicatorKey, PriceSide};
    use omega_strategies_zscore::scenarios::bollinger_band;
    let m = reverting_market(Timeframe::M5, 4000, 3);
    let h = host(&m);
    for (n, k) in [(20, 2.0), (7, 1.5), (50, 0.3)] {
        let series = |key: IndicatorKey| h.series(&key).expect("series").to_vec();
        let (mid, sd) =
            (series(IndicatorKey::sma(PriceSide::Bid, n)), series(IndicatorKey::rolling_std(PriceSide::Bid, n)));
        let upper = series(IndicatorKey::bollinger_upper(PriceSide::Bid, n, k));
        let lower = series(IndicatorKey::bollinger_lower(PriceSide::Bid, n, k));
        for i in 0..m.len() {
            assert_eq!(bollinger_band(mid[i], sd[i], k, false).to_bits(), upper[i].to_bits(), "upper {n} {k} bar {i}");
            assert_eq!(bollinger_band(mid[i], sd[i], k, true).to_bits(), lower[i].to_bits(), "lower {n} {k} bar {i}");
        }
    }
}
