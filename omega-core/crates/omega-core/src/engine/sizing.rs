//! Position sizing (docs/engine.md, "Sizing"): fixed lots or risk-based lots floored to the lot
//! step, capped at `max_lot`; below `min_lot` the signal is rejected (never rounded up).

use crate::config::{EngineConfig, SizingMode};

/// Sizing rule of one run, resolved once from the config.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sizer {
    pub mode: SizingMode,
    pub fixed_lots: f64,
    pub risk_per_trade: f64,
    pub pip: f64,
    /// Value of one pip for one lot in account currency: `pip * cs * fx`.
    pub pip_value: f64,
    pub lot_step: f64,
    pub min_lot: f64,
    pub max_lot: f64,
}

impl Sizer {
    /// Resolve from the engine config for a symbol whose pip size is `pip`.
    pub fn from_config(engine: &EngineConfig, pip: f64) -> Self {
        let spec = &engine.symbol_spec;
        Sizer {
            mode: engine.sizing,
            fixed_lots: engine.fixed_lots,
            risk_per_trade: engine.risk_per_trade,
            pip,
            pip_value: pip * spec.contract_size * engine.quote_to_account_rate,
            lot_step: spec.lot_step,
            min_lot: spec.min_lot,
            max_lot: spec.max_lot,
        }
    }

    /// Lots for an entry filled at `fill` with stop `stop_loss`; `None` when the size is below
    /// `min_lot` (the signal is rejected).
    #[inline]
    pub fn lots(&self, fill: f64, stop_loss: f64) -> Option<f64> {
        let mut lots = match self.mode {
            SizingMode::Fixed => self.fixed_lots,
            SizingMode::Risk => {
                let stop_pips = (fill - stop_loss).abs() / self.pip;
                let raw = self.risk_per_trade / (stop_pips * self.pip_value);
                let steps = (raw / self.lot_step + 1e-9).floor();
                steps * self.lot_step
            }
        };
        if lots > self.max_lot {
            lots = self.max_lot;
        }
        // Also rejects NaN.
        if lots >= self.min_lot {
            Some(lots)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizer(mode: SizingMode) -> Sizer {
        let e = EngineConfig { sizing: mode, fixed_lots: 0.5, ..EngineConfig::default() };
        Sizer::from_config(&e, 0.0001)
    }

    #[test]
    fn risk_example_eurusd() {
        // risk 100 USD, SL 7.03 pips, pip value 10 USD/lot → 1.4225… → 1.42 lots.
        let s = sizer(SizingMode::Risk);
        assert_eq!(s.lots(1.10000, 1.099297), Some(142.0 * 0.01));
    }

    #[test]
    fn min_and_max_lot() {
        let s = sizer(SizingMode::Risk);
        // 100 / (20000 pips * 10) = 0.0005 lots → 0 steps → rejected.
        assert_eq!(s.lots(1.1, -0.9), None);
        // 100 / (0.001 pips * 10) = 10000 lots → capped at 100.
        assert_eq!(s.lots(1.1, 1.1 - 0.0000001), Some(100.0));
        let f = sizer(SizingMode::Fixed);
        assert_eq!(f.lots(1.1, 1.0), Some(0.5));
    }
}
