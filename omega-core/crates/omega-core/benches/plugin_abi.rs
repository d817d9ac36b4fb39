//! Per-call cost of the plugin boundary (architecture §3): `evaluate` and `manage_position` of the
//! same small strategy called directly vs through its `#[repr(C)]` table (`ForeignStrategy` →
//! `extern "C"` thunk under `catch_unwind` → plugin-side façade). The difference is what the ABI
//! adds per bar; the seed's limits are 1 µs (evaluate) and 500 ns (manage_position) per call.
//! `plugin_abi_backtest` runs whole backtests through the table with per-bar calls (what an ABI 1.0
//! plugin gets) and with the v1.1 `next_candidate` slot (the strategy's precomputed gate).

use criterion::{criterion_group, criterion_main, Criterion};
use omega_core::config::HtfAnchor;
use omega_core::engine::run_backtest;
use omega_core::indicators::MarketHost;
use omega_core::market::MarketData;
use omega_core::plugin::testing;
use omega_core::{
    Capabilities, DataSlice, Direction, IndicatorCache, IndicatorKey, Position, PositionAction, PriceSide,
    RustStrategy, StrategyConfig, StrategyError, Timeframe, TradeSignal,
};

/// Reads two series per bar and signals when the fast EMA is above the slow one by a margin that is
/// rarely reached (so most calls return `None`, like most bars of a real strategy).
#[derive(Default)]
struct TwoEma {
    fast: Vec<f64>,
    slow: Vec<f64>,
    /// Bars where the entry condition holds (computed in `prepare`), for `next_candidate`.
    candidates: Vec<usize>,
    /// `params.gated`: declare `next_candidate` (else every bar is evaluated).
    gated: bool,
    /// `params.margin` (default 0.004, rarely reached): the EMA gap that signals.
    margin: f64,
}

impl RustStrategy for TwoEma {
    fn evaluate(&self, s: &DataSlice<'_>, _cache: &IndicatorCache<'_>) -> Option<TradeSignal> {
        let (f, w) = (self.fast.get(s.index)?, self.slow.get(s.index)?);
        (f - w > self.margin).then(|| {
            TradeSignal::new(Direction::Long, s.ask.close, s.bid.low - 0.001, None, String::new(), vec![], None, None)
        })
    }
    fn manage_position(&self, p: &Position, s: &DataSlice<'_>) -> PositionAction {
        if s.timestamp_us - p.entry_time_us >= 3_600_000_000 {
            PositionAction::Close { reason: "timeout".into() }
        } else {
            PositionAction::Hold
        }
    }
    fn primary_timeframe(&self) -> Timeframe {
        Timeframe::M1
    }
    fn on_init(&mut self, config: &StrategyConfig) -> Result<(), StrategyError> {
        self.gated = config.params.get("gated").and_then(|v| v.as_bool()) == Some(true);
        self.margin = config.params.get("margin").and_then(|v| v.as_f64()).unwrap_or(0.004);
        Ok(())
    }
    fn prepare(&mut self, cache: &IndicatorCache<'_>) -> Result<(), StrategyError> {
        self.fast = cache.series(&IndicatorKey::ema(PriceSide::Bid, 10))?.to_vec();
        self.slow = cache.series(&IndicatorKey::ema(PriceSide::Bid, 50))?.to_vec();
        self.candidates = (0..self.fast.len()).filter(|&i| self.fast[i] - self.slow[i] > self.margin).collect();
        Ok(())
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities { manages_positions: true, next_candidate: self.gated }
    }
    fn next_candidate(&self, from: usize, _: &IndicatorCache<'_>) -> Option<usize> {
        self.candidates.get(self.candidates.partition_point(|&c| c < from)).copied()
    }
    fn name(&self) -> &str {
        "two_ema"
    }
}

