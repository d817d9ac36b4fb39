//! Per-call cost of MRZ: `evaluate` with every scenario enabled vs scenario 1 only (spec §3.4), and
//! `manage_position`. Runs the strategy in-process over the core's `MarketHost` on a generated
//! random-walk market, so the numbers include the façade lookups but not the plugin boundary.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use omega_core::config::HtfAnchor;
use omega_core::indicators::MarketHost;
use omega_core::market::MarketData;
use omega_core::{Direction, IndicatorCache, Position, RustStrategy, StrategyConfig, Timeframe};
use omega_strategies_zscore::MeanReversionZScore;

/// A seeded random-walk M5 market of `n` bars (SplitMix64 increments).
fn market(n: usize) -> MarketData {
    let mut state = 0x5EED_u64;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1_u64 << 53) as f64
    };
    let start = 1_704_232_800_000_000_i64; // 2024-01-02 22:00 UTC
    let ts: Vec<i64> = (0..n as i64).map(|i| start + i * 300_000_000).collect();
    let mut price = 1.1_f64;
    let (mut o, mut h, mut l, mut c) = (vec![], vec![], vec![], vec![]);
    for _ in 0..n {
        let open = price;
        let close = open + (next() - 0.5) * 0.0008;
        let high = open.max(close) + next() * 0.0003;
        let low = open.min(close) - next() * 0.0003;
        o.push(open);
        h.push(high);
        l.push(low);
        c.push(close);
        price = close;
    }
    let spread = |v: &Vec<f64>| v.iter().map(|x| x + 0.00012).collect::<Vec<_>>();
    let cols = [
        o.clone(),
        h.clone(),
        l.clone(),
        c.clone(),
        vec![1.0; n],
        spread(&o),
        spread(&h),
        spread(&l),
        spread(&c),
        vec![1.0; n],
    ];
    MarketData::from_vecs("EURUSD", Timeframe::M5, ts, cols, false).expect("valid generated market")
}

fn config(params: serde_json::Value) -> StrategyConfig {
    let mut c = StrategyConfig::new("EURUSD", "M5");
    c.params = params.as_object().cloned().unwrap_or_default();
    c
}

fn bench(c: &mut Criterion) {
    let n = 20_000;
    let host = MarketHost::new(market(n), HtfAnchor::NewYork1700);
    let cache = IndicatorCache::new(&host).expect("cache");
    let all = config(serde_json::json!({
        "z_score_long": -1.0, "z_score_short": 1.0, "std_factor": 1.0, "tp_min_distance": 0.0,
        "local_z_lookback": 300, "garch_min_periods": 50, "intraday_vol_cluster_window": 150,
        "intraday_vol_garch_lookback": 300, "scenario6_timeframes": ["M15", "H1"], "window_length": 60,
        "b_b_length": 20, "enabled_scenarios": [1, 2, 3, 4, 5, 6]
    }));
    let s1 = config(serde_json::json!({"enabled_scenarios": [1], "window_length": 60}));
    let mut group = c.benchmark_group("mrz");
    for (label, cfg) in [("evaluate_all_scenarios", &all), ("evaluate_s1_only", &s1)] {
        let mut s = MeanReversionZScore::default();
        s.on_init(cfg).expect("init");
        s.prepare(&cache).expect("prepare");
        let slices: Vec<_> = (0..n).map(|i| host.market().slice(i)).collect();
        let mut i = 0;
        group.bench_function(label, |b| {
            b.iter(|| {
                i = (i + 1) % n;
                std::hint::black_box(s.evaluate(&slices[i], &cache))
            })
        });
    }
    let mut s = MeanReversionZScore::default();
    s.on_init(&all).expect("init");
    let position = Position {
        id: 1,
        symbol: "EURUSD".into(),
        direction: Direction::Long,
        entry_price: 1.1,
        entry_time_us: host.market().timestamp_us[0],
        stop_loss: 1.09,
        take_profit: Some(1.11),
        lot_size: 1.0,
        pnl_pips: 0.0,
        pnl_usd: 0.0,
        bars_held: 3,
        entry_index: 0,
    };
    let slice = host.market().slice(3);
    group.bench_function("manage_position", |b| {
        b.iter_batched(|| (), |_| std::hint::black_box(s.manage_position(&position, &slice)), BatchSize::SmallInput)
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
