//! Run metrics, exactly as defined in docs/engine.md ("Metrics"): plain left-to-right sums, NaN for
//! undefined values. Computed once after the bar loop.

use std::collections::BTreeMap;

use crate::engine::result::TradeRecord;

/// Everything the metrics need besides the trades and the equity curve.
#[derive(Clone, Copy, Debug)]
pub struct MetricInputs {
    pub initial_balance: f64,
    /// Primary timeframe in minutes (annualisation).
    pub tf_minutes: u32,
    /// Open time of the first bar.
    pub first_open_us: i64,
    /// Close time of the last bar.
    pub last_close_us: i64,
    /// Bars with at least one open position after step 4.
    pub exposed_bars: usize,
    pub signals: u64,
    pub signals_rejected: u64,
}

/// Drawdown statistics of an equity curve, high-water mark starting at `initial`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Drawdown {
    pub max_drawdown: f64,
    pub max_drawdown_pct: f64,
    pub longest_drawdown_bars: usize,
}

/// `max(hwm − e)`, `max((hwm − e) / hwm) * 100` and the longest run of bars with `e < hwm`.
pub fn drawdown(equity: &[f64], initial: f64) -> Drawdown {
    let mut hwm = initial;
    let (mut max_dd, mut max_pct) = (0.0_f64, 0.0_f64);
    let (mut run, mut longest) = (0_usize, 0_usize);
    for &e in equity {
        if e > hwm {
            hwm = e;
        }
        let dd = hwm - e;
        if dd > max_dd {
            max_dd = dd;
        }
        let pct = dd / hwm;
        if pct > max_pct {
            max_pct = pct;
        }
        if e < hwm {
            run += 1;
            if run > longest {
                longest = run;
            }
        } else {
            run = 0;
        }
    }
    Drawdown { max_drawdown: max_dd, max_drawdown_pct: max_pct * 100.0, longest_drawdown_bars: longest }
}

/// Annualised Sharpe and Sortino ratios of the per-bar returns `e_k / e_{k−1} − 1`.
pub fn sharpe_sortino(equity: &[f64], tf_minutes: u32) -> (f64, f64) {
    let ann = (252.0 * 1440.0 / f64::from(tf_minutes)).sqrt();
    let count = equity.len().saturating_sub(1);
    if count == 0 {
        return (f64::NAN, f64::NAN);
    }
    let returns = || equity.windows(2).map(|w| w[1] / w[0] - 1.0);
    let mut sum = 0.0;
    for r in returns() {
        sum += r;
    }
    let mean = sum / count as f64;
    let sharpe = if count < 2 {
        f64::NAN
    } else {
        let mut ss = 0.0;
        for r in returns() {
            let d = r - mean;
            ss += d * d;
        }
        let std = (ss / (count - 1) as f64).sqrt();
        if std == 0.0 {
            f64::NAN
        } else {
            mean / std * ann
        }
    };
    let mut down = 0.0;
    let mut negatives = 0_usize;
    for r in returns() {
        if r < 0.0 {
            down += r * r;
            negatives += 1;
        }
    }
    let sortino = if negatives == 0 { f64::NAN } else { mean / (down / count as f64).sqrt() * ann };
    (sharpe, sortino)
}

/// Compound annual growth rate; NaN for spans under 30 days or a negative final equity.
pub fn cagr(final_equity: f64, initial: f64, first_open_us: i64, last_close_us: i64) -> f64 {
    let years = (last_close_us - first_open_us) as f64 / (365.25 * 86400e6);
    let ratio = final_equity / initial;
    if years < 30.0 / 365.25 || ratio < 0.0 {
        return f64::NAN;
    }
    ratio.powf(1.0 / years) - 1.0
}

