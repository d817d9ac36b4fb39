//! `{{ cookiecutter.strategy_name }}`: an EMA/ATR channel breakout on bid closes.
//!
//! - Channel: `EMA(ema_length) ± band_atr · ATR(atr_length)` (Wilder ATR, bid side).
//! - Long (scenario 1) when the close crosses above the upper band (previous close at or below the
//!   previous upper band, this close above it); entry at the ask close. Short (scenario 2) on the
//!   mirror cross of the lower band; entry at the bid close.
//! - Stop-loss / take-profit at `sl_atr` / `tp_atr` ATRs from the entry.
//! - Break-even: once the open profit reaches `breakeven_r` times the initial risk, the stop-loss
//!   moves to the entry price (`null` disables it). Positions close with reason "timeout" after
//!   `max_bars` bars.
//!
//! It reads only the `IndicatorCache`, so every series is computed once per market by the core and
//! shared by every run. Speed (docs/writing-a-strategy.md "Fast strategies"): `prepare` resolves
//! each series to a handle (`register`) and tabulates the entry rule for every bar once; the engine
//! then asks `next_candidate` for the next bar with a signal and calls `evaluate` only there. The pure-Python twin is `{{ cookiecutter.package_name }}.reference` (same
//! operations in the same order, so both backends trade identically); the parameter model is
//! `{{ cookiecutter.package_name }}.params`.

use std::collections::HashMap;

use omega_core::indicators::{IndicatorKey, PriceSide, SeriesId};
use omega_core::{
    Capabilities, DataSlice, Direction, IndicatorCache, Position, PositionAction, RustStrategy, StrategyConfig,
    StrategyError, Timeframe, TradeSignal,
};

/// Registry name (the key of `omega.list_strategies()` and `omega.run_backtest`).
pub const STRATEGY_NAME: &str = "{{ cookiecutter.strategy_name }}";
/// Strategy version: the crate version, which is also the wheel version.
pub const STRATEGY_VERSION: &str = env!("CARGO_PKG_VERSION");
/// Entry reason of every signal: the strategy's name, so trades say where they came from.
pub const REASON: &str = STRATEGY_NAME;
/// Tags of every signal: the strategy's name and the indicators its rule reads.
pub const TAGS: [&str; 3] = [STRATEGY_NAME, "ema", "atr"];
/// Parameter names, in the order of the Python model.
pub const PARAMS: [&str; 7] = ["ema_length", "atr_length", "band_atr", "sl_atr", "tp_atr", "breakeven_r", "max_bars"];

/// The strategy's parameters (`config.params`), with the defaults of the Python model.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    /// EMA length of the channel centre (bid closes).
    pub ema_length: usize,
    /// Wilder ATR length (bid side).
    pub atr_length: usize,
    /// Half-width of the channel in ATRs.
    pub band_atr: f64,
    /// Stop-loss distance in ATRs.
    pub sl_atr: f64,
    /// Take-profit distance in ATRs.
    pub tp_atr: f64,
    /// Move the stop-loss to the entry at this multiple of the initial risk (`None`: never).
    pub breakeven_r: Option<f64>,
    /// Close with reason "timeout" after this many bars.
    pub max_bars: usize,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            ema_length: 20,
            atr_length: 14,
            band_atr: 1.0,
            sl_atr: 1.5,
            tp_atr: 3.0,
            breakeven_r: Some(1.0),
            max_bars: 120,
        }
    }
}

/// A whole number `>= min` (a float with no fractional part is accepted, as JSON may carry `3.0`).
fn whole(name: &str, v: &serde_json::Value, min: u64) -> Result<usize, StrategyError> {
    let n = v.as_u64().or_else(|| v.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 1e15).map(|f| f as u64));
    match n {
        Some(n) if n >= min => Ok(n as usize),
        _ => Err(StrategyError::param(name, format!("must be a whole number >= {min}, got {v}"))),
    }
}

/// A finite number, `> 0` (or `>= 0` when `zero_ok`).
fn number(name: &str, v: &serde_json::Value, zero_ok: bool) -> Result<f64, StrategyError> {
    match v.as_f64() {
        Some(f) if f.is_finite() && (f > 0.0 || (zero_ok && f == 0.0)) => Ok(f),
        _ => {
            let bound = if zero_ok { ">= 0" } else { "> 0" };
            Err(StrategyError::param(name, format!("must be a finite number {bound}, got {v}")))
        }
    }
}

