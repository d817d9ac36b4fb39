//! Spec §8: the scenario-1 worked example, bar by bar (values, signals, exact SL/TP) and as a
//! backtest through the plugin table and the core's engine.

mod common;

use common::{config, host, market_from_bid, signals, START_US};
use omega_core::engine::result::ExitReason;
use omega_core::indicators::{IndicatorKey, PriceSide};
use omega_core::market::MarketData;
use omega_core::plugin::testing;
use omega_core::{Direction, StrategyConfig, Timeframe};
use omega_strategies_zscore::MeanReversionZScore;

/// Bid O/H/L/C of spec §8 (ask = bid + 0.0002).
const BARS: [(f64, f64, f64, f64); 8] = [
    (1.1000, 1.1005, 1.0995, 1.1000),
    (1.1000, 1.1015, 1.0995, 1.1010),
    (1.1010, 1.1025, 1.1005, 1.1020),
    (1.1020, 1.1025, 1.1005, 1.1010),
    (1.1010, 1.1025, 1.1005, 1.1020),
    (1.1020, 1.1035, 1.1015, 1.1030),
    (1.1030, 1.1035, 1.1015, 1.1020),
    (1.1020, 1.1025, 1.0975, 1.0980),
];

/// 2024-01-02 00:00 UTC.
const JAN2_US: i64 = START_US + 2 * 3_600_000_000;

fn market() -> MarketData {
    market_from_bid(Timeframe::H1, JAN2_US, &BARS, 0.0002)
}

fn cfg() -> StrategyConfig {
    config(
        "H1",
        serde_json::json!({"window_length": 5, "ema_length": 3, "atr_length": 3, "atr_mult": 2.0,
                           "z_score_long": -1.5, "z_score_short": 1.5, "enabled_scenarios": [1]}),
    )
}

#[test]
fn indicator_values_match_the_table() {
    let h = host(&market());
    let ema = common::series(&h, &IndicatorKey::ema(PriceSide::Bid, 3));
    let z = common::series(&h, &IndicatorKey::zscore_ema(PriceSide::Bid, 3, 5));
    let atr_bid = common::series(&h, &IndicatorKey::atr(PriceSide::Bid, 3));
    let atr_ask = common::series(&h, &IndicatorKey::atr(PriceSide::Ask, 3));
    let want_ema = [1.1, 1.1005, 1.10125, 1.101125, 1.1015625, 1.10228125, 1.102140625, 1.1000703125];
    let want_z = [f64::NAN, f64::NAN, f64::NAN, f64::NAN, 1.2004900960, 2.0425288958, -0.3210193688, -1.8995952109];
    let want_atr =
        [f64::NAN, f64::NAN, 0.0016666667, 0.0017777778, 0.0018518519, 0.0019012346, 0.0019341564, 0.0029561043];
    for i in 0..8 {
        assert!((ema[i] - want_ema[i]).abs() <= 1e-9, "EMA at {i}: {}", ema[i]);
        for (got, want, what) in
            [(z[i], want_z[i], "z"), (atr_bid[i], want_atr[i], "ATR bid"), (atr_ask[i], want_atr[i], "ATR ask")]
        {
            if want.is_nan() {
                assert!(got.is_nan(), "{what} at {i} should be missing, got {got}");
            } else {
                assert!((got - want).abs() <= 1e-9, "{what} at {i}: {got} vs {want}");
            }
        }
    }
}

#[test]
fn scenario1_signals_at_bars_5_and_7_exactly() {
    let m = market();
    let sigs = signals(&cfg(), &host(&m));
    assert_eq!(sigs.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [5, 7]);

    let p = sigs[0].1.parts();
    assert_eq!(p.direction, Direction::Short);
    assert_eq!(p.entry_price, m.bid_close[5]);
    assert_eq!(p.stop_loss, 1.10730);
    assert_eq!(p.take_profit, Some(1.10228));
    assert_eq!(p.reason, "zscore_ema_short");
    assert_eq!(p.tags, ["zscore", "ema", "scenario1"]);
    assert_eq!(p.scenario, Some(1));
    assert!(p.meta.is_none(), "scenario 1 records no meta");

    let p = sigs[1].1.parts();
    assert_eq!(p.direction, Direction::Long);
    assert_eq!(p.entry_price, m.ask_close[7]);
    assert!((p.entry_price - 1.0982).abs() < 1e-12);
    assert_eq!(p.stop_loss, 1.09159);
    assert_eq!(p.take_profit, Some(1.10007));
    assert_eq!(p.reason, "zscore_ema_long");
    assert_eq!(p.tags, ["zscore", "ema", "scenario1"]);
}

#[test]
fn through_the_plugin_table_gives_the_same_signals() {
    let m = market();
    let h = host(&m);
    let via_table = testing::signals::<MeanReversionZScore>(&cfg(), &h).expect("plugin run");
    assert_eq!(via_table, signals(&cfg(), &h));
}

#[test]
fn as_a_backtest_the_short_takes_profit_and_the_long_opens_at_bar_7() {
    let result = testing::run_in_process::<MeanReversionZScore>(&market(), &cfg()).expect("backtest");
    assert_eq!(result.bars_processed, 8);
    let t = &result.trades;
    assert_eq!(t.len(), 2, "{t:#?}");
    assert_eq!((t[0].direction, t[0].entry_index, t[0].exit_index), (Direction::Short, 5, 6));
    assert_eq!(t[0].exit_reason, ExitReason::TakeProfit);
    assert_eq!(t[0].exit_price, 1.10228);
    assert_eq!(t[0].scenario, Some(1));
    assert_eq!(t[0].reason, "zscore_ema_short");
    assert_eq!((t[1].direction, t[1].entry_index), (Direction::Long, 7));
    assert_eq!(t[1].exit_reason, ExitReason::EndOfData);
    assert_eq!((t[1].initial_stop_loss, t[1].take_profit), (1.09159, Some(1.10007)));
}
