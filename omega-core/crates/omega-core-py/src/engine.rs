//! `run_backtest_rust`: the one Python → Rust crossing of a backtest (architecture §2), and the
//! result classes it returns. With the GIL released and under `catch_unwind`, it validates the
//! candles, builds the `MarketHost`, creates the plugin strategy and runs `omega_core::engine`.
//! No Python code runs between entry and return; `native_call_count` counts the entries.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use omega_core::engine::{run_backtest_with_rates, EngineResult, TradeRecord};
use omega_core::indicators::{IndicatorCache, MarketHost};
use omega_core::market::MarketData;
use omega_core::plugin::{ForeignStrategy, PluginHandle};
use omega_core::{StrategyConfig as CoreConfig, StrategyError, Timeframe};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::buffers::{numpy_array, TableBuilder};
use crate::config::StrategyConfig;
use crate::errors::{err, to_pyerr};
use crate::indicators::PyIndicatorCache;
use crate::interrupt::interruptible;
use crate::market::{read_candles, to_market, Candles};
use crate::registry;

pub(crate) static NATIVE_CALLS: AtomicU64 = AtomicU64::new(0);

/// How many times Python entered the native backtest (`run_backtest_rust`) in this process.
#[pyfunction]
fn native_call_count() -> u64 {
    NATIVE_CALLS.load(Ordering::SeqCst)
}

/// The market of a run: candle columns to validate, or the shared host of an `IndicatorCache`
/// (validated earlier; `bool` = it was validated allowing crossed quotes).
pub(crate) enum Source {
    Candles(Candles),
    Shared(Arc<MarketHost>, bool),
}

impl Source {
    /// Read `candle_data` (Python objects; call with the GIL held).
    pub(crate) fn read(py: Python<'_>, candle_data: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(match candle_data.cast::<PyIndicatorCache>() {
            Ok(cache) => {
                let (host, permissive) = cache.get().shared();
                Source::Shared(host, permissive)
            }
            Err(_) => Source::Candles(read_candles(py, candle_data)?),
        })
    }
}

/// A shared host must describe the market the config asks for (E4002 naming the key).
pub(crate) fn check_shared(
    host: &MarketHost,
    permissive: bool,
    config: &CoreConfig,
    tf: Timeframe,
) -> Result<(), StrategyError> {
    let m = host.market();
    if m.timeframe != tf {
        return Err(StrategyError::param(
            "timeframe",
            format!("config timeframe {tf} but the IndicatorCache holds {} bars", m.timeframe),
        ));
    }
    if m.symbol != config.symbol {
        return Err(StrategyError::param(
            "symbol",
            format!("config symbol '{}' but the IndicatorCache was built for '{}'", config.symbol, m.symbol),
        ));
    }
    if host.anchor() != config.engine.htf_anchor {
        return Err(StrategyError::param(
            "engine.htf_anchor",
            "differs from the htf_anchor the IndicatorCache was built with",
        ));
    }
    if permissive && !config.engine.allow_crossed_quotes {
        m.validate(false)?;
    }
    Ok(())
}

/// Everything after the Python objects have been read: no GIL, no Python. Builds the market host
/// (or checks the shared one), creates the plugin strategy and hands both to `job` (a backtest or a
/// scan), then destroys the strategy so that a failing `on_deinit` is reported, not printed.
pub(crate) fn with_strategy<T>(
    source: &Source,
    plugin: &Arc<PluginHandle>,
    config: &CoreConfig,
    timeframe: Timeframe,
    job: impl FnOnce(&ForeignStrategy<'_>, &IndicatorCache<'_>, &MarketHost) -> Result<T, StrategyError>,
) -> Result<T, StrategyError> {
    let run = |host: &MarketHost| {
        let strategy = ForeignStrategy::create(plugin, config, host)?;
        let cache = IndicatorCache::new(host)?;
        let result = job(&strategy, &cache, host);
        let closed = strategy.close();
        let result = result?;
        closed?;
        Ok(result)
    };
    match source {
        Source::Candles(candles) => {
            let converted = to_market(candles, &config.symbol, timeframe, config.engine.allow_crossed_quotes)?;
            run(&MarketHost::new(converted.market, config.engine.htf_anchor))
        }
        Source::Shared(host, permissive) => {
            check_shared(host, *permissive, config, timeframe)?;
            run(host)
        }
    }
}

