//! The versioned C ABI between the core wheel and strategy wheels (architecture §3, docs/abi.md), and
//! the only module of the crate allowed to use `unsafe`. Invariants it guards: nothing with Rust
//! layout crosses the boundary; whoever allocates frees; a plugin panic is an `E4008` error, never an
//! abort; a handle is used by one thread at a time.
//!
//! - [`abi`]: the `#[repr(C)]` tables, views and out-structs (v1), with pinned layouts
//! - [`host`]: the core's host table over any [`IndicatorHost`](crate::indicators::IndicatorHost)
//! - [`handle`]: [`PluginHandle`], a validated plugin table, and the capsule-name check
//! - [`foreign`]: [`ForeignStrategy`], a plugin instance seen as a [`RustStrategy`](crate::RustStrategy)
//! - [`export`]: the runtime of [`export_strategy!`](crate::export_strategy) (plugin side)
//! - [`image`]: the validators over a byte image of plugin memory (safe entry points for fuzzing)
//! - [`testing`]: run a strategy through its own table in-process (for a strategy crate's `cargo test`)

pub mod abi;
pub mod export;
pub mod foreign;
pub mod handle;
pub mod host;
pub mod image;
pub mod testing;

pub use abi::{
    ActionOut, BarsView, ErrorOut, F64View, HostTable, PluginTable, PositionView, SignalOut, StrView, ABI_MAJOR,
    ABI_MINOR, CAPSULE_NAME, ENTRY_SYMBOL, PLUGIN_TABLE_MIN_SIZE, PLUGIN_TABLE_SIZE,
};
pub use foreign::ForeignStrategy;
pub use handle::{check_capsule_name, valid_strategy_name, PluginHandle};
pub use host::HostGuard;

use crate::error::StrategyError;

/// Split an error into its ABI parts `(code, subject, message)` (inverse: [`error_from_parts`]).
pub fn error_parts(e: &StrategyError) -> (u32, &str, &str) {
    use StrategyError::*;
    match e {
        StrategyNotFound { name } => (4001, name, ""),
        ConfigError { reason } => (4002, "", reason),
        InvalidParameter { name, reason } => (4002, name, reason),
        IndicatorError { indicator, reason } => (4003, indicator, reason),
        DataError { reason } => (4004, "", reason),
        PositionLimitExceeded { reason } => (4005, "", reason),
        InvalidSignal { reason } => (4006, "", reason),
        PluginIncompatible { reason } => (4007, "", reason),
        StrategyPanicked { strategy, message } => (4008, strategy, message),
        InternalError { reason } => (4009, "", reason),
        Interrupted => (4010, "", ""),
    }
}

/// Rebuild an error from its ABI parts. Round-trips [`error_parts`] (an `InvalidParameter` with an
/// empty name comes back as `ConfigError`); an unknown code becomes `InternalError`.
pub fn error_from_parts(code: u32, subject: String, message: String) -> StrategyError {
    use StrategyError::*;
    match code {
        4001 => StrategyNotFound { name: subject },
        4002 if subject.is_empty() => ConfigError { reason: message },
        4002 => InvalidParameter { name: subject, reason: message },
        4003 => IndicatorError { indicator: subject, reason: message },
        4004 => DataError { reason: message },
        4005 => PositionLimitExceeded { reason: message },
        4006 => InvalidSignal { reason: message },
        4007 => PluginIncompatible { reason: message },
        4008 => StrategyPanicked { strategy: subject, message },
        4009 => InternalError { reason: message },
        // a host callback interrupted inside a plugin's `prepare` comes back through the plugin
        4010 => Interrupted,
        other => InternalError { reason: format!("unknown error code {other} across the plugin ABI: {message}") },
    }
}

/// Read an `ErrorOut` written by the other side into an owned error. Its texts are checked like
/// every string from a plugin (NULL with a length, beyond [`abi::MAX_TEXT_LEN`], not UTF-8): such an
/// error text becomes an E4007 saying so, with the code it carried.
///
/// # Safety
/// The views in `err` must be valid (as the writer guarantees until its next call).
pub unsafe fn read_error(err: &ErrorOut) -> StrategyError {
    // SAFETY: forwarded to the caller; lengths beyond the cap are refused before any read.
    let texts = unsafe {
        err.subject
            .read_checked(abi::MAX_TEXT_LEN, "error subject")
            .and_then(|s| err.message.read_checked(abi::MAX_TEXT_LEN, "error message").map(|m| (s, m)))
    };
    let (subject, message) = match texts {
        Ok(t) => t,
        Err(StrategyError::PluginIncompatible { reason }) => {
            return StrategyError::PluginIncompatible { reason: format!("{reason} (an error with code {})", err.code) }
        }
        Err(other) => return other,
    };
    if err.code == 0 {
        return StrategyError::InternalError { reason: format!("plugin call failed without an error code: {message}") };
    }
    error_from_parts(err.code, subject, message)
}

