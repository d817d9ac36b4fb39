//! `IndicatorKey`: a plain `#[repr(C)]` name for one indicator series (kind, price side,
//! timeframe, numeric params). It crosses the plugin ABI by value and is the memoisation key of
//! the host's store, so equality and hashing are on the exact bits of the params.

use std::hash::{Hash, Hasher};

use crate::types::Timeframe;

/// Number of numeric parameter slots in a key.
pub const KEY_PARAMS: usize = 10;

/// Indicator families. The discriminant is the ABI value of `IndicatorKey::kind`; only append.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IndicatorKind {
    /// `[n]`: EMA, pandas `ewm(span=n, adjust=False)` semantics, seeded with the first value.
    Ema = 1,
    /// `[n]`: rolling mean (pandas-compatible running sum), NaN before index n−1.
    Sma = 2,
    /// `[n]`: rolling sample standard deviation (ddof 1).
    RollingStd = 3,
    /// `[n, k]`: SMA(n) + k·RollingStd(n).
    BollingerUpper = 4,
    /// `[n, k]`: SMA(n) − k·RollingStd(n).
    BollingerLower = 5,
    /// `[n]`: Wilder ATR on the side's high/low/close, first value at index n−1.
    Atr = 6,
    /// `[n]`: Wilder RSI (0..100), first value at index n.
    Rsi = 7,
    /// `[ema_len, window]`: z of the residual close − EMA(ema_len), std over `window` (ddof 1).
    ZScoreEma = 8,
    /// `[window]`: (close − SMA(window)) / RollingStd(window).
    ZScoreSma = 9,
    /// `[r, q]`: scalar Kalman filter mean (x₀ = C₀, P₀ = r).
    KalmanMean = 10,
    /// `[window, r, q]`: (close − Kalman mean) / RollingStd(residual, window).
    KalmanZScore = 11,
    /// `[alpha, beta, omega (NaN = derived), scale, min_periods, use_log (0/1), sigma_floor]`:
    /// GARCH(1,1) σ forecast in price-return units.
    GarchSigma = 12,
    /// `[r, q, alpha, beta, omega, scale, min_periods, use_log, sigma_floor]`:
    /// (close − Kalman mean) / (|close| · GARCH σ).
    KalmanGarchZScore = 13,
    /// `[]`: the side's close itself (useful for HTF closes).
    Close = 14,
}

impl IndicatorKind {
    /// Inverse of `as u32` (None for unknown values).
    pub fn from_u32(v: u32) -> Option<Self> {
        use IndicatorKind::*;
        Some(match v {
            1 => Ema,
            2 => Sma,
            3 => RollingStd,
            4 => BollingerUpper,
            5 => BollingerLower,
            6 => Atr,
            7 => Rsi,
            8 => ZScoreEma,
            9 => ZScoreSma,
            10 => KalmanMean,
            11 => KalmanZScore,
            12 => GarchSigma,
            13 => KalmanGarchZScore,
            14 => Close,
            _ => return None,
        })
    }
}

/// Which quote a series is computed on.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PriceSide {
    Bid = 0,
    Ask = 1,
}

/// The name of one series. `timeframe` is 0 for the primary timeframe, else the minutes of a higher
/// timeframe: such a series has one value per HTF bar (map with `BarsRef::visible`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct IndicatorKey {
    pub kind: u32,
    pub side: u32,
    pub timeframe: u32,
    pub reserved: u32,
    pub params: [f64; KEY_PARAMS],
}

impl PartialEq for IndicatorKey {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
            && self.side == other.side
            && self.timeframe == other.timeframe
            && self.params.iter().zip(other.params.iter()).all(|(a, b)| a.to_bits() == b.to_bits())
    }
}

impl Eq for IndicatorKey {}

impl Hash for IndicatorKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.kind.hash(state);
        self.side.hash(state);
        self.timeframe.hash(state);
        for p in self.params {
            p.to_bits().hash(state);
        }
    }
}

impl IndicatorKey {
    /// A key from its parts; unused param slots are 0.
    pub fn new(kind: IndicatorKind, side: PriceSide, timeframe: Option<Timeframe>, params: &[f64]) -> Self {
        let mut p = [0.0; KEY_PARAMS];
        for (slot, v) in p.iter_mut().zip(params) {
            *slot = *v;
        }
        IndicatorKey {
            kind: kind as u32,
            side: side as u32,
            timeframe: timeframe.map_or(0, |t| t.minutes()),
            reserved: 0,
            params: p,
        }
    }

    /// The same key on another timeframe (`None` = primary).
    pub fn on(mut self, timeframe: Option<Timeframe>) -> Self {
        self.timeframe = timeframe.map_or(0, |t| t.minutes());
        self
    }

    /// The kind, if known.
    pub fn kind(&self) -> Option<IndicatorKind> {
        IndicatorKind::from_u32(self.kind)
    }

    /// The side, if known.
    pub fn side(&self) -> Option<PriceSide> {
        match self.side {
            0 => Some(PriceSide::Bid),
            1 => Some(PriceSide::Ask),
            _ => None,
        }
    }

