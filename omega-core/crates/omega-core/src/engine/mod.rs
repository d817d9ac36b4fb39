//! The backtest engine: one pass over the primary bars in the order of docs/engine.md (SL/TP exits →
//! `manage_position` → entry gate → `evaluate` and fill → equity point), then the end-of-data close
//! and the metrics. The loop reads market columns as slices taken once, and allocates only when a
//! trade opens or closes. The Python reference `omega.reference.engine` implements the same text
//! with the same operation order, so both produce bit-identical results.

pub mod conversion;
pub mod costs;
pub mod exits;
pub mod gates;
pub mod margin;
pub mod metrics;
pub mod portfolio;
pub mod result;
pub mod rng;
pub mod scan;
pub mod sizing;
pub mod swap;

#[cfg(test)]
mod tests;

use std::panic::{catch_unwind, AssertUnwindSafe};

pub use conversion::{Conversion, Rate};
pub use result::{EngineResult, ExitReason, TradeRecord};
pub use rng::SplitMix64;
pub use scan::{scan_signals, ScanRow};

use crate::config::{FillModel, StrategyConfig};
use crate::error::{Result, StrategyError};
use crate::indicators::IndicatorCache;
use crate::instruments::{self, Instrument};
use crate::market::MarketData;
use crate::strategy::RustStrategy;
use crate::types::{CandleData, DataSlice, Direction, PositionAction, SignalParts, TradeSignal};

use costs::{entry_with_slippage, exit_with_slippage, Costs};
use exits::{check_exit, ExitCandle};
use gates::{EntryGate, GateState};
use margin::Margin;
use metrics::MetricInputs;
use portfolio::{Entry, Portfolio};
use sizing::Sizer;
use swap::Swaps;

/// Run one backtest of an already initialised and prepared `strategy` over `market`.
///
/// Errors: E4002 for an invalid config (or a config timeframe that is not the market's), E4004 for
/// empty or ragged market columns, E4006 when the strategy returns a non-finite signal or action
/// value, any error the strategy reports through `take_error`, and E4008 if the strategy panics
/// in-process.
pub fn run_backtest(
    strategy: &dyn RustStrategy,
    cache: &IndicatorCache<'_>,
    market: &MarketData,
    config: &StrategyConfig,
) -> Result<EngineResult> {
    run_backtest_with_rates(strategy, cache, market, config, &[])
}

/// [`run_backtest`] with conversion bars (`rates`, each named by its `symbol`, e.g. `USDJPY`) for
/// instruments whose quote currency is neither the account currency nor convertible through the
/// traded pair itself (docs/engine.md "Account currency"). E4002 for an unknown instrument without
/// a spec, E4004 when a needed conversion pair is missing or unusable.
pub fn run_backtest_with_rates(
    strategy: &dyn RustStrategy,
    cache: &IndicatorCache<'_>,
    market: &MarketData,
    config: &StrategyConfig,
    rates: &[MarketData],
) -> Result<EngineResult> {
    check_inputs(market, config)?;
    let instrument = instruments::resolve(&config.symbol, &config.engine.symbol_spec)?;
    let conversion = Conversion::resolve(&config.engine, &instrument, market, rates)?;
    match catch_unwind(AssertUnwindSafe(|| run_loop(strategy, cache, market, config, &instrument, &conversion))) {
        Ok(r) => r,
        Err(payload) => Err(panic_error(strategy, payload)),
    }
}

/// What a backtest and a scan check before the first bar: a valid config whose timeframe is the
/// market's, and a non-empty market with equal column lengths.
pub(crate) fn check_inputs(market: &MarketData, config: &StrategyConfig) -> Result<()> {
    config.validate()?;
    let tf = config.primary_timeframe()?;
    if tf != market.timeframe {
        return Err(StrategyError::param(
            "timeframe",
            format!("config timeframe {tf} does not match the market's primary timeframe {}", market.timeframe),
        ));
    }
    let n = market.len();
    if n == 0 {
        return Err(StrategyError::data("no bars (empty data)"));
    }
    if let Some(bad) = market.price_columns().iter().position(|c| c.len() != n) {
        return Err(StrategyError::data(format!(
            "ragged columns: '{}' has {} rows, timestamp_us has {n}",
            crate::market::PRICE_COLUMNS[bad],
            market.price_columns()[bad].len()
        )));
    }
    Ok(())
}

