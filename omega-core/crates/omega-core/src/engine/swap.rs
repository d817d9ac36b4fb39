//! Overnight financing (docs/engine.md "Swaps"): the instrument's swap is charged at each rollover,
//! 17:00 New York (DST-aware, the day boundary of the daily metrics), to the positions held across
//! it; the rollover on the triple-swap weekday counts three nights, Saturday's and Sunday's none
//! (the market is closed; the triple night pays for the weekend).

use crate::config::{EngineConfig, HtfAnchor};
use crate::instruments::{Instrument, SwapMode, Weekday};
use crate::market::htf::bin_of;
use crate::market::session::{new_york_local_us, DAY_US};
use crate::types::{Direction, Timeframe};

/// The rollover after the instant `t`: the end of the 17:00-New-York day that contains `t`.
#[inline]
pub fn next_rollover(t: i64) -> i64 {
    bin_of(t, Timeframe::D1, HtfAnchor::NewYork1700).1
}

/// New York weekday of a UTC instant, Monday = 0 … Sunday = 6.
pub fn new_york_weekday(t: i64) -> u8 {
    // 1970-01-01 (day 0) was a Thursday.
    (new_york_local_us(t).div_euclid(DAY_US) + 3).rem_euclid(7) as u8
}

/// Nights the rollover at `t` charges: 3 on `triple`, 0 on Saturday and Sunday, else 1.
pub fn nights_at(t: i64, triple: Weekday) -> f64 {
    let day = new_york_weekday(t);
    if day >= 5 {
        0.0
    } else if day == triple as u8 {
        3.0
    } else {
        1.0
    }
}

/// Swap terms of one run and the cursor over the rollovers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Swaps {
    long: f64,
    short: f64,
    mode: SwapMode,
    /// One point in price units, `1 / 10^digits`.
    point: f64,
    contract_size: f64,
    triple: Weekday,
    /// The first rollover not yet passed.
    next: i64,
}

impl Swaps {
    /// The swap terms of `instrument` for a run whose first bar opens at `first_open_us`; `None`
    /// when `engine.swaps` is off or both rates are 0 (nothing to charge, nothing to track).
    pub fn from_config(engine: &EngineConfig, instrument: &Instrument, first_open_us: i64) -> Option<Self> {
        if !engine.swaps || (instrument.swap_long == 0.0 && instrument.swap_short == 0.0) {
            return None;
        }
        Some(Swaps {
            long: instrument.swap_long,
            short: instrument.swap_short,
            mode: instrument.swap_mode,
            point: 1.0 / 10f64.powi(instrument.digits as i32),
            contract_size: instrument.contract_size,
            triple: instrument.triple_swap_weekday,
            next: next_rollover(first_open_us),
        })
    }

    /// Nights of the rollovers in `(previous bar open, open_us]`, charged at the bar opening at
    /// `open_us`; moves the cursor past them. Called once per bar, in time order.
    #[inline]
    pub fn nights_until(&mut self, open_us: i64) -> f64 {
        let mut nights = 0.0;
        while self.next <= open_us {
            nights += nights_at(self.next, self.triple);
            self.next = next_rollover(self.next);
        }
        nights
    }

    /// The swap of `lots` held in `direction` over `nights`, in the quote currency (positive = a
    /// credit): points `rate * point * cs * lots * nights`; percent per year of the notional at
    /// `price`, on a 360-day year, `price * cs * lots * rate / 100 / 360 * nights`.
    #[inline]
    pub fn quote_amount(&self, direction: Direction, price: f64, lots: f64, nights: f64) -> f64 {
        let rate = match direction {
            Direction::Long => self.long,
            Direction::Short => self.short,
        };
        match self.mode {
            SwapMode::Points => rate * self.point * self.contract_size * lots * nights,
            SwapMode::Percent => price * self.contract_size * lots * rate / 100.0 / 360.0 * nights,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::session::days_from_civil;

    const H: i64 = 3_600_000_000;

    fn utc(y: i64, m: u32, d: u32, h: i64) -> i64 {
        days_from_civil(y, m, d) * DAY_US + h * H
    }

    #[test]
    fn rollover_is_17_new_york_in_winter_and_summer() {
        // Winter (EST): 17:00 NY = 22:00 UTC; summer (EDT): 21:00 UTC.
        assert_eq!(next_rollover(utc(2024, 1, 10, 12)), utc(2024, 1, 10, 22));
        assert_eq!(next_rollover(utc(2024, 1, 10, 22)), utc(2024, 1, 11, 22));
        assert_eq!(next_rollover(utc(2024, 7, 10, 12)), utc(2024, 7, 10, 21));
        // 2024-01-10 was a Wednesday, 2024-01-13 a Saturday.
        assert_eq!(new_york_weekday(utc(2024, 1, 10, 22)), 2);
        assert_eq!(nights_at(utc(2024, 1, 10, 22), Weekday::Wednesday), 3.0);
        assert_eq!(nights_at(utc(2024, 1, 11, 22), Weekday::Wednesday), 1.0);
        assert_eq!(nights_at(utc(2024, 1, 13, 22), Weekday::Wednesday), 0.0);
    }

    #[test]
    fn weekend_gap_charges_friday_only_and_a_week_charges_seven_nights() {
        let e = EngineConfig::default();
        let mut i = crate::instruments::resolve("EURUSD", &Default::default()).unwrap();
        i.swap_long = -5.0;
        // Friday 2024-01-12 16:59 NY (21:59 UTC) to Sunday 17:00 NY: Fri, Sat and Sun rollovers, one night.
        let fri = utc(2024, 1, 12, 21) + 59 * 60_000_000;
        let mut s = Swaps::from_config(&e, &i, fri).unwrap();
        assert_eq!(s.nights_until(utc(2024, 1, 14, 22)), 1.0);
        // Sunday 17:00 to the next Sunday 17:00: Mon 1 + Tue 1 + Wed 3 + Thu 1 + Fri 1 = 7.
        assert_eq!(s.nights_until(utc(2024, 1, 21, 22)), 7.0);
        assert_eq!(s.nights_until(utc(2024, 1, 21, 23)), 0.0);
    }

    #[test]
    fn amounts_in_points_and_percent() {
        let e = EngineConfig::default();
        let mut i = crate::instruments::resolve("EURUSD", &Default::default()).unwrap();
        i.swap_long = -6.5;
        i.swap_short = 2.0;
        let s = Swaps::from_config(&e, &i, 0).unwrap();
        // −6.5 points × 0.00001 × 100,000 × 2 lots × 3 nights = −39 USD.
        assert!((s.quote_amount(Direction::Long, 1.1, 2.0, 3.0) + 39.0).abs() < 1e-9);
        assert!((s.quote_amount(Direction::Short, 1.1, 2.0, 1.0) - 4.0).abs() < 1e-9);
        i.swap_mode = SwapMode::Percent;
        i.swap_long = -3.6;
        let s = Swaps::from_config(&e, &i, 0).unwrap();
        // 1.25 × 100,000 × 1 lot = 125,000 notional; × −3.6 % / 360 = −12.5 per night.
        assert!((s.quote_amount(Direction::Long, 1.25, 1.0, 1.0) + 12.5).abs() < 1e-9);
        // Off, or nothing to charge: no tracker at all.
        assert!(Swaps::from_config(&EngineConfig { swaps: false, ..e.clone() }, &i, 0).is_none());
        let zero = crate::instruments::resolve("EURUSD", &Default::default()).unwrap();
        assert!(Swaps::from_config(&e, &zero, 0).is_none());
    }
}
