//! `run_sweep_rust`: one Python → Rust crossing for a whole sweep (docs/sweeps.md). With the GIL
//! released once, it converts the market once, then runs `omega_core::sweep` over every config on
//! a thread pool. Python watches a `SweepControl` meanwhile (progress, Ctrl-C) from another thread;
//! called on Python's main thread, the call watches Ctrl-C itself.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;

use omega_core::engine::TradeRecord;
use omega_core::indicators::MarketHost;
use omega_core::sweep::{
    run_sweep, PluginJob, SweepControl, SweepError, SweepOptions, SweepOutput, DEFAULT_CACHE_BYTES,
};
use omega_core::{StrategyConfig as CoreConfig, StrategyError};
use pyo3::exceptions::PyKeyboardInterrupt;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::buffers::TableBuilder;
use crate::config::StrategyConfig;
use crate::engine::{check_shared, conversion_markets, read_conversion, trade_columns, Source, NATIVE_CALLS};
use crate::errors::{core_panic, err, panic_message, to_pyerr};
use crate::interrupt::{on_main_thread, SIGNAL_CHECK_INTERVAL};
use crate::market::to_market;

/// Progress and cancellation of a running sweep: `done` counts finished configs; `cancel()` stops
/// the sweep, running configs included (it then raises `KeyboardInterrupt`).
#[pyclass(module = "omega._native", name = "SweepControl", frozen)]
pub struct PySweepControl {
    inner: Arc<SweepControl>,
}

#[pymethods]
impl PySweepControl {
    #[new]
    fn new() -> Self {
        PySweepControl { inner: Arc::new(SweepControl::default()) }
    }

    /// Configs finished so far.
    #[getter]
    fn done(&self) -> usize {
        self.inner.done()
    }

    /// Stop the sweep: no config starts after this call and running ones stop mid-run.
    fn cancel(&self) {
        self.inner.cancel();
    }

    /// True once `cancel()` was called.
    #[getter]
    fn cancelled(&self) -> bool {
        self.inner.is_cancelled()
    }
}

/// The default byte budget of a sweep's series store.
#[pyfunction]
fn default_cache_bytes() -> usize {
    DEFAULT_CACHE_BYTES
}

fn config_error(py: Python<'_>, index: usize, e: &StrategyError, strategy: &str) -> PyErr {
    to_pyerr(py, e, &[("strategy", strategy), ("config_index", &index.to_string())])
}

/// Why a native sweep call failed.
enum Failure {
    Sweep(SweepError),
    /// Before any config: the market could not be read.
    Input(StrategyError),
}

/// Run `work` (a whole sweep) on a helper thread while this one, Python's main thread, runs the
/// pending signal handlers every `SIGNAL_CHECK_INTERVAL` (GIL re-acquired briefly): the sweep's
/// workers are rayon threads, which Python never delivers signals to. A handler that raises cancels
/// the sweep (its running configs stop at their next interrupt check) and is returned.
fn watch_signals(
    work: impl FnOnce() -> Result<SweepOutput, Failure> + Send,
    control: &SweepControl,
) -> (Result<SweepOutput, Failure>, Option<PyErr>) {
    std::thread::scope(|s| {
        let (done, finished) = mpsc::channel();
        let runner = s.spawn(move || {
            // the receiver lives until this scope ends
            let _ = done.send(work());
        });
        let mut raised = None;
        loop {
            match finished.recv_timeout(SIGNAL_CHECK_INTERVAL) {
                Ok(out) => return (out, raised),
                Err(RecvTimeoutError::Timeout) => {
                    if raised.is_none() {
                        if let Err(e) = Python::attach(|py| py.check_signals()) {
                            control.cancel();
                            raised = Some(e);
                        }
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    // `work` catches its panics, so this is a bug of ours: E4009, not a panic here
                    let reason = match runner.join() {
                        Err(payload) => format!("sweep thread: {}", panic_message(payload.as_ref())),
                        Ok(()) => String::from("the sweep thread ended without its result"),
                    };
                    return (Err(Failure::Input(StrategyError::InternalError { reason })), raised);
                }
            }
        }
    })
}

/// Closed trades of every config as one table with a leading `config_id` column.
fn sweep_trades<'py>(py: Python<'py>, per_config: &[Vec<TradeRecord>]) -> PyResult<Bound<'py, PyAny>> {
    let all: Vec<TradeRecord> = per_config.iter().flatten().cloned().collect();
    let mut t = TableBuilder::new(py, all.len());
    let ids = per_config.iter().enumerate().flat_map(|(i, t)| std::iter::repeat(i as i64).take(t.len()));
    t.values("config_id", ids)?;
    trade_columns(&mut t, &all)?;
    t.finish()
}