impl Params {
    /// Parse `config.params`: E4002 naming the parameter; unknown keys are refused so that no
    /// accepted key is silently without effect.
    pub fn from_map(map: &serde_json::Map<String, serde_json::Value>) -> Result<Self, StrategyError> {
        let mut p = Params::default();
        for (k, v) in map {
            match k.as_str() {
                "ema_length" => p.ema_length = whole(k, v, 1)?,
                "atr_length" => p.atr_length = whole(k, v, 1)?,
                "band_atr" => p.band_atr = number(k, v, true)?,
                "sl_atr" => p.sl_atr = number(k, v, false)?,
                "tp_atr" => p.tp_atr = number(k, v, false)?,
                "breakeven_r" => p.breakeven_r = if v.is_null() { None } else { Some(number(k, v, false)?) },
                "max_bars" => p.max_bars = whole(k, v, 1)?,
                _ => {
                    return Err(StrategyError::param(
                        k.as_str(),
                        format!("unknown parameter (known: {})", PARAMS.join(", ")),
                    ))
                }
            }
        }
        Ok(p)
    }
}

/// The values the entry rule reads at one bar: bid close, EMA and ATR.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Channel {
    /// Bid close.
    pub close: f64,
    /// EMA of bid closes.
    pub ema: f64,
    /// ATR (bid side).
    pub atr: f64,
}

/// The entry rule, on the previous and the current bar: long when the close crosses above
/// `ema + band_atr·atr`, short when it crosses below `ema − band_atr·atr`. The tests check the
/// signals against this function, so they follow when you change the rule.
pub fn entry_rule(params: &Params, prev: Channel, now: Channel) -> Option<Direction> {
    let band = params.band_atr;
    if prev.close <= prev.ema + band * prev.atr && now.close > now.ema + band * now.atr {
        Some(Direction::Long)
    } else if prev.close >= prev.ema - band * prev.atr && now.close < now.ema - band * now.atr {
        Some(Direction::Short)
    } else {
        None
    }
}

/// The direction [`entry_rule`] gives at every bar, kept only where that direction is allowed;
/// `None` on bar 0 and wherever a value of this or the previous bar is not finite (warm-up).
pub fn entries(
    params: &Params,
    close: &[f64],
    ema: &[f64],
    atr: &[f64],
    long_ok: bool,
    short_ok: bool,
) -> Vec<Option<Direction>> {
    let n = close.len().min(ema.len()).min(atr.len());
    let channel = |i: usize| Channel { close: close[i], ema: ema[i], atr: atr[i] };
    let finite = |c: Channel| c.close.is_finite() && c.ema.is_finite() && c.atr.is_finite();
    let mut out = vec![None; close.len()];
    for (i, slot) in out.iter_mut().enumerate().take(n).skip(1) {
        let (prev, now) = (channel(i - 1), channel(i));
        if !(finite(prev) && finite(now)) {
            continue;
        }
        *slot = match entry_rule(params, prev, now) {
            Some(Direction::Long) if long_ok => Some(Direction::Long),
            Some(Direction::Short) if short_ok => Some(Direction::Short),
            _ => None,
        };
    }
    out
}

/// One series the strategy reads: its key, and the handle `prepare` resolved it to
/// (`IndicatorCache::register`), so that a per-bar read is plain slice indexing with no key lookup.
#[derive(Clone, Copy, Debug)]
struct Series {
    key: IndicatorKey,
    id: SeriesId,
}

impl Series {
    fn register(cache: &IndicatorCache<'_>, key: IndicatorKey) -> Result<Self, StrategyError> {
        Ok(Series { key, id: cache.register(&key)? })
    }

    /// The series through the handle; by key on a cache other than the one `prepare` saw.
    fn read<'h>(&self, cache: &IndicatorCache<'h>) -> Option<&'h [f64]> {
        cache.get(self.id).or_else(|| cache.series(&self.key).ok())
    }
}

/// The `{{ cookiecutter.strategy_name }}` strategy.
#[derive(Debug)]
pub struct {{ cookiecutter.__class_name }} {
    params: Params,
    timeframe: Timeframe,
    long_ok: bool,
    short_ok: bool,
    /// EMA and ATR (set by `prepare`).
    series: Option<(Series, Series)>,
    /// Per bar, the direction `evaluate` signals (tabulated in `prepare`): `next_candidate` scans
    /// it, `evaluate` reads its bar.
    entries: Vec<Option<Direction>>,
}

impl Default for {{ cookiecutter.__class_name }} {
    fn default() -> Self {
        Self {
            params: Params::default(),
            timeframe: Timeframe::M1,
            long_ok: true,
            short_ok: true,
            series: None,
            entries: Vec::new(),
        }
    }
}

impl {{ cookiecutter.__class_name }} {
    /// The parameters in use.
    pub fn params(&self) -> &Params {
        &self.params
    }
}

