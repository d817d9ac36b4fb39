//! The six MRZ scenarios (spec §4, §5): conditions in the original's order, first signal wins, and
//! the signal exactly as the original builds it (entry unrounded, `sl`/`tp` rounded to 5 decimals,
//! reason, tags, scenario). Conditions read O(1) values; scenario 4's local z and scenario 5's
//! guard are computed only when everything cheaper in that scenario holds, memoised per bar.
//! Nothing is allocated unless a signal is returned.

use std::collections::HashMap;
use std::sync::Mutex;

use omega_core::indicators::{IndicatorKey, SeriesId};
use omega_core::{DataSlice, Direction, IndicatorCache, PriceSide, StrategyError, TradeSignal};

use crate::htf::{Bias, HtfReader, HtfTables};
use crate::local_z::LocalZ;
use crate::params::MrzParams;
use crate::vol_cluster::{GuardConfig, Outcome, Scratch};

/// Evaluation order (orig: BS:on_data): (scenario, is_long).
pub const ORDER: [(u32, bool); 12] = [
    (1, false),
    (1, true),
    (2, false),
    (2, true),
    (3, false),
    (3, true),
    (4, false),
    (4, true),
    (5, true),
    (5, false),
    (6, true),
    (6, false),
];

/// Python's `round(x, 5)`: the double nearest to `n / 10⁵`, where `n` is the exact value `x·10⁵`
/// rounded to an integer, ties to even.
///
/// Exact: `|x| = m·2^e` is decomposed from its bits, `m·10⁵·2^e` is rounded in 128-bit integer
/// arithmetic (no floating-point step), and for `|x| < 2⁵³/10⁵` the integer `n` is exact as a
/// double, so the single IEEE division `n / 1e5` is the correctly rounded value of `n/10⁵`, which
/// is what CPython's `round` returns (dtoa to 5 decimals, then strtod). Larger magnitudes fall back
/// to `format!("{:.5}")` + parse. Tested against that form in this module's tests.
pub fn r5(x: f64) -> f64 {
    const LIMIT: f64 = 9_007_199_254_740_992.0 / 100_000.0; // 2^53 / 10^5
    if !x.is_finite() {
        return x;
    }
    let a = x.abs();
    if a >= LIMIT {
        return format!("{x:.5}").parse::<f64>().unwrap_or(x);
    }
    let bits = a.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1_u64 << 52) - 1);
    let (m, e) = if exp == 0 { (frac, -1074) } else { (frac | (1_u64 << 52), exp - 1075) };
    let p = u128::from(m) * 100_000;
    // a < 2^37, so e <= 37 − 52 < 0: always a right shift.
    let s = e.unsigned_abs();
    let n = if s >= 127 {
        0
    } else {
        let q = p >> s;
        let r = p - (q << s);
        let half = 1_u128 << (s - 1);
        if r > half || (r == half && q & 1 == 1) {
            q + 1
        } else {
            q
        }
    };
    (n as f64 / 100_000.0).copysign(x)
}

/// The primary-timeframe series MRZ reads, by key.
#[derive(Clone, Copy, Debug)]
pub struct Keys {
    pub ema: IndicatorKey,
    pub z_ema: IndicatorKey,
    pub atr_bid: IndicatorKey,
    pub atr_ask: IndicatorKey,
    pub kalman_z: IndicatorKey,
    /// The rolling std of the Bollinger bands: a band is read as `mid ± std_factor·sd`
    /// ([`bollinger_band`]), the same operations as the core's band series, so the same bits
    /// without two more 8-byte-per-bar series.
    pub sd: IndicatorKey,
    pub mid: IndicatorKey,
    pub kalman_garch_z: IndicatorKey,
}

