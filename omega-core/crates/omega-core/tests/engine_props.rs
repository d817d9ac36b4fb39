//! Property tests of the engine: on arbitrary finite, valid markets and configs, with a strategy
//! that emits seeded random signals and position actions, a run never fails or panics and keeps
//! its invariants (finite equity, trade accounting, no SL/TP exit in the entry bar, determinism).

use omega_core::config::HtfAnchor;
use omega_core::config::{SizingMode, StrategyConfig};
use omega_core::engine::{run_backtest, EngineResult, ExitReason, SplitMix64};
use omega_core::indicators::{IndicatorCache, MarketHost};
use omega_core::market::MarketData;
use omega_core::{DataSlice, Direction, Position, PositionAction, RustStrategy, Timeframe, TradeSignal};
use proptest::prelude::*;

/// Random strategy: every decision is a pure function of (seed, bar, position id).
struct RandomStrategy {
    seed: u64,
    signal_rate: f64,
}

impl RandomStrategy {
    fn draws(&self, a: u64, b: u64) -> SplitMix64 {
        SplitMix64::new(self.seed ^ a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_mul(0xC2B2_AE3D_27D4_EB4F))
    }
}

impl RustStrategy for RandomStrategy {
    fn evaluate(&self, s: &DataSlice<'_>, _cache: &IndicatorCache<'_>) -> Option<TradeSignal> {
        let mut r = self.draws(s.index as u64, 0);
        if r.next_f64() >= self.signal_rate {
            return None;
        }
        let long = r.next_f64() < 0.5;
        let entry = if long { s.ask.close } else { s.bid.close };
        let dist = (r.next_f64() * 0.005).max(1e-6);
        // 10 % of signals put the SL on the wrong side (rejected).
        let wrong = r.next_f64() < 0.1;
        let sl = if long ^ wrong { entry - dist } else { entry + dist };
        let tp = if r.next_f64() < 0.7 {
            // Usually on the winning side, sometimes on the losing side (accepted).
            let d = r.next_f64() * 0.006 * if r.next_f64() < 0.85 { 1.0 } else { -0.3 };
            Some(if long { entry + d } else { entry - d })
        } else {
            None
        };
        let dir = if long { Direction::Long } else { Direction::Short };
        Some(TradeSignal::new(dir, entry, sl, tp, "p".into(), vec![], Some((s.index % 3) as u32), None))
    }

    fn manage_position(&self, p: &Position, s: &DataSlice<'_>) -> PositionAction {
        let mut r = self.draws(s.index as u64, p.id);
        let x = r.next_f64();
        let d = r.next_f64() * 0.004;
        let sign = p.direction.sign();
        if x < 0.05 {
            PositionAction::Close { reason: if r.next_f64() < 0.5 { "timeout".into() } else { "other".into() } }
        } else if x < 0.12 {
            PositionAction::ModifyStopLoss { new_sl: p.entry_price - sign * d }
        } else if x < 0.18 {
            PositionAction::ModifyTakeProfit { new_tp: p.entry_price + sign * d }
        } else {
            PositionAction::Hold
        }
    }

    fn primary_timeframe(&self) -> Timeframe {
        Timeframe::M5
    }

    fn name(&self) -> &str {
        "random"
    }
}

/// A valid M5 market from per-bar (gap in bars, open move, two wick sizes, close move, spread).
fn build_market(start: i64, steps: &[(u8, f64, f64, f64, f64, f64)]) -> MarketData {
    let n = steps.len();
    let mut ts = Vec::with_capacity(n);
    let mut cols: [Vec<f64>; 10] = Default::default();
    let mut t = start;
    let mut price = 1.1_f64;
    for &(gap, dopen, up, down, dclose, spread) in steps {
        t += i64::from(gap) * 300_000_000;
        ts.push(t);
        let o = (price + dopen).max(0.01);
        let c = (o + dclose).max(0.01);
        let h = o.max(c) + up;
        let l = (o.min(c) - down).max(0.001);
        for (k, v) in [o, h, l, c, 1.0].into_iter().enumerate() {
            cols[k].push(v);
        }
        for (k, v) in [o + spread, h + spread, l + spread, c + spread, 1.0].into_iter().enumerate() {
            cols[5 + k].push(v);
        }
        price = c;
    }
    MarketData::from_vecs("EURUSD", Timeframe::M5, ts, cols, false).expect("generated market is valid")
}