/// Export a [`RustStrategy`](crate::RustStrategy) `+ Default` type as this crate's strategy plugin.
///
/// Generates, at the call site (once per crate):
/// - `pub fn plugin_table() -> &'static omega_core::plugin::PluginTable`: the static plugin table;
///   the crate's PyO3 module wraps it in a `PyCapsule` named [`CAPSULE_NAME`];
/// - `#[no_mangle] pub extern "C" fn omega_strategy_plugin_v1() -> *const PluginTable`: the same
///   table for `dlopen` (tests and non-Python hosts).
///
/// Every slot is filled from the trait (defaults included) with an `extern "C"` thunk that runs the
/// strategy under `catch_unwind`: a panic reaches the core as `E4008` with its message and the
/// strategy name. Keep `panic = "unwind"` in the strategy crate's profiles.
///
/// ```
/// use omega_core::{DataSlice, IndicatorCache, Position, PositionAction, RustStrategy, Timeframe, TradeSignal};
///
/// #[derive(Default)]
/// struct Never;
///
/// impl RustStrategy for Never {
///     fn evaluate(&self, _: &DataSlice<'_>, _: &IndicatorCache<'_>) -> Option<TradeSignal> { None }
///     fn manage_position(&self, _: &Position, _: &DataSlice<'_>) -> PositionAction { PositionAction::Hold }
///     fn primary_timeframe(&self) -> Timeframe { Timeframe::M1 }
///     fn name(&self) -> &str { "never" }
/// }
///
/// omega_core::export_strategy!(Never);
///
/// let table = plugin_table();
/// assert_eq!(table.abi_major, omega_core::plugin::ABI_MAJOR);
/// assert!(std::ptr::eq(table, omega_strategy_plugin_v1()));
/// ```
///
/// A type without `Default` is refused at compile time, naming the missing piece:
///
/// ```compile_fail,E0277
/// use omega_core::{DataSlice, IndicatorCache, Position, PositionAction, RustStrategy, Timeframe, TradeSignal};
///
/// struct NoDefault(u32);
///
/// impl RustStrategy for NoDefault {
///     fn evaluate(&self, _: &DataSlice<'_>, _: &IndicatorCache<'_>) -> Option<TradeSignal> { None }
///     fn manage_position(&self, _: &Position, _: &DataSlice<'_>) -> PositionAction { PositionAction::Hold }
///     fn primary_timeframe(&self) -> Timeframe { Timeframe::M1 }
///     fn name(&self) -> &str { "no_default" }
/// }
///
/// omega_core::export_strategy!(NoDefault);
/// ```
///
/// So is a type that does not implement `RustStrategy`:
///
/// ```compile_fail,E0277
/// #[derive(Default)]
/// struct NotAStrategy;
///
/// omega_core::export_strategy!(NotAStrategy);
/// ```
#[macro_export]
macro_rules! export_strategy {
    ($strategy:ty $(,)?) => {
        const _: () = $crate::plugin::export::assert_exportable::<$strategy>();

        /// This crate's strategy plugin table (ABI v1). Wrap it in a `PyCapsule` named
        /// `omega.strategy_plugin.v1` to hand it to omega-core.
        pub fn plugin_table() -> &'static $crate::plugin::PluginTable {
            static TABLE: ::std::sync::OnceLock<$crate::plugin::PluginTable> = ::std::sync::OnceLock::new();
            TABLE.get_or_init($crate::plugin::export::build_table::<$strategy>)
        }

        /// The plugin table for `dlopen` hosts (symbol `omega_strategy_plugin_v1`).
        #[allow(unsafe_code)]
        #[no_mangle]
        pub extern "C" fn omega_strategy_plugin_v1() -> *const $crate::plugin::PluginTable {
            plugin_table()
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_parts_round_trip() {
        let all = [
            StrategyError::StrategyNotFound { name: "x".into() },
            StrategyError::config("bad"),
            StrategyError::param("fast", "must be >= 1"),
            StrategyError::IndicatorError { indicator: "sma".into(), reason: "n = 0".into() },
            StrategyError::data("empty"),
            StrategyError::PositionLimitExceeded { reason: "2 > 1".into() },
            StrategyError::InvalidSignal { reason: "nan".into() },
            StrategyError::PluginIncompatible { reason: "major".into() },
            StrategyError::StrategyPanicked { strategy: "s".into(), message: "boom".into() },
            StrategyError::InternalError { reason: "bug".into() },
            StrategyError::Interrupted,
        ];
        for e in all {
            let (code, subject, message) = error_parts(&e);
            assert_eq!(code, e.numeric_code());
            let back = error_from_parts(code, subject.to_string(), message.to_string());
            assert_eq!(back, e);
        }
        let unknown = error_from_parts(17, String::new(), "m".into());
        assert_eq!(unknown.code(), "E4009");
        assert!(unknown.to_string().contains("17"));
    }

    #[test]
    fn read_error_without_code_is_internal() {
        let msg = "oops";
        let err = ErrorOut { code: 0, reserved: 0, subject: StrView::EMPTY, message: StrView::new(msg) };
        // SAFETY: the views point to live data.
        let e = unsafe { read_error(&err) };
        assert_eq!(e.code(), "E4009");
        assert!(e.to_string().contains("oops"));
    }
}
