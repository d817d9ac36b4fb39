//! Run configuration, deserialised from the JSON that crosses every boundary (Python → core,
//! core → plugin). `StrategyConfig` is the seed's type plus an `engine` section; unknown keys are
//! rejected (E4002) so that no accepted key is silently without effect.

use serde::{Deserialize, Serialize};

use crate::error::{Result, StrategyError};
use crate::instruments::{valid_code, SwapMode, Weekday};
use crate::types::Timeframe;

/// Deepest nesting of a config: the config object is level 1, `params` level 2 (the Python
/// `omega.config.MAX_CONFIG_DEPTH` is the same number; tests/test_config_rules.py checks it).
pub const MAX_CONFIG_DEPTH: usize = 64;

fn default_scenarios() -> Vec<u32> {
    vec![1, 2, 3, 4, 5, 6]
}

fn default_direction_filter() -> String {
    "both".to_string()
}

/// The seed's `StrategyConfig`: who trades what, plus strategy-specific `params` and the engine
/// settings of the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategyConfig {
    pub symbol: String,
    /// Primary timeframe name (`"M1"` … `"D1"`).
    pub timeframe: String,
    #[serde(default = "default_scenarios")]
    pub enabled_scenarios: Vec<u32>,
    /// `"long"`, `"short"` or `"both"`.
    #[serde(default = "default_direction_filter")]
    pub direction_filter: String,
    /// Strategy parameters, validated by the strategy itself (and by its pydantic model).
    #[serde(default)]
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Engine settings (fills, costs, sizing, gates).
    #[serde(default)]
    pub engine: EngineConfig,
}

impl StrategyConfig {
    /// A config with seed defaults for `symbol` and `timeframe`.
    pub fn new(symbol: impl Into<String>, timeframe: impl Into<String>) -> Self {
        Self {
            symbol: symbol.into(),
            timeframe: timeframe.into(),
            enabled_scenarios: default_scenarios(),
            direction_filter: default_direction_filter(),
            params: serde_json::Map::new(),
            engine: EngineConfig::default(),
        }
    }

    /// Parse and validate JSON (E4002 on any problem, naming the key serde rejected).
    pub fn from_json(json: &str) -> Result<Self> {
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| StrategyError::config(format!("config JSON: {e}")))?;
        let template = serde_json::to_value(StrategyConfig::new("X", "M1"))
            .map_err(|e| StrategyError::InternalError { reason: format!("config template: {e}") })?;
        sections_are_objects(&value, &template, "")?;
        let cfg: StrategyConfig = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if path == "." || inner.is_syntax() || inner.is_eof() {
                StrategyError::config(format!("config JSON: {inner}"))
            } else {
                StrategyError::param(path, format!("config JSON: {inner}"))
            }
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Serialise to JSON (the form handed to plugins).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }

    /// The primary timeframe (E4002 when unknown).
    pub fn primary_timeframe(&self) -> Result<Timeframe> {
        Timeframe::from_str(&self.timeframe)
            .ok_or_else(|| StrategyError::param("timeframe", format!("unknown timeframe '{}'", self.timeframe)))
    }

    /// Whether the direction filter admits `direction` (`"long"`/`"short"`).
    pub fn direction_allowed(&self, long: bool) -> bool {
        match self.direction_filter.as_str() {
            "long" => long,
            "short" => !long,
            _ => true,
        }
    }

    /// Check every field that serde cannot check by type.
    pub fn validate(&self) -> Result<()> {
        if self.symbol.trim().is_empty() {
            return Err(StrategyError::param("symbol", "must not be empty"));
        }
        self.primary_timeframe()?;
        if self.enabled_scenarios.is_empty() {
            return Err(StrategyError::param("enabled_scenarios", "must name at least one scenario"));
        }
        if let Some(n) = self.enabled_scenarios.iter().find(|n| **n == 0) {
            return Err(StrategyError::param("enabled_scenarios", format!("{n} is not a scenario number (>= 1)")));
        }
        for (key, value) in &self.params {
            if let Some(path) = too_deep(value, 3) {
                return Err(StrategyError::param(
                    format!("params.{key}{path}"),
                    format!("nested deeper than {MAX_CONFIG_DEPTH} levels"),
                ));
            }
        }
        if !matches!(self.direction_filter.as_str(), "long" | "short" | "both") {
            return Err(StrategyError::param(
                "direction_filter",
                format!("'{}' is not one of long, short, both", self.direction_filter),
            ));
        }
        self.engine.validate()
    }
}

