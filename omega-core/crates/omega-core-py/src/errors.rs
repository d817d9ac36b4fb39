//! `StrategyError` → the coded Python exception of `omega.errors` (looked up by code at raise
//! time, so Rust and Python raise the same classes), with the message and a `context` dict.
//! Also re-exports those classes from `omega._native`.

use std::any::Any;

use omega_core::StrategyError;
use pyo3::exceptions::{PyKeyboardInterrupt, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Context entries of an error beyond its message (the variant's named fields).
fn variant_context(e: &StrategyError) -> Vec<(&'static str, String)> {
    use StrategyError::*;
    match e {
        StrategyNotFound { name } => vec![("strategy", name.clone())],
        InvalidParameter { name, .. } => vec![("key", name.clone())],
        IndicatorError { indicator, .. } => vec![("indicator", indicator.clone())],
        StrategyPanicked { strategy, message } => vec![("strategy", strategy.clone()), ("panic", message.clone())],
        ConfigError { reason } => unknown_field(reason).map(|k| vec![("key", k)]).unwrap_or_default(),
        DataError { .. }
        | PositionLimitExceeded { .. }
        | InvalidSignal { .. }
        | PluginIncompatible { .. }
        | InternalError { .. }
        | Interrupted => Vec::new(),
    }
}

/// The key serde names in "unknown field `x`" (config JSON errors), if any.
fn unknown_field(reason: &str) -> Option<String> {
    let rest = reason.split("unknown field `").nth(1)?;
    rest.split('`').next().map(str::to_string)
}

/// Build the Python exception for `e`, adding `extra` context entries (e.g. the strategy name).
pub fn to_pyerr(py: Python<'_>, e: &StrategyError, extra: &[(&str, &str)]) -> PyErr {
    if matches!(e, StrategyError::Interrupted) {
        // E4010 is the core's word for "stopped by an interrupt": Python's is KeyboardInterrupt
        return PyKeyboardInterrupt::new_err("interrupted");
    }
    let code = e.code();
    let message = e.to_string();
    let build = || -> PyResult<PyErr> {
        let ctx = PyDict::new(py);
        ctx.set_item("code", code)?;
        for (k, v) in variant_context(e) {
            ctx.set_item(k, v)?;
        }
        for (k, v) in extra {
            if !ctx.contains(*k)? {
                ctx.set_item(*k, *v)?;
            }
        }
        let cls = py.import("omega.errors")?.getattr("error_for_code")?.call1((code,))?;
        let exc = cls.call1((message.as_str(), ctx))?;
        Ok(PyErr::from_value(exc))
    };
    build().unwrap_or_else(|_| {
        // omega.errors is part of this wheel; this fallback only fires if it was removed.
        let text = format!("[{code}] {message}");
        if matches!(code, "E4001" | "E4002" | "E4004") {
            PyValueError::new_err(text)
        } else {
            PyRuntimeError::new_err(text)
        }
    })
}

/// `to_pyerr` without extra context.
pub fn err(py: Python<'_>, e: StrategyError) -> PyErr {
    to_pyerr(py, &e, &[])
}

/// The text of a caught panic payload.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        String::from("(non-string panic payload)")
    }
}

/// A panic inside the core (not inside a strategy, whose panics the plugin boundary reports as
/// E4008) is an Omega bug: E4009.
pub fn core_panic(payload: &(dyn Any + Send)) -> StrategyError {
    StrategyError::InternalError { reason: format!("panic in omega-core: {}", panic_message(payload)) }
}

/// Re-export `omega.errors`' classes as attributes of the native module.
pub fn register(py: Python<'_>, m: &Bound<'_, PyModule>) -> PyResult<()> {
    let errors = py.import("omega.errors")?;
    let classes = errors.getattr("ERROR_CLASSES")?;
    for cls in classes.try_iter()? {
        let cls = cls?;
        let name: String = cls.getattr("__name__")?.extract()?;
        m.add(name.as_str(), cls)?;
    }
    m.add("OmegaError", errors.getattr("OmegaError")?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_unknown_field_is_the_key() {
        assert_eq!(unknown_field("config JSON: unknown field `bogus`, expected one of `a`"), Some("bogus".into()));
        assert_eq!(unknown_field("config JSON: missing field `symbol`"), None);
        let ctx = variant_context(&StrategyError::config("config JSON: unknown field `colour`, expected x"));
        assert_eq!(ctx, vec![("key", String::from("colour"))]);
        let ctx = variant_context(&StrategyError::param("engine.seed", "bad"));
        assert_eq!(ctx, vec![("key", String::from("engine.seed"))]);
    }

    #[test]
    fn panic_payloads() {
        let p = std::panic::catch_unwind(|| panic!("boom {}", 1)).unwrap_err();
        assert_eq!(panic_message(p.as_ref()), "boom 1");
        let p = std::panic::catch_unwind(|| panic!("static")).unwrap_err();
        assert_eq!(core_panic(p.as_ref()).code(), "E4009");
    }
}
