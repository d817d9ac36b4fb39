//! Core side of a plugin instance: [`ForeignStrategy`] implements `RustStrategy` again over a plugin
//! handle, so the engine has one code path for in-process and plugin strategies.
//!
//! Threading: a plugin handle may be used by one thread at a time. `ForeignStrategy` is `Send + Sync`
//! because it serialises its calls on an internal mutex (uncontended in practice: the engine drives
//! one strategy from one thread); separate `ForeignStrategy`s of the same plugin run concurrently.

use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::abi::{
    ActionOut, DestroyFn, ErrorOut, EvaluateFn, ManagePositionFn, NextCandidateFn, PositionView, SignalOut, StrView,
    ACTION_CLOSE, ACTION_HOLD, ACTION_MODIFY_STOP_LOSS, ACTION_MODIFY_TAKE_PROFIT, CAP_MANAGES_POSITIONS,
    CAP_NEXT_CANDIDATE, DIRECTION_LONG, DIRECTION_SHORT, MAX_ITEMS, MAX_NAME_LEN, MAX_TEXT_LEN, NO_CANDIDATE,
    STATUS_OK,
};
use super::handle::PluginHandle;
use super::host::HostGuard;
use super::read_error;
use crate::config::StrategyConfig;
use crate::error::{Result, StrategyError};
use crate::indicators::{IndicatorCache, IndicatorHost};
use crate::strategy::{Capabilities, RustStrategy};
use crate::types::{DataSlice, Direction, Position, PositionAction, Timeframe, TradeSignal};

/// The plugin's instance pointer; only touched under `ForeignStrategy::handle`'s lock.
struct RawHandle(*mut c_void);

// SAFETY: a plugin instance may move between threads (ABI contract: one thread at a time, which the
// mutex around this value enforces).
unsafe impl Send for RawHandle {}

/// A strategy instance living in a plugin, driven through its table.
pub struct ForeignStrategy<'h> {
    plugin: Arc<PluginHandle>,
    evaluate_fn: EvaluateFn,
    manage_fn: ManagePositionFn,
    destroy_fn: DestroyFn,
    /// v1.1 slot, used only when the instance declares `CAP_NEXT_CANDIDATE` (else `None`).
    next_candidate_fn: Option<NextCandidateFn>,
    capabilities: Capabilities,
    handle: Mutex<RawHandle>,
    has_error: AtomicBool,
    error: Mutex<Option<StrategyError>>,
    name: String,
    version: String,
    timeframe: Timeframe,
    /// Declared last: dropped after `Drop::drop` has destroyed the instance that uses it.
    host: HostGuard<'h>,
}

fn missing(plugin: &PluginHandle, slot: &str) -> StrategyError {
    StrategyError::PluginIncompatible {
        reason: format!("plugin package '{}': slot '{slot}' is null", plugin.provider()),
    }
}

/// Name the plugin package in an E4007 about what it handed over.
fn in_package(e: StrategyError, plugin: &PluginHandle) -> StrategyError {
    match e {
        StrategyError::PluginIncompatible { reason } => StrategyError::PluginIncompatible {
            reason: format!("plugin package '{}' (strategy '{}'): {reason}", plugin.provider(), plugin.name()),
        },
        other => other,
    }
}

/// Give an E4008 from the plugin the strategy name if it came without one.
fn with_strategy_name(e: StrategyError, name: &str) -> StrategyError {
    match e {
        StrategyError::StrategyPanicked { strategy, message } if strategy.is_empty() => {
            StrategyError::StrategyPanicked { strategy: name.to_string(), message }
        }
        other => other,
    }
}