/// serde also reads a struct from a JSON array (fields by position): `"engine": []` or
/// `"symbol_spec": ["EUR", "USD"]` would pass. A key whose default is an object must be one.
fn sections_are_objects(value: &serde_json::Value, template: &serde_json::Value, path: &str) -> Result<()> {
    let (Some(given), Some(tpl)) = (value.as_object(), template.as_object()) else { return Ok(()) };
    for (key, default) in tpl {
        let (Some(v), true) = (given.get(key), default.is_object()) else { continue };
        let key_path = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
        if !v.is_object() {
            return Err(StrategyError::param(key_path, "must be an object"));
        }
        sections_are_objects(v, default, &key_path)?;
    }
    Ok(())
}

/// The path below `value` (at nesting `level`) where containers go deeper than
/// [`MAX_CONFIG_DEPTH`], if they do. Iterative: the value may be as deep as serde allowed.
fn too_deep(value: &serde_json::Value, level: usize) -> Option<String> {
    let mut stack = vec![(value, level, String::new())];
    while let Some((v, depth, path)) = stack.pop() {
        let children: Vec<(String, &serde_json::Value)> = match v {
            serde_json::Value::Array(items) => items.iter().enumerate().map(|(i, x)| (i.to_string(), x)).collect(),
            serde_json::Value::Object(map) => map.iter().map(|(k, x)| (k.clone(), x)).collect(),
            _ => continue,
        };
        if depth > MAX_CONFIG_DEPTH {
            return Some(path);
        }
        for (k, child) in children {
            stack.push((child, depth + 1, format!("{path}.{k}")));
        }
    }
    None
}

/// How position size is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SizingMode {
    /// `lots = risk_per_trade / (stop distance in pips × pip value per lot)`.
    #[default]
    Risk,
    /// Always `fixed_lots`.
    Fixed,
}

/// When a signal is filled (docs/engine.md "Fill model").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FillModel {
    /// At the signal's entry price, on the signal bar's close.
    #[default]
    SignalClose,
    /// At the next bar's open on the entry side (ask for longs, bid for shorts).
    NextOpen,
}

/// How higher-timeframe bins of H4 and D1 are anchored (shorter timeframes always use UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum HtfAnchor {
    /// H4 and D1 bins start at 00:00 UTC.
    #[default]
    Utc,
    /// H4 and D1 bins start at 17:00 America/New_York (DST-aware): the FX trading day.
    /// Spelled `"new_york_1700"` as in docs/indicators.md (snake_case alone would give `new_york1700`).
    #[serde(rename = "new_york_1700")]
    NewYork1700,
}

/// Per-run overrides of the traded instrument's specification (docs/instruments.md). Every field
/// left out comes from the built-in instrument table; a symbol that is not in the table needs at
/// least `base`, `quote` and `pip_size`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SymbolSpec {
    pub base: Option<String>,
    pub quote: Option<String>,
    /// Pip size in price units.
    pub pip_size: Option<f64>,
    pub digits: Option<u32>,
    pub contract_size: Option<f64>,
    pub lot_step: Option<f64>,
    pub min_lot: Option<f64>,
    pub max_lot: Option<f64>,
    pub margin_rate: Option<f64>,
    pub swap_long: Option<f64>,
    pub swap_short: Option<f64>,
    pub swap_mode: Option<SwapMode>,
    pub triple_swap_weekday: Option<Weekday>,
}

/// Explicit trading costs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CostConfig {
    /// Commission per lot, charged on entry and again on exit (account currency).
    pub commission_per_lot: f64,
    /// Commission per million of notional (account currency), per side.
    pub commission_per_million: f64,
    /// Slippage in pips always applied, adverse.
    pub slippage_fixed_pips: f64,
    /// Extra adverse slippage `U[0,1) × random_pips` from the run's seeded RNG.
    pub slippage_random_pips: f64,
    /// V1 compatibility: SL/TP trigger `factor × pip` early but fill at the level. Off (0) by default.
    pub pip_buffer_factor: f64,
}

impl Default for CostConfig {
    fn default() -> Self {
        Self {
            commission_per_lot: 0.0,
            commission_per_million: 0.0,
            slippage_fixed_pips: 0.0,
            slippage_random_pips: 0.0,
            pip_buffer_factor: 0.0,
        }
    }
}

