//! Higher-timeframe reads (spec §1, §3.3, §4 "S6 chain"): the visible HTF bar of each primary bar
//! with the stale rule, the HTF bias filters A and B, and the scenario-6 chain. Both depend only on
//! the bar, so they are tabulated once in `prepare` (one byte / one word per primary bar) and read
//! in O(1) per bar.

use omega_core::indicators::{BarsRef, IndicatorKey};
use omega_core::{IndicatorCache, PriceSide, StrategyError, Timeframe};

use crate::params::{ChainMode, FilterMode, HtfFilterSpec, MrzParams, S6Params};

/// Bias of one filter at one bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bias {
    /// Data missing (or stale), or the filter is not applied.
    Missing = 0,
    Above = 1,
    Below = 2,
    Neutral = 3,
}

impl Bias {
    fn from_code(c: u8) -> Self {
        match c & 3 {
            1 => Bias::Above,
            2 => Bias::Below,
            3 => Bias::Neutral,
            _ => Bias::Missing,
        }
    }

    /// Tag label: above, below, neutral or na.
    pub fn label(self) -> &'static str {
        match self {
            Bias::Missing => "na",
            Bias::Above => "above",
            Bias::Below => "below",
            Bias::Neutral => "neutral",
        }
    }

    /// +1, −1, 0, or NaN when missing (for meta).
    pub fn value(self) -> f64 {
        match self {
            Bias::Missing => f64::NAN,
            Bias::Above => 1.0,
            Bias::Below => -1.0,
            Bias::Neutral => 0.0,
        }
    }

    fn of(close: f64, ema: f64) -> Self {
        if !(close.is_finite() && ema.is_finite()) {
            Bias::Missing
        } else if close > ema {
            Bias::Above
        } else if close < ema {
            Bias::Below
        } else {
            Bias::Neutral
        }
    }
}

/// Whether a filter in `mode` passes with `bias` (spec §3.3; direction-independent).
fn passes(spec: &HtfFilterSpec, bias: Bias) -> bool {
    if spec.tf.is_none() {
        return true;
    }
    match spec.mode {
        FilterMode::Pass => true,
        FilterMode::Above => bias == Bias::Above,
        FilterMode::Below => bias == Bias::Below,
    }
}

/// Stale limit in primary bars for timeframe `tf` (orig: RUN:_effective_stale_limit).
pub fn stale_limit(tf: Timeframe, primary: Timeframe, configured: usize) -> usize {
    if configured > 0 {
        return configured;
    }
    let ratio = (tf.minutes() / primary.minutes().max(1)).max(1) as usize;
    (2 * ratio).max(1)
}

/// One higher timeframe as the strategy reads it: bars, visibility and the stale limit.
#[derive(Clone, Copy)]
pub struct HtfReader<'h> {
    bars: BarsRef<'h>,
    /// `None` for the primary timeframe (the bar itself is visible).
    tf: Option<Timeframe>,
    stale_limit: usize,
}

impl<'h> HtfReader<'h> {
    /// A reader of `tf`; `None` when the timeframe cannot be provided (missing everywhere).
    pub fn new(cache: &IndicatorCache<'h>, tf: Timeframe, p: &MrzParams) -> Option<Self> {
        if tf == p.primary {
            return Some(HtfReader { bars: cache.bars(), tf: None, stale_limit: usize::MAX });
        }
        let bars = cache.htf(tf).ok()?;
        bars.visible?;
        Some(HtfReader { bars, tf: Some(tf), stale_limit: stale_limit(tf, p.primary, p.stale_bar_limit_bars) })
    }

    /// `key` on this reader's timeframe.
    pub fn key(&self, key: IndicatorKey) -> IndicatorKey {
        key.on(self.tf)
    }

    /// HTF bar visible at every primary bar, in order, with the stale rule applied
    /// (`f(i, Some(htf_index))`, or `None` when nothing is visible or the value is stale).
    pub fn for_each_visible(&self, n: usize, mut f: impl FnMut(usize, Option<usize>)) {
        let Some(visible) = self.bars.visible else {
            for i in 0..n {
                f(i, Some(i));
            }
            return;
        };
        let mut current = -1_i64;
        let mut since = 0_usize;
        for i in 0..n {
            let v = visible.get(i).copied().unwrap_or(-1);
            if v != current {
                current = v;
                since = i;
            }
            let ok = v >= 0 && i - since <= self.stale_limit && (v as usize) < self.bars.len();
            f(i, ok.then_some(v as usize));
        }
    }

