//! `StrategyConfig`: the seed's config class (symbol, timeframe, enabled_scenarios,
//! direction_filter, params) plus the `engine` section, backed by the core's serde type so that
//! what Python builds is exactly what the engine and plugins receive (as JSON). Every constructor
//! and setter validates (E4002 naming the key).

use omega_core::config as core;
use omega_core::StrategyError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use crate::errors::err;

/// Python object → JSON value through the `json` module (NaN/inf and non-JSON objects: E4002).
fn py_to_json(py: Python<'_>, obj: &Bound<'_, PyAny>, key: &str) -> PyResult<serde_json::Value> {
    let kwargs = PyDict::new(py);
    kwargs.set_item("allow_nan", false)?;
    let text = py
        .import("json")?
        .getattr("dumps")?
        .call((obj,), Some(&kwargs))
        .map_err(|e| err(py, StrategyError::param(key, format!("not representable as JSON: {e}"))))?;
    let text: String = text.extract()?;
    serde_json::from_str(&text).map_err(|e| err(py, StrategyError::param(key, e.to_string())))
}

/// JSON value → Python object through the `json` module.
pub fn json_to_py<'py>(py: Python<'py>, value: &serde_json::Value) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(value).map_err(|e| err(py, StrategyError::config(e.to_string())))?;
    py.import("json")?.getattr("loads")?.call1((text,))
}

/// The seed's `StrategyConfig` with the `engine` section (see `omega_core::config`).
#[pyclass(module = "omega._native", name = "StrategyConfig", from_py_object)]
#[derive(Clone, Debug)]
pub struct StrategyConfig {
    pub inner: core::StrategyConfig,
}

impl StrategyConfig {
    fn checked(py: Python<'_>, inner: core::StrategyConfig) -> PyResult<Self> {
        inner.validate().map_err(|e| err(py, e))?;
        Ok(StrategyConfig { inner })
    }

    fn update(&mut self, py: Python<'_>, f: impl FnOnce(&mut core::StrategyConfig)) -> PyResult<()> {
        let mut next = self.inner.clone();
        f(&mut next);
        next.validate().map_err(|e| err(py, e))?;
        self.inner = next;
        Ok(())
    }

    /// A config from any accepted Python form: this class, JSON text or a dict.
    pub fn from_any(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<Self> {
        if let Ok(c) = obj.cast::<StrategyConfig>() {
            return Ok(c.borrow().clone());
        }
        if let Ok(s) = obj.cast::<PyString>() {
            return Self::from_json(py, s.to_str()?);
        }
        if obj.is_instance_of::<PyDict>() {
            let value = py_to_json(py, obj, "config")?;
            let text = value.to_string();
            return Self::from_json(py, &text);
        }
        Err(err(
            py,
            StrategyError::config(format!(
                "config must be a StrategyConfig, JSON text or a dict, not {}",
                obj.get_type().name()?
            )),
        ))
    }
}

#[pymethods]
impl StrategyConfig {
    /// A validated config; omitted fields take the seed defaults.
    #[new]
    #[pyo3(signature = (symbol, timeframe, enabled_scenarios=None, direction_filter=None, params=None, engine=None))]
    fn new(
        py: Python<'_>,
        symbol: &Bound<'_, PyAny>,
        timeframe: &Bound<'_, PyAny>,
        enabled_scenarios: Option<&Bound<'_, PyAny>>,
        direction_filter: Option<&Bound<'_, PyAny>>,
        params: Option<&Bound<'_, PyAny>>,
        engine: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let mut inner =
            core::StrategyConfig::new(arg::<String>(py, symbol, "symbol")?, arg::<String>(py, timeframe, "timeframe")?);
        if let Some(s) = enabled_scenarios {
            inner.enabled_scenarios = scenarios(py, s)?;
        }
        if let Some(d) = direction_filter {
            inner.direction_filter = arg(py, d, "direction_filter")?;
        }
        if let Some(p) = params {
            inner.params = params_from_py(py, dict_arg(py, p, "params")?)?;
        }
        if let Some(e) = engine {
            inner.engine = engine_from_py(py, dict_arg(py, e, "engine")?)?;
        }
        Self::checked(py, inner)
    }

    /// Parse and validate JSON (E4002 naming the offending key).
    #[staticmethod]
    fn from_json(py: Python<'_>, json_str: &str) -> PyResult<Self> {
        let inner = core::StrategyConfig::from_json(json_str).map_err(|e| err(py, e))?;
        Ok(StrategyConfig { inner })
    }

    /// The JSON text handed to the engine and plugins (all defaults filled in).
    fn to_json(&self) -> String {
        self.inner.to_json()
    }

    /// The config as a plain dict (same content as `to_json`).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let value = serde_json::to_value(&self.inner).map_err(|e| err(py, StrategyError::config(e.to_string())))?;
        json_to_py(py, &value)
    }