impl Keys {
    pub fn new(p: &MrzParams) -> Self {
        let bid = PriceSide::Bid;
        Keys {
            ema: IndicatorKey::ema(bid, p.ema_length),
            z_ema: IndicatorKey::zscore_ema(bid, p.ema_length, p.window_length),
            atr_bid: IndicatorKey::atr(bid, p.atr_length),
            atr_ask: IndicatorKey::atr(PriceSide::Ask, p.atr_length),
            kalman_z: IndicatorKey::kalman_zscore(bid, p.window_length, p.kalman_r, p.kalman_q),
            sd: IndicatorKey::rolling_std(bid, p.b_b_length),
            mid: IndicatorKey::sma(bid, p.b_b_length),
            kalman_garch_z: IndicatorKey::kalman_garch_zscore(bid, p.kalman_r, p.kalman_q, &p.garch.key_params()),
        }
    }

    /// The keys the enabled scenarios read (requested in `prepare`).
    pub fn needed(&self, p: &MrzParams) -> Vec<IndicatorKey> {
        let on = |n: usize| p.enabled[n] && (p.allow_long || p.allow_short);
        let mut out = Vec::new();
        if on(1) {
            out.push(self.z_ema);
            out.push(self.ema);
            out.push(self.atr_bid);
            if p.allow_short {
                out.push(self.atr_ask);
            }
        }
        if on(2) || on(3) || on(4) || on(5) || on(6) {
            out.extend([self.atr_bid, self.mid, self.sd]);
        }
        if on(2) || on(3) || on(5) || on(6) {
            out.push(self.kalman_z);
        }
        if on(3) {
            out.push(self.ema);
        }
        if on(4) && p.local_z_lookback == 0 {
            out.push(self.kalman_garch_z);
        }
        out
    }
}

/// Handles of the series in [`Keys`] that `prepare` registered (the ones the enabled scenarios
/// read), for per-bar reads without key lookups. `None` (not registered), or a handle of another
/// façade than the one `evaluate` gets: read by key.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ids {
    pub ema: Option<SeriesId>,
    pub z_ema: Option<SeriesId>,
    pub atr_bid: Option<SeriesId>,
    pub atr_ask: Option<SeriesId>,
    pub kalman_z: Option<SeriesId>,
    pub sd: Option<SeriesId>,
    pub mid: Option<SeriesId>,
    pub kalman_garch_z: Option<SeriesId>,
}

impl Ids {
    /// Register the keys of `keys` that the enabled scenarios read.
    pub fn register(keys: &Keys, p: &MrzParams, cache: &IndicatorCache<'_>) -> Result<Self, StrategyError> {
        let needed = keys.needed(p);
        let reg = |k: &IndicatorKey| -> Result<Option<SeriesId>, StrategyError> {
            if needed.contains(k) {
                Ok(Some(cache.register(k)?))
            } else {
                Ok(None)
            }
        };
        Ok(Ids {
            ema: reg(&keys.ema)?,
            z_ema: reg(&keys.z_ema)?,
            atr_bid: reg(&keys.atr_bid)?,
            atr_ask: reg(&keys.atr_ask)?,
            kalman_z: reg(&keys.kalman_z)?,
            sd: reg(&keys.sd)?,
            mid: reg(&keys.mid)?,
            kalman_garch_z: reg(&keys.kalman_garch_z)?,
        })
    }
}

/// Per-bar memo of the on-demand values (both directions of a bar share them) and their buffers.
#[derive(Debug, Default)]
pub struct Memo {
    local_z: Option<(usize, f64)>,
    guard: Option<(usize, Outcome)>,
    scratch: Scratch,
}

/// Everything `evaluate` needs besides the bar and the cache.
pub struct Evaluator {
    pub p: MrzParams,
    pub keys: Keys,
    /// Set by `prepare`.
    pub ids: Ids,
    pub htf: HtfTables,
    pub guard: GuardConfig,
    pub local_z: Option<LocalZ>,
    pub memo: Mutex<Memo>,
    /// The active (scenario, is_long) pairs in evaluation order ([`active_order`]).
    pub order: Vec<(u32, bool)>,
    /// Set by `prepare` ([`Evaluator::build_gate`]): per bar, whether any active scenario can
    /// fire. `false` is exact (a necessary condition of every active scenario fails); empty: no gate.
    pub gate: Vec<bool>,
    /// `htf_<A tf>_ema<A len>`.
    pub htf_tag: String,
}