/// E4008 for a panic caught while running `strategy` in-process.
pub(crate) fn panic_error(strategy: &dyn RustStrategy, payload: Box<dyn std::any::Any + Send>) -> StrategyError {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic payload".to_string());
    StrategyError::StrategyPanicked { strategy: strategy.name().to_string(), message }
}

/// Market columns of one run, cut to the same length once.
pub(crate) struct Columns<'a> {
    ts: &'a [i64],
    bid: [&'a [f64]; 5],
    ask: [&'a [f64]; 5],
}

impl<'a> Columns<'a> {
    pub(crate) fn new(m: &'a MarketData, n: usize) -> Self {
        let c = |s: &'a [f64]| &s[..n];
        Columns {
            ts: &m.timestamp_us[..n],
            bid: [c(&m.bid_open), c(&m.bid_high), c(&m.bid_low), c(&m.bid_close), c(&m.bid_volume)],
            ask: [c(&m.ask_open), c(&m.ask_high), c(&m.ask_low), c(&m.ask_close), c(&m.ask_volume)],
        }
    }

    #[inline]
    fn candle(side: &[&[f64]; 5], ts: i64, i: usize) -> CandleData {
        CandleData {
            timestamp_us: ts,
            open: side[0][i],
            high: side[1][i],
            low: side[2][i],
            close: side[3][i],
            volume: side[4][i],
        }
    }

    #[inline]
    pub(crate) fn slice<'s>(&self, symbol: &'s str, tf: crate::types::Timeframe, i: usize) -> DataSlice<'s> {
        let ts = self.ts[i];
        DataSlice {
            symbol,
            timeframe: tf,
            index: i,
            timestamp_us: ts,
            bid: Self::candle(&self.bid, ts, i),
            ask: Self::candle(&self.ask, ts, i),
        }
    }

    /// Exit-side candle (bid for longs, ask for shorts).
    #[inline]
    fn exit_candle(&self, d: Direction, i: usize) -> ExitCandle {
        let s = match d {
            Direction::Long => &self.bid,
            Direction::Short => &self.ask,
        };
        ExitCandle { open: s[0][i], high: s[1][i], low: s[2][i] }
    }

    /// Entry-side open (ask open for longs, bid open for shorts): the `next_open` fill.
    #[inline]
    fn entry_open(&self, d: Direction, i: usize) -> f64 {
        match d {
            Direction::Long => self.ask[0][i],
            Direction::Short => self.bid[0][i],
        }
    }

    /// Exit-side open (bid open for longs, ask open for shorts): marks at a bar's open.
    #[inline]
    fn exit_open(&self, d: Direction, i: usize) -> f64 {
        match d {
            Direction::Long => self.bid[0][i],
            Direction::Short => self.ask[0][i],
        }
    }

    /// Worst exit-side price of bar `i` (bid low for longs, ask high for shorts): the stop-out price.
    #[inline]
    fn worst(&self, d: Direction, i: usize) -> f64 {
        match d {
            Direction::Long => self.bid[2][i],
            Direction::Short => self.ask[1][i],
        }
    }

    /// Exit-side close (bid close for longs, ask close for shorts).
    #[inline]
    fn exit_close(&self, d: Direction, i: usize) -> f64 {
        match d {
            Direction::Long => self.bid[3][i],
            Direction::Short => self.ask[3][i],
        }
    }
}

/// Opening a position from a signal (docs/engine.md step 4 and "Fill model").
struct Fill<'c> {
    costs: &'c Costs,
    sizer: &'c Sizer,
    margin: Option<Margin>,
    pip: f64,
}

/// What became of a signal at its fill.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Opened {
    Yes,
    /// Stop on the wrong side of the entry, or zero lots.
    Rejected,
    /// The position's margin exceeds the free margin.
    NoMargin,
}

/// Equity at one instant: `balance + Σ unrealised` of the open positions (summed from 0 in opening
/// order) marked at `mark(direction)` and `rate`.
fn equity_at(pf: &Portfolio, costs: &Costs, rate: Rate, mark: impl Fn(Direction) -> f64) -> f64 {
    let mut unreal = 0.0;
    for p in &pf.open {
        unreal += p.unrealised(mark(p.view.direction), costs, rate);
    }
    pf.balance + unreal
}