    #[getter]
    fn symbol(&self) -> String {
        self.inner.symbol.clone()
    }

    #[setter]
    fn set_symbol(&mut self, py: Python<'_>, v: String) -> PyResult<()> {
        self.update(py, |c| c.symbol = v)
    }

    #[getter]
    fn timeframe(&self) -> String {
        self.inner.timeframe.clone()
    }

    #[setter]
    fn set_timeframe(&mut self, py: Python<'_>, v: String) -> PyResult<()> {
        self.update(py, |c| c.timeframe = v)
    }

    #[getter]
    fn enabled_scenarios(&self) -> Vec<u32> {
        self.inner.enabled_scenarios.clone()
    }

    #[setter]
    fn set_enabled_scenarios(&mut self, py: Python<'_>, v: &Bound<'_, PyAny>) -> PyResult<()> {
        let v = scenarios(py, v)?;
        self.update(py, |c| c.enabled_scenarios = v)
    }

    #[getter]
    fn direction_filter(&self) -> String {
        self.inner.direction_filter.clone()
    }

    #[setter]
    fn set_direction_filter(&mut self, py: Python<'_>, v: String) -> PyResult<()> {
        self.update(py, |c| c.direction_filter = v)
    }

    /// Strategy parameters (a copy: assign a new dict to change them).
    #[getter]
    fn params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_to_py(py, &serde_json::Value::Object(self.inner.params.clone()))
    }

    #[setter]
    fn set_params(&mut self, py: Python<'_>, v: &Bound<'_, PyDict>) -> PyResult<()> {
        let p = params_from_py(py, v)?;
        self.update(py, |c| c.params = p)
    }

    /// Engine settings with every default filled in (a copy: assign a new dict to change them).
    #[getter]
    fn engine<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let value =
            serde_json::to_value(&self.inner.engine).map_err(|e| err(py, StrategyError::config(e.to_string())))?;
        json_to_py(py, &value)
    }

    #[setter]
    fn set_engine(&mut self, py: Python<'_>, v: &Bound<'_, PyDict>) -> PyResult<()> {
        let e = engine_from_py(py, v)?;
        self.update(py, |c| c.engine = e)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<StrategyConfig>().map(|o| o.borrow().inner == self.inner).unwrap_or(false)
    }

    fn __repr__(&self) -> String {
        format!("StrategyConfig({})", self.inner.to_json())
    }
}

/// A constructor argument of the expected Python type, or E4002 naming `key` (not pyo3's bare
/// `TypeError`/`OverflowError`).
fn arg<'py, T: FromPyObjectOwned<'py>>(py: Python<'py>, obj: &Bound<'py, PyAny>, key: &str) -> PyResult<T> {
    obj.extract::<T>().map_err(|e| {
        let e: PyErr = e.into();
        err(py, StrategyError::param(key, format!("wrong type or value: {e}")))
    })
}

fn dict_arg<'a, 'py>(py: Python<'py>, obj: &'a Bound<'py, PyAny>, key: &str) -> PyResult<&'a Bound<'py, PyDict>> {
    obj.cast::<PyDict>()
        .map_err(|_| err(py, StrategyError::param(key, format!("must be a dict, not {}", type_name(obj)))))
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| String::from("?"))
}

/// Scenario numbers: a sequence of whole numbers in 0..=u32::MAX (E4002 naming the first that is not).
fn scenarios(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<Vec<u32>> {
    let items: Vec<Bound<'_, PyAny>> = arg(py, obj, "enabled_scenarios")?;
    items
        .iter()
        .map(|item| {
            item.extract::<u32>().map_err(|_| {
                let shown = item.repr().map(|r| r.to_string()).unwrap_or_else(|_| type_name(item));
                err(
                    py,
                    StrategyError::param(
                        "enabled_scenarios",
                        format!("scenario {shown} is not a whole number in 0..={}", u32::MAX),
                    ),
                )
            })
        })
        .collect()
}

fn params_from_py(py: Python<'_>, d: &Bound<'_, PyDict>) -> PyResult<serde_json::Map<String, serde_json::Value>> {
    match py_to_json(py, d.as_any(), "params")? {
        serde_json::Value::Object(m) => Ok(m),
        _ => Err(err(py, StrategyError::param("params", "must be a dict"))),
    }
}

fn engine_from_py(py: Python<'_>, d: &Bound<'_, PyDict>) -> PyResult<core::EngineConfig> {
    let value = py_to_json(py, d.as_any(), "engine")?;
    // Through `from_json`, the one reader: its errors name the key (`engine.start_time_us`).
    let wrapped = serde_json::json!({"symbol": "X", "timeframe": "M1", "engine": value});
    core::StrategyConfig::from_json(&wrapped.to_string()).map(|c| c.engine).map_err(|e| err(py, e))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<StrategyConfig>()
}
