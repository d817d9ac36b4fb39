//! `scan_signals_rust`: the signal scan (docs/scan.md) of a registered Rust strategy in one native
//! call with the GIL released, returned as a pyarrow Table. Same entry path as a backtest
//! (`engine::with_strategy`), so config, candles and plugin handling are identical.

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{Field, Schema};
use omega_core::engine::{scan_signals, ScanRow};
use omega_core::StrategyError;
use pyo3::prelude::*;
use pyo3_arrow::PyTable;

use crate::engine::run_strategy;
use crate::errors::err;

fn scan_batch(rows: &[ScanRow]) -> Result<RecordBatch, arrow_schema::ArrowError> {
    let mut tags = ListBuilder::new(StringBuilder::new());
    for r in rows {
        for t in &r.tags {
            tags.values().append_value(t);
        }
        tags.append(true);
    }
    let mut columns: Vec<(String, ArrayRef)> = vec![
        ("bar_index".into(), Arc::new(rows.iter().map(|r| r.index as i64).collect::<Int64Array>())),
        ("timestamp_us".into(), Arc::new(rows.iter().map(|r| r.timestamp_us).collect::<Int64Array>())),
        ("direction".into(), Arc::new(rows.iter().map(|r| Some(r.direction.as_str())).collect::<StringArray>())),
        ("scenario".into(), Arc::new(rows.iter().map(|r| r.scenario.map(i64::from)).collect::<Int64Array>())),
        ("entry_price".into(), Arc::new(rows.iter().map(|r| r.entry_price).collect::<Float64Array>())),
        ("stop_loss".into(), Arc::new(rows.iter().map(|r| r.stop_loss).collect::<Float64Array>())),
        ("take_profit".into(), Arc::new(rows.iter().map(|r| r.take_profit).collect::<Float64Array>())),
        ("reason".into(), Arc::new(rows.iter().map(|r| Some(r.reason.as_str())).collect::<StringArray>())),
        ("tags".into(), Arc::new(tags.finish())),
        ("session_ok".into(), Arc::new(rows.iter().map(|r| Some(r.session_ok)).collect::<BooleanArray>())),
    ];
    // One column per meta key any row records, sorted by key; rows' meta are sorted too.
    let keys: BTreeSet<&str> = rows.iter().flat_map(|r| r.meta.iter().map(|(k, _)| k.as_str())).collect();
    for key in keys {
        let col: Float64Array = rows
            .iter()
            .map(|r| r.meta.binary_search_by(|(k, _)| k.as_str().cmp(key)).ok().map(|at| r.meta[at].1))
            .collect();
        columns.push((format!("meta_{key}"), Arc::new(col)));
    }
    let fields: Vec<Field> = columns.iter().map(|(n, a)| Field::new(n, a.data_type().clone(), true)).collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns.into_iter().map(|(_, a)| a).collect())
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
    let batch = scan_batch(&rows)
        .map_err(|e| err(py, StrategyError::InternalError { reason: format!("building the scan table: {e}") }))?;
    let schema = batch.schema();
    PyTable::try_new(vec![batch], schema)?.into_pyarrow(py)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(scan_signals_rust, m)?)
}