fn step() -> impl Strategy<Value = (u8, f64, f64, f64, f64, f64)> {
    (1u8..4, -0.002..0.002f64, 0.0..0.003f64, 0.0..0.003f64, -0.003..0.003f64, 0.0..0.0004f64)
}

#[derive(Clone, Debug)]
struct Knobs {
    risk_sizing: bool,
    slip_fixed: f64,
    slip_random: f64,
    commission: f64,
    buffer: f64,
    max_open: u32,
    reentry: bool,
    close_at_end: bool,
    cooldown_candles: u32,
    cooldown_minutes: f64,
    cooldown_trade: f64,
    session: Option<(u32, u32)>,
    seed: u64,
}

fn knobs() -> impl Strategy<Value = Knobs> {
    (
        (any::<bool>(), 0.0..2.0f64, 0.0..2.0f64, 0.0..7.0f64, prop_oneof![Just(0.0), 0.0..1.0f64]),
        (1u32..4, any::<bool>(), any::<bool>(), 0u32..4, 0.0..30.0f64, 0.0..30.0f64),
        (proptest::option::of((0u32..1440, 0u32..1440)), any::<u64>()),
    )
        .prop_map(|((rs, sf, sr, c, b), (mo, re, ce, cc, cm, ct), (session, seed))| Knobs {
            risk_sizing: rs,
            slip_fixed: sf,
            slip_random: sr,
            commission: c,
            buffer: b,
            max_open: mo,
            reentry: re,
            close_at_end: ce,
            cooldown_candles: cc,
            cooldown_minutes: cm,
            cooldown_trade: ct,
            session,
            seed,
        })
}

fn config(k: &Knobs) -> StrategyConfig {
    let mut c = StrategyConfig::new("EURUSD", "M5");
    let e = &mut c.engine;
    e.sizing = if k.risk_sizing { SizingMode::Risk } else { SizingMode::Fixed };
    e.costs.slippage_fixed_pips = k.slip_fixed;
    e.costs.slippage_random_pips = k.slip_random;
    e.costs.commission_per_lot = k.commission;
    e.costs.pip_buffer_factor = k.buffer;
    e.max_open_positions = k.max_open;
    e.allow_same_bar_reentry = k.reentry;
    e.close_at_end = k.close_at_end;
    e.cooldown_candles = k.cooldown_candles;
    e.cooldown_minutes = k.cooldown_minutes;
    e.cooldown_minutes_trade = k.cooldown_trade;
    e.seed = k.seed;
    if let Some((a, b)) = k.session {
        e.sessions = vec![(format!("{:02}:{:02}", a / 60, a % 60), format!("{:02}:{:02}", b / 60, b % 60))];
    }
    c
}

