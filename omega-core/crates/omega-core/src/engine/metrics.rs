//! Run metrics, exactly as defined in docs/engine.md ("Metrics"): plain left-to-right sums, NaN for
//! undefined values. Computed once after the bar loop.

use std::collections::BTreeMap;

use crate::config::HtfAnchor;
use crate::engine::result::TradeRecord;
use crate::market::htf::bin_of;
use crate::types::Timeframe;

/// The 365.25-day year (µs) of CAGR and of the trading-days-per-year figure.
const YEAR_US: f64 = 365.25 * 86400e6;

/// Everything the metrics need besides the trades and the equity curve.
#[derive(Clone, Copy, Debug)]
pub struct MetricInputs<'a> {
    pub initial_balance: f64,
    /// Open time of every bar (one per equity point): the trading day of each point.
    pub bar_open_us: &'a [i64],
    /// Open time of the first bar.
    pub first_open_us: i64,
    /// Close time of the last bar.
    pub last_close_us: i64,
    /// Bars with at least one open position after step 4.
    pub exposed_bars: usize,
    pub signals: u64,
    pub signals_rejected: u64,
    /// Signals rejected for want of free margin (also in `signals_rejected`).
    pub signals_rejected_margin: u64,
    /// Bars on which the stop-out closed the open positions.
    pub stop_outs: u64,
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

/// The equity at the end of each FX trading day.
#[derive(Clone, Debug, PartialEq)]
pub struct DailyEquity {
    /// The last equity point of each trading day that has bars, in time order.
    pub day_end: Vec<f64>,
    /// From the start of the first of those days to the end of the last (µs; 0 without bars).
    pub span_us: i64,
}

/// Day-end equities: the trading day of a bar is the D1 bin anchored at 17:00 New York (DST-aware)
/// that contains its open time, exactly as the HTF resampler bins bars for `new_york_1700`, and a
/// day's equity is its last bar's point. Days without bars (weekends, holidays) give no point.
/// Timestamps are strictly increasing (validated market), so a bin is computed once per day.
pub fn daily_equity(bar_open_us: &[i64], equity: &[f64]) -> DailyEquity {
    let mut day_end: Vec<f64> = Vec::new();
    let (mut first_start, mut day_close) = (0_i64, i64::MIN);
    for (&t, &e) in bar_open_us.iter().zip(equity) {
        match day_end.last_mut() {
            Some(last) if t < day_close => *last = e,
            _ => {
                let (start, end) = bin_of(t, Timeframe::D1, HtfAnchor::NewYork1700);
                if day_end.is_empty() {
                    first_start = start;
                }
                day_close = end;
                day_end.push(e);
            }
        }
    }
    let span_us = if day_end.is_empty() { 0 } else { day_close - first_start };
    DailyEquity { day_end, span_us }
}

/// Sharpe and Sortino of the daily returns (docs/engine.md "Metrics"): `r_1 = d_1 / initial − 1`,
/// `r_k = d_k / d_{k−1} − 1`, annualised with `sqrt(days / years spanned)`. NaN with fewer than two
/// days or an equity at or below zero (returns of a wiped-out account mean nothing), for Sharpe
/// when the returns do not vary, for Sortino when no day lost.
pub fn sharpe_sortino(initial: f64, daily: &DailyEquity) -> (f64, f64) {
    let days = daily.day_end.len();
    if days < 2 || initial <= 0.0 || daily.day_end.iter().any(|&d| d <= 0.0) {
        return (f64::NAN, f64::NAN);
    }
    let returns = || {
        let mut prev = initial;
        daily.day_end.iter().map(move |&d| {
            let r = d / prev - 1.0;
            prev = d;
            r
        })
    };
    let n = days as f64;
    let mut sum = 0.0;
    for r in returns() {
        sum += r;
    }
    let mean = sum / n;
    let (mut ss, mut down) = (0.0, 0.0);
    for r in returns() {
        let d = r - mean;
        ss += d * d;
        if r < 0.0 {
            down += r * r;
        }
    }
    let std = (ss / (n - 1.0)).sqrt();
    let downside_dev = (down / n).sqrt();
    let ann = (n / (daily.span_us as f64 / YEAR_US)).sqrt();
    let sharpe = if std == 0.0 { f64::NAN } else { mean / std * ann };
    let sortino = if downside_dev == 0.0 { f64::NAN } else { mean / downside_dev * ann };
    (sharpe, sortino)
}

