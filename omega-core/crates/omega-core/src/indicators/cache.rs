//! The `IndicatorCache` a strategy reads: a thin façade over whoever owns the market and the
//! series (the core's `MarketHost` in-process, or the host table across the plugin ABI). The first
//! request of a key asks the host; later requests are answered from the façade's own memo, and the
//! returned slices are plain memory owned by the host, valid for the façade's lifetime `'h`.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::error::{Result, StrategyError};
use crate::indicators::key::IndicatorKey;
use crate::types::Timeframe;

/// Bars of one timeframe as borrowed columns. For the primary timeframe `visible` is `None`; for a
/// higher timeframe it has one entry per *primary* bar: the index of the latest HTF bar whose close
/// time is at or before that primary bar's close time, or −1 if none has closed yet.
#[derive(Clone, Copy, Debug)]
pub struct BarsRef<'a> {
    pub symbol: &'a str,
    pub timeframe: Timeframe,
    pub open_time_us: &'a [i64],
    pub close_time_us: &'a [i64],
    pub bid_open: &'a [f64],
    pub bid_high: &'a [f64],
    pub bid_low: &'a [f64],
    pub bid_close: &'a [f64],
    pub bid_volume: &'a [f64],
    pub ask_open: &'a [f64],
    pub ask_high: &'a [f64],
    pub ask_low: &'a [f64],
    pub ask_close: &'a [f64],
    pub ask_volume: &'a [f64],
    pub visible: Option<&'a [i64]>,
}

impl BarsRef<'_> {
    /// Number of bars.
    pub fn len(&self) -> usize {
        self.open_time_us.len()
    }

    /// True when there are no bars.
    pub fn is_empty(&self) -> bool {
        self.open_time_us.is_empty()
    }
}

/// Whoever owns market data and indicator series. Implemented by the core's `MarketHost` and, on
/// the plugin side, by the adapter over the C host table. Returned slices live as long as `self`.
pub trait IndicatorHost: Sync {
    /// Bars of `timeframe` (`None` = primary). A higher timeframe that cannot be built from the
    /// primary bars (shorter, or not a multiple) is an E4003 error.
    fn bars(&self, timeframe: Option<Timeframe>) -> Result<BarsRef<'_>>;

    /// The series named by `key`: one value per bar of `key.timeframe` (NaN while undefined).
    fn series(&self, key: &IndicatorKey) -> Result<&[f64]>;
}

/// Handle of a series registered with [`IndicatorCache::register`]: the façade's identity and an
/// index into its append-only memo, so a strategy can keep it across calls (unlike the
/// `&'h [f64]` itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SeriesId {
    facade: u64,
    at: usize,
}

/// Identity of the next façade (handles of one façade are not valid in another).
static NEXT_FACADE: AtomicU64 = AtomicU64::new(1);

/// Markets shorter than this compute [`IndicatorCache::prefetch`]'s series on the calling thread:
/// below it a series takes less time than starting a thread.
pub const PREFETCH_PARALLEL_MIN_BARS: usize = 65_536;

/// What one piece of prefetch work gave: a series (or its error), `None` for bars.
type Fetched<'h> = Option<Result<&'h [f64]>>;

/// One piece of [`IndicatorCache::prefetch`]'s work.
#[derive(Clone, Copy)]
enum Work<'k> {
    Series(&'k IndicatorKey),
    Bars(Timeframe),
}

impl Work<'_> {
    /// Do it on `host`: the series, or `None` for bars (built and kept by the host; an error is
    /// reported when the strategy asks for them).
    fn run<'h>(&self, host: &'h dyn IndicatorHost) -> Fetched<'h> {
        match *self {
            Work::Series(key) => Some(host.series(key)),
            Work::Bars(tf) => {
                let _ = host.bars(Some(tf));
                None
            }
        }
    }
}

/// What `evaluate` and `prepare` receive. Not `Sync`: one façade per strategy instance.
pub struct IndicatorCache<'h> {
    host: &'h dyn IndicatorHost,
    memo: RefCell<Vec<(IndicatorKey, &'h [f64])>>,
    primary: BarsRef<'h>,
    /// Identity stamped into this façade's `SeriesId`s.
    facade: u64,
}

impl<'h> IndicatorCache<'h> {
    /// A façade over `host`. Fails only if the host cannot give its primary bars.
    pub fn new(host: &'h dyn IndicatorHost) -> Result<Self> {
        let primary = host.bars(None)?;
        let facade = NEXT_FACADE.fetch_add(1, Ordering::Relaxed);
        Ok(IndicatorCache { host, memo: RefCell::new(Vec::new()), primary, facade })
    }

