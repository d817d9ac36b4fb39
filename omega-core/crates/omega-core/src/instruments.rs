//! Instrument specifications: what one lot of a symbol is, in which currency it is quoted, and
//! which lot sizes a broker accepts (docs/instruments.md).
//!
//! The built-in table is `omega-core/python/omega/instruments.json`, embedded here at compile time
//! and read by the Python reference from the same file, so both backends resolve a symbol from one
//! source. A run's `engine.symbol_spec` overrides single fields; a symbol that is not in the table
//! needs at least `base`, `quote` and `pip_size` there (E4002 otherwise).

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::config::SymbolSpec;
use crate::error::{Result, StrategyError};

/// The built-in table, as shipped in the Python package.
const BUILTIN_JSON: &str = include_str!("../../../python/omega/instruments.json");

/// How swap rates are given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SwapMode {
    /// Points (pips × 10 for 5-digit FX, i.e. `10^-digits` price units) per lot per night.
    Points,
    /// Percent per year of the position's notional.
    Percent,
}

/// Day of the week on which the rollover charges three nights.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

/// A fully resolved instrument (every field known).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Instrument {
    pub symbol: String,
    /// Base currency (or the instrument itself for CFDs such as `US500`).
    pub base: String,
    /// Quote currency: PnL in price units is in this currency.
    pub quote: String,
    pub pip_size: f64,
    pub digits: u32,
    /// Units of the base per lot.
    pub contract_size: f64,
    pub min_lot: f64,
    pub lot_step: f64,
    pub max_lot: f64,
    /// Margin as a fraction of the notional (1 / leverage).
    pub margin_rate: f64,
    pub swap_long: f64,
    pub swap_short: f64,
    pub swap_mode: SwapMode,
    pub triple_swap_weekday: Weekday,
}

#[derive(Deserialize)]
struct Table {
    #[serde(rename = "_comment")]
    _comment: Option<String>,
    instruments: Vec<Instrument>,
}

/// Every built-in instrument, in table order (E4009 if the embedded table is malformed, which a
/// unit test rules out).
pub fn builtin() -> Result<&'static [Instrument]> {
    static TABLE: OnceLock<std::result::Result<Vec<Instrument>, String>> = OnceLock::new();
    TABLE
        .get_or_init(|| serde_json::from_str::<Table>(BUILTIN_JSON).map(|t| t.instruments).map_err(|e| e.to_string()))
        .as_deref()
        .map_err(|e| StrategyError::InternalError { reason: format!("built-in instrument table: {e}") })
}

/// The table key of a symbol: upper case without `/`, `_`, `-` or spaces (`"eur/usd"` → `"EURUSD"`).
pub fn normalize_symbol(symbol: &str) -> String {
    symbol.chars().filter(|c| !matches!(c, '/' | '_' | '-' | ' ')).flat_map(char::to_uppercase).collect()
}

/// The built-in instrument of `symbol`, if any.
pub fn lookup(symbol: &str) -> Result<Option<&'static Instrument>> {
    let key = normalize_symbol(symbol);
    Ok(builtin()?.iter().find(|i| i.symbol == key))
}

fn key(field: &str) -> String {
    format!("engine.symbol_spec.{field}")
}

