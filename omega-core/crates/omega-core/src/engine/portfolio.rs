//! The account: balance, open positions (in opening order) and closed trades (in closing order).
//! Opening and closing follow docs/engine.md ("Closing a position") operation by operation. Only
//! opening and closing allocate; marking and bookkeeping per bar do not.

use crate::engine::conversion::Rate;
use crate::engine::costs::Costs;
use crate::engine::result::{ExitReason, TradeRecord};
use crate::types::{Direction, Position};

/// One open position: the strategy's view (updated in place before each `manage_position`) plus
/// what the engine needs to close it.
#[derive(Clone, Debug, PartialEq)]
pub struct OpenPosition {
    /// The `Position` handed to `manage_position` (kept, so no allocation per bar).
    pub view: Position,
    pub initial_stop_loss: f64,
    pub entry_commission: f64,
    pub entry_slippage_pips: f64,
    /// Quote → account debit rate at the entry (prices the initial risk).
    pub entry_debit_rate: f64,
    /// Margin tied up, account currency, fixed at the entry (0 with `engine.margin` off).
    pub margin: f64,
    /// Swaps booked so far, account currency.
    pub swap: f64,
    pub scenario: Option<u32>,
    pub reason: String,
    pub tags: Vec<String>,
}

impl OpenPosition {
    /// Unrealised PnL in account currency at `mark` (no slippage, no commission):
    /// `(mark − entry) * sign * cs * lots` converted at `rate`.
    #[inline]
    pub fn unrealised(&self, mark: f64, costs: &Costs, rate: Rate) -> f64 {
        rate.convert(
            (mark - self.view.entry_price) * self.view.direction.sign() * costs.contract_size * self.view.lot_size,
        )
    }

    /// The initial risk in account currency: `|entry − initial SL| * cs * lots * entry debit rate`.
    #[inline]
    fn risk_money(&self, costs: &Costs) -> f64 {
        (self.view.entry_price - self.initial_stop_loss).abs()
            * costs.contract_size
            * self.view.lot_size
            * self.entry_debit_rate
    }
}

/// What a new position is made of (the signal after fill and sizing).
#[derive(Clone, Debug)]
pub struct Entry<'a> {
    pub direction: Direction,
    pub fill: f64,
    pub stop_loss: f64,
    pub take_profit: Option<f64>,
    pub lots: f64,
    pub slippage_pips: f64,
    /// Margin in account currency (0 with `engine.margin` off).
    pub margin: f64,
    pub index: usize,
    pub time_us: i64,
    pub scenario: Option<u32>,
    pub reason: &'a str,
    pub tags: &'a [String],
}

/// Balance, positions and trades of one run.
#[derive(Clone, Debug)]
pub struct Portfolio {
    pub balance: f64,
    pub open: Vec<OpenPosition>,
    pub trades: Vec<TradeRecord>,
    pub last_exit_bar: Option<usize>,
    next_id: u64,
    symbol: String,
    costs: Costs,
}

impl Portfolio {
    /// An empty account holding `balance`.
    pub fn new(symbol: &str, balance: f64, costs: Costs, max_open: usize) -> Self {
        Portfolio {
            balance,
            open: Vec::with_capacity(max_open.min(1024)),
            trades: Vec::new(),
            last_exit_bar: None,
            next_id: 1,
            symbol: symbol.to_string(),
            costs,
        }
    }

    /// Open a position at the rate `rate` of its fill: deduct the entry commission at the fill
    /// price and append it.
    pub fn open(&mut self, e: &Entry<'_>, rate: Rate) {
        let entry_commission = self.costs.commission(e.fill, e.lots, rate.hi);
        self.balance -= entry_commission;
        let id = self.next_id;
        self.next_id += 1;
        self.open.push(OpenPosition {
            view: Position {
                id,
                symbol: self.symbol.clone(),
                direction: e.direction,
                entry_price: e.fill,
                entry_time_us: e.time_us,
                stop_loss: e.stop_loss,
                take_profit: e.take_profit,
                lot_size: e.lots,
                pnl_pips: 0.0,
                pnl_usd: 0.0,
                bars_held: 0,
                entry_index: e.index,
            },
            initial_stop_loss: e.stop_loss,
            entry_commission,
            entry_slippage_pips: e.slippage_pips,
            entry_debit_rate: rate.hi,
            margin: e.margin,
            swap: 0.0,
            scenario: e.scenario,
            reason: e.reason.to_string(),
            tags: e.tags.to_vec(),
        });
    }