    /// The visible (non-stale) HTF bar at primary bar `i`: scans back to where it became visible.
    pub fn visible_at(&self, i: usize) -> Option<usize> {
        let Some(visible) = self.bars.visible else {
            return (i < self.bars.len()).then_some(i);
        };
        let v = *visible.get(i)?;
        if v < 0 || v as usize >= self.bars.len() {
            return None;
        }
        let mut j0 = i;
        while j0 > 0 && visible[j0 - 1] == v {
            j0 -= 1;
            if i - j0 > self.stale_limit {
                return None;
            }
        }
        Some(v as usize)
    }

    /// Bid close of HTF bar `j`.
    pub fn close(&self, j: usize) -> f64 {
        self.bars.bid_close.get(j).copied().unwrap_or(f64::NAN)
    }
}

/// Read `s[j]`, NaN when absent.
#[inline]
fn at(s: &[f64], j: usize) -> f64 {
    s.get(j).copied().unwrap_or(f64::NAN)
}

/// Per-bar HTF tables: bias labels and pass flag of A∧B, and the scenario-6 chain bits.
#[derive(Clone, Debug, Default)]
pub struct HtfTables {
    /// bits 0–1 bias A, 2–3 bias B, 4 = A∧B pass. Empty: no filter applied (pass, labels na).
    bias: Vec<u8>,
    /// bit 2t: chain TF t ok for long, bit 2t+1: ok for short.
    chain: Vec<u16>,
    chain_len: usize,
    chain_mode: Option<ChainMode>,
    /// Timeframes that could not be provided (missing everywhere).
    pub warnings: Vec<String>,
}

const PASS_BIT: u8 = 1 << 4;

impl HtfTables {
    /// Tabulate the bias filters (if `need_bias`) and the scenario-6 chain (if `need_chain`).
    pub fn build(
        p: &MrzParams,
        cache: &IndicatorCache<'_>,
        need_bias: bool,
        need_chain: bool,
    ) -> Result<Self, StrategyError> {
        let n = cache.len();
        let mut t = HtfTables::default();
        if need_bias && p.uses_htf() {
            t.bias = vec![0_u8; n];
            for (shift, spec) in [(0_u8, &p.htf_a), (2_u8, &p.htf_b)] {
                t.fill_bias(p, cache, spec, shift);
            }
            for code in t.bias.iter_mut() {
                let (a, b) = (Bias::from_code(*code), Bias::from_code(*code >> 2));
                if passes(&p.htf_a, a) && passes(&p.htf_b, b) {
                    *code |= PASS_BIT;
                }
            }
        }
        if need_chain && !p.s6.is_empty() {
            if p.s6.len() > 8 {
                return Err(StrategyError::param("scenario6_timeframes", "at most 8 timeframes"));
            }
            t.chain = vec![0_u16; n];
            t.chain_len = p.s6.len();
            t.chain_mode = Some(p.s6_mode);
            for (ti, s6) in p.s6.iter().enumerate() {
                let Some(reader) = HtfReader::new(cache, s6.tf, p) else {
                    t.warnings.push(format!("scenario 6: timeframe {} is not available, its check fails", s6.name));
                    continue;
                };
                for (bit, long, params) in [(2 * ti, true, &s6.long), (2 * ti + 1, false, &s6.short)] {
                    t.fill_chain(cache, &reader, bit, long, params);
                }
            }
        }
        Ok(t)
    }

    fn fill_bias(&mut self, p: &MrzParams, cache: &IndicatorCache<'_>, spec: &HtfFilterSpec, shift: u8) {
        let Some(tf) = spec.tf else { return };
        let Some(reader) = HtfReader::new(cache, tf, p) else {
            self.warnings.push(format!("HTF filter timeframe {} is not available: its bias is missing", spec.label));
            return;
        };
        let Ok(ema) = cache.series(&reader.key(IndicatorKey::ema(PriceSide::Bid, spec.ema))) else {
            self.warnings
                .push(format!("HTF EMA({}) on {} is not available: its bias is missing", spec.ema, spec.label));
            return;
        };
        let bias = &mut self.bias;
        reader.for_each_visible(bias.len(), |i, j| {
            if let Some(j) = j {
                bias[i] |= (Bias::of(reader.close(j), at(ema, j)) as u8) << shift;
            }
        });
    }