/// A primary-timeframe series MRZ reads (index into [`Reads`]' per-bar values).
#[derive(Clone, Copy, Debug)]
enum Slot {
    ZEma = 0,
    Ema,
    AtrBid,
    AtrAsk,
    KalmanZ,
    Sd,
    Mid,
    KalmanGarchZ,
}

/// Values of one bar, fetched on first use and kept for the other scenarios of the bar (each
/// series is read at most once per bar; the reads happen in the same order as without the memo,
/// so an unavailable series fails at the same point).
struct Reads<'a, 'h> {
    cache: &'a IndicatorCache<'h>,
    i: usize,
    /// Bit `k`: `vals[k]` holds the value of slot `k`.
    loaded: u16,
    vals: [f64; 8],
}

impl<'a, 'h> Reads<'a, 'h> {
    #[inline]
    fn new(cache: &'a IndicatorCache<'h>, i: usize) -> Self {
        Reads { cache, i, loaded: 0, vals: [f64::NAN; 8] }
    }

    /// Value at the bar of `slot`'s series (by its registered handle, else by key).
    #[inline]
    fn get(&mut self, e: &Evaluator, slot: Slot) -> Result<f64, StrategyError> {
        let k = slot as usize;
        if self.loaded & (1 << k) != 0 {
            return Ok(self.vals[k]);
        }
        let v = self.fetch(e, slot)?;
        self.vals[k] = v;
        self.loaded |= 1 << k;
        Ok(v)
    }

    fn fetch(&self, e: &Evaluator, slot: Slot) -> Result<f64, StrategyError> {
        let (key, id) = match slot {
            Slot::ZEma => (&e.keys.z_ema, e.ids.z_ema),
            Slot::Ema => (&e.keys.ema, e.ids.ema),
            Slot::AtrBid => (&e.keys.atr_bid, e.ids.atr_bid),
            Slot::AtrAsk => (&e.keys.atr_ask, e.ids.atr_ask),
            Slot::KalmanZ => (&e.keys.kalman_z, e.ids.kalman_z),
            Slot::Sd => (&e.keys.sd, e.ids.sd),
            Slot::Mid => (&e.keys.mid, e.ids.mid),
            Slot::KalmanGarchZ => (&e.keys.kalman_garch_z, e.ids.kalman_garch_z),
        };
        let s = match id.and_then(|id| self.cache.get(id)) {
            Some(s) => s,
            None => self.cache.series(key)?,
        };
        Ok(s.get(self.i).copied().unwrap_or(f64::NAN))
    }
}

/// The price levels and readings of a scenario that fired. The TP source's value is `tp`; the
/// meta keys of the band and the TP source follow from the scenario and direction.
#[derive(Clone, Copy, Debug)]
struct Hit {
    entry: f64,
    sl: f64,
    tp: f64,
    z: f64,
    atr: f64,
    /// The band the price was checked against (NaN for scenario 1, which checks none).
    band: f64,
}

#[inline]
fn ok(v: f64) -> bool {
    v.is_finite()
}

/// The lower (`long`) or upper Bollinger band from its SMA and std, exactly as the core's
/// `BollingerLower`/`BollingerUpper` series compute it (`mid − k·sd`, `mid + k·sd`).
#[inline]
pub fn bollinger_band(mid: f64, sd: f64, k: f64, long: bool) -> f64 {
    if long {
        mid - k * sd
    } else {
        mid + k * sd
    }
}

/// The (scenario, is_long) pairs of [`ORDER`] that `p` activates, in order.
pub fn active_order(p: &MrzParams) -> Vec<(u32, bool)> {
    ORDER.iter().copied().filter(|&(n, long)| p.active(n as usize, long)).collect()
}

