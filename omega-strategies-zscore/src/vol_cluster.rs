//! Scenario 5's intraday volatility-cluster guard (spec §3.2): the feature tail up to the bar, a
//! deterministic 1-D k-means, rank names and the hysteresis rule. It is O(window) per call, so the
//! strategy runs it only for bars on which the scenario-2 conditions already hold, and memoises it.
//! Buffers are reused across calls (`Scratch`), so a call does not allocate once they have grown.

use omega_core::indicators::garch;

use crate::params::{Garch, VolFeature};

/// Cluster names by ascending rank; ranks from 5 on are `cluster_<rank>`.
const RANK_NAMES: [&str; 5] = ["low", "mid", "high", "very_high", "extreme"];

/// Convergence: every centre moved at most `ATOL + RTOL·|old|` (numpy `allclose`).
const ATOL: f64 = 1e-6;
const RTOL: f64 = 1e-4;
/// Iteration cap of the k-means.
const MAX_ITER: usize = 30;

/// Reusable buffers of the guard and the k-means.
#[derive(Debug, Default)]
pub struct Scratch {
    values: Vec<f64>,
    sorted: Vec<f64>,
    centers: Vec<f64>,
    new_centers: Vec<f64>,
    sums: Vec<f64>,
    counts: Vec<usize>,
    labels: Vec<usize>,
    order: Vec<usize>,
}

/// Why the guard blocked, or that it passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok,
    InsufficientPoints,
    InsufficientUnique,
    HysteresisBlock,
    LabelBlock,
}

/// Result of the guard at one bar (direction-independent).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Outcome {
    pub status: Status,
    /// Feature values available up to the bar (after dropping missing ones).
    pub sample_size: usize,
    /// Rank of the current cluster (0 = lowest), when clustering ran.
    pub rank: Option<usize>,
    /// Number of clusters used (`min(k, distinct values)`), when clustering ran.
    pub clusters: usize,
    /// The last tail value before any log transform (the "current" volatility).
    pub sigma: f64,
}

impl Outcome {
    /// Whether scenario 5 may fire.
    pub fn pass(&self) -> bool {
        self.status == Status::Ok
    }

    fn blocked(status: Status, sample_size: usize) -> Self {
        Outcome { status, sample_size, rank: None, clusters: 0, sigma: f64::NAN }
    }
}

/// Name of cluster rank `rank`, as the original labels it.
pub fn rank_name(rank: usize) -> std::borrow::Cow<'static, str> {
    match RANK_NAMES.get(rank) {
        Some(n) => std::borrow::Cow::Borrowed(n),
        None => std::borrow::Cow::Owned(format!("cluster_{rank}")),
    }
}

/// The rank a configured allowed name stands for (`None` if no rank has that name).
pub fn rank_of_name(name: &str) -> Option<usize> {
    if let Some(r) = RANK_NAMES.iter().position(|n| *n == name) {
        return Some(r);
    }
    let digits = name.strip_prefix("cluster_")?;
    let r: usize = digits.parse().ok()?;
    // Only the canonical spelling matches (`cluster_05` is not a name the original produces).
    (r >= RANK_NAMES.len() && r.to_string() == digits).then_some(r)
}

/// The guard's fixed configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct GuardConfig {
    pub feature: VolFeature,
    pub window: usize,
    pub k: usize,
    pub log_transform: bool,
    pub min_points: usize,
    pub garch_lookback: usize,
    pub hysteresis: usize,
    pub atr_length: usize,
    pub garch: Garch,
    /// Ranks admitted (from `intraday_vol_allowed`); empty = never pass.
    pub allowed_ranks: Vec<usize>,
}

