//! Registration of a plugin on the core side: the capsule-name check and [`PluginHandle`], a plugin
//! table validated once (name → major → size → every slot) with every mismatch reported together in
//! one E4007 naming the providing package and both versions.

use std::any::Any;
use std::ffi::CStr;
use std::fmt;

use super::abi::{
    PluginTable, StrView, TableHeader, ABI_MAJOR, ABI_MINOR, CAPSULE_NAME, PLUGIN_SLOTS, PLUGIN_TABLE_SIZE,
};
use crate::error::{Result, StrategyError};
use crate::CORE_VERSION;

/// Check the name of a strategy capsule (E4007 unless it is exactly [`CAPSULE_NAME`]).
pub fn check_capsule_name(name: Option<&CStr>) -> Result<()> {
    let expected = CAPSULE_NAME.to_string_lossy();
    let Some(name) = name else {
        return Err(StrategyError::PluginIncompatible {
            reason: format!("the strategy capsule has no name; expected '{expected}'"),
        });
    };
    if name == CAPSULE_NAME {
        return Ok(());
    }
    let got = name.to_string_lossy();
    let hint = match got.strip_prefix("omega.strategy_plugin.v") {
        Some(major) => format!(
            ": the plugin speaks strategy ABI major {major}, this omega-core {CORE_VERSION} speaks {ABI_MAJOR}; \
             rebuild the plugin against a matching omega-core"
        ),
        None => String::new(),
    };
    Err(StrategyError::PluginIncompatible { reason: format!("capsule named '{got}', expected '{expected}'{hint}") })
}

/// A validated plugin table plus what it declares. The table must stay loaded while the handle (or
/// any strategy created from it) lives; [`with_owner`](Self::with_owner) can hold what keeps it loaded.
pub struct PluginHandle {
    table: *const PluginTable,
    provider: String,
    abi_minor: u32,
    name: String,
    version: String,
    core_version: String,
    _owner: Option<Box<dyn Any + Send + Sync>>,
}

// SAFETY: the table is immutable and its functions are callable from any thread (ABI contract);
// the handle only reads it.
unsafe impl Send for PluginHandle {}
// SAFETY: as above.
unsafe impl Sync for PluginHandle {}

impl fmt::Debug for PluginHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginHandle")
            .field("provider", &self.provider)
            .field("name", &self.name)
            .field("version", &self.version)
            .field("core_version", &self.core_version)
            .field("abi_minor", &self.abi_minor)
            .finish()
    }
}

/// Read a string the table declares, defensively (lossy; empty when absent).
///
/// # Safety
/// `v` must be empty or point to `len` readable bytes.
unsafe fn table_string(v: StrView) -> String {
    // SAFETY: forwarded to the caller.
    unsafe { v.to_string_lossy() }
}

impl PluginHandle {
    /// Validate a plugin table. Checks, in order, the ABI major, `struct_size` against what this
    /// core requires, and that every required slot is non-null, and reports every problem at once
    /// (E4007) naming `provider` (the package that supplied the table) and both versions.
    ///
    /// # Safety
    /// `table` must be null or point to at least `struct_size` (its own header field) readable bytes
    /// that stay valid and unchanged for the life of the handle and of every strategy created from it
    /// (e.g. the plugin library stays loaded).
    pub unsafe fn from_raw(table: *const PluginTable, provider: &str) -> Result<PluginHandle> {
        let ours = format!("omega-core {CORE_VERSION} (strategy ABI {ABI_MAJOR}.{ABI_MINOR})");
        if table.is_null() {
            return Err(StrategyError::PluginIncompatible {
                reason: format!("plugin package '{provider}' returned a null strategy table; this is {ours}"),
            });
        }
        // SAFETY: the caller guarantees the 16-byte header is readable (any table has one).
        let header = unsafe { table.cast::<TableHeader>().read_unaligned() };
        let size = header.struct_size as usize;
        let mut problems = Vec::new();
        if header.abi_major != ABI_MAJOR {
            problems.push(format!("ABI major {} != {} required", header.abi_major, ABI_MAJOR));
        }
        if size < PLUGIN_TABLE_SIZE {
            problems.push(format!("struct_size {size} < {PLUGIN_TABLE_SIZE} required"));
        }
        for (slot, off) in PLUGIN_SLOTS {
            if off + std::mem::size_of::<usize>() > size {
                problems.push(format!("slot '{slot}' missing (beyond struct_size)"));
            } else {
                // SAFETY: within the size the table declares; read as an integer so any bits are valid.
                let v = unsafe { table.cast::<u8>().add(off).cast::<usize>().read_unaligned() };
                if v == 0 {
                    problems.push(format!("slot '{slot}' is null"));
                }
            }
        }
        let layout_known = header.abi_major == ABI_MAJOR && size >= PLUGIN_TABLE_SIZE;
        let (name, version, core_version) = if layout_known {
            // SAFETY: the layout is v1 and the whole struct is readable; the plugin's strings are
            // static (caller contract).
            unsafe {
                let t = &*table;
                (table_string(t.strategy_name), table_string(t.strategy_version), table_string(t.core_version))
            }
        } else {
            (String::new(), String::new(), String::from("?"))
        };
        if !problems.is_empty() {
            let what = if name.is_empty() { String::new() } else { format!(" (strategy '{name}' {version})") };
            return Err(StrategyError::PluginIncompatible {
                reason: format!(
                    "plugin package '{provider}'{what} provides a strategy table for ABI {}.{} built with \
                     omega-core {core_version}, but this is {ours}: {}. Rebuild '{provider}' against this \
                     omega-core.",
                    header.abi_major,
                    header.abi_minor,
                    problems.join("; ")
                ),
            });
        }
        Ok(PluginHandle {
            table,
            provider: provider.to_string(),
            abi_minor: header.abi_minor,
            name,
            version,
            core_version,
            _owner: None,
        })
    }

