//! Higher-timeframe bars resampled from the primary bars (docs/indicators.md "Higher timeframes"),
//! with the visibility index that keeps strategies free of look-ahead: primary bar i sees only HTF
//! bars whose close time is at or before its own close time. The HTF bars are the bins in the order
//! they become visible (V1 "stepwise" semantics): a bin overtaken before any primary bar sees it, and
//! the unfinished last bin, are dropped. Linear in the number of primary bars.

use crate::config::HtfAnchor;
use crate::error::{Result, StrategyError};
use crate::indicators::BarsRef;
use crate::market::session::{new_york_local_us, new_york_to_utc, HOUR_US};
use crate::market::MarketData;
use crate::types::Timeframe;

/// Resampled bars of one timeframe, owned. `visible` has one entry per **primary** bar.
#[derive(Clone, Debug, PartialEq)]
pub struct HtfBars {
    pub timeframe: Timeframe,
    /// The anchor actually used (`Utc` for every timeframe below H4).
    pub anchor: HtfAnchor,
    /// Bin start (µs UTC).
    pub open_time_us: Vec<i64>,
    /// Bin end (µs UTC).
    pub close_time_us: Vec<i64>,
    pub bid_open: Vec<f64>,
    pub bid_high: Vec<f64>,
    pub bid_low: Vec<f64>,
    pub bid_close: Vec<f64>,
    pub bid_volume: Vec<f64>,
    pub ask_open: Vec<f64>,
    pub ask_high: Vec<f64>,
    pub ask_low: Vec<f64>,
    pub ask_close: Vec<f64>,
    pub ask_volume: Vec<f64>,
    /// Per primary bar: index of the latest HTF bar with `close_time ≤` the primary close, or −1.
    /// Every HTF bar is `visible[i]` for at least one i (bins never visible are not HTF bars).
    pub visible: Vec<i64>,
}

impl HtfBars {
    /// Number of HTF bars.
    pub fn len(&self) -> usize {
        self.open_time_us.len()
    }

    /// True when there are no HTF bars.
    pub fn is_empty(&self) -> bool {
        self.open_time_us.is_empty()
    }

    /// Borrowed view for the indicator layer.
    pub fn as_bars<'a>(&'a self, symbol: &'a str) -> BarsRef<'a> {
        BarsRef {
            symbol,
            timeframe: self.timeframe,
            open_time_us: &self.open_time_us,
            close_time_us: &self.close_time_us,
            bid_open: &self.bid_open,
            bid_high: &self.bid_high,
            bid_low: &self.bid_low,
            bid_close: &self.bid_close,
            bid_volume: &self.bid_volume,
            ask_open: &self.ask_open,
            ask_high: &self.ask_high,
            ask_low: &self.ask_low,
            ask_close: &self.ask_close,
            ask_volume: &self.ask_volume,
            visible: Some(&self.visible),
        }
    }
}

/// The anchor that applies to `timeframe`: only H4 and D1 may be anchored at 17:00 New York.
pub fn effective_anchor(timeframe: Timeframe, anchor: HtfAnchor) -> HtfAnchor {
    match timeframe {
        Timeframe::H4 | Timeframe::D1 => anchor,
        _ => HtfAnchor::Utc,
    }
}

/// The bin `[start, end)` (µs UTC) of `timeframe` that contains the instant `ts_us`.
pub fn bin_of(ts_us: i64, timeframe: Timeframe, anchor: HtfAnchor) -> (i64, i64) {
    let period = timeframe.duration_us();
    match effective_anchor(timeframe, anchor) {
        HtfAnchor::Utc => {
            let start = ts_us.div_euclid(period) * period;
            (start, start + period)
        }
        HtfAnchor::NewYork1700 => {
            // Bins are wall-clock intervals in New York that start at 17:00 (D1) or at 17, 21,
            // 01, … (H4); DST switches make a bin 1 h shorter or longer in UTC.
            let phase = (17 * HOUR_US).rem_euclid(period);
            let local = new_york_local_us(ts_us);
            let start_local = (local - phase).div_euclid(period) * period + phase;
            (new_york_to_utc(start_local), new_york_to_utc(start_local + period))
        }
    }
}

