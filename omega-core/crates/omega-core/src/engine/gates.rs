//! The entry gate (docs/engine.md, step 3): whether `evaluate` is called on a bar. Start time, the
//! open-position limit, the same-bar re-entry block, UTC session windows on the bar close time and
//! the three cooldowns. Pure and allocation-free; all state is passed in.

use crate::config::EngineConfig;
use crate::error::Result;

// One definition of the session clock for the engine, the scan and the resampler.
pub use crate::market::session::{in_sessions, minute_of_day as minute_of_day_utc};

#[cfg(test)]
const MINUTE_US: i64 = 60_000_000;

/// Gate parameters of one run, resolved once from the config.
#[derive(Clone, Debug, PartialEq)]
pub struct EntryGate {
    pub start_time_us: Option<i64>,
    pub max_open_positions: usize,
    pub allow_same_bar_reentry: bool,
    pub sessions: Vec<(u32, u32)>,
    pub cooldown_candles: u32,
    /// `cooldown_minutes * 60e6` (µs, as f64).
    pub cooldown_signal_us: f64,
    /// `cooldown_minutes_trade * 60e6` (µs, as f64).
    pub cooldown_trade_us: f64,
}

/// The per-bar state the gate reads.
#[derive(Clone, Copy, Debug)]
pub struct GateState {
    /// Bar index i.
    pub index: usize,
    /// Open time of bar i.
    pub open_time_us: i64,
    /// Close time of bar i.
    pub close_time_us: i64,
    /// Positions open after steps 1 and 2.
    pub open_positions: usize,
    /// A position closed on bar i (step 1 or 2).
    pub closed_this_bar: bool,
    /// Last bar on which the strategy returned a signal, with its close time.
    pub last_signal: Option<(usize, i64)>,
    /// Last bar on which a position closed, with its close time.
    pub last_exit: Option<(usize, i64)>,
}

impl EntryGate {
    /// Resolve from the engine config (E4002 for malformed session windows).
    pub fn from_config(engine: &EngineConfig) -> Result<Self> {
        Ok(EntryGate {
            start_time_us: engine.start_time_us,
            max_open_positions: engine.max_open_positions as usize,
            allow_same_bar_reentry: engine.allow_same_bar_reentry,
            sessions: engine.session_windows()?,
            cooldown_candles: engine.cooldown_candles,
            cooldown_signal_us: engine.cooldown_minutes * 60e6,
            cooldown_trade_us: engine.cooldown_minutes_trade * 60e6,
        })
    }

    /// True when `evaluate` may be called on this bar.
    #[inline]
    pub fn allows(&self, s: &GateState) -> bool {
        if let Some(start) = self.start_time_us {
            if s.open_time_us < start {
                return false;
            }
        }
        if s.open_positions >= self.max_open_positions {
            return false;
        }
        if !self.allow_same_bar_reentry && s.closed_this_bar {
            return false;
        }
        if !self.sessions.is_empty() && !in_sessions(&self.sessions, minute_of_day_utc(s.close_time_us)) {
            return false;
        }
        if self.cooldown_trade_us > 0.0 {
            if let Some((_, exit_close)) = s.last_exit {
                if ((s.close_time_us - exit_close) as f64) < self.cooldown_trade_us {
                    return false;
                }
            }
        }
        if let Some((k, signal_close)) = s.last_signal {
            if self.cooldown_signal_us > 0.0 && ((s.close_time_us - signal_close) as f64) < self.cooldown_signal_us {
                return false;
            }
            if self.cooldown_candles > 0 && ((s.index - k) as u64) < u64::from(self.cooldown_candles) {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minute_of_day() {
        assert_eq!(minute_of_day_utc(0), 0);
        assert_eq!(minute_of_day_utc(61 * MINUTE_US + 5), 61);
        assert_eq!(minute_of_day_utc(-MINUTE_US), 1439);
        assert_eq!(minute_of_day_utc(86_400_000_000 + 30 * MINUTE_US), 30);
    }

    #[test]
    fn windows_inclusive_and_wrapping() {
        let w = [(8 * 60, 17 * 60)];
        assert!(in_sessions(&w, 480));
        assert!(in_sessions(&w, 1020));
        assert!(!in_sessions(&w, 479));
        assert!(!in_sessions(&w, 1021));
        let wrap = [(22 * 60, 2 * 60)];
        assert!(in_sessions(&wrap, 1439));
        assert!(in_sessions(&wrap, 0));
        assert!(in_sessions(&wrap, 120));
        assert!(!in_sessions(&wrap, 121));
        assert!(!in_sessions(&wrap, 1319));
        assert!(in_sessions(&[], 5));
    }
}