fn market(n: usize) -> MarketData {
    let ts: Vec<i64> = (0..n as i64).map(|i| 1_704_232_800_000_000 + i * 60_000_000).collect();
    let c: Vec<f64> = (0..n).map(|i| 1.1 + 0.002 * ((i as f64) / 40.0).sin()).collect();
    let h: Vec<f64> = c.iter().map(|x| x + 0.0002).collect();
    let l: Vec<f64> = c.iter().map(|x| x - 0.0002).collect();
    let up = |v: &Vec<f64>| v.iter().map(|x| x + 0.0001).collect::<Vec<f64>>();
    let cols = [c.clone(), h.clone(), l.clone(), c.clone(), vec![1.0; n], up(&c), up(&h), up(&l), up(&c), vec![1.0; n]];
    MarketData::from_vecs("EURUSD", Timeframe::M1, ts, cols, false).expect("valid market")
}

fn bench(c: &mut Criterion) {
    let n = 10_000;
    let host = MarketHost::new(market(n), HtfAnchor::Utc);
    let cache = IndicatorCache::new(&host).expect("cache");
    let config = StrategyConfig::new("EURUSD", "M1");
    let mut direct = TwoEma::default();
    direct.on_init(&config).expect("init");
    direct.prepare(&cache).expect("prepare");
    let foreign = testing::create::<TwoEma>(&config, &host).expect("plugin instance");
    let slices: Vec<DataSlice<'_>> = (0..n).map(|i| host.market().slice(i)).collect();
    let position = Position {
        id: 1,
        symbol: "EURUSD".into(),
        direction: Direction::Long,
        entry_price: 1.1,
        entry_time_us: slices[0].timestamp_us,
        stop_loss: 1.09,
        take_profit: Some(1.11),
        lot_size: 1.0,
        pnl_pips: 0.0,
        pnl_usd: 0.0,
        bars_held: 5,
        entry_index: 0,
    };

    let mut g = c.benchmark_group("plugin_abi");
    let mut i = 0;
    g.bench_function("evaluate_direct", |b| {
        b.iter(|| {
            i = (i + 1) % n;
            std::hint::black_box(direct.evaluate(&slices[i], &cache))
        })
    });
    g.bench_function("evaluate_through_abi", |b| {
        b.iter(|| {
            i = (i + 1) % n;
            std::hint::black_box(foreign.evaluate(&slices[i], &cache))
        })
    });
    g.bench_function("manage_position_direct", |b| {
        b.iter(|| {
            i = (i + 1) % 30;
            std::hint::black_box(direct.manage_position(&position, &slices[i]))
        })
    });
    g.bench_function("manage_position_through_abi", |b| {
        b.iter(|| {
            i = (i + 1) % 30;
            std::hint::black_box(foreign.manage_position(&position, &slices[i]))
        })
    });
    g.finish();

    // Whole backtests through the table: per-bar calls vs the strategy's own gate.
    let n = 100_000;
    let host = MarketHost::new(market(n), HtfAnchor::Utc);
    let cache = IndicatorCache::new(&host).expect("cache");
    let mut per_bar = StrategyConfig::new("EURUSD", "M1");
    per_bar.params.insert("gated".into(), false.into());
    per_bar.params.insert("margin".into(), 0.0004.into());
    let mut gated = per_bar.clone();
    gated.params.insert("gated".into(), true.into());
    let every = testing::create::<TwoEma>(&per_bar, &host).expect("plugin instance");
    let ranged = testing::create::<TwoEma>(&gated, &host).expect("plugin instance");
    let a = run_backtest(&every, &cache, host.market(), &per_bar).expect("run");
    let b = run_backtest(&ranged, &cache, host.market(), &gated).expect("run");
    assert!(a.trades == b.trades && !a.trades.is_empty(), "same trades ({} vs {})", a.trades.len(), b.trades.len());
    let mut g = c.benchmark_group("plugin_abi_backtest_100k");
    g.sample_size(20);
    g.bench_function("every_bar", |bch| bch.iter(|| run_backtest(&every, &cache, host.market(), &per_bar)));
    g.bench_function("next_candidate", |bch| bch.iter(|| run_backtest(&ranged, &cache, host.market(), &gated)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