/// Latest index `j` with `htf_close[j] ≤ primary_close[i]` per primary bar, or −1. Both inputs
/// must be sorted ascending (linear merge).
pub fn visibility(primary_close: &[i64], htf_close: &[i64]) -> Vec<i64> {
    let mut closed = 0_usize;
    primary_close
        .iter()
        .map(|&pc| {
            while closed < htf_close.len() && htf_close[closed] <= pc {
                closed += 1;
            }
            closed as i64 - 1
        })
        .collect()
}

/// Check that `timeframe` can be built from `primary` bars (E4003 otherwise).
pub fn check_timeframe(primary: Timeframe, timeframe: Timeframe) -> Result<()> {
    let (p, h) = (primary.minutes(), timeframe.minutes());
    if h < p || h % p != 0 {
        return Err(StrategyError::IndicatorError {
            indicator: format!("{timeframe} bars"),
            reason: format!("{timeframe} is not a whole multiple of the primary timeframe {primary}"),
        });
    }
    Ok(())
}

/// One side's OHLCV columns under construction.
#[derive(Default)]
struct Side {
    open: Vec<f64>,
    high: Vec<f64>,
    low: Vec<f64>,
    close: Vec<f64>,
    volume: Vec<f64>,
}

impl Side {
    fn with_capacity(n: usize) -> Self {
        Side {
            open: Vec::with_capacity(n),
            high: Vec::with_capacity(n),
            low: Vec::with_capacity(n),
            close: Vec::with_capacity(n),
            volume: Vec::with_capacity(n),
        }
    }

    fn start(&mut self, o: f64, h: f64, l: f64, c: f64, v: f64) {
        self.open.push(o);
        self.high.push(h);
        self.low.push(l);
        self.close.push(c);
        // a sum starts at +0.0 (a −0.0 volume must not survive as −0.0)
        self.volume.push(0.0 + v);
    }

    fn extend(&mut self, h: f64, l: f64, c: f64, v: f64) {
        // Called only after `start`, so every column has a last element.
        if let (Some(hi), Some(lo), Some(cl), Some(vol)) =
            (self.high.last_mut(), self.low.last_mut(), self.close.last_mut(), self.volume.last_mut())
        {
            *hi = hi.max(h);
            *lo = lo.min(l);
            *cl = c;
            *vol += v;
        }
    }
}

/// Keep only the bins that are `visible[i]` for some primary bar i, in that order, and renumber
/// `visible` to the kept bins (−1 stays −1). `visible` is non-decreasing, so the kept bins are its
/// distinct non-negative values; returns their old indices.
fn keep_visible(visible: &mut [i64]) -> Vec<usize> {
    let mut kept: Vec<usize> = Vec::new();
    let mut last = -1_i64;
    for v in visible.iter_mut() {
        if *v < 0 {
            continue;
        }
        if *v != last {
            last = *v;
            kept.push(*v as usize);
        }
        *v = kept.len() as i64 - 1;
    }
    kept
}

/// The elements of `col` at the indices `kept` (all in range: they come from `visibility`).
fn pick<T: Copy>(col: &[T], kept: &[usize]) -> Vec<T> {
    kept.iter().filter_map(|&j| col.get(j).copied()).collect()
}