impl GuardConfig {
    /// Evaluate the guard at bar `i`. `closes` are the primary bid closes, `atr` the primary bid
    /// ATR(atr_length) series (read only for `atr_points`).
    pub fn evaluate(&self, i: usize, closes: &[f64], atr: &[f64], s: &mut Scratch) -> Outcome {
        // 1–2. Feature values up to bar i; keep the last `window` of them in `s.values`.
        let window = self.window.max(1);
        let sample_size = match self.feature {
            VolFeature::AtrPoints => {
                // Wilder ATR of finite bars is defined from index atr_length − 1 on (docs/indicators.md),
                // so the values up to bar i are atr[first..=i]: count i − atr_length + 2, read in O(window).
                let end = (i + 1).min(atr.len());
                let first = self.atr_length.saturating_sub(1);
                s.values.clear();
                if end <= first {
                    0
                } else {
                    s.values.extend(
                        atr[end.saturating_sub(window).max(first)..end].iter().copied().filter(|v| v.is_finite()),
                    );
                    end - first
                }
            }
            VolFeature::GarchForecast => {
                let end = (i + 1).min(closes.len());
                let start = end.saturating_sub(self.garch_lookback.max(1));
                let sigma = garch::sigma(&closes[start..end], &self.garch.key_params());
                tail_of_finite(&sigma, window, &mut s.values)
            }
        };
        if sample_size < self.min_points.max(1) {
            return Outcome::blocked(Status::InsufficientPoints, sample_size);
        }
        let k = self.k.max(1);
        if s.values.len() < k {
            return Outcome::blocked(Status::InsufficientUnique, sample_size);
        }
        let sigma = s.values.last().copied().unwrap_or(f64::NAN);
        // 3. Optional log transform.
        if self.log_transform {
            for v in s.values.iter_mut() {
                *v = (if *v < 1e-12 { 1e-12 } else { *v }).ln();
            }
        }
        // 4–5. Cluster and rank.
        let clusters = kmeans_1d(k, s);
        let Some(&current) = s.labels.last() else {
            return Outcome::blocked(Status::InsufficientUnique, sample_size);
        };
        rank_centers(clusters, s);
        let rank = s.order.iter().position(|&c| c == current).unwrap_or(current);
        let out = Outcome { status: Status::Ok, sample_size, rank: Some(rank), clusters, sigma };
        // 6. Hysteresis: the last h labels of this clustering equal the current one.
        let h = self.hysteresis;
        if h > 1 && (s.labels.len() < h || s.labels[s.labels.len() - h..].iter().any(|&l| l != current)) {
            return Outcome { status: Status::HysteresisBlock, ..out };
        }
        // 7. Allowed names.
        if !self.allowed_ranks.contains(&rank) {
            return Outcome { status: Status::LabelBlock, ..out };
        }
        out
    }
}

/// Copy the last `window` finite values of `x` into `out`, in order; return how many finite values
/// `x` has in total.
fn tail_of_finite(x: &[f64], window: usize, out: &mut Vec<f64>) -> usize {
    out.clear();
    let total = x.iter().filter(|v| v.is_finite()).count();
    let skip = total.saturating_sub(window);
    out.extend(x.iter().copied().filter(|v| v.is_finite()).skip(skip));
    total
}

/// Left-to-right mean.
fn mean(x: &[f64]) -> f64 {
    let mut acc = 0.0;
    for &v in x {
        acc += v;
    }
    acc / x.len() as f64
}

/// numpy's linear quantile of sorted values at `q` (`_lerp` with its `t >= 0.5` branch).
fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    let h = (n - 1) as f64 * q;
    let lo_f = h.floor();
    let lo = (lo_f as usize).min(n - 1);
    let hi = (lo + 1).min(n - 1);
    let t = h - lo_f;
    let (a, b) = (sorted[lo], sorted[hi]);
    let d = b - a;
    if t >= 0.5 {
        b - d * (1.0 - t)
    } else {
        a + d * t
    }
}

/// Index of the nearest centre (ties → lowest index).
#[inline]
fn nearest(v: f64, centers: &[f64]) -> usize {
    let mut best = 0;
    let mut best_d = (v - centers[0]).abs();
    for (j, &c) in centers.iter().enumerate().skip(1) {
        let d = (v - c).abs();
        if d < best_d {
            best = j;
            best_d = d;
        }
    }
    best
}

fn assign(values: &[f64], centers: &[f64], labels: &mut Vec<usize>) {
    labels.clear();
    labels.extend(values.iter().map(|&v| nearest(v, centers)));
}

/// Deterministic 1-D k-means of `s.values` (spec §3.2 step 4). Leaves the centres in
/// `s.centers` and the labels in `s.labels`; returns the number of clusters used.
fn kmeans_1d(k: usize, s: &mut Scratch) -> usize {
    kmeans_1d_traced(k, s).0
}

