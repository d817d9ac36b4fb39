//! Planning a sweep: which series each config reads, and the order that runs configs sharing
//! series next to each other.
//!
//! A config's series are learned by creating its strategy over a [`ProbeHost`]: strategies request
//! their series in `prepare` (docs/writing-a-strategy.md), and the probe records each key and
//! answers with NaN (no computation). Creating the strategy also runs its `on_init`, so a config
//! the strategy rejects fails the sweep before any run starts.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::error::{Result, StrategyError};
use crate::indicators::compute::describe;
use crate::indicators::{BarsRef, IndicatorHost, IndicatorKey, MarketHost};
use crate::types::Timeframe;

/// An indicator host that records the keys asked for and answers each with NaN.
pub struct ProbeHost<'a> {
    host: &'a MarketHost,
    nan: &'a [f64],
    keys: Mutex<Vec<IndicatorKey>>,
}

impl<'a> ProbeHost<'a> {
    /// A probe over `host`'s bars; `nan` must hold at least as many NaNs as the market has bars.
    pub fn new(host: &'a MarketHost, nan: &'a [f64]) -> Self {
        ProbeHost { host, nan, keys: Mutex::new(Vec::new()) }
    }

    /// The distinct keys asked for, in canonical form and first-request order.
    pub fn into_keys(self) -> Vec<IndicatorKey> {
        self.keys.into_inner().unwrap_or_else(|p| p.into_inner())
    }
}

impl IndicatorHost for ProbeHost<'_> {
    fn bars(&self, timeframe: Option<Timeframe>) -> Result<BarsRef<'_>> {
        self.host.bars(timeframe)
    }

    fn series(&self, key: &IndicatorKey) -> Result<&[f64]> {
        let key = self.host.canonical(key);
        if key.kind().is_none() || key.side().is_none() {
            return Err(StrategyError::IndicatorError {
                indicator: describe(&key),
                reason: "unknown indicator kind or price side".to_string(),
            });
        }
        let len = self.host.bars_of(&key)?.len();
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        if !keys.contains(&key) {
            keys.push(key);
        }
        Ok(&self.nan[..len.min(self.nan.len())])
    }
}

/// The run order of a sweep and what each config needs.
#[derive(Debug)]
pub struct Plan {
    /// Config indices in run order.
    pub order: Vec<usize>,
    /// Per config (by index): the keys it reads.
    pub needs: Vec<Vec<IndicatorKey>>,
    /// Per key: how many configs read it.
    pub readers: HashMap<IndicatorKey, usize>,
}

impl Plan {
    /// Order configs by the set of series they read (each set as the sorted ids of its keys, ids
    /// in first-seen order), stable otherwise: configs with the same series run back to back, and
    /// sets sharing their first keys run close together.
    pub fn new(needs: Vec<Vec<IndicatorKey>>) -> Self {
        let mut ids: HashMap<IndicatorKey, usize> = HashMap::new();
        let mut readers: HashMap<IndicatorKey, usize> = HashMap::new();
        let signatures: Vec<Vec<usize>> = needs
            .iter()
            .map(|keys| {
                let mut sig: Vec<usize> = keys
                    .iter()
                    .map(|k| {
                        let next = ids.len();
                        *ids.entry(*k).or_insert(next)
                    })
                    .collect();
                sig.sort_unstable();
                sig.dedup();
                sig
            })
            .collect();
        for keys in &needs {
            let mut seen: Vec<&IndicatorKey> = Vec::with_capacity(keys.len());
            for k in keys {
                if !seen.contains(&k) {
                    seen.push(k);
                    *readers.entry(*k).or_insert(0) += 1;
                }
            }
        }
        let mut order: Vec<usize> = (0..needs.len()).collect();
        order.sort_by(|&a, &b| signatures[a].cmp(&signatures[b]));
        Plan { order, needs, readers }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::PriceSide;

    #[test]
    fn configs_sharing_series_are_adjacent() {
        let e = |n| IndicatorKey::ema(PriceSide::Bid, n);
        let a = IndicatorKey::atr(PriceSide::Bid, 14);
        let plan = Plan::new(vec![vec![e(10), a], vec![e(20), a], vec![e(10), a], vec![e(20), a], vec![a, e(10)]]);
        assert_eq!(plan.order, vec![0, 2, 4, 1, 3]);
        assert_eq!(plan.readers[&a], 5);
        assert_eq!(plan.readers[&e(10)], 3);
    }
}