/// Engine settings of one run. Every key has an effect (see docs/engine.md).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    pub initial_balance: f64,
    pub account_currency: String,
    pub sizing: SizingMode,
    /// When signals are filled: `signal_close` (default) or `next_open`.
    pub fill: FillModel,
    /// Risk per trade in account currency (sizing = risk).
    pub risk_per_trade: f64,
    /// Lots per trade (sizing = fixed).
    pub fixed_lots: f64,
    pub symbol_spec: SymbolSpec,
    pub costs: CostConfig,
    /// Constant quote → account currency rate. Unset (default): derived from market data at each
    /// fill (docs/engine.md "Account currency").
    pub quote_to_account_rate: Option<f64>,
    /// Seed of the run's RNG (slippage).
    pub seed: u64,
    /// Maximum positions open at once for the symbol.
    pub max_open_positions: u32,
    /// Allow an entry on a bar in which a position of the symbol closed (V1: no).
    pub allow_same_bar_reentry: bool,
    /// Close positions still open at the end at the last close (`end_of_data`); else report them open.
    pub close_at_end: bool,
    /// Accept bars with ask.close < bid.close.
    pub allow_crossed_quotes: bool,
    /// Entry windows `["HH:MM", "HH:MM"]` in UTC on the bar close time, inclusive, wrapping midnight.
    pub sessions: Vec<(String, String)>,
    /// Bars that must pass after a signal bar before the next entry.
    pub cooldown_candles: u32,
    /// Minutes (bar close to bar close) after a signal bar before the next entry.
    pub cooldown_minutes: f64,
    /// Minutes (bar close to bar close) after an exit bar before the next entry.
    pub cooldown_minutes_trade: f64,
    /// Trading starts at the first bar whose open is at or after this time; indicators use all rows.
    pub start_time_us: Option<i64>,
    /// Anchor of H4/D1 resampling.
    pub htf_anchor: HtfAnchor,
    // --- account: swaps and margin (docs/engine.md "Swaps", "Margin and stop-out") ---
    /// Charge the instrument's swap at each rollover (17:00 New York) a position is held across.
    pub swaps: bool,
    /// Check free margin before every entry and close everything at the stop-out level.
    pub margin: bool,
    /// Margin level (equity / used margin, a fraction: 0.5 = 50 %) at or below which every open
    /// position is closed at the worst price of the bar (`margin` on).
    pub stop_out_level: f64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            initial_balance: 100_000.0,
            account_currency: "USD".to_string(),
            sizing: SizingMode::Risk,
            fill: FillModel::SignalClose,
            risk_per_trade: 100.0,
            fixed_lots: 1.0,
            symbol_spec: SymbolSpec::default(),
            costs: CostConfig::default(),
            quote_to_account_rate: None,
            seed: 42,
            max_open_positions: 1,
            allow_same_bar_reentry: false,
            close_at_end: true,
            allow_crossed_quotes: false,
            sessions: Vec::new(),
            cooldown_candles: 0,
            cooldown_minutes: 0.0,
            cooldown_minutes_trade: 0.0,
            start_time_us: None,
            htf_anchor: HtfAnchor::Utc,
            swaps: true,
            margin: true,
            stop_out_level: 0.5,
        }
    }
}

/// Parse `"HH:MM"` (hour with one or two digits, minutes with exactly two) into minutes after
/// midnight. The Python reference (`omega.reference.sessions.parse_hhmm`) applies the same rule.
pub fn parse_hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.trim().split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 || !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: u32 = h.parse().ok()?;
    let m: u32 = m.parse().ok()?;
    (h < 24 && m < 60).then_some(h * 60 + m)
}

impl EngineConfig {
    /// Session windows in minutes after midnight (validated).
    pub fn session_windows(&self) -> Result<Vec<(u32, u32)>> {
        self.sessions
            .iter()
            .map(|(a, b)| match (parse_hhmm(a), parse_hhmm(b)) {
                (Some(a), Some(b)) => Ok((a, b)),
                _ => Err(StrategyError::param("engine.sessions", format!("bad window [{a:?}, {b:?}], want HH:MM"))),
            })
            .collect()
    }