/// [`kmeans_1d`], also telling whether it converged within the iteration cap.
fn kmeans_1d_traced(k: usize, s: &mut Scratch) -> (usize, bool) {
    let values = &s.values;
    s.sorted.clear();
    s.sorted.extend_from_slice(values);
    s.sorted.sort_by(f64::total_cmp);
    let distinct = 1 + s.sorted.windows(2).filter(|w| w[0] != w[1]).count();
    let k = k.min(distinct).max(1);
    s.labels.clear();
    s.centers.clear();
    if k == 1 {
        s.centers.push(mean(values));
        s.labels.resize(values.len(), 0);
        return (1, true);
    }
    // numpy builds the quantile levels as j · (1/(k+1)), not j/(k+1): for k = 4 they differ in the
    // last bit (0.6000000000000001 vs 0.6), and so would the initial centres.
    let step = 1.0 / (k + 1) as f64;
    for j in 1..=k {
        s.centers.push(quantile_sorted(&s.sorted, j as f64 * step));
    }
    let mut converged = false;
    for _ in 0..MAX_ITER {
        assign(values, &s.centers, &mut s.labels);
        s.sums.clear();
        s.sums.resize(k, 0.0);
        s.counts.clear();
        s.counts.resize(k, 0);
        for (&v, &l) in values.iter().zip(&s.labels) {
            s.sums[l] += v;
            s.counts[l] += 1;
        }
        s.new_centers.clear();
        s.new_centers
            .extend((0..k).map(|j| if s.counts[j] > 0 { s.sums[j] / s.counts[j] as f64 } else { s.centers[j] }));
        let close =
            s.new_centers.iter().zip(&s.centers).all(|(&new, &old)| (new - old).abs() <= ATOL + RTOL * old.abs());
        std::mem::swap(&mut s.centers, &mut s.new_centers);
        if close {
            converged = true;
            break;
        }
    }
    if !converged {
        assign(values, &s.centers, &mut s.labels);
    }
    (k, converged)
}

