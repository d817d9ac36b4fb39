//! Plugin side: the runtime behind [`export_strategy!`](crate::export_strategy). It builds the plugin
//! table of a `RustStrategy + Default` type and the `extern "C"` thunks that fill it. Each thunk runs
//! the strategy under `catch_unwind`, so a panic becomes an E4008 error carrying its message and the
//! strategy name. An instance owns the strategy, its `IndicatorCache` over the core's host table and
//! the buffers its outputs point into (valid until the next call on the same handle).

use std::any::{type_name, Any};
use std::cell::RefCell;
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::abi::{
    ActionOut, ErrorOut, HostTable, PluginTable, PositionView, SignalOut, StrView, ABI_MAJOR, ABI_MINOR, ACTION_CLOSE,
    ACTION_HOLD, ACTION_MODIFY_STOP_LOSS, ACTION_MODIFY_TAKE_PROFIT, CAP_MANAGES_POSITIONS, CAP_NEXT_CANDIDATE,
    DIRECTION_LONG, DIRECTION_SHORT, FLAG_PANIC_UNWIND, NO_CANDIDATE, PLUGIN_TABLE_SIZE, STATUS_ERROR, STATUS_OK,
};
use super::error_parts;
use super::host::ForeignHost;
use crate::config::StrategyConfig;
use crate::error::{Result, StrategyError};
use crate::indicators::{BarsRef, IndicatorCache};
use crate::strategy::RustStrategy;
use crate::types::{CandleData, DataSlice, Direction, Position, PositionAction, TradeSignal};

/// Bound of [`assert_exportable`]: names `Default` when it is missing.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be exported by `export_strategy!`: it does not implement `Default`",
    label = "missing `Default`",
    note = "every plugin instance starts as `Default::default()`, then gets `on_init(config)` and \
            `prepare(cache)`: add `#[derive(Default)]` or `impl Default for {Self}`"
)]
pub trait ExportDefault {}
impl<T: Default> ExportDefault for T {}

/// Bound of [`assert_exportable`]: names `RustStrategy` when it is missing.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be exported by `export_strategy!`: it does not implement `omega_core::RustStrategy`",
    label = "missing `impl RustStrategy`",
    note = "implement `omega_core::RustStrategy` (evaluate, manage_position, primary_timeframe, name) for `{Self}`"
)]
pub trait ExportStrategy {}
impl<T: RustStrategy + 'static> ExportStrategy for T {}

/// Compile-time check used by `export_strategy!`; misuse is an error naming the missing piece.
pub const fn assert_exportable<S: ExportStrategy + ExportDefault>() {}

/// Text of a panic payload.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        String::from("panic with a non-string payload")
    }
}

/// Drop a panic payload without letting a panicking destructor escape.
fn drop_payload(payload: Box<dyn Any + Send>) {
    if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        std::mem::forget(again);
    }
}

/// The plugin table of `S`: every slot filled with a thunk for `S`; name and version from a default
/// instance (its strings are allocated once and live for the process, like the table).
pub fn build_table<S: RustStrategy + Default + 'static>() -> PluginTable {
    let (name, version) = match catch_unwind(|| {
        let s = S::default();
        (s.name().to_owned(), s.version().to_owned())
    }) {
        Ok(nv) => nv,
        Err(p) => {
            drop_payload(p);
            (type_name::<S>().to_owned(), String::new())
        }
    };
    let name: &'static str = Box::leak(name.into_boxed_str());
    let version: &'static str = Box::leak(version.into_boxed_str());
    PluginTable {
        abi_major: ABI_MAJOR,
        abi_minor: ABI_MINOR,
        struct_size: PLUGIN_TABLE_SIZE as u32,
        reserved: 0,
        core_version: StrView::new(crate::CORE_VERSION),
        strategy_name: StrView::new(name),
        strategy_version: StrView::new(version),
        create: Some(create::<S>),
        destroy: Some(destroy::<S>),
        evaluate: Some(evaluate::<S>),
        manage_position: Some(manage_position::<S>),
        primary_timeframe: Some(primary_timeframe::<S>),
        name: Some(name_of::<S>),
        version: Some(version_of::<S>),
        // Evaluated in the plugin's build: the panic strategy is one setting for the whole crate graph.
        flags: if cfg!(panic = "unwind") { FLAG_PANIC_UNWIND } else { 0 },
        capabilities: Some(capabilities::<S>),
        next_candidate: Some(next_candidate::<S>),
    }
}