/// Resolve `symbol` from the built-in table with the run's overrides applied field by field.
pub fn resolve(symbol: &str, spec: &SymbolSpec) -> Result<Instrument> {
    let base = match lookup(symbol)? {
        Some(i) => i.clone(),
        None => {
            let missing: Vec<&str> =
                [("base", spec.base.is_none()), ("quote", spec.quote.is_none()), ("pip_size", spec.pip_size.is_none())]
                    .into_iter()
                    .filter_map(|(k, m)| m.then_some(k))
                    .collect();
            if !missing.is_empty() {
                return Err(StrategyError::param(
                    "engine.symbol_spec",
                    format!(
                        "unknown instrument '{symbol}': it is not in the built-in table (docs/instruments.md); give \
                         engine.symbol_spec.{} (and any other field that differs from the FX defaults)",
                        missing.join(", engine.symbol_spec.")
                    ),
                ));
            }
            Instrument {
                symbol: normalize_symbol(symbol),
                base: String::new(),
                quote: String::new(),
                pip_size: 0.0,
                digits: 5,
                contract_size: 100_000.0,
                min_lot: 0.01,
                lot_step: 0.01,
                max_lot: 100.0,
                margin_rate: 0.05,
                swap_long: 0.0,
                swap_short: 0.0,
                swap_mode: SwapMode::Points,
                triple_swap_weekday: Weekday::Wednesday,
            }
        }
    };
    let i = Instrument {
        symbol: base.symbol,
        base: spec.base.clone().unwrap_or(base.base),
        quote: spec.quote.clone().unwrap_or(base.quote),
        pip_size: spec.pip_size.unwrap_or(base.pip_size),
        digits: spec.digits.unwrap_or(base.digits),
        contract_size: spec.contract_size.unwrap_or(base.contract_size),
        min_lot: spec.min_lot.unwrap_or(base.min_lot),
        lot_step: spec.lot_step.unwrap_or(base.lot_step),
        max_lot: spec.max_lot.unwrap_or(base.max_lot),
        margin_rate: spec.margin_rate.unwrap_or(base.margin_rate),
        swap_long: spec.swap_long.unwrap_or(base.swap_long),
        swap_short: spec.swap_short.unwrap_or(base.swap_short),
        swap_mode: spec.swap_mode.unwrap_or(base.swap_mode),
        triple_swap_weekday: spec.triple_swap_weekday.unwrap_or(base.triple_swap_weekday),
    };
    i.validate()?;
    Ok(i)
}

/// Whether `code` looks like a currency or instrument code: 1–12 upper-case ASCII letters or digits.
pub fn valid_code(code: &str) -> bool {
    !code.is_empty() && code.len() <= 12 && code.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

impl Instrument {
    /// Range checks (E4002 naming the `engine.symbol_spec` key).
    pub fn validate(&self) -> Result<()> {
        for (name, v) in [("base", &self.base), ("quote", &self.quote)] {
            if !valid_code(v) {
                return Err(StrategyError::param(key(name), format!("'{v}' is not an upper-case currency code")));
            }
        }
        for (name, v) in [
            ("pip_size", self.pip_size),
            ("contract_size", self.contract_size),
            ("min_lot", self.min_lot),
            ("lot_step", self.lot_step),
            ("max_lot", self.max_lot),
            ("margin_rate", self.margin_rate),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(StrategyError::param(key(name), format!("must be a finite number > 0, got {v}")));
            }
        }
        if self.max_lot < self.min_lot {
            return Err(StrategyError::param(key("max_lot"), "must be >= min_lot"));
        }
        if self.margin_rate > 1.0 {
            return Err(StrategyError::param(key("margin_rate"), "must be <= 1 (a fraction of the notional)"));
        }
        if self.digits > 10 {
            return Err(StrategyError::param(key("digits"), format!("must be <= 10, got {}", self.digits)));
        }
        for (name, v) in [("swap_long", self.swap_long), ("swap_short", self.swap_short)] {
            if !v.is_finite() {
                return Err(StrategyError::param(key(name), format!("must be finite, got {v}")));
            }
        }
        Ok(())
    }

    /// The lot grid of this instrument.
    pub fn lot_grid(&self) -> LotGrid {
        LotGrid::new(self.lot_step, self.min_lot, self.max_lot)
    }
}

/// Lots as whole multiples of the lot step (docs/engine.md "Sizing").
///
/// A size is counted in steps (`floor(x / lot_step + 1e-9)`); `min_lot` and `max_lot` become step
/// counts the same way (rounded up and down). When `1 / lot_step` is a whole number `k` (0.01 →
/// 100), lots are `steps / k`, the double nearest the decimal size (94 steps → 0.94, not
/// 0.9400000000000001); otherwise `steps * lot_step`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LotGrid {
    pub lot_step: f64,
    /// `1 / lot_step` when it is a whole number.
    pub steps_per_lot: Option<f64>,
    pub min_steps: f64,
    pub max_steps: f64,
}

impl LotGrid {
    /// The grid of `lot_step` bounded by `min_lot` and `max_lot`.
    pub fn new(lot_step: f64, min_lot: f64, max_lot: f64) -> Self {
        let inv = (1.0 / lot_step).round();
        let steps_per_lot = (inv >= 1.0 && ((inv * lot_step) - 1.0).abs() < 1e-9).then_some(inv);
        LotGrid {
            lot_step,
            steps_per_lot,
            min_steps: (min_lot / lot_step - 1e-9).ceil().max(1.0),
            max_steps: (max_lot / lot_step + 1e-9).floor(),
        }
    }

