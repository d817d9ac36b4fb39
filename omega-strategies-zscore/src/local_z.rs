//! Scenario 4's z source (spec §3.1): the local Kalman-GARCH z, restarted on the trailing window of
//! `local_z_lookback` bars ending at the bar. It costs O(window) per bar, so the strategy computes it
//! only for bars on which scenario 4's band, price and ATR conditions already hold, and memoises it.

use omega_core::indicators::garch;

use crate::params::Garch;

/// Configuration of the local z.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LocalZ {
    /// Window length L (> 0).
    pub lookback: usize,
    pub kalman_r: f64,
    pub kalman_q: f64,
    pub garch: Garch,
}

impl LocalZ {
    /// z at bar `i` from the bid closes, NaN when undefined: GARCH unavailable, fewer than
    /// `2 + min_periods` closes in the window, σ not finite and > 0, or a zero denominator.
    pub fn at(&self, i: usize, closes: &[f64]) -> f64 {
        if i >= closes.len() || self.lookback == 0 || !self.garch.available() {
            return f64::NAN;
        }
        let start = (i + 1).saturating_sub(self.lookback);
        let seg = &closes[start..=i];
        if seg.len() < 2 || seg.len() - 1 < 1 + self.garch.min_periods {
            return f64::NAN;
        }
        garch::local_kalman_garch_z(seg, self.kalman_r, self.kalman_q, &self.garch.key_params())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use omega_core::indicators::kalman;

    fn local(lookback: usize, min_periods: usize) -> LocalZ {
        LocalZ {
            lookback,
            kalman_r: 0.5,
            kalman_q: 0.2,
            garch: Garch {
                alpha: 0.1,
                beta: 0.8,
                omega: None,
                use_log_returns: true,
                scale: 100.0,
                min_periods,
                sigma_floor: 1e-6,
            },
        }
    }

    #[test]
    fn equals_the_restarted_series_at_the_window_end() {
        let closes: Vec<f64> = (0..40).map(|i| 1.2 + 0.002 * ((i * 5 % 9) as f64) - 0.001 * ((i % 3) as f64)).collect();
        let lz = local(10, 3);
        for i in 0..closes.len() {
            let got = lz.at(i, &closes);
            let start = (i + 1).saturating_sub(10);
            let seg = &closes[start..=i];
            if seg.len() < 5 {
                assert!(got.is_nan(), "bar {i}: window too short for min_periods 3");
                continue;
            }
            let g = lz.garch.key_params();
            let sigma = *garch::sigma(seg, &g).last().unwrap_or(&f64::NAN);
            let mean = *kalman::mean(seg, 0.5, 0.2).last().unwrap_or(&f64::NAN);
            let c = closes[i];
            let want = (c - mean) / (c.abs() * sigma);
            assert_eq!(got.to_bits(), want.to_bits(), "bar {i}");
        }
    }

    #[test]
    fn undefined_cases() {
        let closes = [1.0, 1.1, 1.2, 1.1, 1.0, 1.05];
        assert!(local(0, 0).at(5, &closes).is_nan());
        assert!(local(6, 5).at(5, &closes).is_nan(), "needs L >= min_periods + 2");
        assert!(local(6, 4).at(5, &closes).is_finite());
        let mut unstable = local(6, 0);
        unstable.garch.alpha = 0.3;
        unstable.garch.beta = 0.7;
        assert!(unstable.at(5, &closes).is_nan());
        assert!(local(6, 0).at(9, &closes).is_nan(), "out of range");
    }
}
