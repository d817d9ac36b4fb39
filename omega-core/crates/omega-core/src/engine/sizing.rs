//! Position sizing (docs/engine.md, "Sizing"): fixed lots or risk-based lots floored to the lot
//! step, capped at `max_lot`; below `min_lot` the signal is rejected (never rounded up).

use crate::config::{EngineConfig, SizingMode};
use crate::instruments::{Instrument, LotGrid};

/// Sizing rule of one run, resolved once from the config.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sizer {
    pub mode: SizingMode,
    pub fixed_lots: f64,
    pub risk_per_trade: f64,
    pub pip: f64,
    pub contract_size: f64,
    pub grid: LotGrid,
}

impl Sizer {
    /// Resolve from the engine config for `instrument`.
    pub fn from_config(engine: &EngineConfig, instrument: &Instrument) -> Self {
        Sizer {
            mode: engine.sizing,
            fixed_lots: engine.fixed_lots,
            risk_per_trade: engine.risk_per_trade,
            pip: instrument.pip_size,
            contract_size: instrument.contract_size,
            grid: instrument.lot_grid(),
        }
    }

    /// Lots for an entry filled at `fill` with stop `stop_loss`, with `debit_rate` the quote →
    /// account rate for debits (the risk is a potential loss); `None` when the size is below
    /// `min_lot` (the signal is rejected).
    #[inline]
    pub fn lots(&self, fill: f64, stop_loss: f64, debit_rate: f64) -> Option<f64> {
        let steps = match self.mode {
            SizingMode::Fixed => self.grid.steps_in(self.fixed_lots),
            SizingMode::Risk => {
                let stop_pips = (fill - stop_loss).abs() / self.pip;
                // Value of one pip for one lot in account currency.
                let pip_value = self.pip * self.contract_size * debit_rate;
                let raw = self.risk_per_trade / (stop_pips * pip_value);
                self.grid.steps_in(raw)
            }
        };
        self.grid.clamp(steps).map(|s| self.grid.lots(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SymbolSpec;
    use crate::instruments::resolve;

    fn sizer(mode: SizingMode, symbol: &str) -> Sizer {
        let e = EngineConfig { sizing: mode, fixed_lots: 0.5, ..EngineConfig::default() };
        Sizer::from_config(&e, &resolve(symbol, &SymbolSpec::default()).unwrap())
    }

    #[test]
    fn risk_example_eurusd() {
        // risk 100 USD, SL 7.03 pips, pip value 10 USD/lot → 1.4225… → 1.42 lots.
        let s = sizer(SizingMode::Risk, "EURUSD");
        assert_eq!(s.lots(1.10000, 1.099297, 1.0), Some(1.42));
    }

    #[test]
    fn risk_example_usdjpy_in_usd() {
        // risk 100 USD, SL 20 pips (0.20 JPY), pip value 0.01 * 100000 = 1000 JPY/lot; at the
        // debit rate 1/149.98 that is 6.66755… USD/lot → 100 / (20 * 6.66755) = 0.7499 → 0.74 lots.
        let s = sizer(SizingMode::Risk, "USDJPY");
        assert_eq!(s.lots(150.00, 149.80, 1.0 / 149.98), Some(0.74));
    }

    #[test]
    fn min_and_max_lot_and_exact_steps() {
        let s = sizer(SizingMode::Risk, "EURUSD");
        // 100 / (20000 pips * 10) = 0.0005 lots → 0 steps → rejected.
        assert_eq!(s.lots(1.1, -0.9, 1.0), None);
        // 100 / (0.001 pips * 10) = 10000 lots → capped at 100.
        assert_eq!(s.lots(1.1, 1.1 - 0.0000001, 1.0), Some(100.0));
        let f = sizer(SizingMode::Fixed, "EURUSD");
        assert_eq!(f.lots(1.1, 1.0, 1.0), Some(0.5));
        // 100 / (10.638 pips * 10) = 0.94… lots: exactly 0.94, not 94 * 0.01.
        assert_eq!(s.lots(1.1, 1.1 - 0.0010638, 1.0), Some(0.94));
        assert_eq!(format!("{:?}", s.lots(1.1, 1.1 - 0.0010638, 1.0)), "Some(0.94)");
    }
}
