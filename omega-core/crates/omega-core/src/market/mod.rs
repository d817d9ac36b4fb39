//! Market data as the engine holds it: validated struct-of-arrays columns of primary bars (Python
//! name: `omega.data`). Columns may borrow Arrow buffers (zero copy); validation happens once, here,
//! so that the bar loop can trust the data.

pub mod htf;
pub mod session;

use std::ops::Deref;
use std::sync::Arc;

use crate::error::{Result, StrategyError};
use crate::types::{CandleData, DataSlice, Timeframe};

/// An immutable column: an owned `Vec` or a foreign buffer (e.g. an Arrow buffer kept alive here).
#[derive(Clone)]
pub struct Column<T: 'static>(Arc<dyn AsRef<[T]> + Send + Sync>);

impl<T: 'static> Column<T> {
    /// Wrap any buffer that derefs to a slice.
    pub fn from_buffer(buf: impl AsRef<[T]> + Send + Sync + 'static) -> Self {
        Column(Arc::new(buf))
    }
}

impl<T: 'static + Send + Sync> From<Vec<T>> for Column<T> {
    fn from(v: Vec<T>) -> Self {
        Column(Arc::new(v))
    }
}

impl<T: 'static> Deref for Column<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        (*self.0).as_ref()
    }
}

impl<T: 'static + std::fmt::Debug> std::fmt::Debug for Column<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Column(len={})", self.len())
    }
}

/// Primary bars of one symbol: bar open time (µs UTC) and bid/ask OHLCV, all the same length.
#[derive(Clone, Debug)]
pub struct MarketData {
    pub symbol: String,
    pub timeframe: Timeframe,
    pub timestamp_us: Column<i64>,
    pub bid_open: Column<f64>,
    pub bid_high: Column<f64>,
    pub bid_low: Column<f64>,
    pub bid_close: Column<f64>,
    pub bid_volume: Column<f64>,
    pub ask_open: Column<f64>,
    pub ask_high: Column<f64>,
    pub ask_low: Column<f64>,
    pub ask_close: Column<f64>,
    pub ask_volume: Column<f64>,
}

/// The names of the price columns, in schema order (DATA_SLICE_SCHEMA without symbol/timeframe/index).
pub const PRICE_COLUMNS: [&str; 10] = [
    "bid_open",
    "bid_high",
    "bid_low",
    "bid_close",
    "bid_volume",
    "ask_open",
    "ask_high",
    "ask_low",
    "ask_close",
    "ask_volume",
];

/// Earliest bar open time, 0001-01-01T00:00:00Z: bar times are dates that Python's `datetime` (and so
/// every result table) can show, and every time computation on them (close times, New York DST
/// bins, daily equity) stays far from the ends of `i64`. The reference checks the same bounds.
pub const MIN_TIMESTAMP_US: i64 = -62_135_596_800_000_000;
/// Latest bar open time, 9999-12-31T00:00:00Z: the longest bar (D1) opened then closes by the start
/// of year 10000 (see [`MIN_TIMESTAMP_US`]).
pub const MAX_TIMESTAMP_US: i64 = 253_402_214_400_000_000;

/// Smallest allowed distance between two bar opens: the bar length, one hour less for H4 and D1
/// (New-York-anchored bins are an hour shorter on a DST switch). Catches a config whose timeframe
/// is longer than the data's bars, which would otherwise shift every close time (look-ahead).
pub fn min_bar_spacing_us(timeframe: Timeframe) -> i64 {
    timeframe.duration_us() - if timeframe.minutes() >= 240 { 3_600_000_000 } else { 0 }
}

