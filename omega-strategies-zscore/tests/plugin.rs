//! MRZ through its own plugin table in-process (`omega_core::plugin::testing`): the same signals
//! as direct calls, parameter errors crossing as E4002, and full backtests with the timeout rule.

mod common;

use common::{config, host, reverting_market, signals};
use omega_core::engine::result::ExitReason;
use omega_core::plugin::testing;
use omega_core::{StrategyError, Timeframe};
use omega_strategies_zscore::{MeanReversionZScore, STRATEGY_NAME, STRATEGY_VERSION};
use serde_json::json;

fn all_scenarios() -> serde_json::Value {
    json!({
        "window_length": 50, "b_b_length": 20, "std_factor": 1.5, "ema_length": 20,
        "z_score_long": -1.5, "z_score_short": 1.5, "tp_min_distance": 0.0, "htf_ema": 5,
        "extra_htf_tf": "H4", "extra_htf_ema": 10, "garch_min_periods": 30, "local_z_lookback": 80,
        "intraday_vol_garch_lookback": 120, "intraday_vol_min_points": 20,
        "scenario6_timeframes": ["H4", "PRIMARY"], "scenario6_mode": "any",
        "max_holding_minutes": 240
    })
}

#[test]
fn table_identity() {
    let handle = testing::handle::<MeanReversionZScore>().expect("valid table");
    assert_eq!(handle.name(), STRATEGY_NAME);
    assert_eq!(handle.name(), "mean_reversion_z_score");
    assert_eq!(handle.version(), STRATEGY_VERSION);
    assert_eq!(handle.core_version(), omega_core::CORE_VERSION);
    let table = omega_strategies_zscore::plugin_table();
    assert_eq!(table.abi_major, omega_core::plugin::ABI_MAJOR);
}

#[test]
fn signals_through_the_table_equal_direct_calls() {
    let m = reverting_market(Timeframe::M30, 2500, 5);
    let h = host(&m);
    let cfg = config("M30", all_scenarios());
    let direct = signals(&cfg, &h);
    let via = testing::signals::<MeanReversionZScore>(&cfg, &h).expect("plugin run");
    assert!(direct.len() > 20, "{} signals", direct.len());
    let scenarios: std::collections::BTreeSet<_> = direct.iter().filter_map(|(_, s)| s.parts().scenario).collect();
    assert!(scenarios.len() >= 2, "{scenarios:?}");
    // Tags, reasons and meta cross the boundary intact.
    assert_eq!(via, direct);
}

#[test]
fn parameter_errors_cross_as_e4002_naming_the_key() {
    let m = reverting_market(Timeframe::H1, 50, 1);
    let h = host(&m);
    for (params, key) in [
        (json!({"no_such_key": 1}), "no_such_key"),
        (json!({"max_holding_minutes": 0}), "max_holding_minutes"),
        (json!({"htf_filter": "up"}), "htf_filter"),
        (json!({"use_position_manager": "false"}), "use_position_manager"),
        (json!({"intraday_vol_allowed": "low"}), "intraday_vol_allowed"),
    ] {
        let e = testing::create::<MeanReversionZScore>(&config("H1", params), &h).err().expect("refused");
        assert_eq!(e.code(), "E4002");
        assert_eq!(e, StrategyError::InvalidParameter { name: key.into(), reason: reason_of(&e) });
        assert!(e.to_string().contains(key), "{e}");
    }
    // `enabled_scenarios` in params must be a list (§7 #17: a scalar enabled all six in V1).
    let mut c = config("H1", json!({}));
    c.params.insert("enabled_scenarios".into(), json!(4));
    let e = testing::create::<MeanReversionZScore>(&c, &h).err().expect("refused");
    assert_eq!((e.code(), e.to_string().contains("enabled_scenarios")), ("E4002", true));
    // The market's timeframe must be the config's.
    let e = testing::create::<MeanReversionZScore>(&config("M30", json!({})), &h).err().expect("refused");
    assert_eq!(e.code(), "E4002");
}

fn reason_of(e: &StrategyError) -> String {
    match e {
        StrategyError::InvalidParameter { reason, .. } => reason.clone(),
        other => panic!("not a parameter error: {other:?}"),
    }
}

#[test]
fn backtest_times_out_at_the_first_bar_past_the_limit() {
    let m = reverting_market(Timeframe::M30, 2500, 5);
    let mut cfg = config("M30", all_scenarios());
    let result = testing::run_in_process::<MeanReversionZScore>(&m, &cfg).expect("backtest");
    let timeouts: Vec<_> = result.trades.iter().filter(|t| t.exit_reason == ExitReason::Timeout).collect();
    assert!(!timeouts.is_empty(), "{} trades", result.trades.len());
    let limit_us = 240 * 60_000_000;
    for t in &timeouts {
        assert!(t.exit_time_us - t.entry_time_us >= limit_us);
        let before = m.timestamp_us[t.exit_index - 1];
        assert!(before - t.entry_time_us < limit_us, "trade {} timed out late", t.id);
        let bid_or_ask = if t.direction == omega_core::Direction::Long { &m.bid_close } else { &m.ask_close };
        assert_eq!(t.exit_price, bid_or_ask[t.exit_index]);
    }
    // Every trade comes from a signal of one of the six scenarios, with its tags.
    assert!(result.trades.iter().all(|t| matches!(t.scenario, Some(1..=6)) && !t.tags.is_empty()));

    // Manager off (or no limit): no timeouts.
    cfg.params.insert("use_position_manager".into(), json!(false));
    let off = testing::run_in_process::<MeanReversionZScore>(&m, &cfg).expect("backtest");
    assert!(off.trades.iter().all(|t| t.exit_reason != ExitReason::Timeout));
    cfg.params.insert("use_position_manager".into(), json!(true));
    cfg.params.insert("max_holding_minutes".into(), json!(null));
    let none = testing::run_in_process::<MeanReversionZScore>(&m, &cfg).expect("backtest");
    assert!(none.trades.iter().all(|t| t.exit_reason != ExitReason::Timeout));
}
