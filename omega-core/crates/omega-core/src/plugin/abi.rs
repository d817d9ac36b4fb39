//! The `#[repr(C)]` types that cross the plugin boundary, version 1 (see docs/abi.md). Nothing with
//! Rust layout crosses: only these views, the two function tables and caller-provided out-structs.
//! Layouts are pinned by the const assertions at the end; a change to any of them is an ABI major bump.

use std::ffi::{c_void, CStr};
use std::mem::{offset_of, size_of};

use crate::error::{Result, StrategyError};
use crate::indicators::IndicatorKey;

/// ABI major: a table whose major differs is refused. Independent of the crate version.
pub const ABI_MAJOR: u32 = 1;
/// ABI minor: slots appended to the end of a table within a major (v1.1: `flags`, `capabilities`,
/// `next_candidate`).
pub const ABI_MINOR: u32 = 1;
/// Name of the `PyCapsule` a strategy wheel exposes (carries the major).
pub const CAPSULE_NAME: &CStr = c"omega.strategy_plugin.v1";
/// Exported symbol of a plugin cdylib returning `*const PluginTable` (used by dlopen tests).
pub const ENTRY_SYMBOL: &str = "omega_strategy_plugin_v1";

/// Return value of every fallible slot: success.
pub const STATUS_OK: u32 = 0;
/// Return value of every fallible slot: failure, details in the `ErrorOut`.
pub const STATUS_ERROR: u32 = 1;

/// `direction` value of a long signal or position.
pub const DIRECTION_LONG: u32 = 0;
/// `direction` value of a short signal or position.
pub const DIRECTION_SHORT: u32 = 1;

/// `ActionOut::kind`: keep the position.
pub const ACTION_HOLD: u32 = 0;
/// `ActionOut::kind`: move the stop-loss to `value`.
pub const ACTION_MODIFY_STOP_LOSS: u32 = 1;
/// `ActionOut::kind`: move the take-profit to `value`.
pub const ACTION_MODIFY_TAKE_PROFIT: u32 = 2;
/// `ActionOut::kind`: close the position, `reason` says why.
pub const ACTION_CLOSE: u32 = 3;

/// `PluginTable::flags` bit: the plugin was built with `panic = "unwind"`, so its thunks can catch a
/// strategy panic (with `panic = "abort"` a panic would end the host process).
pub const FLAG_PANIC_UNWIND: u64 = 1;
/// Every `flags` bit this core knows (others are ignored: a newer plugin may set them).
pub const KNOWN_FLAGS: u64 = FLAG_PANIC_UNWIND;

/// Instance capability bit: `manage_position` may return something other than `Hold`.
pub const CAP_MANAGES_POSITIONS: u64 = 1;
/// Instance capability bit: the `next_candidate` slot answers for blocks of bars.
pub const CAP_NEXT_CANDIDATE: u64 = 2;
/// `next_candidate`'s answer when no later bar can signal.
pub const NO_CANDIDATE: u64 = u64::MAX;

/// Longest name or version string a plugin table may declare (bytes).
pub const MAX_NAME_LEN: usize = 128;
/// Longest text a plugin may hand over: signal reason, tag, meta key, close reason, error text (bytes).
pub const MAX_TEXT_LEN: usize = 64 * 1024;
/// Most tags or meta entries one signal may carry.
pub const MAX_ITEMS: usize = 1024;

/// A borrowed UTF-8 string `(ptr, len)`; `ptr` may be null only when `len == 0`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct StrView {
    pub ptr: *const u8,
    pub len: usize,
}

impl StrView {
    /// The empty string.
    pub const EMPTY: StrView = StrView { ptr: std::ptr::null(), len: 0 };

    /// A view of `s` (valid as long as `s`).
    #[inline]
    pub const fn new(s: &str) -> Self {
        StrView { ptr: s.as_ptr(), len: s.len() }
    }

    /// The bytes viewed.
    ///
    /// # Safety
    /// `ptr` must be valid for `len` bytes for `'a` (or `len == 0`).
    #[inline]
    pub unsafe fn as_bytes<'a>(&self) -> &'a [u8] {
        if self.len == 0 || self.ptr.is_null() {
            &[]
        } else {
            // SAFETY: the caller guarantees `ptr` is valid for `len` bytes for 'a.
            unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
        }
    }