impl MarketData {
    /// Build from owned vectors, in `PRICE_COLUMNS` order, and validate.
    pub fn from_vecs(
        symbol: &str,
        timeframe: Timeframe,
        timestamp_us: Vec<i64>,
        prices: [Vec<f64>; 10],
        allow_crossed_quotes: bool,
    ) -> Result<Self> {
        let [bo, bh, bl, bc, bv, ao, ah, al, ac, av] = prices;
        let m = MarketData {
            symbol: symbol.to_string(),
            timeframe,
            timestamp_us: timestamp_us.into(),
            bid_open: bo.into(),
            bid_high: bh.into(),
            bid_low: bl.into(),
            bid_close: bc.into(),
            bid_volume: bv.into(),
            ask_open: ao.into(),
            ask_high: ah.into(),
            ask_low: al.into(),
            ask_close: ac.into(),
            ask_volume: av.into(),
        };
        m.validate(allow_crossed_quotes)?;
        Ok(m)
    }

    /// Number of primary bars.
    pub fn len(&self) -> usize {
        self.timestamp_us.len()
    }

    /// True when there are no bars.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Price columns in `PRICE_COLUMNS` order.
    pub fn price_columns(&self) -> [&[f64]; 10] {
        [
            &self.bid_open,
            &self.bid_high,
            &self.bid_low,
            &self.bid_close,
            &self.bid_volume,
            &self.ask_open,
            &self.ask_high,
            &self.ask_low,
            &self.ask_close,
            &self.ask_volume,
        ]
    }

    /// The bid candle of bar `i` (caller guarantees `i < len`).
    #[inline]
    pub fn bid(&self, i: usize) -> CandleData {
        CandleData {
            timestamp_us: self.timestamp_us[i],
            open: self.bid_open[i],
            high: self.bid_high[i],
            low: self.bid_low[i],
            close: self.bid_close[i],
            volume: self.bid_volume[i],
        }
    }

    /// The ask candle of bar `i` (caller guarantees `i < len`).
    #[inline]
    pub fn ask(&self, i: usize) -> CandleData {
        CandleData {
            timestamp_us: self.timestamp_us[i],
            open: self.ask_open[i],
            high: self.ask_high[i],
            low: self.ask_low[i],
            close: self.ask_close[i],
            volume: self.ask_volume[i],
        }
    }

