//! The core's indicators for Python use: an `IndicatorCache` over one market (the core's
//! `MarketHost`: each series computed once, GIL released while computing) and the one-shot
//! `indicator_series`. The same implementation serves every strategy wheel, so what Python sees
//! here is bit for bit what a strategy reads. Results are copied into fresh (writable) numpy arrays.
//!
//! A key tuple is `(kind, side, timeframe, params)`: `kind` a name (`"ema"`, `"zscore_ema"`, …)
//! or the ABI number; `side` `"bid"`/`"ask"`; `timeframe` None (primary), a name or minutes;
//! `params` a sequence of floats (docs/indicators.md). Shorter tuples default the rest.

use std::sync::Arc;

use omega_core::config::HtfAnchor;
use omega_core::indicators::key::KEY_PARAMS;
use omega_core::indicators::{IndicatorHost, IndicatorKey, IndicatorKind, MarketHost, PriceSide};
use omega_core::{StrategyError, Timeframe};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::buffers::numpy_array;
use crate::errors::err;
use crate::interrupt::interruptible;
use crate::market::{parse_timeframe, read_candles, to_market};

const KINDS: [(&str, IndicatorKind); 14] = [
    ("ema", IndicatorKind::Ema),
    ("sma", IndicatorKind::Sma),
    ("rolling_std", IndicatorKind::RollingStd),
    ("bollinger_upper", IndicatorKind::BollingerUpper),
    ("bollinger_lower", IndicatorKind::BollingerLower),
    ("atr", IndicatorKind::Atr),
    ("rsi", IndicatorKind::Rsi),
    ("zscore_ema", IndicatorKind::ZScoreEma),
    ("zscore_sma", IndicatorKind::ZScoreSma),
    ("kalman_mean", IndicatorKind::KalmanMean),
    ("kalman_zscore", IndicatorKind::KalmanZScore),
    ("garch_sigma", IndicatorKind::GarchSigma),
    ("kalman_garch_zscore", IndicatorKind::KalmanGarchZScore),
    ("close", IndicatorKind::Close),
];

fn bad_key(what: impl Into<String>) -> StrategyError {
    StrategyError::IndicatorError { indicator: String::from("key"), reason: what.into() }
}

fn parse_kind(obj: &Bound<'_, PyAny>) -> Result<IndicatorKind, StrategyError> {
    if let Ok(n) = obj.extract::<u32>() {
        return IndicatorKind::from_u32(n).ok_or_else(|| bad_key(format!("unknown indicator kind {n}")));
    }
    let name: String = obj.extract().map_err(|_| bad_key("indicator kind must be a name or an integer"))?;
    let lower = name.trim().to_lowercase();
    KINDS.iter().find(|(n, _)| *n == lower).map(|(_, k)| *k).ok_or_else(|| {
        let names: Vec<&str> = KINDS.iter().map(|(n, _)| *n).collect();
        bad_key(format!("unknown indicator kind '{name}' (one of {})", names.join(", ")))
    })
}

fn parse_side(obj: Option<&Bound<'_, PyAny>>) -> Result<PriceSide, StrategyError> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(PriceSide::Bid);
    };
    if let Ok(n) = obj.extract::<u32>() {
        return match n {
            0 => Ok(PriceSide::Bid),
            1 => Ok(PriceSide::Ask),
            _ => Err(bad_key(format!("unknown price side {n}"))),
        };
    }
    match obj.extract::<String>().map(|s| s.trim().to_lowercase()).as_deref() {
        Ok("bid") => Ok(PriceSide::Bid),
        Ok("ask") => Ok(PriceSide::Ask),
        _ => Err(bad_key("price side must be 'bid' or 'ask'")),
    }
}

fn parse_key_timeframe(obj: Option<&Bound<'_, PyAny>>) -> Result<Option<Timeframe>, StrategyError> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(None);
    };
    if let Ok(m) = obj.extract::<u32>() {
        if m == 0 {
            return Ok(None);
        }
        return Timeframe::from_minutes(m).map(Some).ok_or_else(|| bad_key(format!("no timeframe of {m} minutes")));
    }
    let name: String = obj.extract().map_err(|_| bad_key("timeframe must be None, a name or minutes"))?;
    Timeframe::from_str(&name).map(Some).ok_or_else(|| bad_key(format!("unknown timeframe '{name}'")))
}