/// Compound annual growth rate; NaN for spans under 30 days or a negative final equity.
pub fn cagr(final_equity: f64, initial: f64, first_open_us: i64, last_close_us: i64) -> f64 {
    let years = (last_close_us - first_open_us) as f64 / YEAR_US;
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
    let mut swap = 0.0;
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
        swap += t.swap;
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
    let (sharpe, sortino) = sharpe_sortino(m.initial_balance, &daily_equity(m.bar_open_us, equity));
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
    put("swap_total", swap);
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
    put("signals_rejected_margin", m.signals_rejected_margin as f64);
    put("stop_outs", m.stop_outs as f64);
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

    fn utc(y: i64, mo: u32, d: u32, h: i64) -> i64 {
        crate::market::session::days_from_civil(y, mo, d) * 86_400_000_000 + h * 3_600_000_000
    }

    /// The worked example of docs/engine.md "Metrics": four trading days around the weekend on which
    /// New York switches to daylight saving time (Sunday 2024-03-10).
    fn worked_example() -> (Vec<i64>, Vec<f64>) {
        let bars = [
            (utc(2024, 3, 7, 20), 100_200.0),  // Thu 15:00 EST: day ending Thu 17:00 NY
            (utc(2024, 3, 7, 21), 100_400.0),  // Thu 16:00 EST: same day, its last point
            (utc(2024, 3, 7, 22), 100_100.0),  // Thu 17:00 EST: the next day starts
            (utc(2024, 3, 8, 21), 99_800.0),   // Fri 16:00 EST; no bars over the weekend
            (utc(2024, 3, 10, 21), 99_900.0),  // Sun 17:00 EDT: Monday's day starts
            (utc(2024, 3, 11, 20), 100_300.0), // Mon 16:00 EDT
            (utc(2024, 3, 11, 21), 100_600.0), // Mon 17:00 EDT (16:00 in EST): Tuesday's day
        ];
        (bars.iter().map(|b| b.0).collect(), bars.iter().map(|b| b.1).collect())
    }

    #[test]
    fn daily_equity_at_new_york_1700_across_dst_and_a_weekend() {
        let (ts, eq) = worked_example();
        let daily = daily_equity(&ts, &eq);
        assert_eq!(daily.day_end, vec![100_400.0, 99_800.0, 100_300.0, 100_600.0]);
        // Wed 2024-03-06 22:00 UTC (17:00 EST) to Tue 2024-03-12 21:00 UTC (17:00 EDT): 143 h.
        assert_eq!(daily.span_us, 143 * 3_600_000_000);
        assert_eq!(daily_equity(&[], &[]), DailyEquity { day_end: vec![], span_us: 0 });
    }

    #[test]
    fn sharpe_sortino_of_daily_returns() {
        let (ts, eq) = worked_example();
        let (sharpe, sortino) = sharpe_sortino(100_000.0, &daily_equity(&ts, &eq));
        // Computed by hand (exact fractions, 40 digits) in docs/engine.md "Metrics".
        assert!((sharpe - 4.665_100_084_081_398).abs() < 1e-12, "{sharpe}");
        assert!((sortino - 7.893_483_776_540_382).abs() < 1e-12, "{sortino}");
        // The same in this file's operation order, bit for bit.
        let r = [
            100_400.0 / 100_000.0 - 1.0,
            99_800.0 / 100_400.0 - 1.0,
            100_300.0 / 99_800.0 - 1.0,
            100_600.0 / 100_300.0 - 1.0,
        ];
        let mean = (((r[0] + r[1]) + r[2]) + r[3]) / 4.0;
        let mut ss = 0.0_f64;
        for x in r {
            ss += (x - mean) * (x - mean);
        }
        let ann = (4.0_f64 / (143.0 * 3_600_000_000.0 / (365.25 * 86400e6))).sqrt();
        assert_eq!(sharpe, mean / (ss / 3.0).sqrt() * ann);
        assert_eq!(sortino, mean / (r[1] * r[1] / 4.0).sqrt() * ann);
    }

    #[test]
    fn sharpe_sortino_nan_rules() {
        let day = |k: i64| utc(2024, 1, 2, 12) + k * 86_400_000_000; // Tue, Wed, … at 07:00 EST
        let one_day = daily_equity(&[day(0), day(0) + 3_600_000_000], &[101.0, 102.0]);
        assert_eq!(one_day.day_end.len(), 1);
        let (sh, so) = sharpe_sortino(100.0, &one_day);
        assert!(sh.is_nan() && so.is_nan(), "fewer than two days");
        let flat = daily_equity(&[day(0), day(1), day(2)], &[100.0, 100.0, 100.0]);
        let (sh, so) = sharpe_sortino(100.0, &flat);
        assert!(sh.is_nan() && so.is_nan(), "no variation, no losing day");
        let rising = daily_equity(&[day(0), day(1), day(2)], &[101.0, 103.0, 104.0]);
        let (sh, so) = sharpe_sortino(100.0, &rising);
        assert!(sh.is_finite() && so.is_nan(), "no losing day: Sortino undefined");
        let wiped = daily_equity(&[day(0), day(1), day(2)], &[50.0, -10.0, -20.0]);
        let (sh, so) = sharpe_sortino(100.0, &wiped);
        assert!(sh.is_nan() && so.is_nan(), "equity at or below zero");
    }

    #[test]
    fn cagr_definition() {
        let year = 365.25 * 86400e6;
        assert!((cagr(121.0, 100.0, 0, (2.0 * year) as i64) - 0.1).abs() < 1e-12);
        assert!(cagr(121.0, 100.0, 0, 86_400_000_000).is_nan());
    }
}
