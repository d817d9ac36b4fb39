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
    // A second column of the same name would be silently ignored: which one is meant is unknown.
    if schema.fields().iter().filter(|f| f.name() == name).count() > 1 {
        return Err(StrategyError::data(format!("duplicate column '{name}' (schema)")));
    }
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
    // Decimals are refused like on the Python backend: their cast to float64 is not one rule.
    if !(dt.is_integer() || dt.is_floating()) {
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{Float32Array, Float64Array, Int64Array, StringArray, TimestampMillisecondArray};
    use arrow_schema::Field;

    use super::*;

    fn batch(n: usize, start: i64) -> RecordBatch {
        let ts: ArrayRef = Arc::new(Int64Array::from_iter_values((0..n as i64).map(|i| (start + i) * 60_000_000)));
        let mut fields = vec![Field::new("timestamp_us", DataType::Int64, false)];
        let mut cols = vec![ts];
        for name in PRICE_COLUMNS {
            let v = if name.starts_with("ask") { 1.1001 } else { 1.1 };
            fields.push(Field::new(name, DataType::Float64, false));
            cols.push(Arc::new(Float64Array::from(vec![v; n])));
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap()
    }

    fn candles(batches: Vec<RecordBatch>) -> ArrowCandles {
        ArrowCandles { schema: batches[0].schema(), batches }
    }

    fn replace(b: &RecordBatch, name: &str, col: ArrayRef) -> RecordBatch {
        let idx = b.schema().index_of(name).unwrap();
        let mut fields: Vec<Field> = b.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
        fields[idx] = Field::new(name, col.data_type().clone(), true);
        let mut cols = b.columns().to_vec();
        cols[idx] = col;
        RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap()
    }

    #[test]
    fn single_chunk_is_borrowed_and_shares_the_buffer() {
        let b = batch(5, 0);
        let c = to_market(&candles(vec![b.clone()]), "EURUSD", Timeframe::M1, false).unwrap();
        assert_eq!(c.zero_copy.len(), 11);
        assert!(c.copied.is_empty());
        let arrow_ptr = b.column(4).as_primitive::<Float64Type>().values().as_ptr();
        assert!(std::ptr::eq(c.market.bid_close.as_ptr(), arrow_ptr), "bid_close must point into the Arrow buffer");
    }

    #[test]
    fn several_chunks_are_copied_in_order() {
        let c =
            to_market(&candles(vec![batch(3, 0), batch(0, 3), batch(4, 3)]), "EURUSD", Timeframe::M1, false).unwrap();
        assert_eq!(c.market.len(), 7);
        assert_eq!(c.copied.len(), 11);
        assert_eq!(c.market.timestamp_us[6], 6 * 60_000_000);
    }

    #[test]
    fn casts_numeric_types_and_timestamp_units() {
        let b = batch(3, 0);
        let b = replace(&b, "bid_volume", Arc::new(Float32Array::from(vec![1.5f32, 2.0, 0.0])));
        let ms = TimestampMillisecondArray::from(vec![0, 60_000, 120_000]).with_timezone("UTC");
        let b = replace(&b, "timestamp_us", Arc::new(ms));
        let c = to_market(&candles(vec![b]), "EURUSD", Timeframe::M1, false).unwrap();
        assert_eq!(&c.market.bid_volume[..], &[1.5, 2.0, 0.0]);
        assert_eq!(&c.market.timestamp_us[..], &[0, 60_000_000, 120_000_000]);
        assert!(c.copied.contains(&"timestamp_us") && c.copied.contains(&"bid_volume"));
    }

    #[test]
    fn every_violation_is_e4004() {
        let b = batch(4, 0);
        let cases: Vec<(RecordBatch, &str)> = vec![
            (
                replace(&b, "ask_low", Arc::new(Float64Array::from(vec![Some(1.1), None, Some(1.1), Some(1.1)]))),
                "row 1",
            ),
            (replace(&b, "bid_open", Arc::new(StringArray::from(vec!["1"; 4]))), "schema"),
            (replace(&b, "timestamp_us", Arc::new(Float64Array::from(vec![0.0; 4]))), "schema"),
            (b.project(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]).unwrap(), "missing column 'ask_volume'"),
            (replace(&b, "timestamp_us", Arc::new(Int64Array::from(vec![0, 2, 1, 3]))), "strictly increasing"),
            (batch(0, 0), "empty"),
        ];
        for (b, needle) in cases {
            let e = to_market(&candles(vec![b]), "EURUSD", Timeframe::M1, false).err().unwrap();
            assert_eq!(e.code(), "E4004", "{e}");
            assert!(e.to_string().contains(needle), "{e} should mention {needle}");
        }
    }
}