/// `s.order[rank]` = index of the centre with that rank (ascending, ties by index).
fn rank_centers(k: usize, s: &mut Scratch) {
    s.order.clear();
    s.order.extend(0..k);
    let centers = &s.centers;
    s.order.sort_by(|&a, &b| centers[a].total_cmp(&centers[b]).then(a.cmp(&b)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(values: &[f64], k: usize) -> (usize, Vec<f64>, Vec<usize>) {
        let mut s = Scratch { values: values.to_vec(), ..Scratch::default() };
        let used = kmeans_1d(k, &mut s);
        (used, s.centers.clone(), s.labels.clone())
    }

    fn config(feature: VolFeature) -> GuardConfig {
        GuardConfig {
            feature,
            window: 20,
            k: 3,
            log_transform: false,
            min_points: 5,
            garch_lookback: 500,
            hysteresis: 0,
            atr_length: 3,
            garch: Garch {
                alpha: 0.05,
                beta: 0.9,
                omega: None,
                use_log_returns: true,
                scale: 100.0,
                min_periods: 2,
                sigma_floor: 1e-6,
            },
            allowed_ranks: vec![0, 1],
        }
    }

    #[test]
    fn numpy_quantiles() {
        let s = [1.0, 2.0, 4.0, 8.0];
        // h = 3q. q = .25: h = .75, t ≥ .5 → b − d·(1 − t); q = .5: h = 1.5 → b − d·.5; q = .75: h = 2.25 → a + d·t
        assert_eq!(quantile_sorted(&s, 0.25), 2.0 - 1.0 * (1.0 - 0.75));
        assert_eq!(quantile_sorted(&s, 0.5), 4.0 - 2.0 * 0.5);
        assert_eq!(quantile_sorted(&s, 0.75), 4.0 + 4.0 * 0.25);
        assert_eq!(quantile_sorted(&[5.0], 0.3), 5.0);
    }

    #[test]
    fn three_well_separated_groups() {
        let v = [1.0, 1.1, 0.9, 5.0, 5.2, 4.8, 10.0, 9.9, 10.1, 1.05];
        let (k, c, l) = run(&v, 3);
        assert_eq!(k, 3);
        assert_eq!(l, vec![0, 0, 0, 1, 1, 1, 2, 2, 2, 0]);
        assert!((c[0] - 1.0125).abs() < 1e-12 && (c[1] - 5.0).abs() < 1e-12 && (c[2] - 10.0).abs() < 1e-12);
    }

    #[test]
    fn fewer_distinct_values_than_k() {
        let (k, c, l) = run(&[2.0, 2.0, 3.0, 3.0, 2.0], 4);
        assert_eq!(k, 2);
        assert_eq!(l, vec![0, 0, 1, 1, 0]);
        assert_eq!(c, vec![2.0, 3.0]);
        let (k, c, l) = run(&[7.0, 7.0, 7.0], 3);
        assert_eq!((k, c, l), (1, vec![7.0], vec![0, 0, 0]));
    }

    #[test]
    fn labels_are_those_of_the_converging_iteration() {
        // Both initial centres are 1006.5 (quantiles at 1/3 and 2/3 of the sorted values), so every
        // value goes to centre 0 (ties → lowest index). Centre 0 moves to the mean, 1006.515, within
        // the tolerance 1e-6 + 1e-4·1006.5: converged at once, and the labels kept are those from the
        // old centres, although relabelling with the new ones would put three values in cluster 1.
        let v = [1006.5, 1006.5, 1006.42, 1006.64];
        let (k, c, l) = run(&v, 2);
        assert_eq!(k, 2);
        assert_eq!(l, vec![0, 0, 0, 0]);
        assert_eq!(c, vec![(((1006.5 + 1006.5) + 1006.42) + 1006.64) / 4.0, 1006.5]);
        let mut relabelled = Vec::new();
        assign(&v, &c, &mut relabelled);
        assert_eq!(relabelled, vec![1, 1, 1, 0]);
        // Through the guard: the current label 0 has the higher centre, so it ranks "mid".
        let g = GuardConfig { min_points: 1, k: 2, allowed_ranks: vec![1], ..config(VolFeature::AtrPoints) };
        let atr = [f64::NAN, f64::NAN, 1006.5, 1006.5, 1006.42, 1006.64];
        let o = g.evaluate(5, &[], &atr, &mut Scratch::default());
        assert_eq!((o.status, o.rank, o.clusters), (Status::Ok, Some(1), 2));
    }

    #[test]
    fn capped_runs_relabel_with_the_final_centres() {
        // Cubes of 0, 2, 4, …, 398 with k = 6 do not converge within 30 iterations.
        let v: Vec<f64> = (0..200).map(|i| f64::from(2 * i).powi(3)).collect();
        let mut s = Scratch { values: v.clone(), ..Scratch::default() };
        let (k, converged) = kmeans_1d_traced(6, &mut s);
        assert_eq!((k, converged), (6, false));
        let mut again = Vec::new();
        assign(&v, &s.centers, &mut again);
        assert_eq!(again, s.labels, "after the cap the labels are those of the final centres");
    }

    #[test]
    fn rank_names_round_trip() {
        for r in 0..9 {
            assert_eq!(rank_of_name(&rank_name(r)), Some(r));
        }
        assert_eq!(rank_of_name("cluster_05"), None);
        assert_eq!(rank_of_name("cluster_2"), None);
        assert_eq!(rank_of_name("medium"), None);
    }

    #[test]
    fn atr_feature_counts_and_blocks() {
        let mut s = Scratch::default();
        let atr: Vec<f64> = [f64::NAN, f64::NAN].into_iter().chain((0..30).map(|i| 1.0 + (i % 3) as f64)).collect();
        let g = config(VolFeature::AtrPoints);
        // i = 5: values at 2..=5 → 4 < min_points 5
        let o = g.evaluate(5, &[], &atr, &mut s);
        assert_eq!((o.status, o.sample_size), (Status::InsufficientPoints, 4));
        // i = 30: the last value is 1 + (28 % 3) = 2 → rank 1 ("mid") → allowed
        let o = g.evaluate(30, &[], &atr, &mut s);
        assert_eq!((o.status, o.sample_size, o.rank, o.clusters), (Status::Ok, 29, Some(1), 3));
        assert_eq!(o.sigma, 2.0);
        // i = 31: 1 + 29 % 3 = 3 → "high" → blocked by the label
        let o = g.evaluate(31, &[], &atr, &mut s);
        assert_eq!((o.status, o.rank), (Status::LabelBlock, Some(2)));
        // hysteresis 2: the previous value had another label
        let h = GuardConfig { hysteresis: 2, ..g.clone() };
        assert_eq!(h.evaluate(30, &[], &atr, &mut s).status, Status::HysteresisBlock);
        // too few values for k
        let big_k = GuardConfig { k: 40, min_points: 1, ..g.clone() };
        assert_eq!(big_k.evaluate(30, &[], &atr, &mut s).status, Status::InsufficientUnique);
        // an empty allowed list never passes
        let none = GuardConfig { allowed_ranks: vec![], ..g };
        assert_eq!(none.evaluate(30, &[], &atr, &mut s).status, Status::LabelBlock);
    }

    #[test]
    fn garch_feature_uses_a_restarted_window() {
        let closes: Vec<f64> =
            (0..60).map(|i| 1.1 + 0.001 * ((i * 7 % 13) as f64) - 0.0005 * ((i % 4) as f64)).collect();
        let mut g = config(VolFeature::GarchForecast);
        g.garch_lookback = 20;
        let mut s = Scratch::default();
        let o = g.evaluate(50, &closes, &[], &mut s);
        // count = min(G, i + 1) − 1 − min_periods = 20 − 1 − 2
        assert_eq!(o.sample_size, 17);
        let sig = garch::sigma(&closes[31..51], &g.garch.key_params());
        assert_eq!(o.sigma, sig[19]);
        // early bar: window shorter than G
        let o = g.evaluate(6, &closes, &[], &mut s);
        assert_eq!((o.status, o.sample_size), (Status::InsufficientPoints, 4));
        // unavailable GARCH: nothing to cluster
        g.garch.alpha = 0.5;
        g.garch.beta = 0.5;
        assert_eq!(g.evaluate(50, &closes, &[], &mut s).sample_size, 0);
    }
}
