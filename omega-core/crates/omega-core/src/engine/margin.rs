//! Margin (docs/engine.md "Margin and stop-out"): the margin a position ties up, the free-margin
//! check before an entry and the stop-out test. A position's margin is fixed at its entry (the
//! notional at the fill price, converted at the debit rate of the fill).

use crate::config::EngineConfig;
use crate::instruments::Instrument;

/// Margin terms of one run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Margin {
    /// Fraction of the notional required (1 / leverage).
    pub rate: f64,
    pub contract_size: f64,
    /// Margin level (equity / used margin) at or below which everything is closed.
    pub stop_out_level: f64,
}

impl Margin {
    /// The margin terms, `None` when `engine.margin` is off.
    pub fn from_config(engine: &EngineConfig, instrument: &Instrument) -> Option<Self> {
        engine.margin.then_some(Margin {
            rate: instrument.margin_rate,
            contract_size: instrument.contract_size,
            stop_out_level: engine.stop_out_level,
        })
    }

    /// Margin of `lots` filled at `price` in account currency: `price * cs * lots * rate * debit_rate`.
    #[inline]
    pub fn required(&self, price: f64, lots: f64, debit_rate: f64) -> f64 {
        price * self.contract_size * lots * self.rate * debit_rate
    }

    /// Whether a position needing `required` fits: `required <= equity − used`.
    #[inline]
    pub fn fits(required: f64, equity: f64, used: f64) -> bool {
        required <= equity - used
    }

    /// Whether `equity` over `used` margin is at or below the stop-out level (never without margin in use).
    #[inline]
    pub fn stopped_out(&self, equity: f64, used: f64) -> bool {
        used > 0.0 && equity / used <= self.stop_out_level
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_fits_and_stop_out() {
        let e = EngineConfig::default();
        let i = crate::instruments::resolve("EURUSD", &Default::default()).unwrap();
        let m = Margin::from_config(&e, &i).unwrap();
        // 2 lots at 1.2 = 240,000 USD notional; at 1/30: 8,000 USD.
        assert!((m.required(1.2, 2.0, 1.0) - 8_000.0).abs() < 1e-9);
        assert!(Margin::fits(8_000.0, 10_000.0, 2_000.0));
        assert!(!Margin::fits(8_000.0, 10_000.0, 2_000.01));
        // Stop-out at 50 %: equity 4,000 on 8,000 used is exactly 50 %.
        assert!(m.stopped_out(4_000.0, 8_000.0));
        assert!(!m.stopped_out(4_000.01, 8_000.0));
        assert!(!m.stopped_out(-1.0, 0.0));
        assert!(Margin::from_config(&EngineConfig { margin: false, ..e }, &i).is_none());
    }
}
