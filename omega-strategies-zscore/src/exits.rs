//! MRZ's position manager (spec §6): the timeout is its only rule. A position opened on bar i is
//! closed at bar j (after j's SL/TP checks, at j's exit-side close, by the engine) once
//! `open(j) − open(i) ≥ max_holding_minutes`, wall-clock, so weekends count.

use omega_core::{DataSlice, Position, PositionAction};

/// Microseconds per minute.
const MINUTE_US: i64 = 60_000_000;

/// The timeout rule: `None` minutes (or a disabled manager) never closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Timeout {
    pub max_holding_minutes: Option<i64>,
}

impl Timeout {
    /// From the parsed parameters: active iff `use_position_manager` and a limit is set.
    pub fn new(use_position_manager: bool, max_holding_minutes: Option<i64>) -> Self {
        Timeout { max_holding_minutes: if use_position_manager { max_holding_minutes } else { None } }
    }

    /// Whether `position` has been held long enough at the bar of `slice` to time out.
    #[inline]
    pub fn expired(&self, position: &Position, slice: &DataSlice<'_>) -> bool {
        match self.max_holding_minutes {
            Some(m) => slice.timestamp_us.saturating_sub(position.entry_time_us) >= m.saturating_mul(MINUTE_US),
            None => false,
        }
    }

    /// `Close { reason: "timeout" }` when expired, else `Hold` (allocates only when closing).
    pub fn action(&self, position: &Position, slice: &DataSlice<'_>) -> PositionAction {
        if self.expired(position, slice) {
            PositionAction::Close { reason: "timeout".to_string() }
        } else {
            PositionAction::Hold
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use omega_core::{CandleData, Direction, Timeframe};

    const H: i64 = 3_600_000_000;

    fn position(entry_time_us: i64) -> Position {
        Position {
            id: 1,
            symbol: "EURUSD".into(),
            direction: Direction::Long,
            entry_price: 1.1,
            entry_time_us,
            stop_loss: 1.0,
            take_profit: Some(1.2),
            lot_size: 1.0,
            pnl_pips: 0.0,
            pnl_usd: 0.0,
            bars_held: 0,
            entry_index: 0,
        }
    }

    fn bar(timestamp_us: i64) -> DataSlice<'static> {
        DataSlice {
            symbol: "EURUSD",
            timeframe: Timeframe::H1,
            index: 0,
            timestamp_us,
            bid: CandleData::default(),
            ask: CandleData::default(),
        }
    }

    #[test]
    fn closes_once_the_limit_is_reached() {
        let t = Timeout::new(true, Some(120));
        let p = position(10 * H);
        assert_eq!(t.action(&p, &bar(11 * H)), PositionAction::Hold);
        assert_eq!(t.action(&p, &bar(12 * H)), PositionAction::Close { reason: "timeout".into() });
        assert_eq!(t.action(&p, &bar(60 * H)), PositionAction::Close { reason: "timeout".into() });
    }

    #[test]
    fn counts_wall_clock_time_across_gaps() {
        // Friday 20:00 → Sunday 22:00 is 50 hours without bars: the next bar times out.
        let t = Timeout::new(true, Some(300));
        assert!(t.expired(&position(0), &bar(50 * H)));
    }

    #[test]
    fn disabled_manager_or_no_limit_holds() {
        assert_eq!(Timeout::new(false, Some(1)).action(&position(0), &bar(100 * H)), PositionAction::Hold);
        assert_eq!(Timeout::new(true, None).action(&position(0), &bar(100 * H)), PositionAction::Hold);
    }
}
