//! Registration of a plugin on the core side: the capsule-name check and [`PluginHandle`], a plugin
//! table validated once (name → major → size → every slot) with every mismatch reported together in
//! one E4007 naming the providing package and both versions.

use std::any::Any;
use std::ffi::CStr;
use std::fmt;
use std::mem::{offset_of, size_of, MaybeUninit};

use super::abi::{
    PluginTable, StrView, TableHeader, ABI_MAJOR, ABI_MINOR, CAPSULE_NAME, FLAG_PANIC_UNWIND, MAX_NAME_LEN,
    PLUGIN_OPTIONAL, PLUGIN_SLOTS, PLUGIN_TABLE_MIN_SIZE, PLUGIN_TABLE_SIZE,
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

/// A validated plugin table plus what it declares. The handle keeps its own copy of the table (the
/// fields the plugin's `struct_size` does not cover read as zero/`None`); the functions and strings
/// it points to must stay loaded while the handle (or any strategy created from it) lives:
/// [`with_owner`](Self::with_owner) can hold what keeps them loaded.
pub struct PluginHandle {
    table: PluginTable,
    provider: String,
    abi_minor: u32,
    /// Whether the table's `struct_size` covers `flags` (a v1.1 table may be cut short before it).
    declares_flags: bool,
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

/// The one place a plugin table is read: copies the fields the table's `struct_size` covers whole
/// (the first `min(struct_size, size_of::<PluginTable>())` bytes, cut to a multiple of 8 so that no
/// pointer is copied in part) into a zeroed table. A field the plugin's table does not cover (an
/// older minor) reads as zero / `None`, an optional field of a later minor than the table declares
/// is cleared, and nothing beyond the declared size is ever touched.
///
/// # Safety
/// `table` must point to at least `header.struct_size` readable bytes, `header` read from it.
unsafe fn read_table(table: *const PluginTable, header: &TableHeader) -> PluginTable {
    let n = (header.struct_size as usize).min(size_of::<PluginTable>()) & !7;
    let mut out = MaybeUninit::<PluginTable>::zeroed();
    let dst = out.as_mut_ptr().cast::<u8>();
    // SAFETY: `n` bytes are readable at `table` (caller) and writable in `out`; the regions are
    // distinct. Every bit pattern of whole copied fields is a valid value: integers, raw pointers
    // and `Option<fn>` (zero = `None`, anything else a function the plugin vouches for, as it does
    // for the whole table).
    unsafe { std::ptr::copy_nonoverlapping(table.cast::<u8>(), dst, n) };
    for (_, off, len, minor) in PLUGIN_OPTIONAL {
        if header.abi_minor < minor {
            // SAFETY: `off + len <= size_of::<PluginTable>()` (pinned layout); zero is a valid value.
            unsafe { std::ptr::write_bytes(dst.add(off), 0, len) };
        }
    }
    // SAFETY: all-zero is a valid `PluginTable` (null views, `None` slots); the writes kept it valid.
    unsafe { out.assume_init() }
}

/// Whether `name` can be a registry key: 1..=128 bytes, an ASCII letter or `_` first, then ASCII
/// letters, digits, `_`, `-` or `.`. The Python side's `omega.hookspecs` applies the same rule to
/// every spec (a test checks that both agree).
pub fn valid_strategy_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_NAME_LEN
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
}

impl PluginHandle {
    /// Validate a plugin table. Reads the 16-byte header first; a different ABI major ends the
    /// check there (one E4007; nothing else of the table is read, its layout is unknown). Otherwise
    /// checks `struct_size` against the frozen v1.0 size, that every required slot is non-null, the
    /// declared strings (length caps, UTF-8, an identifier-like strategy name) and the panic strategy
    /// (v1.1+ tables: refused unless built with `panic = "unwind"`), and reports every problem at
    /// once (E4007) naming `provider` (the package that supplied the table) and both versions.
    ///
    /// # Safety
    /// `table` must be null or point to at least `struct_size` (its own header field) readable bytes
    /// whose functions and strings stay valid for the life of the handle and of every strategy
    /// created from it (e.g. the plugin library stays loaded).
    pub unsafe fn from_raw(table: *const PluginTable, provider: &str) -> Result<PluginHandle> {
        let ours = format!("omega-core {CORE_VERSION} (strategy ABI {ABI_MAJOR}.{ABI_MINOR})");
        if table.is_null() {
            return Err(StrategyError::PluginIncompatible {
                reason: format!("plugin package '{provider}' returned a null strategy table; this is {ours}"),
            });
        }
        // SAFETY: the caller guarantees the 16-byte header is readable (any table has one).
        let header = unsafe { table.cast::<TableHeader>().read_unaligned() };
        let refuse = |what: &str, problems: &[String]| StrategyError::PluginIncompatible {
            reason: format!(
                "plugin package '{provider}'{what} provides a strategy table for ABI {}.{}, but this is {ours}: {}. \
                 Rebuild '{provider}' against this omega-core.",
                header.abi_major,
                header.abi_minor,
                problems.join("; ")
            ),
        };
        if header.abi_major != ABI_MAJOR {
            return Err(refuse("", &[format!("ABI major {} != {} required", header.abi_major, ABI_MAJOR)]));
        }
        let size = header.struct_size as usize;
        let mut problems = Vec::new();
        if size < PLUGIN_TABLE_MIN_SIZE {
            problems.push(format!("struct_size {size} < {PLUGIN_TABLE_MIN_SIZE} required"));
        }
        // SAFETY: the major matches, so the layout is ours; `read_table` reads within `struct_size`.
        let t = unsafe { read_table(table, &header) };
        let set = [
            t.create.is_some(),
            t.destroy.is_some(),
            t.evaluate.is_some(),
            t.manage_position.is_some(),
            t.primary_timeframe.is_some(),
            t.name.is_some(),
            t.version.is_some(),
        ];
        for ((slot, off), set) in PLUGIN_SLOTS.iter().zip(set) {
            if off + size_of::<usize>() > size {
                problems.push(format!("slot '{slot}' missing (beyond struct_size)"));
            } else if !set {
                problems.push(format!("slot '{slot}' is null"));
            }
        }
        // The strings come right after the header: read only when the table covers them.
        let strings_covered = size >= offset_of!(PluginTable, create);
        let mut read = |v: StrView, what: &str| -> String {
            if !strings_covered {
                return String::new();
            }
            // SAFETY: covered by struct_size; the plugin's strings are static (caller contract);
            // `read_checked` refuses NULL-with-length and lengths beyond the cap before reading.
            match unsafe { v.read_checked(MAX_NAME_LEN, what) } {
                Ok(s) => s,
                Err(e) => {
                    problems.push(match e {
                        StrategyError::PluginIncompatible { reason } => reason,
                        other => other.to_string(),
                    });
                    String::new()
                }
            }
        };
        let name_view_ok =
            t.strategy_name.len <= MAX_NAME_LEN && !(t.strategy_name.ptr.is_null() && t.strategy_name.len > 0);
        let name = read(t.strategy_name, "strategy name");
        let version = read(t.strategy_version, "strategy version");
        let core_version = read(t.core_version, "core version");
        if strings_covered && name_view_ok && !valid_strategy_name(&name) {
            problems.push(format!(
                "strategy name {name:?} is not a valid name (1..={MAX_NAME_LEN} bytes: an ASCII letter or '_', \
                 then letters, digits, '_', '-' or '.')"
            ));
        }
        if header.abi_minor >= 1 && size >= PLUGIN_TABLE_SIZE && t.flags & FLAG_PANIC_UNWIND == 0 {
            problems.push(
                "built with panic = \"abort\" (flags lack PANIC_UNWIND): a strategy panic would end the host \
                 process; build the plugin with panic = \"unwind\""
                    .to_string(),
            );
        }
        if !problems.is_empty() {
            let what =
                if valid_strategy_name(&name) { format!(" (strategy '{name}' {version})") } else { String::new() };
            let core = if core_version.is_empty() { "?" } else { core_version.as_str() };
            return Err(refuse(&format!("{what} built with omega-core {core}"), &problems));
        }
        Ok(PluginHandle {
            table: t,
            provider: provider.to_string(),
            abi_minor: header.abi_minor,
            declares_flags: header.abi_minor >= 1 && size >= offset_of!(PluginTable, flags) + size_of::<u64>(),
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

    /// ABI minor the plugin declares (any minor of our major loads; fields of a later minor than
    /// the table's read as absent).
    pub fn abi_minor(&self) -> u32 {
        self.abi_minor
    }

    /// The validated table in this core's layout (fields the plugin's table lacks are zero / `None`).
    pub fn table(&self) -> &PluginTable {
        &self.table
    }

    /// Whether the plugin was built with `panic = "unwind"` (`None` when the table does not say: a
    /// v1.0 table, or a v1.1+ table whose `struct_size` stops before `flags`).
    pub fn panic_unwind(&self) -> Option<bool> {
        self.declares_flags.then_some(self.table.flags & FLAG_PANIC_UNWIND != 0)
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
        table.evaluate = None;
        table.name = None;
        table.struct_size = 112; // `version` falls outside
                                 // SAFETY: a live local table (larger than it claims).
        let e = unsafe { PluginHandle::from_raw(&table, "bad-pkg") }.unwrap_err();
        assert_eq!(e.code(), "E4007");
        let msg = e.to_string();
        for needle in [
            "'bad-pkg'",
            "(strategy 'probe' 0.3.0)",
            "struct_size 112 < 120 required",
            "'evaluate' is null",
            "'name' is null",
            "'version' missing (beyond struct_size)",
            CORE_VERSION,
        ] {
            assert!(msg.contains(needle), "{needle:?} not in {msg}");
        }
        let mut table = build_table::<Probe>();
        table.struct_size = 72;
        // SAFETY: as above.
        let msg = unsafe { PluginHandle::from_raw(&table, "small-pkg") }.unwrap_err().to_string();
        assert!(msg.contains("struct_size 72 < 120"), "{msg}");
        assert!(!msg.contains("'create'"), "the create slot fits in 72 bytes and is set: {msg}");
        assert!(msg.contains("'evaluate' missing (beyond struct_size)"), "{msg}");
        // SAFETY: null is refused before any read.
        let e = unsafe { PluginHandle::from_raw(std::ptr::null(), "null-pkg") }.unwrap_err();
        assert!(e.to_string().contains("null-pkg"));
    }

    #[test]
    fn another_major_is_one_error_without_reading_the_rest() {
        // Only the 16-byte header exists: anything read beyond it would be out of bounds (Miri/ASan
        // would flag it) and every slot would look missing.
        let header = TableHeader { abi_major: 2, abi_minor: 5, struct_size: 4096, reserved: 0 };
        // SAFETY: the header is readable; the major differs, so nothing else may be read.
        let e = unsafe { PluginHandle::from_raw((&header as *const TableHeader).cast(), "v2-pkg") }.unwrap_err();
        assert_eq!(e.code(), "E4007");
        let msg = e.to_string();
        assert!(msg.contains("ABI major 2 != 1 required"), "{msg}");
        assert!(msg.contains("ABI 2.5") && msg.contains("'v2-pkg'"), "{msg}");
        assert!(!msg.contains("slot") && !msg.contains("struct_size"), "no slot probing: {msg}");
    }

    #[test]
    fn a_v1_0_table_loads_without_the_optional_slots() {
        // A v1.0 plugin: 120 bytes, followed here by bytes that must not be read as slots.
        #[repr(C)]
        struct V10 {
            base: [u8; PLUGIN_TABLE_MIN_SIZE],
            after: [usize; 3],
        }
        let full = build_table::<Probe>();
        let mut t = V10 { base: [0; PLUGIN_TABLE_MIN_SIZE], after: [usize::MAX; 3] };
        // SAFETY: copying the first 120 bytes of a live table into a byte buffer.
        unsafe { std::ptr::copy_nonoverlapping((&full as *const PluginTable).cast::<u8>(), t.base.as_mut_ptr(), 120) };
        let hdr = TableHeader { abi_major: ABI_MAJOR, abi_minor: 0, struct_size: 120, reserved: 0 };
        // SAFETY: writing the header into the buffer's first 16 bytes.
        unsafe { std::ptr::write_unaligned(t.base.as_mut_ptr().cast::<TableHeader>(), hdr) };
        // SAFETY: `t` is live and at least `struct_size` bytes long.
        let h = unsafe { PluginHandle::from_raw(t.base.as_ptr().cast(), "old-pkg") }.unwrap();
        assert_eq!(h.abi_minor(), 0);
        assert_eq!(h.table().flags, 0);
        assert!(h.table().capabilities.is_none() && h.table().next_candidate.is_none());
        assert_eq!(h.panic_unwind(), None, "a v1.0 table does not say");
        assert!(h.table().evaluate.is_some());

        // A table that claims minor 1 but only 124 bytes: the half-covered `flags` is not read.
        let mut partial = full;
        partial.struct_size = 124;
        // SAFETY: `partial` is a full live table.
        let e = unsafe { PluginHandle::from_raw(&partial, "odd-pkg") };
        assert!(e.is_ok(), "a table of the minimum size loads: {e:?}");
        let h = e.unwrap();
        assert_eq!(h.table().flags, 0);
        // Found by the `plugin_table` fuzz target (fuzz/regressions/plugin_table/): such a table was
        // accepted and then reported as built with panic = "abort".
        assert_eq!(h.panic_unwind(), None, "a table cut before `flags` does not say");
    }

    #[test]
    fn newer_minor_and_larger_size_are_accepted() {
        // A v1.7 table from a newer omega-core: three unknown slots appended after ours.
        #[repr(C)]
        struct Newer {
            base: PluginTable,
            extra: [usize; 3],
        }
        let mut t = Newer { base: build_table::<Probe>(), extra: [0xdead_beef; 3] };
        t.base.abi_minor = 7;
        t.base.struct_size = std::mem::size_of::<Newer>() as u32;
        // SAFETY: `t` is live and `struct_size` readable bytes long.
        let h = unsafe { PluginHandle::from_raw(&t.base, "newer") }.unwrap();
        assert_eq!(h.abi_minor(), 7);
        assert!(h.table().next_candidate.is_some());
        assert_eq!(h.panic_unwind(), Some(true));
    }

    #[test]
    fn panic_abort_plugins_are_refused() {
        let mut t = build_table::<Probe>();
        t.flags = 0;
        // SAFETY: a live local table.
        let msg = unsafe { PluginHandle::from_raw(&t, "abort-pkg") }.unwrap_err().to_string();
        assert!(msg.contains("panic = \"abort\""), "{msg}");
        t.flags = FLAG_PANIC_UNWIND | 1 << 40; // unknown bits of a newer core are ignored
                                               // SAFETY: as above.
        assert!(unsafe { PluginHandle::from_raw(&t, "abort-pkg") }.is_ok());
    }

    #[test]
    fn declared_strings_are_checked() {
        let long = "x".repeat(MAX_NAME_LEN + 1);
        let huge = StrView { ptr: long.as_ptr(), len: 1 << 45 };
        let cases: [(StrView, &str); 6] = [
            (StrView::EMPTY, "strategy name \"\" is not a valid name"),
            (StrView::new("bad name!"), "\"bad name!\" is not a valid name"),
            (StrView::new("9lives"), "not a valid name"),
            (StrView::new(&long), "strategy name: length 129 exceeds the limit of 128"),
            (huge, "strategy name: length 35184372088832 exceeds the limit of 128"),
            (StrView { ptr: std::ptr::null(), len: 5 }, "strategy name: NULL pointer with length 5"),
        ];
        for (view, needle) in cases {
            let mut t = build_table::<Probe>();
            t.strategy_name = view;
            // SAFETY: every view is live or refused before it is read.
            let e = unsafe { PluginHandle::from_raw(&t, "names-pkg") }.unwrap_err();
            assert_eq!(e.code(), "E4007");
            assert!(e.to_string().contains(needle), "{needle:?} not in {e}");
        }
        let bad_utf8 = [b'a', 0xff];
        let mut t = build_table::<Probe>();
        t.strategy_version = StrView { ptr: bad_utf8.as_ptr(), len: 2 };
        // SAFETY: as above.
        let e = unsafe { PluginHandle::from_raw(&t, "utf8-pkg") }.unwrap_err();
        assert!(e.to_string().contains("strategy version: not UTF-8"), "{e}");
        for ok in ["a", "_x", "omega_test_sma_cross", "mean-reversion.v2", &"y".repeat(MAX_NAME_LEN)] {
            assert!(valid_strategy_name(ok), "{ok}");
        }
        for bad in ["", "9x", ".x", "a b", "é", "a/b", "a\0"] {
            assert!(!valid_strategy_name(bad), "{bad:?}");
        }
    }
}
