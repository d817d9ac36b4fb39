//! Wilder's average true range. The seed is a plain left-to-right mean of the first `n` true
//! ranges (not numpy's pairwise sum), then Wilder's recursive smoothing.

/// True range per bar: `H₀ − L₀` for the first bar, then `max(H − L, |H − C₋₁|, |L − C₋₁|)`.
/// Reads the common prefix of the three slices.
pub fn true_range(high: &[f64], low: &[f64], close: &[f64]) -> Vec<f64> {
    let len = high.len().min(low.len()).min(close.len());
    let mut out = Vec::with_capacity(len);
    for t in 0..len {
        let hl = high[t] - low[t];
        let tr = if t == 0 {
            hl
        } else {
            let prev = close[t - 1];
            hl.max((high[t] - prev).abs()).max((low[t] - prev).abs())
        };
        out.push(tr);
    }
    out
}

/// Wilder ATR(n): first value at index `n − 1`, NaN before (and everywhere for `n == 0`).
pub fn wilder(high: &[f64], low: &[f64], close: &[f64], n: usize) -> Vec<f64> {
    let tr = true_range(high, low, close);
    let mut out = vec![f64::NAN; tr.len()];
    if n == 0 || tr.len() < n {
        return out;
    }
    let nf = n as f64;
    let keep = (n - 1) as f64;
    let mut sum = 0.0;
    for &v in &tr[..n] {
        sum += v;
    }
    let mut atr = sum / nf;
    out[n - 1] = atr;
    for t in n..tr.len() {
        atr = (atr * keep + tr[t]) / nf;
        out[t] = atr;
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

    #[test]
    fn short_input_and_zero_length() {
        assert!(wilder(&[1.0, 2.0], &[0.0, 1.0], &[0.5, 1.5], 3).iter().all(|v| v.is_nan()));
        assert!(wilder(&[1.0], &[0.0], &[0.5], 0)[0].is_nan());
        assert_eq!(wilder(&[1.0], &[0.0], &[0.5], 1), vec![1.0]);
        assert!(wilder(&[], &[], &[], 2).is_empty());
    }
}
