//! GARCH(1,1) volatility with fixed parameters (no fitting), exactly as spec/mrz-strategy.md §3.1:
//! the mean and long-run variance come from the first return only, so the series depends on where
//! it starts. MRZ restarts it on trailing windows; `sigma_last` and `local_kalman_garch_z` do that
//! in O(window) without allocating the whole series.

use crate::indicators::key::GarchParams;

/// σ forecast per element of `x` (closes): `√v_t / scale` from index `1 + min_periods`, NaN before
/// and everywhere when `α + β ≥ 1`.
pub fn sigma(x: &[f64], g: &GarchParams) -> Vec<f64> {
    let mut out = vec![f64::NAN; x.len()];
    let first = 1 + g.min_periods;
    for_each_variance(x, g, |t, v| {
        if t >= first {
            out[t] = v.sqrt() / g.scale;
        }
    });
    out
}

/// σ at the last element of `x` when GARCH is restarted at `x[0]` (the value `sigma(x, g)` would
/// end with), without building the series.
pub fn sigma_last(x: &[f64], g: &GarchParams) -> f64 {
    let m = x.len();
    if m < 2 || m - 1 < 1 + g.min_periods {
        return f64::NAN;
    }
    let mut last = f64::NAN;
    for_each_variance(x, g, |t, v| {
        if t == m - 1 {
            last = v.sqrt() / g.scale;
        }
    });
    last
}

/// `(C − KalmanMean(r, q)) / (|C| · σ)` per element; NaN where σ is NaN or the denominator is 0.
pub fn kalman_garch_z(x: &[f64], r: f64, q: f64, g: &GarchParams) -> Vec<f64> {
    kalman_garch_z_from(x, &crate::indicators::kalman::mean(x, r, q), g)
}

/// As [`kalman_garch_z`] with the Kalman mean of `x` given.
pub fn kalman_garch_z_from(x: &[f64], mean: &[f64], g: &GarchParams) -> Vec<f64> {
    let sig = sigma(x, g);
    x.iter().zip(mean).zip(&sig).map(|((&c, &m), &s)| z(c, m, s)).collect()
}

/// MRZ's local Kalman-GARCH z: Kalman filter and GARCH restarted on `seg` (the trailing window
/// ending at the bar), read at its last element. NaN when GARCH is unavailable (`α + β ≥ 1`,
/// `len < 2`, `len − 1 < 1 + min_periods`) or σ is not finite and > 0.
pub fn local_kalman_garch_z(seg: &[f64], r: f64, q: f64, g: &GarchParams) -> f64 {
    let s = sigma_last(seg, g);
    if !(s.is_finite() && s > 0.0) {
        return f64::NAN;
    }
    let (Some(&c), Some(&m)) = (seg.last(), crate::indicators::kalman::mean(seg, r, q).last()) else {
        return f64::NAN;
    };
    z(c, m, s)
}

fn z(c: f64, mean: f64, sigma: f64) -> f64 {
    if sigma.is_nan() {
        return f64::NAN;
    }
    let den = c.abs() * sigma;
    if den == 0.0 {
        f64::NAN
    } else {
        (c - mean) / den
    }
}

/// Scaled return from `prev` to `cur`.
#[inline]
fn ret(prev: f64, cur: f64, g: &GarchParams) -> f64 {
    if g.use_log_returns {
        g.scale * (cur / prev).ln()
    } else {
        g.scale * (cur / prev - 1.0)
    }
}

