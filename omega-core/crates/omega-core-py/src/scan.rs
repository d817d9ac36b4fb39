//! `scan_signals_rust`: the signal scan (docs/scan.md) of a registered Rust strategy in one native
//! call with the GIL released, returned as a pyarrow Table. Same entry path as a backtest
//! (`engine::with_strategy`), so config, candles and plugin handling are identical.

use std::collections::BTreeSet;

use omega_core::engine::{scan_signals, ScanRow};
use pyo3::prelude::*;

use crate::buffers::TableBuilder;
use crate::engine::run_strategy;

fn scan_table<'py>(py: Python<'py>, rows: &[ScanRow]) -> PyResult<Bound<'py, PyAny>> {
    let mut t = TableBuilder::new(py, rows.len());
    let it = || rows.iter();
    t.values("bar_index", it().map(|r| r.index as i64))?;
    t.values("timestamp_us", it().map(|r| r.timestamp_us))?;
    t.strings("direction", it().map(|r| r.direction.as_str()))?;
    t.optional("scenario", it().map(|r| r.scenario.map(i64::from)))?;
    t.values("entry_price", it().map(|r| r.entry_price))?;
    t.values("stop_loss", it().map(|r| r.stop_loss))?;
    t.optional("take_profit", it().map(|r| r.take_profit))?;
    t.strings("reason", it().map(|r| r.reason.as_str()))?;
    t.string_lists("tags", it().map(|r| r.tags.as_slice()))?;
    t.bools("session_ok", it().map(|r| r.session_ok))?;
    // One column per meta key any row records, sorted by key; rows' meta are sorted too.
    let keys: BTreeSet<&str> = rows.iter().flat_map(|r| r.meta.iter().map(|(k, _)| k.as_str())).collect();
    for key in keys {
        let col = it().map(|r| r.meta.binary_search_by(|(k, _)| k.as_str().cmp(key)).ok().map(|at| r.meta[at].1));
        t.optional(format!("meta_{key}"), col)?;
    }
    t.finish()
}

/// Scan every bar with the registered Rust strategy `strategy_name` as if flat (docs/scan.md) and
/// return one row per signalling bar as a pyarrow Table. Arguments as for `run_backtest_rust`.
#[pyfunction]
#[pyo3(signature = (strategy_name, config, candle_data))]
fn scan_signals_rust<'py>(
    py: Python<'py>,
    strategy_name: &str,
    config: &Bound<'_, PyAny>,
    candle_data: &Bound<'_, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let rows = run_strategy(py, strategy_name, config, candle_data, |strategy, cache, host, config| {
        scan_signals(strategy, cache, host.market(), config)
    })?;
    scan_table(py, &rows)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(scan_signals_rust, m)?)
}
