//! Shared helpers of the integration tests: generated markets, configs, and running MRZ over a
//! market either directly (in-process `MarketHost`) or through its plugin table.
#![allow(dead_code)]

use omega_core::config::HtfAnchor;
use omega_core::indicators::MarketHost;
use omega_core::market::MarketData;
use omega_core::{IndicatorCache, RustStrategy, StrategyConfig, Timeframe, TradeSignal};
use omega_strategies_zscore::MeanReversionZScore;

/// 2024-01-01 22:00 UTC (a Monday; an H4 and D1 boundary at 17:00 New York).
pub const START_US: i64 = 1_704_146_400_000_000;

/// SplitMix64 uniforms in [0, 1).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1_u64 << 53) as f64
    }

    /// Approximately standard normal (sum of 12 uniforms − 6).
    pub fn normal(&mut self) -> f64 {
        (0..12).map(|_| self.next()).sum::<f64>() - 6.0
    }
}

/// A market from bid OHLC rows; ask = bid + `spread` on every price.
pub fn market_from_bid(tf: Timeframe, start_us: i64, bid: &[(f64, f64, f64, f64)], spread: f64) -> MarketData {
    let n = bid.len();
    let ts: Vec<i64> = (0..n as i64).map(|i| start_us + i * tf.duration_us()).collect();
    let col = |f: fn(&(f64, f64, f64, f64)) -> f64, add: f64| bid.iter().map(|b| f(b) + add).collect::<Vec<f64>>();
    let cols = [
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
    ];
    MarketData::from_vecs("EURUSD", tf, ts, cols, false).expect("valid test market")
}

/// A mean-reverting market with occasional shocks, so that every scenario finds extremes.
pub fn reverting_market(tf: Timeframe, n: usize, seed: u64) -> MarketData {
    let mut rng = Rng::new(seed);
    let mut rows = Vec::with_capacity(n);
    let (mu, mut x) = (1.1_f64, 1.1_f64);
    let mut drift_mu = mu;
    for i in 0..n {
        if i % 500 == 0 {
            drift_mu = mu + (rng.next() - 0.5) * 0.02;
        }
        let open = x;
        let mut high = open;
        let mut low = open;
        for _ in 0..4 {
            let shock = if rng.next() < 0.01 { (rng.next() - 0.5) * 0.01 } else { 0.0 };
            x = x + 0.02 * (drift_mu - x) + 0.0006 * rng.normal() + shock;
            high = high.max(x);
            low = low.min(x);
        }
        rows.push((open, high + rng.next() * 0.0002, low - rng.next() * 0.0002, x));
    }
    market_from_bid(tf, START_US, &rows, 0.00015)
}

/// A config of `tf` with `params` (a JSON object); `enabled_scenarios` and `direction_filter`
/// given there are moved to the top level, where Omega keeps them.
pub fn config(tf: &str, params: serde_json::Value) -> StrategyConfig {
    let mut c = StrategyConfig::new("EURUSD", tf);
    c.params = params.as_object().cloned().unwrap_or_default();
    if let Some(v) = c.params.remove("enabled_scenarios") {
        c.enabled_scenarios = serde_json::from_value(v).expect("scenario numbers");
    }
    if let Some(v) = c.params.remove("direction_filter") {
        c.direction_filter = serde_json::from_value(v).expect("direction");
    }
    c
}

/// A host over `market` with H4/D1 anchored at 17:00 New York.
pub fn host(market: &MarketData) -> MarketHost {
    MarketHost::new(market.clone(), HtfAnchor::NewYork1700)
}

/// A ready strategy (on_init + prepare) over `host`.
pub fn strategy(cfg: &StrategyConfig, host: &MarketHost) -> MeanReversionZScore {
    let mut s = MeanReversionZScore::default();
    s.on_init(cfg).expect("on_init");
    let cache = IndicatorCache::new(host).expect("cache");
    s.prepare(&cache).expect("prepare");
    s
}

/// Every bar evaluated flat (no position, no gates), in-process.
pub fn signals(cfg: &StrategyConfig, host: &MarketHost) -> Vec<(usize, TradeSignal)> {
    let s = strategy(cfg, host);
    let cache = IndicatorCache::new(host).expect("cache");
    let out = (0..host.market().len())
        .filter_map(|i| s.evaluate(&host.market().slice(i), &cache).map(|sig| (i, sig)))
        .collect();
    assert!(s.take_error().is_none());
    out
}

/// The series of `key` on `host`.
pub fn series<'h>(host: &'h MarketHost, key: &omega_core::IndicatorKey) -> &'h [f64] {
    use omega_core::indicators::IndicatorHost;
    host.series(key).expect("series")
}

/// Signals of scenario `n`.
pub fn of_scenario(sigs: &[(usize, TradeSignal)], n: u32) -> Vec<(usize, TradeSignal)> {
    sigs.iter().filter(|(_, s)| s.parts().scenario == Some(n)).cloned().collect()
}

/// Whether a signal carries `tag`.
pub fn has_tag(s: &TradeSignal, tag: &str) -> bool {
    s.parts().tags.iter().any(|t| t == tag)
}

/// (bar, direction, entry, sl, tp) of each signal: what the engine executes.
pub fn levels(sigs: &[(usize, TradeSignal)]) -> Vec<(usize, &'static str, f64, f64, Option<f64>)> {
    sigs.iter()
        .map(|(i, s)| {
            let p = s.parts();
            (*i, s.direction(), p.entry_price, p.stop_loss, p.take_profit)
        })
        .collect()
}