fn parse_params(obj: Option<&Bound<'_, PyAny>>) -> Result<Vec<f64>, StrategyError> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(Vec::new());
    };
    let params: Vec<f64> = obj.extract().map_err(|_| bad_key("params must be a sequence of numbers"))?;
    if params.len() > KEY_PARAMS {
        return Err(bad_key(format!("at most {KEY_PARAMS} params, got {}", params.len())));
    }
    Ok(params)
}

/// `(kind, side, timeframe, params)` → `IndicatorKey` (E4003 on anything malformed).
pub fn parse_key(key: &Bound<'_, PyAny>) -> Result<IndicatorKey, StrategyError> {
    let tuple = key.cast::<PyTuple>().map_err(|_| bad_key("a key is a tuple (kind, side, timeframe, params)"))?;
    if tuple.is_empty() || tuple.len() > 4 {
        return Err(bad_key(format!("a key tuple has 1 to 4 items, got {}", tuple.len())));
    }
    let item = |i: usize| tuple.get_item(i).ok();
    let kind = parse_kind(&tuple.get_item(0).map_err(|_| bad_key("missing kind"))?)?;
    let side = parse_side(item(1).as_ref())?;
    let tf = parse_key_timeframe(item(2).as_ref())?;
    let params = parse_params(item(3).as_ref())?;
    Ok(IndicatorKey::new(kind, side, tf, &params))
}

fn parse_anchor(name: &str) -> Result<HtfAnchor, StrategyError> {
    serde_json::from_value(serde_json::Value::String(name.to_string()))
        .map_err(|_| StrategyError::param("htf_anchor", format!("'{name}' is not one of utc, new_york_1700")))
}

/// Compute one series without the GIL (copied out of the host).
fn compute(py: Python<'_>, host: &MarketHost, key: &IndicatorKey) -> PyResult<Vec<f64>> {
    interruptible(py, || host.series(key).map(<[f64]>::to_vec))?.map_err(|e| err(py, e))
}

fn build_host(
    py: Python<'_>,
    candles: &Bound<'_, PyAny>,
    timeframe: &str,
    symbol: &str,
    htf_anchor: &str,
    allow_crossed_quotes: bool,
) -> PyResult<MarketHost> {
    let tf = parse_timeframe(timeframe).map_err(|e| err(py, e))?;
    let anchor = parse_anchor(htf_anchor).map_err(|e| err(py, e))?;
    let candles = read_candles(py, candles)?;
    let candles_ref = &candles;
    interruptible(py, || {
        to_market(candles_ref, symbol, tf, allow_crossed_quotes).map(|c| MarketHost::new(c.market, anchor))
    })?
    .map_err(|e| err(py, e))
}

/// The core's indicator store over one market, for Python use. Every series is computed once
/// (memoised) and returned as a new float64 numpy array (one value per bar of its timeframe).
/// Passed to `run_backtest_rust` in place of candles, it is shared by every run of a sweep: the
/// market is validated once and each series computed once for all of them.
#[pyclass(module = "omega._native", name = "IndicatorCache", frozen)]
pub struct PyIndicatorCache {
    host: Arc<MarketHost>,
    allow_crossed_quotes: bool,
}

impl PyIndicatorCache {
    /// The shared host and whether it was validated allowing crossed quotes.
    pub fn shared(&self) -> (Arc<MarketHost>, bool) {
        (Arc::clone(&self.host), self.allow_crossed_quotes)
    }
}

#[pymethods]
impl PyIndicatorCache {
    /// Validate `candles` (E4004) and wrap them; H4/D1 bins follow `htf_anchor`.
    #[new]
    #[pyo3(signature = (candles, *, timeframe="M1", symbol="EURUSD", htf_anchor="utc", allow_crossed_quotes=false))]
    fn new(
        py: Python<'_>,
        candles: &Bound<'_, PyAny>,
        timeframe: &str,
        symbol: &str,
        htf_anchor: &str,
        allow_crossed_quotes: bool,
    ) -> PyResult<Self> {
        let host = build_host(py, candles, timeframe, symbol, htf_anchor, allow_crossed_quotes)?;
        Ok(PyIndicatorCache { host: Arc::new(host), allow_crossed_quotes })
    }