impl Evaluator {
    /// Tabulate, per bar, whether any active scenario can fire: its cheapest necessary
    /// conditions (scenario 1: the EMA z threshold; 2, 3, 5, 6: HTF A∧B and the Kalman z
    /// threshold; 4: HTF A∧B and the close beyond the band), from the same series and bars
    /// `evaluate` reads. Call after `ids` and `htf` are set. Empty (no gate) when a series the
    /// conditions need cannot be read here (`evaluate` then checks every bar in full).
    pub fn build_gate(&self, cache: &IndicatorCache<'_>) -> Vec<bool> {
        let series = |key: &IndicatorKey, id: Option<SeriesId>| -> Option<&[f64]> {
            match id.and_then(|id| cache.get(id)) {
                Some(s) => Some(s),
                None => cache.series(key).ok(),
            }
        };
        let n = cache.len();
        let uses = |k: u32| self.order.iter().any(|&(m, _)| m == k);
        let empty: &[f64] = &[];
        let z_ema = if uses(1) { series(&self.keys.z_ema, self.ids.z_ema) } else { Some(empty) };
        let kz = if [2, 3, 5, 6].into_iter().any(uses) {
            series(&self.keys.kalman_z, self.ids.kalman_z)
        } else {
            Some(empty)
        };
        let (mid, sd) = if uses(4) {
            (series(&self.keys.mid, self.ids.mid), series(&self.keys.sd, self.ids.sd))
        } else {
            (Some(empty), Some(empty))
        };
        let (Some(z_ema), Some(kz), Some(mid), Some(sd)) = (z_ema, kz, mid, sd) else {
            return Vec::new();
        };
        let close = cache.bars().bid_close;
        let at = |s: &[f64], i: usize| s.get(i).copied().unwrap_or(f64::NAN);
        let (zl, zs) = (self.p.z_score_long, self.p.z_score_short);
        let has = |ks: &[u32], long: bool| self.order.iter().any(|&(m, l)| l == long && ks.contains(&m));
        let (s1_long, s1_short) = (has(&[1], true), has(&[1], false));
        let (kz_long, kz_short) = (has(&[2, 3, 5, 6], true), has(&[2, 3, 5, 6], false));
        let (s4_long, s4_short) = (has(&[4], true), has(&[4], false));
        let any_bias = kz_long || kz_short || s4_long || s4_short;
        let mut gate = Vec::with_capacity(n);
        for i in 0..n {
            let mut may = false;
            if s1_long || s1_short {
                let z = at(z_ema, i);
                may = ok(z) && ((s1_long && z <= zl) || (s1_short && z >= zs));
            }
            if !may && any_bias && self.htf.bias(i).0 {
                let z = if kz_long || kz_short { at(kz, i) } else { f64::NAN };
                let c = close.get(i).copied().unwrap_or(f64::NAN);
                may = (kz_long && self.z_passes(z, true))
                    || (kz_short && self.z_passes(z, false))
                    || (s4_long && {
                        let lower = bollinger_band(at(mid, i), at(sd, i), self.p.std_factor, true);
                        ok(lower) && c <= lower
                    })
                    || (s4_short && {
                        let upper = bollinger_band(at(mid, i), at(sd, i), self.p.std_factor, false);
                        ok(upper) && c >= upper
                    });
            }
            gate.push(may);
        }
        gate
    }

    /// The first bar `>= from` at which [`evaluate`](Self::evaluate) can signal: the next bar the
    /// gate lets through, `None` past the last one. Without a gate of this market's length every
    /// bar is a candidate.
    pub fn next_candidate(&self, from: usize, cache: &IndicatorCache<'_>) -> Option<usize> {
        if self.gate.len() != cache.len() {
            return (from < cache.len()).then_some(from);
        }
        self.gate.get(from..)?.iter().position(|&g| g).map(|k| from + k)
    }

    /// First signal of the bar in the original's order, or `None`.
    ///
    /// Bars the gate (`prepare`) rules out return `None` at once.
    ///
    /// Scenarios 2–6 all require the HTF A∧B filter, read once per bar from the table; each
    /// scenario then rejects on its cheapest test first, and nothing is built unless it fires.
    #[inline]
    pub fn evaluate(
        &self,
        slice: &DataSlice<'_>,
        cache: &IndicatorCache<'_>,
    ) -> Result<Option<TradeSignal>, StrategyError> {
        if self.gate.len() == cache.len() && !self.gate.get(slice.index).copied().unwrap_or(true) {
            return Ok(None);
        }
        self.evaluate_full(slice, cache)
    }

