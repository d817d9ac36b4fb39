//! Rolling mean and sample standard deviation with pandas' running algorithms (spec/mrz-strategy.md
//! §3.0): Kahan-compensated running sums carried from the first element, plus pandas' special
//! cases for constant runs and one-signed windows. Bollinger bands are the Python V1 TP source, and
//! their values hit exact decimal ties, so these must match pandas to the last bit.

/// Rolling mean over `n` values; NaN before index `n − 1` (and everywhere for `n == 0`).
pub fn mean(x: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![f64::NAN; x.len()];
    if n == 0 {
        return out;
    }
    let mut sum = 0.0_f64;
    let mut comp_add = 0.0_f64;
    let mut comp_remove = 0.0_f64;
    let mut count = 0_usize;
    let mut negatives = 0_usize;
    let mut run = Run::default();
    for (i, &v) in x.iter().enumerate() {
        if i >= n {
            let old = x[i - n];
            let y = -old - comp_remove;
            let t = sum + y;
            comp_remove = (t - sum) - y;
            sum = t;
            count -= 1;
            negatives -= usize::from(old.is_sign_negative());
        }
        let y = v - comp_add;
        let t = sum + y;
        comp_add = (t - sum) - y;
        sum = t;
        count += 1;
        negatives += usize::from(v.is_sign_negative());
        run.push(v);
        if count >= n {
            let mut m = sum / count as f64;
            if run.len >= count {
                m = run.last;
            } else if (negatives == 0 && m < 0.0) || (negatives == count && m > 0.0) {
                // rounding residue of removed values must not flip the sign of a one-signed window
                m = 0.0;
            }
            out[i] = m;
        }
    }
    out
}

/// Rolling sample standard deviation (ddof 1) over `n` values; NaN before index `n − 1` and
/// everywhere when `n < 2`.
pub fn std(x: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![f64::NAN; x.len()];
    if n < 2 {
        return out;
    }
    let mut acc = StdAcc::default();
    for (i, &v) in x.iter().enumerate() {
        if i >= n {
            acc.remove(x[i - n]);
        }
        acc.add(v);
        if acc.count >= n {
            out[i] = acc.value();
        }
    }
    out
}

/// The running state of [`std`]: pandas' Welford-style mean and sum of squares with Kahan
/// compensation of the added and the removed values, and the run of equal values. One
/// implementation of the numerics, fed either from the input itself ([`std`]) or from a window
/// kept by the caller (the fused z-scores of `zscore`), so both give the same bits.
#[derive(Debug)]
pub(crate) struct StdAcc {
    pub(crate) count: usize,
    mean: f64,
    ssq: f64,
    comp_add: f64,
    comp_remove: f64,
    run: Run,
}

impl Default for StdAcc {
    fn default() -> Self {
        StdAcc { count: 0, mean: 0.0, ssq: 0.0, comp_add: 0.0, comp_remove: 0.0, run: Run::default() }
    }
}

impl StdAcc {
    /// Take `old` (the value that leaves the window) out.
    #[inline(always)]
    pub(crate) fn remove(&mut self, old: f64) {
        self.count -= 1;
        if self.count != 0 {
            let prev_mean = self.mean - self.comp_remove;
            let y = old - self.comp_remove;
            let t = y - self.mean;
            self.comp_remove = (t + self.mean) - y;
            self.mean -= t / self.count as f64;
            self.ssq -= (old - prev_mean) * (old - self.mean);
        } else {
            self.mean = 0.0;
            self.ssq = 0.0;
        }
    }

    /// Add `v` (the value that enters the window).
    #[inline(always)]
    pub(crate) fn add(&mut self, v: f64) {
        self.run.push(v);
        self.count += 1;
        let prev_mean = self.mean - self.comp_add;
        let y = v - self.comp_add;
        let t = y - self.mean;
        self.comp_add = (t + self.mean) - y;
        self.mean += t / self.count as f64;
        self.ssq += (v - prev_mean) * (v - self.mean);
    }

    /// The sample std of the values in the window (`count >= 2`).
    #[inline(always)]
    pub(crate) fn value(&self) -> f64 {
        let var = if self.run.len >= self.count { 0.0 } else { self.ssq / (self.count - 1) as f64 };
        // clamp rounding below zero, but keep a NaN (overflowed sums) NaN as pandas does
        if var < 0.0 {
            0.0
        } else {
            var.sqrt()
        }
    }
}