impl<'h> ForeignStrategy<'h> {
    /// Create an instance of `plugin`'s strategy: builds the host table over `host`, passes the
    /// config as JSON to the plugin's `create` (Default → on_init → prepare), then reads the
    /// instance's primary timeframe, name and version once. The host outlives the strategy.
    pub fn create(plugin: &Arc<PluginHandle>, config: &StrategyConfig, host: &'h dyn IndicatorHost) -> Result<Self> {
        let t = plugin.table();
        let create = t.create.ok_or_else(|| missing(plugin, "create"))?;
        let destroy_fn = t.destroy.ok_or_else(|| missing(plugin, "destroy"))?;
        let evaluate_fn = t.evaluate.ok_or_else(|| missing(plugin, "evaluate"))?;
        let manage_fn = t.manage_position.ok_or_else(|| missing(plugin, "manage_position"))?;
        let timeframe_fn = t.primary_timeframe.ok_or_else(|| missing(plugin, "primary_timeframe"))?;
        let name_fn = t.name.ok_or_else(|| missing(plugin, "name"))?;
        let version_fn = t.version.ok_or_else(|| missing(plugin, "version"))?;

        let host = HostGuard::new(host);
        let json = config.to_json();
        let mut raw: *mut c_void = std::ptr::null_mut();
        let mut err = ErrorOut::EMPTY;
        // SAFETY: the table was validated by `PluginHandle::from_raw`; `json` and the host table
        // outlive the call (the host table lives in `host`, kept until the instance is destroyed).
        let status = unsafe { create(StrView::new(&json), host.as_ptr(), &mut raw, &mut err) };
        if status != STATUS_OK {
            // SAFETY: the plugin keeps its error texts until its next call.
            return Err(with_strategy_name(unsafe { read_error(&err) }, plugin.name()));
        }
        if raw.is_null() {
            return Err(StrategyError::InternalError {
                reason: format!("plugin package '{}': create() succeeded without a handle", plugin.provider()),
            });
        }
        let mut s = ForeignStrategy {
            plugin: Arc::clone(plugin),
            evaluate_fn,
            manage_fn,
            destroy_fn,
            next_candidate_fn: None,
            capabilities: Capabilities::EVERY_BAR,
            handle: Mutex::new(RawHandle(raw)),
            has_error: AtomicBool::new(false),
            error: Mutex::new(None),
            name: plugin.name().to_string(),
            version: plugin.version().to_string(),
            timeframe: Timeframe::M1,
            host,
        };
        // From here on, an early return drops `s`, which destroys the instance.
        let mut minutes = 0u32;
        // SAFETY: `raw` is the live instance, used only by this thread; out-params are local.
        let status = unsafe { timeframe_fn(raw, &mut minutes, &mut err) };
        if status != STATUS_OK {
            // SAFETY: as above.
            return Err(with_strategy_name(unsafe { read_error(&err) }, plugin.name()));
        }
        s.timeframe = Timeframe::from_minutes(minutes).ok_or_else(|| StrategyError::PluginIncompatible {
            reason: format!(
                "plugin package '{}': strategy '{}' reports a primary timeframe of {minutes} minutes, unknown to \
                 this omega-core",
                plugin.provider(),
                plugin.name()
            ),
        })?;
        let configured = config.primary_timeframe()?;
        if s.timeframe != configured {
            return Err(StrategyError::param(
                "timeframe",
                format!(
                    "strategy '{}' (plugin package '{}') runs on {} bars, but the config's timeframe is {configured}",
                    plugin.name(),
                    plugin.provider(),
                    s.timeframe
                ),
            ));
        }
        for (slot, dst, what) in
            [(name_fn, &mut s.name, "instance name"), (version_fn, &mut s.version, "instance version")]
        {
            let mut v = StrView::EMPTY;
            // SAFETY: as above.
            let status = unsafe { slot(raw, &mut v, &mut err) };
            if status != STATUS_OK {
                // SAFETY: as above.
                return Err(with_strategy_name(unsafe { read_error(&err) }, plugin.name()));
            }
            // SAFETY: the plugin keeps the string alive as long as the instance; checked before read.
            *dst = unsafe { v.read_checked(MAX_NAME_LEN, what) }.map_err(|e| in_package(e, plugin))?;
        }
        // v1.1: what the engine may skip. An older plugin has no slot: every bar, as before.
        if let Some(caps_fn) = t.capabilities {
            let mut bits = 0u64;
            // SAFETY: as above.
            let status = unsafe { caps_fn(raw, &mut bits, &mut err) };
            if status != STATUS_OK {
                // SAFETY: as above.
                return Err(with_strategy_name(unsafe { read_error(&err) }, plugin.name()));
            }
            let next = bits & CAP_NEXT_CANDIDATE != 0 && t.next_candidate.is_some();
            s.capabilities =
                Capabilities { manages_positions: bits & CAP_MANAGES_POSITIONS != 0, next_candidate: next };
            s.next_candidate_fn = if next { t.next_candidate } else { None };
        }
        Ok(s)
    }

