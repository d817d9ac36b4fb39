//! The seed's core types (spec/ffi-rust-strategy.seed.md, "Type Definitions"). They are plain Rust
//! types used on both sides of the plugin boundary; none of them crosses it as-is (see `plugin`).
//! Deliberate change from the seed: `DataSlice.symbol` is a borrowed `&str` (no allocation per bar).

use std::collections::HashMap;

/// Bar timeframes supported by Omega.
#[derive(Clone, Debug, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timeframe {
    M1,
    M5,
    M15,
    M30,
    H1,
    H4,
    D1,
}

impl Timeframe {
    /// All timeframes, shortest first.
    pub const ALL: [Timeframe; 7] =
        [Timeframe::M1, Timeframe::M5, Timeframe::M15, Timeframe::M30, Timeframe::H1, Timeframe::H4, Timeframe::D1];

    /// Canonical name, e.g. `"M15"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Timeframe::M1 => "M1",
            Timeframe::M5 => "M5",
            Timeframe::M15 => "M15",
            Timeframe::M30 => "M30",
            Timeframe::H1 => "H1",
            Timeframe::H4 => "H4",
            Timeframe::D1 => "D1",
        }
    }

    /// Parse a name case-insensitively (the seed's signature: `None` when unknown).
    #[allow(clippy::should_implement_trait)]
    pub fn from_str(s: &str) -> Option<Self> {
        match s.trim().to_uppercase().as_str() {
            "M1" => Some(Timeframe::M1),
            "M5" => Some(Timeframe::M5),
            "M15" => Some(Timeframe::M15),
            "M30" => Some(Timeframe::M30),
            "H1" => Some(Timeframe::H1),
            "H4" => Some(Timeframe::H4),
            "D1" => Some(Timeframe::D1),
            _ => None,
        }
    }

    /// Bar length in minutes. Also the timeframe's code on the C ABI.
    pub fn minutes(&self) -> u32 {
        match self {
            Timeframe::M1 => 1,
            Timeframe::M5 => 5,
            Timeframe::M15 => 15,
            Timeframe::M30 => 30,
            Timeframe::H1 => 60,
            Timeframe::H4 => 240,
            Timeframe::D1 => 1440,
        }
    }

    /// Bar length in microseconds.
    pub fn duration_us(&self) -> i64 {
        i64::from(self.minutes()) * 60_000_000
    }

    /// Inverse of [`minutes`](Self::minutes).
    pub fn from_minutes(m: u32) -> Option<Self> {
        Self::ALL.iter().copied().find(|t| t.minutes() == m)
    }
}

impl std::fmt::Display for Timeframe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One side (bid or ask) of one bar.
#[derive(Clone, Debug, Copy, PartialEq, Default)]
pub struct CandleData {
    pub timestamp_us: i64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
}

/// What a strategy sees at bar `index`: the complete (closed) bid and ask candles.
#[derive(Clone, Debug, Copy)]
pub struct DataSlice<'a> {
    /// Symbol, borrowed from the run (no allocation per bar).
    pub symbol: &'a str,
    /// Primary timeframe.
    pub timeframe: Timeframe,
    /// Index of the bar in the primary series (0-based).
    pub index: usize,
    /// Bar open time, µs since the Unix epoch, UTC.
    pub timestamp_us: i64,
    pub bid: CandleData,
    pub ask: CandleData,
}

impl DataSlice<'_> {
    /// Spread at the close in pips of 0.0001 (the seed's definition).
    pub fn spread_pips(&self) -> f64 {
        (self.ask.close - self.bid.close) * 10_000.0
    }

    /// Bar close time (= open + timeframe), the decision instant of this bar.
    pub fn close_time_us(&self) -> i64 {
        self.timestamp_us + self.timeframe.duration_us()
    }
}

/// Trade direction.
#[derive(Clone, Debug, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    Long,
    Short,
}

impl Direction {
    /// `"long"` or `"short"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Direction::Long => "long",
            Direction::Short => "short",
        }
    }

    /// +1 for long, −1 for short.
    pub fn sign(&self) -> f64 {
        match self {
            Direction::Long => 1.0,
            Direction::Short => -1.0,
        }
    }
}

/// A market entry request returned by [`RustStrategy::evaluate`](crate::RustStrategy::evaluate).
#[derive(Clone, Debug, PartialEq)]
pub enum TradeSignal {
    Long {
        entry_price: f64,
        stop_loss: f64,
        take_profit: Option<f64>,
        reason: String,
        tags: Vec<String>,
        scenario: Option<u32>,
        meta: Option<HashMap<String, f64>>,
    },
    Short {
        entry_price: f64,
        stop_loss: f64,
        take_profit: Option<f64>,
        reason: String,
        tags: Vec<String>,
        scenario: Option<u32>,
        meta: Option<HashMap<String, f64>>,
    },
}

