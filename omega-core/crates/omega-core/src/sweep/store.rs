//! The series store of one sweep: every indicator series the sweep's configs read, computed once
//! and shared by all worker threads, under a byte budget.
//!
//! A series is computed by the first thread that asks for it, under that key's own lock; every other
//! thread asking meanwhile waits on the lock and then shares the result (`Arc`). When the store holds
//! more than its budget, it drops series that no pending (not yet started) config names; a running
//! config keeps the series it uses alive through its [`RunHost`] until it ends. Series a pending
//! config names are never dropped, so a config's series are computed once per sweep; only a
//! series no pending config names (a sub-series, or one first asked for inside `evaluate`) may
//! be computed again after it was dropped.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use elsa::FrozenVec;

use crate::error::Result;
use crate::indicators::compute::compute_with;
use crate::indicators::{BarsRef, IndicatorHost, IndicatorKey, MarketHost};
use crate::types::Timeframe;

/// A computed series, shared by the store and the runs reading it.
pub type Series = Arc<[f64]>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // a panicking holder never leaves a half-written value behind (values are set in one store)
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One key's place in the store; `None` until computed.
#[derive(Default)]
struct Slot {
    value: Mutex<Option<Series>>,
}

/// Counters of one sweep's store.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Series computations run (each named key once, plus recomputations after eviction).
    pub computations: usize,
    /// Series dropped to stay under the budget.
    pub evictions: usize,
    /// Largest number of bytes the store held at once.
    pub peak_bytes: usize,
}

/// The shared store of one sweep over one market.
pub struct SweepStore<'h> {
    host: &'h MarketHost,
    slots: Mutex<HashMap<IndicatorKey, Arc<Slot>>>,
    /// Per key named by some config: how many configs naming it have not started yet.
    pending: HashMap<IndicatorKey, AtomicUsize>,
    budget: usize,
    bytes: AtomicUsize,
    peak: AtomicUsize,
    computations: AtomicUsize,
    evictions: AtomicUsize,
}

impl<'h> SweepStore<'h> {
    /// A store over `host` keeping at most `budget` bytes of series that no pending config needs;
    /// `pending` counts, per key, the configs that will read it.
    pub fn new(host: &'h MarketHost, budget: usize, pending: HashMap<IndicatorKey, usize>) -> Self {
        let pending = pending.into_iter().map(|(k, n)| (host.canonical(&k), AtomicUsize::new(n))).collect();
        SweepStore {
            host,
            slots: Mutex::new(HashMap::new()),
            pending,
            budget,
            bytes: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            computations: AtomicUsize::new(0),
            evictions: AtomicUsize::new(0),
        }
    }

    /// The market host the series are computed on.
    pub fn host(&self) -> &'h MarketHost {
        self.host
    }

    /// Counters so far.
    pub fn stats(&self) -> StoreStats {
        StoreStats {
            computations: self.computations.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
            peak_bytes: self.peak.load(Ordering::Relaxed),
        }
    }

    /// Bytes held now.
    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    /// The series named by `key`, computed on first request (E4003 for a bad key, not stored).
    pub fn get(&self, key: &IndicatorKey) -> Result<Series> {
        let key = self.host.canonical(key);
        let slot = Arc::clone(lock(&self.slots).entry(key).or_default());
        let mut value = lock(&slot.value);
        if let Some(s) = value.as_ref() {
            return Ok(Arc::clone(s));
        }
        let bars = self.host.bars_of(&key)?;
        // parts of a derived series (a band's SMA and std, …) come from the store too; `parts`
        // keeps them alive while they are borrowed by the computation
        let parts: FrozenVec<Series> = FrozenVec::new();
        let computed = compute_with(&key, &bars, &mut |k| Ok(Cow::Borrowed(parts.push_get(self.get(k)?))))?;
        let series: Series = computed.into();
        self.computations.fetch_add(1, Ordering::Relaxed);
        let now = self.bytes.fetch_add(size_of_val(&*series), Ordering::Relaxed) + size_of_val(&*series);
        self.peak.fetch_max(now, Ordering::Relaxed);
        *value = Some(Arc::clone(&series));
        drop(value);
        self.trim();
        Ok(series)
    }

    /// A config naming `keys` has started: they are pending for one config fewer.
    pub fn started(&self, keys: &[IndicatorKey]) {
        for key in keys {
            if let Some(n) = self.pending.get(&self.host.canonical(key)) {
                // saturating: a key named twice by one config was counted once
                let _ = n.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| v.checked_sub(1));
            }
        }
    }

    /// While over budget, drop computed series that no pending config names. Runs holding them
    /// keep their copy; a slot being computed right now is skipped (`try_lock`), which also keeps
    /// this from waiting on a thread that is itself waiting for the slot map.
    pub fn trim(&self) {
        if self.bytes() <= self.budget {
            return;
        }
        let mut slots = lock(&self.slots);
        slots.retain(|key, slot| {
            if self.bytes() <= self.budget {
                return true;
            }
            if self.pending.get(key).is_some_and(|n| n.load(Ordering::Relaxed) > 0) {
                return true;
            }
            let Ok(value) = slot.value.try_lock() else { return true };
            match value.as_ref() {
                Some(s) => {
                    self.bytes.fetch_sub(size_of_val(&**s), Ordering::Relaxed);
                    self.evictions.fetch_add(1, Ordering::Relaxed);
                    false
                }
                None => true,
            }
        });
    }
}

