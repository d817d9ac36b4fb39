//! The limit loop trades exactly like the template's strategy run through the engine (in-process,
//! behind its plugin table), config by config, and its threaded sweep equals its single runs.

use omega_bench_limit::template::EmaAtrBreakout;
use omega_bench_limit::{grid100, run, sweep, Account, Bars, Exit, Rule};
use omega_core::engine::{ExitReason, SplitMix64};
use omega_core::market::MarketData;
use omega_core::plugin::testing::run_in_process;
use omega_core::{Direction, StrategyConfig, Timeframe};

/// A seeded M1 random walk with a 0.2-pip spread and bars wide enough for SL/TP hits.
fn market(n: usize, seed: u64) -> MarketData {
    let mut rng = SplitMix64::new(seed);
    let mut mid = 1.1;
    let (mut o, mut h, mut l, mut c) = (vec![], vec![], vec![], vec![]);
    for _ in 0..n {
        let open = mid;
        let mut hi = open;
        let mut lo = open;
        for _ in 0..4 {
            mid += (rng.next_f64() - 0.5) * 0.0004;
            hi = hi.max(mid);
            lo = lo.min(mid);
        }
        o.push(open);
        h.push(hi);
        l.push(lo);
        c.push(mid);
    }
    let up = |v: &Vec<f64>| v.iter().map(|x| x + 0.00002).collect::<Vec<f64>>();
    let ts: Vec<i64> = (0..n as i64).map(|k| 1_704_067_200_000_000 + k * 60_000_000).collect();
    let vol = vec![1.0; n];
    let prices = [o.clone(), h.clone(), l.clone(), c.clone(), vol.clone(), up(&o), up(&h), up(&l), up(&c), vol];
    MarketData::from_vecs("EURUSD", Timeframe::M1, ts, prices, false).expect("valid market")
}

fn bars(m: &MarketData) -> Bars<'_> {
    Bars {
        bid_open: &m.bid_open,
        bid_high: &m.bid_high,
        bid_low: &m.bid_low,
        bid_close: &m.bid_close,
        ask_open: &m.ask_open,
        ask_high: &m.ask_high,
        ask_low: &m.ask_low,
        ask_close: &m.ask_close,
    }
}

fn config(r: &Rule) -> StrategyConfig {
    let json = serde_json::json!({
        "symbol": "EURUSD",
        "timeframe": "M1",
        "params": {
            "ema_length": r.ema_length, "atr_length": r.atr_length, "band_atr": r.band_atr,
            "sl_atr": r.sl_atr, "tp_atr": r.tp_atr, "breakeven_r": r.breakeven_r, "max_bars": r.max_bars
        },
        "engine": {"sizing": "fixed", "fixed_lots": 1.0}
    });
    StrategyConfig::from_json(&json.to_string()).expect("valid config")
}

fn reason(e: Exit) -> ExitReason {
    match e {
        Exit::StopLoss => ExitReason::StopLoss,
        Exit::TakeProfit => ExitReason::TakeProfit,
        Exit::Timeout => ExitReason::Timeout,
        Exit::EndOfData => ExitReason::EndOfData,
    }
}

#[test]
fn limit_trades_equal_the_engine_run_of_the_template() {
    let m = market(30_000, 7);
    let acc = Account::default();
    let rules: Vec<Rule> = grid100().into_iter().step_by(7).collect();
    let limit = run(&bars(&m), &rules, &acc);
    let mut reasons = std::collections::HashSet::new();
    for (r, got) in rules.iter().zip(&limit) {
        let engine = run_in_process::<EmaAtrBreakout>(&m, &config(r)).expect("engine run");
        assert!(engine.trades.len() > 10, "{r:?} trades too little to prove anything");
        assert_eq!(got.trades.len(), engine.trades.len(), "{r:?}");
        for (a, b) in got.trades.iter().zip(&engine.trades) {
            assert_eq!(a.long, b.direction == Direction::Long);
            assert_eq!((a.entry_index, a.exit_index), (b.entry_index, b.exit_index), "{r:?}");
            assert_eq!(a.entry_price.to_bits(), b.entry_price.to_bits());
            assert_eq!(a.exit_price.to_bits(), b.exit_price.to_bits(), "{r:?}\n{a:?}\n{b:?}");
            assert_eq!(a.initial_stop_loss.to_bits(), b.initial_stop_loss.to_bits());
            assert_eq!(reason(a.exit), b.exit_reason);
            reasons.insert(a.exit as u8);
        }
        let net: f64 = engine.trades.iter().map(|t| t.pnl).sum();
        assert!((got.net_profit - net).abs() <= 1e-6 * net.abs().max(1.0), "{r:?}: {} vs {net}", got.net_profit);
    }
    // stop-loss, take-profit, timeout and end-of-data exits all occurred
    assert!(reasons.len() >= 3, "{reasons:?}");
}

#[test]
fn threaded_sweep_equals_one_pass() {
    let m = market(20_000, 3);
    let acc = Account::default();
    let rules = grid100();
    let one = run(&bars(&m), &rules, &acc);
    let two = sweep(&bars(&m), &rules, &acc, 2);
    assert_eq!(one, two);
    // and each config alone gives the same as inside the shared pass
    for (r, s) in rules.iter().zip(&one).step_by(13) {
        assert_eq!(&run(&bars(&m), std::slice::from_ref(r), &acc)[0], s);
    }
}