/// Resample the primary bars of `market` into `timeframe` bins (bid and ask separately): OHLC =
/// first/max/min/last, volume = sum; empty bins give no bar. Only bins that some primary bar sees
/// (`visible[i]`) become HTF bars, in the order they become visible: a bin overtaken by the next
/// one within a single primary step (gaps) and the unfinished last bin are dropped. `timeframe`
/// equal to the primary one returns the primary bars with `visible[i] = i`. Shorter or
/// non-multiple timeframes are E4003.
pub fn resample(market: &MarketData, timeframe: Timeframe, anchor: HtfAnchor) -> Result<HtfBars> {
    check_timeframe(market.timeframe, timeframe)?;
    let anchor = effective_anchor(timeframe, anchor);
    let ts: &[i64] = &market.timestamp_us;
    let dur = market.timeframe.duration_us();
    let primary_close: Vec<i64> = ts.iter().map(|&t| t + dur).collect();
    if timeframe == market.timeframe {
        return Ok(HtfBars {
            timeframe,
            anchor,
            open_time_us: ts.to_vec(),
            close_time_us: primary_close,
            bid_open: market.bid_open.to_vec(),
            bid_high: market.bid_high.to_vec(),
            bid_low: market.bid_low.to_vec(),
            bid_close: market.bid_close.to_vec(),
            bid_volume: market.bid_volume.to_vec(),
            ask_open: market.ask_open.to_vec(),
            ask_high: market.ask_high.to_vec(),
            ask_low: market.ask_low.to_vec(),
            ask_close: market.ask_close.to_vec(),
            ask_volume: market.ask_volume.to_vec(),
            visible: (0..ts.len() as i64).collect(),
        });
    }

    let ratio = (timeframe.minutes() / market.timeframe.minutes()).max(1) as usize;
    let cap = ts.len() / ratio + 2;
    let mut open_time = Vec::with_capacity(cap);
    let mut close_time: Vec<i64> = Vec::with_capacity(cap);
    let mut bid = Side::with_capacity(cap);
    let mut ask = Side::with_capacity(cap);
    // Plain slices, bound once: indexing a `Column` goes through its trait object every time.
    let [bo, bh, bl, bc, bv, ao, ah, al, ac, av] = market.price_columns();
    let mut bin_end = i64::MIN;
    for (i, &t) in ts.iter().enumerate() {
        if t >= bin_end {
            let (start, end) = bin_of(t, timeframe, anchor);
            bin_end = end;
            open_time.push(start);
            close_time.push(end);
            bid.start(bo[i], bh[i], bl[i], bc[i], bv[i]);
            ask.start(ao[i], ah[i], al[i], ac[i], av[i]);
        } else {
            bid.extend(bh[i], bl[i], bc[i], bv[i]);
            ask.extend(ah[i], al[i], ac[i], av[i]);
        }
    }
    let mut visible = visibility(&primary_close, &close_time);
    let kept = keep_visible(&mut visible);
    Ok(HtfBars {
        timeframe,
        anchor,
        open_time_us: pick(&open_time, &kept),
        close_time_us: pick(&close_time, &kept),
        bid_open: pick(&bid.open, &kept),
        bid_high: pick(&bid.high, &kept),
        bid_low: pick(&bid.low, &kept),
        bid_close: pick(&bid.close, &kept),
        bid_volume: pick(&bid.volume, &kept),
        ask_open: pick(&ask.open, &kept),
        ask_high: pick(&ask.high, &kept),
        ask_low: pick(&ask.low, &kept),
        ask_close: pick(&ask.close, &kept),
        ask_volume: pick(&ask.volume, &kept),
        visible,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::session::{days_from_civil, DAY_US, MINUTE_US};

    fn at(y: i64, mo: u32, d: u32, h: i64, mi: i64) -> i64 {
        days_from_civil(y, mo, d) * DAY_US + h * HOUR_US + mi * MINUTE_US
    }

    /// Bars at the given open times; bar k has close 1 + k/1000, high +0.5, low −0.5, volume k.
    fn market(tf: Timeframe, ts: Vec<i64>) -> MarketData {
        let n = ts.len();
        let c: Vec<f64> = (0..n).map(|k| 1.0 + k as f64 / 1000.0).collect();
        let h: Vec<f64> = c.iter().map(|v| v + 0.5).collect();
        let l: Vec<f64> = c.iter().map(|v| v - 0.5).collect();
        let o: Vec<f64> = c.iter().map(|v| v - 0.25).collect();
        let vol: Vec<f64> = (0..n).map(|k| k as f64).collect();
        let up = |v: &Vec<f64>| v.iter().map(|x| x + 0.0002).collect::<Vec<f64>>();
        let prices = [o.clone(), h.clone(), l.clone(), c.clone(), vol.clone(), up(&o), up(&h), up(&l), up(&c), vol];
        match MarketData::from_vecs("EURUSD", tf, ts, prices, false) {
            Ok(m) => m,
            Err(e) => panic!("test market invalid: {e}"),
        }
    }

    fn regular(tf: Timeframe, start: i64, n: usize) -> MarketData {
        market(tf, (0..n as i64).map(|k| start + k * tf.duration_us()).collect())
    }

    /// The invariants of every resampling: no bar is visible before it has closed (nor while one of
    /// its member bars is still forming), none is missed once closed, and every HTF bar is the
    /// visible bar of at least one primary bar.
    fn check_visibility(m: &MarketData, h: &HtfBars) {
        let dur = m.timeframe.duration_us();
        assert_eq!(h.visible.len(), m.len());
        let mut first_member = 0;
        for (i, &v) in h.visible.iter().enumerate() {
            let pc = m.timestamp_us[i] + dur;
            if v >= 0 {
                let v = v as usize;
                assert!(h.close_time_us[v] <= pc, "bar {i} sees HTF bar {v} that has not closed");
                // …and every primary bar aggregated into it has closed too
                while first_member < m.len() && m.timestamp_us[first_member] < h.close_time_us[v] {
                    first_member += 1;
                }
                assert!(
                    first_member == 0 || m.timestamp_us[first_member - 1] + dur <= pc,
                    "bar {i} sees a forming bar"
                );
            }
            let next = (v + 1) as usize;
            if next < h.len() {
                assert!(h.close_time_us[next] > pc, "bar {i} misses closed HTF bar {next}");
            }
        }
        // the visible index steps through 0, 1, 2, … without skipping a bar
        let mut seen = -1_i64;
        for &v in &h.visible {
            assert!(v == seen || v == seen + 1, "visible jumps from {seen} to {v}");
            seen = v;
        }
        assert_eq!(seen + 1, h.len() as i64, "an HTF bar is never visible");
    }

    /// Every non-empty bin as (open, close, first member, end of members), built naively.
    fn all_bins(m: &MarketData, tf: Timeframe, anchor: HtfAnchor) -> Vec<(i64, i64, usize, usize)> {
        let mut bins: Vec<(i64, i64, usize, usize)> = Vec::new();
        for (i, &t) in m.timestamp_us.iter().enumerate() {
            let (start, end) = bin_of(t, tf, anchor);
            match bins.last_mut() {
                Some(b) if b.0 == start => b.3 = i + 1,
                _ => bins.push((start, end, i, i + 1)),
            }
        }
        bins
    }

    /// `h` holds exactly the bins that some primary bar sees (the first primary close at or after
    /// the bin's close comes before the next bin closes), with their full OHLCV. Returns how many
    /// bins were dropped.
    fn check_against_bins(m: &MarketData, h: &HtfBars, tf: Timeframe, anchor: HtfAnchor) -> usize {
        let dur = m.timeframe.duration_us();
        let pc: Vec<i64> = m.timestamp_us.iter().map(|t| t + dur).collect();
        let bins = all_bins(m, tf, anchor);
        let kept: Vec<&(i64, i64, usize, usize)> = bins
            .iter()
            .enumerate()
            .filter(|&(k, b)| {
                let i = pc.partition_point(|&c| c < b.1);
                i < pc.len() && bins.get(k + 1).map_or(true, |nb| pc[i] < nb.1)
            })
            .map(|(_, b)| b)
            .collect();
        assert_eq!(h.len(), kept.len(), "{tf} {anchor:?}");
        for (j, &&(open, close, a, z)) in kept.iter().enumerate() {
            assert_eq!((h.open_time_us[j], h.close_time_us[j]), (open, close));
            for (side, o, hi, lo, c, v) in [
                ("bid", &m.bid_open, &m.bid_high, &m.bid_low, &m.bid_close, &m.bid_volume),
                ("ask", &m.ask_open, &m.ask_high, &m.ask_low, &m.ask_close, &m.ask_volume),
            ] {
                let got = if side == "bid" {
                    (h.bid_open[j], h.bid_high[j], h.bid_low[j], h.bid_close[j], h.bid_volume[j])
                } else {
                    (h.ask_open[j], h.ask_high[j], h.ask_low[j], h.ask_close[j], h.ask_volume[j])
                };
                let want = (
                    o[a],
                    hi[a..z].iter().fold(f64::NEG_INFINITY, |x, &y| x.max(y)),
                    lo[a..z].iter().fold(f64::INFINITY, |x, &y| x.min(y)),
                    c[z - 1],
                    v[a..z].iter().fold(0.0, |x, &y| x + y),
                );
                assert_eq!(got, want, "{tf} {anchor:?} bar {j} {side}");
            }
        }
        bins.len() - kept.len()
    }

    #[test]
    fn m1_to_m5_aggregates() {
        let m = regular(Timeframe::M1, at(2024, 1, 2, 0, 2), 10); // 00:02 … 00:11
        let h = resample(&m, Timeframe::M5, HtfAnchor::NewYork1700).unwrap();
        assert_eq!(h.anchor, HtfAnchor::Utc);
        // the 00:10 bin closes at 00:15, after the last primary close (00:12): never visible
        assert_eq!(h.open_time_us, vec![at(2024, 1, 2, 0, 0), at(2024, 1, 2, 0, 5)]);
        assert_eq!(h.close_time_us, vec![at(2024, 1, 2, 0, 5), at(2024, 1, 2, 0, 10)]);
        // members: bars 0..3, 3..8
        assert_eq!(h.bid_open, vec![m.bid_open[0], m.bid_open[3]]);
        assert_eq!(h.bid_high, vec![m.bid_high[2], m.bid_high[7]]);
        assert_eq!(h.bid_low, vec![m.bid_low[0], m.bid_low[3]]);
        assert_eq!(h.bid_close, vec![m.bid_close[2], m.bid_close[7]]);
        assert_eq!(h.bid_volume, vec![0.0 + 1.0 + 2.0, 3.0 + 4.0 + 5.0 + 6.0 + 7.0]);
        assert_eq!(h.ask_close, vec![m.ask_close[2], m.ask_close[7]]);
        // bar 2 closes at 00:05 together with the first M5 bar; bar 7 at 00:10
        assert_eq!(h.visible, vec![-1, -1, 0, 0, 0, 0, 0, 1, 1, 1]);
        check_visibility(&m, &h);
        check_against_bins(&m, &h, Timeframe::M5, HtfAnchor::Utc);
    }

    #[test]
    fn gaps_give_no_bar() {
        let base = at(2024, 1, 2, 0, 0);
        let ts = vec![base, base + HOUR_US, base + 5 * HOUR_US, base + 6 * HOUR_US, base + 13 * HOUR_US];
        let m = market(Timeframe::H1, ts);
        let h = resample(&m, Timeframe::H4, HtfAnchor::Utc).unwrap();
        // the 08:00 bin is empty; the 12:00 bin closes after the last primary close (14:00)
        assert_eq!(h.open_time_us, vec![base, base + 4 * HOUR_US]);
        assert_eq!(h.close_time_us, vec![base + 4 * HOUR_US, base + 8 * HOUR_US]);
        // the first H4 bar closes at 04:00, seen first by bar 2 (close 06:00)
        assert_eq!(h.visible, vec![-1, -1, 0, 0, 1]);
        assert_eq!(h.bid_close, vec![m.bid_close[1], m.bid_close[3]]);
        check_visibility(&m, &h);
        // no D1 bin ever closes: no D1 bar at all
        let d = resample(&m, Timeframe::D1, HtfAnchor::Utc).unwrap();
        assert!(d.is_empty());
        assert_eq!(d.visible, vec![-1; 5]);
    }

    #[test]
    fn bin_overtaken_within_one_step_is_dropped() {
        // H1 from M1: 09:00 … 09:30, then only 10:59 of the 10:00 bin, then all of 11:00 … 11:59.
        // At the 10:59 bar (close 11:00) both the 09:00 and the 10:00 bins have closed, so the
        // 09:00 bin is never the visible bar and is not an H1 bar.
        let mut ts: Vec<i64> = (0..31).map(|k| at(2024, 1, 2, 9, k)).collect();
        ts.push(at(2024, 1, 2, 10, 59));
        ts.extend((0..60).map(|k| at(2024, 1, 2, 11, k)));
        let m = market(Timeframe::M1, ts);
        let h = resample(&m, Timeframe::H1, HtfAnchor::Utc).unwrap();
        assert_eq!(h.open_time_us, vec![at(2024, 1, 2, 10, 0), at(2024, 1, 2, 11, 0)]);
        assert_eq!(h.close_time_us, vec![at(2024, 1, 2, 11, 0), at(2024, 1, 2, 12, 0)]);
        let mut want = vec![-1_i64; 31];
        want.extend(vec![0; 60]);
        want.push(1);
        assert_eq!(h.visible, want);
        // the kept bars keep their own members' OHLC: bar 31 alone, then bars 32..92
        assert_eq!(
            (h.bid_open[0], h.bid_high[0], h.bid_low[0], h.bid_close[0], h.bid_volume[0]),
            (m.bid_open[31], m.bid_high[31], m.bid_low[31], m.bid_close[31], 31.0)
        );
        assert_eq!(
            (h.ask_open[1], h.ask_high[1], h.ask_low[1], h.ask_close[1]),
            (m.ask_open[32], m.ask_high[91], m.ask_low[32], m.ask_close[91])
        );
        assert_eq!(h.bid_volume[1], (32..92).fold(0.0, |a, k| a + k as f64));
        check_visibility(&m, &h);
        assert_eq!(check_against_bins(&m, &h, Timeframe::H1, HtfAnchor::Utc), 1);
        // the same data as M30: the 09:30 bin (close 10:00) is overtaken by the 10:30 bin (close
        // 11:00) at the 10:59 bar; the 09:00 bin was seen by the 09:29 bar and stays
        let h30 = resample(&m, Timeframe::M30, HtfAnchor::Utc).unwrap();
        assert_eq!(
            h30.open_time_us,
            vec![at(2024, 1, 2, 9, 0), at(2024, 1, 2, 10, 30), at(2024, 1, 2, 11, 0), at(2024, 1, 2, 11, 30)]
        );
        check_visibility(&m, &h30);
        assert_eq!(check_against_bins(&m, &h30, Timeframe::M30, HtfAnchor::Utc), 1);
    }

    #[test]
    fn gap_free_data_loses_only_the_unfinished_bin() {
        // M1 from Monday 00:00 for 2 days and 150 minutes: every bin but the last one is visible
        let start = at(2024, 1, 8, 0, 0);
        let m = regular(Timeframe::M1, start, 2 * 1440 + 150);
        for tf in [Timeframe::M5, Timeframe::M15, Timeframe::M30, Timeframe::H1, Timeframe::H4, Timeframe::D1] {
            for anchor in [HtfAnchor::Utc, HtfAnchor::NewYork1700] {
                let h = resample(&m, tf, anchor).unwrap();
                let bins = all_bins(&m, tf, anchor);
                let last_close = m.timestamp_us[m.len() - 1] + MINUTE_US;
                let unfinished = bins.last().is_some_and(|b| b.1 > last_close);
                assert_eq!(h.len() + usize::from(unfinished), bins.len(), "{tf} {anchor:?}");
                for (j, b) in bins.iter().take(h.len()).enumerate() {
                    assert_eq!(h.open_time_us[j], b.0);
                }
                check_visibility(&m, &h);
                assert_eq!(check_against_bins(&m, &h, tf, anchor), usize::from(unfinished));
            }
        }
        // 150 minutes past midnight: the 02:00 H1 bin is unfinished, the 02:25 M5 bin closes at 02:30
        let h1 = resample(&m, Timeframe::H1, HtfAnchor::Utc).unwrap();
        assert_eq!(h1.close_time_us.last(), Some(&at(2024, 1, 10, 2, 0)));
        let m5 = resample(&m, Timeframe::M5, HtfAnchor::Utc).unwrap();
        assert_eq!(m5.close_time_us.last(), Some(&at(2024, 1, 10, 2, 30)));
        assert_eq!(m5.len(), (2 * 1440 + 150) / 5);
    }

    #[test]
    fn visibility_never_leaks_across_many_bars() {
        // irregular M5 data with holes, three weeks across the spring DST switch
        let start = at(2024, 3, 1, 0, 0);
        let ts: Vec<i64> = (0..6000_i64)
            .filter(|k| k % 97 > 10 && (k / 288) % 7 != 5)
            .map(|k| start + k * Timeframe::M5.duration_us())
            .collect();
        let m = market(Timeframe::M5, ts);
        for tf in [Timeframe::M5, Timeframe::M15, Timeframe::M30, Timeframe::H1, Timeframe::H4, Timeframe::D1] {
            for anchor in [HtfAnchor::Utc, HtfAnchor::NewYork1700] {
                let h = resample(&m, tf, anchor).unwrap();
                check_visibility(&m, &h);
                check_against_bins(&m, &h, tf, anchor);
                assert!(h.open_time_us.windows(2).all(|w| w[0] < w[1]));
                assert!(h.close_time_us.windows(2).all(|w| w[0] < w[1]));
                // every HTF bar is the bin of its members
                for (j, &o) in h.open_time_us.iter().enumerate() {
                    assert_eq!(bin_of(o, tf, anchor), (o, h.close_time_us[j]), "{tf} {anchor:?}");
                }
            }
        }
    }

    #[test]
    fn random_gaps_match_naive_bins() {
        // M1 with random holes of 1 minute to 2 days (xorshift, fixed seed)
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut t = at(2024, 10, 28, 13, 7);
        let mut ts = Vec::new();
        while ts.len() < 20_000 {
            ts.push(t);
            let r = next();
            let step = if r % 100 < 97 { 1 } else { 2 + (r >> 8) % 2880 };
            t += step as i64 * MINUTE_US;
        }
        let m = market(Timeframe::M1, ts);
        let mut dropped = 0;
        for tf in [Timeframe::M5, Timeframe::M30, Timeframe::H1, Timeframe::H4, Timeframe::D1] {
            for anchor in [HtfAnchor::Utc, HtfAnchor::NewYork1700] {
                let h = resample(&m, tf, anchor).unwrap();
                check_visibility(&m, &h);
                dropped += check_against_bins(&m, &h, tf, anchor);
            }
        }
        assert!(dropped > 10, "the gaps overtake bins ({dropped})");
    }

    #[test]
    fn new_york_d1_winter_summer_and_switch() {
        // winter: the trading day starts 22:00 UTC; the day from 8 January 22:00 is unfinished
        let m = regular(Timeframe::H1, at(2024, 1, 8, 20, 0), 4); // 20:00 … 23:00 UTC
        let d = resample(&m, Timeframe::D1, HtfAnchor::NewYork1700).unwrap();
        assert_eq!(d.open_time_us, vec![at(2024, 1, 7, 22, 0)]);
        assert_eq!(d.close_time_us, vec![at(2024, 1, 8, 22, 0)]);
        assert_eq!(d.bid_close[0], m.bid_close[1]);
        assert_eq!(d.visible, vec![-1, 0, 0, 0]);
        // summer: 21:00 UTC
        let m = regular(Timeframe::H1, at(2024, 7, 8, 20, 0), 2);
        let d = resample(&m, Timeframe::D1, HtfAnchor::NewYork1700).unwrap();
        assert_eq!(d.open_time_us, vec![at(2024, 7, 7, 21, 0)]);
        assert_eq!(d.visible, vec![0, 0]);
        // spring switch (Sun 10 March 2024): the day Sat 17:00 EST → Sun 17:00 EDT lasts 23 h
        let m = regular(Timeframe::H1, at(2024, 3, 9, 21, 0), 30);
        let d = resample(&m, Timeframe::D1, HtfAnchor::NewYork1700).unwrap();
        assert_eq!(d.open_time_us, vec![at(2024, 3, 8, 22, 0), at(2024, 3, 9, 22, 0)]);
        assert_eq!(d.close_time_us, vec![at(2024, 3, 9, 22, 0), at(2024, 3, 10, 21, 0)]);
        assert_eq!(d.close_time_us[1] - d.open_time_us[1], 23 * HOUR_US);
        // fall switch (Sun 3 November 2024): 25 h
        let m = regular(Timeframe::H1, at(2024, 11, 2, 21, 0), 30);
        let d = resample(&m, Timeframe::D1, HtfAnchor::NewYork1700).unwrap();
        assert_eq!(d.open_time_us, vec![at(2024, 11, 2, 21, 0)]);
        assert_eq!(d.close_time_us, vec![at(2024, 11, 3, 22, 0)]);
        check_visibility(&m, &d);
        // UTC anchor ignores New York
        let u = resample(&m, Timeframe::D1, HtfAnchor::Utc).unwrap();
        assert_eq!(u.open_time_us, vec![at(2024, 11, 2, 0, 0), at(2024, 11, 3, 0, 0)]);
    }

    #[test]
    fn new_york_h4_bins() {
        let m = regular(Timeframe::H1, at(2024, 1, 8, 0, 0), 24);
        let h = resample(&m, Timeframe::H4, HtfAnchor::NewYork1700).unwrap();
        // 17, 21, 01, 05, 09, 13 NY = 22, 02, 06, 10, 14, 18 UTC in winter (the 22:00 bin is unfinished)
        let want: Vec<i64> =
            [(7, 22), (8, 2), (8, 6), (8, 10), (8, 14), (8, 18)].iter().map(|&(d, hh)| at(2024, 1, d, hh, 0)).collect();
        assert_eq!(h.open_time_us, want);
        // spring switch: the 01:00 → 05:00 NY bin is 06:00 → 09:00 UTC (3 h)
        let m = regular(Timeframe::H1, at(2024, 3, 10, 0, 0), 13);
        let h = resample(&m, Timeframe::H4, HtfAnchor::NewYork1700).unwrap();
        assert_eq!(
            h.open_time_us,
            [at(2024, 3, 9, 22, 0), at(2024, 3, 10, 2, 0), at(2024, 3, 10, 6, 0), at(2024, 3, 10, 9, 0)]
        );
        assert_eq!(h.close_time_us[2], at(2024, 3, 10, 9, 0));
        // fall switch: 01:00 EDT → 05:00 EST is 05:00 → 10:00 UTC (5 h)
        let m = regular(Timeframe::H1, at(2024, 11, 3, 4, 0), 8);
        let h = resample(&m, Timeframe::H4, HtfAnchor::NewYork1700).unwrap();
        assert_eq!(h.open_time_us[1], at(2024, 11, 3, 5, 0));
        assert_eq!(h.close_time_us[1], at(2024, 11, 3, 10, 0));
        check_visibility(&m, &h);
    }

    #[test]
    fn misaligned_primary_never_leaks() {
        // UTC-aligned H4 bars against New York days: the 20:00 UTC bar ends after the 22:00 UTC
        // day boundary; the day becomes visible only with that bar's close.
        let m = regular(Timeframe::H4, at(2024, 1, 8, 0, 0), 12);
        let d = resample(&m, Timeframe::D1, HtfAnchor::NewYork1700).unwrap();
        assert_eq!(d.close_time_us[0], at(2024, 1, 8, 22, 0));
        assert_eq!(d.bid_close[0], m.bid_close[5]);
        assert_eq!(d.visible[..7], [-1, -1, -1, -1, -1, 0, 0]);
        check_visibility(&m, &d);
    }

    #[test]
    fn identity_and_errors() {
        let m = regular(Timeframe::H1, at(2024, 1, 8, 0, 0), 5);
        let h = resample(&m, Timeframe::H1, HtfAnchor::Utc).unwrap();
        assert_eq!(h.visible, vec![0, 1, 2, 3, 4]);
        assert_eq!(h.bid_close, m.bid_close.to_vec());
        assert_eq!(h.close_time_us[0], m.timestamp_us[0] + HOUR_US);
        // gaps in the primary bars: still the identity
        let m = market(Timeframe::H1, vec![at(2024, 1, 8, 0, 0), at(2024, 1, 8, 7, 0), at(2024, 1, 9, 3, 0)]);
        let h = resample(&m, Timeframe::H1, HtfAnchor::NewYork1700).unwrap();
        assert_eq!(h.visible, vec![0, 1, 2]);
        assert_eq!(h.open_time_us, m.timestamp_us.to_vec());
        let e = resample(&m, Timeframe::M30, HtfAnchor::Utc).unwrap_err();
        assert_eq!(e.code(), "E4003");
        assert!(e.to_string().contains("M30"));
        assert!(check_timeframe(Timeframe::H4, Timeframe::D1).is_ok());
        assert!(check_timeframe(Timeframe::D1, Timeframe::H4).is_err());
    }

    #[test]
    fn one_million_bars() {
        let m = regular(Timeframe::M1, at(2020, 1, 1, 0, 0), 1_000_000);
        let h = resample(&m, Timeframe::H4, HtfAnchor::NewYork1700).unwrap();
        assert!(h.len() > 4000 && h.len() < 4300, "{}", h.len());
        assert_eq!(h.visible.len(), 1_000_000);
        check_visibility(&m, &h);
        // the volume of the kept bars is that of every primary bar before the last HTF close
        let last_close = h.close_time_us[h.len() - 1];
        let members = m.timestamp_us.partition_point(|&t| t < last_close);
        assert!(members < m.len());
        assert_eq!(h.bid_volume.iter().fold(0.0, |a, v| a + v), m.bid_volume[..members].iter().fold(0.0, |a, v| a + v));
    }
}
