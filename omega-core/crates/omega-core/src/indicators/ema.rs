//! Exponential moving average with pandas `ewm(span=n, adjust=False)` semantics, seeded with the
//! first value. The exact-equality shortcut mirrors pandas so that a constant run stays exact.

/// EMA of `x` with span `n` (α = 2/(n+1)); defined from index 0. `n == 0` gives all NaN.
pub fn ema(x: &[f64], n: usize) -> Vec<f64> {
    if n == 0 {
        return vec![f64::NAN; x.len()];
    }
    let alpha = 2.0 / (n as f64 + 1.0);
    let beta = 1.0 - alpha;
    let mut out = Vec::with_capacity(x.len());
    let mut y = match x.first() {
        Some(&x0) => x0,
        None => return out,
    };
    out.push(y);
    for &v in &x[1..] {
        // pandas skips the update when the value equals the average, so a flat series stays bit-exact.
        if v != y {
            y = beta * y + alpha * v;
        }
        out.push(y);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ema3_by_hand() {
        let x = [1.0, 2.0, 3.0, 3.0, 0.0];
        let e = ema(&x, 3);
        // α = 0.5: 1, 1.5, 2.25, 2.625, 1.3125 (all exact in binary)
        assert_eq!(e, vec![1.0, 1.5, 2.25, 2.625, 1.3125]);
    }

    #[test]
    fn constant_series_is_exact() {
        let x = vec![1.1; 50];
        assert!(ema(&x, 7).iter().all(|&v| v == 1.1));
    }

    #[test]
    fn edge_cases() {
        assert!(ema(&[], 3).is_empty());
        assert_eq!(ema(&[2.0], 5), vec![2.0]);
        // n = 1 → α = 1: the series itself
        assert_eq!(ema(&[1.0, 5.0, -2.0], 1), vec![1.0, 5.0, -2.0]);
        assert!(ema(&[1.0, 2.0], 0).iter().all(|v| v.is_nan()));
    }
}