/// All metrics of a run, keyed by name.
pub fn compute(trades: &[TradeRecord], equity: &[f64], m: &MetricInputs) -> BTreeMap<String, f64> {
    let nan = f64::NAN;
    let total = trades.len();
    let (mut wins, mut losses) = (0_usize, 0_usize);
    let (mut net, mut gross_profit, mut gross_loss, mut commission, mut sum_r) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let mut per_scenario: BTreeMap<String, f64> = BTreeMap::new();
    for t in trades {
        net += t.pnl;
        if t.pnl > 0.0 {
            wins += 1;
            gross_profit += t.pnl;
        } else if t.pnl < 0.0 {
            losses += 1;
            gross_loss += t.pnl;
        }
        commission += t.commission;
        sum_r += t.r_multiple;
        let key = match t.scenario {
            Some(k) => format!("trades_scenario_{k}"),
            None => "trades_scenario_none".to_string(),
        };
        *per_scenario.entry(key).or_insert(0.0) += 1.0;
    }
    let ratio = |a: f64, n: usize| if n == 0 { nan } else { a / n as f64 };
    let final_equity = equity.last().copied().unwrap_or(m.initial_balance);
    let dd = drawdown(equity, m.initial_balance);
    let (sharpe, sortino) = sharpe_sortino(equity, m.tf_minutes);
    let n = equity.len();

    let mut out = per_scenario;
    let mut put = |k: &str, v: f64| {
        out.insert(k.to_string(), v);
    };
    put("total_trades", total as f64);
    put("wins", wins as f64);
    put("losses", losses as f64);
    put("win_rate", ratio(wins as f64, total));
    put("net_profit", net);
    put("gross_profit", gross_profit);
    put("gross_loss", gross_loss);
    put("profit_factor", if losses == 0 { nan } else { gross_profit / -gross_loss });
    put("avg_win", ratio(gross_profit, wins));
    put("avg_loss", ratio(gross_loss, losses));
    put("expectancy", ratio(net, total));
    put("avg_r", ratio(sum_r, total));
    put("commission_total", commission);
    put("final_equity", final_equity);
    put("return_pct", (final_equity / m.initial_balance - 1.0) * 100.0);
    put("max_drawdown", dd.max_drawdown);
    put("max_drawdown_pct", dd.max_drawdown_pct);
    put("longest_drawdown_bars", dd.longest_drawdown_bars as f64);
    put("sharpe", sharpe);
    put("sortino", sortino);
    put("cagr", cagr(final_equity, m.initial_balance, m.first_open_us, m.last_close_us));
    put("exposure", ratio(m.exposed_bars as f64, n));
    put("signals", m.signals as f64);
    put("signals_rejected", m.signals_rejected as f64);
    put("bars_processed", n as f64);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawdown_known_curve() {
        // hwm: 100 110 110 110 120 120; dd: 0 0 10 5 0 30
        let d = drawdown(&[100.0, 110.0, 100.0, 105.0, 120.0, 90.0], 100.0);
        assert_eq!(d.max_drawdown, 30.0);
        assert_eq!(d.max_drawdown_pct, 30.0 / 120.0 * 100.0);
        assert_eq!(d.longest_drawdown_bars, 2);
        // Starting below the initial balance counts as drawdown.
        assert_eq!(drawdown(&[99.0, 98.0, 101.0], 100.0).longest_drawdown_bars, 2);
    }

    #[test]
    fn sharpe_sortino_definitions() {
        let e = [100.0, 110.0, 99.0, 108.9];
        let r = [110.0 / 100.0 - 1.0, 99.0 / 110.0 - 1.0, 108.9 / 99.0 - 1.0];
        let mean = (r[0] + r[1] + r[2]) / 3.0;
        let var: f64 =
            ((r[0] - mean) * (r[0] - mean) + (r[1] - mean) * (r[1] - mean) + (r[2] - mean) * (r[2] - mean)) / 2.0;
        let ann = (252.0_f64 * 1440.0 / 60.0).sqrt();
        let (sh, so) = sharpe_sortino(&e, 60);
        assert_eq!(sh, mean / var.sqrt() * ann);
        assert_eq!(so, mean / (r[1] * r[1] / 3.0).sqrt() * ann);
        let (sh, so) = sharpe_sortino(&[100.0, 101.0], 1);
        assert!(sh.is_nan() && so.is_nan());
        let (sh, _) = sharpe_sortino(&[100.0, 100.0, 100.0], 1);
        assert!(sh.is_nan());
    }

    #[test]
    fn cagr_definition() {
        let year = 365.25 * 86400e6;
        assert!((cagr(121.0, 100.0, 0, (2.0 * year) as i64) - 0.1).abs() < 1e-12);
        assert!(cagr(121.0, 100.0, 0, 86_400_000_000).is_nan());
    }
}
