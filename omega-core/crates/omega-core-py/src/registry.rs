//! `STRATEGY_REGISTRY`: the strategies whose Rust plugin tables are registered in this process
//! (filled by `register_plugin` at discovery time, architecture §7, instead of a compile-time
//! static). Entries are never removed: a handle may be in use by a running backtest.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use omega_core::plugin::PluginHandle;
use omega_core::StrategyError;
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyDict, PyList};

use crate::errors::{err, to_pyerr};
use crate::plugin::handle_from_capsule;

type Registry = BTreeMap<String, Arc<PluginHandle>>;

fn registry() -> MutexGuard<'static, Registry> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    // A poisoned lock only means a panic elsewhere while holding it; the map itself stays valid.
    REGISTRY.get_or_init(|| Mutex::new(BTreeMap::new())).lock().unwrap_or_else(|p| p.into_inner())
}

/// The handle registered under `name`, or the sorted registered names when there is none.
pub fn lookup(name: &str) -> Result<Arc<PluginHandle>, Vec<String>> {
    let reg = registry();
    reg.get(name).cloned().ok_or_else(|| reg.keys().cloned().collect())
}

/// Register a strategy plugin capsule provided by package `provider`; returns the strategy name.
///
/// Checks the capsule name, ABI major, table size, slots and declared strings (E4007), and, when
/// `expected_name` is given, that the capsule's strategy has that name (E4002). The same name
/// registered again by the same provider is a no-op; by another provider it is an E4002 conflict.
/// On any error nothing is registered.
#[pyfunction]
#[pyo3(signature = (capsule, provider, expected_name=None))]
fn register_plugin(
    py: Python<'_>,
    capsule: &Bound<'_, PyAny>,
    provider: &str,
    expected_name: Option<&str>,
) -> PyResult<String> {
    let mut names = register_batch(py, &[(capsule.clone(), provider.to_string(), expected_name.map(String::from))])?;
    Ok(names.pop().unwrap_or_default())
}

/// Register several capsules at once, all or nothing: `items` are `(capsule, provider,
/// expected_name or None)`. Every capsule is validated and every name checked (against its expected
/// name, the registry and the rest of the batch) before any is registered; the first problem is
/// raised and the registry is left as it was. Returns the strategy names in order.
#[pyfunction]
fn register_plugins(py: Python<'_>, items: Vec<(Bound<'_, PyAny>, String, Option<String>)>) -> PyResult<Vec<String>> {
    register_batch(py, &items)
}

fn register_batch(py: Python<'_>, items: &[(Bound<'_, PyAny>, String, Option<String>)]) -> PyResult<Vec<String>> {
    let mut handles = Vec::with_capacity(items.len());
    for (capsule, provider, expected) in items {
        let capsule = capsule.cast::<PyCapsule>().map_err(|_| {
            err(
                py,
                StrategyError::PluginIncompatible {
                    reason: format!(
                        "plugin package '{provider}' supplied a {} instead of a PyCapsule",
                        type_name(capsule)
                    ),
                },
            )
        })?;
        let handle = handle_from_capsule(capsule, provider).map_err(|e| to_pyerr(py, &e, &[("plugin", provider)]))?;
        if let Some(expected) = expected {
            if handle.name() != expected {
                let e = StrategyError::ConfigError {
                    reason: format!(
                        "plugin package '{provider}': its capsule provides strategy '{}' but the spec names \
                         '{expected}'",
                        handle.name()
                    ),
                };
                return Err(to_pyerr(
                    py,
                    &e,
                    &[("plugin", provider), ("strategy", expected), ("capsule_strategy", handle.name())],
                ));
            }
        }
        handles.push(handle);
    }
    let names: Vec<String> = handles.iter().map(|h| h.name().to_string()).collect();
    // Decide under the lock, build any Python error after releasing it (building one runs Python
    // code, which may let another thread in that then needs the lock).
    let conflict = {
        let mut reg = registry();
        let mut conflict = None;
        for (k, h) in handles.iter().enumerate() {
            let earlier = handles[..k].iter().find(|o| o.name() == h.name()).map(|o| o.provider());
            let owner = reg.get(h.name()).map(|o| o.provider()).or(earlier);
            if let Some(owner) = owner.filter(|o| *o != h.provider()) {
                conflict = Some((h.name().to_string(), h.provider().to_string(), owner.to_string()));
                break;
            }
        }
        if conflict.is_none() {
            for h in handles {
                // A re-registration by the same provider keeps the existing handle.
                if !reg.contains_key(h.name()) {
                    reg.insert(h.name().to_string(), Arc::new(h));
                }
            }
        }
        conflict
    };
    match conflict {
        None => Ok(names),
        Some((name, provider, owner)) => {
            let e = StrategyError::ConfigError {
                reason: format!(
                    "strategy '{name}' from package '{provider}' conflicts with the one already registered by '{owner}'"
                ),
            };
            Err(to_pyerr(py, &e, &[("strategy", &name), ("plugin", &provider), ("registered_by", &owner)]))
        }
    }
}

/// Whether `name` is a valid strategy name (the rule plugin tables are checked against; the Python
/// side's `omega.hookspecs` must agree, which a test checks).
#[pyfunction]
fn valid_strategy_name(name: &str) -> bool {
    omega_core::plugin::valid_strategy_name(name)
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| String::from("?"))
}

/// The registered Rust strategies (the seed's `STRATEGY_REGISTRY`): supports `in`, iteration over
/// names (sorted), `len` and `get(name)`.
#[pyclass(module = "omega._native", name = "StrategyRegistry", frozen)]
pub struct StrategyRegistry;

#[pymethods]
impl StrategyRegistry {
    fn __contains__(&self, name: &Bound<'_, PyAny>) -> bool {
        name.extract::<&str>().map(|n| registry().contains_key(n)).unwrap_or(false)
    }

    fn __len__(&self) -> usize {
        registry().len()
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let names: Vec<String> = registry().keys().cloned().collect();
        Ok(PyList::new(py, names)?.as_any().try_iter()?.into_any())
    }

    /// Names, sorted.
    fn names(&self) -> Vec<String> {
        registry().keys().cloned().collect()
    }

    /// `{name, version, core_version, provider, abi_minor, panic_unwind}` of a registered strategy
    /// (`panic_unwind` is None for ABI 1.0 plugins, which do not declare it), or None.
    fn get<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(h) = registry().get(name).cloned() else {
            return Ok(None);
        };
        let d = PyDict::new(py);
        d.set_item("name", h.name())?;
        d.set_item("version", h.version())?;
        d.set_item("core_version", h.core_version())?;
        d.set_item("provider", h.provider())?;
        d.set_item("abi_minor", h.abi_minor())?;
        d.set_item("panic_unwind", h.panic_unwind())?;
        Ok(Some(d))
    }

    fn __repr__(&self) -> String {
        format!("StrategyRegistry({:?})", registry().keys().collect::<Vec<_>>())
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<StrategyRegistry>()?;
    m.add("STRATEGY_REGISTRY", StrategyRegistry)?;
    m.add_function(wrap_pyfunction!(register_plugin, m)?)?;
    m.add_function(wrap_pyfunction!(register_plugins, m)?)?;
    m.add_function(wrap_pyfunction!(valid_strategy_name, m)?)
}