thread_local! {
    /// Error texts of calls that have no instance to keep them (`create`, `destroy`, bad handles):
    /// valid until the next such call on the same thread.
    static LAST_ERROR: RefCell<(String, String)> = const { RefCell::new((String::new(), String::new())) };
}

/// Describe `e` in `err` using the thread's error buffer.
fn fail_without_instance(e: &StrategyError, err: *mut ErrorOut) -> u32 {
    let (code, subject, message) = error_parts(e);
    LAST_ERROR.with(|cell| {
        let mut buf = cell.borrow_mut();
        buf.0.clear();
        buf.0.push_str(subject);
        buf.1.clear();
        buf.1.push_str(message);
        if !err.is_null() {
            let out = ErrorOut { code, reserved: 0, subject: StrView::new(&buf.0), message: StrView::new(&buf.1) };
            // SAFETY: non-null; the core passes a writable `ErrorOut`.
            unsafe { err.write(out) };
        }
    });
    STATUS_ERROR
}

/// Parse the core's config JSON. The core has validated it strictly; keys this plugin's omega-core
/// does not know (added by a newer core, e.g. in `engine`) are dropped here instead of refused, so
/// an older plugin keeps working. `params` is passed through untouched.
pub fn config_from_core(json: &str) -> Result<StrategyConfig> {
    fn prune(v: &mut serde_json::Value, template: &serde_json::Value) {
        if let (Some(obj), Some(tpl)) = (v.as_object_mut(), template.as_object()) {
            obj.retain(|k, _| tpl.contains_key(k));
            for (k, child) in obj.iter_mut() {
                if k != "params" {
                    if let Some(t) = tpl.get(k) {
                        prune(child, t);
                    }
                }
            }
        }
    }
    let mut v: serde_json::Value =
        serde_json::from_str(json).map_err(|e| StrategyError::config(format!("config JSON: {e}")))?;
    let template = serde_json::to_value(StrategyConfig::new("X", "M1"))
        .map_err(|e| StrategyError::InternalError { reason: format!("config template: {e}") })?;
    prune(&mut v, &template);
    let cfg: StrategyConfig =
        serde_json::from_value(v).map_err(|e| StrategyError::config(format!("config JSON: {e}")))?;
    cfg.validate()?;
    Ok(cfg)
}

/// One strategy instance behind a handle.
struct Instance<S> {
    strategy: S,
    name: String,
    version: String,
    /// Façade over the core's host table (valid until `destroy`, by the ABI contract).
    cache: IndicatorCache<'static>,
    bars: BarsRef<'static>,
    /// Reused for every `manage_position` call.
    position: Position,
    /// Owners of what the last `SignalOut`/`ActionOut`/`ErrorOut` point to.
    signal: Option<TradeSignal>,
    tag_views: Vec<StrView>,
    meta_keys: Vec<StrView>,
    meta_values: Vec<f64>,
    action: PositionAction,
    err_subject: String,
    err_message: String,
    /// Set after a panic: the strategy's state is unknown, every later call fails with it.
    poisoned: Option<String>,
}

impl<S: RustStrategy> Instance<S> {
    fn fail(&mut self, e: &StrategyError, err: *mut ErrorOut) -> u32 {
        let (code, subject, message) = error_parts(e);
        self.err_subject.clear();
        self.err_subject.push_str(subject);
        self.err_message.clear();
        self.err_message.push_str(message);
        if !err.is_null() {
            let out = ErrorOut {
                code,
                reserved: 0,
                subject: StrView::new(&self.err_subject),
                message: StrView::new(&self.err_message),
            };
            // SAFETY: non-null; the core passes a writable `ErrorOut`.
            unsafe { err.write(out) };
        }
        STATUS_ERROR
    }