    /// Whole steps in `lots` (floored; NaN stays NaN, inf stays inf).
    #[inline]
    pub fn steps_in(&self, lots: f64) -> f64 {
        (lots / self.lot_step + 1e-9).floor()
    }

    /// Lots of `steps` whole steps.
    #[inline]
    pub fn lots(&self, steps: f64) -> f64 {
        match self.steps_per_lot {
            Some(k) => steps / k,
            None => steps * self.lot_step,
        }
    }

    /// Capped at `max_steps`; `None` below `min_steps` (including NaN): the signal is rejected.
    #[inline]
    pub fn clamp(&self, steps: f64) -> Option<f64> {
        let steps = if steps > self.max_steps { self.max_steps } else { steps };
        (steps >= self.min_steps).then_some(steps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_table_parses_and_is_valid() {
        let t = builtin().unwrap();
        assert!(t.len() >= 30);
        for i in t {
            i.validate().unwrap_or_else(|e| panic!("{}: {e}", i.symbol));
            assert_eq!(normalize_symbol(&i.symbol), i.symbol);
        }
        let mut names: Vec<&str> = t.iter().map(|i| i.symbol.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), t.len(), "duplicate symbols");
    }

    #[test]
    fn lookup_normalises() {
        let i = lookup("usd/jpy").unwrap().unwrap();
        assert_eq!((i.base.as_str(), i.quote.as_str(), i.pip_size), ("USD", "JPY", 0.01));
        assert_eq!(lookup("XAUUSD").unwrap().unwrap().contract_size, 100.0);
        assert!(lookup("EURUSD.r").unwrap().is_none());
    }

    #[test]
    fn unknown_symbol_needs_a_spec() {
        let e = resolve("FOOBAR", &SymbolSpec::default()).unwrap_err();
        assert_eq!(e.code(), "E4002");
        let text = e.to_string();
        assert!(text.contains("FOOBAR") && text.contains("engine.symbol_spec.base"), "{text}");
        let spec = SymbolSpec {
            base: Some("FOO".into()),
            quote: Some("USD".into()),
            pip_size: Some(0.01),
            ..SymbolSpec::default()
        };
        let i = resolve("FOOBAR", &spec).unwrap();
        assert_eq!((i.quote.as_str(), i.contract_size, i.lot_step), ("USD", 100_000.0, 0.01));
    }

    #[test]
    fn overrides_apply_field_by_field() {
        let spec = SymbolSpec { lot_step: Some(0.1), min_lot: Some(0.5), ..SymbolSpec::default() };
        let i = resolve("EURUSD", &spec).unwrap();
        assert_eq!((i.lot_step, i.min_lot, i.max_lot, i.pip_size), (0.1, 0.5, 100.0, 0.0001));
        let bad = SymbolSpec { quote: Some("usd".into()), ..SymbolSpec::default() };
        assert!(resolve("EURUSD", &bad).unwrap_err().to_string().contains("engine.symbol_spec.quote"));
    }

    #[test]
    fn lot_grid_is_exact_decimal() {
        let g = LotGrid::new(0.01, 0.01, 100.0);
        assert_eq!(g.steps_per_lot, Some(100.0));
        assert_eq!(g.lots(94.0), 0.94);
        assert_eq!(format!("{}", g.lots(94.0)), "0.94");
        assert_ne!(94.0 * 0.01, 0.94, "the product is what the grid avoids");
        assert_eq!(g.steps_in(0.94), 94.0);
        assert_eq!(g.clamp(0.0), None);
        assert_eq!(g.clamp(1e9), Some(10_000.0));
        assert_eq!(g.clamp(f64::NAN), None);
        let odd = LotGrid::new(0.3, 0.5, 2.0);
        assert_eq!(odd.steps_per_lot, None);
        assert_eq!((odd.min_steps, odd.max_steps), (2.0, 6.0));
        assert_eq!(odd.lots(2.0), 2.0 * 0.3);
    }
}