    /// The strategy's view of bar `i`.
    #[inline]
    pub fn slice(&self, i: usize) -> DataSlice<'_> {
        DataSlice {
            symbol: &self.symbol,
            timeframe: self.timeframe,
            index: i,
            timestamp_us: self.timestamp_us[i],
            bid: self.bid(i),
            ask: self.ask(i),
        }
    }

    /// Validate once (E4004 naming the first offending row): non-empty, equal lengths, timestamps
    /// within 0001-01-01 .. 9999-12-31 ([`MIN_TIMESTAMP_US`]..=[`MAX_TIMESTAMP_US`]), strictly increasing and at
    /// least `min_bar_spacing_us` apart, finite prices and volumes >= 0, low <= open,close <= high on both
    /// sides, and ask.close >= bid.close unless crossed quotes are allowed.
    pub fn validate(&self, allow_crossed_quotes: bool) -> Result<()> {
        let n = self.len();
        if n == 0 {
            return Err(StrategyError::data("no bars (empty data)"));
        }
        for (name, col) in PRICE_COLUMNS.iter().zip(self.price_columns()) {
            if col.len() != n {
                return Err(StrategyError::data(format!(
                    "ragged columns: '{name}' has {} rows, timestamp_us has {n}",
                    col.len()
                )));
            }
        }
        // Bind plain slices once: indexing a `Column` goes through its trait object every time.
        let ts: &[i64] = &self.timestamp_us;
        for i in 0..n {
            if !(MIN_TIMESTAMP_US..=MAX_TIMESTAMP_US).contains(&ts[i]) {
                return Err(StrategyError::data(format!(
                    "timestamp_us at row {i}: {} is outside 0001-01-01 .. 9999-12-31 UTC ({MIN_TIMESTAMP_US}..={MAX_TIMESTAMP_US} µs)",
                    ts[i]
                )));
            }
            if i > 0 && ts[i] <= ts[i - 1] {
                return Err(StrategyError::data(format!(
                    "timestamps not strictly increasing at row {i} ({} after {})",
                    ts[i],
                    ts[i - 1]
                )));
            }
        }
        let min_gap = min_bar_spacing_us(self.timeframe);
        if let Some(i) = (1..n).find(|&i| ts[i] - ts[i - 1] < min_gap) {
            return Err(StrategyError::data(format!(
                "timestamp_us at row {i}: bars {} µs apart, shorter than the {} timeframe (wrong timeframe in the \
                 config?)",
                ts[i] - ts[i - 1],
                self.timeframe
            )));
        }
        for (name, col) in PRICE_COLUMNS.iter().zip(self.price_columns()) {
            if let Some(i) = col.iter().position(|v| !v.is_finite()) {
                return Err(StrategyError::data(format!("non-finite value in '{name}' at row {i}: {}", col[i])));
            }
        }
        let [bo, bh, bl, bc, bv, ao, ah, al, ac, av] = self.price_columns();
        for (side, o, h, l, c, v) in [("bid", bo, bh, bl, bc, bv), ("ask", ao, ah, al, ac, av)] {
            for i in 0..n {
                if !(l[i] <= o[i] && l[i] <= c[i] && o[i] <= h[i] && c[i] <= h[i]) {
                    return Err(StrategyError::data(format!(
                        "{side} candle at row {i} violates low <= open,close <= high (o={}, h={}, l={}, c={})",
                        o[i], h[i], l[i], c[i]
                    )));
                }
                if v[i] < 0.0 {
                    return Err(StrategyError::data(format!("negative {side}_volume at row {i}")));
                }
            }
        }
        if !allow_crossed_quotes {
            if let Some(i) = (0..n).find(|&i| ac[i] < bc[i]) {
                return Err(StrategyError::data(format!(
                    "ask < bid at row {i} (ask_close={}, bid_close={}); set engine.allow_crossed_quotes to accept",
                    ac[i], bc[i]
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bars(tf: Timeframe, ts: Vec<i64>) -> Result<MarketData> {
        let n = ts.len();
        let p = vec![1.0; n];
        MarketData::from_vecs("EURUSD", tf, ts, std::array::from_fn(|_| p.clone()), false)
    }

    #[test]
    fn timestamps_are_bounded_to_years_1_to_9999() {
        let min = 60_000_000;
        assert!(bars(Timeframe::M1, vec![MIN_TIMESTAMP_US, MIN_TIMESTAMP_US + min]).is_ok());
        assert!(bars(Timeframe::M1, vec![MAX_TIMESTAMP_US - min, MAX_TIMESTAMP_US]).is_ok());
        // Found by the `candles` fuzz target (fuzz/regressions/candles/): bars near the ends of i64
        // overflowed the spacing check and the New York DST arithmetic of the daily metrics.
        for ts in [vec![MIN_TIMESTAMP_US - 1, 0], vec![0, MAX_TIMESTAMP_US + 1], vec![i64::MIN, i64::MAX]] {
            let e = bars(Timeframe::M1, ts).unwrap_err();
            assert_eq!(e.code(), "E4004");
            assert!(e.to_string().contains("outside 0001-01-01 .. 9999-12-31"), "{e}");
        }
    }

    #[test]
    fn bars_closer_than_the_timeframe_are_rejected() {
        let min = 60_000_000;
        assert!(bars(Timeframe::M1, vec![0, min, 3 * min]).is_ok());
        let e = bars(Timeframe::M5, vec![0, min, 2 * min]).unwrap_err();
        assert_eq!(e.code(), "E4004");
        assert!(e.to_string().contains("row 1"), "{e}");
        // NY-anchored D1 bins are 23 h long on the spring DST switch
        assert!(bars(Timeframe::D1, vec![0, 23 * 60 * min]).is_ok());
        assert!(bars(Timeframe::D1, vec![0, 22 * 60 * min]).is_err());
    }
}