/// Bollinger bands `(mid, upper, lower)` = SMA(n), `mid + k·sd`, `mid − k·sd` with sample std.
pub fn bollinger(x: &[f64], n: usize, k: f64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mid = mean(x, n);
    let sd = std(x, n);
    let upper = upper(&mid, &sd, k);
    let lower = lower(&mid, &sd, k);
    (mid, upper, lower)
}

/// Upper band `mid + k·sd` from the SMA and the std of the same window.
pub fn upper(mid: &[f64], sd: &[f64], k: f64) -> Vec<f64> {
    mid.iter().zip(sd).map(|(&m, &s)| m + k * s).collect()
}

/// Lower band `mid − k·sd` from the SMA and the std of the same window.
pub fn lower(mid: &[f64], sd: &[f64], k: f64) -> Vec<f64> {
    mid.iter().zip(sd).map(|(&m, &s)| m - k * s).collect()
}

/// Length of the run of identical consecutive values ending at the latest one (pandas'
/// `num_consecutive_same_value`): a window made of one repeated value reports it exactly.
#[derive(Debug)]
struct Run {
    len: usize,
    last: f64,
}

impl Default for Run {
    fn default() -> Self {
        Run { len: 0, last: f64::NAN }
    }
}

impl Run {
    #[inline(always)]
    fn push(&mut self, v: f64) {
        self.len = if v == self.last { self.len + 1 } else { 1 };
        self.last = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn mean_by_hand() {
        let m = mean(&[1.0, 2.0, 3.0, 4.0, 6.0], 3);
        assert!(m[0].is_nan() && m[1].is_nan());
        assert_eq!(&m[2..], &[2.0, 3.0, 13.0 / 3.0]);
    }

    #[test]
    fn constant_runs_are_exact() {
        // 0.1 + 0.2 + 0.3 leaves rounding residue in the running sum; the run rule restores exactness.
        let x = [0.1, 0.2, 0.3, 1.1, 1.1, 1.1, 1.1];
        let m = mean(&x, 3);
        assert_eq!(m[5], 1.1);
        assert_eq!(m[6], 1.1);
        let s = std(&x, 3);
        assert_eq!(s[5], 0.0);
        assert_eq!(s[6], 0.0);
    }

    #[test]
    fn one_signed_windows_keep_their_sign() {
        let x = [1e16, 1.0, -1e16, -3.0, -1e-300, -2e-300];
        let m = mean(&x, 2);
        // after the huge values leave, the running sum may carry residue of the wrong sign
        for (i, v) in m.iter().enumerate().skip(3) {
            assert!(v.is_nan() || *v <= 0.0, "all-negative window {i} gave {v}");
        }
        let y = [-1e16, -1.0, 1e16, 3.0, 1e-300, 2e-300];
        for v in mean(&y, 2).iter().skip(3) {
            assert!(v.is_nan() || *v >= 0.0);
        }
    }

    #[test]
    fn std_by_hand() {
        let s = std(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0], 4);
        assert!(s[..3].iter().all(|v| v.is_nan()));
        // windows: [2,4,4,4] var = 1.0; [4,4,4,5] var = 0.25; [4,4,5,5] var = 1/3; [4,5,5,7]; [5,5,7,9]
        assert!(close(s[3], 1.0, 1e-15));
        assert!(close(s[4], 0.5, 1e-15));
        assert!(close(s[5], (1.0_f64 / 3.0).sqrt(), 1e-15));
        assert!(close(s[6], (4.75_f64 / 3.0).sqrt(), 1e-15));
        assert!(close(s[7], (11.0_f64 / 3.0).sqrt(), 1e-15));
        assert!(std(&[1.0, 2.0, 3.0], 1).iter().all(|v| v.is_nan()));
        assert!(std(&[1.0, 2.0], 3).iter().all(|v| v.is_nan()));
    }

    #[test]
    fn bollinger_bands() {
        let x = [1.0, 3.0, 5.0];
        let (mid, up, lo) = bollinger(&x, 3, 2.0);
        assert_eq!(mid[2], 3.0);
        assert!(close(up[2], 7.0, 1e-15));
        assert!(close(lo[2], -1.0, 1e-15));
        assert!(up[1].is_nan() && lo[0].is_nan());
    }
}