    fn panicked(&self, message: String) -> StrategyError {
        StrategyError::StrategyPanicked { strategy: self.name.clone(), message }
    }

    #[inline]
    fn index(&self, bar_index: u64) -> Result<usize> {
        let i = bar_index as usize;
        if i < self.bars.len() && bar_index <= usize::MAX as u64 {
            Ok(i)
        } else {
            Err(StrategyError::InternalError {
                reason: format!("bar index {bar_index} out of range (0..{})", self.bars.len()),
            })
        }
    }

    /// The strategy's view of primary bar `i` (no allocation).
    #[inline]
    fn slice(&self, i: usize) -> DataSlice<'static> {
        let b = &self.bars;
        let ts = b.open_time_us[i];
        DataSlice {
            symbol: b.symbol,
            timeframe: b.timeframe,
            index: i,
            timestamp_us: ts,
            bid: CandleData {
                timestamp_us: ts,
                open: b.bid_open[i],
                high: b.bid_high[i],
                low: b.bid_low[i],
                close: b.bid_close[i],
                volume: b.bid_volume[i],
            },
            ask: CandleData {
                timestamp_us: ts,
                open: b.ask_open[i],
                high: b.ask_high[i],
                low: b.ask_low[i],
                close: b.ask_close[i],
                volume: b.ask_volume[i],
            },
        }
    }

    #[inline]
    fn evaluate(&mut self, bar_index: u64, out: &mut SignalOut) -> Result<()> {
        let i = self.index(bar_index)?;
        let slice = self.slice(i);
        let signal = self.strategy.evaluate(&slice, &self.cache);
        if let Some(e) = self.strategy.take_error() {
            return Err(e);
        }
        match signal {
            None => out.has_signal = 0,
            Some(s) => self.put_signal(s, out),
        }
        Ok(())
    }

    fn put_signal(&mut self, signal: TradeSignal, out: &mut SignalOut) {
        let s = self.signal.insert(signal);
        let p = s.parts();
        self.tag_views.clear();
        self.tag_views.extend(p.tags.iter().map(|t| StrView::new(t)));
        self.meta_keys.clear();
        self.meta_values.clear();
        if let Some(meta) = p.meta {
            let mut pairs: Vec<(&String, f64)> = meta.iter().map(|(k, v)| (k, *v)).collect();
            pairs.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            for (k, v) in pairs {
                self.meta_keys.push(StrView::new(k));
                self.meta_values.push(v);
            }
        }
        *out = SignalOut {
            has_signal: 1,
            direction: match p.direction {
                Direction::Long => DIRECTION_LONG,
                Direction::Short => DIRECTION_SHORT,
            },
            entry_price: p.entry_price,
            stop_loss: p.stop_loss,
            take_profit: p.take_profit.unwrap_or(f64::NAN),
            has_take_profit: u32::from(p.take_profit.is_some()),
            scenario: p.scenario.unwrap_or(0),
            has_scenario: u32::from(p.scenario.is_some()),
            has_meta: u32::from(p.meta.is_some()),
            reason: StrView::new(p.reason),
            tags: self.tag_views.as_ptr(),
            tags_len: self.tag_views.len(),
            meta_keys: self.meta_keys.as_ptr(),
            meta_values: self.meta_values.as_ptr(),
            meta_len: self.meta_keys.len(),
        };
    }

    fn manage_position(&mut self, pv: &PositionView, bar_index: u64, out: &mut ActionOut) -> Result<()> {
        let i = self.index(bar_index)?;
        let p = &mut self.position;
        p.id = pv.id;
        p.direction = match pv.direction {
            DIRECTION_LONG => Direction::Long,
            DIRECTION_SHORT => Direction::Short,
            d => return Err(StrategyError::InternalError { reason: format!("position direction code {d}") }),
        };
        p.entry_price = pv.entry_price;
        p.entry_time_us = pv.entry_time_us;
        p.stop_loss = pv.stop_loss;
        p.take_profit = (pv.has_take_profit != 0).then_some(pv.take_profit);
        p.lot_size = pv.lot_size;
        p.pnl_pips = pv.pnl_pips;
        p.pnl_usd = pv.pnl_usd;
        p.bars_held = pv.bars_held as usize;
        p.entry_index = pv.entry_index as usize;
        // SAFETY: the core keeps the position's symbol alive for the duration of this call.
        let sym = unsafe { pv.symbol.as_bytes() };
        if p.symbol.as_bytes() != sym {
            p.symbol = String::from_utf8_lossy(sym).into_owned();
        }
        let slice = self.slice(i);
        let action = self.strategy.manage_position(&self.position, &slice);
        if let Some(e) = self.strategy.take_error() {
            return Err(e);
        }
        let (kind, value) = match &action {
            PositionAction::Hold => (ACTION_HOLD, 0.0),
            PositionAction::ModifyStopLoss { new_sl } => (ACTION_MODIFY_STOP_LOSS, *new_sl),
            PositionAction::ModifyTakeProfit { new_tp } => (ACTION_MODIFY_TAKE_PROFIT, *new_tp),
            PositionAction::Close { .. } => (ACTION_CLOSE, 0.0),
        };
        // The instance owns the action (and so the close reason) until the next call.
        self.action = action;
        let reason = match &self.action {
            PositionAction::Close { reason } => StrView::new(reason),
            _ => StrView::EMPTY,
        };
        *out = ActionOut { kind, reserved: 0, value, reason };
        Ok(())
    }
}

