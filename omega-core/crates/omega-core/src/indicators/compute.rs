//! From an `IndicatorKey` to its series: validates the key's parameters (E4003 naming the key and
//! the parameter) and dispatches to the kernels on the requested side's columns. The bars passed
//! in are already those of the key's timeframe; choosing them is the store's job.

use std::borrow::Cow;

use crate::error::{Result, StrategyError};
use crate::indicators::cache::BarsRef;
use crate::indicators::key::{GarchParams, IndicatorKey, IndicatorKind, PriceSide, KEY_PARAMS};
use crate::indicators::{atr, ema, garch, kalman, rolling, rsi, zscore};
use crate::types::Timeframe;

/// Largest accepted window/period: beyond 2^53 whole numbers are no longer exact in an f64.
const MAX_WHOLE: f64 = 9_007_199_254_740_992.0;

/// The series named by `key`, one value per bar of `bars` (NaN while undefined).
pub fn compute(key: &IndicatorKey, bars: &BarsRef<'_>) -> Result<Vec<f64>> {
    compute_with(key, bars, &mut |k| compute(k, bars).map(Cow::Owned))
}

/// As [`compute`], taking the sub-series a kind is built from (SMA and std of a Bollinger band,
/// the EMA of an EMA z-score, the Kalman mean of a Kalman z-score, …) from `dep`, which the store
/// answers from its memo. The sub-series are computed by the same kernels with the same
/// parameters as the combined kernels use, so the result is bit-identical to computing them here.
pub fn compute_with<'a>(
    key: &IndicatorKey,
    bars: &BarsRef<'_>,
    dep: &mut dyn FnMut(&IndicatorKey) -> Result<Cow<'a, [f64]>>,
) -> Result<Vec<f64>> {
    // a series is the unit of indicator work: an interrupt stops before the next one
    crate::interrupt::check()?;
    let kind = key.kind().ok_or_else(|| error(key, format!("unknown indicator kind {}", key.kind)))?;
    let side = key.side().ok_or_else(|| error(key, format!("unknown price side {} (0 = bid, 1 = ask)", key.side)))?;
    let (high, low, close) = match side {
        PriceSide::Bid => (bars.bid_high, bars.bid_low, bars.bid_close),
        PriceSide::Ask => (bars.ask_high, bars.ask_low, bars.ask_close),
    };
    let p = Params { key };
    // A key of `kind` on the same side and timeframe with params `params[from..from + count]`.
    let sub = |kind: IndicatorKind, from: usize, count: usize| {
        let mut k = *key;
        k.kind = kind as u32;
        k.reserved = 0;
        k.params = [0.0; KEY_PARAMS];
        k.params[..count].copy_from_slice(&key.params[from..from + count]);
        k
    };
    use IndicatorKind::*;
    Ok(match kind {
        Ema => ema::ema(close, p.whole(0, "n", 1)?),
        Sma => rolling::mean(close, p.whole(0, "n", 1)?),
        RollingStd => rolling::std(close, p.whole(0, "n", 2)?),
        BollingerUpper | BollingerLower => {
            p.whole(0, "n", 2)?;
            let k = p.finite(1, "k")?;
            let mid = dep(&sub(Sma, 0, 1))?;
            let sd = dep(&sub(RollingStd, 0, 1))?;
            if kind == BollingerUpper {
                rolling::upper(&mid, &sd, k)
            } else {
                rolling::lower(&mid, &sd, k)
            }
        }
        Atr => atr::wilder(high, low, close, p.whole(0, "n", 1)?),
        Rsi => rsi::wilder(close, p.whole(0, "n", 1)?),
        ZScoreEma => {
            p.whole(0, "ema_len", 1)?;
            let window = p.whole(1, "window", 2)?;
            zscore::residual_z(close, &dep(&sub(Ema, 0, 1))?, window)
        }
        ZScoreSma => {
            p.whole(0, "window", 2)?;
            let mean = dep(&sub(Sma, 0, 1))?;
            let sd = dep(&sub(RollingStd, 0, 1))?;
            zscore::sma_from(close, &mean, &sd)
        }
        KalmanMean => kalman::mean(close, p.positive(0, "r")?, p.non_negative(1, "q")?),
        KalmanZScore => {
            let window = p.whole(0, "window", 2)?;
            p.positive(1, "r")?;
            p.non_negative(2, "q")?;
            zscore::residual_z(close, &dep(&sub(KalmanMean, 1, 2))?, window)
        }
        GarchSigma => garch::sigma(close, &p.garch(0)?),
        KalmanGarchZScore => {
            p.positive(0, "r")?;
            p.non_negative(1, "q")?;
            let g = p.garch(2)?;
            garch::kalman_garch_z_from(close, &dep(&sub(KalmanMean, 0, 2))?, &g)
        }
        Close => close.to_vec(),
    })
}

