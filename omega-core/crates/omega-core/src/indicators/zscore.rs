//! z-scores of a residual against its own rolling sample std (ddof 1). A zero or undefined std
//! gives NaN, never ±inf, in both backends.

use crate::indicators::{ema::ema, kalman, rolling};

/// `e / sd` per element, NaN where `sd` is 0 or NaN.
pub fn ratio(e: &[f64], sd: &[f64]) -> Vec<f64> {
    e.iter().zip(sd).map(|(&a, &b)| safe_div(a, b)).collect()
}

/// `a / b`, NaN when `b == 0`.
#[inline]
pub fn safe_div(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        f64::NAN
    } else {
        a / b
    }
}

/// Residual `x − mean` per element.
fn residual(x: &[f64], mean: &[f64]) -> Vec<f64> {
    x.iter().zip(mean).map(|(&a, &m)| a - m).collect()
}

/// z of `x − mean` against the rolling std of that residual over `window`.
///
/// One pass: each residual is computed once, fed to the rolling std (the same [`rolling::StdAcc`]
/// as `rolling::std`, so the same bits as `ratio(residual, std(residual))`) and divided there; the
/// residuals still in the window are kept in a ring of `window` values, not in a second series.
pub fn residual_z(x: &[f64], mean: &[f64], window: usize) -> Vec<f64> {
    let len = x.len().min(mean.len());
    if window < 2 || window > len {
        // the std is never defined: every z is NaN (as `e / NaN`)
        return vec![f64::NAN; len];
    }
    let mut out = Vec::with_capacity(len);
    let mut ring = vec![0.0_f64; window];
    let mut at = 0_usize;
    let mut acc = rolling::StdAcc::default();
    for (i, (&a, &m)) in x.iter().zip(mean).enumerate() {
        let e = a - m;
        if i >= window {
            acc.remove(ring[at]);
        }
        ring[at] = e;
        at += 1;
        if at == window {
            at = 0;
        }
        acc.add(e);
        let sd = if acc.count >= window { acc.value() } else { f64::NAN };
        out.push(safe_div(e, sd));
    }
    out
}

/// z of `x − EMA(ema_len)` against the rolling std of that residual over `window`.
pub fn ema_residual(x: &[f64], ema_len: usize, window: usize) -> Vec<f64> {
    residual_z(x, &ema(x, ema_len), window)
}

/// `(x − mean) / sd` from the SMA and the std of `x` over the same window.
pub fn sma_from(x: &[f64], mean: &[f64], sd: &[f64]) -> Vec<f64> {
    ratio(&residual(x, mean), sd)
}

/// `(x − SMA(window)) / RollingStd(x, window)`.
pub fn sma(x: &[f64], window: usize) -> Vec<f64> {
    sma_from(x, &rolling::mean(x, window), &rolling::std(x, window))
}

/// z of `x − KalmanMean(r, q)` against the rolling std of that residual over `window`.
pub fn kalman(x: &[f64], window: usize, r: f64, q: f64) -> Vec<f64> {
    residual_z(x, &kalman::mean(x, r, q), window)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sma_z_by_hand() {
        let z = sma(&[1.0, 2.0, 3.0, 3.0, 3.0], 3);
        assert!(z[0].is_nan() && z[1].is_nan());
        assert_eq!(z[2], 1.0); // (3 − 2) / 1
                               // window [2,3,3]: mean 8/3, sd √(1/3)
        assert!((z[3] - (3.0 - 8.0 / 3.0) / (1.0_f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!(z[4].is_nan(), "constant window: std 0 → NaN, not inf");
    }

    #[test]
    fn ema_residual_flat_is_nan() {
        assert!(ema_residual(&[1.0; 10], 3, 4).iter().all(|v| v.is_nan()));
    }

    #[test]
    fn kalman_z_matches_its_parts() {
        let x = [1.0, 1.5, 1.2, 1.8, 1.1, 1.6];
        let z = kalman(&x, 3, 0.5, 0.2);
        let m = kalman::mean(&x, 0.5, 0.2);
        let e: Vec<f64> = x.iter().zip(&m).map(|(a, b)| a - b).collect();
        let sd = rolling::std(&e, 3);
        assert!(z[1].is_nan());
        for i in 2..x.len() {
            assert_eq!(z[i], e[i] / sd[i]);
        }
    }

    /// The fused pass gives the bits of residual → rolling std → ratio, on data with constant runs,
    /// sign changes and large magnitudes, for windows shorter, equal to and longer than the data.
    #[test]
    fn fused_residual_z_equals_its_parts() {
        let mut state = 7_u64;
        let mut u = || {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (state >> 11) as f64 / (1_u64 << 53) as f64
        };
        let mut x: Vec<f64> = (0..3000).map(|_| 1.1 + (u() - 0.5) * 0.01).collect();
        x[100..140].fill(1.2);
        x[500..510].iter_mut().for_each(|v| *v *= 1e6);
        let m = kalman::mean(&x, 0.5, 0.01);
        for window in [2, 3, 20, 57, 2999, 3000, 3001, 10_000] {
            let e = residual(&x, &m);
            let want = ratio(&e, &rolling::std(&e, window));
            let got = residual_z(&x, &m, window);
            assert_eq!(got.len(), want.len());
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert_eq!(g.to_bits(), w.to_bits(), "window {window}, index {i}: {g} vs {w}");
            }
        }
        assert!(residual_z(&x, &m, 1).iter().all(|v| v.is_nan()));
        assert!(residual_z(&[], &[], 5).is_empty());
    }

    #[test]
    fn division_rules() {
        assert!(safe_div(1.0, 0.0).is_nan());
        assert!(safe_div(1.0, -0.0).is_nan());
        assert!(safe_div(1.0, f64::NAN).is_nan());
        assert_eq!(safe_div(3.0, 2.0), 1.5);
    }
}