/// Run `f` on the instance behind `handle` under the panic guard.
///
/// # Safety
/// `handle` must be null or an instance of `S` created by `create::<S>` and not yet destroyed, used
/// by one thread at a time.
#[inline]
unsafe fn with_instance<S: RustStrategy>(
    handle: *mut c_void,
    err: *mut ErrorOut,
    f: impl FnOnce(&mut Instance<S>) -> Result<()>,
) -> u32 {
    if handle.is_null() {
        return fail_without_instance(&StrategyError::InternalError { reason: "null strategy handle".into() }, err);
    }
    // SAFETY: per the function contract, `handle` is a live `Instance<S>` used by this thread only.
    let inst = unsafe { &mut *(handle as *mut Instance<S>) };
    if let Some(msg) = &inst.poisoned {
        let e = inst.panicked(format!("called again after a panic: {msg}"));
        return inst.fail(&e, err);
    }
    match catch_unwind(AssertUnwindSafe(|| f(&mut *inst))) {
        Ok(Ok(())) => STATUS_OK,
        Ok(Err(e)) => inst.fail(&e, err),
        Err(payload) => {
            let msg = panic_message(&*payload);
            drop_payload(payload);
            inst.poisoned = Some(msg.clone());
            let e = inst.panicked(msg);
            inst.fail(&e, err)
        }
    }
}

unsafe extern "C" fn create<S: RustStrategy + Default + 'static>(
    config_json: StrView,
    host: *const HostTable,
    out_handle: *mut *mut c_void,
    err: *mut ErrorOut,
) -> u32 {
    let mut name: Option<String> = None;
    let result = catch_unwind(AssertUnwindSafe(|| -> Result<*mut Instance<S>> {
        if out_handle.is_null() {
            return Err(StrategyError::InternalError { reason: "create(): null out_handle".into() });
        }
        // SAFETY: the core passes its host table, valid until this instance is destroyed (ABI
        // contract), hence 'static as far as the instance can observe.
        let host: &'static ForeignHost = unsafe { ForeignHost::from_raw(host) }?;
        // SAFETY: the core's config view is valid for the duration of this call.
        let json = std::str::from_utf8(unsafe { config_json.as_bytes() })
            .map_err(|_| StrategyError::config("config JSON is not UTF-8"))?;
        let config = config_from_core(json)?;
        let mut strategy = S::default();
        name = Some(strategy.name().to_owned());
        strategy.on_init(&config)?;
        let cache = IndicatorCache::new(host)?;
        strategy.prepare(&cache)?;
        let bars = cache.bars();
        let inst = Instance {
            name: strategy.name().to_owned(),
            version: strategy.version().to_owned(),
            strategy,
            cache,
            bars,
            position: Position {
                id: 0,
                symbol: bars.symbol.to_owned(),
                direction: Direction::Long,
                entry_price: 0.0,
                entry_time_us: 0,
                stop_loss: 0.0,
                take_profit: None,
                lot_size: 0.0,
                pnl_pips: 0.0,
                pnl_usd: 0.0,
                bars_held: 0,
                entry_index: 0,
            },
            signal: None,
            tag_views: Vec::new(),
            meta_keys: Vec::new(),
            meta_values: Vec::new(),
            action: PositionAction::Hold,
            err_subject: String::new(),
            err_message: String::new(),
            poisoned: None,
        };
        Ok(Box::into_raw(Box::new(inst)))
    }));
    match result {
        Ok(Ok(inst)) => {
            // SAFETY: checked non-null above; the core passes a writable pointer slot.
            unsafe { out_handle.write(inst.cast()) };
            STATUS_OK
        }
        Ok(Err(e)) => fail_without_instance(&e, err),
        Err(payload) => {
            let message = panic_message(&*payload);
            drop_payload(payload);
            let strategy = name.unwrap_or_else(|| type_name::<S>().to_owned());
            fail_without_instance(&StrategyError::StrategyPanicked { strategy, message }, err)
        }
    }
}

