//! What a backtest returns: closed trades, positions left open, the per-bar equity curve and the
//! metrics (definitions in docs/engine.md). Everything is owned, deterministic and ordered.

use std::collections::BTreeMap;

use crate::types::Direction;

/// Why a position was closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExitReason {
    StopLoss,
    TakeProfit,
    Timeout,
    StrategyClose,
    EndOfData,
    /// Closed by the stop-out (margin level at or below `engine.stop_out_level`).
    StopOut,
    /// Not closed: a position reported in `open_positions` (`close_at_end = false`).
    Open,
}

impl ExitReason {
    /// Snake-case name as reported to Python (`"stop_loss"`, …).
    pub fn as_str(&self) -> &'static str {
        match self {
            ExitReason::StopLoss => "stop_loss",
            ExitReason::TakeProfit => "take_profit",
            ExitReason::Timeout => "timeout",
            ExitReason::StrategyClose => "strategy_close",
            ExitReason::EndOfData => "end_of_data",
            ExitReason::StopOut => "stop_out",
            ExitReason::Open => "open",
        }
    }
}

/// One trade (closed, or open and marked at the last close).
#[derive(Clone, Debug, PartialEq)]
pub struct TradeRecord {
    pub id: u64,
    pub symbol: String,
    pub direction: Direction,
    pub entry_index: usize,
    pub exit_index: usize,
    pub entry_time_us: i64,
    pub exit_time_us: i64,
    pub entry_price: f64,
    pub exit_price: f64,
    pub initial_stop_loss: f64,
    pub stop_loss: f64,
    pub take_profit: Option<f64>,
    pub lots: f64,
    pub pnl_pips: f64,
    pub pnl_gross: f64,
    pub commission: f64,
    /// Swaps charged (negative) or credited while the position was held, account currency.
    pub swap: f64,
    pub pnl: f64,
    pub slippage_pips: f64,
    pub r_multiple: f64,
    pub bars_held: usize,
    pub exit_reason: ExitReason,
    pub scenario: Option<u32>,
    pub reason: String,
    pub tags: Vec<String>,
}

/// The engine's output for one run.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct EngineResult {
    pub trades: Vec<TradeRecord>,
    pub open_positions: Vec<TradeRecord>,
    /// One point per primary bar (`equity[i]` after bar i).
    pub equity_curve: Vec<f64>,
    /// Metric name → value (NaN = undefined). Sorted by name.
    pub metrics: BTreeMap<String, f64>,
    pub bars_processed: usize,
}
