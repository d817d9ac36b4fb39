//! The signal scan: `evaluate` on every bar as if flat — no open position, no cooldown running, no
//! session gate — and one row per bar that signals. The session window is reported per row
//! (`session_ok`) instead of applied, so a study can filter or compare. Like a backtest it is one
//! native pass over the bars; it allocates only for bars that signal.

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::config::StrategyConfig;
use crate::error::Result;
use crate::indicators::IndicatorCache;
use crate::market::MarketData;
use crate::strategy::RustStrategy;
use crate::types::{Direction, TradeSignal};

use super::gates::{in_sessions, minute_of_day_utc};
use super::{candidate, check_inputs, invalid_signal, panic_error, Columns};

/// One signalling bar.
#[derive(Clone, Debug, PartialEq)]
pub struct ScanRow {
    pub index: usize,
    /// Bar open time (µs UTC).
    pub timestamp_us: i64,
    pub direction: Direction,
    pub scenario: Option<u32>,
    pub entry_price: f64,
    pub stop_loss: f64,
    pub take_profit: Option<f64>,
    pub reason: String,
    pub tags: Vec<String>,
    /// The signal's numeric meta, sorted by key (deterministic).
    pub meta: Vec<(String, f64)>,
    /// Whether the config's session windows allow an entry on this bar (bar close time, UTC).
    pub session_ok: bool,
}

/// Scan `market` with an initialised and prepared `strategy`.
///
/// Bars before `engine.start_time_us` are not evaluated (indicators still use them). Errors:
/// E4002 (config, timeframe mismatch), E4004 (empty market), E4006 (non-finite signal values),
/// errors the strategy reports through `take_error`, E4008 for an in-process panic.
pub fn scan_signals(
    strategy: &dyn RustStrategy,
    cache: &IndicatorCache<'_>,
    market: &MarketData,
    config: &StrategyConfig,
) -> Result<Vec<ScanRow>> {
    check_inputs(market, config)?;
    match catch_unwind(AssertUnwindSafe(|| scan_loop(strategy, cache, market, config))) {
        Ok(r) => r,
        Err(payload) => Err(panic_error(strategy, payload)),
    }
}

fn scan_loop(
    strategy: &dyn RustStrategy,
    cache: &IndicatorCache<'_>,
    market: &MarketData,
    config: &StrategyConfig,
) -> Result<Vec<ScanRow>> {
    let n = market.len();
    let tf = market.timeframe;
    let tf_us = tf.duration_us();
    let sessions = config.engine.session_windows()?;
    let start = config.engine.start_time_us;
    let symbol = config.symbol.as_str();
    let cols = Columns::new(market, n);
    let mut rows = Vec::new();
    let caps = strategy.capabilities();
    let mut next_eval = 0_usize;
    for i in 0..n {
        crate::interrupt::check_bar(i)?;
        let t = cols.ts[i];
        if start.is_some_and(|s| t < s) {
            continue;
        }
        if i < next_eval || !candidate(strategy, cache, caps, i, &mut next_eval)? {
            continue;
        }
        let slice = cols.slice(symbol, tf, i);
        let signal = strategy.evaluate(&slice, cache);
        if let Some(err) = strategy.take_error() {
            return Err(err);
        }
        let Some(signal) = signal else { continue };
        let direction = signal.parts().direction;
        // Take the signal apart by value: its strings move into the row without a copy.
        let (TradeSignal::Long { entry_price, stop_loss, take_profit, reason, tags, scenario, meta }
        | TradeSignal::Short { entry_price, stop_loss, take_profit, reason, tags, scenario, meta }) = signal;
        if !(entry_price.is_finite() && stop_loss.is_finite() && take_profit.map_or(true, f64::is_finite)) {
            return Err(invalid_signal(
                strategy,
                i,
                format!("non-finite signal (entry {entry_price}, sl {stop_loss}, tp {take_profit:?})"),
            ));
        }
        let mut meta: Vec<(String, f64)> = meta.map(|m| m.into_iter().collect()).unwrap_or_default();
        meta.sort_by(|a, b| a.0.cmp(&b.0));
        rows.push(ScanRow {
            index: i,
            timestamp_us: t,
            direction,
            scenario,
            entry_price,
            stop_loss,
            take_profit,
            reason,
            tags,
            meta,
            session_ok: in_sessions(&sessions, minute_of_day_utc(t + tf_us)),
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::MarketHost;
    use crate::types::{DataSlice, Position, PositionAction, Timeframe};
    use std::collections::HashMap;

    /// Signals long on every third bar, with meta; never manages.
    #[derive(Default)]
    struct EveryThird;

    impl RustStrategy for EveryThird {
        fn evaluate(&self, s: &DataSlice<'_>, _c: &IndicatorCache<'_>) -> Option<TradeSignal> {
            (s.index % 3 == 0).then(|| {
                let meta = HashMap::from([("z".to_string(), s.index as f64), ("a".to_string(), 1.0)]);
                TradeSignal::new(
                    Direction::Long,
                    s.ask.close,
                    s.bid.low - 0.001,
                    Some(s.ask.close + 0.002),
                    "third".into(),
                    vec!["t".into()],
                    Some(1),
                    Some(meta),
                )
            })
        }
        fn manage_position(&self, _p: &Position, _s: &DataSlice<'_>) -> PositionAction {
            PositionAction::Hold
        }
        fn primary_timeframe(&self) -> Timeframe {
            Timeframe::H1
        }
        fn name(&self) -> &str {
            "every_third"
        }
    }

    fn market(n: usize) -> MarketData {
        let ts: Vec<i64> = (0..n as i64).map(|i| i * 3_600_000_000).collect();
        let c: Vec<f64> = (0..n).map(|i| 1.1 + (i as f64) * 1e-4).collect();
        let h: Vec<f64> = c.iter().map(|x| x + 5e-4).collect();
        let l: Vec<f64> = c.iter().map(|x| x - 5e-4).collect();
        let up = |v: &Vec<f64>| v.iter().map(|x| x + 1e-4).collect::<Vec<f64>>();
        let prices =
            [c.clone(), h.clone(), l.clone(), c.clone(), vec![1.0; n], up(&c), up(&h), up(&l), up(&c), vec![1.0; n]];
        MarketData::from_vecs("EURUSD", Timeframe::H1, ts, prices, false).expect("valid market")
    }

    #[test]
    fn scans_every_bar_and_reports_sessions() {
        let host = MarketHost::new(market(48), crate::config::HtfAnchor::Utc);
        let cache = IndicatorCache::new(&host).expect("cache");
        let mut cfg = StrategyConfig::new("EURUSD", "H1");
        // bar i closes at (i+1):00 UTC; allow closes 02:00..=04:00
        cfg.engine.sessions = vec![("02:00".into(), "04:00".into())];
        let rows = scan_signals(&EveryThird, &cache, host.market(), &cfg).expect("scan");
        assert_eq!(rows.len(), 16);
        assert_eq!(rows.iter().map(|r| r.index).take(3).collect::<Vec<_>>(), vec![0, 3, 6]);
        assert_eq!(rows[1].meta, vec![("a".to_string(), 1.0), ("z".to_string(), 3.0)]);
        assert!(rows[1].session_ok); // bar 3 closes 04:00
        assert!(!rows[0].session_ok); // bar 0 closes 01:00
        cfg.engine.start_time_us = Some(10 * 3_600_000_000);
        let rows = scan_signals(&EveryThird, &cache, host.market(), &cfg).expect("scan");
        assert_eq!(rows[0].index, 12);
    }
}
