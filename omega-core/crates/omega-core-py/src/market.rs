//! Arrow candles → `omega_core::market::MarketData` (Python name: `omega.data`; docs/data.md is
//! normative). Accepts any `__arrow_c_stream__`/`__arrow_c_array__` exporter through pyo3-arrow's
//! one input type; other containers (IPC bytes, paths, dicts) go through `omega.data.to_arrow_table`
//! first. Single-chunk float64 (and int64/µs-timestamp) columns without nulls are borrowed zero
//! copy; everything else is copied or cast. Every violation is E4004, found once, here.

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Schema, SchemaRef, TimeUnit};
use omega_core::market::{Column, MarketData, PRICE_COLUMNS};
use omega_core::{StrategyError, Timeframe};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3_arrow::input::AnyRecordBatch;

use crate::errors::err;

type Result<T> = std::result::Result<T, StrategyError>;

/// Candle batches read from Python, ready to be converted without the GIL.
pub struct ArrowCandles {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

/// A converted market and which columns were borrowed rather than copied.
pub struct Converted {
    pub market: MarketData,
    pub zero_copy: Vec<&'static str>,
    pub copied: Vec<&'static str>,
}

/// Read any accepted candle container into Arrow batches (E4004 when it is not Arrow data).
pub fn read_candles(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<ArrowCandles> {
    let is_arrow = obj.hasattr("__arrow_c_stream__")? || obj.hasattr("__arrow_c_array__")?;
    let owned;
    let source = if is_arrow {
        obj
    } else {
        // IPC bytes, paths, dicts of columns: the Python loader raises E4004 itself when unusable.
        owned = py.import("omega.data")?.getattr("to_arrow_table")?.call1((obj,))?;
        &owned
    };
    let any: AnyRecordBatch = source
        .extract()
        .map_err(|e| err(py, StrategyError::data(format!("candles are not readable as Arrow data: {e}"))))?;
    let reader = any
        .into_reader()
        .map_err(|e| err(py, StrategyError::data(format!("candles are not readable as Arrow data: {e}"))))?;
    let schema = reader.schema();
    let batches = reader
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| err(py, StrategyError::data(format!("reading the Arrow stream failed: {e}"))))?;
    Ok(ArrowCandles { schema, batches })
}

fn find(schema: &Schema, name: &str) -> Result<usize> {
    schema.index_of(name).map_err(|_| {
        StrategyError::data(format!(
            "missing column '{name}' (schema: want timestamp_us, {}; got {})",
            PRICE_COLUMNS.join(", "),
            schema.fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>().join(", ")
        ))
    })
}

fn chunks(batches: &[RecordBatch], idx: usize, name: &str) -> Result<Vec<ArrayRef>> {
    let mut out = Vec::with_capacity(batches.len());
    let mut offset = 0usize;
    for b in batches {
        let a = b.column(idx).clone();
        if a.null_count() > 0 {
            let row = (0..a.len()).find(|&i| a.is_null(i)).unwrap_or(0);
            return Err(StrategyError::data(format!("null in column '{name}' at row {}", offset + row)));
        }
        offset += a.len();
        if !a.is_empty() {
            out.push(a);
        }
    }
    Ok(out)
}

fn total_len(arrays: &[ArrayRef]) -> usize {
    arrays.iter().map(|a| a.len()).sum()
}

/// A float64 column: borrowed when it is one float64 chunk, else copied/cast.
fn f64_column(schema: &Schema, batches: &[RecordBatch], name: &'static str) -> Result<(Column<f64>, bool)> {
    let idx = find(schema, name)?;
    let dt = schema.field(idx).data_type();
    if !dt.is_numeric() {
        return Err(StrategyError::data(format!(
            "column '{name}' has type {dt}, want an integer or floating type (schema)"
        )));
    }
    let arrays = chunks(batches, idx, name)?;
    if arrays.len() == 1 && *dt == DataType::Float64 {
        let values = arrays[0].as_primitive::<Float64Type>().values().clone();
        return Ok((Column::from_buffer(values), true));
    }
    let mut out = Vec::with_capacity(total_len(&arrays));
    for a in &arrays {
        if *a.data_type() == DataType::Float64 {
            out.extend_from_slice(a.as_primitive::<Float64Type>().values());
        } else {
            let cast = arrow_cast::cast(a.as_ref(), &DataType::Float64)
                .map_err(|e| StrategyError::data(format!("column '{name}' cannot be converted to float64: {e}")))?;
            if cast.null_count() > 0 {
                return Err(StrategyError::data(format!("column '{name}' has values not representable as float64")));
            }
            out.extend_from_slice(cast.as_primitive::<Float64Type>().values());
        }
    }
    Ok((Column::from(out), false))
}

/// The timestamp column in µs: int64 or an Arrow timestamp of any unit.
fn timestamp_column(schema: &Schema, batches: &[RecordBatch]) -> Result<(Column<i64>, bool)> {
    const NAME: &str = "timestamp_us";
    let idx = find(schema, NAME)?;
    let dt = schema.field(idx).data_type().clone();
    let scale: fn(i64) -> Option<i64> = match &dt {
        DataType::Int64 | DataType::Timestamp(TimeUnit::Microsecond, _) => |v| Some(v),
        DataType::Timestamp(TimeUnit::Second, _) => |v| v.checked_mul(1_000_000),
        DataType::Timestamp(TimeUnit::Millisecond, _) => |v| v.checked_mul(1_000),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => |v| Some(v.div_euclid(1_000)),
        other => {
            return Err(StrategyError::data(format!(
                "column '{NAME}' has type {other}, want int64 (µs) or an Arrow timestamp (schema)"
            )))
        }
    };
    let arrays = chunks(batches, idx, NAME)?;
    let micro = matches!(dt, DataType::Int64 | DataType::Timestamp(TimeUnit::Microsecond, _));
    let as_i64 = |a: &ArrayRef| -> Result<ArrayRef> {
        if *a.data_type() == DataType::Int64 {
            Ok(a.clone())
        } else {
            arrow_cast::cast(a.as_ref(), &DataType::Int64)
                .map_err(|e| StrategyError::data(format!("column '{NAME}' cannot be read as int64: {e}")))
        }
    };
    if arrays.len() == 1 && micro {
        let a = as_i64(&arrays[0])?;
        let values = a.as_primitive::<Int64Type>().values().clone();
        return Ok((Column::from_buffer(values), true));
    }
    let mut out = Vec::with_capacity(total_len(&arrays));
    for a in &arrays {
        let a = as_i64(a)?;
        for &v in a.as_primitive::<Int64Type>().values().iter() {
            let us = scale(v).ok_or_else(|| {
                StrategyError::data(format!("column '{NAME}': timestamp {v} overflows when converted to µs"))
            })?;
            out.push(us);
        }
    }
    Ok((Column::from(out), false))
}

/// Build and validate the market (no Python involved: callable with the GIL released).
pub fn to_market(
    candles: &ArrowCandles,
    symbol: &str,
    timeframe: Timeframe,
    allow_crossed_quotes: bool,
) -> Result<Converted> {
    let schema = candles.schema.as_ref();
    let batches = candles.batches.as_slice();
    let mut zero_copy = Vec::new();
    let mut copied = Vec::new();
    let (timestamp_us, zc) = timestamp_column(schema, batches)?;
    if zc {
        zero_copy.push("timestamp_us")
    } else {
        copied.push("timestamp_us")
    }
    let mut cols = Vec::with_capacity(PRICE_COLUMNS.len());
    for name in PRICE_COLUMNS {
        let (c, zc) = f64_column(schema, batches, name)?;
        if zc {
            zero_copy.push(name)
        } else {
            copied.push(name)
        }
        cols.push(c);
    }
    let mut it = cols.into_iter();
    let mut next = || it.next().ok_or_else(|| StrategyError::InternalError { reason: "column count".into() });
    let market = MarketData {
        symbol: symbol.to_string(),
        timeframe,
        timestamp_us,
        bid_open: next()?,
        bid_high: next()?,
        bid_low: next()?,
        bid_close: next()?,
        bid_volume: next()?,
        ask_open: next()?,
        ask_high: next()?,
        ask_low: next()?,
        ask_close: next()?,
        ask_volume: next()?,
    };
    market.validate(allow_crossed_quotes)?;
    Ok(Converted { market, zero_copy, copied })
}

/// Parse a timeframe name (E4002 when unknown).
pub fn parse_timeframe(name: &str) -> Result<Timeframe> {
    Timeframe::from_str(name).ok_or_else(|| StrategyError::param("timeframe", format!("unknown timeframe '{name}'")))
}

/// Check candles exactly as a backtest would (E4004 on the first violation) and report the row
/// count and which columns were borrowed zero copy.
#[pyfunction]
#[pyo3(signature = (candles, *, timeframe="M1", symbol="EURUSD", allow_crossed_quotes=false))]
fn validate_candles<'py>(
    py: Python<'py>,
    candles: &Bound<'py, PyAny>,
    timeframe: &str,
    symbol: &str,
    allow_crossed_quotes: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let tf = parse_timeframe(timeframe).map_err(|e| err(py, e))?;
    let arrow = read_candles(py, candles)?;
    // The batches outlive the closure, so Arrow's release callbacks run here, with the GIL held.
    let arrow_ref = &arrow;
    let result = py.detach(|| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            to_market(arrow_ref, symbol, tf, allow_crossed_quotes).map(|c| (c.market.len(), c.zero_copy, c.copied))
        }))
        .unwrap_or_else(|p| Err(crate::errors::core_panic(p.as_ref())))
    });
    let (rows, zero_copy, copied) = result.map_err(|e| err(py, e))?;
    let out = PyDict::new(py);
    out.set_item("rows", rows)?;
    out.set_item("zero_copy_columns", zero_copy)?;
    out.set_item("copied_columns", copied)?;
    Ok(out)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(validate_candles, m)?)
}
