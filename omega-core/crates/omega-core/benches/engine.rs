//! Engine throughput: per-bar overhead with a no-op strategy, and a signal-heavy strategy, on 30k
//! and 1M synthetic M1 bars (seeded random walk generated here). Throughput is reported per bar.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use omega_core::config::HtfAnchor;
use omega_core::config::StrategyConfig;
use omega_core::engine::{run_backtest, SplitMix64};
use omega_core::indicators::{IndicatorCache, MarketHost};
use omega_core::market::MarketData;
use omega_core::{DataSlice, Direction, Position, PositionAction, RustStrategy, Timeframe, TradeSignal};

/// Seeded M1 random walk around 1.10 with a 0.2–0.5 pip spread.
fn synthetic_m1(n: usize, seed: u64) -> MarketData {
    let mut rng = SplitMix64::new(seed);
    let mut cols: [Vec<f64>; 10] = Default::default();
    for c in cols.iter_mut() {
        c.reserve(n);
    }
    let mut price = 1.1_f64;
    for _ in 0..n {
        let o = price;
        let c = (o + (rng.next_f64() - 0.5) * 0.0006).max(0.5);
        let h = o.max(c) + rng.next_f64() * 0.0003;
        let l = o.min(c) - rng.next_f64() * 0.0003;
        let spread = 0.00002 + rng.next_f64() * 0.00003;
        for (k, v) in [o, h, l, c, 1.0, o + spread, h + spread, l + spread, c + spread, 1.0].into_iter().enumerate() {
            cols[k].push(v);
        }
        price = c;
    }
    let ts = (0..n as i64).map(|k| 1_577_836_800_000_000 + k * 60_000_000).collect();
    match MarketData::from_vecs("EURUSD", Timeframe::M1, ts, cols, false) {
        Ok(m) => m,
        Err(e) => panic!("synthetic market invalid: {e}"),
    }
}

/// Never trades: measures the engine's own per-bar cost.
struct Noop;

impl RustStrategy for Noop {
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
        "noop"
    }
}

/// Enters on every allowed bar (alternating direction) with a 3-pip SL, 4-pip TP and a 30-bar timeout.
struct Busy;

impl RustStrategy for Busy {
    fn evaluate(&self, s: &DataSlice<'_>, _c: &IndicatorCache<'_>) -> Option<TradeSignal> {
        let (d, e, sl, tp) = if s.index % 2 == 0 {
            (Direction::Long, s.ask.close, s.ask.close - 0.0003, s.ask.close + 0.0004)
        } else {
            (Direction::Short, s.bid.close, s.bid.close + 0.0003, s.bid.close - 0.0004)
        };
        Some(TradeSignal::new(d, e, sl, Some(tp), String::new(), Vec::new(), Some(1), None))
    }
    fn manage_position(&self, p: &Position, _s: &DataSlice<'_>) -> PositionAction {
        if p.bars_held >= 30 {
            PositionAction::Close { reason: "timeout".into() }
        } else {
            PositionAction::Hold
        }
    }
    fn primary_timeframe(&self) -> Timeframe {
        Timeframe::M1
    }
    fn name(&self) -> &str {
        "busy"
    }
}

fn bench_engine(c: &mut Criterion) {
    let mut config = StrategyConfig::new("EURUSD", "M1");
    config.engine.costs.slippage_random_pips = 0.5;
    config.engine.costs.commission_per_lot = 3.0;
    // The unlimited account of V1: Busy's 3-pip stops size to 100 lots, which no margin at the
    // default leverage admits (every signal would be rejected and the bench would measure nothing).
    config.engine.margin = false;
    let mut margin = config.clone();
    margin.engine.margin = true;
    // A balance that keeps every entry within margin: the same trades as signal_heavy.
    margin.engine.initial_balance = 1e9;
    margin.engine.symbol_spec.margin_rate = Some(0.002);
    let mut swaps = config.clone();
    swaps.engine.symbol_spec.swap_long = Some(-6.5);
    swaps.engine.symbol_spec.swap_short = Some(1.5);
    for n in [30_000_usize, 1_000_000] {
        let m = synthetic_m1(n, 7);
        let host = MarketHost::new(m.clone(), HtfAnchor::Utc);
        let Ok(cache) = IndicatorCache::new(&host) else { panic!("host has primary bars") };
        let mut g = c.benchmark_group("engine");
        g.throughput(Throughput::Elements(n as u64));
        if n >= 1_000_000 {
            g.sample_size(10).measurement_time(Duration::from_secs(8));
        }
        g.bench_with_input(BenchmarkId::new("noop", n), &n, |b, _| {
            b.iter(|| black_box(run_backtest(&Noop, &cache, &m, &config).map(|r| r.bars_processed)))
        });
        g.bench_with_input(BenchmarkId::new("signal_heavy", n), &n, |b, _| {
            b.iter(|| black_box(run_backtest(&Busy, &cache, &m, &config).map(|r| r.trades.len())))
        });
        // The account's cost (docs/engine.md "Swaps", "Margin and stop-out"), against signal_heavy:
        // the same trades with the margin check and stop-out test (leverage 500), and with swaps.
        g.bench_with_input(BenchmarkId::new("signal_heavy_margin", n), &n, |b, _| {
            b.iter(|| black_box(run_backtest(&Busy, &cache, &m, &margin).map(|r| r.trades.len())))
        });
        g.bench_with_input(BenchmarkId::new("signal_heavy_swaps", n), &n, |b, _| {
            b.iter(|| black_box(run_backtest(&Busy, &cache, &m, &swaps).map(|r| r.trades.len())))
        });
        g.finish();
    }
}

criterion_group!(benches, bench_engine);
criterion_main!(benches);