    /// Check ranges (E4002 naming the key).
    pub fn validate(&self) -> Result<()> {
        let pos = |name: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(StrategyError::param(format!("engine.{name}"), format!("must be a finite number > 0, got {v}")))
            }
        };
        let nonneg = |name: &str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(StrategyError::param(format!("engine.{name}"), format!("must be a finite number >= 0, got {v}")))
            }
        };
        pos("initial_balance", self.initial_balance)?;
        pos("risk_per_trade", self.risk_per_trade)?;
        pos("fixed_lots", self.fixed_lots)?;
        if let Some(r) = self.quote_to_account_rate {
            pos("quote_to_account_rate", r)?;
        }
        if !valid_code(&self.account_currency) {
            return Err(StrategyError::param(
                "engine.account_currency",
                format!("'{}' is not an upper-case currency code such as USD", self.account_currency),
            ));
        }
        let spec = &self.symbol_spec;
        for (name, v) in [
            ("pip_size", spec.pip_size),
            ("contract_size", spec.contract_size),
            ("lot_step", spec.lot_step),
            ("min_lot", spec.min_lot),
            ("max_lot", spec.max_lot),
            ("margin_rate", spec.margin_rate),
        ] {
            if let Some(v) = v {
                pos(&format!("symbol_spec.{name}"), v)?;
            }
        }
        if let (Some(lo), Some(hi)) = (spec.min_lot, spec.max_lot) {
            if hi < lo {
                return Err(StrategyError::param("engine.symbol_spec.max_lot", "must be >= min_lot"));
            }
        }
        nonneg("costs.commission_per_lot", self.costs.commission_per_lot)?;
        nonneg("costs.commission_per_million", self.costs.commission_per_million)?;
        nonneg("costs.slippage_fixed_pips", self.costs.slippage_fixed_pips)?;
        nonneg("costs.slippage_random_pips", self.costs.slippage_random_pips)?;
        nonneg("costs.pip_buffer_factor", self.costs.pip_buffer_factor)?;
        nonneg("cooldown_minutes", self.cooldown_minutes)?;
        nonneg("cooldown_minutes_trade", self.cooldown_minutes_trade)?;
        nonneg("stop_out_level", self.stop_out_level)?;
        if self.max_open_positions == 0 {
            return Err(StrategyError::param("engine.max_open_positions", "must be >= 1"));
        }
        self.session_windows()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_unknown_keys() {
        let c = StrategyConfig::from_json(r#"{"symbol":"EURUSD","timeframe":"M1"}"#).unwrap();
        assert_eq!(c.enabled_scenarios, vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(c.engine.quote_to_account_rate, None);
        let e = StrategyConfig::from_json(r#"{"symbol":"EURUSD","timeframe":"M1","bogus":1}"#).unwrap_err();
        assert_eq!(e.code(), "E4002");
        assert!(e.to_string().contains("bogus"));
        let e = StrategyConfig::from_json(r#"{"symbol":"EURUSD","timeframe":"W1"}"#).unwrap_err();
        assert_eq!(e.code(), "E4002");
        let e =
            StrategyConfig::from_json(r#"{"symbol":"X","timeframe":"M1","engine":{"sessions":[["25:00","01:00"]]}}"#)
                .unwrap_err();
        assert!(e.to_string().contains("sessions"));
    }

    #[test]
    fn sections_must_be_objects_and_errors_name_the_key() {
        for (json, key) in [
            (r#"{"symbol":"EURUSD","timeframe":"M1","engine":[]}"#, "engine"),
            (r#"{"symbol":"EURUSD","timeframe":"M1","engine":{"symbol_spec":["EUR","USD"]}}"#, "engine.symbol_spec"),
            (r#"{"symbol":"EURUSD","timeframe":"M1","params":[]}"#, "params"),
            (
                r#"{"symbol":"EURUSD","timeframe":"M1","engine":{"start_time_us":1180591620717411303424}}"#,
                "engine.start_time_us",
            ),
            (r#"{"symbol":"EURUSD","timeframe":"M1","enabled_scenarios":[]}"#, "enabled_scenarios"),
            (r#"{"symbol":"EURUSD","timeframe":"M1","enabled_scenarios":[0]}"#, "enabled_scenarios"),
        ] {
            match StrategyConfig::from_json(json).unwrap_err() {
                StrategyError::InvalidParameter { name, .. } => assert_eq!(name, key, "{json}"),
                other => panic!("{json}: {other:?}"),
            }
        }
    }

    #[test]
    fn depth_limit() {
        let nest = |levels: usize| format!("{}1{}", "[".repeat(levels), "]".repeat(levels));
        let cfg =
            |levels: usize| format!(r#"{{"symbol":"EURUSD","timeframe":"M1","params":{{"x":{}}}}}"#, nest(levels));
        assert!(StrategyConfig::from_json(&cfg(MAX_CONFIG_DEPTH - 2)).is_ok());
        assert_eq!(StrategyConfig::from_json(&cfg(MAX_CONFIG_DEPTH - 1)).unwrap_err().code(), "E4002");
    }

    #[test]
    fn hhmm() {
        assert_eq!(parse_hhmm("23:59"), Some(1439));
        assert_eq!(parse_hhmm("24:00"), None);
        assert_eq!(parse_hhmm("8:05"), Some(485));
        assert_eq!(parse_hhmm("8:5"), None);
        assert_eq!(parse_hhmm("+8:05"), None);
    }
}