/// Borrowed view of the fields every signal has, whatever its direction.
#[derive(Clone, Debug, Copy)]
pub struct SignalParts<'a> {
    pub direction: Direction,
    pub entry_price: f64,
    pub stop_loss: f64,
    pub take_profit: Option<f64>,
    pub reason: &'a str,
    pub tags: &'a [String],
    pub scenario: Option<u32>,
    pub meta: Option<&'a HashMap<String, f64>>,
}

impl TradeSignal {
    /// `"long"` or `"short"`.
    pub fn direction(&self) -> &'static str {
        self.parts().direction.as_str()
    }

    /// Requested entry price (before slippage).
    pub fn entry_price(&self) -> f64 {
        self.parts().entry_price
    }

    /// Stop-loss level.
    pub fn stop_loss(&self) -> f64 {
        self.parts().stop_loss
    }

    /// All fields at once, without matching on the variant.
    pub fn parts(&self) -> SignalParts<'_> {
        let (direction, e, sl, tp, r, t, s, m) = match self {
            TradeSignal::Long { entry_price, stop_loss, take_profit, reason, tags, scenario, meta } => {
                (Direction::Long, entry_price, stop_loss, take_profit, reason, tags, scenario, meta)
            }
            TradeSignal::Short { entry_price, stop_loss, take_profit, reason, tags, scenario, meta } => {
                (Direction::Short, entry_price, stop_loss, take_profit, reason, tags, scenario, meta)
            }
        };
        SignalParts {
            direction,
            entry_price: *e,
            stop_loss: *sl,
            take_profit: *tp,
            reason: r.as_str(),
            tags: t.as_slice(),
            scenario: *s,
            meta: m.as_ref(),
        }
    }

    /// Build a signal of the given direction.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        direction: Direction,
        entry_price: f64,
        stop_loss: f64,
        take_profit: Option<f64>,
        reason: String,
        tags: Vec<String>,
        scenario: Option<u32>,
        meta: Option<HashMap<String, f64>>,
    ) -> Self {
        match direction {
            Direction::Long => TradeSignal::Long { entry_price, stop_loss, take_profit, reason, tags, scenario, meta },
            Direction::Short => {
                TradeSignal::Short { entry_price, stop_loss, take_profit, reason, tags, scenario, meta }
            }
        }
    }
}

/// An open position as the strategy sees it in `manage_position`.
/// Extension over the seed: `entry_index` (the primary bar the position was opened on).
#[derive(Clone, Debug, PartialEq)]
pub struct Position {
    pub id: u64,
    pub symbol: String,
    pub direction: Direction,
    pub entry_price: f64,
    pub entry_time_us: i64,
    pub stop_loss: f64,
    pub take_profit: Option<f64>,
    pub lot_size: f64,
    pub pnl_pips: f64,
    pub pnl_usd: f64,
    pub bars_held: usize,
    pub entry_index: usize,
}

/// What `manage_position` asks the engine to do with a position.
#[derive(Clone, Debug, PartialEq)]
pub enum PositionAction {
    /// Keep the position unchanged.
    Hold,
    /// Move the stop-loss (applies from the next bar).
    ModifyStopLoss { new_sl: f64 },
    /// Move the take-profit (applies from the next bar).
    ModifyTakeProfit { new_tp: f64 },
    /// Close at this bar's close on the exit side. The reason `"timeout"` is reported as the exit
    /// reason `timeout`; any other reason as `strategy_close`.
    Close { reason: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeframe_roundtrip() {
        for tf in Timeframe::ALL {
            assert_eq!(Timeframe::from_str(tf.as_str()), Some(tf));
            assert_eq!(Timeframe::from_minutes(tf.minutes()), Some(tf));
        }
        assert_eq!(Timeframe::from_str("h4"), Some(Timeframe::H4));
        assert_eq!(Timeframe::from_str("W1"), None);
    }

    #[test]
    fn signal_parts() {
        let s = TradeSignal::new(Direction::Short, 1.1, 1.2, Some(1.0), "r".into(), vec![], Some(3), None);
        assert_eq!(s.direction(), "short");
        assert_eq!(s.entry_price(), 1.1);
        assert_eq!(s.parts().scenario, Some(3));
    }
}