    /// [`evaluate`](Self::evaluate) on a bar the gate lets through (kept out of line so that the
    /// gated bars pay for the gate test only).
    #[inline(never)]
    fn evaluate_full(
        &self,
        slice: &DataSlice<'_>,
        cache: &IndicatorCache<'_>,
    ) -> Result<Option<TradeSignal>, StrategyError> {
        let i = slice.index;
        let mut r = Reads::new(cache, i);
        let bias_ok = self.htf.bias(i).0;
        for &(n, long) in &self.order {
            let hit = match n {
                1 => self.s1(&mut r, slice, long)?,
                _ if !bias_ok => None,
                2 | 5 => self.s2(&mut r, slice, long)?,
                3 => self.s3(&mut r, slice, long)?,
                4 => self.s4(&mut r, slice, long)?,
                _ => {
                    if self.htf.chain_passes(i, long) {
                        self.s2(&mut r, slice, long)?
                    } else {
                        None
                    }
                }
            };
            let Some(h) = hit else { continue };
            let guard = if n == 5 {
                let g = self.guard_at(i, cache)?;
                if !g.pass() {
                    continue;
                }
                Some(g)
            } else {
                None
            };
            return Ok(Some(self.build(n, long, h, slice, cache, guard)));
        }
        Ok(None)
    }

    /// Scenario 1: z of close − EMA; ignores the HTF filters; short uses the ask ATR (§7 #8).
    fn s1(&self, r: &mut Reads<'_, '_>, b: &DataSlice<'_>, long: bool) -> Result<Option<Hit>, StrategyError> {
        let p = &self.p;
        let z = r.get(self, Slot::ZEma)?;
        if !ok(z) || (long && z > p.z_score_long) || (!long && z < p.z_score_short) {
            return Ok(None);
        }
        let atr = r.get(self, if long { Slot::AtrBid } else { Slot::AtrAsk })?;
        let ema = r.get(self, Slot::Ema)?;
        if !ok(atr) || !ok(ema) {
            return Ok(None);
        }
        let (entry, sl) = if long {
            (b.ask.close, b.bid.low - p.atr_mult * atr)
        } else {
            (b.bid.close, b.bid.high + p.atr_mult * atr)
        };
        Ok(Some(Hit { entry, sl, tp: ema, z, atr, band: f64::NAN }))
    }

    /// The z ≤/≥ threshold test of the Kalman scenarios.
    #[inline]
    fn z_passes(&self, z: f64, long: bool) -> bool {
        ok(z) && if long { z <= self.p.z_score_long } else { z >= self.p.z_score_short }
    }

    /// Band of the direction (lower for long, upper for short) and whether the close is beyond it.
    #[inline]
    fn band(&self, r: &mut Reads<'_, '_>, b: &DataSlice<'_>, long: bool) -> Result<(f64, bool), StrategyError> {
        let mid = r.get(self, Slot::Mid)?;
        let band = bollinger_band(mid, r.get(self, Slot::Sd)?, self.p.std_factor, long);
        let beyond = ok(band) && if long { b.bid.close <= band } else { b.bid.close >= band };
        Ok((band, beyond))
    }

    /// Entry and SL of scenarios 2–6 (bid ATR on both sides).
    #[inline]
    fn entry_sl(&self, b: &DataSlice<'_>, long: bool, atr: f64) -> (f64, f64) {
        if long {
            (b.ask.close, b.bid.low - self.p.atr_mult * atr)
        } else {
            (b.bid.close, b.bid.high + self.p.atr_mult * atr)
        }
    }