    /// An owned copy of a string the other side handed over, checked before it is trusted: a NULL
    /// pointer with a length, a length beyond `cap` bytes (read nothing) and invalid UTF-8 are each an
    /// E4007 naming `what`.
    ///
    /// # Safety
    /// If non-null and within `cap`, `ptr` must be valid for `len` bytes.
    pub unsafe fn read_checked(&self, cap: usize, what: &str) -> Result<String> {
        let bad = |why: String| StrategyError::PluginIncompatible { reason: format!("plugin {what}: {why}") };
        if self.len == 0 {
            return Ok(String::new());
        }
        if self.ptr.is_null() {
            return Err(bad(format!("NULL pointer with length {}", self.len)));
        }
        if self.len > cap {
            return Err(bad(format!("length {} exceeds the limit of {cap} bytes", self.len)));
        }
        // SAFETY: non-null and within the cap; validity for `len` bytes is the caller's contract.
        let bytes = unsafe { std::slice::from_raw_parts(self.ptr, self.len) };
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_owned()),
            Err(e) => Err(bad(format!("not UTF-8 ({e})"))),
        }
    }

    /// An owned copy (invalid UTF-8 is replaced, never trusted).
    ///
    /// # Safety
    /// As for [`as_bytes`](Self::as_bytes).
    pub unsafe fn to_string_lossy(&self) -> String {
        // SAFETY: forwarded to the caller.
        String::from_utf8_lossy(unsafe { self.as_bytes() }).into_owned()
    }
}

impl Default for StrView {
    fn default() -> Self {
        Self::EMPTY
    }
}

/// A borrowed `[f64]` `(ptr, len)`, e.g. an indicator series owned by the host.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct F64View {
    pub ptr: *const f64,
    pub len: usize,
}

impl F64View {
    /// The empty series.
    pub const EMPTY: F64View = F64View { ptr: std::ptr::null(), len: 0 };

    /// A view of `s`.
    #[inline]
    pub fn new(s: &[f64]) -> Self {
        F64View { ptr: s.as_ptr(), len: s.len() }
    }
}

/// Bars of one timeframe as host-owned columns (a `BarsRef` across the ABI). `timeframe` is in
/// minutes. Every column pointer is valid for `len` values; `visible` is null for the primary
/// timeframe, else valid for `visible_len` (= number of primary bars) values.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BarsView {
    pub timeframe: u32,
    pub reserved: u32,
    pub len: usize,
    pub symbol: StrView,
    pub open_time_us: *const i64,
    pub close_time_us: *const i64,
    /// The 10 price columns in `market::PRICE_COLUMNS` order (bid OHLCV, then ask OHLCV).
    pub prices: [*const f64; 10],
    pub visible: *const i64,
    pub visible_len: usize,
}

impl BarsView {
    /// All-null view (to be filled by the host).
    pub const EMPTY: BarsView = BarsView {
        timeframe: 0,
        reserved: 0,
        len: 0,
        symbol: StrView::EMPTY,
        open_time_us: std::ptr::null(),
        close_time_us: std::ptr::null(),
        prices: [std::ptr::null(); 10],
        visible: std::ptr::null(),
        visible_len: 0,
    };
}

/// An error crossing the boundary: the `StrategyError` code (4001…) and its two text parts.
/// `subject` is the parameter / indicator / strategy name of the variants that have one, else empty.
/// Both views are owned by the side that wrote them and valid until its next call (see docs/abi.md).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ErrorOut {
    pub code: u32,
    pub reserved: u32,
    pub subject: StrView,
    pub message: StrView,
}

impl ErrorOut {
    /// No error written yet.
    pub const EMPTY: ErrorOut = ErrorOut { code: 0, reserved: 0, subject: StrView::EMPTY, message: StrView::EMPTY };
}

/// `HostTable::bars`: bars of `tf_minutes` (0 = primary) into `out`.
pub type HostBarsFn =
    unsafe extern "C" fn(ctx: *const c_void, tf_minutes: u32, out: *mut BarsView, err: *mut ErrorOut) -> u32;