    /// The series named by a key tuple `(kind, side, timeframe, params)` (E4003 when invalid).
    fn series<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let key = parse_key(key).map_err(|e| err(py, e))?;
        numpy_array(py, &compute(py, &self.host, &key)?, true)
    }

    /// Bars of `timeframe` (None = primary) as numpy arrays: `open_time_us`, `close_time_us`,
    /// `bid_*`/`ask_*` OHLCV and, for a higher timeframe, `visible` (latest closed HTF bar per
    /// primary bar, −1 before the first).
    #[pyo3(signature = (timeframe=None))]
    fn bars<'py>(&self, py: Python<'py>, timeframe: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyDict>> {
        let tf = parse_key_timeframe(timeframe).map_err(|e| err(py, e))?;
        let host = &self.host;
        let bars = interruptible(py, || host.bars(tf))?.map_err(|e| err(py, e))?;
        let d = PyDict::new(py);
        d.set_item("open_time_us", numpy_array(py, bars.open_time_us, true)?)?;
        d.set_item("close_time_us", numpy_array(py, bars.close_time_us, true)?)?;
        for (name, col) in [
            ("bid_open", bars.bid_open),
            ("bid_high", bars.bid_high),
            ("bid_low", bars.bid_low),
            ("bid_close", bars.bid_close),
            ("bid_volume", bars.bid_volume),
            ("ask_open", bars.ask_open),
            ("ask_high", bars.ask_high),
            ("ask_low", bars.ask_low),
            ("ask_close", bars.ask_close),
            ("ask_volume", bars.ask_volume),
        ] {
            d.set_item(name, numpy_array(py, col, true)?)?;
        }
        if let Some(v) = bars.visible {
            d.set_item("visible", numpy_array(py, v, true)?)?;
        }
        Ok(d)
    }

    /// Number of distinct series computed so far (each key at most once).
    #[getter]
    fn computed_series(&self) -> usize {
        self.host.computed_series()
    }

    /// `"utc"` or `"new_york_1700"`: how H4/D1 bins are anchored.
    #[getter]
    fn htf_anchor(&self) -> &'static str {
        match self.host.anchor() {
            HtfAnchor::Utc => "utc",
            HtfAnchor::NewYork1700 => "new_york_1700",
        }
    }

    /// Primary timeframe name.
    #[getter]
    fn timeframe(&self) -> &'static str {
        self.host.market().timeframe.as_str()
    }

    #[getter]
    fn symbol(&self) -> String {
        self.host.market().symbol.clone()
    }

    fn __len__(&self) -> usize {
        self.host.market().len()
    }

    fn __repr__(&self) -> String {
        let m = self.host.market();
        format!(
            "IndicatorCache(symbol={:?}, timeframe={}, bars={}, computed_series={})",
            m.symbol,
            m.timeframe,
            m.len(),
            self.host.computed_series()
        )
    }
}

/// One series of a key tuple `(kind, side, timeframe, params)` on `candles` (a one-shot
/// `IndicatorCache`).
#[pyfunction]
#[pyo3(signature = (candles, key, *, timeframe="M1", htf_anchor="utc"))]
fn indicator_series<'py>(
    py: Python<'py>,
    candles: &Bound<'py, PyAny>,
    key: &Bound<'py, PyAny>,
    timeframe: &str,
    htf_anchor: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let key = parse_key(key).map_err(|e| err(py, e))?;
    let host = build_host(py, candles, timeframe, "EURUSD", htf_anchor, true)?;
    numpy_array(py, &compute(py, &host, &key)?, true)
}

/// Names of the indicator kinds, in ABI order.
#[pyfunction]
fn indicator_kinds() -> Vec<(&'static str, u32)> {
    KINDS.iter().map(|(n, k)| (*n, *k as u32)).collect()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyIndicatorCache>()?;
    m.add_function(wrap_pyfunction!(indicator_series, m)?)?;
    m.add_function(wrap_pyfunction!(indicator_kinds, m)?)
}