    fn band_key(long: bool) -> &'static str {
        if long {
            "lower"
        } else {
            "upper"
        }
    }

    /// Scenario 2 (HTF A∧B checked by the caller): Kalman z beyond the threshold, close beyond the
    /// Bollinger band; TP = mid. Also the base of scenarios 5 and 6.
    fn s2(&self, r: &mut Reads<'_, '_>, b: &DataSlice<'_>, long: bool) -> Result<Option<Hit>, StrategyError> {
        let z = r.get(self, Slot::KalmanZ)?;
        if !self.z_passes(z, long) {
            return Ok(None);
        }
        let (band, beyond) = self.band(r, b, long)?;
        let mid = r.get(self, Slot::Mid)?;
        if !ok(mid) || !beyond {
            return Ok(None);
        }
        let atr = r.get(self, Slot::AtrBid)?;
        if !ok(atr) {
            return Ok(None);
        }
        let (entry, sl) = self.entry_sl(b, long, atr);
        Ok(Some(Hit { entry, sl, tp: mid, z, atr, band }))
    }

    /// Scenario 3 (HTF A∧B checked by the caller): scenario 2 with the EMA as TP, which must be
    /// `tp_min_distance` beyond the entry side.
    fn s3(&self, r: &mut Reads<'_, '_>, b: &DataSlice<'_>, long: bool) -> Result<Option<Hit>, StrategyError> {
        let z = r.get(self, Slot::KalmanZ)?;
        if !self.z_passes(z, long) {
            return Ok(None);
        }
        let (band, beyond) = self.band(r, b, long)?;
        let ema = r.get(self, Slot::Ema)?;
        if !ok(ema) || !beyond {
            return Ok(None);
        }
        let d = self.p.tp_min_distance;
        let far_enough = if long { ema > b.ask.close + d } else { ema < b.bid.close - d };
        if !far_enough {
            return Ok(None);
        }
        let atr = r.get(self, Slot::AtrBid)?;
        if !ok(atr) {
            return Ok(None);
        }
        let (entry, sl) = self.entry_sl(b, long, atr);
        Ok(Some(Hit { entry, sl, tp: ema, z, atr, band }))
    }

    /// Scenario 4 (HTF A∧B checked by the caller): scenario 2 with the Kalman-GARCH z (local
    /// window when `local_z_lookback` > 0), read last because the local z is the expensive part.
    fn s4(&self, r: &mut Reads<'_, '_>, b: &DataSlice<'_>, long: bool) -> Result<Option<Hit>, StrategyError> {
        let (band, beyond) = self.band(r, b, long)?;
        let mid = r.get(self, Slot::Mid)?;
        if !ok(mid) || !beyond {
            return Ok(None);
        }
        let atr = r.get(self, Slot::AtrBid)?;
        if !ok(atr) {
            return Ok(None);
        }
        let z = match &self.local_z {
            Some(lz) => self.local_z_at(lz, b.index, r.cache),
            None => r.get(self, Slot::KalmanGarchZ)?,
        };
        if !self.z_passes(z, long) {
            return Ok(None);
        }
        let (entry, sl) = self.entry_sl(b, long, atr);
        Ok(Some(Hit { entry, sl, tp: mid, z, atr, band }))
    }

    fn memo(&self) -> std::sync::MutexGuard<'_, Memo> {
        // A poisoned memo only means an earlier call panicked mid-update; its values are per bar
        // and re-validated by index, so keep using it.
        self.memo.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Local z at bar `i`, memoised (long and short of a bar share it).
    fn local_z_at(&self, lz: &LocalZ, i: usize, cache: &IndicatorCache<'_>) -> f64 {
        let mut memo = self.memo();
        if let Some((j, z)) = memo.local_z {
            if j == i {
                return z;
            }
        }
        let z = lz.at(i, cache.bars().bid_close);
        memo.local_z = Some((i, z));
        z
    }

    /// Volatility-cluster guard at bar `i`, memoised.
    fn guard_at(&self, i: usize, cache: &IndicatorCache<'_>) -> Result<Outcome, StrategyError> {
        let mut memo = self.memo();
        if let Some((j, o)) = memo.guard {
            if j == i {
                return Ok(o);
            }
        }
        let atr = match self.guard.feature {
            crate::params::VolFeature::AtrPoints => match self.ids.atr_bid.and_then(|id| cache.get(id)) {
                Some(s) => s,
                None => cache.series(&self.keys.atr_bid)?,
            },
            crate::params::VolFeature::GarchForecast => &[],
        };
        let o = self.guard.evaluate(i, cache.bars().bid_close, atr, &mut memo.scratch);
        memo.guard = Some((i, o));
        Ok(o)
    }

    /// The signal of scenario `n` (allocates: only called when a signal is returned).
    fn build(
        &self,
        n: u32,
        long: bool,
        h: Hit,
        b: &DataSlice<'_>,
        cache: &IndicatorCache<'_>,
        guard: Option<Outcome>,
    ) -> TradeSignal {
        let dir = if long { "long" } else { "short" };
        let direction = if long { Direction::Long } else { Direction::Short };
        let (sl, tp) = (r5(h.sl), r5(h.tp));
        if n == 1 {
            let reason = format!("zscore_ema_{dir}");
            let tags = ["zscore", "ema", "scenario1"].map(String::from).to_vec();
            return TradeSignal::new(direction, h.entry, sl, Some(tp), reason, tags, Some(1), None);
        }
        let (_, bias_a, bias_b) = self.htf.bias(b.index);
        let htf = [self.htf_tag.clone(), format!("biasA_{}", bias_a.label()), format!("biasB_{}", bias_b.label())];
        let mut tags: Vec<String> = Vec::with_capacity(12);
        let reason = match n {
            2 | 3 => {
                tags.extend(["kalman", "bollinger"].map(String::from));
                tags.push(format!("scenario{n}"));
                tags.extend(htf);
                format!("kalman_z_boll_{dir}")
            }
            4 => {
                tags.extend(["kalman", "garch", "bollinger", "scenario4"].map(String::from));
                tags.extend(htf);
                format!("kalman_garch_z_boll_{dir}")
            }
            5 => {
                tags.extend(["kalman", "bollinger"].map(String::from));
                tags.extend(htf);
                tags.extend(["vol_cluster", "scenario5"].map(String::from));
                format!("kalman_z_boll_{dir}_vol_cluster")
            }
            _ => {
                tags.extend(["kalman", "bollinger"].map(String::from));
                tags.extend(htf);
                tags.extend(["scenario6", "multi_tf"].map(String::from));
                for (t, tf) in self.p.s6.iter().enumerate() {
                    let state = if self.htf.chain_tf_ok(b.index, t, long) { "ok" } else { "fail" };
                    tags.push(format!("tf_{}_{state}", tf.name.to_lowercase()));
                }
                dedup(&mut tags);
                format!("kalman_z_boll_{dir}_multi_tf")
            }
        };
        let meta = self.meta(n, long, &h, b, cache, (bias_a, bias_b), guard);
        TradeSignal::new(direction, h.entry, sl, Some(tp), reason, tags, Some(n), Some(meta))
    }

    /// Informational meta of scenarios 2–6 (`z` and `atr` are the fixture columns). Only finite
    /// values are recorded.
    #[allow(clippy::too_many_arguments)]
    fn meta(
        &self,
        n: u32,
        long: bool,
        h: &Hit,
        b: &DataSlice<'_>,
        cache: &IndicatorCache<'_>,
        bias: (Bias, Bias),
        guard: Option<Outcome>,
    ) -> HashMap<String, f64> {
        let mut m: Vec<(&str, f64)> = vec![
            ("z", h.z),
            ("atr", h.atr),
            (if n == 1 { "" } else { Self::band_key(long) }, h.band),
            (if n == 1 || n == 3 { "ema" } else { "mid" }, h.tp),
            ("bid_close", b.bid.close),
            ("ask_close", b.ask.close),
            ("spread", b.ask.close - b.bid.close),
            ("htf_a_bias", bias.0.value()),
            ("htf_b_bias", bias.1.value()),
        ];
        for (spec, close_key, ema_key) in
            [(&self.p.htf_a, "htf_a_close", "htf_a_ema"), (&self.p.htf_b, "htf_b_close", "htf_b_ema")]
        {
            let Some(reader) = spec.tf.and_then(|tf| HtfReader::new(cache, tf, &self.p)) else { continue };
            let Some(j) = reader.visible_at(b.index) else { continue };
            m.push((close_key, reader.close(j)));
            if let Ok(ema) = cache.series(&reader.key(IndicatorKey::ema(PriceSide::Bid, spec.ema))) {
                m.push((ema_key, ema.get(j).copied().unwrap_or(f64::NAN)));
            }
        }
        if let Some(g) = guard {
            m.push(("vol_sigma", g.sigma));
            m.push(("vol_sample_size", g.sample_size as f64));
            m.push(("vol_clusters", g.clusters as f64));
            if let Some(rank) = g.rank {
                m.push(("vol_rank", rank as f64));
            }
        }
        if n == 6 {
            let passed = (0..self.p.s6.len()).filter(|&t| self.htf.chain_tf_ok(b.index, t, long)).count();
            m.push(("s6_timeframes", self.p.s6.len() as f64));
            m.push(("s6_ok", passed as f64));
        }
        m.into_iter().filter(|(k, v)| !k.is_empty() && v.is_finite()).map(|(k, v)| (k.to_string(), v)).collect()
    }
}

