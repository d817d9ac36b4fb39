//! `MarketHost`: owns one market's primary bars and computes every indicator series and every
//! higher timeframe at most once, memoised for the host's lifetime. One host is shared by all runs
//! of a sweep across threads, so it is `Send + Sync`; memo entries are append-only (`elsa`'s
//! frozen map), which is what lets `series` hand out `&[f64]` tied to `&self` without `unsafe`.
//! Each key is computed exactly once however many threads ask at the same time: the first takes
//! the key's own lock ([`KeyLocks`]) and computes, the others wait on that lock and then read the
//! memo. Different keys compute in parallel; a derived key takes its parts' locks while holding its
//! own, which cannot deadlock because no key depends on itself.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use elsa::sync::FrozenMap;

use crate::config::HtfAnchor;
use crate::error::{Result, StrategyError};
use crate::indicators::cache::{BarsRef, IndicatorHost};
use crate::indicators::compute::{compute_with, describe};
use crate::indicators::key::IndicatorKey;
use crate::market::htf::{check_timeframe, resample, HtfBars};
use crate::market::MarketData;
use crate::types::Timeframe;

/// The in-process indicator host of one market.
pub struct MarketHost {
    market: MarketData,
    anchor: HtfAnchor,
    /// `timestamp_us + primary duration` per bar.
    close_time_us: Vec<i64>,
    /// `visible[i] = i`, for requests of the primary timeframe as an HTF (built on first use).
    identity: OnceLock<Vec<i64>>,
    htf: FrozenMap<Timeframe, Box<HtfBars>>,
    series: FrozenMap<IndicatorKey, Vec<f64>>,
    computing: KeyLocks,
    /// How many series computations ran (equals `computed_series` when nothing raced twice).
    computations: AtomicUsize,
}

/// One mutex per indicator key, created on first use: whoever holds a key's lock is the only one
/// computing that key.
#[derive(Default)]
pub(crate) struct KeyLocks {
    locks: Mutex<HashMap<IndicatorKey, Arc<Mutex<()>>>>,
}

impl KeyLocks {
    /// The lock of `key` (lock it with [`KeyLocks::hold`]).
    pub(crate) fn of(&self, key: &IndicatorKey) -> Arc<Mutex<()>> {
        let mut map = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(map.entry(*key).or_default())
    }

    /// Hold `lock`; a panic of an earlier holder does not poison the key (nothing was memoised).
    pub(crate) fn hold(lock: &Mutex<()>) -> std::sync::MutexGuard<'_, ()> {
        lock.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl MarketHost {
    /// A host over validated `market`; H4/D1 bins follow `anchor`.
    pub fn new(market: MarketData, anchor: HtfAnchor) -> Self {
        let dur = market.timeframe.duration_us();
        let close_time_us = market.timestamp_us.iter().map(|&t| t + dur).collect();
        MarketHost {
            market,
            anchor,
            close_time_us,
            identity: OnceLock::new(),
            htf: FrozenMap::new(),
            series: FrozenMap::new(),
            computing: KeyLocks::default(),
            computations: AtomicUsize::new(0),
        }
    }

    /// The primary bars.
    pub fn market(&self) -> &MarketData {
        &self.market
    }

    /// The anchor of H4/D1 resampling.
    pub fn anchor(&self) -> HtfAnchor {
        self.anchor
    }

    /// Close time (µs UTC) of every primary bar.
    pub fn close_time_us(&self) -> &[i64] {
        &self.close_time_us
    }

    /// Number of distinct series computed so far.
    pub fn computed_series(&self) -> usize {
        self.series.len()
    }

    /// Number of series computations run so far: each key is computed once, so this equals
    /// [`computed_series`](Self::computed_series) however many threads raced.
    pub fn computations(&self) -> usize {
        self.computations.load(Ordering::Relaxed)
    }

    /// Resampled bars of a timeframe longer than the primary one, built once (E4003 if it cannot
    /// be built from the primary bars).
    pub fn htf(&self, timeframe: Timeframe) -> Result<&HtfBars> {
        if let Some(h) = self.htf.get(&timeframe) {
            return Ok(h);
        }
        let bars = resample(&self.market, timeframe, self.anchor)?;
        Ok(self.htf.insert(timeframe, Box::new(bars)))
    }

    fn primary<'a>(&'a self, visible: Option<&'a [i64]>) -> BarsRef<'a> {
        let m = &self.market;
        BarsRef {
            symbol: &m.symbol,
            timeframe: m.timeframe,
            open_time_us: &m.timestamp_us,
            close_time_us: &self.close_time_us,
            bid_open: &m.bid_open,
            bid_high: &m.bid_high,
            bid_low: &m.bid_low,
            bid_close: &m.bid_close,
            bid_volume: &m.bid_volume,
            ask_open: &m.ask_open,
            ask_high: &m.ask_high,
            ask_low: &m.ask_low,
            ask_close: &m.ask_close,
            ask_volume: &m.ask_volume,
            visible,
        }
    }

    /// The key under which a series is memoised: the primary timeframe named explicitly is the
    /// same series as timeframe 0.
    pub(crate) fn canonical(&self, key: &IndicatorKey) -> IndicatorKey {
        let mut k = *key;
        if k.timeframe == self.market.timeframe.minutes() {
            k.timeframe = 0;
        }
        k
    }
}

impl IndicatorHost for MarketHost {
    fn bars(&self, timeframe: Option<Timeframe>) -> Result<BarsRef<'_>> {
        match timeframe {
            None => Ok(self.primary(None)),
            Some(tf) if tf == self.market.timeframe => {
                let identity = self.identity.get_or_init(|| (0..self.market.len() as i64).collect());
                Ok(self.primary(Some(identity)))
            }
            Some(tf) => {
                check_timeframe(self.market.timeframe, tf)?;
                Ok(self.htf(tf)?.as_bars(&self.market.symbol))
            }
        }
    }