    /// EMA(n) of closes.
    pub fn ema(side: PriceSide, n: usize) -> Self {
        Self::new(IndicatorKind::Ema, side, None, &[n as f64])
    }
    /// SMA(n) of closes (= Bollinger middle).
    pub fn sma(side: PriceSide, n: usize) -> Self {
        Self::new(IndicatorKind::Sma, side, None, &[n as f64])
    }
    /// Rolling sample std(n) of closes.
    pub fn rolling_std(side: PriceSide, n: usize) -> Self {
        Self::new(IndicatorKind::RollingStd, side, None, &[n as f64])
    }
    /// Upper Bollinger band.
    pub fn bollinger_upper(side: PriceSide, n: usize, k: f64) -> Self {
        Self::new(IndicatorKind::BollingerUpper, side, None, &[n as f64, k])
    }
    /// Lower Bollinger band.
    pub fn bollinger_lower(side: PriceSide, n: usize, k: f64) -> Self {
        Self::new(IndicatorKind::BollingerLower, side, None, &[n as f64, k])
    }
    /// Wilder ATR(n).
    pub fn atr(side: PriceSide, n: usize) -> Self {
        Self::new(IndicatorKind::Atr, side, None, &[n as f64])
    }
    /// Wilder RSI(n).
    pub fn rsi(side: PriceSide, n: usize) -> Self {
        Self::new(IndicatorKind::Rsi, side, None, &[n as f64])
    }
    /// z-score of close − EMA(ema_len) over `window`.
    pub fn zscore_ema(side: PriceSide, ema_len: usize, window: usize) -> Self {
        Self::new(IndicatorKind::ZScoreEma, side, None, &[ema_len as f64, window as f64])
    }
    /// z-score of close against SMA/std over `window`.
    pub fn zscore_sma(side: PriceSide, window: usize) -> Self {
        Self::new(IndicatorKind::ZScoreSma, side, None, &[window as f64])
    }
    /// Kalman mean.
    pub fn kalman_mean(side: PriceSide, r: f64, q: f64) -> Self {
        Self::new(IndicatorKind::KalmanMean, side, None, &[r, q])
    }
    /// Kalman z-score.
    pub fn kalman_zscore(side: PriceSide, window: usize, r: f64, q: f64) -> Self {
        Self::new(IndicatorKind::KalmanZScore, side, None, &[window as f64, r, q])
    }
    /// Raw close of a side (mostly for higher timeframes).
    pub fn close(side: PriceSide) -> Self {
        Self::new(IndicatorKind::Close, side, None, &[])
    }
}

/// GARCH(1,1) parameters as the keys carry them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GarchParams {
    pub alpha: f64,
    pub beta: f64,
    /// `None` = derived `1e-6 · max(1e-6, 1 − α − β)`; a value is clipped at >= 0.
    pub omega: Option<f64>,
    pub scale: f64,
    pub min_periods: usize,
    pub use_log_returns: bool,
    pub sigma_floor: f64,
}

impl GarchParams {
    fn slots(&self) -> [f64; 7] {
        [
            self.alpha,
            self.beta,
            self.omega.unwrap_or(f64::NAN),
            self.scale,
            self.min_periods as f64,
            if self.use_log_returns { 1.0 } else { 0.0 },
            self.sigma_floor,
        ]
    }

    /// Decode from 7 key slots (inverse of the key constructors).
    pub fn from_slots(s: &[f64]) -> Self {
        GarchParams {
            alpha: s[0],
            beta: s[1],
            omega: if s[2].is_nan() { None } else { Some(s[2]) },
            scale: s[3],
            min_periods: s[4].max(0.0) as usize,
            use_log_returns: s[5] != 0.0,
            sigma_floor: s[6],
        }
    }
}

impl IndicatorKey {
    /// GARCH(1,1) σ of close returns.
    pub fn garch_sigma(side: PriceSide, g: &GarchParams) -> Self {
        Self::new(IndicatorKind::GarchSigma, side, None, &g.slots())
    }

    /// Kalman-GARCH z-score.
    pub fn kalman_garch_zscore(side: PriceSide, r: f64, q: f64, g: &GarchParams) -> Self {
        let s = g.slots();
        Self::new(IndicatorKind::KalmanGarchZScore, side, None, &[r, q, s[0], s[1], s[2], s[3], s[4], s[5], s[6]])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_compare_by_bits() {
        let a = IndicatorKey::ema(PriceSide::Bid, 20);
        assert_eq!(a, IndicatorKey::ema(PriceSide::Bid, 20));
        assert_ne!(a, IndicatorKey::ema(PriceSide::Ask, 20));
        assert_ne!(a, a.on(Some(Timeframe::H1)));
        let g = GarchParams {
            alpha: 0.05,
            beta: 0.9,
            omega: None,
            scale: 100.0,
            min_periods: 50,
            use_log_returns: true,
            sigma_floor: 1e-6,
        };
        let k = IndicatorKey::garch_sigma(PriceSide::Bid, &g);
        assert_eq!(k, IndicatorKey::garch_sigma(PriceSide::Bid, &g));
        assert_eq!(GarchParams::from_slots(&k.params[..7]), g);
    }
}