    /// The plugin this instance belongs to.
    pub fn plugin(&self) -> &Arc<PluginHandle> {
        &self.plugin
    }

    /// Destroy the instance now (`on_deinit` runs in the plugin), reporting a panic there as E4008.
    /// Dropping a `ForeignStrategy` does the same but can only print such an error.
    pub fn close(self) -> Result<()> {
        let r = self.destroy_now();
        drop(self);
        r
    }

    fn destroy_now(&self) -> Result<()> {
        let mut h = self.lock();
        if h.0.is_null() {
            return Ok(());
        }
        let raw = std::mem::replace(&mut h.0, std::ptr::null_mut());
        let mut err = ErrorOut::EMPTY;
        // SAFETY: `raw` is the live instance, destroyed exactly once (the handle is nulled first).
        let status = unsafe { (self.destroy_fn)(raw, &mut err) };
        if status != STATUS_OK {
            // SAFETY: the plugin keeps its error texts until its next call.
            return Err(with_strategy_name(unsafe { read_error(&err) }, &self.name));
        }
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, RawHandle> {
        self.handle.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_error(&self, e: StrategyError) {
        let mut slot = self.error.lock().unwrap_or_else(|p| p.into_inner());
        // The first error is the one that matters (later ones are usually its consequences).
        if slot.is_none() {
            *slot = Some(with_strategy_name(e, &self.name));
        }
        self.has_error.store(true, Ordering::Release);
    }

    /// The host table handed to the plugin (for diagnostics and tests).
    pub fn host_table(&self) -> &super::abi::HostTable {
        self.host.table()
    }
}

impl Drop for ForeignStrategy<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.destroy_now() {
            eprintln!("omega: destroying strategy '{}' failed: {e} [{}]", self.name, e.code());
        }
    }
}

/// Copy a plugin's `SignalOut` into an owned signal (strings are copied here, once per signal).
///
/// # Safety
/// The views in `out` must be valid (the plugin guarantees this until its next call on the handle).
pub unsafe fn read_signal(out: &SignalOut) -> Result<TradeSignal> {
    let direction = match out.direction {
        DIRECTION_LONG => Direction::Long,
        DIRECTION_SHORT => Direction::Short,
        d => return Err(StrategyError::InvalidSignal { reason: format!("unknown direction code {d}") }),
    };
    // SAFETY: forwarded to the caller for every view; counts and lengths are checked against their
    // caps (and NULL against a length) before anything is read.
    unsafe {
        let tag_views = plugin_slice(out.tags, out.tags_len, "signal tags")?;
        let mut tags = Vec::with_capacity(tag_views.len());
        for t in tag_views {
            tags.push(t.read_checked(MAX_TEXT_LEN, "signal tag")?);
        }
        let meta = if out.has_meta != 0 {
            let keys = plugin_slice(out.meta_keys, out.meta_len, "signal meta keys")?;
            let values = plugin_slice(out.meta_values, out.meta_len, "signal meta values")?;
            let mut meta = HashMap::with_capacity(keys.len());
            for (k, v) in keys.iter().zip(values) {
                meta.insert(k.read_checked(MAX_TEXT_LEN, "signal meta key")?, *v);
            }
            Some(meta)
        } else {
            None
        };
        Ok(TradeSignal::new(
            direction,
            out.entry_price,
            out.stop_loss,
            (out.has_take_profit != 0).then_some(out.take_profit),
            out.reason.read_checked(MAX_TEXT_LEN, "signal reason")?,
            tags,
            (out.has_scenario != 0).then_some(out.scenario),
            meta,
        ))
    }
}

