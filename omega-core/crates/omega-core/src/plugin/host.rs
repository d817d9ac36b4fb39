//! Both ends of the host table. Core side: [`HostGuard`] builds a [`HostTable`] over any
//! `&dyn IndicatorHost` and keeps it (and every error message it hands out) alive; the borrow makes
//! the host outlive the guard. Plugin side: [`ForeignHost`] is an `IndicatorHost` over a received
//! table, turning its views into slices. Host functions may be called from any thread.

use std::ffi::c_void;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;
use std::sync::Mutex;

use super::abi::{BarsView, ErrorOut, F64View, HostTable, StrView, ABI_MAJOR, ABI_MINOR, HOST_SLOTS, HOST_TABLE_SIZE};
use super::abi::{STATUS_ERROR, STATUS_OK};
use super::{error_parts, read_error};
use crate::error::{Result, StrategyError};
use crate::indicators::{BarsRef, IndicatorHost, IndicatorKey};
use crate::types::Timeframe;

/// What the table's `ctx` points to.
struct HostCtx<'h> {
    table: HostTable,
    host: &'h dyn IndicatorHost,
    /// Every error text handed out, kept until the guard drops (errors are rare: each ends a run).
    errors: Mutex<Vec<Box<str>>>,
}

/// Owns a [`HostTable`] over a borrowed host. The table (and every view it returns) stays valid
/// while the guard lives, and its address does not change when the guard moves.
pub struct HostGuard<'h> {
    ctx: NonNull<HostCtx<'h>>,
    _host: PhantomData<&'h dyn IndicatorHost>,
}

// SAFETY: the guard owns a heap `HostCtx` whose fields are `Sync` (`&dyn IndicatorHost` with
// `IndicatorHost: Sync`, a `Mutex`, and an immutable table), so it may move to and be shared with
// other threads.
unsafe impl Send for HostGuard<'_> {}
// SAFETY: see `Send`; shared access only reads the table or goes through the mutex.
unsafe impl Sync for HostGuard<'_> {}

impl<'h> HostGuard<'h> {
    /// A host table over `host`.
    pub fn new(host: &'h dyn IndicatorHost) -> Self {
        let ctx = Box::new(HostCtx {
            table: HostTable {
                abi_major: ABI_MAJOR,
                abi_minor: ABI_MINOR,
                struct_size: HOST_TABLE_SIZE as u32,
                reserved: 0,
                ctx: std::ptr::null(),
                bars: Some(host_bars),
                series: Some(host_series),
            },
            host,
            errors: Mutex::new(Vec::new()),
        });
        let ctx = NonNull::from(Box::leak(ctx));
        // SAFETY: `ctx` was just leaked from a Box, is unique here, and stays allocated until `drop`.
        unsafe { (*ctx.as_ptr()).table.ctx = ctx.as_ptr() as *const c_void };
        HostGuard { ctx, _host: PhantomData }
    }

    /// The table to hand to a plugin's `create` (valid while `self` lives).
    pub fn as_ptr(&self) -> *const HostTable {
        // SAFETY: `ctx` is live until drop; taking a field address creates no reference.
        unsafe { std::ptr::addr_of!((*self.ctx.as_ptr()).table) }
    }

    /// The table.
    pub fn table(&self) -> &HostTable {
        // SAFETY: live until drop and never mutated after `new`.
        unsafe { &(*self.ctx.as_ptr()).table }
    }
}

impl Drop for HostGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: `ctx` came from `Box::leak` in `new` and is freed exactly once, here.
        drop(unsafe { Box::from_raw(self.ctx.as_ptr()) });
    }
}

impl HostCtx<'_> {
    /// Keep `e`'s texts alive and describe them in `err`.
    fn fail(&self, e: &StrategyError, err: *mut ErrorOut) -> u32 {
        let (code, subject, message) = error_parts(e);
        let subject: Box<str> = subject.into();
        let message: Box<str> = message.into();
        let out = ErrorOut { code, reserved: 0, subject: StrView::new(&subject), message: StrView::new(&message) };
        // Moving a Box does not move its heap text, so the views stay valid inside `errors`.
        let mut kept = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        kept.push(subject);
        kept.push(message);
        if !err.is_null() {
            // SAFETY: non-null, and the plugin passes a pointer to a writable `ErrorOut`.
            unsafe { err.write(out) };
        }
        STATUS_ERROR
    }
}

