//! Sweeps: many configs of one strategy over one market, on a thread pool, sharing one series
//! store (docs/sweeps.md).
//!
//! [`run_sweep`] plans (probes every config: validation and the series it reads), orders configs so
//! that those reading the same series run together, then lets `threads` workers of a rayon pool
//! take configs in that order. Every series is computed once, by whichever worker needs it first
//! ([`store::SweepStore`]). Progress and cancellation go through a [`SweepControl`] that another
//! thread may read and set while the sweep runs; a cancel stops configs that have not started and,
//! through the interrupt check (`crate::interrupt`), the running ones mid-run.
//!
//! Enabled by the `sweep` feature (rayon), which only the core wheel turns on.

pub mod plan;
pub mod store;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

use crate::config::StrategyConfig;
use crate::engine::{run_backtest_with_rates, EngineResult, TradeRecord};
use crate::error::{Result, StrategyError};
use crate::indicators::{IndicatorCache, IndicatorHost, MarketHost};
use crate::market::MarketData;
use crate::plugin::{ForeignStrategy, PluginHandle};

pub use plan::{Plan, ProbeHost};
pub use store::{RunHost, StoreStats, SweepStore};

/// Default byte budget of a sweep's series store: 1 GiB (docs/sweeps.md "Memory").
pub const DEFAULT_CACHE_BYTES: usize = 1 << 30;

/// How a sweep runs.
#[derive(Clone, Copy, Debug)]
pub struct SweepOptions {
    /// Worker threads; 0 = one per core.
    pub threads: usize,
    /// Byte budget of the series store (series no pending config needs are dropped above it).
    pub cache_bytes: usize,
    /// Keep each config's closed trades (otherwise only metrics).
    pub keep_trades: bool,
}

impl Default for SweepOptions {
    fn default() -> Self {
        SweepOptions { threads: 0, cache_bytes: DEFAULT_CACHE_BYTES, keep_trades: false }
    }
}

/// Progress and cancellation of a running sweep, shared with whoever watches it.
#[derive(Debug, Default)]
pub struct SweepControl {
    done: AtomicUsize,
    // shared with the workers' interrupt checks, which must own what they read
    cancel: Arc<AtomicBool>,
}

impl SweepControl {
    /// Configs finished so far (run to their end, or failed with their own error; not those a
    /// cancel stopped).
    pub fn done(&self) -> usize {
        self.done.load(Ordering::Relaxed)
    }

    /// Ask the sweep to stop: no config starts after this, and running ones stop at their next
    /// interrupt check (`crate::interrupt`: every few hundred bars, before each series).
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// True once [`cancel`](Self::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// Run `work` on this thread with [`cancel`](Self::cancel) as its interrupt check.
    fn interruptible<R>(&self, work: impl FnOnce() -> R) -> R {
        let cancel = Arc::clone(&self.cancel);
        crate::interrupt::scope(move || cancel.load(Ordering::Relaxed), work)
    }
}

/// What a sweep keeps of one config's backtest.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigOutcome {
    /// The run's metrics (docs/engine.md "Metrics").
    pub metrics: BTreeMap<String, f64>,
    /// Closed trades (empty unless [`SweepOptions::keep_trades`]).
    pub trades: Vec<TradeRecord>,
}

/// Counters of a finished sweep.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SweepStats {
    /// Worker threads used.
    pub threads: usize,
    /// Distinct series the configs read.
    pub distinct_series: usize,
    /// The store's counters.
    pub store: StoreStats,
}

/// The result of [`run_sweep`]: one outcome per config, in the configs' order.
#[derive(Debug)]
pub struct SweepOutput {
    pub outcomes: Vec<ConfigOutcome>,
    /// The order the configs were started in (indices).
    pub order: Vec<usize>,
    pub stats: SweepStats,
}

/// Why a sweep stopped without a result.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// [`SweepControl::cancel`] was called.
    #[error("sweep cancelled")]
    Cancelled,
    /// A config failed (the lowest index among the failures seen).
    #[error("config {index}: {source}")]
    Config {
        index: usize,
        #[source]
        source: StrategyError,
    },
    /// The thread pool could not be built.
    #[error("cannot start the sweep's thread pool: {0}")]
    Pool(String),
}

/// What a sweep does with each config: the strategy-specific part (how a strategy is created and
/// run), so that the sweep itself serves in-process and plugin strategies alike.
pub trait SweepJob: Sync {
    /// Create (and so `on_init` + `prepare`) and release the strategy of `config` over `host`.
    fn probe(&self, config: &StrategyConfig, host: &dyn IndicatorHost) -> Result<()>;

    /// Run the whole backtest of `config` reading its series from `host`.
    fn run(&self, config: &StrategyConfig, host: &dyn IndicatorHost) -> Result<EngineResult>;
}

/// The [`SweepJob`] of a plugin strategy (or an in-process one behind its plugin table): create
/// through the table, run with the core's engine, destroy (reporting a failing `on_deinit`).
pub struct PluginJob<'a> {
    pub plugin: &'a Arc<PluginHandle>,
    pub market: &'a MarketData,
    /// Conversion bars for every config (as for [`run_backtest_with_rates`]); usually empty.
    pub rates: &'a [MarketData],
}