/// The registered plugin of `strategy_name`, or E4001 listing the registered names.
pub(crate) fn lookup_plugin(py: Python<'_>, strategy_name: &str) -> PyResult<Arc<PluginHandle>> {
    registry::lookup(strategy_name).map_err(|known| {
        let e = StrategyError::StrategyNotFound { name: strategy_name.to_string() };
        let known = if known.is_empty() { String::from("none") } else { known.join(", ") };
        to_pyerr(py, &e, &[("backend", "rust"), ("registered", &known)])
    })
}

/// One Python → Rust crossing that runs the registered strategy `strategy_name`: counts it, looks
/// the plugin up (E4001), reads config and candles with the GIL held, then releases the GIL and runs
/// `job` (a backtest or a scan) under `catch_unwind`, interruptible by Ctrl-C (`KeyboardInterrupt`);
/// every error becomes its coded Python exception.
pub(crate) fn run_strategy<T: Send>(
    py: Python<'_>,
    strategy_name: &str,
    config: &Bound<'_, PyAny>,
    candle_data: &Bound<'_, PyAny>,
    job: impl FnOnce(&ForeignStrategy<'_>, &IndicatorCache<'_>, &MarketHost, &CoreConfig) -> Result<T, StrategyError> + Send,
) -> PyResult<T> {
    NATIVE_CALLS.fetch_add(1, Ordering::SeqCst);
    let plugin = lookup_plugin(py, strategy_name)?;
    let config = StrategyConfig::from_any(py, config)?.inner;
    let timeframe = config.primary_timeframe().map_err(|e| err(py, e))?;
    let source = Source::read(py, candle_data)?;
    let (source_ref, plugin_ref, config_ref) = (&source, &plugin, &config);
    let outcome = interruptible(py, || {
        with_strategy(source_ref, plugin_ref, config_ref, timeframe, |strategy, cache, host| {
            job(strategy, cache, host, config_ref)
        })
    })?;
    outcome.map_err(|e| to_pyerr(py, &e, &[("strategy", strategy_name)]))
}

/// The conversion bars of a run (no GIL needed): each pair validated on the market's timeframe,
/// E4004 naming the pair.
pub(crate) fn conversion_markets(
    conversion: &[(String, Candles)],
    timeframe: Timeframe,
    allow_crossed_quotes: bool,
) -> Result<Vec<MarketData>, StrategyError> {
    conversion
        .iter()
        .map(|(pair, candles)| {
            to_market(candles, pair, timeframe, allow_crossed_quotes).map(|c| c.market).map_err(|e| {
                StrategyError::data(format!(
                    "conversion candles '{pair}': {}",
                    e.to_string().trim_start_matches("invalid market data: ")
                ))
            })
        })
        .collect()
}

/// Conversion candles of a run, read with the GIL held: `(pair, batches)` in the caller's order.
pub(crate) fn read_conversion(
    py: Python<'_>,
    conversion: Option<&Bound<'_, PyDict>>,
) -> PyResult<Vec<(String, Candles)>> {
    let Some(d) = conversion else { return Ok(Vec::new()) };
    d.iter()
        .map(|(k, v)| {
            let pair: String = k
                .extract()
                .map_err(|_| err(py, StrategyError::param("conversion", "keys must be pair names such as 'USDJPY'")))?;
            Ok((pair, read_candles(py, &v)?))
        })
        .collect()
}

