//! Scalar Kalman filter for a random-walk mean (x₀ = C₀, P₀ = r). State is carried from the first
//! element, so a series restarted on a window (MRZ's local z) is simply `mean(&x[a..=b], ..)`.

/// Filtered mean of `x` with measurement variance `r` and process variance `q`; defined from
/// index 0. A zero `P⁻ + r` makes the gain NaN from there on.
pub fn mean(x: &[f64], r: f64, q: f64) -> Vec<f64> {
    let mut out = Vec::with_capacity(x.len());
    let mut state = match x.first() {
        Some(&x0) => Filter { x: x0, p: r },
        None => return out,
    };
    out.push(state.x);
    for &c in &x[1..] {
        out.push(state.step(c, r, q));
    }
    out
}

/// The filter's running state (estimate and its variance).
#[derive(Clone, Copy, Debug)]
struct Filter {
    x: f64,
    p: f64,
}

impl Filter {
    fn step(&mut self, c: f64, r: f64, q: f64) -> f64 {
        let prior = self.p + q;
        let gain = prior / (prior + r);
        self.x += gain * (c - self.x);
        self.p = (1.0 - gain) * prior;
        self.x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kalman_by_hand() {
        // r = 1, q = 1: P⁻ = 2, K = 2/3, x = 1 + 2/3·(4 − 1) = 3, P = 2/3
        // then P⁻ = 5/3, K = (5/3)/(8/3) = 5/8, x = 3 + 5/8·(−3) = 1.125
        let m = mean(&[1.0, 4.0, 0.0], 1.0, 1.0);
        assert_eq!(m[0], 1.0);
        let k1 = 2.0 / (2.0 + 1.0);
        let x1 = 1.0 + k1 * 3.0;
        assert_eq!(m[1], x1);
        let p1 = (1.0 - k1) * 2.0;
        let k2 = (p1 + 1.0) / (p1 + 1.0 + 1.0);
        assert_eq!(m[2], x1 + k2 * (0.0 - x1));
        assert!((m[1] - 3.0).abs() < 1e-15 && (m[2] - 1.125).abs() < 1e-15);
    }

    #[test]
    fn zero_process_noise_converges_to_running_mean() {
        // q = 0, P₀ = r: the filter is the running mean of all values so far
        let m = mean(&[2.0, 4.0, 6.0, 8.0], 0.5, 0.0);
        for (got, want) in m.iter().zip([2.0, 3.0, 4.0, 5.0]) {
            assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        }
        assert!(mean(&[], 1.0, 1.0).is_empty());
    }
}