impl Fill<'_> {
    /// Open `s` at `entry` (before slippage) on bar `i` (open time `t`) at the conversion `rate`
    /// of the fill, with `equity` the account's equity at the fill (free-margin check). Sizing
    /// needs the filled price: the draw is taken on a copy of the RNG, committed only when the
    /// position opens, so a rejected signal leaves the RNG untouched.
    #[allow(clippy::too_many_arguments)]
    fn try_open(
        &self,
        pf: &mut Portfolio,
        rng: &mut SplitMix64,
        s: &SignalParts<'_>,
        entry: f64,
        i: usize,
        t: i64,
        rate: Rate,
        equity: impl FnOnce(&Portfolio) -> f64,
    ) -> Opened {
        let sl_ok = match s.direction {
            Direction::Long => s.stop_loss < entry,
            Direction::Short => s.stop_loss > entry,
        };
        if !sl_ok {
            return Opened::Rejected;
        }
        let mut draw = *rng;
        let slip_pips = self.costs.slip_pips(draw.next_f64());
        let fill = entry_with_slippage(s.direction, entry, slip_pips * self.pip);
        let Some(lots) = self.sizer.lots(fill, s.stop_loss, rate.hi) else { return Opened::Rejected };
        let mut margin = 0.0;
        if let Some(m) = &self.margin {
            margin = m.required(fill, lots, rate.hi);
            if !Margin::fits(margin, equity(pf), pf.used_margin()) {
                return Opened::NoMargin;
            }
        }
        *rng = draw;
        pf.open(
            &Entry {
                direction: s.direction,
                fill,
                stop_loss: s.stop_loss,
                take_profit: s.take_profit,
                lots,
                slippage_pips: slip_pips,
                margin,
                index: i,
                time_us: t,
                scenario: s.scenario,
                reason: s.reason,
                tags: s.tags,
            },
            rate,
        );
        Opened::Yes
    }
}

pub(crate) fn invalid_signal(strategy: &dyn RustStrategy, i: usize, what: String) -> StrategyError {
    StrategyError::InvalidSignal { reason: format!("strategy '{}' at bar {i}: {what}", strategy.name()) }
}

/// Whether bar `i` (allowed by the gate) is evaluated: always, unless the strategy answers
/// `next_candidate`, whose answer also moves `next_eval` past the bars that cannot signal.
#[inline]
pub(crate) fn candidate(
    strategy: &dyn RustStrategy,
    cache: &IndicatorCache<'_>,
    caps: crate::strategy::Capabilities,
    i: usize,
    next_eval: &mut usize,
) -> Result<bool> {
    if !caps.next_candidate {
        return Ok(true);
    }
    let next = strategy.next_candidate(i, cache);
    if let Some(e) = strategy.take_error() {
        return Err(e);
    }
    *next_eval = next.unwrap_or(usize::MAX);
    Ok(*next_eval <= i)
}

