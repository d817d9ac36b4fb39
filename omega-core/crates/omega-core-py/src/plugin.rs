//! `PyCapsule` → validated `PluginHandle`: the only module of this crate that uses `unsafe`.
//! Order of checks (style point 5): capsule name, then — inside `PluginHandle::from_raw` — ABI
//! major, table size and every slot, all reported together as one E4007 naming the provider.
//! The handle keeps the capsule object alive, and with it the plugin's extension module.

use omega_core::plugin::{check_capsule_name, PluginHandle, PluginTable};
use omega_core::StrategyError;
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyCapsuleMethods};

/// Validate `capsule` as a strategy plugin table supplied by package `provider`.
pub fn handle_from_capsule(capsule: &Bound<'_, PyCapsule>, provider: &str) -> Result<PluginHandle, StrategyError> {
    let internal = |e: PyErr| StrategyError::PluginIncompatible {
        reason: format!("plugin package '{provider}': unreadable capsule: {e}"),
    };
    let name = capsule.name().map_err(internal)?;
    // SAFETY: the name pointer comes from a live capsule and is only read here, while we hold the
    // GIL and before any Python code could rename the capsule.
    let name = name.map(|n| unsafe { n.as_cstr() });
    check_capsule_name(name).map_err(|e| match e {
        StrategyError::PluginIncompatible { reason } => {
            StrategyError::PluginIncompatible { reason: format!("plugin package '{provider}': {reason}") }
        }
        other => other,
    })?;
    let pointer = capsule.pointer_checked(name).map_err(internal)?;
    let table = pointer.as_ptr().cast::<PluginTable>().cast_const();
    // SAFETY: the capsule carries the name reserved for omega strategy tables, whose contract is a
    // pointer to a static `PluginTable` in the plugin's (never unloaded) extension module; `from_raw`
    // reads only the 16-byte header until it has checked the major and the declared size. The
    // capsule, and with it the module, is kept alive by the handle (`with_owner`).
    let handle = unsafe { PluginHandle::from_raw(table, provider) }?;
    Ok(handle.with_owner(Box::new(capsule.clone().unbind())))
}