/// A plugin-owned array `(ptr, len)`, checked before use: more than [`MAX_ITEMS`] entries, NULL with
/// a length, or a misaligned pointer is an E4007 naming `what`.
///
/// # Safety
/// If non-null, aligned and within the cap, `ptr` must be valid for `len` reads of `T` for `'a`.
unsafe fn plugin_slice<'a, T>(ptr: *const T, len: usize, what: &str) -> Result<&'a [T]> {
    if len == 0 {
        return Ok(&[]);
    }
    let bad = |why: String| StrategyError::PluginIncompatible { reason: format!("plugin {what}: {why}") };
    if len > MAX_ITEMS {
        return Err(bad(format!("{len} entries exceed the limit of {MAX_ITEMS}")));
    }
    if ptr.is_null() {
        return Err(bad(format!("NULL pointer with length {len}")));
    }
    if !ptr.is_aligned() {
        return Err(bad("misaligned pointer".to_string()));
    }
    // SAFETY: non-null, aligned, within the cap; validity is the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// The position as the plugin sees it (borrows the symbol).
pub fn position_view(p: &Position) -> PositionView {
    PositionView {
        id: p.id,
        direction: match p.direction {
            Direction::Long => DIRECTION_LONG,
            Direction::Short => DIRECTION_SHORT,
        },
        has_take_profit: u32::from(p.take_profit.is_some()),
        entry_price: p.entry_price,
        entry_time_us: p.entry_time_us,
        stop_loss: p.stop_loss,
        take_profit: p.take_profit.unwrap_or(f64::NAN),
        lot_size: p.lot_size,
        pnl_pips: p.pnl_pips,
        pnl_usd: p.pnl_usd,
        bars_held: p.bars_held as u64,
        entry_index: p.entry_index as u64,
        symbol: StrView::new(&p.symbol),
    }
}

impl RustStrategy for ForeignStrategy<'_> {
    /// Passes only `slice.index`: the plugin reads bars and series through its own façade over the
    /// same host (the `cache` argument is not used).
    #[inline]
    fn evaluate(&self, slice: &DataSlice<'_>, _cache: &IndicatorCache<'_>) -> Option<TradeSignal> {
        let h = self.lock();
        let mut out = SignalOut::EMPTY;
        let mut err = ErrorOut::EMPTY;
        // SAFETY: `h.0` is the live instance (or null, which the plugin refuses), used under the lock.
        let status = unsafe { (self.evaluate_fn)(h.0, slice.index as u64, &mut out, &mut err) };
        if status != STATUS_OK {
            // SAFETY: the plugin keeps its error texts until its next call on this handle (we hold the lock).
            let e = unsafe { read_error(&err) };
            drop(h);
            self.set_error(e);
            return None;
        }
        if out.has_signal == 0 {
            return None;
        }
        // SAFETY: the signal's views stay valid until the next call on this handle (we hold the lock).
        let signal = unsafe { read_signal(&out) };
        drop(h);
        match signal {
            Ok(s) => Some(s),
            Err(e) => {
                self.set_error(e);
                None
            }
        }
    }

    fn manage_position(&self, position: &Position, slice: &DataSlice<'_>) -> PositionAction {
        let view = position_view(position);
        let h = self.lock();
        let mut out = ActionOut::EMPTY;
        let mut err = ErrorOut::EMPTY;
        // SAFETY: as in `evaluate`; `view` (and the symbol it borrows) outlives the call.
        let status = unsafe { (self.manage_fn)(h.0, &view, slice.index as u64, &mut out, &mut err) };
        if status != STATUS_OK {
            // SAFETY: as in `evaluate`.
            let e = unsafe { read_error(&err) };
            drop(h);
            self.set_error(e);
            return PositionAction::Hold;
        }
        let action = match out.kind {
            ACTION_HOLD => Ok(PositionAction::Hold),
            ACTION_MODIFY_STOP_LOSS => Ok(PositionAction::ModifyStopLoss { new_sl: out.value }),
            ACTION_MODIFY_TAKE_PROFIT => Ok(PositionAction::ModifyTakeProfit { new_tp: out.value }),
            // SAFETY: the reason stays valid until the next call on this handle (we hold the lock).
            ACTION_CLOSE => unsafe { out.reason.read_checked(MAX_TEXT_LEN, "close reason") }
                .map(|reason| PositionAction::Close { reason }),
            k => Err(StrategyError::InvalidSignal { reason: format!("unknown position action code {k}") }),
        };
        drop(h);
        action.unwrap_or_else(|e| {
            self.set_error(e);
            PositionAction::Hold
        })
    }

    fn primary_timeframe(&self) -> Timeframe {
        self.timeframe
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    /// Through the v1.1 slot when the plugin has it and declared it; otherwise every bar is a
    /// candidate (the per-bar calls of a v1.0 plugin).
    fn next_candidate(&self, from: usize, _cache: &IndicatorCache<'_>) -> Option<usize> {
        let Some(f) = self.next_candidate_fn else {
            return Some(from);
        };
        let h = self.lock();
        let mut next = NO_CANDIDATE;
        let mut err = ErrorOut::EMPTY;
        // SAFETY: as in `evaluate`.
        let status = unsafe { f(h.0, from as u64, &mut next, &mut err) };
        if status != STATUS_OK {
            // SAFETY: as in `evaluate`.
            let e = unsafe { read_error(&err) };
            drop(h);
            self.set_error(e);
            return None;
        }
        drop(h);
        // A contract breach (an index before `from`) costs a call, never a skipped signal.
        (next != NO_CANDIDATE).then(|| usize::try_from(next).map_or(usize::MAX, |c| c.max(from)))
    }

    /// Already done by the plugin's `create` (with the config given to [`ForeignStrategy::create`]).
    fn on_init(&mut self, _config: &StrategyConfig) -> Result<()> {
        Ok(())
    }

    /// Already done by the plugin's `create`, over the host given to [`ForeignStrategy::create`].
    fn prepare(&mut self, _cache: &IndicatorCache<'_>) -> Result<()> {
        Ok(())
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn version(&self) -> &str {
        &self.version
    }

    #[inline]
    fn take_error(&self) -> Option<StrategyError> {
        if !self.has_error.load(Ordering::Acquire) {
            return None;
        }
        let mut slot = self.error.lock().unwrap_or_else(|p| p.into_inner());
        self.has_error.store(false, Ordering::Release);
        slot.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn long_signal() -> SignalOut {
        SignalOut { has_signal: 1, entry_price: 1.1, stop_loss: 1.0, ..SignalOut::EMPTY }
    }

    #[test]
    fn hostile_signal_views_are_e4007_blamed_on_the_plugin() {
        let tag = StrView::new("t");
        let cases: [(SignalOut, &str); 6] = [
            (SignalOut { tags_len: 3, ..long_signal() }, "plugin signal tags: NULL pointer with length 3"),
            (SignalOut { tags: &tag, tags_len: 1 << 40, ..long_signal() }, "plugin signal tags: 1099511627776 entries"),
            (
                SignalOut { has_meta: 1, meta_keys: &tag, meta_len: 1, ..long_signal() },
                "plugin signal meta values: NULL pointer with length 1",
            ),
            (
                SignalOut { reason: StrView { ptr: tag.ptr, len: 1 << 45 }, ..long_signal() },
                "plugin signal reason: length 35184372088832 exceeds the limit of 65536",
            ),
            (
                SignalOut { reason: StrView { ptr: std::ptr::null(), len: 4 }, ..long_signal() },
                "plugin signal reason: NULL pointer with length 4",
            ),
            (SignalOut { direction: 7, ..long_signal() }, "unknown direction code 7"),
        ];
        for (out, needle) in cases {
            // SAFETY: every view is either live (`tag`) or refused before it is read.
            let e = unsafe { read_signal(&out) }.unwrap_err();
            assert!(e.to_string().contains(needle), "{needle:?} not in {e}");
            let expected = if needle.starts_with("unknown") { "E4006" } else { "E4007" };
            assert_eq!(e.code(), expected, "{e}");
        }
        let ok = SignalOut { tags: &tag, tags_len: 1, reason: StrView::new("why"), ..long_signal() };
        // SAFETY: all views are live.
        let s = unsafe { read_signal(&ok) }.unwrap();
        assert_eq!(s.parts().tags, ["t"]);
        assert_eq!(s.parts().reason, "why");
    }
}
