//! Rule-by-rule tests of docs/engine.md on hand-built bars with hand-computed prices. The same
//! cases, with the same numbers, are in tests/reference/test_reference_engine.py.

use std::sync::Mutex;

use super::*;
use crate::config::HtfAnchor;
use crate::config::SizingMode;
use crate::indicators::MarketHost;
use crate::types::{Position, Timeframe, TradeSignal};

/// 2024-01-01 00:00 UTC in µs.
const T0: i64 = 1_704_067_200_000_000;
const MIN: i64 = 60_000_000;
const SPREAD: f64 = 0.0001;

/// M1 bars of `symbol` from bid (open, high, low, close); ask = bid + `spread`; bar k opens at
/// `start + k min`.
fn bars(symbol: &str, spread: f64, start: i64, bid: &[(f64, f64, f64, f64)]) -> MarketData {
    let n = bid.len();
    let col = |f: fn(&(f64, f64, f64, f64)) -> f64, add: f64| bid.iter().map(|b| f(b) + add).collect::<Vec<f64>>();
    MarketData::from_vecs(
        symbol,
        Timeframe::M1,
        (0..n as i64).map(|k| start + k * MIN).collect(),
        [
            col(|b| b.0, 0.0),
            col(|b| b.1, 0.0),
            col(|b| b.2, 0.0),
            col(|b| b.3, 0.0),
            vec![1.0; n],
            col(|b| b.0, spread),
            col(|b| b.1, spread),
            col(|b| b.2, spread),
            col(|b| b.3, spread),
            vec![1.0; n],
        ],
        false,
    )
    .unwrap()
}

/// M1 EURUSD bars from bid rows, ask = bid + SPREAD, from `start`.
fn market_at(start: i64, bid: &[(f64, f64, f64, f64)]) -> MarketData {
    bars("EURUSD", SPREAD, start, bid)
}

fn market(bid: &[(f64, f64, f64, f64)]) -> MarketData {
    market_at(T0, bid)
}

/// Flat bars: open = close = 1.1000, high 1.1005, low 1.0995.
fn flat(n: usize) -> Vec<(f64, f64, f64, f64)> {
    vec![(1.1000, 1.1005, 1.0995, 1.1000); n]
}

/// Config: EURUSD M1, fixed 1 lot, no costs.
fn cfg() -> StrategyConfig {
    let mut c = StrategyConfig::new("EURUSD", "M1");
    c.engine.sizing = SizingMode::Fixed;
    c.engine.fixed_lots = 1.0;
    c
}