    /// Keep `owner` (e.g. the loaded library or the capsule object) alive as long as the handle.
    pub fn with_owner(mut self, owner: Box<dyn Any + Send + Sync>) -> Self {
        self._owner = Some(owner);
        self
    }

    /// The strategy's name (registry key).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The strategy's version.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Version of omega-core the plugin was compiled against.
    pub fn core_version(&self) -> &str {
        &self.core_version
    }

    /// The package that provided the table.
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// ABI minor the plugin declares (≥ what this core needs, which is 0 for v1).
    pub fn abi_minor(&self) -> u32 {
        self.abi_minor
    }

    /// The validated table.
    pub fn table(&self) -> &PluginTable {
        // SAFETY: validated in `from_raw`, valid for the handle's life by its contract.
        unsafe { &*self.table }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::export::build_table;
    use crate::plugin::testing::tests::Probe;

    #[test]
    fn capsule_names() {
        assert!(check_capsule_name(Some(CAPSULE_NAME)).is_ok());
        let e = check_capsule_name(None).unwrap_err();
        assert_eq!(e.code(), "E4007");
        assert!(e.to_string().contains("no name"));
        let e = check_capsule_name(Some(c"omega.strategy_plugin.v2")).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("major 2") && msg.contains(&format!("speaks {ABI_MAJOR}")), "{msg}");
        let e = check_capsule_name(Some(c"something.else")).unwrap_err();
        assert!(e.to_string().contains("'something.else'"));
    }

    #[test]
    fn valid_table_is_accepted() {
        let table = build_table::<Probe>();
        // SAFETY: a live local table with static strings.
        let h = unsafe { PluginHandle::from_raw(&table, "probe-pkg") }.unwrap();
        assert_eq!(h.name(), "probe");
        assert_eq!(h.version(), "0.3.0");
        assert_eq!(h.core_version(), CORE_VERSION);
        assert_eq!(h.provider(), "probe-pkg");
        assert_eq!(h.abi_minor(), ABI_MINOR);
        assert!(format!("{h:?}").contains("probe-pkg"));
    }

    #[test]
    fn every_problem_in_one_error() {
        let mut table = build_table::<Probe>();
        table.abi_major = 2;
        table.evaluate = None;
        table.name = None;
        // SAFETY: a live local table.
        let e = unsafe { PluginHandle::from_raw(&table, "bad-pkg") }.unwrap_err();
        assert_eq!(e.code(), "E4007");
        let msg = e.to_string();
        for needle in ["'bad-pkg'", "ABI major 2 != 1", "'evaluate' is null", "'name' is null", CORE_VERSION] {
            assert!(msg.contains(needle), "{needle:?} not in {msg}");
        }
        let mut table = build_table::<Probe>();
        table.struct_size = 72;
        // SAFETY: as above (the real table is larger than it claims).
        let msg = unsafe { PluginHandle::from_raw(&table, "small-pkg") }.unwrap_err().to_string();
        assert!(msg.contains("struct_size 72 < 120"), "{msg}");
        assert!(!msg.contains("'create'"), "the create slot fits in 72 bytes and is set: {msg}");
        assert!(msg.contains("'evaluate' missing (beyond struct_size)"), "{msg}");
        assert!(msg.contains("'version' missing"), "{msg}");
        // SAFETY: null is refused before any read.
        let e = unsafe { PluginHandle::from_raw(std::ptr::null(), "null-pkg") }.unwrap_err();
        assert!(e.to_string().contains("null-pkg"));
    }

    #[test]
    fn newer_minor_and_larger_size_are_accepted() {
        // A v1.3 table from a newer omega-core: three slots appended after ours.
        #[repr(C)]
        struct Newer {
            base: PluginTable,
            extra: [usize; 3],
        }
        let mut t = Newer { base: build_table::<Probe>(), extra: [0; 3] };
        t.base.abi_minor = 3;
        t.base.struct_size = std::mem::size_of::<Newer>() as u32;
        // SAFETY: `t` is live and `struct_size` readable bytes long.
        let h = unsafe { PluginHandle::from_raw(&t.base, "newer") }.unwrap();
        assert_eq!(h.abi_minor(), 3);
    }
}