fn run(m: &MarketData, s: &RandomStrategy, c: &StrategyConfig) -> EngineResult {
    let host = MarketHost::new(m.clone(), HtfAnchor::Utc);
    let cache = IndicatorCache::new(&host).expect("host has primary bars");
    run_backtest(s, &cache, m, c).expect("a valid run never fails")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn engine_keeps_its_invariants(
        steps in proptest::collection::vec(step(), 1..160),
        k in knobs(),
        strat_seed in any::<u64>(),
        rate in 0.0..1.0f64,
    ) {
        let m = build_market(1_704_067_200_000_000, &steps);
        let n = m.len();
        let c = config(&k);
        let s = RandomStrategy { seed: strat_seed, signal_rate: rate };
        let r = run(&m, &s, &c);

        prop_assert_eq!(r.bars_processed, n);
        prop_assert_eq!(r.equity_curve.len(), n);
        prop_assert!(r.equity_curve.iter().all(|e| e.is_finite()));
        let signals = r.metrics["signals"];
        let rejected = r.metrics["signals_rejected"];
        prop_assert!(rejected <= signals);
        prop_assert!((r.trades.len() as f64) <= signals);
        prop_assert_eq!((r.trades.len() + r.open_positions.len()) as f64, signals - rejected);
        if k.close_at_end {
            prop_assert!(r.open_positions.is_empty());
        }
        let mut ids: Vec<u64> = r.trades.iter().chain(&r.open_positions).map(|t| t.id).collect();
        ids.sort_unstable();
        prop_assert_eq!(ids, (1..=(r.trades.len() + r.open_positions.len()) as u64).collect::<Vec<_>>());
        for t in r.trades.iter().chain(&r.open_positions) {
            prop_assert!(t.exit_index < n && t.entry_index <= t.exit_index);
            prop_assert_eq!(t.bars_held, t.exit_index - t.entry_index);
            if !matches!(t.exit_reason, ExitReason::EndOfData | ExitReason::Open) {
                prop_assert!(t.exit_index > t.entry_index, "exit in the entry bar: {:?}", t);
            }
            prop_assert!(t.lots >= 0.01 && t.lots <= 100.0);
            prop_assert!(t.pnl.is_finite() && t.pnl_gross.is_finite() && t.commission >= 0.0);
            if t.exit_reason == ExitReason::StopLoss {
                match t.direction {
                    Direction::Long => prop_assert!(t.exit_price <= t.stop_loss),
                    Direction::Short => prop_assert!(t.exit_price >= t.stop_loss),
                }
            }
            match t.direction {
                Direction::Long => prop_assert!(t.initial_stop_loss < t.entry_price),
                Direction::Short => prop_assert!(t.initial_stop_loss > t.entry_price),
            }
        }
        // Closing order: exit bars never decrease.
        prop_assert!(r.trades.windows(2).all(|w| w[0].exit_index <= w[1].exit_index));
        // Deterministic.
        let again = run(&m, &s, &c);
        prop_assert_eq!(&r.trades, &again.trades);
        prop_assert_eq!(
            r.equity_curve.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            again.equity_curve.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
    }
}

/// The generators are not vacuous: a fixed long run hits every exit reason and rejects signals.
#[test]
fn random_strategy_exercises_every_path() {
    let mut g = SplitMix64::new(3);
    let mut u = |a: f64, b: f64| a + (b - a) * g.next_f64();
    let steps: Vec<_> = (0..3000)
        .map(|_| {
            let gap = if u(0.0, 1.0) < 0.1 { 3 } else { 1 };
            (gap, u(-0.0005, 0.0005), u(0.0, 0.001), u(0.0, 0.001), u(-0.001, 0.001), u(0.0, 0.0002))
        })
        .collect();
    let m = build_market(1_704_067_200_000_000, &steps);
    let k = Knobs {
        risk_sizing: true,
        slip_fixed: 0.1,
        slip_random: 0.5,
        commission: 3.0,
        buffer: 0.0,
        max_open: 3,
        reentry: false,
        close_at_end: true,
        cooldown_candles: 0,
        cooldown_minutes: 0.0,
        cooldown_trade: 0.0,
        session: None,
        seed: 9,
    };
    let r = run(&m, &RandomStrategy { seed: 11, signal_rate: 0.3 }, &config(&k));
    for why in [ExitReason::StopLoss, ExitReason::TakeProfit, ExitReason::Timeout, ExitReason::StrategyClose] {
        assert!(r.trades.iter().any(|t| t.exit_reason == why), "no {why:?} exit");
    }
    assert!(r.metrics["signals_rejected"] > 0.0);
    assert!(r.trades.len() > 100);
}