type SignalFn = Box<dyn Fn(&DataSlice<'_>) -> Option<TradeSignal> + Send + Sync>;
type ActionFn = Box<dyn Fn(&Position, &DataSlice<'_>) -> PositionAction + Send + Sync>;

/// A strategy driven by closures that records the bars it was evaluated on.
struct Script {
    signal: SignalFn,
    action: ActionFn,
    evaluated: Mutex<Vec<usize>>,
    managed: Mutex<Vec<(usize, Position)>>,
}

impl Script {
    fn new(signal: SignalFn) -> Self {
        Script::with_actions(signal, Box::new(|_, _| PositionAction::Hold))
    }

    fn with_actions(signal: SignalFn, action: ActionFn) -> Self {
        Script { signal, action, evaluated: Mutex::new(Vec::new()), managed: Mutex::new(Vec::new()) }
    }

    fn evaluated(&self) -> Vec<usize> {
        self.evaluated.lock().unwrap().clone()
    }
}

impl RustStrategy for Script {
    fn evaluate(&self, slice: &DataSlice<'_>, _cache: &IndicatorCache<'_>) -> Option<TradeSignal> {
        self.evaluated.lock().unwrap().push(slice.index);
        (self.signal)(slice)
    }
    fn manage_position(&self, position: &Position, slice: &DataSlice<'_>) -> PositionAction {
        self.managed.lock().unwrap().push((slice.index, position.clone()));
        (self.action)(position, slice)
    }
    fn primary_timeframe(&self) -> Timeframe {
        Timeframe::M1
    }
    fn name(&self) -> &str {
        "script"
    }
}

fn long(entry: f64, sl: f64, tp: Option<f64>) -> TradeSignal {
    TradeSignal::new(Direction::Long, entry, sl, tp, "test".into(), vec!["t".into()], Some(1), None)
}

fn short(entry: f64, sl: f64, tp: Option<f64>) -> TradeSignal {
    TradeSignal::new(Direction::Short, entry, sl, tp, "test".into(), vec![], None, None)
}

/// Signal `sig` on bar `at` only.
fn once(at: usize, sig: TradeSignal) -> SignalFn {
    Box::new(move |s| (s.index == at).then(|| sig.clone()))
}

fn run(s: &Script, m: &MarketData, c: &StrategyConfig) -> Result<EngineResult> {
    let host = MarketHost::new(m.clone(), HtfAnchor::Utc);
    let cache = IndicatorCache::new(&host)?;
    run_backtest(s, &cache, m, c)
}

fn run_ok(s: &Script, m: &MarketData, c: &StrategyConfig) -> EngineResult {
    run(s, m, c).unwrap()
}

#[test]
fn sl_wins_when_both_hit_long_and_short() {
    let bars = [(1.1000, 1.1005, 1.0995, 1.1000), (1.1000, 1.1015, 1.0985, 1.1000), (1.1000, 1.1005, 1.0995, 1.1000)];
    let m = market(&bars);
    let r = run_ok(&Script::new(once(0, long(1.1000, 1.0990, Some(1.1010)))), &m, &cfg());
    assert_eq!(r.trades.len(), 1);
    let t = &r.trades[0];
    assert_eq!((t.exit_index, t.exit_reason, t.exit_price), (1, ExitReason::StopLoss, 1.0990));
    assert_eq!(t.entry_price, 1.1000);
    assert_eq!(t.exit_time_us, T0 + MIN);

    let r = run_ok(&Script::new(once(0, short(1.1000, 1.1010, Some(1.0990)))), &m, &cfg());
    let t = &r.trades[0];
    assert_eq!((t.exit_index, t.exit_reason, t.exit_price), (1, ExitReason::StopLoss, 1.1010));
}

#[test]
fn gap_fills_at_the_open() {
    let first = (1.1000, 1.1005, 1.0995, 1.1000);
    // Long SL 1.0990, bar 1 opens at 1.0980: filled at the open.
    let m = market(&[first, (1.0980, 1.0985, 1.0975, 1.0982)]);
    let t = &run_ok(&Script::new(once(0, long(1.1000, 1.0990, Some(1.1010)))), &m, &cfg()).trades[0];
    assert_eq!((t.exit_reason, t.exit_price), (ExitReason::StopLoss, 1.0980));
    // Long TP 1.1010, bar 1 opens at 1.1020: filled at the open.
    let m = market(&[first, (1.1020, 1.1025, 1.1015, 1.1020)]);
    let t = &run_ok(&Script::new(once(0, long(1.1000, 1.0990, Some(1.1010)))), &m, &cfg()).trades[0];
    assert_eq!((t.exit_reason, t.exit_price), (ExitReason::TakeProfit, 1.1020));
    // Short SL 1.1010, bar 1 asks open at 1.1020 + spread.
    let m = market(&[first, (1.1020, 1.1025, 1.1015, 1.1020)]);
    let t = &run_ok(&Script::new(once(0, short(1.1000, 1.1010, Some(1.0990)))), &m, &cfg()).trades[0];
    assert_eq!((t.exit_reason, t.exit_price), (ExitReason::StopLoss, 1.1020 + SPREAD));
    // Short TP 1.0990, bar 1 asks open at 1.0980 + spread.
    let m = market(&[first, (1.0980, 1.0985, 1.0975, 1.0982)]);
    let t = &run_ok(&Script::new(once(0, short(1.1000, 1.1010, Some(1.0990)))), &m, &cfg()).trades[0];
    assert_eq!((t.exit_reason, t.exit_price), (ExitReason::TakeProfit, 1.0980 + SPREAD));
}

#[test]
fn no_exit_in_the_entry_bar() {
    // SL 1.0996 and TP 1.1004 both lie inside bar 0's range; bar 1 touches neither.
    let m = market(&[(1.1000, 1.1005, 1.0995, 1.1000), (1.1000, 1.1002, 1.0998, 1.1001)]);
    let r = run_ok(&Script::new(once(0, long(1.1000, 1.0996, Some(1.1004)))), &m, &cfg());
    let t = &r.trades[0];
    assert_eq!((t.entry_index, t.exit_index, t.exit_reason, t.exit_price), (0, 1, ExitReason::EndOfData, 1.1001));
}

#[test]
fn tp_on_the_losing_side_is_accepted() {
    let m = market(&[(1.1000, 1.1005, 1.0995, 1.1000), (1.1000, 1.1002, 1.0998, 1.1000)]);
    let r = run_ok(&Script::new(once(0, long(1.1000, 1.0990, Some(1.0995)))), &m, &cfg());
    assert_eq!(r.metrics["signals_rejected"], 0.0);
    let t = &r.trades[0];
    // TP 1.0995 below the bar-1 open 1.1000: triggered, filled at the open (gap rule).
    assert_eq!((t.exit_index, t.exit_reason, t.exit_price), (1, ExitReason::TakeProfit, 1.1000));
}

#[test]
fn risk_sizing_example_and_min_lot_rejection() {
    let mut c = cfg();
    c.engine.sizing = SizingMode::Risk;
    c.engine.risk_per_trade = 100.0;
    let m = market(&flat(2));
    // SL 7.03 pips: 100 / (7.03 * 10) = 1.4225 → 1.42 lots.
    let r = run_ok(&Script::new(once(0, long(1.10000, 1.099297, None))), &m, &c);
    assert_eq!(r.trades[0].lots, 1.42);
    // SL 10000 pips away: 0.001 lots → 0 steps → rejected, counted, no position.
    let r = run_ok(&Script::new(once(0, long(1.1, 0.1, None))), &m, &c);
    assert!(r.trades.is_empty());
    assert_eq!((r.metrics["signals"], r.metrics["signals_rejected"]), (1.0, 1.0));
    // SL on the wrong side: rejected.
    let r = run_ok(&Script::new(once(0, short(1.1, 1.09, None))), &m, &c);
    assert_eq!(r.metrics["signals_rejected"], 1.0);
}

#[test]
fn commission_on_both_sides() {
    let mut c = cfg();
    c.engine.fixed_lots = 2.0;
    c.engine.costs.commission_per_lot = 3.5;
    c.engine.costs.commission_per_million = 10.0;
    let m = market(&[(1.1000, 1.1005, 1.0995, 1.1000), (1.1000, 1.1012, 1.0998, 1.1010)]);
    let s = Script::with_actions(
        once(0, long(1.1000, 1.0990, None)),
        Box::new(|_, _| PositionAction::Close { reason: "x".into() }),
    );
    let r = run_ok(&s, &m, &c);
    let t = &r.trades[0];
    let entry_c = 3.5 * 2.0 + 10.0 * (1.1 * 100_000.0 * 2.0 * 1.0) / 1e6;
    let exit_c = 3.5 * 2.0 + 10.0 * (1.101 * 100_000.0 * 2.0 * 1.0) / 1e6;
    let gross = (1.101 - 1.1) * 1.0 * 100_000.0 * 2.0 * 1.0;
    assert_eq!(t.exit_reason, ExitReason::StrategyClose);
    assert_eq!(t.commission, entry_c + exit_c);
    assert_eq!(t.pnl_gross, gross);
    assert_eq!(t.pnl, gross - (entry_c + exit_c));
    assert_eq!(r.equity_curve[0], 100_000.0 - entry_c);
    assert_eq!(r.equity_curve[1], 100_000.0 - entry_c + gross - exit_c);
    assert_eq!(r.metrics["commission_total"], entry_c + exit_c);
}

const U1: f64 = 0.741_564_878_771_823_3;
const U2: f64 = 0.159_910_392_876_920_1;

#[test]
fn slippage_is_adverse_with_seed_42() {
    let mut c = cfg();
    c.engine.seed = 42;
    c.engine.costs.slippage_fixed_pips = 0.5;
    c.engine.costs.slippage_random_pips = 1.0;
    let m = market(&[(1.1000, 1.1005, 1.0995, 1.1000), (1.1000, 1.1012, 1.0998, 1.1010)]);
    let close: ActionFn = Box::new(|_, _| PositionAction::Close { reason: "timeout".into() });
    let s1 = 0.5 + U1 * 1.0;
    let s2 = 0.5 + U2 * 1.0;

    let r = run_ok(&Script::with_actions(once(0, long(1.1000, 1.0990, None)), close), &m, &c);
    let t = &r.trades[0];
    assert_eq!(t.entry_price, 1.1000 + s1 * 0.0001);
    assert_eq!(t.exit_price, 1.1010 - s2 * 0.0001);
    assert_eq!(t.slippage_pips, s1 + s2);
    assert_eq!(t.exit_reason, ExitReason::Timeout);

    let close: ActionFn = Box::new(|_, _| PositionAction::Close { reason: "timeout".into() });
    let r = run_ok(&Script::with_actions(once(0, short(1.1000, 1.1020, None)), close), &m, &c);
    let t = &r.trades[0];
    assert_eq!(t.entry_price, 1.1000 - s1 * 0.0001);
    assert_eq!(t.exit_price, (1.1010 + SPREAD) + s2 * 0.0001);
    assert_eq!(t.exit_reason, ExitReason::Timeout);
}

#[test]
fn worked_case_long_with_costs() {
    // The case quoted in the report; tests/reference has the same one.
    let mut c = cfg();
    c.engine.sizing = SizingMode::Risk;
    c.engine.risk_per_trade = 100.0;
    c.engine.costs.commission_per_lot = 3.0;
    c.engine.costs.slippage_fixed_pips = 0.2;
    c.engine.costs.slippage_random_pips = 0.5;
    c.engine.seed = 42;
    let m = market(&[(1.1000, 1.1005, 1.0995, 1.1000), (1.1000, 1.1030, 1.0998, 1.1025)]);
    let r = run_ok(&Script::new(once(0, long(1.1001, 1.0991, Some(1.1021)))), &m, &c);
    let t = &r.trades[0];
    let s1 = 0.2 + U1 * 0.5;
    let fill = 1.1001 + s1 * 0.0001;
    assert_eq!(t.entry_price, fill);
    // stop 10.5708 pips → 100 / 105.708 = 0.946 lots → 94 steps of 0.01 = exactly 0.94.
    assert_eq!(t.lots, 0.94);
    let s2 = 0.2 + U2 * 0.5;
    assert_eq!(t.exit_price, 1.1021 - s2 * 0.0001);
    assert_eq!((t.exit_index, t.exit_reason), (1, ExitReason::TakeProfit));
    // Literal values (also asserted by the Python reference).
    assert_eq!(t.entry_price, 1.1001570782439387);
    assert_eq!(t.exit_price, 1.1020720044803562);
    assert_eq!(t.pnl_pips, 19.149262364175357);
    assert_eq!(t.pnl_gross, 180.00306622324834);
    assert_eq!(t.commission, 5.64);
    assert_eq!(t.pnl, 174.36306622324835);
    assert_eq!(t.r_multiple, 1.8115274317654926);
    assert_eq!(t.slippage_pips, 0.8507376358243717);
    assert_eq!(r.equity_curve[1], 100174.36306622323);
    assert_eq!(r.metrics["final_equity"], 100174.36306622323);
}

#[test]
fn pip_buffer_triggers_early_but_fills_at_the_level() {
    // TP 1.1010; bar 1 bid high 1.10096 is 0.4 pips short of it.
    let m = market(&[(1.1000, 1.1005, 1.0995, 1.1000), (1.1000, 1.10096, 1.0998, 1.1005)]);
    let sig = || once(0, long(1.1000, 1.0990, Some(1.1010)));
    let t = &run_ok(&Script::new(sig()), &m, &cfg()).trades[0];
    assert_eq!(t.exit_reason, ExitReason::EndOfData);
    let mut c = cfg();
    c.engine.costs.pip_buffer_factor = 0.5;
    let t = &run_ok(&Script::new(sig()), &m, &c).trades[0];
    assert_eq!((t.exit_index, t.exit_reason, t.exit_price), (1, ExitReason::TakeProfit, 1.1010));
}

#[test]
fn timeout_close_and_modifications_from_next_bar() {
    let m = market(&flat(6));
    // Close with reason "timeout" once the position has been held 3 bars.
    let s = Script::with_actions(
        once(0, long(1.1000, 1.0990, None)),
        Box::new(|p, _| {
            if p.bars_held >= 3 {
                PositionAction::Close { reason: "timeout".into() }
            } else {
                PositionAction::Hold
            }
        }),
    );
    let r = run_ok(&s, &m, &cfg());
    let t = &r.trades[0];
    assert_eq!((t.exit_index, t.bars_held, t.exit_reason, t.exit_price), (3, 3, ExitReason::Timeout, 1.1000));
    let managed = s.managed.lock().unwrap().clone();
    assert_eq!(managed.iter().map(|(i, p)| (*i, p.bars_held)).collect::<Vec<_>>(), vec![(1, 1), (2, 2), (3, 3)]);

    // Bar 1 moves the SL to 1.0996, which bar 1's low (1.0995) already crosses: not in bar 1,
    // but bar 2 (same range) stops out at 1.0996.
    let s =
        Script::with_actions(
            once(0, long(1.1000, 1.0990, None)),
            Box::new(|_, sl| {
                if sl.index == 1 {
                    PositionAction::ModifyStopLoss { new_sl: 1.0996 }
                } else {
                    PositionAction::Hold
                }
            }),
        );
    let t = &run_ok(&s, &m, &cfg()).trades[0];
    assert_eq!((t.exit_index, t.exit_reason, t.exit_price), (2, ExitReason::StopLoss, 1.0996));
    assert_eq!((t.initial_stop_loss, t.stop_loss), (1.0990, 1.0996));

    // Same for a TP modification; any reason other than "timeout" is strategy_close.
    let s = Script::with_actions(
        once(0, long(1.1000, 1.0990, None)),
        Box::new(|p, sl| match sl.index {
            1 => PositionAction::ModifyTakeProfit { new_tp: 1.1004 },
            _ if p.take_profit.is_none() => PositionAction::Close { reason: "tp lost".into() },
            _ => PositionAction::Hold,
        }),
    );
    let t = &run_ok(&s, &m, &cfg()).trades[0];
    assert_eq!((t.exit_index, t.exit_reason, t.exit_price), (2, ExitReason::TakeProfit, 1.1004));
}

#[test]
fn same_bar_reentry_blocked_unless_allowed() {
    // Bar 2 stops the long out (low 1.0985 < SL 1.0990).
    let mut bars = flat(5);
    bars[2] = (1.1000, 1.1005, 1.0985, 1.1000);
    let m = market(&bars);
    let every: fn() -> SignalFn = || Box::new(|_| Some(long(1.1000, 1.0990, None)));
    let s = Script::new(every());
    let r = run_ok(&s, &m, &cfg());
    assert_eq!(s.evaluated(), vec![0, 3]);
    assert_eq!(r.trades.iter().map(|t| (t.entry_index, t.exit_index)).collect::<Vec<_>>(), vec![(0, 2), (3, 4)]);
    let mut c = cfg();
    c.engine.allow_same_bar_reentry = true;
    let s = Script::new(every());
    let r = run_ok(&s, &m, &c);
    assert_eq!(s.evaluated(), vec![0, 2]);
    assert_eq!(r.trades.iter().map(|t| (t.entry_index, t.exit_index)).collect::<Vec<_>>(), vec![(0, 2), (2, 4)]);
}

/// Signals on every bar with the SL on the wrong side: always rejected, but each is a signal.
fn rejected_every_bar() -> SignalFn {
    Box::new(|_| Some(long(1.1000, 1.2000, None)))
}

#[test]
fn sessions_on_bar_close_time_with_wrap() {
    // Bars open 23:55 … 00:04 (close 23:56 … 00:05).
    let m = market_at(T0 - 5 * MIN, &flat(10));
    let mut c = cfg();
    c.engine.sessions = vec![("23:58".into(), "00:01".into())];
    let s = Script::new(rejected_every_bar());
    run_ok(&s, &m, &c);
    // close times 23:58, 23:59, 00:00, 00:01 → bars 2, 3, 4, 5.
    assert_eq!(s.evaluated(), vec![2, 3, 4, 5]);
    c.engine.sessions = vec![("00:03".into(), "00:04".into()), ("23:57".into(), "23:57".into())];
    let s = Script::new(rejected_every_bar());
    run_ok(&s, &m, &c);
    assert_eq!(s.evaluated(), vec![1, 7, 8]);
}

#[test]
fn cooldowns() {
    let m = market(&flat(8));
    let mut c = cfg();
    c.engine.cooldown_candles = 3;
    let s = Script::new(rejected_every_bar());
    let r = run_ok(&s, &m, &c);
    assert_eq!(s.evaluated(), vec![0, 3, 6]);
    assert_eq!((r.metrics["signals"], r.metrics["signals_rejected"]), (3.0, 3.0));

    let mut c = cfg();
    c.engine.cooldown_minutes = 2.5;
    let s = Script::new(rejected_every_bar());
    run_ok(&s, &m, &c);
    assert_eq!(s.evaluated(), vec![0, 3, 6]);

    // Trade cooldown: open on bar 0, closed by the strategy on bar 1; 3 minutes after the exit
    // bar's close → bar 4.
    let mut c = cfg();
    c.engine.cooldown_minutes_trade = 3.0;
    let s = Script::with_actions(
        Box::new(|_| Some(long(1.1000, 1.0990, None))),
        Box::new(|_, _| PositionAction::Close { reason: "x".into() }),
    );
    let r = run_ok(&s, &m, &c);
    assert_eq!(s.evaluated(), vec![0, 4]);
    assert_eq!(r.trades.iter().map(|t| (t.entry_index, t.exit_index)).collect::<Vec<_>>(), vec![(0, 1), (4, 5)]);
}

#[test]
fn start_time_gates_entries() {
    let m = market(&flat(5));
    let mut c = cfg();
    c.engine.start_time_us = Some(T0 + 2 * MIN);
    let s = Script::new(rejected_every_bar());
    run_ok(&s, &m, &c);
    assert_eq!(s.evaluated(), vec![2, 3, 4]);
    c.engine.start_time_us = Some(T0 + 2 * MIN + 1);
    let s = Script::new(rejected_every_bar());
    run_ok(&s, &m, &c);
    assert_eq!(s.evaluated(), vec![3, 4]);
}

#[test]
fn max_open_positions() {
    let m = market(&flat(4));
    let mut c = cfg();
    c.engine.max_open_positions = 2;
    let s = Script::new(Box::new(|_| Some(long(1.1000, 1.0990, None))));
    let r = run_ok(&s, &m, &c);
    assert_eq!(s.evaluated(), vec![0, 1]);
    // Closed at the end in opening order, ids 1, 2.
    assert_eq!(
        r.trades.iter().map(|t| (t.id, t.exit_reason)).collect::<Vec<_>>(),
        vec![(1, ExitReason::EndOfData), (2, ExitReason::EndOfData)]
    );
}

#[test]
fn end_of_data_close_versus_open_positions() {
    let m = market(&[(1.1000, 1.1005, 1.0995, 1.1000), (1.1000, 1.1005, 1.0995, 1.1003)]);
    let mut c = cfg();
    c.engine.costs.commission_per_lot = 2.0;
    let r = run_ok(&Script::new(once(0, long(1.1000, 1.0990, None))), &m, &c);
    let t = &r.trades[0];
    assert_eq!((t.exit_index, t.exit_reason, t.exit_price, t.commission), (1, ExitReason::EndOfData, 1.1003, 4.0));
    assert!(r.open_positions.is_empty());
    assert_eq!(r.equity_curve[1], 100_000.0 - 2.0 + t.pnl_gross - 2.0);
    assert_eq!(r.metrics["total_trades"], 1.0);

    c.engine.close_at_end = false;
    let r = run_ok(&Script::new(once(0, long(1.1000, 1.0990, None))), &m, &c);
    assert!(r.trades.is_empty());
    let o = &r.open_positions[0];
    let gross = (1.1003 - 1.1) * 1.0 * 100_000.0 * 1.0 * 1.0;
    assert_eq!(
        (o.exit_reason, o.exit_price, o.commission, o.pnl_gross, o.pnl),
        (ExitReason::Open, 1.1003, 2.0, gross, gross - 2.0)
    );
    assert_eq!(r.equity_curve[1], (100_000.0 - 2.0) + gross);
    assert_eq!(r.metrics["total_trades"], 0.0);
}

fn trade(pnl: f64, r: f64, scenario: Option<u32>) -> TradeRecord {
    TradeRecord {
        id: 1,
        symbol: "EURUSD".into(),
        direction: Direction::Long,
        entry_index: 0,
        exit_index: 1,
        entry_time_us: 0,
        exit_time_us: 0,
        entry_price: 1.0,
        exit_price: 1.0,
        initial_stop_loss: 0.9,
        stop_loss: 0.9,
        take_profit: None,
        lots: 1.0,
        pnl_pips: 0.0,
        pnl_gross: pnl + 1.0,
        commission: 1.0,
        swap: 0.0,
        pnl,
        slippage_pips: 0.0,
        r_multiple: r,
        bars_held: 1,
        exit_reason: ExitReason::StopLoss,
        scenario,
        reason: String::new(),
        tags: vec![],
    }
}

#[test]
fn metrics_on_a_known_trade_list() {
    let trades =
        [trade(100.0, 1.0, Some(1)), trade(-50.0, -0.5, Some(2)), trade(30.0, 0.3, Some(1)), trade(-20.0, -0.2, None)];
    let equity = [10_000.0, 10_100.0, 10_050.0, 10_080.0, 10_060.0];
    // One bar per day at 12:00 UTC from Monday 2024-01-08: five trading days (17:00 New York days).
    let day = 86_400_000_000_i64;
    let opens: Vec<i64> = (0..5).map(|k| 19_730 * day + 12 * 3_600_000_000 + k * day).collect();
    let inputs = MetricInputs {
        initial_balance: 10_000.0,
        bar_open_us: &opens,
        first_open_us: 0,
        last_close_us: 5 * 3_600_000_000,
        exposed_bars: 3,
        signals: 6,
        signals_rejected: 2,
        signals_rejected_margin: 1,
        stop_outs: 0,
    };
    let m = metrics::compute(&trades, &equity, &inputs);
    assert_eq!(m["total_trades"], 4.0);
    assert_eq!((m["wins"], m["losses"], m["win_rate"]), (2.0, 2.0, 0.5));
    assert_eq!((m["gross_profit"], m["gross_loss"], m["net_profit"]), (130.0, -70.0, 60.0));
    assert_eq!(m["profit_factor"], 130.0 / 70.0);
    assert_eq!((m["avg_win"], m["avg_loss"], m["expectancy"]), (65.0, -35.0, 15.0));
    assert_eq!(m["avg_r"], (1.0 + -0.5 + 0.3 + -0.2) / 4.0);
    assert_eq!(m["commission_total"], 4.0);
    assert_eq!(m["final_equity"], 10_060.0);
    assert_eq!(m["return_pct"], (10_060.0 / 10_000.0 - 1.0) * 100.0);
    assert_eq!(m["max_drawdown"], 50.0);
    assert_eq!(m["max_drawdown_pct"], 50.0 / 10_100.0 * 100.0);
    assert_eq!(m["longest_drawdown_bars"], 3.0);
    assert_eq!(m["exposure"], 3.0 / 5.0);
    assert_eq!((m["signals"], m["signals_rejected"], m["bars_processed"]), (6.0, 2.0, 5.0));
    assert_eq!((m["trades_scenario_1"], m["trades_scenario_2"], m["trades_scenario_none"]), (2.0, 1.0, 1.0));
    assert!(m["cagr"].is_nan());
    // Daily returns from the initial balance (the first day-end equity equals it: r_1 = 0).
    let r = [
        10_000.0 / 10_000.0 - 1.0,
        10_100.0 / 10_000.0 - 1.0,
        10_050.0 / 10_100.0 - 1.0,
        10_080.0 / 10_050.0 - 1.0,
        10_060.0 / 10_080.0 - 1.0,
    ];
    let mean = ((((r[0] + r[1]) + r[2]) + r[3]) + r[4]) / 5.0;
    let mut ss = 0.0_f64;
    for x in r {
        ss += (x - mean) * (x - mean);
    }
    // Days from Sun 2024-01-07 22:00 UTC (17:00 EST) to Fri 2024-01-12 22:00 UTC: 5 days.
    let ann = (5.0_f64 / (5.0 * 86400e6 / (365.25 * 86400e6))).sqrt();
    assert_eq!(m["sharpe"], mean / (ss / 4.0).sqrt() * ann);
    assert_eq!(m["sortino"], mean / ((r[2] * r[2] + r[4] * r[4]) / 5.0).sqrt() * ann);

    // No trades: ratios undefined.
    let m = metrics::compute(&[], &[10_000.0], &inputs);
    for k in ["win_rate", "profit_factor", "avg_win", "avg_loss", "expectancy", "avg_r", "sharpe", "sortino"] {
        assert!(m[k].is_nan(), "{k}");
    }
    assert!(!m.contains_key("trades_scenario_none"));
}

/// Deterministic pseudo-random strategy for determinism checks.
fn noisy() -> Script {
    Script::with_actions(
        Box::new(|s| match s.index % 7 {
            0 => Some(long(s.ask.close, s.ask.close - 0.0008, Some(s.ask.close + 0.0006))),
            3 => Some(short(s.bid.close, s.bid.close + 0.0007, None)),
            _ => None,
        }),
        Box::new(|p, _| {
            if p.bars_held >= 5 {
                PositionAction::Close { reason: "timeout".into() }
            } else {
                PositionAction::Hold
            }
        }),
    )
}

fn wavy(n: usize) -> MarketData {
    let bars: Vec<_> = (0..n)
        .map(|k| {
            let x = 1.1 + 0.001 * ((k as f64) * 0.37).sin();
            let c = 1.1 + 0.001 * ((k as f64 + 1.0) * 0.37).sin();
            (x, x.max(c) + 0.0003, x.min(c) - 0.0003, c)
        })
        .collect();
    market(&bars)
}

#[test]
fn determinism_two_runs_equal() {
    let m = wavy(500);
    let mut c = cfg();
    c.engine.costs.slippage_random_pips = 1.0;
    c.engine.costs.commission_per_lot = 3.0;
    c.engine.max_open_positions = 3;
    let a = run_ok(&noisy(), &m, &c);
    let b = run_ok(&noisy(), &m, &c);
    assert!(!a.trades.is_empty());
    assert_eq!(a.trades, b.trades);
    assert_eq!(
        a.equity_curve.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        b.equity_curve.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
    );
    assert_eq!(a.metrics.len(), b.metrics.len());
    for (k, v) in &a.metrics {
        assert_eq!(v.to_bits(), b.metrics[k].to_bits(), "{k}");
    }
    c.engine.seed = 43;
    let d = run_ok(&noisy(), &m, &c);
    assert_ne!(a.trades, d.trades);
}

#[test]
fn non_finite_values_abort_with_e4006() {
    let m = market(&flat(3));
    let e = run(&Script::new(once(1, long(f64::NAN, 1.0, None))), &m, &cfg()).unwrap_err();
    assert_eq!(e.code(), "E4006");
    assert!(e.to_string().contains("bar 1"));
    let e = run(&Script::new(once(1, long(1.1, 1.0, Some(f64::INFINITY)))), &m, &cfg()).unwrap_err();
    assert_eq!(e.code(), "E4006");
    let s = Script::with_actions(
        once(0, long(1.1, 1.0, None)),
        Box::new(|_, _| PositionAction::ModifyStopLoss { new_sl: f64::NAN }),
    );
    assert_eq!(run(&s, &m, &cfg()).unwrap_err().code(), "E4006");
    let s = Script::with_actions(
        once(0, long(1.1, 1.0, None)),
        Box::new(|_, _| PositionAction::ModifyTakeProfit { new_tp: f64::NEG_INFINITY }),
    );
    assert_eq!(run(&s, &m, &cfg()).unwrap_err().code(), "E4006");
}

/// Reports an error through `take_error` on bar 2.
struct Failing;

impl RustStrategy for Failing {
    fn evaluate(&self, _s: &DataSlice<'_>, _c: &IndicatorCache<'_>) -> Option<TradeSignal> {
        None
    }
    fn manage_position(&self, _p: &Position, _s: &DataSlice<'_>) -> PositionAction {
        PositionAction::Hold
    }
    fn primary_timeframe(&self) -> Timeframe {
        Timeframe::M1
    }
    fn name(&self) -> &str {
        "failing"
    }
    fn take_error(&self) -> Option<StrategyError> {
        Some(StrategyError::StrategyPanicked { strategy: "failing".into(), message: "boom".into() })
    }
}

#[test]
fn take_error_aborts_and_panics_are_caught() {
    let m = market(&flat(3));
    let e =
        run_backtest(&Failing, &IndicatorCache::new(&MarketHost::new(m.clone(), HtfAnchor::Utc)).unwrap(), &m, &cfg())
            .unwrap_err();
    assert_eq!(e.code(), "E4008");
    let s = Script::new(Box::new(|s| if s.index == 1 { panic!("kaboom") } else { None }));
    let e = run(&s, &m, &cfg()).unwrap_err();
    assert_eq!(e.code(), "E4008");
    assert!(e.to_string().contains("script") && e.to_string().contains("kaboom"), "{e}");
}

#[test]
fn config_and_market_mismatch() {
    let m = market(&flat(3));
    let mut c = cfg();
    c.timeframe = "M5".into();
    assert_eq!(run(&Script::new(rejected_every_bar()), &m, &c).unwrap_err().code(), "E4002");
    let mut c = cfg();
    c.engine.initial_balance = -1.0;
    assert_eq!(run(&Script::new(rejected_every_bar()), &m, &c).unwrap_err().code(), "E4002");
}

#[test]
fn equity_and_exposure_per_bar() {
    let m =
        market(&[(1.1000, 1.1005, 1.0995, 1.1000), (1.1000, 1.1005, 1.0995, 1.1002), (1.1000, 1.1005, 1.0995, 1.0999)]);
    let c = cfg();
    let r = run_ok(&Script::new(once(1, short(1.1000, 1.1010, None))), &m, &c);
    // Bar 0 flat; bar 1 short at 1.1000 marked at ask close 1.1002 + spread.
    assert_eq!(r.equity_curve[0], 100_000.0);
    assert_eq!(r.equity_curve[1], 100_000.0 + -(1.1002 + SPREAD - 1.1) * 100_000.0 * 1.0 * 1.0);
    assert_eq!(r.metrics["exposure"], 2.0 / 3.0);
    assert_eq!(r.bars_processed, 3);
}

#[test]
fn rejected_signals_do_not_draw_from_the_rng() {
    let mut c = cfg();
    c.engine.costs.slippage_random_pips = 1.0;
    let s = Script::new(Box::new(|s| match s.index {
        0 => Some(long(1.1000, 1.2000, None)),
        1 => Some(long(1.1000, 1.0990, None)),
        _ => None,
    }));
    let r = run_ok(&s, &market(&flat(3)), &c);
    let t = &r.trades[0];
    assert_eq!((t.entry_index, r.metrics["signals_rejected"]), (1, 1.0));
    assert_eq!(t.entry_price, 1.1000 + (0.0 + U1 * 1.0) * 0.0001);
    assert_eq!(t.exit_price, 1.1000 - (0.0 + U2 * 1.0) * 0.0001);
}

// --- Account currency (docs/engine.md "Account currency"): hand-computed cases --------------------

/// M1 bars of `symbol` from T0.
fn market_of(symbol: &str, spread: f64, bid: &[(f64, f64, f64, f64)]) -> MarketData {
    bars(symbol, spread, T0, bid)
}

fn run_with(s: &Script, m: &MarketData, c: &StrategyConfig, rates: &[MarketData]) -> Result<EngineResult> {
    let host = MarketHost::new(m.clone(), HtfAnchor::Utc);
    let cache = IndicatorCache::new(&host)?;
    run_backtest_with_rates(s, &cache, m, c, rates)
}

fn close_rel(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

#[test]
fn usdjpy_in_usd_converts_through_its_own_quotes() {
    // Long 1 lot at the ask close of bar 0 (150.02), TP 150.42 hit in bar 1 (bid high 150.60):
    // +0.40 JPY × 100,000 = 40,000 JPY, a credit converted at the rate of the exit bar's open =
    // bar 0's close: 1 / ask 150.02 → 266.6311 USD. The equity of bar 0 marks at bid 150.00:
    // −0.02 × 100,000 = −2,000 JPY, a debit at 1 / bid 150.00 = −13.3333 USD.
    let mut c = StrategyConfig::new("USDJPY", "M1");
    c.engine.sizing = SizingMode::Fixed;
    let m = market_of("USDJPY", 0.02, &[(150.00, 150.05, 149.95, 150.00), (150.00, 150.60, 149.98, 150.50)]);
    let s = Script::new(once(0, long(150.02, 149.82, Some(150.42))));
    let r = run_with(&s, &m, &c, &[]).unwrap();
    let t = &r.trades[0];
    assert_eq!(t.exit_reason, ExitReason::TakeProfit);
    assert!(close_rel(t.pnl_gross, 40_000.0 / 150.02), "{}", t.pnl_gross);
    assert!(close_rel(t.pnl_pips, 40.0));
    assert!(close_rel(r.equity_curve[0], 100_000.0 - 2_000.0 / 150.00), "{}", r.equity_curve[0]);
    assert!(close_rel(r.metrics["final_equity"], 100_000.0 + 40_000.0 / 150.02));
    // Risk in account currency: 20 pips × 1000 JPY at the entry's debit rate 1 / 150.00.
    assert!(close_rel(t.r_multiple, (40_000.0 / 150.02) / (20_000.0 / 150.00)), "{}", t.r_multiple);
    // Before the fix this run reported 40,000 "USD".
    assert!(t.pnl_gross < 300.0);
}

#[test]
fn eurgbp_in_usd_needs_gbpusd_and_converts_a_loss_at_the_debit_side() {
    // Short 1 lot at the bid close of bar 0 (0.8500), SL 0.8520 hit in bar 1 (ask high 0.8531, ask
    // open 0.8503): loss 0.0020 × 100,000 = −200 GBP, converted at GBPUSD's ask close of bar 0
    // (the debit side at the exit bar's open): 1.2502 → −250.04 USD.
    let mut c = StrategyConfig::new("EURGBP", "M1");
    c.engine.sizing = SizingMode::Fixed;
    let m = market_of("EURGBP", 0.0001, &[(0.8500, 0.8505, 0.8495, 0.8500), (0.8502, 0.8530, 0.8500, 0.8525)]);
    let gbpusd = market_of("GBPUSD", 0.0002, &[(1.2500, 1.2505, 1.2495, 1.2500), (1.2500, 1.2610, 1.2490, 1.2600)]);
    let s = Script::new(once(0, short(0.8500, 0.8520, None)));
    let e = run_with(&s, &m, &c, &[]).unwrap_err();
    assert_eq!(e.code(), "E4004");
    assert!(e.to_string().contains("GBPUSD or USDGBP"), "{e}");
    let r = run_with(&s, &m, &c, std::slice::from_ref(&gbpusd)).unwrap();
    let t = &r.trades[0];
    assert_eq!((t.exit_reason, t.exit_price), (ExitReason::StopLoss, 0.8520));
    assert!(close_rel(t.pnl_gross, -200.0 * 1.2502), "{}", t.pnl_gross);
    assert!(close_rel(r.metrics["final_equity"], 100_000.0 - 250.04));
}

#[test]
fn eurusd_in_eur_converts_a_gain_at_the_credit_side() {
    // EUR account, long EURUSD 1 lot at the ask close of bar 0 (1.1002), closed by the strategy at
    // the bid close of bar 1 (1.1050): +0.0048 × 100,000 = +480 USD, converted at the close of bar 1
    // through EURUSD itself: 1 / ask 1.1052 → 434.3105 EUR.
    let mut c = StrategyConfig::new("EURUSD", "M1");
    c.engine.sizing = SizingMode::Fixed;
    c.engine.account_currency = "EUR".into();
    let m = market_of("EURUSD", 0.0002, &[(1.1000, 1.1005, 1.0995, 1.1000), (1.1000, 1.1055, 1.0999, 1.1050)]);
    let close: ActionFn = Box::new(|_, _| PositionAction::Close { reason: "done".into() });
    let s = Script::with_actions(once(0, long(1.1002, 1.0950, None)), close);
    let r = run_with(&s, &m, &c, &[]).unwrap();
    let t = &r.trades[0];
    assert_eq!(t.exit_reason, ExitReason::StrategyClose);
    assert!(close_rel(t.pnl_gross, 480.0 / 1.1052), "{}", t.pnl_gross);
    // manage_position saw the same unrealised PnL in account currency.
    let managed = s.managed.lock().unwrap();
    assert!(close_rel(managed[0].1.pnl_usd, 480.0 / 1.1052));
}

#[test]
fn unknown_symbol_without_spec_is_e4002() {
    let c = StrategyConfig::new("FOOBAR", "M1");
    let m = market(&flat(2));
    let e = run(&Script::new(Box::new(|_| None)), &m, &c).unwrap_err();
    assert_eq!(e.code(), "E4002");
    assert!(e.to_string().contains("unknown instrument 'FOOBAR'"), "{e}");
}

// --- Fill model (docs/engine.md "Fill model") ------------------------------------------------------

fn next_open_cfg() -> StrategyConfig {
    let mut c = cfg();
    c.engine.fill = crate::config::FillModel::NextOpen;
    c
}

#[test]
fn next_open_fills_at_the_next_ask_open_and_tests_that_bars_range() {
    // Signal on bar 0 (its entry price 1.1001 is not used); bar 1 opens at bid 1.1010 / ask 1.1011:
    // the long fills at 1.1011 on bar 1, and bar 1's own bid high 1.1030 reaches the TP 1.1020.
    let m =
        market(&[(1.1000, 1.1005, 1.0995, 1.1000), (1.1010, 1.1030, 1.1005, 1.1025), (1.1025, 1.1030, 1.1020, 1.1025)]);
    let r = run_ok(&Script::new(once(0, long(1.1001, 1.0990, Some(1.1020)))), &m, &next_open_cfg());
    let t = &r.trades[0];
    assert_eq!((t.entry_index, t.entry_time_us, t.entry_price), (1, T0 + MIN, 1.1010 + SPREAD));
    assert_eq!((t.exit_index, t.exit_reason, t.exit_price, t.bars_held), (1, ExitReason::TakeProfit, 1.1020, 0));
    assert!((t.pnl_pips - (1.1020 - (1.1010 + SPREAD)) / 0.0001).abs() < 1e-12);
    // The same signal under signal_close fills on bar 0 at its own price.
    let r = run_ok(&Script::new(once(0, long(1.1001, 1.0990, Some(1.1020)))), &m, &cfg());
    assert_eq!((r.trades[0].entry_index, r.trades[0].entry_price), (0, 1.1001));
}

#[test]
fn next_open_rejects_a_gap_through_the_stop_and_a_signal_on_the_last_bar() {
    // Short at bar 0 with SL 1.1005; bar 1 opens at bid 1.1010, beyond the stop: rejected.
    let m = market(&[(1.1000, 1.1005, 1.0995, 1.1000), (1.1010, 1.1015, 1.1005, 1.1010)]);
    let r = run_ok(&Script::new(once(0, short(1.1000, 1.1005, None))), &m, &next_open_cfg());
    assert!(r.trades.is_empty());
    assert_eq!((r.metrics["signals"], r.metrics["signals_rejected"]), (1.0, 1.0));
    // A signal on the last bar has no next open.
    let r = run_ok(&Script::new(once(1, long(1.1011, 1.0990, None))), &m, &next_open_cfg());
    assert!(r.trades.is_empty());
    assert_eq!(r.metrics["signals_rejected"], 1.0);
}

#[test]
fn next_open_manages_a_position_from_the_bar_after_its_fill() {
    let m = market(&flat(4));
    let close: ActionFn = Box::new(|_, _| PositionAction::Close { reason: "done".into() });
    let s = Script::with_actions(once(0, long(1.1001, 1.0990, None)), close);
    let r = run_ok(&s, &m, &next_open_cfg());
    let t = &r.trades[0];
    assert_eq!((t.entry_index, t.exit_index, t.exit_reason), (1, 2, ExitReason::StrategyClose));
    let managed: Vec<usize> = s.managed.lock().unwrap().iter().map(|(i, _)| *i).collect();
    assert_eq!(managed, vec![2]);
    // Bar 1 holds the position after its fill: it counts as exposed, and no new entry is evaluated.
    assert_eq!(s.evaluated(), vec![0, 3]);
}

// --- swaps and margin (docs/engine.md "Swaps", "Margin and stop-out") ---------------------------

/// 2024-01-03 (a Wednesday) 21:58 UTC = 16:58 New York (EST): the rollover is at 22:00 UTC.
const WED_2158: i64 = T0 + 2 * 86_400_000_000 + (21 * 60 + 58) * MIN;

#[test]
fn swap_points_triple_wednesday_charged_at_the_first_bar_after_the_rollover() {
    // Bars open 21:58, 21:59, 22:00, 22:01 UTC. Long 1 lot at the close of bar 0 (ask 1.1001); the
    // rollover 22:00 = open of bar 2 lies in (open of bar 1, open of bar 2]: charged at the start
    // of bar 2. Wednesday: 3 nights × −5 points × 0.00001 × 100,000 × 1 lot = −15 USD.
    let mut c = cfg();
    c.engine.symbol_spec.swap_long = Some(-5.0);
    c.engine.symbol_spec.swap_short = Some(2.0);
    let m = market_at(WED_2158, &flat(4));
    let r = run_ok(&Script::new(once(0, long(1.1001, 1.0990, None))), &m, &c);
    let t = &r.trades[0];
    assert!(close_rel(t.swap, -15.0), "{}", t.swap);
    // End of data at the bid close 1.1000: gross −0.0001 × 100,000 = −10; pnl = −10 − 0 − 15.
    assert!(close_rel(t.pnl, -25.0), "{}", t.pnl);
    assert!(close_rel(r.metrics["swap_total"], -15.0));
    // Equity: bar 1 before the rollover −10, bar 2 after it −25.
    assert!(close_rel(r.equity_curve[1], 100_000.0 - 10.0));
    assert!(close_rel(r.equity_curve[2], 100_000.0 - 25.0));
    assert!(close_rel(r.metrics["final_equity"], 100_000.0 - 25.0));
    // A short opened at the close of bar 1 (= the rollover instant) is held across it: +2 × 3 nights
    // × 0.00001 × 100,000 = +6 USD. Off with engine.swaps = false.
    let r = run_ok(&Script::new(once(1, short(1.1000, 1.1010, None))), &m, &c);
    assert!(close_rel(r.trades[0].swap, 6.0), "{}", r.trades[0].swap);
    c.engine.swaps = false;
    let r = run_ok(&Script::new(once(1, short(1.1000, 1.1010, None))), &m, &c);
    assert_eq!(r.trades[0].swap, 0.0);
}

#[test]
fn swap_not_charged_to_a_position_closed_at_the_rollover() {
    // Closed by the strategy at the close of bar 1 (22:00, the rollover): before the charge.
    let mut c = cfg();
    c.engine.symbol_spec.swap_long = Some(-5.0);
    let m = market_at(WED_2158, &flat(4));
    let close: ActionFn = Box::new(|_, _| PositionAction::Close { reason: "x".into() });
    let r = run_ok(&Script::with_actions(once(0, long(1.1001, 1.0990, None)), close), &m, &c);
    assert_eq!((r.trades[0].exit_index, r.trades[0].swap), (1, 0.0));
}

#[test]
fn swap_percent_short_usdjpy_credit_in_usd() {
    // Thursday 2024-01-04 21:59 and 22:00 UTC. Short 1 lot USDJPY at the bid close of bar 0
    // (150.00); swap_short +1.8 % a year of the notional at the ask close of bar 0 (150.02), one
    // night on a 360-day year: 150.02 × 100,000 × 1.8 / 100 / 360 = 750.1 JPY, a credit converted
    // at the rate of bar 1's open (= bar 0's close) 1 / ask 150.02 → 5.00 USD.
    let mut c = StrategyConfig::new("USDJPY", "M1");
    c.engine.sizing = SizingMode::Fixed;
    c.engine.symbol_spec.swap_short = Some(1.8);
    c.engine.symbol_spec.swap_mode = Some(crate::instruments::SwapMode::Percent);
    let thu_2159 = WED_2158 + 86_400_000_000 + MIN;
    let m = bars("USDJPY", 0.02, thu_2159, &[(150.00, 150.05, 149.95, 150.00); 2]);
    let r = run_ok(&Script::new(once(0, short(150.00, 150.50, None))), &m, &c);
    assert!(close_rel(r.trades[0].swap, 5.0), "{}", r.trades[0].swap);
}

#[test]
fn margin_rejects_an_entry_that_does_not_fit() {
    // Balance 1,000, margin rate 0.01 (leverage 100): 1 lot at 1.1001 needs 1,100.10 USD → rejected;
    // 0.9 lots need 990.09 → opened.
    let mut c = cfg();
    c.engine.initial_balance = 1_000.0;
    c.engine.symbol_spec.margin_rate = Some(0.01);
    let m = market(&flat(3));
    let r = run_ok(&Script::new(once(0, long(1.1001, 1.0990, None))), &m, &c);
    assert!(r.trades.is_empty());
    assert_eq!((r.metrics["signals_rejected"], r.metrics["signals_rejected_margin"]), (1.0, 1.0));
    c.engine.fixed_lots = 0.9;
    let r = run_ok(&Script::new(once(0, long(1.1001, 1.0990, None))), &m, &c);
    assert_eq!((r.trades.len(), r.metrics["signals_rejected_margin"]), (1, 0.0));
    // Off: the 1-lot entry opens.
    c.engine.fixed_lots = 1.0;
    c.engine.margin = false;
    let r = run_ok(&Script::new(once(0, long(1.1001, 1.0990, None))), &m, &c);
    assert_eq!(r.trades.len(), 1);
}

#[test]
fn stop_out_closes_at_the_worst_price_and_blocks_entries() {
    // Balance 1,000, margin 0.01, long 0.5 lots at the ask close 1.1001: margin 550.05. Bar 1's bid
    // low 1.0850: equity 1,000 + (1.0850 − 1.1001) × 50,000 = 1,000 − 755 = 245, level 245 / 550.05
    // = 0.445 ≤ 0.5 → closed at 1.0850, reason stop_out. Balance 245; bar 2's signal needs 0.5 lots
    // × 1.0901 × 1,000 = 545.05 > 245 → rejected for margin.
    let mut c = cfg();
    c.engine.initial_balance = 1_000.0;
    c.engine.fixed_lots = 0.5;
    c.engine.symbol_spec.margin_rate = Some(0.01);
    let m =
        market(&[(1.1000, 1.1005, 1.0995, 1.1000), (1.0990, 1.0995, 1.0850, 1.0900), (1.0900, 1.0905, 1.0895, 1.0900)]);
    let sig: SignalFn = Box::new(|s| match s.index {
        0 => Some(long(1.1001, 1.0000, None)),
        2 => Some(long(1.0901, 1.0000, None)),
        _ => None,
    });
    let r = run_ok(&Script::new(sig), &m, &c);
    assert_eq!(r.trades.len(), 1);
    let t = &r.trades[0];
    assert_eq!((t.exit_index, t.exit_reason, t.exit_price), (1, ExitReason::StopOut, 1.0850));
    assert!(close_rel(t.pnl, -755.0), "{}", t.pnl);
    assert!(close_rel(r.metrics["final_equity"], 245.0));
    assert_eq!((r.metrics["stop_outs"], r.metrics["signals_rejected_margin"]), (1.0, 1.0));
    // At 0.5 lots and a low of 1.0870 (equity 345, level 0.627) nothing happens.
    let m2 = market(&[(1.1000, 1.1005, 1.0995, 1.1000), (1.0990, 1.0995, 1.0870, 1.0900)]);
    let r = run_ok(&Script::new(once(0, long(1.1001, 1.0000, None))), &m2, &c);
    assert_eq!((r.trades[0].exit_reason, r.metrics["stop_outs"]), (ExitReason::EndOfData, 0.0));
}

#[test]
fn a_gap_past_the_stop_out_leaves_a_negative_balance_on_record() {
    // Bar 1 gaps to a bid low of 1.0700: closed at 1.0700, −0.0301 × 50,000 = −1,505: balance −505.
    // Nothing hides it: the trade says stop_out, the equity curve and final_equity are negative.
    let mut c = cfg();
    c.engine.initial_balance = 1_000.0;
    c.engine.fixed_lots = 0.5;
    c.engine.symbol_spec.margin_rate = Some(0.01);
    let m =
        market(&[(1.1000, 1.1005, 1.0995, 1.1000), (1.0710, 1.0720, 1.0700, 1.0710), (1.0710, 1.0720, 1.0700, 1.0710)]);
    let sig: SignalFn = Box::new(|s| (s.index != 1).then(|| long(s.ask.close, 1.0000, None)));
    let r = run_ok(&Script::new(sig), &m, &c);
    assert_eq!(r.trades.len(), 1);
    assert_eq!(r.trades[0].exit_reason, ExitReason::StopOut);
    assert!(close_rel(r.metrics["final_equity"], -505.0), "{}", r.metrics["final_equity"]);
    assert!(r.equity_curve[1] < 0.0 && r.equity_curve[2] < 0.0);
    assert_eq!(r.metrics["signals_rejected_margin"], 1.0);
}