    /// Margin in use: the open positions' margins summed from 0 in opening order.
    pub fn used_margin(&self) -> f64 {
        let mut used = 0.0;
        for p in &self.open {
            used += p.margin;
        }
        used
    }

    /// Book a swap of `amount` (account currency) on open position `k`.
    #[inline]
    pub fn charge_swap(&mut self, k: usize, amount: f64) {
        self.balance += amount;
        self.open[k].swap += amount;
    }

    /// Close open position `k` at `exit_price` on bar `j` (open time `time_us`) at the conversion
    /// rate `rate` of the exit, book the PnL and the exit commission, and record the trade.
    #[allow(clippy::too_many_arguments)]
    pub fn close(
        &mut self,
        k: usize,
        exit_price: f64,
        exit_slippage_pips: f64,
        j: usize,
        time_us: i64,
        why: ExitReason,
        rate: Rate,
    ) {
        let p = self.open.remove(k);
        let c = self.costs;
        let lots = p.view.lot_size;
        let pnl_price = (exit_price - p.view.entry_price) * p.view.direction.sign();
        let pnl_pips = pnl_price / c.pip;
        let pnl_gross = rate.convert(pnl_price * c.contract_size * lots);
        let exit_commission = c.commission(exit_price, lots, rate.hi);
        self.balance = self.balance + pnl_gross - exit_commission;
        let commission = p.entry_commission + exit_commission;
        let pnl = pnl_gross - commission + p.swap;
        let risk_money = p.risk_money(&c);
        self.trades.push(TradeRecord {
            id: p.view.id,
            symbol: p.view.symbol,
            direction: p.view.direction,
            entry_index: p.view.entry_index,
            exit_index: j,
            entry_time_us: p.view.entry_time_us,
            exit_time_us: time_us,
            entry_price: p.view.entry_price,
            exit_price,
            initial_stop_loss: p.initial_stop_loss,
            stop_loss: p.view.stop_loss,
            take_profit: p.view.take_profit,
            lots,
            pnl_pips,
            pnl_gross,
            commission,
            swap: p.swap,
            pnl,
            slippage_pips: p.entry_slippage_pips + exit_slippage_pips,
            r_multiple: pnl_gross / risk_money,
            bars_held: j - p.view.entry_index,
            exit_reason: why,
            scenario: p.scenario,
            reason: p.reason,
            tags: p.tags,
        });
        self.last_exit_bar = Some(j);
    }

    /// Record of a position left open at bar `j`, marked at `mark` and the conversion rate `rate`
    /// without slippage or exit commission (`close_at_end = false`).
    pub fn open_record(&self, p: &OpenPosition, mark: f64, j: usize, time_us: i64, rate: Rate) -> TradeRecord {
        let c = self.costs;
        let lots = p.view.lot_size;
        let pnl_price = (mark - p.view.entry_price) * p.view.direction.sign();
        let pnl_gross = rate.convert(pnl_price * c.contract_size * lots);
        let risk_money = p.risk_money(&c);
        TradeRecord {
            id: p.view.id,
            symbol: p.view.symbol.clone(),
            direction: p.view.direction,
            entry_index: p.view.entry_index,
            exit_index: j,
            entry_time_us: p.view.entry_time_us,
            exit_time_us: time_us,
            entry_price: p.view.entry_price,
            exit_price: mark,
            initial_stop_loss: p.initial_stop_loss,
            stop_loss: p.view.stop_loss,
            take_profit: p.view.take_profit,
            lots,
            pnl_pips: pnl_price / c.pip,
            pnl_gross,
            commission: p.entry_commission,
            swap: p.swap,
            pnl: pnl_gross - p.entry_commission + p.swap,
            slippage_pips: p.entry_slippage_pips,
            r_multiple: pnl_gross / risk_money,
            bars_held: j - p.view.entry_index,
            exit_reason: ExitReason::Open,
            scenario: p.scenario,
            reason: p.reason.clone(),
            tags: p.tags.clone(),
        }
    }
}