impl RustStrategy for {{ cookiecutter.__class_name }} {
    fn evaluate(&self, slice: &DataSlice<'_>, cache: &IndicatorCache<'_>) -> Option<TradeSignal> {
        let i = slice.index;
        let direction = (*self.entries.get(i)?)?;
        let (ema, atr) = self.series?;
        let (e, a) = (*ema.read(cache)?.get(i)?, *atr.read(cache)?.get(i)?);
        let band = self.params.band_atr;
        let (upper, lower) = (e + band * a, e - band * a);
        let scenario = if direction == Direction::Long { 1 } else { 2 };
        let entry = match direction {
            Direction::Long => slice.ask.close,
            Direction::Short => slice.bid.close,
        };
        let sign = direction.sign();
        let meta: HashMap<String, f64> =
            [("ema", e), ("atr", a), ("upper", upper), ("lower", lower)].map(|(k, v)| (k.to_string(), v)).into();
        Some(TradeSignal::new(
            direction,
            entry,
            entry - sign * self.params.sl_atr * a,
            Some(entry + sign * self.params.tp_atr * a),
            REASON.to_string(),
            TAGS.iter().map(|t| t.to_string()).collect(),
            Some(scenario),
            Some(meta),
        ))
    }

    fn manage_position(&self, position: &Position, slice: &DataSlice<'_>) -> PositionAction {
        if position.bars_held >= self.params.max_bars {
            return PositionAction::Close { reason: "timeout".to_string() };
        }
        if let Some(r) = self.params.breakeven_r {
            let sign = position.direction.sign();
            // Positive while the stop-loss is still on the losing side of the entry.
            let risk = sign * (position.entry_price - position.stop_loss);
            let price = match position.direction {
                Direction::Long => slice.bid.close,
                Direction::Short => slice.ask.close,
            };
            if risk > 0.0 && sign * (price - position.entry_price) >= r * risk {
                return PositionAction::ModifyStopLoss { new_sl: position.entry_price };
            }
        }
        PositionAction::Hold
    }

    fn primary_timeframe(&self) -> Timeframe {
        self.timeframe
    }

    fn on_init(&mut self, config: &StrategyConfig) -> Result<(), StrategyError> {
        self.params = Params::from_map(&config.params)?;
        self.timeframe = config.primary_timeframe()?;
        self.long_ok = config.direction_allowed(true) && config.enabled_scenarios.contains(&1);
        self.short_ok = config.direction_allowed(false) && config.enabled_scenarios.contains(&2);
        Ok(())
    }

    fn prepare(&mut self, cache: &IndicatorCache<'_>) -> Result<(), StrategyError> {
        // Resolve every series once: an unavailable indicator fails the run here (E4003) instead
        // of silently producing no signals, and per-bar reads need no key lookup.
        let ema = Series::register(cache, IndicatorKey::ema(PriceSide::Bid, self.params.ema_length))?;
        let atr = Series::register(cache, IndicatorKey::atr(PriceSide::Bid, self.params.atr_length))?;
        let unreadable = || StrategyError::InternalError { reason: "a registered series is not readable".into() };
        let (e, a) = (ema.read(cache).ok_or_else(unreadable)?, atr.read(cache).ok_or_else(unreadable)?);
        self.entries = entries(&self.params, cache.bars().bid_close, e, a, self.long_ok, self.short_ok);
        self.series = Some((ema, atr));
        Ok(())
    }

    /// `manage_position` applies the timeout (and break-even) to every position; `evaluate`
    /// signals only on the bars tabulated in `prepare`, which `next_candidate` finds.
    fn capabilities(&self) -> Capabilities {
        Capabilities { manages_positions: true, next_candidate: true }
    }

    fn next_candidate(&self, from: usize, _cache: &IndicatorCache<'_>) -> Option<usize> {
        self.entries.get(from..)?.iter().position(Option::is_some).map(|k| from + k)
    }

    fn name(&self) -> &str {
        STRATEGY_NAME
    }

    fn version(&self) -> &str {
        STRATEGY_VERSION
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: serde_json::Value) -> Result<Params, StrategyError> {
        Params::from_map(v.as_object().expect("a JSON object"))
    }

    #[test]
    fn defaults_and_overrides() {
        assert_eq!(parse(serde_json::json!({})).unwrap(), Params::default());
        let p =
            parse(serde_json::json!({"ema_length": 50.0, "band_atr": 0, "breakeven_r": null, "max_bars": 7})).unwrap();
        assert_eq!((p.ema_length, p.band_atr, p.breakeven_r, p.max_bars), (50, 0.0, None, 7));
    }

    #[test]
    fn invalid_values_name_the_parameter() {
        for (bad, name) in [
            (serde_json::json!({"ema_length": 0}), "ema_length"),
            (serde_json::json!({"atr_length": 2.5}), "atr_length"),
            (serde_json::json!({"band_atr": -1.0}), "band_atr"),
            (serde_json::json!({"sl_atr": 0}), "sl_atr"),
            (serde_json::json!({"tp_atr": "3"}), "tp_atr"),
            (serde_json::json!({"breakeven_r": 0}), "breakeven_r"),
            (serde_json::json!({"bogus": 1}), "bogus"),
        ] {
            let e = parse(bad).unwrap_err();
            assert_eq!(e.code(), "E4002");
            assert!(matches!(&e, StrategyError::InvalidParameter { name: n, .. } if n == name), "{e}");
        }
    }
}