/// Human-readable name of a key for error messages, e.g. `Ema(bid, H1)`.
pub fn describe(key: &IndicatorKey) -> String {
    let kind = key.kind().map_or_else(|| format!("kind {}", key.kind), |k| format!("{k:?}"));
    let side = match key.side() {
        Some(PriceSide::Bid) => "bid".to_string(),
        Some(PriceSide::Ask) => "ask".to_string(),
        None => format!("side {}", key.side),
    };
    let tf = match key.timeframe {
        0 => "primary".to_string(),
        m => Timeframe::from_minutes(m).map_or_else(|| format!("{m} min"), |t| t.to_string()),
    };
    format!("{kind}({side}, {tf})")
}

fn error(key: &IndicatorKey, reason: String) -> StrategyError {
    StrategyError::IndicatorError { indicator: describe(key), reason }
}

/// Typed access to a key's parameter slots, each failure naming the slot.
struct Params<'k> {
    key: &'k IndicatorKey,
}

impl Params<'_> {
    fn bad(&self, slot: usize, name: &str, want: &str) -> StrategyError {
        let got = self.key.params[slot];
        error(self.key, format!("parameter '{name}' (params[{slot}]) must be {want}, got {got}"))
    }

    fn whole(&self, slot: usize, name: &str, min: usize) -> Result<usize> {
        let v = self.key.params[slot];
        if v.fract() == 0.0 && v >= min as f64 && v <= MAX_WHOLE {
            // whole, non-negative and ≤ 2^53: the conversion is exact.
            Ok(v as usize)
        } else {
            Err(self.bad(slot, name, &format!("a whole number >= {min}")))
        }
    }

    fn finite(&self, slot: usize, name: &str) -> Result<f64> {
        let v = self.key.params[slot];
        if v.is_finite() {
            Ok(v)
        } else {
            Err(self.bad(slot, name, "finite"))
        }
    }

    fn positive(&self, slot: usize, name: &str) -> Result<f64> {
        let v = self.key.params[slot];
        if v.is_finite() && v > 0.0 {
            Ok(v)
        } else {
            Err(self.bad(slot, name, "a finite number > 0"))
        }
    }

    fn non_negative(&self, slot: usize, name: &str) -> Result<f64> {
        let v = self.key.params[slot];
        if v.is_finite() && v >= 0.0 {
            Ok(v)
        } else {
            Err(self.bad(slot, name, "a finite number >= 0"))
        }
    }

    /// GARCH parameters from the 7 slots starting at `at` (layout of `GarchParams`).
    fn garch(&self, at: usize) -> Result<GarchParams> {
        let alpha = self.non_negative(at, "alpha")?;
        let beta = self.non_negative(at + 1, "beta")?;
        let omega = self.key.params[at + 2];
        if !(omega.is_nan() || omega.is_finite()) {
            return Err(self.bad(at + 2, "omega", "finite or NaN (= derived)"));
        }
        let scale = self.positive(at + 3, "scale")?;
        let min_periods = self.whole(at + 4, "min_periods", 0)?;
        let use_log = self.key.params[at + 5];
        if use_log != 0.0 && use_log != 1.0 {
            return Err(self.bad(at + 5, "use_log_returns", "0 or 1"));
        }
        let sigma_floor = self.non_negative(at + 6, "sigma_floor")?;
        Ok(GarchParams {
            alpha,
            beta,
            omega: if omega.is_nan() { None } else { Some(omega) },
            scale,
            min_periods,
            use_log_returns: use_log == 1.0,
            sigma_floor,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Owned columns behind a `BarsRef`.
    struct Cols {
        t: Vec<i64>,
        bid: [Vec<f64>; 4],
        ask: [Vec<f64>; 4],
        vol: Vec<f64>,
    }

    impl Cols {
        fn new(o: &[f64], h: &[f64], l: &[f64], c: &[f64], spread: f64) -> Self {
            let up = |v: &[f64]| v.iter().map(|x| x + spread).collect::<Vec<f64>>();
            Cols {
                t: (0..o.len() as i64).map(|i| i * 3_600_000_000).collect(),
                bid: [o.to_vec(), h.to_vec(), l.to_vec(), c.to_vec()],
                ask: [up(o), up(h), up(l), up(c)],
                vol: vec![0.0; o.len()],
            }
        }

        fn bars(&self) -> BarsRef<'_> {
            BarsRef {
                symbol: "EURUSD",
                timeframe: Timeframe::H1,
                open_time_us: &self.t,
                close_time_us: &self.t,
                bid_open: &self.bid[0],
                bid_high: &self.bid[1],
                bid_low: &self.bid[2],
                bid_close: &self.bid[3],
                bid_volume: &self.vol,
                ask_open: &self.ask[0],
                ask_high: &self.ask[1],
                ask_low: &self.ask[2],
                ask_close: &self.ask[3],
                ask_volume: &self.vol,
                visible: None,
            }
        }
    }

    /// spec/mrz-strategy.md §8.
    fn worked_example() -> Cols {
        Cols::new(
            &[1.1000, 1.1000, 1.1010, 1.1020, 1.1010, 1.1020, 1.1030, 1.1020],
            &[1.1005, 1.1015, 1.1025, 1.1025, 1.1025, 1.1035, 1.1035, 1.1025],
            &[1.0995, 1.0995, 1.1005, 1.1005, 1.1005, 1.1015, 1.1015, 1.0975],
            &[1.1000, 1.1010, 1.1020, 1.1010, 1.1020, 1.1030, 1.1020, 1.0980],
            0.0002,
        )
    }

    fn assert_close(got: &[f64], want: &[f64], tol: f64) {
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            if w.is_nan() {
                assert!(g.is_nan(), "index {i}: want NaN, got {g}");
            } else {
                assert!((g - w).abs() <= tol, "index {i}: got {g}, want {w}");
            }
        }
    }

    const NAN: f64 = f64::NAN;

    #[test]
    fn mrz_worked_example() {
        let cols = worked_example();
        let bars = cols.bars();
        let ema = compute(&IndicatorKey::ema(PriceSide::Bid, 3), &bars).unwrap();
        assert_close(&ema, &[1.1, 1.1005, 1.10125, 1.101125, 1.1015625, 1.10228125, 1.102140625, 1.1000703125], 1e-9);
        let close = &cols.bid[3];
        let e: Vec<f64> = close.iter().zip(&ema).map(|(c, m)| c - m).collect();
        let sd = rolling::std(&e, 5);
        assert_close(&sd, &[NAN, NAN, NAN, NAN, 0.0003644345, 0.0003518922, 0.0004380577, 0.0010898704], 1e-9);
        let z = compute(&IndicatorKey::zscore_ema(PriceSide::Bid, 3, 5), &bars).unwrap();
        assert_close(&z, &[NAN, NAN, NAN, NAN, 1.2004900960, 2.0425288958, -0.3210193688, -1.8995952109], 1e-9);
        let want_atr = [NAN, NAN, 0.0016666667, 0.0017777778, 0.0018518519, 0.0019012346, 0.0019341564, 0.0029561043];
        let atr_bid = compute(&IndicatorKey::atr(PriceSide::Bid, 3), &bars).unwrap();
        let atr_ask = compute(&IndicatorKey::atr(PriceSide::Ask, 3), &bars).unwrap();
        assert_close(&atr_bid, &want_atr, 1e-9);
        assert_close(&atr_ask, &want_atr, 1e-9);
        // bar 7 by hand: mean of e₃..e₇ and the z
        let mean7 = (e[3] + e[4] + e[5] + e[6] + e[7]) / 5.0;
        assert!((mean7 - -0.0002359375).abs() < 1e-12);
        assert!((z[7] - -0.0020703125 / 0.0010898704).abs() < 1e-6);
    }

    #[test]
    fn every_kind_dispatches() {
        let cols = worked_example();
        let bars = cols.bars();
        let g = GarchParams {
            alpha: 0.1,
            beta: 0.8,
            omega: None,
            scale: 100.0,
            min_periods: 2,
            use_log_returns: true,
            sigma_floor: 1e-6,
        };
        let close = &cols.bid[3];
        let ask_close = &cols.ask[3];
        let cases: Vec<(IndicatorKey, Vec<f64>)> = vec![
            (IndicatorKey::sma(PriceSide::Bid, 3), rolling::mean(close, 3)),
            (IndicatorKey::rolling_std(PriceSide::Ask, 3), rolling::std(ask_close, 3)),
            (IndicatorKey::bollinger_upper(PriceSide::Bid, 4, 2.0), rolling::bollinger(close, 4, 2.0).1),
            (IndicatorKey::bollinger_lower(PriceSide::Bid, 4, 2.0), rolling::bollinger(close, 4, 2.0).2),
            (IndicatorKey::rsi(PriceSide::Bid, 3), rsi::wilder(close, 3)),
            (IndicatorKey::zscore_sma(PriceSide::Bid, 4), zscore::sma(close, 4)),
            (IndicatorKey::kalman_mean(PriceSide::Bid, 0.5, 1.0), kalman::mean(close, 0.5, 1.0)),
            (IndicatorKey::kalman_zscore(PriceSide::Bid, 4, 0.5, 1.0), zscore::kalman(close, 4, 0.5, 1.0)),
            (IndicatorKey::garch_sigma(PriceSide::Bid, &g), garch::sigma(close, &g)),
            (
                IndicatorKey::kalman_garch_zscore(PriceSide::Bid, 0.5, 1.0, &g),
                garch::kalman_garch_z(close, 0.5, 1.0, &g),
            ),
            (IndicatorKey::close(PriceSide::Ask), ask_close.clone()),
        ];
        for (key, want) in cases {
            let got = compute(&key, &bars).unwrap();
            assert_eq!(got.len(), want.len());
            for (a, b) in got.iter().zip(&want) {
                assert!(a.to_bits() == b.to_bits(), "{}: {a} vs {b}", describe(&key));
            }
        }
    }

    #[test]
    fn bad_keys_are_e4003() {
        let cols = worked_example();
        let bars = cols.bars();
        let check = |key: IndicatorKey, needle: &str| {
            let e = compute(&key, &bars).unwrap_err();
            assert_eq!(e.code(), "E4003", "{e}");
            assert!(e.to_string().contains(needle), "{e} should mention {needle}");
        };
        check(IndicatorKey::new(IndicatorKind::Ema, PriceSide::Bid, None, &[2.5]), "'n'");
        check(IndicatorKey::new(IndicatorKind::Ema, PriceSide::Bid, None, &[0.0]), "Ema(bid, primary)");
        check(IndicatorKey::new(IndicatorKind::Sma, PriceSide::Bid, None, &[f64::NAN]), "'n'");
        check(IndicatorKey::rolling_std(PriceSide::Ask, 1), "RollingStd(ask");
        check(IndicatorKey::bollinger_upper(PriceSide::Bid, 20, f64::INFINITY), "'k'");
        check(IndicatorKey::zscore_ema(PriceSide::Bid, 3, 1), "'window'");
        check(IndicatorKey::kalman_mean(PriceSide::Bid, 0.0, 1.0), "'r'");
        check(IndicatorKey::kalman_zscore(PriceSide::Bid, 5, 1.0, -1.0), "'q'");
        check(IndicatorKey::new(IndicatorKind::Atr, PriceSide::Bid, Some(Timeframe::H4), &[0.0]), "Atr(bid, H4)");
        let mut g = GarchParams {
            alpha: 0.1,
            beta: 0.8,
            omega: None,
            scale: 100.0,
            min_periods: 0,
            use_log_returns: true,
            sigma_floor: 0.0,
        };
        let mut k = IndicatorKey::garch_sigma(PriceSide::Bid, &g);
        k.params[4] = 1.5;
        check(k, "'min_periods'");
        k.params[4] = 0.0;
        k.params[5] = 2.0;
        check(k, "'use_log_returns'");
        g.scale = 0.0;
        check(IndicatorKey::garch_sigma(PriceSide::Bid, &g), "'scale'");
        g.scale = 1.0;
        g.alpha = -0.1;
        check(IndicatorKey::kalman_garch_zscore(PriceSide::Bid, 1.0, 1.0, &g), "'alpha'");
        let mut k = IndicatorKey::close(PriceSide::Bid);
        k.kind = 99;
        check(k, "unknown indicator kind 99");
        let mut k = IndicatorKey::close(PriceSide::Bid);
        k.side = 7;
        check(k, "unknown price side 7");
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config { cases: 64, ..Default::default() })]

        /// No kernel panics, and every series has one value per bar, whatever the (finite) data
        /// and whatever the parameters; invalid parameters are errors, never panics.
        #[test]
        fn kernels_never_panic(
            x in proptest::collection::vec(-1e6_f64..1e6, 0..120),
            n in 0_usize..150,
            window in 0_usize..150,
            r in -2.0_f64..5.0,
            q in -2.0_f64..5.0,
            k in -1e3_f64..1e3,
            alpha in -0.5_f64..1.5,
            beta in -0.5_f64..1.5,
            omega in proptest::option::of(-1.0_f64..1.0),
            scale in -10.0_f64..1000.0,
            min_periods in 0_usize..150,
            use_log in proptest::bool::ANY,
            floor in -1.0_f64..1.0,
            raw in proptest::collection::vec(proptest::num::f64::ANY, KEY_PARAMS),
            kind in 0_u32..16,
            side in 0_u32..3,
        ) {
            let len = x.len();
            let g = GarchParams { alpha, beta, omega, scale, min_periods, use_log_returns: use_log, sigma_floor: floor };
            let high: Vec<f64> = x.iter().map(|v| v.abs() + 1.0).collect();
            let low: Vec<f64> = x.iter().map(|v| -v.abs() - 1.0).collect();
            for out in [
                ema::ema(&x, n),
                rolling::mean(&x, n),
                rolling::std(&x, n),
                rolling::bollinger(&x, n, k).1,
                atr::wilder(&high, &low, &x, n),
                rsi::wilder(&x, n),
                kalman::mean(&x, r, q),
                zscore::ema_residual(&x, n, window),
                zscore::sma(&x, window),
                zscore::kalman(&x, window, r, q),
                garch::sigma(&x, &g),
                garch::kalman_garch_z(&x, r, q, &g),
            ] {
                proptest::prop_assert_eq!(out.len(), len);
            }
            let _ = garch::sigma_last(&x, &g);
            let _ = garch::local_kalman_garch_z(&x, r, q, &g);

            let cols = Cols::new(&x, &high, &low, &x, 0.0);
            let mut key = IndicatorKey::new(IndicatorKind::Ema, PriceSide::Bid, None, &raw);
            key.kind = kind;
            key.side = side;
            if let Ok(s) = compute(&key, &cols.bars()) {
                proptest::prop_assert_eq!(s.len(), len);
            }
            let keys = [
                IndicatorKey::ema(PriceSide::Bid, n),
                IndicatorKey::bollinger_lower(PriceSide::Ask, n, k),
                IndicatorKey::kalman_zscore(PriceSide::Bid, window, r, q),
                IndicatorKey::garch_sigma(PriceSide::Bid, &g),
                IndicatorKey::kalman_garch_zscore(PriceSide::Ask, r, q, &g),
            ];
            for key in keys {
                match compute(&key, &cols.bars()) {
                    Ok(s) => proptest::prop_assert_eq!(s.len(), len),
                    Err(e) => proptest::prop_assert_eq!(e.code(), "E4003"),
                }
            }
        }
    }

    #[test]
    fn unstable_garch_is_nan_not_error() {
        let cols = worked_example();
        let g = GarchParams {
            alpha: 0.5,
            beta: 0.5,
            omega: Some(0.0),
            scale: 100.0,
            min_periods: 0,
            use_log_returns: false,
            sigma_floor: 0.0,
        };
        let s = compute(&IndicatorKey::garch_sigma(PriceSide::Bid, &g), &cols.bars()).unwrap();
        assert!(s.iter().all(|v| v.is_nan()));
    }
}