/// Run a whole backtest of the registered Rust strategy `strategy_name` (the seed's entry point).
///
/// `config` is a `StrategyConfig`, JSON text or a dict; `candle_data` any Arrow exporter (or IPC
/// bytes, a path, a dict of columns), or an `IndicatorCache` whose market and series are then
/// shared with other runs. `conversion` maps pair names (`"USDJPY"`) to candles of that pair, for
/// instruments whose quote currency is not the account currency (docs/engine.md "Account
/// currency"). Raises the coded `omega.errors` classes.
#[pyfunction]
#[pyo3(signature = (strategy_name, config, candle_data, conversion=None))]
fn run_backtest_rust(
    py: Python<'_>,
    strategy_name: &str,
    config: &Bound<'_, PyAny>,
    candle_data: &Bound<'_, PyAny>,
    conversion: Option<&Bound<'_, PyDict>>,
) -> PyResult<BacktestResult> {
    let started = Instant::now();
    let conversion = read_conversion(py, conversion)?;
    let conversion_ref = &conversion;
    let result = run_strategy(py, strategy_name, config, candle_data, move |strategy, cache, host, config| {
        let rates = conversion_markets(conversion_ref, host.market().timeframe, config.engine.allow_crossed_quotes)?;
        run_backtest_with_rates(strategy, cache, host.market(), config, &rates)
    })?;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    BacktestResult::new(py, result, elapsed_ms, strategy_name)
}

/// One trade of a backtest (docs/engine.md "Trade record").
#[pyclass(module = "omega._native", name = "TradeResult", frozen)]
#[derive(Clone)]
pub struct TradeResult {
    rec: TradeRecord,
}

#[pymethods]
impl TradeResult {
    #[getter]
    fn id(&self) -> u64 {
        self.rec.id
    }
    #[getter]
    fn symbol(&self) -> &str {
        &self.rec.symbol
    }
    /// `"long"` or `"short"`.
    #[getter]
    fn direction(&self) -> &'static str {
        self.rec.direction.as_str()
    }
    #[getter]
    fn entry_index(&self) -> usize {
        self.rec.entry_index
    }
    #[getter]
    fn exit_index(&self) -> usize {
        self.rec.exit_index
    }
    #[getter]
    fn entry_time_us(&self) -> i64 {
        self.rec.entry_time_us
    }
    #[getter]
    fn exit_time_us(&self) -> i64 {
        self.rec.exit_time_us
    }
    #[getter]
    fn entry_price(&self) -> f64 {
        self.rec.entry_price
    }
    #[getter]
    fn exit_price(&self) -> f64 {
        self.rec.exit_price
    }
    #[getter]
    fn initial_stop_loss(&self) -> f64 {
        self.rec.initial_stop_loss
    }
    #[getter]
    fn stop_loss(&self) -> f64 {
        self.rec.stop_loss
    }
    #[getter]
    fn take_profit(&self) -> Option<f64> {
        self.rec.take_profit
    }
    #[getter]
    fn lots(&self) -> f64 {
        self.rec.lots
    }
    #[getter]
    fn pnl_pips(&self) -> f64 {
        self.rec.pnl_pips
    }
    #[getter]
    fn pnl_gross(&self) -> f64 {
        self.rec.pnl_gross
    }
    #[getter]
    fn commission(&self) -> f64 {
        self.rec.commission
    }
    #[getter]
    fn swap(&self) -> f64 {
        self.rec.swap
    }
    #[getter]
    fn pnl(&self) -> f64 {
        self.rec.pnl
    }
    #[getter]
    fn slippage_pips(&self) -> f64 {
        self.rec.slippage_pips
    }
    #[getter]
    fn r_multiple(&self) -> f64 {
        self.rec.r_multiple
    }
    #[getter]
    fn bars_held(&self) -> usize {
        self.rec.bars_held
    }
    /// `"stop_loss"`, `"take_profit"`, `"timeout"`, `"strategy_close"`, `"end_of_data"`, `"stop_out"` or `"open"`.
    #[getter]
    fn exit_reason(&self) -> &'static str {
        self.rec.exit_reason.as_str()
    }
    #[getter]
    fn scenario(&self) -> Option<u32> {
        self.rec.scenario
    }
    #[getter]
    fn reason(&self) -> &str {
        &self.rec.reason
    }
    #[getter]
    fn tags(&self) -> Vec<String> {
        self.rec.tags.clone()
    }

    /// All fields as a dict (same keys as `omega.results.TRADE_FIELDS`).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let r = &self.rec;
        let d = PyDict::new(py);
        d.set_item("id", r.id)?;
        d.set_item("symbol", &r.symbol)?;
        d.set_item("direction", r.direction.as_str())?;
        d.set_item("entry_index", r.entry_index)?;
        d.set_item("exit_index", r.exit_index)?;
        d.set_item("entry_time_us", r.entry_time_us)?;
        d.set_item("exit_time_us", r.exit_time_us)?;
        d.set_item("entry_price", r.entry_price)?;
        d.set_item("exit_price", r.exit_price)?;
        d.set_item("initial_stop_loss", r.initial_stop_loss)?;
        d.set_item("stop_loss", r.stop_loss)?;
        d.set_item("take_profit", r.take_profit)?;
        d.set_item("lots", r.lots)?;
        d.set_item("pnl_pips", r.pnl_pips)?;
        d.set_item("pnl_gross", r.pnl_gross)?;
        d.set_item("commission", r.commission)?;
        d.set_item("swap", r.swap)?;
        d.set_item("pnl", r.pnl)?;
        d.set_item("slippage_pips", r.slippage_pips)?;
        d.set_item("r_multiple", r.r_multiple)?;
        d.set_item("bars_held", r.bars_held)?;
        d.set_item("exit_reason", r.exit_reason.as_str())?;
        d.set_item("scenario", r.scenario)?;
        d.set_item("reason", &r.reason)?;
        d.set_item("tags", r.tags.clone())?;
        Ok(d)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<TradeResult>().map(|o| o.get().rec == self.rec).unwrap_or(false)
    }

    fn __repr__(&self) -> String {
        let r = &self.rec;
        format!(
            "TradeResult(id={}, {} {} entry={}@{} exit={}@{} pnl={:.2} {})",
            r.id,
            r.direction.as_str(),
            r.symbol,
            r.entry_price,
            r.entry_index,
            r.exit_price,
            r.exit_index,
            r.pnl,
            r.exit_reason.as_str()
        )
    }
}

