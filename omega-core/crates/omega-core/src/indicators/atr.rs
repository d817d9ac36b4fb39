//! Wilder's average true range. The seed is a plain left-to-right mean of the first `n` true
//! ranges (not numpy's pairwise sum), then Wilder's recursive smoothing.

/// True range per bar: `H₀ − L₀` for the first bar, then `max(H − L, |H − C₋₁|, |L − C₋₁|)`.
/// Reads the common prefix of the three slices.
pub fn true_range(high: &[f64], low: &[f64], close: &[f64]) -> Vec<f64> {
    let len = high.len().min(low.len()).min(close.len());
    (0..len).map(|t| tr_at(high, low, close, t)).collect()
}

/// The true range of bar `t` (`t` within all three slices).
#[inline(always)]
fn tr_at(high: &[f64], low: &[f64], close: &[f64], t: usize) -> f64 {
    let hl = high[t] - low[t];
    if t == 0 {
        hl
    } else {
        let prev = close[t - 1];
        hl.max((high[t] - prev).abs()).max((low[t] - prev).abs())
    }
}

/// Wilder ATR(n): first value at index `n − 1`, NaN before (and everywhere for `n == 0`). The true
/// ranges are computed on the fly (one pass, no true-range series).
pub fn wilder(high: &[f64], low: &[f64], close: &[f64], n: usize) -> Vec<f64> {
    let len = high.len().min(low.len()).min(close.len());
    if n == 0 || len < n {
        return vec![f64::NAN; len];
    }
    let (high, low, close) = (&high[..len], &low[..len], &close[..len]);
    let mut out = Vec::with_capacity(len);
    out.resize(n - 1, f64::NAN);
    let nf = n as f64;
    let keep = (n - 1) as f64;
    let mut sum = 0.0;
    for t in 0..n {
        sum += tr_at(high, low, close, t);
    }
    let mut atr = sum / nf;
    out.push(atr);
    for t in n..len {
        atr = (atr * keep + tr_at(high, low, close, t)) / nf;
        out.push(atr);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atr3_by_hand() {
        let h = [10.0, 12.0, 11.0, 15.0];
        let l = [8.0, 9.0, 9.0, 12.0];
        let c = [9.0, 11.0, 10.0, 14.0];
        // TR = 2, 3 (max(3, 3, 0)), 2 (max(2, 0, 2)), 5 (max(3, 5, 2))
        assert_eq!(true_range(&h, &l, &c), vec![2.0, 3.0, 2.0, 5.0]);
        let a = wilder(&h, &l, &c, 3);
        assert!(a[0].is_nan() && a[1].is_nan());
        assert_eq!(a[2], 7.0 / 3.0);
        assert_eq!(a[3], (7.0 / 3.0 * 2.0 + 5.0) / 3.0);
    }

    /// The fused pass gives the bits of the two-pass definition (true ranges, then smoothing).
    #[test]
    fn fused_equals_two_passes() {
        let c: Vec<f64> = (0..500).map(|i| 1.1 + 0.001 * ((i * 7919 % 31) as f64 - 15.0)).collect();
        let h: Vec<f64> = c.iter().enumerate().map(|(i, v)| v + 0.0003 * (i % 5) as f64).collect();
        let l: Vec<f64> = c.iter().enumerate().map(|(i, v)| v - 0.0002 * (i % 7) as f64).collect();
        for n in [1, 2, 14, 100, 500] {
            let tr = true_range(&h, &l, &c);
            let mut want = vec![f64::NAN; tr.len()];
            let mut sum = 0.0;
            for v in &tr[..n] {
                sum += v;
            }
            let mut atr = sum / n as f64;
            want[n - 1] = atr;
            for t in n..tr.len() {
                atr = (atr * (n - 1) as f64 + tr[t]) / n as f64;
                want[t] = atr;
            }
            let got = wilder(&h, &l, &c, n);
            assert_eq!(
                got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                want.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn short_input_and_zero_length() {
        assert!(wilder(&[1.0, 2.0], &[0.0, 1.0], &[0.5, 1.5], 3).iter().all(|v| v.is_nan()));
        assert!(wilder(&[1.0], &[0.0], &[0.5], 0)[0].is_nan());
        assert_eq!(wilder(&[1.0], &[0.0], &[0.5], 1), vec![1.0]);
        assert!(wilder(&[], &[], &[], 2).is_empty());
    }
}