unsafe extern "C" fn destroy<S: RustStrategy + 'static>(handle: *mut c_void, err: *mut ErrorOut) -> u32 {
    if handle.is_null() {
        return STATUS_OK;
    }
    // SAFETY: `handle` came from `create::<S>` (Box::into_raw) and is destroyed exactly once (contract).
    let mut inst = unsafe { Box::from_raw(handle as *mut Instance<S>) };
    let name = inst.name.clone();
    match catch_unwind(AssertUnwindSafe(move || {
        inst.strategy.on_deinit();
        drop(inst);
    })) {
        Ok(()) => STATUS_OK,
        Err(payload) => {
            let message = panic_message(&*payload);
            drop_payload(payload);
            fail_without_instance(&StrategyError::StrategyPanicked { strategy: name, message }, err)
        }
    }
}

unsafe extern "C" fn evaluate<S: RustStrategy + 'static>(
    handle: *mut c_void,
    bar_index: u64,
    out_signal: *mut SignalOut,
    err: *mut ErrorOut,
) -> u32 {
    // SAFETY: handle contract forwarded from the ABI (see `with_instance`).
    unsafe {
        with_instance::<S>(handle, err, |inst| {
            if out_signal.is_null() {
                return Err(StrategyError::InternalError { reason: "evaluate(): null out_signal".into() });
            }
            // SAFETY: non-null; the core passes a writable `SignalOut` it owns for this call.
            inst.evaluate(bar_index, &mut *out_signal)
        })
    }
}

unsafe extern "C" fn manage_position<S: RustStrategy + 'static>(
    handle: *mut c_void,
    position: *const PositionView,
    bar_index: u64,
    out_action: *mut ActionOut,
    err: *mut ErrorOut,
) -> u32 {
    // SAFETY: handle contract forwarded from the ABI (see `with_instance`).
    unsafe {
        with_instance::<S>(handle, err, |inst| {
            if position.is_null() || out_action.is_null() {
                return Err(StrategyError::InternalError { reason: "manage_position(): null pointer".into() });
            }
            // SAFETY: non-null; the core's position view and out-struct are valid for this call.
            inst.manage_position(&position.read_unaligned(), bar_index, &mut *out_action)
        })
    }
}

unsafe extern "C" fn primary_timeframe<S: RustStrategy + 'static>(
    handle: *mut c_void,
    out_minutes: *mut u32,
    err: *mut ErrorOut,
) -> u32 {
    // SAFETY: handle contract forwarded from the ABI (see `with_instance`).
    unsafe {
        with_instance::<S>(handle, err, |inst| {
            if out_minutes.is_null() {
                return Err(StrategyError::InternalError { reason: "primary_timeframe(): null out".into() });
            }
            // SAFETY: non-null and writable.
            out_minutes.write(inst.strategy.primary_timeframe().minutes());
            Ok(())
        })
    }
}