/// Add the columns of `omega.results.TRADE_SCHEMA` for `trades` to a table being built.
pub(crate) fn trade_columns(t: &mut TableBuilder<'_>, trades: &[TradeRecord]) -> PyResult<()> {
    let it = || trades.iter();
    t.values("id", it().map(|r| r.id as i64))?;
    t.strings("symbol", it().map(|r| r.symbol.as_str()))?;
    t.strings("direction", it().map(|r| r.direction.as_str()))?;
    t.values("entry_index", it().map(|r| r.entry_index as i64))?;
    t.values("exit_index", it().map(|r| r.exit_index as i64))?;
    t.values("entry_time_us", it().map(|r| r.entry_time_us))?;
    t.values("exit_time_us", it().map(|r| r.exit_time_us))?;
    t.values("entry_price", it().map(|r| r.entry_price))?;
    t.values("exit_price", it().map(|r| r.exit_price))?;
    t.values("initial_stop_loss", it().map(|r| r.initial_stop_loss))?;
    t.values("stop_loss", it().map(|r| r.stop_loss))?;
    t.optional("take_profit", it().map(|r| r.take_profit))?;
    t.values("lots", it().map(|r| r.lots))?;
    t.values("pnl_pips", it().map(|r| r.pnl_pips))?;
    t.values("pnl_gross", it().map(|r| r.pnl_gross))?;
    t.values("commission", it().map(|r| r.commission))?;
    t.values("swap", it().map(|r| r.swap))?;
    t.values("pnl", it().map(|r| r.pnl))?;
    t.values("slippage_pips", it().map(|r| r.slippage_pips))?;
    t.values("r_multiple", it().map(|r| r.r_multiple))?;
    t.values("bars_held", it().map(|r| r.bars_held as i64))?;
    t.strings("exit_reason", it().map(|r| r.exit_reason.as_str()))?;
    t.optional("scenario", it().map(|r| r.scenario.map(i64::from)))?;
    t.strings("reason", it().map(|r| r.reason.as_str()))?;
    t.string_lists("tags", it().map(|r| r.tags.as_slice()))
}