/// `HostTable::series`: the series named by `*key` into `out`.
pub type HostSeriesFn =
    unsafe extern "C" fn(ctx: *const c_void, key: *const IndicatorKey, out: *mut F64View, err: *mut ErrorOut) -> u32;

/// The core's table handed to `create`: market columns and memoised indicator series. Owned by the
/// core; valid (with every view it returns) until the plugin instance created with it is destroyed.
/// Its functions may be called from any thread.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct HostTable {
    pub abi_major: u32,
    pub abi_minor: u32,
    pub struct_size: u32,
    pub reserved: u32,
    pub ctx: *const c_void,
    pub bars: Option<HostBarsFn>,
    pub series: Option<HostSeriesFn>,
}

// SAFETY: the table is immutable after construction; `ctx` points to core state that is `Sync`
// (`IndicatorHost: Sync`) and the functions are thread-safe by the ABI contract.
unsafe impl Sync for HostTable {}
// SAFETY: as above; the table holds no thread-bound state.
unsafe impl Send for HostTable {}

/// The position `manage_position` receives (a `Position` without owned strings).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PositionView {
    pub id: u64,
    pub direction: u32,
    pub has_take_profit: u32,
    pub entry_price: f64,
    pub entry_time_us: i64,
    pub stop_loss: f64,
    pub take_profit: f64,
    pub lot_size: f64,
    pub pnl_pips: f64,
    pub pnl_usd: f64,
    pub bars_held: u64,
    pub entry_index: u64,
    pub symbol: StrView,
}

/// `evaluate`'s answer, written by the plugin into a core-provided struct. All views are plugin-owned
/// and valid until the next call on the same handle. `meta_keys`/`meta_values` are parallel arrays
/// sorted by key (bytewise), so the order is deterministic.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SignalOut {
    pub has_signal: u32,
    pub direction: u32,
    pub entry_price: f64,
    pub stop_loss: f64,
    pub take_profit: f64,
    pub has_take_profit: u32,
    pub scenario: u32,
    pub has_scenario: u32,
    pub has_meta: u32,
    pub reason: StrView,
    pub tags: *const StrView,
    pub tags_len: usize,
    pub meta_keys: *const StrView,
    pub meta_values: *const f64,
    pub meta_len: usize,
}

impl SignalOut {
    /// "No signal".
    pub const EMPTY: SignalOut = SignalOut {
        has_signal: 0,
        direction: 0,
        entry_price: 0.0,
        stop_loss: 0.0,
        take_profit: 0.0,
        has_take_profit: 0,
        scenario: 0,
        has_scenario: 0,
        has_meta: 0,
        reason: StrView::EMPTY,
        tags: std::ptr::null(),
        tags_len: 0,
        meta_keys: std::ptr::null(),
        meta_values: std::ptr::null(),
        meta_len: 0,
    };
}

/// `manage_position`'s answer (`kind` is one of the `ACTION_*` values). `reason` is plugin-owned,
/// valid until the next call on the same handle.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ActionOut {
    pub kind: u32,
    pub reserved: u32,
    pub value: f64,
    pub reason: StrView,
}

impl ActionOut {
    /// `Hold`.
    pub const EMPTY: ActionOut = ActionOut { kind: ACTION_HOLD, reserved: 0, value: 0.0, reason: StrView::EMPTY };
}

/// `create`: Default → on_init(config) → prepare(cache over `host`); writes the instance to `*out_handle`.
pub type CreateFn = unsafe extern "C" fn(
    config_json: StrView,
    host: *const HostTable,
    out_handle: *mut *mut c_void,
    err: *mut ErrorOut,
) -> u32;
/// `destroy`: on_deinit, then free the instance (the only way an instance is freed).
pub type DestroyFn = unsafe extern "C" fn(handle: *mut c_void, err: *mut ErrorOut) -> u32;
/// `evaluate` at primary bar `bar_index`.
pub type EvaluateFn =
    unsafe extern "C" fn(handle: *mut c_void, bar_index: u64, out_signal: *mut SignalOut, err: *mut ErrorOut) -> u32;