/// Remove repeated tags, keeping the first occurrence (order preserved).
fn dedup(tags: &mut Vec<String>) {
    let mut i = 0;
    while i < tags.len() {
        if tags[..i].contains(&tags[i]) {
            tags.remove(i);
        } else {
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random doubles (SplitMix64) for property checks.
    fn values(seed: u64, n: usize) -> Vec<f64> {
        let mut state = seed;
        (0..n)
            .map(|_| {
                state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = state;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                z ^= z >> 31;
                (z >> 11) as f64 / (1_u64 << 53) as f64
            })
            .collect()
    }

    fn via_format(x: f64) -> f64 {
        format!("{x:.5}").parse::<f64>().unwrap_or(f64::NAN)
    }

    #[test]
    fn r5_matches_the_format_definition() {
        let u = values(7, 400_000);
        for (k, w) in u.chunks(2).enumerate() {
            // prices, small signed values, and 5-decimal grid points ± a few ulps
            let price = 0.5 + 2.0 * w[0];
            let small = (w[1] - 0.5) * 1e-3;
            let grid = ((w[0] * 2e5).floor() / 1e5 + 0.000005) * if k % 2 == 0 { 1.0 } else { -1.0 };
            for x in [
                price,
                small,
                grid,
                f64::from_bits(grid.to_bits() + 1),
                f64::from_bits(grid.to_bits() - 1),
                price * 150.0,
            ] {
                assert_eq!(r5(x).to_bits(), via_format(x).to_bits(), "x = {x:e}");
            }
        }
    }

    #[test]
    fn r5_ties_go_to_even_like_python() {
        // exact binary ties at 5 decimals: odd multiples of 2^-6 · 10^-5 … e.g. 1/64 = 0.015625
        assert_eq!(r5(0.015625), 0.01562);
        assert_eq!(r5(0.046875), 0.04688);
        assert_eq!(r5(-0.015625), -0.01562);
        assert_eq!(r5(1.1022812500), 1.10228); // spec §8, bar 5 TP
        assert_eq!(r5(1.10228125), 1.10228);
        assert_eq!(r5(1.1000703125), 1.10007);
        assert!(r5(-1e-9).is_sign_negative() && r5(-1e-9) == 0.0);
        assert_eq!(r5(123456789.123456), via_format(123456789.123456));
        assert_eq!(r5(1e300), 1e300);
        assert!(r5(f64::NAN).is_nan());
        for k in 0..2000_u32 {
            let x = f64::from(2 * k + 1) / 64.0 * 1e-3;
            assert_eq!(r5(x).to_bits(), via_format(x).to_bits(), "{x}");
        }
    }

    #[test]
    fn dedup_keeps_first() {
        let mut t: Vec<String> = ["a", "b", "a", "c", "b"].map(String::from).to_vec();
        dedup(&mut t);
        assert_eq!(t, ["a", "b", "c"]);
    }
}