    /// Primary bars.
    pub fn bars(&self) -> BarsRef<'h> {
        self.primary
    }

    /// Number of primary bars.
    pub fn len(&self) -> usize {
        self.primary.len()
    }

    /// True when there are no primary bars.
    pub fn is_empty(&self) -> bool {
        self.primary.is_empty()
    }

    /// Bars of a higher timeframe with the visibility index. The primary timeframe itself is
    /// allowed and gives the primary bars with `visible[i] = i`.
    pub fn htf(&self, timeframe: Timeframe) -> Result<BarsRef<'h>> {
        self.host.bars(Some(timeframe))
    }

    /// The series named by `key`, computed by the host on first request and memoised here.
    /// Request keys in `prepare`: the per-bar cost of a repeated request is a short linear scan
    /// (use [`register`](Self::register) and [`get`](Self::get) for O(1) per-bar reads).
    pub fn series(&self, key: &IndicatorKey) -> Result<&'h [f64]> {
        if let Some((_, s)) = self.memo.borrow().iter().find(|(k, _)| k == key) {
            return Ok(s);
        }
        let s = self.host.series(key)?;
        self.memo.borrow_mut().push((*key, s));
        Ok(s)
    }

    /// Fetch (or find) the series named by `key` and give a handle for O(1) reads with
    /// [`get`](Self::get): resolve keys once in `prepare` and read per bar through the handle,
    /// with no key comparison. Handles stay valid for the façade's lifetime (the memo only grows).
    pub fn register(&self, key: &IndicatorKey) -> Result<SeriesId> {
        if let Some(at) = self.memo.borrow().iter().position(|(k, _)| k == key) {
            return Ok(SeriesId { facade: self.facade, at });
        }
        let s = self.host.series(key)?;
        let mut memo = self.memo.borrow_mut();
        memo.push((*key, s));
        Ok(SeriesId { facade: self.facade, at: memo.len() - 1 })
    }

    /// The series behind a handle from [`register`](Self::register) on this façade; `None` for
    /// a handle of another façade (read that one by key with [`series`](Self::series)).
    #[inline]
    pub fn get(&self, id: SeriesId) -> Option<&'h [f64]> {
        if id.facade != self.facade {
            return None;
        }
        self.memo.borrow().get(id.at).map(|(_, s)| *s)
    }

    /// Fetch every series of `keys` and build the bars of every timeframe of `timeframes` that the
    /// host does not have yet, on up to as many threads as the machine has cores when the market
    /// has at least [`PREFETCH_PARALLEL_MIN_BARS`] bars (the host computes each series once
    /// however many threads ask; results do not depend on the threads). Call it once in `prepare`
    /// with everything the strategy will read: independent series then compute side by side.
    ///
    /// Errors: the first failing key in `keys` order, as [`series`](Self::series) would give it.
    /// A timeframe that cannot be built is not an error here; [`htf`](Self::htf) reports it.
    pub fn prefetch(&self, keys: &[IndicatorKey], timeframes: &[Timeframe]) -> Result<()> {
        let mut todo: Vec<Work<'_>> = Vec::with_capacity(keys.len() + timeframes.len());
        {
            let memo = self.memo.borrow();
            for (i, key) in keys.iter().enumerate() {
                if !keys[..i].contains(key) && !memo.iter().any(|(k, _)| k == key) {
                    todo.push(Work::Series(key));
                }
            }
        }
        for (i, &tf) in timeframes.iter().enumerate() {
            if tf != self.primary.timeframe && !timeframes[..i].contains(&tf) {
                todo.push(Work::Bars(tf));
            }
        }
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(todo.len());
        let host = self.host;
        let mut got: Vec<Fetched<'h>> = Vec::with_capacity(todo.len());
        if threads < 2 || self.len() < PREFETCH_PARALLEL_MIN_BARS {
            got.extend(todo.iter().map(|w| w.run(host)));
        } else {
            got.resize_with(todo.len(), || None);
            // Workers take the next piece from a shared counter, so a long series does not hold
            // up the others; the calling thread is one of them.
            let next = AtomicUsize::new(0);
            let todo = &todo;
            // Each worker's results come back with the index it took; collect them in order.
            let next_ref = &next;
            let indexed = || {
                let mut done = Vec::new();
                loop {
                    let at = next_ref.fetch_add(1, Ordering::Relaxed);
                    let Some(w) = todo.get(at) else { break };
                    done.push((at, w.run(host)));
                }
                done
            };
            let parts: Vec<Vec<(usize, Fetched<'h>)>> = std::thread::scope(|scope| {
                let spawned: Vec<_> = (1..threads).map(|_| scope.spawn(indexed)).collect();
                let mut parts = vec![indexed()];
                // a panic in host code is caught inside the host; a worker that still panicked
                // leaves its pieces unfetched, and they are fetched again below
                parts.extend(spawned.into_iter().map(|h| h.join().unwrap_or_default()));
                parts
            });
            for (at, r) in parts.into_iter().flatten() {
                got[at] = r;
            }
        }
        let mut memo = self.memo.borrow_mut();
        for (w, r) in todo.iter().zip(got) {
            if let Work::Series(key) = w {
                let s = match r {
                    Some(r) => r?,
                    None => host.series(key)?,
                };
                memo.push((**key, s));
            }
        }
        Ok(())
    }

    /// Value of `key` at bar `i` of its timeframe, NaN when out of range or unavailable.
    pub fn value(&self, key: &IndicatorKey, i: usize) -> f64 {
        self.series(key).ok().and_then(|s| s.get(i).copied()).unwrap_or(f64::NAN)
    }

    /// Number of distinct series this façade has fetched from its host.
    pub fn fetched(&self) -> usize {
        self.memo.borrow().len()
    }
}

/// Convenience for strategies: error for a series that is required but missing.
pub fn indicator_missing(name: &str, reason: &str) -> StrategyError {
    StrategyError::IndicatorError { indicator: name.to_string(), reason: reason.to_string() }
}