    fn series(&self, key: &IndicatorKey) -> Result<&[f64]> {
        let key = self.canonical(key);
        if let Some(s) = self.series.get(&key) {
            return Ok(s);
        }
        let lock = self.computing.of(&key);
        let _only_me = KeyLocks::hold(&lock);
        // whoever held the lock before us may have computed it
        if let Some(s) = self.series.get(&key) {
            return Ok(s);
        }
        let bars = self.bars_of(&key)?;
        // sub-series (SMA and std of a band, EMA of a z-score, …) come from, and stay in, the memo
        let values = compute_with(&key, &bars, &mut |k| self.series(k).map(Cow::Borrowed))?;
        self.computations.fetch_add(1, Ordering::Relaxed);
        Ok(self.series.insert(key, values))
    }
}

impl MarketHost {
    /// The bars a (canonical) key is computed on; E4003 naming the key when its timeframe cannot
    /// be built.
    pub(crate) fn bars_of(&self, key: &IndicatorKey) -> Result<BarsRef<'_>> {
        match key.timeframe {
            0 => Ok(self.primary(None)),
            m => {
                let tf = Timeframe::from_minutes(m).ok_or_else(|| StrategyError::IndicatorError {
                    indicator: describe(key),
                    reason: format!("unknown timeframe of {m} minutes"),
                })?;
                self.bars(Some(tf))
                    .map_err(|e| StrategyError::IndicatorError { indicator: describe(key), reason: e.to_string() })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::key::PriceSide;
    use crate::indicators::{ema, IndicatorCache};

    fn market(tf: Timeframe, n: usize) -> MarketData {
        let ts: Vec<i64> = (0..n as i64).map(|k| 1_704_067_200_000_000 + k * tf.duration_us()).collect();
        let c: Vec<f64> = (0..n).map(|k| 1.1 + 0.001 * ((k * 7919 % 13) as f64)).collect();
        let h: Vec<f64> = c.iter().map(|v| v + 0.0005).collect();
        let l: Vec<f64> = c.iter().map(|v| v - 0.0005).collect();
        let up = |v: &Vec<f64>| v.iter().map(|x| x + 0.0002).collect::<Vec<f64>>();
        let vol = vec![1.0; n];
        let prices = [c.clone(), h.clone(), l.clone(), c.clone(), vol.clone(), up(&c), up(&h), up(&l), up(&c), vol];
        match MarketData::from_vecs("EURUSD", tf, ts, prices, false) {
            Ok(m) => m,
            Err(e) => panic!("test market invalid: {e}"),
        }
    }

    #[test]
    fn host_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<MarketHost>();
    }

    #[test]
    fn series_are_memoised() {
        let host = MarketHost::new(market(Timeframe::H1, 200), HtfAnchor::Utc);
        let key = IndicatorKey::ema(PriceSide::Bid, 10);
        let a = host.series(&key).unwrap();
        let b = host.series(&key).unwrap();
        assert!(std::ptr::eq(a, b));
        assert_eq!(host.computed_series(), 1);
        assert_eq!(a, ema::ema(&host.market().bid_close, 10).as_slice());
        // naming the primary timeframe explicitly is the same series
        let c = host.series(&key.on(Some(Timeframe::H1))).unwrap();
        assert!(std::ptr::eq(a, c));
        assert_eq!(host.computed_series(), 1);
        host.series(&IndicatorKey::ema(PriceSide::Ask, 10)).unwrap();
        assert_eq!(host.computed_series(), 2);
    }

    #[test]
    fn htf_series_use_htf_bars() {
        let host = MarketHost::new(market(Timeframe::H1, 500), HtfAnchor::NewYork1700);
        let d1 = host.bars(Some(Timeframe::D1)).unwrap();
        let again = host.bars(Some(Timeframe::D1)).unwrap();
        assert!(std::ptr::eq(d1.bid_close, again.bid_close));
        let vis = d1.visible.unwrap();
        assert_eq!(vis.len(), 500);
        let key = IndicatorKey::ema(PriceSide::Bid, 5).on(Some(Timeframe::D1));
        let s = host.series(&key).unwrap();
        assert_eq!(s.len(), d1.len());
        assert_eq!(s, ema::ema(d1.bid_close, 5).as_slice());
        assert_eq!(host.series(&IndicatorKey::close(PriceSide::Ask).on(Some(Timeframe::D1))).unwrap(), d1.ask_close);
        // primary as HTF: the primary bars with the identity index
        let p = host.bars(Some(Timeframe::H1)).unwrap();
        assert!(std::ptr::eq(p.bid_close, host.bars(None).unwrap().bid_close));
        assert_eq!(p.visible.unwrap()[499], 499);
        assert!(host.bars(None).unwrap().visible.is_none());
        assert_eq!(host.bars(None).unwrap().close_time_us[0], host.market().timestamp_us[0] + 3_600_000_000);
    }

    #[test]
    fn bad_keys_are_e4003_and_not_memoised() {
        let host = MarketHost::new(market(Timeframe::H1, 50), HtfAnchor::Utc);
        let e = host.series(&IndicatorKey::ema(PriceSide::Bid, 0)).unwrap_err();
        assert_eq!(e.code(), "E4003");
        let e = host.series(&IndicatorKey::ema(PriceSide::Bid, 3).on(Some(Timeframe::M15))).unwrap_err();
        assert_eq!(e.code(), "E4003");
        assert!(e.to_string().contains("Ema(bid, M15)"), "{e}");
        let mut k = IndicatorKey::ema(PriceSide::Bid, 3);
        k.timeframe = 7;
        assert_eq!(host.series(&k).unwrap_err().code(), "E4003");
        assert_eq!(host.bars(Some(Timeframe::M30)).unwrap_err().code(), "E4003");
        assert_eq!(host.computed_series(), 0);
    }

    #[test]
    fn shared_across_threads() {
        let host = MarketHost::new(market(Timeframe::M5, 5000), HtfAnchor::Utc);
        let keys = [
            IndicatorKey::ema(PriceSide::Bid, 20),
            IndicatorKey::zscore_ema(PriceSide::Bid, 20, 50),
            IndicatorKey::atr(PriceSide::Ask, 14).on(Some(Timeframe::H1)),
        ];
        let results: Vec<Vec<usize>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| keys.iter().map(|k| host.series(k).map_or(0, |v| v.as_ptr() as usize)).collect()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
        });
        // every thread got the one memoised slice of each key
        for r in &results {
            assert_eq!(r, &results[0]);
        }
        let settled: Vec<usize> = keys.iter().map(|k| host.series(k).map_or(0, |v| v.as_ptr() as usize)).collect();
        assert_eq!(host.computed_series(), 3);
        for r in &results {
            assert_eq!(r.len(), 3);
            assert!(r.iter().all(|&p| p != 0));
        }
        assert!(settled.iter().all(|&p| p != 0));
        assert_eq!(settled, results[0]);
        // however many threads raced, each key was computed exactly once
        assert_eq!(host.computations(), host.computed_series());
    }

    /// `prefetch` on a market large enough for threads: every key computed once, the same slices
    /// as sequential requests, handles and reads as after `series`, the first failing key's error.
    #[test]
    fn prefetch_computes_each_key_once_in_parallel() {
        use crate::indicators::cache::PREFETCH_PARALLEL_MIN_BARS;
        for n in [500, PREFETCH_PARALLEL_MIN_BARS + 10] {
            let host = MarketHost::new(market(Timeframe::M5, n), HtfAnchor::Utc);
            let keys = [
                IndicatorKey::zscore_ema(PriceSide::Bid, 20, 50),
                IndicatorKey::ema(PriceSide::Bid, 20),
                IndicatorKey::kalman_zscore(PriceSide::Bid, 30, 0.5, 0.1),
                IndicatorKey::atr(PriceSide::Ask, 14),
                IndicatorKey::bollinger_upper(PriceSide::Bid, 20, 2.0),
                IndicatorKey::ema(PriceSide::Bid, 20),
                IndicatorKey::ema(PriceSide::Bid, 9).on(Some(Timeframe::H1)),
            ];
            let cache = IndicatorCache::new(&host).unwrap();
            cache.series(&keys[3]).unwrap();
            cache.prefetch(&keys, &[Timeframe::H1, Timeframe::H4, Timeframe::M5, Timeframe::H1]).unwrap();
            assert_eq!(cache.fetched(), 6, "each distinct key once in the façade");
            // zscore_ema's EMA(20) is the EMA key itself; bollinger adds its SMA and std
            assert_eq!(host.computations(), host.computed_series());
            assert_eq!(host.computed_series(), 9);
            let reference = MarketHost::new(market(Timeframe::M5, n), HtfAnchor::Utc);
            for key in &keys {
                let got = cache.series(key).unwrap();
                assert!(std::ptr::eq(got, host.series(key).unwrap()));
                let want = reference.series(key).unwrap();
                assert_eq!(
                    got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    want.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
                );
            }
            assert!(cache.get(cache.register(&keys[2]).unwrap()).is_some());
            // the H1 and H4 bars were built by the prefetch
            assert_eq!(host.htf.len(), 2);
            let bad = [
                IndicatorKey::ema(PriceSide::Ask, 5),
                IndicatorKey::rolling_std(PriceSide::Bid, 1),
                IndicatorKey::ema(PriceSide::Bid, 0),
            ];
            let e = cache.prefetch(&bad, &[Timeframe::M15]).unwrap_err();
            assert_eq!(e.code(), "E4003");
            assert!(e.to_string().contains("RollingStd"), "the first failing key in order: {e}");
            assert!(cache.series(&bad[0]).is_ok());
        }
    }

    #[test]
    fn derived_series_share_their_parts_bit_for_bit() {
        let host = MarketHost::new(market(Timeframe::M5, 3000), HtfAnchor::Utc);
        let m = host.market();
        let close = m.bid_close.clone();
        let (_, up, lo) = crate::indicators::rolling::bollinger(&close, 20, 2.0);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<u64>>();
        let got_up = host.series(&IndicatorKey::bollinger_upper(PriceSide::Bid, 20, 2.0)).unwrap();
        let got_lo = host.series(&IndicatorKey::bollinger_lower(PriceSide::Bid, 20, 2.0)).unwrap();
        assert_eq!(bits(got_up), bits(&up));
        assert_eq!(bits(got_lo), bits(&lo));
        // upper, lower + their SMA and std
        assert_eq!(host.computed_series(), 4);
        let z = host.series(&IndicatorKey::zscore_ema(PriceSide::Bid, 10, 30)).unwrap();
        assert_eq!(bits(z), bits(&crate::indicators::zscore::ema_residual(&close, 10, 30)));
        assert!(host.series(&IndicatorKey::ema(PriceSide::Bid, 10)).is_ok());
        assert_eq!(host.computed_series(), 6);
        let kz = host.series(&IndicatorKey::kalman_zscore(PriceSide::Bid, 30, 0.5, 0.1)).unwrap();
        assert_eq!(bits(kz), bits(&crate::indicators::zscore::kalman(&close, 30, 0.5, 0.1)));
        let zs = host.series(&IndicatorKey::zscore_sma(PriceSide::Ask, 20)).unwrap();
        assert_eq!(bits(zs), bits(&crate::indicators::zscore::sma(&m.ask_close, 20)));
    }

    #[test]
    fn facade_over_host() {
        let host = MarketHost::new(market(Timeframe::H1, 100), HtfAnchor::Utc);
        let cache = IndicatorCache::new(&host).unwrap();
        let key = IndicatorKey::sma(PriceSide::Bid, 5);
        let s = cache.series(&key).unwrap();
        assert!(std::ptr::eq(s, host.series(&key).unwrap()));
        assert_eq!(cache.len(), 100);
        let h4 = cache.htf(Timeframe::H4).unwrap();
        assert_eq!(h4.len(), 25);
        let id = cache.register(&key).unwrap();
        assert!(cache.get(id).is_some_and(|g| std::ptr::eq(g, s)));
        let ema = IndicatorKey::ema(PriceSide::Ask, 3);
        let id2 = cache.register(&ema).unwrap();
        assert_ne!(id, id2);
        assert_eq!(cache.register(&ema).unwrap(), id2);
        assert!(cache.get(id2).is_some_and(|g| std::ptr::eq(g, cache.series(&ema).unwrap())));
        assert_eq!(cache.fetched(), 2);
        // a handle means nothing to another façade
        let other = IndicatorCache::new(&host).unwrap();
        assert!(other.get(id2).is_none());
        assert_ne!(other.register(&ema).unwrap(), id2);
    }
}