/// `manage_position` of `*position` at primary bar `bar_index`.
pub type ManagePositionFn = unsafe extern "C" fn(
    handle: *mut c_void,
    position: *const PositionView,
    bar_index: u64,
    out_action: *mut ActionOut,
    err: *mut ErrorOut,
) -> u32;
/// `primary_timeframe`, in minutes.
pub type TimeframeFn = unsafe extern "C" fn(handle: *mut c_void, out_minutes: *mut u32, err: *mut ErrorOut) -> u32;
/// `name` / `version` of an instance (views valid until the instance is destroyed).
pub type StrFn = unsafe extern "C" fn(handle: *mut c_void, out: *mut StrView, err: *mut ErrorOut) -> u32;
/// v1.1 `capabilities` of an instance (`CAP_*` bits), read once after `create`.
pub type CapabilitiesFn = unsafe extern "C" fn(handle: *mut c_void, out_caps: *mut u64, err: *mut ErrorOut) -> u32;
/// v1.1 `next_candidate`: the first primary bar `>= from` at which `evaluate` may return a signal
/// ([`NO_CANDIDATE`] when none), so that the bars in between need no call.
pub type NextCandidateFn =
    unsafe extern "C" fn(handle: *mut c_void, from: u64, out_next: *mut u64, err: *mut ErrorOut) -> u32;

/// A strategy plugin: what `omega_core::export_strategy!` generates and the capsule points to.
/// Static in the plugin; slots are only ever appended (minor bump). The v1.0 part (up to `version`,
/// [`PLUGIN_TABLE_MIN_SIZE`] bytes) is frozen and required; every later field is optional, present
/// only when the table's `struct_size` covers it (see [`PLUGIN_OPTIONAL`]).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PluginTable {
    pub abi_major: u32,
    pub abi_minor: u32,
    pub struct_size: u32,
    pub reserved: u32,
    /// Version of the omega-core crate the plugin was compiled against.
    pub core_version: StrView,
    /// `RustStrategy::name()` of a default instance.
    pub strategy_name: StrView,
    /// `RustStrategy::version()` of a default instance.
    pub strategy_version: StrView,
    pub create: Option<CreateFn>,
    pub destroy: Option<DestroyFn>,
    pub evaluate: Option<EvaluateFn>,
    pub manage_position: Option<ManagePositionFn>,
    pub primary_timeframe: Option<TimeframeFn>,
    pub name: Option<StrFn>,
    pub version: Option<StrFn>,
    // --- v1.1 ---
    /// Build flags (`FLAG_*` bits) of the plugin.
    pub flags: u64,
    pub capabilities: Option<CapabilitiesFn>,
    pub next_candidate: Option<NextCandidateFn>,
}

// SAFETY: a plugin table is immutable; its strings are 'static in the plugin and its functions are
// callable from any thread (one thread per handle at a time, by contract).
unsafe impl Sync for PluginTable {}
// SAFETY: as above.
unsafe impl Send for PluginTable {}

/// The 16-byte header every table of every major starts with (the only part read before the major
/// is known to match).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableHeader {
    pub abi_major: u32,
    pub abi_minor: u32,
    pub struct_size: u32,
    pub reserved: u32,
}

/// Size of a v1.0 plugin table: the frozen part every v1 table has (what the core requires).
pub const PLUGIN_TABLE_MIN_SIZE: usize = 120;
/// Size of the plugin table of this core's minor (what `export_strategy!` declares).
pub const PLUGIN_TABLE_SIZE: usize = size_of::<PluginTable>();

/// The optional fields after the v1.0 part: (name, byte offset, size, minor that added it). A field
/// is read only when the table's `struct_size` covers it (older tables lack it and read as zero).
pub const PLUGIN_OPTIONAL: [(&str, usize, usize, u32); 3] = [
    ("flags", offset_of!(PluginTable, flags), size_of::<u64>(), 1),
    ("capabilities", offset_of!(PluginTable, capabilities), size_of::<usize>(), 1),
    ("next_candidate", offset_of!(PluginTable, next_candidate), size_of::<usize>(), 1),
];
/// Size of a v1.0 host table: what a plugin requires.
pub const HOST_TABLE_SIZE: usize = size_of::<HostTable>();