impl SweepJob for PluginJob<'_> {
    fn probe(&self, config: &StrategyConfig, host: &dyn IndicatorHost) -> Result<()> {
        ForeignStrategy::create(self.plugin, config, host)?.close()
    }

    fn run(&self, config: &StrategyConfig, host: &dyn IndicatorHost) -> Result<EngineResult> {
        let strategy = ForeignStrategy::create(self.plugin, config, host)?;
        let cache = IndicatorCache::new(host)?;
        let result = run_backtest_with_rates(&strategy, &cache, self.market, config, self.rates);
        let closed = strategy.close();
        let result = result?;
        closed?;
        Ok(result)
    }
}

fn pool(threads: usize) -> std::result::Result<rayon::ThreadPool, SweepError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("omega-sweep-{i}"))
        .build()
        .map_err(|e| SweepError::Pool(e.to_string()))
}

/// Worker threads for `opts` and `n` configs: the requested count (0 = one per core), at most one
/// per config.
pub fn thread_count(opts: &SweepOptions, n: usize) -> usize {
    let wanted = match opts.threads {
        0 => std::thread::available_parallelism().map_or(1, |c| c.get()),
        t => t,
    };
    wanted.clamp(1, n.max(1))
}

/// Run every config of `configs` over `host` with `job` (module docs). The configs must all match
/// the host's market (the caller checks). Deterministic: each outcome depends only on its config
/// and the market, whatever the thread count and order.
pub fn run_sweep(
    host: &MarketHost,
    configs: &[StrategyConfig],
    job: &dyn SweepJob,
    opts: &SweepOptions,
    control: &SweepControl,
) -> std::result::Result<SweepOutput, SweepError> {
    let n = configs.len();
    let threads = thread_count(opts, n);
    let pool = pool(threads)?;

    // 1. plan: probe every config (rejects bad ones before any run)
    let nan = vec![f64::NAN; host.market().len()];
    let probed: Vec<Result<Vec<crate::indicators::IndicatorKey>>> = pool.install(|| {
        configs
            .par_iter()
            .map(|c| {
                let probe = ProbeHost::new(host, &nan);
                control.interruptible(|| job.probe(c, &probe))?;
                Ok(probe.into_keys())
            })
            .collect()
    });
    drop(nan);
    if control.is_cancelled() {
        return Err(SweepError::Cancelled);
    }
    let mut needs = Vec::with_capacity(n);
    for (index, p) in probed.into_iter().enumerate() {
        needs.push(p.map_err(|source| SweepError::Config { index, source })?);
    }
    let plan = Plan::new(needs);
    let store = SweepStore::new(host, opts.cache_bytes, plan.readers.clone());

    // 2. run: workers take configs in plan order
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Vec<Mutex<Option<Result<ConfigOutcome>>>> = (0..n).map(|_| Mutex::new(None)).collect();
    let worker = || loop {
        if control.is_cancelled() || failed.load(Ordering::Relaxed) {
            break;
        }
        let pos = next.fetch_add(1, Ordering::Relaxed);
        let Some(&i) = plan.order.get(pos) else { break };
        // pin the config's series before it stops counting as pending, so that a trim in
        // between cannot drop one it is about to read
        let run_host = RunHost::new(&store);
        // (computing them is interruptible like the run itself)
        let outcome = control.interruptible(|| {
            let pinned: Result<()> = plan.needs[i].iter().try_for_each(|k| run_host.series(k).map(|_| ()));
            store.started(&plan.needs[i]);
            pinned.and_then(|()| job.run(&configs[i], &run_host))
        });
        let outcome = outcome.map(|r| ConfigOutcome {
            metrics: r.metrics,
            trades: if opts.keep_trades { r.trades } else { Vec::new() },
        });
        drop(run_host);
        if outcome.is_err() {
            failed.store(true, Ordering::Relaxed);
        }
        // a config stopped by the cancel did not finish: `done` stays what was really done
        let finished = !matches!(outcome, Err(StrategyError::Interrupted));
        *results[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(outcome);
        if finished {
            control.done.fetch_add(1, Ordering::Relaxed);
        }
        store.trim();
    };
    pool.scope(|s| {
        for _ in 0..threads {
            s.spawn(|_| worker());
        }
    });

    if control.is_cancelled() {
        return Err(SweepError::Cancelled);
    }
    let mut outcomes = Vec::with_capacity(n);
    for (index, slot) in results.into_iter().enumerate() {
        match slot.into_inner().unwrap_or_else(|p| p.into_inner()) {
            Some(Ok(o)) => outcomes.push(o),
            Some(Err(source)) => return Err(SweepError::Config { index, source }),
            None if failed.load(Ordering::Relaxed) => continue,
            None => return Err(SweepError::Cancelled),
        }
    }
    if outcomes.len() != n {
        return Err(SweepError::Cancelled);
    }
    Ok(SweepOutput {
        outcomes,
        order: plan.order,
        stats: SweepStats { threads, distinct_series: plan.readers.len(), store: store.stats() },
    })
}