/// Run every config of `configs` (each a `StrategyConfig`, JSON text or dict) of the registered
/// Rust strategy `strategy_name` over one market, in one native call with the GIL released.
///
/// `candle_data` as for `run_backtest_rust` (an `IndicatorCache` shares its market). Every config
/// must name the market's symbol and timeframe (E4002 with `config_index`). Returns a dict:
/// `metrics` (one dict per config, NaN → None), `trades` (a pyarrow Table with `config_id`, or None
/// unless `keep_trades`), `order` (the run order) and `stats` (threads, distinct_series,
/// computations, evictions, peak_bytes). `conversion` maps pair names to conversion candles, as for
/// `run_backtest_rust` (shared by every config). A config the strategy rejects is its coded error naming
/// `config_index`, raised before any run starts; `control.cancel()` ends it with `KeyboardInterrupt`.
#[pyfunction]
#[pyo3(signature = (strategy_name, configs, candle_data, *, threads=0, cache_bytes=DEFAULT_CACHE_BYTES, keep_trades=false, control=None, conversion=None))]
#[allow(clippy::too_many_arguments)]
fn run_sweep_rust<'py>(
    py: Python<'py>,
    strategy_name: &str,
    configs: Vec<Bound<'py, PyAny>>,
    candle_data: &Bound<'py, PyAny>,
    threads: usize,
    cache_bytes: usize,
    keep_trades: bool,
    control: Option<Bound<'py, PySweepControl>>,
    conversion: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyDict>> {
    NATIVE_CALLS.fetch_add(1, Ordering::SeqCst);
    let plugin = crate::engine::lookup_plugin(py, strategy_name)?;
    let mut parsed: Vec<CoreConfig> = Vec::with_capacity(configs.len());
    for (i, c) in configs.iter().enumerate() {
        let c = StrategyConfig::from_any(py, c)
            .map_err(|e| config_error(py, i, &StrategyError::config(e.to_string()), strategy_name))?
            .inner;
        parsed.push(c);
    }
    let Some(first) = parsed.first() else {
        return Err(err(py, StrategyError::config("a sweep needs at least one config")));
    };
    let timeframe = first.primary_timeframe().map_err(|e| config_error(py, 0, &e, strategy_name))?;
    let source = Source::read(py, candle_data)?;
    let conversion = read_conversion(py, conversion)?;
    let control = control.map_or_else(|| Arc::new(SweepControl::default()), |c| Arc::clone(&c.get().inner));
    let opts = SweepOptions { threads, cache_bytes, keep_trades };

    let work = || {
        catch_unwind(AssertUnwindSafe(|| -> Result<_, Failure> {
            let (host, permissive): (Arc<MarketHost>, bool) = match &source {
                Source::Candles(candles) => {
                    let converted = to_market(candles, &first.symbol, timeframe, first.engine.allow_crossed_quotes)
                        .map_err(Failure::Input)?;
                    let host = MarketHost::new(converted.market, first.engine.htf_anchor);
                    (Arc::new(host), first.engine.allow_crossed_quotes)
                }
                Source::Shared(host, permissive) => (Arc::clone(host), *permissive),
            };
            for (index, c) in parsed.iter().enumerate() {
                let checked = c.primary_timeframe().and_then(|tf| check_shared(&host, permissive, c, tf));
                checked.map_err(|source| Failure::Sweep(SweepError::Config { index, source }))?;
            }
            let rates = conversion_markets(&conversion, timeframe, permissive).map_err(Failure::Input)?;
            let job = PluginJob { plugin: &plugin, market: host.market(), rates: &rates };
            run_sweep(&host, &parsed, &job, &opts, &control).map_err(Failure::Sweep)
        }))
        .unwrap_or_else(|payload| Err(Failure::Input(core_panic(payload.as_ref()))))
    };
    let (outcome, raised) = if on_main_thread(py)? {
        py.detach(|| watch_signals(work, &control))
    } else {
        // another thread (omega.sweep's) runs us and watches Ctrl-C itself: it calls `cancel()`
        (py.detach(work), None)
    };
    if let Some(e) = raised {
        return Err(e);
    }
    let out = match outcome {
        Ok(out) => out,
        Err(Failure::Input(e)) => return Err(to_pyerr(py, &e, &[("strategy", strategy_name)])),
        Err(Failure::Sweep(SweepError::Cancelled)) => return Err(PyKeyboardInterrupt::new_err("sweep cancelled")),
        Err(Failure::Sweep(SweepError::Config { index, source })) => {
            return Err(config_error(py, index, &source, strategy_name))
        }
        Err(Failure::Sweep(e @ SweepError::Pool(_))) => {
            return Err(err(py, StrategyError::InternalError { reason: e.to_string() }));
        }
    };

    let metrics = PyList::empty(py);
    for o in &out.outcomes {
        let d = PyDict::new(py);
        for (k, v) in &o.metrics {
            if v.is_nan() {
                d.set_item(k, py.None())?;
            } else {
                d.set_item(k, *v)?;
            }
        }
        metrics.append(d)?;
    }
    let result = PyDict::new(py);
    result.set_item("metrics", metrics)?;
    if keep_trades {
        let per_config: Vec<Vec<TradeRecord>> = out.outcomes.into_iter().map(|o| o.trades).collect();
        result.set_item("trades", sweep_trades(py, &per_config)?)?;
    } else {
        result.set_item("trades", py.None())?;
    }
    result.set_item("order", out.order)?;
    let stats = PyDict::new(py);
    stats.set_item("threads", out.stats.threads)?;
    stats.set_item("distinct_series", out.stats.distinct_series)?;
    stats.set_item("computations", out.stats.store.computations)?;
    stats.set_item("evictions", out.stats.store.evictions)?;
    stats.set_item("peak_bytes", out.stats.store.peak_bytes)?;
    result.set_item("stats", stats)?;
    Ok(result)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PySweepControl>()?;
    m.add_function(wrap_pyfunction!(default_cache_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(run_sweep_rust, m)?)
}