fn run_loop(
    strategy: &dyn RustStrategy,
    cache: &IndicatorCache<'_>,
    market: &MarketData,
    config: &StrategyConfig,
    instrument: &Instrument,
    fx: &Conversion<'_>,
) -> Result<EngineResult> {
    let engine = &config.engine;
    let symbol = config.symbol.as_str();
    let tf = market.timeframe;
    let tf_us = tf.duration_us();
    let n = market.len();
    let pip = instrument.pip_size;
    let costs = Costs::from_config(engine, instrument);
    let sizer = Sizer::from_config(engine, instrument);
    let gate = EntryGate::from_config(engine)?;
    let buf = engine.costs.pip_buffer_factor * pip;
    let cols = Columns::new(market, n);

    let mut rng = SplitMix64::new(engine.seed);
    let mut pf = Portfolio::new(symbol, engine.initial_balance, costs, gate.max_open_positions);
    let mut equity: Vec<f64> = Vec::with_capacity(n);
    let mut last_signal: Option<(usize, i64)> = None;
    let (mut signals, mut rejected, mut exposed) = (0_u64, 0_u64, 0_usize);
    let next_open = engine.fill == FillModel::NextOpen;
    // `next_open`: the signal of bar i − 1, filled at bar i's open.
    let mut pending: Option<TradeSignal> = None;
    let margin = Margin::from_config(engine, instrument);
    let fill = Fill { costs: &costs, sizer: &sizer, margin, pip };
    let mut swaps = Swaps::from_config(engine, instrument, cols.ts[0]);
    let (mut rejected_margin, mut stop_outs) = (0_u64, 0_u64);
    // Counts a signal that did not open (both kinds count in `signals_rejected`).
    let mut count = |o: Opened, rejected: &mut u64| {
        if o != Opened::Yes {
            *rejected += 1;
        }
        if o == Opened::NoMargin {
            rejected_margin += 1;
        }
    };
    // What the strategy lets the loop skip (docs/abi.md "Capabilities"); `next_eval` is the first bar
    // its `next_candidate` allows evaluating (bars before it cannot signal).
    let caps = strategy.capabilities();
    let mut next_eval = 0_usize;

    for i in 0..n {
        crate::interrupt::check_bar(i)?;
        let t = cols.ts[i];
        let close_t = t + tf_us;
        let mut closed_this_bar = false;

        // Rollover: swaps of the rollovers since the previous bar's open, on the positions held
        // after that bar, at the rate of this bar's open.
        if let Some(sw) = swaps.as_mut() {
            let nights = sw.nights_until(t);
            if nights > 0.0 && !pf.open.is_empty() {
                let rate = fx.at_open(i)?;
                for k in 0..pf.open.len() {
                    let p = &pf.open[k].view;
                    let q = sw.quote_amount(p.direction, cols.exit_close(p.direction, i - 1), p.lot_size, nights);
                    pf.charge_swap(k, rate.convert(q));
                }
            }
        }

        // 0. `next_open`: fill the previous bar's signal at this bar's entry-side open.
        if let Some(sig) = pending.take() {
            let s = sig.parts();
            let entry = cols.entry_open(s.direction, i);
            let rate = fx.at_open(i)?;
            let equity = |pf: &Portfolio| equity_at(pf, &costs, rate, |d| cols.exit_open(d, i));
            count(fill.try_open(&mut pf, &mut rng, &s, entry, i, t, rate, equity), &mut rejected);
        }

        if !pf.open.is_empty() {
            // 1. Intrabar SL/TP of every open position, in opening order: those opened before bar i,
            //    and under `next_open` the one filled at this bar's open (its own range counts).
            let mut k = 0;
            while k < pf.open.len() {
                let p = &pf.open[k].view;
                debug_assert!(p.entry_index < i || (next_open && p.entry_index == i));
                let d = p.direction;
                match check_exit(d, p.stop_loss, p.take_profit, buf, cols.exit_candle(d, i)) {
                    Some((base, why)) => {
                        let slip_pips = costs.slip_pips(rng.next_f64());
                        let rate = fx.at_open(i)?;
                        pf.close(k, exit_with_slippage(d, base, slip_pips * pip), slip_pips, i, t, why, rate);
                        closed_this_bar = true;
                    }
                    None => k += 1,
                }
            }

            // 1b. Stop-out: the margin level at the worst exit-side price of the bar.
            if let Some(m) = &fill.margin {
                if !pf.open.is_empty() {
                    let rate = fx.at_open(i)?;
                    let worst = equity_at(&pf, &costs, rate, |d| cols.worst(d, i));
                    if m.stopped_out(worst, pf.used_margin()) {
                        stop_outs += 1;
                        while !pf.open.is_empty() {
                            let d = pf.open[0].view.direction;
                            let slip_pips = costs.slip_pips(rng.next_f64());
                            let price = exit_with_slippage(d, cols.worst(d, i), slip_pips * pip);
                            pf.close(0, price, slip_pips, i, t, ExitReason::StopOut, rate);
                        }
                        closed_this_bar = true;
                    }
                }
            }

            // 2. manage_position for every still-open position opened before bar i.
            if caps.manages_positions && pf.open.iter().any(|p| p.view.entry_index < i) {
                let slice = cols.slice(symbol, tf, i);
                let rate = fx.at_close(i)?;
                let mut k = 0;
                while k < pf.open.len() {
                    if pf.open[k].view.entry_index == i {
                        k += 1;
                        continue;
                    }
                    let d = pf.open[k].view.direction;
                    let mark = cols.exit_close(d, i);
                    let unreal = pf.open[k].unrealised(mark, &costs, rate);
                    let view = &mut pf.open[k].view;
                    view.bars_held = i - view.entry_index;
                    view.pnl_pips = (mark - view.entry_price) * d.sign() / pip;
                    view.pnl_usd = unreal;
                    let action = strategy.manage_position(&pf.open[k].view, &slice);
                    if let Some(e) = strategy.take_error() {
                        return Err(e);
                    }
                    match action {
                        PositionAction::Hold => k += 1,
                        PositionAction::ModifyStopLoss { new_sl } => {
                            if !new_sl.is_finite() {
                                return Err(invalid_signal(strategy, i, format!("ModifyStopLoss to {new_sl}")));
                            }
                            pf.open[k].view.stop_loss = new_sl;
                            k += 1;
                        }
                        PositionAction::ModifyTakeProfit { new_tp } => {
                            if !new_tp.is_finite() {
                                return Err(invalid_signal(strategy, i, format!("ModifyTakeProfit to {new_tp}")));
                            }
                            pf.open[k].view.take_profit = Some(new_tp);
                            k += 1;
                        }
                        PositionAction::Close { reason } => {
                            let why = if reason == "timeout" { ExitReason::Timeout } else { ExitReason::StrategyClose };
                            let slip_pips = costs.slip_pips(rng.next_f64());
                            pf.close(k, exit_with_slippage(d, mark, slip_pips * pip), slip_pips, i, t, why, rate);
                            closed_this_bar = true;
                        }
                    }
                }
            }
        }

        // 3. Entry gate.
        let state = GateState {
            index: i,
            open_time_us: t,
            close_time_us: close_t,
            open_positions: pf.open.len(),
            closed_this_bar,
            last_signal,
            last_exit: pf.last_exit_bar.map(|k| (k, cols.ts[k] + tf_us)),
        };
        if i >= next_eval && gate.allows(&state) && candidate(strategy, cache, caps, i, &mut next_eval)? {
            // 4. evaluate → optional signal → fill.
            let slice = cols.slice(symbol, tf, i);
            let signal = strategy.evaluate(&slice, cache);
            if let Some(e) = strategy.take_error() {
                return Err(e);
            }
            if let Some(sig) = signal {
                signals += 1;
                last_signal = Some((i, close_t));
                let s = sig.parts();
                if !s.entry_price.is_finite()
                    || !s.stop_loss.is_finite()
                    || s.take_profit.is_some_and(|v| !v.is_finite())
                {
                    return Err(invalid_signal(
                        strategy,
                        i,
                        format!(
                            "non-finite {} signal (entry {}, stop_loss {}, take_profit {:?})",
                            s.direction.as_str(),
                            s.entry_price,
                            s.stop_loss,
                            s.take_profit
                        ),
                    ));
                }
                if next_open {
                    // Filled at the next bar's open; a signal on the last bar has none (rejected).
                    if i + 1 < n {
                        pending = Some(sig);
                    } else {
                        rejected += 1;
                    }
                } else {
                    let rate = fx.at_close(i)?;
                    let equity = |pf: &Portfolio| equity_at(pf, &costs, rate, |d| cols.exit_close(d, i));
                    count(fill.try_open(&mut pf, &mut rng, &s, s.entry_price, i, t, rate, equity), &mut rejected);
                }
            }
        }

        // 5. Equity point, marked at the exit-side close without slippage.
        let mut e = pf.balance;
        if !pf.open.is_empty() {
            exposed += 1;
            let rate = fx.at_close(i)?;
            let mut unreal = 0.0;
            for p in &pf.open {
                unreal += p.unrealised(cols.exit_close(p.view.direction, i), &costs, rate);
            }
            e = pf.balance + unreal;
        }
        equity.push(e);
    }

    // End of data.
    let last = n - 1;
    let t_last = cols.ts[last];
    let mut open_positions = Vec::new();
    if engine.close_at_end {
        if !pf.open.is_empty() {
            let rate = fx.at_close(last)?;
            while !pf.open.is_empty() {
                let d = pf.open[0].view.direction;
                let slip_pips = costs.slip_pips(rng.next_f64());
                let price = exit_with_slippage(d, cols.exit_close(d, last), slip_pips * pip);
                pf.close(0, price, slip_pips, last, t_last, ExitReason::EndOfData, rate);
            }
            equity[last] = pf.balance;
        }
    } else {
        let rate = fx.at_close(last)?;
        open_positions = pf
            .open
            .iter()
            .map(|p| pf.open_record(p, cols.exit_close(p.view.direction, last), last, t_last, rate))
            .collect();
    }

    let inputs = MetricInputs {
        initial_balance: engine.initial_balance,
        bar_open_us: cols.ts,
        first_open_us: cols.ts[0],
        last_close_us: t_last + tf_us,
        exposed_bars: exposed,
        signals,
        signals_rejected: rejected,
        signals_rejected_margin: rejected_margin,
        stop_outs,
    };
    let metrics = metrics::compute(&pf.trades, &equity, &inputs);
    Ok(EngineResult { trades: pf.trades, open_positions, equity_curve: equity, metrics, bars_processed: n })
}