unsafe extern "C" fn name_of<S: RustStrategy + 'static>(
    handle: *mut c_void,
    out: *mut StrView,
    err: *mut ErrorOut,
) -> u32 {
    // SAFETY: handle contract forwarded from the ABI (see `with_instance`).
    unsafe {
        with_instance::<S>(handle, err, |inst| {
            if out.is_null() {
                return Err(StrategyError::InternalError { reason: "name(): null out".into() });
            }
            // SAFETY: non-null and writable; the name lives as long as the instance.
            out.write(StrView::new(&inst.name));
            Ok(())
        })
    }
}

unsafe extern "C" fn version_of<S: RustStrategy + 'static>(
    handle: *mut c_void,
    out: *mut StrView,
    err: *mut ErrorOut,
) -> u32 {
    // SAFETY: handle contract forwarded from the ABI (see `with_instance`).
    unsafe {
        with_instance::<S>(handle, err, |inst| {
            if out.is_null() {
                return Err(StrategyError::InternalError { reason: "version(): null out".into() });
            }
            // SAFETY: non-null and writable; the version lives as long as the instance.
            out.write(StrView::new(&inst.version));
            Ok(())
        })
    }
}

unsafe extern "C" fn capabilities<S: RustStrategy + 'static>(
    handle: *mut c_void,
    out_caps: *mut u64,
    err: *mut ErrorOut,
) -> u32 {
    // SAFETY: handle contract forwarded from the ABI (see `with_instance`).
    unsafe {
        with_instance::<S>(handle, err, |inst| {
            if out_caps.is_null() {
                return Err(StrategyError::InternalError { reason: "capabilities(): null out".into() });
            }
            let c = inst.strategy.capabilities();
            let bits = if c.manages_positions { CAP_MANAGES_POSITIONS } else { 0 }
                | if c.next_candidate { CAP_NEXT_CANDIDATE } else { 0 };
            // SAFETY: non-null and writable.
            out_caps.write(bits);
            Ok(())
        })
    }
}

unsafe extern "C" fn next_candidate<S: RustStrategy + 'static>(
    handle: *mut c_void,
    from: u64,
    out_next: *mut u64,
    err: *mut ErrorOut,
) -> u32 {
    // SAFETY: handle contract forwarded from the ABI (see `with_instance`).
    unsafe {
        with_instance::<S>(handle, err, |inst| {
            if out_next.is_null() {
                return Err(StrategyError::InternalError { reason: "next_candidate(): null out".into() });
            }
            let n = inst.bars.len() as u64;
            let next = if from >= n {
                NO_CANDIDATE
            } else {
                match inst.strategy.next_candidate(from as usize, &inst.cache) {
                    Some(c) if (c as u64) < n => c as u64,
                    _ => NO_CANDIDATE,
                }
            };
            if let Some(e) = inst.strategy.take_error() {
                return Err(e);
            }
            // SAFETY: non-null and writable.
            out_next.write(next);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_from_core_drops_unknown_engine_keys_only() {
        let json = r#"{"symbol":"EURUSD","timeframe":"M5","params":{"fast":3,"new_param":1},
            "engine":{"seed":7,"a_key_from_a_newer_core":true,"costs":{"commission_per_lot":2.0,"newer":1}},
            "top_level_from_newer_core":1}"#;
        let c = config_from_core(json).unwrap();
        assert_eq!(c.engine.seed, 7);
        assert_eq!(c.engine.costs.commission_per_lot, 2.0);
        assert_eq!(c.params.len(), 2, "params pass through untouched");
        // Values that are known but invalid are still refused.
        let e = config_from_core(r#"{"symbol":"EURUSD","timeframe":"W1"}"#).unwrap_err();
        assert_eq!(e.code(), "E4002");
        let e = config_from_core("{not json").unwrap_err();
        assert_eq!(e.code(), "E4002");
    }

    #[test]
    fn panic_messages() {
        assert_eq!(panic_message(&"static"), "static");
        assert_eq!(panic_message(&String::from("owned")), "owned");
        assert_eq!(panic_message(&5u8), "panic with a non-string payload");
    }
}
