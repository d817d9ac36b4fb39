//! # omega-core-py: the native module `omega._native`
//!
//! Thin PyO3 bindings over the pure `omega-core` crate: they convert (Arrow → market columns,
//! Python ↔ JSON config, engine results → Python objects), validate at the door, release the GIL
//! for every long computation, and map each `StrategyError` to its coded Python exception. No engine
//! logic lives here. Modules share their names with the core (`market`, `config`, `engine`,
//! `indicators`, `plugin`, `registry`, `errors`, `scan`, `sweep`) and with the sections of `_native.pyi`.
//!
//! Only [`plugin`] may use `unsafe` (turning a `PyCapsule` into a validated plugin handle).
//!
//! Cargo features: none.
#![deny(unsafe_code)]

use pyo3::prelude::*;

pub mod config;
pub mod engine;
pub mod errors;
pub mod indicators;
pub mod interrupt;
pub mod market;
#[allow(unsafe_code)]
pub mod plugin;
pub mod registry;
pub mod scan;
pub mod sweep;

/// `(major, minor)` of the strategy plugin ABI this core accepts.
#[pyfunction]
fn abi_version() -> (u32, u32) {
    (omega_core::plugin::ABI_MAJOR, omega_core::plugin::ABI_MINOR)
}

/// Version of the omega-core crate compiled into this module.
#[pyfunction]
fn core_version() -> &'static str {
    omega_core::CORE_VERSION
}

/// Acquire NumPy's C API now, at import. rust-numpy does it on the first array it builds and
/// panics if that fails, which a Ctrl-C arriving during its imports makes it do: the first
/// numpy-returning call of a process, interrupted, raised `PanicException` (issue 13). Here a
/// failure is the import's ordinary exception, and later calls find the API already loaded.
fn acquire_numpy_api(py: Python<'_>) -> PyResult<()> {
    // rust-numpy's own imports, done first so that a failure is an exception, not its panic
    let numpy = py.import("numpy")?;
    py.import("numpy.lib")?;
    let version: String = numpy.getattr("__version__")?.extract()?;
    let core = if version.split('.').next().and_then(|m| m.parse::<u32>().ok()).is_some_and(|m| m >= 2) {
        "numpy._core.multiarray"
    } else {
        "numpy.core.multiarray"
    };
    py.import(core)?.getattr("_ARRAY_API")?;
    numpy::PyArray1::<f64>::from_slice(py, &[]);
    Ok(())
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    acquire_numpy_api(py)?;
    m.add("__version__", omega_core::CORE_VERSION)?;
    m.add("CAPSULE_NAME", omega_core::plugin::CAPSULE_NAME.to_string_lossy().into_owned())?;
    m.add_function(wrap_pyfunction!(abi_version, m)?)?;
    m.add_function(wrap_pyfunction!(core_version, m)?)?;
    config::register(m)?;
    market::register(m)?;
    indicators::register(m)?;
    registry::register(m)?;
    engine::register(m)?;
    scan::register(m)?;
    sweep::register(m)?;
    errors::register(py, m)?;
    Ok(())
}