/// Runs the variance recursion and hands `(t, v_t)` for t = 1..len−1 to `emit`; does nothing when
/// `α + β ≥ 1` (or a parameter is NaN) or fewer than two closes are given.
fn for_each_variance(x: &[f64], g: &GarchParams, mut emit: impl FnMut(usize, f64)) {
    let (alpha, beta) = (g.alpha, g.beta);
    let stationary = alpha + beta < 1.0;
    if !stationary || x.len() < 2 {
        return;
    }
    let omega = g.omega.unwrap_or(1e-6 * 1e-6_f64.max(1.0 - alpha - beta)).max(0.0);
    let floor_sq = g.sigma_floor * g.sigma_floor;
    let mu = ret(x[0], x[1], g);
    let mut v = 1e-6_f64.max(floor_sq);
    let mut e = 0.0;
    emit(1, v);
    for t in 2..x.len() {
        v = ((omega + alpha * e) + beta * v).max(floor_sq);
        emit(t, v);
        let d = ret(x[t - 1], x[t], g) - mu;
        e = d * d;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(min_periods: usize) -> GarchParams {
        GarchParams {
            alpha: 0.1,
            beta: 0.8,
            omega: None,
            scale: 100.0,
            min_periods,
            use_log_returns: false,
            sigma_floor: 0.0,
        }
    }

    #[test]
    fn first_values_by_hand() {
        let x = [100.0, 101.0, 100.0, 102.0, 102.0];
        let g = params(0);
        let s = sigma(&x, &g);
        // simple returns ×100: r1 ≈ 1, r2 = 100·(100/101 − 1), r3 ≈ 2, r4 = 0; μ = r1
        let omega: f64 = 1e-6 * 0.1; // 1e-6 · max(1e-6, 1 − 0.9)
        let v1: f64 = 1e-6;
        let v2 = (omega + 0.1 * 0.0) + 0.8 * v1;
        let mu = 100.0 * (101.0 / 100.0 - 1.0); // r1, 1 up to rounding
        let r2 = 100.0 * (100.0 / 101.0 - 1.0);
        let v3 = (omega + 0.1 * ((r2 - mu) * (r2 - mu))) + 0.8 * v2;
        let r3 = 100.0 * (102.0 / 100.0 - 1.0);
        let v4 = (omega + 0.1 * ((r3 - mu) * (r3 - mu))) + 0.8 * v3;
        assert!(s[0].is_nan());
        assert_eq!(s[1], v1.sqrt() / 100.0);
        assert_eq!(s[2], v2.sqrt() / 100.0);
        assert_eq!(s[3], v3.sqrt() / 100.0);
        assert_eq!(s[4], v4.sqrt() / 100.0);
        assert_eq!(sigma_last(&x, &g), s[4]);
        // min_periods 2 → first value at index 3
        let s2 = sigma(&x, &params(2));
        assert!(s2[..3].iter().all(|v| v.is_nan()));
        assert_eq!(s2[3], s[3]);
    }

    #[test]
    fn log_returns_floor_and_omega() {
        let x = [1.0, 1.01, 1.0, 1.02];
        let g = GarchParams { use_log_returns: true, sigma_floor: 0.01, omega: Some(-5.0), ..params(0) };
        let s = sigma(&x, &g);
        // floor² = 1e-4 dominates v1; ω = max(−5, 0) = 0
        assert_eq!(s[1], 1e-4_f64.sqrt() / 100.0);
        let v2 = (0.0_f64 + 0.0) + 0.8 * 1e-4;
        assert_eq!(s[2], v2.max(1e-4).sqrt() / 100.0);
        let mu = 100.0 * (1.01_f64).ln();
        let d = 100.0 * (1.0_f64 / 1.01).ln() - mu;
        let v3 = ((0.0 + 0.1 * (d * d)) + 0.8 * 1e-4_f64).max(1e-4);
        assert_eq!(s[3], v3.sqrt() / 100.0);
    }

    #[test]
    fn unstable_params_are_missing() {
        let g = GarchParams { alpha: 0.5, beta: 0.5, ..params(0) };
        assert!(sigma(&[1.0, 2.0, 3.0], &g).iter().all(|v| v.is_nan()));
        assert!(sigma_last(&[1.0, 2.0, 3.0], &g).is_nan());
        assert!(sigma_last(&[1.0], &params(0)).is_nan());
        assert!(sigma_last(&[1.0, 2.0, 3.0], &params(2)).is_nan());
    }

    #[test]
    fn local_window_restarts() {
        let x: Vec<f64> = (0..40).map(|i| 1.1 + 0.001 * ((i * 7 % 11) as f64)).collect();
        let g = params(3);
        for end in 5..x.len() {
            let seg = &x[end - 5..=end];
            let full = kalman_garch_z(seg, 0.3, 0.1, &g);
            let local = local_kalman_garch_z(seg, 0.3, 0.1, &g);
            let want = *full.last().unwrap_or(&f64::NAN);
            assert!(want.to_bits() == local.to_bits() || (want.is_nan() && local.is_nan()));
        }
        // window too short for min_periods
        assert!(local_kalman_garch_z(&x[..4], 0.3, 0.1, &g).is_nan());
    }

    #[test]
    fn kalman_garch_z_zero_price_is_nan() {
        let x = [1.0, 1.0, 0.0, 0.0];
        let z = kalman_garch_z(&x, 1.0, 1.0, &GarchParams { use_log_returns: false, ..params(0) });
        assert!(z[3].is_nan());
    }
}