    fn fill_chain(&mut self, cache: &IndicatorCache<'_>, reader: &HtfReader<'_>, bit: usize, long: bool, s: &S6Params) {
        let z = cache.series(&reader.key(IndicatorKey::kalman_zscore(
            PriceSide::Bid,
            s.window_length,
            s.kalman_r,
            s.kalman_q,
        )));
        let band = if long {
            cache.series(&reader.key(IndicatorKey::bollinger_lower(PriceSide::Bid, s.b_b_length, s.std_factor)))
        } else {
            cache.series(&reader.key(IndicatorKey::bollinger_upper(PriceSide::Bid, s.b_b_length, s.std_factor)))
        };
        // Parameters the indicators refuse (e.g. a window below 2) leave the check failing.
        let (Ok(z), Ok(band)) = (z, band) else { return };
        let chain = &mut self.chain;
        reader.for_each_visible(chain.len(), |i, j| {
            let Some(j) = j else { return };
            let (price, zv, b) = (reader.close(j), at(z, j), at(band, j));
            if !(price.is_finite() && zv.is_finite() && b.is_finite()) {
                return;
            }
            let ok = if long { zv <= s.threshold && price <= b } else { zv >= s.threshold && price >= b };
            if ok {
                chain[i] |= 1 << bit;
            }
        });
    }

    /// A∧B pass and the two bias labels at bar `i`.
    #[inline]
    pub fn bias(&self, i: usize) -> (bool, Bias, Bias) {
        match self.bias.get(i) {
            Some(&c) => (c & PASS_BIT != 0, Bias::from_code(c), Bias::from_code(c >> 2)),
            None if self.bias.is_empty() => (true, Bias::Missing, Bias::Missing),
            None => (false, Bias::Missing, Bias::Missing),
        }
    }

    /// Whether the scenario-6 chain passes at bar `i` for the direction (empty chain: never).
    #[inline]
    pub fn chain_passes(&self, i: usize, long: bool) -> bool {
        let (Some(mode), Some(&bits)) = (self.chain_mode, self.chain.get(i)) else { return false };
        // bits of the direction's lanes (2t for long, 2t+1 for short), t < chain_len
        let ok = if self.chain_len <= 8 {
            let lanes = 0x5555_u32 & ((1_u32 << (2 * self.chain_len)) - 1);
            ((u32::from(bits) >> u32::from(!long)) & lanes).count_ones() as usize
        } else {
            (0..self.chain_len).filter(|t| bits >> (2 * t + usize::from(!long)) & 1 == 1).count()
        };
        match mode {
            ChainMode::All => ok == self.chain_len,
            ChainMode::Any => ok > 0,
        }
    }

    /// Whether chain timeframe `t` passed at bar `i` for the direction.
    #[inline]
    pub fn chain_tf_ok(&self, i: usize, t: usize, long: bool) -> bool {
        self.chain.get(i).is_some_and(|bits| bits >> (2 * t + usize::from(!long)) & 1 == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_limits() {
        assert_eq!(stale_limit(Timeframe::D1, Timeframe::H1, 0), 48);
        assert_eq!(stale_limit(Timeframe::D1, Timeframe::M1, 0), 2880);
        assert_eq!(stale_limit(Timeframe::H1, Timeframe::H1, 0), 2);
        assert_eq!(stale_limit(Timeframe::H4, Timeframe::D1, 0), 2);
        assert_eq!(stale_limit(Timeframe::H4, Timeframe::H1, 7), 7);
    }

    #[test]
    fn bias_codes_round_trip() {
        for b in [Bias::Missing, Bias::Above, Bias::Below, Bias::Neutral] {
            assert_eq!(Bias::from_code(b as u8), b);
            assert_eq!(Bias::from_code((b as u8) << 2 >> 2), b);
        }
        assert_eq!(Bias::of(2.0, 1.0), Bias::Above);
        assert_eq!(Bias::of(1.0, 2.0), Bias::Below);
        assert_eq!(Bias::of(1.0, 1.0), Bias::Neutral);
        assert_eq!(Bias::of(f64::NAN, 1.0), Bias::Missing);
        assert_eq!(Bias::Missing.label(), "na");
    }

    #[test]
    fn filter_modes() {
        let spec = |tf, mode| HtfFilterSpec { label: "D1".into(), tf, ema: 10, mode };
        let on = Some(Timeframe::D1);
        assert!(passes(&spec(on, FilterMode::Pass), Bias::Missing));
        assert!(passes(&spec(on, FilterMode::Above), Bias::Above));
        assert!(!passes(&spec(on, FilterMode::Above), Bias::Neutral));
        assert!(!passes(&spec(on, FilterMode::Above), Bias::Missing));
        assert!(passes(&spec(on, FilterMode::Below), Bias::Below));
        assert!(!passes(&spec(on, FilterMode::Below), Bias::Above));
        // TF NONE: not applied, whatever the mode (§7 #2)
        assert!(passes(&spec(None, FilterMode::Above), Bias::Missing));
    }
}