/// Run `f`, turning a panic of host code into an E4009 error (a panic must not cross `extern "C"`).
fn guarded<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => Err(StrategyError::InternalError {
            reason: format!("omega-core indicator host panicked: {}", super::export::panic_message(&*payload)),
        }),
    }
}

fn bars_to_view(b: &BarsRef<'_>) -> BarsView {
    let (visible, visible_len) = match b.visible {
        Some(v) => (v.as_ptr(), v.len()),
        None => (std::ptr::null(), 0),
    };
    BarsView {
        timeframe: b.timeframe.minutes(),
        reserved: 0,
        len: b.len(),
        symbol: StrView::new(b.symbol),
        open_time_us: b.open_time_us.as_ptr(),
        close_time_us: b.close_time_us.as_ptr(),
        prices: [
            b.bid_open.as_ptr(),
            b.bid_high.as_ptr(),
            b.bid_low.as_ptr(),
            b.bid_close.as_ptr(),
            b.bid_volume.as_ptr(),
            b.ask_open.as_ptr(),
            b.ask_high.as_ptr(),
            b.ask_low.as_ptr(),
            b.ask_close.as_ptr(),
            b.ask_volume.as_ptr(),
        ],
        visible,
        visible_len,
    }
}

unsafe extern "C" fn host_bars(ctx: *const c_void, tf_minutes: u32, out: *mut BarsView, err: *mut ErrorOut) -> u32 {
    if ctx.is_null() {
        return STATUS_ERROR;
    }
    // SAFETY: `ctx` is the `HostCtx` this table was built with (the only value `new` puts there),
    // alive while the guard lives, which the ABI contract makes outlive every call.
    let ctx = unsafe { &*(ctx as *const HostCtx<'_>) };
    let result = guarded(|| {
        if out.is_null() {
            return Err(StrategyError::InternalError { reason: "host bars(): null out pointer".into() });
        }
        let tf = match tf_minutes {
            0 => None,
            m => Some(Timeframe::from_minutes(m).ok_or_else(|| StrategyError::IndicatorError {
                indicator: "bars".into(),
                reason: format!("unknown timeframe of {m} minutes"),
            })?),
        };
        let b = ctx.host.bars(tf)?;
        // SAFETY: `out` is non-null and points to the caller's writable `BarsView`.
        unsafe { out.write(bars_to_view(&b)) };
        Ok(())
    });
    match result {
        Ok(()) => STATUS_OK,
        Err(e) => ctx.fail(&e, err),
    }
}

unsafe extern "C" fn host_series(
    ctx: *const c_void,
    key: *const IndicatorKey,
    out: *mut F64View,
    err: *mut ErrorOut,
) -> u32 {
    if ctx.is_null() {
        return STATUS_ERROR;
    }
    // SAFETY: as in `host_bars`.
    let ctx = unsafe { &*(ctx as *const HostCtx<'_>) };
    let result = guarded(|| {
        if out.is_null() || key.is_null() {
            return Err(StrategyError::InternalError { reason: "host series(): null pointer argument".into() });
        }
        // SAFETY: non-null; `IndicatorKey` is `#[repr(C)]` plain data, read by value (any alignment).
        let key = unsafe { key.read_unaligned() };
        let s = ctx.host.series(&key)?;
        // SAFETY: `out` is non-null and writable.
        unsafe { out.write(F64View::new(s)) };
        Ok(())
    });
    match result {
        Ok(()) => STATUS_OK,
        Err(e) => ctx.fail(&e, err),
    }
}

/// Plugin side: an `IndicatorHost` over a host table received from the core. Obtained only through
/// [`ForeignHost::from_raw`], which checks the table's version and slots.
#[repr(transparent)]
pub struct ForeignHost(HostTable);

impl ForeignHost {
    /// Validate `table` (major, size, slots; E4007 listing every problem) and view it as a host.
    ///
    /// # Safety
    /// `table` must be null or point to a host table (at least `struct_size` readable bytes) that,
    /// with every view it returns, stays valid for `'a`.
    pub unsafe fn from_raw<'a>(table: *const HostTable) -> Result<&'a ForeignHost> {
        if table.is_null() {
            return Err(StrategyError::PluginIncompatible { reason: "the core passed a null host table".into() });
        }
        // SAFETY: the caller guarantees `struct_size` readable bytes, at least the 16-byte header.
        let header = unsafe { table.cast::<super::abi::TableHeader>().read_unaligned() };
        let mut problems = Vec::new();
        if header.abi_major != ABI_MAJOR {
            problems.push(format!("host table ABI major {} != {} expected", header.abi_major, ABI_MAJOR));
        }
        let size = header.struct_size as usize;
        if size < HOST_TABLE_SIZE {
            problems.push(format!("host table struct_size {size} < {HOST_TABLE_SIZE} required"));
        }
        for (name, off) in HOST_SLOTS {
            if off + std::mem::size_of::<usize>() > size {
                problems.push(format!("host slot '{name}' missing (beyond struct_size)"));
            } else {
                // SAFETY: within the declared size; read as an integer, so any bits are valid.
                let v = unsafe { table.cast::<u8>().add(off).cast::<usize>().read_unaligned() };
                if v == 0 {
                    problems.push(format!("host slot '{name}' is null"));
                }
            }
        }
        if !problems.is_empty() {
            return Err(StrategyError::PluginIncompatible {
                reason: format!(
                    "host table (ABI {}.{}) rejected by a plugin built for ABI {}.{}: {}",
                    header.abi_major,
                    header.abi_minor,
                    ABI_MAJOR,
                    ABI_MINOR,
                    problems.join("; ")
                ),
            });
        }
        // SAFETY: validated above; `ForeignHost` is `repr(transparent)` over `HostTable`, and the
        // caller guarantees validity for 'a.
        Ok(unsafe { &*(table as *const ForeignHost) })
    }
}

/// A slice from a foreign `(ptr, len)`, checked for null and alignment.
///
/// # Safety
/// If non-null, `ptr` must be valid for `len` reads of `T` for `'a`.
pub(crate) unsafe fn foreign_slice<'a, T>(ptr: *const T, len: usize, what: &str) -> Result<&'a [T]> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() || !ptr.is_aligned() {
        return Err(StrategyError::InternalError { reason: format!("host returned an invalid '{what}' view") });
    }
    // SAFETY: non-null, aligned, and valid for `len` reads for 'a per the caller.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Turn a host `BarsView` into a `BarsRef` (checks every pointer).
///
/// # Safety
/// The view's pointers must be valid as documented on [`BarsView`] for `'a`.
pub(crate) unsafe fn bars_from_view<'a>(v: &BarsView) -> Result<BarsRef<'a>> {
    let n = v.len;
    let tf = Timeframe::from_minutes(v.timeframe).ok_or_else(|| StrategyError::InternalError {
        reason: format!("host returned bars of an unknown timeframe ({} minutes)", v.timeframe),
    })?;
    // SAFETY: forwarded to the caller for every column.
    unsafe {
        let symbol = std::str::from_utf8(v.symbol.as_bytes())
            .map_err(|_| StrategyError::InternalError { reason: "host symbol is not UTF-8".into() })?;
        let p = &v.prices;
        let col = |i: usize, name: &str| foreign_slice(p[i], n, name);
        let visible =
            if v.visible.is_null() { None } else { Some(foreign_slice(v.visible, v.visible_len, "visible")?) };
        Ok(BarsRef {
            symbol,
            timeframe: tf,
            open_time_us: foreign_slice(v.open_time_us, n, "open_time_us")?,
            close_time_us: foreign_slice(v.close_time_us, n, "close_time_us")?,
            bid_open: col(0, "bid_open")?,
            bid_high: col(1, "bid_high")?,
            bid_low: col(2, "bid_low")?,
            bid_close: col(3, "bid_close")?,
            bid_volume: col(4, "bid_volume")?,
            ask_open: col(5, "ask_open")?,
            ask_high: col(6, "ask_high")?,
            ask_low: col(7, "ask_low")?,
            ask_close: col(8, "ask_close")?,
            ask_volume: col(9, "ask_volume")?,
            visible,
        })
    }
}

impl IndicatorHost for ForeignHost {
    fn bars(&self, timeframe: Option<Timeframe>) -> Result<BarsRef<'_>> {
        let t = &self.0;
        let f =
            t.bars.ok_or_else(|| StrategyError::PluginIncompatible { reason: "host slot 'bars' is null".into() })?;
        let mut out = BarsView::EMPTY;
        let mut err = ErrorOut::EMPTY;
        // SAFETY: the table was validated in `from_raw`; `ctx` is the host's, out-params are local.
        let status = unsafe { f(t.ctx, timeframe.map_or(0, |tf| tf.minutes()), &mut out, &mut err) };
        if status != STATUS_OK {
            // SAFETY: the host keeps its error texts alive at least until its next call.
            return Err(unsafe { read_error(&err) });
        }
        // SAFETY: host views stay valid as long as the table (`from_raw`'s contract ties it to 'self).
        unsafe { bars_from_view(&out) }
    }

    fn series(&self, key: &IndicatorKey) -> Result<&[f64]> {
        let t = &self.0;
        let f = t
            .series
            .ok_or_else(|| StrategyError::PluginIncompatible { reason: "host slot 'series' is null".into() })?;
        let mut out = F64View::EMPTY;
        let mut err = ErrorOut::EMPTY;
        // SAFETY: as in `bars`; `key` is a live `#[repr(C)]` value.
        let status = unsafe { f(t.ctx, key, &mut out, &mut err) };
        if status != STATUS_OK {
            // SAFETY: as in `bars`.
            return Err(unsafe { read_error(&err) });
        }
        // SAFETY: as in `bars`.
        unsafe { foreign_slice(out.ptr, out.len, "series") }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::indicators::{IndicatorCache, PriceSide};

    /// A minimal in-memory host: primary M1 bars, one HTF (M5), and SMA(n) of bid closes.
    pub(crate) struct TinyHost {
        pub ts: Vec<i64>,
        pub close_ts: Vec<i64>,
        pub cols: [Vec<f64>; 10],
        pub htf_ts: Vec<i64>,
        pub htf_cols: [Vec<f64>; 10],
        pub visible: Vec<i64>,
        pub series: Mutex<Vec<(IndicatorKey, &'static [f64])>>,
    }

    impl TinyHost {
        pub(crate) fn new(n: usize) -> Self {
            let ts: Vec<i64> = (0..n as i64).map(|i| i * 60_000_000).collect();
            let close_ts = ts.iter().map(|t| t + 60_000_000).collect();
            let mid: Vec<f64> = (0..n).map(|i| 1.1 + 0.001 * ((i as f64) * 0.7).sin()).collect();
            let cols = std::array::from_fn(|c| {
                let spread = if c >= 5 { 0.0001 } else { 0.0 };
                match c % 5 {
                    1 => mid.iter().map(|m| m + 0.0005 + spread).collect(),
                    2 => mid.iter().map(|m| m - 0.0005 + spread).collect(),
                    4 => vec![1.0; n],
                    _ => mid.iter().map(|m| m + spread).collect(),
                }
            });
            let m = n.div_ceil(5);
            let htf_ts = (0..m as i64).map(|i| i * 300_000_000).collect();
            let htf_cols = std::array::from_fn(|c| vec![c as f64; m]);
            let visible = (0..n as i64).map(|i| (i + 1) / 5 - 1).collect();
            TinyHost { ts, close_ts, cols, htf_ts, htf_cols, visible, series: Mutex::new(Vec::new()) }
        }
    }

    impl IndicatorHost for TinyHost {
        fn bars(&self, timeframe: Option<Timeframe>) -> Result<BarsRef<'_>> {
            let (tf, ts, c, vis) = match timeframe {
                None | Some(Timeframe::M1) => (Timeframe::M1, &self.ts, &self.cols, None),
                Some(Timeframe::M5) => (Timeframe::M5, &self.htf_ts, &self.htf_cols, Some(self.visible.as_slice())),
                Some(other) => {
                    return Err(StrategyError::IndicatorError {
                        indicator: format!("bars {other}"),
                        reason: "not available".into(),
                    })
                }
            };
            Ok(BarsRef {
                symbol: "EURUSD",
                timeframe: tf,
                open_time_us: ts,
                close_time_us: if vis.is_none() { &self.close_ts } else { ts },
                bid_open: &c[0],
                bid_high: &c[1],
                bid_low: &c[2],
                bid_close: &c[3],
                bid_volume: &c[4],
                ask_open: &c[5],
                ask_high: &c[6],
                ask_low: &c[7],
                ask_close: &c[8],
                ask_volume: &c[9],
                visible: vis,
            })
        }

        fn series(&self, key: &IndicatorKey) -> Result<&[f64]> {
            if key.kind != crate::indicators::IndicatorKind::Sma as u32 || key.params[0] < 1.0 {
                return Err(StrategyError::IndicatorError {
                    indicator: format!("kind {}", key.kind),
                    reason: "TinyHost only has SMA(n >= 1)".into(),
                });
            }
            let mut memo = self.series.lock().unwrap();
            if let Some((_, s)) = memo.iter().find(|(k, _)| k == key) {
                return Ok(s);
            }
            let n = key.params[0] as usize;
            let c = &self.cols[3];
            let s: Vec<f64> = (0..c.len())
                .map(|i| if i + 1 < n { f64::NAN } else { c[i + 1 - n..=i].iter().sum::<f64>() / n as f64 })
                .collect();
            // Leaked for the test process: the test host lives for the whole test anyway.
            let s: &'static [f64] = Box::leak(s.into_boxed_slice());
            memo.push((*key, s));
            Ok(s)
        }
    }

    #[test]
    fn host_table_round_trip() {
        let host = TinyHost::new(23);
        let guard = HostGuard::new(&host);
        assert_eq!(guard.table().abi_major, ABI_MAJOR);
        assert_eq!(guard.table().struct_size as usize, HOST_TABLE_SIZE);
        // SAFETY: the guard (and host) outlive `foreign`.
        let foreign = unsafe { ForeignHost::from_raw(guard.as_ptr()) }.unwrap();
        let direct = host.bars(None).unwrap();
        let via = foreign.bars(None).unwrap();
        assert_eq!(via.symbol, "EURUSD");
        assert_eq!(via.timeframe, Timeframe::M1);
        assert_eq!(via.len(), 23);
        assert!(std::ptr::eq(via.bid_close, direct.bid_close), "views are zero-copy");
        assert_eq!(via.ask_high, direct.ask_high);
        assert!(via.visible.is_none());
        let htf = foreign.bars(Some(Timeframe::M5)).unwrap();
        assert_eq!(htf.timeframe, Timeframe::M5);
        assert_eq!(htf.visible.unwrap(), host.visible.as_slice());
        assert_eq!(htf.len(), 5);

        let key = IndicatorKey::sma(PriceSide::Bid, 3);
        let s = foreign.series(&key).unwrap();
        assert!(std::ptr::eq(s, host.series(&key).unwrap()));

        // Errors come back with code, subject and message intact.
        let e = foreign.series(&IndicatorKey::rsi(PriceSide::Bid, 3)).unwrap_err();
        assert_eq!(e.code(), "E4003");
        assert!(matches!(&e, StrategyError::IndicatorError { indicator, .. } if indicator == "kind 7"));
        let e = foreign.bars(Some(Timeframe::H4)).unwrap_err();
        assert_eq!(e.code(), "E4003");
        assert!(e.to_string().contains("bars H4"));

        // The façade works over the foreign host exactly as in-process.
        let cache = IndicatorCache::new(foreign).unwrap();
        assert_eq!(cache.len(), 23);
        assert_eq!(cache.series(&key).unwrap().len(), 23);
        assert_eq!(cache.fetched(), 1);
    }

    #[test]
    fn guard_moves_keep_the_table_address() {
        let host = TinyHost::new(4);
        let guard = HostGuard::new(&host);
        let p = guard.as_ptr();
        let moved = Box::new(guard);
        assert_eq!(moved.as_ptr(), p);
        // SAFETY: `moved` outlives the use.
        let foreign = unsafe { ForeignHost::from_raw(moved.as_ptr()) }.unwrap();
        assert_eq!(foreign.bars(None).unwrap().len(), 4);
    }

    #[test]
    fn bad_host_tables_are_refused_with_every_problem() {
        let host = TinyHost::new(4);
        let guard = HostGuard::new(&host);
        let mut t = *guard.table();
        t.abi_major = 9;
        t.series = None;
        // SAFETY: `t` is a readable local table.
        let e = unsafe { ForeignHost::from_raw(&t) }.err().unwrap();
        assert_eq!(e.code(), "E4007");
        let msg = e.to_string();
        assert!(msg.contains("major 9"), "{msg}");
        assert!(msg.contains("'series' is null"), "{msg}");
        let mut t = *guard.table();
        t.struct_size = 16;
        // SAFETY: as above.
        let msg = unsafe { ForeignHost::from_raw(&t) }.err().unwrap().to_string();
        assert!(msg.contains("struct_size 16 < 40"), "{msg}");
        assert!(msg.contains("'bars' missing") && msg.contains("'series' missing"), "{msg}");
        // SAFETY: null is allowed and refused.
        assert_eq!(unsafe { ForeignHost::from_raw(std::ptr::null()) }.err().unwrap().code(), "E4007");
    }
}