fn trades_table<'py>(py: Python<'py>, trades: &[TradeRecord]) -> PyResult<Bound<'py, PyAny>> {
    let mut t = TableBuilder::new(py, trades.len());
    trade_columns(&mut t, trades)?;
    t.finish()
}

/// The result of one backtest (architecture §4): trades, positions left open, the per-bar equity
/// curve (read-only float64 numpy array), metrics (NaN → None), bar count and wall time.
#[pyclass(module = "omega._native", name = "BacktestResult", frozen)]
pub struct BacktestResult {
    trades: Vec<TradeRecord>,
    open_positions: Vec<TradeRecord>,
    equity_curve: Py<PyAny>,
    metrics: BTreeMap<String, f64>,
    bars_processed: usize,
    execution_time_ms: f64,
    strategy: String,
}

impl BacktestResult {
    fn new(py: Python<'_>, r: EngineResult, execution_time_ms: f64, strategy: &str) -> PyResult<Self> {
        let equity = numpy_array(py, &r.equity_curve, false)?;
        Ok(BacktestResult {
            trades: r.trades,
            open_positions: r.open_positions,
            equity_curve: equity.unbind(),
            metrics: r.metrics,
            bars_processed: r.bars_processed,
            execution_time_ms,
            strategy: strategy.to_string(),
        })
    }
}

#[pymethods]
impl BacktestResult {
    /// Closed trades in closing order.
    #[getter]
    fn trades(&self) -> Vec<TradeResult> {
        self.trades.iter().map(|r| TradeResult { rec: r.clone() }).collect()
    }

    /// Positions still open at the end (only with `engine.close_at_end = false`).
    #[getter]
    fn open_positions(&self) -> Vec<TradeResult> {
        self.open_positions.iter().map(|r| TradeResult { rec: r.clone() }).collect()
    }

    /// Equity after each primary bar (read-only numpy float64 array).
    #[getter]
    fn equity_curve(&self, py: Python<'_>) -> Py<PyAny> {
        self.equity_curve.clone_ref(py)
    }

    /// Metric name → value (docs/engine.md); undefined (NaN) values are None.
    #[getter]
    fn metrics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (k, v) in &self.metrics {
            if v.is_nan() {
                d.set_item(k, py.None())?;
            } else {
                d.set_item(k, *v)?;
            }
        }
        Ok(d)
    }

    #[getter]
    fn bars_processed(&self) -> usize {
        self.bars_processed
    }

    /// Wall time of the native call (conversion, indicators, loop, metrics), in milliseconds.
    #[getter]
    fn execution_time_ms(&self) -> f64 {
        self.execution_time_ms
    }

    /// Always `"rust"` (the reference backend's result says `"python"`).
    #[getter]
    fn backend(&self) -> &'static str {
        "rust"
    }

    /// Name of the strategy that ran.
    #[getter]
    fn strategy(&self) -> &str {
        &self.strategy
    }

    /// Closed trades as a pyarrow Table (`omega.results.TRADE_SCHEMA`).
    fn trades_table<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        trades_table(py, &self.trades)
    }

    /// Open positions as a pyarrow Table (`omega.results.TRADE_SCHEMA`).
    fn open_positions_table<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        trades_table(py, &self.open_positions)
    }

    fn __repr__(&self) -> String {
        format!(
            "BacktestResult(strategy={:?}, backend=\"rust\", bars_processed={}, trades={}, open_positions={}, \
             execution_time_ms={:.3})",
            self.strategy,
            self.bars_processed,
            self.trades.len(),
            self.open_positions.len(),
            self.execution_time_ms
        )
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<BacktestResult>()?;
    m.add_class::<TradeResult>()?;
    m.add_function(wrap_pyfunction!(run_backtest_rust, m)?)?;
    m.add_function(wrap_pyfunction!(native_call_count, m)?)
}