/// The required slots of a v1.0 plugin table: (name, byte offset).
pub const PLUGIN_SLOTS: [(&str, usize); 7] = [
    ("create", offset_of!(PluginTable, create)),
    ("destroy", offset_of!(PluginTable, destroy)),
    ("evaluate", offset_of!(PluginTable, evaluate)),
    ("manage_position", offset_of!(PluginTable, manage_position)),
    ("primary_timeframe", offset_of!(PluginTable, primary_timeframe)),
    ("name", offset_of!(PluginTable, name)),
    ("version", offset_of!(PluginTable, version)),
];

/// The required slots of a v1.0 host table: (name, byte offset).
pub const HOST_SLOTS: [(&str, usize); 2] =
    [("bars", offset_of!(HostTable, bars)), ("series", offset_of!(HostTable, series))];

// Layout pins (64-bit targets; the ABI is defined for them).
#[cfg(target_pointer_width = "64")]
const _: () = {
    assert!(size_of::<TableHeader>() == 16);
    assert!(size_of::<StrView>() == 16 && offset_of!(StrView, len) == 8);
    assert!(size_of::<F64View>() == 16 && offset_of!(F64View, len) == 8);
    assert!(size_of::<IndicatorKey>() == 96);
    assert!(offset_of!(IndicatorKey, params) == 16);

    assert!(size_of::<BarsView>() == 144);
    assert!(offset_of!(BarsView, len) == 8);
    assert!(offset_of!(BarsView, symbol) == 16);
    assert!(offset_of!(BarsView, open_time_us) == 32);
    assert!(offset_of!(BarsView, close_time_us) == 40);
    assert!(offset_of!(BarsView, prices) == 48);
    assert!(offset_of!(BarsView, visible) == 128);
    assert!(offset_of!(BarsView, visible_len) == 136);

    assert!(size_of::<ErrorOut>() == 40);
    assert!(offset_of!(ErrorOut, subject) == 8 && offset_of!(ErrorOut, message) == 24);

    assert!(size_of::<HostTable>() == 40);
    assert!(offset_of!(HostTable, abi_major) == 0);
    assert!(offset_of!(HostTable, abi_minor) == 4);
    assert!(offset_of!(HostTable, struct_size) == 8);
    assert!(offset_of!(HostTable, ctx) == 16);
    assert!(offset_of!(HostTable, bars) == 24);
    assert!(offset_of!(HostTable, series) == 32);

    assert!(size_of::<PositionView>() == 104);
    assert!(offset_of!(PositionView, direction) == 8);
    assert!(offset_of!(PositionView, entry_price) == 16);
    assert!(offset_of!(PositionView, take_profit) == 40);
    assert!(offset_of!(PositionView, bars_held) == 72);
    assert!(offset_of!(PositionView, entry_index) == 80);
    assert!(offset_of!(PositionView, symbol) == 88);

    assert!(size_of::<SignalOut>() == 104);
    assert!(offset_of!(SignalOut, direction) == 4);
    assert!(offset_of!(SignalOut, entry_price) == 8);
    assert!(offset_of!(SignalOut, take_profit) == 24);
    assert!(offset_of!(SignalOut, has_take_profit) == 32);
    assert!(offset_of!(SignalOut, has_meta) == 44);
    assert!(offset_of!(SignalOut, reason) == 48);
    assert!(offset_of!(SignalOut, tags) == 64);
    assert!(offset_of!(SignalOut, meta_keys) == 80);
    assert!(offset_of!(SignalOut, meta_values) == 88);
    assert!(offset_of!(SignalOut, meta_len) == 96);

    assert!(size_of::<ActionOut>() == 32);
    assert!(offset_of!(ActionOut, value) == 8 && offset_of!(ActionOut, reason) == 16);

    assert!(PLUGIN_TABLE_MIN_SIZE == offset_of!(PluginTable, flags));
    assert!(size_of::<PluginTable>() == 144);
    assert!(offset_of!(PluginTable, flags) == 120);
    assert!(offset_of!(PluginTable, capabilities) == 128);
    assert!(offset_of!(PluginTable, next_candidate) == 136);
    assert!(offset_of!(PluginTable, abi_major) == 0);
    assert!(offset_of!(PluginTable, abi_minor) == 4);
    assert!(offset_of!(PluginTable, struct_size) == 8);
    assert!(offset_of!(PluginTable, core_version) == 16);
    assert!(offset_of!(PluginTable, strategy_name) == 32);
    assert!(offset_of!(PluginTable, strategy_version) == 48);
    assert!(offset_of!(PluginTable, create) == 64);
    assert!(offset_of!(PluginTable, destroy) == 72);
    assert!(offset_of!(PluginTable, evaluate) == 80);
    assert!(offset_of!(PluginTable, manage_position) == 88);
    assert!(offset_of!(PluginTable, primary_timeframe) == 96);
    assert!(offset_of!(PluginTable, name) == 104);
    assert!(offset_of!(PluginTable, version) == 112);

    // A null slot is representable (and is what the validator checks for).
    assert!(size_of::<Option<CreateFn>>() == size_of::<usize>());
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_tables_describe_the_structs() {
        let ptr = size_of::<usize>();
        for slots in [&PLUGIN_SLOTS[..], &HOST_SLOTS[..]] {
            assert!(slots.windows(2).all(|w| w[1].1 == w[0].1 + ptr), "slots are consecutive pointers");
        }
        assert_eq!(PLUGIN_SLOTS.last().unwrap().1 + ptr, PLUGIN_TABLE_MIN_SIZE, "the last slot ends v1.0");
        let mut end = PLUGIN_TABLE_MIN_SIZE;
        for (_, off, size, minor) in PLUGIN_OPTIONAL {
            assert_eq!(off, end, "optional fields are appended in order");
            assert!((1..=ABI_MINOR).contains(&minor));
            end = off + size;
        }
        assert_eq!(end, PLUGIN_TABLE_SIZE, "the optional fields end the table");
        assert_eq!(HOST_SLOTS.last().unwrap().1 + ptr, HOST_TABLE_SIZE);
        assert_eq!(offset_of!(PluginTable, struct_size), offset_of!(TableHeader, struct_size));
        assert_eq!(offset_of!(HostTable, abi_minor), offset_of!(TableHeader, abi_minor));
    }

    #[test]
    fn views_and_empty_values() {
        let s = "héllo";
        let v = StrView::new(s);
        assert_eq!(v.len, s.len());
        // SAFETY: `v` views the live `s`.
        assert_eq!(unsafe { v.as_bytes() }, s.as_bytes());
        // SAFETY: empty views never dereference.
        assert_eq!(unsafe { StrView::EMPTY.to_string_lossy() }, "");
        let bad = [0xff_u8, b'a'];
        let bv = StrView { ptr: bad.as_ptr(), len: 2 };
        // SAFETY: `bv` views the live `bad`; invalid UTF-8 is replaced, not trusted.
        assert_eq!(unsafe { bv.to_string_lossy() }, "\u{fffd}a");
        assert_eq!(F64View::new(&[1.0, 2.0]).len, 2);
        // SAFETY: each view below is either live or refused before any read.
        unsafe {
            assert_eq!(v.read_checked(64, "s").unwrap(), s);
            assert_eq!(StrView::EMPTY.read_checked(0, "s").unwrap(), "");
            let e = v.read_checked(3, "signal reason").unwrap_err();
            assert_eq!(e.code(), "E4007");
            assert!(e.to_string().contains("signal reason: length 6 exceeds the limit of 3"), "{e}");
            let huge = StrView { ptr: s.as_ptr(), len: 1 << 45 };
            assert_eq!(huge.read_checked(MAX_TEXT_LEN, "name").unwrap_err().code(), "E4007");
            let null = StrView { ptr: std::ptr::null(), len: 3 };
            assert!(null.read_checked(64, "name").unwrap_err().to_string().contains("NULL pointer with length 3"));
            assert!(bv.read_checked(64, "tag").unwrap_err().to_string().contains("not UTF-8"));
        }
        assert_eq!(SignalOut::EMPTY.has_signal, 0);
        assert_eq!(ActionOut::EMPTY.kind, ACTION_HOLD);
        assert_eq!(ErrorOut::EMPTY.code, 0);
        assert!(BarsView::EMPTY.visible.is_null());
        assert_eq!(CAPSULE_NAME.to_str().unwrap(), format!("omega.strategy_plugin.v{ABI_MAJOR}"));
        assert_eq!(ENTRY_SYMBOL, format!("omega_strategy_plugin_v{ABI_MAJOR}"));
    }
}
