//! Wilder's relative strength index (0..100): the average gain and loss are seeded with the plain
//! mean of the first `n` changes and then smoothed recursively.

/// RSI(n) of `close`: first value at index `n`, NaN before (and everywhere for `n == 0`). A window
/// without losses gives 100, one without gains or losses 50.
pub fn wilder(close: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![f64::NAN; close.len()];
    if n == 0 || close.len() <= n {
        return out;
    }
    let nf = n as f64;
    let keep = (n - 1) as f64;
    let mut gain = 0.0;
    let mut loss = 0.0;
    for t in 1..=n {
        let (g, l) = split(close[t] - close[t - 1]);
        gain += g;
        loss += l;
    }
    gain /= nf;
    loss /= nf;
    out[n] = rsi(gain, loss);
    for t in n + 1..close.len() {
        let (g, l) = split(close[t] - close[t - 1]);
        gain = (gain * keep + g) / nf;
        loss = (loss * keep + l) / nf;
        out[t] = rsi(gain, loss);
    }
    out
}

/// `(gain, loss)` of a change; never −0.0, so sums stay bit-identical to the Python twin.
fn split(d: f64) -> (f64, f64) {
    (if d > 0.0 { d } else { 0.0 }, if d < 0.0 { -d } else { 0.0 })
}

fn rsi(gain: f64, loss: f64) -> f64 {
    if loss == 0.0 {
        if gain > 0.0 {
            100.0
        } else {
            50.0
        }
    } else {
        100.0 - 100.0 / (1.0 + gain / loss)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsi2_by_hand() {
        // changes: +2, −1, +1, −2
        let r = wilder(&[10.0, 12.0, 11.0, 12.0, 10.0], 2);
        assert!(r[0].is_nan() && r[1].is_nan());
        // t=2: g = 1, l = 0.5 → 100 − 100/3
        assert_eq!(r[2], 100.0 - 100.0 / 3.0);
        // t=3: g = (1·1 + 1)/2 = 1, l = (0.5 + 0)/2 = 0.25 → 100 − 100/5 = 80
        assert_eq!(r[3], 80.0);
        // t=4: g = 0.5, l = (0.25 + 2)/2 = 1.125
        assert_eq!(r[4], 100.0 - 100.0 / (1.0 + 0.5 / 1.125));
    }

    #[test]
    fn flat_and_rising() {
        assert_eq!(wilder(&[1.0; 5], 3)[3..], [50.0, 50.0]);
        assert_eq!(wilder(&[1.0, 2.0, 3.0, 4.0], 2)[2..], [100.0, 100.0]);
        assert!(wilder(&[1.0, 2.0], 2).iter().all(|v| v.is_nan()));
        assert!(wilder(&[1.0, 2.0], 0).iter().all(|v| v.is_nan()));
    }
}
