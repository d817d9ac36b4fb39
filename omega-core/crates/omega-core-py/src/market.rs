//! Candles → `omega_core::market::MarketData` (Python name: `omega.data`; docs/data.md is
//! normative). pyarrow does the container and type work in `omega._buffers.candle_columns` (every
//! accepted container, chunk combining, casts, timestamp units, schema errors); this module copies
//! the resulting contiguous columns once into the core's market through pyo3's safe buffer
//! protocol and validates it. Every violation is E4004, found once, here or there.

use omega_core::market::{Column, MarketData, PRICE_COLUMNS};
use omega_core::{StrategyError, Timeframe};
use pyo3::buffer::PyBuffer;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;

use crate::buffers::python_function;
use crate::errors::err;

type Result<T> = std::result::Result<T, StrategyError>;

/// Candle columns read from Python (owned copies), ready to be turned into a market without the GIL.
pub struct Candles {
    /// A schema problem found while reading (reported as E4004 when the market is built, so that a
    /// conversion market can name its pair).
    pub problem: Option<String>,
    pub timestamp_us: Column<i64>,
    /// In `PRICE_COLUMNS` order.
    pub prices: Vec<Column<f64>>,
    /// Columns read straight from the caller's buffer, and those combined or cast first.
    pub direct: Vec<String>,
    pub converted: Vec<String>,
}

/// A built market and which columns were read straight from the caller's buffer.
pub struct Converted {
    pub market: MarketData,
    pub direct: Vec<String>,
    pub converted: Vec<String>,
}

/// Read any accepted candle container (coded errors from `omega.data` for unusable containers).
pub fn read_candles(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<Candles> {
    static READ: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let read = python_function(py, &READ, "omega._buffers", "candle_columns")?.call1((obj,))?;
    let (problem, columns, direct, converted): (Option<String>, Vec<Bound<'_, PyAny>>, Vec<String>, Vec<String>) =
        read.extract()?;
    let mut candles =
        Candles { problem, timestamp_us: Column::from(Vec::new()), prices: Vec::new(), direct, converted };
    if candles.problem.is_some() {
        return Ok(candles);
    }
    let mut it = columns.iter();
    let Some(ts) = it.next() else {
        return Err(err(py, StrategyError::InternalError { reason: "candle_columns returned no columns".into() }));
    };
    candles.timestamp_us = Column::from(PyBuffer::<i64>::get(ts)?.to_vec(py)?);
    for c in it {
        candles.prices.push(Column::from(PyBuffer::<f64>::get(c)?.to_vec(py)?));
    }
    Ok(candles)
}

/// Build and validate the market (no Python involved: callable with the GIL released).
pub fn to_market(
    candles: &Candles,
    symbol: &str,
    timeframe: Timeframe,
    allow_crossed_quotes: bool,
) -> Result<Converted> {
    if let Some(problem) = &candles.problem {
        return Err(StrategyError::data(problem.clone()));
    }
    if candles.prices.len() != PRICE_COLUMNS.len() {
        return Err(StrategyError::InternalError { reason: format!("{} price columns", candles.prices.len()) });
    }
    // Columns are shared buffers: the clones below are reference counts, not copies.
    let col = |i: usize| candles.prices[i].clone();
    let market = MarketData {
        symbol: symbol.to_string(),
        timeframe,
        timestamp_us: candles.timestamp_us.clone(),
        bid_open: col(0),
        bid_high: col(1),
        bid_low: col(2),
        bid_close: col(3),
        bid_volume: col(4),
        ask_open: col(5),
        ask_high: col(6),
        ask_low: col(7),
        ask_close: col(8),
        ask_volume: col(9),
    };
    market.validate(allow_crossed_quotes)?;
    Ok(Converted { market, direct: candles.direct.clone(), converted: candles.converted.clone() })
}

/// Parse a timeframe name (E4002 when unknown).
pub fn parse_timeframe(name: &str) -> Result<Timeframe> {
    Timeframe::from_str(name).ok_or_else(|| StrategyError::param("timeframe", format!("unknown timeframe '{name}'")))
}

/// Check candles exactly as a backtest would (E4004 on the first violation) and report the row
/// count, the columns read straight from the caller's buffer (`zero_copy_columns`: no conversion
/// in Python, one copy into the core) and those combined from chunks or cast first
/// (`copied_columns`).
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
    let candles = read_candles(py, candles)?;
    let candles_ref = &candles;
    let result = crate::interrupt::interruptible(py, || {
        to_market(candles_ref, symbol, tf, allow_crossed_quotes).map(|c| (c.market.len(), c.direct, c.converted))
    })?;
    let (rows, direct, converted) = result.map_err(|e| err(py, e))?;
    let out = PyDict::new(py);
    out.set_item("rows", rows)?;
    out.set_item("zero_copy_columns", direct)?;
    out.set_item("copied_columns", converted)?;
    Ok(out)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(validate_candles, m)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candles(n: usize) -> Candles {
        let prices = PRICE_COLUMNS
            .iter()
            .map(|name| Column::from(vec![if name.starts_with("ask") { 1.1001 } else { 1.1 }; n]))
            .collect();
        Candles {
            problem: None,
            timestamp_us: Column::from((0..n as i64).map(|i| i * 60_000_000).collect::<Vec<_>>()),
            prices,
            direct: vec![String::from("timestamp_us")],
            converted: Vec::new(),
        }
    }

    #[test]
    fn columns_are_shared_not_copied_again() {
        let c = candles(5);
        let m = to_market(&c, "EURUSD", Timeframe::M1, false).unwrap();
        assert_eq!(m.market.len(), 5);
        assert!(std::ptr::eq(m.market.bid_close.as_ptr(), c.prices[3].as_ptr()));
        assert_eq!(m.direct, vec!["timestamp_us"]);
    }

    #[test]
    fn a_schema_problem_and_every_violation_is_e4004() {
        let mut bad = candles(3);
        bad.problem = Some(String::from("missing column 'ask_close'"));
        let mut unsorted = candles(3);
        unsorted.timestamp_us = Column::from(vec![0, 120_000_000, 60_000_000]);
        for (c, needle) in
            [(bad, "missing column 'ask_close'"), (unsorted, "strictly increasing"), (candles(0), "empty")]
        {
            let e = to_market(&c, "EURUSD", Timeframe::M1, false).err().unwrap();
            assert_eq!(e.code(), "E4004", "{e}");
            assert!(e.to_string().contains(needle), "{e} should mention {needle}");
        }
    }
}