/// The indicator host one run of a sweep reads: series come from the shared store and are pinned
/// here for the run's lifetime, which is what lets `series` hand out plain slices while the store
/// may drop its own copy.
pub struct RunHost<'s, 'h> {
    store: &'s SweepStore<'h>,
    pinned: elsa::sync::FrozenMap<IndicatorKey, Series>,
}

impl<'s, 'h> RunHost<'s, 'h> {
    /// A host for one run over `store`.
    pub fn new(store: &'s SweepStore<'h>) -> Self {
        RunHost { store, pinned: elsa::sync::FrozenMap::new() }
    }
}

impl IndicatorHost for RunHost<'_, '_> {
    fn bars(&self, timeframe: Option<Timeframe>) -> Result<BarsRef<'_>> {
        self.store.host.bars(timeframe)
    }

    fn series(&self, key: &IndicatorKey) -> Result<&[f64]> {
        if let Some(s) = self.pinned.get(key) {
            return Ok(s);
        }
        let s = self.store.get(key)?;
        Ok(self.pinned.insert(*key, s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::HtfAnchor;
    use crate::indicators::PriceSide;
    use crate::sweep::tests::market;

    #[test]
    fn each_key_once_across_threads() {
        let host = MarketHost::new(market(20_000), HtfAnchor::Utc);
        let store = SweepStore::new(&host, usize::MAX, HashMap::new());
        let keys = [
            IndicatorKey::bollinger_upper(PriceSide::Bid, 20, 2.0),
            IndicatorKey::bollinger_lower(PriceSide::Bid, 20, 2.0),
            IndicatorKey::sma(PriceSide::Bid, 20),
            IndicatorKey::atr(PriceSide::Ask, 14),
        ];
        let ptrs: Vec<Vec<usize>> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..8)
                .map(|_| s.spawn(|| keys.iter().map(|k| store.get(k).map_or(0, |v| v.as_ptr() as usize)).collect()))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap_or_default()).collect()
        });
        for p in &ptrs {
            assert_eq!(p, &ptrs[0]);
            assert!(p.iter().all(|&x| x != 0));
        }
        // upper, lower, their SMA (also asked directly) and std, the ATR: five computations
        assert_eq!(store.stats().computations, 5);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<u64>>();
        let direct = host.series(&keys[0]).unwrap();
        assert_eq!(bits(&store.get(&keys[0]).unwrap()), bits(direct));
    }

    #[test]
    fn evicts_only_what_no_pending_config_needs() {
        let host = MarketHost::new(market(10_000), HtfAnchor::Utc);
        let a = IndicatorKey::ema(PriceSide::Bid, 10);
        let b = IndicatorKey::ema(PriceSide::Bid, 20);
        let one = 10_000 * 8;
        let store = SweepStore::new(&host, one, HashMap::from([(a, 1), (b, 1)]));
        let run = RunHost::new(&store);
        let sa = run.series(&a).unwrap().as_ptr();
        run.series(&b).unwrap();
        // both pending: over budget but nothing may go
        assert_eq!(store.bytes(), 2 * one);
        assert_eq!(store.stats().evictions, 0);
        store.started(&[a]);
        store.trim();
        assert_eq!(store.bytes(), one);
        assert_eq!(store.stats().evictions, 1);
        // the run still reads its pinned copy
        assert_eq!(run.series(&a).unwrap().as_ptr(), sa);
        assert_eq!(store.stats().peak_bytes, 2 * one);
    }
}
