//! Trading costs: per-side commission and adverse slippage (docs/engine.md, "Commission" and
//! "RNG"). Pure functions of the config; the engine owns the RNG and decides when to draw.

use crate::config::EngineConfig;
use crate::instruments::Instrument;
use crate::types::Direction;

/// Cost parameters of one run, resolved once from the config.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Costs {
    pub commission_per_lot: f64,
    pub commission_per_million: f64,
    pub slippage_fixed_pips: f64,
    pub slippage_random_pips: f64,
    /// Contract size (units per lot).
    pub contract_size: f64,
    /// Pip size in price units.
    pub pip: f64,
}

impl Costs {
    /// Resolve from the engine config for `instrument`.
    pub fn from_config(engine: &EngineConfig, instrument: &Instrument) -> Self {
        Costs {
            commission_per_lot: engine.costs.commission_per_lot,
            commission_per_million: engine.costs.commission_per_million,
            slippage_fixed_pips: engine.costs.slippage_fixed_pips,
            slippage_random_pips: engine.costs.slippage_random_pips,
            contract_size: instrument.contract_size,
            pip: instrument.pip_size,
        }
    }

    /// Commission of one side in account currency, with `debit_rate` the quote → account rate
    /// for debits at the fill: `per_lot * lots + per_million * (price * cs * lots * debit_rate) / 1e6`.
    #[inline]
    pub fn commission(&self, price: f64, lots: f64, debit_rate: f64) -> f64 {
        self.commission_per_lot * lots
            + self.commission_per_million * (price * self.contract_size * lots * debit_rate) / 1e6
    }

    /// Slippage in pips for a uniform draw `u` in [0, 1): `fixed + u * random`.
    #[inline]
    pub fn slip_pips(&self, u: f64) -> f64 {
        self.slippage_fixed_pips + u * self.slippage_random_pips
    }
}

/// Entry price after adverse slippage `slip_price`: long pays more, short receives less.
#[inline]
pub fn entry_with_slippage(direction: Direction, price: f64, slip_price: f64) -> f64 {
    match direction {
        Direction::Long => price + slip_price,
        Direction::Short => price - slip_price,
    }
}

/// Exit price after adverse slippage `slip_price`: long sells lower, short buys back higher.
#[inline]
pub fn exit_with_slippage(direction: Direction, price: f64, slip_price: f64) -> f64 {
    match direction {
        Direction::Long => price - slip_price,
        Direction::Short => price + slip_price,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commission_per_lot_and_per_million() {
        let mut e = EngineConfig::default();
        e.costs.commission_per_lot = 3.5;
        e.costs.commission_per_million = 20.0;
        let eurusd = crate::instruments::resolve("EURUSD", &Default::default()).unwrap();
        let c = Costs::from_config(&e, &eurusd);
        // 3.5 * 2 + 20 * (1.1 * 100000 * 2 * 1) / 1e6 = 7 + 4.4
        assert_eq!(c.commission(1.1, 2.0, 1.0), 3.5 * 2.0 + 20.0 * (1.1 * 100_000.0 * 2.0 * 1.0) / 1e6);
        assert!((c.commission(1.1, 2.0, 1.0) - 11.4).abs() < 1e-12);
        // USDJPY in a USD account at 150.00/150.02: the notional 2 lots * 100000 * 150.01 JPY is
        // converted at the debit side 1/150.00: 30,002,000 / 150 = 200,013.33 USD → 4.00027 USD.
        let c = Costs { commission_per_lot: 0.0, ..c };
        assert!((c.commission(150.01, 2.0, 1.0 / 150.0) - 4.000_266_666).abs() < 1e-6);
    }

    #[test]
    fn slippage_is_adverse() {
        assert!(entry_with_slippage(Direction::Long, 1.0, 0.1) > 1.0);
        assert!(entry_with_slippage(Direction::Short, 1.0, 0.1) < 1.0);
        assert!(exit_with_slippage(Direction::Long, 1.0, 0.1) < 1.0);
        assert!(exit_with_slippage(Direction::Short, 1.0, 0.1) > 1.0);
    }
}
