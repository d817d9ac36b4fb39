//! Intrabar stop-loss / take-profit detection (docs/engine.md, step 1): longs on the bid candle,
//! shorts on the ask candle, SL wins when both trigger, gap-aware base price at the open.

use crate::engine::result::ExitReason;
use crate::types::Direction;

/// Open, high and low of the exit-side candle of one bar.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ExitCandle {
    pub open: f64,
    pub high: f64,
    pub low: f64,
}

/// If the bar triggers the SL or TP, the base exit price (before slippage) and the reason.
/// `buf` (price units) makes the trigger fire early; the base price ignores it.
#[inline]
pub fn check_exit(
    direction: Direction,
    stop_loss: f64,
    take_profit: Option<f64>,
    buf: f64,
    c: ExitCandle,
) -> Option<(f64, ExitReason)> {
    match direction {
        Direction::Long => {
            if c.low <= stop_loss + buf {
                return Some((if stop_loss < c.open { stop_loss } else { c.open }, ExitReason::StopLoss));
            }
            match take_profit {
                Some(tp) if c.high >= tp - buf => Some((if tp > c.open { tp } else { c.open }, ExitReason::TakeProfit)),
                _ => None,
            }
        }
        Direction::Short => {
            if c.high >= stop_loss - buf {
                return Some((if stop_loss > c.open { stop_loss } else { c.open }, ExitReason::StopLoss));
            }
            match take_profit {
                Some(tp) if c.low <= tp + buf => Some((if tp < c.open { tp } else { c.open }, ExitReason::TakeProfit)),
                _ => None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: ExitCandle = ExitCandle { open: 1.1000, high: 1.1010, low: 1.0990 };

    #[test]
    fn long_sl_wins_over_tp() {
        assert_eq!(check_exit(Direction::Long, 1.0995, Some(1.1005), 0.0, C), Some((1.0995, ExitReason::StopLoss)));
    }

    #[test]
    fn short_sl_wins_over_tp() {
        assert_eq!(check_exit(Direction::Short, 1.1005, Some(1.0995), 0.0, C), Some((1.1005, ExitReason::StopLoss)));
    }

    #[test]
    fn gap_fills_at_open() {
        // Long SL above the open: filled at the (worse) open.
        assert_eq!(check_exit(Direction::Long, 1.1002, None, 0.0, C), Some((1.1000, ExitReason::StopLoss)));
        // Long TP below the open: filled at the (better) open.
        assert_eq!(check_exit(Direction::Long, 1.0900, Some(1.0998), 0.0, C), Some((1.1000, ExitReason::TakeProfit)));
        // Short SL below the open, short TP above the open.
        assert_eq!(check_exit(Direction::Short, 1.0998, None, 0.0, C), Some((1.1000, ExitReason::StopLoss)));
        assert_eq!(check_exit(Direction::Short, 1.2, Some(1.1003), 0.0, C), Some((1.1000, ExitReason::TakeProfit)));
    }

    #[test]
    fn no_trigger_and_buffer() {
        assert_eq!(check_exit(Direction::Long, 1.0980, Some(1.1020), 0.0, C), None);
        // TP 1.10105 not reached by high 1.1010, but a 0.5-pip buffer triggers it at the level.
        assert_eq!(
            check_exit(Direction::Long, 1.0980, Some(1.10105), 0.00005, C),
            Some((1.10105, ExitReason::TakeProfit))
        );
    }
}
