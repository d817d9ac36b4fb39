//! # omega-core-py: the native module `omega._native`
//!
//! Thin PyO3 bindings over the pure `omega-core` crate: they convert (candle columns → market,
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

pub mod buffers;
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

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
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
